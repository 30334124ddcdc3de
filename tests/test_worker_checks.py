"""The native check of a System's per-worker inputs (check.cpp, ``paba._core.check_workers``).

``paba.System`` checks beta, compute, alpha and tau in one native pass that copies them, and maps
its faults to the messages of the checks it replaced, which name the argument and, for the
normalised seconds, the first worker. Here: every argument and every fault at the first, a middle
and the last worker, against an oracle written as the NumPy checks were; the ends of the ranges to
the last bit; several faults at once (the first in the order of the arguments wins); dtypes,
layouts, read-only, empty and size-1 inputs; direct calls into the binding, malformed ones
included, which must raise and never take the interpreter down; boolean arrays and scalars beyond
the float range, refused by name; warm starts whose loads were replaced.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import paba
from paba import _core

NAN, INF = float("nan"), float("inf")
PARAMS, POOL = 1000, 1e7
BASE = dict(beta=[8.0, 16.0, 4.0, 12.0, 6.0], compute=[2e-6, 1e-6, 3e-6, 2e-6, 1e-6],
            alpha=[0.0, 1.0, 2.0, 0.0, 3.0], tau=[0.0, 0.125, 0.0, 0.25, 0.0])
INPUTS = ("beta", "compute", "alpha", "tau")


def oracle(beta, compute, alpha, tau, params, bandwidth) -> str | None:
    """The message of the NumPy checks that the native one replaced, or None: each array finite,
    then of its sign, in the order of the arguments; then the normalised seconds of each in range,
    naming the first worker out of it."""
    arrays = {"beta": beta, "compute": compute, "alpha": alpha, "tau": tau}
    for name, values in arrays.items():
        if values is None:
            continue
        values = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(values)):
            return f"{name}: must be finite (no NaN or infinity)"
        if name in ("beta", "compute") and not np.all(values > 0):
            return f"{name}: every entry must be positive"
        if name in ("alpha", "tau") and not np.all(values >= 0):
            return f"{name}: every entry must be non-negative"
    ranges = {"beta": (lambda v: v * params / bandwidth, "beta * params / bandwidth", 1e-80),
              "compute": (lambda v: v * params, "compute * params", 1e-80),
              "alpha": (lambda v: v / bandwidth, "alpha / bandwidth", 0.0),
              "tau": (lambda v: v, "tau", 0.0)}
    with np.errstate(over="ignore", under="ignore"):
        for name, values in arrays.items():
            if values is None:
                continue
            to_seconds, what, low = ranges[name]
            seconds = to_seconds(np.asarray(values, dtype=np.float64))
            bad = ~((seconds <= 1e80) & (seconds >= low))
            if np.any(bad):
                return (f"{name}: {what} must lie in [{low:g}, 1e+80] seconds "
                        f"(worker {int(np.flatnonzero(bad)[0])})")
    return None


def build(**changes) -> paba.System:
    """The base System with some arguments changed; lists become float64 arrays (the fast path),
    arrays pass as they are."""
    kwargs = dict(BASE, params=PARAMS, bandwidth=POOL)
    kwargs.update(changes)
    return paba.System(**{k: np.array(v, dtype=np.float64) if isinstance(v, list) else v
                          for k, v in kwargs.items()})


def assert_same_outcome(**changes) -> None:
    """System refuses exactly what the oracle refuses, with its message, and keeps the rest."""
    kwargs = dict(BASE, params=PARAMS, bandwidth=POOL)
    kwargs.update(changes)
    expected = oracle(*(kwargs[name] for name in INPUTS), kwargs["params"], kwargs["bandwidth"])
    if expected is None:
        system = build(**changes)
        for name in INPUTS:
            np.testing.assert_array_equal(getattr(system, name), kwargs[name])
    else:
        with pytest.raises(ValueError) as info:
            build(**changes)
        assert str(info.value) == expected


# ---------------------------------------------------------------------------------------------
# Every argument, every fault, the first faulty worker

FAULTS = {
    "nan": {name: NAN for name in INPUTS},
    "inf": {name: INF for name in INPUTS},
    "neg-inf": {name: -INF for name in INPUTS},
    "negative": {name: -1.0 for name in INPUTS},
    "zero": {name: 0.0 for name in INPUTS},  # refused for beta and compute only
    "negative-zero": {name: -0.0 for name in INPUTS},
    "too-small": {"beta": 1e-95, "compute": 1e-80, "alpha": 0.0, "tau": 0.0},
    "too-large": {"beta": 1e80, "compute": 1e78, "alpha": 1e88, "tau": 1e81},
}


@pytest.mark.parametrize("worker", [0, 2, 4])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", INPUTS)
def test_each_fault_of_each_argument(name, fault, worker):
    values = list(BASE[name])
    values[worker] = FAULTS[fault][name]
    assert_same_outcome(**{name: values})


@pytest.mark.parametrize("name", INPUTS)
def test_the_first_faulty_worker_is_named(name):
    values = list(BASE[name])
    big = {"beta": 1e90, "compute": 1e90, "alpha": 1e95, "tau": 1e90}[name]
    values[3] = values[1] = big
    with pytest.raises(ValueError, match=rf"^{name}: .* \(worker 1\)$"):
        build(**{name: values})


def test_the_first_argument_in_order_wins():
    """Several faults: values (finite, then sign) argument by argument, before any range."""
    cases = [
        (dict(beta=[8.0, 1e90, 4.0, 12.0, 6.0], compute=[2e-6, NAN, 3e-6, 2e-6, 1e-6]),
         "compute: must be finite"),
        (dict(beta=[8.0, -1.0, NAN, 12.0, 6.0]), "beta: must be finite"),
        (dict(compute=[2e-6, -1.0, 3e-6, 2e-6, 1e90], alpha=[0.0, NAN, 0.0, 0.0, 0.0]),
         "compute: every entry must be positive"),
        (dict(tau=[0.0, 1e90, 0.0, 0.0, 0.0], alpha=[0.0, 1e90, 0.0, 0.0, 0.0]),
         "alpha: alpha / bandwidth"),
        (dict(tau=[0.0, -1.0, 0.0, 0.0, 0.0], beta=[8.0, 16.0, 4.0, 1e90, 6.0]),
         "tau: every entry must be non-negative"),
        (dict(tau=[0.0, 1e90, 0.0, 0.0, 0.0], beta=[8.0, 16.0, 4.0, 1e90, 6.0]),
         "beta: beta * params / bandwidth"),
    ]
    for changes, start in cases:
        with pytest.raises(ValueError) as info:
            build(**changes)
        assert str(info.value).startswith(start), (changes, str(info.value))
        assert_same_outcome(**changes)


def test_values_before_groups_before_scalars_before_ranges():
    """The order of the checks the native pass replaced, across the other arguments."""
    nan_beta = dict(beta=[8.0, NAN, 4.0, 12.0, 6.0])
    far_beta = dict(beta=[8.0, 1e90, 4.0, 12.0, 6.0])
    for changes, name in [(dict(nan_beta, groups=[0, 5, 1, 1, 1]), "beta"),
                          (dict(nan_beta, params=0), "beta"),
                          (dict(nan_beta, bandwidth=NAN), "beta"),
                          (dict(far_beta, groups=[0, 5, 1, 1, 1]), "groups"),
                          (dict(far_beta, params=0), "params"),
                          (dict(far_beta, bandwidth=-1.0), "bandwidth"),
                          (dict(beta=[8.0, 16.0, 4.0], groups=[0, 5, 1]), "compute")]:
        with pytest.raises(ValueError, match=rf"^{name}:"):
            build(**changes)


# ---------------------------------------------------------------------------------------------
# The ends of the ranges, to the last bit


def neighbours(x: float) -> list[float]:
    below, above = np.nextafter(x, 0.0), np.nextafter(x, INF)
    return [float(np.nextafter(below, 0.0)), float(below), x, float(above),
            float(np.nextafter(above, INF))]


@pytest.mark.parametrize("params, bandwidth", [(1, 1.0), (1000, 1e7), (10**9, 3e-7),
                                               (2**53, 1e300), (7, 1e-300), (3, 0.1)])
@pytest.mark.parametrize("name", INPUTS)
def test_the_ends_of_the_ranges(name, params, bandwidth):
    """Values a few units in the last place around each end, as the normalised seconds are
    formed: the native pass compares values with precomputed ends and must draw the same lines."""
    to_value = {"beta": lambda s: s * bandwidth / params, "compute": lambda s: s / params,
                "alpha": lambda s: s * bandwidth, "tau": lambda s: s}[name]
    with np.errstate(over="ignore", under="ignore"):
        ends = [to_value(1e-80), to_value(1e80)]
    for end in ends:
        if not (0.0 < end < INF):
            continue
        for x in neighbours(end):
            values = list(BASE[name])
            values[2] = x
            assert_same_outcome(**{name: values}, params=params, bandwidth=bandwidth)


def test_ranges_at_extreme_scalars():
    """Ends found by bisection where a guess is not finite (subnormal or huge bandwidths)."""
    for bandwidth in (5e-324, 1e-310, 1.7e308):
        for params in (1, 2**53):
            for beta in (5e-324, 1e-300, 1.0, 1e300):
                assert_same_outcome(beta=[8.0, 16.0, beta, 12.0, 6.0], params=params,
                                    bandwidth=bandwidth)


# ---------------------------------------------------------------------------------------------
# Dtypes, layouts, read-only, empty, size-1


def layouts(values: np.ndarray):
    yield "contiguous", np.ascontiguousarray(values)
    yield "strided", np.repeat(values, 2)[::2]
    yield "reversed", values[::-1].copy()[::-1]
    raw = np.zeros(values.nbytes + 1, dtype=np.uint8)
    unaligned = raw[1:].view(values.dtype)
    unaligned[:] = values
    yield "unaligned", unaligned
    yield "byteswapped", values.astype(values.dtype.newbyteorder())
    frozen = values.copy()
    frozen.flags.writeable = False
    yield "read-only", frozen
    yield "2-d row", np.stack([values, values])[0]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "uint16", "float16",
                                   "longdouble"])
@pytest.mark.parametrize("name", ["beta", "tau"])
def test_dtypes_and_layouts_read_alike(name, dtype):
    values = np.array(BASE[name]) * (8 if name == "tau" and dtype[0] in "iu" else 1)
    values = np.round(values) if dtype[0] in "iu" else values
    want = build(**{name: values})
    for layout, array in layouts(values.astype(dtype)):
        got = build(**{name: array})
        assert got == want, layout
        field = getattr(got, name)
        assert field.dtype == np.float64 and field.flags.c_contiguous and field.flags.aligned
        assert not field.flags.writeable and not np.shares_memory(field, array)
        with pytest.raises(ValueError):
            field.flags.writeable = True


@pytest.mark.parametrize("layout", ["contiguous", "strided", "unaligned", "byteswapped"])
def test_faults_are_found_in_any_layout(layout):
    values = np.array([8.0, 16.0, NAN, 12.0, 6.0])
    array = dict(layouts(values))[layout]
    with pytest.raises(ValueError, match=r"^beta: must be finite"):
        build(beta=array)


def test_size_one_and_empty():
    one = paba.System([8.0], [2e-6], PARAMS, POOL, alpha=[1.0], tau=[0.5])
    assert one.n_workers == 1 and one.alpha.tolist() == [1.0]
    for beta in ([1e-95], [NAN], [0.0]):
        with pytest.raises(ValueError, match=r"^beta:"):
            paba.System(beta, [2e-6], PARAMS, POOL)
    with pytest.raises(ValueError, match=r"^beta: must not be empty"):
        paba.System(np.array([]), np.array([]), PARAMS, POOL)
    with pytest.raises(ValueError, match=r"^alpha: must have 1 entries, got 0"):
        paba.System([8.0], [2e-6], PARAMS, POOL, alpha=np.array([]))


def test_the_arrays_are_copies_and_the_inputs_untouched():
    beta, compute = np.array(BASE["beta"]), np.array(BASE["compute"])
    alpha, tau = np.array(BASE["alpha"]), np.array(BASE["tau"])
    system = paba.System(beta, compute, PARAMS, POOL, alpha=alpha, tau=tau)
    for name, given in zip(INPUTS, (beta, compute, alpha, tau), strict=True):
        field = getattr(system, name)
        assert not np.shares_memory(field, given) and given.flags.writeable
        given[0] = 99.0
        assert field[0] == BASE[name][0]


# ---------------------------------------------------------------------------------------------
# Booleans and scalars beyond the float range, refused by name


@pytest.mark.parametrize("name", INPUTS + ("groups",))
def test_boolean_arrays_are_refused(name):
    flags = np.ones(5, dtype=bool)
    with pytest.raises(ValueError, match=rf"^{name}: must hold .*, not bool$"):
        build(**{name: flags})
    with pytest.raises(ValueError, match=rf"^{name}: must hold .*, not bool$"):
        build().replace(**{name: flags})


@pytest.mark.parametrize("name", ["efficiency_down", "efficiency_up", "cpu_frequency", "samples",
                                  "side_bits"])
def test_boolean_radio_arrays_are_refused(name):
    radio = dict(efficiency_down=[2.0, 4.0], efficiency_up=[1.0, 3.0], cpu_frequency=[1e9, 5e8],
                 samples=[100, 200], params=1000, bandwidth=1e7)
    radio[name] = np.array([True, True])
    with pytest.raises(ValueError, match=rf"^{name}: must hold .*, not bool$"):
        paba.System.from_radio(**radio)


@pytest.mark.parametrize("changes, name", [
    (dict(bandwidth=10**400), "bandwidth"),
    (dict(bandwidth=-10**400), "bandwidth"),
    (dict(cycles_per_parameter=10**400), "cycles_per_parameter"),
    (dict(bits_per_parameter=10**400), "bits_per_parameter"),
])
def test_scalars_beyond_the_float_range_are_refused(changes, name):
    radio = dict(efficiency_down=[2.0, 4.0], efficiency_up=[1.0, 3.0], cpu_frequency=[1e9, 5e8],
                 samples=[100, 200], params=1000, bandwidth=1e7)
    radio.update(changes)
    with pytest.raises(ValueError, match=rf"^{name}:"):
        paba.System.from_radio(**radio)
    if name == "bandwidth":
        with pytest.raises(ValueError, match=r"^bandwidth:"):
            paba.System([8.0], [2e-6], PARAMS, changes["bandwidth"])


# ---------------------------------------------------------------------------------------------
# Warm starts whose loads were replaced


@pytest.mark.parametrize("loads", ["list", "float", "strided", "two-d", "int32", "tuple"])
def test_previous_with_replaced_loads(loads, backend):
    system = paba.static_cell(6)
    good = paba.allocate(system, "joint", backend=backend)
    replaced = {"list": good.loads.tolist(), "float": good.loads.astype(np.float64),
                "strided": np.repeat(good.loads, 2)[::2], "two-d": good.loads.reshape(1, 6),
                "int32": good.loads.astype(np.int32), "tuple": tuple(good.loads)}[loads]
    previous = dataclasses.replace(good, loads=replaced)
    with pytest.raises(ValueError, match=r"^previous:"):
        paba.allocate(system, "joint", previous=previous, backend=backend)


def test_previous_from_a_rebuilt_allocation(backend):
    """An Allocation rebuilt from another's fields (int64 loads) warms the search as before."""
    system = paba.static_cell(30)
    cold = paba.allocate(system, "joint", backend=backend)
    rebuilt = type(cold)(**{**cold.__dict__, "loads": np.array(cold.loads)})
    warm = paba.allocate(system, "joint", previous=rebuilt, backend=backend)
    np.testing.assert_array_equal(warm.loads, cold.loads)


# ---------------------------------------------------------------------------------------------
# The binding, called directly


def f64(*values):
    return np.array(values, dtype=np.float64)


def test_allocate_system_builds_the_allocation_and_refuses_other_result_types():
    """The lean path's result holds every field of an Allocation, in order, as attributes; a
    result type that cannot be instantiated is refused, not called."""
    system = paba.static_cell(12)
    allocation = _core.allocate_system(system._kernel, "joint", "auto", None, paba.Allocation)
    assert type(allocation) is paba.Allocation
    assert list(allocation.__dict__) == [f.name for f in dataclasses.fields(paba.Allocation)]
    general = paba.allocate(system, "joint", tol=1e-9 + 0.0)  # the general path
    assert general.__dict__.keys() == allocation.__dict__.keys()
    for uninstantiable in (type(iter([])), type(iter(())), None):
        with pytest.raises(TypeError):
            _core.allocate_system(system._kernel, "joint", "auto", None, uninstantiable)


def test_every_fault_has_a_message():
    from paba._system import _MESSAGES
    assert set(_core.WORKER_FAULTS.values()) == set(_MESSAGES) | {"out_of_range"}
    assert set(_core.WORKER_INPUTS.values()) == set(INPUTS)


def test_direct_call_copies_and_names_faults():
    beta, compute = f64(8.0, 16.0), f64(2e-6, 1e-6)
    fault, copies = _core.check_workers(beta, compute, None, None, 1e3, 1e7, True)
    assert fault is None and len(copies) == 2
    for copy, given in zip(copies, (beta, compute), strict=True):
        np.testing.assert_array_equal(copy, given)
        assert not copy.flags.writeable and not np.shares_memory(copy, given)
        with pytest.raises(ValueError):
            copy.flags.writeable = True
    assert _core.check_workers(beta, compute, None, None, 1e3, 1e7) == (None, None)
    fault, copies = _core.check_workers(beta, None, None, f64(0.0, 2.0), 1e3, 1e7, True)
    assert fault is None and [c.tolist() for c in copies] == [[8.0, 16.0], [0.0, 2.0]]
    assert _core.check_workers(None, None, None, None, 1e3, 1e7, True) == (None, ())
    assert _core.check_workers(f64(), f64(), f64(), f64(), 1e3, 1e7, True)[0] is None
    names = set(_core.WORKER_FAULTS.values())
    for args, want in [((f64(8.0, NAN), compute, None, None), ("not_finite", "beta", 1)),
                       ((beta, f64(2e-6, 0.0), None, None), ("not_positive", "compute", 1)),
                       ((beta, compute, f64(-1.0, 0.0), None), ("negative", "alpha", 0)),
                       ((beta, compute, None, f64(0.0, 1e81)), ("out_of_range", "tau", 1))]:
        fault, copies = _core.check_workers(*args, 1e3, 1e7, True)
        assert fault == want and copies is None and fault[0] in names


MALFORMED = {
    "float32": dict(beta=np.ones(2, dtype=np.float32)),
    "int64": dict(beta=np.ones(2, dtype=np.int64)),
    "strided": dict(beta=np.ones(4)[::2]),
    "two-d": dict(beta=np.ones((1, 2))),
    "byteswapped": dict(beta=np.ones(2, dtype=">f8")),
    "unaligned": dict(beta=np.zeros(17, dtype=np.uint8)[1:].view(np.float64)),
    "list": dict(beta=[1.0, 2.0]),
    "string": dict(beta="ab"),
    "compute-short": dict(compute=f64(1e-6)),
    "tau-long": dict(tau=f64(0.0, 0.0, 0.0)),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_direct_call_refuses_malformed_inputs(case):
    args = dict(beta=f64(8.0, 16.0), compute=f64(2e-6, 1e-6), alpha=None, tau=None)
    args.update(MALFORMED[case])
    name = next(iter(MALFORMED[case]))
    with pytest.raises(ValueError, match=rf"^{name}:"):
        _core.check_workers(*args.values(), 1e3, 1e7, True)


@pytest.mark.parametrize("params, bandwidth, name", [
    (0.0, 1e7, "params"), (2.5, 1e7, "params"), (NAN, 1e7, "params"), (2.0**54, 1e7, "params"),
    (1e3, 0.0, "bandwidth"), (1e3, -1.0, "bandwidth"), (1e3, INF, "bandwidth"),
    (1e3, NAN, "bandwidth")])
def test_direct_call_refuses_bad_scalars(params, bandwidth, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        _core.check_workers(f64(8.0), f64(2e-6), None, None, params, bandwidth, True)


CRASH_SCRIPT = textwrap.dedent("""
    import numpy as np
    from paba import _core

    C = _core.check_workers
    f = lambda *v: np.array(v, dtype=np.float64)
    big = np.zeros(2**20)
    cases = {
        "lengths": lambda: C(f(1.0), f(1.0, 2.0), f(1.0), None, 1.0, 1.0, True),
        "lengths-last": lambda: C(f(1.0, 2.0), f(1.0, 2.0), None, f(), 1.0, 1.0, True),
        "strided": lambda: C(big[::3], big[1::3], None, None, 1.0, 1.0, True),
        "byteswapped": lambda: C(f(1.0).astype(">f8"), f(1.0), None, None, 1.0, 1.0, True),
        "bytes": lambda: C(b"12345678", f(1.0), None, None, 1.0, 1.0, True),
        "memoryview-int": lambda: C(memoryview(b"12345678").cast("q"), f(1.0), None, None,
                                     1.0, 1.0, True),
        "object": lambda: C(object(), None, None, None, 1.0, 1.0, True),
        "params": lambda: C(f(1.0), f(1.0), None, None, float("nan"), 1.0, True),
        "bandwidth": lambda: C(f(1.0), f(1.0), None, None, 1.0, -1.0, True),
        "params-type": lambda: C(f(1.0), f(1.0), None, None, "x", 1.0, True),
    }
    for name, call in cases.items():
        print(name, end=" ", flush=True)
        try:
            call()
        except (ValueError, TypeError):
            print("refused", flush=True)
        except BaseException as error:
            print("WRONG", type(error).__name__, flush=True)
        else:
            print("RETURNED", flush=True)
    # Valid calls at the edges: nothing given, empty inputs, a large copy.
    assert C(None, None, None, None, 1.0, 1.0, True) == (None, ())
    assert C(f(), f(), f(), f(), 1.0, 1.0, True)[0] is None
    fault, copies = C(big + 1.0, big + 1.0, big, big, 1.0, 1.0, True)
    assert fault is None and all(c.size == big.size for c in copies)
    print("DONE", len(cases), flush=True)
""")


def test_malformed_direct_calls_do_not_crash_the_interpreter():
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CRASH_SCRIPT],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "DONE 10", result.stdout
    outcomes = dict(line.split(" ", 1) for line in lines[:-1])
    assert set(outcomes.values()) == {"refused"}, outcomes
