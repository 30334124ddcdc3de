# Storage of paba._core (included by _core.pyx): a System's arrays as the kernels read them
# (SystemArrays), the read-only blocks that hold every result and copy, and the lean path that
# checks and stores the usual System's inputs in one native call (init_basic_system).

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


# The largest params of a System, exact in float64: paba._validation's, read once at import.
cdef long long _MAX_PARAMS = _validation.MAX_PARAMS


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
