"""A worker process (ranks 1..P-1): it builds the shards of the logical workers it hosts from
the seed, then every iteration receives the model and its workers' blocks, computes each block's
gradient with :func:`paba.training._trainer.block_gradient` (the function the in-process trainer
calls) and sends the gradients back. A per-iteration deadline turns a hang into an exit."""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal
import time

import numpy as np
import torch
import torch.distributed as dist

from ..training._partition import trainable_parameters
from ..training._trainer import block_gradient
from ._common import (
    HEADER,
    IDLE,
    STEP,
    STOP,
    TAG_GRADIENTS,
    TAG_HANDSHAKE,
    TAG_HEADER,
    TAG_HOLDS,
    TAG_INDICES,
    TAG_LOSSES,
    TAG_MODEL,
    build_data,
    data_digest,
    faults,
    host_digest,
    hosting,
    index_dtype,
)


def run_worker(args: argparse.Namespace, rank: int, world_size: int) -> int:
    """Serve the server until it says STOP (exit status 0); a lost server raises."""
    hosted = hosting(args.workers, world_size)[rank]
    data, shards, model = build_data(args)
    x_train = torch.from_numpy(np.array(data.x_train, dtype=np.float32))
    y_train = torch.from_numpy(np.array(data.y_train, dtype=np.int64))
    # The trainer's own indexing: sorted shard indices into the float32 training tensors.
    local = []
    for k in hosted:
        shard = torch.from_numpy(np.sort(np.asarray(shards[k], dtype=np.int64)))
        local.append((x_train[shard], y_train[shard]))
    params = trainable_parameters(model)
    n_params = sum(p.numel() for p in params)
    dist.send(torch.tensor([rank, os.getpid(), host_digest(), args.workers, n_params, data.n_train,
                            data_digest(data, shards)], dtype=torch.int64), dst=0,
              tag=TAG_HANDSHAKE)
    injected = faults(rank)
    H = len(hosted)
    header = torch.empty(HEADER + H, dtype=torch.int64)
    holds = torch.empty(2 * H, dtype=torch.float64)
    flat = torch.empty(n_params, dtype=torch.float32)
    while True:
        dist.recv(header, src=0, tag=TAG_HEADER)
        command, iteration, _, total = header[:HEADER].tolist()
        if command == STOP:
            return 0
        dist.recv(holds, src=0, tag=TAG_HOLDS)
        if command == IDLE:
            continue
        if command != STEP:
            raise RuntimeError(f"rank {rank}: unknown command {command} from the server")
        hold = holds.tolist()
        down, up = max(hold[:H]), max(hold[H:])
        # The deadline covers this iteration's work and its link holds; the server kills a
        # local process that misses it by more than a grace period (a stopped process cannot
        # run this timer).
        faulthandler.dump_traceback_later(args.deadline + down + up, exit=True)
        if iteration in injected:
            kind = injected.pop(iteration)
            os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGSTOP)
        dist.recv(flat, src=0, tag=TAG_MODEL)
        indices = torch.empty(total, dtype=index_dtype(n_params))
        dist.recv(indices, src=0, tag=TAG_INDICES)
        indices = indices.to(torch.int64)
        with torch.no_grad():
            offset = 0
            for p in params:
                p.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        if down > 0:
            time.sleep(down)
        started = time.perf_counter()
        sizes = header[HEADER:].tolist()
        losses = torch.full((H + 1,), float("nan"), dtype=torch.float64)
        gradients = []
        offset = 0
        for j, size in enumerate(sizes):
            if size == 0:
                continue
            gradient, loss = block_gradient(model, *local[j], indices[offset:offset + size])
            gradients.append(gradient)
            losses[j] = loss
            offset += size
        losses[H] = time.perf_counter() - started
        out = torch.cat(gradients) if gradients else torch.empty(0, dtype=torch.float32)
        if up > 0:
            time.sleep(up)
        dist.send(losses, dst=0, tag=TAG_LOSSES)
        dist.send(out, dst=0, tag=TAG_GRADIENTS)
        faulthandler.cancel_dump_traceback_later()
