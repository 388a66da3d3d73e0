// Conformance through the whole stack: every program in corpora/conformance/
// is parsed, run by the executor with the checker attached, and its findings
// compared with the program's own header:
//
//   # expect: CircularDependency WaitCycle   kinds that must be found
//   # expect: none                           nothing at all may be found
//   # allow: PreemptCountUnderflow           kinds that may also be found
//
// Any other finding fails the case: must-not-fire is checked as strictly as
// must-fire.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "allocator/exec/executor.h"
#include "allocator/prog/text.h"

#ifndef REENTRY_CONFORMANCE_DIR
#error "REENTRY_CONFORMANCE_DIR must name corpora/conformance"
#endif

namespace reentry {
namespace {

struct Expectation {
  bool none = false;
  std::set<std::string> expect;
  std::set<std::string> allow;
};

Expectation ParseHeader(const std::string& text) {
  Expectation e;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::set<std::string>* into = nullptr;
    std::string rest;
    if (line.rfind("# expect:", 0) == 0) {
      into = &e.expect;
      rest = line.substr(9);
    } else if (line.rfind("# allow:", 0) == 0) {
      into = &e.allow;
      rest = line.substr(8);
    } else {
      continue;
    }
    std::istringstream words(rest);
    std::string w;
    while (words >> w) {
      if (w == "none" && into == &e.expect) {
        e.none = true;
      } else {
        into->insert(w);
      }
    }
  }
  return e;
}

std::vector<std::filesystem::path> Programs() {
  std::vector<std::filesystem::path> v;
  for (const auto& d :
       std::filesystem::directory_iterator(REENTRY_CONFORMANCE_DIR)) {
    if (d.path().extension() == ".txt") v.push_back(d.path());
  }
  std::sort(v.begin(), v.end());
  return v;
}

TEST(ConformancePrograms, EveryProgramMeetsItsHeader) {
  const std::vector<std::filesystem::path> programs = Programs();
  ASSERT_GE(programs.size(), 30u);
  exec::Executor executor;
  for (const std::filesystem::path& path : programs) {
    SCOPED_TRACE(path.filename().string());
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const Expectation want = ParseHeader(text);
    ASSERT_TRUE(want.none || !want.expect.empty())
        << "no '# expect:' line in " << path;
    prog::ParseError err;
    std::optional<prog::Program> p = prog::ParseProgram(text, &err);
    ASSERT_TRUE(p.has_value()) << err.ToString();
    exec::RunOptions opts;
    opts.lockdep = true;
    const exec::RunResult r = executor.Run(*p, opts);
    std::set<std::string> got;
    std::string all;
    for (const Finding& f : r.findings) {
      got.insert(FindingKindName(f.kind));
      all += std::string(FindingKindName(f.kind)) + "(" + f.detail + ") ";
    }
    if (want.none) {
      EXPECT_TRUE(got.empty()) << "expected nothing, got " << all;
      continue;
    }
    for (const std::string& k : want.expect) {
      EXPECT_TRUE(got.count(k)) << "missing " << k << "; got " << all;
    }
    for (const std::string& k : got) {
      EXPECT_TRUE(want.expect.count(k) || want.allow.count(k))
          << "unexpected " << k << "; got " << all;
    }
  }
}

}  // namespace
}  // namespace reentry
