"""The server (rank 0): the accuracy study of ``paba train`` with every block gradient computed
by the worker processes, and the departures of processes that crash or miss the deadline.

The server runs :class:`paba.training.PartitionedTrainer` unchanged except for where block
gradients come from (:meth:`ServerTrainer.block_gradients`). When a process leaves during an
iteration, the iteration is rolled back (the scheduler's run, the dealer of units and the
pending allocation are restored), the process's logical workers are made absent from then on
(their presence, drawn by the scheduler's availability path, is masked), and the iteration is
allocated again among the workers that remain: the run is then the one an in-process run whose
churn trace drops those workers at that iteration would give.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.distributed as dist

from .._records import IterationRecord
from .._scheduler import SchedulerRun
from .._streams import Draws
from ..training._partition import trainable_parameters
from ..training._trainer import PartitionedTrainer
from ._common import (
    HANDSHAKE,
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
    LaunchError,
    build_data,
    data_digest,
    faults,
    host_digest,
    hosting,
    index_dtype,
)

#: Seconds past a process's deadline before the server kills it (its own watchdog, which
#: prints where it hung, fires at the deadline).
GRACE = 1.0


def _posted(work: dist.Work | None) -> dist.Work:
    """A posted isend or irecv. torch returns None only to a process outside the group, and
    every process is in the default group."""
    assert work is not None, "a send or receive was posted outside the process group"
    return work


class _Departure(Exception):
    """Worker processes left during an iteration: {rank: (seconds into the iteration, reason,
    detail)}."""

    def __init__(self, failures: dict):
        super().__init__(failures)
        self.failures = failures


class AllWorkersGone(RuntimeError):
    """Every worker process has left the run."""


class Link:
    """The server's side of the worker processes: who hosts which logical worker, who is still
    in the run, the exchange of one iteration, and the record of departures and timings."""

    def __init__(self, n_workers: int, world_size: int, *, deadline: float,
                 emulate_links: float | None, log: bool = True):
        self.hosted = hosting(n_workers, world_size)
        self.host = np.zeros(n_workers, dtype=np.int64)
        for rank, workers in self.hosted.items():
            self.host[workers] = rank
        self.live = set(self.hosted)
        self.departed = np.zeros(n_workers, dtype=bool)
        self.deadline = deadline
        self.emulate_links = emulate_links
        self.log = log
        self.pids: dict[int, int] = {}
        self.local: set[int] = set()
        self.departures: list[dict] = []
        self.timings: dict[str, list[dict]] = {}
        self.scheme = ""
        self.checkpoint_dir: Path | None = None
        self._killed: dict[int, float] = {}
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, world_size - 1), thread_name_prefix="paba-link")

    # -- start and end ------------------------------------------------------------------------

    def handshake(self, expected: list[int]) -> None:
        """Receive every process's handshake and check that it built the same data."""
        node = host_digest()
        for rank in sorted(self.hosted):
            message = torch.empty(HANDSHAKE, dtype=torch.int64)
            dist.recv(message, src=rank, tag=TAG_HANDSHAKE)
            values = message.tolist()
            if values[3:] != expected:
                raise LaunchError(
                    f"rank {rank} built other data or another model than the server (K, L, "
                    f"samples, digest: {values[3:]} there, {expected} here); every process must "
                    f"be given the same paba train options and the same data files")
            self.pids[rank] = values[1]
            if values[2] == node:
                self.local.add(rank)

    def stop(self) -> None:
        """Tell every live process to exit."""
        self._pool.shutdown(wait=False)
        works = []
        for rank in sorted(self.live):
            header = torch.zeros(HEADER + len(self.hosted[rank]), dtype=torch.int64)
            header[0] = STOP
            works.append((rank, header, _posted(dist.isend(header, dst=rank, tag=TAG_HEADER))))
        for _, _, work in works:
            try:
                work.wait()
            except RuntimeError:
                pass

    # -- one iteration ------------------------------------------------------------------------

    def exchange(self, model: torch.nn.Module, jobs: list, iteration: int, record) -> list:
        """Send the model and each job's block to the process hosting its worker, and return
        (block gradient, loss) per job. Raises _Departure when processes leave."""
        started = time.perf_counter()
        flat = torch.cat([p.detach().reshape(-1) for p in trainable_parameters(model)])
        mine: dict[int, dict[int, tuple[int, torch.Tensor]]] = {r: {} for r in self.live}
        for position, (k, block) in enumerate(jobs):
            mine[int(self.host[k])][k] = (position, block)
        scale = self.emulate_links
        keep: list[torch.Tensor] = []
        works: dict[int, list[dist.Work]] = {}
        replies: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        failures: dict[int, tuple[float, str]] = {}
        sent = received = 0
        longest_hold = 0.0
        for rank in sorted(self.live):
            hosted, jobs_here = self.hosted[rank], mine[rank]
            sizes = [jobs_here[k][1].numel() if k in jobs_here else 0 for k in hosted]
            total = sum(sizes)
            header = torch.tensor([STEP if total else IDLE, iteration, flat.numel() if total
                                   else 0, total, *sizes], dtype=torch.int64)
            holds = torch.zeros(2 * len(hosted), dtype=torch.float64)
            if scale is not None and record is not None:
                for j, k in enumerate(hosted):
                    if k in jobs_here:
                        holds[j] = float(record.download[k]) * scale
                        holds[len(hosted) + j] = float(record.upload[k]) * scale
                longest_hold = max(longest_hold, float(holds[:len(hosted)].max())
                                   + float(holds[len(hosted):].max()))
            messages = [(header, TAG_HEADER), (holds, TAG_HOLDS)]
            if total:
                indices = torch.cat([jobs_here[k][1] for k in hosted if k in jobs_here])
                messages += [(flat, TAG_MODEL), (indices.to(index_dtype(flat.numel())),
                                                    TAG_INDICES)]
            works[rank] = []
            try:  # posting to a process whose connection is gone fails at once
                for tensor, tag in messages:
                    keep.append(tensor)
                    sent += tensor.numel() * tensor.element_size()
                    works[rank].append(_posted(dist.isend(tensor, dst=rank, tag=tag)))
                if total:
                    losses = torch.empty(len(hosted) + 1, dtype=torch.float64)
                    gradients = torch.empty(total, dtype=torch.float32)
                    replies[rank] = (losses, gradients)
                    works[rank] += [_posted(dist.irecv(losses, src=rank, tag=TAG_LOSSES)),
                                    _posted(dist.irecv(gradients, src=rank, tag=TAG_GRADIENTS))]
                    received += losses.numel() * 8 + gradients.numel() * 4
            except RuntimeError as error:
                failures[rank] = (time.perf_counter() - started, str(error).strip())
        # Wait for every process at once; at the deadline (plus a grace period) kill the local
        # processes still busy: a stopped process cannot run its own deadline, and a killed
        # process's connection closes, which ends the waits on it at once.
        self._killed = {}
        pending = {rank: self._pool.submit(_wait_all, rank_works, started)
                   for rank, rank_works in works.items() if rank not in failures}
        limit = self.deadline + longest_hold + GRACE
        concurrent.futures.wait(pending.values(), timeout=limit)
        for rank, future in pending.items():
            if not future.done() and rank in self.local:
                try:
                    os.kill(self.pids[rank], signal.SIGKILL)
                    self._killed[rank] = time.perf_counter() - started
                except ProcessLookupError:
                    pass
        for rank, future in pending.items():
            failure = future.result()
            if failure is not None:
                failures[rank] = failure
        if failures:
            raise _Departure({rank: self._classify(rank, *failure)
                              for rank, failure in failures.items()})
        sizes_of = {k: block.numel() for k, block in jobs}
        out: list = [None] * len(jobs)
        compute = 0.0
        for rank, (losses, gradients) in replies.items():
            offset = 0
            compute = max(compute, float(losses[-1]))
            for j, k in enumerate(self.hosted[rank]):
                if k in mine[rank]:
                    position, block = mine[rank][k]
                    size = block.numel()
                    out[position] = (gradients[offset:offset + size], float(losses[j]))
                    offset += size
        wall = time.perf_counter() - started
        self.timings.setdefault(self.scheme, []).append({
            "iteration": iteration, "wall_s": wall, "compute_s": compute,
            "block_sizes": [int(sizes_of.get(k, 0)) for k in range(self.host.size)],
            "bytes_sent": sent, "bytes_received": received,
            "processes": len(replies),
            "modelled_latency_s": None if record is None else float(record.latency),
            "modelled_links_s": None if record is None else float(np.max(
                np.where(record.loads > 0, record.download + record.upload, 0.0)))})
        return out

    def _classify(self, rank: int, after: float, error: str) -> dict:
        if rank in self._killed:
            reason = "deadline"
            detail = (f"missed the deadline of {self.deadline:g} s; killed by the server "
                      f"{self._killed[rank]:.3f} s into the iteration")
        elif after >= self.deadline:
            reason = "deadline"
            detail = f"missed the deadline of {self.deadline:g} s and ended itself"
        else:
            reason = "crash"
            detail = ("connection closed by peer" if "by peer" in error
                      else f"connection lost: {error.splitlines()[0][:160] if error else '?'}")
        return {"rank": rank, "pid": self.pids.get(rank), "workers": list(self.hosted[rank]),
                "reason": reason, "detail": detail, "detected_after_s": after}

    def leave(self, departure: _Departure, iteration: int) -> None:
        """Take the processes of a departure out of the run from ``iteration`` on."""
        for rank, entry in sorted(departure.failures.items()):
            self.live.discard(rank)
            self.departed[self.hosted[rank]] = True
            self.departures.append({"scheme": self.scheme, "iteration": iteration, **entry})
            if self.log:
                print(f"paba: rank {rank} (pid {entry['pid']}, workers {entry['workers']}) left "
                      f"the run at iteration {iteration} of {self.scheme}: {entry['reason']}, "
                      f"{entry['detail']} (found {entry['detected_after_s']:.3f} s into the "
                      f"iteration); {len(self.live)} worker process"
                      f"{'es' * (len(self.live) != 1)} remain{'s' * (len(self.live) == 1)}",
                      file=sys.stderr, flush=True)

    def summary(self, world_size: int, startup_s: float) -> dict:
        per_scheme = {}
        for scheme, rows in self.timings.items():
            walls = [row["wall_s"] for row in rows]
            per_scheme[scheme] = {
                "exchanges": len(rows),
                "mean_exchange_wall_s": float(np.mean(walls)) if walls else None,
                "mean_bytes_sent": float(np.mean([r["bytes_sent"] for r in rows])) if rows
                else None,
                "mean_bytes_received": float(np.mean([r["bytes_received"] for r in rows]))
                if rows else None,
                "iterations": rows}
        return {"processes": world_size, "worker_processes": world_size - 1,
                "hosting": {str(rank): workers for rank, workers in self.hosted.items()},
                "pids": {str(rank): pid for rank, pid in self.pids.items()},
                "deadline_s": self.deadline, "emulate_links": self.emulate_links,
                "startup_s": startup_s, "departures": self.departures,
                "absent_workers_at_end": np.flatnonzero(self.departed).tolist(),
                "exchanges": per_scheme}


def _wait_all(works: list, started: float):
    """Wait for one process's messages of an iteration: None, or (seconds into the iteration,
    error) when its connection fails."""
    try:
        for work in works:
            work.wait()
    except RuntimeError as error:
        return time.perf_counter() - started, str(error).strip()
    return None


class _Present:
    """The scheduler's draws with the departed workers masked out of the presence (the
    availability path): a departed worker is absent exactly as a churn trace would make it."""

    def __init__(self, draw, departed: np.ndarray):
        self.inner = draw
        self.departed = departed

    def __call__(self, n: int):
        gain, known, present, factor = self.inner(n)
        return gain, known, present & ~self.departed, factor

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _RunView:
    """A scheduler run that remembers its last record (for the link holds)."""

    def __init__(self, run: SchedulerRun, departed: np.ndarray):
        if not isinstance(run.draw, _Present):
            # A stand-in for the run's Draws (called like it, its attributes forwarded), which
            # SchedulerRun.draw is declared as.
            run.draw = cast(Draws, _Present(run.draw, departed))
        self.inner = run
        self.last: IterationRecord | None = None

    def __iter__(self):
        return self

    def __next__(self):
        self.last = next(self.inner)
        return self.last

    def __getattr__(self, name):
        return getattr(self.inner, name)


class ServerTrainer(PartitionedTrainer):
    """A :class:`PartitionedTrainer` whose block gradients the worker processes compute."""

    def __init__(self, *args, link: Link, **kwargs):
        super().__init__(*args, **kwargs)
        self.link = link
        self.checkpoint_path: str | os.PathLike | None = None

    def run(self, **kwargs):
        self.checkpoint_path = kwargs.get("checkpoint")
        self.link.scheme = self.scheduler.scheme
        return super().run(**kwargs)

    def _wrap_run(self, run: SchedulerRun) -> _RunView:
        """The run as a view that remembers its last record and leaves departed workers out."""
        return _RunView(run, self.link.departed)

    def _view(self) -> _RunView:
        """The run in progress's view (called within a run)."""
        run = self._run_state().run
        assert isinstance(run, _RunView)
        return run

    def block_gradients(self, jobs):
        run = self._view()
        return self.link.exchange(self.model, jobs, run.iteration - 1, run.last)

    def step(self, budget: float | None = None) -> bool:
        state = self._begin()
        while True:
            run = self._view()
            run.last = None
            saved = state.snapshot()
            try:
                return super().step(budget)
            except _Departure as departure:
                iteration = run.iteration - 1
                # Roll the iteration back; a pending allocation (made before a budget stop)
                # cannot be made again, so the next iteration of the scheduler replaces it.
                state.restore(self.scheduler, saved, self._wrap_run)
                self.link.leave(departure, iteration)
                if not self.link.live:
                    self._all_gone(iteration)

    def _all_gone(self, iteration: int):
        path = self.checkpoint_path
        if path is None:
            if self.link.checkpoint_dir is None:
                raise RuntimeError("Link.checkpoint_dir: must be set (run_server sets it) for a "
                                   "run without a checkpoint path to be saved")
            path = self.link.checkpoint_dir / f"{self.scheduler.scheme}.pt"
        self.save_checkpoint(path)
        left = "; ".join(f"rank {d['rank']} (workers {d['workers']}) at iteration "
                         f"{d['iteration']} of {d['scheme']}: {d['reason']}, {d['detail']}"
                         for d in self.link.departures)
        raise AllWorkersGone(
            f"every worker process has left the run ({left}); the state before iteration "
            f"{iteration} of {self.scheduler.scheme} is in {path}: rerun the same command with "
            f"--checkpoint {Path(path).parent} to resume with new processes")


def run_server(args: argparse.Namespace, world_size: int, started: float) -> int:
    """Run the accuracy study as the server and write summary.json with the processes'
    record. Returns the exit status."""
    from ..studies._report import write_summary
    from ..studies.accuracy import accuracy_report, run_accuracy_study, study_options

    link = Link(args.workers, world_size, deadline=args.deadline,
                emulate_links=args.emulate_links, log=not args.quiet)
    data, shards, model = build_data(args)
    n_params = sum(p.numel() for p in trainable_parameters(model))
    link.handshake([args.workers, n_params, data.n_train, data_digest(data, shards)])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    startup = time.perf_counter() - started
    processes = {"server": os.getpid(), "workers": {str(r): p for r, p in link.pids.items()}}
    temporary = out / "processes.json.tmp"
    temporary.write_text(json.dumps(processes, indent=2) + "\n")
    os.replace(temporary, out / "processes.json")
    link.checkpoint_dir = Path(args.checkpoint) if args.checkpoint else out / "checkpoint"
    injected = faults(0)

    class Trainer(ServerTrainer):
        def block_gradients(self, jobs):
            iteration = self._view().iteration - 1
            if injected.get(iteration) == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return super().block_gradients(jobs)

    def make(*a, **k):
        return Trainer(*a, link=link, **k)

    try:
        summary = run_accuracy_study(**study_options(args), trainer_class=make)
    finally:
        link.stop()
    summary["distributed"] = link.summary(world_size, startup)
    if args.out is not None:
        report = accuracy_report(summary) + distributed_report(summary["distributed"])
        write_summary(out, summary, report)
    return 0


def distributed_report(record: dict) -> str:
    """The report's section on the processes: departures and measured exchanges."""
    lines = ["", "## Processes", "",
             f"{record['processes']} processes: the server and {record['worker_processes']} "
             f"worker processes hosting workers "
             + ", ".join(f"{v[0]}..{v[-1]} (rank {r})" for r, v in record["hosting"].items())
             + f"; deadline {record['deadline_s']:g} s per iteration; the group was up "
             f"{record['startup_s']:.2f} s after the server started.", ""]
    if record["departures"]:
        lines += ["| scheme | iteration | rank | workers | reason | detail | detected after (s) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for d in record["departures"]:
            lines.append(f"| {d['scheme']} | {d['iteration']} | {d['rank']} | {d['workers']} | "
                         f"{d['reason']} | {d['detail']} | {d['detected_after_s']:.3f} |")
    else:
        lines.append("No worker process left the run.")
    lines += ["", "| scheme | exchanges | mean wall time per exchange (ms) | bytes sent | "
                  "bytes received |", "| --- | --- | --- | --- | --- |"]
    for scheme, s in record["exchanges"].items():
        if s["exchanges"]:
            lines.append(f"| {scheme} | {s['exchanges']} | {1e3 * s['mean_exchange_wall_s']:.2f}"
                         f" | {s['mean_bytes_sent']:,.0f} | {s['mean_bytes_received']:,.0f} |")
    if record["emulate_links"] is not None:
        scale = record["emulate_links"]
        lines += ["", f"Link emulation, scale {scale:g}: measured exchange against the "
                      "modelled latency times the scale (first 10 iterations of each scheme).",
                  "", "| scheme | iteration | modelled x scale (s) | links x scale (s) | "
                      "measured (s) |", "| --- | --- | --- | --- | --- |"]
        for scheme, s in record["exchanges"].items():
            for row in s["iterations"][:10]:
                if row["modelled_latency_s"] is None:
                    continue
                lines.append(f"| {scheme} | {row['iteration']} | "
                             f"{row['modelled_latency_s'] * scale:.3f} | "
                             f"{row['modelled_links_s'] * scale:.3f} | {row['wall_s']:.3f} |")
    return "\n".join(lines) + "\n"
