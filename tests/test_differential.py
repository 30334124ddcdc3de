"""Native kernels against their NumPy reference twin: same loads, latencies within 1e-9."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import paba
from paba.testing import CORPUS_NAMES, assert_backends_agree, corpus_instance
from strategies import systems


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_corpus(name, scheme):
    allocation = assert_backends_agree(corpus_instance(name), scheme)
    assert allocation.converged


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@given(system=systems())
def test_random_instances(scheme, system):
    assert_backends_agree(system, scheme)


@given(system=systems(), data=st.data())
def test_given_loads(system, data):
    weights = np.array(data.draw(st.lists(st.integers(0, 5), min_size=system.n_groups,
                                          max_size=system.n_groups)))
    if weights.sum() == 0:
        weights[0] = 1
    loads = np.floor(weights / weights.sum() * system.params).astype(np.int64)
    loads[np.argmax(weights)] += system.params - loads.sum()
    assert_backends_agree(system, "parameter_aware", loads=loads)


@given(system=systems(), data=st.data())
def test_given_bandwidth(system, data):
    weights = np.array(data.draw(st.lists(st.integers(0, 5), min_size=system.n_workers,
                                          max_size=system.n_workers)))
    if weights.sum() == 0:
        weights[-1] = 1
    bandwidth = weights / weights.sum() * system.bandwidth * 0.999
    try:
        assert_backends_agree(system, "bandwidth_aware", bandwidth=bandwidth)
    except paba.InfeasibleError:
        # Both backends refused: only when every group has a member without bandwidth.
        members_ok = np.ones(system.n_groups, dtype=bool)
        np.logical_and.at(members_ok, system.groups, bandwidth > 0)
        assert not members_ok.any()


@given(system=systems(), data=st.data())
def test_evaluate(system, data):
    loads = paba.allocate(system, "equal").loads
    scale = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=system.n_workers,
                                        max_size=system.n_workers)))
    bandwidth = scale / max(scale.sum(), 1.0) * system.bandwidth
    native = paba.evaluate(system, loads, bandwidth, backend="native")
    reference = paba.evaluate(system, loads, bandwidth, backend="reference")
    np.testing.assert_allclose(native.worker_latency, reference.worker_latency, rtol=1e-12)
    assert native.latency == pytest.approx(reference.latency, rel=1e-12)


def test_environment_variable_selects_backend(monkeypatch):
    system = corpus_instance("default_cell")
    monkeypatch.setenv("PABA_BACKEND", "reference")
    assert paba.allocate(system).backend == "reference"
    assert paba.allocate(system, backend="native").backend == "native"
    monkeypatch.setenv("PABA_BACKEND", "native")
    assert paba.allocate(system).backend == "native"
    monkeypatch.delenv("PABA_BACKEND")
    assert paba.allocate(system).backend == "native"
