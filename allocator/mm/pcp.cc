// Per-CPU page lists and the paths between them and the buddy: rmqueue,
// rmqueue_pcplist/rmqueue_bulk/rmqueue_buddy, the free path
// (__free_frozen_pages, free_frozen_page_commit, free_pcppages_bulk,
// free_one_page with the deferred llist) and the drains.
#include <algorithm>
#include <cstdio>

#include "allocator/base/check.h"
#include "allocator/ctx/alloc_stats.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

// kernel: mm/page_alloc.c order_to_pindex() / pindex_to_order() (no THP lists)
inline int order_to_pindex(int migratetype, int order) {
  return order * MIGRATE_PCPTYPES + migratetype;
}
inline int pindex_to_order(int pindex) { return pindex / MIGRATE_PCPTYPES; }

// kernel: mm/page_alloc.c pcp_allowed_order() (no THP)
inline bool pcp_allowed_order(unsigned order) {
  return order <= PAGE_ALLOC_COSTLY_ORDER;
}

inline Page* lru_to_page(ListHead* l) { return reinterpret_cast<Page*>(l); }

}  // namespace

// ---------------------------------------------------------------------------
// pcp locking

// pcp_spin_trylock() and pcp_spin_unlock() are inline in mm.h; a failed
// trylock is accounted here.
void Mm::PcpTrylockFailed(Cpu& cpu) {
  ++stats_[cpu.id()].pcp_trylock_failed;
  ctx::note_alloc_fail(ctx::AllocFail::kPcpBusy);
}

// The zone->lock acquisition of rmqueue_bulk()/rmqueue_buddy():
// ALLOC_NOLOCK trylocks and gives up (6.15+, "avoid second trylock of
// zone->lock"); everyone else spins. The v2 design (Dec 2024) trylocked first
// for everybody and then spun unless ALLOC_TRYLOCK. BZ-01 spins on the nolock
// path as well.
bool Mm::ZoneLockForAlloc(Zone* zone, unsigned alloc_flags, IrqFlags* flags,
                          const char* fn) {
  const bool nolock = alloc_flags & ALLOC_NOLOCK;
  if (nolock && !bug(BugId::kBz01)) {
    if (!locks::spin_trylock_irqsave(zone->lock, flags, fn)) {
      ++st().zone_trylock_failed;
      ctx::note_alloc_fail(ctx::AllocFail::kZoneBusy);
      return false;
    }
    return true;
  }
  if (kernel_.config().nolock_design == ctx::NolockDesign::kV2Trylock &&
      locks::spin_trylock_irqsave(zone->lock, flags, fn)) {
    return true;
  }
  *flags = locks::spin_lock_irqsave(zone->lock, fn);
  return true;
}

// ---------------------------------------------------------------------------
// Allocation from the pcp and the buddy

// kernel: mm/page_alloc.c nr_pcp_alloc(), v6.18
int Mm::nr_pcp_alloc(PerCpuPages* pcp, Zone* zone, int order) {
  const int high = pcp->high;
  const int base_batch = pcp->batch;
  if (high < base_batch) return 1;
  int batch = order ? base_batch : (base_batch << pcp->alloc_factor);
  if (!order) {
    const int max_nr_alloc =
        std::max(high - pcp->count - base_batch, base_batch);
    if (batch <= max_nr_alloc &&
        pcp->alloc_factor < CONFIG_PCP_BATCH_SCALE_MAX) {
      ++pcp->alloc_factor;
    }
    batch = std::min(batch, max_nr_alloc);
  }
  if (batch > 1) batch = std::max(batch >> order, 2);
  return batch;
}

// kernel: mm/page_alloc.c rmqueue_bulk(), v6.15+ (mm tree 2026: ALLOC_NOLOCK)
int Mm::rmqueue_bulk(Zone* zone, unsigned order, unsigned long count,
                     ListHead* list, int migratetype, unsigned alloc_flags) {
  REENTRY_KFUNC();
  IrqFlags flags;
  if (!ZoneLockForAlloc(zone, alloc_flags, &flags, "rmqueue_bulk")) return 0;
  inject(PointId::kRmqueueBulkZoneLocked);
  RmqueueMode rmqm = RMQUEUE_NORMAL;
  const int cpu = ctx::this_cpu().id();
  const int pindex = order_to_pindex(migratetype, order);
  unsigned long i;
  for (i = 0; i < count; ++i) {
    Page* page = __rmqueue(zone, order, migratetype, alloc_flags, &rmqm);
    if (!page) break;
    WRITE_ONCE(page->where, PageWhere::kPcp);
    page->pcp_cpu = static_cast<uint16_t>(cpu);
    page->pcp_pindex = static_cast<uint8_t>(pindex);
    WRITE_ONCE(page->private_order, static_cast<uint8_t>(order));
    list_add_tail(&page->lru, list);
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "rmqueue_bulk");
  ++st().pcp_refills;
  return static_cast<int>(i);
}

// kernel: mm/page_alloc.c __rmqueue_pcplist(), v6.18
Page* Mm::__rmqueue_pcplist(Zone* zone, unsigned order, int migratetype,
                            unsigned alloc_flags, PerCpuPages* pcp,
                            ListHead* list) {
  if (list_empty(list)) {
    // kernel-model.md §2.6: a high-order atomic request does not refill the
    // pcp; rmqueue_buddy() may use the highatomic reserve instead.
    if (alloc_flags & ALLOC_HIGHATOMIC) return nullptr;
    const int batch = nr_pcp_alloc(pcp, zone, order);
    const int alloced =
        rmqueue_bulk(zone, order, batch, list, migratetype, alloc_flags);
    WRITE_ONCE(pcp->count, pcp->count + (alloced << order));
    if (list_empty(list)) return nullptr;
  }
  Page* page = lru_to_page(list->next);
  list_del(&page->lru);
  WRITE_ONCE(page->where, PageWhere::kNone);
  WRITE_ONCE(pcp->count, pcp->count - (1 << order));
  return page;
}

// kernel: mm/page_alloc.c rmqueue_pcplist(), v6.18
REENTRY_ALWAYS_INLINE Page* Mm::rmqueue_pcplist(Zone* preferred_zone,
                                                Zone* zone, unsigned order,
                                                int migratetype,
                                                unsigned alloc_flags) {
  REENTRY_KFUNC();
  PerCpuPages* pcp = pcp_spin_trylock(zone);
  if (!pcp) return nullptr;
  inject(PointId::kRmqueuePcplistLocked);
  pcp->free_count >>= 1;
  ListHead* list = &pcp->lists[order_to_pindex(migratetype, order)];
  Page* page =
      __rmqueue_pcplist(zone, order, migratetype, alloc_flags, pcp, list);
  pcp_spin_unlock(pcp);
  if (page) st().pgalloc += 1u << order;
  return page;
}

// kernel: mm/page_alloc.c rmqueue_buddy(), mm tree 2026
Page* Mm::rmqueue_buddy(Zone* preferred_zone, Zone* zone, unsigned order,
                        unsigned alloc_flags, int migratetype) {
  REENTRY_KFUNC();
  IrqFlags flags;
  if (!ZoneLockForAlloc(zone, alloc_flags, &flags, "rmqueue_buddy")) {
    return nullptr;
  }
  inject(PointId::kRmqueueBuddyZoneLocked);
  Page* page = nullptr;
  if (alloc_flags & ALLOC_HIGHATOMIC) {
    page = __rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC);
  }
  if (!page) {
    RmqueueMode rmqm = RMQUEUE_NORMAL;
    page = __rmqueue(zone, order, migratetype, alloc_flags, &rmqm);
    // OOM handling and order-0 atomic allocations may use the highatomic
    // reserve: failing now is worse than failing a future high-order one.
    if (!page && (alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK))) {
      page = __rmqueue_smallest(zone, order, MIGRATE_HIGHATOMIC);
    }
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "rmqueue_buddy");
  if (page) {
    st().pgalloc += 1u << order;
  } else {
    ctx::note_alloc_fail(ctx::AllocFail::kWatermark);  // no block of the order
  }
  return page;
}

// kernel: mm/page_alloc.c rmqueue(), v6.18
Page* Mm::rmqueue(Zone* preferred_zone, Zone* zone, unsigned order,
                  gfp_t gfp_flags, unsigned alloc_flags, int migratetype) {
  Page* page = nullptr;
  if (pcp_allowed_order(order)) {
    page =
        rmqueue_pcplist(preferred_zone, zone, order, migratetype, alloc_flags);
  }
  if (!page) {
    page = rmqueue_buddy(preferred_zone, zone, order, alloc_flags, migratetype);
  }
  // Wake kswapd for a boosted watermark only now, with zone->lock dropped
  // (73444bc4d8f9, BZ-11).
  if ((alloc_flags & ALLOC_KSWAPD) && zone->test_bit(ZONE_BOOSTED_WATERMARK)) {
    zone->clear_bit(ZONE_BOOSTED_WATERMARK);
    wakeup_kswapd(zone, 0, 0, zone->idx);
  }
  return page;
}

// ---------------------------------------------------------------------------
// Free path

// kernel: mm/page_alloc.c bad_page(), v6.18: reports and takes the page out
// of circulation (the model refuses the free instead).
void Mm::bad_page(Page* page, const char* reason, const char* fn) {
  ++st().bad_pages;
  char d[200];
  snprintf(d, sizeof(d),
           "BUG: Bad page state: pfn:%#lx order:%u where:%d refcount:%d: %s; "
           "the free is refused",
           page_to_pfn(page), page->alloc_order, static_cast<int>(page->where),
           page->refcount, reason);
  ReportMm(FindingKind::kBadPageState, fn,
           (static_cast<uint64_t>(page_to_pfn(page)) << 8) ^
               reinterpret_cast<uintptr_t>(reason),
           d);
}

// kernel: mm/page_alloc.c free_page_is_bad() / free_pages_prepare() checks,
// plus the double-free and wrong-order checks the kernel makes through
// VM_BUG_ON_PAGE and page_ref underflow.
REENTRY_ALWAYS_INLINE bool Mm::free_page_is_bad(Page* page, unsigned order,
                                                const char* fn) {
  // The common case: the head of a live allocation freed with its order.
  if (REENTRY_LIKELY(page != nullptr && page_to_pfn(page) < nr_pages_ &&
                     page->where == PageWhere::kAllocated &&
                     page->refcount > 0 && page->alloc_order == order)) {
    return false;
  }
  return free_page_is_bad_slow(page, order, fn);
}

bool Mm::free_page_is_bad_slow(Page* page, unsigned order, const char* fn) {
  if (page == nullptr) return true;
  const unsigned long pfn = page_to_pfn(page);
  if (pfn >= nr_pages_) return true;
  switch (page->where) {
    case PageWhere::kAllocated:
      break;
    case PageWhere::kBuddy:
    case PageWhere::kPcp:
    case PageWhere::kLlist:
      bad_page(page, "double free: the page is already free", fn);
      return true;
    default:
      bad_page(page, "freeing a page that is not the head of an allocation",
               fn);
      return true;
  }
  if (page->refcount <= 0) {
    bad_page(page, "nonzero _refcount expected (refcount underflow)", fn);
    return true;
  }
  if (page->alloc_order != order) {
    bad_page(page, "freed with a different order than it was allocated with",
             fn);
    return true;
  }
  return false;
}

// Clears the allocation state of a block going back to the allocator.
void Mm::MarkFreed(Page* page, unsigned order) {
  page->ClearFlags(PG_head | PG_lru | PG_memcg_kmem);
  WRITE_ONCE(page->where, PageWhere::kNone);
  page->owner = PageOwnerKind::kNone;
  WRITE_ONCE(page->slot, int8_t{-1});
  page->refcount = 0;
  page->pincount = 0;
  page->longterm_pins = 0;
  page->alloc_gfp = 0;
}

// kernel: mm/page_alloc.c __free_pages_prepare(), v6.18 (memcg uncharge,
// page_owner reset; debug_check_no_locks_freed is skipped for FPI_NOLOCK)
REENTRY_ALWAYS_INLINE bool Mm::__free_pages_prepare(Page* page, unsigned order,
                                                    fpi_t fpi_flags) {
  if (page->flags & PG_memcg_kmem) __memcg_kmem_uncharge_page(page, order);
  if (cfg_.page_owner) __reset_page_owner(page, order);
  MarkFreed(page, order);
  st().pgfree += 1u << order;
  return true;
}

// kernel: mm/page_alloc.c add_page_to_zone_llist(), v6.15+
void Mm::add_page_to_zone_llist(Zone* zone, Page* page, unsigned order) {
  WRITE_ONCE(page->private_order, static_cast<uint8_t>(order));  // page->order
  WRITE_ONCE(page->where, PageWhere::kLlist);
  Page* head = zone->trylock_free_pages.load(std::memory_order_relaxed);
  do {
    page->pcp_llist = head;
  } while (!zone->trylock_free_pages.compare_exchange_weak(
      head, page, std::memory_order_release, std::memory_order_relaxed));
  ++st().llist_deferred;
}

// kernel: mm/page_alloc.c split_large_buddy(), v6.10+
void Mm::split_large_buddy(Zone* zone, Page* page, unsigned long pfn, int order,
                           fpi_t fpi) {
  const unsigned long end = pfn + (1ul << order);
  if (order > cfg_.pageblock_order) order = cfg_.pageblock_order;
  for (;;) {
    const int mt = get_pfnblock_migratetype(page, pfn);
    __free_one_page(page, pfn, zone, order, mt, fpi);
    pfn += 1ul << order;
    if (pfn == end) break;
    page = pfn_to_page(pfn);
  }
}

// kernel: mm/page_alloc.c free_one_page(), mm tree 2026 (the can_spin_trylock
// check lives here since <20260715-alloc-nolock-fixes-v1-2-…>)
void Mm::free_one_page(Zone* zone, Page* page, unsigned long pfn,
                       unsigned order, fpi_t fpi_flags) {
  REENTRY_KFUNC();
  IrqFlags flags;
  if (fpi_flags & FPI_NOLOCK) {
    if (!can_spin_trylock() ||
        !locks::spin_trylock_irqsave(zone->lock, &flags, "free_one_page")) {
      add_page_to_zone_llist(zone, page, order);
      return;
    }
  } else {
    flags = locks::spin_lock_irqsave(zone->lock, "free_one_page");
  }
  inject(PointId::kFreeOnePageZoneLocked);
  // The lock succeeded: process deferred pages (only a normal free does).
  if (!(fpi_flags & FPI_NOLOCK) &&
      zone->trylock_free_pages.load(std::memory_order_relaxed) != nullptr) {
    Page* p =
        zone->trylock_free_pages.exchange(nullptr, std::memory_order_acquire);
    inject(PointId::kFreeOnePageLlistDrain);
    while (p != nullptr) {
      Page* next = p->pcp_llist;
      p->pcp_llist = nullptr;
      WRITE_ONCE(p->where, PageWhere::kNone);
      const int p_order = p->private_order;
      split_large_buddy(zone, p, page_to_pfn(p), p_order, fpi_flags);
      ++st().llist_drained;
      p = next;
    }
  }
  split_large_buddy(zone, page, pfn, order, fpi_flags);
  locks::spin_unlock_irqrestore(zone->lock, flags, "free_one_page");
}

// kernel: mm/page_alloc.c __free_pages_ok(), v6.18
void Mm::__free_pages_ok(Page* page, unsigned order, fpi_t fpi_flags) {
  const unsigned long pfn = page_to_pfn(page);
  Zone* zone = page_zone(page);
  if (__free_pages_prepare(page, order, fpi_flags)) {
    free_one_page(zone, page, pfn, order, fpi_flags);
  }
}

// kernel: mm/page_alloc.c free_pcppages_bulk(), v6.18
void Mm::free_pcppages_bulk(Zone* zone, int count, PerCpuPages* pcp,
                            int pindex) {
  REENTRY_KFUNC();
  count = std::min(pcp->count, count);
  if (count <= 0) return;
  pindex = pindex - 1;
  IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "free_pcppages_bulk");
  inject(PointId::kFreePcppagesBulkZoneLocked);
  while (count > 0) {
    ListHead* list;
    do {
      if (++pindex > NR_PCP_LISTS - 1) pindex = 0;
      list = &pcp->lists[pindex];
    } while (list_empty(list));
    const unsigned order = pindex_to_order(pindex);
    const int nr_pages = 1 << order;
    do {
      Page* page = lru_to_page(list->prev);
      const unsigned long pfn = page_to_pfn(page);
      const int mt = get_pfnblock_migratetype(page, pfn);
      list_del(&page->lru);
      WRITE_ONCE(page->where, PageWhere::kNone);
      count -= nr_pages;
      WRITE_ONCE(pcp->count, pcp->count - nr_pages);
      __free_one_page(page, pfn, zone, order, mt, FPI_NONE);
    } while (count > 0 && !list_empty(list));
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "free_pcppages_bulk");
}

// kernel: mm/page_alloc.c nr_pcp_free(), v6.18
int Mm::nr_pcp_free(PerCpuPages* pcp, int batch, int high, bool free_high) {
  if (free_high) {
    return std::min(pcp->count, batch << CONFIG_PCP_BATCH_SCALE_MAX);
  }
  const int min_nr_free = batch;
  const int max_nr_free = std::max(high - batch, min_nr_free);
  return std::clamp(pcp->free_count, min_nr_free, max_nr_free);
}

// kernel: mm/page_alloc.c nr_pcp_high(), v6.18 (without the ZONE_BELOW_HIGH
// and reclaim-active tuning)
int Mm::nr_pcp_high(PerCpuPages* pcp, Zone* zone, int batch, bool free_high) {
  if (free_high) return 0;
  return pcp->high;
}

// kernel: mm/page_alloc.c free_frozen_page_commit(), v6.18
REENTRY_ALWAYS_INLINE bool Mm::free_frozen_page_commit(
    Zone* zone, PerCpuPages* pcp, Page* page, int migratetype, unsigned order,
    fpi_t fpi_flags) {
  pcp->alloc_factor >>= 1;
  const int pindex = order_to_pindex(migratetype, order);
  inject(PointId::kFreeCommitPcpLocked);
  WRITE_ONCE(page->where, PageWhere::kPcp);
  page->pcp_cpu = static_cast<uint16_t>(pcp->cpu);
  page->pcp_pindex = static_cast<uint8_t>(pindex);
  WRITE_ONCE(page->private_order, static_cast<uint8_t>(order));
  list_add(&page->lru, &pcp->lists[pindex]);
  WRITE_ONCE(pcp->count, pcp->count + (1 << order));
  const int batch = pcp->batch;
  bool free_high = false;
  if (order && order <= PAGE_ALLOC_COSTLY_ORDER) {
    free_high = pcp->free_count >= (batch + pcp->high_min / 2) &&
                (pcp->flags & PCPF_PREV_FREE_HIGH_ORDER) &&
                (!(pcp->flags & PCPF_FREE_HIGH_BATCH) || pcp->count >= batch);
    pcp->flags |= PCPF_PREV_FREE_HIGH_ORDER;
  } else if (pcp->flags & PCPF_PREV_FREE_HIGH_ORDER) {
    pcp->flags &= ~PCPF_PREV_FREE_HIGH_ORDER;
  }
  if (pcp->free_count < (batch << CONFIG_PCP_BATCH_SCALE_MAX)) {
    pcp->free_count += 1 << order;
  }
  // Nolock frees never take zone->lock here: pcp->count may exceed high.
  if (fpi_flags & FPI_NOLOCK) return true;
  const int high = nr_pcp_high(pcp, zone, batch, free_high);
  if (pcp->count < high) return true;
  const int to_free = nr_pcp_free(pcp, batch, high, free_high);
  free_pcppages_bulk(zone, std::max(to_free, 1), pcp, pindex);
  return true;
}

// kernel: mm/page_alloc.c __free_frozen_pages(), mm tree 2026
// (FreeFrozenPages is its body, so that the free entry points inline it; it
// records the kernel's function name itself.)
void Mm::__free_frozen_pages(Page* page, unsigned order, fpi_t fpi_flags) {
  FreeFrozenPages(page, order, fpi_flags);
}

REENTRY_ALWAYS_INLINE void Mm::FreeFrozenPages(Page* page, unsigned order,
                                               fpi_t fpi_flags) {
  const ctx::FunctionScope reentry_kfunc_("__free_frozen_pages");
  const unsigned long pfn = page_to_pfn(page);
  if (!pcp_allowed_order(order)) {
    __free_pages_ok(page, order, fpi_flags);
    return;
  }
  if (!__free_pages_prepare(page, order, fpi_flags)) return;
  Zone* zone = page_zone(page);
  int migratetype = get_pfnblock_migratetype(page, pfn);
  if (migratetype >= MIGRATE_PCPTYPES) {
    if (is_migrate_isolate(migratetype)) {
      free_one_page(zone, page, pfn, order, fpi_flags);
      return;
    }
    migratetype = MIGRATE_MOVABLE;
  }
  if ((fpi_flags & FPI_NOLOCK) && !can_spin_trylock()) {
    add_page_to_zone_llist(zone, page, order);
    return;
  }
  PerCpuPages* pcp = pcp_spin_trylock(zone);
  if (pcp) {
    free_frozen_page_commit(zone, pcp, page, migratetype, order, fpi_flags);
    pcp_spin_unlock(pcp);
  } else {
    free_one_page(zone, page, pfn, order, fpi_flags);
  }
}

// kernel: mm/page_alloc.c ___free_pages(), v6.18 (a pinned block stays
// allocated until its last reference goes, as a compound page would)
REENTRY_ALWAYS_INLINE void Mm::___free_pages(Page* page, unsigned order,
                                             fpi_t fpi_flags) {
  if (free_page_is_bad(page, order, "__free_pages")) return;
  if (--page->refcount > 0) return;         // put_page_testzero()
  FreeFrozenPages(page, order, fpi_flags);  // __free_frozen_pages()
}

// kernel: mm/page_alloc.c __free_pages(), v6.18
void Mm::__free_pages(Page* page, unsigned order) {
  REENTRY_KFUNC();
  const bool ok = CheckFreeContext("__free_pages");
  inject(PointId::kFreeEntry);
  ___free_pages(page, order, ok ? FPI_NONE : FPI_NOLOCK);
}

// kernel: mm/page_alloc.c free_pages_nolock(), v6.15+ ("Can be called while
// holding raw_spin_lock or from IRQ and NMI for any page type")
void Mm::free_pages_nolock(Page* page, unsigned order) {
  REENTRY_KFUNC();
  Cpu& cpu = ctx::this_cpu();
  nolock_enter(cpu, "free_pages_nolock");
  inject(PointId::kFreeNolockEntry);
  ___free_pages(page, order, FPI_NOLOCK);
  nolock_exit(cpu, "free_pages_nolock");
}

// kernel: mm/swap.c put_page() for a (model) compound block
void Mm::put_page(Page* page) {
  if (page == nullptr) return;
  ___free_pages(page, page->alloc_order, FPI_NONE);
}

// ---------------------------------------------------------------------------
// Draining

// kernel: mm/page_alloc.c drain_pages_zone(), v6.18: spin_lock(&pcp->lock) of
// a possibly remote CPU's pcp
void Mm::drain_pages_zone(int cpu, Zone* zone) {
  REENTRY_KFUNC();
  PerCpuPages* pcp = zone->per_cpu_pageset[cpu].get();
  int count;
  do {
    locks::spin_lock(pcp->lock, "drain_pages_zone");
    inject(PointId::kDrainPagesZonePcpLocked);
    count = pcp->count;
    if (count) {
      const int to_drain =
          std::min(count, pcp->batch << CONFIG_PCP_BATCH_SCALE_MAX);
      free_pcppages_bulk(zone, to_drain, pcp, 0);
      count -= to_drain;
    }
    locks::spin_unlock(pcp->lock, "drain_pages_zone");
  } while (count > 0);
}

// kernel: mm/page_alloc.c drain_pages()
void Mm::drain_pages(int cpu) {
  for (int z = 0; z < nr_zones_; ++z) drain_pages_zone(cpu, zones_[z].get());
}

// kernel: mm/page_alloc.c drain_local_pages()
void Mm::drain_local_pages(Zone* zone) {
  REENTRY_KFUNC();
  const int cpu = ctx::smp_processor_id();
  if (zone) {
    drain_pages_zone(cpu, zone);
  } else {
    drain_pages(cpu);
  }
}

// kernel: mm/page_alloc.c __drain_all_pages(), v6.18
void Mm::__drain_all_pages(Zone* zone, bool force_all_cpus) {
  REENTRY_KFUNC();
  if (!locks::mutex_trylock(pcpu_drain_mutex_, "__drain_all_pages")) {
    if (!zone) return;
    locks::mutex_lock(pcpu_drain_mutex_, "__drain_all_pages");
  }
  inject(PointId::kDrainAllPagesMutex);
  for (int cpu = 0; cpu < kernel_.nr_cpus(); ++cpu) {
    bool has_pcps = force_all_cpus;
    for (int z = 0; z < nr_zones_ && !has_pcps; ++z) {
      if (zone && zone != zones_[z].get()) continue;
      // Racy read of another CPU's pcp->count, as the kernel's (a page
      // freed right after it is drained next time).
      has_pcps = READ_ONCE(zones_[z]->per_cpu_pageset[cpu]->count) != 0;
    }
    if (!has_pcps) continue;
    if (zone) {
      drain_pages_zone(cpu, zone);
    } else {
      drain_pages(cpu);
    }
  }
  locks::mutex_unlock(pcpu_drain_mutex_, "__drain_all_pages");
}

// kernel: mm/page_alloc.c drain_all_pages()
void Mm::drain_all_pages(Zone* zone) { __drain_all_pages(zone, false); }

// kernel: mm/page_alloc.c page_alloc_cpu_dead(), v6.18
void Mm::page_alloc_cpu_dead(int cpu) {
  REENTRY_KFUNC();
  if (cpu < 0 || cpu >= kernel_.nr_cpus()) return;
  drain_pages(cpu);
}

// kernel: mm/page_alloc.c zone_pcp_disable(), v6.18: pcp_batch_high_lock,
// high 0 / batch 1 on every CPU, then a full drain. The model writes each
// pcp's high/batch under its pcp->lock (the kernel uses WRITE_ONCE).
void Mm::zone_pcp_disable(Zone* zone) {
  REENTRY_KFUNC();
  locks::mutex_lock(pcp_batch_high_lock_, "zone_pcp_disable");
  ++zone->pcp_disabled;
  for (auto& pcp : zone->per_cpu_pageset) {
    locks::spin_lock(pcp->lock, "zone_pcp_disable");
    pcp->high = 0;
    pcp->batch = 1;
    locks::spin_unlock(pcp->lock, "zone_pcp_disable");
  }
  __drain_all_pages(zone, true);
}

// kernel: mm/page_alloc.c zone_pcp_enable()
void Mm::zone_pcp_enable(Zone* zone) {
  REENTRY_KFUNC();
  --zone->pcp_disabled;
  for (auto& pcp : zone->per_cpu_pageset) {
    locks::spin_lock(pcp->lock, "zone_pcp_enable");
    pcp->high = pcp->high_min;
    pcp->batch = zone->pageset_batch;
    locks::spin_unlock(pcp->lock, "zone_pcp_enable");
  }
  locks::mutex_unlock(pcp_batch_high_lock_, "zone_pcp_enable");
}

}  // namespace reentry::mm
