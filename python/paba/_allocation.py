"""The public allocation API: ``allocate`` (docs/algorithms.md section 3) and ``evaluate``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from . import _backend
from ._core import DEFAULT_TOL as DEFAULT_TOL  # paba.hpp's Options{}: the one definition

# Re-exported: the rest of the package reads METHODS and SCHEMES here.
from ._core import METHODS as METHODS
from ._core import SCHEMES as SCHEMES
from ._core import STATUS_INFEASIBLE, STATUS_OK
from ._core import allocate_system as _allocate_system
from ._system import System
from ._validation import InfeasibleError, describe, float_array, int_array, readonly, tolerance


@dataclass(frozen=True, eq=False)
class Allocation:
    """The result of :func:`allocate`. Arrays are read-only.

    Attributes
    ----------
    loads : ndarray of int64, shape (N,)
        Parameters of each group's block; they sum exactly to ``system.params``.
    bandwidth : ndarray of float64, shape (K,)
        Bandwidth of each worker in Hz; sums to at most ``system.bandwidth``.
    latency : float
        Iteration latency in seconds of these integer loads and this bandwidth.
    relaxed_latency : float
        Iteration latency in seconds of the continuous optimum before integer rounding.
    relaxed_loads : ndarray of float64, shape (N,)
        The continuous loads before rounding, in parameters.
    worker_latency : ndarray of float64, shape (K,)
        Seconds each worker needs; 0 for workers whose group has no load.
    scheme, backend : str
        Which scheme and which backend produced it.
    iterations : int
        Outer iterations of the scheme's root search (0 for closed forms; Newton passes on the
        price for the exact joint method; outer Newton steps for the newton method, plus the
        bisection's where it ran as well).
    converged : bool
        Whether every root search met its tolerance.
    method : str or None
        How the joint scheme was solved: ``"exact"``, ``"newton"`` or ``"bisection"``; None for
        the others.
    """

    loads: np.ndarray
    bandwidth: np.ndarray
    latency: float
    relaxed_latency: float
    relaxed_loads: np.ndarray
    worker_latency: np.ndarray
    scheme: str
    backend: str
    iterations: int
    converged: bool
    method: str | None = None

    def __repr__(self) -> str:
        active = int(np.count_nonzero(self.worker_latency))
        return (f"Allocation(scheme={self.scheme!r}, latency={self.latency:.6g} s, "
                f"relaxed_latency={self.relaxed_latency:.6g} s, active_workers={active}/"
                f"{self.worker_latency.size}, backend={self.backend!r}, "
                f"iterations={self.iterations}, converged={self.converged}"
                + (f", method={self.method!r})" if self.method else ")"))


#: Allocation's fields, in their order, and those that are arrays: declared once, above. (The
#: binding sets the same names in this order; tests/test_worker_checks.py checks it.)
ALLOCATION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Allocation))
ARRAY_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Allocation) if f.type == "np.ndarray")


class Latency(NamedTuple):
    """Result of :func:`evaluate`: iteration latency and per-worker latencies, in seconds."""

    latency: float
    worker_latency: np.ndarray


def _check_system(system: Any) -> System:
    if not isinstance(system, System):
        raise ValueError(f"system: must be a paba.System, got {type(system).__name__}")
    return system


def _check_loads(system: System, loads: Any, *, integral: bool) -> np.ndarray:
    if integral:
        values = int_array("loads", loads, size=system.n_groups)
    else:
        values = float_array("loads", loads, size=system.n_groups, allow_empty=False)
    if np.any(values < 0):
        raise ValueError("loads: entries must be non-negative")
    if np.any(values > system.params):
        raise ValueError(f"loads: no entry may exceed params ({system.params})")
    total = values.sum()
    if integral and total != system.params:
        raise ValueError(f"loads: must sum to params ({system.params}), got {total}")
    if not integral and abs(total - system.params) > 1e-9 * system.params:
        raise ValueError(f"loads: must sum to params ({system.params}), got {total}")
    return values


def _check_bandwidth(system: System, bandwidth: Any) -> np.ndarray:
    values = float_array("bandwidth", bandwidth, size=system.n_workers, nonnegative=True)
    if values.sum() > system.bandwidth * (1 + 1e-9):
        raise ValueError(
            f"bandwidth: sums to {values.sum():g} Hz, more than the pool ({system.bandwidth:g} Hz)")
    return values


def _check_method(scheme: str, method: str) -> None:
    if type(method) is not str or method != "auto":
        if type(method) is not str or method not in METHODS:
            raise ValueError(f"method: must be one of {METHODS}, got {describe(method)}")
        if scheme != "joint":
            raise ValueError("method: only the 'joint' scheme takes a method")


_INT64 = np.dtype(np.int64)
_INFEASIBLE = ("bandwidth: no group has bandwidth for all of its members, so no group can take "
               "load")


def _check_previous(system: System, scheme: str, previous: Any) -> np.ndarray:
    if scheme != "joint":
        raise ValueError("previous: only the 'joint' scheme takes a warm start")
    if not isinstance(previous, Allocation):
        raise ValueError(f"previous: must be a paba.Allocation, got {type(previous).__name__}")
    loads = previous.loads
    # An Allocation's loads, unless replaced (dataclasses.replace) by something else.
    if not (isinstance(loads, np.ndarray) and loads.dtype == _INT64 and loads.ndim == 1
            and loads.flags.c_contiguous):
        raise ValueError(f"previous: its loads must be a contiguous int64 array (an "
                         f"allocation's), got {type(loads).__name__}"
                         + (f" of {loads.dtype}" if isinstance(loads, np.ndarray) else ""))
    if loads.shape != (system.n_groups,):
        raise ValueError(f"previous: has {loads.size} groups, the system {system.n_groups}")
    return loads


def allocate(system: System, scheme: str = "joint", *, backend: str | None = None,
             tol: float = DEFAULT_TOL, loads: Any = None, bandwidth: Any = None,
             method: str = "auto", previous: Allocation | None = None) -> Allocation:
    """Allocate parameters and bandwidth for one iteration.

    Parameters
    ----------
    system : System
        The instance.
    scheme : str, default "joint"
        ``"equal"`` (L/N parameters and B/K Hz each), ``"bandwidth_aware"`` (parameters for a
        given bandwidth split), ``"parameter_aware"`` (bandwidth for given loads),
        ``"sequential"`` (bandwidth-aware with equal bandwidth, then parameter-aware),
        ``"joint"`` (the optimum). docs/algorithms.md section 3 has the algorithms.
    backend : {"native", "reference"}, optional
        Default: the ``PABA_BACKEND`` environment variable, else ``"native"``.
    tol : float, default 1e-9
        Relative tolerance on the joint scheme's latency when solved by bisection, in
        [1e-15, 0.1]. (The exact and newton methods solve to rounding.)
    loads : array_like of int, shape (N,), optional
        Parameters per group for ``"parameter_aware"`` (default: equal split); must sum to
        ``system.params``.
    bandwidth : array_like, shape (K,), optional
        Hz per worker for ``"bandwidth_aware"`` (default: equal split); must sum to at most
        ``system.bandwidth``.
    method : {"auto", "exact", "newton", "bisection"}, default "auto"
        Joint scheme only. ``"exact"``: the O(K) price search of docs/algorithms.md 3.7, for one
        worker per group without fixed costs (alpha = tau = 0); ``"newton"``: Newton steps on
        the latency around the price search (3.5.1), for any instance; ``"bisection"``: the
        nested bisection of 3.5, for any instance (a cross-check, and the only method that
        reads ``tol``); ``"auto"``: exact whenever it applies, else newton.
    previous : Allocation, optional
        Joint scheme only: an earlier allocation of a system with the same groups (for example
        the previous iteration's), whose set of loaded workers starts the exact method's price
        search. The answer does not depend on it, only the number of passes. The bisection does
        not use it.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        For an unknown scheme, method or backend, a bad ``tol``, ``method="exact"`` where it
        does not apply, or ``loads``/``bandwidth``/``previous`` that do not fit the system or
        are given to a scheme that does not use them.
    InfeasibleError
        When no group can take load (a ``bandwidth`` that starves a member of every group).
    """
    # The usual call (a System, the native backend, no given loads, bandwidth or warm start, the
    # default tol): one native call that returns the Allocation (_core.allocate_system), with the
    # same checks and answers as below, or NotImplemented for what it leaves to them (an
    # unknown scheme or method, a method for another scheme, a backend to resolve).
    if (tol is DEFAULT_TOL and loads is None and bandwidth is None and previous is None
            and type(system) is System):
        allocation: Allocation = _allocate_system(system._kernel, scheme, method, backend,
                                                  Allocation)
        if allocation is not NotImplemented:
            if allocation is None:
                raise InfeasibleError(_INFEASIBLE)
            return allocation
    if type(system) is not System:
        system = _check_system(system)
    if type(scheme) is not str or scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES}, got {describe(scheme)}")
    name = _backend.resolve(backend)
    if type(tol) is not float or tol != DEFAULT_TOL:
        tol = tolerance("tol", tol)
    if type(method) is not str or method != "auto":
        _check_method(scheme, method)
    previous_loads = None if previous is None else _check_previous(system, scheme, previous)
    loads_in = bandwidth_in = None
    if loads is not None:
        if scheme != "parameter_aware":
            raise ValueError("loads: only the 'parameter_aware' scheme takes given loads")
        loads_in = _check_loads(system, loads, integral=True)
    if bandwidth is not None:
        if scheme != "bandwidth_aware":
            raise ValueError("bandwidth: only the 'bandwidth_aware' scheme takes a given "
                             "bandwidth")
        bandwidth_in = _check_bandwidth(system, bandwidth)

    k = system._kernel
    result = _backend.module(name).allocate(
        scheme, k.beta, k.compute, k.alpha, k.tau, k.groups, k.n_groups, k.params, k.bandwidth,
        loads_in, bandwidth_in, tol, method, previous_loads)
    status = result.pop("status")
    if status == STATUS_INFEASIBLE:
        raise InfeasibleError(_INFEASIBLE)
    # The native arrays come back as read-only views already; the reference's are made so here.
    if name != "native":
        for field in ARRAY_FIELDS:
            result[field] = readonly(result[field])
    # The result dict holds the fields the backend knows, by their names, and becomes the
    # instance dict of the Allocation with the others: the same object as the frozen dataclass's
    # __init__ builds, field by field through object.__setattr__, for a fraction of the per-call
    # cost.
    result["scheme"] = scheme
    result["backend"] = name
    result["converged"] = status == STATUS_OK
    allocation = object.__new__(Allocation)
    object.__setattr__(allocation, "__dict__", result)
    return allocation


def evaluate(system: System, loads: Any, bandwidth: Any, *,
             backend: str | None = None) -> Latency:
    """Latency of any allocation.

    Parameters
    ----------
    system : System
    loads : array_like, shape (N,)
        Parameters per group (fractional loads are allowed); non-negative, summing to
        ``system.params``.
    bandwidth : array_like, shape (K,)
        Hz per worker; non-negative, summing to at most ``system.bandwidth``.

    Returns
    -------
    Latency
        ``(latency, worker_latency)`` in seconds: the maximum over workers with load, and each
        worker's time (0 without load, inf with load but no bandwidth).
    """
    system = _check_system(system)
    name = _backend.resolve(backend)
    loads = _check_loads(system, loads, integral=False)
    bandwidth = _check_bandwidth(system, bandwidth)
    k = system._kernel
    latency, worker = _backend.module(name).evaluate(
        k.beta, k.compute, k.alpha, k.tau, k.groups, k.n_groups, loads, bandwidth)
    return Latency(float(latency), readonly(worker))
