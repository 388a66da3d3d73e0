// Running fuzzing engines for a campaign (`reentry fuzz`): where their
// binaries and corpora are, the command lines (libFuzzer fork mode, AFL++
// -M/-S on one sync directory), child processes, and reading their progress
// (libFuzzer's status lines, AFL++'s fuzzer_stats) and their crash files.
#ifndef REENTRY_ALLOCATOR_TRIAGE_ENGINE_H_
#define REENTRY_ALLOCATOR_TRIAGE_ENGINE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "allocator/triage/target_options.h"

namespace reentry::triage {

enum class Engine : uint8_t { kLibFuzzer, kAfl };
const char* EngineName(Engine e);  // "libfuzzer", "afl"

struct EngineStats {
  bool valid = false;
  uint64_t execs = 0;
  double exec_per_sec = 0;
  uint64_t cov = 0;       // libFuzzer: cov; AFL++: edges found
  uint64_t features = 0;  // libFuzzer: ft; AFL++: 0
  double bitmap_pct = 0;  // AFL++ bitmap_cvg
  uint64_t corpus = 0;
  uint64_t crashes = 0;   // as the engine counts them
  double stability = -1;  // AFL++ only (percent)
};

// The last status line ("#N: cov: C ft: F corp: K exec/s E oom/timeout/crash:
// a/b/c time: Ts ...", fork mode, or "#N\tpulse cov: ..." in-process) of a
// libFuzzer log.
EngineStats ParseLibFuzzerLog(const std::string& log);
// One AFL++ fuzzer_stats file ("key : value" lines).
EngineStats ParseAflStats(const std::string& stats);
// Sums several instances (AFL++ main and secondaries).
EngineStats SumStats(const std::vector<EngineStats>& all);

// <target>.options ([libfuzzer] key = value): the libFuzzer flags.
std::map<std::string, std::string> ParseOptionsFile(const std::string& text);

// Where a campaign finds things. build_root: <repo>/build.
struct EngineLayout {
  std::string repo;
  std::string build_dir;  // <repo>/build/libfuzzer, .../afl, ...
  std::string preset;     // libfuzzer, afl
  bool asan = false;
  std::string binary;   // <build_dir>/fuzz/<target>_fuzzer
  std::string seeds;    // <build_dir>/corpora/<target>/seeds
  std::string dict;     // <repo>/corpora/<target>/<target>.dict
  std::string options;  // <repo>/corpora/<target>/<target>.options
  // The shell commands that build the binary and the seeds.
  std::vector<std::string> build_commands;
};
EngineLayout LayoutFor(const std::string& repo, Engine engine, TargetId target,
                       bool asan);

// A child process in its own process group, killed when the parent dies.
struct Child {
  pid_t pid = -1;
  std::string log;
};
// Starts argv with extra environment, stdout+stderr to log (appended).
bool SpawnChild(const std::vector<std::string>& argv,
                const std::vector<std::pair<std::string, std::string>>& env,
                const std::string& log, Child* out, std::string* error);
// Non-blocking: true if the child has exited (and reaps it).
bool ChildExited(Child& c, int* status);
// SIGTERM to the child's process group, then SIGKILL after grace seconds.
void StopChild(Child& c, double grace_seconds);

// The last `bytes` bytes of a file ("" if unreadable).
std::string ReadTail(const std::string& path, size_t bytes);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_ENGINE_H_
