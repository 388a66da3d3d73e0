// Tests of the stress runner. The deterministic parts (workload streams,
// handler catalogs, the replay builder) first; then short real runs with
// timers and signals (each a few seconds; CTest runs them serially).
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "allocator/base/gfp.h"
#include "allocator/exec/executor.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"
#include "allocator/report/report.h"
#include "stress/html_report.h"
#include "stress/replay.h"
#include "stress/runner.h"
#include "stress/workload.h"

namespace reentry::stress {
namespace {

prog::Program RoundProgram(const WorkloadOptions& o, uint64_t seed, int cpu,
                           uint64_t round) {
  prog::Program p;
  p.config = o.config;
  p.locks = WorkloadLocks(o);
  for (const StreamItem& it : GenerateRound(o, seed, cpu, round)) {
    p.ops.push_back(it.op);
  }
  return p;
}

// ---- workloads ----

TEST(WorkloadTest, RoundsAreReproducibleValidAndDiffer) {
  for (int k = 0; k < static_cast<int>(WorkloadKind::kCount); ++k) {
    for (int cpus : {1, 2, 4}) {
      WorkloadOptions o;
      o.kind = static_cast<WorkloadKind>(k);
      o.config.nr_cpus = cpus;
      o.invalid_gfp = 0.1;
      for (uint64_t round : {0, 1, 77}) {
        const prog::Program a = RoundProgram(o, 42, cpus - 1, round);
        const prog::Program b = RoundProgram(o, 42, cpus - 1, round);
        EXPECT_EQ(a, b);
        std::string error;
        EXPECT_TRUE(prog::ValidateProgram(a, &error)) << error;
        EXPECT_GE(a.ops.size(), static_cast<size_t>(o.round_ops));
        if (o.kind != WorkloadKind::kLocksAbba) {  // the same every round
          EXPECT_FALSE(a == RoundProgram(o, 43, cpus - 1, round))
              << WorkloadName(o.kind) << " round " << round;
        }
      }
    }
  }
}

TEST(WorkloadTest, SlotLayoutsAreDisjoint) {
  for (int n = 1; n <= MaxCpus(WorkloadKind::kMm); ++n) {
    std::set<int> used;
    for (int c = 0; c < n; ++c) {
      const SlotLayout l = LayoutFor(c, n);
      std::vector<int> all = l.task;
      all.insert(all.end(), {l.softirq, l.hardirq, l.nmi});
      if (n > 1) all.push_back(l.transfer);
      EXPECT_GE(l.task.size(), 4u);
      for (int s : all) {
        EXPECT_GE(s, 0);
        EXPECT_LT(s, prog::kMaxSlots);
        EXPECT_TRUE(used.insert(s).second) << "slot " << s << " twice";
      }
    }
  }
}

// A round of the locks workload is a balanced, correct caller: run alone in
// the executor it finds nothing.
TEST(WorkloadTest, LocksRoundRunsCleanInTheExecutor) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  for (uint64_t round = 0; round < 20; ++round) {
    const prog::Program p = RoundProgram(o, 5, 0, round);
    exec::Executor ex;
    const exec::RunResult r = ex.Run(p);
    for (const Finding& f : r.findings) {
      ADD_FAILURE() << "round " << round << ": " << report::Title(f);
    }
  }
}

TEST(WorkloadTest, HandlerBodiesAreValidPrograms) {
  for (int k = 0; k < static_cast<int>(WorkloadKind::kCount); ++k) {
    for (bool rt : {false, true}) {
      WorkloadOptions o;
      o.kind = static_cast<WorkloadKind>(k);
      o.config.preempt_rt = rt;
      HandlerCatalog cat(o, 2);
      for (int s = 0; s < static_cast<int>(IrqSource::kCount); ++s) {
        ASSERT_GT(cat.size(1, static_cast<IrqSource>(s)), 0);
        for (int i = 0; i < cat.size(1, static_cast<IrqSource>(s)); ++i) {
          const Handler& h = cat.handler(1, static_cast<IrqSource>(s), i);
          prog::Program p;
          p.locks = WorkloadLocks(o);
          prog::Interrupt irq;
          irq.kind = h.kind;
          irq.body = h.body;
          p.ops.push_back(prog::Op(irq));
          std::string error;
          EXPECT_TRUE(prog::ValidateProgram(p, &error))
              << h.name << ": " << error;
        }
      }
    }
  }
}

// ---- replay builder ----

// PREEMPT_RT never runs softirqs at irq_exit() (invoke_softirq() wakes
// ksoftirqd): hard handlers raise none and allocate only with the nolock
// API; the softirq work runs from the streams, between episodes. Before,
// the raised softirq ran on top of the interrupted task with spinning
// allocations and deadlocked on locks it held (page_owner's
// stack_list_lock), which a real RT kernel cannot do.
TEST(WorkloadTest, RtHardHandlersRaiseNoSoftirqAndOnlyUseNolock) {
  for (WorkloadKind k : {WorkloadKind::kMm, WorkloadKind::kLocks}) {
    WorkloadOptions o;
    o.kind = k;
    o.config.preempt_rt = true;
    o.config.nr_cpus = 2;
    HandlerCatalog cat(o, 2);
    for (int c = 0; c < 2; ++c) {
      for (int s = 0; s < static_cast<int>(IrqSource::kCount); ++s) {
        const IrqSource src = static_cast<IrqSource>(s);
        for (int i = 0; i < cat.size(c, src); ++i) {
          const Handler& h = cat.handler(c, src, i);
          for (const prog::Op& op : h.body) {
            EXPECT_EQ(std::get_if<prog::Interrupt>(&op.v), nullptr) << h.name;
            EXPECT_EQ(std::get_if<prog::AllocPages>(&op.v), nullptr) << h.name;
            EXPECT_EQ(std::get_if<prog::FreePages>(&op.v), nullptr) << h.name;
          }
        }
      }
    }
    int softirqs = 0;
    for (uint64_t round = 0; round < 8; ++round) {
      for (const StreamItem& it : GenerateRound(o, 42, 1, round)) {
        const auto* irq = std::get_if<prog::Interrupt>(&it.op.v);
        if (irq != nullptr && irq->kind == ctx::ContextKind::kSoftirq) {
          ++softirqs;
        }
      }
    }
    EXPECT_GT(softirqs, 0) << WorkloadName(k);
  }
}

// A vCPU's round log as the runner writes it: LogOp appends an op that began
// at time (or stretch) t, LogEvent an event of the last op (a point arrival,
// a lock wait, its end).
void LogOp(RoundLog& l, uint64_t t, prog::Op o) {
  LogEntry e;
  e.kind = LogEntry::Kind::kOp;
  e.op = static_cast<uint32_t>(l.ops.size());
  e.t = t;
  l.ops.push_back(std::move(o));
  l.entries.push_back(e);
}
void LogEvent(RoundLog& l, uint64_t t, LogEntry::Kind kind,
              ctx::PointId pt = ctx::PointId::kNone, uint32_t nth = 0) {
  LogEntry e;
  e.kind = kind;
  e.op = static_cast<uint32_t>(l.ops.size() - 1);
  e.t = t;
  e.point = pt;
  e.nth = nth;
  l.entries.push_back(e);
}

TEST(ReplayTest, OrdersOpsByStartTimeAndPlacesInterruptsAndPauses) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 2);
  RoundLog l0, l1;
  l0.Clear(3);
  l1.Clear(3);
  auto op = [](RoundLog& l, uint64_t t, prog::Op o) {
    LogOp(l, t, std::move(o));
    LogEvent(l, t + 5, LogEntry::Kind::kEnd);
  };
  prog::LockCall lock;
  lock.verb = prog::LockVerb::kSpinLockIrqsave;
  lock.lock.v = 2;  // A
  prog::LockCall unlock = lock;
  unlock.verb = prog::LockVerb::kSpinUnlockIrqrestore;
  // vCPU 1 takes an interrupt at the boundary before its first op, and an
  // NMI at the 2nd arrival of a point during it.
  LogEntry irq;
  irq.kind = LogEntry::Kind::kIrq;
  irq.op = 0;
  irq.irq_kind = ctx::ContextKind::kHardirq;
  irq.source = IrqSource::kTimer;
  irq.handler = 0;
  irq.boundary = true;
  irq.t = 5;
  l1.entries.push_back(irq);
  op(l1, 10, prog::Op(lock));
  LogEntry nmi = irq;
  nmi.irq_kind = ctx::ContextKind::kNmi;
  nmi.source = IrqSource::kNmi;
  nmi.boundary = false;
  nmi.point = ctx::PointId::kRtSpinLockWaitLock;
  nmi.nth = 2;
  l1.entries.push_back(nmi);
  op(l1, 30, prog::Op(unlock));
  // vCPU 0 starts later and waits for vCPU 1's first op.
  op(l0, 20, prog::Op(lock));
  LogEntry h;
  h.kind = LogEntry::Kind::kHandoff;
  h.op = 0;
  h.holder = 1;
  h.holder_op = 0;
  h.point = ctx::PointId::kRtSpinLockWaitLock;
  h.nth = 1;
  l0.entries.push_back(h);
  op(l0, 40, prog::Op(unlock));
  ctx::Config cfg;
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(
      BuildReplay({{&l0, &l1}}, cat, WorkloadLocks(o), cfg, BugSet{}, &p, &rs));
  EXPECT_EQ(rs.ops, 4u);
  EXPECT_EQ(rs.interrupts, 2u);
  EXPECT_EQ(rs.pauses, 0u);  // no vCPU was inside an op at a point
  std::string error;
  ASSERT_TRUE(prog::ValidateProgram(p, &error)) << error;
  const std::string text = prog::ProgramToText(p);
  // cpu1's first op (ends at t=15) with the NMI armed at its point and the
  // boundary interrupt at once, then cpu0 (t=25), cpu1 (t=35), cpu0 (t=45).
  const size_t c1 = text.find("cpu(1)");
  const size_t armed = text.find("nmi(rt_spin_lock:wait_lock, 2)");
  const size_t now = text.find("hardirq() {");
  const size_t c0 = text.find("cpu(0)");
  ASSERT_NE(c1, std::string::npos) << text;
  ASSERT_NE(armed, std::string::npos) << text;
  ASSERT_NE(now, std::string::npos) << text;
  ASSERT_NE(c0, std::string::npos) << text;
  EXPECT_LT(c1, armed);
  EXPECT_LT(armed, now);
  EXPECT_LT(now, c0);
  EXPECT_EQ(text.find("pause"), std::string::npos) << text;
}

// A vCPU idle at the barrier counts each interrupt it takes from that
// interrupt on (a segment of the slot after its last op). An NMI that
// landed at the 1st arrival of a point inside the second idle interrupt's
// handler is armed right before that handler, not before the first one
// (whose handler passes the point too and would take it early).
TEST(ReplayTest, IdleInterruptsAreCountedFromTheirOwnStart) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 1);
  RoundLog l;
  l.Clear(0);
  LogEntry op;
  op.kind = LogEntry::Kind::kOp;
  op.t = 1;
  l.ops.push_back(prog::Op(prog::PreemptDisable{}));
  l.entries.push_back(op);
  op.t = 2;
  op.op = 1;
  l.ops.push_back(prog::Op(prog::PreemptEnable{}));
  l.entries.push_back(op);
  LogEntry irq;
  irq.kind = LogEntry::Kind::kIrq;
  irq.op = 2;  // the tail
  irq.irq_kind = ctx::ContextKind::kHardirq;
  irq.source = IrqSource::kTimer;
  irq.handler = 0;
  irq.boundary = true;
  for (uint16_t seg = 0; seg < 2; ++seg) {
    irq.seg = seg;
    irq.t = 10 + 10 * seg;
    l.entries.push_back(irq);
  }
  LogEntry nmi = irq;
  nmi.irq_kind = ctx::ContextKind::kNmi;
  nmi.source = IrqSource::kNmi;
  nmi.boundary = false;
  nmi.point = ctx::PointId::kRtSpinLockWaitLock;
  nmi.nth = 1;
  nmi.seg = 1;
  nmi.t = 21;
  l.entries.push_back(nmi);
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(BuildReplay({{&l}}, cat, WorkloadLocks(o), ctx::Config{},
                          BugSet{}, &p, &rs));
  EXPECT_EQ(rs.interrupts, 3u);
  // preempt_disable, preempt_enable, hardirq() (segment 0), then segment 1:
  // the armed NMI, then its hardirq().
  ASSERT_EQ(p.ops.size(), 5u) << prog::ProgramToText(p);
  const auto* first = std::get_if<prog::Interrupt>(&p.ops[2].v);
  const auto* armed = std::get_if<prog::Interrupt>(&p.ops[3].v);
  const auto* second = std::get_if<prog::Interrupt>(&p.ops[4].v);
  ASSERT_TRUE(first && armed && second) << prog::ProgramToText(p);
  EXPECT_EQ(first->at.v, ctx::PointId::kNone);
  EXPECT_EQ(armed->kind, ctx::ContextKind::kNmi);
  EXPECT_EQ(armed->at.v, ctx::PointId::kRtSpinLockWaitLock);
  EXPECT_EQ(second->at.v, ctx::PointId::kNone);
}

// vCPU 0's op A (t=10..100) passes P (t=20), P again (t=40) and Q (t=60);
// vCPU 1's op B (t=25..50) passes R (t=30), its op C runs t=70..80. The
// replay interleaves the stretches between points as they ran: A stops at
// its three places, B at R, and each resume() names the next stop.
TEST(ReplayTest, InterleavesTheStretchesBetweenPointsAsTheyRan) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 2);
  RoundLog l0, l1;
  l0.Clear(0);
  l1.Clear(0);
  const auto op = LogOp;
  auto point = [](RoundLog& l, uint64_t t, ctx::PointId pt, uint32_t nth,
                  LogEntry::Kind kind = LogEntry::Kind::kPoint) {
    LogEvent(l, t, kind, pt, nth);
  };
  const auto kP = ctx::PointId::kRmqueueBulkZoneLocked;
  const auto kQ = ctx::PointId::kFreeOnePageZoneLocked;
  const auto kR = ctx::PointId::kRtSpinLockWaitLock;
  const auto kEnd = LogEntry::Kind::kEnd;
  op(l0, 10, prog::Op(prog::PreemptDisable{}));
  point(l0, 20, kP, 1);
  point(l0, 40, kP, 2);
  point(l0, 60, kQ, 1);
  point(l0, 100, ctx::PointId::kNone, 0, kEnd);
  op(l1, 25, prog::Op(prog::MigrateDisable{}));
  point(l1, 30, kR, 1);
  point(l1, 50, ctx::PointId::kNone, 0, kEnd);
  op(l1, 70, prog::Op(prog::MigrateEnable{}));
  point(l1, 80, ctx::PointId::kNone, 0, kEnd);
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(BuildReplay({{&l0, &l1}}, cat, WorkloadLocks(o), ctx::Config{},
                          BugSet{}, &p, &rs));
  EXPECT_EQ(rs.pauses, 4u);
  EXPECT_EQ(rs.resumes, 4u);
  std::string error;
  ASSERT_TRUE(prog::ValidateProgram(p, &error)) << error;
  const std::string text = prog::ProgramToText(p);
  EXPECT_EQ(text.substr(text.find("pause(")),
            "pause(rmqueue_bulk:zone_locked)\n"
            "pause_again(rmqueue_bulk:zone_locked, 2)\n"
            "pause_again(free_one_page:zone_locked)\n"
            "preempt_disable()\n"
            "cpu(1)\n"
            "pause(rt_spin_lock:wait_lock)\n"
            "migrate_disable()\n"
            "cpu(0)\n"
            "resume(rmqueue_bulk:zone_locked, 2)\n"
            "cpu(1)\n"
            "resume()\n"
            "cpu(0)\n"
            "resume(free_one_page:zone_locked)\n"
            "cpu(1)\n"
            "migrate_enable()\n"
            "cpu(0)\n"
            "resume()\n");
}

// vCPU 0's op A passes P, then waits for a lock vCPU 1 holds (a serialized
// run: vCPU 1's op B runs meanwhile, releasing it), then passes Q. The
// replay does not stop vCPU 0 at the wait: it blocks there by itself, and
// its resume() returns there (the executor runs the holder only when the
// program says so).
TEST(ReplayTest, AWaitEndsAStretchWithoutAStop) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 2);
  RoundLog l0, l1;
  l0.Clear(0);
  l1.Clear(0);
  LogOp(l0, 1, prog::Op(prog::PreemptDisable{}));
  LogEvent(l0, 2, LogEntry::Kind::kPoint, ctx::PointId::kRmqueueBulkZoneLocked,
           1);
  LogEvent(l0, 3, LogEntry::Kind::kWait);
  LogOp(l1, 4, prog::Op(prog::MigrateDisable{}));
  LogEvent(l1, 5, LogEntry::Kind::kEnd);
  LogEvent(l0, 6, LogEntry::Kind::kPoint, ctx::PointId::kFreeOnePageZoneLocked,
           1);
  LogEvent(l0, 7, LogEntry::Kind::kEnd);
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(BuildReplay({{&l0, &l1}}, cat, WorkloadLocks(o), ctx::Config{},
                          BugSet{}, &p, &rs));
  EXPECT_EQ(rs.pauses, 0u);
  EXPECT_EQ(rs.inexact, 0u);
  std::string error;
  ASSERT_TRUE(prog::ValidateProgram(p, &error)) << error;
  const std::string text = prog::ProgramToText(p);
  EXPECT_EQ(text.substr(text.find("preempt_disable")),
            "preempt_disable()\n"
            "cpu(1)\n"
            "migrate_disable()\n"
            "cpu(0)\n"
            "resume()\n");
}

// A serialized run numbers stretches, and an op's entry carries the number
// of the last stretch before it: with last_event (the stretch a finding was
// reported in) each vCPU's log ends there, and ops that began later are
// left out.
TEST(ReplayTest, EndsAtTheStretchOfTheFinding) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 2);
  RoundLog l0, l1;
  l0.Clear(0);
  l1.Clear(0);
  LogOp(l0, 0, prog::Op(prog::PreemptDisable{}));  // A
  LogEvent(l0, 1, LogEntry::Kind::kPoint, ctx::PointId::kRmqueueBulkZoneLocked,
           1);
  LogEvent(l0, 2, LogEntry::Kind::kEnd);
  LogOp(l1, 2, prog::Op(prog::MigrateDisable{}));  // C: its stretch is 3
  LogEvent(l1, 3, LogEntry::Kind::kEnd);
  LogOp(l0, 2, prog::Op(prog::PreemptEnable{}));  // B: began before 3 ended
  LogEvent(l0, 5, LogEntry::Kind::kPoint, ctx::PointId::kFreeOnePageZoneLocked,
           1);
  LogEvent(l0, 6, LogEntry::Kind::kEnd);
  LogOp(l1, 3, prog::Op(prog::MigrateEnable{}));  // D: after 3
  LogEvent(l1, 7, LogEntry::Kind::kEnd);
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(BuildReplay({{&l0, &l1}}, cat, WorkloadLocks(o), ctx::Config{},
                          BugSet{}, &p, &rs, {}, /*last_event=*/3));
  const std::string text = prog::ProgramToText(p);
  EXPECT_EQ(text.substr(text.find("preempt_disable")),
            "preempt_disable()\n"
            "cpu(1)\n"
            "migrate_disable()\n"
            "cpu(0)\n"
            "preempt_enable()\n");
  ASSERT_TRUE(BuildReplay({{&l0, &l1}}, cat, WorkloadLocks(o), ctx::Config{},
                          BugSet{}, &p, &rs));
  EXPECT_EQ(rs.ops, 4u);  // without it, all four
}

// Two vCPUs whose every op stopped at a point while the other ran: with
// every stop the program is too long, so it is built with the ops whole,
// in order of their ends.
TEST(ReplayTest, TooManyStopsFallsBackToWholeOps) {
  WorkloadOptions o;
  o.kind = WorkloadKind::kLocks;
  HandlerCatalog cat(o, 2);
  RoundLog l[2];
  for (int c = 0; c < 2; ++c) {
    l[c].Clear(0);
    for (uint32_t i = 0; i < 700; ++i) {
      LogEntry e;
      e.op = i;
      e.t = 10 * i + c;
      l[c].ops.push_back(prog::Op(prog::PreemptDisable{}));
      l[c].entries.push_back(e);
      e.kind = LogEntry::Kind::kPoint;
      e.point = ctx::PointId::kRmqueueBulkZoneLocked;
      e.nth = 1;
      e.t = 10 * i + 2 + c;
      l[c].entries.push_back(e);
      e.kind = LogEntry::Kind::kEnd;
      e.t = 10 * i + 4 + c;
      l[c].entries.push_back(e);
    }
  }
  prog::Program p;
  ReplayStats rs;
  ASSERT_TRUE(
      BuildReplay({{&l[0], &l[1]}}, cat, {}, ctx::Config{}, BugSet{}, &p, &rs));
  EXPECT_TRUE(rs.coarse);
  EXPECT_EQ(rs.pauses, 0u);
  EXPECT_EQ(rs.ops, 1400u);
  EXPECT_LE(prog::CountOps(p.ops), static_cast<size_t>(prog::kMaxOps));
}

TEST(ReplayTest, TooManyOpsIsRefused) {
  WorkloadOptions o;
  HandlerCatalog cat(o, 1);
  RoundLog l;
  l.Clear(0);
  for (int i = 0; i < prog::kMaxOps + 1; ++i) {
    LogEntry e;
    e.op = static_cast<uint32_t>(l.ops.size());
    e.t = i;
    l.ops.push_back(prog::Op(prog::PreemptDisable{}));
    l.entries.push_back(e);
  }
  prog::Program p;
  EXPECT_FALSE(
      BuildReplay({{&l}}, cat, {}, ctx::Config{}, BugSet{}, &p, nullptr));
}

// ---- real runs (timers and signals) ----

StressOptions Short(WorkloadKind k, double seconds) {
  StressOptions o;
  o.seed = 7;
  o.duration_s = seconds;
  o.workload.kind = k;
  o.workload.round_ops = 128;
  o.irq_rate = 5000;
  o.nmi_rate = 500;
  o.ipi_rate = 500;
  o.watchdog_s = 5;
  return o;
}

bool HasTitle(const StressResult& r, const std::string& title) {
  for (const StressFinding& f : r.findings) {
    if (f.title == title) return true;
  }
  return false;
}

// One seeded run that must find one of `titles`, and whose recorded
// programs must reproduce in the executor what it checks: every finding
// (`replay_all`; wait cycles, which the caller checks, left out with
// `skip_wait_cycles`), or the findings with one of `titles`. Prints what
// was found and which replays missed.
StressResult FindAndReplay(const StressOptions& o,
                           const std::vector<std::string>& titles,
                           bool replay_all, bool skip_wait_cycles = false) {
  // Up to kReplayAttempts seeds: a replay can still miss in some timings (a
  // Debug build missed BZ-27's; the LTO build missed the self-deadlock
  // test's about 1 run in 20, 2026-11-21). A retry is printed; the last
  // attempt's misses fail the test.
  constexpr int kReplayAttempts = 3;
  std::string misses;
  for (int attempt = 0;; ++attempt) {
    StressOptions run = o;
    run.seed = o.seed + static_cast<uint64_t>(attempt);
    StressResult r = RunStress(run);
    EXPECT_EQ(r.setup_error, "");
    VerifyReplays(&r);
    std::string seen = "seed " + std::to_string(run.seed) + ", " +
                       std::to_string(r.elapsed_s) + " s:\n";
    bool found = false;
    std::vector<const StressFinding*> unreplayed;
    for (const StressFinding& f : r.findings) {
      seen += "  " + f.title + (f.reproduced_by >= 0 ? " (replayed)\n" : "\n");
      bool wanted = false;
      for (const std::string& t : titles) wanted |= f.title == t;
      found |= wanted;
      if (skip_wait_cycles && f.finding.kind == FindingKind::kWaitCycle) {
        continue;
      }
      if ((replay_all || wanted) && f.reproduced_by < 0) {
        unreplayed.push_back(&f);
      }
    }
    if (found && unreplayed.empty()) {
      if (attempt > 0) {
        printf("replay needed %d attempt(s); earlier misses:\n%s", attempt + 1,
               misses.c_str());
      }
      return r;
    }
    misses += seen;
    if (attempt + 1 < kReplayAttempts) continue;
    for (const StressFinding* f : unreplayed) {
      ADD_FAILURE() << f->title << " did not replay; its recorded program:\n"
                    << f->program;
    }
    EXPECT_TRUE(found) << misses;
    return r;
  }
}

TEST(StressRunTest, CleanLocksWorkloadFindsNothingAndTakesInterrupts) {
  StressResult r = RunStress(Short(WorkloadKind::kLocks, 1.0));
  ASSERT_EQ(r.setup_error, "");
  for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
  EXPECT_GT(r.ops, 1000u);
  EXPECT_GT(r.rounds, 2u);
  EXPECT_GT(r.total->irqs[static_cast<int>(IrqSource::kTimer)].get(), 0u);
  EXPECT_GT(r.total->irqs[static_cast<int>(IrqSource::kNmi)].get(), 0u);
  EXPECT_GT(r.total->irqs[static_cast<int>(IrqSource::kIpi)].get(), 0u);
  EXPECT_GT(r.total->softirqs.get(), 0u);
  EXPECT_EQ(std::string(EndReason(r)), "time");
  // The reports render.
  ReportFiles files;
  EXPECT_NE(StressJson(r, files).find("\"bugs\": 0"), std::string::npos);
  EXPECT_NE(StressHtml(r, files).find("<svg"), std::string::npos);
}

// The mm workload is a correct caller: on the clean model a short run finds
// nothing, with and without PREEMPT_RT. Found by stress before: on RT,
// spin_lock_bh() and GFP_ATOMIC in softirqs were "sleeping function called
// from invalid context" and "inconsistent lock state" (both false
// positives of the model), and IPI task work ran inside a task's
// preempt_disable() section; migration freed a block another vCPU had just
// allocated ("Bad page state ... double free").
class CleanMmTest : public ::testing::TestWithParam<bool> {};

TEST_P(CleanMmTest, FindsNothing) {
  StressOptions o = Short(WorkloadKind::kMm, 2.0);
  o.config.preempt_rt = GetParam();
  o.irq_rate = 10000;
  o.nmi_rate = 2000;
  o.ipi_rate = 2000;
  StressResult r = RunStress(o);
  ASSERT_EQ(r.setup_error, "");
  for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
  EXPECT_GT(r.rounds, 2u);
  EXPECT_GT(r.total->softirqs.get(), 0u);
  EXPECT_EQ(std::string(EndReason(r)), "time");
}

INSTANTIATE_TEST_SUITE_P(Config, CleanMmTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Rt" : "NonRt");
                         });

// A timer IRQ that lands between the task's spin_lock(A) (interrupts on)
// and its unlock, in a handler that takes A: a self-deadlock that only a
// real interrupt reaches. The vCPU parks, the run ends, and the recorded
// program reproduces the title in the executor.
TEST(StressRunTest, InterruptReachedSelfDeadlockIsFoundAndReplayed) {
  StressOptions o = Short(WorkloadKind::kLocksBuggy, 10);
  o.irq_rate = 10000;
  // The hardirq handler's spin_lock(A), or the softirq it raised taking A
  // with spin_lock_irqsave, spins on the interrupted task's A.
  StressResult r =
      FindAndReplay(o,
                    {"BUG: spinlock recursion in spin_lock",
                     "BUG: spinlock recursion in spin_lock_irqsave"},
                    /*replay_all=*/true);
  EXPECT_TRUE(r.ended_by_hang);
  for (const StressFinding& f : r.findings) {
    if (f.finding.kind == FindingKind::kLockRecursion) {
      EXPECT_NE(f.vcpu_state.find("hung (parked)"), std::string::npos)
          << f.vcpu_state;
    }
  }
}

// Runs a kept window's program through the executor and compares the
// points it passes, in order, with the run's; returns "" if they match.
std::string ReplayDiverges(const ReplayWindow& w) {
  prog::ParseError pe;
  std::optional<prog::Program> p = prog::ParseProgram(w.program, &pe);
  if (!p) return pe.ToString();
  exec::RunOptions ro;
  ro.record_points = true;
  exec::Executor ex;
  prog::Program pre = *p;
  pre.ops.resize(w.preamble);
  const size_t skip = ex.Run(pre, ro).points.size();
  const std::vector<exec::PointArrival> got = ex.Run(*p, ro).points;
  // "cpu:point" for arrivals [from, to) of a sequence, as far as it goes.
  const auto context = [](const std::vector<exec::PointArrival>& a, size_t from,
                          size_t to) {
    std::string s;
    for (size_t k = from; k < to && k < a.size(); ++k) {
      s += std::to_string(a[k].cpu) + ":" + ctx::PointName(a[k].point) + " ";
    }
    return s;
  };
  for (size_t i = 0; i < w.points.size(); ++i) {
    const exec::PointArrival& want = w.points[i];
    if (skip + i >= got.size() || !(got[skip + i] == want)) {
      std::string s = "arrival " + std::to_string(i) + " of " +
                      std::to_string(w.points.size()) + ": run cpu" +
                      std::to_string(want.cpu) + " " +
                      ctx::PointName(want.point) + ", replay ";
      if (skip + i < got.size()) {
        s += "cpu" + std::to_string(got[skip + i].cpu) + " " +
             ctx::PointName(got[skip + i].point);
      } else {
        s += "ended";
      }
      const size_t from = i >= 8 ? i - 8 : 0;
      s += "\n  run:    " + context(w.points, from, i + 4);
      s += "\n  replay: " + context(got, skip + from, skip + i + 4);
      return s;
    }
  }
  if (got.size() != skip + w.points.size()) {
    return "the replay passed " + std::to_string(got.size() - skip) +
           " points, the run " + std::to_string(w.points.size());
  }
  return "";
}

// A recorded program replays the run exactly: the executor passes the
// run's points in the run's order, over whole windows (the rounds of one
// model), on PREEMPT_RT too. There rt_spin_lock's wait loop passes its
// point on each retry, as often as timing decides; a retry counts only
// where the replay's waiter retries too: it took an interrupt after
// another vCPU made progress since the wait was logged (the executor
// retries a blocked waiter only then), or the holder changed. Before, an
// interrupt taken at a retry was placed at the arrival before the wait
// (BZ-02's RT replays: 71 of 72); then retries counted while the holder
// had not run (descheduled by the host, it gives the token straight
// back), a wait that began after an interrupt at its first arrival was not
// recognized as one (the handler's points had moved the vCPU's position),
// and a wait that ended without another stretch (the lock released while
// the waiter was stopped in a retry's interrupt) resumed too late.
TEST(StressRunTest, RtWindowsReplayTheRunsPointOrderExactly) {
  size_t with_retry_irqs = 0;
  uint64_t retry_irqs = 0;
  // Interrupts at retries need waits and timing: a few seeds until some
  // kept window has them; every window kept must replay exactly.
  for (uint64_t seed = 7; seed < 19 && with_retry_irqs == 0; ++seed) {
    StressOptions o = Short(WorkloadKind::kMm, 3);
    o.seed = seed;
    o.config.nr_cpus = 2;
    o.config.preempt_rt = true;
    o.irq_rate = 20000;
    o.nmi_rate = 20000;
    o.workload.cma = false;
    o.workload.hotplug = false;
    o.workload.round_ops = 64;
    o.keep_windows = 6;
    StressResult r = RunStress(o);
    ASSERT_EQ(r.setup_error, "");
    for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
    retry_irqs += r.retry_irqs;
    for (const ReplayWindow& w : r.windows) {
      with_retry_irqs += w.retry_irqs > 0;
      EXPECT_EQ(ReplayDiverges(w), "")
          << "seed " << seed << ", " << w.retry_irqs
          << " interrupts at retries; the program:\n"
          << w.program;
    }
  }
  // Not vacuous: some kept windows had interrupts at retries.
  EXPECT_GT(with_retry_irqs, 0u) << retry_irqs << " in the runs";
}

// With --fresh-every the run continues with a fresh model every few rounds
// (torn down and checked first, as at the end of a run): on the clean model
// nothing is found, and the rounds go on.
TEST(StressRunTest, FreshModelsFindNothingOnTheCleanModel) {
  StressOptions o = Short(WorkloadKind::kMm, 1.0);
  o.fresh_every = 1;
  StressResult r = RunStress(o);
  ASSERT_EQ(r.setup_error, "");
  for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
  EXPECT_GT(r.rounds, 4u);
  EXPECT_EQ(std::string(EndReason(r)), "time");
  o.fresh_every = o.history_rounds + 1;
  EXPECT_NE(RunStress(o).setup_error, "");
}

// --parallel: the vCPUs run model code at the same time (for TSan), with
// the same checks; on the clean model nothing is found.
TEST(StressRunTest, ParallelModelCodeFindsNothingOnTheCleanModel) {
  StressOptions o = Short(WorkloadKind::kMm, 1.0);
  o.config.nr_cpus = 2;
  o.parallel = true;
  StressResult r = RunStress(o);
  ASSERT_EQ(r.setup_error, "");
  for (const StressFinding& f : r.findings) ADD_FAILURE() << f.report;
  EXPECT_GT(r.rounds, 2u);
  EXPECT_EQ(std::string(EndReason(r)), "time");
}

// Two vCPUs that take two locks in opposite orders deadlock for real; the
// watchdog sees the wait cycle, ends the run and reports every vCPU's state.
TEST(StressRunTest, WatchdogTurnsARealDeadlockIntoAFinding) {
  StressOptions o = Short(WorkloadKind::kLocksAbba, 30);
  o.watchdog_s = 2;
  // Long rounds: the vCPUs run side by side longer between barriers.
  o.workload.round_ops = 2000;
  // Lockdep saw the inversion too, and every finding but the wait cycle
  // (checked below) replays.
  StressResult r =
      FindAndReplay(o, {"possible deadlock in spin_lock_irqsave"},
                    /*replay_all=*/true, /*skip_wait_cycles=*/true);
  EXPECT_TRUE(r.ended_by_watchdog);
  EXPECT_FALSE(r.threads_stuck);
  // The task's spin_lock_irqsave, or a hardirq handler's spin_lock of the
  // same lock, is named.
  EXPECT_TRUE(HasTitle(r, "BUG: soft lockup in spin_lock_irqsave") ||
              HasTitle(r, "BUG: soft lockup in spin_lock"));
  for (const StressFinding& f : r.findings) {
    if (f.finding.kind != FindingKind::kWaitCycle) continue;
    EXPECT_NE(f.vcpu_state.find("CPU#0"), std::string::npos);
    EXPECT_NE(f.vcpu_state.find("CPU#1"), std::string::npos);
    EXPECT_NE(f.vcpu_state.find("waiting for a lock held by"),
              std::string::npos)
        << f.vcpu_state;
    // The deadlock replays as a deadlock, though the executor's serial
    // schedule may catch another waiter of the cycle first (a hardirq
    // handler waiting for the same lock), which names another function in
    // the title.
    ASSERT_FALSE(f.program.empty());
    prog::ParseError pe;
    auto p = prog::ParseProgram(f.program, &pe);
    ASSERT_TRUE(p.has_value()) << pe.ToString();
    exec::Executor ex;
    EXPECT_TRUE(ex.Run(*p).findings.has(FindingKind::kWaitCycle)) << f.program;
  }
}

// ---- the bug zoo through real interrupts ----

struct ZooCase {
  const char* bug;
  int cpus;
  bool rt;
  bool until_hang;  // the interrupt-reached form is a self-deadlock
  // At least one of these titles, and its recorded program must reproduce
  // it in the executor.
  std::vector<std::string> titles;
};

void PrintTo(const ZooCase& c, std::ostream* os) {
  *os << c.bug << " on " << c.cpus << " vCPUs";
}

class StressZooTest : public ::testing::TestWithParam<ZooCase> {};

// Bug-zoo entries that interrupts reach: an NMI inside rmqueue_bulk's
// zone->lock section whose handler allocates (BZ-01), a hardirq on
// PREEMPT_RT running the nolock path (BZ-02), a hardirq inside
// consume_stock's local_lock section (BZ-27). CMA and hotplug stay out: they
// are slow ops these bugs do not need.
//
// A run must find a title with a replay that reproduces it (up to three
// seeds, see FindAndReplay): one vCPU at a time runs model code, and the
// model is fresh every --history rounds, where a replay window starts
// (docs/stress.md). BZ-08 is not here: a short run
// finds it about once in ten (its nightly entry is "rare").
TEST_P(StressZooTest, FoundByRealInterruptsAndReplayed) {
#ifdef REENTRY_TSAN
  // TSan holds asynchronous signals until its next safe point, so a timer
  // IRQ or NMI never lands inside the critical section these bugs need
  // (docs/toolchain.md, docs/stress.md): the TSan build checks races between
  // the vCPU threads, the other builds check interrupt placement.
  GTEST_SKIP() << "interrupt placement is not observable under TSan";
#endif
  const ZooCase& c = GetParam();
  StressOptions o = Short(WorkloadKind::kMm, 20);
  o.config.nr_cpus = c.cpus;
  o.config.preempt_rt = c.rt;
  std::string error;
  auto bugs = ParseBugList(c.bug, &error);
  ASSERT_TRUE(bugs) << error;
  o.bugs = *bugs;
  o.irq_rate = 20000;
  o.nmi_rate = 5000;
  o.workload.cma = false;
  o.workload.hotplug = false;
  o.stop_on_finding = !c.until_hang;
  StressResult r = FindAndReplay(o, c.titles, /*replay_all=*/false);
  if (c.until_hang) {
    EXPECT_TRUE(r.ended_by_hang);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, StressZooTest,
    ::testing::Values(
        // The NMI lands while the task holds zone->lock and the nolock
        // allocation spins on it (the checker's nolock rule sees the
        // spinning acquisition without any interrupt, too). On two vCPUs
        // the task often reaches that zone->lock section because the
        // other vCPU held a pcp lock at that instant: the replay
        // interleaves the vCPUs as they ran.
        ZooCase{"BZ-01",
                1,
                false,
                true,
                {"BUG: spinlock recursion in rmqueue_buddy",
                 "BUG: spinlock recursion in rmqueue_bulk"}},
        ZooCase{"BZ-01",
                2,
                false,
                true,
                {"BUG: spinlock recursion in rmqueue_buddy",
                 "BUG: spinlock recursion in rmqueue_bulk"}},
        ZooCase{"BZ-02",
                2,
                true,
                false,
                {"BUG: Invalid wait context in pcp_spin_trylock",
                 "BUG: Invalid wait context in rmqueue_buddy"}},
        ZooCase{"BZ-27",
                2,
                false,
                false,
                {"BUG: local_lock reentered in consume_stock",
                 "possible deadlock in consume_stock",
                 "inconsistent lock state in consume_stock"}}),
    [](const ::testing::TestParamInfo<ZooCase>& info) {
      std::string name = info.param.bug;
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name + "_" + std::to_string(info.param.cpus) + "cpu";
    });

}  // namespace
}  // namespace reentry::stress
