// The joint scheme's inner level at a fixed latency T (docs/algorithms.md 3.5): the least
// bandwidth that carries the whole model, by KKT (G_n'(x_n) = price) and a bracketed search on
// the price; groups with fixed costs (f > 0) are priced on the convex envelope of their cost
// (participation_threshold). Mirrored line for line by python/paba/reference/price_search.py,
// but for the members' terms that depend on T alone, which prepare forms once per T here and the
// twin on each pass (the same operations: the same bits).
//   prepare         the groups' thresholds and cuts at T (lazy for groups of several members
//                   with fixed costs: settled when a price below their bound is read);
//   loads_at_price  one pass at a price: sum_n x_n(sigma) - 1, its slope and the nearest cuts;
//   price_search    Newton steps on the price inside a bracket [lo, hi], invariant: the sum of
//                   the loads is at least 1 at lo and below 1 at hi; cuts, secant points and
//                   bisection as safeguards;
//   min_bandwidth   the search over every price from 0 (the nested bisection's inner level).
//
// Joint scheme, inner level: at a fixed T, the least bandwidth that carries the whole model.
// Worker k with load x needs b_k(x) = (f_k + a_k x) / (u_k - e_k x), u_k = T - tau_k, so group n
// needs G_n(x) = sum_k b_k(x), convex increasing on [0, U_n), U_n = min_k u_k / e_k, with
//   G_n'(x) = sum_k w_k / (u_k - e_k x)^2,   w_k = a_k u_k + e_k f_k.
// KKT: every group with load has G_n'(x_n) = price. In the variable sigma = price^(-1/2),
// rho_n(x) = G_n'(x)^(-1/2) is concave and decreasing (a power mean of the affine y_k / sqrt(w_k)),
// and x_n(sigma) solves rho_n(x) = sigma (0 when rho_n(0) <= sigma). For one member it is linear:
// x = (u - sqrt(w) sigma) / e. Groups without load pay nothing (this drops non-participating
// workers, which matters when f > 0: docs/algorithms.md 3.5).
#include "general.hpp"
#include "simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace paba {
namespace detail {

namespace {

// A pass after one whose sum was within this of 1 writes its loads (price_search).
constexpr double kEndgame = 1e-3;
// A group's Newton step on its load this small, relative to its slack, is its last
// (group_at_price_convex).
constexpr double kLoadLastStep = 1e-7;

// A group of several members (one-member groups are in closed form in prepare and
// loads_at_price: x = limit - rate sigma), by its position j in work.several, at the prepared T:
// the members' w, g and sqrt(w) and the group's U_n, rho_n(0) and binding sum are prepare's, formed
// by the same operations as group_sums forms them, so the steps are the same bits as from the
// instance's data.
GroupPoint group_at_price_convex(const InnerWork& work, std::size_t j, double sigma) {
  GroupPoint gp;
  const double U = work.several_U[j];
  if (!(U == U)) return gp;  // a member cannot finish by T: the group takes no load
  if (!(work.several_rho0[j] > sigma)) return gp;  // rho_n(0) <= sigma: no load
  const std::size_t first = work.several_first[j], last = work.several_first[j + 1];
  const double* e = work.member_e.data();
  const double* w = work.member_w.data();
  const double* g = work.member_g.data();
  const double* root_w = work.member_root_w.data();
  // Start at the smallest single-member root (largest slack): it lies right of the group's root
  // (rho <= sigma), and Newton steps on the concave decreasing rho then move left monotonically.
  double z = 0.0;
  for (std::size_t i = first; i < last; ++i) z = std::max(z, root_w[i] * sigma / e[i] - g[i]);
  if (!(z < U)) return gp;
  if (sigma == 0.0) {
    // x = U_n. Near it only the members that bind at U_n count: rho_n(x) ~ (U_n - x) /
    // sqrt(sum w_k / e_k^2), so the one-sided slope is -sqrt(sum w_k / e_k^2) over them.
    gp.x = U;
    gp.slope = -std::sqrt(work.several_binding[j]);
    return gp;
  }
  double G1 = 0.0, G2 = 0.0;
  for (int it = 0; it < kMaxNewton; ++it) {
    // G' and G'' at x = U - z (G itself is not read here), from the reciprocal of each y: one
    // division a member instead of two (they only steer the steps; the load is the root).
    G1 = 0.0;
    G2 = 0.0;
    for (std::size_t i = first; i < last; ++i) {
      const double r = 1.0 / (e[i] * (g[i] + z));
      const double w2 = w[i] * r * r;
      G1 += w2;
      G2 += 2.0 * w2 * e[i] * r;
    }
    // Newton on rho(x) = sigma: x <- x + 2 G' (1 - sigma sqrt(G')) / G'' (a step to the left).
    const double step = 2.0 * G1 * (1.0 - sigma * std::sqrt(G1)) / G2;
    if (!(step < 0.0) || -step <= 4.0 * kEps * z) break;
    const double next = z - step;
    // The steps converge quadratically from the right: after one below kLoadLastStep (of z) the
    // error is about its square, below rounding, so it is taken and is the last (no pass over
    // the members confirms it; the slope below is then the point before's).
    if (next < U && -step <= kLoadLastStep * z) {
      z = next;
      break;
    }
    z = next < U ? next : z + 0.5 * (U - z);
  }
  gp.x = U - z;
  gp.z = z;
  gp.slope = -2.0 * G1 * std::sqrt(G1) / G2;
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

// group_sums of the group at position j of work.several at the prepared T, from prepare's
// member terms (the same operations, so the same bits).
GroupSums several_sums(const InnerWork& work, std::size_t j, double x, double z) {
  GroupSums sums;
  const double* a = work.member_a.data();
  const double* e = work.member_e.data();
  const double* f = work.member_f.data();
  const double* w = work.member_w.data();
  const double* g = work.member_g.data();
  for (std::size_t i = work.several_first[j]; i < work.several_first[j + 1]; ++i) {
    const double y = e[i] * (g[i] + z);
    sums.G += (f[i] + a[i] * x) / y;
    sums.G1 += w[i] / (y * y);
    sums.G2 += 2.0 * w[i] * e[i] / (y * y * y);
  }
  return sums;
}

// The participation threshold of the group at position j of work.several (several members) at
// the prepared T, a lazy group's (settle): every member can finish by T and one has a fixed
// cost. hint: its threshold at a nearby T (the previous prepare's), or 0 for none.
double participation_threshold(const InnerWork& work, std::size_t j, double T,
                               double hint = 0.0) {
  // H is the sum of the members' own H_k (each increasing, with its root in closed form), so
  // the group's root lies between the least and the largest member root. Newton steps from the
  // largest (H >= 0 there) move left monotonically on the convex H: a few steps, where a start
  // at U_n / 2 took about 20. With a hint (the threshold at the last T), the steps start there
  // instead: a step from the left lands right of the root, and the steps then move left too.
  const double U = work.several_U[j];
  const std::size_t first = work.several_first[j], last = work.several_first[j + 1];
  const double* a = work.member_a.data();
  const double* e = work.member_e.data();
  const double* f = work.member_f.data();
  const double* tau = work.member_tau.data();
  const bool warm = hint > 0.0 && hint < kInf;
  double least = kInf, largest = 0.0;
  double lo = 0.0, hi = U, x = 0.0;
  bool right = false;  // a point with H > 0 was read: the steps now move left monotonically
  if (warm && hint < U) {
    x = hint;
  } else {
    for (std::size_t i = first; i < last; ++i) {
      const double root = member_threshold(a[i], e[i], f[i], T - tau[i]);
      least = std::min(least, root);
      largest = std::max(largest, root);
    }
    lo = std::min(least, U);
    x = largest < U && largest > 0.0 ? largest : lo + 0.5 * (hi - lo);
  }
  if (!(x > 0.0)) x = 0.5 * U;
  for (int it = 0; it < kMaxNewton; ++it) {
    const GroupSums at = several_sums(work, j, x, U - x);
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

}  // namespace

// Bandwidth needed by group n at the load x > 0 with slack z = U_n - x (see group_sums).
double group_bandwidth(const Instance& in, std::size_t n, double T, double x, double z) {
  const bool single = in.offset[n + 1] - in.offset[n] == 1;  // group_sums needs no U then
  return group_sums(in, n, T, single ? 0.0 : compute_limit(in, n, T), x, z).G;
}

namespace {

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

}  // namespace

// The groups' data at T: thresholds, cuts, and the one-member groups' limit and rate. A group
// that cannot finish by T gets the cut -1 (no load at any price). A group of several members
// with fixed costs is left lazy (its cut the bound rho_n(0)) until a price below it is read;
// settle then finds its threshold from its value at the T settled before (work.threshold).
void prepare(double T, InnerWork& work) {
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
  // Their members' w, g and sqrt(w) and the groups' U_n, rho_n(0) and binding sums at T, which
  // every price pass reads (group_at_price_convex), are formed here once.
  const double* ma = work.member_a.data();
  const double* me = work.member_e.data();
  const double* mf = work.member_f.data();
  const double* mtau = work.member_tau.data();
  for (std::size_t j = 0; j < work.several.size(); ++j) {
    const std::size_t n = work.several[j];
    const std::size_t first = work.several_first[j], last = work.several_first[j + 1];
    double marginal0 = 0.0, U = kInf;
    bool possible = true, fixed = false;
    for (std::size_t i = first; i < last && possible; ++i) {
      const double u = T - mtau[i];
      possible = u > 0.0;
      marginal0 += (ma[i] * u + me[i] * mf[i]) / (u * u);
      U = std::min(U, u / me[i]);
      fixed = fixed || mf[i] > 0.0;
    }
    double binding = 0.0;
    for (std::size_t i = first; possible && i < last; ++i) {
      const double u = T - mtau[i];
      const double w = ma[i] * u + me[i] * mf[i];
      const double g = u / me[i] - U;
      work.member_w[i] = w;
      work.member_g[i] = g;
      work.member_root_w[i] = std::sqrt(w);
      if (g == 0.0) binding += w / (me[i] * me[i]);
    }
    // rho_n(0), as group_at_price_convex tests it; with fixed costs the bound of a lazy cut,
    // whose work.threshold[n] keeps the last threshold found: the hint of settle.
    const double rho0 = 1.0 / std::sqrt(marginal0);
    work.several_U[j] = possible ? U : std::numeric_limits<double>::quiet_NaN();
    work.several_rho0[j] = rho0;
    work.several_binding[j] = binding;
    work.lazy[n] = possible && fixed ? 1 : 0;
    work.cut[n] = possible ? rho0 : -1.0;
    if (!possible) work.threshold[n] = kInf;
    else if (!fixed) work.threshold[n] = 0.0;
  }
  // A branch's groups (newton.cpp): one taking part prices its own convex cost, so its load
  // falls continuously to 0 at rho_n(0) (threshold 0); one left out has no load at any price.
  for (const auto& [n, side] : work.forced) {
    const std::size_t i = work.single_position(n);
    const bool single = i < S;
    double c = -1.0;
    if (side > 0 && work.cut[n] >= 0.0) {
      work.threshold[n] = 0.0;
      c = single ? limit[i] / rate[i] : work.cut[n];  // rho_n(0); a lazy group holds it
    }
    work.lazy[n] = 0;
    work.cut[n] = c;
    if (single) {
      cut[i] = c;
      threshold[i] = work.threshold[n];
    }
  }
}

namespace {

// The threshold and cut of group n (of several members, with fixed costs) at the prepared T,
// whose cut still holds its bound rho_n(0).
void settle(std::size_t n, double T, InnerWork& work) {
  const std::size_t j = work.several_position(n);
  const double least = participation_threshold(work, j, T, work.threshold[n]);
  const double U = work.several_U[j];
  work.threshold[n] = least;
  work.lazy[n] = 0;
  if (!(least < U)) {
    work.cut[n] = -1.0;
  } else if (least > 0.0) {  // rho_n at the threshold
    work.cut[n] = 1.0 / std::sqrt(several_sums(work, j, least, U - least).G1);
  }  // else the cut is rho_n(0), which it holds
}

}  // namespace

// The cut of group n at the prepared T, settled first where sigma lies below its bound.
double cut_at(std::size_t n, double T, double sigma, InnerWork& work) {
  if (work.lazy[n] && sigma < work.cut[n]) settle(n, T, work);
  return work.cut[n];
}

namespace {

// One-member group i in a price pass at sigma (no branch): its load limit - rate sigma where it
// is on, written with its slack at its id when x is given, added to the pass's sums.
inline void single_step(std::size_t i, const double* limit, const double* rate, const double* cut,
                        const double* least, double sigma, const std::size_t* ids, double* x,
                        double* z, double& sum, double& ds, double& drop, double& next_cut,
                        double& prev_cut) {
  const bool jumps = least[i] > 0.0;
  const bool on = on_at(sigma, cut[i], jumps);
  const double slack = rate[i] * sigma;
  const double load = on ? std::max(limit[i] - slack, 0.0) : 0.0;
  if (x) {
    x[ids[i]] = load;
    z[ids[i]] = on ? slack : 0.0;
  }
  sum += load;
  ds -= on ? rate[i] : 0.0;
  drop += on && jumps && sigma == cut[i] ? load : 0.0;
  next_cut = on ? std::min(next_cut, cut[i]) : next_cut;
  prev_cut = on ? prev_cut : std::max(prev_cut, cut[i]);
}

// The sums of a price pass over the one-member groups, lane by lane: lane l takes the groups
// i = l (mod 4) of the blocks of four read (a group of load x = limit - rate sigma, or none).
struct SinglesSums {
  double sum[4] = {0.0, 0.0, 0.0, 0.0}, ds[4] = {0.0, 0.0, 0.0, 0.0};
  double drop[4] = {0.0, 0.0, 0.0, 0.0};
  double next_cut[4] = {kInf, kInf, kInf, kInf}, prev_cut[4] = {-kInf, -kInf, -kInf, -kInf};
};

// The lanes of the first S - S % 4 groups; returns that count. The sums are latency-bound when
// formed one after another (each add waits for the last), and four independent lanes are what
// a vector register holds. With x (and z), writes each group's load (and slack) at its id.
std::size_t singles_lanes(const double* limit, const double* rate, const double* cut,
                          const double* least, std::size_t S, double sigma, SinglesSums& lanes,
                          const std::size_t* ids, double* x, double* z) {
  const std::size_t blocks = S - S % 4;
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::size_t l = i % 4;
    single_step(i, limit, rate, cut, least, sigma, ids, x, z, lanes.sum[l], lanes.ds[l],
                lanes.drop[l], lanes.next_cut[l], lanes.prev_cut[l]);
  }
  return blocks;
}

#if defined(PABA_X86_SIMD)
// singles_lanes four groups at a time: the same operations lane by lane, so the same bits.
__attribute__((target("avx"))) std::size_t singles_lanes_avx(
    const double* limit, const double* rate, const double* cut, const double* least,
    std::size_t S, double sigma, SinglesSums& lanes, const std::size_t* ids, double* x,
    double* z) {
  const std::size_t blocks = S - S % 4;
  const __m256d vs = _mm256_set1_pd(sigma), zero = _mm256_setzero_pd();
  const __m256d inf = _mm256_set1_pd(kInf), ninf = _mm256_set1_pd(-kInf);
  __m256d sum = zero, ds = zero, drop = zero, next = inf, prev = ninf;
  for (std::size_t i = 0; i < blocks; i += 4) {
    const __m256d c = _mm256_loadu_pd(cut + i), r = _mm256_loadu_pd(rate + i);
    const __m256d jumps = _mm256_cmp_pd(_mm256_loadu_pd(least + i), zero, _CMP_GT_OQ);
    const __m256d at = _mm256_and_pd(jumps, _mm256_cmp_pd(vs, c, _CMP_EQ_OQ));
    const __m256d on = _mm256_or_pd(_mm256_cmp_pd(vs, c, _CMP_LT_OQ), at);
    // std::max(a, 0.0) is a < 0 ? 0 : a, as _mm256_max_pd(zero, a) picks.
    const __m256d slack = _mm256_mul_pd(r, vs);
    const __m256d load = _mm256_and_pd(
        on, _mm256_max_pd(zero, _mm256_sub_pd(_mm256_loadu_pd(limit + i), slack)));
    if (x) {
      double loads[4], slacks[4];
      _mm256_storeu_pd(loads, load);
      _mm256_storeu_pd(slacks, _mm256_and_pd(on, slack));
      for (int l = 0; l < 4; ++l) {
        x[ids[i + l]] = loads[l];
        z[ids[i + l]] = slacks[l];
      }
    }
    sum = _mm256_add_pd(sum, load);
    ds = _mm256_sub_pd(ds, _mm256_and_pd(on, r));
    drop = _mm256_add_pd(drop, _mm256_and_pd(_mm256_and_pd(on, at), load));
    // The least cut of a loaded group and the largest of one without load: the selection is
    // made on the cut, off the chain of minima (and maxima) the lanes carry (the same values).
    next = _mm256_min_pd(next, _mm256_blendv_pd(inf, c, on));
    prev = _mm256_max_pd(prev, _mm256_blendv_pd(c, ninf, on));
  }
  _mm256_storeu_pd(lanes.sum, sum);
  _mm256_storeu_pd(lanes.ds, ds);
  _mm256_storeu_pd(lanes.drop, drop);
  _mm256_storeu_pd(lanes.next_cut, next);
  _mm256_storeu_pd(lanes.prev_cut, prev);
  return blocks;
}
#endif

#if defined(PABA_X86_SIMD)
__attribute__((target("avx"))) std::size_t rescale_loads_avx(double* x, double* z, std::size_t N,
                                                             double surplus) {
  const __m256d s = _mm256_set1_pd(surplus), d = _mm256_set1_pd(1.0 + surplus);
  const __m256d zero = _mm256_setzero_pd();
  std::size_t n = 0;
  for (; n + 4 <= N; n += 4) {
    const __m256d xv = _mm256_loadu_pd(x + n), zv = _mm256_loadu_pd(z + n);
    const __m256d loaded = _mm256_cmp_pd(xv, zero, _CMP_GT_OQ);
    const __m256d grown = _mm256_add_pd(zv, _mm256_div_pd(_mm256_mul_pd(xv, s), d));
    _mm256_storeu_pd(z + n, _mm256_blendv_pd(zv, grown, loaded));
    _mm256_storeu_pd(x + n, _mm256_blendv_pd(xv, _mm256_div_pd(xv, d), loaded));
  }
  return n;
}
#endif

// x <- x / (1 + surplus) for the loaded groups, keeping the slack exact (z grows by what x
// gives back); four groups at a time with AVX, the same operations (blends for the unloaded),
// so the same bits.
void rescale_loads(double* x, double* z, std::size_t N, double surplus) {
  std::size_t n = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) n = rescale_loads_avx(x, z, N, surplus);
#endif
  for (; n < N; ++n) {
    if (!(x[n] > 0.0)) continue;  // unchanged
    z[n] += x[n] * surplus / (1.0 + surplus);
    x[n] /= 1.0 + surplus;
  }
}

}  // namespace

// With x and z, also writes the loads and slacks.
PricePass loads_at_price(double T, double sigma, InnerWork& work, double* x, double* z) {
  PricePass pass;
  double sum = 0.0, ds = 0.0, drop = 0.0, next_cut = kInf, prev_cut = -kInf;
  const std::size_t S = work.single.size();
  const double* limit = work.limit.data();
  const double* rate = work.rate.data();
  const double* cut = work.single_cut.data();
  const double* least = work.single_threshold.data();
  // The one-member groups in blocks of four, each lane summing its own (singles_lanes; the
  // sums then join in one order on every path), then the rest one at a time.
  SinglesSums lanes;
  std::size_t done = 0;
  const std::size_t* ids = work.single.data();
#if defined(PABA_X86_SIMD)
  if (has_avx()) done = singles_lanes_avx(limit, rate, cut, least, S, sigma, lanes, ids, x, z);
#endif
  if (done == 0) done = singles_lanes(limit, rate, cut, least, S, sigma, lanes, ids, x, z);
  sum = (lanes.sum[0] + lanes.sum[1]) + (lanes.sum[2] + lanes.sum[3]);
  ds = (lanes.ds[0] + lanes.ds[1]) + (lanes.ds[2] + lanes.ds[3]);
  drop = (lanes.drop[0] + lanes.drop[1]) + (lanes.drop[2] + lanes.drop[3]);
  for (int l = 0; l < 4; ++l) {
    next_cut = std::min(next_cut, lanes.next_cut[l]);
    prev_cut = std::max(prev_cut, lanes.prev_cut[l]);
  }
  for (std::size_t i = done; i < S; ++i) {
    single_step(i, limit, rate, cut, least, sigma, ids, x, z, sum, ds, drop, next_cut, prev_cut);
  }
  for (std::size_t j = 0; j < work.several.size(); ++j) {
    const std::size_t n = work.several[j];
    const double c = cut_at(n, T, sigma, work);
    const bool jumps = !work.lazy[n] && work.threshold[n] > 0.0;
    const bool on = on_at(sigma, c, jumps);
    GroupPoint gp;
    if (on) {
      gp = group_at_price_convex(work, j, sigma);
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

namespace {

// Group n's load at sigma, as loads_at_price finds it (prepared T); i: its position in
// work.single where it has one member.
double load_at(const Instance& in, std::size_t n, std::size_t i, double T, double sigma,
               InnerWork& work) {
  if (in.offset[n + 1] - in.offset[n] == 1) {
    const bool on = on_at(sigma, work.single_cut[i], work.single_threshold[i] > 0.0);
    return on ? std::max(work.limit[i] - work.rate[i] * sigma, 0.0) : 0.0;
  }
  const double c = cut_at(n, T, sigma, work);
  const bool jumps = !work.lazy[n] && work.threshold[n] > 0.0;
  return on_at(sigma, c, jumps) ? group_at_price_convex(work, work.several_position(n), sigma).x
                                : 0.0;
}

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

}  // namespace

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
  // Passes near the root write their loads (x, work.z) as they read them: the search usually
  // ends on such a point, whose loads then need no pass of their own. formed: the sigma they
  // are for (NaN: none).
  double* z = work.z.data();
  double formed = std::numeric_limits<double>::quiet_NaN();
  PricePass pass = loads_at_price(T, sigma, work);
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
    const bool endgame = std::fabs(pass.value) <= kEndgame;
    sigma = next;
    pass = loads_at_price(T, sigma, work, endgame ? x : nullptr, endgame ? z : nullptr);
    if (endgame) formed = sigma;
    if (sigma == 0.0 && !(pass.value > 0.0)) return InnerResult{};
    record();
    if (std::fabs(pass.value) <= 4.0 * kEps) { res.converged = true; break; }
  }
  // Without fixed costs the sum is continuous in sigma and the last point is the root up to
  // rounding; with them the root can lie at a jump, and then the lo side is taken and trimmed.
  // A last point well below the root is never scaled up: where the sum falls from above 1 to far
  // below it within the resolution of sigma (near-tied, communication-bound workers), its loads
  // may all be zero; the lo side, at or above 1, is scaled down instead. The loads of the point
  // taken are formed here unless a pass near the root wrote them for that very point.
  double surplus = pass.value;
  if (have_lo && (pass.value < -kJumpTolerance ||
                  (work.any_fixed && !(std::fabs(pass.value) <= kJumpTolerance)))) {
    surplus = value_lo;
    sigma = lo;
  }
  if (at_jump) hi = std::nextafter(lo, kInf);
  if (!(formed == sigma)) loads_at_price(T, sigma, work, x, z);
  if (work.any_fixed && surplus > 4.0 * kEps && std::isfinite(hi)) {
    // The groups with load at sigma that have none at hi give back the surplus, in order. Each
    // group's load at hi is the one a pass at hi would find (load_at), read only for the groups
    // the loop reaches: every lazy group whose bound lies above hi lies above lo too, and the
    // search, having read lo, settled it, so such a pass would change nothing else either.
    const std::size_t S = work.single.size();
    for (std::size_t n = 0, i = 0; n < in.N && surplus > 0.0; ++n) {
      while (i < S && work.single[i] < n) ++i;  // n's position among the one-member groups
      if (x[n] > 0.0 && load_at(in, n, i, T, hi, work) == 0.0) {  // jumped in between lo and hi
        const double cut = std::min(surplus, x[n]);
        x[n] -= cut;
        z[n] += cut;
        surplus -= cut;
      }
    }
  }
  if (surplus != 0.0) rescale_loads(x, z, in.N, surplus);
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
  prepare(T, work);
  return price_search(in, T, x, work, 0.0, sigma_hi, nullptr, nullptr);
}

}  // namespace detail
}  // namespace paba
