#include "stress/replay.h"

#include <algorithm>
#include <tuple>
#include <variant>

namespace reentry::stress {
namespace {

struct OpRef {
  uint64_t t;
  int cpu;
  uint32_t index;
  uint32_t seg;       // tail slot: which segment; op slots: all of them
  bool join = false;  // pause(): the vCPU finishes its paused op here
};

// Interrupts counted from one place (a BeginCounting() of the runner): the
// pause and the armed interrupts come first, then the boundary ones.
struct Segment {
  bool used = false;
  uint64_t t = 0;  // its first entry
  bool has_pause = false;
  bool pause_is_handoff = false;
  uint64_t pause_t = 0;
  prog::PointArg pause;
  std::vector<const LogEntry*> arms;
  std::vector<const LogEntry*> now;
};

struct PerOp {
  std::vector<Segment> segs;
  Segment& seg(uint16_t i) {
    if (segs.size() <= i) segs.resize(i + 1u);
    return segs[i];
  }
};

prog::Op MakeInterrupt(const LogEntry& e, const HandlerCatalog& handlers,
                       int cpu, bool at_point, ReplayStats* stats) {
  prog::Interrupt irq;
  irq.kind = e.irq_kind;
  if (at_point) {
    irq.at.v = e.point;
    uint32_t nth = e.nth == 0 ? 1 : e.nth;
    if (nth > 255) {
      nth = 255;
      ++stats->inexact;
    }
    irq.at.nth = static_cast<uint8_t>(nth);
  }
  if (e.handler >= 0 && e.handler < handlers.size(cpu, e.source)) {
    irq.body = handlers.handler(cpu, e.source, e.handler).body;
  }
  return prog::Op(std::move(irq));
}

}  // namespace

bool IsPersistentOp(const prog::Op& op) {
  return std::holds_alternative<prog::RegisterShrinker>(op.v) ||
         std::holds_alternative<prog::OfflinePages>(op.v);
}

bool BuildReplay(const std::vector<std::vector<const RoundLog*>>& logs,
                 const HandlerCatalog& handlers,
                 const std::vector<prog::LockDecl>& locks,
                 const ctx::Config& config, BugSet bugs, prog::Program* out,
                 ReplayStats* stats, const std::vector<prog::Op>& preamble) {
  ReplayStats local;
  if (stats == nullptr) stats = &local;
  *stats = ReplayStats{};
  prog::Program p;
  p.config = config;
  p.config.concurrent = false;
  p.bugs = bugs;
  p.locks = locks;
  int cur_cpu = 0;
  size_t total = 0;
  for (const prog::Op& op : preamble) {
    p.ops.push_back(op);
    ++stats->preamble;
  }
  for (const std::vector<const RoundLog*>& round : logs) {
    const int nr = static_cast<int>(round.size());
    std::vector<std::vector<PerOp>> per(nr);
    std::vector<OpRef> order;
    for (int c = 0; c < nr; ++c) {
      const RoundLog* log = round[c];
      if (log == nullptr || !log->valid) continue;
      // One more slot: interrupts taken at the boundary after the last op
      // (the run stopped before the next op began).
      per[c].resize(log->ops.size() + 1);
      for (const LogEntry& e : log->entries) {
        switch (e.kind) {
          case LogEntry::Kind::kOp:
            break;
          case LogEntry::Kind::kIrq: {
            if (e.op > log->ops.size()) break;
            Segment& sg = per[c][e.op].seg(e.seg);
            if (!sg.used) {
              sg.used = true;
              sg.t = e.t;
            }
            (e.boundary ? sg.now : sg.arms).push_back(&e);
            break;
          }
          case LogEntry::Kind::kHandoff: {
            const int h = e.holder;
            if (h < 0 || h >= nr || round[h] == nullptr ||
                e.holder_op > round[h]->ops.size() ||
                e.point == ctx::PointId::kNone) {
              ++stats->inexact;
              break;
            }
            if (per[h].size() < round[h]->ops.size() + 1) {
              per[h].resize(round[h]->ops.size() + 1);
            }
            // The holder's segment has an entry if it is in the tail (an
            // interrupt taken while idle holds the lock).
            // The executor keeps one pause per op: a hand-off's (the
            // first), else the earliest overlap's.
            Segment& po = per[h][e.holder_op].seg(e.seg);
            if (po.has_pause &&
                (po.pause_is_handoff || (e.overlap && po.pause_t <= e.t))) {
              break;
            }
            po.has_pause = true;
            po.pause_is_handoff = !e.overlap;
            po.pause_t = e.t;
            po.pause.v = e.point;
            uint32_t nth = e.nth == 0 ? 1 : e.nth;
            if (nth > 255) {
              nth = 255;
              ++stats->inexact;
            }
            po.pause.nth = static_cast<uint8_t>(nth);
            break;
          }
        }
      }
    }
    for (int c = 0; c < nr; ++c) {
      const RoundLog* log = round[c];
      if (log == nullptr || !log->valid) continue;
      // Ops at their start time; the tail (interrupts taken while idle at
      // the barrier, each counted from its own start) segment by segment.
      for (const LogEntry& e : log->entries) {
        if (e.kind == LogEntry::Kind::kOp && e.op < log->ops.size()) {
          order.push_back({e.t, c, e.op, UINT32_MAX});
          // A paused op finishes where it ended, not when its vCPU's next
          // op comes (other vCPUs' ops may start in between).
          if (e.t_end > e.t && !per[c][e.op].segs.empty() &&
              per[c][e.op].segs[0].has_pause) {
            order.push_back({e.t_end, c, e.op, UINT32_MAX, true});
          }
        }
      }
      const uint32_t tail = static_cast<uint32_t>(log->ops.size());
      std::vector<Segment>& segs = per[c][tail].segs;
      for (uint32_t i = 0; i < segs.size(); ++i) {
        if (segs[i].used) order.push_back({segs[i].t, c, tail, i});
      }
    }
    std::sort(order.begin(), order.end(), [](const OpRef& a, const OpRef& b) {
      return std::tie(a.t, a.cpu, a.index, a.seg, a.join) <
             std::tie(b.t, b.cpu, b.index, b.seg, b.join);
    });
    for (size_t k = 0; k < order.size(); ++k) {
      const OpRef& r = order[k];
      const int c = r.cpu;
      if (r.join) {
        // Needed only if another vCPU's op comes before this vCPU's next.
        bool other = false;
        for (size_t j = k + 1; j < order.size() && order[j].cpu != c; ++j) {
          other = true;
        }
        if (!other) continue;
      }
      if (c != cur_cpu) {
        prog::SwitchCpu sw;
        sw.cpu.v = static_cast<uint8_t>(c);
        p.ops.push_back(prog::Op(sw));
        cur_cpu = c;
      }
      if (r.join) {
        p.ops.push_back(prog::Op(prog::Pause{}));
        ++stats->joins;
        continue;
      }
      std::vector<Segment>& segs = per[c][r.index].segs;
      for (uint32_t i = 0; i < segs.size(); ++i) {
        if (r.seg != UINT32_MAX && r.seg != i) continue;
        const Segment& sg = segs[i];
        if (sg.has_pause) {
          prog::Pause pause;
          pause.at = sg.pause;
          p.ops.push_back(prog::Op(pause));
          ++stats->pauses;
        }
        for (const LogEntry* e : sg.arms) {
          p.ops.push_back(MakeInterrupt(*e, handlers, c, true, stats));
          ++stats->interrupts;
        }
        for (const LogEntry* e : sg.now) {
          p.ops.push_back(MakeInterrupt(*e, handlers, c, false, stats));
          ++stats->interrupts;
        }
      }
      if (r.index < round[c]->ops.size()) {
        p.ops.push_back(round[c]->ops[r.index]);
        ++stats->ops;
      }
    }
    total = prog::CountOps(p.ops);
    if (total > static_cast<size_t>(prog::kMaxOps)) return false;
  }
  *out = std::move(p);
  return true;
}

}  // namespace reentry::stress
