// Contiguous ranges and hotplug: pageblock isolation (mm/page_isolation.c),
// migration of movable blocks (mm/migrate.c, reduced), alloc_contig_range,
// CMA (mm/cma.c), memory offline/online (mm/memory_hotplug.c), pinning
// (mm/gup.c).
#include <algorithm>
#include <cstdio>

#include "allocator/base/check.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

constexpr int kEBUSY = 16;
constexpr int kEINTR = 4;
constexpr int kEINVAL = 22;
constexpr int kENOMEM = 12;

}  // namespace

// The head of the allocated block containing pfn, or nullptr. Racy reads
// of pages other vCPUs allocate and free, as the kernel's compound_head()
// and folio_order() without a reference: callers recheck under the owner's
// slot (migrate_page_block()) or treat the answer as a hint.
Page* Mm::BlockHead(unsigned long pfn) {
  for (int order = 0; order <= max_order_; ++order) {
    const unsigned long head = pfn & ~((1ul << order) - 1);
    Page* p = pfn_to_page(head);
    if (READ_ONCE(p->where) != PageWhere::kAllocated) continue;
    const int alloc_order = READ_ONCE(p->alloc_order);
    if (alloc_order >= order && head + (1ul << alloc_order) > pfn) return p;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Isolation

// kernel: mm/page_alloc.c pageblock_isolate_and_move_free_pages(), v6.16+
// (a free buddy larger than the pageblock is split first)
bool Mm::pageblock_isolate_and_move_free_pages(Zone* zone, Page* page) {
  const unsigned long start = page_to_pfn(page) & ~(pageblock_nr_pages() - 1);
  if (get_pfnblock_migratetype(page, start) == MIGRATE_ISOLATE) return false;
  for (int order = cfg_.pageblock_order + 1; order <= max_order_; ++order) {
    const unsigned long head = start & ~((1ul << order) - 1);
    Page* buddy = pfn_to_page(head);
    if (!buddy->PageBuddy() || buddy->private_order != order) continue;
    const int mt = get_pfnblock_migratetype(buddy, head);
    del_page_from_free_list(buddy, zone, order, mt);
    set_pageblock_migratetype(pfn_to_page(start), MIGRATE_ISOLATE);
    // Give the pageblocks back one by one; the isolated one lands on the
    // isolate list, the others merge among themselves again.
    for (unsigned long pfn = head; pfn < head + (1ul << order);
         pfn += pageblock_nr_pages()) {
      Page* p = pfn_to_page(pfn);
      __free_one_page(p, pfn, zone, cfg_.pageblock_order,
                      get_pfnblock_migratetype(p, pfn), FPI_NONE);
    }
    return true;
  }
  const int old_mt = get_pfnblock_migratetype(page, start);
  __move_freepages_block(zone, start, old_mt, MIGRATE_ISOLATE);
  set_pageblock_migratetype(pfn_to_page(start), MIGRATE_ISOLATE);
  return true;
}

// kernel: mm/page_alloc.c pageblock_unisolate_and_move_free_pages(): the free
// pages go back to the saved migratetype and may merge again
void Mm::pageblock_unisolate_and_move_free_pages(Zone* zone, Page* page) {
  const unsigned long start = page_to_pfn(page) & ~(pageblock_nr_pages() - 1);
  if (get_pfnblock_migratetype(page, start) != MIGRATE_ISOLATE) return;
  const int mt = get_pageblock_saved_migratetype(start);
  set_pageblock_migratetype(pfn_to_page(start), mt);
  for (unsigned long pfn = start; pfn < start + pageblock_nr_pages();) {
    Page* p = pfn_to_page(pfn);
    if (!p->PageBuddy()) {
      ++pfn;
      continue;
    }
    const unsigned order = p->private_order;
    del_page_from_free_list(p, zone, order, MIGRATE_ISOLATE);
    __free_one_page(p, pfn, zone, order, mt, FPI_NONE);
    pfn += 1ul << order;
  }
}

// kernel: mm/page_isolation.c has_unmovable_pages(), v6.18
Page* Mm::has_unmovable_pages(unsigned long start_pfn, unsigned long end_pfn,
                              bool mem_offline) {
  Page* page = pfn_to_page(start_pfn);
  Zone* zone = page_zone(page);
  if (get_pageblock_saved_migratetype(start_pfn) == MIGRATE_CMA) {
    // CMA allocations treat CMA pageblocks as movable.
    return mem_offline ? page : nullptr;
  }
  for (unsigned long pfn = start_pfn; pfn < end_pfn;) {
    page = pfn_to_page(pfn);
    // Racy reads (zone->lock does not order the owners' stores), as the
    // kernel's PageReserved()/PageLRU() here.
    if (READ_ONCE(page->flags) & PG_reserved) return page;
    if (mem_offline && zone->idx == ZONE_MOVABLE) {
      ++pfn;  // ZONE_MOVABLE only holds movable memory.
      continue;
    }
    if (page->PageBuddy()) {
      pfn += 1ul << page->private_order;
      continue;
    }
    // An allocated block (compound_head() for a tail).
    if (Page* head = BlockHead(pfn)) {
      if (!(READ_ONCE(head->flags) & PG_lru)) return head;
      pfn = page_to_pfn(head) + (1ul << READ_ONCE(head->alloc_order));
      continue;
    }
    ++pfn;  // pcp/llist pages (refcount 0), offline pages
  }
  return nullptr;
}

// kernel: mm/page_isolation.c set_migratetype_isolate(), v6.18: the
// unmovable page is reported after zone->lock is dropped (4a55c0474a92);
// BZ-26 dumps it with zone->lock held.
int Mm::set_migratetype_isolate(Page* page, bool mem_offline,
                                unsigned long start_pfn,
                                unsigned long end_pfn) {
  REENTRY_KFUNC();
  Zone* zone = page_zone(page);
  IrqFlags flags =
      locks::spin_lock_irqsave(zone->lock, "set_migratetype_isolate");
  inject(PointId::kSetMigratetypeIsolateZoneLocked);
  const unsigned long pfn = page_to_pfn(page);
  if (get_pfnblock_migratetype(page, pfn) == MIGRATE_ISOLATE) {
    locks::spin_unlock_irqrestore(zone->lock, flags, "set_migratetype_isolate");
    return -kEBUSY;
  }
  const unsigned long check_start = std::max(pfn, start_pfn);
  const unsigned long check_end =
      std::min((pfn | (pageblock_nr_pages() - 1)) + 1, end_pfn);
  Page* unmovable = has_unmovable_pages(check_start, check_end, mem_offline);
  if (!unmovable) {
    if (!pageblock_isolate_and_move_free_pages(zone, page)) {
      locks::spin_unlock_irqrestore(zone->lock, flags,
                                    "set_migratetype_isolate");
      return -kEBUSY;
    }
    ++zone->nr_isolate_pageblock;
    locks::spin_unlock_irqrestore(zone->lock, flags, "set_migratetype_isolate");
    return 0;
  }
  if (bug(BugId::kBz26) && mem_offline) {
    dump_page(unmovable, "unmovable page");  // BZ-26: under zone->lock
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "set_migratetype_isolate");
  if (!bug(BugId::kBz26) && mem_offline) dump_page(unmovable, "unmovable page");
  return -kEBUSY;
}

// kernel: mm/page_isolation.c unset_migratetype_isolate()
void Mm::unset_migratetype_isolate(Page* page) {
  REENTRY_KFUNC();
  Zone* zone = page_zone(page);
  IrqFlags flags =
      locks::spin_lock_irqsave(zone->lock, "unset_migratetype_isolate");
  if (get_pageblock_migratetype(page) == MIGRATE_ISOLATE) {
    pageblock_unisolate_and_move_free_pages(zone, page);
    --zone->nr_isolate_pageblock;
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "unset_migratetype_isolate");
}

// kernel: mm/page_isolation.c start_isolate_page_range() (pageblock-aligned
// ranges; unaccepted chunks are accepted first)
int Mm::start_isolate_page_range(unsigned long start_pfn, unsigned long end_pfn,
                                 bool mem_offline) {
  REENTRY_KFUNC();
  for (unsigned long pfn = start_pfn; pfn < end_pfn;
       pfn += pageblock_nr_pages()) {
    Page* page = pfn_to_page(pfn);
    Zone* zone = page_zone(page);
    // accept_page(): the chunk holding pfn, if unaccepted. PageUnaccepted()
    // is data_race(page->page_type) in the kernel: once accepted, the page
    // may be allocated and its owner changes its flags without zone->lock.
    const unsigned long chunk = pfn & ~(MAX_ORDER_NR_PAGES() - 1);
    if (READ_ONCE(pfn_to_page(chunk)->flags) & PG_unaccepted) {
      IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "accept_page");
      Page* head = pfn_to_page(chunk);
      if (READ_ONCE(head->flags) & PG_unaccepted) {
        __accept_page(zone, &flags, head);
      } else {
        locks::spin_unlock_irqrestore(zone->lock, flags, "accept_page");
      }
    }
    if (set_migratetype_isolate(page, mem_offline, start_pfn, end_pfn)) {
      undo_isolate_page_range(start_pfn, pfn);
      return -kEBUSY;
    }
  }
  return 0;
}

// kernel: mm/page_isolation.c undo_isolate_page_range()
void Mm::undo_isolate_page_range(unsigned long start_pfn,
                                 unsigned long end_pfn) {
  for (unsigned long pfn = start_pfn; pfn < end_pfn;
       pfn += pageblock_nr_pages()) {
    Page* page = pfn_to_page(pfn);
    if (get_pageblock_migratetype(page) == MIGRATE_ISOLATE) {
      unset_migratetype_isolate(page);
    }
  }
}

// kernel: mm/page_isolation.c test_pages_isolated(): every page is free on
// an isolate list (or offline)
int Mm::test_pages_isolated(unsigned long start_pfn, unsigned long end_pfn) {
  REENTRY_KFUNC();
  Zone* zone = page_zone(pfn_to_page(start_pfn));
  IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "test_pages_isolated");
  int ret = 0;
  for (unsigned long pfn = start_pfn; pfn < end_pfn && !ret;) {
    Page* page = pfn_to_page(pfn);
    if (get_pfnblock_migratetype(page, pfn) != MIGRATE_ISOLATE) {
      ret = -kEBUSY;
    } else if (page->PageBuddy()) {
      pfn += 1ul << page->private_order;
    } else if (READ_ONCE(page->where) == PageWhere::kOffline) {
      // (READ_ONCE: a page that is not free may be allocated, its owner at
      // work)
      ++pfn;
    } else {
      ret = -kEBUSY;
    }
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "test_pages_isolated");
  return ret;
}

// ---------------------------------------------------------------------------
// Migration

// kernel: mm/migrate.c migrate_pages() for one movable block: a new block
// (alloc_migration_target; avoid_movable for FOLL_LONGTERM:
// memalloc_pin_save() clears __GFP_MOVABLE), the owner moves over, the old
// block is freed. Pinned or unmovable blocks cannot move: -EBUSY.
int Mm::migrate_page_block(Page* page, bool avoid_movable, int held_slot) {
  REENTRY_KFUNC();
  // The block's owner (a program op on its slot, possibly on another vCPU)
  // holds the slot for the length of the op: a migration that finds it busy
  // backs off, as the kernel's refcount freeze fails against a concurrent
  // reference (-EAGAIN, a transient -EBUSY here). Otherwise the migration
  // claims the slot until the owner's slot points at the new block; without
  // this, a concurrent free of the slot frees the old block a second time.
  // A block no slot owns may be an allocation still in flight on another
  // vCPU (alloc_pages() returned it, the op has not stored it yet): like a
  // folio before folio_add_lru(), it cannot be isolated. Found by reentry
  // stress: migration freed such a block, its owner then stored and freed it.
  const int slot = READ_ONCE(page->slot);  // racy until the slot is ours
  if (slot < 0) return -kEBUSY;
  bool claimed = false;
  if (slot != held_slot) {
    if (!SlotTryBegin(slot)) return -kEBUSY;
    claimed = true;
  }
  struct Release {
    Mm* mm;
    int slot;
    bool on;
    ~Release() {
      if (on) mm->SlotEnd(slot);
    }
  } release{this, slot, claimed};
  if (READ_ONCE(page->slot) != slot ||
      (slot >= 0 && slots_[slot].page != page) ||
      page->where != PageWhere::kAllocated || !(page->flags & PG_lru) ||
      page->pincount > 0 || page->refcount != 1 ||
      page->owner == PageOwnerKind::kCma) {
    return -kEBUSY;
  }
  const unsigned order = page->alloc_order;
  Task& t = current();
  const uint32_t saved = t.flags;
  if (avoid_movable) t.flags |= PF_MEMALLOC_PIN;
  Page* np = alloc_pages(
      GFP_HIGHUSER_MOVABLE | __GFP_RETRY_MAYFAIL | __GFP_NOWARN, order);
  t.flags = saved;
  if (np == nullptr) return -kENOMEM;
  np->owner = page->owner;
  WRITE_ONCE(np->slot, page->slot);
  np->SetFlags(page->flags & (PG_lru | PG_memcg_kmem));
  np->alloc_gfp = page->alloc_gfp;
  if (page->slot >= 0 && slots_[page->slot].page == page) {
    slots_[page->slot].page = np;
  }
  page->ClearFlags(PG_memcg_kmem);  // the charge moved with the folio
  page->owner = PageOwnerKind::kInternal;
  WRITE_ONCE(page->slot, int8_t{-1});
  __free_pages(page, order);
  ++st().migrated;
  return 0;
}

// Migrates the movable blocks in [start, end); returns -EBUSY if one could
// not move. *found_movable tells whether there was anything to move.
int Mm::migrate_pages_range(unsigned long start, unsigned long end,
                            bool* found_movable) {
  int ret = 0;
  *found_movable = false;
  for (unsigned long pfn = start; pfn < end;) {
    // A free block holds nothing to migrate: skip it whole, as the kernel's
    // isolate_migratepages_block() does (buddy_order_unsafe(), racy).
    // BlockHead() of each of its pages would find nothing.
    Page* page = pfn_to_page(pfn);
    if (page->PageBuddy()) {
      const unsigned order = READ_ONCE(page->private_order);
      pfn += 1ul << std::min<unsigned>(order, max_order_);
      continue;
    }
    Page* head = BlockHead(pfn);
    if (head == nullptr) {
      ++pfn;
      continue;
    }
    const unsigned long next =
        page_to_pfn(head) + (1ul << READ_ONCE(head->alloc_order));
    if (READ_ONCE(head->flags) & PG_lru) {
      *found_movable = true;
      if (migrate_page_block(head, false) != 0) ret = -kEBUSY;
    } else {
      ret = -kEBUSY;
    }
    pfn = next;
  }
  return ret;
}

// kernel: mm/page_alloc.c __alloc_contig_migrate_range(), v6.18 (bounded: 5
// passes without progress give -kEBUSY)
int Mm::__alloc_contig_migrate_range(unsigned long start, unsigned long end) {
  REENTRY_KFUNC();
  int ret = 0;
  for (int tries = 0; tries < 5; ++tries) {
    bool found;
    ret = migrate_pages_range(start, end, &found);
    if (ret == 0) return 0;
  }
  return ret;
}

// kernel: mm/compaction.c isolate_freepages_range(): takes the free pages of
// an isolated range off the free lists (zone->lock) as order-0 pages
unsigned long Mm::isolate_freepages_range(unsigned long start_pfn,
                                          unsigned long end_pfn) {
  REENTRY_KFUNC();
  Zone* zone = page_zone(pfn_to_page(start_pfn));
  IrqFlags flags =
      locks::spin_lock_irqsave(zone->lock, "isolate_freepages_block");
  unsigned long taken = 0;
  for (unsigned long pfn = start_pfn; pfn < end_pfn;) {
    Page* page = pfn_to_page(pfn);
    if (!page->PageBuddy()) {
      ++pfn;
      continue;
    }
    const unsigned order = page->private_order;
    del_page_from_free_list(page, zone, order, MIGRATE_ISOLATE);
    NoteTouchedRange(pfn, 1ul << order);
    for (unsigned long i = 0; i < (1ul << order); ++i) {
      Page* p = pfn_to_page(pfn + i);
      WRITE_ONCE(p->where, PageWhere::kAllocated);
      WRITE_ONCE(p->alloc_order, uint8_t{0});
      p->refcount = 1;
      p->SetFlags(PG_head);
      p->owner = PageOwnerKind::kInternal;
      WRITE_ONCE(p->slot, int8_t{-1});
    }
    taken += 1ul << order;
    pfn += 1ul << order;
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "isolate_freepages_block");
  return taken;
}

// kernel: mm/page_alloc.c free_contig_range()
void Mm::free_contig_range(unsigned long pfn, unsigned long nr_pages) {
  for (unsigned long i = 0; i < nr_pages; ++i) {
    Page* p = pfn_to_page(pfn + i);
    if (p->where != PageWhere::kAllocated) continue;
    p->owner = PageOwnerKind::kInternal;
    p->refcount = 1;
    p->pincount = 0;
    __free_pages(p, 0);
  }
}

// kernel: mm/page_alloc.c alloc_contig_frozen_range_noprof(), mm tree 2026
int Mm::alloc_contig_range(unsigned long start, unsigned long end, gfp_t gfp) {
  REENTRY_KFUNC();
  if (gfp & (__GFP_NOFAIL | __GFP_NORETRY)) return -kEINVAL;
  const unsigned long pb = pageblock_nr_pages();
  const unsigned long istart = start & ~(pb - 1);
  const unsigned long iend = (end + pb - 1) & ~(pb - 1);
  Zone* zone = page_zone(pfn_to_page(start));
  int ret = start_isolate_page_range(istart, iend, false);
  if (ret) return ret;
  drain_all_pages(zone);
  inject(PointId::kAllocContigIsolated);
  ret = __alloc_contig_migrate_range(start, end);
  if (ret == 0) {
    // Deferred nolock frees in the range sit on the llist until the next
    // normal free drains it: -EBUSY, as a transient refcount would be.
    ret = test_pages_isolated(istart, iend);
  }
  if (ret == 0) {
    isolate_freepages_range(istart, iend);
    // Give back what is outside [start, end).
    for (unsigned long pfn = istart; pfn < start; ++pfn) {
      free_contig_range(pfn, 1);
    }
    for (unsigned long pfn = end; pfn < iend; ++pfn) free_contig_range(pfn, 1);
  }
  undo_isolate_page_range(istart, iend);
  return ret;
}

// ---------------------------------------------------------------------------
// CMA (mm/cma.c)

// kernel: mm/cma.c cma_clear_bitmap(): cma->lock, spin_lock_irqsave
void Mm::cma_clear_bitmap(unsigned long pfn, unsigned long count) {
  IrqFlags flags = locks::spin_lock_irqsave(cma_->lock, "cma_clear_bitmap");
  for (unsigned long i = 0; i < count; ++i) {
    cma_->bitmap[pfn - cma_->base_pfn + i] = 0;
  }
  cma_->available_count += count;
  locks::spin_unlock_irqrestore(cma_->lock, flags, "cma_clear_bitmap");
}

// kernel: mm/cma.c cma_range_alloc() / cma_alloc(), v6.18: the bitmap under
// cma->lock (spin_lock_irq), alloc_contig_range under cma->alloc_mutex,
// -EBUSY -> the next aligned area. BZ-30 (NAKed 2020 patch): retry the same
// area forever.
Page* Mm::cma_alloc(unsigned long count, unsigned align, bool no_warn) {
  REENTRY_KFUNC();
  if (!cma_ || count == 0 || count > cma_->count) return nullptr;
  ctx::might_sleep("cma_alloc");
  const unsigned long mask = (1ul << align) - 1;
  unsigned long start = 0;
  Page* page = nullptr;
  int busy_retries = 0;
  for (;;) {
    locks::spin_lock_irq(cma_->lock, "cma_range_alloc");
    inject(PointId::kCmaLocked);
    unsigned long bitmap_no = cma_->count;
    for (unsigned long b = (start + mask) & ~mask; b + count <= cma_->count;
         b = (b + 1 + mask) & ~mask) {
      bool free = true;
      for (unsigned long i = 0; i < count && free; ++i) {
        free = !cma_->bitmap[b + i];
      }
      if (free) {
        bitmap_no = b;
        break;
      }
    }
    if (bitmap_no >= cma_->count) {
      locks::spin_unlock_irq(cma_->lock, "cma_range_alloc");
      break;
    }
    for (unsigned long i = 0; i < count; ++i) cma_->bitmap[bitmap_no + i] = 1;
    cma_->available_count -= count;
    locks::spin_unlock_irq(cma_->lock, "cma_range_alloc");
    const unsigned long pfn = cma_->base_pfn + bitmap_no;
    locks::mutex_lock(cma_->alloc_mutex, "cma_range_alloc");
    inject(PointId::kCmaAllocLocked);
    const int ret = alloc_contig_range(
        pfn, pfn + count, GFP_KERNEL | (no_warn ? __GFP_NOWARN : 0));
    locks::mutex_unlock(cma_->alloc_mutex, "cma_range_alloc");
    if (ret == 0) {
      page = pfn_to_page(pfn);
      for (unsigned long i = 0; i < count; ++i) {
        pfn_to_page(pfn + i)->owner = PageOwnerKind::kCma;
      }
      break;
    }
    cma_clear_bitmap(pfn, count);
    if (ret != -kEBUSY) break;
    ++st().cma_busy;
    inject(PointId::kCmaBusyRetry);
    if (bug(BugId::kBz30)) {
      // "mm: cma: indefinitely retry allocations in cma_alloc": msleep(100)
      // and the same area again, until it works.
      if (++busy_retries > cfg_.retry_budget) {
        char d[200];
        snprintf(d, sizeof(d),
                 "cma_alloc of %lu pages retried -EBUSY %d times on the same "
                 "area (a pinned page never migrates): it never returns",
                 count, busy_retries - 1);
        ReportLivelock("cma_alloc", d, GFP_KERNEL, 0, 0xc4a30);
        return nullptr;
      }
      ctx::might_sleep("msleep");
      continue;
    }
    start = bitmap_no + mask + 1;
  }
  if (page == nullptr && !no_warn) {
    // pr_err_ratelimited + cma_debug_show_areas() (under cma->lock).
    locks::spin_lock_irq(cma_->lock, "cma_debug_show_areas");
    printk("cma: alloc failed");
    locks::spin_unlock_irq(cma_->lock, "cma_debug_show_areas");
  }
  return page;
}

// kernel: mm/cma.c cma_release()
bool Mm::cma_release(Page* pages, unsigned long count) {
  REENTRY_KFUNC();
  if (!cma_ || pages == nullptr) return false;
  const unsigned long pfn = page_to_pfn(pages);
  if (pfn < cma_->base_pfn || pfn + count > cma_->base_pfn + cma_->count) {
    return false;
  }
  free_contig_range(pfn, count);
  cma_clear_bitmap(pfn, count);
  return true;
}

// ---------------------------------------------------------------------------
// Memory hotplug (mm/memory_hotplug.c)

// kernel: mm/memory_hotplug.c mem_hotplug_begin(): percpu_down_write
void Mm::mem_hotplug_begin() {
  locks::mutex_lock(mem_hotplug_lock_, "mem_hotplug_begin");
}

// kernel: mm/memory_hotplug.c mem_hotplug_done()
void Mm::mem_hotplug_done() {
  locks::mutex_unlock(mem_hotplug_lock_, "mem_hotplug_done");
}

// kernel: mm/page_alloc.c setup_per_zone_wmarks() at run time: zone->lock
// around each zone's update
void Mm::setup_per_zone_wmarks_locked() {
  unsigned long wm[MAX_NR_ZONES][NR_WMARK];
  Mm* self = this;
  // Compute with the boot formula, then publish under each zone->lock.
  const auto save = [&] {
    for (int z = 0; z < nr_zones_; ++z) {
      for (int w = 0; w < NR_WMARK; ++w) wm[z][w] = zones_[z]->_watermark[w];
    }
  };
  save();
  self->setup_per_zone_wmarks();
  for (int z = 0; z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    unsigned long nw[NR_WMARK];
    for (int w = 0; w < NR_WMARK; ++w) {
      nw[w] = zone->_watermark[w];
      WRITE_ONCE(zone->_watermark[w], wm[z][w]);
    }
    IrqFlags flags =
        locks::spin_lock_irqsave(zone->lock, "__setup_per_zone_wmarks");
    for (int w = 0; w < NR_WMARK; ++w) WRITE_ONCE(zone->_watermark[w], nw[w]);
    locks::spin_unlock_irqrestore(zone->lock, flags, "__setup_per_zone_wmarks");
  }
  setup_per_zone_lowmem_reserve();
}

// kernel: mm/page_alloc.c __offline_isolated_pages()
unsigned long Mm::__offline_isolated_pages(unsigned long start_pfn,
                                           unsigned long end_pfn) {
  Zone* zone = page_zone(pfn_to_page(start_pfn));
  IrqFlags flags =
      locks::spin_lock_irqsave(zone->lock, "__offline_isolated_pages");
  unsigned long offlined = 0;
  for (unsigned long pfn = start_pfn; pfn < end_pfn;) {
    Page* page = pfn_to_page(pfn);
    if (page->PageBuddy()) {
      const unsigned order = page->private_order;
      del_page_from_free_list(page, zone, order, MIGRATE_ISOLATE);
      NoteTouchedRange(pfn, 1ul << order);
      for (unsigned long i = 0; i < (1ul << order); ++i) {
        Page* p = pfn_to_page(pfn + i);
        p->SetFlags(PG_offline);
        WRITE_ONCE(p->where, PageWhere::kOffline);
      }
      offlined += 1ul << order;
      pfn += 1ul << order;
    } else {
      ++pfn;
    }
  }
  locks::spin_unlock_irqrestore(zone->lock, flags, "__offline_isolated_pages");
  return offlined;
}

// kernel: mm/memory_hotplug.c offline_pages(), v6.18. The migrate/recheck
// loop ends only on a signal in the kernel ("signal backoff"); the model
// sends the signal after MmConfig::retry_budget passes: -EINTR.
int Mm::offline_pages(unsigned long start_pfn, unsigned long nr_pages) {
  REENTRY_KFUNC();
  const unsigned long end_pfn = start_pfn + nr_pages;
  Zone* zone = page_zone(pfn_to_page(start_pfn));
  mem_hotplug_begin();
  zone_pcp_disable(zone);
  int ret = start_isolate_page_range(start_pfn, end_pfn, true);
  if (ret == 0) {
    int passes = 0;
    do {
      if (++passes > cfg_.retry_budget) {
        ret = -kEINTR;
        break;
      }
      inject(PointId::kOfflinePagesMigrate);
      bool found;
      migrate_pages_range(start_pfn, end_pfn, &found);
      ret = test_pages_isolated(start_pfn, end_pfn);
      if (ret) {
        // Deferred (llist) frees get merged by the next normal free.
        drain_all_pages(zone);
      }
    } while (ret);
    if (ret) {
      undo_isolate_page_range(start_pfn, end_pfn);
    } else {
      const unsigned long managed =
          __offline_isolated_pages(start_pfn, end_pfn);
      IrqFlags flags = locks::spin_lock_irqsave(zone->lock, "offline_pages");
      zone->nr_isolate_pageblock -= nr_pages / pageblock_nr_pages();
      locks::spin_unlock_irqrestore(zone->lock, flags, "offline_pages");
      zone->managed_pages.add(-static_cast<long>(managed));
      const unsigned long mb = cfg_.memory_block_pages;
      for (unsigned long b = start_pfn / mb; b < end_pfn / mb; ++b) {
        block_offline_[b] = 1;
      }
    }
  }
  zone_pcp_enable(zone);
  if (ret == 0) setup_per_zone_wmarks_locked();
  mem_hotplug_done();
  return ret;
}

// The highest online memory block (what a user offlining memory from the top
// would pick).
int Mm::offline_pages_op() {
  const unsigned long mb = cfg_.memory_block_pages;
  for (long b = static_cast<long>(block_offline_.size()) - 1; b >= 0; --b) {
    if (!block_offline_[b]) return offline_pages(b * mb, mb);
  }
  return -kEINVAL;
}

int Mm::offline_memory_block_of(Page* page) {
  if (page == nullptr) return -kEINVAL;
  const unsigned long mb = cfg_.memory_block_pages;
  const unsigned long b = page_to_pfn(page) / mb;
  if (block_offline_[b]) return -kEINVAL;
  return offline_pages(b * mb, mb);
}

// kernel: mm/memory_hotplug.c online_pages(), v6.18 (zonelists are rebuilt
// only if the zone was empty)
int Mm::online_pages(unsigned long pfn, unsigned long nr_pages) {
  REENTRY_KFUNC();
  Zone* zone = page_zone(pfn_to_page(pfn));
  mem_hotplug_begin();
  inject(PointId::kOnlinePagesHotplugLocked);
  const bool need_zonelists_rebuild = zone->managed_pages.load() == 0;
  for (unsigned long p = pfn; p < pfn + nr_pages; p += pageblock_nr_pages()) {
    Page* page = pfn_to_page(p);
    set_pageblock_migratetype(page,
                              get_pageblock_saved_migratetype(p) == MIGRATE_CMA
                                  ? MIGRATE_CMA
                                  : MIGRATE_MOVABLE);
    for (unsigned long i = 0; i < pageblock_nr_pages(); ++i) {
      Page* q = pfn_to_page(p + i);
      q->ClearFlags(PG_offline);
      WRITE_ONCE(q->where, PageWhere::kNone);
    }
    free_one_page(zone, page, p, cfg_.pageblock_order, FPI_TO_TAIL);
  }
  zone->managed_pages.add(static_cast<long>(nr_pages));
  const unsigned long mb = cfg_.memory_block_pages;
  for (unsigned long b = pfn / mb; b < (pfn + nr_pages) / mb; ++b) {
    block_offline_[b] = 0;
  }
  setup_per_zone_wmarks_locked();
  if (need_zonelists_rebuild) build_all_zonelists();
  mem_hotplug_done();
  return 0;
}

int Mm::online_pages_op() {
  const unsigned long mb = cfg_.memory_block_pages;
  for (size_t b = 0; b < block_offline_.size(); ++b) {
    if (block_offline_[b]) return online_pages(b * mb, mb);
  }
  return -kEINVAL;
}

// ---------------------------------------------------------------------------
// Pins (mm/gup.c)

// kernel: mm/gup.c pin_user_pages() with FOLL_PIN [| FOLL_LONGTERM]:
// check_and_migrate_movable_pages() moves long-term pinned pages out of CMA
// and ZONE_MOVABLE first.
Page* Mm::pin_user_pages(Page* page, bool longterm) {
  REENTRY_KFUNC();
  if (page == nullptr || page->where != PageWhere::kAllocated) return nullptr;
  ctx::might_sleep("pin_user_pages");
  const unsigned long pfn = page_to_pfn(page);
  if (longterm && (get_pageblock_saved_migratetype(pfn) == MIGRATE_CMA ||
                   page->zone == ZONE_MOVABLE)) {
    const int slot = page->slot;  // the caller's op holds it
    if (migrate_page_block(page, /*avoid_movable=*/true, slot) != 0) {
      return nullptr;
    }
    page = slot >= 0 ? slots_[slot].page : nullptr;
    if (page == nullptr) return nullptr;
  }
  ++page->pincount;
  ++page->refcount;
  if (longterm) ++page->longterm_pins;
  return page;
}

// kernel: mm/gup.c unpin_user_page()
void Mm::unpin_user_page(Page* page) {
  REENTRY_KFUNC();
  if (page == nullptr || page->where != PageWhere::kAllocated ||
      page->pincount <= 0) {
    return;
  }
  --page->pincount;
  if (page->longterm_pins > 0) --page->longterm_pins;
  put_page(page);
}

}  // namespace reentry::mm
