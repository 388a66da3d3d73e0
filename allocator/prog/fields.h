// What makes a program valid, one rule per field type, shared by the
// validator, the text parser, the binary decoder and the generator so they
// cannot drift apart. Also compile-time helpers over the op variant.
#ifndef REENTRY_ALLOCATOR_PROG_FIELDS_H_
#define REENTRY_ALLOCATOR_PROG_FIELDS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "allocator/prog/program.h"

namespace reentry::prog {

// --- Names. ---

// Lock names are identifiers: [A-Za-z_][A-Za-z0-9_]*, 1..kMaxLockNameLength.
constexpr bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9');
}
// Class names: printable ASCII except '"' and '\\' (they print inside double
// quotes with no escapes), 1..kMaxClassNameLength.
constexpr bool IsClassNameChar(char c) {
  return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
}
// nullopt if valid, else why not.
std::optional<std::string> CheckLockName(std::string_view name);
std::optional<std::string> CheckClassName(std::string_view name);

// "spinlock_t" -> LockType::kSpinlock, by ctx::LockTypeName.
std::optional<ctx::LockType> ParseLockType(std::string_view name);
// "raw_spinlock_t, spinlock_t, ...": for error messages.
std::string LockTypeList();

// The boolean config(...) keys, in canonical order (after "cpus", before
// "nolock").
struct ConfigBoolKey {
  const char* name;
  bool ctx::Config::*field;
};
std::span<const ConfigBoolKey> ConfigBoolKeys();
// "cpus, preempt_rt, ...": every config key, for error messages.
inline constexpr const char* kConfigKeyList =
    "cpus, preempt_rt, preempt_count, smp, prove_raw_lock_nesting, nolock, "
    "pressure";

// "final" / "v2": the config(nolock=...) values.
const char* NolockDesignName(ctx::NolockDesign d);
std::optional<ctx::NolockDesign> ParseNolockDesign(std::string_view name);
inline constexpr int kNumNolockDesigns = 2;

// The verbs that apply to lock type t, in REENTRY_LOCK_VERBS order (the
// binary form indexes this list).
const std::vector<LockVerb>& VerbsFor(ctx::LockType t);
// The release that ends what acquire v starts: spin_unlock_irqrestore for
// spin_lock_irqsave, read_seqretry for read_seqbegin, lock_map_release for
// lock_map_acquire... nullopt for releases, trylocks (they may fail) and
// lock_init/debug_check_no_locks_freed.
std::optional<LockVerb> MatchingRelease(LockVerb v);
// "spinlock_t" or "raw_spinlock_t or spinlock_t": the types verb v takes.
std::string VerbTypeNames(LockVerb v);

// --- Field rules: nullopt if the value is valid in program p. ---

// "order 11 out of range (0..10)"
std::string OutOfRange(std::string_view what, int64_t value, int64_t lo,
                       int64_t hi);

// Raw values, before they are narrowed into a field (the parser reads
// numbers wider than the fields).
std::optional<std::string> CheckCpuValue(int64_t v, const Program& p);
std::optional<std::string> CheckSlotValue(int64_t v);      // 0..kMaxSlots-1
std::optional<std::string> CheckOrderValue(int64_t v);     // 0..kMaxOrder
std::optional<std::string> CheckCountValue(int64_t v);     // 0..255
std::optional<std::string> CheckNthValue(int64_t v);       // 1..255
std::optional<std::string> CheckSubclassValue(int64_t v);  // 0..7

std::optional<std::string> CheckField(CpuArg a, const Program& p);
std::optional<std::string> CheckField(LockArg a, const Program& p);
std::optional<std::string> CheckField(SlotArg a, const Program& p);
std::optional<std::string> CheckField(GfpArg a, const Program& p);
std::optional<std::string> CheckField(OrderArg a, const Program& p);
std::optional<std::string> CheckField(CountArg a, const Program& p);
std::optional<std::string> CheckField(FlagArg a, const Program& p);
std::optional<std::string> CheckField(PointArg a, const Program& p);

// Verb in range, lock declared, verb applies to the lock's type, subclass
// only on spin_lock_nested and < kMaxSubclasses.
std::optional<std::string> CheckLockCall(const LockCall& c, const Program& p);
// A kind an interrupt can have: softirq, hardirq or nmi.
bool IsInterruptKind(ctx::ContextKind k);
std::optional<std::string> CheckConfig(const ctx::Config& c);
// "verb spin_lock cannot take lock M of type mutex (spin_lock takes
// spinlock_t)"
std::string WrongLockTypeMessage(LockVerb v, const LockDecl& lock);

// --- The op variant at compile time. ---

// Calls f.template operator()<T>() for every op type T, in op code order.
template <typename F>
void ForEachOpType(F&& f) {
  [&]<size_t... I>(std::index_sequence<I...>) {
    (f.template operator()<std::variant_alternative_t<I, OpVariant>>(), ...);
  }
  (std::make_index_sequence<kNumOpCodes>());
}

// The keyword a FlagArg of op T prints as (T::kFlagName), or nullptr.
template <typename T>
constexpr const char* FlagNameOf() {
  if constexpr (requires { T::kFlagName; }) {
    return T::kFlagName;
  } else {
    return nullptr;
  }
}

// A default-constructed op of the given code (0 <= code < kNumOpCodes).
Op MakeOp(int code);

namespace internal {
struct NoopFieldVisitor {
  template <typename F>
  void Result(F&) {}
  template <typename F>
  void Arg(F&) {}
  template <typename F>
  void Optional(F&, F) {}
};
}  // namespace internal

// Ops whose fields are all reached by Visit(). Interrupt (kind, point and
// body) and LockCall (verb, lock, subclass) are special-cased by every codec.
template <typename T>
concept PlainOp = requires(T t, internal::NoopFieldVisitor v) {
  t.Visit(v);
};

// Visits the fields of a plain op; a no-op for the special ops.
template <typename T, typename V>
void VisitFields(T& op, V& v) {
  if constexpr (PlainOp<T>) op.Visit(v);
}
// The same for reading visitors: Visit() is non-const, so it visits a copy
// (plain ops are a few bytes).
template <typename T, typename V>
void VisitFields(const T& op, V& v) {
  if constexpr (PlainOp<T>) {
    T copy = op;
    copy.Visit(v);
  }
}

// Whether op type T writes a result slot ("pN = ...").
template <typename T>
bool OpHasResult() {
  struct Probe : internal::NoopFieldVisitor {
    bool result = false;
    void Result(SlotArg&) { result = true; }
  } probe;
  T op;
  VisitFields(op, probe);
  return probe.result;
}

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_FIELDS_H_
