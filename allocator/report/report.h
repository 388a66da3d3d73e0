// Findings as text a kernel developer recognises. A Finding is data (see
// base/finding.h); this layer only formats it:
//
//   Title(f)                 "possible deadlock in rmqueue_bulk": syzbot's
//                            "<headline> in <function>"
//   FormatFindingSummary(f)  one line: "[AA] possible deadlock in rmqueue_bulk
//                            (cpu0 hardirq, op #7)"
//   FormatReport(f, in)      a lockdep-shaped splat: banner between rule
//                            lines, the acquiring and held locks with their
//                            usage and wait types, the dependency chain, the
//                            unsafe locking scenario, the held-lock list, and
//                            a trailer with the configuration, the bug-zoo
//                            switches, the trace and the program text.
//
// Where the kernel prints a stack, reports print the program op index and the
// model function ("op #12: spin_lock_irqsave in rmqueue_bulk").
#ifndef REENTRY_ALLOCATOR_REPORT_REPORT_H_
#define REENTRY_ALLOCATOR_REPORT_REPORT_H_

#include <string>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/finding.h"
#include "allocator/ctx/types.h"

namespace reentry::report {

struct ReportInput {
  ctx::Config config;
  BugSet bugs;
  std::string program_text;              // printed at the end, if not empty
  std::vector<std::string> trace_lines;  // printed before it, if any
};

// "<headline> in <function>", with %L and %C of the headline substituted;
// the function is f.function or "unknown".
std::string Title(const Finding& f);

// "[AA] possible deadlock in rmqueue_bulk (cpu0 hardirq, op #7)".
std::string FormatFindingSummary(const Finding& f);

// The full report; ends with a newline.
std::string FormatReport(const Finding& f, const ReportInput& in);

// The banner line of a finding with %L and %C substituted
// ("WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected").
std::string Banner(const Finding& f);

}  // namespace reentry::report

#endif  // REENTRY_ALLOCATOR_REPORT_REPORT_H_
