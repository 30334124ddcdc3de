"""paba.Granules and paba.round_to_granules (loads made of whole units, SPEC 3.6 and 4.4), and the
Scheduler's ``groups=`` and ``granules=`` with its picklable run (paba.SchedulerRun)."""

import copy
import dataclasses
import functools
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paba
from paba import _core

#: Schemes that choose bandwidth: after rounding they re-balance it so loaded workers finish
#: together. The others keep the bandwidth they were given.
REBALANCED = ("parameter_aware", "sequential", "joint")
FIXED_BANDWIDTH = ("equal", "bandwidth_aware")


def check_rounded(system, allocation, rounded, counts, granules):
    """Every property a rounded allocation must have, whatever the instance and scheme."""
    scheme = allocation.scheme
    N = system.n_groups
    sizes = granules.sizes
    assert counts.shape == (N, sizes.size)
    assert counts.dtype == np.int64
    assert np.all(counts >= 0)
    np.testing.assert_array_equal(counts.sum(axis=0), granules.counts)
    np.testing.assert_array_equal(rounded.loads, counts @ sizes)
    assert int(rounded.loads.sum()) == system.params
    assert rounded.bandwidth.shape == (system.n_workers,)
    assert np.all(rounded.bandwidth >= 0)
    assert rounded.bandwidth.sum() <= system.bandwidth * (1 + 1e-12)
    latency = paba.evaluate(system, rounded.loads, rounded.bandwidth)
    assert rounded.latency == pytest.approx(latency.latency, rel=1e-12)
    np.testing.assert_allclose(rounded.worker_latency, latency.worker_latency, rtol=1e-12)
    # The relaxed fields and the scheme are the input's.
    assert rounded.scheme == scheme
    np.testing.assert_array_equal(rounded.relaxed_loads, allocation.relaxed_loads)
    assert rounded.relaxed_latency == allocation.relaxed_latency
    loaded = rounded.loads[system.groups] > 0
    assert np.all(rounded.worker_latency[~loaded] == 0)
    if scheme in REBALANCED:
        np.testing.assert_allclose(rounded.worker_latency[loaded], rounded.latency, rtol=1e-9)
    else:
        np.testing.assert_array_equal(rounded.bandwidth, allocation.bandwidth)
    # Floors never pass the relaxed load; fewer than N leftover units of at most the largest size
    # are handed out on top. Joint's answer in units may be another scheme's allocation rounded
    # to the same units, where that is faster (at most COARSE_GROUPS groups; docs/algorithms.md
    # 3.6): then these hold for that allocation's relaxed loads.
    def sources():  # the input's relaxed loads first; the others only where it needs them
        yield allocation.relaxed_loads
        if scheme == "joint" and N <= _core.COARSE_GROUPS:
            for other in paba.SCHEMES:
                if other != "joint":
                    yield paba.allocate(system, other).relaxed_loads

    def rounded_from(relaxed):
        relaxed = np.asarray(relaxed)
        if not np.all(np.abs(rounded.loads - relaxed) <= N * int(sizes[0])):
            return False
        return sizes.size > 1 or bool(np.all(counts[:, 0] >= np.floor(relaxed / int(sizes[0]))))

    assert any(rounded_from(relaxed) for relaxed in sources())


# -- Granules ---------------------------------------------------------------------------------


def test_from_sizes_groups_sizes_largest_first():
    granules = paba.Granules.from_sizes([3, 1, 3, 7, 1, 3])
    np.testing.assert_array_equal(granules.sizes, [7, 3, 1])
    np.testing.assert_array_equal(granules.counts, [1, 3, 2])
    assert granules.total == 18
    assert granules.sizes.dtype == np.int64 and granules.counts.dtype == np.int64
    assert not granules.sizes.flags.writeable and not granules.counts.flags.writeable
    assert not granules.trivial
    single = paba.Granules.from_sizes(np.array([5, 5, 5], dtype=np.uint8))
    np.testing.assert_array_equal(single.sizes, [5])
    np.testing.assert_array_equal(single.counts, [3])
    assert single.total == 15
    # Integral floats pass; all ones is the trivial (single-parameter) case.
    ones = paba.Granules.from_sizes([1.0, 1.0, 1.0, 1.0])
    assert ones.trivial and ones.total == 4
    np.testing.assert_array_equal(ones.sizes, [1])


def test_from_sizes_does_not_keep_the_callers_array():
    sizes = np.array([4, 2, 2])
    granules = paba.Granules.from_sizes(sizes)
    sizes[:] = 9
    np.testing.assert_array_equal(granules.sizes, [4, 2])
    assert granules.total == 8


@pytest.mark.parametrize("sizes", [[], np.zeros(0), [[1, 2], [3, 4]], 5])
def test_from_sizes_rejects_empty_or_not_1d(sizes):
    with pytest.raises(ValueError, match="^granules:"):
        paba.Granules.from_sizes(sizes)


@pytest.mark.parametrize("sizes", [[1.5, 2], [2, float("nan")], [float("inf")], ["a", "b"],
                                   [True, False]])
def test_from_sizes_rejects_non_integers(sizes):
    with pytest.raises(ValueError, match="^granules:"):
        paba.Granules.from_sizes(sizes)


@pytest.mark.parametrize("sizes", [[0], [3, 0, 2], [-1, 4], [2.0, -2.0]])
def test_from_sizes_rejects_sizes_below_one(sizes):
    with pytest.raises(ValueError, match="^granules:"):
        paba.Granules.from_sizes(sizes)


def test_round_rejects_other_totals_and_other_types():
    system = paba.static_cell(4, params=100, seed=1)
    allocation = paba.allocate(system, "joint")
    with pytest.raises(ValueError, match="^granules:"):
        paba.round_to_granules(system, allocation, paba.Granules.from_sizes([10] * 9))
    with pytest.raises(ValueError, match="^granules:"):
        paba.round_to_granules(system, allocation, paba.Granules.from_sizes([10] * 11))
    with pytest.raises(ValueError, match="^granules:"):
        paba.round_to_granules(system, allocation, [10] * 10)


@pytest.mark.parametrize("sizes", [
    [2**62] * 4 + [10**6], [2**50] * 9, [2**64 - 1], np.array([2**63 + 5], dtype=np.uint64),
    [1e300], [[1], [1, 2]],
])
def test_from_sizes_refuses_what_int64_cannot_sum(sizes):
    # Issue 11: [2**62] * 4 + [10**6] wrapped round int64 and reported a total of 1,000,000.
    with pytest.raises(ValueError, match="^granules:"):
        paba.Granules.from_sizes(sizes)


def test_granules_built_directly_are_checked():
    sizes, counts = np.array([5, 3]), np.array([2, 1])
    assert paba.Granules(sizes, counts, 13).total == 13
    for bad in (("x", counts, 13), (sizes, counts, 14), (sizes[::-1].copy(), counts, 13),
                (sizes, np.array([2]), 13), (sizes, counts, True)):
        with pytest.raises(ValueError, match="^granules:"):
            paba.Granules(*bad)


def test_round_refuses_a_missing_or_mismatched_allocation():
    # Issue 11: None raised AttributeError; an allocation of another system "could not
    # broadcast" without naming it.
    system = paba.static_cell(4, params=100, seed=1)
    granules = paba.Granules.from_sizes([10] * 10)
    allocation = paba.allocate(system, "joint")
    other = paba.allocate(paba.static_cell(3, params=100, seed=1), "joint")
    for bad in (None, "joint", other,
                dataclasses.replace(allocation, relaxed_loads=np.full(4, np.nan)),
                dataclasses.replace(allocation, bandwidth=allocation.bandwidth[:2])):
        with pytest.raises(ValueError, match="^allocation:"):
            paba.round_to_granules(system, bad, granules)
    with pytest.raises(ValueError, match="^system:"):
        paba.round_to_granules(None, allocation, granules)


# -- round_to_granules: worked examples -------------------------------------------------------


def test_leftover_unit_goes_to_the_group_fastest_after_taking_it():
    # Equal scheme: relaxed 15 and 15, one unit of 10 each by floor, the third to the faster
    # worker (ties to the lowest group id).
    for compute, expected in (([1e-3, 2e-3], [20, 10]), ([2e-3, 1e-3], [10, 20]),
                              ([1e-3, 1e-3], [20, 10])):
        system = paba.System(beta=[1.0, 1.0], compute=compute, params=30, bandwidth=1e3)
        allocation = paba.allocate(system, "equal")
        rounded, counts = paba.round_to_granules(system, allocation,
                                                 paba.Granules.from_sizes([10, 10, 10]))
        np.testing.assert_array_equal(rounded.loads, expected)
        np.testing.assert_array_equal(counts[:, 0], np.array(expected) // 10)


def test_units_in_short_supply_go_to_the_group_lacking_most():
    # Three equal groups of 10: only two units of 10 for three floors of 1; they go to groups 0
    # and 1 (ties to the lowest id), and group 2 takes both units of 5.
    system = paba.System(beta=[1.0] * 3, compute=[1e-3] * 3, params=30, bandwidth=1e3)
    allocation = paba.allocate(system, "equal")
    granules = paba.Granules.from_sizes([10, 10, 5, 5])
    rounded, counts = paba.round_to_granules(system, allocation, granules)
    np.testing.assert_array_equal(counts, [[1, 0], [1, 0], [0, 2]])
    np.testing.assert_array_equal(rounded.loads, [10, 10, 10])
    check_rounded(system, allocation, rounded, counts, granules)


def test_more_groups_than_units():
    system = paba.static_cell(8, params=51, seed=4)
    granules = paba.Granules.from_sizes([17, 17, 17])
    for scheme in paba.SCHEMES:
        allocation = paba.allocate(system, scheme)
        rounded, counts = paba.round_to_granules(system, allocation, granules)
        check_rounded(system, allocation, rounded, counts, granules)
        assert np.count_nonzero(rounded.loads) <= 3


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_trivial_granules_return_the_allocation_itself(scheme, backend):
    system = paba.static_cell(6, params=1000, seed=3)
    allocation = paba.allocate(system, scheme, backend=backend)
    rounded, counts = paba.round_to_granules(system, allocation,
                                             paba.Granules.from_sizes([1] * 1000),
                                             backend=backend)
    assert rounded is allocation
    np.testing.assert_array_equal(counts, allocation.loads.reshape(-1, 1))
    assert not counts.flags.writeable


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_groups_with_several_members(scheme, backend):
    base = paba.static_cell(9, params=2410, seed=7)
    system = base.replace(groups=[0, 1, 1, 2, 0, 3, 3, 3, 1])
    granules = paba.Granules.from_sizes([65] * 32 + [33] * 10)
    allocation = paba.allocate(system, scheme, backend=backend)
    rounded, counts = paba.round_to_granules(system, allocation, granules, backend=backend)
    assert rounded.loads.shape == (4,)
    check_rounded(system, allocation, rounded, counts, granules)


# -- round_to_granules: many instances --------------------------------------------------------


@st.composite
def unit_sizes(draw):
    """A few distinct unit sizes (layers), each with its number of units."""
    distinct = draw(st.lists(st.integers(1, 300), min_size=1, max_size=4, unique=True))
    sizes = []
    for size in distinct:
        sizes += [size] * draw(st.integers(1, 60))
    return draw(st.permutations(sizes))


@st.composite
def instances(draw):
    sizes = draw(unit_sizes())
    params = int(sum(sizes))
    K = draw(st.integers(1, 12))
    seed = draw(st.integers(0, 2**16))
    if draw(st.booleans()):
        system = paba.static_cell(K, params=params, seed=seed)
    else:
        scenario = paba.Scenario.default(n_workers=K, params=params, seed=seed)
        system = scenario.system(scenario.draw_gains())
    if K > 1 and draw(st.booleans()):
        N = draw(st.integers(1, K))
        extra = draw(st.lists(st.integers(0, N - 1), min_size=K - N, max_size=K - N))
        system = system.replace(groups=np.array(draw(st.permutations(list(range(N)) + extra))))
    return system, paba.Granules.from_sizes(sizes)


@settings(deadline=None)
@given(instances())
def test_rounding_properties_on_many_instances(instance):
    system, granules = instance
    for scheme in paba.SCHEMES:
        allocation = paba.allocate(system, scheme)
        rounded, counts = paba.round_to_granules(system, allocation, granules)
        check_rounded(system, allocation, rounded, counts, granules)


@settings(deadline=None)
@given(size=st.integers(1, 500), count=st.integers(1, 200), K=st.integers(1, 12),
       seed=st.integers(0, 2**16))
def test_one_size_floors_every_group(size, count, K, seed):
    system = paba.static_cell(K, params=size * count, seed=seed)
    granules = paba.Granules.from_sizes([size] * count)
    for scheme in paba.SCHEMES:
        allocation = paba.allocate(system, scheme)
        rounded, counts = paba.round_to_granules(system, allocation, granules)
        check_rounded(system, allocation, rounded, counts, granules)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_backends_round_alike(scheme):
    system = paba.static_cell(10, params=2410, seed=12)
    granules = paba.Granules.from_sizes([65] * 32 + [33] * 10)
    results = {}
    for name in ("native", "reference"):
        allocation = paba.allocate(system, scheme, backend=name)
        results[name] = paba.round_to_granules(system, allocation, granules, backend=name)
        check_rounded(system, allocation, *results[name], granules)
    np.testing.assert_array_equal(results["native"][1], results["reference"][1])
    assert results["native"][0].latency == pytest.approx(results["reference"][0].latency,
                                                         rel=1e-9)


# -- Scheduler with granules and groups -------------------------------------------------------

#: The units of a 64-32-10 perceptron: 32 rows of 64 weights + bias, 10 rows of 32 + bias.
MLP_UNITS = [65] * 32 + [33] * 10
MLP_PARAMS = sum(MLP_UNITS)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_scheduler_records_carry_unit_counts(scheme):
    scenario = paba.Scenario.default(n_workers=6, params=MLP_PARAMS, seed=2)
    scheduler = paba.Scheduler(scenario, scheme, iterations=12, granules=MLP_UNITS,
                               availability=0.8)
    assert isinstance(scheduler.granules, paba.Granules)
    granules = scheduler.granules
    records = list(scheduler)
    assert len(records) == 12
    for record in records:
        if record.allocation is None:
            assert not record.present.any()
            continue
        counts = record.unit_counts
        assert counts.shape == (6, granules.sizes.size)
        assert not counts.flags.writeable
        np.testing.assert_array_equal(counts.sum(axis=0), granules.counts)
        np.testing.assert_array_equal(record.loads, counts @ granules.sizes)
        np.testing.assert_array_equal(record.allocation.loads,
                                      counts[record.present] @ granules.sizes)
        assert int(record.loads.sum()) == MLP_PARAMS
        assert np.all(counts[~record.present] == 0)
        assert np.all(record.bandwidth[~record.present] == 0)
        np.testing.assert_array_equal(record.bandwidth[record.present],
                                      record.allocation.bandwidth)
    assert any(not r.present.all() for r in records)  # churn was exercised
    np.testing.assert_array_equal(scheduler.history.latency, [r.latency for r in records])


def test_scheduler_without_granules_has_no_unit_counts():
    scenario = paba.Scenario.default(n_workers=4, params=1000, seed=2)
    for record in paba.Scheduler(scenario, "joint", iterations=3):
        assert record.unit_counts is None


def test_scheduler_run_takes_the_per_iteration_path_with_granules():
    scenario = paba.Scenario.default(n_workers=5, params=MLP_PARAMS, seed=8)
    options = dict(iterations=6, granules=MLP_UNITS)
    history = paba.Scheduler(scenario, "joint", **options).run()
    records = list(paba.Scheduler(scenario, "joint", **options))
    assert history.completed == 6
    np.testing.assert_array_equal(history.latency, [r.latency for r in records])
    np.testing.assert_array_equal(history.loads, [r.loads for r in records])
    explicit = paba.Scheduler(scenario, "joint", **options).run(batch=False)
    np.testing.assert_array_equal(explicit.latency, history.latency)


def test_scheduler_granules_must_hold_the_scenarios_params():
    scenario = paba.Scenario.default(n_workers=4, params=MLP_PARAMS + 1, seed=2)
    with pytest.raises(ValueError, match="^granules:"):
        paba.Scheduler(scenario, "joint", granules=MLP_UNITS)
    with pytest.raises(ValueError, match="^granules:"):
        paba.Scheduler(scenario, "joint", granules=[0, MLP_PARAMS + 1])


@pytest.mark.parametrize("options", [dict(granules=MLP_UNITS),
                                     dict(groups=[0, 1, 2, 3, 4], granules=MLP_UNITS)])
def test_batch_path_refuses_granules(options):
    scenario = paba.Scenario.default(n_workers=5, params=MLP_PARAMS, seed=2)
    with pytest.raises(ValueError, match="^batch: .*granules"):
        paba.Scheduler(scenario, "joint", iterations=3, **options).run(batch=True)


def test_run_with_groups_takes_the_batch_path(monkeypatch):
    """Groups alone run through paba.allocate_batch by default, with exactly the allocations of
    the per-iteration path (without warm starts, which change only the speed)."""
    scenario = paba.Scenario.default(n_workers=5, params=MLP_PARAMS, seed=2)
    options = dict(iterations=8, groups=[0, 0, 1, 2, 2], availability=0.7, warm_start=False)
    calls = []
    batch = paba._scheduler.allocate_batch

    def counting(*args, **kwargs):
        calls.append(kwargs.get("groups") is not None)
        return batch(*args, **kwargs)

    monkeypatch.setattr(paba._scheduler, "allocate_batch", counting)
    history = paba.Scheduler(scenario, "joint", **options).run()
    assert calls and all(calls)
    per_iteration = paba.Scheduler(scenario, "joint", **options).run(batch=False)
    assert not per_iteration.present.all()
    for field in ("loads", "bandwidth", "planned_latency", "relaxed_latency"):
        np.testing.assert_array_equal(getattr(history, field), getattr(per_iteration, field),
                                      err_msg=field)


@pytest.mark.parametrize("groups", [[0, 0, 1, 1], [0, 1, 1, 2, 2, 2], [0, 0, 2, 2, 2],
                                    [1, 1, 2, 2, 3], [-1, 0, 1, 1, 0], [0, 0.5, 1, 1, 0],
                                    [0, 1, np.nan, 1, 0], "ab", [[0, 1, 2, 3, 4]]])
def test_scheduler_groups_validation(groups):
    scenario = paba.Scenario.default(n_workers=5, params=1000, seed=2)
    with pytest.raises(ValueError, match="^groups"):
        paba.Scheduler(scenario, "joint", groups=groups)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("with_granules", [False, True])
def test_scheduler_groups_share_blocks(scheme, with_granules):
    groups = np.array([0, 0, 1, 2, 2, 2, 3])
    scenario = paba.Scenario.default(n_workers=7, params=MLP_PARAMS, seed=6)
    scheduler = paba.Scheduler(scenario, scheme, iterations=10, groups=groups,
                               availability=0.7, csi="noisy",
                               granules=MLP_UNITS if with_granules else None)
    assert scheduler.n_groups == 4
    np.testing.assert_array_equal(scheduler.groups, groups)
    seen_absent = False
    for record in scheduler:
        present = record.present
        assert np.all(record.loads[~present] == 0)
        assert np.all(record.bandwidth[~present] == 0)
        seen_absent |= not present.all()
        if record.allocation is None:
            continue
        present_groups = np.unique(groups[present])
        group_loads = np.zeros(4, dtype=np.int64)
        for n in present_groups:
            members = np.flatnonzero((groups == n) & present)
            assert np.all(record.loads[members] == record.loads[members[0]])
            group_loads[n] = record.loads[members[0]]
        assert int(group_loads.sum()) == MLP_PARAMS
        np.testing.assert_array_equal(record.allocation.loads, group_loads[present_groups])
        if with_granules:
            counts = record.unit_counts
            assert counts.shape == (4, 2)
            np.testing.assert_array_equal(counts @ scheduler.granules.sizes, group_loads)
            np.testing.assert_array_equal(counts.sum(axis=0), scheduler.granules.counts)
        else:
            assert record.unit_counts is None
    assert seen_absent


def record_fields(record):
    return (record.iteration, record.latency, record.planned_latency, record.loads,
            record.bandwidth, record.present, record.gain, record.known_gain,
            record.unit_counts)


def assert_same_records(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        for x, y in zip(record_fields(a), record_fields(b), strict=True):
            if x is None or y is None:
                assert x is None and y is None
            else:
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("scheme", ["joint", "sequential", "bandwidth_aware"])
@pytest.mark.parametrize("options", [
    dict(),
    dict(csi="noisy", availability=0.6),
    dict(csi="delayed", delay=2, jitter=0.2, fading_correlation=0.8),
    dict(groups=[0, 1, 1, 2, 3, 3], availability=0.8, csi="noisy"),
], ids=["rayleigh", "noisy-churn", "delayed-jitter-correlated", "groups-churn"])
def test_pickled_run_resumes_with_identical_records(scheme, options):
    options = dict(options)
    correlation = options.pop("fading_correlation", 0.0)
    scenario = paba.Scenario.default(n_workers=6, params=MLP_PARAMS, seed=21,
                                     fading_correlation=correlation)

    def scheduler():
        return paba.Scheduler(scenario, scheme, iterations=14, granules=MLP_UNITS, **options)

    reference = list(scheduler())
    run = iter(scheduler())
    assert isinstance(run, paba.SchedulerRun)
    head = [next(run) for _ in range(6)]
    blob = pickle.dumps(run)
    resumed = pickle.loads(blob)
    assert resumed.iteration == 6
    tail = list(resumed)
    assert_same_records(head + tail, reference)
    np.testing.assert_array_equal(resumed.history.latency, [r.latency for r in reference])
    np.testing.assert_array_equal(resumed.history.loads, [r.loads for r in reference])
    # Pickling does not disturb the original either, and a second copy resumes alike.
    assert_same_records(head + list(run), reference)
    assert_same_records(head + list(pickle.loads(blob)), reference)
    if options.get("availability", 1.0) < 1.0:
        assert any(not r.present.all() for r in reference)


def test_finished_run_stops_and_pickles():
    scenario = paba.Scenario.default(n_workers=3, params=MLP_PARAMS, seed=1)
    run = iter(paba.Scheduler(scenario, "joint", iterations=2, granules=MLP_UNITS))
    assert len(list(run)) == 2
    again = pickle.loads(pickle.dumps(run))
    with pytest.raises(StopIteration):
        next(again)
    assert again.history.completed == 2


# -- SchedulerRun.state_dict / from_state: the run's state as plain data ----------------------


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


@pytest.mark.parametrize("scheme", ["joint", "bandwidth_aware"])
@pytest.mark.parametrize("options", [
    dict(),
    dict(csi="noisy", availability=0.6, record="summary"),
    dict(csi="delayed", delay=2, jitter=0.2, fading_correlation=0.8),
    dict(groups=[0, 1, 1, 2, 3, 3], availability=0.8, csi="noisy"),
], ids=["rayleigh", "noisy-churn-summary", "delayed-jitter-correlated", "groups-churn"])
def test_run_state_resumes_with_identical_records(scheme, options):
    options = dict(options)
    correlation = options.pop("fading_correlation", 0.0)
    scenario = paba.Scenario.default(n_workers=6, params=MLP_PARAMS, seed=21,
                                     fading_correlation=correlation)

    def scheduler(iterations=14):
        return paba.Scheduler(scenario, scheme, iterations=iterations, granules=MLP_UNITS,
                              **options)

    reference = list(scheduler())
    run = iter(scheduler())
    head = [next(run) for _ in range(6)]
    state = run.state_dict()
    # Plain data only: nothing in it unpickles into code.
    assert all(leaf is None or isinstance(leaf, (np.ndarray, str, int, float, bool))
               for leaf in _leaves(state))
    resumed = paba.SchedulerRun.from_state(scheduler(), state)
    assert resumed.iteration == 6 and resumed.history.completed == 6
    tail = list(resumed)
    assert_same_records(head + tail, reference)
    assert [r.allocation.iterations for r in tail if r.allocation] == \
        [r.allocation.iterations for r in reference[6:] if r.allocation]  # warm start too
    np.testing.assert_array_equal(resumed.history.latency, [r.latency for r in reference])
    # A scheduler with more iterations goes on past the original end, as a longer run would.
    longer = paba.SchedulerRun.from_state(scheduler(20), state)
    assert_same_records(head + list(longer), list(scheduler(20)))
    # The original is undisturbed.
    assert_same_records(head + list(run), reference)


def test_run_state_is_checked_before_use():
    scenario = paba.Scenario.default(n_workers=4, params=MLP_PARAMS, seed=3)
    options = dict(iterations=8, granules=MLP_UNITS, csi="delayed", delay=2)
    make = functools.partial(paba.Scheduler, scenario, "joint", **options)
    run = iter(make())
    for _ in range(3):
        next(run)
    good = run.state_dict()
    target = make()
    target_history = target.history

    def broken(change):
        state = copy.deepcopy(good)
        change(state)
        return state

    cases = {
        "not a dict": lambda s: s.clear(),
        "version": lambda s: s.update(version=2),
        "extra key": lambda s: s.update(code="os.system"),
        "iteration": lambda s: s.update(iteration=9),
        "negative iteration": lambda s: s.update(iteration=-1),
        "float iteration": lambda s: s.update(iteration=3.0),
        "stream name": lambda s: s["streams"].pop("churn"),
        "stream kind": lambda s: s["streams"]["channel"].update(bit_generator="MT19937"),
        "stream integer": lambda s: s["streams"]["channel"]["state"].update(state=2**130),
        "stream flag": lambda s: s["streams"]["jitter"].update(has_uint32=True),
        "past length": lambda s: s["past"].pop(),
        "past dtype": lambda s: s["past"].__setitem__(0, s["past"][0].astype(np.float32)),
        "past value": lambda s: s["past"][0].__setitem__(0, -1.0),
        "history shape": lambda s: s["history"].update(latency=s["history"]["latency"][:2]),
        "history key": lambda s: s["history"].pop("loads"),
        "history range": lambda s: s["history"]["active"].__setitem__(0, 99),
        "previous loads": lambda s: s["previous"].update(loads=s["previous"]["loads"] * 2),
        "previous shape": lambda s: s["previous"].update(bandwidth=np.zeros(9)),
        "previous present": lambda s: s.update(previous_present=None),
        "scattered": lambda s: s.update(scattered=np.zeros((4, 2))),
        "settings": lambda s: s["settings"].update(csi="perfect"),
        "tensor in settings": lambda s: s["settings"].update(delay=np.int64(2)),
        "array as format": lambda s: s.update(format=np.array([], dtype=bool)),
        "array as generator name": lambda s: s["streams"]["churn"].update(
            bit_generator=np.array(["PCG64", "PCG64"])),
    }
    for name, change in cases.items():
        state = {} if name == "not a dict" else broken(change)
        with pytest.raises(ValueError, match="^state:"):
            paba.SchedulerRun.from_state(target, state)
        assert target.history is target_history, name  # untouched on failure
    with pytest.raises(ValueError, match="^state: .*scheme"):
        paba.SchedulerRun.from_state(paba.Scheduler(scenario, "equal", **options), good)
    with pytest.raises(ValueError, match="^state: .*seed"):
        paba.SchedulerRun.from_state(paba.Scheduler(scenario.replace(seed=4), "joint",
                                                    **options), good)
    with pytest.raises(ValueError, match="^scheduler:"):
        paba.SchedulerRun.from_state(None, good)
    assert paba.SchedulerRun.from_state(target, good).iteration == 3
