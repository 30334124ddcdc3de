# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private bindings of the paba kernels (``paba._core``).

Callers (``paba._allocation``) pass validated, contiguous float64/int64 arrays; this layer checks
only what memory safety needs (sizes), allocates the outputs, and releases the GIL around the
kernels. The functions have the signatures of ``paba.reference.allocation``.
"""
from libc.stdint cimport int64_t

import numpy as np

from _kernels cimport Problem, Result, Scheme
from _kernels cimport allocate as c_allocate, evaluate as c_evaluate

_SCHEMES = {
    "equal": Scheme.equal,
    "bandwidth_aware": Scheme.bandwidth_aware,
    "parameter_aware": Scheme.parameter_aware,
    "sequential": Scheme.sequential,
    "joint": Scheme.joint,
}


cdef Problem _problem(const double[::1] beta, const double[::1] compute, const double[::1] alpha,
                      const double[::1] tau, const int64_t[::1] group, Py_ssize_t n_groups,
                      double params, double bandwidth) except *:
    cdef Py_ssize_t K = beta.shape[0]
    if K == 0:
        raise ValueError("beta: needs at least one worker")
    if compute.shape[0] != K:
        raise ValueError("compute: must have one entry per worker (the length of beta)")
    if alpha.shape[0] != K:
        raise ValueError("alpha: must have one entry per worker (the length of beta)")
    if tau.shape[0] != K:
        raise ValueError("tau: must have one entry per worker (the length of beta)")
    if group.shape[0] != K:
        raise ValueError("groups: must have one entry per worker (the length of beta)")
    if n_groups < 1 or n_groups > K:
        raise ValueError("groups: the number of groups must be in [1, n_workers]")
    cdef Problem p
    p.n_workers = <size_t>K
    p.n_groups = <size_t>n_groups
    p.beta = &beta[0]
    p.compute = &compute[0]
    p.alpha = &alpha[0]
    p.tau = &tau[0]
    p.group = &group[0]
    p.params = params
    p.bandwidth = bandwidth
    return p


def allocate(str scheme, const double[::1] beta, const double[::1] compute,
             const double[::1] alpha, const double[::1] tau, const int64_t[::1] group,
             Py_ssize_t n_groups, double params, double bandwidth, loads_in=None,
             bandwidth_in=None, double tol=1e-9):
    """Solve one instance with one scheme; returns a dict of results (see paba.hpp: Result)."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    cdef Scheme which = _SCHEMES[scheme]
    cdef Problem p = _problem(beta, compute, alpha, tau, group, n_groups, params, bandwidth)
    cdef Py_ssize_t K = beta.shape[0]
    cdef const int64_t[::1] loads_view
    cdef const double[::1] bandwidth_view
    cdef const int64_t* loads_ptr = NULL
    cdef const double* bandwidth_ptr = NULL
    if loads_in is not None:
        loads_view = loads_in
        if loads_view.shape[0] != n_groups:
            raise ValueError("loads: must have one entry per group")
        loads_ptr = &loads_view[0]
    if bandwidth_in is not None:
        bandwidth_view = bandwidth_in
        if bandwidth_view.shape[0] != K:
            raise ValueError("bandwidth: must have one entry per worker")
        bandwidth_ptr = &bandwidth_view[0]

    loads = np.empty(n_groups, dtype=np.int64)
    relaxed_loads = np.empty(n_groups, dtype=np.float64)
    bandwidth_out = np.empty(K, dtype=np.float64)
    worker_latency = np.empty(K, dtype=np.float64)
    cdef int64_t[::1] loads_out_view = loads
    cdef double[::1] relaxed_view = relaxed_loads
    cdef double[::1] bandwidth_out_view = bandwidth_out
    cdef double[::1] latency_view = worker_latency
    cdef Result r
    r.loads = &loads_out_view[0]
    r.relaxed_loads = &relaxed_view[0]
    r.bandwidth = &bandwidth_out_view[0]
    r.worker_latency = &latency_view[0]
    # Safe without the GIL: the kernel touches only the buffers above, which the memoryviews
    # keep alive, and no Python object.
    with nogil:
        c_allocate(p, which, loads_ptr, bandwidth_ptr, tol, r)
    if r.status == 2:
        return {"status": 2}
    return {
        "loads": loads,
        "relaxed_loads": relaxed_loads,
        "bandwidth": bandwidth_out,
        "worker_latency": worker_latency,
        "latency": r.latency,
        "relaxed_latency": r.relaxed_latency,
        "iterations": r.iterations,
        "status": r.status,
    }


def evaluate(const double[::1] beta, const double[::1] compute, const double[::1] alpha,
             const double[::1] tau, const int64_t[::1] group, Py_ssize_t n_groups,
             const double[::1] loads, const double[::1] bandwidth):
    """Iteration latency (seconds) and per-worker latencies of loads and bandwidth (Hz)."""
    cdef Problem p = _problem(beta, compute, alpha, tau, group, n_groups, 1.0, 1.0)
    cdef Py_ssize_t K = beta.shape[0]
    if loads.shape[0] != n_groups:
        raise ValueError("loads: must have one entry per group")
    if bandwidth.shape[0] != K:
        raise ValueError("bandwidth: must have one entry per worker")
    worker_latency = np.empty(K, dtype=np.float64)
    cdef double[::1] latency_view = worker_latency
    cdef double worst
    # Safe without the GIL: reads and writes only the memoryviews' buffers.
    with nogil:
        worst = c_evaluate(p, &loads[0], &bandwidth[0], &latency_view[0])
    return worst, worker_latency
