// What real interrupts cost on this machine, and how many a stress run
// sustains:
//
//   1. a delivered timer IRQ: a POSIX per-thread timer (SIGEV_THREAD_ID) at
//      a fixed period against a thread doing a fixed amount of work; the
//      thread CPU time it costs beyond the work, divided by the signals it
//      took, is the cost of one (the same for an IPI signal sent by another
//      thread, and for a signal a thread sends itself). CPU time, not wall
//      time: other processes on a shared machine do not inflate it;
//   2. the masking mechanism: a local_irq_save()/local_irq_restore() pair on
//      an emulated CPU with the runner's hook (soft masking: a flag, plus a
//      look at the pending list on re-enable) against a pthread_sigmask()
//      block/unblock pair (a real signal mask), and how many hardirqs-off
//      transitions an op of the mm workload makes, i.e. what a real mask
//      would add per op;
//   3. how much CPU two busy threads get on this machine right now (other
//      processes compete for the same cores);
//   4. the stress runner end to end on 2 vCPUs with the mm workload: timer
//      IRQ rates from 0 up; per rate, the timer signals delivered, the
//      expirations the kernel merged (timer overruns: the thread was not
//      running), the timer IRQs the vCPUs took (a signal that finds the
//      previous one not yet taken merges with it), the CPU share the vCPU
//      threads got, and the ops/s that continue. The highest rate delivered at
//      >= 90% while ops continue at >= 25% of the rate without interrupts
//      is "sustained".
//
// Usage: stress_benchmark [--quick] [--seconds=S] [--max-rate=N]
//                         [--full-workload]
// (--quick: shorter runs, for a smoke test; --full-workload: CMA and
// hotplug too).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "allocator/ctx/kernel.h"
#include "stress/runner.h"
#include "stress/signals.h"

namespace reentry::stress {
namespace {

// ---- 1. raw signal costs ----

volatile uint64_t g_sink = 0;

uint64_t ClockNs(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}
uint64_t ThreadCpuNs() { return ClockNs(CLOCK_THREAD_CPUTIME_ID); }
uint64_t ProcessCpuNs() { return ClockNs(CLOCK_PROCESS_CPUTIME_ID); }

struct Cost {
  double per_signal_us = 0;  // median time a delivered signal takes away
  double min_us = 0;
  double delivered_per_s = 0;
};

// A thread reads the clock in a tight loop (vDSO, tens of ns per read); a
// gap longer than kGapNs is time the thread did not run its loop: a
// delivered signal (kernel entry, delivery, handler, sigreturn), a host
// interrupt, or preemption by another process. With signals arriving every
// period, most gaps are signals: the median gap is the cost of one, and
// preemptions (much longer) do not move it. Gaps without signals are
// counted too, for reference.
constexpr uint64_t kGapNs = 700;

struct Gaps {
  std::vector<uint64_t> len;
  uint64_t signals = 0;
  double seconds = 0;
};

Gaps Watch(double seconds, std::atomic<uint64_t>* counter) {
  Gaps g;
  g.len.reserve(1 << 20);
  const uint64_t c0 = counter->load();
  const uint64_t t0 = MonotonicNs();
  const uint64_t end = t0 + static_cast<uint64_t>(seconds * 1e9);
  uint64_t prev = t0;
  while (prev < end) {
    const uint64_t now = MonotonicNs();
    if (now - prev > kGapNs && g.len.size() < g.len.capacity()) {
      g.len.push_back(now - prev);
    }
    prev = now;
  }
  g.signals = counter->load() - c0;
  g.seconds = double(prev - t0) / 1e9;
  return g;
}

Cost CostFrom(Gaps g) {
  Cost c;
  c.delivered_per_s = g.seconds > 0 ? double(g.signals) / g.seconds : 0;
  if (g.len.empty()) return c;
  std::sort(g.len.begin(), g.len.end());
  c.per_signal_us = double(g.len[g.len.size() / 2]) / 1e3;
  c.min_us = double(g.len[0]) / 1e3;
  return c;
}

Cost TimerCost(uint64_t period_ns, double seconds) {
  SignalState st;
  BindSignalState(&st);
  ThreadTimer t;
  if (!t.Create(TimerSignal())) return Cost{};
  t.Arm(period_ns, period_ns);
  Gaps g = Watch(seconds, &st.timer_signals);
  t.Disarm();
  BindSignalState(nullptr);
  return CostFrom(std::move(g));
}

// Gaps per second with no signal armed (host interrupts, preemption).
double QuietGapsPerSecond(double seconds) {
  std::atomic<uint64_t> none{0};
  const Gaps g = Watch(seconds, &none);
  return g.seconds > 0 ? double(g.len.size()) / g.seconds : 0;
}

Cost IpiCost(uint64_t period_ns, double seconds) {
  SignalState st;
  BindSignalState(&st);
  const pid_t tid = CurrentTid();
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    uint64_t next = MonotonicNs();
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t now = MonotonicNs();
      if (now >= next) {
        SendIpiSignal(tid);
        next += period_ns;
      }
    }
  });
  Gaps g = Watch(seconds, &st.ipi_signals);
  stop = true;
  sender.join();
  BindSignalState(nullptr);
  return CostFrom(std::move(g));
}

// ---- 3. contention ----

// The share of a core each of two spinning threads gets (1.0: a core each).
double TwoThreadCpuShare(double seconds) {
  std::atomic<bool> stop{false};
  uint64_t cpu[2] = {};
  auto spin = [&](int i) {
    const uint64_t t0 = ThreadCpuNs();
    while (!stop.load(std::memory_order_relaxed)) g_sink = g_sink + 1;
    cpu[i] = ThreadCpuNs() - t0;
  };
  const uint64_t w0 = MonotonicNs();
  std::thread a(spin, 0), b(spin, 1);
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
  stop = true;
  a.join();
  b.join();
  const double wall = double(MonotonicNs() - w0);
  return (double(cpu[0]) + double(cpu[1])) / 2 / wall;
}

double SelfSignalUs(int n) {
  SignalState st;
  BindSignalState(&st);
  const pid_t tid = CurrentTid();
  const uint64_t t0 = MonotonicNs();
  for (int i = 0; i < n; ++i) SendIpiSignal(tid);
  const uint64_t t1 = MonotonicNs();
  BindSignalState(nullptr);
  return double(t1 - t0) / n / 1e3;
}

// ---- 2. masking ----

// The runner's IrqsEnabled hook does exactly this when nothing is pending:
// a look at the pending list.
class SoftMaskHooks : public ctx::Hooks {
 public:
  void InjectionPoint(ctx::Cpu&, ctx::PointId) override {}
  void IrqsEnabled(ctx::Cpu&) override {
    if (pending_ != 0) g_sink = g_sink + 1;
  }
  void SoftirqsMayRun(ctx::Cpu&) override {}
  void Wait(ctx::Cpu&, const void*, ctx::LockClassId, int) override {}
  [[noreturn]] void Hang(ctx::Cpu&) override { abort(); }
  volatile int pending_ = 0;
};

double SoftMaskPairNs(int n) {
  ctx::Config cfg;
  cfg.concurrent = true;
  ctx::Kernel k(cfg);
  SoftMaskHooks hooks;
  k.SetHooks(&hooks);
  ctx::Cpu& cpu = k.cpu(0);
  ctx::set_this_cpu(&cpu);
  const uint64_t t0 = MonotonicNs();
  for (int i = 0; i < n; ++i) {
    const ctx::IrqFlags f = cpu.local_irq_save();
    cpu.local_irq_restore(f);
  }
  const uint64_t t1 = MonotonicNs();
  ctx::set_this_cpu(nullptr);
  return double(t1 - t0) / n;
}

double SigmaskPairNs(int n) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, TimerSignal());
  sigaddset(&s, IpiSignal());
  const uint64_t t0 = MonotonicNs();
  for (int i = 0; i < n; ++i) {
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
    pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
  }
  return double(MonotonicNs() - t0) / n;
}

// ---- 3. stress end to end ----

struct RatePoint {
  double requested = 0;
  double delivered = 0;  // timer signals per s per vCPU (mean)
  double overruns = 0;   // timer expirations merged per s per vCPU
  double taken = 0;      // timer IRQs the vCPUs took per s per vCPU (mean)
  double cpu_share = 0;  // CPU time of the process / (wall * vCPUs)
  double cpu_s = 0;      // CPU time of the process during the run
  double ops_per_s = 0;
  double irqs_off_per_op = 0;
  double points_per_op = 0;
};

bool g_full_workload = false;

RatePoint RunAt(double rate, double seconds, uint64_t seed) {
  StressOptions o;
  o.seed = seed;
  o.duration_s = seconds;
  o.config.nr_cpus = 2;
  o.workload.kind = WorkloadKind::kMm;
  // CMA and hotplug are slow ops (isolation, migration, a full drain) that
  // measure the model more than interrupt delivery: out unless asked.
  o.workload.cma = g_full_workload;
  o.workload.hotplug = g_full_workload;
  o.irq_rate = rate;
  o.nmi_rate = 0;
  o.ipi_rate = 0;
  o.watchdog_s = 30;
  o.invariants_period_s = 0.01;
  const uint64_t cpu0 = ProcessCpuNs();
  StressResult r = RunStress(o);
  const uint64_t cpu1 = ProcessCpuNs();
  RatePoint p;
  p.requested = rate;
  if (!r.setup_error.empty() || r.nr_cpus == 0) return p;
  for (const RateFigures& f : r.per_cpu) {
    p.delivered += f.timer_per_s / r.nr_cpus;
  }
  if (r.elapsed_s > 0) {
    for (uint64_t n : r.timer_overruns) {
      p.overruns += double(n) / r.elapsed_s / r.nr_cpus;
    }
    p.taken = double(r.total->irqs[static_cast<int>(IrqSource::kTimer)].get()) /
              r.elapsed_s / r.nr_cpus;
    p.cpu_s = double(cpu1 - cpu0) / 1e9;
    p.cpu_share = p.cpu_s / r.elapsed_s / r.nr_cpus;
  }
  p.ops_per_s = r.elapsed_s > 0 ? double(r.ops) / r.elapsed_s : 0;
  if (r.ops) {
    p.irqs_off_per_op = double(r.total->irqs_off) / double(r.ops);
    p.points_per_op = double(r.total->points) / double(r.ops);
  }
  return p;
}

std::string LoadAverage() {
  FILE* f = fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[128] = {};
  if (fgets(buf, sizeof(buf), f) == nullptr) buf[0] = '\0';
  fclose(f);
  std::string s(buf);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

int Main(int argc, char** argv) {
  bool quick = false;
  double seconds = 3;
  double max_rate = 60000;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
      seconds = 0.5;
    } else if (strncmp(argv[i], "--seconds=", 10) == 0) {
      seconds = atof(argv[i] + 10);
    } else if (strcmp(argv[i], "--full-workload") == 0) {
      g_full_workload = true;
    } else if (strncmp(argv[i], "--max-rate=", 11) == 0) {
      max_rate = atof(argv[i] + 11);
    } else {
      fprintf(stderr,
              "usage: %s [--quick] [--seconds=S] [--max-rate=N] "
              "[--full-workload]\n",
              argv[0]);
      return 2;
    }
  }
  if (!InstallSignalHandlers()) {
    perror("sigaction");
    return 1;
  }
  printf("machine: %ld CPUs online, load average %s\n",
         sysconf(_SC_NPROCESSORS_ONLN), LoadAverage().c_str());
  printf(
      "(signals reach a thread only while it runs: on a loaded machine the "
      "delivered rates fall with the CPU share the threads get)\n\n");
  printf("== 1. what a delivered interrupt costs the interrupted thread\n");
  const double raw_s = quick ? 0.3 : 1.0;
  printf(
      "(median gap a signal makes in a thread that reads the clock in a "
      "loop; without signals there are %.0f gaps/s)\n",
      QuietGapsPerSecond(raw_s));
  for (uint64_t period : {100000ull, 50000ull}) {
    const Cost c = TimerCost(period, raw_s);
    printf("timer IRQ (per-thread POSIX timer, period %3" PRIu64
           " us): %6.2f us per delivered IRQ (min %.2f; %.0f delivered/s)\n",
           period / 1000, c.per_signal_us, c.min_us, c.delivered_per_s);
  }
  const Cost ipi = IpiCost(50000, raw_s);
  printf(
      "IPI (tgkill from another thread, every 50 us):   %6.2f us per "
      "delivered IPI (min %.2f; %.0f delivered/s)\n",
      ipi.per_signal_us, ipi.min_us, ipi.delivered_per_s);
  printf("signal a thread sends itself: %6.2f us\n", SelfSignalUs(20000));

  printf("\n== 2. what masking costs\n");
  const int n = quick ? 200000 : 2000000;
  const double soft = SoftMaskPairNs(n);
  const double sigmask = SigmaskPairNs(n / 10);
  printf(
      "soft mask (local_irq_save+restore on the emulated CPU, runner "
      "hook): %7.1f ns per pair\n",
      soft);
  printf(
      "real mask (pthread_sigmask block+unblock):                      "
      "%7.1f ns per pair\n",
      sigmask);

  printf("\n== 3. what the machine gives two busy threads now\n");
  const double share2 = TwoThreadCpuShare(quick ? 0.3 : 1.0);
  printf(
      "CPU share of each of two spinning threads: %.0f%% of a core (100%%: "
      "a core each; less: other processes compete)\n",
      100 * share2);

  printf("\n== 4. stress, 2 vCPUs, mm workload, timer IRQs only\n");
  printf("%10s %11s %10s %11s %6s %10s %7s %9s %7s\n", "requested",
         "delivered/s", "overrun/s", "taken/s", "CPU", "ops/s", "ops %",
         "irqs-off", "points");
  printf("%10s %11s %10s %11s %6s %10s %7s %9s %7s\n", "/s/vCPU", "/vCPU",
         "/vCPU", "/vCPU", "share", "", "of idle", "/op", "/op");
  std::vector<double> rates = {0,     5000,  10000, 20000, 30000,
                               40000, 50000, 60000, 80000};
  if (quick) rates = {0, 20000};
  RatePoint base;
  double sustained = 0;
  RatePoint best;
  RatePoint at20k;
  for (double rate : rates) {
    if (rate > max_rate) break;
    const RatePoint p = RunAt(rate, seconds, 12345);
    if (rate == 0) base = p;
    const double share = base.ops_per_s > 0 ? p.ops_per_s / base.ops_per_s : 0;
    printf("%10.0f %11.0f %10.0f %11.0f %5.0f%% %10.0f %6.0f%% %9.2f %7.2f\n",
           rate, p.delivered, p.overruns, p.taken, 100 * p.cpu_share,
           p.ops_per_s, 100 * share, p.irqs_off_per_op, p.points_per_op);
    fflush(stdout);
    if (rate == 20000) at20k = p;
    if (rate > 0 && p.delivered >= 0.9 * rate && share >= 0.25) {
      sustained = rate;
    }
    if (rate > 0 && share >= 0.25 && p.delivered > best.delivered) best = p;
    if (rate == 0) {
      printf(
          "%10s -> a real signal mask would add %.2f us per op (%.2f "
          "irq-off transitions x %.0f ns), the soft mask %.3f us\n",
          "", p.irqs_off_per_op * sigmask / 1e3, p.irqs_off_per_op, sigmask,
          p.irqs_off_per_op * soft / 1e3);
    }
  }
  if (base.ops_per_s > 0 && at20k.delivered > 0 && at20k.ops_per_s > 0) {
    // CPU time per op without interrupts, charged to the ops done at 20k/s;
    // the rest of the CPU time went to the interrupts.
    const double ops = at20k.ops_per_s * seconds;
    const double extra_s =
        at20k.cpu_s - ops * base.cpu_s / (base.ops_per_s * seconds);
    const double irqs = at20k.delivered * 2 * seconds;
    printf(
        "\nend-to-end CPU cost of a delivered timer IRQ in stress at "
        "20000/s (signal + take at an interrupt point + handler): %.2f us\n",
        extra_s * 1e6 / irqs);
  }
  printf(
      "highest sustained timer IRQ rate (>= 90%% delivered, ops >= 25%% "
      "of idle): %.0f per second per vCPU on 2 vCPUs\n",
      sustained);
  printf(
      "highest timer IRQ rate delivered while ops continue at >= 25%% of "
      "idle: %.0f per second per vCPU (requested %.0f, vCPU threads got "
      "%.0f%% of a core each: %.0f per second of a vCPU's CPU time)\n",
      best.delivered, best.requested, 100 * best.cpu_share,
      best.cpu_share > 0 ? best.delivered / best.cpu_share : 0);
  printf("load average at the end: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace reentry::stress

int main(int argc, char** argv) { return reentry::stress::Main(argc, argv); }
