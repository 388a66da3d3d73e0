#include "allocator/exec/fiber.h"

#include <algorithm>
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

#ifdef REENTRY_FIBER_ASM_SWITCH
// void reentry_fiber_switch(void** save_sp, void* load_sp): saves the
// callee-saved registers and the FP control words on the current stack,
// stores the stack pointer in *save_sp, and resumes the context saved at
// load_sp. reentry_fiber_entry is where a fresh fiber's first switch
// "returns" to: it calls r13(r12) and never returns.
asm(R"(
  .text
  .p2align 4
  .globl reentry_fiber_switch
  .hidden reentry_fiber_switch
  .type reentry_fiber_switch,@function
reentry_fiber_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  fldcw (%rsp)
  ldmxcsr 8(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size reentry_fiber_switch, .-reentry_fiber_switch

  .p2align 4
  .globl reentry_fiber_entry
  .hidden reentry_fiber_entry
  .type reentry_fiber_entry,@function
reentry_fiber_entry:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size reentry_fiber_entry, .-reentry_fiber_entry
)");
extern "C" void reentry_fiber_switch(void** save_sp, void* load_sp);
extern "C" void reentry_fiber_entry();
#endif

namespace reentry::exec {

Fiber::Fiber(size_t stack_size)
    : stack_size_(stack_size), stack_(new char[stack_size]) {}

Fiber::~Fiber() {
#ifdef REENTRY_FIBER_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

#ifndef REENTRY_FIBER_ASM_SWITCH
void Fiber::Trampoline(unsigned lo, unsigned hi) {
  Start(reinterpret_cast<Fiber*>((static_cast<uintptr_t>(hi) << 32) |
                                 static_cast<uintptr_t>(lo)));
}
#endif

void Fiber::Start(Fiber* self) {
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
  // An abandoned fiber leaves poisoned redzones on its stack: those of the
  // frames live when it was last suspended, all above its saved stack
  // pointer (a frame that returned unpoisoned its own). Unpoisoning only
  // those spares a 32 KiB shadow clear per fiber and run.
  {
    const uintptr_t base = reinterpret_cast<uintptr_t>(stack_.get());
    uintptr_t low = base;
#ifdef REENTRY_FIBER_ASM_SWITCH
    if (sp_ != nullptr) low = std::max(base, reinterpret_cast<uintptr_t>(sp_));
#endif
    ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(low),
                                base + stack_size_ - low);
  }
#endif
#ifdef REENTRY_FIBER_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
#ifdef REENTRY_FIBER_ASM_SWITCH
  // The frame reentry_fiber_switch pops, from the lowest address: FP control
  // word, MXCSR, r15, r14, r13, r12, rbx, rbp, return address. After the
  // ret, rsp + 8 is 16-byte aligned as at any function entry; rbp = 0 ends
  // frame-pointer unwinds there.
  uintptr_t top = reinterpret_cast<uintptr_t>(stack_.get()) + stack_size_;
  top &= ~uintptr_t{15};
  auto* frame = reinterpret_cast<uint64_t*>(top - 88);
  frame[0] = 0x037f;  // x87 control word: the ABI's initial value
  frame[1] = 0x1f80;  // MXCSR: the ABI's initial value
  frame[2] = 0;       // r15
  frame[3] = 0;       // r14
  frame[4] = reinterpret_cast<uint64_t>(&Fiber::Start);  // r13
  frame[5] = reinterpret_cast<uint64_t>(this);           // r12
  frame[6] = 0;                                          // rbx
  frame[7] = 0;                                          // rbp
  frame[8] = reinterpret_cast<uint64_t>(&reentry_fiber_entry);
  sp_ = frame;
#else
  REENTRY_CHECK(getcontext(&context_) == 0);
  context_.uc_stack.ss_sp = stack_.get();
  context_.uc_stack.ss_size = stack_size_;
  context_.uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(this);
  makecontext(&context_, reinterpret_cast<void (*)()>(&Fiber::Trampoline), 2,
              static_cast<unsigned>(p & 0xffffffffu),
              static_cast<unsigned>(p >> 32));
#endif
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
#ifdef REENTRY_FIBER_ASM_SWITCH
  reentry_fiber_switch(&scheduler_sp_, sp_);
#else
  REENTRY_CHECK(swapcontext(&scheduler_, &context_) == 0);
#endif
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
#ifdef REENTRY_FIBER_ASM_SWITCH
  reentry_fiber_switch(&sp_, scheduler_sp_);
#else
  REENTRY_CHECK(swapcontext(&context_, &scheduler_) == 0);
#endif
#ifdef REENTRY_FIBER_ASAN
  __sanitizer_finish_switch_fiber(asan_fake_stack_, &asan_sched_bottom_,
                                  &asan_sched_size_);
#endif
}

}  // namespace reentry::exec
