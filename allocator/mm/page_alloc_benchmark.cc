// Cost of the model's allocation paths, instrumentation compiled in but no
// observer attached (the way fuzzing campaigns without lockdep run), one
// vCPU, no executor. Each figure is one alloc+free pair.
//
//   cmake --preset default
//   cmake --build --preset default --target page_alloc_benchmark
//   build/default/allocator/mm/page_alloc_benchmark
#include <benchmark/benchmark.h>

#include <memory>

#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

using namespace ::reentry::gfp;  // NOLINT

// A machine as a default kernel has it: page_owner off.
struct Machine {
  Machine() : kernel(ctx::Config{}) {
    ctx::set_this_cpu(&kernel.cpu(0));
    MmConfig c;
    c.page_owner = false;
    mm = std::make_unique<Mm>(kernel, BugSet{}, c);
  }
  ~Machine() {
    mm.reset();
    ctx::set_this_cpu(nullptr);
  }
  ctx::Kernel kernel;
  std::unique_ptr<Mm> mm;
};

// Order-0 alloc+free through the pcp fast path (rmqueue_pcplist /
// free_frozen_page_commit, pcp->lock trylocked, no zone->lock).
void BM_Order0PcpPair(benchmark::State& state) {
  Machine m;
  Mm& mm = *m.mm;
  mm.__free_pages(mm.alloc_pages(GFP_KERNEL, 0), 0);  // warm the pcp list
  for (auto _ : state) {
    Page* p = mm.alloc_pages(GFP_KERNEL, 0);
    benchmark::DoNotOptimize(p);
    mm.__free_pages(p, 0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Order0PcpPair);

// Order-3 alloc+free (still a pcp order).
void BM_Order3Pair(benchmark::State& state) {
  Machine m;
  Mm& mm = *m.mm;
  mm.__free_pages(mm.alloc_pages(GFP_KERNEL, 3), 3);
  for (auto _ : state) {
    Page* p = mm.alloc_pages(GFP_KERNEL, 3);
    benchmark::DoNotOptimize(p);
    mm.__free_pages(p, 3);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Order3Pair);

// Order-4 alloc+free: no pcp, zone->lock both ways (rmqueue_buddy,
// free_one_page).
void BM_Order4BuddyPair(benchmark::State& state) {
  Machine m;
  Mm& mm = *m.mm;
  for (auto _ : state) {
    Page* p = mm.alloc_pages(GFP_KERNEL, 4);
    benchmark::DoNotOptimize(p);
    mm.__free_pages(p, 4);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Order4BuddyPair);

// A pcp miss: the list is empty, rmqueue_bulk() refills a batch under
// zone->lock, then the page goes back to the pcp. The drain that empties the
// list runs with the timer paused; BM_PauseResume measures that overhead.
void BM_PcpMissRefillPair(benchmark::State& state) {
  Machine m;
  Mm& mm = *m.mm;
  for (auto _ : state) {
    state.PauseTiming();
    mm.drain_local_pages(nullptr);
    state.ResumeTiming();
    Page* p = mm.alloc_pages(GFP_KERNEL, 0);
    benchmark::DoNotOptimize(p);
    mm.__free_pages(p, 0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PcpMissRefillPair);

void BM_PauseResume(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_PauseResume);

// alloc_pages_nolock() + free_pages_nolock(), order 0 (pcp trylock path).
void BM_AllocNolockPair(benchmark::State& state) {
  Machine m;
  Mm& mm = *m.mm;
  mm.free_pages_nolock(mm.alloc_pages_nolock(0, NUMA_NO_NODE, 0), 0);
  for (auto _ : state) {
    Page* p = mm.alloc_pages_nolock(0, NUMA_NO_NODE, 0);
    benchmark::DoNotOptimize(p);
    mm.free_pages_nolock(p, 0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocNolockPair);

}  // namespace
}  // namespace reentry::mm

BENCHMARK_MAIN();
