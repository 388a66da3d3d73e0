// Real interrupts for the stress runner: real-time signals only (libFuzzer,
// AFL++ and TSan leave SIGRTMIN+n alone), one POSIX per-thread timer per
// vCPU thread for timer IRQs, another for NMIs, and tgkill() between vCPU
// threads for IPIs.
//
// The handlers do one thing: set a bit in the receiving thread's
// SignalState (and count). They never touch the model. The vCPU thread
// takes the interrupt at its next interrupt point (an injection point of the
// model or an op boundary), where it is masked or not by the emulated CPU's
// own state: see runner.h for why interrupts land there.
#ifndef REENTRY_STRESS_SIGNALS_H_
#define REENTRY_STRESS_SIGNALS_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace reentry::stress {

// Bits of SignalState::raw.
inline constexpr uint32_t kRawTimer = 1u << 0;  // timer IRQ
inline constexpr uint32_t kRawIpi = 1u << 1;    // IPI from another vCPU
inline constexpr uint32_t kRawNmi = 1u << 2;    // NMI

// The signal numbers: SIGRTMIN+0 (timer IRQ), +1 (IPI), +2 (NMI).
int TimerSignal();
int IpiSignal();
int NmiSignal();

// What a vCPU thread's handlers write. Plain data the thread owns; the
// handlers use relaxed atomics so the coordinator can read the counters.
struct SignalState {
  std::atomic<uint32_t> raw{0};
  // CLOCK_MONOTONIC ns of the first signal not yet taken, per raw bit
  // (interrupt latency = take time - arrival).
  std::atomic<uint64_t> arrival_ns[3] = {};
  std::atomic<uint64_t> timer_signals{0};
  std::atomic<uint64_t> timer_overruns{0};  // expirations merged by the kernel
  std::atomic<uint64_t> ipi_signals{0};
  std::atomic<uint64_t> nmi_signals{0};
  std::atomic<uint64_t> merged{0};  // signals that found their bit already set
};

// Installs the three handlers (idempotent, process-wide). The NMI handler
// blocks the timer and IPI signals while it runs (its sa_mask), as an NMI
// is not interrupted by IRQs. Returns false (and sets errno) on failure.
bool InstallSignalHandlers();

// Binds the calling thread's handlers to state (nullptr unbinds). A signal
// that reaches an unbound thread is ignored.
void BindSignalState(SignalState* state);

// The calling thread's kernel thread id.
pid_t CurrentTid();

// Sends the IPI signal to thread tid of this process.
bool SendIpiSignal(pid_t tid);

// A POSIX timer (CLOCK_MONOTONIC) that signals the thread that created it
// (SIGEV_THREAD_ID).
class ThreadTimer {
 public:
  ThreadTimer() = default;
  ~ThreadTimer();
  ThreadTimer(const ThreadTimer&) = delete;
  ThreadTimer& operator=(const ThreadTimer&) = delete;

  // Creates the timer for the calling thread; false on failure.
  bool Create(int signo);
  // Periodic with period_ns, first expiry after first_ns (0 disarms).
  bool Arm(uint64_t period_ns, uint64_t first_ns);
  void Disarm() { (void)Arm(0, 0); }
  void Destroy();
  bool created() const { return created_; }

 private:
  timer_t timer_{};
  bool created_ = false;
};

// CLOCK_MONOTONIC in ns (async-signal-safe).
uint64_t MonotonicNs();

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_SIGNALS_H_
