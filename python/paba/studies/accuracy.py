"""The accuracy study behind ``paba train``: the same model, data, shards, scenario and seed
trained with every scheme within one learning-latency budget; writes summary.json, report.md
and a figure of test accuracy against learning latency (docs/training.md)."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._allocation import SCHEMES
from .._scenario import FADING, Scenario
from .._validation import choice, integer, output_directory
from ..training._names import BUILTIN_DATASETS, DEFAULT_HIDDEN, MODELS, OPTIMIZERS, SHARDING
from ._options import (
    POSITIVE,
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
    percent,
    points,
    pyplot,
    with_baseline,
    write_summary,
)
from .paper import PAPER_ACCURACY_GAIN_POINTS

#: Fraction of the data set held out for testing (``paba train`` keeps it).
TEST_FRACTION = 0.2

#: Name of the figure.
FIGURE = "accuracy_vs_latency.png"

#: Granularity of each model's blocks: logistic regression is decomposable (any coordinate is a
#: unit); the MLP's units are neurons (a weight row with its bias).
GRANULARITY = {"logistic": "parameter", "mlp": "unit"}


def run_accuracy_study(*, model: str = "mlp", dataset: str = "digits", workers: int = 20,
                       seed: int = 0, budget: float = 100.0, schemes=SCHEMES,
                       sharding: str = "iid", classes_per_worker: int = 2,
                       fading: str = "rayleigh", bandwidth_mhz: float = 10.0,
                       hidden=None, optimizer: str = "sgd", lr: float = 0.05,
                       momentum: float = 0.9, group_size: int = 1,
                       max_iterations: int | None = None,
                       eval_every: int = 1, test_fraction: float = TEST_FRACTION,
                       out: str | os.PathLike | None = None, figures: bool = True,
                       checkpoint: str | os.PathLike | None = None,
                       checkpoint_every: int = 10, progress: bool | None = None,
                       trainer_class=None) -> dict:
    """Train one model with every scheme on the same seed, scenario and shards.

    Parameters
    ----------
    model : {"logistic", "mlp"}
        The model (``paba.training.build_model``); built with the same initial weights for
        every scheme.
    dataset : str
        A data set that ships with scikit-learn (``paba.training.BUILTIN_DATASETS``) or the
        path of a LIBSVM/svmlight file.
    workers : int
        Number of workers K, one shard and one group each.
    seed : int
        Seed of the split, the shards, the initial weights, the scenario and the dealing of
        units.
    budget : float
        Learning-latency budget in seconds.
    schemes : sequence of str
        Schemes to train with; ``"equal"`` is always added (the baseline).
    sharding : {"iid", "label_skew"}
        How the training set is split across workers; ``classes_per_worker`` for label skew.
    fading : {"rayleigh", "rician", "none"}
        Block fading of the scenario (``"none"``: a static channel).
    bandwidth_mhz : float
        Total bandwidth in MHz.
    hidden : sequence of int, optional
        Hidden layer widths of the MLP (default 1024, 1024).
    optimizer, lr, momentum
        The server's optimiser (``paba.training.make_optimizer``).
    group_size : int
        Workers per group (consecutive workers; the last group may be smaller): the members of
        a group train the same block on their own shards (docs/algorithms.md 2). 1: one each.
    max_iterations : int, optional
        Stop every run after this many iterations as well.
    eval_every : int
        Iterations between evaluations on the test set.
    out : path, optional
        Directory for summary.json, report.md and the figure (created).
    figures : bool
        Draw the figure (needs matplotlib).
    checkpoint : path, optional
        Directory of per-scheme checkpoints (``<scheme>.pt``): a run resumes from its file and
        a finished run is not repeated.
    checkpoint_every : int
        Iterations between checkpoints.
    progress : bool, optional
        Progress bar on stderr; default: when stderr is a terminal.
    trainer_class : callable, optional
        Builds each scheme's trainer in place of :class:`paba.training.PartitionedTrainer`
        (same arguments); ``paba.distributed``'s server passes its own.

    Returns
    -------
    dict
        The content of summary.json.
    """
    from ..training import ModelPartition, build_model, load_dataset, parameter_count, shard, train

    started = time.perf_counter()
    schemes = with_baseline(schemes)
    choice("model", model, MODELS)
    choice("sharding", sharding, SHARDING)
    choice("optimizer", optimizer, OPTIMIZERS)
    group_size = integer("group_size", group_size, minimum=1, maximum=workers)
    groups = None if group_size == 1 else np.arange(workers) // group_size
    try:
        data = load_dataset(dataset, test_fraction=test_fraction, seed=seed)
    except ValueError as error:  # load_dataset's argument is this function's dataset
        message = str(error)
        if message.startswith("name: "):
            raise ValueError("dataset: " + message[len("name: "):]) from None
        raise
    shards = shard(data.y_train, workers, scheme=sharding,
                   classes_per_worker=classes_per_worker, seed=seed)
    scenario = Scenario.default(n_workers=workers, bandwidth=bandwidth_mhz * 1e6, fading=fading,
                                seed=seed)
    granularity = GRANULARITY[model]
    probe = build_model(model, data.n_features, data.n_classes, hidden=hidden, seed=seed)
    partition = ModelPartition(probe, granularity)
    n_params = parameter_count(probe)
    # The arguments are good; before any training, so are the directories (a bad one is found
    # now, not after hours of training).
    if out is not None:
        output_directory("out", out, files=["summary.json", "report.md",
                                            *((FIGURE,) if figures else ())])
        if figures:
            pyplot()  # and matplotlib, which draws it
    if checkpoint is not None:
        output_directory("checkpoint", checkpoint, files=[f"{s}.pt" for s in schemes])
    bar = Progress(1000 * len(schemes), enabled=progress)
    results = {}
    for position, scheme in enumerate(schemes):
        net = build_model(model, data.n_features, data.n_classes, hidden=hidden, seed=seed)

        def report(result, position=position, scheme=scheme):
            done = (min(1.0, result.learning_latency / budget) if result.stopped == "running"
                    else 1.0)
            bar.update(int(1000 * (position + done)),
                       f"{scheme}: {result.iterations} it, "
                       f"{result.learning_latency:.3g}/{budget:g} s, acc {result.accuracy:.3f}")

        path = None if checkpoint is None else Path(checkpoint) / f"{scheme}.pt"
        results[scheme] = train(
            net, data, scenario, scheme, shards=shards, granularity=granularity, budget=budget,
            max_iterations=max_iterations, optimizer=optimizer, lr=lr, momentum=momentum,
            seed=seed, eval_every=eval_every, checkpoint=path,
            checkpoint_every=checkpoint_every, progress=report,
            scheduler_options=None if groups is None else {"groups": groups},
            trainer_class=trainer_class)
    bar.close()

    equal = results["equal"]
    per_scheme = {}
    for scheme, result in results.items():
        entry = result.to_dict()
        entry["accuracy_gain_vs_equal_points"] = 100.0 * (result.accuracy - equal.accuracy)
        entry["iterations_vs_equal"] = (result.iterations / equal.iterations
                                        if equal.iterations else None)
        per_scheme[scheme] = entry
    joint = results.get("joint")
    checkpoints = [0.25 * budget, 0.5 * budget, budget]
    summary: dict[str, Any] = {
        "paba_version": __version__,
        "dataset": data.to_dict() | {"source": dataset, "test_fraction": test_fraction},
        "model": {"name": model, "params": n_params, "hidden": None if model != "mlp" else
                  list(hidden or DEFAULT_HIDDEN), "granularity": granularity,
                  "units": partition.n_units,
                  "unit_sizes": {str(s): int(c) for s, c in zip(
                      partition.granules.sizes.tolist(), partition.granules.counts.tolist(),
                      strict=True)}},
        "scenario": scenario.replace(params=n_params).to_dict(),
        "settings": {"workers": workers, "seed": seed, "budget_s": budget, "schemes": schemes,
                     "sharding": sharding, "classes_per_worker": classes_per_worker,
                     "shard_sizes": [int(np.asarray(s).size) for s in shards],
                     "optimizer": optimizer, "lr": lr, "momentum": momentum,
                     "group_size": group_size,
                     "max_iterations": max_iterations, "eval_every": eval_every,
                     "fading": fading, "bandwidth_mhz": bandwidth_mhz},
        "schemes": per_scheme,
        "accuracy_at": {
            f"{c:g}": {s: r.accuracy_at(c) for s, r in results.items()} for c in checkpoints},
        "headline": {
            "joint_accuracy_gain_vs_equal_points": (
                None if joint is None else 100.0 * (joint.accuracy - equal.accuracy)),
            "joint_iterations": None if joint is None else joint.iterations,
            "equal_iterations": equal.iterations,
            "paper_accuracy_gain_points": PAPER_ACCURACY_GAIN_POINTS,
            "budget_s": budget,
        },
        "files": {},
        "runtime_s": None,
    }
    if out is not None:
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        summary["files"] = {"summary": "summary.json", "report": "report.md",
                            "figures": {"accuracy_vs_latency": FIGURE} if figures else {}}
        if figures:
            accuracy_figure(directory / FIGURE, results, budget,
                            title=f"{model} on {data.name}, K = {workers}, "
                                  f"{'static channel' if fading == 'none' else fading + ' fading'}")
        summary["runtime_s"] = time.perf_counter() - started
        write_summary(directory, summary, accuracy_report(summary))
    else:
        summary["runtime_s"] = time.perf_counter() - started
    return summary


def accuracy_figure(path: Path, results: dict, budget: float, *, title: str = "") -> None:
    """Test accuracy and test loss against learning latency, one line per scheme."""
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for scheme, result in results.items():
        style = dict(STYLES.get(scheme, {}))
        style.pop("marker", None)
        label = f"{scheme} ({result.iterations} it, {percent(result.accuracy)})"
        # The model of the last iteration stands until the budget runs out.
        latency = [*result.latency, max(budget, result.learning_latency)]
        left.step(latency, [*np.asarray(result.test_accuracy) * 100, 100 * result.accuracy],
                  where="post", label=label, **style)
        right.step(latency, [*result.test_loss, result.test_loss[-1]], where="post",
                   label=scheme, **style)
    for ax in (left, right):
        ax.axvline(budget, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlabel("learning latency (s)")
        ax.set_xlim(0, budget * 1.02)
        ax.grid(alpha=0.3)
    left.set_ylabel("test accuracy (%)")
    right.set_ylabel("test cross-entropy")
    right.set_yscale("log")
    left.legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_report(summary: dict) -> str:
    """A short Markdown report of an accuracy study."""
    settings = summary["settings"]
    model = summary["model"]
    data = summary["dataset"]
    headline = summary["headline"]
    fading = settings["fading"]
    channel = "a static channel (path loss only)" if fading == "none" else f"{fading} fading"
    lines = [
        "# paba accuracy study",
        "",
        f"paba {summary['paba_version']}: {model['name']} ({model['params']:,} parameters in "
        f"{model['units']:,} units) on `{data['name']}` ({data['n_train']} training and "
        f"{data['n_test']} test samples), {settings['workers']} workers with "
        f"{settings['sharding']} shards, {channel}, {settings['bandwidth_mhz']:g} MHz, seed "
        f"{settings['seed']}; {settings['optimizer']} (lr {settings['lr']:g}) on the server; "
        f"learning-latency budget {settings['budget_s']:g} s. Runtime "
        f"{summary['runtime_s']:.0f} s.",
        "",
        "| scheme | test accuracy at the budget | vs equal (points) | iterations | "
        "mean iteration latency (s) | final test loss |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scheme, s in summary["schemes"].items():
        mean = s["mean_iteration_latency_s"]
        lines.append(
            f"| {scheme} | {percent(s['test_accuracy'])} | "
            f"{'baseline' if scheme == 'equal' else points(s['accuracy_gain_vs_equal_points'])}"
            f" | {s['iterations']} | {'n/a' if mean is None else f'{mean:.3g}'} | "
            f"{s['test_loss']:.3g} |")
    lines += ["", "Test accuracy at fractions of the budget:", "",
              "| scheme | " + " | ".join(f"{c} s" for c in summary["accuracy_at"]) + " |",
              "| --- |" + " --- |" * len(summary["accuracy_at"])]
    for scheme in summary["schemes"]:
        lines.append(f"| {scheme} | " + " | ".join(
            percent(at[scheme]) for at in summary["accuracy_at"].values()) + " |")
    lines += [
        "",
        f"Joint against equal at {headline['budget_s']:g} s: "
        f"{points(headline['joint_accuracy_gain_vs_equal_points'])} points "
        f"({headline['joint_iterations']} against {headline['equal_iterations']} iterations); "
        f"the paper reports about +{headline['paper_accuracy_gain_points']:g} points in its "
        "own setting.",
        "",
        f"The model size sets the time scale: with L = {model['params']:,} parameters the "
        f"equal split completes {headline['equal_iterations']} iterations within the budget. "
        "The allocation only matters while the budget is short of convergence; a model small "
        "enough to finish thousands of iterations (the 650-parameter logistic regression on "
        "digits) reaches the same accuracy with every scheme. The default MLP of about a "
        "million parameters gives tens of iterations per 100 s, as in the paper's large-model "
        "setting.",
        "",
    ]
    figures = summary["files"].get("figures") or {}
    if figures:
        lines += ["![test accuracy and loss against learning latency]"
                  f"({figures['accuracy_vs_latency']})", ""]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``paba train``."""
    parser.add_argument("--model", choices=MODELS, default="mlp",
                        help="mlp (about 1.1 million parameters on digits) or logistic (mlp)")
    parser.add_argument("--dataset", default="digits", metavar="NAME_OR_PATH",
                        help=f"{', '.join(BUILTIN_DATASETS)} (shipped with scikit-learn) or "
                             "the path of a LIBSVM/svmlight file (digits)")
    add_workers(parser)
    add_seed(parser, "the split, shards, weights and channels")
    parser.add_argument("--budget", type=POSITIVE, default=100.0,
                        help="learning-latency budget in seconds (100)")
    add_schemes(parser)
    parser.add_argument("--sharding", choices=SHARDING, default="iid",
                        help="how the training set is split across workers (iid)")
    parser.add_argument("--classes-per-worker", type=positive_int(), default=2,
                        help="labels per worker with --sharding label_skew (2)")
    parser.add_argument("--fading", choices=FADING, default="rayleigh",
                        help="block fading of the cell; none is a static channel (rayleigh)")
    add_bandwidth(parser)
    parser.add_argument("--hidden", type=positive_int(), nargs="+", default=None,
                        metavar="WIDTH", help="hidden layer widths of the MLP "
                                              f"({' '.join(map(str, DEFAULT_HIDDEN))})")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                        help="the server's optimiser (sgd, with momentum)")
    parser.add_argument("--lr", type=POSITIVE, default=0.05, help="learning rate (0.05)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0.9)")
    parser.add_argument("--group-size", type=positive_int(), default=1,
                        help="workers per group: consecutive workers train the same block on "
                             "their own shards (1)")
    parser.add_argument("--max-iterations", type=positive_int(), default=None,
                        help="also stop every run after this many iterations")
    parser.add_argument("--eval-every", type=positive_int(), default=1,
                        help="iterations between test evaluations (1)")
    parser.add_argument("--checkpoint", default=None, metavar="DIR",
                        help="save each scheme's full state here every few iterations and "
                             "resume from it")
    parser.add_argument("--checkpoint-every", type=positive_int(), default=10,
                        help="iterations between checkpoints (10)")
    parser.add_argument("--no-figures", action="store_true", help="write no PNG figure")
    add_output(parser, "paba-train")


def study_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :func:`run_accuracy_study` that ``paba train``'s options give."""
    return dict(
        model=args.model, dataset=args.dataset, workers=args.workers, seed=args.seed,
        budget=args.budget, schemes=args.schemes, sharding=args.sharding,
        classes_per_worker=args.classes_per_worker, fading=args.fading,
        bandwidth_mhz=args.bandwidth, hidden=args.hidden, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, group_size=args.group_size,
        max_iterations=args.max_iterations, eval_every=args.eval_every,
        out=args.out, figures=not args.no_figures, checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every, progress=False if args.quiet else None)


def main(args: argparse.Namespace, study: Callable[..., dict] | None = None) -> int:
    """``paba train``: run the accuracy study (``study``, default :func:`run_accuracy_study`,
    with :func:`study_options`), print its table."""
    summary = (study or run_accuracy_study)(**study_options(args))
    if not args.quiet:
        model, settings = summary["model"], summary["settings"]
        print(f"paba {__version__}: accuracy study, {model['name']} ({model['params']:,} "
              f"parameters) on {summary['dataset']['name']}, K = {settings['workers']} workers, "
              f"{settings['fading']} fading, budget {settings['budget_s']:g} s, seed "
              f"{settings['seed']}")
        print(f"\n{'scheme':<17}{'accuracy':>10}{'vs equal':>11}{'iterations':>12}"
              f"{'test loss':>11}")
        for scheme, s in summary["schemes"].items():
            gain = ("baseline" if scheme == "equal"
                    else points(s["accuracy_gain_vs_equal_points"], "pt"))
            print(f"{scheme:<17}{100 * s['test_accuracy']:>9.1f}%{gain:>11}"
                  f"{s['iterations']:>12}{s['test_loss']:>11.3g}")
        print(f"\npaper (its own setting): joint about +{PAPER_ACCURACY_GAIN_POINTS:g} "
              f"points vs equal at 100 s. Wrote {args.out}/summary.json, report.md"
              f"{'' if args.no_figures else ' and ' + FIGURE} in "
              f"{summary['runtime_s']:.0f} s")
    return 0
