"""What the server and the worker processes share: the layout of their messages, which process
hosts which logical worker, the set-up of the data and the model from the ``paba train`` options,
and the joining of the process group.

Messages (gloo point-to-point; every tensor's size is known to the receiver beforehand, so
nothing but tensors travels, and nothing is pickled):

- handshake, worker process -> server: int64 ``[rank, pid, host, K, L, training samples,
  digest]`` (``host``: 60 bits of a SHA-256 of the host name, which tells the server which
  processes run on its machine; ``digest``: 60 bits of a SHA-256 of the data set and the
  shards, so that a process that built other data is refused);
- every iteration, server -> each live worker process hosting H logical workers: an int64
  header ``[command, iteration, L, total, size_1 .. size_H]`` (``command`` STEP, IDLE or STOP;
  ``size_j`` the block size of the process's j-th logical worker, 0 when it has nothing to do)
  and a float64 ``[download hold_1 .. _H, upload hold_1 .. _H]`` in seconds (zero without link
  emulation); with STEP, the model as one float32 vector of its L trainable parameters and the
  blocks' parameter indices as one vector of ``total`` entries (int32, or int64 for models of
  2^31 parameters or more: :func:`index_dtype`);
- reply to STEP: float64 ``[loss_1 .. loss_H, compute seconds]`` (NaN for a worker without a
  block) and the block gradients as one float32 vector of ``total`` entries.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import socket
import time

import numpy as np

#: Commands of the iteration header.
STOP, STEP, IDLE = 0, 1, 2
#: Fixed entries of the iteration header before the block sizes.
HEADER = 4
#: Length of the handshake.
HANDSHAKE = 7
#: Tags of the messages, one per kind.
TAG_HANDSHAKE, TAG_HEADER, TAG_HOLDS, TAG_MODEL, TAG_INDICES, TAG_LOSSES, TAG_GRADIENTS = range(
    1, 8)

#: Environment variable of fault injection for tests and drills: comma-separated
#: ``kill:RANK:ITERATION`` or ``stop:RANK:ITERATION`` (the process sends itself SIGKILL or
#: SIGSTOP when iteration ITERATION of the first scheme starts).
FAULT_VARIABLE = "PABA_DISTRIBUTED_FAULT"


def index_dtype(n_params: int):
    """The dtype of the blocks' parameter indices on the wire: int32 while it can hold them."""
    import torch

    return torch.int32 if n_params < 2**31 else torch.int64


def hosting(n_workers: int, world_size: int) -> dict[int, list[int]]:
    """The logical workers of each worker process (ranks 1..P-1): consecutive runs of near-equal
    length, so that consecutive members of a group mostly share a process."""
    processes = world_size - 1
    if processes < 1:
        raise ValueError(f"processes: distributed training needs a server and at least one "
                         f"worker process, got {world_size} process{'es' * (world_size != 1)}")
    if processes > n_workers:
        raise ValueError(f"processes: {processes} worker processes for {n_workers} workers; "
                         f"give at most {n_workers + 1} processes (one server and one process "
                         f"per worker)")
    parts = np.array_split(np.arange(n_workers), processes)
    return {rank: part.tolist() for rank, part in enumerate(parts, start=1)}


def build_data(args: argparse.Namespace):
    """The data set, the shards and the model's architecture exactly as the accuracy study
    builds them: (data, shards, model)."""
    from ..studies.accuracy import TEST_FRACTION as STUDY_TEST_FRACTION
    from ..training import build_model, load_dataset, shard

    data = load_dataset(args.dataset, test_fraction=STUDY_TEST_FRACTION, seed=args.seed)
    shards = shard(data.y_train, args.workers, scheme=args.sharding,
                   classes_per_worker=args.classes_per_worker, seed=args.seed)
    model = build_model(args.model, data.n_features, data.n_classes, hidden=args.hidden,
                        seed=args.seed)
    return data, shards, model


def data_digest(data, shards) -> int:
    """60 bits of a SHA-256 of the training set and the shards (for the handshake)."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, *shards):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return int(digest.hexdigest()[:15], 16)


def host_digest() -> int:
    """60 bits of a SHA-256 of this machine's host name (for the handshake)."""
    return int(hashlib.sha256(socket.gethostname().encode()).hexdigest()[:15], 16)


def faults(rank: int) -> dict[int, str]:
    """The injected faults of this rank: {iteration: "kill" or "stop"}."""
    out = {}
    for item in filter(None, os.environ.get(FAULT_VARIABLE, "").split(",")):
        kind, who, when = item.split(":")
        if kind not in ("kill", "stop"):
            raise ValueError(f"{FAULT_VARIABLE}: unknown fault {kind!r}")
        if int(who) == rank:
            out[int(when)] = kind
    return out


def loopback_interface() -> str | None:
    """The name of the loopback network interface (``lo`` on Linux), if there is one."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return None
    for name in names:
        if name == "lo" or name.startswith("lo"):
            return name
    return None


#: What torchrun (and ``paba train --processes``) tell every process.
LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class LaunchError(RuntimeError):
    """The processes could not form their group: a clear message for the operator."""


def join_group(connect_timeout: float, operation_timeout: float) -> tuple[int, int]:
    """Join the gloo process group from the environment torchrun (or ``paba train
    --processes``) sets: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Returns (rank, world size).

    Rank 0 hosts the rendezvous store unless torchrun's agent hosts it; a store rank 0 hosts
    listens on MASTER_ADDR only (127.0.0.1 for ``paba train --processes``). On one machine the
    gloo pairs bind the loopback interface unless GLOO_SOCKET_IFNAME says otherwise. Raises
    :class:`LaunchError` with a clear message when the store cannot be reached or not every
    process joins within ``connect_timeout`` seconds."""
    import torch.distributed as dist

    missing = [name for name in LAUNCH_VARIABLES if name not in os.environ]
    if missing:
        raise LaunchError(f"{', '.join(missing)} not set: start paba.distributed with torchrun "
                          f"(torchrun --standalone --nproc-per-node P -m paba.distributed ...) "
                          f"or with paba train --processes P")
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    if local_size == world_size and "GLOO_SOCKET_IFNAME" not in os.environ:
        interface = loopback_interface()
        if interface is not None:
            os.environ["GLOO_SOCKET_IFNAME"] = interface
    connect = datetime.timedelta(seconds=connect_timeout)
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    where = f"{address}:{port}"
    store: dist.Store  # the TCP store, then the prefixed view of it the group uses
    try:
        if rank == 0 and not agent_store:
            listener = socket.create_server((address, port), family=_family(address))
            listener.set_inheritable(True)
            store = dist.TCPStore(address, port, world_size, is_master=True, timeout=connect,
                                  wait_for_workers=False, master_listen_fd=listener.fileno())
        else:
            store = dist.TCPStore(address, port, world_size, is_master=False, timeout=connect,
                                  wait_for_workers=False)
    except (RuntimeError, OSError) as error:
        raise LaunchError(f"rank {rank}: cannot reach the rendezvous store at {where} within "
                          f"{connect_timeout:g} s ({_first_line(error)}); check MASTER_ADDR, "
                          f"MASTER_PORT and that the server (rank 0) is running") from None
    store = dist.PrefixStore("paba", store)
    if not 0 <= rank < world_size:
        raise LaunchError(f"RANK = {rank} is outside 0..WORLD_SIZE-1 = {world_size - 1}")
    joined = store.add("joined", 1)
    waited = time.monotonic() + connect_timeout
    while joined < world_size and time.monotonic() < waited:
        time.sleep(0.05)
        joined = store.add("joined", 0)
    if joined != world_size:
        raise LaunchError(f"rank {rank}: {joined} of WORLD_SIZE = {world_size} processes joined "
                          f"the group at {where} within {connect_timeout:g} s; start exactly "
                          f"WORLD_SIZE processes (torchrun --nproc-per-node, --nnodes)")
    try:
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=operation_timeout))
    except (RuntimeError, ValueError) as error:
        raise LaunchError(f"rank {rank}: the gloo group of {world_size} processes at {where} "
                          f"did not form ({_first_line(error)})") from None
    return rank, world_size


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]
