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

import dataclasses
import hashlib
import math
import os
import pickletools
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .._allocation import SCHEMES
from .._scenario import Scenario
from .._scheduler import Scheduler, SchedulerRun
from .._streams import generator_from_state
from .._validation import (
    callback,
    choice,
    describe,
    exactly,
    integer,
    plain_differences,
    positive_float,
    real_number,
)
from ._data import Dataset
from ._names import OPTIMIZERS
from ._partition import ModelPartition, trainable_parameters

#: Name and version of the checkpoint format (docs/training.md section 5). Version 1 was a
#: pickle of live objects; version 2 holds only tensors and plain data.
CHECKPOINT_FORMAT = "paba.training checkpoint"
CHECKPOINT_VERSION = 2

#: The fields of TrainingResult that are lists of floats, and of ints.
_FLOAT_LISTS = ("latency", "test_accuracy", "test_loss", "train_loss", "iteration_latency")
_INT_LISTS = ("iteration",)


class _Pending(NamedTuple):
    """An iteration the scheduler has allocated but training has not applied: the one that
    would have passed the budget. A later run with a larger budget applies it first."""

    latency: float
    loads: np.ndarray
    unit_counts: np.ndarray | None


def _digest(arrays) -> str:
    """SHA-256 of a sequence of arrays: dtype, shape and bytes of each."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _tensor_digest(state: dict) -> str:
    """SHA-256 of a state dict of tensors: names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _to_tensors(value):
    """NumPy arrays (at any depth of dicts and lists) as tensors, for ``torch.save``."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, dict):
        return {key: _to_tensors(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_tensors(item) for item in value]
    return value


def _to_arrays(value):
    """Tensors (at any depth of dicts and lists) as NumPy arrays: the inverse of _to_tensors."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: _to_arrays(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_arrays(item) for item in value]
    return value


def _is_old_pickled_checkpoint(path) -> bool:
    """Whether ``path`` is a version-1 checkpoint (a torch zip whose pickle names paba's
    classes), found by reading the pickle's opcodes, never by running them."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1 or archive.getinfo(names[0]).file_size > 1 << 26:
                return False
            data = archive.read(names[0])
        for _, argument, _ in pickletools.genops(data):
            # A global of paba's modules (GLOBAL's "module name", or STACK_GLOBAL's module).
            if isinstance(argument, str) and argument.startswith(("paba._", "paba.training._")):
                return True
    except Exception:  # noqa: BLE001 - any unreadable file is simply not an old checkpoint
        return False
    return False


def make_optimizer(name: str, params, *, lr: float, momentum: float = 0.9
                   ) -> torch.optim.Optimizer:
    """The server's optimiser: ``"sgd"`` (with ``momentum``) or ``"adam"``, learning rate ``lr``."""
    choice("optimizer", name, OPTIMIZERS)
    lr = positive_float("lr", real_number("lr", lr))
    if isinstance(momentum, bool) or not (isinstance(momentum, (int, float))
                                          and 0 <= momentum < 1):
        raise ValueError(f"momentum: must be in [0, 1), got {describe(momentum)}")
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
        self._state: dict[str, Any] | None = None  # the run in progress: see _fresh_state
        self._fingerprint = self._make_fingerprint()

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

    def _run_state(self) -> dict[str, Any]:
        """The state of the run in progress (see _fresh_state); callers start one first."""
        if self._state is None:
            raise RuntimeError("no run in progress")
        return self._state

    def _fresh_state(self) -> dict[str, Any]:
        accuracy, loss = self.evaluate()
        result = TrainingResult(self.scheduler.scheme, iteration=[0], latency=[0.0],
                                test_accuracy=[accuracy], test_loss=[loss],
                                train_loss=[float("nan")])
        return {"run": iter(self.scheduler), "rng": np.random.default_rng(self.seed),
                "result": result, "since_eval": 0}

    def _make_fingerprint(self) -> dict:
        """Everything that determines the run, as plain data: a checkpoint is resumed only by a
        trainer with the same fingerprint. The budget and the iteration limit are not in it: a
        run that stopped at one goes on to another (see :meth:`run`)."""
        data = self.data
        parameters = [[name, list(p.shape), str(p.dtype)]
                      for name, p in self.model.named_parameters() if p.requires_grad]
        return {
            "scheme": self.scheduler.scheme, "scheduler": self.scheduler.settings(),
            "granularity": self.partition.granularity, "params": self.partition.n_params,
            "model_parameters": parameters,
            "model_weights": _tensor_digest(self.model.state_dict()),
            "data": _digest([data.x_train, data.y_train, data.x_test, data.y_test]),
            "shards": _digest([s.numpy() for s in self._shards]),
            "optimizer": self.optimizer_name, "lr": float(self.lr),
            "momentum": float(self.momentum), "seed": self.seed,
            "eval_every": self.eval_every,
        }

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
        state = self._state
        result = state["result"]
        pending = state.get("pending")
        payload = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "fingerprint": self._fingerprint,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "scheduler": _to_tensors(state["run"].state_dict()),
            "dealer": state["rng"].bit_generator.state,
            "result": {
                "scheme": result.scheme, "iterations": int(result.iterations),
                "learning_latency": float(result.learning_latency), "stopped": result.stopped,
                "wall_seconds": float(result.wall_seconds),
                **{name: [float(x) for x in getattr(result, name)] for name in _FLOAT_LISTS},
                **{name: [int(x) for x in getattr(result, name)] for name in _INT_LISTS}},
            "since_eval": int(state["since_eval"]),
            "train_loss": state.get("train_loss"),
            "final": int(state.get("final", 0)),
            "pending": None if pending is None else {
                "latency": float(pending.latency),
                "loads": torch.from_numpy(np.array(pending.loads, dtype=np.int64)),
                "unit_counts": (None if pending.unit_counts is None else torch.from_numpy(
                    np.array(pending.unit_counts, dtype=np.int64)))},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                torch.save(payload, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load_checkpoint(self, path: str | os.PathLike) -> TrainingResult:
        """Restore a run saved by :meth:`save_checkpoint`.

        The file is read with ``torch.load(weights_only=True)``, which builds tensors and plain
        data only and runs no code from the file; then its format version, its fingerprint
        (everything that determines the run: :meth:`_make_fingerprint`) and every part's
        structure, types, shapes and ranges are checked before anything in it is used, and the
        trainer is changed only when all of it passes. Any failure is a ``ValueError`` starting
        with ``checkpoint:``: an unreadable, damaged, crafted or foreign file, a checkpoint of
        another run (naming what differs), or a version-1 checkpoint (a pickle, refused).
        """
        shown = os.fspath(path)
        try:
            with warnings.catch_warnings():  # torch's remarks on a foreign file's protocol
                warnings.simplefilter("ignore")
                data = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as error:  # noqa: BLE001 - whatever the file is, it is not ours
            if _is_old_pickled_checkpoint(path):
                raise ValueError(
                    f"checkpoint: {shown} is a checkpoint of an older paba (format version 1, "
                    f"a pickle of live objects), which cannot be loaded safely; delete it, or "
                    f"choose another checkpoint, to start the run afresh") from None
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ValueError(f"checkpoint: cannot read {shown} as a paba training checkpoint "
                             f"({type(error).__name__}: {reason[:200]})") from None
        try:
            parts = self._read_checkpoint(data, shown)
        except ValueError as error:
            message = str(error)
            if message.startswith("checkpoint: "):
                message = message[len("checkpoint: "):]
            if not message.startswith(shown):
                message = f"{shown}: {message}"
            raise ValueError(f"checkpoint: {message}") from None
        except Exception as error:  # noqa: BLE001 - a malformed file must not crash the caller
            raise ValueError(f"checkpoint: {shown} is malformed ({type(error).__name__}: "
                             f"{describe(str(error), 200)})") from None
        self._apply_checkpoint(parts, shown)
        return self._run_state()["result"]

    def _read_checkpoint(self, data, shown: str) -> dict:
        """The checked parts of a loaded checkpoint; changes nothing."""
        if not isinstance(data, dict) or not exactly(data.get("format"), CHECKPOINT_FORMAT):
            if isinstance(data, dict) and exactly(data.get("version"), 1):
                raise ValueError(f"checkpoint: {shown} is a checkpoint of an older paba (format "
                                 f"version 1); delete it to start the run afresh")
            raise ValueError(f"checkpoint: {shown} is not a paba training checkpoint")
        if not exactly(data.get("version"), CHECKPOINT_VERSION):
            raise ValueError(f"checkpoint: {shown} has format version "
                             f"{describe(data.get('version'))}; this paba reads version "
                             f"{CHECKPOINT_VERSION}")
        keys = {"format", "version", "fingerprint", "model", "optimizer", "torch_rng",
                "scheduler", "dealer", "result", "since_eval", "train_loss", "final", "pending"}
        if set(data) != keys:
            raise ValueError(f"checkpoint: {shown} must hold exactly the keys {sorted(keys)}")
        differences = plain_differences(data["fingerprint"], self._fingerprint)
        if differences:
            raise ValueError(f"checkpoint: {shown} was written by a different run ("
                             + "; ".join(differences) + "); resume it with the options it was "
                             "written with, or choose another checkpoint")
        model = self._read_model_state(data["model"])
        optimizer = self._read_optimizer_state(data["optimizer"])
        torch_rng = data["torch_rng"]
        reference_rng = torch.get_rng_state()
        if not isinstance(torch_rng, torch.Tensor) or torch_rng.dtype != reference_rng.dtype \
                or torch_rng.shape != reference_rng.shape:
            raise ValueError("checkpoint: torch_rng must be a state of PyTorch's generator")
        dealer = generator_from_state("dealer", data["dealer"])
        result = self._read_result(data["result"])
        eval_every = self.eval_every
        since_eval = data["since_eval"]
        final = data["final"]
        for name, value in (("since_eval", since_eval), ("final", final)):
            if type(value) is not int or not 0 <= value < eval_every:
                raise ValueError(f"checkpoint: {name} must be an integer in [0, {eval_every})")
        if result.stopped == "running" and final:
            raise ValueError("checkpoint: a running run has no final evaluation")
        train_loss = data["train_loss"]
        if not (train_loss is None or isinstance(train_loss, float)):
            raise ValueError("checkpoint: train_loss must be a float or None")
        pending = self._read_pending(data["pending"])
        done = data["scheduler"].get("iteration") if isinstance(data["scheduler"], dict) else None
        if type(done) is int and done > self.scheduler.iterations:
            raise ValueError(f"checkpoint: {shown} holds a run whose scheduler has run {done} "
                             f"iterations, more than this one runs ({self.scheduler.iterations}: "
                             f"max_iterations, or the scheduler's iterations); give at least "
                             f"that many, or start afresh")
        run = SchedulerRun.from_state(self.scheduler, _to_arrays(data["scheduler"]))
        if run.iteration < result.iterations + (pending is not None):
            raise ValueError("checkpoint: the scheduler has run fewer iterations than training")
        return {"model": model, "optimizer": optimizer, "torch_rng": torch_rng.clone(),
                "run": run, "dealer": dealer, "result": result, "since_eval": since_eval,
                "final": final, "train_loss": train_loss, "pending": pending}

    def _read_model_state(self, state) -> dict:
        expected = self.model.state_dict()
        if not isinstance(state, dict) or list(state) != list(expected):
            raise ValueError("checkpoint: model must hold this model's state (same names)")
        out = {}
        for name, reference in expected.items():
            tensor = state[name]
            if not isinstance(tensor, torch.Tensor) or tensor.dtype != reference.dtype \
                    or tensor.shape != reference.shape:
                raise ValueError(f"checkpoint: model.{name} must be a {reference.dtype} tensor "
                                 f"of shape {tuple(reference.shape)}")
            out[name] = tensor
        return out

    def _read_optimizer_state(self, state) -> dict:
        """The optimiser's state dict, checked against this optimiser: the same parameter
        groups (hyper-parameters included) and, per parameter, the buffers the algorithm keeps
        with the parameter's shape and dtype."""
        if not isinstance(state, dict) or set(state) != {"state", "param_groups"}:
            raise ValueError("checkpoint: optimizer must be a state dict of the optimiser")
        differences = plain_differences(state["param_groups"],
                                        self.optimizer.state_dict()["param_groups"])
        if differences:
            raise ValueError("checkpoint: optimizer has other parameter groups ("
                             + "; ".join(differences) + ")")
        params = trainable_parameters(self.model)
        buffers = {"sgd": {"momentum_buffer"}, "adam": {"step", "exp_avg", "exp_avg_sq"}}[
            self.optimizer_name]
        per_parameter = state["state"]
        if not isinstance(per_parameter, dict):
            raise ValueError("checkpoint: optimizer.state must be a dict")
        for index, entry in per_parameter.items():
            if type(index) is not int or not 0 <= index < len(params):
                raise ValueError("checkpoint: optimizer.state has an unknown parameter index")
            if not isinstance(entry, dict) or set(entry) != buffers:
                raise ValueError(f"checkpoint: optimizer.state[{index}] must hold "
                                 f"{sorted(buffers)}")
            for name, tensor in entry.items():
                if name == "step":
                    ok = (isinstance(tensor, torch.Tensor) and tensor.dim() == 0
                          and tensor.dtype.is_floating_point
                          and bool(torch.isfinite(tensor)) and float(tensor) >= 0)
                elif name == "momentum_buffer" and tensor is None:
                    ok = True
                else:
                    ok = (isinstance(tensor, torch.Tensor)
                          and tensor.shape == params[index].shape
                          and tensor.dtype == params[index].dtype)
                if not ok:
                    raise ValueError(f"checkpoint: optimizer.state[{index}].{name} does not fit "
                                     "its parameter")
        return state

    def _read_result(self, value) -> TrainingResult:
        names = [f.name for f in dataclasses.fields(TrainingResult)]
        if not isinstance(value, dict) or set(value) != set(names):
            raise ValueError(f"checkpoint: result must hold {names}")
        if not exactly(value["scheme"], self.scheduler.scheme):
            raise ValueError("checkpoint: result is of another scheme")
        if not any(exactly(value["stopped"], s) for s in ("budget", "iterations", "running")):
            raise ValueError("checkpoint: result.stopped must be budget, iterations or running")
        iterations = value["iterations"]
        if type(iterations) is not int or iterations < 0:
            raise ValueError("checkpoint: result.iterations must be a non-negative integer")
        for name in ("learning_latency", "wall_seconds"):
            number = value[name]
            if not isinstance(number, float) or not math.isfinite(number) or number < 0:
                raise ValueError(f"checkpoint: result.{name} must be a finite float >= 0")
        for name in (*_FLOAT_LISTS, *_INT_LISTS):
            items = value[name]
            kind = int if name in _INT_LISTS else float
            if not isinstance(items, list) or any(type(item) is not kind for item in items):
                raise ValueError(f"checkpoint: result.{name} must be a list of {kind.__name__}s")
        curve = len(value["iteration"])
        if curve == 0 or any(len(value[name]) != curve for name in
                             ("latency", "test_accuracy", "test_loss", "train_loss")):
            raise ValueError("checkpoint: result's curve lists must have one equal length")
        if len(value["iteration_latency"]) != iterations or \
                any(not (math.isfinite(x) and x > 0) for x in value["iteration_latency"]):
            raise ValueError("checkpoint: result.iteration_latency must hold one positive "
                             "latency per iteration")
        kwargs: dict[str, Any] = {name: (list(value[name]) if isinstance(value[name], list)
                                         else value[name]) for name in names}
        return TrainingResult(**kwargs)

    def _read_pending(self, value) -> _Pending | None:
        """The allocated but unapplied iteration: its group loads must deal the model's units
        exactly as :meth:`step` will."""
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"latency", "loads", "unit_counts"}:
            raise ValueError("checkpoint: pending must hold latency, loads and unit_counts")
        latency = value["latency"]
        if not isinstance(latency, float) or not (math.isfinite(latency) and latency > 0):
            raise ValueError("checkpoint: pending.latency must be a positive finite float")
        K = self.scheduler.scenario.n_workers
        loads = value["loads"]
        if not isinstance(loads, torch.Tensor) or loads.dtype != torch.int64 \
                or tuple(loads.shape) != (K,):
            raise ValueError(f"checkpoint: pending.loads must be an int64 tensor of shape ({K},)")
        loads = loads.numpy().copy()
        counts = value["unit_counts"]
        if self.scheduler.granules is None:
            if counts is not None:
                raise ValueError("checkpoint: pending.unit_counts must be None")
            unit_counts = None
        else:
            shape = (self.n_groups, self.scheduler.granules.sizes.size)
            if not isinstance(counts, torch.Tensor) or counts.dtype != torch.int64 \
                    or tuple(counts.shape) != shape:
                raise ValueError(f"checkpoint: pending.unit_counts must be an int64 tensor of "
                                 f"shape {shape}")
            unit_counts = counts.numpy().copy()
        if np.any(loads < 0) or (unit_counts is not None and np.any(unit_counts < 0)):
            raise ValueError("checkpoint: pending loads and unit counts must be non-negative")
        group_loads = np.zeros(self.n_groups, dtype=np.int64)
        np.maximum.at(group_loads, self.groups, loads)
        if np.any((loads > 0) & (loads != group_loads[self.groups])) \
                or int(group_loads.sum()) != self.partition.n_params:
            raise ValueError("checkpoint: pending.loads must give each loaded group one load, "
                             "summing to the model's parameters")
        dealt = self._unit_counts(unit_counts, loads)
        if np.any(dealt.sum(axis=0) != self.partition.granules.counts) or \
                (unit_counts is not None
                 and np.any(unit_counts @ self.scheduler.granules.sizes != group_loads)):
            raise ValueError("checkpoint: pending.unit_counts must deal every unit once, as "
                             "the loads say")
        return _Pending(latency, loads, unit_counts)

    def _unit_counts(self, unit_counts, loads) -> np.ndarray:
        """Units of each size per group (single parameters as units: the group loads)."""
        if unit_counts is not None:
            return unit_counts
        # A group's load is its loaded members' (absent members carry 0): the largest member
        # load, not whichever member an indexed assignment happens to write last.
        counts = np.zeros((self.n_groups, 1), dtype=np.int64)
        np.maximum.at(counts[:, 0], self.groups, np.asarray(loads, dtype=np.int64))
        return counts

    def _apply_checkpoint(self, parts: dict, shown: str) -> None:
        """Load checked parts into the trainer. PyTorch's random state is set first and put
        back if it is refused, so that a failure leaves the trainer as it was."""
        saved_rng = torch.get_rng_state()
        try:
            torch.set_rng_state(parts["torch_rng"])
        except Exception as error:  # noqa: BLE001 - a damaged generator state
            torch.set_rng_state(saved_rng)
            raise ValueError(f"checkpoint: {shown}: torch_rng is not a valid generator state "
                             f"({type(error).__name__})") from None
        scratch = make_optimizer(self.optimizer_name,
                                 [p.detach().clone().requires_grad_(True)
                                  for p in trainable_parameters(self.model)],
                                 lr=self.lr, momentum=self.momentum)
        try:
            scratch.load_state_dict(parts["optimizer"])
        except Exception as error:  # noqa: BLE001 - a state the optimiser refuses
            torch.set_rng_state(saved_rng)
            raise ValueError(f"checkpoint: {shown}: the optimiser refuses its state "
                             f"({type(error).__name__}: {describe(str(error), 200)})") from None
        with torch.no_grad():
            self.model.load_state_dict(parts["model"])
        self.optimizer.load_state_dict(parts["optimizer"])
        run = parts["run"]
        self.scheduler = run.scheduler
        self._state = {"run": run, "rng": parts["dealer"], "result": parts["result"],
                       "since_eval": parts["since_eval"], "final": parts["final"],
                       "pending": parts["pending"]}
        if parts["train_loss"] is not None:
            self._state["train_loss"] = parts["train_loss"]

    def _continue(self, budget: float | None, max_iterations: int | None,
                  checkpoint) -> None:
        """Make the run in progress go on to this budget and iteration limit, exactly as an
        uninterrupted run with them would: a stopped run is reopened (its final evaluation
        taken back, the iteration it allocated but did not apply kept for the next step); a
        run that has already gone past them is refused, naming the limit."""
        state = self._run_state()
        result = state["result"]
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
            final = state.get("final", 0)
            if final:  # the evaluation made at the stop: the going run makes its own
                for name in ("iteration", "latency", "test_accuracy", "test_loss",
                             "train_loss"):
                    getattr(result, name).pop()
                state["since_eval"] = final
            state["final"] = 0
            result.stopped = "running"

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
        pending = state.get("pending")
        if pending is not None:  # allocated before a budget stop, not applied yet
            state["pending"] = None
        else:
            while True:
                try:
                    record = next(state["run"])
                except StopIteration:
                    result.stopped = "iterations"
                    self._final_evaluation()
                    return False
                if record.allocation is not None:  # else no worker was present: nothing happens
                    break
            pending = _Pending(float(record.latency), record.loads, record.unit_counts)
        if budget is not None and result.learning_latency + pending.latency > budget:
            state["pending"] = pending
            result.stopped = "budget"
            self._final_evaluation()
            return False
        counts = self._unit_counts(pending.unit_counts, pending.loads)
        owner = self.partition.assign(counts, state["rng"])
        blocks = self.partition.blocks(owner, self.n_groups)
        cascade, train_loss = self.cascaded_gradient(np.asarray(pending.loads), blocks)
        self.apply(cascade)
        result.iterations += 1
        result.learning_latency += pending.latency
        result.iteration_latency.append(pending.latency)
        state["since_eval"] += 1
        state["train_loss"] = train_loss
        if state["since_eval"] >= self.eval_every:
            self._record(train_loss)
        return True

    def _record(self, train_loss: float) -> None:
        state = self._run_state()
        result = state["result"]
        accuracy, loss = self.evaluate()
        result.iteration.append(result.iterations)
        result.latency.append(result.learning_latency)
        result.test_accuracy.append(accuracy)
        result.test_loss.append(loss)
        result.train_loss.append(train_loss)
        state["since_eval"] = 0

    def _final_evaluation(self) -> None:
        state = self._run_state()
        state["final"] = state["since_eval"]  # > 0: a point is added (taken back on reopening)
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
        elif self._state is None:
            self._state = self._fresh_state()
        self._continue(budget, max_iterations, checkpoint if loaded else None)
        result = self._run_state()["result"]
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
