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
  const std::int64_t* group = nullptr;  // n_workers ids in [0, n_groups), every group non-empty
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
};

// Solves one instance with one scheme. loads_in (n_groups integers summing to params) is read by
// parameter_aware only, bandwidth_in (n_workers, Hz) by bandwidth_aware only; either may be null
// for the default equal split. tol is the relative tolerance on the latency of the joint scheme.
void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, double tol, Result& result);

// Latency of a given allocation: loads (n_groups, parameters, may be fractional) and bandwidth
// (n_workers, Hz). Writes per-worker latencies and returns their maximum (inf when a worker
// with load has no bandwidth).
double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                double* worker_latency);

}  // namespace paba
