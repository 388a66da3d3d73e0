#include "allocator/lockdep/tsan_annotations.h"

#ifdef REENTRY_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace reentry::lockdep {
namespace {

using ctx::EventKind;
using ctx::LockType;

// Whether lock is held (by an earlier acquisition) on cpu: a reentry the
// lock layer and lockdep report; not a lock TSan should see twice.
bool HeldOnCpu(const ctx::Cpu& cpu, const void* lock, int skip_newest) {
  const auto& held = cpu.held();
  int n = static_cast<int>(held.size()) - skip_newest;
  for (int i = 0; i < n; ++i) {
    if (held[i].lock == lock) return true;
  }
  return false;
}

}  // namespace

void TsanAnnotations::OnEvent(ctx::Cpu& cpu, const ctx::Event& e) {
  if (e.lock == nullptr) return;
  if (e.lock_type == LockType::kLockdepMap) return;
  if (e.flags & ctx::kEvSeqReader) return;
  const bool read = e.flags & ctx::kEvRead;
  const bool trylock = e.flags & ctx::kEvTry;
  void* addr = const_cast<void*>(e.lock);
  (void)addr;
  (void)read;
  (void)trylock;
  switch (e.kind) {
    case EventKind::kLockAcquire:
      // A blocking acquisition is announced before it waits; a trylock only
      // after it won (then pre and post come together at kLockAcquired).
      if (trylock || HeldOnCpu(cpu, e.lock, 0)) return;
#ifdef REENTRY_TSAN
      __tsan_mutex_pre_lock(addr, read ? __tsan_mutex_read_lock : 0);
#endif
      Count();
      return;
    case EventKind::kLockAcquired:
      // The lock layer records the hold after kLockAcquired.
      if (HeldOnCpu(cpu, e.lock, 0)) return;
#ifdef REENTRY_TSAN
      if (trylock) {
        __tsan_mutex_pre_lock(
            addr, (read ? __tsan_mutex_read_lock : 0) | __tsan_mutex_try_lock);
        __tsan_mutex_post_lock(
            addr, (read ? __tsan_mutex_read_lock : 0) | __tsan_mutex_try_lock,
            0);
      } else {
        __tsan_mutex_post_lock(addr, read ? __tsan_mutex_read_lock : 0, 0);
      }
#endif
      Count();
      return;
    case EventKind::kLockRelease: {
      // Annotated only if this is the only hold on the CPU (the outer hold of
      // a reentered lock was the annotated one).
      int holds = 0;
      for (const ctx::HeldLock& h : cpu.held()) holds += h.lock == e.lock;
      if (holds != 1) return;
#ifdef REENTRY_TSAN
      __tsan_mutex_pre_unlock(addr, read ? __tsan_mutex_read_lock : 0);
      __tsan_mutex_post_unlock(addr, read ? __tsan_mutex_read_lock : 0);
#endif
      Count();
      return;
    }
    case EventKind::kLockInit:
#ifdef REENTRY_TSAN
      __tsan_mutex_create(addr, __tsan_mutex_not_static);
#endif
      return;
    case EventKind::kLockFree:
#ifdef REENTRY_TSAN
      __tsan_mutex_destroy(addr, __tsan_mutex_not_static);
#endif
      return;
    default:
      return;
  }
}

}  // namespace reentry::lockdep
