"""Partitioned PyTorch training on real data (docs/training.md).

Every iteration a :class:`paba.Scheduler` allocates parameters and bandwidth; the server deals
the model's units (rows of weight matrices with their biases) into one block per worker group
with the allocated sizes; every worker computes its block's gradient on its own data shard; the
server cascades the blocks into one update. Test accuracy is recorded against the learning
latency those allocations cost.

Needs the ``train`` extra (PyTorch and scikit-learn). The names below are imported on first use,
so that ``paba.training``'s option lists (``MODELS``, ``SHARDING``, ...) can be read without
PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._names import BUILTIN_DATASETS, GRANULARITIES, MODELS, OPTIMIZERS, SHARDING

#: Where each public name lives.
_HOMES = {
    "Dataset": "_data", "load_dataset": "_data", "load_svmlight": "_data", "shard": "_data",
    "synthetic": "_data",
    "build_model": "_models", "logistic_regression": "_models", "mlp": "_models",
    "parameter_count": "_models",
    "ModelPartition": "_partition", "trainable_parameters": "_partition",
    "PartitionedTrainer": "_trainer", "TrainingResult": "_state",
    "make_optimizer": "_optimizer", "make_scheduler": "_trainer", "train": "_trainer",
}

__all__ = ["BUILTIN_DATASETS", "GRANULARITIES", "MODELS", "OPTIMIZERS", "SHARDING", "Dataset",
           "ModelPartition", "PartitionedTrainer", "TrainingResult", "build_model",
           "load_dataset", "load_svmlight", "logistic_regression", "make_optimizer",
           "make_scheduler", "mlp", "parameter_count", "shard", "synthetic", "train",
           "trainable_parameters"]

if TYPE_CHECKING:
    from ._data import Dataset, load_dataset, load_svmlight, shard, synthetic
    from ._models import build_model, logistic_regression, mlp, parameter_count
    from ._optimizer import make_optimizer
    from ._partition import ModelPartition, trainable_parameters
    from ._state import TrainingResult
    from ._trainer import PartitionedTrainer, make_scheduler, train


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
