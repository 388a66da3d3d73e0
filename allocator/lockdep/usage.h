// Lockdep usage states, generated from one list as the kernel generates them
// from kernel/locking/lockdep_states.h: for every state S (an interrupt kind
// that can interrupt a lock holder) a class can be
//
//   USED_IN_S        taken (for write) inside S            "IN-S-W"
//   USED_IN_S_READ   taken for read inside S               "IN-S-R"
//   ENABLED_S        held (for write) while S was enabled  "S-ON-W"
//   ENABLED_S_READ   held for read while S was enabled     "S-ON-R"
//
// Bit numbers follow lockdep_internals.h: bit 0 read, bit 1 direction
// (0 used-in, 1 enabled), bits 2.. the state. LOCK_USED and LOCK_USED_READ
// come after the irq bits.
//
// Also: FindingLock flag bits that only lockdep sets and only report/ reads.
#ifndef REENTRY_ALLOCATOR_LOCKDEP_USAGE_H_
#define REENTRY_ALLOCATOR_LOCKDEP_USAGE_H_

#include <cstdint>

namespace reentry::lockdep {

// X(STATE): the lockdep states (kernel/locking/lockdep_states.h).
#define REENTRY_LOCKDEP_STATES(X) \
  X(HARDIRQ)                      \
  X(SOFTIRQ)

enum UsageBit : uint8_t {
#define REENTRY_USAGE_ENUM(s) \
  kUsedIn##s, kUsedIn##s##Read, kEnabled##s, kEnabled##s##Read,
  REENTRY_LOCKDEP_STATES(REENTRY_USAGE_ENUM)
#undef REENTRY_USAGE_ENUM
      kUsed,
  kUsedRead,
  kNumUsageBits,
  // verify_lock_unused() reports an acquisition in NMI as this "bit".
  kInNmi = kNumUsageBits,
};

inline constexpr int kNumLockdepStates = 0
#define REENTRY_COUNT_STATE(s) +1
    REENTRY_LOCKDEP_STATES(REENTRY_COUNT_STATE)
#undef REENTRY_COUNT_STATE
    ;
// The irq usage bits (everything below kUsed) fit one byte.
static_assert(kUsed == 4 * kNumLockdepStates && kUsed <= 8);

inline constexpr int kUsageReadMask = 1;
inline constexpr int kUsageDirMask = 2;
inline constexpr int kUsageStateMask = ~(kUsageReadMask | kUsageDirMask);

using UsageMask = uint16_t;
constexpr UsageMask UsageFlag(int bit) { return UsageMask(1u << bit); }

// LOCKF_USED_IN_IRQ_ALL, LOCKF_ENABLED_IRQ_ALL, LOCKF_IRQ, LOCKF_IRQ_READ.
inline constexpr UsageMask kUsedInIrqAll = 0
#define REENTRY_USED_IN_ALL(s) \
  | UsageFlag(kUsedIn##s) | UsageFlag(kUsedIn##s##Read)
    REENTRY_LOCKDEP_STATES(REENTRY_USED_IN_ALL)
#undef REENTRY_USED_IN_ALL
    ;
inline constexpr UsageMask kEnabledIrqAll = 0
#define REENTRY_ENABLED_ALL(s) \
  | UsageFlag(kEnabled##s) | UsageFlag(kEnabled##s##Read)
    REENTRY_LOCKDEP_STATES(REENTRY_ENABLED_ALL)
#undef REENTRY_ENABLED_ALL
    ;
// LOCKF_IRQ: the write (non-read) irq bits of both directions.
inline constexpr UsageMask kIrqWrite = 0
#define REENTRY_IRQ_WRITE(s) | UsageFlag(kUsedIn##s) | UsageFlag(kEnabled##s)
    REENTRY_LOCKDEP_STATES(REENTRY_IRQ_WRITE)
#undef REENTRY_IRQ_WRITE
    ;
// LOCKF_IRQ_READ: the read irq bits of both directions.
inline constexpr UsageMask kIrqRead =
    (kUsedInIrqAll | kEnabledIrqAll) & ~kIrqWrite;

// "IN-HARDIRQ-W", "HARDIRQ-ON-R", "INITIAL USE", "IN-NMI".
const char* UsageString(int bit);
// "HARDIRQ", or "HARDIRQ-READ" for a read bit (lockdep's state_name()).
const char* UsageStateName(int bit);
// "HARDIRQ" for the state of a bit, read or not.
const char* UsageStateBaseName(int bit);
// The kernel's "{-.-.}" usage characters (without braces), two per state:
// '.' unused, '+' enabled only, '-' used in irq only, '?' both. out must have
// room for 2 * kNumLockdepStates + 1 bytes.
void UsageChars(UsageMask usage, char* out);

// exclusive_bit(): same state, opposite direction, read stripped.
constexpr int ExclusiveBit(int bit) {
  return (bit & kUsageStateMask) | ((bit & kUsageDirMask) ^ kUsageDirMask);
}

// lockdep's invert_dir_mask(), exclusive_mask() and original_mask() for
// dependency checks (all four write/read combinations conflict there).
constexpr UsageMask InvertDirMask(UsageMask m) {
  return UsageMask(((m & kEnabledIrqAll) >> kUsageDirMask) |
                   ((m & kUsedInIrqAll) << kUsageDirMask));
}
constexpr UsageMask ExclusiveMask(UsageMask m) {
  UsageMask e = InvertDirMask(m);
  e |= UsageMask((e & kIrqRead) >> kUsageReadMask);
  e |= UsageMask((e & kIrqWrite) << kUsageReadMask);
  return e;
}
constexpr UsageMask OriginalMask(UsageMask m) { return ExclusiveMask(m); }

// FindingLock::flags bits set by lockdep, beyond finding.h's kFindingLockRead
// (1), kFindingLockTry (2) and kFindingLockIrqsOff (4, the _irq/_irqsave
// form).
inline constexpr uint8_t kFindingLockBh = 8;             // _bh form
inline constexpr uint8_t kFindingLockSeqReader = 16;     // read_seqbegin
inline constexpr uint8_t kFindingLockRecursive = 32;     // recursive read
inline constexpr uint8_t kFindingLockHardirqsOff = 64;   // irqs were off
inline constexpr uint8_t kFindingLockSoftirqsOff = 128;  // bh was off

// FindingLock::wait: lockdep wait types as the kernel prints them,
// "{outer:inner}" with LD_WAIT_INV 0, FREE 1, SPIN 2, CONFIG 3 (2 without
// CONFIG_PROVE_RAW_LOCK_NESTING), SLEEP 4, MAX 5.
constexpr uint8_t PackWait(int outer, int inner) {
  return uint8_t((outer & 0xf) << 4 | (inner & 0xf));
}
constexpr int WaitOuter(uint8_t w) { return w >> 4; }
constexpr int WaitInner(uint8_t w) { return w & 0xf; }

}  // namespace reentry::lockdep

#endif  // REENTRY_ALLOCATOR_LOCKDEP_USAGE_H_
