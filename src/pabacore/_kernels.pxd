# Declarations of the C++ kernels (src/pabacore/paba.hpp) for the private binding module.
from libc.stdint cimport int64_t


cdef extern from "paba.hpp" namespace "paba" nogil:
    cdef enum class Scheme(int):
        equal
        bandwidth_aware
        parameter_aware
        sequential
        joint

    cdef struct Problem:
        size_t n_workers
        size_t n_groups
        const double* beta
        const double* compute
        const double* alpha
        const double* tau
        const int64_t* group
        double params
        double bandwidth

    cdef struct Result:
        int64_t* loads
        double* relaxed_loads
        double* bandwidth
        double* worker_latency
        double latency
        double relaxed_latency
        long iterations
        int status

    void allocate(const Problem& problem, Scheme scheme, const int64_t* loads_in,
                  const double* bandwidth_in, double tol, Result& result) except +
    double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                    double* worker_latency) except +
