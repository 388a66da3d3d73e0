// Core types of the page allocator model: configuration, the kernel's enums
// and flag values (migratetypes, zones, watermarks, ALLOC_*, FPI_*), the
// intrusive list_head and struct page. Values and names follow the kernel
// (include/linux/mmzone.h, mm/internal.h, mm/page_alloc.c; mm tree 2026,
// kernel-model.md §2.1-2.3).
#ifndef REENTRY_ALLOCATOR_MM_MM_TYPES_H_
#define REENTRY_ALLOCATOR_MM_MM_TYPES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "allocator/base/compiler.h"
#include "allocator/base/gfp.h"

namespace reentry::mm {

// --- Sizes (include/linux/mmzone.h). ---
inline constexpr int kMaxPageOrderLimit = 10;  // MAX_PAGE_ORDER default
inline constexpr int kNrPageOrdersMax = kMaxPageOrderLimit + 1;
inline constexpr int PAGE_ALLOC_COSTLY_ORDER = 3;
inline constexpr int MAX_RECLAIM_RETRIES = 16;
inline constexpr int MAX_COMPACT_RETRIES = 16;
inline constexpr int CONFIG_PCP_BATCH_SCALE_MAX = 5;
inline constexpr int NUMA_NO_NODE = -1;

// enum migratetype
enum MigrateType : int {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_PCPTYPES,  // the number of types on the pcp lists
  MIGRATE_HIGHATOMIC = MIGRATE_PCPTYPES,
  MIGRATE_CMA,
  MIGRATE_ISOLATE,
  MIGRATE_TYPES
};
const char* MigratetypeName(int mt);

inline bool is_migrate_cma(int mt) { return mt == MIGRATE_CMA; }
inline bool is_migrate_isolate(int mt) { return mt == MIGRATE_ISOLATE; }
inline bool is_migrate_highatomic(int mt) { return mt == MIGRATE_HIGHATOMIC; }
inline bool migratetype_is_mergeable(int mt) { return mt < MIGRATE_PCPTYPES; }

inline constexpr int NR_PCP_LISTS =
    MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);

// enum zone_type (the model has no DMA/DMA32/HIGHMEM zones; see gfp_zone()).
enum ZoneType : int { ZONE_NORMAL, ZONE_MOVABLE, MAX_NR_ZONES };

// enum zone_watermarks
enum ZoneWatermarks : int {
  WMARK_MIN,
  WMARK_LOW,
  WMARK_HIGH,
  WMARK_PROMO,
  NR_WMARK
};

// enum zone_flags (bit numbers in zone->flags)
enum ZoneFlags : int {
  ZONE_BOOSTED_WATERMARK,
  ZONE_RECLAIM_ACTIVE,
  ZONE_BELOW_HIGH,
};

// zone_stat_item (the ones the model keeps)
enum ZoneStatItem : int {
  NR_FREE_PAGES,
  NR_FREE_PAGES_BLOCKS,
  NR_FREE_CMA_PAGES,
  NR_UNACCEPTED,
  NR_ZONE_STAT_ITEMS
};

// --- ALLOC_* (mm/internal.h, kernel-model.md §2.3). ---
inline constexpr unsigned ALLOC_WMARK_MIN = WMARK_MIN;
inline constexpr unsigned ALLOC_WMARK_LOW = WMARK_LOW;
inline constexpr unsigned ALLOC_WMARK_HIGH = WMARK_HIGH;
inline constexpr unsigned ALLOC_WMARK_MASK = 0x03;
inline constexpr unsigned ALLOC_NO_WATERMARKS = 0x04;
inline constexpr unsigned ALLOC_OOM = 0x08;
inline constexpr unsigned ALLOC_NON_BLOCK = 0x10;
inline constexpr unsigned ALLOC_MIN_RESERVE = 0x20;  // == __GFP_HIGH
inline constexpr unsigned ALLOC_CPUSET = 0x40;
inline constexpr unsigned ALLOC_CMA = 0x80;
inline constexpr unsigned ALLOC_NOFRAGMENT = 0x100;
inline constexpr unsigned ALLOC_HIGHATOMIC = 0x200;
inline constexpr unsigned ALLOC_NOLOCK = 0x400;  // ALLOC_TRYLOCK before 2026
inline constexpr unsigned ALLOC_TRYLOCK = ALLOC_NOLOCK;
inline constexpr unsigned ALLOC_KSWAPD = 0x800;  // == __GFP_KSWAPD_RECLAIM
inline constexpr unsigned ALLOC_NO_CODETAG = 0x1000;
inline constexpr unsigned ALLOC_RESERVES =
    ALLOC_NON_BLOCK | ALLOC_MIN_RESERVE | ALLOC_HIGHATOMIC | ALLOC_OOM;
static_assert(ALLOC_MIN_RESERVE == gfp::__GFP_HIGH);
static_assert(ALLOC_KSWAPD == gfp::__GFP_KSWAPD_RECLAIM);

// --- fpi_t (mm/page_alloc.c). ---
using fpi_t = unsigned;
inline constexpr fpi_t FPI_NONE = 0;
inline constexpr fpi_t FPI_SKIP_REPORT_NOTIFY = 1u << 0;
inline constexpr fpi_t FPI_TO_TAIL = 1u << 1;
inline constexpr fpi_t FPI_NOLOCK = 1u << 2;  // FPI_TRYLOCK before 2026
inline constexpr fpi_t FPI_TRYLOCK = FPI_NOLOCK;

// --- Configuration of one model instance. ---
struct MmConfig {
  int nr_zones = 2;  // 1: ZONE_NORMAL only; 2: ZONE_NORMAL + ZONE_MOVABLE
  // Pages per zone; each is rounded down to a multiple of MAX_ORDER_NR_PAGES.
  uint32_t zone_pages[MAX_NR_ZONES] = {2048, 1024};
  int pageblock_order = 4;
  int max_page_order = kMaxPageOrderLimit;  // capped by the smallest zone
  // A CMA area of this many pages (pageblock-aligned) at the end of the
  // accepted part of ZONE_NORMAL; 0 disables CMA.
  uint32_t cma_pages = 256;
  // Unaccepted memory (TDX/SEV-SNP guest) at the end of ZONE_NORMAL, in
  // MAX_ORDER_NR_PAGES chunks.
  uint32_t unaccepted_chunks = 1;
  // pcp batch: the kernel derives it from the zone size (zone_batchsize()
  // gives 1 for a zone of a few thousand pages); the model scales it up so
  // that refills and drains behave as on a real machine.
  int pcp_batch = 8;
  bool page_owner = true;  // page_owner=on (CONFIG_PAGE_OWNER)
  bool memcg = true;       // memcg_kmem_online()
  // The current task's memcg limit in pages (page_counter max).
  long memcg_limit = 1L << 30;
  bool defrag_mode = false;     // vm.defrag_mode
  bool deferred_pages = false;  // deferred struct page init still running
  // Memory block size for offline_pages()/online_pages(), pages.
  uint32_t memory_block_pages = 256;
  // Retry budget of unbounded kernel loops (NOFAIL, BZ-30's retry): more
  // iterations than this without progress is reported as a livelock.
  int retry_budget = 64;
};

// --- READ_ONCE()/WRITE_ONCE() (include/asm-generic/rwonce.h). ---
// For plain fields that the kernel reads outside the lock (or the ownership)
// that orders their writes: READ_ONCE() or data_race() there, WRITE_ONCE()
// or an atomic bitop on the writer's side. Relaxed atomic accesses through
// std::atomic_ref: a plain mov on x86, and no data race for TSan. Only the
// racy sites use them; accesses ordered by a lock stay plain, so TSan still
// reports a racy access the model does not annotate (e.g. a second writer).
// Once<T> (below) is the same for fields that are always accessed this way.
template <typename T>
REENTRY_ALWAYS_INLINE T READ_ONCE(const T& x) {
  static_assert(std::is_trivially_copyable_v<T>);
  return std::atomic_ref<T>(const_cast<T&>(x)).load(std::memory_order_relaxed);
}
template <typename T>
REENTRY_ALWAYS_INLINE void WRITE_ONCE(T& x, std::type_identity_t<T> v) {
  std::atomic_ref<T>(x).store(v, std::memory_order_relaxed);
}

// --- struct list_head (include/linux/list.h), intrusive. ---
struct ListHead {
  ListHead* next;
  ListHead* prev;
};

inline void INIT_LIST_HEAD(ListHead* l) { l->next = l->prev = l; }
inline bool list_empty(const ListHead* l) { return l->next == l; }
inline void __list_add(ListHead* n, ListHead* prev, ListHead* next) {
  next->prev = n;
  n->next = next;
  n->prev = prev;
  prev->next = n;
}
inline void list_add(ListHead* n, ListHead* head) {
  __list_add(n, head, head->next);
}
inline void list_add_tail(ListHead* n, ListHead* head) {
  __list_add(n, head->prev, head);
}
inline void list_del(ListHead* e) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  e->next = e->prev = nullptr;  // LIST_POISON
}
inline void list_move_tail(ListHead* e, ListHead* head) {
  e->next->prev = e->prev;
  e->prev->next = e->next;
  list_add_tail(e, head);
}

// --- struct page. ---
// Page flags the model keeps (PG_*, page types).
enum PageFlagBits : uint32_t {
  PG_buddy = 1u << 0,       // PageBuddy(): head of a free buddy block
  PG_head = 1u << 1,        // head of an allocated block (compound-like)
  PG_lru = 1u << 2,         // allocated with __GFP_MOVABLE: migratable
  PG_unaccepted = 1u << 3,  // PageUnaccepted(): head of an unaccepted chunk
  PG_offline = 1u << 4,     // PageOffline(): offlined by memory hotplug
  PG_memcg_kmem = 1u << 5,  // charged to a memcg (__GFP_ACCOUNT)
  PG_reserved = 1u << 6,    // never managed (unused)
};

// Where a page is, as the model sees it (kept for invariant checks and
// double-free detection; the kernel derives the same from flags and lists).
enum class PageWhere : uint8_t {
  kNone,        // tail of a block, or in transit between lists
  kBuddy,       // head of a free block on zone->free_area
  kPcp,         // head of a block on a pcp list
  kLlist,       // head of a block on zone->trylock_free_pages
  kAllocated,   // head of an allocated block
  kUnaccepted,  // head of a chunk on zone->unaccepted_pages
  kOffline,     // offlined (each page)
};

// Who holds an allocated block (for leak accounting at teardown).
enum class PageOwnerKind : uint8_t {
  kNone,      // nobody: an allocated page that no one holds is leaked
  kProgram,   // a program slot (or a page the program overwrote: orphan)
  kDepot,     // a stack depot pool
  kKrcp,      // kvfree_rcu's per-CPU page cache
  kCma,       // part of a cma_alloc() range held by the program
  kInternal,  // in transit inside a model function
  kBoot,      // in use since boot: config(pressure=N) (Mm::boot_hold_memory)
};

// Racy readers (TSan-checked under `reentry stress`): flags (PageBuddy() of a
// neighbour, PageLRU()/PageUnaccepted() in scans), where, alloc_order,
// private_order and slot (migration's and isolation's scans, BlockHead():
// compound_head(), folio_order() and buddy_order_unsafe() are READ_ONCE in
// the kernel). Every store to those while
// vCPUs run is WRITE_ONCE (SetFlags()/ClearFlags() for flags), and the racy
// loads are READ_ONCE; the rest are plain.
struct Page {
  ListHead lru;               // buddy_list / pcp_list (a union in the kernel)
  Page* pcp_llist = nullptr;  // llist_node for zone->trylock_free_pages
  uint32_t flags = 0;
  int32_t refcount = 0;  // _refcount
  int16_t pincount = 0;  // pins (GUP); long-term pins counted separately
  int16_t longterm_pins = 0;
  uint8_t private_order = 0;  // page->private: buddy order / llist order
  uint8_t alloc_order = 0;    // order it was allocated with (head only)
  uint8_t zone = 0;           // page_zonenum()
  PageWhere where = PageWhere::kNone;
  PageOwnerKind owner = PageOwnerKind::kNone;
  int8_t slot = -1;                // program slot holding it, -1 if none
  uint16_t pcp_cpu = 0;            // kPcp: which CPU's list
  uint32_t page_owner_handle = 0;  // page_owner: depot handle
  uint32_t alloc_gfp = 0;          // gfp it was allocated with
  uint8_t pcp_pindex = 0;          // kPcp: which pcp list

  // The kernel's PageBuddy() is data_race(page->page_type >> 24): zone->lock
  // holders test a neighbour (find_buddy_page_pfn(), the pageblock scans)
  // while its owner may be changing the rest of its flags.
  bool PageBuddy() const { return READ_ONCE(flags) & PG_buddy; }
  // __SetPageX()/__ClearPageX(): a non-atomic update by whoever owns the
  // page (zone->lock for a free one). The store is WRITE_ONCE because those
  // scans and migration's (PageLRU()) read flags racily; the load stays
  // plain, so TSan still reports a second, unordered writer.
  void SetFlags(uint32_t f) { WRITE_ONCE(flags, flags | f); }
  void ClearFlags(uint32_t f) { WRITE_ONCE(flags, flags & ~f); }
};

inline constexpr uint32_t kNoPfn = 0xffffffffu;

// Relaxed atomics spelled as the kernel's READ_ONCE/WRITE_ONCE: fields the
// kernel reads without its lock (watermarks, vmstat, zone flags).
template <typename T>
class Once {
 public:
  Once() = default;
  explicit Once(T v) : v_(v) {}
  T load() const { return v_.load(std::memory_order_relaxed); }
  void store(T v) { v_.store(v, std::memory_order_relaxed); }
  // Non-atomic read-modify-write: for updates under the owning lock.
  void add(T d) { store(load() + d); }
  T fetch_add(T d) { return v_.fetch_add(d, std::memory_order_relaxed); }
  // Atomic decrement of a positive value (atomic_dec_not_zero() on a count
  // where -1 means unlimited): for counts updated without a common lock.
  void dec_if_positive() {
    T v = load();
    while (v > 0 &&
           !v_.compare_exchange_weak(v, v - 1, std::memory_order_relaxed)) {
    }
  }

 private:
  std::atomic<T> v_{};
};

}  // namespace reentry::mm

#endif  // REENTRY_ALLOCATOR_MM_MM_TYPES_H_
