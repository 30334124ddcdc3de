"""The peers of bench/compare.py answer the same problem as paba: the NumPy solutions of the
basic and the general joint problem against ``paba.allocate`` on the test corpus and on the
benchmark instances, and cvxpy's general model against paba on small instances.

(bench/compare.py repeats these checks at every size it times, before timing.)
"""

import numpy as np
import pytest

import paba
from paba.testing import CORPUS_NAMES, corpus_instance
from peers import (
    CVXPY_BISECTION_RTOL,
    basic_arrays,
    cvxpy_general_latency,
    general_instance,
    instance,
    numpy_basic_joint,
    numpy_general_joint,
)

BASIC_RTOL = 1e-9     # the exact method is exact to rounding (docs/algorithms.md 4)
GENERAL_RTOL = 1e-9   # against the bisection at tol = 1e-12


def is_basic(system: paba.System) -> bool:
    k = system._kernel
    alpha, tau, groups = k.alpha, k.tau, k.groups
    return alpha is None and tau is None and groups is None


def general_arguments(system: paba.System):
    """The arguments of numpy_general_joint, as a user holding the arrays would pass them."""
    k = system._kernel
    alpha, tau, groups = k.alpha, k.tau, k.groups
    return (system.beta, system.compute, system.params, system.bandwidth, groups, alpha, tau)


@pytest.mark.parametrize("name", [n for n in CORPUS_NAMES if is_basic(corpus_instance(n))])
def test_numpy_basic_joint_on_the_corpus(name):
    system = corpus_instance(name)
    expected = paba.allocate(system, "joint", method="exact")
    got = numpy_basic_joint(system.beta, system.compute, system.params, system.bandwidth)
    assert got.latency == pytest.approx(expected.relaxed_latency, rel=BASIC_RTOL)
    np.testing.assert_allclose(got.loads, expected.relaxed_loads, rtol=0,
                               atol=BASIC_RTOL * system.params)
    assert got.loads.sum() == pytest.approx(system.params, rel=1e-12)
    assert got.bandwidth.sum() == pytest.approx(system.bandwidth, rel=1e-12)


@pytest.mark.parametrize("K", [10, 100, 1000, 10**4])
def test_numpy_basic_joint_on_the_benchmark_instances(K):
    beta, compute, params, bandwidth = basic_arrays(K)
    expected = paba.allocate(instance(K), "joint", method="exact")
    got = numpy_basic_joint(beta, compute, params, bandwidth)
    assert got.latency == pytest.approx(expected.relaxed_latency, rel=BASIC_RTOL)
    assert np.array_equal(got.loads > 0, expected.relaxed_loads > 0)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_numpy_general_joint_on_the_corpus(name):
    system = corpus_instance(name)
    expected = paba.allocate(system, "joint", method="bisection", tol=1e-12)
    got = numpy_general_joint(*general_arguments(system))
    assert got == pytest.approx(expected.relaxed_latency, rel=GENERAL_RTOL)


@pytest.mark.parametrize("groups", [False, True], ids=["singletons", "groups"])
@pytest.mark.parametrize("K", [10, 100, 1000])
def test_numpy_general_joint_on_the_benchmark_instances(K, groups):
    system = general_instance(K, groups)
    assert np.any(system.alpha > 0) and np.any(system.tau > 0)
    assert (system.n_groups < K) == groups
    expected = paba.allocate(system, "joint", method="bisection", tol=1e-12)
    got = numpy_general_joint(*general_arguments(system))
    assert got == pytest.approx(expected.relaxed_latency, rel=GENERAL_RTOL)


def test_the_general_instances_matter():
    """alpha and tau raise the optimum by a few percent, groups take 1 to 10 workers."""
    system = general_instance(1000, groups=False)
    plain = system.replace(alpha=None, tau=None)
    ratio = (paba.allocate(system, "joint").relaxed_latency
             / paba.allocate(plain, "joint").relaxed_latency)
    assert 1.005 < ratio < 1.2
    sizes = np.bincount(general_instance(1000, groups=True).groups)
    assert sizes.min() >= 1 and sizes.max() <= 10 and 2.5 < sizes.mean() < 3.5


@pytest.mark.parametrize("groups", [False, True], ids=["singletons", "groups"])
def test_cvxpy_general_latency(groups):
    pytest.importorskip("cvxpy")
    system = general_instance(30, groups)
    expected = paba.allocate(system, "joint", method="bisection", tol=1e-12).relaxed_latency
    got = cvxpy_general_latency(system)
    # The bisection stops within its rtol above the relaxation's latency, a lower bound.
    assert expected * (1 - 1e-3) <= got <= expected * (1 + 2 * CVXPY_BISECTION_RTOL)
