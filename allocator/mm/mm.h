// The page allocator model: one node (pgdat) with ZONE_NORMAL and optionally
// ZONE_MOVABLE, the buddy allocator, per-CPU page lists, the slow path with
// modelled reclaim/compaction/OOM, the nolock API (final design and the Dec
// 2024 v2 __GFP_TRYLOCK design), and the neighbours that take locks on the
// way: page_owner + stack depot, memcg charging, unaccepted memory,
// fail_page_alloc, printk/console, CMA and alloc_contig_range, pageblock
// isolation, memory and CPU hotplug, kvfree_rcu, kswapd and shrinkers.
//
// Every member function that models a kernel function has the kernel's name
// and a provenance line. Everything is allocated when the model is built:
// no path an (emulated) interrupt can reach allocates. The code runs on the
// current vCPU (ctx::this_cpu()), as kernel code runs on `current`.
//
// Bug-zoo switches (BugSet) change exactly what the historical bug changed;
// see bug_zoo.md and the BZ-xx comments at each switch.
#ifndef REENTRY_ALLOCATOR_MM_MM_H_
#define REENTRY_ALLOCATOR_MM_MM_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/compiler.h"
#include "allocator/base/finding.h"
#include "allocator/base/recycle.h"
#include "allocator/base/rng.h"
#include "allocator/ctx/kernel.h"
#include "allocator/locks/locks.h"
#include "allocator/mm/gfp_helpers.h"
#include "allocator/mm/mm_types.h"

namespace reentry::mm {

using ctx::Cpu;
using ctx::IrqFlags;
using ctx::Kernel;
using ctx::PointId;

// struct free_area
// The lists are protected by zone->lock; the counts are also read without it
// (watermark checks read nr_free and free_area_empty() racily, as the kernel
// does), so they are relaxed atomics.
struct FreeArea {
  ListHead free_list[MIGRATE_TYPES];
  Once<unsigned long> nr_free;
  Once<unsigned long> nr_mt[MIGRATE_TYPES];  // blocks per list
  bool free_area_empty(int mt) const { return nr_mt[mt].load() == 0; }
};

// per_cpu_pages->flags
inline constexpr uint8_t PCPF_PREV_FREE_HIGH_ORDER = 1u << 0;
inline constexpr uint8_t PCPF_FREE_HIGH_BATCH = 1u << 1;

// struct per_cpu_pages
struct PerCpuPages : Recycled {
  explicit PerCpuPages(Kernel& k) : lock(k, "&pcp->lock") {}
  locks::Spinlock lock;  // protects lists, count, ...
  int cpu = 0;
  int count = 0;
  int high = 0;
  int high_min = 0;
  int high_max = 0;
  int batch = 0;
  uint8_t flags = 0;
  uint8_t alloc_factor = 0;
  int free_count = 0;
  ListHead lists[NR_PCP_LISTS];
};

// struct zone (the fields the model needs)
struct Zone : Recycled {
  explicit Zone(Kernel& k) : lock(k, "&zone->lock") {}
  const char* name = "";
  int idx = 0;
  unsigned long zone_start_pfn = 0;
  unsigned long spanned_pages = 0;
  Once<long> managed_pages;
  unsigned long _watermark[NR_WMARK] = {};
  Once<unsigned long> watermark_boost;
  Once<unsigned long> nr_reserved_highatomic;
  Once<long> nr_free_highatomic;
  long lowmem_reserve[MAX_NR_ZONES] = {};
  RecycledVector<std::unique_ptr<PerCpuPages>> per_cpu_pageset;  // [cpu]
  int pageset_high_min = 0;
  int pageset_high_max = 0;
  int pageset_batch = 0;
  int pcp_disabled = 0;  // zone_pcp_disable() nesting
  FreeArea free_area[kNrPageOrdersMax];
  ListHead unaccepted_pages;
  std::atomic<unsigned long> flags{0};
  locks::Spinlock lock;  // "Primarily protects free_area"
  std::atomic<Page*> trylock_free_pages{nullptr};  // struct llist_head
  Once<long> vm_stat[NR_ZONE_STAT_ITEMS];
  int nr_isolate_pageblock = 0;

  bool test_bit(int b) const { return flags.load() & (1ul << b); }
  void set_bit(int b) { flags.fetch_or(1ul << b); }
  void clear_bit(int b) { flags.fetch_and(~(1ul << b)); }
  bool test_and_clear_bit(int b) {
    return flags.fetch_and(~(1ul << b)) & (1ul << b);
  }
  bool zone_spans_pfn(unsigned long pfn) const {
    return pfn >= zone_start_pfn && pfn < zone_start_pfn + spanned_pages;
  }
};

// task_struct->flags the model uses
inline constexpr uint32_t PF_MEMALLOC = 0x00000800;
inline constexpr uint32_t PF_MEMALLOC_NOFS = 0x00040000;
inline constexpr uint32_t PF_MEMALLOC_NOIO = 0x00080000;
inline constexpr uint32_t PF_MEMALLOC_PIN = 0x10000000;
inline constexpr uint32_t PF_WQ_WORKER = 0x00000020;

// The task running on a vCPU: `current` (interrupts on that vCPU see the
// task they interrupted, as in the kernel).
struct Task : Recycled {
  explicit Task(Kernel& k)
      : mems_allowed_seq(k, "&p->mems_allowed_seq", false) {}
  uint32_t flags = 0;
  bool in_page_owner = false;  // current->in_page_owner
  bool oom_victim = false;     // tsk_is_oom_victim(current)
  int nofs_depth = 0;
  uint32_t nofs_saved[8] = {};
  locks::Seqlock mems_allowed_seq;  // seqcount_spinlock_t
};

// A program page slot: what p0..p31 hold.
enum class SlotKind : uint8_t { kEmpty, kPages, kCma };
struct Slot {
  SlotKind kind = SlotKind::kEmpty;
  Page* page = nullptr;
  uint8_t order = 0;      // kPages
  uint32_t nr = 0;        // pages: 1 << order, or the cma_alloc count
  bool released = false;  // freed by the program while pinned: a pin holds it
};
inline constexpr int kMaxSlots = 32;

// --- stack depot (lib/stackdepot.c) ---
inline constexpr int DEPOT_POOL_ORDER = 1;      // kernel: 2; smaller zones
inline constexpr int kDepotRecordsPerPool = 8;  // records that fit a pool
inline constexpr int kDepotMaxPools = 16;       // DEPOT_MAX_POOLS
inline constexpr int kDepotStackDepth = 16;
inline constexpr uint32_t kRefcountSaturated = 0xc0000000u;
struct StackRecord {
  std::atomic<uint32_t> handle{0};  // 0 until published
  uint32_t hash = 0;
  uint8_t size = 0;
  const char* entries[kDepotStackDepth] = {};
  std::atomic<uint32_t> count{kRefcountSaturated};
  std::atomic<long> nr_base_pages{0};
  std::atomic<StackRecord*> hash_next{nullptr};
};

// --- memcg (mm/memcontrol.c) ---
inline constexpr unsigned MEMCG_CHARGE_BATCH = 8;  // kernel: 64
struct MemcgStockPcp {
  unsigned nr_pages = 0;
  bool cached = false;  // stock->cached == the (single) memcg
};

// --- kvfree_rcu (kernel/rcu/tree.c / mm/slab_common.c) ---
inline constexpr int KVFREE_BULK_MAX_ENTR = 4;  // records per block page
inline constexpr int kKrcpCacheMax = 2;         // rcu_min_cached_objs
struct KfreeRcuCpu : Recycled {
  explicit KfreeRcuCpu(Kernel& k) : lock(k, "&krcp->lock") {}
  locks::RawSpinlock lock;
  Page* bkvhead = nullptr;  // current bulk block page
  int nr_records = 0;
  Page* gp_pending = nullptr;  // a full block waiting for its grace period
  Page* bkvcache[kKrcpCacheMax] = {};
  int nr_bkv_objs = 0;
  long head_fallbacks = 0;  // objects queued through their rcu_head
};

// --- CMA (mm/cma.c) ---
struct Cma : Recycled {
  Cma(Kernel& k) : lock(k, "&cma->lock"), alloc_mutex(k, "&cma->alloc_mutex") {}
  unsigned long base_pfn = 0;
  unsigned long count = 0;
  RecycledVector<uint8_t> bitmap;  // one bit per page (order_per_bit 0)
  unsigned long available_count = 0;
  locks::Spinlock lock;
  locks::Mutex alloc_mutex;
};

// A registered shrinker: takes one program lock in scan_objects().
struct Shrinker {
  locks::LockBase* lock = nullptr;
};

// Counters a test or the benchmark can read. Kept per CPU (each vCPU only
// touches its own, so stress threads never race on them) and summed by
// Mm::stats().
struct MmStats {
  uint64_t pgalloc = 0;
  uint64_t pgfree = 0;
  uint64_t pcp_refills = 0;
  uint64_t pcp_trylock_failed = 0;
  uint64_t zone_trylock_failed = 0;
  uint64_t llist_deferred = 0;
  uint64_t llist_drained = 0;
  uint64_t slowpath = 0;
  uint64_t kswapd_wakeups = 0;
  uint64_t oom_kills = 0;
  uint64_t highatomic_reserved = 0;
  uint64_t boosts = 0;
  uint64_t accepted_chunks = 0;
  uint64_t bad_pages = 0;
  uint64_t nolock_failed = 0;
  uint64_t charge_failed = 0;
  uint64_t migrated = 0;
  uint64_t depot_pools = 0;
  uint64_t printk_lines = 0;
  uint64_t printk_deferred = 0;
  uint64_t fail_injected = 0;
  uint64_t retry_budget_exhausted = 0;
  uint64_t cma_busy = 0;

  void Add(const MmStats& o);
};

// struct alloc_context
struct AllocContext {
  int highest_zoneidx = ZONE_NORMAL;
  int migratetype = MIGRATE_UNMOVABLE;
  Zone* zonelist[MAX_NR_ZONES] = {};  // preferred first, then fallbacks
  int nr_zones = 0;
  bool spread_dirty_pages = false;
};

class Mm {
 public:
  Mm(Kernel& kernel, BugSet bugs, const MmConfig& config = MmConfig());
  ~Mm();
  Mm(const Mm&) = delete;
  Mm& operator=(const Mm&) = delete;

  Kernel& kernel() const { return kernel_; }
  const MmConfig& config() const { return cfg_; }
  BugSet bugs() const { return bugs_; }
  bool bug(BugId b) const { return bugs_.has(b); }
  MmStats stats() const;

  // A program lock declared with the class name of a lock the model takes
  // from outside the allocator becomes that lock, so a program can hold it
  // (and deadlock for real): "&port->lock" (spinlock_t: the console
  // driver's port lock), "&rq->__lock" and "&p->pi_lock" (raw_spinlock_t:
  // the scheduler locks try_to_wake_up() takes when waking kswapd).
  void AdoptProgramLocks(std::span<locks::LockBase* const> test_locks);

  // --- Geometry ---
  int max_page_order() const { return max_order_; }
  int pageblock_order() const { return cfg_.pageblock_order; }
  unsigned long pageblock_nr_pages() const {
    return 1ul << cfg_.pageblock_order;
  }
  unsigned long MAX_ORDER_NR_PAGES() const { return 1ul << max_order_; }
  unsigned long nr_pages() const { return nr_pages_; }
  int nr_zones() const { return nr_zones_; }
  Zone& zone(int i) { return *zones_[i]; }
  const Zone& zone(int i) const { return *zones_[i]; }
  Page* pfn_to_page(unsigned long pfn) { return &mem_map_[pfn]; }
  const Page* pfn_to_page(unsigned long pfn) const { return &mem_map_[pfn]; }
  unsigned long page_to_pfn(const Page* p) const {
    return static_cast<unsigned long>(p - mem_map_.get());
  }
  Zone* page_zone(const Page* p) const { return zones_[p->zone].get(); }
  PerCpuPages* pcp(Zone* z, int cpu) { return z->per_cpu_pageset[cpu].get(); }
  Cma* cma() { return cma_.get(); }
  Task& current() { return *tasks_[ctx::this_cpu().id()]; }
  Task& task(int cpu) { return *tasks_[cpu]; }
  unsigned long zone_page_state(const Zone* z, ZoneStatItem i) const {
    const long v = z->vm_stat[i].load();
    return v < 0 ? 0 : static_cast<unsigned long>(v);
  }
  // Read without zone->lock, as the kernel's wmark_pages(); hotplug rewrites
  // the marks (setup_per_zone_wmarks_locked()).
  unsigned long wmark_pages(const Zone* z, int w) const {
    return READ_ONCE(z->_watermark[w]) + z->watermark_boost.load();
  }
  unsigned long min_wmark_pages(const Zone* z) const {
    return wmark_pages(z, WMARK_MIN);
  }
  unsigned long low_wmark_pages(const Zone* z) const {
    return wmark_pages(z, WMARK_LOW);
  }
  unsigned long high_wmark_pages(const Zone* z) const {
    return wmark_pages(z, WMARK_HIGH);
  }
  unsigned long promo_wmark_pages(const Zone* z) const {
    return wmark_pages(z, WMARK_PROMO);
  }

  // ===== Entry points (include/linux/gfp.h) =====
  Page* alloc_pages(gfp_t gfp, unsigned order);
  void __free_pages(Page* page, unsigned order);
  Page* alloc_pages_nolock(gfp_t gfp_flags, int nid, unsigned order);
  void free_pages_nolock(Page* page, unsigned order);
  // Fills the empty (nullptr) entries of page_array[0..nr_pages); returns the
  // number of populated entries.
  unsigned long alloc_pages_bulk(gfp_t gfp, int nr_pages, Page** page_array);
  // v2 (Dec 2024): try_alloc_pages() as an inline wrapper of alloc_pages().
  Page* try_alloc_pages(gfp_t gfp_flags, unsigned order);

  // ===== Draining, hotplug, neighbours =====
  void drain_local_pages(Zone* zone);
  void drain_all_pages(Zone* zone);
  void page_alloc_cpu_dead(int cpu);
  void build_all_zonelists();
  // Offlines the highest online memory block; returns 0, -EBUSY or -EINTR.
  int offline_pages_op();
  // Offlines the memory block holding page (the program picks a block).
  int offline_memory_block_of(Page* page);
  int offline_pages(unsigned long start_pfn, unsigned long nr_pages);
  // Onlines the lowest offline memory block; returns 0 or -EINVAL.
  int online_pages_op();
  int online_pages(unsigned long pfn, unsigned long nr_pages);
  Page* cma_alloc(unsigned long count, unsigned align, bool no_warn);
  bool cma_release(Page* pages, unsigned long count);
  void kvfree_call_rcu();
  void printk(const char* text);
  void kswapd_run();
  bool register_shrinker(locks::LockBase* lock);
  uint32_t memalloc_nofs_save();
  void memalloc_nofs_restore(uint32_t flags);
  // pin_user_pages(FOLL_PIN[|FOLL_LONGTERM]) on an allocated block; a
  // long-term pin first migrates the block out of CMA/ZONE_MOVABLE.
  // Returns the (possibly migrated) head, or nullptr if pinning failed.
  Page* pin_user_pages(Page* page, bool longterm);
  void unpin_user_page(Page* page);
  void put_page(Page* page);  // drops a reference; frees at zero
  void fail_page_alloc_setup(int interval, int times);

  // ===== Program slots (p0..p31) =====
  Slot& slot(int i) { return slots_[i]; }
  // Stores a newly allocated block in slot i. A block already there stays
  // allocated as an orphan (the program overwrote its pointer); teardown
  // returns it, so it is not reported as a leak.
  void SlotStore(int i, Page* page, unsigned order);
  void SlotStoreCma(int i, Page* page, unsigned long count);
  void SlotClear(int i);
  // Slot ownership for one op: fails if an interrupted frame on this vCPU
  // (or another stress thread) is using the slot; the op then does nothing.
  bool SlotTryBegin(int i);
  void SlotEnd(int i);

  // ===== Invariants =====
  // Checks page conservation, buddy shape, list membership and accounting;
  // reports findings. Returns false (checks nothing) unless Quiescent().
  // Never takes a lock: callable from outside any vCPU.
  bool CheckInvariants();
  // Teardown, on a vCPU in task context: returns every page the program
  // holds (slots, orphans, pins) with normal frees, drains pcp lists and the
  // deferred llist, then checks that every page is back: what is not is
  // leaked.
  void Teardown();
  // True if no allocator lock is held and no deferred work is in flight.
  bool Quiescent() const;

  // Which chunks of kTouchedChunkPages pages may hold the head of an
  // allocated block or an offline page: teardown and the invariant check
  // scan these pages only, not all of mem_map (they run once per fuzz
  // input). A bit is set before the page becomes allocated or offline and
  // stays set until the model is destroyed.
  static constexpr int kTouchedChunkShift = 6;
  bool IsTouched(unsigned long pfn) const {
    const unsigned long chunk = pfn >> kTouchedChunkShift;
    return touched_chunks_[chunk / 64].load(std::memory_order_relaxed) &
           (uint64_t{1} << (chunk % 64));
  }
  void NoteTouched(unsigned long pfn) {
    // Test first: once set, the hot path pays a load, not a locked RMW.
    if (IsTouched(pfn)) return;
    const unsigned long chunk = pfn >> kTouchedChunkShift;
    touched_chunks_[chunk / 64].fetch_or(uint64_t{1} << (chunk % 64),
                                         std::memory_order_relaxed);
  }
  void NoteTouchedRange(unsigned long pfn, unsigned long nr);
  static std::unique_ptr<Page[]> TakeMemMap(unsigned long nr_pages);
  static std::unique_ptr<StackRecord[]> TakeDepotRecords();
  void boot_hold_memory(int level);
  void boot_mark_allocated(Page* p, unsigned order, PageOwnerKind owner);
  // Calls f(pfn, page) for every page of every touched chunk, in pfn order.
  template <typename F>
  void ForEachTouchedPage(F&& f) {
    const unsigned long chunks =
        (nr_pages_ + (1ul << kTouchedChunkShift) - 1) >> kTouchedChunkShift;
    for (unsigned long w = 0; w * 64 < chunks; ++w) {
      // A chunk an interrupt touches while f runs may be missed: Teardown
      // scans again until a round finds nothing.
      for (uint64_t bits = touched_chunks_[w].load(std::memory_order_relaxed);
           bits != 0; bits &= bits - 1) {
        const unsigned long chunk = w * 64 + __builtin_ctzll(bits);
        const unsigned long first = chunk << kTouchedChunkShift;
        const unsigned long last =
            std::min(nr_pages_, first + (1ul << kTouchedChunkShift));
        for (unsigned long pfn = first; pfn < last; ++pfn) {
          f(pfn, &mem_map_[pfn]);
        }
      }
    }
  }

  // Calls f(pfn, head) for the head of every allocated block that starts in
  // a touched chunk, in pfn order, stepping over allocated and free blocks
  // whole (Teardown's scans; CheckInvariants looks at every page). f may
  // free the block: the next pfn is read first.
  template <typename F>
  void ForEachTouchedAllocatedBlock(F&& f) {
    const unsigned long chunks =
        (nr_pages_ + (1ul << kTouchedChunkShift) - 1) >> kTouchedChunkShift;
    unsigned long pfn = 0;
    for (unsigned long w = 0; w * 64 < chunks; ++w) {
      for (uint64_t bits = touched_chunks_[w].load(std::memory_order_relaxed);
           bits != 0; bits &= bits - 1) {
        const unsigned long chunk = w * 64 + __builtin_ctzll(bits);
        const unsigned long last =
            std::min(nr_pages_, (chunk + 1) << kTouchedChunkShift);
        pfn = std::max(pfn, chunk << kTouchedChunkShift);
        while (pfn < last) {
          Page* p = &mem_map_[pfn];
          if (p->where == PageWhere::kAllocated) {
            const unsigned long next = pfn + (1ul << p->alloc_order);
            f(pfn, p);
            pfn = next;
          } else if (p->PageBuddy()) {
            pfn += 1ul << p->private_order;
          } else {
            ++pfn;
          }
        }
      }
    }
  }

  // ===== Nolock entry bookkeeping for the checker events =====
  void nolock_enter(Cpu& cpu, const char* fn);
  void nolock_exit(Cpu& cpu, const char* fn);

  // ===== Test access (unit tests only) =====
  // A deliberately broken free: puts the block straight on a buddy list at
  // the wrong order, bypassing every check (the invariants must catch it).
  void TestOnlyBrokenFree(Page* page, unsigned order);
  unsigned long TestOnlyFreePagesInBuddy(const Zone* z) const;
  int TestOnlyPcpCount(int zone, int cpu) {
    return pcp(zones_[zone].get(), cpu)->count;
  }
  long TestOnlyMemcgUsage() const { return memcg_usage_.load(); }
  unsigned long TestOnlyLlistPages(const Zone* z) const;
  void TestOnlySetShrinkerLock(locks::LockBase* l) { register_shrinker(l); }
  // Allocated or offline pages outside every touched chunk (NoteTouched):
  // pages teardown and the invariant check would not see. Must be 0.
  unsigned long TestOnlyPagesOutsideTouchedChunks() const;
  // Takes a free block of this order off its buddy list and puts it
  // nowhere: a lost block (the invariants must catch it). Returns its pfn.
  unsigned long TestOnlyLoseFreeBlock(unsigned order);

  // ===== Buddy core (mm/page_alloc.c) — public for the unit tests =====
  int get_pfnblock_migratetype(const Page* page, unsigned long pfn) const;
  int get_pageblock_migratetype(const Page* page) const {
    return get_pfnblock_migratetype(page, page_to_pfn(page));
  }
  void set_pageblock_migratetype(Page* page, int migratetype);
  int get_pageblock_saved_migratetype(unsigned long pfn) const;
  static constexpr uint8_t kPbIsolateBit = 0x80;
  Page* __rmqueue_smallest(Zone* zone, unsigned order, int migratetype);
  void __free_one_page(Page* page, unsigned long pfn, Zone* zone,
                       unsigned order, int migratetype, fpi_t fpi_flags);
  bool __zone_watermark_ok(Zone* z, unsigned order, unsigned long mark,
                           int highest_zoneidx, unsigned alloc_flags,
                           long free_pages);
  bool zone_watermark_ok(Zone* z, unsigned order, unsigned long mark,
                         int highest_zoneidx, unsigned alloc_flags);
  inline bool zone_watermark_fast(Zone* z, unsigned order, unsigned long mark,
                                  int highest_zoneidx, unsigned alloc_flags,
                                  gfp_t gfp_mask);
  unsigned gfp_to_alloc_flags(gfp_t gfp_mask, unsigned order);
  inline bool can_spin_trylock() const;
  void reserve_highatomic_pageblock(Page* page, int order, Zone* zone);
  bool unreserve_highatomic_pageblock(const AllocContext* ac, bool force);

 private:
  // --- construction (page_alloc.cc) ---
  void BuildZones();
  void setup_per_zone_wmarks();
  void setup_per_zone_lowmem_reserve();
  void zone_pcp_init(Zone* zone);
  void memblock_free_all();

  // --- allocation: gfp and context (alloc.cc) ---
  Page* __alloc_frozen_pages_noprof(gfp_t gfp, unsigned order,
                                    unsigned alloc_flags);
  bool prepare_alloc_pages(gfp_t gfp_mask, unsigned order, AllocContext* ac,
                           gfp_t* alloc_gfp, unsigned* alloc_flags);
  gfp_t current_gfp_context(gfp_t flags);
  int gfp_zone(gfp_t flags) const;
  // Reports invalid masks (kGfpMisuse) and returns the mask the kernel's
  // fallback goes on with.
  // The inline checks below pass the common, valid case straight through and
  // leave every report to their out-of-line *Slow halves.
  inline gfp_t CheckGfpMisuse(gfp_t gfp, unsigned order, bool nolock,
                              bool* fail);
  gfp_t CheckGfpMisuseSlow(gfp_t gfp, unsigned order, bool nolock, bool* fail);
  inline bool CheckFreeContext(const char* what);
  REENTRY_COLD bool CheckFreeContextSlow(const char* what);
  inline bool AllocContextForbidden(gfp_t gfp, unsigned order);
  REENTRY_COLD bool AllocContextForbiddenSlow(gfp_t gfp, unsigned order);
  void EmitMightAlloc(gfp_t gfp, unsigned order) {
    if (kernel_.observed()) EmitMightAllocSlow(gfp, order);
  }
  void EmitMightAllocSlow(gfp_t gfp, unsigned order);
  void might_alloc(gfp_t gfp_mask);
  void fs_reclaim_acquire(gfp_t gfp_mask) {
    if (kernel_.observed()) fs_reclaim_acquire_slow(gfp_mask);
  }
  void fs_reclaim_release(gfp_t gfp_mask) {
    if (kernel_.observed()) fs_reclaim_release_slow(gfp_mask);
  }
  // Lockdep annotations only: nothing to do without an observer.
  void fs_reclaim_acquire_slow(gfp_t gfp_mask);
  void fs_reclaim_release_slow(gfp_t gfp_mask);
  bool __need_reclaim(gfp_t gfp_mask);
  unsigned gfp_to_alloc_flags_cma(gfp_t gfp_mask, unsigned alloc_flags);
  unsigned __gfp_pfmemalloc_flags(gfp_t gfp_mask);
  bool alloc_nolock_allowed(unsigned order) const;
  void GfpWarn(const char* site, gfp_t gfp, int order, const char* what,
               bool respect_nowarn);
  Page* AllocNolockCommon(gfp_t gfp_flags, unsigned order, bool v2);

  // --- fast path ---
  Page* get_page_from_freelist(gfp_t gfp_mask, unsigned order,
                               unsigned alloc_flags, AllocContext* ac);
  Page* rmqueue(Zone* preferred_zone, Zone* zone, unsigned order,
                gfp_t gfp_flags, unsigned alloc_flags, int migratetype);
  inline Page* rmqueue_pcplist(Zone* preferred_zone, Zone* zone, unsigned order,
                               int migratetype, unsigned alloc_flags);
  Page* __rmqueue_pcplist(Zone* zone, unsigned order, int migratetype,
                          unsigned alloc_flags, PerCpuPages* pcp,
                          ListHead* list);
  int rmqueue_bulk(Zone* zone, unsigned order, unsigned long count,
                   ListHead* list, int migratetype, unsigned alloc_flags);
  Page* rmqueue_buddy(Zone* preferred_zone, Zone* zone, unsigned order,
                      unsigned alloc_flags, int migratetype);
  bool ZoneLockForAlloc(Zone* zone, unsigned alloc_flags, IrqFlags* flags,
                        const char* fn);
  int nr_pcp_alloc(PerCpuPages* pcp, Zone* zone, int order);
  inline PerCpuPages* pcp_spin_trylock(Zone* zone);
  REENTRY_COLD void PcpTrylockFailed(Cpu& cpu);
  inline void pcp_spin_unlock(PerCpuPages* pcp);
  void prep_new_page(Page* page, unsigned order, gfp_t gfp_flags,
                     unsigned alloc_flags);
  void post_alloc_hook(Page* page, unsigned order, gfp_t gfp_flags);

  // --- buddy ---
  enum RmqueueMode {
    RMQUEUE_NORMAL,
    RMQUEUE_CMA,
    RMQUEUE_CLAIM,
    RMQUEUE_STEAL
  };
  Page* __rmqueue(Zone* zone, unsigned order, int migratetype,
                  unsigned alloc_flags, RmqueueMode* mode);
  Page* __rmqueue_cma_fallback(Zone* zone, unsigned order);
  Page* __rmqueue_claim(Zone* zone, int order, int start_migratetype,
                        unsigned alloc_flags);
  Page* __rmqueue_steal(Zone* zone, int order, int start_migratetype);
  int find_suitable_fallback(FreeArea* area, unsigned order, int migratetype,
                             bool claimable);
  bool should_try_claim_block(unsigned order, int start_mt) const;
  Page* try_to_claim_block(Zone* zone, Page* page, int current_order, int order,
                           int start_type, int block_type,
                           unsigned alloc_flags);
  bool boost_watermark(Zone* zone);
  bool prep_move_freepages_block(Zone* zone, Page* page,
                                 unsigned long* start_pfn, int* num_free,
                                 int* num_movable);
  int __move_freepages_block(Zone* zone, unsigned long start_pfn, int old_mt,
                             int new_mt);
  int move_freepages_block(Zone* zone, Page* page, int old_mt, int new_mt);
  void change_pageblock_range(Page* pageblock_page, int start_order,
                              int migratetype);
  unsigned expand(Zone* zone, Page* page, int low, int high, int migratetype);
  void page_del_and_expand(Zone* zone, Page* page, int low, int high,
                           int migratetype);
  void account_freepages(Zone* zone, long nr_pages, int migratetype);
  void __add_to_free_list(Page* page, Zone* zone, unsigned order,
                          int migratetype, bool tail);
  void __del_page_from_free_list(Page* page, Zone* zone, unsigned order,
                                 int migratetype);
  void del_page_from_free_list(Page* page, Zone* zone, unsigned order,
                               int migratetype);
  void move_to_free_list(Page* page, Zone* zone, unsigned order, int old_mt,
                         int new_mt);
  Page* get_page_from_free_area(FreeArea* area, int migratetype);
  Page* find_buddy_page_pfn(Page* page, unsigned long pfn, unsigned order,
                            unsigned long* buddy_pfn);
  void set_buddy_order(Page* page, unsigned order);
  inline long __zone_watermark_unusable_free(Zone* z, unsigned order,
                                             unsigned alloc_flags);

  // --- free path (pcp.cc) ---
  void __free_frozen_pages(Page* page, unsigned order, fpi_t fpi_flags);
  // The body of __free_frozen_pages(), inlined into the free entry points.
  inline void FreeFrozenPages(Page* page, unsigned order, fpi_t fpi_flags);
  // (inline: defined and used in pcp.cc only)
  inline void ___free_pages(Page* page, unsigned order, fpi_t fpi_flags);
  void __free_pages_ok(Page* page, unsigned order, fpi_t fpi_flags);
  inline bool __free_pages_prepare(Page* page, unsigned order, fpi_t fpi_flags);
  inline bool free_page_is_bad(Page* page, unsigned order, const char* fn);
  REENTRY_COLD bool free_page_is_bad_slow(Page* page, unsigned order,
                                          const char* fn);
  void bad_page(Page* page, const char* reason, const char* fn);
  inline bool free_frozen_page_commit(Zone* zone, PerCpuPages* pcp, Page* page,
                                      int migratetype, unsigned order,
                                      fpi_t fpi_flags);
  int nr_pcp_high(PerCpuPages* pcp, Zone* zone, int batch, bool free_high);
  int nr_pcp_free(PerCpuPages* pcp, int batch, int high, bool free_high);
  void free_pcppages_bulk(Zone* zone, int count, PerCpuPages* pcp, int pindex);
  void free_one_page(Zone* zone, Page* page, unsigned long pfn, unsigned order,
                     fpi_t fpi_flags);
  void split_large_buddy(Zone* zone, Page* page, unsigned long pfn, int order,
                         fpi_t fpi);
  void add_page_to_zone_llist(Zone* zone, Page* page, unsigned order);
  void MarkFreed(Page* page, unsigned order);

  // --- drain ---
  void drain_pages_zone(int cpu, Zone* zone);
  void drain_pages(int cpu);
  void __drain_all_pages(Zone* zone, bool force_all_cpus);
  void zone_pcp_disable(Zone* zone);
  void zone_pcp_enable(Zone* zone);

  // --- slow path, reclaim (reclaim.cc) ---
  Page* __alloc_pages_slowpath(gfp_t gfp_mask, unsigned order,
                               AllocContext* ac);
  Page* __alloc_pages_direct_reclaim(gfp_t gfp_mask, unsigned order,
                                     unsigned alloc_flags, AllocContext* ac,
                                     unsigned long* did_some_progress);
  unsigned long __perform_reclaim(gfp_t gfp_mask, unsigned order,
                                  const AllocContext* ac);
  Page* __alloc_pages_direct_compact(gfp_t gfp_mask, unsigned order,
                                     unsigned alloc_flags, AllocContext* ac);
  Page* __alloc_pages_may_oom(gfp_t gfp_mask, unsigned order, AllocContext* ac,
                              unsigned long* did_some_progress);
  Page* __alloc_pages_cpuset_fallback(gfp_t gfp_mask, unsigned order,
                                      unsigned alloc_flags, AllocContext* ac);
  bool out_of_memory(gfp_t gfp_mask, unsigned order);
  bool should_reclaim_retry(gfp_t gfp_mask, unsigned order, AllocContext* ac,
                            unsigned alloc_flags, bool did_some_progress,
                            int* no_progress_loops);
  unsigned read_mems_allowed_begin();
  bool read_mems_allowed_retry(unsigned seq);
  unsigned zonelist_iter_begin();
  bool check_retry_zonelist(unsigned seq);
  void wake_all_kswapds(unsigned order, gfp_t gfp_mask, const AllocContext* ac);
  void wakeup_kswapd(Zone* zone, gfp_t gfp_flags, int order,
                     int highest_zoneidx);
  void try_to_wake_up_kswapd();
  bool pgdat_balanced(int order, int highest_zoneidx);
  unsigned long shrink_slab(gfp_t gfp_mask);
  unsigned long try_to_free_pages(gfp_t gfp_mask, unsigned order);
  void balance_pgdat(int order, int highest_zoneidx);
  void warn_alloc(gfp_t gfp_mask, const char* what, unsigned order);
  void ReportLivelock(const char* fn, const char* what, gfp_t gfp, int order,
                      uint64_t cause);
  void schedule_timeout_on(const locks::ExclusiveLock& lock);

  // --- zonelists ---
  void __build_all_zonelists();
  void build_zonelists();

  // --- hooks (hooks.cc) ---
  void set_page_owner(Page* page, unsigned order, gfp_t gfp_mask);
  void __reset_page_owner(Page* page, unsigned order);
  uint32_t save_stack(gfp_t flags);
  uint32_t stack_depot_save(const char* const* entries, unsigned nr_entries,
                            gfp_t alloc_flags);
  StackRecord* find_stack(uint32_t bucket, const char* const* entries,
                          unsigned nr_entries, uint32_t hash);
  StackRecord* depot_alloc_stack(const char* const* entries,
                                 unsigned nr_entries, uint32_t hash,
                                 Page** prealloc);
  bool depot_keep_new_pool(Page** prealloc);
  void inc_stack_record_count(uint32_t handle, gfp_t gfp_mask,
                              int nr_base_pages);
  void dec_stack_record_count(uint32_t handle, int nr_base_pages);
  void add_stack_record_to_list(StackRecord* stack_record, gfp_t gfp_mask);
  bool should_fail_alloc_page(gfp_t gfp_mask, unsigned order) {
    if (fail_times_.load() == 0) return false;  // fail_page_alloc is off
    return should_fail_alloc_page_slow(gfp_mask, order);
  }
  bool should_fail_alloc_page_slow(gfp_t gfp_mask, unsigned order);
  bool should_fail_ex(unsigned long size, bool nowarn);
  uint32_t get_random_u32_below(uint32_t ceil);
  inline bool cond_accept_memory(Zone* zone, unsigned order,
                                 unsigned alloc_flags);
  bool cond_accept_memory_slow(Zone* zone, long to_accept);
  bool try_to_accept_memory_one(Zone* zone);
  void __accept_page(Zone* zone, IrqFlags* flags, Page* page);
  void accept_memory(unsigned long start_pfn, unsigned long nr);
  int __memcg_kmem_charge_page(Page* page, gfp_t gfp, unsigned order);
  void __memcg_kmem_uncharge_page(Page* page, unsigned order);
  int try_charge_memcg(gfp_t gfp_mask, unsigned nr_pages);
  bool consume_stock(unsigned nr_pages, gfp_t gfp_mask);
  void refill_stock(unsigned nr_pages);
  bool page_counter_try_charge(unsigned long nr_pages);
  void page_counter_uncharge(unsigned long nr_pages);
  void printk_deferred_enter();
  void printk_deferred_exit();
  void dump_page(Page* page, const char* reason);

  // --- isolation, migration, CMA, hotplug (contig.cc) ---
  int start_isolate_page_range(unsigned long start_pfn, unsigned long end_pfn,
                               bool mem_offline);
  void undo_isolate_page_range(unsigned long start_pfn, unsigned long end_pfn);
  int set_migratetype_isolate(Page* page, bool mem_offline,
                              unsigned long start_pfn, unsigned long end_pfn);
  void unset_migratetype_isolate(Page* page);
  Page* has_unmovable_pages(unsigned long start_pfn, unsigned long end_pfn,
                            bool mem_offline);
  int test_pages_isolated(unsigned long start_pfn, unsigned long end_pfn);
  int alloc_contig_range(unsigned long start, unsigned long end, gfp_t gfp);
  int __alloc_contig_migrate_range(unsigned long start, unsigned long end);
  unsigned long isolate_freepages_range(unsigned long start_pfn,
                                        unsigned long end_pfn);
  // held_slot: a slot the caller's op already holds (SlotTryBegin); any
  // other owner slot is claimed for the migration, or it backs off (-EBUSY).
  int migrate_page_block(Page* page, bool avoid_movable, int held_slot = -1);
  void free_contig_range(unsigned long pfn, unsigned long nr_pages);
  void cma_clear_bitmap(unsigned long pfn, unsigned long count);
  unsigned long __offline_isolated_pages(unsigned long start_pfn,
                                         unsigned long end_pfn);
  void mem_hotplug_begin();
  void mem_hotplug_done();
  Page* BlockHead(unsigned long pfn);  // head of the block containing pfn
  bool pageblock_isolate_and_move_free_pages(Zone* zone, Page* page);
  void pageblock_unisolate_and_move_free_pages(Zone* zone, Page* page);
  void setup_per_zone_wmarks_locked();
  int migrate_pages_range(unsigned long start, unsigned long end,
                          bool* found_movable);

  // --- kvfree_rcu ---
  Page* get_cached_bnode(KfreeRcuCpu* krcp);
  bool put_cached_bnode(KfreeRcuCpu* krcp, Page* bnode);

  // ctx::injection_point() when someone (an executor, a stress runner) can
  // fire interrupts there; a load and a branch otherwise.
  void inject(PointId p) {
    if (kernel_.hooks() != nullptr) ctx::injection_point(p);
  }

  // --- reporting helpers ---
  void ReportMm(FindingKind kind, const char* fn, uint64_t cause,
                const char* detail);
  MmStats& st() { return stats_[ctx::this_cpu().id()]; }

  // ===== State =====
  Kernel& kernel_;
  BugSet bugs_;
  MmConfig cfg_;
  int max_order_ = kMaxPageOrderLimit;
  unsigned long nr_pages_ = 0;
  int nr_zones_ = 0;
  std::unique_ptr<Page[]> mem_map_;
  RecycledArray<std::atomic<uint64_t>> touched_chunks_;  // NoteTouched
  RecycledArray<std::atomic<uint8_t>> pageblock_flags_;  // per pageblock mt
  std::unique_ptr<Zone> zones_[MAX_NR_ZONES];
  RecycledVector<std::unique_ptr<Task>> tasks_;
  RecycledVector<MmStats> stats_;

  // Zonelists and hotplug.
  locks::Seqlock zonelist_update_seq_;
  std::atomic<int> zonelist_order_[MAX_NR_ZONES] = {};  // read racily
  locks::Mutex pcp_batch_high_lock_;
  locks::Mutex pcpu_drain_mutex_;
  locks::Mutex mem_hotplug_lock_;  // percpu_rwsem in the kernel (writer side)
  RecycledVector<uint8_t> block_offline_;  // per memory block
  RecycledVector<uint8_t> cpu_dead_;

  // Reclaim and kswapd (pglist_data).
  locks::Spinlock kswapd_wait_;     // pgdat->kswapd_wait.lock
  locks::RawSpinlock own_pi_lock_;  // kswapd's p->pi_lock
  locks::RawSpinlock own_rq_lock_;  // its runqueue's rq->__lock
  locks::RawSpinlock* pi_lock_;
  locks::RawSpinlock* rq_lock_;
  locks::LockdepMap fs_reclaim_map_;
  locks::Mutex oom_lock_;
  std::atomic<bool> kswapd_running_{false};
  Once<int> kswapd_order_;
  Once<int> kswapd_highest_zoneidx_{MAX_NR_ZONES};
  Once<int> kswapd_failures_;
  Once<bool> kswapd_wake_pending_;
  Shrinker shrinkers_[8];
  std::atomic<int> nr_shrinkers_{0};

  // printk / console.
  locks::LockdepMap console_owner_;
  locks::Spinlock own_port_lock_;
  locks::Spinlock* port_lock_;
  RecycledVector<int> printk_deferred_;  // per CPU printk_context

  // Stack depot and page_owner.
  locks::RawSpinlock pool_lock_;
  locks::Spinlock stack_list_lock_;
  std::unique_ptr<StackRecord[]> depot_records_;  // kDepotMaxPools * per pool
  Page* depot_pools_[kDepotMaxPools] = {};
  std::atomic<int> depot_nr_pools_{0};
  int depot_pool_offset_ = 0;  // records used in the current pool
  std::atomic<Page*> depot_new_pool_{nullptr};
  static constexpr int kDepotBuckets = 64;
  std::atomic<StackRecord*> depot_table_[kDepotBuckets] = {};
  StackRecord* stack_list_[kDepotMaxPools * kDepotRecordsPerPool] = {};
  int stack_list_len_ = 0;
  uint32_t dummy_handle_ = 0;
  uint32_t failure_handle_ = 0;

  // memcg.
  locks::LocalLock memcg_stock_lock_;
  RecycledVector<MemcgStockPcp> memcg_stock_;
  std::atomic<long> memcg_usage_{0};
  long memcg_max_ = 0;

  // fail_page_alloc.
  Once<int> fail_interval_{1};
  Once<int> fail_times_{0};
  std::atomic<unsigned long> fail_count_{0};
  locks::LocalLock batched_entropy_lock_;
  RecycledVector<Rng> rng_;  // per CPU batched entropy

  // Unaccepted memory.
  locks::Spinlock unaccepted_memory_lock_;

  // CMA.
  std::unique_ptr<Cma> cma_;

  // kvfree_rcu.
  RecycledVector<std::unique_ptr<KfreeRcuCpu>> krcp_;

  // Program slots.
  Slot slots_[kMaxSlots];
  std::atomic<bool> slot_busy_[kMaxSlots] = {};
};

// ---------------------------------------------------------------------------
// Inline fast paths shared by several .cc files (pcp.cc, alloc.cc,
// page_alloc.cc, hooks.cc hold the rest).

// kernel: mm/page_alloc.c pcp_spin_trylock() / pcpu_spin_trylock(), mm tree
// 2026: pin the task to the CPU (pcpu_task_pin(): preempt_disable, or
// migrate_disable on RT), then spin_trylock(&pcp->lock). "May fail due to a
// parallel drain or IRQ reentrancy". The model folds the pin into the
// spin_trylock's own preempt_disable/migrate_disable: no injection point lies
// between the two, so nothing can observe the difference. On !SMP the 2026
// tree never uses the pcp (NULL).
REENTRY_ALWAYS_INLINE PerCpuPages* Mm::pcp_spin_trylock(Zone* zone) {
  Cpu& cpu = ctx::this_cpu();
  if (!cpu.config().smp) return nullptr;
  PerCpuPages* pcp = zone->per_cpu_pageset[cpu.id()].get();
  if (REENTRY_UNLIKELY(!locks::spin_trylock(pcp->lock, "pcp_spin_trylock"))) {
    PcpTrylockFailed(cpu);
    return nullptr;
  }
  return pcp;
}

// kernel: mm/page_alloc.c pcp_spin_unlock() (spin_unlock + pcpu_task_unpin)
REENTRY_ALWAYS_INLINE void Mm::pcp_spin_unlock(PerCpuPages* pcp) {
  locks::spin_unlock(pcp->lock, "pcp_spin_unlock");
}

// kernel: mm/page_alloc.c can_spin_trylock(), mm tree 2026 (BZ-02: without
// the PREEMPT_RT clause)
inline bool Mm::can_spin_trylock() const {
  const Cpu& cpu = ctx::this_cpu();
  if (cpu.config().preempt_rt && (cpu.in_nmi() || cpu.in_hardirq()) &&
      !bug(BugId::kBz02)) {
    return false;
  }
  if (!cpu.config().smp && cpu.in_nmi()) return false;
  return true;
}

inline gfp_t Mm::CheckGfpMisuse(gfp_t gfp, unsigned order, bool nolock,
                                bool* fail) {
  // Nothing to warn about and nothing to drop (CheckGfpMisuseSlow lists the
  // cases).
  const bool clean =
      nolock ? (gfp & ~gfp::__GFP_ACCOUNT) == 0
             : order <= static_cast<unsigned>(max_order_) &&
                   !(gfp & (gfp::__GFP_TRYLOCK | gfp::__GFP_NOFAIL)) &&
                   (gfp & GFP_MOVABLE_MASK) != GFP_MOVABLE_MASK;
  if (REENTRY_LIKELY(clean)) {
    *fail = false;
    return gfp;
  }
  return CheckGfpMisuseSlow(gfp, order, nolock, fail);
}

// Contexts where the allocator's spinning locks may not be taken at all:
// NMI, and hardirq on PREEMPT_RT (spinlock_t sleeps there).
REENTRY_ALWAYS_INLINE bool SpinningForbidden(const Cpu& cpu) {
  return cpu.in_nmi() || (cpu.config().preempt_rt && cpu.in_hardirq());
}

inline bool Mm::CheckFreeContext(const char* what) {
  if (REENTRY_LIKELY(!SpinningForbidden(ctx::this_cpu()))) return true;
  return CheckFreeContextSlow(what);
}

inline bool Mm::AllocContextForbidden(gfp_t gfp, unsigned order) {
  if (REENTRY_LIKELY(!SpinningForbidden(ctx::this_cpu()))) return false;
  return AllocContextForbiddenSlow(gfp, order);
}

// kernel: mm/page_alloc.c __zone_watermark_unusable_free(), v6.18
inline long Mm::__zone_watermark_unusable_free(Zone* z, unsigned order,
                                               unsigned alloc_flags) {
  long unusable_free = (1l << order) - 1;
  if (!(alloc_flags & ALLOC_RESERVES)) {
    unusable_free += z->nr_free_highatomic.load();
  }
  if (!(alloc_flags & ALLOC_CMA)) {
    unusable_free += zone_page_state(z, NR_FREE_CMA_PAGES);
  }
  unusable_free += zone_page_state(z, NR_UNACCEPTED);
  return unusable_free;
}

// kernel: mm/page_alloc.c zone_watermark_fast(), v6.18
inline bool Mm::zone_watermark_fast(Zone* z, unsigned order, unsigned long mark,
                                    int highest_zoneidx, unsigned alloc_flags,
                                    gfp_t gfp_mask) {
  const long free_pages = zone_page_state(z, NR_FREE_PAGES);
  if (!order) {
    long usable_free = free_pages;
    const long reserved = __zone_watermark_unusable_free(z, 0, alloc_flags);
    usable_free -= std::min(usable_free, reserved);
    if (usable_free > static_cast<long>(mark) +
                          READ_ONCE(z->lowmem_reserve[highest_zoneidx])) {
      return true;
    }
  }
  if (__zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags,
                          free_pages)) {
    return true;
  }
  // Ignore boosting for __GFP_HIGH order-0 allocations at the min mark.
  if (!order && (alloc_flags & ALLOC_MIN_RESERVE) &&
      z->watermark_boost.load() &&
      (alloc_flags & ALLOC_WMARK_MASK) == WMARK_MIN) {
    mark = READ_ONCE(z->_watermark[WMARK_MIN]);
    return __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags,
                               free_pages);
  }
  return false;
}

// kernel: mm/page_alloc.c cond_accept_memory(), v6.16+: nolock bails out
// ("It is not only zone lock. There's also unaccepted_memory_lock"); BZ-28b
// removes the bail-out.
inline bool Mm::cond_accept_memory(Zone* zone, unsigned order,
                                   unsigned alloc_flags) {
  if (zone->vm_stat[NR_UNACCEPTED].load() <= 0) return false;
  if ((alloc_flags & ALLOC_NOLOCK) && !bug(BugId::kBz28Accept)) return false;
  // How much to accept to get to the promo watermark?
  const long wmark = static_cast<long>(promo_wmark_pages(zone));
  const long to_accept =
      wmark - (static_cast<long>(zone_page_state(zone, NR_FREE_PAGES)) -
               __zone_watermark_unusable_free(zone, order, 0));
  if (to_accept <= 0) return false;
  return cond_accept_memory_slow(zone, to_accept);
}

}  // namespace reentry::mm

#endif  // REENTRY_ALLOCATOR_MM_MM_H_
