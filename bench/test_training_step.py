"""What one iteration of partitioned training costs, and how much of it is paba's: the
allocation (scheduler, joint scheme, rounding to the MLP's neurons) and the dealing of units into
blocks, against the whole iteration (those plus every loaded worker's gradient, the cascade and
the optimiser step, and the test evaluation). Default MLP (1,126,410 parameters) on digits, 20
workers, Rayleigh fading.

Run: python -m pytest bench/test_training_step.py --benchmark-enable
(with timing off, as in the test command, each runs once and checks its answer).
"""

import numpy as np
import pytest
import torch

import paba
from paba.training import (
    ModelPartition,
    PartitionedTrainer,
    build_model,
    load_dataset,
    make_scheduler,
    shard,
)

GROUP = "training / MLP 1.1M, 20 workers, joint"


@pytest.fixture(scope="module")
def setting():
    data = load_dataset("digits", seed=0)
    shards = shard(data.y_train, 20, seed=0)
    model = build_model("mlp", data.n_features, data.n_classes, seed=0)
    partition = ModelPartition(model)
    scheduler = make_scheduler(partition, paba.Scenario.default(seed=0), "joint", shards,
                               max_iterations=100_000)
    return data, shards, model, partition, scheduler


def test_allocation_and_partition(benchmark, setting, record_timing):
    _, _, _, partition, scheduler = setting
    run = iter(scheduler)
    rng = np.random.default_rng(0)

    def one():
        record = next(run)
        owner = partition.assign(record.unit_counts, rng)
        return record, partition.blocks(owner, scheduler.n_groups)

    benchmark.group = GROUP
    record, blocks = benchmark(one)
    sizes = [int(block.numel()) for block in blocks]
    assert sizes == record.loads.tolist()
    assert torch.equal(torch.sort(torch.cat(blocks)).values,
                       torch.arange(partition.n_params))
    record_timing(GROUP, "allocation and partition", benchmark)


def test_whole_iteration(benchmark, setting, record_timing):
    data, shards, model, _, scheduler = setting
    trainer = PartitionedTrainer(model, data, scheduler, shards)
    trainer.step()  # the initial evaluation happens once, outside the timing
    before = trainer._state.result.iterations

    benchmark.group = GROUP
    assert benchmark.pedantic(trainer.step, rounds=5 if not benchmark.disabled else 1,
                              iterations=1)
    result = trainer._state.result
    assert result.iterations > before
    assert np.isfinite(result.test_loss[-1]) and result.learning_latency > 0
    record_timing(GROUP, "whole iteration", benchmark)
