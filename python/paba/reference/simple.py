"""NumPy reference twin of ``src/kernels/simple.cpp``: the two-step building blocks of the general
problem (docs/algorithms.md 3.2, 3.6), in the normalised units of :mod:`.internal`: group loads at
fixed per-worker rates, their root T (``fixed_rate_loads``), integer loads from shares
(``round_loads``) and the equal integer split. The parameter-aware step is in :mod:`.internal`."""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np

from .internal import EPS, MAX_BISECTION, Instance, group_latency
from .rounding import round_to_total


@overload
def group_loads(inst: Instance, s: np.ndarray, r: np.ndarray, T: float,
                with_slope: Literal[False] = ...) -> np.ndarray: ...
@overload
def group_loads(inst: Instance, s: np.ndarray, r: np.ndarray, T: float,
                with_slope: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
def group_loads(inst: Instance, s: np.ndarray, r: np.ndarray, T: float,
                with_slope: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
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


def fixed_rate_loads(inst: Instance, s: np.ndarray,
                     r: np.ndarray) -> tuple[float, np.ndarray, int, bool]:
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


def round_loads(inst: Instance, x: np.ndarray, L: float, s: np.ndarray,
                r: np.ndarray) -> np.ndarray:
    """Integer loads from shares x at fixed rates s, r (docs/algorithms.md 3.6)."""
    floors = np.nan_to_num(np.clip(np.floor(x * L), 0.0, L)).astype(np.int64)
    return round_to_total(floors, int(L), lambda n, m: group_latency(inst, n, s, r, m / L))


def equal_loads(N: int, L: float) -> np.ndarray:
    total = int(L)
    return np.array([total // N + (1 if n < total % N else 0) for n in range(N)], dtype=np.int64)
