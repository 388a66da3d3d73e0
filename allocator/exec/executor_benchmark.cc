// Executor throughput on generated 1,000-op programs, in ops per second.
// Random programs often end early (a hang is a finding that stops the run),
// so the rate counts the ops that actually ran (items_per_second) and the
// counter ops_run shows how many that was per run.
//   cmake --preset default && cmake --build --preset default --target
//   executor_benchmark build/default/allocator/exec/executor_benchmark
#include "allocator/exec/executor.h"
#include "allocator/prog/generate.h"
#include "benchmark/benchmark.h"

namespace reentry::exec {
namespace {

void RunGenerated(benchmark::State& state, prog::GenerateOptions o,
                  bool lockdep) {
  o.num_ops = 1000;
  const prog::Program p = prog::GenerateProgram(12345, o);
  Executor ex;
  RunOptions ro;
  ro.lockdep = lockdep;
  ro.trace = false;
  uint64_t ops = 0;
  uint32_t last = 0;
  for (auto _ : state) {
    RunResult r = ex.Run(p, ro);
    ops += r.ops_run;
    last = r.ops_run;
  }
  state.SetItemsProcessed(static_cast<int64_t>(ops));
  state.counters["ops_run"] = last;
}

void BM_Generated_ContextOnly(benchmark::State& state) {
  prog::GenerateOptions o;
  o.allocator_ops = false;
  o.lock_ops = false;
  RunGenerated(state, o, /*lockdep=*/false);
}
BENCHMARK(BM_Generated_ContextOnly);

void BM_Generated_Full(benchmark::State& state) {
  RunGenerated(state, prog::GenerateOptions{}, /*lockdep=*/false);
}
BENCHMARK(BM_Generated_Full);

void BM_Generated_FullWithLockdep(benchmark::State& state) {
  RunGenerated(state, prog::GenerateOptions{}, /*lockdep=*/true);
}
BENCHMARK(BM_Generated_FullWithLockdep);

// Balanced programs pair every acquisition with its release, and without
// interrupts nothing re-enters a held lock, so the whole 1,000-op program
// runs (the "generated 1,000-op program" figure; ops_run shows it).
prog::GenerateOptions Balanced() {
  prog::GenerateOptions o;
  o.balanced = true;
  o.interrupts = false;
  return o;
}

void BM_Generated_Balanced(benchmark::State& state) {
  RunGenerated(state, Balanced(), /*lockdep=*/false);
}
BENCHMARK(BM_Generated_Balanced);

void BM_Generated_BalancedWithLockdep(benchmark::State& state) {
  RunGenerated(state, Balanced(), /*lockdep=*/true);
}
BENCHMARK(BM_Generated_BalancedWithLockdep);

}  // namespace
}  // namespace reentry::exec

BENCHMARK_MAIN();
