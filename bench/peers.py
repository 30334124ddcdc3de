"""The benchmark instances and the peers a user would otherwise run, shared by bench/compare.py
and the pytest-benchmark files in bench/.

Instances:

- ``instance(K)``: one static cell of K workers (one worker per group, alpha = tau = 0, so the
  exact joint method applies); ``basic_arrays(K)``: its inputs as fresh NumPy arrays, for
  end-to-end timings that build the System themselves.
- ``general_instance(K, groups)``: the same kind of cell with fixed communication (alpha) and a
  fixed overhead (tau), and either one worker per group or groups of 1 to 10 members.

Peers, each the strongest thing a user would write instead of calling paba:

- ``numpy_floor``: the practical floor of any joint solver, one NumPy pass that reads both inputs
  and takes one square root per worker.
- ``numpy_basic_joint``: the basic joint problem in NumPy, the closed form after a sort and two
  cumulative sums (docs/algorithms.md 3.7).
- ``numpy_general_joint``: the general joint problem (groups, alpha, tau) in vectorised NumPy: the
  least bandwidth that carries the model by T with paba's participation rule (docs/algorithms.md
  3.5 and 4), and Newton steps on T.
- ``cvxpy_joint_latency`` and ``cvxpy_general_latency``: cvxpy with Clarabel, the general-solver
  peers, for the basic model (one convex problem) and for the general one (a convex problem at
  each T of a bisection).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

import paba

#: Model size (parameters), pool (Hz) and seed of every benchmark instance.
PARAMS = 10**8
BANDWIDTH = 10e6
SEED = 0

#: The general instances: model size (parameters), fixed bits per direction (log-uniform range)
#: and fixed overhead (seconds, uniform range). With a model of 10^6 parameters an iteration
#: takes about half a second, so a few kbit of side information and a few ms of overhead raise
#: the optimal latency by 2 to 3% and take a third of the basic model's workers out of the
#: optimum: they matter, without dominating.
GENERAL_PARAMS = 10**6
SIDE_BITS = (2e3, 8e3)
TAU_S = (0.0, 0.01)
#: Group sizes of the grouped general instances: 1 + Binomial(9, 2/9), so 1 to 10 members and 3
#: on average.
GROUP_SIZE_TRIALS, GROUP_SIZE_P = 9, 2.0 / 9.0


def instance(n_workers: int) -> paba.System:
    """``paba.static_cell(n_workers, params=PARAMS, bandwidth=BANDWIDTH, seed=SEED)``."""
    return paba.static_cell(n_workers, params=PARAMS, bandwidth=BANDWIDTH, seed=SEED)


def basic_arrays(n_workers: int):
    """(beta, compute, params, bandwidth) of ``instance(n_workers)``, with beta and compute as
    fresh, writeable float64 arrays: the inputs of an end-to-end call that builds its own
    System."""
    system = instance(n_workers)
    return system.beta.copy(), system.compute.copy(), system.params, system.bandwidth


def general_instance(n_workers: int, groups: bool, seed: int = SEED) -> paba.System:
    """A static cell of ``n_workers`` workers with fixed costs: ``paba.static_cell(n_workers,
    params=GENERAL_PARAMS, bandwidth=BANDWIDTH, seed=seed)`` plus, drawn with the seed,

    - alpha_k = s_k (1/e_down + 1/e_up) = s_k beta_k / q: s_k bits of side information each way,
      log-uniform in SIDE_BITS (q = 32 bits per parameter);
    - tau_k uniform in TAU_S seconds;
    - with ``groups``, consecutive workers (the cell's positions are drawn independently, so
      consecutive is random) in groups of 1 + Binomial(9, 2/9) members: 1 to 10, 3 on average;
      otherwise one worker per group.
    """
    cell = paba.static_cell(n_workers, params=GENERAL_PARAMS, bandwidth=BANDWIDTH, seed=seed)
    rng = np.random.default_rng([seed, n_workers])
    side_bits = np.exp(rng.uniform(math.log(SIDE_BITS[0]), math.log(SIDE_BITS[1]), n_workers))
    alpha = side_bits * cell.beta / paba.Scenario.bits_per_parameter
    tau = rng.uniform(*TAU_S, n_workers)
    group_ids = None
    if groups:
        sizes = 1 + rng.binomial(GROUP_SIZE_TRIALS, GROUP_SIZE_P, n_workers)
        group_ids = np.repeat(np.arange(n_workers), sizes)[:n_workers]
    return cell.replace(groups=group_ids, alpha=alpha, tau=tau)


def numpy_floor(beta: np.ndarray, compute: np.ndarray) -> float:
    """One pass over the inputs with one square root per worker: what no joint solver beats by
    much, since the exact method's price depends on sqrt(beta_k) / compute_k of every worker."""
    return np.sqrt(beta * compute).sum()


class Joint(NamedTuple):
    """The relaxed joint optimum: latency (seconds), loads (parameters per worker, fractional)
    and bandwidth (Hz per worker)."""

    latency: float
    loads: np.ndarray
    bandwidth: np.ndarray


def numpy_basic_joint(beta, compute, params, bandwidth) -> Joint:
    """The basic joint problem (one worker per group, alpha = tau = 0) as a user would write it
    in NumPy: the closed form of docs/algorithms.md 3.7 after one sort.

    In shares, worker k with bandwidth share b_k carries T b_k / (a_k + e_k b_k) of the model
    by T (a_k = beta_k L / B, e_k = c_k L seconds). With r_k = sqrt(a_k), the optimum gives
    b_k = r_k (s - r_k)^+ / e_k for a price s; the workers with bandwidth are the prefix of the
    workers sorted by r, and on a prefix the price is (1 + sum r^2/e) / (sum r/e). That prefix
    price falls while the next worker's r lies below it and rises after, so the optimum is its
    minimum over the prefixes.
    """
    r = np.sqrt(beta * (params / bandwidth))
    e = compute * params
    order = np.argsort(r)
    r, e = r[order], e[order]
    w = r / e
    prices = (1.0 + np.cumsum(w * r)) / np.cumsum(w)
    m = int(np.argmin(prices)) + 1          # the active prefix
    s = prices[m - 1]
    gap = s - r[:m]
    h = gap / (e[:m] * s)                   # load per second of latency, in shares
    T = 1.0 / h.sum()
    loads = np.zeros(r.size)
    loads[order[:m]] = h * (T * params)
    band = np.zeros(r.size)
    band[order[:m]] = w[:m] * gap * bandwidth
    return Joint(T, loads, band)


# -- the general joint problem in NumPy ------------------------------------------------------
#
# In shares (docs/algorithms.md 2.1): a_k = beta_k L / B, e_k = c_k L, f_k = alpha_k / B,
# u_k = T - tau_k (seconds). At a target T, worker k with load x (share of the model) needs
# b_k(x) = (f_k + a_k x) / y_k, y_k = u_k - e_k x, and group n needs G_n(x) = sum_k b_k(x),
# convex and increasing, G_n'(x) = sum_k w_k / y_k^2 with w_k = a_k u_k + e_k f_k. At a price
# sigma every loaded group has rho_n(x) = G_n'(x)^(-1/2) = sigma (one member: x = (u - sqrt(w)
# sigma) / e), and the total load S(sigma) = sum_n x_n(sigma) is 1. Loads are carried with their
# slack z = U_n - x (U_n = min_k u_k / e_k), so that y_k = e_k (g_k + z), g_k = u_k / e_k - U_n,
# keeps its digits near the compute limit. paba's participation rule (docs/algorithms.md 4): a
# group takes no load at a price above its exit price rho_n(x*_n), where x*_n solves
# x G_n'(x) = G_n(x); one member: rho(x*) = u / (sqrt(e f) + sqrt(w)) in closed form.

_EPS = np.finfo(np.float64).eps
#: Relative step after which the per-group Newton iterations stop: they converge quadratically,
#: so the error after such a step is far below rounding, while a smaller bound would chase the
#: rounding noise of G_n' and G_n.
_NEWTON_STOP = 1e-13
#: A total load this far below 1 at a collapsed bracket is a jump (as paba's JUMP_TOLERANCE).
_JUMP = 1e-9


class _Part:
    """Normalised workers of a set of groups: the singleton groups' (s_*) and the multi-member
    groups' (m_*, members contiguous: group j owns m_*[m_start[j]:m_start[j + 1]] and m_of maps
    a member to j); s_gid and m_gid hold the caller's group ids."""

    def __init__(self, **fields):
        self.__dict__.update(fields)
        self.M = self.m_start.size

    @classmethod
    def build(cls, beta, compute, params, bandwidth, groups, alpha, tau):
        L, B = float(params), float(bandwidth)
        a = np.asarray(beta, dtype=np.float64) * (L / B)
        e = np.asarray(compute, dtype=np.float64) * L
        K = a.size
        f = np.zeros(K) if alpha is None else np.asarray(alpha, dtype=np.float64) / B
        t = np.zeros(K) if tau is None else np.asarray(tau, dtype=np.float64)
        if groups is None:
            single, s_gid = np.arange(K), np.arange(K)
            multi = m_of = m_start = np.zeros(0, dtype=np.int64)
            m_gid = m_start
        else:
            groups = np.asarray(groups, dtype=np.int64)
            sizes = np.bincount(groups)
            alone = sizes[groups] == 1
            single = np.flatnonzero(alone)
            s_gid = groups[single]
            multi = np.flatnonzero(~alone)
            multi = multi[np.argsort(groups[multi], kind="stable")]
            new_group = np.empty(multi.size, dtype=bool)
            new_group[:1] = True
            new_group[1:] = groups[multi][1:] != groups[multi][:-1]
            m_start = np.flatnonzero(new_group)
            m_of = np.cumsum(new_group) - 1
            m_gid = groups[multi][m_start]
        return cls(s_a=a[single], s_e=e[single], s_f=f[single], s_t=t[single], s_gid=s_gid,
                   m_a=a[multi], m_e=e[multi], m_f=f[multi], m_t=t[multi], m_of=m_of,
                   m_start=m_start, m_gid=m_gid, n_groups=int(s_gid.size + m_gid.size))

    def subset(self, keep_single: np.ndarray, keep_multi: np.ndarray) -> _Part:
        """The groups kept (masks over singleton groups and over multi-member groups)."""
        if keep_single.all() and keep_multi.all():
            return self
        members = keep_multi[self.m_of]
        relabel = np.cumsum(keep_multi) - 1
        sizes = np.diff(np.append(self.m_start, self.m_of.size))[keep_multi]
        m_start = np.zeros(sizes.size, dtype=np.int64)
        np.cumsum(sizes[:-1], out=m_start[1:])
        s, m = keep_single, members
        return _Part(s_a=self.s_a[s], s_e=self.s_e[s], s_f=self.s_f[s], s_t=self.s_t[s],
                     s_gid=self.s_gid[s], m_a=self.m_a[m], m_e=self.m_e[m], m_f=self.m_f[m],
                     m_t=self.m_t[m], m_of=relabel[self.m_of[m]], m_start=m_start,
                     m_gid=self.m_gid[keep_multi], n_groups=self.n_groups)

    def group_sum(self, values):
        return np.add.reduceat(values, self.m_start) if self.M else values[:0]

    def group_min(self, values):
        return np.minimum.reduceat(values, self.m_start) if self.M else values[:0]

    def group_max(self, values):
        return np.maximum.reduceat(values, self.m_start) if self.M else values[:0]

    def start_prices(self, T: float):
        """rho_n(0) of every singleton and every multi-member group at T: no group takes load
        at a higher price. -inf where a member cannot finish by T. (Like everything below, it
        runs under the caller's np.errstate: divisions by zero there are masked out.)"""
        u = T - self.s_t
        single = np.where(u > 0.0, u / np.sqrt(self.s_a * u + self.s_e * self.s_f), -np.inf)
        if not self.M:
            return single, np.zeros(0)
        u = T - self.m_t
        ok = self.group_min(u) > 0.0
        marginal = self.group_sum((self.m_a * u + self.m_e * self.m_f) / (u * u))
        return single, np.where(ok, 1.0 / np.sqrt(marginal), -np.inf)

    def equal_latency(self) -> float:
        """Latency of equal loads per group and equal bandwidth per worker: feasible."""
        K = self.s_a.size + self.m_a.size
        def worst(a, e, f, t):
            return float(np.max((a * K + e) / self.n_groups + f * K + t, initial=0.0))
        return max(worst(self.s_a, self.s_e, self.s_f, self.s_t),
                   worst(self.m_a, self.m_e, self.m_f, self.m_t))


class _AtT:
    """A part at a target T: compute limits, exit prices, and the loads at a price."""

    def __init__(self, part: _Part, T: float):
        self.part, self.T = part, T
        self._slack = None
        p = part
        u = T - p.s_t
        ok = u > 0.0
        u = np.where(ok, u, 0.0)
        root_w = np.sqrt(p.s_a * u + p.s_e * p.s_f)
        self.s_U = u / p.s_e
        self.s_c = root_w / p.s_e                 # -dx/dsigma
        exits = [np.where(ok, u / (np.sqrt(p.s_e * p.s_f) + root_w), -np.inf)]
        if p.M:
            u = T - p.m_t
            self.m_ok = p.group_min(u) > 0.0
            u = np.where(self.m_ok[p.m_of], u, 1.0)  # groups that cannot finish: placeholders
            limit = u / p.m_e
            self.m_U = p.group_min(limit)
            self.m_g = limit - self.m_U[p.m_of]
            self.m_w = p.m_a * u + p.m_e * p.m_f
            self.m_root_w = np.sqrt(self.m_w)
            exits.append(np.where(self.m_ok, self._exit_prices(u), -np.inf))
        self.exits = np.concatenate(exits)

    def _sums(self, z):
        """G, G' and G'' of every multi-member group at slack z (per group)."""
        p = self.part
        y = p.m_e * (self.m_g + z[p.m_of])
        b = (p.m_f + p.m_a * (self.m_U - z)[p.m_of]) / y
        w_y2 = self.m_w / (y * y)
        return p.group_sum(b), p.group_sum(w_y2), p.group_sum(2.0 * w_y2 * p.m_e / y)

    def _exit_prices(self, u):
        """rho_n(x*_n) of each multi-member group: x*_n by Newton steps on H = x G' - G
        (convex, increasing, H(0) <= 0) from the largest single-member threshold, where every
        member's H and so the group's is >= 0: from there the steps fall monotonically."""
        p = self.part
        U = self.m_U
        if not np.any(p.m_f > 0.0):
            _, G1, _ = self._sums(U)
            return 1.0 / np.sqrt(G1)
        single = np.sqrt(p.m_f / p.m_e) * u / (np.sqrt(p.m_e * p.m_f) + self.m_root_w)
        x = p.group_max(single)
        right = x < U  # else from U / 2, possibly left of the root, until a step crosses it
        x = np.where(right, x, 0.5 * U)
        done = x == 0.0
        for _ in range(100):
            G, G1, G2 = self._sums(U - x)
            H = x * G1 - G
            nxt = x - H / (x * G2)  # x = 0 (no fixed costs): done already
            nxt = np.where(nxt < U, nxt, 0.5 * (x + U))
            # Right of the root the steps fall; a rise there is rounding noise: converged. A
            # step below _NEWTON_STOP is taken, and is the last.
            noise = (H < 0.0) & right
            right |= H >= 0.0
            small = np.abs(nxt - x) <= _NEWTON_STOP * x
            x = np.where(done | noise, x, nxt)
            done |= noise | small
            if done.all():
                break
        _, G1, _ = self._sums(U - x)
        return 1.0 / np.sqrt(G1)

    def _multi_slack(self, sigma: float, active):
        """Slack of each multi-member group at price sigma, and dx/dsigma: Newton steps on
        rho_n = sigma. rho_n is concave, so from the right of the root (a smaller slack) the
        steps fall monotonically, and from the left one step lands right of it. They start
        from the last price's slack, and never go right of the smallest single-member load
        (which lies right of the group's root)."""
        p = self.part
        floor = np.maximum(p.group_max(self.m_root_w * sigma / p.m_e - self.m_g), 0.0)
        z = floor if self._slack is None else np.maximum(self._slack, floor)
        done = ~active
        for first in (True, *([False] * 99)):
            _, G1, G2 = self._sums(z)
            step = 2.0 * G1 * (1.0 - sigma * np.sqrt(G1)) / G2
            # Right of the root the slack grows; a fall there is rounding noise: converged. A
            # step below _NEWTON_STOP is taken, and is the last.
            noise = (step >= 0.0) & (not first)
            z = np.where(done | noise, z, np.minimum(np.maximum(z - step, floor), self.m_U))
            done |= noise | (np.abs(step) <= _NEWTON_STOP * z)
            if done.all():
                break
        self._slack = z
        _, G1, G2 = self._sums(z)
        return z, -2.0 * G1 * np.sqrt(G1) / G2

    def loads(self, sigma: float, active):
        """Loads x, slacks z (singleton groups, then multi-member groups) and dS/dsigma at
        price sigma, for the groups in ``active``."""
        ns = self.s_U.size
        z = self.s_c * sigma
        x = np.where(active[:ns], self.s_U - z, 0.0)
        slope = -self.s_c.sum(where=active[:ns])
        if not self.part.M:
            return x, z, slope
        on = active[ns:]
        zm, dm = self._multi_slack(sigma, on)
        xm = np.where(on, self.m_U - zm, 0.0)
        return np.concatenate((x, xm)), np.concatenate((z, zm)), slope + dm.sum(where=on)

    def bandwidth(self, x, z):
        """Bandwidth share of loads x with slacks z, and its derivative in T at fixed loads
        (sum_k -b_k / y_k)."""
        p = self.part
        ns = self.s_U.size
        on = x[:ns] > 0.0
        y = p.s_e[on] * z[:ns][on]
        b = (p.s_f[on] + p.s_a[on] * x[:ns][on]) / y
        need, slope = b.sum(), -(b / y).sum()
        if p.M:
            on = (x[ns:] > 0.0)[p.m_of]
            y = p.m_e * (self.m_g + z[ns:][p.m_of])
            b = (p.m_f + p.m_a * x[ns:][p.m_of]) / y
            need += b.sum(where=on)
            slope -= (b / y).sum(where=on)
        return need, slope

    def least_bandwidth(self, sigma=None):
        """(bandwidth share, its T-derivative, price) of the least bandwidth that carries the
        whole model by T under paba's participation rule; inf when the model does not fit.

        The total load S(sigma) is continuous, concave and decreasing between exit prices,
        and drops by x*_n at group n's. Newton steps on S = 1 keep a bracket (S(lo) >= 1 >
        S(hi)). A step that leaves the bracket is replaced by a probe at the median exit price
        inside it (a binary search over the pieces), or, with none inside, by the Newton step
        from hi (on one concave piece, monotone). At an exit price p where S(p) >= 1 but S
        falls below 1 just after it, the root is the jump: as paba does, the loads just left of
        it are kept and the groups that drop there give back the excess, in group-id order.
        """
        exits = self.exits
        feasible = exits > -np.inf
        ns = self.s_U.size
        total = self.s_U.sum(where=feasible[:ns])
        if self.part.M:
            total += self.m_U.sum(where=self.m_ok)
        if not total > 1.0:
            return math.inf, 0.0, 0.0
        lo, hi = 0.0, float(exits.max())
        if sigma is None or not 0.0 < sigma < hi:
            sigma = 0.5 * hi
        x_lo, z_lo, value_lo, hi_step = None, None, total - 1.0, math.nan
        for _ in range(400):
            active = sigma <= exits
            x, z, slope = self.loads(sigma, active)
            value = x.sum() - 1.0
            exact = False  # sigma's next probe must be taken as it is (a piece boundary)
            if value >= 0.0:
                lo, x_lo, z_lo, value_lo = sigma, x, z, value
                if sigma == exits.min(where=active, initial=math.inf):
                    drop = exits == sigma
                    if value - x.sum(where=drop) < 0.0:
                        value = self._give_back(x, z, value, drop)
                        break
            else:
                hi, hi_step = sigma, sigma - value / slope
            if abs(value) <= 4.0 * _EPS:
                break
            nxt = sigma - value / slope
            if not lo < nxt < hi:
                inside = exits[(exits > lo) & (exits < hi)]
                if inside.size:
                    middle = inside.size // 2
                    nxt, exact = float(np.partition(inside, middle)[middle]), True
                elif lo < hi_step < hi:
                    nxt = hi_step
                elif value >= 0.0 and sigma == exits.min(where=active, initial=math.inf):
                    nxt, exact = float(np.nextafter(sigma, math.inf)), True  # past the drop
                else:
                    nxt = lo + 0.5 * (hi - lo)
            if not lo < nxt < hi:  # the bracket collapsed: on a jump, take the lo side
                if value < -_JUMP and x_lo is not None:
                    x, z, value = x_lo, z_lo, value_lo
                break
            if not exact and abs(nxt - sigma) <= 4.0 * _EPS * sigma:
                break
            sigma = nxt
        if value != 0.0:  # x <- x / (1 + value), keeping the slack exact
            z = z + x * (value / (1.0 + value))
            x = x / (1.0 + value)
        self.loads_found = x
        need, slope = self.bandwidth(x, z)
        return need, slope, sigma

    def finish_time(self, x) -> float:
        """The latency at which loads x finish together on the whole pool (the
        parameter-aware step, docs/algorithms.md 3.3): the root of
        sum_k (f_k + a_k x_n) / (T - d_k) = 1, d_k = tau_k + e_k x_n, over the loaded workers,
        by Newton steps on the slack z = T - max d (convex and decreasing: from the left they
        rise monotonically)."""
        p = self.part
        ns = self.s_U.size
        xs, xm = x[:ns], x[ns:][p.m_of]
        on_s, on_m = xs > 0.0, xm > 0.0
        num = np.concatenate(((p.s_f + p.s_a * xs)[on_s], (p.m_f + p.m_a * xm)[on_m]))
        d = np.concatenate(((p.s_t + p.s_e * xs)[on_s], (p.m_t + p.m_e * xm)[on_m]))
        top = d.max()
        gap = top - d
        z = max(self.T - top, 0.0)
        for _ in range(200):
            q = num / (z + gap)
            value = q.sum() - 1.0
            if value >= 0.0 and z > 0.0:
                step = value / (q / (z + gap)).sum()
                if step <= 4.0 * _EPS * z:
                    break
                z += step
            elif value < 0.0:  # right of the root: a step left, or halve towards d_max
                left = z + value / (q / (z + gap)).sum()
                z = left if left > 0.0 else 0.5 * z
            else:
                z = num.sum()  # z = 0 with loads: far left; start from an upper bound
        return float(top + z)

    def _give_back(self, x, z, value, drop) -> float:
        p = self.part
        index = np.flatnonzero(drop)
        gid = np.concatenate((p.s_gid, p.m_gid))[index]
        for k in index[np.argsort(gid, kind="stable")]:
            cut = min(value, x[k])
            x[k] -= cut
            z[k] += cut
            value -= cut
            if value <= 0.0:
                break
        return value


def _least_bandwidth(full: _Part, T: float, sigma):
    """least_bandwidth at T over the groups that can take load. A group whose start price
    rho_n(0) is below the price takes none, and a restricted problem's price is at most the
    full one's; so the solve runs on the groups above a cut (the largest 64 + 4 sqrt(N) start
    prices, and any above 0.8 of the last price), and is repeated with the ones it left out
    that reach its price (four times as many by start price when the cut left too few)."""
    single, multi = full.start_prices(T)
    starts = np.concatenate((single, multi))
    ns = single.size
    count = min(starts.size, 64 + 4 * math.isqrt(starts.size))
    while True:
        cut = np.partition(starts, starts.size - count)[starts.size - count]
        if sigma is not None:
            cut = min(cut, 0.8 * sigma)
        keep = starts >= cut
        while True:
            at = _AtT(full.subset(keep[:ns], keep[ns:]), T)
            need, slope, price = at.least_bandwidth(sigma)
            if math.isinf(need):
                break
            missing = ~keep & (starts >= price)
            if not missing.any():
                return need, slope, price, at
            keep |= missing
        if count == starts.size:
            return need, slope, price, at
        count, sigma = min(starts.size, 4 * count), None


def numpy_general_joint(beta, compute, params, bandwidth, groups=None, alpha=None,
                        tau=None) -> float:
    """The relaxed latency T* (seconds) of the general joint problem (worker groups, fixed
    communication alpha, fixed overhead tau), in vectorised NumPy.

    The least bandwidth share needed(T) that carries the model by T is solved at each trial T
    as in docs/algorithms.md 3.5, with paba's participation rule for fixed costs (section 4),
    vectorised over workers and groups (group sums by ``np.add.reduceat``), on the groups that
    can take load only. T* solves needed(T) = 1: Newton steps on 1 / needed, whose derivative
    is the envelope dneeded/dT = -sum_k b_k / y_k, safeguarded by a bracket, from the latency
    of the equal split (feasible). The loads found are then given the latency at which they
    finish together on the whole pool (the parameter-aware step, 3.3), which is what paba
    reports as ``relaxed_latency``: where the participating set changes at T*, needed(T) jumps
    across 1 and those loads finish before T*.

    It agrees with ``paba.allocate(system, "joint", method="bisection", tol=1e-12)`` to about
    1e-12 on the test corpus and the benchmark instances. It does not take paba's safeguard for
    fixed costs (docs/algorithms.md 4: the bisection starts from the better of the sequential
    and the parameter-aware allocations), so where the participation rule loses to those (on
    random instances, models of at most 10^4 parameters whose fixed costs dominate), paba's
    latency is lower.
    """
    full = _Part.build(beta, compute, params, bandwidth, groups, alpha, tau)
    T = full.equal_latency()
    lo, hi, sigma, feasible = 0.0, math.inf, None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(200):
            need, slope, price, at = _least_bandwidth(full, T, sigma)
            if need <= 1.0:
                hi, feasible = T, at
            else:
                lo = T
            nxt = math.nan
            if math.isfinite(need):
                sigma = price
                nxt = T + (1.0 - 1.0 / need) * need * need / -slope
                if abs(nxt - T) <= 1e-14 * T:
                    return at.finish_time(at.loads_found)
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi) if hi < math.inf else 2.0 * T
            if hi - lo <= 1e-13 * hi:  # needed(T) jumps across 1: the loads on its right
                return feasible.finish_time(feasible.loads_found)
            T = nxt
    raise RuntimeError("numpy_general_joint: no convergence")


def batch_instances(n_workers: int, n_instances: int, seed: int = SEED):
    """(beta, compute, params, bandwidth) of ``n_instances`` Rayleigh-faded iterations of one
    cell: beta and compute as C-contiguous float64 arrays of shape (n_instances, n_workers),
    the layout ``paba.allocate_batch`` reads without a copy."""
    scenario = paba.Scenario.default(n_workers=n_workers, params=PARAMS, bandwidth=BANDWIDTH,
                                     seed=seed)
    beta = scenario.beta(scenario.draw_gains(n_instances))
    compute = np.ascontiguousarray(
        np.broadcast_to(scenario.compute_per_parameter, beta.shape))
    return beta, compute, scenario.params, scenario.bandwidth


def cvxpy_joint_latency(system: paba.System) -> float:
    """The relaxed joint latency T* in seconds, from cvxpy with Clarabel: problem construction,
    canonicalisation and solve, all of which a user pays on every solve.

    For one worker per group and alpha = tau = 0, a bandwidth split B_k lets worker k carry
    L_k = T B_k / (beta_k + c_k B_k) parameters by time T, so

        T* = L / max { sum_k B_k / (beta_k + c_k B_k) : sum_k B_k = B, B >= 0 },

    and B_k / (beta_k + c_k B_k) = (1 / c_k) (1 - beta_k inv_pos(beta_k + c_k B_k)) is concave,
    so the problem is DCP. It is written here in shares, b_k = B_k / B, with a_k = beta_k L / B
    and e_k = c_k L in seconds (T* = 1 / max sum_k b_k / (a_k + e_k b_k)): in Hz the objective
    is of order sum_k 1 / c_k, and Clarabel's answer drifts from the optimum by 1.1e-4 relative
    at K = 1000 and 1.6e-3 at K = 10^4; in shares it stays within 4e-5 up to K = 10^5.
    """
    import cvxpy as cp

    if system.n_groups != system.n_workers or np.any(system.alpha) or np.any(system.tau):
        raise ValueError("system: the peer formulation is for the basic model only")
    L, B = float(system.params), float(system.bandwidth)
    a = system.beta * (L / B)
    e = system.compute * L
    b = cp.Variable(system.n_workers, nonneg=True)
    carried = cp.sum(cp.multiply(1.0 / e, 1.0 - cp.multiply(a, cp.inv_pos(a + cp.multiply(e, b)))))
    problem = cp.Problem(cp.Maximize(carried), [cp.sum(b) == 1.0])
    with warnings.catch_warnings():  # "optimal_inaccurate" is accepted; the caller checks T*
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL)
    if problem.status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"cvxpy: status {problem.status}")
    return 1.0 / problem.value


#: Relative width of the bracket on T at which cvxpy_general_latency stops its bisection.
CVXPY_BISECTION_RTOL = 1e-4


def cvxpy_general_latency(system: paba.System, rtol: float = CVXPY_BISECTION_RTOL) -> float:
    """The joint latency of any System (groups, alpha, tau) from cvxpy with Clarabel: a
    bisection on T as a user would write it, one convex model-size maximisation per step
    (docs/algorithms.md 3.5), in shares as ``cvxpy_joint_latency``. Returns the smallest T
    found feasible, within ``rtol`` relative of the bisection's limit.

    At a trial T, group n carries x_n by T if every member k has x_n <= h_k(b_k) =
    u_k / e_k - (w_k / e_k) / (a_k + e_k b_k), u_k = T - tau_k, w_k = a_k u_k + e_k f_k. With
    fixed communication (f > 0) a group that takes no load needs no bandwidth, which no convex
    constraint says; the tightest convex relaxation (the convex hull of "no load" and "load")
    gives each group a participation z_n in [0, 1] and the perspective constraint
    x_n <= z_n h_k(b_k / z_n) = z_n u_k / e_k - (w_k / e_k) z_n^2 / (a_k z_n + e_k b_k), a
    second-order cone per worker. It prices each group on the convex envelope of its
    bandwidth, so its latency is a lower bound, equal to the optimum where no group sits on the
    envelope's chord, and below it by what the one or two groups that do would save. Without
    fixed costs z_n = 1 is optimal and the model is exact. The bisection runs from [0, the
    latency of the equal split] (feasible); T enters as cvxpy Parameters, so the problem is
    canonicalised once per call and re-solved at each step.
    """
    import cvxpy as cp

    L, B = float(system.params), float(system.bandwidth)
    a = system.beta * (L / B)
    e = system.compute * L
    f = system.alpha / B
    tau = system.tau
    group = system.groups
    K, N = system.n_workers, system.n_groups
    b = cp.Variable(K, nonneg=True)
    x = cp.Variable(N, nonneg=True)
    z = cp.Variable(N, nonneg=True)
    t = cp.Variable(K, nonneg=True)         # t_k >= z_n^2 / (a_k z_n + e_k b_k)
    limit = cp.Parameter(K)                 # u_k / e_k
    weight = cp.Parameter(K, nonneg=True)   # w_k / e_k
    zk = z[group]
    s = cp.multiply(a, zk) + cp.multiply(e, b)
    constraints = [
        x[group] <= cp.multiply(limit, zk) - cp.multiply(weight, t),
        cp.SOC(t + s, cp.vstack([2.0 * zk, t - s]), axis=0),
        cp.sum(b) <= 1.0,
        z <= 1.0,
    ]
    problem = cp.Problem(cp.Maximize(cp.sum(x)), constraints)

    def carries(T: float) -> bool:
        u = T - tau
        limit.value = u / e
        # A member that cannot finish by T: u <= 0 forces z_n = 0 through x_n >= 0.
        weight.value = np.maximum(a * u + e * f, 0.0) / e
        with warnings.catch_warnings():  # "optimal_inaccurate" is accepted, as above
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=cp.CLARABEL)
        if problem.status not in ("optimal", "optimal_inaccurate"):
            raise RuntimeError(f"cvxpy: status {problem.status} at T = {T!r}")
        return problem.value >= 1.0

    # Equal loads per group and equal bandwidth per worker: a feasible latency.
    equal = np.max((a * K + e) / N + f * K + tau)
    lo, hi = 0.0, float(equal)
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if carries(mid):
            hi = mid
        else:
            lo = mid
    return hi
