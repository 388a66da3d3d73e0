// What a stress run measures, per vCPU (each written only by its own
// thread, so nothing here needs a lock; the coordinator reads counters that
// the progress line shows through relaxed atomics, the rest after the run):
// op and handler latencies, interrupt counts and delays, allocation outcomes
// by context x gfp class x order with failure reasons, and per lock class
// acquisitions, contention, hold and wait times.
#ifndef REENTRY_STRESS_STATS_H_
#define REENTRY_STRESS_STATS_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "allocator/base/gfp.h"
#include "allocator/ctx/alloc_stats.h"
#include "allocator/ctx/event.h"
#include "allocator/ctx/kernel.h"
#include "allocator/prog/program.h"
#include "stress/workload.h"

namespace reentry::stress {

// Power-of-two buckets of nanoseconds: bucket i holds [2^i, 2^(i+1)).
struct Histogram {
  static constexpr int kBuckets = 40;
  uint64_t buckets[kBuckets] = {};
  uint64_t count = 0;
  uint64_t sum_ns = 0;
  uint64_t max_ns = 0;

  void Add(uint64_t ns) {
    int b = ns == 0 ? 0 : 63 - __builtin_clzll(ns);
    if (b >= kBuckets) b = kBuckets - 1;
    ++buckets[b];
    ++count;
    sum_ns += ns;
    if (ns > max_ns) max_ns = ns;
  }
  void Merge(const Histogram& o);
  // Upper bound of the bucket holding the q-quantile (0..1).
  uint64_t Quantile(double q) const;
  double MeanNs() const { return count ? double(sum_ns) / double(count) : 0; }
};

// A single-writer counter the coordinator may read while it changes.
struct Counter {
  std::atomic<uint64_t> v{0};
  void Inc(uint64_t d = 1) {
    v.store(v.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

// Allocation classes for the outcome table.
#define REENTRY_STRESS_GFP_CLASSES(X)           \
  X(kNolock, "nolock")                          \
  X(kNolockAccount, "nolock|ACCOUNT")           \
  X(kAtomic, "GFP_ATOMIC")                      \
  X(kNowait, "GFP_NOWAIT")                      \
  X(kKernel, "GFP_KERNEL")                      \
  X(kKernelAccount, "GFP_KERNEL_ACCOUNT")       \
  X(kUserMovable, "GFP_USER/HIGHUSER_MOVABLE")  \
  X(kNofsNoio, "GFP_NOFS/NOIO")                 \
  X(kNofail, "__GFP_NOFAIL")                    \
  X(kNoReclaim, "no reclaim (TRANSHUGE_LIGHT)") \
  X(kBulk, "alloc_pages_bulk")                  \
  X(kCma, "cma_alloc")                          \
  X(kInvalid, "invalid mask")

enum class GfpClass : uint8_t {
#define REENTRY_STRESS_GFP_ENUM(e, name) e,
  REENTRY_STRESS_GFP_CLASSES(REENTRY_STRESS_GFP_ENUM)
#undef REENTRY_STRESS_GFP_ENUM
      kCount
};
inline constexpr int kNumGfpClasses = static_cast<int>(GfpClass::kCount);
const char* GfpClassName(GfpClass c);

// What an op allocates, if anything.
struct AllocInfo {
  bool is_alloc = false;
  GfpClass cls = GfpClass::kKernel;
  int order = 0;
  bool nolock = false;
};
AllocInfo ClassifyAlloc(const prog::Op& op);

inline constexpr int kStatContexts = 4;  // task, softirq, hardirq, NMI
inline constexpr int kStatOrders = prog::kMaxOrder + 1;
// Reasons: the model's (alloc_stats.h) plus "unknown" (it said nothing).
inline constexpr int kStatReasons = ctx::kNumAllocFailReasons + 1;
const char* ReasonName(int r);

struct AllocCell {
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t reasons[kStatReasons] = {};
};

inline constexpr int kMaxStatClasses = 256;

struct LockClassStats {
  uint64_t acquisitions = 0;
  uint64_t contended = 0;  // acquisitions that had to wait (cross-vCPU)
  uint64_t wait_ns = 0;    // time spent waiting in Hooks::Wait
  Histogram hold;          // acquisition to release
};

struct VcpuStats {
  // Read live by the progress line.
  Counter ops;       // top-level ops run
  Counter irqs[3];   // interrupts run, by IrqSource
  Counter softirqs;  // softirq bodies run
  Counter latched;   // interrupts that arrived masked, run later
  Counter skipped;   // ops the transfer protocol skipped

  Counter ipis_sent;
  uint64_t points = 0;          // injection points reached
  uint64_t irqs_off = 0;        // hardirqs-off transitions (masking cost)
  uint64_t waits = 0;           // Hooks::Wait calls
  uint64_t pauses_ignored = 0;  // pause ops in handler bodies (no effect)
  uint64_t ops_by_code[prog::kNumOpCodes] = {};
  Histogram op_latency[prog::kNumOpCodes];
  Histogram handler_latency[3];  // by IrqSource
  Histogram irq_delay[3];        // signal arrival to handler start
  AllocCell alloc[kStatContexts][kNumGfpClasses][kStatOrders];
  LockClassStats locks[kMaxStatClasses];

  void Merge(const VcpuStats& o);
};

// Per-vCPU lock hold tracking and event counting: a ctx::Observer that only
// touches the stats of the vCPU the event belongs to.
class StatsObserver : public ctx::Observer {
 public:
  StatsObserver(VcpuStats* per_cpu, int nr_cpus)
      : stats_(per_cpu), nr_cpus_(nr_cpus) {}
  void OnEvent(ctx::Cpu& cpu, const ctx::Event& e) override;

 private:
  struct Held {
    const void* lock;
    uint16_t cls;
    uint64_t t;
  };
  struct PerCpu {
    Held held[64];
    int n = 0;
  };
  VcpuStats* stats_;
  int nr_cpus_;
  PerCpu held_[ctx::kMaxCpus];
};

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_STATS_H_
