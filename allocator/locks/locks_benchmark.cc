// Cost of an uncontended instrumented lock/unlock pair with no observer
// attached (the instrumentation is compiled in; events are skipped).
//   cmake --preset default && cmake --build --preset default --target locks_benchmark
//   build/default/allocator/locks/locks_benchmark
#include "allocator/locks/locks.h"

#include "benchmark/benchmark.h"

namespace reentry::locks {
namespace {

struct Fixture {
  Fixture() : kernel(ctx::Config{}) { ctx::set_this_cpu(&kernel.cpu(0)); }
  ~Fixture() { ctx::set_this_cpu(nullptr); }
  ctx::Kernel kernel;
};

void BM_SpinLockUnlock(benchmark::State& state) {
  Fixture fx;
  Spinlock l(fx.kernel, "&bench->lock");
  for (auto _ : state) {
    spin_lock(l);
    spin_unlock(l);
  }
}
BENCHMARK(BM_SpinLockUnlock);

void BM_RawSpinLockUnlock(benchmark::State& state) {
  Fixture fx;
  RawSpinlock l(fx.kernel, "&bench->raw");
  for (auto _ : state) {
    raw_spin_lock(l);
    raw_spin_unlock(l);
  }
}
BENCHMARK(BM_RawSpinLockUnlock);

void BM_SpinLockIrqsave(benchmark::State& state) {
  Fixture fx;
  Spinlock l(fx.kernel, "&bench->lock");
  for (auto _ : state) {
    IrqFlags f = spin_lock_irqsave(l);
    spin_unlock_irqrestore(l, f);
  }
}
BENCHMARK(BM_SpinLockIrqsave);

void BM_SpinTrylockUnlock(benchmark::State& state) {
  Fixture fx;
  Spinlock l(fx.kernel, "&bench->lock");
  for (auto _ : state) {
    if (spin_trylock(l)) spin_unlock(l);
  }
}
BENCHMARK(BM_SpinTrylockUnlock);

void BM_LocalTrylockIrqsave(benchmark::State& state) {
  Fixture fx;
  LocalLock l(fx.kernel, "&stock->lock", /*trylock_type=*/true);
  for (auto _ : state) {
    IrqFlags f;
    if (local_trylock_irqsave(l, &f)) local_unlock_irqrestore(l, f);
  }
}
BENCHMARK(BM_LocalTrylockIrqsave);

void BM_MutexLockUnlock(benchmark::State& state) {
  Fixture fx;
  Mutex m(fx.kernel, "&bench->mutex");
  for (auto _ : state) {
    mutex_lock(m);
    mutex_unlock(m);
  }
}
BENCHMARK(BM_MutexLockUnlock);

}  // namespace
}  // namespace reentry::locks

BENCHMARK_MAIN();
