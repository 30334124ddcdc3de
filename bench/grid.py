"""Every speed target on every cell of the regime grid (bench/regimes.py), reported at its worst.

    python bench/grid.py --out FILE.md   # the full grid (about 8 minutes on 2 cores)
    python bench/grid.py --quick         # small sizes and budgets (the test suite's smoke test)

``python bench/compare.py`` runs the same grid and heads its report with the worst cells. Each
cell first checks its answers, then times them:

- basic cells (one family at one K): ``paba.allocate(paba.System(beta, compute, L, B), "joint")``
  end to end from NumPy arrays, ``numpy_basic_joint`` (the closed form after a sort) and the
  floor pass ``np.sqrt(beta * compute).sum()``, in alternation; paba's relaxed latency must
  agree with numpy_basic_joint's within EXACT_RTOL;
- general cells (a family with fixed costs and a grouping): ``paba.allocate(system, "joint")`` on
  the prebuilt System and the exact method on the basic instance of the same family and K, in
  alternation, then ``numpy_general_joint`` in its own block; paba must not be above the nested
  bisection at tol CHECK_TOL by more than GENERAL_RTOL, and the NumPy peer's ratio counts only
  where it agrees with paba within NUMPY_RTOL (else the cell says by how much it differs);
- batch cells: ``paba.allocate_batch`` of M faded iterations of the 0.5 MHz cell at K = 100 on
  one thread, with light fixed costs, singletons or groups of 1-10; the first instances must
  equal ``paba.allocate`` of each alone.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import paba  # noqa: E402
import regimes  # noqa: E402
from peers import numpy_basic_joint, numpy_floor, numpy_general_joint  # noqa: E402
from timing import (  # noqa: E402
    SINGLE_S,
    CheckFailed,
    alternate,
    check_true,
    format_ratio,
    format_seconds,
    progress,
    relative,
    repeat,
    verdict,
)

BASIC_SIZES = (10, 100, 1000, 10**4, 10**5, 10**6)
GENERAL_SIZES = (1000, 10**4, 10**5)
QUICK_BASIC_SIZES = (10, 100, 1000)
QUICK_GENERAL_SIZES = (1000,)
QUICK_FAMILIES = ("cell 0.5 MHz", "log-uniform 1 MHz")
BATCH_K, BATCH_M, QUICK_BATCH_M = 100, 20000, 500
BATCH_CHECKED = 50       # batch instances checked one by one against paba.allocate
EXACT_RTOL = 1e-9        # paba's exact relaxed latency against numpy_basic_joint
CHECK_TOL = 1e-12        # tol of the bisection every general answer is checked against
GENERAL_RTOL = 1e-8      # paba's general answer may be above that bisection by this, relative
NUMPY_RTOL = 1e-6        # numpy_general_joint's ratio counts where it agrees with paba this well


@dataclass(frozen=True)
class Target:
    """A speed target: ``ratio(cell)`` must be at least (``at_least``) or at most ``bound`` on
    every cell it covers; the report names the worst."""

    name: str
    kind: str                     # "basic", "general" or "batch"
    numerator: str                # the times whose quotient is the ratio
    denominator: str
    bound: float
    at_least: bool
    sizes: tuple[int, ...] = ()   # the K it covers (basic and general)
    groupings: tuple[str, ...] = regimes.GROUPINGS
    costs: tuple[str, ...] = regimes.COSTS
    unit: str = "x"

    def covers(self, cell: Cell) -> bool:
        return (cell.kind == self.kind and (not self.sizes or cell.K in self.sizes)
                and cell.grouping in self.groupings and cell.costs in self.costs)

    def ratio(self, cell: Cell):
        """numerator / denominator of the cell's times (the numerator alone without one)."""
        top = cell.times.get(self.numerator)
        if not self.denominator:
            return top
        bottom = cell.times.get(self.denominator)
        if top is None or bottom is None or not bottom > 0:
            return None
        return top / bottom

    def passes(self, ratio) -> bool:
        return ratio >= self.bound if self.at_least else ratio <= self.bound


GENERAL_GROUPS = ("groups of 1-10", "one group")
TARGETS = (
    Target("basic, end to end, K = 1,000: NumPy solver / paba", "basic", "numpy", "paba", 8.0,
           True, (1000,), ("singletons",), ("none",)),
    Target("basic, end to end, K = 10^4 to 10^5: NumPy solver / paba", "basic", "numpy", "paba",
           10.0, True, (10**4, 10**5), ("singletons",), ("none",)),
    Target("basic, end to end, K = 10^5 to 10^6: paba / floor pass", "basic", "paba", "floor", 3.0,
           False, (10**5, 10**6), ("singletons",), ("none",)),
    Target("general singletons, alpha + tau: paba / exact method of the same K", "general",
           "paba", "exact", 5.0, False, GENERAL_SIZES, ("singletons",), ("light", "heavy")),
    Target("general groups: paba / exact method of the same K", "general", "paba", "exact", 10.0,
           False, GENERAL_SIZES, GENERAL_GROUPS),
    Target("general: vectorised NumPy / paba", "general", "numpy", "paba", 10.0, True,
           GENERAL_SIZES),
    Target("batch, K = 100, singletons, alpha + tau, 1 thread: instances/s", "batch", "rate",
           "", 1e5, True, (), ("singletons",), ("light",), unit="/s"),
    Target("batch, K = 100, groups of 1-10, alpha + tau, 1 thread: instances/s", "batch", "rate",
           "", 5e4, True, (), ("groups of 1-10",), ("light",), unit="/s"),
)


@dataclass
class Cell:
    kind: str
    family: str
    K: int
    costs: str = "none"
    grouping: str = "singletons"
    times: dict = field(default_factory=dict)   # seconds per call by name ("rate": per second)
    notes: dict = field(default_factory=dict)   # active workers, method, check failures, ...

    @property
    def label(self) -> str:
        parts = [self.family]
        if self.kind != "basic":
            parts += [f"{self.costs} costs", self.grouping]
        return ", ".join(parts) + (f", K = {self.K:,}" if self.kind != "batch" else
                                   f", K = {self.K}, M = {self.notes.get('M', 0):,}")


# -- cells -----------------------------------------------------------------------------------

def basic_cell(family: str, K: int, budget: float) -> Cell:
    cell = Cell("basic", family, K)
    beta, compute, params, bandwidth = regimes.arrays(family, K)

    def paba_call():
        return paba.allocate(paba.System(beta, compute, params, bandwidth), "joint")

    def numpy_call():
        return numpy_basic_joint(beta, compute, params, bandwidth)

    def floor_call():
        return numpy_floor(beta, compute)

    got, peer = paba_call(), numpy_call()
    cell.notes.update(active=int(np.count_nonzero(got.loads)), method=got.method)
    check_true(f"grid basic {cell.label}: paba vs numpy_basic_joint",
               relative(got.relaxed_latency, peer.latency) <= EXACT_RTOL,
               f"{got.relaxed_latency!r} vs {peer.latency!r}")
    for name, (median, _) in alternate({"paba": paba_call, "numpy": numpy_call,
                                        "floor": floor_call}, budget).items():
        cell.times[name] = median
    return cell


def general_cell(family: str, K: int, costs: str, grouping: str, budget: float) -> Cell:
    cell = Cell("general", family, K, costs, grouping)
    system = regimes.general(family, K, costs, grouping)
    basic = regimes.basic(family, K)
    kernel = system._kernel
    arrays = (system.beta, system.compute, system.params, system.bandwidth, kernel.groups,
              kernel.alpha, kernel.tau)

    def paba_call():
        return paba.allocate(system, "joint")

    def exact_call():
        return paba.allocate(basic, "joint", method="exact")

    def numpy_call():
        return numpy_general_joint(*arrays)

    start = time.perf_counter()
    got = paba_call()
    paba_first = time.perf_counter() - start
    expected = paba.allocate(system, "joint", method="bisection", tol=CHECK_TOL)
    cell.notes.update(groups=system.n_groups, active=int(np.count_nonzero(got.loads)),
                      method=got.method, iterations=int(got.iterations),
                      below_bisection=got.relaxed_latency < expected.relaxed_latency)
    check_true(f"grid general {cell.label}: paba vs bisection at tol {CHECK_TOL:g}",
               got.relaxed_latency <= expected.relaxed_latency * (1.0 + GENERAL_RTOL),
               f"{got.relaxed_latency!r} above {expected.relaxed_latency!r}")
    exact_call()
    if paba_first > SINGLE_S:
        cell.times["paba"] = paba_first
        cell.times["exact"] = repeat(exact_call, budget)[0]
    else:
        for name, (median, _) in alternate({"paba": paba_call, "exact": exact_call},
                                           budget).items():
            cell.times[name] = median
    start = time.perf_counter()
    peer = numpy_call()
    numpy_first = time.perf_counter() - start
    error = relative(peer, got.relaxed_latency)
    if error <= NUMPY_RTOL:
        cell.times["numpy"] = numpy_first if numpy_first > SINGLE_S else repeat(numpy_call,
                                                                                 budget)[0]
    else:
        cell.notes["numpy_differs"] = (peer - got.relaxed_latency) / got.relaxed_latency
    return cell


def batch_cell(grouping: str, M: int, budget: float) -> Cell:
    cell = Cell("batch", "faded cell 0.5 MHz", BATCH_K, "light", grouping, notes={"M": M})
    kwargs = regimes.batch(BATCH_K, M, grouping)

    def solve():
        return paba.allocate_batch(**kwargs)

    batch = solve()
    for i in range(min(M, BATCH_CHECKED)):
        alone = paba.allocate(paba.System(
            kwargs["beta"][i], kwargs["compute"][i], kwargs["params"], kwargs["bandwidth"],
            groups=kwargs["groups"][i] if "groups" in kwargs else None,
            alpha=kwargs["alpha"][i], tau=kwargs["tau"][i]), "joint")
        one = batch[i]
        check_true(f"grid batch {cell.label}: instance {i} vs allocate",
                   np.array_equal(one.loads, alone.loads) and one.latency == alone.latency,
                   f"latency {one.latency!r} vs {alone.latency!r}")
    seconds = repeat(solve, budget)[0]
    cell.times.update(one=seconds / M, rate=M / seconds)
    cell.notes["methods"] = sorted(set(batch.method))
    return cell


# -- the grid --------------------------------------------------------------------------------

@dataclass
class Grid:
    cells: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    seconds: float = 0.0
    quick: bool = False


def measure(quick: bool = False, budget: float | None = None) -> Grid:
    """Every cell of the grid (the quick grid: a few small ones), checked and timed."""
    started = time.perf_counter()
    grid = Grid(quick=quick)
    budget = (0.02 if quick else 0.25) if budget is None else budget
    families = QUICK_FAMILIES if quick else regimes.FAMILIES

    def run(make):
        try:
            cell = make()
        except CheckFailed as error:
            grid.failures.append(str(error))
            progress(f"CHECK FAILED: {error}")
            return
        grid.cells.append(cell)
        progress(f"grid {cell.label}: " + ", ".join(
            f"{name} {format_seconds(value) if name != 'rate' else f'{value:,.0f}/s'}"
            for name, value in cell.times.items()))

    for family in families:
        for K in QUICK_BASIC_SIZES if quick else BASIC_SIZES:
            run(lambda family=family, K=K: basic_cell(family, K, budget))
    for family in families:
        for K in QUICK_GENERAL_SIZES if quick else GENERAL_SIZES:
            for costs in regimes.COSTS:
                for grouping in regimes.GROUPINGS:
                    if costs == "none" and grouping == "singletons":
                        continue  # the basic model: the exact method itself
                    run(lambda family=family, K=K, costs=costs, grouping=grouping:
                        general_cell(family, K, costs, grouping, budget))
    for grouping in ("singletons", "groups of 1-10"):
        run(lambda grouping=grouping:
            batch_cell(grouping, QUICK_BATCH_M if quick else BATCH_M, 10 * budget))
    grid.seconds = time.perf_counter() - started
    return grid


@dataclass
class Outcome:
    target: Target
    cells: int
    worst: Cell | None
    ratio: float | None
    ok: bool | None


def outcomes(grid: Grid) -> list[Outcome]:
    """Each target at its worst cell (None where no cell measured it)."""
    out = []
    for target in TARGETS:
        measured = [(target.ratio(cell), cell) for cell in grid.cells if target.covers(cell)]
        measured = [(ratio, cell) for ratio, cell in measured if ratio is not None]
        if not measured:
            out.append(Outcome(target, 0, None, None, None))
            continue
        ratio, cell = (min if target.at_least else max)(measured, key=lambda pair: pair[0])
        out.append(Outcome(target, len(measured), cell, ratio,
                           None if grid.quick else target.passes(ratio)))
    return out


# -- the report ------------------------------------------------------------------------------

def _format(value: float, unit: str) -> str:
    return f"{value:,.0f}/s" if unit == "/s" else format_ratio(value)


def _bound(target: Target) -> str:
    side = ">=" if target.at_least else "<="
    return f"{side} {_format(target.bound, target.unit)}"


def headline_rows(grid: Grid) -> list[str]:
    """The targets table: each target's worst cell, its ratio, the bound and the verdict."""
    lines = ["| target | worst cell | ratio there | target | cells | |",
             "| --- | --- | --- | --- | --- | --- |"]
    for outcome in outcomes(grid):
        target = outcome.target
        if outcome.worst is None:
            lines.append(f"| {target.name} | - | - | {_bound(target)} | 0 | not measured |")
            continue
        cell = outcome.worst
        lines.append(f"| {target.name} | {cell.label} | {_format(outcome.ratio, target.unit)} | "
                     f"{_bound(target)} | {outcome.cells} | "
                     f"{'smoke run' if grid.quick else verdict(outcome.ok)} |")
    return lines


def _table(grid: Grid, targets: list[Target], rows: list[tuple[str, str, str]],
           sizes) -> list[str]:
    """Rows of cells, a column per K: the ratio of ``targets[0]`` (all share it), marked where
    the target that covers that K misses."""
    lines = ["| " + " | ".join(["family", "costs", "grouping"] + [f"K = {K:,}" for K in sizes])
             + " |", "| " + " | ".join(["---"] * (3 + len(sizes))) + " |"]
    kind = targets[0].kind
    index = {(c.family, c.costs, c.grouping, c.K): c for c in grid.cells if c.kind == kind}
    for family, costs, grouping in rows:
        entries = []
        for K in sizes:
            cell = index.get((family, costs, grouping, K))
            ratio = None if cell is None else targets[0].ratio(cell)
            if ratio is None:
                differs = None if cell is None else cell.notes.get("numpy_differs")
                entries.append("-" if differs is None else f"peer off by {differs:+.1e}")
                continue
            judges = [t for t in targets if t.covers(cell)]
            mark = " **miss**" if any(not t.passes(ratio) for t in judges) else ""
            entries.append(f"{format_ratio(ratio)}{mark}")
        lines.append(f"| {family} | {costs} | {grouping} | " + " | ".join(entries) + " |")
    return lines


def section(grid: Grid, figure: str | None = None) -> list[str]:
    """The grid's part of docs/benchmarks.md: its targets, then every cell, target by target."""
    basic_sizes = sorted({c.K for c in grid.cells if c.kind == "basic"})
    general_sizes = sorted({c.K for c in grid.cells if c.kind == "general"})
    families = list(dict.fromkeys(c.family for c in grid.cells if c.kind == "basic"))
    combos = [(costs, grouping) for costs in regimes.COSTS for grouping in regimes.GROUPINGS
              if not (costs == "none" and grouping == "singletons")]
    took = f"{grid.seconds:.0f} s" if grid.seconds < 120 else f"{grid.seconds / 60:.1f} min"
    lines = [f"{len(grid.cells)} cells, measured in {took}. Families, fixed "
             "costs and groupings: bench/regimes.py; how each cell is checked and timed: "
             "bench/grid.py. A ratio is the median time of the numerator over the "
             "denominator's, measured side by side; **miss** marks a cell past its target.", ""]
    if grid.failures:
        lines += ["Checks that failed (their cells are left out):", ""]
        lines += [f"- {failure}" for failure in grid.failures] + [""]
    basic_rows = [(f, "none", "singletons") for f in families]
    lines += ["### Basic model: end to end from NumPy arrays", ""]
    for numerator, denominator in (("numpy", "paba"), ("paba", "floor")):
        targets = [t for t in TARGETS if t.kind == "basic" and t.numerator == numerator
                   and t.denominator == denominator]
        lines += [" and ".join(f"{t.name}: {_bound(t)}" for t in targets)
                  + " (every K shown; marks where a target applies):", ""]
        lines += _table(grid, targets, basic_rows, basic_sizes) + [""]
    active = {(c.family, c.K): c.notes.get("active") for c in grid.cells if c.kind == "basic"}
    lines += ["Workers that carry load in the basic optimum:", "",
              "| family | " + " | ".join(f"K = {K:,}" for K in basic_sizes) + " |",
              "| --- | " + " | ".join("---" for _ in basic_sizes) + " |"]
    for family in families:
        lines.append(f"| {family} | " + " | ".join(
            f"{active.get((family, K), '-'):,}" if active.get((family, K)) is not None else "-"
            for K in basic_sizes) + " |")
    lines += ["", "### General model: fixed costs and groups, on a prebuilt System", ""]
    for target in (t for t in TARGETS if t.kind == "general"):
        rows = [(f, costs, grouping) for f in families for costs, grouping in combos
                if costs in target.costs and grouping in target.groupings]
        lines += [f"{target.name} (target {_bound(target)}):", ""]
        lines += _table(grid, [target], rows, general_sizes) + [""]
    slow = [c for c in grid.cells if c.kind == "general" and c.times.get("paba", 0) > 1e-3]
    if slow:
        lines += ["General cells whose solve took over 1 ms (method, outer iterations):", ""]
        lines += [f"- {c.label}: {format_seconds(c.times['paba'])}, {c.notes.get('method')}, "
                  f"{c.notes.get('iterations')} iterations" for c in slow] + [""]
    lines += ["### Batches", ""]
    for cell in (c for c in grid.cells if c.kind == "batch"):
        lines.append(f"- {cell.label}: {cell.times['rate']:,.0f} instances/s on one thread "
                     f"({format_seconds(cell.times['one'])} each; methods "
                     f"{', '.join(str(m) for m in cell.notes['methods'])})")
    lines.append("")
    if figure:
        lines += [f"![The ratio of every target against K, one line per family]({figure})", ""]
    return lines


def plot(grid: Grid, path: Path) -> bool:
    """One panel per basic and general target: its ratio against K, a line per family (the
    worst over costs and groupings for the general ones), the target as a dashed line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    targets = [t for t in TARGETS if t.kind != "batch"]
    columns = 3
    rows = math.ceil(len(targets) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for ax, target in zip(axes.flat, targets, strict=False):  # spare axes are hidden
        families = list(dict.fromkeys(c.family for c in grid.cells if c.kind == target.kind))
        for family in families:
            points = {}
            for cell in grid.cells:
                if cell.family != family or not (cell.kind == target.kind
                                                 and cell.grouping in target.groupings
                                                 and cell.costs in target.costs):
                    continue
                ratio = target.ratio(cell)
                if ratio is None:
                    continue
                worse = min if target.at_least else max
                points[cell.K] = worse(points.get(cell.K, ratio), ratio)
            if points:
                Ks = sorted(points)
                ax.plot(Ks, [points[K] for K in Ks], marker="o", label=family)
        ax.axhline(target.bound, color="black", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("K (workers)")
        ax.set_title(target.name, fontsize=8)
    for ax in list(axes.flat)[len(targets):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and budgets")
    parser.add_argument("--out", type=Path, help="Markdown file to write")
    parser.add_argument("--budget", type=float, help="seconds of repeats per timed call")
    args = parser.parse_args(argv)
    grid = measure(args.quick, args.budget)
    figure = None
    if args.out is not None and plot(grid, args.out.with_suffix(".png")):
        figure = args.out.with_suffix(".png").name
    text = "\n".join(["## Targets on the regime grid", "", *headline_rows(grid), "",
                      *section(grid, figure)])
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 1 if grid.failures else 0


if __name__ == "__main__":
    sys.exit(main())
