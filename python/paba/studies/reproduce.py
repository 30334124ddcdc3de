"""``paba reproduce``: the latency study and the accuracy study at their defaults, and one report
that puts our numbers beside the paper's headline (about 46% lower latency than the equal split;
about 4 points more test accuracy at a 100 s learning-latency budget)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from .. import __version__
from .._scenario import Scenario
from .._validation import output_directory, positive_float, real_number
from ._options import POSITIVE, add_seed
from ._report import change, percent, points, write_summary
from .latency import run_study
from .paper import PAPER, PAPER_ACCURACY_GAIN_POINTS, PAPER_REDUCTION_VS_EQUAL


def reproduce(out: str | os.PathLike = "paba-reproduction", *, seed: int = 0,
              budget: float = 100.0, static_accuracy: bool = True,
              checkpoint: str | os.PathLike | None = None,
              progress: bool | None = None, log=print) -> dict:
    """Run both studies at their defaults and write ``out/report.md`` and ``out/summary.json``.

    Parameters
    ----------
    out : path
        Output directory; the studies write into ``latency/``, ``accuracy/`` (the default
        Rayleigh-faded scenario) and ``accuracy_static/`` (the same cell without fading).
    seed : int
        Seed of both studies.
    budget : float
        Learning-latency budget of the accuracy studies, in seconds.
    static_accuracy : bool
        Also run the accuracy study on the static channel.
    checkpoint : path, optional
        Directory of the accuracy studies' checkpoints (resumed when present).
    progress : bool, optional
        Progress bars on stderr; default: when stderr is a terminal.
    log : callable
        Receives one line per finished step (``print`` by default; None for silence).

    Returns
    -------
    dict
        The content of summary.json.
    """
    from .accuracy import run_accuracy_study  # imports torch: only when it runs

    started = time.perf_counter()
    Scenario.default(seed=seed)  # the arguments, checked before any directory is made
    positive_float("budget", real_number("budget", budget))
    # Every directory the studies write, checked before the first of them starts.
    directory = output_directory("out", out, files=["report.md", "summary.json"])
    names = ["latency", "accuracy", *(["accuracy_static"] if static_accuracy else [])]
    for name in names:
        output_directory("out", directory / name)
        if checkpoint is not None and name != "latency":
            output_directory("checkpoint", Path(checkpoint) / name)
    say = log or (lambda *_: None)
    latency = run_study(Scenario.default(seed=seed), out=directory / "latency",
                        progress=progress)
    say(f"latency study: {time.perf_counter() - started:.0f} s -> {directory / 'latency'}")
    channels = {"faded": "accuracy"}
    if static_accuracy:
        channels["static"] = "accuracy_static"
    accuracy = {}
    for channel, name in channels.items():
        begun = time.perf_counter()
        accuracy[channel] = run_accuracy_study(
            seed=seed, budget=budget, fading="rayleigh" if channel == "faded" else "none",
            out=directory / name, progress=progress,
            checkpoint=None if checkpoint is None else Path(checkpoint) / name)
        say(f"accuracy study ({channel} channel): {time.perf_counter() - begun:.0f} s -> "
            f"{directory / name}")
    summary = {
        "paba_version": __version__,
        "paper": PAPER,
        "paper_headline": {"latency_reduction_vs_equal": PAPER_REDUCTION_VS_EQUAL,
                           "accuracy_gain_points_at_100_s": PAPER_ACCURACY_GAIN_POINTS},
        "latency": latency["headline"],
        "accuracy": {channel: study["headline"] for channel, study in accuracy.items()},
        "directories": {"latency": "latency", **{channel: channels[channel]
                                                 for channel in accuracy}},
        "runtime_s": None,
    }
    summary["runtime_s"] = time.perf_counter() - started
    write_summary(directory, summary, _report(summary, latency, accuracy))
    say(f"report: {directory / 'report.md'} ({summary['runtime_s']:.0f} s in all)")
    return summary


def _report(summary: dict, latency: dict, accuracy: dict) -> str:
    paper = summary["paper_headline"]
    head = latency["headline"]
    faded = accuracy["faded"]
    model = faded["model"]
    data = faded["dataset"]
    settings = faded["settings"]
    scenario = latency["scenario"]
    static = accuracy.get("static")
    static_gain = ("not run" if static is None
                   else points(static["headline"]["joint_accuracy_gain_vs_equal_points"],
                               "points"))
    lines = [
        "# paba: reproduction of the paper's headline",
        "",
        f"paba {summary['paba_version']}, `paba reproduce` in {summary['runtime_s']:.0f} s. "
        f"Paper: {summary['paper']}.",
        "",
        "| | paper (its own setting) | ours, static channel | ours, Rayleigh fading |",
        "| --- | --- | --- | --- |",
        f"| iteration latency, joint vs equal | about "
        f"-{100 * paper['latency_reduction_vs_equal']:.0f}% | "
        f"{change(head['joint_reduction_vs_equal_static'])} (mean) | "
        f"{change(head['joint_reduction_vs_equal_faded'])} (mean), "
        f"{change(head['joint_median_reduction_vs_equal_faded'])} (median) |",
        f"| test accuracy at {settings['budget_s']:g} s, joint minus equal | about "
        f"+{paper['accuracy_gain_points_at_100_s']:g} points | "
        f"{static_gain} | "
        f"{points(faded['headline']['joint_accuracy_gain_vs_equal_points'], 'points')} |",
        "",
        "## The scenario",
        "",
        f"This project's default cell (docs/algorithms.md section 5), not the paper's constants, "
        f"which its abstract does not give: K = {scenario['n_workers']} workers uniform in a "
        f"disc of radius {scenario['cell_radius']:g} m (at least {scenario['min_distance']:g} m "
        f"from the server), path loss 128.1 + 37.6 log10(d / 1 km) dB, noise "
        f"{scenario['noise_dbm_per_hz']:g} dBm/Hz, {scenario['uplink_power_dbm']:g} dBm uplink "
        f"and {scenario['downlink_power_dbm']:g} dBm downlink over "
        f"B = {scenario['bandwidth'] / 1e6:g} MHz, CPUs uniform in [0.1, 1] GHz, "
        f"{scenario['cycles_per_parameter']:g} cycles per parameter per sample, "
        f"{scenario['bits_per_parameter']:g} bits per parameter. The static channel has path "
        "loss only; the faded one redraws Rayleigh block fading every iteration. Every scheme "
        "sees the same channel draws.",
        "",
        f"The accuracy study trains an MLP of {model['params']:,} parameters "
        f"(hidden layers {model['hidden']}, {model['units']:,} units: a neuron's weight row "
        f"with its bias) on scikit-learn's handwritten digits ({data['n_train']} training, "
        f"{data['n_test']} test samples, {data['n_features']} features, {data['n_classes']} "
        f"classes), split IID across the {settings['workers']} workers; each worker's compute "
        "time counts its whole shard every iteration. The model is large on purpose: a "
        f"{settings['budget_s']:g} s budget then covers tens of iterations, as in the paper's "
        "large-model setting (a 650-parameter logistic regression would finish thousands of "
        "iterations within the budget and show no difference). Blocks are made of whole "
        "neurons, so every allocation is rounded to them and its bandwidth re-balanced "
        "(docs/algorithms.md 3.6). The server applies SGD with momentum "
        f"(lr {settings['lr']:g}) to the cascaded block gradients.",
        "",
        "## Latency",
        "",
        "| scheme | static: mean (s) | vs equal | faded: mean (s) | median (s) | "
        "median vs equal |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scheme, s in latency["channels"]["faded"]["schemes"].items():
        t = latency["channels"]["static"]["schemes"][scheme]
        base = scheme == "equal"
        lines.append(
            f"| {scheme} | {t['mean_latency_s']:.4g} | "
            f"{'baseline' if base else change(t['reduction_vs_equal'])} | "
            f"{s['mean_latency_s']:.4g} | {s['median_latency_s']:.4g} | "
            f"{'baseline' if base else change(s['median_reduction_vs_equal'])} |")
    figures = latency["files"].get("figures") or {}
    lines += [""]
    for key in ("latency_per_scheme", "latency_cdf"):
        if key in figures:
            lines += [f"![{key}](latency/{figures[key]})", ""]
    lines += [
        "Under Rayleigh fading the equal split keeps a worker in a deep fade at its full block "
        "and fixed bandwidth, so its mean latency is dominated by the deepest fades; the median "
        "is the steadier comparison. Full study: [latency/report.md](latency/report.md).",
        "",
        "## Accuracy within the latency budget",
        "",
    ]
    for channel, study in accuracy.items():
        label = "Rayleigh fading" if channel == "faded" else "static channel"
        folder = summary["directories"][channel]
        marks = list(study["accuracy_at"])[:-1]  # the fractions of the budget before its end
        lines += [f"### {label.capitalize()}", "",
                  "| scheme | test accuracy at the budget | vs equal | "
                  + "".join(f"at {mark} s | " for mark in marks)
                  + "iterations | mean iteration latency (s) |",
                  "| --- | --- | --- |" + " --- |" * len(marks) + " --- | --- |"]
        for scheme, s in study["schemes"].items():
            mean = s["mean_iteration_latency_s"]
            gain = ("baseline" if scheme == "equal"
                    else points(s["accuracy_gain_vs_equal_points"], "points"))
            earlier = "".join(f"{percent(study['accuracy_at'][mark][scheme])} | "
                              for mark in marks)
            lines.append(f"| {scheme} | {percent(s['test_accuracy'])} | {gain} | {earlier}"
                         f"{s['iterations']} | {'n/a' if mean is None else f'{mean:.3g}'} |")
        figure = (study["files"].get("figures") or {}).get("accuracy_vs_latency")
        lines += [""]
        if figure:
            lines += [f"![accuracy against latency, {label}]({folder}/{figure})", ""]
        lines += [f"Full study: [{folder}/report.md]({folder}/report.md).", ""]
    lines += [
        "## Reading the numbers",
        "",
        "- Every accuracy gain comes from iterations: each scheme runs the same training "
        "algorithm, so a scheme that makes iterations shorter completes more of them within the "
        "budget. Where every scheme has converged by the budget (a small model, a generous "
        "budget) the accuracies meet; the curves show where they part.",
        "- The paper's figures are for its own scenario and model; the signs and rough sizes "
        "are what is comparable, not the digits.",
        "- Everything is seeded: the same command gives the same numbers on the same machine "
        "(the PyTorch CPU kernels may round differently on another).",
        "",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``paba reproduce``."""
    parser.add_argument("--out", default="paba-reproduction", metavar="DIR",
                        help="output directory (paba-reproduction)")
    add_seed(parser, "both studies")
    parser.add_argument("--budget", type=POSITIVE, default=100.0,
                        help="learning-latency budget in seconds (100)")
    parser.add_argument("--no-static", action="store_true",
                        help="skip the accuracy study on the static channel")
    parser.add_argument("--checkpoint", default=None, metavar="DIR",
                        help="checkpoint directory of the accuracy studies (resumed)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars and no summary on the terminal")


def main(args: argparse.Namespace) -> int:
    """``paba reproduce``: both studies and the report; prints the headline."""
    summary = reproduce(args.out, seed=args.seed, budget=args.budget,
                        static_accuracy=not args.no_static, checkpoint=args.checkpoint,
                        progress=False if args.quiet else None,
                        log=None if args.quiet else print)
    if not args.quiet:
        latency = summary["latency"]
        faded = summary["accuracy"]["faded"]
        print(f"\nlatency, joint vs equal: paper about -{100 * PAPER_REDUCTION_VS_EQUAL:.0f}%; "
              f"ours "
              f"{change(latency['joint_reduction_vs_equal_static'])} static, "
              f"{change(latency['joint_reduction_vs_equal_faded'])} mean and "
              f"{change(latency['joint_median_reduction_vs_equal_faded'])} median under "
              "Rayleigh fading")
        line = (f"accuracy at {faded['budget_s']:g} s, joint minus equal: paper about "
                f"+{PAPER_ACCURACY_GAIN_POINTS:g} points; ours "
                f"{points(faded['joint_accuracy_gain_vs_equal_points'], 'points')} "
                "under Rayleigh fading")
        static = summary["accuracy"].get("static")
        if static:
            line += f", {points(static['joint_accuracy_gain_vs_equal_points'])} static"
        print(line)
    return 0
