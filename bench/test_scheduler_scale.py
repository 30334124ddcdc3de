"""Scale of the online scheduler: 10,000 iterations of 1,000 Rayleigh-faded workers with the
joint scheme, through the batch path (channels drawn in chunks, paba.allocate_batch, realised
latencies evaluated in NumPy), keeping per-iteration summaries only.

Run: python -m pytest bench/test_scheduler_scale.py --benchmark-enable
(with timing off, as in the test command, it runs a 100-iteration smoke version).
"""

import numpy as np

import paba


def test_scheduler_joint_10000_iterations_1000_workers(benchmark):
    iterations = 100 if benchmark.disabled else 10_000
    scenario = paba.Scenario.default(n_workers=1000, params=10**8, seed=1)

    def run():
        return paba.Scheduler(scenario, "joint", iterations=iterations,
                              record="summary").run(batch=True)

    benchmark.group = "scheduler / joint, 1,000 workers"
    history = benchmark.pedantic(run, rounds=1, iterations=1)
    assert history.completed == iterations and np.all(np.isfinite(history.latency))
    # The answer check: the first iterations through the per-iteration path (paba.allocate).
    check = paba.Scheduler(scenario, "joint", iterations=3).run(batch=False)
    np.testing.assert_allclose(history.latency[:3], check.latency, rtol=1e-7)
