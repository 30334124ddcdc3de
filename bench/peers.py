"""The benchmark instances and the peers a user would otherwise run, shared by bench/compare.py
and the pytest-benchmark files in bench/.

- ``instance(K)``: one static cell of K workers (one worker per group, alpha = tau = 0, so the
  exact joint method applies).
- ``numpy_floor``: the practical floor of any joint solver, one NumPy pass that reads both inputs
  and takes one square root per worker.
- ``cvxpy_joint_latency``: the joint optimum of the basic model written for cvxpy and solved by
  Clarabel, the general-solver peer.
"""

from __future__ import annotations

import warnings

import numpy as np

import paba

#: Model size (parameters), pool (Hz) and seed of every benchmark instance.
PARAMS = 10**8
BANDWIDTH = 10e6
SEED = 0


def instance(n_workers: int) -> paba.System:
    """``paba.static_cell(n_workers, params=PARAMS, bandwidth=BANDWIDTH, seed=SEED)``."""
    return paba.static_cell(n_workers, params=PARAMS, bandwidth=BANDWIDTH, seed=SEED)


def numpy_floor(beta: np.ndarray, compute: np.ndarray) -> float:
    """One pass over the inputs with one square root per worker: what no joint solver beats by
    much, since the exact method's price depends on sqrt(beta_k) / compute_k of every worker."""
    return np.sqrt(beta * compute).sum()


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
