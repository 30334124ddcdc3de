"""The exact joint method (docs/algorithms.md 3.5, last paragraph; 3.7): the price search for one
worker per group without fixed costs, against the nested bisection, the reference twin and an
independent water-filling oracle; its properties, the fallback to a sorted scan, extreme dynamic
ranges, the cut start (256 to 8,191 workers), method selection and warm starts
(``previous=``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paba
import paba._core
from paba.reference import allocation as reference
from paba.reference import exact as reference_exact
from paba.reference.allocation import COARSE_GROUPS, COARSE_LOADS
from paba.testing import (
    CORPUS_NAMES,
    assert_allocations_close,
    assert_backends_agree,
    corpus_instance,
)
from strategies import systems

RTOL = 1e-9
NEWTON_PASSES = 12  # paba.hpp Options::exact_passes: probes before the sorted scan takes over


def exact_applies(system: paba.System) -> bool:
    """One worker per group, worker k in group k, and alpha = tau = 0 (the method's domain)."""
    return (system.n_groups == system.n_workers
            and np.array_equal(system.groups, np.arange(system.n_workers))
            and not np.any(system.alpha) and not np.any(system.tau))


EXACT_CORPUS = tuple(name for name in CORPUS_NAMES if exact_applies(corpus_instance(name)))
OTHER_CORPUS = tuple(name for name in CORPUS_NAMES if name not in EXACT_CORPUS)


def test_corpus_has_both_kinds():
    assert len(EXACT_CORPUS) >= 8 and len(OTHER_CORPUS) >= 4


def water_filling(system: paba.System):
    """Independent oracle of the relaxed optimum (SPEC 3.5, last paragraph): sort by beta, take
    the first prefix whose price level is at most the next worker's root, then
    T* = L / sum_k (1 - sqrt(a_k) / level) / c_k with a = beta / B. Returns (T*, active mask)."""
    a = system.beta / system.bandwidth
    c = system.compute
    order = np.argsort(a, kind="stable")
    root = np.sqrt(a[order])
    weight = root / c[order]
    level = math.inf
    for m in range(1, a.size + 1):
        level = (1.0 + (root[:m] ** 2 / c[order][:m]).sum()) / weight[:m].sum()
        if m == a.size or level <= root[m]:
            break
    capacity = ((1.0 - root[:m] / level) / c[order][:m]).sum()
    active = np.zeros(a.size, dtype=bool)
    active[order[:m]] = True
    return system.params / capacity, active


def newton_passes_to_settle(system: paba.System) -> int:
    """How many plain Newton passes from the right (a cold start from every worker, each the
    closed form of the current active set) the price needs before its active set repeats."""
    L, B = float(system.params), float(system.bandwidth)
    r = np.sqrt(system.beta * L / B)
    w = r / (system.compute * L)
    d = r - r.min()
    active = np.ones(r.size, dtype=bool)
    passes = 0
    while True:
        delta = (1.0 + (w * d)[active].sum()) / w[active].sum()
        passes += 1
        now = d < delta
        if np.array_equal(now, active):
            return passes
        active = now


def forced_scan(system: paba.System, backend: str, passes: int = 1) -> dict:
    """The exact method with its probes capped (a private argument of both backends), so that
    the sorted scan finds the root."""
    module = paba._core if backend == "native" else reference
    return module.allocate("joint", system.beta, system.compute, None, None, None,
                           system.n_workers, float(system.params), system.bandwidth,
                           method="exact", exact_passes=passes)


def check_loads_close(a: paba.Allocation, b: paba.Allocation, system: paba.System) -> None:
    """Integer loads within one parameter per group, both summing to params; each integer
    latency consistent with its loads and bandwidth; the two latencies within RTOL plus one
    parameter's time on the smallest block that differs."""
    assert a.loads.sum() == b.loads.sum() == system.params
    assert np.abs(a.loads - b.loads).max() <= 1, (a.loads, b.loads)
    for allocation in (a, b):
        evaluated = paba.evaluate(system, allocation.loads, allocation.bandwidth)
        assert allocation.latency == pytest.approx(evaluated.latency, rel=1e-12)
        assert allocation.bandwidth.sum() <= system.bandwidth * (1 + 1e-12)
    slack = 0.0
    differ = a.loads != b.loads
    if differ.any():
        smallest = max(int(np.minimum(a.loads, b.loads)[differ].min()), 1)
        slack = max(a.latency, b.latency) / smallest
    assert abs(a.latency - b.latency) <= RTOL * max(a.latency, b.latency) + slack


def check_against_bisection(system: paba.System, backend: str = "native",
                            compare_loads: tuple = (1e-12,)) -> paba.Allocation:
    """The exact method against the nested bisection, tight (tol=1e-12) and at its default
    tolerance: relaxed latencies within 1e-9 relative. At the tolerances in ``compare_loads``
    also the loads: relaxed loads within 1e-6 of the model, integer loads within one parameter
    per group. (Where the latency is nearly flat in the loads, as when communication dwarfs
    computation, a bisection within its tolerance may settle on loads far from the optimum's:
    there only latencies are comparable.) Returns the exact allocation."""
    exact = paba.allocate(system, "joint", method="exact", backend=backend)
    assert exact.method == "exact" and exact.converged
    for tol in (1e-12, 1e-9):
        bisection = paba.allocate(system, "joint", method="bisection", tol=tol, backend=backend)
        assert bisection.method == "bisection"
        assert exact.relaxed_latency == pytest.approx(bisection.relaxed_latency, rel=RTOL), tol
        # The exact optimum is never worse than what the bisection found (up to rounding).
        assert exact.relaxed_latency <= bisection.relaxed_latency * (1 + 1e-12), tol
        if tol in compare_loads:
            # Loads are less well determined than the latency near the flat optimum.
            np.testing.assert_allclose(exact.relaxed_loads, bisection.relaxed_loads, rtol=0,
                                       atol=1e-6 * system.params, err_msg=f"tol={tol}")
            check_loads_close(exact, bisection, system)
        else:
            check_latency_consistent(bisection, system)
    check_latency_consistent(exact, system)
    return exact


def check_latency_consistent(allocation: paba.Allocation, system: paba.System) -> None:
    assert allocation.loads.sum() == system.params
    evaluated = paba.evaluate(system, allocation.loads, allocation.bandwidth)
    assert allocation.latency == pytest.approx(evaluated.latency, rel=1e-12)
    assert allocation.bandwidth.sum() <= system.bandwidth * (1 + 1e-12)


def replaced_by_two_step(system: paba.System, allocation: paba.Allocation) -> bool:
    """Whether the joint answer's integer loads are the parameter-aware or the sequential
    scheme's, which replace the rounded relaxed optimum where loads are coarse and they finish
    sooner (docs/algorithms.md 3.6): the rounding's structure is then theirs."""
    if not (system.n_groups <= COARSE_GROUPS and system.params < COARSE_LOADS * system.n_groups):
        return False
    return any(np.array_equal(allocation.loads, paba.allocate(system, scheme).loads)
               for scheme in ("parameter_aware", "sequential"))


def check_exact_properties(system: paba.System, allocation: paba.Allocation) -> None:
    """What the exact optimum must satisfy on its own (SPEC 3.5)."""
    assert allocation.method == "exact" and allocation.converged
    assert math.isfinite(allocation.latency) and math.isfinite(allocation.relaxed_latency)
    # Loads sum to params, bandwidth within the pool, nothing negative.
    assert allocation.loads.dtype == np.int64 and allocation.loads.sum() == system.params
    assert np.all(allocation.loads >= 0) and np.all(allocation.bandwidth >= 0)
    assert allocation.bandwidth.sum() <= system.bandwidth
    assert allocation.relaxed_loads.sum() == pytest.approx(system.params, rel=1e-9)
    assert np.all(allocation.relaxed_loads >= 0)
    # Every loaded worker finishes together; the others get neither bandwidth nor latency.
    loaded = allocation.loads > 0
    np.testing.assert_allclose(allocation.worker_latency[loaded], allocation.latency, rtol=RTOL)
    assert np.all(allocation.bandwidth[~loaded] == 0)
    assert np.all(allocation.worker_latency[~loaded] == 0)
    assert np.all(allocation.bandwidth[loaded] > 0)
    evaluated = paba.evaluate(system, allocation.loads, allocation.bandwidth)
    assert allocation.latency == pytest.approx(evaluated.latency, rel=1e-12)
    np.testing.assert_allclose(allocation.worker_latency, evaluated.worker_latency, rtol=1e-12)
    # Threshold structure: the relaxed optimum loads exactly the workers whose beta is below a
    # water level, a prefix in the order of beta (equal betas share their fate).
    active = allocation.relaxed_loads > 0
    assert active.any()
    if not active.all():
        assert system.beta[active].max() < system.beta[~active].min()
    if replaced_by_two_step(system, allocation):
        return  # coarse loads: a two-step scheme's integer answer finished sooner (3.6)
    # A worker the relaxed optimum leaves out gets no integer load either.
    assert np.all(allocation.loads[~active] == 0)
    # Rounding (SPEC 3.6) starts from the floors and hands out the remainder, fewer parameters
    # than there are active workers, plus what the relaxed loads lost to float64 rounding (a few
    # parameters for models near 2^53 parameters, where one ulp is a parameter).
    floors = np.minimum(np.floor(allocation.relaxed_loads), system.params).astype(np.int64)
    if floors.sum() <= system.params:
        assert np.all(allocation.loads >= floors)
        float_slack = int(np.ceil(8 * np.finfo(np.float64).eps * system.params))
        assert (allocation.loads - floors).sum() <= active.sum() + float_slack
    else:  # relaxed loads rounded above params (huge models): the floors give some back
        assert np.all(allocation.loads <= floors)
    # The relaxed optimum bounds the integer latency below; above, by the integer loads at the
    # relaxed bandwidth (worker k then needs loads_k / relaxed_loads_k times the relaxed
    # latency), which the re-balanced bandwidth can only improve on.
    assert allocation.latency >= allocation.relaxed_latency * (1 - RTOL)
    stretch = np.max(allocation.loads[loaded] / allocation.relaxed_loads[loaded])
    assert allocation.latency <= allocation.relaxed_latency * stretch * (1 + RTOL)


# ---------------------------------------------------------------------------------------------
# 1. Exact against the nested bisection; method selection


@pytest.mark.parametrize("name", EXACT_CORPUS)
def test_exact_matches_bisection_on_corpus(name):
    check_against_bisection(corpus_instance(name))


@pytest.mark.parametrize("name", EXACT_CORPUS)
def test_exact_matches_water_filling_oracle_on_corpus(name):
    system = corpus_instance(name)
    allocation = paba.allocate(system, "joint", method="exact")
    latency, active = water_filling(system)
    assert allocation.relaxed_latency == pytest.approx(latency, rel=RTOL)
    np.testing.assert_array_equal(allocation.relaxed_loads > 0, active)


@given(system=systems(max_workers=30, groups=False, fixed_costs=False))
def test_exact_matches_bisection_on_random_instances(system):
    check_against_bisection(system)


@given(system=systems(max_workers=30, groups=False, fixed_costs=False,
                      beta_exp=(0.0, 3.0), compute_exp=(-7.0, -4.0)))
def test_exact_matches_water_filling_oracle_on_random_instances(system):
    latency, _ = water_filling(system)
    assert paba.allocate(system, "joint").relaxed_latency == pytest.approx(latency, rel=RTOL)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_auto_picks_exact_exactly_where_it_applies(name, backend):
    system = corpus_instance(name)
    allocation = paba.allocate(system, "joint", backend=backend)
    assert allocation.method == ("exact" if exact_applies(system) else "newton")
    assert paba.allocate(system, "joint", method="bisection",
                         backend=backend).method == "bisection"


@given(system=systems(max_workers=8))
def test_auto_picks_exact_exactly_where_it_applies_on_random_instances(system):
    allocation = paba.allocate(system, "joint")
    assert allocation.method == ("exact" if exact_applies(system) else "newton")
    if exact_applies(system):
        check_against_bisection(system)
    else:
        with pytest.raises(ValueError, match="^method:"):
            paba.allocate(system, "joint", method="exact")


@pytest.mark.parametrize("change", ["alpha", "tau", "groups", "permuted_groups"])
def test_auto_falls_back_to_newton(change, backend):
    base = corpus_instance("two_workers").replace(beta=[6.4, 12.8, 9.0],
                                                  compute=[4e-6, 2e-6, 3e-6])
    system = {
        "alpha": lambda: base.replace(alpha=[0.0, 1e3, 0.0]),
        "tau": lambda: base.replace(tau=[0.0, 0.0, 0.1]),
        "groups": lambda: base.replace(groups=[0, 0, 1]),
        # One worker per group, but not worker k in group k: the exact kernel does not apply.
        "permuted_groups": lambda: base.replace(groups=[1, 2, 0]),
    }[change]()
    assert paba.allocate(base, "joint", backend=backend).method == "exact"
    assert paba.allocate(system, "joint", backend=backend).method == "newton"
    with pytest.raises(ValueError, match="^method:"):
        paba.allocate(system, "joint", method="exact", backend=backend)


def test_zero_fixed_costs_given_explicitly_still_take_the_exact_method():
    base = corpus_instance("default_cell")
    zeros = np.zeros(base.n_workers)
    system = base.replace(alpha=zeros, tau=zeros, groups=np.arange(base.n_workers))
    allocation = paba.allocate(system, "joint")
    assert allocation.method == "exact"
    reference = paba.allocate(base, "joint")
    np.testing.assert_array_equal(allocation.loads, reference.loads)
    assert allocation.latency == reference.latency


@pytest.mark.parametrize("scheme", [s for s in paba.SCHEMES if s != "joint"])
def test_method_belongs_to_the_joint_scheme(scheme, backend):
    system = corpus_instance("default_cell")
    assert paba.allocate(system, scheme, method="auto", backend=backend).method is None
    for method in ("exact", "bisection"):
        with pytest.raises(ValueError, match="^method:"):
            paba.allocate(system, scheme, method=method, backend=backend)


@pytest.mark.parametrize("method", ["fast", "", "EXACT", None, 1])
def test_unknown_method(method, backend):
    with pytest.raises(ValueError, match="^method:"):
        paba.allocate(corpus_instance("default_cell"), "joint", method=method, backend=backend)


# ---------------------------------------------------------------------------------------------
# 2. Native kernel against the reference twin


@pytest.mark.parametrize("name", EXACT_CORPUS)
def test_exact_backends_agree_on_corpus(name):
    allocation = assert_backends_agree(corpus_instance(name), "joint", method="exact")
    assert allocation.method == "exact"


@given(system=systems(max_workers=30, groups=False, fixed_costs=False))
def test_exact_backends_agree_on_random_instances(system):
    assert_backends_agree(system, "joint", method="exact")


@pytest.mark.parametrize("name", OTHER_CORPUS)
def test_exact_refused_alike_by_both_backends(name):
    with pytest.raises(ValueError, match="^method:"):
        assert_backends_agree(corpus_instance(name), "joint", method="exact")


# ---------------------------------------------------------------------------------------------
# 3. Properties of the exact optimum


@pytest.mark.parametrize("name", EXACT_CORPUS)
def test_exact_properties_on_corpus(name, backend):
    system = corpus_instance(name)
    check_exact_properties(system, paba.allocate(system, "joint", backend=backend))


@given(system=systems(max_workers=30, groups=False, fixed_costs=False))
def test_exact_properties_on_random_instances(system):
    check_exact_properties(system, paba.allocate(system, "joint"))


def check_not_above_other_schemes(system, backend="native"):
    joint = paba.allocate(system, "joint", backend=backend)
    assert joint.method == "exact"
    for scheme in paba.SCHEMES:
        other = paba.allocate(system, scheme, backend=backend)
        # The optimum leaves 1e-12 of the pool unused against rounding (docs/algorithms.md 3.3),
        # which costs up to 1e-12 of latency: a scheme that hands out the whole pool (equal, with
        # one worker) may be that much faster, plus rounding.
        assert joint.relaxed_latency <= other.relaxed_latency * (1 + 2e-12), scheme


@pytest.mark.parametrize("name", EXACT_CORPUS)
def test_exact_is_never_above_another_scheme_on_corpus(name, backend):
    check_not_above_other_schemes(corpus_instance(name), backend)


@given(system=systems(max_workers=20, groups=False, fixed_costs=False))
def test_exact_is_never_above_another_scheme_on_random_instances(system):
    check_not_above_other_schemes(system)


@given(system=systems(max_workers=12, groups=False, fixed_costs=False), data=st.data())
def test_exact_beats_random_feasible_allocations(system, data):
    """No split of the pool and the model does better than the relaxed optimum."""
    exact = paba.allocate(system, "joint")
    K = system.n_workers
    weights = np.array(data.draw(st.lists(st.floats(0.01, 1.0), min_size=K, max_size=K)))
    bandwidth = weights / weights.sum() * system.bandwidth
    # Given that bandwidth, the best loads make every worker finish together.
    s = system.beta / bandwidth + system.compute
    best_at_bandwidth = system.params / (1.0 / s).sum()
    # The optimum leaves 1e-12 of the pool unused against rounding (docs/algorithms.md 3.3),
    # which costs up to 1e-12 of latency; a split of the whole pool may be that much faster.
    assert exact.relaxed_latency <= best_at_bandwidth * (1 + 2e-12)


def geometric_system(K: int, ratio: float, compute: float,
                     descending: bool = False) -> paba.System:
    """Betas growing geometrically and tiny compute: each Newton pass on the price drops only a
    few workers, so the passes run out and the kernel falls back to its sorted scan. In
    increasing order from 256 workers the first workers' cuts can find the root at once, so
    the tests also take the workers in decreasing order, where the cuts are no help."""
    beta = ratio ** np.arange(K)
    return paba.System(beta[::-1] if descending else beta, np.full(K, compute), params=10**6,
                       bandwidth=1e7)


SORT_FALLBACK = [(100, 1.2, 1e-5), (200, 1.1, 1e-5), (200, 1.2, 1e-8), (400, 1.5, 1e-6),
                 (1000, 1.1, 1e-5), (100, 2.0, 1e-12), (50, 1.5, 1e-5)]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("K,ratio,compute", SORT_FALLBACK)
def test_sort_fallback_agrees_with_bisection(K, ratio, compute, descending, backend):
    system = geometric_system(K, ratio, compute, descending)
    # Plain Newton from the right would need many passes here; the bracketed probes do not.
    assert newton_passes_to_settle(system) > 8
    exact = check_against_bisection(system, backend)
    assert exact.iterations < NEWTON_PASSES
    check_exact_properties(system, exact)
    latency, active = water_filling(system)
    assert exact.relaxed_latency == pytest.approx(latency, rel=RTOL)
    np.testing.assert_array_equal(exact.relaxed_loads > 0, active)
    # The sorted scan, forced after one and two probes (where the search takes more), finds the
    # same optimum.
    for passes in (1, 2):
        scanned = forced_scan(system, backend, passes)
        assert scanned["iterations"] == min(passes, exact.iterations)
        assert scanned["relaxed_latency"] == pytest.approx(latency, rel=RTOL)
        np.testing.assert_array_equal(scanned["relaxed_loads"] > 0, active)
        np.testing.assert_allclose(scanned["relaxed_loads"], exact.relaxed_loads, rtol=1e-9,
                                   atol=1e-9 * system.params)


def test_exact_passes_must_be_positive(backend):
    with pytest.raises(ValueError, match="^exact_passes:"):
        forced_scan(geometric_system(10, 1.5, 1e-5), backend, passes=0)


@pytest.mark.parametrize("K,ratio,compute", SORT_FALLBACK)
def test_sort_fallback_backends_agree(K, ratio, compute):
    assert_backends_agree(geometric_system(K, ratio, compute), "joint", method="exact")


def test_sort_fallback_with_shuffled_order_and_ties():
    """The sorted scan sorts candidates by beta with ties by index: shuffling the workers, or
    duplicating some, must only permute the answer."""
    base = geometric_system(120, 1.1, 1e-7)
    rng = np.random.default_rng(3)
    beta = np.repeat(base.beta, 2)  # every beta twice: ties everywhere
    compute = np.repeat(base.compute, 2)
    order = rng.permutation(beta.size)
    tied = paba.System(beta, compute, params=10**6, bandwidth=1e7)
    shuffled = paba.System(beta[order], compute[order], params=10**6, bandwidth=1e7)
    a = check_against_bisection(tied)
    b = check_against_bisection(shuffled)
    assert a.relaxed_latency == pytest.approx(b.relaxed_latency, rel=1e-12)
    np.testing.assert_allclose(a.relaxed_loads[order], b.relaxed_loads, rtol=1e-9,
                               atol=1e-9 * tied.params)
    for backend in ("native", "reference"):  # the sorted scan itself, with ties everywhere
        scan_tied = forced_scan(tied, backend)
        scan_shuffled = forced_scan(shuffled, backend)
        assert scan_tied["relaxed_latency"] == pytest.approx(a.relaxed_latency, rel=1e-12)
        np.testing.assert_allclose(scan_tied["relaxed_loads"][order],
                                   scan_shuffled["relaxed_loads"], rtol=1e-9,
                                   atol=1e-9 * tied.params)
    # Twins (equal beta and compute) get equal relaxed loads.
    np.testing.assert_allclose(a.relaxed_loads[0::2], a.relaxed_loads[1::2], rtol=1e-12)
    check_exact_properties(tied, a)
    check_exact_properties(shuffled, b)


@given(K=st.integers(20, 300), ratio=st.floats(1.01, 3.0), compute_exp=st.floats(-12.0, -5.0),
       seed=st.integers(0, 2**32 - 1))
@settings(max_examples=30)
def test_many_newton_passes_on_random_geometric_instances(K, ratio, compute_exp, seed):
    rng = np.random.default_rng(seed)
    beta = np.minimum(ratio ** np.arange(K), 1e12)
    order = rng.permutation(K)
    compute = 10.0**compute_exp * rng.uniform(0.5, 2.0, K)
    system = paba.System(beta[order], compute, params=10**6, bandwidth=1e7)
    exact = check_against_bisection(system)
    check_exact_properties(system, exact)
    assert_backends_agree(system, "joint", method="exact")


# Extreme dynamic ranges: communication-dominated workers whose s - r_k cancels in float64.


def communication_dominated(K: int, spread: float) -> paba.System:
    beta = 3e6 * (1.0 + spread * np.arange(K))
    return paba.System(beta, np.full(K, 5e-4), params=10**9, bandwidth=3e-7)


def test_communication_dominated_single_worker(backend):
    """Once produced NaN: a = 1e22 s of communication against 5e5 s of computation."""
    system = paba.System([3e6], [5e-4], params=10**9, bandwidth=3e-7)
    allocation = paba.allocate(system, "joint", backend=backend)
    check_exact_properties(system, allocation)
    expected = 10**9 * (3e6 / (3e-7 * (1 - 1e-12)) + 5e-4)
    assert allocation.latency == pytest.approx(expected, rel=1e-12)
    assert allocation.relaxed_latency == pytest.approx(expected, rel=1e-12)
    check_against_bisection(system, backend)


@pytest.mark.parametrize("K", [2, 5, 40])
@pytest.mark.parametrize("spread", [0.0, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 1.0])
def test_communication_dominated_workers(K, spread, backend):
    system = communication_dominated(K, spread)
    allocation = check_against_bisection(system, backend, compare_loads=())
    check_exact_properties(system, allocation)
    assert np.all(np.isfinite(allocation.relaxed_loads))
    assert np.all(np.isfinite(allocation.bandwidth))


def test_communication_dominated_mixed_with_fast_worker(backend):
    """One ordinary worker among communication-dominated ones takes all the load."""
    system = paba.System([3e6, 3e6, 1e-3, 3e6 * (1 + 1e-13)], [5e-4, 5e-4, 1e-9, 5e-4],
                         params=10**9, bandwidth=3e-7)
    allocation = check_against_bisection(system, backend, compare_loads=())
    # The fast worker takes (nearly) everything.
    assert allocation.loads[2] >= system.params - 2
    check_exact_properties(system, allocation)


@st.composite
def extreme_systems(draw, max_workers=10):
    """Instances over most of the range paba.System accepts: beta L / B and compute L from about
    1e-30 to 1e30 seconds, often clustered so that the workers' roots nearly coincide."""
    K = draw(st.integers(1, max_workers))
    params = draw(st.integers(1, 2**53))
    bandwidth = 10.0 ** draw(st.floats(-8.0, 10.0))
    a_exp = draw(st.floats(-30.0, 30.0))
    e_exp = draw(st.floats(-30.0, 30.0))
    spread = draw(st.sampled_from([0.0, 1e-14, 1e-9, 1e-3, 1.0, 10.0]))
    offsets = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=K, max_size=K)))
    a = 10.0 ** (a_exp + spread * offsets)
    e = 10.0 ** (e_exp + draw(st.sampled_from([0.0, 1.0])) * offsets[::-1])
    return paba.System(a * bandwidth / params, e / params, params=params, bandwidth=bandwidth)


@given(system=extreme_systems())
@settings(max_examples=80)
def test_extreme_dynamic_ranges(system):
    exact = paba.allocate(system, "joint")
    check_exact_properties(system, exact)
    check_against_bisection(system, compare_loads=())


@pytest.mark.parametrize("beta,compute", [
    # Communication 1e8 times compute: the bisection settled on the equal split, 2.7e-9 above.
    ([0.1] * 5, [3.1622776601683795e-09] * 3 + [3.1622776601683795e-10] * 2),
    # Communication 1e10 times compute, two near-tied clusters: 1.1e-9 above.
    ([1e10] * 3 + [1e10 * (1 + 2.3e-9)] * 3, [1.0] * 6),
])
def test_communication_bound_bandwidth_from_loads(beta, compute, backend):
    """Reduced from test_extreme_dynamic_ranges: the bandwidth of loads x with slacks
    z = U - x was formed with x taken back as U - z, whose error eps U (U = T / e, far above
    the loads when communication dwarfs compute) made the needed bandwidth 1e-8 relative too
    large; the native bisection (whose inner sum did this) and Newton on both backends (whose
    outer sums did) then ended 1e-9 relative above the optimum. Both must match the exact
    method at the test's tolerance, and never lie below it."""
    system = paba.System(np.array(beta), np.array(compute), params=1, bandwidth=1.0)
    exact = paba.allocate(system, "joint", method="exact", backend=backend)
    check_exact_properties(system, exact)
    for method, tol in (("bisection", 1e-12), ("bisection", 1e-9), ("newton", 1e-9)):
        other = paba.allocate(system, "joint", method=method, tol=tol, backend=backend)
        assert other.method == method and other.converged
        assert other.relaxed_latency == pytest.approx(exact.relaxed_latency, rel=RTOL), method
        assert exact.relaxed_latency <= other.relaxed_latency * (1 + 1e-12), method
        check_latency_consistent(other, system)
    check_against_bisection(system, backend, compare_loads=())


@given(system=extreme_systems())
@settings(max_examples=40)
def test_extreme_dynamic_ranges_backends_agree(system):
    assert_backends_agree(system, "joint", method="exact")


@pytest.mark.parametrize("beta", [
    [1e15, 1e15, 1e15, 1000000000000012.2],  # native bisection: NaN relaxed loads, converged
    [1e15, 1000000000000024.4],              # reference bisection: numpy's zero-size max()
])
def test_bisection_on_near_tied_communication_dominated_workers(beta, backend):
    """Reduced from test_extreme_dynamic_ranges: workers whose betas differ in the last bits,
    communication a million times their computation. The exact method answers; the nested
    bisection must answer the same (it returned NaN relaxed loads with relaxed_latency 0 and
    converged=True natively, and an internal numpy error from the reference)."""
    system = paba.System(beta, np.full(len(beta), 0.1), params=1, bandwidth=1.0)
    exact = paba.allocate(system, "joint", backend=backend)
    check_exact_properties(system, exact)
    bisection = paba.allocate(system, "joint", method="bisection", backend=backend)
    assert np.all(np.isfinite(bisection.relaxed_loads))
    assert bisection.relaxed_latency == pytest.approx(exact.relaxed_latency, rel=RTOL)
    check_against_bisection(system, backend, compare_loads=())


@pytest.mark.parametrize("params", [1, 2, 10**6, 2**53])
def test_one_worker(params, backend):
    system = paba.System([6.4], [2e-6], params=params, bandwidth=1e7)
    allocation = paba.allocate(system, "joint", backend=backend)
    assert allocation.method == "exact"
    np.testing.assert_array_equal(allocation.loads, [params])
    # The whole pool, less the budget margin the kernels keep against rounding.
    assert allocation.bandwidth[0] == pytest.approx(1e7, rel=1e-11)
    assert allocation.bandwidth[0] <= 1e7
    expected = params * (6.4 / allocation.bandwidth[0] + 2e-6)
    assert allocation.latency == pytest.approx(expected, rel=1e-14)
    assert allocation.relaxed_latency == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("K,params", [(2, 10**6), (8, 10**6), (7, 10**6 + 3), (13, 5),
                                      (1000, 10**8)])
def test_identical_workers(K, params, backend):
    system = paba.System(np.full(K, 10.0), np.full(K, 3e-6), params=params, bandwidth=1e7)
    allocation = paba.allocate(system, "joint", backend=backend)
    check_exact_properties(system, allocation)
    np.testing.assert_allclose(allocation.relaxed_loads, params / K, rtol=1e-12)
    assert allocation.loads.max() - allocation.loads.min() <= 1
    # Equal bandwidth for equal loads (and a little less for one parameter fewer).
    same = allocation.loads == allocation.loads.max()
    np.testing.assert_allclose(allocation.bandwidth[same], allocation.bandwidth[same][0],
                               rtol=1e-12)
    # The joint optimum of identical workers is the equal split.
    equal = paba.allocate(system, "equal", backend=backend)
    assert allocation.relaxed_latency == pytest.approx(equal.relaxed_latency, rel=1e-12)
    check_against_bisection(system, backend)


def test_fewer_params_than_workers_loads_the_best():
    """Integer rounding of a model smaller than the active set: loads go to the fastest."""
    system = paba.System(np.arange(1.0, 11.0), np.full(10, 1e-6), params=3, bandwidth=1e7)
    allocation = check_against_bisection(system)
    check_exact_properties(system, allocation)
    assert allocation.loads.sum() == 3 and np.count_nonzero(allocation.loads) <= 3


def test_large_instance_agrees_with_bisection():
    """K = 200,000: linear memory and time (a quadratic step would not finish here)."""
    rng = np.random.default_rng(12)
    K = 200_000
    system = paba.System(np.exp(rng.uniform(0.0, 5.0, K)),
                         np.exp(rng.uniform(math.log(1e-7), math.log(1e-5), K)),
                         params=10**8, bandwidth=1e8)
    exact = paba.allocate(system, "joint")
    assert exact.method == "exact" and exact.converged
    bisection = paba.allocate(system, "joint", method="bisection")
    assert exact.relaxed_latency == pytest.approx(bisection.relaxed_latency, rel=RTOL)
    assert np.abs(exact.loads - bisection.loads).max() <= 1
    assert exact.loads.sum() == system.params
    assert exact.bandwidth.sum() <= system.bandwidth
    loaded = exact.loads > 0
    np.testing.assert_allclose(exact.worker_latency[loaded], exact.latency, rtol=RTOL)
    active = exact.relaxed_loads > 0
    assert 1 < active.sum() < K
    assert system.beta[active].max() < system.beta[~active].min()


# The cut start (256 to 8191 workers, cold): the first probe is also the Newton point of the
# workers below either of two cuts placed by the first 16 workers (docs/algorithms.md 3.7).


CUT_CELLS = [(K, seed) for K in (256, 300, 1000, 3000, 8191) for seed in range(3)]


def test_cut_start_saves_passes_and_native_follows_the_twin(monkeypatch):
    systems_ = [paba.static_cell(K, seed=seed) for K, seed in CUT_CELLS]
    native = [paba.allocate(system, "joint") for system in systems_]
    twin = [paba.allocate(system, "joint", backend="reference") for system in systems_]
    assert [a.iterations for a in native] == [a.iterations for a in twin]
    for a, b in zip(native, twin, strict=True):
        assert_allocations_close(a, b, rtol=1e-9)
    # Without the cuts (the twin's start from every worker alone) the same answers take more
    # passes: 46 against 32 over these cells when this test was written.
    monkeypatch.setattr(reference_exact, "CUTS_FROM", reference_exact.SAMPLE_FROM)
    plain = [paba.allocate(system, "joint", backend="reference") for system in systems_]
    for a, b in zip(twin, plain, strict=True):
        assert_same_answer(a, b)
    assert sum(a.iterations for a in twin) < sum(a.iterations for a in plain)


@st.composite
def cut_systems(draw):
    """256 to 1200 workers whose first 16 place the cuts anywhere: sorted either way, tied, far
    from the rest, or as random as the others."""
    K = draw(st.integers(256, 1200))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    beta = np.exp(rng.normal(0.0, draw(st.sampled_from([0.01, 0.5, 2.0, 6.0])), K))
    compute = 10.0 ** draw(st.floats(-12.0, -3.0)) * rng.uniform(0.5, 2.0, K)
    first = draw(st.sampled_from(["random", "ascending", "descending", "tied", "fastest",
                                  "slowest"]))
    if first == "ascending":
        beta = np.sort(beta)
    elif first == "descending":
        beta = np.sort(beta)[::-1].copy()
    elif first == "tied":
        beta[:16] = beta[16]
    elif first == "fastest":
        beta[:16] = beta.min() * 1e-6
    elif first == "slowest":
        beta[:16] = beta.max() * 1e6
    return paba.System(beta, compute, params=draw(st.integers(1, 10**9)), bandwidth=1e7)


@given(system=cut_systems())
@settings(max_examples=25, deadline=None)
def test_cut_start_on_random_instances(system):
    exact = check_against_bisection(system, compare_loads=())
    check_exact_properties(system, exact)
    assert_backends_agree(system, "joint", method="exact")
    # A warm start skips the cuts: the same answer.
    assert_same_answer(paba.allocate(system, "joint", previous=exact), exact)


# ---------------------------------------------------------------------------------------------
# 4. Warm starts


def assert_same_answer(warm: paba.Allocation, cold: paba.Allocation) -> None:
    """A warm start changes the passes, never the answer."""
    np.testing.assert_array_equal(warm.loads, cold.loads)
    for field in ("relaxed_loads", "bandwidth", "worker_latency"):
        np.testing.assert_allclose(getattr(warm, field), getattr(cold, field), rtol=1e-12,
                                   atol=0, err_msg=field)
    assert warm.latency == pytest.approx(cold.latency, rel=1e-12)
    assert warm.relaxed_latency == pytest.approx(cold.relaxed_latency, rel=1e-12)
    assert warm.method == cold.method and warm.converged == cold.converged


@pytest.mark.parametrize("fading", ["rayleigh", "none"])
def test_warm_start_over_scenario_draws(fading, backend):
    scenario = paba.Scenario(n_workers=50, fading=fading, seed=4)
    gains = scenario.draw_gains(12)
    previous = None
    for gain in gains:
        system = scenario.system(gain)
        cold = paba.allocate(system, "joint", backend=backend)
        assert cold.method == "exact"
        if previous is not None:
            assert_same_answer(paba.allocate(system, "joint", previous=previous,
                                             backend=backend), cold)
        previous = cold


@given(system=systems(max_workers=30, groups=False, fixed_costs=False), data=st.data())
def test_warm_start_from_perturbed_instance(system, data):
    K = system.n_workers
    factors = np.array(data.draw(st.lists(st.floats(0.5, 2.0), min_size=K, max_size=K)))
    previous = paba.allocate(system, "joint")
    changed = system.replace(beta=system.beta * factors)
    cold = paba.allocate(changed, "joint")
    assert_same_answer(paba.allocate(changed, "joint", previous=previous), cold)
    reference = paba.allocate(changed, "joint", previous=previous, backend="reference")
    assert_allocations_close(paba.allocate(changed, "joint", previous=previous), reference,
                             load_slack=1)


@given(system=systems(max_workers=30, groups=False, fixed_costs=False), data=st.data())
def test_warm_start_from_any_loaded_set(system, data):
    """Any earlier loads are only a start: a set left of the price's root (too few workers),
    right of it (too many) or empty gives the same answer as a cold start."""
    K = system.n_workers
    cold = paba.allocate(system, "joint")
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=K, max_size=K)))
    loads = np.where(mask, 1, 0).astype(np.int64)
    loads[0] += system.params - loads.sum()  # System-valid loads for the mask (plus worker 0)
    start = paba.allocate(system, "parameter_aware", loads=loads) if loads.min() >= 0 else cold
    assert_same_answer(paba.allocate(system, "joint", previous=start), cold)
    for scheme in ("equal", "bandwidth_aware", "sequential"):
        start = paba.allocate(system, scheme)
        assert_same_answer(paba.allocate(system, "joint", previous=start), cold)
    warm = paba.allocate(system, "joint", previous=cold)
    assert_same_answer(warm, cold)
    if np.array_equal(cold.loads > 0, cold.relaxed_loads > 0):
        # Started from the optimum's own active set, the first step lands on the root.
        assert warm.iterations <= 2


@pytest.mark.parametrize("K,ratio,compute", SORT_FALLBACK[:4])
def test_warm_start_on_sort_fallback_instances(K, ratio, compute, backend):
    system = geometric_system(K, ratio, compute)
    cold = paba.allocate(system, "joint", backend=backend)
    # From the answer itself, and from the worst worker alone (far left of the root).
    worst = np.zeros(K, dtype=np.int64)
    worst[-1] = system.params
    starts = [cold, paba.allocate(system, "parameter_aware", loads=worst, backend=backend),
              paba.allocate(system, "equal", backend=backend)]
    for start in starts:
        assert_same_answer(paba.allocate(system, "joint", previous=start, backend=backend), cold)


@pytest.mark.parametrize("method", ["auto", "bisection"])
def test_warm_start_is_ignored_by_newton_and_the_bisection(method, backend):
    system = corpus_instance("groups_of_three")
    cold = paba.allocate(system, "joint", method=method, backend=backend)
    previous = paba.allocate(system, "equal", backend=backend)
    warm = paba.allocate(system, "joint", previous=previous, method=method, backend=backend)
    assert warm.method == ("newton" if method == "auto" else "bisection")
    assert_same_answer(warm, cold)
    assert warm.iterations == cold.iterations


@pytest.mark.parametrize("bad", ["loads_array", "dict", "int", "system", "wrong_size",
                                 "grouped"])
def test_bad_previous(bad, backend):
    system = corpus_instance("default_cell")
    good = paba.allocate(system, "joint", backend=backend)
    previous = {
        "loads_array": lambda: good.loads,
        "dict": lambda: {"loads": good.loads},
        "int": lambda: 3,
        "system": lambda: system,
        "wrong_size": lambda: paba.allocate(corpus_instance("many_workers"), "joint"),
        "grouped": lambda: paba.allocate(corpus_instance("groups_of_three"), "joint"),
    }[bad]()
    with pytest.raises(ValueError, match="^previous:"):
        paba.allocate(system, "joint", previous=previous, backend=backend)


@pytest.mark.parametrize("scheme", [s for s in paba.SCHEMES if s != "joint"])
def test_previous_belongs_to_the_joint_scheme(scheme, backend):
    system = corpus_instance("default_cell")
    previous = paba.allocate(system, "joint", backend=backend)
    with pytest.raises(ValueError, match="^previous:"):
        paba.allocate(system, scheme, previous=previous, backend=backend)
