#include "allocator/triage/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "allocator/prog/binary.h"
#include "allocator/prog/oracle.h"
#include "allocator/prog/text.h"
#include "allocator/report/report.h"

namespace reentry::triage {
namespace {

// ---- A tiny length-prefixed record format for the child's answer. ----
void PutField(std::string& out, const std::string& s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

bool GetField(const std::string& in, size_t& pos, std::string* s) {
  const size_t colon = in.find(':', pos);
  if (colon == std::string::npos) return false;
  size_t n = 0;
  for (size_t i = pos; i < colon; ++i) {
    if (in[i] < '0' || in[i] > '9') return false;
    n = n * 10 + static_cast<size_t>(in[i] - '0');
  }
  if (colon + 1 + n > in.size()) return false;
  *s = in.substr(colon + 1, n);
  pos = colon + 1 + n;
  return true;
}

std::string Serialize(const Triaged& t) {
  std::string out;
  PutField(out, t.crash ? "1" : "0");
  PutField(out, t.prepared_text);
  PutField(out, t.reports);
  PutField(out, t.detail);
  PutField(out, std::to_string(t.problems.size()));
  for (const Problem& p : t.problems) {
    PutField(out, p.title);
    PutField(out, p.summary);
  }
  return out;
}

bool Deserialize(const std::string& in, Triaged* t) {
  size_t pos = 0;
  std::string crash, count;
  if (!GetField(in, pos, &crash) || !GetField(in, pos, &t->prepared_text) ||
      !GetField(in, pos, &t->reports) || !GetField(in, pos, &t->detail) ||
      !GetField(in, pos, &count)) {
    return false;
  }
  t->crash = crash == "1";
  const int n = atoi(count.c_str());
  for (int i = 0; i < n; ++i) {
    Problem p;
    if (!GetField(in, pos, &p.title) || !GetField(in, pos, &p.summary)) {
      return false;
    }
    t->problems.push_back(std::move(p));
  }
  return true;
}

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// First line of s that contains needle, trimmed.
std::string LineWith(const std::string& s, const std::string& needle) {
  const size_t at = s.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = s.rfind('\n', at);
  const size_t end = s.find('\n', at);
  std::string line = s.substr(start == std::string::npos ? 0 : start + 1,
                              end == std::string::npos ? std::string::npos
                                                       : end - start - 1);
  return line;
}

template <typename F>
Triaged RunInChild(F&& body, double timeout_seconds) {
  Triaged t;
  std::string answer, errors;
  int sig = 0;
  bool timed_out = false;
  const bool ok = RunForked([&] { return Serialize(body()); }, timeout_seconds,
                            &answer, &errors, &sig, &timed_out);
  t.child_stderr = errors;
  if (ok && Deserialize(answer, &t)) {
    t.ok = true;
    return t;
  }
  t.hard = true;
  t.crash = true;
  Problem p;
  p.title = HardCrashTitle(errors, sig, timed_out);
  p.summary = p.title;
  t.problems.push_back(std::move(p));
  return t;
}

}  // namespace

bool RunForked(const std::function<std::string()>& body, double timeout_seconds,
               std::string* answer_out, std::string* child_stderr, int* signal,
               bool* timed_out_out) {
  *signal = 0;
  *timed_out_out = false;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0) return false;
  if (pipe(err_pipe) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return false;
  }
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    *child_stderr = std::string("fork failed: ") + strerror(errno);
    return false;
  }
  if (pid == 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    dup2(err_pipe[1], 2);
    const std::string answer = body();
    size_t done = 0;
    while (done < answer.size()) {
      const ssize_t n =
          write(out_pipe[1], answer.data() + done, answer.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) _exit(3);
      done += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  std::string answer, errors;
  const double deadline = Now() + timeout_seconds;
  bool timed_out = false;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    const double left = deadline - Now();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int r = poll(fds, 2, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        continue;
      }
      char buf[65536];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? answer : errors).append(buf, static_cast<size_t>(n));
        if (errors.size() > (1 << 20)) errors.erase(0, errors.size() - (1 << 19));
      } else if (n == 0 || (n < 0 && errno != EINTR)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *child_stderr = errors.size() > 8192 ? errors.substr(errors.size() - 8192)
                                       : errors;
  *timed_out_out = timed_out;
  *signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;
  *answer_out = std::move(answer);
  return true;
}

std::string HardCrashTitle(const std::string& err, int signal,
                           bool timed_out) {
  if (timed_out) return "timeout";
  std::string line = LineWith(err, "internal CHECK failed: ");
  if (!line.empty()) {
    // "reentry: internal CHECK failed: file:line: cond[: msg]"
    std::string rest =
        line.substr(line.find("internal CHECK failed: ") + 23);
    const size_t c1 = rest.find(':');
    const size_t c2 = c1 == std::string::npos ? c1 : rest.find(':', c1 + 1);
    std::string file = c1 == std::string::npos ? "" : rest.substr(0, c1);
    const size_t slash = file.find("allocator/");
    if (slash != std::string::npos) file = file.substr(slash);
    std::string cond =
        c2 == std::string::npos ? rest : rest.substr(c2 + 2);
    const size_t msg = cond.find(": ");
    if (msg != std::string::npos) cond = cond.substr(0, msg);
    return "internal CHECK failed: " + cond + " (" + file + ")";
  }
  line = LineWith(err, "ERROR: AddressSanitizer: ");
  if (!line.empty()) {
    std::string kind = line.substr(line.find("AddressSanitizer: ") + 18);
    const size_t sp = kind.find(' ');
    if (sp != std::string::npos) kind = kind.substr(0, sp);
    // The first frame in the project: "#N 0x... in reentry::mm::Foo(...) file"
    std::string fn;
    std::istringstream in(err);
    std::string l;
    while (std::getline(in, l)) {
      const size_t at = l.find(" in reentry::");
      if (at == std::string::npos) continue;
      fn = l.substr(at + 4);
      const size_t paren = fn.find('(');
      if (paren != std::string::npos) fn = fn.substr(0, paren);
      break;
    }
    return "AddressSanitizer: " + kind + (fn.empty() ? "" : " in " + fn);
  }
  line = LineWith(err, "runtime error: ");
  if (!line.empty()) {
    std::string msg = line.substr(line.find("runtime error: ") + 15);
    if (msg.size() > 100) msg = msg.substr(0, 100);
    return "UndefinedBehaviorSanitizer: " + msg;
  }
  if (signal != 0) {
    return std::string("killed by signal ") + std::to_string(signal) + " (" +
           strsignal(signal) + ")";
  }
  return "abnormal exit";
}

Triaged TriageInProcess(TargetId target, const prog::Program& prepared,
                        const TargetOptions& options, exec::Executor& ex) {
  Triaged t;
  t.ok = true;
  t.prepared_text = prog::ProgramToText(prepared);
  const RunVerdict v = Evaluate(target, prepared, options, ex, /*trace=*/true);
  t.crash = v.crash;
  t.problems = v.problems;
  t.detail = v.detail;
  report::ReportInput in;
  in.config = v.result.config;
  in.bugs = v.result.bugs;
  for (const exec::TraceEntry& e : v.result.trace) {
    in.trace_lines.push_back(exec::FormatTraceEntry(prepared, e));
  }
  if (in.trace_lines.size() > 40) {
    in.trace_lines.erase(in.trace_lines.begin(),
                         in.trace_lines.end() - 40);
  }
  in.program_text = t.prepared_text;
  for (const Problem& p : v.problems) {
    if (p.finding >= 0) {
      t.reports += report::FormatReport(v.result.findings[p.finding], in);
    } else {
      t.reports += p.summary + "\n";
    }
    t.reports += "\n";
  }
  return t;
}

Triaged TriageProgramIsolated(TargetId target, const prog::Program& prepared,
                              const TargetOptions& options,
                              double timeout_seconds) {
  return RunInChild(
      [&] {
        exec::Executor ex;
        return TriageInProcess(target, prepared, options, ex);
      },
      timeout_seconds);
}

Triaged TriageIsolated(TargetId target, const std::string& bytes,
                       const TargetOptions& options, double timeout_seconds) {
  return RunInChild(
      [&] {
        if (target == TargetId::kDecoder) {
          // The decoder target's oracle runs on the bytes themselves.
          prog::ProgramRoundTripOracle(
              reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
          Triaged t;
          t.ok = true;
          t.prepared_text = prog::ProgramToText(prog::DecodeProgram(bytes));
          return t;
        }
        const prog::Program p = PrepareInput(
            target, reinterpret_cast<const uint8_t*>(bytes.data()),
            bytes.size(), options);
        exec::Executor ex;
        return TriageInProcess(target, p, options, ex);
      },
      timeout_seconds);
}

}  // namespace reentry::triage
