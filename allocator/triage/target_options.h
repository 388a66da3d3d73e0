// The fuzz targets and the campaign configuration they read from their
// environment. A fuzz target reads its configuration once (in
// LLVMFuzzerInitialize) from environment variables, so that every engine
// (libFuzzer, AFL++, OSS-Fuzz) and every tool (`reentry fuzz`, `reentry
// minimize`) runs an input the same way:
//
//   REENTRY_BUGS=BZ-01,BZ-08   bug-zoo switches to turn on. They replace the
//                              bug set in the input's header (a fuzzer must
//                              not flip switches on by mutating the header)
//                              unless REENTRY_BUGS_FROM_INPUT=1, which ORs
//                              the header's set in.
//   REENTRY_RT=0|1             force PREEMPT_RT off / on (unset: the input's)
//   REENTRY_UP=0|1             force !SMP (one vCPU) / SMP
//   REENTRY_PREEMPT_COUNT=0|1  force CONFIG_PREEMPT_COUNT
//   REENTRY_PROVE_RAW_LOCK_NESTING=0|1  force CONFIG_PROVE_RAW_LOCK_NESTING
//   REENTRY_CPUS=N             force N vCPUs (1..64)
//   REENTRY_MAX_CPUS=N         fold the input's vCPU count into 1..N
//                              (default 4: more vCPUs cost time, rarely
//                              coverage)
//   REENTRY_NOLOCK=final|v2    force the nolock design
//   REENTRY_INVARIANTS=every-op|teardown
//                              when the main target checks the mm
//                              invariants: after every op, or once at the
//                              end of the run (default: teardown; every-op
//                              attributes corruption to its op but costs
//                              about 1.5x the time on the seeds)
//   REENTRY_ONLY_TITLES=FILE   crash only on findings whose title is a line
//                              of FILE (campaigns hunting one finding, the
//                              time-to-find benchmark, engine minimizers)
#ifndef REENTRY_ALLOCATOR_TRIAGE_TARGET_OPTIONS_H_
#define REENTRY_ALLOCATOR_TRIAGE_TARGET_OPTIONS_H_

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/ctx/types.h"

namespace reentry::triage {

// X(enumerator, "name", "what it fuzzes")
#define REENTRY_FUZZ_TARGETS(X)                                               \
  X(kMain, "main",                                                            \
    "nested-context programs against the whole allocator model: interrupts "  \
    "at injection points, several vCPUs, checker and invariants on; any bug " \
    "finding crashes")                                                        \
  X(kGfp, "gfp",                                                              \
    "every gfp combination, valid and invalid, from every context, both "     \
    "nolock designs; crashes on findings a gfp mistake cannot explain")       \
  X(kChecker, "checker",                                                      \
    "raw lock-op programs; the lockdep-like checker compared with a simple "  \
    "reference cycle finder and with the executor's real deadlocks")          \
  X(kDecoder, "decoder",                                                      \
    "the binary decoder: totality, validity, text and binary round trips")

enum class TargetId : uint8_t {
#define REENTRY_TARGET_ENUM(e, name, desc) e,
  REENTRY_FUZZ_TARGETS(REENTRY_TARGET_ENUM)
#undef REENTRY_TARGET_ENUM
      kCount
};
inline constexpr int kNumTargets = static_cast<int>(TargetId::kCount);

const char* TargetName(TargetId t);  // "main"
const char* TargetDescription(TargetId t);
std::string TargetBinaryName(TargetId t);  // "main_fuzzer"
// Accepts "main" and "main_fuzzer".
std::optional<TargetId> ParseTargetName(std::string_view s);
// "main, gfp, checker, decoder"
std::string TargetNameList();

inline constexpr int kDefaultMaxCpus = 4;

struct TargetOptions {
  BugSet bugs;
  bool bugs_from_input = false;
  std::optional<bool> rt;
  std::optional<bool> up;
  std::optional<bool> preempt_count;
  std::optional<bool> prove_raw_lock_nesting;
  int cpus = 0;  // 0: the input's (folded into 1..max_cpus)
  int max_cpus = kDefaultMaxCpus;
  std::optional<ctx::NolockDesign> nolock;
  bool invariants_every_op = false;
  std::string only_titles_file;
  std::set<std::string> only_titles;  // loaded from only_titles_file

  friend bool operator==(const TargetOptions&, const TargetOptions&) = default;
};

using EnvLookup = const char* (*)(const char* name);

// Reads the REENTRY_* variables above through lookup (getenv by default).
// Returns false and sets *error to a message naming the variable and the
// problem ("REENTRY_BUGS: unknown bug id 'BZ-99'") on a bad value.
bool TargetOptionsFromEnv(TargetOptions* out, std::string* error,
                          EnvLookup lookup = nullptr);

// The variables that make a fuzz target use o (only those that differ from
// the defaults), for starting engines.
std::vector<std::pair<std::string, std::string>> TargetOptionsToEnv(
    const TargetOptions& o);

// "bugs=BZ-01 rt=forced-on cpus=input(max 4) nolock=input"
std::string DescribeTargetOptions(const TargetOptions& o);

// "REENTRY_BUGS=BZ-01 REENTRY_RT=1 " (for printed replay commands; empty
// when o is the default).
std::string EnvPrefix(const TargetOptions& o);

// Loads the title list file named by o->only_titles_file into only_titles.
bool LoadOnlyTitles(TargetOptions* o, std::string* error);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_TARGET_OPTIONS_H_
