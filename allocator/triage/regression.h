// Regression inputs: minimized findings kept in corpora/<target>/regressions/
// as text programs whose header comments say what each configuration must
// give:
//
//   # regression: nolock allocation in NMI spun on zone->lock (BZ-01)
//   # expect: REENTRY_BUGS=BZ-01 -> possible deadlock in rmqueue_buddy
//   # expect: -> clean
//
// An expectation is a list of REENTRY_* assignments (target_options.h),
// "->", and either a title the target must crash with or "clean". Without
// any "# expect:" line the file must run clean with no variables set. Each
// expectation runs several times (fresh and reused executors) and must give
// the same findings every time.
#ifndef REENTRY_ALLOCATOR_TRIAGE_REGRESSION_H_
#define REENTRY_ALLOCATOR_TRIAGE_REGRESSION_H_

#include <map>
#include <string>
#include <vector>

#include "allocator/triage/target_options.h"

namespace reentry::triage {

struct Expectation {
  std::map<std::string, std::string> env;
  std::string title;  // empty: clean
};

// Parses the "# expect:" lines of a regression file's text.
bool ParseExpectations(const std::string& text, std::vector<Expectation>* out,
                       std::string* error);

// "# expect: REENTRY_BUGS=BZ-01 -> title\n" lines for a header.
std::string FormatExpectation(const Expectation& e);

// Checks one regression file (text or binary; binary files expect clean).
// Returns false and a message on any mismatch or nondeterminism.
bool CheckRegressionFile(TargetId target, const std::string& path, int runs,
                         std::string* message);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_REGRESSION_H_
