#include "allocator/triage/engine.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "allocator/triage/files.h"

namespace reentry::triage {
namespace {

// The number after `key` in line (skipping ':' and spaces), or -1.
double NumberAfter(const std::string& line, const std::string& key) {
  size_t at = line.find(key);
  if (at == std::string::npos) return -1;
  at += key.size();
  while (at < line.size() &&
         (line[at] == ':' || line[at] == ' ' || line[at] == '\t')) {
    ++at;
  }
  if (at >= line.size() || !(isdigit(line[at]) || line[at] == '.')) return -1;
  return atof(line.c_str() + at);
}

std::string Trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

}  // namespace

const char* EngineName(Engine e) {
  return e == Engine::kAfl ? "afl" : "libfuzzer";
}

EngineStats ParseLibFuzzerLog(const std::string& log) {
  EngineStats s;
  std::istringstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.size() > 1 && line[0] == '#' && isdigit(line[1]) &&
        line.find("cov:") != std::string::npos) {
      last = line;
    }
  }
  if (last.empty()) return s;
  s.valid = true;
  s.execs = static_cast<uint64_t>(atof(last.c_str() + 1));
  s.cov = static_cast<uint64_t>(std::max(0.0, NumberAfter(last, "cov")));
  s.features = static_cast<uint64_t>(std::max(0.0, NumberAfter(last, "ft")));
  s.corpus = static_cast<uint64_t>(std::max(0.0, NumberAfter(last, "corp")));
  s.exec_per_sec = std::max(0.0, NumberAfter(last, "exec/s"));
  // Fork mode: "oom/timeout/crash: a/b/c".
  const size_t oc = last.find("oom/timeout/crash:");
  if (oc != std::string::npos) {
    unsigned long a = 0, b = 0, c = 0;
    if (sscanf(last.c_str() + oc + 18, " %lu/%lu/%lu", &a, &b, &c) == 3) {
      s.crashes = a + b + c;
    }
  }
  return s;
}

EngineStats ParseAflStats(const std::string& stats) {
  EngineStats s;
  std::istringstream in(stats);
  std::string line;
  std::map<std::string, std::string> kv;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    kv[Trim(line.substr(0, colon))] = Trim(line.substr(colon + 1));
  }
  if (kv.empty()) return s;
  s.valid = true;
  auto num = [&](const char* k) {
    auto it = kv.find(k);
    return it == kv.end() ? 0.0 : atof(it->second.c_str());
  };
  s.execs = static_cast<uint64_t>(num("execs_done"));
  s.exec_per_sec = num("execs_per_sec");
  s.corpus = static_cast<uint64_t>(num("corpus_count") + num("paths_total"));
  s.cov = static_cast<uint64_t>(num("edges_found"));
  s.bitmap_pct = num("bitmap_cvg");
  s.crashes =
      static_cast<uint64_t>(num("saved_crashes") + num("unique_crashes"));
  if (kv.count("stability")) s.stability = num("stability");
  return s;
}

EngineStats SumStats(const std::vector<EngineStats>& all) {
  EngineStats s;
  double stability_sum = 0;
  int stability_n = 0;
  for (const EngineStats& e : all) {
    if (!e.valid) continue;
    s.valid = true;
    s.execs += e.execs;
    s.exec_per_sec += e.exec_per_sec;
    s.cov = std::max(s.cov, e.cov);
    s.features = std::max(s.features, e.features);
    s.bitmap_pct = std::max(s.bitmap_pct, e.bitmap_pct);
    s.corpus = std::max(s.corpus, e.corpus);
    s.crashes += e.crashes;
    if (e.stability >= 0) {
      stability_sum += e.stability;
      ++stability_n;
    }
  }
  if (stability_n > 0) s.stability = stability_sum / stability_n;
  return s;
}

std::map<std::string, std::string> ParseOptionsFile(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, section;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = line;
      continue;
    }
    if (section != "[libfuzzer]") continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[Trim(line.substr(0, eq))] = Trim(line.substr(eq + 1));
  }
  return out;
}

EngineLayout LayoutFor(const std::string& repo, Engine engine, TargetId target,
                       bool asan) {
  EngineLayout l;
  l.repo = repo;
  l.asan = asan;
  const std::string t = TargetName(target);
  const std::string bin = TargetBinaryName(target);
  std::string build_targets = bin + " corpus_" + t + "_seeds";
  if (engine == Engine::kAfl) {
    l.preset = "afl";
    l.build_dir = repo + "/build/" + (asan ? "afl-asan" : "afl");
  } else {
    l.preset = "libfuzzer";
    l.build_dir = repo + "/build/" + (asan ? "libfuzzer-asan" : "libfuzzer");
  }
  l.binary = l.build_dir + "/fuzz/" + bin;
  l.seeds = l.build_dir + "/corpora/" + t + "/seeds";
  l.dict = repo + "/corpora/" + t + "/" + t + ".dict";
  l.options = repo + "/corpora/" + t + "/" + t + ".options";
  const std::string dir_flag =
      asan ? " -B " + l.build_dir + " -DREENTRY_SANITIZER=address" : "";
  l.build_commands.push_back("cmake --preset " + l.preset + dir_flag);
  l.build_commands.push_back("cmake --build " + l.build_dir + " -j2 --target " +
                             build_targets);
  return l;
}

bool SpawnChild(const std::vector<std::string>& argv,
                const std::vector<std::pair<std::string, std::string>>& env,
                const std::string& log, Child* out, std::string* error) {
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) {
    *error = "cannot open " + log + ": " + strerror(errno);
    return false;
  }
  fflush(stdout);
  fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fd);
    *error = std::string("fork failed: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    setpgid(0, 0);
    // Die with the campaign (the engine's own children get SIGTERM from
    // StopChild through the process group).
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(fd);
  setpgid(pid, pid);
  out->pid = pid;
  out->log = log;
  return true;
}

bool ChildExited(Child& c, int* status) {
  if (c.pid < 0) return true;
  const pid_t r = waitpid(c.pid, status, WNOHANG);
  if (r == c.pid || (r < 0 && errno == ECHILD)) {
    c.pid = -1;
    return true;
  }
  return false;
}

void StopChild(Child& c, double grace_seconds) {
  if (c.pid < 0) return;
  kill(-c.pid, SIGTERM);
  kill(c.pid, SIGTERM);
  int status = 0;
  const int steps = static_cast<int>(grace_seconds * 10);
  for (int i = 0; i < steps; ++i) {
    if (ChildExited(c, &status)) break;
    timespec ts{0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  if (c.pid >= 0) {
    kill(-c.pid, SIGKILL);
    kill(c.pid, SIGKILL);
    while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    c.pid = -1;
  }
}

std::string ReadTail(const std::string& path, size_t bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start =
      size > static_cast<std::streamoff>(bytes) ? size - bytes : 0;
  in.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

}  // namespace reentry::triage
