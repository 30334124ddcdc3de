"""Time per solve of every scheme, native and reference, on corpus instances.

Run: python -m pytest bench/ --benchmark-enable --benchmark-group-by=group
"""

import pytest

import paba
from paba.testing import assert_allocations_close, corpus_instance

INSTANCES = ["default_cell", "many_workers", "groups_of_three", "alpha_tau"]


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("name", INSTANCES)
def test_allocate(benchmark, record_timing, name, scheme, backend):
    system = corpus_instance(name)
    expected = paba.allocate(system, scheme, backend="reference")
    assert_allocations_close(paba.allocate(system, scheme, backend=backend), expected)
    benchmark.group = f"{name} / {scheme}"
    result = benchmark(paba.allocate, system, scheme, backend=backend)
    assert_allocations_close(result, expected)
    record_timing(benchmark.group, backend, benchmark)


@pytest.mark.parametrize("backend", ["native", "reference"])
def test_evaluate(benchmark, record_timing, backend):
    system = corpus_instance("many_workers")
    allocation = paba.allocate(system, "joint")
    benchmark.group = "many_workers / evaluate"
    result = benchmark(paba.evaluate, system, allocation.loads, allocation.bandwidth,
                       backend=backend)
    assert result.latency == pytest.approx(allocation.latency, rel=1e-12)
    record_timing(benchmark.group, backend, benchmark)
