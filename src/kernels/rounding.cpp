// Integer loads from floors in O(m) passes for the exact method's loaded workers
// (docs/algorithms.md 3.6). The rule is round_to_total's (internal.hpp): the R parameters the
// floors leave over go one at a time to the slot whose latency after one more parameter is
// smallest, ties to the lowest slot. Equivalently they are the R smallest pairs (v, n),
// v = (load_n + j) speed_n, j >= 1, of all slots' sequences (each increasing in j), in the order
// of v then n. Its twin is reference/rounding.py's round_to_total (the heap itself), which gives
// the same loads.
//
// Here the R-th pair t is found by its value, not by selection over pairs scattered by slot: the
// pairs of slot n below a value u number c_n(u) = max(0, #{l >= 1 : l speed_n < u} - load_n),
// formed from q = ceil(u / speed_n) - 1 (u times the reciprocal, formed once, where the CPU allows
// four slots at a time) and corrected against the products round_to_total compares (no branch but
// where a correction is unsure); their sum is exact in any order. C(u) = sum c_n(u) is a staircase
// that rises by about L / T per unit of u (x_n speed_n = T at the relaxed optimum, sum x = L): the
// search starts at T (1 + m / (2 L)), where the pairs of the fractional parts balance R, and steps
// by that slope, then by the secant, keeping lo with C(lo) < R and hi with C(hi) >= R, until at
// most kGap + m / 32 pairs lie in [lo, hi) (two or three passes on relaxed optima). A last pass
// gives every slot its pairs below lo and gathers those in [lo, hi); a selection among them, in
// the order (v, n), places t, and the pairs up to t go out. T only places the first probe, so any
// input gives the rule's loads; where a count passes 2^52 (where the products no longer tell
// neighbours apart) or the search runs out of passes, nothing is changed and the caller runs
// round_to_total.
//
// Counting passes without branches, rather than one pass that bins each slot's pairs (an earlier
// version): that pass branches on every pair, as fast on one input repeated in a loop, where the
// branch predictor learns the pattern, but several times slower than these passes within a
// solve (docs/algorithms.md 3.6).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>
#include <cstdio>
#include <cstdlib>

#include "internal.hpp"
#include "simd.hpp"

namespace paba {
namespace detail {
namespace {

constexpr int kMaxPasses = 24;       // counting passes before the caller's fallback
constexpr double kGap = 64.0;        // pairs left in [lo, hi) to select among (plus m / 32)
constexpr std::size_t kBlock = 256;  // slots counted together
constexpr double kMany = 0x1p52;     // a count from which the products no longer order pairs

using Pair = std::pair<double, std::size_t>;  // (v, slot)

bool pair_before(const Pair& a, const Pair& b) {
  return a.first < b.first || (a.first == b.first && a.second < b.second);
}

// #{l >= 1 : l sp < u}, with the products formed as round_to_total forms them: 0 where
// ceil(u / sp) - 1 is not positive (an infinite sp, u at or below sp), kMany from 2^52.
inline double count_below(double u, double sp) {
  const double q = std::ceil(u / sp) - 1.0;
  if (!(q > 0.0)) return 0.0;  // (an infinite sp, or u at or below sp)
  if (!(q < kMany)) return kMany;
  double l = q;
  while (l > 0.0 && l * sp >= u) l -= 1.0;
  while ((l + 1.0) * sp < u) l += 1.0;
  return l;
}

// c_n(u) of slots [0, n) into c; false where one reaches kMany.
bool counts_scalar(double u, const double* sp, const double* load, std::size_t n, double* c) {
  for (std::size_t i = 0; i < n; ++i) {
    const double l = count_below(u, sp[i]);
    if (l >= kMany) return false;
    c[i] = std::max(l - load[i], 0.0);
  }
  return true;
}

#if defined(PABA_X86_SIMD)
// The same counts four at a time, with their sum: q = max(ceil(u inv) - 1, 0) (inv = 1 / sp, so
// that a pass multiplies instead of dividing: u inv is within a unit of u / sp below 2^52, and
// the corrections that follow hold either way), one step down where q sp >= u, one up where
// (q + 1) sp < u; a block whose lanes are not all then certain (0 or q sp < u, and
// (q + 1) sp >= u, below kMany) takes the scalar steps. Every count is an exact integer either
// way, so their sum is exact in any order (below 2^53). With c null the counts are only summed.
__attribute__((target("avx"))) bool counts_avx(double u, const double* sp, const double* inv,
                                                const double* load, std::size_t n, double* c,
                                                double* total) {
  const __m256d vu = _mm256_set1_pd(u), one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd(),
                many = _mm256_set1_pd(kMany);
  __m256d sum = zero;
  double rest = 0.0, lanes[4];
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d s = _mm256_loadu_pd(sp + i);
    __m256d q = _mm256_sub_pd(
        _mm256_round_pd(_mm256_mul_pd(vu, _mm256_loadu_pd(inv + i)), _MM_FROUND_TO_POS_INF), one);
    q = _mm256_max_pd(q, zero);
    const __m256d down = _mm256_and_pd(_mm256_cmp_pd(q, zero, _CMP_GT_OQ),
                                       _mm256_cmp_pd(_mm256_mul_pd(q, s), vu, _CMP_GE_OQ));
    q = _mm256_sub_pd(q, _mm256_and_pd(down, one));
    const __m256d up = _mm256_cmp_pd(_mm256_mul_pd(_mm256_add_pd(q, one), s), vu, _CMP_LT_OQ);
    q = _mm256_add_pd(q, _mm256_and_pd(up, one));
    const __m256d sure = _mm256_and_pd(
        _mm256_and_pd(_mm256_cmp_pd(q, many, _CMP_LT_OQ),
                      _mm256_or_pd(_mm256_cmp_pd(q, zero, _CMP_EQ_OQ),
                                   _mm256_cmp_pd(_mm256_mul_pd(q, s), vu, _CMP_LT_OQ))),
        _mm256_cmp_pd(_mm256_mul_pd(_mm256_add_pd(q, one), s), vu, _CMP_GE_OQ));
    if (_mm256_movemask_pd(sure) == 0xF) {
      const __m256d count = _mm256_max_pd(_mm256_sub_pd(q, _mm256_loadu_pd(load + i)), zero);
      if (c) _mm256_storeu_pd(c + i, count);
      sum = _mm256_add_pd(sum, count);
    } else {
      if (!counts_scalar(u, sp + i, load + i, 4, lanes)) return false;
      for (int l = 0; l < 4; ++l) {
        if (c) c[i + l] = lanes[l];
        rest += lanes[l];
      }
    }
  }
  for (; i < n; ++i) {
    if (!counts_scalar(u, sp + i, load + i, 1, lanes)) return false;
    if (c) c[i] = lanes[0];
    rest += lanes[0];
  }
  _mm256_storeu_pd(lanes, sum);
  *total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + rest;
  return true;
}
#endif

// c_n(u) of slots [0, n) into c (when not null) and their sum into *total; inv holds 1 / sp.
bool counts(double u, const double* sp, const double* inv, const double* load, std::size_t n,
            double* c, double* total) {
#if defined(PABA_X86_SIMD)
  if (has_avx()) return counts_avx(u, sp, inv, load, n, c, total);
#else
  (void)inv;
#endif
  double buffer[kBlock];
  double sum = 0.0;
  for (std::size_t k = 0; k < n; k += kBlock) {
    const std::size_t len = std::min(kBlock, n - k);
    double* out = c ? c + k : buffer;
    if (!counts_scalar(u, sp + k, load + k, len, out)) return false;
    for (std::size_t i = 0; i < len; ++i) sum += out[i];
  }
  *total = sum;
  return true;
}

}  // namespace

bool round_up_dense(std::size_t m, std::int64_t R, double L, double T, std::int64_t* load,
                    const double* speed) {
  if (R <= 0 || m == 0 || !(L >= 1.0) || !(T > 0.0) || !std::isfinite(T)) return false;
  // The loads as doubles, and the reciprocals of the speeds (scratch, kept for reuse).
  thread_local std::vector<double> floors;
  if (floors.size() < 2 * m) floors.resize(2 * m);
  double* inv = floors.data() + m;
  for (std::size_t n = 0; n < m; ++n) {
    floors[n] = static_cast<double>(load[n]);
    inv[n] = 1.0 / speed[n];
  }
  const double* ld = floors.data();
  const double want = static_cast<double>(R);
  const double slope = L / T;  // pairs per unit of value about the relaxed latency
  const double gap = kGap + static_cast<double>(m) / 32.0;
  double lo = 0.0, hi = 0.0, c_lo = 0.0, c_hi = 0.0;
  bool has_lo = false, has_hi = false;
  double u = T * (1.0 + static_cast<double>(m) / (2.0 * L));
  int widen = 0;  // one-sided steps in a row, each twice the last
  for (int pass = 0;; ++pass) {
    if (pass == kMaxPasses || !std::isfinite(u)) return false;
    double c = 0.0;
    if (!counts(u, speed, inv, ld, m, nullptr, &c)) return false;
    if (c < want) {
      lo = u, c_lo = c, has_lo = true;
    } else {
      hi = u, c_hi = c, has_hi = true;
    }
    if (has_lo && has_hi) {
      if (c_hi - c_lo <= gap) break;
      widen = 0;
      // The secant aimed between the R-th pair and the next, kept strictly inside.
      u = lo + (hi - lo) * ((want - 0.5 - c_lo) / (c_hi - c_lo));
      if (!(u > lo && u < hi)) u = lo + 0.5 * (hi - lo);
      if (!(u > lo && u < hi)) break;  // no double between: [lo, hi) holds lo's ties alone
    } else {
      // One side: step by the slope past the count still missing, with a margin of its
      // square root, twice as far on each further step to this side.
      const double miss = has_lo ? want - c_lo : c_hi - want + 1.0;
      const double step = std::ldexp((miss + 2.0 * std::sqrt(miss) + 4.0) / slope, widen++);
      u = has_lo ? lo + step : hi - step;
    }
  }
  // The last pass: each slot's pairs below lo go out (into `taken`), and those in [lo, hi) are
  // gathered, to select among.
  thread_local std::vector<std::int64_t> taken;  // scratch, kept for reuse
  thread_local std::vector<Pair> gathered;        // scratch, kept for reuse
  if (taken.size() < m) taken.resize(m);
  gathered.clear();
  {
    double a[kBlock], b[kBlock];
    for (std::size_t n = 0; n < m; n += kBlock) {
      const std::size_t len = std::min(kBlock, m - n);
      double sum_a = 0.0, sum_b = 0.0;
      if (!counts(lo, speed + n, inv + n, ld + n, len, a, &sum_a) ||
          !counts(hi, speed + n, inv + n, ld + n, len, b, &sum_b)) {
        return false;
      }
      for (std::size_t i = 0; i < len; ++i) {
        const std::int64_t first = load[n + i] + static_cast<std::int64_t>(a[i]);
        taken[n + i] = first;
        const std::int64_t last = load[n + i] + static_cast<std::int64_t>(b[i]);
        for (std::int64_t l = first + 1; l <= last; ++l) {
          gathered.emplace_back(static_cast<double>(l) * speed[n + i], n + i);
        }
      }
    }
  }
  const double rank = want - c_lo;  // of t among the gathered
  if (!(rank >= 1.0 && rank <= static_cast<double>(gathered.size()) &&
        static_cast<double>(gathered.size()) == c_hi - c_lo)) {
    return false;
  }
  const auto t = gathered.begin() + static_cast<std::ptrdiff_t>(rank - 1.0);
  std::nth_element(gathered.begin(), t, gathered.end(), pair_before);
  std::copy(taken.begin(), taken.begin() + static_cast<std::ptrdiff_t>(m), load);
  for (auto it = gathered.begin(); it != t; ++it) ++load[it->second];  // every pair before t
  ++load[t->second];
  if (gathered.size() > kKeptScratch) std::vector<Pair>().swap(gathered);
  if (taken.size() > kKeptScratch) std::vector<std::int64_t>().swap(taken);
  if (floors.size() > kKeptScratch) std::vector<double>().swap(floors);
  return true;
}

}  // namespace detail
}  // namespace paba
