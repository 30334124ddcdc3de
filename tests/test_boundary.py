"""The binding boundary: whatever dtype, layout or writeability the caller's arrays have, the
System reads the same values and every scheme gives the same result as from plain contiguous
float64 input; the private native module (``paba._core``) answers malformed input with a
ValueError and never takes the interpreter down; huge models keep their loads exact.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import paba
from paba import _core
from paba.reference import allocation as reference

BACKENDS = ("native", "reference")
DTYPES = ("float32", "float64", "int64")
LAYOUTS = ("contiguous", "strided", "reversed", "fortran_row", "unaligned", "byteswapped")
SIZES = (1, 6)

# Values exactly representable in float32 (small integers and dyadic fractions), so every dtype
# holds exactly the values of the float64 baseline.
PARAMS = 1000
POOL = 2.0**23  # Hz
DATA = {
    1: dict(beta=[8.0], compute=[2.0**-19], alpha=[1024.0], tau=[2.0**-10], groups=[0]),
    6: dict(beta=[8.0, 16.0, 4.0, 32.0, 8.0, 12.0],
            compute=[2.0**-19, 2.0**-20, 3 * 2.0**-21, 2.0**-18, 2.0**-19, 5 * 2.0**-22],
            alpha=[0.0, 1024.0, 0.0, 2048.0, 512.0, 0.0],
            tau=[0.0, 2.0**-10, 0.0, 2.0**-9, 2.0**-11, 0.0],
            groups=[0, 0, 1, 2, 2, 3]),
}
GIVEN_LOADS = {1: [1000], 6: [300, 200, 100, 400]}
GIVEN_BANDWIDTH = {1: [2.0**22], 6: [2.0**20, 2.0**21, 2.0**20, 2.0**19, 2.0**20, 2.0**21]}
# Fields an integer dtype cannot hold: they stay float64 for dtype int64.
FRACTIONAL = ("compute", "tau")
ARRAY_FIELDS = ("beta", "compute", "alpha", "tau", "groups")


def layout(values: np.ndarray, name: str) -> np.ndarray:
    """The same values in another memory layout (none of them C-contiguous except the first)."""
    if name == "contiguous":
        return np.ascontiguousarray(values)
    if name == "strided":
        return np.repeat(values, 2)[::2]
    if name == "reversed":
        return values[::-1].copy()[::-1]
    if name == "fortran_row":
        return np.asfortranarray(np.stack([values, values]))[0]
    if name == "unaligned":
        raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
        out = raw[1:].view(values.dtype)
        out[:] = values
        return out
    if name == "byteswapped":
        return values.astype(values.dtype.newbyteorder())
    raise AssertionError(name)


def make_array(values, dtype: str, layout_name: str, readonly: bool) -> np.ndarray:
    array = layout(np.array(values, dtype=dtype), layout_name)
    np.testing.assert_array_equal(array, np.asarray(values, dtype=np.float64))
    assert array.dtype.kind == np.dtype(dtype).kind
    if layout_name not in ("contiguous", "byteswapped") and array.size > 1:
        assert not array.flags.c_contiguous or not array.flags.aligned
    if readonly:
        array.flags.writeable = False
    return array


def inputs(size: int, dtype: str, layout_name: str, readonly: bool) -> dict:
    arrays = {}
    for field in ARRAY_FIELDS:
        field_dtype = "float64" if dtype == "int64" and field in FRACTIONAL else dtype
        arrays[field] = make_array(DATA[size][field], field_dtype, layout_name, readonly)
    return arrays


def scalars(dtype: str) -> dict:
    kind = np.dtype(dtype).type
    return dict(params=kind(PARAMS), bandwidth=kind(POOL))


def build(size, dtype, layout_name, readonly) -> paba.System:
    return paba.System(**inputs(size, dtype, layout_name, readonly), **scalars(dtype))


@functools.cache
def baseline_system(size: int) -> paba.System:
    data = DATA[size]
    return paba.System(beta=np.array(data["beta"], dtype=np.float64),
                       compute=np.array(data["compute"], dtype=np.float64),
                       alpha=np.array(data["alpha"], dtype=np.float64),
                       tau=np.array(data["tau"], dtype=np.float64),
                       groups=np.array(data["groups"], dtype=np.int64),
                       params=PARAMS, bandwidth=POOL)


@functools.cache
def baseline_allocation(size: int, backend: str, scheme: str, given: bool) -> paba.Allocation:
    kwargs = {}
    if given and scheme == "parameter_aware":
        kwargs["loads"] = np.array(GIVEN_LOADS[size], dtype=np.int64)
    if given and scheme == "bandwidth_aware":
        kwargs["bandwidth"] = np.array(GIVEN_BANDWIDTH[size], dtype=np.float64)
    return paba.allocate(baseline_system(size), scheme, backend=backend, **kwargs)


def assert_same_allocation(got: paba.Allocation, want: paba.Allocation) -> None:
    for field in ("loads", "bandwidth", "relaxed_loads", "worker_latency"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype, field
        np.testing.assert_array_equal(a, b, err_msg=field)
    for field in ("latency", "relaxed_latency", "iterations", "converged", "scheme", "backend"):
        assert getattr(got, field) == getattr(want, field), field


def test_baseline_is_sane():
    for size in SIZES:
        system = baseline_system(size)
        assert system.n_workers == size
        assert system.n_groups == (1 if size == 1 else 4)
        for backend in BACKENDS:
            for scheme in paba.SCHEMES:
                allocation = baseline_allocation(size, backend, scheme, False)
                assert int(allocation.loads.sum()) == PARAMS
                assert np.isfinite(allocation.latency) and allocation.latency > 0
                assert allocation.bandwidth.sum() <= POOL * (1 + 1e-12)


# ---------------------------------------------------------------------------------------------
# The grid


grid = pytest.mark.parametrize
GRID = [grid("size", SIZES), grid("readonly", [False, True], ids=["writeable", "readonly"]),
        grid("layout_name", LAYOUTS), grid("dtype", DTYPES)]


def on_grid(function):
    for mark in GRID:
        function = mark(function)
    return function


@on_grid
def test_system_reads_values(dtype, layout_name, readonly, size):
    given = inputs(size, dtype, layout_name, readonly)
    snapshot = {k: (v.copy(), v.flags.writeable, v.strides) for k, v in given.items()}
    system = paba.System(**given, **scalars(dtype))
    want = baseline_system(size)
    assert system == want
    for field in ARRAY_FIELDS:
        array = getattr(system, field)
        assert array.dtype == (np.int64 if field == "groups" else np.float64), field
        assert array.dtype.isnative and array.flags.c_contiguous and array.flags.aligned, field
        assert not array.flags.writeable, field
        np.testing.assert_array_equal(array, getattr(want, field), err_msg=field)
        assert not np.shares_memory(array, given[field]), field
    assert system.params == PARAMS and type(system.params) is int
    assert system.bandwidth == POOL and type(system.bandwidth) is float
    assert system.n_workers == size and system.n_groups == want.n_groups
    # The caller's arrays are untouched: same values, same writeability, same layout.
    for field, (values, writeable, strides) in snapshot.items():
        np.testing.assert_array_equal(given[field], values)
        assert given[field].flags.writeable == writeable
        assert given[field].strides == strides


@grid("backend", BACKENDS)
@on_grid
def test_allocate_matches_contiguous_float64(dtype, layout_name, readonly, size, backend):
    system = build(size, dtype, layout_name, readonly)
    for scheme in paba.SCHEMES:
        got = paba.allocate(system, scheme, backend=backend)
        assert_same_allocation(got, baseline_allocation(size, backend, scheme, False))


@grid("backend", BACKENDS)
@on_grid
def test_given_loads_and_bandwidth_cross_the_boundary(dtype, layout_name, readonly, size,
                                                      backend):
    """loads (parameter_aware), bandwidth (bandwidth_aware) and evaluate's inputs in any layout."""
    system = baseline_system(size)
    loads = make_array(GIVEN_LOADS[size], dtype, layout_name, readonly)
    bandwidth = make_array(GIVEN_BANDWIDTH[size], dtype, layout_name, readonly)  # whole Hz

    got = paba.allocate(system, "parameter_aware", backend=backend, loads=loads)
    assert_same_allocation(got, baseline_allocation(size, backend, "parameter_aware", True))
    np.testing.assert_array_equal(got.loads, GIVEN_LOADS[size])

    got = paba.allocate(system, "bandwidth_aware", backend=backend, bandwidth=bandwidth)
    assert_same_allocation(got, baseline_allocation(size, backend, "bandwidth_aware", True))
    np.testing.assert_array_equal(got.bandwidth, GIVEN_BANDWIDTH[size])

    latency, worker = paba.evaluate(system, loads, bandwidth, backend=backend)
    want_latency, want_worker = paba.evaluate(
        system, np.array(GIVEN_LOADS[size], dtype=np.float64),
        np.array(GIVEN_BANDWIDTH[size], dtype=np.float64), backend=backend)
    assert latency == want_latency and np.isfinite(latency) and latency > 0
    np.testing.assert_array_equal(worker, want_worker)
    assert worker.dtype == np.float64 and worker.shape == (size,)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # float16
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32",
                                   "uint64", "float16", "longdouble"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_other_dtypes(dtype, backend):
    """Narrow integer, unsigned, half and extended floats for the integral fields."""
    data = DATA[6]
    wide = "int16" if dtype in ("int8", "uint8") else dtype  # alpha reaches 2048
    system = paba.System(beta=np.array(data["beta"], dtype=dtype),
                         compute=np.array(data["compute"]),
                         alpha=np.array(data["alpha"], dtype=wide),
                         tau=np.array(data["tau"]),
                         groups=np.array(data["groups"], dtype=dtype),
                         params=PARAMS, bandwidth=POOL)
    assert system == baseline_system(6)
    for scheme in paba.SCHEMES:
        assert_same_allocation(paba.allocate(system, scheme, backend=backend),
                               baseline_allocation(6, backend, scheme, False))


def test_float16_groups_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        system = baseline_system(6).replace(groups=np.array(DATA[6]["groups"], dtype=np.float16))
    assert system == baseline_system(6)


@pytest.mark.parametrize("params", [PARAMS, float(PARAMS), np.int32(PARAMS), np.uint64(PARAMS),
                                    np.float32(PARAMS), np.longdouble(PARAMS)], ids=repr)
@pytest.mark.parametrize("pool", [POOL, int(POOL), np.float32(POOL), np.uint32(POOL),
                                  np.int64(POOL), np.longdouble(POOL)], ids=repr)
def test_scalar_types(params, pool):
    system = baseline_system(6).replace(params=params, bandwidth=pool)
    assert system == baseline_system(6)
    assert type(system.params) is int and type(system.bandwidth) is float
    for scheme in ("equal", "joint"):
        assert_same_allocation(paba.allocate(system, scheme, backend="native"),
                               baseline_allocation(6, "native", scheme, False))


@pytest.mark.parametrize("size", SIZES)
def test_array_likes(size):
    """Lists, tuples and array subclasses read like arrays."""
    data = DATA[size]
    as_lists = paba.System(**{k: list(data[k]) for k in ARRAY_FIELDS}, params=PARAMS,
                           bandwidth=POOL)
    as_tuples = paba.System(**{k: tuple(data[k]) for k in ARRAY_FIELDS}, params=PARAMS,
                            bandwidth=POOL)
    as_masked = paba.System(
        **{k: np.ma.masked_array(np.array(data[k])) for k in ARRAY_FIELDS}, params=PARAMS,
        bandwidth=POOL)
    for system in (as_lists, as_tuples, as_masked):
        assert system == baseline_system(size)
        assert type(system.beta) is np.ndarray


# ---------------------------------------------------------------------------------------------
# Huge models: loads stay exact integers summing to params


HUGE = [10**9, 2**53 - 1, 2**53]


@functools.cache
def huge_allocation(size: int, params: int, scheme: str, backend: str) -> paba.Allocation:
    return paba.allocate(baseline_system(size).replace(params=params), scheme, backend=backend)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("params", HUGE)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_params_keep_loads_exact(backend, size, params, scheme):
    allocation = huge_allocation(size, params, scheme, backend)
    loads = allocation.loads
    assert loads.dtype == np.int64
    assert sum(int(v) for v in loads) == params  # Python ints: no wrap-around, no rounding
    assert all(0 <= int(v) <= params for v in loads)
    if size == 1:
        assert int(loads[0]) == params
    assert np.isfinite(allocation.latency) and allocation.latency > 0
    assert np.all(allocation.bandwidth >= 0)
    assert allocation.bandwidth.sum() <= POOL * (1 + 1e-12)
    assert allocation.relaxed_loads.sum() == pytest.approx(params, rel=1e-9)
    # The reported latency is the latency of these integer loads.
    latency, _ = paba.evaluate(allocation_system(size, params), loads.astype(np.float64),
                               allocation.bandwidth, backend=backend)
    assert latency == pytest.approx(allocation.latency, rel=1e-12)


def allocation_system(size: int, params: int) -> paba.System:
    return baseline_system(size).replace(params=params)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("params", HUGE)
def test_huge_params_backends_agree_on_loads(params, scheme):
    native = huge_allocation(6, params, scheme, "native")
    reference = huge_allocation(6, params, scheme, "reference")
    np.testing.assert_array_equal(native.loads, reference.loads)


@pytest.mark.parametrize("backend", BACKENDS)
def test_huge_params_given_loads_and_equal_split(backend):
    top = 2**53
    system = baseline_system(6).replace(params=top)
    given = np.array([top - 3, 1, 1, 1], dtype=np.int64)
    allocation = paba.allocate(system, "parameter_aware", backend=backend, loads=given)
    np.testing.assert_array_equal(allocation.loads, given)
    assert sum(int(v) for v in allocation.loads) == top
    equal = paba.allocate(system, "equal", backend=backend)
    np.testing.assert_array_equal(equal.loads, [2**51] * 4)
    odd = paba.allocate(system.replace(params=top - 1), "equal", backend=backend)
    np.testing.assert_array_equal(odd.loads, [2**51, 2**51, 2**51, 2**51 - 1])
    # params given as the float 2.0**53 is the same model.
    assert system.replace(params=2.0**53) == system


# ---------------------------------------------------------------------------------------------
# The private native module, called directly


def f64(*values):
    return np.array(values, dtype=np.float64)


def i64(*values):
    return np.array(values, dtype=np.int64)


def core_args(**changes):
    """Arguments of a valid two-worker, two-group call of _core.allocate."""
    args = dict(scheme="joint", beta=f64(8.0, 16.0), compute=f64(2e-6, 1e-6),
                alpha=f64(0.0, 0.0), tau=f64(0.0, 0.0), group=i64(0, 1), n_groups=2,
                params=1000.0, bandwidth=1e7)
    args.update(changes)
    return args


def core_allocate(**changes):
    args = core_args(**changes)
    positional = [args.pop(k) for k in ("scheme", "beta", "compute", "alpha", "tau", "group",
                                        "n_groups", "params", "bandwidth")]
    return _core.allocate(*positional, **args)


def core_evaluate(**changes):
    args = dict(beta=f64(8.0, 16.0), compute=f64(2e-6, 1e-6), alpha=f64(0.0, 0.0),
                tau=f64(0.0, 0.0), group=i64(0, 1), n_groups=2, loads=f64(500.0, 500.0),
                bandwidth=f64(5e6, 5e6))
    args.update(changes)
    return _core.evaluate(**args)


def test_core_valid_calls_match_the_public_api():
    result = core_allocate()
    assert result["status"] == 0
    system = paba.System([8.0, 16.0], [2e-6, 1e-6], params=1000, bandwidth=1e7)
    public = paba.allocate(system, "joint", backend="native")
    np.testing.assert_array_equal(result["loads"], public.loads)
    np.testing.assert_array_equal(result["bandwidth"], public.bandwidth)
    assert result["latency"] == public.latency
    latency, worker = core_evaluate()
    assert latency == paba.evaluate(system, [500, 500], [5e6, 5e6], backend="native").latency
    assert worker.shape == (2,)


EMPTY_F, EMPTY_I = f64(), i64()

CORE_ALLOCATE_BAD = {
    # sizes
    "all-empty": dict(beta=EMPTY_F, compute=EMPTY_F, alpha=EMPTY_F, tau=EMPTY_F, group=EMPTY_I,
                      n_groups=1),
    "all-empty-zero-groups": dict(beta=EMPTY_F, compute=EMPTY_F, alpha=EMPTY_F, tau=EMPTY_F,
                                  group=EMPTY_I, n_groups=0),
    "beta-empty": dict(beta=EMPTY_F),
    "compute-empty": dict(compute=EMPTY_F),
    "alpha-empty": dict(alpha=EMPTY_F),
    "tau-empty": dict(tau=EMPTY_F),
    "group-empty": dict(group=EMPTY_I),
    "compute-short": dict(compute=f64(2e-6)),
    "compute-long": dict(compute=f64(2e-6, 1e-6, 1e-6)),
    "alpha-long": dict(alpha=f64(0.0, 0.0, 0.0)),
    "tau-short": dict(tau=f64(0.0)),
    "group-short": dict(group=i64(0)),
    "group-long": dict(group=i64(0, 1, 1)),
    "beta-none": dict(beta=None),
    "compute-none": dict(compute=None),
    "group-none-fewer-groups": dict(group=None, n_groups=1),
    # group ids and counts
    "group-minus-one": dict(group=i64(0, -1)),
    "group-equal-n-groups": dict(group=i64(0, 2)),
    "group-huge": dict(group=i64(0, 2**62)),
    "group-int64-min": dict(group=i64(0, -(2**63))),
    "group-leaves-one-empty": dict(group=i64(1, 1)),
    "n-groups-zero": dict(n_groups=0),
    "n-groups-negative": dict(n_groups=-1),
    "n-groups-above-workers": dict(n_groups=3),
    "n-groups-huge": dict(n_groups=2**62),
    # given loads and bandwidth
    "loads-short": dict(scheme="parameter_aware", loads_in=i64(1000)),
    "loads-long": dict(scheme="parameter_aware", loads_in=i64(500, 250, 250)),
    "loads-empty": dict(scheme="parameter_aware", loads_in=EMPTY_I),
    "loads-negative": dict(scheme="parameter_aware", loads_in=i64(1100, -100)),
    "loads-wrong-sum": dict(scheme="parameter_aware", loads_in=i64(500, 400)),
    "loads-float-dtype": dict(scheme="parameter_aware", loads_in=f64(500.0, 500.0)),
    "loads-2d": dict(scheme="parameter_aware", loads_in=i64(500, 500).reshape(1, 2)),
    "bandwidth-in-short": dict(scheme="bandwidth_aware", bandwidth_in=f64(1e6)),
    "bandwidth-in-long": dict(scheme="bandwidth_aware", bandwidth_in=f64(1e6, 1e6, 1e6)),
    "bandwidth-in-empty": dict(scheme="bandwidth_aware", bandwidth_in=EMPTY_F),
    "bandwidth-in-nan": dict(scheme="bandwidth_aware", bandwidth_in=f64(np.nan, 1e6)),
    "bandwidth-in-negative": dict(scheme="bandwidth_aware", bandwidth_in=f64(-1e6, 1e6)),
    "bandwidth-in-above-pool": dict(scheme="bandwidth_aware", bandwidth_in=f64(1e7, 1e7)),
    "bandwidth-in-int-dtype": dict(scheme="bandwidth_aware", bandwidth_in=i64(1, 1)),
    # scalars
    "params-nan": dict(params=np.nan),
    "params-zero": dict(params=0.0),
    "params-negative": dict(params=-1000.0),
    "params-inf": dict(params=np.inf),
    "params-above-2**53": dict(params=2.0**54),
    "bandwidth-zero": dict(bandwidth=0.0),
    "bandwidth-negative": dict(bandwidth=-1e7),
    "bandwidth-nan": dict(bandwidth=np.nan),
    "bandwidth-inf": dict(bandwidth=np.inf),
    "tol-zero": dict(tol=0.0),
    "tol-two": dict(tol=2.0),
    "tol-one": dict(tol=1.0),
    "tol-negative": dict(tol=-1e-9),
    "tol-nan": dict(tol=np.nan),
    "scheme-unknown": dict(scheme="optimal"),
    # values the kernel checks itself
    "beta-nan": dict(beta=f64(np.nan, 16.0)),
    "beta-zero": dict(beta=f64(0.0, 16.0)),
    "compute-inf": dict(compute=f64(np.inf, 1e-6)),
    "compute-negative": dict(compute=f64(-2e-6, 1e-6)),
    "alpha-negative": dict(alpha=f64(-1.0, 0.0)),
    "tau-nan": dict(tau=f64(0.0, np.nan)),
    "beta-overflow": dict(beta=f64(1e308, 16.0), bandwidth=1e-10),
    # the buffer protocol: dtype, dimensions and layout must be exact
    "beta-float32": dict(beta=np.array([8.0, 16.0], dtype=np.float32)),
    "beta-int64": dict(beta=i64(8, 16)),
    "beta-2d": dict(beta=f64(8.0, 16.0).reshape(1, 2)),
    "beta-strided": dict(beta=np.repeat(f64(8.0, 16.0), 2)[::2]),
    "beta-reversed": dict(beta=f64(16.0, 8.0)[::-1]),
    "compute-fortran-row": dict(compute=np.asfortranarray(np.stack([f64(2e-6, 1e-6)] * 2))[0]),
    "group-int32": dict(group=np.array([0, 1], dtype=np.int32)),
    "group-float": dict(group=f64(0.0, 1.0)),
    "group-strided": dict(group=np.repeat(i64(0, 1), 2)[::2]),
    "tau-byteswapped": dict(tau=f64(0.0, 0.0).astype(">f8")),
}


BUFFER_ERRORS = {
    "loads-float-dtype", "loads-2d", "bandwidth-in-int-dtype", "beta-float32", "beta-int64",
    "beta-2d", "beta-strided", "beta-reversed", "compute-fortran-row", "group-int32",
    "group-float", "group-strided", "tau-byteswapped", "loads-int-dtype", "bandwidth-strided",
}
BUFFER_MESSAGE = r"^(Buffer dtype mismatch|Buffer has wrong number of dimensions|ndarray is not " \
                 r"C-contiguous|Big-endian buffer not supported)"
PREFIXES = [("all-empty", "beta"), ("n-groups", "groups"), ("group", "groups"),
            ("bandwidth-in", "bandwidth"), ("beta", "beta"), ("compute", "compute"),
            ("alpha", "alpha"), ("tau", "tau"), ("loads", "loads"), ("params", "params"),
            ("bandwidth", "bandwidth"), ("tol", "tol"), ("scheme", "scheme")]


def expected_message(case: str) -> str:
    """Malformed buffers fail in Cython's conversion; everything else names the argument."""
    if case in BUFFER_ERRORS:
        return BUFFER_MESSAGE
    name = next(name for prefix, name in PREFIXES if case.startswith(prefix))
    return rf"^{name}:"


@pytest.mark.parametrize("case", list(CORE_ALLOCATE_BAD))
def test_core_allocate_rejects(case):
    with pytest.raises(ValueError, match=expected_message(case)):
        core_allocate(**CORE_ALLOCATE_BAD[case])


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_core_allocate_rejects_on_every_scheme(scheme):
    for case in ("group-minus-one", "group-equal-n-groups", "group-leaves-one-empty",
                 "n-groups-zero", "compute-short", "params-nan", "bandwidth-zero", "tol-two",
                 "beta-nan", "beta-strided", "loads-short", "bandwidth-in-empty"):
        changes = dict(CORE_ALLOCATE_BAD[case], scheme=scheme)
        with pytest.raises(ValueError, match=expected_message(case)):
            core_allocate(**changes)


def test_core_allocate_handles_unusual_but_legal_input():
    # A starving bandwidth split is reported through the status, not raised.
    assert core_allocate(scheme="bandwidth_aware", bandwidth_in=f64(0.0, 0.0)) == {"status": 2}
    # Read-only inputs are accepted (const memoryviews).
    frozen = {k: v for k, v in core_args().items() if isinstance(v, np.ndarray)}
    for array in frozen.values():
        array.flags.writeable = False
    assert core_allocate(**frozen)["status"] == 0
    # Given loads and bandwidth are ignored by the schemes that do not use them.
    assert core_allocate(scheme="equal", loads_in=i64(1000, 0),
                         bandwidth_in=f64(1e7, 0.0))["status"] == 0
    # The smallest instance: one worker, one parameter.
    result = core_allocate(beta=f64(8.0), compute=f64(2e-6), alpha=f64(0.0), tau=f64(0.0),
                           group=i64(0), n_groups=1, params=1.0)
    np.testing.assert_array_equal(result["loads"], [1])


def test_core_allocate_rejects_fractional_params():
    with pytest.raises(ValueError, match="^params:"):
        core_allocate(params=2.5)


def test_core_allocate_rejects_loads_whose_sum_overflows():
    four = dict(beta=f64(8.0, 8.0, 8.0, 8.0), compute=f64(2e-6, 2e-6, 2e-6, 2e-6),
                alpha=f64(0.0, 0.0, 0.0, 0.0), tau=f64(0.0, 0.0, 0.0, 0.0),
                group=i64(0, 1, 2, 3), n_groups=4)
    with pytest.raises(ValueError, match="^loads:"):
        core_allocate(scheme="parameter_aware", loads_in=i64(2**62, 2**62, 2**62, 2**62 + 1000),
                      **four)


CORE_EVALUATE_BAD = {
    "all-empty": dict(beta=EMPTY_F, compute=EMPTY_F, alpha=EMPTY_F, tau=EMPTY_F, group=EMPTY_I,
                      n_groups=0, loads=EMPTY_F, bandwidth=EMPTY_F),
    "all-empty-one-group": dict(beta=EMPTY_F, compute=EMPTY_F, alpha=EMPTY_F, tau=EMPTY_F,
                                group=EMPTY_I, n_groups=1, loads=f64(1.0), bandwidth=EMPTY_F),
    "compute-short": dict(compute=f64(2e-6)),
    "alpha-long": dict(alpha=f64(0.0, 0.0, 0.0)),
    "group-short": dict(group=i64(0)),
    "group-minus-one": dict(group=i64(-1, 0)),
    "group-equal-n-groups": dict(group=i64(0, 2)),
    "group-huge": dict(group=i64(0, 2**62)),
    "n-groups-zero": dict(n_groups=0, loads=EMPTY_F),
    "n-groups-above-workers": dict(n_groups=3, loads=f64(1.0, 1.0, 1.0)),
    "loads-short": dict(loads=f64(1000.0)),
    "loads-long": dict(loads=f64(1.0, 1.0, 1.0)),
    "loads-empty": dict(loads=EMPTY_F),
    "loads-none": dict(loads=None),
    "loads-int-dtype": dict(loads=i64(500, 500)),
    "bandwidth-short": dict(bandwidth=f64(1e6)),
    "bandwidth-empty": dict(bandwidth=EMPTY_F),
    "bandwidth-none": dict(bandwidth=None),
    "bandwidth-strided": dict(bandwidth=np.repeat(f64(5e6, 5e6), 2)[::2]),
    "beta-reversed": dict(beta=f64(16.0, 8.0)[::-1]),
}


@pytest.mark.parametrize("case", list(CORE_EVALUATE_BAD))
def test_core_evaluate_rejects(case):
    with pytest.raises(ValueError, match=expected_message(case)):
        core_evaluate(**CORE_EVALUATE_BAD[case])


def test_core_evaluate_zero_bandwidth_is_infinite():
    latency, worker = core_evaluate(bandwidth=f64(0.0, 5e6))
    assert latency == np.inf and worker[0] == np.inf and np.isfinite(worker[1])


# The nastiest direct calls, in a fresh interpreter: each must raise ValueError and the process
# must exit normally (a crash in the kernel would kill it with a signal).
SUBPROCESS_SCRIPT = textwrap.dedent("""
    import numpy as np
    from paba import _core

    f = lambda *v: np.array(v, dtype=np.float64)
    i = lambda *v: np.array(v, dtype=np.int64)
    B, C, Z, G = f(8.0, 16.0), f(2e-6, 1e-6), f(0.0, 0.0), i(0, 1)
    E, EI = f(), i()
    A, V = _core.allocate, _core.evaluate
    cases = {
        "allocate-none": lambda: A("joint", None, None, None, None, None, 1, 1.0, 1.0),
        "allocate-empty": lambda: A("joint", E, E, E, E, EI, 1, 1.0, 1.0),
        "allocate-empty-n0": lambda: A("joint", E, E, E, E, EI, 0, 1.0, 1.0),
        "allocate-compute-short": lambda: A("joint", B, f(1.0), Z, Z, G, 2, 1e3, 1e7),
        "allocate-group-none": lambda: A("joint", B, C, Z, Z, None, 1, 1e3, 1e7),
        "allocate-group-minus-one": lambda: A("joint", B, C, Z, Z, i(0, -1), 2, 1e3, 1e7),
        "allocate-group-huge": lambda: A("joint", B, C, Z, Z, i(0, 2**62), 2, 1e3, 1e7),
        "allocate-group-int64-min": lambda: A("equal", B, C, Z, Z, i(-2**63, 0), 2, 1e3, 1e7),
        "allocate-n-groups-huge": lambda: A("joint", B, C, Z, Z, G, 2**62, 1e3, 1e7),
        "allocate-n-groups-negative": lambda: A("joint", B, C, Z, Z, G, -1, 1e3, 1e7),
        "allocate-loads-empty": lambda: A("parameter_aware", B, C, Z, Z, G, 2, 1e3, 1e7, EI),
        "allocate-loads-short": lambda: A("parameter_aware", B, C, Z, Z, G, 2, 1e3, 1e7, i(1000)),
        "allocate-bandwidth-in-empty":
            lambda: A("bandwidth_aware", B, C, Z, Z, G, 2, 1e3, 1e7, None, E),
        "allocate-params-nan": lambda: A("joint", B, C, Z, Z, G, 2, float("nan"), 1e7),
        "allocate-strided": lambda: A("joint", np.repeat(B, 2)[::2], C, Z, Z, G, 2, 1e3, 1e7),
        "evaluate-none": lambda: V(B, C, Z, Z, G, 2, None, None),
        "evaluate-empty": lambda: V(E, E, E, E, EI, 0, E, E),
        "evaluate-group-huge": lambda: V(B, C, Z, Z, i(0, 2**62), 2, f(1.0, 1.0), f(1.0, 1.0)),
        "evaluate-group-minus-one": lambda: V(B, C, Z, Z, i(-1, 0), 2, f(1.0, 1.0), f(1.0, 1.0)),
        "evaluate-loads-short": lambda: V(B, C, Z, Z, G, 2, f(1.0), f(1.0, 1.0)),
    }
    for name, call in cases.items():
        print(name, end=" ", flush=True)
        try:
            call()
        except ValueError:
            print("ValueError", flush=True)
        except BaseException as error:
            print("WRONG", type(error).__name__, flush=True)
        else:
            print("RETURNED", flush=True)
    print("DONE", len(cases), flush=True)
""")


def test_core_nastiest_calls_do_not_crash_the_interpreter():
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SUBPROCESS_SCRIPT],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "DONE 20", result.stdout
    outcomes = dict(line.split(" ", 1) for line in lines[:-1])
    assert len(outcomes) == 20
    wrong = {name: outcome for name, outcome in outcomes.items() if outcome != "ValueError"}
    assert not wrong, wrong


# The reference twins take the same direct calls (paba.reference.allocation.allocate and
# evaluate, which users call to benchmark against): every malformed one is a ValueError naming
# the argument, as in the binding; a dtype or layout the binding's buffers refuse is converted.
@pytest.mark.parametrize("case", list(CORE_ALLOCATE_BAD))
def test_reference_allocate_rejects_like_the_binding(case):
    args = core_args(**CORE_ALLOCATE_BAD[case])
    positional = [args.pop(k) for k in ("scheme", "beta", "compute", "alpha", "tau", "group",
                                        "n_groups", "params", "bandwidth")]
    if case in BUFFER_ERRORS:
        try:
            reference.allocate(*positional, **args)
        except ValueError as error:
            assert re.match(r"^\w+:", str(error))
        return
    with pytest.raises(ValueError, match=expected_message(case)):
        reference.allocate(*positional, **args)


@pytest.mark.parametrize("case", list(CORE_EVALUATE_BAD))
def test_reference_evaluate_rejects_like_the_binding(case):
    args = dict(beta=f64(8.0, 16.0), compute=f64(2e-6, 1e-6), alpha=f64(0.0, 0.0),
                tau=f64(0.0, 0.0), group=i64(0, 1), n_groups=2, loads=f64(500.0, 500.0),
                bandwidth=f64(5e6, 5e6))
    args.update(CORE_EVALUATE_BAD[case])
    if case in BUFFER_ERRORS:
        reference.evaluate(**args)  # converted, not refused
        return
    with pytest.raises(ValueError, match=expected_message(case)):
        reference.evaluate(**args)
