"""What the Python layer adds to a small solve (validation must not dominate at
K = 100): ``paba.allocate`` on a prebuilt System against the private binding it calls
(``paba._core.allocate``, which allocates the outputs and runs the kernel), joint scheme, exact
method. Both answers are checked against the reference before timing.

Run: python -m pytest bench/test_python_layer.py --benchmark-enable --benchmark-group-by=group
(the summary prints each time over the binding's).
"""

import functools

import pytest

import paba
import paba._core
from paba.testing import assert_allocations_close
from peers import instance


@pytest.mark.parametrize("K", [100, 1000])
@pytest.mark.parametrize("name", ["kernel binding", "paba.allocate"])
def test_python_layer(benchmark, record_timing, name, K):
    system = instance(K)
    expected = paba.allocate(system, "joint", backend="reference")
    if name == "paba.allocate":
        call = functools.partial(paba.allocate, system, "joint")
        assert_allocations_close(call(), expected, 1e-9)
    else:
        k = system._kernel
        call = functools.partial(paba._core.allocate, "joint", k.beta, k.compute, k.alpha, k.tau,
                                 k.groups, k.n_groups, k.params, k.bandwidth)
        result = call()
        assert result["method"] == "exact"
        assert result["relaxed_latency"] == pytest.approx(expected.relaxed_latency, rel=1e-9)
        assert (result["loads"] == expected.loads).all()
    group = f"python layer / joint exact, K = {K}"
    benchmark.group = group
    benchmark(call)
    record_timing(group, name, benchmark)
