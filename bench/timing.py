"""What bench/compare.py and bench/grid.py share: timing in alternating blocks, the checks every
answer passes before it is timed, the load of other processes, the machine, and the formats of
their reports."""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import paba

SINGLE_S = 2.0          # a checked call longer than this is the one timed call
MAX_REPEATS = 3000      # timed calls per cell at most
BLOCK_S = 2e-3          # calls timed in alternation run in blocks of about this many seconds


class CheckFailed(Exception):
    pass


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def timed(call, budget: float, verify=None, first=None):
    """Median seconds per call, after one untimed call whose answer ``verify`` checks.

    ``first``: (result, seconds) of that call when the caller already made it. Returns
    (result, median, repeats); a first call over SINGLE_S is the only one, and its time is the
    figure (repeats = 1).
    """
    if first is None:
        start = time.perf_counter()
        result = call()
        first = (result, time.perf_counter() - start)
    result, seconds = first
    if verify is not None:
        verify(result)
    if seconds > SINGLE_S:
        return result, seconds, 1
    return (result, *repeat(call, budget))


def repeat(call, budget: float, minimum: int = 3, maximum: int = MAX_REPEATS, setup=None):
    """(median seconds, calls) of timed calls, made until they add up to ``budget`` seconds
    (at least ``minimum``, at most ``maximum`` calls), with garbage collection off. With
    ``setup``, each call is ``call(*setup())``, the setup outside the timed region."""
    times = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        total = 0.0
        while len(times) < minimum or (total < budget and len(times) < maximum):
            args = () if setup is None else setup()
            start = time.perf_counter()
            call(*args)
            times.append(time.perf_counter() - start)
            total += times[-1]
            del args
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times), len(times)


def alternate(calls: dict, budget: float, setup=None, minimum: int = 3,
              maximum: int = MAX_REPEATS) -> dict:
    """{name: (median seconds, calls) of calls timed in alternating blocks: each round runs a
    block of each call, back to back, so that all see the same load from other processes; a
    block is as many calls as take about BLOCK_S seconds (from one calibration call each), each
    timed on its own. Rounds until each call has had about ``budget`` seconds (at least
    ``minimum`` rounds, at most ``maximum`` calls of each). With ``setup``, each call is
    ``call(*setup())``, a fresh setup per call, outside the timed region. Garbage collection is
    off.

    Blocks, not single calls: alternated one call at a time, a short call starts with another
    call's data and branch history in its caches and predictors (at K = 1000 that made paba's
    end-to-end call 5 to 10% slower after numpy_basic_joint, and the general solve twice as
    slow after numpy_general_joint), so the figure would depend on what else was timed; a block
    measures each call as a loop of it runs, the way timeit does."""
    blocks = {}
    for name, call in calls.items():
        args = () if setup is None else setup()
        start = time.perf_counter()
        call(*args)
        seconds = time.perf_counter() - start
        del args
        blocks[name] = max(1, min(maximum, int(BLOCK_S / max(seconds, 1e-9))))
    times = {name: [] for name in calls}
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        total, rounds = 0.0, 0
        while rounds < minimum or (total < budget * len(calls)
                                   and all(len(t) < maximum for t in times.values())):
            for name, call in calls.items():
                for _ in range(blocks[name]):
                    args = () if setup is None else setup()
                    start = time.perf_counter()
                    call(*args)
                    times[name].append(time.perf_counter() - start)
                    total += times[name][-1]
                    del args
            rounds += 1
    finally:
        if enabled:
            gc.enable()
    return {name: (statistics.median(t), len(t)) for name, t in times.items()}


def check(what: str, assertion) -> None:
    """Run an assertion helper (paba.testing), turning its AssertionError into CheckFailed."""
    try:
        assertion()
    except AssertionError as error:
        raise CheckFailed(f"{what}: {error}") from None


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def check_true(what: str, condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(f"{what}: {message}")


class OtherLoad:
    """CPU cores that other processes kept busy on average since construction: all CPUs' busy
    time (/proc/stat) less this process's and its waited-for children's, over the wall time.
    None where /proc/stat is unreadable."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # without guest time
        own = os.times()
        return busy, own.user + own.system + own.children_user + own.children_system, \
            time.perf_counter()

    def cores(self):
        end = self._sample()
        if self.start is None or end is None or end[2] <= self.start[2]:
            return None
        busy, own, wall = (b - a for a, b in zip(self.start, end, strict=True))
        return max(0.0, (busy - own) / wall)


def format_seconds(seconds) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:.0f} {unit}"
    return "-"


def format_cores(cores) -> str:
    return "?" if cores is None else f"{cores:.2f}"


def format_ratio(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}",
                f"paba {paba.__version__}"]
    for name in ("cvxpy", "clarabel"):  # from the metadata: importing cvxpy takes seconds
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    return (f"{model} ({os.cpu_count()} logical CPUs"
            + (f", {available} available to this process" if available else "")
            + f"), {platform.system()} {platform.release()}; " + ", ".join(versions))


def verdict(ok) -> str:
    return "not measured" if ok is None else ("PASS" if ok else "MISS")
