// paba kernels: parameter-and-bandwidth allocation for partitioned edge learning.
//
// Plain C++17, no Python. The public entry points take raw arrays in the units of the paper
// (see docs/algorithms.md section 2) and return results through caller-allocated arrays, so the bindings can
// release the GIL around them.
//
// Symbols (one worker k in group n = g(k)):
//   beta_k   seconds x Hz per parameter (download plus upload: q (1/e_down + 1/e_up))
//   c_k      seconds per parameter of computation ("compute")
//   alpha_k  seconds x Hz of fixed communication per iteration
//   tau_k    seconds of fixed overhead per iteration
//   L_n      parameters of block n, B_k bandwidth of worker k in Hz
//   T_k = L_n (beta_k / B_k + c_k) + alpha_k / B_k + tau_k,   T = max over workers with L_n > 0.
//
// Errors: std::invalid_argument for malformed input (sizes, group ids), std::bad_alloc.
// Non-convergence and infeasibility are reported through Result::status, never thrown.
#pragma once

#include <cstddef>
#include <cstdint>

namespace paba {

enum class Scheme : int {
  equal = 0,
  bandwidth_aware = 1,
  parameter_aware = 2,
  sequential = 3,
  joint = 4,
};

// How the joint scheme is solved: the exact method (docs/algorithms.md 3.7; one worker per group
// and alpha = tau = 0), the nested bisection (3.5; any instance), safeguarded Newton steps on the
// latency (3.5.1; any instance), or automatic (the exact method whenever it applies, else Newton).
enum class Method : int {
  automatic = 0,
  exact = 1,
  bisection = 2,
  newton = 3,
};

enum Status : int {
  status_ok = 0,
  status_not_converged = 1,
  status_infeasible = 2,
};

// A borrowed view of one instance. alpha and tau may be null (all zero).
struct Problem {
  std::size_t n_workers = 0;
  std::size_t n_groups = 0;
  const double* beta = nullptr;
  const double* compute = nullptr;
  const double* alpha = nullptr;
  const double* tau = nullptr;
  const std::int64_t* group = nullptr;  // n_workers ids in [0, n_groups), every group non-empty;
                                         // null: worker k is group k (n_groups == n_workers)
  double params = 0.0;                   // L, a positive integer held in a double (<= 2^53)
  double bandwidth = 0.0;                // B in Hz
};

// Caller-allocated outputs.
struct Result {
  std::int64_t* loads = nullptr;          // n_groups, sums to params
  double* relaxed_loads = nullptr;        // n_groups, continuous optimum before rounding
  double* bandwidth = nullptr;            // n_workers, Hz, sums to at most Problem::bandwidth
  double* worker_latency = nullptr;       // n_workers, seconds (0 for workers without load)
  double latency = 0.0;                   // seconds, of the integer loads
  double relaxed_latency = 0.0;           // seconds, of the relaxed loads
  long iterations = 0;                    // outer iterations of the scheme's root search
  int status = status_ok;
  int method = 0;                         // joint scheme: the Method used; 0 for other schemes
};

struct Options {
  double tol = 1e-9;                      // relative tolerance on the joint latency (bisection)
  Method method = Method::automatic;
  const std::int64_t* previous_loads = nullptr;  // n_groups loads of an earlier allocation: warm
                                                 // start of the exact method (may be null)
  int exact_passes = 12;  // exact method: probes before the sorted scan takes over (>= 1; the
                          // tests lower it to reach the scan)
  bool screen = true;     // Newton method: solve only the candidate groups, then verify the
                          // rest (docs/algorithms.md 3.5.2); false solves the whole instance
};

// Solves one instance with one scheme. loads_in (n_groups integers summing to params) is read by
// parameter_aware only, bandwidth_in (n_workers, Hz) by bandwidth_aware only; either may be null
// for the default equal split. tol is the relative tolerance on the latency of the joint scheme.
void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, double tol, Result& result);
void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, const Options& options, Result& result);

// Latency of a given allocation: loads (n_groups, parameters, may be fractional) and bandwidth
// (n_workers, Hz). Writes per-worker latencies and returns their maximum (inf when a worker
// with load has no bandwidth).
double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                double* worker_latency);

// The checks of paba.System on the per-worker inputs of one instance (check.cpp). A fault names
// the first failing check in the order paba.System reports them: for each input in the order beta,
// compute, alpha, tau, the first worker whose value is NaN or infinite, then the first of the
// wrong sign (beta and compute positive, alpha and tau non-negative); then, for each input in the
// same order, the first worker whose normalised seconds leave their range (beta L / B and
// compute L in [1e-80, 1e80], alpha / B and tau at most 1e80).
enum class WorkerFault : int {
  none = 0,
  not_finite = 1,
  not_positive = 2,
  negative = 3,
  out_of_range = 4,
};

enum class WorkerInput : int {
  beta = 0,
  compute = 1,
  alpha = 2,
  tau = 3,
};

struct WorkerCheck {
  WorkerFault fault = WorkerFault::none;
  WorkerInput input = WorkerInput::beta;  // which input, when there is a fault
  std::size_t worker = 0;                 // the first faulty worker of that check
};

// Checks beta, compute, alpha and tau of workers.n_workers workers (any of them may be null: not
// given; group and n_groups are not read) against params and bandwidth, which are checked as by
// allocate (std::invalid_argument). In the same pass, copies each given input into `copy` (may be
// null), one after another in that order, n_workers values each. Reads each value once and
// divides by nothing per worker.
WorkerCheck check_workers(const Problem& workers, double* copy);

// Many instances, concatenated: instance i owns the workers [offsets[i], offsets[i + 1]) of every
// per-worker array (and of the per-worker outputs). Without group ids every worker is its own
// group and the per-group arrays (loads, relaxed loads, previous loads) are per worker too. With
// group ids, instance i owns the groups [group_offsets[i], group_offsets[i + 1]) of the per-group
// arrays, and its workers' ids are local to it: 0..N_i-1, N_i = group_offsets[i + 1] -
// group_offsets[i], every group non-empty.
struct Batch {
  std::size_t n_instances = 0;
  const std::int64_t* offsets = nullptr;  // n_instances + 1, from 0, strictly increasing
  const double* beta = nullptr;
  const double* compute = nullptr;
  const double* alpha = nullptr;          // may be null (all zero)
  const double* tau = nullptr;            // may be null (all zero)
  const double* params = nullptr;         // n_instances
  const double* bandwidth = nullptr;      // n_instances, Hz
  const std::int64_t* previous_loads = nullptr;  // per group, may be null (warm starts)
  const std::int64_t* group = nullptr;    // per worker, ids local to each instance; null: one
                                          // worker per group
  const std::int64_t* group_offsets = nullptr;  // n_instances + 1 with group (null without), from
                                                // 0, each step in [1, the instance's workers]
};

struct BatchResult {
  std::int64_t* loads = nullptr;          // per group
  double* relaxed_loads = nullptr;        // per group
  double* bandwidth = nullptr;            // per worker, Hz
  double* worker_latency = nullptr;       // per worker, seconds
  double* latency = nullptr;              // n_instances
  double* relaxed_latency = nullptr;      // n_instances
  std::int64_t* iterations = nullptr;     // n_instances
  std::int32_t* status = nullptr;         // n_instances
  std::int32_t* method = nullptr;         // n_instances
};

// Solves every instance of a batch with one scheme (options.previous_loads is ignored: the
// batch's own previous_loads is used), on n_threads std::threads (1 = the calling thread only).
// Malformed input throws std::invalid_argument naming the argument and the instance.
void allocate_batch(const Batch& batch, Scheme scheme, const Options& options,
                    BatchResult& result, int n_threads);

}  // namespace paba
