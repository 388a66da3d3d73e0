// The allocator's neighbours that take locks on the way: page_owner and the
// stack depot, fail_page_alloc, unaccepted memory, memcg charging, and printk
// with its console locks.
#include <algorithm>
#include <cstdio>

#include "allocator/base/check.h"
#include "allocator/base/stable_address.h"
#include "allocator/mm/mm.h"

namespace reentry::mm {
namespace {

// The kernel hashes return addresses; ours are function-name literals. Their
// raw addresses changed with ASLR from process to process, and with them
// each stack's bucket and the path find_stack() took (coverage that
// differed between two fuzzer processes running the same input).
uint32_t HashEntries(const char* const* entries, unsigned n) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned i = 0; i < n; ++i) {
    h ^= StableAddress(entries[i]);
    h *= 1099511628211ULL;
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

}  // namespace

// ---------------------------------------------------------------------------
// printk and the console

// kernel: kernel/printk/printk_safe.c printk_deferred_enter()
void Mm::printk_deferred_enter() {
  ++printk_deferred_[ctx::smp_processor_id()];
}

// kernel: kernel/printk/printk_safe.c printk_deferred_exit()
void Mm::printk_deferred_exit() { --printk_deferred_[ctx::smp_processor_id()]; }

// kernel: kernel/printk/printk.c vprintk_emit() -> console_unlock() ->
// console_emit_next_record() -> serial8250_console_write(): console_owner,
// then the uart's port->lock (irqsave). Printing is deferred (irq_work, no
// locks here) inside printk_deferred_enter(), in NMI, on PREEMPT_RT (legacy
// consoles print from a kthread there), and under a raw spinlock (the
// kernel's printk_legacy_allow_spinlock_enter() tells lockdep to ignore that
// nesting; the model skips the console instead).
void Mm::printk(const char* text) {
  REENTRY_KFUNC();
  Cpu& cpu = ctx::this_cpu();
  ++st().printk_lines;
  if (printk_deferred_[cpu.id()] > 0 || cpu.in_nmi() ||
      cpu.config().preempt_rt || cpu.raw_locks_held() > 0) {
    ++st().printk_deferred;
    return;
  }
  // console_emit_next_record(): printk_safe_enter_irqsave() around
  // console_lock_spinning_enable() and con->write().
  IrqFlags irq = ctx::local_irq_save();
  locks::lock_map_acquire(console_owner_, "console_unlock");
  IrqFlags flags =
      locks::spin_lock_irqsave(*port_lock_, "serial8250_console_write");
  inject(PointId::kPrintkConsoleLocked);
  locks::spin_unlock_irqrestore(*port_lock_, flags, "serial8250_console_write");
  locks::lock_map_release(console_owner_, "console_unlock");
  ctx::local_irq_restore(irq);
}

// kernel: mm/debug.c dump_page()
void Mm::dump_page(Page* page, const char* reason) {
  REENTRY_KFUNC();
  printk(reason);
}

// ---------------------------------------------------------------------------
// Stack depot (lib/stackdepot.c, v6.18)

// kernel: lib/stackdepot.c find_stack() (lockless, RCU)
StackRecord* Mm::find_stack(uint32_t bucket, const char* const* entries,
                            unsigned nr_entries, uint32_t hash) {
  for (StackRecord* r = depot_table_[bucket].load(std::memory_order_acquire);
       r != nullptr; r = r->hash_next.load(std::memory_order_acquire)) {
    if (r->hash != hash || r->size != nr_entries) continue;
    bool same = true;
    for (unsigned i = 0; i < nr_entries && same; ++i) {
      same = r->entries[i] == entries[i];
    }
    if (same) return r;
  }
  return nullptr;
}

// kernel: lib/stackdepot.c depot_keep_new_pool()
bool Mm::depot_keep_new_pool(Page** prealloc) {
  Page* expected = nullptr;
  if (*prealloc == nullptr) return false;
  if (depot_new_pool_.compare_exchange_strong(expected, *prealloc)) {
    *prealloc = nullptr;
    return true;
  }
  return false;
}

// kernel: lib/stackdepot.c depot_alloc_stack() (under pool_lock)
StackRecord* Mm::depot_alloc_stack(const char* const* entries,
                                   unsigned nr_entries, uint32_t hash,
                                   Page** prealloc) {
  if (depot_pool_offset_ >= kDepotRecordsPerPool) {
    if (depot_nr_pools_ >= kDepotMaxPools) return nullptr;  // "reached limit"
    Page* pool = depot_new_pool_.exchange(nullptr);
    if (pool == nullptr && *prealloc != nullptr) {
      pool = *prealloc;
      *prealloc = nullptr;
    }
    if (pool == nullptr) return nullptr;
    pool->owner = PageOwnerKind::kDepot;
    depot_pools_[depot_nr_pools_++] = pool;
    depot_pool_offset_ = 0;
    ++st().depot_pools;
  }
  const int index =
      (depot_nr_pools_ - 1) * kDepotRecordsPerPool + depot_pool_offset_++;
  StackRecord* r = &depot_records_[index];
  r->hash = hash;
  r->size = static_cast<uint8_t>(nr_entries);
  for (unsigned i = 0; i < nr_entries; ++i) r->entries[i] = entries[i];
  r->count.store(kRefcountSaturated);
  r->nr_base_pages.store(0);
  r->handle.store(static_cast<uint32_t>(index + 1), std::memory_order_release);
  return r;
}

// kernel: lib/stackdepot.c stack_depot_save_flags(), v6.18: the pool is
// preallocated before pool_lock (only if allowed to spin); pool_lock is a
// raw_spinlock_t, trylocked in NMI or when !allow_spin; an unused
// preallocation is freed with free_pages_nolock() when !allow_spin.
// BZ-28c: allow_spin ignored (the pre-6.15 depot).
uint32_t Mm::stack_depot_save(const char* const* entries, unsigned nr_entries,
                              gfp_t alloc_flags) {
  REENTRY_KFUNC();
  const bool allow_spin =
      gfpflags_allow_spinning(alloc_flags) || bug(BugId::kBz28Stackdepot);
  const bool can_alloc = allow_spin;  // STACK_DEPOT_FLAG_CAN_ALLOC
  const uint32_t hash = HashEntries(entries, nr_entries);
  const uint32_t bucket = hash % kDepotBuckets;
  StackRecord* found = find_stack(bucket, entries, nr_entries, hash);
  if (found) return found->handle.load(std::memory_order_acquire);
  Page* prealloc = nullptr;
  if (can_alloc && depot_new_pool_.load() == nullptr &&
      depot_nr_pools_ < kDepotMaxPools) {
    prealloc = alloc_pages(gfp_nested_mask(alloc_flags), DEPOT_POOL_ORDER);
    if (prealloc) prealloc->owner = PageOwnerKind::kDepot;
  }
  IrqFlags flags;
  bool locked;
  if ((ctx::in_nmi() || !allow_spin) && !bug(BugId::kBz28Stackdepot)) {
    locked = locks::raw_spin_trylock_irqsave(pool_lock_, &flags,
                                             "stack_depot_save_flags");
  } else {
    flags = locks::raw_spin_lock_irqsave(pool_lock_, "stack_depot_save_flags");
    locked = true;
  }
  if (locked) {
    printk_deferred_enter();
    inject(PointId::kStackDepotPoolLocked);
    found = find_stack(bucket, entries, nr_entries, hash);
    if (!found) {
      StackRecord* n = depot_alloc_stack(entries, nr_entries, hash, &prealloc);
      if (n) {
        n->hash_next.store(depot_table_[bucket].load());
        depot_table_[bucket].store(n, std::memory_order_release);
        found = n;
      }
    }
    if (prealloc) depot_keep_new_pool(&prealloc);
    printk_deferred_exit();
    locks::raw_spin_unlock_irqrestore(pool_lock_, flags,
                                      "stack_depot_save_flags");
  }
  if (prealloc) {
    prealloc->owner = PageOwnerKind::kInternal;
    if (!allow_spin) {
      free_pages_nolock(prealloc, DEPOT_POOL_ORDER);
    } else {
      __free_pages(prealloc, DEPOT_POOL_ORDER);
    }
  }
  return found ? found->handle.load(std::memory_order_acquire) : 0;
}

// ---------------------------------------------------------------------------
// page_owner (mm/page_owner.c, v6.18)

// kernel: mm/page_owner.c save_stack(): the stack is the model's function
// stack; current->in_page_owner guards recursion (dummy_handle).
uint32_t Mm::save_stack(gfp_t flags) {
  Task& t = current();
  if (t.in_page_owner) return dummy_handle_;
  t.in_page_owner = true;
  const auto& fns = ctx::this_cpu().functions();
  const char* entries[kDepotStackDepth];
  unsigned n = 0;
  for (size_t i = fns.size(); i > 0 && n < kDepotStackDepth; --i) {
    entries[n++] = fns[i - 1];
  }
  uint32_t handle = stack_depot_save(entries, n, flags);
  if (!handle) handle = failure_handle_;
  t.in_page_owner = false;
  return handle;
}

// kernel: mm/page_owner.c add_stack_record_to_list(): skipped when the
// allocation may not spin (BZ-28c ignores that)
void Mm::add_stack_record_to_list(StackRecord* stack_record, gfp_t gfp_mask) {
  if (!gfpflags_allow_spinning(gfp_mask) && !bug(BugId::kBz28Stackdepot)) {
    return;
  }
  // kmalloc(gfp_nested_mask(gfp_mask)) of the list node: not modelled.
  IrqFlags flags =
      locks::spin_lock_irqsave(stack_list_lock_, "add_stack_record_to_list");
  inject(PointId::kStackListLocked);
  constexpr int kMax = kDepotMaxPools * kDepotRecordsPerPool;
  if (stack_list_len_ < kMax) stack_list_[stack_list_len_++] = stack_record;
  locks::spin_unlock_irqrestore(stack_list_lock_, flags,
                                "add_stack_record_to_list");
}

// kernel: mm/page_owner.c inc_stack_record_count()
void Mm::inc_stack_record_count(uint32_t handle, gfp_t gfp_mask,
                                int nr_base_pages) {
  if (handle == 0) return;
  StackRecord* r = &depot_records_[handle - 1];
  uint32_t old = kRefcountSaturated;
  if (r->count.load() == kRefcountSaturated &&
      r->count.compare_exchange_strong(old, 1)) {
    add_stack_record_to_list(r, gfp_mask);
  }
  r->count.fetch_add(1, std::memory_order_relaxed);
  r->nr_base_pages.fetch_add(nr_base_pages, std::memory_order_relaxed);
}

// kernel: mm/page_owner.c dec_stack_record_count()
void Mm::dec_stack_record_count(uint32_t handle, int nr_base_pages) {
  if (handle == 0) return;
  StackRecord* r = &depot_records_[handle - 1];
  if (r->count.load() != kRefcountSaturated) {
    r->count.fetch_sub(1, std::memory_order_relaxed);
  }
  r->nr_base_pages.fetch_sub(nr_base_pages, std::memory_order_relaxed);
}

// kernel: mm/page_owner.c __set_page_owner()
void Mm::set_page_owner(Page* page, unsigned order, gfp_t gfp_mask) {
  REENTRY_KFUNC();
  const uint32_t handle = save_stack(gfp_mask);
  page->page_owner_handle = handle;
  inc_stack_record_count(handle, gfp_mask, 1 << order);
}

// kernel: mm/page_owner.c __reset_page_owner(): save_stack(__GFP_NOWARN), a
// mask that cannot spin, so the free path never allocates or spins here
void Mm::__reset_page_owner(Page* page, unsigned order) {
  REENTRY_KFUNC();
  (void)save_stack(__GFP_NOWARN);
  dec_stack_record_count(page->page_owner_handle, 1 << order);
  page->page_owner_handle = 0;
}

// ---------------------------------------------------------------------------
// fail_page_alloc (mm/fail_page_alloc.c, lib/fault-inject.c)

void Mm::fail_page_alloc_setup(int interval, int times) {
  fail_interval_.store(std::max(interval, 1));
  fail_count_.store(0);
  fail_times_.store(times);
}

// kernel: drivers/char/random.c get_random_u32_below() -> get_random_u32():
// the per-CPU batched entropy under local_lock_irqsave
uint32_t Mm::get_random_u32_below(uint32_t ceil) {
  IrqFlags flags =
      locks::local_lock_irqsave(batched_entropy_lock_, "get_random_u32");
  const uint32_t v = static_cast<uint32_t>(
      rng_[ctx::smp_processor_id()].Below(ceil ? ceil : 1));
  locks::local_unlock_irqrestore(batched_entropy_lock_, flags,
                                 "get_random_u32");
  return v;
}

// kernel: lib/fault-inject.c should_fail_ex() (probability 100, the
// configured interval and times; fail_dump() prints unless FAULT_NOWARN)
bool Mm::should_fail_ex(unsigned long size, bool nowarn) {
  REENTRY_KFUNC();
  if (fail_times_.load() == 0) return false;
  const int interval = fail_interval_.load();
  if (interval > 1 && (fail_count_.fetch_add(1) + 1) % interval) return false;
  if (100 <= get_random_u32_below(100)) return false;
  if (!nowarn) printk("FAULT_INJECTION: forcing a failure.");
  // atomic_dec_not_zero(&attr->times) unless -1: vCPUs inject failures
  // concurrently, and a plain load/store pair would lose decrements.
  fail_times_.dec_if_positive();
  ++st().fail_injected;
  return true;
}

// kernel: mm/fail_page_alloc.c should_fail_alloc_page(): the model's
// defaults are min-order 0, ignore-gfp-wait 0, ignore-gfp-highmem 1
bool Mm::should_fail_alloc_page_slow(gfp_t gfp_mask, unsigned order) {
  if (fail_times_.load() == 0) return false;
  if (gfp_mask & __GFP_NOFAIL) return false;
  if (gfp_mask & __GFP_HIGHMEM) return false;
  return should_fail_ex(1ul << order, gfp_mask & __GFP_NOWARN);
}

// ---------------------------------------------------------------------------
// Unaccepted memory (mm/page_alloc.c, drivers/firmware/efi/unaccepted_memory.c)

// kernel: drivers/firmware/efi/unaccepted_memory.c accept_memory():
// unaccepted_memory_lock (spinlock_t, irqsave) around the hypervisor call
void Mm::accept_memory(unsigned long start_pfn, unsigned long nr) {
  REENTRY_KFUNC();
  IrqFlags flags =
      locks::spin_lock_irqsave(unaccepted_memory_lock_, "accept_memory");
  inject(PointId::kUnacceptedLocked);
  locks::spin_unlock_irqrestore(unaccepted_memory_lock_, flags,
                                "accept_memory");
}

// kernel: mm/page_alloc.c __accept_page(), v6.18 (drops zone->lock)
void Mm::__accept_page(Zone* zone, IrqFlags* flags, Page* page) {
  list_del(&page->lru);
  account_freepages(zone, -static_cast<long>(MAX_ORDER_NR_PAGES()),
                    MIGRATE_MOVABLE);
  zone->vm_stat[NR_UNACCEPTED].add(-static_cast<long>(MAX_ORDER_NR_PAGES()));
  page->ClearFlags(PG_unaccepted);
  WRITE_ONCE(page->where, PageWhere::kNone);
  locks::spin_unlock_irqrestore(zone->lock, *flags, "__accept_page");
  accept_memory(page_to_pfn(page), MAX_ORDER_NR_PAGES());
  ++st().accepted_chunks;
  // __free_pages_ok(page, MAX_PAGE_ORDER, FPI_TO_TAIL) without the prepare
  // step (the chunk was never allocated).
  free_one_page(zone, page, page_to_pfn(page), max_order_, FPI_TO_TAIL);
}

// kernel: mm/page_alloc.c try_to_accept_memory_one(), v6.18: non-try
// zone->lock (BZ-28b)
bool Mm::try_to_accept_memory_one(Zone* zone) {
  REENTRY_KFUNC();
  IrqFlags flags =
      locks::spin_lock_irqsave(zone->lock, "try_to_accept_memory_one");
  inject(PointId::kAcceptMemoryZoneLocked);
  if (list_empty(&zone->unaccepted_pages)) {
    locks::spin_unlock_irqrestore(zone->lock, flags,
                                  "try_to_accept_memory_one");
    return false;
  }
  Page* page = reinterpret_cast<Page*>(zone->unaccepted_pages.next);
  __accept_page(zone, &flags, page);
  return true;
}

// The accepting half of cond_accept_memory() (mm.h), once to_accept > 0.
bool Mm::cond_accept_memory_slow(Zone* zone, long to_accept) {
  bool ret = false;
  while (to_accept > 0) {
    if (!try_to_accept_memory_one(zone)) break;
    ret = true;
    to_accept -= static_cast<long>(MAX_ORDER_NR_PAGES());
  }
  return ret;
}

// ---------------------------------------------------------------------------
// memcg (mm/memcontrol.c, v6.15 stock locking)

// kernel: mm/page_counter.c page_counter_try_charge() (atomic, lock-free)
bool Mm::page_counter_try_charge(unsigned long nr_pages) {
  long usage = memcg_usage_.load(std::memory_order_relaxed);
  for (;;) {
    if (usage + static_cast<long>(nr_pages) > memcg_max_) return false;
    if (memcg_usage_.compare_exchange_weak(usage, usage + nr_pages,
                                           std::memory_order_relaxed)) {
      return true;
    }
  }
}

// kernel: mm/page_counter.c page_counter_uncharge()
void Mm::page_counter_uncharge(unsigned long nr_pages) {
  memcg_usage_.fetch_sub(static_cast<long>(nr_pages),
                         std::memory_order_relaxed);
}

// kernel: mm/memcontrol.c consume_stock(), v6.15: local_lock_irqsave when
// the caller may spin, local_trylock_irqsave otherwise. BZ-27: a plain
// local_lock() (IRQs stay on) for spinning callers.
bool Mm::consume_stock(unsigned nr_pages, gfp_t gfp_mask) {
  REENTRY_KFUNC();
  if (nr_pages > MEMCG_CHARGE_BATCH) return false;
  IrqFlags flags{};
  const bool plain = bug(BugId::kBz27) && gfpflags_allow_spinning(gfp_mask);
  if (plain) {
    locks::local_lock(memcg_stock_lock_, "consume_stock");
  } else if (gfpflags_allow_spinning(gfp_mask)) {
    flags = locks::local_lock_irqsave(memcg_stock_lock_, "consume_stock");
  } else if (!locks::local_trylock_irqsave(memcg_stock_lock_, &flags,
                                           "consume_stock")) {
    return false;
  }
  inject(PointId::kConsumeStockLocked);
  MemcgStockPcp& stock = memcg_stock_[ctx::smp_processor_id()];
  bool ret = false;
  if (stock.cached && stock.nr_pages >= nr_pages) {
    stock.nr_pages -= nr_pages;
    ret = true;
  }
  if (plain) {
    locks::local_unlock(memcg_stock_lock_, "consume_stock");
  } else {
    locks::local_unlock_irqrestore(memcg_stock_lock_, flags, "consume_stock");
  }
  return ret;
}

// kernel: mm/memcontrol.c refill_stock(), v6.15: trylock; on failure the
// charge goes straight back to the page_counter
void Mm::refill_stock(unsigned nr_pages) {
  REENTRY_KFUNC();
  IrqFlags flags;
  if (!locks::local_trylock_irqsave(memcg_stock_lock_, &flags,
                                    "refill_stock")) {
    page_counter_uncharge(nr_pages);
    return;
  }
  inject(PointId::kRefillStockLocked);
  MemcgStockPcp& stock = memcg_stock_[ctx::smp_processor_id()];
  stock.cached = true;
  stock.nr_pages += nr_pages;
  if (stock.nr_pages > MEMCG_CHARGE_BATCH) {  // drain_stock()
    page_counter_uncharge(stock.nr_pages);
    stock.nr_pages = 0;
  }
  locks::local_unlock_irqrestore(memcg_stock_lock_, flags, "refill_stock");
}

// kernel: mm/memcontrol.c try_charge_memcg(), v6.15 (no memcg reclaim
// progress, no memcg OOM: a blocking charge over the limit fails)
int Mm::try_charge_memcg(gfp_t gfp_mask, unsigned nr_pages) {
  REENTRY_KFUNC();
  inject(PointId::kTryChargeEntry);
  const bool allow_spinning = gfpflags_allow_spinning(gfp_mask);
  unsigned batch =
      allow_spinning ? std::max(MEMCG_CHARGE_BATCH, nr_pages) : nr_pages;
  if (consume_stock(nr_pages, gfp_mask)) return 0;
  for (;;) {
    if (page_counter_try_charge(batch)) {
      if (batch > nr_pages) refill_stock(batch - nr_pages);
      return 0;
    }
    if (batch > nr_pages) {
      batch = nr_pages;
      continue;
    }
    break;
  }
  if (gfpflags_allow_blocking(gfp_mask)) {
    // try_to_free_mem_cgroup_pages(): reclaim under fs_reclaim.
    fs_reclaim_acquire(gfp_mask);
    fs_reclaim_release(gfp_mask);
  }
  if (!(gfp_mask & (__GFP_NOFAIL | __GFP_HIGH))) return -12;    // -ENOMEM
  memcg_usage_.fetch_add(nr_pages, std::memory_order_relaxed);  // force
  return 0;
}

// kernel: mm/memcontrol.c __memcg_kmem_charge_page()
int Mm::__memcg_kmem_charge_page(Page* page, gfp_t gfp, unsigned order) {
  const int ret = try_charge_memcg(gfp, 1u << order);
  if (ret == 0) page->SetFlags(PG_memcg_kmem);
  return ret;
}

// kernel: mm/memcontrol.c __memcg_kmem_uncharge_page()
void Mm::__memcg_kmem_uncharge_page(Page* page, unsigned order) {
  page->ClearFlags(PG_memcg_kmem);
  refill_stock(1u << order);
}

}  // namespace reentry::mm
