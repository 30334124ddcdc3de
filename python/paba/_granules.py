"""Loads made of whole units (docs/algorithms.md 3.6, docs/training.md 2): round an allocation so
that every group's block is a set of granules of given sizes, then re-balance the bandwidth.

A deep network is partitioned by units (a row of a weight matrix with its bias), not by single
parameters, so a block's size is a sum of unit sizes, and the sizes differ from layer to layer.
:func:`round_to_granules` applies the integer rule of 3.6 to them:

1. *floors*: taking the distinct sizes from the largest down, each group receives as many units of
   the size as fit in what it still lacks of its relaxed load (when units of a size run short,
   they go one at a time to the group that lacks the most);
2. *remainder*: the units left over (fewer than the number of groups) go one at a time, largest
   first, to the group whose latency after taking the unit is smallest, at the allocation's
   bandwidth (ties to the lowest group id);
3. the schemes that choose bandwidth (parameter-aware, sequential, joint) re-compute it for the
   rounded loads with the parameter-aware step, so loaded workers still finish together;
4. on at most 64 groups, the joint answer is compared with every other scheme's in the same
   units (each with its parameter-aware bandwidth), and one faster by more than 1e-9 replaces
   it, so it is never above theirs by more than that.

With one size of 1 (a decomposable model, single parameters as units) this is exactly the integer
rounding every scheme already does, and the allocation is returned unchanged.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np

from ._allocation import SCHEMES, Allocation, allocate, evaluate
from ._core import CANDIDATE_MARGIN, COARSE_GROUPS
from ._system import System
from ._validation import MAX_PARAMS, InfeasibleError, describe, readonly
from .reference.internal import worker_seconds

#: Schemes whose bandwidth is fixed before the loads (it is kept after rounding).
FIXED_BANDWIDTH_SCHEMES = ("equal", "bandwidth_aware")


@dataclasses.dataclass(frozen=True, eq=False)
class Granules:
    """The unit sizes of a model, grouped by distinct size.

    Attributes
    ----------
    sizes : ndarray of int64, shape (S,)
        The distinct unit sizes in parameters, largest first.
    counts : ndarray of int64, shape (S,)
        How many units have each size.
    total : int
        Parameters in all units (the model size L).
    """

    sizes: np.ndarray
    counts: np.ndarray
    total: int

    def __post_init__(self):
        # Built by from_sizes, or directly: either way the fields must agree with each other.
        set_ = object.__setattr__
        for name in ("sizes", "counts"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu" \
                    or value.ndim != 1 or value.size == 0:
                raise ValueError(f"granules: {name} must be a non-empty 1-D integer array, got "
                                 f"{describe(value)}")
        sizes, counts = self.sizes, self.counts
        if counts.shape != sizes.shape or np.any(sizes < 1) or np.any(counts < 1) \
                or np.any(sizes > MAX_PARAMS) or np.any(np.diff(sizes) >= 0):
            raise ValueError("granules: sizes must be distinct, positive and decreasing, with a "
                             "positive count each")
        total = sum(int(size) * int(number) for size, number in zip(sizes.tolist(),
                                                                    counts.tolist(), strict=True))
        if isinstance(self.total, (bool, np.bool_)) or self.total != total \
                or total > MAX_PARAMS:
            raise ValueError(f"granules: total must be the parameters in all units ({total}, at "
                             f"most 2**53), got {describe(self.total)}")
        set_(self, "sizes", readonly(np.array(sizes, dtype=np.int64)))
        set_(self, "counts", readonly(np.array(counts, dtype=np.int64)))
        set_(self, "total", total)

    @classmethod
    def from_sizes(cls, unit_sizes) -> Granules:
        """Group a sequence of unit sizes (positive integers, in parameters)."""
        try:
            array = np.asarray(unit_sizes)
        except (TypeError, ValueError) as error:
            raise ValueError(f"granules: must be a 1-D sequence of unit sizes ({error})") from None
        if array.ndim != 1 or array.size == 0:
            raise ValueError("granules: must be a non-empty 1-D sequence of unit sizes")
        if array.dtype.kind not in "iu":
            if array.dtype.kind != "f" or not np.all(np.isfinite(array)) or \
                    np.any(array != np.floor(array)):
                raise ValueError("granules: unit sizes must be integers")
        if array.min() < 1:
            raise ValueError("granules: unit sizes must be at least 1 parameter")
        # A model has at most 2**53 parameters (System's params): checked before the cast to
        # int64 and with Python integers, so that no size or sum wraps round.
        if array.max() > MAX_PARAMS:
            raise ValueError("granules: unit sizes must be at most 2**53 parameters")
        array = array.astype(np.int64)
        sizes, counts = np.unique(array, return_counts=True)
        total = sum(int(size) * int(number) for size, number in zip(sizes.tolist(),
                                                                    counts.tolist(), strict=True))
        if total > MAX_PARAMS:
            raise ValueError(f"granules: the units hold {total} parameters, more than 2**53")
        return cls(sizes[::-1].copy(), counts[::-1].copy(), total)

    @property
    def trivial(self) -> bool:
        """True when every unit is a single parameter (the plain integer rounding applies)."""
        return self.sizes.size == 1 and int(self.sizes[0]) == 1


def _group_latency_after(system: System, bandwidth: np.ndarray, loads: np.ndarray,
                         extra: float) -> np.ndarray:
    """Each group's latency if it took ``extra`` more parameters at these member bandwidths (the
    model's worker latency, reference.internal.worker_seconds; inf for a member without
    bandwidth)."""
    member = worker_seconds(loads[system.groups] + extra, system.beta, system.compute,
                            system.alpha, system.tau, bandwidth)
    member = np.where(np.isnan(member), np.inf, member)
    result = np.full(system.n_groups, -np.inf)
    np.maximum.at(result, system.groups, member)
    return result


def _check_allocation(system: System, allocation: Allocation) -> None:
    """The allocation must be one of ``system`` (its arrays shaped by the system's groups and
    workers, its relaxed loads finite and its bandwidth non-negative), checked before any
    arithmetic mixes the two."""
    N, K = system.n_groups, system.n_workers
    for field, size, kinds in (("loads", N, "iu"), ("relaxed_loads", N, "iuf"),
                               ("bandwidth", K, "iuf")):
        value = getattr(allocation, field, None)
        if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds \
                or value.shape != (size,):
            shape = getattr(value, "shape", None)
            raise ValueError(f"allocation: its {field} must be an array of shape ({size},) for "
                             f"this system ({N} groups, {K} workers), got "
                             f"{'shape ' + str(shape) if shape is not None else describe(value)}")
    if not np.all(np.isfinite(allocation.relaxed_loads)) or np.any(allocation.relaxed_loads < 0):
        raise ValueError("allocation: its relaxed_loads must be finite and non-negative")
    if not np.all(np.isfinite(allocation.bandwidth)) or np.any(allocation.bandwidth < 0):
        raise ValueError("allocation: its bandwidth must be finite and non-negative")
    if not isinstance(allocation.scheme, str):
        raise ValueError(f"allocation: its scheme must be a string, got "
                         f"{describe(allocation.scheme)}")


def round_to_granules(system: System, allocation: Allocation, granules: Granules, *,
                      backend: str | None = None) -> tuple[Allocation, np.ndarray]:
    """Round an allocation's relaxed loads to sums of whole units and re-balance bandwidth.

    Parameters
    ----------
    system : System
        The instance the allocation was made for; ``system.params`` must equal
        ``granules.total``.
    allocation : Allocation
        The scheme's answer (its ``relaxed_loads`` are rounded, its ``bandwidth`` prices the
        remainder).
    granules : Granules
        The model's unit sizes.
    backend : {"native", "reference"}, optional
        Backend of the bandwidth re-balance and the latency evaluation (and, for a joint
        allocation on at most 64 groups, of the other schemes it is compared with).

    Returns
    -------
    allocation : Allocation
        Loads (parameters per group, each a sum of whole units), bandwidth (Hz) and latency
        (seconds) after rounding; the relaxed fields, scheme and method are the input's. A joint
        allocation on at most 64 groups gets another scheme's loads in units where those finish
        sooner by more than 1e-9 (docs/algorithms.md 3.6).
    unit_counts : ndarray of int64, shape (N, S)
        Units of each size (``granules.sizes``) in each group's block.
    """
    if not isinstance(system, System):
        raise ValueError(f"system: must be a paba.System, got {describe(system)}")
    if not isinstance(allocation, Allocation):
        raise ValueError(f"allocation: must be a paba.Allocation, got {describe(allocation)}")
    if not isinstance(granules, Granules):
        raise ValueError(f"granules: must be a paba Granules, got {type(granules).__name__}")
    _check_allocation(system, allocation)
    if granules.total != system.params:
        raise ValueError(f"granules: the units hold {granules.total} parameters, the system "
                         f"{system.params}")
    N = system.n_groups
    if granules.trivial:
        return allocation, readonly(allocation.loads.reshape(N, 1).copy())
    rounded, counts = _round(system, allocation, granules, backend)
    if allocation.scheme == "joint" and N <= COARSE_GROUPS:
        rounded, counts = _against_the_other_schemes(system, rounded, counts, granules, backend)
    return rounded, counts


def _against_the_other_schemes(system: System, rounded: Allocation, counts: np.ndarray,
                               granules: Granules, backend) -> tuple[Allocation, np.ndarray]:
    """The joint answer in units against every other scheme's (docs/algorithms.md 3.6): each
    scheme's allocation rounded to the same units, with the parameter-aware bandwidth of its
    loads; the first faster than the joint one and those before it by more than
    CANDIDATE_MARGIN replaces its loads, bandwidth and latencies (and unit counts). So joint in
    units is never above another scheme in units by more than that."""
    best = rounded
    for scheme in SCHEMES:
        if scheme == "joint":
            continue
        try:
            other = allocate(system, scheme, backend=backend)
        except InfeasibleError:
            continue
        candidate, candidate_counts = _round(system, other, granules, backend, rebalance=True)
        if candidate.latency < best.latency * (1.0 - CANDIDATE_MARGIN):
            best = dataclasses.replace(rounded, loads=candidate.loads,
                                       bandwidth=candidate.bandwidth, latency=candidate.latency,
                                       worker_latency=candidate.worker_latency)
            counts = candidate_counts
    return best, counts


def _round(system: System, allocation: Allocation, granules: Granules, backend,
           rebalance: bool = False) -> tuple[Allocation, np.ndarray]:
    """round_to_granules past its checks, without the comparison of the joint answer; with
    ``rebalance``, the bandwidth is re-balanced whatever the scheme."""
    N = system.n_groups
    relaxed = np.asarray(allocation.relaxed_loads, dtype=np.float64)
    sizes, available = granules.sizes, granules.counts
    counts = np.zeros((N, sizes.size), dtype=np.int64)
    deficit = relaxed.copy()
    leftover = []
    for j, (size, count) in enumerate(zip(sizes.tolist(), available.tolist(), strict=True)):
        # Loads are relaxed parameters, exact to about 1e-12 relative; a unit that fits to within
        # that still counts as fitting.
        want = np.floor(np.maximum(deficit, 0.0) / size + 1e-9).astype(np.int64)
        if want.sum() <= count:
            counts[:, j] = want
            deficit -= want * size
            leftover += [size] * int(count - want.sum())
            continue
        # Too few units of this size for every floor: one at a time to the group lacking most.
        heap = [(-d, n) for n, d in enumerate(deficit.tolist())]
        heapq.heapify(heap)
        for _ in range(count):
            lack, n = heap[0]
            if -lack + 1e-9 * size < size:
                break
            counts[n, j] += 1
            deficit[n] -= size
            heapq.heapreplace(heap, (-float(deficit[n]), n))
        leftover += [size] * int(count - counts[:, j].sum())
    loads = counts @ sizes
    index = {int(size): j for j, size in enumerate(sizes.tolist())}
    bandwidth = np.asarray(allocation.bandwidth, dtype=np.float64)
    for size in leftover:  # largest first, fewer than N of them
        n = int(np.argmin(_group_latency_after(system, bandwidth, loads.astype(np.float64),
                                               float(size))))
        counts[n, index[size]] += 1
        loads[n] += size
    if allocation.scheme in FIXED_BANDWIDTH_SCHEMES and not rebalance:
        latency = evaluate(system, loads, bandwidth, backend=backend)
        rounded = dataclasses.replace(allocation, loads=readonly(loads),
                                      latency=latency.latency,
                                      worker_latency=latency.worker_latency)
    else:
        rebalanced = allocate(system, "parameter_aware", loads=loads, backend=backend)
        rounded = dataclasses.replace(allocation, loads=rebalanced.loads,
                                      bandwidth=rebalanced.bandwidth,
                                      latency=rebalanced.latency,
                                      worker_latency=rebalanced.worker_latency)
    return rounded, readonly(counts)
