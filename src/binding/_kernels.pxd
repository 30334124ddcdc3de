# Declarations of the C++ kernels (src/kernels/paba.hpp) for the private binding module.
from libc.stdint cimport int32_t, int64_t


cdef extern from "paba.hpp" namespace "paba" nogil:
    cdef enum class Scheme(int):
        equal
        bandwidth_aware
        parameter_aware
        sequential
        joint

    cdef enum class Method(int):
        automatic
        exact
        bisection
        newton

    cdef enum Status:
        status_ok
        status_not_converged
        status_infeasible

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
        int method

    cdef struct Options:
        double tol
        Method method
        const int64_t* previous_loads
        int exact_passes
        bint screen

    cdef struct Batch:
        size_t n_instances
        const int64_t* offsets
        const double* beta
        const double* compute
        const double* alpha
        const double* tau
        const double* params
        const double* bandwidth
        const int64_t* previous_loads
        const int64_t* group
        const int64_t* group_offsets

    cdef struct BatchResult:
        int64_t* loads
        double* relaxed_loads
        double* bandwidth
        double* worker_latency
        double* latency
        double* relaxed_latency
        int64_t* iterations
        int32_t* status
        int32_t* method

    cdef enum class WorkerFault(int):
        none
        not_finite
        not_positive
        negative
        out_of_range

    cdef enum class WorkerInput(int):
        beta
        compute
        alpha
        tau

    cdef struct WorkerCheck:
        WorkerFault fault
        WorkerInput input
        size_t worker

    WorkerCheck check_workers(const Problem& workers, double* copy) except +
    void allocate(const Problem& problem, Scheme scheme, const int64_t* loads_in,
                  const double* bandwidth_in, const Options& options, Result& result) except +
    void allocate_batch(const Batch& batch, Scheme scheme, const Options& options,
                        BatchResult& result, int n_threads) except +
    double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                    double* worker_latency) except +


# How the joint scheme's integer loads are checked against the two-step schemes' (general.hpp).
cdef extern from "general.hpp" namespace "paba::detail" nogil:
    const double kCandidateMargin
    const size_t kCoarseGroups


# The exact method's O(m) rounding (rounding.cpp), which paba._core exposes to the tests.
cdef extern from "internal.hpp" namespace "paba::detail" nogil:
    bint round_up_dense(size_t m, int64_t R, double L, double T, int64_t* load,
                        const double* speed) except +
