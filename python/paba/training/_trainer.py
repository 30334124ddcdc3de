"""Partitioned training (PARTEL, docs/training.md 1): every iteration the scheduler allocates, the
server deals the model's units into one block per worker group with the allocated sizes, every
worker computes the gradient of its group's block on its own data shard, and the server cascades
the blocks into one update of the whole model. The iteration's realised latency is added to the
learning latency, against which test accuracy and loss are recorded.

The update is a block-coordinate step: the coordinates of block n move by the gradient of
group n's data (its members' shard gradients averaged with weights proportional to their shard
sizes), all blocks at the same model. With plain SGD that is exactly what the workers would
upload; the optimiser (SGD with momentum, or Adam) lives on the server and is applied to the
cascaded gradient, since a block moves from worker to worker between iterations and per-coordinate
optimiser state cannot follow it to the workers. A worker computes its gradient on the current
whole model; only its block's coordinates (what it downloads and uploads) enter the latency.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._allocation import SCHEMES
from .._records import IterationRecord
from .._scenario import Scenario
from .._scheduler import Scheduler, SchedulerRun
from .._validation import callback, choice, integer, positive_float, real_number
from . import _checkpoint
from ._data import Dataset
from ._optimizer import make_optimizer
from ._partition import ModelPartition, trainable_parameters
from ._state import Pending, RunState, TrainingResult, group_unit_counts


def shard_sizes(shards: Sequence[np.ndarray], n_train: int) -> np.ndarray:
    """Validate shards (index arrays into the training set, one per worker) and return their
    sizes as float64."""
    sizes = []
    for k, shard in enumerate(shards):
        shard = np.asarray(shard)
        if shard.ndim != 1 or shard.size == 0 or shard.dtype.kind not in "iu":
            raise ValueError(f"shards: shard {k} must be a non-empty 1-D array of sample indices")
        if shard.min() < 0 or shard.max() >= n_train:
            raise ValueError(f"shards: shard {k} has indices outside 0..{n_train - 1}")
        sizes.append(shard.size)
    return np.asarray(sizes, dtype=np.float64)


def make_scheduler(partition: ModelPartition, scenario: Scenario, scheme: str, shards,
                   *, max_iterations: int = 10_000, **options) -> Scheduler:
    """A :class:`paba.Scheduler` for training: the scenario's model size is the model's, each
    worker's samples per iteration D_k are its shard's size, and allocations are rounded to the
    model's units.

    Parameters
    ----------
    partition : ModelPartition
    scenario : paba.Scenario
        Its ``n_workers`` must equal the number of shards.
    scheme : str
        One of :data:`paba.SCHEMES`.
    shards : sequence of index arrays
        One per worker.
    max_iterations : int, default 10000
        Iterations the scheduler can run (training stops at its budget or here).
    **options
        Further :class:`paba.Scheduler` arguments (``csi``, ``groups``, ``jitter``, ...).
    """
    if len(shards) != scenario.n_workers:
        raise ValueError(f"shards: {len(shards)} shards for {scenario.n_workers} workers")
    sizes = np.asarray([np.asarray(s).size for s in shards], dtype=np.float64)
    scenario = scenario.replace(params=partition.n_params, samples=sizes)
    options.setdefault("record", "summary")
    return Scheduler(scenario, scheme, iterations=max_iterations, granules=partition.granules,
                     **options)


def block_gradient(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                   block: torch.Tensor | None = None) -> tuple[torch.Tensor, float]:
    """What one worker computes in an iteration: the gradient of the mean cross-entropy of
    ``model`` on its shard ``(x, y)``, flattened in the order of the trainable parameters and
    restricted to the coordinates ``block`` (all of them when None), and that loss.

    The in-process trainer and the worker processes of ``paba.distributed`` both call this
    function, so the two compute the same numbers."""
    params = trainable_parameters(model)
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params)
    flat = torch.cat([g.reshape(-1) for g in grads])
    return (flat if block is None else flat[block]), float(loss.item())


class PartitionedTrainer:
    """Train a model partitioned across the workers of a scheduler (module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place; a classifier returning logits.
    data : Dataset
        Training and test set (``paba.training.load_dataset``).
    scheduler : paba.Scheduler
        Allocates every iteration; its scenario's ``params`` must be the model's trainable
        parameter count, its workers one per shard, and, for ``granularity="unit"``, its
        ``granules`` the model's (:func:`make_scheduler` builds such a scheduler).
    shards : sequence of index arrays
        The training samples of each worker (``paba.training.shard``).
    granularity : {"unit", "parameter"}, default "unit"
        What a block is made of (:class:`ModelPartition`).
    optimizer : {"sgd", "adam"}, default "sgd"
        The server's optimiser.
    lr : float, default 0.05
        Learning rate.
    momentum : float, default 0.9
        Momentum of SGD.
    seed : int, default 0
        Seed of the dealing of units to blocks.
    eval_every : int, default 1
        Evaluate on the test set every this many iterations (and always at the end).
    """

    def __init__(self, model: torch.nn.Module, data: Dataset, scheduler: Scheduler, shards, *,
                 granularity: str = "unit", optimizer: str = "sgd", lr: float = 0.05,
                 momentum: float = 0.9, seed: int = 0, eval_every: int = 1):
        if not isinstance(data, Dataset):
            raise ValueError(f"data: must be a paba.training.Dataset, got {type(data).__name__}")
        if not isinstance(scheduler, Scheduler):
            raise ValueError(f"scheduler: must be a paba.Scheduler, got "
                             f"{type(scheduler).__name__}")
        self.model = model
        self.partition = ModelPartition(model, granularity)
        self.data = data
        self.scheduler = scheduler
        scenario = scheduler.scenario
        if scenario.params != self.partition.n_params:
            raise ValueError(f"scheduler: its scenario's params is {scenario.params}, the model "
                             f"has {self.partition.n_params} trainable parameters")
        if len(shards) != scenario.n_workers:
            raise ValueError(f"shards: {len(shards)} shards for {scenario.n_workers} workers")
        sizes = shard_sizes(shards, data.n_train)
        samples = np.broadcast_to(np.asarray(scenario.samples, dtype=np.float64), sizes.shape)
        if not np.array_equal(samples, sizes):
            raise ValueError("scheduler: its scenario's samples per worker must be the shard "
                             "sizes (use paba.training.make_scheduler)")
        granules = scheduler.granules
        if not self.partition.granules.trivial and (
                granules is None or not np.array_equal(granules.sizes,
                                                       self.partition.granules.sizes)
                or not np.array_equal(granules.counts, self.partition.granules.counts)):
            raise ValueError("scheduler: its granules must be the model's units "
                             "(use paba.training.make_scheduler)")
        self.shard_sizes = sizes
        self.groups = (np.arange(scenario.n_workers) if scheduler.groups is None
                       else np.asarray(scheduler.groups))
        self.n_groups = scheduler.n_groups
        self.optimizer_name = optimizer
        self.lr = lr
        self.momentum = momentum
        self.optimizer = make_optimizer(optimizer, trainable_parameters(model), lr=lr,
                                        momentum=momentum)
        self.seed = integer("seed", seed, minimum=0)
        self.eval_every = integer("eval_every", eval_every, minimum=1)
        self._x_train = torch.from_numpy(np.array(data.x_train, dtype=np.float32))
        self._y_train = torch.from_numpy(np.array(data.y_train, dtype=np.int64))
        self._x_test = torch.from_numpy(np.array(data.x_test, dtype=np.float32))
        self._y_test = torch.from_numpy(np.array(data.y_test, dtype=np.int64))
        self._shards = [torch.from_numpy(np.sort(np.asarray(s, dtype=np.int64)))
                        for s in shards]
        self._state: RunState | None = None  # the run in progress
        self._fingerprint = _checkpoint.fingerprint(self)

    # -- the pieces of one iteration ----------------------------------------------------------

    def evaluate(self) -> tuple[float, float]:
        """Test accuracy in [0, 1] and mean test cross-entropy of the current model."""
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            logits = self.model(self._x_test)
            loss = F.cross_entropy(logits, self._y_test).item()
            accuracy = (logits.argmax(dim=1) == self._y_test).double().mean().item()
        self.model.train(was_training)
        return float(accuracy), float(loss)

    def worker_gradient(self, worker: int) -> tuple[torch.Tensor, float]:
        """The flat gradient of the mean cross-entropy on a worker's shard at the current model
        (shape (L,)), and that loss."""
        return block_gradient(self.model, *self._shard_data(worker))

    def _shard_data(self, worker: int) -> tuple[torch.Tensor, torch.Tensor]:
        shard = self._shards[worker]
        return self._x_train[shard], self._y_train[shard]

    def block_gradients(self, jobs: list[tuple[int, torch.Tensor]]
                        ) -> list[tuple[torch.Tensor, float]]:
        """For each job (worker k, block of flat parameter indices), what worker k uploads: its
        shard gradient on the block's coordinates, and its shard loss. Computed here, in order;
        ``paba.distributed``'s server overrides this to have worker processes compute the same
        :func:`block_gradient` on their own shards."""
        return [block_gradient(self.model, *self._shard_data(k), block) for k, block in jobs]

    def cascaded_gradient(self, loads: np.ndarray, blocks: list[torch.Tensor]
                          ) -> tuple[torch.Tensor, float]:
        """The update direction the server cascades: on block n, the shard-size weighted mean of
        the gradients of group n's loaded members; and the loaded workers' mean shard loss."""
        cascade = torch.zeros(self.partition.n_params, dtype=torch.float32)
        jobs: list[tuple[int, torch.Tensor]] = []
        for n, block in enumerate(blocks):
            if block.numel() == 0:
                continue
            members = np.flatnonzero((self.groups == n) & (loads > 0))
            jobs.extend((k, block) for k in members.tolist())
        uploads = iter(self.block_gradients(jobs))
        loss_sum = weight_sum = 0.0
        for n, block in enumerate(blocks):
            if block.numel() == 0:
                continue
            members = np.flatnonzero((self.groups == n) & (loads > 0))
            total = self.shard_sizes[members].sum()
            combined = None
            for k in members.tolist():
                gradient, loss = next(uploads)
                weight = self.shard_sizes[k] / total
                combined = gradient * weight if combined is None else combined + gradient * weight
                loss_sum += loss * self.shard_sizes[k]
                weight_sum += self.shard_sizes[k]
            if combined is None:  # the loads deal units only to groups with a loaded member
                raise RuntimeError(f"group {n} was dealt a block but has no loaded worker")
            cascade[block] = combined
        return cascade, float(loss_sum / weight_sum)

    def apply(self, cascade: torch.Tensor) -> None:
        """One optimiser step of the server with the cascaded gradient."""
        offset = 0
        for p in trainable_parameters(self.model):
            n = p.numel()
            p.grad = cascade[offset:offset + n].view_as(p).clone()
            offset += n
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    # -- runs ---------------------------------------------------------------------------------

    def _wrap_run(self, run: SchedulerRun) -> Iterator[IterationRecord]:
        """The scheduler's run as the trainer steps it, wherever a run state is made (a fresh
        run, a loaded checkpoint, a rollback): the run itself here; ``paba.distributed``'s server
        puts a view of it in its place."""
        return run

    def _run_state(self) -> RunState:
        """The state of the run in progress; callers start one first."""
        if self._state is None:
            raise RuntimeError("no run in progress")
        return self._state

    def _begin(self) -> RunState:
        """The run in progress, a fresh one (evaluated at iteration 0) where there is none."""
        if self._state is None:
            accuracy, loss = self.evaluate()
            state = RunState.fresh(self.scheduler, self.seed, accuracy, loss)
            state.run = self._wrap_run(state.run)  # type: ignore[arg-type]
            self._state = state
        return self._state

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the whole state of the run in progress to ``path`` atomically (a temporary file
        in the same directory, then a rename).

        The file holds only tensors and plain data (docs/training.md section 5): the format
        and its version, the run's fingerprint, the model's and the optimiser's state dicts,
        PyTorch's random state, the scheduler's run (:meth:`paba.SchedulerRun.state_dict`), the
        state of the generator that deals units, the records and the iteration allocated but
        not applied (at a budget stop). :meth:`load_checkpoint` reads it with
        ``torch.load(weights_only=True)``.
        """
        if self._state is None:
            raise ValueError("path: no run in progress to checkpoint")
        _checkpoint.save(self, self._state, path)

    def load_checkpoint(self, path: str | os.PathLike) -> TrainingResult:
        """Restore a run saved by :meth:`save_checkpoint`.

        The file is read with ``torch.load(weights_only=True)``, which builds tensors and plain
        data only and runs no code from the file; then its format version, its fingerprint
        (everything that determines the run: ``paba.training._checkpoint.fingerprint``) and
        every part's structure, types, shapes and ranges are checked before anything in it is
        used, and the trainer is changed only when all of it passes. Any failure is a
        ``ValueError`` starting with ``checkpoint:``: an unreadable, damaged, crafted or foreign
        file, a checkpoint of another run (naming what differs), or a version-1 checkpoint (a
        pickle, refused).
        """
        state = _checkpoint.load(self, path)
        run = state.run
        assert isinstance(run, SchedulerRun)
        self.scheduler = run.scheduler
        state.run = self._wrap_run(run)
        self._state = state
        return state.result

    def _unit_counts(self, unit_counts, loads) -> np.ndarray:
        """Units of each size per group (single parameters as units: the group loads)."""
        return group_unit_counts(unit_counts, loads, self.groups, self.n_groups)

    def _continue(self, budget: float | None, max_iterations: int | None,
                  checkpoint) -> None:
        """Make the run in progress go on to this budget and iteration limit, exactly as an
        uninterrupted run with them would: a stopped run is reopened (its final evaluation
        taken back, the iteration it allocated but did not apply kept for the next step); a
        run that has already gone past them is refused, naming the limit."""
        state = self._run_state()
        result = state.result
        where = (f"checkpoint: {os.fspath(checkpoint)} holds a run that"
                 if checkpoint is not None else "budget: the run in progress")
        if budget is not None and result.learning_latency > budget:
            raise ValueError(
                f"{where} has already spent {result.learning_latency:.6g} s of learning "
                f"latency, more than budget = {budget:g} s, so it cannot stop where a run with "
                f"this budget stops; give a budget of at least that, or start afresh")
        if max_iterations is not None and result.iterations > max_iterations:
            where = where.replace("budget: ", "max_iterations: ")
            raise ValueError(
                f"{where} has already run {result.iterations} iterations, more than "
                f"max_iterations = {max_iterations}; give at least that many, or start afresh")
        if result.stopped != "running":
            if state.final:  # the evaluation made at the stop: the going run makes its own
                for name in ("iteration", "latency", "test_accuracy", "test_loss",
                             "train_loss"):
                    getattr(result, name).pop()
                state.since_eval = state.final
            state.final = 0
            result.stopped = "running"

    def step(self, budget: float | None = None) -> bool:
        """Run one iteration of the run in progress (starting one if needed). Returns False,
        without changing the model, when training has stopped (the budget or the scheduler's
        iterations are spent)."""
        state = self._begin()
        result = state.result
        if result.stopped != "running":
            return False
        pending = state.pending
        if pending is not None:  # allocated before a budget stop, not applied yet
            state.pending = None
        else:
            while True:
                try:
                    record = next(state.run)
                except StopIteration:
                    result.stopped = "iterations"
                    self._final_evaluation()
                    return False
                if record.allocation is not None:  # else no worker was present: nothing happens
                    break
            pending = Pending(float(record.latency), record.loads, record.unit_counts)
        if budget is not None and result.learning_latency + pending.latency > budget:
            state.pending = pending
            result.stopped = "budget"
            self._final_evaluation()
            return False
        counts = self._unit_counts(pending.unit_counts, pending.loads)
        owner = self.partition.assign(counts, state.dealer)
        blocks = self.partition.blocks(owner, self.n_groups)
        cascade, train_loss = self.cascaded_gradient(np.asarray(pending.loads), blocks)
        self.apply(cascade)
        result.iterations += 1
        result.learning_latency += pending.latency
        result.iteration_latency.append(pending.latency)
        state.since_eval += 1
        state.train_loss = train_loss
        if state.since_eval >= self.eval_every:
            self._record(train_loss)
        return True

    def _record(self, train_loss: float) -> None:
        state = self._run_state()
        result = state.result
        accuracy, loss = self.evaluate()
        result.iteration.append(result.iterations)
        result.latency.append(result.learning_latency)
        result.test_accuracy.append(accuracy)
        result.test_loss.append(loss)
        result.train_loss.append(train_loss)
        state.since_eval = 0

    def _final_evaluation(self) -> None:
        state = self._run_state()
        state.final = state.since_eval  # > 0: a point is added (taken back on reopening)
        if state.since_eval > 0:
            self._record(float("nan") if state.train_loss is None else state.train_loss)

    def run(self, *, budget: float | None = 100.0, max_iterations: int | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10,
            progress: Callable[[TrainingResult], None] | None = None) -> TrainingResult:
        """Train until the latency budget, the iteration limit or the scheduler's iterations.

        Parameters
        ----------
        budget : float or None, default 100
            Seconds of learning latency; training stops before the first iteration that would
            end after it. None: no budget.
        max_iterations : int, optional
            Stop after this many training iterations.
        checkpoint : path, optional
            A checkpoint file: resumed from when it exists (:meth:`load_checkpoint`), written
            every ``checkpoint_every`` iterations and at the end. An interrupted run resumed
            this way gives the same final numbers as one that was not interrupted.
        checkpoint_every : int, default 10
        progress : callable, optional
            Called with the :class:`TrainingResult` so far after every iteration.

        Returns
        -------
        TrainingResult

        Notes
        -----
        A run that has stopped (at a budget or an iteration limit), from a checkpoint or from
        an earlier ``run`` of this trainer, goes on to this call's limits and stops exactly
        where an uninterrupted run with them stops. One that has already gone past them (more
        learning latency spent than ``budget``, more iterations than ``max_iterations``) is
        refused with a ``ValueError`` naming the limit (``checkpoint:`` for a checkpoint).
        """
        if budget is not None:
            budget = positive_float("budget", real_number("budget", budget))
        if max_iterations is not None:
            max_iterations = integer("max_iterations", max_iterations, minimum=1)
        checkpoint_every = integer("checkpoint_every", checkpoint_every, minimum=1)
        callback("progress", progress)
        loaded = False
        if checkpoint is not None and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
            loaded = True
        else:
            self._begin()
        self._continue(budget, max_iterations, checkpoint if loaded else None)
        result = self._run_state().result
        started = time.perf_counter()
        try:
            while result.stopped == "running":
                if max_iterations is not None and result.iterations >= max_iterations:
                    result.stopped = "iterations"
                    self._final_evaluation()
                    break
                if not self.step(budget):
                    break
                if progress is not None:
                    progress(result)
                if checkpoint is not None and result.iterations % checkpoint_every == 0:
                    result.wall_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save_checkpoint(checkpoint)
        finally:
            result.wall_seconds += time.perf_counter() - started
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        if progress is not None:
            progress(result)
        return result


def train(model: torch.nn.Module, data: Dataset, scenario: Scenario, scheme: str = "joint", *,
          shards, granularity: str = "unit", budget: float | None = 100.0,
          max_iterations: int | None = None, optimizer: str = "sgd", lr: float = 0.05,
          momentum: float = 0.9, seed: int = 0, eval_every: int = 1,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10,
          progress: Callable[[TrainingResult], None] | None = None,
          scheduler_options: dict | None = None,
          trainer_class: Callable[..., PartitionedTrainer] | None = None) -> TrainingResult:
    """Train ``model`` partitioned across the workers of ``scenario`` with one scheme.

    The scheduler is :func:`make_scheduler`'s (model size, shard sizes and units taken from the
    model and the shards); the rest is :class:`PartitionedTrainer` and its ``run``
    (``trainer_class``, called with PartitionedTrainer's arguments, replaces it: how
    ``paba.distributed``'s server trains).
    """
    choice("scheme", scheme, SCHEMES)
    partition = ModelPartition(model, granularity)
    limit = 10_000 if max_iterations is None else max_iterations
    scheduler = make_scheduler(partition, scenario, scheme, shards, max_iterations=limit,
                               **(scheduler_options or {}))
    trainer = (trainer_class or PartitionedTrainer)(
        model, data, scheduler, shards, granularity=granularity, optimizer=optimizer, lr=lr,
        momentum=momentum, seed=seed, eval_every=eval_every)
    return trainer.run(budget=budget, max_iterations=max_iterations, checkpoint=checkpoint,
                       checkpoint_every=checkpoint_every, progress=progress)
