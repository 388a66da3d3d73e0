// reentry sweep: run a program once for every injection point it reaches,
// firing an interrupt handler at exactly that point (syzkaller's fail_nth
// idea applied to interrupts), and print which points lead to which
// findings. Deterministic and bounded: usable as a regression check.
#include <cstdio>
#include <set>
#include <sstream>

#include "allocator/triage/sweep.h"
#include "allocator/triage/tool_support.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

using triage::TargetId;

int RunSweep(const std::vector<std::string>& argv);

const Command kSweep = {
    "sweep", "sweep [flags] FILE",
    "fire an interrupt handler at every injection point a program reaches",
    "  --handler=LIST     handlers to fire, comma-separated (builtin):\n"
    "                       bpf-nolock  hardirq: alloc_pages_nolock + free\n"
    "                       atomic      hardirq: alloc_pages(GFP_ATOMIC) + free\n"
    "                       free        hardirq: frees a page the task allocated\n"
    "                       nmi         NMI: alloc_pages_nolock + free\n"
    "                       program     each top-level interrupt of FILE, moved\n"
    "                                   to every point\n"
    "                       builtin     the first four; all: everything\n"
    "  --target=NAME      whose judge decides what counts: main or gfp (main)\n"
    "  --max-nth=N        arrivals per point to try (8)\n"
    "  --max-runs=N       program runs budget (5000)\n"
    "  --all              print every run, not only those with findings\n"
    "  --bug=LIST --rt --up --cpus=N --nolock=final|v2 --no-preempt-count\n"
    "                     configuration (added to FILE's own)\n"
    "Exit status: 0 no injected interrupt led to a new finding, 1 some did,\n"
    "2 usage error or unreadable FILE.\n",
    RunSweep};
REENTRY_COMMAND(sweep, kSweep);

int RunSweep(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"handler", "target", "max-nth", "max-runs"});
  auto bool_flags = RunConfigBoolFlags();
  bool_flags.insert("all");
  Args args(value_flags, bool_flags);
  std::string error;
  RunConfig rc;
  if (!args.Parse(argv, &error) || !ParseRunConfig(args, &rc, &error)) {
    return UsageError(kSweep, error);
  }
  if (!rc.lockdep) return UsageError(kSweep, "--no-lockdep is not supported");
  const std::string tname = args.Get("target").value_or("main");
  const auto target = triage::ParseTargetName(tname);
  if (!target || (*target != TargetId::kMain && *target != TargetId::kGfp)) {
    return UsageError(kSweep, "--target must be main or gfp, got '" + tname + "'");
  }
  long max_nth = 8, max_runs = 5000;
  if (!args.GetInt("max-nth", 1, 255, &max_nth, &error) ||
      !args.GetInt("max-runs", 1, 10000000, &max_runs, &error)) {
    return UsageError(kSweep, error);
  }
  if (args.positional().size() != 1) {
    return UsageError(kSweep, "need exactly one FILE");
  }
  triage::RunFlags f{rc.bugs, rc.rt, rc.up, rc.cpus, rc.nolock,
                     rc.no_preempt_count};
  triage::TargetOptions options;
  if (!triage::OptionsFromEnvAndFlags(f, &options, &error)) {
    return UsageError(kSweep, error);
  }
  const std::string path = args.positional()[0];
  triage::LoadedInput in;
  if (!triage::LoadTargetInput(*target, path, options, &in, &error)) {
    fprintf(stderr, "reentry sweep: %s\n", error.c_str());
    return kExitUsage;
  }

  const std::vector<triage::SweepHandler> builtin =
      triage::BuiltinHandlers(in.prepared);
  const std::vector<triage::SweepHandler> from_program =
      triage::ProgramHandlers(in.prepared);
  std::vector<triage::SweepHandler> handlers;
  std::set<std::string> chosen;
  std::stringstream list(args.Get("handler").value_or("builtin"));
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item.empty()) continue;
    if (item == "builtin" || item == "all") {
      for (const auto& h : builtin) chosen.insert(h.name);
    }
    if (item == "program" || item == "all") chosen.insert("program");
    if (item != "builtin" && item != "all" && item != "program") {
      bool known = false;
      for (const auto& h : builtin) known |= h.name == item;
      if (!known) {
        return UsageError(kSweep, "unknown handler '" + item + "'");
      }
      chosen.insert(item);
    }
  }
  for (const auto& h : builtin) {
    if (chosen.count(h.name)) handlers.push_back(h);
  }
  if (chosen.count("program")) {
    if (from_program.empty()) {
      fprintf(stderr, "reentry sweep: %s has no top-level interrupt to sweep\n",
              path.c_str());
    }
    handlers.insert(handlers.end(), from_program.begin(), from_program.end());
  }
  if (handlers.empty()) return UsageError(kSweep, "no handler chosen");

  printf("sweep of %s (%s target, cpus=%d, bugs=%s)\n", path.c_str(),
         triage::TargetName(*target), in.prepared.config.nr_cpus,
         BugSetToString(in.prepared.bugs).c_str());
  for (const auto& h : handlers) {
    printf("  handler %-11s %s\n", h.name.c_str(), h.description.c_str());
  }
  triage::SweepOptions so;
  so.max_nth = static_cast<int>(max_nth);
  so.max_runs = static_cast<int>(max_runs);
  const triage::SweepResult r =
      triage::Sweep(*target, in.prepared, handlers, in.options, so);
  fputs(triage::FormatSweep(r, args.Has("all")).c_str(), stdout);
  for (const auto& row : r.rows) {
    if (!row.new_titles.empty()) return kExitFound;
  }
  return kExitOk;
}

}  // namespace
}  // namespace reentry::tools
