"""The state of a training run in progress, typed (docs/training.md section 5).

:class:`RunState` is what :class:`PartitionedTrainer` steps: the scheduler's run, the generator
that deals units to blocks, the result so far, the evaluation counters and the iteration
allocated but not applied at a budget stop. ``state_dict`` gives its plain form (tensors and
plain data, the part of a checkpoint that is not the model's or the optimiser's) and
``from_state`` rebuilds it, checked before anything in it is used, as
:meth:`paba.SchedulerRun.state_dict` and :meth:`paba.SchedulerRun.from_state` do for the
scheduler's run. :class:`TrainingResult` is the run's public record.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from .._records import IterationRecord
from .._scheduler import Scheduler, SchedulerRun
from .._streams import generator_from_state
from .._validation import exactly

#: The fields of TrainingResult that are lists of floats, and of ints.
_FLOAT_LISTS = ("latency", "test_accuracy", "test_loss", "train_loss", "iteration_latency")
_INT_LISTS = ("iteration",)


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


class Pending(NamedTuple):
    """An iteration the scheduler has allocated but training has not applied: the one that
    would have passed the budget. A later run with a larger budget applies it first."""

    latency: float
    loads: np.ndarray
    unit_counts: np.ndarray | None


def to_tensors(value):
    """NumPy arrays (at any depth of dicts and lists) as tensors, for ``torch.save``."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value, copy=True))
    if isinstance(value, dict):
        return {key: to_tensors(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_tensors(item) for item in value]
    return value


def to_arrays(value):
    """Tensors (at any depth of dicts and lists) as NumPy arrays: the inverse of to_tensors."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {key: to_arrays(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_arrays(item) for item in value]
    return value


def group_unit_counts(unit_counts: np.ndarray | None, loads, groups: np.ndarray,
                      n_groups: int) -> np.ndarray:
    """Units of each size per group (single parameters as units: the group loads)."""
    if unit_counts is not None:
        return unit_counts
    # A group's load is its loaded members' (absent members carry 0): the largest member
    # load, not whichever member an indexed assignment happens to write last.
    counts = np.zeros((n_groups, 1), dtype=np.int64)
    np.maximum.at(counts[:, 0], groups, np.asarray(loads, dtype=np.int64))
    return counts


#: The keys of RunState.state_dict, in a checkpoint beside the model's and optimiser's parts.
STATE_KEYS = ("scheduler", "dealer", "result", "since_eval", "train_loss", "final", "pending")


@dataclass
class RunState:
    """A training run in progress.

    Attributes
    ----------
    run : iterator of IterationRecord
        The scheduler's run (a :class:`paba.SchedulerRun`, or a view of one that a subclass of
        the trainer puts in its place: ``PartitionedTrainer._wrap_run``).
    dealer : numpy.random.Generator
        Deals the model's units to the blocks of every iteration.
    result : TrainingResult
        The record so far.
    since_eval : int
        Iterations applied since the last evaluation.
    final : int
        At a stop: the ``since_eval`` its final evaluation covered (0 where it added no point;
        taken back when the run goes on).
    pending : Pending or None
        The iteration allocated but not applied at a budget stop.
    train_loss : float or None
        The loaded workers' mean shard loss of the last iteration applied (None before one).
    """

    run: Iterator[IterationRecord]
    dealer: np.random.Generator
    result: TrainingResult
    since_eval: int = 0
    final: int = 0
    pending: Pending | None = None
    train_loss: float | None = None

    @classmethod
    def fresh(cls, scheduler: Scheduler, seed: int, accuracy: float, loss: float) -> RunState:
        """A run about to start, whose curve begins with the model's test accuracy and loss."""
        result = TrainingResult(scheduler.scheme, iteration=[0], latency=[0.0],
                                test_accuracy=[accuracy], test_loss=[loss],
                                train_loss=[float("nan")])
        return cls(run=iter(scheduler), dealer=np.random.default_rng(seed), result=result)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data only (the keys :data:`STATE_KEYS`), for ``torch.save``."""
        result, pending = self.result, self.pending
        return {
            "scheduler": to_tensors(self.run.state_dict()),  # type: ignore[attr-defined]
            "dealer": self.dealer.bit_generator.state,
            "result": {
                "scheme": result.scheme, "iterations": int(result.iterations),
                "learning_latency": float(result.learning_latency), "stopped": result.stopped,
                "wall_seconds": float(result.wall_seconds),
                **{name: [float(x) for x in getattr(result, name)] for name in _FLOAT_LISTS},
                **{name: [int(x) for x in getattr(result, name)] for name in _INT_LISTS}},
            "since_eval": int(self.since_eval),
            "train_loss": self.train_loss,
            "final": int(self.final),
            "pending": None if pending is None else {
                "latency": float(pending.latency),
                "loads": torch.from_numpy(np.array(pending.loads, dtype=np.int64)),
                "unit_counts": (None if pending.unit_counts is None else torch.from_numpy(
                    np.array(pending.unit_counts, dtype=np.int64)))},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, scheduler: Scheduler, groups: np.ndarray,
                   n_groups: int, n_params: int, unit_totals: np.ndarray,
                   eval_every: int, shown: str = "the state") -> RunState:
        """The run of ``state`` (:meth:`state_dict`'s keys, read with
        ``torch.load(weights_only=True)``) on ``scheduler``, whose workers form ``groups``
        (``n_groups`` of them) and whose model has ``n_params`` parameters in units of counts
        ``unit_totals``; ``shown`` names the file in messages. Every part is checked before any
        is used: a ``ValueError`` starting with ``checkpoint:`` names the first that is wrong."""
        dealer = generator_from_state("dealer", state["dealer"])
        result = _read_result(state["result"], scheduler.scheme)
        since_eval = state["since_eval"]
        final = state["final"]
        for name, value in (("since_eval", since_eval), ("final", final)):
            if type(value) is not int or not 0 <= value < eval_every:
                raise ValueError(f"checkpoint: {name} must be an integer in [0, {eval_every})")
        if result.stopped == "running" and final:
            raise ValueError("checkpoint: a running run has no final evaluation")
        train_loss = state["train_loss"]
        if not (train_loss is None or isinstance(train_loss, float)):
            raise ValueError("checkpoint: train_loss must be a float or None")
        pending = _read_pending(state["pending"], scheduler, groups, n_groups, n_params,
                                unit_totals)
        saved = state["scheduler"]
        done = saved.get("iteration") if isinstance(saved, dict) else None
        if type(done) is int and done > scheduler.iterations:
            raise ValueError(f"checkpoint: {shown} holds a run whose scheduler has run {done} "
                             f"iterations, more than this one runs ({scheduler.iterations}: "
                             f"max_iterations, or the scheduler's iterations); give at least "
                             f"that many, or start afresh")
        run = SchedulerRun.from_state(scheduler, to_arrays(saved))
        if run.iteration < result.iterations + (pending is not None):
            raise ValueError("checkpoint: the scheduler has run fewer iterations than training")
        return cls(run=run, dealer=dealer, result=result, since_eval=since_eval, final=final,
                   pending=pending, train_loss=train_loss)

    def snapshot(self) -> tuple[dict, Any]:
        """What :meth:`restore` needs to roll back the iteration about to run: the scheduler's
        run and the dealer's state."""
        return self.run.state_dict(), self.dealer.bit_generator.state  # type: ignore[attr-defined]

    def restore(self, scheduler: Scheduler, snapshot: tuple[dict, Any],
                wrap: Callable[[SchedulerRun], Iterator[IterationRecord]]) -> None:
        """Roll back to ``snapshot`` (taken before an iteration that did not finish). A pending
        allocation cannot be made again: the scheduler's next iteration replaces it."""
        saved_run, saved_dealer = snapshot
        self.run = wrap(SchedulerRun.from_state(scheduler, saved_run))
        self.dealer.bit_generator.state = saved_dealer
        self.pending = None


def _read_result(value, scheme: str) -> TrainingResult:
    names = [f.name for f in dataclasses.fields(TrainingResult)]
    if not isinstance(value, dict) or set(value) != set(names):
        raise ValueError(f"checkpoint: result must hold {names}")
    if not exactly(value["scheme"], scheme):
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


def _read_pending(value, scheduler: Scheduler, groups: np.ndarray, n_groups: int,
                  n_params: int, unit_totals: np.ndarray) -> Pending | None:
    """The allocated but unapplied iteration: its group loads must deal the model's units
    exactly as the trainer's step will."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"latency", "loads", "unit_counts"}:
        raise ValueError("checkpoint: pending must hold latency, loads and unit_counts")
    latency = value["latency"]
    if not isinstance(latency, float) or not (math.isfinite(latency) and latency > 0):
        raise ValueError("checkpoint: pending.latency must be a positive finite float")
    K = scheduler.scenario.n_workers
    loads = value["loads"]
    if not isinstance(loads, torch.Tensor) or loads.dtype != torch.int64 \
            or tuple(loads.shape) != (K,):
        raise ValueError(f"checkpoint: pending.loads must be an int64 tensor of shape ({K},)")
    loads = loads.numpy().copy()
    counts = value["unit_counts"]
    if scheduler.granules is None:
        if counts is not None:
            raise ValueError("checkpoint: pending.unit_counts must be None")
        unit_counts = None
    else:
        shape = (n_groups, scheduler.granules.sizes.size)
        if not isinstance(counts, torch.Tensor) or counts.dtype != torch.int64 \
                or tuple(counts.shape) != shape:
            raise ValueError(f"checkpoint: pending.unit_counts must be an int64 tensor of "
                             f"shape {shape}")
        unit_counts = counts.numpy().copy()
    if np.any(loads < 0) or (unit_counts is not None and np.any(unit_counts < 0)):
        raise ValueError("checkpoint: pending loads and unit counts must be non-negative")
    group_loads = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(group_loads, groups, loads)
    if np.any((loads > 0) & (loads != group_loads[groups])) \
            or int(group_loads.sum()) != n_params:
        raise ValueError("checkpoint: pending.loads must give each loaded group one load, "
                         "summing to the model's parameters")
    dealt = group_unit_counts(unit_counts, loads, groups, n_groups)
    if np.any(dealt.sum(axis=0) != unit_totals) or \
            (unit_counts is not None
             and np.any(unit_counts @ scheduler.granules.sizes != group_loads)):
        raise ValueError("checkpoint: pending.unit_counts must deal every unit once, as "
                         "the loads say")
    return Pending(latency, loads, unit_counts)
