// Program-level minimization: shrinks a crashing program while the target
// still reports the same title. Passes, repeated to a fixpoint or until the
// budget runs out:
//   - drop ops (chunks of a list, halving down to single ops, in every
//     interrupt body as in the top-level list);
//   - flatten interrupts (the body inline instead of the interrupt), fire
//     them at the first arrival, or at once (point none);
//   - lower orders, counts and nth, drop gfp bits, long-term pins, subclasses;
//   - fewer vCPUs, default configuration, fewer bug-zoo switches;
//   - drop lock declarations nothing uses.
// A candidate is kept only if it is smaller (ops first, then fields) and the
// title survives, so minimization terminates and never changes the finding.
#ifndef REENTRY_ALLOCATOR_TRIAGE_MINIMIZE_H_
#define REENTRY_ALLOCATOR_TRIAGE_MINIMIZE_H_

#include <string>

#include "allocator/prog/program.h"
#include "allocator/triage/target.h"

namespace reentry::triage {

struct MinimizeOptions {
  int max_runs = 20000;
  double max_seconds = 60;
  // Run every candidate in a child process (the finding is a hard crash: a
  // harness CHECK or a sanitizer report).
  bool isolated = false;
  double isolated_timeout = 10;
};

struct MinimizeStats {
  int runs = 0;
  int accepted = 0;
  double seconds = 0;
  size_t ops_before = 0;
  size_t ops_after = 0;
  bool budget_exhausted = false;
};

struct Minimized {
  prog::Program program;
  MinimizeStats stats;
};

// Options under which a prepared program runs as itself: its own header
// (configuration and bug switches) is the truth, nothing is forced.
TargetOptions ReplayOptions(const TargetOptions& campaign);

// Whether the target reports title for the prepared program p.
bool ReproducesTitle(TargetId target, const prog::Program& p,
                     const std::string& title, const TargetOptions& replay,
                     exec::Executor& ex, bool isolated, double timeout);

// Minimizes a prepared program (PrepareProgram's output) that reproduces
// title under ReplayOptions(options).
Minimized MinimizeProgram(TargetId target, const prog::Program& prepared,
                          const std::string& title,
                          const TargetOptions& options,
                          const MinimizeOptions& mo);

struct Reliability {
  int runs = 0;
  int reproduced = 0;
  bool text_round_trip = true;  // the printed reproducer parses back to it
};

// Replays p n times (fresh and reused executors, and once more from its
// text form) and counts how often title comes back.
Reliability MeasureReliability(TargetId target, const prog::Program& p,
                               const std::string& title,
                               const TargetOptions& options, int n,
                               bool isolated);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_MINIMIZE_H_
