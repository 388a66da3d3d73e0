// A World is everything one run owns: the emulated kernel, the program's test
// locks, the checker and the allocator model. Built fresh for every run.
#ifndef REENTRY_ALLOCATOR_EXEC_WORLD_H_
#define REENTRY_ALLOCATOR_EXEC_WORLD_H_

#include <memory>
#include <vector>

#include "allocator/ctx/kernel.h"
#include "allocator/exec/mm_ops.h"
#include "allocator/lockdep/lockdep.h"
#include "allocator/locks/locks.h"
#include "allocator/prog/program.h"

namespace reentry::exec {

struct TestLock {
  ctx::LockType type;
  std::unique_ptr<locks::LockBase> lock;
};

struct World : Recycled {
  World(const ctx::Config& config, BugSet bugs, const prog::Program& program,
        bool with_lockdep);
  ~World();

  ctx::Kernel kernel;
  BugSet bugs;
  RecycledVector<TestLock> locks;  // in declaration order
  std::unique_ptr<lockdep::Lockdep> lockdep;
  std::unique_ptr<MmWorld> mm;
};

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_WORLD_H_
