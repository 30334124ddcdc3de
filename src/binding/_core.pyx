# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Private bindings of the paba kernels (``paba._core``).

Callers (``paba._allocation``) pass validated, contiguous float64/int64 arrays; this layer checks
only what memory safety needs (sizes), allocates the outputs, and releases the GIL around the
kernels (but for the solve of a small instance, see _NOGIL_FROM). The functions have the
signatures of ``paba.reference.allocation``. ``check_workers`` is the native check of a System's
per-worker inputs (check.cpp); it names its faults (WORKER_FAULTS, WORKER_INPUTS), which
``paba._system`` words. ``init_basic_system`` and ``allocate_system`` are the lean path of the
common call, ``allocate(System(beta, compute, L, B))``: the same checks and kernels, without the
Python steps around them.
"""
from cpython.buffer cimport (
    PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.object cimport PyObject_GenericSetAttr, PyTypeObject
from cpython.ref cimport PyObject
from libc.math cimport isfinite
from libc.string cimport strcmp
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport getenv

import os

import numpy as np
cimport numpy as cnp
cimport cython

cnp.import_array()

from _kernels cimport Batch, BatchResult, Method, Options, Problem, Result, Scheme, Status
from _kernels cimport WorkerCheck, WorkerFault, WorkerInput
from _kernels cimport allocate as c_allocate, allocate_batch as c_allocate_batch
from _kernels cimport check_workers as c_check_workers, evaluate as c_evaluate

_SCHEMES = {
    "equal": Scheme.equal,
    "bandwidth_aware": Scheme.bandwidth_aware,
    "parameter_aware": Scheme.parameter_aware,
    "sequential": Scheme.sequential,
    "joint": Scheme.joint,
}

_METHODS = {
    "auto": Method.automatic,
    "exact": Method.exact,
    "bisection": Method.bisection,
    "newton": Method.newton,
}
#: The names the binding takes, in the order of paba.hpp's enums: the Python layers read them
#: here (paba.SCHEMES, paba.METHODS), so each list is written once beside its C++ enum.
SCHEMES = tuple(_SCHEMES)
METHODS = tuple(_METHODS)
#: The method each result reports, by the code of paba.hpp's Method (automatic is never one).
METHOD_NAMES = (None, *METHODS[1:])

#: A result's status (paba.hpp's Status).
STATUS_OK = <int>Status.status_ok
STATUS_NOT_CONVERGED = <int>Status.status_not_converged
STATUS_INFEASIBLE = <int>Status.status_infeasible


@cython.final
cdef class SystemArrays:
    """What the kernels read of a paba.System, by name: the per-worker arrays (read-only
    float64; ``alpha``, ``tau`` None when zero, ``groups`` None for one worker per group), the
    number of groups, the model size (a float) and the bandwidth."""

    cdef readonly object beta, compute, alpha, tau, groups
    cdef readonly Py_ssize_t n_groups
    cdef readonly double params, bandwidth

    def __init__(self, beta, compute, alpha, tau, groups, Py_ssize_t n_groups, double params,
                 double bandwidth):
        self.beta, self.compute, self.alpha, self.tau = beta, compute, alpha, tau
        self.groups, self.n_groups, self.params, self.bandwidth = groups, n_groups, params, bandwidth

    def __repr__(self):
        return (f"SystemArrays(n_workers={len(self.beta)}, n_groups={self.n_groups}, "
                f"params={self.params:g}, bandwidth={self.bandwidth:g})")


# The faults and inputs of check_workers, named once beside their C++ enums (paba.hpp).
WORKER_FAULTS = {
    <int>WorkerFault.not_finite: "not_finite",
    <int>WorkerFault.not_positive: "not_positive",
    <int>WorkerFault.negative: "negative",
    <int>WorkerFault.out_of_range: "out_of_range",
}
WORKER_INPUTS = {
    <int>WorkerInput.beta: "beta",
    <int>WorkerInput.compute: "compute",
    <int>WorkerInput.alpha: "alpha",
    <int>WorkerInput.tau: "tau",
}



# Results of this size or more are stored in NumPy's allocator, which maps such blocks in huge
# pages where the system allows (numpy/_core/src/multiarray/alloc.c): measured at 32 MB, a
# bytes object costs 0.5 ms more in page faults than an array, which costs 0.3 us more to seal.
_LARGE = 1 << 22

# Workers plus groups from which a solve releases the GIL (_solve).
cdef Py_ssize_t _NOGIL_FROM = 4096


cdef object _storage(Py_ssize_t nbytes, char** data, Py_ssize_t* offset):
    """Fresh storage for results that the caller sees only as read-only views (_view, after
    _seal): a bytes object, or an array for large results; written through ``data`` (8-byte
    aligned, ``offset`` bytes into the block) before any other code holds it. Such views are
    read-only from the start and cannot be made writeable (their base is immutable or sealed),
    and one block serves every output of a call."""
    cdef object block
    cdef Py_buffer view
    cdef char* start
    if nbytes + 7 < _LARGE:
        block = PyBytes_FromStringAndSize(NULL, nbytes + 7)
        start = PyBytes_AS_STRING(block)
    else:
        block = np.empty(nbytes + 7, dtype=np.uint8)
        PyObject_GetBuffer(block, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
        start = <char*>view.buf
        PyBuffer_Release(&view)  # the block keeps its data
    offset[0] = (-<Py_ssize_t>(<size_t>start)) & 7
    data[0] = start + offset[0]
    return block


cdef inline void _seal(object block) except *:
    """Makes a block from _storage read-only once it is written (bytes are already)."""
    if type(block) is not bytes:
        block.flags.writeable = False


cdef inline object _view(object block, int typenum, Py_ssize_t n, char* data):
    """A read-only 1-D array of ``n`` items (NumPy type ``typenum``) at ``data``, inside a block
    from _storage, which it keeps alive as its base: what np.frombuffer gives, for a third of
    its time. Since the block exposes no writeable buffer (bytes, or a sealed array), the view
    cannot be made writeable."""
    cdef cnp.npy_intp size = n
    cdef cnp.ndarray array = cnp.PyArray_SimpleNewFromData(1, &size, typenum, data)
    cnp.PyArray_CLEARFLAGS(array, cnp.NPY_ARRAY_WRITEABLE)
    cnp.set_array_base(array, block)
    return array


cdef Options _options(double tol, str method, int exact_passes=12, bint screen=True) except *:
    if method not in _METHODS:
        raise ValueError(f"method: must be one of {tuple(_METHODS)}, got {method!r}")
    cdef Options o
    o.tol = tol
    o.method = _METHODS[method]
    o.previous_loads = NULL
    o.exact_passes = exact_passes
    o.screen = screen
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
             bandwidth_in=None, double tol=1e-9, str method="auto", previous_loads=None,
             int exact_passes=12, bint screen=True):
    """Solve one instance with one scheme; returns a dict of results (see paba.hpp: Result).
    alpha, tau and group may be None (zero; one worker per group). exact_passes (tests only)
    caps the exact method's probes before its sorted scan; screen=False (tests only) makes the
    Newton method solve the whole instance instead of its candidate groups."""
    if scheme not in _SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}")
    cdef Scheme which = _SCHEMES[scheme]
    cdef Problem p = _problem(beta, compute, alpha, tau, group, n_groups, params, bandwidth)
    cdef Options options = _options(tol, method, exact_passes, screen)
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
    cdef Options options = _options(1e-9, method)
    return _solve(p, which, NULL, NULL, options, scheme, result_type)


cdef object _solve_basic(SystemArrays kernel, Scheme which, Method how, str scheme,
                         type result_type):
    """_solve with the default options but the method ``how``, for a kernel tuple without
    alpha, tau and groups."""
    cdef Py_buffer views[2]
    cdef int acquired = 0
    cdef Problem p
    cdef Options options
    options.tol = 1e-9
    options.method = how
    options.previous_loads = NULL
    options.exact_passes = 12
    options.screen = True
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


def allocate_batch(str scheme, const int64_t[::1] offsets, const double[::1] beta,
                   const double[::1] compute, const double[::1] alpha, const double[::1] tau,
                   const double[::1] params, const double[::1] bandwidth,
                   const int64_t[::1] previous_loads=None, double tol=1e-9, str method="auto",
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


cdef int _acquire(object values, str name, Py_buffer* view) except -1:
    """``values`` as a 1-D, C-contiguous, 8-byte aligned buffer of native doubles, into ``view``
    (the caller releases it); ValueError naming the input otherwise. A typed memoryview would
    check the same, for about twice the time of the buffer itself."""
    try:
        PyObject_GetBuffer(values, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except Exception as error:
        raise ValueError(f"{name}: must be a contiguous 1-D float64 array ({error})") from None
    if (view.ndim != 1 or view.itemsize != 8 or view.format is NULL
            or strcmp(view.format, b"d") != 0 or (<size_t>view.buf) % 8 != 0):
        PyBuffer_Release(view)
        raise ValueError(f"{name}: must be a contiguous 1-D float64 array")
    return 0


def check_workers(beta, compute, alpha, tau, double params, double bandwidth, bint copy=False):
    """Checks the per-worker inputs of a System against params and bandwidth in one pass
    (check.cpp), copying them while it reads them when ``copy`` is set. Each input is None (not
    given) or a 1-D, C-contiguous, aligned array of native float64 (ValueError otherwise), all of
    the same length. Returns ``(fault, copies)``: ``fault`` is None when every value passes, else
    ``(fault, input, worker)``, the first failing check, named as in WORKER_FAULTS and
    WORKER_INPUTS, and its first worker; ``copies``, with ``copy`` and no fault, the read-only
    float64 copies of the given inputs in that order, else None."""
    cdef Py_buffer views[4]
    cdef const double* data[4]
    cdef Py_ssize_t K = -1
    cdef Py_ssize_t given = 0
    cdef int i
    cdef int acquired = 0
    cdef WorkerCheck found
    cdef Problem p
    cdef Py_ssize_t offset = 0
    cdef object block = None
    cdef char* copies = NULL
    inputs = (beta, compute, alpha, tau)
    try:
        for i in range(4):
            data[i] = NULL
            if inputs[i] is None:
                continue
            _acquire(inputs[i], WORKER_INPUTS[i], &views[i])
            acquired |= 1 << i
            if K >= 0 and views[i].shape[0] != K:
                raise ValueError(f"{WORKER_INPUTS[i]}: must have one entry per worker (as "
                                 f"many as the inputs before it)")
            K = views[i].shape[0]
            data[i] = <const double*>views[i].buf
            given += 1
        if given == 0:
            K = 0
        if copy:
            block = _storage(8 * given * K, &copies, &offset)
        p.n_workers = <size_t>K
        p.n_groups = <size_t>K
        p.beta = data[0]
        p.compute = data[1]
        p.alpha = data[2]
        p.tau = data[3]
        p.group = NULL
        p.params = params
        p.bandwidth = bandwidth
        # Safe without the GIL: reads the acquired buffers and writes the block, which nothing
        # else holds yet, within their sizes.
        with nogil:
            found = c_check_workers(p, <double*>copies)
    finally:
        for i in range(4):
            if acquired & (1 << i):
                PyBuffer_Release(&views[i])
    if found.fault != WorkerFault.none:
        return (WORKER_FAULTS[<int>found.fault], WORKER_INPUTS[<int>found.input],
                found.worker), None
    if not copy:
        return None, None
    _seal(block)
    if given == 2:  # the usual System: beta and compute
        return None, (_view(block, cnp.NPY_FLOAT64, K, copies),
                      _view(block, cnp.NPY_FLOAT64, K, copies + 8 * K))
    return None, tuple([_view(block, cnp.NPY_FLOAT64, K, copies + 8 * K * i)
                        for i in range(given)])


# The largest params of a System (paba._validation.MAX_PARAMS): exact in float64.
cdef long long _MAX_PARAMS = 9007199254740992


cdef inline bint _plain_vector(object value):
    """Whether ``value`` is an ndarray (not a subclass) of native float64, 1-D, C-contiguous,
    aligned and not empty: what the native check reads as it is."""
    if not cnp.PyArray_CheckExact(value):
        return False
    cdef cnp.ndarray array = <cnp.ndarray>value
    return (cnp.PyArray_TYPE(array) == cnp.NPY_FLOAT64 and cnp.PyArray_ISNOTSWAPPED(array)
            and cnp.PyArray_NDIM(array) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(array)
            and cnp.PyArray_ISALIGNED(array) and cnp.PyArray_DIMS(array)[0] > 0)


def init_basic_system(system, beta, compute, params, bandwidth):
    """The lean path of ``paba.System(beta, compute, params, bandwidth)`` (no groups, alpha or
    tau): when params is an int in [1, 2**53], bandwidth a positive finite float, beta and
    compute ndarrays of native float64 (1-D, C-contiguous, aligned, of one non-zero length)
    and every check of check_workers passes, sets the System's slots ``_params`` (params) and
    ``_kernel`` (a SystemArrays of the read-only copies, as System.__init__ sets it) and
    returns True. Otherwise
    it sets nothing and returns False, and System.__init__ checks the inputs in order, to report
    the first fault as it comes."""
    cdef long long whole
    cdef int overflow = 0
    cdef double band
    if not PyLong_CheckExact(params) or not PyFloat_CheckExact(bandwidth):
        return False
    whole = PyLong_AsLongLongAndOverflow(params, &overflow)
    band = PyFloat_AS_DOUBLE(bandwidth)
    if overflow or not 1 <= whole <= _MAX_PARAMS or not (band > 0.0 and isfinite(band)):
        return False
    if not _plain_vector(beta) or not _plain_vector(compute):
        return False
    cdef Py_ssize_t K = cnp.PyArray_DIMS(<cnp.ndarray>beta)[0]
    if cnp.PyArray_DIMS(<cnp.ndarray>compute)[0] != K:
        return False
    cdef Problem p
    p.n_workers = <size_t>K
    p.n_groups = <size_t>K
    p.beta = <const double*>cnp.PyArray_DATA(<cnp.ndarray>beta)
    p.compute = <const double*>cnp.PyArray_DATA(<cnp.ndarray>compute)
    p.alpha = NULL
    p.tau = NULL
    p.group = NULL
    p.params = <double>whole
    p.bandwidth = band
    cdef Py_ssize_t offset = 0
    cdef char* copies = NULL
    block = _storage(16 * K, &copies, &offset)
    # With the GIL held: no buffer of the arrays is exported (which would keep them from being
    # resized), so no other thread may run while the check reads them.
    cdef WorkerCheck found = c_check_workers(p, <double*>copies)
    if found.fault != WorkerFault.none:
        return False
    _seal(block)
    cdef SystemArrays kernel = SystemArrays.__new__(SystemArrays)
    kernel.beta = _view(block, cnp.NPY_FLOAT64, K, copies)
    kernel.compute = _view(block, cnp.NPY_FLOAT64, K, copies + 8 * K)
    kernel.n_groups, kernel.params, kernel.bandwidth = K, p.params, band
    PyObject_GenericSetAttr(system, "_params", params)
    PyObject_GenericSetAttr(system, "_kernel", kernel)
    return True
