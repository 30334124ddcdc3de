"""Partitioned training (PARTEL, SPEC section 1): every iteration the scheduler allocates, the
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

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .._allocation import SCHEMES
from .._scenario import Scenario
from .._scheduler import Scheduler
from .._validation import integer, positive_float
from ._data import Dataset
from ._partition import ModelPartition, trainable_parameters

#: Optimisers of the server (:func:`make_optimizer`).
OPTIMIZERS = ("sgd", "adam")

#: Version of the checkpoint format.
CHECKPOINT_VERSION = 1


def make_optimizer(name: str, params, *, lr: float, momentum: float = 0.9
                   ) -> torch.optim.Optimizer:
    """The server's optimiser: ``"sgd"`` (with ``momentum``) or ``"adam"``, learning rate ``lr``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer: must be one of {OPTIMIZERS}, got {name!r}")
    lr = positive_float("lr", lr)
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"momentum: must be in [0, 1), got {momentum!r}")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    return torch.optim.Adam(params, lr=lr)


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


@dataclass
class TrainingResult:
    """Test accuracy and loss against learning latency of one training run.

    Attributes
    ----------
    scheme : str
    iterations : int
        Training iterations completed (iterations without any worker present are not counted).
    learning_latency : float
        Seconds of learning latency spent (the sum of the iterations' realised latencies).
    stopped : {"budget", "iterations", "running"}
        Why training stopped: the next iteration would have passed the latency budget, the
        iteration limit was reached, or it has not stopped yet.
    iteration, latency, test_accuracy, test_loss, train_loss : lists
        The curve, one entry per evaluation, the first at iteration 0 (latency 0, train loss
        NaN): cumulative learning latency in seconds, test accuracy in [0, 1], mean test
        cross-entropy, and the mean loss of the loaded workers' shards at the start of the
        iteration.
    iteration_latency : list of float
        Realised latency of every completed iteration, in seconds.
    wall_seconds : float
        Wall-clock time of the training (summed over resumed runs).
    """

    scheme: str
    iterations: int = 0
    learning_latency: float = 0.0
    stopped: str = "running"
    iteration: list = field(default_factory=list)
    latency: list = field(default_factory=list)
    test_accuracy: list = field(default_factory=list)
    test_loss: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    iteration_latency: list = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        """Test accuracy of the last evaluation (at the budget when training stopped there)."""
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    def accuracy_at(self, latency: float) -> float:
        """Test accuracy of the last evaluation at or before ``latency`` seconds."""
        index = int(np.searchsorted(np.asarray(self.latency), latency, side="right")) - 1
        return self.test_accuracy[index] if index >= 0 else float("nan")

    def to_dict(self) -> dict:
        """Plain Python values (for JSON): the final figures and the whole curve."""
        return {
            "scheme": self.scheme,
            "test_accuracy": self.accuracy,
            "test_loss": self.test_loss[-1] if self.test_loss else None,
            "train_loss": self.train_loss[-1] if self.train_loss else None,
            "iterations": self.iterations,
            "learning_latency_s": self.learning_latency,
            "mean_iteration_latency_s": (float(np.mean(self.iteration_latency))
                                         if self.iteration_latency else None),
            "stopped": self.stopped,
            "wall_seconds": self.wall_seconds,
            "curve": {"iteration": list(self.iteration), "latency_s": list(self.latency),
                      "test_accuracy": list(self.test_accuracy),
                      "test_loss": list(self.test_loss),
                      "train_loss": [None if math.isnan(v) else v for v in self.train_loss]},
        }


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
        self._state = None  # the run in progress: see _fresh_state

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
        params = trainable_parameters(self.model)
        shard = self._shards[worker]
        loss = F.cross_entropy(self.model(self._x_train[shard]), self._y_train[shard])
        grads = torch.autograd.grad(loss, params)
        return torch.cat([g.reshape(-1) for g in grads]), float(loss.item())

    def cascaded_gradient(self, loads: np.ndarray, blocks: list[torch.Tensor]
                          ) -> tuple[torch.Tensor, float]:
        """The update direction the server cascades: on block n, the shard-size weighted mean of
        the gradients of group n's loaded members; and the loaded workers' mean shard loss."""
        cascade = torch.zeros(self.partition.n_params, dtype=torch.float32)
        loss_sum = weight_sum = 0.0
        for n, block in enumerate(blocks):
            if block.numel() == 0:
                continue
            members = np.flatnonzero((self.groups == n) & (loads > 0))
            total = self.shard_sizes[members].sum()
            combined = None
            for k in members.tolist():
                gradient, loss = self.worker_gradient(k)
                weight = self.shard_sizes[k] / total
                combined = gradient * weight if combined is None else combined + gradient * weight
                loss_sum += loss * self.shard_sizes[k]
                weight_sum += self.shard_sizes[k]
            cascade[block] = combined[block]
        return cascade, loss_sum / weight_sum

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

    def _fresh_state(self) -> dict:
        accuracy, loss = self.evaluate()
        result = TrainingResult(self.scheduler.scheme, iteration=[0], latency=[0.0],
                                test_accuracy=[accuracy], test_loss=[loss],
                                train_loss=[float("nan")])
        return {"run": iter(self.scheduler), "rng": np.random.default_rng(self.seed),
                "result": result, "since_eval": 0}

    def _fingerprint(self) -> dict:
        scenario = self.scheduler.scenario
        return {"scheme": self.scheduler.scheme, "params": self.partition.n_params,
                "granularity": self.partition.granularity, "workers": scenario.n_workers,
                "scenario_seed": scenario.seed, "seed": self.seed,
                "optimizer": self.optimizer_name, "lr": self.lr, "momentum": self.momentum,
                "shard_sizes": self.shard_sizes.tolist()}

    def save_checkpoint(self, path: str | os.PathLike) -> None:
        """Write the whole state of the run in progress to ``path`` atomically (a temporary file
        in the same directory, then a rename): model, optimiser, the scheduler's run (random
        streams, channel memory, warm start, history), the dealing RNG, torch's RNG and the
        records."""
        if self._state is None:
            raise ValueError("path: no run in progress to checkpoint")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {"version": CHECKPOINT_VERSION, "fingerprint": self._fingerprint(),
                 "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "torch_rng": torch.get_rng_state(), "state": self._state}
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                torch.save(state, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load_checkpoint(self, path: str | os.PathLike) -> TrainingResult:
        """Restore a run saved by :meth:`save_checkpoint` (the checkpoint is trusted: it is
        unpickled). Raises ValueError naming ``checkpoint`` when it belongs to another run."""
        try:
            state = torch.load(path, weights_only=False)
        except Exception as error:  # a damaged or foreign file
            raise ValueError(f"checkpoint: cannot read {path}: {error}") from error
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"checkpoint: {path} is not a paba training checkpoint")
        if state["fingerprint"] != self._fingerprint():
            raise ValueError(f"checkpoint: {path} was written by a different run "
                             f"({state['fingerprint']} against {self._fingerprint()})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        self._state = state["state"]
        self.scheduler = self._state["run"].scheduler
        return self._state["result"]

    def step(self, budget: float | None = None) -> bool:
        """Run one iteration of the run in progress (starting one if needed). Returns False,
        without changing the model, when training has stopped (the budget or the scheduler's
        iterations are spent)."""
        if self._state is None:
            self._state = self._fresh_state()
        state = self._state
        result = state["result"]
        if result.stopped != "running":
            return False
        while True:
            try:
                record = next(state["run"])
            except StopIteration:
                result.stopped = "iterations"
                self._final_evaluation()
                return False
            if record.allocation is not None:  # else no worker was present: nothing happens
                break
        if budget is not None and result.learning_latency + record.latency > budget:
            result.stopped = "budget"
            self._final_evaluation()
            return False
        counts = record.unit_counts
        if counts is None:  # single parameters as units: the group loads are the counts
            counts = np.zeros((self.n_groups, 1), dtype=np.int64)
            counts[self.groups, 0] = record.loads
        owner = self.partition.assign(counts, state["rng"])
        blocks = self.partition.blocks(owner, self.n_groups)
        cascade, train_loss = self.cascaded_gradient(np.asarray(record.loads), blocks)
        self.apply(cascade)
        result.iterations += 1
        result.learning_latency += record.latency
        result.iteration_latency.append(float(record.latency))
        state["since_eval"] += 1
        state["train_loss"] = train_loss
        if state["since_eval"] >= self.eval_every:
            self._record(train_loss)
        return True

    def _record(self, train_loss: float) -> None:
        state = self._state
        result = state["result"]
        accuracy, loss = self.evaluate()
        result.iteration.append(result.iterations)
        result.latency.append(result.learning_latency)
        result.test_accuracy.append(accuracy)
        result.test_loss.append(loss)
        result.train_loss.append(train_loss)
        state["since_eval"] = 0

    def _final_evaluation(self) -> None:
        state = self._state
        if state["since_eval"] > 0:
            self._record(state.get("train_loss", float("nan")))

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
            A checkpoint file: resumed from when it exists, written every ``checkpoint_every``
            iterations and at the end. An interrupted run resumed this way gives the same final
            numbers as one that was not interrupted.
        checkpoint_every : int, default 10
        progress : callable, optional
            Called with the :class:`TrainingResult` so far after every iteration.

        Returns
        -------
        TrainingResult
        """
        if budget is not None:
            budget = positive_float("budget", budget)
        if max_iterations is not None:
            max_iterations = integer("max_iterations", max_iterations, minimum=1)
        checkpoint_every = integer("checkpoint_every", checkpoint_every, minimum=1)
        if checkpoint is not None and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
        elif self._state is None:
            self._state = self._fresh_state()
        result = self._state["result"]
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
          scheduler_options: dict | None = None) -> TrainingResult:
    """Train ``model`` partitioned across the workers of ``scenario`` with one scheme.

    The scheduler is :func:`make_scheduler`'s (model size, shard sizes and units taken from the
    model and the shards); the rest is :class:`PartitionedTrainer` and its ``run``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES}, got {scheme!r}")
    partition = ModelPartition(model, granularity)
    limit = 10_000 if max_iterations is None else max_iterations
    scheduler = make_scheduler(partition, scenario, scheme, shards, max_iterations=limit,
                               **(scheduler_options or {}))
    trainer = PartitionedTrainer(model, data, scheduler, shards, granularity=granularity,
                                 optimizer=optimizer, lr=lr, momentum=momentum, seed=seed,
                                 eval_every=eval_every)
    return trainer.run(budget=budget, max_iterations=max_iterations, checkpoint=checkpoint,
                       checkpoint_every=checkpoint_every, progress=progress)
