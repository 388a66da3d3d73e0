// Instrumented kernel locks with their real rules: raw_spinlock_t,
// spinlock_t (a sleeping rtmutex-like lock on PREEMPT_RT), rwlock_t,
// local_lock_t / local_trylock_t, seqcount_t / seqlock_t, mutex and lockdep
// maps (pseudo-locks such as fs_reclaim). Every operation emits Events to the
// kernel's observers; the locks never call a checker directly.
//
// A spinning acquisition of a lock held on the same vCPU (by the same or an
// interrupted frame) can never end: it is reported (BUG: spinlock recursion)
// and the vCPU hangs through Hooks::Hang, which the executor turns into the
// end of the run instead of a hung process. Waiting on another vCPU goes
// through Hooks::Wait, which lets the other vCPU run.
//
// The kernel-spelled functions take the caller's name (defaulted with
// __builtin_FUNCTION()) for reports.
#ifndef REENTRY_ALLOCATOR_LOCKS_LOCKS_H_
#define REENTRY_ALLOCATOR_LOCKS_LOCKS_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "allocator/ctx/kernel.h"

namespace reentry::locks {

using ctx::Cpu;
using ctx::IrqFlags;
using ctx::Kernel;
using ctx::LockClassId;
using ctx::LockType;

// Where a caller takes a lock: function name plus nesting subclass.
struct Site {
  const char* function = nullptr;
  uint8_t subclass = 0;
};

class LockBase : public Recycled {
 public:
  LockBase(Kernel& kernel, std::string_view class_name, LockType type,
           ctx::WaitType wait_override = ctx::WaitType::kWaitInv);
  // Programs own their test locks through LockBase pointers.
  virtual ~LockBase() = default;
  LockBase(const LockBase&) = delete;
  LockBase& operator=(const LockBase&) = delete;

  LockClassId class_id() const { return class_; }
  LockType type() const { return type_; }
  const char* name() const;
  Kernel& kernel() const { return *kernel_; }

  // Event helpers (no-ops unless an observer is attached).
  void EmitLock(Cpu& cpu, ctx::EventKind kind, const void* instance,
                uint16_t flags, const char* fn, uint8_t subclass = 0) const {
    if (kernel_->wants(kind)) {
      EmitLockSlow(cpu, kind, instance, flags, fn, subclass);
    }
  }

 protected:
  void EmitLockSlow(Cpu& cpu, ctx::EventKind kind, const void* instance,
                    uint16_t flags, const char* fn, uint8_t subclass) const;

  Kernel* kernel_;
  LockClassId class_;
  LockType type_;
};

// An exclusive lock word: 0 when free, else owner vCPU and context depth.
// Used by every lock with a single owner.
class LockWord {
 public:
  static constexpr uint32_t kFree = 0;
  static uint32_t Make(int cpu, int depth) {
    return static_cast<uint32_t>(cpu + 1) | (static_cast<uint32_t>(depth) << 8);
  }
  static int OwnerCpu(uint32_t w) { return static_cast<int>(w & 0xff) - 1; }
  static int OwnerDepth(uint32_t w) {
    return static_cast<int>((w >> 8) & 0xff);
  }

  uint32_t load() const { return word_.load(std::memory_order_relaxed); }
  // concurrent: other threads may race for the word (stress runs); the
  // deterministic executor runs one vCPU at a time and skips the locked RMW.
  bool TryTake(uint32_t owner, bool concurrent) {
    if (!concurrent) {
      if (word_.load(std::memory_order_relaxed) != kFree) return false;
      word_.store(owner, std::memory_order_relaxed);
      return true;
    }
    uint32_t expected = kFree;
    return word_.compare_exchange_strong(
        expected, owner, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void Release() { word_.store(kFree, std::memory_order_release); }
  void ForceSet(uint32_t w) { word_.store(w, std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> word_{kFree};
};

// The core of raw_spinlock_t, spinlock_t, mutex and seqlock_t's writer lock.
// `sleeping` selects sleep-style waiting (mutex, spinlock_t on PREEMPT_RT).
// The uncontended acquisition and the release by the owning vCPU are inline;
// everything that can report, wait or hang is out of line.
class ExclusiveLock : public LockBase {
 public:
  ExclusiveLock(Kernel& kernel, std::string_view class_name, LockType type,
                ctx::WaitType wait_override = ctx::WaitType::kWaitInv);

  bool held() const { return word_.load() != LockWord::kFree; }
  int owner_cpu() const { return LockWord::OwnerCpu(word_.load()); }
  int owner_depth() const { return LockWord::OwnerDepth(word_.load()); }

  // Blocking acquisition with events and held-list bookkeeping; the caller
  // has already done the preempt/irq part of its form.
  inline void Acquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  // Returns true on success (and then emits the events).
  inline bool TryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  inline void Release(Cpu& cpu, uint16_t ev_flags, const Site& site);

  // True on PREEMPT_RT for spinlock_t-based locks, and for mutexes.
  bool Sleeps() const { return sleeps_; }

 private:
  REENTRY_COLD void AcquireWordSlow(Cpu& cpu, const Site& site, uint32_t me);
  // PREEMPT_RT spinlock_t: the rtmutex wait_lock check comes first.
  bool TryAcquireRt(Cpu& cpu, uint16_t ev_flags, const Site& site);
  // The trylock lost the word: false, or true on !SMP where a spinlock
  // trylock "wins" a held lock (reported).
  REENTRY_COLD bool TrylockLost(Cpu& cpu, const Site& site);
  void TryAcquired(Cpu& cpu, uint16_t ev_flags, const Site& site);
  // Release of a free lock, of another vCPU's lock, or of a UP extra hold.
  REENTRY_COLD void ReleaseSlow(Cpu& cpu, uint32_t w, const Site& site);
  void ReportRecursion(Cpu& cpu, const Site& site, FindingKind kind);

  LockWord word_;
  uint8_t up_nest_ = 0;  // UP: extra logical holds from trylocks that "won"
  // Fixed by the lock type and the kernel's configuration.
  bool sleeps_;
  bool rt_spinlock_;  // spinlock_t on PREEMPT_RT (sleeps, has a wait_lock)
  // PREEMPT_RT: the rtmutex's raw wait_lock, held in the slow path.
  LockWord wait_lock_;
};

class RawSpinlock : public ExclusiveLock {
 public:
  RawSpinlock(Kernel& k, std::string_view name)
      : ExclusiveLock(k, name, LockType::kRawSpinlock) {}
};

class Spinlock : public ExclusiveLock {
 public:
  Spinlock(Kernel& k, std::string_view name)
      : ExclusiveLock(k, name, LockType::kSpinlock) {}
};

class Mutex : public ExclusiveLock {
 public:
  Mutex(Kernel& k, std::string_view name)
      : ExclusiveLock(k, name, LockType::kMutex) {}
};

// rwlock_t: one writer or many readers; readers may recurse (an interrupt
// may read_lock while its task holds it for read).
class Rwlock : public LockBase {
 public:
  Rwlock(Kernel& k, std::string_view name)
      : LockBase(k, name, LockType::kRwlock) {}

  void ReadAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  bool ReadTryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  void ReadRelease(Cpu& cpu, uint16_t ev_flags, const Site& site);
  void WriteAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  bool WriteTryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  void WriteRelease(Cpu& cpu, uint16_t ev_flags, const Site& site);

  int readers() const { return readers_; }
  bool write_held() const { return writer_.load() != LockWord::kFree; }

 private:
  LockWord writer_;
  int readers_ = 0;
  uint8_t readers_on_cpu_[ctx::kMaxCpus] = {};
};

// local_lock_t and local_trylock_t: one instance per vCPU. On !PREEMPT_RT
// preempt_disable (or irq save) plus lockdep; the trylock type has an
// `acquired` flag that detects same-CPU reentry. On PREEMPT_RT a per-CPU
// spinlock_t under migrate_disable.
class LocalLock : public LockBase {
 public:
  LocalLock(Kernel& k, std::string_view name, bool trylock_type);

  bool trylock_type() const { return type_ == LockType::kLocalTrylock; }
  // The per-CPU instance identity used in events.
  const void* instance(int cpu) const { return &state_[cpu]; }
  bool acquired(int cpu) const { return state_[cpu].acquired; }

  void Acquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  bool TryAcquire(Cpu& cpu, uint16_t ev_flags, const Site& site);
  void Release(Cpu& cpu, uint16_t ev_flags, const Site& site);

 private:
  struct PerCpu {
    bool acquired = false;
    uint8_t depth = 0;
  };
  PerCpu state_[ctx::kMaxCpus];
};

// seqcount_t and seqlock_t. Readers spin while the sequence is odd; a reader
// on the vCPU whose interrupted frame is the writer spins forever.
class Seqlock : public LockBase {
 public:
  // with_lock: seqlock_t (embedded spinlock_t); otherwise a bare seqcount_t
  // whose writers are serialised by the caller.
  Seqlock(Kernel& k, std::string_view name, bool with_lock);

  uint32_t sequence() const { return seq_.load(std::memory_order_acquire); }
  bool write_held() const { return sequence() & 1; }

  void WriteBegin(Cpu& cpu, uint16_t ev_flags, const Site& site);
  void WriteEnd(Cpu& cpu, uint16_t ev_flags, const Site& site);
  uint32_t ReadBegin(Cpu& cpu, const Site& site);
  bool ReadRetry(Cpu& cpu, uint32_t start) const { return sequence() != start; }

 private:
  bool with_lock_;
  std::atomic<uint32_t> seq_{0};
  LockWord writer_;  // who made the sequence odd
};

// A lockdep map: a pseudo-lock with no state (fs_reclaim, console_owner).
class LockdepMap : public LockBase {
 public:
  LockdepMap(Kernel& k, std::string_view name,
             ctx::WaitType wait = ctx::WaitType::kWaitInv)
      : LockBase(k, name, LockType::kLockdepMap, wait) {}
};

// --- Kernel-spelled API. The `fn` argument names the caller for reports. ---
#define REENTRY_FN const char* fn = __builtin_FUNCTION()

inline void raw_spin_lock(RawSpinlock& l, REENTRY_FN);
inline void raw_spin_unlock(RawSpinlock& l, REENTRY_FN);
inline bool raw_spin_trylock(RawSpinlock& l, REENTRY_FN);
inline IrqFlags raw_spin_lock_irqsave(RawSpinlock& l, REENTRY_FN);
inline void raw_spin_unlock_irqrestore(RawSpinlock& l, IrqFlags f, REENTRY_FN);
bool raw_spin_trylock_irqsave(RawSpinlock& l, IrqFlags* f, REENTRY_FN);
void raw_spin_lock_irq(RawSpinlock& l, REENTRY_FN);
void raw_spin_unlock_irq(RawSpinlock& l, REENTRY_FN);

inline void spin_lock(Spinlock& l, REENTRY_FN);
void spin_lock_nested(Spinlock& l, uint8_t subclass, REENTRY_FN);
inline void spin_unlock(Spinlock& l, REENTRY_FN);
inline bool spin_trylock(Spinlock& l, REENTRY_FN);
inline IrqFlags spin_lock_irqsave(Spinlock& l, REENTRY_FN);
inline void spin_unlock_irqrestore(Spinlock& l, IrqFlags f, REENTRY_FN);
inline bool spin_trylock_irqsave(Spinlock& l, IrqFlags* f, REENTRY_FN);
void spin_lock_irq(Spinlock& l, REENTRY_FN);
void spin_unlock_irq(Spinlock& l, REENTRY_FN);
void spin_lock_bh(Spinlock& l, REENTRY_FN);
void spin_unlock_bh(Spinlock& l, REENTRY_FN);
bool spin_trylock_bh(Spinlock& l, REENTRY_FN);

void read_lock(Rwlock& l, REENTRY_FN);
void read_unlock(Rwlock& l, REENTRY_FN);
bool read_trylock(Rwlock& l, REENTRY_FN);
void write_lock(Rwlock& l, REENTRY_FN);
void write_unlock(Rwlock& l, REENTRY_FN);
bool write_trylock(Rwlock& l, REENTRY_FN);
IrqFlags read_lock_irqsave(Rwlock& l, REENTRY_FN);
void read_unlock_irqrestore(Rwlock& l, IrqFlags f, REENTRY_FN);
IrqFlags write_lock_irqsave(Rwlock& l, REENTRY_FN);
void write_unlock_irqrestore(Rwlock& l, IrqFlags f, REENTRY_FN);
void read_lock_irq(Rwlock& l, REENTRY_FN);
void read_unlock_irq(Rwlock& l, REENTRY_FN);
void write_lock_irq(Rwlock& l, REENTRY_FN);
void write_unlock_irq(Rwlock& l, REENTRY_FN);
void read_lock_bh(Rwlock& l, REENTRY_FN);
void read_unlock_bh(Rwlock& l, REENTRY_FN);
void write_lock_bh(Rwlock& l, REENTRY_FN);
void write_unlock_bh(Rwlock& l, REENTRY_FN);

void local_lock(LocalLock& l, REENTRY_FN);
void local_unlock(LocalLock& l, REENTRY_FN);
IrqFlags local_lock_irqsave(LocalLock& l, REENTRY_FN);
void local_unlock_irqrestore(LocalLock& l, IrqFlags f, REENTRY_FN);
void local_lock_irq(LocalLock& l, REENTRY_FN);
void local_unlock_irq(LocalLock& l, REENTRY_FN);
bool local_trylock(LocalLock& l, REENTRY_FN);
bool local_trylock_irqsave(LocalLock& l, IrqFlags* f, REENTRY_FN);
bool local_lock_is_locked(const LocalLock& l);

void write_seqlock(Seqlock& s, REENTRY_FN);
void write_sequnlock(Seqlock& s, REENTRY_FN);
IrqFlags write_seqlock_irqsave(Seqlock& s, REENTRY_FN);
void write_sequnlock_irqrestore(Seqlock& s, IrqFlags f, REENTRY_FN);
void write_seqlock_irq(Seqlock& s, REENTRY_FN);
void write_sequnlock_irq(Seqlock& s, REENTRY_FN);
void write_seqlock_bh(Seqlock& s, REENTRY_FN);
void write_sequnlock_bh(Seqlock& s, REENTRY_FN);
uint32_t read_seqbegin(Seqlock& s, REENTRY_FN);
bool read_seqretry(Seqlock& s, uint32_t start, REENTRY_FN);
// Bare seqcount_t (the caller serialises writers).
void write_seqcount_begin(Seqlock& s, REENTRY_FN);
void write_seqcount_end(Seqlock& s, REENTRY_FN);

void mutex_lock(Mutex& m, REENTRY_FN);
void mutex_unlock(Mutex& m, REENTRY_FN);
bool mutex_trylock(Mutex& m, REENTRY_FN);

void lock_map_acquire(LockdepMap& m, REENTRY_FN);
void lock_map_acquire_read(LockdepMap& m, REENTRY_FN);
void lock_map_acquire_try(LockdepMap& m, REENTRY_FN);
void lock_map_release(LockdepMap& m, REENTRY_FN);

// Lockdep hooks for lock memory: (re)initialising or freeing memory that
// holds a lock.
void lock_init(LockBase& l, REENTRY_FN);
void debug_check_no_locks_freed(LockBase& l, REENTRY_FN);

#undef REENTRY_FN

// ---------------------------------------------------------------------------
// Inline fast paths (the out-of-line rest is in locks.cc).

REENTRY_ALWAYS_INLINE void ExclusiveLock::Acquire(Cpu& cpu, uint16_t ev_flags,
                                                  const Site& site) {
  EmitLock(cpu, ctx::EventKind::kLockAcquire, this, ev_flags, site.function,
           site.subclass);
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  if (__builtin_expect(!word_.TryTake(me, cpu.config().concurrent), 0)) {
    AcquireWordSlow(cpu, site, me);
  }
  EmitLock(cpu, ctx::EventKind::kLockAcquired, this, ev_flags, site.function,
           site.subclass);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), false});
  if (!sleeps_) cpu.AdjustRawHeld(type_ == LockType::kRawSpinlock ? 1 : 0);
}

REENTRY_ALWAYS_INLINE bool ExclusiveLock::TryAcquire(Cpu& cpu,
                                                     uint16_t ev_flags,
                                                     const Site& site) {
  if (__builtin_expect(rt_spinlock_, 0)) {
    return TryAcquireRt(cpu, ev_flags, site);
  }
  const uint32_t me = LockWord::Make(cpu.id(), cpu.depth());
  if (__builtin_expect(!word_.TryTake(me, cpu.config().concurrent), 0) &&
      !TrylockLost(cpu, site)) {
    return false;
  }
  TryAcquired(cpu, ev_flags, site);
  return true;
}

REENTRY_ALWAYS_INLINE void ExclusiveLock::TryAcquired(Cpu& cpu,
                                                      uint16_t ev_flags,
                                                      const Site& site) {
  ev_flags |= ctx::kEvTry;
  EmitLock(cpu, ctx::EventKind::kLockAcquire, this, ev_flags, site.function,
           site.subclass);
  EmitLock(cpu, ctx::EventKind::kLockAcquired, this, ev_flags, site.function,
           site.subclass);
  (void)cpu.PushHeld(
      {this, class_, type_, static_cast<uint8_t>(cpu.depth()), false});
  if (type_ == LockType::kRawSpinlock) cpu.AdjustRawHeld(1);
}

REENTRY_ALWAYS_INLINE void ExclusiveLock::Release(Cpu& cpu, uint16_t ev_flags,
                                                  const Site& site) {
  EmitLock(cpu, ctx::EventKind::kLockRelease, this, ev_flags, site.function);
  const uint32_t w = word_.load();
  if (__builtin_expect(w == LockWord::kFree ||
                           LockWord::OwnerCpu(w) != cpu.id() || up_nest_ != 0,
                       0)) {
    ReleaseSlow(cpu, w, site);
    return;
  }
  (void)cpu.PopHeld(this);
  if (type_ == LockType::kRawSpinlock) cpu.AdjustRawHeld(-1);
  word_.Release();
}

namespace internal {

REENTRY_ALWAYS_INLINE Cpu& Me() { return ctx::this_cpu(); }
REENTRY_ALWAYS_INLINE bool Rt(const Cpu& cpu) {
  return cpu.config().preempt_rt;
}

// spinlock_t: on PREEMPT_RT an rtmutex-based sleeping lock (might_sleep,
// migrate_disable, and the _irq/_irqsave forms leave interrupts enabled).
REENTRY_ALWAYS_INLINE void SpinLockCommon(Spinlock& l, uint16_t flags,
                                          const Site& site) {
  Cpu& c = Me();
  if (Rt(c)) {
    c.rtlock_might_resched(site.function);
    l.Acquire(c, flags, site);
    c.migrate_disable();
    return;
  }
  c.preempt_disable();
  l.Acquire(c, flags, site);
}

REENTRY_ALWAYS_INLINE void SpinUnlockCommon(Spinlock& l, uint16_t flags,
                                            const Site& site) {
  Cpu& c = Me();
  l.Release(c, flags, site);
  if (Rt(c)) {
    c.migrate_enable();
    return;
  }
  c.preempt_enable();
}

REENTRY_ALWAYS_INLINE bool SpinTrylockCommon(Spinlock& l, uint16_t flags,
                                             const Site& site) {
  Cpu& c = Me();
  if (Rt(c)) {
    if (!l.TryAcquire(c, flags, site)) return false;
    c.migrate_disable();
    return true;
  }
  c.preempt_disable();
  if (l.TryAcquire(c, flags, site)) return true;
  c.preempt_enable();
  return false;
}

}  // namespace internal

REENTRY_ALWAYS_INLINE void raw_spin_lock(RawSpinlock& l, const char* fn) {
  Cpu& c = internal::Me();
  c.preempt_disable();
  l.Acquire(c, 0, Site{fn, 0});
}
REENTRY_ALWAYS_INLINE void raw_spin_unlock(RawSpinlock& l, const char* fn) {
  Cpu& c = internal::Me();
  l.Release(c, 0, Site{fn, 0});
  c.preempt_enable();
}
REENTRY_ALWAYS_INLINE bool raw_spin_trylock(RawSpinlock& l, const char* fn) {
  Cpu& c = internal::Me();
  c.preempt_disable();
  if (l.TryAcquire(c, 0, Site{fn, 0})) return true;
  c.preempt_enable();
  return false;
}
REENTRY_ALWAYS_INLINE IrqFlags raw_spin_lock_irqsave(RawSpinlock& l,
                                                     const char* fn) {
  Cpu& c = internal::Me();
  IrqFlags f = c.local_irq_save();
  c.preempt_disable();
  l.Acquire(c, ctx::kEvIrqsOffForm, Site{fn, 0});
  return f;
}
REENTRY_ALWAYS_INLINE void raw_spin_unlock_irqrestore(RawSpinlock& l,
                                                      IrqFlags f,
                                                      const char* fn) {
  Cpu& c = internal::Me();
  l.Release(c, ctx::kEvIrqsOffForm, Site{fn, 0});
  c.local_irq_restore(f);
  c.preempt_enable();
}

REENTRY_ALWAYS_INLINE void spin_lock(Spinlock& l, const char* fn) {
  internal::SpinLockCommon(l, 0, Site{fn, 0});
}
REENTRY_ALWAYS_INLINE void spin_unlock(Spinlock& l, const char* fn) {
  internal::SpinUnlockCommon(l, 0, Site{fn, 0});
}
REENTRY_ALWAYS_INLINE bool spin_trylock(Spinlock& l, const char* fn) {
  return internal::SpinTrylockCommon(l, 0, Site{fn, 0});
}
REENTRY_ALWAYS_INLINE IrqFlags spin_lock_irqsave(Spinlock& l, const char* fn) {
  Cpu& c = internal::Me();
  if (internal::Rt(c)) {
    internal::SpinLockCommon(l, 0, Site{fn, 0});
    return IrqFlags{c.irqs_disabled()};
  }
  IrqFlags f = c.local_irq_save();
  internal::SpinLockCommon(l, ctx::kEvIrqsOffForm, Site{fn, 0});
  return f;
}
REENTRY_ALWAYS_INLINE void spin_unlock_irqrestore(Spinlock& l, IrqFlags f,
                                                  const char* fn) {
  Cpu& c = internal::Me();
  if (internal::Rt(c)) {
    internal::SpinUnlockCommon(l, 0, Site{fn, 0});
    return;
  }
  l.Release(c, ctx::kEvIrqsOffForm, Site{fn, 0});
  c.local_irq_restore(f);
  c.preempt_enable();
}
REENTRY_ALWAYS_INLINE bool spin_trylock_irqsave(Spinlock& l, IrqFlags* f,
                                                const char* fn) {
  Cpu& c = internal::Me();
  if (internal::Rt(c)) {
    *f = IrqFlags{c.irqs_disabled()};
    return internal::SpinTrylockCommon(l, 0, Site{fn, 0});
  }
  *f = c.local_irq_save();
  if (internal::SpinTrylockCommon(l, ctx::kEvIrqsOffForm, Site{fn, 0})) {
    return true;
  }
  c.local_irq_restore(*f);
  return false;
}

}  // namespace reentry::locks

#endif  // REENTRY_ALLOCATOR_LOCKS_LOCKS_H_
