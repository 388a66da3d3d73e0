#include "allocator/prog/fields.h"

#include <array>

namespace reentry::prog {
namespace {

constexpr const char* kNolockDesignNames[kNumNolockDesigns] = {"final", "v2"};

constexpr ConfigBoolKey kConfigBoolKeys[] = {
    {"preempt_rt", &ctx::Config::preempt_rt},
    {"preempt_count", &ctx::Config::preempt_count},
    {"smp", &ctx::Config::smp},
    {"prove_raw_lock_nesting", &ctx::Config::prove_raw_lock_nesting},
};

std::array<std::vector<LockVerb>, ctx::kNumLockTypes> BuildVerbTable() {
  std::array<std::vector<LockVerb>, ctx::kNumLockTypes> table;
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    for (int v = 0; v < kNumLockVerbs; ++v) {
      if (LockVerbApplies(static_cast<LockVerb>(v),
                          static_cast<ctx::LockType>(t))) {
        table[t].push_back(static_cast<LockVerb>(v));
      }
    }
  }
  return table;
}

using OpFactory = Op (*)();

template <size_t... I>
constexpr std::array<OpFactory, kNumOpCodes> BuildOpFactories(
    std::index_sequence<I...>) {
  return {
      +[]() -> Op { return std::variant_alternative_t<I, OpVariant>{}; }...};
}

}  // namespace

std::optional<std::string> CheckLockName(std::string_view name) {
  if (name.empty()) return "empty lock name";
  if (name.size() > static_cast<size_t>(kMaxLockNameLength)) {
    return "lock name '" + std::string(name) + "' longer than " +
           std::to_string(kMaxLockNameLength) + " characters";
  }
  bool ok = IsIdentStart(name[0]);
  for (char c : name) ok = ok && IsIdentChar(c);
  if (!ok) {
    return "lock name '" + std::string(name) +
           "' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)";
  }
  return std::nullopt;
}

std::optional<std::string> CheckClassName(std::string_view name) {
  if (name.empty()) return "empty lock class name";
  if (name.size() > static_cast<size_t>(kMaxClassNameLength)) {
    return "lock class name longer than " +
           std::to_string(kMaxClassNameLength) + " characters";
  }
  for (char c : name) {
    if (!IsClassNameChar(c)) {
      return "lock class name may hold printable ASCII except '\"' and '\\'";
    }
  }
  return std::nullopt;
}

std::optional<ctx::LockType> ParseLockType(std::string_view name) {
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    const auto type = static_cast<ctx::LockType>(t);
    if (name == ctx::LockTypeName(type)) return type;
  }
  return std::nullopt;
}

std::string LockTypeList() {
  std::string out;
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    if (t > 0) out += ", ";
    out += ctx::LockTypeName(static_cast<ctx::LockType>(t));
  }
  return out;
}

std::span<const ConfigBoolKey> ConfigBoolKeys() { return kConfigBoolKeys; }

const char* NolockDesignName(ctx::NolockDesign d) {
  const int i = static_cast<int>(d);
  return i < kNumNolockDesigns ? kNolockDesignNames[i] : "?";
}

std::optional<ctx::NolockDesign> ParseNolockDesign(std::string_view name) {
  for (int i = 0; i < kNumNolockDesigns; ++i) {
    if (name == kNolockDesignNames[i]) {
      return static_cast<ctx::NolockDesign>(i);
    }
  }
  return std::nullopt;
}

const std::vector<LockVerb>& VerbsFor(ctx::LockType t) {
  static const auto* const table =
      new std::array<std::vector<LockVerb>, ctx::kNumLockTypes>(
          BuildVerbTable());
  return (*table)[static_cast<int>(t)];
}

std::optional<LockVerb> MatchingRelease(LockVerb v) {
  using V = LockVerb;
  static constexpr std::pair<V, V> kPairs[] = {
      {V::kRawSpinLock, V::kRawSpinUnlock},
      {V::kRawSpinLockIrqsave, V::kRawSpinUnlockIrqrestore},
      {V::kRawSpinLockIrq, V::kRawSpinUnlockIrq},
      {V::kSpinLock, V::kSpinUnlock},
      {V::kSpinLockNested, V::kSpinUnlock},
      {V::kSpinLockIrqsave, V::kSpinUnlockIrqrestore},
      {V::kSpinLockIrq, V::kSpinUnlockIrq},
      {V::kSpinLockBh, V::kSpinUnlockBh},
      {V::kReadLock, V::kReadUnlock},
      {V::kWriteLock, V::kWriteUnlock},
      {V::kReadLockIrqsave, V::kReadUnlockIrqrestore},
      {V::kWriteLockIrqsave, V::kWriteUnlockIrqrestore},
      {V::kReadLockIrq, V::kReadUnlockIrq},
      {V::kWriteLockIrq, V::kWriteUnlockIrq},
      {V::kReadLockBh, V::kReadUnlockBh},
      {V::kWriteLockBh, V::kWriteUnlockBh},
      {V::kLocalLock, V::kLocalUnlock},
      {V::kLocalLockIrqsave, V::kLocalUnlockIrqrestore},
      {V::kLocalLockIrq, V::kLocalUnlockIrq},
      {V::kWriteSeqlock, V::kWriteSequnlock},
      {V::kWriteSeqlockIrqsave, V::kWriteSequnlockIrqrestore},
      {V::kWriteSeqlockIrq, V::kWriteSequnlockIrq},
      {V::kWriteSeqlockBh, V::kWriteSequnlockBh},
      {V::kReadSeqbegin, V::kReadSeqretry},
      {V::kWriteSeqcountBegin, V::kWriteSeqcountEnd},
      {V::kMutexLock, V::kMutexUnlock},
      {V::kLockMapAcquire, V::kLockMapRelease},
      {V::kLockMapAcquireRead, V::kLockMapRelease},
  };
  for (const auto& [acquire, release] : kPairs) {
    if (acquire == v) return release;
  }
  return std::nullopt;
}

std::string VerbTypeNames(LockVerb v) {
  std::string out;
  int n = 0;
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    if (!LockVerbApplies(v, static_cast<ctx::LockType>(t))) continue;
    if (n++ > 0) out += " or ";
    out += ctx::LockTypeName(static_cast<ctx::LockType>(t));
  }
  return out;
}

std::string OutOfRange(std::string_view what, int64_t value, int64_t lo,
                       int64_t hi) {
  return std::string(what) + " " + std::to_string(value) + " out of range (" +
         std::to_string(lo) + ".." + std::to_string(hi) + ")";
}

std::optional<std::string> CheckCpuValue(int64_t v, const Program& p) {
  if (v >= 0 && v < p.config.nr_cpus) return std::nullopt;
  return OutOfRange("cpu", v, 0, p.config.nr_cpus - 1) + ": config has " +
         std::to_string(p.config.nr_cpus) + " cpus";
}

std::optional<std::string> CheckSlotValue(int64_t v) {
  if (v >= 0 && v < kMaxSlots) return std::nullopt;
  return "slot p" + std::to_string(v) + " out of range (p0..p" +
         std::to_string(kMaxSlots - 1) + ")";
}

std::optional<std::string> CheckOrderValue(int64_t v) {
  if (v >= 0 && v <= kMaxOrder) return std::nullopt;
  return OutOfRange("order", v, 0, kMaxOrder);
}

std::optional<std::string> CheckCountValue(int64_t v) {
  if (v >= 0 && v <= 255) return std::nullopt;
  return OutOfRange("count", v, 0, 255);
}

std::optional<std::string> CheckNthValue(int64_t v) {
  if (v >= 1 && v <= 255) return std::nullopt;
  return OutOfRange("nth", v, 1, 255);
}

std::optional<std::string> CheckSubclassValue(int64_t v) {
  if (v >= 0 && v < kMaxSubclasses) return std::nullopt;
  return OutOfRange("subclass", v, 0, kMaxSubclasses - 1);
}

std::optional<std::string> CheckField(CpuArg a, const Program& p) {
  return CheckCpuValue(a.v, p);
}

std::optional<std::string> CheckField(LockArg a, const Program& p) {
  if (a.v < p.locks.size()) return std::nullopt;
  return "lock index " + std::to_string(a.v) + " out of range (" +
         std::to_string(p.locks.size()) + " locks declared)";
}

std::optional<std::string> CheckField(SlotArg a, const Program&) {
  return CheckSlotValue(a.v);
}

std::optional<std::string> CheckField(GfpArg, const Program&) {
  return std::nullopt;  // unknown bits are kept and print as hex
}

std::optional<std::string> CheckField(OrderArg a, const Program&) {
  return CheckOrderValue(a.v);
}

std::optional<std::string> CheckField(CountArg a, const Program&) {
  return CheckCountValue(a.v);
}

std::optional<std::string> CheckField(FlagArg, const Program&) {
  return std::nullopt;
}

std::optional<std::string> CheckField(PointArg a, const Program&) {
  if (static_cast<int>(a.v) >= ctx::kNumPoints) {
    return "injection point " + std::to_string(static_cast<int>(a.v)) +
           " out of range";
  }
  return CheckNthValue(a.nth);
}

std::string WrongLockTypeMessage(LockVerb v, const LockDecl& lock) {
  return std::string(LockVerbName(v)) + " cannot take lock " + lock.name +
         " of type " + ctx::LockTypeName(lock.type) + " (" + LockVerbName(v) +
         " takes " + VerbTypeNames(v) + ")";
}

std::optional<std::string> CheckLockCall(const LockCall& c, const Program& p) {
  if (static_cast<int>(c.verb) >= kNumLockVerbs) {
    return "lock verb " + std::to_string(static_cast<int>(c.verb)) +
           " out of range";
  }
  if (auto error = CheckField(c.lock, p)) return error;
  const LockDecl& lock = p.locks[c.lock.v];
  if (!LockVerbApplies(c.verb, lock.type)) {
    return WrongLockTypeMessage(c.verb, lock);
  }
  if (c.verb == LockVerb::kSpinLockNested) {
    return CheckSubclassValue(c.subclass);
  }
  if (c.subclass != 0) {
    return std::string("subclass given to ") + LockVerbName(c.verb) +
           " (only spin_lock_nested takes one)";
  }
  return std::nullopt;
}

bool IsInterruptKind(ctx::ContextKind k) {
  return k == ctx::ContextKind::kSoftirq || k == ctx::ContextKind::kHardirq ||
         k == ctx::ContextKind::kNmi;
}

std::optional<std::string> CheckConfig(const ctx::Config& c) {
  if (c.nr_cpus < 1 || c.nr_cpus > ctx::kMaxCpus) {
    return OutOfRange("cpus", c.nr_cpus, 1, ctx::kMaxCpus);
  }
  if (c.mem_pressure < 0 || c.mem_pressure > ctx::kMaxMemPressure) {
    return OutOfRange("pressure", c.mem_pressure, 0, ctx::kMaxMemPressure);
  }
  if (static_cast<int>(c.nolock_design) >= kNumNolockDesigns) {
    return "nolock design " +
           std::to_string(static_cast<int>(c.nolock_design)) + " out of range";
  }
  return std::nullopt;
}

Op MakeOp(int code) {
  static constexpr std::array<OpFactory, kNumOpCodes> kFactories =
      BuildOpFactories(std::make_index_sequence<kNumOpCodes>());
  return kFactories[code]();
}

}  // namespace reentry::prog
