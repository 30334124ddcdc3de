"""NumPy reference twin of ``src/kernels/paba.hpp`` and ``internal.hpp``: the constants, the
normalised instance, the worker latency and the steps every kernel shares (the parameter-aware
bandwidth).

Everything works in normalised units (see :func:`normalise`):

    x_n = L_n / L          share of the model in block n (shares sum to 1)
    b_k = B_k / B          share of the bandwidth pool of worker k (shares sum to at most 1)
    a_k = beta_k L / B     seconds to move the whole model over the whole pool
    e_k = c_k L            seconds to compute the whole model
    f_k = alpha_k / B      seconds of fixed communication over the whole pool
    T_k = x_n (a_k / b_k + e_k) + f_k / b_k + tau_k
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = np.finfo(np.float64).eps


MAX_NEWTON = 200


MAX_BISECTION = 400


BUDGET_MARGIN = 1e-12


STATUS_OK = 0


STATUS_NOT_CONVERGED = 1


STATUS_INFEASIBLE = 2


#: Range of the per-worker seconds the kernels work in (the normalised units above): wide enough
#: for any physical instance, narrow enough that no product or cube in a root search leaves
#: float64. paba.System (through the native check.cpp) and the kernels' normalise() apply it
#: with the same expressions: beta L / B and c L in the range, alpha / B and tau at most its top.
SECONDS_RANGE = (1e-80, 1e80)

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

    def group_reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """Reduce a per-worker array over each group's members (groups are never empty)."""
        reduced: np.ndarray = ufunc.reduceat(values[self.member], self.offset[:-1])
        return reduced


def check_ranges(a: np.ndarray, e: np.ndarray, f: np.ndarray | None = None,
                 tau: np.ndarray | None = None) -> None:
    """The normalised seconds must lie in SECONDS_RANGE (alpha / B and tau in [0, its top]), as the
    native normalise() checks them, with its messages (first offending worker, beta before
    compute, before alpha, before tau)."""
    low, high = SECONDS_RANGE
    shown = f"[{low:g}, {high:g}]".replace("e+", "e")  # as the native messages write it
    top = shown.split(", ")[1]
    rules = [(a, low, f"beta: beta * params / bandwidth must lie in {shown} seconds"),
             (e, low, f"compute: compute * params must lie in {shown} seconds")]
    if f is not None:
        rules.append((f, 0.0, f"alpha: alpha / bandwidth must lie in [0, {top} seconds"))
    if tau is not None:
        rules.append((tau, 0.0, f"tau: must lie in [0, {top} seconds"))
    bad = [~((values >= least) & (values <= high)) for values, least, _ in rules]
    first = min((int(np.argmax(mask)), i) for i, mask in enumerate(bad) if mask.any()) \
        if any(mask.any() for mask in bad) else None
    if first is not None:
        raise ValueError(rules[first[1]][2])


def normalise(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray, tau: np.ndarray,
              group: Any, n_groups: int, params: float, bandwidth: float) -> Instance:
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

    def F(z: float) -> tuple[float, float]:
        q = num / (z + gap)
        return float(q.sum()) - 1.0, float((q / (z + gap)).sum())

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


def rates(inst: Instance, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Seconds per unit load s_k = a_k / b_k + e_k and fixed seconds r_k = f_k / b_k + tau_k."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(b > 0, inst.a / b + inst.e, np.inf)
        r = np.where(b > 0, inst.f / b + inst.tau, 0.0)
    return s, r


def group_latency(inst: Instance, n: int, s: np.ndarray, r: np.ndarray, share: float) -> float:
    ks = inst.members(n)
    return float(np.max(share * s[ks] + r[ks], initial=0.0))


def result(loads: np.ndarray, relaxed_loads: np.ndarray, bandwidth: np.ndarray,
           worker_latency: np.ndarray, latency: float, relaxed_latency: float, iterations: int,
           converged: bool, method: str | None) -> dict[str, Any]:
    """The result dict of the native binding's allocate."""
    return {"loads": loads, "bandwidth": bandwidth, "latency": latency,
            "relaxed_latency": relaxed_latency, "relaxed_loads": relaxed_loads,
            "worker_latency": worker_latency, "iterations": iterations,
            "status": STATUS_OK if converged else STATUS_NOT_CONVERGED, "method": method}


METHODS = ("auto", "exact", "bisection", "newton")


def worker_seconds(load: Any, beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                   tau: np.ndarray | None, bandwidth: np.ndarray) -> np.ndarray:
    """T_k = L_k (beta_k / B_k + c_k) + alpha_k / B_k + tau_k (seconds) of per-worker loads L_k
    and bandwidths B_k (Hz), formed in that order; alpha and tau may be None (zero). The model's
    one formula of the worker latency (docs/algorithms.md 2), as internal.hpp's worker_time: with
    no bandwidth the division gives inf (or NaN), which the callers decide about."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = load * (beta / bandwidth + compute)
        if alpha is not None:
            t = t + alpha / bandwidth
        if tau is not None:
            t = t + tau
    return np.asarray(t, dtype=np.float64)


def latency_of(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
               tau: np.ndarray | None, load: np.ndarray,
               bandwidth: np.ndarray) -> tuple[float, np.ndarray]:
    """The latency and the per-worker latencies (:func:`worker_seconds`) of per-worker loads and
    bandwidths: 0 without load, infinite with load and no bandwidth."""
    t = worker_seconds(load, beta, compute, alpha, tau, bandwidth)
    t = np.where(bandwidth > 0, t, np.inf)
    t = np.where(load > 0, t, 0.0)
    return float(t.max(initial=0.0)), t
