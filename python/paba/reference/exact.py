"""NumPy reference twin of ``src/kernels/exact.cpp``: the exact joint method for the basic
model (one worker per group, alpha = tau = 0; docs/algorithms.md 3.7)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .internal import (
    BUDGET_MARGIN,
    Instance,
    check_ranges,
    latency_of,
    parameter_aware,
    result,
    worker_seconds,
)
from .rounding import round_to_total

NEWTON_PASSES = 12


def exact_applies(beta: np.ndarray, alpha: np.ndarray | None, tau: np.ndarray | None,
                  group: np.ndarray | None, n_groups: int) -> bool:
    """One worker per group (worker k in group k) and no fixed costs."""
    K = beta.size
    return (n_groups == K
            and (group is None or bool(np.array_equal(group, np.arange(K))))
            and (alpha is None or not np.any(alpha))
            and (tau is None or not np.any(tau)))


SAMPLE_FROM = 8192  # workers from which the exact method's start is sampled
CUTS_FROM = 256     # workers from which a cold start also reads the sets below two cuts
CUT_SAMPLE = 16     # the first workers, whose r place the cuts
CUT_RANKS = (1, 6)  # the cuts' ranks (from 1) among those


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
                max_passes: int = NEWTON_PASSES) -> tuple[float, float, int, np.ndarray]:
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
    if CUTS_FROM <= K < SAMPLE_FROM and previous_active is None:
        # The sets below two cuts (values of r of given ranks among the first workers) have
        # Newton points right of the root too; one below a cut just right of it, a close one.
        first = np.sort(r[:CUT_SAMPLE])
        for rank in CUT_RANKS:
            below = r < first[rank - 1]
            P = w[below].sum()
            if P > 0.0:
                point = (r0 - r_min) + (1.0 + (w * (r - r0))[below].sum()) / P
                if 0.0 < point < delta:
                    delta = point
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


def allocate_exact(beta: np.ndarray, compute: np.ndarray, params: float, bandwidth: float,
                   previous_loads: np.ndarray | None,
                   max_passes: int = NEWTON_PASSES) -> dict[str, Any]:
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
    relaxed_latency = latency_of(beta, compute, None, None, relaxed_loads, bandwidth_out)[0]
    # Seconds per parameter: the worker latency of one parameter (alpha = tau = 0).
    speed = np.where(bandwidth_out > 0,
                     worker_seconds(1.0, beta, compute, None, None, bandwidth_out), np.inf)
    floors = np.clip(np.floor(relaxed_loads), 0.0, L).astype(np.int64)
    loads = round_to_total(floors, int(L), lambda k, m: float(m) * speed[k])
    inst = Instance(a=a, e=e, f=none, tau=none, group=np.arange(K), offset=np.arange(K + 1),
                    member=np.arange(K), n_groups=K)
    # Bandwidth for the integer loads: the parameter-aware step on the slack, started from the
    # relaxed optimum.
    _, b, _, converged = parameter_aware(inst, loads / L, start=T)
    bandwidth_out = b * B
    latency, worker_latency = latency_of(beta, compute, None, None, loads, bandwidth_out)
    return result(loads, relaxed_loads, bandwidth_out, worker_latency, latency, relaxed_latency,
                  passes, converged, "exact")
