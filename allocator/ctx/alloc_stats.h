// Why an allocation failed, as the allocator model knows it at the failure
// site. The model calls note_alloc_fail(reason) where an allocation gives up
// (a failed pcp trylock, a watermark check, ...); whoever wants the figures
// (the stress runner's statistics) attaches an AllocStatsSink to the Kernel.
// Without a sink the call costs one pointer test, and nothing else changes:
// the reasons are statistics, never findings.
#ifndef REENTRY_ALLOCATOR_CTX_ALLOC_STATS_H_
#define REENTRY_ALLOCATOR_CTX_ALLOC_STATS_H_

#include <cstdint>

#include "allocator/ctx/kernel.h"

namespace reentry::ctx {

// X(enumerator, "short name", "what it means")
#define REENTRY_ALLOC_FAIL_REASONS(X)                                     \
  X(kPcpBusy, "pcp_trylock_busy",                                         \
    "pcp->lock trylock failed (IRQ reentry or a remote drain holds it)")  \
  X(kZoneBusy, "zone_trylock_busy", "zone->lock trylock failed (nolock)") \
  X(kWatermark, "watermark",                                              \
    "the zone is below the watermark, or has no free block of the order") \
  X(kOrderTooHigh, "order_too_high",                                      \
    "the order is not allowed on this path (nolock: > costly order)")     \
  X(kContext, "context",                                                  \
    "not allowed in this context (PREEMPT_RT hardirq/NMI, !SMP NMI)")     \
  X(kFaultInjection, "fault_injection", "fail_page_alloc injected it")    \
  X(kMemcgCharge, "memcg_charge", "the memcg charge failed")              \
  X(kNoMemory, "no_memory",                                               \
    "the slow path gave up (reclaim, compaction and OOM did not help)")   \
  X(kInvalid, "invalid", "an invalid request (gfp mask, order)")          \
  X(kOther, "other", "any other reason")

enum class AllocFail : uint8_t {
#define REENTRY_ALLOC_FAIL_ENUM(e, name, desc) e,
  REENTRY_ALLOC_FAIL_REASONS(REENTRY_ALLOC_FAIL_ENUM)
#undef REENTRY_ALLOC_FAIL_ENUM
      kCount
};
inline constexpr int kNumAllocFailReasons = static_cast<int>(AllocFail::kCount);

inline const char* AllocFailName(AllocFail r) {
  constexpr const char* kNames[] = {
#define REENTRY_ALLOC_FAIL_NAME(e, name, desc) name,
      REENTRY_ALLOC_FAIL_REASONS(REENTRY_ALLOC_FAIL_NAME)
#undef REENTRY_ALLOC_FAIL_NAME
  };
  const int i = static_cast<int>(r);
  return i < kNumAllocFailReasons ? kNames[i] : "?";
}

inline const char* AllocFailDescription(AllocFail r) {
  constexpr const char* kDescriptions[] = {
#define REENTRY_ALLOC_FAIL_DESC(e, name, desc) desc,
      REENTRY_ALLOC_FAIL_REASONS(REENTRY_ALLOC_FAIL_DESC)
#undef REENTRY_ALLOC_FAIL_DESC
  };
  const int i = static_cast<int>(r);
  return i < kNumAllocFailReasons ? kDescriptions[i] : "?";
}

// Receives failure reasons on the vCPU that failed (cpu is the current vCPU;
// in a stress run the call comes from that vCPU's own thread).
class AllocStatsSink {
 public:
  virtual ~AllocStatsSink() = default;
  virtual void OnAllocFail(Cpu& cpu, AllocFail reason) = 0;
};

// Called by the model where an allocation on the current vCPU fails.
inline void note_alloc_fail(AllocFail reason) {
  Cpu* cpu = this_cpu_or_null();
  if (cpu == nullptr) return;
  if (AllocStatsSink* s = cpu->kernel().alloc_stats_sink()) {
    s->OnAllocFail(*cpu, reason);
  }
}

}  // namespace reentry::ctx

#endif  // REENTRY_ALLOCATOR_CTX_ALLOC_STATS_H_
