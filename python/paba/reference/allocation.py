"""NumPy reference twin of ``src/kernels/allocation.cpp``.

Written for clarity, straight from docs/algorithms.md section 3, with the same algorithms,
iteration rules and tie-breaks as the native kernels, so the two can be compared result for
result. Its entry points (``allocate``, ``evaluate``) check a direct call as the native binding
does (:mod:`.check`). The normalised units are those of :mod:`.internal`."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .check import check_call, check_scalars, vector
from .exact import NEWTON_PASSES, allocate_exact, exact_applies
from .internal import (
    EPS,
    MAX_BISECTION,
    MAX_NEWTON,
    METHODS,
    SCHEMES,
    STATUS_INFEASIBLE,
    Instance,
    group_latency,
    latency_of,
    normalise,
    parameter_aware,
    rates,
    result,
    round_to_total,
)

JUMP_TOLERANCE = 1e-9  # a gap in sum_n x_n(sigma) wider than this is a jump


TRUST_LOADS = 1e-10  # Newton's loads may end above its T by this, relative


FALLBACK_TOL = 1e-12  # tol of the bisection that replaces untrusted loads
LAST_STEP = 1e-13  # a threshold's Newton step this small is its last
CERTIFY = 1e-10  # Newton's latency is certified within this, relative


def group_loads(inst: Instance, s: np.ndarray, r: np.ndarray, T: float,
                with_slope: bool = False):
    """x_n(T) = min over members of [(T - r_k) / s_k]^+ (s_k = inf: the group takes nothing),
    and, with_slope, dx_n/dT: 1 / s of the binding member (the first at the minimum), 0 without
    load."""
    values = ((T - r) / s)[inst.member]
    least = np.minimum.reduceat(values, inst.offset[:-1])
    loads = np.maximum(least, 0.0)
    if not with_slope:
        return loads
    sizes = np.diff(inst.offset)
    position = np.where(values == np.repeat(least, sizes), np.arange(values.size), values.size)
    binding = inst.member[np.minimum.reduceat(position, inst.offset[:-1])]
    return loads, np.where(least > 0.0, 1.0 / s[binding], 0.0)


def fixed_rate_loads(inst: Instance, s: np.ndarray, r: np.ndarray):
    """Solve sum_n x_n(T) = 1. Returns (T, x, iterations, converged); T = inf when impossible.

    Without fixed terms, the closed form; otherwise Newton steps on the piecewise linear,
    nondecreasing sum (each exact on the piece it starts from), safeguarded by the bracket
    lo < T <= hi: a bisection step when a Newton step leaves it or is not below half the step
    before last."""
    if not np.any(r != 0.0):
        S = inst.group_reduce(np.maximum, s)
        inverse_sum = (1.0 / S).sum()
        if not inverse_sum > 0.0:
            return math.inf, np.zeros(inst.n_groups), 0, False
        T = 1.0 / inverse_sum
        return T, T / S, 0, True
    R = inst.group_reduce(np.maximum, r)
    S = inst.group_reduce(np.maximum, s)
    lo, hi = R.min(), (R + S).min()
    if not np.isfinite(hi):
        return math.inf, np.zeros(inst.n_groups), 0, False
    iterations = 0
    T, step, step_before = hi, math.inf, math.inf
    while hi - lo > 2.0 * EPS * hi and iterations < MAX_BISECTION:
        iterations += 1
        loads, slopes = group_loads(inst, s, r, T, with_slope=True)
        value, slope = loads.sum() - 1.0, slopes.sum()
        if value >= 0.0:
            hi = T
        else:
            lo = T
        if value == 0.0:
            break
        nxt = T - value / slope if slope > 0.0 else math.inf
        if not (lo < nxt < hi) or abs(nxt - T) > 0.5 * step_before:
            nxt = lo + 0.5 * (hi - lo)
        step_before, step = step, abs(nxt - T)
        if not (lo < nxt < hi):
            break
        T = nxt
    x = group_loads(inst, s, r, hi)
    return hi, x / x.sum(), iterations, True


def group_sums(inst: Instance, n: int, T: float, U: float, x: float,
               z: float) -> tuple[float, float, float]:
    """G_n, G_n' and G_n'' of group n at the load x with slack z = U - x (U = U_n at this T):
    every y_k = u_k - e_k x formed from the slack as e_k (g_k + z), g_k = u_k / e_k - U, every
    numerator f_k + a_k x from the load (x formed back as U - z would carry an error of eps U,
    far above eps x where compute is negligible beside communication)."""
    ks = inst.members(n)
    a, e, f = inst.a[ks], inst.e[ks], inst.f[ks]
    u = T - inst.tau[ks]
    w = a * u + e * f
    y = e * ((u / e - U) + z)
    return (float(((f + a * x) / y).sum()), float((w / (y * y)).sum()),
            float((2.0 * w * e / (y * y * y)).sum()))


def group_at_price(inst: Instance, n: int, T: float, sigma: float) -> tuple[float, float, float]:
    """Load x_n(sigma) solving rho_n(x) = sigma, its slack z = U_n - x, and dx/dsigma, for a
    group of several members (one-member groups, where rho is linear, are in closed form in
    :func:`prepare` and :func:`loads_at_price`).

    rho_n(x) = G_n'(x)^(-1/2), G_n'(x) = sum_k w_k / y_k^2, w_k = a_k u_k + e_k f_k,
    u_k = T - tau_k, y_k = u_k - e_k x = e_k (g_k + z), g_k = u_k / e_k - U_n. rho_n is concave
    and decreasing. Loads are carried with their slack because near the compute limit
    y_k = u_k - e_k x would cancel.
    """
    ks = inst.members(n)
    u = T - inst.tau[ks]
    if not np.all(u > 0.0):
        return 0.0, 0.0, 0.0
    e = inst.e[ks]
    w = inst.a[ks] * u + e * inst.f[ks]
    marginal0 = (w / (u * u)).sum()
    U = (u / e).min()
    if not (1.0 / math.sqrt(marginal0) > sigma):
        return 0.0, 0.0, 0.0
    g = u / e - U
    # Start at the smallest single-member root (largest slack): right of the group's root.
    z = max(0.0, (np.sqrt(w) * sigma / e - g).max())
    if not z < U:
        return 0.0, 0.0, 0.0
    if sigma == 0.0:
        # x = U_n. Near it only the members binding at U_n count: rho_n(x) ~ (U_n - x) /
        # sqrt(sum w_k / e_k^2), so the one-sided slope is -sqrt(sum w_k / e_k^2) over them.
        binding = g == 0.0
        return U, 0.0, -math.sqrt((w[binding] / (e[binding] * e[binding])).sum())
    g1 = g2 = 0.0
    for _ in range(MAX_NEWTON):
        _, g1, g2 = group_sums(inst, n, T, U, U - z, z)
        # Newton on rho(x) = sigma: x <- x + 2 G' (1 - sigma sqrt(G')) / G'' (a step left).
        step = 2.0 * g1 * (1.0 - sigma * math.sqrt(g1)) / g2
        if not step < 0.0 or -step <= 4.0 * EPS * z:
            break
        z = z - step if z - step < U else z + 0.5 * (U - z)
    return U - z, z, -2.0 * g1 * math.sqrt(g1) / g2


def member_threshold(a: float, e: float, f: float, u: float) -> float:
    """One member's own participation threshold (0 without fixed costs)."""
    if not f > 0.0:
        return 0.0
    ef = e * f
    return f * u / (ef + math.sqrt(ef * ef + a * ef * u))


def participation_threshold(inst: Instance, n: int, T: float, hint: float = 0.0) -> float:
    """Least load x*_n at which group n is worth its fixed costs.

    With f > 0 a group's bandwidth jumps from 0 to A_n = sum_k f_k / u_k as soon as it takes any
    load. The convex envelope of that cost is the chord from the origin touching G_n at x*_n,
    where x G_n'(x) = G_n(x); on the envelope a group gets no load or at least x*_n. Without fixed
    costs x*_n = 0. H(x) = x G'(x) - G(x) is increasing and convex on [0, U_n), H(0) = -A_n:
    safeguarded Newton steps find its root, from the hint (the threshold at a nearby T) when
    there is one, else from the largest member root. inf when a member cannot finish by T.
    """
    ks = inst.members(n)
    u = T - inst.tau[ks]
    if not np.all(u > 0.0):
        return math.inf
    if not np.any(inst.f[ks] > 0.0):
        return 0.0
    if ks.size == 1:
        # One member: H(x) (u - e x)^2 = a e x^2 + 2 e f x - f u, whose positive root is
        # x* = f u / (e f + sqrt(e^2 f^2 + a e f u)) (written without cancellation).
        return member_threshold(float(inst.a[ks[0]]), float(inst.e[ks[0]]),
                                float(inst.f[ks[0]]), float(u[0]))
    U = float((u / inst.e[ks]).min())
    lo, hi = 0.0, U
    if 0.0 < hint < min(U, math.inf):
        x = hint
    else:
        # H is the sum of the members' own H_k, so the group's root lies between the least and
        # the largest member root. Newton steps from the largest (H >= 0 there) move left
        # monotonically.
        roots = [member_threshold(float(inst.a[k]), float(inst.e[k]), float(inst.f[k]),
                                  float(uk)) for k, uk in zip(ks, u)]
        least, largest = min(roots), max(roots)
        lo = min(least, U)
        x = largest if 0.0 < largest < U else lo + 0.5 * (hi - lo)
    if not x > 0.0:
        x = 0.5 * U
    right = False  # a point with H > 0 was read: the steps now move left monotonically
    for _ in range(MAX_NEWTON):
        G, G1, G2 = group_sums(inst, n, T, U, x, U - x)
        H = x * G1 - G
        # Right of the root, H <= 0 means the root up to rounding (H cancels to about eps G_n,
        # so the relative step test below may never hold there).
        if right and not H > 0.0:
            break
        if H > 0.0:
            hi, right = x, True
        else:
            lo = x
        nxt = x - H / (x * G2)
        # A Newton step within rounding: x is the root (tested before the safeguard, which
        # would take such a step, landing on x itself, for one that leaves the bracket).
        if abs(nxt - x) <= 4.0 * EPS * x:
            break
        # Right of the root the steps converge quadratically: after a step below LAST_STEP the
        # error is far below rounding, so it is taken and is the last (no pass to confirm it).
        if right and nxt > lo and x - nxt <= LAST_STEP * x:
            x = nxt
            break
        if not (lo < nxt < hi):
            nxt = lo + 0.5 * (hi - lo)
        if abs(nxt - x) <= 4.0 * EPS * x:
            break
        x = nxt
    return x


@dataclass
class Prepared:
    """The groups' data at one T (prepare): thresholds, cuts (the price beyond which a group
    takes no load: on while sigma < cut, or sigma <= cut for a group with a threshold, whose
    load jumps from it to 0 just past the cut), and the one-member groups' limit and rate (their
    load at sigma is limit - rate sigma). A group of several members with fixed costs is `lazy`
    until a price below its rho_n(0) is read (settle): its cut holds that bound and its threshold
    the last one found, the hint of the next."""

    T: float
    threshold: np.ndarray
    cut: np.ndarray
    single: np.ndarray
    several: np.ndarray
    limit: np.ndarray
    rate: np.ndarray
    lazy: np.ndarray


def prepare(inst: Instance, T: float, previous: Prepared | None = None) -> Prepared:
    """The groups' data at T; the thresholds of groups of several members start from their
    values in `previous` (the T prepared before), as the native InnerWork keeps them."""
    N = inst.n_groups
    any_fixed = bool(np.any(inst.f > 0.0))
    hints = previous.threshold if previous is not None else np.zeros(N)
    threshold = np.zeros(N)
    cut = np.zeros(N)
    lazy = np.zeros(N, dtype=bool)
    sizes = np.diff(inst.offset)
    single = np.flatnonzero(sizes == 1)
    several = np.flatnonzero(sizes > 1)
    if any_fixed:
        threshold[single] = [participation_threshold(inst, int(n), T) for n in single]
    k = inst.member[inst.offset[single]]
    u = T - inst.tau[k]
    possible = u > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = np.where(possible, u / inst.e[k], 0.0)
        rate = np.where(possible, np.sqrt(inst.a[k] * u + inst.e[k] * inst.f[k]) / inst.e[k], 0.0)
        cut[single] = np.where(possible, (limit - threshold[single]) / rate, -1.0)
    for n in several:
        ks = inst.members(int(n))
        un = T - inst.tau[ks]
        if not np.all(un > 0.0):
            threshold[n], cut[n] = math.inf, -1.0
            continue
        marginal0 = float(((inst.a[ks] * un + inst.e[ks] * inst.f[ks]) / (un * un)).sum())
        cut[n] = 1.0 / math.sqrt(marginal0)  # rho_n(0), as group_at_price tests it
        if np.any(inst.f[ks] > 0.0):
            lazy[n], threshold[n] = True, hints[n]  # settled when a price below cut is read
    return Prepared(T, threshold, cut, single, several, limit, rate, lazy)


def settle(inst: Instance, prep: Prepared, n: int) -> None:
    """The threshold and cut of the lazy group n at the prepared T (from its hint)."""
    T = prep.T
    least = participation_threshold(inst, n, T, float(prep.threshold[n]))
    ks = inst.members(n)
    U = float(((T - inst.tau[ks]) / inst.e[ks]).min())
    prep.threshold[n], prep.lazy[n] = least, False
    if not least < U:
        prep.cut[n] = -1.0
    elif least > 0.0:  # rho_n at the threshold; else rho_n(0), which the cut holds
        prep.cut[n] = 1.0 / math.sqrt(group_sums(inst, n, T, U, least, U - least)[1])


def takes_load(inst: Instance, prep: Prepared, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """(on, jumps) of every group at sigma: on below its cut, or at it when its load jumps there
    (a threshold). Settles first every lazy group whose bound lies above sigma."""
    for n in np.flatnonzero(prep.lazy & (sigma < prep.cut)):
        settle(inst, prep, int(n))
    jumps = (prep.threshold > 0.0) & ~prep.lazy
    return (sigma < prep.cut) | (jumps & (sigma == prep.cut)), jumps


def loads_at_price(inst: Instance, prep: Prepared, sigma: float):
    """One pass of the price search at sigma: loads x_n, slacks z_n = U_n - x_n, and the sums
    (value = sum x - 1, slope = d sum / d sigma, next_cut: least cut of a loaded group,
    prev_cut: largest cut of a group without load, drop: the load that leaves just past
    sigma)."""
    T = prep.T
    on, jumps = takes_load(inst, prep, sigma)
    x = np.zeros(inst.n_groups)
    z = np.zeros(inst.n_groups)
    slope = np.zeros(inst.n_groups)
    single, several = prep.single, prep.several
    slack = prep.rate * sigma
    on_single = on[single]
    x[single] = np.where(on_single, np.maximum(prep.limit - slack, 0.0), 0.0)
    z[single] = np.where(on_single, slack, 0.0)
    slope[single] = np.where(on_single, -prep.rate, 0.0)
    for n in several[on[several]]:
        x[n], z[n], slope[n] = group_at_price(inst, int(n), T, sigma)
    next_cut = float(prep.cut[on].min(initial=math.inf))
    prev_cut = float(prep.cut[~on].max(initial=-math.inf))
    drop = float(x[on & jumps & (sigma == prep.cut)].sum())
    return x, z, float(x.sum() - 1.0), float(slope.sum()), next_cut, prev_cut, drop


def group_bandwidth(inst: Instance, T: float, x: np.ndarray, z: np.ndarray) -> float:
    """Total bandwidth share of loads x with slacks z: sum over workers with load of
    (f_k + a_k x_n) / (e_k (g_k + z_n)), g_k = (T - tau_k) / e_k - U_n."""
    u = T - inst.tau
    with np.errstate(divide="ignore", invalid="ignore"):
        limit = u / inst.e
        U = inst.group_reduce(np.minimum, limit)
        g = limit - U[inst.group]
        xk, zk = x[inst.group], z[inst.group]
        b = (inst.f + inst.a * xk) / (inst.e * (g + zk))
    return float(np.where(xk > 0, b, 0.0).sum())


def outer_sums(inst: Instance, T: float, x: np.ndarray, z: np.ndarray):
    """(G, Q, slope, drift) at loads x with slacks z (docs/algorithms.md 3.5.1): the bandwidth
    share the loads need, Q = sum_k b_k / y_k = -dG/dT at fixed loads, and sum_n dx_n/dsigma and
    sum_n dx_n/dT along the price condition G_n'(x_n; T) = sigma^-2."""
    G = Q = slope = drift = 0.0
    for n in np.flatnonzero(x > 0.0):
        ks = inst.members(int(n))
        a, e, f = inst.a[ks], inst.e[ks], inst.f[ks]
        u = T - inst.tau[ks]
        U = (u / e).min()
        w = a * u + e * f
        y = e * ((u / e - U) + z[n])
        b = (f + a * x[n]) / y  # the load, not U - z (group_sums)
        r = 1.0 / y  # the derivatives only steer the steps: a reciprocal, not four divisions
        w2 = w * r * r
        G += float(b.sum())
        Q += float((b * r).sum())
        G1 = float(w2.sum())
        G2 = float((2.0 * w2 * e * r).sum())
        G1T = float((a * r * r - 2.0 * w2 * r).sum())
        slope -= 2.0 * G1 * math.sqrt(G1) / G2
        drift -= G1T / G2
    return G, Q, slope, drift


def price_search(inst: Instance, prep: Prepared, sigma: float, hi: float,
                 with_sums: bool = False):
    """Least bandwidth share that carries the whole model by T, its loads, convergence, the
    price found and (with_sums) the outer step's sums.

    Solves sum_n x_n(sigma) = 1 (decreasing, with downward jumps at the cuts of groups with
    thresholds) inside a bracket [lo, hi] (sum >= 1 at lo, < 1 at hi; hi may be infinite) from
    `sigma` (0 or a warm start): Newton steps; where one leaves the bracket or is not below half
    the step before last, the one cut inside the bracket when there is exactly one, else a secant
    point and a bisection in turn. The root lies at a jump when the sum at lo is at least 1 and
    falls below 1 just past lo. Then the bandwidth of the loads found (or the lo side's, when the
    root is at a jump: the groups that jumped give back the excess), scaled to sum to exactly 1.
    """
    T = prep.T
    any_fixed = bool(np.any(inst.f > 0.0))
    infeasible = (math.inf, np.zeros(inst.n_groups), True, sigma, (math.inf, 0.0, 0.0, 0.0))
    # prev_cut_hi: the largest cut of a group without load at hi, known once hi is a point read
    # (a given hi is a bound only: every cut may lie below it).
    state = {"lo": 0.0, "hi": hi, "value_lo": 0.0, "value_hi": 0.0, "next_cut_lo": math.inf,
             "prev_cut_hi": math.inf, "have_lo": False, "at_jump": False}
    _, _, value, slope, next_cut, prev_cut, drop = loads_at_price(inst, prep, sigma)
    if sigma == 0.0 and not value > 0.0:
        return infeasible

    def record():
        if value >= 0.0:
            state.update(lo=sigma, value_lo=value, next_cut_lo=next_cut, have_lo=True,
                         at_jump=value - drop < 0.0)
        else:
            state.update(hi=sigma, value_hi=value, prev_cut_hi=prev_cut)

    record()
    converged = False
    step = step_before = math.inf
    fallbacks = 0
    for _ in range(MAX_BISECTION):
        lo, hi = state["lo"], state["hi"]
        if value == 0.0 or state["at_jump"]:
            converged = True
            break
        nxt = sigma - value / slope if slope < 0.0 else math.inf
        # A step within rounding: the root, unless the sum is still off by more than a jump
        # there (a load limit - rate sigma that cancels): then the bracket narrows on.
        tiny = abs(nxt - sigma) <= 4.0 * EPS * sigma
        if tiny and (abs(value) <= JUMP_TOLERANCE or not state["have_lo"]
                     or not math.isfinite(hi)):
            converged = True
            break
        if tiny or not (lo < nxt < hi) or abs(nxt - sigma) > 0.5 * step_before:
            if not state["have_lo"]:  # no point at or above 1 yet: whether T is feasible at all
                nxt = 0.0
            elif not math.isfinite(hi):
                nxt = 2.0 * sigma
            elif state["next_cut_lo"] < hi and state["next_cut_lo"] >= state["prev_cut_hi"]:
                nxt = state["next_cut_lo"]  # the one cut inside the bracket
            else:
                fallbacks += 1
                if fallbacks % 2 == 1:
                    value_lo, value_hi = state["value_lo"], state["value_hi"]
                    nxt = lo + value_lo / (value_lo - value_hi) * (hi - lo)
                else:
                    nxt = lo + 0.5 * (hi - lo)
            if state["have_lo"] and not (lo < nxt < hi):
                nxt = lo + 0.5 * (hi - lo)
        if state["have_lo"] and not (lo < nxt < hi):  # the bracket is down to rounding
            converged = True
            break
        step_before, step = step, abs(nxt - sigma)
        sigma = nxt
        _, _, value, slope, next_cut, prev_cut, drop = loads_at_price(inst, prep, sigma)
        if sigma == 0.0 and not value > 0.0:
            return infeasible
        record()
        if abs(value) <= 4.0 * EPS:
            converged = True
            break
    lo, hi = state["lo"], state["hi"]
    # Without fixed costs the sum is continuous in sigma and the last point is the root up to
    # rounding; with them the root can lie at a jump, and then the lo side is taken and trimmed.
    # A last point well below the root is never scaled up: where the sum falls from above 1 to
    # far below it within the resolution of sigma (near-tied, communication-bound workers), its
    # loads may all be zero; the lo side, at or above 1, is scaled down instead.
    surplus = value
    if state["have_lo"] and (value < -JUMP_TOLERANCE
                             or (any_fixed and not abs(value) <= JUMP_TOLERANCE)):
        surplus, sigma = state["value_lo"], lo
    if state["at_jump"]:
        hi = float(np.nextafter(lo, math.inf))
    x, z = loads_at_price(inst, prep, sigma)[:2]
    if any_fixed and surplus > 4.0 * EPS and math.isfinite(hi):
        x_hi = loads_at_price(inst, prep, hi)[0]
        for n in range(inst.n_groups):
            if surplus <= 0.0:
                break
            if x[n] > 0.0 and x_hi[n] == 0.0:  # jumped in between lo and hi
                cut = min(surplus, x[n])
                x[n] -= cut
                z[n] += cut
                surplus -= cut
    if surplus != 0.0:  # x <- x / (1 + surplus), keeping the slack exact
        z += x * surplus / (1.0 + surplus)
        x /= 1.0 + surplus
    if with_sums:
        sums = outer_sums(inst, T, x, z)
        return sums[0], x, converged, sigma, sums
    return group_bandwidth(inst, T, x, z), x, converged, sigma, None


def min_bandwidth(inst: Instance, T: float, previous: Prepared | None = None):
    """The inner level of the nested bisection: the price search from sigma = 0 inside
    [0, sigma_hi], beyond which no group takes load. Returns (needed, x, converged, the
    prepared T); `previous`: the T prepared before (see prepare)."""
    u = T - inst.tau
    possible = inst.group_reduce(np.minimum, u) > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        marginal0 = inst.group_reduce(np.add, (inst.a * u + inst.e * inst.f) / (u * u))
        sigma_hi = float(np.max(np.where(possible, 1.0 / np.sqrt(marginal0), 0.0)))
    prep = prepare(inst, T, previous)
    needed, x, converged, _, _ = price_search(inst, prep, 0.0, sigma_hi)
    return needed, x, converged, prep


def round_loads(inst: Instance, x: np.ndarray, L: float, s: np.ndarray,
                r: np.ndarray) -> np.ndarray:
    """Integer loads from shares x at fixed rates s, r (docs/algorithms.md 3.6)."""
    floors = np.nan_to_num(np.clip(np.floor(x * L), 0.0, L)).astype(np.int64)
    return round_to_total(floors, int(L), lambda n, m: group_latency(inst, n, s, r, m / L))


def equal_loads(N: int, L: float) -> np.ndarray:
    total = int(L)
    return np.array([total // N + (1 if n < total % N else 0) for n in range(N)], dtype=np.int64)


def joint(inst: Instance, L: float, tol: float):
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


# Screening (docs/algorithms.md 3.5.2): the Newton method solves a few candidate groups, then
# verifies the others at the latency and price it found.
SCREEN_MIN = 128  # groups; fewer are solved whole
SCREEN_ROUNDS = 4  # then the whole instance is solved
SCREEN_SAMPLE = 1024  # keys read to place the first candidates' cut-off
SCREEN_LOOSE = 1.0 + 1e-9  # the test on every member only sorts out: loosened against rounding


def take_groups(beta, compute, alpha, tau, group, N, groups):
    """The workers of `groups` (ascending ids) as an instance of their own: (their ids, beta,
    compute, alpha, tau, group ids renumbered in the order of `groups` or None)."""
    if group is None:
        workers, sub_group = groups, None
    else:
        slot = np.full(N, -1, dtype=np.int64)
        slot[groups] = np.arange(groups.size)
        workers = np.flatnonzero(slot[group] >= 0)
        sub_group = slot[group[workers]]
    return (workers, beta[workers], compute[workers],
            None if alpha is None else alpha[workers], None if tau is None else tau[workers],
            sub_group)


def screen_violators(beta, compute, alpha, tau, group, N, params, bandwidth, in_c, size, at):
    """The groups outside the candidates (in_c) that take load at the price sigma of the latency
    T, for each (T, sigma) of `at` (ascending ids): a test on every member first, rho_k(0) > sigma,
    that is (L / B) sigma^2 (beta_k u_k + compute_k alpha_k) < u_k^2 (u_k = T - tau_k > 0; a group
    has load only if each member passes it), then the cut of the few that pass (prepare on their
    own instance). None when a (T, sigma) cannot be read."""
    for T, sigma in at:
        if not (T > 0.0 and math.isfinite(T) and sigma > 0.0 and math.isfinite(sigma)):
            return None
    LB = params / bandwidth
    t = 0.0 if tau is None else tau
    c = 0.0 if alpha is None else compute * alpha
    hit = np.zeros(beta.size, dtype=bool)
    for T, sigma in (at[0], at[-1]):
        q = LB * sigma * sigma
        u = T - t
        hit |= (u > 0.0) & (q * (beta * u + c) < u * u * SCREEN_LOOSE)
    if group is None:
        passing = np.flatnonzero(hit & ~in_c)
    else:
        passing = np.flatnonzero((np.bincount(group[hit], minlength=N) == size) & ~in_c)
    if not passing.size:
        return passing
    _, b, e, a, ta, g = take_groups(beta, compute, alpha, tau, group, N, passing)
    K = b.size
    inst = normalise(b, e, np.zeros(K) if a is None else a, np.zeros(K) if ta is None else ta,
                     np.arange(K) if g is None else g, passing.size, params, bandwidth)
    on = np.zeros(passing.size, dtype=bool)
    prep = None
    for T, sigma in at:
        prep = prepare(inst, T, prep)
        on |= takes_load(inst, prep, sigma)[0]
    return passing[on]


def screened_newton(beta, compute, alpha, tau, group, N, params, bandwidth):
    """The Newton method on the candidate groups, verified on the others; None where the whole
    instance is to be solved instead. The first candidates: the groups whose key (beta, or the
    sum of the members' beta) is at most the first-th smallest, first = 64 + 2 ceil(sqrt(N)), or
    32 + ceil(sqrt(N)) with groups of several members (N < K), of every key or of every stride-th
    key beyond SCREEN_SAMPLE groups (at the same quantile)."""
    fixed = alpha is not None and bool(np.any(alpha > 0.0))
    if group is None:
        keys, size = beta, None
    else:
        keys = np.bincount(group, weights=beta, minlength=N)
        size = np.bincount(group, minlength=N)
    root = math.ceil(math.sqrt(N))
    first = 32 + root if N < beta.size else 64 + 2 * root  # groups of several members cost more
    if first >= N:
        return None
    stride, rank = 1, first - 1
    if N > SCREEN_SAMPLE:
        stride = N // (SCREEN_SAMPLE // 2)
    count = N // stride
    if stride > 1:
        rank = first * count // N
    cutoff = float(np.partition(keys[: count * stride : stride], rank)[rank])
    in_c = keys <= cutoff
    iterations = 0
    for _ in range(SCREEN_ROUNDS):
        candidates = np.flatnonzero(in_c)
        if candidates.size >= N:
            return None
        workers, *sub = take_groups(beta, compute, alpha, tau, group, N, candidates)
        report = NewtonReport(fixed=fixed)
        r = allocate_general("joint", *sub[:4], sub[4], candidates.size, params, bandwidth,
                             None, None, 1e-9, "newton", report)
        if r is None or r["status"] == STATUS_INFEASIBLE:
            return None
        iterations += r["iterations"]
        at = [(report.T, report.sigma)] + ([(report.T_c, report.sigma_c)] if fixed else [])
        found = screen_violators(beta, compute, alpha, tau, group, N, params, bandwidth, in_c,
                                 size, at)
        if found is None:
            return None
        if not found.size:
            K = beta.size
            loads = np.zeros(N, dtype=np.int64)
            relaxed = np.zeros(N)
            bandwidth_out = np.zeros(K)
            worker_latency = np.zeros(K)
            loads[candidates] = r["loads"]
            relaxed[candidates] = r["relaxed_loads"]
            bandwidth_out[workers] = r["bandwidth"]
            worker_latency[workers] = r["worker_latency"]
            return {**r, "loads": loads, "relaxed_loads": relaxed, "bandwidth": bandwidth_out,
                    "worker_latency": worker_latency, "iterations": iterations}
        in_c[found] = True
    return None


def evaluate(beta, compute, alpha, tau, group, n_groups, loads, bandwidth):
    """Per-worker latencies (seconds) of loads (parameters per group) and bandwidth (Hz); alpha,
    tau and group may be None (zero; one worker per group)."""
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    load = vector("loads", loads, np.float64, n_groups)
    bandwidth = vector("bandwidth", bandwidth, np.float64, beta.size)
    return latency_of(beta, compute, alpha, tau, load if group is None else load[group],
                      bandwidth)
def allocate(scheme, beta, compute, alpha, tau, group, n_groups, params, bandwidth,
             loads_in=None, bandwidth_in=None, tol=1e-9, method="auto", previous_loads=None,
             exact_passes=NEWTON_PASSES, screen=True):
    """Solve one instance; returns a dict with the fields of the native result. alpha, tau and
    group may be None (zero; one worker per group). Checks a direct call as the native binding
    does, with its messages. screen (tests only): False solves a Newton instance whole."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    check_scalars(params, bandwidth)
    if not (isinstance(tol, numbers.Real) and 0.0 < tol < 1.0):
        raise ValueError("tol: must be in (0, 1)")
    if loads_in is not None:
        loads_in = vector("loads", loads_in, np.int64, n_groups)
        if np.any(loads_in < 0):
            raise ValueError("loads: entries must be non-negative")
        if np.any(loads_in > params) or int(loads_in.sum()) != params:
            raise ValueError("loads: must sum to params")
    if bandwidth_in is not None:
        bandwidth_in = vector("bandwidth", bandwidth_in, np.float64, beta.size)
        if not np.all(np.isfinite(bandwidth_in) & (bandwidth_in >= 0)):
            raise ValueError("bandwidth: entries must be non-negative and finite")
        if bandwidth_in.sum() > bandwidth * (1 + 1e-9):
            raise ValueError("bandwidth: sums to more than the pool")
    if previous_loads is not None:
        previous_loads = vector("previous", previous_loads, np.int64, n_groups)
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
    used = None
    if scheme == "joint":
        exact = method in ("auto", "exact") and exact_applies(beta, alpha, tau, group, n_groups)
        if method == "exact" and not exact:
            raise ValueError(
                "method: 'exact' needs one worker per group and alpha = tau = 0 (use 'auto')")
        if exact:
            if exact_passes < 1:
                raise ValueError("exact_passes: must be at least 1")
            return allocate_exact(beta, compute, params, bandwidth, previous_loads, exact_passes)
        used = "bisection" if method == "bisection" else "newton"
        if used == "newton" and screen and n_groups >= SCREEN_MIN:
            screened = screened_newton(beta, compute, alpha, tau, group, n_groups, params,
                                       bandwidth)
            if screened is not None:
                return screened
    return allocate_general(scheme, beta, compute, alpha, tau, group, n_groups, params, bandwidth,
                            loads_in, bandwidth_in, tol, used)


def allocate_general(scheme, beta, compute, alpha, tau, group, n_groups, params, bandwidth,
                     loads_in, bandwidth_in, tol, used, report: NewtonReport | None = None):
    """allocate past its checks and its choice of method; with a report (a screened instance),
    None where the Newton solve was not plain."""
    K = beta.size
    alpha = np.zeros(K) if alpha is None else alpha
    tau = np.zeros(K) if tau is None else tau
    group = np.arange(K) if group is None else group
    inst = normalise(beta, compute, alpha, tau, group, n_groups, params, bandwidth)
    K, N, L, B = inst.n_workers, n_groups, float(params), float(bandwidth)
    iterations, converged = 0, True

    # Relaxed loads x (shares), their bandwidth b (shares) and the integer loads.
    if scheme == "equal":
        x = np.full(N, 1.0 / N)
        loads = equal_loads(N, L)
    elif scheme == "bandwidth_aware":
        b = np.full(K, 1.0 / K) if bandwidth_in is None else np.asarray(bandwidth_in) / B
        s, r = rates(inst, b)
        T, x, iterations, converged = fixed_rate_loads(inst, s, r)
        if not np.isfinite(T):
            return {"status": STATUS_INFEASIBLE}
        loads = round_loads(inst, x, L, s, r)
    elif scheme == "parameter_aware":
        loads = (equal_loads(N, L) if loads_in is None
                 else np.asarray(loads_in, dtype=np.int64).copy())
        x = loads / L
        _, b, _, converged = parameter_aware(inst, x)
    elif scheme == "sequential":
        s, r = rates(inst, np.full(K, 1.0 / K))
        _, x, iterations, converged = fixed_rate_loads(inst, s, r)
        loads = round_loads(inst, x, L, s, r)
        _, b, _, pa_converged = parameter_aware(inst, x)
        converged = converged and pa_converged
    elif scheme == "joint":
        if used == "bisection":
            _, x, iterations, converged = joint(inst, L, tol)
        else:
            _, x, iterations, converged = joint_newton(inst, L, report)
            if report is not None and not report.plain:
                return None
        _, b, _, pa_converged = parameter_aware(inst, x)
        converged = converged and pa_converged
        loads = round_loads(inst, x, L, *rates(inst, b))
    else:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")

    # Bandwidth in Hz; a given or equal split is returned exactly, not as a round trip through
    # shares.
    if scheme == "equal" or (scheme == "bandwidth_aware" and bandwidth_in is None):
        bandwidth_out = np.full(K, B / K)
    elif scheme == "bandwidth_aware":
        bandwidth_out = np.array(bandwidth_in, dtype=np.float64)
    else:
        bandwidth_out = b * B
    relaxed_loads = loads.astype(np.float64) if scheme == "parameter_aware" else x * L
    relaxed_latency = evaluate(beta, compute, alpha, tau, group, N, relaxed_loads, bandwidth_out)[0]

    # Schemes that choose bandwidth re-balance it for the integer loads, so that every loaded
    # worker still finishes together.
    if scheme in ("sequential", "joint"):
        _, b, _, pa_converged = parameter_aware(inst, loads / L)
        converged = converged and pa_converged
        bandwidth_out = b * B
    latency, worker_latency = evaluate(beta, compute, alpha, tau, group, N, loads, bandwidth_out)
    return result(loads, relaxed_loads, bandwidth_out, worker_latency, latency, relaxed_latency,
                  iterations, converged, used)
