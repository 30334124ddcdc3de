"""Command-line options that several commands share, defined once (the commands' own options
live in their modules)."""

from __future__ import annotations

import argparse

from .._allocation import SCHEMES
from .._validation import integer, option, positive_float

#: What a command can be asked to do (docs/scenarios.md 5): workers of one cell, iterations of
#: one run, and workers x iterations of one run of ``paba simulate``.
MAX_WORKERS = 100_000
MAX_ITERATIONS = 10**7
MAX_WORKER_ITERATIONS = 10**9

def positive_int(maximum: int | None = None):
    """An argparse type: a positive integer, at most ``maximum`` where given."""
    return option(int, integer, minimum=1, maximum=maximum)


#: An argparse type: a positive finite number.
POSITIVE = option(float, positive_float)


def add_workers(parser: argparse.ArgumentParser, default: int = 20) -> None:
    parser.add_argument("--workers", type=positive_int(MAX_WORKERS), default=default,
                        help=f"number of workers K ({default}; at most {MAX_WORKERS:,})")


def add_bandwidth(parser: argparse.ArgumentParser, default: float = 10.0) -> None:
    # Checked by the scenario, whose message names it (bandwidth: ...).
    parser.add_argument("--bandwidth", type=float, default=default,
                        help=f"total bandwidth in MHz ({default:g})")


def add_seed(parser: argparse.ArgumentParser, what: str = "every draw") -> None:
    # Checked by the scenario, whose message names it (seed: ...).
    parser.add_argument("--seed", type=int, default=0, help=f"seed of {what} (0)")


def add_schemes(parser: argparse.ArgumentParser, baseline: bool = True) -> None:
    parser.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES),
                        metavar="SCHEME",
                        help=("schemes to run; equal is always added as the baseline (all)"
                              if baseline else f"schemes to run (all of {', '.join(SCHEMES)})"))


def add_output(parser: argparse.ArgumentParser, default: str, what: str = "progress bar") -> None:
    parser.add_argument("--out", default=default, metavar="DIR",
                        help=f"output directory ({default})")
    parser.add_argument("--quiet", action="store_true",
                        help=f"no {what} and no table on the terminal")
