"""Partitioned training across real processes on ``torch.distributed`` (docs/distributed.md).

Rank 0 is the server: it holds the scenario, the scheduler, the model, the optimiser and the
checkpoints, and runs :class:`paba.training.PartitionedTrainer` with the gradient of every block
computed elsewhere. Ranks 1..P-1 are worker processes; each hosts one or more of the K logical
workers, builds their data shards from the seed (shards never travel) and computes, every
iteration, the same :func:`paba.training._trainer.block_gradient` the in-process trainer calls.
Messages are tensors and fixed-layout integer and float headers over gloo point-to-point
``isend``/``irecv``; nothing is pickled.

Launch with ``torchrun --standalone --nproc-per-node P -m paba.distributed [paba train
options]``, or ``paba train --processes P`` (which starts the processes with torch's process
launcher). Importing this package does not import PyTorch.
"""

from __future__ import annotations

import argparse

from ..studies._options import POSITIVE, positive_int

#: Seconds a worker process may take over one iteration by default (its download and upload
#: holds under ``--emulate-links`` come on top); a process that misses it leaves the run.
DEFAULT_DEADLINE = 60.0

#: Seconds the processes wait for each other to join by default.
DEFAULT_CONNECT_TIMEOUT = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of distributed training to ``paba train``'s parser."""
    group = parser.add_argument_group(
        "processes", "train with a server process and worker processes on torch.distributed "
                     "(docs/distributed.md)")
    group.add_argument("--processes", type=positive_int(), default=None, metavar="P",
                       help="run the server and P-1 worker processes on this machine "
                            "(loopback only); the K workers are spread over the P-1 processes")
    group.add_argument("--emulate-links", type=POSITIVE, default=None, metavar="SCALE",
                       help="worker processes hold each download and upload for the modelled "
                            "time x SCALE; the report shows measured against modelled latency")
    group.add_argument("--deadline", type=POSITIVE, default=DEFAULT_DEADLINE,
                       metavar="SECONDS",
                       help="seconds a worker process may take over one iteration before it "
                            f"leaves the run ({DEFAULT_DEADLINE:g}; link holds come on top)")
    group.add_argument("--connect-timeout", type=POSITIVE,
                       default=DEFAULT_CONNECT_TIMEOUT, metavar="SECONDS",
                       help="seconds the processes wait for each other to join "
                            f"({DEFAULT_CONNECT_TIMEOUT:g})")


def study_in_processes(args: argparse.Namespace):
    """``paba train --processes P``: a stand-in for ``run_accuracy_study`` that launches the
    server and the worker processes on this machine with ``args`` (the options of ``paba
    train``), waits for the server, and returns the summary it wrote (``--out``/summary.json).
    Its keyword arguments are those ``args`` gave; they are not read again."""
    from ._launch import launch_local

    if args.processes is None:
        raise ValueError("emulate-links: needs worker processes: add --processes P (or launch "
                         "python -m paba.distributed with torchrun)")

    def study(**_options) -> dict:
        return launch_local(args)

    return study


def train_parser() -> argparse.ArgumentParser:
    """``paba train``'s parser: the accuracy study's options and this package's."""
    from ..studies.accuracy import add_arguments as add_study_arguments

    parser = argparse.ArgumentParser(prog="paba train")
    add_study_arguments(parser)
    add_arguments(parser)
    return parser


def main(args: argparse.Namespace) -> int:
    """``paba train``: the accuracy study, in this process or, with ``--processes``, across
    processes."""
    from ..studies.accuracy import main as study_main

    if args.processes is None and args.emulate_links is None:
        return study_main(args)
    return study_main(args, study_in_processes(args))


__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_DEADLINE", "add_arguments", "main",
           "study_in_processes", "train_parser"]
