#include "allocator/locks/locks.h"

#include <cstdio>

#include "allocator/base/check.h"

namespace reentry::locks {
namespace {

using ctx::EventKind;

using internal::Me;
using internal::Rt;
using internal::SpinLockCommon;
using internal::SpinTrylockCommon;
using internal::SpinUnlockCommon;

[[noreturn]] void HangCpu(Cpu& cpu) {
  ctx::Hooks* h = cpu.kernel().hooks();
  REENTRY_CHECK_MSG(h != nullptr,
                    "a vCPU deadlocked with no executor attached");
  h->Hang(cpu);
  __builtin_unreachable();
}

void WaitFor(Cpu& cpu, const LockBase& lock, int holder) {
  ctx::Hooks* h = cpu.kernel().hooks();
  REENTRY_CHECK_MSG(h != nullptr,
                    "a lock is contended with no executor attached");
  h->Wait(cpu, &lock, lock.class_id(), holder);
}

void FillLock(FindingLock& fl, const LockBase& l, int cpu, int depth_ctx,
              const char* fn, uint32_t op) {
  fl.class_id = l.class_id();
  fl.lock_type = static_cast<uint8_t>(l.type());
  fl.cpu = static_cast<int8_t>(cpu);
  fl.context = static_cast<uint8_t>(depth_ctx);
  fl.function = fn;
  fl.op_index = op;
}

// Reports that cpu spins on something its own (possibly interrupted) frame at
// holder_depth holds.
void ReportSelfSpin(Cpu& cpu, const LockBase& l, FindingKind kind,
                    int holder_depth, const char* fn, const char* what) {
  Finding f = cpu.MakeFinding(kind, fn);
  f.lock_family = ctx::LockFamilyName(l.type());
  f.cause = l.class_id();
  FindingLock& a = f.AddLock(l.name(), LockRole::kAcquiring);
  FillLock(a, l, cpu.id(), static_cast<int>(cpu.context()), fn, cpu.op_index());
  if (holder_depth >= 0 && holder_depth <= cpu.depth()) {
    FindingLock& h = f.AddLock(l.name(), LockRole::kHolder);
    FillLock(h, l, cpu.id(), static_cast<int>(cpu.frame(holder_depth).kind),
             nullptr, kNoOp);
  }
  char detail[sizeof(f.detail)];
  const char* holder_ctx = holder_depth >= 0 && holder_depth <= cpu.depth()
                               ? ctx::ContextName(cpu.frame(holder_depth).kind)
                               : "exited";
  snprintf(detail, sizeof(detail),
           "%s %s on CPU#%d in %s context; it is held by the %s frame on the "
           "same CPU, so the wait can never end",
           what, l.name(), cpu.id(), ctx::ContextName(cpu.context()),
           holder_depth == cpu.depth() ? "same" : holder_ctx);
  f.SetDetail(detail);
  cpu.Report(f);
}

}  // namespace

// ---------------------------------------------------------------------------
// LockBase

LockBase::LockBase(Kernel& kernel, std::string_view class_name, LockType type,
                   ctx::WaitType wait_override)
    : kernel_(&kernel),
      class_(kernel.RegisterLockClass(class_name, type, wait_override)),
      type_(type) {}

const char* LockBase::name() const { return kernel_->lock_class(class_).name; }

void LockBase::EmitLockSlow(Cpu& cpu, EventKind kind, const void* instance,
                            uint16_t flags, const char* fn,
                            uint8_t subclass) const {
  ctx::Event e = cpu.MakeEvent(kind);
  e.lock = instance;
  e.class_id = class_;
  e.lock_type = type_;
  e.flags = flags;
  e.subclass = subclass;
  if (fn != nullptr) e.function = fn;
  kernel_->Emit(cpu, e);
}

// ---------------------------------------------------------------------------
// ExclusiveLock (the fast paths are inline in locks.h)

ExclusiveLock::ExclusiveLock(Kernel& kernel, std::string_view class_name,
                             LockType type, ctx::WaitType wait_override)
    : LockBase(kernel, class_name, type, wait_override),
      sleeps_(type == LockType::kMutex ||
              (type != LockType::kRawSpinlock && kernel.config().preempt_rt)),
      rt_spinlock_(sleeps_ && type != LockType::kMutex) {}

void ExclusiveLock::ReportRecursion(Cpu& cpu, const Site& site,
                                    FindingKind kind) {
  ReportSelfSpin(cpu, *this, kind, LockWord::OwnerDepth(word_.load()),
                 site.function, Sleeps() ? "sleeping on" : "spinning on");
}

// The blocking acquisition after its first TryTake failed.
void ExclusiveLock::AcquireWordSlow(Cpu& cpu, const Site& site, uint32_t me) {
  bool contended = false;
  for (;;) {
    const uint32_t w = word_.load();
    if (w == LockWord::kFree) {
      if (word_.TryTake(me, cpu.config().concurrent)) return;
      continue;
    }
    const int owner = LockWord::OwnerCpu(w);
    if (owner == cpu.id()) {
      ReportRecursion(cpu, site, FindingKind::kLockRecursion);
      HangCpu(cpu);
    }
    if (!contended) {
      EmitLock(cpu, EventKind::kLockContended, this, 0, site.function);
      contended = true;
    }
    if (rt_spinlock_) {
      // rt_spin_lock slow path: the rtmutex's raw wait_lock is held while
      // the waiter enqueues itself (BZ-02's NMI variant lands here).
      wait_lock_.ForceSet(me);
      ctx::injection_point(ctx::PointId::kRtSpinLockWaitLock);
      wait_lock_.Release();
    }
    WaitFor(cpu, *this, owner);
    if (word_.TryTake(me, cpu.config().concurrent)) return;
  }
}

bool ExclusiveLock::TryAcquireRt(Cpu& cpu, uint16_t ev_flags,
                                 const Site& site) {
  const uint32_t wl = wait_lock_.load();
  if (wl != LockWord::kFree && LockWord::OwnerCpu(wl) == cpu.id()) {
    // rt_spin_trylock() takes the raw wait_lock, which the interrupted
    // frame holds: an NMI spins on it forever.
    ReportSelfSpin(cpu, *this, FindingKind::kLockRecursion,
                   LockWord::OwnerDepth(wl), site.function,
                   "rt_spin_trylock spinning on the rtmutex wait_lock of");
    HangCpu(cpu);
  }
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  if (!word_.TryTake(me, cpu.config().concurrent)) return false;  // sleeps
  TryAcquired(cpu, ev_flags, site);
  return true;
}

bool ExclusiveLock::TrylockLost(Cpu& cpu, const Site& site) {
  if (cpu.config().smp || Sleeps()) return false;
  // UP: spinlocks have no lock word; the trylock "succeeds" on a lock that
  // is logically held.
  Finding f = cpu.MakeFinding(FindingKind::kUpTrylockOnHeldLock, site.function);
  f.lock_family = ctx::LockFamilyName(type_);
  f.cause = class_;
  FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
  FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
           cpu.op_index());
  f.SetDetail(
      "on !SMP spin_trylock() always succeeds: the critical section of the "
      "interrupted holder is now entered twice");
  cpu.Report(f);
  ++up_nest_;
  return true;
}

void ExclusiveLock::ReleaseSlow(Cpu& cpu, uint32_t w, const Site& site) {
  if (w == LockWord::kFree) {
    Finding f =
        cpu.MakeFinding(FindingKind::kLockAlreadyUnlocked, site.function);
    f.lock_family = ctx::LockFamilyName(type_);
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    cpu.Report(f);
    return;
  }
  int owner = LockWord::OwnerCpu(w);
  if (owner < 0 || owner >= kernel_->nr_cpus()) owner = cpu.id();
  if (owner != cpu.id()) {
    Finding f = cpu.MakeFinding(FindingKind::kLockWrongCpu, site.function);
    f.lock_family = ctx::LockFamilyName(type_);
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    char detail[sizeof(f.detail)];
    snprintf(detail, sizeof(detail), "unlocked on CPU#%d, owner CPU#%d",
             cpu.id(), owner);
    f.SetDetail(detail);
    cpu.Report(f);
  }
  Cpu& owner_cpu = kernel_->cpu(owner);
  (void)owner_cpu.PopHeld(this);
  if (type_ == LockType::kRawSpinlock) owner_cpu.AdjustRawHeld(-1);
  if (up_nest_ > 0) {
    --up_nest_;  // UP: drop the extra logical hold, keep the word
    return;
  }
  word_.Release();
}

// ---------------------------------------------------------------------------
// Rwlock

void Rwlock::ReadAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  ev_flags |= ctx::kEvRead | ctx::kEvRecursiveRead;
  EmitLock(cpu, EventKind::kLockAcquire, this, ev_flags, site.function,
           site.subclass);
  bool contended = false;
  for (;;) {
    const uint32_t w = writer_.load();
    if (w == LockWord::kFree) break;
    const int owner = LockWord::OwnerCpu(w);
    if (owner == cpu.id()) {
      ReportSelfSpin(cpu, *this, FindingKind::kLockRecursion,
                     LockWord::OwnerDepth(w), site.function,
                     "read_lock spinning on");
      HangCpu(cpu);
    }
    if (!contended) {
      EmitLock(cpu, EventKind::kLockContended, this, ev_flags, site.function);
      contended = true;
    }
    WaitFor(cpu, *this, owner);
  }
  ++readers_;
  ++readers_on_cpu_[cpu.id()];
  EmitLock(cpu, EventKind::kLockAcquired, this, ev_flags, site.function);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), true});
}

bool Rwlock::ReadTryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  if (writer_.load() != LockWord::kFree) return false;
  ev_flags |= ctx::kEvRead | ctx::kEvRecursiveRead | ctx::kEvTry;
  ++readers_;
  ++readers_on_cpu_[cpu.id()];
  EmitLock(cpu, EventKind::kLockAcquire, this, ev_flags, site.function);
  EmitLock(cpu, EventKind::kLockAcquired, this, ev_flags, site.function);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), true});
  return true;
}

void Rwlock::ReadRelease(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  EmitLock(cpu, EventKind::kLockRelease, this, ev_flags | ctx::kEvRead,
           site.function);
  if (readers_on_cpu_[cpu.id()] == 0) {
    Finding f =
        cpu.MakeFinding(FindingKind::kLockAlreadyUnlocked, site.function);
    f.lock_family = "rwlock";
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    f.SetDetail("read_unlock() without read_lock() on this CPU");
    cpu.Report(f);
    return;
  }
  --readers_;
  --readers_on_cpu_[cpu.id()];
  (void)cpu.PopHeld(this);
}

void Rwlock::WriteAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  EmitLock(cpu, EventKind::kLockAcquire, this, ev_flags, site.function,
           site.subclass);
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  bool contended = false;
  for (;;) {
    if (readers_ == 0 && writer_.TryTake(me, cpu.config().concurrent)) break;
    int holder = -1;
    int holder_depth = -1;
    const uint32_t w = writer_.load();
    if (w != LockWord::kFree) {
      holder = LockWord::OwnerCpu(w);
      holder_depth = LockWord::OwnerDepth(w);
    } else if (readers_on_cpu_[cpu.id()] > 0) {
      holder = cpu.id();
      for (const ctx::HeldLock& h : cpu.held()) {
        if (h.lock == this) holder_depth = h.depth;
      }
    } else {
      for (int c = 0; c < kernel_->nr_cpus(); ++c) {
        if (readers_on_cpu_[c] > 0) {
          holder = c;
          break;
        }
      }
    }
    if (holder == cpu.id()) {
      ReportSelfSpin(cpu, *this, FindingKind::kLockRecursion, holder_depth,
                     site.function, "write_lock spinning on");
      HangCpu(cpu);
    }
    if (!contended) {
      EmitLock(cpu, EventKind::kLockContended, this, ev_flags, site.function);
      contended = true;
    }
    WaitFor(cpu, *this, holder);
  }
  EmitLock(cpu, EventKind::kLockAcquired, this, ev_flags, site.function);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), false});
}

bool Rwlock::WriteTryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  if (readers_ != 0 || !writer_.TryTake(me, cpu.config().concurrent))
    return false;
  ev_flags |= ctx::kEvTry;
  EmitLock(cpu, EventKind::kLockAcquire, this, ev_flags, site.function);
  EmitLock(cpu, EventKind::kLockAcquired, this, ev_flags, site.function);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), false});
  return true;
}

void Rwlock::WriteRelease(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  EmitLock(cpu, EventKind::kLockRelease, this, ev_flags, site.function);
  const uint32_t w = writer_.load();
  if (w == LockWord::kFree) {
    Finding f =
        cpu.MakeFinding(FindingKind::kLockAlreadyUnlocked, site.function);
    f.lock_family = "rwlock";
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    cpu.Report(f);
    return;
  }
  int owner = LockWord::OwnerCpu(w);
  if (owner < 0 || owner >= kernel_->nr_cpus()) owner = cpu.id();
  (void)kernel_->cpu(owner).PopHeld(this);
  writer_.Release();
}

// ---------------------------------------------------------------------------
// LocalLock

LocalLock::LocalLock(Kernel& k, std::string_view name, bool trylock_type)
    : LockBase(k, name,
               trylock_type ? LockType::kLocalTrylock : LockType::kLocalLock) {}

void LocalLock::Acquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  PerCpu& st = state_[cpu.id()];
  ev_flags |= ctx::kEvPerCpu;
  EmitLock(cpu, EventKind::kLockAcquire, &st, ev_flags, site.function,
           site.subclass);
  if (st.acquired) {
    if (Rt(cpu)) {
      // A per-CPU spinlock_t owned by this CPU's (interrupted) task.
      ReportSelfSpin(cpu, *this, FindingKind::kLockRecursion, st.depth,
                     site.function, "sleeping on");
      HangCpu(cpu);
    }
    // !RT: nothing spins; with DEBUG_LOCK_ALLOC the owner check complains
    // and the per-CPU data is entered twice.
    Finding f = cpu.MakeFinding(FindingKind::kLocalLockReentry, site.function);
    f.lock_family = "local_lock";
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    FindingLock& h = f.AddLock(name(), LockRole::kHolder);
    FillLock(h, *this, cpu.id(), static_cast<int>(cpu.frame(st.depth).kind),
             nullptr, kNoOp);
    char detail[sizeof(f.detail)];
    snprintf(detail, sizeof(detail),
             "%s taken in %s context on CPU#%d while the interrupted %s frame "
             "holds it: the per-CPU data is now used twice",
             name(), ctx::ContextName(cpu.context()), cpu.id(),
             ctx::ContextName(cpu.frame(st.depth).kind));
    f.SetDetail(detail);
    cpu.Report(f);
  }
  st.acquired = true;
  st.depth = static_cast<uint8_t>(cpu.depth());
  EmitLock(cpu, EventKind::kLockAcquired, &st, ev_flags, site.function);
  (void)cpu.PushHeld({&st, class_, type_, st.depth, false});
}

bool LocalLock::TryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  PerCpu& st = state_[cpu.id()];
  if (Rt(cpu) && (cpu.in_nmi() || cpu.in_hardirq())) return false;
  if (st.acquired) return false;
  ev_flags |= ctx::kEvPerCpu | ctx::kEvTry;
  st.acquired = true;
  st.depth = static_cast<uint8_t>(cpu.depth());
  EmitLock(cpu, EventKind::kLockAcquire, &st, ev_flags, site.function);
  EmitLock(cpu, EventKind::kLockAcquired, &st, ev_flags, site.function);
  (void)cpu.PushHeld({&st, class_, type_, st.depth, false});
  return true;
}

void LocalLock::Release(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  PerCpu& st = state_[cpu.id()];
  EmitLock(cpu, EventKind::kLockRelease, &st, ev_flags | ctx::kEvPerCpu,
           site.function);
  if (!st.acquired) {
    Finding f =
        cpu.MakeFinding(FindingKind::kLockAlreadyUnlocked, site.function);
    f.lock_family = "local_lock";
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    cpu.Report(f);
    return;
  }
  (void)cpu.PopHeld(&st);
  // After a reentry the inner unlock leaves the outer hold in place, and
  // the holder is the outer frame again (the inner one is gone: a later
  // reentry names the frame at st.depth).
  bool still_held = false;
  for (const ctx::HeldLock& h : cpu.held()) {
    if (h.lock != &st) continue;
    still_held = true;
    st.depth = h.depth;
  }
  st.acquired = still_held;
}

// ---------------------------------------------------------------------------
// Seqlock

Seqlock::Seqlock(Kernel& k, std::string_view name, bool with_lock)
    : LockBase(k, name, with_lock ? LockType::kSeqlock : LockType::kSeqcount),
      with_lock_(with_lock) {}

void Seqlock::WriteBegin(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  EmitLock(cpu, EventKind::kLockAcquire, this, ev_flags, site.function,
           site.subclass);
  if (with_lock_) {
    // The embedded spinlock_t serialises writers.
    bool contended = false;
    for (;;) {
      if (writer_.TryTake(me, cpu.config().concurrent)) break;
      const uint32_t w = writer_.load();
      if (w == LockWord::kFree) continue;
      const int owner = LockWord::OwnerCpu(w);
      if (owner == cpu.id()) {
        ReportSelfSpin(cpu, *this, FindingKind::kLockRecursion,
                       LockWord::OwnerDepth(w), site.function,
                       "write_seqlock spinning on");
        HangCpu(cpu);
      }
      if (!contended) {
        EmitLock(cpu, EventKind::kLockContended, this, ev_flags, site.function);
        contended = true;
      }
      WaitFor(cpu, *this, owner);
    }
  } else {
    writer_.ForceSet(me);
  }
  seq_.fetch_add(1, std::memory_order_release);
  EmitLock(cpu, EventKind::kLockAcquired, this, ev_flags, site.function);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), false});
}

void Seqlock::WriteEnd(Cpu& cpu, uint16_t ev_flags, const Site& site) {
  EmitLock(cpu, EventKind::kLockRelease, this, ev_flags, site.function);
  if (!(sequence() & 1)) {
    Finding f =
        cpu.MakeFinding(FindingKind::kLockAlreadyUnlocked, site.function);
    f.lock_family = ctx::LockFamilyName(type_);
    f.cause = class_;
    FindingLock& a = f.AddLock(name(), LockRole::kAcquiring);
    FillLock(a, *this, cpu.id(), static_cast<int>(cpu.context()), site.function,
             cpu.op_index());
    cpu.Report(f);
    return;
  }
  int owner = LockWord::OwnerCpu(writer_.load());
  if (owner < 0 || owner >= kernel_->nr_cpus()) owner = cpu.id();
  (void)kernel_->cpu(owner).PopHeld(this);
  seq_.fetch_add(1, std::memory_order_release);
  writer_.Release();
}

uint32_t Seqlock::ReadBegin(Cpu& cpu, const Site& site) {
  const uint16_t flags =
      ctx::kEvRead | ctx::kEvRecursiveRead | ctx::kEvSeqReader;
  EmitLock(cpu, EventKind::kLockAcquire, this, flags, site.function);
  EmitLock(cpu, EventKind::kLockAcquired, this, flags, site.function);
  EmitLock(cpu, EventKind::kLockRelease, this, flags, site.function);
  for (;;) {
    const uint32_t s = sequence();
    if (!(s & 1)) return s;
    const uint32_t w = writer_.load();
    const int owner = LockWord::OwnerCpu(w);
    if (owner == cpu.id()) {
      ReportSelfSpin(cpu, *this, FindingKind::kSeqlockReaderOnInterruptedWriter,
                     LockWord::OwnerDepth(w), site.function,
                     "read_seqbegin spinning on");
      HangCpu(cpu);
    }
    if (Rt(cpu) && with_lock_) {
      // PREEMPT_RT readers block on the writer's lock (PI boost): that is a
      // sleeping acquisition.
      cpu.rtlock_might_resched(site.function);
    }
    WaitFor(cpu, *this, owner < 0 ? cpu.id() : owner);
  }
}

// ---------------------------------------------------------------------------
// Kernel-spelled API

#define SITE \
  Site { fn, 0 }

bool raw_spin_trylock_irqsave(RawSpinlock& l, IrqFlags* f, const char* fn) {
  Cpu& c = Me();
  *f = c.local_irq_save();
  c.preempt_disable();
  if (l.TryAcquire(c, ctx::kEvIrqsOffForm, SITE)) return true;
  c.preempt_enable();
  c.local_irq_restore(*f);
  return false;
}
void raw_spin_lock_irq(RawSpinlock& l, const char* fn) {
  Cpu& c = Me();
  c.local_irq_disable();
  c.preempt_disable();
  l.Acquire(c, ctx::kEvIrqsOffForm, SITE);
}
void raw_spin_unlock_irq(RawSpinlock& l, const char* fn) {
  Cpu& c = Me();
  l.Release(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_enable();
  c.preempt_enable();
}

void spin_lock_nested(Spinlock& l, uint8_t subclass, const char* fn) {
  SpinLockCommon(l, ctx::kEvNested, Site{fn, subclass});
}
void spin_lock_irq(Spinlock& l, const char* fn) {
  Cpu& c = Me();
  if (!Rt(c)) c.local_irq_disable();
  SpinLockCommon(l, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
}
void spin_unlock_irq(Spinlock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    SpinUnlockCommon(l, 0, SITE);
    return;
  }
  l.Release(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_enable();
  c.preempt_enable();
}
void spin_lock_bh(Spinlock& l, const char* fn) {
  Me().local_bh_disable();
  SpinLockCommon(l, ctx::kEvBhForm, SITE);
}
void spin_unlock_bh(Spinlock& l, const char* fn) {
  SpinUnlockCommon(l, ctx::kEvBhForm, SITE);
  Me().local_bh_enable();
}
bool spin_trylock_bh(Spinlock& l, const char* fn) {
  Me().local_bh_disable();
  if (SpinTrylockCommon(l, ctx::kEvBhForm, SITE)) return true;
  Me().local_bh_enable();
  return false;
}

// rwlock_t
namespace {

void RwPinOn(Cpu& c, bool sleeping_ok_check, const char* fn) {
  if (Rt(c)) {
    if (sleeping_ok_check) c.rtlock_might_resched(fn);
    c.migrate_disable();
  } else {
    c.preempt_disable();
  }
}
void RwPinOff(Cpu& c) {
  if (Rt(c)) {
    c.migrate_enable();
  } else {
    c.preempt_enable();
  }
}

}  // namespace

void read_lock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  RwPinOn(c, true, fn);
  l.ReadAcquire(c, 0, SITE);
}
void read_unlock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.ReadRelease(c, 0, SITE);
  RwPinOff(c);
}
bool read_trylock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  RwPinOn(c, false, fn);
  if (l.ReadTryAcquire(c, 0, SITE)) return true;
  RwPinOff(c);
  return false;
}
void write_lock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  RwPinOn(c, true, fn);
  l.WriteAcquire(c, 0, SITE);
}
void write_unlock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.WriteRelease(c, 0, SITE);
  RwPinOff(c);
}
bool write_trylock(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  RwPinOn(c, false, fn);
  if (l.WriteTryAcquire(c, 0, SITE)) return true;
  RwPinOff(c);
  return false;
}
IrqFlags read_lock_irqsave(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  IrqFlags f = Rt(c) ? IrqFlags{c.irqs_disabled()} : c.local_irq_save();
  RwPinOn(c, true, fn);
  l.ReadAcquire(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  return f;
}
void read_unlock_irqrestore(Rwlock& l, IrqFlags f, const char* fn) {
  Cpu& c = Me();
  l.ReadRelease(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  if (!Rt(c)) c.local_irq_restore(f);
  RwPinOff(c);
}
IrqFlags write_lock_irqsave(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  IrqFlags f = Rt(c) ? IrqFlags{c.irqs_disabled()} : c.local_irq_save();
  RwPinOn(c, true, fn);
  l.WriteAcquire(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  return f;
}
void write_unlock_irqrestore(Rwlock& l, IrqFlags f, const char* fn) {
  Cpu& c = Me();
  l.WriteRelease(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  if (!Rt(c)) c.local_irq_restore(f);
  RwPinOff(c);
}
void read_lock_irq(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  if (!Rt(c)) c.local_irq_disable();
  RwPinOn(c, true, fn);
  l.ReadAcquire(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
}
void read_unlock_irq(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.ReadRelease(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  if (!Rt(c)) c.local_irq_enable();
  RwPinOff(c);
}
void write_lock_irq(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  if (!Rt(c)) c.local_irq_disable();
  RwPinOn(c, true, fn);
  l.WriteAcquire(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
}
void write_unlock_irq(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.WriteRelease(c, Rt(c) ? 0 : ctx::kEvIrqsOffForm, SITE);
  if (!Rt(c)) c.local_irq_enable();
  RwPinOff(c);
}
void read_lock_bh(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  c.local_bh_disable();
  RwPinOn(c, true, fn);
  l.ReadAcquire(c, ctx::kEvBhForm, SITE);
}
void read_unlock_bh(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.ReadRelease(c, ctx::kEvBhForm, SITE);
  RwPinOff(c);
  c.local_bh_enable();
}
void write_lock_bh(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  c.local_bh_disable();
  RwPinOn(c, true, fn);
  l.WriteAcquire(c, ctx::kEvBhForm, SITE);
}
void write_unlock_bh(Rwlock& l, const char* fn) {
  Cpu& c = Me();
  l.WriteRelease(c, ctx::kEvBhForm, SITE);
  RwPinOff(c);
  c.local_bh_enable();
}

// local_lock_t / local_trylock_t
void local_lock(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    c.rtlock_might_resched(fn);
    c.migrate_disable();
  } else {
    c.preempt_disable();
  }
  l.Acquire(c, 0, SITE);
}
void local_unlock(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  l.Release(c, 0, SITE);
  if (Rt(c)) {
    c.migrate_enable();
  } else {
    c.preempt_enable();
  }
}
IrqFlags local_lock_irqsave(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    local_lock(l, fn);
    return IrqFlags{c.irqs_disabled()};
  }
  IrqFlags f = c.local_irq_save();
  l.Acquire(c, ctx::kEvIrqsOffForm, SITE);
  return f;
}
void local_unlock_irqrestore(LocalLock& l, IrqFlags f, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    local_unlock(l, fn);
    return;
  }
  l.Release(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_restore(f);
}
void local_lock_irq(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    local_lock(l, fn);
    return;
  }
  c.local_irq_disable();
  l.Acquire(c, ctx::kEvIrqsOffForm, SITE);
}
void local_unlock_irq(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    local_unlock(l, fn);
    return;
  }
  l.Release(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_enable();
}
bool local_trylock(LocalLock& l, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    c.migrate_disable();
    if (l.TryAcquire(c, 0, SITE)) return true;
    c.migrate_enable();
    return false;
  }
  c.preempt_disable();
  if (l.TryAcquire(c, 0, SITE)) return true;
  c.preempt_enable();
  return false;
}
bool local_trylock_irqsave(LocalLock& l, IrqFlags* f, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    *f = IrqFlags{c.irqs_disabled()};
    return local_trylock(l, fn);
  }
  *f = c.local_irq_save();
  if (l.TryAcquire(c, ctx::kEvIrqsOffForm, SITE)) return true;
  c.local_irq_restore(*f);
  return false;
}
bool local_lock_is_locked(const LocalLock& l) { return l.acquired(Me().id()); }

// seqlock_t / seqcount_t
namespace {

void SeqWriterPinOn(Cpu& c, const char* fn) {
  if (Rt(c)) {
    c.rtlock_might_resched(fn);
    c.migrate_disable();
  } else {
    c.preempt_disable();
  }
}
void SeqWriterPinOff(Cpu& c) {
  if (Rt(c)) {
    c.migrate_enable();
  } else {
    c.preempt_enable();
  }
}

}  // namespace

void write_seqlock(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  SeqWriterPinOn(c, fn);
  s.WriteBegin(c, 0, SITE);
}
void write_sequnlock(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  s.WriteEnd(c, 0, SITE);
  SeqWriterPinOff(c);
}
IrqFlags write_seqlock_irqsave(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    write_seqlock(s, fn);
    return IrqFlags{c.irqs_disabled()};
  }
  IrqFlags f = c.local_irq_save();
  c.preempt_disable();
  s.WriteBegin(c, ctx::kEvIrqsOffForm, SITE);
  return f;
}
void write_sequnlock_irqrestore(Seqlock& s, IrqFlags f, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    write_sequnlock(s, fn);
    return;
  }
  s.WriteEnd(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_restore(f);
  c.preempt_enable();
}
void write_seqlock_irq(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    write_seqlock(s, fn);
    return;
  }
  c.local_irq_disable();
  c.preempt_disable();
  s.WriteBegin(c, ctx::kEvIrqsOffForm, SITE);
}
void write_sequnlock_irq(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  if (Rt(c)) {
    write_sequnlock(s, fn);
    return;
  }
  s.WriteEnd(c, ctx::kEvIrqsOffForm, SITE);
  c.local_irq_enable();
  c.preempt_enable();
}
void write_seqlock_bh(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  c.local_bh_disable();
  SeqWriterPinOn(c, fn);
  s.WriteBegin(c, ctx::kEvBhForm, SITE);
}
void write_sequnlock_bh(Seqlock& s, const char* fn) {
  Cpu& c = Me();
  s.WriteEnd(c, ctx::kEvBhForm, SITE);
  SeqWriterPinOff(c);
  c.local_bh_enable();
}
uint32_t read_seqbegin(Seqlock& s, const char* fn) {
  return s.ReadBegin(Me(), SITE);
}
bool read_seqretry(Seqlock& s, uint32_t start, const char* fn) {
  return s.ReadRetry(Me(), start);
}
void write_seqcount_begin(Seqlock& s, const char* fn) {
  s.WriteBegin(Me(), 0, SITE);
}
void write_seqcount_end(Seqlock& s, const char* fn) {
  s.WriteEnd(Me(), 0, SITE);
}

// mutex
void mutex_lock(Mutex& m, const char* fn) {
  Cpu& c = Me();
  c.might_sleep(fn);
  m.Acquire(c, 0, SITE);
}
void mutex_unlock(Mutex& m, const char* fn) { m.Release(Me(), 0, SITE); }
bool mutex_trylock(Mutex& m, const char* fn) {
  return m.TryAcquire(Me(), 0, SITE);
}

// lockdep maps
void lock_map_acquire(LockdepMap& m, const char* fn) {
  Cpu& c = Me();
  m.EmitLock(c, ctx::EventKind::kLockAcquire, &m, 0, fn);
  m.EmitLock(c, ctx::EventKind::kLockAcquired, &m, 0, fn);
}
void lock_map_acquire_read(LockdepMap& m, const char* fn) {
  Cpu& c = Me();
  m.EmitLock(c, ctx::EventKind::kLockAcquire, &m,
             ctx::kEvRead | ctx::kEvRecursiveRead, fn);
  m.EmitLock(c, ctx::EventKind::kLockAcquired, &m,
             ctx::kEvRead | ctx::kEvRecursiveRead, fn);
}
void lock_map_acquire_try(LockdepMap& m, const char* fn) {
  Cpu& c = Me();
  m.EmitLock(c, ctx::EventKind::kLockAcquire, &m, ctx::kEvTry, fn);
  m.EmitLock(c, ctx::EventKind::kLockAcquired, &m, ctx::kEvTry, fn);
}
void lock_map_release(LockdepMap& m, const char* fn) {
  m.EmitLock(Me(), ctx::EventKind::kLockRelease, &m, 0, fn);
}

void lock_init(LockBase& l, const char* fn) {
  l.EmitLock(Me(), ctx::EventKind::kLockInit, &l, 0, fn);
}
void debug_check_no_locks_freed(LockBase& l, const char* fn) {
  l.EmitLock(Me(), ctx::EventKind::kLockFree, &l, 0, fn);
}

#undef SITE

}  // namespace reentry::locks
