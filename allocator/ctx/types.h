// Names shared by every layer above ctx: context kinds, lock types and wait
// types, each generated from one list (as the kernel's lockdep_states.h).
#ifndef REENTRY_ALLOCATOR_CTX_TYPES_H_
#define REENTRY_ALLOCATOR_CTX_TYPES_H_

#include <cstdint>

namespace reentry::ctx {

inline constexpr int kMaxCpus = 64;

// X(enumerator, lower-case name used in programs, upper-case name used by
// lockdep reports)
#define REENTRY_CONTEXT_KINDS(X)    \
  X(kTask, "task", "TASK")          \
  X(kSoftirq, "softirq", "SOFTIRQ") \
  X(kHardirq, "hardirq", "HARDIRQ") \
  X(kNmi, "nmi", "NMI")

enum class ContextKind : uint8_t {
#define REENTRY_CONTEXT_ENUM(e, lower, upper) e,
  REENTRY_CONTEXT_KINDS(REENTRY_CONTEXT_ENUM)
#undef REENTRY_CONTEXT_ENUM
      kCount
};
inline constexpr int kNumContextKinds = static_cast<int>(ContextKind::kCount);
const char* ContextName(ContextKind k);       // "hardirq"
const char* ContextUpperName(ContextKind k);  // "HARDIRQ"

// Lockdep wait types (include/linux/lockdep_types.h): what an acquisition may
// wait on, ordered so that a context allowing type T allows every type <= T.
#define REENTRY_WAIT_TYPES(X) \
  X(kWaitInv, "INV")          \
  X(kWaitFree, "FREE")        \
  X(kWaitSpin, "SPIN")        \
  X(kWaitConfig, "CONFIG")    \
  X(kWaitSleep, "SLEEP")

enum class WaitType : uint8_t {
#define REENTRY_WAIT_ENUM(e, s) e,
  REENTRY_WAIT_TYPES(REENTRY_WAIT_ENUM)
#undef REENTRY_WAIT_ENUM
};
const char* WaitTypeName(WaitType w);

// X(enumerator, kernel type name, family word for reports, wait type)
// lockdep_map: a pseudo-lock (fs_reclaim, console_owner, ...); like the
// kernel's STATIC_LOCKDEP_MAP_INIT maps it has no wait type (LD_WAIT_INV: not
// checked) unless one is given when it is registered.
#define REENTRY_LOCK_TYPES(X)                                    \
  X(kRawSpinlock, "raw_spinlock_t", "spinlock", kWaitSpin)       \
  X(kSpinlock, "spinlock_t", "spinlock", kWaitConfig)            \
  X(kRwlock, "rwlock_t", "rwlock", kWaitConfig)                  \
  X(kLocalLock, "local_lock_t", "local_lock", kWaitConfig)       \
  X(kLocalTrylock, "local_trylock_t", "local_lock", kWaitConfig) \
  X(kSeqcount, "seqcount_t", "seqcount", kWaitSpin)              \
  X(kSeqlock, "seqlock_t", "seqlock", kWaitConfig)               \
  X(kMutex, "mutex", "mutex", kWaitSleep)                        \
  X(kLockdepMap, "lockdep_map", "lock", kWaitInv)

enum class LockType : uint8_t {
#define REENTRY_LOCK_TYPE_ENUM(e, name, family, wait) e,
  REENTRY_LOCK_TYPES(REENTRY_LOCK_TYPE_ENUM)
#undef REENTRY_LOCK_TYPE_ENUM
      kCount
};
inline constexpr int kNumLockTypes = static_cast<int>(LockType::kCount);
const char* LockTypeName(LockType t);    // "spinlock_t"
const char* LockFamilyName(LockType t);  // "spinlock"
// The type's wait type as lockdep declares it (CONFIG is resolved by the
// configuration: SPIN on !PREEMPT_RT, SLEEP on PREEMPT_RT).
WaitType LockTypeWaitType(LockType t);

// Semantics that change per run.
enum class NolockDesign : uint8_t {
  kFinal,      // alloc_pages_nolock(): no gfp bit, gfpflags_allow_spinning()
  kV2Trylock,  // Dec 2024 v2: a public __GFP_TRYLOCK gfp bit
};

inline constexpr int kMaxMemPressure = 3;

struct Config {
  int nr_cpus = 2;
  bool preempt_rt = false;             // CONFIG_PREEMPT_RT
  bool preempt_count = true;           // CONFIG_PREEMPT_COUNT
  bool smp = true;                     // !SMP: one vCPU, no real lock words
  bool prove_raw_lock_nesting = true;  // CONFIG_PROVE_RAW_LOCK_NESTING
  NolockDesign nolock_design = NolockDesign::kFinal;
  // How much memory the machine starts with in use (0..kMaxMemPressure):
  // 0 none; 1 free memory down to about the promo watermark; 2 to about the
  // low watermark; 3 fragmented, no free pageblock (Mm::boot_hold_memory).
  int mem_pressure = 0;
  // Real threads share the model (stress): lock words use atomic RMW
  // operations. The deterministic executor runs one vCPU at a time and needs
  // none, so it leaves this off.
  bool concurrent = false;

  // CONFIG wait type as this configuration resolves it.
  WaitType ResolveWait(WaitType w) const {
    if (w != WaitType::kWaitConfig) return w;
    return preempt_rt ? WaitType::kWaitSleep : WaitType::kWaitSpin;
  }
};

}  // namespace reentry::ctx

#endif  // REENTRY_ALLOCATOR_CTX_TYPES_H_
