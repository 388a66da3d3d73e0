#include "allocator/exec/fiber.h"

#include <cstdint>

#include "allocator/base/check.h"

#if defined(__SANITIZE_ADDRESS__)
#define REENTRY_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REENTRY_FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define REENTRY_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define REENTRY_FIBER_TSAN 1
#endif
#endif

#ifdef REENTRY_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef REENTRY_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace reentry::exec {

Fiber::Fiber(size_t stack_size)
    : stack_size_(stack_size), stack_(new char[stack_size]) {}

Fiber::~Fiber() {
#ifdef REENTRY_FIBER_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

void Fiber::Trampoline(unsigned lo, unsigned hi) {
  Fiber* self = reinterpret_cast<Fiber*>((static_cast<uintptr_t>(hi) << 32) |
                                         static_cast<uintptr_t>(lo));
#ifdef REENTRY_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->asan_sched_bottom_,
                                  &self->asan_sched_size_);
#endif
  self->entry_(self->arg_);
  REENTRY_CHECK_MSG(false, "fiber entry returned");
}

void Fiber::Reset(Entry entry, void* arg) {
  entry_ = entry;
  arg_ = arg;
#ifdef REENTRY_FIBER_ASAN
  // An abandoned fiber leaves poisoned redzones on its stack.
  ASAN_UNPOISON_MEMORY_REGION(stack_.get(), stack_size_);
#endif
#ifdef REENTRY_FIBER_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
  REENTRY_CHECK(getcontext(&context_) == 0);
  context_.uc_stack.ss_sp = stack_.get();
  context_.uc_stack.ss_size = stack_size_;
  context_.uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(this);
  makecontext(&context_, reinterpret_cast<void (*)()>(&Fiber::Trampoline), 2,
              static_cast<unsigned>(p & 0xffffffffu),
              static_cast<unsigned>(p >> 32));
}

void Fiber::SwitchTo() {
#ifdef REENTRY_FIBER_TSAN
  tsan_scheduler_ = __tsan_get_current_fiber();
  // Synchronising switch: vCPUs hand off strictly in turn, which is a
  // happens-before edge TSan must see (no_sync would report every shared
  // model access as a race).
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#ifdef REENTRY_FIBER_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack_.get(), stack_size_);
#endif
  REENTRY_CHECK(swapcontext(&scheduler_, &context_) == 0);
#ifdef REENTRY_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void Fiber::Yield() {
#ifdef REENTRY_FIBER_TSAN
  __tsan_switch_to_fiber(tsan_scheduler_, 0);
#endif
#ifdef REENTRY_FIBER_ASAN
  __sanitizer_start_switch_fiber(&asan_fake_stack_, asan_sched_bottom_,
                                 asan_sched_size_);
#endif
  REENTRY_CHECK(swapcontext(&context_, &scheduler_) == 0);
#ifdef REENTRY_FIBER_ASAN
  __sanitizer_finish_switch_fiber(asan_fake_stack_, &asan_sched_bottom_,
                                  &asan_sched_size_);
#endif
}

}  // namespace reentry::exec
