#include "stress/replay.h"

#include <algorithm>
#include <tuple>

namespace reentry::stress {
namespace {

struct OpRef {
  uint64_t t;
  int cpu;
  uint32_t index;
};

struct PerOp {
  bool has_pause = false;
  prog::PointArg pause;
  std::vector<const LogEntry*> arms;
  std::vector<const LogEntry*> now;
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

bool BuildReplay(const std::vector<std::vector<const RoundLog*>>& logs,
                 const HandlerCatalog& handlers,
                 const std::vector<prog::LockDecl>& locks,
                 const ctx::Config& config, BugSet bugs, prog::Program* out,
                 ReplayStats* stats) {
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
      uint64_t tail_t = 0;
      for (const LogEntry& e : log->entries) {
        switch (e.kind) {
          case LogEntry::Kind::kOp:
            if (e.op < log->ops.size()) order.push_back({e.t, c, e.op});
            break;
          case LogEntry::Kind::kIrq:
            if (e.op > log->ops.size()) break;
            if (e.op == log->ops.size() && tail_t == 0) tail_t = e.t;
            (e.boundary ? per[c][e.op].now : per[c][e.op].arms).push_back(&e);
            break;
          case LogEntry::Kind::kHandoff: {
            const int h = e.holder;
            if (h < 0 || h >= nr || round[h] == nullptr ||
                e.holder_op >= round[h]->ops.size() ||
                e.point == ctx::PointId::kNone) {
              ++stats->inexact;
              break;
            }
            if (per[h].size() < round[h]->ops.size() + 1) {
              per[h].resize(round[h]->ops.size() + 1);
            }
            PerOp& po = per[h][e.holder_op];
            if (po.has_pause) break;  // the executor keeps one pause per op
            po.has_pause = true;
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
      if (tail_t != 0)
        order.push_back({tail_t, c, static_cast<uint32_t>(log->ops.size())});
    }
    std::sort(order.begin(), order.end(), [](const OpRef& a, const OpRef& b) {
      return std::tie(a.t, a.cpu, a.index) < std::tie(b.t, b.cpu, b.index);
    });
    for (const OpRef& r : order) {
      const int c = r.cpu;
      if (c != cur_cpu) {
        prog::SwitchCpu sw;
        sw.cpu.v = static_cast<uint8_t>(c);
        p.ops.push_back(prog::Op(sw));
        cur_cpu = c;
      }
      PerOp& po = per[c][r.index];
      if (po.has_pause) {
        prog::Pause pause;
        pause.at = po.pause;
        p.ops.push_back(prog::Op(pause));
        ++stats->pauses;
      }
      for (const LogEntry* e : po.arms) {
        p.ops.push_back(MakeInterrupt(*e, handlers, c, true, stats));
        ++stats->interrupts;
      }
      for (const LogEntry* e : po.now) {
        p.ops.push_back(MakeInterrupt(*e, handlers, c, false, stats));
        ++stats->interrupts;
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
