// The joint scheme by Newton steps on the latency (docs/algorithms.md 3.5.1): steps on
// 1 / G*(T) around a warm-started price search (price_search.cpp), inside a bracket [lo, hi]
// whose invariant is G*(lo) > 1 >= G*(hi) (hi feasible, its loads kept), started at the better
// two-step allocation; with fixed costs the answer is certified by weak duality on the convex
// envelope of every group's cost, split into branches where a group sits at its jump
// (certificate), and a branch that finishes earlier is solved in turn; where the certificate
// cannot decide, the nested bisection (bisection.cpp) runs too and the better answer is kept.
// Mirrored by python/paba/reference/newton.py.
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
  Scratch<double> b(in.K, 1.0 / static_cast<double>(in.K)), s(in.K), r(in.K);
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

// What one branch of the certificate finds at T (docs/algorithms.md 3.5.1).
enum class Verdict {
  excluded,  // no allocation of the branch finishes by T
  feasible,  // an allocation of the branch finishes by T (its loads in x)
  branch,    // the bound does not decide: a group sits at its jump (*jump)
  unknown,   // the bound cannot be read
};

// The branch's bound, by weak duality on the convex envelope of every free group's cost (a group
// the branch forces in prices its own cost, one forced out none; work.forced): for any price
// lambda = sigma^-2, an allocation of the branch that carries the model by T needs at least
//   D = lambda + sum_n min_x (c_n(x) - lambda x) = sum_n G_n(x_n) + lambda (1 - sum_n x_n)
// of the pool, x_n(sigma) the loads of the price pass (a group at its cut adds 0 at 0 or at its
// threshold; a group forced in adds G_n(0) = sum_k f_k / u_k where it has no load). The price
// taken is the one the search at T finds (the best bound), from sigma. Excluded when D exceeds 1
// by more than its rounding (the loads limit - rate sigma cancel to eps times limit + slack);
// feasible when the search's own loads fit the pool. x, z: N doubles of scratch.
Verdict branch_bound(const Instance& in, double T, InnerWork& work, double sigma, double* x,
                     double* z, double* price_out, std::size_t* jump) {
  prepare(T, work);
  double price = sigma;
  const InnerResult inner = price_search(in, T, x, work, sigma, kInf, &price, nullptr);
  // Unlimited bandwidth too little excludes the branch without a price (0): it speaks for the
  // groups of this instance only, so a screen cannot extend it (docs/algorithms.md 3.5.2).
  *price_out = std::isfinite(inner.bandwidth) ? price : 0.0;
  if (!std::isfinite(inner.bandwidth)) return Verdict::excluded;
  if (inner.bandwidth <= 1.0) return Verdict::feasible;
  if (!(price > 0.0)) return Verdict::unknown;
  loads_at_price(T, price, work, x, z);
  const double lambda = 1.0 / (price * price);
  double G = 0.0, load = 0.0, scale = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    if (!(x[n] > 0.0)) continue;
    G += group_bandwidth(in, n, T, x[n], z[n]);
    load += x[n];
    scale += x[n] + z[n];
  }
  for (const auto& [n, side] : work.forced) {
    if (side < 0 || x[n] > 0.0) continue;
    for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
      const std::size_t k = in.member[i];
      G += in.f[k] / (T - in.tau[k]);
    }
  }
  const double D = G + lambda * (1.0 - load);
  const double rounding = 16.0 * kEps * (G + lambda * scale + 1.0);
  if (D - rounding > 1.0) return Verdict::excluded;
  // The gap of the bound: the first group whose load jumps at this price.
  for (std::size_t n = 0; n < in.N; ++n) {
    if (x[n] > 0.0 && !work.lazy[n] && work.threshold[n] > 0.0 && price == work.cut[n]) {
      *jump = n;
      return Verdict::branch;
    }
  }
  return Verdict::unknown;
}

constexpr int kMaxBranches = 32;  // bounds read per certificate
constexpr int kMaxRounds = 8;     // improvements found by the certificate per solve

// The certificate that no allocation finishes by T (docs/algorithms.md 3.5.1): the bound of
// branch_bound over every participating set, split where a group sits at its jump into the
// branches with it forced out and forced in, depth first (out first). Excluded: every branch is,
// and *price_out is the least price of their bounds (0 where one had none). Feasible: a branch
// carries the model by T; work.forced is that branch, x its loads and *price_out their price.
// Unknown: a bound could not be read, or more than kMaxBranches were needed.
Verdict certificate(const Instance& in, double T, InnerWork& work, double sigma, double* x,
                    double* z, double* price_out) {
  std::vector<std::vector<std::pair<std::size_t, int>>> open(1);
  double least = kInf;
  for (int read = 0; !open.empty(); ++read) {
    if (read == kMaxBranches) {
      work.forced.clear();
      return Verdict::unknown;
    }
    work.forced = std::move(open.back());
    open.pop_back();
    double price = 0.0;
    std::size_t jump = 0;
    const Verdict verdict = branch_bound(in, T, work, sigma, x, z, &price, &jump);
    if (verdict == Verdict::excluded) {
      least = std::min(least, price);
      continue;
    }
    if (verdict == Verdict::feasible) {
      *price_out = price;
      return verdict;
    }
    if (verdict == Verdict::unknown) {
      work.forced.clear();
      return verdict;
    }
    open.push_back(work.forced);
    open.back().emplace_back(jump, 1);
    open.push_back(work.forced);
    open.back().emplace_back(jump, -1);
  }
  work.forced.clear();
  *price_out = least;
  return Verdict::excluded;
}

// G* falls by more than this many times its steepest slope read at the bracket's ends across
// the bracket: a jump lies inside (G* is convex and decreasing where it is continuous).
constexpr double kJumpSlope = 8.0;
// Newton steps shrinking by a ratio of magnitude in this range, twice within 10%, converge
// linearly.
constexpr double kSteadyLo = 0.01, kSteadyHi = 0.9;
// The screen's estimate (screen.cpp) widens its T and price by 5%: its steps stop once a step
// is below this, relative to T (Newton's convergence then puts T far closer).
constexpr double kEstimateStop = 1e-4;

// Safeguarded Newton steps on T from T (feasible: x_best are loads that carry the model by it)
// and the price sigma, with x as scratch; returns the least feasible T found, its loads in
// x_best, and the last T read and its price. With at_jumps (fixed costs, answers certified),
// the steps stop where the bracket holds a jump of G*: a group's load jumps there, so no
// crossing of G* = 1 exists to converge to, and the certificate's branches take over from the
// feasible end (docs/algorithms.md 3.5.1).
double newton_steps(const Instance& in, InnerWork& work, double T, double sigma, double* x_best,
                    double* x, RootStats& st, double* last_T, double* last_price,
                    bool at_jumps, double stop = 64.0 * kEps) {
  double lo = 0.0, hi = T, step = kInf, step_before = kInf;
  double G_lo = kInf, Q_lo = 0.0, G_hi = kInf, Q_hi = 0.0;
  double d_before = 0.0, r_before = 0.0;  // the last Newton step and its ratio to the one before
  bool newton_before = false;
  *last_price = sigma;
  *last_T = T;
  st.converged = false;
  for (int it = 0; it < kMaxBisection; ++it) {
    ++st.iterations;
    prepare(T, work);
    OuterSums sums;
    double price = sigma;
    const InnerResult inner = price_search(in, T, x, work, sigma, kInf, &price, &sums);
    const double G = inner.bandwidth;
    *last_price = price;
    *last_T = T;
    if (G <= 1.0) {
      hi = T;
      G_hi = G;
      Q_hi = sums.Q;
      std::copy(x, x + in.N, x_best);
    } else {
      lo = T;
      G_lo = G;
      Q_lo = sums.Q;
    }
    if (at_jumps && lo > 0.0 && std::isfinite(G_lo) && std::isfinite(G_hi) &&
        G_lo - G_hi > kJumpSlope * std::max(Q_lo, Q_hi) * (hi - lo)) {
      st.converged = true;  // hi and its loads: the feasible side of the jump
      break;
    }
    double next = std::isfinite(G) && sums.Q > 0.0 ? T + G * (G - 1.0) / sums.Q : kInf;
    const bool newton = next > lo && next < hi;
    // G sums K rounded terms, so near the root the step is rounding noise: stop within 64 eps
    // (`stop`; the screen's estimate, which needs T and the price to a percent, stops sooner).
    if (std::fabs(next - T) <= stop * T) {
      std::copy(x, x + in.N, x_best);  // converged: T is the root up to rounding
      st.converged = inner.converged;
      break;
    }
    // Where G* has a kink at the root (a load or a slack reaching 0 there, or a group's cut),
    // Newton steps shrink by a steady ratio r instead of quadratically, from one side (r > 0)
    // or alternating (r < 0); two ratios within 10% of each other take the sum of the
    // geometric series of steps, d / (1 - r), when it stays inside the bracket.
    const double d = next - T;
    const double r = newton && newton_before ? d / d_before : 0.0;
    if (std::fabs(r) > kSteadyLo && std::fabs(r) < kSteadyHi &&
        std::fabs(r - r_before) <= 0.1 * std::fabs(r)) {
      const double ahead = T + d / (1.0 - r);
      if (ahead > lo && ahead < hi) next = ahead;
    }
    newton_before = newton;
    d_before = d;
    r_before = r;
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
  return hi;
}

}  // namespace

// Writes the loads' parameter-aware bandwidth into b (K shares), whose search converged iff
// *b_converged.
RootStats joint_newton(const Instance& in, double L, double* x_best, double* b,
                       bool* b_converged, NewtonReport* report) {
  RootStats st;
  // One group (a plain federated round: every worker trains the whole model): its load is the
  // whole model, and the optimum is the parameter-aware bandwidth of that load (3.3), with
  // fixed costs too (the one group must take part). One root search, counted as one step.
  if (in.N == 1) {
    x_best[0] = 1.0;
    const RootStats loads = parameter_aware(in, x_best, b);
    *b_converged = loads.converged;
    st.T = loads.T;
    st.iterations = 1;
    st.converged = loads.converged;
    return st;
  }
  InnerWork work(in);
  // A screened instance certifies its answer whenever the whole instance has fixed costs, so
  // that the certificate covers the groups left out too (docs/algorithms.md 3.5.2).
  const bool certify = work.any_fixed || (report && report->fixed);
  Scratch<double> x(in.N);
  // Start at the better two-step allocation: feasible, and usually within a few percent.
  // With fixed costs the answer is certified (or the two-step schemes are solved after all,
  // below), so one-member groups start lean, as a screened instance does: their Newton steps
  // cost about what the two parameter-aware searches of the full start cost, while with groups
  // of several members the closer start saves steps that cost more (at K = 100, groups of 1 to
  // 10 took 6.3 steps from the lean start against 5.4).
  const bool lean = report != nullptr || (certify && in.N == in.K);
  const double T_start = two_step_start(in, L, work.any_fixed, x_best, lean);
  Scratch<double> x_start(x_best, x_best + in.N);
  // The start is a feasible latency: it bounds the optimum from above. Where the price search
  // at it finds no participating set that fits the pool (fixed costs), the start is kept.
  double last_T = T_start, last_price = 0.0;
  const bool estimate = report && report->estimate;
  st.T = newton_steps(in, work, T_start, price_guess(in, T_start, x_best), x_best, x.data(), st,
                      &last_T, &last_price, certify, estimate ? kEstimateStop : 64.0 * kEps);
  // The loads' own latency (with their parameter-aware bandwidth) must match T. A load
  // limit - rate sigma of a worker whose compute is negligible beside its communication cancels
  // to eps times its limit, which can be far above the load; where that shows, the loads are
  // not to be trusted, and the nested bisection (whose feasibility test reads slacks only)
  // solves the instance instead.
  if (report) {
    report->T = last_T;
    report->sigma = last_price;
    if (report->estimate) return st;  // the screen's estimate reads T and sigma only
  }
  RootStats loads = parameter_aware(in, x_best, b);
  if (!(loads.T <= st.T * (1.0 + kTrustLoads))) {
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
  // fall monotonically: Newton steps may settle on another crossing of G* = 1 than the optimum
  // (random instances found answers up to 10 times the bisection's). The certificate at
  // T_c = T (1 - 1e-10) either shows that no allocation finishes by T_c, or finds a branch that
  // does, from which Newton steps with that branch's participation find a better answer, whose
  // certificate is read in turn. Where it cannot decide, the nested bisection runs too and the
  // better answer is kept.
  double T_c = loads.T * (1.0 - kCertify);
  double price_c = 0.0;
  if (certify) {
    bool certified = false;
    // Other loads (x_other, with their parameter-aware bandwidth in b_other): a better branch's
    // answer, the bisection's, the two-step schemes'. adopt makes them the answer.
    Scratch<double> x_other(in.N), b_other(in.K);
    const auto adopt = [&](const RootStats& other, double T_found) {
      std::copy(x_other.begin(), x_other.end(), x_best);
      std::copy(b_other.begin(), b_other.end(), b);
      loads = other;
      st.T = T_found;
    };
    std::vector<std::pair<std::size_t, int>> last_forced;  // the last steps' participation
    for (int round = 0; round <= kMaxRounds; ++round) {
      T_c = loads.T * (1.0 - kCertify);
      const Verdict verdict =
          certificate(in, T_c, work, last_price, x.data(), work.z_hi.data(), &price_c);
      certified = verdict == Verdict::excluded;
      if (verdict != Verdict::feasible || round == kMaxRounds) break;
      // x carries the model by T_c with the branch's participation (work.forced). Where that
      // is the participation of the last steps (every group free the first time), they stopped
      // at a jump that the certificate did not find at T_c (it lies further down): the steps
      // now narrow the bracket onto it instead of stopping there again.
      std::copy(x.begin(), x.end(), x_other.begin());
      const bool again = work.forced == last_forced;
      last_forced = work.forced;
      RootStats more;
      double T_round = 0.0;
      const double hi = newton_steps(in, work, T_c, price_c, x_other.data(), x.data(), more,
                                     &T_round, &last_price, !again);
      st.iterations += more.iterations;
      work.forced.clear();
      const RootStats other = parameter_aware(in, x_other.data(), b_other.data());
      if (!(other.T <= hi * (1.0 + kTrustLoads)) || !(other.T < loads.T)) break;
      adopt(other, hi);
      st.converged = more.converged;
      if (report) {
        report->T = T_round;
        report->sigma = last_price;
      }
    }
    work.forced.clear();
    if (!certified) {
      if (report) {
        report->plain = false;
        return st;
      }
      const auto keep_if_faster = [&](double T_found) {
        const RootStats other = parameter_aware(in, x_other.data(), b_other.data());
        if (other.T < loads.T) adopt(other, T_found);
      };
      const RootStats bisection = joint(in, L, kFallbackTol, x_other.data());
      st.iterations += bisection.iterations;
      keep_if_faster(bisection.T);
      // Uncertified, the answer is kept below the two-step schemes' (docs/algorithms.md 4),
      // which the lean start did not solve.
      keep_if_faster(two_step_start(in, L, work.any_fixed, x_other.data(), false));
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
