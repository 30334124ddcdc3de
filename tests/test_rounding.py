"""Integer loads (docs/algorithms.md 3.6): the native rounding hands out the parameters left after
the floors exactly as a heap over the groups would (the reference twin's rule), ties to the
lowest id, on instances built to reach each of its paths: one selection (no group wins a second
parameter), a second selection among the few later parameters that could win, and the heap."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paba

SCHEMES = ("joint", "sequential", "bandwidth_aware")


def _both(system, scheme):
    native = paba.allocate(system, scheme, backend="native")
    reference = paba.allocate(system, scheme, backend="reference")
    return native, reference


def _same_loads(system, scheme):
    native, reference = _both(system, scheme)
    np.testing.assert_array_equal(native.loads, reference.loads)
    assert int(native.loads.sum()) == system.params
    return native


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("K, params", [(7, 10), (8, 1001), (64, 100), (300, 12_345), (1000, 999)])
def test_identical_workers_tie_by_id(scheme, K, params):
    # Every next-parameter latency ties: the remainder goes to the lowest ids, one each.
    system = paba.System(np.full(K, 8.0), np.full(K, 2e-6), params=params, bandwidth=1e7)
    loads = _same_loads(system, scheme).loads
    floor, remainder = divmod(params, K)
    np.testing.assert_array_equal(loads, floor + (np.arange(K) < remainder))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("levels", [2, 3, 5])
def test_a_few_distinct_speeds_tie_within_each(scheme, levels):
    # Workers in a few classes of equal speed: ties inside each class, across the cut-off.
    K = 240
    rng = np.random.default_rng(levels)
    kind = rng.integers(0, levels, K)
    beta = np.array([4.0, 8.0, 16.0, 32.0, 64.0])[kind]
    compute = np.array([1e-6, 3e-6, 2e-6, 5e-6, 4e-6])[kind]
    for params in (K + 7, 10 * K + 3, 1000 * K + 11):
        _same_loads(paba.System(beta, compute, params=params, bandwidth=1e7), scheme)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("spread", [10.0, 1e3, 1e6])
def test_fast_workers_win_several_parameters(scheme, spread):
    # Speeds over several decades and a model barely larger than the workers: the fastest win
    # their second, third, ... parameters (the second selection, or the heap when they are many).
    K = 120
    rng = np.random.default_rng(int(spread))
    compute = np.exp(rng.uniform(0.0, np.log(spread), K)) * 1e-7
    beta = np.exp(rng.uniform(0.0, np.log(spread), K))
    for params in (K // 2, K + 1, 3 * K, 50 * K + 17):
        _same_loads(paba.System(beta, compute, params=params, bandwidth=1e7), scheme)


@settings(max_examples=60, deadline=None)
@given(K=st.integers(1, 40), params=st.integers(1, 400), classes=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_rounding_matches_the_reference(K, params, classes, seed):
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, classes, K)
    beta = np.exp(rng.uniform(0.0, 4.0, classes))[kind]
    compute = np.exp(rng.uniform(-14.0, -10.0, classes))[kind]
    system = paba.System(beta, compute, params=params, bandwidth=1e7)
    for scheme in SCHEMES:
        _same_loads(system, scheme)
