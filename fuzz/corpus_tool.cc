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
//
// Exit status: 0 ok, 1 a check failed, 2 usage error or unreadable input.
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "allocator/exec/executor.h"
#include "allocator/prog/binary.h"
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

int Titles(TargetId t, const std::vector<std::string>& args) {
  TargetOptions o;
  std::string error;
  if (!TargetOptionsFromEnv(&o, &error)) {
    fprintf(stderr, "reentry_corpus_tool: %s\n", error.c_str());
    return 2;
  }
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (IsDirectory(a)) {
      for (const std::string& f : ListFiles(a)) files.push_back(f);
    } else if (PathExists(a)) {
      files.push_back(a);
    } else {
      fprintf(stderr, "reentry_corpus_tool: cannot open %s\n", a.c_str());
      return 2;
    }
  }
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
  return Usage("unknown command '" + cmd + "'");
}

}  // namespace
}  // namespace reentry::triage

int main(int argc, char** argv) { return reentry::triage::Main(argc, argv); }
