// The narrow interface between the emulated kernel and whoever watches it
// (the lockdep-like checker, TSan annotations, trace recorders): every lock
// operation and every context/irq/preempt transition is one Event, delivered
// synchronously to each attached Observer. Events are plain data.
#ifndef REENTRY_ALLOCATOR_CTX_EVENT_H_
#define REENTRY_ALLOCATOR_CTX_EVENT_H_

#include <cstdint>

#include "allocator/base/finding.h"
#include "allocator/ctx/types.h"

namespace reentry::ctx {

#define REENTRY_EVENT_KINDS(X)                                               \
  X(kLockAcquire)   /* before a blocking acquisition, after a trylock won */ \
  X(kLockContended) /* the acquisition has to wait */                        \
  X(kLockAcquired)  /* the acquisition completed */                          \
  X(kLockRelease)                                                            \
  X(kLockInit) /* (re)initialisation of a lock instance */                   \
  X(kLockFree) /* the memory holding a lock is freed */                      \
  X(kHardirqsOff)                                                            \
  X(kHardirqsOn)                                                             \
  X(kSoftirqsOff)                                                            \
  X(kSoftirqsOn)                                                             \
  X(kPreemptOff)                                                             \
  X(kPreemptOn)                                                              \
  X(kContextEnter)                                                           \
  X(kContextExit)                                                            \
  X(kMightSleep)  /* a call that may sleep (mutex_lock, msleep, RT lock) */  \
  X(kMightAlloc)  /* a page allocation with gfp, order */                    \
  X(kNolockEnter) /* a nolock (trylock-only) API is entered */               \
  X(kNolockExit)

enum class EventKind : uint8_t {
#define REENTRY_EVENT_ENUM(e) e,
  REENTRY_EVENT_KINDS(REENTRY_EVENT_ENUM)
#undef REENTRY_EVENT_ENUM
};
const char* EventKindName(EventKind k);

using LockClassId = uint16_t;
inline constexpr LockClassId kNoClass = 0xffff;

// Event::flags
inline constexpr uint16_t kEvTry = 1 << 0;            // trylock
inline constexpr uint16_t kEvRead = 1 << 1;           // shared (reader) hold
inline constexpr uint16_t kEvRecursiveRead = 1 << 2;  // read that may recurse
inline constexpr uint16_t kEvIrqsOffForm = 1 << 3;    // _irq / _irqsave form
inline constexpr uint16_t kEvBhForm = 1 << 4;         // _bh form
inline constexpr uint16_t kEvAtomicByCount =
    1 << 5;  // might_sleep: the kernel's own preempt-count check fired
inline constexpr uint16_t kEvSeqReader =
    1 << 6;  // seqcount reader (wait for writer)
inline constexpr uint16_t kEvPerCpu =
    1 << 7;  // per-CPU lock instance (local_lock, pcp)
inline constexpr uint16_t kEvNested =
    1 << 8;  // spin_lock_nested / subclass given
inline constexpr uint16_t kEvRtlock =
    1 << 9;  // might_sleep: RT spinlock_t (rtlock_might_resched)

struct Event {
  EventKind kind;
  int8_t cpu = -1;
  uint8_t depth = 0;  // index of the context frame on the vCPU (0 = task)
  ContextKind context = ContextKind::kTask;
  bool irqs_disabled = false;  // at the time of the event
  uint16_t flags = 0;
  uint8_t subclass = 0;
  LockType lock_type = LockType::kCount;
  LockClassId class_id = kNoClass;
  const void* lock = nullptr;  // instance identity
  uint32_t op_index = kNoOp;
  const char* function = nullptr;  // model function that made the call
  uint32_t gfp = 0;
  int16_t order = -1;
};

class Cpu;

constexpr uint32_t EventBit(EventKind k) {
  return uint32_t{1} << static_cast<int>(k);
}
inline constexpr uint32_t kAllEvents = ~uint32_t{0};

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void OnEvent(Cpu& cpu, const Event& e) = 0;
  // The event kinds this observer needs. Kinds nobody needs are not even
  // built, which keeps observed lock pairs cheap. Read when the observer is
  // added.
  virtual uint32_t interests() const { return kAllEvents; }
};

}  // namespace reentry::ctx

#endif  // REENTRY_ALLOCATOR_CTX_EVENT_H_
