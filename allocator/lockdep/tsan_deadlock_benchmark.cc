// ThreadSanitizer's deadlock detector on lockdep_benchmark's sequence: with
// A held, lock and unlock B, in a loop. Built in TSan builds only; run with
// TSAN_OPTIONS=detect_deadlocks=1 (and once with =0 for the baseline):
//
//   BM_PthreadPair       pthread mutexes: what TSan's detector costs
//   BM_AnnotatedPair     the kernel locks with the TsanAnnotations observer
//   BM_LockdepPair       the kernel locks with this project's checker (also
//                        under TSan instrumentation, for scale)
#include <benchmark/benchmark.h>
#include <pthread.h>

#include "allocator/lockdep/lockdep.h"
#include "allocator/lockdep/tsan_annotations.h"
#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using namespace reentry::locks;  // NOLINT: kernel-spelled API

void BM_PthreadPair(benchmark::State& state) {
  pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&a);
  pthread_mutex_lock(&b);  // warm-up: the A -> B edge
  pthread_mutex_unlock(&b);
  for (auto _ : state) {
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
  }
  pthread_mutex_unlock(&a);
}
BENCHMARK(BM_PthreadPair);

template <typename Observer>
void KernelPair(benchmark::State& state, Observer* (*make)(ctx::Kernel&)) {
  ctx::Kernel kernel{ctx::Config()};
  Observer* o = make(kernel);
  if (o != nullptr) kernel.AddObserver(o);
  ctx::set_this_cpu(&kernel.cpu(0));
  {
    Spinlock a(kernel, "A"), b(kernel, "B");
    spin_lock(a);
    spin_lock(b);
    spin_unlock(b);
    for (auto _ : state) {
      spin_lock(b);
      spin_unlock(b);
    }
    spin_unlock(a);
  }
  ctx::set_this_cpu(nullptr);
  delete o;
}

void BM_UnobservedPair(benchmark::State& state) {
  KernelPair<ctx::Observer>(
      state, [](ctx::Kernel&) -> ctx::Observer* { return nullptr; });
}
BENCHMARK(BM_UnobservedPair);

void BM_AnnotatedPair(benchmark::State& state) {
  KernelPair<ctx::Observer>(state, [](ctx::Kernel&) -> ctx::Observer* {
    return new TsanAnnotations();
  });
}
BENCHMARK(BM_AnnotatedPair);

void BM_LockdepPair(benchmark::State& state) {
  KernelPair<ctx::Observer>(
      state, [](ctx::Kernel& k) -> ctx::Observer* { return new Lockdep(k); });
}
BENCHMARK(BM_LockdepPair);

}  // namespace
}  // namespace reentry::lockdep

BENCHMARK_MAIN();
