"""NumPy reference twin of ``src/kernels/rounding.cpp`` and of ``round_to_total`` in
``internal.hpp``: integer loads from floors (docs/algorithms.md 3.6), by a heap over the groups.

The native code hands out the parameters the floors leave over by selection, not by a heap:
round_to_total by selection over the groups' next parameters, and the exact method's
round_up_dense by a search on the value of the R-th parameter (a few counting passes and a small
selection). Both give exactly the loads of this heap, which the tests check.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np


def round_to_total(loads: np.ndarray, total: int,
                   latency: Callable[[int, int], float]) -> np.ndarray:
    """From floors to loads summing to `total`: floors that overshoot give back one parameter at a
    time from the slowest loaded group (ties: lowest id); the remaining parameters go one at a
    time to the group whose latency after one more parameter is smallest (ties: lowest id).
    latency(n, m) is group n's latency with m parameters."""
    loads = loads.copy()
    assigned = int(loads.sum())
    while assigned > total:
        worst = max((n for n in range(loads.size) if loads[n] > 0),
                    key=lambda n: (latency(n, int(loads[n])), -n))
        loads[worst] -= 1
        assigned -= 1
    if assigned < total:
        heap = [(latency(n, int(loads[n]) + 1), n) for n in range(loads.size)]
        heapq.heapify(heap)
        while assigned < total:
            _, n = heapq.heappop(heap)
            loads[n] += 1
            assigned += 1
            heapq.heappush(heap, (latency(n, int(loads[n]) + 1), n))
    return loads
