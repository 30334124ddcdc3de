"""The latency study behind ``paba simulate``: every scheme over the same channel draws, on a
static channel and under block fading, with sweeps over the number of workers and the bandwidth;
writes summary.json, latency.csv, report.md and PNG figures (docs/scenarios.md section 5)."""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._allocation import SCHEMES
from .._scenario import FADING, Scenario
from .._scheduler import CSI_MODES, Scheduler
from .._validation import n_threads, option, output_directory
from ._options import (
    MAX_ITERATIONS,
    MAX_WORKER_ITERATIONS,
    MAX_WORKERS,
    add_bandwidth,
    add_output,
    add_schemes,
    add_seed,
    add_workers,
    positive_int,
)
from ._report import (
    STYLES,
    Progress,
    change,
    pyplot,
    reduction,
    with_baseline,
    write_summary,
)
from .paper import PAPER, PAPER_REDUCTION_VS_EQUAL

#: Sweep points of the figures.
WORKERS_SWEEP = (5, 10, 20, 30, 50, 75, 100)
BANDWIDTH_SWEEP_MHZ = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0)

FIGURES = {
    "latency_per_scheme": "latency_per_scheme.png",
    "latency_vs_workers": "latency_vs_workers.png",
    "latency_vs_bandwidth": "latency_vs_bandwidth.png",
    "latency_cdf": "latency_cdf.png",
}


def _scheme_stats(histories: dict) -> dict:
    stats = {scheme: history.summary() for scheme, history in histories.items()}
    equal = stats.get("equal")
    out = {}
    for scheme, s in stats.items():
        out[scheme] = {
            "mean_latency_s": s["mean"],
            "median_latency_s": s["median"],
            "p95_latency_s": s["p95"],
            "max_latency_s": s["max"],
            "mean_planned_latency_s": s["planned_mean"],
            "reduction_vs_equal": None if equal is None else reduction(s["mean"],
                                                                        equal["mean"]),
            "median_reduction_vs_equal": None if equal is None else reduction(
                s["median"], equal["median"]),
            "mean_active_workers": s["mean_active"],
            "mean_present_workers": s["mean_present"],
            "iterations": s["iterations"],
            "skipped_iterations": s["skipped"],
        }
    return out


def run_study(scenario: Scenario, *, schemes=SCHEMES, iterations: int = 1000,
              scheduler_options: dict | None = None, sweep_iterations: int = 200,
              workers_sweep=WORKERS_SWEEP, bandwidth_sweep_mhz=BANDWIDTH_SWEEP_MHZ,
              out: str | os.PathLike | None = None, figures: bool = True,
              progress: bool | None = None) -> dict:
    """Run the latency study and, with ``out``, write its files.

    Parameters
    ----------
    scenario : Scenario
        The faded scenario of the main run (its ``fading`` must not be ``"none"``; the static
        run is the same scenario with ``fading="none"``).
    schemes : sequence of str
        Schemes to compare; ``"equal"`` is always added (the baseline of every reduction).
    iterations : int
        Iterations of the static and faded runs.
    scheduler_options : dict, optional
        Keyword arguments of :class:`Scheduler` shared by every run (``csi``, ``delay``,
        ``csi_error_db``, ``availability``, ``jitter``, ...).
    sweep_iterations : int
        Iterations per point of the sweeps (faded channel).
    workers_sweep, bandwidth_sweep_mhz : sequences
        Numbers of workers, and total bandwidths in MHz, of the sweeps (empty: no sweep).
    out : path, optional
        Directory for summary.json, latency.csv, report.md and the figures (created).
    figures : bool
        Draw the PNG figures (needs matplotlib).
    progress : bool, optional
        Show a progress bar on stderr; default: when stderr is a terminal.

    Returns
    -------
    dict
        The content of summary.json.
    """
    started = time.perf_counter()
    schemes = with_baseline(schemes)
    if scenario.fading == "none":
        raise ValueError("fading: the study compares a static channel with a faded one; "
                         "choose 'rayleigh' or 'rician'")
    options = dict(scheduler_options or {})
    options.setdefault("record", "summary")
    options.pop("iterations", None)
    Scheduler(scenario, "equal", iterations=1, **options)  # the options, checked up front
    if out is not None:  # before any work: a bad directory is found now, not after the run
        output_directory("out", out, files=["summary.json", "latency.csv", "report.md",
                                            *(FIGURES.values() if figures else ())])
        if figures:
            pyplot()  # and matplotlib, which draws them
    workers_sweep = [int(k) for k in workers_sweep]
    bandwidth_sweep_mhz = [float(b) for b in bandwidth_sweep_mhz]
    total = (2 * iterations + sweep_iterations * (len(workers_sweep) + len(bandwidth_sweep_mhz))
             ) * len(schemes)
    bar = Progress(total, enabled=progress)
    done = 0

    def run(scn: Scenario, scheme: str, n: int, label: str):
        nonlocal done
        base = done
        history = Scheduler(scn, scheme, iterations=n, **options).run(
            batch=True, progress=lambda k: bar.update(base + k, label))
        done = base + n
        return history

    channels: dict[str, dict[str, Any]] = {}
    histories: dict[str, dict[str, Any]] = {}
    for name, scn in (("static", scenario.replace(fading="none")), ("faded", scenario)):
        histories[name] = {s: run(scn, s, iterations, f"{name} {s}") for s in schemes}
        channels[name] = {"fading": scn.fading, "schemes": _scheme_stats(histories[name])}

    def sweep(field: str, values, make):
        result = {"values": values, "mean_latency_s": {s: [] for s in schemes},
                  "median_latency_s": {s: [] for s in schemes}}
        for value in values:
            scn = make(value)
            for s in schemes:
                summary = run(scn, s, sweep_iterations, f"{field}={value:g} {s}").summary()
                result["mean_latency_s"][s].append(summary["mean"])
                result["median_latency_s"][s].append(summary["median"])
        return result

    sweeps = {
        "workers": sweep("workers", workers_sweep, lambda k: scenario.replace(n_workers=k)),
        "bandwidth_mhz": sweep("bandwidth", bandwidth_sweep_mhz,
                               lambda b: scenario.replace(bandwidth=b * 1e6)),
    }
    bar.close()

    faded = channels["faded"]["schemes"]
    static = channels["static"]["schemes"]
    summary: dict[str, Any] = {
        "paba_version": __version__,
        "scenario": scenario.to_dict(),
        "settings": {"iterations": iterations, "sweep_iterations": sweep_iterations,
                     "schemes": schemes, "seed": scenario.seed,
                     "scheduler": {k: v for k, v in options.items() if k != "trace"}},
        "schemes": faded,
        "channels": channels,
        "headline": {
            "joint_reduction_vs_equal_faded": faded.get("joint", {}).get("reduction_vs_equal"),
            "joint_reduction_vs_equal_static": static.get("joint", {}).get(
                "reduction_vs_equal"),
            "joint_median_reduction_vs_equal_faded": faded.get("joint", {}).get(
                "median_reduction_vs_equal"),
            "paper_reduction_vs_equal": PAPER_REDUCTION_VS_EQUAL,
            "paper": PAPER,
            "our_scenario": (f"this project's default cell (docs/algorithms.md section 5) with "
                             f"K = {scenario.n_workers}, B = {scenario.bandwidth / 1e6:g} MHz, "
                             f"L = {scenario.params} parameters, seed {scenario.seed}; static: "
                             f"path loss only; faded: {scenario.fading} block fading"),
        },
        "sweeps": sweeps,
        "files": {},
        "runtime_s": None,
    }
    if out is not None:
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        _write_csv(directory / "latency.csv", histories, schemes)
        summary["files"] = {"csv": "latency.csv", "report": "report.md", "figures": (
            _figures(directory, summary, histories, schemes) if figures else {})}
        summary["runtime_s"] = time.perf_counter() - started
        write_summary(directory, summary, _report(summary))
    else:
        summary["runtime_s"] = time.perf_counter() - started
    return summary


def _write_csv(path: Path, histories: dict, schemes: list) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["channel", "iteration", *(f"{s}_latency_s" for s in schemes)])
        for channel, runs in histories.items():
            columns = [runs[s].latency for s in schemes]
            for t in range(columns[0].size):
                writer.writerow([channel, t, *(repr(float(c[t])) for c in columns)])


def _log_scale(ax, axis: str) -> None:
    """A log axis where the plotted data allow one (some positive finite value)."""
    values = [np.asarray(line.get_xdata() if axis == "x" else line.get_ydata(), dtype=float)
              for line in ax.get_lines()]
    values += [np.asarray([p.get_height() for p in ax.patches], dtype=float)]
    if any(np.any(np.isfinite(v) & (v > 0)) for v in values):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def _figures(directory: Path, summary: dict, histories: dict, schemes: list) -> dict:
    """Draw the figures; returns {figure: file name} of those written (a sweep without points
    has no figure)."""
    plt = pyplot()

    scenario = summary["scenario"]
    title = (f"K = {scenario['n_workers']}, B = {scenario['bandwidth'] / 1e6:g} MHz, "
             f"L = {scenario['params']:.3g}, seed {scenario['seed']}")
    x = np.arange(len(schemes))

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, channel in zip(axes, ("static", "faded"), strict=True):
        stats = summary["channels"][channel]["schemes"]
        mean = [stats[s]["mean_latency_s"] for s in schemes]
        median = [stats[s]["median_latency_s"] for s in schemes]
        p95 = [stats[s]["p95_latency_s"] for s in schemes]
        ax.bar(x, mean, color="tab:blue", alpha=0.75, label="mean")
        ax.scatter(x, median, color="black", zorder=3, label="median")
        ax.scatter(x, p95, color="tab:red", marker="_", s=300, zorder=3, label="95th pct")
        for i, s in enumerate(schemes):
            reduction = stats[s]["reduction_vs_equal"]
            if s != "equal" and reduction is not None:
                ax.annotate(f"{-100 * reduction:+.0f}%", (i, mean[i]), ha="center",
                            va="bottom", fontsize=8)
        ax.set_xticks(x, [s.replace("_", "\n") for s in schemes], fontsize=8)
        _log_scale(ax, "y")
        fading = summary["channels"][channel]["fading"]
        ax.set_title(f"{channel} channel ({'path loss only' if fading == 'none' else fading})")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("iteration latency (s)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Iteration latency per scheme; mean change vs equal ({title})", fontsize=10)
    fig.tight_layout()
    fig.savefig(directory / FIGURES["latency_per_scheme"], dpi=110)
    plt.close(fig)
    written = {"latency_per_scheme": FIGURES["latency_per_scheme"]}

    for key, name, xlabel in (("workers", "latency_vs_workers", "number of workers K"),
                              ("bandwidth_mhz", "latency_vs_bandwidth",
                               "total bandwidth B (MHz)")):
        data = summary["sweeps"][key]
        if not data["values"]:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        for ax, statistic in zip(axes, ("mean", "median"), strict=True):
            for s in schemes:
                ax.plot(data["values"], data[f"{statistic}_latency_s"][s], label=s, **STYLES[s])
            _log_scale(ax, "y")
            ax.set_xlabel(xlabel)
            ax.set_title(f"{statistic} over {summary['settings']['sweep_iterations']} "
                         "iterations per point", fontsize=10)
            ax.grid(alpha=0.3, which="both")
        axes[0].set_ylabel("iteration latency (s)")
        axes[0].legend(fontsize=8)
        fading = summary["channels"]["faded"]["fading"]
        fig.suptitle(f"{fading} fading; the other settings as the main run ({title})",
                     fontsize=10)
        fig.tight_layout()
        fig.savefig(directory / FIGURES[name], dpi=110)
        plt.close(fig)
        written[name] = FIGURES[name]

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s in schemes:
        values = np.sort(histories["faded"][s].latency)
        values = values[~np.isnan(values)]
        ax.step(values, np.arange(1, values.size + 1) / max(values.size, 1), where="post",
                label=s, linestyle=STYLES[s].get("linestyle", "-"))
    _log_scale(ax, "x")
    ax.set_xlabel("iteration latency (s)")
    ax.set_ylabel("fraction of iterations")
    ax.set_title(f"CDF of iteration latency, {summary['channels']['faded']['fading']} fading "
                 f"({title})", fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(directory / FIGURES["latency_cdf"], dpi=110)
    plt.close(fig)
    written["latency_cdf"] = FIGURES["latency_cdf"]
    return written


def _report(summary: dict) -> str:
    headline = summary["headline"]
    settings = summary["settings"]
    scheduler = settings["scheduler"]
    lines = [
        "# paba latency study",
        "",
        f"paba {summary['paba_version']}; {headline['our_scenario']}; "
        f"{settings['iterations']} iterations per scheme and channel; channel knowledge "
        f"`{scheduler.get('csi', 'perfect')}`, availability {scheduler.get('availability', 1)}, "
        f"compute jitter {scheduler.get('jitter', 0)}. Runtime {summary['runtime_s']:.1f} s.",
        "",
        "## Headline",
        "",
        "| | joint vs equal (mean latency) |",
        "| --- | --- |",
        f"| paper (its own scenario) | about -{100 * headline['paper_reduction_vs_equal']:.0f}% |",
        f"| ours, static channel | {change(headline['joint_reduction_vs_equal_static'])} |",
        f"| ours, {summary['channels']['faded']['fading']} fading | "
        f"{change(headline['joint_reduction_vs_equal_faded'])} "
        f"(median: {change(headline['joint_median_reduction_vs_equal_faded'])}) |",
        "",
        "The paper's figure is for its own scenario, whose constants its abstract does not give;",
        "ours are for this project's default cell (docs/algorithms.md section 5). Under",
        "Rayleigh fading the equal split's mean latency is dominated by the deepest fades (a",
        "worker in a fade keeps its full block and its fixed bandwidth; E[1/|h|^2] is unbounded",
        "for Rayleigh fading), so its mean grows with the number of iterations drawn and the",
        "median reduction is the steadier figure.",
        "",
    ]
    for channel, stats in summary["channels"].items():
        fading = stats["fading"]
        lines += [f"## {channel.capitalize()} channel "
                  f"({'path loss only' if fading == 'none' else fading + ' fading'})",
                  "",
                  "| scheme | mean (s) | median (s) | p95 (s) | mean vs equal | median vs equal |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for scheme, s in stats["schemes"].items():
            lines.append(
                f"| {scheme} | {s['mean_latency_s']:.4g} | {s['median_latency_s']:.4g} | "
                f"{s['p95_latency_s']:.4g} | "
                f"{'baseline' if scheme == 'equal' else change(s['reduction_vs_equal'])} | "
                f"{'baseline' if scheme == 'equal' else change(s['median_reduction_vs_equal'])}"
                " |")
        lines.append("")
    figures = summary["files"]["figures"]
    if figures:
        lines += ["## Figures", ""]
        captions = {
            "latency_per_scheme": "mean (bars), median (dots) and 95th percentile (red) of "
                                  "the iteration latency per scheme, static and faded",
            "latency_vs_workers": "mean and median latency against the number of workers",
            "latency_vs_bandwidth": "mean and median latency against the total bandwidth",
            "latency_cdf": "CDF of the iteration latency under fading",
        }
        for key, path in figures.items():
            lines += [f"![{captions[key]}]({path})", "", f"*{captions[key]}*", ""]
    lines += ["Per-iteration latencies: `latency.csv`; every number above: `summary.json`.", ""]
    return "\n".join(lines)



def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``paba simulate``."""
    add_workers(parser)
    parser.add_argument("--params", type=positive_int(), default=10**6,
                        help="model size L in parameters (1000000)")
    add_bandwidth(parser)
    parser.add_argument("--iterations", type=positive_int(MAX_ITERATIONS), default=1000,
                        help="iterations per scheme and channel (1000; workers x iterations "
                             f"at most {MAX_WORKER_ITERATIONS:,})")
    add_seed(parser)
    add_schemes(parser)
    parser.add_argument("--csi", choices=CSI_MODES, default="perfect",
                        help="channel knowledge of the allocator (perfect)")
    parser.add_argument("--delay", type=positive_int(), default=1,
                        help="iterations of delay for --csi delayed (1)")
    parser.add_argument("--csi-error-db", type=float, default=2.0,
                        help="std of the channel estimate's error in dB for --csi noisy (2)")
    parser.add_argument("--availability", type=float, default=1.0,
                        help="probability that a worker is present in an iteration (1)")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="sigma of the log-normal compute-time factor (0)")
    parser.add_argument("--fading", choices=tuple(f for f in FADING if f != "none"),
                        default="rayleigh", help="block fading of the faded run (rayleigh)")
    parser.add_argument("--k-factor", type=float, default=1.0,
                        help="Rician K-factor, linear (1)")
    parser.add_argument("--shadowing-db", type=float, default=0.0,
                        help="std of log-normal shadowing in dB (0)")
    parser.add_argument("--sweep-iterations", type=positive_int(MAX_ITERATIONS), default=200,
                        help="iterations per point of the sweeps (200)")
    parser.add_argument("--sweep-workers", type=positive_int(MAX_WORKERS), nargs="+",
                        default=list(WORKERS_SWEEP), metavar="K",
                        help="numbers of workers of the sweep "
                             f"({' '.join(map(str, WORKERS_SWEEP))})")
    parser.add_argument("--sweep-bandwidth", type=float, nargs="+",
                        default=list(BANDWIDTH_SWEEP_MHZ), metavar="MHZ",
                        help="total bandwidths in MHz of the sweep "
                             f"({' '.join(f'{b:g}' for b in BANDWIDTH_SWEEP_MHZ)})")
    parser.add_argument("--no-sweeps", action="store_true",
                        help="skip the sweeps over workers and bandwidth")
    parser.add_argument("--no-figures", action="store_true", help="write no PNG figures")
    parser.add_argument("--threads", type=option(int, n_threads), default=1,
                        help="threads of the batch solver (1)")
    add_output(parser, "paba-study")


def main(args: argparse.Namespace) -> int:
    """``paba simulate``: run the study, print its table."""
    for name, workers, iterations in (
            ("iterations", args.workers, args.iterations),
            ("sweep_iterations", max(args.sweep_workers), args.sweep_iterations)):
        if workers * iterations > MAX_WORKER_ITERATIONS:
            raise ValueError(f"{name}: {workers:,} workers x {iterations:,} iterations is more "
                             f"than paba simulate's limit of {MAX_WORKER_ITERATIONS:,} "
                             "worker-iterations per run (docs/scenarios.md 5)")

    scenario = Scenario.default(n_workers=args.workers, params=args.params,
                                bandwidth=args.bandwidth * 1e6, seed=args.seed,
                                fading=args.fading, k_factor=args.k_factor,
                                shadowing_std_db=args.shadowing_db)
    options = dict(csi=args.csi, delay=args.delay, csi_error_db=args.csi_error_db,
                   availability=args.availability, jitter=args.jitter, n_threads=args.threads)
    summary = run_study(scenario, schemes=args.schemes, iterations=args.iterations,
                        scheduler_options=options, sweep_iterations=args.sweep_iterations,
                        workers_sweep=() if args.no_sweeps else args.sweep_workers,
                        bandwidth_sweep_mhz=() if args.no_sweeps else args.sweep_bandwidth,
                        out=args.out, figures=not args.no_figures,
                        progress=False if args.quiet else None)
    if not args.quiet:
        print(f"paba {__version__}: latency study, K = {scenario.n_workers} workers, "
              f"B = {scenario.bandwidth / 1e6:g} MHz, {args.iterations} iterations, "
              f"seed {scenario.seed}, CSI {args.csi}")
        header = f"{'scheme':<17}{'mean (s)':>11}{'median (s)':>12}{'p95 (s)':>11}{'vs equal':>10}"
        for channel, stats in summary["channels"].items():
            print(f"\n{channel} channel ({stats['fading']})")
            print(header)
            for scheme, s in stats["schemes"].items():
                shown = ("baseline" if scheme == "equal" or s["reduction_vs_equal"] is None
                         else change(s["reduction_vs_equal"]))
                print(f"{scheme:<17}{s['mean_latency_s']:>11.4g}{s['median_latency_s']:>12.4g}"
                      f"{s['p95_latency_s']:>11.4g}{shown:>10}")
        print(f"\npaper (its own scenario): joint about -{100 * PAPER_REDUCTION_VS_EQUAL:.0f}% "
              f"vs equal. Wrote {args.out}/summary.json, latency.csv, report.md"
              f"{'' if args.no_figures else ' and figures'} in {summary['runtime_s']:.1f} s")
    return 0
