// Golden tests: each finding kind the checker produces, from a real scenario,
// formatted as title, summary and report. Goldens live in testdata/<name>.txt;
// run with REENTRY_UPDATE_GOLDENS=1 to rewrite them after an intended change.
#include "allocator/report/report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "allocator/base/gfp.h"
#include "allocator/lockdep/lockdep.h"
#include "allocator/locks/locks.h"

#ifndef REENTRY_REPORT_TESTDATA
#error "REENTRY_REPORT_TESTDATA must name the testdata directory"
#endif

namespace reentry::report {
namespace {

using ctx::ContextKind;
using ctx::EventKind;
using namespace reentry::locks;  // NOLINT: kernel-spelled API

struct Env {
  explicit Env(ctx::Config c = ctx::Config(),
               lockdep::Options o = lockdep::Options())
      : config(c), kernel(c), ld(kernel, o) {
    kernel.AddObserver(&ld);
    ctx::set_this_cpu(&kernel.cpu(0));
  }
  ~Env() { ctx::set_this_cpu(nullptr); }
  ctx::Cpu& cpu() { return ctx::this_cpu(); }
  void Op(uint32_t i) { cpu().set_op_index(i); }
  const Finding& Get(FindingKind k) {
    for (const Finding& f : kernel.findings()) {
      if (f.kind == k) return f;
    }
    ADD_FAILURE() << "no " << FindingKindName(k);
    static Finding none;
    return none;
  }
  ctx::Event Ev(EventKind k, const LockBase& l, uint16_t flags,
                const char* fn) {
    ctx::Event e = cpu().MakeEvent(k);
    e.class_id = l.class_id();
    e.lock_type = l.type();
    e.lock = &l;
    e.flags = flags;
    e.function = fn;
    return e;
  }
  void Acquire(const LockBase& l, uint16_t flags, const char* fn) {
    kernel.Emit(cpu(), Ev(EventKind::kLockAcquire, l, flags, fn));
    kernel.Emit(cpu(), Ev(EventKind::kLockAcquired, l, flags, fn));
  }
  void Alloc(gfp_t gfp, int order, const char* fn) {
    ctx::Event e = cpu().MakeEvent(EventKind::kMightAlloc);
    e.gfp = gfp;
    e.order = static_cast<int16_t>(order);
    e.function = fn;
    kernel.Emit(cpu(), e);
  }
  void Nolock(bool enter, const char* fn) {
    ctx::Event e = cpu().MakeEvent(enter ? EventKind::kNolockEnter
                                         : EventKind::kNolockExit);
    e.function = fn;
    kernel.Emit(cpu(), e);
  }

  ctx::Config config;
  ctx::Kernel kernel;
  lockdep::Lockdep ld;
};

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares title + summary + report of f with testdata/<name>.txt.
void Golden(const std::string& name, const Finding& f, const ReportInput& in) {
  const std::string text = "title: " + Title(f) +
                           "\nsummary: " + FormatFindingSummary(f) + "\n\n" +
                           FormatReport(f, in);
  const std::string path =
      std::string(REENTRY_REPORT_TESTDATA) + "/" + name + ".txt";
  if (getenv("REENTRY_UPDATE_GOLDENS") != nullptr) {
    std::ofstream(path) << text;
    return;
  }
  const std::string want = Read(path);
  EXPECT_EQ(text, want) << "golden " << path
                        << " differs; REENTRY_UPDATE_GOLDENS=1 rewrites it";
}

ReportInput Input(const ctx::Config& c, const char* program) {
  ReportInput in;
  in.config = c;
  in.program_text = program;
  return in;
}

TEST(ReportTest, RecursiveLockingSameContext) {
  Env env;
  Spinlock a1(env.kernel, "&zone->lock"), a2(env.kernel, "&zone->lock");
  env.Op(0);
  IrqFlags f = spin_lock_irqsave(a1, "rmqueue_bulk");
  env.Op(1);
  spin_lock(a2, "steal_suitable_fallback");
  spin_unlock(a2);
  spin_unlock_irqrestore(a1, f);
  Golden("recursive_locking", env.Get(FindingKind::kRecursiveLocking),
         Input(env.config,
               "lock(A, spinlock_t, \"&zone->lock\")\n"
               "lock(B, spinlock_t, \"&zone->lock\")\n"
               "spin_lock_irqsave(A)\nspin_lock(B)\n"));
}

TEST(ReportTest, RecursiveLockingFromInterrupt) {
  Env env;
  Spinlock zone(env.kernel, "&zone->lock");
  env.Op(3);
  env.Acquire(zone, 0, "rmqueue_bulk");
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Op(7);
  env.Acquire(zone, ctx::kEvIrqsOffForm, "rmqueue_buddy");
  ReportInput in = Input(env.config, "");
  in.trace_lines = {"#3 cpu0 task spin_lock(A)", "#6 cpu0 hardirq fires",
                    "#7 cpu0 hardirq spin_lock_irqsave(A)"};
  Golden("recursive_locking_interrupt", env.Get(FindingKind::kRecursiveLocking),
         in);
}

TEST(ReportTest, CircularDependency) {
  Env env;
  Spinlock a(env.kernel, "&zone->lock"), b(env.kernel, "&pgdat->kswapd_wait"),
      c(env.kernel, "&rq->lock");
  env.Op(1);
  spin_lock(a, "steal_suitable_fallback");
  env.Op(2);
  spin_lock(b, "wakeup_kswapd");
  spin_unlock(b);
  spin_unlock(a);
  ctx::set_this_cpu(&env.kernel.cpu(1));
  env.Op(4);
  spin_lock(b, "__wake_up");
  env.Op(5);
  spin_lock(c, "try_to_wake_up");
  spin_unlock(c);
  spin_unlock(b);
  ctx::set_this_cpu(&env.kernel.cpu(0));
  env.Op(8);
  spin_lock(c, "hrtimer_interrupt");
  env.Op(9);
  spin_lock(a, "rmqueue_bulk");
  spin_unlock(a);
  spin_unlock(c);
  Golden("circular_dependency", env.Get(FindingKind::kCircularDependency),
         Input(env.config, ""));
}

TEST(ReportTest, InconsistentLockState) {
  Env env;
  Spinlock port(env.kernel, "&port->lock");
  env.Op(0);
  spin_lock(port, "uart_write");
  spin_unlock(port);
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Op(2);
  spin_lock(port, "serial8250_interrupt");
  spin_unlock(port);
  env.cpu().ExitContext();
  Golden("inconsistent_lock_state",
         env.Get(FindingKind::kInconsistentLockState), Input(env.config, ""));
}

TEST(ReportTest, IrqSafeToUnsafe) {
  Env env;
  Spinlock a(env.kernel, "&zone->lock"), b(env.kernel, "console_owner");
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Op(1);
  spin_lock(a, "free_one_page");
  spin_unlock(a);
  env.cpu().ExitContext();
  env.Op(2);
  spin_lock(b, "console_unlock");
  spin_unlock(b);
  env.Op(3);
  IrqFlags f = spin_lock_irqsave(a, "set_migratetype_isolate");
  env.Op(4);
  spin_lock(b, "console_unlock");
  spin_unlock(b);
  spin_unlock_irqrestore(a, f);
  Golden("irq_safe_to_unsafe", env.Get(FindingKind::kIrqSafeToUnsafe),
         Input(env.config, ""));
}

TEST(ReportTest, IrqInversion) {
  Env env;
  Spinlock a(env.kernel, "&zone->lock"), b(env.kernel, "console_owner");
  env.Op(1);
  IrqFlags f = spin_lock_irqsave(a, "set_migratetype_isolate");
  env.Op(2);
  spin_lock(b, "console_unlock");
  spin_unlock(b);
  spin_unlock_irqrestore(a, f);
  env.Op(3);
  spin_lock(b, "console_unlock");
  spin_unlock(b);
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Op(5);
  spin_lock(a, "free_one_page");
  spin_unlock(a);
  env.cpu().ExitContext();
  Golden("irq_inversion", env.Get(FindingKind::kIrqInversion),
         Input(env.config, ""));
}

TEST(ReportTest, InvalidWaitContext) {
  Env env;
  RawSpinlock krcp(env.kernel, "krcp->lock");
  Spinlock zone(env.kernel, "&zone->lock");
  env.Op(0);
  IrqFlags f = raw_spin_lock_irqsave(krcp, "kvfree_call_rcu");
  env.Op(1);
  IrqFlags g = spin_lock_irqsave(zone, "rmqueue_bulk");
  spin_unlock_irqrestore(zone, g);
  raw_spin_unlock_irqrestore(krcp, f);
  Golden("invalid_wait_context", env.Get(FindingKind::kInvalidWaitContext),
         Input(env.config, ""));
}

TEST(ReportTest, InvalidWaitContextRt) {
  ctx::Config c;
  c.preempt_rt = true;
  Env env(c);
  Spinlock zone(env.kernel, "&zone->lock");
  env.cpu().EnterContext(ContextKind::kNmi);
  env.Op(4);
  IrqFlags f;
  ASSERT_TRUE(spin_trylock_irqsave(zone, &f, "rmqueue_buddy"));
  spin_unlock_irqrestore(zone, f);
  env.cpu().ExitContext();
  ReportInput in = Input(env.config, "");
  in.bugs.set(BugId::kBz02);
  Golden("invalid_wait_context_rt", env.Get(FindingKind::kInvalidWaitContext),
         in);
}

TEST(ReportTest, BadUnlockBalance) {
  Env env;
  Spinlock a(env.kernel, "A"), c(env.kernel, "C");
  env.Op(0);
  spin_lock(a, "task_fn");
  env.cpu().EnterContext(ContextKind::kHardirq);
  env.Op(2);
  spin_lock(c, "irq_fn");
  env.Op(3);
  spin_unlock(a, "irq_fn");
  spin_unlock(c, "irq_fn");
  env.cpu().ExitContext();
  Golden("bad_unlock_balance", env.Get(FindingKind::kBadUnlockBalance),
         Input(env.config, ""));
}

TEST(ReportTest, HeldLockFreedAndReinit) {
  Env env;
  Spinlock a(env.kernel, "&pcp->lock");
  env.Op(0);
  spin_lock(a, "drain_pages_zone");
  env.Op(1);
  debug_check_no_locks_freed(a, "free_pcp_memory");
  env.Op(2);
  lock_init(a, "pcp_init");
  spin_unlock(a);
  Golden("held_lock_freed", env.Get(FindingKind::kHeldLockFreed),
         Input(env.config, ""));
  Golden("held_lock_reinit", env.Get(FindingKind::kHeldLockReinit),
         Input(env.config, ""));
}

TEST(ReportTest, NonTryLockInNolock) {
  Env env;
  Spinlock zone(env.kernel, "&zone->lock");
  env.cpu().EnterContext(ContextKind::kNmi);
  env.Op(5);
  env.Nolock(true, "alloc_pages_nolock");
  IrqFlags f = spin_lock_irqsave(zone, "reserve_highatomic_pageblock");
  spin_unlock_irqrestore(zone, f);
  env.Nolock(false, "alloc_pages_nolock");
  env.cpu().ExitContext();
  ReportInput in = Input(env.config, "");
  in.bugs.set(BugId::kBz28Highatomic);
  Golden("non_try_lock_in_nolock", env.Get(FindingKind::kNonTryLockInNolock),
         in);
}

TEST(ReportTest, SleepInAtomic) {
  ctx::Config c;
  c.preempt_count = false;
  Env env(c);
  Spinlock a(env.kernel, "&port->lock");
  env.Op(1);
  spin_lock(a, "tty_insert_flip_string");
  env.Op(2);
  env.cpu().might_sleep("__kmalloc");
  spin_unlock(a);
  ReportInput in = Input(env.config, "");
  in.bugs.set(BugId::kBz16);
  Golden("sleep_in_atomic", env.Get(FindingKind::kSleepInAtomic), in);
}

TEST(ReportTest, AllocInvalidContext) {
  Env env;
  env.cpu().EnterContext(ContextKind::kNmi);
  env.Op(6);
  env.Alloc(gfp::GFP_ATOMIC, 0, "alloc_pages");
  env.cpu().ExitContext();
  Golden("alloc_invalid_context", env.Get(FindingKind::kAllocInvalidContext),
         Input(env.config, ""));
}

TEST(ReportTest, GenericFindingFromTheLockLayer) {
  Finding f;
  f.kind = FindingKind::kLockRecursion;
  f.cpu = 0;
  f.context = static_cast<uint8_t>(ContextKind::kHardirq);
  f.op_index = 7;
  f.function = "rmqueue_bulk";
  f.lock_family = "spinlock";
  FindingLock& l = f.AddLock("&zone->lock", LockRole::kAcquiring);
  l.lock_type = static_cast<uint8_t>(ctx::LockType::kSpinlock);
  l.cpu = 0;
  l.context = f.context;
  l.op_index = 7;
  l.function = "rmqueue_bulk";
  f.SetDetail("spinning on &zone->lock on CPU#0 in hardirq context");
  EXPECT_EQ(Title(f), "BUG: spinlock recursion in rmqueue_bulk");
  EXPECT_EQ(FormatFindingSummary(f),
            "[AA] BUG: spinlock recursion in rmqueue_bulk (cpu0 hardirq, op "
            "#7)");
  Golden("generic_lock_recursion", f, Input(ctx::Config(), "spin_lock(A)\n"));
}

// The trailer names a non-default memory pressure; without one it is the
// line every golden has.
TEST(ReportTest, TrailerNamesMemoryPressureOnlyWhenSet) {
  Finding f;
  f.kind = FindingKind::kIrqSafeToUnsafe;
  ctx::Config c;
  EXPECT_EQ(FormatReport(f, Input(c, "")).find("memory_pressure"),
            std::string::npos);
  c.mem_pressure = 3;
  EXPECT_NE(
      FormatReport(f, Input(c, "")).find("nolock=final memory_pressure=3\n"),
      std::string::npos)
      << FormatReport(f, Input(c, ""));
}

TEST(ReportTest, TitleSubstitutesAndDefaults) {
  Finding f;
  f.kind = FindingKind::kIrqSafeToUnsafe;
  f.context_name = "SOFTIRQ";
  EXPECT_EQ(Title(f), "possible deadlock in unknown");
  EXPECT_EQ(Banner(f),
            "WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order "
            "detected");
  f.kind = FindingKind::kLockHeldAtContextExit;
  f.context_name = nullptr;
  f.context = static_cast<uint8_t>(ContextKind::kHardirq);
  f.function = "handler";
  EXPECT_EQ(Title(f), "BUG: lock held when leaving HARDIRQ context in handler");
}

}  // namespace
}  // namespace reentry::report
