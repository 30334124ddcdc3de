"""The names the training library accepts, without importing PyTorch (the command line takes its
choices from here)."""

#: Data sets that ship with scikit-learn (see :func:`paba.training.load_dataset`).
BUILTIN_DATASETS = ("digits", "iris", "wine", "breast_cancer")

#: Ways of dealing the training samples out to the workers (see :func:`paba.training.shard`).
SHARDING = ("iid", "label_skew")

#: Models of :func:`paba.training.build_model`.
MODELS = ("logistic", "mlp")

#: Hidden layer widths of the default MLP.
DEFAULT_HIDDEN = (1024, 1024)

#: Granularities of a model's blocks (see :class:`paba.training.ModelPartition`).
GRANULARITIES = ("unit", "parameter")

#: The server's optimisers (see :func:`paba.training.make_optimizer`).
OPTIMIZERS = ("sgd", "adam")
