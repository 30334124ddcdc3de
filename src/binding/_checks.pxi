# Input checks in paba._core (included by _core.pyx): check_workers, the native check of a
# System's per-worker inputs (check.cpp), and the buffer test it applies to each input; and
# round_up_dense, the exact method's rounding (rounding.cpp) alone, for its tests.

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


def round_up_dense(int64_t[::1] load, const double[::1] speed, int64_t R, double L, double T):
    """The exact method's O(m) rounding (rounding.cpp) on its own, for the tests: hands ``R``
    parameters to the slots with floors ``load`` (changed in place) and seconds per parameter
    ``speed`` by round_to_total's rule, given the relaxed latency ``T`` and model size ``L``.
    Returns False, leaving ``load`` as it was, where its bounds do not hold."""
    if load.shape[0] != speed.shape[0]:
        raise ValueError("speed: must have one entry per slot of load")
    cdef Py_ssize_t n
    cdef int64_t top = (<int64_t>1) << 53
    for n in range(load.shape[0]):
        if load[n] < 0 or load[n] > top:
            raise ValueError("load: floors must lie in [0, 2^53]")
    cdef bint done
    with nogil:
        done = c_round_up_dense(<size_t>load.shape[0], R, L, T, &load[0] if load.shape[0] else NULL,
                                &speed[0] if speed.shape[0] else NULL)
    return bool(done)
