#include "allocator/exec/executor.h"

#include <optional>
#include <string>
#include <vector>

#include "allocator/base/recycle.h"
#include "allocator/prog/generate.h"
#include "allocator/prog/text.h"
#include "gtest/gtest.h"

namespace reentry::exec {
namespace {

using ctx::ContextKind;
using ctx::LockType;
using prog::LockVerb;
using prog::Op;
using prog::Program;

// Small builders so tests read like the programs they run.
Op Call(LockVerb v, uint8_t lock = 0) {
  prog::LockCall c;
  c.verb = v;
  c.lock.v = lock;
  return c;
}
Op OnCpu(uint8_t c) { return prog::SwitchCpu{prog::CpuArg{c}}; }
Op Irq(ContextKind kind, std::vector<Op> body,
       ctx::PointId at = ctx::PointId::kNone, uint8_t nth = 1) {
  prog::Interrupt irq;
  irq.kind = kind;
  irq.at = prog::PointArg{at, nth};
  irq.body = std::move(body);
  return irq;
}

Program WithLocks(std::vector<std::pair<std::string, LockType>> locks,
                  int cpus = 1) {
  Program p;
  p.config.nr_cpus = cpus;
  for (auto& [name, type] : locks) {
    p.locks.push_back(prog::LockDecl{name, type, "&" + name + "->lock"});
  }
  return p;
}

RunOptions NoLockdep() {
  RunOptions o;
  o.lockdep = false;
  return o;
}

bool Has(const RunResult& r, FindingKind k) { return r.findings.has(k); }

TEST(ExecutorTest, HardirqTakingSpinlockHeldByItsTaskIsSameCpuDeadlock) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {Call(LockVerb::kSpinLock),
           Irq(ContextKind::kHardirq,
               {Call(LockVerb::kSpinLock), Call(LockVerb::kSpinUnlock)}),
           Call(LockVerb::kSpinUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_FALSE(r.completed);
  ASSERT_TRUE(Has(r, FindingKind::kLockRecursion));
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, FindingKind::kLockRecursion);
  EXPECT_EQ(f.context, static_cast<uint8_t>(ContextKind::kHardirq));
  EXPECT_EQ(f.op_index, 2u);  // the spin_lock inside the handler
  EXPECT_STREQ(f.locks[0].name, "&A->lock");
  EXPECT_EQ(r.trace.back().kind, TraceKind::kHang);
}

TEST(ExecutorTest, SameProgramWithIrqsaveRunsClean) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {Call(LockVerb::kSpinLockIrqsave),
           Irq(ContextKind::kHardirq,
               {Call(LockVerb::kSpinLock), Call(LockVerb::kSpinUnlock)}),
           Call(LockVerb::kSpinUnlockIrqrestore)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
  // The interrupt was held pending and fired when irqs came back on.
  bool pending = false, fired_after = false;
  for (const TraceEntry& e : r.trace) {
    if (e.kind == TraceKind::kIrqPending) pending = true;
    if (pending && e.kind == TraceKind::kIrqFire) fired_after = true;
  }
  EXPECT_TRUE(pending);
  EXPECT_TRUE(fired_after);
}

TEST(ExecutorTest, AbbaAcrossCpusIsAWaitCycle) {
  Program p =
      WithLocks({{"A", LockType::kSpinlock}, {"B", LockType::kSpinlock}}, 2);
  p.ops = {OnCpu(0), Call(LockVerb::kSpinLock, 0),
           OnCpu(1), Call(LockVerb::kSpinLock, 1),
           OnCpu(0), Call(LockVerb::kSpinLock, 1),
           OnCpu(1), Call(LockVerb::kSpinLock, 0)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_FALSE(r.completed);
  ASSERT_TRUE(Has(r, FindingKind::kWaitCycle));
  const Finding& f = r.findings[0];
  ASSERT_EQ(f.locks.size(), 2u);
  EXPECT_EQ(f.locks[0].role, LockRole::kWaiter);
}

TEST(ExecutorTest, ContendedLockIsHandedOver) {
  Program p = WithLocks({{"A", LockType::kSpinlock}}, 2);
  p.ops = {OnCpu(0), Call(LockVerb::kSpinLock),
           OnCpu(1), Call(LockVerb::kSpinLock),  // waits for cpu0
           OnCpu(0), Call(LockVerb::kSpinUnlock),
           OnCpu(1), Call(LockVerb::kSpinUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, IdleHolderRunsAheadToRelease) {
  // cpu1's unlock comes before cpu0's in program order, but cpu1 cannot get
  // the lock until cpu0 releases it: cpu0's next op runs early.
  Program p = WithLocks({{"A", LockType::kSpinlock}}, 2);
  p.ops = {OnCpu(0),
           Call(LockVerb::kSpinLock),
           OnCpu(1),
           Call(LockVerb::kSpinLock),
           Call(LockVerb::kSpinUnlock),
           OnCpu(0),
           Call(LockVerb::kSpinUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, LockNeverReleasedIsReported) {
  Program p = WithLocks({{"A", LockType::kSpinlock}}, 2);
  p.ops = {OnCpu(0), Call(LockVerb::kSpinLock), OnCpu(1),
           Call(LockVerb::kSpinLock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_FALSE(r.completed);
  EXPECT_TRUE(Has(r, FindingKind::kWaitCycle));
}

TEST(ExecutorTest, MutexContentionSleepsAndResumes) {
  Program p = WithLocks({{"M", LockType::kMutex}}, 2);
  p.ops = {OnCpu(0), Call(LockVerb::kMutexLock),
           OnCpu(1), Call(LockVerb::kMutexLock),
           OnCpu(0), Call(LockVerb::kMutexUnlock),
           OnCpu(1), Call(LockVerb::kMutexUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, SeqlockReaderOnInterruptedWriter) {
  Program p = WithLocks({{"S", LockType::kSeqlock}});
  p.ops = {Call(LockVerb::kWriteSeqlock),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kReadSeqbegin)}),
           Call(LockVerb::kWriteSequnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_FALSE(r.completed);
  EXPECT_TRUE(Has(r, FindingKind::kSeqlockReaderOnInterruptedWriter));
}

TEST(ExecutorTest, SeqlockWriterWithIrqsOffLetsTheReaderWait) {
  Program p = WithLocks({{"S", LockType::kSeqlock}});
  p.ops = {Call(LockVerb::kWriteSeqlockIrqsave),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kReadSeqbegin)}),
           Call(LockVerb::kWriteSequnlockIrqrestore)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, SeqlockReaderOnAnotherCpuWaitsForTheWriter) {
  Program p = WithLocks({{"S", LockType::kSeqlock}}, 2);
  p.ops = {OnCpu(0), Call(LockVerb::kWriteSeqlock),
           OnCpu(1), Call(LockVerb::kReadSeqbegin),
           OnCpu(0), Call(LockVerb::kWriteSequnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, UpTrylockSucceedsOnHeldLock) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.config.smp = false;
  p.ops = {Call(LockVerb::kSpinLock),
           Irq(ContextKind::kNmi,
               {Call(LockVerb::kSpinTrylock), Call(LockVerb::kSpinUnlock)}),
           Call(LockVerb::kSpinUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_TRUE(Has(r, FindingKind::kUpTrylockOnHeldLock));
  EXPECT_FALSE(Has(r, FindingKind::kLockAlreadyUnlocked));
}

TEST(ExecutorTest, SmpTrylockOnHeldLockFailsQuietly) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {Call(LockVerb::kSpinLock),
           Irq(ContextKind::kNmi, {Call(LockVerb::kSpinTrylock)}),
           Call(LockVerb::kSpinUnlock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, LocalTrylockDetectsReentryAndLocalLockCorrupts) {
  Program p = WithLocks({{"L", LockType::kLocalTrylock}});
  p.ops = {Call(LockVerb::kLocalLock),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kLocalTrylock)}),
           Call(LockVerb::kLocalUnlock)};
  Executor ex;
  RunResult clean = ex.Run(p, NoLockdep());
  EXPECT_TRUE(clean.completed);
  EXPECT_EQ(clean.findings.size(), 0u);

  p.ops = {Call(LockVerb::kLocalLock),
           Irq(ContextKind::kHardirq,
               {Call(LockVerb::kLocalLock), Call(LockVerb::kLocalUnlock)}),
           Call(LockVerb::kLocalUnlock)};
  RunResult bad = ex.Run(p, NoLockdep());
  EXPECT_TRUE(Has(bad, FindingKind::kLocalLockReentry));
  EXPECT_FALSE(Has(bad, FindingKind::kLockAlreadyUnlocked));
}

TEST(ExecutorTest, RtSpinlockIrqsaveLeavesIrqsOnAndSleepsInHardirq) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.config.preempt_rt = true;
  p.ops = {Call(LockVerb::kSpinLockIrqsave),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kSpinLock)}),
           Call(LockVerb::kSpinUnlockIrqrestore)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  // On PREEMPT_RT spin_lock_irqsave does not disable interrupts: the hardirq
  // lands inside the section and blocks on a sleeping lock.
  EXPECT_TRUE(Has(r, FindingKind::kSleepInAtomic));
  EXPECT_TRUE(Has(r, FindingKind::kLockRecursion));
}

TEST(ExecutorTest, RtTrylockInNmiSpinsOnWaitLock) {
  // BZ-02's NMI variant: cpu1 blocks on A in the rtmutex slow path holding
  // wait_lock; an NMI there trylocks A and needs wait_lock.
  Program p = WithLocks({{"A", LockType::kSpinlock}}, 2);
  p.config.preempt_rt = true;
  p.ops = {OnCpu(0), Call(LockVerb::kSpinLock), OnCpu(1),
           Irq(ContextKind::kNmi, {Call(LockVerb::kSpinTrylock)},
               ctx::PointId::kRtSpinLockWaitLock),
           Call(LockVerb::kSpinLock)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_FALSE(r.completed);
  EXPECT_TRUE(Has(r, FindingKind::kLockRecursion));
}

TEST(ExecutorTest, MutexInHardirqSleepsInAtomic) {
  Program p = WithLocks({{"M", LockType::kMutex}});
  p.ops = {Irq(ContextKind::kHardirq,
               {Call(LockVerb::kMutexLock), Call(LockVerb::kMutexUnlock)})};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(Has(r, FindingKind::kSleepInAtomic));
}

TEST(ExecutorTest, LockHeldAtHardirqExitAndAtReturnToUser) {
  Program p =
      WithLocks({{"A", LockType::kSpinlock}, {"B", LockType::kSpinlock}});
  p.ops = {Irq(ContextKind::kHardirq, {Call(LockVerb::kSpinLock, 0)}),
           Call(LockVerb::kSpinLock, 1)};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(Has(r, FindingKind::kLockHeldAtContextExit));
  EXPECT_TRUE(Has(r, FindingKind::kLockHeldReturningToUser));
}

TEST(ExecutorTest, UnbalancedRestores) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {prog::LocalIrqRestore{}};
  Executor ex;
  EXPECT_TRUE(Has(ex.Run(p, NoLockdep()), FindingKind::kUnbalancedIrqRestore));
  p.ops = {Call(LockVerb::kSpinLock), Call(LockVerb::kSpinUnlockIrqrestore)};
  EXPECT_TRUE(Has(ex.Run(p, NoLockdep()), FindingKind::kUnbalancedIrqRestore));
}

TEST(ExecutorTest, SoftirqRaisedInHardirqRunsAtIrqExit) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {Irq(ContextKind::kHardirq,
               {Irq(ContextKind::kSoftirq, {Call(LockVerb::kSpinLock),
                                            Call(LockVerb::kSpinUnlock)})})};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
  // Order: hardirq fires, softirq pending, hardirq done, softirq fires.
  std::vector<TraceKind> kinds;
  for (const TraceEntry& e : r.trace) {
    if (e.kind != TraceKind::kOp) kinds.push_back(e.kind);
  }
  std::vector<TraceKind> want = {TraceKind::kIrqFire, TraceKind::kIrqPending,
                                 TraceKind::kIrqDone, TraceKind::kIrqFire,
                                 TraceKind::kIrqDone};
  EXPECT_EQ(kinds, want);
}

TEST(ExecutorTest, BhDisabledDefersSoftirq) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {prog::LocalBhDisable{},
           Irq(ContextKind::kSoftirq,
               {Call(LockVerb::kSpinLock), Call(LockVerb::kSpinUnlock)}),
           Call(LockVerb::kSpinLock), Call(LockVerb::kSpinUnlock),
           prog::LocalBhEnable{}};
  Executor ex;
  RunResult r = ex.Run(p, NoLockdep());
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
}

TEST(ExecutorTest, Deterministic) {
  Program p =
      WithLocks({{"A", LockType::kSpinlock}, {"B", LockType::kSpinlock}}, 2);
  p.ops = {OnCpu(0),
           Call(LockVerb::kSpinLock, 0),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kSpinTrylock, 1)}),
           OnCpu(1),
           Call(LockVerb::kSpinLock, 1),
           OnCpu(0),
           Call(LockVerb::kSpinLock, 1),
           OnCpu(1),
           Call(LockVerb::kSpinLock, 0)};
  Executor ex;
  RunResult a = ex.Run(p);
  RunResult b = ex.Run(p);
  Executor ex2;
  RunResult c = ex2.Run(p);
  ASSERT_EQ(a.trace.size(), b.trace.size());
  ASSERT_EQ(a.trace.size(), c.trace.size());
  for (size_t i = 0; i < a.trace.size(); ++i) {
    EXPECT_EQ(FormatTraceEntry(p, a.trace[i]), FormatTraceEntry(p, c.trace[i]));
  }
  ASSERT_EQ(a.findings.size(), c.findings.size());
  for (size_t i = 0; i < a.findings.size(); ++i) {
    EXPECT_EQ(a.findings[i].kind, c.findings[i].kind);
    EXPECT_EQ(a.findings[i].op_index, c.findings[i].op_index);
  }
}

// The top-level ops, pauses and resumes of a run, as "cpu:what".
std::string Schedule(const RunResult& r) {
  std::string out;
  for (const TraceEntry& e : r.trace) {
    if (e.depth != 0) continue;
    switch (e.kind) {
      case TraceKind::kOp:
        out += std::to_string(e.cpu) + ":#" + std::to_string(e.op_index);
        break;
      case TraceKind::kPause:
        out += std::to_string(e.cpu) + ":pause@" + ctx::PointName(e.point);
        break;
      case TraceKind::kResume:
        out += std::to_string(e.cpu) + ":resume";
        break;
      default:
        continue;
    }
    out += " ";
  }
  return out;
}

std::optional<Program> Parse(const std::string& text) {
  prog::ParseError error;
  std::optional<Program> p = prog::ParseProgram(text, &error);
  EXPECT_TRUE(p.has_value()) << error.ToString();
  return p;
}

// One op stopped at two places: vCPU 1's ops run at each, and each
// resume() runs vCPU 0 on to its next pause (or its op's end).
TEST(ExecutorTest, PauseAgainStopsAnOpAtSeveralPlaces) {
  std::optional<Program> p = Parse(
      "cpu(0)\n"
      "pause(alloc_pages:entry)\n"            // #1
      "pause_again(post_alloc_hook:entry)\n"  // #2
      "p0 = alloc_pages(GFP_KERNEL, 0)\n"     // #3
      "cpu(1)\n"
      "p1 = alloc_pages(GFP_KERNEL, 0)\n"  // #5
      "cpu(0)\n"
      "resume(post_alloc_hook:entry)\n"  // #7
      "cpu(1)\n"
      "p2 = alloc_pages(GFP_KERNEL, 0)\n"  // #9
      "cpu(0)\n"
      "resume()\n");  // #11
  ASSERT_TRUE(p.has_value());
  Executor ex;
  RunResult r = ex.Run(*p);
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
  EXPECT_EQ(Schedule(r),
            "0:#1 0:#2 0:#3 0:pause@alloc_pages:entry 1:#5 0:#7 0:resume "
            "0:pause@post_alloc_hook:entry 1:#9 0:#11 0:resume ");
  EXPECT_EQ(r.allocs_ok, 3u);
}

// Arrivals count from the last pause(), across ops, and a resume() names a
// stop: one the vCPU already stopped at leaves it where it is, and an op
// for the vCPU runs it through the rest of its stops first.
TEST(ExecutorTest, ResumeNamesAStopAndCountsFromThePause) {
  std::optional<Program> p = Parse(
      "cpu(0)\n"
      "pause(printk:console_locked, 2)\n"        // #1
      "pause_again(printk:console_locked, 3)\n"  // #2
      "printk()\n"                               // #3: arrival 1
      "printk()\n"                               // #4: arrival 2, stops
      "resume(printk:console_locked, 2)\n"       // #5: already there
      "cpu(1)\n"
      "preempt_disable()\n"  // #7
      "cpu(0)\n"
      "resume(printk:console_locked, 3)\n"  // #9: on to the op's end
      "printk()\n"                          // #10: arrival 3, stops
      "cpu(1)\n"
      "preempt_enable()\n"  // #12
      "cpu(0)\n"
      "migrate_disable()\n");  // #14: #10 ends first
  ASSERT_TRUE(p.has_value());
  Executor ex;
  RunResult r = ex.Run(*p);
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(Schedule(r),
            "0:#1 0:#2 0:#3 0:#4 0:pause@printk:console_locked 0:#5 1:#7 "
            "0:#9 0:resume 0:#10 0:pause@printk:console_locked 1:#12 "
            "0:resume 0:#14 ");
}

// A resume() returns when its vCPU blocks on a lock another vCPU holds: the
// holder runs when the program says so (a recorded schedule has its turn
// next), not at once.
TEST(ExecutorTest, ResumeReturnsWhenTheVcpuBlocks) {
  std::optional<Program> p = Parse(
      "cpu(1)\n"
      "pause(rmqueue_bulk:zone_locked)\n"  // #1
      "p0 = alloc_pages(GFP_KERNEL, 0)\n"  // #2: stops holding zone->lock
      "cpu(0)\n"
      "pause(alloc_pages:entry)\n"         // #4
      "p1 = alloc_pages(GFP_KERNEL, 0)\n"  // #5: stops at its entry
      "resume()\n"                         // #6: blocks on zone->lock
      "cpu(1)\n"
      "resume()\n"  // #8: finishes, releasing zone->lock
      "cpu(0)\n"
      "resume()\n");  // #10: takes it and finishes
  ASSERT_TRUE(p.has_value());
  Executor ex;
  RunResult r = ex.Run(*p);
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.findings.size(), 0u);
  EXPECT_EQ(r.allocs_ok, 2u);
  EXPECT_EQ(Schedule(r),
            "1:#1 1:#2 1:pause@rmqueue_bulk:zone_locked 0:#4 0:#5 "
            "0:pause@alloc_pages:entry 0:#6 0:resume 1:#8 1:resume 0:#10 ");
}

// resume() inside an interrupt body is refused by the parser (and the
// validator); on a vCPU with nothing in progress it does nothing.
TEST(ExecutorTest, ResumeOfAnIdleVcpuDoesNothing) {
  std::optional<Program> p =
      Parse("resume()\nresume(alloc_pages:entry)\npreempt_disable()\n");
  ASSERT_TRUE(p.has_value());
  Executor ex;
  RunResult r = ex.Run(*p);
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(Schedule(r), "0:#0 0:#1 0:#2 ");
}

// A recorded stress program can arm hundreds of interrupts and stops for
// one op (a slow build takes many interrupts per op): every one runs. Before,
// the executor kept 32 armed interrupts and 128 stops per vCPU and silently
// dropped the rest, and a Debug build's BZ-27 replays diverged at the 33rd.
TEST(ExecutorTest, EveryArmedInterruptAndStopOfASegmentIsKept) {
  std::string text = "pause(printk:console_locked)\n";
  for (int k = 2; k <= 200; ++k) {
    text += "pause_again(printk:console_locked, " + std::to_string(k) + ")\n";
  }
  for (int k = 0; k < 40; ++k) text += "nmi(printk:console_locked) {\n}\n";
  for (int k = 0; k < 200; ++k) text += "printk()\n";
  std::optional<Program> p = Parse(text);
  ASSERT_TRUE(p.has_value());
  Executor ex;
  for (int run = 0; run < 2; ++run) {  // the second reuses the vectors
    RunResult r = ex.Run(*p);
    EXPECT_TRUE(r.completed);
    int fired = 0, paused = 0;
    for (const TraceEntry& e : r.trace) {
      fired += e.kind == TraceKind::kIrqFire;
      paused += e.kind == TraceKind::kPause;
    }
    EXPECT_EQ(fired, 40);
    EXPECT_EQ(paused, 200);
  }
}

TEST(ExecutorTest, ManyRunsReuseFibers) {
  Program p = WithLocks({{"A", LockType::kSpinlock}});
  p.ops = {Call(LockVerb::kSpinLock),
           Irq(ContextKind::kHardirq, {Call(LockVerb::kSpinLock)}),
           Call(LockVerb::kSpinUnlock)};
  Executor ex;
  for (int i = 0; i < 1000; ++i) {
    RunResult r = ex.Run(p, NoLockdep());
    ASSERT_TRUE(Has(r, FindingKind::kLockRecursion));
  }
}

// What a run did, as text: every trace entry and every finding.
std::string Describe(const Program& p, const RunResult& r) {
  std::string out = "ops_run=" + std::to_string(r.ops_run) +
                    " completed=" + std::to_string(r.completed) +
                    " allocs=" + std::to_string(r.allocs_ok) + "/" +
                    std::to_string(r.allocs_failed) + "\n";
  for (const TraceEntry& e : r.trace) out += FormatTraceEntry(p, e) + "\n";
  for (const Finding& f : r.findings) {
    out += std::string(FindingKindName(f.kind)) + " op " +
           std::to_string(f.op_index) + " cpu " + std::to_string(f.cpu) +
           " in " + (f.function ? f.function : "?") + ": " + f.detail + "\n";
  }
  return out;
}

// A world built from the last one's storage runs as a fresh one: programs
// of different shapes (vCPUs, RT, locks, allocator ops, interrupts) in
// turn on one recycling executor, each compared with a fresh executor's run.
TEST(ExecutorTest, RecycledWorldsRunAsFreshOnes) {
  std::vector<Program> programs;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    prog::GenerateOptions g;
    g.num_ops = 24 + static_cast<int>(seed % 5) * 16;
    g.cpus = 1 + static_cast<int>(seed % 4);
    Program p = prog::GenerateProgram(seed, g);
    p.config.preempt_rt = seed % 3 == 0;
    programs.push_back(std::move(p));
  }
  std::vector<std::string> fresh;
  for (const Program& p : programs) {
    Executor ex;
    fresh.push_back(Describe(p, ex.Run(p)));
  }
  DropRecycledBlocks();
  Executor recycling;
  recycling.set_recycle_worlds(true);
  const RecycleStats before = GetRecycleStats();
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < programs.size(); ++i) {
      // Each round in another order (5 and 7 are coprime with 24), so
      // each world reuses another's blocks.
      static constexpr size_t kStride[] = {1, 5, 7};
      const size_t k = (i * kStride[round] + round) % programs.size();
      EXPECT_EQ(Describe(programs[k], recycling.Run(programs[k])), fresh[k])
          << "program " << k << " (round " << round << ")";
    }
  }
  const RecycleStats after = GetRecycleStats();
  // Most of a world's blocks come from the cache after the first run.
  EXPECT_GT(after.reused - before.reused, 20 * programs.size());
  DropRecycledBlocks();
  EXPECT_EQ(GetRecycleStats().blocks, 0u);
}

}  // namespace
}  // namespace reentry::exec
