// The lockdep-like checker: an Observer of the kernel's lock and context
// events that reports what the kernel's lockdep (kernel/locking/lockdep.c,
// v6.x) would report, plus the definite same-CPU reentry, wrong-context
// allocation, sleep-in-atomic (from the real state) and nolock rules that this
// project adds. Findings are data (base/finding.h), deduplicated by
// (kind, cause); none stops the run.
//
// Model, as lockdep:
//  - classes are (lock class, subclass) pairs; instances only matter for the
//    definite reentry rule and for unlock matching;
//  - each vCPU has one held-lock stack (lockdep's per-task held_locks) whose
//    entries carry the context frame that took them (the irq_context);
//  - dependencies are edges between classes tagged with the -(ER)-> -(EN)->
//    -(SR)-> -(SN)-> types of recursive-read aware lockdep (5.10+); a cycle is
//    a deadlock only if it is "strong" (no -(*R)-> followed by -(S*)->);
//  - a trylock adds no dependency into itself and no USED_IN usage, but a
//    held trylocked lock still orders later blocking acquisitions;
//  - an acquisition whose held-lock chain was validated before costs a hash
//    lookup (the chain cache), and one that repeats an earlier acquisition
//    at the same stack position with the same inputs costs a compare (a
//    per-position memo); memory is only allocated when a class, chain,
//    dependency or usage bit is seen for the first time.
//
// One Lockdep serves one Kernel and is not thread-safe: events must arrive
// one at a time (the deterministic executor delivers them so). With one OS
// thread per vCPU, serialize OnEvent calls or attach TsanAnnotations only.
//
// Rules and their kinds:
//  kRecursiveLocking    same class twice in one vCPU's stack (not read after
//                       read for recursive readers), or a lock instance held
//                       by an interrupted frame of the same vCPU (definite AA)
//  kCircularDependency  a strong cycle in the class dependency graph
//  kInconsistentLockState  conflicting usage bits on one class; a non-try
//                       acquisition in NMI of a class used elsewhere
//  kIrqSafeToUnsafe     a new dependency connects an irq-safe class to an
//                       irq-unsafe one
//  kIrqInversion        a new usage bit conflicts through the graph
//  kInvalidWaitContext  LD_WAIT_* nesting (CONFIG_PROVE_RAW_LOCK_NESTING);
//                       on PREEMPT_RT any spinlock_t-based operation in
//                       hardirq or NMI (BZ-02)
//  kBadUnlockBalance    release of a lock this vCPU does not hold (in the
//                       current frame, or as its most recent lock)
//  kHeldLockFreed / kHeldLockReinit   free / re-init of a held lock
//  kNonTryLockInNolock  a non-try acquisition inside a nolock API call
//  kSleepInAtomic       might_sleep() in a context that is atomic in fact but
//                       not by preempt_count (!CONFIG_PREEMPT_COUNT, BZ-16)
//  kAllocInvalidContext an allocation whose gfp the context does not allow
#ifndef REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_
#define REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_

#include <cstdint>
#include <memory>

#include "allocator/base/recycle.h"
#include "allocator/ctx/event.h"
#include "allocator/ctx/kernel.h"

namespace reentry::lockdep {

struct Options {
  // Hardirq frames are force-threadable device interrupts (lockdep's
  // lockdep_hardirq_threaded(), as locking-selftest's HARDIRQ_ENTER): their
  // wait context is LD_WAIT_CONFIG, so spinlock_t is allowed on !RT. False
  // models hard handlers (hrtimer, IPI, IRQF_NO_THREAD): LD_WAIT_SPIN. On
  // PREEMPT_RT a hardirq frame is always hard (threaded handlers would run
  // in task context there).
  bool threaded_hardirqs = true;
  // CONFIG_QUEUED_RWLOCKS: read_lock() is a recursive read only in
  // interrupt context (read_lock_is_recursive()).
  bool queued_rwlocks = true;
  // lockdep's force_read_lock_recursive (locking-selftest sets it).
  bool force_read_lock_recursive = false;
  // The chain cache; off, every acquisition is validated (benchmarks).
  bool chain_cache = true;
};

struct Stats {
  uint64_t acquisitions = 0;
  uint64_t chain_hits = 0;
  uint64_t chain_misses = 0;
  uint64_t searches = 0;  // graph searches (BFS)
  uint64_t reports = 0;   // findings handed to the kernel (before dedup)
};

class Lockdep : public ctx::Observer, public Recycled {
 public:
  explicit Lockdep(ctx::Kernel& kernel, const Options& options = Options());
  ~Lockdep() override;
  Lockdep(const Lockdep&) = delete;
  Lockdep& operator=(const Lockdep&) = delete;

  void OnEvent(ctx::Cpu& cpu, const ctx::Event& e) override;
  // Lockdep validates at acquire time and tracks irq/bh re-enabling; it does
  // not use acquired/contended, the disabling edges or context entry.
  uint32_t interests() const override {
    using ctx::EventBit;
    using ctx::EventKind;
    return ctx::kAllEvents & ~(EventBit(EventKind::kLockAcquired) |
                               EventBit(EventKind::kLockContended) |
                               EventBit(EventKind::kHardirqsOff) |
                               EventBit(EventKind::kSoftirqsOff) |
                               EventBit(EventKind::kPreemptOff) |
                               EventBit(EventKind::kPreemptOn) |
                               EventBit(EventKind::kContextEnter));
  }

  const Options& options() const;
  const Stats& stats() const;
  // Number of validated chains and of dependency edges.
  size_t nr_chains() const;
  size_t nr_dependencies() const;
  // True if the graph has a dependency from (a, sub_a) to (b, sub_b).
  bool HasDependency(ctx::LockClassId a, ctx::LockClassId b, uint8_t sub_a = 0,
                     uint8_t sub_b = 0) const;
  // The usage bits (usage.h) of a class; 0 if never used.
  uint16_t Usage(ctx::LockClassId c, uint8_t subclass = 0) const;
  // Locks this checker believes cpu holds (all frames).
  int HeldCount(int cpu) const;

 private:
  struct Impl;
  __attribute__((noinline)) void OnOtherEvent(ctx::Cpu& cpu,
                                              const ctx::Event& e);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reentry::lockdep

#endif  // REENTRY_ALLOCATOR_LOCKDEP_LOCKDEP_H_
