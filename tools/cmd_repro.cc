// reentry repro: run programs (text or binary) and print what was found.
#include <cstdio>

#include "allocator/exec/executor.h"
#include "allocator/report/report.h"
#include "tools/command.h"
#include "tools/program_io.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

int RunRepro(const std::vector<std::string>& argv);

const Command kRepro = {
    "repro", "repro [flags] FILE...",
    "run programs (text or binary) and print findings and the trace",
    "  --format=auto|text|binary  input format (auto: text if printable)\n"
    "  --trace=full|short|none    how much of the trace to print (short)\n"
    "  --warnings-fail            exit 1 on warnings (gfp misuse) too\n"
    REENTRY_RUN_CONFIG_HELP,
    RunRepro};
REENTRY_COMMAND(repro, kRepro);

int RunRepro(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"format", "trace"});
  auto bool_flags = RunConfigBoolFlags();
  bool_flags.insert("warnings-fail");
  Args args(value_flags, bool_flags);
  std::string error;
  RunConfig rc;
  if (!args.Parse(argv, &error) || !ParseRunConfig(args, &rc, &error)) {
    return UsageError(kRepro, error);
  }
  auto format = ParseFormat(args.Get("format").value_or("auto"));
  if (!format) return UsageError(kRepro, "bad --format");
  const std::string trace_mode = args.Get("trace").value_or("short");
  if (trace_mode != "full" && trace_mode != "short" && trace_mode != "none") {
    return UsageError(kRepro, "--trace must be full, short or none");
  }
  if (args.positional().empty()) return UsageError(kRepro, "no FILE given");

  exec::Executor executor;
  int status = kExitOk;
  size_t total_bugs = 0, total_warnings = 0, bad_inputs = 0;
  for (const std::string& path : args.positional()) {
    prog::Program p;
    if (!LoadProgram(path, *format, &p, &error)) {
      fprintf(stderr, "reentry repro: %s\n", error.c_str());
      ++bad_inputs;
      status = kExitUsage;
      continue;
    }
    ApplyRunConfig(rc, &p);
    exec::RunResult r = executor.Run(p, RunOptionsFor(rc));
    printf("== %s (%s)\n", path.c_str(),
           DescribeConfig(r.config, r.bugs).c_str());
    std::vector<std::string> trace_lines;
    for (const exec::TraceEntry& e : r.trace) {
      trace_lines.push_back(exec::FormatTraceEntry(p, e));
    }
    if (trace_mode != "none") {
      const size_t n = trace_lines.size();
      const size_t keep = trace_mode == "full" ? n : std::min<size_t>(n, 12);
      printf("trace (%zu entries%s):\n", n, keep < n ? ", last 12" : "");
      for (size_t i = n - keep; i < n; ++i) {
        printf("  %s\n", trace_lines[i].c_str());
      }
    }
    // The trace is printed once above; the program is the input file.
    report::ReportInput in;
    in.config = r.config;
    in.bugs = r.bugs;
    for (const Finding& f : r.findings) {
      printf("\n%s\n", report::FormatReport(f, in).c_str());
    }
    const size_t bugs = r.findings.bugs(), warnings = r.findings.warnings();
    total_bugs += bugs;
    total_warnings += warnings;
    printf("-> %s: %zu bug(s), %zu warning(s)%s\n", path.c_str(), bugs,
           warnings, r.completed ? "" : ", run ended by a hung vCPU");
    for (const Finding& f : r.findings) {
      printf("   %s\n", report::FormatFindingSummary(f).c_str());
    }
    if (status == kExitOk &&
        (bugs > 0 || (warnings > 0 && args.Has("warnings-fail")))) {
      status = kExitFound;
    }
  }
  if (args.positional().size() > 1) {
    printf("\n%zu program(s): %zu bug(s), %zu warning(s), %zu unreadable\n",
           args.positional().size(), total_bugs, total_warnings, bad_inputs);
  }
  return status;
}

}  // namespace
}  // namespace reentry::tools
