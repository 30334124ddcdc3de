"""paba's joint scheme side by side with what a user would otherwise run, measured in one run.

    python bench/compare.py                     # full table, written to docs/benchmarks.md
    python bench/compare.py --quick --out FILE  # small sizes only (the test suite's smoke test)

Measures, for K in {10, 100, 1000, 10^4, 10^5, 10^6} workers of one static cell (bench/peers.py):
the time per solve of the joint scheme by the native exact method and the native nested bisection
(``paba.allocate`` from Python on a prebuilt System, validation included), by the NumPy reference
of each (``backend="reference"``) and by cvxpy with Clarabel (problem construction included), each
over the native exact time of the same run; the NumPy floor ``np.sqrt(beta * compute).sum()``;
the batch throughput of ``paba.allocate_batch`` at K = 100 on 1 and 2 threads; and the peak memory
of a K = 10^6 solve, in a fresh process. Every measurement first checks its answer (see
``checks`` below); the script exits with status 1 if any check fails, and then writes no file.
Progress goes to stderr, the Markdown report to stdout and to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import paba  # noqa: E402
from paba.testing import assert_allocations_close  # noqa: E402
from peers import (  # noqa: E402
    BANDWIDTH, PARAMS, SEED, batch_instances, cvxpy_joint_latency, instance, numpy_floor)

FULL_SIZES = (10, 100, 1000, 10**4, 10**5, 10**6)
QUICK_SIZES = (10, 100, 1000)
LIMIT_S = 60.0          # skip a solve estimated to take longer (reference, cvxpy)
CVXPY_TRY_S = 180.0     # cvxpy is still tried (with a LIMIT_S timeout) up to this estimate
SINGLE_S = 2.0          # a checked call longer than this is the one timed call
CVXPY_RTOL = 1e-4
EXACT_RTOL = 1e-9       # exact against bisection, relaxed latency (issue 3)
BISECTION_RTOL = 1e-8   # native against reference bisection: 10 tol (paba.testing)

COLUMNS = ("exact", "bisection", "reference exact", "reference bisection", "cvxpy")
HEADERS = {"exact": "native exact", "bisection": "native bisection",
           "reference exact": "NumPy reference, exact",
           "reference bisection": "NumPy reference, bisection",
           "cvxpy": "cvxpy + Clarabel"}


class CheckFailed(Exception):
    pass


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- timing ----------------------------------------------------------------------------------

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


def repeat(call, budget: float, minimum: int = 3, maximum: int = 1000):
    """(median seconds, calls) of timed calls, made until they add up to ``budget`` seconds
    (at least ``minimum``, at most ``maximum`` calls), with garbage collection off."""
    times = []
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        total = 0.0
        while len(times) < minimum or (total < budget and len(times) < maximum):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
            total += times[-1]
    finally:
        if enabled:
            gc.enable()
    return statistics.median(times), len(times)


def estimate(times: dict, sizes, K: int, native: dict | None = None):
    """Seconds one solve at K would take, from the two largest smaller sizes timed: their power
    law (at least linear), or the growth of the native counterpart over the same step, whichever
    is larger. None without a smaller size."""
    known = [k for k in sizes if k < K and k in times]
    if not known:
        return None
    k1 = known[-1]
    exponent = 1.0
    if len(known) >= 2:
        k0 = known[-2]
        exponent = max(1.0, math.log(times[k1] / times[k0]) / math.log(k1 / k0))
    guess = times[k1] * (K / k1) ** exponent
    if native and k1 in native and K in native:
        guess = max(guess, times[k1] * native[K] / native[k1])
    return guess


# -- checks ----------------------------------------------------------------------------------

def check(what: str, assertion) -> None:
    """Run an assertion helper (paba.testing), turning its AssertionError into CheckFailed."""
    try:
        assertion()
    except AssertionError as error:
        raise CheckFailed(f"{what}: {error}") from None


def relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def check_same_optimum(what: str, got, expected, rtol: float) -> None:
    """Relaxed latencies within rtol; integer latencies within rtol plus one parameter's time."""
    error = relative(got.relaxed_latency, expected.relaxed_latency)
    check_true(what, error <= rtol, f"relaxed_latency {got.relaxed_latency!r} vs "
               f"{expected.relaxed_latency!r} (relative {error:.2e} > {rtol:g})")
    slack = got.latency / max(int(got.loads[got.loads > 0].min()), 1)
    check_true(what, abs(got.latency - expected.latency) <= rtol * got.latency + slack,
               f"latency {got.latency!r} vs {expected.latency!r}")


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


# -- children: cvxpy (with a timeout) and peak memory (a fresh process) ----------------------

def run_child(args: list[str], timeout: float | None, env=None):
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise CheckFailed(f"child {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cvxpy_child(K: int, expected: float, budget: float) -> None:
    system = instance(K)
    import cvxpy  # noqa: F401  (imported before timing: an import is paid once per process)

    def solve():
        return cvxpy_joint_latency(system)

    start = time.perf_counter()
    latency = solve()
    first = time.perf_counter() - start
    error = relative(latency, expected)
    out = {"latency": latency, "error": error, "first": first}
    if error <= CVXPY_RTOL:  # time only a checked answer
        median, repeats = (first, 1) if first > SINGLE_S else repeat(solve, budget)
        out.update(median=median, repeats=repeats)
    print(json.dumps(out))


def read_status(field: str) -> int:
    """A field of /proc/self/status in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_child(K: int) -> None:
    """Peak RSS growth during one exact solve of K workers, after its check.

    Runs under MALLOC_MMAP_THRESHOLD_=65536 (set by the parent): every allocation of 64 KiB or
    more gets fresh pages and returns them when freed, so the RSS growth is the peak of what the
    solve holds live, not hidden by pages an earlier step freed into the heap.
    """
    paba.allocate(instance(100), "joint", method="exact")  # load every code path first
    system = instance(K)
    native = paba.allocate(system, "joint", method="exact")
    reference = paba.allocate(system, "joint", method="exact", backend="reference")
    assert_allocations_close(native, reference, EXACT_RTOL)
    del native, reference
    gc.collect()
    method = "VmHWM after writing 5 to /proc/self/clear_refs"
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = read_status("VmRSS")
        result = paba.allocate(system, "joint", method="exact")
        peak = read_status("VmHWM")
    except OSError:  # no clear_refs: ru_maxrss, a lower bound if construction peaked higher
        import resource
        method = "ru_maxrss delta (a lower bound)"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = paba.allocate(system, "joint", method="exact")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    inputs = system.beta.nbytes + system.compute.nbytes
    outputs = sum(getattr(result, name).nbytes
                  for name in ("loads", "relaxed_loads", "bandwidth", "worker_latency"))
    print(json.dumps({"K": K, "growth": peak - before, "inputs": inputs, "outputs": outputs,
                      "method": method}))


# -- the measurements ------------------------------------------------------------------------

def measure_joint(sizes, budget: float, rows: dict, failures: list) -> None:
    times = {name: {} for name in COLUMNS}  # seconds by method and K, for the estimates
    state = {"cvxpy_stopped": None}
    for K in sizes:
        row = rows.setdefault(K, {"cells": {}, "repeats": {}})
        try:
            measure_size(K, sizes, budget, times, row, state)
        except CheckFailed as error:
            failures.append(str(error))
            progress(f"CHECK FAILED: {error}")
        cells = row["cells"]
        progress(f"K = {K}: " + ", ".join(
            f"{name} {format_cell(cells.get(name), cells.get('exact'))}" for name in COLUMNS)
            + f", floor {format_seconds(row.get('floor'))}")


def measure_size(K: int, sizes, budget: float, times: dict, row: dict, state: dict) -> None:
    """One row of the joint table; raises CheckFailed at the first wrong answer."""
    cells, repeats = row["cells"], row["repeats"]
    system = instance(K)
    progress(f"K = {K}: ...")

    def record(name, median, n):
        times[name][K] = cells[name] = median
        repeats[name] = n

    def solver(method, backend="native"):
        return lambda: paba.allocate(system, "joint", method=method, backend=backend)

    # The reference exact solve first: every native measurement is checked against it
    # (its own time is recorded below, after the native times its estimate needs).
    ref_exact = None
    est_ref_exact = estimate(times["reference exact"], sizes, K, times["exact"])
    if est_ref_exact is None or est_ref_exact <= LIMIT_S:
        start = time.perf_counter()
        ref_exact = solver("exact", "reference")()
        ref_exact_first = (ref_exact, time.perf_counter() - start)

    def verify_exact(result):
        if ref_exact is not None:
            check(f"K={K} native exact vs reference exact",
                  lambda: assert_allocations_close(result, ref_exact, EXACT_RTOL))

    exact, median, n = timed(solver("exact"), budget, verify_exact)
    record("exact", median, n)
    row["active"] = int(np.count_nonzero(exact.loads))

    # Against the exact optimum (1e-9 relative); against the reference bisection too,
    # below, where that runs.
    bisection, median, n = timed(
        solver("bisection"), budget,
        lambda result: check_same_optimum(f"K={K} native bisection vs exact", result,
                                          exact if ref_exact is None else ref_exact, EXACT_RTOL))
    record("bisection", median, n)

    beta, compute = system.beta, system.compute
    _, row["floor"], repeats["floor"] = timed(
        lambda: numpy_floor(beta, compute), budget,
        lambda value: check_true(f"K={K} floor", math.isfinite(value) and value > 0,
                                 repr(value)))

    if ref_exact is None:
        cells["reference exact"] = ("skipped", est_ref_exact)
    else:
        _, median, n = timed(solver("exact", "reference"), budget, first=ref_exact_first)
        record("reference exact", median, n)

    est = estimate(times["reference bisection"], sizes, K, times["bisection"])
    if est is not None and est > LIMIT_S:
        cells["reference bisection"] = ("skipped", est)
    else:
        _, median, n = timed(
            solver("bisection", "reference"), budget,
            lambda result: check(f"K={K} native bisection vs reference bisection",
                                 lambda: assert_allocations_close(
                                     bisection, result, BISECTION_RTOL, load_slack=1)))
        record("reference bisection", median, n)

    # cvxpy with Clarabel, in a child process (its import excluded, a timeout possible).
    if state["cvxpy_stopped"] is not None:
        cells["cvxpy"] = ("not tried", state["cvxpy_stopped"])
    else:
        est = estimate(times["cvxpy"], sizes, K)
        if est is not None and est > CVXPY_TRY_S:
            cells["cvxpy"] = ("skipped", est)
            state["cvxpy_stopped"] = f"K = {K:,} was skipped"
        else:
            progress(f"K = {K}: cvxpy" + (f" (est. {est:.3g} s)" if est else ""))
            out = run_child(["--child", "cvxpy", "--workers", str(K), "--expect",
                             repr(exact.relaxed_latency), "--budget", str(budget)],
                            timeout=LIMIT_S + 30.0)
            if out is None or out["first"] > LIMIT_S:  # killed, or finished over the limit
                cells["cvxpy"] = ("timeout", None if out is None else out["first"])
                state["cvxpy_stopped"] = f"K = {K:,} took over {LIMIT_S:g} s"
            else:
                check_true(f"K={K} cvxpy vs native exact", out["error"] <= CVXPY_RTOL,
                           f"relaxed latency {out['latency']!r} vs "
                           f"{exact.relaxed_latency!r} (relative {out['error']:.2e})")
                record("cvxpy", out["median"], out["repeats"])
                row["cvxpy_error"] = out["error"]


def measure_batch(K: int, M: int, rounds: int, failures: list) -> dict:
    """Throughput of allocate_batch on 1 and 2 threads: both checked first, then timed in
    alternation (1, 2, 1, 2, ...), so that both see the same load from other processes."""
    beta, compute, params, bandwidth = batch_instances(K, M)
    out = {"K": K, "M": M}

    def solve(threads):
        return paba.allocate_batch(beta, compute, params, bandwidth, n_threads=threads)

    try:
        one, two = solve(1), solve(2)
        check_count = min(M, 100)
        for i in range(check_count):  # the first instances against the reference, one by one
            expected = paba.allocate(paba.System(beta[i], compute[i], params, bandwidth),
                                     "joint", backend="reference")
            check(f"batch instance {i} vs reference",
                  lambda i=i, expected=expected: assert_allocations_close(one[i], expected,
                                                                          EXACT_RTOL))
        for name in ("loads", "relaxed_loads", "bandwidth", "relaxed_latency", "latency"):
            check_true(f"batch 2 threads vs 1 thread ({name})",
                       np.array_equal(getattr(one, name), getattr(two, name)), "differ")
    except CheckFailed as error:
        failures.append(str(error))
        progress(f"CHECK FAILED: {error}")
        return out
    times = {1: [], 2: []}
    meter = OtherLoad()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for threads in (1, 2):
                start = time.perf_counter()
                solve(threads)
                times[threads].append(time.perf_counter() - start)
    finally:
        gc.enable()
    out.update({threads: statistics.median(t) for threads, t in times.items()})
    out.update(rounds=rounds, checked=check_count, others=meter.cores())
    progress(f"batch K = {K}, {M} instances: {M / out[1]:,.0f} instances/s on 1 thread, "
             f"{M / out[2]:,.0f} on 2 (other processes: {format_cores(out['others'])} cores)")
    return out


def measure_memory(K: int, failures: list) -> dict | None:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    try:
        out = run_child(["--child", "memory", "--workers", str(K)], timeout=600, env=env)
    except CheckFailed as error:
        failures.append(str(error))
        progress(f"CHECK FAILED: {error}")
        return None
    progress(f"memory K = {K}: growth {out['growth'] / 2**20:.1f} MiB")
    return out


# -- the report ------------------------------------------------------------------------------

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


def format_cell(cell, exact) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, tuple):
        kind, detail = cell
        if kind == "skipped":
            return f"skipped (est. {detail:.3g} s)"
        if kind == "timeout":
            return (f"> {LIMIT_S:g} s (stopped)" if detail is None
                    else f"{detail:.3g} s, over the {LIMIT_S:g} s limit")
        return f"not tried ({detail})"
    if exact is None or isinstance(exact, tuple) or cell is exact:
        return format_seconds(cell)
    ratio = cell / exact
    return f"{format_seconds(cell)} ({ratio:,.0f}x)" if ratio >= 100 else (
        f"{format_seconds(cell)} ({ratio:.3g}x)")


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
    for name in ("cvxpy", "clarabel"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    return (f"{model} ({os.cpu_count()} logical CPUs"
            + (f", {available} available to this process" if available else "")
            + f"), {platform.system()} {platform.release()}; " + ", ".join(versions))


def verdict(ok) -> str:
    return "not measured" if ok is None else ("PASS" if ok else "FAIL")


def ratio_of(rows, K, name):
    row = rows.get(K)
    if not row:
        return None
    cell, exact = row["cells"].get(name), row["cells"].get("exact")
    if cell is None or exact is None or isinstance(cell, tuple):
        return None
    return cell / exact


def report(args, rows, batch, memory, started, others, wall) -> str:
    lines = ["# Benchmarks", "",
             "Generated by `bench/compare.py`: every figure on this page was measured in one run "
             "of the command below, and every measurement checked its answer first.", "",
             f"- Command: `{args.command}`",
             f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {wall:.0f} s",
             f"- Machine: {machine()}",
             f"- Other processes kept {format_cores(others)} of the {os.cpu_count()} cores busy "
             "on average during the run (all CPUs' busy time in /proc/stat less this "
             "script's and its children's); timings on a shared machine are upper bounds.",
             f"- Instances: `paba.static_cell(K, params={PARAMS:_}, bandwidth={BANDWIDTH:g}, "
             f"seed={SEED})` (one worker per group, alpha = tau = 0, so the exact method "
             "applies); the batch: Rayleigh-faded iterations of "
             f"`paba.Scenario.default(n_workers=K, params={PARAMS:_}, seed={SEED})`.", "",
             "## Joint scheme: time per solve", "",
             "Median seconds per solve; in brackets, that time over the native exact time of "
             "the same K in this run. *Active*: workers with load at the optimum.", ""]
    head = ["K", "active", *(HEADERS[name] for name in COLUMNS),
            "NumPy floor", "exact / floor"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---:"] * len(head)) + "|")
    for K, row in rows.items():
        cells = row["cells"]
        exact = cells.get("exact")
        floor = row.get("floor")
        over = (f"{exact / floor:.2f}" if floor and isinstance(exact, float) else "-")
        lines.append("| " + " | ".join(
            [f"{K:,}", str(row.get("active", "-")),
             *(format_cell(cells.get(name), exact) for name in COLUMNS),
             format_seconds(floor), over]) + " |")
    lines += ["", "*NumPy floor*: `np.sqrt(beta * compute).sum()` on the System's arrays, one "
              "pass that reads the inputs and takes one square root per worker.", ""]

    # Targets (issue 3).
    lines += ["## Targets", "", "| target (issue 3) | measured | result |", "|---|---:|:---:|"]

    def target(text, value, ok, fmt):
        lines.append(f"| {text} | {fmt(value) if value is not None else '-'} | "
                     f"{verdict(None if value is None else ok(value))} |")

    times_x = lambda v: f"{v:,.1f}x"  # noqa: E731
    target("K = 1000: native exact at least 10x faster than the NumPy reference of the exact "
           "method", ratio_of(rows, 1000, "reference exact"), lambda v: v >= 10, times_x)
    target("K = 1000: at least 100x faster than the NumPy reference of the nested bisection",
           ratio_of(rows, 1000, "reference bisection"), lambda v: v >= 100, times_x)
    target("K = 1000: at least 5000x faster than cvxpy + Clarabel",
           ratio_of(rows, 1000, "cvxpy"), lambda v: v >= 5000, times_x)
    floor_ratio = None
    big = rows.get(10**6)
    if big and isinstance(big["cells"].get("exact"), float) and big.get("floor"):
        floor_ratio = big["cells"]["exact"] / big["floor"]
    target("K = 10^6: native exact within 5x of the NumPy floor", floor_ratio,
           lambda v: v <= 5, lambda v: f"{v:.2f}x the floor")
    per_s = lambda v: f"{v:,.0f} instances/s"  # noqa: E731
    one = batch["M"] / batch[1] if 1 in batch else None
    two = batch["M"] / batch[2] if 2 in batch else None
    target(f"Batch, K = {batch['K']}, 1 thread: at least 100,000 instances/s", one,
           lambda v: v >= 1e5, per_s)
    target("Batch, 2 threads: at least 1.7x of 1 thread",
           two / one if one and two else None, lambda v: v >= 1.7, lambda v: f"{v:.2f}x")
    mem_ratio = None
    if memory:
        mem_ratio = memory["growth"] / (memory["inputs"] + memory["outputs"])
    target(f"Peak memory of a K = {memory['K'] if memory else 10**6:,} solve at most 3x the "
           "bytes of its inputs and outputs", mem_ratio, lambda v: v <= 3,
           lambda v: f"{v:.2f}x")
    if args.quick:
        lines += ["", "(`--quick`: small sizes only, so the K = 10^6 target and possibly "
                  "others are not measured.)"]

    # Batch.
    lines += ["", "## Batch throughput", "",
              f"`paba.allocate_batch(beta, compute, params, bandwidth, n_threads=t)` on "
              f"{batch['M']:,} instances of K = {batch['K']} workers (beta and compute: "
              f"C-contiguous float64 arrays of shape ({batch['M']}, {batch['K']})), joint scheme, "
              "method auto (exact); median time per call.", "",
              "| threads | time per batch | instances / s | speed-up |", "|---:|---:|---:|---:|"]
    for threads in (1, 2):
        if threads in batch:
            lines.append(f"| {threads} | {format_seconds(batch[threads])} | "
                         f"{batch['M'] / batch[threads]:,.0f} | "
                         f"{batch[1] / batch[threads]:.2f}x |")
    if "others" in batch:
        lines += ["", f"The two were timed in alternation, {batch['rounds']} calls each; "
                  f"meanwhile other processes kept {format_cores(batch['others'])} of the "
                  f"{os.cpu_count()} cores busy on average. The first {batch['checked']} "
                  "instances were checked against the reference, and the 2-thread result is "
                  "bit-identical to the 1-thread one."]

    # Memory.
    lines += ["", "## Peak memory", ""]
    if memory:
        mib = 2**20
        total = memory["inputs"] + memory["outputs"]
        lines += [
            f"One exact solve of K = {memory['K']:,} workers (`paba.allocate(system, \"joint\", "
            "method=\"exact\")` on a prebuilt System) in a fresh Python process, after a "
            "checked solve of the same instance.", "",
            "| inputs (beta, compute) | outputs (loads, relaxed_loads, bandwidth, "
            "worker_latency) | inputs + outputs | peak RSS growth during the solve | "
            "growth / (inputs + outputs) | (inputs + growth) / (inputs + outputs) |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {memory['inputs'] / mib:.1f} MiB | {memory['outputs'] / mib:.1f} MiB | "
            f"{total / mib:.1f} MiB | {memory['growth'] / mib:.1f} MiB | "
            f"{memory['growth'] / total:.2f}x | "
            f"{(memory['inputs'] + memory['growth']) / total:.2f}x |", "",
            f"Measured as {memory['method']}, just before the solve, then VmRSS before and the "
            "peak after: the growth counts everything the solve touched and held at its peak "
            "(the outputs, the kernel's scratch, temporaries of the Python layer), not the "
            "inputs, which exist before the call. The process runs with "
            "`MALLOC_MMAP_THRESHOLD_=65536`, so every allocation of 64 KiB or more takes fresh "
            "pages from the kernel and returns them when freed: no earlier step's freed heap "
            "can hide an allocation of the solve. The last column adds the inputs, for the "
            "whole footprint of a solve."]
    else:
        lines.append("Not measured (the child process failed).")

    # Method.
    lines += ["", "## How it is measured", "",
              "- Time: `time.perf_counter` around each call, garbage collection off, **median** "
              "of n calls after one untimed call whose answer is checked; calls are repeated "
              f"until they add up to {args.budget:g} s, at least 3 and at most 1000 of them. "
              f"A first call over {SINGLE_S:g} s is the only call, and its time is the figure "
              "(n = 1).",
              "- Native: `paba.allocate(system, \"joint\", method=...)` from Python on a "
              "prebuilt `paba.System`, so the time includes the Python layer's validation and "
              "result objects. Reference: the same with `backend=\"reference\"`.",
              "- cvxpy: `bench/peers.py` `cvxpy_joint_latency` (construction, canonicalisation "
              "and the Clarabel solve, all paid on every solve), in a child process per K with "
              "cvxpy imported before timing. Its formulation, T* = L / max sum_k B_k / (beta_k "
              "+ c_k B_k) subject to sum_k B_k = B, is written in bandwidth shares: in Hz, "
              "Clarabel's answer misses the optimum by more than 1e-4 from K = 1000 on.",
              f"- Skips: a reference solve estimated over {LIMIT_S:g} s is skipped (estimate: "
              "the power law of the two smaller sizes, at least linear, or the native "
              "counterpart's growth over the same step, whichever is larger). cvxpy is tried "
              f"with a {LIMIT_S:g} s limit up to an estimate of {CVXPY_TRY_S:g} s, and not "
              "at larger K once one size has failed, timed out or been skipped.",
              "- Checks, before timing: native exact against the reference exact solve "
              f"(`paba.testing.assert_allocations_close`, rtol {EXACT_RTOL:g}, equal integer "
              "loads); native nested bisection against the exact optimum (relaxed latency "
              f"within {EXACT_RTOL:g} relative) and against the reference bisection where "
              f"that runs (rtol {BISECTION_RTOL:g}, loads one parameter apart); cvxpy's T* "
              f"against the native exact relaxed latency (rtol {CVXPY_RTOL:g}); the batch's "
              "first instances against the reference one by one, and 2 threads bit-identical "
              "to 1 thread; the memory child's solve against the reference. Any failure: exit "
              "status 1, no file written.",
              "- cvxpy's T* relative to the native exact relaxed latency: " + ", ".join(
                  f"{row['cvxpy_error']:.1e} at K = {K:,}" for K, row in rows.items()
                  if "cvxpy_error" in row) + ".",
              "", "Repeats n per cell:", "",
              "| K | " + " | ".join(HEADERS[name] for name in COLUMNS) + " | NumPy floor |",
              "|" + "|".join(["---:"] * (len(COLUMNS) + 2)) + "|"]
    for K, row in rows.items():
        reps = row["repeats"]
        lines.append(f"| {K:,} | " + " | ".join(
            str(reps.get(name, "-")) for name in (*COLUMNS, "floor")) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes {QUICK_SIZES} only, short timing budgets, small batch and "
                             "memory instances (a smoke test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="Markdown file to write (default: docs/benchmarks.md for a full "
                             "run, none for --quick)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of repeats per cell (default 0.5, --quick 0.02)")
    parser.add_argument("--child", choices=("cvxpy", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 0.02 if args.quick else 0.5
    if args.child == "cvxpy":
        cvxpy_child(args.workers, args.expect, args.budget)
        return 0
    if args.child == "memory":
        memory_child(args.workers)
        return 0

    args.command = "python bench/compare.py" + "".join(
        f" {a}" for a in (sys.argv[1:] if argv is None else argv))
    out = args.out if args.out is not None else (
        None if args.quick else HERE.parent / "docs" / "benchmarks.md")
    started = datetime.datetime.now(datetime.timezone.utc)
    meter = OtherLoad()
    t0 = time.perf_counter()
    failures: list[str] = []
    rows: dict = {}
    measure_joint(QUICK_SIZES if args.quick else FULL_SIZES, args.budget, rows, failures)
    batch = measure_batch(100, 1000 if args.quick else 20_000, 3 if args.quick else 7,
                          failures)
    memory = measure_memory(10**5 if args.quick else 10**6, failures)
    text = report(args, rows, batch, memory, started, meter.cores(),
                  time.perf_counter() - t0)
    print(text)
    if failures:
        progress(f"{len(failures)} check(s) failed; no file written:\n  "
                 + "\n  ".join(failures))
        return 1
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        progress(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
