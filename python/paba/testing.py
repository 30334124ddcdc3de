"""Test support shared by ``tests/`` and ``bench/``: a named corpus of instances and the helper
that runs a call on both backends and asserts they agree.

The corpus spans what breaks allocation solvers: one worker, identical workers, a hopeless
channel, groups of several members, fixed costs (alpha, tau), fewer parameters than workers, and
dynamic ranges of 1e-6 to 1e6 in beta and compute with models of up to 1e9 parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._allocation import DEFAULT_TOL, Allocation, allocate
from ._scenario import static_cell
from ._system import System

#: Relative tolerance within which the native and reference backends agree on latencies.
BACKEND_RTOL = 1e-9


def _log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(low), math.log(high), size))


def _corpus_builders() -> dict[str, Callable[[], System]]:
    def seeded(seed):
        return np.random.default_rng(seed)

    def random(K, seed, **kw):
        rng = seeded(seed)
        return System(beta=_log_uniform(rng, 1.0, 100.0, K),
                      compute=_log_uniform(rng, 1e-7, 1e-5, K), **kw)

    builders = {
        "one_worker": lambda: System([6.4], [2e-6], params=10**6, bandwidth=1e7),
        "two_workers": lambda: System([6.4, 12.8], [4e-6, 2e-6], params=10**6,
                                      bandwidth=1e7),
        "identical_workers": lambda: System(np.full(8, 10.0), np.full(8, 3e-6), params=10**6,
                                            bandwidth=1e7),
        "hopeless_channel": lambda: System(np.r_[np.full(5, 8.0), 8e6],
                                           np.full(6, 2e-6), params=10**6,
                                           bandwidth=1e7),
        "hopeless_compute": lambda: System(np.full(6, 8.0), np.r_[np.full(5, 2e-6), 2.0],
                                           params=10**6, bandwidth=1e7),
        "communication_bound": lambda: random(12, 1, params=10**7, bandwidth=1e6),
        "compute_bound": lambda: System(_log_uniform(seeded(2), 0.01, 0.1, 12),
                                        _log_uniform(seeded(3), 1e-6, 1e-4, 12),
                                        params=10**6, bandwidth=1e8),
        "default_cell": lambda: static_cell(20),
        "fewer_params_than_workers": lambda: random(10, 4, params=3, bandwidth=1e7),
        "single_parameter": lambda: random(5, 5, params=1, bandwidth=1e7),
        "groups_of_three": lambda: random(12, 6, params=10**6, bandwidth=1e7,
                                          groups=np.repeat(np.arange(4), 3)),
        "uneven_groups": lambda: random(8, 7, params=10**6, bandwidth=1e7,
                                        groups=[0, 1, 1, 2, 2, 2, 2, 2]),
        "one_group": lambda: random(4, 8, params=10**6, bandwidth=1e7, groups=[0, 0, 0, 0]),
        "alpha_tau": lambda: random(10, 9, params=10**6, bandwidth=1e7,
                                    alpha=_log_uniform(seeded(10), 1e3, 1e6, 10),
                                    tau=seeded(11).uniform(0.0, 0.5, 10)),
        "alpha_tau_groups": lambda: random(9, 12, params=10**6, bandwidth=1e7,
                                           groups=[0, 0, 1, 1, 1, 2, 3, 3, 4],
                                           alpha=_log_uniform(seeded(13), 1e3, 1e6, 9),
                                           tau=seeded(14).uniform(0.0, 0.5, 9)),
        "tau_only": lambda: random(10, 15, params=10**6, bandwidth=1e7,
                                   tau=seeded(16).uniform(0.0, 2.0, 10)),
        "wide_dynamic_range": lambda: System(_log_uniform(seeded(17), 1e-6, 1e6, 16),
                                             _log_uniform(seeded(18), 1e-6, 1e6, 16),
                                             params=10**3, bandwidth=1e7),
        "huge_model": lambda: random(20, 19, params=10**9, bandwidth=2e7),
        "many_workers": lambda: static_cell(1000, params=10**8, seed=20),
    }
    return builders


#: Names of the corpus instances, in a stable order.
CORPUS_NAMES: tuple[str, ...] = tuple(_corpus_builders())


def corpus_instance(name: str) -> System:
    """The corpus instance called ``name`` (see :data:`CORPUS_NAMES`)."""
    builders = _corpus_builders()
    if name not in builders:
        raise ValueError(f"name: unknown corpus instance {name!r}; one of {CORPUS_NAMES}")
    return builders[name]()


def corpus() -> dict[str, System]:
    """Every corpus instance, by name."""
    return {name: build() for name, build in _corpus_builders().items()}


def assert_allocations_close(native: Allocation, reference: Allocation,
                             rtol: float = BACKEND_RTOL, load_slack: int = 0) -> None:
    """Assert two allocations of the same instance agree.

    Latencies (relaxed and integer), bandwidths and per-worker latencies must agree within
    ``rtol`` (relative to the largest entry). Integer loads must be equal, or, with
    ``load_slack``, differ by at most that many parameters per group; where they differ, only
    the latencies are compared, the integer one allowing one parameter's time on the smallest
    block that differs.
    """
    differ = native.loads != reference.loads
    assert np.abs(native.loads - reference.loads).max(initial=0) <= load_slack, (
        f"loads differ: {native.loads} != {reference.loads}")
    assert native.loads.sum() == reference.loads.sum()
    a, b = native.relaxed_latency, reference.relaxed_latency
    assert math.isclose(a, b, rel_tol=rtol), f"relaxed_latency: {a!r} != {b!r}"
    fields = ("relaxed_loads",) if differ.any() else (
        "relaxed_loads", "bandwidth", "worker_latency")
    for field in fields:
        a, b = getattr(native, field), getattr(reference, field)
        scale = max(float(np.max(np.abs(b), initial=0.0)), np.finfo(float).tiny)
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=field)
    a, b = native.latency, reference.latency
    slack = 0.0
    if differ.any():
        smallest = np.minimum(native.loads, reference.loads)[differ]
        slack = max(a, b) / max(int(smallest.min()), 1)
    assert abs(a - b) <= rtol * max(a, b) + slack, f"latency: {a!r} != {b!r}"
    # Bisections may take a step more or less where a sum rounds differently; closed forms none.
    assert (native.iterations == 0) == (reference.iterations == 0), (
        f"iterations differ: {native.iterations} != {reference.iterations}")
    assert native.converged == reference.converged


def assert_backends_agree(system: System, scheme: str, rtol: float = BACKEND_RTOL,
                          **kwargs) -> Allocation:
    """Run :func:`paba.allocate` on both backends; assert equal results or equal exceptions.

    The joint scheme stops its bisection within ``tol`` (default 1e-9) of the optimum, and the
    two backends may part ways there (their sums round differently), so for it latencies are
    compared within ``max(rtol, 10 tol)`` and integer loads may differ by one parameter per
    group. Returns the native allocation.
    """
    load_slack = 0
    if scheme == "joint":
        rtol = max(rtol, 10 * kwargs.get("tol", DEFAULT_TOL))
        load_slack = 1
    outcomes: list[Allocation | Exception] = []
    for backend in ("native", "reference"):
        try:
            outcomes.append(allocate(system, scheme, backend=backend, **kwargs))
        except Exception as error:  # compared below: both must raise the same
            outcomes.append(error)
    native, reference = outcomes
    if isinstance(native, Exception) or isinstance(reference, Exception):
        assert type(native) is type(reference), f"native: {native!r}, reference: {reference!r}"
        assert str(native).split(":")[0] == str(reference).split(":")[0]
        raise native if isinstance(native, Exception) else AssertionError(repr(reference))
    assert isinstance(native, Allocation) and isinstance(reference, Allocation)
    assert_allocations_close(native, reference, rtol, load_slack)
    return native
