// The exact joint method for the basic model (docs/algorithms.md 3.7): one worker per group,
// alpha = tau = 0, no caps.
//
// With shares x_k = L_k / L and b_k = B_k / B, a_k = beta_k L / B and e_k = c_k L (seconds),
// worker k carries x_k = T h_k(b_k), h_k(b) = b / (a_k + e_k b), by time T; T factors out, so
// T* = 1 / max { sum_k h_k(b_k) : sum_k b_k = 1 }. Each h_k is concave with h_k'(0) = 1 / a_k,
// and KKT gives a_k / (a_k + e_k b_k)^2 = lambda for every worker with bandwidth. With
// r_k = sqrt(a_k) and the price variable s = lambda^(-1/2):
//
//   b_k = [r_k (s - r_k)]^+ / e_k     (active iff r_k < s: a prefix in the order of beta),
//   F(s) = sum_k [r_k (s - r_k)]^+ / e_k = 1.
//
// F is convex, increasing and piecewise linear; on an active set A it is s P_A - Q_A with
// P_A = sum r / e and Q_A = sum r^2 / e, so the Newton step from s is the closed form
// s' = (1 + Q_A) / P_A of A = {r < s}. Every such line lies below F, so a Newton point is never
// left of the root, and where it lies on the same linear piece as s it is the root, exactly.
// The search (allocate_exact) probes points inside a narrowing bracket; each pass is O(K) at
// most and reads only the candidates still below the bracket (compacted into a list).
// After Options::exact_passes probes the candidates are sorted and scanned instead
// (O(m log m)), which bounds the worst case.
//
// The search runs on the offsets d_k = r_k - r_min >= 0 and delta = s - r_min (the same steps:
// active iff d_k < delta, delta' = (1 + sum w d) / sum w, b_k = w_k (delta - d_k)), because s - r_k
// formed directly cancels: a worker whose communication dwarfs its computation has s - r_k far
// below the resolution of r_k.
// Then a_k + e_k b_k = r_k s, so h_k = b_k / (r_k s), T* = 1 / sum h and x_k = T* h_k.
// Memory: from kSampleFrom workers the outputs serve as scratch before they are written (r_k in
// worker_latency, r_k / e_k in relaxed_loads, the candidate lists in loads); below, scratch kept
// per thread (3 K values, at most 3 kSampleFrom), and the pass over the inputs zeroes the outputs.
// Besides, the caller's index vector (2m entries for the m active workers) and per-thread dense
// arrays of the active workers (7m values, not kept past kKeptScratch).
// Passes over every worker: one over the inputs (with their range checks, gathering the sample
// of a large instance, or zeroing the outputs and summing below two cuts of a smaller one), the
// first probe (after the sample when K >= kSampleFrom, else at the least Newton point of every
// worker and the cuts' sets; four workers at a time either way where the CPU allows), and, from
// kSampleFrom workers, whole-array stores that clear the outputs; every other step reads the
// sample, the candidates or the active workers only.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "internal.hpp"
#include "paba.hpp"
#include "simd.hpp"

namespace paba {
namespace detail {
namespace {

constexpr std::size_t kSampleFrom = 8192;  // workers from which the start is sampled
constexpr std::size_t kSampleStride = 32;  // its stride from 65,536 workers (K / 2048 before)
constexpr std::size_t kCutsFrom = 256;    // workers from which the first probe reads cuts
constexpr std::size_t kCutSample = 16;    // the first workers, whose r place the cuts
constexpr std::size_t kCuts = 2;
constexpr std::size_t kCutRanks[kCuts] = {1, 6};  // their ranks (from 1) among those
// Active workers from which round_up_dense rounds (below, round_to_total's selections are as fast:
// 741 of them 21.1 against 22.6 us a solve, 7,458 239 against 233 us, 75,000 4.70 against 3.35 ms).
constexpr std::size_t kDenseRoundFrom = 4096;

// Candidate lists hold worker ids as int64 so that they can live in Result::loads (K slots, not
// written before the relaxed optimum) instead of a K-sized buffer allocated and cleared per call.
using Id = std::int64_t;

// The sums of one pass, with the piece of F around delta: `below` is the largest d under delta,
// `above` the smallest d at or above it (among the candidates read).
struct Piece {
  std::size_t count = 0;  // active workers (d < delta)
  double P = 0.0;         // sum of w = r / e over them
  double Q = 0.0;         // sum of w d over them, d = r - r_min
  double below = -kInf;
  double above = kInf;
};

// What a pass at delta gathers besides P and Q: the active count, the kept workers compacted to
// the front of `index` (j of them so far), and the piece of F around delta.
struct PassState {
  std::size_t count = 0, j = 0;
  double below = -kInf, above = kInf;
};

// Worker k in a pass at delta: kept (index[j] = k, j <= the slot being read) when d < keep, and
// added to P and Q (p, q) when active, d < delta. No branch on either: kept workers are scattered
// over the ids, and near the root about half the candidates are active, in an order no branch
// predictor follows. An inactive worker adds w times 0, +0 (d >= 0, w > 0), which leaves a sum's
// bits as they were.
inline void visit(std::size_t k, const double* r, const double* w, double r_min, double delta,
                  double keep, Id* index, PassState& st, double& p, double& q) {
  const double d = r[k] - r_min;
  index[st.j] = static_cast<Id>(k);
  st.j += d < keep;
  const bool active = d < delta;
  const double on = active ? 1.0 : 0.0;
  st.count += active;
  p += w[k] * on;
  q += w[k] * d * on;
  st.below = std::max(st.below, active ? d : -kInf);
  st.above = std::min(st.above, active ? kInf : d);
}

// One pass over the candidates index[0..m) at delta, unrolled by four with P and Q in four lanes
// (candidate i in lane i mod 4, joined as (l0 + l1) + (l2 + l3), then the rest): one running sum
// waits for each add. The candidates with d < keep are compacted to the front of `index`, their
// number in `kept`. (Only these passes sum in lanes: a pass over every worker, kept_sums_avx2 or
// every_sums, sums in one order, alike on both paths.)
Piece candidate_sums(const double* r, const double* w, double r_min, double delta, Id* index,
                     std::size_t m, double keep, std::size_t* kept) {
  PassState st;
  double P[4] = {0.0, 0.0, 0.0, 0.0}, Q[4] = {0.0, 0.0, 0.0, 0.0};
  const auto at = [&](std::size_t i) { return static_cast<std::size_t>(index[i]); };
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    visit(at(i), r, w, r_min, delta, keep, index, st, P[0], Q[0]);
    visit(at(i + 1), r, w, r_min, delta, keep, index, st, P[1], Q[1]);
    visit(at(i + 2), r, w, r_min, delta, keep, index, st, P[2], Q[2]);
    visit(at(i + 3), r, w, r_min, delta, keep, index, st, P[3], Q[3]);
  }
  double p = (P[0] + P[1]) + (P[2] + P[3]), q = (Q[0] + Q[1]) + (Q[2] + Q[3]);
  for (; i < m; ++i) visit(at(i), r, w, r_min, delta, keep, index, st, p, q);
  *kept = st.j;
  return Piece{st.count, p, q, st.below, st.above};
}

// One pass over every worker at delta (kept_sums_avx2 where the CPU has AVX2 and keep >= delta:
// the same result). The workers with d < keep are compacted to the front of `index`, their
// number in `kept`.
Piece every_sums(const double* r, const double* w, double r_min, double delta, Id* index,
                 std::size_t m, double keep, std::size_t* kept) {
  PassState st;
  double P = 0.0, Q = 0.0;
  for (std::size_t k = 0; k < m; ++k) visit(k, r, w, r_min, delta, keep, index, st, P, Q);
  *kept = st.j;
  return Piece{st.count, P, Q, st.below, st.above};
}

#if defined(PABA_X86_SIMD)
// Permutations (of eight 32-bit lanes) that move the 64-bit lanes set in a 4-bit mask to the
// front, in order: the compaction of four ids at a time.
struct Compaction {
  alignas(32) std::int32_t lanes[16][8];
  std::uint8_t count[16];
  constexpr Compaction() : lanes(), count() {
    for (int mask = 0; mask < 16; ++mask) {
      int p = 0;
      for (int l = 0; l < 4; ++l) {
        if (mask & (1 << l)) {
          lanes[mask][2 * p] = 2 * l;
          lanes[mask][2 * p + 1] = 2 * l + 1;
          ++p;
        }
      }
      for (int q = p; q < 4; ++q) {  // the rest: any lanes (their slots are written over)
        lanes[mask][2 * q] = 0;
        lanes[mask][2 * q + 1] = 1;
      }
      count[mask] = static_cast<std::uint8_t>(p);
    }
  }
};
constexpr Compaction kCompaction;

// every_sums where keep >= delta (a first probe: the kept workers hold the active ones),
// the same result in two steps: four workers at a time are compared with keep and delta, the
// kept ones' ids compacted to the front of `index` (a permutation from a mask) and `below` and
// `above` taken as maxima and minima (the same in any order); then P and Q are summed over the
// kept ones in id order, the inactive adding +0, as there. Either step without a branch: a
// block of four with one kept or active worker in it was a branch taken at random.
__attribute__((target("avx2"))) Piece kept_sums_avx2(const double* r, const double* w,
                                                     double r_min, double delta, double keep,
                                                     Id* index, std::size_t m,
                                                     std::size_t* kept) {
  const __m256d vmin = _mm256_set1_pd(r_min), vdelta = _mm256_set1_pd(delta);
  const __m256d vkeep = _mm256_set1_pd(keep);
  const __m256d vinf = _mm256_set1_pd(kInf), vninf = _mm256_set1_pd(-kInf);
  __m256d vbelow = vninf, vabove = vinf;
  __m256i ids = _mm256_setr_epi64x(0, 1, 2, 3);
  const __m256i four = _mm256_set1_epi64x(4);
  std::size_t i = 0, c = 0;
  for (; i + 4 <= m; i += 4) {  // writes index[c, c + 4), c <= i: within m
    const __m256d d = _mm256_sub_pd(_mm256_loadu_pd(r + i), vmin);
    const __m256d in = _mm256_cmp_pd(d, vdelta, _CMP_LT_OQ);
    vbelow = _mm256_max_pd(vbelow, _mm256_blendv_pd(vninf, d, in));
    vabove = _mm256_min_pd(vabove, _mm256_blendv_pd(d, vinf, in));
    const int mask = _mm256_movemask_pd(_mm256_cmp_pd(d, vkeep, _CMP_LT_OQ));
    const __m256i lanes =
        _mm256_load_si256(reinterpret_cast<const __m256i*>(kCompaction.lanes[mask]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + c),
                        _mm256_permutevar8x32_epi32(ids, lanes));
    c += kCompaction.count[mask];
    ids = _mm256_add_epi64(ids, four);
  }
  double lane[4];
  _mm256_storeu_pd(lane, vbelow);
  double below = std::max(std::max(lane[0], lane[1]), std::max(lane[2], lane[3]));
  _mm256_storeu_pd(lane, vabove);
  double above = std::min(std::min(lane[0], lane[1]), std::min(lane[2], lane[3]));
  for (; i < m; ++i) {
    const double d = r[i] - r_min;
    index[c] = static_cast<Id>(i);
    c += d < keep;
    const bool active = d < delta;
    below = std::max(below, active ? d : -kInf);
    above = std::min(above, active ? kInf : d);
  }
  std::size_t count = 0;
  double P = 0.0, Q = 0.0;
  for (std::size_t t = 0; t < c; ++t) {
    const std::size_t k = static_cast<std::size_t>(index[t]);
    const double d = r[k] - r_min;
    const bool active = d < delta;
    const double on = active ? 1.0 : 0.0;
    count += active;
    P += w[k] * on;
    Q += w[k] * d * on;
  }
  *kept = c;
  return Piece{count, P, Q, below, above};
}
#endif

Piece active_sums(const double* r, const double* w, double r_min, double delta, Id* index,
                  std::size_t m, bool all, double keep, std::size_t* kept) {
#if defined(PABA_X86_SIMD)
  if (all && keep >= delta && has_avx2())
    return kept_sums_avx2(r, w, r_min, delta, keep, index, m, kept);
#endif
  return all ? every_sums(r, w, r_min, delta, index, m, keep, kept)
             : candidate_sums(r, w, r_min, delta, index, m, keep, kept);
}

// What the pass over the inputs gathers besides r and w.
struct InputSums {
  double r_min = kInf;
  double P = 0.0;           // sum of w
  double Q = 0.0;           // sum of w (r - r0)
  bool in_range = true;     // every a = beta L / B and e = compute L in [kMinSeconds, kMaxSeconds]
  double cut_P[kCuts] = {};  // sum w over the workers below each cut, when cuts were given
  double cut_Q[kCuts] = {};  // sum w (r - r0) over them
};

// The one pass over the inputs: r = sqrt(beta L / B) and w = r / (compute L), their minimum and
// sums, and the range checks. Four running minima and sums (lane j takes the workers k = j mod 4)
// break the dependency chains of the reductions; the checks ride along as minima and maxima of a
// and e. A NaN, which minima and maxima skip, reaches every sum of w; in range, w <= 1e120 and no
// sum of them overflows.
//
// Compilers do not vectorise these reductions (that would reassociate them), and the square roots
// and divisions bound the pass, so on x86-64 the four lanes are SIMD registers: one AVX register
// where the CPU has AVX, else two SSE2 ones. They run the same operations in the same order as
// the scalar lanes (_mm_min_pd(x, m) is x < m ? x : m, that is std::min(m, x); likewise max), so
// every path gives the same bits; the scalar loop takes the last K mod 4 workers, and every worker
// elsewhere.
struct Lanes {
  double* sample = nullptr;                // or r and w of every kSampleStride-th worker (below)
  Result* clear = nullptr;                 // or outputs to zero (stores the divisions hide)
  std::size_t samples = 0;                 // the number of them: w after r
  double m[4] = {kInf, kInf, kInf, kInf};  // min r
  double P[4] = {0, 0, 0, 0};              // sum w
  double Q[4] = {0, 0, 0, 0};              // sum w (r - r0)
  double lo[4] = {kInf, kInf, kInf, kInf};      // min of a and e
  double hi[4] = {-kInf, -kInf, -kInf, -kInf};  // max of a and e
  const double* cut = nullptr;  // or kCuts values of r: the sums of the workers below each
  double cut_P[kCuts][4] = {};  // sum w over the workers with r < cut[c] (c, lane)
  double cut_Q[kCuts][4] = {};  // sum w (r - r0) over them
};

#if defined(PABA_X86_SIMD)
template <bool Cuts>
__attribute__((target("avx"))) std::size_t input_lanes_avx(
    const double* __restrict beta, const double* __restrict compute, double* __restrict r,
    double* __restrict w, std::size_t K, double L, double B, double r0, Lanes& lanes) {
  const __m256d vL = _mm256_set1_pd(L), vB = _mm256_set1_pd(B), vr0 = _mm256_set1_pd(r0);
  __m256d m = _mm256_loadu_pd(lanes.m), P = _mm256_loadu_pd(lanes.P);
  __m256d Q = _mm256_loadu_pd(lanes.Q), lo = _mm256_loadu_pd(lanes.lo);
  __m256d hi = _mm256_loadu_pd(lanes.hi);
  __m256d cut[kCuts], cut_P[kCuts], cut_Q[kCuts];
  for (std::size_t c = 0; c < kCuts; ++c) {
    cut[c] = _mm256_set1_pd(Cuts ? lanes.cut[c] : 0.0);
    cut_P[c] = _mm256_loadu_pd(lanes.cut_P[c]);
    cut_Q[c] = _mm256_loadu_pd(lanes.cut_Q[c]);
  }
  std::size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    const __m256d a = _mm256_div_pd(_mm256_mul_pd(_mm256_loadu_pd(beta + k), vL), vB);
    const __m256d e = _mm256_mul_pd(_mm256_loadu_pd(compute + k), vL);
    const __m256d rk = _mm256_sqrt_pd(a), wk = _mm256_div_pd(rk, e);
    _mm256_storeu_pd(r + k, rk);
    _mm256_storeu_pd(w + k, wk);
    if (lanes.clear) {
      const __m256d zero = _mm256_setzero_pd();
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes.clear->loads + k),
                          _mm256_setzero_si256());
      _mm256_storeu_pd(lanes.clear->relaxed_loads + k, zero);
      _mm256_storeu_pd(lanes.clear->bandwidth + k, zero);
      _mm256_storeu_pd(lanes.clear->worker_latency + k, zero);
    }
    if (lanes.sample && k % kSampleStride == 0) {  // lane 0: worker k
      lanes.sample[k / kSampleStride] = _mm256_cvtsd_f64(rk);
      lanes.sample[lanes.samples + k / kSampleStride] = _mm256_cvtsd_f64(wk);
    }
    m = _mm256_min_pd(rk, m);
    P = _mm256_add_pd(P, wk);
    const __m256d wq = _mm256_mul_pd(wk, _mm256_sub_pd(rk, vr0));
    Q = _mm256_add_pd(Q, wq);
    lo = _mm256_min_pd(_mm256_min_pd(e, a), lo);
    hi = _mm256_max_pd(_mm256_max_pd(e, a), hi);
    if (Cuts) {  // + 0.0 for a worker not below the cut: the scalar lane's skipped addition
      for (std::size_t c = 0; c < kCuts; ++c) {
        const __m256d below = _mm256_cmp_pd(rk, cut[c], _CMP_LT_OQ);
        cut_P[c] = _mm256_add_pd(cut_P[c], _mm256_and_pd(below, wk));
        cut_Q[c] = _mm256_add_pd(cut_Q[c], _mm256_and_pd(below, wq));
      }
    }
  }
  if (Cuts) {
    for (std::size_t c = 0; c < kCuts; ++c) {
      _mm256_storeu_pd(lanes.cut_P[c], cut_P[c]);
      _mm256_storeu_pd(lanes.cut_Q[c], cut_Q[c]);
    }
  }
  _mm256_storeu_pd(lanes.m, m);
  _mm256_storeu_pd(lanes.P, P);
  _mm256_storeu_pd(lanes.Q, Q);
  _mm256_storeu_pd(lanes.lo, lo);
  _mm256_storeu_pd(lanes.hi, hi);
  return k;
}

std::size_t input_lanes_sse2(const double* __restrict beta, const double* __restrict compute,
                             double* __restrict r, double* __restrict w, std::size_t K, double L,
                             double B, double r0, Lanes& lanes) {
  const __m128d vL = _mm_set1_pd(L), vB = _mm_set1_pd(B), vr0 = _mm_set1_pd(r0);
  __m128d m[2], P[2], Q[2], lo[2], hi[2];
  for (int h = 0; h < 2; ++h) {
    m[h] = _mm_loadu_pd(lanes.m + 2 * h);
    P[h] = _mm_loadu_pd(lanes.P + 2 * h);
    Q[h] = _mm_loadu_pd(lanes.Q + 2 * h);
    lo[h] = _mm_loadu_pd(lanes.lo + 2 * h);
    hi[h] = _mm_loadu_pd(lanes.hi + 2 * h);
  }
  std::size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    for (int h = 0; h < 2; ++h) {
      const std::size_t i = k + 2 * static_cast<std::size_t>(h);
      const __m128d a = _mm_div_pd(_mm_mul_pd(_mm_loadu_pd(beta + i), vL), vB);
      const __m128d e = _mm_mul_pd(_mm_loadu_pd(compute + i), vL);
      const __m128d rk = _mm_sqrt_pd(a), wk = _mm_div_pd(rk, e);
      _mm_storeu_pd(r + i, rk);
      _mm_storeu_pd(w + i, wk);
      if (lanes.clear) {
        const __m128d zero = _mm_setzero_pd();
        _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes.clear->loads + i), _mm_setzero_si128());
        _mm_storeu_pd(lanes.clear->relaxed_loads + i, zero);
        _mm_storeu_pd(lanes.clear->bandwidth + i, zero);
        _mm_storeu_pd(lanes.clear->worker_latency + i, zero);
      }
      if (lanes.sample && i % kSampleStride == 0) {  // lane 0: worker i
        lanes.sample[i / kSampleStride] = _mm_cvtsd_f64(rk);
        lanes.sample[lanes.samples + i / kSampleStride] = _mm_cvtsd_f64(wk);
      }
      m[h] = _mm_min_pd(rk, m[h]);
      P[h] = _mm_add_pd(P[h], wk);
      const __m128d wq = _mm_mul_pd(wk, _mm_sub_pd(rk, vr0));
      Q[h] = _mm_add_pd(Q[h], wq);
      lo[h] = _mm_min_pd(_mm_min_pd(e, a), lo[h]);
      hi[h] = _mm_max_pd(_mm_max_pd(e, a), hi[h]);
      if (lanes.cut) {
        for (std::size_t c = 0; c < kCuts; ++c) {
          const __m128d below = _mm_cmplt_pd(rk, _mm_set1_pd(lanes.cut[c]));
          double* cP = lanes.cut_P[c] + 2 * h;
          double* cQ = lanes.cut_Q[c] + 2 * h;
          _mm_storeu_pd(cP, _mm_add_pd(_mm_loadu_pd(cP), _mm_and_pd(below, wk)));
          _mm_storeu_pd(cQ, _mm_add_pd(_mm_loadu_pd(cQ), _mm_and_pd(below, wq)));
        }
      }
    }
  }
  for (int h = 0; h < 2; ++h) {
    _mm_storeu_pd(lanes.m + 2 * h, m[h]);
    _mm_storeu_pd(lanes.P + 2 * h, P[h]);
    _mm_storeu_pd(lanes.Q + 2 * h, Q[h]);
    _mm_storeu_pd(lanes.lo + 2 * h, lo[h]);
    _mm_storeu_pd(lanes.hi + 2 * h, hi[h]);
  }
  return k;
}

#endif

InputSums input_pass(const double* __restrict beta, const double* __restrict compute,
                     double* __restrict r, double* __restrict w, std::size_t K, double L,
                     double B, double r0, double* __restrict sample, Result* clear,
                     const double* cut) {
  Lanes lanes;
  lanes.sample = sample;
  lanes.clear = clear;
  lanes.cut = cut;
  lanes.samples = (K + kSampleStride - 1) / kSampleStride;
  std::size_t k = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) {
    k = cut ? input_lanes_avx<true>(beta, compute, r, w, K, L, B, r0, lanes)
            : input_lanes_avx<false>(beta, compute, r, w, K, L, B, r0, lanes);
  } else {
    k = input_lanes_sse2(beta, compute, r, w, K, L, B, r0, lanes);
  }
#endif
  auto lane = [&](std::size_t i, int j) {
    const double a = beta[i] * L / B, e = compute[i] * L;
    const double rk = std::sqrt(a), wk = rk / e;
    r[i] = rk;
    w[i] = wk;
    if (clear) {
      clear->loads[i] = 0;
      clear->relaxed_loads[i] = 0.0;
      clear->bandwidth[i] = 0.0;
      clear->worker_latency[i] = 0.0;
    }
    if (sample && i % kSampleStride == 0) {
      sample[i / kSampleStride] = rk;
      sample[lanes.samples + i / kSampleStride] = wk;
    }
    lanes.m[j] = std::min(lanes.m[j], rk);
    lanes.P[j] += wk;
    const double wq = wk * (rk - r0);
    lanes.Q[j] += wq;
    if (lanes.cut) {
      for (std::size_t c = 0; c < kCuts; ++c) {
        if (rk < lanes.cut[c]) {
          lanes.cut_P[c][j] += wk;
          lanes.cut_Q[c][j] += wq;
        }
      }
    }
    lanes.lo[j] = std::min(lanes.lo[j], std::min(a, e));
    lanes.hi[j] = std::max(lanes.hi[j], std::max(a, e));
  };
  for (; k + 4 <= K; k += 4) {
    for (int j = 0; j < 4; ++j) lane(k + static_cast<std::size_t>(j), j);
  }
  for (; k < K; ++k) lane(k, 0);
  const double* m = lanes.m;
  const double* P = lanes.P;
  const double* Q = lanes.Q;
  InputSums sums;
  sums.r_min = std::min(std::min(m[0], m[1]), std::min(m[2], m[3]));
  sums.P = (P[0] + P[1]) + (P[2] + P[3]);
  sums.Q = (Q[0] + Q[1]) + (Q[2] + Q[3]);
  const double lowest = std::min(std::min(lanes.lo[0], lanes.lo[1]),
                                 std::min(lanes.lo[2], lanes.lo[3]));
  const double highest = std::max(std::max(lanes.hi[0], lanes.hi[1]),
                                  std::max(lanes.hi[2], lanes.hi[3]));
  sums.in_range = lowest >= kMinSeconds && highest <= kMaxSeconds && sums.P == sums.P;
  for (std::size_t c = 0; cut && c < kCuts; ++c) {
    const double* cP = lanes.cut_P[c];
    const double* cQ = lanes.cut_Q[c];
    sums.cut_P[c] = (cP[0] + cP[1]) + (cP[2] + cP[3]);
    sums.cut_Q[c] = (cQ[0] + cQ[1]) + (cQ[2] + cQ[3]);
  }
  return sums;
}

// The cuts of a cold first probe (kCutsFrom <= K < kSampleFrom): the values of r of rank
// kCutRanks among the first kCutSample workers, in increasing order. The pass over the inputs
// sums w and w (r - r0) over the workers below each cut; every such set has a Newton point right
// of the root, as every worker's does, and the set below a cut just right of the root has one
// close to it. r ranks as beta does; the c-th smallest of the values v is the least v_i that at
// least c values are at most (a NaN counts as +inf), which a count without branches finds.
void place_cuts(const double* beta, double L, double B, double* cut) {
  double v[kCutSample];
  for (std::size_t k = 0; k < kCutSample; ++k) v[k] = beta[k] == beta[k] ? beta[k] : kInf;
  std::size_t at_most[kCutSample];
  for (std::size_t i = 0; i < kCutSample; ++i) {
    std::size_t n = 0;
    for (std::size_t j = 0; j < kCutSample; ++j) n += v[j] <= v[i];
    at_most[i] = n;
  }
  for (std::size_t c = 0; c < kCuts; ++c) {
    double least = kInf;
    for (std::size_t i = 0; i < kCutSample; ++i) {
      least = at_most[i] >= kCutRanks[c] && v[i] < least ? v[i] : least;
    }
    cut[c] = std::sqrt(least * L / B);
  }
}

// A starting delta for large instances: the root of the same problem on every stride-th worker,
// each standing for `stride` (the pool share 1 scaled to the sample). A start anywhere is valid (the
// passes below handle either side); a good one lets the first full pass keep few candidates.
// The sample's r and w are in `scratch` (2 ceil(K / stride) doubles: the pass over the inputs
// gathered them when `gathered`, else they are gathered here), where the Newton passes read them
// in order instead of one cache line per worker each time.
double sampled_start(const double* r, const double* w, double r_min, std::size_t K,
                     std::size_t stride, Id* index, double* scratch, bool gathered) {
  std::size_t m = (K + stride - 1) / stride;
  double* r_sample = scratch;
  double* w_sample = scratch + m;
  for (std::size_t j = 0; j < m; ++j) {
    if (!gathered) {
      r_sample[j] = r[j * stride];
      w_sample[j] = w[j * stride];
    }
    index[j] = static_cast<Id>(j);
  }
  const double share = static_cast<double>(m) / static_cast<double>(K);
  double delta = kInf;
  std::size_t previous = m + 1;
  for (int pass = 0; pass < 64; ++pass) {  // Newton from the right, on the sample
    std::size_t kept = 0;
    const Piece at = active_sums(r_sample, w_sample, r_min, delta, index, m, false, delta, &kept);
    if (at.count == 0 || at.count >= previous) break;
    const double next = (share + at.Q) / at.P;
    previous = m = at.count;
    if (!(next < delta)) break;
    delta = next;
  }
  return delta;
}

// The root by sorting the candidates index[0..m) (those with d < delta, delta at or right of the
// root): between consecutive sorted d the active set is a prefix, and the root lies on the first
// prefix whose line reaches 1 before the next d.
double root_by_sort(const double* r, const double* w, double r_min, double delta, Id* index,
                    std::size_t m) {
  std::sort(index, index + m, [&](Id i, Id j) {
    return r[i] < r[j] || (r[i] == r[j] && i < j);
  });
  double P = 0.0, Q = 0.0;
  for (std::size_t j = 0; j < m; ++j) {
    P += w[index[j]];
    Q += w[index[j]] * (r[index[j]] - r_min);
    const double root = (1.0 + Q) / P;
    const double next = j + 1 < m ? r[index[j + 1]] - r_min : kInf;
    if (root <= next) return root;
  }
  return delta;  // not reached: the last prefix is the set active at delta, whose root is below
}

// The relaxed shares of the active workers list[0..m): b_i = max(0, w (gap_* - (r - r_*))) and
// h_i = b_i / (r s) of worker k = list[i], into b and h (dense); four at a time with AVX, with the
// same operations (_mm256_max_pd(y, 0) is std::max(0.0, y), a NaN included), so the same bits.
#if defined(PABA_X86_SIMD)
__attribute__((target("avx"))) std::size_t relaxed_shares_avx(
    const double* r, const double* w, const std::size_t* list, std::size_t m, double r_star,
    double gap_star, double s, double* b, double* h) {
  const __m256d vr_star = _mm256_set1_pd(r_star), vgap = _mm256_set1_pd(gap_star);
  const __m256d vs = _mm256_set1_pd(s), zero = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const std::size_t k0 = list[i], k1 = list[i + 1], k2 = list[i + 2], k3 = list[i + 3];
    const __m256d rk = _mm256_setr_pd(r[k0], r[k1], r[k2], r[k3]);
    const __m256d wk = _mm256_setr_pd(w[k0], w[k1], w[k2], w[k3]);
    const __m256d bk =
        _mm256_max_pd(_mm256_mul_pd(wk, _mm256_sub_pd(vgap, _mm256_sub_pd(rk, vr_star))), zero);
    _mm256_storeu_pd(b + i, bk);
    _mm256_storeu_pd(h + i, _mm256_div_pd(bk, _mm256_mul_pd(rk, vs)));
  }
  return i;
}

// relaxed_loads_at four at a time (blends for the two selections).
__attribute__((target("avx"))) std::size_t relaxed_loads_avx(
    const double* beta, const double* compute, const std::size_t* list, std::size_t m,
    double TL, double SB, double* b, double* h, double* worst) {
  const __m256d vTL = _mm256_set1_pd(TL), vSB = _mm256_set1_pd(SB);
  const __m256d zero = _mm256_setzero_pd(), inf = _mm256_set1_pd(kInf);
  __m256d vworst = zero;
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const std::size_t k0 = list[i], k1 = list[i + 1], k2 = list[i + 2], k3 = list[i + 3];
    const __m256d Bk = _mm256_mul_pd(_mm256_loadu_pd(b + i), vSB);
    const __m256d x = _mm256_mul_pd(_mm256_loadu_pd(h + i), vTL);
    const __m256d betak = _mm256_setr_pd(beta[k0], beta[k1], beta[k2], beta[k3]);
    const __m256d computek = _mm256_setr_pd(compute[k0], compute[k1], compute[k2], compute[k3]);
    const __m256d speed = _mm256_blendv_pd(inf, _mm256_add_pd(_mm256_div_pd(betak, Bk), computek),
                                           _mm256_cmp_pd(Bk, zero, _CMP_GT_OQ));
    const __m256d t = _mm256_blendv_pd(zero, _mm256_mul_pd(x, speed),
                                       _mm256_cmp_pd(x, zero, _CMP_GT_OQ));
    vworst = _mm256_max_pd(t, vworst);
    _mm256_storeu_pd(b + i, speed);
    _mm256_storeu_pd(h + i, x);
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, vworst);
  *worst = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  return i;
}
#endif

void relaxed_shares(const double* r, const double* w, const std::size_t* list, std::size_t m,
                    double r_star, double gap_star, double s, double* b, double* h) {
  std::size_t i = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) i = relaxed_shares_avx(r, w, list, m, r_star, gap_star, s, b, h);
#endif
  for (; i < m; ++i) {
    const std::size_t k = list[i];
    b[i] = std::max(0.0, w[k] * (gap_star - (r[k] - r_star)));
    h[i] = b[i] / (r[k] * s);
  }
}

// From the shares b and h of the active workers list[0..m) (dense, as relaxed_shares leaves
// them), with TL = T L and SB = scale B: the relaxed load x = h TL (into h) and seconds per
// parameter speed = beta / B_k + compute, B_k = b SB, or inf without bandwidth (into b), of each;
// returns the relaxed latency, the largest x speed of a loaded worker (0 if none): a maximum,
// the same in any order, of values that are never NaN.
double relaxed_loads_at(const double* beta, const double* compute, const std::size_t* list,
                        std::size_t m, double TL, double SB, double* b, double* h) {
  std::size_t i = 0;
  double worst = 0.0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) i = relaxed_loads_avx(beta, compute, list, m, TL, SB, b, h, &worst);
#endif
  for (; i < m; ++i) {
    const std::size_t k = list[i];
    const double Bk = b[i] * SB;
    const double x = h[i] * TL;
    const double speed = Bk > 0.0 ? beta[k] / Bk + compute[k] : kInf;
    b[i] = speed;
    h[i] = x;
    worst = std::max(worst, x > 0.0 ? x * speed : 0.0);
  }
  return worst;
}

// Dense columns of the loaded workers for the parameter-aware step at the integer loads.
struct Loaded {
  double* load;     // parameters, as doubles (exact: at most 2^53)
  double* beta;
  double* compute;
  double* num;      // a x (x = load / L), then the share b, then the bandwidth in Hz
  double* gap;      // e x, then dmax - e x, then the latency in seconds
};

#if defined(PABA_X86_SIMD)
__attribute__((target("avx"))) std::size_t loaded_shares_avx(const Loaded& c, std::size_t n,
                                                              double T) {
  const __m256d vT = _mm256_set1_pd(T);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d y = _mm256_add_pd(vT, _mm256_loadu_pd(c.gap + i));
    _mm256_storeu_pd(c.num + i, _mm256_div_pd(_mm256_loadu_pd(c.num + i), y));
  }
  return i;
}

__attribute__((target("avx"))) std::size_t loaded_latency_avx(const Loaded& c, std::size_t n,
                                                               double SB, double* worst) {
  const __m256d vSB = _mm256_set1_pd(SB), zero = _mm256_setzero_pd();
  const __m256d inf = _mm256_set1_pd(kInf);
  __m256d vworst = zero;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m256d Bk = _mm256_mul_pd(_mm256_loadu_pd(c.num + i), vSB);
    const __m256d per = _mm256_add_pd(_mm256_div_pd(_mm256_loadu_pd(c.beta + i), Bk),
                                      _mm256_loadu_pd(c.compute + i));
    const __m256d t = _mm256_add_pd(
        _mm256_add_pd(_mm256_mul_pd(_mm256_loadu_pd(c.load + i), per), _mm256_div_pd(zero, Bk)),
        zero);
    const __m256d latency = _mm256_blendv_pd(inf, t, _mm256_cmp_pd(Bk, zero, _CMP_GT_OQ));
    vworst = _mm256_max_pd(latency, vworst);
    _mm256_storeu_pd(c.num + i, Bk);
    _mm256_storeu_pd(c.gap + i, latency);
  }
  double lanes[4];
  _mm256_storeu_pd(lanes, vworst);
  *worst = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  return i;
}
#endif

// The share b = num / (T + gap) of each loaded worker, in place of num.
void loaded_shares(const Loaded& c, std::size_t n, double T) {
  std::size_t i = 0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) i = loaded_shares_avx(c, n, T);
#endif
  for (; i < n; ++i) c.num[i] = c.num[i] / (T + c.gap[i]);
}

// The bandwidth B_k = b SB (in place of b) and the latency of each loaded worker (in place of
// gap), by worker_time's formula with alpha = tau = 0 (internal.hpp); returns their maximum
// (a maximum of values that are never NaN: the same in any order), 0 for none.
double loaded_latency(const Loaded& c, std::size_t n, double SB) {
  std::size_t i = 0;
  double worst = 0.0;
#if defined(PABA_X86_SIMD)
  if (has_avx()) i = loaded_latency_avx(c, n, SB, &worst);
#endif
  for (; i < n; ++i) {
    const double Bk = c.num[i] * SB;
    const double alpha = 0.0, tau = 0.0;
    const double t =
        Bk > 0.0 ? c.load[i] * (c.beta[i] / Bk + c.compute[i]) + alpha / Bk + tau : kInf;
    c.num[i] = Bk;
    c.gap[i] = t;
    worst = std::max(worst, t);
  }
  return worst;
}

}  // namespace

// S(z) - 1 and S'(z) (its magnitude, in `slope` when not null) of the parameter-aware step, as
// solve_slack_with reads them (internal.hpp), over dense arrays of the loaded workers:
// S(z) = sum_i num_i / (z + gap_i), summed in four lanes (worker i of the blocks of four in lane
// i mod 4, joined as (l0 + l1) + (l2 + l3), then the rest): one running sum waited for each add.
// On x86-64 the quotients are formed four at a time; every path gives the same bits. (Declared
// in internal.hpp: the parameter-aware step of the general problem uses it too, simple.cpp.)
namespace {

// The workers [k, n) after the lanes, one at a time, into s and ds; then S(z) - 1 (slope: ds).
inline double slack_rest(const double* num, const double* gap, std::size_t k, std::size_t n,
                         double z, double s, double ds, double* slope) {
  for (; k < n; ++k) {
    const double y = z + gap[k];
    const double q = num[k] / y;
    s += q;
    ds += q / y;
  }
  if (slope) *slope = ds;
  return s - 1.0;
}

}  // namespace

#if defined(PABA_X86_SIMD)
namespace {
__attribute__((target("avx"))) double slack_sums_avx(const double* num, const double* gap,
                                                     std::size_t n, double z, double* slope) {
  const __m256d vz = _mm256_set1_pd(z);
  __m256d vs = _mm256_setzero_pd(), vds = _mm256_setzero_pd();
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d y = _mm256_add_pd(vz, _mm256_loadu_pd(gap + k));
    const __m256d q = _mm256_div_pd(_mm256_loadu_pd(num + k), y);
    vs = _mm256_add_pd(vs, q);
    vds = _mm256_add_pd(vds, _mm256_div_pd(q, y));
  }
  double ls[4], lds[4];
  _mm256_storeu_pd(ls, vs);
  _mm256_storeu_pd(lds, vds);
  return slack_rest(num, gap, k, n, z, (ls[0] + ls[1]) + (ls[2] + ls[3]),
                    (lds[0] + lds[1]) + (lds[2] + lds[3]), slope);
}
}  // namespace
#endif

double slack_sums(const double* num, const double* gap, std::size_t n, double z,
                  double* slope) {
#if defined(PABA_X86_SIMD)
  if (has_avx()) return slack_sums_avx(num, gap, n, z, slope);
#endif
  // The lanes of slack_sums_avx: worker k of the blocks of four in lane k mod 4, the rest after.
  double ls[4] = {0.0, 0.0, 0.0, 0.0}, lds[4] = {0.0, 0.0, 0.0, 0.0};
  const std::size_t blocks = n - n % 4;
  for (std::size_t k = 0; k < blocks; ++k) {
    const double y = z + gap[k];
    const double q = num[k] / y;
    ls[k % 4] += q;
    lds[k % 4] += q / y;
  }
  return slack_rest(num, gap, blocks, n, z, (ls[0] + ls[1]) + (ls[2] + ls[3]),
                    (lds[0] + lds[1]) + (lds[2] + lds[3]), slope);
}

bool exact_applies(const Problem& p) {
  if (p.n_workers == 0 || p.n_groups != p.n_workers) return false;
  if (!p.group && !p.alpha && !p.tau) return true;  // what paba.System passes: skip the pass
  for (std::size_t k = 0; k < p.n_workers; ++k) {
    if (p.group && p.group[k] != static_cast<std::int64_t>(k)) return false;
    if (p.alpha && p.alpha[k] != 0.0) return false;
    if (p.tau && p.tau[k] != 0.0) return false;
  }
  return true;
}

void allocate_exact(const Problem& p, const std::int64_t* previous_loads, int max_passes,
                    Result& out, std::vector<std::size_t>& index) {
  if (!p.beta || !p.compute) throw std::invalid_argument("beta: null input");
  check_scalars(p);
  const std::size_t K = p.n_workers;
  const double L = p.params, B = p.bandwidth;
  // Below kSampleFrom workers, r, w and the candidate lists live in scratch kept for reuse (at
  // most 3 kSampleFrom values per thread), and the pass over the inputs zeroes the outputs while
  // its divisions run; from there on, the outputs serve as scratch (r in worker_latency, w in
  // relaxed_loads, the candidates in loads, until each is written) and are cleared after the
  // search.
  const bool own_scratch = K < kSampleFrom;
  thread_local std::vector<double> rw_scratch;
  thread_local std::vector<Id> id_scratch;
  double* r = out.worker_latency;
  double* w = out.relaxed_loads;
  Id* candidates = out.loads;
  if (own_scratch) {
    if (rw_scratch.size() < 2 * K) rw_scratch.resize(2 * K);
    if (id_scratch.size() < K) id_scratch.resize(K);
    r = rw_scratch.data();
    w = r + K;
    candidates = id_scratch.data();
  }

  const double r0 = std::sqrt(p.beta[0] * L / B);
  // A large cold instance starts from a sample (see sampled_start) of every 32nd worker from
  // 65,536 workers, which the pass over the inputs gathers into the bandwidth output, not written
  // before the relaxed optimum.
  const std::size_t stride = std::min<std::size_t>(kSampleStride, K / 2048);
  const bool gathered = K >= kSampleFrom && !previous_loads && stride == kSampleStride;
  // A smaller cold instance takes the sums below cuts (place_cuts) in the same pass.
  double cut[kCuts];
  const bool cuts = K >= kCutsFrom && K < kSampleFrom && !previous_loads;
  if (cuts) place_cuts(p.beta, L, B, cut);
  const InputSums sums =
      input_pass(p.beta, p.compute, r, w, K, L, B, r0, gathered ? out.bandwidth : nullptr,
                 own_scratch ? &out : nullptr, cuts ? cut : nullptr);
  if (!sums.in_range) {  // report the first worker out of range, as the nested bisection does
    for (std::size_t k = 0; k < K; ++k) check_seconds(p.beta[k] * L / B, p.compute[k] * L);
  }
  // The sums of a first Newton step from every worker (or the warm set), taken about r_0 since
  // r_min was not known when they were formed.
  const double r_min = sums.r_min;
  const double all_P = sums.P, all_Q = sums.Q;
  double warm_P = 0.0, warm_Q = 0.0;
  if (previous_loads) {
    for (std::size_t k = 0; k < K; ++k) {
      if (previous_loads[k] > 0) {
        warm_P += w[k];
        warm_Q += w[k] * (r[k] - r0);
      }
    }
  }

  // The search for delta = s - r_min (see the top of the file). Each pass reads the candidates
  // at one probe delta and gives the Newton point next = (1 + Q) / P of its active set, which is
  // never left of the root, and the piece of F around delta. If next lies on that piece, F is
  // linear between them and next is the root, exactly. Otherwise the bracket lo < root <= hi
  // narrows (hi: every Newton point; lo: a probe whose Newton point lies right of it), and the
  // next probe is a Newton step on log F against log delta (exact where F ~ c delta^p, which the
  // sums of ramps follow far better than a line) when it falls inside the bracket, else next.
  // Candidates: every worker with d < hi, compacted to the front of `candidates` as hi falls; a
  // start from a sample may keep fewer (up to `keep`) if the first bound confirms it.
  const bool warm = warm_P > 0.0;
  double delta = (r0 - r_min) + (1.0 + (warm ? warm_Q : all_Q)) / (warm ? warm_P : all_P);
  if (!(delta > 0.0)) delta = kInf;
  for (std::size_t c = 0; cuts && c < kCuts; ++c) {  // the least Newton point of the cuts' sets
    const double below = (r0 - r_min) + (1.0 + sums.cut_Q[c]) / sums.cut_P[c];
    if (below > 0.0 && below < delta) delta = below;
  }
  // The Newton point of any set of workers lies right of the root (its line lies below F), so
  // the first pass keeps only the workers below it. Formed about r_0 it is a probe, not a bound:
  // should it fall short of the root by rounding, the first bound does not confirm it and the
  // next pass reads every worker, as after a sampled start.
  double keep = delta;
  if (K >= kSampleFrom && !warm) {  // (previous loads without a loaded worker: gathered here)
    delta = sampled_start(r, w, r_min, K, stride, candidates, out.bandwidth, gathered);
    keep = 1.5 * delta;
  }
  double lo = 0.0, hi = kInf;  // F(0) = 0 < 1: the worker with d = 0 is always active
  std::size_t m = K;           // candidates: candidates[0..m), or every worker until `compact`
  bool compact = false;
  long passes = 0;
  bool done = false;
  while (passes < max_passes) {
    ++passes;
    std::size_t kept = 0;
    const double keep_used = compact ? keep : kInf;  // candidates not read have d >= this
    const Piece at = active_sums(r, w, r_min, delta, candidates, m, !compact, keep, &kept);
    const double next = (1.0 + at.Q) / at.P;
    if (next > at.below && next <= std::min(at.above, keep_used)) {  // on delta's piece
      delta = next;
      done = true;
      m = kept;
      break;
    }
    hi = std::min(hi, next);
    if (next > delta) lo = std::max(lo, delta);
    // The kept candidates (d < keep) hold every worker below hi once hi <= keep.
    compact = compact || hi <= keep;
    m = compact ? kept : K;
    keep = hi;
    double probe = next;
    const double F = delta * at.P - at.Q;
    if (F > 0.0 && std::isfinite(delta)) {
      const double power = std::exp(-std::log(F) * F / (delta * at.P));
      const double step = delta * power;
      if (step > lo && step < hi) probe = step;
    }
    delta = probe;
  }
  if (!done) {
    // Sort the candidates below hi, which brackets the root from the right.
    active_sums(r, w, r_min, hi, candidates, m, !compact, hi, &m);
    delta = root_by_sort(r, w, r_min, hi, candidates, m);
  }
  out.iterations = passes;
  // The active workers, a subset of candidates[0..m), move to index[0..m) (their number is m from
  // here on; every worker outside the candidates has d >= delta). The price is then re-anchored
  // at the active worker of largest w: b_k = w_k (s - r_k) multiplies the error of s - r_k by w_k,
  // and about r_min that error is eps times d, which for a heavy worker far from r_min is not
  // small (a worker with w = 1e5 and d = 376 lost 6e-9 of the latency this way). About r_* the
  // heavy worker's s - r_* = (1 + sum_j w_j (r_j - r_*)) / P has no cancellation.
  std::size_t heavy = K;
  {
    std::size_t j = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = static_cast<std::size_t>(candidates[i]);
      if (r[k] - r_min < delta) {
        candidates[j++] = static_cast<Id>(k);
        if (heavy == K || w[k] > w[heavy]) heavy = k;
      }
    }
    m = j;
  }
  // index[0..m): the active workers in search order (by id, or by r after the sorted scan), the
  // order of every step below; index[m..2m): the rounding's scratch, and first the same workers by
  // id, the order in which the shares are summed.
  if (index.size() < 2 * m) index.resize(2 * m);
  std::size_t* active = index.data();
  std::copy(candidates, candidates + m, active);
  std::size_t* by_id = active;
  if (!done) {
    by_id = active + m;
    std::copy(active, active + m, by_id);
    std::sort(by_id, by_id + m);
  }
  const double r_star = r[heavy];
  double gap_star = 0.0;  // s - r_*
  {
    double P = 0.0, Q = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = active[i];
      P += w[k];
      Q += w[k] * (r[k] - r_star);
    }
    gap_star = (1.0 + Q) / P;
  }

  // The relaxed optimum: shares b and h = b / (r s) of the active workers, formed in dense
  // arrays in the order of their ids (relaxed_shares), summed in that order, then scaled; then
  // the scratch r and w are cleared with the other outputs in whole-array stores, so that no pass
  // reads every worker.
  const double s = r_star + gap_star;
  thread_local std::vector<double> shares;  // scratch, kept for reuse: b then h, m each
  if (shares.size() < 2 * m) shares.resize(2 * m);
  double* b_of = shares.data();
  double* h_of = b_of + m;
  relaxed_shares(r, w, by_id, m, r_star, gap_star, s, b_of, h_of);
  double sum_b = 0.0, sum_h = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    sum_b += b_of[i];
    sum_h += h_of[i];
  }
  if (!own_scratch) {
    std::fill(out.loads, out.loads + K, 0);
    std::fill(out.bandwidth, out.bandwidth + K, 0.0);
    std::fill(out.relaxed_loads, out.relaxed_loads + K, 0.0);
    std::fill(out.worker_latency, out.worker_latency + K, 0.0);
  }
  const double T = 1.0 / sum_h;
  // Keep the pool's budget strict under rounding, as the parameter-aware step does.
  const double scale = sum_b > 1.0 - kBudgetMargin ? (1.0 - kBudgetMargin) / sum_b : 1.0;
  // Then the relaxed latency, and the floors of the loads (docs/algorithms.md 3.6). Its
  // latencies are worker_time's, load (beta / B_k + compute) with alpha = tau = 0 adding nothing;
  // the seconds per parameter are formed once, in place of the relaxed bandwidth, for the
  // rounding as well (relaxed_loads_at: in place of b and h, the speed and the load x).
  const double relaxed_latency =
      relaxed_loads_at(p.beta, p.compute, by_id, m, T * L, scale * B, b_of, h_of);
  // The floors go to dense scratch in slot order. With the slots in id order (after the probes)
  // the rounding reads the speeds in b_of and the bandwidth output stays zero until the
  // parameter-aware step writes it; after the sorted scan they are written out in its place.
  const bool in_order = by_id == active;
  thread_local std::vector<std::int64_t> floors;  // scratch, kept for reuse
  if (floors.size() < m) floors.resize(m);
  std::int64_t assigned = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = by_id[i];
    const double x = h_of[i];
    out.relaxed_loads[k] = x;
    if (!in_order) out.bandwidth[k] = b_of[i];
    const double v = std::floor(x);
    floors[i] = v > 0.0 ? static_cast<std::int64_t>(std::min(v, L)) : 0;
    assigned += floors[i];
  }
  out.relaxed_latency = relaxed_latency;

  // Integer loads of the active workers at the relaxed bandwidth: by round_up_dense over the
  // dense floors and speeds where the slots are in id order, else (or where its bounds fail)
  // round_to_total over the loads output, whose scratch is index[m..2m) and worker_latency
  // (cleared after); either way floors[i] ends with the load of active[i].
  const std::int64_t R = static_cast<std::int64_t>(L) - assigned;
  if (!(in_order && R > 0 && m >= kDenseRoundFrom &&
        round_up_dense(m, R, L, relaxed_latency, floors.data(), b_of))) {
    for (std::size_t i = 0; i < m; ++i) out.loads[by_id[i]] = floors[i];
    const double* speed = out.bandwidth;
    round_to_total(
        m, static_cast<std::int64_t>(L),
        [&](std::size_t i) -> std::int64_t& { return out.loads[active[i]]; },
        [&](std::size_t i, std::int64_t load) {
          return load > 0 ? static_cast<double>(load) * (in_order ? b_of[i] : speed[active[i]])
                          : 0.0;
        },
        active + m, out.worker_latency);
    std::fill(out.worker_latency, out.worker_latency + m, 0.0);  // the rounding's scratch
    for (std::size_t i = 0; i < m; ++i) floors[i] = out.loads[active[i]];
  }

  // Bandwidth for the integer loads (the parameter-aware step, docs/algorithms.md 3.3) over the
  // loaded workers, started from the relaxed optimum's slack, which the integer loads barely move.
  // Its terms are formed in normalised units exactly as the reference twin forms them
  // (a x and e x, a = beta L / B, e = compute L, x = load / L): the slack of a compute-bound
  // worker is far smaller than max d, so a different rounding of d would show in its bandwidth.
  // They are formed once, into dense arrays in the order of the loaded workers (num, and work
  // then gap = dmax - work), in the pass that writes the loads out, since every step of the root
  // search reads them all; the loads (as doubles), beta and compute of the loaded workers are
  // gathered beside them for loaded_latency (four at a time with AVX, the same operations).
  thread_local std::vector<double> dense;  // scratch, kept for reuse
  if (dense.size() < 5 * m) dense.resize(5 * m);
  Loaded c;
  c.load = dense.data();
  c.beta = c.load + m;
  c.compute = c.beta + m;
  c.num = c.compute + m;
  c.gap = c.num + m;
  std::size_t loaded = 0;
  double dmax = 0.0, numsum = 0.0, dmin = kInf;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = active[i];
    const std::int64_t load = floors[i];
    out.loads[k] = load;
    if (!in_order) out.bandwidth[k] = 0.0;
    if (load > 0) {
      const double x = static_cast<double>(load) / L;
      const double num = p.beta[k] * L / B * x, work = p.compute[k] * L * x;
      c.load[loaded] = static_cast<double>(load);
      c.beta[loaded] = p.beta[k];
      c.compute[loaded] = p.compute[k];
      c.num[loaded] = num;
      c.gap[loaded] = work;
      dmax = std::max(dmax, work);
      dmin = std::min(dmin, work);
      numsum += num;
      active[loaded++] = k;
    }
  }
  if (floors.size() > kKeptScratch) std::vector<std::int64_t>().swap(floors);
  const double* num_of = c.num;
  double* gap_of = c.gap;
  for (std::size_t i = 0; i < loaded; ++i) gap_of[i] = dmax - gap_of[i];
  const RootStats st = solve_slack_with(
      [&](double z, double* slope) { return slack_sums(num_of, gap_of, loaded, z, slope); },
      numsum, dmax - dmin, T - dmax);
  // The shares b = num / (T + gap) (into num), their total in order, then the bandwidth
  // b (rescale B) and each loaded worker's latency (worker_time's formula, with alpha = tau = 0).
  loaded_shares(c, loaded, st.T);
  double total = 0.0;
  for (std::size_t i = 0; i < loaded; ++i) total += c.num[i];
  const double rescale = total > 1.0 - kBudgetMargin ? (1.0 - kBudgetMargin) / total : 1.0;
  out.latency = loaded_latency(c, loaded, rescale * B);
  for (std::size_t i = 0; i < loaded; ++i) {
    out.bandwidth[active[i]] = c.num[i];
    out.worker_latency[active[i]] = c.gap[i];
  }
  // The per-thread scratch of a large active set is not kept.
  if (dense.size() > kKeptScratch) std::vector<double>().swap(dense);
  if (shares.size() > kKeptScratch) std::vector<double>().swap(shares);
  out.status = st.converged ? status_ok : status_not_converged;
}

}  // namespace detail
}  // namespace paba
