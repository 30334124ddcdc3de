"""The joint scheme against a general convex solver (cvxpy with Clarabel).

For a fixed latency T the model-size problem is convex (docs/algorithms.md 3.5); in normalised units
(x_n = L_n / L, b_k = B_k / B, a_k = beta_k L / B, e_k = c_k L, f_k = alpha_k / B):

    phi(T) = max sum_n x_n  s.t.  x_n <= (T - tau_k) / e_k - ((T - tau_k) a_k / e_k + f_k)
                                          / (a_k + e_k b_k)   for every member k of group n,
                                  sum_k b_k <= 1,  b >= 0,  x >= 0,

and T* = min {T : phi(T) >= 1}, found here by an independent bisection.
"""

import functools
import warnings

import numpy as np
import pytest

import paba
from paba import static_cell

cp = pytest.importorskip("cvxpy")


def phi(system, T):
    L, B = system.params, system.bandwidth
    a = system.beta * L / B
    e = system.compute * L
    f = system.alpha / B
    tau = system.tau
    x = cp.Variable(system.n_groups, nonneg=True)
    b = cp.Variable(system.n_workers, nonneg=True)
    constraints = [cp.sum(b) <= 1]
    for n in range(system.n_groups):
        members = np.flatnonzero(system.groups == n)
        if np.any(tau[members] >= T):  # a member cannot finish by T: the group sits out
            constraints.append(x[n] == 0)
            continue
        for k in members:
            u = T - tau[k]
            constraints.append(
                x[n] <= u / e[k] - (u * a[k] / e[k] + f[k]) * cp.inv_pos(a[k] + e[k] * b[k]))
    problem = cp.Problem(cp.Maximize(cp.sum(x)), constraints)
    with warnings.catch_warnings():  # "optimal_inaccurate" is accepted and tolerated below
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL)
    assert problem.status in ("optimal", "optimal_inaccurate"), problem.status
    return problem.value


@functools.cache
def cvxpy_joint_latency(name, rtol=1e-7):
    system = INSTANCES[name]
    hi = paba.allocate(system, "equal").relaxed_latency  # feasible
    lo = 0.0
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        if phi(system, mid) >= 1.0:
            hi = mid
        else:
            lo = mid
    return hi


def small_instances():
    rng = np.random.default_rng(7)
    yield "basic", paba.System(rng.uniform(2, 40, 5), rng.uniform(1e-6, 1e-5, 5), 10**6, 1e7)
    yield "groups", paba.System(rng.uniform(2, 40, 6), rng.uniform(1e-6, 1e-5, 6), 10**6, 1e7,
                                groups=[0, 0, 1, 2, 2, 2])
    yield "tau", paba.System(rng.uniform(2, 40, 5), rng.uniform(1e-6, 1e-5, 5), 10**6, 1e7,
                             tau=rng.uniform(0, 1.0, 5))
    yield "small_alpha", paba.System(rng.uniform(2, 40, 4), rng.uniform(1e-6, 1e-5, 4), 10**6,
                                     1e7, alpha=rng.uniform(0, 1e4, 4), tau=[0.1, 0, 0.2, 0])
    yield "hopeless_channel", paba.System([8, 8, 8, 8e4], [2e-6] * 4, 10**6, 1e7)
    yield "default_cell", static_cell(6, seed=3)


INSTANCES = dict(small_instances())


@pytest.mark.parametrize("name", list(INSTANCES))
def test_joint_agrees_with_cvxpy(name, backend):
    system = INSTANCES[name]
    joint = paba.allocate(system, "joint", backend=backend)
    expected = cvxpy_joint_latency(name)
    assert joint.relaxed_latency == pytest.approx(expected, rel=1e-4)
