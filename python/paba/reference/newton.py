"""NumPy reference twin of ``src/kernels/newton.cpp``: the joint scheme by Newton steps on the
latency around a warm-started price search, with the duality certificate of fixed costs split
into branches where a group sits at its jump, and the nested bisection where it cannot decide
(docs/algorithms.md 3.5.1)."""

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


def two_step_start(inst: Instance, L: float, lean: bool = False) -> tuple[float, np.ndarray]:
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


EXCLUDED, FEASIBLE, BRANCH, UNKNOWN = "excluded", "feasible", "branch", "unknown"
MAX_BRANCHES = 32  # bounds read per certificate
MAX_ROUNDS = 8  # improvements found by the certificate per solve


Forced = tuple[tuple[int, int], ...]  # (group, +1 in or -1 out) of a certificate's branch


def branch_bound(inst: Instance, T: float, sigma: float, forced: Forced,
                 previous: Prepared | None = None
                 ) -> tuple[str, float, np.ndarray, int, Prepared]:
    """One branch of the certificate at T (docs/algorithms.md 3.5.1), by weak duality on the
    convex envelope of every free group's cost (a group the branch forces in prices its own cost,
    one forced out none): for any price lambda = sigma^-2, an allocation of the branch that
    carries the model by T needs at least
    D = lambda + sum_n min_x (c_n(x) - lambda x) = sum_n G_n(x_n) + lambda (1 - sum_n x_n)
    of the pool, x_n(sigma) the loads of the price pass (a group forced in adds G_n(0) =
    sum_k f_k / u_k where it has no load). The price is the one the search at T finds from sigma.
    Returns (verdict, price, the search's loads, the group at its jump, the prepared T):
    EXCLUDED when D exceeds 1 by more than its rounding, FEASIBLE when the search's own loads fit
    the pool, BRANCH when a group sits at its jump, else UNKNOWN."""
    prep = prepare(inst, T, previous, forced)
    needed, x, _, price, _ = price_search(inst, prep, sigma, math.inf)
    if not math.isfinite(needed):
        # unlimited bandwidth is too little (no price: screens cannot extend it)
        return EXCLUDED, 0.0, x, -1, prep
    if needed <= 1.0:
        return FEASIBLE, price, x, -1, prep
    if not price > 0.0:
        return UNKNOWN, price, x, -1, prep
    x_dual, z = loads_at_price(inst, prep, price)[:2]
    lam = 1.0 / (price * price)
    on = x_dual > 0.0
    G = group_bandwidth(inst, T, x_dual, z)
    for n, side in forced:
        if side > 0 and not x_dual[n] > 0.0:
            ks = inst.members(n)
            G += float((inst.f[ks] / (T - inst.tau[ks])).sum())
    load = float(x_dual[on].sum())
    scale = float((x_dual[on] + z[on]).sum())
    D = G + lam * (1.0 - load)
    rounding = 16.0 * EPS * (G + lam * scale + 1.0)
    if D - rounding > 1.0:
        return EXCLUDED, price, x, -1, prep
    at_jump = np.flatnonzero(on & ~prep.lazy & (prep.threshold > 0.0) & (prep.cut == price))
    if at_jump.size:
        return BRANCH, price, x, int(at_jump[0]), prep
    return UNKNOWN, price, x, -1, prep


def certificate(inst: Instance, T: float, sigma: float, previous: Prepared | None = None
                ) -> tuple[str, float, np.ndarray | None, Forced, Prepared | None]:
    """Whether any allocation finishes by T (docs/algorithms.md 3.5.1): the bound of
    :func:`branch_bound` over every participating set, split where a group sits at its jump into
    the branches with it forced out and forced in, depth first (out first). Returns (verdict,
    price, loads, forced): EXCLUDED when every branch is, with the least price of their bounds
    (0 where one had none); FEASIBLE when a branch carries the model by T, with its price, loads
    and forcing; UNKNOWN when a bound cannot be read or more than MAX_BRANCHES are needed. Each
    branch's prepare starts from the one before (`previous` first), as the native InnerWork."""
    open_: list[Forced] = [()]
    least = math.inf
    read = 0
    while open_:
        if read == MAX_BRANCHES:
            return UNKNOWN, 0.0, None, (), previous
        read += 1
        forced = open_.pop()
        verdict, price, x, jump, previous = branch_bound(inst, T, sigma, forced, previous)
        if verdict == EXCLUDED:
            least = min(least, price)
            continue
        if verdict == FEASIBLE:
            return FEASIBLE, price, x, forced, previous
        if verdict == UNKNOWN:
            return UNKNOWN, 0.0, None, (), previous
        open_.append(forced + ((jump, 1),))
        open_.append(forced + ((jump, -1),))
    return EXCLUDED, least, None, (), previous


@dataclass
class NewtonReport:
    """What a Newton solve of a screened instance (its candidate groups) tells the screen
    (docs/algorithms.md 3.5.2): the last latency read and its price and, with fixed costs, the
    certificate's latency and the least price of its branches' bounds. `plain` is False where the solve did not end on Newton's own
    answer (the screen then solves the whole instance); `fixed` (in): the whole instance has
    fixed communication, so the answer is certified."""

    fixed: bool = False
    estimate: bool = False  # in: T and sigma only (the screen's estimate): no certificate
    plain: bool = True
    T: float = 0.0
    sigma: float = 0.0
    T_c: float = 0.0
    sigma_c: float = 0.0


JUMP_SLOPE = 8.0  # G* falls by more than this times its steepest slope read: a jump inside
STEADY = (0.01, 0.9)  # Newton steps shrinking by a ratio of magnitude in this range, twice
ESTIMATE_STOP = 1e-4  # the screen's estimate stops once a step is below this, relative to T


def newton_steps(inst: Instance, T: float, sigma: float, x_best: np.ndarray,
                 forced: Forced = (), prep: Prepared | None = None, at_jumps: bool = False,
                 stop: float = 64.0 * EPS
                 ) -> tuple[float, np.ndarray, int, bool, float, float, Prepared | None]:
    """Safeguarded Newton steps on T from T (feasible: x_best carries the model by it) and the
    price sigma: T' = T + G (G - 1) / Q, a Newton step on 1 / G*(T), with each G*(T) from the
    price search warm-started at the previous price moved along the price condition; bisection
    inside the bracket lo < T* <= hi when a step leaves it or is not below half the step before
    last. With at_jumps (fixed costs, answers certified), stops where G* falls across the
    bracket by more than JUMP_SLOPE times the steepest slope read at its ends (G* is convex and
    decreasing where continuous): a group's load jumps inside, no crossing of G* = 1 exists to
    converge to, and the certificate's branches take over from the feasible end. Returns (hi,
    x_best, iterations, converged, last T read, its price, last prepared)."""
    lo, hi, step, step_before = 0.0, T, math.inf, math.inf
    G_lo, Q_lo, G_hi, Q_hi = math.inf, 0.0, math.inf, 0.0
    d_before, r_before, newton_before = 0.0, 0.0, False  # the last Newton step, its ratio
    last_price, last_T = sigma, T
    converged, iterations = False, 0
    for _ in range(MAX_BISECTION):
        iterations += 1
        prep = prepare(inst, T, prep, forced)
        G, x, inner_converged, price, (_, Q, slope, drift) = price_search(
            inst, prep, sigma, math.inf, with_sums=True)
        last_price, last_T = price, T
        if G <= 1.0:
            hi, x_best, G_hi, Q_hi = T, x, G, Q
        else:
            lo, G_lo, Q_lo = T, G, Q
        if (at_jumps and lo > 0.0 and math.isfinite(G_lo) and math.isfinite(G_hi)
                and G_lo - G_hi > JUMP_SLOPE * max(Q_lo, Q_hi) * (hi - lo)):
            converged = True  # hi and its loads: the feasible side of the jump
            break
        nxt = T + G * (G - 1.0) / Q if math.isfinite(G) and Q > 0.0 else math.inf
        # G sums K rounded terms, so near the root the step is rounding noise: stop within 64 eps
        # (`stop`; the screen's estimate, which needs T and the price to a percent, stops sooner).
        if abs(nxt - T) <= stop * T:
            x_best, converged = x, inner_converged  # converged: T is the root up to rounding
            break
        # Where G* has a kink at the root (a load or a slack reaching 0 there, or a group's
        # cut), Newton steps shrink by a steady ratio r instead of quadratically, from one side
        # (r > 0) or alternating (r < 0); two ratios within 10% of each other take the sum of
        # the geometric series of steps, d / (1 - r), when it stays inside the bracket.
        newton = lo < nxt < hi
        d = nxt - T
        r = d / d_before if newton and newton_before else 0.0
        if STEADY[0] < abs(r) < STEADY[1] and abs(r - r_before) <= 0.1 * abs(r):
            ahead = T + d / (1.0 - r)
            if lo < ahead < hi:
                nxt = ahead
        newton_before, d_before, r_before = newton, d, r
        # Bisect when the step leaves the bracket or is not below half the step before last.
        if not newton or abs(nxt - T) > 0.5 * step_before:
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
    return hi, x_best, iterations, converged, last_T, last_price, prep


def joint_newton(inst: Instance, L: float, report: NewtonReport | None = None
                 ) -> tuple[float, np.ndarray, int, bool]:
    """The joint scheme by Newton steps on T (docs/algorithms.md 3.5.1, :func:`newton_steps`),
    started at the better two-step allocation; with fixed costs, certified (:func:`certificate`),
    with Newton steps from every better branch the certificate finds, and with fixed costs the
    start kept if it is better. Returns (T, x, iterations, converged). With a report (a screened
    instance), stops where the answer is not Newton's own (report.plain False)."""
    if inst.n_groups == 1:
        # One group (a plain federated round): its load is the whole model, and the optimum is
        # the parameter-aware bandwidth of that load, fixed costs or not. One step.
        x_one = np.ones(1)
        T_one, _, _, one_converged = parameter_aware(inst, x_one)
        return T_one, x_one, 1, one_converged
    any_fixed = bool(np.any(inst.f > 0.0))
    certify = any_fixed or (report is not None and report.fixed)
    # With fixed costs the answer is certified (or the two-step schemes are solved after all,
    # below), so one-member groups start lean, as a screened instance does (newton.cpp says why
    # groups of several members do not).
    lean = report is not None or (certify and inst.n_groups == inst.n_workers)
    T_start, x_start = two_step_start(inst, L, lean=lean)
    # The start is a feasible latency: it bounds the optimum from above. Where the price search
    # at it finds no participating set that fits the pool (fixed costs), the start is kept.
    estimate = report is not None and report.estimate
    T_found, x_best, iterations, converged, last_T, last_price, prep = newton_steps(
        inst, T_start, price_guess(inst, T_start, x_start), x_start, at_jumps=certify,
        stop=ESTIMATE_STOP if estimate else 64.0 * EPS)
    # The loads' own latency (with their parameter-aware bandwidth) must match T. A load
    # limit - rate sigma of a worker whose compute is negligible beside its communication
    # cancels to eps times its limit, which can be far above the load; where that shows, the
    # loads are not to be trusted, and the nested bisection (whose feasibility test reads slacks
    # only) solves the instance instead.
    if report is not None:
        report.T, report.sigma = last_T, last_price
        if report.estimate:  # the screen's estimate reads T and sigma only
            return T_found, x_best, iterations, converged
    T_loads = parameter_aware(inst, x_best)[0]
    if not T_loads <= T_found * (1.0 + TRUST_LOADS):
        if report is not None:
            report.plain = False
            return T_found, x_best, iterations, converged
        T_found, x_best, more, converged = joint(inst, L, FALLBACK_TOL)
        iterations += more
        T_loads = parameter_aware(inst, x_best)[0]
    # With fixed costs the participating set is chosen by a heuristic, so G* can jump and need
    # not fall monotonically: Newton steps may settle on another crossing of G* = 1 than the
    # optimum. The certificate at T_c = T (1 - 1e-10) either shows that no allocation finishes
    # by T_c, or finds a branch that does, from which Newton steps with its participation find a
    # better answer, certified in turn. Where it cannot decide, the nested bisection runs too
    # and the better answer is kept.
    T_c = T_loads * (1.0 - CERTIFY)
    price_c = 0.0
    if certify:
        certified = False
        last_forced: Forced = ()  # the last steps' participation
        for round_ in range(MAX_ROUNDS + 1):
            T_c = T_loads * (1.0 - CERTIFY)
            verdict, price_c, x, forced, prep = certificate(inst, T_c, last_price, prep)
            certified = verdict == EXCLUDED
            if verdict != FEASIBLE or round_ == MAX_ROUNDS:
                break
            assert x is not None  # a feasible branch comes with its loads
            # With the participation of the last steps (every group free the first time), they
            # stopped at a jump that the certificate did not find at T_c (it lies further down):
            # the steps now narrow the bracket onto it instead of stopping there again.
            again, last_forced = forced == last_forced, forced
            hi, x_round, more, round_converged, T_round, last_price, prep = newton_steps(
                inst, T_c, price_c, x, forced, prep, at_jumps=not again)
            iterations += more
            T_other = parameter_aware(inst, x_round)[0]
            if not T_other <= hi * (1.0 + TRUST_LOADS) or not T_other < T_loads:
                break
            x_best, T_loads, T_found, converged = x_round, T_other, hi, round_converged
            if report is not None:
                report.T, report.sigma = T_round, last_price
        if not certified:
            if report is not None:
                report.plain = False
                return T_found, x_best, iterations, converged
            T_bisection, x_bisection, more, _ = joint(inst, L, FALLBACK_TOL)
            iterations += more
            # Uncertified, the answer is kept below the bisection's and the two-step schemes'
            # (docs/algorithms.md 4), which the lean start did not solve: each replaces it where
            # faster.
            for T_other_found, x_other in ((T_bisection, x_bisection), two_step_start(inst, L)):
                T_other = parameter_aware(inst, x_other)[0]
                if T_other < T_loads:
                    T_found, x_best, T_loads = T_other_found, x_other, T_other
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
