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

from paba import _validation
cimport numpy as cnp
cimport cython

cnp.import_array()

from _kernels cimport Batch, BatchResult, Method, Options, Problem, Result, Scheme, Status
from _kernels cimport WorkerCheck, WorkerFault, WorkerInput, kCandidateMargin, kCoarseGroups
from _kernels cimport allocate as c_allocate, allocate_batch as c_allocate_batch
from _kernels cimport check_workers as c_check_workers, evaluate as c_evaluate
from _kernels cimport round_up_dense as c_round_up_dense

cdef extern from *:
    """
    static paba::Options paba_default_options() { return paba::Options{}; }
    """
    Options paba_default_options()

# The options' defaults are paba.hpp's (Options{}), defined there once: the binding's and the
# Python layers' signatures take them from here.
cdef Options _DEFAULT_OPTIONS = paba_default_options()
#: paba.hpp's Options{}: the joint scheme's tolerance (the bisection's), the exact method's
#: probes before its sorted scan, and whether the Newton method screens.
DEFAULT_TOL = _DEFAULT_OPTIONS.tol
DEFAULT_EXACT_PASSES = _DEFAULT_OPTIONS.exact_passes
DEFAULT_SCREEN = bool(_DEFAULT_OPTIONS.screen)

# One file per concept, in this order: names and status codes, storage, one allocation, batches,
# input checks.
include "_names.pxi"
include "_storage.pxi"
include "_allocate.pxi"
include "_batch.pxi"
include "_checks.pxi"
