// reentry minimize: shrink a crashing input at the program level while the
// finding's title is preserved (allocator/triage/minimize.h), optionally after
// libFuzzer's own byte-level crash minimizer, and measure how reliably the
// result reproduces.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"
#include "allocator/triage/explain.h"
#include "allocator/triage/files.h"
#include "allocator/triage/isolate.h"
#include "allocator/triage/pipeline.h"
#include "allocator/triage/tool_support.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

using triage::TargetId;

int RunMinimize(const std::vector<std::string>& argv);

const Command kMinimize = {
    "minimize", "minimize [flags] FILE",
    "shrink a crashing input (text or binary) while its finding's title stays",
    "  --target=NAME      fuzz target whose logic runs the input: main, gfp,\n"
    "                     checker, decoder (main)\n"
    "  --title=TITLE      the finding to keep (default: the first one)\n"
    "  --out=FILE         minimized reproducer, text form (FILE.min.txt)\n"
    "  --report=FILE.md   also write the Markdown bug report\n"
    "  --time=DURATION    minimization budget, e.g. 60s, 5m (60s)\n"
    "  --max-runs=N       candidate runs budget (20000)\n"
    "  --replays=N        replays to measure reliability (10)\n"
    "  --engine[=BINARY]  first run libFuzzer's -minimize_crash on a binary\n"
    "                     input (default binary: build/libfuzzer/fuzz/"
    "<target>_fuzzer)\n"
    "  --bug=LIST --rt --up --cpus=N --nolock=final|v2 --no-preempt-count\n"
    "                     the campaign's configuration (also read from the\n"
    "                     REENTRY_* variables the fuzz targets read)\n",
    RunMinimize};
REENTRY_COMMAND(minimize, kMinimize);

bool ParseCommon(const Args& args, TargetId* target, triage::TargetOptions* o,
                 std::string* error) {
  RunConfig rc;
  if (!ParseRunConfig(args, &rc, error)) return false;
  if (!rc.lockdep) {
    *error = "--no-lockdep: the fuzz targets always run the checker";
    return false;
  }
  const std::string t = args.Get("target").value_or("main");
  const auto id = triage::ParseTargetName(t);
  if (!id) {
    *error = "unknown --target '" + t + "' (targets: " +
             triage::TargetNameList() + ")";
    return false;
  }
  *target = *id;
  triage::RunFlags f;
  f.bugs = rc.bugs;
  f.rt = rc.rt;
  f.up = rc.up;
  f.cpus = rc.cpus;
  f.nolock = rc.nolock;
  f.no_preempt_count = rc.no_preempt_count;
  return triage::OptionsFromEnvAndFlags(f, o, error);
}

// libFuzzer's byte-level minimizer, keeping only `title` as a crash.
bool EngineMinimize(const std::string& binary, const std::string& input,
                    const std::string& title, const triage::TargetOptions& o,
                    std::string* out_bytes, std::string* error) {
  char dir_template[] = "/tmp/reentry-minimize-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    *error = "cannot create a temporary directory";
    return false;
  }
  const std::string titles = std::string(dir) + "/titles";
  const std::string out = std::string(dir) + "/minimized";
  if (!triage::WriteFileAtomically(titles, title + "\n", error)) return false;
  triage::TargetOptions eo = o;
  eo.only_titles_file = titles;
  std::string cmd;
  for (const auto& [k, v] : triage::TargetOptionsToEnv(eo)) {
    cmd += k + "='" + v + "' ";
  }
  cmd += "'" + binary + "' -minimize_crash=1 -runs=20000 -max_total_time=60 "
         "-exact_artifact_path='" + out + "' '" + input + "' >" +
         std::string(dir) + "/log 2>&1";
  const int rc = system(cmd.c_str());
  std::string bytes;
  if (!triage::ReadWholeFile(out, &bytes, error)) {
    *error = "libFuzzer -minimize_crash produced nothing (exit " +
             std::to_string(rc) + "; log in " + dir + "/log)";
    return false;
  }
  *out_bytes = bytes;
  return true;
}

int RunMinimize(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"target", "title", "out", "report", "time", "max-runs",
                      "replays", "engine"});
  Args args(value_flags, RunConfigBoolFlags());
  std::vector<std::string> fixed;
  for (const std::string& a : argv) fixed.push_back(a == "--engine" ? "--engine=" : a);
  std::string error;
  if (!args.Parse(fixed, &error)) return UsageError(kMinimize, error);
  TargetId target;
  triage::TargetOptions options;
  if (!ParseCommon(args, &target, &options, &error)) {
    return UsageError(kMinimize, error);
  }
  if (args.positional().size() != 1) {
    return UsageError(kMinimize, "need exactly one FILE");
  }
  const std::string path = args.positional()[0];
  double budget = 60;
  if (auto t = args.Get("time")) {
    auto d = triage::ParseDuration(*t);
    if (!d || *d <= 0) return UsageError(kMinimize, "bad --time '" + *t + "'");
    budget = *d;
  }
  long max_runs = 20000, replays = 10;
  if (!args.GetInt("max-runs", 1, 10000000, &max_runs, &error) ||
      !args.GetInt("replays", 1, 1000, &replays, &error)) {
    return UsageError(kMinimize, error);
  }
  if (target == TargetId::kDecoder) {
    return UsageError(kMinimize,
                      "the decoder target has no program-level findings to "
                      "minimize; use libFuzzer's -minimize_crash");
  }

  triage::LoadedInput in;
  if (!triage::LoadTargetInput(target, path, options, &in, &error)) {
    fprintf(stderr, "reentry minimize: %s\n", error.c_str());
    return kExitUsage;
  }
  triage::Triaged t = triage::TriageProgramIsolated(target, in.prepared,
                                                    in.options, 60);
  if (!t.crash) {
    fprintf(stderr,
            "reentry minimize: %s does not crash the %s target with [%s]; "
            "pass the campaign's configuration (--bug=..., or REENTRY_* "
            "variables)\n",
            path.c_str(), triage::TargetBinaryName(target).c_str(),
            triage::DescribeTargetOptions(in.options).c_str());
    return kExitUsage;
  }
  std::string title = t.problems.front().title;
  if (auto want = args.Get("title")) {
    bool found = false;
    for (const triage::Problem& p : t.problems) found |= p.title == *want;
    if (!found) {
      fprintf(stderr, "reentry minimize: no finding titled '%s'; found:\n",
              want->c_str());
      for (const triage::Problem& p : t.problems) {
        fprintf(stderr, "  %s\n", p.title.c_str());
      }
      return kExitUsage;
    }
    title = *want;
  }
  printf("input: %s (%s, %zu ops as the %s target runs it)\n", path.c_str(),
         in.text ? "text" : "binary", prog::CountOps(in.prepared.ops),
         triage::TargetName(target));
  printf("title: %s%s\n", title.c_str(), t.hard ? " (hard crash)" : "");

  prog::Program start = in.prepared;
  if (args.Has("engine")) {
    if (in.text) {
      printf("engine: skipped (text input; libFuzzer minimizes bytes)\n");
    } else {
      std::string binary = *args.Get("engine");
      if (binary.empty()) {
        binary = triage::FindRepoRoot() + "/build/libfuzzer/fuzz/" +
                 triage::TargetBinaryName(target);
      }
      std::string bytes;
      if (!triage::PathExists(binary)) {
        printf("engine: skipped (%s not built: cmake --preset libfuzzer && "
               "cmake --build --preset libfuzzer --target %s)\n",
               binary.c_str(), triage::TargetBinaryName(target).c_str());
      } else if (EngineMinimize(binary, path, title, options, &bytes, &error)) {
        const prog::Program p = triage::PrepareInput(
            target, reinterpret_cast<const uint8_t*>(bytes.data()),
            bytes.size(), options);
        printf("engine: libFuzzer -minimize_crash: %zu -> %zu bytes, %zu -> "
               "%zu ops\n",
               in.bytes.size(), bytes.size(), prog::CountOps(start.ops),
               prog::CountOps(p.ops));
        if (prog::CountOps(p.ops) <= prog::CountOps(start.ops)) start = p;
      } else {
        printf("engine: %s\n", error.c_str());
      }
    }
  }

  const std::string out =
      args.Get("out").value_or(path + (in.text ? ".min.txt" : ".min.txt"));
  triage::PipelineOptions po;
  po.minimize.max_seconds = budget;
  po.minimize.max_runs = static_cast<int>(max_runs);
  po.reliability_runs = static_cast<int>(replays);
  po.hard = t.hard;
  po.reproducer_path = out;
  if (!in.text) po.input_path = path;
  const triage::PipelineResult r =
      triage::MinimizeAndReport(target, start, title, options, po);
  if (!r.error.empty()) {
    fprintf(stderr, "reentry minimize: %s\n", r.error.c_str());
    return kExitFound;
  }
  if (!triage::WriteFileAtomically(out, r.minimized_text, &error)) {
    fprintf(stderr, "reentry minimize: %s\n", error.c_str());
    return kExitUsage;
  }
  if (auto md = args.Get("report")) {
    if (!triage::WriteFileAtomically(*md, r.markdown, &error)) {
      fprintf(stderr, "reentry minimize: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  printf("minimized: %zu -> %zu ops in %d runs (%.1f s)%s\n",
         r.stats.ops_before, r.stats.ops_after, r.stats.runs, r.stats.seconds,
         r.stats.budget_exhausted ? ", budget exhausted" : "");
  printf("reliability: reproduces %d/%d replays%s\n", r.reliability.reproduced,
         r.reliability.runs,
         r.reliability.text_round_trip ? "" : " (text form does not round-trip!)");
  printf("wrote %s\n\n", out.c_str());
  prog::ParseError perr;
  if (auto p = prog::ParseProgram(r.minimized_text, &perr)) {
    fputs(triage::AnnotatedProgramText(*p).c_str(), stdout);
  }
  return r.ok ? kExitOk : kExitFound;
}

}  // namespace
}  // namespace reentry::tools
