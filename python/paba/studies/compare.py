"""``paba compare``: one iteration of the default static cell solved with every scheme, the
latencies side by side."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .. import __version__
from .._allocation import DEFAULT_TOL, allocate
from .._backend import BACKENDS
from .._scenario import static_cell
from ._options import add_bandwidth, add_schemes, add_seed, add_workers
from ._report import change, reduction

DESCRIPTIONS = {
    "equal": "L/N parameters and B/K Hz each",
    "bandwidth_aware": "parameters for an equal bandwidth split",
    "parameter_aware": "bandwidth for an equal parameter split",
    "sequential": "bandwidth-aware, then parameter-aware",
    "joint": "joint optimum (exact method where it applies)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_workers(parser)
    parser.add_argument("--params", type=int, default=10**6,
                        help="model size L in parameters (1000000)")
    add_bandwidth(parser)
    add_seed(parser, "the cell draw")
    add_schemes(parser, baseline=False)
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="kernel backend (default: PABA_BACKEND or native)")
    parser.add_argument("--tol", type=float, default=DEFAULT_TOL,
                        help=f"relative tolerance of the joint scheme ({DEFAULT_TOL:g})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def main(args: argparse.Namespace) -> int:
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
                    "reduction_vs_equal": None if baseline is None else reduction(a.latency,
                                                                                  baseline),
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
        shown = ("baseline" if scheme == "equal" else
                 "" if baseline is None else change(reduction(a.latency, baseline)))
        active = f"{np.count_nonzero(a.worker_latency)}/{system.n_workers}"
        flag = "" if a.converged else "  (not converged)"
        print(f"{scheme:<17}{a.latency:>13.6g}{shown:>10}{active:>12}{elapsed * 1e3:>12.3f}"
              f"  {DESCRIPTIONS[scheme]}{flag}")
    print(f"\nbackend: {rows[0][1].backend}; latencies are of the integer loads; solve times are "
          "medians of five calls")
    return 0
