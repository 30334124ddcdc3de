"""The Markdown report of bench/compare.py (docs/benchmarks.md): the headline targets, the
reference cell's tables, the other targets and how every figure is measured."""

from __future__ import annotations

import os

import grid
from peers import (
    BANDWIDTH,
    CVXPY_BISECTION_RTOL,
    GENERAL_PARAMS,
    PARAMS,
    SEED,
    SIDE_BITS,
    TAU_S,
)
from settings import (
    BASIC_COLUMNS,
    BASIC_HEADERS,
    BISECTION_RTOL,
    CHECK_TOL,
    CVXPY_BASIC_ABOVE,
    CVXPY_GENERAL_ABOVE,
    CVXPY_GENERAL_BELOW,
    CVXPY_RTOL,
    CVXPY_TRY_S,
    E2E_COLUMNS,
    E2E_HEADERS,
    EXACT_RTOL,
    FLOOR_K,
    GENERAL_CASES,
    GENERAL_RTOL,
    HEADLINE_K,
    LIMIT_S,
    NUMPY_GENERAL_RTOL,
    REFERENCE_COLUMNS,
)
from timing import (
    BLOCK_S,
    MAX_REPEATS,
    SINGLE_S,
    format_cores,
    format_ratio,
    format_seconds,
    machine,
    verdict,
)


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
