"""Batch throughput (targets): ``paba.allocate_batch`` on instances of K = 100 workers
(Rayleigh-faded iterations of one cell, bench/peers.py) with 1 and 2 threads; target: at least
100,000 instances per second on 1 thread, and 2 threads at least 1.7x of 1.

Each benchmark checks its answer first: the first instances against the NumPy reference one by
one, and 2 threads bit-identical to 1 thread. With timing off (the test command) the batch has
1,000 instances instead of 20,000.

Run: python -m pytest bench/test_batch_throughput.py --benchmark-enable --benchmark-group-by=group
"""

import functools

import numpy as np
import pytest

import paba
from paba.testing import assert_allocations_close
from peers import batch_instances

K = 100
CHECKED = 20  # instances checked against the reference, one by one


@functools.cache
def instances(M: int):
    return batch_instances(K, M)


@functools.cache
def single_thread(M: int):
    return paba.allocate_batch(*instances(M), n_threads=1)


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_100_workers(benchmark, record_timing, threads):
    M = 1000 if benchmark.disabled else 20_000
    beta, compute, params, bandwidth = instances(M)
    call = functools.partial(paba.allocate_batch, beta, compute, params, bandwidth,
                             n_threads=threads)
    result = call()
    assert len(result) == M and result.method[0] == "exact"
    if threads == 1:
        for i in range(CHECKED):
            system = paba.System(beta[i], compute[i], params, bandwidth)
            expected = paba.allocate(system, "joint", backend="reference")
            assert_allocations_close(result[i], expected, 1e-9)
    else:
        one = single_thread(M)
        for name in ("loads", "relaxed_loads", "bandwidth", "latency", "relaxed_latency"):
            np.testing.assert_array_equal(getattr(result, name), getattr(one, name),
                                          err_msg=name)
    benchmark.group = f"batch, {M:,} instances of K = {K}"
    benchmark.extra_info["instances"] = M
    benchmark(call)
    record_timing(benchmark.group, f"{threads} thread" + ("s" if threads > 1 else ""), benchmark)
    if benchmark.stats is not None:
        benchmark.extra_info["instances_per_second"] = M / benchmark.stats.stats.median
