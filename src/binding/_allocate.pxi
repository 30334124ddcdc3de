# Allocation of one instance in paba._core (included by _core.pyx): the Problem and Options a
# call passes to the kernels, allocate (the signature of paba.reference.allocation.allocate),
# the lean path of a prebuilt System (allocate_system), and evaluate.

cdef Options _options(double tol, str method) except *:
    """The default options (_DEFAULT_OPTIONS) with this tol and method."""
    if method not in _METHODS:
        raise ValueError(f"method: must be one of {tuple(_METHODS)}, got {method!r}")
    cdef Options o = _DEFAULT_OPTIONS
    o.tol = tol
    o.method = _METHODS[method]
    return o


cdef inline const double* _optional(const double[::1] values):
    """The data of an optional per-worker array, or NULL for None (zero in the kernels)."""
    if values is None:
        return NULL
    return &values[0]


cdef Problem _problem(const double[::1] beta, const double[::1] compute, const double[::1] alpha,
                      const double[::1] tau, const int64_t[::1] group, Py_ssize_t n_groups,
                      double params, double bandwidth) except *:
    cdef Py_ssize_t K = beta.shape[0]
    if K == 0:
        raise ValueError("beta: needs at least one worker")
    if compute.shape[0] != K:
        raise ValueError("compute: must have one entry per worker (the length of beta)")
    if alpha is not None and alpha.shape[0] != K:
        raise ValueError("alpha: must have one entry per worker (the length of beta)")
    if tau is not None and tau.shape[0] != K:
        raise ValueError("tau: must have one entry per worker (the length of beta)")
    if group is not None and group.shape[0] != K:
        raise ValueError("groups: must have one entry per worker (the length of beta)")
    if n_groups < 1 or n_groups > K:
        raise ValueError("groups: the number of groups must be in [1, n_workers]")
    if group is None and n_groups != K:
        raise ValueError("groups: without group ids every worker is its own group")
    cdef Problem p
    p.n_workers = <size_t>K
    p.n_groups = <size_t>n_groups
    p.beta = &beta[0]
    p.compute = &compute[0]
    p.alpha = _optional(alpha)
    p.tau = _optional(tau)
    p.group = NULL
    if group is not None:
        p.group = &group[0]
    p.params = params
    p.bandwidth = bandwidth
    return p


_ENVIRONMENT_KEYS = {}


def environment(str name):
    """The process environment's value of ``name`` (None when unset), as ``os.environ`` reads it:
    getenv sees every change made through ``os.environ`` (putenv and unsetenv), without the
    exception ``os.environ.get`` raises and catches for an unset name."""
    cdef bytes key = _ENVIRONMENT_KEYS.get(name)
    if key is None:
        key = _ENVIRONMENT_KEYS[name] = os.fsencode(name)
    cdef const char* value = getenv(key)
    if value is NULL:
        return None
    return os.fsdecode(<bytes>value)


def allocate(str scheme, const double[::1] beta, const double[::1] compute,
             const double[::1] alpha, const double[::1] tau, const int64_t[::1] group,
             Py_ssize_t n_groups, double params, double bandwidth, loads_in=None,
             bandwidth_in=None, double tol=DEFAULT_TOL, str method="auto", previous_loads=None,
             int exact_passes=DEFAULT_EXACT_PASSES, bint screen=DEFAULT_SCREEN):
    """Solve one instance with one scheme; returns a dict of results (see paba.hpp: Result).
    alpha, tau and group may be None (zero; one worker per group). exact_passes (tests only)
    caps the exact method's probes before its sorted scan; screen=False (tests only) makes the
    Newton method solve the whole instance instead of its candidate groups."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    cdef Scheme which = _SCHEMES[scheme]
    cdef Problem p = _problem(beta, compute, alpha, tau, group, n_groups, params, bandwidth)
    cdef Options options = _options(tol, method)
    options.exact_passes = exact_passes
    options.screen = screen
    cdef Py_ssize_t K = beta.shape[0]
    cdef const int64_t[::1] previous_view
    if previous_loads is not None:
        previous_view = previous_loads
        if previous_view.shape[0] != n_groups:
            raise ValueError("previous: its loads must have one entry per group")
        options.previous_loads = &previous_view[0]
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

    result = _solve(p, which, loads_ptr, bandwidth_ptr, options, None, None)
    return {"status": STATUS_INFEASIBLE} if result is None else result


cdef object _solve(const Problem& p, Scheme which, const int64_t* loads_ptr,
                   const double* bandwidth_ptr, const Options& options, str scheme,
                   type result_type):
    """Runs the kernel into fresh read-only outputs. Returns the fields of paba.Allocation the
    kernel knows, by name, in a dict with "status"; with ``scheme``, an instance of
    ``result_type`` (paba.Allocation) with every field of the native backend's result set as an
    attribute instead (converged for status), in the order of its fields; None for an
    infeasible instance (STATUS_INFEASIBLE)."""
    cdef Py_ssize_t K = <Py_ssize_t>p.n_workers
    cdef Py_ssize_t n_groups = <Py_ssize_t>p.n_groups
    # One block holds every output: loads, then relaxed loads, bandwidth and worker latency.
    cdef Py_ssize_t offset = 0
    cdef char* data = NULL
    block = _storage(8 * (2 * n_groups + 2 * K), &data, &offset)
    cdef Result r
    r.loads = <int64_t*>data
    r.relaxed_loads = <double*>(data + 8 * n_groups)
    r.bandwidth = <double*>(data + 16 * n_groups)
    r.worker_latency = <double*>(data + 16 * n_groups + 8 * K)
    # Safe without the GIL: the kernel touches only the block, which nothing else holds yet, and
    # no Python object. A small instance keeps it: its solve takes about as long as releasing and
    # taking back the GIL would.
    if K + n_groups < _NOGIL_FROM:
        c_allocate(p, which, loads_ptr, bandwidth_ptr, options, r)
    else:
        with nogil:
            c_allocate(p, which, loads_ptr, bandwidth_ptr, options, r)
    if r.status == Status.status_infeasible:
        return None
    _seal(block)
    if scheme is not None:
        # Set one by one, in the order of the fields, as attributes of a fresh instance: a
        # class's instances keep them in a table of values beside the keys the class shares
        # (PEP 412), which spares building a dict per result; its __dict__, with every field, is
        # made when something asks for it.
        allocation = (<PyTypeObject*>result_type).tp_new(result_type, <PyObject*>_NO_ARGS,
                                                         NULL)
        PyObject_GenericSetAttr(allocation, "loads",
                                _view(block, cnp.NPY_INT64, n_groups, data))
        PyObject_GenericSetAttr(allocation, "bandwidth",
                                _view(block, cnp.NPY_FLOAT64, K, data + 16 * n_groups))
        PyObject_GenericSetAttr(allocation, "latency", r.latency)
        PyObject_GenericSetAttr(allocation, "relaxed_latency", r.relaxed_latency)
        PyObject_GenericSetAttr(allocation, "relaxed_loads",
                                _view(block, cnp.NPY_FLOAT64, n_groups, data + 8 * n_groups))
        PyObject_GenericSetAttr(allocation, "worker_latency",
                                _view(block, cnp.NPY_FLOAT64, K, data + 16 * n_groups + 8 * K))
        PyObject_GenericSetAttr(allocation, "scheme", scheme)
        PyObject_GenericSetAttr(allocation, "backend", "native")
        PyObject_GenericSetAttr(allocation, "iterations", r.iterations)
        PyObject_GenericSetAttr(allocation, "converged", r.status == Status.status_ok)
        PyObject_GenericSetAttr(allocation, "method", METHOD_NAMES[r.method])
        return allocation
    # In the order of paba.Allocation's fields, whose instance dict this becomes.
    return {
        "loads": _view(block, cnp.NPY_INT64, n_groups, data),
        "bandwidth": _view(block, cnp.NPY_FLOAT64, K, data + 16 * n_groups),
        "latency": r.latency,
        "relaxed_latency": r.relaxed_latency,
        "relaxed_loads": _view(block, cnp.NPY_FLOAT64, n_groups, data + 8 * n_groups),
        "worker_latency": _view(block, cnp.NPY_FLOAT64, K, data + 16 * n_groups + 8 * K),
        "iterations": r.iterations,
        "status": r.status,
        "method": METHOD_NAMES[r.method],
    }


# The arguments of result_type's tp_new (object.__new__ without its Python call).
cdef tuple _NO_ARGS = ()
# The default scheme and method, as the interned strings a caller's literals are.
cdef str _JOINT = "joint"
cdef str _AUTO = "auto"


def allocate_system(SystemArrays kernel, scheme, method, backend, type result_type):
    """``allocate(scheme, *kernel, method=method)`` with the other options at their defaults,
    for ``kernel`` a paba.System's arrays (SystemArrays), as an instance of ``result_type``
    (paba.Allocation) with every field set as an attribute (see _solve); None for an infeasible
    instance. NotImplemented, before any work, when ``scheme`` or ``method`` is not a name the
    kernels know, a method other than "auto" is given to a scheme other than "joint", or
    ``backend`` is neither "native" nor None with the environment variable PABA_BACKEND unset:
    the caller then takes its general path, which words the error or resolves the backend. The
    per-worker arrays of the usual System (no alpha, tau or groups) are read as _direct reads
    them, else as _acquire checks them; any other kernel is read as allocate() reads it."""
    if result_type is None or (<PyTypeObject*>result_type).tp_new is NULL:
        raise TypeError("result_type: must be a class that can be instantiated")
    cdef Scheme which
    cdef Method how
    if scheme is _JOINT and method is _AUTO:  # the defaults, compared by identity (interned)
        which = Scheme.joint
        how = Method.automatic
    else:
        if type(scheme) is not str or type(method) is not str:
            return NotImplemented
        found = _SCHEMES.get(scheme)
        found_method = _METHODS.get(method)
        if found is None or found_method is None or (method != "auto" and scheme != "joint"):
            return NotImplemented
        which = found
        how = found_method
    if backend is None:
        if getenv(b"PABA_BACKEND") is not NULL:
            return NotImplemented
    elif type(backend) is not str or backend != "native":
        return NotImplemented
    if kernel.alpha is None and kernel.tau is None and kernel.groups is None:
        return _solve_basic(kernel, which, how, scheme, result_type)
    return _solve_kernel(kernel.beta, kernel.compute, kernel.alpha, kernel.tau, kernel.groups,
                         kernel.n_groups, kernel.params, kernel.bandwidth, which, method, scheme,
                         result_type)


cdef inline const double* _direct(object value, Py_ssize_t* size):
    """The data of ``value`` when it is a System's own array (a read-only ndarray of native
    float64, 1-D, C-contiguous and aligned, viewing a bytes object, which nothing can resize or
    free while ``value`` lives), with its length in ``size``; else NULL. Reading it so spares
    the buffer protocol's format string."""
    if not cnp.PyArray_CheckExact(value):
        return NULL
    cdef cnp.ndarray array = <cnp.ndarray>value
    cdef PyObject* base = cnp.PyArray_BASE(array)
    if not (cnp.PyArray_TYPE(array) == cnp.NPY_FLOAT64 and cnp.PyArray_ISNOTSWAPPED(array)
            and cnp.PyArray_NDIM(array) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(array)
            and cnp.PyArray_ISALIGNED(array) and not cnp.PyArray_ISWRITEABLE(array)
            and base is not NULL and PyBytes_CheckExact(<object>base)):
        return NULL
    size[0] = cnp.PyArray_DIMS(array)[0]
    return <const double*>cnp.PyArray_DATA(array)


cdef object _solve_kernel(const double[::1] beta, const double[::1] compute,
                          const double[::1] alpha, const double[::1] tau,
                          const int64_t[::1] group, Py_ssize_t n_groups, double params,
                          double bandwidth, Scheme which, str method, str scheme,
                          type result_type):
    """_solve with the default options but ``method``, for any kernel tuple (checked as
    allocate checks it)."""
    cdef Problem p = _problem(beta, compute, alpha, tau, group, n_groups, params, bandwidth)
    cdef Options options = _options(DEFAULT_TOL, method)
    return _solve(p, which, NULL, NULL, options, scheme, result_type)


cdef object _solve_basic(SystemArrays kernel, Scheme which, Method how, str scheme,
                         type result_type):
    """_solve with the default options but the method ``how``, for a kernel tuple without
    alpha, tau and groups."""
    cdef Py_buffer views[2]
    cdef int acquired = 0
    cdef Problem p
    cdef Options options = _DEFAULT_OPTIONS
    options.method = how
    cdef Py_ssize_t n_groups = kernel.n_groups
    cdef double params = kernel.params
    cdef double bandwidth = kernel.bandwidth
    cdef Py_ssize_t K = 0, K_compute = 0
    p.beta = _direct(kernel.beta, &K)
    p.compute = _direct(kernel.compute, &K_compute)
    try:
        if p.beta is NULL or p.compute is NULL:
            _acquire(kernel.beta, "beta", &views[0])
            acquired = 1
            _acquire(kernel.compute, "compute", &views[1])
            acquired = 2
            K = views[0].shape[0]
            K_compute = views[1].shape[0]
            p.beta = <const double*>views[0].buf
            p.compute = <const double*>views[1].buf
        if K == 0:
            raise ValueError("beta: needs at least one worker")
        if K_compute != K:
            raise ValueError("compute: must have one entry per worker (the length of beta)")
        if n_groups != K:
            raise ValueError("groups: without group ids every worker is its own group")
        p.n_workers = <size_t>K
        p.n_groups = <size_t>n_groups
        p.alpha = NULL
        p.tau = NULL
        p.group = NULL
        p.params = params
        p.bandwidth = bandwidth
        return _solve(p, which, NULL, NULL, options, scheme, result_type)
    finally:
        if acquired >= 1:
            PyBuffer_Release(&views[0])
        if acquired == 2:
            PyBuffer_Release(&views[1])


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
