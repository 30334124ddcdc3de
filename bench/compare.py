"""paba's joint scheme side by side with what a user would otherwise run, measured in one run.

    python bench/compare.py                     # full report, written to docs/benchmarks.md
    python bench/compare.py --quick --out FILE  # small sizes only (the test suite's smoke test)

The peers (bench/peers.py) are the strongest things a user would write instead of calling paba:
the fastest NumPy solution of the same problem (``numpy_basic_joint``: the closed form after a
sort; ``numpy_general_joint``: vectorised least bandwidth with Newton steps on T), cvxpy with
Clarabel (``cvxpy_joint_latency``, ``cvxpy_general_latency``), and the floor pass that reads the
inputs once, ``np.sqrt(beta * compute).sum()``. paba's NumPy reference twin
(``backend="reference"``) is a correctness reference, not a peer: its times are reported in a
table of their own, outside the headline.

Measured, for the basic model (one worker per group, alpha = tau = 0; one static cell of K in
{10, 100, 1000, 10^4, 10^5, 10^6} workers): ``paba.allocate(paba.System(beta, compute, L, B),
"joint")`` end to end from fresh NumPy arrays, System construction and the solve on a prebuilt
System separately, ``numpy_basic_joint`` and the floor, all timed in alternation; the native
exact method and nested bisection on prebuilt Systems, cvxpy, and the reference twin. For the
general model (alpha, tau, and one worker per group or groups of 1 to 10; K in {1000, 10^5}):
``paba.allocate(system, "joint")`` (method auto) on a prebuilt System against the exact method on
the basic instance of the same K, ``numpy_general_joint`` and cvxpy. Then the batch throughput of
``paba.allocate_batch`` at K = 100 on 1 and 2 threads, and the peak memory of an exact and of a
general K = 10^6 solve, each in a fresh process.

Then the regime grid (bench/grid.py over bench/regimes.py): every target above on every cell of
families of workers (the cell at 0.05, 0.5 and 5 MHz per worker, faded draws, log-uniform
profiles), fixed costs (none, light, heavy), groupings (singletons, groups of 1-10, one group)
and K from 10 to 10^6. The report opens with each target at its worst cell, and ends with the
grid cell by cell and a figure of every ratio against K (``--out``'s name with ``-grid.png``).

Every measurement first checks its answer (see the report's "How it is measured"); the script
exits with status 1 if any check fails, and then writes no file. Progress goes to stderr, the
Markdown report to stdout and to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import select
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import grid  # noqa: E402
import paba  # noqa: E402
from paba.testing import assert_allocations_close  # noqa: E402
from peers import (  # noqa: E402
    BANDWIDTH,
    CVXPY_BISECTION_RTOL,
    GENERAL_PARAMS,
    PARAMS,
    SEED,
    SIDE_BITS,
    TAU_S,
    basic_arrays,
    batch_instances,
    cvxpy_general_latency,
    cvxpy_joint_latency,
    general_instance,
    instance,
    numpy_basic_joint,
    numpy_floor,
    numpy_general_joint,
)
from timing import (  # noqa: E402
    BLOCK_S,
    MAX_REPEATS,
    SINGLE_S,
    CheckFailed,
    OtherLoad,
    alternate,
    check,
    check_true,
    format_cores,
    format_ratio,
    format_seconds,
    machine,
    progress,
    relative,
    repeat,
    timed,
    verdict,
)

FULL_SIZES = (10, 100, 1000, 10**4, 10**5, 10**6)
QUICK_SIZES = (10, 100, 1000)
GENERAL_SIZES = (1000, 10**5)
QUICK_GENERAL_SIZES = (100,)
HEADLINE_K = 1000       # the end-to-end comparison with numpy_basic_joint
FLOOR_K = 10**6         # the end-to-end comparison with the floor
LIMIT_S = 60.0          # skip a solve estimated to take longer (reference, cvxpy)
CVXPY_TRY_S = 180.0     # cvxpy is still tried (with a LIMIT_S timeout) up to this estimate

CVXPY_RTOL = 1e-4       # cvxpy's basic T* at most this below the exact method's
# and at most this above it: Clarabel's accuracy, which falls with size (1.6e-4 at 10^6 workers)
CVXPY_BASIC_ABOVE = 1e-3
EXACT_RTOL = 1e-9       # exact against bisection, relaxed latency
BISECTION_RTOL = 1e-8   # native against reference bisection: 10 tol (paba.testing)
CHECK_TOL = 1e-12       # tol of the bisection every general answer is checked against
GENERAL_RTOL = 1e-8     # paba's general solve against it: 10 times the default tol 1e-9
NUMPY_GENERAL_RTOL = 1e-6  # numpy_general_joint against it (it agrees to about 1e-12)
# cvxpy's general latency: its bisection stops at most CVXPY_BISECTION_RTOL above the convex
# relaxation's optimum (plus Clarabel's accuracy), and that relaxation is a lower bound.
CVXPY_GENERAL_ABOVE = 2 * CVXPY_BISECTION_RTOL
CVXPY_GENERAL_BELOW = 1e-3

BASIC_COLUMNS = ("exact", "bisection", "cvxpy")
BASIC_HEADERS = {"exact": "native exact", "bisection": "native bisection",
                 "cvxpy": "cvxpy + Clarabel"}
E2E_COLUMNS = ("end to end", "System", "allocate", "numpy", "floor")
E2E_HEADERS = {"end to end": "paba end to end", "System": "System(...) alone",
               "allocate": "allocate on the prebuilt System", "numpy": "numpy_basic_joint",
               "floor": "NumPy floor"}
REFERENCE_COLUMNS = ("reference exact", "reference bisection")
GENERAL_CASES = (("singletons", False), ("groups of 1-10", True))






# -- timing ----------------------------------------------------------------------------------







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





def check_same_optimum(what: str, got, expected, rtol: float) -> None:
    """Relaxed latencies within rtol; integer latencies within rtol plus one parameter's time."""
    error = relative(got.relaxed_latency, expected.relaxed_latency)
    check_true(what, error <= rtol, f"relaxed_latency {got.relaxed_latency!r} vs "
               f"{expected.relaxed_latency!r} (relative {error:.2e} > {rtol:g})")
    slack = got.latency / max(int(got.loads[got.loads > 0].min()), 1)
    check_true(what, abs(got.latency - expected.latency) <= rtol * got.latency + slack,
               f"latency {got.latency!r} vs {expected.latency!r}")






# -- children: cvxpy (one process, a timeout per task) and peak memory (a fresh process) ------

def run_child(args: list[str], timeout: float | None, env=None):
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise CheckFailed(f"child {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cvxpy_task(K: int, case: str, expected: float, budget: float) -> dict:
    """Time cvxpy on the basic instance (``case`` "basic") or a general one ("singletons",
    "groups"), after checking its first answer against ``expected`` (paba's latency)."""
    if case == "basic":
        system, peer = instance(K), cvxpy_joint_latency
    else:
        system, peer = general_instance(K, case == "groups"), cvxpy_general_latency

    def solve():
        return peer(system)

    start = time.perf_counter()
    latency = solve()
    first = time.perf_counter() - start
    error = latency / expected - 1.0
    ok = (-CVXPY_RTOL <= error <= CVXPY_BASIC_ABOVE if case == "basic"
          else -CVXPY_GENERAL_BELOW <= error <= CVXPY_GENERAL_ABOVE)
    out = {"latency": float(latency), "error": float(error), "first": first, "ok": bool(ok)}
    if ok:  # time only a checked answer
        median, repeats = (first, 1) if first > SINGLE_S else repeat(solve, budget)
        out.update(median=median, repeats=repeats)
    return out


def cvxpy_server() -> None:
    """The cvxpy child: imports cvxpy once (an import is paid once per process, so it is not
    timed), then answers one JSON task per line of stdin with one JSON line on stdout."""
    import cvxpy  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        task = json.loads(line)
        try:
            out = cvxpy_task(task["K"], task["case"], task["expect"], task["budget"])
        except MemoryError as error:  # cvxpy cannot solve this size here: reported, not failed
            out = {"out_of_memory": str(error)}
        except Exception as error:  # reported to the parent, which fails the check
            out = {"failed": f"{type(error).__name__}: {error}"}
        print(json.dumps(out), flush=True)


class CvxpyChild:
    """The parent's side of cvxpy_server: one process for every cvxpy measurement of the run,
    killed (and started afresh for the next task) when a task runs past its timeout."""

    def __init__(self):
        self.process = None

    def run(self, task: dict, timeout: float):
        """The task's result, or None when it ran past ``timeout`` seconds."""
        if self.process is None:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--child", "cvxpy-server"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, bufsize=1)
            if self._read(120.0) is None:
                raise CheckFailed("the cvxpy child did not start: " + self._stop())
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        out = self._read(timeout)
        if out is None:
            self._stop()
        elif "failed" in out:
            raise CheckFailed(f"cvxpy child, task {task}: {out['failed']}")
        return out

    def _read(self, timeout: float):
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        return json.loads(line) if line else None

    def _stop(self) -> str:
        """Ends the child; its stderr."""
        self.process.kill()
        _, error = self.process.communicate()
        self.process = None
        return error.strip()[-2000:]

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
            self.process = None


CVXPY = CvxpyChild()


def read_status(field: str) -> int:
    """A field of /proc/self/status in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def memory_child(K: int, case: str) -> None:
    """Peak RSS growth during one joint solve of K workers, after its check: the exact method
    on the basic instance (``case`` "exact"), or ``paba.allocate(system, "joint")`` on the
    general instance with groups ("general").

    Runs under MALLOC_MMAP_THRESHOLD_=65536 (set by the parent): every allocation of 64 KiB or
    more gets fresh pages and returns them when freed, so the RSS growth is the peak of what the
    solve holds live, not hidden by pages an earlier step freed into the heap.
    """
    if case == "exact":
        paba.allocate(instance(100), "joint", method="exact")  # load every code path first
        system = instance(K)
        native = paba.allocate(system, "joint", method="exact")
        reference = paba.allocate(system, "joint", method="exact", backend="reference")
        assert_allocations_close(native, reference, EXACT_RTOL)
        del native, reference

        def solve():
            return paba.allocate(system, "joint", method="exact")
        inputs = ("beta", "compute")
    else:
        paba.allocate(general_instance(100, True), "joint")
        system = general_instance(K, True)
        native = paba.allocate(system, "joint")
        k = system._kernel
        alpha, tau, groups = k.alpha, k.tau, k.groups
        peer = numpy_general_joint(system.beta, system.compute, system.params,
                                   system.bandwidth, groups, alpha, tau)
        # Not above the peer; below it where the certificate's branches found a better
        # participating set than the convex envelope's (docs/algorithms.md 3.5.1).
        if not native.relaxed_latency <= peer * (1.0 + NUMPY_GENERAL_RTOL):
            raise CheckFailed(f"K={K} general memory solve vs numpy_general_joint: relaxed "
                              f"latency {native.relaxed_latency!r} above {peer!r}")
        del native

        def solve():
            return paba.allocate(system, "joint")
        inputs = ("beta", "compute", "alpha", "tau", "groups")
    gc.collect()
    method = "VmHWM after writing 5 to /proc/self/clear_refs"
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = read_status("VmRSS")
        result = solve()
        peak = read_status("VmHWM")
    except OSError:  # no clear_refs: ru_maxrss, a lower bound if construction peaked higher
        import resource
        method = "ru_maxrss delta (a lower bound)"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        result = solve()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    input_bytes = sum(getattr(system, name).nbytes for name in inputs)
    outputs = sum(getattr(result, name).nbytes
                  for name in ("loads", "relaxed_loads", "bandwidth", "worker_latency"))
    print(json.dumps({"K": K, "case": case, "growth": peak - before, "inputs": input_bytes,
                      "input_names": inputs, "outputs": outputs, "method": method,
                      "solver": result.method}))


# -- the measurements ------------------------------------------------------------------------

def fresh_arrays(K: int):
    """A setup for end-to-end timings: fresh, writeable copies of the basic instance's arrays
    for every call, made outside the timed region."""
    beta, compute, params, bandwidth = basic_arrays(K)

    def setup():
        return beta.copy(), compute.copy(), params, bandwidth
    return setup


def end_to_end(beta, compute, params, bandwidth):
    return paba.allocate(paba.System(beta, compute, params, bandwidth), "joint")


def measure_basic(sizes, budget: float, rows: dict, failures: list) -> None:
    times = {name: {} for name in (*BASIC_COLUMNS, *REFERENCE_COLUMNS)}
    state = {"cvxpy_stopped": None}
    for K in sizes:
        row = rows.setdefault(K, {"cells": {}, "e2e": {}, "repeats": {}})
        try:
            measure_basic_size(K, sizes, budget, times, row, state)
        except CheckFailed as error:
            failures.append(str(error))
            progress(f"CHECK FAILED: {error}")
        cells, e2e = row["cells"], row["e2e"]
        progress(f"K = {K}: " + ", ".join(
            f"{name} {format_cell(cells.get(name), cells.get('exact'))}"
            for name in (*BASIC_COLUMNS, *REFERENCE_COLUMNS)) + "; " + ", ".join(
            f"{name} {format_seconds(e2e.get(name))}" for name in E2E_COLUMNS))


def measure_basic_size(K: int, sizes, budget: float, times: dict, row: dict,
                       state: dict) -> None:
    """One row of the basic tables; raises CheckFailed at the first wrong answer."""
    cells, e2e, repeats = row["cells"], row["e2e"], row["repeats"]
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
    exact = solver("exact")()
    if ref_exact is not None:
        check(f"K={K} native exact vs reference exact",
              lambda: assert_allocations_close(exact, ref_exact, EXACT_RTOL))
    row["active"] = int(np.count_nonzero(exact.loads))

    # End to end from fresh arrays, its two parts, the NumPy solution and the floor: each
    # checked, then all timed in alternation on the same fresh arrays.
    setup = fresh_arrays(K)
    check(f"K={K} paba end to end vs the prebuilt System's solve",
          lambda: assert_allocations_close(end_to_end(*setup()), exact, EXACT_RTOL))
    peer = numpy_basic_joint(*setup())
    row["numpy_error"] = relative(peer.latency, exact.relaxed_latency)
    check_true(f"K={K} numpy_basic_joint vs native exact", row["numpy_error"] <= EXACT_RTOL,
               f"latency {peer.latency!r} vs {exact.relaxed_latency!r}")
    check_true(f"K={K} numpy_basic_joint loads",
               np.allclose(peer.loads, exact.relaxed_loads, rtol=0,
                           atol=EXACT_RTOL * system.params), "differ")
    floor = numpy_floor(*setup()[:2])
    check_true(f"K={K} floor", math.isfinite(floor) and floor > 0, repr(floor))
    timings = alternate({
        "end to end": end_to_end,
        "System": lambda beta, compute, params, bandwidth: paba.System(beta, compute, params,
                                                                      bandwidth),
        "allocate": lambda *_: paba.allocate(system, "joint"),
        "numpy": numpy_basic_joint,
        "floor": lambda beta, compute, *_: numpy_floor(beta, compute),
    }, budget, setup=setup)
    for name, (median, n) in timings.items():
        e2e[name] = median
        repeats["e2e " + name] = n

    _, median, n = timed(solver("exact"), budget)
    record("exact", median, n)

    # Against the exact optimum (1e-9 relative); against the reference bisection too,
    # below, where that runs.
    bisection, median, n = timed(
        solver("bisection"), budget,
        lambda result: check_same_optimum(f"K={K} native bisection vs exact", result,
                                          exact if ref_exact is None else ref_exact, EXACT_RTOL))
    record("bisection", median, n)

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

    out = measure_cvxpy(K, "basic", exact.relaxed_latency, budget, times["cvxpy"], sizes,
                        state, cells)
    if out is not None:
        record("cvxpy", out["median"], out["repeats"])
        row["cvxpy_error"] = out["error"]


def measure_cvxpy(K: int, case: str, expected: float, budget: float, times: dict, sizes,
                  state: dict, cells: dict, key: str = "cvxpy"):
    """cvxpy in a child process (its import excluded, a timeout possible); the child's output
    when it finished and was checked, else None with the reason in cells[key]."""
    if state["cvxpy_stopped"] is not None:
        cells[key] = ("not tried", state["cvxpy_stopped"])
        return None
    est = estimate(times, sizes, K)
    if est is not None and est > CVXPY_TRY_S:
        cells[key] = ("skipped", est)
        state["cvxpy_stopped"] = f"K = {K:,} was skipped"
        return None
    progress(f"K = {K}: cvxpy ({case})" + (f", est. {est:.3g} s" if est else ""))
    out = CVXPY.run({"K": K, "case": case, "expect": expected, "budget": budget},
                    timeout=LIMIT_S + 30.0)
    if out is not None and "out_of_memory" in out:
        cells[key] = ("not tried", f"cvxpy ran out of memory: {out['out_of_memory']}")
        state["cvxpy_stopped"] = f"K = {K:,} ran out of memory"
        return None
    if out is None or out["first"] > LIMIT_S:  # killed, or finished over the limit
        cells[key] = ("timeout", None if out is None else out["first"])
        state["cvxpy_stopped"] = f"K = {K:,} took over {LIMIT_S:g} s"
        return None
    check_true(f"K={K} cvxpy ({case}) vs paba", out["ok"],
               f"latency {out['latency']!r} vs {expected!r} (relative {out['error']:+.2e})")
    times[K] = out["median"]
    return out


def measure_general(sizes, budget: float, general: dict, failures: list) -> None:
    for case, groups in GENERAL_CASES:
        times = {}
        state = {"cvxpy_stopped": None}
        for K in sizes:
            row = general.setdefault((case, K), {"cells": {}, "repeats": {}})
            try:
                measure_general_size(K, case, groups, budget, row, times, sizes, state)
            except CheckFailed as error:
                failures.append(str(error))
                progress(f"CHECK FAILED: {error}")
            cells = row["cells"]
            progress(f"general {case}, K = {K}: " + ", ".join(
                f"{name} {format_cell(cells.get(name), None)}"
                for name in ("paba", "exact", "numpy", "cvxpy")))


def measure_general_size(K: int, case: str, groups: bool, budget: float, row: dict,
                         cvxpy_times: dict, sizes, state: dict) -> None:
    cells, repeats = row["cells"], row["repeats"]
    system = general_instance(K, groups)
    progress(f"general {case}, K = {K}: checks ...")
    k = system._kernel
    alpha, tau, group_ids = k.alpha, k.tau, k.groups
    arrays = (system.beta, system.compute, system.params, system.bandwidth, group_ids, alpha,
              tau)
    expected = paba.allocate(system, "joint", method="bisection", tol=CHECK_TOL)
    row.update(groups=system.n_groups, active=int(np.count_nonzero(expected.loads)))

    def solve():
        return paba.allocate(system, "joint")

    start = time.perf_counter()
    result = solve()
    paba_first = time.perf_counter() - start
    row.update(method=result.method, iterations=int(result.iterations),
               paba_error=relative(result.relaxed_latency, expected.relaxed_latency))
    # Not above the bisection; below it where the certificate's branches found a better
    # participating set (docs/algorithms.md 3.5.1).
    check_true(f"K={K} general ({case}) paba vs bisection at tol {CHECK_TOL:g}",
               result.relaxed_latency <= expected.relaxed_latency * (1.0 + GENERAL_RTOL),
               f"relaxed latency {result.relaxed_latency!r} above {expected.relaxed_latency!r}")
    start = time.perf_counter()
    peer = numpy_general_joint(*arrays)
    numpy_first = time.perf_counter() - start
    row["numpy_error"] = relative(peer, expected.relaxed_latency)
    check_true(f"K={K} general ({case}) numpy_general_joint vs bisection at tol {CHECK_TOL:g}",
               row["numpy_error"] <= NUMPY_GENERAL_RTOL,
               f"{peer!r} vs {expected.relaxed_latency!r}")

    # The baseline: the exact method on the basic instance of the same K, timed in alternation
    # with the general solve and the NumPy peer (the target compares the first two).
    basic = instance(K)
    paba.allocate(basic, "joint", method="exact")

    def exact_call():
        return paba.allocate(basic, "joint", method="exact")

    def peer_call():
        return numpy_general_joint(*arrays)

    if max(paba_first, numpy_first) > SINGLE_S:
        _, cells["paba"], repeats["paba"] = timed(solve, budget, first=(result, paba_first))
        _, cells["exact"], repeats["exact"] = timed(exact_call, budget)
        _, cells["numpy"], repeats["numpy"] = timed(peer_call, budget,
                                                     first=(peer, numpy_first))
    else:
        timings = alternate({"paba": solve, "exact": exact_call, "numpy": peer_call}, budget)
        for name, (median, n) in timings.items():
            cells[name], repeats[name] = median, n

    out = measure_cvxpy(K, "groups" if groups else "singletons", expected.relaxed_latency,
                        budget, cvxpy_times, sizes, state, cells)
    if out is not None:
        cells["cvxpy"], repeats["cvxpy"] = out["median"], out["repeats"]
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


def measure_memory(K: int, case: str, failures: list) -> dict | None:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    try:
        out = run_child(["--child", "memory", "--case", case, "--workers", str(K)],
                        timeout=900, env=env)
    except CheckFailed as error:
        failures.append(str(error))
        progress(f"CHECK FAILED: {error}")
        return None
    if out is None:
        failures.append(f"memory child ({case}, K = {K}) timed out")
        return None
    progress(f"memory {case} K = {K}: growth {out['growth'] / 2**20:.1f} MiB")
    return out


# -- the report ------------------------------------------------------------------------------





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




def seconds_of(cell):
    """A measured time, or None for a cell that holds a reason (skipped, timeout, ...)."""
    return cell if isinstance(cell, float) else None






class Headline:
    """Rows of the headline table: a case, paba's time, what it is compared with and its time,
    the ratio (named by the row), and a target when the issue sets one."""

    def __init__(self):
        self.rows = []
        self.misses = []

    def add(self, case, paba_time, against, other, ratio_name, ratio, target=None, why=None):
        """``other`` is a time or the reason it is missing (a cell: skipped, timeout, ...);
        ``ratio`` is computed from the two times; ``target`` is (text, predicate) or None;
        ``why`` a callable giving the line that explains a miss."""
        value = None
        other_text = format_cell(other, None)
        other = seconds_of(other)
        if paba_time is not None and other is not None:
            value = ratio(paba_time, other)
        if target is None:
            result = "-"
        else:
            result = verdict(None if value is None else target[1](value))
            if result == "MISS" and why is not None:
                self.misses.append(f"{case}, against {against}: {why()}")
        self.rows.append((case, format_seconds(paba_time), against, other_text,
                          f"{ratio_name} = {format_ratio(value)}" if value is not None else "-",
                          "-" if target is None else target[0], result))


def headline(rows, general, general_sizes) -> Headline:
    table = Headline()

    def e2e(K, name):
        return rows.get(K, {}).get("e2e", {}).get(name)

    def cell(K, name):
        return seconds_of(rows.get(K, {}).get("cells", {}).get(name))

    def parts(K):
        return (f"paba end to end takes {format_seconds(e2e(K, 'end to end'))}: System(...) "
                f"alone {format_seconds(e2e(K, 'System'))} (validation and read-only copies) "
                f"and the solve on the prebuilt System {format_seconds(e2e(K, 'allocate'))}")

    K = HEADLINE_K
    table.add(f"basic, K = {K:,}, end to end from NumPy arrays", e2e(K, "end to end"),
              "numpy_basic_joint", e2e(K, "numpy"), "numpy / paba", lambda p, o: o / p,
              ("numpy / paba >= 6", lambda v: v >= 6),
              lambda: parts(K) + f"; numpy_basic_joint {format_seconds(e2e(K, 'numpy'))}")
    table.add(f"basic, K = {K:,}, prebuilt System", cell(K, "exact"),
              "cvxpy + Clarabel", rows.get(K, {}).get("cells", {}).get("cvxpy"),
              "cvxpy / paba", lambda p, o: o / p,
              ("cvxpy / paba >= 5000", lambda v: v >= 5000),
              lambda: f"cvxpy builds, canonicalises and solves a conic problem in "
                      f"{format_seconds(cell(K, 'cvxpy'))}; paba's exact method takes "
                      f"{format_seconds(cell(K, 'exact'))} from Python")
    K = FLOOR_K
    table.add(f"basic, K = {K:,}, end to end from NumPy arrays", e2e(K, "end to end"),
              "NumPy floor", e2e(K, "floor"), "paba / floor", lambda p, o: p / o,
              ("paba / floor <= 3", lambda v: v <= 3),
              lambda: parts(K) + f"; the floor pass {format_seconds(e2e(K, 'floor'))}")
    table.add(f"basic, K = {K:,}, prebuilt System", e2e(K, "allocate"),
              "NumPy floor", e2e(K, "floor"), "paba / floor", lambda p, o: p / o,
              ("paba / floor <= 5", lambda v: v <= 5),
              lambda: f"the solve takes {format_seconds(e2e(K, 'allocate'))}, the floor pass "
                      f"{format_seconds(e2e(K, 'floor'))}")
    for case, groups in GENERAL_CASES:
        limit = 10 if groups else 5
        for K in general_sizes:
            row = general.get((case, K), {})
            cells = row.get("cells", {})
            paba_time = seconds_of(cells.get("paba"))
            name = f"general {case}, K = {K:,}, prebuilt System"

            def why(row=row, cells=cells):
                how = (" (the nested bisection of docs/algorithms.md 3.5)"
                       if row.get("method") == "bisection" else "")
                return (f"paba.allocate(system, \"joint\") used method "
                        f"\"{row.get('method')}\"{how}, {row.get('iterations')} iterations, "
                        f"{format_seconds(seconds_of(cells.get('paba')))} against the exact "
                        f"method's {format_seconds(seconds_of(cells.get('exact')))}")
            table.add(name, paba_time, "exact method, basic instance of the same K",
                      seconds_of(cells.get("exact")), "paba / exact", lambda p, o: p / o,
                      (f"paba / exact <= {limit}", lambda v, limit=limit: v <= limit), why)
            table.add(name, paba_time, "numpy_general_joint", seconds_of(cells.get("numpy")),
                      "numpy / paba", lambda p, o: o / p)
            table.add(name, paba_time, "cvxpy + Clarabel", cells.get("cvxpy"),
                      "cvxpy / paba", lambda p, o: o / p)
    return table


def other_targets(batch, memories):
    rows, misses = [], []

    def target(text, value, ok, fmt, why=None):
        result = verdict(None if value is None else ok(value))
        rows.append(f"| {text} | {fmt(value) if value is not None else '-'} | {result} |")
        if result == "MISS" and why is not None:
            misses.append(f"{text}: {why()}")

    per_s = lambda v: f"{v:,.0f} instances/s"  # noqa: E731
    one = batch["M"] / batch[1] if 1 in batch else None
    two = batch["M"] / batch[2] if 2 in batch else None
    others = (lambda: f"other processes kept {format_cores(batch.get('others'))} of the "
                      f"{os.cpu_count()} cores busy while it was timed")
    target(f"Batch, K = {batch['K']}, 1 thread: at least 100,000 instances/s", one,
           lambda v: v >= 1e5, per_s, others)
    target("Batch, 2 threads: at least 1.7x of 1 thread",
           two / one if one and two else None, lambda v: v >= 1.7, lambda v: f"{v:.2f}x",
           others)
    for case, memory in memories.items():
        ratio = None
        if memory:
            ratio = memory["growth"] / (memory["inputs"] + memory["outputs"])
        what = "an exact" if case == "exact" else "a general (groups, alpha, tau)"
        K = memory["K"] if memory else 10**6
        target(f"Peak memory of {what} K = {K:,} solve at most 3x the bytes of its inputs "
               "and outputs", ratio, lambda v: v <= 3, lambda v: f"{v:.2f}x",
               lambda memory=memory: f"it grew by {memory['growth'] / 2**20:.1f} MiB for "
                                     f"{(memory['inputs'] + memory['outputs']) / 2**20:.1f} MiB "
                                     f"of inputs and outputs (method {memory['solver']})")
    return rows, misses


def report(args, rows, general, batch, memories, regime, figure, started, others,
           wall) -> str:
    general_sizes = sorted({K for _, K in general})
    lines = ["# Benchmarks", "",
             "Generated by `bench/compare.py`: every figure on this page was measured in one run "
             "of the command below, and every measurement checked its answer first.", "",
             f"- Command: `{args.command}`",
             f"- Date: {started:%Y-%m-%d %H:%M} UTC; the run took {wall:.0f} s",
             f"- Machine: {machine()}",
             f"- Other processes kept {format_cores(others)} of the {os.cpu_count()} cores busy "
             "on average during the run (all CPUs' busy time in /proc/stat less this "
             "script's and its children's); timings on a shared machine are upper bounds.",
             f"- Basic instances: `paba.static_cell(K, params={PARAMS:_}, bandwidth="
             f"{BANDWIDTH:g}, seed={SEED})` (one worker per group, alpha = tau = 0, so the exact "
             "method applies). General instances: `bench/peers.py` `general_instance(K, groups)`,"
             f" the same cell with a {GENERAL_PARAMS:_}-parameter model, alpha from "
             f"{SIDE_BITS[0]:g} to {SIDE_BITS[1]:g} bits of side information each way "
             f"(log-uniform) over the spectral efficiencies, tau uniform in [{TAU_S[0]:g}, "
             f"{TAU_S[1]:g}] s, and one worker per group or groups of 1 to 10 members (3 on "
             "average). The batch: Rayleigh-faded iterations of "
             f"`paba.Scenario.default(n_workers=K, params={PARAMS:_}, seed={SEED})`.", ""]

    # The targets, at the worst cell of the regime grid.
    lines += ["## Targets on the regime grid", "",
              "Each target at the worst of the grid's cells it covers (bench/regimes.py: "
              "families of workers, fixed costs, groupings, K from 10 to 10^6; bench/grid.py: "
              "how each is checked and timed). The grid, cell by cell, is at the end of this "
              "page.", "", *grid.headline_rows(regime), ""]

    # Headline.
    table = headline(rows, general, general_sizes)
    lines += ["## The reference cell: paba against what a user would otherwise run", "",
              "The targets of earlier runs, on one cell per case (the default static cell at "
              "10 MHz, whatever K: few of a large K's workers carry load there).", "",
              "Median time per solve of paba and of its peer, measured in this run, and their "
              "ratio. *End to end*: `paba.allocate(paba.System(beta, compute, L, B), \"joint\")`"
              " from fresh NumPy arrays (System construction timed); *prebuilt System*: "
              "`paba.allocate(system, \"joint\")`. The peers are defined in bench/peers.py and "
              "below.", "",
              "| case | paba | against | its time | ratio | target | result |",
              "|---|---:|---|---:|---:|---|:---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    lines += ["", "## Other targets", "", "| target | measured | result |", "|---|---:|:---:|"]
    target_rows, target_misses = other_targets(batch, memories)
    lines += target_rows
    misses = table.misses + target_misses
    if misses:
        lines += ["", "Why targets miss:", ""] + [f"- {line}" for line in misses]
    if args.quick:
        lines += ["", "(`--quick`: small sizes only, so the K = 10^6 targets and possibly others "
                  "are not measured.)"]

    # Basic model, end to end.
    lines += ["", "## Basic model, end to end from NumPy arrays", "",
              "Median seconds per call, the five timed in alternation on the same fresh arrays "
              "(copies made before each call, outside the timed region). *paba end to end*: "
              "`paba.allocate(paba.System(beta, compute, L, B), \"joint\")`; *System(...) "
              "alone* and *allocate on the prebuilt System*: its two parts; "
              "*numpy_basic_joint*: bench/peers.py, the closed form after a sort and two "
              "cumulative sums (docs/algorithms.md 3.7); *NumPy floor*: "
              "`np.sqrt(beta * compute).sum()`, one pass that reads the inputs and takes one "
              "square root per worker.", ""]
    head = ["K", *(E2E_HEADERS[name] for name in E2E_COLUMNS), "numpy / paba",
            "paba / floor"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---:"] * len(head)) + "|")
    for K, row in rows.items():
        e2e = row["e2e"]
        paba_time, peer, floor = e2e.get("end to end"), e2e.get("numpy"), e2e.get("floor")
        lines.append("| " + " | ".join(
            [f"{K:,}", *(format_seconds(e2e.get(name)) for name in E2E_COLUMNS),
             format_ratio(peer / paba_time) if peer and paba_time else "-",
             format_ratio(paba_time / floor) if floor and paba_time else "-"]) + " |")

    # Basic model, prebuilt.
    lines += ["", "## Basic model, prebuilt Systems", "",
              "Median seconds per solve of `paba.allocate(system, \"joint\", method=...)` from "
              "Python on a prebuilt System (validation and result objects included); in "
              "brackets, that time over the native exact time of the same K. *Active*: "
              "workers with load at the optimum.", ""]
    head = ["K", "active", *(BASIC_HEADERS[name] for name in BASIC_COLUMNS), "NumPy floor",
            "exact / floor"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---:"] * len(head)) + "|")
    for K, row in rows.items():
        cells = row["cells"]
        exact = cells.get("exact")
        floor = row["e2e"].get("floor")
        over = f"{exact / floor:.2f}" if floor and isinstance(exact, float) else "-"
        lines.append("| " + " | ".join(
            [f"{K:,}", str(row.get("active", "-")),
             *(format_cell(cells.get(name), exact) for name in BASIC_COLUMNS),
             format_seconds(floor), over]) + " |")

    # General model.
    lines += ["", "## General model, prebuilt Systems", "",
              "Median seconds per solve on the general instances (alpha, tau; one worker per "
              "group or groups of 1 to 10). *paba*: `paba.allocate(system, \"joint\")` (method "
              "auto; the method it used and its iterations in brackets); *exact, basic "
              "instance*: the exact method on the basic instance of the same K (this run), "
              "timed in alternation with paba and numpy_general_joint; *numpy_general_joint* "
              "and *cvxpy + Clarabel*: bench/peers.py. *Active*: groups with load at the "
              "optimum.", ""]
    head = ["instance", "K", "groups", "active", "paba", "exact, basic instance",
            "paba / exact", "numpy_general_joint", "numpy / paba", "cvxpy + Clarabel",
            "cvxpy / paba"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|---|" + "|".join(["---:"] * (len(head) - 1)) + "|")
    for (case, K), row in general.items():
        cells = row["cells"]
        paba_time = seconds_of(cells.get("paba"))

        def over(name, invert=False, cells=cells, paba_time=paba_time):
            other = seconds_of(cells.get(name))
            if paba_time is None or other is None:
                return "-"
            return format_ratio(paba_time / other if invert else other / paba_time)
        lines.append("| " + " | ".join(
            [case, f"{K:,}", f"{row.get('groups', '-'):,}" if "groups" in row else "-",
             str(row.get("active", "-")),
             f"{format_seconds(paba_time)} ({row.get('method')}, {row.get('iterations')})",
             format_cell(cells.get("exact"), None), over("exact", invert=True),
             format_cell(cells.get("numpy"), None), over("numpy"),
             format_cell(cells.get("cvxpy"), None), over("cvxpy")]) + " |")

    # Reference twin.
    lines += ["", "## NumPy reference twin (correctness, not a peer)", "",
              "paba's NumPy twin of its kernels (`backend=\"reference\"`, "
              "python/paba/reference/): the same algorithms written for clarity, against "
              "which the native results are checked. Not what a user would run instead of "
              "paba, so not in the headline. Median seconds per solve on prebuilt Systems; in "
              "brackets, over the native time of the same method.", "",
              "| K | reference, exact | reference, bisection |", "|---:|---:|---:|"]
    for K, row in rows.items():
        cells = row["cells"]
        lines.append(f"| {K:,} | {format_cell(cells.get('reference exact'), cells.get('exact'))}"
                     f" | {format_cell(cells.get('reference bisection'), cells.get('bisection'))}"
                     " |")

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
    lines += ["", "## Peak memory", "",
              "One solve in a fresh Python process, after a checked solve of the same instance: "
              "the exact method on the basic instance (`paba.allocate(system, \"joint\", "
              "method=\"exact\")`, checked against the reference) and `paba.allocate(system, "
              "\"joint\")` on the general instance with groups (checked against "
              "numpy_general_joint), both on prebuilt Systems.", "",
              "| solve | K | inputs | outputs (loads, relaxed_loads, bandwidth, worker_latency) "
              "| inputs + outputs | peak RSS growth during the solve | growth / (inputs + "
              "outputs) | (inputs + growth) / (inputs + outputs) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    mib = 2**20
    for case, memory in memories.items():
        if not memory:
            lines.append(f"| {case} | - | not measured (the child process failed) |"
                         " - | - | - | - | - |")
            continue
        total = memory["inputs"] + memory["outputs"]
        lines.append(
            f"| {case} ({memory['solver']}) | {memory['K']:,} | {memory['inputs'] / mib:.1f} MiB"
            f" ({', '.join(memory['input_names'])}) | {memory['outputs'] / mib:.1f} MiB | "
            f"{total / mib:.1f} MiB | {memory['growth'] / mib:.1f} MiB | "
            f"{memory['growth'] / total:.2f}x | "
            f"{(memory['inputs'] + memory['growth']) / total:.2f}x |")
    method = next((m["method"] for m in memories.values() if m), "VmHWM")
    lines += ["", f"Measured as {method}, just before the solve, then VmRSS before and the "
              "peak after: the growth counts everything the solve touched and held at its peak "
              "(the outputs, the kernel's scratch, temporaries of the Python layer), not the "
              "inputs, which exist before the call. The process runs with "
              "`MALLOC_MMAP_THRESHOLD_=65536`, so every allocation of 64 KiB or more takes fresh "
              "pages from the kernel and returns them when freed: no earlier step's freed heap "
              "can hide an allocation of the solve. The last column adds the inputs, for the "
              "whole footprint of a solve."]

    # The regime grid, cell by cell.
    lines += ["", "## The regime grid, cell by cell", "", *grid.section(regime, figure)]

    # Method.
    lines += method_section(args, rows, general)
    return "\n".join(lines) + "\n"


def method_section(args, rows, general) -> list[str]:
    def errors(items):
        return ", ".join(items) if items else "none measured"

    numpy_basic = errors([f"{row['numpy_error']:.1e} at K = {K:,}" for K, row in rows.items()
                          if "numpy_error" in row])
    cvxpy_basic = errors([f"{row['cvxpy_error']:.1e} at K = {K:,}" for K, row in rows.items()
                          if "cvxpy_error" in row])
    paba_general = errors([f"{row['paba_error']:.1e} ({case}, K = {K:,})"
                           for (case, K), row in general.items() if "paba_error" in row])
    numpy_general = errors([f"{row['numpy_error']:.1e} ({case}, K = {K:,})"
                            for (case, K), row in general.items() if "numpy_error" in row])
    cvxpy_general = errors([f"{row['cvxpy_error']:+.1e} ({case}, K = {K:,})"
                            for (case, K), row in general.items() if "cvxpy_error" in row])
    lines = [
        "", "## How it is measured", "",
        "- Time: `time.perf_counter` around each call, garbage collection off, **median** of n "
        "calls after one untimed call whose answer is checked; calls are repeated until they "
        f"add up to {args.budget:g} s, at least 3 and at most {MAX_REPEATS} of them. Calls "
        "compared in the headline are timed in alternating blocks (each round, a block of "
        f"about {BLOCK_S * 1e3:g} ms of calls of each, every call timed on its own), so "
        "that they see the same load from other processes. A first call over "
        f"{SINGLE_S:g} s is the only call, and its time is the figure (n = 1).",
        "- Why blocks: alternated one call at a time, a short call starts with the previous "
        "call's data and branch history in the caches and predictors. On this machine that "
        "made paba's K = 1,000 end-to-end call 5 to 10% slower after numpy_basic_joint, and "
        "the general solve twice as slow after numpy_general_joint, while the long NumPy calls "
        "barely moved; the figures then said more about what else was timed than about the "
        "call. A block times "
        "each call as a loop of it runs (as `timeit` does); its first call, the cold one, is "
        "one of many in the median.",
        "- End to end: each call gets fresh copies of the instance's arrays, made outside the "
        "timed region; the System is built inside it.",
        "- numpy_basic_joint (bench/peers.py): the basic model's closed form, "
        "docs/algorithms.md 3.7: sort the workers by sqrt(beta), the price of each prefix by "
        "two cumulative sums, the optimum at the prefix of least price; no Python loop over "
        "workers.",
        "- numpy_general_joint (bench/peers.py): the general model (groups, alpha, tau) in "
        "vectorised NumPy. At a trial T, the least bandwidth that carries the model "
        "(docs/algorithms.md 3.5) with paba's participation rule for fixed costs (section 4): "
        "Newton steps on the price with a bracket, the loads of groups of several members by "
        "Newton steps vectorised over all groups (`np.add.reduceat`), the exit price of each "
        "group in closed form (one member) or by Newton steps, and only the groups whose price "
        "at zero load reaches the price (checked, and repeated with any left out that should "
        "not have been). Outer Newton steps on T use the envelope derivative "
        "dB*/dT = -sum_k b_k / y_k, safeguarded by a bracket; the loads found are given their "
        "latency by the parameter-aware step (docs/algorithms.md 3.3), as paba reports "
        "relaxed_latency.",
        "- cvxpy: bench/peers.py, construction, canonicalisation and the Clarabel solve, all "
        "paid on every call, in one child process that imports cvxpy before any timing. Basic "
        "model: `cvxpy_joint_latency`, T* = L / max sum_k B_k / (beta_k + c_k B_k) subject to "
        "sum_k B_k = B, one problem, written in bandwidth shares (in Hz Clarabel's answer "
        "misses the optimum by more than 1e-4 from K = 1000 on). General model: "
        f"`cvxpy_general_latency`, a bisection on T to {CVXPY_BISECTION_RTOL:g} relative from "
        "[0, the latency of the equal split], each step one model-size maximisation with T as "
        "cvxpy Parameters (canonicalised once per call). With fixed communication a group "
        "with no load needs no bandwidth, which no convex constraint expresses: the model is "
        "the tightest convex relaxation (a participation z_n in [0, 1] per group, perspective "
        "constraints as second-order cones), so its latency is a lower bound that prices each "
        "group on the convex envelope of its bandwidth, as paba's participation rule does.",
        f"- Skips: a reference solve estimated over {LIMIT_S:g} s is skipped (estimate: the "
        "power law of the two smaller sizes, at least linear, or the native counterpart's "
        f"growth over the same step, whichever is larger). cvxpy is tried with a {LIMIT_S:g} s "
        f"limit up to an estimate of {CVXPY_TRY_S:g} s, and not at larger K once one size has "
        "failed, timed out or been skipped.",
        "- Checks, before timing: native exact against the reference exact solve "
        f"(`paba.testing.assert_allocations_close`, rtol {EXACT_RTOL:g}, equal integer loads); "
        "paba end to end against the prebuilt System's solve (the same); numpy_basic_joint's "
        f"latency and loads against the exact method (rtol {EXACT_RTOL:g}); native nested "
        f"bisection against the exact optimum (relaxed latency within {EXACT_RTOL:g} relative) "
        f"and against the reference bisection where that runs (rtol {BISECTION_RTOL:g}, loads "
        "one parameter apart); on the general instances, paba's relaxed latency not above "
        f"`method=\"bisection\", tol={CHECK_TOL:g}` by more than {GENERAL_RTOL:g} (ten times "
        "the default tol; below it where the certificate's branches found a better "
        "participating set) and numpy_general_joint against the same (rtol "
        f"{NUMPY_GENERAL_RTOL:g}); "
        f"cvxpy's basic T* at most {CVXPY_RTOL:g} below the exact method's (lower would be a "
        f"better allocation than the optimum) and at most {CVXPY_BASIC_ABOVE:g} above it "
        "(Clarabel's accuracy, which falls with size); cvxpy's general "
        f"latency at most {CVXPY_GENERAL_ABOVE:g} above paba's (its bisection's resolution and "
        f"Clarabel's accuracy) and at most {CVXPY_GENERAL_BELOW:g} below it (a lower bound: "
        "what the relaxation's chord saves); the batch's first instances against the reference "
        "one by one, and 2 threads bit-identical to 1 thread; the memory children's solves "
        "against the reference (exact) and numpy_general_joint (general). Any failure: exit "
        "status 1, no file written.",
        f"- Measured agreement. numpy_basic_joint against the exact method: {numpy_basic}. "
        f"paba's general solve against the bisection at tol {CHECK_TOL:g}: {paba_general}. "
        f"numpy_general_joint against it: {numpy_general}. cvxpy's basic T* against the exact "
        f"method: {cvxpy_basic}. cvxpy's general latency over paba's, less 1: "
        f"{cvxpy_general}.",
        "", "Repeats n per cell:", "",
        "| K | " + " | ".join([*(E2E_HEADERS[name] for name in E2E_COLUMNS),
                             *(BASIC_HEADERS[name] for name in BASIC_COLUMNS),
                             "reference, exact", "reference, bisection"]) + " |",
        "|" + "|".join(["---:"] * (1 + len(E2E_COLUMNS) + len(BASIC_COLUMNS) + 2)) + "|"]
    for K, row in rows.items():
        reps = row["repeats"]
        lines.append(f"| {K:,} | " + " | ".join(
            [*(str(reps.get("e2e " + name, "-")) for name in E2E_COLUMNS),
             *(str(reps.get(name, "-")) for name in (*BASIC_COLUMNS, *REFERENCE_COLUMNS))])
            + " |")
    lines += ["", "| general instance | K | paba | exact, basic instance | numpy_general_joint "
              "| cvxpy + Clarabel |", "|---|---:|---:|---:|---:|---:|"]
    for (case, K), row in general.items():
        reps = row["repeats"]
        exact = reps.get("exact", "as above")
        lines.append(f"| {case} | {K:,} | {reps.get('paba', '-')} | {exact} | "
                     f"{reps.get('numpy', '-')} | {reps.get('cvxpy', '-')} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes {QUICK_SIZES} (general: {QUICK_GENERAL_SIZES}) only, short "
                             "timing budgets, small batch and memory instances (a smoke test)")
    parser.add_argument("--out", type=Path, default=None,
                        help="Markdown file to write (default: docs/benchmarks.md for a full "
                             "run, none for --quick)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds of repeats per cell (default 0.5, --quick 0.02)")
    parser.add_argument("--child", choices=("cvxpy-server", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 0.02 if args.quick else 0.5
    if args.child == "cvxpy-server":
        cvxpy_server()
        return 0
    if args.child == "memory":
        memory_child(args.workers, args.case)
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
    general: dict = {}
    measure_basic(QUICK_SIZES if args.quick else FULL_SIZES, args.budget, rows, failures)
    measure_general(QUICK_GENERAL_SIZES if args.quick else GENERAL_SIZES, args.budget, general,
                    failures)
    CVXPY.close()
    batch = measure_batch(100, 1000 if args.quick else 20_000, 3 if args.quick else 15,
                          failures)
    memories = {"exact": measure_memory(10**5 if args.quick else 10**6, "exact", failures),
                "general": measure_memory(10**4 if args.quick else 10**6, "general", failures)}
    regime = grid.measure(args.quick, 0.02 if args.quick else 0.25)
    failures += regime.failures
    figure = None
    if out is not None and grid.plot(regime, out.with_name(out.stem + "-grid.png")):
        figure = out.stem + "-grid.png"
    text = report(args, rows, general, batch, memories, regime, figure, started, meter.cores(),
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
