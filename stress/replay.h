// Record and replay: what a vCPU thread did in one round, and how the rounds
// of all vCPUs become one deterministic program for `reentry repro`.
//
// Each vCPU logs, per round:
//   - every top-level op it ran, with its start time (CLOCK_MONOTONIC, the
//     same clock on every thread, so start order across vCPUs is real);
//   - every interrupt it took: kind, which handler, where it landed (an
//     injection point and which arrival of that point since the op's
//     counting started, or the op boundary), and whether it arrived masked
//     (then it ran later, when the emulated CPU unmasked it);
//   - every cross-vCPU lock hand-off it waited for: which vCPU held the
//     lock, in which of its ops, at which point (the holder's last point).
//
// The program replays the ops in start order (cpu(N) switches between
// vCPUs). Before each op come, in this order:
//   pause(P, n)          if another vCPU waited for a lock this op held:
//                        the executor stops this vCPU where it held it, so
//                        the waiter waits for it as it did for real;
//   hardirq(P, n) {...}  interrupts that landed at point P, armed before the
//                        op (counting from the same place as the runner);
//   hardirq() {...}      interrupts taken at the op boundary, at once.
// The executor's interrupt rules (mask, pend, deliver on unmask and at
// irq_exit) are the runner's rules, so an interrupt that was masked in the
// run is masked in the replay and runs at the same place.
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
  enum class Kind : uint8_t { kOp, kIrq, kHandoff };
  Kind kind = Kind::kOp;
  uint32_t op = 0;  // index in RoundLog::ops of the op this entry belongs to
  // kOp: start time; kIrq: when it was taken
  uint64_t t = 0;
  // kIrq
  ctx::ContextKind irq_kind = ctx::ContextKind::kHardirq;
  IrqSource source = IrqSource::kTimer;
  int16_t handler = -1;
  bool boundary = false;  // taken at the op boundary (no point)
  bool latched = false;   // arrived masked: ran when unmasked
  uint8_t depth = 0;      // context depth where it landed
  ctx::PointId point = ctx::PointId::kNone;
  uint32_t nth = 0;
  // kIrq: which counting segment of its op slot (arrivals are counted from
  // the segment's start). An op slot has one; the slot after the round's
  // last op has one per interrupt the idle vCPU took. kHandoff: the
  // holder's segment.
  uint16_t seg = 0;
  // kHandoff (recorded by the waiter): the holder and where it was. With
  // `overlap`, recorded by a vCPU starting an op while the other was inside
  // one: where the other was then.
  int8_t holder = -1;
  bool overlap = false;
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
  size_t pauses = 0;
  size_t preamble = 0;
  size_t joins = 0;    // pause(): a paused op finishes before what follows
  size_t inexact = 0;  // nth beyond 255 (clamped) or a hand-off it could not
                       // place
};

// Ops whose effect outlives their round (a registered shrinker, offlined
// memory): a replay that starts after them begins with them (its preamble).
bool IsPersistentOp(const prog::Op& op);

// Builds the program of rounds[0..] (oldest first); logs[r][c] is vCPU c's
// log of rounds[r]. The program begins with `preamble` (on vCPU 0): the
// persistent ops the run executed before rounds[0]. Returns false if the
// result has more than kMaxOps ops (nothing is written then).
bool BuildReplay(const std::vector<std::vector<const RoundLog*>>& logs,
                 const HandlerCatalog& handlers,
                 const std::vector<prog::LockDecl>& locks,
                 const ctx::Config& config, BugSet bugs, prog::Program* out,
                 ReplayStats* stats,
                 const std::vector<prog::Op>& preamble = {});

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_REPLAY_H_
