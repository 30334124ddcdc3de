"""paba.training: the model's units and their partition into blocks (ModelPartition), the cascaded
block-coordinate update (PartitionedTrainer), budgets, determinism, checkpoints and validation.

Models are small perceptrons built here (seeded), so the file runs in seconds on two cores."""

import copy
import math
import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import paba
from paba.training import (
    ModelPartition,
    PartitionedTrainer,
    TrainingResult,
    load_dataset,
    make_scheduler,
    shard,
    synthetic,
    train,
)


def mlp(n_in=8, hidden=16, n_out=3, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, n_out))


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


@pytest.fixture(scope="module")
def data():
    return synthetic(n_samples=300, n_features=8, n_classes=3, seed=0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def without_wall(result):
    out = result.to_dict()
    del out["wall_seconds"]
    return out


# -- ModelPartition ---------------------------------------------------------------------------


def test_units_of_a_perceptron_are_rows_with_their_bias():
    model = mlp()
    partition = ModelPartition(model)
    assert partition.n_params == sum(p.numel() for p in model.parameters()) == 195
    assert partition.n_units == 19
    np.testing.assert_array_equal(partition.unit_sizes, [9] * 16 + [17] * 3)
    np.testing.assert_array_equal(partition.granules.sizes, [17, 9])
    np.testing.assert_array_equal(partition.granules.counts, [3, 16])
    assert partition.granules.total == 195
    # Flat order: weight 1 (16 x 8), bias 1 (16), weight 2 (3 x 16), bias 2 (3).
    expected = np.concatenate([np.repeat(np.arange(16), 8), np.arange(16),
                               16 + np.repeat(np.arange(3), 16), 16 + np.arange(3)])
    np.testing.assert_array_equal(partition.unit_of_element.numpy(), expected)


def test_parameter_granularity_makes_every_element_a_unit():
    partition = ModelPartition(mlp(), granularity="parameter")
    assert partition.n_params == partition.n_units == 195
    np.testing.assert_array_equal(partition.unit_sizes, np.ones(195))
    assert partition.granules.trivial
    np.testing.assert_array_equal(partition.unit_of_element.numpy(), np.arange(195))


class Odd(torch.nn.Module):
    """A linear layer, a frozen one, a bias-free one, a convolution, a per-output scale (1-D) and
    a free 2-D parameter: the last two are not paired with a weight and split along axis 0."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(4, 3)
        self.frozen = torch.nn.Linear(3, 3)
        self.frozen.requires_grad_(False)
        self.scale = torch.nn.Parameter(torch.ones(3))
        self.table = torch.nn.Parameter(torch.zeros(5, 2))
        self.nobias = torch.nn.Linear(3, 2, bias=False)
        self.conv = torch.nn.Conv2d(2, 4, kernel_size=3)

    def forward(self, x):
        return self.nobias(self.frozen(self.linear(x)) * self.scale)


def test_unpaired_parameters_split_along_their_first_axis():
    model = Odd()
    partition = ModelPartition(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert partition.n_params == sum(p.numel() for p in trainable) == 15 + 3 + 10 + 6 + 76
    sizes = partition.unit_sizes
    # Units of paired rows are numbered first (in module order), then the unpaired slices.
    np.testing.assert_array_equal(sizes, [5] * 3 + [3] * 2 + [19] * 4 + [1] * 3 + [2] * 5)
    np.testing.assert_array_equal(partition.granules.sizes, [19, 5, 3, 2, 1])
    assert int(sizes.sum()) == partition.n_params
    # Flat order: Odd's own parameters (scale, table), then the children's (frozen left out).
    expected = np.concatenate([
        9 + np.arange(3),                       # scale: one element per unit
        12 + np.repeat(np.arange(5), 2),        # table: rows of 2
        np.repeat(np.arange(3), 4),             # linear.weight rows ...
        np.arange(3),                           # ... with linear.bias
        3 + np.repeat(np.arange(2), 3),         # nobias.weight rows alone
        5 + np.repeat(np.arange(4), 18),        # conv.weight output channels ...
        5 + np.arange(4)])                      # ... with conv.bias
    np.testing.assert_array_equal(partition.unit_of_element.numpy(), expected)


@pytest.mark.parametrize("granularity", ["layer", "Unit", None, 1])
def test_partition_rejects_an_unknown_granularity(granularity):
    with pytest.raises(ValueError, match="^granularity:"):
        ModelPartition(mlp(), granularity=granularity)


def test_partition_rejects_a_bad_model():
    with pytest.raises(ValueError, match="^model:"):
        ModelPartition([torch.nn.Parameter(torch.ones(3))])
    with pytest.raises(ValueError, match="^model:"):
        ModelPartition(torch.nn.ReLU())
    frozen = mlp()
    frozen.requires_grad_(False)
    with pytest.raises(ValueError, match="^model:"):
        ModelPartition(frozen)


def test_assign_and_blocks():
    partition = ModelPartition(mlp())
    counts = np.array([[1, 5], [0, 0], [2, 11]])
    owner = partition.assign(counts, np.random.default_rng(1))
    assert owner.shape == (19,)
    np.testing.assert_array_equal(np.bincount(owner[partition.unit_sizes == 17], minlength=3),
                                  counts[:, 0])
    np.testing.assert_array_equal(np.bincount(owner[partition.unit_sizes == 9], minlength=3),
                                  counts[:, 1])
    blocks = partition.blocks(owner, 3)
    check_blocks(partition, blocks, counts @ partition.granules.sizes)
    # The deal is random: another generator state deals other units.
    again = partition.assign(counts, np.random.default_rng(2))
    assert not np.array_equal(owner, again)
    with pytest.raises(ValueError, match="^unit_counts:"):
        partition.assign(counts[:, :1], np.random.default_rng(1))
    with pytest.raises(ValueError, match="^unit_counts:"):
        partition.assign(np.array([[1, 5], [1, 11]]), np.random.default_rng(1))
    with pytest.raises(ValueError, match="^unit_counts:"):
        partition.assign(np.array([[4, 5], [-1, 11]]), np.random.default_rng(1))


def check_blocks(partition, blocks, group_loads):
    """Blocks are sorted int64 index tensors, disjoint, covering 0..L-1, of whole units, with the
    group loads as sizes."""
    L = partition.n_params
    assert len(blocks) == len(group_loads)
    assert [int(b.numel()) for b in blocks] == [int(x) for x in group_loads]
    for block in blocks:
        assert block.dtype == torch.int64
        assert torch.all(block[1:] > block[:-1])
    everything = torch.cat(blocks)
    assert torch.equal(torch.sort(everything).values, torch.arange(L))
    units = partition.unit_of_element
    for block in blocks:
        inside = torch.zeros(L, dtype=torch.bool)
        inside[block] = True
        held = torch.unique(units[block])
        # Every element of a held unit is in the block.
        assert torch.all(inside[torch.isin(units, held)])


# -- the blocks and the cascaded update of real iterations ------------------------------------


def capture_blocks(trainer):
    """Record the blocks the trainer uses (the partition's answers, unchanged)."""
    captured = []
    original = trainer.partition.blocks

    def blocks(owner, n_groups):
        result = original(owner, n_groups)
        captured.append(result)
        return result

    trainer.partition.blocks = blocks
    return captured


def group_loads(record, n_groups, groups):
    """Each group's load: its members share it; absent members hold none."""
    return np.array([record.loads[groups == n].max() for n in range(n_groups)])


@pytest.mark.parametrize("scheme", ["joint", "equal"])
def test_every_parameter_is_in_exactly_one_block(data, scheme):
    K = 5
    shards = shard(data.y_train, K, seed=1)
    scenario = paba.Scenario.default(n_workers=K, seed=4)
    model = mlp()
    partition = ModelPartition(model)
    options = dict(availability=0.7, csi="noisy")
    scheduler = make_scheduler(partition, scenario, scheme, shards, max_iterations=8, **options)
    trainer = PartitionedTrainer(model, data, scheduler, shards, seed=5)
    captured = capture_blocks(trainer)
    result = trainer.run(budget=None)
    assert result.stopped == "iterations"
    # The same scheduler, run alongside, gives the records the trainer saw.
    records = [r for r in make_scheduler(ModelPartition(mlp()), scenario, scheme, shards,
                                         max_iterations=8, **options)
               if r.allocation is not None]
    assert len(captured) == len(records) == result.iterations >= 6
    np.testing.assert_array_equal(result.iteration_latency, [r.latency for r in records])
    for blocks, record in zip(captured, records, strict=True):
        loads = group_loads(record, K, np.arange(K))
        np.testing.assert_array_equal(loads, record.unit_counts @ partition.granules.sizes)
        check_blocks(partition, blocks, loads)
    # The partition changes from iteration to iteration.
    assert any(not all(torch.equal(a, b) for a, b in zip(x, y, strict=True))
               for x, y in zip(captured, captured[1:], strict=False))


def own_gradient(model, x, y):
    """Gradient of the mean cross-entropy of (x, y) at ``model`` (flat), computed on a copy."""
    clone = copy.deepcopy(model)
    clone.zero_grad()
    loss = F.cross_entropy(clone(torch.as_tensor(x)), torch.as_tensor(y))
    loss.backward()
    return torch.cat([p.grad.reshape(-1) for p in clone.parameters()])


def unequal_shards(n_train, sizes, seed):
    assert sum(sizes) <= n_train
    order = np.random.default_rng(seed).permutation(n_train)
    cuts = np.cumsum(sizes)[:-1]
    return [np.sort(part) for part in np.split(order[:sum(sizes)], cuts)]


CASCADE_CASES = {
    "one-per-group": dict(sizes=[30, 45, 60, 25], groups=None, granularity="unit",
                          availability=1.0),
    "groups-unequal-shards": dict(sizes=[20, 50, 35, 15, 40, 55, 25], groups=[0, 0, 1, 1, 1,
                                                                               2, 2],
                                  granularity="unit", availability=1.0),
    "groups-churn": dict(sizes=[20, 50, 35, 15, 40, 55, 25], groups=[0, 1, 1, 2, 2, 2, 0],
                         granularity="unit", availability=0.7),
    "parameters": dict(sizes=[30, 45, 60, 25, 40], groups=[0, 0, 1, 2, 2],
                       granularity="parameter", availability=1.0),
}


@pytest.mark.parametrize("case", list(CASCADE_CASES))
def test_cascaded_update_is_the_block_coordinate_step(data, case):
    spec = CASCADE_CASES[case]
    K = len(spec["sizes"])
    shards = unequal_shards(data.n_train, spec["sizes"], seed=3)
    assert [s.size for s in shards] == spec["sizes"]
    groups = np.arange(K) if spec["groups"] is None else np.array(spec["groups"])
    n_groups = int(groups.max()) + 1
    scenario = paba.Scenario.default(n_workers=K, seed=9)
    options = dict(availability=spec["availability"])
    if spec["groups"] is not None:
        options["groups"] = groups
    model = mlp()
    partition = ModelPartition(model, spec["granularity"])
    scheduler = make_scheduler(partition, scenario, "joint", shards, max_iterations=20,
                               **options)
    lr, seed = 0.1, 7
    trainer = PartitionedTrainer(model, data, scheduler, shards, granularity=spec["granularity"],
                                 optimizer="sgd", lr=lr, momentum=0.0, seed=seed)
    captured = capture_blocks(trainer)
    twin = iter(make_scheduler(ModelPartition(mlp(), spec["granularity"]), scenario, "joint",
                               shards, max_iterations=20, **options))
    dealer = np.random.default_rng(seed)
    x, y = data.x_train, data.y_train
    multi_member_groups = 0
    for _ in range(3):
        record = next(twin)
        while record.allocation is None:
            record = next(twin)
        before = copy.deepcopy(model)
        assert trainer.step() is True
        blocks = captured[-1]
        # The blocks are those of dealing the record's unit counts with the seeded generator.
        owner = partition.assign(record.unit_counts, dealer)
        for mine, theirs in zip(partition.blocks(owner, n_groups), blocks, strict=True):
            assert torch.equal(mine, theirs)
        expected = flat(before).clone()
        for n in range(n_groups):
            members = np.flatnonzero((groups == n) & (record.loads > 0))
            if members.size == 0:
                assert blocks[n].numel() == 0
                continue
            multi_member_groups += members.size > 1
            weights = np.array([shards[k].size for k in members], dtype=np.float64)
            weights /= weights.sum()
            gradient = sum(float(w) * own_gradient(before, x[shards[k]], y[shards[k]])
                           for w, k in zip(weights, members, strict=True))
            expected[blocks[n]] -= lr * gradient[blocks[n]]
        got = flat(model)
        assert torch.allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert not torch.equal(got, flat(before))
    if spec["groups"] is not None:
        assert multi_member_groups > 0


def test_worker_gradient_and_cascade_helpers(data):
    shards = unequal_shards(data.n_train, [40, 80], seed=2)
    model = mlp()
    partition = ModelPartition(model)
    scenario = paba.Scenario.default(n_workers=2, seed=1)
    scheduler = make_scheduler(partition, scenario, "joint", shards, groups=[0, 0])
    trainer = PartitionedTrainer(model, data, scheduler, shards, momentum=0.0)
    gradient, loss = trainer.worker_gradient(1)
    torch.testing.assert_close(gradient, own_gradient(model, data.x_train[shards[1]],
                                                      data.y_train[shards[1]]))
    clone = copy.deepcopy(model)
    expected_loss = F.cross_entropy(clone(torch.as_tensor(data.x_train[shards[1]])),
                                    torch.as_tensor(data.y_train[shards[1]])).item()
    assert loss == pytest.approx(expected_loss, rel=1e-6)
    # One group of both workers holding the whole model: the cascade is the data-weighted mean.
    cascade, mean_loss = trainer.cascaded_gradient(np.array([195, 195]),
                                                   [torch.arange(195)])
    g0, l0 = trainer.worker_gradient(0)
    torch.testing.assert_close(cascade, (40 * g0 + 80 * gradient) / 120)
    assert mean_loss == pytest.approx((40 * l0 + 80 * loss) / 120, rel=1e-6)
    # A worker without load takes no part.
    cascade, mean_loss = trainer.cascaded_gradient(np.array([0, 195]), [torch.arange(195)])
    torch.testing.assert_close(cascade, gradient)
    assert mean_loss == pytest.approx(loss, rel=1e-6)


# -- whole runs -------------------------------------------------------------------------------


def test_joint_beats_equal_at_the_same_latency_budget(digits):
    shards = shard(digits.y_train, 8, seed=0)
    scenario = paba.Scenario.default(n_workers=8, seed=1)
    results = {}
    for scheme in ("equal", "joint"):
        results[scheme] = train(mlp(64, 32, 10), digits, scenario, scheme, shards=shards,
                                budget=0.06, lr=0.05, seed=0)
    equal, joint = results["equal"], results["joint"]
    assert equal.stopped == joint.stopped == "budget"
    assert 2 <= equal.iterations <= 8
    assert joint.iterations > equal.iterations
    assert joint.accuracy >= equal.accuracy
    assert joint.learning_latency <= 0.06 and equal.learning_latency <= 0.06
    assert np.mean(joint.iteration_latency) < np.mean(equal.iteration_latency)


def test_same_seed_same_numbers(data):
    shards = shard(data.y_train, 6, seed=2)
    scenario = paba.Scenario.default(n_workers=6, seed=3)
    options = dict(shards=shards, budget=0.05, max_iterations=12, seed=4,
                   scheduler_options=dict(availability=0.8, csi="noisy", jitter=0.2))
    first = train(mlp(), data, scenario, "joint", **options)
    second = train(mlp(), data, scenario, "joint", **options)
    assert without_wall(first) == without_wall(second)
    assert first.iterations >= 3
    other = train(mlp(), data, scenario, "joint", **(options | {"seed": 5}))
    assert without_wall(other) != without_wall(first)  # the deal of units does matter


def make_trainer(data, scheme="joint", seed=0, optimizer="sgd", K=5, max_iterations=40):
    shards = shard(data.y_train, K, seed=1)
    scenario = paba.Scenario.default(n_workers=K, seed=2)
    model = mlp()
    partition = ModelPartition(model)
    scheduler = make_scheduler(partition, scenario, scheme, shards,
                               max_iterations=max_iterations, availability=0.8, csi="noisy")
    return PartitionedTrainer(model, data, scheduler, shards, optimizer=optimizer, lr=0.05,
                              seed=seed, eval_every=2)


class Interrupt:
    """A progress callback that interrupts the run after some iterations."""

    def __init__(self, after):
        self.after = after

    def __call__(self, result):
        if result.iterations >= self.after and result.stopped == "running":
            raise KeyboardInterrupt


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_run_resumes_to_the_same_numbers(data, tmp_path, optimizer):
    budget = 0.006  # about 18 iterations (a few 1e-4 s each)
    whole = make_trainer(data, optimizer=optimizer)
    uninterrupted = whole.run(budget=budget)
    assert uninterrupted.stopped == "budget" and uninterrupted.iterations > 10

    path = tmp_path / "ck.pt"
    first = make_trainer(data, optimizer=optimizer)
    with pytest.raises(KeyboardInterrupt):
        first.run(budget=budget, checkpoint=path, checkpoint_every=3, progress=Interrupt(7))
    assert path.exists()
    resumed_trainer = make_trainer(data, optimizer=optimizer)
    seen = []
    resumed = resumed_trainer.run(budget=budget, checkpoint=path, checkpoint_every=3,
                                  progress=lambda result: seen.append(result.iterations))
    assert seen[0] == 7  # it went on from the checkpoint of iteration 6, not from the start
    assert without_wall(resumed) == without_wall(uninterrupted)
    for a, b in zip(resumed_trainer.model.parameters(), whole.model.parameters(), strict=True):
        assert torch.equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    # The finished checkpoint resumes to the finished run: nothing more happens.
    again = make_trainer(data, optimizer=optimizer).run(budget=budget, checkpoint=path)
    assert without_wall(again) == without_wall(uninterrupted)


def test_failed_checkpoint_write_keeps_the_previous_checkpoint(data, tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    trainer = make_trainer(data)
    trainer.run(budget=None, max_iterations=3, checkpoint=path)
    saved = path.read_bytes()

    def broken_save(obj, stream):
        stream.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    resumed = make_trainer(data).run(budget=None, max_iterations=3, checkpoint=path)
    assert resumed.iterations == 3


def test_checkpoint_of_another_run_is_refused(data, tmp_path):
    path = tmp_path / "ck.pt"
    make_trainer(data).run(budget=None, max_iterations=3, checkpoint=path)
    for other in (make_trainer(data, scheme="equal"), make_trainer(data, seed=1),
                  make_trainer(data, optimizer="adam")):
        with pytest.raises(ValueError, match="^checkpoint"):
            other.run(budget=None, max_iterations=3, checkpoint=path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint\x00\x01")
    with pytest.raises(ValueError, match="^checkpoint"):
        make_trainer(data).run(checkpoint=garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(3)}, foreign)
    with pytest.raises(ValueError, match="^checkpoint"):
        make_trainer(data).run(checkpoint=foreign)
    assert not list(tmp_path.glob("*.tmp"))


def test_budget_stops_before_the_iteration_that_would_pass_it(data):
    budget = 0.005
    trainer = make_trainer(data)
    result = trainer.run(budget=budget)
    assert isinstance(result, TrainingResult)
    assert result.stopped == "budget"
    assert result.learning_latency <= budget
    assert result.learning_latency == pytest.approx(math.fsum(result.iteration_latency),
                                                    rel=1e-12)
    # The next iteration (the first with a worker present) would have passed the budget.
    shards = shard(data.y_train, 5, seed=1)
    twin = make_scheduler(ModelPartition(mlp()), paba.Scenario.default(n_workers=5, seed=2),
                          "joint", shards, max_iterations=40, availability=0.8, csi="noisy")
    latencies = [r.latency for r in twin if r.allocation is not None]
    n = result.iterations
    assert result.iteration_latency == latencies[:n]
    assert result.learning_latency + latencies[n] > budget
    # The curve: from (0, 0) every eval_every = 2 iterations, and at the end.
    assert result.iteration[0] == 0 and result.latency[0] == 0.0
    assert math.isnan(result.train_loss[0])
    assert result.iteration == [0] + list(range(2, n + 1, 2)) + ([n] if n % 2 else [])
    assert result.latency[-1] == result.learning_latency
    assert np.all(np.diff(result.latency) >= 0)
    assert np.all(np.diff(result.iteration) > 0)
    assert len(result.test_accuracy) == len(result.test_loss) == len(result.iteration)
    assert all(0.0 <= a <= 1.0 for a in result.test_accuracy)
    assert result.accuracy == result.test_accuracy[-1]
    assert result.accuracy_at(0.0) == result.test_accuracy[0]
    # A stopped run does nothing more.
    before = flat(trainer.model).clone()
    assert trainer.step(budget) is False
    assert torch.equal(flat(trainer.model), before)


def test_iteration_limits(data):
    result = make_trainer(data).run(budget=None, max_iterations=4)
    assert result.stopped == "iterations" and result.iterations == 4
    assert result.iteration[-1] == 4 and len(result.iteration_latency) == 4
    # The scheduler's own iterations end a run too (churn may leave some without workers).
    result = make_trainer(data, max_iterations=5).run(budget=None)
    assert result.stopped == "iterations" and result.iterations <= 5
    assert result.iteration[0] == 0 and result.latency[0] == 0.0
    # A generous budget with an iteration limit: the limit stops it.
    result = make_trainer(data).run(budget=1e6, max_iterations=3)
    assert result.stopped == "iterations" and result.iterations == 3


# -- validation -------------------------------------------------------------------------------


@pytest.fixture
def parts(data):
    shards = shard(data.y_train, 4, seed=0)
    model = mlp()
    partition = ModelPartition(model)
    scenario = paba.Scenario.default(n_workers=4, seed=0)
    scheduler = make_scheduler(partition, scenario, "joint", shards, max_iterations=5)
    return model, scheduler, shards, scenario


def test_shards_are_checked(data, parts):
    model, scheduler, shards, scenario = parts
    with pytest.raises(ValueError, match="^shards:"):
        PartitionedTrainer(model, data, scheduler, shards[:3])
    with pytest.raises(ValueError, match="^shards:"):
        make_scheduler(ModelPartition(model), scenario, "joint", shards + [shards[0]])
    for bad in (data.n_train, -1):
        broken = [s.copy() for s in shards]
        broken[2][0] = bad
        with pytest.raises(ValueError, match="^shards:"):
            PartitionedTrainer(model, data, scheduler, broken)


def test_scheduler_is_checked(data, parts):
    model, scheduler, shards, scenario = parts
    bigger = make_scheduler(ModelPartition(mlp(hidden=20)), scenario, "joint", shards)
    with pytest.raises(ValueError, match="^scheduler:"):
        PartitionedTrainer(model, data, bigger, shards)
    partition = ModelPartition(model)
    plain = paba.Scheduler(scenario.replace(params=partition.n_params), "joint",
                           granules=partition.granules)
    with pytest.raises(ValueError, match="^scheduler:"):  # samples are not the shard sizes
        PartitionedTrainer(model, data, plain, shards)
    sizes = np.array([s.size for s in shards], dtype=float)
    no_units = paba.Scheduler(scenario.replace(params=partition.n_params, samples=sizes))
    with pytest.raises(ValueError, match="^scheduler:"):  # blocks must be whole units
        PartitionedTrainer(model, data, no_units, shards)
    with pytest.raises(ValueError, match="^scheduler:"):
        PartitionedTrainer(model, data, "joint", shards)
    with pytest.raises(ValueError, match="^data:"):
        PartitionedTrainer(model, data.x_train, scheduler, shards)


@pytest.mark.parametrize("arguments, name", [
    (dict(budget=0), "budget"), (dict(budget=-1.0), "budget"),
    (dict(budget=float("nan")), "budget"), (dict(budget=float("inf")), "budget"),
    (dict(budget=True), "budget"), (dict(budget="1"), "budget"),
    (dict(max_iterations=0), "max_iterations"), (dict(max_iterations=-2), "max_iterations"),
    (dict(max_iterations=2.0), "max_iterations"),
    (dict(checkpoint_every=0), "checkpoint_every"),
    (dict(checkpoint_every=1.5), "checkpoint_every"),
])
def test_run_arguments_are_checked(data, parts, arguments, name):
    model, scheduler, shards, _ = parts
    trainer = PartitionedTrainer(model, data, scheduler, shards)
    before = flat(model).clone()
    with pytest.raises(ValueError, match=f"^{name}:"):
        trainer.run(**arguments)
    assert torch.equal(flat(model), before)


@pytest.mark.parametrize("arguments, name", [
    (dict(optimizer="rmsprop"), "optimizer"), (dict(optimizer="SGD"), "optimizer"),
    (dict(lr=0), "lr"), (dict(lr=-0.1), "lr"), (dict(lr=float("nan")), "lr"),
    (dict(eval_every=0), "eval_every"), (dict(eval_every=1.0), "eval_every"),
    (dict(momentum=1.0), "momentum"), (dict(seed=-1), "seed"),
    (dict(granularity="rows"), "granularity"),
])
def test_trainer_arguments_are_checked(data, parts, arguments, name):
    model, scheduler, shards, _ = parts
    with pytest.raises(ValueError, match=f"^{name}:"):
        PartitionedTrainer(model, data, scheduler, shards, **arguments)


def test_train_checks_the_scheme(data):
    shards = shard(data.y_train, 3, seed=0)
    with pytest.raises(ValueError, match="^scheme:"):
        train(mlp(), data, paba.Scenario.default(n_workers=3), "optimal", shards=shards)


# -- checkpoints: safe to load, verified, and going on to new limits (issue 11) ----------------


def build_trainer(data, *, scheme="joint", K=5, shard_seed=1, scenario=None, hidden=16,
                  model_seed=0, granularity="unit", iterations=40, scheduler_options=None,
                  **trainer_options):
    """make_trainer with every part that can change a run open to change."""
    shards = shard(data.y_train, K, seed=shard_seed)
    scenario = scenario or paba.Scenario.default(n_workers=K, seed=2)
    model = mlp(hidden=hidden, seed=model_seed)
    options = dict(availability=0.8, csi="noisy") | (scheduler_options or {})
    scheduler = make_scheduler(ModelPartition(model, granularity), scenario, scheme, shards,
                               max_iterations=iterations, **options)
    trainer_options = dict(lr=0.05, eval_every=2) | trainer_options
    return PartitionedTrainer(model, data, scheduler, shards, granularity=granularity,
                              **trainer_options)


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A checkpoint of 3 iterations of build_trainer's run, and its bytes."""
    path = tmp_path_factory.mktemp("saved") / "ck.pt"
    build_trainer(data).run(budget=None, max_iterations=3, checkpoint=path)
    return path, path.read_bytes()


def test_checkpoint_holds_only_tensors_and_plain_data(saved):
    path, _ = saved
    state = torch.load(path, weights_only=True)  # would raise on any other object
    leaves = []

    def walk(value):
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        else:
            leaves.append(value)

    walk(state)
    assert all(leaf is None or isinstance(leaf, (torch.Tensor, str, int, float, bool))
               for leaf in leaves)
    assert state["format"] == "paba.training checkpoint" and state["version"] == 2


class RunsCode:
    """Unpickles into a call of os.system that writes a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"echo ran > {self.marker}",))


def test_a_crafted_checkpoint_runs_no_code(data, tmp_path):
    # Issue 11: checkpoints were read with torch.load(weights_only=False), so this ran.
    marker = tmp_path / "marker"
    crafted = {
        "torch-zip.pt": lambda p: torch.save({"format": "paba.training checkpoint",
                                              "version": 2, "model": RunsCode(marker)}, p),
        "plain-pickle.pt": lambda p: p.write_bytes(pickle.dumps(RunsCode(marker))),
        "exec.pt": lambda p: p.write_bytes(
            b"cbuiltins\nexec\n(V__import__('os').system('echo ran > "
            + str(marker).encode() + b"')\ntR."),
    }
    for name, write in crafted.items():
        path = tmp_path / name
        write(path)
        trainer = build_trainer(data)
        with pytest.raises(ValueError, match="^checkpoint: "):
            trainer.run(budget=None, max_iterations=2, checkpoint=path)
        assert not marker.exists(), name
    # The pickles really do run code when unpickled: the test is not vacuous.
    pickle.loads((tmp_path / "plain-pickle.pt").read_bytes())
    assert marker.exists()


def test_an_old_pickled_checkpoint_is_refused_and_says_so(data, tmp_path):
    path = tmp_path / "old.pt"
    trainer = build_trainer(data)
    trainer.run(budget=None, max_iterations=2)
    # What version 1 wrote: the live SchedulerRun and TrainingResult, pickled.
    torch.save({"version": 1, "fingerprint": {}, "model": trainer.model.state_dict(),
                "state": trainer._state}, path)
    with pytest.raises(ValueError, match="^checkpoint: .*older paba.*version 1"):
        build_trainer(data).run(budget=None, max_iterations=2, checkpoint=path)


def _rewrite(path, target, change):
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, target)


DAMAGE = {
    "missing-optimizer": lambda s: s.pop("optimizer"),
    "fingerprint-key": lambda s: s["fingerprint"].pop("lr"),
    "version": lambda s: s.update(version=3),
    "format": lambda s: s.update(format="something else"),
    "model-shape": lambda s: s["model"].update({"0.weight": torch.zeros(3, 3)}),
    "model-key": lambda s: s["model"].pop("2.bias"),
    "momentum-shape": lambda s: s["optimizer"]["state"][0].update(
        momentum_buffer=torch.zeros(2)),
    "optimizer-lr": lambda s: s["optimizer"]["param_groups"][0].update(lr=1.0),
    "torch-rng": lambda s: s.update(torch_rng=torch.zeros(3, dtype=torch.uint8)),
    "dealer-kind": lambda s: s["dealer"].update(bit_generator="Philox"),
    "result-iterations": lambda s: s["result"].update(iterations=-1),
    "result-stopped": lambda s: s["result"].update(stopped="crashed"),
    "curve-length": lambda s: s["result"]["latency"].append(1.0),
    "tensor-in-result": lambda s: s["result"].update(test_accuracy=[torch.ones(1)]),
    "since-eval": lambda s: s.update(since_eval=7),
    "pending-loads": lambda s: s.update(pending={
        "latency": 1e-4, "loads": torch.ones(5, dtype=torch.int64), "unit_counts": None}),
    "scheduler-iteration": lambda s: s["scheduler"].update(iteration=1),
    "scheduler-history": lambda s: s["scheduler"]["history"].pop("latency"),
    "stream-integer": lambda s: s["scheduler"]["streams"]["channel"].update(state="0"),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_checkpoint_is_refused_naming_it(data, saved, tmp_path, damage):
    # Issue 11: a checkpoint missing a key raised KeyError; parts were used unchecked.
    path, _ = saved
    target = tmp_path / "damaged.pt"
    _rewrite(path, target, damage)
    trainer = build_trainer(data)
    before = flat(trainer.model).clone()
    rng_before = torch.get_rng_state()
    with pytest.raises(ValueError, match="^checkpoint: "):
        trainer.load_checkpoint(target)
    assert torch.equal(flat(trainer.model), before) and trainer._state is None
    assert torch.equal(torch.get_rng_state(), rng_before)


@pytest.mark.parametrize("change, named", [
    (dict(scheme="equal"), "scheme"),
    (dict(seed=1), "seed"),
    (dict(optimizer="adam"), "optimizer"),
    (dict(lr=0.1), "lr"),
    (dict(momentum=0.5), "momentum"),
    (dict(eval_every=3), "eval_every"),
    (dict(granularity="parameter"), "granularity"),
    (dict(model_seed=1), "model_weights"),
    (dict(hidden=17), "params"),
    (dict(shard_seed=2), "shards"),
    (dict(scenario=paba.Scenario.default(n_workers=5, seed=2, bandwidth=20e6)),
     "scheduler.scenario.bandwidth"),
    (dict(scenario=paba.Scenario.default(n_workers=5, seed=2, fading="rician")),
     "scheduler.scenario.fading"),
    (dict(scenario=paba.Scenario.default(n_workers=5, seed=3)), "scheduler.scenario.seed"),
    (dict(scheduler_options=dict(csi="perfect")), "scheduler.csi"),
    (dict(scheduler_options=dict(availability=0.9)), "scheduler.availability"),
    (dict(scheduler_options=dict(jitter=0.1)), "scheduler.jitter"),
    (dict(scheduler_options=dict(tol=1e-6)), "scheduler.tol"),
    (dict(scheduler_options=dict(method="bisection")), "scheduler.method"),
    (dict(scheduler_options=dict(groups=[0, 0, 1, 1, 2])), "scheduler.groups"),
    (dict(scheduler_options=dict(backend="reference")), "scheduler.backend"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_every_option_that_changes_the_run_is_in_the_fingerprint(data, saved, tmp_path,
                                                                  change, named):
    path, _ = saved
    with pytest.raises(ValueError, match=f"^checkpoint: .*different run.*{named}"):
        build_trainer(data, **change).run(budget=None, max_iterations=3, checkpoint=path)


def test_other_data_is_in_the_fingerprint(data, saved):
    path, _ = saved
    other = synthetic(n_samples=300, n_features=8, n_classes=3, seed=1)
    with pytest.raises(ValueError, match="^checkpoint: .*different run.*data"):
        build_trainer(other).run(budget=None, max_iterations=3, checkpoint=path)


def test_options_that_change_nothing_resume(data, saved, tmp_path):
    path, content = saved
    copy_path = tmp_path / "ck.pt"
    copy_path.write_bytes(content)
    trainer = build_trainer(data, scheduler_options=dict(warm_start=False, n_threads=2))
    result = trainer.run(budget=None, max_iterations=3, checkpoint=copy_path,
                         checkpoint_every=1)
    assert result.iterations == 3


@pytest.mark.parametrize("first, second", [
    (dict(budget=0.002), dict(budget=0.006)),                  # issue 11's case, shrunk
    (dict(budget=None, max_iterations=4), dict(budget=None, max_iterations=9)),
    (dict(budget=0.002), dict(budget=0.006, max_iterations=6)),
    (dict(budget=0.006, max_iterations=4), dict(budget=0.006)),
])
@pytest.mark.parametrize("where", ["checkpoint", "memory"])
def test_a_stopped_run_goes_on_to_new_limits_exactly(data, tmp_path, first, second, where):
    # Issue 11: a finished run resumed with a larger budget returned the old result.
    uninterrupted = build_trainer(data)
    expected = uninterrupted.run(**second)
    assert expected.iterations > 4
    trainer = build_trainer(data)
    checkpoint = tmp_path / "ck.pt" if where == "checkpoint" else None
    early = trainer.run(**first, checkpoint=checkpoint, checkpoint_every=3)
    assert early.iterations < expected.iterations and early.stopped != "running"
    if where == "checkpoint":
        trainer = build_trainer(data)
    resumed = trainer.run(**second, checkpoint=checkpoint)
    assert without_wall(resumed) == without_wall(expected)
    for a, b in zip(trainer.model.parameters(), uninterrupted.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_run_past_the_new_limits_is_refused_naming_them(data, tmp_path):
    path = tmp_path / "ck.pt"
    result = build_trainer(data).run(budget=0.006, checkpoint=path)
    content = path.read_bytes()
    with pytest.raises(ValueError, match="^checkpoint: .*more than budget = 0.001 s"):
        build_trainer(data).run(budget=0.001, checkpoint=path)
    with pytest.raises(ValueError, match="^checkpoint: .*more than max_iterations = 2"):
        build_trainer(data).run(budget=0.006, max_iterations=2, checkpoint=path)
    assert path.read_bytes() == content  # refused before anything was written
    trainer = build_trainer(data)
    trainer.run(budget=0.006)
    with pytest.raises(ValueError, match="^budget: "):
        trainer.run(budget=0.001)
    with pytest.raises(ValueError, match="^max_iterations: "):
        trainer.run(budget=0.006, max_iterations=result.iterations - 1)


def test_groups_with_absent_members_without_granules(data):
    # A plain Scheduler (no granules) with groups and churn: an absent member's load of 0 must
    # not overwrite its group's load (it once did, and every such iteration failed).
    K, groups = 4, np.array([0, 0, 1, 1])
    shards = shard(data.y_train, K, seed=1)
    model = mlp()
    partition = ModelPartition(model, "parameter")
    sizes = np.array([s.size for s in shards], dtype=float)
    scenario = paba.Scenario.default(n_workers=K, seed=4).replace(params=partition.n_params,
                                                                  samples=sizes)
    scheduler = paba.Scheduler(scenario, "joint", iterations=12, groups=groups,
                               availability=0.6)
    records = [r for r in paba.Scheduler(scenario, "joint", iterations=12, groups=groups,
                                         availability=0.6) if r.allocation is not None]
    assert any(not r.present.all() and r.present.any() for r in records)
    trainer = PartitionedTrainer(model, data, scheduler, shards, granularity="parameter", seed=5)
    captured = capture_blocks(trainer)
    result = trainer.run(budget=None)
    assert result.iterations == len(records) == len(captured)
    for blocks, record in zip(captured, records, strict=True):
        check_blocks(partition, blocks, group_loads(record, 2, groups))
