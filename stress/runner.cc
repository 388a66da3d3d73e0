#include "stress/runner.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <variant>

#include "allocator/base/check.h"
#include "allocator/base/fixed_vector.h"
#include "allocator/ctx/alloc_stats.h"
#include "allocator/exec/executor.h"
#include "allocator/exec/interpreter.h"
#include "allocator/exec/wait_cycle.h"
#include "allocator/exec/world.h"
#include "allocator/lockdep/lockdep.h"
#include "allocator/prog/text.h"
#include "allocator/report/report.h"
#include "stress/signals.h"

namespace reentry::stress {
namespace {

using ctx::ContextKind;
using ctx::Cpu;
using ctx::PointId;
using prog::Op;

constexpr int kMaxHistory = 8;
constexpr uint32_t kIpiCall = 1;
constexpr uint32_t kIpiWork = 2;
constexpr int kSourceRaised = 3;  // a softirq raised by a handler body

enum VState : int { kStarting, kRunning, kAtBarrier, kParked, kExited };

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

void FutexWait(std::atomic<uint32_t>* word, uint32_t val, uint64_t timeout_ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(timeout_ns / 1000000000ull);
  ts.tv_nsec = static_cast<long>(timeout_ns % 1000000000ull);
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),
                FUTEX_WAIT_PRIVATE, val, &ts, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(word),
                FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

// Where a vCPU is, published for the others (hand-offs, the state dump):
// op slot (20 bits), counting segment of the slot (12), point (16), arrival
// of the point (16).
uint64_t PackPos(uint32_t op, uint32_t seg, PointId p, uint32_t nth) {
  return (uint64_t{std::min<uint32_t>(op, 0xfffff)} << 44) |
         (uint64_t{std::min<uint32_t>(seg, 0xfff)} << 32) |
         (uint64_t{static_cast<uint16_t>(p)} << 16) |
         std::min<uint32_t>(nth, 0xffff);
}
uint32_t PosOp(uint64_t pos) { return static_cast<uint32_t>(pos >> 44); }
uint32_t PosSeg(uint64_t pos) {
  return static_cast<uint32_t>((pos >> 32) & 0xfff);
}
PointId PosPoint(uint64_t pos) {
  return static_cast<PointId>((pos >> 16) & 0xffff);
}
uint32_t PosNth(uint64_t pos) { return static_cast<uint32_t>(pos & 0xffff); }

int ContextIndex(ContextKind k) {
  switch (k) {
    case ContextKind::kSoftirq:
      return 1;
    case ContextKind::kHardirq:
      return 2;
    case ContextKind::kNmi:
      return 3;
    default:
      return 0;
  }
}

struct PendingIrq {
  ContextKind kind;
  const std::vector<Op>* body;
  int source;  // IrqSource, or kSourceRaised
};

struct ArmedIrq {
  ContextKind kind;
  PointId point;
  uint8_t remaining;
  const std::vector<Op>* body;
};

struct AllocFrame {
  uint64_t ok0, fail0, nested_ok, nested_fail;
};

class Runner;

struct Vcpu : public exec::OpHost {
  Runner* runner = nullptr;
  int id = 0;
  Cpu* cpu = nullptr;
  VcpuStats* stats = nullptr;

  SignalState sig;
  ThreadTimer timer;
  ThreadTimer nmi_timer;
  std::thread thread;
  sigjmp_buf top;

  Rng handler_rng{0};
  Rng ipi_rng{0};
  Rng jitter_rng{0};
  exec::OpLocals locals;
  exec::RunResult result;
  FixedVector<PendingIrq, 32> pending;
  FixedVector<ArmedIrq, 32> armed;
  uint64_t dropped_irqs = 0;
  uint32_t arrivals[ctx::kNumPoints] = {};
  // The same, counted when the interrupts taken at the point have run (the
  // executor's count for pauses).
  uint32_t stop_arrivals[ctx::kNumPoints] = {};
  uint32_t attach_op = 0;
  // Counting segment of attach_op's slot: an op slot has one; the slot after
  // the round's last op one per interrupt taken while idle.
  uint32_t seg = 0;
  uint32_t top_index = 0;
  RoundLog logs[kMaxHistory];
  RoundLog* log = nullptr;
  std::vector<StreamItem> items;
  // Persistent ops (IsPersistentOp) this vCPU ran: (round, start, op).
  struct Persistent {
    uint64_t round;
    uint64_t t;
    prog::Op op;
  };
  std::vector<Persistent> persistent;

  const void* wait_lock = nullptr;
  int wait_holder = -1;
  uint16_t wait_cls = 0;
  uint64_t wait_t0 = 0;
  uint32_t wait_spins = 0;
  // rt_spin_lock's wait loop passes its point on each retry, as often as
  // timing decides; the executor's waiter retries once each time the
  // program resumes it while the lock is still held. So a retry is an
  // arrival (counted, logged, a place for interrupts) only where the
  // replay resumes the waiter too: where it takes an interrupt (then the
  // wait that follows is logged again: the waiter blocks there in the
  // replay) or where the holder changed (logged with the new wait). The
  // other retries take no interrupt and count for nothing. The point
  // before the wait began, its arrival number, the context depth that
  // waits, whether this vCPU waited since its last point, and whether its
  // last retry went uncounted.
  PointId wait_point = PointId::kNone;
  uint32_t wait_point_nth = 0;
  int wait_depth = 0;
  bool waited = false;
  bool uncounted_retry = false;
  bool relog_wait = false;
  // Serialized: the executor retries a blocked waiter only after another
  // vCPU made progress (its epoch), so a retry counts only if progress_seq
  // moved since the wait was last logged (wait_progress). What the vCPU
  // logs in a counted retry (its interrupt, the wait again) is no
  // progress: the replay's waiter blocks on the same wait again.
  std::atomic<uint64_t>* progress_seq = nullptr;  // null with --parallel
  uint64_t wait_progress = 0;
  bool in_retry = false;
  // When this vCPU's first lock operation since its last point (or item
  // end) happened: the replay orders that stretch of model code by it
  // (with --parallel; serialized, event_seq numbers the stretches).
  uint64_t stretch_lock_t = 0;
  std::atomic<uint64_t>* event_seq = nullptr;  // null with --parallel
  // Serialized: per finding of the current model (in the kernel's order),
  // the number of the stretch it was reported in (Runner::report_seq_).
  std::vector<uint64_t>* report_seq = nullptr;
  // Serialized: this vCPU holds the model token (Runner::TakeToken), until
  // slice_end_ns if another vCPU wants it.
  bool has_token = false;
  uint64_t slice_end_ns = 0;
  Rng slice_rng{0};

  AllocFrame frames[16];
  int nframes = 0;
  uint64_t last_own_ok = 0;
  ctx::AllocFail fail_reason[ctx::kMaxContextDepth + 1] = {};
  bool fail_noted[ctx::kMaxContextDepth + 1] = {};

  uint64_t next_ipi_ns = 0;
  uint64_t next_rejitter_ns = 0;
  uint32_t work_pending = 0;
  int round_offline = -1;  // the vCPU CPU hotplug took out this round
  bool hung = false;
  bool idle_ok = false;  // between its round and the next: idle, nothing held

  // Read by other threads.
  std::atomic<pid_t> tid{0};
  std::atomic<uint64_t> pub_pos{0};
  std::atomic<uint64_t> progress{0};
  std::atomic<uint64_t> last_progress_ns{0};
  std::atomic<int> state{kStarting};
  std::atomic<int> waiting_for{-1};
  std::atomic<uint64_t> waiting_since{0};
  std::atomic<uint32_t> ipi_mail{0};
  // Taking an interrupt while idle at the barrier (the barrier work waits).
  std::atomic<bool> idle_irq{false};
  // Transfer slot: 0 empty, 1 full, 2 being freed.
  std::atomic<int> transfer{0};

  void OnInterruptOp(Cpu& c, const prog::Interrupt& irq,
                     uint32_t index) override;
  void OnPauseOp(Cpu& c, const prog::Pause& p, uint32_t index) override {
    ++stats->pauses_ignored;
  }
  void OnSkipped(Cpu& c, uint32_t index) override { stats->skipped.Inc(); }
};

__attribute__((tls_model("initial-exec"))) thread_local Vcpu* tls_vcpu =
    nullptr;

// Lockdep is not thread-safe: every event goes through one spinlock. No
// model code runs in a signal handler, so the lock is never reentered; the
// guard only protects against a bug in that rule (the event is dropped and
// counted instead of deadlocking).
class SerializedObserver : public ctx::Observer {
 public:
  explicit SerializedObserver(ctx::Observer* inner) : inner_(inner) {}
  void OnEvent(Cpu& cpu, const ctx::Event& e) override {
    static thread_local bool inside = false;
    if (inside) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    inside = true;
    while (lock_.exchange(true, std::memory_order_acquire)) {
      while (lock_.load(std::memory_order_relaxed)) CpuRelax();
    }
    inner_->OnEvent(cpu, e);
    lock_.store(false, std::memory_order_release);
    inside = false;
  }
  uint64_t dropped() const { return dropped_.load(); }
  void set_inner(ctx::Observer* inner) { inner_ = inner; }

 private:
  ctx::Observer* inner_;
  std::atomic<bool> lock_{false};
  std::atomic<uint64_t> dropped_{0};
};

// Stamps each vCPU's first lock operation of a stretch between points: two
// stretches that ran side by side meet at their locks, so the replay orders
// a stretch by its first lock operation (an acquisition attempt that waited
// comes before the holder's release), or by its end if it took none.
class StretchClock : public ctx::Observer {
 public:
  void OnEvent(Cpu& cpu, const ctx::Event& e) override {
    Vcpu* v = tls_vcpu;
    if (v != nullptr && v->cpu == &cpu && v->stretch_lock_t == 0) {
      v->stretch_lock_t = MonotonicNs();
    }
  }
  uint32_t interests() const override {
    return ctx::EventBit(ctx::EventKind::kLockAcquire) |
           ctx::EventBit(ctx::EventKind::kLockContended) |
           ctx::EventBit(ctx::EventKind::kLockRelease);
  }
};

// The order key of the stretch that ends now: serialized, the next event
// number (stretches never overlap); with --parallel see StretchClock.
uint64_t StretchKey(Vcpu& v) {
  if (v.event_seq != nullptr) {
    const uint64_t seq =
        v.event_seq->fetch_add(1, std::memory_order_relaxed) + 1;
    if (!v.in_retry) v.progress_seq->fetch_add(1, std::memory_order_relaxed);
    const uint32_t n = v.cpu->kernel().reports_stored();
    while (v.report_seq->size() < n) v.report_seq->push_back(seq);
    return seq;
  }
  const uint64_t now = MonotonicNs();
  const uint64_t t = v.stretch_lock_t != 0 ? v.stretch_lock_t : now;
  v.stretch_lock_t = 0;
  return t;
}

// An op's or interrupt's entry: serialized, the number of the last stretch
// closed before it (it runs in the next one); with --parallel its time.
uint64_t ItemKey(const Vcpu& v, uint64_t now) {
  if (v.event_seq == nullptr) return now;
  return v.event_seq->load(std::memory_order_relaxed);
}

void LogEnd(Vcpu& v, uint32_t op) {
  if (v.log == nullptr) return;
  LogEntry e;
  e.kind = LogEntry::Kind::kEnd;
  e.op = op;
  e.seg = static_cast<uint16_t>(std::min<uint32_t>(v.seg, 0xfff));
  e.t = StretchKey(v);
  v.log->entries.push_back(e);
}

class Runner;
std::atomic<Runner*> g_crash_runner{nullptr};
void CrashHandler(int sig, siginfo_t*, void*);

class Runner : public ctx::Hooks, public ctx::AllocStatsSink {
 public:
  explicit Runner(const StressOptions& o) : o_(o) {}

  // Called from the crash handler: best effort, the process is dying.
  void DumpCrash(int sig);

  StressResult Run();

  // ---- ctx::Hooks ----
  void InjectionPoint(Cpu& cpu, PointId point) override;
  void IrqsEnabled(Cpu& cpu) override {
    if (Vcpu* v = Mine(cpu)) DeliverPending(*v);
  }
  void SoftirqsMayRun(Cpu& cpu) override {
    if (Vcpu* v = Mine(cpu)) DeliverPending(*v);
  }
  void Wait(Cpu& cpu, const void* lock, ctx::LockClassId cls,
            int holder) override;
  [[noreturn]] void Hang(Cpu& cpu) override;

  // ---- ctx::AllocStatsSink ----
  void OnAllocFail(Cpu& cpu, ctx::AllocFail reason) override {
    Vcpu* v = Mine(cpu);
    if (v == nullptr) return;
    const int d = std::min(cpu.depth(), ctx::kMaxContextDepth);
    v->fail_reason[d] = reason;
    v->fail_noted[d] = true;
    // A lost trylock met another vCPU's lock as an acquisition does (the
    // lock layer has no event for it): it orders the stretch too.
    if ((reason == ctx::AllocFail::kPcpBusy ||
         reason == ctx::AllocFail::kZoneBusy) &&
        v->stretch_lock_t == 0) {
      v->stretch_lock_t = MonotonicNs();
    }
  }

  void Deliver(Vcpu& v, const PendingIrq& irq);

 private:
  Vcpu* Mine(Cpu& cpu) {
    Vcpu* v = tls_vcpu;
    return v != nullptr && v->id == cpu.id() ? v : nullptr;
  }

  // ---- vCPU thread side ----
  void ThreadMain(Vcpu& v);
  void RunRounds(Vcpu& v);
  void EndRound(Vcpu& v, uint64_t round);
  void RunRound(Vcpu& v, uint64_t round);
  void RunItem(Vcpu& v, const StreamItem& it, uint32_t index);
  void BeforeOp(Vcpu& v);
  void BeginCounting(Vcpu& v);
  void RunTopOp(Vcpu& v, const Op& op, uint32_t stream_index);
  void RunOp(Vcpu& v, const Op& op, uint32_t index);
  void TakeRaw(Vcpu& v, PointId point, uint32_t nth, bool boundary);
  void TakeIdle(Vcpu& v, uint32_t gen);
  void Fire(Vcpu& v, const PendingIrq& irq);
  void DeliverPending(Vcpu& v);
  void MaybeSendIpi(Vcpu& v, uint64_t now);
  void ClearWait(Vcpu& v);
  void LogWait(Vcpu& v);
  void LogPoint(Vcpu& v, PointId point);
  void ArmTimers(Vcpu& v);
  [[noreturn]] void Abandon(Vcpu& v);
  void CheckAbandon(Vcpu& v) {
    if (abandon_.load(std::memory_order_relaxed)) Abandon(v);
  }
  void TakeToken(Vcpu& v);
  void DropToken(Vcpu& v);
  void MaybePassToken(Vcpu& v);

  // ---- coordinator side ----
  bool StartThreads(std::string* error);
  void StopThreads(bool abandon);
  void BarrierWork(uint64_t round, bool final_round);
  void CollectFindings(uint64_t round, const std::string& state_dump);
  bool Watchdog(uint64_t now);
  void Progress(uint64_t now, bool last);
  std::string DumpState();
  void AddCandidates(StressFinding* sf, uint64_t round, uint64_t last_event);
  std::vector<prog::Op> PreambleBefore(uint64_t round) const;
  uint64_t LockdepSignature() const;
  void ArchiveIfLockdepLearned(uint64_t round);
  void FillResult(StressResult* r);
  void MakeWorld();
  void FreshWorld(uint64_t round);
  void UpdateOccurrences();
  void KeepWindow(uint64_t last_round);

  StressOptions o_;
  int nr_ = 0;
  ctx::Config config_;
  std::unique_ptr<exec::World> world_;
  prog::Program decl_;  // the locks every world declares
  // The first round the current world ran (--fresh-every): a replay window
  // starts there or later, from a fresh model as the executor's.
  uint64_t world_round_ = 0;
  uint64_t reports_dropped_before_ = 0;  // by the worlds replaced
  std::unique_ptr<SerializedObserver> serialized_lockdep_;
  std::unique_ptr<StatsObserver> stats_observer_;
  StretchClock stretch_clock_;
  // Serialized mode (not --parallel): one vCPU at a time runs model code,
  // the token's owner; the others wait for it. A vCPU passes it on at a
  // point or an op end once its time slice is over and another vCPU wants
  // it, and always while it waits for a lock or at the barrier. So the
  // run is exactly a sequence of stretches between points, numbered by
  // event_seq_, which the replay reproduces.
  static constexpr uint32_t kNoOwner = ~0u;
  std::atomic<uint32_t> token_owner_{kNoOwner};  // a futex word
  std::atomic<uint64_t> token_waiting_{0};       // a bit per vCPU
  std::atomic<uint32_t> token_sleepers_{0};      // in FutexWait on it
  std::atomic<uint64_t> event_seq_{0};
  // Stretches that were progress in the executor's sense (Vcpu::in_retry).
  std::atomic<uint64_t> progress_seq_{0};
  // Per finding of the current model, the stretch it was reported in (or
  // the next stretch, if that vCPU hung): a replay needs nothing after it.
  std::vector<uint64_t> report_seq_;
  std::unique_ptr<HandlerCatalog> handlers_;
  std::vector<prog::LockDecl> locks_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::unique_ptr<VcpuStats[]> stats_;

  std::atomic<uint32_t> go_gen_{0};
  std::atomic<uint32_t> arrived_{0};
  std::atomic<uint64_t> round_to_run_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> abandon_{false};
  std::atomic<bool> hang_{false};
  std::atomic<uint32_t> coord_word_{0};  // the coordinator sleeps on it
  uint64_t end_ns_ = 0;

  uint64_t start_ns_ = 0;
  uint64_t last_progress_print_ = 0;
  uint64_t last_progress_ops_ = 0;
  std::atomic<uint64_t> rounds_done_{0};
  uint64_t invariant_checks_ = 0;
  uint64_t last_invariants_ns_ = 0;
  std::atomic<uint32_t> nr_bugs_{0};
  std::atomic<uint32_t> nr_warnings_{0};
  size_t seen_findings_ = 0;
  std::map<std::string, size_t> by_title_;
  // Rounds in which lockdep learned something (a new dependency or usage
  // bit): a lockdep finding may need them to replay, however old.
  static constexpr size_t kMaxArchive = 48;
  std::vector<std::vector<RoundLog>> archive_;
  uint64_t lockdep_signature_ = 0;
  std::vector<StressFinding> findings_;
  std::vector<ReplayWindow> windows_;  // StressOptions::keep_windows
  std::atomic<uint64_t> retry_irqs_{0};
  uint64_t retry_irqs_world_start_ = 0;  // retry_irqs_ when the world began
  std::atomic<bool> ended_by_finding_{false};
  bool ended_by_watchdog_ = false;
  bool threads_stuck_ = false;
  uint64_t ipi_period_ns_ = 0;
  sigjmp_buf coord_jmp_;
  bool coord_jmp_armed_ = false;
};

// ---------------------------------------------------------------------------
// vCPU thread side

void Vcpu::OnInterruptOp(Cpu& c, const prog::Interrupt& irq, uint32_t index) {
  if (irq.at.v == PointId::kNone) {
    runner->Deliver(*this, PendingIrq{irq.kind, &irq.body, kSourceRaised});
    return;
  }
  if (!armed.push_back(ArmedIrq{
          irq.kind, irq.at.v, static_cast<uint8_t>(irq.at.nth ? irq.at.nth : 1),
          &irq.body})) {
    ++dropped_irqs;
  }
}

void Runner::ThreadMain(Vcpu& v) {
  if (o_.pin_threads) {
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu > 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(static_cast<int>(v.id % ncpu), &set);
      (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
  }
  tls_vcpu = &v;
  ctx::set_this_cpu(v.cpu);
  BindSignalState(&v.sig);
  v.tid.store(CurrentTid(), std::memory_order_release);
  if (o_.irq_rate > 0) (void)v.timer.Create(TimerSignal());
  if (o_.nmi_rate > 0) (void)v.nmi_timer.Create(NmiSignal());
  v.state.store(kRunning, std::memory_order_release);
  if (sigsetjmp(v.top, 0) == 0) {
    RunRounds(v);
  }
  // Normal end, or parked: a hung vCPU, or the run was abandoned.
  v.timer.Destroy();
  v.nmi_timer.Destroy();
  BindSignalState(nullptr);
  ctx::set_this_cpu(nullptr);
  tls_vcpu = nullptr;
  v.state.store(kExited, std::memory_order_release);
  coord_word_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(&coord_word_);
}

void Runner::Abandon(Vcpu& v) {
  DropToken(v);
  v.idle_irq.store(false, std::memory_order_release);
  v.state.store(kParked, std::memory_order_release);
  siglongjmp(v.top, 1);
}

void Runner::TakeToken(Vcpu& v) {
  if (o_.parallel || v.has_token) return;
  const uint64_t bit = uint64_t{1} << v.id;
  token_waiting_.fetch_or(bit, std::memory_order_seq_cst);
  const uint32_t me = static_cast<uint32_t>(v.id);
  uint32_t spins = 0;
  for (;;) {
    uint32_t o = token_owner_.load(std::memory_order_acquire);
    if (o == me) break;  // handed over
    if (o == kNoOwner &&
        token_owner_.compare_exchange_weak(o, me, std::memory_order_acquire)) {
      break;
    }
    if (abandon_.load(std::memory_order_relaxed)) {
      token_waiting_.fetch_and(~bit, std::memory_order_seq_cst);
      uint32_t mine = me;  // handed over meanwhile: pass it on
      if (token_owner_.compare_exchange_strong(mine, kNoOwner)) {
        v.has_token = true;
        DropToken(v);
      }
      Abandon(v);
    }
    if (++spins < 2048) {
      CpuRelax();
      continue;
    }
    // The owner runs long or is descheduled: sleep rather than burn the
    // core it may need (DropToken wakes sleepers).
    token_sleepers_.fetch_add(1, std::memory_order_seq_cst);
    o = token_owner_.load(std::memory_order_seq_cst);
    if (o != me && o != kNoOwner) FutexWait(&token_owner_, o, 1000 * 1000);
    token_sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }
  token_waiting_.fetch_and(~bit, std::memory_order_relaxed);
  v.has_token = true;
  // 1-16 us: a few ops, then another vCPU's turn (if one wants it).
  v.slice_end_ns = MonotonicNs() + 1000 + v.slice_rng.Below(15000);
}

// To the next vCPU (after this one, round robin) that wants it, else free.
void Runner::DropToken(Vcpu& v) {
  if (!v.has_token) return;
  v.has_token = false;
  const uint64_t w =
      token_waiting_.load(std::memory_order_seq_cst) & ~(uint64_t{1} << v.id);
  uint32_t next = kNoOwner;
  for (int k = 1; w != 0 && k <= nr_; ++k) {
    const int c = (v.id + k) % nr_;
    if ((w >> c) & 1) {
      next = static_cast<uint32_t>(c);
      break;
    }
  }
  token_owner_.store(next, std::memory_order_seq_cst);
  if (token_sleepers_.load(std::memory_order_seq_cst) != 0) {
    FutexWakeAll(&token_owner_);
  }
}

void Runner::MaybePassToken(Vcpu& v) {
  if (!v.has_token) return;
  if ((token_waiting_.load(std::memory_order_relaxed) &
       ~(uint64_t{1} << v.id)) == 0) {
    return;
  }
  if (MonotonicNs() < v.slice_end_ns) return;
  DropToken(v);
  TakeToken(v);
}

void Runner::RunRounds(Vcpu& v) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    // Spin first: the others are usually a few microseconds behind, and a
    // futex sleep costs a wake-up (a halted vCPU in a VM) on every round.
    const uint64_t spin_until = MonotonicNs() + 1000 * 1000;
    uint32_t spins = 0;
    while ((g = go_gen_.load(std::memory_order_acquire)) == seen) {
      CheckAbandon(v);
      if (v.sig.raw.load(std::memory_order_relaxed) != 0) TakeIdle(v, seen);
      if ((++spins & 63) != 0 || MonotonicNs() < spin_until) {
        CpuRelax();
        continue;
      }
      FutexWait(&go_gen_, seen, 20 * 1000 * 1000);
    }
    seen = g;
    CheckAbandon(v);
    if (done_.load(std::memory_order_acquire)) return;
    v.state.store(kRunning, std::memory_order_relaxed);
    const uint64_t round = round_to_run_.load(std::memory_order_acquire);
    v.idle_ok = false;
    TakeToken(v);
    RunRound(v, round);
    DropToken(v);
    v.idle_ok = true;
    v.state.store(kAtBarrier, std::memory_order_release);
    // seq_cst: pairs with TakeIdle() (idle_irq, then arrived_).
    if (arrived_.fetch_add(1, std::memory_order_seq_cst) + 1 ==
        static_cast<uint32_t>(nr_)) {
      // The last vCPU to arrive does the barrier work while the others
      // wait: nobody runs model code now.
      EndRound(v, round);
    }
  }
}

// A vCPU waiting at the barrier is idle: it holds nothing (rounds are
// balanced), and as a CPU in its idle loop it takes interrupts; without
// this, the signals that arrive while it waits for a slower vCPU (one the
// host did not schedule) merge into one. The log places them after the
// round's last op, an op boundary the replay reproduces. Not on a CPU
// hotplug took out, and never while the barrier work runs: the last vCPU
// to arrive waits for idle_irq to clear (Dekker: idle_irq then arrived_
// here, arrived_ then idle_irq there, all seq_cst).
void Runner::TakeIdle(Vcpu& v, uint32_t gen) {
  if (!v.idle_ok || v.id == v.round_offline) return;
  v.idle_irq.store(true, std::memory_order_seq_cst);
  // 0: the barrier work is over and arrived_ reset (this vCPU had arrived):
  // the next round is starting, not an idle moment of this one. And not if
  // the next round began (go_gen_ moved on: this vCPU has not seen it yet):
  // the others may have arrived at its barrier already, and an interrupt
  // taken now belongs to that round (on the model the barrier work may
  // have replaced).
  const uint32_t a = arrived_.load(std::memory_order_seq_cst);
  if (a > 0 && a < static_cast<uint32_t>(nr_) &&
      go_gen_.load(std::memory_order_seq_cst) == gen) {
    TakeToken(v);
    BeginCounting(v);
    TakeRaw(v, PointId::kNone, 0, /*boundary=*/true);
    DropToken(v);
  }
  v.idle_irq.store(false, std::memory_order_release);
}

void Runner::EndRound(Vcpu& v, uint64_t round) {
  for (int c = 0; c < nr_; ++c) {
    while (vcpus_[c]->idle_irq.load(std::memory_order_seq_cst) &&
           !abandon_.load(std::memory_order_relaxed)) {
      CpuRelax();
    }
  }
  // Not as a vCPU: the invariants run with no current CPU, as in the
  // executor, and no interrupt is taken meanwhile.
  tls_vcpu = nullptr;
  ctx::set_this_cpu(nullptr);
  const uint64_t now = MonotonicNs();
  rounds_done_.store(round + 1, std::memory_order_relaxed);
  const bool last = now >= end_ns_ ||
                    (o_.max_rounds > 0 && round + 1 >= o_.max_rounds) ||
                    abandon_.load(std::memory_order_relaxed);
  BarrierWork(round, last);
  tls_vcpu = &v;
  ctx::set_this_cpu(v.cpu);
  const bool finish = last || ended_by_finding_.load();
  arrived_.store(0, std::memory_order_seq_cst);  // see TakeIdle()
  const uint64_t t = MonotonicNs();
  for (int c = 0; c < nr_; ++c) {
    vcpus_[c]->last_progress_ns.store(t, std::memory_order_relaxed);
  }
  if (finish) {
    done_.store(true, std::memory_order_release);
  } else {
    round_to_run_.store(round + 1, std::memory_order_release);
  }
  go_gen_.fetch_add(1, std::memory_order_acq_rel);
  FutexWakeAll(&go_gen_);
  if (finish) {
    coord_word_.fetch_add(1, std::memory_order_release);
    FutexWakeAll(&coord_word_);
  }
}

void Runner::ArmTimers(Vcpu& v) {
  auto period = [&](double rate) -> uint64_t {
    if (rate <= 0) return 0;
    const double base = 1e9 / rate;
    const double u = double(v.jitter_rng.Below(1u << 20)) / double(1u << 20);
    const double p = base * (1.0 + o_.jitter * (2 * u - 1));
    return std::max<uint64_t>(static_cast<uint64_t>(p), 2000);
  };
  if (v.timer.created()) {
    const uint64_t p = period(o_.irq_rate);
    (void)v.timer.Arm(p, 1 + v.jitter_rng.Below(p));
  }
  if (v.nmi_timer.created()) {
    const uint64_t p = period(o_.nmi_rate);
    (void)v.nmi_timer.Arm(p, 1 + v.jitter_rng.Below(p));
  }
}

void Runner::RunRound(Vcpu& v, uint64_t round) {
  v.items = GenerateRound(o_.workload, o_.seed, v.id, round);
  v.round_offline = RoundEventsFor(o_.workload, o_.seed, round).offline_cpu;
  v.log = &v.logs[round % static_cast<uint64_t>(o_.history_rounds)];
  v.log->Clear(round);
  ctx::set_this_cpu(v.cpu);  // the barrier work may have made a new world
  v.attach_op = UINT32_MAX;  // the first BeginCounting() starts segment 0
  v.handler_rng = Rng(MixSeed(o_.seed, 0x48414e44ull, v.id, round));
  v.ipi_rng = Rng(MixSeed(o_.seed, 0x495049ull, v.id, round));
  v.jitter_rng = Rng(MixSeed(o_.seed, 0x4a4954ull, v.id, round));
  v.slice_rng = Rng(MixSeed(o_.seed, 0x534c4943ull, v.id, round));
  // Re-arming restarts the period: not every (short) round.
  const uint64_t now = MonotonicNs();
  if (now >= v.next_rejitter_ns) {
    ArmTimers(v);
    v.next_rejitter_ns = now + static_cast<uint64_t>(o_.rejitter_s * 1e9);
  }
  for (size_t i = 0; i < v.items.size(); ++i) {
    RunItem(v, v.items[i], static_cast<uint32_t>(i));
  }
}

void Runner::BeginCounting(Vcpu& v) {
  const uint32_t op = static_cast<uint32_t>(v.log->ops.size());
  v.seg = op == v.attach_op ? v.seg + 1 : 0;
  v.attach_op = op;
  memset(v.arrivals, 0, sizeof(v.arrivals));
  memset(v.stop_arrivals, 0, sizeof(v.stop_arrivals));
  v.pub_pos.store(PackPos(v.attach_op, v.seg, PointId::kNone, 0),
                  std::memory_order_relaxed);
}

void Runner::BeforeOp(Vcpu& v) {
  for (;;) {
    CheckAbandon(v);
    BeginCounting(v);
    MaybeSendIpi(v, MonotonicNs());
    if (v.sig.raw.load(std::memory_order_relaxed) != 0) {
      TakeRaw(v, PointId::kNone, 0, /*boundary=*/true);
    }
    // Task work is a kworker: it runs only where the scheduler could switch
    // to it (task context, nothing held, interrupts, preemption and bottom
    // halves enabled), never inside a section the task opened.
    const prog::Op* work = handlers_->ipi_work();
    if (v.work_pending > 0 && work != nullptr &&
        v.cpu->context() == ContextKind::kTask && !v.cpu->irqs_disabled() &&
        v.cpu->preempt_disable_depth() == 0 && !v.cpu->in_softirq() &&
        v.cpu->held().empty()) {
      --v.work_pending;
      RunTopOp(v, *work, 0xfffffffeu);
      continue;
    }
    return;
  }
}

void Runner::RunItem(Vcpu& v, const StreamItem& it, uint32_t index) {
  BeforeOp(v);
  Vcpu* peer = nullptr;
  switch (it.guard) {
    case StreamItem::Guard::kNone:
      break;
    case StreamItem::Guard::kGive:
      if (v.transfer.load(std::memory_order_acquire) != 0) {
        v.stats->skipped.Inc();
        return;
      }
      break;
    case StreamItem::Guard::kTake: {
      if (it.peer < 0 || it.peer >= nr_) return;
      peer = vcpus_[it.peer].get();
      int expected = 1;
      if (!peer->transfer.compare_exchange_strong(expected, 2,
                                                  std::memory_order_acquire)) {
        v.stats->skipped.Inc();
        return;
      }
      break;
    }
    case StreamItem::Guard::kReclaim: {
      int expected = 1;
      if (!v.transfer.compare_exchange_strong(expected, 2,
                                              std::memory_order_acquire)) {
        return;  // nothing to reclaim: not a skip worth counting
      }
      peer = &v;
      break;
    }
  }
  RunTopOp(v, it.op, index);
  switch (it.guard) {
    case StreamItem::Guard::kGive:
      if (v.last_own_ok > 0) v.transfer.store(1, std::memory_order_release);
      break;
    case StreamItem::Guard::kTake:
    case StreamItem::Guard::kReclaim:
      peer->transfer.store(0, std::memory_order_release);
      break;
    default:
      break;
  }
}

void Runner::RunTopOp(Vcpu& v, const Op& op, uint32_t stream_index) {
  const uint64_t t0 = MonotonicNs();
  const uint32_t idx = static_cast<uint32_t>(v.log->ops.size());
  v.attach_op = idx;
  v.log->ops.push_back(op);
  if (IsPersistentOp(op)) v.persistent.push_back({v.log->round, t0, op});
  LogEntry e;
  e.kind = LogEntry::Kind::kOp;
  e.op = idx;
  e.seg = static_cast<uint16_t>(std::min<uint32_t>(v.seg, 0xfff));
  e.t = ItemKey(v, t0);
  const size_t entry = v.log->entries.size();
  v.log->entries.push_back(e);
  v.top_index = stream_index;
  v.last_own_ok = 0;
  RunOp(v, op, stream_index);
  LogEnd(v, idx);
  MaybePassToken(v);
  const uint64_t t1 = MonotonicNs();
  v.log->entries[entry].t_end = t1;
  // Out of the op: no longer inside it for the others.
  v.pub_pos.store(PackPos(idx, v.seg, PointId::kNone, 0),
                  std::memory_order_relaxed);
  const int code = op.code();
  v.stats->op_latency[code].Add(t1 - t0);
  ++v.stats->ops_by_code[code];
  v.stats->ops.Inc();
  ClearWait(v);
  v.progress.store(v.progress.load(std::memory_order_relaxed) + 1,
                   std::memory_order_relaxed);
  v.last_progress_ns.store(t1, std::memory_order_relaxed);
}

void Runner::RunOp(Vcpu& v, const Op& op, uint32_t index) {
  const AllocInfo ai = ClassifyAlloc(op);
  if (!ai.is_alloc || v.nframes >= 16) {
    exec::RunProgramOp(*world_, *v.cpu, v.locals, op, index, v, v.result);
    return;
  }
  Cpu& cpu = *v.cpu;
  const int depth = std::min(cpu.depth(), ctx::kMaxContextDepth);
  const int ci = ContextIndex(cpu.context());
  v.frames[v.nframes++] =
      AllocFrame{v.result.allocs_ok, v.result.allocs_failed, 0, 0};
  v.fail_noted[depth] = false;
  exec::RunProgramOp(*world_, cpu, v.locals, op, index, v, v.result);
  const AllocFrame f = v.frames[--v.nframes];
  const uint64_t dok = v.result.allocs_ok - f.ok0;
  const uint64_t dfail = v.result.allocs_failed - f.fail0;
  if (v.nframes > 0) {
    v.frames[v.nframes - 1].nested_ok += dok;
    v.frames[v.nframes - 1].nested_fail += dfail;
  }
  const uint64_t own_ok = dok - std::min(dok, f.nested_ok);
  const uint64_t own_fail = dfail - std::min(dfail, f.nested_fail);
  if (depth == 0) v.last_own_ok = own_ok;
  AllocCell& cell = v.stats->alloc[ci][static_cast<int>(ai.cls)][ai.order];
  cell.ok += own_ok;
  if (own_fail > 0) {
    cell.failed += own_fail;
    int reason = ctx::kNumAllocFailReasons;  // unknown
    if (v.fail_noted[depth]) {
      reason = static_cast<int>(v.fail_reason[depth]);
    } else if (ai.nolock && ai.order > 3) {
      reason = static_cast<int>(ctx::AllocFail::kOrderTooHigh);
    } else if (ai.nolock && config_.preempt_rt &&
               (cpu.in_nmi() || cpu.in_hardirq())) {
      reason = static_cast<int>(ctx::AllocFail::kContext);
    } else if (ai.cls == GfpClass::kInvalid) {
      reason = static_cast<int>(ctx::AllocFail::kInvalid);
    } else if (ai.cls == GfpClass::kBulk) {
      // alloc_pages_bulk() returning fewer pages than asked (with page_owner
      // on it takes one page per call, as the kernel does).
      reason = static_cast<int>(ctx::AllocFail::kOther);
    }
    cell.reasons[reason] += own_fail;
  }
}

void Runner::MaybeSendIpi(Vcpu& v, uint64_t now) {
  if (ipi_period_ns_ == 0 || now < v.next_ipi_ns) return;
  if (v.next_ipi_ns == 0) {
    v.next_ipi_ns = now + v.ipi_rng.Below(ipi_period_ns_);
    return;
  }
  v.next_ipi_ns = now + ipi_period_ns_ / 2 + v.ipi_rng.Below(ipi_period_ns_);
  int target = static_cast<int>(v.ipi_rng.Below(nr_ - 1));
  if (target >= v.id) ++target;
  if (target == v.round_offline) return;  // a dead CPU takes no IPIs
  Vcpu& t = *vcpus_[target];
  const pid_t tid = t.tid.load(std::memory_order_acquire);
  if (tid == 0) return;
  const uint32_t bits = handlers_->ipi_work() != nullptr && v.ipi_rng.OneIn(4)
                            ? kIpiWork
                            : kIpiCall;
  t.ipi_mail.fetch_or(bits, std::memory_order_release);
  if (SendIpiSignal(tid)) v.stats->ipis_sent.Inc();
}

void Runner::TakeRaw(Vcpu& v, PointId point, uint32_t nth, bool boundary) {
  const uint64_t now = MonotonicNs();
  uint64_t arrival[3];
  for (int i = 0; i < 3; ++i) {
    arrival[i] = v.sig.arrival_ns[i].load(std::memory_order_relaxed);
  }
  const uint32_t raw = v.sig.raw.exchange(0, std::memory_order_relaxed);
  if (raw == 0) return;
  struct Take {
    IrqSource source;
    int handler;
    ContextKind kind;
  };
  FixedVector<Take, 4> takes;
  auto add = [&](IrqSource s, int bit) {
    v.stats->irq_delay[static_cast<int>(s)].Add(
        now > arrival[bit] ? now - arrival[bit] : 0);
    const int h = handlers_->Pick(v.id, s, v.handler_rng);
    if (h < 0) return;
    (void)takes.push_back(Take{s, h, handlers_->handler(v.id, s, h).kind});
  };
  if (raw & kRawTimer) add(IrqSource::kTimer, 0);
  if (raw & kRawIpi) {
    const uint32_t mail = v.ipi_mail.exchange(0, std::memory_order_acquire);
    if (mail & kIpiWork) ++v.work_pending;
    if (mail & kIpiCall) add(IrqSource::kIpi, 1);
  }
  if (raw & kRawNmi) add(IrqSource::kNmi, 2);
  Cpu& cpu = *v.cpu;
  // Each logged right before it runs: the points its handler passes follow
  // it in the log.
  for (const Take& t : takes) {
    LogEntry e;
    e.kind = LogEntry::Kind::kIrq;
    e.op = v.attach_op;
    e.irq_kind = t.kind;
    e.source = t.source;
    e.handler = static_cast<int16_t>(t.handler);
    e.boundary = boundary;
    e.latched = !cpu.CanEnter(t.kind);
    e.depth = static_cast<uint8_t>(cpu.depth());
    e.point = point;
    e.nth = nth;
    e.seg = static_cast<uint16_t>(std::min<uint32_t>(v.seg, 0xfff));
    e.t = ItemKey(v, now);
    v.log->entries.push_back(e);
    {
      // At a boundary the replay runs it as a top-level op, inside the
      // op's function frame (the interpreter's FunctionScope): the same
      // frame here, or page_owner's stacks of its allocations differ.
      std::optional<ctx::FunctionScope> frame;
      if (boundary) frame.emplace(ctx::ContextName(t.kind));
      Deliver(v, PendingIrq{t.kind,
                            &handlers_->handler(v.id, t.source, t.handler).body,
                            static_cast<int>(t.source)});
    }
    if (boundary) LogEnd(v, e.op);
  }
}

void Runner::Deliver(Vcpu& v, const PendingIrq& irq) {
  if (v.cpu->CanEnter(irq.kind)) {
    Fire(v, irq);
    return;
  }
  if (irq.source != kSourceRaised) v.stats->latched.Inc();
  if (!v.pending.push_back(irq)) ++v.dropped_irqs;
}

void Runner::Fire(Vcpu& v, const PendingIrq& irq) {
  Cpu& cpu = *v.cpu;
  const uint32_t saved_op = cpu.op_index();
  const uint64_t t0 = MonotonicNs();
  cpu.EnterContext(irq.kind);
  if (irq.source == kSourceRaised) {
    v.stats->softirqs.Inc();
  } else {
    v.stats->irqs[irq.source].Inc();
  }
  for (const Op& op : *irq.body) RunOp(v, op, v.top_index);
  cpu.ExitContext();  // irq_exit() may run pending softirqs
  v.locals.DropAbove(cpu.depth());
  cpu.set_op_index(saved_op);
  if (irq.source != kSourceRaised) {
    v.stats->handler_latency[irq.source].Add(MonotonicNs() - t0);
  }
  DeliverPending(v);
}

// The executor's DeliverPending(): NMI first, then hardirq, then softirq,
// in arrival order within a kind, while the CPU lets them in.
void Runner::DeliverPending(Vcpu& v) {
  Cpu& cpu = *v.cpu;
  for (;;) {
    if (v.pending.empty()) return;
    int pick = -1;
    for (ContextKind k :
         {ContextKind::kNmi, ContextKind::kHardirq, ContextKind::kSoftirq}) {
      if (!cpu.CanEnter(k)) continue;
      for (size_t i = 0; i < v.pending.size(); ++i) {
        if (v.pending[i].kind == k) {
          pick = static_cast<int>(i);
          break;
        }
      }
      if (pick >= 0) break;
    }
    if (pick < 0) return;
    const PendingIrq irq = v.pending[pick];
    v.pending.erase_at(pick);
    Fire(v, irq);
  }
}

void Runner::InjectionPoint(Cpu& cpu, PointId point) {
  Vcpu* vp = Mine(cpu);
  if (vp == nullptr) return;
  Vcpu& v = *vp;
  ++v.stats->points;
  const int pi = static_cast<int>(point);
  // Only rt_spin_lock's wait loop passes a point on each retry: another
  // point of the same name after a wait (a drain loop taking the next
  // pcp's lock, say) is a new arrival.
  bool counted_retry = false;
  bool retry = v.wait_lock != nullptr && v.waited && point == v.wait_point &&
               point == PointId::kRtSpinLockWaitLock &&
               cpu.depth() == v.wait_depth;
  if (retry) {
    // A retry that takes an interrupt is an arrival the replay reproduces
    // (its program resumes the waiter here); the others take none (what
    // is pending waits for the next point) and count for nothing. The
    // replay's waiter retries only after another vCPU made progress: the
    // holder may not have run since this vCPU last blocked (it is
    // descheduled by the host between passing the token on and asking for
    // it again, so the token comes straight back), and a retry then taking
    // an interrupt would come before the holder's next stretch here but
    // after it in the replay.
    bool due = v.sig.raw.load(std::memory_order_relaxed) != 0;
    for (const ArmedIrq& a : v.armed) due |= a.point == point;
    if (due && v.progress_seq != nullptr &&
        v.progress_seq->load(std::memory_order_relaxed) == v.wait_progress) {
      due = false;
    }
    if (due) {
      retry = false;
      counted_retry = true;
      v.relog_wait = true;
      v.in_retry = true;
      retry_irqs_.fetch_add(1, std::memory_order_relaxed);
    }
    v.uncounted_retry = retry;
  }
  const uint32_t n = retry                  ? v.wait_point_nth
                     : pi < ctx::kNumPoints ? ++v.arrivals[pi]
                                            : 0;
  v.waited = false;
  const uint64_t pos = PackPos(v.attach_op, v.seg, point, n);
  v.pub_pos.store(pos, std::memory_order_relaxed);
  // The wait is over when its own frame goes on (an interrupt's points on
  // top of the wait loop leave it waiting; a counted retry goes on waiting:
  // its interrupts are no progress, and they pass other points, so the
  // point the wait began at is not the one this vCPU passed last).
  if (counted_retry) v.wait_point_nth = n;
  if (v.wait_lock != nullptr && !retry && !counted_retry &&
      cpu.depth() <= v.wait_depth) {
    ClearWait(v);
  }
  CheckAbandon(v);
  if (retry) return;
  if (!v.armed.empty()) {
    FixedVector<PendingIrq, 32> fire;
    for (size_t i = 0; i < v.armed.size();) {
      ArmedIrq& a = v.armed[i];
      if (a.point == point && --a.remaining == 0) {
        (void)fire.push_back(PendingIrq{a.kind, a.body, kSourceRaised});
        v.armed.erase_at(i);
        continue;
      }
      ++i;
    }
    for (const PendingIrq& irq : fire) Deliver(v, irq);
  }
  if (v.sig.raw.load(std::memory_order_relaxed) != 0) {
    TakeRaw(v, point, n, /*boundary=*/false);
  }
  // Back at this point after the handlers (which passed points of their
  // own): a wait that begins now begins here, and its retries come back
  // here.
  v.pub_pos.store(pos, std::memory_order_relaxed);
  // Where this vCPU was when: the replay interleaves the vCPUs' stretches
  // between points in this order. Logged after the interrupts taken here
  // and counted as the executor counts a pause's arrivals: after theirs
  // (an interrupt at P whose handler passes P counts that arrival first).
  if (v.log != nullptr && pi < ctx::kNumPoints) LogPoint(v, point);
}

void Runner::LogPoint(Vcpu& v, PointId point) {
  const int pi = static_cast<int>(point);
  LogEntry e;
  e.kind = LogEntry::Kind::kPoint;
  e.op = v.attach_op;
  e.seg = static_cast<uint16_t>(std::min<uint32_t>(v.seg, 0xfff));
  e.point = point;
  e.nth = ++v.stop_arrivals[pi];
  e.t = StretchKey(v);
  v.log->entries.push_back(e);
  MaybePassToken(v);
}

// The start of a wait closes the waiter's stretch; progress by other vCPUs
// is counted from here (a retry counts only after some).
void Runner::LogWait(Vcpu& v) {
  LogEntry w;
  w.kind = LogEntry::Kind::kWait;
  w.op = v.attach_op;
  w.seg = static_cast<uint16_t>(std::min<uint32_t>(v.seg, 0xfff));
  w.t = StretchKey(v);
  v.log->entries.push_back(w);
  v.wait_progress = v.progress_seq->load(std::memory_order_relaxed);
}

void Runner::ClearWait(Vcpu& v) {
  if (v.wait_lock == nullptr) return;
  const uint64_t now = MonotonicNs();
  if (v.wait_cls < kMaxStatClasses) {
    v.stats->locks[v.wait_cls].wait_ns += now - v.wait_t0;
  }
  v.wait_lock = nullptr;
  v.wait_holder = -1;
  v.waited = false;
  v.uncounted_retry = false;
  v.relog_wait = false;
  v.in_retry = false;
  v.waiting_for.store(-1, std::memory_order_relaxed);
}

void Runner::Wait(Cpu& cpu, const void* lock, ctx::LockClassId cls,
                  int holder) {
  Vcpu* vp = Mine(cpu);
  if (vp == nullptr) {
    // The coordinator (teardown): nobody else runs, nothing to wait for.
    CpuRelax();
    sched_yield();
    return;
  }
  Vcpu& v = *vp;
  const bool same = v.wait_lock == lock && v.wait_holder == holder;
  if (!same && v.uncounted_retry && v.wait_lock == lock && v.log != nullptr) {
    // The holder changed: the replay's waiter retries here too (resumed
    // to block on the new holder), so this retry counts after all. It
    // took no interrupt, and nothing ran since it.
    const uint32_t pi = static_cast<uint32_t>(PointId::kRtSpinLockWaitLock);
    v.pub_pos.store(PackPos(v.attach_op, v.seg, PointId::kRtSpinLockWaitLock,
                            ++v.arrivals[pi]),
                    std::memory_order_relaxed);
    LogPoint(v, PointId::kRtSpinLockWaitLock);
  }
  v.uncounted_retry = false;
  if (!same) {
    ClearWait(v);  // in_retry: a new holder is progress
    const uint64_t own = v.pub_pos.load(std::memory_order_relaxed);
    v.wait_point = PosPoint(own);
    v.wait_point_nth = PosNth(own);
    v.wait_depth = cpu.depth();
    const uint64_t now = MonotonicNs();
    v.wait_lock = lock;
    v.wait_holder = holder;
    v.wait_cls = cls;
    v.wait_t0 = now;
    v.wait_spins = 0;
    ++v.stats->waits;
    if (holder >= 0 && holder < nr_ && holder != v.id) {
      const uint64_t pos =
          vcpus_[holder]->pub_pos.load(std::memory_order_relaxed);
      LogEntry e;
      e.kind = LogEntry::Kind::kHandoff;
      e.op = v.attach_op;
      e.holder = static_cast<int8_t>(holder);
      e.holder_op = PosOp(pos);
      e.seg = static_cast<uint16_t>(PosSeg(pos));
      e.point = PosPoint(pos);
      e.nth = PosNth(pos);
      e.t = now;
      v.log->entries.push_back(e);
    }
    if (!o_.parallel) {
      // Serialized: its stretch ends here (the holder's follow); the
      // replay's vCPU blocks here by itself.
      LogWait(v);
    }
    v.waiting_since.store(now, std::memory_order_relaxed);
    v.waiting_for.store(holder, std::memory_order_relaxed);
  } else if (v.relog_wait && !o_.parallel && v.log != nullptr) {
    // After a retry that took an interrupt: the replay's waiter blocks
    // here again.
    LogWait(v);
  }
  v.relog_wait = false;
  v.in_retry = false;
  v.waited = true;
  CheckAbandon(v);
  // The holder needs the token to release the lock.
  DropToken(v);
  for (int i = 0; i < 64; ++i) CpuRelax();
  // More vCPUs than cores: let the holder run.
  if ((++v.wait_spins & 255) == 0) sched_yield();
  TakeToken(v);
}

void Runner::Hang(Cpu& cpu) {
  Vcpu* vp = Mine(cpu);
  if (vp == nullptr) {
    REENTRY_CHECK_MSG(coord_jmp_armed_, "a vCPU hung outside the stress run");
    siglongjmp(coord_jmp_, 1);
  }
  vp->hung = true;
  if (vp->has_token && vp->log != nullptr) {
    // Its last stretch ends here, before the others' next ones (they run
    // on until they notice): the replay's vCPU hangs here by itself, and
    // the finding (just reported) gets this stretch's number.
    LogEntry w;
    w.kind = LogEntry::Kind::kWait;
    w.op = vp->attach_op;
    w.seg = static_cast<uint16_t>(std::min<uint32_t>(vp->seg, 0xfff));
    w.t = StretchKey(*vp);
    vp->log->entries.push_back(w);
  }
  hang_.store(true, std::memory_order_release);
  abandon_.store(true, std::memory_order_release);
  coord_word_.fetch_add(1, std::memory_order_release);
  FutexWakeAll(&coord_word_);
  FutexWakeAll(&go_gen_);
  Abandon(*vp);
}

// ---------------------------------------------------------------------------
// Coordinator side

bool Runner::StartThreads(std::string* error) {
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    v.thread = std::thread([this, &v] { ThreadMain(v); });
  }
  // Wait until every thread has its timers and tid.
  for (int c = 0; c < nr_; ++c) {
    while (vcpus_[c]->state.load(std::memory_order_acquire) == kStarting) {
      sched_yield();
    }
  }
  return true;
}

void Runner::StopThreads(bool abandon) {
  if (abandon) abandon_.store(true, std::memory_order_release);
  done_.store(true, std::memory_order_release);
  go_gen_.fetch_add(1, std::memory_order_acq_rel);
  FutexWakeAll(&go_gen_);
  const uint64_t deadline = MonotonicNs() + 3000000000ull;
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    while (v.state.load(std::memory_order_acquire) != kExited &&
           MonotonicNs() < deadline) {
      FutexWait(&coord_word_, coord_word_.load(), 10 * 1000 * 1000);
    }
    if (v.state.load(std::memory_order_acquire) == kExited) {
      v.thread.join();
    } else {
      // It spins somewhere with no interrupt point: it cannot be stopped.
      v.thread.detach();
      threads_stuck_ = true;
    }
  }
}

std::string Runner::DumpState() {
  std::string s;
  char buf[512];
  const uint64_t now = MonotonicNs();
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    Cpu& cpu = *v.cpu;
    const uint64_t pos = v.pub_pos.load(std::memory_order_relaxed);
    const uint32_t op = PosOp(pos);
    const PointId point = PosPoint(pos);
    std::string opname = "-";
    if (v.log != nullptr && op < v.log->ops.size()) {
      opname = prog::OpName(v.log->ops[op]);
    }
    const char* st = "running";
    switch (v.state.load()) {
      case kAtBarrier:
        st = "at the round barrier";
        break;
      case kParked:
      case kExited:
        st = v.hung ? "hung (parked)" : "stopped";
        break;
      default:
        break;
    }
    snprintf(buf, sizeof(buf),
             "CPU#%d: %s; op %u of round %" PRIu64 " (%s), %" PRIu64
             " ops done, last op completed %.3f s ago\n",
             c, st, op, v.log ? v.log->round : 0, opname.c_str(),
             v.progress.load(),
             double(now - std::min(now, v.last_progress_ns.load())) / 1e9);
    s += buf;
    s += "  context:";
    for (int d = 0; d <= cpu.depth(); ++d) {
      s += d ? " > " : " ";
      s += ctx::ContextName(cpu.frame(d).kind);
    }
    snprintf(buf, sizeof(buf),
             "; preempt_count %#x, irqs %s, preempt depth %u, bh depth %u\n",
             cpu.preempt_count(), cpu.irqs_disabled() ? "off" : "on",
             cpu.preempt_disable_depth(), cpu.bh_disable_depth());
    s += buf;
    s += "  functions:";
    if (cpu.functions().empty()) s += " -";
    for (size_t i = 0; i < cpu.functions().size(); ++i) {
      s += i ? " > " : " ";
      s += cpu.functions()[i] ? cpu.functions()[i] : "?";
    }
    s += "\n  held:";
    if (cpu.held().empty()) s += " none";
    for (const ctx::HeldLock& h : cpu.held()) {
      s += " ";
      s += world_->kernel.lock_class(h.class_id).name;
      s += "(";
      s +=
          ctx::ContextName(cpu.frame(std::min<int>(h.depth, cpu.depth())).kind);
      s += ")";
    }
    snprintf(buf, sizeof(buf), "\n  last point: %s (arrival %u)",
             point == PointId::kNone ? "op boundary" : ctx::PointName(point),
             static_cast<unsigned>(PosNth(pos)));
    s += buf;
    const int wf = v.waiting_for.load();
    if (wf >= 0) {
      snprintf(buf, sizeof(buf),
               "; waiting for a lock held by CPU#%d for %.3f s", wf,
               double(now - std::min(now, v.waiting_since.load())) / 1e9);
      s += buf;
    }
    snprintf(buf, sizeof(buf), "; %zu interrupt(s) pending\n",
             v.pending.size());
    s += buf;
  }
  return s;
}

// `log` up to its last op (exclusive): the op, what it recorded, and the
// interrupts taken after it are dropped.
RoundLog WithoutLastOp(const RoundLog& log) {
  RoundLog out;
  out.Clear(log.round);
  out.valid = log.valid;
  const uint32_t n = static_cast<uint32_t>(log.ops.size()) - 1;
  out.ops.assign(log.ops.begin(), log.ops.begin() + n);
  for (const LogEntry& e : log.entries) {
    if (e.op < n) out.entries.push_back(e);
  }
  return out;
}

// What the model kept from before `round` that the op streams set up once:
// the persistent ops of the earlier rounds, in the order they ran.
std::vector<prog::Op> Runner::PreambleBefore(uint64_t round) const {
  std::vector<const Vcpu::Persistent*> all;
  for (int c = 0; c < nr_; ++c) {
    for (const Vcpu::Persistent& p : vcpus_[c]->persistent) {
      if (p.round < round) all.push_back(&p);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto* a, const auto* b) {
    return std::tie(a->round, a->t) < std::tie(b->round, b->t);
  });
  std::vector<prog::Op> ops;
  for (const Vcpu::Persistent* p : all) ops.push_back(p->op);
  return ops;
}

void Runner::AddCandidates(StressFinding* sf, uint64_t round,
                           uint64_t last_event) {
  // With --fresh-every, the rounds since the current world began: the
  // longest window starts from a fresh model (and its preamble) as the run
  // did, so the model's state is the run's; shorter ones come first (a
  // shorter program, if it reproduces).
  const uint64_t oldest = o_.fresh_every > 0 ? world_round_ : 0;
  std::vector<int> spans = {1, 2, o_.history_rounds};
  std::set<int> done;
  for (int span : spans) {
    span = std::min<int>(span, o_.history_rounds);
    if (span < 1 || !done.insert(span).second) continue;
    std::vector<std::vector<const RoundLog*>> logs;
    bool complete = true;
    for (int k = span - 1; k >= 0; --k) {
      if (round < oldest + static_cast<uint64_t>(k)) {
        complete = false;
        continue;
      }
      const uint64_t r = round - k;
      std::vector<const RoundLog*> per_cpu(nr_, nullptr);
      for (int c = 0; c < nr_; ++c) {
        const RoundLog& l = vcpus_[c]->logs[r % o_.history_rounds];
        if (l.valid && l.round == r) per_cpu[c] = &l;
      }
      logs.push_back(std::move(per_cpu));
    }
    if (logs.empty()) continue;
    const uint64_t first =
        round - std::min<uint64_t>(round - std::min(round, oldest), span - 1);
    const std::vector<prog::Op> preamble = PreambleBefore(first);
    prog::Program p;
    ReplayStats rs;
    if (!BuildReplay(logs, *handlers_, locks_, config_, o_.bugs, &p, &rs,
                     preamble, last_event)) {
      continue;  // too many ops for one program
    }
    sf->candidates.push_back(prog::ProgramToText(p));
    sf->candidate_stats.push_back(rs);
    // The same rounds with the finding's vCPU alone: the executor runs the
    // other vCPUs' ops in between only approximately, and a finding whose
    // cause is on one vCPU (an interrupt that reentered it) often needs
    // only that vCPU's ops and interrupts.
    const int fc = sf->finding.cpu;
    if (nr_ > 1 && fc >= 0 && fc < nr_) {
      auto only = logs;
      for (auto& per_cpu : only) {
        for (int c = 0; c < nr_; ++c) {
          if (c != fc) per_cpu[c] = nullptr;
        }
      }
      if (BuildReplay(only, *handlers_, locks_, config_, o_.bugs, &p, &rs,
                      preamble, last_event)) {
        sf->candidates.push_back(prog::ProgramToText(p));
        sf->candidate_stats.push_back(rs);
      }
    }
    // After a hang: the hung vCPU's last op never finished, and a replay
    // ends where it hangs, while the other vCPUs went on until they were
    // stopped. Their findings replay without that op.
    for (int h = 0; h < nr_ && !logs.empty(); ++h) {
      const RoundLog* last = logs.back()[h];
      if (!vcpus_[h]->hung || last == nullptr || last->ops.empty() ||
          sf->finding.cpu == h) {
        continue;
      }
      const RoundLog trimmed = WithoutLastOp(*last);
      auto without = logs;
      without.back()[h] = &trimmed;
      if (BuildReplay(without, *handlers_, locks_, config_, o_.bugs, &p, &rs,
                      preamble, last_event)) {
        sf->candidates.push_back(prog::ProgramToText(p));
        sf->candidate_stats.push_back(rs);
      }
    }
    if (!complete) break;  // longer spans would give the same program
  }
  // Lockdep findings may rest on dependencies learned long before: the
  // archived rounds where lockdep learned something, then the last two.
  // (Not with --fresh-every: lockdep is as fresh as the model.)
  if (archive_.empty() || o_.fresh_every > 0) return;
  std::vector<std::vector<const RoundLog*>> tail;
  for (uint64_t k = std::min<uint64_t>(round, 1) + 1; k-- > 0;) {
    const uint64_t r = round - k;
    std::vector<const RoundLog*> per_cpu(nr_, nullptr);
    for (int c = 0; c < nr_; ++c) {
      const RoundLog& l = vcpus_[c]->logs[r % o_.history_rounds];
      if (l.valid && l.round == r) per_cpu[c] = &l;
    }
    tail.push_back(std::move(per_cpu));
  }
  for (size_t keep = archive_.size(); keep > 0; keep /= 2) {
    std::vector<std::vector<const RoundLog*>> logs;
    for (size_t i = 0; i < keep; ++i) {
      const std::vector<RoundLog>& a = archive_[i];
      if (!a.empty() && a[0].round + 1 >= round) break;  // in the tail
      std::vector<const RoundLog*> per_cpu;
      for (const RoundLog& l : a) per_cpu.push_back(l.valid ? &l : nullptr);
      logs.push_back(std::move(per_cpu));
    }
    if (logs.empty()) return;
    const uint64_t first = archive_[0][0].round;
    logs.insert(logs.end(), tail.begin(), tail.end());
    prog::Program p;
    ReplayStats rs;
    if (BuildReplay(logs, *handlers_, locks_, config_, o_.bugs, &p, &rs,
                    PreambleBefore(first), last_event)) {
      sf->candidates.push_back(prog::ProgramToText(p));
      sf->candidate_stats.push_back(rs);
      return;
    }
  }
}

void Runner::CollectFindings(uint64_t round, const std::string& state_dump) {
  const FindingList& fl = world_->kernel.findings();
  report::ReportInput in;
  in.config = config_;
  in.bugs = o_.bugs;
  const double at = double(MonotonicNs() - start_ns_) / 1e9;
  for (size_t i = seen_findings_; i < fl.size(); ++i) {
    const Finding& f = fl[i];
    const std::string title = report::Title(f);
    auto it = by_title_.find(title);
    if (it != by_title_.end()) {
      ++findings_[it->second].occurrences;
      continue;
    }
    StressFinding sf;
    sf.finding = f;
    sf.title = title;
    sf.summary = report::FormatFindingSummary(f);
    sf.report = report::FormatReport(f, in);
    sf.warning = FindingSeverity(f.kind) == Severity::kWarning;
    sf.round = round;
    sf.at_s = at;
    sf.vcpu_state = state_dump;
    AddCandidates(&sf, round, i < report_seq_.size() ? report_seq_[i] : 0);
    by_title_[title] = findings_.size();
    findings_.push_back(std::move(sf));
    (findings_.back().warning ? nr_warnings_ : nr_bugs_)
        .fetch_add(1, std::memory_order_relaxed);
    if (!findings_.back().warning && o_.stop_on_finding)
      ended_by_finding_ = true;
    if (o_.progress && o_.progress_out != nullptr) {
      fprintf(o_.progress_out, "\n[%7.1fs] found: %s\n", at,
              findings_.back().summary.c_str());
    }
  }
  seen_findings_ = fl.size();
}

uint64_t Runner::LockdepSignature() const {
  if (!world_->lockdep) return 0;
  const lockdep::Lockdep& ld = *world_->lockdep;
  uint64_t sig = ld.nr_dependencies();
  for (size_t c = 0; c < world_->kernel.nr_lock_classes(); ++c) {
    sig = sig * 31 + ld.Usage(static_cast<ctx::LockClassId>(c));
  }
  return sig;
}

void Runner::ArchiveIfLockdepLearned(uint64_t round) {
  const uint64_t sig = LockdepSignature();
  if (sig == lockdep_signature_) return;
  lockdep_signature_ = sig;
  if (archive_.size() >= kMaxArchive) return;  // the earliest matter most
  std::vector<RoundLog> logs;
  for (int c = 0; c < nr_; ++c) {
    const RoundLog& l = vcpus_[c]->logs[round % o_.history_rounds];
    logs.push_back(l.valid && l.round == round ? l : RoundLog{});
  }
  archive_.push_back(std::move(logs));
}

void Runner::BarrierWork(uint64_t round, bool final_round) {
  const uint64_t now = MonotonicNs();
  bool check = final_round;
  if (o_.invariants_every > 0) {
    check |= round % static_cast<uint64_t>(o_.invariants_every) == 0;
  } else if (o_.invariants_period_s > 0) {
    check |= now >= last_invariants_ns_ +
                        static_cast<uint64_t>(o_.invariants_period_s * 1e9);
  } else {
    check = false;
  }
  if (check) {
    last_invariants_ns_ = now;
    world_->mm->CheckInvariants(/*teardown=*/false);
    ++invariant_checks_;
  }
  if (final_round && !hang_.load(std::memory_order_acquire)) {
    KeepWindow(round);
  }
  // After a hang the coordinator collects, with every vCPU's state.
  if (hang_.load(std::memory_order_acquire)) return;
  CollectFindings(round, "");
  if (o_.fresh_every > 0 && !final_round &&
      (round + 1) % static_cast<uint64_t>(o_.fresh_every) == 0 &&
      !(o_.stop_on_finding && ended_by_finding_.load())) {
    FreshWorld(round);
    return;
  }
  ArchiveIfLockdepLearned(round);
}

bool Runner::Watchdog(uint64_t now) {
  const uint64_t limit = static_cast<uint64_t>(o_.watchdog_s * 1e9);
  const uint64_t cycle_limit =
      std::max<uint64_t>(200000000ull, limit / 20);  // >= 0.2 s
  int stuck = -1;
  int cycle_front = -1;
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    if (v.state.load(std::memory_order_acquire) != kRunning) continue;
    const uint64_t last = v.last_progress_ns.load(std::memory_order_relaxed);
    const uint64_t idle = now > last ? now - last : 0;
    if (idle > limit && stuck < 0) stuck = c;
    // A wait cycle: every vCPU on it waits and none completed an op.
    if (idle > cycle_limit && v.waiting_for.load() >= 0 && cycle_front < 0) {
      std::vector<int> chain{c};
      int h = v.waiting_for.load();
      while (h >= 0 && h < nr_) {
        if (std::find(chain.begin(), chain.end(), h) != chain.end()) {
          if (h == c) cycle_front = c;
          break;
        }
        Vcpu& w = *vcpus_[h];
        const uint64_t wl = w.last_progress_ns.load(std::memory_order_relaxed);
        if (w.state.load() != kRunning ||
            now - std::min(now, wl) < cycle_limit) {
          break;
        }
        chain.push_back(h);
        h = w.waiting_for.load();
      }
    }
  }
  if (stuck < 0 && cycle_front < 0) return false;
  // Freeze everybody, then describe what they were doing.
  const int front = cycle_front >= 0 ? cycle_front : stuck;
  std::vector<int> chain{front};
  if (cycle_front >= 0) {
    int h = vcpus_[front]->waiting_for.load();
    while (h >= 0 && h != front && chain.size() < static_cast<size_t>(nr_)) {
      chain.push_back(h);
      h = vcpus_[h]->waiting_for.load();
    }
  }
  // Name the cycle after its lowest vCPU, as the executor does when a
  // program ends with every vCPU of a cycle waiting.
  if (cycle_front >= 0) {
    std::rotate(chain.begin(), std::min_element(chain.begin(), chain.end()),
                chain.end());
  }
  std::vector<uint64_t> idle_ns(nr_);
  for (int c = 0; c < nr_; ++c) {
    idle_ns[c] = now - std::min(now, vcpus_[c]->last_progress_ns.load());
  }
  StopThreads(/*abandon=*/true);
  const std::string state = DumpState();
  ended_by_watchdog_ = true;
  Finding f;
  char detail[sizeof(f.detail)];
  if (cycle_front >= 0) {
    std::vector<exec::CycleWaiter> waiters;
    for (int c : chain) waiters.push_back({c, vcpus_[c]->wait_cls});
    snprintf(detail, sizeof(detail),
             "stress watchdog: %zu vCPUs wait for each other's locks; none "
             "completed an op for %.1f s",
             chain.size(), double(idle_ns[front]) / 1e9);
    f = exec::MakeWaitCycleFinding(world_->kernel, waiters, detail);
  } else {
    f = world_->kernel.cpu(front).MakeFinding(FindingKind::kRetryLivelock,
                                              nullptr);
    f.cause = reinterpret_cast<uintptr_t>(f.function);
    snprintf(detail, sizeof(detail),
             "stress watchdog: CPU#%d completed no op for %.1f s (a deadlock "
             "or an endless retry loop)",
             front, double(idle_ns[front]) / 1e9);
    f.SetDetail(detail);
  }
  world_->kernel.Report(f);
  CollectFindings(round_to_run_.load(), state);
  return true;
}

void Runner::Progress(uint64_t now, bool last) {
  if (!o_.progress || o_.progress_out == nullptr) return;
  if (!last && now - last_progress_print_ < 1000000000ull) return;
  const double elapsed = double(now - start_ns_) / 1e9;
  const double dt = double(now - last_progress_print_) / 1e9;
  uint64_t ops = 0;
  for (int c = 0; c < nr_; ++c) ops += stats_[c].ops.get();
  std::string line;
  char buf[160];
  snprintf(buf, sizeof(buf), "[%7.1fs] round %" PRIu64 "  ops %.2fM (%.0fk/s)",
           elapsed, rounds_done_.load(), double(ops) / 1e6,
           dt > 0 ? double(ops - last_progress_ops_) / dt / 1e3 : 0.0);
  line += buf;
  line += "  irq/s";
  for (int c = 0; c < nr_; ++c) {
    const uint64_t n = vcpus_[c]->sig.timer_signals.load();
    snprintf(buf, sizeof(buf), " %.1fk", elapsed > 0 ? n / elapsed / 1e3 : 0.0);
    line += buf;
  }
  uint64_t nmi = 0, ipi = 0;
  for (int c = 0; c < nr_; ++c) {
    nmi += vcpus_[c]->sig.nmi_signals.load();
    ipi += vcpus_[c]->sig.ipi_signals.load();
  }
  snprintf(buf, sizeof(buf), "  nmi/s %.0f  ipi/s %.0f",
           elapsed > 0 ? nmi / elapsed / nr_ : 0.0,
           elapsed > 0 ? ipi / elapsed / nr_ : 0.0);
  line += buf;
  snprintf(buf, sizeof(buf), "  findings %u bug(s) %u warning(s)",
           nr_bugs_.load(), nr_warnings_.load());
  line += buf;
  fprintf(o_.progress_out, "%s\n", line.c_str());
  fflush(o_.progress_out);
  last_progress_print_ = now;
  last_progress_ops_ = ops;
}

void Runner::DumpCrash(int sig) {
  // Tell the other vCPUs to park at their next interrupt point (they stop
  // appending to their logs), give them a moment, then write what the
  // current round recorded.
  abandon_.store(true, std::memory_order_release);
  Vcpu* self = tls_vcpu;
  const uint64_t deadline = MonotonicNs() + 200000000ull;
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    if (&v == self) continue;
    while (v.state.load() == kRunning && MonotonicNs() < deadline) CpuRelax();
  }
  char msg[256];
  int n = snprintf(msg, sizeof(msg),
                   "\nreentry stress: crashed (signal %d) on %s in round %llu; "
                   "writing its recorded program to %s\n",
                   sig, self ? "a vCPU" : "the coordinator",
                   static_cast<unsigned long long>(round_to_run_.load()),
                   o_.crash_program_path.c_str());
  if (n > 0) (void)!write(2, msg, static_cast<size_t>(n));
  const uint64_t round = round_to_run_.load();
  std::vector<std::vector<const RoundLog*>> logs;
  for (uint64_t k = std::min<uint64_t>(round, 1) + 1; k-- > 0;) {
    const uint64_t r = round - k;
    std::vector<const RoundLog*> per_cpu(nr_, nullptr);
    for (int c = 0; c < nr_; ++c) {
      const RoundLog& l = vcpus_[c]->logs[r % o_.history_rounds];
      if (l.valid && l.round == r) per_cpu[c] = &l;
    }
    logs.push_back(std::move(per_cpu));
  }
  prog::Program p;
  if (!BuildReplay(logs, *handlers_, locks_, config_, o_.bugs, &p, nullptr,
                   PreambleBefore(round - std::min<uint64_t>(round, 1)))) {
    return;
  }
  const std::string text = "# crashed (signal " + std::to_string(sig) +
                           ") in round " + std::to_string(round) + ": " +
                           DescribeOptions(o_) + "\n" + prog::ProgramToText(p);
  FILE* f = fopen(o_.crash_program_path.c_str(), "w");
  if (f == nullptr) return;
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
}

void CrashHandler(int sig, siginfo_t*, void*) {
  // One dump, from the first crashing thread; the others wait to die.
  static std::atomic<bool> once{false};
  Runner* r = g_crash_runner.load();
  if (r != nullptr && !once.exchange(true)) {
    alarm(10);  // if the dump itself hangs (a lock the crash left held)
    r->DumpCrash(sig);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

StressResult Runner::Run() {
  StressResult result;
  result.options = o_;
  config_ = o_.config;
  config_.concurrent = true;
  if (!config_.smp) config_.nr_cpus = 1;
  nr_ = config_.nr_cpus;
  if (o_.history_rounds < 1 || o_.history_rounds > kMaxHistory) {
    result.setup_error = "history_rounds must be 1..8";
    return result;
  }
  if (o_.fresh_every == StressOptions::kFreshEveryHistory) {
    o_.fresh_every = o_.history_rounds;
  }
  if (o_.fresh_every < 0 || o_.fresh_every > o_.history_rounds) {
    result.setup_error =
        "fresh_every must be 0..history_rounds (a replay window starts "
        "with a fresh model)";
    return result;
  }
  if (nr_ > MaxCpus(o_.workload.kind)) {
    result.setup_error = std::string("the ") + WorkloadName(o_.workload.kind) +
                         " workload runs at most " +
                         std::to_string(MaxCpus(o_.workload.kind)) + " vCPUs";
    return result;
  }
  if (!InstallSignalHandlers()) {
    result.setup_error = std::string("sigaction: ") + strerror(errno);
    return result;
  }
  WorkloadOptions wo = o_.workload;
  wo.config = config_;
  o_.workload = wo;
  locks_ = WorkloadLocks(wo);
  handlers_ = std::make_unique<HandlerCatalog>(wo, nr_);
  prog::Program decl;
  decl.config = config_;
  decl.bugs = o_.bugs;
  decl.locks = locks_;
  decl_ = decl;
  stats_.reset(new VcpuStats[nr_]);
  stats_observer_ = std::make_unique<StatsObserver>(stats_.get(), nr_);
  MakeWorld();
  ipi_period_ns_ =
      o_.ipi_rate > 0 && nr_ > 1 ? static_cast<uint64_t>(1e9 / o_.ipi_rate) : 0;
  for (int c = 0; c < nr_; ++c) {
    auto v = std::make_unique<Vcpu>();
    v->runner = this;
    v->id = c;
    v->cpu = &world_->kernel.cpu(c);
    if (!o_.parallel) {
      v->event_seq = &event_seq_;
      v->progress_seq = &progress_seq_;
      v->report_seq = &report_seq_;
    }
    v->stats = &stats_[c];
    v->last_progress_ns.store(MonotonicNs());
    vcpus_.push_back(std::move(v));
  }
  std::string error;
  start_ns_ = MonotonicNs();
  last_progress_print_ = start_ns_;
  end_ns_ =
      start_ns_ + static_cast<uint64_t>(std::max(0.0, o_.duration_s) * 1e9);
  struct sigaction old_crash[5];
  static constexpr int kCrashSignals[5] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL,
                                           SIGABRT};
  const bool crash_handler = !o_.crash_program_path.empty();
  if (crash_handler) {
    g_crash_runner.store(this);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = CrashHandler;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 5; ++i) sigaction(kCrashSignals[i], &sa, &old_crash[i]);
  }
  StartThreads(&error);
  // Round 0; the vCPUs run the following rounds themselves (the last to
  // reach each barrier does its work). The coordinator watches.
  round_to_run_.store(0, std::memory_order_release);
  go_gen_.fetch_add(1, std::memory_order_acq_rel);
  FutexWakeAll(&go_gen_);
  bool stopped = false;
  for (;;) {
    const uint32_t w = coord_word_.load(std::memory_order_acquire);
    // A hang first: the vCPU may have parked while idle at the barrier, and
    // the barrier work then ends the run (done_) without the vCPUs' state.
    if (hang_.load(std::memory_order_acquire)) {
      // A vCPU parked on a self-deadlock: stop the others where they are.
      StopThreads(/*abandon=*/true);
      const std::string state = DumpState();
      CollectFindings(round_to_run_.load(), state);
      stopped = true;
      break;
    }
    if (done_.load(std::memory_order_acquire)) break;
    const uint64_t now = MonotonicNs();
    if (Watchdog(now)) {
      stopped = true;
      break;
    }
    Progress(now, false);
    FutexWait(&coord_word_, w, 50 * 1000 * 1000);
  }
  if (!stopped) {
    StopThreads(/*abandon=*/false);
    // The end of the program: what a return to user space would report,
    // then teardown (which frees everything and checks for leaks) on vCPU 0
    // when nothing is left locked.
    world_->kernel.SetHooks(this);
    bool any_held = false;
    for (int c = 0; c < nr_; ++c) {
      Cpu& cpu = world_->kernel.cpu(c);
      if (cpu.depth() == 0) cpu.CheckReturnToUser();
      any_held |= !cpu.held().empty();
    }
    if (!any_held) {
      ctx::set_this_cpu(&world_->kernel.cpu(0));
      coord_jmp_armed_ = true;
      if (sigsetjmp(coord_jmp_, 0) == 0) {
        world_->mm->CheckInvariants(/*teardown=*/true);
      }
      coord_jmp_armed_ = false;
      ctx::set_this_cpu(nullptr);
    }
    const uint64_t rd = rounds_done_.load();
    CollectFindings(rd ? rd - 1 : 0, "");
  }
  Progress(MonotonicNs(), true);
  if (crash_handler) {
    for (int i = 0; i < 5; ++i)
      sigaction(kCrashSignals[i], &old_crash[i], nullptr);
    g_crash_runner.store(nullptr);
  }
  FillResult(&result);
  if (!threads_stuck_) {
    world_->kernel.SetHooks(nullptr);
    world_->kernel.SetAllocStatsSink(nullptr);
  } else {
    // A thread still runs model code: the world must outlive it.
    (void)world_.release();
    (void)serialized_lockdep_.release();
    (void)stats_observer_.release();
    (void)handlers_.release();
    for (auto& v : vcpus_) (void)v.release();
    (void)stats_.release();
  }
  return result;
}

void Runner::MakeWorld() {
  world_ = std::make_unique<exec::World>(config_, o_.bugs, decl_, o_.lockdep);
  if (world_->lockdep) {
    // Keep lockdep, but behind one lock.
    world_->kernel.RemoveObserver(world_->lockdep.get());
    if (serialized_lockdep_ == nullptr) {
      serialized_lockdep_ =
          std::make_unique<SerializedObserver>(world_->lockdep.get());
    } else {
      serialized_lockdep_->set_inner(world_->lockdep.get());
    }
    world_->kernel.AddObserver(serialized_lockdep_.get());
  }
  world_->kernel.AddObserver(stats_observer_.get());
  if (o_.parallel) world_->kernel.AddObserver(&stretch_clock_);
  world_->kernel.SetHooks(this);
  world_->kernel.SetAllocStatsSink(this);
  for (auto& v : vcpus_) v->cpu = &world_->kernel.cpu(v->id);
  seen_findings_ = 0;
  report_seq_.clear();
  lockdep_signature_ = LockdepSignature();
  archive_.clear();
}

// Barrier work (no vCPU runs model code): the model this run continues
// with is a fresh one, set up with the persistent ops so far (a registered
// shrinker, offlined memory), exactly as a replay that starts with the next
// round sets it up (its preamble). Without it a replay would start from a
// fresh model while the run had the state all earlier rounds left (pcp
// lists, free list order, page_owner's stacks, lockdep's history...).
void Runner::FreshWorld(uint64_t round) {
  // Leaks and the like first, as at the end of a run: teardown frees every
  // page and checks the model; what it finds is collected for this world.
  bool any_held = false;
  for (int c = 0; c < nr_; ++c) {
    any_held |= !world_->kernel.cpu(c).held().empty();
  }
  if (!any_held) {
    ctx::set_this_cpu(&world_->kernel.cpu(0));
    world_->mm->CheckInvariants(/*teardown=*/true);
    ctx::set_this_cpu(nullptr);
  }
  CollectFindings(round, "");
  UpdateOccurrences();
  KeepWindow(round);
  reports_dropped_before_ += world_->kernel.reports_dropped();
  world_.reset();
  MakeWorld();
  world_round_ = round + 1;
  struct NoHost : exec::OpHost {
    void OnInterruptOp(Cpu&, const prog::Interrupt&, uint32_t) override {}
    void OnPauseOp(Cpu&, const prog::Pause&, uint32_t) override {}
    void OnSkipped(Cpu&, uint32_t) override {}
  } host;
  exec::OpLocals locals;
  exec::RunResult rr;
  Cpu& cpu0 = world_->kernel.cpu(0);
  ctx::set_this_cpu(&cpu0);
  uint32_t index = 0;
  for (const Op& op : PreambleBefore(world_round_)) {
    exec::RunProgramOp(*world_, cpu0, locals, op, index++, host, rr);
  }
  ctx::set_this_cpu(nullptr);
  lockdep_signature_ = LockdepSignature();
}

void Runner::KeepWindow(uint64_t last_round) {
  const uint64_t now_retries = retry_irqs_.load();
  const uint64_t retries = now_retries - retry_irqs_world_start_;
  retry_irqs_world_start_ = now_retries;
  if (o_.keep_windows <= 0 || o_.fresh_every <= 0 ||
      windows_.size() >= static_cast<size_t>(o_.keep_windows) ||
      (!windows_.empty() && retries == 0)) {
    return;
  }
  std::vector<std::vector<const RoundLog*>> logs;
  ReplayWindow w;
  std::vector<std::tuple<uint64_t, int, ctx::PointId>> points;
  for (uint64_t r = world_round_; r <= last_round; ++r) {
    std::vector<const RoundLog*> per_cpu(nr_, nullptr);
    for (int c = 0; c < nr_; ++c) {
      const RoundLog& l = vcpus_[c]->logs[r % o_.history_rounds];
      if (!l.valid || l.round != r) return;  // not all of it kept
      per_cpu[c] = &l;
      for (const LogEntry& e : l.entries) {
        if (e.kind == LogEntry::Kind::kPoint) {
          points.emplace_back(e.t, c, e.point);
        }
      }
    }
    logs.push_back(std::move(per_cpu));
  }
  std::sort(points.begin(), points.end());
  for (const auto& [t, c, pt] : points) {
    w.points.push_back(exec::PointArrival{static_cast<int8_t>(c), pt});
  }
  const std::vector<prog::Op> preamble = PreambleBefore(world_round_);
  prog::Program p;
  ReplayStats rs;
  if (!BuildReplay(logs, *handlers_, locks_, config_, o_.bugs, &p, &rs,
                   preamble) ||
      rs.coarse) {
    return;
  }
  w.program = prog::ProgramToText(p);
  w.preamble = preamble.size();
  w.retry_irqs = retries;
  windows_.push_back(std::move(w));
}

void Runner::UpdateOccurrences() {
  const FindingList& fl = world_->kernel.findings();
  for (StressFinding& f : findings_) {
    const uint32_t n = fl.occurrences(f.finding.kind);
    if (n > f.occurrences) f.occurrences = n;
  }
}

void Runner::FillResult(StressResult* r) {
  const uint64_t now = MonotonicNs();
  r->elapsed_s = double(now - start_ns_) / 1e9;
  r->rounds = rounds_done_.load();
  r->nr_cpus = nr_;
  r->ended_by_finding = ended_by_finding_;
  r->ended_by_watchdog = ended_by_watchdog_;
  r->ended_by_hang = hang_.load();
  r->threads_stuck = threads_stuck_;
  r->windows = std::move(windows_);
  r->retry_irqs = retry_irqs_.load();
  r->total = new VcpuStats;
  for (int c = 0; c < nr_; ++c) {
    Vcpu& v = *vcpus_[c];
    r->total->Merge(stats_[c]);
    RateFigures rf;
    const double t = r->elapsed_s > 0 ? r->elapsed_s : 1;
    rf.timer_per_s = double(v.sig.timer_signals.load()) / t;
    rf.nmi_per_s = double(v.sig.nmi_signals.load()) / t;
    rf.ipi_per_s = double(v.sig.ipi_signals.load()) / t;
    uint64_t run = stats_[c].softirqs.get();
    for (int i = 0; i < 3; ++i) run += stats_[c].irqs[i].get();
    rf.irqs_run_per_s = double(run) / t;
    r->per_cpu.push_back(rf);
    r->timer_signals.push_back(v.sig.timer_signals.load());
    r->timer_overruns.push_back(v.sig.timer_overruns.load());
    r->nmi_signals.push_back(v.sig.nmi_signals.load());
    r->ipi_signals.push_back(v.sig.ipi_signals.load());
    r->merged_signals.push_back(v.sig.merged.load());
  }
  r->ops = r->total->ops.get();
  for (size_t i = 0; i < world_->kernel.nr_lock_classes(); ++i) {
    r->lock_class_names.push_back(
        world_->kernel.lock_class(static_cast<ctx::LockClassId>(i)).name);
  }
  UpdateOccurrences();
  r->findings = std::move(findings_);
  r->reports_dropped =
      reports_dropped_before_ + world_->kernel.reports_dropped();
  r->invariant_checks = invariant_checks_;
  r->lockdep_events_dropped =
      serialized_lockdep_ ? serialized_lockdep_->dropped() : 0;
}

}  // namespace

StressResult::StressResult(StressResult&& o) noexcept { *this = std::move(o); }

StressResult& StressResult::operator=(StressResult&& o) noexcept {
  if (this == &o) return *this;
  delete total;
  options = o.options;
  elapsed_s = o.elapsed_s;
  rounds = o.rounds;
  ops = o.ops;
  ended_by_finding = o.ended_by_finding;
  ended_by_watchdog = o.ended_by_watchdog;
  ended_by_hang = o.ended_by_hang;
  threads_stuck = o.threads_stuck;
  setup_error = std::move(o.setup_error);
  nr_cpus = o.nr_cpus;
  per_cpu = std::move(o.per_cpu);
  timer_signals = std::move(o.timer_signals);
  timer_overruns = std::move(o.timer_overruns);
  nmi_signals = std::move(o.nmi_signals);
  ipi_signals = std::move(o.ipi_signals);
  merged_signals = std::move(o.merged_signals);
  total = o.total;
  o.total = nullptr;
  lock_class_names = std::move(o.lock_class_names);
  findings = std::move(o.findings);
  reports_dropped = o.reports_dropped;
  invariant_checks = o.invariant_checks;
  lockdep_events_dropped = o.lockdep_events_dropped;
  return *this;
}

StressResult::~StressResult() { delete total; }

size_t StressResult::bugs() const {
  size_t n = 0;
  for (const StressFinding& f : findings) n += f.warning ? 0 : 1;
  return n;
}

size_t StressResult::warnings() const {
  size_t n = 0;
  for (const StressFinding& f : findings) n += f.warning ? 1 : 0;
  return n;
}

StressResult RunStress(const StressOptions& options) {
  Runner runner(options);
  return runner.Run();
}

void VerifyReplays(StressResult* result) {
  exec::Executor executor;
  exec::RunOptions ro;
  ro.lockdep = result->options.lockdep;
  for (StressFinding& f : result->findings) {
    f.verified = true;
    f.reproduced_by = -1;
    for (size_t i = 0; i < f.candidates.size(); ++i) {
      prog::ParseError pe;
      std::optional<prog::Program> p = prog::ParseProgram(f.candidates[i], &pe);
      if (!p) continue;
      exec::RunResult rr = executor.Run(*p, ro);
      bool same = false;
      for (const Finding& g : rr.findings) same |= report::Title(g) == f.title;
      if (same) {
        f.reproduced_by = static_cast<int>(i);
        f.program = f.candidates[i];
        break;
      }
    }
    if (f.reproduced_by < 0 && !f.candidates.empty()) {
      // None did: the one that records the most (every vCPU, the longest
      // window) is the closest to what ran.
      size_t best = 0;
      for (size_t i = 1; i < f.candidates.size(); ++i) {
        if (f.candidates[i].size() > f.candidates[best].size()) best = i;
      }
      f.program = f.candidates[best];
    }
  }
}

std::string DescribeOptions(const StressOptions& o) {
  char buf[512];
  snprintf(buf, sizeof(buf),
           "seed=%" PRIu64
           " cpus=%d %s%s%s workload=%s round_ops=%d "
           "irq=%.0f/s nmi=%.0f/s ipi=%.0f/s jitter=%.2f watchdog=%.1fs "
           "bugs=%s%s%s fresh_every=%d",
           o.seed, o.config.smp ? o.config.nr_cpus : 1,
           o.config.preempt_rt ? "PREEMPT_RT" : "!PREEMPT_RT",
           o.config.smp ? " SMP" : " UP",
           o.config.preempt_count ? "" : " !PREEMPT_COUNT",
           WorkloadName(o.workload.kind), o.workload.round_ops, o.irq_rate,
           o.nmi_rate, o.ipi_rate, o.jitter, o.watchdog_s,
           BugSetToString(o.bugs).c_str(), o.lockdep ? "" : " no-lockdep",
           o.parallel ? " parallel" : "", o.fresh_every);
  return buf;
}

}  // namespace reentry::stress
