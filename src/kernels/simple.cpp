// The two-step building blocks of the general problem (docs/algorithms.md 3.2, 3.3, 3.6), in the
// normalised units of general.hpp; mirrored line for line by python/paba/reference/simple.py.
//   parameter_aware    loads fixed: all workers finish together at the root T of
//                      sum_k (f_k + a_k x_n) / (T - tau_k - e_k x_n) = 1 (monotone Newton steps
//                      on 1 / S on the slack T - max_k (tau_k + e_k x_n)).
//   fixed_rate_loads   each worker k costs s_k seconds per unit load plus r_k fixed seconds;
//                      group loads x_n(T) = min_k [(T - r_k) / s_k]^+ and sum_n x_n(T) = 1
//                      (closed form when r = 0, else bracketed Newton steps on the piecewise
//                      linear sum; invariant: sum x(lo) < 1 <= sum x(hi)). Gives the
//                      bandwidth-aware scheme (s = a/b + e, r = f/b + tau) and the
//                      infinite-bandwidth bound (s = e, r = tau).
//   round_loads        integer loads from floors by round_to_total (internal.hpp): the
//                      remaining parameters one at a time to the group that finishes first.
#include "general.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace paba {
namespace detail {

// ---------------------------------------------------------------------------------------------
// Parameter-aware bandwidth allocation (docs/algorithms.md 3.3): every loaded worker finishes at
// T = dmax + z, z the root of sum_k num_k / (z + gap_k) = 1 with num_k = f_k + a_k x_n,
// d_k = tau_k + e_k x_n, gap_k = dmax - d_k (solve_slack_with in internal.hpp). Writes the
// shares b.
RootStats parameter_aware(const Instance& in, const double* x, double* b) {
  // The loaded workers' terms, gathered in the order of k into dense arrays (kept per thread):
  // every step of the root search reads them all, four at a time where the CPU allows
  // (slack_sums), summed in four lanes in the order of k: the same bits on every path.
  thread_local std::vector<double> dense;
  std::size_t m = 0;
  for (std::size_t k = 0; k < in.K; ++k) m += x[in.group[k]] > 0.0 ? 1 : 0;
  if (dense.size() < 2 * m) dense.resize(2 * m);
  double* num = dense.data();
  double* gap = num + m;
  double dmax = -kInf, numsum = 0.0;
  for (std::size_t k = 0, i = 0; k < in.K; ++k) {
    const double xn = x[in.group[k]];
    if (xn > 0.0) {
      num[i] = in.f[k] + in.a[k] * xn;
      gap[i] = in.tau[k] + in.e[k] * xn;  // d_k for now
      dmax = std::max(dmax, gap[i]);
      numsum += num[i];
      ++i;
    }
  }
  double gapmax = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    gap[i] = dmax - gap[i];
    gapmax = std::max(gapmax, gap[i]);
  }
  RootStats st = solve_slack_with(
      [&](double z, double* slope) { return slack_sums(num, gap, m, z, slope); }, numsum,
      gapmax);
  const double z = st.T;
  double total = 0.0;
  for (std::size_t k = 0, i = 0; k < in.K; ++k) {
    if (x[in.group[k]] > 0.0) {
      b[k] = num[i] / (z + gap[i]);
      ++i;
    } else {
      b[k] = 0.0;
    }
    total += b[k];
  }
  // Keep the pool's budget strict under rounding: a margin of 1e-12 costs 1e-12 of latency.
  if (total > 1.0 - kBudgetMargin) {
    const double scale = (1.0 - kBudgetMargin) / total;
    for (std::size_t k = 0; k < in.K; ++k) b[k] *= scale;
  }
  if (dense.size() > kKeptScratch) std::vector<double>().swap(dense);
  st.T = dmax + z;
  return st;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Loads at fixed per-worker rates (docs/algorithms.md 3.2): x_n(T) = min over members [(T - r_k) / s_k]^+,
// s_k = inf excludes a worker's group. Solves sum_n x_n(T) = 1; writes x.
// Group n's load at T and its slope dx/dT (1 / s of the binding member; 0 without load).
double group_load(const Instance& in, std::size_t n, const double* s, const double* r, double T,
                  double* slope = nullptr) {
  double x = kInf, rate = 0.0;
  for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
    const std::size_t k = in.member[i];
    const double v = (T - r[k]) / s[k];
    if (v < x) {
      x = v;
      rate = 1.0 / s[k];
    }
  }
  if (slope) *slope = x > 0.0 ? rate : 0.0;
  return x > 0.0 ? x : 0.0;
}

}  // namespace

RootStats fixed_rate_loads(const Instance& in, const double* s, const double* r, double* x) {
  RootStats st;
  bool fixed_terms = false;
  for (std::size_t k = 0; k < in.K; ++k) fixed_terms = fixed_terms || r[k] != 0.0;
  if (!fixed_terms) {
    // Closed form: x_n = T / S_n with S_n the slowest member, T = 1 / sum_n 1 / S_n.
    double inverse_sum = 0.0;
    for (std::size_t n = 0; n < in.N; ++n) {
      double S = 0.0;
      for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) S = std::max(S, s[in.member[i]]);
      x[n] = S;
      inverse_sum += 1.0 / S;
    }
    if (!(inverse_sum > 0.0)) {
      st.converged = false;
      st.T = kInf;
      return st;
    }
    st.T = 1.0 / inverse_sum;
    for (std::size_t n = 0; n < in.N; ++n) x[n] = st.T / x[n];
    return st;
  }
  // Bisection on T. Invariant: sum x(lo) < 1 <= sum x(hi).
  double lo = kInf, hi = kInf;
  for (std::size_t n = 0; n < in.N; ++n) {
    double R = -kInf, S = 0.0;
    for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
      const std::size_t k = in.member[i];
      R = std::max(R, r[k]);
      S = std::max(S, s[k]);
    }
    lo = std::min(lo, R);         // every group is empty at T = min_n R_n
    hi = std::min(hi, R + S);     // group n alone carries the model at R_n + S_n
  }
  if (!std::isfinite(hi)) {
    st.converged = false;
    st.T = kInf;
    return st;
  }
  // sum_n x_n(T) is piecewise linear and nondecreasing: Newton steps, each exact on the piece it
  // starts from, safeguarded by the bracket (bisection when a step leaves it or stalls).
  const bool single = in.N == in.K;  // one worker per group: a loop without branches
  std::vector<double> rate;          // 1 / s of each worker, by group, when single
  if (single) {
    rate.resize(in.N);
    for (std::size_t n = 0; n < in.N; ++n) rate[n] = 1.0 / s[in.member[n]];
  }
  auto total = [&](double T, double* slope) {
    double sum = 0.0, ds = 0.0;
    if (single) {
      for (std::size_t n = 0; n < in.N; ++n) {
        const std::size_t k = in.member[n];
        const double v = (T - r[k]) / s[k];
        sum += v > 0.0 ? v : 0.0;
        ds += v > 0.0 ? rate[n] : 0.0;
      }
    } else {
      for (std::size_t n = 0; n < in.N; ++n) {
        double dn = 0.0;
        sum += group_load(in, n, s, r, T, &dn);
        ds += dn;
      }
    }
    *slope = ds;
    return sum;
  };
  double T = hi, step = kInf, step_before = kInf;
  while (hi - lo > 2.0 * kEps * hi && st.iterations < kMaxBisection) {
    ++st.iterations;
    double slope = 0.0;
    const double value = total(T, &slope) - 1.0;
    if (value >= 0.0) hi = T; else lo = T;
    if (value == 0.0) break;
    double next = slope > 0.0 ? T - value / slope : kInf;
    // Bisect when the step leaves the bracket or is not below half the step before last.
    if (!(next > lo && next < hi) || std::fabs(next - T) > 0.5 * step_before)
      next = lo + 0.5 * (hi - lo);
    step_before = step;
    step = std::fabs(next - T);
    if (!(next > lo && next < hi)) break;
    T = next;
  }
  st.T = hi;
  double sum = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    x[n] = group_load(in, n, s, r, hi);
    sum += x[n];
  }
  for (std::size_t n = 0; n < in.N; ++n) x[n] /= sum;
  return st;
}

// Per-worker rates of a fixed bandwidth split: s_k = a_k / b_k + e_k, r_k = f_k / b_k + tau_k.
void rates(const Instance& in, const double* b, double* s, double* r) {
  for (std::size_t k = 0; k < in.K; ++k) {
    if (b[k] > 0.0) {
      s[k] = in.a[k] / b[k] + in.e[k];
      r[k] = in.f[k] / b[k] + in.tau[k];
    } else {
      s[k] = kInf;
      r[k] = 0.0;
    }
  }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Integer loads (docs/algorithms.md 3.6): floor, then hand the remaining parameters one at a time to the
// group whose latency after one more parameter is smallest (ties: lowest group id). Latencies use
// fixed per-worker rates s (seconds per unit load) and r (fixed seconds).
double group_latency(const Instance& in, std::size_t n, const double* s, const double* r,
                     double load_fraction) {
  double t = 0.0;
  for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
    const std::size_t k = in.member[i];
    t = std::max(t, load_fraction * s[k] + r[k]);
  }
  return t;
}

}  // namespace

// value: N doubles of scratch (see round_to_total).
void round_loads(const Instance& in, const double* x, double L, const double* s, const double* r,
                 std::int64_t* loads, std::vector<std::size_t>& index, double* value) {
  for (std::size_t n = 0; n < in.N; ++n) {
    const double v = std::floor(x[n] * L);
    loads[n] = v > 0.0 ? static_cast<std::int64_t>(std::min(v, L)) : 0;  // NaN-safe clamp
  }
  index.resize(in.N);
  round_to_total(
      in.N, static_cast<std::int64_t>(L),
      [&](std::size_t n) -> std::int64_t& { return loads[n]; },
      [&](std::size_t n, std::int64_t m) {
        return group_latency(in, n, s, r, static_cast<double>(m) / L);
      },
      index.data(), value);
}

void equal_loads(std::size_t N, double L, std::int64_t* loads) {
  const auto total = static_cast<std::int64_t>(L);
  const auto n = static_cast<std::int64_t>(N);
  for (std::int64_t i = 0; i < n; ++i) loads[i] = total / n + (i < total % n ? 1 : 0);
}

}  // namespace detail
}  // namespace paba
