// Every lock type and acquisition form, run as programs through the
// executor: plain pairs, same-CPU reentry from interrupts, irq-disabling
// forms that defer the interrupt, trylocks, cross-CPU hand-over, and the
// PREEMPT_RT and UP variants.
#include <string>
#include <vector>

#include "allocator/exec/executor.h"
#include "allocator/prog/text.h"
#include "gtest/gtest.h"

namespace reentry::exec {
namespace {

struct Form {
  const char* type;     // declared lock type
  const char* acquire;  // verb
  const char* release;  // verb
  bool irqs_off;        // the form disables hard interrupts (!PREEMPT_RT)
};

// Every blocking acquisition form of every lock type.
const Form kForms[] = {
    {"raw_spinlock_t", "raw_spin_lock", "raw_spin_unlock", false},
    {"raw_spinlock_t", "raw_spin_lock_irq", "raw_spin_unlock_irq", true},
    {"raw_spinlock_t", "raw_spin_lock_irqsave", "raw_spin_unlock_irqrestore",
     true},
    {"spinlock_t", "spin_lock", "spin_unlock", false},
    {"spinlock_t", "spin_lock_irq", "spin_unlock_irq", true},
    {"spinlock_t", "spin_lock_irqsave", "spin_unlock_irqrestore", true},
    {"spinlock_t", "spin_lock_bh", "spin_unlock_bh", false},
    {"rwlock_t", "write_lock", "write_unlock", false},
    {"rwlock_t", "write_lock_irq", "write_unlock_irq", true},
    {"rwlock_t", "write_lock_irqsave", "write_unlock_irqrestore", true},
    {"rwlock_t", "write_lock_bh", "write_unlock_bh", false},
    {"seqlock_t", "write_seqlock", "write_sequnlock", false},
    {"seqlock_t", "write_seqlock_irq", "write_sequnlock_irq", true},
    {"seqlock_t", "write_seqlock_irqsave", "write_sequnlock_irqrestore", true},
    {"seqlock_t", "write_seqlock_bh", "write_sequnlock_bh", false},
    {"local_lock_t", "local_lock", "local_unlock", false},
    {"local_lock_t", "local_lock_irq", "local_unlock_irq", true},
    {"local_lock_t", "local_lock_irqsave", "local_unlock_irqrestore", true},
    {"local_trylock_t", "local_lock", "local_unlock", false},
    {"local_trylock_t", "local_lock_irqsave", "local_unlock_irqrestore", true},
    {"mutex", "mutex_lock", "mutex_unlock", false},
};

RunResult RunText(const std::string& text) {
  prog::ParseError err;
  std::optional<prog::Program> p = prog::ParseProgram(text, &err);
  EXPECT_TRUE(p.has_value()) << err.ToString() << "\n" << text;
  if (!p) return RunResult{};
  Executor ex;
  return ex.Run(*p);
}

std::string Decl(const Form& f) {
  return std::string("lock(L, ") + f.type + ", \"&test->lock\")\n";
}

std::string Summary(const RunResult& r) {
  std::string s;
  for (const Finding& f : r.findings) {
    s += std::string(FindingKindName(f.kind)) + " ";
  }
  return s.empty() ? "(none)" : s;
}

class FormTest : public ::testing::TestWithParam<Form> {};

TEST_P(FormTest, PlainPairIsClean) {
  const Form& f = GetParam();
  RunResult r = RunText(Decl(f) + f.acquire + "(L)\n" + f.release + "(L)\n");
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u) << Summary(r);
}

// The plain (non-irq, non-bh) form of each type, for interrupt handlers.
std::pair<std::string, std::string> PlainForm(const Form& f) {
  const std::string t = f.type;
  if (t == "raw_spinlock_t") return {"raw_spin_lock", "raw_spin_unlock"};
  if (t == "spinlock_t") return {"spin_lock", "spin_unlock"};
  if (t == "rwlock_t") return {"write_lock", "write_unlock"};
  if (t == "seqlock_t") return {"write_seqlock", "write_sequnlock"};
  if (t == "mutex") return {"mutex_lock", "mutex_unlock"};
  return {"local_lock", "local_unlock"};
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// _irq forms re-enable interrupts and _bh forms call local_bh_enable() on
// release: inside a hardirq both are bugs the kernel warns about.
TEST_P(FormTest, IrqAndBhFormsWarnInHardirq) {
  const Form& f = GetParam();
  const std::string acq = f.acquire;
  const bool irq_form = EndsWith(acq, "_irq");
  const bool bh_form = EndsWith(acq, "_bh");
  if (!irq_form && !bh_form) return;
  RunResult r = RunText(Decl(f) + "hardirq() {\n  " + f.acquire + "(L)\n  " +
                        f.release + "(L)\n}\n");
  EXPECT_TRUE(r.findings.has(irq_form ? FindingKind::kIrqEnableInHardirq
                                      : FindingKind::kBadBhEnable))
      << f.acquire << ": " << Summary(r);
  RunResult soft = RunText(Decl(f) + "softirq() {\n  " + f.acquire + "(L)\n  " +
                           f.release + "(L)\n}\n");
  EXPECT_EQ(soft.findings.bugs(), 0u) << f.acquire << ": " << Summary(soft);
}

TEST_P(FormTest, NestedPairInEveryInterruptContextIsClean) {
  const Form& f = GetParam();
  const std::string acq = f.acquire;
  if (EndsWith(acq, "_irq") || EndsWith(acq, "_bh")) return;  // see above
  for (const char* irq : {"softirq", "hardirq", "nmi"}) {
    if (std::string(f.type) == "mutex") continue;  // sleeps: invalid there
    RunResult r = RunText(Decl(f) + irq + "() {\n  " + f.acquire + "(L)\n  " +
                          f.release + "(L)\n}\n");
    EXPECT_TRUE(r.completed) << irq;
    // Taking a lock only in an interrupt is fine; in NMI, a non-raw lock is
    // an invalid wait context, and a blocking acquisition is not nolock-safe.
    for (const Finding& x : r.findings) {
      EXPECT_TRUE(std::string(irq) == "nmi" ||
                  (std::string(irq) == "hardirq" &&
                   x.kind == FindingKind::kInvalidWaitContext))
          << f.acquire << " in " << irq << ": " << Summary(r);
    }
  }
}

TEST_P(FormTest, HardirqReenteringTheSameLock) {
  const Form& f = GetParam();
  const auto [plain_acquire, plain_release] = PlainForm(f);
  const std::string body = "hardirq() {\n  " + plain_acquire + "(L)\n  " +
                           plain_release + "(L)\n}\n";
  RunResult r =
      RunText(Decl(f) + f.acquire + "(L)\n" + body + f.release + "(L)\n");
  if (f.irqs_off) {
    // The interrupt stays pending until the release re-enables interrupts.
    EXPECT_TRUE(r.completed);
    EXPECT_EQ(r.findings.bugs(), 0u) << f.acquire << ": " << Summary(r);
    return;
  }
  const bool local = std::string(f.type).rfind("local_", 0) == 0;
  if (local) {
    // !RT local locks do not spin: the per-CPU data is entered twice.
    EXPECT_TRUE(r.findings.has(FindingKind::kLocalLockReentry)) << Summary(r);
  } else {
    EXPECT_FALSE(r.completed) << f.acquire;
    EXPECT_TRUE(r.findings.has(FindingKind::kLockRecursion))
        << f.acquire << ": " << Summary(r);
  }
  // Lockdep sees the same-CPU reentry too.
  EXPECT_TRUE(r.findings.has(FindingKind::kRecursiveLocking) ||
              r.findings.has(FindingKind::kInconsistentLockState))
      << f.acquire << ": " << Summary(r);
}

TEST_P(FormTest, CrossCpuHandOver) {
  const Form& f = GetParam();
  if (std::string(f.type).rfind("local_", 0) == 0) return;  // per-CPU
  const std::string a = std::string(f.acquire) + "(L)\n";
  const std::string rel = std::string(f.release) + "(L)\n";
  RunResult r = RunText("config(cpus=2)\n" + Decl(f) + "cpu(0)\n" + a +
                        "cpu(1)\n" + a + "cpu(0)\n" + rel + "cpu(1)\n" + rel);
  EXPECT_TRUE(r.completed) << f.acquire << ": " << Summary(r);
  EXPECT_EQ(r.findings.size(), 0u) << f.acquire << ": " << Summary(r);
  bool waited = false;
  for (const TraceEntry& e : r.trace) waited |= e.kind == TraceKind::kWait;
  EXPECT_TRUE(waited) << f.acquire << " did not contend";
}

INSTANTIATE_TEST_SUITE_P(AllForms, FormTest, ::testing::ValuesIn(kForms),
                         [](const auto& info) {
                           return std::string(info.param.acquire) + "_" +
                                  (info.param.type[0] == 'l' &&
                                           info.param.type[6] == 't'
                                       ? "trylocktype"
                                       : "");
                         });

// A !RT local_lock the task holds, reentered by a hardirq nested in a
// softirq (depth 2), then by the softirq (depth 1): the second report names
// the task's frame as the holder. Before, the inner unlock left the holder
// depth at 2, a frame that no longer existed; a Debug build failed a CHECK
// there (stress, BZ-27) and an NDEBUG build read a stale frame.
TEST(LocalLockTest, ReentryAfterANestedReentryNamesTheTaskAsHolder) {
  RunResult r = RunText(
      "lock(L, local_lock_t, \"&test->lock\")\n"
      "local_lock(L)\n"
      "softirq() {\n"
      "  hardirq() {\n"
      "    local_lock(L)\n"
      "    local_unlock(L)\n"
      "  }\n"
      "  local_lock(L)\n"
      "  local_unlock(L)\n"
      "}\n"
      "local_unlock(L)\n");
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.occurrences(FindingKind::kLocalLockReentry), 2u);
  for (const Finding& f : r.findings) {
    if (f.kind != FindingKind::kLocalLockReentry) continue;
    for (const FindingLock& l : f.locks) {
      if (l.role != LockRole::kHolder) continue;
      EXPECT_EQ(l.context, static_cast<uint8_t>(ctx::ContextKind::kTask));
    }
  }
}

TEST(TrylockTest, TrylockOnALockTheTaskHoldsFailsQuietlyInEveryInterrupt) {
  struct T {
    const char* type;
    const char* lock;
    const char* unlock;
    const char* trylock;
  };
  const T cases[] = {
      {"raw_spinlock_t", "raw_spin_lock_irqsave", "raw_spin_unlock_irqrestore",
       "raw_spin_trylock"},
      {"spinlock_t", "spin_lock_irqsave", "spin_unlock_irqrestore",
       "spin_trylock"},
      {"spinlock_t", "spin_lock_irqsave", "spin_unlock_irqrestore",
       "spin_trylock_irqsave"},
      {"rwlock_t", "write_lock_irqsave", "write_unlock_irqrestore",
       "read_trylock"},
      {"rwlock_t", "write_lock_irqsave", "write_unlock_irqrestore",
       "write_trylock"},
      {"local_trylock_t", "local_lock_irqsave", "local_unlock_irqrestore",
       "local_trylock"},
      {"local_trylock_t", "local_lock_irqsave", "local_unlock_irqrestore",
       "local_trylock_irqsave"},
  };
  for (const T& c : cases) {
    // NMI is the only interrupt that lands inside an irqsave section.
    RunResult r = RunText(std::string("lock(L, ") + c.type +
                          ", \"&t->lock\")\n" + c.lock + "(L)\nnmi() {\n  " +
                          c.trylock + "(L)\n}\n" + c.unlock + "(L)\n");
    EXPECT_TRUE(r.completed) << c.trylock;
    EXPECT_EQ(r.findings.bugs(), 0u) << c.trylock << ": " << Summary(r);
  }
}

TEST(RwlockTest, ReadersRecurseFromInterruptsWritersDoNot) {
  RunResult readers = RunText(
      "lock(R, rwlock_t, \"&r->lock\")\nread_lock(R)\nhardirq() {\n"
      "  read_lock(R)\n  read_unlock(R)\n}\nread_unlock(R)\n");
  EXPECT_TRUE(readers.completed);
  EXPECT_FALSE(readers.findings.has(FindingKind::kLockRecursion));
  RunResult writer = RunText(
      "lock(R, rwlock_t, \"&r->lock\")\nread_lock(R)\nhardirq() {\n"
      "  write_lock(R)\n  write_unlock(R)\n}\nread_unlock(R)\n");
  EXPECT_FALSE(writer.completed);
  EXPECT_TRUE(writer.findings.has(FindingKind::kLockRecursion));
}

TEST(RtTest, IrqsaveFormsLeaveInterruptsOnUnderPreemptRt) {
  for (const Form& f : kForms) {
    const std::string type = f.type;
    if (!f.irqs_off || type == "raw_spinlock_t") continue;
    const auto [plain_acquire, plain_release] = PlainForm(f);
    const std::string body = "hardirq() {\n  " + plain_acquire + "(L)\n  " +
                             plain_release + "(L)\n}\n";
    RunResult r = RunText("config(preempt_rt=1)\n" + Decl(f) + f.acquire +
                          "(L)\n" + body + f.release + "(L)\n");
    // The hardirq lands inside the section and blocks on a sleeping lock.
    EXPECT_FALSE(r.completed) << f.acquire;
    EXPECT_TRUE(r.findings.has(FindingKind::kLockRecursion))
        << f.acquire << ": " << Summary(r);
    EXPECT_TRUE(r.findings.has(FindingKind::kSleepInAtomic))
        << f.acquire << ": " << Summary(r);
  }
}

// On PREEMPT_RT softirqs and bh-disabled sections are preemptible threads:
// spinlock_t-based locks (rtlock_might_resched()) and GFP_ATOMIC allocations,
// which take zone->lock and pcp->lock, are fine there. Found by stress: a
// clean RT run reported "sleeping function called from invalid context" for
// every spin_lock_bh().
TEST(RtTest, SleepingSpinlocksAreFineInSoftirqAndBhDisabledCode) {
  for (const Form& f : kForms) {
    const std::string type = f.type;
    if (type == "raw_spinlock_t" || type == "mutex") continue;
    const std::string section =
        std::string(f.acquire) + "(L)\n" + f.release + "(L)\n";
    RunResult r =
        RunText("config(preempt_rt=1)\n" + Decl(f) + "local_bh_disable()\n" +
                section + "local_bh_enable()\nsoftirq() {\n" + section + "}\n");
    EXPECT_TRUE(r.completed) << f.acquire;
    EXPECT_EQ(r.findings.bugs(), 0u) << f.acquire << ": " << Summary(r);
    // Nor is there a {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} inversion on RT
    // (lockdep has no softirq accounting there, 0c1d7a2c2d32).
    RunResult inv = RunText("config(preempt_rt=1)\n" + Decl(f) + section +
                            "softirq() {\n" + section + "}\n");
    EXPECT_EQ(inv.findings.bugs(), 0u) << f.acquire << ": " << Summary(inv);
  }
  // The same without RT is a real inversion.
  RunResult inv = RunText(
      "lock(L, spinlock_t, \"&test->lock\")\nspin_lock(L)\nspin_unlock(L)\n"
      "softirq() {\n  spin_lock(L)\n  spin_unlock(L)\n}\n");
  EXPECT_TRUE(inv.findings.has(FindingKind::kInconsistentLockState))
      << Summary(inv);
  RunResult alloc = RunText(
      "config(preempt_rt=1)\nlocal_bh_disable()\n"
      "p1 = alloc_pages(GFP_ATOMIC, 0)\n__free_pages(p1)\nlocal_bh_enable()\n"
      "softirq() {\n  p2 = alloc_pages(GFP_NOWAIT|__GFP_ACCOUNT, 1)\n"
      "  __free_pages(p2)\n}\n");
  EXPECT_TRUE(alloc.completed);
  EXPECT_EQ(alloc.findings.bugs(), 0u) << Summary(alloc);
}

// What may really sleep stays forbidden there (on RT local_bh_disable()
// holds the RCU read side, which __might_resched() checks).
TEST(RtTest, MutexInSoftirqOrBhDisabledCodeIsStillReported) {
  const std::string pair = "mutex_lock(M)\nmutex_unlock(M)\n";
  for (const std::string& body :
       {"local_bh_disable()\n" + pair + "local_bh_enable()\n",
        "softirq() {\n" + pair + "}\n"}) {
    RunResult r =
        RunText("config(preempt_rt=1)\nlock(M, mutex, \"&m->lock\")\n" + body);
    EXPECT_TRUE(r.findings.has(FindingKind::kSleepInAtomic))
        << body << Summary(r);
  }
}

TEST(RtTest, RawSpinlockStillDisablesInterruptsUnderPreemptRt) {
  RunResult r = RunText(
      "config(preempt_rt=1)\nlock(L, raw_spinlock_t, \"&raw->lock\")\n"
      "raw_spin_lock_irqsave(L)\nhardirq() {\n  raw_spin_lock(L)\n"
      "  raw_spin_unlock(L)\n}\nraw_spin_unlock_irqrestore(L)\n");
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.bugs(), 0u) << Summary(r);
}

TEST(RtTest, LocalTrylockFailsInHardirqUnderPreemptRt) {
  RunResult r = RunText(
      "config(preempt_rt=1)\nlock(L, local_trylock_t, \"&stock->lock\")\n"
      "hardirq() {\n  local_trylock(L)\n}\n");
  EXPECT_TRUE(r.completed);
  EXPECT_FALSE(r.findings.has(FindingKind::kLockHeldAtContextExit))
      << "the trylock must fail in hardirq on RT: " << Summary(r);
}

TEST(UpTest, SpinTrylocksSucceedOnHeldLocksOnlyForSpinningLocks) {
  for (const char* type : {"raw_spinlock_t", "spinlock_t"}) {
    const std::string t = type;
    const std::string lock =
        t == "spinlock_t" ? "spin_lock_irqsave" : "raw_spin_lock_irqsave";
    const std::string unlock = t == "spinlock_t" ? "spin_unlock_irqrestore"
                                                 : "raw_spin_unlock_irqrestore";
    const std::string tryl =
        t == "spinlock_t" ? "spin_trylock" : "raw_spin_trylock";
    const std::string unl =
        t == "spinlock_t" ? "spin_unlock" : "raw_spin_unlock";
    RunResult r =
        RunText("config(smp=0, cpus=1)\nlock(L, " + t + ", \"&z->lock\")\n" +
                lock + "(L)\nnmi() {\n  " + tryl + "(L)\n  " + unl +
                "(L)\n}\n" + unlock + "(L)\n");
    EXPECT_TRUE(r.findings.has(FindingKind::kUpTrylockOnHeldLock)) << type;
  }
  // A mutex has a real owner on UP too.
  RunResult m = RunText(
      "config(smp=0, cpus=1)\nlock(M, mutex, \"&m->lock\")\nmutex_lock(M)\n"
      "softirq() {\n  mutex_trylock(M)\n}\nmutex_unlock(M)\n");
  EXPECT_FALSE(m.findings.has(FindingKind::kUpTrylockOnHeldLock));
}

TEST(SeqcountTest, BareSeqcountReaderWaitsOnOtherCpuAndSpinsOnItsOwn) {
  RunResult other = RunText(
      "config(cpus=2)\nlock(S, seqcount_t, \"&s->seq\")\ncpu(0)\n"
      "preempt_disable()\nwrite_seqcount_begin(S)\ncpu(1)\nread_seqbegin(S)\n"
      "cpu(0)\nwrite_seqcount_end(S)\npreempt_enable()\n");
  EXPECT_TRUE(other.completed);
  EXPECT_EQ(other.findings.bugs(), 0u) << Summary(other);
  RunResult own = RunText(
      "lock(S, seqcount_t, \"&s->seq\")\npreempt_disable()\n"
      "write_seqcount_begin(S)\nnmi() {\n  read_seqbegin(S)\n}\n"
      "write_seqcount_end(S)\npreempt_enable()\n");
  EXPECT_FALSE(own.completed);
  EXPECT_TRUE(own.findings.has(FindingKind::kSeqlockReaderOnInterruptedWriter));
}

TEST(MisuseTest, UnlockingAnUnheldLockIsReportedNotACrash) {
  for (const Form& f : kForms) {
    RunResult r = RunText(Decl(f) + f.release + "(L)\n");
    EXPECT_TRUE(r.completed) << f.release;
    EXPECT_TRUE(r.findings.has(FindingKind::kLockAlreadyUnlocked) ||
                r.findings.has(FindingKind::kBadUnlockBalance) ||
                r.findings.has(FindingKind::kUnbalancedIrqRestore))
        << f.release << ": " << Summary(r);
  }
}

}  // namespace
}  // namespace reentry::exec
