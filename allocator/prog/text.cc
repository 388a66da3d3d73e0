#include "allocator/prog/text.h"

#include <type_traits>
#include <vector>

#include "allocator/prog/fields.h"

namespace reentry::prog {
namespace {

std::string Unknown(const char* what, int value) {
  return "?" + std::string(what) + std::to_string(value);
}

std::string LockName(LockArg a, const Program& p) {
  return a.v < p.locks.size() ? p.locks[a.v].name : Unknown("lock", a.v);
}

std::string PointText(ctx::PointId id) {
  const int i = static_cast<int>(id);
  return i < ctx::kNumPoints ? ctx::PointName(id) : Unknown("point", i);
}

// The printed arguments of one field (a point prints as zero to two).
void AppendField(CpuArg a, const Program&, std::vector<std::string>& out) {
  out.push_back(std::to_string(a.v));
}
void AppendField(LockArg a, const Program& p, std::vector<std::string>& out) {
  out.push_back(LockName(a, p));
}
void AppendField(SlotArg a, const Program&, std::vector<std::string>& out) {
  out.push_back("p" + std::to_string(a.v));
}
void AppendField(GfpArg a, const Program&, std::vector<std::string>& out) {
  out.push_back(GfpToString(a.v));
}
void AppendField(OrderArg a, const Program&, std::vector<std::string>& out) {
  out.push_back(std::to_string(a.v));
}
void AppendField(CountArg a, const Program&, std::vector<std::string>& out) {
  out.push_back(std::to_string(a.v));
}
void AppendField(PointArg a, const Program&, std::vector<std::string>& out) {
  if (a.v == ctx::PointId::kNone && a.nth == 1) return;
  out.push_back(PointText(a.v));
  if (a.nth != 1) out.push_back(std::to_string(a.nth));
}

// Prints the fields of plain op T: "p3 = " and the argument list.
template <typename T>
struct ArgPrinter {
  const Program& p;
  std::string result;
  std::vector<std::string> args;

  void Result(SlotArg s) { result = "p" + std::to_string(s.v) + " = "; }
  template <typename F>
  void Arg(const F& f) {
    static_assert(!std::is_same_v<F, FlagArg>,
                  "a flag is a keyword: declare it with Optional(f, false)");
    AppendField(f, p, args);
  }
  template <typename F>
  void Optional(const F& f, F def) {
    if (f == def) return;
    if constexpr (std::is_same_v<F, FlagArg>) {
      static_assert(FlagNameOf<T>() != nullptr, "flag op needs kFlagName");
      args.push_back(f.v ? FlagNameOf<T>() : "?noflag");
    } else {
      Arg(f);
    }
  }
};

std::string Call(std::string_view name, const std::vector<std::string>& args) {
  std::string out(name);
  out += "(";
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    out += args[i];
  }
  out += ")";
  return out;
}

class Printer {
 public:
  explicit Printer(const Program& p) : p_(p) {}

  std::string Print() {
    PrintConfig();
    PrintBugs();
    for (const LockDecl& lock : p_.locks) PrintLock(lock);
    PrintOps(p_.ops, 0);
    return std::move(out_);
  }

 private:
  void PrintConfig() {
    const ctx::Config def;
    const ctx::Config& c = p_.config;
    std::vector<std::string> keys;
    if (c.nr_cpus != def.nr_cpus) {
      keys.push_back("cpus=" + std::to_string(c.nr_cpus));
    }
    for (const ConfigBoolKey& key : ConfigBoolKeys()) {
      if (c.*key.field == def.*key.field) continue;
      keys.push_back(std::string(key.name) + "=" + (c.*key.field ? "1" : "0"));
    }
    if (c.nolock_design != def.nolock_design) {
      keys.push_back(std::string("nolock=") +
                     NolockDesignName(c.nolock_design));
    }
    if (c.mem_pressure != def.mem_pressure) {
      keys.push_back("pressure=" + std::to_string(c.mem_pressure));
    }
    if (!keys.empty()) out_ += Call("config", keys) + "\n";
  }

  void PrintBugs() {
    std::vector<std::string> ids;
    for (int i = 0; i < kNumBugs; ++i) {
      if (p_.bugs.has(static_cast<BugId>(i))) {
        ids.push_back(BugIdName(static_cast<BugId>(i)));
      }
    }
    if (!ids.empty()) out_ += Call("bugs", ids) + "\n";
  }

  void PrintLock(const LockDecl& lock) {
    const int type = static_cast<int>(lock.type);
    out_ +=
        Call("lock", {lock.name,
                      type < ctx::kNumLockTypes ? ctx::LockTypeName(lock.type)
                                                : Unknown("type", type),
                      "\"" + lock.class_name + "\""}) +
        "\n";
  }

  void PrintOps(const std::vector<Op>& ops, int depth) {
    for (const Op& op : ops) {
      out_.append(2 * depth, ' ');
      std::visit([&](const auto& o) { PrintOp(o, depth); }, op.v);
    }
  }

  template <typename T>
  void PrintOp(const T& op, int depth) {
    ArgPrinter<T> printer{p_};
    VisitFields(op, printer);
    out_ += printer.result + Call(T::kName, printer.args) + "\n";
  }

  void PrintOp(const LockCall& op, int depth) {
    const int verb = static_cast<int>(op.verb);
    std::vector<std::string> args = {LockName(op.lock, p_)};
    if (op.verb == LockVerb::kSpinLockNested || op.subclass != 0) {
      args.push_back(std::to_string(op.subclass));
    }
    out_ += Call(verb < kNumLockVerbs ? LockVerbName(op.verb)
                                      : Unknown("verb", verb),
                 args) +
            "\n";
  }

  void PrintOp(const Interrupt& op, int depth) {
    const int kind = static_cast<int>(op.kind);
    std::vector<std::string> args;
    AppendField(op.at, p_, args);
    out_ += Call(kind < ctx::kNumContextKinds ? ctx::ContextName(op.kind)
                                              : Unknown("context", kind),
                 args) +
            " {\n";
    PrintOps(op.body, depth + 1);
    out_.append(2 * depth, ' ');
    out_ += "}\n";
  }

  const Program& p_;
  std::string out_;
};

}  // namespace

std::string ParseError::ToString() const {
  return std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

std::string ProgramToText(const Program& p) { return Printer(p).Print(); }

}  // namespace reentry::prog
