// The emulated kernel context: virtual CPUs, each with a context stack (task,
// softirq, hardirq, NMI), the kernel's preempt_count layout, hardirq and
// softirq disable state, and the kernel's queries (in_nmi(), irqs_disabled(),
// preemptible(), ...). Nothing here is collapsed to a no-op: these semantics
// are what the project checks.
//
// The free functions at the bottom act on the current vCPU, as the kernel's
// do, so model code reads like kernel code.
#ifndef REENTRY_ALLOCATOR_CTX_KERNEL_H_
#define REENTRY_ALLOCATOR_CTX_KERNEL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "allocator/base/compiler.h"
#include "allocator/base/finding.h"
#include "allocator/base/fixed_vector.h"
#include "allocator/base/recycle.h"
#include "allocator/ctx/event.h"
#include "allocator/ctx/injection_points.h"
#include "allocator/ctx/types.h"

namespace reentry::ctx {

// include/linux/preempt.h layout.
inline constexpr uint32_t kPreemptMask = 0x000000ff;
inline constexpr uint32_t kSoftirqOffset = 0x00000100;
inline constexpr uint32_t kSoftirqDisableOffset = 2 * kSoftirqOffset;
inline constexpr uint32_t kSoftirqMask = 0x0000ff00;
inline constexpr uint32_t kHardirqOffset = 0x00010000;
inline constexpr uint32_t kHardirqMask = 0x000f0000;
inline constexpr uint32_t kNmiOffset = 0x00100000;
inline constexpr uint32_t kNmiMask = 0x00f00000;

inline constexpr int kMaxContextDepth = 8;
inline constexpr int kMaxHeldLocks = 48;
inline constexpr int kMaxFunctionDepth = 48;

// The saved interrupt state returned by local_irq_save() and friends.
struct IrqFlags {
  bool irqs_disabled = false;
};

class AllocStatsSink;  // alloc_stats.h
class Cpu;
class Kernel;

// Implemented by the executor (deterministic vCPU scheduling, interrupts at
// injection points) and by the stress runner (real threads and signals).
class Hooks {
 public:
  virtual ~Hooks() = default;
  // Model code reached a named point; interrupts armed there may fire.
  virtual void InjectionPoint(Cpu& cpu, PointId point) = 0;
  // Hard interrupts were re-enabled on cpu: pending hardirqs may fire now.
  virtual void IrqsEnabled(Cpu& cpu) = 0;
  // Softirqs may run now (bh re-enabled or irq exit, not in interrupt).
  virtual void SoftirqsMayRun(Cpu& cpu) = 0;
  // cpu must wait for lock (of class cls), held on holder_cpu, to be
  // released: let others run, then return so the caller can retry.
  virtual void Wait(Cpu& cpu, const void* lock, LockClassId cls,
                    int holder_cpu) = 0;
  // cpu can never make progress again (it spins on itself). Never returns.
  [[noreturn]] virtual void Hang(Cpu& cpu) = 0;
};

struct Frame {
  ContextKind kind = ContextKind::kTask;
  uint32_t preempt_count_at_entry = 0;
  uint32_t preempt_depth_at_entry = 0;
  uint32_t bh_depth_at_entry = 0;
  bool irqs_disabled_at_entry = false;
  uint16_t held_at_entry = 0;
};

// A lock held by a vCPU, as the lock layer records it (lockdep keeps its own).
struct HeldLock {
  const void* lock = nullptr;
  LockClassId class_id = kNoClass;
  LockType type = LockType::kCount;
  uint8_t depth = 0;  // context frame that took it
  bool read = false;
};

struct LockClassInfo {
  char name[48] = {};
  LockType type = LockType::kCount;
  WaitType wait = WaitType::kWaitInv;  // declared (CONFIG not yet resolved)
};

// A class name as a lock class keeps it (LockClassInfo::name, as lockdep
// bounds its names): longer names that agree this far are one class.
inline std::string_view LockClassName(std::string_view name) {
  return name.substr(0, sizeof(LockClassInfo::name) - 1);
}

class Cpu : public Recycled {
 public:
  Cpu() = default;
  Cpu(const Cpu&) = delete;
  Cpu& operator=(const Cpu&) = delete;

  int id() const { return id_; }
  Kernel& kernel() const { return *kernel_; }
  inline const Config& config() const;

  // --- The kernel's queries (include/linux/preempt.h, irqflags.h). ---
  uint32_t preempt_count() const { return preempt_count_; }
  bool in_nmi() const { return preempt_count_ & kNmiMask; }
  bool in_hardirq() const { return preempt_count_ & kHardirqMask; }
  bool in_serving_softirq() const { return preempt_count_ & kSoftirqOffset; }
  bool in_softirq() const { return preempt_count_ & kSoftirqMask; }
  bool in_interrupt() const {
    return preempt_count_ & (kHardirqMask | kSoftirqMask | kNmiMask);
  }
  bool in_task() const {
    return !(preempt_count_ & (kNmiMask | kHardirqMask | kSoftirqOffset));
  }
  bool irqs_disabled() const { return irqs_disabled_; }
  bool in_atomic() const { return preempt_count_ != 0; }
  // Without CONFIG_PREEMPT_COUNT the kernel defines preemptible() as 0.
  bool preemptible() const;

  // State the kernel may not record but the checkers must see (BZ-16): the
  // real preempt_disable() nesting and migrate_disable() nesting, whatever
  // CONFIG_PREEMPT_COUNT says.
  uint32_t preempt_disable_depth() const { return preempt_depth_; }
  uint32_t migrate_disable_depth() const { return migrate_depth_; }
  uint32_t bh_disable_depth() const { return bh_depth_; }

  ContextKind context() const { return frames_.back().kind; }
  int depth() const { return static_cast<int>(frames_.size()) - 1; }
  const Frame& frame(int d) const { return frames_[d]; }

  // --- Operations (kernel spelling). The common cases are inline (they sit
  // on every lock and allocation path); reports and events go out of line.
  inline IrqFlags local_irq_save();
  inline void local_irq_restore(IrqFlags flags);
  inline void local_irq_disable();
  inline void local_irq_enable();
  void local_bh_disable();
  void local_bh_enable();
  inline void preempt_disable();
  inline void preempt_enable();
  void migrate_disable() { ++migrate_depth_; }
  void migrate_enable() {
    if (migrate_depth_ > 0) --migrate_depth_;
  }
  // __might_sleep(): reports when the kernel's own check would, and emits a
  // kMightSleep event for checkers that look at the real state.
  inline void might_sleep(const char* function);
  // PREEMPT_RT's rtlock_might_resched() for spinlock_t-based sleeping locks:
  // softirq and bh-disabled code may take them (on RT softirq_count() is not
  // in preempt_count, and RTLOCK_RESCHED_OFFSETS allow the RCU read side
  // local_bh_disable() implies there). Events carry kEvRtlock.
  void rtlock_might_resched(const char* function);

  // --- Context transitions (executor / stress runner). ---
  bool CanEnter(ContextKind k) const;  // nesting rules and irq masking
  void EnterContext(ContextKind k);
  // Leaves the innermost interrupt context, checking for leaks; then lets
  // pending softirqs run if the CPU is back outside any interrupt.
  void ExitContext();
  // End of the task's work (the program ended): reports what a return to
  // user space would (locks held, irqs or preemption left disabled).
  void CheckReturnToUser();

  // --- Held locks (maintained by locks/). ---
  bool PushHeld(const HeldLock& h) { return held_.push_back(h); }
  // Removes the most recent entry for lock; returns false if not found.
  bool PopHeld(const void* lock) {
    // Locks are mostly released in the reverse order of acquisition.
    if (!held_.empty() && held_.back().lock == lock) {
      held_.pop_back();
      return true;
    }
    return PopHeldSlow(lock);
  }
  const FixedVector<HeldLock, kMaxHeldLocks>& held() const { return held_; }
  // Number of raw spinlocks (never-sleeping locks) held: on PREEMPT_RT these
  // make the context atomic.
  int raw_locks_held() const { return raw_held_; }
  void AdjustRawHeld(int d) { raw_held_ += d; }

  // --- Attribution for reports. ---
  uint32_t op_index() const { return op_index_; }
  void set_op_index(uint32_t i) { op_index_ = i; }
  void PushFunction(const char* fn) { (void)functions_.push_back(fn); }
  void PopFunction() {
    if (!functions_.empty()) functions_.pop_back();
  }
  const char* current_function() const {
    return functions_.empty() ? nullptr : functions_.back();
  }
  const FixedVector<const char*, kMaxFunctionDepth>& functions() const {
    return functions_;
  }

  // Fills the common fields of an event / finding from this CPU's state.
  Event MakeEvent(EventKind kind) const;
  Finding MakeFinding(FindingKind kind, const char* function) const;
  // Records f in the kernel's finding list (dedup by kind+cause).
  void Report(const Finding& f);

  // Resets to a fresh task context (used between runs).
  void Reset(Kernel* kernel, int id);

 private:
  inline void Emit(EventKind kind);
  void EmitSlow(EventKind kind);
  // The out-of-line parts of the inline operations above.
  // Reports kind in the current function (deduplicated by kind and
  // function).
  REENTRY_COLD void ReportHere(FindingKind kind);
  void MightResched(const char* function, bool rtlock);
  bool PopHeldSlow(const void* lock);
  void LeaveFrameChecks(const Frame& f);
  // Internal invariant: the context bits of preempt_count match the frame
  // stack. A failure is a bug in reentry, not a finding.
  void CheckContextBits() const;

  Kernel* kernel_ = nullptr;
  int id_ = 0;
  uint32_t preempt_count_ = 0;
  uint32_t preempt_depth_ = 0;
  uint32_t migrate_depth_ = 0;
  uint32_t bh_depth_ = 0;
  bool irqs_disabled_ = false;
  int raw_held_ = 0;
  uint32_t op_index_ = kNoOp;
  FixedVector<Frame, kMaxContextDepth> frames_;
  FixedVector<HeldLock, kMaxHeldLocks> held_;
  FixedVector<const char*, kMaxFunctionDepth> functions_;
};

// The machine: configuration, vCPUs, lock classes, observers, findings.
class Kernel {
 public:
  explicit Kernel(const Config& config);
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const Config& config() const { return config_; }
  int nr_cpus() const { return config_.nr_cpus; }
  Cpu& cpu(int i) { return cpus_[i]; }

  void SetHooks(Hooks* hooks) { hooks_ = hooks; }
  Hooks* hooks() const { return hooks_; }

  // Where the allocator model's failure reasons go (alloc_stats.h); none by
  // default.
  void SetAllocStatsSink(AllocStatsSink* s) { alloc_stats_sink_ = s; }
  AllocStatsSink* alloc_stats_sink() const { return alloc_stats_sink_; }

  // Observers are called in the order they were added.
  void AddObserver(Observer* o);
  void RemoveObserver(Observer* o);
  bool observed() const { return nr_observers_ != 0; }
  // Whether some observer needs events of kind k.
  bool wants(EventKind k) const { return interests_ & EventBit(k); }
  void Emit(Cpu& cpu, const Event& e) {
    for (int i = 0; i < nr_observers_; ++i) observers_[i]->OnEvent(cpu, e);
  }

  // Lock classes by name: the same name and type give the same class, as
  // lockdep gives one class to all instances initialised at one site.
  // Registration happens while the world is built, never on event paths.
  LockClassId RegisterLockClass(std::string_view name, LockType type,
                                WaitType wait_override = WaitType::kWaitInv);
  const LockClassInfo& lock_class(LockClassId id) const { return classes_[id]; }
  size_t nr_lock_classes() const { return classes_.size(); }

  FindingList& findings() { return findings_; }
  const FindingList& findings() const { return findings_; }

  // Records a finding. In concurrent mode (stress: real threads and signal
  // handlers) a finding reported while another report is in progress on the
  // same thread (a signal landed inside Report) is counted and dropped
  // rather than deadlocking.
  void Report(const Finding& f);
  uint32_t reports_dropped() const { return reports_dropped_.load(); }
  // How many findings Report() stored (the size of findings(), readable
  // from any thread).
  uint32_t reports_stored() const {
    return reports_stored_.load(std::memory_order_acquire);
  }

 private:
  Config config_;
  std::unique_ptr<Cpu[]> cpus_;
  Hooks* hooks_ = nullptr;
  AllocStatsSink* alloc_stats_sink_ = nullptr;
  Observer* observers_[8] = {};
  int nr_observers_ = 0;
  uint32_t interests_ = 0;  // union of the observers' interests()
  RecycledVector<LockClassInfo> classes_;
  // RegisterLockClass's index: open addressing on (name, type), filled up to
  // half; beyond that (a test registering hundreds of classes) new classes
  // are found by a scan. A lookup used to compare the name with every class:
  // thousands of string compares per model built.
  static constexpr size_t kClassIndexSize = 1024;  // a power of two
  LockClassId class_index_[kClassIndexSize];
  FindingList findings_;
  std::atomic<bool> report_lock_{false};  // concurrent mode only
  std::atomic<uint32_t> reports_dropped_{0};
  std::atomic<uint32_t> reports_stored_{0};
};

inline const Config& Cpu::config() const { return kernel_->config(); }
inline void Cpu::Emit(EventKind kind) {
  if (kernel_->wants(kind)) EmitSlow(kind);
}

REENTRY_ALWAYS_INLINE IrqFlags Cpu::local_irq_save() {
  IrqFlags flags{irqs_disabled_};
  if (!irqs_disabled_) {
    irqs_disabled_ = true;
    Emit(EventKind::kHardirqsOff);
  }
  return flags;
}

REENTRY_ALWAYS_INLINE void Cpu::local_irq_restore(IrqFlags flags) {
  // CONFIG_DEBUG_IRQFLAGS: restoring while IRQs are enabled means the flags
  // did not come from a save on this path.
  if (__builtin_expect(!irqs_disabled_, 0)) {
    ReportHere(FindingKind::kIrqRestoreWithIrqsEnabled);
  }
  if (flags.irqs_disabled) {
    if (!irqs_disabled_) {
      irqs_disabled_ = true;
      Emit(EventKind::kHardirqsOff);
    }
    return;
  }
  local_irq_enable();
}

REENTRY_ALWAYS_INLINE void Cpu::local_irq_disable() {
  if (irqs_disabled_) return;
  irqs_disabled_ = true;
  Emit(EventKind::kHardirqsOff);
}

REENTRY_ALWAYS_INLINE void Cpu::local_irq_enable() {
  if (__builtin_expect(in_hardirq() || in_nmi(), 0)) {
    // Enabling interrupts inside a hardirq or NMI handler lets them nest;
    // the emulated CPU keeps them off, as the handler must.
    ReportHere(FindingKind::kIrqEnableInHardirq);
    return;
  }
  if (!irqs_disabled_) return;
  irqs_disabled_ = false;
  Emit(EventKind::kHardirqsOn);
  if (Hooks* h = kernel_->hooks()) h->IrqsEnabled(*this);
}

REENTRY_ALWAYS_INLINE void Cpu::preempt_disable() {
  // The preempt count is 8 bits of preempt_count (see local_bh_disable()).
  if (__builtin_expect(preempt_depth_ >= kPreemptMask, 0)) {
    ReportHere(FindingKind::kPreemptCountOverflow);
    return;
  }
  ++preempt_depth_;
  if (config().preempt_count) ++preempt_count_;
  if (preempt_depth_ == 1) Emit(EventKind::kPreemptOff);
}

REENTRY_ALWAYS_INLINE void Cpu::preempt_enable() {
  if (__builtin_expect(preempt_depth_ == 0, 0)) {
    ReportHere(FindingKind::kPreemptCountUnderflow);
    return;
  }
  --preempt_depth_;
  if (config().preempt_count) --preempt_count_;
  if (preempt_depth_ == 0) Emit(EventKind::kPreemptOn);
}

REENTRY_ALWAYS_INLINE void Cpu::might_sleep(const char* function) {
  // Nothing to report (the kernel's check looks at preempt_count and the irq
  // state only) and nobody to tell.
  if (preempt_count_ == 0 && !irqs_disabled_ && !kernel_->observed()) return;
  MightResched(function, false);
}

// --- The current vCPU (set by the executor on every vCPU switch, and per
// thread by the stress runner). ---
namespace internal {
// __thread rather than thread_local: a plain TLS slot with no dynamic
// initialisation, so reading it never calls a TLS wrapper function.
extern __thread Cpu* tls_cpu;
[[noreturn]] REENTRY_COLD void NoCurrentCpu();
}  // namespace internal

REENTRY_ALWAYS_INLINE Cpu& this_cpu() {
  Cpu* cpu = internal::tls_cpu;
  if (__builtin_expect(cpu == nullptr, 0)) internal::NoCurrentCpu();
  return *cpu;
}
REENTRY_ALWAYS_INLINE Cpu* this_cpu_or_null() { return internal::tls_cpu; }
inline void set_this_cpu(Cpu* cpu) { internal::tls_cpu = cpu; }

// RAII: records the model function for report stacks and titles.
class FunctionScope {
 public:
  explicit FunctionScope(const char* fn) : cpu_(this_cpu_or_null()) {
    if (cpu_) cpu_->PushFunction(fn);
  }
  ~FunctionScope() {
    if (cpu_) cpu_->PopFunction();
  }
  FunctionScope(const FunctionScope&) = delete;
  FunctionScope& operator=(const FunctionScope&) = delete;

 private:
  Cpu* cpu_;
};
#define REENTRY_KFUNC() ::reentry::ctx::FunctionScope reentry_kfunc_(__func__)

// Kernel-spelled free functions on the current vCPU.
inline bool in_nmi() { return this_cpu().in_nmi(); }
inline bool in_hardirq() { return this_cpu().in_hardirq(); }
inline bool in_serving_softirq() { return this_cpu().in_serving_softirq(); }
inline bool in_interrupt() { return this_cpu().in_interrupt(); }
inline bool in_task() { return this_cpu().in_task(); }
inline bool irqs_disabled() { return this_cpu().irqs_disabled(); }
inline bool in_atomic() { return this_cpu().in_atomic(); }
inline bool preemptible() { return this_cpu().preemptible(); }
inline int smp_processor_id() { return this_cpu().id(); }
inline IrqFlags local_irq_save() { return this_cpu().local_irq_save(); }
inline void local_irq_restore(IrqFlags f) { this_cpu().local_irq_restore(f); }
inline void local_irq_disable() { this_cpu().local_irq_disable(); }
inline void local_irq_enable() { this_cpu().local_irq_enable(); }
inline void local_bh_disable() { this_cpu().local_bh_disable(); }
inline void local_bh_enable() { this_cpu().local_bh_enable(); }
inline void preempt_disable() { this_cpu().preempt_disable(); }
inline void preempt_enable() { this_cpu().preempt_enable(); }
inline void migrate_disable() { this_cpu().migrate_disable(); }
inline void migrate_enable() { this_cpu().migrate_enable(); }
inline void might_sleep(const char* fn = __builtin_FUNCTION()) {
  this_cpu().might_sleep(fn);
}
// Reaching a named point: the place where deterministic interrupts land.
inline void injection_point(PointId p) {
  Cpu& cpu = this_cpu();
  if (Hooks* h = cpu.kernel().hooks()) h->InjectionPoint(cpu, p);
}

}  // namespace reentry::ctx

#endif  // REENTRY_ALLOCATOR_CTX_KERNEL_H_
