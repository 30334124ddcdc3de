"""The parameters of a model as units, and the per-iteration partition of those units into one
block per worker group (docs/training.md 1 and 2).

Every trainable parameter is one element of a flat vector, in ``model.parameters()`` order (the
order of ``torch.nn.utils.parameters_to_vector``). A *unit* is the smallest set of elements a
block can hold:

- ``granularity="unit"`` (deep networks): a row of a weight matrix together with its bias element
  (one output neuron of a linear layer, one output channel of a convolution); any parameter not
  paired that way splits into its first-axis slices (single elements for a vector);
- ``granularity="parameter"`` (decomposable models such as logistic regression): every element is
  a unit of size 1.

Every iteration the scheduler decides how many units of each size each group gets
(``IterationRecord.unit_counts``); :meth:`ModelPartition.assign` draws which ones (a fresh random
deal per size, so the partition changes every iteration as in the paper), and
:meth:`ModelPartition.blocks` turns that into the flat indices of each group's block.
"""

from __future__ import annotations

import numpy as np
import torch

from .._granules import Granules
from ._names import GRANULARITIES


def trainable_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters that take part in training, in ``model.parameters()`` order."""
    return [p for p in model.parameters() if p.requires_grad]


class ModelPartition:
    """The units of a model and how to deal them into blocks.

    Parameters
    ----------
    model : torch.nn.Module
    granularity : {"unit", "parameter"}, default "unit"
        See the module docstring (:data:`GRANULARITIES`).

    Attributes
    ----------
    n_params : int
        Trainable parameters L (the model size of the allocation problem).
    unit_sizes : ndarray of int64, shape (U,)
        Parameters in each unit.
    granules : paba.Granules
        The unit sizes grouped by distinct size, for :class:`paba.Scheduler`.
    unit_of_element : torch.Tensor of int64, shape (L,)
        The unit of each element of the flat parameter vector.
    """

    def __init__(self, model: torch.nn.Module, granularity: str = "unit"):
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"model: must be a torch.nn.Module, got {type(model).__name__}")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity: must be one of {GRANULARITIES}, got {granularity!r}")
        params = trainable_parameters(model)
        if not params:
            raise ValueError("model: has no trainable parameters")
        self.granularity = granularity
        offsets, start = {}, 0
        for p in params:
            offsets[id(p)] = start
            start += p.numel()
        self.n_params = start
        if granularity == "parameter":
            unit_of_element = np.arange(start, dtype=np.int64)
        else:
            unit_of_element = np.empty(start, dtype=np.int64)
            next_unit = 0
            paired = set()
            # Weight rows with their bias: every module owning a weight of shape (out, ...) and a
            # bias of shape (out,).
            for module in model.modules():
                weight = getattr(module, "weight", None)
                bias = getattr(module, "bias", None)
                if (isinstance(weight, torch.nn.Parameter) and weight.requires_grad
                        and weight.dim() >= 2 and id(weight) not in paired):
                    rows = weight.shape[0]
                    width = weight[0].numel()
                    units = np.arange(next_unit, next_unit + rows, dtype=np.int64)
                    begin = offsets[id(weight)]
                    unit_of_element[begin:begin + rows * width] = np.repeat(units, width)
                    paired.add(id(weight))
                    if (isinstance(bias, torch.nn.Parameter) and bias.requires_grad
                            and bias.shape == (rows,) and id(bias) not in paired):
                        begin = offsets[id(bias)]
                        unit_of_element[begin:begin + rows] = units
                        paired.add(id(bias))
                    next_unit += rows
            for p in params:  # the rest: first-axis slices
                if id(p) in paired:
                    continue
                rows = p.shape[0] if p.dim() >= 1 else 1
                width = p.numel() // rows
                begin = offsets[id(p)]
                unit_of_element[begin:begin + p.numel()] = np.repeat(
                    np.arange(next_unit, next_unit + rows, dtype=np.int64), width)
                paired.add(id(p))
                next_unit += rows
        self.unit_sizes = np.bincount(unit_of_element)
        self.unit_sizes.setflags(write=False)
        self.granules = Granules.from_sizes(self.unit_sizes)
        self._unit_of_element = unit_of_element
        self.unit_of_element = torch.from_numpy(unit_of_element)
        # Units of each distinct size, in the order of granules.sizes.
        self._units_by_size = [np.flatnonzero(self.unit_sizes == size)
                               for size in self.granules.sizes.tolist()]

    @property
    def n_units(self) -> int:
        return int(self.unit_sizes.size)

    def assign(self, unit_counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Deal the units to groups.

        Parameters
        ----------
        unit_counts : ndarray of int, shape (N, S)
            Units of each size (``granules.sizes``) for each group; each column sums to the
            number of units of that size.
        rng : numpy.random.Generator
            Draws which units of a size go to which group.

        Returns
        -------
        ndarray of int64, shape (U,)
            The group of every unit.
        """
        counts = np.asarray(unit_counts)
        if counts.ndim != 2 or counts.shape[1] != self.granules.sizes.size:
            raise ValueError(f"unit_counts: must have shape (N, {self.granules.sizes.size}), "
                             f"got {counts.shape}")
        if np.any(counts < 0) or np.any(counts.sum(axis=0) != self.granules.counts):
            raise ValueError("unit_counts: each column must deal every unit of its size once")
        owner = np.empty(self.n_units, dtype=np.int64)
        groups = np.arange(counts.shape[0], dtype=np.int64)
        for j, units in enumerate(self._units_by_size):
            owner[rng.permutation(units)] = np.repeat(groups, counts[:, j])
        return owner

    def blocks(self, owner: np.ndarray, n_groups: int) -> list[torch.Tensor]:
        """The flat indices (sorted, int64) of each group's block for a unit-to-group map."""
        element_owner = np.asarray(owner, dtype=np.int64)[self._unit_of_element]
        # A stable sort by group gives every block's indices in increasing order; NumPy sorts
        # 16-bit keys by radix, several times faster than a comparison sort of 64-bit ones.
        if n_groups <= np.iinfo(np.int16).max:
            element_owner = element_owner.astype(np.int16)
        order = torch.from_numpy(np.argsort(element_owner, kind="stable"))
        sizes = np.bincount(element_owner, minlength=n_groups).tolist()
        return list(torch.split(order, sizes))
