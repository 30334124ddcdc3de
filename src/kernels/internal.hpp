// Building blocks shared by the kernel files (the general solvers, exact.cpp, batch.cpp); not
// part of the public kernel API (paba.hpp).
//
//   solve_slack_with the parameter-aware root search on the slack z = T - max_k d_k
//                   (docs/algorithms.md 3.3), over the caller's sums, with an optional start;
//   slack_sums      those sums over dense arrays of the loaded workers (exact.cpp);
//   round_to_total  integer loads from floors (docs/algorithms.md 3.6): O(N) selection in the
//                   usual case, a heap on the caller's index buffer otherwise; no allocation;
//   round_up_dense  the same rounding by a search on the R-th parameter's value (a few counting
//                   passes) for the exact method's many loaded workers
//                   (rounding.cpp);
//   worker_time     one worker's latency (raw units), the formula every latency here uses;
//   latency_of      per-worker latencies of given loads and bandwidth in raw units;
//   check_seconds   the range checks of a worker's normalised seconds, with their messages.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "paba.hpp"

namespace paba {
namespace detail {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr int kMaxNewton = 200;
constexpr int kMaxBisection = 400;
constexpr double kBudgetMargin = 1e-12;  // share of the pool left unused against rounding
constexpr double kMaxParams = 9007199254740992.0;  // 2^53: params above are not exact in float64
// Values of a per-thread scratch vector kept for the next solve (8 MiB of doubles): scratch
// freed and taken again costs its page faults on every solve (a fifth of a 10^5-worker exact
// solve with 75,000 active workers); a larger one is freed after its solve.
constexpr std::size_t kKeptScratch = std::size_t{1} << 20;
constexpr double kMinSeconds = 1e-80;    // range of the normalised seconds (paba.System checks
constexpr double kMaxSeconds = 1e80;     // the same): no product or cube in a search overflows

// A worker's normalised seconds a = beta L / B and e = compute L must lie in the ranges of
// paba.System (SECONDS_RANGE), so that no product or cube in a root search overflows.
inline void check_seconds(double a, double e) {
  if (!(a >= kMinSeconds && a <= kMaxSeconds))
    throw std::invalid_argument("beta: beta * params / bandwidth must lie in [1e-80, 1e80] seconds");
  if (!(e >= kMinSeconds && e <= kMaxSeconds))
    throw std::invalid_argument("compute: compute * params must lie in [1e-80, 1e80] seconds");
}

// Seconds worker k needs with `load` parameters and Bk Hz: 0 without load, inf with load but no
// bandwidth (alpha and tau read as 0 where absent).
inline double worker_time(const Problem& p, std::size_t k, double load, double Bk) {
  if (!(load > 0.0)) return 0.0;
  const double alpha = p.alpha ? p.alpha[k] : 0.0;
  const double tau = p.tau ? p.tau[k] : 0.0;
  return Bk > 0.0 ? load * (p.beta[k] / Bk + p.compute[k]) + alpha / Bk + tau : kInf;
}

struct RootStats {
  double T = 0.0;
  long iterations = 0;
  bool converged = true;
};

// Checks params and bandwidth of a Problem (the same rules and messages for every path).
inline void check_scalars(const Problem& p) {
  if (!(p.params >= 1.0) || !(p.params <= kMaxParams) || p.params != std::floor(p.params))
    throw std::invalid_argument("params: must be an integer in [1, 2**53]");
  if (!(p.bandwidth > 0.0) || !std::isfinite(p.bandwidth))
    throw std::invalid_argument("bandwidth: must be positive and finite");
}

// Parameter-aware step on the slack (docs/algorithms.md 3.3). The loaded workers k finish
// together at T = dmax + z, where z > 0 solves
//   F(z) = sum_k num_k / (z + gap_k) - 1 = 0,   gap_k = dmax - d_k >= 0.
// The steps are Newton steps on 1 / S(z) - 1, S = F + 1 = sum_k num_k / (z + gap_k):
// z' = z + S (S - 1) / |S'|. 1 / S is linear for one term and concave and increasing for a sum
// (a harmonic mean of affine terms), so from any point its tangent's root lies at or left of
// the root: from the left the steps increase monotonically to it, and from a point far left
// (S >> 1) they grow z by about S times its gap instead of doubling it, as Newton steps on F
// would. `start` (> 0, optional) is a guess of z, for example from a nearby solution: from its
// right side one step lands left of the root, and the monotone phase follows. Returns T - dmax
// in `T`. F(z, slope) returns S(z) - 1 and writes |S'(z)| to `slope` when it is not null; the
// callers form both over dense arrays of the loaded workers (slack_sums).
template <class Sums>
RootStats solve_slack_with(Sums F, double numsum, double gapmax, double start = 0.0) {
  RootStats st;
  double hi = numsum;  // F(hi) <= 0; F(0) = +inf
  double z = 0.0;
  if (start > 0.0 && start < hi) {
    double slope = 0.0;
    const double value = F(start, &slope);
    ++st.iterations;
    if (value >= 0.0) {
      z = start;
    } else {
      hi = start;
      // A step to the left, landing left of the root (see below).
      const double next = start + (value + 1.0) * value / slope;
      if (next > 0.0) z = next;
    }
  }
  if (!(z > 0.0)) {
    z = std::min(numsum - gapmax, hi);  // F(z) >= 0 whenever z > 0: every gap is at most gapmax
  }
  if (!(z > 0.0)) {
    z = 0.5 * hi;
    while (F(z, nullptr) < 0.0 && st.iterations < kMaxBisection) {
      hi = z;
      z = 0.5 * hi;
      ++st.iterations;
    }
  }
  st.converged = false;
  for (int it = 0; it < kMaxNewton; ++it) {
    ++st.iterations;
    double slope = 0.0;
    const double value = F(z, &slope);
    if (value <= 0.0) {  // at the root, or past it by rounding
      st.converged = true;
      break;
    }
    const double step = (value + 1.0) * value / slope;
    double next = z + step;
    if (!(next < hi)) next = z + 0.5 * (hi - z);  // never in exact arithmetic
    if (!(next > z) || step <= 4.0 * kEps * z) {
      z = std::max(z, next);
      st.converged = true;
      break;
    }
    z = next;
  }
  st.T = z;
  return st;
}

// Integer loads from floors (docs/algorithms.md 3.6), over N slots: load(n) is a reference to
// slot n's load (a group, or a listed worker). On entry load(n) holds floor(x_n L);
// on exit the loads sum to `total`: floors that overshoot give back one parameter at a time from
// the slowest loaded group, and the remaining R parameters go one at a time to the group whose
// latency after one more parameter is smallest (ties: lowest group id), exactly as a heap over
// the groups would hand them out. latency(n, m) is group n's latency with m parameters (inf if it
// cannot take load). `index` (N entries) and `value` (N doubles) are the caller's scratch.
//
// Usual case: the R smallest next-parameter latencies are found by selection (O(N)); when no
// group among them would also win its second parameter, they are exactly the heap's choice.
// Otherwise the few later parameters that could still win are gathered and a second selection
// among them gives the heap's choice (O(N + R)); only when they are many does the heap run, over
// those R groups only, in `index`: O(N + R log R).
template <class Load, class Latency>
void round_to_total(std::size_t N, std::int64_t total, Load load, Latency latency,
                    std::size_t* index, double* value) {
  thread_local std::vector<std::pair<double, std::size_t>> pairs;  // scratch, kept for reuse
  std::int64_t assigned = 0;
  for (std::size_t n = 0; n < N; ++n) assigned += load(n);
  if (assigned > total) {
    // Max-heap of loaded groups by (latency at the current load, lowest id first on ties).
    std::size_t m = 0;
    for (std::size_t n = 0; n < N; ++n) {
      if (load(n) > 0) {
        index[m++] = n;
        value[n] = latency(n, load(n));
      }
    }
    auto slower = [&](std::size_t i, std::size_t j) {
      return value[i] < value[j] || (value[i] == value[j] && i > j);
    };
    std::make_heap(index, index + m, slower);
    while (assigned > total && m > 0) {
      std::pop_heap(index, index + m, slower);
      const std::size_t n = index[m - 1];
      --load(n);
      --assigned;
      if (load(n) > 0) {
        value[n] = latency(n, load(n));
        std::push_heap(index, index + m, slower);
      } else {
        --m;
      }
    }
  }
  if (assigned >= total) return;
  const std::int64_t R = total - assigned;
  // Candidates: the groups that can take a parameter at all (finite latency), or every group
  // when none can (the heap then hands out by id, as over all of them).
  std::size_t m = 0;
  for (std::size_t n = 0; n < N; ++n) {
    value[n] = latency(n, load(n) + 1);
    if (value[n] < kInf) index[m++] = n;
  }
  if (m == 0) {
    for (std::size_t n = 0; n < N; ++n) index[n] = n;
    m = N;
  }
  auto before = [&](std::size_t i, std::size_t j) {
    return value[i] < value[j] || (value[i] == value[j] && i < j);
  };
  if (static_cast<std::uint64_t>(R) <= m) {
    // The R smallest first values; every parameter handed out goes to one of these groups, since
    // R elements of the union are already at most the R-th of them.
    const auto last = index + (R - 1);
    std::nth_element(index, last, index + m, before);
    const std::size_t edge = *last;
    // The heap hands out the R smallest (latency, id) pairs of the groups' sequences
    // (latency(n, load(n) + j), n), j = 1, 2, ...: each sequence is nondecreasing, so the heap
    // pops the pairs of their union in order. All of them lie at or below the edge's first pair
    // E, which R pairs already reach: the pairs below E are the R first pairs (but E) and the
    // later pairs below E, gathered here while there are few of them.
    const double top = value[edge];
    auto below_edge = [&](double v, std::size_t n) { return v < top || (v == top && n < edge); };
    std::size_t extra = 0;
    bool few = true;
    for (std::int64_t i = 0; i < R && few; ++i) {
      const std::size_t n = index[i];
      for (std::int64_t j = 2; few; ++j) {
        const double v = latency(n, load(n) + j);
        if (!below_edge(v, n)) break;
        if (extra == 0) pairs.clear();
        pairs.emplace_back(v, n);
        few = ++extra <= 4 * static_cast<std::size_t>(R) + 64;
      }
    }
    if (extra == 0) {  // no group also wins its second parameter: exactly the heap's choice
      for (std::int64_t i = 0; i < R; ++i) ++load(index[i]);
      return;
    }
    if (few) {
      // The R-th smallest pair t of the R first pairs and the later ones below E: every group
      // gets its pairs below t, and the group of t the rest (pairs equal to t are t's group's).
      for (std::int64_t i = 0; i < R; ++i) pairs.emplace_back(value[index[i]], index[i]);
      auto pair_before = [](const std::pair<double, std::size_t>& a,
                            const std::pair<double, std::size_t>& b) {
        return a.first < b.first || (a.first == b.first && a.second < b.second);
      };
      const auto t = pairs.begin() + (R - 1);
      std::nth_element(pairs.begin(), t, pairs.end(), pair_before);
      const std::pair<double, std::size_t> threshold = *t;
      std::int64_t given = 0;
      for (auto it = pairs.begin(); it != t; ++it) {  // nth_element: every pair before t
        if (pair_before(*it, threshold)) {            // is at most t
          ++load(it->second);
          ++given;
        }
      }
      load(threshold.second) += R - given;
      if (pairs.size() > kKeptScratch) std::vector<std::pair<double, std::size_t>>().swap(pairs);
      return;
    }
    m = static_cast<std::size_t>(R);
  }
  // Min-heap by (latency after one more parameter, lowest id on ties) over the candidates.
  auto after = [&](std::size_t i, std::size_t j) { return before(j, i); };
  const auto end = index + m;
  std::make_heap(index, end, after);
  for (std::int64_t given = 0; given < R; ++given) {
    std::pop_heap(index, end, after);
    const std::size_t n = *(end - 1);
    ++load(n);
    value[n] = latency(n, load(n) + 1);
    std::push_heap(index, end, after);
  }
}

// Per-worker latencies (seconds) of loads (per group, any arithmetic type) and bandwidth (Hz);
// returns their maximum. Worker k's group is group[k], or k when group is null.
template <class Load>
double latency_of(const Problem& p, const Load* loads, const double* bandwidth,
                  double* worker_latency) {
  double worst = 0.0;
  for (std::size_t k = 0; k < p.n_workers; ++k) {
    std::size_t n = k;
    if (p.group) {
      const std::int64_t g = p.group[k];
      if (g < 0 || static_cast<std::uint64_t>(g) >= p.n_groups)
        throw std::invalid_argument("groups: group id out of range");
      n = static_cast<std::size_t>(g);
    }
    const double t = worker_time(p, k, static_cast<double>(loads[n]), bandwidth[k]);
    worker_latency[k] = t;
    worst = std::max(worst, t);
  }
  return worst;
}

// S(z) - 1 of the parameter-aware step over dense arrays of n loaded workers, and S'(z) in
// `slope` when not null, summed in four lanes (the same bits on every path)
// (exact.cpp; four quotients at a time where the CPU allows).
double slack_sums(const double* num, const double* gap, std::size_t n, double z, double* slope);

// The rounding of round_to_total when the floors fall short by R > 0, in O(m) passes over dense
// slots (rounding.cpp): load[n] the floor of slot n's relaxed load x_n, speed[n] its seconds per
// parameter (latency(n, l) = l speed[n]); T (the relaxed latency, x_n speed[n] = T) and L (sum x)
// place the search's first probe and steps only. Returns false, changing nothing, where a count
// passes 2^52 or the search runs out of passes; the caller then runs round_to_total.
bool round_up_dense(std::size_t m, std::int64_t R, double L, double T, std::int64_t* load,
                    const double* speed);

// allocate() with the caller's scratch index vector (reused across the instances of a batch).
void allocate_into(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
                   const double* bandwidth_in, const Options& options, Result& result,
                   std::vector<std::size_t>& index);

// The exact joint method (exact.cpp): whether it applies, and the solver.
bool exact_applies(const Problem& p);
void allocate_exact(const Problem& p, const std::int64_t* previous_loads, int max_passes,
                    Result& out, std::vector<std::size_t>& index);

}  // namespace detail
}  // namespace paba
