"""NumPy reference twin of ``src/kernels/newton.cpp``: the joint scheme by Newton steps on the
latency around a warm-started price search, with the duality certificate of fixed costs and the
nested bisection as fallback (docs/algorithms.md 3.5.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bisection import joint
from .internal import EPS, MAX_BISECTION, Instance, parameter_aware, rates
from .price_search import (
    Prepared,
    group_bandwidth,
    group_sums,
    loads_at_price,
    prepare,
    price_search,
)
from .simple import equal_loads, fixed_rate_loads

TRUST_LOADS = 1e-10  # Newton's loads may end above its T by this, relative
FALLBACK_TOL = 1e-12  # tol of the bisection that replaces untrusted loads
CERTIFY = 1e-10  # Newton's latency is certified within this, relative


def two_step_start(inst: Instance, L: float, lean: bool = False):
    """The two-step schemes' allocations, each with its parameter-aware bandwidth: the
    bandwidth-aware loads of an equal split (sequential) and the equal integer split
    (parameter-aware). Returns (T, x) of the better one: the Newton method's start and its
    fixed-cost safeguard (docs/algorithms.md 4). A screened instance (lean) starts at the
    bandwidth-aware loads' own latency with the equal split."""
    T_loads, x, _, _ = fixed_rate_loads(
        inst, *rates(inst, np.full(inst.n_workers, 1.0 / inst.n_workers)))
    if lean:
        return T_loads, x
    T = parameter_aware(inst, x)[0]
    if not np.any(inst.f > 0.0):
        return T, x  # a start only: without fixed costs Newton's answer is not above it
    equal = equal_loads(inst.n_groups, L) / L
    T_equal = parameter_aware(inst, equal)[0]
    if T_equal < T:
        T, x = T_equal, equal
    return T, x


def price_guess(inst: Instance, T: float, x: np.ndarray) -> float:
    """A first price for the search at T: the load-weighted mean of rho_n(x_n) =
    G_n'(x_n)^(-1/2) over the groups loaded in x (0 when none can take its load)."""
    total = 0.0
    for n in range(inst.n_groups):
        if not x[n] > 0.0:
            continue
        ks = inst.members(n)
        U = float(((T - inst.tau[ks]) / inst.e[ks]).min())
        if not x[n] < U:
            continue
        total += x[n] / math.sqrt(group_sums(inst, n, T, U, x[n], U - x[n])[1])
    return total if math.isfinite(total) else 0.0


def envelope_excludes(inst: Instance, T: float, sigma: float,
                      previous: Prepared | None = None) -> tuple[bool, float]:
    """A certificate that no allocation finishes by T (docs/algorithms.md 3.5.1), by weak
    duality on the convex envelope of every group's cost: for any price lambda = sigma^-2, an
    allocation that carries the model by T needs at least
    D = lambda + sum_n min_x (env_n(x) - lambda x) = sum_n G_n(x_n) + lambda (1 - sum_n x_n)
    of the pool, x_n(sigma) the loads of the price pass. The price is the one the search at T
    finds from sigma. Returns (D exceeds 1 by more than its rounding, that price)."""
    prep = prepare(inst, T, previous)
    needed, _, _, price, _ = price_search(inst, prep, sigma, math.inf)
    if not math.isfinite(needed):
        return True, 0.0  # unlimited bandwidth is too little (no price: screens cannot extend it)
    if not price > 0.0:
        return False, price
    x, z = loads_at_price(inst, prep, price)[:2]
    lam = 1.0 / (price * price)
    on = x > 0.0
    G = group_bandwidth(inst, T, x, z)
    load = float(x[on].sum())
    scale = float((x[on] + z[on]).sum())
    D = G + lam * (1.0 - load)
    rounding = 16.0 * EPS * (G + lam * scale + 1.0)
    return D - rounding > 1.0, price


@dataclass
class NewtonReport:
    """What a Newton solve of a screened instance (its candidate groups) tells the screen
    (docs/algorithms.md 3.5.2): the last latency read and its price and, with fixed costs, the
    certificate's latency and price. `plain` is False where the solve did not end on Newton's own
    answer (the screen then solves the whole instance); `fixed` (in): the whole instance has
    fixed communication, so the answer is certified."""

    fixed: bool = False
    plain: bool = True
    T: float = 0.0
    sigma: float = 0.0
    T_c: float = 0.0
    sigma_c: float = 0.0


def joint_newton(inst: Instance, L: float, report: NewtonReport | None = None):
    """Safeguarded Newton steps on T (docs/algorithms.md 3.5.1): T' = T + G (G - 1) / Q, a Newton
    step on 1 / G*(T), with each G*(T) from the price search warm-started at the previous price
    moved along the price condition; bisection inside the bracket lo < T* <= hi when a step
    leaves it or is not below half the step before last. Starts at the better two-step
    allocation, and with fixed costs keeps it if it is better. Returns (T, x, iterations,
    converged). With a report (a screened instance), stops where the answer is not Newton's own
    (report.plain False)."""
    any_fixed = bool(np.any(inst.f > 0.0))
    certify = any_fixed or (report is not None and report.fixed)
    T_start, x_start = two_step_start(inst, L, lean=report is not None)
    # The start is a feasible latency: it bounds the optimum from above. Where the price search
    # at it finds no participating set that fits the pool (fixed costs), the start is kept.
    T, x_best = T_start, x_start
    lo, hi, step, step_before = 0.0, T_start, math.inf, math.inf
    sigma = price_guess(inst, T, x_best)
    last_price, last_T = sigma, T
    prep = None  # the T prepared last (its thresholds start the next prepare's)
    converged, iterations = False, 0
    for _ in range(MAX_BISECTION):
        iterations += 1
        prep = prepare(inst, T, prep)
        G, x, inner_converged, price, (_, Q, slope, drift) = price_search(
            inst, prep, sigma, math.inf, with_sums=True)
        last_price, last_T = price, T
        if G <= 1.0:
            hi, x_best = T, x
        else:
            lo = T
        nxt = T + G * (G - 1.0) / Q if math.isfinite(G) and Q > 0.0 else math.inf
        # G sums K rounded terms, so near the root the step is rounding noise: stop within 64 eps.
        if abs(nxt - T) <= 64.0 * EPS * T:
            x_best, converged = x, inner_converged  # converged: T is the root up to rounding
            break
        # Bisect when the step leaves the bracket or is not below half the step before last.
        if not lo < nxt < hi or abs(nxt - T) > 0.5 * step_before:
            nxt = lo + 0.5 * (hi - lo)
        step_before, step = step, abs(nxt - T)
        if not hi - lo > 2.0 * EPS * hi or not lo < nxt < hi:
            converged = True
            break
        sigma = price
        if math.isfinite(G) and slope < 0.0:
            moved = price - drift / slope * (nxt - T)
            if moved > 0.0:
                sigma = moved
        T = nxt
    T_found = hi
    # The loads' own latency (with their parameter-aware bandwidth) must match T. A load
    # limit - rate sigma of a worker whose compute is negligible beside its communication
    # cancels to eps times its limit, which can be far above the load; where that shows, the
    # loads are not to be trusted, and the nested bisection (whose feasibility test reads slacks
    # only) solves the instance instead.
    if report is not None:
        report.T, report.sigma = last_T, last_price
    T_loads = parameter_aware(inst, x_best)[0]
    if not T_loads <= hi * (1.0 + TRUST_LOADS):
        if report is not None:
            report.plain = False
            return T_found, x_best, iterations, converged
        T_found, x_best, more, converged = joint(inst, L, FALLBACK_TOL)
        iterations += more
        T_loads = parameter_aware(inst, x_best)[0]
    # With fixed costs the participating set is chosen by a heuristic, so G* can jump and need
    # not fall monotonically: Newton steps may settle on another crossing of G* = 1 than the
    # bisection's midpoints reach. The nested bisection runs too and the better answer is kept,
    # so this method is never above it; without fixed costs G* is monotone.
    T_c = T_loads * (1.0 - CERTIFY)
    price_c = 0.0
    if certify:
        certified, price_c = envelope_excludes(inst, T_c, last_price, prep)
        if not certified:
            if report is not None:
                report.plain = False
                return T_found, x_best, iterations, converged
            T_bisection, x_bisection, more, _ = joint(inst, L, FALLBACK_TOL)
            iterations += more
            if parameter_aware(inst, x_bisection)[0] < T_loads:
                T_found, x_best = T_bisection, x_bisection
    if report is not None:
        report.T_c, report.sigma_c = T_c, price_c
    # With fixed costs the participating set is a heuristic's choice: keep the start if it is
    # better (its latency is exact for its loads).
    if any_fixed and not parameter_aware(inst, x_best)[0] <= T_start:
        if report is not None:
            report.plain = False
            return T_found, x_best, iterations, converged
        x_best = x_start
    return T_found, x_best, iterations, converged
