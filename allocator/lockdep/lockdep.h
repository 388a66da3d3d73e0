// The lockdep-like checker (placeholder interface; the checker issue fills
// it in). An Observer of the kernel's lock and context events.
#ifndef REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_
#define REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_

#include "allocator/ctx/kernel.h"

namespace reentry::lockdep {

class Lockdep : public ctx::Observer {
 public:
  explicit Lockdep(ctx::Kernel& kernel) : kernel_(kernel) {}
  void OnEvent(ctx::Cpu& cpu, const ctx::Event& e) override {}

 private:
  ctx::Kernel& kernel_;
};

}  // namespace reentry::lockdep

#endif  // REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_
