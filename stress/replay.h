// Record and replay: what a vCPU thread did in one round, and how the rounds
// of all vCPUs become one deterministic program for `reentry repro`.
//
// Each vCPU logs, per round, in the order it ran them:
//   - every top-level op, with its start and end time (CLOCK_MONOTONIC, the
//     same clock on every thread, so order across vCPUs is real);
//   - every interrupt it took: kind, which handler, where it landed (an
//     injection point and which arrival of that point since the op's
//     counting started, or the op boundary), and whether it arrived masked
//     (then it ran later, when the emulated CPU unmasked it);
//   - every injection point it passed, with its arrival number and time;
//   - every cross-vCPU lock hand-off it waited for (kept for the report).
//
// The model is atomic between injection points, so a run is, as far as the
// model can tell, the interleaving of the vCPUs' stretches between points.
// The program replays exactly that interleaving: all vCPUs' point arrivals
// (and op ends) merge in time order into runs of one vCPU each; a vCPU
// whose run ends at a point while another vCPU's run follows stops there.
// Per counting segment (an op with its boundary interrupts, or one
// interrupt taken while idle), before its first op, in this order:
//   pause(P, n)           its first stop, and the start of arrival counting;
//   pause_again(P, n)...  its other stops (counted from the same start);
//   hardirq(P, n) {...}   interrupts that landed at point P, armed;
// then its boundary interrupts (hardirq() {...}, at once) and the op. A
// later run of a stopped vCPU is "resume(P, n)" (on to its next stop) or
// "resume()" (on to the end of its op). The executor's interrupt rules
// (mask, pend, deliver on unmask and at irq_exit) are the runner's, so an
// interrupt that was masked in the run is masked in the replay and runs at
// the same place.
#ifndef REENTRY_STRESS_REPLAY_H_
#define REENTRY_STRESS_REPLAY_H_

#include <cstdint>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/ctx/injection_points.h"
#include "allocator/ctx/types.h"
#include "allocator/prog/program.h"
#include "stress/workload.h"

namespace reentry::stress {

struct LogEntry {
  // kEnd: the end of an op or of a boundary interrupt's handler.
  // kWait: the vCPU began to wait for a lock held on another vCPU, or hung
  // (serialized runs: the others' stretches follow).
  enum class Kind : uint8_t { kOp, kIrq, kHandoff, kPoint, kEnd, kWait };
  Kind kind = Kind::kOp;
  uint32_t op = 0;  // index in RoundLog::ops of the op this entry belongs to
  // kPoint, kEnd, kWait: the order key of the stretch of model code that
  // ends there: serialized, its number; with --parallel, the time of its
  // first lock operation, else of its end. kOp, kIrq: serialized, the
  // number of the last stretch before it began; else when it began.
  uint64_t t = 0;
  // kIrq
  ctx::ContextKind irq_kind = ctx::ContextKind::kHardirq;
  IrqSource source = IrqSource::kTimer;
  int16_t handler = -1;
  bool boundary = false;  // taken at the op boundary (no point)
  bool latched = false;   // arrived masked: ran when unmasked
  uint8_t depth = 0;      // context depth where it landed
  // kIrq, kHandoff (the holder's), kPoint: a point and its arrival
  // number in the segment.
  ctx::PointId point = ctx::PointId::kNone;
  uint32_t nth = 0;
  // kIrq: which counting segment of its op slot (arrivals are counted from
  // the segment's start). An op slot has one; the slot after the round's
  // last op has one per interrupt the idle vCPU took. kHandoff: the
  // holder's segment.
  uint16_t seg = 0;
  // kHandoff (recorded by the waiter): the holder and where it was.
  int8_t holder = -1;
  uint32_t holder_op = 0;
  // kOp: when it ended.
  uint64_t t_end = 0;
};

struct RoundLog {
  uint64_t round = 0;
  bool valid = false;
  std::vector<prog::Op> ops;  // top-level ops run, in order
  std::vector<LogEntry> entries;
  void Clear(uint64_t r) {
    round = r;
    valid = true;
    ops.clear();
    entries.clear();
  }
};

struct ReplayStats {
  size_t ops = 0;
  size_t interrupts = 0;
  size_t pauses = 0;  // stops: pause() and pause_again()
  size_t preamble = 0;
  size_t resumes = 0;   // resume(): a stopped vCPU runs on
  size_t inexact = 0;   // an arrival beyond 255 (an interrupt's nth clamped,
                        // a stop left out) or a point outside its segment
  bool coarse = false;  // too long with every stop: ops whole, in order of
                        // their ends
};

// Ops whose effect outlives their round (a registered shrinker, offlined
// memory): a replay that starts after them begins with them (its preamble).
bool IsPersistentOp(const prog::Op& op);

// Builds the program of rounds[0..] (oldest first); logs[r][c] is vCPU c's
// log of rounds[r]. The program begins with `preamble` (on vCPU 0): the
// persistent ops the run executed before rounds[0]. If the program with
// every stop has more than kMaxOps ops, it is built without stops (each op
// whole, at its end; stats->coarse). Returns false if that is too long too
// (nothing is written then). With last_event (a serialized run's stretch
// number; 0: none), each vCPU's log ends before its first stretch after
// that one: a finding reported in that stretch needs nothing later.
bool BuildReplay(const std::vector<std::vector<const RoundLog*>>& logs,
                 const HandlerCatalog& handlers,
                 const std::vector<prog::LockDecl>& locks,
                 const ctx::Config& config, BugSet bugs, prog::Program* out,
                 ReplayStats* stats, const std::vector<prog::Op>& preamble = {},
                 uint64_t last_event = 0);

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_REPLAY_H_
