"""NumPy reference twin of ``src/kernels/screen.cpp``: the Newton method on large instances
(docs/algorithms.md 3.5.2), solved on a few candidate groups and verified on the others at the
latency and price found."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .internal import STATUS_INFEASIBLE, normalise
from .newton import NewtonReport, joint_newton
from .price_search import prepare, takes_load

# Screening (docs/algorithms.md 3.5.2): the Newton method solves a few candidate groups, then
# verifies the others at the latency and price it found.
SCREEN_MIN = 128  # groups; fewer are solved whole
SCREEN_ROUNDS = 16  # then the whole instance is solved
SCREEN_SAMPLE = 1024  # keys read to place the first candidates' cut-off
SCREEN_LOOSE = 1.0 + 1e-9  # the test on every member only sorts out: loosened against rounding
#: From ESTIMATE_FROM groups, a solve of every s-th group (s = N // ESTIMATE_FEW_GROUPS below
#: ESTIMATE_MANY_FROM groups, N // ESTIMATE_GROUPS from there) estimates the optimum's latency
#: and price (widened by ESTIMATE_MARGIN); its groups with load join the first candidates.
ESTIMATE_FROM = 512
ESTIMATE_FEW_GROUPS = 64  # the sample's size below ESTIMATE_MANY_FROM groups (screen.cpp says why)
ESTIMATE_MANY_FROM = 2048
ESTIMATE_GROUPS = 256  # from there
ESTIMATE_MARGIN = 0.05
ESTIMATE_LEAST = 2  # loaded groups of the sample that make an estimate


Subset = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None,
               np.ndarray | None]


def take_groups(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                tau: np.ndarray | None, group: np.ndarray | None, N: int,
                groups: np.ndarray) -> Subset:
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


def screen_violators(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                     tau: np.ndarray | None, group: np.ndarray | None, N: int, params: float,
                     bandwidth: float, in_c: np.ndarray, size: np.ndarray | None,
                     at: Sequence[tuple[float, float]]) -> np.ndarray | None:
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


def estimate_candidates(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                        tau: np.ndarray | None, group: np.ndarray | None, N: int,
                        params: float, bandwidth: float, in_c: np.ndarray,
                        size: np.ndarray | None, fixed: bool, first: int) -> np.ndarray:
    """The groups (outside in_c, ascending) that take load at the latency and price of a solve
    of every s-th group (s: ESTIMATE_FROM's comment), with the model and the pool scaled by the same
    share (so that each worker's a_k, and the price, keep their scale), widened by
    ESTIMATE_MARGIN: (T (1 + m), sigma (1 - m)). Empty where the sample's solve does not end on
    Newton's own answer, or where its loaded groups, each standing for s, are fewer than
    ESTIMATE_LEAST or not more than the ``first`` candidates by key (which hold them already)."""
    stride = N // (ESTIMATE_GROUPS if N >= ESTIMATE_MANY_FROM else ESTIMATE_FEW_GROUPS)
    sample = np.arange(0, N, stride)
    _, b, e, a, ta, g = take_groups(beta, compute, alpha, tau, group, N, sample)
    L = max(1.0, math.floor(params * (sample.size / N) + 0.5))  # as std::round
    B = bandwidth * (L / params)
    K = b.size
    inst = normalise(b, e, np.zeros(K) if a is None else a, np.zeros(K) if ta is None else ta,
                     np.arange(K) if g is None else g, sample.size, L, B)
    report = NewtonReport(fixed=fixed, estimate=True)
    x = joint_newton(inst, L, report)[1]
    if not (report.plain and math.isfinite(report.T) and report.sigma > 0.0):
        return np.zeros(0, dtype=np.int64)
    loaded = int(np.count_nonzero(x > 0.0))
    if loaded < ESTIMATE_LEAST or not loaded * stride > first:
        return np.zeros(0, dtype=np.int64)
    at = [(report.T * (1.0 + ESTIMATE_MARGIN), report.sigma * (1.0 - ESTIMATE_MARGIN))]
    found = screen_violators(beta, compute, alpha, tau, group, N, params, bandwidth, in_c, size,
                             at)
    return np.zeros(0, dtype=np.int64) if found is None else found


def screened_newton(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                    tau: np.ndarray | None, group: np.ndarray | None, N: int, params: float,
                    bandwidth: float,
                    solve: Callable[..., dict[str, Any] | None]) -> dict[str, Any] | None:
    """The Newton method on the candidate groups, verified on the others; None where the whole
    instance is to be solved instead. The first candidates: the groups whose key (beta, or the
    sum of the members' beta) is at most the first-th smallest, first = 64 + 2 ceil(sqrt(N)), or
    32 + ceil(sqrt(N)) with groups of several members (N < K), of every key or of every stride-th
    key beyond SCREEN_SAMPLE groups (at the same quantile), and from ESTIMATE_FROM groups those
    with load at the sample's estimate (:func:`estimate_candidates`). Where more than twice as
    many groups fail a round as there are candidates, only half of them join, those with the
    least keys (at least twice the candidates). ``solve`` solves the candidates'
    instance: the dispatch's ``allocation.allocate_general``, passed in (as allocation.cpp's is
    declared in general.hpp) so that this module does not import the one that imports it."""
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
    if N >= ESTIMATE_FROM:
        in_c[estimate_candidates(beta, compute, alpha, tau, group, N, params, bandwidth, in_c,
                                 size, fixed, first)] = True
    iterations = 0
    for _ in range(SCREEN_ROUNDS):
        candidates = np.flatnonzero(in_c)
        if candidates.size >= N:
            return None
        workers, *sub = take_groups(beta, compute, alpha, tau, group, N, candidates)
        report = NewtonReport(fixed=fixed)
        r = solve("joint", *sub[:4], sub[4], candidates.size, params, bandwidth,
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
        # A round whose candidates were far too few ends far above the optimum, where many
        # more groups pass than carry load there: beyond twice the candidates, only half of those
        # that pass join (at least twice the candidates), those with the least keys (the basic
        # model's order).
        if found.size > 2 * candidates.size:
            keep = max(2 * candidates.size, found.size // 2)
            found = found[np.lexsort((found, keys[found]))[:keep]]
        in_c[found] = True
    return None
