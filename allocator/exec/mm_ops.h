// The seam between the executor and the allocator model: builds the model for
// a world, runs allocator ops, and checks the model's invariants. Owned by
// the allocator model (mm/); the executor only calls these.
#ifndef REENTRY_ALLOCATOR_EXEC_MM_OPS_H_
#define REENTRY_ALLOCATOR_EXEC_MM_OPS_H_

#include <memory>
#include <span>

#include "allocator/base/bug_zoo.h"
#include "allocator/ctx/kernel.h"
#include "allocator/prog/program.h"

namespace reentry::locks {
class LockBase;
}

namespace reentry::exec {

struct RunResult;

// The allocator model's part of a world (zones, pcp lists, page slots).
class MmWorld : public Recycled {
 public:
  virtual ~MmWorld() = default;
  // Runs op if it is an allocator op and returns true; false otherwise.
  // test_locks are the program's declared locks (for register_shrinker).
  virtual bool RunOp(const prog::Op& op, RunResult& result) = 0;
  // Reports invariant violations as findings; teardown also checks leaks.
  virtual void CheckInvariants(bool teardown) = 0;
};

// Builds the model on kernel with the given bug-zoo switches.
std::unique_ptr<MmWorld> CreateMmWorld(
    ctx::Kernel& kernel, BugSet bugs,
    std::span<locks::LockBase* const> test_locks);

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_MM_OPS_H_
