#include "allocator/ctx/kernel.h"

#include <string>
#include <vector>

#include "allocator/ctx/alloc_stats.h"
#include "gtest/gtest.h"

namespace reentry::ctx {
namespace {

class KernelTest : public ::testing::Test {
 protected:
  void SetUpKernel(Config c) {
    kernel_ = std::make_unique<Kernel>(c);
    set_this_cpu(&kernel_->cpu(0));
  }
  void SetUp() override { SetUpKernel(Config{}); }
  void TearDown() override { set_this_cpu(nullptr); }
  Cpu& cpu() { return kernel_->cpu(0); }
  bool Found(FindingKind k) { return kernel_->findings().has(k); }

  std::unique_ptr<Kernel> kernel_;
};

TEST_F(KernelTest, TaskContextQueries) {
  EXPECT_TRUE(in_task());
  EXPECT_FALSE(in_interrupt());
  EXPECT_FALSE(irqs_disabled());
  EXPECT_TRUE(preemptible());
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_EQ(cpu().context(), ContextKind::kTask);
}

TEST_F(KernelTest, SoftirqContext) {
  ASSERT_TRUE(cpu().CanEnter(ContextKind::kSoftirq));
  cpu().EnterContext(ContextKind::kSoftirq);
  EXPECT_TRUE(in_serving_softirq());
  EXPECT_TRUE(in_interrupt());
  EXPECT_FALSE(in_task());
  EXPECT_FALSE(in_hardirq());
  EXPECT_FALSE(irqs_disabled());
  EXPECT_FALSE(preemptible());
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kSoftirq));  // no nesting
  EXPECT_TRUE(cpu().CanEnter(ContextKind::kHardirq));
  cpu().ExitContext();
  EXPECT_TRUE(in_task());
  EXPECT_TRUE(kernel_->findings().size() == 0);
}

TEST_F(KernelTest, HardirqContextMasksInterrupts) {
  cpu().EnterContext(ContextKind::kHardirq);
  EXPECT_TRUE(in_hardirq());
  EXPECT_FALSE(in_nmi());
  EXPECT_TRUE(irqs_disabled());
  EXPECT_EQ(cpu().preempt_count(), kHardirqOffset);
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kHardirq));
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kSoftirq));
  EXPECT_TRUE(cpu().CanEnter(ContextKind::kNmi));
  cpu().ExitContext();
  EXPECT_FALSE(irqs_disabled());
  EXPECT_EQ(kernel_->findings().size(), 0u);
}

TEST_F(KernelTest, NmiCountsAsHardirqToo) {
  cpu().EnterContext(ContextKind::kNmi);
  EXPECT_TRUE(in_nmi());
  EXPECT_TRUE(in_hardirq());  // nmi_enter() adds HARDIRQ_OFFSET as well
  EXPECT_TRUE(irqs_disabled());
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kNmi));  // NMIs do not nest
  cpu().ExitContext();
  EXPECT_EQ(cpu().preempt_count(), 0u);
}

TEST_F(KernelTest, NmiNestsInsideHardirqInsideSoftirq) {
  cpu().EnterContext(ContextKind::kSoftirq);
  cpu().EnterContext(ContextKind::kHardirq);
  cpu().EnterContext(ContextKind::kNmi);
  EXPECT_EQ(cpu().depth(), 3);
  EXPECT_EQ(cpu().preempt_count(),
            kSoftirqOffset + 2 * kHardirqOffset + kNmiOffset);
  cpu().ExitContext();
  cpu().ExitContext();
  EXPECT_TRUE(in_serving_softirq());
  EXPECT_FALSE(irqs_disabled());
  cpu().ExitContext();
  EXPECT_EQ(kernel_->findings().size(), 0u);
}

TEST_F(KernelTest, NoHardirqWhileIrqsDisabled) {
  IrqFlags f = local_irq_save();
  EXPECT_FALSE(f.irqs_disabled);
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kHardirq));
  EXPECT_TRUE(cpu().CanEnter(ContextKind::kNmi));
  local_irq_restore(f);
  EXPECT_TRUE(cpu().CanEnter(ContextKind::kHardirq));
}

TEST_F(KernelTest, NestedIrqSaveRestore) {
  IrqFlags a = local_irq_save();
  IrqFlags b = local_irq_save();
  EXPECT_TRUE(b.irqs_disabled);
  local_irq_restore(b);
  EXPECT_TRUE(irqs_disabled());
  local_irq_restore(a);
  EXPECT_FALSE(irqs_disabled());
  EXPECT_EQ(kernel_->findings().size(), 0u);
}

TEST_F(KernelTest, RestoreWithIrqsEnabledIsAFinding) {
  local_irq_restore(IrqFlags{true});
  EXPECT_TRUE(Found(FindingKind::kIrqRestoreWithIrqsEnabled));
}

TEST_F(KernelTest, EnablingIrqsInHardirqIsAFinding) {
  cpu().EnterContext(ContextKind::kHardirq);
  local_irq_enable();
  EXPECT_TRUE(Found(FindingKind::kIrqEnableInHardirq));
  EXPECT_TRUE(irqs_disabled());
  cpu().ExitContext();
  EXPECT_FALSE(Found(FindingKind::kIrqsEnabledAtContextExit));
}

TEST_F(KernelTest, BhDisableCountsInPreemptCount) {
  local_bh_disable();
  EXPECT_EQ(cpu().preempt_count(), kSoftirqDisableOffset);
  EXPECT_TRUE(cpu().in_softirq());
  EXPECT_FALSE(in_serving_softirq());
  EXPECT_FALSE(cpu().CanEnter(ContextKind::kSoftirq));
  local_bh_enable();
  EXPECT_EQ(cpu().preempt_count(), 0u);
}

// Found by the checker fuzz target: the 128th nested local_bh_disable()
// carried into the hardirq count and an internal CHECK aborted the run. The
// kernel's fields are 8 bits each; the nesting that does not fit is a
// finding now, and the count stays as it was.
TEST_F(KernelTest, NestingPastTheCountFieldsIsReportedNotCarried) {
  for (int i = 0; i < 127; ++i) local_bh_disable();
  EXPECT_FALSE(Found(FindingKind::kBhCountOverflow));
  EXPECT_EQ(cpu().preempt_count(), 127 * kSoftirqDisableOffset);
  local_bh_disable();
  EXPECT_TRUE(Found(FindingKind::kBhCountOverflow));
  EXPECT_EQ(cpu().preempt_count(), 127 * kSoftirqDisableOffset);
  EXPECT_FALSE(cpu().in_hardirq());
  for (int i = 0; i < 127; ++i) local_bh_enable();
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_FALSE(Found(FindingKind::kBhCountUnderflow));

  for (int i = 0; i < 255; ++i) preempt_disable();
  EXPECT_FALSE(Found(FindingKind::kPreemptCountOverflow));
  preempt_disable();
  EXPECT_TRUE(Found(FindingKind::kPreemptCountOverflow));
  EXPECT_EQ(cpu().preempt_count(), 255u);
  EXPECT_FALSE(cpu().in_softirq());
  for (int i = 0; i < 255; ++i) preempt_enable();
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_FALSE(Found(FindingKind::kPreemptCountUnderflow));
}

TEST_F(KernelTest, BhEnableUnderflowAndInHardirq) {
  local_bh_enable();
  EXPECT_TRUE(Found(FindingKind::kBhCountUnderflow));
  cpu().EnterContext(ContextKind::kHardirq);
  local_bh_disable();
  local_bh_enable();
  EXPECT_TRUE(Found(FindingKind::kBadBhEnable));
  cpu().ExitContext();
}

TEST_F(KernelTest, PreemptCount) {
  preempt_disable();
  EXPECT_EQ(cpu().preempt_count(), 1u);
  EXPECT_TRUE(in_atomic());
  EXPECT_FALSE(preemptible());
  preempt_enable();
  EXPECT_TRUE(preemptible());
  preempt_enable();
  EXPECT_TRUE(Found(FindingKind::kPreemptCountUnderflow));
}

TEST_F(KernelTest, WithoutPreemptCountPreemptDisableIsInvisible) {
  Config c;
  c.preempt_count = false;
  SetUpKernel(c);
  EXPECT_FALSE(preemptible());  // defined as 0 without CONFIG_PREEMPT_COUNT
  preempt_disable();
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_FALSE(in_atomic());
  EXPECT_EQ(cpu().preempt_disable_depth(), 1u);  // the real state
  might_sleep("test");
  EXPECT_FALSE(Found(FindingKind::kSleepInAtomic));  // the kernel is blind
  preempt_enable();
}

TEST_F(KernelTest, MightSleepInAtomic) {
  might_sleep("test");
  EXPECT_FALSE(Found(FindingKind::kSleepInAtomic));
  preempt_disable();
  might_sleep("test");
  EXPECT_TRUE(Found(FindingKind::kSleepInAtomic));
  preempt_enable();
}

TEST_F(KernelTest, PreemptLeakAtHardirqExitIsRepaired) {
  cpu().EnterContext(ContextKind::kHardirq);
  preempt_disable();
  cpu().ExitContext();
  EXPECT_TRUE(Found(FindingKind::kPreemptLeakAtContextExit));
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_EQ(cpu().preempt_disable_depth(), 0u);
}

TEST_F(KernelTest, ReturnToUserChecks) {
  local_irq_disable();
  preempt_disable();
  cpu().CheckReturnToUser();
  EXPECT_TRUE(Found(FindingKind::kIrqsDisabledAtTaskExit));
  EXPECT_TRUE(Found(FindingKind::kPreemptLeakAtContextExit));
}

TEST_F(KernelTest, UpForcesOneCpu) {
  Config c;
  c.smp = false;
  c.nr_cpus = 4;
  SetUpKernel(c);
  EXPECT_EQ(kernel_->nr_cpus(), 1);
}

TEST_F(KernelTest, LockClassesByNameAndType) {
  LockClassId a =
      kernel_->RegisterLockClass("&zone->lock", LockType::kSpinlock);
  LockClassId b =
      kernel_->RegisterLockClass("&zone->lock", LockType::kSpinlock);
  LockClassId c = kernel_->RegisterLockClass("&pcp->lock", LockType::kSpinlock);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_STREQ(kernel_->lock_class(c).name, "&pcp->lock");
  EXPECT_EQ(kernel_->lock_class(a).wait, WaitType::kWaitConfig);
  // Same name, other type: another class.
  EXPECT_NE(kernel_->RegisterLockClass("&zone->lock", LockType::kRawSpinlock),
            a);
}

// Past the half-full index (new classes are then found by a scan) every
// class is still found again, and only once; a name longer than the stored
// one finds the class it was truncated into.
TEST_F(KernelTest, ManyLockClassesAndLongNames) {
  std::vector<LockClassId> ids;
  for (int i = 0; i < 1500; ++i) {
    ids.push_back(kernel_->RegisterLockClass("class-" + std::to_string(i),
                                             LockType::kSpinlock));
  }
  const size_t n = kernel_->nr_lock_classes();
  for (int i = 0; i < 1500; ++i) {
    EXPECT_EQ(kernel_->RegisterLockClass("class-" + std::to_string(i),
                                         LockType::kSpinlock),
              ids[i])
        << i;
  }
  EXPECT_EQ(kernel_->nr_lock_classes(), n);
  const std::string long_name(100, 'x');
  const LockClassId l = kernel_->RegisterLockClass(long_name, LockType::kMutex);
  EXPECT_EQ(kernel_->RegisterLockClass(long_name, LockType::kMutex), l);
  EXPECT_EQ(kernel_->lock_class(l).name, long_name.substr(0, 47));
}

TEST(ConfigTest, ResolveWait) {
  Config c;
  EXPECT_EQ(c.ResolveWait(WaitType::kWaitConfig), WaitType::kWaitSpin);
  c.preempt_rt = true;
  EXPECT_EQ(c.ResolveWait(WaitType::kWaitConfig), WaitType::kWaitSleep);
  EXPECT_EQ(c.ResolveWait(WaitType::kWaitSpin), WaitType::kWaitSpin);
}

TEST(InjectionPointsTest, NamesRoundTrip) {
  for (int i = 0; i < kNumPoints; ++i) {
    auto p = static_cast<PointId>(i);
    EXPECT_EQ(ParsePointName(PointName(p)), p) << PointName(p);
  }
  EXPECT_FALSE(ParsePointName("no_such:point").has_value());
}

}  // namespace
}  // namespace reentry::ctx

namespace reentry::ctx {
namespace {

// A handler that leaks local_bh_disable() must not corrupt the interrupted
// task's count when the repair runs (regression: the bh depth was kept while
// the count was restored, and a later local_bh_enable() wrapped the count
// into the hardirq/NMI bits).
TEST_F(KernelTest, BhLeakInHandlerIsRepairedConsistently) {
  cpu().EnterContext(ContextKind::kSoftirq);
  local_bh_disable();
  cpu().ExitContext();
  EXPECT_TRUE(Found(FindingKind::kPreemptLeakAtContextExit));
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_EQ(cpu().bh_disable_depth(), 0u);
  local_bh_enable();  // now an underflow, not a wrapped count
  EXPECT_TRUE(Found(FindingKind::kBhCountUnderflow));
  EXPECT_EQ(cpu().preempt_count(), 0u);
  EXPECT_TRUE(in_task());
  EXPECT_FALSE(in_hardirq());
}

}  // namespace
}  // namespace reentry::ctx

// --- alloc_stats.h: failure reasons reach the sink, on the failing vCPU ---

namespace reentry::ctx {
namespace {

class RecordingSink : public AllocStatsSink {
 public:
  void OnAllocFail(Cpu& cpu, AllocFail reason) override {
    last_cpu = cpu.id();
    last_depth = cpu.depth();
    last = reason;
    ++calls;
  }
  int calls = 0;
  int last_cpu = -1;
  int last_depth = -1;
  AllocFail last = AllocFail::kOther;
};

TEST(AllocStatsTest, ReasonsReachTheSinkOnlyWhenAttached) {
  Kernel kernel(Config{});
  set_this_cpu(&kernel.cpu(1));
  note_alloc_fail(AllocFail::kPcpBusy);  // no sink: nothing happens
  RecordingSink sink;
  kernel.SetAllocStatsSink(&sink);
  kernel.cpu(1).EnterContext(ContextKind::kHardirq);
  note_alloc_fail(AllocFail::kZoneBusy);
  EXPECT_EQ(sink.calls, 1);
  EXPECT_EQ(sink.last_cpu, 1);
  EXPECT_EQ(sink.last_depth, 1);
  EXPECT_EQ(sink.last, AllocFail::kZoneBusy);
  kernel.cpu(1).ExitContext();
  set_this_cpu(nullptr);
  note_alloc_fail(AllocFail::kWatermark);  // no current vCPU: ignored
  EXPECT_EQ(sink.calls, 1);
  EXPECT_STREQ(AllocFailName(AllocFail::kOrderTooHigh), "order_too_high");
  EXPECT_STREQ(AllocFailName(AllocFail::kCount), "?");
}

}  // namespace
}  // namespace reentry::ctx
