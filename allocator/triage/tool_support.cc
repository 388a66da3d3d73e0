#include "allocator/triage/tool_support.h"

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "allocator/prog/binary.h"
#include "allocator/triage/files.h"
#include "allocator/triage/target.h"

namespace reentry::triage {

bool OptionsFromEnvAndFlags(const RunFlags& flags, TargetOptions* out,
                            std::string* error) {
  TargetOptions o;
  if (!TargetOptionsFromEnv(&o, error)) return false;
  if (!flags.bugs.empty()) o.bugs = BugSet::FromBits(o.bugs.bits() | flags.bugs.bits());
  if (flags.rt) o.rt = true;
  if (flags.up) o.up = true;
  if (flags.cpus > 0) o.cpus = flags.cpus;
  if (flags.no_preempt_count) o.preempt_count = false;
  if (flags.nolock == "v2") o.nolock = ctx::NolockDesign::kV2Trylock;
  if (flags.nolock == "final") o.nolock = ctx::NolockDesign::kFinal;
  if (o.up.value_or(false) && o.cpus > 1) {
    *error = "--up runs one vCPU; drop --cpus or --up";
    return false;
  }
  *out = std::move(o);
  return true;
}

std::optional<double> ParseDuration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  bool any = false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
    if (j == i) return std::nullopt;
    const double v = atof(s.substr(i, j - i).c_str());
    double unit = 1;
    if (j < s.size()) {
      switch (s[j]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        default: return std::nullopt;
      }
      ++j;
    } else if (any) {
      return std::nullopt;  // "1m30" is ambiguous
    }
    total += v * unit;
    any = true;
    i = j;
  }
  return total;
}

std::string FormatDuration(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    snprintf(buf, sizeof(buf), "%ldh%02ldm%02lds", s / 3600, (s / 60) % 60, s % 60);
  } else if (s >= 60) {
    snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  } else {
    snprintf(buf, sizeof(buf), "%lds", s);
  }
  return buf;
}

std::string FindRepoRoot() {
  if (const char* r = getenv("REENTRY_ROOT"); r && *r) return r;
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir = exe;
    for (int up = 0; up < 4; ++up) {
      const size_t slash = dir.find_last_of('/');
      if (slash == std::string::npos) break;
      dir = dir.substr(0, slash);
      if (PathExists(dir + "/CMakePresets.json") &&
          PathExists(dir + "/fuzz/CMakeLists.txt")) {
        return dir;
      }
    }
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) != nullptr &&
      PathExists(std::string(cwd) + "/CMakePresets.json")) {
    return cwd;
  }
  return "";
}

bool LoadTargetInput(TargetId target, const std::string& path,
                     const TargetOptions& options, LoadedInput* out,
                     std::string* error) {
  std::string data;
  if (!ReadWholeFile(path, &data, error)) return false;
  out->options = options;
  if (!LooksLikeText(data)) {
    out->bytes = data;
    out->text = false;
    out->prepared = PrepareInput(
        target, reinterpret_cast<const uint8_t*>(data.data()), data.size(),
        options);
    return true;
  }
  prog::Program p;
  if (!LoadProgramFile(path, &p, &out->bytes, error)) return false;
  out->text = true;
  out->options.bugs_from_input = true;
  out->options.max_cpus = ctx::kMaxCpus;
  out->prepared = PrepareProgram(target, std::move(p), out->options);
  return true;
}

}  // namespace reentry::triage
