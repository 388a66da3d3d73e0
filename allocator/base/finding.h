// A Finding is plain data describing one problem the harness saw. It has fixed
// size and is filled without allocation (it may be built inside an emulated
// interrupt or a real signal handler). Text is made later by report/.
#ifndef REENTRY_ALLOCATOR_BASE_FINDING_H_
#define REENTRY_ALLOCATOR_BASE_FINDING_H_

#include <cstddef>
#include <cstdint>

#include "allocator/base/fixed_vector.h"

namespace reentry {

// Verdict classes of ../shared/docs/bug-zoo.md.
#define REENTRY_VERDICTS(X)       \
  X(kAA, "AA")                    \
  X(kABBA, "ABBA")                \
  X(kIrqInv, "IRQ-INV")           \
  X(kWaitCtx, "WAIT-CTX")         \
  X(kSleepAtomic, "SLEEP-ATOMIC") \
  X(kWrongCtx, "WRONG-CTX")       \
  X(kCorrupt, "CORRUPT")          \
  X(kLivelock, "LIVELOCK")        \
  X(kDeadlock, "DEADLOCK")        \
  X(kMisuse, "MISUSE")            \
  X(kGfpMisuse, "GFP-MISUSE")

enum class Verdict : uint8_t {
#define REENTRY_VERDICT_ENUM(e, s) e,
  REENTRY_VERDICTS(REENTRY_VERDICT_ENUM)
#undef REENTRY_VERDICT_ENUM
};

// Severity: bugs are what campaigns hunt; warnings (gfp misuse by a caller)
// are counted separately so an invalid-flag fuzzer does not drown in them.
enum class Severity : uint8_t { kBug, kWarning };

// One list drives the enum, the banner, the title headline, the verdict class,
// the severity and whether the vCPU is stuck afterwards (fatal: the run ends).
//
// X(enumerator, banner, title_headline, verdict, severity, fatal)
//
// The banner is the first line the kernel prints; the title headline is what
// syzbot puts before " in <function>". "%L" stands for the lock family
// ("spinlock", "rwlock", ...), "%C" for a context name ("HARDIRQ", ...).
#define REENTRY_FINDING_KINDS(X)                                               \
  /* ctx: emulated CPU misuse */                                               \
  X(kIrqRestoreWithIrqsEnabled,                                                \
    "WARNING: raw_local_irq_restore() called with IRQs enabled",               \
    "WARNING: raw_local_irq_restore() called with IRQs enabled", kMisuse,      \
    kBug, false)                                                               \
  X(kUnbalancedIrqRestore,                                                     \
    "WARNING: local_irq_restore() without matching local_irq_save()",          \
    "WARNING: unbalanced local_irq_restore", kMisuse, kBug, false)             \
  X(kIrqEnableInHardirq, "WARNING: interrupts enabled in %C context",          \
    "WARNING: interrupts enabled in %C context", kMisuse, kBug, false)         \
  X(kBadBhEnable, "WARNING: local_bh_enable() in invalid context",             \
    "WARNING: local_bh_enable in invalid context", kMisuse, kBug, false)       \
  X(kBhCountUnderflow,                                                         \
    "WARNING: local_bh_enable() without local_bh_disable()",                   \
    "WARNING: softirq count underflow", kMisuse, kBug, false)                  \
  X(kPreemptCountUnderflow,                                                    \
    "WARNING: preempt_enable() without preempt_disable()",                     \
    "WARNING: preempt count underflow", kMisuse, kBug, false)                  \
  X(kBhCountOverflow, "WARNING: local_bh_disable() nested too deep",           \
    "WARNING: softirq count overflow", kMisuse, kBug, false)                   \
  X(kPreemptCountOverflow, "WARNING: preempt_disable() nested too deep",       \
    "WARNING: preempt count overflow", kMisuse, kBug, false)                   \
  X(kLockHeldAtContextExit, "BUG: lock held when leaving %C context",          \
    "BUG: lock held when leaving %C context", kMisuse, kBug, false)            \
  X(kPreemptLeakAtContextExit, "BUG: preempt count changed across %C context", \
    "BUG: preempt count leak in %C context", kMisuse, kBug, false)             \
  X(kIrqsEnabledAtContextExit,                                                 \
    "WARNING: %C handler returned with IRQs enabled",                          \
    "WARNING: %C handler enabled interrupts", kMisuse, kBug, false)            \
  X(kIrqsDisabledAtTaskExit,                                                   \
    "WARNING: returning to user space with IRQs disabled",                     \
    "WARNING: returning to user space with IRQs disabled", kMisuse, kBug,      \
    false)                                                                     \
  X(kSleepInAtomic, "BUG: sleeping function called from invalid context",      \
    "BUG: sleeping function called from invalid context", kSleepAtomic, kBug,  \
    false)                                                                     \
  /* locks: what the lock itself sees (DEBUG_SPINLOCK-like) */                 \
  X(kLockRecursion, "BUG: %L recursion", "BUG: %L recursion", kAA, kBug, true) \
  X(kSeqlockReaderOnInterruptedWriter,                                         \
    "BUG: seqlock reader spins on a writer it interrupted",                    \
    "BUG: seqlock reader spins on interrupted writer", kAA, kBug, true)        \
  X(kLocalLockReentry, "BUG: local_lock already acquired on this CPU",         \
    "BUG: local_lock reentered", kAA, kBug, false)                             \
  X(kUpTrylockOnHeldLock, "BUG: %L trylock succeeded on a held lock (UP)",     \
    "BUG: %L trylock of held lock on UP", kCorrupt, kBug, false)               \
  X(kLockAlreadyUnlocked, "BUG: %L already unlocked",                          \
    "BUG: %L already unlocked", kMisuse, kBug, false)                          \
  X(kLockWrongCpu, "BUG: %L wrong CPU", "BUG: %L wrong CPU", kMisuse, kBug,    \
    false)                                                                     \
  X(kWaitCycle, "BUG: soft lockup: CPUs wait for each other",                  \
    "BUG: soft lockup", kDeadlock, kBug, true)                                 \
  /* lockdep */                                                                \
  X(kRecursiveLocking, "WARNING: possible recursive locking detected",         \
    "possible deadlock", kAA, kBug, false)                                     \
  X(kCircularDependency,                                                       \
    "WARNING: possible circular locking dependency detected",                  \
    "possible deadlock", kABBA, kBug, false)                                   \
  X(kIrqSafeToUnsafe, "WARNING: %C-safe -> %C-unsafe lock order detected",     \
    "possible deadlock", kIrqInv, kBug, false)                                 \
  X(kIrqInversion, "WARNING: possible irq lock inversion dependency detected", \
    "possible deadlock", kIrqInv, kBug, false)                                 \
  X(kInconsistentLockState, "WARNING: inconsistent lock state",                \
    "inconsistent lock state", kIrqInv, kBug, false)                           \
  X(kInvalidWaitContext, "BUG: Invalid wait context",                          \
    "BUG: Invalid wait context", kWaitCtx, kBug, false)                        \
  X(kBadUnlockBalance, "WARNING: bad unlock balance detected!",                \
    "WARNING: bad unlock balance", kMisuse, kBug, false)                       \
  X(kHeldLockFreed, "WARNING: held lock freed!", "WARNING: held lock freed",   \
    kMisuse, kBug, false)                                                      \
  X(kHeldLockReinit, "WARNING: held lock re-initialized",                      \
    "WARNING: held lock re-initialized", kMisuse, kBug, false)                 \
  X(kLockHeldReturningToUser,                                                  \
    "WARNING: lock held when returning to user space!",                        \
    "WARNING: lock held when returning to user space", kMisuse, kBug, false)   \
  X(kNonTryLockInNolock, "BUG: non-try lock acquired on a nolock path",        \
    "BUG: spinning lock on nolock path", kAA, kBug, false)                     \
  X(kAllocInvalidContext, "BUG: allocation from invalid context",              \
    "BUG: allocation from invalid context", kWrongCtx, kBug, false)            \
  X(kGfpMisuse, "WARNING: invalid gfp mask", "WARNING: invalid gfp mask",      \
    kGfpMisuse, kWarning, false)                                               \
  /* mm invariants */                                                          \
  X(kBadPageState, "BUG: Bad page state", "BUG: Bad page state", kCorrupt,     \
    kBug, false)                                                               \
  X(kFreeListCorrupt, "BUG: buddy free list corrupted",                        \
    "BUG: buddy free list corrupted", kCorrupt, kBug, false)                   \
  X(kPageAccounting, "BUG: page accounting mismatch",                          \
    "BUG: page accounting mismatch", kCorrupt, kBug, false)                    \
  X(kPageLeak, "BUG: pages leaked at teardown", "BUG: pages leaked", kCorrupt, \
    kBug, false)                                                               \
  X(kRetryLivelock,                                                            \
    "INFO: task blocked for more than 120 seconds (retry loop)",               \
    "INFO: task hung", kLivelock, kBug, true)

enum class FindingKind : uint8_t {
#define REENTRY_FINDING_ENUM(e, banner, title, verdict, sev, fatal) e,
  REENTRY_FINDING_KINDS(REENTRY_FINDING_ENUM)
#undef REENTRY_FINDING_ENUM
      kCount
};

inline constexpr int kNumFindingKinds = static_cast<int>(FindingKind::kCount);

const char* FindingKindName(
    FindingKind k);  // "kLockRecursion" -> "LockRecursion"
const char* FindingBanner(FindingKind k);  // raw, with %L / %C
const char* FindingTitleHeadline(FindingKind k);
Verdict FindingVerdict(FindingKind k);
const char* VerdictName(Verdict v);
Severity FindingSeverity(FindingKind k);
bool FindingIsFatal(FindingKind k);

inline constexpr uint32_t kNoOp = 0xffffffffu;

// What part a lock plays in a finding; report/ lays the body out by role.
enum class LockRole : uint8_t {
  kAcquiring,      // the acquisition that triggered the report
  kHolder,         // who holds it (e.g. the interrupted frame)
  kHeld,           // held by the reporting context at the time
  kChainNew,       // the new dependency (lockdep: the one being added)
  kChainExisting,  // an edge of the existing dependency chain
  kUsage,          // lockdep: where a conflicting usage was first recorded
  kWaiter,         // wait cycle: who waits
  kOther,
};

// One lock (or pseudo-lock) mentioned in a finding, with where it was taken.
struct FindingLock {
  char name[48];  // class name, e.g. "&zone->lock"
  uint16_t class_id;
  uint8_t lock_type;  // ctx::LockType
  uint8_t subclass;
  LockRole role;
  int8_t cpu;            // -1: unknown
  uint8_t context;       // ctx::ContextKind
  uint8_t flags;         // kFindingLockRead | kFindingLockTry | ...
  uint8_t usage;         // lockdep usage bits of the class (lockdep/usage.h)
  uint8_t wait;          // lockdep wait types {outer:inner}: outer<<4|inner
  uint32_t op_index;     // program op, kNoOp if none
  const char* function;  // model function (static string) or nullptr
};
inline constexpr uint8_t kFindingLockRead = 1;
inline constexpr uint8_t kFindingLockTry = 2;
inline constexpr uint8_t kFindingLockIrqsOff = 4;

struct Finding {
  FindingKind kind = FindingKind::kCount;
  int8_t cpu = -1;
  uint8_t context = 0;        // ctx::ContextKind
  uint8_t context_depth = 0;  // frames on the vCPU's context stack
  uint32_t op_index = kNoOp;
  const char* function = nullptr;  // for the title: "... in <function>"
  uint64_t cause = 0;              // dedup key within a kind (e.g. class ids)
  // Substitutions for %L and %C in banners/headlines.
  const char* lock_family = nullptr;   // "spinlock"
  const char* context_name = nullptr;  // "HARDIRQ"
  uint32_t gfp = 0;
  int16_t order = -1;
  FixedVector<FindingLock, 12> locks;
  char detail[200] = {};  // one or two sentences of specifics

  // Copies s into detail (truncating); returns *this.
  Finding& SetDetail(const char* s);
  // Appends "<name>" style lock entries, truncating names to fit.
  FindingLock& AddLock(const char* name, LockRole role);
};

// Findings of one run: fixed capacity, deduplicated by (kind, cause), never
// allocating. Counts every occurrence, also of dropped duplicates.
class FindingList {
 public:
  static constexpr size_t kCapacity = 48;

  // Returns true if stored (not a duplicate and not full).
  bool Add(const Finding& f);
  void Clear();

  size_t size() const { return list_.size(); }
  const Finding& operator[](size_t i) const { return list_[i]; }
  const Finding* begin() const { return list_.begin(); }
  const Finding* end() const { return list_.end(); }
  uint32_t occurrences(FindingKind k) const {
    return counts_[static_cast<int>(k)];
  }
  size_t dropped() const { return dropped_; }
  bool has(FindingKind k) const;
  size_t bugs() const;      // findings of severity kBug
  size_t warnings() const;  // findings of severity kWarning
  bool fatal() const { return fatal_; }

 private:
  FixedVector<Finding, kCapacity> list_;
  uint32_t counts_[kNumFindingKinds] = {};
  size_t dropped_ = 0;
  bool fatal_ = false;
};

// Copies up to n-1 bytes and terminates; never allocates.
void CopyCString(char* dst, size_t n, const char* src);

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_FINDING_H_
