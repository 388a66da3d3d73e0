// What each fuzz target does with an input, as a library: the fuzz binaries
// (fuzz/*_fuzz.cc) are thin wrappers around FuzzOneInput, and the tools
// (`reentry fuzz`, `minimize`, `report`) run inputs through the same
// Prepare/Evaluate so a crash input means the same thing everywhere.
//
//   bytes --DecodeProgram--> program --Prepare(target, options)--> program'
//         --Executor::Run--> RunResult --Judge(target)--> RunVerdict
//
// Prepare applies the campaign configuration (target_options.h) and the
// target's input discipline (discipline.h); program' is what the target
// really runs, and what reports and minimized reproducers show.
#ifndef REENTRY_ALLOCATOR_TRIAGE_TARGET_H_
#define REENTRY_ALLOCATOR_TRIAGE_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "allocator/exec/executor.h"
#include "allocator/prog/program.h"
#include "allocator/triage/target_options.h"

namespace reentry::triage {

// One problem that makes a target crash.
struct Problem {
  std::string title;    // dedup key: "possible deadlock in rmqueue_bulk"
  std::string summary;  // one line: "[AA] possible deadlock in ... (cpu0 ...)"
  int finding = -1;     // index into RunVerdict::result.findings, or -1
};

struct RunVerdict {
  bool crash = false;                       // the target aborts on this input
  std::vector<Problem> problems;            // crash-worthy, in report order
  std::vector<std::string> ignored_titles;  // bugs filtered by only_titles
  exec::RunResult result;
  std::string detail;  // target-specific explanation (checker differential)
};

// The program the target runs for these bytes / this program.
prog::Program PrepareInput(TargetId target, const uint8_t* data, size_t size,
                           const TargetOptions& options);
prog::Program PrepareProgram(TargetId target, prog::Program p,
                             const TargetOptions& options);

// The executor options the target runs with.
exec::RunOptions TargetRunOptions(TargetId target, const TargetOptions& o,
                                  bool trace);

// Runs a prepared program as the target does and judges the result. For the
// decoder target, the round-trip oracle runs on EncodeProgram(p) and a
// failure aborts the process (use EvaluateIsolated to survive it).
RunVerdict Evaluate(TargetId target, const prog::Program& prepared,
                    const TargetOptions& options, exec::Executor& executor,
                    bool trace = false);

// The message a target prints before aborting: one block per problem
// ("reentry: <target>_fuzzer found: <summary>\n  title: <title>").
std::string CrashMessage(TargetId target, const RunVerdict& v);

// --- The body of the fuzz binaries. ---

// Reads the options from the environment (exits with status 2 and a message
// naming the variable on a bad value) and warms the executor up so that the
// first input runs the same code as every later one (AFL++ stability).
void FuzzInitialize(TargetId target);
// Runs one input; on a crash-worthy verdict prints CrashMessage to stderr
// and aborts. Returns 0.
int FuzzOneInput(TargetId target, const uint8_t* data, size_t size);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_TARGET_H_
