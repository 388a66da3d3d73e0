// The stress runner: one OS thread per vCPU against one shared World (the
// allocator model, the test locks, lockdep and the invariants), with real
// interrupts:
//
//   timer IRQ  a POSIX per-thread timer per vCPU (SIGEV_THREAD_ID,
//              CLOCK_MONOTONIC) at a configurable rate, its period
//              re-jittered every round;
//   IPI        a vCPU sends another a signal (tgkill): a call-function
//              hardirq (TLB-flush-like work) or work the target runs in task
//              context (a remote pcp drain, as queue_work_on() + kworker);
//   NMI        a third signal on its own per-thread timer. Masking never
//              blocks it.
//
// Where interrupts land. A signal handler only sets a bit (signals.h). The
// vCPU takes the interrupt at its next interrupt point: an injection point
// of the model (the only places the model lets an interrupt in, and the
// only places a program can name) or the boundary between two ops. There,
// as in the executor, the emulated CPU decides: an NMI always enters (unless
// already in NMI); a hardirq enters unless interrupts are disabled; a
// masked one is latched and runs when the model re-enables interrupts
// (soft masking with replay on re-enable; see docs/stress.md for the
// measured cost against a real signal mask). So the model never runs inside
// a signal handler, nothing the harness owns is ever reentered, and every
// placement is one a program can express: that is what makes a stress
// finding replayable.
//
// Cross-vCPU waits (Hooks::Wait) spin briefly and return so the lock code
// retries. A vCPU that can never make progress (Hooks::Hang: it spins on a
// lock its own interrupted frame holds) parks: it jumps back to the top of
// its thread and the coordinator ends the run. A watchdog turns a vCPU that
// completes no op for watchdog_s (a real deadlock or livelock) into a
// finding with every vCPU's state.
//
// The run is cut into rounds; the vCPUs meet at the end of each (nothing is
// held then), where the coordinator checks the model's invariants and
// collects new findings. Each finding gets the recorded program of the round
// it appeared in (and of a few rounds before it), replayable with the
// deterministic executor (replay.h).
#ifndef REENTRY_STRESS_RUNNER_H_
#define REENTRY_STRESS_RUNNER_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/finding.h"
#include "allocator/ctx/types.h"
#include "allocator/exec/executor.h"
#include "allocator/prog/program.h"
#include "stress/replay.h"
#include "stress/stats.h"
#include "stress/workload.h"

namespace reentry::stress {

struct StressOptions {
  uint64_t seed = 1;
  double duration_s = 10;
  ctx::Config config;  // nr_cpus, PREEMPT_RT, SMP, ...; concurrent forced
  BugSet bugs;
  bool lockdep = true;
  WorkloadOptions workload;  // kind, round_ops, invalid gfp share, ...
  double irq_rate = 10000;   // timer IRQs per second per vCPU (0: none)
  double nmi_rate = 500;     // NMIs per second per vCPU (0: none)
  double ipi_rate = 500;     // IPIs per second each vCPU sends (0: none)
  double jitter = 0.25;      // +- share of each period, redrawn per round
  double watchdog_s = 10;    // no op completed for this long: a finding
  // The model's invariants are checked at round barriers: every N rounds
  // if invariants_every > 0, else at most every invariants_period_s (a
  // full check walks every page: checking every short round would halve
  // the op rate). Both 0: never. Always at the last round.
  int invariants_every = 0;
  double invariants_period_s = 0.01;
  bool stop_on_finding = false;  // end the run at the first bug finding
  uint64_t max_rounds = 0;       // 0: until duration_s
  int history_rounds = 4;        // rounds kept for replays (>= 1)
  // Every N rounds the run continues with a fresh model set up with the
  // persistent ops so far (a registered shrinker, offlined memory), as a
  // replay starts: the replay of the rounds since then starts from the
  // run's state. At most history_rounds; kFreshEveryHistory (the default):
  // history_rounds. 0: one model for the whole run, which ages, and whose
  // replays start from a fresh model, not the run's state (docs/stress.md,
  // "Record and replay").
  static constexpr int kFreshEveryHistory = -1;
  int fresh_every = kFreshEveryHistory;
  // vCPU threads run model code in parallel. Off (the default), one vCPU
  // at a time runs it, switching at points and op ends after a short time
  // slice: a run is then exactly a sequence of stretches of model code
  // between points, which the recorded program replays. On, stretches
  // overlap and a replay orders them by time, approximately; for TSan,
  // which sees races only between code that runs in parallel.
  bool parallel = false;
  // Pin vCPU thread c to host CPU c % nproc: its timers then always fire
  // on the CPU it runs on. Off by default: on a shared machine the kernel's
  // load balancing does better.
  bool pin_threads = false;
  // Re-draw the timer periods (jitter) at most this often.
  double rejitter_s = 0.01;
  bool progress = false;  // live progress line
  FILE* progress_out = stderr;
  // If not empty: on a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT: a
  // model or harness bug), stop the vCPUs, write the current round's
  // recorded program there (best effort: the process is dying), then die
  // of the signal. Only for processes that own those signals (not inside a
  // fuzzer).
  std::string crash_program_path;
  // Test hook (exactness checks): keep up to this many replay windows, each
  // the rounds of one model from its start with the run's order of point
  // arrivals; the first window, then those in which a vCPU took an
  // interrupt at a retry of rt_spin_lock's wait loop.
  int keep_windows = 0;
};

// A replay window kept by StressOptions::keep_windows.
struct ReplayWindow {
  std::string program;  // the recorded program of the window's rounds
  size_t preamble = 0;  // its first ops: the preamble (not in `points`)
  // Every point arrival the run logged in the window, in the order they
  // ran, as the executor records a replay's (RunOptions::record_points).
  std::vector<exec::PointArrival> points;
  uint64_t retry_irqs = 0;  // interrupts taken at rt_spin_lock retries
};

// One distinct finding (by title) and what it takes to reproduce it.
struct StressFinding {
  Finding finding;
  std::string title;
  std::string summary;
  std::string report;  // lockdep-shaped text
  bool warning = false;
  uint64_t round = 0;
  uint64_t occurrences = 1;
  double at_s = 0;         // seconds into the run
  std::string vcpu_state;  // every vCPU's state (hangs, watchdog)
  // Replay candidates, shortest history first: program texts.
  std::vector<std::string> candidates;
  std::vector<ReplayStats> candidate_stats;
  // Filled by VerifyReplays(): the first candidate whose program reproduces
  // the title under the executor (-1: none did), and its text.
  int reproduced_by = -1;
  bool verified = false;
  std::string program;
  std::string minimized;  // filled by the caller (reentry minimize)
};

struct RateFigures {
  double timer_per_s = 0;  // delivered timer signals per second per vCPU
  double nmi_per_s = 0;
  double ipi_per_s = 0;
  double irqs_run_per_s = 0;  // interrupt handlers run per second per vCPU
};

struct StressResult {
  StressOptions options;
  double elapsed_s = 0;
  uint64_t rounds = 0;
  uint64_t ops = 0;
  bool ended_by_finding = false;
  bool ended_by_watchdog = false;
  bool ended_by_hang = false;
  bool threads_stuck = false;  // a vCPU thread never came back (leaked)
  std::string setup_error;     // non-empty: the run could not start
  int nr_cpus = 0;
  std::vector<RateFigures> per_cpu;  // measured rates
  std::vector<uint64_t> timer_signals, timer_overruns, nmi_signals, ipi_signals,
      merged_signals;
  VcpuStats* total = nullptr;  // merged stats (owned)
  std::vector<std::string> lock_class_names;
  std::vector<StressFinding> findings;
  uint64_t reports_dropped = 0;
  uint64_t invariant_checks = 0;
  uint64_t lockdep_events_dropped = 0;
  std::vector<ReplayWindow> windows;  // StressOptions::keep_windows
  uint64_t retry_irqs = 0;  // interrupts taken at rt_spin_lock retries

  StressResult() = default;
  StressResult(StressResult&& o) noexcept;
  StressResult& operator=(StressResult&& o) noexcept;
  ~StressResult();

  size_t bugs() const;
  size_t warnings() const;
};

// Runs a stress campaign. Never hangs on a model deadlock (the watchdog ends
// it); returns when the duration is over or, with stop_on_finding, at the
// first bug.
StressResult RunStress(const StressOptions& options);

// Replays every finding's candidates with the deterministic executor (as
// `reentry repro` does) and records which reproduces its title.
void VerifyReplays(StressResult* result);

// "seed=1 cpus=2 workload=mm irq=20000/s nmi=500/s ipi=500/s ..."
std::string DescribeOptions(const StressOptions& o);

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_RUNNER_H_
