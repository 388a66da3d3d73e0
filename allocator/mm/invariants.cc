// Program slots, invariants (page conservation, buddy shape, list
// membership, accounting) and teardown (return everything, report leaks).
#include <algorithm>
#include <cstdio>
#include <vector>

#include "allocator/base/check.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {

// ---------------------------------------------------------------------------
// Slots

bool Mm::SlotTryBegin(int i) {
  if (i < 0 || i >= kMaxSlots) return false;
  return !slot_busy_[i].exchange(true, std::memory_order_acquire);
}

void Mm::SlotEnd(int i) {
  slot_busy_[i].store(false, std::memory_order_release);
}

void Mm::SlotClear(int i) {
  Slot& s = slots_[i];
  s.kind = SlotKind::kEmpty;
  s.page = nullptr;
  s.order = 0;
  s.nr = 0;
  s.released = false;
}

// A block already in the slot stays allocated, owned by the program with no
// slot (an orphan): teardown returns it.
static void Orphan(Slot& s) {
  if (s.page != nullptr) WRITE_ONCE(s.page->slot, int8_t{-1});
}

void Mm::SlotStore(int i, Page* page, unsigned order) {
  Slot& s = slots_[i];
  Orphan(s);
  s.kind = SlotKind::kPages;
  s.page = page;
  s.order = static_cast<uint8_t>(order);
  s.nr = 1u << order;
  s.released = false;
  page->owner = PageOwnerKind::kProgram;
  WRITE_ONCE(page->slot, static_cast<int8_t>(i));  // migration reads it racily
}

void Mm::SlotStoreCma(int i, Page* page, unsigned long count) {
  Slot& s = slots_[i];
  Orphan(s);
  s.kind = SlotKind::kCma;
  s.page = page;
  s.order = 0;
  s.nr = static_cast<uint32_t>(count);
  s.released = false;
  WRITE_ONCE(page->slot, static_cast<int8_t>(i));  // migration reads it racily
}

// ---------------------------------------------------------------------------
// Test helpers

void Mm::TestOnlyBrokenFree(Page* page, unsigned order) {
  Zone* zone = page_zone(page);
  MarkFreed(page, order);
  const int mt = get_pageblock_migratetype(page);
  set_buddy_order(page, order);
  __add_to_free_list(page, zone, order, mt, false);
  account_freepages(zone, 1l << order, mt);
}

unsigned long Mm::TestOnlyFreePagesInBuddy(const Zone* z) const {
  unsigned long n = 0;
  for (int o = 0; o <= max_order_; ++o) {
    for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
      n += z->free_area[o].nr_mt[mt].load() << o;
    }
  }
  return n;
}

unsigned long Mm::TestOnlyLlistPages(const Zone* z) const {
  unsigned long n = 0;
  for (Page* p = z->trylock_free_pages.load(); p != nullptr; p = p->pcp_llist) {
    n += 1ul << p->private_order;
  }
  return n;
}

unsigned long Mm::TestOnlyPagesOutsideTouchedChunks() const {
  unsigned long n = 0;
  for (unsigned long pfn = 0; pfn < nr_pages_; ++pfn) {
    const Page* p = pfn_to_page(pfn);
    if (p->where != PageWhere::kAllocated && p->where != PageWhere::kOffline) {
      continue;
    }
    if (!IsTouched(pfn)) ++n;
  }
  return n;
}

unsigned long Mm::TestOnlyLoseFreeBlock(unsigned order) {
  Zone* zone = zones_[ZONE_NORMAL].get();
  for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
    ListHead* head = &zone->free_area[order].free_list[mt];
    if (head->next == head) continue;
    Page* page = reinterpret_cast<Page*>(head->next);
    del_page_from_free_list(page, zone, order, mt);
    account_freepages(zone, -(1l << order), mt);
    page->where = PageWhere::kNone;
    return page_to_pfn(page);
  }
  return kNoPfn;
}

// ---------------------------------------------------------------------------
// Invariants

namespace {

// The places a page can be, in the order CheckInvariants scans them.
enum class CoverPlace : uint8_t {
  kBuddy,
  kUnaccepted,
  kPcp,
  kLlist,
  kAllocated,
  kOffline,
};

const char* CoverPlaceName(CoverPlace p) {
  switch (p) {
    case CoverPlace::kBuddy:
      return "buddy free list";
    case CoverPlace::kUnaccepted:
      return "unaccepted";
    case CoverPlace::kPcp:
      return "pcp list";
    case CoverPlace::kLlist:
      return "trylock_free_pages";
    case CoverPlace::kAllocated:
      return "allocated";
    case CoverPlace::kOffline:
      return "offline";
  }
  return "?";
}

}  // namespace

bool Mm::Quiescent() const {
  for (int z = 0; z < nr_zones_; ++z) {
    const Zone* zone = zones_[z].get();
    if (zone->lock.held()) return false;
    for (const auto& pcp : zone->per_cpu_pageset) {
      if (pcp->lock.held()) return false;
    }
  }
  return !pool_lock_.held() && !mem_hotplug_lock_.held() &&
         !pcpu_drain_mutex_.held() && !(cma_ && cma_->alloc_mutex.held());
}

bool Mm::CheckInvariants() {
  if (!Quiescent()) return false;
  char d[200];
  bool ok = true;
  auto corrupt = [&](FindingKind kind, uint64_t cause) {
    ok = false;
    ReportMm(kind, "check_invariants", cause, d);
  };
  // Page conservation: every page is in exactly one place. Each place marks
  // its pfn range in a bitmap (scan order: the place named second in a
  // report is the later scan); a page marked twice is in two places, one
  // never marked is lost. (A bitmap, not a per-page array or sorted ranges:
  // this runs once per fuzz input.)
  std::vector<uint64_t> covered((nr_pages_ + 63) / 64, 0);
  auto cover = [&](unsigned long pfn, unsigned long n, CoverPlace what) {
    const unsigned long end = std::min(pfn + n, nr_pages_);
    bool twice = false;
    for (unsigned long i = std::min(pfn, nr_pages_); i < end;) {
      const unsigned long bit = i % 64;
      const unsigned long len = std::min(64 - bit, end - i);
      const uint64_t mask =
          (len == 64 ? ~uint64_t{0} : ((uint64_t{1} << len) - 1) << bit);
      uint64_t& word = covered[i / 64];
      if (!twice && (word & mask)) {
        twice = true;
        const unsigned long at = i - bit + __builtin_ctzll(word & mask);
        snprintf(d, sizeof(d), "pfn %#lx is in two places at once (second: %s)",
                 at, CoverPlaceName(what));
        corrupt(FindingKind::kFreeListCorrupt, 0xd0b1e000 + at);
      }
      word |= mask;
      i += len;
    }
  };
  for (int z = 0; z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    long free_pages = 0;
    long cma_pages = 0;
    long ha_pages = 0;
    for (int o = 0; o <= max_order_; ++o) {
      FreeArea* area = &zone->free_area[o];
      unsigned long total = 0;
      for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
        ListHead* head = &area->free_list[mt];
        unsigned long n = 0;
        for (ListHead* l = head->next; l != head; l = l->next) {
          if (l == nullptr || l->next == nullptr || l->next->prev != l ||
              n > nr_pages_) {
            snprintf(d, sizeof(d),
                     "%s free_area[%d].free_list[%s] is broken (bad link)",
                     zone->name, o, MigratetypeName(mt));
            corrupt(FindingKind::kFreeListCorrupt, 0x11570000 + o * 8 + mt);
            break;
          }
          Page* p = reinterpret_cast<Page*>(l);
          const unsigned long pfn = page_to_pfn(p);
          ++n;
          if (!p->PageBuddy() || p->private_order != o ||
              (pfn & ((1ul << o) - 1)) || !zone->zone_spans_pfn(pfn)) {
            snprintf(d, sizeof(d),
                     "pfn %#lx on %s free_area[%d] (%s) has buddy order %d "
                     "(PageBuddy %d): wrong order or misaligned",
                     pfn, zone->name, o, MigratetypeName(mt), p->private_order,
                     p->PageBuddy() ? 1 : 0);
            corrupt(FindingKind::kFreeListCorrupt, 0xb0dd0000 + pfn);
          }
          if (get_pfnblock_migratetype(p, pfn) != mt &&
              !(o >= cfg_.pageblock_order && migratetype_is_mergeable(mt) &&
                migratetype_is_mergeable(get_pfnblock_migratetype(p, pfn)))) {
            snprintf(d, sizeof(d), "pfn %#lx on the %s list of a %s pageblock",
                     pfn, MigratetypeName(mt),
                     MigratetypeName(get_pfnblock_migratetype(p, pfn)));
            corrupt(FindingKind::kPageAccounting, 0x3170000 + pfn);
          }
          cover(pfn, 1ul << o, CoverPlace::kBuddy);
          if (!is_migrate_isolate(mt)) free_pages += 1l << o;
          if (is_migrate_cma(mt)) cma_pages += 1l << o;
          if (is_migrate_highatomic(mt)) ha_pages += 1l << o;
        }
        if (n != area->nr_mt[mt].load()) {
          snprintf(d, sizeof(d),
                   "%s free_area[%d] %s list holds %lu blocks, counted %lu",
                   zone->name, o, MigratetypeName(mt), n,
                   area->nr_mt[mt].load());
          corrupt(FindingKind::kPageAccounting, 0xc0c00000 + o * 8 + mt);
        }
        total += n;
      }
      if (total != area->nr_free.load()) {
        snprintf(d, sizeof(d), "%s free_area[%d].nr_free %lu, lists hold %lu",
                 zone->name, o, area->nr_free.load(), total);
        corrupt(FindingKind::kPageAccounting, 0xf4ee0000 + o);
      }
    }
    // Unaccepted chunks are counted as free.
    long unaccepted = 0;
    for (ListHead* l = zone->unaccepted_pages.next;
         l != &zone->unaccepted_pages; l = l->next) {
      Page* p = reinterpret_cast<Page*>(l);
      cover(page_to_pfn(p), MAX_ORDER_NR_PAGES(), CoverPlace::kUnaccepted);
      unaccepted += static_cast<long>(MAX_ORDER_NR_PAGES());
    }
    if (zone->vm_stat[NR_FREE_PAGES].load() != free_pages + unaccepted ||
        zone->vm_stat[NR_FREE_CMA_PAGES].load() != cma_pages ||
        zone->nr_free_highatomic.load() != ha_pages ||
        zone->vm_stat[NR_UNACCEPTED].load() != unaccepted) {
      snprintf(d, sizeof(d),
               "%s NR_FREE_PAGES %ld (lists %ld + unaccepted %ld), "
               "NR_FREE_CMA_PAGES %ld (lists %ld), nr_free_highatomic %ld "
               "(lists %ld)",
               zone->name, zone->vm_stat[NR_FREE_PAGES].load(), free_pages,
               unaccepted, zone->vm_stat[NR_FREE_CMA_PAGES].load(), cma_pages,
               zone->nr_free_highatomic.load(), ha_pages);
      corrupt(FindingKind::kPageAccounting, 0x5747 + z);
    }
    // pcp lists.
    for (auto& pcp : zone->per_cpu_pageset) {
      int count = 0;
      for (int pindex = 0; pindex < NR_PCP_LISTS; ++pindex) {
        ListHead* head = &pcp->lists[pindex];
        int n = 0;
        for (ListHead* l = head->next; l != head; l = l->next) {
          if (l == nullptr || ++n > static_cast<int>(nr_pages_)) break;
          Page* p = reinterpret_cast<Page*>(l);
          const unsigned order = pindex / MIGRATE_PCPTYPES;
          if (p->where != PageWhere::kPcp || p->pcp_cpu != pcp->cpu) {
            snprintf(d, sizeof(d),
                     "pfn %#lx on cpu%d's pcp list is not a "
                     "pcp page",
                     page_to_pfn(p), pcp->cpu);
            corrupt(FindingKind::kFreeListCorrupt, 0x9c90000 + page_to_pfn(p));
          }
          cover(page_to_pfn(p), 1ul << order, CoverPlace::kPcp);
          count += 1 << order;
        }
      }
      if (count != pcp->count) {
        snprintf(d, sizeof(d), "%s cpu%d pcp->count %d, lists hold %d pages",
                 zone->name, pcp->cpu, pcp->count, count);
        corrupt(FindingKind::kPageAccounting, 0x9c9c0000 + pcp->cpu);
      }
    }
    // The deferred llist.
    unsigned long n = 0;
    for (Page* p = zone->trylock_free_pages.load(); p != nullptr;
         p = p->pcp_llist) {
      if (++n > nr_pages_) break;
      cover(page_to_pfn(p), 1ul << p->private_order, CoverPlace::kLlist);
    }
  }
  // Allocated blocks and offline pages: only touched chunks can hold them.
  long charged = 0;
  ForEachTouchedPage([&](unsigned long pfn, const Page* p) {
    if (p->where == PageWhere::kAllocated) {
      cover(pfn, 1ul << p->alloc_order, CoverPlace::kAllocated);
      if (p->flags & PG_memcg_kmem) charged += 1l << p->alloc_order;
    } else if (p->where == PageWhere::kOffline) {
      cover(pfn, 1, CoverPlace::kOffline);
    }
  });
  unsigned long lost = 0;
  unsigned long first_lost = 0;
  for (unsigned long w = 0; w < covered.size(); ++w) {
    uint64_t missing = ~covered[w];
    if (w == covered.size() - 1 && nr_pages_ % 64) {
      missing &= (uint64_t{1} << (nr_pages_ % 64)) - 1;
    }
    if (missing == 0) continue;
    if (lost == 0) first_lost = w * 64 + __builtin_ctzll(missing);
    lost += __builtin_popcountll(missing);
  }
  if (lost) {
    snprintf(d, sizeof(d),
             "%lu pages are in no free list, pcp list, llist or allocation "
             "(first pfn %#lx): page conservation broken",
             lost, first_lost);
    corrupt(FindingKind::kPageAccounting, 0x1057);
  }
  if (cfg_.memcg) {
    long stock = 0;
    for (const MemcgStockPcp& s : memcg_stock_) stock += s.nr_pages;
    if (memcg_usage_.load() != charged + stock) {
      snprintf(d, sizeof(d), "memcg usage %ld != charged pages %ld + stock %ld",
               memcg_usage_.load(), charged, stock);
      corrupt(FindingKind::kPageAccounting, 0x3e3c);
    }
  }
  return ok;
}

// ---------------------------------------------------------------------------
// Teardown (vCPU 0, task context, locks allowed)

void Mm::Teardown() {
  REENTRY_KFUNC();
  // Interrupts the program armed but never fired may still fire at the
  // injection points teardown passes, and allocate again: repeat.
  for (int round = 0; round < 8; ++round) {
    bool any = false;
    // 1. The program's CMA ranges.
    for (int i = 0; i < kMaxSlots; ++i) {
      Slot& s = slots_[i];
      if (s.kind == SlotKind::kCma && s.page) {
        Page* p = s.page;
        const uint32_t nr = s.nr;
        SlotClear(i);
        cma_release(p, nr);
      }
    }
    ForEachTouchedAllocatedBlock([&](unsigned long, Page* p) {
      if (p->owner == PageOwnerKind::kCma) {
        cma_release(p, 1);
        any = true;
      }
    });
    // 2. Slots, orphans and pins: every block the program holds.
    for (int i = 0; i < kMaxSlots; ++i) SlotClear(i);
    ForEachTouchedAllocatedBlock([&](unsigned long, Page* p) {
      if (p->owner != PageOwnerKind::kProgram) return;
      p->pincount = 0;
      p->longterm_pins = 0;
      p->refcount = 1;
      // An interrupt that fired earlier in this loop may have put the page
      // in a slot: empty it, or a later interrupt frees it through the slot
      // and this free becomes a double free.
      if (p->slot >= 0 && p->slot < kMaxSlots && slots_[p->slot].page == p) {
        SlotClear(p->slot);
      }
      p->slot = -1;
      __free_pages(p, p->alloc_order);
      any = true;
    });
    // 3. pcp lists and the deferred llist.
    for (int cpu = 0; cpu < kernel_.nr_cpus(); ++cpu) drain_pages(cpu);
    for (int z = 0; z < nr_zones_; ++z) {
      Zone* zone = zones_[z].get();
      if (zone->trylock_free_pages.load() == nullptr) continue;
      IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "free_one_page");
      Page* p = zone->trylock_free_pages.exchange(nullptr);
      while (p != nullptr) {
        Page* next = p->pcp_llist;
        p->pcp_llist = nullptr;
        p->where = PageWhere::kNone;
        split_large_buddy(zone, p, page_to_pfn(p), p->private_order, FPI_NONE);
        p = next;
      }
      locks::spin_unlock_irqrestore(zone->lock, flags, "free_one_page");
    }
    // An interrupt that fired inside the drains of step 3 (at
    // free_pcppages_bulk:zone_locked, say) may have allocated after step 2:
    // go round again for its pages too.
    ForEachTouchedAllocatedBlock([&](unsigned long, const Page* p) {
      any = any || p->owner == PageOwnerKind::kProgram ||
            p->owner == PageOwnerKind::kCma;
    });
    if (!any) break;
  }
  // 4. Leaks: allocated blocks nobody may hold any more.
  unsigned long leaked = 0;
  unsigned long first = 0;
  ForEachTouchedAllocatedBlock([&](unsigned long pfn, const Page* p) {
    if (p->owner == PageOwnerKind::kDepot || p->owner == PageOwnerKind::kKrcp ||
        p->owner == PageOwnerKind::kBoot) {
      return;
    }
    if (leaked == 0) first = pfn;
    leaked += 1ul << p->alloc_order;
  });
  if (leaked) {
    char d[200];
    snprintf(d, sizeof(d),
             "%lu pages are still allocated after teardown with no owner "
             "(first pfn %#lx, order %u, owner %d, gfp %#x)",
             leaked, first, pfn_to_page(first)->alloc_order,
             static_cast<int>(pfn_to_page(first)->owner),
             pfn_to_page(first)->alloc_gfp);
    ReportMm(FindingKind::kPageLeak, "teardown", 0x1ea4, d);
  }
  CheckInvariants();
}

}  // namespace reentry::mm
