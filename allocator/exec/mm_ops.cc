// The allocator model's part of a world: runs the program's allocator ops on
// the current vCPU against allocator/mm, with the page slots p0..p31.
#include "allocator/exec/mm_ops.h"

#include <algorithm>
#include <type_traits>

#include "allocator/exec/executor.h"
#include "allocator/locks/locks.h"
#include "allocator/mm/mm.h"

namespace reentry::exec {
namespace {

using mm::Mm;
using mm::Page;
using mm::SlotKind;

class ModelMmWorld : public MmWorld {
 public:
  ModelMmWorld(ctx::Kernel& kernel, BugSet bugs,
               std::span<locks::LockBase* const> test_locks)
      : mm_(kernel, bugs), test_locks_(test_locks.begin(), test_locks.end()) {
    mm_.AdoptProgramLocks(test_locks);
  }

  bool RunOp(const prog::Op& op, RunResult& result) override {
    return std::visit([&](const auto& o) { return Run(o, result); }, op.v);
  }

  void CheckInvariants(bool teardown) override {
    if (teardown) {
      mm_.Teardown();
    } else {
      mm_.CheckInvariants();
    }
  }

 private:
  // Slot ownership for the length of one op (an interrupt that lands in the
  // middle of an op on the same slot skips its op).
  class SlotScope {
   public:
    SlotScope(Mm& mm, int i) : mm_(mm), i_(i), ok_(mm.SlotTryBegin(i)) {}
    ~SlotScope() {
      if (ok_) mm_.SlotEnd(i_);
    }
    bool ok() const { return ok_; }

   private:
    Mm& mm_;
    int i_;
    bool ok_;
  };

  static ctx::Cpu& Cpu() { return ctx::this_cpu(); }
  // Ops that model task-only kernel paths (they sleep or run in kthreads)
  // are skipped when a program puts them in an interrupt body.
  static bool InTask() { return Cpu().context() == ctx::ContextKind::kTask; }

  void Count(RunResult& r, bool ok) {
    if (ok) {
      ++r.allocs_ok;
    } else {
      ++r.allocs_failed;
    }
  }

  template <typename T>
  bool Run(const T&, RunResult&) {
    return false;  // not an allocator op
  }

  bool Run(const prog::AllocPages& o, RunResult& r) {
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    Page* p = mm_.alloc_pages(o.gfp.v, o.order.v);
    if (p) mm_.SlotStore(o.slot.v, p, o.order.v);
    Count(r, p != nullptr);
    return true;
  }

  bool Run(const prog::AllocPagesNolock& o, RunResult& r) {
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    Page* p = mm_.alloc_pages_nolock(o.gfp.v, mm::NUMA_NO_NODE, o.order.v);
    if (p) mm_.SlotStore(o.slot.v, p, o.order.v);
    Count(r, p != nullptr);
    return true;
  }

  // Detaches the slot's block for a free; a pinned block stays in the slot
  // (released) so that unpin_user_page() finds it.
  Page* TakeForFree(int i, unsigned* order) {
    mm::Slot& slot = mm_.slot(i);
    if (slot.kind != SlotKind::kPages || slot.released || !slot.page) {
      return nullptr;
    }
    Page* p = slot.page;
    *order = slot.order;
    if (p->pincount > 0) {
      slot.released = true;
    } else {
      mm_.SlotClear(i);
      mm::WRITE_ONCE(p->slot, int8_t{-1});  // migration reads it racily
    }
    return p;
  }

  bool Run(const prog::FreePages& o, RunResult&) {
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    unsigned order;
    Page* p = TakeForFree(o.slot.v, &order);
    if (!p) return true;  // an empty slot: a no-op
    if (o.order.v != prog::FreePages::kSlotOrder) order = o.order.v;
    mm_.__free_pages(p, order);
    return true;
  }

  bool Run(const prog::FreePagesNolock& o, RunResult&) {
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    unsigned order;
    Page* p = TakeForFree(o.slot.v, &order);
    if (!p) return true;
    mm_.free_pages_nolock(p, order);
    return true;
  }

  bool Run(const prog::AllocPagesBulk& o, RunResult& r) {
    const int first = o.slot.v;
    const int n = std::min<int>(o.count.v, mm::kMaxSlots - first);
    if (n <= 0) return true;
    for (int i = 0; i < n; ++i) {
      if (!mm_.SlotTryBegin(first + i)) {
        for (int j = 0; j < i; ++j) mm_.SlotEnd(first + j);
        return true;
      }
    }
    Page* pages[mm::kMaxSlots] = {};
    const unsigned long got = mm_.alloc_pages_bulk(o.gfp.v, n, pages);
    for (int i = 0; i < n; ++i) {
      if (pages[i]) mm_.SlotStore(first + i, pages[i], 0);
      Count(r, pages[i] != nullptr);
      mm_.SlotEnd(first + i);
    }
    (void)got;
    return true;
  }

  bool Run(const prog::PinPage& o, RunResult&) {
    if (!InTask()) return false;
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    mm::Slot& slot = mm_.slot(o.slot.v);
    if (slot.kind != SlotKind::kPages || slot.released || !slot.page) {
      return true;
    }
    mm_.pin_user_pages(slot.page, o.longterm.v);
    return true;
  }

  bool Run(const prog::UnpinPage& o, RunResult&) {
    if (Cpu().in_nmi()) return false;
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    mm::Slot& slot = mm_.slot(o.slot.v);
    if (slot.kind != SlotKind::kPages || !slot.page ||
        slot.page->pincount <= 0) {
      return true;
    }
    Page* p = slot.page;
    const bool frees = slot.released && p->refcount == 1;
    if (frees) {
      mm_.SlotClear(o.slot.v);
      mm::WRITE_ONCE(p->slot, int8_t{-1});  // migration reads it racily
    }
    mm_.unpin_user_page(p);
    return true;
  }

  bool Run(const prog::BuildAllZonelists&, RunResult&) {
    if (!InTask()) return false;
    mm_.build_all_zonelists();
    return true;
  }

  bool Run(const prog::OfflinePages&, RunResult&) {
    if (!InTask()) return false;
    mm_.offline_pages_op();
    return true;
  }

  bool Run(const prog::DrainAllPages&, RunResult&) {
    if (!InTask()) return false;
    mm_.drain_all_pages(nullptr);
    return true;
  }

  bool Run(const prog::DrainLocalPages&, RunResult&) {
    if (!InTask()) return false;
    mm_.drain_local_pages(nullptr);
    return true;
  }

  bool Run(const prog::CpuOffline& o, RunResult&) {
    if (!InTask()) return false;
    mm_.page_alloc_cpu_dead(o.cpu.v);
    return true;
  }

  bool Run(const prog::FailPageAlloc& o, RunResult&) {
    mm_.fail_page_alloc_setup(o.interval.v, o.times.v);
    return true;
  }

  bool Run(const prog::CmaAlloc& o, RunResult& r) {
    if (!InTask()) return false;
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    if (o.count.v == 0) return true;
    Page* p = mm_.cma_alloc(o.count.v, 0, false);
    if (p) mm_.SlotStoreCma(o.slot.v, p, o.count.v);
    Count(r, p != nullptr);
    return true;
  }

  bool Run(const prog::CmaRelease& o, RunResult&) {
    if (Cpu().in_nmi()) return false;
    SlotScope s(mm_, o.slot.v);
    if (!s.ok()) return true;
    mm::Slot& slot = mm_.slot(o.slot.v);
    if (slot.kind != SlotKind::kCma || !slot.page) return true;
    Page* p = slot.page;
    const uint32_t nr = slot.nr;
    mm_.SlotClear(o.slot.v);
    mm::WRITE_ONCE(p->slot, int8_t{-1});  // migration reads it racily
    mm_.cma_release(p, nr);
    return true;
  }

  bool Run(const prog::KvfreeRcu&, RunResult&) {
    if (Cpu().in_nmi()) return false;
    mm_.kvfree_call_rcu();
    return true;
  }

  bool Run(const prog::Printk&, RunResult&) {
    mm_.printk("printk");
    return true;
  }

  bool Run(const prog::KswapdRun&, RunResult&) {
    if (!InTask()) return false;
    mm_.kswapd_run();
    return true;
  }

  bool Run(const prog::RegisterShrinker& o, RunResult&) {
    if (o.lock.v >= test_locks_.size()) return false;
    mm_.register_shrinker(test_locks_[o.lock.v]);
    return true;
  }

  bool Run(const prog::MemallocNofsSave&, RunResult&) {
    if (!InTask()) return false;
    mm_.memalloc_nofs_save();
    return true;
  }

  bool Run(const prog::MemallocNofsRestore&, RunResult&) {
    if (!InTask()) return false;
    mm::Task& t = mm_.current();
    if (t.nofs_depth <= 0) return true;  // nothing saved
    const uint32_t saved =
        t.nofs_depth <= 8 ? t.nofs_saved[t.nofs_depth - 1] : 0;
    mm_.memalloc_nofs_restore(saved);
    return true;
  }

  Mm mm_;
  RecycledVector<locks::LockBase*> test_locks_;
};

}  // namespace

std::unique_ptr<MmWorld> CreateMmWorld(
    ctx::Kernel& kernel, BugSet bugs,
    std::span<locks::LockBase* const> test_locks) {
  return std::make_unique<ModelMmWorld>(kernel, bugs, test_locks);
}

}  // namespace reentry::exec
