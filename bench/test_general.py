"""The general joint problem (alpha, tau; one worker per group or groups of 1 to 10) at
K = 1000: ``paba.allocate(system, "joint")`` (method auto) on a prebuilt System,
against the exact method on the basic instance of the same K (the baseline: target at most 5x
for singletons and 10x for groups), ``numpy_general_joint`` and cvxpy with Clarabel
(bench/peers.py).

Each benchmark checks its answer first: against ``method="bisection", tol=1e-12``. With timing
off (the test command's ``--benchmark-disable``) cvxpy runs at K = 100 to stay fast.

Run: python -m pytest bench/test_general.py --benchmark-enable --benchmark-group-by=group
(bench/compare.py measures the same, and more sizes, in one run.)
"""

import functools

import pytest

import paba
from peers import (
    CVXPY_BISECTION_RTOL,
    cvxpy_general_latency,
    general_instance,
    instance,
    numpy_general_joint,
)

K = 1000
GENERAL_RTOL = 1e-8        # paba against the bisection at tol 1e-12: 10 times the default tol
NUMPY_GENERAL_RTOL = 1e-6  # numpy_general_joint against the same (it agrees to about 1e-12)


@functools.cache
def solved(n_workers: int, groups: bool):
    """(system, relaxed latency of the bisection at tol 1e-12), once per session."""
    system = general_instance(n_workers, groups)
    expected = paba.allocate(system, "joint", method="bisection", tol=1e-12)
    return system, expected.relaxed_latency


@pytest.mark.parametrize("name", ["paba", "exact", "numpy", "cvxpy"])
@pytest.mark.parametrize("groups", [False, True], ids=["singletons", "groups"])
def test_general_1000_workers(benchmark, record_timing, groups, name):
    n_workers = 100 if name == "cvxpy" and benchmark.disabled else K
    system, expected = solved(n_workers, groups)
    if name == "paba":
        call = functools.partial(paba.allocate, system, "joint")
        assert call().relaxed_latency == pytest.approx(expected, rel=GENERAL_RTOL)
    elif name == "exact":  # the baseline: the basic instance of the same K
        basic = instance(n_workers)
        call = functools.partial(paba.allocate, basic, "joint", method="exact")
        assert call().method == "exact"
    elif name == "numpy":
        k = system._kernel
        alpha, tau, group_ids = k.alpha, k.tau, k.groups
        call = functools.partial(numpy_general_joint, system.beta, system.compute,
                                 system.params, system.bandwidth, group_ids, alpha, tau)
        assert call() == pytest.approx(expected, rel=NUMPY_GENERAL_RTOL)
    else:
        pytest.importorskip("cvxpy")
        call = functools.partial(cvxpy_general_latency, system)
        # A bisection to CVXPY_BISECTION_RTOL above a lower bound (bench/peers.py).
        assert expected * (1 - 1e-3) <= call() <= expected * (1 + 2 * CVXPY_BISECTION_RTOL)
    benchmark.group = (f"general, {'groups of 1-10' if groups else 'singletons'}, "
                       f"K = {n_workers:,}")
    benchmark(call)
    record_timing(benchmark.group, name, benchmark)
