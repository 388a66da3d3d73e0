// Unit tests of the checker's rules, each with must-fire and must-not-fire
// cases. The locks are driven directly on vCPUs of a kernel without an
// executor, so nothing may really wait or deadlock here: scenarios that would
// hang a vCPU (a spinlock retaken by an interrupt) are fed to the checker as
// synthetic events instead (the lock layer emits the acquire event before it
// spins, so the checker sees exactly these).
#include "allocator/lockdep/lockdep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "allocator/base/gfp.h"
#include "allocator/lockdep/usage.h"
#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using ctx::ContextKind;
using ctx::EventKind;
using ctx::LockType;
using namespace reentry::locks;  // NOLINT: kernel-spelled API

// A kernel with lockdep attached and vCPU 0 current.
struct Env {
  explicit Env(ctx::Config c = ctx::Config(), Options o = Options())
      : kernel(c), ld(kernel, o) {
    kernel.AddObserver(&ld);
    ctx::set_this_cpu(&kernel.cpu(0));
  }
  ~Env() { ctx::set_this_cpu(nullptr); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  ctx::Cpu& cpu() { return ctx::this_cpu(); }
  bool has(FindingKind k) const { return kernel.findings().has(k); }
  size_t count(FindingKind k) const {
    size_t n = 0;
    for (const Finding& f : kernel.findings()) n += f.kind == k;
    return n;
  }
  const Finding* first(FindingKind k) const {
    for (const Finding& f : kernel.findings()) {
      if (f.kind == k) return &f;
    }
    return nullptr;
  }
  size_t size() const { return kernel.findings().size(); }
  std::string kinds() const {
    std::string s;
    for (const Finding& f : kernel.findings()) {
      s += FindingKindName(f.kind);
      s += "(";
      s += f.detail;
      s += ") ";
    }
    return s.empty() ? "none" : s;
  }

  // Synthetic events on the current vCPU, as the lock layer would emit them.
  ctx::Event Ev(EventKind k, const LockBase& l, uint16_t flags,
                const void* instance = nullptr) {
    ctx::Event e = cpu().MakeEvent(k);
    e.class_id = l.class_id();
    e.lock_type = l.type();
    e.lock = instance != nullptr ? instance : &l;
    e.flags = flags;
    e.function = "test_fn";
    return e;
  }
  void Acquire(const LockBase& l, uint16_t flags = 0,
               const void* instance = nullptr) {
    kernel.Emit(cpu(), Ev(EventKind::kLockAcquire, l, flags, instance));
    kernel.Emit(cpu(), Ev(EventKind::kLockAcquired, l, flags, instance));
  }
  void Release(const LockBase& l, uint16_t flags = 0,
               const void* instance = nullptr) {
    kernel.Emit(cpu(), Ev(EventKind::kLockRelease, l, flags, instance));
  }
  void Alloc(gfp_t gfp, int order = 0) {
    ctx::Event e = cpu().MakeEvent(EventKind::kMightAlloc);
    e.gfp = gfp;
    e.order = static_cast<int16_t>(order);
    e.function = "alloc_pages";
    kernel.Emit(cpu(), e);
  }
  void Nolock(bool enter) {
    ctx::Event e = cpu().MakeEvent(enter ? EventKind::kNolockEnter
                                         : EventKind::kNolockExit);
    e.function = "alloc_pages_nolock";
    kernel.Emit(cpu(), e);
  }

  ctx::Kernel kernel;
  Lockdep ld;
};

ctx::Config Rt() {
  ctx::Config c;
  c.preempt_rt = true;
  return c;
}

// --- Dependencies and cycles ----------------------------------------------

TEST(LockdepTest, OrderedNestingIsSilentAndCached) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  for (int i = 0; i < 3; ++i) {
    spin_lock(a);
    spin_lock(b);
    spin_unlock(b);
    spin_unlock(a);
  }
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  EXPECT_TRUE(env.ld.HasDependency(a.class_id(), b.class_id()));
  EXPECT_FALSE(env.ld.HasDependency(b.class_id(), a.class_id()));
  EXPECT_EQ(env.ld.HeldCount(0), 0);
  EXPECT_EQ(env.ld.stats().chain_misses, 2u);  // [A] and [A, B]
  EXPECT_EQ(env.ld.stats().chain_hits, 4u);
}

TEST(LockdepTest, AbbaReportsBothChains) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  env.cpu().set_op_index(1);
  spin_lock(a, "first");
  spin_lock(b, "first");
  spin_unlock(b);
  spin_unlock(a);
  EXPECT_EQ(env.size(), 0u);
  env.cpu().set_op_index(7);
  spin_lock(b, "second");
  spin_lock(a, "second");
  spin_unlock(a);
  spin_unlock(b);
  const Finding* f = env.first(FindingKind::kCircularDependency);
  ASSERT_NE(f, nullptr) << env.kinds();
  ASSERT_GE(f->locks.size(), 4u);
  EXPECT_STREQ(f->locks[0].name, "A");
  EXPECT_EQ(f->locks[0].role, LockRole::kAcquiring);
  EXPECT_EQ(f->locks[0].op_index, 7u);
  EXPECT_STREQ(f->locks[1].name, "B");
  EXPECT_EQ(f->locks[1].role, LockRole::kHolder);
  // The existing chain: #1 is B, taken (while holding A) at op 1.
  EXPECT_EQ(f->locks[2].role, LockRole::kChainExisting);
  EXPECT_STREQ(f->locks[2].name, "B");
  EXPECT_EQ(f->locks[2].op_index, 1u);
  EXPECT_STREQ(f->locks[2].function, "first");
  EXPECT_EQ(f->locks[3].role, LockRole::kHeld);
  EXPECT_STREQ(f->function, "second");
}

TEST(LockdepTest, CycleReportedOnceWhateverEdgeClosesIt) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  for (int i = 0; i < 2; ++i) {
    spin_lock(a);
    spin_lock(b);
    spin_unlock(b);
    spin_unlock(a);
    spin_lock(b);
    spin_lock(a);
    spin_unlock(a);
    spin_unlock(b);
  }
  EXPECT_EQ(env.count(FindingKind::kCircularDependency), 1u);
}

TEST(LockdepTest, AnotherCycleThroughAReportedEdgeIsReported) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B"), c(env.kernel, "C");
  auto nest = [](Spinlock& x, Spinlock& y) {
    spin_lock(x);
    spin_lock(y);
    spin_unlock(y);
    spin_unlock(x);
  };
  nest(a, b);
  nest(b, a);  // cycle {A, B}; B -> A is still recorded
  EXPECT_EQ(env.count(FindingKind::kCircularDependency), 1u);
  nest(a, c);
  nest(c, b);  // C -> B -> A -> C: another cycle
  EXPECT_EQ(env.count(FindingKind::kCircularDependency), 2u) << env.kinds();
}

TEST(LockdepTest, CrossCpuCycle) {
  Env env;
  Mutex a(env.kernel, "A"), b(env.kernel, "B");
  ctx::set_this_cpu(&env.kernel.cpu(0));
  mutex_lock(a);
  mutex_lock(b);
  mutex_unlock(b);
  mutex_unlock(a);
  ctx::set_this_cpu(&env.kernel.cpu(1));
  mutex_lock(b);
  mutex_lock(a);
  mutex_unlock(a);
  mutex_unlock(b);
  EXPECT_TRUE(env.has(FindingKind::kCircularDependency)) << env.kinds();
}

TEST(LockdepTest, SameClassNestedIsRecursiveButSubclassIsNot) {
  {
    Env env;
    Spinlock a1(env.kernel, "X"), a2(env.kernel, "X");
    spin_lock(a1);
    spin_lock(a2);
    spin_unlock(a2);
    spin_unlock(a1);
    const Finding* f = env.first(FindingKind::kRecursiveLocking);
    ASSERT_NE(f, nullptr) << env.kinds();
    EXPECT_EQ(FindingVerdict(f->kind), Verdict::kAA);
  }
  {
    Env env;
    Spinlock a1(env.kernel, "X"), a2(env.kernel, "X");
    spin_lock(a1);
    spin_lock_nested(a2, 1);
    spin_unlock(a2);
    spin_unlock(a1);
    EXPECT_EQ(env.size(), 0u) << env.kinds();
  }
}

// --- Trylock ----------------------------------------------------------------

TEST(LockdepTest, NoDependencyIntoATrylock) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  spin_lock(a);
  ASSERT_TRUE(spin_trylock(b));
  spin_unlock(b);
  spin_unlock(a);
  EXPECT_FALSE(env.ld.HasDependency(a.class_id(), b.class_id()));
  // B -> A afterwards closes no cycle: a trylock cannot deadlock.
  spin_lock(b);
  spin_lock(a);
  spin_unlock(a);
  spin_unlock(b);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, HeldTrylockOrdersLaterAcquisitions) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B"), c(env.kernel, "C");
  spin_lock(a);
  ASSERT_TRUE(spin_trylock(b));
  spin_lock(c);
  spin_unlock(c);
  spin_unlock(b);
  spin_unlock(a);
  EXPECT_TRUE(env.ld.HasDependency(b.class_id(), c.class_id()));
  EXPECT_TRUE(env.ld.HasDependency(a.class_id(), c.class_id()));
  // C -> B then closes B -> C.
  spin_lock(c);
  spin_lock(b);
  spin_unlock(b);
  spin_unlock(c);
  EXPECT_TRUE(env.has(FindingKind::kCircularDependency)) << env.kinds();
}

TEST(LockdepTest, TrylockInIrqMarksNoIrqSafety) {
  Env env;
  Spinlock a(env.kernel, "A");
  env.cpu().EnterContext(ContextKind::kHardirq);
  ASSERT_TRUE(spin_trylock(a));
  spin_unlock(a);
  env.cpu().ExitContext();
  EXPECT_EQ(env.ld.Usage(a.class_id()) & UsageFlag(kUsedInHARDIRQ), 0);
  spin_lock(a);  // irqs on: HARDIRQ-ON-W, no conflict
  spin_unlock(a);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  EXPECT_NE(env.ld.Usage(a.class_id()) & UsageFlag(kEnabledHARDIRQ), 0);
}

TEST(LockdepTest, TrylockWithIrqsOnMarksEnabled) {
  Env env;
  Spinlock a(env.kernel, "A");
  ASSERT_TRUE(spin_trylock(a));
  spin_unlock(a);
  EXPECT_NE(env.ld.Usage(a.class_id()) & UsageFlag(kEnabledHARDIRQ), 0);
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_lock(a);
  spin_unlock(a);
  env.cpu().ExitContext();
  EXPECT_TRUE(env.has(FindingKind::kInconsistentLockState)) << env.kinds();
}

// The page allocator's pattern: pcp->lock trylocked in task context with
// irqs on, zone->lock taken irqsave under it; interrupts trylock pcp->lock
// (failing or not) and take zone->lock irqsave. Must stay silent.
TEST(LockdepTest, PcpThenZoneLockIsSilent) {
  for (int variant = 0; variant < 4; ++variant) {
    SCOPED_TRACE(variant);
    Env env;
    Spinlock pcp(env.kernel, "&pcp->lock"), zone(env.kernel, "&zone->lock");
    auto refill = [&] {  // rmqueue_pcplist -> rmqueue_bulk
      ASSERT_TRUE(spin_trylock(pcp, "rmqueue_pcplist"));
      IrqFlags f = spin_lock_irqsave(zone, "rmqueue_bulk");
      spin_unlock_irqrestore(zone, f, "rmqueue_bulk");
      spin_unlock(pcp, "rmqueue_pcplist");
    };
    auto irq_alloc = [&] {  // rmqueue: pcp trylock, else the buddy
      if (spin_trylock(pcp, "rmqueue_pcplist")) {
        IrqFlags f = spin_lock_irqsave(zone, "rmqueue_bulk");
        spin_unlock_irqrestore(zone, f, "rmqueue_bulk");
        spin_unlock(pcp, "rmqueue_pcplist");
      } else {
        IrqFlags f = spin_lock_irqsave(zone, "rmqueue_buddy");
        spin_unlock_irqrestore(zone, f, "rmqueue_buddy");
      }
    };
    refill();
    switch (variant) {
      case 0:  // a hardirq lands while the task holds pcp->lock
        ASSERT_TRUE(spin_trylock(pcp, "rmqueue_pcplist"));
        env.cpu().EnterContext(ContextKind::kHardirq);
        irq_alloc();  // trylock fails
        env.cpu().ExitContext();
        spin_unlock(pcp);
        break;
      case 1:  // a hardirq with pcp->lock free
        env.cpu().EnterContext(ContextKind::kHardirq);
        irq_alloc();
        env.cpu().ExitContext();
        break;
      case 2:  // a softirq lands while the task holds pcp->lock
        ASSERT_TRUE(spin_trylock(pcp, "rmqueue_pcplist"));
        env.cpu().EnterContext(ContextKind::kSoftirq);
        irq_alloc();
        env.cpu().ExitContext();
        spin_unlock(pcp);
        break;
      case 3: {  // nolock from NMI while the task holds zone->lock
        IrqFlags f = spin_lock_irqsave(zone, "rmqueue_bulk");
        env.cpu().EnterContext(ContextKind::kNmi);
        env.Nolock(true);
        if (spin_trylock(pcp, "rmqueue_pcplist")) spin_unlock(pcp);
        IrqFlags g;
        EXPECT_FALSE(spin_trylock_irqsave(zone, &g, "rmqueue_buddy"));
        env.Nolock(false);
        env.cpu().ExitContext();
        spin_unlock_irqrestore(zone, f, "rmqueue_bulk");
        break;
      }
    }
    refill();
    EXPECT_EQ(env.size(), 0u) << env.kinds();
  }
}

// --- Same-CPU reentry
// ---------------------------------------------------------

TEST(LockdepTest, InterruptRetakingHeldSpinlockIsDefiniteAA) {
  Env env;
  Spinlock zone(env.kernel, "&zone->lock");
  env.Acquire(zone);  // the task holds it, irqs on
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Acquire(zone);  // what spin_lock emits before it spins forever
  const Finding* f = env.first(FindingKind::kRecursiveLocking);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_EQ(std::string(f->detail).rfind("AA:", 0), 0u) << f->detail;
  EXPECT_NE(std::string(f->detail).find("interrupted task frame"),
            std::string::npos)
      << f->detail;
  EXPECT_EQ(f->locks[0].context, static_cast<uint8_t>(ContextKind::kHardirq));
  EXPECT_EQ(f->locks[1].role, LockRole::kHolder);
  EXPECT_EQ(f->locks[1].context, static_cast<uint8_t>(ContextKind::kTask));
  // lockdep's own view of it: {HARDIRQ-ON-W} -> {IN-HARDIRQ-W}.
  EXPECT_TRUE(env.has(FindingKind::kInconsistentLockState));
}

TEST(LockdepTest, NmiRetakingHeldSpinlockIsDefiniteAA) {
  Env env;
  Spinlock zone(env.kernel, "&zone->lock");
  env.cpu().local_irq_disable();
  env.Acquire(zone, ctx::kEvIrqsOffForm);
  env.cpu().EnterContext(ContextKind::kNmi);
  env.Acquire(zone);
  const Finding* f = env.first(FindingKind::kRecursiveLocking);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_NE(std::string(f->detail).find("nmi context"), std::string::npos)
      << f->detail;
  // verify_lock_unused(): {INITIAL USE} -> {IN-NMI}.
  const Finding* g = env.first(FindingKind::kInconsistentLockState);
  ASSERT_NE(g, nullptr);
  EXPECT_NE(std::string(g->detail).find("{INITIAL USE} -> {IN-NMI}"),
            std::string::npos)
      << g->detail;
}

TEST(LockdepTest, NmiTrylockOnlyIsSilent) {
  Env env;
  RawSpinlock depot(env.kernel, "pool_lock");
  IrqFlags f = raw_spin_lock_irqsave(depot);
  raw_spin_unlock_irqrestore(depot, f);
  env.cpu().EnterContext(ContextKind::kNmi);
  IrqFlags g;
  ASSERT_TRUE(raw_spin_trylock_irqsave(depot, &g));
  raw_spin_unlock_irqrestore(depot, g);
  env.cpu().ExitContext();
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, NmiOnlyLockIsSilent) {
  Env env;
  RawSpinlock l(env.kernel, "nmi_only");
  for (int i = 0; i < 2; ++i) {
    env.cpu().EnterContext(ContextKind::kNmi);
    raw_spin_lock(l);
    raw_spin_unlock(l);
    env.cpu().ExitContext();
  }
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, SeqlockReaderOnInterruptedWriterIsAA) {
  Env env;
  Seqlock seq(env.kernel, "zonelist_update_seq", true);
  env.Acquire(seq);  // write_seqlock with irqs on (pre-fix BZ-08)
  env.cpu().EnterContext(ContextKind::kHardirq);
  const uint16_t rd = ctx::kEvRead | ctx::kEvRecursiveRead | ctx::kEvSeqReader;
  env.Acquire(seq, rd);
  env.Release(seq, rd);
  EXPECT_TRUE(env.has(FindingKind::kRecursiveLocking)) << env.kinds();
  // and, as lockdep classifies it, an irq inversion of the seqlock.
  EXPECT_TRUE(env.has(FindingKind::kInconsistentLockState)) << env.kinds();
}

TEST(LockdepTest, SeqlockReaderWithIrqsOffWriterIsSilent) {
  Env env;
  Seqlock seq(env.kernel, "zonelist_update_seq", true);
  IrqFlags f = write_seqlock_irqsave(seq, "__build_all_zonelists");
  write_sequnlock_irqrestore(seq, f, "__build_all_zonelists");
  env.cpu().EnterContext(ContextKind::kHardirq);
  (void)read_seqbegin(seq, "__alloc_pages_slowpath");
  env.cpu().ExitContext();
  (void)read_seqbegin(seq, "__alloc_pages_slowpath");
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, LocalLockReentryFromIrqIsAA) {
  Env env;  // !RT: local_lock reentry does not spin, the data is corrupted
  LocalLock stock(env.kernel, "memcg_stock.lock", true);
  local_lock(stock, "consume_stock");  // plain local_lock, irqs on (BZ-27)
  env.cpu().EnterContext(ContextKind::kHardirq);
  local_lock(stock, "consume_stock");
  local_unlock(stock, "consume_stock");
  env.cpu().ExitContext();
  local_unlock(stock, "consume_stock");
  const Finding* f = env.first(FindingKind::kRecursiveLocking);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_EQ(std::string(f->detail).rfind("AA:", 0), 0u) << f->detail;
}

TEST(LockdepTest, LocalTrylockReentryIsSilent) {
  Env env;
  LocalLock stock(env.kernel, "memcg_stock.lock", true);
  IrqFlags f;
  ASSERT_TRUE(local_trylock_irqsave(stock, &f, "consume_stock"));
  local_unlock_irqrestore(stock, f, "consume_stock");
  f = local_lock_irqsave(stock, "consume_stock");
  env.cpu().EnterContext(ContextKind::kNmi);
  IrqFlags g;
  EXPECT_FALSE(local_trylock_irqsave(stock, &g, "consume_stock"));
  env.cpu().ExitContext();
  local_unlock_irqrestore(stock, f, "consume_stock");
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, RecursiveReadInIrqIsSilent) {
  Env env;
  Rwlock rw(env.kernel, "tasklist_lock"), rw2(env.kernel, "tasklist_lock");
  read_lock(rw);  // task reader (queued: not recursive), irqs on
  env.cpu().EnterContext(ContextKind::kHardirq);
  read_lock(rw);  // recursive reader in the interrupt
  read_unlock(rw);
  read_lock(rw2);
  read_unlock(rw2);
  env.cpu().ExitContext();
  read_unlock(rw);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, WriteInIrqWhileTaskReadsIsAA) {
  Env env;
  Rwlock rw(env.kernel, "rw");
  env.Acquire(rw, ctx::kEvRead | ctx::kEvRecursiveRead);
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Acquire(rw);
  const Finding* f = env.first(FindingKind::kRecursiveLocking);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_EQ(std::string(f->detail).rfind("AA:", 0), 0u) << f->detail;
}

// --- Unlock balance, held locks freed ----------------------------------------

TEST(LockdepTest, UnlockOfNotHeldLock) {
  Env env;
  Spinlock a(env.kernel, "A");
  env.Release(a);
  EXPECT_TRUE(env.has(FindingKind::kBadUnlockBalance)) << env.kinds();
}

TEST(LockdepTest, IrqReleasingTheMostRecentTaskLockIsAccepted) {
  // find_held_lock() matches the most recent held lock whatever its context.
  Env env;
  Spinlock a(env.kernel, "A");
  spin_lock(a);
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_unlock(a);
  env.cpu().ExitContext();
  EXPECT_FALSE(env.has(FindingKind::kBadUnlockBalance)) << env.kinds();
  EXPECT_EQ(env.ld.HeldCount(0), 0);
}

TEST(LockdepTest, IrqReleasingAnInterruptedLockBelowItsOwnIsBad) {
  Env env;
  Spinlock a(env.kernel, "A"), c(env.kernel, "C");
  spin_lock(a);
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_lock(c);
  spin_unlock(a);  // not in this context's locks, not the most recent
  spin_unlock(c);
  env.cpu().ExitContext();
  const Finding* f = env.first(FindingKind::kBadUnlockBalance);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_NE(std::string(f->detail).find("task frame"), std::string::npos)
      << f->detail;
  EXPECT_EQ(env.ld.HeldCount(0), 0);
}

TEST(LockdepTest, UnlockOnAnotherCpu) {
  Env env;
  Spinlock a(env.kernel, "A");
  spin_lock(a);
  ctx::set_this_cpu(&env.kernel.cpu(1));
  env.cpu().preempt_disable();  // keep the preempt count balanced
  spin_unlock(a);
  const Finding* f = env.first(FindingKind::kBadUnlockBalance);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_NE(std::string(f->detail).find("CPU#0"), std::string::npos)
      << f->detail;
  EXPECT_EQ(env.ld.HeldCount(0), 0);
}

TEST(LockdepTest, HeldLockFreedAndReinit) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  debug_check_no_locks_freed(b);
  lock_init(b);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  spin_lock(a);
  debug_check_no_locks_freed(a);
  lock_init(a);
  spin_unlock(a);
  EXPECT_TRUE(env.has(FindingKind::kHeldLockFreed)) << env.kinds();
  EXPECT_TRUE(env.has(FindingKind::kHeldLockReinit)) << env.kinds();
}

// --- Wait types
// ----------------------------------------------------------------

TEST(LockdepTest, SpinlockUnderRawIsInvalidWaitContext) {
  Env env;  // PROVE_RAW_LOCK_NESTING by default
  RawSpinlock krcp(env.kernel, "krcp->lock");
  Spinlock zone(env.kernel, "&zone->lock");
  IrqFlags f = raw_spin_lock_irqsave(krcp, "kvfree_call_rcu");
  IrqFlags g = spin_lock_irqsave(zone, "rmqueue_bulk");
  spin_unlock_irqrestore(zone, g);
  raw_spin_unlock_irqrestore(krcp, f);
  const Finding* w = env.first(FindingKind::kInvalidWaitContext);
  ASSERT_NE(w, nullptr) << env.kinds();
  EXPECT_EQ(std::string(w->detail).rfind("context-{2:2}", 0), 0u) << w->detail;
  EXPECT_EQ(WaitInner(w->locks[0].wait), 3);
}

TEST(LockdepTest, RawUnderSpinlockIsFine) {
  Env env;
  RawSpinlock raw(env.kernel, "pi_lock");
  Spinlock spin(env.kernel, "wq->lock");
  spin_lock(spin);
  raw_spin_lock(raw);
  raw_spin_unlock(raw);
  spin_unlock(spin);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, TrylockIsExemptFromWaitContext) {
  Env env;
  RawSpinlock raw(env.kernel, "raw");
  Spinlock spin(env.kernel, "spin");
  raw_spin_lock(raw);
  ASSERT_TRUE(spin_trylock(spin));
  spin_unlock(spin);
  raw_spin_unlock(raw);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

TEST(LockdepTest, HardHardirqOnlyAllowsRawLocks) {
  Options o;
  o.threaded_hardirqs = false;
  Env env(ctx::Config(), o);
  Spinlock spin(env.kernel, "spin");
  RawSpinlock raw(env.kernel, "raw");
  env.cpu().EnterContext(ContextKind::kHardirq);
  raw_spin_lock(raw);
  raw_spin_unlock(raw);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  spin_lock(spin);
  spin_unlock(spin);
  env.cpu().ExitContext();
  EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
}

TEST(LockdepTest, RtSpinlockInHardirqOrNmiIsInvalidEvenTrylock) {
  {
    Env env(Rt());
    Spinlock zone(env.kernel, "&zone->lock");
    env.cpu().EnterContext(ContextKind::kNmi);
    IrqFlags f;
    ASSERT_TRUE(spin_trylock_irqsave(zone, &f, "alloc_pages_nolock"));
    spin_unlock_irqrestore(zone, f);
    env.cpu().ExitContext();
    const Finding* w = env.first(FindingKind::kInvalidWaitContext);
    ASSERT_NE(w, nullptr) << env.kinds();
    EXPECT_NE(std::string(w->detail).find("PREEMPT_RT"), std::string::npos);
  }
  {
    Env env(Rt());
    Spinlock zone(env.kernel, "&zone->lock");
    env.cpu().EnterContext(ContextKind::kHardirq);
    ASSERT_TRUE(spin_trylock(zone, "alloc_pages_nolock"));
    spin_unlock(zone);
    env.cpu().ExitContext();
    EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
  }
  {  // the same trylock on !RT is what the nolock design relies on
    Env env;
    Spinlock zone(env.kernel, "&zone->lock");
    env.cpu().EnterContext(ContextKind::kNmi);
    ASSERT_TRUE(spin_trylock(zone, "alloc_pages_nolock"));
    spin_unlock(zone);
    env.cpu().ExitContext();
    EXPECT_EQ(env.size(), 0u) << env.kinds();
  }
}

TEST(LockdepTest, RtSpinlockInTaskIsFine) {
  Env env(Rt());
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  Mutex m(env.kernel, "M");
  mutex_lock(m);
  spin_lock(a);
  spin_lock(b);
  spin_unlock(b);
  spin_unlock(a);
  mutex_unlock(m);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  // A mutex under a spinlock_t is still LD_WAIT_SLEEP in LD_WAIT_CONFIG:
  // lockdep reports it on RT too (it is a bug on !RT).
  spin_lock(a);
  mutex_lock(m);
  mutex_unlock(m);
  spin_unlock(a);
  EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
}

TEST(LockdepTest, RtSpinlockUnderRawIsInvalid) {
  ctx::Config c = Rt();
  c.prove_raw_lock_nesting = false;  // implied on RT anyway
  Env env(c);
  RawSpinlock raw(env.kernel, "raw");
  Spinlock spin(env.kernel, "spin");
  raw_spin_lock(raw);
  spin_lock(spin);
  spin_unlock(spin);
  raw_spin_unlock(raw);
  EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
}

TEST(LockdepTest, LockdepMapsAreNotWaitChecked) {
  // fs_reclaim is a STATIC_LOCKDEP_MAP_INIT map: LD_WAIT_INV, never checked
  // (GFP_KERNEL in atomic context is reported as an allocation/sleep bug).
  Env env;
  Spinlock a(env.kernel, "A");
  LockdepMap fs(env.kernel, "fs_reclaim");
  LockdepMap sleepy(env.kernel, "dma_fence_map", ctx::WaitType::kWaitSleep);
  spin_lock(a);
  lock_map_acquire(fs);
  lock_map_release(fs);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  lock_map_acquire(sleepy);  // a map given LD_WAIT_SLEEP is checked
  lock_map_release(sleepy);
  spin_unlock(a);
  EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
}

TEST(LockdepTest, MutexInSoftirqIsInvalidWaitContext) {
  Env env;
  Mutex m(env.kernel, "M");
  env.cpu().EnterContext(ContextKind::kSoftirq);
  env.Acquire(m);  // what mutex_lock emits
  env.Release(m);
  env.cpu().ExitContext();
  EXPECT_TRUE(env.has(FindingKind::kInvalidWaitContext)) << env.kinds();
}

// --- Sleep in atomic (BZ-16)
// ------------------------------------------------------

TEST(LockdepTest, SleepUnderSpinlockWithoutPreemptCount) {
  ctx::Config c;
  c.preempt_count = false;
  Env env(c);
  Spinlock a(env.kernel, "A");
  spin_lock(a);
  EXPECT_FALSE(env.cpu().in_atomic());  // what the kernel can see
  env.cpu().might_sleep("kmalloc");
  spin_unlock(a);
  const Finding* f = env.first(FindingKind::kSleepInAtomic);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_EQ(env.count(FindingKind::kSleepInAtomic), 1u);
  EXPECT_NE(std::string(f->detail).find("PREEMPT_COUNT=n"), std::string::npos);
}

TEST(LockdepTest, SleepCheckDefersToTheKernelsOwn) {
  Env env;  // PREEMPT_COUNT on: ctx reports it, lockdep adds nothing
  Spinlock a(env.kernel, "A");
  spin_lock(a);
  env.cpu().might_sleep("kmalloc");
  spin_unlock(a);
  EXPECT_EQ(env.count(FindingKind::kSleepInAtomic), 1u) << env.kinds();
}

TEST(LockdepTest, SleepInPreemptibleContextIsSilent) {
  for (bool rt : {false, true}) {
    ctx::Config c;
    c.preempt_rt = rt;
    c.preempt_count = !rt ? false : true;
    Env env(c);
    Spinlock a(env.kernel, "A");
    env.cpu().might_sleep("kmalloc");
    if (rt) {  // on RT a spinlock_t holder may sleep
      spin_lock(a);
      env.cpu().might_sleep("kmalloc");
      spin_unlock(a);
    }
    EXPECT_EQ(env.size(), 0u) << rt << ": " << env.kinds();
  }
}

// --- Allocation context
// -----------------------------------------------------------

TEST(LockdepTest, BlockingAllocInAtomicContext) {
  Env env;
  Spinlock a(env.kernel, "A");
  env.Alloc(gfp::GFP_KERNEL);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  spin_lock(a);
  env.Alloc(gfp::GFP_ATOMIC);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  env.Alloc(gfp::GFP_KERNEL);
  spin_unlock(a);
  const Finding* f = env.first(FindingKind::kAllocInvalidContext);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_EQ(f->gfp, gfp::GFP_KERNEL);
  EXPECT_EQ(FindingVerdict(f->kind), Verdict::kWrongCtx);
}

TEST(LockdepTest, BlockingAllocInSoftirq) {
  Env env;
  env.cpu().EnterContext(ContextKind::kSoftirq);
  env.Alloc(gfp::GFP_KERNEL);
  env.Alloc(gfp::GFP_ATOMIC);
  env.cpu().ExitContext();
  EXPECT_EQ(env.count(FindingKind::kAllocInvalidContext), 1u) << env.kinds();
}

TEST(LockdepTest, SpinningAllocFromNmi) {
  Env env;
  env.cpu().EnterContext(ContextKind::kNmi);
  env.Alloc(0);                   // alloc_pages_nolock()
  env.Alloc(gfp::__GFP_ACCOUNT);  // its only allowed flag
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  env.Alloc(gfp::GFP_NOWAIT);
  env.cpu().ExitContext();
  EXPECT_EQ(env.count(FindingKind::kAllocInvalidContext), 1u) << env.kinds();
}

TEST(LockdepTest, AtomicAllocUnderRawOrPreemptDisabledOnRt) {
  {
    Env env(Rt());
    RawSpinlock raw(env.kernel, "krcp->lock");
    Spinlock spin(env.kernel, "spin");
    spin_lock(spin);
    env.Alloc(gfp::GFP_ATOMIC);  // fine: spinlock_t sleeps on RT
    spin_unlock(spin);
    env.Alloc(gfp::GFP_NOWAIT);
    EXPECT_EQ(env.size(), 0u) << env.kinds();
    raw_spin_lock(raw);
    env.Alloc(gfp::GFP_ATOMIC);
    raw_spin_unlock(raw);
    EXPECT_TRUE(env.has(FindingKind::kAllocInvalidContext)) << env.kinds();
  }
  {
    Env env(Rt());
    env.cpu().preempt_disable();
    env.Alloc(gfp::GFP_NOWAIT);
    env.cpu().preempt_enable();
    EXPECT_TRUE(env.has(FindingKind::kAllocInvalidContext)) << env.kinds();
  }
  {
    Env env(Rt());
    env.cpu().preempt_disable();
    env.Alloc(0);  // nolock: fine anywhere
    env.cpu().preempt_enable();
    EXPECT_EQ(env.size(), 0u) << env.kinds();
  }
}

TEST(LockdepTest, AtomicAllocUnderRawWithProveRawLockNesting) {
  for (bool prove : {true, false}) {
    ctx::Config c;
    c.prove_raw_lock_nesting = prove;
    Env env(c);
    RawSpinlock raw(env.kernel, "krcp->lock");
    raw_spin_lock(raw);
    env.Alloc(gfp::GFP_NOWAIT | gfp::__GFP_NOWARN);
    raw_spin_unlock(raw);
    EXPECT_EQ(env.has(FindingKind::kAllocInvalidContext), prove) << env.kinds();
  }
}

// --- Nolock paths (BZ-28)
// ------------------------------------------------------------

TEST(LockdepTest, NonTryLockInsideNolock) {
  Env env;
  Spinlock zone(env.kernel, "&zone->lock");
  env.Nolock(true);
  ASSERT_TRUE(spin_trylock(zone, "rmqueue_buddy"));
  spin_unlock(zone);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  IrqFlags f = spin_lock_irqsave(zone, "reserve_highatomic_pageblock");
  spin_unlock_irqrestore(zone, f);
  env.Nolock(false);
  const Finding* n = env.first(FindingKind::kNonTryLockInNolock);
  ASSERT_NE(n, nullptr) << env.kinds();
  EXPECT_STREQ(n->function, "reserve_highatomic_pageblock");
  // Outside the nolock call a blocking acquisition is fine.
  f = spin_lock_irqsave(zone, "rmqueue_bulk");
  spin_unlock_irqrestore(zone, f);
  EXPECT_EQ(env.count(FindingKind::kNonTryLockInNolock), 1u);
}

TEST(LockdepTest, NolockDoesNotExtendIntoInterrupts) {
  Env env;
  Spinlock a(env.kernel, "A");
  env.Nolock(true);
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_lock(a);
  spin_unlock(a);
  env.cpu().ExitContext();
  env.Nolock(false);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
}

// --- Irq usage through irq-enable events
// --------------------------------------------

TEST(LockdepTest, EnablingIrqsWithAnIrqSafeLockHeld) {
  Env env;
  Spinlock a(env.kernel, "A");
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_lock(a);
  spin_unlock(a);
  env.cpu().ExitContext();
  IrqFlags f = spin_lock_irqsave(a);
  EXPECT_EQ(env.size(), 0u) << env.kinds();
  env.cpu().local_irq_enable();  // with A held
  env.cpu().local_irq_disable();
  spin_unlock_irqrestore(a, f);
  const Finding* g = env.first(FindingKind::kInconsistentLockState);
  ASSERT_NE(g, nullptr) << env.kinds();
  EXPECT_NE(std::string(g->detail).find("{IN-HARDIRQ-W} -> {HARDIRQ-ON-W}"),
            std::string::npos)
      << g->detail;
}

TEST(LockdepTest, SafeToUnsafeReportsBothUsages) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  env.cpu().set_op_index(1);
  env.cpu().EnterContext(ContextKind::kHardirq);
  spin_lock(a, "irq_handler");
  spin_unlock(a);
  env.cpu().ExitContext();
  env.cpu().set_op_index(2);
  spin_lock(b, "task_fn");
  spin_unlock(b);
  env.cpu().set_op_index(3);
  IrqFlags f = spin_lock_irqsave(a, "other_fn");
  spin_lock(b, "other_fn");
  spin_unlock(b);
  spin_unlock_irqrestore(a, f);
  const Finding* g = env.first(FindingKind::kIrqSafeToUnsafe);
  ASSERT_NE(g, nullptr) << env.kinds();
  EXPECT_STREQ(g->context_name, "HARDIRQ");
  ASSERT_GE(g->locks.size(), 4u);
  EXPECT_EQ(g->locks[2].role, LockRole::kUsage);
  EXPECT_STREQ(g->locks[2].name, "A");
  EXPECT_EQ(g->locks[2].op_index, 1u);
  EXPECT_EQ(g->locks[3].role, LockRole::kUsage);
  EXPECT_STREQ(g->locks[3].name, "B");
  EXPECT_EQ(g->locks[3].op_index, 2u);
}

TEST(LockdepTest, UsageStringsAndChars) {
  EXPECT_STREQ(UsageString(kUsedInHARDIRQ), "IN-HARDIRQ-W");
  EXPECT_STREQ(UsageString(kEnabledSOFTIRQRead), "SOFTIRQ-ON-R");
  EXPECT_STREQ(UsageString(kInNmi), "IN-NMI");
  EXPECT_STREQ(UsageStateName(kUsedInHARDIRQRead), "HARDIRQ-READ");
  char c[8];
  UsageChars(UsageFlag(kUsedInHARDIRQ) | UsageFlag(kEnabledSOFTIRQ), c);
  EXPECT_STREQ(c, "-.+.");
  UsageChars(UsageFlag(kUsedInHARDIRQ) | UsageFlag(kEnabledHARDIRQ), c);
  EXPECT_STREQ(c, "?...");
  EXPECT_EQ(ExclusiveBit(kUsedInHARDIRQRead), kEnabledHARDIRQ);
  EXPECT_EQ(ExclusiveBit(kEnabledSOFTIRQ), kUsedInSOFTIRQ);
}

}  // namespace
}  // namespace reentry::lockdep

namespace reentry::lockdep {
namespace {

// The chain cache and the per-position memo only skip work whose answer is
// known: on random lock sequences the same kinds of problem are found with
// and without them. (Not the same findings one for one: without the cache a
// chain is validated again each time it recurs, so a problem can be found
// again through another cycle, and a safe -> unsafe dependency first
// reported as an irq inversion is also reported as such.)
struct Rng {
  uint64_t s;
  uint32_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s);
  }
  int Below(int n) { return static_cast<int>(Next() % n); }
};

std::vector<std::pair<int, uint64_t>> RunRandom(uint64_t seed, bool cache) {
  Options o;
  o.chain_cache = cache;
  Env env(ctx::Config(), o);
  Spinlock s0(env.kernel, "S0"), s1(env.kernel, "S1"), s2(env.kernel, "S2");
  RawSpinlock r0(env.kernel, "R0");
  Rwlock w0(env.kernel, "W0");
  Mutex m0(env.kernel, "M0");
  LockBase* locks[] = {&s0, &s1, &s2, &r0, &w0, &m0};
  struct Hold {
    int lock;
    int how;  // 0 plain, 1 irqsave, 2 trylock, 3 read
    IrqFlags flags;
    int depth;
  };
  std::vector<Hold> held;
  Rng rng{seed * 0x9E3779B97F4A7C15ull + 1};
  auto is_held = [&](int l) {
    for (const Hold& h : held) {
      if (h.lock == l) return true;
    }
    return false;
  };
  for (int step = 0; step < 300; ++step) {
    ctx::Cpu& cpu = env.cpu();
    const int what = rng.Below(10);
    if (what < 5) {  // acquire something not held on this CPU
      const int l = rng.Below(6);
      if (is_held(l)) continue;
      if (l == 5 && (cpu.depth() > 0 || cpu.irqs_disabled() ||
                     cpu.preempt_disable_depth() > 0)) {
        continue;  // keep mutexes where they may sleep
      }
      Hold h{l, rng.Below(4), {}, cpu.depth()};
      LockBase* lb = locks[l];
      if (l <= 2) {
        auto& sl = *static_cast<Spinlock*>(lb);
        if (h.how == 1) {
          h.flags = spin_lock_irqsave(sl);
        } else if (h.how == 2) {
          if (!spin_trylock(sl)) continue;
        } else {
          h.how = 0;
          spin_lock(sl);
        }
      } else if (l == 3) {
        h.how = h.how == 1 ? 1 : 0;
        if (h.how == 1) {
          h.flags = raw_spin_lock_irqsave(*static_cast<RawSpinlock*>(lb));
        } else {
          raw_spin_lock(*static_cast<RawSpinlock*>(lb));
        }
      } else if (l == 4) {
        h.how = h.how == 3 ? 3 : 0;
        if (h.how == 3) {
          read_lock(*static_cast<Rwlock*>(lb));
        } else {
          write_lock(*static_cast<Rwlock*>(lb));
        }
      } else {
        h.how = 0;
        mutex_lock(*static_cast<Mutex*>(lb));
      }
      held.push_back(h);
    } else if (what < 8) {  // release one of this frame's, any order
      std::vector<int> mine;
      for (size_t i = 0; i < held.size(); ++i) {
        if (held[i].depth == cpu.depth()) mine.push_back(static_cast<int>(i));
      }
      if (mine.empty()) continue;
      // irqsave holds are released in LIFO order to keep irq state sane.
      int pick = mine[rng.Below(static_cast<int>(mine.size()))];
      if (held[pick].how == 1) pick = mine.back();
      const Hold h = held[pick];
      LockBase* lb = locks[h.lock];
      if (h.lock <= 2) {
        auto& sl = *static_cast<Spinlock*>(lb);
        if (h.how == 1) {
          spin_unlock_irqrestore(sl, h.flags);
        } else {
          spin_unlock(sl);
        }
      } else if (h.lock == 3) {
        if (h.how == 1) {
          raw_spin_unlock_irqrestore(*static_cast<RawSpinlock*>(lb), h.flags);
        } else {
          raw_spin_unlock(*static_cast<RawSpinlock*>(lb));
        }
      } else if (h.lock == 4) {
        if (h.how == 3) {
          read_unlock(*static_cast<Rwlock*>(lb));
        } else {
          write_unlock(*static_cast<Rwlock*>(lb));
        }
      } else {
        mutex_unlock(*static_cast<Mutex*>(lb));
      }
      held.erase(held.begin() + pick);
    } else if (what == 8) {  // enter an interrupt if possible
      const ContextKind k =
          rng.Below(2) ? ContextKind::kHardirq : ContextKind::kSoftirq;
      if (cpu.CanEnter(k)) cpu.EnterContext(k);
    } else {  // leave it once its locks are gone
      bool busy = false;
      for (const Hold& h : held) busy |= h.depth == cpu.depth();
      if (cpu.depth() > 0 && !busy) cpu.ExitContext();
    }
  }
  std::vector<std::pair<int, uint64_t>> out;
  for (const Finding& f : env.kernel.findings()) {
    out.push_back({static_cast<int>(f.kind), f.cause});
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LockdepTest, CachesDoNotChangeVerdicts) {
  int with_findings = 0;
  const int kSafeToUnsafe = static_cast<int>(FindingKind::kIrqSafeToUnsafe);
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(seed);
    const auto cached = RunRandom(seed, true);
    const auto uncached = RunRandom(seed, false);
    std::set<int> a, b;
    for (const auto& f : cached) a.insert(f.first);
    for (const auto& f : uncached) {
      if (f.first != kSafeToUnsafe || a.count(f.first)) b.insert(f.first);
    }
    a.erase(kSafeToUnsafe);
    b.erase(kSafeToUnsafe);
    EXPECT_EQ(a, b);
    with_findings += !cached.empty();
  }
  EXPECT_GT(with_findings, 10);  // the sequences do reach the rules
}

}  // namespace
}  // namespace reentry::lockdep
