// The finding for vCPUs that wait for each other's locks and can never make
// progress: a cycle (each waits for a lock the next one holds) or a chain
// that ends at a holder that never releases. One shape for the executor (a
// program ends with its vCPUs waiting) and the stress runner's watchdog, so
// that a stress finding and its replay carry the same title.
#ifndef REENTRY_ALLOCATOR_EXEC_WAIT_CYCLE_H_
#define REENTRY_ALLOCATOR_EXEC_WAIT_CYCLE_H_

#include <vector>

#include "allocator/base/finding.h"
#include "allocator/ctx/kernel.h"

namespace reentry::exec {

struct CycleWaiter {
  int cpu;                      // the vCPU
  ctx::LockClassId wait_class;  // the class of the lock it waits for
};

// A kWaitCycle finding named after chain.front() (its vCPU, context and
// function), with one waiter lock per member and `why` as the detail.
// Reads the vCPUs' current state: call it while they are stopped.
Finding MakeWaitCycleFinding(ctx::Kernel& kernel,
                             const std::vector<CycleWaiter>& chain,
                             const char* why);

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_WAIT_CYCLE_H_
