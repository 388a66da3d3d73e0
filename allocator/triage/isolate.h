// Runs one input through a target in a forked child, so that whatever the
// input does (a harness CHECK, a sanitizer report, a hang) the calling tool
// survives and gets a title for it. Campaign triage and the minimizer use
// this for inputs that may crash hard; ordinary findings come back as the
// same titles Evaluate gives.
#ifndef REENTRY_ALLOCATOR_TRIAGE_ISOLATE_H_
#define REENTRY_ALLOCATOR_TRIAGE_ISOLATE_H_

#include <functional>
#include <string>
#include <vector>

#include "allocator/triage/target.h"

namespace reentry::triage {

struct Triaged {
  bool ok = false;          // the child ran to the end (no hard crash)
  bool crash = false;       // the target would crash (verdict or hard crash)
  bool hard = false;        // died by signal / exit code / timeout
  std::vector<Problem> problems;
  std::string prepared_text;  // the program the target ran (text form)
  std::string reports;        // report::FormatReport of each problem
  std::string detail;
  std::string child_stderr;   // what a hard crash printed (tail)
};

// The title a hard crash gets from its output: "internal CHECK failed:
// <condition> (<file>)", "AddressSanitizer: <kind> in <function>",
// "UndefinedBehaviorSanitizer: <message>", "timeout", "killed by signal N".
std::string HardCrashTitle(const std::string& child_stderr, int signal,
                           bool timed_out);

// Prepares bytes as the target does, evaluates them with the trace on and
// formats the reports, in a child process with a wall-clock limit.
Triaged TriageIsolated(TargetId target, const std::string& bytes,
                       const TargetOptions& options, double timeout_seconds);

// The same for an already prepared program (no Prepare step).
Triaged TriageProgramIsolated(TargetId target, const prog::Program& prepared,
                              const TargetOptions& options,
                              double timeout_seconds);

// Runs body() in a forked child with a wall-clock limit; its return value
// comes back in *answer and its stderr (tail) in *child_stderr. Returns
// false if the child crashed, timed out or exited abnormally (*signal and
// *timed_out say how).
bool RunForked(const std::function<std::string()>& body, double timeout_seconds,
               std::string* answer, std::string* child_stderr, int* signal,
               bool* timed_out);

// In-process version (no fork): for inputs known not to crash hard.
Triaged TriageInProcess(TargetId target, const prog::Program& prepared,
                        const TargetOptions& options, exec::Executor& ex);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_ISOLATE_H_
