"""NumPy reference twin of ``src/kernels/bisection.cpp``: the joint scheme by the paper's nested
bisection on the latency around the inner level (docs/algorithms.md 3.5)."""

from __future__ import annotations

import numpy as np

from .internal import MAX_BISECTION, Instance, parameter_aware, rates
from .price_search import min_bandwidth
from .simple import equal_loads, fixed_rate_loads


def joint(inst: Instance, L: float, tol: float) -> tuple[float, np.ndarray, int, bool]:
    """Bisection on T between the unlimited-bandwidth bound and the equal-bandwidth latency.

    Invariant: the pool cannot carry the model by lo; it can by hi, with loads x_best.
    Returns (T, x_best, iterations, converged).
    """
    lo = fixed_rate_loads(inst, inst.e, inst.tau)[0]
    b = np.full(inst.n_workers, 1.0 / inst.n_workers)
    hi, x_best, _, converged = fixed_rate_loads(inst, *rates(inst, b))
    if np.any(inst.f > 0.0):
        # With fixed communication the inner level chooses the participating groups by a
        # heuristic, so the bracket starts at the best of the two-step schemes' allocations: the
        # bandwidth-aware loads (sequential) and the equal integer split (parameter-aware).
        hi = min(hi, parameter_aware(inst, x_best)[0])
        equal = equal_loads(inst.n_groups, L) / L
        T_equal = parameter_aware(inst, equal)[0]
        if T_equal < hi:
            hi, x_best = T_equal, equal
    iterations = 0
    prep = None
    while hi - lo > tol * hi and iterations < MAX_BISECTION:
        mid = lo + 0.5 * (hi - lo)
        if not (lo < mid < hi):
            break
        iterations += 1
        needed, x, inner_converged, prep = min_bandwidth(inst, mid, prep)
        converged = converged and inner_converged
        if needed <= 1.0:
            hi = mid
            x_best = x
        else:
            lo = mid
    if hi - lo > tol * hi:
        converged = False
    return hi, x_best, iterations, converged
