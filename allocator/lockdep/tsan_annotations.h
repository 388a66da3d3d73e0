// A second Observer that tells ThreadSanitizer about the kernel locks, so its
// deadlock detector and happens-before tracking see them as mutexes
// (__tsan_mutex_* from <sanitizer/tsan_interface.h>). Built into TSan builds
// only (REENTRY_TSAN); elsewhere every call compiles to nothing.
//
// Attach it where each vCPU is a separate OS thread or a TSan fiber
// (__tsan_create_fiber): TSan keys lock ownership by thread. Acquisitions
// that reenter a lock held on the same vCPU are not annotated (reentry reports
// those itself; TSan would call them a double lock), nor are seqlock readers
// (they retry, they do not exclude) and lockdep maps (pseudo-locks).
#ifndef REENTRY_ALLOCATOR_LOCKDEP_TSAN_ANNOTATIONS_H_
#define REENTRY_ALLOCATOR_LOCKDEP_TSAN_ANNOTATIONS_H_

#include <atomic>
#include <cstdint>

#include "allocator/ctx/event.h"
#include "allocator/ctx/kernel.h"

namespace reentry::lockdep {

class TsanAnnotations : public ctx::Observer {
 public:
  TsanAnnotations() = default;
  void OnEvent(ctx::Cpu& cpu, const ctx::Event& e) override;

  // True in TSan builds (REENTRY_TSAN).
  static constexpr bool kEnabled =
#ifdef REENTRY_TSAN
      true;
#else
      false;
#endif

  // Annotated operations (a lock's pre, its post, an unlock), counted in
  // every build, for tests.
  uint64_t annotations() const {
    return annotations_.load(std::memory_order_relaxed);
  }

 private:
  void Count() { annotations_.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<uint64_t> annotations_{0};
};

}  // namespace reentry::lockdep

#endif  // REENTRY_ALLOCATOR_LOCKDEP_TSAN_ANNOTATIONS_H_
