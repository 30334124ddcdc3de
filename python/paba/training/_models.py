"""Models for partitioned training: multinomial logistic regression and a ReLU MLP.

Both are ``torch.nn.Sequential`` stacks of ``nn.Linear`` layers (float32, on the CPU), so their
parameters split into independent blocks. Building is deterministic for a seed and leaves torch's
global random number generator alone: the layers are created on the meta device (no
initialisation) and then filled from a local ``torch.Generator`` with the bounds of
``nn.Linear``'s default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
biases alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .._validation import describe, integer
from .._validation import seed as seed_check
from ._names import DEFAULT_HIDDEN, MODELS

#: Largest model :func:`mlp` builds, in parameters (float32; training keeps the model, its
#: gradients and the optimiser's buffers, a few copies of it): 0.4 GB a copy.
MAX_MODEL_PARAMS = 10**8


def _check_shape(n_features, n_classes) -> tuple[int, int]:
    return (integer("n_features", n_features, minimum=1),
            integer("n_classes", n_classes, minimum=2))


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, (Sequence, range)) \
            and not hasattr(hidden, "__array__"):
        raise ValueError(f"hidden: must be a sequence of positive layer sizes, got {hidden!r}")
    try:
        sizes = list(hidden)
    except TypeError:
        raise ValueError(f"hidden: must be a sequence of positive layer sizes, got {hidden!r}") \
            from None
    if not sizes:
        raise ValueError("hidden: must name at least one hidden layer (use the 'logistic' "
                         "model for none)")
    result = []
    for size in sizes:
        try:
            result.append(integer("hidden", size, minimum=1))
        except ValueError:
            raise ValueError(f"hidden: every layer size must be a positive integer, "
                             f"got {hidden!r}") from None
    return tuple(result)


def _stack(sizes: Sequence[int], seed: int) -> nn.Sequential:
    """Linear layers sizes[0] -> sizes[1] -> ... with ReLU between them, initialised from a
    generator seeded with ``seed``."""
    layers: list[nn.Module] = []
    with torch.device("meta"):
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            if index:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(fan_in, fan_out, dtype=torch.float32))
    model = nn.Sequential(*layers).to_empty(device="cpu")
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
    return model


def logistic_regression(n_features: int, n_classes: int, *, seed: int = 0) -> nn.Sequential:
    """Multinomial logistic regression: ``nn.Sequential(nn.Linear(n_features, n_classes))``.

    Parameters
    ----------
    n_features : int
        Input features d (at least 1).
    n_classes : int
        Classes C (at least 2): the model outputs C logits (train with cross-entropy).
    seed : int, default 0
        Seed of the initialisation, in [0, 2**32 - 1].

    Returns
    -------
    torch.nn.Sequential
        Maps float32 inputs of shape (batch, d) to logits of shape (batch, C); d*C + C
        parameters (650 on digits).
    """
    n_features, n_classes = _check_shape(n_features, n_classes)
    return _stack((n_features, n_classes), seed_check("seed", seed))


def mlp(n_features: int, n_classes: int, hidden: Sequence[int] = DEFAULT_HIDDEN, *,
        seed: int = 0) -> nn.Sequential:
    """A multilayer perceptron: Linear, ReLU, ..., Linear (no dropout, no batch norm).

    Parameters
    ----------
    n_features : int
        Input features d (at least 1).
    n_classes : int
        Classes C (at least 2): the model outputs C logits.
    hidden : sequence of int, default (1024, 1024)
        Sizes of the hidden layers (at least one, each at least 1); the model may have at most
        :data:`MAX_MODEL_PARAMS` parameters.
    seed : int, default 0
        Seed of the initialisation, in [0, 2**32 - 1].

    Returns
    -------
    torch.nn.Sequential
        Maps float32 inputs of shape (batch, d) to logits of shape (batch, C). With the default
        hidden sizes on digits (d = 64, C = 10): 1,126,410 parameters.
    """
    n_features, n_classes = _check_shape(n_features, n_classes)
    hidden = _check_hidden(hidden)
    sizes = (n_features, *hidden, n_classes)
    count = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:],
                                                                  strict=True))
    if count > MAX_MODEL_PARAMS:
        shown = f"{count:,}" if count < 10**30 else "over 10^30"
        raise ValueError(f"hidden: an MLP with hidden layers {describe(list(hidden))} on "
                         f"{n_features} features has {shown} parameters, more than the "
                         f"{MAX_MODEL_PARAMS:,} paba.training builds")
    return _stack(sizes, seed_check("seed", seed))


def build_model(name: str, n_features: int, n_classes: int, *,
                hidden: Sequence[int] | None = None, seed: int = 0) -> nn.Sequential:
    """Build a model of :data:`MODELS` by name, deterministically for ``seed``.

    Parameters
    ----------
    name : {"logistic", "mlp"}
        :func:`logistic_regression` or :func:`mlp`.
    n_features : int
        Input features d (at least 1).
    n_classes : int
        Classes C (at least 2).
    hidden : sequence of int, optional
        Hidden layer sizes of ``"mlp"`` (default (1024, 1024)); must be None (or empty) for
        ``"logistic"``.
    seed : int, default 0
        Seed of the initialisation, in [0, 2**32 - 1]; torch's global generator is not used.

    Returns
    -------
    torch.nn.Sequential
        A float32 CPU model mapping (batch, d) inputs to (batch, C) logits.
    """
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"name: must be one of {MODELS}, got {name!r}")
    if name == "logistic":
        empty = (isinstance(hidden, (Sequence, range)) and not isinstance(hidden, (str, bytes))
                 and len(hidden) == 0)
        if hidden is not None and not empty:
            raise ValueError(f"hidden: the logistic model has no hidden layers, got {hidden!r}")
        return logistic_regression(n_features, n_classes, seed=seed)
    return mlp(n_features, n_classes, DEFAULT_HIDDEN if hidden is None else hidden, seed=seed)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters (scalars of the parameters with ``requires_grad``).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: must be a torch.nn.Module, got {type(model).__name__}")
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))
