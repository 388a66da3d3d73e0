#include "allocator/prog/validate.h"

#include <optional>
#include <string_view>

#include "allocator/prog/fields.h"

namespace reentry::prog {
namespace {

// Checks every field of one plain op, keeping the first error.
struct FieldChecker {
  const Program& p;
  std::optional<std::string> error;

  template <typename F>
  void Result(const F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(const F& f) {
    if (!error) error = CheckField(f, p);
  }
  template <typename F>
  void Optional(const F& f, F def) {
    if (!(f == def)) Arg(f);
  }
};

class Validator {
 public:
  explicit Validator(const Program& p) : p_(p) {}

  std::optional<std::string> Run() {
    if (auto error = CheckConfig(p_.config)) return "config: " + *error;
    if (auto error = CheckLocks()) return error;
    if (CountOps(p_.ops) > static_cast<size_t>(kMaxOps)) {
      return "more than " + std::to_string(kMaxOps) + " ops";
    }
    return CheckOps(p_.ops, 0);
  }

 private:
  std::optional<std::string> CheckLocks() const {
    if (p_.locks.size() > static_cast<size_t>(kMaxLocks)) {
      return "more than " + std::to_string(kMaxLocks) + " locks";
    }
    for (size_t i = 0; i < p_.locks.size(); ++i) {
      const LockDecl& lock = p_.locks[i];
      if (auto error = CheckLockName(lock.name)) return error;
      // At most kMaxLocks names: a scan, no set to allocate per program.
      for (size_t j = 0; j < i; ++j) {
        if (p_.locks[j].name == lock.name) {
          return "duplicate lock name '" + lock.name + "'";
        }
      }
      if (static_cast<int>(lock.type) >= ctx::kNumLockTypes) {
        return "lock " + lock.name + ": lock type out of range";
      }
      if (auto error = CheckClassName(lock.class_name)) {
        return "lock " + lock.name + ": " + *error;
      }
    }
    return std::nullopt;
  }

  std::optional<std::string> CheckOps(const std::vector<Op>& ops, int depth) {
    for (const Op& op : ops) {
      const size_t index = next_index_++;
      std::optional<std::string> error =
          std::visit([&](const auto& o) { return CheckOp(o, depth); }, op.v);
      if (error) {
        return "op " + std::to_string(index) + " (" + OpName(op) +
               "): " + *error;
      }
      if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
        if (auto body_error = CheckOps(irq->body, depth + 1)) {
          return body_error;
        }
      }
    }
    return std::nullopt;
  }

  template <typename T>
  std::optional<std::string> CheckOp(const T& op, int depth) {
    if constexpr (std::is_same_v<T, SwitchCpu>) {
      if (depth > 0) return "cpu() inside an interrupt body";
    }
    if constexpr (std::is_same_v<T, Resume>) {
      if (depth > 0) return "resume() inside an interrupt body";
    }
    FieldChecker checker{p_};
    VisitFields(op, checker);
    return checker.error;
  }

  std::optional<std::string> CheckOp(const LockCall& op, int depth) {
    return CheckLockCall(op, p_);
  }

  std::optional<std::string> CheckOp(const Interrupt& op, int depth) {
    if (!IsInterruptKind(op.kind)) {
      return "interrupt kind must be softirq, hardirq or nmi";
    }
    if (auto error = CheckField(op.at, p_)) return error;
    if (depth + 1 > kMaxBodyDepth) {
      return "interrupt bodies nested deeper than " +
             std::to_string(kMaxBodyDepth);
    }
    return std::nullopt;  // the body is checked by CheckOps
  }

  const Program& p_;
  size_t next_index_ = 0;
};

}  // namespace

bool ValidateProgram(const Program& p, std::string* error) {
  std::optional<std::string> problem = Validator(p).Run();
  if (problem && error) *error = *problem;
  return !problem;
}

}  // namespace reentry::prog
