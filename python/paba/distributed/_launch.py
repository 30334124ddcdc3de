"""``paba train --processes P``: start the server and P-1 worker processes on this machine with
torch's process launcher (``torch.distributed.elastic.multiprocessing.start_processes``, the one
torchrun's agent uses), on loopback, and wait for the server.

Why not ``elastic_launch`` (torchrun's agent) here: the agent stops the whole group as soon as
any process fails, so a worker process that crashes would take the server with it, while the
run is meant to go on without it. The launcher below ends when the server ends; then it gives
the worker processes a moment to exit after the server's STOP and ends any that are left
(only the processes it started, by pid).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from ._common import hosting, loopback_interface

#: Seconds the worker processes get to exit after the server has.
EXIT_GRACE = 10.0


def child_argv(args: argparse.Namespace) -> list[str]:
    """The ``paba train`` options of ``args`` as a command line for ``python -m
    paba.distributed`` (without ``--processes``)."""
    from . import train_parser

    argv: list[str] = []
    for action in train_parser()._actions:
        if not action.option_strings or action.dest in ("help", "processes"):
            continue
        value = getattr(args, action.dest, None)
        option = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(option)
        elif value is None:
            continue
        elif isinstance(value, (list, tuple)):
            argv += [option, *(repr(v) if isinstance(v, float) else str(v) for v in value)]
        else:
            argv += [option, repr(value) if isinstance(value, float) else str(value)]
    return argv


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _exited(pid: int):
    """The exit status of a child that has ended (without reaping it: torch's handle does), or
    None while it runs: its exit code, or minus the signal that killed it."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None or info.si_pid == 0:
        return None
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return -info.si_status


def launch_local(args: argparse.Namespace) -> dict:
    """Start the processes, wait for the server, and return the summary it wrote."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, start_processes

    processes = args.processes
    hosting(args.workers, processes)  # a clear error before anything starts
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "processes.json").unlink(missing_ok=True)
    (out / "summary.json").unlink(missing_ok=True)
    base = dict(os.environ)
    base.setdefault("OMP_NUM_THREADS", "1")  # as torchrun does for several processes
    interface = loopback_interface()
    if interface is not None:
        base.setdefault("GLOO_SOCKET_IFNAME", interface)
    base.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
                WORLD_SIZE=str(processes), LOCAL_WORLD_SIZE=str(processes), GROUP_RANK="0")
    argv = ("-m", "paba.distributed", *child_argv(args))
    context = start_processes(
        name="paba-distributed", entrypoint=sys.executable,
        args={rank: argv for rank in range(processes)},
        envs={rank: {**base, "RANK": str(rank), "LOCAL_RANK": str(rank)}
              for rank in range(processes)},
        logs_specs=DefaultLogsSpecs(log_dir=os.devnull))
    try:
        pids = context.pids()
        server = pids[0]
        while (status := _exited(server)) is None:
            time.sleep(0.05)
        waited = time.monotonic() + EXIT_GRACE
        while time.monotonic() < waited and any(
                _exited(pid) is None for rank, pid in pids.items() if rank):
            time.sleep(0.05)
    finally:
        context.close(death_sig=signal.SIGKILL, timeout=5)
    if status != 0:
        how = (f"exited with status {status}" if status > 0
               else f"was killed by {signal.Signals(-status).name}")
        hint = (f"; run the same command again to resume from the checkpoints in "
                f"{args.checkpoint}" if args.checkpoint else "")
        raise ValueError(f"processes: the server (rank 0, pid {server}) {how}{hint}")
    with open(out / "summary.json") as handle:
        return json.load(handle)
