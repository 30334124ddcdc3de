// Random and malformed instances through every scheme of the C++ kernels, for a build with
// AddressSanitizer and UndefinedBehaviorSanitizer (tests/test_sanitizers.py). Exits non-zero on
// a broken invariant; the sanitizers abort on any memory error or undefined behaviour.
#include "internal.hpp"
#include "paba.hpp"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>
#include <limits>
int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 20000;
  std::mt19937_64 rng(12345);
  auto pick = [&](std::vector<double> options) { return options[rng() % options.size()]; };
  std::uniform_real_distribution<double> u(-8, 8);
  long ok = 0, invalid = 0, infeasible = 0, notconv = 0, rounded = 0;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (int trial = 0; trial < trials; ++trial) {
    std::size_t K = 1 + rng() % 12;
    std::size_t N = 1 + rng() % K;
    std::vector<double> beta(K), compute(K), alpha(K), tau(K), bw(K);
    std::vector<std::int64_t> group(K), loads(N);
    bool garbage = rng() % 10 == 0;
    for (std::size_t k = 0; k < K; ++k) {
      beta[k] = std::pow(10.0, u(rng)); compute[k] = std::pow(10.0, u(rng));
      alpha[k] = rng() % 2 ? 0.0 : std::pow(10.0, u(rng)); tau[k] = rng() % 2 ? 0.0 : std::pow(10.0, u(rng) / 4);
      group[k] = k < N ? k : rng() % N;
      bw[k] = rng() % 4 ? std::pow(10.0, u(rng) / 2) : 0.0;
      if (garbage) {
        beta[k] = pick({beta[k], 0.0, -1.0, nan, inf, 1e300, 1e-300});
        compute[k] = pick({compute[k], 0.0, nan, inf});
        tau[k] = pick({tau[k], -1.0, nan, 1e300});
        group[k] = pick({0.0, -1.0, (double)N, 1e18}) ;
      }
    }
    double params = pick({1.0, 3.0, 1e6, 1e9, 9007199254740992.0});
    double B = std::pow(10.0, u(rng));
    if (garbage) { params = pick({params, 0.0, -5.0, 2.5, nan, 1e300}); B = pick({B, 0.0, nan, -1.0}); }
    std::int64_t remaining = (std::int64_t)std::max(1.0, std::min(params, 1e15));
    for (std::size_t n = 0; n < N; ++n) { loads[n] = n + 1 == N ? remaining : remaining / 2; remaining -= loads[n]; }
    paba::Problem p; p.n_workers = K; p.n_groups = N; p.beta = beta.data(); p.compute = compute.data();
    p.alpha = alpha.data(); p.tau = tau.data(); p.group = group.data(); p.params = params; p.bandwidth = B;
    // One worker per group without group ids or fixed costs half of the time: the exact method.
    if (N == K && rng() % 2) { p.group = nullptr; p.alpha = nullptr; p.tau = rng() % 2 ? nullptr : p.tau; }
    std::vector<std::int64_t> out_loads(N); std::vector<double> rl(N), ob(K), wl(K);
    paba::Result r; r.loads = out_loads.data(); r.relaxed_loads = rl.data(); r.bandwidth = ob.data(); r.worker_latency = wl.data();
    for (int scheme = 0; scheme < 5; ++scheme) {
      try {
        paba::Options options;
        options.tol = pick({1e-9, 1e-15, 0.1});
        options.method = static_cast<paba::Method>(rng() % 3);
        options.previous_loads = rng() % 2 ? loads.data() : nullptr;
        options.exact_passes = static_cast<int>(pick({12.0, 1.0, 2.0, 0.0}));
        paba::allocate(p, static_cast<paba::Scheme>(scheme), rng() % 2 ? loads.data() : nullptr, rng() % 2 ? bw.data() : nullptr, options, r);
        if (r.status == paba::status_infeasible) ++infeasible; else if (r.status == paba::status_not_converged) ++notconv; else ++ok;
        if (r.status != paba::status_infeasible && !garbage) {
          std::int64_t sum = 0; for (auto l : out_loads) sum += l;
          if ((double)sum != params) { std::printf("sum mismatch scheme %d\n", scheme); return 1; }
          if (!std::isfinite(r.latency)) {
            std::printf("non-finite latency scheme %d K=%zu\n", scheme, K);
            return 1;
          }
        }
      } catch (const std::invalid_argument&) { ++invalid; }
    }
  }
  // Large instances for the exact method's sampled start (K >= 8192), some with a capped search.
  for (int trial = 0; trial < 6; ++trial) {
    const std::size_t K = 8192 + rng() % 20000;
    std::vector<double> beta(K), compute(K), rl(K), ob(K), wl(K);
    std::vector<std::int64_t> out_loads(K);
    for (std::size_t k = 0; k < K; ++k) { beta[k] = std::pow(10.0, u(rng)); compute[k] = std::pow(10.0, u(rng)); }
    paba::Problem p; p.n_workers = K; p.n_groups = K; p.beta = beta.data(); p.compute = compute.data();
    p.params = pick({1.0, 1e6, 1e9}); p.bandwidth = std::pow(10.0, u(rng));
    paba::Result r; r.loads = out_loads.data(); r.relaxed_loads = rl.data(); r.bandwidth = ob.data(); r.worker_latency = wl.data();
    paba::Options options; options.exact_passes = trial % 2 ? 12 : 1;
    try {
      paba::allocate(p, paba::Scheme::joint, nullptr, nullptr, options, r);
      std::int64_t sum = 0; for (auto l : out_loads) sum += l;
      if ((double)sum != p.params || !std::isfinite(r.latency)) { std::printf("large instance broken\n"); return 1; }
      ++ok;
    } catch (const std::invalid_argument&) { ++invalid; }
  }
  // The exact method's cut start (256 to 8191 workers, cold): the first 16 workers place the
  // cuts, so they are sorted, tied or malformed at times; some searches capped, some warm.
  for (int trial = 0; trial < trials / 100; ++trial) {
    const std::size_t K = 256 + rng() % 1100;
    std::vector<double> beta(K), compute(K), rl(K), ob(K), wl(K);
    std::vector<std::int64_t> out_loads(K), previous(K, 0);
    for (std::size_t k = 0; k < K; ++k) { beta[k] = std::pow(10.0, u(rng)); compute[k] = std::pow(10.0, u(rng) - 4); }
    const int first = static_cast<int>(rng() % 5);
    if (first == 1) std::sort(beta.begin(), beta.end());
    if (first == 2) std::sort(beta.begin(), beta.end(), [](double a, double b) { return a > b; });
    if (first == 3) for (std::size_t k = 0; k < 16; ++k) beta[k] = beta[16];
    const bool garbage = first == 4;
    if (garbage) beta[rng() % (rng() % 2 ? 16 : K)] = pick({nan, inf, -inf, -1.0, 0.0, 1e300, 1e-300});
    previous[rng() % K] = 1;
    paba::Problem p; p.n_workers = K; p.n_groups = K; p.beta = beta.data(); p.compute = compute.data();
    p.params = pick({1.0, 1e6, 1e9}); p.bandwidth = std::pow(10.0, u(rng));
    paba::Result r; r.loads = out_loads.data(); r.relaxed_loads = rl.data(); r.bandwidth = ob.data(); r.worker_latency = wl.data();
    paba::Options options;
    options.exact_passes = static_cast<int>(pick({12.0, 1.0, 2.0}));
    options.previous_loads = rng() % 4 ? nullptr : previous.data();
    try {
      paba::allocate(p, paba::Scheme::joint, nullptr, nullptr, options, r);
      std::int64_t sum = 0; for (auto l : out_loads) sum += l;
      if (!garbage && ((double)sum != p.params || !std::isfinite(r.latency))) {
        std::printf("cut-start instance broken K=%zu\n", K);
        return 1;
      }
      ++ok;
    } catch (const std::invalid_argument&) { ++invalid; }
  }
  // The Newton method's screen (128 groups or more; every 16th instance 2,048 or more, where a
  // solve of a sample of the groups places the first candidates): random instances with groups
  // and fixed costs over wide ranges, some with one malformed worker (a value or a group id) or
  // a group without members, screened and whole.
  for (int trial = 0; trial < trials / 40; ++trial) {
    const std::size_t least = trial % 16 == 0 ? 2048 : 128;
    const std::size_t K = least + rng() % 400;
    const std::size_t N = rng() % 2 ? K : least + rng() % (K - least + 1);
    std::vector<double> beta(K), compute(K), alpha(K), tau(K), rl(N), ob(K), wl(K);
    std::vector<std::int64_t> group(K), out_loads(N);
    for (std::size_t k = 0; k < K; ++k) {
      beta[k] = std::pow(10.0, u(rng)); compute[k] = std::pow(10.0, u(rng) - 4);
      alpha[k] = rng() % 2 ? 0.0 : std::pow(10.0, u(rng) / 2 + 3);
      tau[k] = rng() % 2 ? 0.0 : std::pow(10.0, u(rng) / 4);
      group[k] = k < N ? static_cast<std::int64_t>(k) : static_cast<std::int64_t>(rng() % N);
    }
    const bool garbage = rng() % 6 == 0;
    if (garbage) {
      const std::size_t k = rng() % K;
      switch (rng() % 6) {
        case 0: beta[k] = pick({nan, inf, -1.0, 0.0, 1e300}); break;
        case 1: compute[k] = pick({nan, 0.0, -inf}); break;
        case 2: alpha[k] = pick({nan, -1.0, inf}); break;
        case 3: tau[k] = pick({nan, -1.0, 1e300}); break;
        case 4: group[k] = static_cast<std::int64_t>(pick({-1.0, (double)N, 1e18})); break;
        default: group[k % N] = static_cast<std::int64_t>((k % N + 1) % N); break;  // may empty a group
      }
    }
    paba::Problem p; p.n_workers = K; p.n_groups = N; p.beta = beta.data(); p.compute = compute.data();
    p.alpha = rng() % 4 ? alpha.data() : nullptr; p.tau = rng() % 4 ? tau.data() : nullptr;
    p.group = N == K && rng() % 2 ? nullptr : group.data();
    p.params = pick({1.0, 37.0, 1e6, 1e9}); p.bandwidth = std::pow(10.0, u(rng) / 2 + 6);
    paba::Result r; r.loads = out_loads.data(); r.relaxed_loads = rl.data(); r.bandwidth = ob.data(); r.worker_latency = wl.data();
    paba::Options options;
    options.method = rng() % 2 ? paba::Method::newton : paba::Method::automatic;
    options.screen = rng() % 4 != 0;
    try {
      paba::allocate(p, paba::Scheme::joint, nullptr, nullptr, options, r);
      if (r.status == paba::status_infeasible) { ++infeasible; continue; }
      std::int64_t sum = 0; for (auto l : out_loads) sum += l;
      if (!garbage && ((double)sum != p.params || !std::isfinite(r.latency))) {
        std::printf("screened instance broken K=%zu N=%zu\n", K, N);
        return 1;
      }
      if (r.status == paba::status_not_converged) ++notconv; else ++ok;
    } catch (const std::invalid_argument&) { ++invalid; }
  }
  // Batches: ragged instances on 1 and 2 threads, half of them with group ids local to each
  // instance, with some malformed ones (values, offsets, group ids and group offsets).
  for (int trial = 0; trial < trials / 20; ++trial) {
    const std::size_t M = 1 + rng() % 12;
    std::vector<std::int64_t> offsets(M + 1, 0), group_offsets(M + 1, 0);
    for (std::size_t i = 0; i < M; ++i) offsets[i + 1] = offsets[i] + 1 + static_cast<std::int64_t>(rng() % 30);
    const std::size_t W = static_cast<std::size_t>(offsets[M]);
    const bool grouped = rng() % 2;
    std::vector<std::int64_t> group(W);
    for (std::size_t i = 0; i < M; ++i) {
      const auto K = static_cast<std::size_t>(offsets[i + 1] - offsets[i]);
      const std::size_t N = 1 + rng() % K;
      group_offsets[i + 1] = group_offsets[i] + static_cast<std::int64_t>(N);
      for (std::size_t k = 0; k < K; ++k)
        group[offsets[i] + k] = static_cast<std::int64_t>(k < N ? k : rng() % N);
    }
    const std::size_t G = grouped ? static_cast<std::size_t>(group_offsets[M]) : W;
    std::vector<double> beta(W), compute(W), params(M), B(M);
    std::vector<std::int64_t> previous(G);
    const bool garbage = rng() % 5 == 0;
    for (std::size_t k = 0; k < W; ++k) {
      beta[k] = std::pow(10.0, u(rng)); compute[k] = std::pow(10.0, u(rng));
      if (garbage && rng() % 10 == 0) beta[k] = pick({0.0, nan, -inf});
      if (garbage && grouped && rng() % 10 == 0)
        group[k] = static_cast<std::int64_t>(pick({-1.0, 0.0, 1e18, -9.2e18, 30.0}));
    }
    for (std::size_t g = 0; g < G; ++g) previous[g] = rng() % 2;
    for (std::size_t i = 0; i < M; ++i) { params[i] = pick({1.0, 1e6, 1e9}); B[i] = std::pow(10.0, u(rng)); }
    if (garbage && rng() % 2) offsets[rng() % M + 1] = offsets[0];
    // Group offsets that step by 0, step past an instance's workers, or do not start at 0; the
    // last entry stays at G (the binding checks it against the outputs' size).
    if (garbage && grouped && rng() % 2) {
      const std::size_t i = rng() % M;
      group_offsets[i] = pick({-1.0, 0.0, 1e18, static_cast<double>(group_offsets[i + 1])});
    }
    std::vector<std::int64_t> lo(G), it(M); std::vector<double> rlo(G), bo(W), wlo(W), lat(M), rlat(M);
    std::vector<std::int32_t> st(M), me(M);
    paba::Batch batch; batch.n_instances = M; batch.offsets = offsets.data(); batch.beta = beta.data();
    batch.compute = compute.data(); batch.params = params.data(); batch.bandwidth = B.data();
    batch.previous_loads = rng() % 2 ? previous.data() : nullptr;
    if (grouped) { batch.group = group.data(); batch.group_offsets = group_offsets.data(); }
    paba::BatchResult out; out.loads = lo.data(); out.relaxed_loads = rlo.data(); out.bandwidth = bo.data();
    out.worker_latency = wlo.data(); out.latency = lat.data(); out.relaxed_latency = rlat.data();
    out.iterations = it.data(); out.status = st.data(); out.method = me.data();
    for (int scheme = 0; scheme < 5; ++scheme) {
      try {
        paba::Options options;
        options.method = static_cast<paba::Method>(rng() % 3);
        paba::allocate_batch(batch, static_cast<paba::Scheme>(scheme), options, out, 1 + static_cast<int>(rng() % 2));
        ++ok;
        for (std::size_t i = 0; i < M && !garbage; ++i) {
          std::int64_t sum = 0;
          const auto& per_group = grouped ? group_offsets : offsets;
          for (auto g = per_group[i]; g < per_group[i + 1]; ++g) sum += lo[g];
          if ((double)sum != params[i] || !std::isfinite(lat[i])) { std::printf("batch instance %zu broken\n", i); return 1; }
        }
      } catch (const std::invalid_argument&) { ++invalid; }
    }
  }
  // The checks of paba.System (check_workers): any of the inputs absent, values at and around
  // the ends of their ranges, copies into a buffer of exactly the given inputs.
  long checked = 0, faults = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const std::size_t K = rng() % 40;
    std::vector<std::vector<double>> inputs(4, std::vector<double>(K));
    const double L = pick({1.0, 1e6, 9007199254740992.0}), B = std::pow(10.0, 40 * u(rng));
    for (auto& values : inputs) {
      for (auto& v : values) {
        v = rng() % 8 ? std::pow(10.0, 12 * u(rng))
                      : pick({0.0, -0.0, -1.0, nan, inf, -inf, 1e80, 1e-80, 5e-324});
      }
    }
    paba::Problem p; p.n_workers = K; p.params = L; p.bandwidth = B;
    const double** slots[4] = {&p.beta, &p.compute, &p.alpha, &p.tau};
    std::size_t given = 0;
    for (int i = 0; i < 4; ++i) {
      *slots[i] = rng() % 3 ? inputs[i].data() : nullptr;
      given += *slots[i] != nullptr;
    }
    std::vector<double> copy(given * K);
    try {
      const paba::WorkerCheck found = paba::check_workers(p, rng() % 2 ? copy.data() : nullptr);
      ++checked;
      if (found.fault != paba::WorkerFault::none) {
        ++faults;
        const int input = static_cast<int>(found.input);
        if (found.worker >= K || *slots[input] == nullptr) { std::printf("bad fault\n"); return 1; }
      }
    } catch (const std::invalid_argument&) { ++invalid; }
  }
  // The exact method's rounding alone (rounding.cpp) on floors in [0, 2^53] and any speeds, R,
  // L and T: it answers with loads that sum to the floors plus R, or changes nothing.
  for (int trial = 0; trial < trials; ++trial) {
    const std::size_t m = 1 + rng() % (trial % 50 == 0 ? 40000 : 300);
    std::vector<std::int64_t> floors(m), load(m);
    std::vector<double> speed(m);
    std::int64_t assigned = 0;
    for (std::size_t n = 0; n < m; ++n) {
      floors[n] = static_cast<std::int64_t>(pick({0.0, 1.0, 7.0, 1e6, 1e15, 9007199254740992.0}));
      floors[n] = std::min<std::int64_t>(floors[n], (std::int64_t{1} << 53) / static_cast<std::int64_t>(m));
      speed[n] = pick({std::pow(10.0, u(rng)), std::pow(10.0, u(rng)), 0.0, nan, inf, 1e-300, 4.9e-324});
      assigned += floors[n];
    }
    std::int64_t R = static_cast<std::int64_t>(pick({1.0, 2.0, 50.0, 1e6, 0.0, -3.0}));
    double L = pick({1.0, 100.0, 1e9, 9007199254740992.0, 0.5, nan, inf});
    double T = pick({std::pow(10.0, u(rng)), 1e-300, 1e300, 0.0, -1.0, nan, inf});
    if (trial % 2 == 0) {  // a relaxed optimum: x = L w / sum w, x speed = T, floors of x
      L = pick({1.0, 1e3, 1e6, 1e12});
      T = std::pow(10.0, u(rng));
      std::vector<double> w(m);
      double total_w = 0.0;
      for (std::size_t n = 0; n < m; ++n) total_w += (w[n] = std::pow(10.0, u(rng) / 4));
      assigned = 0;
      for (std::size_t n = 0; n < m; ++n) {
        const double x = L * w[n] / total_w;
        speed[n] = T / x;
        floors[n] = static_cast<std::int64_t>(std::floor(x));
        assigned += floors[n];
      }
      R = static_cast<std::int64_t>(L) - assigned;
    }
    load = floors;
    if (paba::detail::round_up_dense(m, R, L, T, load.data(), speed.data())) {
      std::int64_t total = 0;
      for (std::size_t n = 0; n < m; ++n) {
        if (load[n] < floors[n]) { std::printf("rounding took a parameter back\n"); return 1; }
        total += load[n];
      }
      if (total != assigned + R) { std::printf("rounding gave %lld of %lld\n", (long long)(total - assigned), (long long)R); return 1; }
      ++rounded;
    } else if (load != floors) {
      std::printf("rounding failed and changed the loads\n");
      return 1;
    }
  }
  std::printf("ok %ld invalid %ld infeasible %ld not_converged %ld checked %ld faults %ld rounded %ld\n", ok,
              invalid, infeasible, notconv, checked, faults, rounded);
}
