# Batches in paba._core (included by _core.pyx): allocate_batch, many instances solved by the
# kernels' thread pool (batch.cpp) into one block of outputs.

def allocate_batch(str scheme, const int64_t[::1] offsets, const double[::1] beta,
                   const double[::1] compute, const double[::1] alpha, const double[::1] tau,
                   const double[::1] params, const double[::1] bandwidth,
                   const int64_t[::1] previous_loads=None, double tol=DEFAULT_TOL,
                   str method="auto",
                   int n_threads=1, const int64_t[::1] group=None,
                   const int64_t[::1] group_offsets=None):
    """Solve M instances, concatenated (instance i owns the workers offsets[i]:offsets[i + 1]);
    returns a dict of arrays (see paba.hpp: Batch, BatchResult). Without group ids every worker
    is its own group; with them (ids local to each instance), instance i owns the groups
    group_offsets[i]:group_offsets[i + 1] of the per-group outputs and of previous_loads."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    if n_threads < 1:
        raise ValueError("n_threads: must be at least 1")
    cdef Scheme which = _SCHEMES[scheme]
    cdef Options options = _options(tol, method)
    for name, values in (("offsets", offsets), ("beta", beta), ("compute", compute),
                         ("params", params), ("bandwidth", bandwidth)):
        if values is None:
            raise ValueError(f"{name}: needs an array, got None")
    cdef Py_ssize_t M = offsets.shape[0] - 1
    if M < 1:
        raise ValueError("offsets: needs at least two entries (one instance)")
    cdef Py_ssize_t W = beta.shape[0]
    if offsets[M] != W:
        raise ValueError("offsets: the last offset must equal the number of workers (len(beta))")
    for name, values in (("compute", compute), ("alpha", alpha), ("tau", tau),
                         ("groups", group)):
        if values is not None and values.shape[0] != W:
            raise ValueError(f"{name}: must have one entry per worker (the length of beta)")
    if params.shape[0] != M or bandwidth.shape[0] != M:
        raise ValueError("params: params and bandwidth need one entry per instance")
    # G: entries of the per-group arrays. The kernel checks that group_offsets starts at 0 and
    # steps by 1 to K_i per instance before any thread runs; with its last entry in [1, W] here,
    # every write stays inside the outputs allocated below.
    cdef Py_ssize_t G = W
    if (group is None) != (group_offsets is None):
        raise ValueError("group_offsets: must be given with group ids, and only then")
    if group_offsets is not None:
        if group_offsets.shape[0] != M + 1:
            raise ValueError("group_offsets: needs one entry per instance, plus one")
        if not 1 <= group_offsets[M] <= W:
            raise ValueError("group_offsets: the last offset must be in [1, number of workers]")
        G = group_offsets[M]
    if previous_loads is not None and previous_loads.shape[0] != G:
        raise ValueError("previous: its loads must have one entry per group")
    cdef Batch batch
    batch.n_instances = <size_t>M
    batch.offsets = &offsets[0]
    batch.beta = &beta[0]
    batch.compute = &compute[0]
    batch.alpha = _optional(alpha)
    batch.tau = _optional(tau)
    batch.params = &params[0]
    batch.bandwidth = &bandwidth[0]
    batch.previous_loads = NULL
    if previous_loads is not None:
        batch.previous_loads = &previous_loads[0]
    batch.group = NULL
    batch.group_offsets = NULL
    if group is not None:
        batch.group = &group[0]
        batch.group_offsets = &group_offsets[0]

    loads = np.empty(G, dtype=np.int64)
    relaxed_loads = np.empty(G, dtype=np.float64)
    bandwidth_out = np.empty(W, dtype=np.float64)
    worker_latency = np.empty(W, dtype=np.float64)
    latency = np.empty(M, dtype=np.float64)
    relaxed_latency = np.empty(M, dtype=np.float64)
    iterations = np.empty(M, dtype=np.int64)
    status = np.empty(M, dtype=np.int32)
    method_used = np.empty(M, dtype=np.int32)
    cdef int64_t[::1] loads_view = loads
    cdef double[::1] relaxed_view = relaxed_loads
    cdef double[::1] bandwidth_view = bandwidth_out
    cdef double[::1] worker_view = worker_latency
    cdef double[::1] latency_view = latency
    cdef double[::1] relaxed_latency_view = relaxed_latency
    cdef int64_t[::1] iterations_view = iterations
    cdef int32_t[::1] status_view = status
    cdef int32_t[::1] method_view = method_used
    cdef BatchResult r
    r.loads = &loads_view[0]
    r.relaxed_loads = &relaxed_view[0]
    r.bandwidth = &bandwidth_view[0]
    r.worker_latency = &worker_view[0]
    r.latency = &latency_view[0]
    r.relaxed_latency = &relaxed_latency_view[0]
    r.iterations = &iterations_view[0]
    r.status = &status_view[0]
    r.method = &method_view[0]
    # Safe without the GIL: the kernel's threads touch only the buffers above, which the
    # memoryviews keep alive until it returns, and no Python object.
    with nogil:
        c_allocate_batch(batch, which, options, r, n_threads)
    return {
        "loads": loads,
        "relaxed_loads": relaxed_loads,
        "bandwidth": bandwidth_out,
        "worker_latency": worker_latency,
        "latency": latency,
        "relaxed_latency": relaxed_latency,
        "iterations": iterations,
        "status": status,
        "method": method_used,
    }
