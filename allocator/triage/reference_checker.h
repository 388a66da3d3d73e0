// A deliberately simple reference for the lockdep-like checker, used by the
// checker fuzz target as a differential oracle. It replays the executor's
// trace of a lock-op program (which op ran on which vCPU, in which context
// frame, in which order) and builds two class graphs:
//
//   strict: edges prev -> next for every exclusive, non-try acquisition of
//           next while prev is held exclusively (and surely: not by a trylock
//           whose success the trace cannot tell) in the same context frame,
//           from the held locks above the nearest one whose class the
//           checker rejected (lockdep adds no edge into a rejected
//           acquisition, and records only the nearest held lock's edge), and
//           not in NMI frames (lockdep is off there). Every cycle here is a
//           deadlock lockdep must report.
//   loose:  edges for every acquisition attempt (read, try, seqlock reader)
//           from every lock that may be held in the same frame. A cycle
//           lockdep reports must exist here.
//
// Nodes are lock classes as the kernel forms them: (class name, lock type,
// subclass). The same holds for "self" nesting (a class acquired while the
// vCPU already holds it, in any frame). A run in which an interrupt frame
// ends with a lock held is not compared: the reference has no frame to
// charge it to, lockdep keeps it held.
#ifndef REENTRY_ALLOCATOR_TRIAGE_REFERENCE_CHECKER_H_
#define REENTRY_ALLOCATOR_TRIAGE_REFERENCE_CHECKER_H_

#include <string>

#include "allocator/exec/executor.h"
#include "allocator/prog/program.h"

namespace reentry::triage {

struct ReferenceResult {
  // False when the run is outside what the reference models (misuse
  // findings, very deep lock stacks, a truncated trace); why_not says why.
  bool comparable = true;
  std::string why_not;

  bool strict_cycle = false;      // a cycle of >= 2 classes in the strict graph
  std::string strict_cycle_text;  // "&a->lock -> &b->lock -> &a->lock"
  bool strict_self = false;       // exclusive re-acquisition of a held class
  std::string strict_self_text;
  bool loose_cycle = false;
  bool loose_self = false;
  int acquisitions = 0;
};

// p must be the program r ran, with the trace recorded.
ReferenceResult RunReferenceChecker(const prog::Program& p,
                                    const exec::RunResult& r);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_REFERENCE_CHECKER_H_
