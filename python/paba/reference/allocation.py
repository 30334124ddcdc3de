"""NumPy reference twin of ``src/pabacore/allocation.cpp``.

Written for clarity, straight from docs/algorithms.md section 3, with the same algorithms,
iteration rules and tie-breaks as the native kernels, so the two can be compared result for
result. Its entry points (``allocate``, ``allocate_batch``, ``evaluate``) check a direct call as the
native binding does (sizes, groups, scalars; :func:`check_call`), with the same ValueErrors naming
the argument. Everything works in normalised units (see :func:`normalise`):

    x_n = L_n / L          share of the model in block n (shares sum to 1)
    b_k = B_k / B          share of the bandwidth pool of worker k (shares sum to at most 1)
    a_k = beta_k L / B     seconds to move the whole model over the whole pool
    e_k = c_k L            seconds to compute the whole model
    f_k = alpha_k / B      seconds of fixed communication over the whole pool
    T_k = x_n (a_k / b_k + e_k) + f_k / b_k + tau_k
"""

from __future__ import annotations

import heapq
import math
import numbers
from dataclasses import dataclass

import numpy as np

EPS = np.finfo(np.float64).eps
MAX_NEWTON = 200
MAX_BISECTION = 400
BUDGET_MARGIN = 1e-12
JUMP_TOLERANCE = 1e-9  # a gap in sum_n x_n(sigma) wider than this is a jump
TRUST_LOADS = 1e-10  # Newton's loads may end above its T by this, relative
FALLBACK_TOL = 1e-12  # tol of the bisection that replaces untrusted loads

STATUS_OK = 0
STATUS_NOT_CONVERGED = 1
STATUS_INFEASIBLE = 2

SCHEMES = ("equal", "bandwidth_aware", "parameter_aware", "sequential", "joint")


@dataclass
class Instance:
    """A normalised instance; groups as compressed rows (members of group n:
    member[offset[n]:offset[n+1]])."""

    a: np.ndarray
    e: np.ndarray
    f: np.ndarray
    tau: np.ndarray
    group: np.ndarray
    offset: np.ndarray
    member: np.ndarray
    n_groups: int

    @property
    def n_workers(self) -> int:
        return self.a.size

    def members(self, n: int) -> np.ndarray:
        return self.member[self.offset[n] : self.offset[n + 1]]

    def group_reduce(self, ufunc, values: np.ndarray) -> np.ndarray:
        """Reduce a per-worker array over each group's members (groups are never empty)."""
        return ufunc.reduceat(values[self.member], self.offset[:-1])


def check_ranges(a, e, f=None, tau=None) -> None:
    """The normalised seconds must lie in [1e-80, 1e80] (alpha / B and tau in [0, 1e80]), as the
    native normalise() checks them, with its messages (first offending worker, beta before
    compute, before alpha, before tau)."""
    rules = [(a, 1e-80, "beta: beta * params / bandwidth must lie in [1e-80, 1e80] seconds"),
             (e, 1e-80, "compute: compute * params must lie in [1e-80, 1e80] seconds")]
    if f is not None:
        rules.append((f, 0.0, "alpha: alpha / bandwidth must lie in [0, 1e80] seconds"))
    if tau is not None:
        rules.append((tau, 0.0, "tau: must lie in [0, 1e80] seconds"))
    bad = [~((values >= low) & (values <= 1e80)) for values, low, _ in rules]
    first = min((int(np.argmax(mask)), i) for i, mask in enumerate(bad) if mask.any()) \
        if any(mask.any() for mask in bad) else None
    if first is not None:
        raise ValueError(rules[first[1]][2])


def normalise(beta, compute, alpha, tau, group, n_groups, params, bandwidth) -> Instance:
    L, B = float(params), float(bandwidth)
    with np.errstate(over="ignore", under="ignore"):  # out of range is reported below
        check_ranges(beta * L / B, compute * L, alpha / B, tau)
    group = np.asarray(group, dtype=np.int64)
    counts = np.bincount(group, minlength=n_groups)
    offset = np.concatenate(([0], np.cumsum(counts)))
    member = np.argsort(group, kind="stable")
    return Instance(
        a=beta * L / B,
        e=compute * L,
        f=alpha / B,
        tau=np.array(tau, dtype=np.float64),
        group=group,
        offset=offset,
        member=member,
        n_groups=n_groups,
    )


# ---------------------------------------------------------------------------------------------
# Parameter-aware bandwidth allocation (docs/algorithms.md 3.3)


def parameter_aware(inst: Instance, x: np.ndarray,
                    start: float = 0.0) -> tuple[float, np.ndarray, int, bool]:
    """All loaded workers finish together at the root T of sum_k b_k(T) = 1.

    b_k(T) = num_k / (T - d_k), num_k = f_k + a_k x_n, d_k = tau_k + e_k x_n. The search runs on
    the slack z = T - max_k d_k, which keeps its relative precision when T - max d is below the
    resolution of T. The steps are Newton steps on 1 / S(z) - 1, S(z) = sum_k num_k / (z + gap_k),
    which is concave and increasing: from a point with S >= 1 they move right monotonically
    towards the root, growing z by about S times its gap where S >> 1. `start` is an optional
    guess of T (from a nearby solution): from the right of the root one step lands left of it.
    Returns (T, b, iterations, converged).
    """
    xk = x[inst.group]
    active = xk > 0
    num = (inst.f + inst.a * xk)[active]
    d = (inst.tau + inst.e * xk)[active]
    dmax = d.max()
    gap = dmax - d

    def F(z):
        q = num / (z + gap)
        return q.sum() - 1.0, (q / (z + gap)).sum()

    iterations = 0
    hi = num.sum()
    z = 0.0
    guess = start - dmax
    if 0.0 < guess < hi:
        value, slope = F(guess)
        iterations += 1
        if value >= 0.0:
            z = guess
        else:
            hi = guess
            nxt = guess + (value + 1.0) * value / slope
            if nxt > 0.0:
                z = nxt
    if not z > 0.0:
        z = min(hi - gap.max(), hi)
    if not z > 0.0:
        z = 0.5 * hi
        while F(z)[0] < 0.0 and iterations < MAX_BISECTION:
            hi = z
            z = 0.5 * hi
            iterations += 1
    converged = False
    for _ in range(MAX_NEWTON):
        iterations += 1
        value, slope = F(z)
        if value <= 0.0:
            converged = True
            break
        step = (value + 1.0) * value / slope
        nxt = z + step
        if not nxt < hi:
            nxt = z + 0.5 * (hi - z)
        if not nxt > z or step <= 4.0 * EPS * z:
            z = max(z, nxt)
            converged = True
            break
        z = nxt
    b = np.zeros(inst.n_workers)
    b[active] = num / (z + gap)
    total = b.sum()
    if total > 1.0 - BUDGET_MARGIN:  # keep the budget strict under rounding
        b *= (1.0 - BUDGET_MARGIN) / total
    return dmax + z, b, iterations, converged


# ---------------------------------------------------------------------------------------------
# Loads at fixed per-worker rates (docs/algorithms.md 3.2)


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


def rates(inst: Instance, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per unit load s_k = a_k / b_k + e_k and fixed seconds r_k = f_k / b_k + tau_k."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(b > 0, inst.a / b + inst.e, np.inf)
        r = np.where(b > 0, inst.f / b + inst.tau, 0.0)
    return s, r


# ---------------------------------------------------------------------------------------------
# Joint scheme, inner level (docs/algorithms.md 3.5): least bandwidth that carries the model by T


def group_sums(inst: Instance, n: int, T: float, U: float, z: float) -> tuple[float, float, float]:
    """G_n, G_n' and G_n'' of group n at the load x = U - z (U = U_n at this T), with every
    y_k = u_k - e_k x formed from the slack as e_k (g_k + z), g_k = u_k / e_k - U."""
    ks = inst.members(n)
    a, e, f = inst.a[ks], inst.e[ks], inst.f[ks]
    u = T - inst.tau[ks]
    w = a * u + e * f
    y = e * ((u / e - U) + z)
    return (float(((f + a * (U - z)) / y).sum()), float((w / (y * y)).sum()),
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
        _, g1, g2 = group_sums(inst, n, T, U, z)
        # Newton on rho(x) = sigma: x <- x + 2 G' (1 - sigma sqrt(G')) / G'' (a step left).
        step = 2.0 * g1 * (1.0 - sigma * math.sqrt(g1)) / g2
        if not step < 0.0 or -step <= 4.0 * EPS * z:
            break
        z = z - step if z - step < U else z + 0.5 * (U - z)
    return U - z, z, -2.0 * g1 * math.sqrt(g1) / g2


def participation_threshold(inst: Instance, n: int, T: float) -> float:
    """Least load x*_n at which group n is worth its fixed costs.

    With f > 0 a group's bandwidth jumps from 0 to A_n = sum_k f_k / u_k as soon as it takes any
    load. The convex envelope of that cost is the chord from the origin touching G_n at x*_n,
    where x G_n'(x) = G_n(x); on the envelope a group gets no load or at least x*_n. Without fixed
    costs x*_n = 0. H(x) = x G'(x) - G(x) is increasing and convex on [0, U_n), H(0) = -A_n:
    safeguarded Newton steps find its root. inf when a member cannot finish by T.
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
        a, e, f, u1 = float(inst.a[ks[0]]), float(inst.e[ks[0]]), float(inst.f[ks[0]]), float(u[0])
        ef = e * f
        return f * u1 / (ef + math.sqrt(ef * ef + a * ef * u1))
    U = (u / inst.e[ks]).min()
    lo, hi, x = 0.0, U, 0.5 * U
    for _ in range(MAX_NEWTON):
        G, G1, G2 = group_sums(inst, n, T, U, U - x)
        H = x * G1 - G
        if H > 0.0:
            hi = x
        else:
            lo = x
        nxt = x - H / (x * G2)
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
    load at sigma is limit - rate sigma)."""

    T: float
    threshold: np.ndarray
    cut: np.ndarray
    single: np.ndarray
    several: np.ndarray
    limit: np.ndarray
    rate: np.ndarray


def prepare(inst: Instance, T: float) -> Prepared:
    any_fixed = bool(np.any(inst.f > 0.0))
    threshold = (np.array([participation_threshold(inst, n, T) for n in range(inst.n_groups)])
                 if any_fixed else np.zeros(inst.n_groups))
    cut = np.zeros(inst.n_groups)
    sizes = np.diff(inst.offset)
    single = np.flatnonzero(sizes == 1)
    several = np.flatnonzero(sizes > 1)
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
            cut[n] = -1.0
            continue
        U = (un / inst.e[ks]).min()
        least = threshold[n]
        if not least < U:
            cut[n] = -1.0
        elif least > 0.0:  # rho_n at the threshold
            cut[n] = 1.0 / math.sqrt(group_sums(inst, int(n), T, U, U - least)[1])
        else:  # rho_n(0), as group_at_price tests it
            marginal0 = float(((inst.a[ks] * un + inst.e[ks] * inst.f[ks]) / (un * un)).sum())
            cut[n] = 1.0 / math.sqrt(marginal0)
    return Prepared(T, threshold, cut, single, several, limit, rate)


def loads_at_price(inst: Instance, prep: Prepared, sigma: float):
    """One pass of the price search at sigma: loads x_n, slacks z_n = U_n - x_n, and the sums
    (value = sum x - 1, slope = d sum / d sigma, next_cut: least cut of a loaded group,
    prev_cut: largest cut of a group without load, drop: the load that leaves just past
    sigma)."""
    T = prep.T
    x = np.zeros(inst.n_groups)
    z = np.zeros(inst.n_groups)
    slope = np.zeros(inst.n_groups)
    jumps = prep.threshold > 0.0
    on = (sigma < prep.cut) | (jumps & (sigma == prep.cut))
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
        b = (f + a * (U - z[n])) / y
        w2 = w / (y * y)
        G += float(b.sum())
        Q += float((b / y).sum())
        G1 = float(w2.sum())
        G2 = float((2.0 * w2 * e / y).sum())
        G1T = float((a / (y * y) - 2.0 * w2 / y).sum())
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


def min_bandwidth(inst: Instance, T: float) -> tuple[float, np.ndarray, bool]:
    """The inner level of the nested bisection: the price search from sigma = 0 inside
    [0, sigma_hi], beyond which no group takes load."""
    u = T - inst.tau
    possible = inst.group_reduce(np.minimum, u) > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        marginal0 = inst.group_reduce(np.add, (inst.a * u + inst.e * inst.f) / (u * u))
        sigma_hi = float(np.max(np.where(possible, 1.0 / np.sqrt(marginal0), 0.0)))
    needed, x, converged, _, _ = price_search(inst, prepare(inst, T), 0.0, sigma_hi)
    return needed, x, converged


# ---------------------------------------------------------------------------------------------
# Integer loads (docs/algorithms.md 3.6)


def group_latency(inst: Instance, n: int, s: np.ndarray, r: np.ndarray, share: float) -> float:
    ks = inst.members(n)
    return float(np.max(share * s[ks] + r[ks], initial=0.0))


def round_to_total(loads: np.ndarray, total: int, latency) -> np.ndarray:
    """From floors to loads summing to `total`: floors that overshoot give back one parameter at a
    time from the slowest loaded group (ties: lowest id); the remaining parameters go one at a
    time to the group whose latency after one more parameter is smallest (ties: lowest id).
    latency(n, m) is group n's latency with m parameters."""
    loads = loads.copy()
    assigned = int(loads.sum())
    while assigned > total:
        worst = max((n for n in range(loads.size) if loads[n] > 0),
                    key=lambda n: (latency(n, loads[n]), -n))
        loads[worst] -= 1
        assigned -= 1
    if assigned < total:
        heap = [(latency(n, loads[n] + 1), n) for n in range(loads.size)]
        heapq.heapify(heap)
        while assigned < total:
            _, n = heapq.heappop(heap)
            loads[n] += 1
            assigned += 1
            heapq.heappush(heap, (latency(n, loads[n] + 1), n))
    return loads


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
    while hi - lo > tol * hi and iterations < MAX_BISECTION:
        mid = lo + 0.5 * (hi - lo)
        if not (lo < mid < hi):
            break
        iterations += 1
        needed, x, inner_converged = min_bandwidth(inst, mid)
        converged = converged and inner_converged
        if needed <= 1.0:
            hi = mid
            x_best = x
        else:
            lo = mid
    if hi - lo > tol * hi:
        converged = False
    return hi, x_best, iterations, converged


def two_step_start(inst: Instance, L: float):
    """The two-step schemes' allocations, each with its parameter-aware bandwidth: the
    bandwidth-aware loads of an equal split (sequential) and the equal integer split
    (parameter-aware). Returns (T, x) of the better one: the Newton method's start and its
    fixed-cost safeguard (docs/algorithms.md 4)."""
    _, x, _, _ = fixed_rate_loads(inst, *rates(inst, np.full(inst.n_workers, 1.0 / inst.n_workers)))
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
        total += x[n] / math.sqrt(group_sums(inst, n, T, U, U - x[n])[1])
    return total if math.isfinite(total) else 0.0


def joint_newton(inst: Instance, L: float):
    """Safeguarded Newton steps on T (docs/algorithms.md 3.5.1): T' = T + G (G - 1) / Q, a Newton
    step on 1 / G*(T), with each G*(T) from the price search warm-started at the previous price
    moved along the price condition; bisection inside the bracket lo < T* <= hi when a step
    leaves it or is not below half the step before last. Starts at the better two-step
    allocation, and with fixed costs keeps it if it is better. Returns (T, x, iterations,
    converged)."""
    T_start, x_start = two_step_start(inst, L)
    # The start is a feasible latency: it bounds the optimum from above. Where the price search
    # at it finds no participating set that fits the pool (fixed costs), the start is kept.
    T, x_best = T_start, x_start
    lo, hi, step, step_before = 0.0, T_start, math.inf, math.inf
    sigma = price_guess(inst, T, x_best)
    converged, iterations = False, 0
    for _ in range(MAX_BISECTION):
        iterations += 1
        G, x, inner_converged, price, (_, Q, slope, drift) = price_search(
            inst, prepare(inst, T), sigma, math.inf, with_sums=True)
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
    if not parameter_aware(inst, x_best)[0] <= hi * (1.0 + TRUST_LOADS):
        T_found, x_best, more, converged = joint(inst, L, FALLBACK_TOL)
        iterations += more
    # With fixed costs the participating set is chosen by a heuristic, so G* can jump and need
    # not fall monotonically: Newton steps may settle on another crossing of G* = 1 than the
    # bisection's midpoints reach. The nested bisection runs too and the better answer is kept,
    # so this method is never above it; without fixed costs G* is monotone.
    if np.any(inst.f > 0.0):
        T_bisection, x_bisection, more, _ = joint(inst, L, FALLBACK_TOL)
        iterations += more
        if parameter_aware(inst, x_bisection)[0] < parameter_aware(inst, x_best)[0]:
            T_found, x_best = T_bisection, x_bisection
    # With fixed costs the participating set is a heuristic's choice: keep the start if it is
    # better (its latency is exact for its loads).
    if np.any(inst.f > 0.0) and not parameter_aware(inst, x_best)[0] <= T_start:
        x_best = x_start
    return T_found, x_best, iterations, converged


def result(loads, relaxed_loads, bandwidth, worker_latency, latency, relaxed_latency, iterations,
           converged, method) -> dict:
    """The result dict of the native binding's allocate."""
    return {"loads": loads, "bandwidth": bandwidth, "latency": latency,
            "relaxed_latency": relaxed_latency, "relaxed_loads": relaxed_loads,
            "worker_latency": worker_latency, "iterations": iterations,
            "status": STATUS_OK if converged else STATUS_NOT_CONVERGED, "method": method}


# ---------------------------------------------------------------------------------------------
# The exact joint method for the basic model (docs/algorithms.md 3.7)

NEWTON_PASSES = 12


def exact_applies(beta, alpha, tau, group, n_groups) -> bool:
    """One worker per group (worker k in group k) and no fixed costs."""
    K = beta.size
    return (n_groups == K
            and (group is None or bool(np.array_equal(group, np.arange(K))))
            and (alpha is None or not np.any(alpha))
            and (tau is None or not np.any(tau)))


SAMPLE_FROM = 8192  # workers from which the exact method's start is sampled


def sampled_start(d: np.ndarray, w: np.ndarray, stride: int) -> float:
    """A start for large instances: the root on every stride-th worker, each standing for
    `stride` (Newton from the right on the sample)."""
    sample = np.arange(0, d.size, stride)
    share = sample.size / d.size
    delta, previous = np.inf, sample.size + 1
    for _ in range(64):
        active = sample[d[sample] < delta]
        if active.size == 0 or active.size >= previous:
            break
        nxt = (share + (w * d)[active].sum()) / w[active].sum()
        previous, sample = active.size, active
        if not nxt < delta:
            break
        delta = nxt
    return delta


def exact_price(r: np.ndarray, w: np.ndarray, previous_active: np.ndarray | None,
                max_passes: int = NEWTON_PASSES):
    """The root of F(s) = sum_k [r_k (s - r_k)]^+ / e_k = 1 (w = r / e), searched as
    delta = s - min r on the offsets d = r - min r. Each pass reads the candidates at a probe
    delta and gives the Newton point next = (1 + sum w d) / sum w of its active set (never left
    of the root) and the piece of F around delta; next on that piece is the root. Otherwise the
    bracket (lo, hi] narrows and the next probe is a Newton step on log F against log delta when
    it falls inside it, else next. Candidates are the workers with d below hi; a sampled start
    may keep fewer until the first bound confirms them. Returns (r_min, delta, passes, active)."""
    K = r.size
    r_min = r.min()
    d = r - r_min
    r0 = r[0]
    warm = previous_active is not None and w[previous_active].sum() > 0.0
    chosen = previous_active if warm else np.ones(K, dtype=bool)
    delta = (r0 - r_min) + (1.0 + (w * (r - r0))[chosen].sum()) / w[chosen].sum()
    if not delta > 0.0:
        delta = np.inf
    # Any set's Newton point lies right of the root, so the first pass keeps the workers below
    # it; should rounding put it short of the root, the first bound does not confirm it.
    keep = delta
    if K >= SAMPLE_FROM and not warm:
        delta = sampled_start(d, w, min(32, K // 2048))
        keep = 1.5 * delta
    lo, hi = 0.0, np.inf
    candidates = np.arange(K)
    compact = False
    passes = 0
    while passes < max_passes:
        passes += 1
        keep_used = keep if compact else np.inf
        kept = candidates[d[candidates] < keep]
        active = candidates[d[candidates] < delta]
        idle = candidates[d[candidates] >= delta]
        P, Q = w[active].sum(), (w * d)[active].sum()
        nxt = (1.0 + Q) / P
        below = d[active].max()
        above = min(d[idle].min(initial=np.inf), keep_used)
        if below < nxt <= above:  # next is on delta's piece: the root
            return r_min, nxt, passes, kept
        hi = min(hi, nxt)
        if nxt > delta:
            lo = max(lo, delta)
        compact = compact or hi <= keep
        candidates = kept if compact else np.arange(K)
        keep = hi
        probe = nxt
        F = delta * P - Q
        if F > 0.0 and np.isfinite(delta):
            step = delta * math.exp(-math.log(F) * F / (delta * P))
            if lo < step < hi:
                probe = step
        delta = probe
    # Sorted scan of the candidates below hi: the root is on the first prefix whose line
    # reaches 1 before the next d.
    candidates = candidates[d[candidates] < hi]
    order = candidates[np.lexsort((candidates, r[candidates]))]
    P, Q = np.cumsum(w[order]), np.cumsum(w[order] * d[order])
    roots = (1.0 + Q) / P
    nxt = np.append(d[order][1:], np.inf)
    return r_min, float(roots[np.argmax(roots <= nxt)]), passes, candidates


def allocate_exact(beta, compute, params, bandwidth, previous_loads, max_passes=NEWTON_PASSES):
    """The exact method: price, relaxed optimum, integer loads, bandwidth for them (the same steps
    as the native kernel). Returns the result dict."""
    L, B = float(params), float(bandwidth)
    with np.errstate(over="ignore", under="ignore"):  # out of range is reported below
        a, e = beta * L / B, compute * L
    check_ranges(a, e)
    r = np.sqrt(a)
    w = r / e
    r_min, delta, passes, candidates = exact_price(
        r, w, None if previous_loads is None else previous_loads > 0, max_passes)
    d = r - r_min
    active = d < delta
    # Re-anchor the price at the active worker of largest w (as the kernel does): b = w (s - r)
    # multiplies the error of s - r by w, and about r_min that error grows with d.
    members = candidates[d[candidates] < delta]
    heavy = members[np.argmax(w[members])]
    r_star = r[heavy]
    gap_star = (1.0 + (w * (r - r_star))[members].sum()) / w[members].sum()
    s_price = r_star + gap_star
    b = np.where(active, np.maximum(0.0, w * (gap_star - (r - r_star))), 0.0)
    h = np.where(active, b / (r * s_price), 0.0)
    T = 1.0 / h.sum()
    total = b.sum()
    scale = (1.0 - BUDGET_MARGIN) / total if total > 1.0 - BUDGET_MARGIN else 1.0
    bandwidth_out = b * (scale * B)
    relaxed_loads = h * (T * L)
    K = beta.size
    none = np.zeros(K)
    relaxed_latency = evaluate(beta, compute, none, none, np.arange(K), K, relaxed_loads,
                               bandwidth_out)[0]
    with np.errstate(divide="ignore"):
        speed = np.where(bandwidth_out > 0, beta / bandwidth_out + compute, np.inf)
    floors = np.clip(np.floor(relaxed_loads), 0.0, L).astype(np.int64)
    loads = round_to_total(floors, int(L), lambda k, m: float(m) * speed[k])
    inst = Instance(a=a, e=e, f=none, tau=none, group=np.arange(K), offset=np.arange(K + 1),
                    member=np.arange(K), n_groups=K)
    # Bandwidth for the integer loads: the parameter-aware step on the slack, started from the
    # relaxed optimum.
    _, b, _, converged = parameter_aware(inst, loads / L, start=T)
    bandwidth_out = b * B
    latency, worker_latency = evaluate(beta, compute, none, none, np.arange(K), K, loads,
                                       bandwidth_out)
    return result(loads, relaxed_loads, bandwidth_out, worker_latency, latency, relaxed_latency,
                  passes, converged, "exact")


# ---------------------------------------------------------------------------------------------
# Entry points with the signature of the native module


def _vector(name: str, value, dtype, size=None, optional=False):
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


def check_call(beta, compute, alpha, tau, group, n_groups):
    """The checks of the native binding (paba._core) on a direct call, with its messages: sizes,
    the number of groups and the group ids. Returns the arrays as float64/int64."""
    beta = _vector("beta", beta, np.float64)
    K = beta.size
    if K == 0:
        raise ValueError("beta: needs at least one worker")
    compute = _vector("compute", compute, np.float64)
    if compute.size != K:
        raise ValueError("compute: must have one entry per worker (the length of beta)")
    alpha = _vector("alpha", alpha, np.float64, optional=True)
    tau = _vector("tau", tau, np.float64, optional=True)
    for name, values in (("alpha", alpha), ("tau", tau)):
        if values is not None and values.size != K:
            raise ValueError(f"{name}: must have one entry per worker (the length of beta)")
    group = _vector("groups", group, np.int64, optional=True)
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


def check_scalars(params, bandwidth) -> None:
    """params and bandwidth as the kernels check them (paba.hpp, check_scalars)."""
    if not (isinstance(params, numbers.Real) and 1.0 <= params <= 2.0**53
            and float(params) == math.floor(params)):
        raise ValueError("params: must be an integer in [1, 2**53]")
    if not (isinstance(bandwidth, numbers.Real) and 0.0 < bandwidth < math.inf):
        raise ValueError("bandwidth: must be positive and finite")


def evaluate(beta, compute, alpha, tau, group, n_groups, loads, bandwidth):
    """Per-worker latencies (seconds) of loads (parameters per group) and bandwidth (Hz); alpha,
    tau and group may be None (zero; one worker per group)."""
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    load = _vector("loads", loads, np.float64, n_groups)
    bandwidth = _vector("bandwidth", bandwidth, np.float64, beta.size)
    load = load if group is None else load[group]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = load * (beta / bandwidth + compute)
        if alpha is not None:
            t = t + alpha / bandwidth
        if tau is not None:
            t = t + tau
    t = np.where(bandwidth > 0, t, np.inf)
    t = np.where(load > 0, t, 0.0)
    return float(t.max(initial=0.0)), t


METHODS = ("auto", "exact", "bisection", "newton")


def allocate(scheme, beta, compute, alpha, tau, group, n_groups, params, bandwidth,
             loads_in=None, bandwidth_in=None, tol=1e-9, method="auto", previous_loads=None,
             exact_passes=NEWTON_PASSES):
    """Solve one instance; returns a dict with the fields of the native result. alpha, tau and
    group may be None (zero; one worker per group). Checks a direct call as the native binding
    does, with its messages."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    check_scalars(params, bandwidth)
    if not (isinstance(tol, numbers.Real) and 0.0 < tol < 1.0):
        raise ValueError("tol: must be in (0, 1)")
    if loads_in is not None:
        loads_in = _vector("loads", loads_in, np.int64, n_groups)
        if np.any(loads_in < 0):
            raise ValueError("loads: entries must be non-negative")
        if np.any(loads_in > params) or int(loads_in.sum()) != params:
            raise ValueError("loads: must sum to params")
    if bandwidth_in is not None:
        bandwidth_in = _vector("bandwidth", bandwidth_in, np.float64, beta.size)
        if not np.all(np.isfinite(bandwidth_in) & (bandwidth_in >= 0)):
            raise ValueError("bandwidth: entries must be non-negative and finite")
        if bandwidth_in.sum() > bandwidth * (1 + 1e-9):
            raise ValueError("bandwidth: sums to more than the pool")
    if previous_loads is not None:
        previous_loads = _vector("previous", previous_loads, np.int64, n_groups)
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
            _, x, iterations, converged = joint_newton(inst, L)
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


def check_groups(group: np.ndarray, n_groups: int) -> None:
    """Group ids of one batch instance: each in [0, n_groups), every group non-empty (the
    checks and messages of batch.cpp)."""
    if np.any((group < 0) | (group >= n_groups)):
        raise ValueError("groups: an id is out of range (ids must be 0..N-1, N at most the "
                         "instance's workers)")
    if np.unique(group).size != n_groups:
        raise ValueError("groups: a group has no member (ids must be 0..N-1 with every group "
                         "non-empty)")


def allocate_batch(scheme, offsets, beta, compute, alpha, tau, params, bandwidth,
                   previous_loads=None, tol=1e-9, method="auto", n_threads=1, group=None,
                   group_offsets=None):
    """Solve the instances one by one (instance i owns the workers offsets[i]:offsets[i + 1] and,
    with group ids local to each instance, the groups group_offsets[i]:group_offsets[i + 1] of
    the per-group arrays); returns a dict of concatenated arrays, as the native batch does.
    n_threads is ignored."""
    M = offsets.size - 1
    if (group is None) != (group_offsets is None):
        raise ValueError("group_offsets: must be given with group ids, and only then")
    if group_offsets is None:
        group_offsets = offsets
    elif group_offsets[0] != 0:
        raise ValueError("group_offsets: must start at 0")
    else:
        steps, sizes = np.diff(group_offsets), np.diff(offsets)
        bad = np.flatnonzero((steps < 1) | (steps > sizes))
        if bad.size:
            raise ValueError("group_offsets: each instance's number of groups must be in "
                             f"[1, its number of workers] (instance {bad[0]})")
    parts = []
    for i in range(M):
        part = slice(offsets[i], offsets[i + 1])
        groups = slice(group_offsets[i], group_offsets[i + 1])
        N = group_offsets[i + 1] - group_offsets[i]
        try:
            if group is not None:
                check_groups(group[part], N)
            parts.append(allocate(
                scheme, beta[part], compute[part], None if alpha is None else alpha[part],
                None if tau is None else tau[part], None if group is None else group[part],
                int(N), params[i], bandwidth[i], tol=tol, method=method,
                previous_loads=None if previous_loads is None else previous_loads[groups]))
        except ValueError as error:
            raise ValueError(f"{error} (instance {i})") from None
    codes = {None: 0, "exact": 1, "bisection": 2, "newton": 3}
    return {
        **{name: np.concatenate([p[name] for p in parts])
           for name in ("loads", "relaxed_loads", "bandwidth", "worker_latency")},
        **{name: np.array([p[name] for p in parts], dtype=dtype)
           for name, dtype in (("latency", np.float64), ("relaxed_latency", np.float64),
                               ("iterations", np.int64), ("status", np.int32))},
        "method": np.array([codes[p["method"]] for p in parts], dtype=np.int32),
    }
