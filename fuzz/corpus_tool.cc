// Build-time helper for the fuzz corpora (no engine, no CLI dependencies):
//
//   reentry_corpus_tool encode-dir OUTDIR [--prefix=P] [--lenient] FILE...
//       text programs -> OUTDIR/<P><name>.bin in the binary form the fuzz
//       targets read; removes stale .bin files. --prefix and --lenient
//       apply to the files after them; --lenient skips (with a warning)
//       files that do not parse instead of failing (for directories other
//       layers own), --strict turns that off again.
//   reentry_corpus_tool dict TARGET           print the target's dictionary
//   reentry_corpus_tool check-dict TARGET FILE   FILE is the current dictionary
//   reentry_corpus_tool check-regressions TARGET [--runs=N] PATH...
//       check the "# expect:" lines of regression files (regression.h)
//   reentry_corpus_tool titles TARGET PATH...
//       run every input (files; directories: their files) through the
//       target as the fuzz binary would, with the REENTRY_* variables of the
//       environment, and print "<path>\t<title>" for every crash title
//       (tools/bugzoo_time_to_find.sh drops the seeds that already give the
//       finding it times)
//   reentry_corpus_tool prepare TARGET FILE
//       print the program the target runs for FILE under the REENTRY_*
//       environment, in text form: the campaign's switches and configuration
//       baked into its bugs()/config() header, the input discipline applied
//       (a finding turned into a self-contained regression program)
//   reentry_corpus_tool cost TARGET [--top=N] PATH...
//       what one input costs: the minimum over 5 runs of decoding and
//       discipline (prepare) and of the executor's run, per input, the
//       total and the N most expensive inputs with their op counts
//
// Exit status: 0 ok, 1 a check failed, 2 usage error or unreadable input.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "allocator/exec/executor.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"
#include "allocator/triage/dictionary.h"
#include "allocator/triage/files.h"
#include "allocator/triage/regression.h"
#include "allocator/triage/target.h"
#include "allocator/triage/target_options.h"

namespace reentry::triage {
namespace {

int Usage(const std::string& why) {
  fprintf(
      stderr,
      "reentry_corpus_tool: %s\n"
      "usage: reentry_corpus_tool encode-dir OUTDIR [--prefix=P] [--lenient] "
      "FILE...\n"
      "       reentry_corpus_tool dict TARGET\n"
      "       reentry_corpus_tool check-dict TARGET FILE\n"
      "       reentry_corpus_tool check-regressions TARGET [--runs=N] "
      "PATH...\n"
      "       reentry_corpus_tool titles TARGET PATH...\n"
      "targets: %s\n",
      why.c_str(), TargetNameList().c_str());
  return 2;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  return name;
}

int EncodeDir(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("encode-dir needs OUTDIR");
  const std::string out_dir = args[0];
  std::string error;
  if (!MakeDirs(out_dir, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  bool lenient = false;
  std::string prefix;
  std::set<std::string> written;
  int failed = 0;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--lenient" || a == "--strict") {
      lenient = a == "--lenient";
      continue;
    }
    if (a.rfind("--prefix=", 0) == 0) {
      prefix = a.substr(9);
      continue;
    }
    prog::Program p;
    std::string bytes;
    if (!LoadProgramFile(a, &p, &bytes, &error)) {
      fprintf(stderr, "reentry_corpus_tool: %s%s\n",
              lenient ? "warning: skipped: " : "", error.c_str());
      if (!lenient) ++failed;
      continue;
    }
    const std::string out = out_dir + "/" + prefix + BaseName(a) + ".bin";
    if (!written.insert(out).second) {
      fprintf(stderr, "reentry_corpus_tool: two inputs named %s\n",
              (prefix + BaseName(a)).c_str());
      return 2;
    }
    std::string old;
    std::string ignored;
    if (ReadWholeFile(out, &old, &ignored) && old == bytes) continue;
    if (!WriteFileAtomically(out, bytes, &error)) {
      fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
      return 2;
    }
  }
  for (const std::string& f : ListFiles(out_dir)) {
    if (f.size() > 4 && f.substr(f.size() - 4) == ".bin" && !written.count(f)) {
      remove(f.c_str());
    }
  }
  return failed > 0 ? 2 : 0;
}

int CheckDict(TargetId t, const std::string& path) {
  std::string data, error;
  if (!ReadWholeFile(path, &data, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  if (data != DictionaryText(t)) {
    fprintf(stderr,
            "reentry_corpus_tool: %s is out of date; regenerate it with:\n"
            "  reentry_corpus_tool dict %s > %s\n",
            path.c_str(), TargetName(t), path.c_str());
    return 1;
  }
  printf("%s: current\n", path.c_str());
  return 0;
}

int CheckRegressions(TargetId t, const std::vector<std::string>& args) {
  int runs = 3;
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (a.rfind("--runs=", 0) == 0) {
      runs = atoi(a.c_str() + 7);
      if (runs < 1 || runs > 100) return Usage("--runs must be 1..100");
      continue;
    }
    if (IsDirectory(a)) {
      for (const std::string& f : ListFiles(a)) files.push_back(f);
    } else if (PathExists(a)) {
      files.push_back(a);
    } else {
      fprintf(stderr, "reentry_corpus_tool: cannot open %s\n", a.c_str());
      return 2;
    }
  }
  int bad = 0;
  for (const std::string& f : files) {
    std::string message;
    const bool ok = CheckRegressionFile(t, f, runs, &message);
    printf("%s %s\n", ok ? "PASS" : "FAIL", message.c_str());
    bad += ok ? 0 : 1;
  }
  printf("%zu regression file(s), %d failed\n", files.size(), bad);
  return bad == 0 ? 0 : 1;
}

// Files named and the files of directories named; false if one is missing.
bool ExpandPaths(const std::vector<std::string>& args,
                 std::vector<std::string>* files) {
  for (const std::string& a : args) {
    if (a.rfind("--", 0) == 0) continue;
    if (IsDirectory(a)) {
      for (const std::string& f : ListFiles(a)) files->push_back(f);
    } else if (PathExists(a)) {
      files->push_back(a);
    } else {
      fprintf(stderr, "reentry_corpus_tool: cannot open %s\n", a.c_str());
      return false;
    }
  }
  return true;
}

int Titles(TargetId t, const std::vector<std::string>& args) {
  TargetOptions o;
  std::string error;
  if (!TargetOptionsFromEnv(&o, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  std::vector<std::string> files;
  if (!ExpandPaths(args, &files)) return 2;
  for (const std::string& f : files) {
    std::string data;
    if (!ReadWholeFile(f, &data, &error)) {
      fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
      return 2;
    }
    // Raw bytes, as the engines pass them (the .bin files of a corpus).
    const prog::Program p = PrepareInput(
        t, reinterpret_cast<const uint8_t*>(data.data()), data.size(), o);
    exec::Executor ex;
    for (const Problem& pr : Evaluate(t, p, o, ex).problems) {
      printf("%s\t%s\n", f.c_str(), pr.title.c_str());
    }
  }
  return 0;
}

int Prepare(TargetId t, const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("prepare needs TARGET FILE");
  TargetOptions o;
  std::string error;
  if (!TargetOptionsFromEnv(&o, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  prog::Program p;
  if (!LoadProgramFile(args[0], &p, nullptr, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  fputs(prog::ProgramToText(PrepareProgram(t, p, o)).c_str(), stdout);
  return 0;
}

int Cost(TargetId t, const std::vector<std::string>& args) {
  TargetOptions o;
  std::string error;
  if (!TargetOptionsFromEnv(&o, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  size_t top = 10;
  for (const std::string& a : args) {
    if (a.rfind("--top=", 0) == 0)
      top = static_cast<size_t>(atoi(a.c_str() + 6));
  }
  std::vector<std::string> files;
  if (!ExpandPaths(args, &files)) return 2;
  using Clock = std::chrono::steady_clock;
  struct Row {
    double prepare_us, run_us;
    size_t ops;
    std::string path;
  };
  std::vector<Row> rows;
  double prepare_total = 0, run_total = 0;
  for (const std::string& f : files) {
    std::string data;
    if (!ReadWholeFile(f, &data, &error)) {
      fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
      return 2;
    }
    const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
    Row r{1e18, 1e18, 0, f};
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = Clock::now();
      const prog::Program p = PrepareInput(t, bytes, data.size(), o);
      const auto t1 = Clock::now();
      exec::Executor ex;
      const RunVerdict v = Evaluate(t, p, o, ex);
      const auto t2 = Clock::now();
      r.ops = prog::CountOps(p.ops);
      r.prepare_us =
          std::min(r.prepare_us,
                   std::chrono::duration<double, std::micro>(t1 - t0).count());
      r.run_us = std::min(
          r.run_us, std::chrono::duration<double, std::micro>(t2 - t1).count());
      (void)v;
    }
    prepare_total += r.prepare_us;
    run_total += r.run_us;
    rows.push_back(std::move(r));
  }
  if (rows.empty()) return Usage("cost needs inputs");
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.prepare_us + a.run_us > b.prepare_us + b.run_us;
  });
  const double n = static_cast<double>(rows.size());
  printf(
      "%zu input(s): mean %.1f us (prepare %.1f, run %.1f), median %.1f us\n",
      rows.size(), (prepare_total + run_total) / n, prepare_total / n,
      run_total / n,
      rows[rows.size() / 2].prepare_us + rows[rows.size() / 2].run_us);
  for (size_t i = 0; i < std::min(top, rows.size()); ++i) {
    printf("%10.1f us  prepare %8.1f  run %10.1f  %4zu ops  %s\n",
           rows[i].prepare_us + rows[i].run_us, rows[i].prepare_us,
           rows[i].run_us, rows[i].ops, rows[i].path.c_str());
  }
  return 0;
}

int Main(int argc, char** argv) {
  if (argc < 2) return Usage("no command");
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "encode-dir") return EncodeDir(args);
  if (args.empty()) return Usage(cmd + " needs a TARGET");
  const auto target = ParseTargetName(args[0]);
  if (!target) return Usage("unknown target '" + args[0] + "'");
  args.erase(args.begin());
  if (cmd == "dict") {
    fputs(DictionaryText(*target).c_str(), stdout);
    return 0;
  }
  if (cmd == "check-dict") {
    if (args.size() != 1) return Usage("check-dict needs TARGET FILE");
    return CheckDict(*target, args[0]);
  }
  if (cmd == "check-regressions") return CheckRegressions(*target, args);
  if (cmd == "titles") return Titles(*target, args);
  if (cmd == "cost") return Cost(*target, args);
  if (cmd == "prepare") return Prepare(*target, args);
  return Usage("unknown command '" + cmd + "'");
}

}  // namespace
}  // namespace reentry::triage

int main(int argc, char** argv) { return reentry::triage::Main(argc, argv); }
