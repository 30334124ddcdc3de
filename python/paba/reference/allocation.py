"""NumPy reference twin of ``src/kernels/allocation.cpp``: the dispatch of every scheme.

Written for clarity, straight from docs/algorithms.md section 3, with the same algorithms,
iteration rules and tie-breaks as the native kernels, so the two can be compared result for
result; each algorithm is in the twin of its kernel file (:mod:`.simple`, :mod:`.price_search`,
:mod:`.bisection`, :mod:`.newton`, :mod:`.screen`, :mod:`.exact`). Its entry points
(``allocate``, ``evaluate``) check a direct call as the native binding does (:mod:`.check`). The
normalised units are those of :mod:`.internal`."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .bisection import joint
from .check import check_call, check_scalars, required, vector
from .exact import NEWTON_PASSES, allocate_exact, exact_applies
from .internal import (
    METHODS,
    SCHEMES,
    STATUS_INFEASIBLE,
    STATUS_OK,
    latency_of,
    normalise,
    parameter_aware,
    rates,
    result,
)
from .newton import NewtonReport, joint_newton
from .screen import SCREEN_MIN, screened_newton
from .simple import equal_loads, fixed_rate_loads, round_loads

#: Joint's integer loads are checked against the parameter-aware and sequential schemes' on
#: instances of at most COARSE_GROUPS groups where params is below COARSE_LOADS parameters per
#: group (docs/algorithms.md 3.6).
COARSE_LOADS = 128.0
COARSE_GROUPS = 64
#: A candidate replaces the joint answer only when faster by more than this, relative (below
#: it the answers are equal up to rounding, which must not decide between them).
CANDIDATE_MARGIN = 1e-9


def evaluate(beta: Any, compute: Any, alpha: Any, tau: Any, group: Any, n_groups: Any,
             loads: Any, bandwidth: Any) -> tuple[float, np.ndarray]:
    """Per-worker latencies (seconds) of loads (parameters per group) and bandwidth (Hz); alpha,
    tau and group may be None (zero; one worker per group)."""
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    load = required("loads", loads, np.float64, n_groups)
    bandwidth = required("bandwidth", bandwidth, np.float64, beta.size)
    return latency_of(beta, compute, alpha, tau, load if group is None else load[group],
                      bandwidth)
def allocate(scheme: Any, beta: Any, compute: Any, alpha: Any, tau: Any, group: Any,
             n_groups: Any, params: Any, bandwidth: Any, loads_in: Any = None,
             bandwidth_in: Any = None, tol: Any = 1e-9, method: Any = "auto",
             previous_loads: Any = None, exact_passes: int = NEWTON_PASSES,
             screen: bool = True) -> dict[str, Any]:
    """Solve one instance; returns a dict with the fields of the native result. alpha, tau and
    group may be None (zero; one worker per group). Checks a direct call as the native binding
    does, with its messages. screen (tests only): False solves a Newton instance whole."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    beta, compute, alpha, tau, group = check_call(beta, compute, alpha, tau, group, n_groups)
    check_scalars(params, bandwidth)
    if not (isinstance(tol, numbers.Real) and 0.0 < float(tol) < 1.0):
        raise ValueError("tol: must be in (0, 1)")
    tol = float(tol)
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
            res = allocate_exact(beta, compute, params, bandwidth, previous_loads, exact_passes)
        else:
            used = "bisection" if method == "bisection" else "newton"
            res = None
            if used == "newton" and screen and n_groups >= SCREEN_MIN:
                res = screened_newton(beta, compute, alpha, tau, group, n_groups, params,
                                      bandwidth, allocate_general)
            if res is None:
                res = allocate_general(scheme, beta, compute, alpha, tau, group, n_groups,
                                       params, bandwidth, loads_in, bandwidth_in, tol, used)
        assert res is not None  # without a report the solve always answers
        # Coarse loads: the joint answer is never above another scheme's integer answer.
        if (res["status"] != STATUS_INFEASIBLE and n_groups <= COARSE_GROUPS
                and params < COARSE_LOADS * n_groups):
            res = best_integer_loads(beta, compute, alpha, tau, group, n_groups, params,
                                     bandwidth, tol, res)
        return res
    res = allocate_general(scheme, beta, compute, alpha, tau, group, n_groups, params, bandwidth,
                           loads_in, bandwidth_in, tol, used)
    assert res is not None  # without a report the solve always answers
    return res


def best_integer_loads(beta: np.ndarray, compute: np.ndarray, alpha: np.ndarray | None,
                       tau: np.ndarray | None, group: np.ndarray | None, n_groups: int,
                       params: float, bandwidth: float, tol: float,
                       res: dict[str, Any]) -> dict[str, Any]:
    """Joint's answer ``res`` against the parameter-aware and the sequential schemes' own
    answers (docs/algorithms.md 3.6): the first faster than ``res`` (and the other candidate)
    by more than CANDIDATE_MARGIN, relative, replaces its loads, bandwidth and latencies."""
    for scheme in ("parameter_aware", "sequential"):
        other = allocate_general(scheme, beta, compute, alpha, tau, group, n_groups, params,
                                 bandwidth, None, None, tol, None)
        assert other is not None  # without a report the solve always answers
        if other["status"] == STATUS_OK and other["latency"] < res["latency"] * (
                1.0 - CANDIDATE_MARGIN):
            res = {**res, "loads": other["loads"], "bandwidth": other["bandwidth"],
                   "worker_latency": other["worker_latency"], "latency": other["latency"]}
    return res


def allocate_general(scheme: str, beta: np.ndarray, compute: np.ndarray,
                     alpha: np.ndarray | None, tau: np.ndarray | None, group: np.ndarray | None,
                     n_groups: int, params: float, bandwidth: float, loads_in: Any,
                     bandwidth_in: Any, tol: float, used: str | None,
                     report: NewtonReport | None = None) -> dict[str, Any] | None:
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
