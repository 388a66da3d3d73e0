#include "stress/workload.h"

#include <algorithm>

#include "allocator/base/gfp.h"

namespace reentry::stress {
namespace {

using ctx::ContextKind;
using ctx::LockType;
using prog::LockVerb;
using prog::Op;
using namespace ::reentry::gfp;  // NOLINT: kernel spelling

constexpr const char* kWorkloadNames[] = {
#define REENTRY_STRESS_WORKLOAD_NAME(e, name, desc) name,
    REENTRY_STRESS_WORKLOADS(REENTRY_STRESS_WORKLOAD_NAME)
#undef REENTRY_STRESS_WORKLOAD_NAME
};
constexpr const char* kWorkloadDescriptions[] = {
#define REENTRY_STRESS_WORKLOAD_DESC(e, name, desc) desc,
    REENTRY_STRESS_WORKLOADS(REENTRY_STRESS_WORKLOAD_DESC)
#undef REENTRY_STRESS_WORKLOAD_DESC
};

// Test lock indices (WorkloadLocks order). Lock order, outermost first:
// M -> B -> A -> S -> LT -> R. P and SM are locks the model knows by name:
// a tty port lock (the console takes it too) and a shrinker's mutex.
enum : uint8_t { kM, kB, kA, kS, kLT, kR, kP, kSM, kNumLocks };

Op Lock(LockVerb v, uint8_t lock) {
  prog::LockCall c;
  c.verb = v;
  c.lock.v = lock;
  return Op(c);
}

Op Alloc(int slot, gfp_t gfp, int order) {
  prog::AllocPages a;
  a.slot.v = static_cast<uint8_t>(slot);
  a.gfp.v = gfp;
  a.order.v = static_cast<uint8_t>(order);
  return Op(a);
}
Op AllocNolock(int slot, gfp_t gfp, int order) {
  prog::AllocPagesNolock a;
  a.slot.v = static_cast<uint8_t>(slot);
  a.gfp.v = gfp;
  a.order.v = static_cast<uint8_t>(order);
  return Op(a);
}
Op Free(int slot) {
  prog::FreePages f;
  f.slot.v = static_cast<uint8_t>(slot);
  return Op(f);
}
Op FreeNolock(int slot) {
  prog::FreePagesNolock f;
  f.slot.v = static_cast<uint8_t>(slot);
  return Op(f);
}
Op Softirq(std::vector<Op> body) {
  prog::Interrupt i;
  i.kind = ContextKind::kSoftirq;
  i.body = std::move(body);
  return Op(i);
}

// Softirq work a hardirq raises. !PREEMPT_RT runs it at irq_exit(), on top
// of whatever the hardirq interrupted. PREEMPT_RT never does: invoke_softirq()
// only wakes ksoftirqd, and softirqs run in a thread, where GFP_ATOMIC and
// spinlock_t are fine. The model cannot run a second task on a vCPU, so on
// RT the streams run this work as a softirq() op between two episodes, with
// nothing held (ksoftirqd's view), and hard handlers raise nothing.
std::vector<Op> MmSoftirqWork(Rng& rng, int slot) {
  const uint64_t r = rng.Below(5);
  if (r < 3) return {Alloc(slot, GFP_ATOMIC, 0), Free(slot)};
  if (r < 4) return {Alloc(slot, GFP_NOWAIT | __GFP_ACCOUNT, 0), Free(slot)};
  return {AllocNolock(slot, 0, 1), FreeNolock(slot)};
}

std::vector<Op> LocksSoftirqWork(bool rt) {
  std::vector<Op> soft;
  soft.push_back(Lock(LockVerb::kSpinLock, kB));
  if (!rt) {
    soft.push_back(Lock(LockVerb::kSpinLockIrqsave, kA));
    soft.push_back(Lock(LockVerb::kSpinUnlockIrqrestore, kA));
  }
  soft.push_back(Lock(LockVerb::kSpinUnlock, kB));
  return soft;
}

int PickOrder(Rng& rng, int max_order) {
  const uint64_t r = rng.Below(100);
  int o;
  if (r < 60) {
    o = 0;
  } else if (r < 75) {
    o = 1;
  } else if (r < 83) {
    o = 2;
  } else if (r < 90) {
    o = 3;
  } else {
    o = 4 + static_cast<int>(rng.Below(7));  // 4..10
  }
  return std::min(o, max_order);
}

// A gfp mask for task context with nothing held (may sleep).
gfp_t TaskGfp(Rng& rng, int order) {
  static constexpr gfp_t kMasks[] = {
      GFP_KERNEL,
      GFP_KERNEL,
      GFP_KERNEL_ACCOUNT,
      GFP_HIGHUSER_MOVABLE,
      GFP_USER,
      GFP_NOFS,
      GFP_NOIO,
      GFP_NOWAIT,
      GFP_ATOMIC,
      GFP_KERNEL | __GFP_ZERO,
      GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL,
      GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN,
      GFP_KERNEL | __GFP_COMP,
      GFP_TRANSHUGE_LIGHT,
      GFP_TRANSHUGE,
  };
  gfp_t g = kMasks[rng.Below(sizeof(kMasks) / sizeof(kMasks[0]))];
  // __GFP_NOFAIL: documented for order <= 1 with direct reclaim only.
  if (order <= 1 && rng.OneIn(20)) g = GFP_KERNEL | __GFP_NOFAIL;
  return g;
}

// A gfp mask for an atomic section (irqs or preemption off, or a spinlock
// held) that is still allowed to spin: GFP_ATOMIC / GFP_NOWAIT.
gfp_t AtomicGfp(Rng& rng) {
  static constexpr gfp_t kMasks[] = {
      GFP_ATOMIC,
      GFP_ATOMIC | __GFP_NOWARN,
      GFP_NOWAIT,
      GFP_NOWAIT | __GFP_ACCOUNT,
      GFP_ATOMIC | __GFP_ZERO,
  };
  return kMasks[rng.Below(sizeof(kMasks) / sizeof(kMasks[0]))];
}

// Invalid masks: each draws a gfp warning (a caller's misuse), nothing else.
gfp_t InvalidGfp(Rng& rng) {
  static constexpr gfp_t kMasks[] = {
      GFP_KERNEL | __GFP_MOVABLE | __GFP_RECLAIMABLE,
      GFP_ATOMIC | __GFP_NOFAIL,
      GFP_KERNEL | __GFP_NOFAIL | __GFP_NORETRY,
  };
  return kMasks[rng.Below(sizeof(kMasks) / sizeof(kMasks[0]))];
}

class RoundBuilder {
 public:
  RoundBuilder(const WorkloadOptions& o, uint64_t seed, int cpu, uint64_t round)
      : o_(o),
        seed_(seed),
        rt_(o.config.preempt_rt),
        cpu_(cpu),
        round_(round),
        nr_(o.config.smp ? o.config.nr_cpus : 1),
        rng_(MixSeed(seed, 0x5354524541ull /* "STREA" */, cpu, round)),
        layout_(LayoutFor(cpu, nr_)) {}

  std::vector<StreamItem> Build() {
    if (o_.kind == WorkloadKind::kMm) {
      const RoundEvents ev = RoundEventsFor(o_, seed_, round_);
      if (ev.offline_cpu == cpu_) return {};  // a dead CPU runs nothing
      if (ev.offline_cpu >= 0 && cpu_ == (ev.offline_cpu + 1) % nr_) {
        prog::CpuOffline c;
        c.cpu.v = static_cast<uint8_t>(ev.offline_cpu);
        Emit(Op(c));
      }
      const int first_online = ev.offline_cpu == 0 ? 1 : 0;
      if (ev.memory_offline && cpu_ == first_online) {
        Emit(Op(prog::OfflinePages{}));
      }
      if (round_ == 0 && cpu_ == 0) {
        // A shrinker that takes SM: reclaim (kswapd, direct reclaim) then
        // orders fs_reclaim before SM, as a filesystem's would.
        prog::RegisterShrinker r;
        r.lock.v = kSM;
        Emit(Op(r));
      }
      while (static_cast<int>(items_.size()) < o_.round_ops) MmEpisode();
      // Free what is still held: the round ends with nothing allocated.
      for (int s : held_) Emit(Free(s));
      held_.clear();
      if (nr_ > 1) Emit(Free(layout_.transfer), StreamItem::Guard::kReclaim);
    } else {
      while (static_cast<int>(items_.size()) < o_.round_ops) LocksEpisode();
    }
    return std::move(items_);
  }

 private:
  void Emit(Op op, StreamItem::Guard g = StreamItem::Guard::kNone,
            int peer = -1) {
    StreamItem it;
    it.op = std::move(op);
    it.guard = g;
    it.peer = static_cast<int8_t>(peer);
    items_.push_back(std::move(it));
  }

  // A task slot not currently held, or -1.
  int FreeTaskSlot() {
    for (int tries = 0; tries < 8; ++tries) {
      const int s = layout_.task[rng_.Below(layout_.task.size())];
      if (std::find(held_.begin(), held_.end(), s) == held_.end()) return s;
    }
    for (int s : layout_.task) {
      if (std::find(held_.begin(), held_.end(), s) == held_.end()) return s;
    }
    return -1;
  }

  void Hold(int s) {
    held_.push_back(s);
    // Keep a few slots for short-lived allocations.
    while (held_.size() + 2 > layout_.task.size()) {
      Emit(Free(held_.front()));
      held_.erase(held_.begin());
    }
  }

  // ---- mm workload ----
  void MmEpisode() {
    if (rt_ && rng_.OneIn(10)) {
      Emit(Softirq(MmSoftirqWork(rng_, layout_.softirq)));
      return;
    }
    const uint64_t r = rng_.Below(1000);
    if (r < 300) {
      SimpleAlloc();
    } else if (r < 450) {
      AtomicSectionAlloc();
    } else if (r < 570) {
      NolockAlloc();
    } else if (r < 620) {
      BulkAlloc();
    } else if (r < 660) {
      if (o_.cma)
        PinEpisode();
      else
        SimpleAlloc();
    } else if (r < 690) {
      // cma_alloc is slow (isolation, migration, a full drain): 1 in 100.
      if (o_.cma && rng_.OneIn(3)) {
        CmaEpisode();
      } else {
        SimpleAlloc();
      }
    } else if (r < 740) {
      if (nr_ > 1)
        Emit(Alloc(layout_.transfer, TaskGfp(rng_, 0) & ~__GFP_NOFAIL,
                   static_cast<int>(rng_.Below(2))),
             StreamItem::Guard::kGive);
    } else if (r < 790) {
      if (nr_ > 1) {
        const int peer = (cpu_ + nr_ - 1) % nr_;
        const int slot = LayoutFor(peer, nr_).transfer;
        Emit(rng_.OneIn(3) ? FreeNolock(slot) : Free(slot),
             StreamItem::Guard::kTake, peer);
      }
    } else if (r < 820) {
      Emit(rng_.OneIn(2) ? Op(prog::DrainLocalPages{})
                         : Op(prog::DrainAllPages{}));
    } else if (r < 835) {
      if (o_.hotplug) Hotplug();
    } else if (r < 880) {
      Misc();
    } else if (r < 885) {
      if (o_.fault_injection) {
        prog::FailPageAlloc f;
        f.interval.v = static_cast<uint8_t>(2 + rng_.Below(9));
        f.times.v = static_cast<uint8_t>(rng_.Below(4));  // 0 disables
        Emit(Op(f));
      }
    } else if (r < 900) {
      if (rng_.Below(1000) < o_.invalid_gfp * 1000 * 7)
        InvalidAlloc();
      else
        SimpleAlloc();
    } else {
      SimpleAlloc();
    }
  }

  void SimpleAlloc() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    const int order = PickOrder(rng_, prog::kMaxOrder);
    Emit(Alloc(s, TaskGfp(rng_, order), order));
    if (rng_.OneIn(2)) {
      Emit(Free(s));
    } else {
      Hold(s);
    }
  }

  void InvalidAlloc() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    if (rng_.OneIn(3)) {
      // Flags alloc_pages_nolock() does not take.
      Emit(AllocNolock(s, rng_.OneIn(2) ? GFP_KERNEL : __GFP_HIGH,
                       static_cast<int>(rng_.Below(3))));
      Emit(FreeNolock(s));
      return;
    }
    Emit(Alloc(s, InvalidGfp(rng_), 0));
    Emit(Free(s));
  }

  // An allocation inside an atomic section the task opens itself.
  void AtomicSectionAlloc() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    const int order = std::min<int>(static_cast<int>(rng_.Below(3)), 2);
    enum { kIrqSave, kIrqLock, kPreempt, kBh, kRaw, kNumGuards };
    const int g = static_cast<int>(rng_.Below(kNumGuards));
    // Hard atomic sections (irqs or preemption off for real, a raw lock)
    // allow only the nolock API on PREEMPT_RT; under a raw spinlock only
    // the nolock API is allowed anywhere (the allocator takes spinlock_t:
    // CONFIG_PROVE_RAW_LOCK_NESTING).
    const bool hard = g == kIrqSave || g == kPreempt || g == kRaw;
    const bool nolock = (rt_ && hard) || g == kRaw || rng_.OneIn(4);
    switch (g) {
      case kIrqSave:
        Emit(Op(prog::LocalIrqSave{}));
        break;
      case kIrqLock:
        Emit(Lock(LockVerb::kSpinLockIrqsave, kA));
        break;
      case kPreempt:
        Emit(Op(prog::PreemptDisable{}));
        break;
      case kBh:
        Emit(Op(prog::LocalBhDisable{}));
        break;
      case kRaw:
        Emit(Lock(LockVerb::kRawSpinLockIrqsave, kR));
        break;
    }
    if (nolock) {
      Emit(AllocNolock(s, rng_.OneIn(4) ? __GFP_ACCOUNT : 0, order));
    } else {
      Emit(Alloc(s, AtomicGfp(rng_), order));
    }
    // __free_pages() is not for raw-lock holders; free_pages_nolock() is.
    const bool free_nolock = g == kRaw || (rt_ && hard) || rng_.OneIn(3);
    Emit(free_nolock ? FreeNolock(s) : Free(s));
    switch (g) {
      case kIrqSave:
        Emit(Op(prog::LocalIrqRestore{}));
        break;
      case kIrqLock:
        Emit(Lock(LockVerb::kSpinUnlockIrqrestore, kA));
        break;
      case kPreempt:
        Emit(Op(prog::PreemptEnable{}));
        break;
      case kBh:
        Emit(Op(prog::LocalBhEnable{}));
        break;
      case kRaw:
        Emit(Lock(LockVerb::kRawSpinUnlockIrqrestore, kR));
        break;
    }
  }

  void NolockAlloc() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    // Orders above PAGE_ALLOC_COSTLY_ORDER fail by design: keep a few.
    const int order = rng_.OneIn(20) ? 4 : static_cast<int>(rng_.Below(4));
    Emit(AllocNolock(s, rng_.OneIn(4) ? __GFP_ACCOUNT : 0, order));
    Emit(rng_.OneIn(2) ? FreeNolock(s) : Free(s));
  }

  void BulkAlloc() {
    // alloc_pages_bulk(gfp, n) fills p[s]..p[s+n-1]: needs a run of slots.
    const auto& t = layout_.task;
    const int n = 1 + static_cast<int>(rng_.Below(4));
    for (size_t start = 0; start + n <= t.size(); ++start) {
      bool ok = true;
      for (int i = 0; i < n && ok; ++i) {
        ok = t[start + i] == t[start] + i &&
             std::find(held_.begin(), held_.end(), t[start + i]) == held_.end();
      }
      if (!ok) continue;
      prog::AllocPagesBulk b;
      b.slot.v = static_cast<uint8_t>(t[start]);
      b.gfp.v = rng_.OneIn(2) ? GFP_KERNEL : GFP_ATOMIC;
      b.count.v = static_cast<uint8_t>(n);
      Emit(Op(b));
      for (int i = 0; i < n; ++i) Emit(Free(t[start] + i));
      return;
    }
  }

  void PinEpisode() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    Emit(Alloc(s, rng_.OneIn(2) ? GFP_HIGHUSER_MOVABLE : GFP_KERNEL, 0));
    prog::PinPage pin;
    pin.slot.v = static_cast<uint8_t>(s);
    pin.longterm.v = rng_.OneIn(3);
    Emit(Op(pin));
    if (rng_.OneIn(2)) Emit(Op(prog::DrainLocalPages{}));
    if (rng_.OneIn(4)) {
      // Something else wants contiguous memory while the pin is held (vfio
      // pins guest memory long-term; the CMA area may hold the page).
      const int c = FreeTaskSlot();
      if (c >= 0 && c != s) {
        prog::CmaAlloc ca;
        ca.slot.v = static_cast<uint8_t>(c);
        ca.count.v = static_cast<uint8_t>(8 + rng_.Below(9));
        Emit(Op(ca));
        prog::CmaRelease cr;
        cr.slot.v = static_cast<uint8_t>(c);
        Emit(Op(cr));
      }
    }
    prog::UnpinPage unpin;
    unpin.slot.v = static_cast<uint8_t>(s);
    if (rng_.OneIn(2)) {
      Emit(Op(unpin));
      Emit(Free(s));
    } else {
      Emit(Free(s));  // freed while pinned: the pin keeps the page
      Emit(Op(unpin));
    }
  }

  void CmaEpisode() {
    const int s = FreeTaskSlot();
    if (s < 0) return;
    prog::CmaAlloc c;
    c.slot.v = static_cast<uint8_t>(s);
    c.count.v = static_cast<uint8_t>(1 + rng_.Below(8));
    Emit(Op(c));
    prog::CmaRelease r;
    r.slot.v = static_cast<uint8_t>(s);
    Emit(Op(r));
  }

  // Zonelist rebuilds (memory and CPU hotplug proper are round events).
  void Hotplug() { Emit(Op(prog::BuildAllZonelists{})); }

  void Misc() {
    const uint64_t r = rng_.Below(7);
    if (r == 5) {
      // A tty driver: kmalloc(GFP_ATOMIC|__GFP_NOWARN) under port->lock
      // (tty_insert_flip_string_and_push_buffer()).
      const int s = FreeTaskSlot();
      if (s < 0) return;
      Emit(Lock(LockVerb::kSpinLockIrqsave, kP));
      Emit(
          Alloc(s, GFP_ATOMIC | __GFP_NOWARN, static_cast<int>(rng_.Below(2))));
      Emit(Free(s));
      Emit(Lock(LockVerb::kSpinUnlockIrqrestore, kP));
      return;
    }
    if (r == 6) {
      // Allocating under the lock a shrinker takes. The clean model's
      // shrinkers trylock (they back off with SHRINK_STOP), so GFP_KERNEL is
      // fine here; with BZ-17 the shrinker blocks and fs_reclaim inverts.
      const int s = FreeTaskSlot();
      if (s < 0) return;
      Emit(Lock(LockVerb::kMutexLock, kSM));
      Emit(Alloc(s, rng_.OneIn(2) ? GFP_KERNEL : GFP_NOFS, 0));
      Emit(Free(s));
      Emit(Lock(LockVerb::kMutexUnlock, kSM));
      return;
    }
    if (r == 0) {
      Emit(Op(prog::KswapdRun{}));
    } else if (r == 1) {
      Emit(Op(prog::Printk{}));
    } else if (r == 2) {
      Emit(Op(prog::KvfreeRcu{}));
    } else if (r == 3) {
      const int s = FreeTaskSlot();
      if (s < 0) return;
      Emit(Op(prog::MemallocNofsSave{}));
      Emit(Alloc(s, GFP_KERNEL, 0));
      Emit(Free(s));
      Emit(Op(prog::MemallocNofsRestore{}));
    } else {
      Emit(Op(prog::MightSleep{}));
    }
  }

  // ---- locks workload ----
  void LocksEpisode() {
    if (o_.kind == WorkloadKind::kLocksAbba) {
      const uint8_t first = cpu_ % 2 ? kP : kA, second = cpu_ % 2 ? kA : kP;
      Emit(Lock(LockVerb::kSpinLockIrqsave, first));
      // Widen the window in which both vCPUs hold their first lock.
      for (int i = 0; i < 4; ++i) {
        Emit(Op(prog::PreemptDisable{}));
        Emit(Op(prog::PreemptEnable{}));
      }
      Emit(Lock(LockVerb::kSpinLockIrqsave, second));
      Emit(Lock(LockVerb::kSpinUnlockIrqrestore, second));
      Emit(Lock(LockVerb::kSpinUnlockIrqrestore, first));
      return;
    }
    if (rt_ && rng_.OneIn(10)) {
      Emit(Softirq(LocksSoftirqWork(true)));
      return;
    }
    const uint64_t r = rng_.Below(100);
    if (r < 70) {
      LockSection();
    } else if (r < 80) {
      // Interrupts off, then only the raw lock.
      Emit(Op(prog::LocalIrqDisable{}));
      if (rng_.OneIn(2)) {
        Emit(Lock(LockVerb::kRawSpinLock, kR));
        Emit(Lock(LockVerb::kRawSpinUnlock, kR));
      }
      Emit(Op(prog::LocalIrqEnable{}));
    } else if (r < 88) {
      Emit(Op(prog::PreemptDisable{}));
      if (rng_.OneIn(2)) {
        Emit(Lock(LockVerb::kRawSpinLockIrqsave, kR));
        Emit(Lock(LockVerb::kRawSpinUnlockIrqrestore, kR));
      }
      Emit(Op(prog::PreemptEnable{}));
    } else if (r < 94) {
      Emit(Op(prog::LocalBhDisable{}));
      Emit(Lock(LockVerb::kSpinLock, kB));
      Emit(Lock(LockVerb::kSpinUnlock, kB));
      Emit(Op(prog::LocalBhEnable{}));
    } else {
      // A seqlock reader in task context. The kernel annotates readers
      // with IRQs off (seqcount_lockdep_reader_access()); the checker here
      // records the caller's IRQ state, so read with IRQs off as well.
      Emit(Op(prog::MightSleep{}));
      Emit(Op(prog::LocalIrqSave{}));
      Emit(Lock(LockVerb::kReadSeqbegin, kS));
      Emit(Lock(LockVerb::kReadSeqretry, kS));
      Emit(Op(prog::LocalIrqRestore{}));
    }
  }

  // Takes a random subset of the locks in lock order and releases them.
  void LockSection() {
    const bool buggy = o_.kind == WorkloadKind::kLocksBuggy;
    struct Pair {
      LockVerb lock, unlock;
      uint8_t l;
    };
    std::vector<Pair> taken;
    if (rng_.OneIn(4))
      taken.push_back({LockVerb::kMutexLock, LockVerb::kMutexUnlock, kM});
    if (rng_.OneIn(3))
      taken.push_back({LockVerb::kSpinLockBh, LockVerb::kSpinUnlockBh, kB});
    if (rng_.OneIn(2)) {
      if (buggy && !rt_ && rng_.OneIn(3)) {
        // The planted bug: an irq-safe lock taken with interrupts on.
        taken.push_back({LockVerb::kSpinLock, LockVerb::kSpinUnlock, kA});
      } else {
        taken.push_back(
            {LockVerb::kSpinLockIrqsave, LockVerb::kSpinUnlockIrqrestore, kA});
      }
    }
    if (rng_.OneIn(4)) {
      taken.push_back({LockVerb::kWriteSeqlockIrqsave,
                       LockVerb::kWriteSequnlockIrqrestore, kS});
    }
    if (rng_.OneIn(4)) {
      taken.push_back(
          {LockVerb::kLocalLockIrqsave, LockVerb::kLocalUnlockIrqrestore, kLT});
    }
    if (rng_.OneIn(2) || taken.empty()) {
      taken.push_back({LockVerb::kRawSpinLockIrqsave,
                       LockVerb::kRawSpinUnlockIrqrestore, kR});
    }
    for (const Pair& p : taken) Emit(Lock(p.lock, p.l));
    for (size_t i = taken.size(); i-- > 0;)
      Emit(Lock(taken[i].unlock, taken[i].l));
  }

  const WorkloadOptions& o_;
  const uint64_t seed_;
  const bool rt_;
  const int cpu_;
  const uint64_t round_;
  const int nr_;
  Rng rng_;
  SlotLayout layout_;
  std::vector<StreamItem> items_;
  std::vector<int> held_;
};

}  // namespace

const char* WorkloadName(WorkloadKind k) {
  return kWorkloadNames[static_cast<int>(k)];
}
const char* WorkloadDescription(WorkloadKind k) {
  return kWorkloadDescriptions[static_cast<int>(k)];
}
bool ParseWorkload(const std::string& s, WorkloadKind* out) {
  for (int i = 0; i < static_cast<int>(WorkloadKind::kCount); ++i) {
    if (s == kWorkloadNames[i]) {
      *out = static_cast<WorkloadKind>(i);
      return true;
    }
  }
  return false;
}

uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = seed;
  uint64_t h = Rng::SplitMix64(x);
  x = h ^ a;
  h = Rng::SplitMix64(x);
  x = h ^ b;
  h = Rng::SplitMix64(x);
  x = h ^ c;
  return Rng::SplitMix64(x);
}

std::vector<prog::LockDecl> WorkloadLocks(const WorkloadOptions&) {
  return {
      {"M", LockType::kMutex, "&stress->mutex"},
      {"B", LockType::kSpinlock, "&stress->bh_lock"},
      {"A", LockType::kSpinlock, "&stress->irq_lock"},
      {"S", LockType::kSeqlock, "&stress->seqlock"},
      {"LT", LockType::kLocalTrylock, "&stress->pcpu_lock"},
      {"R", LockType::kRawSpinlock, "&stress->raw_lock"},
      {"P", LockType::kSpinlock, "&port->lock"},
      {"SM", LockType::kMutex, "&m->lock"},
  };
}

int MaxCpus(WorkloadKind k) {
  // mm: 3 handler slots + a transfer slot + at least 4 task slots per vCPU.
  return k == WorkloadKind::kMm ? 4 : ctx::kMaxCpus;
}

SlotLayout LayoutFor(int cpu, int nr_cpus) {
  SlotLayout l;
  if (nr_cpus < 1) nr_cpus = 1;
  const int per = prog::kMaxSlots / nr_cpus;
  const int base = cpu * per;
  if (per < 4) return l;  // only the locks workload runs this many vCPUs
  l.softirq = base + 0;
  l.hardirq = base + 1;
  l.nmi = base + 2;
  int next = base + 3;
  if (nr_cpus > 1) l.transfer = next++;
  for (; next < base + per; ++next) l.task.push_back(next);
  return l;
}

const char* IrqSourceName(IrqSource s) {
  switch (s) {
    case IrqSource::kTimer:
      return "timer";
    case IrqSource::kIpi:
      return "ipi";
    case IrqSource::kNmi:
      return "nmi";
    default:
      return "?";
  }
}

HandlerCatalog::HandlerCatalog(const WorkloadOptions& o, int nr_cpus) {
  const bool rt = o.config.preempt_rt;
  auto add = [&](int cpu, IrqSource s, const std::string& name,
                 ContextKind kind, std::vector<Op> body, int weight) {
    Entry e;
    e.h.name = name;
    e.h.kind = kind;
    e.h.body = std::move(body);
    e.weight = weight;
    table_[cpu][static_cast<int>(s)].push_back(std::move(e));
  };
  const IrqSource kTimer = IrqSource::kTimer, kIpi = IrqSource::kIpi,
                  kNmi = IrqSource::kNmi;
  const ContextKind kHard = ContextKind::kHardirq, kNmiCtx = ContextKind::kNmi;
  for (int c = 0; c < nr_cpus && c < ctx::kMaxCpus; ++c) {
    if (o.kind == WorkloadKind::kMm) {
      const SlotLayout l = LayoutFor(c, nr_cpus);
      const int h = l.hardirq, sh = l.softirq, n = l.nmi;
      // softirq work raised by a hardirq: runs at irq_exit() or when bh is
      // enabled again (!RT; on RT the streams run it, see MmSoftirqWork()).
      std::vector<Op> soft = {Alloc(sh, GFP_ATOMIC, 0), Free(sh)};
      std::vector<Op> soft_account = {Alloc(sh, GFP_NOWAIT | __GFP_ACCOUNT, 0),
                                      Free(sh)};
      std::vector<Op> soft_nolock = {AllocNolock(sh, 0, 1), FreeNolock(sh)};
      std::vector<Op> bpf_o2 = {AllocNolock(h, __GFP_ACCOUNT, 2),
                                FreeNolock(h)};
      if (!rt) {
        add(c, kTimer, "tick+softirq", kHard, {Softirq(soft)}, 3);
        add(c, kTimer, "tick+softirq_account", kHard, {Softirq(soft_account)},
            1);
        bpf_o2.push_back(Softirq(soft_nolock));
      }
      add(c, kTimer, "tick", kHard, {}, rt ? 4 : 2);
      add(c, kTimer, "bpf_nolock", kHard, {AllocNolock(h, 0, 0), FreeNolock(h)},
          3);
      add(c, kTimer, "bpf_nolock_o2", kHard, bpf_o2, 1);
      if (!rt) {
        // Hard handlers may spin on !RT.
        add(c, kTimer, "rx_refill", kHard,
            {Alloc(h, GFP_ATOMIC, 0), Free(h), Softirq(soft)}, 3);
        add(c, kTimer, "rx_account", kHard,
            {Alloc(h, GFP_NOWAIT | __GFP_ACCOUNT, 0), Free(h)}, 1);
        add(c, kTimer, "rx_o1", kHard,
            {Alloc(h, GFP_ATOMIC | __GFP_NOWARN, 1), FreeNolock(h)}, 1);
        // A large atomic refill: often the slow path under pressure.
        add(c, kTimer, "rx_big", kHard,
            {Alloc(h, GFP_ATOMIC | __GFP_NOWARN, 4), Free(h)}, 1);
      }
      add(c, kIpi, "tlb_flush", kHard, {}, 3);
      add(c, kIpi, "call_func_nolock", kHard,
          {AllocNolock(h, 0, 0), FreeNolock(h)}, 1);
      add(c, kNmi, "perf_bpf_nolock", kNmiCtx,
          {AllocNolock(n, 0, 0), FreeNolock(n)}, 3);
      add(c, kNmi, "perf_bpf_nolock_o3", kNmiCtx,
          {AllocNolock(n, 0, 3), FreeNolock(n)}, 1);
      add(c, kNmi, "perf_sample", kNmiCtx, {}, 1);
    } else {
      const bool buggy = o.kind == WorkloadKind::kLocksBuggy;
      std::vector<Op> raw = {Lock(LockVerb::kRawSpinLock, kR),
                             Lock(LockVerb::kRawSpinUnlock, kR)};
      if (!rt) {
        add(c, kTimer, "tick+softirq", kHard, {Softirq(LocksSoftirqWork(rt))},
            2);
      } else {
        add(c, kTimer, "tick", kHard, {}, 2);
      }
      add(c, kTimer, "raw", kHard, raw, 2);
      if (!rt || buggy) {
        add(c, kTimer, "irq_lock", kHard,
            {Lock(LockVerb::kSpinLock, kA), Lock(LockVerb::kRawSpinLock, kR),
             Lock(LockVerb::kRawSpinUnlock, kR),
             Lock(LockVerb::kSpinUnlock, kA)},
            buggy ? 6 : 2);
      }
      if (!rt) {
        add(c, kTimer, "seq_reader", kHard,
            {Lock(LockVerb::kReadSeqbegin, kS),
             Lock(LockVerb::kReadSeqretry, kS)},
            1);
        add(c, kTimer, "pcpu_trylock", kHard,
            {Lock(LockVerb::kLocalTrylock, kLT),
             Lock(LockVerb::kLocalUnlock, kLT)},
            1);
      }
      add(c, kIpi, "tlb_flush", kHard, raw, 1);
      add(c, kNmi, "perf_sample", kNmiCtx,
          {Op(prog::PreemptDisable{}), Op(prog::PreemptEnable{})}, 1);
    }
  }
  if (o.kind == WorkloadKind::kMm) {
    ipi_work_ = Op(prog::DrainLocalPages{});
    has_ipi_work_ = true;
  }
}

int HandlerCatalog::size(int cpu, IrqSource s) const {
  return static_cast<int>(table_[cpu][static_cast<int>(s)].size());
}

const Handler& HandlerCatalog::handler(int cpu, IrqSource s, int i) const {
  return table_[cpu][static_cast<int>(s)][i].h;
}

int HandlerCatalog::Pick(int cpu, IrqSource s, Rng& rng) const {
  const auto& t = table_[cpu][static_cast<int>(s)];
  if (t.empty()) return -1;
  int total = 0;
  for (const Entry& e : t) total += e.weight;
  int r = static_cast<int>(rng.Below(static_cast<uint64_t>(total)));
  for (size_t i = 0; i < t.size(); ++i) {
    r -= t[i].weight;
    if (r < 0) return static_cast<int>(i);
  }
  return 0;
}

RoundEvents RoundEventsFor(const WorkloadOptions& o, uint64_t seed,
                           uint64_t round) {
  RoundEvents ev;
  if (o.kind != WorkloadKind::kMm || !o.hotplug) return ev;
  const int nr = o.config.smp ? o.config.nr_cpus : 1;
  Rng rng(MixSeed(seed, 0x484f54ull /* "HOT" */, round));
  if (nr > 1 && round > 0 && rng.OneIn(64)) {
    ev.offline_cpu = static_cast<int>(rng.Below(static_cast<uint64_t>(nr)));
  }
  // Offlined memory stays offline (the program language has no online op
  // yet): offline at rounds 1000, 2000, 4000, 8000, ... so that a long run
  // keeps exercising it without running out of memory.
  ev.memory_offline = o.memory_offline && round >= 1000 && round % 1000 == 0 &&
                      ((round / 1000) & (round / 1000 - 1)) == 0;
  return ev;
}

std::vector<StreamItem> GenerateRound(const WorkloadOptions& o, uint64_t seed,
                                      int cpu, uint64_t round) {
  return RoundBuilder(o, seed, cpu, round).Build();
}

}  // namespace reentry::stress
