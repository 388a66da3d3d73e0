// reentry bugs / points: list the bug-zoo switches and the injection points.
#include <cstdio>

#include "allocator/base/bug_zoo.h"
#include "allocator/ctx/injection_points.h"
#include "tools/command.h"

namespace reentry::tools {
namespace {

int RunBugs(const std::vector<std::string>& argv) {
  for (int i = 0; i < kNumBugs; ++i) {
    const auto b = static_cast<BugId>(i);
    printf("%-7s %s\n", BugIdName(b), BugDescription(b));
  }
  return kExitOk;
}

int RunPoints(const std::vector<std::string>& argv) {
  for (int i = 1; i < ctx::kNumPoints; ++i) {
    const auto p = static_cast<ctx::PointId>(i);
    printf("%-44s %s\n", ctx::PointName(p), ctx::PointDescription(p));
  }
  return kExitOk;
}

const Command kBugs = {"bugs", "bugs",
                       "list the bug-zoo entries that --bug can switch on", "",
                       RunBugs};
const Command kPoints = {
    "points", "points",
    "list the injection points where interrupts and pauses can land", "",
    RunPoints};
REENTRY_COMMAND(bugs, kBugs);
REENTRY_COMMAND(points, kPoints);

}  // namespace
}  // namespace reentry::tools
