#include "allocator/prog/generate.h"

#include <algorithm>
#include <array>
#include <optional>
#include <type_traits>
#include <vector>

#include "allocator/base/rng.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/fields.h"

namespace reentry::prog {
namespace {

enum class Category : uint8_t {
  kContext,    // irq/bh/preempt/migrate control, might_sleep, nofs scope
  kCpu,        // cpu(N)
  kInterrupt,  // softirq/hardirq/nmi with a body
  kPause,      // pause(POINT)
  kLock,       // lock verbs, register_shrinker
  kAlloc,      // the allocator's entry points
  kSchedule,   // pause_again(POINT), resume(POINT): multi_pauses only
  kCount
};
constexpr int kNumCategories = static_cast<int>(Category::kCount);
constexpr int kCategoryWeight[kNumCategories] = {3, 1, 2, 1, 4, 5, 1};

template <typename T, typename... U>
constexpr bool kIsOneOf = (std::is_same_v<T, U> || ...);

template <typename T>
constexpr Category CategoryOf() {
  if constexpr (std::is_same_v<T, SwitchCpu>) return Category::kCpu;
  if constexpr (std::is_same_v<T, Interrupt>) return Category::kInterrupt;
  if constexpr (std::is_same_v<T, Pause>) return Category::kPause;
  if constexpr (kIsOneOf<T, PauseAgain, Resume>) return Category::kSchedule;
  if constexpr (kIsOneOf<T, LockCall, RegisterShrinker>) return Category::kLock;
  if constexpr (kIsOneOf<T, LocalIrqDisable, LocalIrqEnable, LocalIrqSave,
                         LocalIrqRestore, LocalBhDisable, LocalBhEnable,
                         PreemptDisable, PreemptEnable, MigrateDisable,
                         MigrateEnable, MightSleep, MemallocNofsSave,
                         MemallocNofsRestore, Printk>) {
    return Category::kContext;
  }
  return Category::kAlloc;
}

// Op codes per category.
const std::array<std::vector<int>, kNumCategories>& CodesByCategory() {
  static const auto* const table = [] {
    auto* t = new std::array<std::vector<int>, kNumCategories>;
    ForEachOpType([&]<typename T>() {
      (*t)[static_cast<int>(CategoryOf<T>())].push_back(T::kCode);
    });
    return t;
  }();
  return *table;
}

// Masks callers really pass, drawn most of the time.
constexpr gfp_t kCommonGfp[] = {
    gfp::GFP_KERNEL,
    gfp::GFP_KERNEL | gfp::__GFP_ZERO,
    gfp::GFP_KERNEL_ACCOUNT,
    gfp::GFP_ATOMIC,
    gfp::GFP_ATOMIC | gfp::__GFP_NOWARN,
    gfp::GFP_NOWAIT,
    gfp::GFP_NOFS,
    gfp::GFP_NOIO,
    gfp::GFP_USER,
    gfp::GFP_HIGHUSER_MOVABLE,
    gfp::GFP_TRANSHUGE,
    gfp::GFP_TRANSHUGE_LIGHT,
    gfp::GFP_KERNEL | gfp::__GFP_NOFAIL,
    gfp::GFP_KERNEL | gfp::__GFP_RETRY_MAYFAIL,
    gfp::GFP_NOWAIT | gfp::__GFP_TRYLOCK,
    gfp::__GFP_HIGH,
    0,
};

class Generator {
 public:
  Generator(uint64_t seed, const GenerateOptions& options)
      : rng_(seed), options_(options) {}

  Program Run() {
    p_.config.nr_cpus = std::clamp(options_.cpus, 1, ctx::kMaxCpus);
    top_scopes_.resize(p_.config.nr_cpus);
    if (options_.lock_ops) DeclareLocks();
    Fill(p_.ops, std::clamp(options_.num_ops, 0, kMaxOps), 0);
    return std::move(p_);
  }

  // --- Field values (called by RandomFields). ---

  void Draw(CpuArg& f) { f.v = rng_.Below(p_.config.nr_cpus); }
  void Draw(LockArg& f) { f.v = rng_.Below(p_.locks.size()); }
  // Mostly a few slots, so frees and pins meet earlier allocations.
  void Draw(SlotArg& f) { f.v = rng_.Below(rng_.OneIn(4) ? kMaxSlots : 8); }
  void Draw(GfpArg& f) {
    f.v = kCommonGfp[rng_.Below(std::size(kCommonGfp))];
    if (rng_.OneIn(8)) f.v ^= gfp_t{1} << rng_.Below(26);  // one odd bit
    if (rng_.OneIn(16)) f.v = static_cast<gfp_t>(rng_.Next());
  }
  void Draw(OrderArg& f) {
    f.v = rng_.Below(rng_.OneIn(4) ? kMaxOrder + 1 : 4);
  }
  void Draw(CountArg& f) {
    f.v = rng_.OneIn(8) ? rng_.Below(256) : 1 + rng_.Below(8);
  }
  void Draw(FlagArg& f) { f.v = rng_.OneIn(2); }
  void Draw(PointArg& f) {
    f.v = static_cast<ctx::PointId>(rng_.Below(ctx::kNumPoints));
    f.nth = rng_.OneIn(4) ? 1 + rng_.Below(4) : 1;
  }
  bool OneIn(int n) { return rng_.OneIn(n); }

 private:
  // Fills every field of plain op T with a drawn value; optional fields keep
  // their default three times in four.
  template <typename T>
  struct RandomFields {
    Generator& g;
    void Result(SlotArg& f) { g.Draw(f); }
    template <typename F>
    void Arg(F& f) {
      g.Draw(f);
    }
    void Arg(GfpArg& f) {
      g.Draw(f);
      // alloc_pages_nolock takes 0 or __GFP_ACCOUNT; rarely misuse it.
      if (std::is_same_v<T, AllocPagesNolock> && !g.OneIn(8)) {
        f.v = g.OneIn(2) ? 0 : gfp::__GFP_ACCOUNT;
      }
    }
    template <typename F>
    void Optional(F& f, F def) {
      f = def;
      if (g.OneIn(4)) Arg(f);
    }
  };

  void DeclareLocks() {
    const int n = 1 + rng_.Below(std::clamp(options_.max_locks, 1, kMaxLocks));
    const auto classes = LockClassNameTable();
    for (int i = 0; i < n; ++i) {
      LockDecl d;
      d.name = DefaultLockName(i);
      d.type = static_cast<ctx::LockType>(rng_.Below(ctx::kNumLockTypes));
      d.class_name = classes[rng_.Below(classes.size())];
      p_.locks.push_back(std::move(d));
    }
  }

  bool Allowed(Category c, int depth) const {
    switch (c) {
      case Category::kContext:
        return true;
      case Category::kCpu:
        return depth == 0 && p_.config.nr_cpus > 1;
      case Category::kInterrupt:
        return options_.interrupts && depth < kMaxBodyDepth;
      case Category::kPause:
        return options_.pauses;
      case Category::kLock:
        return !p_.locks.empty();
      case Category::kAlloc:
        return options_.allocator_ops;
      case Category::kSchedule:
        return options_.multi_pauses && depth == 0;
      case Category::kCount:
        break;
    }
    return false;
  }

  Category PickCategory(int depth) {
    int total = 0;
    for (int c = 0; c < kNumCategories; ++c) {
      if (Allowed(static_cast<Category>(c), depth)) total += kCategoryWeight[c];
    }
    int pick = static_cast<int>(rng_.Below(total));
    for (int c = 0; c < kNumCategories; ++c) {
      if (!Allowed(static_cast<Category>(c), depth)) continue;
      pick -= kCategoryWeight[c];
      if (pick < 0) return static_cast<Category>(c);
    }
    return Category::kContext;
  }

  // Appends exactly `budget` ops (nested included) to ops. In balanced mode
  // a body keeps budget for the closers of the scopes it opened.
  void Fill(std::vector<Op>& ops, int budget, int depth) {
    std::vector<Op> body_scopes;  // closers owed, innermost last
    while (budget > 0) {
      std::vector<Op>& scopes = depth == 0 ? top_scopes_[cpu_] : body_scopes;
      const int owed = depth == 0 ? 0 : static_cast<int>(scopes.size());
      const int free = budget - owed;
      if (free == 0) {
        ops.push_back(Pop(scopes));
        --budget;
        continue;
      }
      const Category c = PickCategory(depth);
      if (options_.balanced &&
          (c == Category::kContext || c == Category::kLock)) {
        ops.push_back(DrawScoped(c, scopes, free));
        --budget;
        continue;
      }
      const std::vector<int>& codes = CodesByCategory()[static_cast<int>(c)];
      Op op = MakeOp(codes[rng_.Below(codes.size())]);
      std::visit([&](auto& o) { budget -= DrawOp(o, free, depth); }, op.v);
      ops.push_back(std::move(op));
    }
  }

  static Op Pop(std::vector<Op>& scopes) {
    Op closer = std::move(scopes.back());
    scopes.pop_back();
    return closer;
  }

  // Balanced mode: closes the innermost scope, opens a new one (its closer
  // pushed on scopes) or, for context ops, sometimes draws a scope-neutral
  // op. `free` ops remain after the owed closers.
  Op DrawScoped(Category c, std::vector<Op>& scopes, int free) {
    const bool can_open = free >= 2;
    if (!scopes.empty() && (!can_open || rng_.OneIn(2))) return Pop(scopes);
    if (c == Category::kLock && can_open) {
      if (std::optional<Op> acquire = OpenLockScope(scopes)) return *acquire;
    }
    static constexpr std::pair<Op (*)(), Op (*)()> kScopes[] = {
        {[]() -> Op { return LocalIrqDisable{}; },
         []() -> Op { return LocalIrqEnable{}; }},
        {[]() -> Op { return LocalIrqSave{}; },
         []() -> Op { return LocalIrqRestore{}; }},
        {[]() -> Op { return LocalBhDisable{}; },
         []() -> Op { return LocalBhEnable{}; }},
        {[]() -> Op { return PreemptDisable{}; },
         []() -> Op { return PreemptEnable{}; }},
        {[]() -> Op { return MigrateDisable{}; },
         []() -> Op { return MigrateEnable{}; }},
        {[]() -> Op { return MemallocNofsSave{}; },
         []() -> Op { return MemallocNofsRestore{}; }},
    };
    if (!can_open || rng_.OneIn(4)) {
      return rng_.OneIn(2) ? Op(MightSleep{}) : Op(Printk{});
    }
    const auto& [open, close] = kScopes[rng_.Below(std::size(kScopes))];
    scopes.push_back(close());
    return open();
  }

  // An acquisition of a lock this scope stack does not hold yet, with a
  // verb that has a matching release; nullopt if every lock is held.
  std::optional<Op> OpenLockScope(std::vector<Op>& scopes) {
    std::vector<uint8_t> free_locks;
    for (size_t i = 0; i < p_.locks.size(); ++i) {
      const bool held =
          std::any_of(scopes.begin(), scopes.end(), [&](const Op& o) {
            const auto* call = std::get_if<LockCall>(&o.v);
            return call && call->lock.v == i;
          });
      if (!held) free_locks.push_back(static_cast<uint8_t>(i));
    }
    if (free_locks.empty()) return std::nullopt;
    LockCall acquire;
    acquire.lock.v = free_locks[rng_.Below(free_locks.size())];
    std::vector<LockVerb> verbs;
    for (LockVerb v : VerbsFor(p_.locks[acquire.lock.v].type)) {
      if (MatchingRelease(v)) verbs.push_back(v);
    }
    acquire.verb = verbs[rng_.Below(verbs.size())];
    if (acquire.verb == LockVerb::kSpinLockNested) {
      acquire.subclass = rng_.Below(kMaxSubclasses);
    }
    scopes.push_back(LockCall{*MatchingRelease(acquire.verb), acquire.lock, 0});
    return acquire;
  }

  // Each DrawOp returns how many ops it used.
  template <typename T>
  int DrawOp(T& op, int budget, int depth) {
    RandomFields<T> fields{*this};
    VisitFields(op, fields);
    return 1;
  }

  int DrawOp(SwitchCpu& op, int budget, int depth) {
    Draw(op.cpu);
    cpu_ = op.cpu.v;
    return 1;
  }

  int DrawOp(LockCall& op, int budget, int depth) {
    Draw(op.lock);
    const std::vector<LockVerb>& verbs = VerbsFor(p_.locks[op.lock.v].type);
    op.verb = verbs[rng_.Below(verbs.size())];
    if (op.verb == LockVerb::kSpinLockNested) {
      op.subclass = rng_.Below(kMaxSubclasses);
    }
    return 1;
  }

  int DrawOp(Interrupt& op, int budget, int depth) {
    constexpr ctx::ContextKind kKinds[] = {ctx::ContextKind::kSoftirq,
                                           ctx::ContextKind::kHardirq,
                                           ctx::ContextKind::kNmi};
    op.kind = kKinds[rng_.Below(std::size(kKinds))];
    Draw(op.at);
    if (rng_.OneIn(6)) op.at = PointArg{};  // fire at once
    const int body = rng_.Below(std::min(budget - 1, 8) + 1);
    Fill(op.body, body, depth + 1);
    return 1 + body;
  }

  Rng rng_;
  const GenerateOptions options_;
  Program p_;
  int cpu_ = 0;                              // the vCPU top-level ops run on
  std::vector<std::vector<Op>> top_scopes_;  // per vCPU, balanced mode
};

}  // namespace

Program GenerateProgram(uint64_t seed, const GenerateOptions& options) {
  return Generator(seed, options).Run();
}

}  // namespace reentry::prog
