#include "stress/signals.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace reentry::stress {
namespace {

// initial-exec TLS: reading it from a signal handler never allocates or
// takes a lock (the library is linked into executables, never dlopen()ed).
__attribute__((tls_model("initial-exec"))) thread_local SignalState* tls_state =
    nullptr;

void Note(SignalState* s, int bit_index) {
  const uint32_t bit = 1u << bit_index;
  const uint32_t old = s->raw.load(std::memory_order_relaxed);
  if (old & bit) {
    s->merged.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  s->arrival_ns[bit_index].store(MonotonicNs(), std::memory_order_relaxed);
  // Only this thread's handlers set bits and only this thread clears them,
  // and a handler runs to completion before the thread continues: a plain
  // OR is enough, but fetch_or keeps the coordinator's reads well defined.
  s->raw.fetch_or(bit, std::memory_order_relaxed);
}

void TimerHandler(int, siginfo_t* si, void*) {
  const int saved_errno = errno;
  if (SignalState* s = tls_state) {
    s->timer_signals.fetch_add(1, std::memory_order_relaxed);
    if (si != nullptr && si->si_code == SI_TIMER && si->si_overrun > 0) {
      s->timer_overruns.fetch_add(static_cast<uint64_t>(si->si_overrun),
                                  std::memory_order_relaxed);
    }
    Note(s, 0);
  }
  errno = saved_errno;
}

void IpiHandler(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  if (SignalState* s = tls_state) {
    s->ipi_signals.fetch_add(1, std::memory_order_relaxed);
    Note(s, 1);
  }
  errno = saved_errno;
}

void NmiHandler(int, siginfo_t*, void*) {
  const int saved_errno = errno;
  if (SignalState* s = tls_state) {
    s->nmi_signals.fetch_add(1, std::memory_order_relaxed);
    Note(s, 2);
  }
  errno = saved_errno;
}

}  // namespace

int TimerSignal() { return SIGRTMIN + 0; }
int IpiSignal() { return SIGRTMIN + 1; }
int NmiSignal() { return SIGRTMIN + 2; }

uint64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

bool InstallSignalHandlers() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = TimerHandler;
    ok = sigaction(TimerSignal(), &sa, nullptr) == 0;
    sa.sa_sigaction = IpiHandler;
    ok = ok && sigaction(IpiSignal(), &sa, nullptr) == 0;
    // An NMI is not interrupted by IRQs.
    sigaddset(&sa.sa_mask, TimerSignal());
    sigaddset(&sa.sa_mask, IpiSignal());
    sa.sa_sigaction = NmiHandler;
    ok = ok && sigaction(NmiSignal(), &sa, nullptr) == 0;
  });
  return ok;
}

void BindSignalState(SignalState* state) {
  // A signal arriving while the pointer changes sees the old or the new
  // state; both are valid for the handler's duration (the runner keeps the
  // state alive until after it unbinds and deletes the timers).
  tls_state = state;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

bool SendIpiSignal(pid_t tid) {
  return syscall(SYS_tgkill, getpid(), tid, IpiSignal()) == 0;
}

ThreadTimer::~ThreadTimer() { Destroy(); }

bool ThreadTimer::Create(int signo) {
  Destroy();
  struct sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = signo;
  sev._sigev_un._tid = CurrentTid();
  created_ = timer_create(CLOCK_MONOTONIC, &sev, &timer_) == 0;
  return created_;
}

bool ThreadTimer::Arm(uint64_t period_ns, uint64_t first_ns) {
  if (!created_) return false;
  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  if (period_ns != 0) {
    if (first_ns == 0) first_ns = period_ns;
    its.it_interval.tv_sec = static_cast<time_t>(period_ns / 1000000000ull);
    its.it_interval.tv_nsec = static_cast<long>(period_ns % 1000000000ull);
    its.it_value.tv_sec = static_cast<time_t>(first_ns / 1000000000ull);
    its.it_value.tv_nsec = static_cast<long>(first_ns % 1000000000ull);
  }
  return timer_settime(timer_, 0, &its, nullptr) == 0;
}

void ThreadTimer::Destroy() {
  if (!created_) return;
  (void)timer_delete(timer_);
  created_ = false;
}

}  // namespace reentry::stress
