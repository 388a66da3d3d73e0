// Every bug-zoo entry, re-introduced by its switch, is found by the program
// in corpora/bugzoo/<id>.txt; with the switch off the same program runs
// clean (no bug-severity finding).
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/finding.h"
#include "allocator/exec/executor.h"
#include "allocator/prog/text.h"

namespace reentry {
namespace {

struct ZooCase {
  BugId bug;
  std::vector<FindingKind> expected;  // at least one of these
  bool expect_gfp_warning_off = false;  // the program misuses gfp on purpose
};

const std::vector<ZooCase>& Cases() {
  static const std::vector<ZooCase> cases = {
      {BugId::kBz01, {FindingKind::kLockRecursion}},
      {BugId::kBz02, {FindingKind::kInvalidWaitContext}},
      {BugId::kBz08, {FindingKind::kSeqlockReaderOnInterruptedWriter}},
      {BugId::kBz09, {FindingKind::kCircularDependency}},
      {BugId::kBz10, {FindingKind::kSleepInAtomic}},
      {BugId::kBz11, {FindingKind::kCircularDependency}},
      {BugId::kBz15,
       {FindingKind::kInvalidWaitContext, FindingKind::kAllocInvalidContext}},
      {BugId::kBz16, {FindingKind::kAllocInvalidContext}},
      {BugId::kBz17, {FindingKind::kCircularDependency}},
      {BugId::kBz26, {FindingKind::kCircularDependency}},
      {BugId::kBz27, {FindingKind::kLocalLockReentry}},
      {BugId::kBz28Highatomic, {FindingKind::kNonTryLockInNolock}, true},
      {BugId::kBz28Accept, {FindingKind::kNonTryLockInNolock}},
      {BugId::kBz28Stackdepot, {FindingKind::kNonTryLockInNolock}},
      {BugId::kBz28Kswapd, {FindingKind::kNonTryLockInNolock}},
      {BugId::kBz30, {FindingKind::kRetryLivelock}},
  };
  return cases;
}

prog::Program Load(BugId bug) {
  const std::string path =
      std::string(REENTRY_BUGZOO_DIR) + "/" + BugIdName(bug) + ".txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  prog::ParseError error;
  std::optional<prog::Program> p = prog::ParseProgram(ss.str(), &error);
  EXPECT_TRUE(p.has_value()) << path << ": " << error.ToString();
  return p.value_or(prog::Program{});
}

std::string Describe(const exec::RunResult& r) {
  std::string s;
  for (const Finding& f : r.findings) {
    s += std::string("  ") + FindingKindName(f.kind) + " in " +
         (f.function ? f.function : "?") + ": " + f.detail + "\n";
  }
  return s;
}

class BugZooTest : public ::testing::TestWithParam<ZooCase> {};

TEST_P(BugZooTest, FoundWithTheSwitchCleanWithout) {
  const ZooCase& c = GetParam();
  prog::Program p = Load(c.bug);
  // The file names its bug, so that `reentry repro` reproduces it directly.
  BugSet only;
  only.set(c.bug);
  EXPECT_EQ(p.bugs, only) << BugSetToString(p.bugs);

  exec::Executor executor;
  const exec::RunResult on = executor.Run(p);
  bool found = false;
  for (FindingKind k : c.expected) found |= on.findings.has(k);
  EXPECT_TRUE(found) << BugIdName(c.bug) << " on:\n" << Describe(on);

  p.bugs = BugSet{};
  const exec::RunResult off = executor.Run(p);
  EXPECT_EQ(off.findings.bugs(), 0u)
      << BugIdName(c.bug) << " off:\n" << Describe(off);
  EXPECT_TRUE(off.completed);
  EXPECT_EQ(off.findings.has(FindingKind::kGfpMisuse),
            c.expect_gfp_warning_off);
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, BugZooTest, ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<ZooCase>& info) {
      std::string name = BugIdName(info.param.bug);
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

TEST(BugZooTest, EveryEntryHasACase) {
  std::vector<bool> seen(kNumBugs, false);
  for (const ZooCase& c : Cases()) seen[static_cast<int>(c.bug)] = true;
  for (int i = 0; i < kNumBugs; ++i) {
    EXPECT_TRUE(seen[i]) << BugIdName(static_cast<BugId>(i));
  }
}

}  // namespace
}  // namespace reentry
