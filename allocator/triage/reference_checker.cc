#include "allocator/triage/reference_checker.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "allocator/ctx/kernel.h"

namespace reentry::triage {
namespace {

using prog::LockVerb;

enum class Act : uint8_t {
  kExclusive,  // blocking exclusive acquisition
  kRead,       // blocking shared acquisition, held until released
  kTransient,  // seqlock reader: acquire and release at once
  kTry,        // trylock (success unknown from the trace)
  kTryRead,
  kRelease,
  kOther,  // lock_init, debug_check_no_locks_freed
};

Act Classify(LockVerb v) {
  switch (v) {
    case LockVerb::kRawSpinLock:
    case LockVerb::kRawSpinLockIrqsave:
    case LockVerb::kRawSpinLockIrq:
    case LockVerb::kSpinLock:
    case LockVerb::kSpinLockNested:
    case LockVerb::kSpinLockIrqsave:
    case LockVerb::kSpinLockIrq:
    case LockVerb::kSpinLockBh:
    case LockVerb::kWriteLock:
    case LockVerb::kWriteLockIrqsave:
    case LockVerb::kWriteLockIrq:
    case LockVerb::kWriteLockBh:
    case LockVerb::kLocalLock:
    case LockVerb::kLocalLockIrqsave:
    case LockVerb::kLocalLockIrq:
    case LockVerb::kWriteSeqlock:
    case LockVerb::kWriteSeqlockIrqsave:
    case LockVerb::kWriteSeqlockIrq:
    case LockVerb::kWriteSeqlockBh:
    case LockVerb::kWriteSeqcountBegin:
    case LockVerb::kMutexLock:
    case LockVerb::kLockMapAcquire:
      return Act::kExclusive;
    case LockVerb::kReadLock:
    case LockVerb::kReadLockIrqsave:
    case LockVerb::kReadLockIrq:
    case LockVerb::kReadLockBh:
    case LockVerb::kLockMapAcquireRead:
      return Act::kRead;
    case LockVerb::kReadSeqbegin:
      return Act::kTransient;
    case LockVerb::kRawSpinTrylock:
    case LockVerb::kRawSpinTrylockIrqsave:
    case LockVerb::kSpinTrylock:
    case LockVerb::kSpinTrylockIrqsave:
    case LockVerb::kSpinTrylockBh:
    case LockVerb::kWriteTrylock:
    case LockVerb::kLocalTrylock:
    case LockVerb::kLocalTrylockIrqsave:
    case LockVerb::kMutexTrylock:
    case LockVerb::kLockMapAcquireTry:
      return Act::kTry;
    case LockVerb::kReadTrylock:
      return Act::kTryRead;
    case LockVerb::kRawSpinUnlock:
    case LockVerb::kRawSpinUnlockIrqrestore:
    case LockVerb::kRawSpinUnlockIrq:
    case LockVerb::kSpinUnlock:
    case LockVerb::kSpinUnlockIrqrestore:
    case LockVerb::kSpinUnlockIrq:
    case LockVerb::kSpinUnlockBh:
    case LockVerb::kReadUnlock:
    case LockVerb::kWriteUnlock:
    case LockVerb::kReadUnlockIrqrestore:
    case LockVerb::kWriteUnlockIrqrestore:
    case LockVerb::kReadUnlockIrq:
    case LockVerb::kWriteUnlockIrq:
    case LockVerb::kReadUnlockBh:
    case LockVerb::kWriteUnlockBh:
    case LockVerb::kLocalUnlock:
    case LockVerb::kLocalUnlockIrqrestore:
    case LockVerb::kLocalUnlockIrq:
    case LockVerb::kWriteSequnlock:
    case LockVerb::kWriteSequnlockIrqrestore:
    case LockVerb::kWriteSequnlockIrq:
    case LockVerb::kWriteSequnlockBh:
    case LockVerb::kWriteSeqcountEnd:
    case LockVerb::kMutexUnlock:
    case LockVerb::kLockMapRelease:
      return Act::kRelease;
    case LockVerb::kReadSeqretry:
    case LockVerb::kLockInit:
    case LockVerb::kLockFree:
    case LockVerb::kCount:
      break;
  }
  return Act::kOther;
}

// A lock's class name as the emulated kernel registers it (and as findings
// name it): cut to the length a lock class keeps, so that two names equal
// in that prefix are one class here too.
std::string ClassName(const prog::LockDecl& d) {
  return std::string(
      ctx::LockClassName(d.class_name.empty() ? d.name : d.class_name));
}

struct Held {
  int node;
  int lock;  // program lock index
  bool exclusive;
  bool certain;   // not a trylock of unknown outcome
  bool tracked;   // not taken in NMI (lockdep is off there)
  bool rejected;  // the checker rejected its class's acquisition
};

constexpr size_t kMaxStack = 40;
constexpr size_t kTraceLimit = 100000;  // the executor's trace capacity

class Graph {
 public:
  void Add(int a, int b) { edges_[a].insert(b); }
  // A cycle of >= 2 distinct nodes; fills path (closed) if found.
  bool FindCycle(std::vector<int>* path) const {
    std::map<int, int> color;  // 0 white, 1 grey, 2 black
    std::vector<int> stack;
    for (const auto& [n, _] : edges_) {
      if (color[n] == 0 && Dfs(n, color, stack, path)) return true;
    }
    return false;
  }

 private:
  bool Dfs(int n, std::map<int, int>& color, std::vector<int>& stack,
           std::vector<int>* path) const {
    color[n] = 1;
    stack.push_back(n);
    auto it = edges_.find(n);
    if (it != edges_.end()) {
      for (int m : it->second) {
        if (m == n) continue;  // self edges are reported separately
        if (color[m] == 1) {
          auto from = std::find(stack.begin(), stack.end(), m);
          path->assign(from, stack.end());
          path->push_back(m);
          return true;
        }
        if (color[m] == 0 && Dfs(m, color, stack, path)) return true;
      }
    }
    stack.pop_back();
    color[n] = 2;
    return false;
  }

  std::map<int, std::set<int>> edges_;
};

}  // namespace

ReferenceResult RunReferenceChecker(const prog::Program& p,
                                    const exec::RunResult& r) {
  ReferenceResult out;
  for (const Finding& f : r.findings) {
    if (FindingVerdict(f.kind) == Verdict::kMisuse) {
      out.comparable = false;
      out.why_not = std::string("misuse finding ") + FindingKindName(f.kind);
      return out;
    }
  }
  if (r.trace.size() >= kTraceLimit) {
    out.comparable = false;
    out.why_not = "trace truncated";
    return out;
  }

  // Nodes: (class name, type, subclass).
  std::map<std::tuple<std::string, int, int>, int> node_ids;
  std::vector<std::string> node_names;
  auto node_of = [&](const std::string& cls, const prog::LockDecl& d,
                     int subclass) {
    auto key = std::make_tuple(cls, static_cast<int>(d.type), subclass);
    auto [it, inserted] =
        node_ids.emplace(key, static_cast<int>(node_names.size()));
    if (inserted) {
      node_names.push_back(
          subclass == 0 ? cls : cls + "/" + std::to_string(subclass));
    }
    return it->second;
  };

  // Acquisitions the checker rejected (wait context, irq usage, recursion):
  // like the kernel's lockdep, it adds no dependency for them, so strict
  // edges into their classes are not expected to be reported.
  // (For the self check, the recursion report itself does not count.)
  std::set<std::string> rejected, rejected_for_self;
  for (const Finding& f : r.findings) {
    if (f.kind == FindingKind::kCircularDependency) continue;
    if (FindingVerdict(f.kind) != Verdict::kAA &&
        FindingVerdict(f.kind) != Verdict::kIrqInv &&
        FindingVerdict(f.kind) != Verdict::kWaitCtx &&
        FindingVerdict(f.kind) != Verdict::kABBA) {
      continue;
    }
    for (const FindingLock& l : f.locks) {
      if (l.role != LockRole::kAcquiring) continue;
      rejected.insert(l.name);
      if (f.kind != FindingKind::kRecursiveLocking) {
        rejected_for_self.insert(l.name);
      }
    }
  }

  // Ops the interpreter could not run.
  std::set<std::pair<int, uint32_t>> skipped;
  for (const exec::TraceEntry& e : r.trace) {
    if (e.kind == exec::TraceKind::kSkipped) {
      skipped.insert({e.cpu, e.op_index});
    }
  }

  // held[cpu][depth]: the lock stack of each context frame.
  std::map<int, std::vector<std::vector<Held>>> held;
  Graph strict, loose;
  // A lock still held when its interrupt frame ended is held by nobody the
  // reference can name (lockdep keeps it on the vCPU's held stack, as the
  // kernel keeps it in the task's): such a run is not compared.
  bool left_held = false;
  auto frames_of = [&](int cpu, int depth) -> std::vector<std::vector<Held>>& {
    auto& frames = held[cpu];
    for (size_t d = depth + 1; d < frames.size(); ++d) {
      left_held |= !frames[d].empty();
    }
    if (static_cast<int>(frames.size()) > depth + 1) frames.resize(depth + 1);
    while (static_cast<int>(frames.size()) < depth + 1) frames.emplace_back();
    return frames;
  };

  // A vCPU whose last entry is a wait has not got the lock it asked for,
  // though the reference pushed it: the trace cannot say when it gets it.
  std::set<int> waiting;
  for (const exec::TraceEntry& e : r.trace) {
    if (e.kind == exec::TraceKind::kWait) {
      waiting.insert(e.cpu);
      continue;
    }
    waiting.erase(e.cpu);
    if (e.kind == exec::TraceKind::kIrqFire) {
      // A new frame starts above the interrupted one.
      auto& frames = frames_of(e.cpu, e.depth);
      frames.emplace_back();
      if (left_held) break;
      continue;
    }
    if (e.kind != exec::TraceKind::kOp || e.op_index == kNoOp) continue;
    const prog::Op* op = prog::OpAt(p, e.op_index);
    if (op == nullptr) continue;
    const auto* call = std::get_if<prog::LockCall>(&op->v);
    if (call == nullptr) continue;
    if (skipped.count({e.cpu, e.op_index})) continue;
    if (call->lock.v >= p.locks.size()) continue;
    auto& frames = frames_of(e.cpu, e.depth);
    if (left_held) break;
    std::vector<Held>& frame = frames[e.depth];
    const Act act = Classify(call->verb);
    const int lock = call->lock.v;

    if (act == Act::kRelease) {
      auto it = std::find_if(frame.rbegin(), frame.rend(),
                             [&](const Held& h) { return h.lock == lock; });
      if (it == frame.rend()) {
        out.comparable = false;
        out.why_not = "release of a lock not held in its frame";
        return out;
      }
      frame.erase(std::next(it).base());
      continue;
    }
    if (act == Act::kOther) {
      for (const auto& fr : frames) {
        for (const Held& h : fr) {
          if (h.lock == lock) {
            out.comparable = false;
            out.why_not = "re-init or free of a held lock";
            return out;
          }
        }
      }
      continue;
    }

    const prog::LockDecl& decl = p.locks[lock];
    const std::string cls_name = ClassName(decl);
    const int node = node_of(cls_name, decl, call->subclass);
    const bool exclusive = act == Act::kExclusive || act == Act::kTry;
    const bool is_try = act == Act::kTry || act == Act::kTryRead;
    bool certain = !is_try;
    if (is_try) {
      // What the trace cannot say, the lock state often can: a trylock of
      // an instance this vCPU holds fails (on SMP), one nobody holds wins,
      // and on UP every trylock wins.
      const bool per_cpu = p.locks[lock].type == ctx::LockType::kLocalLock ||
                           p.locks[lock].type == ctx::LockType::kLocalTrylock;
      bool mine = false, anyone = false, writer = false, blocked = false;
      for (const auto& [cpu, cpu_frames] : held) {
        if (per_cpu && cpu != e.cpu) continue;
        for (const auto& fr : cpu_frames) {
          for (const Held& h : fr) {
            if (h.lock != lock) continue;
            anyone = true;
            writer |= h.exclusive;
            // A writer still waiting for the lock may or may not make a
            // trylock fail (a queued rwlock's waiting writer does).
            blocked |= h.exclusive && waiting.count(cpu) && &h == &fr.back();
            if (cpu == e.cpu && h.certain) mine = true;
          }
        }
      }
      const ctx::LockType type = p.locks[lock].type;
      const bool spin_family = type == ctx::LockType::kRawSpinlock ||
                               type == ctx::LockType::kSpinlock ||
                               type == ctx::LockType::kRwlock;
      // A lockdep_map is an annotation with no lock behind it: its trylock
      // (lock_map_acquire_try) always takes it.
      const bool annotation = type == ctx::LockType::kLockdepMap;
      if ((!p.config.smp && spin_family) || !anyone || annotation ||
          (act == Act::kTryRead && !writer)) {
        certain = true;
      } else if (mine && (act == Act::kTry || writer) && !blocked) {
        continue;  // fails: nothing is acquired
      }
    }
    ++out.acquisitions;

    // lockdep is off in NMI (nmi_enter() calls lockdep_off()): it checks
    // nothing within an NMI frame. Nesting across frames is still the
    // checker's definite same-CPU reentry rule.
    const bool tracked = e.context != ctx::ContextKind::kNmi;
    // Self nesting: the class is already held somewhere on this vCPU.
    for (const auto& fr : frames) {
      const bool same_frame = &fr == &frame;
      for (const Held& h : fr) {
        // The same instance (any subclass) counts too: lockdep's definite
        // same-CPU reentry rule looks at instances.
        if (h.lock == lock) out.loose_self = true;
        if (h.node != node) continue;
        out.loose_self = true;
        if (act == Act::kExclusive && h.exclusive && h.certain &&
            (tracked || !same_frame) && !rejected_for_self.count(cls_name)) {
          if (!out.strict_self) {
            out.strict_self_text = node_names[node] + " acquired while held";
          }
          out.strict_self = true;
        }
      }
    }
    // Dependencies within the frame. lockdep records an edge from the
    // nearest held lock only (the ones below reach the new lock through
    // theirs), and none into an acquisition it rejected: so nothing below a
    // rejected held lock reaches the new one.
    const bool was_rejected = rejected.count(cls_name) != 0;
    bool strict_reach = act == Act::kExclusive && tracked && !was_rejected;
    for (auto h = frame.rbegin(); h != frame.rend(); ++h) {
      if (h->node == node) continue;
      loose.Add(h->node, node);
      if (strict_reach && h->exclusive && h->certain && h->tracked) {
        strict.Add(h->node, node);
      }
      if (h->rejected) strict_reach = false;
    }
    if (act == Act::kTransient) continue;
    frame.push_back(
        Held{node, lock, exclusive, certain, tracked, was_rejected});
    if (frame.size() > kMaxStack) {
      out.comparable = false;
      out.why_not = "lock stack deeper than the reference models";
      return out;
    }
  }

  if (left_held) {
    out.comparable = false;
    out.why_not = "a lock left held when its interrupt ended";
    return out;
  }
  // A program that ends holding a lock has the model's teardown run under
  // it, and teardown's acquisitions (drain_pages_zone()'s pcp lock, say),
  // which the trace does not show, depend on it in lockdep's graph.
  if (r.completed) {
    for (const auto& [cpu, frames] : held) {
      for (const auto& fr : frames) {
        if (!fr.empty()) {
          out.comparable = false;
          out.why_not = "a lock still held when the program ended";
          return out;
        }
      }
    }
  }
  std::vector<int> path;
  if (strict.FindCycle(&path)) {
    out.strict_cycle = true;
    for (size_t i = 0; i < path.size(); ++i) {
      if (i > 0) out.strict_cycle_text += " -> ";
      out.strict_cycle_text += node_names[path[i]];
    }
  }
  path.clear();
  out.loose_cycle = loose.FindCycle(&path);
  return out;
}

}  // namespace reentry::triage
