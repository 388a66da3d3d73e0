// reentry report: a Markdown bug report for a crashing input (title,
// configuration, the kernel-shaped splat, the minimized program with a
// one-line explanation per op, the replay commands); --replay runs inputs
// through a fuzz target's own logic; --titles lists their crash titles.
#include <cstdio>

#include "allocator/prog/text.h"
#include "allocator/triage/files.h"
#include "allocator/triage/isolate.h"
#include "allocator/triage/pipeline.h"
#include "allocator/triage/tool_support.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

using triage::TargetId;

int RunReport(const std::vector<std::string>& argv);

const Command kReport = {
    "report", "report [flags] FILE...",
    "write a Markdown bug report for a crashing input, or replay inputs "
    "through a fuzz target",
    "  --target=NAME      fuzz target whose logic runs the input: main, gfp,\n"
    "                     checker, decoder (main)\n"
    "  --out=FILE.md      where to write the report (stdout)\n"
    "  --reproducer=FILE  also write the minimized program (text) there\n"
    "  --title=TITLE      the finding to report (default: the first one)\n"
    "  --no-minimize      report the input as it is\n"
    "  --time=DURATION    minimization budget (60s)\n"
    "  --replays=N        replays to measure reliability (10)\n"
    "  --replay           instead: run each FILE through the target and print\n"
    "                     its verdict and reports (exit 1 if one crashes)\n"
    "  --titles           instead: print each FILE's crash titles, one per\n"
    "                     line (exit 1 if any)\n"
    "  --bug=LIST --rt --up --cpus=N --nolock=final|v2 --no-preempt-count\n"
    "                     the campaign's configuration (also read from the\n"
    "                     REENTRY_* variables the fuzz targets read)\n",
    RunReport};
REENTRY_COMMAND(report, kReport);

int Replay(TargetId target, const triage::TargetOptions& options,
           const std::vector<std::string>& files, bool titles_only) {
  int status = kExitOk;
  for (const std::string& path : files) {
    triage::LoadedInput in;
    std::string error;
    if (!triage::LoadTargetInput(target, path, options, &in, &error)) {
      fprintf(stderr, "reentry report: %s\n", error.c_str());
      status = kExitUsage;
      continue;
    }
    const triage::Triaged t =
        target == TargetId::kDecoder
            ? triage::TriageIsolated(target, in.bytes, in.options, 60)
            : triage::TriageProgramIsolated(target, in.prepared, in.options, 60);
    if (titles_only) {
      for (const triage::Problem& p : t.problems) printf("%s\n", p.title.c_str());
    } else {
      printf("== %s: %s target, %s\n", path.c_str(), triage::TargetName(target),
             triage::DescribeTargetOptions(in.options).c_str());
      if (!t.reports.empty()) printf("%s", t.reports.c_str());
      if (t.hard) printf("%s\n", t.child_stderr.c_str());
      if (!t.detail.empty()) printf("%s\n", t.detail.c_str());
      printf("-> %s\n", t.crash ? "CRASH" : "no crash");
      for (const triage::Problem& p : t.problems) {
        printf("   %s\n   title: %s\n", p.summary.c_str(), p.title.c_str());
      }
    }
    if (t.crash && status == kExitOk) status = kExitFound;
  }
  return status;
}

int RunReport(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"target", "out", "reproducer", "title", "time", "replays"});
  auto bool_flags = RunConfigBoolFlags();
  bool_flags.insert({"no-minimize", "replay", "titles"});
  Args args(value_flags, bool_flags);
  std::string error;
  RunConfig rc;
  if (!args.Parse(argv, &error) || !ParseRunConfig(args, &rc, &error)) {
    return UsageError(kReport, error);
  }
  if (!rc.lockdep) return UsageError(kReport, "--no-lockdep is not supported");
  const std::string tname = args.Get("target").value_or("main");
  const auto target = triage::ParseTargetName(tname);
  if (!target) {
    return UsageError(kReport, "unknown --target '" + tname + "' (targets: " +
                                   triage::TargetNameList() + ")");
  }
  triage::RunFlags f{rc.bugs, rc.rt, rc.up, rc.cpus, rc.nolock,
                     rc.no_preempt_count};
  triage::TargetOptions options;
  if (!triage::OptionsFromEnvAndFlags(f, &options, &error)) {
    return UsageError(kReport, error);
  }
  if (args.positional().empty()) return UsageError(kReport, "no FILE given");
  if (args.Has("replay") || args.Has("titles")) {
    return Replay(*target, options, args.positional(), args.Has("titles"));
  }
  if (args.positional().size() != 1) {
    return UsageError(kReport, "a report takes exactly one FILE");
  }
  if (*target == TargetId::kDecoder) {
    return UsageError(kReport, "decoder crashes are harness bugs: use --replay");
  }
  double budget = 60;
  if (auto t = args.Get("time")) {
    auto d = triage::ParseDuration(*t);
    if (!d || *d <= 0) return UsageError(kReport, "bad --time '" + *t + "'");
    budget = *d;
  }
  long replays = 10;
  if (!args.GetInt("replays", 1, 1000, &replays, &error)) {
    return UsageError(kReport, error);
  }
  const std::string path = args.positional()[0];
  triage::LoadedInput in;
  if (!triage::LoadTargetInput(*target, path, options, &in, &error)) {
    fprintf(stderr, "reentry report: %s\n", error.c_str());
    return kExitUsage;
  }
  const triage::Triaged t =
      triage::TriageProgramIsolated(*target, in.prepared, in.options, 60);
  if (!t.crash) {
    fprintf(stderr,
            "reentry report: %s does not crash the %s target with [%s]: "
            "nothing to report\n",
            path.c_str(), triage::TargetBinaryName(*target).c_str(),
            triage::DescribeTargetOptions(in.options).c_str());
    return kExitUsage;
  }
  std::string title = args.Get("title").value_or(t.problems.front().title);
  triage::PipelineOptions po;
  po.minimize.max_seconds = budget;
  po.skip_minimize = args.Has("no-minimize");
  po.reliability_runs = static_cast<int>(replays);
  po.hard = t.hard;
  po.reproducer_path = args.Get("reproducer").value_or("reproducer.txt");
  if (!in.text) po.input_path = path;
  const triage::PipelineResult r =
      triage::MinimizeAndReport(*target, in.prepared, title, options, po);
  if (!r.error.empty()) {
    fprintf(stderr, "reentry report: %s\n", r.error.c_str());
    return kExitFound;
  }
  if (auto rp = args.Get("reproducer")) {
    if (!triage::WriteFileAtomically(*rp, r.minimized_text, &error)) {
      fprintf(stderr, "reentry report: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  if (auto out = args.Get("out")) {
    if (!triage::WriteFileAtomically(*out, r.markdown, &error)) {
      fprintf(stderr, "reentry report: %s\n", error.c_str());
      return kExitUsage;
    }
    fprintf(stderr, "reentry report: wrote %s (%s)\n", out->c_str(),
            r.note.c_str());
  } else {
    fputs(r.markdown.c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace
}  // namespace reentry::tools
