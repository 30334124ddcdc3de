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
// most and reads only the candidates still below the bracket (compacted into the index buffer).
// After Options::exact_passes probes the candidates are sorted and scanned instead
// (O(m log m)), which bounds the worst case.
//
// The search runs on the offsets d_k = r_k - r_min >= 0 and delta = s - r_min (the same steps:
// active iff d_k < delta, delta' = (1 + sum w d) / sum w, b_k = w_k (delta - d_k)), because s - r_k
// formed directly cancels: a worker whose communication dwarfs its computation has s - r_k far
// below the resolution of r_k.
// Then a_k + e_k b_k = r_k s, so h_k = b_k / (r_k s), T* = 1 / sum h and x_k = T* h_k.
// Memory: the outputs serve as scratch before they are written (r_k in worker_latency, r_k / e_k in
// relaxed_loads); the only other buffer is the caller's index vector.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "internal.hpp"
#include "paba.hpp"

namespace paba {
namespace detail {
namespace {

constexpr std::size_t kSampleFrom = 8192;  // workers from which the start is sampled

// The sums of one pass, with the piece of F around delta: `below` is the largest d under delta,
// `above` the smallest d at or above it (among the candidates read).
struct Piece {
  std::size_t count = 0;  // active workers (d < delta)
  double P = 0.0;         // sum of w = r / e over them
  double Q = 0.0;         // sum of w d over them, d = r - r_min
  double below = -kInf;
  double above = kInf;
};

// One pass over the candidates (index[0..m), or every worker when `all` is set) at delta. The
// candidates with d < keep are compacted to the front of `index`, their number in `kept`.
Piece active_sums(const double* r, const double* w, double r_min, double delta,
                  std::size_t* index, std::size_t m, bool all, double keep, std::size_t* kept) {
  Piece piece;
  std::size_t j = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = all ? i : index[i];
    const double d = r[k] - r_min;
    if (d < keep) index[j++] = k;
    if (d < delta) {
      ++piece.count;
      piece.P += w[k];
      piece.Q += w[k] * d;
      piece.below = std::max(piece.below, d);
    } else {
      piece.above = std::min(piece.above, d);
    }
  }
  *kept = j;
  return piece;
}

// A starting delta for large instances: the root of the same problem on every stride-th worker,
// each standing for `stride` (the pool share 1 scaled to the sample). A start anywhere is valid (the
// passes below handle either side); a good one lets the first full pass keep few candidates.
double sampled_start(const double* r, const double* w, double r_min, std::size_t K,
                     std::size_t stride, std::size_t* index) {
  std::size_t m = (K + stride - 1) / stride;
  for (std::size_t j = 0; j < m; ++j) index[j] = j * stride;
  const double share = static_cast<double>(m) / static_cast<double>(K);
  double delta = kInf;
  std::size_t previous = m + 1;
  for (int pass = 0; pass < 64; ++pass) {  // Newton from the right, on the sample
    std::size_t kept = 0;
    const Piece at = active_sums(r, w, r_min, delta, index, m, false, delta, &kept);
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
double root_by_sort(const double* r, const double* w, double r_min, double delta,
                    std::size_t* index, std::size_t m) {
  std::sort(index, index + m, [&](std::size_t i, std::size_t j) {
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

// Latencies of the listed workers (the only ones with load; worker_latency is zero elsewhere);
// returns their maximum.
template <class Load>
double active_latency(const Problem& p, const Load* loads, const double* bandwidth,
                      double* worker_latency, const std::size_t* list, std::size_t m) {
  double worst = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = list[i];
    const double t = worker_time(p, k, static_cast<double>(loads[k]), bandwidth[k]);
    worker_latency[k] = t;
    worst = std::max(worst, t);
  }
  return worst;
}

}  // namespace

bool exact_applies(const Problem& p) {
  if (p.n_workers == 0 || p.n_groups != p.n_workers) return false;
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
  double* r = out.worker_latency;  // scratch until the latencies are written
  double* w = out.relaxed_loads;   // scratch until the loads are written

  // One pass over the inputs: r, w, r_min, and the sums of a first Newton step from every worker
  // (or the warm set), taken about r_0 since r_min is not known yet. Range checks are collected
  // without branching and reported after the loop, so that the loop vectorises.
  const double r0 = std::sqrt(p.beta[0] * L / B);
  for (std::size_t k = 0; k < K; ++k) {  // vectorises: no branch, no errno (-fno-math-errno)
    r[k] = std::sqrt(p.beta[k] * L / B);
    w[k] = r[k] / (p.compute[k] * L);
  }
  // Four running minima and sums break the dependency chains of the reductions; the range
  // checks ride along without branching.
  double r_min = kInf;
  double all_P = 0.0, all_Q = 0.0, warm_P = 0.0, warm_Q = 0.0;  // sums of w and w (r - r_0)
  bool bad = false;
  {
    double m4[4] = {kInf, kInf, kInf, kInf}, P4[4] = {0, 0, 0, 0}, Q4[4] = {0, 0, 0, 0};
    int out_of_range = 0;
    auto check = [&](std::size_t k) {
      const double a = p.beta[k] * L / B, e = p.compute[k] * L;
      return static_cast<int>(!(a >= kMinSeconds) | !(a <= kMaxSeconds) | !(e >= kMinSeconds) |
                              !(e <= kMaxSeconds));
    };
    std::size_t k = 0;
    for (; k + 4 <= K; k += 4) {
      for (int j = 0; j < 4; ++j) {
        m4[j] = std::min(m4[j], r[k + j]);
        P4[j] += w[k + j];
        Q4[j] += w[k + j] * (r[k + j] - r0);
        out_of_range |= check(k + j);
      }
    }
    for (; k < K; ++k) {
      m4[0] = std::min(m4[0], r[k]);
      P4[0] += w[k];
      Q4[0] += w[k] * (r[k] - r0);
      out_of_range |= check(k);
    }
    bad = out_of_range != 0;
    r_min = std::min(std::min(m4[0], m4[1]), std::min(m4[2], m4[3]));
    all_P = (P4[0] + P4[1]) + (P4[2] + P4[3]);
    all_Q = (Q4[0] + Q4[1]) + (Q4[2] + Q4[3]);
  }
  if (bad) {  // report the first worker out of range, as the nested bisection's normalise()
    for (std::size_t k = 0; k < K; ++k) check_seconds(p.beta[k] * L / B, p.compute[k] * L);
  }
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
  // Candidates: every worker with d < hi, compacted to the front of `index` as hi falls; a
  // start from a sample may keep fewer (up to `keep`) if the first bound confirms it.
  index.resize(K);
  const bool warm = warm_P > 0.0;
  double delta = (r0 - r_min) + (1.0 + (warm ? warm_Q : all_Q)) / (warm ? warm_P : all_P);
  // (about r_0: a probe, not a bound)
  if (!(delta > 0.0)) delta = kInf;
  double keep = kInf;
  if (K >= kSampleFrom && !warm) {
    delta = sampled_start(r, w, r_min, K, std::min<std::size_t>(32, K / 2048), index.data());
    keep = 1.5 * delta;
  }
  double lo = 0.0, hi = kInf;  // F(0) = 0 < 1: the worker with d = 0 is always active
  std::size_t m = K;           // candidates: index[0..m), or every worker until `compact`
  bool compact = false;
  long passes = 0;
  bool done = false;
  while (passes < max_passes) {
    ++passes;
    std::size_t kept = 0;
    const double keep_used = compact ? keep : kInf;  // candidates not read have d >= this
    const Piece at = active_sums(r, w, r_min, delta, index.data(), m, !compact, keep, &kept);
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
    active_sums(r, w, r_min, hi, index.data(), m, !compact, hi, &m);
    delta = root_by_sort(r, w, r_min, hi, index.data(), m);
  }
  out.iterations = passes;
  // The active workers, a subset of index[0..m): compact them (their number is m from here on;
  // the pass below tests the same d < delta on every worker). The price is then re-anchored at
  // the active worker of largest w: b_k = w_k (s - r_k) multiplies the error of s - r_k by w_k,
  // and about r_min that error is eps times d, which for a heavy worker far from r_min is not
  // small (a worker with w = 1e5 and d = 376 lost 6e-9 of the latency this way). About r_* the
  // heavy worker's s - r_* = (1 + sum_j w_j (r_j - r_*)) / P has no cancellation.
  std::size_t heavy = K;
  {
    std::size_t j = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = index[i];
      if (r[k] - r_min < delta) {
        index[j++] = k;
        if (heavy == K || w[k] > w[heavy]) heavy = k;
      }
    }
    m = j;
  }
  const double r_star = r[heavy];
  double gap_star = 0.0;  // s - r_*
  {
    double P = 0.0, Q = 0.0;
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = index[i];
      P += w[k];
      Q += w[k] * (r[k] - r_star);
    }
    gap_star = (1.0 + Q) / P;
  }

  // The relaxed optimum in one pass over every worker, which also clears the outputs of the
  // inactive ones (and the scratch r, w): shares b and h = b / (r s), then scaled for the active.
  const double s = r_star + gap_star;
  double sum_b = 0.0, sum_h = 0.0;
  for (std::size_t k = 0; k < K; ++k) {
    double b = 0.0, h = 0.0;
    if (r[k] - r_min < delta) {
      b = std::max(0.0, w[k] * (gap_star - (r[k] - r_star)));
      h = b / (r[k] * s);
    }
    out.bandwidth[k] = b;
    out.relaxed_loads[k] = h;  // over w
    out.worker_latency[k] = 0.0;  // over r
    out.loads[k] = 0;
    sum_b += b;
    sum_h += h;
  }
  const double T = 1.0 / sum_h;
  // Keep the pool's budget strict under rounding, as the parameter-aware step does.
  const double scale = sum_b > 1.0 - kBudgetMargin ? (1.0 - kBudgetMargin) / sum_b : 1.0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = index[i];
    out.bandwidth[k] *= scale * B;
    out.relaxed_loads[k] *= T * L;
  }
  out.relaxed_latency = active_latency(p, out.relaxed_loads, out.bandwidth, out.worker_latency,
                                       index.data(), m);

  // Integer loads (docs/algorithms.md 3.6) of the active workers at the relaxed bandwidth; the
  // rounding's scratch is index[m..2m) and worker_latency (cleared after).
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = index[i];
    const double v = std::floor(out.relaxed_loads[k]);
    out.loads[k] = v > 0.0 ? static_cast<std::int64_t>(std::min(v, L)) : 0;
  }
  if (index.size() < 2 * m) index.resize(2 * m);
  std::size_t* active = index.data();
  round_to_total(
      m, static_cast<std::int64_t>(L),
      [&](std::size_t i) -> std::int64_t& { return out.loads[active[i]]; },
      [&](std::size_t i, std::int64_t load) {
        return worker_time(p, active[i], static_cast<double>(load), out.bandwidth[active[i]]);
      },
      active + m, out.worker_latency);
  std::fill(out.worker_latency, out.worker_latency + m, 0.0);  // the rounding's scratch (by slot)

  // Bandwidth for the integer loads (the parameter-aware step, docs/algorithms.md 3.3) over the
  // loaded workers, started from the relaxed optimum's slack, which the integer loads barely move.
  // Its terms are formed in normalised units exactly as the reference twin forms them
  // (a x and e x, a = beta L / B, e = compute L, x = load / L): the slack of a compute-bound
  // worker is far smaller than max d, so a different rounding of d would show in its bandwidth.
  auto num = [&](std::size_t i) {
    const std::size_t k = active[i];
    return p.beta[k] * L / B * (static_cast<double>(out.loads[k]) / L);
  };
  auto work = [&](std::size_t i) {
    const std::size_t k = active[i];
    return p.compute[k] * L * (static_cast<double>(out.loads[k]) / L);
  };
  std::size_t loaded = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const std::size_t k = active[i];
    out.bandwidth[k] = 0.0;
    out.worker_latency[k] = 0.0;
    if (out.loads[k] > 0) active[loaded++] = k;
  }
  double dmax = 0.0, numsum = 0.0, dmin = kInf;
  for (std::size_t i = 0; i < loaded; ++i) {
    dmax = std::max(dmax, work(i));
    dmin = std::min(dmin, work(i));
    numsum += num(i);
  }
  auto gap = [&](std::size_t i) { return dmax - work(i); };
  const RootStats st = solve_slack(loaded, [](std::size_t) { return true; }, num, gap, numsum,
                                   dmax - dmin, T - dmax);
  double total = 0.0;
  for (std::size_t i = 0; i < loaded; ++i) {
    out.bandwidth[active[i]] = num(i) / (st.T + gap(i));
    total += out.bandwidth[active[i]];
  }
  const double rescale = total > 1.0 - kBudgetMargin ? (1.0 - kBudgetMargin) / total : 1.0;
  for (std::size_t i = 0; i < loaded; ++i) out.bandwidth[active[i]] *= rescale * B;
  out.latency = active_latency(p, out.loads, out.bandwidth, out.worker_latency, active, loaded);
  out.status = st.converged ? status_ok : status_not_converged;
}

}  // namespace detail
}  // namespace paba
