// reentry fuzz: run a fuzzing campaign on one target with libFuzzer (fork
// mode, -fork=N) or AFL++ (-M/-S on one sync directory), show live progress,
// triage every crash the engine saves into one folder per title (input,
// report, minimized program, status line), and end with a summary. A
// campaign resumes from its output directory, and loses no finding it has
// reported even if killed (allocator/triage/campaign.h).
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "allocator/prog/text.h"
#include "allocator/triage/campaign.h"
#include "allocator/triage/engine.h"
#include "allocator/triage/files.h"
#include "allocator/triage/isolate.h"
#include "allocator/triage/pipeline.h"
#include "allocator/triage/tool_support.h"
#include "tools/command.h"
#include "tools/run_config.h"

namespace reentry::tools {
namespace {

using triage::Engine;
using triage::TargetId;

int RunFuzz(const std::vector<std::string>& argv);

const Command kFuzz = {
    "fuzz", "fuzz [flags]",
    "run a fuzzing campaign (libFuzzer or AFL++) with live progress, "
    "deduplicated findings and a summary",
    "  --target=NAME        main, gfp, checker, decoder (main)\n"
    "  --engine=NAME        libfuzzer or afl (libfuzzer)\n"
    "  --time=DURATION      campaign length, e.g. 90s, 10m, 2h (5m)\n"
    "  --jobs=N             parallel engine workers: libFuzzer -fork=N,\n"
    "                       AFL++ one -M and N-1 -S instances (1)\n"
    "  --out=DIR            campaign directory; an existing one is resumed\n"
    "                       (campaigns/<target>-<engine>)\n"
    "  --asan               use the ASan+UBSan build of the target\n"
    "  --no-build           do not build a missing fuzz binary (print how)\n"
    "  --minimize-time=DUR  minimization budget per new finding; 0 skips "
    "(20s)\n"
    "  --seed=N             libFuzzer -seed (default: time based)\n"
    "  --status=DURATION    progress line period (10s)\n"
    "  --bug=LIST --rt --up --cpus=N --nolock=final|v2 --no-preempt-count\n"
    "                       the configuration every input runs with\n"
    "Exit status: 0 no finding, 1 findings (see DIR/findings), 2 usage or\n"
    "setup error.\n",
    RunFuzz};
REENTRY_COMMAND(fuzz, kFuzz);

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

void SleepFor(double seconds) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(seconds);
  ts.tv_nsec = static_cast<long>((seconds - ts.tv_sec) * 1e9);
  nanosleep(&ts, nullptr);
}

std::string Commas(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

struct Campaign {
  TargetId target = TargetId::kMain;
  Engine engine = Engine::kLibFuzzer;
  triage::TargetOptions options;
  std::string out;
  double seconds = 300;
  int jobs = 1;
  bool asan = false;
  double minimize_seconds = 20;
  double status_seconds = 10;
  long seed = -1;
  triage::EngineLayout layout;
  std::map<std::string, std::string> engine_options;
};

// campaign.cfg: what must stay the same when a campaign is resumed.
std::string ConfigText(const Campaign& c) {
  std::string s = "target=" + std::string(triage::TargetName(c.target)) + "\n";
  s += "engine=" + std::string(triage::EngineName(c.engine)) + "\n";
  s += std::string("asan=") + (c.asan ? "1" : "0") + "\n";
  for (const auto& [k, v] : triage::TargetOptionsToEnv(c.options)) {
    s += "env " + k + "=" + v + "\n";
  }
  return s;
}

bool EnsureBinary(const Campaign& c, bool build, std::string* error) {
  const triage::EngineLayout& l = c.layout;
  if (triage::PathExists(l.binary) && triage::IsDirectory(l.seeds)) return true;
  std::string how;
  for (const std::string& cmd : l.build_commands) how += "  " + cmd + "\n";
  if (!build) {
    *error = l.binary + " is not built; from " + l.repo + " run:\n" + how;
    return false;
  }
  printf("building %s (%s):\n%s", triage::TargetBinaryName(c.target).c_str(),
         l.preset.c_str(), how.c_str());
  fflush(stdout);
  for (const std::string& cmd : l.build_commands) {
    const std::string full = "cd '" + l.repo + "' && " + cmd;
    if (system(full.c_str()) != 0) {
      *error = "the build failed; run it by hand from " + l.repo + ":\n" + how;
      return false;
    }
  }
  if (!triage::PathExists(l.binary)) {
    *error = "the build did not produce " + l.binary;
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> EngineEnv(const Campaign& c) {
  auto env = triage::TargetOptionsToEnv(c.options);
  if (c.asan) {
    env.emplace_back("ASAN_OPTIONS",
                     "abort_on_error=1:symbolize=0:detect_leaks=0:"
                     "allocator_may_return_null=1");
    env.emplace_back("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1");
  }
  if (c.engine == Engine::kAfl) {
    env.emplace_back("AFL_SKIP_CPUFREQ", "1");
    env.emplace_back("AFL_NO_UI", "1");
    env.emplace_back("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1");
    env.emplace_back("AFL_AUTORESUME", "1");
    env.emplace_back("AFL_NO_AFFINITY", "1");
  }
  return env;
}

bool StartEngines(const Campaign& c, std::vector<triage::Child>* children,
                  std::string* error) {
  const triage::EngineLayout& l = c.layout;
  const auto env = EngineEnv(c);
  const long secs = std::max(1L, static_cast<long>(c.seconds));
  if (c.engine == Engine::kLibFuzzer) {
    std::vector<std::string> argv = {
        l.binary,
        "-fork=" + std::to_string(c.jobs),
        "-ignore_crashes=1",
        "-ignore_timeouts=1",
        "-ignore_ooms=1",
        "-max_total_time=" + std::to_string(secs),
        "-artifact_prefix=" + c.out + "/artifacts/",
        "-print_final_stats=1"};
    if (triage::PathExists(l.dict)) argv.push_back("-dict=" + l.dict);
    for (const auto& [k, v] : c.engine_options) {
      if (k == "dict") continue;  // the repository's, above
      argv.push_back("-" + k + "=" + v);
    }
    if (c.seed >= 0) argv.push_back("-seed=" + std::to_string(c.seed));
    argv.push_back(c.out + "/corpus");
    argv.push_back(l.seeds);
    triage::Child child;
    if (!triage::SpawnChild(argv, env, c.out + "/logs/libfuzzer.log", &child,
                            error)) {
      return false;
    }
    children->push_back(child);
    return true;
  }
  // AFL++: one main instance and jobs-1 secondaries on one sync directory.
  const std::string timeout_ms =
      std::to_string(
          1000 * std::max(1, atoi(c.engine_options.count("timeout")
                                      ? c.engine_options.at("timeout").c_str()
                                      : "10"))) +
      "+";
  for (int j = 0; j < c.jobs; ++j) {
    std::vector<std::string> argv = {"afl-fuzz", "-i", l.seeds, "-o",
                                     c.out + "/afl"};
    argv.push_back(j == 0 ? "-M" : "-S");
    argv.push_back(j == 0 ? "main" : "s" + std::to_string(j));
    if (triage::PathExists(l.dict)) {
      argv.push_back("-x");
      argv.push_back(l.dict);
    }
    argv.push_back("-V");
    argv.push_back(std::to_string(secs));
    argv.push_back("-t");
    argv.push_back(timeout_ms);
    if (c.engine_options.count("max_len")) {
      argv.push_back("-G");
      argv.push_back(c.engine_options.at("max_len"));
    }
    argv.push_back("--");
    argv.push_back(l.binary);
    triage::Child child;
    if (!triage::SpawnChild(argv, env, c.out + "/logs/afl-" + argv[6] + ".log",
                            &child, error)) {
      return false;
    }
    children->push_back(child);
  }
  return true;
}

triage::EngineStats ReadStats(const Campaign& c) {
  if (c.engine == Engine::kLibFuzzer) {
    return triage::ParseLibFuzzerLog(
        triage::ReadTail(c.out + "/logs/libfuzzer.log", 1 << 16));
  }
  std::vector<triage::EngineStats> all;
  for (int j = 0; j < c.jobs; ++j) {
    const std::string name = j == 0 ? "main" : "s" + std::to_string(j);
    std::string text, ignored;
    if (triage::ReadWholeFile(c.out + "/afl/" + name + "/fuzzer_stats", &text,
                              &ignored)) {
      all.push_back(triage::ParseAflStats(text));
    }
  }
  return triage::SumStats(all);
}

// Crash files the engine saved: (key for triaged.list, path, kind).
struct Artifact {
  std::string key;
  std::string path;
  std::string kind;  // crash, timeout, oom, leak, hang
};

std::vector<Artifact> ListArtifacts(const Campaign& c) {
  std::vector<Artifact> out;
  if (c.engine == Engine::kLibFuzzer) {
    for (const std::string& f : triage::ListFiles(c.out + "/artifacts")) {
      const std::string name = f.substr(f.find_last_of('/') + 1);
      const size_t dash = name.find('-');
      if (dash == std::string::npos) continue;
      const std::string kind = name.substr(0, dash);
      if (kind != "crash" && kind != "timeout" && kind != "oom" &&
          kind != "leak") {
        continue;  // slow-unit-* and the like
      }
      out.push_back({"artifacts/" + name, f, kind});
    }
    return out;
  }
  for (int j = 0; j < c.jobs; ++j) {
    const std::string name = j == 0 ? "main" : "s" + std::to_string(j);
    for (const char* sub : {"crashes", "hangs"}) {
      const std::string dir = c.out + "/afl/" + name + "/" + sub;
      for (const std::string& f : triage::ListFiles(dir)) {
        const std::string base = f.substr(f.find_last_of('/') + 1);
        if (base.rfind("id:", 0) != 0) continue;  // README.txt
        out.push_back({"afl/" + name + "/" + sub + "/" + base, f,
                       std::string(sub) == "hangs" ? "hang" : "crash"});
      }
    }
  }
  return out;
}

class Runner {
 public:
  explicit Runner(Campaign c) : c_(std::move(c)), store_(c_.out) {}

  int Run() {
    std::string error;
    if (!store_.Open(&error)) {
      fprintf(stderr, "reentry fuzz: %s\n", error.c_str());
      return kExitUsage;
    }
    const size_t known = store_.entries().size();
    printf("campaign %s: %s target, %s, %d job(s), %s%s\n", c_.out.c_str(),
           triage::TargetName(c_.target), triage::EngineName(c_.engine),
           c_.jobs, triage::FormatDuration(c_.seconds).c_str(),
           c_.asan ? ", ASan+UBSan" : "");
    printf("configuration: %s\n",
           triage::DescribeTargetOptions(c_.options).c_str());
    if (known > 0)
      printf("resuming: %zu finding(s) already in %s\n", known,
             store_.findings_dir().c_str());
    fflush(stdout);
    // Crash files left from an earlier run that was killed before triage.
    Triage();
    if (!StartEngines(c_, &children_, &error)) {
      fprintf(stderr, "reentry fuzz: %s\n", error.c_str());
      return kExitUsage;
    }
    start_ = Now();
    double next_status = start_ + std::min(c_.status_seconds, 3.0);
    const double hard_end = start_ + c_.seconds + 60;
    while (!g_stop) {
      bool all_done = true;
      for (triage::Child& ch : children_) {
        int status = 0;
        if (!triage::ChildExited(ch, &status)) all_done = false;
      }
      Triage();
      MinimizeOne(/*deadline=*/start_ + c_.seconds);
      if (all_done) break;
      if (Now() > hard_end) {
        printf("engine overran the campaign time: stopping it\n");
        break;
      }
      if (Now() >= next_status) {
        PrintStatus();
        next_status = Now() + c_.status_seconds;
      }
      SleepFor(0.5);
    }
    if (g_stop) printf("\ninterrupted: stopping the engine\n");
    for (triage::Child& ch : children_) triage::StopChild(ch, 5);
    final_stats_ = ReadStats(c_);
    Triage();
    // Every new finding gets its minimized reproducer before the summary
    // (an interrupted campaign skips this: the inputs are safe on disk).
    while (!g_stop && MinimizeOne(-1)) {
    }
    return Summary();
  }

 private:
  void Triage() {
    for (const Artifact& a : ListArtifacts(c_)) {
      if (store_.Seen(a.key)) continue;
      std::string bytes, error;
      if (!triage::ReadWholeFile(a.path, &bytes, &error)) continue;
      triage::Triaged t =
          triage::TriageIsolated(c_.target, bytes, c_.options, 60);
      if (!t.crash) {
        // The engine saw something triage does not reproduce (a timeout or
        // an out-of-memory kill, or nondeterminism): keep it anyway.
        triage::Problem p;
        p.title = a.kind + " (" + triage::EngineName(c_.engine) +
                  "), not reproduced by triage";
        p.summary = p.title;
        t.problems = {p};
        t.crash = true;
      }
      std::vector<std::pair<std::string, triage::FindingStore::Outcome>> out;
      if (!store_.Record(bytes, t, &out, &error)) {
        fprintf(stderr, "reentry fuzz: cannot record %s: %s\n", a.path.c_str(),
                error.c_str());
        continue;
      }
      crash_inputs_++;
      for (const auto& [title, outcome] : out) {
        if (outcome != triage::FindingStore::Outcome::kNew) continue;
        const triage::FindingEntry* e = store_.Find(title);
        printf("\nNEW FINDING: %s\n  %s\n  saved in %s/\n", title.c_str(),
               a.path.c_str(), e ? e->dir.c_str() : "?");
        fflush(stdout);
        pending_.push_back({title, bytes, t.hard});
        new_titles_.insert(title);
      }
      (void)store_.MarkSeen(a.key, &error);
    }
  }

  // Minimizes one pending finding; false if none is left.
  bool MinimizeOne(double deadline) {
    if (pending_.empty() || c_.minimize_seconds <= 0) return false;
    if (deadline > 0 && Now() + c_.minimize_seconds > deadline) return false;
    Pending p = pending_.front();
    pending_.pop_front();
    const triage::FindingEntry* e = store_.Find(p.title);
    if (e == nullptr) return true;
    const std::string dir = e->dir;
    const prog::Program prepared = triage::PrepareInput(
        c_.target, reinterpret_cast<const uint8_t*>(p.bytes.data()),
        p.bytes.size(), c_.options);
    std::string error;
    if (c_.target == TargetId::kDecoder ||
        p.title.find("not reproduced") != std::string::npos) {
      (void)store_.SetMinimized(p.title, "", "", "not minimized", false,
                                &error);
      return true;
    }
    triage::PipelineOptions po;
    po.minimize.max_seconds = c_.minimize_seconds;
    po.hard = p.hard;
    po.input_path = dir + "/input";
    po.reproducer_path = dir + "/minimized.txt";
    const triage::PipelineResult r =
        triage::MinimizeAndReport(c_.target, prepared, p.title, c_.options, po);
    if (!r.error.empty()) {
      (void)store_.SetMinimized(p.title, "", "", r.error, false, &error);
      return true;
    }
    if (!store_.SetMinimized(p.title, r.minimized_text, r.markdown, r.note,
                             r.ok, &error)) {
      fprintf(stderr, "reentry fuzz: %s\n", error.c_str());
    }
    printf("minimized: %s: %s\n", p.title.c_str(), r.note.c_str());
    fflush(stdout);
    return true;
  }

  void PrintStatus() {
    const triage::EngineStats s = ReadStats(c_);
    const double elapsed = Now() - start_;
    std::string cov = c_.engine == Engine::kLibFuzzer
                          ? "cov " + Commas(s.cov) + " ft " + Commas(s.features)
                          : "edges " + Commas(s.cov);
    if (s.stability >= 0) {
      char buf[32];
      snprintf(buf, sizeof(buf), " stab %.1f%%", s.stability);
      cov += buf;
    }
    printf(
        "[%s/%s] %s exec/s | %s | corpus %s | crash inputs %zu | "
        "findings %zu",
        triage::FormatDuration(elapsed).c_str(),
        triage::FormatDuration(c_.seconds).c_str(),
        Commas(static_cast<uint64_t>(s.exec_per_sec)).c_str(), cov.c_str(),
        Commas(s.corpus).c_str(), crash_inputs_, store_.entries().size());
    if (!store_.entries().empty()) {
      printf(":");
      int shown = 0;
      for (const triage::FindingEntry& e : store_.entries()) {
        if (shown++ == 3) {
          printf(" ...");
          break;
        }
        printf(" [%s x%d]", e.title.c_str(), e.hits);
      }
    }
    printf("\n");
    fflush(stdout);
  }

  int Summary() {
    const double elapsed = start_ > 0 ? Now() - start_ : 0;
    std::string s;
    char buf[512];
    snprintf(buf, sizeof(buf),
             "\n== campaign summary: %s target, %s, %d job(s), ran %s%s\n",
             triage::TargetName(c_.target), triage::EngineName(c_.engine),
             c_.jobs, triage::FormatDuration(elapsed).c_str(),
             g_stop ? " (interrupted)" : "");
    s += buf;
    s +=
        "   configuration: " + triage::DescribeTargetOptions(c_.options) + "\n";
    if (final_stats_.valid) {
      snprintf(
          buf, sizeof(buf),
          "   executions: %s (%s exec/s)   coverage: %s%s   corpus: %s "
          "inputs\n",
          Commas(final_stats_.execs).c_str(),
          // libFuzzer's fork-mode line gives the last job's rate: the
          // campaign's is executions over the time it ran.
          Commas(static_cast<uint64_t>(
                     c_.engine == Engine::kLibFuzzer && elapsed > 0
                         ? static_cast<double>(final_stats_.execs) / elapsed
                         : final_stats_.exec_per_sec))
              .c_str(),
          Commas(final_stats_.cov).c_str(),
          c_.engine == Engine::kLibFuzzer
              ? (" cov, " + Commas(final_stats_.features) + " ft").c_str()
              : " edges",
          Commas(final_stats_.corpus).c_str());
      s += buf;
      if (final_stats_.stability >= 0) {
        snprintf(buf, sizeof(buf), "   stability: %.2f%%\n",
                 final_stats_.stability);
        s += buf;
      }
    }
    const auto& entries = store_.entries();
    snprintf(buf, sizeof(buf),
             "   findings: %zu title(s) (%zu new this run) from %zu crash "
             "input(s) triaged this run\n",
             entries.size(), new_titles_.size(), crash_inputs_);
    s += buf;
    for (const triage::FindingEntry& e : entries) {
      s += "     [" + e.state + "] " + e.title + "  (" +
           std::to_string(e.hits) + " hit" + (e.hits == 1 ? "" : "s") +
           (e.note.empty() ? "" : "; " + e.note) + ")\n";
      s += "         " + e.dir + "/\n";
    }
    if (entries.empty()) {
      s += "   nothing found\n";
    } else {
      s += "   each folder: input, program.txt, report.txt, minimized.txt, "
           "report.md, status\n";
      s += "   replay one: reentry report --target=" +
           std::string(triage::TargetName(c_.target)) +
           " --replay <folder>/minimized.txt\n";
    }
    s += "   resume: reentry fuzz --out=" + c_.out + " (same flags)\n";
    fputs(s.c_str(), stdout);
    std::string error;
    (void)triage::WriteFileAtomically(c_.out + "/summary.txt", s, &error);
    return entries.empty() ? kExitOk : kExitFound;
  }

  struct Pending {
    std::string title;
    std::string bytes;
    bool hard = false;
  };

  Campaign c_;
  triage::FindingStore store_;
  std::vector<triage::Child> children_;
  std::deque<Pending> pending_;
  std::set<std::string> new_titles_;
  size_t crash_inputs_ = 0;
  double start_ = 0;
  triage::EngineStats final_stats_;
};

int RunFuzz(const std::vector<std::string>& argv) {
  auto value_flags = RunConfigValueFlags();
  value_flags.insert({"target", "engine", "time", "jobs", "out",
                      "minimize-time", "seed", "status"});
  auto bool_flags = RunConfigBoolFlags();
  bool_flags.insert({"asan", "no-build"});
  Args args(value_flags, bool_flags);
  std::string error;
  RunConfig rc;
  if (!args.Parse(argv, &error) || !ParseRunConfig(args, &rc, &error)) {
    return UsageError(kFuzz, error);
  }
  if (!args.positional().empty()) {
    return UsageError(kFuzz,
                      "unexpected argument '" + args.positional()[0] + "'");
  }
  if (!rc.lockdep) return UsageError(kFuzz, "--no-lockdep is not supported");
  Campaign c;
  const std::string tname = args.Get("target").value_or("main");
  const auto target = triage::ParseTargetName(tname);
  if (!target) {
    return UsageError(kFuzz, "unknown --target '" + tname + "' (targets: " +
                                 triage::TargetNameList() + ")");
  }
  c.target = *target;
  const std::string ename = args.Get("engine").value_or("libfuzzer");
  if (ename == "libfuzzer") {
    c.engine = Engine::kLibFuzzer;
  } else if (ename == "afl" || ename == "afl++" || ename == "aflplusplus") {
    c.engine = Engine::kAfl;
  } else {
    return UsageError(kFuzz,
                      "--engine must be libfuzzer or afl, got '" + ename + "'");
  }
  auto duration = [&](const char* flag, double def, double* out) {
    auto v = args.Get(flag);
    if (!v) {
      *out = def;
      return true;
    }
    auto d = triage::ParseDuration(*v);
    if (!d || *d < 0) {
      error = std::string("--") + flag + ": bad duration '" + *v +
              "' (examples: 90, 90s, 10m, 1h30m)";
      return false;
    }
    *out = *d;
    return true;
  };
  if (!duration("time", 300, &c.seconds) ||
      !duration("minimize-time", 20, &c.minimize_seconds) ||
      !duration("status", 10, &c.status_seconds)) {
    return UsageError(kFuzz, error);
  }
  if (c.seconds < 1) return UsageError(kFuzz, "--time must be at least 1s");
  if (c.status_seconds < 1) c.status_seconds = 1;
  long jobs = 1, seed = -1;
  if (!args.GetInt("jobs", 1, 256, &jobs, &error) ||
      !args.GetInt("seed", 0, 0x7fffffff, &seed, &error)) {
    return UsageError(kFuzz, error);
  }
  c.jobs = static_cast<int>(jobs);
  c.seed = seed;
  c.asan = args.Has("asan");
  triage::RunFlags f{rc.bugs, rc.rt,     rc.up,
                     rc.cpus, rc.nolock, rc.no_preempt_count};
  if (!triage::OptionsFromEnvAndFlags(f, &c.options, &error)) {
    return UsageError(kFuzz, error);
  }
  if (!c.options.only_titles_file.empty()) {
    // The engines read the file themselves; keep the path absolute.
    char real[4096];
    if (realpath(c.options.only_titles_file.c_str(), real) != nullptr) {
      c.options.only_titles_file = real;
    }
  }
  const std::string repo = triage::FindRepoRoot();
  if (repo.empty()) {
    fprintf(stderr,
            "reentry fuzz: cannot find the repository (run from it, or set "
            "REENTRY_ROOT)\n");
    return kExitUsage;
  }
  c.out = args.Get("out").value_or(repo + "/campaigns/" +
                                   triage::TargetName(c.target) + "-" +
                                   triage::EngineName(c.engine));
  if (c.out.empty() || c.out.back() == '/') c.out += "campaign";
  c.layout = triage::LayoutFor(repo, c.engine, c.target, c.asan);
  {
    std::string text;
    if (triage::ReadWholeFile(c.layout.options, &text, &error)) {
      c.engine_options = triage::ParseOptionsFile(text);
    }
  }
  if (c.engine == Engine::kAfl &&
      system("command -v afl-fuzz >/dev/null") != 0) {
    fprintf(stderr,
            "reentry fuzz: afl-fuzz is not installed (bash tools/setup.sh "
            "installs afl++)\n");
    return kExitUsage;
  }

  // The campaign directory: new, or resumed with the same configuration.
  for (const char* sub : {"", "/corpus", "/artifacts", "/logs", "/findings"}) {
    if (!triage::MakeDirs(c.out + sub, &error)) {
      fprintf(stderr, "reentry fuzz: %s\n", error.c_str());
      return kExitUsage;
    }
  }
  const std::string cfg_path = c.out + "/campaign.cfg";
  std::string old_cfg;
  if (triage::ReadWholeFile(cfg_path, &old_cfg, &error)) {
    if (old_cfg != ConfigText(c)) {
      fprintf(stderr,
              "reentry fuzz: %s holds a campaign with another configuration:\n"
              "%s\nthis one is:\n%sresume it with the same flags, or choose "
              "another --out\n",
              c.out.c_str(), old_cfg.c_str(), ConfigText(c).c_str());
      return kExitUsage;
    }
  } else if (!triage::WriteFileAtomically(cfg_path, ConfigText(c), &error)) {
    fprintf(stderr, "reentry fuzz: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!EnsureBinary(c, !args.Has("no-build"), &error)) {
    fprintf(stderr, "reentry fuzz: %s", error.c_str());
    return kExitUsage;
  }

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  return Runner(std::move(c)).Run();
}

}  // namespace
}  // namespace reentry::tools
