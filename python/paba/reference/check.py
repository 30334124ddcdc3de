"""NumPy reference twin of the argument checks of a direct call into the native module
(``src/kernels/check.cpp`` and the binding): sizes, groups and scalars, with the same
ValueErrors naming the argument."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def vector(name: str, value: Any, dtype: type[np.generic], size: int | None = None,
           optional: bool = False) -> np.ndarray | None:
    """A direct call's array argument as a 1-D array of dtype (None where optional)."""
    if value is None:
        if optional:
            return None
        raise ValueError(f"{name}: an array is required, got None")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: must be a 1-D array ({error})") from None
    if array.dtype.kind not in ("iu" if dtype == np.int64 else "iuf") or array.ndim != 1:
        raise ValueError(f"{name}: must be a 1-D array of {np.dtype(dtype).name}")
    if size is not None and array.size != size:
        raise ValueError(f"{name}: must have {size} entries, got {array.size}")
    return array.astype(dtype, copy=False)


def required(name: str, value: Any, dtype: type[np.generic],
             size: int | None = None) -> np.ndarray:
    """A direct call's array argument that must be given (see vector)."""
    array = vector(name, value, dtype, size)
    assert array is not None  # vector raises for a missing required array
    return array


Checked = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def check_call(beta: Any, compute: Any, alpha: Any, tau: Any, group: Any,
               n_groups: Any) -> Checked:
    """The checks of the native binding (paba._core) on a direct call, with its messages: sizes,
    the number of groups and the group ids. Returns the arrays as float64/int64."""
    beta = required("beta", beta, np.float64)
    K = beta.size
    if K == 0:
        raise ValueError("beta: needs at least one worker")
    compute = required("compute", compute, np.float64)
    if compute.size != K:
        raise ValueError("compute: must have one entry per worker (the length of beta)")
    alpha = vector("alpha", alpha, np.float64, optional=True)
    tau = vector("tau", tau, np.float64, optional=True)
    for name, values in (("alpha", alpha), ("tau", tau)):
        if values is not None and values.size != K:
            raise ValueError(f"{name}: must have one entry per worker (the length of beta)")
    group = vector("groups", group, np.int64, optional=True)
    if group is not None and group.size != K:
        raise ValueError("groups: must have one entry per worker (the length of beta)")
    if not isinstance(n_groups, (int, np.integer)) or not 1 <= n_groups <= K:
        raise ValueError("groups: the number of groups must be in [1, n_workers]")
    if group is None and n_groups != K:
        raise ValueError("groups: without group ids every worker is its own group")
    if group is not None:
        if np.any(group < 0) or np.any(group >= n_groups):
            raise ValueError("groups: group id out of range")
        if np.any(np.bincount(group, minlength=n_groups) == 0):
            raise ValueError("groups: every group needs a member")
    return beta, compute, alpha, tau, group


def check_scalars(params: Any, bandwidth: Any) -> None:
    """params and bandwidth as the kernels check them (paba.hpp, check_scalars)."""
    if not (isinstance(params, numbers.Real) and 1.0 <= float(params) <= 2.0**53
            and float(params) == math.floor(float(params))):
        raise ValueError("params: must be an integer in [1, 2**53]")
    if not (isinstance(bandwidth, numbers.Real) and 0.0 < float(bandwidth) < math.inf):
        raise ValueError("bandwidth: must be positive and finite")


def check_groups(group: np.ndarray, n_groups: int) -> None:
    """Group ids of one batch instance: each in [0, n_groups), every group non-empty (the
    checks and messages of batch.cpp)."""
    if np.any((group < 0) | (group >= n_groups)):
        raise ValueError("groups: an id is out of range (ids must be 0..N-1, N at most the "
                         "instance's workers)")
    if np.unique(group).size != n_groups:
        raise ValueError("groups: a group has no member (ids must be 0..N-1 with every group "
                         "non-empty)")
