// Flags that change how a program runs, shared by every subcommand that runs
// programs: bug-zoo switches and the kernel configuration.
#ifndef REENTRY_TOOLS_RUN_CONFIG_H_
#define REENTRY_TOOLS_RUN_CONFIG_H_

#include <set>
#include <string>

#include "allocator/exec/executor.h"
#include "allocator/prog/program.h"
#include "tools/cli_args.h"

namespace reentry::tools {

// Flag names taking a value / boolean flags, to merge into a command's Args.
std::set<std::string> RunConfigValueFlags();
std::set<std::string> RunConfigBoolFlags();
// Help text for those flags, as a literal so commands can append it.
#define REENTRY_RUN_CONFIG_HELP                                               \
  "  --bug=LIST          bug-zoo switches to turn on, e.g. BZ-01,BZ-08 "       \
  "(see `reentry bugs`)\n"                                                    \
  "  --rt                PREEMPT_RT semantics\n"                              \
  "  --up                !SMP (one vCPU; spin_trylock always succeeds)\n"     \
  "  --cpus=N            number of vCPUs (1..64)\n"                           \
  "  --no-preempt-count  CONFIG_PREEMPT_COUNT=n\n"                            \
  "  --nolock=final|v2   nolock design: alloc_pages_nolock() or the v2 "       \
  "__GFP_TRYLOCK bit\n"                                                        \
  "  --no-lockdep        run without the lockdep-like checker\n"

struct RunConfig {
  BugSet bugs;               // --bug=BZ-01,BZ-08
  bool rt = false;           // --rt
  bool up = false;           // --up
  int cpus = 0;              // --cpus=N (0: the program's own)
  bool no_preempt_count = false;  // --no-preempt-count
  std::string nolock;        // --nolock=final|v2 ("" = the program's)
  bool lockdep = true;       // --no-lockdep turns it off
};

// Returns false and sets *error on a bad value.
bool ParseRunConfig(const Args& args, RunConfig* out, std::string* error);

// Applies the overrides to a program's own configuration and bug set.
void ApplyRunConfig(const RunConfig& rc, prog::Program* p);
exec::RunOptions RunOptionsFor(const RunConfig& rc);

// "cpus=2 PREEMPT_RT=n PREEMPT_COUNT=y SMP nolock=final bugs=none"
std::string DescribeConfig(const ctx::Config& c, BugSet bugs);

}  // namespace reentry::tools

#endif  // REENTRY_TOOLS_RUN_CONFIG_H_
