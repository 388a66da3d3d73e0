// Allocation entry points: gfp -> alloc_flags, prepare_alloc_pages,
// get_page_from_freelist, alloc_pages, the nolock API (final design and the
// Dec 2024 v2 __GFP_TRYLOCK design), alloc_pages_bulk, and the gfp misuse
// checks (kGfpMisuse warnings, then the kernel's fallback).
#include <cstdio>

#include "allocator/base/check.h"
#include "allocator/ctx/alloc_stats.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

bool V2(const Kernel& k) {
  return k.config().nolock_design == ctx::NolockDesign::kV2Trylock;
}

uint64_t Mix(uint64_t a, uint64_t b) {
  return (a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

}  // namespace

// ---------------------------------------------------------------------------
// Reporting helpers

void Mm::ReportMm(FindingKind kind, const char* fn, uint64_t cause,
                  const char* detail) {
  Finding f;
  if (Cpu* cpu = ctx::this_cpu_or_null()) {
    f = cpu->MakeFinding(kind, fn);
  } else {
    f.kind = kind;
    f.function = fn;
  }
  f.cause = cause;
  if (detail) f.SetDetail(detail);
  kernel_.Report(f);
}

// A WARN_ON_ONCE_GFP()/VM_WARN_ON_ONCE() about the caller's gfp mask.
// respect_nowarn: WARN_ON_ONCE_GFP is silenced by __GFP_NOWARN.
void Mm::GfpWarn(const char* site, gfp_t gfp, int order, const char* what,
                 bool respect_nowarn) {
  if (respect_nowarn && (gfp & __GFP_NOWARN)) return;
  Finding f;
  if (Cpu* cpu = ctx::this_cpu_or_null()) {
    f = cpu->MakeFinding(FindingKind::kGfpMisuse, site);
  } else {
    f.kind = FindingKind::kGfpMisuse;
    f.function = site;
  }
  f.gfp = gfp;
  f.order = static_cast<int16_t>(order);
  f.cause = Mix(reinterpret_cast<uintptr_t>(what), gfp);
  char d[sizeof(f.detail)];
  snprintf(d, sizeof(d), "%s (gfp %#x, order %d)", what, gfp, order);
  f.SetDetail(d);
  kernel_.Report(f);
}

// kernel: include/linux/gfp.h / mm/page_alloc.c WARN sites on the caller's
// mask. Returns the mask the kernel goes on with; *fail when it returns NULL.
gfp_t Mm::CheckGfpMisuseSlow(gfp_t gfp, unsigned order, bool nolock,
                             bool* fail) {
  *fail = false;
  if (nolock) {
    gfp_t allowed = __GFP_ACCOUNT;
    if (bug(BugId::kBz28Highatomic)) allowed |= __GFP_HIGH;
    if (gfp & ~allowed) {
      // VM_WARN_ON_ONCE(gfp_flags & ~__GFP_ACCOUNT): "any other caller flag
      // is a bug". The model drops the extra bits (see docs/mm-model.md).
      GfpWarn("alloc_pages_nolock", gfp, order,
              "alloc_pages_nolock() takes only 0 or __GFP_ACCOUNT", false);
      gfp &= allowed;
    }
    return gfp;
  }
  if (order > static_cast<unsigned>(max_order_)) {
    GfpWarn("alloc_pages", gfp, order, "order > MAX_PAGE_ORDER", true);
    *fail = true;
    return gfp;
  }
  if (gfp & __GFP_TRYLOCK) {
    if (!V2(kernel_)) {
      GfpWarn("alloc_pages", gfp, order,
              "__GFP_TRYLOCK is not a gfp flag in this kernel (it became "
              "alloc_pages_nolock())",
              false);
      gfp &= ~__GFP_TRYLOCK;
    } else if (gfp & __GFP_RECLAIM) {
      GfpWarn("alloc_pages", gfp, order,
              "__GFP_TRYLOCK combined with a reclaim flag; the reclaim flags "
              "are dropped",
              false);
      gfp &= ~__GFP_RECLAIM;
    }
  }
  if ((gfp & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK) {
    GfpWarn("gfp_migratetype", gfp, order,
            "__GFP_MOVABLE and __GFP_RECLAIMABLE together; treated as "
            "unmovable",
            false);
    gfp &= ~GFP_MOVABLE_MASK;
  }
  if (gfp & __GFP_NOFAIL) {
    if (!(gfp & __GFP_DIRECT_RECLAIM)) {
      GfpWarn("__alloc_pages_slowpath", gfp, order,
              "__GFP_NOFAIL without __GFP_DIRECT_RECLAIM: cannot loop, may "
              "return NULL",
              true);
    }
    if (ctx::in_nmi()) {
      GfpWarn("__alloc_pages_slowpath", gfp, order,
              "__GFP_NOFAIL from NMI context", true);
    }
    if (order > 1) {
      GfpWarn("__alloc_pages_slowpath", gfp, order,
              "__GFP_NOFAIL with order > 1 is not supported", true);
    }
  }
  return gfp;
}

// __free_pages() is not allowed in NMI context (nor in hardirq on RT): only
// free_pages_nolock(). Reports it; the caller then frees the way
// free_pages_nolock() would, so that one misuse does not cascade into lock
// usage findings at later, valid calls.
bool Mm::CheckFreeContextSlow(const char* what) {
  Cpu& cpu = ctx::this_cpu();
  if (!SpinningForbidden(cpu)) return true;
  Finding f = cpu.MakeFinding(FindingKind::kAllocInvalidContext, what);
  f.cause = Mix(0xf4ee, reinterpret_cast<uintptr_t>(what));
  f.SetDetail(
      cpu.in_nmi()
          ? "__free_pages() from NMI context: it may spin on "
            "zone->lock/pcp->lock held by the interrupted code; only "
            "free_pages_nolock() is NMI-safe"
          : "PREEMPT_RT: __free_pages() from hardirq context takes sleeping "
            "spinlock_t locks; only free_pages_nolock() may be used there");
  cpu.Report(f);
  return false;
}

// An allocation whose gfp lets it spin, in a context where spinning on the
// allocator's locks is forbidden (GFP_ATOMIC "doesn't support NMI, nor
// contexts that disable preemption under PREEMPT_RT"). The checker reports
// it from the kMightAlloc event (the model reports it itself when no checker
// is attached); the model then fails the call instead of running it, so that
// one misuse does not cascade into lock-usage findings at later, valid
// allocations (see docs/mm-model.md).
//
// A gfp without __GFP_RECLAIM bits does not make alloc_pages() safe there:
// only alloc_pages_nolock() (and v2's __GFP_TRYLOCK) sets ALLOC_TRYLOCK, and
// without it rmqueue_buddy() spins on zone->lock when its trylock fails. The
// checker sees only the gfp (kMightAlloc), which is also what the nolock
// path's own nested allocations carry, so the model reports this itself.
bool Mm::AllocContextForbiddenSlow(gfp_t gfp, unsigned order) {
  Cpu& cpu = ctx::this_cpu();
  if (!SpinningForbidden(cpu)) return false;
  const auto report = [&](uint64_t cause, const char* detail) {
    Finding f =
        cpu.MakeFinding(FindingKind::kAllocInvalidContext, "alloc_pages");
    f.gfp = gfp;
    f.order = static_cast<int16_t>(order);
    f.cause = Mix(cause, gfp);
    f.SetDetail(detail);
    cpu.Report(f);
  };
  if (!gfpflags_allow_spinning(gfp)) {
    if (V2(kernel_) && (gfp & __GFP_TRYLOCK)) return false;
    report(0xa11d,
           cpu.in_nmi()
               ? "alloc_pages() from NMI context: without __GFP_RECLAIM bits "
                 "it still spins on zone->lock when the trylock fails (only "
                 "alloc_pages_nolock() sets ALLOC_TRYLOCK); only "
                 "alloc_pages_nolock() is NMI-safe"
               : "PREEMPT_RT: alloc_pages() from hardirq context takes "
                 "sleeping spinlock_t locks whatever the gfp; use "
                 "alloc_pages_nolock()");
    return true;
  }
  EmitMightAlloc(gfp, order);
  if (!kernel_.observed()) {
    report(0xa11c, cpu.in_nmi()
                       ? "a spinning allocation from NMI context: only "
                         "alloc_pages_nolock() is NMI-safe"
                       : "PREEMPT_RT: a spinning allocation from hardirq "
                         "context; use alloc_pages_nolock()");
  }
  return true;
}

void Mm::EmitMightAllocSlow(gfp_t gfp, unsigned order) {
  Cpu& cpu = ctx::this_cpu();
  ctx::Event e = cpu.MakeEvent(ctx::EventKind::kMightAlloc);
  e.gfp = gfp;
  e.order = static_cast<int16_t>(order);
  kernel_.Emit(cpu, e);
}

void Mm::nolock_enter(Cpu& cpu, const char* fn) {
  if (!kernel_.observed()) return;
  ctx::Event e = cpu.MakeEvent(ctx::EventKind::kNolockEnter);
  e.function = fn;
  kernel_.Emit(cpu, e);
}

void Mm::nolock_exit(Cpu& cpu, const char* fn) {
  if (!kernel_.observed()) return;
  ctx::Event e = cpu.MakeEvent(ctx::EventKind::kNolockExit);
  e.function = fn;
  kernel_.Emit(cpu, e);
}

// ---------------------------------------------------------------------------
// gfp helpers

// kernel: include/linux/sched/mm.h current_gfp_context()
gfp_t Mm::current_gfp_context(gfp_t flags) {
  const uint32_t pflags = current().flags;
  if (pflags & (PF_MEMALLOC_NOIO | PF_MEMALLOC_NOFS | PF_MEMALLOC_PIN)) {
    if (pflags & PF_MEMALLOC_NOIO) {
      flags &= ~(__GFP_IO | __GFP_FS);
    } else if (pflags & PF_MEMALLOC_NOFS) {
      flags &= ~__GFP_FS;
    }
    if (pflags & PF_MEMALLOC_PIN) flags &= ~__GFP_MOVABLE;
  }
  return flags;
}

// kernel: include/linux/gfp.h gfp_zone() (GFP_ZONE_TABLE: MOVABLE|HIGHMEM ->
// ZONE_MOVABLE; the model has no DMA/DMA32/HIGHMEM zones)
int Mm::gfp_zone(gfp_t flags) const {
  if ((flags & __GFP_MOVABLE) && (flags & __GFP_HIGHMEM) &&
      nr_zones_ > ZONE_MOVABLE) {
    return ZONE_MOVABLE;
  }
  return ZONE_NORMAL;
}

// kernel: include/linux/sched/mm.h memalloc_nofs_save()
uint32_t Mm::memalloc_nofs_save() {
  Task& t = current();
  const uint32_t old = t.flags & PF_MEMALLOC_NOFS;
  t.flags |= PF_MEMALLOC_NOFS;
  if (t.nofs_depth < 8) t.nofs_saved[t.nofs_depth] = old;
  ++t.nofs_depth;
  return old;
}

// kernel: include/linux/sched/mm.h memalloc_nofs_restore()
void Mm::memalloc_nofs_restore(uint32_t flags) {
  Task& t = current();
  t.flags = (t.flags & ~PF_MEMALLOC_NOFS) | flags;
  if (t.nofs_depth > 0) --t.nofs_depth;
}

// kernel: mm/page_alloc.c __need_reclaim()
bool Mm::__need_reclaim(gfp_t gfp_mask) {
  if (!(gfp_mask & __GFP_DIRECT_RECLAIM)) return false;
  if (current().flags & PF_MEMALLOC) return false;
  if (gfp_mask & __GFP_NOLOCKDEP) return false;
  return true;
}

// kernel: mm/page_alloc.c fs_reclaim_acquire() (a lockdep annotation,
// nothing else: fs_reclaim_acquire() calls this only with an observer)
void Mm::fs_reclaim_acquire_slow(gfp_t gfp_mask) {
  gfp_mask = current_gfp_context(gfp_mask);
  if (__need_reclaim(gfp_mask) && (gfp_mask & __GFP_FS)) {
    locks::lock_map_acquire(fs_reclaim_map_, "fs_reclaim_acquire");
  }
}

// kernel: mm/page_alloc.c fs_reclaim_release()
void Mm::fs_reclaim_release_slow(gfp_t gfp_mask) {
  gfp_mask = current_gfp_context(gfp_mask);
  if (__need_reclaim(gfp_mask) && (gfp_mask & __GFP_FS)) {
    locks::lock_map_release(fs_reclaim_map_, "fs_reclaim_release");
  }
}

// kernel: include/linux/sched/mm.h might_alloc(). The fs_reclaim annotation
// is only made in task context: a reclaiming allocation from an interrupt is
// reported (kAllocInvalidContext) where it happens, and the model does not
// let it also poison fs_reclaim's irq usage, which would blame the next
// legitimate GFP_KERNEL allocation ("inconsistent lock state") instead.
void Mm::might_alloc(gfp_t gfp_mask) {
  if (ctx::in_task()) {
    fs_reclaim_acquire(gfp_mask);
    fs_reclaim_release(gfp_mask);
  }
  if (gfpflags_allow_blocking(gfp_mask)) ctx::might_sleep("might_alloc");
}

// kernel: mm/page_alloc.c gfp_to_alloc_flags_cma()
unsigned Mm::gfp_to_alloc_flags_cma(gfp_t gfp_mask, unsigned alloc_flags) {
  if (cma_ && gfp_migratetype_raw(gfp_mask) == MIGRATE_MOVABLE) {
    alloc_flags |= ALLOC_CMA;
  }
  return alloc_flags;
}

// kernel: mm/page_alloc.c gfp_to_alloc_flags(), v6.18 (alloc_flags_slowpath()
// + alloc_flags_nonblocking() in the 2026 mm tree)
unsigned Mm::gfp_to_alloc_flags(gfp_t gfp_mask, unsigned order) {
  unsigned alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET;
  alloc_flags |= gfp_mask & (__GFP_HIGH | __GFP_KSWAPD_RECLAIM);
  if (!(gfp_mask & __GFP_DIRECT_RECLAIM)) {
    if (!(gfp_mask & __GFP_NOMEMALLOC)) {
      alloc_flags |= ALLOC_NON_BLOCK;
      if (order > 0 && (alloc_flags & ALLOC_MIN_RESERVE)) {
        alloc_flags |= ALLOC_HIGHATOMIC;
      }
    }
    if (alloc_flags & ALLOC_MIN_RESERVE) alloc_flags &= ~ALLOC_CPUSET;
  }
  alloc_flags = gfp_to_alloc_flags_cma(gfp_mask, alloc_flags);
  if (cfg_.defrag_mode) alloc_flags |= ALLOC_NOFRAGMENT;
  return alloc_flags;
}

// kernel: mm/page_alloc.c __gfp_pfmemalloc_flags()
unsigned Mm::__gfp_pfmemalloc_flags(gfp_t gfp_mask) {
  if (gfp_mask & __GFP_NOMEMALLOC) return 0;
  if (gfp_mask & __GFP_MEMALLOC) return ALLOC_NO_WATERMARKS;
  Cpu& cpu = ctx::this_cpu();
  if (cpu.in_serving_softirq() && (current().flags & PF_MEMALLOC)) {
    return ALLOC_NO_WATERMARKS;
  }
  if (!cpu.in_interrupt()) {
    if (current().flags & PF_MEMALLOC) return ALLOC_NO_WATERMARKS;
    if (current().oom_victim) return ALLOC_OOM;
  }
  return 0;
}

// kernel: mm/page_alloc.c alloc_nolock_allowed() / alloc_order_allowed(),
// mm tree 2026
bool Mm::alloc_nolock_allowed(unsigned order) const {
  if (!can_spin_trylock()) return false;
  if (order > PAGE_ALLOC_COSTLY_ORDER) return false;  // !pcp_allowed_order
  if (cfg_.deferred_pages) return false;
  return true;
}

// ---------------------------------------------------------------------------
// The fast path

// kernel: mm/page_alloc.c post_alloc_hook(), v6.18
void Mm::post_alloc_hook(Page* page, unsigned order, gfp_t gfp_flags) {
  WRITE_ONCE(page->private_order, uint8_t{0});
  NoteTouched(page_to_pfn(page));
  WRITE_ONCE(page->where, PageWhere::kAllocated);
  WRITE_ONCE(page->alloc_order, static_cast<uint8_t>(order));
  page->refcount = 1;  // set_page_refcounted()
  page->SetFlags(gfp_migratetype_raw(gfp_flags) == MIGRATE_MOVABLE
                     ? PG_head | PG_lru
                     : PG_head);
  page->owner = PageOwnerKind::kInternal;
  WRITE_ONCE(page->slot, int8_t{-1});
  page->alloc_gfp = gfp_flags;
  if (cfg_.page_owner) set_page_owner(page, order, gfp_flags);
}

// kernel: mm/page_alloc.c prep_new_page()
void Mm::prep_new_page(Page* page, unsigned order, gfp_t gfp_flags,
                       unsigned alloc_flags) {
  post_alloc_hook(page, order, gfp_flags);
}

// kernel: mm/page_alloc.c get_page_from_freelist(), v6.18 (no cpusets, dirty
// limits, node reclaim or deferred init growth; ZONE_BELOW_HIGH not kept)
Page* Mm::get_page_from_freelist(gfp_t gfp_mask, unsigned order,
                                 unsigned alloc_flags, AllocContext* ac) {
  REENTRY_KFUNC();
  for (;;) {
    const bool no_fallback = alloc_flags & ALLOC_NOFRAGMENT;
    for (int i = 0; i < ac->nr_zones; ++i) {
      Zone* zone = ac->zonelist[i];
      if (zone->vm_stat[NR_UNACCEPTED].load() > 0) {
        cond_accept_memory(zone, order, alloc_flags);
      }
      for (;;) {  // try_this_zone
        const unsigned long mark =
            wmark_pages(zone, alloc_flags & ALLOC_WMARK_MASK);
        if (!zone_watermark_fast(zone, order, mark, ac->highest_zoneidx,
                                 alloc_flags, gfp_mask)) {
          if (cond_accept_memory(zone, order, alloc_flags)) continue;
          if (!(alloc_flags & ALLOC_NO_WATERMARKS)) {
            ctx::note_alloc_fail(ctx::AllocFail::kWatermark);
            break;
          }
        }
        Page* page = rmqueue(ac->zonelist[0], zone, order, gfp_mask,
                             alloc_flags, ac->migratetype);
        if (page) {
          inject(PointId::kPostAllocHook);
          prep_new_page(page, order, gfp_mask, alloc_flags);
          // A high-order atomic allocation may reserve its pageblock.
          if (alloc_flags & ALLOC_HIGHATOMIC) {
            reserve_highatomic_pageblock(page, order, zone);
          }
          return page;
        }
        if (cond_accept_memory(zone, order, alloc_flags)) continue;
        break;
      }
    }
    if (no_fallback && !cfg_.defrag_mode) {
      alloc_flags &= ~ALLOC_NOFRAGMENT;
      continue;
    }
    return nullptr;
  }
}

// kernel: mm/page_alloc.c prepare_alloc_pages(), v6.18
bool Mm::prepare_alloc_pages(gfp_t gfp_mask, unsigned order, AllocContext* ac,
                             gfp_t* alloc_gfp, unsigned* alloc_flags) {
  ac->highest_zoneidx = gfp_zone(gfp_mask);
  ac->nr_zones = 0;
  for (int i = 0; i < nr_zones_; ++i) {
    const int z = zonelist_order_[i].load(std::memory_order_relaxed);
    if (z <= ac->highest_zoneidx)
      ac->zonelist[ac->nr_zones++] = zones_[z].get();
  }
  ac->migratetype = gfp_migratetype_raw(gfp_mask);
  EmitMightAlloc(gfp_mask, order);
  might_alloc(gfp_mask);
  // No should_fail for nolock: it may call get_random_u32() and printk().
  if (!(*alloc_flags & ALLOC_NOLOCK) &&
      should_fail_alloc_page(gfp_mask, order)) {
    ctx::note_alloc_fail(ctx::AllocFail::kFaultInjection);
    return false;
  }
  *alloc_flags = gfp_to_alloc_flags_cma(gfp_mask, *alloc_flags);
  ac->spread_dirty_pages = gfp_mask & __GFP_WRITE;
  *alloc_gfp = gfp_mask;
  return true;
}

// kernel: mm/page_alloc.c __alloc_frozen_pages_noprof(), mm tree 2026 (one
// function for both paths; alloc_flags is 0 or ALLOC_NOLOCK)
Page* Mm::__alloc_frozen_pages_noprof(gfp_t gfp, unsigned order,
                                      unsigned nolock_flags) {
  AllocContext ac;
  gfp_t alloc_gfp = gfp;
  const bool nolock = nolock_flags & ALLOC_NOLOCK;
  gfp = current_gfp_context(gfp);
  unsigned alloc_flags = nolock ? (ALLOC_WMARK_MIN | nolock_flags)
                                : static_cast<unsigned>(ALLOC_WMARK_LOW);
  if (!prepare_alloc_pages(gfp, order, &ac, &alloc_gfp, &alloc_flags)) {
    return nullptr;
  }
  if (!nolock) {
    // alloc_flags_nofragment(): ALLOC_KSWAPD straight from the gfp bit.
    alloc_flags |= gfp & __GFP_KSWAPD_RECLAIM;
    if (cfg_.defrag_mode) alloc_flags |= ALLOC_NOFRAGMENT;
  }
  Page* page = get_page_from_freelist(alloc_gfp, order, alloc_flags, &ac);
  if (!page && !nolock) {
    page = __alloc_pages_slowpath(gfp, order, &ac);
    if (!page) ctx::note_alloc_fail(ctx::AllocFail::kNoMemory);
  }
  if (!page && nolock) ++st().nolock_failed;
  if (page && cfg_.memcg && (gfp & __GFP_ACCOUNT) &&
      __memcg_kmem_charge_page(page, gfp, order) != 0) {
    ++st().charge_failed;
    ctx::note_alloc_fail(ctx::AllocFail::kMemcgCharge);
    __free_frozen_pages(page, order, nolock ? FPI_NOLOCK : FPI_NONE);
    page = nullptr;
  }
  return page;
}

// kernel: include/linux/gfp.h alloc_pages() -> alloc_pages_noprof(), v6.18
Page* Mm::alloc_pages(gfp_t gfp, unsigned order) {
  REENTRY_KFUNC();
  inject(PointId::kAllocEntry);
  bool fail;
  gfp = CheckGfpMisuse(gfp, order, false, &fail);
  if (fail) {
    ctx::note_alloc_fail(ctx::AllocFail::kInvalid);
    return nullptr;
  }
  if (AllocContextForbidden(gfp, order)) {
    ctx::note_alloc_fail(ctx::AllocFail::kContext);
    return nullptr;
  }
  if (V2(kernel_) && (gfp & __GFP_TRYLOCK)) {
    // v2: __GFP_TRYLOCK maps to ALLOC_TRYLOCK (BUILD_BUG_ON in the series).
    Cpu& cpu = ctx::this_cpu();
    nolock_enter(cpu, "alloc_pages(__GFP_TRYLOCK)");
    Page* page = nullptr;
    if (can_spin_trylock() || bug(BugId::kBz02)) {
      if (bug(BugId::kBz28Kswapd)) gfp |= __GFP_KSWAPD_RECLAIM;
      page = __alloc_frozen_pages_noprof(
          gfp, order,
          ALLOC_TRYLOCK | (bug(BugId::kBz28Kswapd) ? ALLOC_KSWAPD : 0));
    }
    nolock_exit(cpu, "alloc_pages(__GFP_TRYLOCK)");
    return page;
  }
  return __alloc_frozen_pages_noprof(gfp, order, 0);
}

Page* Mm::AllocNolockCommon(gfp_t gfp_flags, unsigned order, bool v2) {
  bool fail;
  gfp_flags = CheckGfpMisuse(gfp_flags, order, true, &fail);
  if (!alloc_nolock_allowed(order)) {
    ++st().nolock_failed;
    ctx::note_alloc_fail(!can_spin_trylock() ? ctx::AllocFail::kContext
                         : order > PAGE_ALLOC_COSTLY_ORDER
                             ? ctx::AllocFail::kOrderTooHigh
                             : ctx::AllocFail::kOther);
    return nullptr;
  }
  gfp_t gfp = gfp_nolock | gfp_flags;
  unsigned alloc_flags = ALLOC_NOLOCK;
  if (bug(BugId::kBz28Kswapd)) {
    // BZ-28d: the nolock mask keeps __GFP_KSWAPD_RECLAIM, so kswapd may be
    // woken and gfpflags_allow_spinning() is true for the nested hooks.
    gfp |= __GFP_KSWAPD_RECLAIM;
    alloc_flags |= ALLOC_KSWAPD;
  }
  if (bug(BugId::kBz28Highatomic) && (gfp & __GFP_HIGH)) {
    // BZ-28a: __GFP_HIGH gives the atomic reserves, and for order > 0 the
    // highatomic reserve (ALLOC_HIGHATOMIC).
    alloc_flags |= ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK |
                   (order > 0 ? ALLOC_HIGHATOMIC : 0);
  }
  return __alloc_frozen_pages_noprof(gfp, order, alloc_flags);
}

// kernel: mm/page_alloc.c alloc_pages_nolock_noprof(), v6.18 / mm tree 2026:
// trylocks only, MIN watermark, no slowpath, no kswapd, no should_fail, no
// accept, no highatomic; NULL on any contention.
Page* Mm::alloc_pages_nolock(gfp_t gfp_flags, int nid, unsigned order) {
  REENTRY_KFUNC();
  Cpu& cpu = ctx::this_cpu();
  if (V2(kernel_)) return try_alloc_pages(gfp_flags, order);
  nolock_enter(cpu, "alloc_pages_nolock");
  inject(PointId::kAllocNolockEntry);
  Page* page = AllocNolockCommon(gfp_flags, order, false);
  nolock_exit(cpu, "alloc_pages_nolock");
  return page;
}

// kernel: include/linux/gfp.h try_alloc_pages_noprof(), v2 series
// <20241210023936.46871-2-alexei.starovoitov@gmail.com>: preemptible callers
// take the normal GFP_NOWAIT path; everybody else __GFP_TRYLOCK.
Page* Mm::try_alloc_pages(gfp_t gfp_flags, unsigned order) {
  REENTRY_KFUNC();
  inject(PointId::kAllocNolockEntry);
  const gfp_t account = gfp_flags & __GFP_ACCOUNT;
  if (gfp_flags & ~__GFP_ACCOUNT) {
    GfpWarn("try_alloc_pages", gfp_flags, order,
            "try_alloc_pages() takes only 0 or __GFP_ACCOUNT", false);
  }
  if (order > PAGE_ALLOC_COSTLY_ORDER) return nullptr;
  if (ctx::preemptible()) {
    return alloc_pages(GFP_NOWAIT | __GFP_ZERO | account, order);
  }
  return alloc_pages(__GFP_TRYLOCK | __GFP_NOWARN | __GFP_ZERO | account,
                     order);
}

// kernel: mm/page_alloc.c alloc_pages_bulk_noprof(), v6.18 (with page_owner
// on it allocates a single page: 187ad460b841 "avoid page allocator recursion
// with pagesets.lock held")
unsigned long Mm::alloc_pages_bulk(gfp_t gfp, int nr_pages, Page** page_array) {
  REENTRY_KFUNC();
  int nr_populated = 0;
  while (nr_populated < nr_pages && page_array[nr_populated]) ++nr_populated;
  if (nr_populated >= nr_pages) return nr_populated;
  bool fail;
  gfp = CheckGfpMisuse(gfp, 0, false, &fail);
  if (AllocContextForbidden(gfp, 0)) return nr_populated;
  bool single = nr_pages - nr_populated == 1 || cfg_.page_owner ||
                (cfg_.memcg && (gfp & __GFP_ACCOUNT)) ||
                (V2(kernel_) && (gfp & __GFP_TRYLOCK));
  if (!single) {
    AllocContext ac;
    gfp_t alloc_gfp = gfp;
    unsigned alloc_flags = ALLOC_WMARK_LOW;
    gfp = current_gfp_context(gfp);
    if (!prepare_alloc_pages(gfp, 0, &ac, &alloc_gfp, &alloc_flags)) {
      return nr_populated;
    }
    Zone* zone = nullptr;
    for (int i = 0; i < ac.nr_zones && !zone; ++i) {
      Zone* z = ac.zonelist[i];
      cond_accept_memory(z, 0, alloc_flags);
      const unsigned long mark =
          wmark_pages(z, alloc_flags & ALLOC_WMARK_MASK) + nr_pages;
      if (zone_watermark_fast(z, 0, mark, ac.highest_zoneidx, alloc_flags,
                              gfp)) {
        zone = z;
      }
    }
    if (zone) {
      PerCpuPages* pcp = pcp_spin_trylock(zone);
      if (pcp) {
        ListHead* list = &pcp->lists[ac.migratetype];  // order_to_pindex(mt, 0)
        int nr_account = 0;
        while (nr_populated < nr_pages) {
          if (page_array[nr_populated]) {
            ++nr_populated;
            continue;
          }
          Page* page = __rmqueue_pcplist(zone, 0, ac.migratetype, alloc_flags,
                                         pcp, list);
          if (!page) break;
          ++nr_account;
          prep_new_page(page, 0, alloc_gfp, 0);
          page_array[nr_populated++] = page;
        }
        pcp_spin_unlock(pcp);
        st().pgalloc += nr_account;
        if (nr_account) return nr_populated;
      }
    }
  }
  // failed: the single-page allocator for one page.
  Page* page = alloc_pages(gfp, 0);
  if (page) page_array[nr_populated++] = page;
  return nr_populated;
}

}  // namespace reentry::mm
