"""Command line: ``paba compare`` solves one iteration of a default cell with every scheme and
prints the latencies side by side; ``paba simulate`` runs the latency study over many faded
iterations and writes its files (docs/scenarios.md); ``paba train`` runs the accuracy study
(partitioned PyTorch training with every scheme, docs/training.md); ``paba reproduce`` runs both
studies and writes the report beside the paper's headline; ``paba sweep`` runs a grid of
settings x seeds x schemes on any executor (docs/sweeps.md)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import __version__

#: The commands: the module of each in paba.studies (``add_arguments`` and ``main``), its help
#: line and its description.
COMMANDS = {
    "compare": ("compare", "compare every allocation scheme on one draw of a default cell",
                None),
    "simulate": ("latency", "latency study: every scheme over the same faded channel draws",
                 "Run every scheme over the same channel draws of a default cell, on a static "
                 "channel and under block fading, with sweeps over the number of workers and "
                 "the bandwidth; write summary.json, latency.csv, report.md and PNG figures "
                 "into --out."),
    "train": ("accuracy", "accuracy study: partitioned PyTorch training with every scheme",
              "Train one model, partitioned across the workers of the default cell, with every "
              "scheme on the same seed, scenario and shards, within a budget of learning "
              "latency; write summary.json, report.md and accuracy_vs_latency.png into --out. "
              "Needs the train extra."),
    "reproduce": ("reproduce", "the paper's headline: latency and accuracy studies and a report",
                  "Run the latency study and the accuracy study at their defaults and write "
                  "report.md, beside the paper's headline (about 46%% lower latency; about 4 "
                  "points more accuracy at 100 s), into --out. Needs the train extra."),
    "sweep": ("sweep._cli", "parameter sweep: a grid of settings x seeds x schemes on any executor",
              "Run every scheme on every cell of a grid of settings (each axis a comma list, or "
              "a TOML file), for every seed, serially, on a process pool or on Dask; write "
              "results.csv (and .parquet), summary.json, report.md and figures into --out "
              "(docs/sweeps.md)."),
}

#: Packages that add options to a command and then run it (their ``add_arguments`` and ``main``):
#: ``paba train --processes P`` runs the accuracy study across processes (docs/distributed.md).
EXTENDED_BY = {"train": "paba.distributed"}

#: Commands that need the train extra (PyTorch and scikit-learn) to run.
NEEDS_TORCH = ("train", "reproduce")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paba", description="Joint parameter-and-bandwidth allocation for partitioned "
                                 "edge learning.")
    parser.add_argument("--version", action="version", version=f"paba {__version__}")
    commands = parser.add_subparsers(dest="command")
    for command, (module, summary, description) in COMMANDS.items():
        study = importlib.import_module(f"paba.studies.{module}")
        sub = commands.add_parser(command, help=summary, description=description or summary)
        study.add_arguments(sub)
        if command in EXTENDED_BY:
            study = importlib.import_module(EXTENDED_BY[command])
            study.add_arguments(sub)
        sub.set_defaults(handler=study.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "compare")  # the default command
    args = parser.parse_args(argv)
    if args.command in NEEDS_TORCH:
        try:
            import sklearn  # noqa: F401
            import torch  # noqa: F401
        except ImportError as error:
            parser.exit(2, f"paba: error: paba {args.command} trains PyTorch models and needs "
                           f"the train extra (pip install 'paba[train]'): {error}\n")
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
