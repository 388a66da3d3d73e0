// The results of a stress run as a JSON summary (for scripts and the
// nightly matrix) and as one self-contained HTML page: tables and plots as
// inline SVG drawn here, no JavaScript, no external resources.
#ifndef REENTRY_STRESS_HTML_REPORT_H_
#define REENTRY_STRESS_HTML_REPORT_H_

#include <string>

#include "stress/runner.h"

namespace reentry::stress {

// Files written next to the report, named in it (relative paths).
struct ReportFiles {
  std::vector<std::string> replay;     // per finding: the recorded program
  std::vector<std::string> minimized;  // per finding: "" if none
};

// "time", "finding", "watchdog", "hang".
const char* EndReason(const StressResult& r);

std::string StressJson(const StressResult& r, const ReportFiles& files);
std::string StressHtml(const StressResult& r, const ReportFiles& files);

// The text summary printed at the end of `reentry stress`.
std::string StressSummaryText(const StressResult& r);

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_HTML_REPORT_H_
