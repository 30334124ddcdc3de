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

This file holds the measurements and the command; settings.py the sizes, tolerances and
columns; children.py the child processes (cvxpy, peak memory), which are this script run with
``--child``; report.py the Markdown report; grid.py the regime grid; timing.py the timing and
checking helpers; peers.py the peers.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import grid  # noqa: E402
import paba  # noqa: E402
from children import CVXPY, cvxpy_server, memory_child, run_child  # noqa: E402
from paba.testing import assert_allocations_close  # noqa: E402
from peers import (  # noqa: E402
    basic_arrays,
    batch_instances,
    general_instance,
    instance,
    numpy_basic_joint,
    numpy_floor,
    numpy_general_joint,
)
from report import format_cell, report  # noqa: E402
from settings import (  # noqa: E402
    BASIC_COLUMNS,
    BISECTION_RTOL,
    CHECK_TOL,
    CVXPY_TRY_S,
    E2E_COLUMNS,
    EXACT_RTOL,
    FULL_SIZES,
    GENERAL_CASES,
    GENERAL_RTOL,
    GENERAL_SIZES,
    LIMIT_S,
    NUMPY_GENERAL_RTOL,
    QUICK_GENERAL_SIZES,
    QUICK_SIZES,
    REFERENCE_COLUMNS,
)
from timing import (  # noqa: E402
    SINGLE_S,
    CheckFailed,
    OtherLoad,
    alternate,
    check,
    check_true,
    format_cores,
    format_seconds,
    progress,
    relative,
    timed,
)

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
