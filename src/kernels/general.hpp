// Internals shared by the kernel files of the general problem (groups, alpha, tau): the
// normalised instance, the inner level's data and scratch, and the entry points each algorithm
// file offers the others. Not part of the public kernel API (paba.hpp).
//
// Where each algorithm lives (docs/architecture.md, "The kernels"):
//   simple.cpp        the two-step building blocks: parameter_aware, fixed_rate_loads, rates,
//                     round_loads, equal_loads (docs/algorithms.md 3.2, 3.3, 3.6);
//   price_search.cpp  the joint scheme at a fixed T: prepare, loads_at_price, price_search,
//                     min_bandwidth (3.5);
//   bisection.cpp     joint: the nested bisection on T (3.5);
//   newton.cpp        joint_newton: Newton steps on T with the duality certificate (3.5.1);
//   screen.cpp        screened_newton: Newton on candidate groups, then the verification (3.5.2);
//   allocation.cpp    the dispatch: normalise, allocate, evaluate, allocate_general, and joint's
//                     coarse integer loads against the two-step schemes' (best_integer_loads);
//   exact.cpp         the exact method of the basic model (3.7; declared in internal.hpp).
//
// Every scheme works on a normalised instance: loads are fractions x_n = L_n / L of the model
// (summing to 1) and bandwidths fractions b_k = B_k / B of the pool (summing to at most 1), so
//   T_k = x_n (a_k / b_k + e_k) + f_k / b_k + tau_k,
//   a_k = beta_k L / B,  e_k = c_k L,  f_k = alpha_k / B   (all in seconds).
// This keeps every root search well scaled whatever the units of the caller.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "paba.hpp"

namespace paba {
namespace detail {

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

// The instance in normalised units, with the checks and messages of every general path
// (allocation.cpp).
Instance normalise(const Problem& p);

// ---------------------------------------------------------------------------------------------
// The two-step building blocks (simple.cpp).
RootStats parameter_aware(const Instance& in, const double* x, double* b);
RootStats fixed_rate_loads(const Instance& in, const double* s, const double* r, double* x);
void rates(const Instance& in, const double* b, double* s, double* r);
void round_loads(const Instance& in, const double* x, double L, const double* s, const double* r,
                 std::int64_t* loads, std::vector<std::size_t>& index, double* value);
void equal_loads(std::size_t N, double L, std::int64_t* loads);
// Joint's integer loads are checked against the parameter-aware and sequential schemes'
// (allocation.cpp) on instances of at most kCoarseGroups groups where params is below
// kCoarseLoads parameters per group (docs/algorithms.md 3.6): the two schemes over every worker
// cost more than the exact method itself on large instances.
constexpr double kCoarseLoads = 128.0;
constexpr std::size_t kCoarseGroups = 64;
// A candidate replaces the joint answer only when faster by more than this, relative: below it
// the answers are equal up to rounding, which must not decide between them (the backends agree
// to about 1e-9, paba.testing.BACKEND_RTOL).
constexpr double kCandidateMargin = 1e-9;

// ---------------------------------------------------------------------------------------------
// The joint scheme's inner level (price_search.cpp has its derivation): a group's data at a
// latency T, and the scratch and results of the price search.
// Loads are carried with their slack z = U_n - x below the group's compute limit: the bandwidth
// a worker needs divides by y_k = u_k - e_k x = e_k (g_k + z), g_k = u_k / e_k - U_n >= 0, and
// near the compute limit y is far smaller than u, so computing it as u - e x would cancel.
struct GroupPoint {
  double x = 0.0;      // load
  double z = 0.0;      // slack U_n - x
  double slope = 0.0;  // dx / dsigma (<= 0)
};

inline double compute_limit(const Instance& in, std::size_t n, double T) {
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

inline GroupSums group_sums(const Instance& in, std::size_t n, double T, double U, double x,
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
// Vectors lent by the calling thread's pool with the capacity they had: a solve's scratch is
// taken and given back instead of allocated, cleared by the kernel's page faults and freed on
// every solve (a fifth of a general solve at K = 10^4). The pool keeps a vector of at most
// kKeptScratch values, and at most 4 kKeptScratch values of each type in all (32 MiB of doubles).
template <class T>
struct ScratchPool {
  std::vector<std::vector<T>> kept;
  std::size_t values = 0;  // the capacity held in `kept`
};
template <class T>
ScratchPool<T>& scratch_pool() {
  thread_local ScratchPool<T> pool;
  return pool;
}
template <class T>
void take_scratch(std::vector<T>& v) {
  auto& pool = scratch_pool<T>();
  if (pool.kept.empty()) return;
  v = std::move(pool.kept.back());
  pool.kept.pop_back();
  pool.values -= v.capacity();
}
template <class T>
void give_scratch(std::vector<T>& v) {
  auto& pool = scratch_pool<T>();
  const std::size_t c = v.capacity();
  if (c > 0 && c <= kKeptScratch && pool.values + c <= 4 * kKeptScratch) {
    pool.kept.push_back(std::move(v));
    pool.values += c;
  }
}

// A vector lent by the calling thread's pool for one scope (take_scratch / give_scratch): the
// vectors a solve needs besides InnerWork's, without a fresh allocation (and its page faults on
// a large instance) each time.
template <class T>
struct Scratch {
  std::vector<T> v;
  explicit Scratch(std::size_t n, T value = T()) {
    take_scratch(v);
    v.assign(n, value);
  }
  template <class It>
  Scratch(It first, It last) {
    take_scratch(v);
    v.assign(first, last);
  }
  ~Scratch() { give_scratch(v); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() { return v.data(); }
  typename std::vector<T>::iterator begin() { return v.begin(); }
  typename std::vector<T>::iterator end() { return v.end(); }
};

struct InnerWork {
  std::vector<double> threshold, cut, z, z_hi;  // per group
  std::vector<unsigned char> lazy;                     // per group: cut is rho_n(0) (settle)
  std::vector<std::size_t> single, several;            // group ids with one member, and more
  std::vector<double> limit, rate, single_cut, single_threshold;  // by position in `single`
  std::vector<double> single_a, single_e, single_f, single_tau;   // the members' data, likewise
  // Groups of several members, by position j in `several`: their members' data in one dense run
  // each (member_*[several_first[j] .. several_first[j + 1])), and what the price passes read of
  // them that depends on T alone, formed once by prepare (group_at_price_convex): each member's
  // w = a u + e f, g = u / e - U_n and sqrt(w); each group's U_n, rho_n(0) and the sum of
  // w / e^2 over the members that bind at U_n (U_n is NaN where a member cannot finish by T).
  std::vector<std::size_t> several_first;
  std::vector<double> member_a, member_e, member_f, member_tau;
  std::vector<double> member_w, member_g, member_root_w;
  std::vector<double> several_U, several_rho0, several_binding;
  bool any_fixed = false;
  // Groups whose participation a branch of the certificate settles (newton.cpp), applied by
  // prepare: +1 takes part at its own cost (no chord, so no threshold and no jump), -1 takes no
  // load at any price. Empty outside the certificate's branches.
  std::vector<std::pair<std::size_t, int>> forced;
  explicit InnerWork(const Instance& in) {
    for_each([](auto& v) { take_scratch(v); });
    for (auto* v : {&threshold, &cut, &z, &z_hi}) v->assign(in.N, 0.0);
    lazy.assign(in.N, 0);
    single.clear();
    several.clear();
    for (std::size_t k = 0; k < in.K; ++k) any_fixed = any_fixed || in.f[k] > 0.0;
    for (std::size_t n = 0; n < in.N; ++n)
      (in.offset[n + 1] - in.offset[n] == 1 ? single : several).push_back(n);
    for (auto* v : {&limit, &rate, &single_cut, &single_threshold, &single_a, &single_e,
                    &single_f, &single_tau}) {
      v->resize(single.size());
    }
    for (std::size_t i = 0; i < single.size(); ++i) {
      const std::size_t k = in.member[in.offset[single[i]]];
      single_a[i] = in.a[k];
      single_e[i] = in.e[k];
      single_f[i] = in.f[k];
      single_tau[i] = in.tau[k];
    }
    several_first.assign(1, 0);
    for (const std::size_t n : several)
      several_first.push_back(several_first.back() + (in.offset[n + 1] - in.offset[n]));
    const std::size_t members = several_first.back();
    for (auto* v : {&member_a, &member_e, &member_f, &member_tau, &member_w, &member_g,
                    &member_root_w}) {
      v->resize(members);
    }
    for (auto* v : {&several_U, &several_rho0, &several_binding}) v->resize(several.size());
    for (std::size_t j = 0; j < several.size(); ++j) {
      std::size_t i = several_first[j];
      for (std::size_t p = in.offset[several[j]]; p < in.offset[several[j] + 1]; ++p, ++i) {
        const std::size_t k = in.member[p];
        member_a[i] = in.a[k];
        member_e[i] = in.e[k];
        member_f[i] = in.f[k];
        member_tau[i] = in.tau[k];
      }
    }
  }
  ~InnerWork() {
    for_each([](auto& v) { give_scratch(v); });
  }
  // Group n's position in `single`, or single.size() where it has several members.
  std::size_t single_position(std::size_t n) const {
    const auto at = std::lower_bound(single.begin(), single.end(), n);
    return at != single.end() && *at == n ? static_cast<std::size_t>(at - single.begin())
                                          : single.size();
  }
  // Group n's position in `several` (n has several members).
  std::size_t several_position(std::size_t n) const {
    return static_cast<std::size_t>(std::lower_bound(several.begin(), several.end(), n) -
                                    several.begin());
  }
  InnerWork(const InnerWork&) = delete;
  InnerWork& operator=(const InnerWork&) = delete;

 private:
  template <class F>
  void for_each(F f) {
    for (auto* v : {&threshold, &cut, &z, &z_hi, &limit, &rate, &single_cut,
                    &single_threshold, &single_a, &single_e, &single_f, &single_tau, &member_a,
                    &member_e, &member_f, &member_tau, &member_w, &member_g, &member_root_w,
                    &several_U, &several_rho0, &several_binding}) {
      f(*v);
    }
    f(lazy);
    f(single);
    f(several);
    f(several_first);
  }
};

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

double group_bandwidth(const Instance& in, std::size_t n, double T, double x, double z);
void prepare(double T, InnerWork& work);
double cut_at(std::size_t n, double T, double sigma, InnerWork& work);
PricePass loads_at_price(double T, double sigma, InnerWork& work, double* x = nullptr,
                         double* z = nullptr);
InnerResult price_search(const Instance& in, double T, double* x, InnerWork& work, double sigma,
                         double hi, double* price, OuterSums* sums);
InnerResult min_bandwidth(const Instance& in, double T, double* x, InnerWork& work);

// ---------------------------------------------------------------------------------------------
// The outer level: the nested bisection (bisection.cpp), Newton (newton.cpp), the screen
// (screen.cpp), and the dispatch the screen hands its candidates to (allocation.cpp).
RootStats joint(const Instance& in, double L, double tol, double* x_best);

// What a Newton solve of a screened instance (its candidate groups only) tells the screen
// (docs/algorithms.md 3.5.2): the last latency read and its price, and, with fixed costs, the
// certificate's latency and the least price of its branches' bounds (a group outside that is
// off there is off at every branch's price). `plain` is false where the solve did not end on Newton's own
// answer (untrusted loads, a failed certificate, or the start kept); the screen then solves the
// whole instance instead, and the solve stops there.
struct NewtonReport {
  bool fixed = false;  // in: the whole instance has fixed communication (certify)
  bool estimate = false;  // in: T and sigma only (the screen's estimate): no certificate
  bool plain = true;
  double T = 0.0, sigma = 0.0, T_c = 0.0, sigma_c = 0.0;
};

void allocate_general(const Problem& problem, Scheme scheme, const std::int64_t* loads_in,
                      const double* bandwidth_in, const Options& options, Result& out,
                      std::vector<std::size_t>& index, NewtonReport* report);

RootStats joint_newton(const Instance& in, double L, double* x_best, double* b,
                       bool* b_converged, NewtonReport* report = nullptr);

constexpr std::size_t kScreenMin = 128;  // groups; fewer are solved whole
bool screened_newton(const Problem& p, const Options& options, Result& out,
                     std::vector<std::size_t>& index);

}  // namespace detail
}  // namespace paba
