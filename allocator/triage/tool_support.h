// Small helpers the triage subcommands of `reentry` share (fuzz, minimize,
// report, sweep): campaign options from flags and environment, durations,
// the repository root, loading an input as a target would.
#ifndef REENTRY_ALLOCATOR_TRIAGE_TOOL_SUPPORT_H_
#define REENTRY_ALLOCATOR_TRIAGE_TOOL_SUPPORT_H_

#include <optional>
#include <string>

#include "allocator/prog/program.h"
#include "allocator/triage/target_options.h"

namespace reentry::triage {

// The run-configuration flags of the CLI (tools/run_config.h), as plain
// values: bugs (--bug), --rt, --up, --cpus (0: not given), --nolock ("" not
// given), --no-preempt-count.
struct RunFlags {
  BugSet bugs;
  bool rt = false;
  bool up = false;
  int cpus = 0;
  std::string nolock;
  bool no_preempt_count = false;
};

// The REENTRY_* environment (as the fuzz targets read it), then the flags on
// top. False and *error on a bad environment value.
bool OptionsFromEnvAndFlags(const RunFlags& flags, TargetOptions* out,
                            std::string* error);

// "300", "90s", "10m", "1h30m" -> seconds. nullopt if malformed.
std::optional<double> ParseDuration(const std::string& s);
// 75 -> "1m15s"
std::string FormatDuration(double seconds);

// The repository root: REENTRY_ROOT if set, else the directory three levels
// above this executable (build/<preset>/tools/reentry) if it holds
// CMakePresets.json, else the current directory if it does. "" if none.
std::string FindRepoRoot();

// An input as a target gets it. Binary files are prepared as the fuzz
// target prepares them (options apply as in a campaign). Text files are
// reproducers: their own config and bug switches count (OR-ed with the
// options' bugs), forced values in options still apply.
struct LoadedInput {
  std::string bytes;        // binary form
  bool text = false;
  prog::Program prepared;   // what the target runs
  TargetOptions options;    // the options the prepared program was made with
};
bool LoadTargetInput(TargetId target, const std::string& path,
                     const TargetOptions& options, LoadedInput* out,
                     std::string* error);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_TOOL_SUPPORT_H_
