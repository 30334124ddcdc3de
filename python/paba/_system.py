"""The latency model of one iteration (docs/algorithms.md section 2) as an immutable, validated
object."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    from ._core import SystemArrays
    from ._core import check_workers as _check_workers
    from ._core import init_basic_system as _init_basic_system
except ImportError as error:  # pragma: no cover - a source tree without the build
    raise ImportError("paba._core, the compiled kernels, is missing: build and install the "
                      "package (pip install .)") from error
from ._radio import transfer_cost
from ._validation import (
    MAX_PARAMS,
    NEGATIVE,
    NOT_FINITE,
    NOT_POSITIVE,
    float_array,
    float_vector,
    group_ids,
    positive_float,
    positive_integer,
    readonly,
)
from .reference.internal import SECONDS_RANGE


def _finite_positive(name: str, values: np.ndarray, what: str | None = None) -> np.ndarray:
    """Derived per-worker values must stay finite and positive in float64."""
    if not np.all(np.isfinite(values)) or not np.all(values > 0):
        raise ValueError(f"{name}: {what or '1 / ' + name} overflows or underflows float64")
    return values


_WORKER_INPUTS = ("beta", "compute", "alpha", "tau")
_SECONDS = {"beta": ("beta * params / bandwidth", SECONDS_RANGE[0]),
            "compute": ("compute * params", SECONDS_RANGE[0]),
            "alpha": ("alpha / bandwidth", 0.0), "tau": ("tau", 0.0)}
#: The messages of the faults of ``_core.check_workers`` (by the names of its WORKER_FAULTS), the
#: same as float_array's; "out_of_range" names the worker (_fault_message).
_MESSAGES = {"not_finite": NOT_FINITE, "not_positive": NOT_POSITIVE, "negative": NEGATIVE}
_FLOAT64 = np.dtype(np.float64)


def _fault_message(fault: str, name: str, worker: int) -> str:
    """The message of a fault reported by ``_core.check_workers`` (its names)."""
    if fault in _MESSAGES:
        return _MESSAGES[fault].format(name)
    what, minimum = _SECONDS[name]
    return (f"{name}: {what} must lie in [{minimum:g}, {SECONDS_RANGE[1]:g}] seconds "
            f"(worker {worker})")


def _fast_inputs(beta: Any, compute: Any, alpha: Any, tau: Any, params: Any,
                 bandwidth: Any) -> tuple[Any, ...] | None:
    """The checked, read-only float64 copies of the per-worker inputs and the scalars, from one
    native pass that checks while it copies, when every input is a float64 array that it can read
    as it is (1-D, C-contiguous, aligned, native byte order) and every check passes; else None,
    and the caller checks in order, to report the first fault as it comes."""
    # Scalars of the usual types, valid (else their faults may have to wait for the arrays').
    if not (type(params) is int and 1 <= params <= MAX_PARAMS and type(bandwidth) is float
            and 0.0 < bandwidth < math.inf):
        return None
    # Arrays, not subclasses, which may read otherwise (the native check reads their buffers).
    if not (type(beta) is np.ndarray and beta.dtype is _FLOAT64 and beta.size
            and type(compute) is np.ndarray and compute.dtype is _FLOAT64):
        return None
    for value in (alpha, tau):
        if value is not None and (type(value) is not np.ndarray or value.dtype is not _FLOAT64):
            return None
    try:
        fault, copies = _check_workers(beta, compute, alpha, tau, float(params), bandwidth,
                                            True)
    except ValueError:  # a layout it cannot read, or arrays of different lengths
        return None
    if fault is not None:
        return None
    assert copies is not None  # given with copy=True and no fault
    if alpha is None and tau is None:
        return (*copies, None, None, params, bandwidth)
    return (copies[0], copies[1], None if alpha is None else copies[2],
            None if tau is None else copies[-1], params, bandwidth)


def _inputs_in_order(beta: Any, compute: Any, alpha: Any, tau: Any, params: Any,
                     bandwidth: Any,
                     groups: Any) -> tuple[tuple[Any, ...], tuple[np.ndarray | None, int]]:
    """Every input checked in the order of the arguments, each in full before the next (the
    first fault raises, as it comes); the per-worker arrays converted from any real dtype and
    layout. Returns them as _fast_inputs does, and the checked groups."""
    values = {"beta": beta, "compute": compute, "alpha": alpha, "tau": tau}
    arrays = {}
    K: int | None = None
    for slot, name in enumerate(_WORKER_INPUTS):
        if values[name] is None and name in ("alpha", "tau"):
            continue
        array = float_vector(name, values[name], size=K, boolean=False)
        K = array.size
        # Finiteness and sign of this input alone (its range waits for params and bandwidth).
        alone: list[np.ndarray | None] = [None] * 4
        alone[slot] = array
        fault = _check_workers(alone[0], alone[1], alone[2], alone[3], 1.0, 1.0)[0]
        if fault is not None and fault[0] != "out_of_range":
            raise ValueError(_fault_message(*fault))
        arrays[name] = readonly(array)
    assert K is not None  # beta and compute are always read
    groups = group_ids(groups, K)
    params = positive_integer("params", params)
    bandwidth = positive_float("bandwidth", bandwidth)
    inputs = [arrays.get(name) for name in _WORKER_INPUTS]
    fault = _check_workers(inputs[0], inputs[1], inputs[2], inputs[3], float(params),
                           bandwidth)[0]
    if fault is not None:
        raise ValueError(_fault_message(*fault))
    return (*inputs, params, bandwidth), groups


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
        Naming the argument (and the first worker at fault, for the normalised seconds), for NaN
        or infinite values, non-positive beta or compute, negative alpha or tau, normalised seconds
        out of range (beta * params / bandwidth and compute * params in [1e-80, 1e80],
        alpha / bandwidth and tau at most 1e80), mismatched, empty or boolean arrays, and group ids
        out of range or leaving a group empty.

    Notes
    -----
    Arrays are copied into read-only float64 (int64 for ``groups``) arrays, so any real dtype,
    layout or writeability is accepted and the object cannot change after construction.
    Contiguous float64 arrays are checked natively while they are copied, in one pass.
    """

    # Every slot costs a call to set, so there are few: the kernels' view of the instance,
    # _kernel (a SystemArrays: beta, compute, alpha, tau, groups, n_groups, params as a float,
    # bandwidth), holds beta, compute, n_groups and bandwidth for the properties too, and alpha,
    # tau and groups stay unset (read as None) when they are not given.
    __slots__ = ("_kernel", "_params", "_alpha", "_tau", "_groups")
    _kernel: SystemArrays
    _params: int

    def __init__(self, beta: Any, compute: Any, params: Any, bandwidth: Any, groups: Any = None,
                 alpha: Any = None, tau: Any = None) -> None:
        # The usual call (no groups or fixed costs, valid float64 arrays): checked and copied
        # in one native call, which sets the slots as below.
        if (groups is None and alpha is None and tau is None
                and _init_basic_system(self, beta, compute, params, bandwidth)):
            return
        inputs = _fast_inputs(beta, compute, alpha, tau, params, bandwidth)
        if inputs is None:
            inputs, (groups, n_groups) = _inputs_in_order(beta, compute, alpha, tau, params,
                                                          bandwidth, groups)
        elif groups is None:
            n_groups = inputs[0].size
        else:  # every other input is valid: the groups' faults come first
            groups, n_groups = group_ids(groups, inputs[0].size)
        beta, compute, alpha, tau, params, bandwidth = inputs
        K = beta.size
        set_ = object.__setattr__
        set_(self, "_params", params)
        if alpha is not None:
            set_(self, "_alpha", alpha)
        if tau is not None:
            set_(self, "_tau", tau)
        if groups is not None:
            set_(self, "_groups", groups)
        # What the kernels read: zero fixed costs and one worker per group travel as None, which
        # spares a K-sized array each and lets the joint scheme use its exact method.
        identity = groups is None or (n_groups == K and bool(np.all(groups == np.arange(K))))
        set_(self, "_kernel", SystemArrays(
            beta, compute,
            None if alpha is None or not np.any(alpha) else alpha,
            None if tau is None or not np.any(tau) else tau,
            None if identity else groups,
            n_groups, float(params), bandwidth))

    @classmethod
    def from_radio(cls, efficiency_down: Any, efficiency_up: Any, cpu_frequency: Any,
                   samples: Any, params: Any, bandwidth: Any, *,
                   cycles_per_parameter: Any = 20.0, bits_per_parameter: Any = 32.0,
                   groups: Any = None, side_bits: Any = None, tau: Any = None) -> System:
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
        down = float_array("efficiency_down", efficiency_down, positive=True, boolean=False)
        K = down.size
        up = float_array("efficiency_up", efficiency_up, size=K, positive=True, boolean=False)
        frequency = float_array("cpu_frequency", cpu_frequency, size=K, positive=True,
                                boolean=False)
        data = float_array("samples", samples, size=K, positive=True, boolean=False)
        cycles = positive_float("cycles_per_parameter", cycles_per_parameter)
        bits = positive_float("bits_per_parameter", bits_per_parameter)
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            _finite_positive("efficiency_down", 1.0 / down)
            _finite_positive("efficiency_up", 1.0 / up)
            beta = _finite_positive("bits_per_parameter", transfer_cost(bits, down, up),
                                    "bits_per_parameter / spectral efficiency")
            work = _finite_positive("samples", cycles * data, "cycles_per_parameter x samples")
            compute = _finite_positive("cpu_frequency", work / frequency,
                                       "cycles_per_parameter x samples / cpu_frequency")
            alpha = None
            if side_bits is not None:
                alpha = float_array("side_bits", side_bits, size=K, nonnegative=True,
                                    boolean=False)
                alpha = transfer_cost(alpha, down, up)
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

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("System is immutable; build a new one (see System.replace)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("System is immutable")

    def replace(self, **changes: Any) -> System:
        """A new System with some fields changed (same names as the constructor)."""
        beta, compute = self._kernel.beta, self._kernel.compute
        fields = dict(beta=beta, compute=compute, params=self._params,
                      bandwidth=self.bandwidth, groups=getattr(self, "_groups", None),
                      alpha=getattr(self, "_alpha", None),
                      tau=getattr(self, "_tau", None))  # defaults stay defaults (None)
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"replace: unknown fields {sorted(unknown)}")
        fields.update(changes)
        return System(**fields)

    def _default(self, name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The array in slot `name`, created read-only on first use when it was not given."""
        value = getattr(self, name, None)
        if value is None:
            value = readonly(make())
            object.__setattr__(self, name, value)
        return value

    beta = property(lambda self: self._kernel.beta,
                    doc="Seconds x Hz per parameter, shape (K,).")
    compute = property(lambda self: self._kernel.compute,
                       doc="Seconds per parameter, shape (K,).")
    alpha = property(lambda self: self._default("_alpha", lambda: np.zeros(self.n_workers)),
                     doc="Fixed seconds x Hz per iteration, shape (K,).")
    tau = property(lambda self: self._default("_tau", lambda: np.zeros(self.n_workers)),
                   doc="Fixed seconds per iteration, shape (K,).")
    groups = property(
        lambda self: self._default("_groups", lambda: np.arange(self.n_workers, dtype=np.int64)),
        doc="Group id of each worker, shape (K,).")
    params = property(lambda self: self._params, doc="Model size L in parameters.")
    bandwidth = property(lambda self: self._kernel.bandwidth, doc="Total bandwidth B in Hz.")
    n_groups = property(lambda self: self._kernel.n_groups, doc="Number of groups N (blocks).")
    n_workers = property(lambda self: self._kernel.beta.size, doc="Number of workers K.")

    def __repr__(self) -> str:
        return (f"System(n_workers={self.n_workers}, n_groups={self.n_groups}, "
                f"params={self.params}, bandwidth={self.bandwidth:g} Hz)")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, System):
            return NotImplemented
        return (self._params == other._params and self.bandwidth == other.bandwidth
                and all(np.array_equal(getattr(self, f), getattr(other, f))
                        for f in ("beta", "compute", "alpha", "tau", "groups")))

    __hash__ = None  # type: ignore[assignment]  # equal Systems compare by value: unhashable
