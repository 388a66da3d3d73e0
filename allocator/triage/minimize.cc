#include "allocator/triage/minimize.h"

#include <time.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <type_traits>
#include <variant>
#include <vector>

#include "allocator/prog/fields.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"
#include "allocator/triage/isolate.h"

namespace reentry::triage {
namespace {

using prog::Op;
using prog::Program;

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// ---- Size: what the minimizer makes smaller. ----
struct FieldCost {
  uint64_t cost = 0;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if constexpr (std::is_same_v<F, prog::GfpArg>) {
      cost += std::popcount(f.v);
    } else if constexpr (std::is_same_v<F, prog::OrderArg>) {
      cost += f.v == prog::FreePages::kSlotOrder ? 0 : f.v;
    } else if constexpr (std::is_same_v<F, prog::CountArg>) {
      cost += f.v;
    } else if constexpr (std::is_same_v<F, prog::FlagArg>) {
      cost += f.v ? 1 : 0;
    } else if constexpr (std::is_same_v<F, prog::PointArg>) {
      cost += (f.v == ctx::PointId::kNone ? 0 : 4) + (f.nth - 1);
    }
  }
  template <typename F>
  void Optional(F& f, F) {
    Arg(f);
  }
};

uint64_t OpsCost(const std::vector<Op>& ops) {
  uint64_t c = 0;
  for (const Op& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, prog::Interrupt>) {
            FieldCost fc;
            prog::PointArg at = o.at;
            fc.Arg(at);
            c += fc.cost + static_cast<uint64_t>(o.kind) + OpsCost(o.body);
          } else if constexpr (std::is_same_v<T, prog::LockCall>) {
            c += o.subclass;
          } else {
            FieldCost fc;
            prog::VisitFields(o, fc);
            c += fc.cost;
          }
        },
        op.v);
  }
  return c;
}

// (ops, everything else): compared lexicographically.
std::pair<size_t, uint64_t> Cost(const Program& p) {
  const ctx::Config def;
  uint64_t c = OpsCost(p.ops);
  c += 50 * p.locks.size();
  c += 100 * static_cast<uint64_t>(p.config.nr_cpus);
  c += 10 * (p.config.preempt_rt != def.preempt_rt);
  c += 10 * (p.config.smp != def.smp);
  c += 10 * (p.config.preempt_count != def.preempt_count);
  c += 10 * (p.config.prove_raw_lock_nesting != def.prove_raw_lock_nesting);
  c += 10 * (p.config.nolock_design != def.nolock_design);
  c += 10 * static_cast<uint64_t>(std::popcount(p.bugs.bits()));
  return {prog::CountOps(p.ops), c};
}

// ---- Addressing ops by pre-order index. ----
struct OpRef {
  std::vector<Op>* list = nullptr;
  size_t pos = 0;
};

bool FindOp(std::vector<Op>& ops, size_t& index, OpRef* out) {
  for (size_t i = 0; i < ops.size(); ++i) {
    if (index == 0) {
      *out = OpRef{&ops, i};
      return true;
    }
    --index;
    if (auto* irq = std::get_if<prog::Interrupt>(&ops[i].v)) {
      if (FindOp(irq->body, index, out)) return true;
    }
  }
  return false;
}

OpRef RefAt(Program& p, size_t index) {
  OpRef ref;
  FindOp(p.ops, index, &ref);
  return ref;
}

// The list an owner designates: -1 the top level, else the body of the
// interrupt at that pre-order index.
std::vector<Op>* ListOf(Program& p, int owner) {
  if (owner < 0) return &p.ops;
  OpRef r = RefAt(p, static_cast<size_t>(owner));
  if (r.list == nullptr) return nullptr;
  auto* irq = std::get_if<prog::Interrupt>(&(*r.list)[r.pos].v);
  return irq ? &irq->body : nullptr;
}

std::vector<int> ListOwners(const Program& p) {
  std::vector<int> owners{-1};
  std::function<void(const std::vector<Op>&, size_t&)> walk =
      [&](const std::vector<Op>& ops, size_t& index) {
        for (const Op& op : ops) {
          const size_t me = index++;
          if (const auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
            owners.push_back(static_cast<int>(me));
            walk(irq->body, index);
          }
        }
      };
  size_t index = 0;
  walk(p.ops, index);
  return owners;
}

// Folds vCPU arguments into 0..nr-1.
struct CpuFold {
  int nr;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if constexpr (std::is_same_v<F, prog::CpuArg>) f.v = f.v % nr;
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
            CpuFold f{nr};
            prog::VisitFields(o, f);
          }
        },
        op.v);
  }
}

// Lock indices used by ops.
void UsedLocks(const std::vector<Op>& ops, std::vector<bool>& used) {
  for (const Op& op : ops) {
    if (const auto* c = std::get_if<prog::LockCall>(&op.v)) {
      if (c->lock.v < used.size()) used[c->lock.v] = true;
    } else if (const auto* s = std::get_if<prog::RegisterShrinker>(&op.v)) {
      if (s->lock.v < used.size()) used[s->lock.v] = true;
    } else if (const auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
      UsedLocks(irq->body, used);
    }
  }
}
void RenumberLocks(std::vector<Op>& ops, const std::vector<int>& map) {
  for (Op& op : ops) {
    if (auto* c = std::get_if<prog::LockCall>(&op.v)) {
      c->lock.v = static_cast<uint8_t>(map[c->lock.v]);
    } else if (auto* s = std::get_if<prog::RegisterShrinker>(&op.v)) {
      s->lock.v = static_cast<uint8_t>(map[s->lock.v]);
    } else if (auto* irq = std::get_if<prog::Interrupt>(&op.v)) {
      RenumberLocks(irq->body, map);
    }
  }
}

// Field simplifications: Mutate(field, variant) makes one simpler value of
// the field, or returns false if that variant does not apply.
bool Mutate(prog::OrderArg& f, int variant) {
  if (f.v == prog::FreePages::kSlotOrder) return false;
  if (variant == 0 && f.v > 0) {
    f.v = 0;
    return true;
  }
  if (variant == 1 && f.v > 1) {
    f.v = f.v - 1;
    return true;
  }
  return false;
}
bool Mutate(prog::GfpArg& f, int variant) {
  if (variant < 0 || variant >= 32 || !(f.v & (1u << variant))) return false;
  f.v &= ~(1u << variant);
  return true;
}
bool Mutate(prog::CountArg& f, int variant) {
  if (f.v <= 1) return false;
  const int target = variant == 0 ? 1 : variant == 1 ? f.v / 2 : f.v - 1;
  if (variant > 2 || target == f.v || target < 1) return false;
  f.v = static_cast<uint8_t>(target);
  return true;
}
bool Mutate(prog::FlagArg& f, int variant) {
  if (variant != 0 || !f.v) return false;
  f.v = false;
  return true;
}
bool Mutate(prog::PointArg& f, int variant) {
  if (variant == 0 && f.nth > 1) {
    f.nth = 1;
    return true;
  }
  return false;
}
template <typename F>
bool Mutate(F&, int) {
  return false;
}

struct FieldMutator {
  size_t target;
  int variant;
  size_t i = 0;
  bool applied = false;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if (i++ == target) applied = Mutate(f, variant);
  }
  template <typename F>
  void Optional(F& f, F def) {
    if (i++ != target) return;
    if constexpr (std::is_same_v<F, prog::OrderArg>) {
      // __free_pages with an explicit order: back to the allocated order.
      if (variant == 0 && !(f == def)) {
        f = def;
        applied = true;
      }
    } else {
      applied = Mutate(f, variant);
    }
  }
};

struct FieldCounter {
  size_t n = 0;
  template <typename F>
  void Result(F&) {
    ++n;
  }
  template <typename F>
  void Arg(F&) {
    ++n;
  }
  template <typename F>
  void Optional(F&, F) {
    ++n;
  }
};

// Simpler copies of a plain op (or a lock call), one field change each.
std::vector<Op> SimplerOps(const Op& op) {
  std::vector<Op> out;
  if (const auto* call = std::get_if<prog::LockCall>(&op.v)) {
    if (call->subclass != 0) {
      Op o = op;
      std::get<prog::LockCall>(o.v).subclass = 0;
      out.push_back(std::move(o));
    }
    return out;
  }
  if (std::holds_alternative<prog::Interrupt>(op.v)) return out;
  FieldCounter counter;
  std::visit([&](const auto& o) { prog::VisitFields(o, counter); }, op.v);
  for (size_t field = 0; field < counter.n; ++field) {
    for (int variant = 0; variant < 32; ++variant) {
      Op o = op;
      FieldMutator m{field, variant};
      std::visit([&](auto& x) { prog::VisitFields(x, m); }, o.v);
      if (m.applied) out.push_back(std::move(o));
    }
  }
  return out;
}

class Minimizer {
 public:
  Minimizer(TargetId target, const std::string& title,
            const TargetOptions& options, const MinimizeOptions& mo)
      : target_(target),
        title_(title),
        replay_(ReplayOptions(options)),
        mo_(mo),
        start_(Now()) {}

  Minimized Run(const Program& prepared) {
    cur_ = prepared;
    Minimized out;
    out.stats.ops_before = prog::CountOps(prepared.ops);
    bool changed = true;
    while (changed && !OutOfBudget()) {
      changed = false;
      changed |= RemovePass();
      changed |= InterruptPass();
      changed |= FieldPass();
      changed |= ConfigPass();
      changed |= LockPass();
    }
    out.program = cur_;
    out.stats.runs = runs_;
    out.stats.accepted = accepted_;
    out.stats.seconds = Now() - start_;
    out.stats.ops_after = prog::CountOps(cur_.ops);
    out.stats.budget_exhausted = OutOfBudget();
    return out;
  }

 private:
  bool OutOfBudget() const {
    return runs_ >= mo_.max_runs || Now() - start_ > mo_.max_seconds;
  }

  // Keeps cand (as the target prepares it) if it is smaller and still
  // reproduces.
  bool Try(Program cand) {
    if (OutOfBudget()) return false;
    if (!prog::ValidateProgram(cand, nullptr)) return false;
    Program prepared = PrepareProgram(target_, std::move(cand), replay_);
    if (Cost(prepared) >= Cost(cur_)) return false;
    ++runs_;
    if (!ReproducesTitle(target_, prepared, title_, replay_, ex_, mo_.isolated,
                         mo_.isolated_timeout)) {
      return false;
    }
    cur_ = std::move(prepared);
    ++accepted_;
    return true;
  }

  bool RemovePass() {
    bool changed = false;
    for (size_t oi = 0;; ++oi) {
      const std::vector<int> owners = ListOwners(cur_);
      if (oi >= owners.size() || OutOfBudget()) break;
      const int owner = owners[oi];
      std::vector<Op>* list = ListOf(cur_, owner);
      if (list == nullptr) continue;
      size_t chunk = std::max<size_t>(list->size() / 2, 1);
      for (;;) {
        for (size_t start = 0;;) {
          std::vector<Op>* l = ListOf(cur_, owner);
          if (l == nullptr || start >= l->size() || OutOfBudget()) break;
          Program cand = cur_;
          std::vector<Op>* cl = ListOf(cand, owner);
          const size_t end = std::min(cl->size(), start + chunk);
          cl->erase(cl->begin() + start, cl->begin() + end);
          if (Try(std::move(cand))) {
            changed = true;
          } else {
            start += chunk;
          }
        }
        if (chunk == 1) break;
        chunk /= 2;
      }
    }
    return changed;
  }

  bool InterruptPass() {
    bool changed = false;
    for (size_t oi = 1;; ++oi) {
      const std::vector<int> owners = ListOwners(cur_);
      if (oi >= owners.size() || OutOfBudget()) break;
      const size_t index = static_cast<size_t>(owners[oi]);
      // Flatten: the body in place of the interrupt.
      {
        Program cand = cur_;
        OpRef r = RefAt(cand, index);
        auto irq = std::get<prog::Interrupt>((*r.list)[r.pos].v);
        bool ok = true;
        for (const Op& op : irq.body) {
          if (std::holds_alternative<prog::SwitchCpu>(op.v)) ok = false;
        }
        if (ok) {
          r.list->erase(r.list->begin() + r.pos);
          r.list->insert(r.list->begin() + r.pos, irq.body.begin(),
                         irq.body.end());
          if (Try(std::move(cand))) {
            changed = true;
            --oi;  // the owner list changed under this index
            continue;
          }
        }
      }
      for (int variant = 0; variant < 2; ++variant) {
        Program cand = cur_;
        OpRef r = RefAt(cand, index);
        auto* irq = std::get_if<prog::Interrupt>(&(*r.list)[r.pos].v);
        if (irq == nullptr) break;
        if (variant == 0) {
          if (irq->at.nth == 1) continue;
          irq->at.nth = 1;
        } else {
          if (irq->at.v == ctx::PointId::kNone) continue;
          irq->at = prog::PointArg{};
        }
        changed |= Try(std::move(cand));
      }
    }
    return changed;
  }

  bool FieldPass() {
    bool changed = false;
    for (size_t index = 0; index < prog::CountOps(cur_.ops); ++index) {
      if (OutOfBudget()) break;
      OpRef r = RefAt(cur_, index);
      if (r.list == nullptr) break;
      for (Op& simpler : SimplerOps((*r.list)[r.pos])) {
        Program cand = cur_;
        OpRef cr = RefAt(cand, index);
        if (cr.list == nullptr) break;
        (*cr.list)[cr.pos] = std::move(simpler);
        if (Try(std::move(cand))) {
          changed = true;
          break;  // the op changed: its other variants are stale
        }
      }
    }
    return changed;
  }

  bool ConfigPass() {
    bool changed = false;
    const ctx::Config def;
    while (cur_.config.nr_cpus > 1 && !OutOfBudget()) {
      Program cand = cur_;
      cand.config.nr_cpus -= 1;
      FoldCpus(cand.ops, cand.config.nr_cpus);
      if (!Try(std::move(cand))) break;
      changed = true;
    }
    auto flip = [&](auto field) {
      if (cur_.config.*field == def.*field) return;
      Program cand = cur_;
      cand.config.*field = def.*field;
      changed |= Try(std::move(cand));
    };
    flip(&ctx::Config::preempt_rt);
    flip(&ctx::Config::smp);
    flip(&ctx::Config::preempt_count);
    flip(&ctx::Config::prove_raw_lock_nesting);
    flip(&ctx::Config::nolock_design);
    for (int b = 0; b < kNumBugs; ++b) {
      const auto id = static_cast<BugId>(b);
      if (!cur_.bugs.has(id)) continue;
      Program cand = cur_;
      cand.bugs.set(id, false);
      changed |= Try(std::move(cand));
    }
    return changed;
  }

  bool LockPass() {
    std::vector<bool> used(cur_.locks.size(), false);
    UsedLocks(cur_.ops, used);
    if (std::all_of(used.begin(), used.end(), [](bool u) { return u; })) {
      return false;
    }
    Program cand = cur_;
    std::vector<int> map(cur_.locks.size(), 0);
    cand.locks.clear();
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) continue;
      map[i] = static_cast<int>(cand.locks.size());
      cand.locks.push_back(cur_.locks[i]);
    }
    RenumberLocks(cand.ops, map);
    return Try(std::move(cand));
  }

  TargetId target_;
  std::string title_;
  TargetOptions replay_;
  MinimizeOptions mo_;
  double start_;
  Program cur_;
  exec::Executor ex_;
  int runs_ = 0;
  int accepted_ = 0;
};

}  // namespace

TargetOptions ReplayOptions(const TargetOptions& campaign) {
  TargetOptions o;
  o.bugs_from_input = true;
  o.max_cpus = ctx::kMaxCpus;
  o.invariants_every_op = campaign.invariants_every_op;
  return o;
}

bool ReproducesTitle(TargetId target, const prog::Program& p,
                     const std::string& title, const TargetOptions& replay,
                     exec::Executor& ex, bool isolated, double timeout) {
  if (isolated) {
    const Triaged t = TriageProgramIsolated(target, p, replay, timeout);
    for (const Problem& pr : t.problems) {
      if (pr.title == title) return true;
    }
    return false;
  }
  const RunVerdict v = Evaluate(target, p, replay, ex);
  for (const Problem& pr : v.problems) {
    if (pr.title == title) return true;
  }
  return false;
}

Minimized MinimizeProgram(TargetId target, const prog::Program& prepared,
                          const std::string& title,
                          const TargetOptions& options,
                          const MinimizeOptions& mo) {
  return Minimizer(target, title, options, mo).Run(prepared);
}

Reliability MeasureReliability(TargetId target, const prog::Program& p,
                               const std::string& title,
                               const TargetOptions& options, int n,
                               bool isolated) {
  Reliability r;
  const TargetOptions replay = ReplayOptions(options);
  exec::Executor shared;
  prog::ParseError error;
  const std::optional<Program> parsed =
      prog::ParseProgram(prog::ProgramToText(p), &error);
  r.text_round_trip = parsed.has_value() && *parsed == p;
  for (int i = 0; i < n; ++i) {
    exec::Executor fresh;
    const Program& run = (i == n - 1 && parsed) ? *parsed : p;
    r.runs++;
    if (ReproducesTitle(target, run, title, replay, i % 2 ? fresh : shared,
                        isolated, 10)) {
      r.reproduced++;
    }
  }
  return r;
}

}  // namespace reentry::triage
