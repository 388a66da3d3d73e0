#include "allocator/prog/program.h"

namespace reentry::prog {
namespace {

struct VerbInfo {
  const char* name;
  uint32_t types;
};
constexpr VerbInfo kVerbs[] = {
#define REENTRY_VERB_INFO(e, name, types) {name, types},
    REENTRY_LOCK_VERBS(REENTRY_VERB_INFO)
#undef REENTRY_VERB_INFO
};

const Op* OpAtIn(const std::vector<Op>& ops, size_t& index) {
  for (const Op& op : ops) {
    if (index == 0) return &op;
    --index;
    if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      if (const Op* found = OpAtIn(irq->body, index)) return found;
    }
  }
  return nullptr;
}

}  // namespace

// Out-of-range values (a corrupt program) give "?" and no types, never a
// read past the table.
const char* LockVerbName(LockVerb v) {
  return static_cast<int>(v) < kNumLockVerbs ? kVerbs[static_cast<int>(v)].name
                                             : "?";
}
uint32_t LockVerbTypes(LockVerb v) {
  return static_cast<int>(v) < kNumLockVerbs ? kVerbs[static_cast<int>(v)].types
                                             : 0;
}
bool LockVerbApplies(LockVerb v, ctx::LockType t) {
  return (LockVerbTypes(v) >> static_cast<int>(t)) & 1;
}

bool operator==(const ctx::Config& a, const ctx::Config& b) {
  return a.nr_cpus == b.nr_cpus && a.preempt_rt == b.preempt_rt &&
         a.preempt_count == b.preempt_count && a.smp == b.smp &&
         a.prove_raw_lock_nesting == b.prove_raw_lock_nesting &&
         a.nolock_design == b.nolock_design && a.mem_pressure == b.mem_pressure;
}

bool operator==(const Program& a, const Program& b) {
  return a.config == b.config && a.bugs == b.bugs && a.locks == b.locks &&
         a.ops == b.ops;
}

size_t CountOps(const std::vector<Op>& ops) {
  size_t n = 0;
  for (const Op& op : ops) {
    ++n;
    if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      n += CountOps(irq->body);
    }
  }
  return n;
}

const Op* OpAt(const Program& p, size_t index) { return OpAtIn(p.ops, index); }

const char* OpName(const Op& op) {
  return std::visit(
      [](const auto& o) -> const char* {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Interrupt>) {
          return static_cast<int>(o.kind) < ctx::kNumContextKinds
                     ? ctx::ContextName(o.kind)
                     : "?";
        } else if constexpr (std::is_same_v<T, LockCall>) {
          return LockVerbName(o.verb);
        } else {
          return T::kName;
        }
      },
      op.v);
}

}  // namespace reentry::prog

namespace reentry::prog {
namespace {

// The binary form stores op codes: pin them to the variant order.
template <size_t I = 0>
constexpr bool CodesMatchVariantOrder() {
  if constexpr (I == kNumOpCodes) {
    return true;
  } else {
    return std::variant_alternative_t<I, OpVariant>::kCode ==
               static_cast<int>(I) &&
           CodesMatchVariantOrder<I + 1>();
  }
}
static_assert(CodesMatchVariantOrder(), "kCode must equal the variant index");

}  // namespace
}  // namespace reentry::prog
