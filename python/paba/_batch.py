"""Many instances in one call: ``allocate_batch`` (same K as 2-D arrays, or ragged instances
concatenated with offsets; one worker per group, or group ids local to each instance), solved on
a thread pool with the GIL released."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _backend
from ._allocation import DEFAULT_TOL, Allocation, _check_method
from ._core import METHOD_NAMES, SCHEMES, STATUS_OK
from ._validation import describe, per_instance, readonly, tolerance
from ._validation import n_threads as n_threads_check

# Method codes of the kernels' results (paba.hpp Method: automatic, exact, bisection, newton).


@dataclass(frozen=True, eq=False)
class BatchAllocation:
    """The result of :func:`allocate_batch`. Arrays are read-only.

    Per-worker arrays have the layout of the inputs: shape (M, K) for 2-D inputs, or the
    concatenated workers of ragged instances (instance i owns ``offsets[i]:offsets[i + 1]``).
    Per-group arrays (``loads``, ``relaxed_loads``) have that layout too without ``groups``
    (one worker per group); with ``groups`` they are 1-D, the groups of every instance
    concatenated (instance i owns ``group_offsets[i]:group_offsets[i + 1]``, in id order).

    Attributes
    ----------
    loads : ndarray of int64
        Parameters of each group's block; each instance's sum is its ``params``.
    relaxed_loads : ndarray of float64
        Continuous loads of each group before rounding, in parameters.
    bandwidth : ndarray of float64
        Hz per worker; each instance's sum is at most its ``bandwidth``.
    worker_latency : ndarray of float64
        Seconds per worker (0 without load).
    latency, relaxed_latency : ndarray of float64, shape (M,)
        Iteration latency in seconds of each instance (integer loads; relaxed optimum).
    iterations : ndarray of int64, shape (M,)
    converged : ndarray of bool, shape (M,)
    method : tuple of (str or None), length M
        For the joint scheme, ``"exact"``, ``"newton"`` or ``"bisection"`` per instance.
    offsets : ndarray of int64, shape (M + 1,)
        Where each instance's workers start in the flattened per-worker arrays.
    group_offsets : ndarray of int64, shape (M + 1,)
        Where each instance's groups start in the flattened per-group arrays (equal to
        ``offsets`` without ``groups``): instance i has ``group_offsets[i + 1] -
        group_offsets[i]`` groups.
    scheme, backend : str
    """

    loads: np.ndarray
    relaxed_loads: np.ndarray
    bandwidth: np.ndarray
    worker_latency: np.ndarray
    latency: np.ndarray
    relaxed_latency: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    method: tuple[str | None, ...]
    offsets: np.ndarray
    group_offsets: np.ndarray
    scheme: str
    backend: str

    def __len__(self) -> int:
        return self.latency.size

    def __getitem__(self, i: int) -> Allocation:
        """Instance i as an :class:`Allocation`."""
        M = len(self)
        if not isinstance(i, (int, np.integer)) or not -M <= i < M:
            raise IndexError(f"instance index {i!r} out of range for {M} instances")
        i = int(i) % M
        workers = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        groups = slice(int(self.group_offsets[i]), int(self.group_offsets[i + 1]))

        def own(array: np.ndarray, part: slice) -> np.ndarray:
            return readonly(array.reshape(-1)[part].copy())

        return Allocation(
            loads=own(self.loads, groups), bandwidth=own(self.bandwidth, workers),
            latency=float(self.latency[i]),
            relaxed_latency=float(self.relaxed_latency[i]),
            relaxed_loads=own(self.relaxed_loads, groups),
            worker_latency=own(self.worker_latency, workers),
            scheme=self.scheme, backend=self.backend, iterations=int(self.iterations[i]),
            converged=bool(self.converged[i]), method=self.method[i])

    def __repr__(self) -> str:
        return (f"BatchAllocation(scheme={self.scheme!r}, instances={len(self)}, "
                f"workers={self.offsets[-1]}, groups={self.group_offsets[-1]}, "
                f"backend={self.backend!r}, "
                f"converged={int(self.converged.sum())}/{len(self)})")


def _float_array(name: str, values: Any) -> np.ndarray:
    """values as a C-contiguous float64 array of its own shape (0-D stays 0-D)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise ValueError(f"{name}: must be an array of real numbers ({error})") from None
    return array if array.ndim == 0 else np.ascontiguousarray(array)


def _per_worker(name: str, values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A per-worker input as flat contiguous float64. Its values are checked by the kernels
    (each worker's seconds must lie in the ranges of docs/algorithms.md 2.1, which excludes NaN,
    infinities and non-positive beta or compute), with errors that name the argument and the
    instance; checking them here too would double the serial part of a batch."""
    array = _float_array(name, values)
    if array.shape != shape:
        raise ValueError(f"{name}: must have shape {shape} (like beta), got {array.shape}")
    return array.reshape(-1)


def _groups(values: Any, shape: tuple[int, ...],
            offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids shaped like beta, as flat contiguous int64, and the group offsets they imply.

    Instance i gets N_i = (its largest id) + 1 groups, clipped to [1, K_i] so that the outputs
    never exceed the inputs; whether its ids are exactly 0..N_i-1 with no empty group is checked
    by the kernels, in one pass per instance, with errors that name ``groups`` and the instance.
    """
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"groups: must be an array of integer ids ({error})") from None
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"groups: must be integer ids (0..N-1 within each instance), got dtype "
                         f"{array.dtype}")
    if array.shape != shape:
        raise ValueError(f"groups: must have shape {shape} (like beta), got {array.shape}")
    if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError("groups: ids out of the int64 range")
    flat = np.ascontiguousarray(array, dtype=np.int64).reshape(-1)
    sizes = np.diff(offsets)
    if len(shape) == 2:
        largest = flat.reshape(shape).max(axis=1)
    else:
        largest = np.maximum.reduceat(flat, offsets[:-1])
    # min before + 1: an id of 2**63 - 1 must not wrap around.
    counts = np.maximum(np.minimum(largest, sizes - 1), 0) + 1
    group_offsets = np.zeros(offsets.size, dtype=np.int64)
    np.cumsum(counts, out=group_offsets[1:])
    return flat, group_offsets


def _method_names(codes: np.ndarray) -> tuple[str | None, ...]:
    """The method name of each instance, from the kernels' codes: one tuple repetition where
    every instance took the same method (the usual batch: 20,000 names in microseconds instead
    of milliseconds)."""
    if codes.size and bool((codes == codes[0]).all()):
        return (METHOD_NAMES[int(codes[0])],) * codes.size
    return tuple(METHOD_NAMES[code] for code in codes.tolist())


def allocate_batch(beta: Any, compute: Any, params: Any, bandwidth: Any, *,
                   scheme: str = "joint", method: str = "auto", alpha: Any = None,
                   tau: Any = None, groups: Any = None, offsets: Any = None,
                   previous: Any = None, n_threads: int = 1, tol: float = DEFAULT_TOL,
                   backend: str | None = None) -> BatchAllocation:
    """Solve many instances with one scheme, on a pool of threads.

    Each instance is solved exactly as :func:`allocate` would solve it alone (same answers);
    the loop, the thread pool and the outputs live in the native layer, with the GIL released.

    Parameters
    ----------
    beta, compute : array_like
        Seconds x Hz per parameter and seconds per parameter (see :class:`System`), either of
        shape (M, K) (M instances of K workers) or 1-D concatenations of ragged instances, with
        ``offsets``.
    params : int or array_like of int, shape (M,)
        Model size of each instance in parameters.
    bandwidth : float or array_like, shape (M,)
        Pool of each instance in Hz.
    scheme : str, default "joint"
        Any of :data:`paba.SCHEMES`; ``bandwidth_aware`` and ``parameter_aware`` start from equal
        splits.
    method : {"auto", "exact", "newton", "bisection"}, default "auto"
        Joint scheme only, as in :func:`allocate`.
    alpha, tau : array_like, optional
        Fixed seconds x Hz and seconds per worker, shaped like ``beta``. Default 0.
    groups : array_like of int, optional
        Group id of each worker, shaped like ``beta`` (integer dtype), local to its instance:
        an instance's ids are 0..N_i-1 with every group non-empty; members of a group share a
        block (see :class:`System`). Default: one worker per group. With groups, ``loads`` and
        ``relaxed_loads`` of the result are per group, concatenated (``group_offsets``).
    offsets : array_like of int, shape (M + 1,), optional
        For 1-D inputs: instance i owns workers ``offsets[i]:offsets[i + 1]``; starts at 0,
        increases strictly, ends at ``len(beta)``. Default: one instance of all workers.
    previous : BatchAllocation or array_like of int, optional
        Joint scheme only: loads of an earlier batch of the same layout (the shape of the
        result's ``loads``), to warm-start each instance's exact method (see :func:`allocate`).
    n_threads : int, default 1
        Threads of the native pool (``std::thread``), at most 1024 and at most one per instance;
        1 runs on the calling thread. Where the system starts fewer (its limits on threads or
        memory), the threads it started solve every instance, with the same answers.
    tol : float, default 1e-9
        As in :func:`allocate`.
    backend : {"native", "reference"}, optional
        The reference backend solves the instances one by one in NumPy.

    Returns
    -------
    BatchAllocation

    Raises
    ------
    ValueError
        Naming the argument, for malformed shapes, offsets, group ids or values, an unknown
        scheme or method, or an instance the kernels reject (the message names the instance).
    """
    if type(scheme) is not str or scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES}, got {describe(scheme)}")
    _check_method(scheme, method)
    name = _backend.resolve(backend)
    tol = tolerance("tol", tol)
    n_threads = n_threads_check("n_threads", n_threads)

    beta_array = _float_array("beta", beta)
    shape = beta_array.shape
    if beta_array.ndim == 2:
        if offsets is not None:
            raise ValueError("offsets: only for 1-D (concatenated) inputs")
        M, K = shape
        if M < 1 or K < 1:
            raise ValueError(f"beta: needs at least one instance and one worker, got {shape}")
        offset_array = np.arange(0, (M + 1) * K, K, dtype=np.int64)
    elif beta_array.ndim == 1:
        if beta_array.size < 1:
            raise ValueError("beta: needs at least one worker")
        if offsets is None:
            offset_array = np.array([0, beta_array.size], dtype=np.int64)
        else:
            offset_array = np.ascontiguousarray(offsets)
            if offset_array.ndim != 1 or offset_array.size < 2 \
                    or not np.issubdtype(offset_array.dtype, np.integer):
                raise ValueError("offsets: must be a 1-D integer array of at least 2 entries")
            offset_array = offset_array.astype(np.int64)
            if offset_array[0] != 0 or offset_array[-1] != beta_array.size \
                    or np.any(np.diff(offset_array) <= 0):
                raise ValueError("offsets: must start at 0, increase strictly and end at "
                                 f"len(beta) = {beta_array.size}")
        M = offset_array.size - 1
    else:
        raise ValueError(f"beta: must be 1-D (with offsets) or 2-D (M, K), got shape {shape}")
    flat_beta = _per_worker("beta", beta_array, shape)
    flat_compute = _per_worker("compute", compute, shape)
    flat_alpha = None if alpha is None else _per_worker("alpha", alpha, shape)
    flat_tau = None if tau is None else _per_worker("tau", tau, shape)
    flat_groups, group_offsets = (None, offset_array) if groups is None \
        else _groups(groups, shape, offset_array)
    params_array = per_instance("params", params, M, integral=True)
    bandwidth_array = per_instance("bandwidth", bandwidth, M, integral=False)
    loads_shape = shape if groups is None else (int(group_offsets[-1]),)
    previous_loads = None
    if previous is not None:
        if scheme != "joint":
            raise ValueError("previous: only the 'joint' scheme takes a warm start")
        loads = previous.loads if isinstance(previous, BatchAllocation) else previous
        loads = np.asarray(loads)
        if loads.shape != loads_shape or not np.issubdtype(loads.dtype, np.integer):
            raise ValueError(f"previous: must be integer loads of shape {loads_shape} (the "
                             "loads of a batch of this layout)")
        previous_loads = np.ascontiguousarray(loads, dtype=np.int64).reshape(-1)

    result = _backend.module(name).allocate_batch(
        scheme, offset_array, flat_beta, flat_compute, flat_alpha, flat_tau, params_array,
        bandwidth_array, previous_loads, tol, method, int(n_threads), group=flat_groups,
        group_offsets=None if groups is None else group_offsets)
    offset_array = readonly(offset_array.copy())
    return BatchAllocation(
        loads=readonly(result["loads"].reshape(loads_shape)),
        relaxed_loads=readonly(result["relaxed_loads"].reshape(loads_shape)),
        bandwidth=readonly(result["bandwidth"].reshape(shape)),
        worker_latency=readonly(result["worker_latency"].reshape(shape)),
        latency=readonly(result["latency"]),
        relaxed_latency=readonly(result["relaxed_latency"]),
        iterations=readonly(result["iterations"]),
        converged=readonly(result["status"] == STATUS_OK),
        method=_method_names(result["method"]),
        offsets=offset_array,
        group_offsets=offset_array if groups is None else readonly(group_offsets),
        scheme=scheme,
        backend=name,
    )
