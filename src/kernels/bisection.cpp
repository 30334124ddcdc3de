// The joint scheme by the paper's nested bisection (docs/algorithms.md 3.5): bisection on the
// latency T around the inner level (price_search.cpp), which says at each T whether the pool
// carries the model. Mirrored by python/paba/reference/bisection.py. The Newton method
// (newton.cpp) falls back on it where its own answer cannot be trusted.
#include "general.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace paba {
namespace detail {

// Joint scheme (docs/algorithms.md 3.5): bisection on T between the infinite-bandwidth bound and the
// equal-bandwidth latency; at each T the inner problem says whether the pool suffices.
// Invariant: min_bandwidth(lo) > 1 (or lo is the compute bound), min_bandwidth(hi) <= 1 with
// loads x_best feasible at hi.
RootStats joint(const Instance& in, double L, double tol, double* x_best) {
  RootStats st;
  std::vector<double> x(in.N);
  // Lower bound: unlimited bandwidth, only compute and tau.
  double lo = fixed_rate_loads(in, in.e.data(), in.tau.data(), x.data()).T;
  // Upper bound: the bandwidth-aware scheme with equal bandwidth is feasible.
  std::vector<double> b(in.K, 1.0 / static_cast<double>(in.K)), s(in.K), r(in.K);
  rates(in, b.data(), s.data(), r.data());
  const RootStats upper = fixed_rate_loads(in, s.data(), r.data(), x_best);
  double hi = upper.T;
  st.converged = upper.converged;
  bool fixed = false;
  for (std::size_t k = 0; k < in.K; ++k) fixed = fixed || in.f[k] > 0.0;
  if (fixed) {
    // With fixed communication the inner level chooses the participating groups by a heuristic
    // (docs/algorithms.md 4), so the bracket starts at the best of the allocations the two-step
    // schemes reach: the bandwidth-aware loads (the sequential scheme) and the equal integer split
    // (the parameter-aware scheme), each with its parameter-aware bandwidth.
    std::vector<double> equal(in.N), b_candidate(in.K);
    std::vector<std::int64_t> integer(in.N);
    equal_loads(in.N, L, integer.data());
    for (std::size_t n = 0; n < in.N; ++n) equal[n] = static_cast<double>(integer[n]) / L;
    const double T_sequential = parameter_aware(in, x_best, b_candidate.data()).T;
    if (T_sequential < hi) hi = T_sequential;
    const double T_equal = parameter_aware(in, equal.data(), b_candidate.data()).T;
    if (T_equal < hi) {
      hi = T_equal;
      std::copy(equal.begin(), equal.end(), x_best);
    }
  }
  InnerWork work(in);
  while (hi - lo > tol * hi && st.iterations < kMaxBisection) {
    const double mid = lo + 0.5 * (hi - lo);
    if (!(mid > lo && mid < hi)) break;
    ++st.iterations;
    const InnerResult inner = min_bandwidth(in, mid, x.data(), work);
    if (!inner.converged) st.converged = false;
    if (inner.bandwidth <= 1.0) {
      hi = mid;
      std::copy(x.begin(), x.end(), x_best);
    } else {
      lo = mid;
    }
  }
  if (hi - lo > tol * hi) st.converged = false;
  st.T = hi;
  return st;
}

}  // namespace detail
}  // namespace paba
