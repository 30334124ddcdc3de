"""The online scheduler: re-allocate parameters and bandwidth every training iteration as the
channels of a :class:`paba.Scenario` fade, and charge each allocation the latency of the channel
that really was (docs/scenarios.md).

Two paths give the same numbers:

- iterating over a :class:`Scheduler` solves one iteration at a time with :func:`paba.allocate`
  (warm-started from the previous iteration where the solver supports it) and yields an
  :class:`IterationRecord` per iteration;
- :meth:`Scheduler.run` with ``batch=True`` draws the channels of many iterations at once and
  solves them with ``paba.allocate_batch``, then evaluates the realised latencies vectorised in
  NumPy: the route to thousands of iterations of thousands of workers.

Both draw their random numbers from the scenario's named streams in the same order (one row of
K numbers per iteration and per stream), so they see identical channels, churn, jitter and
estimation errors, and so does every scheme for the same scenario seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _backend
from ._allocation import (
    ALLOCATION_FIELDS,
    DEFAULT_TOL,
    METHODS,
    SCHEMES,
    Allocation,
    allocate,
)
from ._batch import allocate_batch
from ._granules import Granules, round_to_granules
from ._radio import transfer_cost
from ._records import (
    CHUNK_ELEMENTS,
    History,
    IterationRecord,
    history_fields,
    phase_latencies,
    realised_latency,
)
from ._scenario import STREAMS, Scenario
from ._streams import Draws, generator_from_state, generator_state, plain_int
from ._validation import (
    boolean,
    callback,
    choice,
    count,
    describe,
    exactly,
    group_ids,
    plain_differences,
    readonly,
    real,
    real_number,
    tolerance,
)
from ._validation import (
    n_threads as n_threads_check,
)

#: Channel-state-information modes: the allocator sees the true channel of this iteration
#: (``"perfect"``), the true channel of ``delay`` iterations ago (``"delayed"``), or an estimate
#: with log-normal error of ``csi_error_db`` dB standard deviation (``"noisy"``).
CSI_MODES = ("perfect", "delayed", "noisy")


#: Distributions of the compute-time jitter factor, both of mean 1: ``"lognormal"``
#: exp(sigma z - sigma^2 / 2) with z ~ N(0, 1) and sigma = ``jitter``; ``"uniform"`` on
#: [1 - jitter, 1 + jitter] (``jitter`` < 1).
JITTER_DISTRIBUTIONS = ("lognormal", "uniform")


#: What :class:`History` keeps: ``"full"`` adds the (iterations, K) arrays of loads, bandwidth
#: and phase latencies to the per-iteration summaries of ``"summary"``.
RECORD_MODES = ("full", "summary")


class Scheduler:
    """Re-allocate every training iteration of a scenario with one scheme.

    Iterating yields one :class:`IterationRecord` per iteration and fills :attr:`history`;
    :meth:`run` runs all iterations (optionally through the batch API) and returns the
    :class:`History`. Every iteration: draw the true channel; decide which workers are present;
    allocate with the scheme on the channel the allocator knows, over the present workers; charge
    the allocation the latency of the true channel with each worker's compute time scaled by its
    jitter factor: the slowest loaded worker's download + compute + upload
    (``_records.realised_latency``; the plan's own latency when the channel knowledge is perfect
    and there is no jitter).

    Parameters
    ----------
    scenario : Scenario
        The cell, its channels and its seed (the random streams of :data:`paba._scenario.STREAMS`).
    scheme : str, default "joint"
        One of :data:`paba.SCHEMES`.
    iterations : int, default 100
        Training iterations to run.
    csi : {"perfect", "delayed", "noisy"}, default "perfect"
        Channel state information of the allocator (:data:`CSI_MODES`).
    delay : int, default 1
        Iterations of delay for ``csi="delayed"``. Before the first measurement arrives
        (iteration < delay) the allocator uses the mean channel (path loss and shadowing).
    csi_error_db : float, default 2
        Standard deviation in dB of the log-normal error of the estimated gain for
        ``csi="noisy"``: known gain = true gain x 10^(csi_error_db z / 10), z ~ N(0, 1).
    availability : float, default 1
        Probability in [0, 1] that a worker is present in an iteration (independently).
    trace : array_like of bool, shape (iterations, K), optional
        Given presence of each worker in each iteration; replaces ``availability``.
    jitter : float, default 0
        Spread of the compute-time factor (realised compute time = profile x factor): the sigma
        of a mean-one log-normal, or the half-width of a uniform factor around 1 (below 1).
    jitter_distribution : {"lognormal", "uniform"}, default "lognormal"
    record : {"full", "summary"}, default "full"
        Whether :attr:`history` keeps per-worker arrays (:data:`RECORD_MODES`).
    warm_start : bool, default True
        Pass the previous allocation to :func:`paba.allocate` (``previous=``) for the joint
        scheme when the set of present workers has not changed, where ``allocate`` supports it.
    method : str, default "auto"
        Joint-scheme method passed on to the allocator where it supports one.
    tol : float, default 1e-9
        Relative tolerance of the joint scheme.
    backend : {"native", "reference"}, optional
        Backend of the per-iteration path (default: ``PABA_BACKEND`` or native).
    n_threads : int, default 1
        Threads of the batch path.
    groups : array_like of int, shape (K,), optional
        Group id (0..N-1, every group non-empty) of each worker: the members of a group train
        the same block (docs/algorithms.md 2). Default: one worker per group. Both paths take
        groups.
    granules : sequence of int or Granules, optional
        Sizes in parameters of the units that blocks are made of (a row of a weight matrix with
        its bias); they must sum to the scenario's ``params``. Every allocation is then rounded
        to whole units and its bandwidth re-balanced (:func:`paba.round_to_granules`), and each
        record carries the ``unit_counts``. Iterations then run on the per-iteration path
        only.

    Notes
    -----
    Absent workers get no load, no bandwidth and no time: the System of an iteration is built
    from the present workers only and its answer is scattered back to the scenario's K workers.
    An iteration without any present worker is skipped (latency NaN, left out of the summary).
    """

    def __init__(self, scenario: Scenario, scheme: str = "joint", *, iterations: int = 100,
                 csi: str = "perfect", delay: int = 1, csi_error_db: float = 2.0,
                 availability: float = 1.0, trace=None, jitter: float = 0.0,
                 jitter_distribution: str = "lognormal", record: str = "full",
                 warm_start: bool = True, method: str = "auto", tol: float = DEFAULT_TOL,
                 backend: str | None = None, n_threads: int = 1, groups=None,
                 granules=None):
        if not isinstance(scenario, Scenario):
            raise ValueError(f"scenario: must be a paba.Scenario, got {type(scenario).__name__}")
        self.scenario = scenario
        self.scheme = choice("scheme", scheme, SCHEMES)
        self.iterations = count("iterations", iterations, maximum=10**9)
        self.csi = choice("csi", csi, CSI_MODES)
        self.delay = count("delay", delay, maximum=10**9)
        self.csi_error_db = real("csi_error_db", csi_error_db, low=0.0, high=100.0)
        self.availability = real("availability", availability, low=0.0, high=1.0)
        K = scenario.n_workers
        if trace is not None:
            try:
                array = np.asarray(trace)
            except (TypeError, ValueError) as error:
                raise ValueError(f"trace: must be an array of booleans ({error})") from None
            if array.dtype != bool:
                raise ValueError(f"trace: must be an array of booleans, got {array.dtype}")
            if array.shape != (self.iterations, K):
                raise ValueError(f"trace: must have shape (iterations, K) = "
                                 f"({self.iterations}, {K}), got {array.shape}")
            trace = readonly(array.copy())
        self.trace = trace
        self.jitter_distribution = choice("jitter_distribution", jitter_distribution,
                                          JITTER_DISTRIBUTIONS)
        if jitter_distribution == "uniform":
            self.jitter = real("jitter", jitter, low=0.0, high=1.0, high_open=True)
        else:
            self.jitter = real("jitter", jitter, low=0.0, high=10.0)
        self.record = choice("record", record, RECORD_MODES)
        self.warm_start = boolean("warm_start", warm_start)
        self.method = choice("method", method, METHODS)
        self.tol = tolerance("tol", real_number("tol", tol))
        if backend is not None:
            _backend.resolve(choice("backend", backend, _backend.BACKENDS))
        self.backend = backend
        self.n_threads = n_threads_check("n_threads", n_threads)
        ids, self.n_groups = group_ids(groups, K)
        self.groups = None if ids is None else readonly(ids.copy())
        if granules is not None and not isinstance(granules, Granules):
            granules = Granules.from_sizes(granules)
        if granules is not None and granules.total != scenario.params:
            raise ValueError(f"granules: the units hold {granules.total} parameters, the "
                             f"scenario's params is {scenario.params}")
        self.granules = granules
        self.history = History(scheme, self.iterations, K, record)

    def settings(self) -> dict:
        """Everything that determines this scheduler's records, as plain data (str, int, float,
        bool, None, lists and dicts): the scenario's fields, the scheme and every option except
        ``iterations`` (the records of the first iterations do not depend on how many follow),
        ``warm_start`` and ``n_threads`` (they change the work, not the answer). Schedulers with
        equal settings give the same records; :meth:`SchedulerRun.from_state` and training
        checkpoints compare them. A ``trace`` enters as its SHA-256 and shape."""
        trace = None
        if self.trace is not None:
            trace = {"shape": list(self.trace.shape),
                     "sha256": hashlib.sha256(np.packbits(self.trace).tobytes()).hexdigest()}
        return {
            "scenario": self.scenario.to_dict(), "scheme": self.scheme, "csi": self.csi,
            "delay": self.delay, "csi_error_db": self.csi_error_db,
            "availability": self.availability, "trace": trace, "jitter": self.jitter,
            "jitter_distribution": self.jitter_distribution, "record": self.record,
            "method": self.method, "tol": self.tol, "backend": _backend.resolve(self.backend),
            "groups": None if self.groups is None else self.groups.tolist(),
            "granules": None if self.granules is None else {
                "sizes": self.granules.sizes.tolist(), "counts": self.granules.counts.tolist()},
        }

    # -- the random inputs of an iteration, shared by both paths ------------------------------

    def _inputs(self) -> Draws:
        """A callable drawing the next ``n`` iterations' (true gains, known gains, presence,
        jitter factors), each of shape (n, K), from fresh streams."""
        return Draws(self)

    def _allocate_options(self) -> dict[str, Any]:
        return {"method": self.method} if self.scheme == "joint" else {}

    # -- the per-iteration path ---------------------------------------------------------------

    def __iter__(self) -> SchedulerRun:
        """Run the iterations one by one from the start of the scenario's streams, yielding a
        record per iteration and filling :attr:`history` (reset first). The iterator is a
        :class:`SchedulerRun`, which can be pickled mid-run and resumed where it stopped."""
        return SchedulerRun(self)

    # -- whole runs ---------------------------------------------------------------------------

    def run(self, *, batch: bool | None = None,
            progress: Callable[[int], None] | None = None) -> History:
        """Run every iteration and return the :class:`History` (also :attr:`history`).

        Parameters
        ----------
        batch : bool, optional
            Solve many iterations per call through :func:`paba.allocate_batch` (``True``, the
            default without ``granules``) or one by one (``False``, which also warm-starts each
            joint solve from the previous iteration's allocation). Both give the same
            allocations. With ``granules`` only the per-iteration path runs (each allocation is
            rounded to whole units in Python).
        progress : callable, optional
            Called with the number of iterations completed so far, after each iteration or
            chunk (for a progress bar).
        """
        if batch is not None:
            batch = boolean("batch", batch)
        callback("progress", progress)
        if batch is None:
            batch = self.granules is None
        elif batch and self.granules is not None:
            raise ValueError("batch: the batch path takes no granules (rounding to whole units "
                             "runs in Python, one iteration at a time); use batch=False")
        if not batch:
            for record in self:
                if progress is not None:
                    progress(record.iteration + 1)
            return self.history
        return self._run_batch(progress)

    def _run_batch(self, progress) -> History:
        scenario = self.scenario
        K = scenario.n_workers
        self.history = history = History(self.scheme, self.iterations, K, self.record)
        draw = self._inputs()
        compute_profile = scenario.compute_per_parameter
        q = scenario.bits_per_parameter
        chunk = max(1, CHUNK_ELEMENTS // K)
        options: dict[str, Any] = dict(scheme=self.scheme, tol=self.tol, n_threads=self.n_threads,
                       backend=self.backend)
        if self.scheme == "joint":
            options["method"] = self.method
        for start in range(0, self.iterations, chunk):
            n = min(chunk, self.iterations - start)
            gain, known, present, factor = draw(n)
            rows = present.any(axis=1)
            loads = np.zeros((n, K), dtype=np.int64)
            bandwidth = np.zeros((n, K))
            planned = np.full(n, np.nan)
            relaxed = np.full(n, np.nan)
            down, up = scenario.efficiencies(gain)
            if rows.any():
                beta = (transfer_cost(q, down, up) if known is gain
                        else scenario.beta(known))
                compute = np.broadcast_to(compute_profile, (n, K))
                # Group ids of the present workers, renumbered 0..N'-1 per iteration in
                # increasing id order (as the per-iteration path numbers them).
                local = None if self.groups is None else self._local_groups(present)
                if present.all():
                    result = allocate_batch(
                        np.ascontiguousarray(beta), np.ascontiguousarray(compute),
                        scenario.params, scenario.bandwidth, groups=local, **options)
                    if local is None:
                        loads[:] = result.loads
                    else:
                        loads[:] = result.loads[result.group_offsets[:-1, None] + local]
                    bandwidth[:] = result.bandwidth
                else:
                    counts = present[rows].sum(axis=1)
                    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
                    result = allocate_batch(
                        beta[present], compute[present], scenario.params, scenario.bandwidth,
                        offsets=offsets, groups=None if local is None else local[present],
                        **options)
                    if local is None:
                        loads[present] = result.loads
                    else:
                        instance = np.repeat(np.arange(counts.size), counts)
                        loads[present] = result.loads[result.group_offsets[instance]
                                                      + local[present]]
                    bandwidth[present] = result.bandwidth
                planned[rows] = result.latency
                relaxed[rows] = result.relaxed_latency
            download, compute_time, upload = phase_latencies(
                loads, bandwidth, down, up, compute_profile * factor, q)
            latency = np.where(rows, realised_latency(loads, download, compute_time, upload),
                               np.nan)
            history._store(slice(start, start + n), latency=latency, planned=planned,
                           relaxed=relaxed, present=present, loads=loads, bandwidth=bandwidth,
                           download=download, compute=compute_time, upload=upload)
            if progress is not None:
                progress(start + n)
        return history

    def _local_groups(self, present: np.ndarray) -> np.ndarray:
        """Per iteration (row of ``present``), each worker's group id among the groups with a
        present member, numbered 0..N'-1 in increasing id order; shape (n, K), int64 (entries
        of absent workers are meaningless)."""
        n = present.shape[0]
        rows, workers = np.nonzero(present)
        occupied = np.zeros((n, self.n_groups), dtype=bool)
        assert self.groups is not None
        occupied[rows, self.groups[workers]] = True
        rank = np.cumsum(occupied, axis=1, dtype=np.int64) - 1
        return np.ascontiguousarray(rank[:, self.groups])

    def __repr__(self) -> str:
        return (f"Scheduler(scheme={self.scheme!r}, iterations={self.iterations}, "
                f"csi={self.csi!r}, availability={self.availability:g}, "
                f"jitter={self.jitter:g}, scenario={self.scenario!r})")


class SchedulerRun:
    """The per-iteration path of a :class:`Scheduler` in progress (``iter(scheduler)``).

    Each ``next()`` runs one iteration and returns its :class:`IterationRecord`. The object holds
    every state the next iteration depends on (the random streams, the channel memory, the
    previous allocation for warm starts, the history so far). :meth:`state_dict` exports that
    state as plain data (NumPy arrays, numbers, strings, lists, dicts) between iterations, and
    :meth:`from_state` rebuilds the run from it, checked, to go on exactly where it stopped: this
    is how training checkpoints the scheduler without pickling code. (``pickle`` of the object
    works as well, for your own processes; never unpickle data you did not write.)

    Attributes
    ----------
    scheduler : Scheduler
    iteration : int
        Iterations run so far.
    """

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        scheduler.history = History(scheduler.scheme, scheduler.iterations,
                                    scheduler.scenario.n_workers, scheduler.record)
        self.draw = scheduler._inputs()
        self.iteration = 0
        self.previous: Allocation | None = None
        self.previous_present: np.ndarray | None = None

    @property
    def history(self) -> History:
        return self.scheduler.history

    def __iter__(self) -> SchedulerRun:
        return self

    def __next__(self) -> IterationRecord:
        scheduler = self.scheduler
        if self.iteration >= scheduler.iterations:
            raise StopIteration
        t = self.iteration
        self.iteration = t + 1
        scenario = scheduler.scenario
        history = scheduler.history
        K = scenario.n_workers
        gain, known, present, factor = (a[0] for a in self.draw(1))
        index = np.flatnonzero(present)
        loads = np.zeros(K, dtype=np.int64)
        bandwidth = np.zeros(K)
        granules = scheduler.granules
        unit_counts = (None if granules is None else
                       np.zeros((scheduler.n_groups, granules.sizes.size), dtype=np.int64))
        if index.size == 0:
            zeros = readonly(np.zeros(K))
            history._store(slice(t, t + 1), latency=np.nan, planned=np.nan, relaxed=np.nan,
                           present=present, loads=loads, bandwidth=bandwidth,
                           download=zeros, compute=zeros, upload=zeros)
            self.previous = None
            return IterationRecord(t, None, readonly(present), readonly(loads),
                                   readonly(bandwidth), zeros, zeros, zeros, float("nan"),
                                   float("nan"), readonly(gain), readonly(known),
                                   None if unit_counts is None else readonly(unit_counts))
        # Groups of the present workers, renumbered 0..N'-1 in increasing id order.
        if scheduler.groups is None:
            present_groups, member_group = index, None
        else:
            present_groups, member_group = np.unique(scheduler.groups[index],
                                                     return_inverse=True)
        system = scenario.system(known, workers=index)
        if member_group is not None:
            system = system.replace(groups=member_group)
        kwargs = scheduler._allocate_options()
        if (scheduler.warm_start and scheduler.scheme == "joint" and self.previous is not None
                and self.previous_present is not None
                and np.array_equal(present, self.previous_present)):
            kwargs["previous"] = self.previous
        allocation = allocate(system, scheduler.scheme, backend=scheduler.backend,
                              tol=scheduler.tol, **kwargs)
        self.previous, self.previous_present = allocation, present
        if granules is not None:
            allocation, counts = round_to_granules(system, allocation, granules,
                                                   backend=scheduler.backend)
            assert unit_counts is not None  # made with the granules
            unit_counts[present_groups] = counts
        worker_loads = (allocation.loads if member_group is None
                        else allocation.loads[member_group])
        loads[index] = worker_loads
        bandwidth[index] = allocation.bandwidth
        down, up = scenario.efficiencies(gain)
        realised_compute = scenario.compute_per_parameter * factor
        download, compute, upload = phase_latencies(
            loads, bandwidth, down, up, realised_compute, scenario.bits_per_parameter)
        if scheduler.csi == "perfect" and scheduler.jitter == 0:
            latency = allocation.latency  # the channel and compute the plan used are the truth
        else:
            latency = float(realised_latency(loads, download, compute, upload))
        history._store(slice(t, t + 1), latency=latency, planned=allocation.latency,
                       relaxed=allocation.relaxed_latency, present=present, loads=loads,
                       bandwidth=bandwidth, download=download, compute=compute, upload=upload)
        for array in (present, loads, bandwidth, download, compute, upload, gain, known):
            readonly(array)
        return IterationRecord(t, allocation, present, loads, bandwidth, download, compute,
                               upload, float(latency), float(allocation.latency), gain, known,
                               None if unit_counts is None else readonly(unit_counts))

    def state_dict(self) -> dict:
        """The state of the run between iterations as plain data: NumPy arrays, Python ints,
        floats, bools, strings, None, lists and dicts (nothing that unpickles into code).

        Keys: ``format`` and ``version``; ``settings`` (:meth:`Scheduler.settings`);
        ``iteration``; ``streams`` (each random stream's ``bit_generator.state``); ``scattered``
        (the scattered fading component of correlated fading, (K, 2) real and imaginary parts, or
        None); ``past`` (the true gains the delayed channel knowledge still has to deliver);
        ``previous`` and ``previous_present`` (the last allocation as a dict of its fields, for
        the warm start); ``history`` (the completed rows of every :class:`History` array).
        :meth:`from_state` takes it back.
        """
        scheduler, draw = self.scheduler, self.draw
        history = scheduler.history
        n = history.completed
        scattered = draw.channel._scattered
        previous = self.previous
        return {
            "format": RUN_STATE_FORMAT, "version": RUN_STATE_VERSION,
            "settings": scheduler.settings(),
            "iteration": int(self.iteration),
            "streams": {name: generator_state(rng) for name, rng in draw.streams.items()},
            "scattered": (None if scattered is None
                          else np.stack([scattered.real, scattered.imag], axis=-1)),
            "past": [np.array(gain, dtype=np.float64) for gain in draw.past],
            "previous": None if previous is None else {
                name: _plain_field(getattr(previous, name)) for name in ALLOCATION_FIELDS},
            "previous_present": (None if self.previous_present is None
                                 else np.array(self.previous_present)),
            "history": {name: np.array(getattr(history, name)[:n])
                        for name, _ in history_fields(scheduler.record)},
        }

    @classmethod
    def from_state(cls, scheduler: Scheduler, state) -> SchedulerRun:
        """Rebuild a run of ``scheduler`` from :meth:`state_dict`'s output, to go on exactly where
        it stopped; ``scheduler.history`` becomes the run's history.

        Everything is checked before anything is used: the format, the settings (they must
        equal ``scheduler.settings()``; ``scheduler.iterations`` may differ, as long as it
        covers the iterations already run), and every value's type, shape and range. Arrays may
        be NumPy arrays or anything ``numpy.asarray`` reads (CPU tensors). Raises a
        ``ValueError`` starting with ``state:`` (``scheduler:`` for a bad scheduler) otherwise,
        leaving ``scheduler`` untouched.
        """
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"scheduler: must be a paba.Scheduler, got {describe(scheduler)}")
        parts = _read_run_state(scheduler, state)
        run = cls.__new__(cls)
        run.scheduler = scheduler
        draw = Draws(scheduler)
        draw.streams = parts["streams"]
        draw.channel._rng = draw.streams["channel"]
        draw.channel._scattered = parts["scattered"]
        draw.channel.iteration = parts["iteration"]
        draw.past.extend(parts["past"])
        draw.start = parts["iteration"]
        run.draw = draw
        run.iteration = parts["iteration"]
        run.previous = parts["previous"]
        run.previous_present = parts["previous_present"]
        scheduler.history = parts["history"]
        return run

    def __repr__(self) -> str:
        return f"SchedulerRun(iteration={self.iteration}, scheduler={self.scheduler!r})"


#: Format name and version of :meth:`SchedulerRun.state_dict`.
RUN_STATE_FORMAT = "paba.SchedulerRun"


RUN_STATE_VERSION = 1


def _state_array(where: str, value, dtype, shape: tuple) -> np.ndarray:
    """A writeable copy of ``value`` as an array of exactly ``dtype`` and ``shape``."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        raise ValueError(f"state: {where} must be an array, got {describe(value)}")
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything numpy cannot read is simply not an array
        raise ValueError(f"state: {where} must be an array, got {describe(value)}") from None
    if array.dtype != np.dtype(dtype) or array.shape != shape:
        raise ValueError(f"state: {where} must be a {np.dtype(dtype)} array of shape {shape}, "
                         f"got {array.dtype} of shape {array.shape}")
    return np.array(array, copy=True)


def _state_float(where: str, value) -> float:
    if not isinstance(value, float):
        raise ValueError(f"state: {where} must be a float, got {describe(value)}")
    return value


def _read_run_state(scheduler: Scheduler, state) -> dict:
    """The checked parts of a :meth:`SchedulerRun.state_dict` for ``scheduler``."""
    keys = {"format", "version", "settings", "iteration", "streams", "scattered", "past",
            "previous", "previous_present", "history"}
    if not isinstance(state, dict) or not exactly(state.get("format"), RUN_STATE_FORMAT):
        raise ValueError("state: not the state of a paba.SchedulerRun")
    if not exactly(state.get("version"), RUN_STATE_VERSION):
        raise ValueError(f"state: version {describe(state.get('version'))} of the run state; "
                         f"this paba reads version {RUN_STATE_VERSION}")
    if set(state) != keys:
        raise ValueError(f"state: must have the keys {sorted(keys)}, got "
                         f"{describe(sorted(map(str, state)), 200)}")
    differences = plain_differences(state["settings"], scheduler.settings())
    if differences:
        raise ValueError("state: written by a scheduler with other settings ("
                         + "; ".join(differences) + ")")
    scenario = scheduler.scenario
    K = scenario.n_workers
    n = plain_int("iteration", state["iteration"], 0, scheduler.iterations)
    streams = state["streams"]
    if not isinstance(streams, dict) or set(streams) != set(STREAMS):
        raise ValueError(f"state: streams must hold the generators {list(STREAMS)}")
    streams = {name: generator_from_state(f"streams.{name}", streams[name]) for name in STREAMS}

    correlated = scenario.fading != "none" and scenario.fading_correlation > 0
    scattered = state["scattered"]
    if correlated and n > 0:
        pair = _state_array("scattered", scattered, np.float64, (K, 2))
        if not np.all(np.isfinite(pair)):
            raise ValueError("state: scattered must be finite")
        scattered = pair[:, 0] + 1j * pair[:, 1]
    elif scattered is not None:
        raise ValueError("state: scattered must be None for this scenario at this iteration")

    past = state["past"]
    expected = min(n, scheduler.delay) if scheduler.csi == "delayed" else 0
    if not isinstance(past, list) or len(past) != expected:
        raise ValueError(f"state: past must be a list of {expected} gain arrays")
    past = [_state_array(f"past[{i}]", gain, np.float64, (K,)) for i, gain in enumerate(past)]
    if any(not (np.all(np.isfinite(gain)) and np.all(gain > 0)) for gain in past):
        raise ValueError("state: past gains must be finite and positive")

    present = state["previous_present"]
    if present is not None:
        present = readonly(_state_array("previous_present", present, bool, (K,)))
    previous = state["previous"]
    if previous is not None:
        if present is None or not present.any():
            raise ValueError("state: previous needs the previous_present workers")
        previous = _read_previous(scheduler, previous, present)

    rows = {}
    fields = history_fields(scheduler.record)
    history_state = state["history"]
    if not isinstance(history_state, dict) or set(history_state) != {f for f, _ in fields}:
        raise ValueError(f"state: history must hold the arrays {[f for f, _ in fields]} "
                         f"(record={scheduler.record!r})")
    for name, dtype in fields:
        shape = (n,) if name in ("latency", "planned_latency", "relaxed_latency", "active",
                                 "present_count") else (n, K)
        rows[name] = _state_array(f"history.{name}", history_state[name], dtype, shape)
    for name in ("active", "present_count"):
        if np.any(rows[name] < 0) or np.any(rows[name] > K):
            raise ValueError(f"state: history.{name} must lie in [0, {K}]")
    history = History(scheduler.scheme, scheduler.iterations, K, scheduler.record)
    for name, _ in fields:
        getattr(history, name)[:n] = rows[name]
    history.completed = n
    return {"iteration": n, "streams": streams, "scattered": scattered, "past": past,
            "previous": previous, "previous_present": present, "history": history}


def _plain_field(value: Any) -> Any:
    """An Allocation field as plain data for a run state: arrays copied, NumPy scalars as
    Python numbers, strings and None as they are."""
    if isinstance(value, np.ndarray):
        return np.array(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def _read_previous(scheduler: Scheduler, value, present: np.ndarray) -> Allocation:
    """The warm-start allocation of a run state, for the workers ``present``."""
    keys = set(ALLOCATION_FIELDS)
    if not isinstance(value, dict) or set(value) != keys:
        raise ValueError(f"state: previous must be a dict with the keys {sorted(keys)}")
    workers = int(present.sum())
    groups = (workers if scheduler.groups is None
              else int(np.unique(scheduler.groups[present]).size))
    loads = _state_array("previous.loads", value["loads"], np.int64, (groups,))
    if np.any(loads < 0) or int(loads.sum()) != scheduler.scenario.params:
        raise ValueError("state: previous.loads must be non-negative and sum to params")
    arrays = {"loads": readonly(loads)}
    for name, size in (("bandwidth", workers), ("relaxed_loads", groups),
                       ("worker_latency", workers)):
        array = _state_array(f"previous.{name}", value[name], np.float64, (size,))
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"state: previous.{name} must be finite and non-negative")
        arrays[name] = readonly(array)
    if not exactly(value["scheme"], scheduler.scheme) \
            or not any(exactly(value["backend"], name) for name in _backend.BACKENDS) \
            or not (value["method"] is None
                    or any(exactly(value["method"], name) for name in METHODS[1:])) \
            or not isinstance(value["converged"], bool):
        raise ValueError("state: previous has a foreign scheme, backend, method or flag")
    return Allocation(
        loads=arrays["loads"], bandwidth=arrays["bandwidth"],
        latency=_state_float("previous.latency", value["latency"]),
        relaxed_latency=_state_float("previous.relaxed_latency", value["relaxed_latency"]),
        relaxed_loads=arrays["relaxed_loads"], worker_latency=arrays["worker_latency"],
        scheme=value["scheme"], backend=value["backend"],
        iterations=plain_int("previous.iterations", value["iterations"], 0, 2**62),
        converged=value["converged"], method=value["method"])
