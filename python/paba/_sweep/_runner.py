"""Running a sweep on any ``concurrent.futures.Executor`` (docs/sweeps.md section 3).

A task is a chunk of (cell, seed) units: :func:`run_task` builds each unit's Scenario, runs every
scheme over it with the Scheduler's batch path (``record="summary"``, ``n_threads`` native
threads, one by default) and returns the units' rows. Its memory is that of one run at a time:
the batch path's chunks of about 10^6 worker-iterations plus 40 bytes per iteration of the
summary records, whatever the chunk's length; the rows it returns are a few hundred bytes per
scheme. Tasks are submitted a bounded number at a time, so the driver holds a bounded number of
futures whatever the sweep's size.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from .._records import reduction
from .._scenario import Scenario
from .._scheduler import Scheduler
from .._validation import describe

#: Tasks in flight at once, per worker of the executor (at least 64 in all).
IN_FLIGHT_PER_WORKER = 4

#: Default chunking: tasks of about this many seconds (a Dask task costs milliseconds of
#: overhead), but at least this many tasks per worker where there are units enough (so that the
#: workers finish together).
TASK_SECONDS = 0.25
TASKS_PER_WORKER = 4

#: The default chunking's estimate of a unit's seconds: this much per worker, iteration and
#: scheme (the batch path's order of magnitude on one core), plus a fixed cost per run.
SECONDS_PER_WORKER_ITERATION = 5e-7
SECONDS_PER_RUN = 5e-4

#: Per-row statistics a task computes, in the table's order (after the key columns).
STATISTICS = ("mean_latency_s", "median_latency_s", "p95_latency_s", "max_latency_s",
              "reduction_vs_equal", "median_reduction_vs_equal", "iterations",
              "skipped_iterations", "mean_active_workers", "solve_time_s")


class SerialExecutor(cf.Executor):
    """An Executor that runs each task in the calling thread when it is submitted: the serial
    reference the other executors' tables are compared with."""

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(error)
        else:
            future.set_result(result)
        return future


def _reduction(value: float, baseline: float) -> float:
    """paba._records.reduction, NaN for None (a float column of the table)."""
    change = reduction(value, baseline)
    return math.nan if change is None else change


def run_task(task: tuple) -> list[tuple[int, int, list[tuple]]]:
    """Run a chunk of units: ``task = (units, settings, schemes)`` with ``units`` a list of
    (cell index, seed, scenario seed) and ``settings`` a dict of cell index to (scenario
    keyword arguments, scheduler keyword arguments). Returns (cell, seed, rows) per unit, one
    row per scheme: the values of :data:`STATISTICS`."""
    units, settings, schemes = task
    out = []
    for cell, seed, scenario_seed in units:
        scenario_options, scheduler_options = settings[cell]
        scenario = Scenario(seed=scenario_seed, **scenario_options)
        summaries = {}
        for scheme in schemes:
            scheduler = Scheduler(scenario, scheme, **scheduler_options)
            started = time.perf_counter()
            history = scheduler.run(batch=True)
            elapsed = time.perf_counter() - started
            summaries[scheme] = (history.summary(), elapsed)
        equal = summaries["equal"][0]
        rows = []
        for scheme in schemes:
            s, elapsed = summaries[scheme]
            rows.append((s["mean"], s["median"], s["p95"], s["max"],
                         _reduction(s["mean"], equal["mean"]),
                         _reduction(s["median"], equal["median"]),
                         s["iterations"], s["skipped"], s["mean_active"], elapsed))
        out.append((cell, seed, rows))
    return out


def worker_count(executor) -> int:
    """How many tasks the executor runs at once, where it says (a process pool's max_workers,
    a Dask client's threads); else the number of cores."""
    if isinstance(executor, SerialExecutor):
        return 1
    count = getattr(executor, "_max_workers", None)  # ProcessPoolExecutor, ThreadPoolExecutor
    client = getattr(executor, "_client", None)      # distributed's ClientExecutor
    if count is None and client is not None:
        try:
            count = sum(client.nthreads().values())
        except Exception:
            count = None
    return max(1, int(count or os.cpu_count() or 1))


def default_chunk_size(sweep, units: list, workers: int) -> int:
    """Units per task: enough for tasks of about :data:`TASK_SECONDS` by a rough estimate of the
    work (workers x iterations x schemes), but no more than leaves :data:`TASKS_PER_WORKER`
    tasks per worker; at least one."""
    if not units:
        return 1
    cost: dict = {}
    for unit in units:
        if unit.cell not in cost:
            work = sweep.value(unit.cell, "n_workers") * sweep.value(unit.cell, "iterations")
            cost[unit.cell] = len(sweep.schemes) * (SECONDS_PER_RUN
                                                    + SECONDS_PER_WORKER_ITERATION * work)
    per_unit = sum(cost[unit.cell] for unit in units) / len(units)
    by_time = math.ceil(TASK_SECONDS / per_unit)
    by_balance = math.ceil(len(units) / (TASKS_PER_WORKER * workers))
    return max(1, min(by_time, by_balance))


def _process_pool() -> cf.ProcessPoolExecutor:
    """One process per core, started with "spawn": no fork of a driver that may hold threads
    (a progress bar's, a Dask client's)."""
    import multiprocessing

    return cf.ProcessPoolExecutor(max_workers=os.cpu_count() or 1,
                                  mp_context=multiprocessing.get_context("spawn"))


def _progress_bar(progress, total: int, initial: int):
    """A callable taking the number of units done, and a closer."""
    if callable(progress):
        return progress, lambda: None
    enabled = progress if progress is not None else bool(
        getattr(sys.stderr, "isatty", lambda: False)())
    if not enabled:
        return (lambda done: None), lambda: None
    try:
        from tqdm import tqdm
    except ImportError:
        if progress:
            raise ValueError("progress: the progress bar needs tqdm "
                             "(pip install 'paba[cluster]')") from None
        return (lambda done: None), lambda: None
    bar = tqdm(total=total, initial=initial, unit="cell", desc="paba sweep", file=sys.stderr,
               dynamic_ncols=True)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return update, bar.close


def execute(sweep, executor=None, *, chunk_size: int | None = None, progress=None,
            done: dict | None = None,
            on_result: Callable[[list], None] | None = None,
            stats: dict | None = None) -> dict:
    """Run the units of ``sweep`` not in ``done`` and return every unit's rows,
    {(cell, seed): rows}. ``on_result`` is called with each task's result as it completes (to
    write it down), in completion order; ``stats`` (a dict) receives the chunk size, the number
    of tasks and of workers."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or
                                   not isinstance(chunk_size, (int, np.integer)) or
                                   chunk_size < 1):
        raise ValueError(f"chunk_size: must be a positive integer, got {describe(chunk_size)}")
    if executor is not None and not isinstance(executor, (str, cf.Executor)):
        raise ValueError(f"executor: must be a concurrent.futures.Executor, 'serial' or "
                         f"'process', got {describe(executor)}")
    if isinstance(executor, str) and executor not in ("serial", "process"):
        raise ValueError(f"executor: must be 'serial' or 'process' (or an Executor), got "
                         f"{executor!r}")
    sweep.check()
    results = dict(done or {})
    todo = [u for u in sweep.units() if (u.cell, u.seed) not in results]
    owned = executor is None or executor == "process"
    if owned and todo:
        executor = _process_pool()
    elif executor == "serial" or (owned and not todo):
        executor = SerialExecutor()
    workers = worker_count(executor)
    size = chunk_size or default_chunk_size(sweep, todo, workers)
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    if stats is not None:
        stats.update(chunk_size=size, tasks=len(chunks), workers=workers)
    settings = {}
    for unit in todo:
        if unit.cell not in settings:
            settings[unit.cell] = sweep.resolved(unit.cell)
    update, close = _progress_bar(progress, len(sweep.units()), len(results))
    # A serial executor runs a task as it is submitted: one at a time, so that each result is
    # written down (on_result: the journal of a resumable sweep) before the next runs, not after
    # a window of tasks (a sweep killed then lost them all).
    in_flight = 1 if isinstance(executor, SerialExecutor) else max(64, IN_FLIGHT_PER_WORKER *
                                                                   workers)
    pending: set = set()
    try:
        queue = iter(chunks)
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < in_flight:
                chunk = next(queue, None)
                if chunk is None:
                    exhausted = True
                    break
                task = ([(u.cell, u.seed, u.scenario_seed) for u in chunk],
                        {u.cell: settings[u.cell] for u in chunk}, sweep.schemes)
                pending.add(executor.submit(run_task, task))
            if not pending:
                break
            finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in finished:
                result = future.result()
                for cell, seed, rows in result:
                    results[(cell, seed)] = rows
                if on_result is not None:
                    on_result(result)
                update(len(results))
    except BaseException:
        for future in pending:
            future.cancel()
        if owned:
            executor.shutdown(wait=False, cancel_futures=True)
            owned = False
        raise
    finally:
        close()
        if owned:
            executor.shutdown(wait=True)
    return results
