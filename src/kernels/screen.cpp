// The Newton method on large instances (docs/algorithms.md 3.5.2): screened_newton solves the
// instance of a few candidate groups (newton.cpp, through the dispatch) and verifies the others
// at the latency and price found; it loops, at most kScreenRounds times, while the candidates
// grow, and returns false (the caller then solves the whole instance) where a round cannot
// conclude. Mirrored by python/paba/reference/screen.py.
//
// Screening (docs/algorithms.md 3.5.2). At the joint optimum only a few groups carry load (a few
// hundred of 10^5 on the benchmark's cells), and a group carries load only if its price at zero
// load beats the optimum's: rho_n(0) > sigma, which needs sigma^2 (a_k u_k + e_k f_k) < u_k^2
// for every member (u_k = T - tau_k > 0). So the Newton method solves the instance of a few
// candidate groups and then verifies the others at the latency and price it found: a group
// outside whose cut lies above that price would have taken load, and joins the candidates for
// another round. When none would, the candidates' answer satisfies the optimality conditions of
// the whole instance (and, with fixed costs, its certificate covers every group). The first
// candidates are the groups of least key and, where a sample's solve says many groups carry
// load, those with load at its estimate; a round with far too few candidates adds only half of
// the groups that fail it.
#include "general.hpp"
#include "simd.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace paba {
namespace detail {

namespace {

constexpr int kScreenRounds = 16;           // then the whole instance is solved
constexpr std::size_t kScreenSample = 1024; // keys read to place the first candidates' cut-off
// From kEstimateFrom groups, a solve of every s-th group (the model and the pool scaled by the
// same share) estimates the optimum's latency and price, and the groups that take load there
// join the first candidates; kEstimateMargin widens the estimate. The sample: s = N /
// kEstimateFewGroups below kEstimateManyFrom groups (a solve of 64 groups costs a fraction of a
// round of the first candidates, which on instances where a quarter of the groups or more carry
// load is a round wasted), s = N / kEstimateGroups from there.
constexpr std::size_t kEstimateFrom = 512;
constexpr std::size_t kEstimateFewGroups = 64;
constexpr std::size_t kEstimateManyFrom = 2048;
constexpr std::size_t kEstimateGroups = 256;
constexpr double kEstimateMargin = 0.05;
constexpr std::size_t kEstimateLeast = 2;  // loaded groups of the sample that make an estimate

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
    prepare(T, work);
    for (std::size_t i = 0; i < pass.size(); ++i) {
      const double c = cut_at(i, T, sigma, work);
      const bool jumps = !work.lazy[i] && work.threshold[i] > 0.0;
      if (on_at(sigma, c, jumps)) on[i] = 1;
    }
  }
  for (std::size_t i = 0; i < pass.size(); ++i)
    if (on[i]) found.push_back(pass[i]);
  return true;
}

// The first candidates' estimate (kEstimateFrom groups or more): the groups that take load at
// the latency and price of a solve of every s-th group, with the model and the pool scaled by
// the same share (so each worker's a_k, and the price, keep their scale), widened by
// kEstimateMargin: (T (1 + m), sigma (1 - m)). Appends them (ascending, outside in_c) to
// `found`; adds nothing where the sample's solve does not end on Newton's own answer, or where
// its loaded groups, each standing for s, are fewer than kEstimateLeast or not more than the
// `first` candidates by key.
void estimate_candidates(const Problem& p, const std::vector<unsigned char>& in_c,
                         const std::vector<std::size_t>& size, bool fixed, std::size_t first,
                         std::vector<std::int64_t>& slot, std::vector<std::size_t>& found) {
  const std::size_t N = p.n_groups;
  const std::size_t stride = N / (N >= kEstimateManyFrom ? kEstimateGroups : kEstimateFewGroups);
  std::vector<std::size_t> sample;
  for (std::size_t n = 0; n < N; n += stride) sample.push_back(n);
  Subset sub;
  take_groups(p, sample, slot, sub);
  const double share = static_cast<double>(sample.size()) / static_cast<double>(N);
  sub.problem.params = std::max(1.0, std::round(p.params * share));
  sub.problem.bandwidth = p.bandwidth * (sub.problem.params / p.params);
  const Instance in = normalise(sub.problem);
  std::vector<double> x(in.N), b(in.K);
  bool converged = false;
  NewtonReport report;
  report.fixed = fixed;
  report.estimate = true;
  joint_newton(in, sub.problem.params, x.data(), b.data(), &converged, &report);
  if (!report.plain || !std::isfinite(report.T) || !(report.sigma > 0.0)) return;
  // Few groups with load in the sample: the first candidates by key hold them already (and an
  // estimate from a handful of groups is rough), so none join.
  std::size_t loaded = 0;
  for (const double load : x) loaded += load > 0.0 ? 1 : 0;
  if (loaded < kEstimateLeast || !(loaded * stride > first)) return;
  const double at[1][2] = {{report.T * (1.0 + kEstimateMargin),
                            report.sigma * (1.0 - kEstimateMargin)}};
  screen_violators(p, in_c, size, at, 1, slot, found);
}

// The groups of `found` not yet candidates join them: marked in in_c and merged into
// `candidates`, which stay in ascending order.
void join_candidates(const std::vector<std::size_t>& found, std::vector<unsigned char>& in_c,
                     std::vector<std::size_t>& candidates) {
  const std::size_t before = candidates.size();
  for (const std::size_t n : found) {
    if (!in_c[n]) {
      in_c[n] = 1;
      candidates.push_back(n);
    }
  }
  const auto added = candidates.begin() + static_cast<std::ptrdiff_t>(before);
  std::sort(added, candidates.end());
  std::inplace_merge(candidates.begin(), added, candidates.end());
}

}  // namespace

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
  std::vector<std::size_t> found;
  if (N >= kEstimateFrom) {
    estimate_candidates(p, in_c, size, fixed, first, slot, found);
    join_candidates(found, in_c, candidates);
  }
  Subset sub;
  std::vector<std::int64_t> loads;
  std::vector<double> relaxed, bandwidth, worker_latency;
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
    // A round whose candidates were far too few ends far above the optimum, where many more
    // groups pass than carry load there: beyond twice the candidates, only half of those that
    // pass join (at least twice the candidates), those with the least keys (the basic model's
    // order).
    const std::size_t before = candidates.size();
    if (found.size() > 2 * before) {
      const std::size_t keep = std::max(2 * before, found.size() / 2);
      const auto less = [keys](std::size_t i, std::size_t j) {
        return keys[i] < keys[j] || (keys[i] == keys[j] && i < j);
      };
      std::nth_element(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(keep),
                       found.end(), less);
      found.resize(keep);
    }
    join_candidates(found, in_c, candidates);
  }
  return false;
}

}  // namespace detail
}  // namespace paba
