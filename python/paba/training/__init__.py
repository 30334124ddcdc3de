"""Partitioned PyTorch training on real data (docs/training.md).

Every iteration a :class:`paba.Scheduler` allocates parameters and bandwidth; the server deals
the model's units (rows of weight matrices with their biases) into one block per worker group
with the allocated sizes; every worker computes its block's gradient on its own data shard; the
server cascades the blocks into one update. Test accuracy is recorded against the learning
latency those allocations cost.

Needs the ``train`` extra (PyTorch and scikit-learn).
"""

from ._data import (
    BUILTIN_DATASETS,
    SHARDING,
    Dataset,
    load_dataset,
    load_svmlight,
    shard,
    synthetic,
)
from ._models import MODELS, build_model, logistic_regression, mlp, parameter_count
from ._partition import GRANULARITIES, ModelPartition, trainable_parameters
from ._trainer import (
    OPTIMIZERS,
    PartitionedTrainer,
    TrainingResult,
    make_optimizer,
    make_scheduler,
    train,
)

__all__ = ["BUILTIN_DATASETS", "GRANULARITIES", "MODELS", "OPTIMIZERS", "SHARDING", "Dataset",
           "ModelPartition", "PartitionedTrainer", "TrainingResult", "build_model",
           "load_dataset", "load_svmlight", "logistic_regression", "make_optimizer",
           "make_scheduler", "mlp", "parameter_count", "shard", "synthetic", "train",
           "trainable_parameters"]
