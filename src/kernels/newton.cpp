// The joint scheme by Newton steps on the latency (docs/algorithms.md 3.5.1): steps on
// 1 / G*(T) around a warm-started price search (price_search.cpp), inside a bracket [lo, hi]
// whose invariant is G*(lo) > 1 >= G*(hi) (hi feasible, its loads kept), started at the better
// two-step allocation; with fixed costs the answer is certified by weak duality on the convex
// envelope of every group's cost (envelope_excludes), else the nested bisection (bisection.cpp)
// runs too and the better answer is kept. Mirrored by python/paba/reference/newton.py.
#include "general.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace paba {
namespace detail {

namespace {

// The two-step schemes' allocations, each with its parameter-aware bandwidth: the
// bandwidth-aware loads of an equal split (the sequential scheme) and the equal integer split
// (the parameter-aware scheme; only with fixed costs). Writes the better one's loads into x and
// returns its latency.
// They start the Newton method (a feasible latency close to the optimum) and are its fixed-cost
// safeguard (docs/algorithms.md 4). A screened instance (lean), whose answer the certificate or
// the optimality conditions vouch for, starts at the bandwidth-aware loads' own latency with the
// equal split (feasible, and a few passes cheaper).
double two_step_start(const Instance& in, double L, bool fixed, double* x, bool lean) {
  std::vector<double> b(in.K, 1.0 / static_cast<double>(in.K)), s(in.K), r(in.K);
  rates(in, b.data(), s.data(), r.data());
  const double T_loads = fixed_rate_loads(in, s.data(), r.data(), x).T;
  if (lean) return T_loads;
  double T = parameter_aware(in, x, b.data()).T;
  if (!fixed) return T;  // a start only: without fixed costs Newton's answer is not above it
  std::vector<double> equal(in.N);
  std::vector<std::int64_t> integer(in.N);
  equal_loads(in.N, L, integer.data());
  for (std::size_t n = 0; n < in.N; ++n) equal[n] = static_cast<double>(integer[n]) / L;
  const double T_equal = parameter_aware(in, equal.data(), b.data()).T;
  if (T_equal < T) {
    T = T_equal;
    std::copy(equal.begin(), equal.end(), x);
  }
  return T;
}

// A first price for the search at T: the load-weighted mean of rho_n(x_n) = G_n'(x_n)^(-1/2)
// over the groups loaded in x, the price at which each would take its load (0 when none can).
double price_guess(const Instance& in, double T, const double* x) {
  double sum = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    if (!(x[n] > 0.0)) continue;
    const double U = compute_limit(in, n, T);
    if (!(x[n] < U)) continue;
    sum += x[n] / std::sqrt(group_sums(in, n, T, U, x[n], U - x[n]).G1);
  }
  return std::isfinite(sum) ? sum : 0.0;
}

// A certificate that no allocation finishes by T (docs/algorithms.md 3.5.1), by weak duality on
// the convex envelope of every group's cost: for any price lambda = sigma^-2, an allocation that
// carries the model by T needs at least
//   D = lambda + sum_n min_x (env_n(x) - lambda x) = sum_n G_n(x_n) + lambda (1 - sum_n x_n)
// of the pool, x_n(sigma) the loads of the price pass (a group at its cut adds 0 at 0 or at its
// threshold). The price taken is the one the search at T finds (the best bound), from sigma.
// True when D exceeds 1 by more than its rounding (the loads limit - rate sigma cancel to eps
// times limit + slack). x, z: N doubles of scratch.
bool envelope_excludes(const Instance& in, double T, InnerWork& work, double sigma, double* x,
                       double* z, double* price_out) {
  prepare(in, T, work);
  double price = sigma;
  const InnerResult inner = price_search(in, T, x, work, sigma, kInf, &price, nullptr);
  // Unlimited bandwidth too little is a certificate of its own, without a price (0): it speaks
  // for the groups of this instance only, so a screen cannot extend it (docs/algorithms.md 3.5.2).
  *price_out = std::isfinite(inner.bandwidth) ? price : 0.0;
  if (!std::isfinite(inner.bandwidth)) return true;  // unlimited bandwidth is too little
  if (!(price > 0.0)) return false;
  loads_at_price(in, T, price, work, x, z);
  const double lambda = 1.0 / (price * price);
  double G = 0.0, load = 0.0, scale = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    if (!(x[n] > 0.0)) continue;
    G += group_bandwidth(in, n, T, x[n], z[n]);
    load += x[n];
    scale += x[n] + z[n];
  }
  const double D = G + lambda * (1.0 - load);
  const double rounding = 16.0 * kEps * (G + lambda * scale + 1.0);
  return D - rounding > 1.0;
}

}  // namespace

// Writes the loads' parameter-aware bandwidth into b (K shares), whose search converged iff
// *b_converged.
RootStats joint_newton(const Instance& in, double L, double* x_best, double* b,
                       bool* b_converged, NewtonReport* report) {
  RootStats st;
  InnerWork work(in);
  // A screened instance certifies its answer whenever the whole instance has fixed costs, so
  // that the certificate covers the groups left out too (docs/algorithms.md 3.5.2).
  const bool certify = work.any_fixed || (report && report->fixed);
  std::vector<double> x(in.N);
  // Start at the better two-step allocation: feasible, and usually within a few percent.
  const double T_start = two_step_start(in, L, work.any_fixed, x_best, report != nullptr);
  std::vector<double> x_start(x_best, x_best + in.N);
  // The start is a feasible latency: it bounds the optimum from above. Where the price search
  // at it finds no participating set that fits the pool (fixed costs), the start is kept.
  double T = T_start;
  double lo = 0.0, hi = T_start, sigma = price_guess(in, T, x_best), step = kInf,
         step_before = kInf, last_price = sigma, last_T = T;
  st.converged = false;
  for (int it = 0; it < kMaxBisection; ++it) {
    ++st.iterations;
    prepare(in, T, work);
    OuterSums sums;
    double price = sigma;
    const InnerResult inner = price_search(in, T, x.data(), work, sigma, kInf, &price, &sums);
    const double G = inner.bandwidth;
    last_price = price;
    last_T = T;
    if (G <= 1.0) {
      hi = T;
      std::copy(x.begin(), x.end(), x_best);
    } else {
      lo = T;
    }
    double next = std::isfinite(G) && sums.Q > 0.0 ? T + G * (G - 1.0) / sums.Q : kInf;
    const bool newton = next > lo && next < hi;
    // G sums K rounded terms, so near the root the step is rounding noise: stop within 64 eps.
    if (std::fabs(next - T) <= 64.0 * kEps * T) {
      std::copy(x.begin(), x.end(), x_best);  // converged: T is the root up to rounding
      st.converged = inner.converged;
      break;
    }
    // Bisect when the step leaves the bracket or is not below half the step before last.
    if (!newton || std::fabs(next - T) > 0.5 * step_before) {
      next = lo + 0.5 * (hi - lo);
    }
    step_before = step;
    step = std::fabs(next - T);
    if (!(hi - lo > 2.0 * kEps * hi) || !(next > lo && next < hi)) {
      st.converged = true;
      break;
    }
    sigma = price;
    if (std::isfinite(G) && sums.slope < 0.0) {
      const double moved = price - sums.drift / sums.slope * (next - T);
      if (moved > 0.0) sigma = moved;
    }
    T = next;
  }
  st.T = hi;
  // The loads' own latency (with their parameter-aware bandwidth) must match T. A load
  // limit - rate sigma of a worker whose compute is negligible beside its communication cancels
  // to eps times its limit, which can be far above the load; where that shows, the loads are
  // not to be trusted, and the nested bisection (whose feasibility test reads slacks only)
  // solves the instance instead.
  RootStats loads = parameter_aware(in, x_best, b);
  if (report) {
    report->T = last_T;
    report->sigma = last_price;
  }
  if (!(loads.T <= hi * (1.0 + kTrustLoads))) {
    if (report) {
      report->plain = false;
      return st;
    }
    const RootStats fallback = joint(in, L, kFallbackTol, x_best);
    st.iterations += fallback.iterations;
    st.converged = fallback.converged;
    st.T = fallback.T;
    loads = parameter_aware(in, x_best, b);
  }
  // With fixed costs the participating set is chosen by a heuristic, so G* can jump and need not
  // fall monotonically: Newton steps may settle on another crossing of G* = 1 than the
  // bisection's midpoints reach (random instances found answers up to 10 times the
  // bisection's). The nested bisection runs too and the better answer is kept, so this method
  // is never above it; without fixed costs G* is monotone and Newton's root is the bisection's.
  const double T_c = loads.T * (1.0 - kCertify);
  double price_c = 0.0;
  if (certify &&
      !envelope_excludes(in, T_c, work, last_price, x.data(), work.z_hi.data(), &price_c)) {
    if (report) {
      report->plain = false;
      return st;
    }
    std::vector<double> x_bisection(in.N), b_bisection(in.K);
    const RootStats bisection = joint(in, L, kFallbackTol, x_bisection.data());
    st.iterations += bisection.iterations;
    const RootStats other = parameter_aware(in, x_bisection.data(), b_bisection.data());
    if (other.T < loads.T) {
      std::copy(x_bisection.begin(), x_bisection.end(), x_best);
      std::copy(b_bisection.begin(), b_bisection.end(), b);
      loads = other;
      st.T = bisection.T;
    }
  }
  // With fixed costs the participating set is a heuristic's choice: keep the start if it is
  // better (its latency is exact for its loads).
  if (report) {
    report->T_c = T_c;
    report->sigma_c = price_c;
  }
  if (work.any_fixed && !(loads.T <= T_start)) {
    if (report) {
      report->plain = false;
      return st;
    }
    std::copy(x_start.begin(), x_start.end(), x_best);
    loads = parameter_aware(in, x_best, b);
  }
  *b_converged = loads.converged;
  return st;
}

}  // namespace detail
}  // namespace paba
