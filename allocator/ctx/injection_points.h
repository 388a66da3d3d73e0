// Named points in the model where an interrupt may be injected or a vCPU may
// be paused so another vCPU runs. Programs name them in text ("rmqueue_bulk:
// zone_locked") and by index in the binary form: append new points at the end
// of the list only, or fuzz corpora change meaning.
#ifndef REENTRY_ALLOCATOR_CTX_INJECTION_POINTS_H_
#define REENTRY_ALLOCATOR_CTX_INJECTION_POINTS_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace reentry::ctx {

// X(enumerator, "function:what", "when it is reached")
#define REENTRY_INJECTION_POINTS(X)                                           \
  X(kNone, "none", "no point: fire immediately")                              \
  X(kAllocEntry, "alloc_pages:entry", "start of any page allocation")         \
  X(kFreeEntry, "__free_pages:entry", "start of any page free")               \
  X(kRmqueuePcplistLocked, "rmqueue_pcplist:pcp_locked",                      \
    "pcp->lock held, before taking a page off the pcp list")                  \
  X(kRmqueueBulkZoneLocked, "rmqueue_bulk:zone_locked",                       \
    "zone->lock held while refilling a pcp list from the buddy")              \
  X(kRmqueueBuddyZoneLocked, "rmqueue_buddy:zone_locked",                     \
    "zone->lock held while taking a page straight from the buddy")            \
  X(kStealFallback, "steal_suitable_fallback:zone_locked",                    \
    "zone->lock held while stealing a pageblock of another migratetype")      \
  X(kFreeCommitPcpLocked, "free_frozen_page_commit:pcp_locked",               \
    "pcp->lock held while adding a freed page to the pcp list")               \
  X(kFreePcppagesBulkZoneLocked, "free_pcppages_bulk:zone_locked",            \
    "zone->lock held while returning pcp pages to the buddy")                 \
  X(kFreeOnePageZoneLocked, "free_one_page:zone_locked",                      \
    "zone->lock held while freeing a page straight to the buddy")             \
  X(kDrainPagesZonePcpLocked, "drain_pages_zone:pcp_locked",                  \
    "a (possibly remote) pcp->lock held while draining it")                   \
  X(kBuildZonelistsWriteLocked, "__build_all_zonelists:write_locked",         \
    "zonelist_update_seq write side held")                                    \
  X(kSlowpathEntry, "__alloc_pages_slowpath:entry",                           \
    "start of the allocation slow path")                                      \
  X(kWakeupKswapd, "wakeup_kswapd:wait_locked",                               \
    "pgdat->kswapd_wait lock held while waking kswapd")                       \
  X(kDirectReclaim, "__alloc_pages_direct_reclaim:fs_reclaim",                \
    "inside direct reclaim, fs_reclaim held")                                 \
  X(kSetMigratetypeIsolateZoneLocked, "set_migratetype_isolate:zone_locked",  \
    "zone->lock held while isolating a pageblock")                            \
  X(kReserveHighatomicZoneLocked, "reserve_highatomic_pageblock:zone_locked", \
    "zone->lock held while reserving a highatomic pageblock")                 \
  X(kAcceptMemoryZoneLocked, "try_to_accept_memory_one:zone_locked",          \
    "zone->lock held while taking an unaccepted chunk")                       \
  X(kConsumeStockLocked, "consume_stock:stock_locked",                        \
    "memcg_stock.lock held")                                                  \
  X(kStackDepotPoolLocked, "stack_depot_save:pool_locked",                    \
    "stack depot pool_lock held")                                             \
  X(kCmaAllocLocked, "cma_alloc:alloc_mutex",                                 \
    "cma->alloc_mutex held around alloc_contig_range")                        \
  X(kKvfreeRcuKrcpLocked, "kvfree_rcu:krcp_locked",                           \
    "krcp->lock (raw) held")                                                  \
  X(kPrintkConsoleLocked, "printk:console_locked",                            \
    "console lock held while printing")                                       \
  X(kRtSpinLockWaitLock, "rt_spin_lock:wait_lock",                            \
    "PREEMPT_RT: rtmutex wait_lock held in the spinlock_t slow path")

enum class PointId : uint16_t {
#define REENTRY_POINT_ENUM(e, name, desc) e,
  REENTRY_INJECTION_POINTS(REENTRY_POINT_ENUM)
#undef REENTRY_POINT_ENUM
      kCount
};
inline constexpr int kNumPoints = static_cast<int>(PointId::kCount);

const char* PointName(PointId p);
const char* PointDescription(PointId p);
std::optional<PointId> ParsePointName(std::string_view name);

}  // namespace reentry::ctx

#endif  // REENTRY_ALLOCATOR_CTX_INJECTION_POINTS_H_
