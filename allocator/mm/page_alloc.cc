// The buddy allocator core: zone setup, watermarks, free lists, expand and
// merge, __rmqueue with its CMA/claim/steal fallbacks, and the highatomic
// reserve. Kernel functions keep their names; each has a provenance line.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "allocator/base/check.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {

const char* MigratetypeName(int mt) {
  switch (mt) {
    case MIGRATE_UNMOVABLE:
      return "Unmovable";
    case MIGRATE_MOVABLE:
      return "Movable";
    case MIGRATE_RECLAIMABLE:
      return "Reclaimable";
    case MIGRATE_HIGHATOMIC:
      return "HighAtomic";
    case MIGRATE_CMA:
      return "CMA";
    case MIGRATE_ISOLATE:
      return "Isolate";
    default:
      return "?";
  }
}

void MmStats::Add(const MmStats& o) {
  pgalloc += o.pgalloc;
  pgfree += o.pgfree;
  pcp_refills += o.pcp_refills;
  pcp_trylock_failed += o.pcp_trylock_failed;
  zone_trylock_failed += o.zone_trylock_failed;
  llist_deferred += o.llist_deferred;
  llist_drained += o.llist_drained;
  slowpath += o.slowpath;
  kswapd_wakeups += o.kswapd_wakeups;
  oom_kills += o.oom_kills;
  highatomic_reserved += o.highatomic_reserved;
  boosts += o.boosts;
  accepted_chunks += o.accepted_chunks;
  bad_pages += o.bad_pages;
  nolock_failed += o.nolock_failed;
  charge_failed += o.charge_failed;
  migrated += o.migrated;
  depot_pools += o.depot_pools;
  printk_lines += o.printk_lines;
  printk_deferred += o.printk_deferred;
  fail_injected += o.fail_injected;
  retry_budget_exhausted += o.retry_budget_exhausted;
  cma_busy += o.cma_busy;
}

MmStats Mm::stats() const {
  MmStats s;
  for (const MmStats& c : stats_) s.Add(c);
  return s;
}

namespace {

// kernel: mm/page_alloc.c fallbacks[], v6.15+
constexpr int kFallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] = {
    {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE},    // UNMOVABLE
    {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE},  // MOVABLE
    {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE},      // RECLAIMABLE
};

constexpr int kWatermarkScaleFactor = 10;     // vm.watermark_scale_factor
constexpr int kWatermarkBoostFactor = 15000;  // vm.watermark_boost_factor
constexpr int kSwapClusterMax = 32;
constexpr int kLowmemReserveRatio = 32;  // sysctl_lowmem_reserve_ratio[NORMAL]

int Log2Floor(unsigned long v) {
  int r = -1;
  while (v) {
    v >>= 1;
    ++r;
  }
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------
// Construction. Runs outside any vCPU: no locks, no injection points.

Mm::Mm(Kernel& kernel, BugSet bugs, const MmConfig& config)
    : kernel_(kernel),
      bugs_(bugs),
      cfg_(config),
      zonelist_update_seq_(kernel, "zonelist_update_seq", true),
      pcp_batch_high_lock_(kernel, "pcp_batch_high_lock"),
      pcpu_drain_mutex_(kernel, "pcpu_drain_mutex"),
      mem_hotplug_lock_(kernel, "mem_hotplug_lock"),
      kswapd_wait_(kernel, "&pgdat->kswapd_wait"),
      own_pi_lock_(kernel, "&p->pi_lock"),
      own_rq_lock_(kernel, "&rq->__lock"),
      pi_lock_(&own_pi_lock_),
      rq_lock_(&own_rq_lock_),
      fs_reclaim_map_(kernel, "fs_reclaim"),
      oom_lock_(kernel, "oom_lock"),
      console_owner_(kernel, "console_owner", ctx::WaitType::kWaitConfig),
      own_port_lock_(kernel, "&port->lock"),
      port_lock_(&own_port_lock_),
      pool_lock_(kernel, "pool_lock"),
      stack_list_lock_(kernel, "stack_list_lock"),
      memcg_stock_lock_(kernel, "memcg_stock.lock", /*trylock_type=*/true),
      batched_entropy_lock_(kernel, "batched_entropy_u32.lock", false),
      unaccepted_memory_lock_(kernel, "unaccepted_memory_lock") {
  const int ncpu = kernel.nr_cpus();
  tasks_.reserve(ncpu);
  krcp_.reserve(ncpu);
  rng_.reserve(ncpu);
  for (int c = 0; c < ncpu; ++c) {
    tasks_.push_back(std::make_unique<Task>(kernel));
    krcp_.push_back(std::make_unique<KfreeRcuCpu>(kernel));
    rng_.emplace_back(0x5eed + c);
  }
  stats_.resize(ncpu);
  printk_deferred_.assign(ncpu, 0);
  memcg_stock_.resize(ncpu);
  cpu_dead_.assign(ncpu, 0);
  memcg_max_ = cfg_.memcg_limit;
  depot_records_ = TakeDepotRecords();
  BuildZones();
}

namespace {

// The last mem_map this thread freed, for the next model of the same size:
// a fuzz target builds a model per input, and a fresh array per input
// costs page faults (under ASan, an mmap and shadow poisoning too).
struct MemMapCache {
  std::unique_ptr<Page[]> pages;
  unsigned long nr_pages = 0;
};
thread_local MemMapCache mem_map_cache;
// Likewise the stack depot's records: depot_alloc_stack() sets every field a
// reader can reach before it publishes a record, so a reused array needs no
// clearing.
thread_local std::unique_ptr<StackRecord[]> depot_records_cache;

// n copies of page at pages[0..n): whole-struct copies that double in size
// (memcpy), not the field-by-field stores of std::fill, which bounded a
// model's construction (3,072 pages of 56 bytes per fuzz input).
void FillPages(Page* pages, unsigned long n, const Page& page) {
  static_assert(std::is_trivially_copyable_v<Page>);
  if (n == 0) return;
  pages[0] = page;
  for (unsigned long done = 1; done < n;) {
    const unsigned long chunk = std::min(done, n - done);
    std::memcpy(&pages[done], &pages[0], chunk * sizeof(Page));
    done += chunk;
  }
}

}  // namespace

std::unique_ptr<StackRecord[]> Mm::TakeDepotRecords() {
  if (depot_records_cache) return std::move(depot_records_cache);
  return std::make_unique<StackRecord[]>(kDepotMaxPools * kDepotRecordsPerPool);
}

// Every page is (re)initialised by BuildZones.
std::unique_ptr<Page[]> Mm::TakeMemMap(unsigned long nr_pages) {
  if (mem_map_cache.pages && mem_map_cache.nr_pages == nr_pages) {
    return std::move(mem_map_cache.pages);
  }
  return std::make_unique<Page[]>(nr_pages);
}

Mm::~Mm() {
  if (mem_map_) {
    mem_map_cache.pages = std::move(mem_map_);
    mem_map_cache.nr_pages = nr_pages_;
  }
  if (depot_records_) depot_records_cache = std::move(depot_records_);
}

void Mm::NoteTouchedRange(unsigned long pfn, unsigned long nr) {
  if (nr == 0) return;
  const unsigned long step = 1ul << kTouchedChunkShift;
  for (unsigned long c = pfn & ~(step - 1); c < pfn + nr; c += step) {
    NoteTouched(c);
  }
}

void Mm::AdoptProgramLocks(std::span<locks::LockBase* const> test_locks) {
  for (locks::LockBase* l : test_locks) {
    if (l == nullptr) continue;
    const std::string_view name = l->name();
    if (name == "&port->lock" && l->type() == ctx::LockType::kSpinlock) {
      port_lock_ = static_cast<locks::Spinlock*>(l);
    } else if (name == "&rq->__lock" &&
               l->type() == ctx::LockType::kRawSpinlock) {
      rq_lock_ = static_cast<locks::RawSpinlock*>(l);
    } else if (name == "&p->pi_lock" &&
               l->type() == ctx::LockType::kRawSpinlock) {
      pi_lock_ = static_cast<locks::RawSpinlock*>(l);
    }
  }
}

void Mm::BuildZones() {
  nr_zones_ = std::clamp(cfg_.nr_zones, 1, static_cast<int>(MAX_NR_ZONES));
  // MAX_PAGE_ORDER: capped so that every zone holds whole max-order blocks.
  max_order_ = std::clamp(cfg_.max_page_order, 1, kMaxPageOrderLimit);
  for (int z = 0; z < nr_zones_; ++z) {
    const int fit = Log2Floor(std::max<uint32_t>(cfg_.zone_pages[z], 2));
    max_order_ = std::min(max_order_, fit);
  }
  cfg_.pageblock_order = std::clamp(cfg_.pageblock_order, 1, max_order_);
  const unsigned long chunk = MAX_ORDER_NR_PAGES();
  unsigned long spans[MAX_NR_ZONES] = {};
  for (int z = 0; z < nr_zones_; ++z) {
    spans[z] = std::max<unsigned long>(cfg_.zone_pages[z] / chunk, 1) * chunk;
    nr_pages_ += spans[z];
  }
  mem_map_ = TakeMemMap(nr_pages_);
  touched_chunks_ = RecycledArray<std::atomic<uint64_t>>(
      ((nr_pages_ >> kTouchedChunkShift) + 64) / 64);
  const unsigned long nr_blocks = nr_pages_ >> cfg_.pageblock_order;
  pageblock_flags_ = RecycledArray<std::atomic<uint8_t>>(nr_blocks);
  for (unsigned long b = 0; b < nr_blocks; ++b) {
    pageblock_flags_[b].store(MIGRATE_MOVABLE, std::memory_order_relaxed);
  }
  unsigned long start = 0;
  static const char* const kNames[MAX_NR_ZONES] = {"Normal", "Movable"};
  for (int z = 0; z < nr_zones_; ++z) {
    zones_[z] = std::make_unique<Zone>(kernel_);
    Zone* zone = zones_[z].get();
    zone->name = kNames[z];
    zone->idx = z;
    zone->zone_start_pfn = start;
    zone->spanned_pages = spans[z];
    zone->managed_pages.store(static_cast<long>(spans[z]));
    for (int o = 0; o < kNrPageOrdersMax; ++o) {
      for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
        INIT_LIST_HEAD(&zone->free_area[o].free_list[mt]);
      }
    }
    INIT_LIST_HEAD(&zone->unaccepted_pages);
    Page fresh;
    fresh.zone = static_cast<uint8_t>(z);
    fresh.lru.next = fresh.lru.prev = nullptr;
    FillPages(&mem_map_[start], spans[z], fresh);
    start += spans[z];
  }
  const unsigned long mb =
      std::max<unsigned long>(cfg_.memory_block_pages, pageblock_nr_pages());
  cfg_.memory_block_pages = static_cast<uint32_t>(mb);
  block_offline_.assign((nr_pages_ + mb - 1) / mb, 0);
  setup_per_zone_wmarks();
  setup_per_zone_lowmem_reserve();
  for (int z = 0; z < nr_zones_; ++z) zone_pcp_init(zones_[z].get());
  build_zonelists();
  memblock_free_all();
  // The stack depot's boot pool (memblock) holds dummy_handle and
  // failure_handle (stack_depot_early_init / page_owner's init).
  depot_nr_pools_ = 1;
  static const char* const kDummy[] = {"dummy_stack"};
  static const char* const kFailure[] = {"failure_stack"};
  for (int i = 0; i < 2; ++i) {
    StackRecord* r = &depot_records_[i];
    r->hash = static_cast<uint32_t>(i + 1);
    r->size = 1;
    r->entries[0] = i == 0 ? kDummy[0] : kFailure[0];
    // Every field: the array may be a previous model's (TakeDepotRecords).
    r->count.store(kRefcountSaturated);
    r->nr_base_pages.store(0);
    r->hash_next.store(nullptr);
    r->handle.store(static_cast<uint32_t>(i + 1));
  }
  dummy_handle_ = 1;
  failure_handle_ = 2;
  depot_pool_offset_ = 2;
  // kvfree_rcu: one cached bulk page per CPU, as the page cache worker
  // (fill_page_cache_func, GFP_KERNEL) leaves it after boot.
  for (auto& krcp : krcp_) {
    RmqueueMode m = RMQUEUE_NORMAL;
    Page* p = __rmqueue(zones_[ZONE_NORMAL].get(), 0, MIGRATE_MOVABLE, 0, &m);
    if (p == nullptr) break;
    boot_mark_allocated(p, 0, PageOwnerKind::kKrcp);
    krcp->bkvcache[krcp->nr_bkv_objs++] = p;
  }
  boot_hold_memory(kernel_.config().mem_pressure);
}

// A block boot takes off the free lists for an owner that keeps it (no
// post_alloc_hook(): no page_owner record, no memcg charge).
void Mm::boot_mark_allocated(Page* p, unsigned order, PageOwnerKind owner) {
  NoteTouched(page_to_pfn(p));
  p->where = PageWhere::kAllocated;
  p->alloc_order = static_cast<uint8_t>(order);
  p->refcount = 1;
  p->flags |= PG_head;
  p->owner = owner;
}

// config(pressure=N): the machine starts with memory in use, as after a
// workload: kernel allocations (unmovable: no migration moves them) that
// nobody frees during the program. They come off ZONE_NORMAL's free lists,
// never from CMA or unaccepted memory. "Usable" free pages are those a
// GFP_KERNEL allocation could take without accepting memory: NR_FREE_PAGES
// less CMA and unaccepted pages.
//   1: usable free pages down to the promo watermark + 2 pageblocks
//      (largest blocks first), so a few allocations make
//      cond_accept_memory() accept memory;
//   2: down to the low watermark + 1 pageblock (kswapd wake-ups, boosts);
//   3: fragmented: the first half of every free pageblock is in use, so
//      half the memory is free but no block of pageblock order is: a
//      fallback steals a small block (boost_watermark()). No memory is left
//      unaccepted (memblock_free_all()).
void Mm::boot_hold_memory(int level) {
  if (level <= 0) return;
  Zone* zone = zones_[ZONE_NORMAL].get();
  const long pb = static_cast<long>(pageblock_nr_pages());
  long target = 0;
  if (level == 1) target = static_cast<long>(promo_wmark_pages(zone)) + 2 * pb;
  if (level == 2) target = static_cast<long>(low_wmark_pages(zone)) + pb;
  auto usable = [&] {
    return zone->vm_stat[NR_FREE_PAGES].load() -
           zone->vm_stat[NR_FREE_CMA_PAGES].load() -
           zone->vm_stat[NR_UNACCEPTED].load();
  };
  const int half = cfg_.pageblock_order - 1;
  for (int order = max_order_; order >= cfg_.pageblock_order; --order) {
    for (int mt = 0; mt < MIGRATE_PCPTYPES; ++mt) {
      ListHead* head = &zone->free_area[order].free_list[mt];
      while (head->next != head &&
             (level >= 3 || usable() - (1l << order) >= target)) {
        Page* p = reinterpret_cast<Page*>(head->next);
        page_del_and_expand(zone, p, order, order, mt);
        if (level < 3) {
          boot_mark_allocated(p, order, PageOwnerKind::kBoot);
          continue;
        }
        const unsigned long pfn = page_to_pfn(p);
        for (unsigned long b = pfn; b < pfn + (1ul << order); b += pb) {
          boot_mark_allocated(pfn_to_page(b), half, PageOwnerKind::kBoot);
          __free_one_page(pfn_to_page(b + pb / 2), b + pb / 2, zone, half, mt,
                          FPI_TO_TAIL);
        }
      }
    }
  }
}

// kernel: mm/page_alloc.c __setup_per_zone_wmarks() and
// calculate_min_free_kbytes(), v6.18 (the static spinlock and zone->lock it
// takes at run time are not needed at boot)
void Mm::setup_per_zone_wmarks() {
  unsigned long lowmem_pages = 0;
  for (int z = 0; z < nr_zones_; ++z) {
    if (z != ZONE_MOVABLE) lowmem_pages += zones_[z]->managed_pages.load();
  }
  const unsigned long lowmem_kbytes = lowmem_pages * 4;
  unsigned long min_free_kbytes = static_cast<unsigned long>(
      std::sqrt(static_cast<double>(lowmem_kbytes * 16)));
  min_free_kbytes = std::clamp<unsigned long>(min_free_kbytes, 128, 262144);
  const unsigned long pages_min = min_free_kbytes >> 2;
  for (int z = 0; z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    const unsigned long managed = zone->managed_pages.load();
    unsigned long min;
    if (z == ZONE_MOVABLE) {
      min = std::clamp<unsigned long>(managed / 1024, kSwapClusterMax, 128);
    } else {
      min = lowmem_pages ? pages_min * managed / lowmem_pages : 0;
    }
    const unsigned long step =
        std::max(min / 4, managed * kWatermarkScaleFactor / 10000);
    // WRITE_ONCE: also run after hotplug (setup_per_zone_wmarks_locked()),
    // while allocations read the marks without zone->lock (wmark_pages()).
    WRITE_ONCE(zone->_watermark[WMARK_MIN], min);
    WRITE_ONCE(zone->_watermark[WMARK_LOW], min + step);
    WRITE_ONCE(zone->_watermark[WMARK_HIGH], min + 2 * step);
    WRITE_ONCE(zone->_watermark[WMARK_PROMO], min + 3 * step);
    zone->watermark_boost.store(0);
  }
}

// kernel: mm/page_alloc.c setup_per_zone_lowmem_reserve(), v6.18
void Mm::setup_per_zone_lowmem_reserve() {
  for (int i = 0; i < nr_zones_; ++i) {
    Zone* zone = zones_[i].get();
    long managed = 0;
    for (int j = i + 1; j < nr_zones_; ++j) {
      managed += zones_[j]->managed_pages.load();
      // Rerun after hotplug; watermark checks read it without a lock.
      WRITE_ONCE(zone->lowmem_reserve[j], managed / kLowmemReserveRatio);
    }
  }
}

// kernel: mm/page_alloc.c zone_pcp_init() + zone_set_pageset_high_and_batch()
// (zone_highsize(): low watermark split over the CPUs, at least 4 batches)
void Mm::zone_pcp_init(Zone* zone) {
  const int ncpu = kernel_.nr_cpus();
  const int batch = std::max(cfg_.pcp_batch, 1);
  const long managed = zone->managed_pages.load();
  zone->pageset_batch = batch;
  zone->pageset_high_min =
      std::max(static_cast<int>(zone->_watermark[WMARK_LOW] / ncpu), batch * 4);
  zone->pageset_high_max =
      std::max(static_cast<int>(managed / 8 / ncpu), batch * 4);
  zone->per_cpu_pageset.reserve(ncpu);
  for (int c = 0; c < ncpu; ++c) {
    auto pcp = std::make_unique<PerCpuPages>(kernel_);
    pcp->cpu = c;
    pcp->batch = batch;
    pcp->high_min = zone->pageset_high_min;
    pcp->high_max = zone->pageset_high_max;
    pcp->high = pcp->high_min;
    for (ListHead& l : pcp->lists) INIT_LIST_HEAD(&l);
    zone->per_cpu_pageset.push_back(std::move(pcp));
  }
}

// kernel: mm/memblock.c memblock_free_all() -> __free_pages_core(), and
// mm/cma.c init_cma_reserved_pageblock(), mm/page_alloc.c __free_unaccepted()
void Mm::memblock_free_all() {
  const unsigned long pb = pageblock_nr_pages();
  for (int z = 0; z < nr_zones_; ++z) {
    Zone* zone = zones_[z].get();
    unsigned long end = zone->zone_start_pfn + zone->spanned_pages;
    if (z == ZONE_NORMAL) {
      // Unaccepted memory at the end of ZONE_NORMAL (always leave one chunk
      // accepted).
      // config(pressure=3), memory full, boots as accept_memory=eager: an
      // allocation accepting a fresh max-order block would undo it.
      const unsigned long chunks =
          kernel_.config().mem_pressure >= 3
              ? 0
              : std::min<unsigned long>(
                    cfg_.unaccepted_chunks,
                    zone->spanned_pages / MAX_ORDER_NR_PAGES() - 1);
      for (unsigned long c = 0; c < chunks; ++c) {
        end -= MAX_ORDER_NR_PAGES();
        Page* page = pfn_to_page(end);
        page->flags |= PG_unaccepted;
        page->where = PageWhere::kUnaccepted;
        list_add(&page->lru, &zone->unaccepted_pages);
        account_freepages(zone, MAX_ORDER_NR_PAGES(), MIGRATE_MOVABLE);
        zone->vm_stat[NR_UNACCEPTED].add(MAX_ORDER_NR_PAGES());
      }
      // The CMA area at the end of the accepted part.
      const unsigned long cma_pages = std::min<unsigned long>(
          cfg_.cma_pages / pb * pb, (end - zone->zone_start_pfn) / 2 / pb * pb);
      if (cma_pages > 0) {
        cma_ = std::make_unique<Cma>(kernel_);
        cma_->base_pfn = end - cma_pages;
        cma_->count = cma_pages;
        cma_->available_count = cma_pages;
        cma_->bitmap.assign(cma_pages, 0);
        for (unsigned long pfn = cma_->base_pfn; pfn < end; pfn += pb) {
          set_pageblock_migratetype(pfn_to_page(pfn), MIGRATE_CMA);
        }
      }
    }
    // memblock_free_pages() hands the buddy allocator MAX_ORDER chunks;
    // the model frees the largest aligned run of pageblocks of one
    // migratetype at a time. That ends in the same free lists, in the same
    // order, as freeing pageblock by pageblock and merging, with far fewer
    // merges (a fuzz target boots a model per input).
    for (unsigned long pfn = zone->zone_start_pfn; pfn < end;) {
      Page* page = pfn_to_page(pfn);
      const int mt = get_pfnblock_migratetype(page, pfn);
      unsigned order = cfg_.pageblock_order;
      while (order < static_cast<unsigned>(max_order_)) {
        const unsigned long size = 2ul << order;
        if ((pfn & (size - 1)) != 0 || pfn + size > end) break;
        bool uniform = true;
        for (unsigned long q = pfn + (size >> 1); q < pfn + size; q += pb) {
          uniform =
              uniform && get_pfnblock_migratetype(pfn_to_page(q), q) == mt;
        }
        if (!uniform) break;
        ++order;
      }
      __free_one_page(page, pfn, zone, order, mt, FPI_TO_TAIL);
      pfn += 1ul << order;
    }
  }
}

// ---------------------------------------------------------------------------
// Pageblocks

// kernel: mm/page_alloc.c get_pfnblock_migratetype(), v6.18
// MIGRATE_ISOLATE is a separate bit (PB_migrate_isolate, 6.16+) that keeps
// the block's own migratetype for when the isolation is undone.
int Mm::get_pfnblock_migratetype(const Page* page, unsigned long pfn) const {
  const uint8_t v = pageblock_flags_[pfn >> cfg_.pageblock_order].load(
      std::memory_order_relaxed);
  return (v & kPbIsolateBit) ? MIGRATE_ISOLATE : (v & 0x7);
}

// kernel: mm/page_alloc.c set_pageblock_migratetype(), v6.18 (setting
// MIGRATE_ISOLATE sets the isolate bit; any other type clears it)
void Mm::set_pageblock_migratetype(Page* page, int migratetype) {
  std::atomic<uint8_t>& f =
      pageblock_flags_[page_to_pfn(page) >> cfg_.pageblock_order];
  if (migratetype == MIGRATE_ISOLATE) {
    f.store(f.load(std::memory_order_relaxed) | kPbIsolateBit,
            std::memory_order_relaxed);
  } else {
    f.store(static_cast<uint8_t>(migratetype), std::memory_order_relaxed);
  }
}

// The migratetype under the isolate bit.
int Mm::get_pageblock_saved_migratetype(unsigned long pfn) const {
  return pageblock_flags_[pfn >> cfg_.pageblock_order].load(
             std::memory_order_relaxed) &
         0x7;
}

// kernel: mm/page_alloc.c change_pageblock_range(), v6.18
void Mm::change_pageblock_range(Page* pageblock_page, int start_order,
                                int migratetype) {
  int nr_pageblocks = 1 << (start_order - cfg_.pageblock_order);
  while (nr_pageblocks--) {
    set_pageblock_migratetype(pageblock_page, migratetype);
    pageblock_page += pageblock_nr_pages();
  }
}

// ---------------------------------------------------------------------------
// Free lists (all under zone->lock)

// kernel: mm/page_alloc.c account_freepages(), v6.18
void Mm::account_freepages(Zone* zone, long nr_pages, int migratetype) {
  if (is_migrate_isolate(migratetype)) return;
  zone->vm_stat[NR_FREE_PAGES].add(nr_pages);
  if (is_migrate_cma(migratetype)) {
    zone->vm_stat[NR_FREE_CMA_PAGES].add(nr_pages);
  } else if (is_migrate_highatomic(migratetype)) {
    zone->nr_free_highatomic.add(nr_pages);
  }
}

// kernel: mm/page_alloc.c set_buddy_order()
void Mm::set_buddy_order(Page* page, unsigned order) {
  WRITE_ONCE(page->private_order, static_cast<uint8_t>(order));
  page->SetFlags(PG_buddy);
  WRITE_ONCE(page->where, PageWhere::kBuddy);
}

// kernel: mm/page_alloc.c __add_to_free_list(), v6.18
void Mm::__add_to_free_list(Page* page, Zone* zone, unsigned order,
                            int migratetype, bool tail) {
  FreeArea* area = &zone->free_area[order];
  if (tail) {
    list_add_tail(&page->lru, &area->free_list[migratetype]);
  } else {
    list_add(&page->lru, &area->free_list[migratetype]);
  }
  area->nr_free.add(1);
  area->nr_mt[migratetype].add(1);
  if (order >= static_cast<unsigned>(cfg_.pageblock_order) &&
      !is_migrate_isolate(migratetype)) {
    zone->vm_stat[NR_FREE_PAGES_BLOCKS].add(1l << order);
  }
}

// kernel: mm/page_alloc.c __del_page_from_free_list(), v6.18
void Mm::__del_page_from_free_list(Page* page, Zone* zone, unsigned order,
                                   int migratetype) {
  FreeArea* area = &zone->free_area[order];
  list_del(&page->lru);
  page->ClearFlags(PG_buddy);
  WRITE_ONCE(page->private_order, uint8_t{0});
  WRITE_ONCE(page->where, PageWhere::kNone);
  area->nr_free.add(-1);
  area->nr_mt[migratetype].add(-1);
  if (order >= static_cast<unsigned>(cfg_.pageblock_order) &&
      !is_migrate_isolate(migratetype)) {
    zone->vm_stat[NR_FREE_PAGES_BLOCKS].add(-(1l << order));
  }
}

// kernel: mm/page_alloc.c del_page_from_free_list(), v6.18
void Mm::del_page_from_free_list(Page* page, Zone* zone, unsigned order,
                                 int migratetype) {
  __del_page_from_free_list(page, zone, order, migratetype);
  account_freepages(zone, -(1l << order), migratetype);
}

// kernel: mm/page_alloc.c move_to_free_list(), v6.18
void Mm::move_to_free_list(Page* page, Zone* zone, unsigned order, int old_mt,
                           int new_mt) {
  FreeArea* area = &zone->free_area[order];
  list_move_tail(&page->lru, &area->free_list[new_mt]);
  area->nr_mt[old_mt].add(-1);
  area->nr_mt[new_mt].add(1);
  account_freepages(zone, -(1l << order), old_mt);
  account_freepages(zone, 1l << order, new_mt);
  if (order >= static_cast<unsigned>(cfg_.pageblock_order) &&
      is_migrate_isolate(old_mt) != is_migrate_isolate(new_mt)) {
    zone->vm_stat[NR_FREE_PAGES_BLOCKS].add(
        is_migrate_isolate(new_mt) ? -(1l << order) : (1l << order));
  }
}

// kernel: mm/page_alloc.c get_page_from_free_area()
Page* Mm::get_page_from_free_area(FreeArea* area, int migratetype) {
  ListHead* l = &area->free_list[migratetype];
  if (list_empty(l)) return nullptr;
  return reinterpret_cast<Page*>(l->next);  // lru is the first member
}

static_assert(offsetof(Page, lru) == 0);

// kernel: mm/internal.h find_buddy_page_pfn() + page_is_buddy()
Page* Mm::find_buddy_page_pfn(Page* page, unsigned long pfn, unsigned order,
                              unsigned long* buddy_pfn) {
  const unsigned long bpfn = pfn ^ (1ul << order);
  if (bpfn >= nr_pages_) return nullptr;
  Page* buddy = pfn_to_page(bpfn);
  if (!buddy->PageBuddy() || buddy->private_order != order) return nullptr;
  if (buddy->zone != page->zone) return nullptr;
  if (buddy_pfn) *buddy_pfn = bpfn;
  return buddy;
}

// kernel: mm/page_alloc.c __free_one_page(), v6.18
void Mm::__free_one_page(Page* page, unsigned long pfn, Zone* zone,
                         unsigned order, int migratetype, fpi_t fpi_flags) {
  unsigned long buddy_pfn = 0;
  account_freepages(zone, 1l << order, migratetype);
  while (order < static_cast<unsigned>(max_order_)) {
    int buddy_mt = migratetype;
    Page* buddy = find_buddy_page_pfn(page, pfn, order, &buddy_pfn);
    if (!buddy) break;
    if (order >= static_cast<unsigned>(cfg_.pageblock_order)) {
      // No merging between pageblocks without fallbacks (CMA, ISOLATE,
      // HIGHATOMIC) and normal pageblocks.
      buddy_mt = get_pfnblock_migratetype(buddy, buddy_pfn);
      if (migratetype != buddy_mt && (!migratetype_is_mergeable(migratetype) ||
                                      !migratetype_is_mergeable(buddy_mt))) {
        break;
      }
    }
    __del_page_from_free_list(buddy, zone, order, buddy_mt);
    if (buddy_mt != migratetype) {
      // Match buddy type, so expand() puts the sub-blocks on the right
      // freelists. The kernel's buddy here is one pageblock (pageblock_order
      // is MAX_PAGE_ORDER - 1 there); the model's pageblocks are smaller, so
      // a buddy above pageblock order spans several: retype all of them, or
      // the later ones keep the old type while the merged block sits on
      // this type's list (found by reentry stress: a later free deleted it
      // from the wrong list and the list and its counter diverged).
      change_pageblock_range(buddy, order, migratetype);
    }
    const unsigned long combined_pfn = buddy_pfn & pfn;
    page = page + (static_cast<long>(combined_pfn) - static_cast<long>(pfn));
    pfn = combined_pfn;
    ++order;
  }
  set_buddy_order(page, order);
  // buddy_merge_likely() is approximated by FPI_TO_TAIL only.
  __add_to_free_list(page, zone, order, migratetype,
                     (fpi_flags & FPI_TO_TAIL) != 0);
}

// kernel: mm/page_alloc.c expand(), v6.18 (no guard pages)
unsigned Mm::expand(Zone* zone, Page* page, int low, int high,
                    int migratetype) {
  unsigned long size = 1ul << high;
  unsigned nr_added = 0;
  while (high > low) {
    --high;
    size >>= 1;
    __add_to_free_list(&page[size], zone, high, migratetype, false);
    set_buddy_order(&page[size], high);
    nr_added += size;
  }
  return nr_added;
}

// kernel: mm/page_alloc.c page_del_and_expand(), v6.18
void Mm::page_del_and_expand(Zone* zone, Page* page, int low, int high,
                             int migratetype) {
  long nr_pages = 1l << high;
  __del_page_from_free_list(page, zone, high, migratetype);
  nr_pages -= expand(zone, page, low, high, migratetype);
  account_freepages(zone, -nr_pages, migratetype);
}

// kernel: mm/page_alloc.c __rmqueue_smallest(), v6.18
Page* Mm::__rmqueue_smallest(Zone* zone, unsigned order, int migratetype) {
  for (int current_order = order; current_order <= max_order_;
       ++current_order) {
    FreeArea* area = &zone->free_area[current_order];
    Page* page = get_page_from_free_area(area, migratetype);
    if (!page) continue;
    page_del_and_expand(zone, page, order, current_order, migratetype);
    return page;
  }
  return nullptr;
}

// kernel: mm/page_alloc.c __rmqueue_cma_fallback()
Page* Mm::__rmqueue_cma_fallback(Zone* zone, unsigned order) {
  return __rmqueue_smallest(zone, order, MIGRATE_CMA);
}

// kernel: mm/page_alloc.c __move_freepages_block(), v6.18
int Mm::__move_freepages_block(Zone* zone, unsigned long start_pfn, int old_mt,
                               int new_mt) {
  const unsigned long end_pfn = start_pfn + pageblock_nr_pages();
  int pages_moved = 0;
  for (unsigned long pfn = start_pfn; pfn < end_pfn;) {
    Page* page = pfn_to_page(pfn);
    if (!page->PageBuddy()) {
      ++pfn;
      continue;
    }
    const unsigned order = page->private_order;
    move_to_free_list(page, zone, order, old_mt, new_mt);
    pfn += 1ul << order;
    pages_moved += 1 << order;
  }
  return pages_moved;
}

// kernel: mm/page_alloc.c prep_move_freepages_block(), v6.18
bool Mm::prep_move_freepages_block(Zone* zone, Page* page,
                                   unsigned long* start_pfn, int* num_free,
                                   int* num_movable) {
  const unsigned long pfn = page_to_pfn(page);
  const unsigned long start = pfn & ~(pageblock_nr_pages() - 1);
  const unsigned long end = start + pageblock_nr_pages();
  *start_pfn = start;
  if (!zone->zone_spans_pfn(start) || !zone->zone_spans_pfn(end - 1)) {
    return false;
  }
  if (num_free) {
    *num_free = 0;
    *num_movable = 0;
    for (unsigned long p = start; p < end;) {
      Page* pg = pfn_to_page(p);
      if (pg->PageBuddy()) {
        const int nr = 1 << pg->private_order;
        *num_free += nr;
        p += nr;
        continue;
      }
      // PageLRU / __PageMovable: the model marks movable allocations.
      // Racy reads of a page its owner may be changing, as the kernel's
      // (PageLRU() and folio_order() without a reference).
      if (READ_ONCE(pg->where) == PageWhere::kAllocated &&
          (READ_ONCE(pg->flags) & PG_lru)) {
        const unsigned order = READ_ONCE(pg->alloc_order);
        *num_movable += 1 << order;
        p += 1ul << order;
        continue;
      }
      ++p;
    }
  }
  return true;
}

// kernel: mm/page_alloc.c move_freepages_block(), v6.18
int Mm::move_freepages_block(Zone* zone, Page* page, int old_mt, int new_mt) {
  unsigned long start_pfn;
  if (!prep_move_freepages_block(zone, page, &start_pfn, nullptr, nullptr)) {
    return -1;
  }
  const int res = __move_freepages_block(zone, start_pfn, old_mt, new_mt);
  set_pageblock_migratetype(pfn_to_page(start_pfn), new_mt);
  return res;
}

// kernel: mm/page_alloc.c boost_watermark(), v6.18
bool Mm::boost_watermark(Zone* zone) {
  if (pageblock_nr_pages() * 4 >
      static_cast<unsigned long>(zone->managed_pages.load())) {
    return false;
  }
  unsigned long max_boost =
      READ_ONCE(zone->_watermark[WMARK_HIGH]) * kWatermarkBoostFactor / 10000;
  if (!max_boost) return false;
  max_boost = std::max(pageblock_nr_pages(), max_boost);
  zone->watermark_boost.store(
      std::min(zone->watermark_boost.load() + pageblock_nr_pages(), max_boost));
  ++st().boosts;
  return true;
}

// kernel: mm/page_alloc.c should_try_claim_block(), v6.15+
bool Mm::should_try_claim_block(unsigned order, int start_mt) const {
  if (order >= static_cast<unsigned>(cfg_.pageblock_order)) return true;
  if (order >= static_cast<unsigned>(cfg_.pageblock_order) / 2) return true;
  if (start_mt == MIGRATE_RECLAIMABLE || start_mt == MIGRATE_UNMOVABLE) {
    return true;
  }
  return false;
}

// kernel: mm/page_alloc.c find_suitable_fallback(), v6.15+
int Mm::find_suitable_fallback(FreeArea* area, unsigned order, int migratetype,
                               bool claimable) {
  if (claimable && !should_try_claim_block(order, migratetype)) return -2;
  if (area->nr_free.load() == 0) return -1;
  for (int i = 0; i < MIGRATE_PCPTYPES - 1; ++i) {
    const int fallback_mt = kFallbacks[migratetype][i];
    if (!area->free_area_empty(fallback_mt)) return fallback_mt;
  }
  return -1;
}

// kernel: mm/page_alloc.c try_to_claim_block(), v6.15+
// (steal_suitable_fallback() before 6.15: BZ-11 is the 5.0 version of this
// function)
Page* Mm::try_to_claim_block(Zone* zone, Page* page, int current_order,
                             int order, int start_type, int block_type,
                             unsigned alloc_flags) {
  inject(PointId::kStealFallback);
  // Take ownership for orders >= pageblock_order.
  if (current_order >= cfg_.pageblock_order) {
    del_page_from_free_list(page, zone, current_order, block_type);
    change_pageblock_range(page, current_order, start_type);
    const unsigned nr_added =
        expand(zone, page, order, current_order, start_type);
    account_freepages(zone, nr_added, start_type);
    return page;
  }
  // Boost watermarks to increase reclaim pressure; wake kswapd later.
  if (boost_watermark(zone) && (alloc_flags & ALLOC_KSWAPD)) {
    if (bug(BugId::kBz11)) {
      // BZ-11 (pre-73444bc4d8f9): wake kswapd right here, zone->lock held.
      wakeup_kswapd(zone, 0, 0, zone->idx);
    } else {
      zone->set_bit(ZONE_BOOSTED_WATERMARK);
    }
  }
  unsigned long start_pfn;
  int free_pages = 0;
  int movable_pages = 0;
  if (!prep_move_freepages_block(zone, page, &start_pfn, &free_pages,
                                 &movable_pages)) {
    return nullptr;
  }
  int alike_pages;
  if (start_type == MIGRATE_MOVABLE) {
    alike_pages = movable_pages;
  } else if (block_type == MIGRATE_MOVABLE) {
    alike_pages =
        static_cast<int>(pageblock_nr_pages()) - (free_pages + movable_pages);
  } else {
    alike_pages = 0;
  }
  if (free_pages + alike_pages >= (1 << (cfg_.pageblock_order - 1))) {
    __move_freepages_block(zone, start_pfn, block_type, start_type);
    set_pageblock_migratetype(pfn_to_page(start_pfn), start_type);
    return __rmqueue_smallest(zone, order, start_type);
  }
  return nullptr;
}

// kernel: mm/page_alloc.c __rmqueue_claim(), v6.15+
Page* Mm::__rmqueue_claim(Zone* zone, int order, int start_migratetype,
                          unsigned alloc_flags) {
  int min_order = order;
  if (order < cfg_.pageblock_order && (alloc_flags & ALLOC_NOFRAGMENT)) {
    min_order = cfg_.pageblock_order;
  }
  for (int current_order = max_order_; current_order >= min_order;
       --current_order) {
    FreeArea* area = &zone->free_area[current_order];
    const int fallback_mt =
        find_suitable_fallback(area, current_order, start_migratetype, true);
    if (fallback_mt == -1) continue;
    if (fallback_mt == -2) break;
    Page* page = get_page_from_free_area(area, fallback_mt);
    page = try_to_claim_block(zone, page, current_order, order,
                              start_migratetype, fallback_mt, alloc_flags);
    if (page) return page;
  }
  return nullptr;
}

// kernel: mm/page_alloc.c __rmqueue_steal(), v6.15+
Page* Mm::__rmqueue_steal(Zone* zone, int order, int start_migratetype) {
  for (int current_order = order; current_order <= max_order_;
       ++current_order) {
    FreeArea* area = &zone->free_area[current_order];
    const int fallback_mt =
        find_suitable_fallback(area, current_order, start_migratetype, false);
    if (fallback_mt == -1) continue;
    Page* page = get_page_from_free_area(area, fallback_mt);
    page_del_and_expand(zone, page, order, current_order, fallback_mt);
    return page;
  }
  return nullptr;
}

// kernel: mm/page_alloc.c __rmqueue(), v6.15+
Page* Mm::__rmqueue(Zone* zone, unsigned order, int migratetype,
                    unsigned alloc_flags, RmqueueMode* mode) {
  Page* page;
  // Balance movable allocations between regular and CMA areas.
  if ((alloc_flags & ALLOC_CMA) &&
      zone_page_state(zone, NR_FREE_CMA_PAGES) >
          zone_page_state(zone, NR_FREE_PAGES) / 2) {
    page = __rmqueue_cma_fallback(zone, order);
    if (page) return page;
  }
  switch (*mode) {
    case RMQUEUE_NORMAL:
      page = __rmqueue_smallest(zone, order, migratetype);
      if (page) return page;
      [[fallthrough]];
    case RMQUEUE_CMA:
      if (alloc_flags & ALLOC_CMA) {
        page = __rmqueue_cma_fallback(zone, order);
        if (page) {
          *mode = RMQUEUE_CMA;
          return page;
        }
      }
      [[fallthrough]];
    case RMQUEUE_CLAIM:
      page = __rmqueue_claim(zone, order, migratetype, alloc_flags);
      if (page) {
        *mode = RMQUEUE_NORMAL;
        return page;
      }
      [[fallthrough]];
    case RMQUEUE_STEAL:
      if (!(alloc_flags & ALLOC_NOFRAGMENT)) {
        page = __rmqueue_steal(zone, order, migratetype);
        if (page) {
          *mode = RMQUEUE_STEAL;
          return page;
        }
      }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// Watermarks (read without zone->lock: relaxed loads)

// __zone_watermark_unusable_free() and zone_watermark_fast() are inline in
// mm.h.

// kernel: mm/page_alloc.c __zone_watermark_ok(), v6.18
bool Mm::__zone_watermark_ok(Zone* z, unsigned order, unsigned long mark,
                             int highest_zoneidx, unsigned alloc_flags,
                             long free_pages) {
  long min = static_cast<long>(mark);
  free_pages -= __zone_watermark_unusable_free(z, order, alloc_flags);
  if (alloc_flags & ALLOC_RESERVES) {
    if (alloc_flags & ALLOC_MIN_RESERVE) {
      min -= min / 2;
      if (alloc_flags & ALLOC_NON_BLOCK) min -= min / 4;
    }
    if (alloc_flags & ALLOC_OOM) min -= min / 2;
  }
  if (free_pages <= min + READ_ONCE(z->lowmem_reserve[highest_zoneidx])) {
    return false;
  }
  if (!order) return true;
  for (int o = order; o <= max_order_; ++o) {
    FreeArea* area = &z->free_area[o];
    if (!area->nr_free.load()) continue;
    for (int mt = 0; mt < MIGRATE_PCPTYPES; ++mt) {
      if (!area->free_area_empty(mt)) return true;
    }
    if ((alloc_flags & ALLOC_CMA) && !area->free_area_empty(MIGRATE_CMA)) {
      return true;
    }
    if ((alloc_flags & (ALLOC_HIGHATOMIC | ALLOC_OOM)) &&
        !area->free_area_empty(MIGRATE_HIGHATOMIC)) {
      return true;
    }
  }
  return false;
}

// kernel: mm/page_alloc.c zone_watermark_ok()
bool Mm::zone_watermark_ok(Zone* z, unsigned order, unsigned long mark,
                           int highest_zoneidx, unsigned alloc_flags) {
  return __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags,
                             zone_page_state(z, NR_FREE_PAGES));
}

// ---------------------------------------------------------------------------
// Highatomic reserve

// kernel: mm/page_alloc.c reserve_highatomic_pageblock(), mm tree 2026
// (guard(spinlock_irqsave)(&zone->lock): non-try, BZ-28a)
void Mm::reserve_highatomic_pageblock(Page* page, int order, Zone* zone) {
  REENTRY_KFUNC();
  const unsigned long managed = zone->managed_pages.load();
  if (managed / 100 < pageblock_nr_pages()) return;
  const unsigned long pb = pageblock_nr_pages();
  const unsigned long max_managed = (managed / 100 + pb - 1) / pb * pb;
  if (zone->nr_reserved_highatomic.load() >= max_managed) return;
  IrqFlags flags = locks::spin_lock_irqsave(zone->lock);
  inject(PointId::kReserveHighatomicZoneLocked);
  if (zone->nr_reserved_highatomic.load() < max_managed) {
    const int mt = get_pageblock_migratetype(page);
    if (migratetype_is_mergeable(mt)) {
      if (order < cfg_.pageblock_order) {
        if (move_freepages_block(zone, page, mt, MIGRATE_HIGHATOMIC) != -1) {
          zone->nr_reserved_highatomic.add(pb);
          ++st().highatomic_reserved;
        }
      } else {
        change_pageblock_range(page, order, MIGRATE_HIGHATOMIC);
        zone->nr_reserved_highatomic.add(1ul << order);
        ++st().highatomic_reserved;
      }
    }
  }
  locks::spin_unlock_irqrestore(zone->lock, flags);
}

// kernel: mm/page_alloc.c unreserve_highatomic_pageblock(), v6.18
bool Mm::unreserve_highatomic_pageblock(const AllocContext* ac, bool force) {
  REENTRY_KFUNC();
  bool ret = false;
  for (int i = 0; i < ac->nr_zones; ++i) {
    Zone* zone = ac->zonelist[i];
    const unsigned long pb = pageblock_nr_pages();
    if (!force && zone->nr_reserved_highatomic.load() <= pb) continue;
    IrqFlags flags = locks::spin_lock_irqsave(zone->lock);
    inject(PointId::kUnreserveHighatomicZoneLocked);
    for (int order = 0; order <= max_order_ && !ret; ++order) {
      FreeArea* area = &zone->free_area[order];
      Page* page = get_page_from_free_area(area, MIGRATE_HIGHATOMIC);
      if (!page) continue;
      const unsigned long size = std::max<unsigned long>(pb, 1ul << order);
      if (force || zone->nr_reserved_highatomic.load() > pb) {
        zone->nr_reserved_highatomic.store(
            zone->nr_reserved_highatomic.load() -
            std::min(size, zone->nr_reserved_highatomic.load()));
      }
      if (order < cfg_.pageblock_order) {
        ret = move_freepages_block(zone, page, MIGRATE_HIGHATOMIC,
                                   ac->migratetype) != -1;
      } else {
        move_to_free_list(page, zone, order, MIGRATE_HIGHATOMIC,
                          ac->migratetype);
        change_pageblock_range(page, order, ac->migratetype);
        ret = true;
      }
    }
    locks::spin_unlock_irqrestore(zone->lock, flags);
    if (ret) return ret;
  }
  return ret;
}

}  // namespace reentry::mm
