// The allocation slow path and its neighbours: retries, kswapd wake-ups,
// direct reclaim (fs_reclaim + shrinkers), OOM, warn_alloc, zonelist
// rebuilding (zonelist_update_seq), kswapd's balance_pgdat, and kvfree_rcu's
// page cache (raw krcp->lock).
#include <algorithm>
#include <cstdio>

#include "allocator/base/check.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

constexpr int kNopageRatelimitBurst = 10;  // nopage_rs burst

// A shrinker's lock, taken the way its kind is taken. Shrinkers in the clean
// model trylock (the kernel's shrinkers back off with SHRINK_STOP rather than
// block under fs_reclaim); BZ-17 takes it for real.
bool ShrinkerLock(locks::LockBase* l, bool blocking, IrqFlags* flags) {
  using ctx::LockType;
  switch (l->type()) {
    case LockType::kRawSpinlock: {
      auto* r = static_cast<locks::RawSpinlock*>(l);
      if (blocking) {
        locks::raw_spin_lock(*r, "shrink_slab");
        return true;
      }
      return locks::raw_spin_trylock(*r, "shrink_slab");
    }
    case LockType::kSpinlock: {
      auto* s = static_cast<locks::Spinlock*>(l);
      if (blocking) {
        locks::spin_lock(*s, "shrink_slab");
        return true;
      }
      return locks::spin_trylock(*s, "shrink_slab");
    }
    case LockType::kMutex: {
      auto* m = static_cast<locks::Mutex*>(l);
      if (blocking) {
        locks::mutex_lock(*m, "shrink_slab");
        return true;
      }
      return locks::mutex_trylock(*m, "shrink_slab");
    }
    case LockType::kRwlock: {
      auto* w = static_cast<locks::Rwlock*>(l);
      if (blocking) {
        locks::write_lock(*w, "shrink_slab");
        return true;
      }
      return locks::write_trylock(*w, "shrink_slab");
    }
    case LockType::kLockdepMap: {
      auto* m = static_cast<locks::LockdepMap*>(l);
      if (blocking) {
        locks::lock_map_acquire(*m, "shrink_slab");
      } else {
        locks::lock_map_acquire_try(*m, "shrink_slab");
      }
      return true;
    }
    default:
      return false;  // local locks and seqlocks are not shrinker locks
  }
}

void ShrinkerUnlock(locks::LockBase* l) {
  using ctx::LockType;
  switch (l->type()) {
    case LockType::kRawSpinlock:
      locks::raw_spin_unlock(*static_cast<locks::RawSpinlock*>(l),
                             "shrink_slab");
      break;
    case LockType::kSpinlock:
      locks::spin_unlock(*static_cast<locks::Spinlock*>(l), "shrink_slab");
      break;
    case LockType::kMutex:
      locks::mutex_unlock(*static_cast<locks::Mutex*>(l), "shrink_slab");
      break;
    case LockType::kRwlock:
      locks::write_unlock(*static_cast<locks::Rwlock*>(l), "shrink_slab");
      break;
    case LockType::kLockdepMap:
      locks::lock_map_release(*static_cast<locks::LockdepMap*>(l),
                              "shrink_slab");
      break;
    default:
      break;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Livelock and sleeping helpers

// A retry loop that the kernel would run forever (NOFAIL without progress,
// BZ-30): reported as a hung task, then the vCPU is parked.
void Mm::ReportLivelock(const char* fn, const char* what, gfp_t gfp, int order,
                        uint64_t cause) {
  Cpu& cpu = ctx::this_cpu();
  Finding f = cpu.MakeFinding(FindingKind::kRetryLivelock, fn);
  f.gfp = gfp;
  f.order = static_cast<int16_t>(order);
  f.cause = cause;
  f.SetDetail(what);
  cpu.Report(f);
  if (ctx::Hooks* h = kernel_.hooks()) h->Hang(cpu);
}

// schedule_timeout_uninterruptible(1) while someone else holds lock: lets the
// holder run (a cross-vCPU wait through Hooks).
void Mm::schedule_timeout_on(const locks::ExclusiveLock& lock) {
  Cpu& cpu = ctx::this_cpu();
  ctx::might_sleep("schedule_timeout_uninterruptible");
  const int holder = lock.owner_cpu();
  ctx::Hooks* h = kernel_.hooks();
  if (h != nullptr && holder >= 0 && holder != cpu.id()) {
    h->Wait(cpu, &lock, lock.class_id(), holder);
  }
}

// ---------------------------------------------------------------------------
// Zonelists

// kernel: mm/page_alloc.c build_zonelists() (one node: the zones from the
// highest down)
void Mm::build_zonelists() {
  for (int i = 0; i < nr_zones_; ++i) {
    zonelist_order_[i].store(nr_zones_ - 1 - i, std::memory_order_relaxed);
  }
}

// kernel: mm/page_alloc.c __build_all_zonelists(), v6.18 (1007843a9190:
// write_seqlock_irqsave + printk_deferred_enter). BZ-08: write_seqlock with
// IRQs on; BZ-09: no printk_deferred_enter; BZ-10: local_irq_save +
// write_seqlock (a sleeping lock with IRQs off on PREEMPT_RT).
void Mm::__build_all_zonelists() {
  REENTRY_KFUNC();
  IrqFlags flags{};
  const bool bz10 = bug(BugId::kBz10);
  const bool bz08 = bug(BugId::kBz08) && !bz10;
  if (bz10) {
    flags = ctx::local_irq_save();
    locks::write_seqlock(zonelist_update_seq_, "__build_all_zonelists");
  } else if (bz08) {
    locks::write_seqlock(zonelist_update_seq_, "__build_all_zonelists");
  } else {
    flags = locks::write_seqlock_irqsave(zonelist_update_seq_,
                                         "__build_all_zonelists");
  }
  if (!bug(BugId::kBz09)) printk_deferred_enter();
  inject(PointId::kBuildZonelistsWriteLocked);
  build_zonelists();
  printk("Fallback order for Node 0: 0");
  if (!bug(BugId::kBz09)) printk_deferred_exit();
  if (bz10) {
    locks::write_sequnlock(zonelist_update_seq_, "__build_all_zonelists");
    ctx::local_irq_restore(flags);
  } else if (bz08) {
    locks::write_sequnlock(zonelist_update_seq_, "__build_all_zonelists");
  } else {
    locks::write_sequnlock_irqrestore(zonelist_update_seq_, flags,
                                      "__build_all_zonelists");
  }
}

// kernel: mm/page_alloc.c build_all_zonelists(), v6.18 (after boot)
void Mm::build_all_zonelists() {
  REENTRY_KFUNC();
  __build_all_zonelists();
  printk("Built 1 zonelists, mobility grouping on.");
}

// kernel: mm/page_alloc.c zonelist_iter_begin() (CONFIG_MEMORY_HOTREMOVE):
// read_seqbegin() spins while a writer is inside (BZ-08, BZ-09).
unsigned Mm::zonelist_iter_begin() {
  return locks::read_seqbegin(zonelist_update_seq_, "zonelist_iter_begin");
}

// kernel: mm/page_alloc.c check_retry_zonelist()
bool Mm::check_retry_zonelist(unsigned seq) {
  return locks::read_seqretry(zonelist_update_seq_, seq,
                              "check_retry_zonelist");
}

// kernel: include/linux/cpuset.h read_mems_allowed_begin()
unsigned Mm::read_mems_allowed_begin() {
  return locks::read_seqbegin(current().mems_allowed_seq,
                              "read_mems_allowed_begin");
}

// kernel: include/linux/cpuset.h read_mems_allowed_retry()
bool Mm::read_mems_allowed_retry(unsigned seq) {
  return locks::read_seqretry(current().mems_allowed_seq, seq,
                              "read_mems_allowed_retry");
}

// ---------------------------------------------------------------------------
// kswapd

// kernel: kernel/sched/core.c try_to_wake_up(): p->pi_lock, then the task's
// rq->__lock (both raw)
void Mm::try_to_wake_up_kswapd() {
  REENTRY_KFUNC();
  IrqFlags flags = locks::raw_spin_lock_irqsave(*pi_lock_, "try_to_wake_up");
  locks::raw_spin_lock(*rq_lock_, "try_to_wake_up");
  inject(PointId::kTryToWakeUpRqLocked);
  kswapd_wake_pending_.store(true);
  locks::raw_spin_unlock(*rq_lock_, "try_to_wake_up");
  locks::raw_spin_unlock_irqrestore(*pi_lock_, flags, "try_to_wake_up");
}

// kernel: mm/vmscan.c pgdat_balanced()
bool Mm::pgdat_balanced(int order, int highest_zoneidx) {
  for (int z = 0; z <= highest_zoneidx && z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    if (zone_watermark_ok(zone, order,
                          READ_ONCE(zone->_watermark[WMARK_HIGH]) +
                              zone->watermark_boost.load(),
                          highest_zoneidx, 0)) {
      return true;
    }
  }
  return false;
}

// kernel: mm/vmscan.c wakeup_kswapd(), v6.18 -> wake_up_interruptible(
// &pgdat->kswapd_wait): the wait queue's spinlock_t, irqsave
void Mm::wakeup_kswapd(Zone* zone, gfp_t gfp_flags, int order,
                       int highest_zoneidx) {
  REENTRY_KFUNC();
  const int curr_idx = kswapd_highest_zoneidx_.load();
  if (curr_idx == MAX_NR_ZONES || curr_idx < highest_zoneidx) {
    kswapd_highest_zoneidx_.store(highest_zoneidx);
  }
  if (kswapd_order_.load() < order) kswapd_order_.store(order);
  // waitqueue_active(): kswapd is asleep unless it is running.
  if (kswapd_running_.load(std::memory_order_relaxed)) return;
  bool boosted = false;
  for (int z = 0; z <= highest_zoneidx && z < nr_zones_; ++z) {
    boosted |= zones_[z]->watermark_boost.load() != 0;
  }
  if (kswapd_failures_.load() >= MAX_RECLAIM_RETRIES ||
      (pgdat_balanced(order, highest_zoneidx) && !boosted)) {
    return;  // (wakeup_kcompactd for !__GFP_DIRECT_RECLAIM: not modelled)
  }
  ++st().kswapd_wakeups;
  IrqFlags flags = locks::spin_lock_irqsave(kswapd_wait_, "__wake_up");
  inject(PointId::kWakeupKswapd);
  try_to_wake_up_kswapd();
  locks::spin_unlock_irqrestore(kswapd_wait_, flags, "__wake_up");
}

// kernel: mm/page_alloc.c wake_all_kswapds() (one node)
void Mm::wake_all_kswapds(unsigned order, gfp_t gfp_mask,
                          const AllocContext* ac) {
  if (ac->nr_zones == 0) return;
  wakeup_kswapd(ac->zonelist[0], gfp_mask, order, ac->highest_zoneidx);
}

// kernel: mm/shrinker.c shrink_slab() + the shrinkers: the program's
// registered shrinkers (each takes its lock) and kfree_rcu's page-cache
// shrinker (kfree_rcu_shrink_scan: krcp->lock, then free_page()).
unsigned long Mm::shrink_slab(gfp_t gfp_mask) {
  REENTRY_KFUNC();
  unsigned long freed = 0;
  const int n = nr_shrinkers_.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    locks::LockBase* l = shrinkers_[i].lock;
    if (l == nullptr) continue;
    IrqFlags flags;
    if (!ShrinkerLock(l, bug(BugId::kBz17), &flags)) continue;
    inject(PointId::kShrinkerLocked);
    ShrinkerUnlock(l);
  }
  // kfree_rcu_shrink_scan(): drain this CPU's cached bulk pages.
  KfreeRcuCpu* krcp = krcp_[ctx::smp_processor_id()].get();
  IrqFlags flags =
      locks::raw_spin_lock_irqsave(krcp->lock, "kfree_rcu_shrink_scan");
  Page* cached[kKrcpCacheMax];
  int nr = 0;
  while (Page* p = get_cached_bnode(krcp)) cached[nr++] = p;
  locks::raw_spin_unlock_irqrestore(krcp->lock, flags, "kfree_rcu_shrink_scan");
  for (int i = 0; i < nr; ++i) {
    cached[i]->owner = PageOwnerKind::kInternal;
    __free_pages(cached[i], 0);
    ++freed;
  }
  return freed;
}

// kernel: mm/vmscan.c try_to_free_pages() (the model has no LRU pages to
// reclaim: only slab shrinkers)
unsigned long Mm::try_to_free_pages(gfp_t gfp_mask, unsigned order) {
  REENTRY_KFUNC();
  inject(PointId::kDirectReclaim);
  return shrink_slab(gfp_mask);
}

// kernel: mm/vmscan.c balance_pgdat(), v6.18: __fs_reclaim_acquire, shrink,
// clear the watermark boost
void Mm::balance_pgdat(int order, int highest_zoneidx) {
  REENTRY_KFUNC();
  locks::lock_map_acquire(fs_reclaim_map_, "balance_pgdat");
  inject(PointId::kBalancePgdat);
  shrink_slab(GFP_KERNEL);
  const bool balanced = pgdat_balanced(order, highest_zoneidx);
  for (int z = 0; z < nr_zones_; ++z) zones_[z]->watermark_boost.store(0);
  kswapd_failures_.store(
      balanced ? 0
               : std::min(kswapd_failures_.load() + 1, MAX_RECLAIM_RETRIES));
  locks::lock_map_release(fs_reclaim_map_, "balance_pgdat");
}

// kernel: mm/vmscan.c kswapd(): one pass of the loop, run by the program on
// the current vCPU's task context (PF_MEMALLOC | PF_KSWAPD)
void Mm::kswapd_run() {
  REENTRY_KFUNC();
  bool expected = false;
  if (!kswapd_running_.compare_exchange_strong(expected, true)) return;
  Task& t = current();
  const uint32_t saved = t.flags;
  t.flags |= PF_MEMALLOC;
  int highest = kswapd_highest_zoneidx_.load();
  if (highest == MAX_NR_ZONES) highest = nr_zones_ - 1;
  const int order = kswapd_order_.load();
  kswapd_order_.store(0);
  kswapd_highest_zoneidx_.store(MAX_NR_ZONES);
  kswapd_wake_pending_.store(false);
  balance_pgdat(order, highest);
  t.flags = saved;
  kswapd_running_.store(false);
}

// kernel: mm/shrinker.c shrinker_register() (the model preallocates 8)
bool Mm::register_shrinker(locks::LockBase* lock) {
  const int n = nr_shrinkers_.load();
  if (n >= 8 || lock == nullptr) return false;
  for (int i = 0; i < n; ++i) {
    if (shrinkers_[i].lock == lock) return true;
  }
  shrinkers_[n].lock = lock;
  nr_shrinkers_.store(n + 1, std::memory_order_release);
  return true;
}

// ---------------------------------------------------------------------------
// Slow path

// kernel: mm/page_alloc.c __perform_reclaim(), v6.18
unsigned long Mm::__perform_reclaim(gfp_t gfp_mask, unsigned order,
                                    const AllocContext* ac) {
  REENTRY_KFUNC();
  fs_reclaim_acquire(gfp_mask);
  Task& t = current();
  const uint32_t noreclaim = t.flags & PF_MEMALLOC;  // memalloc_noreclaim_save
  t.flags |= PF_MEMALLOC;
  const unsigned long progress = try_to_free_pages(gfp_mask, order);
  t.flags = (t.flags & ~PF_MEMALLOC) | noreclaim;
  fs_reclaim_release(gfp_mask);
  return progress;
}

// kernel: mm/page_alloc.c __alloc_pages_direct_reclaim(), v6.18
Page* Mm::__alloc_pages_direct_reclaim(gfp_t gfp_mask, unsigned order,
                                       unsigned alloc_flags, AllocContext* ac,
                                       unsigned long* did_some_progress) {
  REENTRY_KFUNC();
  *did_some_progress = __perform_reclaim(gfp_mask, order, ac);
  if (!*did_some_progress) return nullptr;
  bool drained = false;
  for (;;) {
    Page* page = get_page_from_freelist(gfp_mask, order, alloc_flags, ac);
    if (page || drained) return page;
    unreserve_highatomic_pageblock(ac, false);
    drain_all_pages(nullptr);
    drained = true;
  }
}

// kernel: mm/page_alloc.c __alloc_pages_direct_compact(). Compaction (page
// migration to build high orders) is not modelled: it makes no progress.
Page* Mm::__alloc_pages_direct_compact(gfp_t gfp_mask, unsigned order,
                                       unsigned alloc_flags, AllocContext* ac) {
  return nullptr;
}

// kernel: mm/page_alloc.c should_reclaim_retry(), v6.18 (no reclaimable LRU
// pages in the model)
bool Mm::should_reclaim_retry(gfp_t gfp_mask, unsigned order, AllocContext* ac,
                              unsigned alloc_flags, bool did_some_progress,
                              int* no_progress_loops) {
  bool ret = false;
  if (did_some_progress && order <= PAGE_ALLOC_COSTLY_ORDER) {
    *no_progress_loops = 0;
  } else {
    ++*no_progress_loops;
  }
  if (*no_progress_loops <= MAX_RECLAIM_RETRIES) {
    for (int i = 0; i < ac->nr_zones; ++i) {
      Zone* zone = ac->zonelist[i];
      const long available = zone_page_state(zone, NR_FREE_PAGES);
      if (__zone_watermark_ok(zone, order, min_wmark_pages(zone),
                              ac->highest_zoneidx, alloc_flags, available)) {
        ret = true;
        break;
      }
    }
  }
  if (!ret) return unreserve_highatomic_pageblock(ac, true);
  return ret;
}

// kernel: mm/oom_kill.c out_of_memory(), reduced: no memcg OOM; !__GFP_FS
// does not kill; otherwise the victim is the current task (the model's only
// task with memory), which then gets ALLOC_OOM access to the reserves.
bool Mm::out_of_memory(gfp_t gfp_mask, unsigned order) {
  REENTRY_KFUNC();
  if (!(gfp_mask & __GFP_FS)) return true;
  Task& t = current();
  if (!t.oom_victim) {
    t.oom_victim = true;  // mark_oom_victim()
    ++st().oom_kills;
    printk("Out of memory: Killed process (reentry)");
  }
  return true;
}

// kernel: mm/page_alloc.c __alloc_pages_cpuset_fallback()
Page* Mm::__alloc_pages_cpuset_fallback(gfp_t gfp_mask, unsigned order,
                                        unsigned alloc_flags,
                                        AllocContext* ac) {
  Page* page =
      get_page_from_freelist(gfp_mask, order, alloc_flags | ALLOC_CPUSET, ac);
  if (!page) page = get_page_from_freelist(gfp_mask, order, alloc_flags, ac);
  return page;
}

// kernel: mm/page_alloc.c __alloc_pages_may_oom(), v6.18
Page* Mm::__alloc_pages_may_oom(gfp_t gfp_mask, unsigned order,
                                AllocContext* ac,
                                unsigned long* did_some_progress) {
  REENTRY_KFUNC();
  *did_some_progress = 0;
  if (!locks::mutex_trylock(oom_lock_, "__alloc_pages_may_oom")) {
    *did_some_progress = 1;
    schedule_timeout_on(oom_lock_);
    return nullptr;
  }
  inject(PointId::kOomLocked);
  Page* page = get_page_from_freelist(
      (gfp_mask | __GFP_HARDWALL) & ~__GFP_DIRECT_RECLAIM, order,
      ALLOC_WMARK_HIGH | ALLOC_CPUSET, ac);
  if (!page && order <= PAGE_ALLOC_COSTLY_ORDER &&
      !(gfp_mask & (__GFP_RETRY_MAYFAIL | __GFP_THISNODE))) {
    if (out_of_memory(gfp_mask, order) || (gfp_mask & __GFP_NOFAIL)) {
      *did_some_progress = 1;
      if (gfp_mask & __GFP_NOFAIL) {
        page = __alloc_pages_cpuset_fallback(gfp_mask, order,
                                             ALLOC_NO_WATERMARKS, ac);
      }
    }
  }
  locks::mutex_unlock(oom_lock_, "__alloc_pages_may_oom");
  return page;
}

// kernel: mm/page_alloc.c warn_alloc(), v6.18: pr_warn + dump_stack +
// show_mem (__show_free_areas takes zone->lock)
void Mm::warn_alloc(gfp_t gfp_mask, const char* what, unsigned order) {
  REENTRY_KFUNC();
  if (gfp_mask & __GFP_NOWARN) return;
  static_assert(kNopageRatelimitBurst > 0);
  inject(PointId::kWarnAlloc);
  printk(what);
  for (int z = 0; z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "__show_free_areas");
    locks::spin_unlock_irqrestore(zone->lock, flags, "__show_free_areas");
  }
}

// kernel: mm/page_alloc.c __alloc_pages_slowpath(), v6.18. Unbounded loops
// are bounded by MmConfig::retry_budget: a __GFP_NOFAIL allocation that
// exceeds it is a hung task (kRetryLivelock); any other one fails (the model
// has no other tasks whose memory could be freed; docs/mm-model.md).
Page* Mm::__alloc_pages_slowpath(gfp_t gfp_mask, unsigned order,
                                 AllocContext* ac) {
  REENTRY_KFUNC();
  ++st().slowpath;
  inject(PointId::kSlowpathEntry);
  const bool can_direct_reclaim = gfp_mask & __GFP_DIRECT_RECLAIM;
  const bool costly_order = order > PAGE_ALLOC_COSTLY_ORDER;
  Page* page = nullptr;
  unsigned long did_some_progress = 0;
  int loops = 0;
  unsigned alloc_flags = 0;
  int no_progress_loops = 0;
  unsigned cpuset_mems_cookie = 0;
  unsigned zonelist_iter_cookie = 0;
  enum { kRestart, kRetry, kNopage, kFail, kGot } step = kRestart;
  while (step != kGot) {
    if (++loops > cfg_.retry_budget) {
      ++st().retry_budget_exhausted;
      if ((gfp_mask & __GFP_NOFAIL) && can_direct_reclaim) {
        char d[200];
        snprintf(d, sizeof(d),
                 "__GFP_NOFAIL allocation of order %u made no progress in %d "
                 "retries: the task loops in __alloc_pages_slowpath forever",
                 order, cfg_.retry_budget);
        ReportLivelock("__alloc_pages_slowpath", d, gfp_mask, order,
                       0x0fa11u ^ order);
        break;
      }
      step = kFail;
    }
    switch (step) {
      case kRestart: {
        no_progress_loops = 0;
        cpuset_mems_cookie = read_mems_allowed_begin();
        zonelist_iter_cookie = zonelist_iter_begin();
        alloc_flags = gfp_to_alloc_flags(gfp_mask, order);
        if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(order, gfp_mask, ac);
        page = get_page_from_freelist(gfp_mask, order, alloc_flags, ac);
        step = page ? kGot : kRetry;
        break;
      }
      case kRetry: {
        inject(PointId::kSlowpathRetry);
        if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(order, gfp_mask, ac);
        const unsigned reserve_flags = __gfp_pfmemalloc_flags(gfp_mask);
        if (reserve_flags) {
          alloc_flags = gfp_to_alloc_flags_cma(gfp_mask, reserve_flags) |
                        (alloc_flags & ALLOC_KSWAPD);
        }
        page = get_page_from_freelist(gfp_mask, order, alloc_flags, ac);
        if (page) {
          step = kGot;
          break;
        }
        if (!can_direct_reclaim || (current().flags & PF_MEMALLOC)) {
          step = kNopage;
          break;
        }
        page = __alloc_pages_direct_reclaim(gfp_mask, order, alloc_flags, ac,
                                            &did_some_progress);
        if (!page) {
          page = __alloc_pages_direct_compact(gfp_mask, order, alloc_flags, ac);
        }
        if (page) {
          step = kGot;
          break;
        }
        if ((gfp_mask & __GFP_NORETRY) ||
            (costly_order && !(gfp_mask & __GFP_RETRY_MAYFAIL))) {
          step = kNopage;
          break;
        }
        if (should_reclaim_retry(gfp_mask, order, ac, alloc_flags,
                                 did_some_progress > 0, &no_progress_loops)) {
          break;  // retry
        }
        if (read_mems_allowed_retry(cpuset_mems_cookie) ||
            check_retry_zonelist(zonelist_iter_cookie)) {
          step = kRestart;
          break;
        }
        page = __alloc_pages_may_oom(gfp_mask, order, ac, &did_some_progress);
        if (page) {
          step = kGot;
          break;
        }
        if (current().oom_victim &&
            ((alloc_flags & ALLOC_OOM) || (gfp_mask & __GFP_NOMEMALLOC))) {
          step = kNopage;
          break;
        }
        if (did_some_progress) {
          no_progress_loops = 0;
          break;  // retry
        }
        step = kNopage;
        break;
      }
      case kNopage:
        if (read_mems_allowed_retry(cpuset_mems_cookie) ||
            check_retry_zonelist(zonelist_iter_cookie)) {
          step = kRestart;
          break;
        }
        if (gfp_mask & __GFP_NOFAIL) {
          if (!can_direct_reclaim) {  // WARN_ON_ONCE_GFP at entry
            step = kFail;
            break;
          }
          page = __alloc_pages_cpuset_fallback(gfp_mask, order,
                                               ALLOC_MIN_RESERVE, ac);
          step = page ? kGot : kRetry;
          break;
        }
        step = kFail;
        break;
      case kFail:
        warn_alloc(gfp_mask, "page allocation failure", order);
        step = kGot;
        page = nullptr;
        break;
      case kGot:
        break;
    }
  }
  current().oom_victim = false;  // the victim exits (docs/mm-model.md)
  return page;
}

// ---------------------------------------------------------------------------
// kvfree_rcu (mm/slab_common.c, v6.18; kernel/rcu/tree.c before 6.12)

// kernel: mm/slab_common.c get_cached_bnode()
Page* Mm::get_cached_bnode(KfreeRcuCpu* krcp) {
  if (krcp->nr_bkv_objs == 0) return nullptr;
  Page* p = krcp->bkvcache[--krcp->nr_bkv_objs];
  krcp->bkvcache[krcp->nr_bkv_objs] = nullptr;
  return p;
}

// kernel: mm/slab_common.c put_cached_bnode()
bool Mm::put_cached_bnode(KfreeRcuCpu* krcp, Page* bnode) {
  if (krcp->nr_bkv_objs >= kKrcpCacheMax) return false;
  krcp->bkvcache[krcp->nr_bkv_objs++] = bnode;
  bnode->owner = PageOwnerKind::kKrcp;
  return true;
}

// kernel: mm/slab_common.c kvfree_call_rcu() + add_ptr_to_bulk_krc_lock(),
// v6.18, for kvfree_rcu(ptr, rhf) (an rcu_head is there: can_alloc false). A
// full block waits for a grace period, which the model lets elapse by the
// next call; the block then returns to the cache or is freed after unlock.
// BZ-15 (2020): __get_free_page(GFP_NOWAIT | __GFP_NOWARN) under the raw
// krcp->lock. BZ-16: the caller sniffs the context instead (can_alloc, and
// gfp = in_atomic() ? GFP_ATOMIC : GFP_KERNEL), which breaks without
// CONFIG_PREEMPT_COUNT.
void Mm::kvfree_call_rcu() {
  REENTRY_KFUNC();
  const int cpu = ctx::smp_processor_id();
  KfreeRcuCpu* krcp = krcp_[cpu].get();
  Page* to_free[2] = {};
  IrqFlags flags = locks::raw_spin_lock_irqsave(krcp->lock, "kvfree_call_rcu");
  inject(PointId::kKvfreeRcuKrcpLocked);
  if (krcp->bkvhead != nullptr && krcp->nr_records < KVFREE_BULK_MAX_ENTR) {
    ++krcp->nr_records;
  } else {
    if (krcp->bkvhead != nullptr) {
      // The full block waits for a grace period; the one that waited
      // before has seen its grace period end: back to the cache.
      if (Page* done = krcp->gp_pending) {
        if (!put_cached_bnode(krcp, done)) to_free[0] = done;
      }
      krcp->gp_pending = krcp->bkvhead;
      krcp->bkvhead = nullptr;
      krcp->nr_records = 0;
    }
    Page* bnode = get_cached_bnode(krcp);
    bool attach = true;
    if (bnode == nullptr && bug(BugId::kBz15)) {
      // BZ-15: allocate under the raw spinlock.
      bnode = alloc_pages(GFP_NOWAIT | __GFP_NOWARN, 0);
    } else if (bnode == nullptr && bug(BugId::kBz16)) {
      // BZ-16: "gfp = in_atomic() ? GFP_ATOMIC : GFP_KERNEL", allocated with
      // the krcp lock dropped as the can_alloc path does.
      const gfp_t gfp =
          ctx::in_atomic()
              ? (GFP_ATOMIC | __GFP_NOWARN)
              : (GFP_KERNEL | __GFP_NORETRY | __GFP_NOMEMALLOC | __GFP_NOWARN);
      locks::raw_spin_unlock_irqrestore(krcp->lock, flags, "kvfree_call_rcu");
      bnode = alloc_pages(gfp, 0);
      flags = locks::raw_spin_lock_irqsave(krcp->lock, "kvfree_call_rcu");
      if (krcp->bkvhead != nullptr) {
        // An interrupt attached a block meanwhile.
        attach = false;
        if (bnode != nullptr && !put_cached_bnode(krcp, bnode)) {
          to_free[1] = bnode;
        }
        if (krcp->nr_records < KVFREE_BULK_MAX_ENTR) {
          ++krcp->nr_records;
        } else {
          ++krcp->head_fallbacks;
        }
      }
    }
    if (attach) {
      if (bnode != nullptr) {
        bnode->owner = PageOwnerKind::kKrcp;
        krcp->bkvhead = bnode;
        krcp->nr_records = 1;
      } else {
        ++krcp->head_fallbacks;  // queued through the object's rcu_head
      }
    }
  }
  locks::raw_spin_unlock_irqrestore(krcp->lock, flags, "kvfree_call_rcu");
  for (Page* p : to_free) {
    if (p == nullptr) continue;
    p->owner = PageOwnerKind::kInternal;
    __free_pages(p, 0);
  }
}

}  // namespace reentry::mm
