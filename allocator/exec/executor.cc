#include "allocator/exec/executor.h"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <variant>
#include <vector>

#include "allocator/base/check.h"
#include "allocator/base/fixed_vector.h"
#include "allocator/base/recycle.h"
#include "allocator/exec/fiber.h"
#include "allocator/exec/interpreter.h"
#include "allocator/exec/wait_cycle.h"
#include "allocator/exec/world.h"

namespace reentry::exec {
namespace {

using ctx::ContextKind;
using ctx::Cpu;
using prog::Op;

constexpr size_t kMaxTrace = 100000;

enum class VcpuStatus : uint8_t { kIdle, kRunning, kPaused, kWaiting, kHung };
enum class Job : uint8_t { kOp, kTeardown };

struct ArmedIrq {
  ContextKind kind;
  ctx::PointId point;
  uint8_t remaining;
  const std::vector<Op>* body;
  uint32_t op_index;
};

struct PendingIrq {
  ContextKind kind;
  const std::vector<Op>* body;
  uint32_t op_index;
};

// A pause: the nth arrival at point, counted from the vCPU's last pause().
struct Stop {
  ctx::PointId point;
  uint32_t nth;
};

struct Vcpu {
  VcpuStatus status = VcpuStatus::kIdle;
  Job job = Job::kOp;
  const Op* op = nullptr;
  uint32_t op_index = kNoOp;
  // As many as the program arms (a recorded stress program can arm hundreds
  // in one op), never silently fewer: a vector, kept across runs (Reset).
  std::vector<ArmedIrq> armed;
  FixedVector<PendingIrq, 32> pending;
  // Pauses: pause() starts counting arrivals and arms stops[0];
  // pause_again() appends. They fire in order; next_stop is the next to
  // fire, stopped_at the one the vCPU last stopped at.
  bool counting = false;
  std::vector<Stop> stops;
  uint32_t next_stop = 0;
  int stopped_at = -1;
  uint32_t arrivals[ctx::kNumPoints];  // valid while counting
  OpLocals locals;
  uint64_t runs = 0;  // times Resume() ran it
  int waiting_for = -1;
  const void* wait_lock = nullptr;
  ctx::LockClassId wait_class = ctx::kNoClass;
  uint64_t wait_epoch = 0;

  // A fresh vCPU for the next run, keeping the vectors' memory.
  void Reset() {
    std::vector<ArmedIrq> a = std::move(armed);
    std::vector<Stop> s = std::move(stops);
    *this = Vcpu{};
    a.clear();
    s.clear();
    armed = std::move(a);
    stops = std::move(s);
  }
};

const char* const kTraceNames[] = {"op",       "irq",   "pending",
                                   "irq-done", "pause", "resume",
                                   "wait",     "hang",  "skipped"};

}  // namespace

const char* TraceKindName(TraceKind k) {
  return kTraceNames[static_cast<int>(k)];
}

std::string FormatTraceEntry(const prog::Program& p, const TraceEntry& e) {
  char buf[256];
  const Op* op = e.op_index == kNoOp ? nullptr : prog::OpAt(p, e.op_index);
  const char* name = op != nullptr ? prog::OpName(*op) : "-";
  int n =
      snprintf(buf, sizeof(buf), "cpu%d %-8s %-7s #%-4d %s", e.cpu,
               TraceKindName(e.kind), ctx::ContextName(e.context),
               e.op_index == kNoOp ? -1 : static_cast<int>(e.op_index), name);
  std::string out(buf, n > 0 ? static_cast<size_t>(n) : 0);
  if (e.point != ctx::PointId::kNone) {
    out += " at ";
    out += ctx::PointName(e.point);
  }
  if (e.kind == TraceKind::kWait && e.other_cpu >= 0) {
    out += " (held by cpu" + std::to_string(e.other_cpu) + ")";
  }
  return out;
}

struct Executor::Impl : public ctx::Hooks, public OpHost {
  struct FiberArg {
    Impl* impl;
    int cpu;
  };

  std::vector<std::unique_ptr<Fiber>> fibers;
  FiberArg fiber_args[ctx::kMaxCpus];

  // Per run.
  const prog::Program* program = nullptr;
  RunOptions options;
  std::unique_ptr<World> world;
  bool recycle_worlds = false;
  RunResult* result = nullptr;
  Vcpu vcpus[ctx::kMaxCpus];
  std::vector<uint32_t> top_index;  // pre-order index of each top-level op
  std::vector<int> top_cpu;         // vCPU of each top-level op (-1: cpu())
  std::vector<bool> consumed;
  bool run_ended = false;
  uint64_t epoch = 0;  // counts progress: a vCPU that did not just re-block
  uint32_t steps = 0;

  // ---- Tracing ----
  void Trace(TraceKind kind, Cpu& cpu, uint32_t op_index,
             ctx::PointId point = ctx::PointId::kNone, int other = -1) {
    if (!options.trace || result->trace.size() >= kMaxTrace) return;
    TraceEntry e{kind,
                 static_cast<int8_t>(cpu.id()),
                 static_cast<uint8_t>(cpu.depth()),
                 cpu.context(),
                 op_index,
                 point,
                 static_cast<int8_t>(other)};
    result->trace.push_back(e);
  }

  // ---- Fiber side ----
  static void FiberEntry(void* arg) {
    auto* a = static_cast<FiberArg*>(arg);
    a->impl->FiberLoop(a->cpu);
  }

  [[noreturn]] void FiberLoop(int c) {
    for (;;) {
      Vcpu& v = vcpus[c];
      Cpu& cpu = world->kernel.cpu(c);
      if (v.job == Job::kOp) {
        RunOp(cpu, v, *v.op, v.op_index);
      } else {
        world->mm->CheckInvariants(/*teardown=*/true);
      }
      v.status = VcpuStatus::kIdle;
      fibers[c]->Yield();
    }
  }

  void RunBody(Cpu& cpu, Vcpu& v, const std::vector<Op>& body,
               uint32_t first_index) {
    uint32_t index = first_index;
    for (const Op& op : body) {
      if (run_ended) return;
      RunOp(cpu, v, op, index);
      index += 1;
      if (const auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
        index += static_cast<uint32_t>(prog::CountOps(irq->body));
      }
    }
  }

  void Fire(Cpu& cpu, Vcpu& v, const PendingIrq& irq) {
    const uint32_t saved_op = cpu.op_index();
    Trace(TraceKind::kIrqFire, cpu, irq.op_index);
    cpu.EnterContext(irq.kind);
    RunBody(cpu, v, *irq.body, irq.op_index + 1);
    Trace(TraceKind::kIrqDone, cpu, irq.op_index);
    cpu.ExitContext();  // irq_exit() may run pending softirqs
    v.locals.DropAbove(cpu.depth());
    cpu.set_op_index(saved_op);
    DeliverPending(cpu);
  }

  // Fires irq now if the vCPU's state allows it, else leaves it pending.
  void Deliver(Cpu& cpu, Vcpu& v, const PendingIrq& irq) {
    if (run_ended) return;
    if (cpu.CanEnter(irq.kind)) {
      Fire(cpu, v, irq);
      return;
    }
    Trace(TraceKind::kIrqPending, cpu, irq.op_index);
    (void)v.pending.push_back(irq);
  }

  void DeliverPending(Cpu& cpu) {
    Vcpu& v = vcpus[cpu.id()];
    for (;;) {
      if (run_ended || v.pending.empty()) return;
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
      Fire(cpu, v, irq);
    }
  }

  void RunOp(Cpu& cpu, Vcpu& v, const Op& op, uint32_t index) {
    Trace(TraceKind::kOp, cpu, index);
    RunProgramOp(*world, cpu, v.locals, op, index, *this, *result);
  }

  // ---- OpHost ----
  void OnInterruptOp(Cpu& cpu, const prog::Interrupt& o,
                     uint32_t index) override {
    Vcpu& v = vcpus[cpu.id()];
    if (o.at.v == ctx::PointId::kNone) {
      Deliver(cpu, v, PendingIrq{o.kind, &o.body, index});
      return;
    }
    v.armed.push_back(ArmedIrq{o.kind, o.at.v,
                               static_cast<uint8_t>(o.at.nth ? o.at.nth : 1),
                               &o.body, index});
  }
  void OnPauseOp(Cpu& cpu, const prog::Pause& o, uint32_t index) override {
    Vcpu& v = vcpus[cpu.id()];
    v.counting = true;
    memset(v.arrivals, 0, sizeof(v.arrivals));
    v.stops.clear();
    v.next_stop = 0;
    v.stopped_at = -1;
    v.stops.push_back(Stop{o.at.v, o.at.nth ? o.at.nth : 1u});
  }
  void OnPauseAgainOp(Cpu& cpu, const prog::PauseAgain& o,
                      uint32_t index) override {
    Vcpu& v = vcpus[cpu.id()];
    if (!v.counting) {  // no pause() before it: counting starts here
      OnPauseOp(cpu, prog::Pause{o.at}, index);
      return;
    }
    v.stops.push_back(Stop{o.at.v, o.at.nth ? o.at.nth : 1u});
  }
  void OnSkipped(Cpu& cpu, uint32_t index) override {
    Trace(TraceKind::kSkipped, cpu, index);
  }

  // ---- ctx::Hooks (called on a vCPU's fiber) ----
  void InjectionPoint(Cpu& cpu, ctx::PointId point) override {
    Vcpu& v = vcpus[cpu.id()];
    if (run_ended) return;
    FixedVector<PendingIrq, 32> fire;
    std::vector<PendingIrq> more;  // rarely: more than 32 due at once
    for (size_t i = 0; i < v.armed.size();) {
      ArmedIrq& a = v.armed[i];
      if (a.point == point && --a.remaining == 0) {
        const PendingIrq irq{a.kind, a.body, a.op_index};
        if (!fire.push_back(irq)) more.push_back(irq);
        v.armed.erase(v.armed.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      ++i;
    }
    for (const PendingIrq& irq : fire) Deliver(cpu, v, irq);
    for (const PendingIrq& irq : more) Deliver(cpu, v, irq);
    if (options.record_points && v.job == Job::kOp && !run_ended) {
      // After the interrupts taken here, as the stress runner logs it.
      result->points.push_back(
          PointArrival{static_cast<int8_t>(cpu.id()), point});
    }
    if (v.counting) {
      const uint32_t n = ++v.arrivals[static_cast<int>(point)];
      if (v.next_stop < v.stops.size() && v.stops[v.next_stop].point == point &&
          v.stops[v.next_stop].nth == n) {
        v.stopped_at = static_cast<int>(v.next_stop++);
        Trace(TraceKind::kPause, cpu, cpu.op_index(), point);
        v.status = VcpuStatus::kPaused;
        fibers[cpu.id()]->Yield();
      }
    }
  }

  void IrqsEnabled(Cpu& cpu) override { DeliverPending(cpu); }
  void SoftirqsMayRun(Cpu& cpu) override { DeliverPending(cpu); }

  void Wait(Cpu& cpu, const void* lock, ctx::LockClassId cls,
            int holder) override {
    Vcpu& v = vcpus[cpu.id()];
    const bool repeat = v.wait_lock == lock && v.waiting_for == holder;
    if (!repeat)
      Trace(TraceKind::kWait, cpu, cpu.op_index(), ctx::PointId::kNone, holder);
    v.status = VcpuStatus::kWaiting;
    v.waiting_for = holder;
    v.wait_lock = lock;
    v.wait_class = cls;
    v.wait_epoch = epoch;
    fibers[cpu.id()]->Yield();
  }

  [[noreturn]] void Hang(Cpu& cpu) override {
    Trace(TraceKind::kHang, cpu, cpu.op_index());
    vcpus[cpu.id()].status = VcpuStatus::kHung;
    run_ended = true;
    for (;;) fibers[cpu.id()]->Yield();  // never resumed
  }

  // ---- Scheduler side ----
  void Resume(int c) {
    Vcpu& v = vcpus[c];
    Cpu& cpu = world->kernel.cpu(c);
    if (v.status == VcpuStatus::kPaused || v.status == VcpuStatus::kWaiting) {
      if (v.status == VcpuStatus::kPaused) {
        Trace(TraceKind::kResume, cpu, cpu.op_index());
      }
    }
    const bool was_waiting = v.status == VcpuStatus::kWaiting;
    const void* lock = v.wait_lock;
    const int holder = v.waiting_for;
    ++steps;
    ++v.runs;
    v.status = VcpuStatus::kRunning;
    ctx::set_this_cpu(&cpu);
    fibers[c]->SwitchTo();
    ctx::set_this_cpu(nullptr);
    // Progress is anything but retrying the same wait and blocking again.
    if (!(was_waiting && v.status == VcpuStatus::kWaiting &&
          v.wait_lock == lock && v.waiting_for == holder)) {
      ++epoch;
    }
    if (v.status != VcpuStatus::kWaiting) {
      v.wait_lock = nullptr;
      v.waiting_for = -1;
    }
  }

  void Start(int c, const Op& op, uint32_t index) {
    Vcpu& v = vcpus[c];
    v.job = Job::kOp;
    v.op = &op;
    v.op_index = index;
    Resume(c);
  }

  // Next unconsumed top-level op at or after `from` for vCPU c.
  int NextOpFor(int c, size_t from) const {
    for (size_t j = from; j < program->ops.size(); ++j) {
      if (!consumed[j] && top_cpu[j] == c) return static_cast<int>(j);
    }
    return -1;
  }

  void ReportWaitCycle(const std::vector<int>& chain, const char* why) {
    std::vector<CycleWaiter> waiters;
    for (int c : chain) waiters.push_back({c, vcpus[c].wait_class});
    world->kernel.Report(MakeWaitCycleFinding(world->kernel, waiters, why));
    run_ended = true;
  }

  // Makes progress towards vCPU c becoming idle.
  void Drive(int c, size_t cursor) {
    if (++steps > options.max_steps) {
      Cpu& cpu = world->kernel.cpu(c);
      Finding f = cpu.MakeFinding(FindingKind::kRetryLivelock, nullptr);
      f.SetDetail("the vCPUs made no overall progress within the step budget");
      world->kernel.Report(f);
      run_ended = true;
      return;
    }
    Vcpu& v = vcpus[c];
    switch (v.status) {
      case VcpuStatus::kPaused:
        Resume(c);
        return;
      case VcpuStatus::kWaiting:
        break;
      default:
        run_ended = true;  // hung (already reported) or inconsistent
        return;
    }
    if (v.wait_epoch != epoch) {
      Resume(c);  // something ran since it started waiting: retry
      return;
    }
    std::vector<int> chain{c};
    int h = v.waiting_for;
    for (;;) {
      if (h < 0 || h >= world->kernel.nr_cpus()) {
        ReportWaitCycle(chain, "waits for a lock whose holder is unknown");
        return;
      }
      for (int x : chain) {
        if (x == h) {
          ReportWaitCycle(chain,
                          "each vCPU in the cycle waits for a lock held by "
                          "the next one: none can make progress");
          return;
        }
      }
      Vcpu& vh = vcpus[h];
      switch (vh.status) {
        case VcpuStatus::kWaiting:
          if (vh.wait_epoch != epoch) {
            Resume(h);
            return;
          }
          chain.push_back(h);
          h = vh.waiting_for;
          continue;
        case VcpuStatus::kPaused:
          Resume(h);
          return;
        case VcpuStatus::kIdle: {
          // The holder keeps the lock between ops: run its next op early.
          const int j = NextOpFor(h, cursor);
          if (j < 0) {
            chain.push_back(h);
            ReportWaitCycle(chain,
                            "the lock is held by a vCPU that has no more "
                            "work: it is never released");
            return;
          }
          consumed[j] = true;
          Start(h, program->ops[j], top_index[j]);
          return;
        }
        default:
          run_ended = true;
          return;
      }
    }
  }

  // resume(at) on vCPU c: drives it until it stops at the pause armed for
  // `at` or a later one, until it is idle, or until it ran and blocked on
  // a lock held on another vCPU (which then runs only when the program
  // says so: a recorded schedule has the holder's turn next).
  void ResumeTo(int c, const prog::PointArg& at, size_t cursor) {
    Vcpu& v = vcpus[c];
    const uint64_t runs = v.runs;
    int target = -1;
    if (at.v != ctx::PointId::kNone) {
      const uint32_t nth = at.nth ? at.nth : 1u;
      for (size_t k = 0; k < v.stops.size(); ++k) {
        if (v.stops[k].point == at.v && v.stops[k].nth == nth) {
          target = static_cast<int>(k);
          break;
        }
      }
    }
    while (!run_ended && v.status != VcpuStatus::kIdle) {
      if (v.status == VcpuStatus::kPaused && target >= 0 &&
          v.stopped_at >= target) {
        return;
      }
      if (v.status == VcpuStatus::kWaiting && v.runs != runs) return;
      Drive(c, cursor);
    }
  }

  bool AllIdle() const {
    for (int c = 0; c < world->kernel.nr_cpus(); ++c) {
      if (vcpus[c].status != VcpuStatus::kIdle) return false;
    }
    return true;
  }

  bool AnyLockHeld() {
    for (int c = 0; c < world->kernel.nr_cpus(); ++c) {
      if (!world->kernel.cpu(c).held().empty()) return true;
    }
    return false;
  }

  void Run(const prog::Program& p, const RunOptions& opts, RunResult& out) {
    program = &p;
    options = opts;
    result = &out;
    run_ended = false;
    epoch = 0;
    steps = 0;

    ctx::Config config = opts.config ? *opts.config : p.config;
    if (config.nr_cpus < 1) config.nr_cpus = 1;
    if (config.nr_cpus > ctx::kMaxCpus) config.nr_cpus = ctx::kMaxCpus;
    const BugSet bugs =
        BugSet::FromBits(p.bugs.bits() | opts.extra_bugs.bits());
    {
      RecycleScope recycle(recycle_worlds);
      world = std::make_unique<World>(config, bugs, p, opts.lockdep);
    }
    world->kernel.SetHooks(this);
    out.config = world->kernel.config();
    out.bugs = bugs;
    const int nr = world->kernel.nr_cpus();

    while (static_cast<int>(fibers.size()) < nr) {
      fibers.push_back(std::make_unique<Fiber>());
    }
    for (int c = 0; c < nr; ++c) {
      vcpus[c].Reset();
      fiber_args[c] = FiberArg{this, c};
      fibers[c]->Reset(&Impl::FiberEntry, &fiber_args[c]);
    }

    // Which vCPU each top-level op runs on, and its pre-order index.
    const size_t n = p.ops.size();
    top_index.assign(n, 0);
    top_cpu.assign(n, -1);
    consumed.assign(n, false);
    uint32_t index = 0;
    int cur = 0;
    for (size_t i = 0; i < n; ++i) {
      top_index[i] = index;
      index += 1;
      if (const auto* irq = std::get_if<prog::Interrupt>(&p.ops[i].v)) {
        index += static_cast<uint32_t>(prog::CountOps(irq->body));
      }
      if (const auto* sw = std::get_if<prog::SwitchCpu>(&p.ops[i].v)) {
        if (sw->cpu.v < nr) cur = sw->cpu.v;
        continue;
      }
      top_cpu[i] = cur;
    }

    for (size_t i = 0; i < n && !run_ended; ++i) {
      if (consumed[i] || top_cpu[i] < 0) continue;
      const int c = top_cpu[i];
      if (const auto* r = std::get_if<prog::Resume>(&p.ops[i].v)) {
        consumed[i] = true;
        Trace(TraceKind::kOp, world->kernel.cpu(c), top_index[i]);
        ResumeTo(c, r->at, i);
        continue;
      }
      while (vcpus[c].status != VcpuStatus::kIdle && !run_ended) Drive(c, i);
      if (run_ended) break;
      consumed[i] = true;
      Start(c, p.ops[i], top_index[i]);
      if (opts.invariants_every_op && !run_ended && AllIdle()) {
        world->mm->CheckInvariants(/*teardown=*/false);
      }
    }
    // The program is over: let every vCPU finish what it started.
    while (!run_ended) {
      int busy = -1;
      for (int c = 0; c < nr; ++c) {
        if (vcpus[c].status != VcpuStatus::kIdle) {
          busy = c;
          break;
        }
      }
      if (busy < 0) break;
      Drive(busy, n);
    }
    if (!run_ended) {
      for (int c = 0; c < nr; ++c) {
        for (const PendingIrq& irq : vcpus[c].pending) {
          Trace(TraceKind::kSkipped, world->kernel.cpu(c), irq.op_index);
        }
        world->kernel.cpu(c).CheckReturnToUser();
      }
      // Teardown frees the program's pages; it takes allocator locks, so it
      // runs on a vCPU, and only when nothing is left locked.
      if (!AnyLockHeld()) {
        vcpus[0].job = Job::kTeardown;
        Resume(0);
        while (!run_ended && vcpus[0].status != VcpuStatus::kIdle) {
          Drive(0, n);
        }
      }
    }
    out.completed = !run_ended;
    out.findings = world->kernel.findings();
    world->kernel.SetHooks(nullptr);
    {
      // The next run's world takes this one's blocks.
      RecycleScope recycle(recycle_worlds);
      world.reset();
    }
    program = nullptr;
    result = nullptr;
  }
};

Executor::Executor() : impl_(std::make_unique<Impl>()) {}
Executor::~Executor() = default;

RunResult Executor::Run(const prog::Program& p, const RunOptions& options) {
  RunResult result;
  if (options.trace) result.trace.reserve(256);
  impl_->Run(p, options, result);
  return result;
}

void Executor::set_recycle_worlds(bool on) { impl_->recycle_worlds = on; }

}  // namespace reentry::exec
