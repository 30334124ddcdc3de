"""Command line: ``paba compare`` solves one iteration of a default cell with every scheme and
prints the latencies side by side; ``paba simulate`` runs the latency study over many faded
iterations and writes its files (docs/scenarios.md); ``paba train`` runs the accuracy study
(partitioned PyTorch training with every scheme, docs/training.md); ``paba reproduce`` runs both
studies and writes the report beside the paper's headline."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._allocation import SCHEMES, allocate
from ._radio import static_cell

DESCRIPTIONS = {
    "equal": "L/N parameters and B/K Hz each",
    "bandwidth_aware": "parameters for an equal bandwidth split",
    "parameter_aware": "bandwidth for an equal parameter split",
    "sequential": "bandwidth-aware, then parameter-aware",
    "joint": "joint optimum (exact method where it applies)",
}


def _compare(args: argparse.Namespace) -> int:
    system = static_cell(args.workers, params=args.params, bandwidth=args.bandwidth * 1e6,
                         seed=args.seed)
    rows = []
    for scheme in args.schemes:
        allocation = allocate(system, scheme, backend=args.backend, tol=args.tol)
        times = []
        for _ in range(5):  # the first call above loads the backend; report the median of five
            start = time.perf_counter()
            allocate(system, scheme, backend=args.backend, tol=args.tol)
            times.append(time.perf_counter() - start)
        rows.append((scheme, allocation, sorted(times)[2]))
    baseline = next((a.latency for s, a, _ in rows if s == "equal"), None)
    if args.json:
        out = {
            "workers": system.n_workers, "params": system.params,
            "bandwidth_hz": system.bandwidth, "seed": args.seed,
            "schemes": {
                scheme: {
                    "latency_s": a.latency,
                    "relaxed_latency_s": a.relaxed_latency,
                    "reduction_vs_equal": None if baseline is None else 1 - a.latency / baseline,
                    "active_workers": int(np.count_nonzero(a.worker_latency)),
                    "solve_seconds": elapsed,
                    "iterations": a.iterations,
                    "converged": a.converged,
                    "backend": a.backend,
                }
                for scheme, a, elapsed in rows
            },
        }
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    print(f"paba {__version__}: one training iteration of partitioned edge learning")
    print(f"static cell, K = {system.n_workers} workers, L = {system.params:,} parameters, "
          f"B = {system.bandwidth / 1e6:g} MHz, seed {args.seed}")
    print("(this project's default scenario, path loss only, no fading: docs/algorithms.md)\n")
    header = (f"{'scheme':<17}{'latency (s)':>13}{'vs equal':>10}{'active':>12}"
              f"{'solve (ms)':>12}  what it does")
    print(header)
    print("-" * (len(header) + 28))
    for scheme, a, elapsed in rows:
        change = "" if baseline is None else f"{(a.latency / baseline - 1) * 100:+.1f}%"
        if scheme == "equal":
            change = "baseline"
        active = f"{np.count_nonzero(a.worker_latency)}/{system.n_workers}"
        flag = "" if a.converged else "  (not converged)"
        print(f"{scheme:<17}{a.latency:>13.6g}{change:>10}{active:>12}{elapsed * 1e3:>12.3f}"
              f"  {DESCRIPTIONS[scheme]}{flag}")
    print(f"\nbackend: {rows[0][1].backend}; latencies are of the integer loads; solve times are "
          "medians of five calls")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from ._scenario import Scenario
    from ._study import run_study

    for name, workers, iterations in (
            ("iterations", args.workers, args.iterations),
            ("sweep_iterations", max(args.sweep_workers), args.sweep_iterations)):
        if workers * iterations > MAX_WORKER_ITERATIONS:
            raise ValueError(f"{name}: {workers:,} workers x {iterations:,} iterations is more "
                             f"than paba simulate's limit of {MAX_WORKER_ITERATIONS:,} "
                             "worker-iterations per run (docs/scenarios.md section 5)")

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
                change = ("baseline" if scheme == "equal" or s["reduction_vs_equal"] is None
                          else f"{-100 * s['reduction_vs_equal']:+.1f}%")
                print(f"{scheme:<17}{s['mean_latency_s']:>11.4g}{s['median_latency_s']:>12.4g}"
                      f"{s['p95_latency_s']:>11.4g}{change:>10}")
        print(f"\npaper (its own scenario): joint about -46% vs equal. "
              f"Wrote {args.out}/summary.json, latency.csv, report.md"
              f"{'' if args.no_figures else ' and figures'} in {summary['runtime_s']:.1f} s")
    return 0


def _train(args: argparse.Namespace) -> int:
    try:
        from .training._accuracy import run_accuracy_study
    except ImportError as error:
        raise ValueError(f"model: training needs PyTorch and scikit-learn "
                         f"(pip install 'paba[train]'): {error}") from error
    study = run_accuracy_study
    if args.processes is not None or args.emulate_links is not None:  # docs/distributed.md
        from .distributed import study_in_processes

        study = study_in_processes(args)
    summary = study(
        model=args.model, dataset=args.dataset, workers=args.workers, seed=args.seed,
        budget=args.budget, schemes=args.schemes, sharding=args.sharding,
        classes_per_worker=args.classes_per_worker, fading=args.fading,
        bandwidth_mhz=args.bandwidth, hidden=args.hidden, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, group_size=args.group_size,
        max_iterations=args.max_iterations, eval_every=args.eval_every,
        out=args.out, figures=not args.no_figures, checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every, progress=False if args.quiet else None)
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
                    else f"{s['accuracy_gain_vs_equal_points']:+.1f} pt")
            print(f"{scheme:<17}{100 * s['test_accuracy']:>9.1f}%{gain:>11}"
                  f"{s['iterations']:>12}{s['test_loss']:>11.3g}")
        print(f"\npaper (its own setting): joint about +4 points vs equal at 100 s. "
              f"Wrote {args.out}/summary.json, report.md"
              f"{'' if args.no_figures else ' and accuracy_vs_latency.png'} in "
              f"{summary['runtime_s']:.0f} s")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError as error:
        raise ValueError(f"reproduce: the accuracy study needs PyTorch and scikit-learn "
                         f"(pip install 'paba[train]'): {error}") from error
    from ._reproduce import reproduce

    summary = reproduce(args.out, seed=args.seed, budget=args.budget,
                        static_accuracy=not args.no_static, checkpoint=args.checkpoint,
                        progress=False if args.quiet else None,
                        log=None if args.quiet else print)
    if not args.quiet:
        latency = summary["latency"]
        faded = summary["accuracy"]["faded"]

        def pct(value):
            return "n/a" if value is None else f"{-100 * value:+.1f}%"

        print(f"\nlatency, joint vs equal: paper about -46%; ours "
              f"{pct(latency['joint_reduction_vs_equal_static'])} static, "
              f"{pct(latency['joint_reduction_vs_equal_faded'])} mean and "
              f"{pct(latency['joint_median_reduction_vs_equal_faded'])} median under Rayleigh "
              "fading")
        line = (f"accuracy at {faded['budget_s']:g} s, joint minus equal: paper about +4 "
                f"points; ours {faded['joint_accuracy_gain_vs_equal_points']:+.1f} points "
                "under Rayleigh fading")
        static = summary["accuracy"].get("static")
        if static:
            line += f", {static['joint_accuracy_gain_vs_equal_points']:+.1f} static"
        print(line)
    return 0


#: What a command can be asked to do (docs/scenarios.md section 5): workers of one cell, iterations
#: of one run, and workers x iterations of one run of ``paba simulate``.
MAX_WORKERS = 100_000
MAX_ITERATIONS = 10**7
MAX_WORKER_ITERATIONS = 10**9


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _at_most(maximum: int):
    """An argparse type: a positive integer up to ``maximum``."""

    def parse(text: str) -> int:
        value = _positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {text}")
        return value

    parse.__name__ = "positive integer"
    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


COMMANDS = ("compare", "simulate", "train", "reproduce")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paba", description="Joint parameter-and-bandwidth allocation for partitioned "
                                 "edge learning.")
    parser.add_argument("--version", action="version", version=f"paba {__version__}")
    commands = parser.add_subparsers(dest="command")
    compare = commands.add_parser(
        "compare", help="compare every allocation scheme on one draw of a default cell")
    compare.add_argument("--workers", type=_at_most(MAX_WORKERS), default=20,
                         help=f"number of workers K (20; at most {MAX_WORKERS:,})")
    compare.add_argument("--params", type=int, default=10**6,
                         help="model size L in parameters (1000000)")
    compare.add_argument("--bandwidth", type=float, default=10.0,
                         help="total bandwidth in MHz (10)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the cell draw (0)")
    compare.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES),
                         metavar="SCHEME", help=f"schemes to run (all of {', '.join(SCHEMES)})")
    compare.add_argument("--backend", choices=("native", "reference"), default=None,
                         help="kernel backend (default: PABA_BACKEND or native)")
    compare.add_argument("--tol", type=float, default=1e-9,
                         help="relative tolerance of the joint scheme (1e-9)")
    compare.add_argument("--json", action="store_true", help="print JSON instead of a table")
    compare.set_defaults(handler=_compare)

    simulate = commands.add_parser(
        "simulate", help="latency study: every scheme over the same faded channel draws",
        description="Run every scheme over the same channel draws of a default cell, on a "
                    "static channel and under block fading, with sweeps over the number of "
                    "workers and the bandwidth; write summary.json, latency.csv, report.md and "
                    "PNG figures into --out.")
    simulate.add_argument("--workers", type=_at_most(MAX_WORKERS), default=20,
                          help=f"number of workers K (20; at most {MAX_WORKERS:,})")
    simulate.add_argument("--params", type=_positive_int, default=10**6,
                          help="model size L in parameters (1000000)")
    simulate.add_argument("--bandwidth", type=float, default=10.0,
                          help="total bandwidth in MHz (10)")
    simulate.add_argument("--iterations", type=_at_most(MAX_ITERATIONS), default=1000,
                          help="iterations per scheme and channel (1000; workers x iterations "
                               f"at most {MAX_WORKER_ITERATIONS:,})")
    simulate.add_argument("--seed", type=int, default=0, help="seed of every draw (0)")
    simulate.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES),
                          metavar="SCHEME",
                          help="schemes to run; equal is always added as the baseline (all)")
    simulate.add_argument("--csi", choices=("perfect", "delayed", "noisy"), default="perfect",
                          help="channel knowledge of the allocator (perfect)")
    simulate.add_argument("--delay", type=_positive_int, default=1,
                          help="iterations of delay for --csi delayed (1)")
    simulate.add_argument("--csi-error-db", type=float, default=2.0,
                          help="std of the channel estimate's error in dB for --csi noisy (2)")
    simulate.add_argument("--availability", type=float, default=1.0,
                          help="probability that a worker is present in an iteration (1)")
    simulate.add_argument("--jitter", type=float, default=0.0,
                          help="sigma of the log-normal compute-time factor (0)")
    simulate.add_argument("--fading", choices=("rayleigh", "rician"), default="rayleigh",
                          help="block fading of the faded run (rayleigh)")
    simulate.add_argument("--k-factor", type=float, default=1.0,
                          help="Rician K-factor, linear (1)")
    simulate.add_argument("--shadowing-db", type=float, default=0.0,
                          help="std of log-normal shadowing in dB (0)")
    simulate.add_argument("--sweep-iterations", type=_at_most(MAX_ITERATIONS), default=200,
                          help="iterations per point of the sweeps (200)")
    simulate.add_argument("--sweep-workers", type=_at_most(MAX_WORKERS), nargs="+",
                          default=[5, 10, 20, 30, 50, 75, 100], metavar="K",
                          help="numbers of workers of the sweep (5 10 20 30 50 75 100)")
    simulate.add_argument("--sweep-bandwidth", type=float, nargs="+",
                          default=[1.0, 2.0, 5.0, 10.0, 15.0, 20.0], metavar="MHZ",
                          help="total bandwidths in MHz of the sweep (1 2 5 10 15 20)")
    simulate.add_argument("--no-sweeps", action="store_true",
                          help="skip the sweeps over workers and bandwidth")
    simulate.add_argument("--no-figures", action="store_true", help="write no PNG figures")
    simulate.add_argument("--threads", type=_positive_int, default=1,
                          help="threads of the batch solver (1)")
    simulate.add_argument("--out", default="paba-study", metavar="DIR",
                          help="output directory (paba-study)")
    simulate.add_argument("--quiet", action="store_true",
                          help="no progress bar and no table on the terminal")
    simulate.set_defaults(handler=_simulate)

    train = commands.add_parser(
        "train", help="accuracy study: partitioned PyTorch training with every scheme",
        description="Train one model, partitioned across the workers of the default cell, with "
                    "every scheme on the same seed, scenario and shards, within a budget of "
                    "learning latency; write summary.json, report.md and "
                    "accuracy_vs_latency.png into --out. Needs the train extra.")
    train.add_argument("--model", choices=("mlp", "logistic"), default="mlp",
                       help="mlp (about 1.1 million parameters on digits) or logistic (mlp)")
    train.add_argument("--dataset", default="digits", metavar="NAME_OR_PATH",
                       help="digits, iris, wine, breast_cancer (shipped with scikit-learn) or "
                            "the path of a LIBSVM/svmlight file (digits)")
    train.add_argument("--workers", type=_positive_int, default=20,
                       help="number of workers K (20)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the split, shards, weights and channels (0)")
    train.add_argument("--budget", type=_positive_float, default=100.0,
                       help="learning-latency budget in seconds (100)")
    train.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES),
                       metavar="SCHEME",
                       help="schemes to train with; equal is always added as the baseline (all)")
    train.add_argument("--sharding", choices=("iid", "label_skew"), default="iid",
                       help="how the training set is split across workers (iid)")
    train.add_argument("--classes-per-worker", type=_positive_int, default=2,
                       help="labels per worker with --sharding label_skew (2)")
    train.add_argument("--fading", choices=("rayleigh", "rician", "none"), default="rayleigh",
                       help="block fading of the cell; none is a static channel (rayleigh)")
    train.add_argument("--bandwidth", type=_positive_float, default=10.0,
                       help="total bandwidth in MHz (10)")
    train.add_argument("--hidden", type=_positive_int, nargs="+", default=None, metavar="WIDTH",
                       help="hidden layer widths of the MLP (1024 1024)")
    train.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                       help="the server's optimiser (sgd, with momentum)")
    train.add_argument("--lr", type=_positive_float, default=0.05, help="learning rate (0.05)")
    train.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (0.9)")
    train.add_argument("--group-size", type=_positive_int, default=1,
                       help="workers per group: consecutive workers train the same block on "
                            "their own shards (1)")
    train.add_argument("--max-iterations", type=_positive_int, default=None,
                       help="also stop every run after this many iterations")
    train.add_argument("--eval-every", type=_positive_int, default=1,
                       help="iterations between test evaluations (1)")
    train.add_argument("--checkpoint", default=None, metavar="DIR",
                       help="save each scheme's full state here every few iterations and "
                            "resume from it")
    train.add_argument("--checkpoint-every", type=_positive_int, default=10,
                       help="iterations between checkpoints (10)")
    train.add_argument("--no-figures", action="store_true", help="write no PNG figure")
    train.add_argument("--out", default="paba-train", metavar="DIR",
                       help="output directory (paba-train)")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar and no table on the terminal")
    from .distributed import add_arguments as add_distributed_arguments

    add_distributed_arguments(train)
    train.set_defaults(handler=_train)

    reproduce = commands.add_parser(
        "reproduce", help="the paper's headline: latency and accuracy studies and a report",
        description="Run the latency study and the accuracy study at their defaults and write "
                    "report.md, beside the paper's headline (about 46%% lower latency; about 4 "
                    "points more accuracy at 100 s), into --out. Needs the train extra.")
    reproduce.add_argument("--out", default="paba-reproduction", metavar="DIR",
                           help="output directory (paba-reproduction)")
    reproduce.add_argument("--seed", type=int, default=0, help="seed of both studies (0)")
    reproduce.add_argument("--budget", type=_positive_float, default=100.0,
                           help="learning-latency budget in seconds (100)")
    reproduce.add_argument("--no-static", action="store_true",
                           help="skip the accuracy study on the static channel")
    reproduce.add_argument("--checkpoint", default=None, metavar="DIR",
                           help="checkpoint directory of the accuracy studies (resumed)")
    reproduce.add_argument("--quiet", action="store_true",
                           help="no progress bars and no summary on the terminal")
    reproduce.set_defaults(handler=_reproduce)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "compare")  # the default command
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:
        parser.exit(2, f"paba: error: {error}\n")
    except OSError as error:  # a file system failure after the up-front checks
        parser.exit(2, f"paba: error: {_os_error(args, error)}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"{_fresh_line()}paba: error: interrupted{_resume_hint(args)}\n")


def _fresh_line() -> str:
    """A newline when a progress bar may be half drawn on the terminal."""
    return "\n" if getattr(sys.stderr, "isatty", lambda: False)() else ""


def _option_of(args: argparse.Namespace, filename) -> str | None:
    """The option (``out``, ``checkpoint``, ``dataset``) whose path holds ``filename``."""
    if filename is None:
        return None
    try:
        target = Path(os.fsdecode(filename)).resolve()
    except (OSError, ValueError, TypeError):
        return None
    for option in ("checkpoint", "out", "dataset"):
        value = getattr(args, option, None)
        if value is None:
            continue
        try:
            root = Path(value).resolve()
        except (OSError, ValueError):
            continue
        if target == root or root in target.parents:
            return option
    return None


def _os_error(args: argparse.Namespace, error: OSError) -> str:
    """One line for a file system failure, naming the option whose path it concerns."""
    filename = error.filename if error.filename is not None else error.filename2
    option = _option_of(args, filename)
    where = f"{os.fsdecode(filename)}: " if filename is not None else ""
    text = f"{where}{error.strerror or error}"
    return f"{option}: {text}" if option else text


def _resume_hint(args: argparse.Namespace) -> str:
    """Where a checkpoint exists, how to resume; else how to make the next run resumable."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        return "" if args.command in ("compare", "simulate") else \
            " (with --checkpoint DIR an interrupted run can be resumed)"
    directory = Path(checkpoint)
    if directory.is_dir() and any(directory.rglob("*.pt")):
        return (f"; the checkpoints in {checkpoint} hold the progress: run the same command "
                "again to resume")
    return f"; no checkpoint had been written to {checkpoint} yet"


if __name__ == "__main__":
    sys.exit(main())
