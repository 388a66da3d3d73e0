#include "allocator/triage/explain.h"

#include <cstdio>
#include <sstream>

#include "allocator/base/gfp.h"
#include "allocator/prog/text.h"

namespace reentry::triage {
namespace {

using prog::Op;

std::string Slot(prog::SlotArg s) { return "p" + std::to_string(s.v); }
std::string Order(prog::OrderArg o) {
  return "order-" + std::to_string(o.v) + " (" + std::to_string(1u << o.v) +
         (o.v == 0 ? " page)" : " pages)");
}
std::string At(const prog::PointArg& at) {
  if (at.v == ctx::PointId::kNone) return "at once";
  std::string s = "the ";
  if (at.nth != 1)
    s += std::to_string(at.nth) + "th time ";
  else
    s += "first time ";
  s += "this vCPU reaches " + std::string(ctx::PointName(at.v)) + " (" +
       ctx::PointDescription(at.v) + ")";
  return s;
}

std::string LockText(const prog::Program& p, prog::LockArg l) {
  if (l.v >= p.locks.size()) return "?";
  const prog::LockDecl& d = p.locks[l.v];
  return d.name + " (" + d.class_name + ", " + ctx::LockTypeName(d.type) + ")";
}

// Context of each op line, in text order: "cpu0 task", "cpu0 hardirq", ...
void Contexts(const std::vector<Op>& ops, int& cpu,
              std::vector<std::string>& ctx_stack,
              std::vector<std::string>& out) {
  for (const Op& op : ops) {
    if (const auto* sw = std::get_if<prog::SwitchCpu>(&op.v)) {
      cpu = sw->cpu.v;
    }
    out.push_back("cpu" + std::to_string(cpu) + " " + ctx_stack.back());
    if (const auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
      ctx_stack.push_back(ctx::ContextName(irq->kind));
      Contexts(irq->body, cpu, ctx_stack, out);
      ctx_stack.pop_back();
      out.push_back("");  // the closing brace
    }
  }
}

void FlattenOps(const std::vector<Op>& ops, std::vector<const Op*>& out) {
  for (const Op& op : ops) {
    out.push_back(&op);
    if (const auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
      FlattenOps(irq->body, out);
      out.push_back(nullptr);  // the closing brace
    }
  }
}

std::string Fenced(const std::string& lang, const std::string& body) {
  return "```" + lang + "\n" + body +
         (body.empty() || body.back() == '\n' ? "" : "\n") + "```\n";
}

}  // namespace

std::string ExplainOp(const prog::Program& p, const Op& op) {
  return std::visit(
      [&](const auto& o) -> std::string {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, prog::SwitchCpu>) {
          return "the following ops run on vCPU " + std::to_string(o.cpu.v);
        } else if constexpr (std::is_same_v<T, prog::LocalIrqDisable>) {
          return "mask hardirqs";
        } else if constexpr (std::is_same_v<T, prog::LocalIrqEnable>) {
          return "unmask hardirqs (pending ones fire now)";
        } else if constexpr (std::is_same_v<T, prog::LocalIrqSave>) {
          return "save the irq state and mask hardirqs";
        } else if constexpr (std::is_same_v<T, prog::LocalIrqRestore>) {
          return "restore the saved irq state";
        } else if constexpr (std::is_same_v<T, prog::LocalBhDisable>) {
          return "mask softirqs";
        } else if constexpr (std::is_same_v<T, prog::LocalBhEnable>) {
          return "unmask softirqs (pending ones run now)";
        } else if constexpr (std::is_same_v<T, prog::PreemptDisable>) {
          return "disable preemption";
        } else if constexpr (std::is_same_v<T, prog::PreemptEnable>) {
          return "enable preemption";
        } else if constexpr (std::is_same_v<T, prog::MigrateDisable>) {
          return "pin the task to this CPU";
        } else if constexpr (std::is_same_v<T, prog::MigrateEnable>) {
          return "unpin the task";
        } else if constexpr (std::is_same_v<T, prog::MightSleep>) {
          return "assert that this context may sleep";
        } else if constexpr (std::is_same_v<T, prog::Interrupt>) {
          return "arm a " + std::string(ctx::ContextName(o.kind)) +
                 " that runs the body below " + At(o.at);
        } else if constexpr (std::is_same_v<T, prog::Pause>) {
          return "stop this vCPU " + At(o.at) +
                 "; later ops run on the other vCPUs until it is resumed";
        } else if constexpr (std::is_same_v<T, prog::PauseAgain>) {
          return "stop this vCPU again " + At(o.at) +
                 " (arrivals counted from its last pause)";
        } else if constexpr (std::is_same_v<T, prog::Resume>) {
          return o.at.v == ctx::PointId::kNone
                     ? std::string("let the stopped vCPU finish its op")
                     : "let the stopped vCPU run on to its pause " + At(o.at);
        } else if constexpr (std::is_same_v<T, prog::LockCall>) {
          std::string s = std::string(prog::LockVerbName(o.verb)) + " on " +
                          LockText(p, o.lock);
          if (o.verb == prog::LockVerb::kSpinLockNested) {
            s += ", lockdep subclass " + std::to_string(o.subclass);
          }
          return s;
        } else if constexpr (std::is_same_v<T, prog::AllocPages>) {
          return "allocate an " + Order(o.order) + " block with " +
                 GfpToString(o.gfp.v) + " into " + Slot(o.slot);
        } else if constexpr (std::is_same_v<T, prog::FreePages>) {
          return "free the block in " + Slot(o.slot) +
                 (o.order.v == prog::FreePages::kSlotOrder
                      ? ""
                      : " claiming the wrong order " +
                            std::to_string(o.order.v));
        } else if constexpr (std::is_same_v<T, prog::AllocPagesNolock>) {
          return "allocate an " + Order(o.order) +
                 " block with the any-context nolock API (gfp " +
                 GfpToString(o.gfp.v) + ") into " + Slot(o.slot);
        } else if constexpr (std::is_same_v<T, prog::FreePagesNolock>) {
          return "free " + Slot(o.slot) + " with the any-context nolock API";
        } else if constexpr (std::is_same_v<T, prog::AllocPagesBulk>) {
          return "bulk-allocate " + std::to_string(o.count.v) +
                 " order-0 pages with " + GfpToString(o.gfp.v) + " into " +
                 Slot(o.slot) + " onwards";
        } else if constexpr (std::is_same_v<T, prog::PinPage>) {
          return std::string(o.longterm.v ? "long-term " : "") + "pin " +
                 Slot(o.slot) +
                 (o.longterm.v ? " (migrated out of CMA first)" : "");
        } else if constexpr (std::is_same_v<T, prog::UnpinPage>) {
          return "unpin " + Slot(o.slot);
        } else if constexpr (std::is_same_v<T, prog::BuildAllZonelists>) {
          return "rebuild the zonelists (zonelist_update_seq writer)";
        } else if constexpr (std::is_same_v<T, prog::OfflinePages>) {
          return "hot-remove a memory block (isolate, migrate, offline)";
        } else if constexpr (std::is_same_v<T, prog::DrainAllPages>) {
          return "drain every CPU's per-CPU page lists";
        } else if constexpr (std::is_same_v<T, prog::DrainLocalPages>) {
          return "drain this CPU's per-CPU page lists";
        } else if constexpr (std::is_same_v<T, prog::CpuOffline>) {
          return "take vCPU " + std::to_string(o.cpu.v) +
                 " offline: drain its pcp lists from here";
        } else if constexpr (std::is_same_v<T, prog::FailPageAlloc>) {
          return "fail_page_alloc: fail every " + std::to_string(o.interval.v) +
                 "th eligible allocation, " + std::to_string(o.times.v) +
                 " time(s)";
        } else if constexpr (std::is_same_v<T, prog::CmaAlloc>) {
          return "allocate " + std::to_string(o.count.v) +
                 " pages from the CMA area into " + Slot(o.slot);
        } else if constexpr (std::is_same_v<T, prog::CmaRelease>) {
          return "release the CMA pages in " + Slot(o.slot);
        } else if constexpr (std::is_same_v<T, prog::KvfreeRcu>) {
          return "kvfree_rcu() an object (krcp->lock, may refill a block page)";
        } else if constexpr (std::is_same_v<T, prog::Printk>) {
          return "printk (console locks)";
        } else if constexpr (std::is_same_v<T, prog::KswapdRun>) {
          return "run one kswapd balance_pgdat() pass here";
        } else if constexpr (std::is_same_v<T, prog::RegisterShrinker>) {
          return "register a shrinker that takes " + LockText(p, o.lock) +
                 " under fs_reclaim";
        } else if constexpr (std::is_same_v<T, prog::MemallocNofsSave>) {
          return "enter a memalloc_nofs scope (no __GFP_FS)";
        } else if constexpr (std::is_same_v<T, prog::MemallocNofsRestore>) {
          return "leave the memalloc_nofs scope";
        } else {
          return "";
        }
      },
      op.v);
}

std::string AnnotatedProgramText(const prog::Program& p) {
  const std::string text = prog::ProgramToText(p);
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  std::vector<const Op*> ops;
  FlattenOps(p.ops, ops);
  std::vector<std::string> contexts;
  int cpu = 0;
  std::vector<std::string> stack{"task"};
  Contexts(p.ops, cpu, stack, contexts);
  // The op lines are the last ops.size() lines (header lines first).
  const size_t first = lines.size() - ops.size();
  size_t width = 0;
  for (size_t i = first; i < lines.size(); ++i) {
    width = std::max(width, lines[i].size());
  }
  width = std::min<size_t>(width, 48);
  std::string out;
  uint32_t index = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (i >= first && ops[i - first] != nullptr) {
      const Op& op = *ops[i - first];
      if (line.size() < width) line.append(width - line.size(), ' ');
      line += "  # #" + std::to_string(index++) + " " + contexts[i - first] +
              ": " + ExplainOp(p, op);
    }
    out += line + "\n";
  }
  return out;
}

std::string MarkdownReport(const ReportContext& c) {
  std::string md;
  md += "# " + c.title + "\n\n";
  md += "Found by the `" + TargetBinaryName(c.target) + "` fuzz target (" +
        TargetDescription(c.target) + ").\n\n";
  md += "## Configuration\n\n";
  const ctx::Config& k = c.reproducer.config;
  md += "| | |\n|---|---|\n";
  md += "| vCPUs | " + std::to_string(k.nr_cpus) +
        (k.smp ? " (SMP)" : " (UP)") + " |\n";
  md += std::string("| PREEMPT_RT | ") + (k.preempt_rt ? "y" : "n") + " |\n";
  md += std::string("| PREEMPT_COUNT | ") + (k.preempt_count ? "y" : "n") +
        " |\n";
  md += std::string("| PROVE_RAW_LOCK_NESTING | ") +
        (k.prove_raw_lock_nesting ? "y" : "n") + " |\n";
  md += std::string("| nolock design | ") +
        (k.nolock_design == ctx::NolockDesign::kV2Trylock
             ? "v2 (__GFP_TRYLOCK)"
             : "final (alloc_pages_nolock)") +
        " |\n";
  md += "| bug-zoo switches | " + BugSetToString(c.reproducer.bugs) + " |\n";
  md += "| campaign | " + DescribeTargetOptions(c.options) + " |\n\n";

  md += "## Report\n\n" + Fenced("", c.splat) + "\n";

  md += "## Reproducer\n\n";
  if (c.minimized) {
    char buf[256];
    snprintf(buf, sizeof(buf),
             "Minimized from %zu to %zu ops in %d runs (%.1f s)%s. ",
             c.minimize_stats.ops_before, c.minimize_stats.ops_after,
             c.minimize_stats.runs, c.minimize_stats.seconds,
             c.minimize_stats.budget_exhausted ? ", budget exhausted" : "");
    md += buf;
  }
  if (c.reliability.runs > 0) {
    md += "Reproduces " + std::to_string(c.reliability.reproduced) + "/" +
          std::to_string(c.reliability.runs) + " replays" +
          (c.reliability.text_round_trip
               ? " (the text below parses back to the same program)"
               : " (WARNING: the text form does not round-trip)") +
          ".";
  }
  md += "\n\n" + Fenced("reentry", AnnotatedProgramText(c.reproducer)) + "\n";

  md += "## Replay\n\n";
  const std::string repro =
      c.reproducer_path.empty() ? "reproducer.txt" : c.reproducer_path;
  std::string cmds;
  cmds += "# through the " + TargetBinaryName(c.target) +
          " target's own logic (what the fuzzer ran):\n";
  cmds += "build/default/tools/reentry report --target=" +
          std::string(TargetName(c.target)) + " --replay " + repro + "\n";
  if (c.repro_reproduces) {
    cmds += "# through the executor and checker alone:\n";
    cmds += "build/default/tools/reentry repro " + repro + "\n";
  }
  if (!c.input_path.empty()) {
    cmds += "# the original crashing input, through the fuzz binary:\n";
    cmds += EnvPrefix(c.options) + "build/libfuzzer/fuzz/" +
            TargetBinaryName(c.target) + " " + c.input_path + "\n";
  }
  md += Fenced("sh", cmds);
  return md;
}

}  // namespace reentry::triage
