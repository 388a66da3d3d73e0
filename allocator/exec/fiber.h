// Minimal fibers for deterministic vCPU scheduling: each vCPU runs on its own
// stack and switches only to and from the scheduler. Annotated for ASan and
// TSan. A fiber may be abandoned mid-function (a hung vCPU); Reset() makes it
// reusable for the next run.
#ifndef REENTRY_ALLOCATOR_EXEC_FIBER_H_
#define REENTRY_ALLOCATOR_EXEC_FIBER_H_

#include <cstddef>
#include <memory>

// x86-64 switches with a few instructions (fiber.cc); elsewhere ucontext,
// whose swapcontext() makes a sigprocmask system call on every switch.
#if defined(__x86_64__) && !defined(REENTRY_FIBER_UCONTEXT)
#define REENTRY_FIBER_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

namespace reentry::exec {

class Fiber {
 public:
  using Entry = void (*)(void* arg);

  explicit Fiber(size_t stack_size = 256 * 1024);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to start entry(arg) on its next SwitchTo. Discards
  // whatever the fiber was doing.
  void Reset(Entry entry, void* arg);

  // From the scheduler: run this fiber until it calls Yield.
  void SwitchTo();
  // From inside this fiber: return to the scheduler.
  void Yield();

 private:
  static void Start(Fiber* self);
#ifdef REENTRY_FIBER_ASM_SWITCH
  void* sp_ = nullptr;            // the fiber's saved stack pointer
  void* scheduler_sp_ = nullptr;  // the scheduler's, while the fiber runs
#else
  static void Trampoline(unsigned lo, unsigned hi);
  ucontext_t context_{};
  ucontext_t scheduler_{};
#endif

  size_t stack_size_;
  std::unique_ptr<char[]> stack_;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
  void* tsan_fiber_ = nullptr;
  void* tsan_scheduler_ = nullptr;
  void* asan_fake_stack_ = nullptr;
  const void* asan_sched_bottom_ = nullptr;
  size_t asan_sched_size_ = 0;
};

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_FIBER_H_
