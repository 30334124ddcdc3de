"""Wireless scenarios: a single cell whose channels produce one :class:`paba.System` per
training iteration (docs/scenarios.md; the defaults are docs/algorithms.md section 5).

A scenario fixes everything that does not change during training (the layout: distances, log-normal
shadowing, CPU frequencies) and draws, iteration after iteration, the small-scale fading on top of
it. Random numbers come from independent streams spawned from one seed, so that every allocation
scheme, every channel-knowledge mode and every churn or jitter setting sees the same channels:

- the layout uses ``np.random.default_rng(seed)`` (distances, then CPU frequencies, then shadowing;
  the first two in the order :func:`paba.static_cell` has always used);
- :data:`STREAMS` names the streams spawned by ``np.random.SeedSequence(seed).spawn``: the fading
  of the channel, the churn of the workers, the jitter of their compute time and the error of the
  channel estimates.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np

from ._radio import (
    BITS_PER_PARAMETER,
    CELL_RADIUS_M,
    CPU_HZ_RANGE,
    CYCLES_PER_PARAMETER,
    DOWNLINK_POWER_DBM,
    MIN_DISTANCE_M,
    NOISE_DBM_PER_HZ,
    SAMPLES_PER_WORKER,
    UPLINK_POWER_DBM,
    path_loss_db,
    spectral_efficiency,
    transfer_cost,
)
from ._system import System
from ._validation import (
    MAX_PARAMS,
    choice,
    count,
    describe,
    float_array,
    positive_float,
    readonly,
    real,
    real_array,
    seed,
)
from .reference.internal import SECONDS_RANGE

#: Small-scale fading models: ``"rayleigh"`` (|h|^2 ~ Exp(1)), ``"rician"`` (a line-of-sight
#: component with K-factor ``k_factor``, mean power 1) and ``"none"`` (|h|^2 = 1: path loss and
#: shadowing only, a static channel).
FADING = ("rayleigh", "rician", "none")

#: Path loss at 250 m, mid-cell of the default radius: the reference of a layout's distance.
MEDIAN_LOSS_DB = float(path_loss_db(np.float64(250.0)))

#: Independent random streams spawned from the seed, in spawn order.
STREAMS = ("channel", "churn", "jitter", "estimation")

#: Largest number of workers a scenario accepts.
MAX_WORKERS = 10**9

#: Largest cell radius in metres (the layout draws squared distances in float64).
MAX_RADIUS_M = 1e150


def _gains(name: str, value) -> np.ndarray:
    """Linear channel gains of any shape as float64: finite, non-negative real numbers."""
    array = real_array(name, value, "an array of linear channel gains")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name}: gains must be finite and non-negative")
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class Scenario:
    """A single cell: K workers around one edge server, their channels and their compute.

    Every field is validated on construction (a ``ValueError`` whose message starts with the
    field's name); arrays are stored as read-only float64 copies. ``dataclasses.replace`` (or
    :meth:`replace`) makes a changed copy. The defaults are docs/algorithms.md section 5 (this
    project's defaults, not the paper's constants), with Rayleigh block fading.

    Parameters
    ----------
    n_workers : int, default 20
        Number of workers K (one group each).
    params : int, default 10**6
        Model size L in parameters.
    bandwidth : float, default 10e6
        Total bandwidth B of the shared pool in Hz.
    cell_radius : float, default 500
        Cell radius in metres.
    min_distance : float, default 50
        Smallest distance of a worker from the server in metres; below ``cell_radius``.
    distances : array_like, shape (K,), optional
        Given distances of the workers from the server in metres, each in
        [min_distance, cell_radius]. Default: drawn uniformly in the annulus (the density of the
        distance grows linearly with it). The model depends on positions only through distances.
    shadowing_std_db : float, default 0
        Standard deviation in dB of log-normal shadowing, drawn once per worker with the layout
        (large-scale, constant during training). 0 turns it off.
    fading : {"rayleigh", "rician", "none"}, default "rayleigh"
        Small-scale block fading of unit mean power, redrawn every iteration; see :data:`FADING`.
    k_factor : float, default 1
        Rician K-factor (linear power ratio of the line-of-sight component to the scattered one),
        used when ``fading == "rician"``. Non-negative; 0 is Rayleigh.
    fading_correlation : float, default 0
        Correlation in [0, 1) of the scattered component from one iteration to the next
        (first-order Gauss-Markov); 0 is independent block fading as in the paper.
    noise_dbm_per_hz : float, default -174
        Noise power spectral density in dBm/Hz.
    downlink_power_dbm, uplink_power_dbm : float, default 30 and 23
        Transmit power of the server and of each worker in dBm, spread over the whole band.
    cpu_frequency_range : (float, float), default (1e8, 1e9)
        Range in Hz (cycles per second) of the uniformly drawn CPU frequencies; low <= high.
    cpu_frequencies : array_like, shape (K,), optional
        Given CPU frequencies in Hz; replace the drawn ones.
    samples : float or array_like of shape (K,), default 100
        Training samples each worker uses per iteration (D_k).
    cycles_per_parameter : float, default 20
        CPU cycles per parameter per sample (C).
    bits_per_parameter : float, default 32
        Bits q that encode one parameter.
    seed : int, default 0
        Non-negative seed of the layout and of every random stream (:data:`STREAMS`).

    Notes
    -----
    Down- and uplink see the same channel gain in an iteration (a reciprocal channel); they
    differ in transmit power. A worker's gain is g_k = 10^(-(PL(d_k) + S_k) / 10) |h_k|^2 with
    the path loss PL(d) = 128.1 + 37.6 log10(d / 1 km) dB, the shadowing S_k ~ N(0, sigma^2) dB
    and the fading power |h_k|^2.
    """

    n_workers: int = 20
    params: int = 10**6
    bandwidth: float = 10e6
    cell_radius: float = CELL_RADIUS_M
    min_distance: float = MIN_DISTANCE_M
    distances: np.ndarray | None = None
    shadowing_std_db: float = 0.0
    fading: str = "rayleigh"
    k_factor: float = 1.0
    fading_correlation: float = 0.0
    noise_dbm_per_hz: float = NOISE_DBM_PER_HZ
    downlink_power_dbm: float = DOWNLINK_POWER_DBM
    uplink_power_dbm: float = UPLINK_POWER_DBM
    cpu_frequency_range: tuple[float, float] = CPU_HZ_RANGE
    cpu_frequencies: np.ndarray | None = None
    samples: float | np.ndarray = SAMPLES_PER_WORKER
    cycles_per_parameter: float = CYCLES_PER_PARAMETER
    bits_per_parameter: float = BITS_PER_PARAMETER
    seed: int = 0

    if TYPE_CHECKING:  # derived on construction (__post_init__), not fields
        _distance: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)
        _frequency: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)
        _shadowing: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)
        _path_gain: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)
        _compute: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        set_ = object.__setattr__
        K = count("n_workers", self.n_workers, MAX_WORKERS)
        set_(self, "n_workers", K)
        set_(self, "params", count("params", self.params, MAX_PARAMS))
        set_(self, "bandwidth", positive_float("bandwidth", self.bandwidth))
        set_(self, "cell_radius", positive_float("cell_radius", self.cell_radius))
        if self.cell_radius > MAX_RADIUS_M:
            raise ValueError(f"cell_radius: must be at most {MAX_RADIUS_M:g} m (its square is "
                             f"drawn in float64), got {self.cell_radius:g}")
        min_distance = positive_float("min_distance", self.min_distance)
        if min_distance >= self.cell_radius:
            raise ValueError(f"min_distance: must be below cell_radius ({self.cell_radius:g} m), "
                             f"got {min_distance:g}")
        set_(self, "min_distance", min_distance)
        if self.distances is not None:
            distances = float_array("distances", self.distances, size=K, positive=True)
            if np.any(distances < min_distance) or np.any(distances > self.cell_radius):
                raise ValueError(f"distances: must lie in [min_distance, cell_radius] = "
                                 f"[{min_distance:g}, {self.cell_radius:g}] m")
            set_(self, "distances", distances)
        set_(self, "shadowing_std_db", real("shadowing_std_db", self.shadowing_std_db, low=0.0))
        choice("fading", self.fading, FADING)
        set_(self, "k_factor", real("k_factor", self.k_factor, low=0.0))
        set_(self, "fading_correlation", real("fading_correlation", self.fading_correlation,
                                              low=0.0, high=1.0, high_open=True))
        for name in ("noise_dbm_per_hz", "downlink_power_dbm", "uplink_power_dbm"):
            set_(self, name, real(name, getattr(self, name), low=-400.0, high=400.0))
        try:
            low, high = self.cpu_frequency_range
        except (TypeError, ValueError):
            raise ValueError(f"cpu_frequency_range: must be a pair (low, high) in Hz, got "
                             f"{describe(self.cpu_frequency_range)}") from None
        low = positive_float("cpu_frequency_range", low)
        high = positive_float("cpu_frequency_range", high)
        if low > high:
            raise ValueError(f"cpu_frequency_range: low ({low:g} Hz) must not exceed high "
                             f"({high:g} Hz)")
        set_(self, "cpu_frequency_range", (low, high))
        if self.cpu_frequencies is not None:
            set_(self, "cpu_frequencies", float_array("cpu_frequencies", self.cpu_frequencies,
                                                      size=K, positive=True))
        try:
            scalar_samples = np.ndim(self.samples) == 0
        except (TypeError, ValueError):
            raise ValueError(f"samples: must be a number or a 1-D array of {K} numbers, got "
                             f"{describe(self.samples)}") from None
        if scalar_samples:
            set_(self, "samples", positive_float("samples", self.samples))
        else:
            set_(self, "samples", float_array("samples", self.samples, size=K, positive=True))
        set_(self, "cycles_per_parameter",
             positive_float("cycles_per_parameter", self.cycles_per_parameter))
        set_(self, "bits_per_parameter",
             positive_float("bits_per_parameter", self.bits_per_parameter))
        set_(self, "seed", seed("seed", self.seed, maximum=None))
        self._draw_layout()
        self._check_implied()

    def _draw_layout(self) -> None:
        with np.errstate(over="ignore", under="ignore"):  # _check_implied names what overflows
            self._draw_layout_unchecked()

    def _draw_layout_unchecked(self) -> None:
        K = self.n_workers
        rng = np.random.default_rng(self.seed)
        # Draw all three every time, in a fixed order, so that giving one of them does not move
        # the draws of the others (and static_cell's distances and frequencies stay the same).
        drawn_distance = np.sqrt(rng.uniform(self.min_distance**2, self.cell_radius**2, K))
        drawn_frequency = rng.uniform(*self.cpu_frequency_range, K)
        shadowing = self.shadowing_std_db * rng.standard_normal(K)
        distance = drawn_distance if self.distances is None else np.array(self.distances)
        frequency = drawn_frequency if self.cpu_frequencies is None else np.array(
            self.cpu_frequencies)
        if self.shadowing_std_db > 0:
            gain = 10.0 ** (-(path_loss_db(distance) + shadowing) / 10.0)
        else:
            gain = 10.0 ** (-path_loss_db(distance) / 10.0)
        samples = np.broadcast_to(np.asarray(self.samples, dtype=np.float64), (K,))
        work = self.cycles_per_parameter * samples
        set_ = object.__setattr__
        set_(self, "_distance", readonly(distance))
        set_(self, "_frequency", readonly(frequency))
        set_(self, "_shadowing", readonly(shadowing))
        set_(self, "_path_gain", readonly(gain))
        set_(self, "_compute", readonly(work / frequency))

    def _check_implied(self) -> None:
        """Check what the fields imply together, once, here: the mean channel's System must be
        one the allocator accepts (finite positive gains, efficiencies, costs; the seconds
        beta L / B and compute L within SECONDS_RANGE), so that no run fails later naming a
        derived quantity. The field named is the one, among those a failing quantity depends
        on, farthest from its default (in decades)."""
        K = self.n_workers
        samples = np.broadcast_to(np.asarray(self.samples, dtype=np.float64), (K,))
        frequency, gain, shadowing = self._frequency, self._path_gain, self._shadowing
        low, high = SECONDS_RANGE
        with np.errstate(all="ignore"):
            loss = path_loss_db(self._distance)
            distance_field = "distances" if self.distances is not None else "cell_radius"
            frequency_field = ("cpu_frequencies" if self.cpu_frequencies is not None
                               else "cpu_frequency_range")

            def gap(value: float, default: float) -> float:
                return abs(math.log10(value) - math.log10(default))

            def decades(k: int) -> dict[str, float]:
                # How far each field is from its default at worker k, in decades (dB / 10).
                return {
                    "samples": gap(samples[k], SAMPLES_PER_WORKER),
                    "cycles_per_parameter": gap(self.cycles_per_parameter,
                                                CYCLES_PER_PARAMETER),
                    frequency_field: gap(frequency[k], math.sqrt(CPU_HZ_RANGE[0]
                                                                 * CPU_HZ_RANGE[1])),
                    "params": gap(self.params, 10**6),
                    "bits_per_parameter": gap(self.bits_per_parameter, BITS_PER_PARAMETER),
                    "bandwidth": gap(self.bandwidth, 10e6),
                    "downlink_power_dbm": abs(self.downlink_power_dbm - DOWNLINK_POWER_DBM) / 10,
                    "uplink_power_dbm": abs(self.uplink_power_dbm - UPLINK_POWER_DBM) / 10,
                    "noise_dbm_per_hz": abs(self.noise_dbm_per_hz - NOISE_DBM_PER_HZ) / 10,
                    "shadowing_std_db": abs(float(shadowing[k])) / 10,
                    distance_field: abs(float(loss[k]) - MEDIAN_LOSS_DB) / 10,
                }

            def fail(k: int, fields: tuple[str, ...], what: str):
                distance = decades(k)
                culprit = max(fields, key=lambda f: (distance[f]
                                                     if math.isfinite(distance[f]) else math.inf))
                raise ValueError(f"{culprit}: with the other fields as given, {what} leaves "
                                 f"float64's usable range (worker {k}); the allocator could not "
                                 f"take this scenario's channel")

            def first_bad(values, lower=0.0, upper=math.inf):
                bad = ~(np.isfinite(values) & (values > lower) & (values <= upper))
                return int(np.flatnonzero(bad)[0]) if bad.any() else None

            compute_fields = ("samples", "cycles_per_parameter", frequency_field, "params")
            k = first_bad(self._compute)
            if k is None:
                k = first_bad(self._compute * self.params, low * (1 - 1e-12), high)
            if k is not None:
                fail(k, compute_fields, "the compute time per parameter C D_k / f_k (times L)")
            channel_fields = ("bandwidth", "downlink_power_dbm", "uplink_power_dbm",
                              "noise_dbm_per_hz", "shadowing_std_db", distance_field)
            k = first_bad(gain)
            if k is not None:
                fail(k, ("shadowing_std_db", distance_field), "the mean channel gain")
            down, up = self.efficiencies()
            k = first_bad(down)
            if k is None:
                k = first_bad(up)
            if k is not None:
                fail(k, channel_fields, "the spectral efficiency of the mean channel")
            beta = transfer_cost(self.bits_per_parameter, down, up)
            k = first_bad(beta)
            if k is None:
                k = first_bad(beta * self.params / self.bandwidth, low * (1 - 1e-12), high)
            if k is not None:
                fail(k, (*channel_fields, "bits_per_parameter", "params"),
                     "the communication time q L (1/e_down + 1/e_up) / B of the mean channel")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def default(cls, **changes) -> Scenario:
        """docs/algorithms.md section 5: 20 workers in a 500 m cell (50 m or more from the
        server), 10 MHz, Rayleigh block fading, -174 dBm/Hz noise, 23 dBm uplink and 30 dBm
        downlink, CPUs uniform in [0.1, 1] GHz, 100 samples, 20 cycles per parameter per sample,
        32 bits per parameter, a 10^6-parameter model; ``changes`` override fields."""
        return cls(**changes)

    def replace(self, **changes) -> Scenario:
        """A new, validated Scenario with some fields changed."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"replace: unknown fields {sorted(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as JSON-ready Python values (arrays as lists)."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.tolist() if isinstance(value, np.ndarray) else (
                list(value) if isinstance(value, tuple) else value)
        return out

    # -- the layout ---------------------------------------------------------------------------

    distance = property(lambda self: self._distance,
                        doc="Distance of each worker from the server in metres, shape (K,).")
    cpu_frequency = property(lambda self: self._frequency,
                             doc="CPU frequency of each worker in Hz, shape (K,).")
    shadowing_db = property(lambda self: self._shadowing,
                            doc="Log-normal shadowing of each worker in dB, shape (K,) "
                                "(zeros without shadowing).")
    path_gain = property(lambda self: self._path_gain,
                         doc="Linear large-scale gain 10^(-(PL + S) / 10) of each worker, "
                             "shape (K,): the mean channel gain, before fading.")
    compute_per_parameter = property(
        lambda self: self._compute,
        doc="Compute time per parameter C D_k / f_k of each worker in seconds, shape (K,).")

    # -- random streams and channels ----------------------------------------------------------

    def generators(self) -> dict[str, np.random.Generator]:
        """Fresh generators of the named streams (:data:`STREAMS`), spawned from the seed."""
        children = np.random.SeedSequence(self.seed).spawn(len(STREAMS))
        return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children,
                                                                         strict=True)}

    def channel(self, rng: np.random.Generator | None = None) -> Channel:
        """A fresh channel process: :meth:`Channel.draw` gives the gains iteration by iteration.

        Parameters
        ----------
        rng : numpy.random.Generator, optional
            Default: the scenario's ``"channel"`` stream, from its first draw.
        """
        return Channel(self, self.generators()["channel"] if rng is None else rng)

    def draw_gains(self, iterations: int | None = None) -> np.ndarray:
        """Channel gains (linear) of the first iterations of a fresh channel process.

        Returns shape (K,) for ``iterations=None`` (the first iteration), else
        (iterations, K). The same seed always gives the same gains, whether drawn at once or
        iteration by iteration.
        """
        return self.channel().draw(iterations)

    # -- radio to allocation model ------------------------------------------------------------

    def efficiencies(self, gain=None) -> tuple[np.ndarray, np.ndarray]:
        """Download and upload spectral efficiencies in bit/s/Hz for linear channel gains.

        Parameters
        ----------
        gain : array_like, optional
            Linear channel gains of any shape (typically (K,) or (iterations, K)); default: the
            mean channel :attr:`path_gain`.

        Returns
        -------
        (efficiency_down, efficiency_up) : ndarrays shaped like ``gain``
            log2(1 + SNR) with the server's and the workers' transmit power spread over the band.
        """
        gain = self._path_gain if gain is None else _gains("gain", gain)
        noise = self.noise_dbm_per_hz
        down = spectral_efficiency(self.downlink_power_dbm, gain, self.bandwidth, noise)
        up = spectral_efficiency(self.uplink_power_dbm, gain, self.bandwidth, noise)
        return down, up

    def beta(self, gain=None) -> np.ndarray:
        """Communication cost per parameter q (1/e_down + 1/e_up) in seconds x Hz, shaped like
        ``gain`` (default: the mean channel)."""
        down, up = self.efficiencies(gain)
        with np.errstate(over="ignore", divide="ignore"):  # a gain of 0: infinite cost
            return transfer_cost(self.bits_per_parameter, down, up)

    def system(self, gain=None, *, workers=None) -> System:
        """The :class:`paba.System` of one iteration (via :meth:`System.from_radio`).

        Parameters
        ----------
        gain : array_like, shape (K,), optional
            Linear channel gains of this iteration; default: the mean channel (no fading).
        workers : array_like of bool (K,) or of int, optional
            The workers taking part (a mask or indices); default: all. The System's workers are
            these, in increasing index order.
        """
        gain = self._path_gain if gain is None else float_array("gain", gain,
                                                                size=self.n_workers,
                                                                positive=True)
        select = slice(None) if workers is None else self._select("workers", workers)
        down, up = self.efficiencies(gain[select])
        samples = np.broadcast_to(np.asarray(self.samples, dtype=np.float64), (self.n_workers,))
        return System.from_radio(
            efficiency_down=down, efficiency_up=up, cpu_frequency=self._frequency[select],
            samples=samples[select], params=self.params, bandwidth=self.bandwidth,
            cycles_per_parameter=self.cycles_per_parameter,
            bits_per_parameter=self.bits_per_parameter)

    def _select(self, name: str, workers) -> np.ndarray:
        try:
            workers = np.asarray(workers)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: must be a boolean mask or an array of worker indices "
                             f"({error})") from None
        K = self.n_workers
        if workers.dtype == bool:
            if workers.shape != (K,):
                raise ValueError(f"{name}: a mask must have shape ({K},), got {workers.shape}")
            index = np.flatnonzero(workers)
        elif workers.dtype.kind in "iu" and workers.ndim == 1:
            index = np.unique(workers)
            if index.size and (index[0] < 0 or index[-1] >= K):
                raise ValueError(f"{name}: indices must be in 0..{K - 1}")
        else:
            raise ValueError(f"{name}: must be a boolean mask or an array of worker indices")
        if index.size == 0:
            raise ValueError(f"{name}: at least one worker must take part")
        return index

    def __repr__(self) -> str:
        return (f"Scenario(n_workers={self.n_workers}, params={self.params}, "
                f"bandwidth={self.bandwidth:g} Hz, fading={self.fading!r}, seed={self.seed})")


class Channel:
    """The block-fading channel of a scenario, drawn iteration after iteration.

    Created by :meth:`Scenario.channel`. The fading power |h|^2 has mean 1: Rayleigh
    h ~ CN(0, 1); Rician h = sqrt(K / (K + 1)) + sqrt(1 / (K + 1)) s with s ~ CN(0, 1); none
    h = 1. With ``fading_correlation`` rho > 0 the scattered part follows
    s_t = rho s_(t-1) + sqrt(1 - rho^2) w_t (each s_t still CN(0, 1)).
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        self.scenario = scenario
        self._rng = rng
        self._scattered = None  # s of the last iteration drawn, for correlated fading
        self.iteration = 0      # iterations drawn so far

    def fading_power(self, iterations: int | None = None) -> np.ndarray:
        """|h|^2 of the next iteration (shape (K,)) or the next ``iterations`` (shape
        (iterations, K)); dimensionless, mean 1."""
        scenario = self.scenario
        n = 1 if iterations is None else count("iterations", iterations, 10**9)
        K = scenario.n_workers
        self.iteration += n
        if scenario.fading == "none":
            power = np.ones((n, K))
        else:
            # Complex normals as pairs of real ones: one pass over the stream, the same numbers
            # whether drawn all at once or iteration by iteration.
            pairs = self._rng.standard_normal((n, K, 2))
            w = (pairs[..., 0] + 1j * pairs[..., 1]) * math.sqrt(0.5)
            rho = scenario.fading_correlation
            if rho > 0:
                innovation = math.sqrt(1.0 - rho * rho)
                s = np.empty_like(w)
                previous = self._scattered
                for t in range(n):
                    s[t] = w[t] if previous is None else rho * previous + innovation * w[t]
                    previous = s[t]
                self._scattered = previous
            else:
                s = w
            if scenario.fading == "rician":
                k = scenario.k_factor
                h = math.sqrt(k / (k + 1.0)) + math.sqrt(1.0 / (k + 1.0)) * s
            else:
                h = s
            power = h.real**2 + h.imag**2
        return power[0] if iterations is None else power

    def draw(self, iterations: int | None = None) -> np.ndarray:
        """Linear channel gains path_gain x |h|^2 of the next iteration (shape (K,)) or the next
        ``iterations`` (shape (iterations, K))."""
        return self.scenario.path_gain * self.fading_power(iterations)


def static_cell(n_workers: int = 20, *, params: int = 10**6, bandwidth: float = 10e6,
                seed: int = 0) -> System:
    """A System for one draw of a static cell (path loss only, no fading).

    Workers uniform in the disc of radius 500 m at 50 m or more from the server; 23 dBm uplink
    and 30 dBm downlink over the whole band; noise -174 dBm/Hz; CPUs uniform in [0.1, 1] GHz;
    100 samples per worker, 20 cycles per parameter per sample, 32 bits per parameter.

    Parameters
    ----------
    n_workers : int
        K, the number of workers (one group each).
    params : int
        Model size in parameters.
    bandwidth : float
        Total bandwidth in Hz.
    seed : int
        Seed of the NumPy generator that draws positions and CPU frequencies.

    Notes
    -----
    The same as ``paba.Scenario(n_workers, params=params, bandwidth=bandwidth, seed=seed,
    fading="none").system()``: the scenario's mean channel.
    """
    return Scenario(n_workers=n_workers, params=params, bandwidth=bandwidth, seed=seed,
                    fading="none").system()
