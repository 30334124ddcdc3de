"""Bad input gets a clear ValueError that names the argument ("<name>: ...").

Covers ``paba.System``, ``paba.System.from_radio``, ``System.replace``, ``paba.allocate`` and
``paba.evaluate``; every check that reaches a backend runs on both, and the two must fail the same
way (same exception type, message starting with the same argument name). Also the immutability of
``System`` and the read-only arrays of ``Allocation`` and ``Latency``.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import paba

BACKENDS = ("native", "reference")
NAN, INF = float("nan"), float("inf")


def named(name: str) -> str:
    """Regex for a message that starts with the argument name and a colon."""
    return rf"^{re.escape(name)}:"


# ---------------------------------------------------------------------------------------------
# Instances


BASE = dict(beta=[8.0, 16.0, 4.0], compute=[2e-6, 1e-6, 3e-6], params=1000, bandwidth=1e7)


def base_system(**changes) -> paba.System:
    kwargs = dict(BASE)
    kwargs.update(changes)
    return paba.System(**kwargs)


def grouped_system(**changes) -> paba.System:
    """Four workers in two groups of two."""
    kwargs = dict(beta=[8.0, 16.0, 4.0, 8.0], compute=[2e-6, 1e-6, 3e-6, 2e-6], params=1000,
                  bandwidth=1e7, groups=[0, 0, 1, 1])
    kwargs.update(changes)
    return paba.System(**kwargs)


def test_base_instances_are_valid():
    system = base_system()
    assert system.n_workers == 3 and system.n_groups == 3
    assert system.params == 1000 and system.bandwidth == 1e7
    grouped = grouped_system()
    assert grouped.n_workers == 4 and grouped.n_groups == 2
    for backend in BACKENDS:
        assert int(paba.allocate(system, "joint", backend=backend).loads.sum()) == 1000
        assert int(paba.allocate(grouped, "joint", backend=backend).loads.sum()) == 1000


# ---------------------------------------------------------------------------------------------
# System(...)

_K = 3
_OBJECT_WITH_NONE = np.array([8.0, None, 4.0], dtype=object)
_OBJECT_OF_FLOATS = np.array([8.0, 16.0, 4.0], dtype=object)

SYSTEM_CASES = [
    # beta
    ("beta-nan", dict(beta=[8.0, NAN, 4.0]), "beta"),
    ("beta-inf", dict(beta=[8.0, INF, 4.0]), "beta"),
    ("beta-neg-inf", dict(beta=[8.0, -INF, 4.0]), "beta"),
    ("beta-zero", dict(beta=[8.0, 0.0, 4.0]), "beta"),
    ("beta-negative", dict(beta=[8.0, -16.0, 4.0]), "beta"),
    ("beta-empty", dict(beta=[]), "beta"),
    ("beta-empty-both", dict(beta=[], compute=[]), "beta"),
    ("beta-2d", dict(beta=[[8.0, 16.0, 4.0]]), "beta"),
    ("beta-2d-column", dict(beta=np.array([[8.0], [16.0], [4.0]])), "beta"),
    ("beta-0d", dict(beta=8.0), "beta"),
    ("beta-strings", dict(beta=["8", "16", "4"]), "beta"),
    ("beta-bytes", dict(beta=np.array([b"8", b"16", b"4"])), "beta"),
    ("beta-object-none", dict(beta=_OBJECT_WITH_NONE), "beta"),
    ("beta-object-floats", dict(beta=_OBJECT_OF_FLOATS), "beta"),
    ("beta-none-entry", dict(beta=[8.0, None, 4.0]), "beta"),
    ("beta-complex", dict(beta=np.array([8.0, 16.0, 4.0], dtype=complex)), "beta"),
    ("beta-ragged", dict(beta=[[8.0, 16.0], [4.0]]), "beta"),
    ("beta-none", dict(beta=None), "beta"),
    # compute
    ("compute-nan", dict(compute=[2e-6, NAN, 3e-6]), "compute"),
    ("compute-inf", dict(compute=[INF, 1e-6, 3e-6]), "compute"),
    ("compute-zero", dict(compute=[2e-6, 1e-6, 0.0]), "compute"),
    ("compute-negative", dict(compute=[2e-6, -1e-6, 3e-6]), "compute"),
    ("compute-short", dict(compute=[2e-6, 1e-6]), "compute"),
    ("compute-long", dict(compute=[2e-6, 1e-6, 3e-6, 4e-6]), "compute"),
    ("compute-empty", dict(compute=[]), "compute"),
    ("compute-2d", dict(compute=[[2e-6, 1e-6, 3e-6]]), "compute"),
    ("compute-strings", dict(compute=["a", "b", "c"]), "compute"),
    ("compute-complex", dict(compute=[2e-6 + 1j, 1e-6, 3e-6]), "compute"),
    ("compute-object", dict(compute=np.array([2e-6, "x", 3e-6], dtype=object)), "compute"),
    # alpha
    ("alpha-nan", dict(alpha=[0.0, NAN, 0.0]), "alpha"),
    ("alpha-inf", dict(alpha=[0.0, 0.0, INF]), "alpha"),
    ("alpha-negative", dict(alpha=[0.0, -1.0, 0.0]), "alpha"),
    ("alpha-short", dict(alpha=[0.0, 0.0]), "alpha"),
    ("alpha-empty", dict(alpha=[]), "alpha"),
    ("alpha-2d", dict(alpha=np.zeros((1, _K))), "alpha"),
    ("alpha-strings", dict(alpha=["0", "0", "0"]), "alpha"),
    ("alpha-complex", dict(alpha=np.zeros(_K, dtype=complex)), "alpha"),
    # tau
    ("tau-nan", dict(tau=[NAN, 0.0, 0.0]), "tau"),
    ("tau-inf", dict(tau=[0.0, INF, 0.0]), "tau"),
    ("tau-negative", dict(tau=[0.0, 0.0, -0.5]), "tau"),
    ("tau-long", dict(tau=[0.0, 0.0, 0.0, 0.0]), "tau"),
    ("tau-0d", dict(tau=0.0), "tau"),
    ("tau-object", dict(tau=np.array([0.0, 0.0, 0.0], dtype=object)), "tau"),
    # groups
    ("groups-negative", dict(groups=[0, -1, 1]), "groups"),
    ("groups-gap", dict(groups=[0, 2, 2]), "groups"),
    ("groups-gap-start", dict(groups=[1, 1, 2]), "groups"),
    ("groups-beyond-workers", dict(groups=[0, 1, 5]), "groups"),
    ("groups-fractional", dict(groups=[0, 0.5, 1]), "groups"),
    ("groups-nan", dict(groups=[0.0, NAN, 1.0]), "groups"),
    ("groups-inf", dict(groups=[0.0, INF, 1.0]), "groups"),
    ("groups-short", dict(groups=[0, 1]), "groups"),
    ("groups-long", dict(groups=[0, 1, 2, 3]), "groups"),
    ("groups-empty", dict(groups=[]), "groups"),
    ("groups-2d", dict(groups=[[0, 1, 2]]), "groups"),
    ("groups-strings", dict(groups=["0", "1", "2"]), "groups"),
    ("groups-complex", dict(groups=np.array([0, 1, 2], dtype=complex)), "groups"),
    ("groups-uint64-huge", dict(groups=np.array([0, 1, 2**64 - 1], dtype=np.uint64)), "groups"),
    ("groups-float-huge", dict(groups=[0.0, 1.0, 2.0**60]), "groups"),
    # params
    ("params-zero", dict(params=0), "params"),
    ("params-negative", dict(params=-5), "params"),
    ("params-half", dict(params=0.5), "params"),
    ("params-fractional", dict(params=1000.5), "params"),
    ("params-nan", dict(params=NAN), "params"),
    ("params-inf", dict(params=INF), "params"),
    ("params-true", dict(params=True), "params"),
    ("params-false", dict(params=False), "params"),
    ("params-numpy-bool", dict(params=np.True_), "params"),
    ("params-above-2**53", dict(params=2**53 + 1), "params"),
    ("params-2**60", dict(params=2**60), "params"),
    ("params-float-above-2**53", dict(params=2.0**54), "params"),
    ("params-string", dict(params="1000"), "params"),
    ("params-none", dict(params=None), "params"),
    ("params-list", dict(params=[1000]), "params"),
    ("params-complex", dict(params=1000 + 0j), "params"),
    # bandwidth
    ("bandwidth-zero", dict(bandwidth=0.0), "bandwidth"),
    ("bandwidth-int-zero", dict(bandwidth=0), "bandwidth"),
    ("bandwidth-negative", dict(bandwidth=-1e7), "bandwidth"),
    ("bandwidth-nan", dict(bandwidth=NAN), "bandwidth"),
    ("bandwidth-inf", dict(bandwidth=INF), "bandwidth"),
    ("bandwidth-neg-inf", dict(bandwidth=-INF), "bandwidth"),
    ("bandwidth-true", dict(bandwidth=True), "bandwidth"),
    ("bandwidth-string", dict(bandwidth="1e7"), "bandwidth"),
    ("bandwidth-none", dict(bandwidth=None), "bandwidth"),
    ("bandwidth-complex", dict(bandwidth=1e7 + 0j), "bandwidth"),
    ("bandwidth-list", dict(bandwidth=[1e7]), "bandwidth"),
]


@pytest.mark.parametrize("changes, name", [pytest.param(c, n, id=i) for i, c, n in SYSTEM_CASES])
def test_system_rejects(changes, name):
    with pytest.raises(ValueError, match=named(name)):
        base_system(**changes)


@pytest.mark.parametrize("changes, name", [pytest.param(c, n, id=i) for i, c, n in SYSTEM_CASES])
def test_replace_rejects_the_same(changes, name):
    """System.replace validates exactly like the constructor."""
    system = base_system()
    with pytest.raises(ValueError, match=named(name)):
        system.replace(**changes)


def test_system_error_mentions_the_problem():
    with pytest.raises(ValueError, match=r"^groups:.*\[1\]"):
        base_system(groups=[0, 2, 2])
    with pytest.raises(ValueError, match=r"^compute:.*3.*2"):
        base_system(compute=[1e-6, 1e-6])
    with pytest.raises(ValueError, match=r"^params:.*\[1, 9007199254740992\]"):
        base_system(params=0)


@pytest.mark.parametrize("params", [1, 2**53, 2.0**53, 1000.0, np.int64(1000), np.uint64(1000),
                                    np.int32(1000), np.float32(1000.0)])
def test_system_accepts_params_at_the_boundary(params):
    system = base_system(params=params)
    assert system.params == int(params)
    assert type(system.params) is int


@pytest.mark.parametrize("bandwidth", [1, 1e7, np.float32(1e7), np.int64(10**7), 2**70])
def test_system_accepts_real_bandwidth(bandwidth):
    system = base_system(bandwidth=bandwidth)
    assert system.bandwidth == float(bandwidth)
    assert type(system.bandwidth) is float


@pytest.mark.parametrize("groups", [[0, 0, 0], [2, 1, 0], [0.0, 1.0, 1.0],
                                    np.array([1, 0, 1], dtype=np.uint8)])
def test_system_accepts_valid_groups(groups):
    system = base_system(groups=groups)
    expected = np.asarray(groups).astype(np.int64)
    np.testing.assert_array_equal(system.groups, expected)
    assert system.groups.dtype == np.int64
    assert system.n_groups == int(expected.max()) + 1


@pytest.mark.parametrize("huge", [2**62, 2**63 - 1])
def test_system_rejects_huge_group_ids_by_name(huge):
    with pytest.raises(ValueError, match=named("groups")):
        base_system(groups=np.array([0, 1, huge], dtype=np.int64))


@pytest.mark.parametrize("changes, name", [
    pytest.param(dict(beta=[1e300, 1.0, 1.0], bandwidth=1e-300, params=10**6), "beta",
                 id="beta-times-params-over-bandwidth"),
    pytest.param(dict(compute=[1e305, 1.0, 1.0], params=10**6), "compute",
                 id="compute-times-params"),
    pytest.param(dict(alpha=[1e300, 0.0, 0.0], bandwidth=1e-300, beta=[1e-290] * 3), "alpha",
                 id="alpha-over-bandwidth"),
])
def test_system_rejects_unrepresentable_normalised_values(changes, name):
    with pytest.raises(ValueError, match=named(name)):
        base_system(**changes)


# ---------------------------------------------------------------------------------------------
# System.from_radio

RADIO = dict(efficiency_down=[2.0, 4.0], efficiency_up=[1.0, 3.0], cpu_frequency=[1e9, 5e8],
             samples=[100, 200], params=1000, bandwidth=1e7)

RADIO_CASES = [
    ("efficiency_down-zero", dict(efficiency_down=[0.0, 4.0]), "efficiency_down"),
    ("efficiency_down-negative", dict(efficiency_down=[-2.0, 4.0]), "efficiency_down"),
    ("efficiency_down-nan", dict(efficiency_down=[NAN, 4.0]), "efficiency_down"),
    ("efficiency_down-empty", dict(efficiency_down=[]), "efficiency_down"),
    ("efficiency_down-2d", dict(efficiency_down=[[2.0, 4.0]]), "efficiency_down"),
    ("efficiency_down-strings", dict(efficiency_down=["2", "4"]), "efficiency_down"),
    ("efficiency_up-zero", dict(efficiency_up=[1.0, 0.0]), "efficiency_up"),
    ("efficiency_up-inf", dict(efficiency_up=[1.0, INF]), "efficiency_up"),
    ("efficiency_up-short", dict(efficiency_up=[1.0]), "efficiency_up"),
    ("efficiency_up-complex", dict(efficiency_up=[1.0 + 1j, 3.0]), "efficiency_up"),
    ("cpu_frequency-zero", dict(cpu_frequency=[0.0, 5e8]), "cpu_frequency"),
    ("cpu_frequency-negative", dict(cpu_frequency=[1e9, -5e8]), "cpu_frequency"),
    ("cpu_frequency-nan", dict(cpu_frequency=[1e9, NAN]), "cpu_frequency"),
    ("cpu_frequency-long", dict(cpu_frequency=[1e9, 5e8, 1e9]), "cpu_frequency"),
    ("samples-zero", dict(samples=[0, 200]), "samples"),
    ("samples-negative", dict(samples=[100, -1]), "samples"),
    ("samples-inf", dict(samples=[INF, 200]), "samples"),
    ("samples-short", dict(samples=[100]), "samples"),
    ("params-zero", dict(params=0), "params"),
    ("params-fractional", dict(params=10.5), "params"),
    ("params-bool", dict(params=True), "params"),
    ("params-huge", dict(params=2**53 + 1), "params"),
    ("bandwidth-zero", dict(bandwidth=0.0), "bandwidth"),
    ("bandwidth-nan", dict(bandwidth=NAN), "bandwidth"),
    ("cycles_per_parameter-zero", dict(cycles_per_parameter=0.0), "cycles_per_parameter"),
    ("cycles_per_parameter-nan", dict(cycles_per_parameter=NAN), "cycles_per_parameter"),
    ("cycles_per_parameter-bool", dict(cycles_per_parameter=True), "cycles_per_parameter"),
    ("cycles_per_parameter-string", dict(cycles_per_parameter="20"), "cycles_per_parameter"),
    ("bits_per_parameter-negative", dict(bits_per_parameter=-32.0), "bits_per_parameter"),
    ("bits_per_parameter-inf", dict(bits_per_parameter=INF), "bits_per_parameter"),
    ("groups-gap", dict(groups=[1, 1]), "groups"),
    ("groups-negative", dict(groups=[0, -1]), "groups"),
    ("groups-short", dict(groups=[0]), "groups"),
    ("side_bits-negative", dict(side_bits=[-1.0, 0.0]), "side_bits"),
    ("side_bits-nan", dict(side_bits=[NAN, 0.0]), "side_bits"),
    ("side_bits-short", dict(side_bits=[1.0]), "side_bits"),
    ("tau-negative", dict(tau=[0.0, -1.0]), "tau"),
    ("tau-nan", dict(tau=[0.0, NAN]), "tau"),
]


@pytest.mark.parametrize("changes, name", [pytest.param(c, n, id=i) for i, c, n in RADIO_CASES])
def test_from_radio_rejects(changes, name):
    kwargs = dict(RADIO)
    kwargs.update(changes)
    with pytest.raises(ValueError, match=named(name)):
        paba.System.from_radio(**kwargs)


def test_from_radio_builds_the_model():
    system = paba.System.from_radio(**RADIO, cycles_per_parameter=10.0, bits_per_parameter=16.0,
                                    side_bits=[100.0, 0.0], tau=[0.5, 0.0], groups=[0, 0])
    inverse = 1.0 / np.array([2.0, 4.0]) + 1.0 / np.array([1.0, 3.0])
    np.testing.assert_allclose(system.beta, 16.0 * inverse, rtol=1e-15)
    np.testing.assert_allclose(system.compute, 10.0 * np.array([100, 200]) / np.array([1e9, 5e8]),
                               rtol=1e-15)
    np.testing.assert_allclose(system.alpha, np.array([100.0, 0.0]) * inverse, rtol=1e-15)
    np.testing.assert_array_equal(system.tau, [0.5, 0.0])
    assert system.n_groups == 1 and system.params == 1000 and system.bandwidth == 1e7


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("changes, name", [
    pytest.param(dict(efficiency_down=[1e-320, 4.0]), "efficiency_down", id="efficiency_down"),
    pytest.param(dict(cpu_frequency=[1e-320, 5e8]), "cpu_frequency", id="cpu_frequency"),
    pytest.param(dict(samples=[1e308, 200]), "samples", id="samples"),
    pytest.param(dict(side_bits=[1e308, 0.0]), "side_bits", id="side_bits"),
])
def test_from_radio_overflow_names_the_argument(changes, name):
    kwargs = dict(RADIO)
    kwargs.update(changes)
    with pytest.raises(ValueError, match=named(name)):
        paba.System.from_radio(**kwargs)


# ---------------------------------------------------------------------------------------------
# allocate(...) and evaluate(...): every case runs on both backends


def _allocate(scheme="joint", system=None, **kwargs):
    def call(backend):
        return paba.allocate(base_system() if system is None else system, scheme,
                             backend=backend, **kwargs)
    return call


def _allocate_grouped(scheme="bandwidth_aware", **kwargs):
    def call(backend):
        return paba.allocate(grouped_system(), scheme, backend=backend, **kwargs)
    return call


def _evaluate(loads=(300, 300, 400), bandwidth=(3e6, 3e6, 3e6), system=None):
    def call(backend):
        return paba.evaluate(base_system() if system is None else system, loads, bandwidth,
                             backend=backend)
    return call


def _allocate_positional_system(value):
    def call(backend):
        return paba.allocate(value, "joint", backend=backend)
    return call


INFEASIBLE = paba.InfeasibleError
V = ValueError

CALL_CASES = [
    # scheme
    ("scheme-unknown", _allocate("optimal"), V, "scheme"),
    ("scheme-empty", _allocate(""), V, "scheme"),
    ("scheme-case", _allocate("JOINT"), V, "scheme"),
    ("scheme-none", _allocate(None), V, "scheme"),
    ("scheme-int", _allocate(4), V, "scheme"),
    # tol
    ("tol-zero", _allocate(tol=0.0), V, "tol"),
    ("tol-negative", _allocate(tol=-1e-9), V, "tol"),
    ("tol-below-1e-15", _allocate(tol=1e-16), V, "tol"),
    ("tol-above-0.1", _allocate(tol=0.2), V, "tol"),
    ("tol-one", _allocate(tol=1.0), V, "tol"),
    ("tol-two", _allocate(tol=2.0), V, "tol"),
    ("tol-nan", _allocate(tol=NAN), V, "tol"),
    ("tol-inf", _allocate(tol=INF), V, "tol"),
    ("tol-bool", _allocate(tol=True), V, "tol"),
    ("tol-string", _allocate(tol="1e-9"), V, "tol"),
    ("tol-none", _allocate(tol=None), V, "tol"),
    ("tol-bad-on-equal", _allocate("equal", tol=0.5), V, "tol"),
    # system
    ("system-none", _allocate_positional_system(None), V, "system"),
    ("system-dict", _allocate_positional_system(dict(BASE)), V, "system"),
    ("system-tuple", _allocate_positional_system((1, 2)), V, "system"),
    ("system-string", _allocate_positional_system("system"), V, "system"),
    # loads given to a scheme that does not take them
    *[(f"loads-to-{s}", _allocate(s, loads=[300, 300, 400]), V, "loads")
      for s in ("equal", "bandwidth_aware", "sequential", "joint")],
    # bandwidth given to a scheme that does not take it
    *[(f"bandwidth-to-{s}", _allocate(s, bandwidth=[1e6, 1e6, 1e6]), V, "bandwidth")
      for s in ("equal", "parameter_aware", "sequential", "joint")],
    # loads for parameter_aware
    ("loads-short", _allocate("parameter_aware", loads=[500, 500]), V, "loads"),
    ("loads-long", _allocate("parameter_aware", loads=[250, 250, 250, 250]), V, "loads"),
    ("loads-empty", _allocate("parameter_aware", loads=[]), V, "loads"),
    ("loads-negative", _allocate("parameter_aware", loads=[1100, -100, 0]), V, "loads"),
    ("loads-sum-below", _allocate("parameter_aware", loads=[300, 300, 300]), V, "loads"),
    ("loads-sum-above", _allocate("parameter_aware", loads=[400, 400, 400]), V, "loads"),
    ("loads-all-zero", _allocate("parameter_aware", loads=[0, 0, 0]), V, "loads"),
    ("loads-fractional", _allocate("parameter_aware", loads=[333.5, 333.5, 333.0]), V, "loads"),
    ("loads-nan", _allocate("parameter_aware", loads=[NAN, 500.0, 500.0]), V, "loads"),
    ("loads-inf", _allocate("parameter_aware", loads=[INF, 0.0, 0.0]), V, "loads"),
    ("loads-2d", _allocate("parameter_aware", loads=[[300, 300, 400]]), V, "loads"),
    ("loads-strings", _allocate("parameter_aware", loads=["300", "300", "400"]), V, "loads"),
    ("loads-complex", _allocate("parameter_aware", loads=[300j, 300, 400]), V, "loads"),
    ("loads-scalar", _allocate("parameter_aware", loads=1000), V, "loads"),
    # bandwidth for bandwidth_aware
    ("bandwidth-short", _allocate("bandwidth_aware", bandwidth=[1e6, 1e6]), V, "bandwidth"),
    ("bandwidth-long", _allocate("bandwidth_aware", bandwidth=[1e6] * 4), V, "bandwidth"),
    ("bandwidth-empty", _allocate("bandwidth_aware", bandwidth=[]), V, "bandwidth"),
    ("bandwidth-negative", _allocate("bandwidth_aware", bandwidth=[5e6, -1e6, 5e6]), V,
     "bandwidth"),
    ("bandwidth-above-pool", _allocate("bandwidth_aware", bandwidth=[4e6, 4e6, 4e6]), V,
     "bandwidth"),
    ("bandwidth-nan", _allocate("bandwidth_aware", bandwidth=[NAN, 1e6, 1e6]), V, "bandwidth"),
    ("bandwidth-inf", _allocate("bandwidth_aware", bandwidth=[INF, 1e6, 1e6]), V, "bandwidth"),
    ("bandwidth-2d", _allocate("bandwidth_aware", bandwidth=[[1e6, 1e6, 1e6]]), V, "bandwidth"),
    ("bandwidth-strings", _allocate("bandwidth_aware", bandwidth=["1", "1", "1"]), V,
     "bandwidth"),
    # infeasible bandwidth splits (InfeasibleError is a ValueError naming bandwidth)
    ("infeasible-all-zero", _allocate("bandwidth_aware", bandwidth=[0.0, 0.0, 0.0]), INFEASIBLE,
     "bandwidth"),
    ("infeasible-all-zero-grouped", _allocate_grouped(bandwidth=[0.0] * 4), INFEASIBLE,
     "bandwidth"),
    ("infeasible-every-group-starved", _allocate_grouped(bandwidth=[1e6, 0.0, 0.0, 1e6]),
     INFEASIBLE,
     "bandwidth"),
    ("infeasible-every-group-starved-fixed-costs",
     lambda backend: paba.allocate(grouped_system(alpha=[1e3, 0.0, 0.0, 1e3],
                                                  tau=[0.1, 0.0, 0.2, 0.0]),
                                   "bandwidth_aware", backend=backend,
                                   bandwidth=[0.0, 5e6, 5e6, 0.0]), INFEASIBLE, "bandwidth"),
    # evaluate
    ("evaluate-system", lambda backend: paba.evaluate(None, [1000], [1e6], backend=backend), V,
     "system"),
    ("evaluate-loads-short", _evaluate(loads=[500, 500]), V, "loads"),
    ("evaluate-loads-long", _evaluate(loads=[250, 250, 250, 250]), V, "loads"),
    ("evaluate-loads-empty", _evaluate(loads=[]), V, "loads"),
    ("evaluate-loads-negative", _evaluate(loads=[1100, -100, 0]), V, "loads"),
    ("evaluate-loads-sum", _evaluate(loads=[300, 300, 300]), V, "loads"),
    ("evaluate-loads-sum-slightly", _evaluate(loads=[300, 300, 400.001]), V, "loads"),
    ("evaluate-loads-nan", _evaluate(loads=[NAN, 500, 500]), V, "loads"),
    ("evaluate-loads-inf", _evaluate(loads=[INF, 0, 0]), V, "loads"),
    ("evaluate-loads-2d", _evaluate(loads=[[300, 300, 400]]), V, "loads"),
    ("evaluate-loads-strings", _evaluate(loads=["300", "300", "400"]), V, "loads"),
    ("evaluate-loads-none", _evaluate(loads=None), V, "loads"),
    ("evaluate-bandwidth-short", _evaluate(bandwidth=[1e6, 1e6]), V, "bandwidth"),
    ("evaluate-bandwidth-empty", _evaluate(bandwidth=[]), V, "bandwidth"),
    ("evaluate-bandwidth-negative", _evaluate(bandwidth=[1e6, -1e6, 1e6]), V, "bandwidth"),
    ("evaluate-bandwidth-nan", _evaluate(bandwidth=[NAN, 1e6, 1e6]), V, "bandwidth"),
    ("evaluate-bandwidth-inf", _evaluate(bandwidth=[INF, 1e6, 1e6]), V, "bandwidth"),
    ("evaluate-bandwidth-above-pool", _evaluate(bandwidth=[4e6, 4e6, 4e6]), V, "bandwidth"),
    ("evaluate-bandwidth-2d", _evaluate(bandwidth=[[1e6, 1e6, 1e6]]), V, "bandwidth"),
    ("evaluate-bandwidth-none", _evaluate(bandwidth=None), V, "bandwidth"),
]

_CALL_PARAMS = [pytest.param(fn, exc, name, id=i) for i, fn, exc, name in CALL_CASES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("call, exception, name", _CALL_PARAMS)
def test_call_rejects(call, exception, name, backend):
    with pytest.raises(exception, match=named(name)) as info:
        call(backend)
    assert isinstance(info.value, ValueError)
    if exception is ValueError:
        assert not isinstance(info.value, paba.InfeasibleError)


def _failure(call, backend):
    try:
        call(backend)
    except Exception as error:  # compared by the caller
        return error
    pytest.fail(f"{backend}: no exception")


@pytest.mark.parametrize("call, exception, name", _CALL_PARAMS)
def test_backends_fail_alike(call, exception, name):
    native, reference = (_failure(call, backend) for backend in BACKENDS)
    assert type(native) is type(reference) is exception
    assert str(native).split(":")[0] == str(reference).split(":")[0] == name


def test_infeasible_error_is_a_value_error():
    assert issubclass(paba.InfeasibleError, ValueError)
    assert paba.InfeasibleError is not ValueError


@pytest.mark.parametrize("backend", BACKENDS)
def test_partly_starved_groups_are_feasible(backend):
    """Only one group is starved: it takes no load, the other carries the model."""
    allocation = paba.allocate(grouped_system(), "bandwidth_aware", backend=backend,
                               bandwidth=[1e6, 1e6, 0.0, 0.0])
    np.testing.assert_array_equal(allocation.loads, [1000, 0])
    assert np.isfinite(allocation.latency) and allocation.latency > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_allocate_accepts_tol_at_the_boundary(backend):
    system = base_system()
    for tol in (1e-15, 0.1, 1e-9, np.float32(0.01)):
        allocation = paba.allocate(system, "joint", backend=backend, tol=tol)
        assert int(allocation.loads.sum()) == 1000


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_zero_bandwidth_is_infinite_not_an_error(backend):
    latency, worker = paba.evaluate(base_system(), [500, 500, 0], [5e6, 0.0, 5e6],
                                    backend=backend)
    assert latency == INF
    assert worker[1] == INF and worker[2] == 0.0 and np.isfinite(worker[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_loads_whose_int64_sum_wraps_are_rejected(backend):
    system = grouped_system(beta=[8.0] * 4, compute=[2e-6] * 4, groups=[0, 1, 2, 3])
    loads = np.array([2**62, 2**62, 2**62, 2**62 + 1000], dtype=np.int64)
    with pytest.raises(ValueError, match=named("loads")):
        paba.allocate(system, "parameter_aware", loads=loads, backend=backend)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_backends_agree_on_unrepresentable_instances(scheme):
    """Instances whose normalised seconds leave float64's comfortable range are refused when
    the System is built, so no backend ever sees them; the native kernel refuses them too."""
    cases = [(dict(beta=[1e300, 1.0, 1.0], bandwidth=1e-300), "beta"),
             (dict(compute=[1e305, 1.0, 1.0]), "compute"),
             (dict(beta=[1e-90, 1.0, 1.0]), "beta"),
             (dict(alpha=[1e300, 0.0, 0.0]), "alpha"),
             (dict(tau=[1e81, 0.0, 0.0]), "tau")]
    for changes, name in cases:
        with pytest.raises(ValueError, match=named(name)):
            base_system(params=10**6, **changes)
    from paba import _core
    ones = np.ones(3)
    with pytest.raises(ValueError, match=named("beta")):
        _core.allocate(scheme, np.array([1e300, 1.0, 1.0]), ones, np.zeros(3), np.zeros(3),
                       np.arange(3, dtype=np.int64), 3, 1e6, 1e-300)


# ---------------------------------------------------------------------------------------------
# Backend selection


@pytest.mark.parametrize("garbage", ["cuda", "", "Native", "reference "])
def test_backend_environment_variable_garbage(monkeypatch, garbage):
    monkeypatch.setenv("PABA_BACKEND", garbage)
    system = base_system()
    with pytest.raises(ValueError, match=named("PABA_BACKEND")) as info:
        paba.allocate(system, "joint")
    assert repr(garbage) in str(info.value)
    with pytest.raises(ValueError, match=named("PABA_BACKEND")):
        paba.evaluate(system, [300, 300, 400], [3e6, 3e6, 3e6])
    # An explicit backend argument wins over the variable.
    for backend in BACKENDS:
        assert paba.allocate(system, "joint", backend=backend).backend == backend
        assert np.isfinite(paba.evaluate(system, [300, 300, 400], [3e6, 3e6, 3e6],
                                         backend=backend).latency)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_environment_variable_selects(monkeypatch, backend):
    monkeypatch.setenv("PABA_BACKEND", backend)
    assert paba.allocate(base_system(), "equal").backend == backend


def test_backend_default_is_native(monkeypatch):
    monkeypatch.delenv("PABA_BACKEND", raising=False)
    assert paba.allocate(base_system(), "equal").backend == "native"


@pytest.mark.parametrize("garbage", ["cuda", "", "NATIVE", "numpy"])
def test_backend_argument_garbage(garbage):
    with pytest.raises(ValueError, match=named("backend")) as info:
        paba.allocate(base_system(), "joint", backend=garbage)
    assert repr(garbage) in str(info.value)
    with pytest.raises(ValueError, match=named("backend")):
        paba.evaluate(base_system(), [300, 300, 400], [3e6, 3e6, 3e6], backend=garbage)


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        paba.allocate(base_system(), "joint", backends="native")


# ---------------------------------------------------------------------------------------------
# Immutability


@pytest.mark.parametrize("attribute", ["beta", "compute", "alpha", "tau", "groups", "params",
                                       "bandwidth", "n_groups", "n_workers", "_beta", "_params",
                                       "something_new"])
def test_system_attributes_cannot_be_set(attribute):
    system = base_system()
    with pytest.raises(AttributeError):
        setattr(system, attribute, 1)
    assert system == base_system()


@pytest.mark.parametrize("attribute", ["beta", "compute", "alpha", "tau", "groups", "params",
                                       "bandwidth"])
def test_system_public_attributes_cannot_be_deleted(attribute):
    system = base_system()
    with pytest.raises(AttributeError):
        delattr(system, attribute)
    assert system == base_system()


@pytest.mark.parametrize("field", ["beta", "compute", "alpha", "tau", "groups"])
def test_system_arrays_are_read_only(field):
    system = base_system(groups=[0, 0, 1], alpha=[1.0, 2.0, 3.0], tau=[0.1, 0.2, 0.3])
    array = getattr(system, field)
    before = array.copy()
    assert not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        array[0] = 7
    with pytest.raises(ValueError, match="read-only"):
        array += 1
    with pytest.raises(ValueError, match="read-only"):
        np.copyto(array, 0)
    with pytest.raises(ValueError, match="read-only"):
        array.view()[0] = 7
    np.testing.assert_array_equal(getattr(system, field), before)


@pytest.mark.parametrize("field", ["beta", "compute", "alpha", "tau", "groups"])
def test_system_arrays_cannot_be_made_writeable(field):
    array = getattr(base_system(), field)
    with pytest.raises(ValueError):
        array.flags.writeable = True


def test_system_copies_its_inputs():
    beta = np.array([8.0, 16.0, 4.0])
    compute = np.array([2e-6, 1e-6, 3e-6])
    groups = np.array([0, 1, 1])
    alpha = np.array([1.0, 2.0, 3.0])
    tau = np.array([0.1, 0.2, 0.3])
    system = paba.System(beta, compute, 1000, 1e7, groups=groups, alpha=alpha, tau=tau)
    for array in (beta, compute, groups, alpha, tau):
        assert array.flags.writeable  # the caller's arrays are left alone
        array[0] = array[1] + 5
    np.testing.assert_array_equal(system.beta, [8.0, 16.0, 4.0])
    np.testing.assert_array_equal(system.compute, [2e-6, 1e-6, 3e-6])
    np.testing.assert_array_equal(system.groups, [0, 1, 1])
    np.testing.assert_array_equal(system.alpha, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(system.tau, [0.1, 0.2, 0.3])


def test_system_is_unhashable_and_compares_by_value():
    assert base_system() == base_system()
    assert base_system() != base_system(params=999)
    assert base_system() != base_system(tau=[0.0, 0.0, 1e-9])
    assert (base_system() == "system") is False
    with pytest.raises(TypeError):
        hash(base_system())


@pytest.mark.parametrize("backend", BACKENDS)
def test_allocation_is_frozen_and_read_only(backend):
    allocation = paba.allocate(base_system(), "joint", backend=backend)
    for field in ("loads", "bandwidth", "relaxed_loads", "worker_latency"):
        array = getattr(allocation, field)
        before = array.copy()
        assert not array.flags.writeable, field
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
        with pytest.raises(ValueError, match="read-only"):
            array *= 2
        np.testing.assert_array_equal(getattr(allocation, field), before)
    for field in ("loads", "latency", "scheme", "backend", "converged"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(allocation, field, None)
    assert issubclass(dataclasses.FrozenInstanceError, AttributeError)


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluate_worker_latency_is_read_only(backend):
    result = paba.evaluate(base_system(), [300, 300, 400], [3e6, 3e6, 3e6], backend=backend)
    assert not result.worker_latency.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        result.worker_latency[0] = 0.0
    with pytest.raises(AttributeError):
        result.latency = 0.0


def test_allocation_arrays_cannot_be_made_writeable():
    allocation = paba.allocate(base_system(), "joint", backend="native")
    with pytest.raises(ValueError):
        allocation.loads.flags.writeable = True


# ---------------------------------------------------------------------------------------------
# System.replace


def test_replace_changes_only_what_is_asked():
    system = base_system(alpha=[1.0, 2.0, 3.0], tau=[0.1, 0.2, 0.3], groups=[0, 0, 1])
    bigger = system.replace(params=2000)
    assert bigger.params == 2000 and system.params == 1000
    for field in ("beta", "compute", "alpha", "tau", "groups"):
        np.testing.assert_array_equal(getattr(bigger, field), getattr(system, field))
    assert bigger.bandwidth == system.bandwidth and bigger.n_groups == 2
    assert system.replace() == system
    assert system.replace() is not system

    regrouped = system.replace(groups=[0, 1, 2])
    assert regrouped.n_groups == 3 and system.n_groups == 2
    np.testing.assert_array_equal(system.groups, [0, 0, 1])

    other = system.replace(beta=[1.0, 2.0, 3.0], bandwidth=5e6)
    np.testing.assert_array_equal(other.beta, [1.0, 2.0, 3.0])
    assert other.bandwidth == 5e6
    np.testing.assert_array_equal(system.beta, [8.0, 16.0, 4.0])

    cleared = system.replace(alpha=None, tau=None)
    np.testing.assert_array_equal(cleared.alpha, np.zeros(3))
    np.testing.assert_array_equal(cleared.tau, np.zeros(3))

    # The new System is just as valid and just as immutable.
    assert int(paba.allocate(bigger, "joint", backend="native").loads.sum()) == 2000
    assert not bigger.beta.flags.writeable
    with pytest.raises(AttributeError):
        bigger.params = 1


def test_replace_validates():
    system = base_system()
    with pytest.raises(ValueError, match=named("replace")) as info:
        system.replace(speed=1.0)
    assert "speed" in str(info.value)
    with pytest.raises(ValueError, match=named("replace")):
        system.replace(n_groups=2)
    # Changing the number of workers must change every given per-worker array together (given
    # alpha, tau and groups keep the old length and are checked in that order); defaults follow.
    with pytest.raises(ValueError, match=named("compute")):
        system.replace(beta=[8.0, 16.0])
    follows = system.replace(beta=[8.0, 16.0], compute=[1e-6, 1e-6])
    assert follows.n_workers == 2 and follows.alpha.tolist() == [0.0, 0.0]
    system = base_system(alpha=[0.0, 1.0, 2.0], tau=[0.0, 0.1, 0.2], groups=[0, 1, 1])
    with pytest.raises(ValueError, match=named("alpha")):
        system.replace(beta=[8.0, 16.0], compute=[1e-6, 1e-6])
    with pytest.raises(ValueError, match=named("tau")):
        system.replace(beta=[8.0, 16.0], compute=[1e-6, 1e-6], alpha=None)
    with pytest.raises(ValueError, match=named("groups")):
        system.replace(beta=[8.0, 16.0], compute=[1e-6, 1e-6], alpha=None, tau=None)
    shrunk = system.replace(beta=[8.0, 16.0], compute=[1e-6, 1e-6], alpha=None, tau=None,
                            groups=None)
    assert shrunk.n_workers == 2 and shrunk.n_groups == 2


# Arrays where a name is expected, and integers too long to print, found by tests/test_fuzz.py:
# each is a ValueError that starts with the argument's name (not NumPy's "truth value of an
# array is ambiguous", Python's "Exceeds the limit (4300 digits)" or a binding TypeError).
SYSTEM_FOR_JUNK = paba.System([8.0, 16.0], [2e-6, 1e-6], params=1000, bandwidth=1e7)
JUNK_CALLS = {
    "scheme-array": (lambda: paba.allocate(SYSTEM_FOR_JUNK, np.array(["joint", "equal"])),
                     "scheme"),
    "method-array": (lambda: paba.allocate(SYSTEM_FOR_JUNK, method=np.array(["auto"])), "method"),
    "tol-huge-integer": (lambda: paba.allocate(SYSTEM_FOR_JUNK, tol=10**5000), "tol"),
    "tol-array": (lambda: paba.allocate(SYSTEM_FOR_JUNK, tol=np.array([1e-9, 1e-9])), "tol"),
    "batch-scheme-array": (lambda: paba.allocate_batch(
        np.ones((1, 2)), np.full((1, 2), 1e-6), 10, 1e6, scheme=np.array(["a", "b"])), "scheme"),
    "batch-method-array": (lambda: paba.allocate_batch(
        np.ones((1, 2)), np.full((1, 2), 1e-6), 10, 1e6, method=np.array(["x"])), "method"),
    "batch-tol-huge-integer": (lambda: paba.allocate_batch(
        np.ones((1, 2)), np.full((1, 2), 1e-6), 10, 1e6, tol=10**5000), "tol"),
}


@pytest.mark.parametrize("case", list(JUNK_CALLS))
def test_junk_in_place_of_names_and_numbers_is_named(case):
    call, name = JUNK_CALLS[case]
    with pytest.raises(ValueError, match=f"^{name}:"):
        call()
