#include "allocator/triage/sweep.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "allocator/prog/fields.h"
#include "allocator/prog/validate.h"
#include "allocator/triage/minimize.h"

namespace reentry::triage {
namespace {

using namespace ::reentry::gfp;  // NOLINT: kernel spelling
using prog::Op;
using prog::Program;

struct SlotCollector {
  std::set<int>& used;
  void Result(const prog::SlotArg& s) { used.insert(s.v); }
  void Arg(const prog::SlotArg& s) { used.insert(s.v); }
  template <typename F>
  void Result(const F&) {}
  template <typename F>
  void Arg(const F&) {}
  template <typename F>
  void Optional(const F&, F) {}
};

void UsedSlots(const std::vector<Op>& ops, std::set<int>& used) {
  for (const Op& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, prog::Interrupt>) {
            UsedSlots(o.body, used);
          } else if constexpr (std::is_same_v<T, prog::AllocPagesBulk>) {
            for (int i = 0; i < o.count.v && o.slot.v + i < prog::kMaxSlots;
                 ++i) {
              used.insert(o.slot.v + i);
            }
          } else {
            SlotCollector s{used};
            prog::VisitFields(o, s);
          }
        },
        op.v);
  }
}

// Free slots, highest first.
std::vector<uint8_t> FreeSlots(const Program& p) {
  std::set<int> used;
  UsedSlots(p.ops, used);
  std::vector<uint8_t> free;
  for (int s = prog::kMaxSlots - 1; s >= 0; --s) {
    if (!used.count(s)) free.push_back(static_cast<uint8_t>(s));
  }
  while (free.size() < 2) free.push_back(static_cast<uint8_t>(prog::kMaxSlots - 1));
  return free;
}

// Where vCPU c's ops start in the top-level list: before its first op (the
// op after its first cpu(c)); -1 if it has none. vCPU 0 starts at 0.
int StartOf(const Program& p, int c) {
  int cur = 0;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    if (const auto* sw = std::get_if<prog::SwitchCpu>(&p.ops[i].v)) {
      cur = sw->cpu.v;
      if (cur == c) return static_cast<int>(i) + 1;
      continue;
    }
    if (cur == c) return static_cast<int>(i);
  }
  return -1;
}

// Inserts ops at vCPU c's start. Returns the top-level index of the first
// inserted op, or -1.
int InsertAtStart(Program& p, int c, const std::vector<Op>& ops) {
  int at = StartOf(p, c);
  if (at < 0) return -1;
  p.ops.insert(p.ops.begin() + at, ops.begin(), ops.end());
  return at;
}

// Pre-order index of the top-level op at position pos.
uint32_t PreorderIndex(const Program& p, int pos) {
  uint32_t index = 0;
  for (int i = 0; i < pos; ++i) {
    index += 1;
    if (const auto* irq = std::get_if<prog::Interrupt>(&p.ops[i].v)) {
      index += static_cast<uint32_t>(prog::CountOps(irq->body));
    }
  }
  return index;
}

std::vector<std::string> Titles(const RunVerdict& v) {
  std::vector<std::string> out;
  for (const Problem& p : v.problems) out.push_back(p.title);
  return out;
}

}  // namespace

std::vector<SweepHandler> BuiltinHandlers(const Program& p) {
  const std::vector<uint8_t> free = FreeSlots(p);
  const uint8_t a = free[0], b = free[1];
  std::vector<SweepHandler> h;
  h.push_back({"bpf-nolock",
               "hardirq: alloc_pages_nolock(0, 0) + free_pages_nolock",
               ctx::ContextKind::kHardirq,
               {prog::AllocPagesNolock{{a}, {0}, {0}}, prog::FreePagesNolock{{a}}},
               {}});
  h.push_back({"atomic", "hardirq: alloc_pages(GFP_ATOMIC, 0) + __free_pages",
               ctx::ContextKind::kHardirq,
               {prog::AllocPages{{a}, {GFP_ATOMIC}, {0}}, prog::FreePages{{a}}},
               {}});
  h.push_back({"free",
               "hardirq: __free_pages of a page the task allocated first",
               ctx::ContextKind::kHardirq,
               {prog::FreePages{{b}}},
               {prog::AllocPages{{b}, {GFP_KERNEL}, {0}}}});
  h.push_back({"nmi", "NMI: alloc_pages_nolock(0, 0) + free_pages_nolock",
               ctx::ContextKind::kNmi,
               {prog::AllocPagesNolock{{a}, {0}, {0}}, prog::FreePagesNolock{{a}}},
               {}});
  return h;
}

std::vector<SweepHandler> ProgramHandlers(const Program& p) {
  std::vector<SweepHandler> h;
  uint32_t index = 0;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const uint32_t me = index;
    index += 1;
    if (const auto* irq = std::get_if<prog::Interrupt>(&p.ops[i].v)) {
      index += static_cast<uint32_t>(prog::CountOps(irq->body));
      SweepHandler s;
      s.name = "irq#" + std::to_string(me);
      s.description = std::string(ctx::ContextName(irq->kind)) +
                      " handler of op #" + std::to_string(me);
      s.kind = irq->kind;
      s.body = irq->body;
      s.replaces = static_cast<int>(i);
      h.push_back(std::move(s));
    }
  }
  return h;
}

SweepResult Sweep(TargetId target, const Program& prepared,
                  const std::vector<SweepHandler>& handlers,
                  const TargetOptions& options, const SweepOptions& so) {
  SweepResult out;
  const TargetOptions replay = ReplayOptions(options);
  exec::Executor ex;
  auto run = [&](const Program& p, bool trace) {
    ++out.runs;
    return Evaluate(target, PrepareProgram(target, p, replay), replay, ex,
                    trace);
  };
  out.baseline_titles = Titles(run(prepared, false));

  // Discovery: NMI probes with empty bodies at arrival k of every point.
  const int nr = prepared.config.nr_cpus;
  std::vector<std::vector<ctx::PointId>> live(nr);
  for (int c = 0; c < nr; ++c) {
    if (StartOf(prepared, c) < 0) continue;
    for (int pt = 1; pt < ctx::kNumPoints; ++pt) {
      live[c].push_back(static_cast<ctx::PointId>(pt));
    }
  }
  // A vCPU holds at most 32 armed interrupts: probe in batches.
  constexpr size_t kBatch = 16;
  for (int k = 1; k <= so.max_nth && !out.truncated; ++k) {
    bool any = false;
    for (int c = 0; c < nr && !out.truncated; ++c) {
      std::vector<ctx::PointId> next;
      for (size_t b = 0; b < live[c].size(); b += kBatch) {
        if (out.runs >= so.max_runs) {
          out.truncated = true;
          break;
        }
        const std::vector<ctx::PointId> batch(
            live[c].begin() + b,
            live[c].begin() + std::min(live[c].size(), b + kBatch));
        Program probe = prepared;
        std::vector<Op> probes;
        for (ctx::PointId pt : batch) {
          probes.push_back(prog::Interrupt{
              ctx::ContextKind::kNmi, {pt, static_cast<uint8_t>(k)}, {}});
        }
        const int pos = InsertAtStart(probe, c, probes);
        if (pos < 0 || !prog::ValidateProgram(probe, nullptr)) break;
        std::map<uint32_t, ctx::PointId> probe_at;
        const uint32_t first = PreorderIndex(probe, pos);
        for (size_t i = 0; i < batch.size(); ++i) {
          probe_at[first + static_cast<uint32_t>(i)] = batch[i];
        }
        ++out.runs;
        const RunVerdict v =
            Evaluate(target, PrepareProgram(target, probe, replay), replay, ex,
                     /*trace=*/true);
        std::set<ctx::PointId> fired;
        for (const exec::TraceEntry& e : v.result.trace) {
          if (e.kind != exec::TraceKind::kIrqFire &&
              e.kind != exec::TraceKind::kIrqPending) {
            continue;
          }
          auto it = probe_at.find(e.op_index);
          if (it != probe_at.end()) fired.insert(it->second);
        }
        for (ctx::PointId pt : batch) {
          if (!fired.count(pt)) continue;
          out.reached.push_back(SweepPoint{c, pt, k});
          next.push_back(pt);
          any = true;
        }
      }
      live[c] = std::move(next);
    }
    if (!any) break;
  }
  std::sort(out.reached.begin(), out.reached.end(),
            [](const SweepPoint& a, const SweepPoint& b) {
              return std::make_tuple(a.cpu, static_cast<int>(a.point), a.nth) <
                     std::make_tuple(b.cpu, static_cast<int>(b.point), b.nth);
            });

  // One run per (point, handler).
  for (const SweepHandler& h : handlers) {
    Program base = prepared;
    if (h.replaces >= 0 && h.replaces < static_cast<int>(base.ops.size())) {
      base.ops.erase(base.ops.begin() + h.replaces);
    }
    std::vector<std::string> base_titles = out.baseline_titles;
    if (!h.setup.empty() || h.replaces >= 0) {
      Program b = base;
      for (int c = 0; c < nr; ++c) InsertAtStart(b, c, h.setup);
      base_titles = Titles(run(b, false));
    }
    for (const SweepPoint& at : out.reached) {
      if (out.runs >= so.max_runs) {
        out.truncated = true;
        break;
      }
      Program p = base;
      std::vector<Op> ins = h.setup;
      ins.push_back(prog::Interrupt{
          h.kind, {at.point, static_cast<uint8_t>(at.nth)}, h.body});
      const int pos = InsertAtStart(p, at.cpu, ins);
      if (pos < 0 || !prog::ValidateProgram(p, nullptr)) continue;
      const uint32_t irq_index =
          PreorderIndex(p, pos + static_cast<int>(h.setup.size()));
      const Program prepared_p = PrepareProgram(target, p, replay);
      ++out.runs;
      const RunVerdict v = Evaluate(target, prepared_p, replay, ex, true);
      SweepRow row;
      row.at = at;
      row.handler = h.name;
      for (const exec::TraceEntry& e : v.result.trace) {
        if ((e.kind == exec::TraceKind::kIrqFire ||
             e.kind == exec::TraceKind::kIrqPending) &&
            e.op_index == irq_index) {
          row.fired = true;
        }
      }
      row.titles = Titles(v);
      for (const std::string& t : row.titles) {
        if (std::find(base_titles.begin(), base_titles.end(), t) ==
            base_titles.end()) {
          row.new_titles.push_back(t);
        }
      }
      out.rows.push_back(std::move(row));
    }
  }
  return out;
}

std::string FormatSweep(const SweepResult& r, bool all_rows) {
  std::string out;
  char buf[512];
  snprintf(buf, sizeof(buf),
           "%zu injection point arrival(s) reached, %zu handler run(s), %d "
           "program run(s)%s\n",
           r.reached.size(), r.rows.size(), r.runs,
           r.truncated ? " (truncated at --max-runs)" : "");
  out += buf;
  if (!r.baseline_titles.empty()) {
    out += "baseline (no injected interrupt) already reports:\n";
    for (const std::string& t : r.baseline_titles) out += "  " + t + "\n";
  }
  snprintf(buf, sizeof(buf), "%-4s %-42s %-4s %-12s %s\n", "cpu", "point",
           "nth", "handler", "result");
  out += buf;
  std::map<std::string, int> by_title;
  for (const SweepRow& row : r.rows) {
    for (const std::string& t : row.new_titles) by_title[t]++;
    if (!all_rows && row.new_titles.empty()) continue;
    std::string result = row.new_titles.empty()
                             ? (row.fired ? "clean" : "did not fire")
                             : "";
    for (size_t i = 0; i < row.new_titles.size(); ++i) {
      result += (i ? "; " : "") + row.new_titles[i];
    }
    snprintf(buf, sizeof(buf), "%-4d %-42s %-4d %-12s %s\n", row.at.cpu,
             ctx::PointName(row.at.point), row.at.nth, row.handler.c_str(),
             result.c_str());
    out += buf;
  }
  if (by_title.empty()) {
    out += "no injected interrupt led to a new finding\n";
  } else {
    out += "findings by title (runs that report them):\n";
    for (const auto& [t, n] : by_title) {
      snprintf(buf, sizeof(buf), "  %4d  %s\n", n, t.c_str());
      out += buf;
    }
  }
  return out;
}

}  // namespace reentry::triage
