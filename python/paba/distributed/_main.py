"""The entry point of every process: parse ``paba train``'s options, join the group, and run
the server (rank 0) or a worker process."""

from __future__ import annotations

import os
import sys
import time


def parse(argv: list[str]):
    """``paba train``'s parser (with the options of this package) applied to ``argv``."""
    from . import train_parser

    parser = train_parser()
    return parser, parser.parse_args(argv)


def operation_timeout(deadline: float) -> float:
    """gloo's own timeout (its default is 30 minutes): well past the per-iteration deadline,
    which is how hangs are meant to be found, and long enough for a server's evaluation and
    checkpoint between iterations."""
    return max(300.0, 4.0 * deadline)


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser, args = parse(list(sys.argv[1:] if argv is None else argv))
    rank = os.environ.get("RANK", "?")
    from ._common import LAUNCH_VARIABLES, LaunchError, hosting, join_group

    try:
        missing = [name for name in LAUNCH_VARIABLES if name not in os.environ]
        if missing:
            raise LaunchError(f"{', '.join(missing)} not set: start paba.distributed with "
                              "torchrun (torchrun --standalone --nproc-per-node P -m "
                              "paba.distributed ...) or with paba train --processes P")
        hosting(args.workers, int(os.environ["WORLD_SIZE"]))  # before waiting for anyone
        import torch

        if "OMP_NUM_THREADS" in os.environ:
            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
        rank_number, world_size = join_group(args.connect_timeout,
                                             operation_timeout(args.deadline))
        if rank_number == 0:
            from ._server import run_server

            return run_server(args, world_size, started)
        from ._worker import run_worker

        return run_worker(args, rank_number, world_size)
    except LaunchError as error:
        parser.exit(2, f"paba: error: {error}\n")
    except ValueError as error:
        parser.exit(2, f"paba: error: rank {rank}: {error}\n")
    except RuntimeError as error:
        from ._server import AllWorkersGone

        if isinstance(error, AllWorkersGone):
            parser.exit(2, f"paba: error: {error}\n")
        text = str(error).strip().splitlines()
        first = text[0] if text else type(error).__name__
        if rank != "0" and ("Connection closed" in first or "Connection reset" in first):
            parser.exit(1, f"paba: error: rank {rank}: the server went away ({first[:200]}); "
                           "rerun the command (with --checkpoint to resume)\n")
        parser.exit(1, f"paba: error: rank {rank}: {type(error).__name__}: {first[:300]}\n")
    except KeyboardInterrupt:
        parser.exit(130, f"paba: error: rank {rank}: interrupted\n")
    return 0
