#include "allocator/triage/discipline.h"

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "allocator/base/check.h"
#include "allocator/base/fixed_vector.h"
#include "allocator/ctx/kernel.h"
#include "allocator/mm/mm.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/validate.h"

namespace reentry::triage {
namespace {

using ctx::ContextKind;
using namespace ::reentry::gfp;  // NOLINT: kernel spelling
using prog::LockVerb;
using prog::Op;

// Folds every vCPU argument of a plain op into 0..nr-1.
struct CpuFolder {
  int nr;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if constexpr (std::is_same_v<F, prog::CpuArg>) {
      f.v = static_cast<uint8_t>(f.v % nr);
    }
  }
  template <typename F>
  void Optional(F& f, F) {
    Arg(f);
  }
};

void FoldCpus(std::vector<Op>& ops, int nr) {
  for (Op& op : ops) {
    std::visit(
        [&](auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, prog::Interrupt>) {
            FoldCpus(o.body, nr);
          } else {
            CpuFolder folder{nr};
            prog::VisitFields(o, folder);
          }
        },
        op.v);
  }
}

// The lock classes the allocator model itself registers (built once).
const std::set<std::string>& ModelLockClasses() {
  static const std::set<std::string>* classes = [] {
    auto* out = new std::set<std::string>();
    ctx::Kernel kernel{ctx::Config{}};
    mm::Mm model(kernel, BugSet{});
    for (size_t i = 0; i < kernel.nr_lock_classes(); ++i) {
      out->insert(kernel.lock_class(static_cast<ctx::LockClassId>(i)).name);
    }
    return out;
  }();
  return *classes;
}

// ======================= Caller discipline =======================

// An open section a frame must close, innermost last.
enum class ScopeKind : uint8_t {
  kIrqSave,     // local_irq_save (also local_irq_disable where irqs are off)
  kIrqDisable,  // local_irq_disable with irqs on
  kBh,          // local_bh_disable
  kPreempt,     // preempt_disable
  kMigrate,     // migrate_disable
  kNofs,        // memalloc_nofs_save
  kLock,        // a test lock held
};

struct Scope {
  ScopeKind kind;
  bool from_disable = false;  // kIrqSave standing for local_irq_disable
  int lock = -1;              // kLock: the test lock
  ctx::LockType type = ctx::LockType::kCount;
  bool irqs_off = false;  // kLock: the acquisition disabled hard irqs
  bool adopted = false;   // kLock: the model takes this lock too
};

// Open sections per frame: the executor keeps at most 64 saved irq states
// per vCPU (for bodies nested 4 deep on top of the task: 5 frames).
constexpr size_t kMaxScopesPerFrame = 12;

struct Frame {
  ContextKind kind = ContextKind::kTask;
  FixedVector<Scope, kMaxScopesPerFrame> scopes;  // no allocation per input

  bool Has(ScopeKind k) const {
    return std::any_of(scopes.begin(), scopes.end(),
                       [k](const Scope& s) { return s.kind == k; });
  }
  bool HardIrqsOff() const {
    if (kind == ContextKind::kHardirq || kind == ContextKind::kNmi ||
        Has(ScopeKind::kIrqSave) || Has(ScopeKind::kIrqDisable)) {
      return true;
    }
    for (const Scope& s : scopes) {
      if (s.kind == ScopeKind::kLock && s.irqs_off) return true;
    }
    return false;
  }
  bool HoldsType(ctx::LockType t) const {
    for (const Scope& s : scopes) {
      if (s.kind == ScopeKind::kLock && s.type == t) return true;
    }
    return false;
  }
  bool HoldsAdopted() const {
    for (const Scope& s : scopes) {
      if (s.kind == ScopeKind::kLock && s.adopted) return true;
    }
    return false;
  }
  bool HoldsSpinning() const {
    return HoldsType(ctx::LockType::kSpinlock) ||
           HoldsType(ctx::LockType::kRawSpinlock);
  }
  // The highest test lock index held (locks are taken in index order).
  int TopLock() const {
    int top = -1;
    for (const Scope& s : scopes) {
      if (s.kind == ScopeKind::kLock) top = std::max(top, s.lock);
    }
    return top;
  }
  // Cannot sleep: in an interrupt, or irqs, bh or preemption disabled, or a
  // spinning lock held.
  bool Atomic() const {
    return kind != ContextKind::kTask || HardIrqsOff() || Has(ScopeKind::kBh) ||
           Has(ScopeKind::kPreempt) || HoldsSpinning();
  }
  bool CanSleep() const { return !Atomic(); }
};

class Disciplinarian {
 public:
  Disciplinarian(const prog::Program& in, DisciplineMode mode)
      : in_(in), mode_(mode), rt_(in.config.preempt_rt) {}

  prog::Program Run() {
    prog::Program out;
    out.config = in_.config;
    out.bugs = in_.bugs;
    out.locks = in_.locks;
    const int nr = std::clamp(in_.config.nr_cpus, 1, ctx::kMaxCpus);
    Frame tasks[ctx::kMaxCpus];  // no allocation per input
    // The input's ops and a few closers; more grows the vector.
    out.ops.reserve(in_.ops.size() + 8);
    int cur = 0;
    for (const Op& op : in_.ops) {
      if (const auto* sw = std::get_if<prog::SwitchCpu>(&op.v)) {
        if (!Room(1)) break;
        cur = sw->cpu.v % nr;
        Emit(out.ops, op);
        continue;
      }
      Rewrite(op, tasks[cur], cur, out.ops);
    }
    // Close what each vCPU's task left open, on that vCPU.
    for (int c = 0; c < nr; ++c) {
      if (tasks[c].scopes.empty()) continue;
      if (c != cur) {
        out.ops.push_back(prog::SwitchCpu{{static_cast<uint8_t>(c)}});
        ++emitted_;
        cur = c;
      }
      Close(tasks[c], out.ops);
    }
    return out;
  }

 private:
  // The op budget: every emitted op plus the closers still owed, and the
  // vCPU switches the final closing may need, stay within kMaxOps.
  bool Room(int n) const {
    return emitted_ + open_ + n + in_.config.nr_cpus <= prog::kMaxOps;
  }
  void Emit(std::vector<Op>& out, Op op) {
    out.push_back(std::move(op));
    ++emitted_;
  }
  void Open(Frame& f, std::vector<Op>& out, Op op, Scope s) {
    if (!Room(2) || f.scopes.full()) return;
    Emit(out, std::move(op));
    const bool pushed = f.scopes.push_back(s);
    REENTRY_CHECK(pushed);
    ++open_;
  }
  // Emits the closer of the innermost scope if it is of kind k.
  bool CloseTop(Frame& f, std::vector<Op>& out, ScopeKind k, Op closer) {
    if (f.scopes.empty() || f.scopes.back().kind != k) return false;
    f.scopes.pop_back();
    --open_;
    Emit(out, std::move(closer));
    return true;
  }
  void Close(Frame& f, std::vector<Op>& out) {
    while (!f.scopes.empty()) {
      const Scope s = f.scopes.back();
      f.scopes.pop_back();
      --open_;
      switch (s.kind) {
        case ScopeKind::kIrqSave:
          Emit(out, prog::LocalIrqRestore{});
          break;
        case ScopeKind::kIrqDisable:
          Emit(out, prog::LocalIrqEnable{});
          break;
        case ScopeKind::kBh:
          Emit(out, prog::LocalBhEnable{});
          break;
        case ScopeKind::kPreempt:
          Emit(out, prog::PreemptEnable{});
          break;
        case ScopeKind::kMigrate:
          Emit(out, prog::MigrateEnable{});
          break;
        case ScopeKind::kNofs:
          Emit(out, prog::MemallocNofsRestore{});
          break;
        case ScopeKind::kLock:
          Emit(out, prog::LockCall{
                        ReleaseOf(s.type), {static_cast<uint8_t>(s.lock)}, 0});
          break;
      }
    }
  }

  // Only the nolock API is allowed: NMI; on PREEMPT_RT also hardirq and any
  // hard-atomic section (spinlock_t sleeps there).
  bool NolockOnly(const Frame& f) const {
    if (f.kind == ContextKind::kNmi) return true;
    // spinlock_t (zone->lock, pcp->lock) under a raw spinlock: an invalid
    // wait context with CONFIG_PROVE_RAW_LOCK_NESTING, a sleeping lock in
    // atomic context on PREEMPT_RT.
    if (f.HoldsType(ctx::LockType::kRawSpinlock) &&
        (rt_ || in_.config.prove_raw_lock_nesting)) {
      return true;
    }
    if (!rt_) return false;
    // bh-disabled task code is preemptible on PREEMPT_RT: the ordinary API
    // is allowed there. Softirqs are not: RT runs them in threads, while the
    // executor nests a softirq() body on the vCPU it interrupts, inside
    // whatever the task holds (zone->lock, the memcg stock's local_lock) or
    // with preemption off, which RT never does; with the ordinary API there
    // a campaign reported spinlock recursion and sleeping in atomic on RT
    // that no RT kernel can have. Softirq bodies use the nolock API on RT.
    if (f.kind == ContextKind::kSoftirq) return true;
    return f.kind == ContextKind::kHardirq || f.HardIrqsOff() ||
           f.Has(ScopeKind::kPreempt);
  }
  bool Strict() const { return mode_ == DisciplineMode::kCaller; }
  // The executor's softirq on PREEMPT_RT (see NolockOnly) is not what an RT
  // kernel runs, whatever the caller passes: the gfp target too gives its
  // softirq bodies the nolock API there, keeping the input's gfp (which
  // alloc_pages_nolock() must cope with).
  bool RtSoftirq(const Frame& f) const {
    return rt_ && f.kind == ContextKind::kSoftirq;
  }

  void Rewrite(const Op& op, Frame& f, int cpu, std::vector<Op>& out) {
    std::visit([&](const auto& o) { RewriteOp(o, f, cpu, out); }, op.v);
  }

  // --- Context control ---
  void RewriteOp(const prog::SwitchCpu&, Frame&, int, std::vector<Op>&) {
    // Only at top level (handled in Run); never inside a body.
  }
  void RewriteOp(const prog::LocalIrqDisable&, Frame& f, int,
                 std::vector<Op>& out) {
    if (f.HardIrqsOff()) {
      // Nested disable: the matching enable must not turn irqs back on.
      Open(f, out, prog::LocalIrqSave{}, {ScopeKind::kIrqSave, true});
    } else {
      Open(f, out, prog::LocalIrqDisable{}, {ScopeKind::kIrqDisable});
    }
  }
  void RewriteOp(const prog::LocalIrqEnable&, Frame& f, int,
                 std::vector<Op>& out) {
    if (f.scopes.empty()) return;
    const Scope top = f.scopes.back();
    if (top.kind == ScopeKind::kIrqDisable) {
      CloseTop(f, out, ScopeKind::kIrqDisable, prog::LocalIrqEnable{});
    } else if (top.kind == ScopeKind::kIrqSave && top.from_disable) {
      CloseTop(f, out, ScopeKind::kIrqSave, prog::LocalIrqRestore{});
    }
  }
  void RewriteOp(const prog::LocalIrqSave&, Frame& f, int,
                 std::vector<Op>& out) {
    Open(f, out, prog::LocalIrqSave{}, {ScopeKind::kIrqSave});
  }
  void RewriteOp(const prog::LocalIrqRestore&, Frame& f, int,
                 std::vector<Op>& out) {
    if (!f.scopes.empty() && f.scopes.back().kind == ScopeKind::kIrqSave &&
        !f.scopes.back().from_disable) {
      CloseTop(f, out, ScopeKind::kIrqSave, prog::LocalIrqRestore{});
    }
  }
  void RewriteOp(const prog::LocalBhDisable&, Frame& f, int,
                 std::vector<Op>& out) {
    // local_bh_enable() warns in hardirq or with irqs off; opening the
    // section where that holds keeps its close valid (sections nest).
    if (f.kind == ContextKind::kHardirq || f.kind == ContextKind::kNmi ||
        f.HardIrqsOff()) {
      return;
    }
    if (rt_ && f.Has(ScopeKind::kPreempt)) return;  // a sleeping lock on RT
    Open(f, out, prog::LocalBhDisable{}, {ScopeKind::kBh});
  }
  void RewriteOp(const prog::LocalBhEnable&, Frame& f, int,
                 std::vector<Op>& out) {
    CloseTop(f, out, ScopeKind::kBh, prog::LocalBhEnable{});
  }
  void RewriteOp(const prog::PreemptDisable&, Frame& f, int,
                 std::vector<Op>& out) {
    Open(f, out, prog::PreemptDisable{}, {ScopeKind::kPreempt});
  }
  void RewriteOp(const prog::PreemptEnable&, Frame& f, int,
                 std::vector<Op>& out) {
    CloseTop(f, out, ScopeKind::kPreempt, prog::PreemptEnable{});
  }
  void RewriteOp(const prog::MigrateDisable&, Frame& f, int,
                 std::vector<Op>& out) {
    Open(f, out, prog::MigrateDisable{}, {ScopeKind::kMigrate});
  }
  void RewriteOp(const prog::MigrateEnable&, Frame& f, int,
                 std::vector<Op>& out) {
    CloseTop(f, out, ScopeKind::kMigrate, prog::MigrateEnable{});
  }
  void RewriteOp(const prog::MightSleep& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (f.CanSleep() && Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::MemallocNofsSave&, Frame& f, int,
                 std::vector<Op>& out) {
    if (f.kind != ContextKind::kTask) return;
    Open(f, out, prog::MemallocNofsSave{}, {ScopeKind::kNofs});
  }
  void RewriteOp(const prog::MemallocNofsRestore&, Frame& f, int,
                 std::vector<Op>& out) {
    CloseTop(f, out, ScopeKind::kNofs, prog::MemallocNofsRestore{});
  }

  // --- Interrupts and pauses ---
  void RewriteOp(const prog::Interrupt& irq, Frame&, int cpu,
                 std::vector<Op>& out) {
    if (!Room(1)) return;
    // rtlock_slowlock() holds the rtmutex's wait_lock with irqs off
    // (raw_spin_lock_irqsave): only an NMI arrives at rt_spin_lock:wait_lock.
    // The model's lock leaves irqs as they were there, and a softirq body
    // at that point trylocked the zone->lock its own vCPU was waiting for.
    if (irq.at.v == ctx::PointId::kRtSpinLockWaitLock &&
        irq.kind != ContextKind::kNmi) {
      return;
    }
    prog::Interrupt copy;
    copy.kind = irq.kind;
    copy.at = irq.at;
    ++emitted_;  // the interrupt op itself
    Frame body;
    body.kind = irq.kind;
    copy.body.reserve(irq.body.size() + 4);
    for (const Op& op : irq.body) Rewrite(op, body, cpu, copy.body);
    Close(body, copy.body);
    out.push_back(std::move(copy));
  }
  void RewriteOp(const prog::Pause& o, Frame&, int, std::vector<Op>& out) {
    if (Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::PauseAgain& o, Frame&, int, std::vector<Op>& out) {
    if (Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::Resume& o, Frame&, int, std::vector<Op>& out) {
    if (Room(1)) Emit(out, o);
  }

  // --- Test locks ---
  // A correct caller's own locks: spinlock_t and raw_spinlock_t taken with
  // the irqsave forms (nothing the model runs in an interrupt can then land
  // inside them), mutexes where sleeping is allowed; only in task context;
  // always in declaration order (no cycle among them); released in LIFO
  // order. A lock whose class is one of the model's own is not usable,
  // except those the model adopts (the console driver's &port->lock, the
  // scheduler's &rq->__lock and &p->pi_lock).
  static prog::LockVerb AcquireOf(ctx::LockType t) {
    switch (t) {
      case ctx::LockType::kRawSpinlock:
        return LockVerb::kRawSpinLockIrqsave;
      case ctx::LockType::kMutex:
        return LockVerb::kMutexLock;
      default:
        return LockVerb::kSpinLockIrqsave;
    }
  }
  static prog::LockVerb ReleaseOf(ctx::LockType t) {
    switch (t) {
      case ctx::LockType::kRawSpinlock:
        return LockVerb::kRawSpinUnlockIrqrestore;
      case ctx::LockType::kMutex:
        return LockVerb::kMutexUnlock;
      default:
        return LockVerb::kSpinUnlockIrqrestore;
    }
  }
  enum class LockUse { kNone, kOwn, kAdopted };
  LockUse Usable(int lock) const {
    if (lock < 0 || lock >= static_cast<int>(in_.locks.size())) {
      return LockUse::kNone;
    }
    const prog::LockDecl& d = in_.locks[lock];
    if (d.type != ctx::LockType::kSpinlock &&
        d.type != ctx::LockType::kRawSpinlock &&
        d.type != ctx::LockType::kMutex) {
      return LockUse::kNone;
    }
    const std::string& cls = d.class_name.empty() ? d.name : d.class_name;
    if ((cls == "&port->lock" && d.type == ctx::LockType::kSpinlock) ||
        ((cls == "&rq->__lock" || cls == "&p->pi_lock") &&
         d.type == ctx::LockType::kRawSpinlock)) {
      return LockUse::kAdopted;
    }
    // Another test lock of the same class (as a lock class keeps its name)
    // would be recursive locking.
    const std::string_view kept = ctx::LockClassName(cls);
    for (size_t i = 0; i < in_.locks.size(); ++i) {
      const prog::LockDecl& o = in_.locks[i];
      if (static_cast<int>(i) != lock &&
          ctx::LockClassName(o.class_name.empty() ? o.name : o.class_name) ==
              kept) {
        return LockUse::kNone;
      }
    }
    return ModelLockClasses().count(cls) ? LockUse::kNone : LockUse::kOwn;
  }
  void RewriteOp(const prog::LockCall& o, Frame& f, int, std::vector<Op>& out) {
    if (!Strict() || f.kind != ContextKind::kTask) return;
    const int lock = o.lock.v;
    const LockUse use = Usable(lock);
    if (use == LockUse::kNone) return;
    const ctx::LockType type = in_.locks[lock].type;
    const bool is_release =
        !f.scopes.empty() && f.scopes.back().kind == ScopeKind::kLock &&
        f.scopes.back().lock == lock &&
        (o.verb == ReleaseOf(type) || IsReleaseVerb(o.verb));
    if (is_release) {
      CloseTop(f, out, ScopeKind::kLock,
               prog::LockCall{ReleaseOf(type), {o.lock.v}, 0});
      return;
    }
    if (!IsAcquireVerb(o.verb)) return;
    if (lock <= f.TopLock()) return;  // out of order or already held
    if (type == ctx::LockType::kMutex && !f.CanSleep()) return;
    if (type == ctx::LockType::kSpinlock && rt_ && NolockOnly(f)) return;
    // spinlock_t under a raw spinlock: an invalid wait context with
    // CONFIG_PROVE_RAW_LOCK_NESTING (a sleeping lock on PREEMPT_RT).
    if (type == ctx::LockType::kSpinlock &&
        f.HoldsType(ctx::LockType::kRawSpinlock) &&
        (rt_ || in_.config.prove_raw_lock_nesting)) {
      return;
    }
    // Adopted locks: the model takes them inside printk and wake-ups, with
    // none of the program's locks held. The caller takes no lock while it
    // holds one: its own lock nested inside, then held on another path
    // across an allocation that wakes kswapd or warns, would close a cycle
    // of the program's own making (a 10-minute campaign found 10 such).
    if (f.HoldsAdopted()) return;
    Scope s{ScopeKind::kLock};
    s.lock = lock;
    s.type = type;
    s.irqs_off = type == ctx::LockType::kRawSpinlock ||
                 (type == ctx::LockType::kSpinlock && !rt_);
    s.adopted = use == LockUse::kAdopted;
    Open(f, out, prog::LockCall{AcquireOf(type), {o.lock.v}, 0}, s);
  }
  static bool IsReleaseVerb(prog::LockVerb v) {
    switch (v) {
      case LockVerb::kRawSpinUnlock:
      case LockVerb::kRawSpinUnlockIrqrestore:
      case LockVerb::kRawSpinUnlockIrq:
      case LockVerb::kSpinUnlock:
      case LockVerb::kSpinUnlockIrqrestore:
      case LockVerb::kSpinUnlockIrq:
      case LockVerb::kSpinUnlockBh:
      case LockVerb::kMutexUnlock:
        return true;
      default:
        return false;
    }
  }
  static bool IsAcquireVerb(prog::LockVerb v) {
    switch (v) {
      case LockVerb::kRawSpinLock:
      case LockVerb::kRawSpinLockIrqsave:
      case LockVerb::kRawSpinLockIrq:
      case LockVerb::kSpinLock:
      case LockVerb::kSpinLockIrqsave:
      case LockVerb::kSpinLockIrq:
      case LockVerb::kSpinLockBh:
      case LockVerb::kMutexLock:
        return true;
      default:
        return false;
    }
  }
  void RewriteOp(const prog::RegisterShrinker& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Strict() || Usable(o.lock.v) != LockUse::kOwn) return;
    SleepingCall(o, f, out);
  }

  // --- Allocator ---
  void RewriteOp(const prog::AllocPages& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Room(1)) return;
    if (!Strict()) {
      if (RtSoftirq(f)) {
        Emit(out, prog::AllocPagesNolock{o.slot, o.gfp, o.order});
      } else {
        Emit(out, o);
      }
      return;
    }
    if (NolockOnly(f)) {
      Emit(out,
           prog::AllocPagesNolock{o.slot, {o.gfp.v & __GFP_ACCOUNT}, o.order});
      return;
    }
    prog::AllocPages a = o;
    a.gfp.v = AdoptedGfp(f, CorrectCallerGfp(o.gfp.v, o.order.v, f.CanSleep()));
    Emit(out, a);
  }
  // Under a lock the model takes in printk (&port->lock) an allocation must
  // not warn (warn_alloc prints); under the scheduler's locks it must not
  // wake kswapd (try_to_wake_up takes them).
  gfp_t AdoptedGfp(const Frame& f, gfp_t g) const {
    for (const Scope& s : f.scopes) {
      if (s.kind != ScopeKind::kLock || !s.adopted) continue;
      g |= __GFP_NOWARN;
      if (s.type == ctx::LockType::kRawSpinlock) g &= ~__GFP_RECLAIM;
    }
    return g;
  }
  void RewriteOp(const prog::FreePages& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Room(1)) return;
    if ((Strict() && NolockOnly(f)) || RtSoftirq(f)) {
      Emit(out, prog::FreePagesNolock{o.slot});
      return;
    }
    // A correct caller frees with the order it allocated with.
    Emit(out, prog::FreePages{o.slot});
  }
  void RewriteOp(const prog::AllocPagesNolock& o, Frame&, int,
                 std::vector<Op>& out) {
    if (!Room(1)) return;
    // Any gfp: alloc_pages_nolock() must itself cope with a caller passing
    // more than __GFP_ACCOUNT (it warns; BZ-28a is what happens when it
    // honours __GFP_HIGH).
    Emit(out, o);
  }
  void RewriteOp(const prog::FreePagesNolock& o, Frame&, int,
                 std::vector<Op>& out) {
    if (Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::AllocPagesBulk& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Room(1)) return;
    if (!Strict()) {
      if (!RtSoftirq(f)) Emit(out, o);
      return;
    }
    if (NolockOnly(f)) return;
    prog::AllocPagesBulk a = o;
    a.gfp.v = AdoptedGfp(f, CorrectCallerGfp(o.gfp.v, 0, f.CanSleep()));
    Emit(out, a);
  }

  // Task context that may sleep (GUP, hotplug, CMA, reclaim, setup).
  template <typename T>
  void SleepingCall(const T& o, Frame& f, std::vector<Op>& out) {
    if (!Strict()) return;  // the gfp target keeps allocation calls only
    if (f.kind == ContextKind::kTask && f.CanSleep() && Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::PinPage& o, Frame& f, int, std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::UnpinPage& o, Frame& f, int,
                 std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::BuildAllZonelists& o, Frame& f, int,
                 std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::OfflinePages& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (offline_pages_ >= kMaxOfflinePages) return;
    const size_t before = out.size();
    SleepingCall(o, f, out);
    offline_pages_ += static_cast<int>(out.size() - before);
  }
  void RewriteOp(const prog::DrainAllPages& o, Frame& f, int,
                 std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::CpuOffline& o, Frame& f, int cpu,
                 std::vector<Op>& out) {
    // page_alloc_cpu_dead() runs on a surviving CPU for a dead one.
    if (o.cpu.v == cpu) return;
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::FailPageAlloc& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (f.kind == ContextKind::kTask && Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::CmaAlloc& o, Frame& f, int, std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::CmaRelease& o, Frame& f, int,
                 std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  void RewriteOp(const prog::KswapdRun& o, Frame& f, int,
                 std::vector<Op>& out) {
    SleepingCall(o, f, out);
  }
  // Task context, possibly atomic, never where only nolock is allowed.
  void RewriteOp(const prog::DrainLocalPages& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Strict() || f.HoldsAdopted()) return;
    if (f.kind == ContextKind::kTask && !NolockOnly(f) && Room(1)) {
      Emit(out, o);
    }
  }
  void RewriteOp(const prog::KvfreeRcu& o, Frame& f, int,
                 std::vector<Op>& out) {
    if (!Strict() || f.HoldsAdopted()) return;
    if (!NolockOnly(f) && Room(1)) Emit(out, o);
  }
  void RewriteOp(const prog::Printk& o, Frame& f, int, std::vector<Op>& out) {
    if (!Strict() || f.HoldsAdopted()) return;
    if (f.kind != ContextKind::kNmi && Room(1)) Emit(out, o);
  }

  const prog::Program& in_;
  DisciplineMode mode_;
  bool rt_;
  int emitted_ = 0;
  int open_ = 0;
  // Memory offline is the costliest op (it isolates and migrates a whole
  // memory block: up to a millisecond each in a fuzz build, where a typical
  // input takes 0.1 ms), and offline_pages() retries the highest online
  // block the same way after a failure. A budget per program keeps
  // mutations that repeat it from slowing the campaign down; 8 of the
  // model's 12 blocks still cover BZ-26 (5) and offlining most memory.
  static constexpr int kMaxOfflinePages = 8;
  int offline_pages_ = 0;
};

// ========================= Lock ops only =========================

bool KeepForChecker(const Op& op) {
  return std::visit(
      [](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        return std::is_same_v<T, prog::SwitchCpu> ||
               std::is_same_v<T, prog::LocalIrqDisable> ||
               std::is_same_v<T, prog::LocalIrqEnable> ||
               std::is_same_v<T, prog::LocalIrqSave> ||
               std::is_same_v<T, prog::LocalIrqRestore> ||
               std::is_same_v<T, prog::LocalBhDisable> ||
               std::is_same_v<T, prog::LocalBhEnable> ||
               std::is_same_v<T, prog::PreemptDisable> ||
               std::is_same_v<T, prog::PreemptEnable> ||
               std::is_same_v<T, prog::MigrateDisable> ||
               std::is_same_v<T, prog::MigrateEnable> ||
               std::is_same_v<T, prog::MightSleep> ||
               std::is_same_v<T, prog::Interrupt> ||
               std::is_same_v<T, prog::Pause> ||
               std::is_same_v<T, prog::PauseAgain> ||
               std::is_same_v<T, prog::Resume> ||
               std::is_same_v<T, prog::LockCall>;
      },
      op.v);
}

void FilterLockOps(std::vector<Op>& ops) {
  std::vector<Op> kept;
  kept.reserve(ops.size());
  for (Op& op : ops) {
    if (!KeepForChecker(op)) continue;
    if (auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
      FilterLockOps(irq->body);
    }
    kept.push_back(std::move(op));
  }
  ops = std::move(kept);
}

}  // namespace

prog::Program ApplyCampaignConfig(prog::Program p, const TargetOptions& o) {
  p.bugs = o.bugs_from_input ? BugSet::FromBits(p.bugs.bits() | o.bugs.bits())
                             : o.bugs;
  ctx::Config& c = p.config;
  if (o.rt) c.preempt_rt = *o.rt;
  if (o.preempt_count) c.preempt_count = *o.preempt_count;
  if (o.prove_raw_lock_nesting) {
    c.prove_raw_lock_nesting = *o.prove_raw_lock_nesting;
  }
  if (o.nolock) c.nolock_design = *o.nolock;
  if (o.up) c.smp = !*o.up;
  if (o.cpus > 0) {
    c.nr_cpus = o.cpus;
  } else {
    const int max = std::clamp(o.max_cpus, 1, ctx::kMaxCpus);
    c.nr_cpus = 1 + (std::max(c.nr_cpus, 1) - 1) % max;
  }
  if (!c.smp) c.nr_cpus = 1;
  FoldCpus(p.ops, c.nr_cpus);
  return p;
}

gfp_t CorrectCallerGfp(gfp_t g, int order, bool can_sleep) {
  g &= kAllBits;
  g &= ~(__GFP_TRYLOCK | __GFP_NOLOCKDEP);
  // One zone modifier (GFP_ZONE_BAD otherwise); __GFP_MOVABLE may pair with
  // __GFP_HIGHMEM only.
  const gfp_t zone =
      g & (__GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE);
  const gfp_t zone_ok[] = {
      0,           __GFP_DMA,     __GFP_HIGHMEM,
      __GFP_DMA32, __GFP_MOVABLE, __GFP_HIGHMEM | __GFP_MOVABLE};
  if (std::find(std::begin(zone_ok), std::end(zone_ok), zone) ==
      std::end(zone_ok)) {
    g &= ~(__GFP_DMA | __GFP_DMA32);
    if ((g & __GFP_MOVABLE) && (g & __GFP_HIGHMEM)) {
      // already fine
    }
  }
  // __GFP_RECLAIMABLE and __GFP_MOVABLE together are no migratetype.
  if ((g & __GFP_RECLAIMABLE) && (g & __GFP_MOVABLE)) g &= ~__GFP_RECLAIMABLE;
  if (g & __GFP_NOMEMALLOC) g &= ~__GFP_MEMALLOC;
  if (!can_sleep) g &= ~__GFP_DIRECT_RECLAIM;
  // No __GFP_NOFAIL. A program keeps the memory it allocates, and when it
  // has used up memory and the reserves (and OOM cannot free any: its pages
  // are kernel allocations), a __GFP_NOFAIL allocation loops for ever in
  // the kernel as in the model: a hang the caller made, not the allocator
  // (a clean campaign found one). Which allocation exhausts memory depends
  // on the whole run, so the discipline cannot keep NOFAIL only where it is
  // safe; the gfp target still uses it.
  g &= ~__GFP_NOFAIL;
  (void)order;
  if ((g & __GFP_NORETRY) && (g & __GFP_RETRY_MAYFAIL)) g &= ~__GFP_NORETRY;
  return g;
}

prog::Program CallerDiscipline(const prog::Program& p, DisciplineMode mode) {
  prog::Program out = Disciplinarian(p, mode).Run();
  std::string error;
  REENTRY_CHECK_MSG(prog::ValidateProgram(out, &error), error.c_str());
  return out;
}

prog::Program LockOpsOnly(const prog::Program& p) {
  prog::Program out = p;
  FilterLockOps(out.ops);
  return out;
}

}  // namespace reentry::triage
