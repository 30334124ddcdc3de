// Integer loads from floors in O(m) for the exact method's many loaded workers (docs/algorithms.md
// 3.6). The rule is round_to_total's (internal.hpp): the R parameters the floors leave over go one
// at a time to the slot whose latency after one more parameter is smallest, ties to the lowest
// slot. Equivalently they are the R smallest pairs (v, n), v = (load_n + j) speed_n, j >= 1, of
// all slots' sequences (each increasing in j), in the order of v then n. Its twin is
// reference/rounding.py's round_to_total (the heap itself), which gives the same loads.
//
// round_to_total finds them by selection over the slots' first pairs, then over the later pairs
// that beat the R-th of those. With many loaded workers and a large model most slots take one or
// two more parameters, those later pairs are most of R, and the two selections over pairs
// scattered by slot dominated the exact method (37 of its 80 ms at 10^6 workers, 750,000 loaded).
// Here the R-th pair t is placed between two bounds known from the relaxed optimum instead:
//
// - every loaded slot carries x_n speed_n = T at the relaxed optimum (its load x_n, the relaxed
//   latency T), so its first pair, (floor(x_n) + 1) speed_n > T, lies above lo = T (1 - 2^-30)
//   but for rounding, and pairs below lo are simply counted below the bracket;
// - at u = T (1 + eps) slot n has at least u / speed_n - 1 - floor(x_n) pairs at or below u,
//   x_n (1 + eps) - 1 - floor(x_n) up to rounding, so all slots together at least
//   L - sum floor + eps L - m = R + eps L - m (sum x = L): with eps = (2 m + 2) / L, hi = T (1 + eps)
//   lies above t, and the pairs in [lo, hi) number at most about 3 m.
//
// Pass 1 counts the pairs of every slot below lo, and those in [lo, hi) into NB equal bins of
// value (a histogram); the bin b* where the count reaches R holds t. Pass 2 hands out every pair
// below bin b* and gathers those inside it; a selection among the gathered pairs (a few per bin)
// places t, and the pairs up to t go out. Both passes form each v as (double)(load + j) * speed,
// the product round_to_total compares, so they agree bin for bin. Where a bound does not hold (t
// outside the bracket, more pairs than the budget: never in exact arithmetic) nothing is changed
// and the caller runs round_to_total.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "simd.hpp"

namespace paba {
namespace detail {
namespace {

constexpr std::size_t kSampleSlots = 4096;  // slots read to place the narrow bracket
constexpr std::size_t kSampleFrom = 4 * kSampleSlots;  // slots from which it is placed
constexpr std::int64_t kSamplePairs = 64;  // a sampled slot with more pairs: keep the wide one

using Pair = std::pair<double, std::size_t>;  // (v, slot)

bool pair_before(const Pair& a, const Pair& b) {
  return a.first < b.first || (a.first == b.first && a.second < b.second);
}

// The number of integers l >= 1 with l sp < u (their products as round_to_total forms them),
// from q = ceil(u / sp) - 1, corrected against the products.
// Past 2^52 (where the products no longer tell neighbours apart) it returns kMany, more than any
// R: the bracket then fails.
constexpr std::int64_t kMany = std::int64_t{1} << 52;

inline std::int64_t count_below(double u, double sp, double q) {
  if (!(q > 0.0)) return 0;  // (an infinite sp, or u at or below sp)
  if (!(q < 0x1p52)) return kMany;
  std::int64_t l = static_cast<std::int64_t>(q);
  while (l > 0 && static_cast<double>(l) * sp >= u) --l;
  while (static_cast<double>(l + 1) * sp < u) ++l;
  return l;
}

inline std::int64_t count_below(double u, double sp) {
  return count_below(u, sp, std::ceil(u / sp) - 1.0);
}

// q = ceil(u / sp) - 1 of n slots (four at a time with AVX: the same operations, the same bits).
#if defined(PABA_X86_SIMD)
__attribute__((target("avx"))) std::size_t quotients_avx(double u, const double* sp,
                                                          std::size_t n, double* q) {
  const __m256d vu = _mm256_set1_pd(u), one = _mm256_set1_pd(1.0);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d ratio = _mm256_div_pd(vu, _mm256_loadu_pd(sp + i));
    _mm256_storeu_pd(q + i, _mm256_sub_pd(_mm256_round_pd(ratio, _MM_FROUND_TO_POS_INF), one));
  }
  return i;
}
#endif

void quotients(double u, const double* sp, std::size_t n, double* q) {
  std::size_t i = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) i = quotients_avx(u, sp, n, q);
#endif
  for (; i < n; ++i) q[i] = std::ceil(u / sp[i]) - 1.0;
}

// The bins of [lo, hi): equal widths of value, `bins` of them.
struct Bins {
  double lo, hi, scale;
  std::size_t bins;
  std::size_t of(double v) const {
    const double b = (v - lo) * scale;
    return b < static_cast<double>(bins) ? static_cast<std::size_t>(b) : bins - 1;
  }
};

// Pass 1 over [lo, hi): the pairs below lo (into `below`; it stops once they reach `want`) and
// those inside, into `hist`, and each slot's load with its pairs below lo, into `first`; false
// where more than `budget` pairs lie inside.
bool count_pass(std::size_t m, const std::int64_t* load, const double* speed, const Bins& bins,
                std::uint64_t want, std::uint64_t budget, std::vector<std::uint32_t>& hist,
                std::int64_t* first, std::uint64_t* below) {
  hist.assign(bins.bins, 0);
  std::uint64_t under = 0, inside = 0;
  constexpr std::size_t kBlock = 256;  // slots whose quotients are formed together
  double q[kBlock];
  for (std::size_t n = 0; n < m; ++n) {
    if (n % kBlock == 0) quotients(bins.lo, speed + n, std::min(kBlock, m - n), q);
    const double sp = speed[n];
    const std::int64_t f = std::max(count_below(bins.lo, sp, q[n % kBlock]), load[n]);
    first[n] = f;
    under += static_cast<std::uint64_t>(f - load[n]);  // (f - load < 2^52: no overflow)
    if (under >= want) break;  // t lies below the bracket
    for (std::int64_t p = f + 1;; ++p) {  // the pairs at or above lo, while below hi
      const double v = static_cast<double>(p) * sp;
      if (!(v < bins.hi)) break;
      if (++inside > budget) return false;
      ++hist[bins.of(v)];
    }
  }
  *below = under;
  return true;
}

}  // namespace

bool round_up_dense(std::size_t m, std::int64_t R, double L, double T, std::int64_t* load,
                    const double* speed) {
  if (R <= 0 || m == 0 || !(L >= 1.0) || !(T > 0.0) || !std::isfinite(T)) return false;
  const double lo0 = T * (1.0 - 0x1p-30);
  const double hi0 = T * (1.0 + (2.0 * static_cast<double>(m) + 2.0) / L);
  if (!(hi0 > lo0) || !std::isfinite(hi0)) return false;
  const std::uint64_t want = static_cast<std::uint64_t>(R);
  // The narrow bracket: from the pairs of every (m / kSampleSlots)-th slot in [lo0, hi0) (4,096
  // to 5,461 slots), the values about the sample's share of R, with a margin of four standard
  // deviations and more.
  double lo = lo0, hi = hi0;
  thread_local std::vector<Pair> gathered;  // scratch, kept for reuse
  if (m >= kSampleFrom) {
    gathered.clear();
    const std::size_t stride = m / kSampleSlots;
    std::uint64_t under = 0;
    std::size_t sampled = 0;
    bool usable = true;
    for (std::size_t n = 0; n < m && usable; n += stride) {
      ++sampled;
      const double sp = speed[n];
      const std::int64_t first = std::max(count_below(lo0, sp), load[n]);
      under += static_cast<std::uint64_t>(first - load[n]);
      if (under >= want) usable = false;  // (first - load < 2^52: no overflow)
      for (std::int64_t p = first + 1; usable; ++p) {
        const double v = static_cast<double>(p) * sp;
        if (!(v < hi0)) break;
        gathered.emplace_back(v, n);
        usable = p - first <= kSamplePairs;
      }
    }
    const double share = static_cast<double>(R) * static_cast<double>(sampled) /
                         static_cast<double>(m) - static_cast<double>(under);
    const double margin = 4.0 * std::sqrt(std::max(share, 1.0)) + 16.0;
    const double size = static_cast<double>(gathered.size());
    if (usable && share > margin && share + margin < size) {
      const auto at = [&](double rank) {
        const auto it = gathered.begin() + static_cast<std::ptrdiff_t>(rank);
        std::nth_element(gathered.begin(), it, gathered.end(), pair_before);
        return it->first;
      };
      hi = at(std::floor(share + margin));
      lo = at(std::floor(share - margin));
    }
  }
  std::size_t n_bins = 64;  // about one bin for every 16 slots, from 64 to 65,536
  while (n_bins < (std::size_t{1} << 16) && 16 * n_bins < m) n_bins *= 2;
  thread_local std::vector<std::uint32_t> hist;  // scratch, kept for reuse (at most 256 KiB)
  thread_local std::vector<std::int64_t> first;   // scratch, kept for reuse
  if (first.size() < m) first.resize(m);
  const std::uint64_t budget = 4 * static_cast<std::uint64_t>(m) + 64;
  Bins bins{};
  std::uint64_t below = 0, count = 0;
  std::size_t target = 0;
  for (int attempt = 0;; ++attempt) {  // the narrow bracket, then the wide one
    if (attempt == 1) {
      if (lo == lo0 && hi == hi0) return false;
      lo = lo0;
      hi = hi0;
    }
    if (attempt == 2) return false;
    bins = Bins{lo, hi, static_cast<double>(n_bins) / (hi - lo), n_bins};
    if (!(hi > lo) || !std::isfinite(bins.scale)) continue;
    if (!count_pass(m, load, speed, bins, want, budget, hist, first.data(), &below)) {
      return false;
    }
    if (below >= want) continue;  // t lies below the bracket
    count = below;
    target = n_bins;
    for (std::size_t b = 0; b < n_bins; ++b) {
      if (count + hist[b] >= want) {
        target = b;
        break;
      }
      count += hist[b];
    }
    if (target < n_bins) break;  // else t lies above the bracket
  }
  // Pass 2: every pair below the target bin goes out; those inside it are gathered.
  gathered.clear();
  for (std::size_t n = 0; n < m; ++n) {
    const double sp = speed[n];
    std::int64_t taken = first[n];
    for (;;) {
      const double v = static_cast<double>(taken + 1) * sp;
      if (!(v < bins.hi)) break;
      const std::size_t b = bins.of(v);
      if (b > target) break;
      if (b == target) {  // this slot's pairs in the target bin, to select among
        for (std::int64_t p = taken + 1;; ++p) {
          const double u = static_cast<double>(p) * sp;
          if (!(u < bins.hi) || bins.of(u) != target) break;
          gathered.emplace_back(u, n);
        }
        break;
      }
      ++taken;
    }
    load[n] = taken;
  }
  const std::size_t rank = static_cast<std::size_t>(want - count);  // of t among the gathered
  const auto t = gathered.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(gathered.begin(), t, gathered.end(), pair_before);
  for (auto it = gathered.begin(); it != t; ++it) ++load[it->second];  // every pair before t
  ++load[t->second];
  if (gathered.size() > kKeptScratch) std::vector<Pair>().swap(gathered);
  if (first.size() > kKeptScratch) std::vector<std::int64_t>().swap(first);
  return true;
}

}  // namespace detail
}  // namespace paba
