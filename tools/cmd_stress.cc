// reentry stress: one OS thread per vCPU against the shared allocator model,
// with real interrupts (per-thread timers, IPI and NMI signals), the checker
// and the invariants on; a live progress line, a JSON summary and an HTML
// report; every finding comes with its recorded program (replayed by the
// executor) minimized by the same minimizer as `reentry minimize`.
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "allocator/prog/text.h"
#include "allocator/report/report.h"
#include "allocator/triage/files.h"
#include "allocator/triage/minimize.h"
#include "allocator/triage/target.h"
#include "allocator/triage/tool_support.h"
#include "stress/html_report.h"
#include "stress/runner.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

int RunStressCommand(const std::vector<std::string>& argv);

const Command kStress = {
    "stress", "stress [flags]",
    "real threads and real interrupts against the model; exit 1 on a bug",
    "  --duration=T        how long to run, e.g. 30s, 10m (10s)\n"
    "  --seed=N            workload seed (default: from the clock; printed)\n"
    "  --workload=NAME     mm (default), locks, locks-buggy\n"
    "  --irq-rate=N        timer IRQs per second per vCPU (10000; 0: none)\n"
    "  --nmi-rate=N        NMIs per second per vCPU (500; 0: none)\n"
    "  --ipi-rate=N        IPIs each vCPU sends per second (500; 0: none)\n"
    "  --jitter=F          +- share of each timer period, redrawn per round "
    "(0.25)\n"
    "  --round-ops=N       ops per vCPU per round (256)\n"
    "  --watchdog=T        a vCPU that completes no op this long is a "
    "finding (10s)\n"
    "  --invariants-every=N  check the model's invariants every N rounds "
    "(default: every 10 ms)\n"
    "  --no-invariants     never check them (except at the end)\n"
    "  --history=N         rounds of history kept for replays (4, max 8)\n"
    "  --fresh-every=N     continue with a fresh model every N rounds (at "
    "most\n"
    "                      --history; default: --history), so that replays "
    "start\n"
    "                      from the run's state (0: one model for the whole "
    "run,\n"
    "                      which ages; replays then start from a fresh "
    "model)\n"
    "  --max-rounds=N      stop after N rounds\n"
    "  --stop-on-finding   end the run at the first bug\n"
    "  --invalid-gfp=F     share of allocations with an invalid gfp mask "
    "(0; warnings only)\n"
    "  --no-hotplug --no-memory-offline --no-fault-injection --no-cma\n"
    "                      leave those parts out of the mm workload\n"
    "  --out=DIR           write summary.json, report.html and the findings' "
    "programs there (stress-out)\n"
    "  --progress=auto|on|off  live progress line on stderr (auto: on a "
    "terminal)\n"
    "  --no-verify         do not replay the findings with the executor\n"
    "  --no-minimize       do not minimize the replays\n"
    "  --minimize-time=T   minimization budget per finding (30s)\n"
    "  --warnings-fail     exit 1 on warnings (gfp misuse) too\n"
    "  --pin               pin vCPU thread c to host CPU c (dedicated "
    "machines)\n"
    "  --parallel          vCPUs run model code in parallel (for TSan; "
    "replays\n"
    "                      then order overlapping code approximately)\n"
    "  --show-round=C:R    print round R of vCPU C's op stream (needs --seed)\n"
    "                      and exit\n" REENTRY_RUN_CONFIG_HELP,
    RunStressCommand};
REENTRY_COMMAND(stress, kStress);

bool GetDouble(const Args& args, const std::string& name, double lo, double hi,
               double* out, std::string* error) {
  auto v = args.Get(name);
  if (!v) return true;
  char* end = nullptr;
  const double d = strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || d < lo || d > hi) {
    *error = "--" + name + " must be a number in [" + std::to_string(lo) +
             ", " + std::to_string(hi) + "], got '" + *v + "'";
    return false;
  }
  *out = d;
  return true;
}

bool GetDuration(const Args& args, const std::string& name, double* out,
                 std::string* error) {
  auto v = args.Get(name);
  if (!v) return true;
  auto d = triage::ParseDuration(*v);
  if (!d || *d < 0) {
    *error = "bad --" + name + " '" + *v + "' (e.g. 500ms, 30s, 10m)";
    return false;
  }
  *out = *d;
  return true;
}

int RunStressCommand(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"duration", "seed", "workload", "irq-rate", "nmi-rate",
                      "ipi-rate", "jitter", "round-ops", "watchdog",
                      "invariants-every", "history", "fresh-every",
                      "max-rounds", "invalid-gfp", "out", "progress",
                      "minimize-time", "show-round"});
  auto bool_flags = RunConfigBoolFlags();
  bool_flags.insert({"stop-on-finding", "no-hotplug", "no-fault-injection",
                     "no-cma", "no-verify", "no-minimize", "warnings-fail",
                     "pin", "no-invariants", "no-memory-offline", "parallel"});
  Args args(value_flags, bool_flags);
  std::string error;
  RunConfig rc;
  if (!args.Parse(argv, &error) || !ParseRunConfig(args, &rc, &error)) {
    return UsageError(kStress, error);
  }
  if (!args.positional().empty()) {
    return UsageError(kStress,
                      "unexpected argument '" + args.positional()[0] + "'");
  }
  stress::StressOptions o;
  // The configuration: the program defaults with the run flags applied.
  prog::Program cfg;
  cfg.config.nr_cpus = 2;
  ApplyRunConfig(rc, &cfg);
  o.config = cfg.config;
  o.bugs = cfg.bugs;
  o.lockdep = rc.lockdep;
  if (auto s = args.Get("seed")) {
    char* end = nullptr;
    o.seed = strtoull(s->c_str(), &end, 0);
    if (end == s->c_str() || *end != '\0') {
      return UsageError(kStress, "bad --seed '" + *s + "'");
    }
  } else {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o.seed = static_cast<uint64_t>(ts.tv_sec) * 1000003u ^
             static_cast<uint64_t>(ts.tv_nsec) ^
             static_cast<uint64_t>(getpid());
    o.seed &= 0xffffffffffffull;
  }
  if (auto w = args.Get("workload")) {
    if (!stress::ParseWorkload(*w, &o.workload.kind)) {
      return UsageError(
          kStress, "unknown --workload '" + *w + "' (mm, locks, locks-buggy)");
    }
  }
  long round_ops = 256, inv = 0, history = 4, max_rounds = 0, fresh = -1;
  double minimize_time = 30;
  if (!GetDuration(args, "duration", &o.duration_s, &error) ||
      !GetDuration(args, "watchdog", &o.watchdog_s, &error) ||
      !GetDuration(args, "minimize-time", &minimize_time, &error) ||
      !GetDouble(args, "irq-rate", 0, 1e6, &o.irq_rate, &error) ||
      !GetDouble(args, "nmi-rate", 0, 1e6, &o.nmi_rate, &error) ||
      !GetDouble(args, "ipi-rate", 0, 1e6, &o.ipi_rate, &error) ||
      !GetDouble(args, "jitter", 0, 0.9, &o.jitter, &error) ||
      !GetDouble(args, "invalid-gfp", 0, 1, &o.workload.invalid_gfp, &error) ||
      !args.GetInt("round-ops", 8, 2000, &round_ops, &error) ||
      !args.GetInt("invariants-every", 1, 1000000, &inv, &error) ||
      !args.GetInt("history", 1, 8, &history, &error) ||
      !args.GetInt("fresh-every", 0, 8, &fresh, &error) ||
      !args.GetInt("max-rounds", 0, 1L << 40, &max_rounds, &error)) {
    return UsageError(kStress, error);
  }
  if (o.watchdog_s <= 0) return UsageError(kStress, "--watchdog must be > 0");
  o.workload.round_ops = static_cast<int>(round_ops);
  o.invariants_every = static_cast<int>(inv);
  if (args.Has("no-invariants")) o.invariants_period_s = 0;
  o.history_rounds = static_cast<int>(history);
  o.fresh_every =
      fresh < 0 ? static_cast<int>(history) : static_cast<int>(fresh);
  if (o.fresh_every > o.history_rounds) {
    return UsageError(kStress,
                      "--fresh-every must be at most --history (a replay "
                      "covers the rounds since the fresh model)");
  }
  o.max_rounds = static_cast<uint64_t>(max_rounds);
  o.stop_on_finding = args.Has("stop-on-finding");
  o.pin_threads = args.Has("pin");
  o.parallel = args.Has("parallel");
  o.workload.hotplug = !args.Has("no-hotplug");
  o.workload.memory_offline = !args.Has("no-memory-offline");
  o.workload.fault_injection = !args.Has("no-fault-injection");
  o.workload.cma = !args.Has("no-cma");
  const std::string progress = args.Get("progress").value_or("auto");
  if (progress != "auto" && progress != "on" && progress != "off") {
    return UsageError(kStress, "--progress must be auto, on or off");
  }
  o.progress = progress == "on" || (progress == "auto" && isatty(2));
  o.progress_out = stderr;
  const std::string out_dir = args.Get("out").value_or("stress-out");

  if (auto sr = args.Get("show-round")) {
    int c = -1;
    unsigned long long round = 0;
    if (sscanf(sr->c_str(), "%d:%llu", &c, &round) != 2 || c < 0 ||
        c >= (o.config.smp ? o.config.nr_cpus : 1) || !args.Get("seed")) {
      return UsageError(kStress,
                        "--show-round=CPU:ROUND needs a vCPU in "
                        "range and --seed");
    }
    stress::WorkloadOptions wo = o.workload;
    wo.config = o.config;
    if (!o.config.smp) wo.config.nr_cpus = 1;
    const auto items = stress::GenerateRound(wo, o.seed, c, round);
    prog::Program p;
    p.config = wo.config;
    p.locks = stress::WorkloadLocks(wo);
    for (const stress::StreamItem& it : items) p.ops.push_back(it.op);
    const std::string text = prog::ProgramToText(p);
    printf("# round %llu of vCPU %d, seed %" PRIu64 " (%zu ops)\n%s", round, c,
           o.seed, items.size(), text.c_str());
    return kExitOk;
  }
  mkdir(out_dir.c_str(), 0755);
  o.crash_program_path = out_dir + "/crash.txt";
  printf("reentry stress: %s\n", stress::DescribeOptions(o).c_str());
  printf("  (replay this run's streams with --seed=%" PRIu64 ")\n", o.seed);
  fflush(stdout);
  stress::StressResult r = stress::RunStress(o);
  if (!r.setup_error.empty()) {
    fprintf(stderr, "reentry stress: %s\n", r.setup_error.c_str());
    return kExitUsage;
  }
  if (!args.Has("no-verify")) stress::VerifyReplays(&r);

  // Minimize each reproducing replay with the minimizer of `reentry
  // minimize`, under the first fuzz target whose input discipline keeps the
  // finding (main: a correct caller; gfp: any gfp mask and API/context
  // pairing). A finding that needs the caller's own misuse (the locks-buggy
  // workload) keeps its recorded program.
  triage::TargetOptions topt;
  topt.bugs = o.bugs;
  topt.max_cpus = ctx::kMaxCpus;
  if (!args.Has("no-verify") && !args.Has("no-minimize") && rc.lockdep) {
    const triage::TargetOptions replay = triage::ReplayOptions(topt);
    for (stress::StressFinding& f : r.findings) {
      if (f.reproduced_by < 0 || f.warning) continue;
      prog::ParseError pe;
      auto p = prog::ParseProgram(f.program, &pe);
      if (!p) continue;
      bool done = false;
      for (triage::TargetId target :
           {triage::TargetId::kMain, triage::TargetId::kGfp}) {
        exec::Executor ex;
        const prog::Program prepared = triage::PrepareProgram(target, *p, topt);
        if (!triage::ReproducesTitle(target, prepared, f.title, replay, ex,
                                     false, 0)) {
          continue;
        }
        triage::MinimizeOptions mo;
        mo.max_seconds = minimize_time;
        triage::Minimized m =
            triage::MinimizeProgram(target, prepared, f.title, topt, mo);
        // Keep it only if `reentry repro` reproduces the title from it.
        exec::RunResult rr = ex.Run(m.program);
        bool same = false;
        for (const Finding& g : rr.findings)
          same |= report::Title(g) == f.title;
        if (!same) continue;
        f.minimized = prog::ProgramToText(m.program);
        printf(
            "minimized \"%s\" (as the %s fuzz target runs it): %zu -> "
            "%zu ops (%d runs, %.1f s)\n",
            f.title.c_str(), triage::TargetName(target), prog::CountOps(p->ops),
            m.stats.ops_after, m.stats.runs, m.stats.seconds);
        done = true;
        break;
      }
      if (!done) {
        printf(
            "not minimized \"%s\": under the fuzz targets' input "
            "discipline (main, gfp) the program no longer reproduces it "
            "(test-lock misuse is what they rewrite); keeping the "
            "recorded program\n",
            f.title.c_str());
      }
    }
  }

  // Files.
  stress::ReportFiles files;
  mkdir(out_dir.c_str(), 0755);
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const stress::StressFinding& f = r.findings[i];
    std::string replay, minimized;
    if (!f.program.empty()) {
      replay = "finding-" + std::to_string(i + 1) + ".txt";
      std::string text = "# " + f.title + "\n# recorded by reentry stress (" +
                         stress::DescribeOptions(o) + "), round " +
                         std::to_string(f.round) + "\n" + f.program;
      if (!triage::WriteFileAtomically(out_dir + "/" + replay, text, &error)) {
        fprintf(stderr, "reentry stress: %s\n", error.c_str());
      }
    }
    if (!f.minimized.empty()) {
      minimized = "finding-" + std::to_string(i + 1) + ".min.txt";
      std::string text =
          "# " + f.title + "\n# minimized from " + replay + "\n" + f.minimized;
      if (!triage::WriteFileAtomically(out_dir + "/" + minimized, text,
                                       &error)) {
        fprintf(stderr, "reentry stress: %s\n", error.c_str());
      }
    }
    files.replay.push_back(replay);
    files.minimized.push_back(minimized);
  }
  if (!triage::WriteFileAtomically(out_dir + "/summary.json",
                                   stress::StressJson(r, files), &error) ||
      !triage::WriteFileAtomically(out_dir + "/report.html",
                                   stress::StressHtml(r, files), &error)) {
    fprintf(stderr, "reentry stress: %s\n", error.c_str());
  }

  printf("%s", stress::StressSummaryText(r).c_str());
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const stress::StressFinding& f = r.findings[i];
    if (files.replay[i].empty()) continue;
    printf("  %s: reentry repro %s/%s%s\n", f.title.c_str(), out_dir.c_str(),
           (files.minimized[i].empty() ? files.replay[i] : files.minimized[i])
               .c_str(),
           rc.lockdep ? "" : " --no-lockdep");
  }
  printf("report: %s/report.html, summary: %s/summary.json\n", out_dir.c_str(),
         out_dir.c_str());
  if (r.bugs() > 0) return kExitFound;
  if (r.warnings() > 0 && args.Has("warnings-fail")) return kExitFound;
  return kExitOk;
}

}  // namespace
}  // namespace reentry::tools
