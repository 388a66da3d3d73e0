// The interrupt-point sweep, in the spirit of syzkaller's fail_nth: run a
// program once for every injection point it reaches (every vCPU, point and
// arrival), firing one interrupt handler at exactly that point, and record
// which points lead to which findings.
//
// Points reached are found without executor hooks: empty NMI probes are
// armed at the start of each vCPU for every point at arrival k, and the
// trace shows which fired (or stayed pending); k grows until no point is
// reached again or max_nth. Then each (vCPU, point, k) runs once per
// handler. Everything is deterministic and bounded by max_runs.
#ifndef REENTRY_ALLOCATOR_TRIAGE_SWEEP_H_
#define REENTRY_ALLOCATOR_TRIAGE_SWEEP_H_

#include <string>
#include <vector>

#include "allocator/prog/program.h"
#include "allocator/triage/target.h"

namespace reentry::triage {

struct SweepHandler {
  std::string name;  // "bpf-nolock", "atomic", "free", "nmi", "irq#12"
  std::string description;
  ctx::ContextKind kind = ctx::ContextKind::kHardirq;
  std::vector<prog::Op> body;
  // Ops run at the start of the vCPU before arming (the "free" handler
  // frees a page allocated there).
  std::vector<prog::Op> setup;
  // For handlers taken from the program: the top-level interrupt op it
  // replaces (removed from the swept program), or -1.
  int replaces = -1;
};

// The built-in handlers, using page slots the program does not use:
//   bpf-nolock  hardirq: alloc_pages_nolock + free_pages_nolock (a BPF
//               program in a tracepoint/kprobe)
//   atomic      hardirq: alloc_pages(GFP_ATOMIC) + __free_pages
//   free        hardirq: __free_pages of a page the task allocated first
//   nmi         NMI: alloc_pages_nolock + free_pages_nolock (perf BPF)
std::vector<SweepHandler> BuiltinHandlers(const prog::Program& p);
// One handler per top-level interrupt op of the program ("irq#<index>").
std::vector<SweepHandler> ProgramHandlers(const prog::Program& p);

struct SweepPoint {
  int cpu = 0;
  ctx::PointId point = ctx::PointId::kNone;
  int nth = 1;
  friend bool operator==(const SweepPoint&, const SweepPoint&) = default;
};

struct SweepRow {
  SweepPoint at;
  std::string handler;
  bool fired = false;                   // the handler ran (or stayed pending)
  std::vector<std::string> titles;      // crash titles of this run
  std::vector<std::string> new_titles;  // not in the baseline
};

struct SweepOptions {
  int max_nth = 8;
  int max_runs = 5000;
};

struct SweepResult {
  std::vector<std::string> baseline_titles;  // the program alone
  std::vector<SweepPoint> reached;
  std::vector<SweepRow> rows;
  int runs = 0;
  bool truncated = false;  // max_runs was hit
};

// Sweeps a prepared program (PrepareProgram's output) with the target's
// judge (main or gfp: the target decides which findings count).
SweepResult Sweep(TargetId target, const prog::Program& prepared,
                  const std::vector<SweepHandler>& handlers,
                  const TargetOptions& options, const SweepOptions& so);

// A plain-text table of the result.
std::string FormatSweep(const SweepResult& r, bool all_rows);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_SWEEP_H_
