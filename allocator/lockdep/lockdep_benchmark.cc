// Cost of the checker per acquire/release pair (spin_lock + spin_unlock of B
// with A held, on vCPU 0):
//
//   BM_Pair/unobserved      no observer: the lock layer alone
//   BM_Pair/null_observer   an observer that ignores events: the event cost
//   BM_Pair/lockdep_cached  the checker, chain [A, B] validated before
//   BM_Pair/lockdep_new     the checker with the chain cache off, so every
//                           acquisition is validated (a chain-cache miss)
//   BM_PairDeepGraph/...    the same two on a graph where B reaches 32 more
//                           classes, so a miss runs a real graph search
//   BM_TrylockPair/...      spin_trylock + spin_unlock
//   BM_EventsOnly           the checker alone, fed the pair's three events
//   BM_PthreadPair          the same pair on pthread mutexes (reference)
//   BM_Construct            a kernel and a checker (the executor makes one
//                           per run)
//
// The comparison with ThreadSanitizer's deadlock detector on the same
// sequence (pthread mutexes) is tsan_deadlock_benchmark.cc, built in the
// tsan preset only.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <memory>
#include <string>
#include <vector>

#include "allocator/lockdep/lockdep.h"
#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using namespace reentry::locks;  // NOLINT: kernel-spelled API

class NullObserver : public ctx::Observer {
 public:
  void OnEvent(ctx::Cpu&, const ctx::Event&) override {}
};

enum Mode { kUnobserved, kNullObserver, kLockdepCached, kLockdepNew };
const char* ModeName(int m) {
  switch (m) {
    case kUnobserved:
      return "unobserved";
    case kNullObserver:
      return "null_observer";
    case kLockdepCached:
      return "lockdep_cached";
    default:
      return "lockdep_new";
  }
}

struct World {
  explicit World(int mode) : kernel(ctx::Config()) {
    Options o;
    o.chain_cache = mode != kLockdepNew;
    ld = std::make_unique<Lockdep>(kernel, o);
    if (mode == kNullObserver) kernel.AddObserver(&null);
    if (mode == kLockdepCached || mode == kLockdepNew) {
      kernel.AddObserver(ld.get());
    }
    ctx::set_this_cpu(&kernel.cpu(0));
  }
  ~World() { ctx::set_this_cpu(nullptr); }
  ctx::Kernel kernel;
  NullObserver null;
  std::unique_ptr<Lockdep> ld;
};

void BM_Pair(benchmark::State& state) {
  World w(static_cast<int>(state.range(0)));
  Spinlock a(w.kernel, "A"), b(w.kernel, "B");
  spin_lock(a);
  spin_lock(b);  // warm-up: the chain [A, B] is validated once
  spin_unlock(b);
  for (auto _ : state) {
    spin_lock(b);
    spin_unlock(b);
  }
  spin_unlock(a);
  state.SetLabel(ModeName(static_cast<int>(state.range(0))));
  if (w.kernel.findings().size() != 0) state.SkipWithError("findings");
}
BENCHMARK(BM_Pair)->DenseRange(kUnobserved, kLockdepNew);

void BM_PairDeepGraph(benchmark::State& state) {
  World w(static_cast<int>(state.range(0)));
  Spinlock a(w.kernel, "A"), b(w.kernel, "B");
  std::vector<std::unique_ptr<Spinlock>> chain;
  for (int i = 0; i < 32; ++i) {
    chain.emplace_back(new Spinlock(w.kernel, "C" + std::to_string(i)));
  }
  // B -> C0 -> C1 -> ... -> C31, and every Ci -> C(i+2).
  spin_lock(b);
  spin_lock(*chain[0]);
  spin_unlock(*chain[0]);
  spin_unlock(b);
  for (int i = 0; i + 1 < 32; ++i) {
    spin_lock(*chain[i]);
    spin_lock(*chain[i + 1]);
    spin_unlock(*chain[i + 1]);
    if (i + 2 < 32) {
      spin_lock(*chain[i + 2]);
      spin_unlock(*chain[i + 2]);
    }
    spin_unlock(*chain[i]);
  }
  spin_lock(a);
  spin_lock(b);
  spin_unlock(b);
  for (auto _ : state) {
    spin_lock(b);
    spin_unlock(b);
  }
  spin_unlock(a);
  state.SetLabel(ModeName(static_cast<int>(state.range(0))));
  if (w.kernel.findings().size() != 0) state.SkipWithError("findings");
}
BENCHMARK(BM_PairDeepGraph)->Arg(kLockdepCached)->Arg(kLockdepNew);

void BM_TrylockPair(benchmark::State& state) {
  World w(static_cast<int>(state.range(0)));
  Spinlock a(w.kernel, "A"), b(w.kernel, "B");
  spin_lock(a);
  for (auto _ : state) {
    if (spin_trylock(b)) spin_unlock(b);
  }
  spin_unlock(a);
  state.SetLabel(ModeName(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_TrylockPair)->Arg(kUnobserved)->Arg(kLockdepCached);

// The checker alone: the three events of a spin_lock/spin_unlock pair fed
// straight to OnEvent (no lock layer, no event construction).
void BM_EventsOnly(benchmark::State& state) {
  World w(kLockdepCached);
  Spinlock a(w.kernel, "A"), b(w.kernel, "B");
  ctx::Cpu& cpu = w.kernel.cpu(0);
  spin_lock(a);
  ctx::Event acq = cpu.MakeEvent(ctx::EventKind::kLockAcquire);
  acq.class_id = b.class_id();
  acq.lock_type = b.type();
  acq.lock = &b;
  ctx::Event acqd = acq;
  acqd.kind = ctx::EventKind::kLockAcquired;
  ctx::Event rel = acq;
  rel.kind = ctx::EventKind::kLockRelease;
  for (auto _ : state) {
    w.ld->OnEvent(cpu, acq);
    w.ld->OnEvent(cpu, acqd);
    w.ld->OnEvent(cpu, rel);
  }
  spin_unlock(a);
  if (w.kernel.findings().size() != 0) state.SkipWithError("findings");
}
BENCHMARK(BM_EventsOnly);

// The same sequence on pthread mutexes, natively: the baseline for
// tsan_deadlock_benchmark's TSan runs.
void BM_PthreadPair(benchmark::State& state) {
  pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&a);
  for (auto _ : state) {
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
  }
  pthread_mutex_unlock(&a);
}
BENCHMARK(BM_PthreadPair);

// A fresh kernel with the checker per iteration (the executor builds one
// per run): construction and teardown cost.
void BM_Construct(benchmark::State& state) {
  for (auto _ : state) {
    ctx::Kernel k{ctx::Config()};
    Lockdep ld(k);
    benchmark::DoNotOptimize(&ld);
  }
}
BENCHMARK(BM_Construct);

}  // namespace
}  // namespace reentry::lockdep

BENCHMARK_MAIN();
