// Allocation schemes of docs/algorithms.md section 3, in normalised units.
//
// Every scheme works on a normalised instance: loads are fractions x_n = L_n / L of the model
// (summing to 1) and bandwidths fractions b_k = B_k / B of the pool (summing to at most 1), so
//   T_k = x_n (a_k / b_k + e_k) + f_k / b_k + tau_k,
//   a_k = beta_k L / B,  e_k = c_k L,  f_k = alpha_k / B   (all in seconds).
// This keeps every root search well scaled whatever the units of the caller.
//
// The building blocks, each mirrored line for line by python/paba/reference/allocation.py:
//   parameter_aware      loads fixed: all workers finish together at the root T of
//                        sum_k (f_k + a_k x_n) / (T - tau_k - e_k x_n) = 1 (monotone Newton steps
//                        on 1 / S on the slack T - max_k (tau_k + e_k x_n)).
//   fixed_rate_loads     each worker k costs s_k seconds per unit load plus r_k fixed seconds;
//                        group loads x_n(T) = min_k [(T - r_k) / s_k]^+ and sum_n x_n(T) = 1
//                        (closed form when r = 0, else bracketed Newton steps on the piecewise
//                        linear sum). Gives the bandwidth-aware scheme (s = a/b + e,
//                        r = f/b + tau) and the infinite-bandwidth bound (s = e, r = tau).
//   price_search         joint scheme at a fixed T (prepared: thresholds, cuts): the least
//                        bandwidth that carries the whole model, by KKT (G_n'(x_n) = price) and a
//                        bracketed search on the price; groups with fixed costs (f > 0) are priced
//                        on the convex envelope of their cost (participation_threshold).
//   joint                bisection on T around price_search from 0 (docs/algorithms.md 3.5).
//   joint_newton         Newton steps on 1 / G*(T) around a warm-started price_search
//                        (docs/algorithms.md 3.5.1).
//   screened_newton      joint_newton on the candidate groups of an instance of 128 groups or
//                        more, then a verification of the others at the latency and price found
//                        (docs/algorithms.md 3.5.2); the whole instance where that fails.
//   round_loads          integer loads (docs/algorithms.md 3.6): selection, or a heap (internal.hpp).
#include "paba.hpp"
#include "internal.hpp"
#include "simd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace paba {
namespace {

using namespace detail;

constexpr double kJumpTolerance = 1e-9;  // a gap in sum_n x_n(sigma) wider than this is a jump
constexpr double kTrustLoads = 1e-10;    // Newton's loads may end above its T by this, relative
constexpr double kFallbackTol = 1e-12;   // tol of the bisection that replaces untrusted loads
constexpr double kLastStep = 1e-13;      // a threshold's Newton step this small is its last
constexpr double kCertify = 1e-10;       // Newton's latency is certified within this, relative

// Worker-level data in normalised units and the groups as compressed rows.
struct Instance {
  std::size_t K = 0, N = 0;
  std::vector<double> a, e, f, tau;
  std::vector<std::size_t> offset;  // N + 1: members of group n are member[offset[n]..offset[n+1])
  std::vector<std::size_t> member;
  std::vector<std::size_t> group;   // K
};

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

// ---------------------------------------------------------------------------------------------
// Parameter-aware bandwidth allocation (docs/algorithms.md 3.3): every loaded worker finishes at
// T = dmax + z, z the root of sum_k num_k / (z + gap_k) = 1 with num_k = f_k + a_k x_n,
// d_k = tau_k + e_k x_n, gap_k = dmax - d_k (solve_slack in internal.hpp). Writes the shares b.
RootStats parameter_aware(const Instance& in, const double* x, double* b) {
  std::vector<double> num(in.K, 0.0), gap(in.K, 0.0);
  double dmax = -kInf, numsum = 0.0;
  for (std::size_t k = 0; k < in.K; ++k) {
    const double xn = x[in.group[k]];
    if (xn > 0.0) {
      num[k] = in.f[k] + in.a[k] * xn;
      gap[k] = in.tau[k] + in.e[k] * xn;  // d_k for now
      dmax = std::max(dmax, gap[k]);
      numsum += num[k];
    }
  }
  double gapmax = 0.0;
  for (std::size_t k = 0; k < in.K; ++k) {
    if (x[in.group[k]] > 0.0) {
      gap[k] = dmax - gap[k];
      gapmax = std::max(gapmax, gap[k]);
    }
  }
  RootStats st = solve_slack(
      in.K, [&](std::size_t k) { return x[in.group[k]] > 0.0; },
      [&](std::size_t k) { return num[k]; }, [&](std::size_t k) { return gap[k]; }, numsum, gapmax);
  const double z = st.T;
  double total = 0.0;
  for (std::size_t k = 0; k < in.K; ++k) {
    b[k] = x[in.group[k]] > 0.0 ? num[k] / (z + gap[k]) : 0.0;
    total += b[k];
  }
  // Keep the pool's budget strict under rounding: a margin of 1e-12 costs 1e-12 of latency.
  if (total > 1.0 - kBudgetMargin) {
    const double scale = (1.0 - kBudgetMargin) / total;
    for (std::size_t k = 0; k < in.K; ++k) b[k] *= scale;
  }
  st.T = dmax + z;
  return st;
}

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

// ---------------------------------------------------------------------------------------------
// Joint scheme, inner level: at a fixed T, the least bandwidth that carries the whole model.
// Worker k with load x needs b_k(x) = (f_k + a_k x) / (u_k - e_k x), u_k = T - tau_k, so group n
// needs G_n(x) = sum_k b_k(x), convex increasing on [0, U_n), U_n = min_k u_k / e_k, with
//   G_n'(x) = sum_k w_k / (u_k - e_k x)^2,   w_k = a_k u_k + e_k f_k.
// KKT: every group with load has G_n'(x_n) = price. In the variable sigma = price^(-1/2),
// rho_n(x) = G_n'(x)^(-1/2) is concave and decreasing (a power mean of the affine y_k / sqrt(w_k)),
// and x_n(sigma) solves rho_n(x) = sigma (0 when rho_n(0) <= sigma). For one member it is linear:
// x = (u - sqrt(w) sigma) / e. Groups without load pay nothing (this drops non-participating
// workers, which matters when f > 0: docs/algorithms.md 3.5).
// Loads are carried with their slack z = U_n - x below the group's compute limit: the bandwidth
// a worker needs divides by y_k = u_k - e_k x = e_k (g_k + z), g_k = u_k / e_k - U_n >= 0, and
// near the compute limit y is far smaller than u, so computing it as u - e x would cancel.
struct GroupPoint {
  double x = 0.0;      // load
  double z = 0.0;      // slack U_n - x
  double slope = 0.0;  // dx / dsigma (<= 0)
};

double compute_limit(const Instance& in, std::size_t n, double T) {
  double U = kInf;
  for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
    const std::size_t k = in.member[i];
    U = std::min(U, (T - in.tau[k]) / in.e[k]);
  }
  return U;
}

// G_n, G_n' and G_n'' of group n at the load x with slack z = U - x (U = U_n at this T): every
// y_k = u_k - e_k x is formed from the slack (see GroupPoint), every numerator f_k + a_k x from
// the load. Both are passed: where compute is negligible beside communication, U is far above
// x, and x formed back as U - z would carry an error of eps U, far above eps x (the bandwidth of
// communication-bound loads then came out 1e-8 relative above their own, and the joint schemes'
// latencies 1e-9 above the optimum).
struct GroupSums {
  double G = 0.0, G1 = 0.0, G2 = 0.0;
};

GroupSums group_sums(const Instance& in, std::size_t n, double T, double U, double x,
                     double z) {
  GroupSums sums;
  // One member: U = u / e, so y = e (0 + z) = e z exactly, without its division.
  const bool single = in.offset[n + 1] - in.offset[n] == 1;
  for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
    const std::size_t k = in.member[i];
    const double u = T - in.tau[k];
    const double w = in.a[k] * u + in.e[k] * in.f[k];
    const double y = single ? in.e[k] * z : in.e[k] * ((u / in.e[k] - U) + z);
    sums.G += (in.f[k] + in.a[k] * x) / y;
    sums.G1 += w / (y * y);
    sums.G2 += 2.0 * w * in.e[k] / (y * y * y);
  }
  return sums;
}

// A group of several members (one-member groups are in closed form in prepare and
// loads_at_price: x = limit - rate sigma).
GroupPoint group_at_price_convex(const Instance& in, std::size_t n, double T, double sigma) {
  GroupPoint gp;
  const std::size_t first = in.offset[n], last = in.offset[n + 1];
  double U = kInf, marginal0 = 0.0;
  for (std::size_t i = first; i < last; ++i) {
    const std::size_t k = in.member[i];
    const double u = T - in.tau[k];
    if (!(u > 0.0)) return gp;  // a member cannot finish by T: the group takes no load
    marginal0 += (in.a[k] * u + in.e[k] * in.f[k]) / (u * u);
    U = std::min(U, u / in.e[k]);
  }
  if (!(1.0 / std::sqrt(marginal0) > sigma)) return gp;  // rho_n(0) <= sigma: no load
  // Start at the smallest single-member root (largest slack): it lies right of the group's root
  // (rho <= sigma), and Newton steps on the concave decreasing rho then move left monotonically.
  double z = 0.0, binding = 0.0;
  for (std::size_t i = first; i < last; ++i) {
    const std::size_t k = in.member[i];
    const double u = T - in.tau[k];
    const double w = in.a[k] * u + in.e[k] * in.f[k];
    const double g = u / in.e[k] - U;
    z = std::max(z, std::sqrt(w) * sigma / in.e[k] - g);
    if (g == 0.0) binding += w / (in.e[k] * in.e[k]);
  }
  if (!(z < U)) return gp;
  if (sigma == 0.0) {
    // x = U_n. Near it only the members that bind at U_n count: rho_n(x) ~ (U_n - x) /
    // sqrt(sum w_k / e_k^2), so the one-sided slope is -sqrt(sum w_k / e_k^2) over them.
    gp.x = U;
    gp.slope = -std::sqrt(binding);
    return gp;
  }
  GroupSums at;
  for (int it = 0; it < kMaxNewton; ++it) {
    at = group_sums(in, n, T, U, U - z, z);
    // Newton on rho(x) = sigma: x <- x + 2 G' (1 - sigma sqrt(G')) / G'' (a step to the left).
    const double step = 2.0 * at.G1 * (1.0 - sigma * std::sqrt(at.G1)) / at.G2;
    if (!(step < 0.0) || -step <= 4.0 * kEps * z) break;
    z = z - step < U ? z - step : z + 0.5 * (U - z);
  }
  gp.x = U - z;
  gp.z = z;
  gp.slope = -2.0 * at.G1 * std::sqrt(at.G1) / at.G2;
  return gp;
}

// Fixed costs (f > 0) make a group's bandwidth jump from 0 to A_n = sum_k f_k / u_k as soon as
// it takes any load. The convex envelope of that cost is the chord from the origin that touches
// G_n at x*_n, where x G_n'(x) = G_n(x); the price condition on the envelope gives a group either
// no load or at least x*_n (docs/algorithms.md 3.5: non-participating workers are dropped). Without fixed
// costs x*_n = 0. H(x) = x G'(x) - G(x) is increasing and convex on [0, U_n) with H(0) = -A_n,
// so Newton steps safeguarded by the bracket [lo, hi] converge to its root.
// One member's root: H(x) (u - e x)^2 = a e x^2 + 2 e f x - f u, whose positive root is
// x* = f u / (e f + sqrt(e^2 f^2 + a e f u)) (written without cancellation; 0 without f).
double member_threshold(double a, double e, double f, double u) {
  if (!(f > 0.0)) return 0.0;
  const double ef = e * f;
  return f * u / (ef + std::sqrt(ef * ef + a * ef * u));
}

// hint: the group's threshold at a nearby T (the previous prepare's), or 0 for none.
double participation_threshold(const Instance& in, std::size_t n, double T, double hint = 0.0) {
  if (in.offset[n + 1] - in.offset[n] == 1) {
    const std::size_t k = in.member[in.offset[n]];
    const double u = T - in.tau[k];
    if (!(u > 0.0)) return kInf;
    return member_threshold(in.a[k], in.e[k], in.f[k], u);
  }
  // H is the sum of the members' own H_k (each increasing, with its root in closed form), so
  // the group's root lies between the least and the largest member root. Newton steps from the
  // largest (H >= 0 there) move left monotonically on the convex H: a few steps, where a start
  // at U_n / 2 took about 20. With a hint (the threshold at the last T), the steps start there
  // instead: a step from the left lands right of the root, and the steps then move left too.
  const bool warm = hint > 0.0 && hint < kInf;
  double U = kInf, least = kInf, largest = 0.0;
  bool fixed = false;
  for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
    const std::size_t k = in.member[i];
    const double u = T - in.tau[k];
    if (!(u > 0.0)) return kInf;  // cannot finish by T at all
    U = std::min(U, u / in.e[k]);
    fixed = fixed || in.f[k] > 0.0;
    if (!warm) {
      const double root = member_threshold(in.a[k], in.e[k], in.f[k], u);
      least = std::min(least, root);
      largest = std::max(largest, root);
    }
  }
  if (!fixed) return 0.0;
  double lo = 0.0, hi = U, x = 0.0;
  bool right = false;  // a point with H > 0 was read: the steps now move left monotonically
  if (warm && hint < U) {
    x = hint;
  } else {
    for (std::size_t i = in.offset[n]; warm && i < in.offset[n + 1]; ++i) {  // not read above
      const std::size_t k = in.member[i];
      const double root = member_threshold(in.a[k], in.e[k], in.f[k], T - in.tau[k]);
      least = std::min(least, root);
      largest = std::max(largest, root);
    }
    lo = std::min(least, U);
    x = largest < U && largest > 0.0 ? largest : lo + 0.5 * (hi - lo);
  }
  if (!(x > 0.0)) x = 0.5 * U;
  for (int it = 0; it < kMaxNewton; ++it) {
    const GroupSums at = group_sums(in, n, T, U, x, U - x);
    const double H = x * at.G1 - at.G;
    // Right of the root, H <= 0 means the root up to rounding (H cancels to about eps G_n, so
    // the relative step test below may never hold there).
    if (right && !(H > 0.0)) break;
    if (H > 0.0) {
      hi = x;
      right = true;
    } else {
      lo = x;
    }
    double next = x - H / (x * at.G2);
    // A Newton step within rounding: x is the root (tested before the safeguard, which would
    // take such a step, landing on x itself, for one that leaves the bracket).
    if (std::fabs(next - x) <= 4.0 * kEps * x) break;
    // Right of the root the steps converge quadratically: after a step below kLastStep the
    // error is far below rounding, so it is taken and is the last (no pass to confirm it).
    if (right && next > lo && x - next <= kLastStep * x) {
      x = next;
      break;
    }
    if (!(next > lo && next < hi)) next = lo + 0.5 * (hi - lo);
    if (std::fabs(next - x) <= 4.0 * kEps * x) break;
    x = next;
  }
  return x;
}

// Bandwidth needed by group n at the load x > 0 with slack z = U_n - x (see group_sums).
double group_bandwidth(const Instance& in, std::size_t n, double T, double x, double z) {
  const bool single = in.offset[n + 1] - in.offset[n] == 1;  // group_sums needs no U then
  return group_sums(in, n, T, single ? 0.0 : compute_limit(in, n, T), x, z).G;
}

struct InnerResult {
  double bandwidth = kInf;  // least total bandwidth fraction; inf when T is below the compute bound
  bool converged = true;
};

// Scratch of the inner level, sized once per solve, and the groups' data at the current T
// (prepare). Each group has a cut: the price beyond which it takes no load. Without fixed costs
// its load falls continuously to 0 there (on while sigma < cut); with them it jumps from its
// threshold to 0 just past it (on while sigma <= cut). A one-member group's load at the price
// sigma is limit - rate sigma (rate = sqrt(w) / e, limit = u / e: the root of rho(x) = sigma,
// linear for one member), kept by its position among the one-member groups so that a pass over
// them is a plain vector loop.
struct InnerWork {
  std::vector<double> threshold, cut, z, x_hi, z_hi;  // per group
  std::vector<unsigned char> lazy;                     // per group: cut is rho_n(0) (settle)
  std::vector<std::size_t> single, several;            // group ids with one member, and more
  std::vector<double> limit, rate, single_cut, single_threshold;  // by position in `single`
  std::vector<double> single_a, single_e, single_f, single_tau;   // the members' data, likewise
  bool any_fixed = false;
  explicit InnerWork(const Instance& in)
      : threshold(in.N, 0.0), cut(in.N, 0.0), z(in.N, 0.0), x_hi(in.N, 0.0), z_hi(in.N, 0.0),
        lazy(in.N, 0) {
    for (std::size_t k = 0; k < in.K; ++k) any_fixed = any_fixed || in.f[k] > 0.0;
    for (std::size_t n = 0; n < in.N; ++n)
      (in.offset[n + 1] - in.offset[n] == 1 ? single : several).push_back(n);
    limit.resize(single.size());
    rate.resize(single.size());
    single_cut.resize(single.size());
    single_threshold.resize(single.size());
    single_a.resize(single.size());
    single_e.resize(single.size());
    single_f.resize(single.size());
    single_tau.resize(single.size());
    for (std::size_t i = 0; i < single.size(); ++i) {
      const std::size_t k = in.member[in.offset[single[i]]];
      single_a[i] = in.a[k];
      single_e[i] = in.e[k];
      single_f[i] = in.f[k];
      single_tau[i] = in.tau[k];
    }
  }
};

// The one-member groups' limit, rate, cut and threshold at T (prepare), from index i on; returns
// the index it stopped at. A loop without branches over their contiguous data (participation
// thresholds in closed form, as member_threshold; lanes that cannot finish by T are masked).
std::size_t prepare_singles(std::size_t i, std::size_t S, double T, bool any_fixed,
                            const double* a, const double* e, const double* f,
                            const double* tau, double* limit, double* rate, double* cut,
                            double* threshold) {
  for (; i < S; ++i) {
    const double u = T - tau[i];
    const bool possible = u > 0.0;
    const double ef = e[i] * f[i];
    double least = 0.0;  // without fixed costs every threshold is 0
    if (any_fixed) {
      const double root = f[i] * u / (ef + std::sqrt(ef * ef + a[i] * ef * u));  // NaN at f = 0
      least = possible ? (f[i] > 0.0 ? root : 0.0) : kInf;
    }
    const double lim = u / e[i], r = std::sqrt(a[i] * u + ef) / e[i];
    const double c = (lim - least) / r;
    limit[i] = possible ? lim : 0.0;
    rate[i] = possible ? r : 0.0;
    cut[i] = possible ? c : -1.0;
    threshold[i] = least;
  }
  return i;
}

#if defined(PABA_X86_SIMD)
// prepare_singles four groups at a time: the same operations in the same order (blends for the
// selections), so the same bits; its square roots and divisions bound the loop.
__attribute__((target("avx"))) std::size_t prepare_singles_avx(
    std::size_t S, double T, bool any_fixed, const double* a, const double* e, const double* f,
    const double* tau, double* limit, double* rate, double* cut, double* threshold) {
  const __m256d vT = _mm256_set1_pd(T), zero = _mm256_setzero_pd();
  const __m256d inf = _mm256_set1_pd(kInf), minus_one = _mm256_set1_pd(-1.0);
  std::size_t i = 0;
  for (; i + 4 <= S; i += 4) {
    const __m256d ai = _mm256_loadu_pd(a + i), ei = _mm256_loadu_pd(e + i);
    const __m256d fi = _mm256_loadu_pd(f + i);
    const __m256d u = _mm256_sub_pd(vT, _mm256_loadu_pd(tau + i));
    const __m256d possible = _mm256_cmp_pd(u, zero, _CMP_GT_OQ);
    const __m256d ef = _mm256_mul_pd(ei, fi);
    __m256d least = zero;
    if (any_fixed) {
      const __m256d root = _mm256_div_pd(
          _mm256_mul_pd(fi, u),
          _mm256_add_pd(ef, _mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(ef, ef),
                                                         _mm256_mul_pd(_mm256_mul_pd(ai, ef), u)))));
      const __m256d own = _mm256_blendv_pd(zero, root, _mm256_cmp_pd(fi, zero, _CMP_GT_OQ));
      least = _mm256_blendv_pd(inf, own, possible);
    }
    const __m256d lim = _mm256_div_pd(u, ei);
    const __m256d r =
        _mm256_div_pd(_mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(ai, u), ef)), ei);
    const __m256d c = _mm256_div_pd(_mm256_sub_pd(lim, least), r);
    _mm256_storeu_pd(limit + i, _mm256_blendv_pd(zero, lim, possible));
    _mm256_storeu_pd(rate + i, _mm256_blendv_pd(zero, r, possible));
    _mm256_storeu_pd(cut + i, _mm256_blendv_pd(minus_one, c, possible));
    _mm256_storeu_pd(threshold + i, least);
  }
  return i;
}
#endif

// The groups' data at T: thresholds, cuts, and the one-member groups' limit and rate. A group
// that cannot finish by T gets the cut -1 (no load at any price). A group of several members
// with fixed costs is left lazy (its cut the bound rho_n(0)) until a price below it is read;
// settle then finds its threshold from its value at the T settled before (work.threshold).
void prepare(const Instance& in, double T, InnerWork& work) {
  const std::size_t S = work.single.size();
  const double* a = work.single_a.data();
  const double* e = work.single_e.data();
  const double* f = work.single_f.data();
  const double* tau = work.single_tau.data();
  double* limit = work.limit.data();
  double* rate = work.rate.data();
  double* cut = work.single_cut.data();
  double* threshold = work.single_threshold.data();
  std::size_t done = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx())
    done = prepare_singles_avx(S, T, work.any_fixed, a, e, f, tau, limit, rate, cut, threshold);
#endif
  prepare_singles(done, S, T, work.any_fixed, a, e, f, tau, limit, rate, cut, threshold);
  for (std::size_t i = 0; i < S; ++i) {
    const std::size_t n = work.single[i];
    work.threshold[n] = threshold[i];
    work.cut[n] = cut[i];
  }
  // Groups of several members. A group with fixed costs has its threshold and cut computed
  // when a price search first reads a price below rho_n(0) (settle): until then its cut holds
  // rho_n(0), which bounds it from above, so the group has no load at any price read.
  for (const std::size_t n : work.several) {
    double marginal0 = 0.0;
    bool possible = true, fixed = false;
    for (std::size_t i = in.offset[n]; i < in.offset[n + 1] && possible; ++i) {
      const std::size_t k = in.member[i];
      const double u = T - in.tau[k];
      possible = u > 0.0;
      marginal0 += (in.a[k] * u + in.e[k] * in.f[k]) / (u * u);
      fixed = fixed || in.f[k] > 0.0;
    }
    // rho_n(0), as group_at_price_convex tests it; with fixed costs the bound of a lazy cut,
    // whose work.threshold[n] keeps the last threshold found: the hint of settle.
    work.lazy[n] = possible && fixed ? 1 : 0;
    work.cut[n] = possible ? 1.0 / std::sqrt(marginal0) : -1.0;
    if (!possible) work.threshold[n] = kInf;
    else if (!fixed) work.threshold[n] = 0.0;
  }
}

// The threshold and cut of group n (of several members, with fixed costs) at the prepared T,
// whose cut still holds its bound rho_n(0).
void settle(const Instance& in, std::size_t n, double T, InnerWork& work) {
  const double least = participation_threshold(in, n, T, work.threshold[n]);
  const double U = compute_limit(in, n, T);
  work.threshold[n] = least;
  work.lazy[n] = 0;
  if (!(least < U)) {
    work.cut[n] = -1.0;
  } else if (least > 0.0) {  // rho_n at the threshold
    work.cut[n] = 1.0 / std::sqrt(group_sums(in, n, T, U, least, U - least).G1);
  }  // else the cut is rho_n(0), which it holds
}

// The cut of group n at the prepared T, settled first where sigma lies below its bound.
double cut_at(const Instance& in, std::size_t n, double T, double sigma, InnerWork& work) {
  if (work.lazy[n] && sigma < work.cut[n]) settle(in, n, T, work);
  return work.cut[n];
}

// Whether a group with this cut takes load at sigma: below the cut, or at it when its load jumps
// there (a threshold).
inline bool on_at(double sigma, double cut, bool jumps) {
  return sigma < cut || (jumps && sigma == cut);
}

// One pass of the price search at sigma (prepared T): sum_n x_n(sigma) - 1 and its derivative,
// the cuts nearest to sigma (the least cut of a loaded group, the largest of a group without
// load) and the load that leaves just past sigma (groups with thresholds cut at sigma).
struct PricePass {
  double value = 0.0, slope = 0.0, next_cut = kInf, prev_cut = -kInf, drop = 0.0;
};

// With x and z, also writes the loads and slacks.
PricePass loads_at_price(const Instance& in, double T, double sigma, InnerWork& work,
                         double* x = nullptr, double* z = nullptr) {
  PricePass pass;
  double sum = 0.0, ds = 0.0, drop = 0.0, next_cut = kInf, prev_cut = -kInf;
  const std::size_t S = work.single.size();
  const double* limit = work.limit.data();
  const double* rate = work.rate.data();
  const double* cut = work.single_cut.data();
  const double* least = work.single_threshold.data();
  for (std::size_t i = 0; i < S; ++i) {  // no branch
    const bool jumps = least[i] > 0.0;
    const bool on = on_at(sigma, cut[i], jumps);
    const double slack = rate[i] * sigma;
    const double load = on ? std::max(limit[i] - slack, 0.0) : 0.0;
    sum += load;
    ds -= on ? rate[i] : 0.0;
    drop += on && jumps && sigma == cut[i] ? load : 0.0;
    next_cut = on ? std::min(next_cut, cut[i]) : next_cut;
    prev_cut = on ? prev_cut : std::max(prev_cut, cut[i]);
    if (x) {
      x[work.single[i]] = load;
      z[work.single[i]] = on ? slack : 0.0;
    }
  }
  for (const std::size_t n : work.several) {
    const double c = cut_at(in, n, T, sigma, work);
    const bool jumps = !work.lazy[n] && work.threshold[n] > 0.0;
    const bool on = on_at(sigma, c, jumps);
    GroupPoint gp;
    if (on) {
      gp = group_at_price_convex(in, n, T, sigma);
      next_cut = std::min(next_cut, c);
      if (jumps && sigma == c) drop += gp.x;
    } else {
      prev_cut = std::max(prev_cut, c);
    }
    if (x) {
      x[n] = gp.x;
      z[n] = gp.z;
    }
    sum += gp.x;
    ds += gp.slope;
  }
  pass.value = sum - 1.0;
  pass.slope = ds;
  pass.next_cut = next_cut;
  pass.prev_cut = prev_cut;
  pass.drop = drop;
  return pass;
}

// The sums the outer Newton step of the joint scheme needs at the loads x (slacks z) found at a
// price sigma (docs/algorithms.md 3.5.1), over the workers of loaded groups, with y_k the
// denominator of b_k = (f_k + a_k x_n) / y_k:
//   G = sum_k b_k                 the bandwidth share the loads need,
//   Q = sum_k b_k / y_k           -dG/dT at fixed loads, which is dG*/dT at the optimum (envelope),
//   slope = sum_n dx_n/dsigma,    drift = sum_n dx_n/dT   along the price condition
//                                 G_n'(x_n; T) = sigma^-2, from G_n'' and dG_n'/dT.
struct OuterSums {
  double G = 0.0, Q = 0.0, slope = 0.0, drift = 0.0;
};

OuterSums outer_sums(const Instance& in, double T, const double* x, const double* z) {
  OuterSums sums;
  for (std::size_t n = 0; n < in.N; ++n) {
    if (!(x[n] > 0.0)) continue;
    const bool single = in.offset[n + 1] - in.offset[n] == 1;  // y = e z (group_sums)
    const double U = single ? 0.0 : compute_limit(in, n, T);
    double G1 = 0.0, G2 = 0.0, G1T = 0.0;
    for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
      const std::size_t k = in.member[i];
      const double u = T - in.tau[k];
      const double w = in.a[k] * u + in.e[k] * in.f[k];
      const double y = single ? in.e[k] * z[n] : in.e[k] * ((u / in.e[k] - U) + z[n]);
      const double b = (in.f[k] + in.a[k] * x[n]) / y;  // the load, not U - z (group_sums)
      // G decides feasibility and is divided exactly; the derivatives only steer the steps,
      // and take the reciprocal of y instead of four more divisions.
      const double r = 1.0 / y;
      const double w2 = w * r * r;
      sums.G += b;
      sums.Q += b * r;
      G1 += w2;
      G2 += 2.0 * w2 * in.e[k] * r;
      G1T += in.a[k] * r * r - 2.0 * w2 * r;
    }
    sums.slope -= 2.0 * G1 * std::sqrt(G1) / G2;
    sums.drift -= G1T / G2;
  }
  return sums;
}

// Solves sum_n x_n(sigma) = 1, a decreasing function of sigma that jumps down at the cuts of
// groups with thresholds, inside a bracket [lo, hi] (sum >= 1 at lo, < 1 at hi; hi may be
// infinite), from `sigma` (0, or a warm start). Newton steps; where one leaves the bracket or
// stalls (not below half the step before last), the next point is the one cut inside the
// bracket when there is exactly one (which settles whether the root is at its jump), else a
// secant (regula falsi) point and a bisection in turn. The root lies at a jump when the sum at
// lo is at least 1 and falls below 1 just past lo. Then returns the bandwidth of the loads found
// (or the lo side's, when the root is at a jump: the groups that jumped give back the excess),
// scaled to sum to exactly 1. Writes x (per group), the price found in *price and, when asked,
// the outer step's sums. prepare(T) must have run.
InnerResult price_search(const Instance& in, double T, double* x, InnerWork& work, double sigma,
                         double hi, double* price, OuterSums* sums) {
  InnerResult res;
  // prev_cut_hi: the largest cut of a group without load at hi, known once hi is a point read
  // (a given hi is a bound only: every cut may lie below it).
  double lo = 0.0, value_lo = 0.0, value_hi = 0.0, next_cut_lo = kInf, prev_cut_hi = kInf;
  double step = kInf, step_before = kInf;
  bool have_lo = false, at_jump = false;
  int fallbacks = 0;
  PricePass pass = loads_at_price(in, T, sigma, work);
  if (sigma == 0.0 && !(pass.value > 0.0)) return res;  // even unlimited bandwidth is too little
  auto record = [&]() {
    if (pass.value >= 0.0) {
      lo = sigma;
      value_lo = pass.value;
      next_cut_lo = pass.next_cut;
      have_lo = true;
      at_jump = pass.value - pass.drop < 0.0;
    } else {
      hi = sigma;
      value_hi = pass.value;
      prev_cut_hi = pass.prev_cut;
    }
  };
  record();
  res.converged = false;
  for (int it = 0; it < kMaxBisection; ++it) {
    if (pass.value == 0.0 || at_jump) { res.converged = true; break; }
    double next = pass.slope < 0.0 ? sigma - pass.value / pass.slope : kInf;
    // A step within rounding: the root, unless the sum is still off by more than a jump there
    // (a load limit - rate sigma that cancels): then the bracket narrows on.
    const bool tiny = std::fabs(next - sigma) <= 4.0 * kEps * sigma;
    if (tiny && (std::fabs(pass.value) <= kJumpTolerance || !have_lo || !std::isfinite(hi))) {
      res.converged = true;
      break;
    }
    if (tiny || !(next > lo && next < hi) || std::fabs(next - sigma) > 0.5 * step_before) {
      if (!have_lo) {  // no point at or above 1 yet: whether T is feasible at all
        next = 0.0;
      } else if (!std::isfinite(hi)) {
        next = 2.0 * sigma;
      } else if (next_cut_lo < hi && next_cut_lo >= prev_cut_hi) {
        next = next_cut_lo;  // the one cut inside the bracket
      } else if (++fallbacks % 2 == 1) {
        next = lo + value_lo / (value_lo - value_hi) * (hi - lo);
      } else {
        next = lo + 0.5 * (hi - lo);
      }
      if (have_lo && !(next > lo && next < hi)) next = lo + 0.5 * (hi - lo);
    }
    if (have_lo && !(next > lo && next < hi)) {  // the bracket is down to rounding
      res.converged = true;
      break;
    }
    step_before = step;
    step = std::fabs(next - sigma);
    sigma = next;
    pass = loads_at_price(in, T, sigma, work);
    if (sigma == 0.0 && !(pass.value > 0.0)) return InnerResult{};
    record();
    if (std::fabs(pass.value) <= 4.0 * kEps) { res.converged = true; break; }
  }
  // Without fixed costs the sum is continuous in sigma and the last point is the root up to
  // rounding; with them the root can lie at a jump, and then the lo side is taken and trimmed.
  // A last point well below the root is never scaled up: where the sum falls from above 1 to far
  // below it within the resolution of sigma (near-tied, communication-bound workers), its loads
  // may all be zero; the lo side, at or above 1, is scaled down instead. The search kept only
  // sums; the loads of the point taken are formed once here.
  double surplus = pass.value;
  if (have_lo && (pass.value < -kJumpTolerance ||
                  (work.any_fixed && !(std::fabs(pass.value) <= kJumpTolerance)))) {
    surplus = value_lo;
    sigma = lo;
  }
  if (at_jump) hi = std::nextafter(lo, kInf);
  double* z = work.z.data();
  loads_at_price(in, T, sigma, work, x, z);
  if (work.any_fixed && surplus > 4.0 * kEps && std::isfinite(hi)) {
    loads_at_price(in, T, hi, work, work.x_hi.data(), work.z_hi.data());
    for (std::size_t n = 0; n < in.N && surplus > 0.0; ++n) {
      if (x[n] > 0.0 && work.x_hi[n] == 0.0) {  // jumped in between lo and hi
        const double cut = std::min(surplus, x[n]);
        x[n] -= cut;
        z[n] += cut;
        surplus -= cut;
      }
    }
  }
  if (surplus != 0.0) {  // x <- x / (1 + surplus), keeping the slack exact
    for (std::size_t n = 0; n < in.N; ++n) {
      if (!(x[n] > 0.0)) continue;  // unchanged
      z[n] += x[n] * surplus / (1.0 + surplus);
      x[n] /= 1.0 + surplus;
    }
  }
  if (price) *price = sigma;
  if (sums) {
    *sums = outer_sums(in, T, x, z);
    res.bandwidth = sums->G;
    return res;
  }
  double total = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    if (x[n] > 0.0) total += group_bandwidth(in, n, T, x[n], z[n]);
  }
  res.bandwidth = total;
  return res;
}

// The inner level of the nested bisection: the price search from sigma = 0 inside
// [0, sigma_hi], beyond which no group takes load.
InnerResult min_bandwidth(const Instance& in, double T, double* x, InnerWork& work) {
  double sigma_hi = 0.0;
  for (std::size_t n = 0; n < in.N; ++n) {
    double marginal0 = 0.0;
    bool possible = true;
    for (std::size_t i = in.offset[n]; i < in.offset[n + 1]; ++i) {
      const std::size_t k = in.member[i];
      const double u = T - in.tau[k];
      if (!(u > 0.0)) { possible = false; break; }
      marginal0 += (in.a[k] * u + in.e[k] * in.f[k]) / (u * u);
    }
    if (possible) sigma_hi = std::max(sigma_hi, 1.0 / std::sqrt(marginal0));
  }
  prepare(in, T, work);
  return price_search(in, T, x, work, 0.0, sigma_hi, nullptr, nullptr);
}

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

// What a Newton solve of a screened instance (its candidate groups only) tells the screen
// (docs/algorithms.md 3.5.2): the last latency read and its price, and, with fixed costs, the
// certificate's latency and price. `plain` is false where the solve did not end on Newton's own
// answer (untrusted loads, a failed certificate, or the start kept); the screen then solves the
// whole instance instead, and the solve stops there.
struct NewtonReport {
  bool fixed = false;  // in: the whole instance has fixed communication (certify)
  bool plain = true;
  double T = 0.0, sigma = 0.0, T_c = 0.0, sigma_c = 0.0;
};

void allocate_general(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
                      const double* bandwidth_in, const Options& options, Result& out,
                      std::vector<std::size_t>& index, NewtonReport* report);

// Writes the loads' parameter-aware bandwidth into b (K shares), whose search converged iff
// *b_converged.
RootStats joint_newton(const Instance& in, double L, double* x_best, double* b,
                       bool* b_converged, NewtonReport* report = nullptr) {
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

// ---------------------------------------------------------------------------------------------
// Screening (docs/algorithms.md 3.5.2). At the joint optimum only a few groups carry load (a few
// hundred of 10^5 on the benchmark's cells), and a group carries load only if its price at zero
// load beats the optimum's: rho_n(0) > sigma, which needs sigma^2 (a_k u_k + e_k f_k) < u_k^2
// for every member (u_k = T - tau_k > 0). So the Newton method solves the instance of a few
// candidate groups and then verifies the others at the latency and price it found: a group
// outside whose cut lies above that price would have taken load, and joins the candidates for
// another round. When none would, the candidates' answer satisfies the optimality conditions of
// the whole instance (and, with fixed costs, its certificate covers every group).
constexpr std::size_t kScreenMin = 128;     // groups; fewer are solved whole
constexpr int kScreenRounds = 4;            // then the whole instance is solved
constexpr std::size_t kScreenSample = 1024; // keys read to place the first candidates' cut-off

// The workers of some groups (full ids, ascending) as a Problem of their own, group ids
// renumbered in that order and workers kept in their order.
struct Subset {
  std::vector<double> beta, compute, alpha, tau;
  std::vector<std::int64_t> group;
  std::vector<std::size_t> worker;  // full ids
  Problem problem;
};

// slot: n_groups entries of -1 (with group ids; left as found).
void take_groups(const Problem& p, const std::vector<std::size_t>& groups,
                 std::vector<std::int64_t>& slot, Subset& s) {
  s.worker.clear();
  s.group.clear();
  if (!p.group) {
    s.worker.assign(groups.begin(), groups.end());
  } else {
    for (std::size_t i = 0; i < groups.size(); ++i) slot[groups[i]] = static_cast<std::int64_t>(i);
    // Counted first, so that the lists take just their size (a list of every worker would be
    // fresh pages, each a fault, on every call).
    std::size_t m = 0;
    for (std::size_t k = 0; k < p.n_workers; ++k)
      m += slot[static_cast<std::size_t>(p.group[k])] >= 0 ? 1 : 0;
    s.worker.resize(m);
    s.group.resize(m);
    for (std::size_t k = 0, j = 0; j < m; ++k) {
      const std::int64_t i = slot[static_cast<std::size_t>(p.group[k])];
      if (i >= 0) {
        s.worker[j] = k;
        s.group[j++] = i;
      }
    }
    for (const std::size_t g : groups) slot[g] = -1;
  }
  const std::size_t m = s.worker.size();
  s.beta.resize(m);
  s.compute.resize(m);
  s.alpha.resize(p.alpha ? m : 0);
  s.tau.resize(p.tau ? m : 0);
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = s.worker[i];
    s.beta[i] = p.beta[k];
    s.compute[i] = p.compute[k];
    if (p.alpha) s.alpha[i] = p.alpha[k];
    if (p.tau) s.tau[i] = p.tau[k];
  }
  s.problem = Problem{};
  s.problem.n_workers = m;
  s.problem.n_groups = groups.size();
  s.problem.beta = s.beta.data();
  s.problem.compute = s.compute.data();
  s.problem.alpha = p.alpha ? s.alpha.data() : nullptr;
  s.problem.tau = p.tau ? s.tau.data() : nullptr;
  s.problem.group = p.group ? s.group.data() : nullptr;
  s.problem.params = p.params;
  s.problem.bandwidth = p.bandwidth;
}

// The checks of normalise() (check_workers: the same expressions, without a division per
// worker), then the group ids in one pass. True when all hold (else normalise() runs and throws
// its message). Writes whether any worker has fixed communication and, with group ids, each
// group's size and key, the sum of its members' beta_k (L / B times it is about T G_n'(0), the
// group's marginal bandwidth at zero load, in whose order the basic model loads groups); without
// group ids the key is beta itself.
bool screen_inputs(const Problem& p, std::vector<double>& key, std::vector<std::size_t>& size,
                   bool* fixed) {
  check_scalars(p);
  const std::size_t K = p.n_workers, N = p.n_groups;
  if (K == 0 || N == 0 || N > K || !p.beta || !p.compute || (!p.group && N != K)) return false;
  if (check_workers(p, nullptr).fault != WorkerFault::none) return false;
  bool any_fixed = false;
  for (std::size_t k = 0; p.alpha && k < K && !any_fixed; ++k) any_fixed = p.alpha[k] > 0.0;
  *fixed = any_fixed;
  if (!p.group) return true;
  key.assign(N, 0.0);
  size.assign(N, 0);
  for (std::size_t k = 0; k < K; ++k) {
    const std::int64_t id = p.group[k];
    if (id < 0 || static_cast<std::uint64_t>(id) >= N) return false;
    key[static_cast<std::size_t>(id)] += p.beta[k];
    ++size[static_cast<std::size_t>(id)];
  }
  for (std::size_t n = 0; n < N; ++n)
    if (size[n] == 0) return false;  // every group has a member
  return true;
}

// The test of screen_violators on every worker: appends to `hits` the workers k (ascending) with
// rho_k(0) > sigma at one of the two (T_j, sigma_j), q_j = (L / B) sigma_j^2:
//   u = T_j - tau_k > 0  and  q_j (beta_k u + compute_k alpha_k) < u^2 (1 + 1e-9).
struct ScreenTest {
  double T0, q0, T1, q1;
  bool operator()(const Problem& p, std::size_t k) const {
    constexpr double kLoose = 1.0 + 1e-9;
    const double t = p.tau ? p.tau[k] : 0.0;
    const double c = p.alpha ? p.compute[k] * p.alpha[k] : 0.0;
    const double u0 = T0 - t, u1 = T1 - t;
    return (u0 > 0.0 && q0 * (p.beta[k] * u0 + c) < u0 * u0 * kLoose) ||
           (u1 > 0.0 && q1 * (p.beta[k] * u1 + c) < u1 * u1 * kLoose);
  }
};

#if defined(PABA_X86_SIMD)
// Four workers at a time, in order. Same result.
__attribute__((target("avx"))) void screen_hits_avx(const Problem& p, const ScreenTest& test,
                                                    std::vector<std::size_t>& hits) {
  const std::size_t K = p.n_workers;
  const __m256d T0 = _mm256_set1_pd(test.T0), q0 = _mm256_set1_pd(test.q0);
  const __m256d T1 = _mm256_set1_pd(test.T1), q1 = _mm256_set1_pd(test.q1);
  const __m256d loose = _mm256_set1_pd(1.0 + 1e-9), zero = _mm256_setzero_pd();
  std::size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const __m256d t = p.tau ? _mm256_loadu_pd(p.tau + k) : zero;
    const __m256d c = p.alpha ? _mm256_mul_pd(_mm256_loadu_pd(p.compute + k),
                                              _mm256_loadu_pd(p.alpha + k))
                              : zero;
    const __m256d beta = _mm256_loadu_pd(p.beta + k);
    const __m256d u0 = _mm256_sub_pd(T0, t), u1 = _mm256_sub_pd(T1, t);
    const __m256d hit0 = _mm256_and_pd(
        _mm256_cmp_pd(u0, zero, _CMP_GT_OQ),
        _mm256_cmp_pd(_mm256_mul_pd(q0, _mm256_add_pd(_mm256_mul_pd(beta, u0), c)),
                      _mm256_mul_pd(_mm256_mul_pd(u0, u0), loose), _CMP_LT_OQ));
    const __m256d hit1 = _mm256_and_pd(
        _mm256_cmp_pd(u1, zero, _CMP_GT_OQ),
        _mm256_cmp_pd(_mm256_mul_pd(q1, _mm256_add_pd(_mm256_mul_pd(beta, u1), c)),
                      _mm256_mul_pd(_mm256_mul_pd(u1, u1), loose), _CMP_LT_OQ));
    // The lanes' tests are the scalar test's operations (IEEE, in the same order): their
    // mask is its answer.
    int bits = _mm256_movemask_pd(_mm256_or_pd(hit0, hit1));
    while (bits) {
      hits.push_back(k + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(bits))));
      bits &= bits - 1;
    }
  }
  for (; k < K; ++k)
    if (test(p, k)) hits.push_back(k);
}
#endif

void screen_hits(const Problem& p, const ScreenTest& test, std::vector<std::size_t>& hits) {
#if defined(PABA_X86_SIMD)
  if (has_avx()) {
    screen_hits_avx(p, test, hits);
    return;
  }
#endif
  for (std::size_t k = 0; k < p.n_workers; ++k)
    if (test(p, k)) hits.push_back(k);
}

// The groups outside the candidates (in_c) that take load at the price sigma of the latency T,
// for each (T, sigma) of `at`, appended to `found` in ascending order: first a test on every
// member, rho_k(0) > sigma (ScreenTest: a group has load only if each member passes it, since
// G_n'(0) sums theirs), then the cut of the few groups that pass it (prepare on their own
// instance). False when a (T, sigma) cannot be read.
bool screen_violators(const Problem& p, const std::vector<unsigned char>& in_c,
                      const std::vector<std::size_t>& size, const double (*at)[2], int n_at,
                      std::vector<std::int64_t>& slot, std::vector<std::size_t>& found) {
  const double LB = p.params / p.bandwidth;
  for (int j = 0; j < n_at; ++j) {
    const double T = at[j][0], sigma = at[j][1];
    if (!(T > 0.0) || !std::isfinite(T) || !(sigma > 0.0) || !std::isfinite(sigma)) return false;
  }
  const int last = n_at - 1;
  const ScreenTest test{at[0][0], LB * at[0][1] * at[0][1], at[last][0],
                        LB * at[last][1] * at[last][1]};
  std::vector<std::size_t> hits, pass;
  screen_hits(p, test, hits);
  if (!p.group) {
    for (const std::size_t k : hits)
      if (!in_c[k]) pass.push_back(k);
  } else {
    std::vector<std::size_t> count;
    for (const std::size_t k : hits) {
      const auto g = static_cast<std::size_t>(p.group[k]);
      if (in_c[g]) continue;
      if (count.empty()) count.assign(p.n_groups, 0);
      if (++count[g] == size[g]) pass.push_back(g);
    }
    std::sort(pass.begin(), pass.end());
  }
  if (pass.empty()) return true;
  Subset sub;
  take_groups(p, pass, slot, sub);
  const Instance in = normalise(sub.problem);
  InnerWork work(in);
  std::vector<unsigned char> on(pass.size(), 0);
  for (int j = 0; j < n_at; ++j) {
    const double T = at[j][0], sigma = at[j][1];
    prepare(in, T, work);
    for (std::size_t i = 0; i < pass.size(); ++i) {
      const double c = cut_at(in, i, T, sigma, work);
      const bool jumps = !work.lazy[i] && work.threshold[i] > 0.0;
      if (on_at(sigma, c, jumps)) on[i] = 1;
    }
  }
  for (std::size_t i = 0; i < pass.size(); ++i)
    if (on[i]) found.push_back(pass[i]);
  return true;
}

bool screened_newton(const Problem& p, const Options& options, Result& out,
                     std::vector<std::size_t>& index) {
  std::vector<double> key;
  std::vector<std::size_t> size;
  bool fixed = false;
  if (!screen_inputs(p, key, size, &fixed)) {
    normalise(p);  // throws the message of the first failing check
    return false;
  }
  const std::size_t K = p.n_workers, N = p.n_groups;
  const auto root = static_cast<std::size_t>(std::ceil(std::sqrt(static_cast<double>(N))));
  // A group of several members costs Newton steps in every price pass, a one-member group a
  // closed form: with groups the first candidates are fewer, and a miss costs a round instead.
  const std::size_t first = N < K ? 32 + root : 64 + 2 * root;
  if (first >= N) return false;
  // The first candidates: the groups whose key is at most the first-th smallest of every key, or
  // at the same quantile of every stride-th key beyond kScreenSample groups.
  const double* keys = p.group ? key.data() : p.beta;
  double cutoff = 0.0;
  {
    std::size_t stride = 1, rank = first - 1;
    if (N > kScreenSample) stride = N / (kScreenSample / 2);
    const std::size_t count = N / stride;
    if (stride > 1) rank = first * count / N;
    std::vector<double> sample(count);
    for (std::size_t i = 0; i < count; ++i) sample[i] = keys[i * stride];
    std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(rank),
                     sample.end());
    cutoff = sample[rank];
  }
  std::vector<std::size_t> candidates(N);
  std::vector<unsigned char> in_c(N, 0);
  {
    std::size_t m = 0;
    for (std::size_t n = 0; n < N; ++n) {  // no branch: the candidates are scattered
      const bool in = keys[n] <= cutoff;
      candidates[m] = n;
      m += in;
      in_c[n] = in;
    }
    candidates.resize(m);
  }
  std::vector<std::int64_t> slot(p.group ? N : 0, -1);
  Subset sub;
  std::vector<std::int64_t> loads;
  std::vector<double> relaxed, bandwidth, worker_latency;
  std::vector<std::size_t> found;
  long iterations = 0;
  for (int round = 0; round < kScreenRounds; ++round) {
    if (candidates.size() >= N) return false;
    take_groups(p, candidates, slot, sub);
    const std::size_t m = candidates.size(), w = sub.worker.size();
    loads.assign(m, 0);
    relaxed.assign(m, 0.0);
    bandwidth.assign(w, 0.0);
    worker_latency.assign(w, 0.0);
    Result r;
    r.loads = loads.data();
    r.relaxed_loads = relaxed.data();
    r.bandwidth = bandwidth.data();
    r.worker_latency = worker_latency.data();
    r.method = out.method;
    NewtonReport report;
    report.fixed = fixed;
    allocate_general(sub.problem, Scheme::joint, nullptr, nullptr, options, r, index, &report);
    iterations += r.iterations;
    if (!report.plain || r.status == status_infeasible) return false;
    found.clear();
    const double at[2][2] = {{report.T, report.sigma}, {report.T_c, report.sigma_c}};
    if (!screen_violators(p, in_c, size, at, fixed ? 2 : 1, slot, found)) return false;
    if (found.empty()) {
      std::fill(out.loads, out.loads + N, 0);
      std::fill(out.relaxed_loads, out.relaxed_loads + N, 0.0);
      std::fill(out.bandwidth, out.bandwidth + K, 0.0);
      std::fill(out.worker_latency, out.worker_latency + K, 0.0);
      for (std::size_t i = 0; i < m; ++i) {
        out.loads[candidates[i]] = loads[i];
        out.relaxed_loads[candidates[i]] = relaxed[i];
      }
      for (std::size_t i = 0; i < w; ++i) {
        out.bandwidth[sub.worker[i]] = bandwidth[i];
        out.worker_latency[sub.worker[i]] = worker_latency[i];
      }
      out.latency = r.latency;
      out.relaxed_latency = r.relaxed_latency;
      out.iterations = iterations;
      out.status = r.status;
      return true;
    }
    for (const std::size_t n : found) {
      if (!in_c[n]) {
        in_c[n] = 1;
        candidates.push_back(n);
      }
    }
    std::sort(candidates.begin(), candidates.end());
  }
  return false;
}

}  // namespace

double evaluate(const Problem& problem, const double* loads, const double* bandwidth,
                double* worker_latency) {
  if (problem.n_workers == 0) return 0.0;
  if (!problem.group && problem.n_groups != problem.n_workers)
    throw std::invalid_argument("groups: without group ids every worker is its own group");
  return latency_of(problem, loads, bandwidth, worker_latency);
}

void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, double tol, Result& out) {
  Options options;
  options.tol = tol;
  allocate(problem, scheme, loads_in, bandwidth_in, options, out);
}

void allocate(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
              const double* bandwidth_in, const Options& options, Result& out) {
  std::vector<std::size_t> index;
  detail::allocate_into(problem, scheme, loads_in, bandwidth_in, options, out, index);
}

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
      return;
    }
    out.method = static_cast<int>(options.method == Method::bisection ? Method::bisection
                                                                       : Method::newton);
    if (out.method == static_cast<int>(Method::newton) && options.screen &&
        problem.n_groups >= kScreenMin && screened_newton(problem, options, out, index))
      return;
  }
  allocate_general(problem, scheme, loads_in, bandwidth_in, options, out, index, nullptr);
}

namespace {

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

}  // namespace
}  // namespace paba
