"""NumPy reference twin of ``src/kernels/price_search.cpp``: the joint scheme's inner level at a
fixed latency T (docs/algorithms.md 3.5), the least bandwidth that carries the whole model, by
KKT and a bracketed search on the price; groups with fixed costs priced on the convex envelope of
their cost (``participation_threshold``). Same iteration rules and tie-breaks as the native file."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np

from .internal import EPS, MAX_BISECTION, MAX_NEWTON, Instance

JUMP_TOLERANCE = 1e-9  # a gap in sum_n x_n(sigma) wider than this is a jump


LAST_STEP = 1e-13  # a threshold's Newton step this small is its last
LOAD_LAST_STEP = 1e-7  # a group's Newton step on its load this small (of its slack) is its last


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
        # G' and G'' at x = U - z, from the reciprocal of each y (one division a member).
        r = 1.0 / (e * (g + z))
        w2 = w * r * r
        g1, g2 = float(w2.sum()), float((2.0 * w2 * e * r).sum())
        # Newton on rho(x) = sigma: x <- x + 2 G' (1 - sigma sqrt(G')) / G'' (a step left).
        step = 2.0 * g1 * (1.0 - sigma * math.sqrt(g1)) / g2
        if not step < 0.0 or -step <= 4.0 * EPS * z:
            break
        nxt = z - step
        # Quadratic convergence from the right: a step below LOAD_LAST_STEP of z is the last.
        if nxt < U and -step <= LOAD_LAST_STEP * z:
            z = nxt
            break
        z = nxt if nxt < U else z + 0.5 * (U - z)
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
                                  float(uk)) for k, uk in zip(ks, u, strict=True)]
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


def prepare(inst: Instance, T: float, previous: Prepared | None = None,
            forced: tuple[tuple[int, int], ...] = ()) -> Prepared:
    """The groups' data at T; the thresholds of groups of several members start from their
    values in `previous` (the T prepared before), as the native InnerWork keeps them. `forced`:
    the groups whose participation a branch of the certificate settles (newton.py), as
    (group, side) pairs: side +1 takes part at its own cost (threshold 0, its load falling
    continuously to 0 at rho_n(0)), -1 takes no load at any price."""
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
    for group, side in forced:
        g = int(group)
        c = -1.0
        if side > 0 and cut[g] >= 0.0:
            threshold[g] = 0.0
            if sizes[g] == 1:
                i = int(np.searchsorted(single, g))
                c = float(limit[i] / rate[i])  # rho_n(0)
            else:
                c = float(cut[g])  # rho_n(0), set above
        lazy[g], cut[g] = False, c
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


Pass = tuple[np.ndarray, np.ndarray, float, float, float, float, float]
#: (G, Q, slope, drift): the outer Newton step's sums (outer_sums)
Sums = tuple[float, float, float, float]


def loads_at_price(inst: Instance, prep: Prepared, sigma: float) -> Pass:
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


def outer_sums(inst: Instance, T: float, x: np.ndarray, z: np.ndarray) -> Sums:
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


@overload
def price_search(inst: Instance, prep: Prepared, sigma: float, hi: float,
                 with_sums: Literal[True]) -> tuple[float, np.ndarray, bool, float, Sums]: ...
@overload
def price_search(inst: Instance, prep: Prepared, sigma: float, hi: float,
                 with_sums: Literal[False] = ...
                 ) -> tuple[float, np.ndarray, bool, float, Sums | None]: ...
def price_search(inst: Instance, prep: Prepared, sigma: float, hi: float,
                 with_sums: bool = False) -> tuple[float, np.ndarray, bool, float, Sums | None]:
    """Least bandwidth share that carries the whole model by T, its loads, convergence, the
    price found and (with_sums) the outer step's sums.

    Solves sum_n x_n(sigma) = 1 (decreasing, with downward jumps at the cuts of groups with
    thresholds) inside a bracket [lo, hi] (sum >= 1 at lo, < 1 at hi; hi may be infinite) from
    `sigma` (0 or a warm start): Newton steps; where one leaves the bracket or is not below half
    the step before last, the one cut inside the bracket when there is exactly one, else a secant
    point and a bisection in turn. The root lies at a jump when the sum at lo is at least 1 and
    falls below 1 just past lo. Then the bandwidth of the loads found (or the lo side's, when the
    root is at a jump: the groups that jumped give back the excess), scaled to sum to exactly 1.
    (The native search saves two passes that change no result: passes after one within 1e-3 of
    the root write their loads, which the end then reuses when it takes that point, and the
    loads at hi are read only for the groups the trimming reaches.)
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

    def record() -> None:
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


def min_bandwidth(inst: Instance, T: float, previous: Prepared | None = None
                  ) -> tuple[float, np.ndarray, bool, Prepared]:
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
