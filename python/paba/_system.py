"""The latency model of one iteration (docs/algorithms.md section 2) as an immutable, validated
object."""

from __future__ import annotations

import numpy as np

from ._validation import float_array, int_array, positive_float, positive_integer, readonly


def _finite_positive(name: str, values: np.ndarray, what: str | None = None) -> np.ndarray:
    """Derived per-worker values must stay finite and positive in float64."""
    if not np.all(np.isfinite(values)) or not np.all(values > 0):
        raise ValueError(f"{name}: {what or '1 / ' + name} overflows or underflows float64")
    return values


#: Range of the per-worker seconds the kernels work in (docs/algorithms.md, normalised units):
#: wide enough for any physical instance, narrow enough that no product or cube in a root search
#: leaves float64.
SECONDS_RANGE = (1e-80, 1e80)


def _check_scale(beta, compute, alpha, tau, params, bandwidth) -> None:
    """The seconds beta L / B and compute L must lie in SECONDS_RANGE, alpha / B and tau at most
    its top; raises a ValueError naming the argument and the first worker out of range."""
    low, high = SECONDS_RANGE
    with np.errstate(over="ignore", under="ignore"):
        # The same expressions as the kernels' normalise(), so both draw the line alike.
        checks = (("beta", beta, lambda v: v * params / bandwidth, "beta * params / bandwidth",
                   low),
                  ("compute", compute, lambda v: v * params, "compute * params", low),
                  ("alpha", alpha, lambda v: v / bandwidth, "alpha / bandwidth", 0.0),
                  ("tau", tau, lambda v: v, "tau", 0.0))
        for name, values, to_seconds, what, minimum in checks:
            if values is None:  # a default of zeros
                continue
            seconds = to_seconds(values)
            bad = ~((seconds <= high) & ((seconds >= minimum) if minimum else True))
            if np.any(bad):
                raise ValueError(
                    f"{name}: {what} must lie in [{minimum:g}, {high:g}] seconds "
                    f"(worker {int(np.flatnonzero(bad)[0])})")


class System:
    """One instance of partitioned edge learning: K workers, N groups, one bandwidth pool.

    Worker k in group n = groups[k], given L_n parameters and B_k Hz, finishes an iteration in

        T_k = L_n (beta_k / B_k + compute_k) + alpha_k / B_k + tau_k   seconds.

    Parameters
    ----------
    beta : array_like, shape (K,)
        Communication cost per parameter in seconds x Hz (bits per parameter over the download
        spectral efficiency plus the same over the upload one). Positive.
    compute : array_like, shape (K,)
        Computation time per parameter in seconds (cycles per parameter per sample x samples /
        CPU frequency). Positive.
    params : int
        Total number of model parameters L, in [1, 2**53].
    bandwidth : float
        Total bandwidth B of the pool in Hz. Positive.
    groups : array_like of int, shape (K,), optional
        Group id of each worker, in 0..N-1 with no empty group. Default: one group per worker.
        Members of a group train the same block.
    alpha : array_like, shape (K,), optional
        Fixed communication per iteration in seconds x Hz (side information). Default 0.
    tau : array_like, shape (K,), optional
        Fixed overhead per iteration in seconds. Default 0.

    Raises
    ------
    ValueError
        Naming the argument, for NaN or infinite values, non-positive beta or compute, negative
        alpha or tau, mismatched or empty arrays, and group ids out of range or leaving a group
        empty.

    Notes
    -----
    Arrays are copied into read-only float64 (int64 for ``groups``) arrays, so any dtype, layout
    or writeability is accepted and the object cannot change after construction.
    """

    __slots__ = ("_beta", "_compute", "_alpha", "_tau", "_groups", "_params", "_bandwidth",
                 "_n_groups", "_kernel")

    def __init__(self, beta, compute, params, bandwidth, groups=None, alpha=None, tau=None):
        beta = float_array("beta", beta, positive=True)
        K = beta.size
        compute = float_array("compute", compute, size=K, positive=True)
        if alpha is not None:
            alpha = float_array("alpha", alpha, size=K, nonnegative=True)
        if tau is not None:
            tau = float_array("tau", tau, size=K, nonnegative=True)
        if groups is None:
            n_groups = K
        else:
            groups = int_array("groups", groups, size=K)
            if groups.min() < 0 or groups.max() >= K:
                raise ValueError(f"groups: ids must be in 0..K-1 (K = {K} workers)")
            n_groups = int(groups.max()) + 1
            counts = np.bincount(groups, minlength=n_groups)
            if np.any(counts == 0):
                missing = np.flatnonzero(counts == 0)[:5].tolist()
                raise ValueError(f"groups: ids must be 0..N-1 with every group non-empty; "
                                 f"no worker in {missing}")
        params = positive_integer("params", params)
        bandwidth = positive_float("bandwidth", bandwidth)
        _check_scale(beta, compute, alpha, tau, params, bandwidth)
        set_ = object.__setattr__
        set_(self, "_beta", beta)
        set_(self, "_compute", compute)
        set_(self, "_alpha", alpha)
        set_(self, "_tau", tau)
        set_(self, "_groups", groups)
        set_(self, "_params", params)
        set_(self, "_bandwidth", bandwidth)
        set_(self, "_n_groups", n_groups)
        # What the kernels read: zero fixed costs and one worker per group travel as None, which
        # spares a K-sized array each and lets the joint scheme use its exact method.
        identity = groups is None or (n_groups == K and bool(np.all(groups == np.arange(K))))
        set_(self, "_kernel", (
            beta, compute,
            None if alpha is None or not np.any(alpha) else alpha,
            None if tau is None or not np.any(tau) else tau,
            None if identity else groups,
            n_groups, float(params), bandwidth))

    @classmethod
    def from_radio(cls, efficiency_down, efficiency_up, cpu_frequency, samples, params,
                   bandwidth, *, cycles_per_parameter=20.0, bits_per_parameter=32.0,
                   groups=None, side_bits=None, tau=None) -> System:
        """Build a System from radio and compute profiles (docs/algorithms.md section 2).

        Parameters
        ----------
        efficiency_down, efficiency_up : array_like, shape (K,)
            Spectral efficiencies of the download and upload links in bit/s/Hz
            (log2(1 + SNR)). Positive.
        cpu_frequency : array_like, shape (K,)
            CPU frequency of each worker in cycles per second. Positive.
        samples : array_like, shape (K,)
            Training samples each worker uses per iteration. Positive.
        params : int
            Model size L in parameters.
        bandwidth : float
            Total bandwidth in Hz.
        cycles_per_parameter : float, default 20
            CPU cycles per parameter per sample (C).
        bits_per_parameter : float, default 32
            Bits q that encode one parameter.
        groups, tau
            As in :class:`System`.
        side_bits : array_like, shape (K,), optional
            Fixed bits each worker sends in each direction per iteration; gives
            alpha_k = side_bits_k (1 / efficiency_down_k + 1 / efficiency_up_k).

        Returns
        -------
        System
            With beta_k = q (1/e_down + 1/e_up) and compute_k = C D_k / f_k.
        """
        down = float_array("efficiency_down", efficiency_down, positive=True)
        K = down.size
        up = float_array("efficiency_up", efficiency_up, size=K, positive=True)
        frequency = float_array("cpu_frequency", cpu_frequency, size=K, positive=True)
        data = float_array("samples", samples, size=K, positive=True)
        cycles = positive_float("cycles_per_parameter", cycles_per_parameter)
        bits = positive_float("bits_per_parameter", bits_per_parameter)
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            _finite_positive("efficiency_down", 1.0 / down)
            _finite_positive("efficiency_up", 1.0 / up)
            inverse_efficiency = 1.0 / down + 1.0 / up
            beta = _finite_positive("bits_per_parameter", bits * inverse_efficiency,
                                    "bits_per_parameter / spectral efficiency")
            work = _finite_positive("samples", cycles * data, "cycles_per_parameter x samples")
            compute = _finite_positive("cpu_frequency", work / frequency,
                                       "cycles_per_parameter x samples / cpu_frequency")
            alpha = None
            if side_bits is not None:
                alpha = float_array("side_bits", side_bits, size=K, nonnegative=True)
                alpha = alpha * inverse_efficiency
                if not np.all(np.isfinite(alpha)):
                    raise ValueError("side_bits: side_bits / spectral efficiency overflows")
        try:
            return cls(beta=beta, compute=compute, params=params, bandwidth=bandwidth,
                       groups=groups, alpha=alpha, tau=tau)
        except ValueError as error:
            # Name the radio arguments the derived ones came from.
            sources = {"beta": "efficiency_down, efficiency_up", "alpha": "side_bits",
                       "compute": "cpu_frequency, samples"}
            name, _, rest = str(error).partition(":")
            if name in sources:
                raise ValueError(f"{sources[name]}: derived {name}: {rest.strip()}") from None
            raise

    def __setattr__(self, name, value):
        raise AttributeError("System is immutable; build a new one (see System.replace)")

    def __delattr__(self, name):
        raise AttributeError("System is immutable")

    def replace(self, **changes) -> System:
        """A new System with some fields changed (same names as the constructor)."""
        fields = dict(beta=self._beta, compute=self._compute, params=self._params,
                      bandwidth=self._bandwidth, groups=self._groups, alpha=self._alpha,
                      tau=self._tau)  # defaults stay defaults (None)
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"replace: unknown fields {sorted(unknown)}")
        fields.update(changes)
        return System(**fields)

    def _default(self, name: str, make) -> np.ndarray:
        """The array in slot `name`, created read-only on first use when it was not given."""
        value = getattr(self, name)
        if value is None:
            value = readonly(make())
            object.__setattr__(self, name, value)
        return value

    beta = property(lambda self: self._beta, doc="Seconds x Hz per parameter, shape (K,).")
    compute = property(lambda self: self._compute, doc="Seconds per parameter, shape (K,).")
    alpha = property(lambda self: self._default("_alpha", lambda: np.zeros(self.n_workers)),
                     doc="Fixed seconds x Hz per iteration, shape (K,).")
    tau = property(lambda self: self._default("_tau", lambda: np.zeros(self.n_workers)),
                   doc="Fixed seconds per iteration, shape (K,).")
    groups = property(
        lambda self: self._default("_groups", lambda: np.arange(self.n_workers, dtype=np.int64)),
        doc="Group id of each worker, shape (K,).")
    params = property(lambda self: self._params, doc="Model size L in parameters.")
    bandwidth = property(lambda self: self._bandwidth, doc="Total bandwidth B in Hz.")
    n_groups = property(lambda self: self._n_groups, doc="Number of groups N (blocks).")
    n_workers = property(lambda self: self._beta.size, doc="Number of workers K.")

    def __repr__(self) -> str:
        return (f"System(n_workers={self.n_workers}, n_groups={self.n_groups}, "
                f"params={self.params}, bandwidth={self.bandwidth:g} Hz)")

    def __eq__(self, other) -> bool:
        if not isinstance(other, System):
            return NotImplemented
        return (self._params == other._params and self._bandwidth == other._bandwidth
                and all(np.array_equal(getattr(self, f), getattr(other, f))
                        for f in ("beta", "compute", "alpha", "tau", "groups")))

    __hash__ = None
