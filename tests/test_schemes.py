"""Properties every scheme must satisfy (docs/algorithms.md section 3), on the corpus and on
random instances."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import paba
from paba.testing import CORPUS_NAMES, corpus_instance
from strategies import systems

RTOL = 1e-9


def basic(system):
    """One worker per group and no fixed costs: the paper's basic model."""
    return (system.n_groups == system.n_workers and not system.alpha.any()
            and not system.tau.any())


def exact_joint_latency(system):
    """Independent closed form of the joint optimum in the basic model (docs/algorithms.md 3.5, last
    paragraph): T* = L / max sum_k B_k / (beta_k + c_k B_k) s.t. sum_k B_k = B. The active set is
    a prefix of the workers sorted by beta; on it the KKT price is linear."""
    a = system.beta / system.bandwidth        # seconds per parameter over the whole pool
    c = system.compute
    order = np.argsort(a, kind="stable")
    a, c = a[order], c[order]
    root_a = np.sqrt(a)
    for m in range(1, a.size + 1):
        level = (1.0 + (a[:m] / c[:m]).sum()) / (root_a[:m] / c[:m]).sum()
        if m == a.size or level <= root_a[m]:
            break
    capacity = ((1.0 - root_a[:m] / level) / c[:m]).sum()  # parameters per second
    return system.params / capacity


def check_allocation(system, allocation):
    """Invariants of any allocation."""
    assert allocation.loads.dtype == np.int64 and allocation.loads.shape == (system.n_groups,)
    assert allocation.loads.sum() == system.params
    assert np.all(allocation.loads >= 0)
    assert allocation.bandwidth.shape == (system.n_workers,)
    assert np.all(allocation.bandwidth >= 0)
    assert allocation.bandwidth.sum() <= system.bandwidth * (1 + 1e-12)  # up to rounding
    evaluated = paba.evaluate(system, allocation.loads, allocation.bandwidth)
    assert allocation.latency == pytest.approx(evaluated.latency, rel=1e-12)
    np.testing.assert_allclose(allocation.worker_latency, evaluated.worker_latency, rtol=1e-12)
    loaded = allocation.loads[system.groups] > 0
    assert np.all(allocation.worker_latency[~loaded] == 0)
    assert np.all(allocation.worker_latency[loaded] > 0)
    assert allocation.latency == pytest.approx(allocation.worker_latency.max(), rel=1e-15)
    assert math.isfinite(allocation.latency) and math.isfinite(allocation.relaxed_latency)
    assert allocation.relaxed_loads.sum() == pytest.approx(system.params, rel=1e-9)
    assert allocation.converged


def check_finish_together(system, allocation):
    """Workers with load finish together, and workers without load get no bandwidth."""
    loaded = allocation.loads[system.groups] > 0
    times = allocation.worker_latency[loaded]
    np.testing.assert_allclose(times, allocation.latency, rtol=RTOL)
    assert np.all(allocation.bandwidth[~loaded] == 0)


# ---------------------------------------------------------------------------------------------
# Every scheme


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_invariants_on_corpus(name, scheme, backend):
    system = corpus_instance(name)
    check_allocation(system, paba.allocate(system, scheme, backend=backend))


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@given(system=systems())
def test_invariants_on_random_instances(scheme, system):
    check_allocation(system, paba.allocate(system, scheme))


def test_equal_split():
    system = paba.System(np.full(3, 8.0), np.full(3, 1e-6), params=10, bandwidth=3e6,
                         groups=[0, 1, 1])
    allocation = paba.allocate(system, "equal")
    np.testing.assert_array_equal(allocation.loads, [5, 5])
    np.testing.assert_allclose(allocation.bandwidth, 1e6)
    expected = 5 * (8.0 / 1e6 + 1e-6)
    assert allocation.latency == pytest.approx(expected, rel=1e-14)


# ---------------------------------------------------------------------------------------------
# Bandwidth-aware parameter allocation (3.2)


@given(system=systems(groups=False, fixed_costs=False))
def test_bandwidth_aware_closed_form(system):
    allocation = paba.allocate(system, "bandwidth_aware")
    share = system.bandwidth / system.n_workers
    s = system.beta / share + system.compute
    expected = system.params / (1.0 / s).sum()
    assert allocation.relaxed_latency == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(allocation.relaxed_loads, expected / s, rtol=1e-12)


@pytest.mark.parametrize("name", ["default_cell", "alpha_tau", "groups_of_three"])
def test_bandwidth_aware_beats_other_loads_at_its_bandwidth(name, backend):
    system = corpus_instance(name)
    rng = np.random.default_rng(1)
    bandwidth = rng.uniform(0.5, 1.0, system.n_workers)
    bandwidth *= system.bandwidth / bandwidth.sum()
    best = paba.allocate(system, "bandwidth_aware", bandwidth=bandwidth, backend=backend)
    np.testing.assert_array_equal(best.bandwidth, bandwidth)
    for _ in range(50):
        loads = rng.dirichlet(np.ones(system.n_groups)) * system.params
        assert paba.evaluate(system, loads, bandwidth).latency >= best.relaxed_latency * (1 - RTOL)
    # Its relaxed loads make every loaded group's slowest member finish at the same time.
    times = paba.evaluate(system, best.relaxed_loads, bandwidth).worker_latency
    slowest = np.zeros(system.n_groups)
    np.maximum.at(slowest, system.groups, times)
    active = best.relaxed_loads > 0
    np.testing.assert_allclose(slowest[active], best.relaxed_latency, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# Parameter-aware bandwidth allocation (3.3)


@pytest.mark.parametrize("scheme", ["parameter_aware", "sequential", "joint"])
@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_workers_finish_together(name, scheme, backend):
    system = corpus_instance(name)
    check_finish_together(system, paba.allocate(system, scheme, backend=backend))


@given(system=systems(), data=st.data())
def test_parameter_aware_is_optimal_for_its_loads(system, data):
    loads = paba.allocate(system, "sequential").loads
    allocation = paba.allocate(system, "parameter_aware", loads=loads)
    np.testing.assert_array_equal(allocation.loads, loads)
    check_finish_together(system, allocation)
    weights = np.array(data.draw(st.lists(st.floats(0.01, 1.0), min_size=system.n_workers,
                                          max_size=system.n_workers)))
    other = weights / weights.sum() * system.bandwidth
    assert paba.evaluate(system, loads, other).latency >= allocation.latency * (1 - RTOL)


# ---------------------------------------------------------------------------------------------
# Sequential scheme (3.4)


@given(system=systems(groups=False, fixed_costs=False))
def test_sequential_equals_bandwidth_aware_in_the_basic_model(system):
    """With one worker per group and alpha = tau = 0, 3.2 already makes every worker finish
    together, so 3.3 cannot improve on it (docs/algorithms.md 3.4)."""
    sequential = paba.allocate(system, "sequential")
    bandwidth_aware = paba.allocate(system, "bandwidth_aware")
    assert sequential.relaxed_latency == pytest.approx(bandwidth_aware.relaxed_latency, rel=1e-9)


def idle_worker_system():
    """A worker whose fixed overhead exceeds what the others need: 3.2 leaves it idle but still
    gives it its equal share of bandwidth, which 3.3 hands to the others."""
    return paba.System(np.full(4, 8.0), np.full(4, 2e-6), params=10**6, bandwidth=1e7,
                       tau=[0.0, 0.0, 0.0, 100.0])


@pytest.mark.parametrize("name", ["groups_of_three", "uneven_groups", "idle_worker"])
def test_sequential_improves_with_groups_or_idle_workers(name):
    system = idle_worker_system() if name == "idle_worker" else corpus_instance(name)
    sequential = paba.allocate(system, "sequential")
    bandwidth_aware = paba.allocate(system, "bandwidth_aware")
    assert sequential.relaxed_latency < bandwidth_aware.relaxed_latency * (1 - 1e-3)


@pytest.mark.parametrize("name", ["alpha_tau", "tau_only"])
def test_sequential_is_stuck_when_every_worker_is_loaded(name):
    """With one worker per group, 3.2 makes every loaded worker finish together also when alpha
    or tau are nonzero; 3.3 then has nothing to improve unless a worker was left idle."""
    system = corpus_instance(name)
    sequential = paba.allocate(system, "sequential")
    bandwidth_aware = paba.allocate(system, "bandwidth_aware")
    assert np.all(bandwidth_aware.relaxed_loads > 0)
    assert sequential.relaxed_latency == pytest.approx(bandwidth_aware.relaxed_latency, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Joint scheme (3.5)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_joint_is_never_above_another_scheme(name, backend):
    system = corpus_instance(name)
    joint = paba.allocate(system, "joint", backend=backend)
    for scheme in paba.SCHEMES:
        other = paba.allocate(system, scheme, backend=backend)
        assert joint.relaxed_latency <= other.relaxed_latency * (1 + RTOL), scheme
        assert joint.latency <= other.latency * (1 + RTOL), scheme


@given(system=systems())
def test_joint_relaxed_latency_is_never_above_another_scheme(system):
    joint = paba.allocate(system, "joint")
    for scheme in paba.SCHEMES:
        other = paba.allocate(system, scheme)
        assert joint.relaxed_latency <= other.relaxed_latency * (1 + RTOL), scheme


@given(system=systems(), data=st.data())
def test_joint_beats_random_allocations(system, data):
    joint = paba.allocate(system, "joint")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    for _ in range(20):
        loads = rng.dirichlet(np.ones(system.n_groups)) * system.params
        bandwidth = rng.dirichlet(np.ones(system.n_workers)) * system.bandwidth
        assert paba.evaluate(system, loads, bandwidth).latency >= joint.relaxed_latency * (1 - RTOL)


@pytest.mark.parametrize("name", [n for n in CORPUS_NAMES if basic(corpus_instance(n))])
def test_joint_matches_the_closed_form_on_corpus(name, backend):
    system = corpus_instance(name)
    joint = paba.allocate(system, "joint", backend=backend)
    assert joint.relaxed_latency == pytest.approx(exact_joint_latency(system), rel=1e-8)


@given(system=systems(groups=False, fixed_costs=False))
def test_joint_matches_the_closed_form(system):
    joint = paba.allocate(system, "joint")
    assert joint.relaxed_latency == pytest.approx(exact_joint_latency(system), rel=1e-8)


@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-12])
def test_joint_tolerance(tol):
    system = corpus_instance("default_cell")
    joint = paba.allocate(system, "joint", tol=tol)
    exact = exact_joint_latency(system)
    assert exact * (1 - 1e-12) <= joint.relaxed_latency <= exact * (1 + tol)
    assert joint.iterations >= 1


def threshold_holds(system, joint):
    """Threshold structure: load and bandwidth go exactly to the workers whose beta lies below a
    water level."""
    active = joint.relaxed_loads > 0
    if active.all():
        return
    assert joint.relaxed_loads[active].min() > 0
    assert system.beta[active].max() < system.beta[~active].min()
    # Workers without load get no bandwidth once the integer loads are rebalanced.
    idle = joint.loads == 0
    assert np.all(joint.bandwidth[idle] == 0)


@pytest.mark.parametrize("name", ["hopeless_channel", "communication_bound", "many_workers",
                                  "wide_dynamic_range"])
def test_threshold_structure_on_corpus(name, backend):
    system = corpus_instance(name)
    threshold_holds(system, paba.allocate(system, "joint", backend=backend))


def test_hopeless_channel_is_dropped(backend):
    system = corpus_instance("hopeless_channel")
    joint = paba.allocate(system, "joint", backend=backend)
    assert joint.loads[-1] == 0 and joint.bandwidth[-1] == 0 and joint.relaxed_loads[-1] == 0
    assert np.all(joint.loads[:-1] > 0)


@given(system=systems(groups=False, fixed_costs=False, beta_exp=(-2.0, 4.0)))
def test_threshold_structure(system):
    threshold_holds(system, paba.allocate(system, "joint"))


def test_identical_workers_share_equally(backend):
    system = corpus_instance("identical_workers")
    joint = paba.allocate(system, "joint", backend=backend)
    assert joint.loads.max() - joint.loads.min() <= 1
    np.testing.assert_allclose(joint.bandwidth, system.bandwidth / system.n_workers, rtol=1e-6)


def test_one_worker_takes_everything(backend):
    system = corpus_instance("one_worker")
    joint = paba.allocate(system, "joint", backend=backend)
    assert joint.loads.tolist() == [system.params]
    expected = system.params * (system.beta[0] / system.bandwidth + system.compute[0])
    assert joint.latency == pytest.approx(expected, rel=1e-9)


def test_more_bandwidth_is_never_slower():
    system = corpus_instance("default_cell")
    latencies = [paba.allocate(system.replace(bandwidth=b), "joint").relaxed_latency
                 for b in (1e6, 2e6, 5e6, 1e7, 2e7)]
    assert all(later < earlier for earlier, later in zip(latencies, latencies[1:], strict=False))


@given(system=systems(), factor=st.floats(1e-3, 1e3))
def test_units_scale_out(system, factor):
    """Scaling beta, alpha and the pool together changes no latency."""
    scaled = system.replace(beta=system.beta * factor, alpha=system.alpha * factor,
                            bandwidth=system.bandwidth * factor)
    a = paba.allocate(system, "joint")
    b = paba.allocate(scaled, "joint")
    assert b.relaxed_latency == pytest.approx(a.relaxed_latency, rel=1e-7)


@pytest.mark.parametrize("name", ["groups_of_three", "uneven_groups", "alpha_tau_groups"])
def test_groups_train_the_same_block(name, backend):
    system = corpus_instance(name)
    joint = paba.allocate(system, "joint", backend=backend)
    check_finish_together(system, joint)
    loaded = joint.loads[system.groups] > 0
    # A group's members all work on its block: each loaded member has bandwidth.
    assert np.all(joint.bandwidth[loaded] > 0)


def test_regression_fixed_cost_participation_above_parameter_aware(backend):
    """Found by a random hypothesis run: the participation heuristic for fixed communication spread
    a one-parameter model over nine workers, 1.3e-5 above the parameter-aware scheme's whole
    parameter on worker 0. The joint bracket now starts at the two-step schemes' allocations."""
    system = paba.System(beta=[1.0] * 9, compute=[1e-5] + [1.0] * 8, params=1, bandwidth=1e4,
                         alpha=[1.0] + [0.0] * 8)
    joint = paba.allocate(system, "joint", backend=backend)
    for scheme in paba.SCHEMES:
        other = paba.allocate(system, scheme, backend=backend)
        assert joint.relaxed_latency <= other.relaxed_latency * (1 + RTOL), scheme
        assert joint.latency <= other.latency * (1 + RTOL), scheme


def test_regression_price_search_ending_below_the_model():
    """Found by hypothesis: the price search stopped within rounding of sum x = 1 but on the
    short side, and the inner level then used the loads of an earlier point; the joint scheme
    came out above the sequential one. Group 0 also has members tied at its compute limit."""
    system = paba.System([1.0] * 6 + [1e5, 1e3, 1.0, 1.0, 1.0], [1.0] * 11, params=1,
                         bandwidth=1e4, groups=[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1])
    joint = paba.allocate(system, "joint")
    sequential = paba.allocate(system, "sequential")
    assert joint.relaxed_latency <= sequential.relaxed_latency
    assert joint.relaxed_loads[0] > 0  # the slow group is still worth a little load


def test_regression_fixed_cost_of_a_tiny_load():
    """Found by hypothesis: a group with fixed costs (alpha > 0) took a tiny load in the convex
    relaxation and paid its whole fixed cost for it, so the joint scheme came out above the
    sequential one. The participation threshold keeps such groups out."""
    system = paba.System(
        beta=[1.0] * 6 + [0.001] + [1.0] * 3, compute=[1.0] * 6 + [5.623413251903491e-05, 1, 1, 10],
        params=466, bandwidth=3162277.6601683795, groups=[0, 0, 0, 3, 4, 5, 1, 2, 0, 0],
        alpha=[0.0] * 9 + [31622.776601683792], tau=[0, 0, 0, 1, 1, 1, 0, 1, 0, 0])
    joint = paba.allocate(system, "joint")
    sequential = paba.allocate(system, "sequential")
    assert joint.relaxed_latency <= sequential.relaxed_latency * (1 + RTOL)
    assert joint.relaxed_loads[0] == 0
