"""A sweep's output directory: results.csv (and .parquet), summary.json, report.md and figures
(docs/sweeps.md section 4).

Everything written here is a function of the table without its wall-clock column, except
summary.json's ``timing``: a sweep resumed after a kill ends with the same files as one that ran
through, but for the solve times and ``timing``.

Calls into the studies' shared report helpers (paba.studies._report), the only ones:
``write_summary`` writes report.md and summary.json as strict JSON; ``STYLES`` gives each
scheme the line style of the study's figures.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import __version__
from ..._sweep._table import (
    TIMING_COLUMNS,
    Journal,
    arrays,
    columns,
    read_csv,
    write_csv,
    write_parquet,
)
from ..._validation import output_directory

#: Files of the output directory (figures: one heatmap, one figure per varying axis).
RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
SUMMARY = "summary.json"
REPORT = "report.md"
DEFINITION = "sweep.json"
PROGRESS = "progress.jsonl"
HEATMAP = "reduction_heatmap.png"

#: Cells listed in report.md's table (the rest are in results.csv).
REPORT_CELLS = 60

# Student's t at 0.975 for 1..30 degrees of freedom; beyond, the normal 1.96 (under 2% off).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: int) -> float:
    return _T975[df - 1] if 1 <= df <= len(_T975) else 1.96


def mean_ci(values) -> tuple[float, float]:
    """Mean of the finite values and the half-width of its 95% confidence interval (Student's t;
    NaN with fewer than two values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    if values.size == 1:
        return float(values[0]), math.nan
    return (float(values.mean()),
            t975(values.size - 1) * float(values.std(ddof=1)) / math.sqrt(values.size))


def varying_axes(sweep) -> list[str]:
    """The settings that take more than one value across the cells."""
    return [name for name in sweep.columns if len(axis_values(sweep, name)) > 1]


def axis_values(sweep, name: str) -> list:
    """The values a setting takes across the cells: numbers in increasing order, strings in
    the order they first appear (the order given)."""
    values = list(dict.fromkeys(sweep.value(c, name) for c in range(len(sweep.cells))))
    return values if isinstance(values[0], str) else sorted(values)


def figure_files(sweep) -> dict[str, str]:
    """The figures a sweep draws: {figure: file name}."""
    axes = varying_axes(sweep)
    files = {}
    if "joint" in sweep.schemes and len(axes) >= 2:
        files["reduction_heatmap"] = HEATMAP
    for name in axes:
        files[f"latency_vs_{name}"] = f"latency_vs_{name}.png"
    return files


def output_files(sweep, figures: bool) -> list[str]:
    return [DEFINITION, RESULTS_CSV, RESULTS_PARQUET, SUMMARY, REPORT,
            *(figure_files(sweep).values() if figures else ())]


def _grouped(data: dict, keys: list[str], statistic: str, scheme: str) -> dict:
    """{tuple of values of ``keys``: {seed: mean of ``statistic`` over the other settings}}."""
    mask = data["scheme"] == scheme
    groups: dict = {}
    for i in np.flatnonzero(mask):
        key = tuple(data[k][i].item() for k in keys)
        groups.setdefault(key, {}).setdefault(int(data["seed"][i]), []).append(
            float(data[statistic][i]))
    return {key: {seed: float(np.mean(v)) for seed, v in seeds.items()}
            for key, seeds in groups.items()}


def _label(name: str) -> str:
    return {"n_workers": "workers K", "bandwidth": "bandwidth B (MHz)", "params": "model size L",
            "iterations": "iterations"}.get(name, name)


def _shown(name: str, value) -> str:
    if name == "bandwidth":
        return f"{value / 1e6:g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_cell(cell: dict) -> str:
    """A cell's settings for a reader: ``workers K 20, bandwidth B (MHz) 10``."""
    return ", ".join(f"{_label(name)} {_shown(name, value)}" for name, value in cell.items()) \
        or "the base settings"


def summarise(sweep, data: dict) -> dict:
    """The deterministic part of summary.json: the definition, the size, and per scheme the
    reductions against equal over every cell (mean over seeds, then the spread over cells)."""
    cells = range(len(sweep.cells))
    per_scheme = {}
    for scheme in sweep.schemes:
        out = {}
        for statistic in ("median_reduction_vs_equal", "reduction_vs_equal",
                          "median_latency_s", "mean_latency_s"):
            per_cell = _grouped(data, ["cell"], statistic, scheme)
            means = {cell: mean_ci(list(per_cell[(cell,)].values()))[0] for cell in cells}
            finite = {c: v for c, v in means.items() if math.isfinite(v)}
            entry: dict[str, Any] = {"mean_over_cells": (float(np.mean(list(finite.values())))
                                                         if finite else None)}
            if finite:
                low = min(finite, key=finite.__getitem__)
                high = max(finite, key=finite.__getitem__)
                entry["min"] = {"value": finite[low], "cell": sweep.cells[low]}
                entry["max"] = {"value": finite[high], "cell": sweep.cells[high]}
            out[statistic] = entry
        per_scheme[scheme] = out
    return {
        "paba_version": __version__,
        "sweep": sweep.to_dict(),
        "size": {"cells": len(sweep.cells), "seeds": len(sweep.seeds),
                 "schemes": len(sweep.schemes), "rows": len(sweep)},
        "columns": columns(sweep),
        "varying_axes": varying_axes(sweep),
        "schemes": per_scheme,
    }


def _change(value: float, half: float = math.nan) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{-100 * value:+.1f}%"
    return text + (f" ± {100 * half:.1f}" if math.isfinite(half) else "")


def report(sweep, data: dict, summary: dict) -> str:
    definition = summary["sweep"]
    lines = [
        "# paba sweep",
        "",
        f"paba {summary['paba_version']}; {len(sweep.cells)} cells x {len(sweep.seeds)} seeds "
        f"x {len(sweep.schemes)} schemes ({', '.join(sweep.schemes)}); "
        f"{sweep.iterations} iterations per run unless a cell sets its own.",
        "",
    ]
    if sweep.axes is not None:
        lines += ["| setting | values |", "| --- | --- |"]
        for name, values in sweep.axes.items():
            lines.append(f"| {_label(name)} | {', '.join(_shown(name, v) for v in values)} |")
        lines.append("")
    seeds = sweep.seeds
    seed_text = (f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1))
                 and len(seeds) > 2 else ", ".join(map(str, seeds)))
    lines += [f"Seeds: {seed_text}. Base scenario: {definition['scenario'] or 'the defaults'}; "
              f"scheduler options: {definition['scheduler'] or 'the defaults'}. Each (cell, "
              "seed) runs every scheme on the same channel draws, from a seed derived from the "
              "cell's settings and the sweep seed (docs/sweeps.md section 2).", ""]
    if "joint" in sweep.schemes:
        overall = summary["schemes"]["joint"]["median_reduction_vs_equal"]
        if overall["mean_over_cells"] is not None:
            lines += ["## Joint against equal", "",
                      f"Median iteration latency, joint against equal, averaged over seeds: "
                      f"{_change(overall['mean_over_cells'])} on average over the cells, from "
                      f"{_change(overall['max']['value'])} "
                      f"({describe_cell(overall['max']['cell'])}) to "
                      f"{_change(overall['min']['value'])} "
                      f"({describe_cell(overall['min']['cell'])}).", ""]
    names = sweep.columns
    header = [*(_label(n) for n in names),
              *(f"{s} median (s)" for s in sweep.schemes)]
    if "joint" in sweep.schemes:
        header += ["joint median vs equal (95% CI)", "joint mean vs equal"]
    lines += ["## Cells", "", "Means over the seeds of each run's median iteration latency; "
              "reductions per seed, then averaged (± the half-width of a 95% confidence "
              "interval over seeds).", "",
              "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    medians = {s: _grouped(data, ["cell"], "median_latency_s", s) for s in sweep.schemes}
    if "joint" in sweep.schemes:
        reduction = _grouped(data, ["cell"], "median_reduction_vs_equal", "joint")
        mean_reduction = _grouped(data, ["cell"], "reduction_vs_equal", "joint")
    for cell in range(min(len(sweep.cells), REPORT_CELLS)):
        row = [_shown(n, sweep.value(cell, n)) for n in names]
        row += [f"{mean_ci(list(medians[s][(cell,)].values()))[0]:.4g}" for s in sweep.schemes]
        if "joint" in sweep.schemes:
            row.append(_change(*mean_ci(list(reduction[(cell,)].values()))))
            row.append(_change(mean_ci(list(mean_reduction[(cell,)].values()))[0]))
        lines.append("| " + " | ".join(row) + " |")
    if len(sweep.cells) > REPORT_CELLS:
        lines.append(f"\n(the first {REPORT_CELLS} of {len(sweep.cells)} cells; all in "
                     f"{RESULTS_CSV})")
    lines.append("")
    figures = summary["files"]["figures"]
    if figures:
        lines += ["## Figures", ""]
        for key, path in figures.items():
            if key == "reduction_heatmap":
                x, y = varying_axes(sweep)[:2]
                caption = (f"joint's reduction of the median and of the mean iteration latency "
                           f"against equal over {_label(x)} and {_label(y)}")
            else:
                caption = (f"median and mean iteration latency against "
                           f"{_label(key[len('latency_vs_'):])}, with 95% confidence bands "
                           "over seeds")
            lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
    files = [RESULTS_CSV] + ([RESULTS_PARQUET] if summary["files"].get("parquet") else [])
    lines += [f"Every row (cell, seed, scheme): {' and '.join(files)}; the numbers above and "
              f"the timing: {SUMMARY}.", ""]
    return "\n".join(lines)


def _figures(directory: Path, sweep, data: dict) -> dict:
    from .._report import STYLES, pyplot

    plt = pyplot()

    files = figure_files(sweep)
    axes = varying_axes(sweep)
    others = ", ".join(_label(n) for n in axes[2:])
    if "reduction_heatmap" in files:
        x, y = axes[:2]
        xs, ys = axis_values(sweep, x), axis_values(sweep, y)
        fig, panels = plt.subplots(1, 2, figsize=(11, 4.4))
        for ax, statistic, title in zip(
                panels, ("median_reduction_vs_equal", "reduction_vs_equal"),
                ("median latency", "mean latency"), strict=True):
            groups = _grouped(data, [y, x], statistic, "joint")
            grid = np.full((len(ys), len(xs)), np.nan)
            for (vy, vx), seeds in groups.items():
                grid[ys.index(vy), xs.index(vx)] = 100 * mean_ci(list(seeds.values()))[0]
            image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
            for i in range(len(ys)):
                for j in range(len(xs)):
                    if math.isfinite(grid[i, j]):
                        ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center",
                                color="white" if grid[i, j] < np.nanmean(grid) else "black",
                                fontsize=8)
            ax.set_xticks(range(len(xs)), [_shown(x, v) for v in xs])
            ax.set_yticks(range(len(ys)), [_shown(y, v) for v in ys])
            ax.set_xlabel(_label(x))
            ax.set_ylabel(_label(y))
            ax.set_title(f"joint vs equal: reduction of the {title} (%)", fontsize=10)
            fig.colorbar(image, ax=ax)
        fig.suptitle(f"mean over {len(sweep.seeds)} seeds"
                     + (f" and over {others}" if others else ""), fontsize=9)
        fig.tight_layout()
        fig.savefig(directory / files["reduction_heatmap"], dpi=100)
        plt.close(fig)

    for name in axes:
        values = axis_values(sweep, name)
        numeric = not isinstance(values[0], str)
        position = values if numeric else list(range(len(values)))
        shown = [v / 1e6 for v in position] if name == "bandwidth" else position
        fig, panels = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        for ax, statistic in zip(panels, ("median", "mean"), strict=True):
            for scheme in sweep.schemes:
                groups = _grouped(data, [name], f"{statistic}_latency_s", scheme)
                stats = [mean_ci(list(groups[(v,)].values())) for v in values]
                mean = np.array([m for m, _ in stats])
                half = np.array([h for _, h in stats])
                style = STYLES.get(scheme, {})
                line, = ax.plot(shown, mean, label=scheme, **style)
                if np.any(np.isfinite(half)):
                    ax.fill_between(shown, mean - half, mean + half, alpha=0.2,
                                    color=line.get_color(), linewidth=0)
            if np.all(np.isfinite(ax.get_ylim())) and ax.get_ylim()[0] > 0:
                ax.set_yscale("log")
            if not numeric:
                ax.set_xticks(position, values)
            ax.set_xlabel(_label(name))
            ax.set_title(f"{statistic} iteration latency per run, mean over seeds",
                         fontsize=10)
            ax.grid(alpha=0.3, which="both")
        panels[0].set_ylabel("iteration latency (s)")
        panels[0].legend(fontsize=8)
        rest = [_label(n) for n in axes if n != name]
        fig.suptitle("95% confidence bands over seeds"
                     + (f"; averaged over {', '.join(rest)}" if rest else ""), fontsize=9)
        fig.tight_layout()
        fig.savefig(directory / files[f"latency_vs_{name}"], dpi=100)
        plt.close(fig)
    return files


def write_outputs(directory: Path, sweep, results: dict, *, figures: bool,
                  timing: dict) -> dict:
    """Write every file of a finished sweep into ``directory``; returns summary.json's
    content."""
    from .._report import write_summary

    data = arrays(sweep, results)
    write_csv(directory / RESULTS_CSV, data)
    parquet = write_parquet(directory / RESULTS_PARQUET, data)
    if not parquet:
        (directory / RESULTS_PARQUET).unlink(missing_ok=True)
    summary = summarise(sweep, data)
    deterministic = {k: v for k, v in data.items() if k not in TIMING_COLUMNS}
    summary["files"] = {"csv": RESULTS_CSV, "parquet": RESULTS_PARQUET if parquet else None,
                        "report": REPORT, "definition": DEFINITION,
                        "figures": _figures(directory, sweep, deterministic) if figures else {}}
    summary["timing"] = timing
    write_summary(directory, summary, report(sweep, data, summary))
    return summary


def _plain(value):
    """JSON's view of a value (tuples as lists), to compare a definition with sweep.json's."""
    return json.loads(json.dumps(value))


def check_directory(sweep, out, resume: bool) -> bool:
    """Whether ``out`` holds a sweep to resume; a ValueError where it holds one and ``resume``
    is off, or where it holds a different sweep."""
    directory = Path(out)
    held = (directory / DEFINITION).exists() or (directory / PROGRESS).exists()
    if held and not resume:
        raise ValueError(f"out: {out} already holds a sweep ({DEFINITION}); pass --resume "
                         "(resume=True) to continue it, or choose another directory")
    if held:
        try:
            existing = json.loads((directory / DEFINITION).read_text())
        except (OSError, ValueError):
            existing = None
        if existing != _plain(sweep.to_dict()):
            raise ValueError(f"resume: {out} holds a different sweep ({DEFINITION} differs "
                             "from these settings); run the same settings, or choose "
                             "another directory")
    return held


def run_to(sweep, out, executor=None, *, chunk_size=None, resume: bool = False,
           figures: bool = True, progress=None) -> dict:
    """Run ``sweep`` (a :class:`paba.Sweep`) and write its directory ``out``: results.csv,
    results.parquet (with pyarrow), summary.json, report.md, the figures and sweep.json
    (docs/sweeps.md section 4). With ``resume``, the (cell, seed) units that ``out`` already
    holds are not run again. ``executor``, ``chunk_size`` and ``progress`` as for
    :meth:`paba.Sweep.run`. Returns summary.json's content.

    Every check comes before any work: the sweep's cells, the directory, and (with ``resume``)
    that ``out`` holds this same sweep. While it runs, ``sweep.json`` holds the definition and
    ``progress.jsonl`` each completed unit; at the end the results are written in the table's
    order and ``progress.jsonl`` is removed, so that an interrupted and resumed sweep ends with
    the same files as one that ran through (up to the wall-clock solve times and ``timing``).
    """
    from ..._sweep._runner import execute

    started = time.perf_counter()
    sweep.check()
    directory = output_directory("out", out, files=[*output_files(sweep, figures), PROGRESS])
    if figures:
        from .._report import pyplot

        pyplot()  # refused here, before any work, where matplotlib is missing
    definition = _plain(sweep.to_dict())
    journal = Journal(directory / PROGRESS, sweep)
    results: dict = {}
    if check_directory(sweep, out, resume):
        if journal.path.exists():
            results = journal.read()
        elif (directory / RESULTS_CSV).exists():
            results = read_csv(directory / RESULTS_CSV, sweep)
    resumed = len(results)
    (directory / DEFINITION).write_text(json.dumps(definition, indent=2) + "\n")
    stats: dict = {}
    results = execute(sweep, executor, chunk_size=chunk_size, progress=progress,
                      done=results, on_result=journal.append, stats=stats)
    ran = len(results) - resumed
    runtime = time.perf_counter() - started
    solve = sum(row[-1] for rows in results.values() for row in rows)
    name = executor if isinstance(executor, str) else (
        "process" if executor is None else type(executor).__name__)
    timing = {"runtime_s": runtime, "executor": name, **stats, "units": len(results),
              "units_run": ran,
              "units_resumed": resumed, "units_per_s": ran / runtime if runtime > 0 else None,
              "solve_time_s": solve}
    summary = write_outputs(directory, sweep, results, figures=figures, timing=timing)
    journal.remove()
    return summary
