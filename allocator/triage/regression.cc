#include "allocator/triage/regression.h"

#include <sstream>

#include "allocator/exec/executor.h"
#include "allocator/triage/files.h"
#include "allocator/triage/target.h"

namespace reentry::triage {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// A fingerprint of a verdict: every finding (kind, cause, cpu, op) and the
// crash titles, so two runs can be compared exactly.
std::string Fingerprint(const RunVerdict& v) {
  std::string out;
  for (const Finding& f : v.result.findings) {
    out += std::string(FindingKindName(f.kind)) + ":" + std::to_string(f.cause) +
           ":" + std::to_string(f.cpu) + ":" + std::to_string(f.op_index) + ";";
  }
  out += "|";
  for (const Problem& p : v.problems) out += p.title + ";";
  out += "|ops=" + std::to_string(v.result.ops_run);
  return out;
}

const std::map<std::string, std::string>* g_env = nullptr;
const char* MapLookup(const char* name) {
  auto it = g_env->find(name);
  return it == g_env->end() ? nullptr : it->second.c_str();
}

}  // namespace

bool ParseExpectations(const std::string& text, std::vector<Expectation>* out,
                       std::string* error) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string t = Trim(line);
    constexpr std::string_view kTag = "# expect:";
    if (t.rfind(kTag, 0) != 0) continue;
    const std::string rest = Trim(t.substr(kTag.size()));
    const size_t arrow = rest.find("->");
    if (arrow == std::string::npos) {
      *error = "line " + std::to_string(n) + ": expected 'VARS -> title|clean'";
      return false;
    }
    Expectation e;
    std::istringstream vars(rest.substr(0, arrow));
    std::string kv;
    while (vars >> kv) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || kv.rfind("REENTRY_", 0) != 0) {
        *error = "line " + std::to_string(n) + ": '" + kv +
                 "' is not a REENTRY_NAME=value assignment";
        return false;
      }
      e.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    e.title = Trim(rest.substr(arrow + 2));
    if (e.title == "clean") e.title.clear();
    out->push_back(std::move(e));
  }
  return true;
}

std::string FormatExpectation(const Expectation& e) {
  std::string out = "# expect:";
  for (const auto& [k, v] : e.env) out += " " + k + "=" + v;
  out += " -> " + (e.title.empty() ? std::string("clean") : e.title) + "\n";
  return out;
}

bool CheckRegressionFile(TargetId target, const std::string& path, int runs,
                         std::string* message) {
  std::string data, error;
  if (!ReadWholeFile(path, &data, &error)) {
    *message = error;
    return false;
  }
  std::vector<Expectation> expectations;
  if (LooksLikeText(data) && !ParseExpectations(data, &expectations, &error)) {
    *message = path + ": " + error;
    return false;
  }
  if (expectations.empty()) expectations.push_back(Expectation{});
  prog::Program program;
  if (!LoadProgramFile(path, &program, nullptr, &error)) {
    *message = error;
    return false;
  }
  exec::Executor shared;
  for (const Expectation& e : expectations) {
    TargetOptions o;
    g_env = &e.env;
    const bool ok = TargetOptionsFromEnv(&o, &error, &MapLookup);
    g_env = nullptr;
    if (!ok) {
      *message = path + ": " + error;
      return false;
    }
    const prog::Program prepared = PrepareProgram(target, program, o);
    std::string first;
    for (int r = 0; r < std::max(runs, 1); ++r) {
      exec::Executor fresh;
      const RunVerdict v =
          Evaluate(target, prepared, o, r % 2 == 0 ? shared : fresh);
      const std::string fp = Fingerprint(v);
      if (r == 0) {
        first = fp;
        const std::string got =
            v.crash ? v.problems.front().title : std::string("clean");
        bool match = e.title.empty() ? !v.crash : false;
        for (const Problem& p : v.problems) match |= p.title == e.title;
        if (!match) {
          *message = path + ": with [" + EnvPrefix(o) + "] expected " +
                     (e.title.empty() ? "clean" : "'" + e.title + "'") +
                     ", got " + (v.crash ? "'" + got + "'" : got);
          return false;
        }
      } else if (fp != first) {
        *message = path + ": nondeterministic: run " + std::to_string(r + 1) +
                   " gave " + fp + ", run 1 gave " + first;
        return false;
      }
    }
  }
  *message = path + ": ok (" + std::to_string(expectations.size()) +
             " expectation(s))";
  return true;
}

}  // namespace reentry::triage
