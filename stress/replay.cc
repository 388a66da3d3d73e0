#include "stress/replay.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <variant>

namespace reentry::stress {
namespace {

using SegKey = std::pair<uint32_t, uint32_t>;  // (op slot, segment)

// A top-level op of the replay on one vCPU: an op the vCPU ran, or an
// interrupt it took at an op boundary (or while idle).
struct Item {
  SegKey seg;
  const LogEntry* irq = nullptr;  // a boundary interrupt, else the op
  uint32_t op = 0;
  bool first_of_seg = false;  // carries the segment's pauses and arms
};

// Something a vCPU did at a known time: reached a point, or ended an item.
struct Event {
  uint64_t t = 0;
  uint32_t item = 0;
  bool is_end = false;
  bool is_wait = false;  // began to wait for a lock: the vCPU blocks there
  ctx::PointId point = ctx::PointId::kNone;
  uint32_t nth = 0;
  bool stop = false;  // the vCPU stops here in the replay
};

struct Segment {
  std::vector<const LogEntry*> arms;  // interrupts that landed at a point
  std::vector<const Event*> stops;
};

struct Vcpu {
  std::vector<Item> items;
  std::vector<Event> events;
  std::map<SegKey, Segment> segs;
  size_t emitted = 0;    // items emitted so far
  bool stopped = false;  // the last run left it stopped at a point
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

prog::PointArg Arg(const Event& e) {
  prog::PointArg a;
  a.v = e.point;
  a.nth = static_cast<uint8_t>(e.nth);
  return a;
}

// vCPU c's items and events of one round, in the order it ran them;
// without `fine`, only the items' ends (no stops inside an op).
void Collect(const RoundLog& log, Vcpu& v, bool fine, uint64_t last_event,
             ReplayStats* stats) {
  const uint32_t nops = static_cast<uint32_t>(log.ops.size());
  std::set<SegKey> seen;
  uint64_t last_t = 0;
  auto add_event = [&](Event e) {
    e.t = std::max(e.t, last_t);  // one thread's clock never goes back
    last_t = e.t;
    v.events.push_back(e);
  };
  bool open = false;  // the last item has not ended yet
  for (const LogEntry& e : log.entries) {
    // After the finding: a stretch numbered beyond last_event, or an item
    // that began in one.
    const bool item =
        e.kind == LogEntry::Kind::kOp || e.kind == LogEntry::Kind::kIrq;
    if (last_event != 0 && e.kind != LogEntry::Kind::kHandoff &&
        (item ? e.t + 1 : e.t) > last_event) {
      return;
    }
    switch (e.kind) {
      case LogEntry::Kind::kOp:
      case LogEntry::Kind::kIrq: {
        if (e.kind == LogEntry::Kind::kOp ? e.op >= nops : e.op > nops) {
          ++stats->inexact;
          break;
        }
        if (e.kind == LogEntry::Kind::kIrq && !e.boundary) {
          v.segs[{e.op, e.seg}].arms.push_back(&e);
          break;
        }
        Item it{
            {e.op, e.seg}, e.kind == LogEntry::Kind::kIrq ? &e : nullptr, e.op};
        it.first_of_seg = seen.insert(it.seg).second;
        v.items.push_back(it);
        open = true;
        break;
      }
      case LogEntry::Kind::kPoint:
      case LogEntry::Kind::kWait:
      case LogEntry::Kind::kEnd: {
        if (!fine && e.kind != LogEntry::Kind::kEnd) break;
        if (!open || v.items.back().seg != SegKey{e.op, e.seg}) {
          ++stats->inexact;
          break;
        }
        Event ev;
        ev.t = e.t;
        ev.item = static_cast<uint32_t>(v.items.size() - 1);
        ev.is_end = e.kind == LogEntry::Kind::kEnd;
        ev.is_wait = e.kind == LogEntry::Kind::kWait;
        ev.point = e.point;
        ev.nth = e.nth;
        add_event(ev);
        open = !ev.is_end;
        break;
      }
      case LogEntry::Kind::kHandoff:
        break;
    }
  }
}

bool Build(const std::vector<std::vector<const RoundLog*>>& logs,
           const HandlerCatalog& handlers,
           const std::vector<prog::LockDecl>& locks, const ctx::Config& config,
           BugSet bugs, bool fine, prog::Program* out, ReplayStats* stats,
           const std::vector<prog::Op>& preamble, uint64_t last_event);

}  // namespace

bool IsPersistentOp(const prog::Op& op) {
  return std::holds_alternative<prog::RegisterShrinker>(op.v) ||
         std::holds_alternative<prog::OfflinePages>(op.v);
}

bool BuildReplay(const std::vector<std::vector<const RoundLog*>>& logs,
                 const HandlerCatalog& handlers,
                 const std::vector<prog::LockDecl>& locks,
                 const ctx::Config& config, BugSet bugs, prog::Program* out,
                 ReplayStats* stats, const std::vector<prog::Op>& preamble,
                 uint64_t last_event) {
  ReplayStats local;
  if (stats == nullptr) stats = &local;
  if (Build(logs, handlers, locks, config, bugs, /*fine=*/true, out, stats,
            preamble, last_event)) {
    return true;
  }
  // Too long with every stop: the ops in order of their ends, as one op
  // per stretch.
  const bool ok = Build(logs, handlers, locks, config, bugs, /*fine=*/false,
                        out, stats, preamble, last_event);
  stats->coarse = true;
  return ok;
}

namespace {

bool Build(const std::vector<std::vector<const RoundLog*>>& logs,
           const HandlerCatalog& handlers,
           const std::vector<prog::LockDecl>& locks, const ctx::Config& config,
           BugSet bugs, bool fine, prog::Program* out, ReplayStats* stats,
           const std::vector<prog::Op>& preamble, uint64_t last_event) {
  *stats = ReplayStats{};
  prog::Program p;
  p.config = config;
  p.config.concurrent = false;
  p.bugs = bugs;
  p.locks = locks;
  int cur_cpu = 0;
  for (const prog::Op& op : preamble) {
    p.ops.push_back(op);
    ++stats->preamble;
  }
  for (const std::vector<const RoundLog*>& round : logs) {
    const int nr = static_cast<int>(round.size());
    std::vector<Vcpu> vc(nr);
    for (int c = 0; c < nr; ++c) {
      if (round[c] != nullptr && round[c]->valid) {
        Collect(*round[c], vc[c], fine, last_event, stats);
      }
    }
    // Every vCPU's events in time order (one vCPU's in its own order).
    struct Ref {
      uint64_t t;
      int cpu;
      uint32_t index;
    };
    std::vector<Ref> order;
    for (int c = 0; c < nr; ++c) {
      for (uint32_t i = 0; i < vc[c].events.size(); ++i) {
        order.push_back({vc[c].events[i].t, c, i});
      }
    }
    std::sort(order.begin(), order.end(), [](const Ref& a, const Ref& b) {
      return std::tie(a.t, a.cpu, a.index) < std::tie(b.t, b.cpu, b.index);
    });
    // Runs: a vCPU whose run ends at a point, with another vCPU's run
    // after it, stops there. A wait ends a run too: the executor's resume
    // returns where the vCPU blocks, and the next one retries (the lock can
    // be free already: its holder released it while the waiter was
    // stopped inside an interrupt it took at a retry).
    std::vector<size_t> run_ends;
    for (size_t k = 0; k < order.size(); ++k) {
      if (k + 1 < order.size() && order[k + 1].cpu == order[k].cpu &&
          !vc[order[k].cpu].events[order[k].index].is_wait) {
        continue;
      }
      run_ends.push_back(k);
      if (k + 1 == order.size()) break;
      Vcpu& v = vc[order[k].cpu];
      Event& e = v.events[order[k].index];
      if (e.is_end || e.is_wait) continue;
      if (e.nth == 0 || e.nth > 255 || e.point == ctx::PointId::kNone) {
        ++stats->inexact;  // a place no pause can name: it runs on
        continue;
      }
      e.stop = true;
      v.segs[v.items[e.item].seg].stops.push_back(&e);
    }
    auto switch_to = [&](int c) {
      if (c == cur_cpu) return;
      prog::SwitchCpu sw;
      sw.cpu.v = static_cast<uint8_t>(c);
      p.ops.push_back(prog::Op(sw));
      cur_cpu = c;
    };
    auto emit_items = [&](int c, size_t through) {
      Vcpu& v = vc[c];
      for (; v.emitted <= through && v.emitted < v.items.size(); ++v.emitted) {
        const Item& it = v.items[v.emitted];
        if (it.first_of_seg) {
          auto sg = v.segs.find(it.seg);
          if (sg != v.segs.end()) {
            for (size_t k = 0; k < sg->second.stops.size(); ++k) {
              const prog::PointArg at = Arg(*sg->second.stops[k]);
              if (k == 0) {
                p.ops.push_back(prog::Op(prog::Pause{at}));
              } else {
                p.ops.push_back(prog::Op(prog::PauseAgain{at}));
              }
              ++stats->pauses;
            }
            for (const LogEntry* e : sg->second.arms) {
              p.ops.push_back(MakeInterrupt(*e, handlers, c, true, stats));
              ++stats->interrupts;
            }
          }
        }
        if (it.irq != nullptr) {
          p.ops.push_back(MakeInterrupt(*it.irq, handlers, c, false, stats));
          ++stats->interrupts;
        } else {
          p.ops.push_back(round[c]->ops[it.op]);
          ++stats->ops;
        }
      }
    };
    for (size_t k : run_ends) {
      const int c = order[k].cpu;
      Vcpu& v = vc[c];
      const Event& e = v.events[order[k].index];
      switch_to(c);
      if (e.item < v.emitted) {
        // Its item runs already: on to this stop, or to its end.
        if (e.stop) {
          p.ops.push_back(prog::Op(prog::Resume{Arg(e)}));
          ++stats->resumes;
        } else if (e.is_end || e.is_wait || k + 1 == order.size()) {
          // On to the end of its op, or until it blocks on the lock.
          p.ops.push_back(prog::Op(prog::Resume{}));
          ++stats->resumes;
        }
      } else {
        emit_items(c, e.item);
      }
      v.stopped = e.stop;
    }
    // What ran after the last event (items with none), and the end of the
    // round: every vCPU finishes before the next round begins.
    for (int c = 0; c < nr; ++c) {
      Vcpu& v = vc[c];
      if (v.emitted < v.items.size()) {
        switch_to(c);
        emit_items(c, v.items.size() - 1);
      } else if (v.stopped) {
        switch_to(c);
        p.ops.push_back(prog::Op(prog::Resume{}));
        ++stats->resumes;
      }
    }
    if (prog::CountOps(p.ops) > static_cast<size_t>(prog::kMaxOps)) {
      return false;
    }
  }
  *out = std::move(p);
  return true;
}

}  // namespace
}  // namespace reentry::stress
