"""The joint scheme side by side with what a user would otherwise run (targets):

- K = 1000: native exact, native nested bisection, the NumPy reference of each, cvxpy with
  Clarabel (construction and solve, bench/peers.py);
- K = 10^6: native exact against the NumPy floor ``np.sqrt(beta * compute).sum()``.

Each benchmark checks its answer against the reference before it is timed. With timing off (the
test command's ``--benchmark-disable``) the floor comparison runs at K = 10^5 to stay fast.

Run: python -m pytest bench/test_joint.py --benchmark-enable --benchmark-group-by=group
(bench/compare.py measures the whole table in one run.)
"""

import functools

import numpy as np
import pytest

import paba
from paba.testing import assert_allocations_close
from peers import cvxpy_joint_latency, instance, numpy_floor

EXACT_RTOL = 1e-9       # exact against the reference exact method and against the bisection
BISECTION_RTOL = 1e-8   # the two backends' bisections: 10 tol (paba.testing)
CVXPY_RTOL = 1e-4

METHODS = {  # name: (method, backend)
    "exact": ("exact", "native"),
    "bisection": ("bisection", "native"),
    "reference exact": ("exact", "reference"),
    "reference bisection": ("bisection", "reference"),
}


@functools.cache
def solved(K: int, method: str, backend: str):
    """(system, allocation) of the benchmark instance of K workers, solved once per session."""
    system = instance(K)
    return system, paba.allocate(system, "joint", method=method, backend=backend)


@pytest.mark.parametrize("name", [*METHODS, "cvxpy"])
def test_joint_1000_workers(benchmark, record_timing, name):
    K = 1000
    system, expected = solved(K, "exact", "reference")
    if name == "cvxpy":
        pytest.importorskip("cvxpy")
        call = functools.partial(cvxpy_joint_latency, system)
        assert call() == pytest.approx(expected.relaxed_latency, rel=CVXPY_RTOL)
    else:
        method, backend = METHODS[name]
        call = functools.partial(paba.allocate, system, "joint", method=method, backend=backend)
        result = call()
        assert result.method == method
        if method == "exact":
            assert_allocations_close(result, expected, EXACT_RTOL)
        else:
            assert result.relaxed_latency == pytest.approx(expected.relaxed_latency,
                                                           rel=EXACT_RTOL)
            assert_allocations_close(result, solved(K, "bisection", "reference")[1],
                                     BISECTION_RTOL, load_slack=1)
    benchmark.group = f"joint, K = {K}"
    benchmark(call)
    record_timing(benchmark.group, name, benchmark)


@pytest.mark.parametrize("name", ["exact", "floor"])
def test_joint_million_workers_against_the_floor(benchmark, record_timing, name):
    K = 10**5 if benchmark.disabled else 10**6
    system, expected = solved(K, "exact", "reference")
    beta, compute = system.beta, system.compute
    if name == "floor":
        call = functools.partial(numpy_floor, beta, compute)
        assert call() == pytest.approx(np.sum(np.sqrt(beta) * np.sqrt(compute)), rel=1e-12)
    else:
        call = functools.partial(paba.allocate, system, "joint", method="exact")
        assert_allocations_close(call(), expected, EXACT_RTOL)
    benchmark.group = f"joint, K = {K:,}, against the NumPy floor"
    benchmark(call)
    record_timing(benchmark.group, name, benchmark)
