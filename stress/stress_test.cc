#include "stress/runner.h"

#include <gtest/gtest.h>

namespace reentry::stress {
namespace {

StressOptions Short(WorkloadKind k) {
  StressOptions o;
  o.seed = 7;
  o.duration_s = 1.0;
  o.workload.kind = k;
  o.workload.round_ops = 128;
  o.irq_rate = 5000;
  o.nmi_rate = 500;
  o.ipi_rate = 500;
  o.watchdog_s = 5;
  return o;
}

TEST(StressTest, CleanLocksWorkloadFindsNothing) {
  StressResult r = RunStress(Short(WorkloadKind::kLocks));
  ASSERT_EQ(r.setup_error, "");
  for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
  EXPECT_GT(r.ops, 1000u);
  EXPECT_GT(r.total->irqs[0].get(), 0u);
}

TEST(StressTest, PlantedBugIsFoundAndReplayed) {
  StressOptions o = Short(WorkloadKind::kLocksBuggy);
  o.stop_on_finding = true;
  o.duration_s = 5;
  StressResult r = RunStress(o);
  ASSERT_GT(r.bugs(), 0u);
  VerifyReplays(&r);
  for (const StressFinding& f : r.findings) {
    EXPECT_GE(f.reproduced_by, 0) << f.title << "\n" << f.program;
  }
}

}  // namespace
}  // namespace reentry::stress
