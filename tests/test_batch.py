"""``paba.allocate_batch``: many instances in one call (2-D, or ragged with offsets; one worker
per group, or group ids local to each instance, with alpha and tau) on a thread pool must give
exactly what ``paba.allocate`` gives one instance at a time, on both backends; indexing, warm
starts, validation (errors name the argument, and the instance where a kernel rejects one) and
the binding boundary (dtype, layout, writeability, malformed direct calls into
``paba._core.allocate_batch``)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paba
from paba.testing import assert_allocations_close

BACKENDS = ("native", "reference")
FIELDS = ("loads", "relaxed_loads", "bandwidth", "worker_latency")


def named(name: str) -> str:
    return rf"^{re.escape(name)}:"


# ---------------------------------------------------------------------------------------------
# Instances


def ragged_instances(seed: int, sizes=(1, 3, 7, 2, 12, 5, 1, 20)):
    """Concatenated instances of the given sizes: wide ranges, a hopeless channel, ties."""
    rng = np.random.default_rng(seed)
    K = sum(sizes)
    beta = np.exp(rng.uniform(np.log(0.5), np.log(200.0), K))
    compute = np.exp(rng.uniform(np.log(1e-7), np.log(1e-4), K))
    offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    if K > 6:
        beta[4] = 8e6          # a hopeless channel
        beta[5] = beta[6]      # a tie
        compute[5] = compute[6]
    M = len(sizes)
    params = rng.integers(1, 10**7, M)
    params[0] = 1
    bandwidth = np.exp(rng.uniform(np.log(1e5), np.log(1e8), M))
    return beta, compute, offsets, params, bandwidth


def grid_instances(seed: int, M: int = 6, K: int = 9):
    rng = np.random.default_rng(seed)
    beta = np.exp(rng.uniform(np.log(0.5), np.log(200.0), (M, K)))
    compute = np.exp(rng.uniform(np.log(1e-7), np.log(1e-4), (M, K)))
    params = rng.integers(1, 10**8, M)
    bandwidth = np.exp(rng.uniform(np.log(1e5), np.log(1e8), M))
    return beta, compute, params, bandwidth


def split(values, offsets):
    """Per-instance slices of concatenated (1-D) or stacked (2-D) per-worker arrays."""
    if values is None:
        return [None] * (len(offsets) - 1)
    flat = np.asarray(values).reshape(-1)
    return [flat[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]


def per_instance(value, M):
    return np.broadcast_to(np.asarray(value), (M,))


def one_by_one(beta, compute, params, bandwidth, *, offsets=None, scheme="joint",
               method="auto", alpha=None, tau=None, previous=None, backend="native", tol=1e-9):
    """The same instances through paba.allocate, one at a time."""
    beta = np.asarray(beta, dtype=np.float64)
    if offsets is None:
        M, K = beta.shape if beta.ndim == 2 else (1, beta.size)
        offsets = np.arange(0, (M + 1) * K, K)
    M = len(offsets) - 1
    params, bandwidth = per_instance(params, M), per_instance(bandwidth, M)
    previous_parts = split(None if previous is None else previous.loads, offsets)
    results = []
    for i, (b, c, a, t, p) in enumerate(zip(split(beta, offsets), split(compute, offsets),
                                            split(alpha, offsets), split(tau, offsets),
                                            previous_parts, strict=True)):
        system = paba.System(b, c, params=int(params[i]), bandwidth=float(bandwidth[i]),
                             alpha=a, tau=t)
        start = None
        if p is not None:
            start = paba.allocate(system, "joint")  # an Allocation carrying the batch's loads
            start = type(start)(**{**start.__dict__, "loads": np.array(p)})
        kwargs = dict(method=method, previous=start) if scheme == "joint" else {}
        results.append(paba.allocate(system, scheme, backend=backend, tol=tol, **kwargs))
    return results


def assert_batch_equals(batch: paba.BatchAllocation, singles, shape) -> None:
    """Identical answers: loads exactly, every float field bitwise (within 1e-12 at most)."""
    assert len(batch) == len(singles)
    for field in FIELDS:
        assert getattr(batch, field).shape == shape, field
    for i, single in enumerate(singles):
        item = batch[i]
        np.testing.assert_array_equal(item.loads, single.loads, err_msg=f"instance {i}")
        for field in ("relaxed_loads", "bandwidth", "worker_latency"):
            np.testing.assert_allclose(getattr(item, field), getattr(single, field), rtol=1e-12,
                                       atol=0, err_msg=f"{field}, instance {i}")
        assert item.latency == pytest.approx(single.latency, rel=1e-12, abs=0)
        assert item.relaxed_latency == pytest.approx(single.relaxed_latency, rel=1e-12, abs=0)
        assert batch.latency[i] == item.latency
        assert item.method == single.method == batch.method[i]
        assert item.converged == single.converged == bool(batch.converged[i])
        assert item.iterations == single.iterations == int(batch.iterations[i])
        assert item.scheme == single.scheme and item.backend == single.backend
    # Bitwise, as the kernels are the same code on the same inputs.
    for field in ("latency", "relaxed_latency"):
        np.testing.assert_array_equal(getattr(batch, field),
                                      [getattr(s, field) for s in singles], err_msg=field)


# ---------------------------------------------------------------------------------------------
# Same answers as one by one


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("n_threads", [1, 2, 20])
def test_ragged_batch_equals_one_by_one(scheme, n_threads, backend):
    beta, compute, offsets, params, bandwidth = ragged_instances(1)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme,
                                offsets=offsets, n_threads=n_threads, backend=backend)
    assert batch.scheme == scheme and batch.backend == backend
    np.testing.assert_array_equal(batch.offsets, offsets)
    singles = one_by_one(beta, compute, params, bandwidth, offsets=offsets, scheme=scheme,
                         backend=backend)
    assert_batch_equals(batch, singles, beta.shape)
    if scheme == "joint":
        assert batch.method == ("exact",) * len(singles)
    else:
        assert batch.method == (None,) * len(singles)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("n_threads", [1, 2, 7])
def test_grid_batch_equals_one_by_one(scheme, n_threads, backend):
    beta, compute, params, bandwidth = grid_instances(2)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme,
                                n_threads=n_threads, backend=backend)
    np.testing.assert_array_equal(batch.offsets, np.arange(0, beta.size + 1, beta.shape[1]))
    singles = one_by_one(beta, compute, params, bandwidth, scheme=scheme, backend=backend)
    assert_batch_equals(batch, singles, beta.shape)


@pytest.mark.parametrize("method", ["auto", "exact", "bisection"])
def test_scalar_params_and_bandwidth(method, backend):
    beta, compute, _, _ = grid_instances(3)
    batch = paba.allocate_batch(beta, compute, 10**6, 1e7, method=method, n_threads=2,
                                backend=backend)
    singles = one_by_one(beta, compute, 10**6, 1e7, method=method, backend=backend)
    assert_batch_equals(batch, singles, beta.shape)
    expected = "bisection" if method == "bisection" else "exact"
    assert batch.method == (expected,) * beta.shape[0]
    for i in range(len(batch)):
        assert batch.loads[i].sum() == 10**6
        assert batch.bandwidth[i].sum() <= 1e7


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("which", ["alpha", "tau", "both"])
def test_fixed_costs_take_the_bisection(scheme, which, backend):
    beta, compute, offsets, params, bandwidth = ragged_instances(4, sizes=(3, 1, 6, 4))
    rng = np.random.default_rng(5)
    alpha = rng.uniform(0.0, 1e5, beta.size) if which in ("alpha", "both") else None
    tau = rng.uniform(0.0, 0.2, beta.size) if which in ("tau", "both") else None
    if tau is not None:
        tau[:3] = 0.0  # instance 0 has fixed costs only where alpha says so
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme, alpha=alpha,
                                tau=tau, offsets=offsets, n_threads=2, backend=backend)
    singles = one_by_one(beta, compute, params, bandwidth, offsets=offsets, scheme=scheme,
                         alpha=alpha, tau=tau, backend=backend)
    assert_batch_equals(batch, singles, beta.shape)
    if scheme == "joint":
        # Per instance: exact exactly where that instance's alpha and tau are all zero.
        for i in range(len(singles)):
            part = slice(offsets[i], offsets[i + 1])
            zero = all(v is None or not np.any(v[part]) for v in (alpha, tau))
            assert batch.method[i] == ("exact" if zero else "newton")


def test_zero_fixed_costs_keep_the_exact_method():
    beta, compute, params, bandwidth = grid_instances(6)
    plain = paba.allocate_batch(beta, compute, params, bandwidth)
    zeros = paba.allocate_batch(beta, compute, params, bandwidth, alpha=np.zeros_like(beta),
                                tau=np.zeros_like(beta))
    assert zeros.method == plain.method == ("exact",) * beta.shape[0]
    for field in FIELDS + ("latency", "relaxed_latency"):
        np.testing.assert_array_equal(getattr(zeros, field), getattr(plain, field))


def test_one_instance_and_one_worker(backend):
    batch = paba.allocate_batch([6.4], [2e-6], 10**6, 1e7, backend=backend)
    assert len(batch) == 1 and batch.loads.shape == (1,)
    single = paba.allocate(paba.System([6.4], [2e-6], 10**6, 1e7), backend=backend)
    assert_batch_equals(batch, [single], (1,))
    grid = paba.allocate_batch([[6.4]], [[2e-6]], 10**6, 1e7, backend=backend)
    assert grid.loads.shape == (1, 1)
    assert_batch_equals(grid, [single], (1, 1))


@given(data=st.data())
@settings(max_examples=25)
def test_random_ragged_batches(data):
    sizes = data.draw(st.lists(st.integers(1, 8), min_size=1, max_size=6))
    seed = data.draw(st.integers(0, 2**32 - 1))
    scheme = data.draw(st.sampled_from(paba.SCHEMES))
    n_threads = data.draw(st.integers(1, 4))
    beta, compute, offsets, params, bandwidth = ragged_instances(seed, tuple(sizes))
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme,
                                offsets=offsets, n_threads=n_threads)
    singles = one_by_one(beta, compute, params, bandwidth, offsets=offsets, scheme=scheme)
    assert_batch_equals(batch, singles, beta.shape)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_threads_give_identical_results(n_threads):
    rng = np.random.default_rng(7)
    M, K = 300, 40
    beta = np.exp(rng.uniform(0.0, 5.0, (M, K)))
    compute = np.exp(rng.uniform(np.log(1e-7), np.log(1e-5), (M, K)))
    one = paba.allocate_batch(beta, compute, 10**7, 1e7, n_threads=1)
    many = paba.allocate_batch(beta, compute, 10**7, 1e7, n_threads=n_threads)
    for field in FIELDS + ("latency", "relaxed_latency", "iterations", "converged"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field), err_msg=field)


# ---------------------------------------------------------------------------------------------
# Native against reference


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("layout", ["grid", "ragged"])
def test_native_batch_agrees_with_reference_batch(scheme, layout):
    if layout == "grid":
        beta, compute, params, bandwidth = grid_instances(8)
        offsets = None
    else:
        beta, compute, offsets, params, bandwidth = ragged_instances(9)
    kwargs = dict(scheme=scheme, offsets=offsets)
    native = paba.allocate_batch(beta, compute, params, bandwidth, n_threads=2, **kwargs)
    reference = paba.allocate_batch(beta, compute, params, bandwidth, backend="reference",
                                    **kwargs)
    assert native.method == reference.method
    np.testing.assert_array_equal(native.offsets, reference.offsets)
    for i in range(len(native)):
        assert_allocations_close(native[i], reference[i],
                                 load_slack=1 if scheme == "joint" else 0)


def test_native_batch_agrees_with_reference_batch_with_fixed_costs():
    beta, compute, offsets, params, bandwidth = ragged_instances(10, sizes=(2, 5, 3))
    rng = np.random.default_rng(11)
    alpha, tau = rng.uniform(0, 1e5, beta.size), rng.uniform(0, 0.3, beta.size)
    batches = [paba.allocate_batch(beta, compute, params, bandwidth, alpha=alpha, tau=tau,
                                   offsets=offsets, backend=b) for b in BACKENDS]
    assert batches[0].method == batches[1].method == ("newton",) * 3
    for i in range(3):
        assert_allocations_close(batches[0][i], batches[1][i], rtol=1e-8, load_slack=1)


# ---------------------------------------------------------------------------------------------
# Warm starts


@pytest.mark.parametrize("as_array", [False, True])
def test_previous_batch_gives_the_same_answer(as_array, backend):
    scenario = paba.Scenario(n_workers=30, seed=2)
    gains = scenario.draw_gains(16)
    systems = [scenario.system(g) for g in gains]
    beta = np.stack([s.beta for s in systems])
    compute = np.stack([s.compute for s in systems])
    first = paba.allocate_batch(beta[:8], compute[:8], scenario.params, scenario.bandwidth,
                                backend=backend)
    previous = np.array(first.loads) if as_array else first
    cold = paba.allocate_batch(beta[8:], compute[8:], scenario.params, scenario.bandwidth,
                               backend=backend)
    warm = paba.allocate_batch(beta[8:], compute[8:], scenario.params, scenario.bandwidth,
                               previous=previous, n_threads=2, backend=backend)
    np.testing.assert_array_equal(warm.loads, cold.loads)
    for field in ("relaxed_loads", "bandwidth", "worker_latency", "latency", "relaxed_latency"):
        np.testing.assert_allclose(getattr(warm, field), getattr(cold, field), rtol=1e-12,
                                   atol=0, err_msg=field)
    # And as allocate would, given the same earlier allocation.
    singles = one_by_one(beta[8:], compute[8:], scenario.params, scenario.bandwidth,
                         previous=first, backend=backend)
    assert_batch_equals(warm, singles, beta[8:].shape)


def test_previous_ragged():
    beta, compute, offsets, params, bandwidth = ragged_instances(12)
    first = paba.allocate_batch(beta, compute, params, bandwidth, offsets=offsets)
    changed = beta * np.random.default_rng(13).uniform(0.7, 1.4, beta.size)
    cold = paba.allocate_batch(changed, compute, params, bandwidth, offsets=offsets)
    warm = paba.allocate_batch(changed, compute, params, bandwidth, offsets=offsets,
                               previous=first)
    np.testing.assert_array_equal(warm.loads, cold.loads)
    np.testing.assert_allclose(warm.latency, cold.latency, rtol=1e-12, atol=0)


@pytest.mark.parametrize("offsets", [
    np.array([0, 2**63, 4], dtype=np.uint64),      # above int64
    np.array([0, 2**64 - 2, 4], dtype=np.uint64),  # wraps to -2 as int64
    [0, 2**63, 4],                                 # Python ints above int64
    [0, 2**64, 4],                                 # above uint64 too
    [0, -(2**63) - 1, 4],                          # below int64
])
def test_offsets_beyond_int64_name_offsets(offsets, backend):
    beta = np.full(4, 8.0)
    with pytest.raises(ValueError, match=named("offsets")):
        paba.allocate_batch(beta, beta * 1e-7, 10**6, 1e7, offsets=offsets, backend=backend)


@pytest.mark.parametrize("bad", ["shape", "float", "non_joint", "list_of_allocations"])
def test_bad_previous(bad, backend):
    beta, compute, params, bandwidth = grid_instances(14)
    good = paba.allocate_batch(beta, compute, params, bandwidth)
    kwargs = dict(previous={
        "shape": lambda: good.loads[:, :-1],
        "float": lambda: good.loads.astype(np.float64),
        "non_joint": lambda: good,
        "list_of_allocations": lambda: [good[i] for i in range(len(good))],
    }[bad]())
    if bad == "non_joint":
        kwargs["scheme"] = "sequential"
    with pytest.raises(ValueError, match=named("previous")):
        paba.allocate_batch(beta, compute, params, bandwidth, backend=backend, **kwargs)


# ---------------------------------------------------------------------------------------------
# Indexing and the result object


def test_indexing():
    beta, compute, offsets, params, bandwidth = ragged_instances(15)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, offsets=offsets)
    M = len(batch)
    assert M == len(offsets) - 1
    for i in range(M):
        part = slice(offsets[i], offsets[i + 1])
        for j in (i, i - M, np.int64(i), np.int32(i - M)):
            item = batch[j]
            assert isinstance(item, paba.Allocation)
            np.testing.assert_array_equal(item.loads, batch.loads[part])
            np.testing.assert_array_equal(item.bandwidth, batch.bandwidth[part])
            assert item.latency == batch.latency[i]
        assert batch[i].loads.sum() == params[i]
    for bad in (M, -M - 1, 10**9):
        with pytest.raises(IndexError):
            batch[bad]
    for bad in (1.0, "0", slice(0, 2), None, [0]):
        with pytest.raises((IndexError, TypeError)):
            batch[bad]
    assert "instances=" in repr(batch)


def test_results_are_read_only():
    beta, compute, params, bandwidth = grid_instances(16)
    batch = paba.allocate_batch(beta, compute, params, bandwidth)
    for field in FIELDS + ("latency", "relaxed_latency", "iterations", "converged", "offsets"):
        array = getattr(batch, field)
        assert not array.flags.writeable, field
        with pytest.raises(ValueError):
            array.reshape(-1)[0] = 0
    item = batch[0]
    with pytest.raises(ValueError):
        item.loads[0] = 0


def test_an_item_is_a_full_allocation():
    """batch[i] can warm-start allocate and be evaluated like any Allocation."""
    beta, compute, params, bandwidth = grid_instances(17)
    batch = paba.allocate_batch(beta, compute, params, bandwidth)
    system = paba.System(beta[2], compute[2], int(params[2]), float(bandwidth[2]))
    warm = paba.allocate(system, previous=batch[2])
    np.testing.assert_array_equal(warm.loads, batch[2].loads)
    evaluated = paba.evaluate(system, batch[2].loads, batch[2].bandwidth)
    assert evaluated.latency == pytest.approx(batch.latency[2], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Validation: every error names its argument


def call(**changes):
    beta, compute, params, bandwidth = grid_instances(18, M=3, K=4)
    kwargs = dict(beta=beta, compute=compute, params=params, bandwidth=bandwidth)
    kwargs.update(changes)
    return paba.allocate_batch(kwargs.pop("beta"), kwargs.pop("compute"), kwargs.pop("params"),
                               kwargs.pop("bandwidth"), **kwargs)


RAGGED = dict(beta=np.arange(1.0, 7.0), compute=np.full(6, 1e-6), params=10**6,
              bandwidth=1e7)

BAD_CALLS = {
    "beta_0d": ("beta", dict(beta=np.float64(3.0), compute=np.float64(1e-6), params=10,
                             bandwidth=1e7)),
    "beta_3d": ("beta", dict(beta=np.ones((2, 2, 2)), compute=np.ones((2, 2, 2)))),
    "beta_empty_1d": ("beta", dict(beta=np.array([]), compute=np.array([]))),
    "beta_empty_2d": ("beta", dict(beta=np.ones((0, 3)), compute=np.ones((0, 3)))),
    "beta_no_workers": ("beta", dict(beta=np.ones((3, 0)), compute=np.ones((3, 0)))),
    "beta_nan": ("beta", dict(beta=np.array([[1.0, np.nan, 2.0, 3.0]] * 3))),
    "beta_inf": ("beta", dict(beta=np.array([[1.0, np.inf, 2.0, 3.0]] * 3))),
    "beta_zero": ("beta", dict(beta=np.array([[1.0, 0.0, 2.0, 3.0]] * 3))),
    "beta_negative": ("beta", dict(beta=np.array([[1.0, -1.0, 2.0, 3.0]] * 3))),
    "beta_text": ("beta", dict(beta=[["a", "b", "c", "d"]] * 3)),
    "compute_shape": ("compute", dict(compute=np.ones((3, 5)))),
    "compute_transposed": ("compute", dict(compute=np.ones((4, 3)))),
    "compute_nan": ("compute", dict(compute=np.array([[np.nan, 1e-6, 1e-6, 1e-6]] * 3))),
    "compute_zero": ("compute", dict(compute=np.zeros((3, 4)))),
    "alpha_shape": ("alpha", dict(alpha=np.zeros((3, 3)))),
    "alpha_negative": ("alpha", dict(alpha=np.full((3, 4), -1.0))),
    "tau_nan": ("tau", dict(tau=np.full((3, 4), np.nan))),
    "offsets_with_2d": ("offsets", dict(offsets=[0, 4, 8, 12])),
    "offsets_not_zero": ("offsets", dict(**RAGGED, offsets=[1, 3, 6])),
    "offsets_not_increasing": ("offsets", dict(**RAGGED, offsets=[0, 3, 3, 6])),
    "offsets_decreasing": ("offsets", dict(**RAGGED, offsets=[0, 4, 2, 6])),
    "offsets_short_end": ("offsets", dict(**RAGGED, offsets=[0, 3, 5])),
    "offsets_long_end": ("offsets", dict(**RAGGED, offsets=[0, 3, 7])),
    "offsets_one_entry": ("offsets", dict(**RAGGED, offsets=[0])),
    "offsets_float": ("offsets", dict(**RAGGED, offsets=[0.0, 3.0, 6.0])),
    "offsets_2d": ("offsets", dict(**RAGGED, offsets=[[0, 3, 6]])),
    "params_fraction": ("params", dict(params=10.5)),
    "params_zero": ("params", dict(params=0)),
    "params_negative": ("params", dict(params=[10, -1, 10])),
    "params_too_big": ("params", dict(params=2.0**60)),
    "params_nan": ("params", dict(params=np.nan)),
    "params_bool": ("params", dict(params=True)),
    "params_wrong_length": ("params", dict(params=[10, 10])),
    "params_text": ("params", dict(params="10")),
    "bandwidth_zero": ("bandwidth", dict(bandwidth=0.0)),
    "bandwidth_negative": ("bandwidth", dict(bandwidth=[1e7, -1e7, 1e7])),
    "bandwidth_inf": ("bandwidth", dict(bandwidth=np.inf)),
    "bandwidth_wrong_length": ("bandwidth", dict(bandwidth=np.ones(4))),
    "n_threads_zero": ("n_threads", dict(n_threads=0)),
    "n_threads_negative": ("n_threads", dict(n_threads=-2)),
    "n_threads_bool": ("n_threads", dict(n_threads=True)),
    "n_threads_float": ("n_threads", dict(n_threads=2.0)),
    "n_threads_huge": ("n_threads", dict(n_threads=10**6)),
    "scheme_unknown": ("scheme", dict(scheme="optimal")),
    "method_unknown": ("method", dict(method="fast")),
    "method_on_equal": ("method", dict(scheme="equal", method="exact")),
    "method_bisection_on_sequential": ("method", dict(scheme="sequential",
                                                      method="bisection")),
    "method_exact_with_alpha": ("method", dict(method="exact", alpha=np.ones((3, 4)))),
    "tol_zero": ("tol", dict(tol=0.0)),
    "backend_unknown": ("backend", dict(backend="gpu")),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_validation_names_the_argument(case, backend):
    name, changes = BAD_CALLS[case]
    changes = dict(changes)
    if "backend" in changes:
        backend = changes.pop("backend")
    with pytest.raises(ValueError, match=named(name)):
        call(backend=backend, **changes)


def test_exact_refused_per_instance_names_the_instance(backend):
    """method='exact' on a batch where one instance has fixed costs."""
    beta, compute, params, bandwidth = grid_instances(19, M=4, K=3)
    tau = np.zeros_like(beta)
    tau[2, 1] = 0.1
    with pytest.raises(ValueError, match=r"^method:.*\(instance 2\)"):
        paba.allocate_batch(beta, compute, params, bandwidth, tau=tau, method="exact",
                            backend=backend)


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("field", ["beta", "compute"])
def test_instance_out_of_range_names_the_instance(scheme, field, backend):
    """Values the Python layer accepts but whose seconds leave the kernels' range
    ([1e-80, 1e80]): the kernel's message names the argument and the instance."""
    beta = np.full((4, 3), 8.0)
    compute = np.full((4, 3), 1e-6)
    if field == "beta":
        beta[2, 1] = 1e300        # beta * params / bandwidth = 1e306 seconds
    else:
        compute[2, 1] = 1e-100    # compute * params = 1e-94 seconds
    for n_threads in (1, 2):
        with pytest.raises(ValueError, match=rf"^{field}:.*\(instance 2\)"):
            paba.allocate_batch(beta, compute, 10**6, 1.0, scheme=scheme, n_threads=n_threads,
                                backend=backend)


def test_instance_out_of_range_ragged(backend):
    beta, compute, offsets, params, bandwidth = ragged_instances(20, sizes=(2, 3, 4))
    beta[offsets[1] + 1] = 1e300
    with pytest.raises(ValueError, match=r"^beta:.*\(instance 1\)"):
        paba.allocate_batch(beta, compute, params, bandwidth, offsets=offsets,
                            n_threads=2, backend=backend)


# ---------------------------------------------------------------------------------------------
# The binding boundary


def exact_grid():
    """Values exactly representable in float32, so every dtype carries the same numbers."""
    beta = np.array([[8.0, 16.0, 4.0, 32.0, 8.0], [2.0, 64.0, 4.0, 4.0, 0.5],
                     [1.0, 1.0, 1.0, 1.0, 1.0], [128.0, 8.0, 16.0, 2.0, 1.0]])
    compute = np.array([[2.0**-19, 2.0**-20, 3 * 2.0**-21, 2.0**-18, 2.0**-19]] * 4)
    compute[1] *= 4.0
    return beta, compute


def transform(values: np.ndarray, dtype: str, layout: str, readonly: bool) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    if layout == "fortran":
        array = np.asfortranarray(array)
    elif layout == "strided":
        array = np.repeat(array, 2, axis=-1)[..., ::2]
    elif layout == "reversed":
        array = array[::-1].copy()[::-1]
    elif layout == "byteswapped":
        array = array.astype(array.dtype.newbyteorder())
    np.testing.assert_array_equal(array, values)
    if layout in ("fortran", "strided", "reversed") and array.ndim == 2:
        assert not array.flags.c_contiguous
    if readonly:
        array.flags.writeable = False
    return array


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "fortran", "strided", "reversed",
                                    "byteswapped"])
@pytest.mark.parametrize("readonly", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_boundary_grid(dtype, layout, readonly, n_threads, backend):
    beta, compute = exact_grid()
    expected = paba.allocate_batch(beta, compute, 1000, 2.0**23, backend=backend)
    alpha = np.zeros_like(beta)
    alpha[1] = 1024.0
    params = np.array([1000, 10, 1000, 7])
    bandwidth = np.array([2.0**23, 2.0**20, 2.0**23, 2.0**22])
    # The fixed costs take the (slow) reference bisection: native only.
    fixed_backend = "native"
    expected_fixed = paba.allocate_batch(beta, compute, params, bandwidth, alpha=alpha,
                                         backend=fixed_backend)
    args = [transform(v, dtype, layout, readonly) for v in (beta, compute, alpha)]
    got = paba.allocate_batch(args[0], args[1], 1000, 2.0**23, n_threads=n_threads,
                              backend=backend)
    got_fixed = paba.allocate_batch(
        args[0], args[1], transform(params, "int64", "contiguous", readonly),
        transform(bandwidth, dtype, "contiguous", readonly), alpha=args[2],
        n_threads=n_threads, backend=fixed_backend)
    pairs = [(got, expected), (got_fixed, expected_fixed)]
    for a, b in pairs:
        assert a.method == b.method
        for field in FIELDS + ("latency", "relaxed_latency", "iterations"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    # Inputs are never written to.
    np.testing.assert_array_equal(args[0], beta)


@pytest.mark.parametrize("readonly", [False, True])
def test_boundary_ragged_inputs(readonly, backend):
    beta, compute, offsets, params, bandwidth = ragged_instances(21, sizes=(4, 1, 6))
    expected = paba.allocate_batch(beta, compute, params, bandwidth, offsets=offsets,
                                   backend=backend)
    strided_beta = np.repeat(beta, 2)[::2]
    strided_compute = np.repeat(compute, 2)[::2]
    offsets32 = offsets.astype(np.int32)
    for array in (strided_beta, strided_compute, offsets32):
        array.flags.writeable = not readonly
    got = paba.allocate_batch(strided_beta, strided_compute, params.tolist(),
                              tuple(bandwidth), offsets=offsets32, n_threads=2,
                              backend=backend)
    for field in FIELDS + ("latency", "relaxed_latency"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    np.testing.assert_array_equal(got.offsets, offsets)
    assert got.offsets.dtype == np.int64


def test_float32_inputs_equal_their_float64_values():
    rng = np.random.default_rng(22)
    beta = rng.uniform(1.0, 100.0, (5, 8)).astype(np.float32)
    compute = rng.uniform(1e-7, 1e-5, (5, 8)).astype(np.float32)
    a = paba.allocate_batch(beta, compute, 10**6, 1e7)
    b = paba.allocate_batch(beta.astype(np.float64), compute.astype(np.float64), 10**6, 1e7)
    for field in FIELDS + ("latency", "relaxed_latency"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# ---------------------------------------------------------------------------------------------
# General instances: group ids, alpha and tau per instance


def local_groups(rng: np.random.Generator, K: int, max_groups: int = 10) -> np.ndarray:
    """Ids 0..N-1 (N from 1 to min(K, max_groups)) over K workers, every group non-empty, in
    random order."""
    N = int(rng.integers(1, min(K, max_groups) + 1))
    return rng.permutation(np.concatenate((np.arange(N), rng.integers(0, N, K - N))))


def general_instances(seed: int, sizes=(1, 4, 12, 7, 20, 3, 9, 2), *, fixed: bool = True):
    """Ragged instances with group ids (1 to 10 groups each) and, with ``fixed``, alpha and tau;
    instance 1 has one worker per group in order and no fixed costs (the exact method)."""
    beta, compute, offsets, params, bandwidth = ragged_instances(seed, sizes)
    rng = np.random.default_rng(seed + 1000)
    groups = np.concatenate([local_groups(rng, K) for K in sizes])
    groups[offsets[1]:offsets[2]] = np.arange(sizes[1])
    alpha = tau = None
    if fixed:
        alpha = rng.uniform(0.0, 1e5, beta.size) * (rng.random(beta.size) < 0.7)
        tau = rng.uniform(0.0, 0.2, beta.size) * (rng.random(beta.size) < 0.5)
        alpha[offsets[1]:offsets[2]] = tau[offsets[1]:offsets[2]] = 0.0
    return beta, compute, offsets, params, bandwidth, groups, alpha, tau


def general_grid(seed: int, M: int = 6, K: int = 9):
    beta, compute, params, bandwidth = grid_instances(seed, M, K)
    rng = np.random.default_rng(seed + 1000)
    groups = np.stack([local_groups(rng, K) for _ in range(M)])
    alpha = rng.uniform(0.0, 1e5, (M, K)) * (rng.random((M, K)) < 0.7)
    tau = rng.uniform(0.0, 0.2, (M, K)) * (rng.random((M, K)) < 0.5)
    return beta, compute, params, bandwidth, groups, alpha, tau


def systems_of(beta, compute, params, bandwidth, groups, alpha=None, tau=None, offsets=None):
    """One paba.System per instance of a (grid or ragged) batch."""
    beta = np.asarray(beta, dtype=np.float64)
    if offsets is None:
        M, K = beta.shape
        offsets = np.arange(0, (M + 1) * K, K)
    M = len(offsets) - 1
    params, bandwidth = per_instance(params, M), per_instance(bandwidth, M)
    return [paba.System(b, c, params=int(params[i]), bandwidth=float(bandwidth[i]), groups=g,
                        alpha=a, tau=t)
            for i, (b, c, g, a, t) in enumerate(zip(
                split(beta, offsets), split(compute, offsets), split(groups, offsets),
                split(alpha, offsets), split(tau, offsets), strict=True))]


def assert_identical(batch: paba.BatchAllocation, singles) -> None:
    """The batch gives bit for bit what allocate gives one instance at a time."""
    assert len(batch) == len(singles)
    sizes = [s.loads.size for s in singles]
    np.testing.assert_array_equal(batch.group_offsets, np.concatenate(([0], np.cumsum(sizes))))
    assert batch.loads.shape == batch.relaxed_loads.shape == (sum(sizes),)
    for i, single in enumerate(singles):
        item = batch[i]
        for field in FIELDS:
            np.testing.assert_array_equal(getattr(item, field), getattr(single, field),
                                          err_msg=f"{field}, instance {i}")
        for field in ("latency", "relaxed_latency", "iterations", "converged", "method",
                      "scheme", "backend"):
            assert getattr(item, field) == getattr(single, field), (field, i)
    for field in ("loads", "relaxed_loads"):
        np.testing.assert_array_equal(
            getattr(batch, field), np.concatenate([getattr(s, field) for s in singles]))
    np.testing.assert_array_equal(batch.latency, [s.latency for s in singles])


@pytest.mark.parametrize("scheme", paba.SCHEMES)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_general_ragged_batch_equals_one_by_one(scheme, n_threads, backend):
    beta, compute, offsets, params, bandwidth, groups, alpha, tau = general_instances(30)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme, groups=groups,
                                alpha=alpha, tau=tau, offsets=offsets, n_threads=n_threads,
                                backend=backend)
    systems = systems_of(beta, compute, params, bandwidth, groups, alpha, tau, offsets)
    singles = [paba.allocate(s, scheme, backend=backend) for s in systems]
    assert_identical(batch, singles)
    assert batch.bandwidth.shape == batch.worker_latency.shape == beta.shape
    if scheme == "joint":
        assert batch.method[1] == "exact" and set(batch.method[2:]) == {"newton"}


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_general_grid_batch_equals_one_by_one(scheme, backend):
    beta, compute, params, bandwidth, groups, alpha, tau = general_grid(31)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme, groups=groups,
                                alpha=alpha, tau=tau, n_threads=2, backend=backend)
    systems = systems_of(beta, compute, params, bandwidth, groups, alpha, tau)
    assert_identical(batch, [paba.allocate(s, scheme, backend=backend) for s in systems])
    # Per-worker arrays keep the grid's shape; per-group ones are concatenated.
    assert batch.bandwidth.shape == beta.shape
    np.testing.assert_array_equal(batch.offsets, np.arange(0, beta.size + 1, beta.shape[1]))


@pytest.mark.parametrize("method", ["auto", "bisection"])
def test_groups_without_fixed_costs(method, backend):
    beta, compute, offsets, params, bandwidth, groups, _, _ = general_instances(
        32, sizes=(5, 3, 8, 1), fixed=False)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, groups=groups,
                                offsets=offsets, method=method, backend=backend)
    systems = systems_of(beta, compute, params, bandwidth, groups, offsets=offsets)
    assert_identical(batch, [paba.allocate(s, method=method, backend=backend)
                             for s in systems])
    expected = [method] * len(systems)
    if method == "auto":
        expected = ["exact" if s.n_groups == s.n_workers and np.array_equal(
            s.groups, np.arange(s.n_workers)) else "newton" for s in systems]
    assert list(batch.method) == expected


def test_one_worker_per_group_as_ids_equals_no_groups(backend):
    """groups = 0..K-1 in every instance: the same answers as without groups, exact method."""
    beta, compute, params, bandwidth = grid_instances(33)
    plain = paba.allocate_batch(beta, compute, params, bandwidth, backend=backend)
    ids = np.broadcast_to(np.arange(beta.shape[1]), beta.shape)
    grouped = paba.allocate_batch(beta, compute, params, bandwidth, groups=ids,
                                  backend=backend)
    assert grouped.method == plain.method == ("exact",) * beta.shape[0]
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(grouped, field).reshape(-1),
                                      getattr(plain, field).reshape(-1))
    np.testing.assert_array_equal(grouped.group_offsets, plain.offsets)
    for field in ("latency", "relaxed_latency", "iterations"):
        np.testing.assert_array_equal(getattr(grouped, field), getattr(plain, field))


def test_general_threads_give_identical_results():
    rng = np.random.default_rng(34)
    sizes = rng.integers(1, 25, 400)
    beta, compute, offsets, params, bandwidth = ragged_instances(34, tuple(sizes))
    groups = np.concatenate([local_groups(rng, int(K)) for K in sizes])
    tau = rng.uniform(0.0, 0.1, beta.size) * (rng.random(beta.size) < 0.3)
    runs = [paba.allocate_batch(beta, compute, params, bandwidth, groups=groups, tau=tau,
                                offsets=offsets, n_threads=n) for n in (1, 2)]
    for field in FIELDS + ("latency", "relaxed_latency", "iterations", "converged",
                           "group_offsets"):
        np.testing.assert_array_equal(getattr(runs[1], field), getattr(runs[0], field),
                                      err_msg=field)
    assert runs[0].method == runs[1].method


@given(data=st.data())
@settings(max_examples=25)
def test_random_general_batches(data):
    sizes = data.draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    seed = data.draw(st.integers(0, 2**32 - 1))
    scheme = data.draw(st.sampled_from(paba.SCHEMES))
    fixed = data.draw(st.booleans())
    beta, compute, offsets, params, bandwidth, groups, alpha, tau = general_instances(
        seed, (2, 1, *sizes), fixed=fixed)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, scheme=scheme, groups=groups,
                                alpha=alpha, tau=tau, offsets=offsets,
                                n_threads=data.draw(st.integers(1, 3)))
    systems = systems_of(beta, compute, params, bandwidth, groups, alpha, tau, offsets)
    assert_identical(batch, [paba.allocate(s, scheme) for s in systems])


@pytest.mark.parametrize("scheme", paba.SCHEMES)
def test_general_native_agrees_with_reference(scheme):
    beta, compute, offsets, params, bandwidth, groups, alpha, tau = general_instances(
        35, sizes=(6, 3, 10, 1, 8))
    kwargs = dict(scheme=scheme, groups=groups, alpha=alpha, tau=tau, offsets=offsets)
    native = paba.allocate_batch(beta, compute, params, bandwidth, n_threads=2, **kwargs)
    reference = paba.allocate_batch(beta, compute, params, bandwidth, backend="reference",
                                    **kwargs)
    assert native.method == reference.method
    np.testing.assert_array_equal(native.group_offsets, reference.group_offsets)
    for i in range(len(native)):
        assert_allocations_close(native[i], reference[i], rtol=1e-8,
                                 load_slack=1 if scheme == "joint" else 0)


def test_general_indexing_and_read_only():
    beta, compute, offsets, params, bandwidth, groups, alpha, tau = general_instances(36)
    batch = paba.allocate_batch(beta, compute, params, bandwidth, groups=groups, alpha=alpha,
                                tau=tau, offsets=offsets)
    for i in range(len(batch)):
        workers = slice(offsets[i], offsets[i + 1])
        own = slice(batch.group_offsets[i], batch.group_offsets[i + 1])
        item = batch[i - len(batch) if i % 2 else i]
        assert item.loads.size == groups[workers].max() + 1
        np.testing.assert_array_equal(item.loads, batch.loads[own])
        np.testing.assert_array_equal(item.bandwidth, batch.bandwidth[workers])
        assert item.loads.sum() == params[i]
        assert item.bandwidth.sum() <= bandwidth[i] * (1 + 1e-12)
    for field in FIELDS + ("group_offsets", "offsets"):
        array = getattr(batch, field)
        assert not array.flags.writeable, field
        with pytest.raises(ValueError):
            array.reshape(-1)[0] = 0
    assert f"groups={batch.group_offsets[-1]}" in repr(batch)


def test_general_previous_gives_the_same_answer(backend):
    """Warm starts are per group: instances of one worker per group take them (the exact
    method), the others ignore them."""
    beta, compute, offsets, params, bandwidth, groups, _, _ = general_instances(
        37, fixed=False)
    first = paba.allocate_batch(beta, compute, params, bandwidth, groups=groups,
                                offsets=offsets, backend=backend)
    changed = beta * np.random.default_rng(38).uniform(0.7, 1.4, beta.size)
    cold = paba.allocate_batch(changed, compute, params, bandwidth, groups=groups,
                               offsets=offsets, backend=backend)
    for previous in (first, np.array(first.loads)):
        warm = paba.allocate_batch(changed, compute, params, bandwidth, groups=groups,
                                   offsets=offsets, previous=previous, n_threads=2,
                                   backend=backend)
        np.testing.assert_array_equal(warm.loads, cold.loads)
        np.testing.assert_allclose(warm.latency, cold.latency, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match=named("previous")):
        paba.allocate_batch(changed, compute, params, bandwidth, groups=groups,
                            offsets=offsets, previous=np.zeros(beta.size, dtype=np.int64),
                            backend=backend)


# ---------------------------------------------------------------------------------------------
# Validation of group ids


def bad_groups(case: str):
    """Group ids of call()'s (3, 4) grid made bad in one way; instance 2 where per instance."""
    groups = np.array([[0, 1, 1, 2], [0, 0, 0, 0], [1, 0, 2, 2]])
    if case == "negative":
        groups[2, 1] = -1
    elif case == "too_large":
        groups[2, 3] = 4            # beyond the instance's workers
    elif case == "huge":
        groups[2, 3] = 2**63 - 1
    elif case == "int64_min":
        groups[2, 0] = -(2**63)
    elif case == "gap":
        groups[2] = [0, 0, 3, 3]    # groups 1 and 2 empty
    elif case == "missing_zero":
        groups[2] = [1, 1, 2, 2]    # group 0 empty
    return groups


@pytest.mark.parametrize("case", ["negative", "too_large", "huge", "int64_min", "gap",
                                  "missing_zero"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_bad_group_ids_name_groups_and_the_instance(case, n_threads, backend):
    with pytest.raises(ValueError, match=r"^groups:.*\(instance 2\)$"):
        call(groups=bad_groups(case), n_threads=n_threads, backend=backend)


def test_bad_group_ids_ragged(backend):
    beta, compute, offsets, params, bandwidth, groups, alpha, tau = general_instances(39)
    groups[offsets[3]:offsets[4]] += 1   # instance 3 loses its group 0
    with pytest.raises(ValueError, match=r"^groups: a group has no member.*\(instance 3\)$"):
        paba.allocate_batch(beta, compute, params, bandwidth, groups=groups, alpha=alpha,
                            tau=tau, offsets=offsets, n_threads=2, backend=backend)


BAD_GROUP_CALLS = {
    "float": dict(groups=np.zeros((3, 4))),
    "integral_float": dict(groups=np.array([[0.0, 1.0, 1.0, 2.0]] * 3)),
    "bool": dict(groups=np.zeros((3, 4), dtype=bool)),
    "text": dict(groups=[["a", "b", "c", "d"]] * 3),
    "object": dict(groups=np.array([[0, 1, 1, None]] * 3, dtype=object)),
    "ragged_list": dict(groups=[[0, 1], [0, 0, 0]]),
    "transposed": dict(groups=np.zeros((4, 3), dtype=np.int64)),
    "flat_for_grid": dict(groups=np.zeros(12, dtype=np.int64)),
    "one_row": dict(groups=np.zeros(4, dtype=np.int64)),
    "scalar": dict(groups=0),
    "ragged_short": dict(**RAGGED, offsets=[0, 3, 6], groups=np.zeros(5, dtype=np.int64)),
    "ragged_2d": dict(**RAGGED, offsets=[0, 3, 6], groups=np.zeros((1, 6), dtype=np.int64)),
    "uint64_huge": dict(groups=np.full((3, 4), 2**64 - 1, dtype=np.uint64)),
}


@pytest.mark.parametrize("case", BAD_GROUP_CALLS)
def test_malformed_groups_name_groups(case, backend):
    with pytest.raises(ValueError, match=named("groups")):
        call(backend=backend, **BAD_GROUP_CALLS[case])


def test_groups_of_any_integer_dtype_and_layout(backend):
    beta, compute, params, bandwidth, groups, alpha, tau = general_grid(40, M=4, K=6)
    expected = paba.allocate_batch(beta, compute, params, bandwidth, groups=groups,
                                   backend=backend)
    for other in (groups.astype(np.int8), groups.astype(np.uint16), np.asfortranarray(groups),
                  np.repeat(groups, 2, axis=1)[:, ::2], groups.astype(">i4"), groups.tolist()):
        if isinstance(other, np.ndarray):
            other.flags.writeable = False
        got = paba.allocate_batch(beta, compute, params, bandwidth, groups=other,
                                  backend=backend)
        for field in FIELDS + ("latency", "group_offsets"):
            np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    # The caller's array is neither written nor frozen.
    mine = groups.copy()
    paba.allocate_batch(beta, compute, params, bandwidth, groups=mine, backend=backend)
    assert mine.flags.writeable
    np.testing.assert_array_equal(mine, groups)


# ---------------------------------------------------------------------------------------------
# The binding boundary of grouped batches: direct calls into paba._core.allocate_batch


def core_batch_args(**changes):
    """A valid direct call: two instances (3 and 2 workers; 2 and 1 groups)."""
    f, i = (lambda *v: np.array(v, dtype=np.float64)), (lambda *v: np.array(v, dtype=np.int64))
    args = dict(scheme="joint", offsets=i(0, 3, 5), beta=f(8.0, 16.0, 4.0, 32.0, 8.0),
                compute=f(2e-6, 1e-6, 3e-6, 2e-6, 1e-6), alpha=None, tau=None,
                params=f(1000.0, 500.0), bandwidth=f(1e7, 2e7), previous_loads=None,
                group=i(0, 1, 1, 0, 0), group_offsets=i(0, 2, 3))
    args.update(changes)
    return args


def core_batch(**changes):
    from paba import _core
    args = core_batch_args(**changes)
    positional = [args.pop(k) for k in ("scheme", "offsets", "beta", "compute", "alpha", "tau",
                                        "params", "bandwidth")]
    return _core.allocate_batch(*positional, **args)


def _i64(*values):
    return np.array(values, dtype=np.int64)


CORE_BATCH_BAD = {
    "group-without-offsets": ("group_offsets", dict(group_offsets=None)),
    "offsets-without-group": ("group_offsets", dict(group=None)),
    "group-short": ("groups", dict(group=_i64(0, 1, 1, 0))),
    "group-long": ("groups", dict(group=_i64(0, 1, 1, 0, 0, 0))),
    "group-empty": ("groups", dict(group=_i64())),
    "group-minus-one": ("groups", dict(group=_i64(0, -1, 1, 0, 0))),
    "group-huge": ("groups", dict(group=_i64(0, 1, 2**62, 0, 0))),
    "group-int64-min": ("groups", dict(group=_i64(0, 1, 1, -(2**63), 0))),
    "group-above-n-groups": ("groups", dict(group=_i64(0, 1, 1, 0, 1))),
    "group-empty-group": ("groups", dict(group=_i64(0, 0, 0, 0, 0))),
    "group-offsets-short": ("group_offsets", dict(group_offsets=_i64(0, 2))),
    "group-offsets-long": ("group_offsets", dict(group_offsets=_i64(0, 2, 3, 4))),
    "group-offsets-empty": ("group_offsets", dict(group_offsets=_i64())),
    "group-offsets-not-zero": ("group_offsets", dict(group_offsets=_i64(1, 2, 3))),
    "group-offsets-negative-start": ("group_offsets", dict(group_offsets=_i64(-1, 2, 3))),
    "group-offsets-flat": ("group_offsets", dict(group_offsets=_i64(0, 0, 3))),
    "group-offsets-decreasing": ("group_offsets", dict(group_offsets=_i64(0, 4, 3))),
    "group-offsets-above-workers": ("group_offsets", dict(group_offsets=_i64(0, 4, 5))),
    "group-offsets-end-above-workers": ("group_offsets", dict(group_offsets=_i64(0, 2, 6))),
    "group-offsets-end-zero": ("group_offsets", dict(group_offsets=_i64(0, 0, 0))),
    "group-offsets-end-huge": ("group_offsets", dict(group_offsets=_i64(0, 2, 2**62))),
    "group-offsets-middle-huge": ("group_offsets", dict(group_offsets=_i64(0, 2**62, 3))),
    "group-offsets-middle-min": ("group_offsets", dict(group_offsets=_i64(0, -(2**63), 3))),
    "previous-per-worker": ("previous", dict(previous_loads=_i64(1, 1, 1, 1, 1))),
    "previous-short": ("previous", dict(previous_loads=_i64(1, 1))),
    "beta-none": ("beta", dict(beta=None)),
    "compute-none": ("compute", dict(compute=None)),
    "offsets-none": ("offsets", dict(offsets=None)),
    "params-none": ("params", dict(params=None)),
    "offsets-decreasing": ("offsets", dict(offsets=_i64(0, 6, 5))),
    "group-int32": ("Buffer dtype mismatch", dict(group=np.zeros(5, dtype=np.int32))),
    "group-float": ("Buffer dtype mismatch", dict(group=np.zeros(5))),
    "group-strided": ("ndarray is not C-contiguous", dict(group=np.zeros(10, np.int64)[::2])),
    "group-offsets-2d": ("Buffer has wrong number of dimensions",
                         dict(group_offsets=_i64(0, 2, 3).reshape(1, 3))),
}

#: The same calls in a fresh interpreter: a crash in the kernel would kill it with a signal.
CORE_BATCH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_batch import CORE_BATCH_BAD, core_batch
for case, (_, changes) in CORE_BATCH_BAD.items():
    for threads in (1, 2):
        try:
            core_batch(n_threads=threads, **changes)
        except ValueError:
            print(case, "ValueError", flush=True)
        except BaseException as error:
            print(case, "WRONG", type(error).__name__, flush=True)
        else:
            print(case, "RETURNED", flush=True)
print("DONE", flush=True)
"""


def test_core_batch_malformed_calls_do_not_crash_the_interpreter():
    import pathlib
    import subprocess
    import sys
    script = CORE_BATCH_SCRIPT.format(tests=str(pathlib.Path(__file__).parent))
    result = subprocess.run([sys.executable, "-X", "faulthandler", "-c", script],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "DONE", result.stdout
    assert len(lines) == 2 * len(CORE_BATCH_BAD) + 1
    wrong = [line for line in lines[:-1] if not line.endswith(" ValueError")]
    assert not wrong, wrong


@pytest.mark.parametrize("case", CORE_BATCH_BAD)
def test_core_batch_rejects_malformed_calls(case):
    name, changes = CORE_BATCH_BAD[case]
    pattern = rf"^{re.escape(name)}" if " " in name else named(name)
    for threads in (1, 2):
        with pytest.raises(ValueError, match=pattern):
            core_batch(n_threads=threads, **changes)


def test_core_batch_valid_call_matches_allocate():
    result = core_batch(n_threads=2)
    np.testing.assert_array_equal(result["loads"][:2], paba.allocate(paba.System(
        [8.0, 16.0, 4.0], [2e-6, 1e-6, 3e-6], 1000, 1e7, groups=[0, 1, 1])).loads)
    assert result["loads"].shape == (3,) and result["loads"][2] == 500
    assert result["bandwidth"].shape == (5,)


#: A batch asking for more threads than the system starts (their stacks exceed the address
#: space the interpreter is limited to): the threads that start solve every instance.
THREAD_CAP_SCRIPT = """
import resource
import numpy as np
import paba
rng = np.random.default_rng(3)
beta, compute = rng.uniform(1.0, 10.0, (5000, 4)), rng.uniform(1e-6, 1e-5, (5000, 4))
alone = paba.allocate_batch(beta, compute, 10**6, 1e7, n_threads=1)
with open("/proc/self/status") as status:
    used = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) << 10
limit = used + (512 << 20)  # room for a few thread stacks (2 to 8 MiB each), not for 1,023
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
capped = paba.allocate_batch(beta, compute, 10**6, 1e7, n_threads=1024)
assert np.array_equal(capped.loads, alone.loads)
assert np.array_equal(capped.latency, alone.latency)
print("SAME", flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, limits RLIMIT_AS")
def test_more_threads_than_the_system_starts_still_solves_every_instance():
    import subprocess
    result = subprocess.run([sys.executable, "-c", THREAD_CAP_SCRIPT], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr[-2000:])
    assert result.stdout.strip() == "SAME"


def test_the_lowest_failing_instance_is_reported_whatever_the_threads():
    # Instances 0-6 are large (slow) and valid, every later one is refused: on several threads
    # the others reach a refused instance long before the first thread reaches instance 7, and
    # the error must still name instance 7, as a serial loop (the reference backend) does.
    rng = np.random.default_rng(21)
    sizes = np.array([20_000] * 7 + [6] * 393)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    beta, compute = rng.uniform(1, 10, offsets[-1]), rng.uniform(1e-6, 1e-5, offsets[-1])
    tau = np.zeros(offsets[-1])
    tau[offsets[7]:] = 0.1  # the exact method refuses fixed costs
    for backend, runs in (("native", 3), ("reference", 1)):
        for threads in (1, 2, 4) if backend == "native" else (1,):
            for _ in range(runs):
                with pytest.raises(ValueError, match=r"^method:.*\(instance 7\)$"):
                    paba.allocate_batch(beta, compute, 10**6, 1e7, method="exact", tau=tau,
                                        offsets=offsets, n_threads=threads, backend=backend)
