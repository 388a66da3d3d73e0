// Conformance with the kernel's lockdep: the families of lib/locking-selftest.c
// (v6.x) that apply to the lock types reentry models, each with the kernel's
// expected verdict, permutations generated as the selftest generates them.
// Every case runs on a fresh kernel and checker (the selftest's
// reset_locks()), driving the instrumented locks directly on vCPU 0.
//
// "FAILURE" means lockdep reports; "SUCCESS" means no finding at all (of any
// layer). Program-based cases (corpora/conformance/*.txt through the executor)
// are in conformance_programs_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "allocator/lockdep/lockdep.h"
#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using ctx::ContextKind;
using namespace reentry::locks;  // NOLINT: kernel-spelled API

constexpr bool FAILURE = false;
constexpr bool SUCCESS = true;

// The lock flavours of the selftest's locking-selftest-<type>.h headers.
enum class Type { kSpin, kWlock, kRlock, kMutex, kRaw };
const char* TypeName(Type t) {
  switch (t) {
    case Type::kSpin:
      return "spin";
    case Type::kWlock:
      return "wlock";
    case Type::kRlock:
      return "rlock";
    case Type::kMutex:
      return "mutex";
    case Type::kRaw:
      return "raw";
  }
  return "?";
}

// Interrupt flavours (-hardirq.h / -softirq.h).
enum class Irq { kHard, kSoft };
const char* IrqName(Irq i) { return i == Irq::kHard ? "hard" : "soft"; }

bool IsLockdepKind(FindingKind k) {
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
      return true;
    default:
      return false;
  }
}

// One selftest run: a kernel, the checker, and the selftest's locks.
class Selftest {
 public:
  explicit Selftest(Options o = Options(), ctx::Config c = ctx::Config())
      : kernel_(c), ld_(kernel_, o) {
    kernel_.AddObserver(&ld_);
    ctx::set_this_cpu(&kernel_.cpu(0));
    for (const char* n : {"A", "B", "C", "D"}) {
      spin_.emplace_back(new Spinlock(kernel_, std::string("lock_") + n));
      raw_.emplace_back(new RawSpinlock(kernel_, std::string("raw_lock_") + n));
      rw_.emplace_back(new Rwlock(kernel_, std::string("rwlock_") + n));
      mutex_.emplace_back(new Mutex(kernel_, std::string("mutex_") + n));
    }
    // X1/X2, Y1/Y2, Z1/Z2: two instances of one class each.
    for (const char* n : {"X", "X", "Y", "Y", "Z", "Z"}) {
      spin_.emplace_back(new Spinlock(kernel_, std::string("lock_") + n));
      raw_.emplace_back(new RawSpinlock(kernel_, std::string("raw_lock_") + n));
      rw_.emplace_back(new Rwlock(kernel_, std::string("rwlock_") + n));
      mutex_.emplace_back(new Mutex(kernel_, std::string("mutex_") + n));
    }
    local_ = std::make_unique<LocalLock>(kernel_, "local_A", false);
  }
  ~Selftest() { ctx::set_this_cpu(nullptr); }

  // Lock names: "A".."D", "X1", "X2", "Y1", "Y2", "Z1", "Z2".
  static int Index(const std::string& n) {
    static const char* kNames[] = {"A",  "B",  "C",  "D",  "X1",
                                   "X2", "Y1", "Y2", "Z1", "Z2"};
    for (int i = 0; i < 10; ++i) {
      if (n == kNames[i]) return i;
    }
    ADD_FAILURE() << "no lock " << n;
    return 0;
  }

  void Lock(Type t, const std::string& n) {
    const int i = Index(n);
    switch (t) {
      case Type::kSpin:
        spin_lock(*spin_[i], "selftest");
        break;
      case Type::kRaw:
        raw_spin_lock(*raw_[i], "selftest");
        break;
      case Type::kWlock:
        write_lock(*rw_[i], "selftest");
        break;
      case Type::kRlock:
        read_lock(*rw_[i], "selftest");
        break;
      case Type::kMutex:
        mutex_lock(*mutex_[i], "selftest");
        break;
    }
  }
  void Unlock(Type t, const std::string& n) {
    const int i = Index(n);
    switch (t) {
      case Type::kSpin:
        spin_unlock(*spin_[i], "selftest");
        break;
      case Type::kRaw:
        raw_spin_unlock(*raw_[i], "selftest");
        break;
      case Type::kWlock:
        write_unlock(*rw_[i], "selftest");
        break;
      case Type::kRlock:
        read_unlock(*rw_[i], "selftest");
        break;
      case Type::kMutex:
        mutex_unlock(*mutex_[i], "selftest");
        break;
    }
  }
  void Init(Type t, const std::string& n) {
    const int i = Index(n);
    switch (t) {
      case Type::kSpin:
        lock_init(*spin_[i], "selftest");
        break;
      case Type::kRaw:
        lock_init(*raw_[i], "selftest");
        break;
      case Type::kWlock:
      case Type::kRlock:
        lock_init(*rw_[i], "selftest");
        break;
      case Type::kMutex:
        lock_init(*mutex_[i], "selftest");
        break;
    }
  }
  // The selftest's L()/U() (spin_lock), RL/WL (rwlock).
  void L(const std::string& n) { Lock(Type::kSpin, n); }
  void U(const std::string& n) { Unlock(Type::kSpin, n); }
  void RL(const std::string& n) { Lock(Type::kRlock, n); }
  void RU(const std::string& n) { Unlock(Type::kRlock, n); }
  void WL(const std::string& n) { Lock(Type::kWlock, n); }
  void WU(const std::string& n) { Unlock(Type::kWlock, n); }
  LocalLock& local_A() { return *local_; }

  // HARDIRQ_ENTER/EXIT, SOFTIRQ_ENTER/EXIT (which also disables hardirqs),
  // and the *_DISABLE/*_ENABLE pairs.
  void IrqEnter(Irq i) {
    if (i == Irq::kHard) {
      cpu().EnterContext(ContextKind::kHardirq);
    } else {
      cpu().EnterContext(ContextKind::kSoftirq);
      cpu().local_irq_disable();
    }
  }
  void IrqExit(Irq i) {
    if (i == Irq::kSoft) cpu().local_irq_enable();
    cpu().ExitContext();
  }
  void IrqDisable(Irq i) {
    if (i == Irq::kHard) {
      cpu().local_irq_disable();
    } else {
      cpu().local_bh_disable();
    }
  }
  void IrqEnable(Irq i) {
    if (i == Irq::kHard) {
      cpu().local_irq_enable();
    } else {
      cpu().local_bh_enable();
    }
  }

  ctx::Cpu& cpu() { return ctx::this_cpu(); }
  ctx::Kernel& kernel() { return kernel_; }
  Lockdep& ld() { return ld_; }

  bool lockdep_failed() const {
    for (const Finding& f : kernel_.findings()) {
      if (IsLockdepKind(f.kind)) return true;
    }
    return false;
  }
  bool has(FindingKind k) const { return kernel_.findings().has(k); }
  std::string kinds() const {
    std::string s;
    for (const Finding& f : kernel_.findings()) {
      s += FindingKindName(f.kind);
      s += "(";
      s += f.detail;
      s += ") ";
    }
    return s.empty() ? "none" : s;
  }

 private:
  ctx::Kernel kernel_;
  Lockdep ld_;
  std::vector<std::unique_ptr<Spinlock>> spin_;
  std::vector<std::unique_ptr<RawSpinlock>> raw_;
  std::vector<std::unique_ptr<Rwlock>> rw_;
  std::vector<std::unique_ptr<Mutex>> mutex_;
  std::unique_ptr<LocalLock> local_;
};

// dotest(): runs fn on a fresh selftest and checks the verdict. A SUCCESS
// case must produce no finding at all.
void DoTest(const std::string& name, bool expected,
            const std::function<void(Selftest&)>& fn, Options o = Options(),
            FindingKind want = FindingKind::kCount) {
  // The selftest treats read_lock() as recursive except in its queued tests.
  Selftest s(o);
  fn(s);
  if (getenv("REENTRY_CONFORMANCE_VERBOSE") != nullptr) {
    printf("%-50s %s: %s\n", name.c_str(),
           expected == SUCCESS ? "SUCCESS" : "FAILURE", s.kinds().c_str());
  }
  if (expected == SUCCESS) {
    EXPECT_EQ(s.kernel().findings().size(), 0u)
        << name << ": expected no report, got " << s.kinds();
  } else {
    EXPECT_TRUE(s.lockdep_failed())
        << name << ": expected a lockdep report, got " << s.kinds();
    if (want != FindingKind::kCount) {
      EXPECT_TRUE(s.has(want)) << name << ": expected " << FindingKindName(want)
                               << ", got " << s.kinds();
    }
  }
}

Options Recursive() {
  Options o;
  o.force_read_lock_recursive = true;
  return o;
}

// The event permutations of GENERATE_PERMUTATIONS_{2,3}_EVENTS, named "12",
// "132", ...
using Events = std::vector<std::function<void(Selftest&)>>;
void ForEachPermutation(
    const Events& ev,
    const std::function<void(const std::string&,
                             const std::function<void(Selftest&)>&)>& f) {
  std::vector<int> order(ev.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  do {
    std::string name;
    for (int i : order) name += static_cast<char>('1' + i);
    f(name, [&ev, order](Selftest& s) {
      for (int i : order) ev[i](s);
    });
  } while (std::next_permutation(order.begin(), order.end()));
}

// The types of DO_TESTCASE_6R / DO_TESTCASE_6 that reentry models.
const Type kSixTypes[] = {Type::kSpin, Type::kWlock, Type::kRlock,
                          Type::kMutex};

void LockUnlock2(Selftest& s, Type t, const char* x, const char* y) {
  s.Lock(t, x);
  s.Lock(t, y);
  s.Unlock(t, y);
  s.Unlock(t, x);
}

// --- DO_TESTCASE_6R: deadlocks that read locks must not trigger. -----------

struct Family6R {
  const char* name;
  FindingKind kind;
  std::function<void(Selftest&, Type)> e;
};

TEST(LockingSelftest, Deadlock6R) {
  const Family6R families[] = {
      {"A-A deadlock", FindingKind::kRecursiveLocking,
       [](Selftest& s, Type t) {
         s.Lock(t, "X1");
         s.Lock(t, "X2");
         s.Unlock(t, "X2");
         s.Unlock(t, "X1");
       }},
      {"A-B-B-A deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "B", "A");
       }},
      {"A-B-B-C-C-A deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "B", "C");
         LockUnlock2(s, t, "C", "A");
       }},
      {"A-B-C-A-B-C deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "C", "A");
         LockUnlock2(s, t, "B", "C");
       }},
      {"A-B-B-C-C-D-D-A deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "B", "C");
         LockUnlock2(s, t, "C", "D");
         LockUnlock2(s, t, "D", "A");
       }},
      {"A-B-C-D-B-D-D-A deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "C", "D");
         LockUnlock2(s, t, "B", "D");
         LockUnlock2(s, t, "D", "A");
       }},
      {"A-B-C-D-B-C-D-A deadlock", FindingKind::kCircularDependency,
       [](Selftest& s, Type t) {
         LockUnlock2(s, t, "A", "B");
         LockUnlock2(s, t, "C", "D");
         LockUnlock2(s, t, "B", "C");
         LockUnlock2(s, t, "D", "A");
       }},
  };
  for (const Family6R& fam : families) {
    for (Type t : kSixTypes) {
      const bool expected = t == Type::kRlock ? SUCCESS : FAILURE;
      DoTest(
          std::string(fam.name) + "/" + TypeName(t), expected,
          [&](Selftest& s) { fam.e(s, t); }, Recursive(), fam.kind);
    }
    // raw_spinlock_t behaves as spin.
    DoTest(
        std::string(fam.name) + "/raw", FAILURE,
        [&](Selftest& s) { fam.e(s, Type::kRaw); }, Recursive(), fam.kind);
  }
}

// --- DO_TESTCASE_6: double unlock, initialize held. ------------------------

TEST(LockingSelftest, DoubleUnlock) {
  for (Type t : kSixTypes) {
    DoTest(
        std::string("double unlock/") + TypeName(t), FAILURE,
        [t](Selftest& s) {
          s.Lock(t, "A");
          s.Unlock(t, "A");
          s.Unlock(t, "A");
        },
        Recursive(), FindingKind::kBadUnlockBalance);
  }
}

TEST(LockingSelftest, InitializeHeld) {
  for (Type t : kSixTypes) {
    DoTest(
        std::string("initialize held/") + TypeName(t), FAILURE,
        [t](Selftest& s) {
          s.Lock(t, "A");
          s.Init(t, "A");
          s.Unlock(t, "A");
        },
        Recursive(), FindingKind::kHeldLockReinit);
  }
}

TEST(LockingSelftest, BadUnlockOrderIsFine) {
  // lockdep does not care about unlock order.
  for (Type t : kSixTypes) {
    DoTest(
        std::string("bad unlock order/") + TypeName(t), SUCCESS,
        [t](Selftest& s) {
          s.Lock(t, "A");
          s.Lock(t, "B");
          s.Unlock(t, "A");
          s.Unlock(t, "B");
        },
        Recursive());
  }
}

// --- Read-lock special cases. -----------------------------------------------

TEST(LockingSelftest, ReadLockRecursion) {
  const Options o = Recursive();
  DoTest(
      "recursive read-lock", SUCCESS,
      [](Selftest& s) {
        s.RL("X1");
        s.RL("X1");
        s.RU("X1");
        s.RU("X1");
      },
      o);
  DoTest(
      "recursive read-lock #2", SUCCESS,
      [](Selftest& s) {
        s.RL("X1");
        s.RL("X2");
        s.RU("X2");
        s.RU("X1");
      },
      o);
  DoTest(
      "mixed read-write-lock", FAILURE,
      [](Selftest& s) {
        s.RL("X1");
        s.WL("X2");
        s.WU("X2");
        s.RU("X1");
      },
      o, FindingKind::kRecursiveLocking);
  DoTest(
      "mixed write-read-lock", FAILURE,
      [](Selftest& s) {
        s.WL("X1");
        s.RL("X2");
        s.RU("X2");
        s.WU("X1");
      },
      o, FindingKind::kRecursiveLocking);
  DoTest(
      "mixed read-lock/lock-write ABBA", FAILURE,
      [](Selftest& s) {
        s.RL("X1");
        s.L("Y1");
        s.U("Y1");
        s.RU("X1");
        s.L("Y1");
        s.WL("X1");
        s.WU("X1");
        s.U("Y1");
      },
      o, FindingKind::kCircularDependency);
  DoTest(
      "mixed read-lock/lock-read ABBA", SUCCESS,
      [](Selftest& s) {
        s.RL("X1");
        s.L("Y1");
        s.U("Y1");
        s.RU("X1");
        s.L("Y1");
        s.RL("X1");
        s.RU("X1");
        s.U("Y1");
      },
      o);
  DoTest(
      "mixed write-lock/lock-write ABBA", FAILURE,
      [](Selftest& s) {
        s.WL("X1");
        s.L("Y1");
        s.U("Y1");
        s.WU("X1");
        s.L("Y1");
        s.WL("X1");
        s.WU("X1");
        s.U("Y1");
      },
      o, FindingKind::kCircularDependency);
  DoTest(
      "chain cached mixed R-L/L-W ABBA", FAILURE,
      [](Selftest& s) {
        s.RL("X1");
        s.L("Y1");
        s.U("Y1");
        s.RU("X1");
        s.L("Y1");
        s.RL("X1");
        s.RU("X1");
        s.U("Y1");
        s.L("Y1");
        s.WL("X1");
        s.WU("X1");
        s.U("Y1");
      },
      o, FindingKind::kCircularDependency);
}

// rlock W1R2/W2R3/W3R1 and friends: strong and not-strong cycles through
// recursive readers (DO_TESTCASE_6x1RRB / 6x1RR).
TEST(LockingSelftest, RecursiveReadCycles) {
  struct Fam {
    const char* name;
    bool expected;
    Events ev;
  };
  const Fam fams[] = {
      {"rlock W1R2/W2R3/W3R1",
       FAILURE,
       {[](Selftest& s) {
          s.WL("X1");
          s.RL("Y1");
          s.RU("Y1");
          s.WU("X1");
        },
        [](Selftest& s) {
          s.WL("Y1");
          s.RL("Z1");
          s.RU("Z1");
          s.WU("Y1");
        },
        [](Selftest& s) {
          s.WL("Z1");
          s.RL("X1");
          s.RU("X1");
          s.WU("Z1");
        }}},
      {"rlock W1W2/R2R3/W3R1",
       FAILURE,
       {[](Selftest& s) {
          s.WL("X1");
          s.WL("Y1");
          s.WU("Y1");
          s.WU("X1");
        },
        [](Selftest& s) {
          s.RL("Y1");
          s.RL("Z1");
          s.RU("Z1");
          s.RU("Y1");
        },
        [](Selftest& s) {
          s.WL("Z1");
          s.RL("X1");
          s.RU("X1");
          s.WU("Z1");
        }}},
      {"rlock W1W2/R2R3/R3W1",
       SUCCESS,
       {[](Selftest& s) {
          s.WL("X1");
          s.WL("Y1");
          s.WU("Y1");
          s.WU("X1");
        },
        [](Selftest& s) {
          s.RL("Y1");
          s.RL("Z1");
          s.RU("Z1");
          s.RU("Y1");
        },
        [](Selftest& s) {
          s.RL("Z1");
          s.WL("X1");
          s.WU("X1");
          s.RU("Z1");
        }}},
      {"rlock W1R2/R2R3/W3W1",
       SUCCESS,
       {[](Selftest& s) {
          s.WL("X1");
          s.RL("Y1");
          s.RU("Y1");
          s.WU("X1");
        },
        [](Selftest& s) {
          s.RL("Y1");
          s.RL("Z1");
          s.RU("Z1");
          s.RU("Y1");
        },
        [](Selftest& s) {
          s.WL("Z1");
          s.WL("X1");
          s.WU("X1");
          s.WU("Z1");
        }}},
  };
  for (const Fam& fam : fams) {
    ForEachPermutation(fam.ev, [&](const std::string& perm, const auto& fn) {
      DoTest(std::string(fam.name) + "/" + perm, fam.expected, fn, Recursive(),
             FindingKind::kCircularDependency);
    });
  }
}

// --- irq-context families (DO_TESTCASE_2x6, 2x3, 6x6, 6x6RW, 6x2x2RW). ----

// DO_TESTCASE_3: spin and wlock fail, rlock succeeds.
bool Expected3(Type t) { return t == Type::kRlock ? SUCCESS : FAILURE; }
const Type kThreeTypes[] = {Type::kSpin, Type::kWlock, Type::kRlock};

void RunIrqFamily(const char* name,
                  const std::function<Events(Type, Irq)>& make,
                  const std::function<bool(Type)>& expected, bool soft = true,
                  const Type* types = kThreeTypes, int ntypes = 3) {
  for (Irq irq : {Irq::kHard, Irq::kSoft}) {
    if (irq == Irq::kSoft && !soft) continue;
    for (int ti = 0; ti < ntypes; ++ti) {
      const Type t = types[ti];
      const Events ev = make(t, irq);
      ForEachPermutation(ev, [&](const std::string& perm, const auto& fn) {
        DoTest(std::string(IrqName(irq)) + "-" + name + "/" + TypeName(t) +
                   "/" + perm,
               expected(t), fn, Recursive());
      });
    }
  }
}

TEST(LockingSelftest, IrqsafeFamilies) {
  // irqs-on + irq-safe-A.
  RunIrqFamily(
      "irqs-on + irq-safe-A",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqEnter(i);
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.IrqExit(i);
                },
                [=](Selftest& s) {
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                }};
      },
      Expected3);
  // safe-A + irqs-on.
  RunIrqFamily(
      "safe-A + irqs-on",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqEnter(i);
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.IrqExit(i);
                },
                [=](Selftest& s) {
                  s.IrqDisable(i);
                  s.Lock(t, "A");
                  s.IrqEnable(i);
                  s.Unlock(t, "A");
                }};
      },
      Expected3);
  // safe-A + unsafe-B #1.
  RunIrqFamily(
      "safe-A + unsafe-B #1",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.Lock(t, "A");
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                  s.Unlock(t, "A");
                },
                [=](Selftest& s) {
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.IrqExit(i);
                }};
      },
      Expected3);
  // safe-A + unsafe-B #2.
  RunIrqFamily(
      "safe-A + unsafe-B #2",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqDisable(i);
                  s.Lock(t, "A");
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                  s.Unlock(t, "A");
                  s.IrqEnable(i);
                },
                [=](Selftest& s) {
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.IrqExit(i);
                }};
      },
      Expected3);
}

TEST(LockingSelftest, SirqSafeThenHirqsOn) {
  // irqsafe2A: a softirq-safe lock held while hardirqs are enabled.
  for (Type t : kThreeTypes) {
    const Events ev = {[=](Selftest& s) {
                         s.IrqEnter(Irq::kSoft);
                         s.Lock(t, "A");
                         s.Unlock(t, "A");
                         s.IrqExit(Irq::kSoft);
                       },
                       [=](Selftest& s) {
                         s.IrqDisable(Irq::kHard);
                         s.Lock(t, "A");
                         s.IrqEnable(Irq::kHard);
                         s.Unlock(t, "A");
                       }};
    ForEachPermutation(ev, [&](const std::string& perm, const auto& fn) {
      DoTest(std::string("sirq-safe-A => hirqs-on/") + TypeName(t) + "/" + perm,
             Expected3(t), fn, Recursive(),
             FindingKind::kInconsistentLockState);
    });
  }
}

TEST(LockingSelftest, IrqLockInversion) {
  // A is read in the interrupt, write-held with B nested outside it.
  RunIrqFamily(
      "irq lock-inversion",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqDisable(i);
                  s.WL("A");
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                  s.WU("A");
                  s.IrqEnable(i);
                },
                [=](Selftest& s) {
                  s.Lock(t, "B");
                  s.Unlock(t, "B");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.RL("A");
                  s.RU("A");
                  s.IrqExit(i);
                }};
      },
      Expected3);
}

const Type kRwTypes[] = {Type::kWlock, Type::kRlock};

TEST(LockingSelftest, IrqReadRecursion) {
  // DO_TESTCASE_2RW: wlock fails, rlock succeeds.
  auto expected = [](Type t) { return t == Type::kRlock ? SUCCESS : FAILURE; };
  RunIrqFamily(
      "irq read-recursion",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqDisable(i);
                  s.WL("A");
                  s.WU("A");
                  s.IrqEnable(i);
                },
                [=](Selftest& s) {
                  s.RL("A");
                  s.RU("A");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.Lock(t, "A");
                  s.L("B");
                  s.U("B");
                  s.Unlock(t, "A");
                  s.IrqExit(i);
                }};
      },
      expected, true, kRwTypes, 2);
  RunIrqFamily(
      "irq read-recursion #2",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqDisable(i);
                  s.L("B");
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.U("B");
                  s.IrqEnable(i);
                },
                [=](Selftest& s) {
                  s.RL("A");
                  s.RU("A");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.L("B");
                  s.U("B");
                  s.IrqExit(i);
                }};
      },
      expected, true, kRwTypes, 2);
  RunIrqFamily(
      "irq read-recursion #3",
      [](Type t, Irq i) -> Events {
        return {[=](Selftest& s) {
                  s.IrqDisable(i);
                  s.WL("B");
                  s.Lock(t, "A");
                  s.Unlock(t, "A");
                  s.WU("B");
                  s.IrqEnable(i);
                },
                [=](Selftest& s) {
                  s.RL("A");
                  s.RU("A");
                },
                [=](Selftest& s) {
                  s.IrqEnter(i);
                  s.RL("B");
                  s.RU("B");
                  s.IrqExit(i);
                }};
      },
      expected, true, kRwTypes, 2);
}

// --- queued read lock tests (force_read_lock_recursive = 0). ---------------

TEST(LockingSelftest, QueuedReadLock) {
  Options queued;  // queued_rwlocks, read_lock recursive only in interrupts
  DoTest(
      "hardirq read-lock/lock-read", FAILURE,
      [](Selftest& s) {
        s.IrqEnter(Irq::kHard);
        s.RL("A");
        s.L("B");
        s.U("B");
        s.RU("A");
        s.IrqExit(Irq::kHard);
        s.IrqDisable(Irq::kHard);
        s.L("B");
        s.RL("A");
        s.RU("A");
        s.U("B");
        s.IrqEnable(Irq::kHard);
      },
      queued, FindingKind::kCircularDependency);
  DoTest(
      "hardirq lock-read/read-lock", SUCCESS,
      [](Selftest& s) {
        s.IrqEnter(Irq::kHard);
        s.L("B");
        s.RL("A");
        s.RU("A");
        s.U("B");
        s.IrqExit(Irq::kHard);
        s.IrqDisable(Irq::kHard);
        s.RL("A");
        s.L("B");
        s.U("B");
        s.RU("A");
        s.IrqEnable(Irq::kHard);
      },
      queued);
  DoTest(
      "hardirq inversion", FAILURE,
      [](Selftest& s) {
        s.IrqEnter(Irq::kHard);
        s.L("B");
        s.U("B");
        s.IrqExit(Irq::kHard);
        s.IrqDisable(Irq::kHard);
        s.L("B");
        s.RL("A");
        s.RU("A");
        s.U("B");
        s.IrqEnable(Irq::kHard);
        s.RL("A");
        s.RU("A");
      },
      queued, FindingKind::kIrqInversion);
  // A task-context reader of a queued rwlock is not recursive: a second read
  // of the same class in the same task is a possible deadlock (a writer may
  // queue in between), unlike in an interrupt.
  DoTest(
      "queued task read-read", FAILURE,
      [](Selftest& s) {
        s.RL("X1");
        s.RL("X2");
        s.RU("X2");
        s.RU("X1");
      },
      queued, FindingKind::kRecursiveLocking);
}

// --- wait context tests (CONFIG_PROVE_RAW_LOCK_NESTING). --------------------

enum class Outer {
  kHardirq,
  kNotThreadedHardirq,
  kSoftirq,
  kRaw,
  kSpin,
  kMutex
};
enum class Inner { kRaw, kSpin, kMutex };

TEST(LockingSelftest, WaitContext) {
  struct Row {
    const char* name;
    Outer outer;
    bool raw, spin, mutex;  // expected for each inner
  };
  const Row rows[] = {
      {"in hardirq context", Outer::kHardirq, SUCCESS, SUCCESS, FAILURE},
      {"in hardirq context (not threaded)", Outer::kNotThreadedHardirq, SUCCESS,
       FAILURE, FAILURE},
      {"in softirq context", Outer::kSoftirq, SUCCESS, SUCCESS, FAILURE},
      {"in RAW_SPINLOCK context", Outer::kRaw, SUCCESS, FAILURE, FAILURE},
      {"in SPINLOCK context", Outer::kSpin, SUCCESS, SUCCESS, FAILURE},
      {"in MUTEX context", Outer::kMutex, SUCCESS, SUCCESS, SUCCESS},
  };
  for (const Row& r : rows) {
    for (Inner in : {Inner::kRaw, Inner::kSpin, Inner::kMutex}) {
      const bool expected = in == Inner::kRaw    ? r.raw
                            : in == Inner::kSpin ? r.spin
                                                 : r.mutex;
      Options o;
      o.threaded_hardirqs = r.outer != Outer::kNotThreadedHardirq;
      const char* iname = in == Inner::kRaw    ? "raw_spinlock"
                          : in == Inner::kSpin ? "spinlock"
                                               : "mutex";
      Selftest s(o);
      // Outer.
      switch (r.outer) {
        case Outer::kHardirq:
        case Outer::kNotThreadedHardirq:
          s.IrqEnter(Irq::kHard);
          break;
        case Outer::kSoftirq:
          s.IrqEnter(Irq::kSoft);
          break;
        case Outer::kRaw:
          s.Lock(Type::kRaw, "A");
          break;
        case Outer::kSpin:
          s.Lock(Type::kSpin, "A");
          break;
        case Outer::kMutex:
          s.Lock(Type::kMutex, "A");
          break;
      }
      const Type it = in == Inner::kRaw    ? Type::kRaw
                      : in == Inner::kSpin ? Type::kSpin
                                           : Type::kMutex;
      s.Lock(it, "B");
      s.Unlock(it, "B");
      switch (r.outer) {
        case Outer::kHardirq:
        case Outer::kNotThreadedHardirq:
          s.IrqExit(Irq::kHard);
          break;
        case Outer::kSoftirq:
          s.IrqExit(Irq::kSoft);
          break;
        case Outer::kRaw:
          s.Unlock(Type::kRaw, "A");
          break;
        case Outer::kSpin:
          s.Unlock(Type::kSpin, "A");
          break;
        case Outer::kMutex:
          s.Unlock(Type::kMutex, "A");
          break;
      }
      const std::string name = std::string(r.name) + "/" + iname;
      if (expected == SUCCESS) {
        EXPECT_FALSE(s.has(FindingKind::kInvalidWaitContext))
            << name << ": " << s.kinds();
        EXPECT_FALSE(s.lockdep_failed()) << name << ": " << s.kinds();
      } else {
        EXPECT_TRUE(s.has(FindingKind::kInvalidWaitContext))
            << name << ": " << s.kinds();
      }
    }
  }
}

TEST(LockingSelftest, WaitContextWithoutProveRawLockNesting) {
  // Without CONFIG_PROVE_RAW_LOCK_NESTING, LD_WAIT_CONFIG is LD_WAIT_SPIN on
  // !RT: spinlock_t under a raw spinlock is not reported, a mutex still is.
  ctx::Config c;
  c.prove_raw_lock_nesting = false;
  {
    Selftest s(Options(), c);
    s.Lock(Type::kRaw, "A");
    s.Lock(Type::kSpin, "B");
    s.Unlock(Type::kSpin, "B");
    s.Unlock(Type::kRaw, "A");
    EXPECT_FALSE(s.has(FindingKind::kInvalidWaitContext)) << s.kinds();
  }
  {
    Options o;
    o.threaded_hardirqs = false;
    Selftest s(o, c);
    s.IrqEnter(Irq::kHard);
    s.Lock(Type::kSpin, "B");
    s.Unlock(Type::kSpin, "B");
    s.IrqExit(Irq::kHard);
    EXPECT_FALSE(s.has(FindingKind::kInvalidWaitContext)) << s.kinds();
  }
}

// --- local_lock tests. -------------------------------------------------------

TEST(LockingSelftest, LocalLock) {
  DoTest("local_lock inversion  2", SUCCESS, [](Selftest& s) {
    local_lock(s.local_A(), "selftest");  // IRQ-ON
    local_unlock(s.local_A(), "selftest");
    s.IrqEnter(Irq::kHard);
    s.L("A");  // IN-IRQ
    s.U("A");
    s.IrqExit(Irq::kHard);
    s.IrqDisable(Irq::kHard);
    s.L("A");
    local_lock(s.local_A(), "selftest");  // IN-IRQ <-> IRQ-ON cycle, false
    local_unlock(s.local_A(), "selftest");
    s.U("A");
    s.IrqEnable(Irq::kHard);
  });
  auto head = [](Selftest& s) {
    local_lock(s.local_A(), "selftest");  // IRQ-ON
    s.L("B");                             // IRQ-ON
    s.U("B");
    local_unlock(s.local_A(), "selftest");
    s.IrqEnter(Irq::kHard);
    s.L("A");  // IN-IRQ
    s.U("A");
    s.IrqExit(Irq::kHard);
    s.IrqDisable(Irq::kHard);
    s.L("A");
    local_lock(s.local_A(), "selftest");  // a cycle only via local_lock
    local_unlock(s.local_A(), "selftest");
    s.U("A");
    s.IrqEnable(Irq::kHard);
  };
  DoTest("local_lock inversion 3A", SUCCESS, head);
  DoTest(
      "local_lock inversion 3B", FAILURE,
      [&](Selftest& s) {
        head(s);
        s.IrqDisable(Irq::kHard);
        s.L("A");
        s.L("B");  // IN-IRQ <-> IRQ-ON cycle, true
        s.U("B");
        s.U("A");
        s.IrqEnable(Irq::kHard);
      },
      Options(), FindingKind::kIrqSafeToUnsafe);
}

TEST(LockingSelftest, HardirqUnsafeSoftirqSafe) {
  DoTest(
      "hardirq_unsafe_softirq_safe", FAILURE,
      [](Selftest& s) {
        // mutex_A is hardirq-unsafe and softirq-unsafe; mutex_A -> lock_C.
        s.Lock(Type::kMutex, "A");
        s.IrqDisable(Irq::kHard);
        s.L("C");
        s.U("C");
        s.IrqEnable(Irq::kHard);
        s.Unlock(Type::kMutex, "A");
        // lock_A is hardirq-safe.
        s.IrqEnter(Irq::kHard);
        s.L("A");
        s.U("A");
        s.IrqExit(Irq::kHard);
        // lock_A -> lock_B.
        s.IrqDisable(Irq::kHard);
        s.L("A");
        s.L("B");
        s.U("B");
        s.U("A");
        s.IrqEnable(Irq::kHard);
        // lock_B -> lock_C.
        s.IrqDisable(Irq::kHard);
        s.L("B");
        s.L("C");
        s.U("C");
        s.U("B");
        s.IrqEnable(Irq::kHard);
        // lock_D is softirq-safe.
        s.IrqEnter(Irq::kSoft);
        s.L("D");
        s.U("D");
        s.IrqExit(Irq::kSoft);
        // And lock_D is hardirq-unsafe.
        s.IrqDisable(Irq::kSoft);
        s.L("D");
        s.U("D");
        s.IrqEnable(Irq::kSoft);
        // mutex_A -> lock_C -> lock_D: softirq-unsafe -> softirq-safe, fine;
        // lock_A -> lock_B -> lock_C -> lock_D: hardirq-safe -> hardirq-unsafe.
        s.IrqDisable(Irq::kHard);
        s.L("C");
        s.L("D");
        s.U("D");
        s.U("C");
        s.IrqEnable(Irq::kHard);
      },
      Options(), FindingKind::kIrqSafeToUnsafe);
}

// --- fs_reclaim tests (lock_map based). -------------------------------------

TEST(LockingSelftest, FsReclaim) {
  // fs_reclaim_acquire(GFP_KERNEL); might_alloc(GFP_KERNEL) is recursion on
  // the fs_reclaim map; GFP_NOFS does not take the map.
  {
    Selftest s;
    LockdepMap fs(s.kernel(), "fs_reclaim");
    lock_map_acquire(fs, "fs_reclaim_acquire");
    lock_map_release(fs, "fs_reclaim_release");  // might_alloc(GFP_NOFS)
    EXPECT_EQ(s.kernel().findings().size(), 0u) << s.kinds();
  }
  {
    Selftest s;
    LockdepMap fs(s.kernel(), "fs_reclaim");
    LockdepMap fs2(s.kernel(), "fs_reclaim");
    lock_map_acquire(fs, "fs_reclaim_acquire");
    lock_map_acquire(fs2, "might_alloc");
    lock_map_release(fs2, "might_alloc");
    lock_map_release(fs, "fs_reclaim_release");
    EXPECT_TRUE(s.has(FindingKind::kRecursiveLocking)) << s.kinds();
  }
}

}  // namespace
}  // namespace reentry::lockdep
