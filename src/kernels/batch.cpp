// Many instances at once (paba.allocate_batch): each instance is solved by allocate() exactly as
// a single call would solve it, on a plain std::thread pool (no OpenMP runtime: PyTorch brings its
// own). Threads take instances from a shared atomic counter in small chunks, so uneven instances
// balance out; each thread keeps its scratch vectors for all its instances. n_threads caps the
// pool: where the system starts fewer threads, those run every instance. An exception stops
// the instances after it; the lowest failing instance's is rethrown on the calling thread,
// naming the instance, whatever the threads' timing (as a serial loop would report it).
//
// Group ids are local to each instance (0..N_i-1); each instance's ids are checked by the thread
// that solves it, in one pass, before the instance reaches allocate(). The layout checks of the
// whole batch (offsets, group_offsets) run first, on the calling thread, so that no thread writes
// outside the outputs.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "paba.hpp"

namespace paba {
namespace {

void check_batch(const Batch& batch) {
  if (!batch.offsets || !batch.params || !batch.bandwidth)
    throw std::invalid_argument("offsets: null input");
  if (batch.offsets[0] != 0) throw std::invalid_argument("offsets: must start at 0");
  for (std::size_t i = 0; i < batch.n_instances; ++i) {
    if (!(batch.offsets[i + 1] > batch.offsets[i]))
      throw std::invalid_argument("offsets: must increase strictly (every instance needs a worker)");
  }
  if (batch.offsets[batch.n_instances] > 0 && (!batch.beta || !batch.compute))
    throw std::invalid_argument("beta: null input");
  if (!batch.group != !batch.group_offsets)
    throw std::invalid_argument("group_offsets: must be given with group ids, and only then");
  if (!batch.group_offsets) return;
  const std::int64_t* g = batch.group_offsets;
  if (g[0] != 0) throw std::invalid_argument("group_offsets: must start at 0");
  for (std::size_t i = 0; i < batch.n_instances; ++i) {
    // g[i] >= 0 here (it starts at 0 and increases), so the difference cannot overflow.
    if (!(g[i + 1] > g[i]) || g[i + 1] - g[i] > batch.offsets[i + 1] - batch.offsets[i])
      throw std::invalid_argument(
          "group_offsets: each instance's number of groups must be in [1, its number of workers] "
          "(instance " + std::to_string(i) + ")");
  }
}

// Group ids of one instance: each in [0, N), every group non-empty. `seen` is scratch.
void check_groups(const std::int64_t* group, std::size_t K, std::size_t N,
                  std::vector<unsigned char>& seen) {
  seen.assign(N, 0);
  std::size_t distinct = 0;
  for (std::size_t k = 0; k < K; ++k) {
    const std::int64_t g = group[k];
    if (g < 0 || static_cast<std::uint64_t>(g) >= N)
      throw std::invalid_argument(
          "groups: an id is out of range (ids must be 0..N-1, N at most the instance's workers)");
    if (!seen[static_cast<std::size_t>(g)]) {
      seen[static_cast<std::size_t>(g)] = 1;
      ++distinct;
    }
  }
  if (distinct != N)
    throw std::invalid_argument(
        "groups: a group has no member (ids must be 0..N-1 with every group non-empty)");
}

}  // namespace

void allocate_batch(const Batch& batch, Scheme scheme, const Options& options, BatchResult& out,
                    int n_threads) {
  if (n_threads < 1) throw std::invalid_argument("n_threads: must be at least 1");
  check_batch(batch);
  const std::size_t M = batch.n_instances;
  std::atomic<std::size_t> next{0};
  // The lowest instance that failed so far (M: none), its error beside it. Instances below it
  // are still solved, those above it are not, so the error reported is the lowest failing
  // instance's whatever the threads' timing: the one a serial loop would report.
  std::atomic<std::size_t> failed_at{M};
  std::exception_ptr error;
  std::mutex error_mutex;
  // Chunks of a few instances amortise the counter without unbalancing small batches.
  const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(16, M / (8 * n_threads)));

  auto fail = [&](std::size_t i, std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (i < failed_at.load(std::memory_order_relaxed)) {
      failed_at.store(i, std::memory_order_relaxed);
      error = std::move(e);
    }
  };
  auto work = [&]() {
    std::vector<std::size_t> index;    // this thread's scratch, reused for all its instances
    std::vector<unsigned char> seen;   // likewise, for the group id checks
    for (;;) {
      const std::size_t first = next.fetch_add(chunk, std::memory_order_relaxed);
      if (first >= M || first >= failed_at.load(std::memory_order_relaxed)) break;
      const std::size_t last = std::min(M, first + chunk);
      for (std::size_t i = first; i < last && i < failed_at.load(std::memory_order_relaxed);
           ++i) {
        try {
          const auto begin = static_cast<std::size_t>(batch.offsets[i]);
          const auto K = static_cast<std::size_t>(batch.offsets[i + 1]) - begin;
          // Where the instance's groups start in the per-group arrays, and how many it has.
          std::size_t group_begin = begin, N = K;
          if (batch.group) {
            group_begin = static_cast<std::size_t>(batch.group_offsets[i]);
            N = static_cast<std::size_t>(batch.group_offsets[i + 1]) - group_begin;
            check_groups(batch.group + begin, K, N, seen);
          }
          Problem p;
          p.n_workers = K;
          p.n_groups = N;
          p.beta = batch.beta + begin;
          p.compute = batch.compute + begin;
          p.alpha = batch.alpha ? batch.alpha + begin : nullptr;
          p.tau = batch.tau ? batch.tau + begin : nullptr;
          p.group = batch.group ? batch.group + begin : nullptr;
          p.params = batch.params[i];
          p.bandwidth = batch.bandwidth[i];
          Result r;
          r.loads = out.loads + group_begin;
          r.relaxed_loads = out.relaxed_loads + group_begin;
          r.bandwidth = out.bandwidth + begin;
          r.worker_latency = out.worker_latency + begin;
          Options o = options;
          o.previous_loads = batch.previous_loads ? batch.previous_loads + group_begin : nullptr;
          detail::allocate_into(p, scheme, nullptr, nullptr, o, r, index);
          out.latency[i] = r.latency;
          out.relaxed_latency[i] = r.relaxed_latency;
          out.iterations[i] = r.iterations;
          out.status[i] = r.status;
          out.method[i] = r.method;
        } catch (const std::invalid_argument& e) {
          fail(i, std::make_exception_ptr(std::invalid_argument(
                      std::string(e.what()) + " (instance " + std::to_string(i) + ")")));
        } catch (...) {
          fail(i, std::current_exception());
        }
      }
    }
  };

  const std::size_t helpers = static_cast<std::size_t>(n_threads) - 1;
  std::vector<std::thread> threads;
  // n_threads is a cap, not a demand: where the system refuses another thread (its limit on
  // threads or memory for their stacks), the threads started so far share the instances, the
  // calling thread among them, and the answers are the same.
  try {
    threads.reserve(std::min(helpers, M));
    for (std::size_t t = 0; t < helpers && t + 1 < M; ++t) threads.emplace_back(work);
  } catch (const std::system_error&) {
  } catch (const std::bad_alloc&) {
  }
  work();
  for (auto& thread : threads) thread.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace paba
