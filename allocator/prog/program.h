// Programs as data: what a fuzzer decodes, a human writes, a minimizer
// shrinks and the executor runs. One struct per op; interrupts are ops that
// carry a nested body and the injection point where they fire.
//
// Each op struct has:
//   static constexpr OpCode kCode;  static constexpr const char* kName;
//   template <typename V> void Visit(V& v)  -- its fields in text order
// so the text and binary codecs (text.h, binary.h) handle every op the same
// way. The visitor is called as v.Result(field) for a result page slot
// ("p3 = ..."), v.Arg(field) for a positional argument and
// v.Optional(field, default) for a trailing argument printed only when it
// differs from the default.
#ifndef REENTRY_ALLOCATOR_PROG_PROGRAM_H_
#define REENTRY_ALLOCATOR_PROG_PROGRAM_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/gfp.h"
#include "allocator/ctx/injection_points.h"
#include "allocator/ctx/types.h"

namespace reentry::prog {

inline constexpr int kMaxLocks = 32;      // declared test locks
inline constexpr int kMaxSlots = 32;      // page slots p0..p31
inline constexpr int kMaxOrder = 10;      // MAX_PAGE_ORDER
inline constexpr int kMaxBodyDepth = 4;   // nested interrupt bodies
inline constexpr int kMaxOps = 4096;      // ops in a program, nested included
inline constexpr int kMaxSubclasses = 8;  // spin_lock_nested subclass 0..7
inline constexpr int kMaxLockNameLength = 32;   // LockDecl::name
inline constexpr int kMaxClassNameLength = 64;  // LockDecl::class_name

// --- Field types. Each is a distinct type so codecs can dispatch on it. ---
struct CpuArg {
  uint8_t v = 0;
  friend bool operator==(CpuArg, CpuArg) = default;
};
struct LockArg {  // index into Program::locks
  uint8_t v = 0;
  friend bool operator==(LockArg, LockArg) = default;
};
struct SlotArg {  // page slot, printed "p3"
  uint8_t v = 0;
  friend bool operator==(SlotArg, SlotArg) = default;
};
struct GfpArg {
  gfp_t v = 0;
  friend bool operator==(GfpArg, GfpArg) = default;
};
struct OrderArg {  // 0..kMaxOrder
  uint8_t v = 0;
  friend bool operator==(OrderArg, OrderArg) = default;
};
struct CountArg {  // 0..255 (fail_page_alloc's times 0 disables it)
  uint8_t v = 1;
  friend bool operator==(CountArg, CountArg) = default;
};
struct FlagArg {  // printed as a keyword given per field (e.g. "longterm")
  bool v = false;
  friend bool operator==(FlagArg, FlagArg) = default;
};
struct PointArg {  // injection point and which arrival (1 = first)
  ctx::PointId v = ctx::PointId::kNone;
  uint8_t nth = 1;
  friend bool operator==(PointArg, PointArg) = default;
};

// Lock verbs: X(enumerator, "kernel name", lock types it applies to as a
// bitmask of ctx::LockType).
#define REENTRY_LT(t) (1u << static_cast<int>(::reentry::ctx::LockType::t))
#define REENTRY_LT_RAW REENTRY_LT(kRawSpinlock)
#define REENTRY_LT_SPIN REENTRY_LT(kSpinlock)
#define REENTRY_LT_RW REENTRY_LT(kRwlock)
#define REENTRY_LT_LOCAL (REENTRY_LT(kLocalLock) | REENTRY_LT(kLocalTrylock))
#define REENTRY_LT_LOCALTRY REENTRY_LT(kLocalTrylock)
#define REENTRY_LT_SEQLOCK REENTRY_LT(kSeqlock)
#define REENTRY_LT_SEQ (REENTRY_LT(kSeqlock) | REENTRY_LT(kSeqcount))
#define REENTRY_LT_SEQCOUNT REENTRY_LT(kSeqcount)
#define REENTRY_LT_MUTEX REENTRY_LT(kMutex)
#define REENTRY_LT_MAP REENTRY_LT(kLockdepMap)
#define REENTRY_LT_ANY 0xffffu

#define REENTRY_LOCK_VERBS(X)                                               \
  X(kRawSpinLock, "raw_spin_lock", REENTRY_LT_RAW)                          \
  X(kRawSpinUnlock, "raw_spin_unlock", REENTRY_LT_RAW)                      \
  X(kRawSpinTrylock, "raw_spin_trylock", REENTRY_LT_RAW)                    \
  X(kRawSpinLockIrqsave, "raw_spin_lock_irqsave", REENTRY_LT_RAW)           \
  X(kRawSpinUnlockIrqrestore, "raw_spin_unlock_irqrestore", REENTRY_LT_RAW) \
  X(kRawSpinTrylockIrqsave, "raw_spin_trylock_irqsave", REENTRY_LT_RAW)     \
  X(kRawSpinLockIrq, "raw_spin_lock_irq", REENTRY_LT_RAW)                   \
  X(kRawSpinUnlockIrq, "raw_spin_unlock_irq", REENTRY_LT_RAW)               \
  X(kSpinLock, "spin_lock", REENTRY_LT_SPIN)                                \
  X(kSpinLockNested, "spin_lock_nested", REENTRY_LT_SPIN)                   \
  X(kSpinUnlock, "spin_unlock", REENTRY_LT_SPIN)                            \
  X(kSpinTrylock, "spin_trylock", REENTRY_LT_SPIN)                          \
  X(kSpinLockIrqsave, "spin_lock_irqsave", REENTRY_LT_SPIN)                 \
  X(kSpinUnlockIrqrestore, "spin_unlock_irqrestore", REENTRY_LT_SPIN)       \
  X(kSpinTrylockIrqsave, "spin_trylock_irqsave", REENTRY_LT_SPIN)           \
  X(kSpinLockIrq, "spin_lock_irq", REENTRY_LT_SPIN)                         \
  X(kSpinUnlockIrq, "spin_unlock_irq", REENTRY_LT_SPIN)                     \
  X(kSpinLockBh, "spin_lock_bh", REENTRY_LT_SPIN)                           \
  X(kSpinUnlockBh, "spin_unlock_bh", REENTRY_LT_SPIN)                       \
  X(kSpinTrylockBh, "spin_trylock_bh", REENTRY_LT_SPIN)                     \
  X(kReadLock, "read_lock", REENTRY_LT_RW)                                  \
  X(kReadUnlock, "read_unlock", REENTRY_LT_RW)                              \
  X(kReadTrylock, "read_trylock", REENTRY_LT_RW)                            \
  X(kWriteLock, "write_lock", REENTRY_LT_RW)                                \
  X(kWriteUnlock, "write_unlock", REENTRY_LT_RW)                            \
  X(kWriteTrylock, "write_trylock", REENTRY_LT_RW)                          \
  X(kReadLockIrqsave, "read_lock_irqsave", REENTRY_LT_RW)                   \
  X(kReadUnlockIrqrestore, "read_unlock_irqrestore", REENTRY_LT_RW)         \
  X(kWriteLockIrqsave, "write_lock_irqsave", REENTRY_LT_RW)                 \
  X(kWriteUnlockIrqrestore, "write_unlock_irqrestore", REENTRY_LT_RW)       \
  X(kReadLockIrq, "read_lock_irq", REENTRY_LT_RW)                           \
  X(kReadUnlockIrq, "read_unlock_irq", REENTRY_LT_RW)                       \
  X(kWriteLockIrq, "write_lock_irq", REENTRY_LT_RW)                         \
  X(kWriteUnlockIrq, "write_unlock_irq", REENTRY_LT_RW)                     \
  X(kReadLockBh, "read_lock_bh", REENTRY_LT_RW)                             \
  X(kReadUnlockBh, "read_unlock_bh", REENTRY_LT_RW)                         \
  X(kWriteLockBh, "write_lock_bh", REENTRY_LT_RW)                           \
  X(kWriteUnlockBh, "write_unlock_bh", REENTRY_LT_RW)                       \
  X(kLocalLock, "local_lock", REENTRY_LT_LOCAL)                             \
  X(kLocalUnlock, "local_unlock", REENTRY_LT_LOCAL)                         \
  X(kLocalLockIrqsave, "local_lock_irqsave", REENTRY_LT_LOCAL)              \
  X(kLocalUnlockIrqrestore, "local_unlock_irqrestore", REENTRY_LT_LOCAL)    \
  X(kLocalLockIrq, "local_lock_irq", REENTRY_LT_LOCAL)                      \
  X(kLocalUnlockIrq, "local_unlock_irq", REENTRY_LT_LOCAL)                  \
  X(kLocalTrylock, "local_trylock", REENTRY_LT_LOCALTRY)                    \
  X(kLocalTrylockIrqsave, "local_trylock_irqsave", REENTRY_LT_LOCALTRY)     \
  X(kWriteSeqlock, "write_seqlock", REENTRY_LT_SEQLOCK)                     \
  X(kWriteSequnlock, "write_sequnlock", REENTRY_LT_SEQLOCK)                 \
  X(kWriteSeqlockIrqsave, "write_seqlock_irqsave", REENTRY_LT_SEQLOCK)      \
  X(kWriteSequnlockIrqrestore, "write_sequnlock_irqrestore",                \
    REENTRY_LT_SEQLOCK)                                                     \
  X(kWriteSeqlockIrq, "write_seqlock_irq", REENTRY_LT_SEQLOCK)              \
  X(kWriteSequnlockIrq, "write_sequnlock_irq", REENTRY_LT_SEQLOCK)          \
  X(kWriteSeqlockBh, "write_seqlock_bh", REENTRY_LT_SEQLOCK)                \
  X(kWriteSequnlockBh, "write_sequnlock_bh", REENTRY_LT_SEQLOCK)            \
  X(kReadSeqbegin, "read_seqbegin", REENTRY_LT_SEQ)                         \
  X(kReadSeqretry, "read_seqretry", REENTRY_LT_SEQ)                         \
  X(kWriteSeqcountBegin, "write_seqcount_begin", REENTRY_LT_SEQCOUNT)       \
  X(kWriteSeqcountEnd, "write_seqcount_end", REENTRY_LT_SEQCOUNT)           \
  X(kMutexLock, "mutex_lock", REENTRY_LT_MUTEX)                             \
  X(kMutexUnlock, "mutex_unlock", REENTRY_LT_MUTEX)                         \
  X(kMutexTrylock, "mutex_trylock", REENTRY_LT_MUTEX)                       \
  X(kLockMapAcquire, "lock_map_acquire", REENTRY_LT_MAP)                    \
  X(kLockMapAcquireRead, "lock_map_acquire_read", REENTRY_LT_MAP)           \
  X(kLockMapAcquireTry, "lock_map_acquire_try", REENTRY_LT_MAP)             \
  X(kLockMapRelease, "lock_map_release", REENTRY_LT_MAP)                    \
  X(kLockInit, "lock_init", REENTRY_LT_ANY)                                 \
  X(kLockFree, "debug_check_no_locks_freed", REENTRY_LT_ANY)

enum class LockVerb : uint8_t {
#define REENTRY_VERB_ENUM(e, name, types) e,
  REENTRY_LOCK_VERBS(REENTRY_VERB_ENUM)
#undef REENTRY_VERB_ENUM
      kCount
};
inline constexpr int kNumLockVerbs = static_cast<int>(LockVerb::kCount);
const char* LockVerbName(LockVerb v);
uint32_t LockVerbTypes(LockVerb v);  // bitmask of ctx::LockType
bool LockVerbApplies(LockVerb v, ctx::LockType t);

struct Op;  // the variant wrapper, below

// --- Context control. ---
struct SwitchCpu {  // "cpu(1)": following ops run on vCPU 1
  static constexpr int kCode = 0;
  static constexpr const char* kName = "cpu";
  CpuArg cpu;
  template <typename V>
  void Visit(V& v) {
    v.Arg(cpu);
  }
  friend bool operator==(const SwitchCpu&, const SwitchCpu&) = default;
};

#define REENTRY_SIMPLE_OP(Type, code, name)                     \
  struct Type {                                                 \
    static constexpr int kCode = code;                          \
    static constexpr const char* kName = name;                  \
    template <typename V>                                       \
    void Visit(V&) {}                                           \
    friend bool operator==(const Type&, const Type&) = default; \
  };
REENTRY_SIMPLE_OP(LocalIrqDisable, 1, "local_irq_disable")
REENTRY_SIMPLE_OP(LocalIrqEnable, 2, "local_irq_enable")
REENTRY_SIMPLE_OP(LocalIrqSave, 3, "local_irq_save")
REENTRY_SIMPLE_OP(LocalIrqRestore, 4, "local_irq_restore")
REENTRY_SIMPLE_OP(LocalBhDisable, 5, "local_bh_disable")
REENTRY_SIMPLE_OP(LocalBhEnable, 6, "local_bh_enable")
REENTRY_SIMPLE_OP(PreemptDisable, 7, "preempt_disable")
REENTRY_SIMPLE_OP(PreemptEnable, 8, "preempt_enable")
REENTRY_SIMPLE_OP(MigrateDisable, 9, "migrate_disable")
REENTRY_SIMPLE_OP(MigrateEnable, 10, "migrate_enable")
REENTRY_SIMPLE_OP(MightSleep, 11, "might_sleep")

// "hardirq(POINT, nth) { body }": arms an interrupt on the current vCPU. It
// fires when that vCPU reaches POINT for the nth time from now (or at once
// for point none), if the vCPU's state allows it; a masked hardirq or
// softirq stays pending until interrupts (bh) are enabled again, as on real
// hardware. An NMI is never masked (but NMIs do not nest).
struct Interrupt {
  static constexpr int kCode = 12;
  static constexpr const char* kName = "interrupt";  // printed by kind
  ctx::ContextKind kind = ctx::ContextKind::kHardirq;
  PointArg at;
  std::vector<Op> body;
  friend bool operator==(const Interrupt&, const Interrupt&);
};

// "pause(POINT, nth)": when the current vCPU reaches POINT, it stops there and
// the program's following ops run (on other vCPUs) until an op for this vCPU
// comes, or the program ends; then it resumes. Arrivals are counted from
// this op on, and it replaces the vCPU's earlier pauses.
struct Pause {
  static constexpr int kCode = 13;
  static constexpr const char* kName = "pause";
  PointArg at;
  template <typename V>
  void Visit(V& v) {
    v.Arg(at);
  }
  friend bool operator==(const Pause&, const Pause&) = default;
};

// "spin_lock(A)", "spin_lock_nested(A, 1)", ...: a kernel lock call on a
// declared test lock.
struct LockCall {
  static constexpr int kCode = 14;
  static constexpr const char* kName = "lockcall";  // printed by verb
  LockVerb verb = LockVerb::kSpinLock;
  LockArg lock;
  uint8_t subclass = 0;  // spin_lock_nested only
  friend bool operator==(const LockCall&, const LockCall&) = default;
};

// --- Allocator entry points (mm/). ---
struct AllocPages {  // "p3 = alloc_pages(GFP_KERNEL, 0)"
  static constexpr int kCode = 15;
  static constexpr const char* kName = "alloc_pages";
  SlotArg slot;
  GfpArg gfp;
  OrderArg order;
  template <typename V>
  void Visit(V& v) {
    v.Result(slot);
    v.Arg(gfp);
    v.Arg(order);
  }
  friend bool operator==(const AllocPages&, const AllocPages&) = default;
};

struct FreePages {  // "__free_pages(p3)" or, with a wrong order, "(p3, 2)"
  static constexpr int kCode = 16;
  static constexpr const char* kName = "__free_pages";
  static constexpr uint8_t kSlotOrder =
      0xff;  // the order it was allocated with
  SlotArg slot;
  OrderArg order{kSlotOrder};
  template <typename V>
  void Visit(V& v) {
    v.Arg(slot);
    v.Optional(order, OrderArg{kSlotOrder});
  }
  friend bool operator==(const FreePages&, const FreePages&) = default;
};

struct AllocPagesNolock {  // "p1 = alloc_pages_nolock(0, 0)"
  static constexpr int kCode = 17;
  static constexpr const char* kName = "alloc_pages_nolock";
  SlotArg slot;
  GfpArg gfp;  // 0 or __GFP_ACCOUNT; anything else is caller misuse
  OrderArg order;
  template <typename V>
  void Visit(V& v) {
    v.Result(slot);
    v.Arg(gfp);
    v.Arg(order);
  }
  friend bool operator==(const AllocPagesNolock&,
                         const AllocPagesNolock&) = default;
};

struct FreePagesNolock {  // "free_pages_nolock(p1)"
  static constexpr int kCode = 18;
  static constexpr const char* kName = "free_pages_nolock";
  SlotArg slot;
  template <typename V>
  void Visit(V& v) {
    v.Arg(slot);
  }
  friend bool operator==(const FreePagesNolock&,
                         const FreePagesNolock&) = default;
};

struct AllocPagesBulk {  // "p4 = alloc_pages_bulk(GFP_KERNEL, 8)": p4..p11
  static constexpr int kCode = 19;
  static constexpr const char* kName = "alloc_pages_bulk";
  SlotArg slot;
  GfpArg gfp;
  CountArg count;
  template <typename V>
  void Visit(V& v) {
    v.Result(slot);
    v.Arg(gfp);
    v.Arg(count);
  }
  friend bool operator==(const AllocPagesBulk&,
                         const AllocPagesBulk&) = default;
};

struct PinPage {  // "pin_user_pages(p2)" / "pin_user_pages(p2, longterm)"
  static constexpr int kCode = 20;
  static constexpr const char* kName = "pin_user_pages";
  SlotArg slot;
  FlagArg longterm;
  static constexpr const char* kFlagName = "longterm";
  template <typename V>
  void Visit(V& v) {
    v.Arg(slot);
    v.Optional(longterm, FlagArg{false});
  }
  friend bool operator==(const PinPage&, const PinPage&) = default;
};

struct UnpinPage {  // "unpin_user_page(p2)"
  static constexpr int kCode = 21;
  static constexpr const char* kName = "unpin_user_page";
  SlotArg slot;
  template <typename V>
  void Visit(V& v) {
    v.Arg(slot);
  }
  friend bool operator==(const UnpinPage&, const UnpinPage&) = default;
};

REENTRY_SIMPLE_OP(BuildAllZonelists, 22, "build_all_zonelists")
REENTRY_SIMPLE_OP(OfflinePages, 23, "offline_pages")
REENTRY_SIMPLE_OP(DrainAllPages, 24, "drain_all_pages")
REENTRY_SIMPLE_OP(DrainLocalPages, 25, "drain_local_pages")

struct CpuOffline {  // "cpu_offline(1)": page_alloc_cpu_dead() drains its pcp
  static constexpr int kCode = 26;
  static constexpr const char* kName = "cpu_offline";
  CpuArg cpu;
  template <typename V>
  void Visit(V& v) {
    v.Arg(cpu);
  }
  friend bool operator==(const CpuOffline&, const CpuOffline&) = default;
};

// "fail_page_alloc(3, 1)": fail every 3rd eligible allocation, 1 time
// (fail_page_alloc's interval and times; times 0 disables).
struct FailPageAlloc {
  static constexpr int kCode = 27;
  static constexpr const char* kName = "fail_page_alloc";
  CountArg interval;
  CountArg times;
  template <typename V>
  void Visit(V& v) {
    v.Arg(interval);
    v.Arg(times);
  }
  friend bool operator==(const FailPageAlloc&, const FailPageAlloc&) = default;
};

struct CmaAlloc {  // "p5 = cma_alloc(4)": 4 pages from the CMA area
  static constexpr int kCode = 28;
  static constexpr const char* kName = "cma_alloc";
  SlotArg slot;
  CountArg count;
  template <typename V>
  void Visit(V& v) {
    v.Result(slot);
    v.Arg(count);
  }
  friend bool operator==(const CmaAlloc&, const CmaAlloc&) = default;
};

struct CmaRelease {  // "cma_release(p5)"
  static constexpr int kCode = 29;
  static constexpr const char* kName = "cma_release";
  SlotArg slot;
  template <typename V>
  void Visit(V& v) {
    v.Arg(slot);
  }
  friend bool operator==(const CmaRelease&, const CmaRelease&) = default;
};

REENTRY_SIMPLE_OP(KvfreeRcu, 30, "kvfree_rcu")
REENTRY_SIMPLE_OP(Printk, 31, "printk")
// kswapd runs one balance_pgdat() pass on the current vCPU (task context).
REENTRY_SIMPLE_OP(KswapdRun, 32, "kswapd")

// "register_shrinker(M)": reclaim (direct and kswapd) takes lock M in the
// shrinker, under fs_reclaim.
struct RegisterShrinker {
  static constexpr int kCode = 33;
  static constexpr const char* kName = "register_shrinker";
  LockArg lock;
  template <typename V>
  void Visit(V& v) {
    v.Arg(lock);
  }
  friend bool operator==(const RegisterShrinker&,
                         const RegisterShrinker&) = default;
};

// "memalloc_nofs_save()" / "memalloc_nofs_restore()": the scope API.
REENTRY_SIMPLE_OP(MemallocNofsSave, 34, "memalloc_nofs_save")
REENTRY_SIMPLE_OP(MemallocNofsRestore, 35, "memalloc_nofs_restore")
#undef REENTRY_SIMPLE_OP

// "pause_again(POINT, nth)": one more stop for the current vCPU, after those
// its last pause() and pause_again()s armed: it stops again at the nth
// arrival at POINT counted from its last pause() (not from here), so a
// stress replay can name every place an op was when another vCPU ran.
// Stops fire in the order they were armed.
struct PauseAgain {
  static constexpr int kCode = 36;
  static constexpr const char* kName = "pause_again";
  PointArg at;
  template <typename V>
  void Visit(V& v) {
    v.Arg(at);
  }
  friend bool operator==(const PauseAgain&, const PauseAgain&) = default;
};

// "resume(POINT, nth)": a scheduling step, top level only. The current
// vCPU, stopped at one of its pauses, runs on until it stops at the pause
// armed for (POINT, nth) (at once if it is already there or past it), or,
// for "resume()" or a point it has no pause for, until its op ends. A vCPU
// with nothing in progress ignores it.
struct Resume {
  static constexpr int kCode = 37;
  static constexpr const char* kName = "resume";
  PointArg at;
  template <typename V>
  void Visit(V& v) {
    v.Arg(at);
  }
  friend bool operator==(const Resume&, const Resume&) = default;
};

using OpVariant =
    std::variant<SwitchCpu, LocalIrqDisable, LocalIrqEnable, LocalIrqSave,
                 LocalIrqRestore, LocalBhDisable, LocalBhEnable, PreemptDisable,
                 PreemptEnable, MigrateDisable, MigrateEnable, MightSleep,
                 Interrupt, Pause, LockCall, AllocPages, FreePages,
                 AllocPagesNolock, FreePagesNolock, AllocPagesBulk, PinPage,
                 UnpinPage, BuildAllZonelists, OfflinePages, DrainAllPages,
                 DrainLocalPages, CpuOffline, FailPageAlloc, CmaAlloc,
                 CmaRelease, KvfreeRcu, Printk, KswapdRun, RegisterShrinker,
                 MemallocNofsSave, MemallocNofsRestore, PauseAgain, Resume>;
inline constexpr int kNumOpCodes = std::variant_size_v<OpVariant>;

struct Op {
  OpVariant v;
  Op() = default;
  template <typename T>
  Op(T t) : v(std::move(t)) {}  // NOLINT: ops convert implicitly
  int code() const { return static_cast<int>(v.index()); }
  friend bool operator==(const Op& a, const Op& b) { return a.v == b.v; }
};

inline bool operator==(const Interrupt& a, const Interrupt& b) {
  return a.kind == b.kind && a.at == b.at && a.body == b.body;
}

// A test lock declared by the program: "lock(A, spinlock_t, "&a->lock")".
struct LockDecl {
  std::string name;  // identifier used by ops
  ctx::LockType type = ctx::LockType::kSpinlock;
  std::string class_name;  // lockdep class; the same name shares a class
  friend bool operator==(const LockDecl&, const LockDecl&) = default;
};

struct Program {
  ctx::Config config;
  BugSet bugs;
  std::vector<LockDecl> locks;
  std::vector<Op> ops;
  friend bool operator==(const Program& a, const Program& b);
};

bool operator==(const ctx::Config& a, const ctx::Config& b);

// Ops in pre-order (interrupt bodies after their interrupt op): the op index
// reports print.
size_t CountOps(const std::vector<Op>& ops);
// The op at pre-order index i, or nullptr.
const Op* OpAt(const Program& p, size_t index);
const char* OpName(const Op& op);  // "spin_lock", "hardirq", "alloc_pages"

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_PROGRAM_H_
