// The dispatch of every allocation scheme (docs/algorithms.md section 3): checks and normalises
// the instance, picks the method of the joint scheme (the exact method of exact.cpp for the
// basic model, the screen of screen.cpp for 128 groups and more, Newton of newton.cpp, the
// nested bisection of bisection.cpp) and turns its relaxed shares into the Result: integer
// loads (simple.cpp's round_loads), bandwidth in Hz re-balanced for them, latencies; where
// loads are coarse, joint's integer answer against the two-step schemes' (best_integer_loads).
// general.hpp lists where each algorithm lives and the normalised units they share; the twin
// of this file is python/paba/reference/allocation.py.
#include "paba.hpp"
#include "general.hpp"
#include "internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace paba {

double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                double* worker_latency) {
  if (problem.n_workers == 0) return 0.0;
  if (!problem.group && problem.n_groups != problem.n_workers)
    throw std::invalid_argument("groups: without group ids every worker is its own group");
  return detail::latency_of(problem, loads, bandwidth, worker_latency);
}

void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, double tol, Result& out) {
  Options options;
  options.tol = tol;
  allocate(problem, scheme, loads_in, bandwidth_in, options, out);
}

void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, const Options& options, Result& out) {
  thread_local std::vector<std::size_t> index;  // scratch of the rounding, kept for reuse
  detail::allocate_into(problem, scheme, loads_in, bandwidth_in, options, out, index);
  if (index.size() > detail::kKeptScratch) std::vector<std::size_t>().swap(index);
}

namespace detail {
namespace {

// Joint's integer loads against the other schemes' (docs/algorithms.md 3.6). Rounding the
// relaxed optimum hands out parameters at the relaxed bandwidth; where loads are coarse, another
// scheme's integer loads can then finish sooner. The candidates are the parameter-aware and the
// sequential schemes' own answers (allocate_general): the first faster than the joint answer
// (and the other candidate) by more than kCandidateMargin replaces its loads, bandwidth and
// latencies, so the joint answer is never above theirs by more than that, nor above the equal
// and bandwidth-aware schemes' (the same loads with an equal split of the pool). The relaxed
// optimum is left as it is.
void best_integer_loads(const Problem& problem, const Options& options, Result& out,
                        std::vector<std::size_t>& index) {
  const std::size_t K = problem.n_workers, N = problem.n_groups;
  std::vector<std::int64_t> loads(N);
  std::vector<double> relaxed(N), bandwidth(K), latency(K);
  for (const Scheme scheme : {Scheme::parameter_aware, Scheme::sequential}) {
    Result r;
    r.loads = loads.data();
    r.relaxed_loads = relaxed.data();
    r.bandwidth = bandwidth.data();
    r.worker_latency = latency.data();
    allocate_general(problem, scheme, nullptr, nullptr, options, r, index, nullptr);
    if (r.status != status_ok || !(r.latency < out.latency * (1.0 - kCandidateMargin))) continue;
    std::copy(loads.begin(), loads.end(), out.loads);
    std::copy(bandwidth.begin(), bandwidth.end(), out.bandwidth);
    std::copy(latency.begin(), latency.end(), out.worker_latency);
    out.latency = r.latency;
  }
}

}  // namespace
}  // namespace detail

void detail::allocate_into(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
                           const double* bandwidth_in, const Options& options, Result& out,
                           std::vector<std::size_t>& index) {
  const double tol = options.tol;
  if (!(tol > 0.0) || !(tol < 1.0)) throw std::invalid_argument("tol: must be in (0, 1)");
  out.status = status_ok;
  out.iterations = 0;
  out.method = 0;
  if (scheme == Scheme::joint) {
    const bool exact = (options.method == Method::automatic || options.method == Method::exact) &&
                       detail::exact_applies(problem);
    if (options.method == Method::exact && !exact)
      throw std::invalid_argument(
          "method: 'exact' needs one worker per group and alpha = tau = 0 (use 'auto')");
    if (exact) {
      if (options.exact_passes < 1) throw std::invalid_argument("exact_passes: must be at least 1");
      detail::allocate_exact(problem, options.previous_loads, options.exact_passes, out, index);
      out.method = static_cast<int>(Method::exact);
    } else {
      out.method = static_cast<int>(options.method == Method::bisection ? Method::bisection
                                                                         : Method::newton);
      if (!(out.method == static_cast<int>(Method::newton) && options.screen &&
            problem.n_groups >= kScreenMin && screened_newton(problem, options, out, index)))
        allocate_general(problem, scheme, loads_in, bandwidth_in, options, out, index, nullptr);
    }
    // Coarse loads: the joint answer is never above another scheme's integer answer.
    if (out.status != status_infeasible && problem.n_groups <= kCoarseGroups &&
        problem.params < kCoarseLoads * static_cast<double>(problem.n_groups))
      best_integer_loads(problem, options, out, index);
    return;
  }
  allocate_general(problem, scheme, loads_in, bandwidth_in, options, out, index, nullptr);
}

namespace detail {

Instance normalise(const Problem& p) {
  if (p.n_workers == 0) throw std::invalid_argument("beta: needs at least one worker");
  if (p.n_groups == 0 || p.n_groups > p.n_workers)
    throw std::invalid_argument("groups: the number of groups must be in [1, n_workers]");
  if (!p.beta || !p.compute) throw std::invalid_argument("beta: null input");
  if (!p.group && p.n_groups != p.n_workers)
    throw std::invalid_argument("groups: without group ids every worker is its own group");
  check_scalars(p);
  Instance in;
  in.K = p.n_workers;
  in.N = p.n_groups;
  in.a.resize(in.K);
  in.e.resize(in.K);
  in.f.resize(in.K);
  in.tau.resize(in.K);
  in.group.resize(in.K);
  in.offset.assign(in.N + 1, 0);
  const double L = p.params, B = p.bandwidth;
  for (std::size_t k = 0; k < in.K; ++k) {
    const std::int64_t g = p.group ? p.group[k] : static_cast<std::int64_t>(k);
    if (g < 0 || static_cast<std::uint64_t>(g) >= in.N)
      throw std::invalid_argument("groups: group id out of range");
    in.group[k] = static_cast<std::size_t>(g);
    ++in.offset[in.group[k] + 1];
    in.a[k] = p.beta[k] * L / B;
    in.e[k] = p.compute[k] * L;
    in.f[k] = p.alpha ? p.alpha[k] / B : 0.0;
    in.tau[k] = p.tau ? p.tau[k] : 0.0;
    check_seconds(in.a[k], in.e[k]);
    if (!(in.f[k] >= 0.0 && in.f[k] <= kMaxSeconds))
      throw std::invalid_argument("alpha: alpha / bandwidth must lie in [0, 1e80] seconds");
    if (!(in.tau[k] >= 0.0 && in.tau[k] <= kMaxSeconds))
      throw std::invalid_argument("tau: must lie in [0, 1e80] seconds");
  }
  for (std::size_t n = 0; n < in.N; ++n) {
    if (in.offset[n + 1] == 0) throw std::invalid_argument("groups: every group needs a member");
    in.offset[n + 1] += in.offset[n];
  }
  // Stable counting sort of workers by group.
  in.member.resize(in.K);
  std::vector<std::size_t> next(in.offset.begin(), in.offset.end() - 1);
  for (std::size_t k = 0; k < in.K; ++k) in.member[next[in.group[k]]++] = k;
  return in;
}

void allocate_general(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
                      const double* bandwidth_in, const Options& options, Result& out,
                      std::vector<std::size_t>& index, NewtonReport* report) {
  const double tol = options.tol;
  const Instance in = normalise(problem);
  const std::size_t K = in.K, N = in.N;
  const double L = problem.params, B = problem.bandwidth;
  std::vector<double> x(N), b(K), s(K), r(K);
  bool converged = true;
  auto parameter_aware_bandwidth = [&]() {
    converged = parameter_aware(in, x.data(), b.data()).converged && converged;
  };

  // Relaxed loads x (shares), their bandwidth b (shares) and the integer loads.
  switch (scheme) {
    case Scheme::equal:
      for (std::size_t n = 0; n < N; ++n) x[n] = 1.0 / static_cast<double>(N);
      equal_loads(N, L, out.loads);
      break;
    case Scheme::bandwidth_aware: {
      double total = 0.0;
      for (std::size_t k = 0; k < K; ++k) {
        b[k] = bandwidth_in ? bandwidth_in[k] / B : 1.0 / static_cast<double>(K);
        if (!(b[k] >= 0.0) || !std::isfinite(b[k]))
          throw std::invalid_argument("bandwidth: entries must be non-negative and finite");
        total += b[k];
      }
      if (total > 1.0 + 1e-9) throw std::invalid_argument("bandwidth: sums to more than the pool");
      rates(in, b.data(), s.data(), r.data());
      const RootStats st = fixed_rate_loads(in, s.data(), r.data(), x.data());
      if (!std::isfinite(st.T)) {
        out.status = status_infeasible;
        return;
      }
      out.iterations = st.iterations;
      converged = st.converged;
      round_loads(in, x.data(), L, s.data(), r.data(), out.loads, index, out.worker_latency);
      break;
    }
    case Scheme::parameter_aware: {
      std::int64_t sum = 0;
      for (std::size_t n = 0; n < N && loads_in; ++n) {
        if (loads_in[n] < 0) throw std::invalid_argument("loads: entries must be non-negative");
        // Each entry is at most params <= 2^53, so the running sum cannot overflow int64.
        if (static_cast<double>(loads_in[n]) > L)
          throw std::invalid_argument("loads: no entry may exceed params");
        out.loads[n] = loads_in[n];
        sum += loads_in[n];
      }
      if (!loads_in) {
        equal_loads(N, L, out.loads);
        sum = static_cast<std::int64_t>(L);
      }
      if (static_cast<double>(sum) != L) throw std::invalid_argument("loads: must sum to params");
      for (std::size_t n = 0; n < N; ++n) x[n] = static_cast<double>(out.loads[n]) / L;
      parameter_aware_bandwidth();
      break;
    }
    case Scheme::sequential: {
      std::fill(b.begin(), b.end(), 1.0 / static_cast<double>(K));
      rates(in, b.data(), s.data(), r.data());
      const RootStats st = fixed_rate_loads(in, s.data(), r.data(), x.data());
      out.iterations = st.iterations;
      converged = st.converged;
      round_loads(in, x.data(), L, s.data(), r.data(), out.loads, index, out.worker_latency);
      parameter_aware_bandwidth();
      break;
    }
    case Scheme::joint: {
      RootStats st;
      if (out.method == static_cast<int>(Method::bisection)) {
        st = joint(in, L, tol, x.data());
        out.iterations = st.iterations;
        converged = st.converged;
        parameter_aware_bandwidth();
      } else {  // Newton's answer comes with its parameter-aware bandwidth
        bool b_converged = true;
        st = joint_newton(in, L, x.data(), b.data(), &b_converged, report);
        out.iterations = st.iterations;
        if (report && !report->plain) return;
        converged = st.converged && b_converged;
      }
      rates(in, b.data(), s.data(), r.data());
      round_loads(in, x.data(), L, s.data(), r.data(), out.loads, index, out.worker_latency);
      break;
    }
    default:
      throw std::invalid_argument("scheme: unknown scheme");
  }

  // Bandwidth in Hz. A given or equal split is returned exactly as given, not as a round trip
  // through shares.
  for (std::size_t k = 0; k < K; ++k) {
    if (scheme == Scheme::equal || (scheme == Scheme::bandwidth_aware && !bandwidth_in)) {
      out.bandwidth[k] = B / static_cast<double>(K);
    } else if (scheme == Scheme::bandwidth_aware) {
      out.bandwidth[k] = bandwidth_in[k];
    } else {
      out.bandwidth[k] = b[k] * B;
    }
  }
  for (std::size_t n = 0; n < N; ++n) {
    out.relaxed_loads[n] = scheme == Scheme::parameter_aware
                               ? static_cast<double>(out.loads[n]) : x[n] * L;
  }
  // worker_latency serves as scratch here; it is overwritten for the integer loads below.
  out.relaxed_latency = evaluate(problem, out.relaxed_loads, out.bandwidth, out.worker_latency);

  // Schemes that choose bandwidth re-balance it for the integer loads, so that every loaded
  // worker still finishes together.
  if (scheme == Scheme::sequential || scheme == Scheme::joint) {
    for (std::size_t n = 0; n < N; ++n) x[n] = static_cast<double>(out.loads[n]) / L;
    parameter_aware_bandwidth();
    for (std::size_t k = 0; k < K; ++k) out.bandwidth[k] = b[k] * B;
  }
  out.latency = latency_of(problem, out.loads, out.bandwidth, out.worker_latency);
  if (!converged) out.status = status_not_converged;
}

}  // namespace detail
}  // namespace paba
