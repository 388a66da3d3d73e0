#include "allocator/exec/interpreter.h"

#include <variant>

#include "allocator/locks/locks.h"

namespace reentry::exec {
namespace {

using ctx::ContextKind;
using ctx::Cpu;
using prog::Op;

// Returns false if the call does not fit the program's locks.
bool RunLockCall(World& world, Cpu& cpu, OpLocals& locals,
                 const prog::LockCall& call) {
  using prog::LockVerb;
  namespace lk = locks;
  if (call.lock.v >= world.locks.size()) return false;
  TestLock& tl = world.locks[call.lock.v];
  if (!prog::LockVerbApplies(call.verb, tl.type)) return false;
  const int li = call.lock.v;
  const char* fn = prog::LockVerbName(call.verb);
  auto save = [&](ctx::IrqFlags f) {
    (void)locals.saved.push_back(
        OpLocals::SavedFlags{li, f, static_cast<uint8_t>(cpu.depth())});
  };
  auto restore = [&]() -> ctx::IrqFlags {
    for (size_t i = locals.saved.size(); i-- > 0;) {
      if (locals.saved[i].lock == li) {
        const ctx::IrqFlags f = locals.saved[i].flags;
        locals.saved.erase_at(i);
        return f;
      }
    }
    Finding f = cpu.MakeFinding(FindingKind::kUnbalancedIrqRestore, fn);
    f.cause = cpu.op_index();
    cpu.Report(f);
    return ctx::IrqFlags{cpu.irqs_disabled()};
  };
  // Downcast only to the lock's own type (LockVerbApplies checked it): a
  // cast to any other type is undefined behaviour (UBSan's vptr check).
  auto raw = [&]() -> lk::RawSpinlock& {
    return static_cast<lk::RawSpinlock&>(*tl.lock);
  };
  auto spin = [&]() -> lk::Spinlock& {
    return static_cast<lk::Spinlock&>(*tl.lock);
  };
  auto rw = [&]() -> lk::Rwlock& { return static_cast<lk::Rwlock&>(*tl.lock); };
  auto local = [&]() -> lk::LocalLock& {
    return static_cast<lk::LocalLock&>(*tl.lock);
  };
  auto seq = [&]() -> lk::Seqlock& {
    return static_cast<lk::Seqlock&>(*tl.lock);
  };
  auto mutex = [&]() -> lk::Mutex& {
    return static_cast<lk::Mutex&>(*tl.lock);
  };
  auto map = [&]() -> lk::LockdepMap& {
    return static_cast<lk::LockdepMap&>(*tl.lock);
  };
  ctx::IrqFlags f;
  switch (call.verb) {
    case LockVerb::kRawSpinLock:
      lk::raw_spin_lock(raw(), fn);
      break;
    case LockVerb::kRawSpinUnlock:
      lk::raw_spin_unlock(raw(), fn);
      break;
    case LockVerb::kRawSpinTrylock:
      (void)lk::raw_spin_trylock(raw(), fn);
      break;
    case LockVerb::kRawSpinLockIrqsave:
      save(lk::raw_spin_lock_irqsave(raw(), fn));
      break;
    case LockVerb::kRawSpinUnlockIrqrestore:
      lk::raw_spin_unlock_irqrestore(raw(), restore(), fn);
      break;
    case LockVerb::kRawSpinTrylockIrqsave:
      if (lk::raw_spin_trylock_irqsave(raw(), &f, fn)) save(f);
      break;
    case LockVerb::kRawSpinLockIrq:
      lk::raw_spin_lock_irq(raw(), fn);
      break;
    case LockVerb::kRawSpinUnlockIrq:
      lk::raw_spin_unlock_irq(raw(), fn);
      break;
    case LockVerb::kSpinLock:
      lk::spin_lock(spin(), fn);
      break;
    case LockVerb::kSpinLockNested:
      lk::spin_lock_nested(spin(), call.subclass, fn);
      break;
    case LockVerb::kSpinUnlock:
      lk::spin_unlock(spin(), fn);
      break;
    case LockVerb::kSpinTrylock:
      (void)lk::spin_trylock(spin(), fn);
      break;
    case LockVerb::kSpinLockIrqsave:
      save(lk::spin_lock_irqsave(spin(), fn));
      break;
    case LockVerb::kSpinUnlockIrqrestore:
      lk::spin_unlock_irqrestore(spin(), restore(), fn);
      break;
    case LockVerb::kSpinTrylockIrqsave:
      if (lk::spin_trylock_irqsave(spin(), &f, fn)) save(f);
      break;
    case LockVerb::kSpinLockIrq:
      lk::spin_lock_irq(spin(), fn);
      break;
    case LockVerb::kSpinUnlockIrq:
      lk::spin_unlock_irq(spin(), fn);
      break;
    case LockVerb::kSpinLockBh:
      lk::spin_lock_bh(spin(), fn);
      break;
    case LockVerb::kSpinUnlockBh:
      lk::spin_unlock_bh(spin(), fn);
      break;
    case LockVerb::kSpinTrylockBh:
      (void)lk::spin_trylock_bh(spin(), fn);
      break;
    case LockVerb::kReadLock:
      lk::read_lock(rw(), fn);
      break;
    case LockVerb::kReadUnlock:
      lk::read_unlock(rw(), fn);
      break;
    case LockVerb::kReadTrylock:
      (void)lk::read_trylock(rw(), fn);
      break;
    case LockVerb::kWriteLock:
      lk::write_lock(rw(), fn);
      break;
    case LockVerb::kWriteUnlock:
      lk::write_unlock(rw(), fn);
      break;
    case LockVerb::kWriteTrylock:
      (void)lk::write_trylock(rw(), fn);
      break;
    case LockVerb::kReadLockIrqsave:
      save(lk::read_lock_irqsave(rw(), fn));
      break;
    case LockVerb::kReadUnlockIrqrestore:
      lk::read_unlock_irqrestore(rw(), restore(), fn);
      break;
    case LockVerb::kWriteLockIrqsave:
      save(lk::write_lock_irqsave(rw(), fn));
      break;
    case LockVerb::kWriteUnlockIrqrestore:
      lk::write_unlock_irqrestore(rw(), restore(), fn);
      break;
    case LockVerb::kReadLockIrq:
      lk::read_lock_irq(rw(), fn);
      break;
    case LockVerb::kReadUnlockIrq:
      lk::read_unlock_irq(rw(), fn);
      break;
    case LockVerb::kWriteLockIrq:
      lk::write_lock_irq(rw(), fn);
      break;
    case LockVerb::kWriteUnlockIrq:
      lk::write_unlock_irq(rw(), fn);
      break;
    case LockVerb::kReadLockBh:
      lk::read_lock_bh(rw(), fn);
      break;
    case LockVerb::kReadUnlockBh:
      lk::read_unlock_bh(rw(), fn);
      break;
    case LockVerb::kWriteLockBh:
      lk::write_lock_bh(rw(), fn);
      break;
    case LockVerb::kWriteUnlockBh:
      lk::write_unlock_bh(rw(), fn);
      break;
    case LockVerb::kLocalLock:
      lk::local_lock(local(), fn);
      break;
    case LockVerb::kLocalUnlock:
      lk::local_unlock(local(), fn);
      break;
    case LockVerb::kLocalLockIrqsave:
      save(lk::local_lock_irqsave(local(), fn));
      break;
    case LockVerb::kLocalUnlockIrqrestore:
      lk::local_unlock_irqrestore(local(), restore(), fn);
      break;
    case LockVerb::kLocalLockIrq:
      lk::local_lock_irq(local(), fn);
      break;
    case LockVerb::kLocalUnlockIrq:
      lk::local_unlock_irq(local(), fn);
      break;
    case LockVerb::kLocalTrylock:
      (void)lk::local_trylock(local(), fn);
      break;
    case LockVerb::kLocalTrylockIrqsave:
      if (lk::local_trylock_irqsave(local(), &f, fn)) save(f);
      break;
    case LockVerb::kWriteSeqlock:
      lk::write_seqlock(seq(), fn);
      break;
    case LockVerb::kWriteSequnlock:
      lk::write_sequnlock(seq(), fn);
      break;
    case LockVerb::kWriteSeqlockIrqsave:
      save(lk::write_seqlock_irqsave(seq(), fn));
      break;
    case LockVerb::kWriteSequnlockIrqrestore:
      lk::write_sequnlock_irqrestore(seq(), restore(), fn);
      break;
    case LockVerb::kWriteSeqlockIrq:
      lk::write_seqlock_irq(seq(), fn);
      break;
    case LockVerb::kWriteSequnlockIrq:
      lk::write_sequnlock_irq(seq(), fn);
      break;
    case LockVerb::kWriteSeqlockBh:
      lk::write_seqlock_bh(seq(), fn);
      break;
    case LockVerb::kWriteSequnlockBh:
      lk::write_sequnlock_bh(seq(), fn);
      break;
    case LockVerb::kReadSeqbegin:
      locals.seq_start[li] = lk::read_seqbegin(seq(), fn);
      break;
    case LockVerb::kReadSeqretry:
      (void)lk::read_seqretry(seq(), locals.seq_start[li], fn);
      break;
    case LockVerb::kWriteSeqcountBegin:
      lk::write_seqcount_begin(seq(), fn);
      break;
    case LockVerb::kWriteSeqcountEnd:
      lk::write_seqcount_end(seq(), fn);
      break;
    case LockVerb::kMutexLock:
      lk::mutex_lock(mutex(), fn);
      break;
    case LockVerb::kMutexUnlock:
      lk::mutex_unlock(mutex(), fn);
      break;
    case LockVerb::kMutexTrylock:
      (void)lk::mutex_trylock(mutex(), fn);
      break;
    case LockVerb::kLockMapAcquire:
      lk::lock_map_acquire(map(), fn);
      break;
    case LockVerb::kLockMapAcquireRead:
      lk::lock_map_acquire_read(map(), fn);
      break;
    case LockVerb::kLockMapAcquireTry:
      lk::lock_map_acquire_try(map(), fn);
      break;
    case LockVerb::kLockMapRelease:
      lk::lock_map_release(map(), fn);
      break;
    case LockVerb::kLockInit:
      lk::lock_init(*tl.lock, fn);
      break;
    case LockVerb::kLockFree:
      lk::debug_check_no_locks_freed(*tl.lock, fn);
      break;
    case LockVerb::kCount:
      break;
  }
  return true;
}

}  // namespace

void RunProgramOp(World& world, Cpu& cpu, OpLocals& locals, const Op& op,
                  uint32_t index, OpHost& host, RunResult& result) {
  cpu.set_op_index(index);
  ++result.ops_run;
  ctx::FunctionScope scope(prog::OpName(op));
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, prog::SwitchCpu>) {
          host.OnSkipped(cpu, index);  // not valid in a body
        } else if constexpr (std::is_same_v<T, prog::LocalIrqDisable>) {
          cpu.local_irq_disable();
        } else if constexpr (std::is_same_v<T, prog::LocalIrqEnable>) {
          cpu.local_irq_enable();
        } else if constexpr (std::is_same_v<T, prog::LocalIrqSave>) {
          (void)locals.saved.push_back(OpLocals::SavedFlags{
              -1, cpu.local_irq_save(), static_cast<uint8_t>(cpu.depth())});
        } else if constexpr (std::is_same_v<T, prog::LocalIrqRestore>) {
          for (size_t i = locals.saved.size(); i-- > 0;) {
            if (locals.saved[i].lock == -1 &&
                locals.saved[i].depth == cpu.depth()) {
              const ctx::IrqFlags f = locals.saved[i].flags;
              locals.saved.erase_at(i);
              cpu.local_irq_restore(f);
              return;
            }
          }
          Finding f = cpu.MakeFinding(FindingKind::kUnbalancedIrqRestore,
                                      "local_irq_restore");
          f.cause = index;
          cpu.Report(f);
        } else if constexpr (std::is_same_v<T, prog::LocalBhDisable>) {
          cpu.local_bh_disable();
        } else if constexpr (std::is_same_v<T, prog::LocalBhEnable>) {
          cpu.local_bh_enable();
        } else if constexpr (std::is_same_v<T, prog::PreemptDisable>) {
          cpu.preempt_disable();
        } else if constexpr (std::is_same_v<T, prog::PreemptEnable>) {
          cpu.preempt_enable();
        } else if constexpr (std::is_same_v<T, prog::MigrateDisable>) {
          cpu.migrate_disable();
        } else if constexpr (std::is_same_v<T, prog::MigrateEnable>) {
          cpu.migrate_enable();
        } else if constexpr (std::is_same_v<T, prog::MightSleep>) {
          cpu.might_sleep("might_sleep");
        } else if constexpr (std::is_same_v<T, prog::Interrupt>) {
          if (o.kind == ContextKind::kTask) return;
          host.OnInterruptOp(cpu, o, index);
        } else if constexpr (std::is_same_v<T, prog::Pause>) {
          if (o.at.v == ctx::PointId::kNone) return;
          host.OnPauseOp(cpu, o, index);
        } else if constexpr (std::is_same_v<T, prog::PauseAgain>) {
          if (o.at.v == ctx::PointId::kNone) return;
          host.OnPauseAgainOp(cpu, o, index);
        } else if constexpr (std::is_same_v<T, prog::Resume>) {
          // Scheduled by the executor between top-level ops; run as an op
          // (the vCPU's next op taken early for a waiter) it has nothing
          // to resume.
        } else if constexpr (std::is_same_v<T, prog::LockCall>) {
          if (!RunLockCall(world, cpu, locals, o)) host.OnSkipped(cpu, index);
        } else {
          if (!world.mm->RunOp(op, result)) host.OnSkipped(cpu, index);
        }
      },
      op.v);
}

}  // namespace reentry::exec
