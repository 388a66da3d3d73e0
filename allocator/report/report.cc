#include "allocator/report/report.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "allocator/base/gfp.h"
#include "allocator/lockdep/usage.h"

namespace reentry::report {
namespace {

using ctx::ContextKind;
using ctx::LockType;
using lockdep::kFindingLockBh;
using lockdep::kFindingLockHardirqsOff;
using lockdep::kFindingLockSeqReader;
using lockdep::kFindingLockSoftirqsOff;

// The kernel version line lockdep prints under its banner.
constexpr const char* kKernelIdent = "6.x-reentry #0 Not tainted";

void Appendf(std::string* s, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));
void Appendf(std::string* s, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof(buf)) {
    s->append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(big.data(), big.size(), fmt, ap);
  va_end(ap);
  big.resize(static_cast<size_t>(n));
  s->append(big);
}

const char* ContextOf(uint8_t c) {
  return c < ctx::kNumContextKinds
             ? ctx::ContextName(static_cast<ContextKind>(c))
             : "?";
}
const char* ContextUpperOf(uint8_t c) {
  return c < ctx::kNumContextKinds
             ? ctx::ContextUpperName(static_cast<ContextKind>(c))
             : "?";
}

std::string Substitute(const char* text, const Finding& f) {
  std::string out;
  for (const char* p = text; *p != '\0'; ++p) {
    if (p[0] == '%' && p[1] == 'L') {
      out += f.lock_family != nullptr ? f.lock_family : "lock";
      ++p;
    } else if (p[0] == '%' && p[1] == 'C') {
      out += f.context_name != nullptr ? f.context_name
                                       : ContextUpperOf(f.context);
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

// The task name lockdep prints ("comm/pid"): one per vCPU.
std::string Task(int cpu) {
  char buf[32];
  snprintf(buf, sizeof(buf), "reentry/%d", cpu < 0 ? 0 : cpu);
  return buf;
}

// The kernel API call that took the lock, from its type and form.
std::string Verb(const FindingLock& l) {
  const bool read = l.flags & kFindingLockRead;
  const bool trylock = l.flags & kFindingLockTry;
  const bool irq = l.flags & kFindingLockIrqsOff;
  const bool bh = l.flags & kFindingLockBh;
  if (l.flags & kFindingLockSeqReader) return "read_seqbegin";
  if (l.lock_type >= ctx::kNumLockTypes) return "lock";
  std::string v;
  switch (static_cast<LockType>(l.lock_type)) {
    case LockType::kRawSpinlock:
      v = trylock ? "raw_spin_trylock" : "raw_spin_lock";
      break;
    case LockType::kSpinlock:
      v = trylock ? "spin_trylock" : "spin_lock";
      break;
    case LockType::kRwlock:
      v = read ? (trylock ? "read_trylock" : "read_lock")
               : (trylock ? "write_trylock" : "write_lock");
      break;
    case LockType::kLocalLock:
    case LockType::kLocalTrylock:
      v = trylock ? "local_trylock" : "local_lock";
      break;
    case LockType::kSeqcount:
      v = "write_seqcount_begin";
      break;
    case LockType::kSeqlock:
      v = "write_seqlock";
      break;
    case LockType::kMutex:
      return trylock ? "mutex_trylock" : "mutex_lock";
    case LockType::kLockdepMap:
      return trylock ? "lock_map_acquire_try"
                     : (read ? "lock_map_acquire_read" : "lock_map_acquire");
    default:
      return "lock";
  }
  if (irq) v += "_irqsave";
  if (bh) v += "_bh";
  return v;
}

// The matching release: "spin_unlock_irqrestore", "read_unlock", ...
std::string UnlockVerb(const FindingLock& l) {
  std::string v = Verb(l);
  if (v == "read_seqbegin") return "read_seqretry";
  if (v == "write_seqcount_begin") return "write_seqcount_end";
  if (v.rfind("lock_map_acquire", 0) == 0) return "lock_map_release";
  const size_t t = v.find("_trylock");
  if (t != std::string::npos) v.replace(t, 8, "_lock");
  const size_t s = v.find("seqlock");
  if (s != std::string::npos) v.replace(s, 7, "sequnlock");
  const size_t k = v.find("_lock");
  if (k != std::string::npos) v.replace(k, 5, "_unlock");
  const size_t i = v.find("_irqsave");
  if (i != std::string::npos) v.replace(i, 8, "_irqrestore");
  return v;
}

// "op #12: spin_lock_irqsave in rmqueue_bulk".
std::string Where(const FindingLock& l, bool release = false) {
  std::string s;
  if (l.op_index != kNoOp) Appendf(&s, "op #%u: ", l.op_index);
  const std::string verb = release ? UnlockVerb(l) : Verb(l);
  s += verb;
  // A program's own lock op is its own function ("spin_lock in spin_lock").
  if (l.function != nullptr && verb != l.function) {
    Appendf(&s, " in %s", l.function);
  }
  return s;
}

// "cpu0 hardirq".
std::string CpuCtx(const FindingLock& l) {
  std::string s;
  if (l.cpu >= 0) Appendf(&s, "cpu%d ", l.cpu);
  s += ContextOf(l.context);
  return s;
}

std::string ClassName(const FindingLock& l) {
  std::string s = l.name;
  if (l.subclass != 0) Appendf(&s, "/%d", l.subclass);
  return s;
}

// "(&zone->lock){-.-.}-{2:2}".
std::string LockName(const FindingLock& l, const ctx::Config& config) {
  char usage[2 * lockdep::kNumLockdepStates + 1];
  lockdep::UsageChars(l.usage, usage);
  int outer = lockdep::WaitOuter(l.wait), inner = lockdep::WaitInner(l.wait);
  if (l.wait == 0 && l.lock_type < ctx::kNumLockTypes) {
    const ctx::WaitType w =
        ctx::LockTypeWaitType(static_cast<LockType>(l.lock_type));
    switch (w) {
      case ctx::WaitType::kWaitSpin:
        inner = 2;
        break;
      case ctx::WaitType::kWaitConfig:
        inner = (config.prove_raw_lock_nesting || config.preempt_rt) ? 3 : 2;
        break;
      case ctx::WaitType::kWaitSleep:
        inner = 4;
        break;
      default:
        inner = 0;
        break;
    }
    outer = inner;
  }
  std::string s = "(" + ClassName(l) + ")";
  Appendf(&s, "{%s}-{%d:%d}", usage, outer, inner);
  return s;
}

// print_lock(): "(&zone->lock){-.-.}-{2:2}, at: op #3: spin_lock in f".
std::string PrintLock(const FindingLock& l, const ctx::Config& config) {
  return LockName(l, config) + ", at: " + Where(l) + " [" + CpuCtx(l) + "]\n";
}

// "lock(" or "rlock(" for scenario tables.
std::string Lk(const FindingLock& l) {
  return std::string((l.flags & kFindingLockRead) ? "rlock(" : "lock(") +
         ClassName(l) + ");";
}

bool IsLockdepStyle(FindingKind k) {
  switch (k) {
    case FindingKind::kRecursiveLocking:
    case FindingKind::kCircularDependency:
    case FindingKind::kIrqSafeToUnsafe:
    case FindingKind::kIrqInversion:
    case FindingKind::kInconsistentLockState:
    case FindingKind::kInvalidWaitContext:
    case FindingKind::kBadUnlockBalance:
    case FindingKind::kHeldLockFreed:
    case FindingKind::kHeldLockReinit:
    case FindingKind::kLockHeldReturningToUser:
    case FindingKind::kNonTryLockInNolock:
    case FindingKind::kAllocInvalidContext:
      return true;
    default:
      return false;
  }
}

class Body {
 public:
  Body(const Finding& f, const ReportInput& in) : f_(f), in_(in) {}

  std::string Build() {
    const std::string banner = BannerLine();
    if (IsLockdepStyle(f_.kind)) {
      const std::string rule(banner.size(), '=');
      const std::string dash(banner.size(), '-');
      out_ += rule + "\n" + banner + "\n" + kKernelIdent + "\n" + dash + "\n";
    } else {
      out_ += banner + "\n";
    }
    switch (f_.kind) {
      case FindingKind::kRecursiveLocking:
        Recursive();
        break;
      case FindingKind::kCircularDependency:
        Circular();
        break;
      case FindingKind::kIrqSafeToUnsafe:
        BadIrqDependency();
        break;
      case FindingKind::kIrqInversion:
        IrqInversion();
        break;
      case FindingKind::kInconsistentLockState:
        Inconsistent();
        break;
      case FindingKind::kInvalidWaitContext:
        WaitContext();
        break;
      case FindingKind::kBadUnlockBalance:
        BadUnlock();
        break;
      case FindingKind::kHeldLockFreed:
      case FindingKind::kHeldLockReinit:
        HeldFreed();
        break;
      case FindingKind::kNonTryLockInNolock:
        Nolock();
        break;
      case FindingKind::kSleepInAtomic:
        Sleep();
        break;
      case FindingKind::kAllocInvalidContext:
        Alloc();
        break;
      default:
        Generic();
        break;
    }
    Trailer();
    return out_;
  }

 private:
  std::string BannerLine() const {
    if (f_.kind == FindingKind::kInvalidWaitContext) {
      return "[ " + Banner(f_) + " ]";
    }
    return Banner(f_);
  }

  const FindingLock* Role(LockRole r, int nth = 0) const {
    for (const FindingLock& l : f_.locks) {
      if (l.role == r && nth-- == 0) return &l;
    }
    return nullptr;
  }
  int Count(LockRole r) const {
    int n = 0;
    for (const FindingLock& l : f_.locks) n += l.role == r;
    return n;
  }
  std::string Lock(const FindingLock* l) const {
    return l != nullptr ? PrintLock(*l, in_.config) : "(unknown lock)\n";
  }
  std::string Name(const FindingLock* l) const {
    return l != nullptr ? LockName(*l, in_.config) : "(unknown lock)";
  }
  std::string Cls(const FindingLock* l) const {
    return l != nullptr ? ClassName(*l) : "?";
  }
  std::string Me() const { return Task(f_.cpu); }

  // The detail split in lines.
  std::vector<std::string> DetailLines() const {
    std::vector<std::string> lines;
    std::string cur;
    for (const char* p = f_.detail; *p != '\0'; ++p) {
      if (*p == '\n') {
        lines.push_back(cur);
        cur.clear();
      } else {
        cur += *p;
      }
    }
    if (!cur.empty()) lines.push_back(cur);
    return lines;
  }
  void Detail(size_t from = 0) {
    const std::vector<std::string> lines = DetailLines();
    for (size_t i = from; i < lines.size(); ++i) {
      out_ += "reentry: " + lines[i] + "\n";
    }
  }

  // "[HC1[1]:SC0[0]:HE0:SE1]" from the acquiring lock's state.
  std::string IrqState(const FindingLock* l) const {
    const bool hc = f_.context == static_cast<uint8_t>(ContextKind::kHardirq) ||
                    f_.context == static_cast<uint8_t>(ContextKind::kNmi);
    const bool sc = f_.context == static_cast<uint8_t>(ContextKind::kSoftirq);
    const bool he = l != nullptr && !(l->flags & kFindingLockHardirqsOff);
    const bool se = l != nullptr && !(l->flags & kFindingLockSoftirqsOff);
    char buf[64];
    snprintf(buf, sizeof(buf), "[HC%d[%d]:SC%d[%d]:HE%d:SE%d]", hc, hc, sc, sc,
             he, se);
    return buf;
  }

  void HeldList() {
    const int n = Count(LockRole::kHeld);
    if (n == 0) {
      Appendf(&out_, "no locks held by %s.\n", Me().c_str());
      return;
    }
    Appendf(&out_, "%d lock%s held by %s:\n", n, n == 1 ? "" : "s",
            Me().c_str());
    int i = 0;
    for (const FindingLock& l : f_.locks) {
      if (l.role != LockRole::kHeld) continue;
      Appendf(&out_, " #%d: %s", i++, PrintLock(l, in_.config).c_str());
    }
  }

  void Backtrace() {
    Appendf(&out_, "\nstack backtrace:\n");
    Appendf(&out_, "CPU: %d Comm: %s Context: %s\n", f_.cpu < 0 ? 0 : f_.cpu,
            Me().c_str(), ContextOf(f_.context));
    if (f_.op_index != kNoOp) {
      Appendf(&out_, "  op #%u", f_.op_index);
      if (f_.function != nullptr) Appendf(&out_, " in %s", f_.function);
      out_ += "\n";
    } else if (f_.function != nullptr) {
      Appendf(&out_, "  %s\n", f_.function);
    }
  }

  void Recursive() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    const FindingLock* h = Role(LockRole::kHolder);
    Appendf(&out_, "%s is trying to acquire lock:\n", Me().c_str());
    out_ += Lock(a);
    out_ += "\nbut task is already holding lock:\n";
    out_ += Lock(h);
    out_ += "\nother info that might help us debug this:\n";
    out_ += " Possible unsafe locking scenario:\n\n";
    out_ += "       CPU0\n       ----\n";
    const bool interrupt =
        a != nullptr && h != nullptr && a->context != h->context;
    out_ += "  " + (h ? Lk(*h) : std::string("lock(?);")) + "\n";
    if (interrupt) {
      out_ +=
          "  <Interrupt>\n    " + (a ? Lk(*a) : std::string("lock(?);")) + "\n";
    } else {
      out_ += "  " + (a ? Lk(*a) : std::string("lock(?);")) + "\n";
    }
    out_ += "\n *** DEADLOCK ***\n\n";
    const bool same_instance = std::strncmp(f_.detail, "AA:", 3) == 0;
    if (!same_instance)
      out_ += " May be due to missing lock nesting notation\n\n";
    Detail();
    HeldList();
    Backtrace();
  }

  void Circular() {
    const FindingLock* next = Role(LockRole::kAcquiring);
    const FindingLock* prev = Role(LockRole::kHolder);
    Appendf(&out_, "%s is trying to acquire lock:\n", Me().c_str());
    out_ += Lock(next);
    out_ += "\nbut task is already holding lock:\n";
    out_ += Lock(prev);
    out_ += "\nwhich lock already depends on the new lock.\n\n";
    out_ += "\nthe existing dependency chain (in reverse order) is:\n";
    const int n = Count(LockRole::kChainExisting);
    for (int i = 0; i < n; ++i) {
      const FindingLock* c = Role(LockRole::kChainExisting, i);
      Appendf(&out_, "\n-> #%d %s:\n       %s [%s]\n", n - i, Name(c).c_str(),
              Where(*c).c_str(), CpuCtx(*c).c_str());
    }
    if (next != nullptr) {
      Appendf(&out_, "\n-> #0 %s:\n       %s [%s]\n", Name(next).c_str(),
              Where(*next).c_str(), CpuCtx(*next).c_str());
    }
    out_ += "\nother info that might help us debug this:\n\n";
    // The class right after the new lock in the existing chain.
    const FindingLock* parent =
        n >= 2 ? Role(LockRole::kChainExisting, 1) : next;
    if (n >= 2 && parent != nullptr) {
      Appendf(&out_, "Chain exists of:\n  %s --> %s --> %s\n\n",
              Cls(next).c_str(), Cls(parent).c_str(), Cls(prev).c_str());
    }
    out_ += " Possible unsafe locking scenario:\n\n";
    out_ += "       CPU0                    CPU1\n";
    out_ += "       ----                    ----\n";
    out_ += "  " + (prev ? Lk(*prev) : std::string("lock(?);")) + "\n";
    out_ += "                               lock(" + Cls(parent) + ");\n";
    out_ += "                               lock(" + Cls(prev) + ");\n";
    out_ += "  " + (next ? Lk(*next) : std::string("lock(?);")) + "\n";
    out_ += "\n *** DEADLOCK ***\n\n";
    Detail();
    HeldList();
    Backtrace();
  }

  void IrqScenario(const std::string& safe, const std::string& middle,
                   const std::string& unsafe) {
    if (middle != unsafe) {
      Appendf(&out_, "Chain exists of:\n  %s --> %s --> %s\n\n", safe.c_str(),
              middle.c_str(), unsafe.c_str());
    }
    out_ += " Possible interrupt unsafe locking scenario:\n\n";
    out_ += "       CPU0                    CPU1\n";
    out_ += "       ----                    ----\n";
    out_ += "  lock(" + unsafe + ");\n";
    out_ += "                               local_irq_disable();\n";
    out_ += "                               lock(" + safe + ");\n";
    out_ += "                               lock(" + middle + ");\n";
    out_ += "  <Interrupt>\n";
    out_ += "    lock(" + safe + ");\n";
    out_ += "\n *** DEADLOCK ***\n\n";
  }

  void BadIrqDependency() {
    const FindingLock* next = Role(LockRole::kAcquiring);
    const FindingLock* prev = Role(LockRole::kHolder);
    const FindingLock* safe = Role(LockRole::kUsage, 0);
    const FindingLock* unsafe = Role(LockRole::kUsage, 1);
    const std::string irqclass =
        f_.context_name != nullptr ? f_.context_name : "HARDIRQ";
    Appendf(&out_, "%s %s is trying to acquire:\n", Me().c_str(),
            IrqState(next).c_str());
    out_ += Lock(next);
    out_ += "\nand this task is already holding:\n";
    out_ += Lock(prev);
    out_ += "which would create a new lock dependency:\n";
    out_ += " " + Name(prev) + " -> " + Name(next) + "\n";
    Appendf(&out_, "\nbut this new dependency connects a %s-irq-safe lock:\n",
            irqclass.c_str());
    out_ += " " + Name(safe) + "\n";
    Appendf(&out_, "\n... which became %s-irq-safe at:\n", irqclass.c_str());
    if (safe != nullptr) {
      Appendf(&out_, "  %s [%s]\n", Where(*safe).c_str(),
              CpuCtx(*safe).c_str());
    }
    Appendf(&out_, "\nto a %s-irq-unsafe lock:\n", irqclass.c_str());
    out_ += " " + Name(unsafe) + "\n";
    Appendf(&out_, "\n... which became %s-irq-unsafe at:\n...\n",
            irqclass.c_str());
    if (unsafe != nullptr) {
      Appendf(&out_, "  %s [%s]\n", Where(*unsafe).c_str(),
              CpuCtx(*unsafe).c_str());
    }
    out_ += "\nother info that might help us debug this:\n\n";
    std::string middle = Cls(prev);
    if (middle == Cls(safe)) middle = Cls(next);
    IrqScenario(Cls(safe), middle, Cls(unsafe));
    HeldList();
    Appendf(&out_,
            "\nthe dependencies between %s-irq-safe lock and the holding "
            "lock, and between the lock to be acquired and %s-irq-unsafe "
            "lock:\n",
            irqclass.c_str(), irqclass.c_str());
    Appendf(&out_, " %s\n", f_.detail);
    Backtrace();
  }

  void IrqInversion() {
    const FindingLock* me = Role(LockRole::kAcquiring);
    const FindingLock* other = Role(LockRole::kUsage);
    const FindingLock* middle = Role(LockRole::kChainExisting, 0);
    const bool forwards = std::strstr(f_.detail, "took another") != nullptr;
    Appendf(&out_, "%s just changed the state of lock:\n", Me().c_str());
    out_ += Lock(me);
    out_ += std::string(f_.detail) + "\n";
    out_ += " " + Name(other) + "\n";
    if (other != nullptr && other->op_index != kNoOp) {
      Appendf(&out_, "  (that usage: %s [%s])\n", Where(*other).c_str(),
              CpuCtx(*other).c_str());
    }
    out_ +=
        "\n\nand interrupts could create inverse lock ordering between "
        "them.\n\n";
    out_ += "\nother info that might help us debug this:\n";
    std::string safe, unsafe, mid;
    if (forwards) {
      safe = Cls(me);
      unsafe = Cls(other);
      mid = middle != nullptr ? Cls(middle) : Cls(me);
    } else {
      safe = Cls(other);
      unsafe = Cls(me);
      mid = middle != nullptr ? Cls(middle) : Cls(other);
    }
    if (mid == safe) mid = unsafe;
    IrqScenario(safe, mid, unsafe);
    HeldList();
    out_ += "\nthe shortest dependencies between 2nd lock and 1st lock:\n";
    const int n = Count(LockRole::kChainExisting);
    for (int i = 0; i < n; ++i) {
      const FindingLock* c = Role(LockRole::kChainExisting, i);
      Appendf(&out_, " -> %s {\n    %s [%s]\n }\n", Name(c).c_str(),
              Where(*c).c_str(), CpuCtx(*c).c_str());
    }
    Backtrace();
  }

  void Inconsistent() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    const FindingLock* u = Role(LockRole::kUsage);
    const std::vector<std::string> lines = DetailLines();
    out_ +=
        (lines.empty() ? std::string("inconsistent usage.") : lines[0]) + "\n";
    Appendf(&out_, "%s %s takes:\n", Me().c_str(),
            lines.size() > 1 ? lines[1].c_str() : IrqState(a).c_str());
    out_ += Lock(a);
    // "{HARDIRQ-ON-W} state was registered at:".
    std::string prev_state = "?";
    if (!lines.empty()) {
      const size_t b = lines[0].find('{'), e = lines[0].find('}');
      if (b != std::string::npos && e != std::string::npos && e > b) {
        prev_state = lines[0].substr(b + 1, e - b - 1);
      }
    }
    Appendf(&out_, "{%s} state was registered at:\n", prev_state.c_str());
    if (u != nullptr) {
      Appendf(&out_, "  %s [%s]\n", Where(*u).c_str(), CpuCtx(*u).c_str());
    } else {
      out_ += "  (unknown)\n";
    }
    out_ += "\nother info that might help us debug this:\n";
    out_ += " Possible unsafe locking scenario:\n\n";
    out_ += "       CPU0\n       ----\n";
    out_ += "  lock(" + Cls(a) + ");\n";
    out_ += "  <Interrupt>\n";
    out_ += "    lock(" + Cls(a) + ");\n";
    out_ += "\n *** DEADLOCK ***\n\n";
    HeldList();
    Backtrace();
  }

  void WaitContext() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    const std::vector<std::string> lines = DetailLines();
    Appendf(&out_, "%s is trying to lock:\n", Me().c_str());
    out_ += Lock(a);
    out_ += "other info that might help us debug this:\n";
    if (!lines.empty()) out_ += lines[0] + "\n";
    HeldList();
    Detail(1);
    Backtrace();
  }

  void BadUnlock() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    Appendf(&out_, "%s is trying to release lock (%s) at:\n", Me().c_str(),
            Cls(a).c_str());
    if (a != nullptr) {
      Appendf(&out_, "%s [%s]\n", Where(*a, /*release=*/true).c_str(),
              CpuCtx(*a).c_str());
    }
    out_ += "but there are no more locks to release!\n";
    out_ += "\nother info that might help us debug this:\n";
    HeldList();
    Detail();
    Backtrace();
  }

  void HeldFreed() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    Appendf(
        &out_, "%s is %s memory of %s, with a lock still held there!\n",
        Me().c_str(),
        f_.kind == FindingKind::kHeldLockFreed ? "freeing" : "re-initializing",
        Cls(a).c_str());
    out_ += Lock(a);
    HeldList();
    Detail();
    Backtrace();
  }

  void Nolock() {
    const FindingLock* a = Role(LockRole::kAcquiring);
    const FindingLock* o = Role(LockRole::kOther);
    Appendf(&out_, "%s is trying to acquire lock:\n", Me().c_str());
    out_ += Lock(a);
    out_ += "\ninside a nolock call (only trylocks allowed) entered at:\n";
    if (o != nullptr) {
      out_ += "  ";
      if (o->op_index != kNoOp) Appendf(&out_, "op #%u: ", o->op_index);
      Appendf(&out_, "%s [%s]\n", o->name, CpuCtx(*o).c_str());
    }
    out_ += "\n";
    Detail();
    HeldList();
    Backtrace();
  }

  void Sleep() {
    // The banner line ends in "at <function>" as the kernel's names the
    // file and line of the sleeping call.
    if (!out_.empty() && out_.back() == '\n') out_.pop_back();
    Appendf(&out_, " at %s\n", f_.function != nullptr ? f_.function : "?");
    for (const std::string& l : DetailLines()) out_ += l + "\n";
    Appendf(&out_, "pid: %d, name: %s\n", f_.cpu < 0 ? 0 : f_.cpu,
            Me().c_str());
    HeldList();
    Backtrace();
  }

  void Alloc() {
    Appendf(&out_, "%s is allocating in %s context", Me().c_str(),
            ContextOf(f_.context));
    Appendf(&out_, " with gfp %s (%#x), order %d", GfpToString(f_.gfp).c_str(),
            f_.gfp, f_.order);
    if (f_.function != nullptr) Appendf(&out_, ", in %s", f_.function);
    out_ += ":\n";
    Detail();
    out_ += "\n";
    HeldList();
    Backtrace();
  }

  void Generic() {
    Appendf(&out_, "CPU: %d Comm: %s Context: %s", f_.cpu < 0 ? 0 : f_.cpu,
            Me().c_str(), ContextOf(f_.context));
    if (f_.op_index != kNoOp) Appendf(&out_, " op #%u", f_.op_index);
    if (f_.function != nullptr) Appendf(&out_, " in %s", f_.function);
    out_ += "\n";
    if (f_.gfp != 0 || f_.order >= 0) {
      Appendf(&out_, "gfp: %s, order: %d\n", GfpToString(f_.gfp).c_str(),
              f_.order);
    }
    Detail();
    for (const FindingLock& l : f_.locks) {
      if (l.role == LockRole::kHeld) continue;
      const char* role = "lock";
      switch (l.role) {
        case LockRole::kAcquiring:
          role = "lock";
          break;
        case LockRole::kHolder:
          role = "holder";
          break;
        case LockRole::kWaiter:
          role = "waits for";
          break;
        default:
          role = "other";
          break;
      }
      Appendf(&out_, " %s: %s", role, PrintLock(l, in_.config).c_str());
    }
    if (Count(LockRole::kHeld) > 0) HeldList();
  }

  void Trailer() {
    const ctx::Config& c = in_.config;
    out_ += "\n";
    Appendf(&out_,
            "reentry config: PREEMPT_RT=%s PREEMPT_COUNT=%s %s vCPUs=%d "
            "PROVE_RAW_LOCK_NESTING=%s nolock=%s\n",
            c.preempt_rt ? "y" : "n", c.preempt_count ? "y" : "n",
            c.smp ? "SMP" : "UP", c.smp ? c.nr_cpus : 1,
            c.prove_raw_lock_nesting ? "y" : "n",
            c.nolock_design == ctx::NolockDesign::kFinal ? "final" : "v2");
    if (c.mem_pressure != 0) {
      // Printed only when set: the reports of older programs stay as they were.
      out_.pop_back();
      Appendf(&out_, " memory_pressure=%d\n", c.mem_pressure);
    }
    Appendf(&out_, "bug-zoo switches: %s\n", BugSetToString(in_.bugs).c_str());
    if (!in_.trace_lines.empty()) {
      out_ += "trace:\n";
      for (const std::string& l : in_.trace_lines) out_ += "  " + l + "\n";
    }
    if (!in_.program_text.empty()) {
      out_ += "program:\n";
      std::string line;
      for (char ch : in_.program_text) {
        if (ch == '\n') {
          out_ += "  " + line + "\n";
          line.clear();
        } else {
          line += ch;
        }
      }
      if (!line.empty()) out_ += "  " + line + "\n";
    }
  }

  const Finding& f_;
  const ReportInput& in_;
  std::string out_;
};

}  // namespace

std::string Banner(const Finding& f) {
  if (f.kind >= FindingKind::kCount) return "unknown finding";
  return Substitute(FindingBanner(f.kind), f);
}

std::string Title(const Finding& f) {
  if (f.kind >= FindingKind::kCount) return "unknown finding";
  std::string t = Substitute(FindingTitleHeadline(f.kind), f);
  t += " in ";
  t += f.function != nullptr ? f.function : "unknown";
  return t;
}

std::string FormatFindingSummary(const Finding& f) {
  std::string s = "[";
  s += f.kind < FindingKind::kCount ? VerdictName(FindingVerdict(f.kind)) : "?";
  s += "] " + Title(f) + " (";
  if (f.cpu >= 0) Appendf(&s, "cpu%d ", f.cpu);
  s += ContextOf(f.context);
  if (f.op_index != kNoOp) Appendf(&s, ", op #%u", f.op_index);
  s += ")";
  return s;
}

std::string FormatReport(const Finding& f, const ReportInput& in) {
  return Body(f, in).Build();
}

}  // namespace reentry::report
