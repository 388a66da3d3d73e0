#include "allocator/triage/target_options.h"

#include <cstdlib>
#include <fstream>

namespace reentry::triage {
namespace {

struct TargetInfo {
  const char* name;
  const char* description;
};

constexpr TargetInfo kTargets[] = {
#define REENTRY_TARGET_INFO(e, name, desc) {name, desc},
    REENTRY_FUZZ_TARGETS(REENTRY_TARGET_INFO)
#undef REENTRY_TARGET_INFO
};

const char* DefaultLookup(const char* name) { return getenv(name); }

bool ParseBool(const char* var, std::string_view v, bool* out,
               std::string* error) {
  if (v == "1" || v == "y" || v == "yes" || v == "on" || v == "true") {
    *out = true;
    return true;
  }
  if (v == "0" || v == "n" || v == "no" || v == "off" || v == "false") {
    *out = false;
    return true;
  }
  *error = std::string(var) + ": expected 0 or 1, got '" + std::string(v) + "'";
  return false;
}

bool ParseInt(const char* var, std::string_view v, int lo, int hi, int* out,
              std::string* error) {
  long value = 0;
  bool ok = !v.empty() && v.size() < 10;
  for (char c : v) {
    if (c < '0' || c > '9') ok = false;
    value = value * 10 + (c - '0');
  }
  if (!ok || value < lo || value > hi) {
    *error = std::string(var) + ": expected a number in " + std::to_string(lo) +
             ".." + std::to_string(hi) + ", got '" + std::string(v) + "'";
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

}  // namespace

const char* TargetName(TargetId t) {
  return kTargets[static_cast<int>(t)].name;
}
const char* TargetDescription(TargetId t) {
  return kTargets[static_cast<int>(t)].description;
}
std::string TargetBinaryName(TargetId t) {
  return std::string(TargetName(t)) + "_fuzzer";
}

std::optional<TargetId> ParseTargetName(std::string_view s) {
  constexpr std::string_view kSuffix = "_fuzzer";
  if (s.size() > kSuffix.size() &&
      s.substr(s.size() - kSuffix.size()) == kSuffix) {
    s.remove_suffix(kSuffix.size());
  }
  for (int i = 0; i < kNumTargets; ++i) {
    if (s == kTargets[i].name) return static_cast<TargetId>(i);
  }
  return std::nullopt;
}

std::string TargetNameList() {
  std::string out;
  for (int i = 0; i < kNumTargets; ++i) {
    if (i > 0) out += ", ";
    out += kTargets[i].name;
  }
  return out;
}

bool TargetOptionsFromEnv(TargetOptions* out, std::string* error,
                          EnvLookup lookup) {
  if (lookup == nullptr) lookup = &DefaultLookup;
  TargetOptions o;
  if (const char* v = lookup("REENTRY_BUGS"); v != nullptr) {
    std::string why;
    auto set = ParseBugList(v, &why);
    if (!set) {
      *error = "REENTRY_BUGS: " + why;
      return false;
    }
    o.bugs = *set;
  }
  if (const char* v = lookup("REENTRY_BUGS_FROM_INPUT"); v && *v) {
    if (!ParseBool("REENTRY_BUGS_FROM_INPUT", v, &o.bugs_from_input, error)) {
      return false;
    }
  }
  struct {
    const char* var;
    std::optional<bool>* field;
  } bools[] = {{"REENTRY_RT", &o.rt},
               {"REENTRY_UP", &o.up},
               {"REENTRY_PREEMPT_COUNT", &o.preempt_count},
               {"REENTRY_PROVE_RAW_LOCK_NESTING", &o.prove_raw_lock_nesting}};
  for (auto& b : bools) {
    const char* v = lookup(b.var);
    if (v == nullptr || *v == '\0') continue;
    bool value = false;
    if (!ParseBool(b.var, v, &value, error)) return false;
    *b.field = value;
  }
  if (const char* v = lookup("REENTRY_CPUS"); v && *v) {
    if (!ParseInt("REENTRY_CPUS", v, 1, ctx::kMaxCpus, &o.cpus, error)) {
      return false;
    }
  }
  if (const char* v = lookup("REENTRY_MAX_CPUS"); v && *v) {
    if (!ParseInt("REENTRY_MAX_CPUS", v, 1, ctx::kMaxCpus, &o.max_cpus,
                  error)) {
      return false;
    }
  }
  if (const char* v = lookup("REENTRY_NOLOCK"); v && *v) {
    const std::string_view s(v);
    if (s == "final") {
      o.nolock = ctx::NolockDesign::kFinal;
    } else if (s == "v2") {
      o.nolock = ctx::NolockDesign::kV2Trylock;
    } else {
      *error = "REENTRY_NOLOCK: expected 'final' or 'v2', got '" +
               std::string(s) + "'";
      return false;
    }
  }
  if (const char* v = lookup("REENTRY_INVARIANTS"); v && *v) {
    const std::string_view s(v);
    if (s == "every-op") {
      o.invariants_every_op = true;
    } else if (s != "teardown") {
      *error = "REENTRY_INVARIANTS: expected 'every-op' or 'teardown', got '" +
               std::string(s) + "'";
      return false;
    }
  }
  if (o.up.value_or(false) && o.cpus > 1) {
    *error =
        "REENTRY_UP=1 runs one vCPU but REENTRY_CPUS=" + std::to_string(o.cpus);
    return false;
  }
  if (const char* v = lookup("REENTRY_ONLY_TITLES"); v && *v) {
    o.only_titles_file = v;
    if (!LoadOnlyTitles(&o, error)) return false;
  }
  *out = std::move(o);
  return true;
}

bool LoadOnlyTitles(TargetOptions* o, std::string* error) {
  o->only_titles.clear();
  std::ifstream in(o->only_titles_file);
  if (!in) {
    *error = "REENTRY_ONLY_TITLES: cannot open '" + o->only_titles_file + "'";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.pop_back();
    }
    if (!line.empty()) o->only_titles.insert(line);
  }
  if (o->only_titles.empty()) {
    *error =
        "REENTRY_ONLY_TITLES: '" + o->only_titles_file + "' lists no title";
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> TargetOptionsToEnv(
    const TargetOptions& o) {
  std::vector<std::pair<std::string, std::string>> env;
  if (!o.bugs.empty()) env.emplace_back("REENTRY_BUGS", BugSetToString(o.bugs));
  if (o.bugs_from_input) env.emplace_back("REENTRY_BUGS_FROM_INPUT", "1");
  if (o.rt) env.emplace_back("REENTRY_RT", *o.rt ? "1" : "0");
  if (o.up) env.emplace_back("REENTRY_UP", *o.up ? "1" : "0");
  if (o.preempt_count) {
    env.emplace_back("REENTRY_PREEMPT_COUNT", *o.preempt_count ? "1" : "0");
  }
  if (o.prove_raw_lock_nesting) {
    env.emplace_back("REENTRY_PROVE_RAW_LOCK_NESTING",
                     *o.prove_raw_lock_nesting ? "1" : "0");
  }
  if (o.cpus > 0) env.emplace_back("REENTRY_CPUS", std::to_string(o.cpus));
  if (o.max_cpus != kDefaultMaxCpus) {
    env.emplace_back("REENTRY_MAX_CPUS", std::to_string(o.max_cpus));
  }
  if (o.nolock) {
    env.emplace_back(
        "REENTRY_NOLOCK",
        *o.nolock == ctx::NolockDesign::kV2Trylock ? "v2" : "final");
  }
  if (o.invariants_every_op) env.emplace_back("REENTRY_INVARIANTS", "every-op");
  if (!o.only_titles_file.empty()) {
    env.emplace_back("REENTRY_ONLY_TITLES", o.only_titles_file);
  }
  return env;
}

std::string EnvPrefix(const TargetOptions& o) {
  std::string out;
  for (const auto& [k, v] : TargetOptionsToEnv(o)) {
    out += k + "=" + v + " ";
  }
  return out;
}

std::string DescribeTargetOptions(const TargetOptions& o) {
  auto tri = [](const std::optional<bool>& b) -> std::string {
    return b ? (*b ? "on" : "off") : "input";
  };
  std::string s = "bugs=" + BugSetToString(o.bugs);
  if (o.bugs_from_input) s += "+input";
  s += " rt=" + tri(o.rt) + " up=" + tri(o.up);
  if (o.preempt_count) s += " preempt_count=" + tri(o.preempt_count);
  if (o.prove_raw_lock_nesting) {
    s += " prove_raw_lock_nesting=" + tri(o.prove_raw_lock_nesting);
  }
  s +=
      " cpus=" + (o.cpus > 0 ? std::to_string(o.cpus)
                             : "input(max " + std::to_string(o.max_cpus) + ")");
  s += " nolock=";
  s += o.nolock ? (*o.nolock == ctx::NolockDesign::kV2Trylock ? "v2" : "final")
                : "input";
  if (o.invariants_every_op) s += " invariants=every-op";
  if (!o.only_titles.empty()) {
    s += " only-titles=" + std::to_string(o.only_titles.size());
  }
  return s;
}

}  // namespace reentry::triage
