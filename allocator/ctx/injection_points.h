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
    "PREEMPT_RT: rtmutex wait_lock held in the spinlock_t slow path")         \
  X(kAllocNolockEntry, "alloc_pages_nolock:entry",                            \
    "start of alloc_pages_nolock(), before any lock")                         \
  X(kFreeNolockEntry, "free_pages_nolock:entry",                              \
    "start of free_pages_nolock(), before any lock")                          \
  X(kPostAllocHook, "post_alloc_hook:entry",                                  \
    "a page was taken; allocator locks dropped, hooks (page_owner) next")     \
  X(kSlowpathRetry, "__alloc_pages_slowpath:retry",                           \
    "top of each slow path retry iteration (no allocator lock held)")         \
  X(kOomLocked, "__alloc_pages_may_oom:oom_locked", "oom_lock held")          \
  X(kDrainAllPagesMutex, "__drain_all_pages:drain_mutex",                     \
    "pcpu_drain_mutex held, before draining the CPUs' pcp lists")             \
  X(kShrinkerLocked, "shrink_slab:shrinker_locked",                           \
    "inside a shrinker, under fs_reclaim, holding the shrinker's lock")       \
  X(kBalancePgdat, "balance_pgdat:fs_reclaim",                                \
    "kswapd reclaiming, fs_reclaim held")                                     \
  X(kRefillStockLocked, "refill_stock:stock_locked",                          \
    "memcg_stock.lock held while returning charge to the stock")              \
  X(kStackListLocked, "add_stack_record_to_list:stack_list_locked",           \
    "page_owner stack_list_lock held")                                        \
  X(kUnacceptedLocked, "accept_memory:unaccepted_locked",                     \
    "unaccepted_memory_lock held while accepting a chunk")                    \
  X(kAllocContigIsolated, "alloc_contig_range:isolated",                      \
    "range isolated, before migrating its pages")                             \
  X(kCmaBusyRetry, "cma_alloc:busy_retry",                                    \
    "an area was -EBUSY; before trying the next one")                         \
  X(kCmaLocked, "cma_alloc:cma_locked",                                       \
    "cma->lock held while searching the bitmap")                              \
  X(kOfflinePagesMigrate, "offline_pages:migrate",                            \
    "memory offline: range isolated, before each migration pass")             \
  X(kOnlinePagesHotplugLocked, "online_pages:hotplug_locked",                 \
    "mem_hotplug_lock held while onlining a memory block")                    \
  X(kFreeOnePageLlistDrain, "free_one_page:llist_drain",                      \
    "zone->lock held while merging deferred (llist) frees")                   \
  X(kWarnAlloc, "warn_alloc:entry",                                           \
    "an allocation failed and is about to be reported (printk next)")         \
  X(kTryToWakeUpRqLocked, "try_to_wake_up:rq_locked",                         \
    "p->pi_lock and rq->__lock held while waking kswapd")                     \
  X(kUnreserveHighatomicZoneLocked,                                           \
    "unreserve_highatomic_pageblock:zone_locked",                             \
    "zone->lock held while returning a highatomic pageblock")                 \
  X(kTryChargeEntry, "try_charge_memcg:entry",                                \
    "memcg charge of an __GFP_ACCOUNT allocation, no allocator lock held")

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
