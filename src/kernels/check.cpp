// The checks of paba.System on its per-worker inputs (docs/algorithms.md 2), in one pass that also
// copies them: every value finite, beta and compute positive, alpha and tau non-negative, and the
// normalised seconds in range (beta L / B and compute L in [1e-80, 1e80], alpha / B and tau at most
// 1e80), the same expressions as the kernels' normalise() and check_seconds().
//
// Each condition holds exactly on one interval of values: the normalised seconds are monotone in
// the input (a product or quotient by a positive constant, correctly rounded), and finiteness and
// sign only cut the interval. So the pass compares each value with the two ends of its interval,
// found once by bisection on the bits of the non-negative doubles (ordered as integers), and needs
// no division per worker. Only when a value falls outside is the first fault looked for, in the
// order of the messages (WorkerCheck in paba.hpp).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "internal.hpp"
#include "paba.hpp"
#include "simd.hpp"

namespace paba {
namespace {

using detail::kMaxSeconds;
using detail::kMinSeconds;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double from_bits(std::uint64_t bits) {
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

std::uint64_t to_bits(double x) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

const std::uint64_t kInfBits = to_bits(std::numeric_limits<double>::infinity());
const std::uint64_t kMaxBits = to_bits(std::numeric_limits<double>::max());

// The smallest x in [+0, +inf] with pass(x), for pass false then true on that range; NaN if none.
// From a guess within a few units in the last place (the boundary of an expression with one or
// two roundings), a few steps find it; otherwise a bisection does.
template <class Pass>
double lowest_passing(Pass pass, double guess) {
  if (guess > 0.0 && guess < std::numeric_limits<double>::infinity()) {
    std::uint64_t x = to_bits(guess);
    const bool above = pass(guess);  // then step down while the value below passes too
    for (int step = 0; step < 8; ++step) {
      const std::uint64_t next = above ? x - 1 : x + 1;
      if (pass(from_bits(next)) != above) return from_bits(above ? x : next);
      x = next;
    }
  }
  std::uint64_t lo = 0, hi = kInfBits;
  if (!pass(from_bits(hi))) return kNaN;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (pass(from_bits(mid))) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return from_bits(lo);
}

// The largest finite x in [+0, max] with pass(x), for pass true then false on that range; NaN if
// none. The same search from a guess.
template <class Pass>
double highest_passing(Pass pass, double guess) {
  if (guess > 0.0 && guess < std::numeric_limits<double>::max()) {
    std::uint64_t x = to_bits(guess);
    const bool below = pass(guess);  // then step up while the value above passes too
    for (int step = 0; step < 8; ++step) {
      const std::uint64_t next = below ? x + 1 : x - 1;
      if (pass(from_bits(next)) != below) return from_bits(below ? x : next);
      x = next;
    }
  }
  std::uint64_t lo = 0, hi = kMaxBits;
  if (!pass(from_bits(lo))) return kNaN;
  while (lo < hi) {
    const std::uint64_t mid = hi - (hi - lo) / 2;
    if (pass(from_bits(mid))) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return from_bits(lo);
}

#if defined(PABA_X86_SIMD)
// The SIMD part of copy_within: the workers [0, k) it returns, k a multiple of 8 (AVX) or 4.
__attribute__((target("avx"))) std::size_t copy_within_avx(const double* values, double* copy,
                                                           std::size_t K, double lo, double hi,
                                                           bool* inside) {
  const __m256d vlo = _mm256_set1_pd(lo), vhi = _mm256_set1_pd(hi);
  __m256d all0 = _mm256_cmp_pd(vlo, vlo, _CMP_EQ_OQ), all1 = all0;  // true, unless lo is NaN
  std::size_t k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256d v0 = _mm256_loadu_pd(values + k), v1 = _mm256_loadu_pd(values + k + 4);
    if (copy) {
      _mm256_storeu_pd(copy + k, v0);
      _mm256_storeu_pd(copy + k + 4, v1);
    }
    all0 = _mm256_and_pd(all0, _mm256_and_pd(_mm256_cmp_pd(v0, vlo, _CMP_GE_OQ),
                                             _mm256_cmp_pd(v0, vhi, _CMP_LE_OQ)));
    all1 = _mm256_and_pd(all1, _mm256_and_pd(_mm256_cmp_pd(v1, vlo, _CMP_GE_OQ),
                                             _mm256_cmp_pd(v1, vhi, _CMP_LE_OQ)));
  }
  *inside = _mm256_movemask_pd(_mm256_and_pd(all0, all1)) == 15;
  return k;
}

std::size_t copy_within_sse2(const double* values, double* copy, std::size_t K, double lo,
                             double hi, bool* inside) {
  const __m128d vlo = _mm_set1_pd(lo), vhi = _mm_set1_pd(hi);
  __m128d all0 = _mm_cmpeq_pd(vlo, vlo), all1 = all0;  // true, unless lo is NaN
  std::size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const __m128d v0 = _mm_loadu_pd(values + k), v1 = _mm_loadu_pd(values + k + 2);
    if (copy) {
      _mm_storeu_pd(copy + k, v0);
      _mm_storeu_pd(copy + k + 2, v1);
    }
    all0 = _mm_and_pd(all0, _mm_and_pd(_mm_cmpge_pd(v0, vlo), _mm_cmple_pd(v0, vhi)));
    all1 = _mm_and_pd(all1, _mm_and_pd(_mm_cmpge_pd(v1, vlo), _mm_cmple_pd(v1, vhi)));
  }
  *inside = _mm_movemask_pd(_mm_and_pd(all0, all1)) == 3;
  return k;
}
#endif

// Copies values[0..K) into copy (when given) and returns whether every value lies in [lo, hi]
// (false for NaN, and for every value when an end is NaN).
bool copy_within(const double* values, double* copy, std::size_t K, double lo, double hi) {
  std::size_t k = 0;
  bool inside = true;
#if defined(PABA_X86_SIMD)
  k = detail::has_avx() ? copy_within_avx(values, copy, K, lo, hi, &inside)
                        : copy_within_sse2(values, copy, K, lo, hi, &inside);
#endif
  for (; k < K; ++k) {
    const double v = values[k];
    if (copy) copy[k] = v;
    inside &= (v >= lo) & (v <= hi);
  }
  return inside;
}

}  // namespace

WorkerCheck check_workers(const Problem& workers, double* copy) {
  detail::check_scalars(workers);
  const std::size_t K = workers.n_workers;
  const double L = workers.params, B = workers.bandwidth;
  const double* inputs[4] = {workers.beta, workers.compute, workers.alpha, workers.tau};
  // The normalised seconds of each input, and the least value of each that passes (beta and
  // compute positive; the normalised seconds of alpha and tau may be 0).
  auto seconds = [&](int input, double x) {
    switch (input) {
      case 0: return x * L / B;
      case 1: return x * L;
      case 2: return x / B;
      default: return x;
    }
  };
  auto minimum = [](int input) { return input < 2 ? kMinSeconds : 0.0; };

  // The inverse of `seconds`, for the guesses of the ends.
  auto value = [&](int input, double s) {
    switch (input) {
      case 0: return s * B / L;
      case 1: return s / L;
      case 2: return s * B;
      default: return s;
    }
  };
  bool inside = true;
  for (int input = 0; input < 4; ++input) {
    if (!inputs[input]) continue;
    const double lo =
        input < 2 ? lowest_passing([&](double x) { return seconds(input, x) >= kMinSeconds; },
                                   value(input, kMinSeconds))
                  : 0.0;
    const double hi = highest_passing(
        [&](double x) { return seconds(input, x) <= kMaxSeconds; }, value(input, kMaxSeconds));
    inside = copy_within(inputs[input], copy, K, lo, hi) && inside;
    if (copy) copy += K;
  }
  WorkerCheck found;
  if (inside) return found;

  for (int input = 0; input < 4; ++input) {
    const double* x = inputs[input];
    if (!x) continue;
    found.input = static_cast<WorkerInput>(input);
    for (std::size_t k = 0; k < K; ++k) {
      if (!std::isfinite(x[k])) {
        found.fault = WorkerFault::not_finite;
        found.worker = k;
        return found;
      }
    }
    for (std::size_t k = 0; k < K; ++k) {
      if (input < 2 ? !(x[k] > 0.0) : !(x[k] >= 0.0)) {
        found.fault = input < 2 ? WorkerFault::not_positive : WorkerFault::negative;
        found.worker = k;
        return found;
      }
    }
  }
  for (int input = 0; input < 4; ++input) {
    const double* x = inputs[input];
    if (!x) continue;
    for (std::size_t k = 0; k < K; ++k) {
      const double s = seconds(input, x[k]);
      if (!(s >= minimum(input) && s <= kMaxSeconds)) {
        found.fault = WorkerFault::out_of_range;
        found.input = static_cast<WorkerInput>(input);
        found.worker = k;
        return found;
      }
    }
  }
  found.input = WorkerInput::beta;
  return found;  // not reached: a value outside its interval fails one of the checks above
}

}  // namespace paba
