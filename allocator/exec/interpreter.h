// Runs one program op on the current vCPU: context ops, lock calls on the
// program's test locks, allocator ops. Interrupts and pauses are scheduling
// decisions, so they go to a Host: the deterministic executor arms them at
// injection points, the stress runner raises them for real. Shared by both
// so an op means the same thing everywhere.
#ifndef REENTRY_ALLOCATOR_EXEC_INTERPRETER_H_
#define REENTRY_ALLOCATOR_EXEC_INTERPRETER_H_

#include <cstdint>

#include "allocator/base/fixed_vector.h"
#include "allocator/ctx/kernel.h"
#include "allocator/exec/executor.h"
#include "allocator/exec/world.h"
#include "allocator/prog/program.h"

namespace reentry::exec {

// Interrupt state that a kernel function keeps in local variables: the flags
// of local_irq_save()/spin_lock_irqsave() and read_seqbegin()'s sequence.
struct OpLocals {
  struct SavedFlags {
    int lock;  // test lock index, or -1 for local_irq_save()
    ctx::IrqFlags flags;
    uint8_t depth;
  };
  FixedVector<SavedFlags, 64> saved;
  uint32_t seq_start[prog::kMaxLocks] = {};

  // Drops the flags saved by frames deeper than depth (an interrupt handler
  // returned: its local variables are gone).
  void DropAbove(int depth) {
    while (!saved.empty() && saved.back().depth > depth) saved.pop_back();
  }
};

class OpHost {
 public:
  virtual ~OpHost() = default;
  virtual void OnInterruptOp(ctx::Cpu& cpu, const prog::Interrupt& irq,
                             uint32_t index) = 0;
  virtual void OnPauseOp(ctx::Cpu& cpu, const prog::Pause& pause,
                         uint32_t index) = 0;
  // pause_again(): hosts without pauses ignore it, as they ignore pause().
  virtual void OnPauseAgainOp(ctx::Cpu& cpu, const prog::PauseAgain& pause,
                              uint32_t index) {}
  // The op could not run here (SwitchCpu inside a body, an allocator op the
  // model does not implement, a verb that does not fit its lock).
  virtual void OnSkipped(ctx::Cpu& cpu, uint32_t index) = 0;
};

// Runs op (pre-order index `index`) on cpu, which must be the current vCPU.
void RunProgramOp(World& world, ctx::Cpu& cpu, OpLocals& locals,
                  const prog::Op& op, uint32_t index, OpHost& host,
                  RunResult& result);

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_INTERPRETER_H_
