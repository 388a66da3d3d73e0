#include "allocator/lockdep/lockdep.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "allocator/base/check.h"
#include "allocator/base/gfp.h"
#include "allocator/base/recycle.h"
#include "allocator/lockdep/usage.h"

namespace reentry::lockdep {
namespace {

using ctx::ContextKind;
using ctx::Cpu;
using ctx::Event;
using ctx::EventKind;
using ctx::LockClassId;
using ctx::LockClassInfo;
using ctx::LockType;
using ctx::WaitType;

// MAX_LOCKDEP_SUBCLASSES.
constexpr int kMaxSubclasses = 8;
constexpr uint32_t kNil = 0xffffffffu;
// Per-vCPU held-lock stack (lockdep's MAX_LOCK_DEPTH is 48).
constexpr int kMaxHeld = 64;
// Locks of a path kept for a report.
constexpr int kMaxPath = 8;

// Lockdep wait-type numbers as the kernel prints them (LD_WAIT_*).
constexpr int kLdWaitInv = 0;
constexpr int kLdWaitFree = 1;
constexpr int kLdWaitSpin = 2;
constexpr int kLdWaitSleep = 4;
constexpr int kLdWaitMax = 5;

// Dependency types (lockdep.c DEP_*_BIT): bit = (prev is a writer) +
// 2 * (next is not a recursive reader). S: prev held shared (any reader);
// E: prev held exclusive; R: next a recursive reader; N: anything else.
constexpr uint8_t kDepSR = 1;
constexpr uint8_t kDepER = 2;
constexpr uint8_t kDepSN = 4;
constexpr uint8_t kDepEN = 8;
constexpr uint8_t kDepS = kDepSR | kDepSN;
constexpr uint8_t kDepN = kDepSN | kDepEN;

uint8_t CalcDep(uint8_t prev_read, uint8_t next_read) {
  return uint8_t(1u << ((prev_read == 0 ? 1 : 0) + (next_read != 2 ? 2 : 0)));
}
// calc_depb(): the same edge seen from its target (bits ER and SN swap).
uint8_t DepBackward(uint8_t dep) {
  return uint8_t((dep & (kDepSR | kDepEN)) | ((dep & kDepER) << 1) |
                 ((dep & kDepSN) >> 1));
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  h *= 0xD6E8FEB86659FD93ull;
  return h ^ (h >> 32);
}

// Where a lock was taken (or a usage bit was set).
struct Site {
  const char* fn = nullptr;
  uint32_t op = kNoOp;
  int8_t cpu = -1;
  ContextKind ctx = ContextKind::kTask;
  uint8_t flags = 0;  // FindingLock flags
};

// A lockdep class: (lock class, subclass).
using Key = uint32_t;
Key MakeKey(LockClassId c, uint8_t sub) {
  return Key(c) * kMaxSubclasses + (sub < kMaxSubclasses ? sub : 0);
}
LockClassId KeyClass(Key k) { return LockClassId(k / kMaxSubclasses); }
uint8_t KeySubclass(Key k) { return uint8_t(k % kMaxSubclasses); }

struct Node {
  UsageMask usage = 0;
  bool init = false;
  bool per_cpu = false;    // LD_LOCK_PERCPU: skipped by irq-usage searches
  uint8_t wait = 0;        // LD_WAIT_* of the class
  uint32_t after = kNil;   // first edge out
  uint32_t before = kNil;  // first edge in
};

struct Edge {
  Key from;
  Key to;
  uint8_t dep;
  uint32_t next_after;
  uint32_t next_before;
  Site prev_site;  // where `from` was held
  Site next_site;  // where `to` was taken while holding `from`
};

struct UsageRecord {
  Key key;
  uint8_t bit;
  Site site;
};

// One entry of a vCPU's held-lock stack (48 bytes; built on every
// acquisition, so it keeps the event's raw fields and makes a Site only when
// a report or a new dependency needs one).
struct Held {
  const void* lock = nullptr;
  const char* fn = nullptr;  // where it was taken
  uint64_t chain_key = 0;    // of the chain ending here, within its frame
  Key key = 0;
  uint32_t op = kNoOp;
  uint16_t ev_flags = 0;  // Event::flags of the acquisition
  LockType type = LockType::kCount;
  uint8_t depth = 0;                // context frame
  uint8_t read = 0;                 // 0 write, 1 read, 2 recursive read
  uint8_t wait_limit = kLdWaitMax;  // frame's wait limit with this held
  int8_t cpu = -1;
  ContextKind ctx = ContextKind::kTask;
  bool trylock = false;
  bool tracked = true;  // lockdep sees it (not taken in NMI)
  bool irqs_off = false;
  bool softirqs_off = false;

  Site site() const {
    Site s;
    s.op = op;
    s.fn = fn;
    s.cpu = cpu;
    s.ctx = ctx;
    uint8_t fl = 0;
    if (read) fl |= kFindingLockRead;
    if (read == 2) fl |= kFindingLockRecursive;
    if (trylock) fl |= kFindingLockTry;
    if (ev_flags & ctx::kEvIrqsOffForm) fl |= kFindingLockIrqsOff;
    if (ev_flags & ctx::kEvBhForm) fl |= kFindingLockBh;
    if (ev_flags & ctx::kEvSeqReader) fl |= kFindingLockSeqReader;
    if (irqs_off) fl |= kFindingLockHardirqsOff;
    if (softirqs_off) fl |= kFindingLockSoftirqsOff;
    s.flags = fl;
    return s;
  }
};

// What an acquisition at one stack position looked like the last time it
// went through the full checks cleanly: the same inputs give the same entry
// and need no checks again (usage bits and validated chains only grow).
struct Memo {
  uint64_t prev_chain = 0;
  uint64_t chain_key = 0;
  Key key = 0;
  uint16_t ev_flags = 0;
  uint8_t bits = 0;  // context, irq/bh state, frame depth, segment head
  uint8_t read = 0;
  uint8_t wait_limit = 0;
  bool valid = false;
};

struct CpuState {
  Held held[kMaxHeld];
  Memo memo[kMaxHeld];
  int n = 0;
  uint8_t per_depth[ctx::kMaxContextDepth] = {};  // entries per frame
  bool lost = false;  // an entry could not be recorded (stack full)
  uint8_t nolock[ctx::kMaxContextDepth] = {};
  Site nolock_site[ctx::kMaxContextDepth];
};

// The chain cache: validated chain keys, open addressing.
class ChainCache {
 public:
  ChainCache() : slots_(256, 0) {}
  // True if key was not there (and is now).
  bool Insert(uint64_t key) {
    size_t mask = slots_.size() - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
      if (slots_[i] == key) return false;
      if (slots_[i] == 0) {
        slots_[i] = key;
        if (++count_ * 2 > slots_.size()) Grow();
        return true;
      }
    }
  }
  size_t size() const { return count_; }

 private:
  void Grow() {
    RecycledVector<uint64_t> old;
    old.swap(slots_);
    slots_.assign(old.size() * 2, 0);
    const size_t mask = slots_.size() - 1;
    for (uint64_t k : old) {
      if (k == 0) continue;
      size_t i = k & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = k;
    }
  }
  RecycledVector<uint64_t> slots_;
  size_t count_ = 0;
};

uint64_t IterateChainKey(uint64_t key, uint32_t id) {
  uint64_t k = key ^ (uint64_t(id) + 1) * 0x9E3779B97F4A7C15ull;
  k ^= k >> 31;
  k *= 0xBF58476D1CE4E5B9ull;
  k ^= k >> 29;
  return k | 1;  // 0 marks an empty cache slot
}

bool IsPerCpuType(LockType t) {
  return t == LockType::kLocalLock || t == LockType::kLocalTrylock;
}

const char* CtxName(ContextKind k) { return ctx::ContextName(k); }

// " at op #3 in rmqueue_bulk", or "" when nothing is known.
struct SiteText {
  char buf[80];
  SiteText(uint32_t op, const char* fn) {
    int n = 0;
    buf[0] = '\0';
    if (op != kNoOp) n = snprintf(buf, sizeof(buf), " at op #%u", op);
    if (fn != nullptr && n >= 0 && n < static_cast<int>(sizeof(buf))) {
      snprintf(buf + n, sizeof(buf) - n, " in %s", fn);
    }
  }
  const char* c_str() const { return buf; }
};

}  // namespace

// ---------------------------------------------------------------------------

struct Lockdep::Impl : Recycled {
  Impl(ctx::Kernel& k, const Options& o) : kernel(k), opt(o) {
    const ctx::Config& c = k.config();
    rt = c.preempt_rt;
    // On PREEMPT_RT-capable architectures PROVE_RAW_LOCK_NESTING cannot be
    // turned off, so RT always has a distinct CONFIG level.
    wait_config = (c.prove_raw_lock_nesting || c.preempt_rt) ? 3 : kLdWaitSpin;
    cpus.resize(static_cast<size_t>(k.nr_cpus()));
    ncpus = k.nr_cpus();
    // Room for a typical run up front: growing these one doubling at a
    // time was a dozen allocations per fuzz input (each costly under ASan).
    nodes.reserve(256);
    seen_n.reserve(256);
    seen_r.reserve(256);
    queue.reserve(512);
    edges.reserve(64);
    usage_records.reserve(64);
  }

  ctx::Kernel& kernel;
  Options opt;
  Stats stats;
  bool rt = false;
  int wait_config = 3;
  RecycledVector<Node> nodes;
  RecycledVector<Edge> edges;
  RecycledVector<UsageRecord> usage_records;
  RecycledVector<CpuState> cpus;
  int ncpus = 0;
  ChainCache chains;
  // While a chain is validated, the held-lock list of a report stops before
  // the entry being validated (lockdep has not counted it yet).
  int held_limit = -1;
  // The entry of an acquisition that does not fit the held-lock stack.
  Held overflow_slot;

  // Graph search scratch.
  struct QItem {
    Key node;
    bool only_xr;
    uint32_t parent;  // queue index
    uint32_t edge;    // edge used to get here
  };
  RecycledVector<QItem> queue;
  RecycledVector<uint32_t> seen_n;  // stamp: visited with only_xr == false
  RecycledVector<uint32_t> seen_r;  // stamp: visited with only_xr == true
  uint32_t stamp = 0;

  // A path found by a search: edges from the root outwards.
  struct Path {
    uint32_t edges[kMaxPath];
    int n = 0;
    bool truncated = false;
  };

  // --- Classes ---------------------------------------------------------

  Node& EnsureNode(Key k) {
    if (k >= nodes.size()) {
      const size_t want =
          std::max<size_t>(k + kMaxSubclasses, nodes.size() * 2);
      const size_t old = nodes.size();
      nodes.resize(want);
      seen_n.resize(want, 0);
      seen_r.resize(want, 0);
      // A search visits each (class, only_xr) state once: it never grows
      // the queue past this.
      queue.reserve(2 * want);
      for (size_t i = old; i < want; ++i) {
        const LockClassId c = KeyClass(Key(i));
        if (c < kernel.nr_lock_classes()) InitNode(nodes[i], c);
      }
    }
    Node& n = nodes[k];
    if (!n.init && KeyClass(k) < kernel.nr_lock_classes()) {
      InitNode(n, KeyClass(k));
    }
    return n;
  }
  void InitNode(Node& n, LockClassId c) {
    const LockClassInfo& ci = kernel.lock_class(c);
    n.init = true;
    n.per_cpu = IsPerCpuType(ci.type);
    n.wait = uint8_t(WaitLevel(ci.wait));
  }

  int WaitLevel(WaitType w) const {
    switch (w) {
      case WaitType::kWaitInv:
        return kLdWaitInv;
      case WaitType::kWaitFree:
        return kLdWaitFree;
      case WaitType::kWaitSpin:
        return kLdWaitSpin;
      case WaitType::kWaitConfig:
        return wait_config;
      case WaitType::kWaitSleep:
        return kLdWaitSleep;
    }
    return kLdWaitInv;
  }

  // task_wait_context().
  int ContextLimit(ContextKind k) const {
    switch (k) {
      case ContextKind::kTask:
        return kLdWaitMax;
      case ContextKind::kSoftirq:
        return wait_config;  // softirqs are always threaded
      case ContextKind::kHardirq:
        return (rt || !opt.threaded_hardirqs) ? kLdWaitSpin : wait_config;
      default:
        return kLdWaitSpin;
    }
  }

  const char* ClassName(Key k) const {
    return kernel.lock_class(KeyClass(k)).name;
  }

  uint8_t ReadKind(const Cpu& cpu, const Event& e) const {
    if (!(e.flags & ctx::kEvRead)) return 0;
    if (!(e.flags & ctx::kEvRecursiveRead)) return 1;
    if (e.lock_type == LockType::kRwlock && opt.queued_rwlocks &&
        !opt.force_read_lock_recursive && !cpu.in_interrupt()) {
      return 1;  // queued rwlock: a task-context reader is not recursive
    }
    return 2;
  }

  // --- Findings --------------------------------------------------------

  FindingLock& AddLock(Finding& f, Key k, LockRole role, const Site& s) {
    FindingLock& l = f.AddLock(ClassName(k), role);
    const LockClassInfo& ci = kernel.lock_class(KeyClass(k));
    l.class_id = KeyClass(k);
    l.lock_type = static_cast<uint8_t>(ci.type);
    l.subclass = KeySubclass(k);
    l.cpu = s.cpu;
    l.context = static_cast<uint8_t>(s.ctx);
    l.flags = s.flags;
    const Node& n = nodes[k];
    l.usage = static_cast<uint8_t>(n.usage & 0xff);
    l.wait = PackWait(n.wait, n.wait);
    l.op_index = s.op;
    l.function = s.fn;
    return l;
  }
  FindingLock& AddHeld(Finding& f, const Held& h, LockRole role) {
    return AddLock(f, h.key, role, h.site());
  }
  // The held-lock list ("N locks held by"), as far as capacity allows.
  void AddHeldList(Finding& f, const CpuState& cs, int skip_index = -1) {
    const int n = held_limit >= 0 ? std::min(cs.n, held_limit) : cs.n;
    for (int i = 0; i < n && !f.locks.full(); ++i) {
      if (i == skip_index) continue;
      AddHeld(f, cs.held[i], LockRole::kHeld);
    }
  }
  const Site* FindUsageSite(Key k, int bit) const {
    for (const UsageRecord& r : usage_records) {
      if (r.key == k && r.bit == bit) return &r.site;
    }
    return nullptr;
  }
  void Report(Cpu& cpu, const Finding& f) {
    ++stats.reports;
    cpu.Report(f);
  }
  Finding Make(Cpu& cpu, FindingKind kind, const Event& e) {
    Finding f = cpu.MakeFinding(kind, e.function);
    if (e.lock_type < LockType::kCount) {
      f.lock_family = ctx::LockFamilyName(e.lock_type);
    }
    return f;
  }

  // --- Graph search ----------------------------------------------------

  void NextStamp() {
    if (++stamp == 0) {
      std::fill(seen_n.begin(), seen_n.end(), 0);
      std::fill(seen_r.begin(), seen_r.end(), 0);
      stamp = 1;
    }
  }
  // Marks (k, only_xr) visited; false if it (or a stronger state) was.
  bool Visit(Key k, bool only_xr) {
    if (seen_n[k] == stamp) return false;
    if (only_xr) {
      if (seen_r[k] == stamp) return false;
      seen_r[k] = stamp;
    } else {
      seen_n[k] = stamp;
    }
    return true;
  }

  // Breadth-first search over strong dependency paths (lockdep's __bfs):
  // a -(*R)-> step may not be followed by a -(S*)-> step. match(node,
  // only_xr) is called for every reached state, root included; skip_percpu
  // leaves local_lock classes out (usage_skip()). Returns the queue index of
  // the first match, or -1.
  template <typename Match>
  int Search(Key root, bool root_xr, bool forward, bool skip_percpu,
             Match&& match) {
    ++stats.searches;
    NextStamp();
    queue.clear();
    queue.push_back({root, root_xr, kNil, kNil});
    Visit(root, root_xr);
    for (size_t qi = 0; qi < queue.size(); ++qi) {
      const QItem it = queue[qi];
      if (skip_percpu && nodes[it.node].per_cpu) continue;
      if (match(it.node, it.only_xr)) return static_cast<int>(qi);
      const Node& n = nodes[it.node];
      for (uint32_t ei = forward ? n.after : n.before; ei != kNil;) {
        const Edge& ed = edges[ei];
        uint8_t dep = forward ? ed.dep : DepBackward(ed.dep);
        if (it.only_xr) dep &= uint8_t(~kDepS);
        const Key to = forward ? ed.to : ed.from;
        const uint32_t cur = ei;
        ei = forward ? ed.next_after : ed.next_before;
        if (dep == 0) continue;
        const bool xr = (dep & kDepN) == 0;
        if (!Visit(to, xr)) continue;
        queue.push_back({to, xr, static_cast<uint32_t>(qi), cur});
      }
    }
    return -1;
  }

  // The edges from the root to queue item qi, root side first.
  Path PathTo(int qi) const {
    Path rev;
    for (uint32_t i = static_cast<uint32_t>(qi); queue[i].parent != kNil;
         i = queue[i].parent) {
      if (rev.n == kMaxPath) {
        rev.truncated = true;
        break;
      }
      rev.edges[rev.n++] = queue[i].edge;
    }
    Path p;
    p.truncated = rev.truncated;
    for (int i = rev.n - 1; i >= 0; --i) p.edges[p.n++] = rev.edges[i];
    return p;
  }

  bool UsageMatch(Key k, bool only_xr, UsageMask mask) const {
    UsageMask u = nodes[k].usage;
    if (only_xr) u &= kIrqWrite;  // a recursive read only conflicts as writer
    return (u & mask) != 0;
  }

  // --- Usage -----------------------------------------------------------

  // mark_lock(): sets bit on h's class; true if that was reported.
  bool MarkLock(Cpu& cpu, const Event& e, const Held& h, int bit,
                const Site& site) {
    Node& n = nodes[h.key];
    const UsageMask f = UsageFlag(bit);
    if (n.usage & f) return false;
    n.usage |= f;
    usage_records.push_back({h.key, static_cast<uint8_t>(bit), site});
    if (bit >= kUsed) return false;
    return MarkLockIrq(cpu, e, h, bit, site);
  }

  // mark_lock_irq().
  bool MarkLockIrq(Cpu& cpu, const Event& e, const Held& h, int bit,
                   const Site& site) {
    const int excl = ExclusiveBit(bit);
    const bool read = bit & kUsageReadMask;
    const bool dir = bit & kUsageDirMask;
    const UsageMask usage = nodes[h.key].usage;
    if (usage & UsageFlag(excl)) {
      ReportInconsistent(cpu, e, h, excl, bit, site);
      return true;
    }
    if (!read && (usage & UsageFlag(excl | kUsageReadMask))) {
      ReportInconsistent(cpu, e, h, excl | kUsageReadMask, bit, site);
      return true;
    }
    const UsageMask mask = UsageFlag(excl) | UsageFlag(excl | kUsageReadMask);
    int qi;
    if (dir) {
      // Became irq-unsafe: nothing irq-safe may be ordered before it.
      qi = Search(h.key, h.read != 0, /*forward=*/false, /*skip_percpu=*/true,
                  [&](Key k, bool xr) { return UsageMatch(k, xr, mask); });
    } else {
      // Became irq-safe: nothing irq-unsafe may be ordered after it.
      qi = Search(h.key, h.read == 2, /*forward=*/true, /*skip_percpu=*/true,
                  [&](Key k, bool xr) { return UsageMatch(k, xr, mask); });
    }
    if (qi < 0) return false;
    const Key other = queue[qi].node;
    const int other_bit =
        (nodes[other].usage & UsageFlag(excl)) ? excl : (excl | kUsageReadMask);
    ReportIrqInversion(cpu, e, h, other, other_bit, /*forwards=*/!dir,
                       PathTo(qi), site);
    return true;
  }

  // The usage bits an acquisition sets (mark_usage()), states generated
  // from REENTRY_LOCKDEP_STATES.
  struct UsageConds {
    bool in_state[kNumLockdepStates];
    bool enabled[kNumLockdepStates];
  };
  UsageConds Conditions(const Cpu& cpu, const Event& e) const {
    // When to set USED_IN_<state> and ENABLED_<state>; one entry per line of
    // REENTRY_LOCKDEP_STATES.
    static_assert(kNumLockdepStates == 2, "give the new state its conditions");
    bool softirq_ctx = false;
    for (int d = 1; d <= e.depth && d <= cpu.depth(); ++d) {
      softirq_ctx |= cpu.frame(d).kind == ContextKind::kSoftirq;
    }
    const bool hardirqs_on = !e.irqs_disabled;
    const bool softirqs_on = !cpu.in_softirq();
    UsageConds c;
    c.in_state[kUsedInHARDIRQ >> 2] = e.context == ContextKind::kHardirq;
    c.in_state[kUsedInSOFTIRQ >> 2] = softirq_ctx;
    c.enabled[kEnabledHARDIRQ >> 2] = hardirqs_on;
    c.enabled[kEnabledSOFTIRQ >> 2] = hardirqs_on && softirqs_on;
    if (rt) {
      // 0c1d7a2c2d32 "lockdep: Remove softirq accounting on PREEMPT_RT":
      // softirqs run in threads there, serialized by a per-CPU lock.
      c.in_state[kUsedInSOFTIRQ >> 2] = false;
      c.enabled[kEnabledSOFTIRQ >> 2] = false;
    }
    return c;
  }
  UsageMask WantedUsage(const Cpu& cpu, const Event& e, const Held& h) const {
    const UsageConds c = Conditions(cpu, e);
    const int rd = h.read ? kUsageReadMask : 0;
    UsageMask want = UsageFlag(h.read ? kUsedRead : kUsed);
    for (int st = 0; st < kNumLockdepStates; ++st) {
      if (c.in_state[st] && !h.trylock) want |= UsageFlag(st * 4 + rd);
      if (c.enabled[st]) want |= UsageFlag(st * 4 + kUsageDirMask + rd);
    }
    return want;
  }

  // mark_usage(): sets the bits in lockdep's order, checking each new one.
  __attribute__((noinline)) bool MarkUsage(Cpu& cpu, const Event& e,
                                           const Held& h) {
    const UsageConds c = Conditions(cpu, e);
    const int rd = h.read ? kUsageReadMask : 0;
    if (!h.trylock) {
      for (int st = 0; st < kNumLockdepStates; ++st) {
        if (c.in_state[st] && MarkLock(cpu, e, h, st * 4 + rd, h.site())) {
          return true;
        }
      }
    }
    for (int st = 0; st < kNumLockdepStates; ++st) {
      if (c.enabled[st] &&
          MarkLock(cpu, e, h, st * 4 + kUsageDirMask + rd, h.site())) {
        return true;
      }
    }
    return MarkLock(cpu, e, h, h.read ? kUsedRead : kUsed, h.site());
  }

  // mark_held_locks() on an irq-enable transition.
  void MarkHeld(Cpu& cpu, const Event& e, int state) {
    CpuState& cs = cpus[e.cpu];
    Site site;
    site.op = e.op_index;
    site.fn = e.function;
    site.cpu = e.cpu;
    site.ctx = e.context;
    for (int i = 0; i < cs.n; ++i) {
      const Held& h = cs.held[i];
      if (!h.tracked) continue;
      const int bit = state * 4 + kUsageDirMask + (h.read ? kUsageReadMask : 0);
      if (MarkLock(cpu, e, h, bit, site)) return;
    }
  }

  // --- Dependencies ----------------------------------------------------

  void AddEdge(const Held& prev, const Held& next) {
    const uint8_t dep = CalcDep(prev.read, next.read);
    for (uint32_t ei = nodes[prev.key].after; ei != kNil;
         ei = edges[ei].next_after) {
      if (edges[ei].to == next.key) {
        edges[ei].dep |= dep;
        return;
      }
    }
    Edge ed;
    ed.from = prev.key;
    ed.to = next.key;
    ed.dep = dep;
    ed.next_after = nodes[prev.key].after;
    ed.next_before = nodes[next.key].before;
    ed.prev_site = prev.site();
    ed.next_site = next.site();
    const uint32_t idx = static_cast<uint32_t>(edges.size());
    edges.push_back(ed);
    nodes[prev.key].after = idx;
    nodes[next.key].before = idx;
  }

  // check_noncircular(): would prev -> next close a strong cycle?
  bool CheckNoncircular(Cpu& cpu, const Event& e, const CpuState& cs,
                        const Held& prev, const Held& next) {
    const int qi = Search(next.key, next.read == 2, /*forward=*/true,
                          /*skip_percpu=*/false, [&](Key k, bool xr) {
                            return k == prev.key && (prev.read == 0 || !xr);
                          });
    if (qi < 0) return false;
    ReportCircular(cpu, e, cs, prev, next, PathTo(qi));
    return true;
  }

  // check_irq_usage(): does prev -> next connect an irq-safe class (before
  // prev) with an irq-unsafe one (after next)?
  bool CheckIrqUsage(Cpu& cpu, const Event& e, const CpuState& cs,
                     const Held& prev, const Held& next) {
    UsageMask acc = 0;
    Search(prev.key, prev.read != 0, /*forward=*/false, /*skip_percpu=*/true,
           [&](Key k, bool) {
             acc |= nodes[k].usage;
             return false;
           });
    acc &= kUsedInIrqAll;
    if (acc == 0) return false;
    const UsageMask fwd_mask = ExclusiveMask(acc);
    const int fq = Search(next.key, next.read == 2, /*forward=*/true,
                          /*skip_percpu=*/true, [&](Key k, bool xr) {
                            return UsageMatch(k, xr, fwd_mask);
                          });
    if (fq < 0) return false;
    const Key unsafe = queue[fq].node;
    const Path fwd_path = PathTo(fq);
    const UsageMask back_mask =
        OriginalMask(nodes[unsafe].usage & kEnabledIrqAll);
    const int bq = Search(prev.key, prev.read != 0, /*forward=*/false,
                          /*skip_percpu=*/true, [&](Key k, bool xr) {
                            return UsageMatch(k, xr, back_mask);
                          });
    if (bq < 0) return false;  // lockdep: DEBUG_LOCKS_WARN_ON, no report
    const Key safe = queue[bq].node;
    const Path back_path = PathTo(bq);
    // find_exclusive_match(), over the used-in bits of the safe class.
    int safe_bit = -1, unsafe_bit = -1;
    const UsageMask su = nodes[safe].usage, uu = nodes[unsafe].usage;
    for (int bit = 0; bit < kUsed && safe_bit < 0; ++bit) {
      if (!(su & UsageFlag(bit)) || (bit & kUsageDirMask)) continue;
      const int ex = ExclusiveBit(bit);
      if (uu & UsageFlag(ex)) {
        safe_bit = bit;
        unsafe_bit = ex;
      } else if (uu & UsageFlag(ex | kUsageReadMask)) {
        safe_bit = bit;
        unsafe_bit = ex | kUsageReadMask;
      }
    }
    if (safe_bit < 0) return false;
    ReportBadIrqDependency(cpu, e, cs, prev, next, safe, safe_bit, unsafe,
                           unsafe_bit, back_path, fwd_path);
    return true;
  }

  // check_prevs_add(): edges into held[idx] from the held locks of its frame
  // (all consecutive trylocked entries and the first blocking one).
  bool CheckPrevsAdd(Cpu& cpu, const Event& e, CpuState& cs, int idx) {
    const Held next = cs.held[idx];
    for (int i = idx - 1; i >= 0; --i) {
      const Held& prev = cs.held[i];
      if (!prev.tracked || prev.depth != next.depth) break;
      if (CheckNoncircular(cpu, e, cs, prev, next)) {
        // lockdep stops here for good; this checker goes on, so it records
        // the dependency that was observed: another cycle through it is
        // another bug.
        AddEdge(prev, next);
        return true;
      }
      if (CheckIrqUsage(cpu, e, cs, prev, next)) return true;
      AddEdge(prev, next);
      if (!prev.trylock) break;
    }
    return false;
  }

  // check_deadlock() within held[idx]'s frame segment.
  bool CheckDeadlockInFrame(Cpu& cpu, const Event& e, CpuState& cs, int idx) {
    const Held& next = cs.held[idx];
    for (int i = idx - 1; i >= 0; --i) {
      const Held& prev = cs.held[i];
      if (!prev.tracked || prev.depth != next.depth) break;
      if (prev.key != next.key) continue;
      if (next.read == 2 && prev.read) continue;  // read-after-read
      ReportRecursive(cpu, e, cs, prev, next,
                      /*same_instance=*/prev.lock == next.lock,
                      /*cross_frame=*/false);
      return true;
    }
    return false;
  }

  // validate_chain() for held[idx].
  void ValidateChain(Cpu& cpu, const Event& e, CpuState& cs, int idx) {
    const Held& h = cs.held[idx];
    if (h.trylock || !h.tracked) return;
    if (opt.chain_cache && !chains.Insert(h.chain_key)) {
      ++stats.chain_hits;
      return;
    }
    ValidateNewChain(cpu, e, cs, idx);
  }

  // A chain not seen before: check_deadlock() and check_prevs_add().
  __attribute__((noinline)) void ValidateNewChain(Cpu& cpu, const Event& e,
                                                  CpuState& cs, int idx) {
    ++stats.chain_misses;
    const Held& h = cs.held[idx];
    if (CheckDeadlockInFrame(cpu, e, cs, idx)) return;
    const bool chain_head = idx == 0 || !cs.held[idx - 1].tracked ||
                            cs.held[idx - 1].depth != h.depth;
    if (!chain_head) (void)CheckPrevsAdd(cpu, e, cs, idx);
  }

  // Chain key and wait limit of held[i] from the entry below it.
  void Link(CpuState& cs, int i, ContextKind frame_kind) {
    Held& h = cs.held[i];
    const bool head = i == 0 || !cs.held[i - 1].tracked ||
                      cs.held[i - 1].depth != h.depth || !h.tracked;
    const uint64_t prev_key = head ? 0 : cs.held[i - 1].chain_key;
    const int below =
        head ? ContextLimit(frame_kind) : cs.held[i - 1].wait_limit;
    const int w = nodes[h.key].wait;
    h.wait_limit = uint8_t(w != kLdWaitInv ? std::min(below, w) : below);
    h.chain_key = IterateChainKey(prev_key, ChainId(h));
  }
  static uint32_t ChainId(Key key, uint8_t read, bool trylock) {
    return key | uint32_t(read) << 20 | uint32_t(trylock ? 1 : 0) << 22;
  }
  static uint32_t ChainId(const Held& h) {
    return ChainId(h.key, h.read, h.trylock);
  }

  // --- Acquire ---------------------------------------------------------

  // The hot path: an acquisition that repeats one the full checks passed at
  // the same stack position with the same inputs (Memo). Returns false to
  // send the acquisition through Acquire().
  bool AcquireFast(const Cpu& cpu, const Event& e) {
    if (static_cast<unsigned>(e.cpu) >= static_cast<unsigned>(ncpus) ||
        e.depth >= ctx::kMaxContextDepth || !opt.chain_cache) {
      return false;
    }
    CpuState& cs = cpus[e.cpu];
    const int n = cs.n;
    if (n >= kMaxHeld || n != cs.per_depth[e.depth] || cs.nolock[e.depth] ||
        e.context == ContextKind::kNmi ||
        (rt && e.context == ContextKind::kHardirq)) {
      return false;
    }
    // All held locks are this frame's: the new one continues its chain.
    const uint64_t prev_chain = n > 0 ? cs.held[n - 1].chain_key : 0;
    const bool in_softirq = cpu.in_softirq();
    const uint8_t bits =
        uint8_t(static_cast<uint8_t>(e.context) | (e.irqs_disabled ? 4 : 0) |
                (in_softirq ? 8 : 0) | (n > 0 ? 16 : 0) | e.depth << 5);
    const Memo& m = cs.memo[n];
    if (!m.valid || m.key != MakeKey(e.class_id, e.subclass) ||
        m.ev_flags != e.flags || m.bits != bits || m.prev_chain != prev_chain) {
      return false;
    }
    Held& h = cs.held[n];
    h.lock = e.lock;
    h.fn = e.function;
    h.chain_key = m.chain_key;
    h.key = m.key;
    h.op = e.op_index;
    h.ev_flags = e.flags;
    h.type = e.lock_type;
    h.depth = e.depth;
    h.read = m.read;
    h.wait_limit = m.wait_limit;
    h.cpu = e.cpu;
    h.ctx = e.context;
    h.trylock = e.flags & ctx::kEvTry;
    h.tracked = true;
    h.irqs_off = e.irqs_disabled;
    h.softirqs_off = in_softirq;
    ++cs.per_depth[e.depth];
    cs.n = n + 1;
    if (!h.trylock) ++stats.chain_hits;
    return true;
  }

  // Everything else: lockdep's checks and this project's rules.
  __attribute__((noinline)) void Acquire(Cpu& cpu, const Event& e) {
    if (e.cpu < 0 || e.cpu >= ncpus || e.class_id == ctx::kNoClass ||
        e.depth >= ctx::kMaxContextDepth) {
      return;
    }
    CpuState& cs = cpus[e.cpu];
    const Key key = MakeKey(e.class_id, e.subclass);
    const bool trylock = e.flags & ctx::kEvTry;
    const bool nmi = e.context == ContextKind::kNmi;
    const bool in_softirq = cpu.in_softirq();
    const int top = cs.n - 1;
    const bool in_segment = top >= 0 && cs.held[top].tracked &&
                            cs.held[top].depth == e.depth && !nmi;
    const uint64_t prev_chain = in_segment ? cs.held[top].chain_key : 0;

    // The new entry is built in place, above the stack's top.
    const bool room = cs.n < kMaxHeld;
    Held& h = room ? cs.held[cs.n] : overflow_slot;
    h.lock = e.lock;
    h.key = key;
    h.type = e.lock_type;
    h.depth = e.depth;
    h.trylock = trylock;
    h.tracked = !nmi;
    h.fn = e.function;
    h.op = e.op_index;
    h.ev_flags = e.flags;
    h.cpu = e.cpu;
    h.ctx = e.context;
    h.irqs_off = e.irqs_disabled;
    h.softirqs_off = in_softirq;

    // Nothing but the checks of a validated chain to do: take the memo.
    const bool plain = !cs.nolock[e.depth] && cs.n == cs.per_depth[e.depth] &&
                       !(rt && e.context == ContextKind::kHardirq) && !nmi &&
                       room && opt.chain_cache;
    const uint8_t bits =
        uint8_t(static_cast<uint8_t>(e.context) | (e.irqs_disabled ? 4 : 0) |
                (in_softirq ? 8 : 0) | (in_segment ? 16 : 0) | e.depth << 5);
    if (key >= nodes.size() || !nodes[key].init) [[unlikely]] {
      EnsureNode(key);
    }
    const uint64_t reports_before = stats.reports;
    const uint8_t read = (e.flags & ctx::kEvRead) ? ReadKind(cpu, e) : 0;
    h.read = read;
    // Chain key and wait limit within the frame.
    const int limit =
        in_segment ? cs.held[top].wait_limit : ContextLimit(e.context);
    const int w = nodes[key].wait;
    h.wait_limit = uint8_t(w != kLdWaitInv && w < limit ? w : limit);
    const uint64_t chain_key =
        IterateChainKey(prev_chain, ChainId(key, read, trylock));
    h.chain_key = chain_key;

    bool wait_reported = false;
    if ((cs.nolock[e.depth] && !trylock) ||
        (rt && (nmi || e.context == ContextKind::kHardirq))) [[unlikely]] {
      wait_reported = ProjectRules(cpu, e, cs, h);
    }
    // Held locks of other frames (interrupted ones, or leaked by exited
    // ones).
    if (!trylock && cs.n != cs.per_depth[e.depth]) [[unlikely]] {
      CheckOtherFrames(cpu, e, cs, h);
    }
    if (nmi) [[unlikely]] {
      // lockdep is off in NMI (lockdep_off() in nmi_enter); a blocking
      // acquisition only gets verify_lock_unused().
      if (!trylock) VerifyLockUnused(cpu, e, cs, h);
      Push(cs, room);
      return;
    }

    // lockdep's __lock_acquire(): wait context, usage, chain.
    bool stop = false;
    if (!trylock && !wait_reported && w > limit && w != kLdWaitInv &&
        !(e.flags & ctx::kEvSeqReader)) [[unlikely]] {
      ReportWaitContext(cpu, e, cs, h, limit);
      stop = true;
    }
    if (!stop) {
      const UsageMask want = WantedUsage(cpu, e, h);
      if ((nodes[key].usage & want) != want) [[unlikely]] {
        stop = MarkUsage(cpu, e, h);
      }
    }
    const int idx = Push(cs, room);
    if (stop || idx < 0) return;
    if (!trylock) {
      if (opt.chain_cache && !chains.Insert(chain_key)) {
        ++stats.chain_hits;
      } else {
        held_limit = idx;
        ValidateNewChain(cpu, e, cs, idx);
        held_limit = -1;
      }
    }
    if (plain && stats.reports == reports_before) {
      Memo& m = cs.memo[idx];
      m.prev_chain = prev_chain;
      m.chain_key = chain_key;
      m.key = key;
      m.ev_flags = e.flags;
      m.bits = bits;
      m.read = read;
      m.wait_limit = h.wait_limit;
      m.valid = true;
    }
  }

  int Push(CpuState& cs, bool room) {
    if (!room) {
      cs.lost = true;
      return -1;
    }
    const int i = cs.n++;
    ++cs.per_depth[cs.held[i].depth];
    return i;
  }

  // The nolock and PREEMPT_RT rules; true if a wait-type report was made.
  __attribute__((noinline)) bool ProjectRules(Cpu& cpu, const Event& e,
                                              CpuState& cs, const Held& h) {
    if (!h.trylock && e.lock_type != LockType::kLockdepMap &&
        cs.nolock[e.depth]) {
      ReportNolock(cpu, e, cs, h);
    }
    if (rt && !(e.flags & ctx::kEvSeqReader) &&
        (e.context == ContextKind::kNmi ||
         e.context == ContextKind::kHardirq) &&
        kernel.lock_class(e.class_id).wait == WaitType::kWaitConfig) {
      ReportRtSpinlockInIrq(cpu, e, cs, h);
      return true;
    }
    return false;
  }

  // Held locks of other frames (interrupted, or left by an exited one):
  // lockdep's check_deadlock() sees the whole task stack, and an instance
  // held by an interrupted frame of this CPU is a definite self-deadlock.
  void CheckOtherFrames(Cpu& cpu, const Event& e, CpuState& cs, const Held& h) {
    const bool nmi = !h.tracked;
    // Skip the current frame's own segment: lockdep checks it per chain.
    int top = cs.n - 1;
    while (top >= 0 && cs.held[top].depth == e.depth &&
           cs.held[top].tracked == h.tracked) {
      --top;
    }
    for (int i = top; i >= 0; --i) {
      const Held& p = cs.held[i];
      const bool same_instance = p.lock == h.lock && h.lock != nullptr;
      const bool same_class = p.key == h.key && p.tracked && !nmi;
      if (!same_instance && !same_class) continue;
      if (h.read == 2 && p.read) continue;  // readers recurse
      if (same_instance && h.read && p.read) continue;
      ReportRecursive(cpu, e, cs, p, h, same_instance, /*cross_frame=*/true);
      return;
    }
  }

  // verify_lock_unused(): a blocking acquisition in NMI of a class that was
  // used outside NMI.
  void VerifyLockUnused(Cpu& cpu, const Event& e, CpuState& cs, const Held& h) {
    UsageMask mask = UsageFlag(kUsed);
    if (!h.read) mask |= UsageFlag(kUsedRead);
    const UsageMask u = nodes[h.key].usage;
    if (!(u & mask)) return;
    const int prev_bit = (u & UsageFlag(kUsed)) ? kUsed : kUsedRead;
    ReportInconsistent(cpu, e, h, prev_bit, kInNmi, h.site());
  }

  // --- Release ---------------------------------------------------------

  void Release(Cpu& cpu, const Event& e) {
    if (e.cpu < 0 || e.cpu >= ncpus) return;
    CpuState& cs = cpus[e.cpu];
    const int top = cs.n - 1;
    if (top >= 0 && cs.held[top].lock == e.lock && cs.held[top].tracked &&
        e.context != ContextKind::kNmi) [[likely]] {
      --cs.per_depth[cs.held[top].depth];
      cs.n = top;
      return;
    }
    ReleaseSlow(cpu, e, cs);
  }

  __attribute__((noinline)) void ReleaseSlow(Cpu& cpu, const Event& e,
                                             CpuState& cs) {
    const bool nmi = e.context == ContextKind::kNmi;
    int idx = -1;
    if (nmi) {
      for (int i = cs.n - 1; i >= 0; --i) {
        if (cs.held[i].lock == e.lock) {
          idx = i;
          break;
        }
      }
      if (idx >= 0) Remove(cpu, e, cs, idx);
      return;
    }
    // find_held_lock(): the most recent lock, or one of the consecutive
    // locks of the same context below it.
    int top = cs.n - 1;
    while (top >= 0 && !cs.held[top].tracked) --top;
    if (top >= 0) {
      if (cs.held[top].lock == e.lock) {
        idx = top;
      } else {
        for (int i = top - 1; i >= 0; --i) {
          if (!cs.held[i].tracked || cs.held[i].depth != cs.held[top].depth) {
            break;
          }
          if (cs.held[i].lock == e.lock) {
            idx = i;
            break;
          }
        }
      }
    }
    if (idx >= 0) {
      Remove(cpu, e, cs, idx);
      return;
    }
    ReportBadUnlock(cpu, e, cs);
    // Keep in step with the lock layer, which dropped the hold anyway.
    for (int i = cs.n - 1; i >= 0; --i) {
      if (cs.held[i].lock == e.lock) {
        Remove(cpu, e, cs, i);
        return;
      }
    }
    if (e.flags & ctx::kEvRead) return;
    for (size_t c = 0; c < cpus.size(); ++c) {
      CpuState& o = cpus[c];
      for (int i = o.n - 1; i >= 0; --i) {
        if (o.held[i].lock == e.lock) {
          RemoveQuiet(o, i);
          return;
        }
      }
    }
  }

  void RemoveQuiet(CpuState& cs, int idx) {
    --cs.per_depth[cs.held[idx].depth];
    for (int i = idx + 1; i < cs.n; ++i) cs.held[i - 1] = cs.held[i];
    --cs.n;
  }

  // Removes held[idx]; the locks above it are acquired again
  // (reacquire_held_locks()) so their chains are revalidated.
  void Remove(Cpu& cpu, const Event& e, CpuState& cs, int idx) {
    RemoveQuiet(cs, idx);
    for (int i = idx; i < cs.n; ++i) {
      const Held& h = cs.held[i];
      const ContextKind k =
          h.depth <= cpu.depth() ? cpu.frame(h.depth).kind : ContextKind::kTask;
      Link(cs, i, k);
      held_limit = i;
      ValidateChain(cpu, e, cs, i);
      held_limit = -1;
    }
  }

  // --- Other events ----------------------------------------------------

  void HeldCheck(Cpu& cpu, const Event& e, FindingKind kind) {
    const bool per_cpu = IsPerCpuType(e.lock_type);
    for (size_t c = 0; c < cpus.size(); ++c) {
      const CpuState& cs = cpus[c];
      for (int i = 0; i < cs.n; ++i) {
        const Held& h = cs.held[i];
        const bool match =
            h.lock == e.lock ||
            (per_cpu && KeyClass(h.key) == e.class_id && IsPerCpuType(h.type));
        if (!match) continue;
        Finding f = Make(cpu, kind, e);
        f.cause = Mix(Mix(static_cast<uint64_t>(kind), h.key),
                      reinterpret_cast<uintptr_t>(e.function));
        AddHeld(f, h, LockRole::kAcquiring);
        AddHeldList(f, cs);
        char d[sizeof(f.detail)];
        snprintf(
            d, sizeof(d),
            "%s %s by %s on CPU#%d while CPU#%d (%s context) holds it "
            "(taken%s)",
            ClassName(h.key),
            kind == FindingKind::kHeldLockFreed ? "freed" : "re-initialized",
            e.function ? e.function : "?", e.cpu, static_cast<int>(c),
            CtxName(h.ctx), SiteText(h.op, h.fn).c_str());
        f.SetDetail(d);
        Report(cpu, f);
        return;
      }
    }
  }

  // Real atomicity, whatever CONFIG_PREEMPT_COUNT records (BZ-16).
  struct Atomicity {
    bool atomic = false;
    bool rt_atomic = false;  // atomic even on PREEMPT_RT
    int spinning_held = 0;
    int raw_held_frame = 0;  // raw spinlocks held by the current frame
    const char* why = "";
  };
  Atomicity AtomicState(const Cpu& cpu, const Event& e) const {
    Atomicity a;
    const CpuState& cs = cpus[e.cpu];
    int raw = 0;
    for (int i = 0; i < cs.n; ++i) {
      const Held& h = cs.held[i];
      const bool spinning =
          h.type == LockType::kRawSpinlock ||
          (!rt &&
           (h.type == LockType::kSpinlock || h.type == LockType::kRwlock ||
            h.type == LockType::kSeqlock || IsPerCpuType(h.type)));
      if (spinning) ++a.spinning_held;
      if (h.type == LockType::kRawSpinlock) {
        ++raw;
        if (h.depth == e.depth) ++a.raw_held_frame;
      }
    }
    const bool in_irq = e.context != ContextKind::kTask || cpu.in_interrupt();
    if (e.context == ContextKind::kNmi) {
      a.why = "in NMI context";
    } else if (e.context == ContextKind::kHardirq) {
      a.why = "in hardirq context";
    } else if (e.context == ContextKind::kSoftirq) {
      a.why = "in softirq context";
    } else if (cpu.in_interrupt()) {
      a.why = "with bottom halves disabled";
    } else if (e.irqs_disabled) {
      a.why = "with interrupts disabled";
    } else if (a.spinning_held > 0) {
      a.why = "with a spinning lock held";
    } else if (cpu.preempt_disable_depth() > 0) {
      a.why = "with preemption disabled";
    }
    a.atomic = in_irq || e.irqs_disabled || cpu.preempt_disable_depth() > 0 ||
               a.spinning_held > 0;
    a.rt_atomic = e.context == ContextKind::kHardirq ||
                  e.context == ContextKind::kNmi || e.irqs_disabled ||
                  cpu.preempt_disable_depth() > 0 || raw > 0;
    return a;
  }

  void MightSleep(Cpu& cpu, const Event& e) {
    if (e.flags & ctx::kEvAtomicByCount) return;  // the kernel's check fired
    if (e.cpu < 0 || static_cast<size_t>(e.cpu) >= cpus.size()) return;
    const Atomicity a = AtomicState(cpu, e);
    // A spinlock_t on PREEMPT_RT (rtlock_might_resched()) may be taken in
    // softirq and bh-disabled code: both are preemptible threads there.
    if (!((e.flags & ctx::kEvRtlock) ? a.rt_atomic : a.atomic)) return;
    const CpuState& cs = cpus[e.cpu];
    Finding f = Make(cpu, FindingKind::kSleepInAtomic, e);
    f.cause = Mix(0x51ee9, reinterpret_cast<uintptr_t>(e.function));
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "in_atomic(): %d, irqs_disabled(): %d, preempt_count: %#x, but "
             "the context is atomic %s (preempt_disable depth %u, %d spinning "
             "lock(s) held)%s",
             cpu.in_atomic() ? 1 : 0, e.irqs_disabled ? 1 : 0,
             cpu.preempt_count(), a.why, cpu.preempt_disable_depth(),
             a.spinning_held,
             cpu.config().preempt_count ? "" : "; CONFIG_PREEMPT_COUNT=n");
    f.SetDetail(d);
    Report(cpu, f);
  }

  void MightAlloc(Cpu& cpu, const Event& e) {
    if (e.cpu < 0 || static_cast<size_t>(e.cpu) >= cpus.size()) return;
    const gfp_t g = e.gfp;
    const bool blocking = g & gfp::__GFP_DIRECT_RECLAIM;
    bool spinning = g & gfp::__GFP_RECLAIM;
    if (cpu.config().nolock_design == ctx::NolockDesign::kV2Trylock &&
        (g & gfp::__GFP_TRYLOCK)) {
      spinning = false;
    }
    const Atomicity a = AtomicState(cpu, e);
    const char* why = nullptr;
    uint64_t reason = 0;
    char d[200];
    if (blocking && a.atomic) {
      reason = 1;
      snprintf(d, sizeof(d),
               "%s allows direct reclaim (gfpflags_allow_blocking) and may "
               "sleep, but it is called %s; use GFP_ATOMIC/GFP_NOWAIT or "
               "allocate before entering the atomic section",
               GfpToString(g).c_str(), a.why);
      why = d;
    } else if (spinning && e.context == ContextKind::kNmi) {
      reason = 2;
      snprintf(d, sizeof(d),
               "%s from NMI: gfpflags_allow_spinning() is true, so the "
               "allocator may spin on zone->lock/pcp->lock the NMI "
               "interrupted; only alloc_pages_nolock() is NMI-safe",
               GfpToString(g).c_str());
      why = d;
    } else if (spinning && rt && a.rt_atomic) {
      reason = 3;
      snprintf(d, sizeof(d),
               "PREEMPT_RT: %s takes zone->lock/pcp->lock, which are "
               "sleeping locks on RT, but it is called %s%s",
               GfpToString(g).c_str(),
               e.context == ContextKind::kHardirq ? "in hardirq context"
               : a.raw_held_frame                 ? "under a raw spinlock"
               : e.irqs_disabled                  ? "with interrupts disabled"
                                                  : "with preemption disabled",
               "; use alloc_pages_nolock() or allocate outside");
      why = d;
    } else if (spinning && !rt && a.raw_held_frame > 0 &&
               cpu.config().prove_raw_lock_nesting) {
      reason = 4;
      snprintf(d, sizeof(d),
               "%s under a raw spinlock: the allocator takes spinlock_t "
               "zone->lock/pcp->lock, sleeping locks on PREEMPT_RT "
               "(CONFIG_PROVE_RAW_LOCK_NESTING)",
               GfpToString(g).c_str());
      why = d;
    }
    if (why == nullptr) return;
    Finding f = Make(cpu, FindingKind::kAllocInvalidContext, e);
    f.gfp = g;
    f.order = e.order;
    f.cause = Mix(Mix(0xa11c, reason),
                  Mix(reinterpret_cast<uintptr_t>(e.function), g));
    AddHeldList(f, cpus[e.cpu]);
    f.SetDetail(why);
    Report(cpu, f);
  }

  // --- Reports ---------------------------------------------------------

  void ReportNolock(Cpu& cpu, const Event& e, const CpuState& cs,
                    const Held& h) {
    Finding f = Make(cpu, FindingKind::kNonTryLockInNolock, e);
    f.cause = Mix(0x701c, Mix(h.key, reinterpret_cast<uintptr_t>(e.function)));
    AddHeld(f, h, LockRole::kAcquiring);
    const Site& ns = cs.nolock_site[e.depth];
    FindingLock& o = f.AddLock(ns.fn ? ns.fn : "nolock", LockRole::kOther);
    o.cpu = ns.cpu;
    o.context = static_cast<uint8_t>(ns.ctx);
    o.op_index = ns.op;
    o.function = ns.fn;
    o.class_id = ctx::kNoClass;
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "%s taken%s is a %s acquisition inside %s (entered%s): a nolock "
             "path may only trylock",
             ClassName(h.key), SiteText(e.op_index, e.function).c_str(),
             e.lock_type == LockType::kMutex ? "sleeping" : "spinning",
             ns.fn ? ns.fn : "a nolock API", SiteText(ns.op, nullptr).c_str());
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportRtSpinlockInIrq(Cpu& cpu, const Event& e, const CpuState& cs,
                             const Held& h) {
    Finding f = Make(cpu, FindingKind::kInvalidWaitContext, e);
    f.cause = Mix(0x27b2, Mix(h.key, static_cast<uint64_t>(e.context)));
    AddHeld(f, h, LockRole::kAcquiring);
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "context-{%d:%d}\nPREEMPT_RT: %s is an rtmutex; %s from %s "
             "context is invalid (its owner would be the interrupted task, "
             "its wait_lock may be held)",
             kLdWaitSpin, kLdWaitSpin, ClassName(h.key),
             h.trylock ? "even a trylock of it" : "acquiring it",
             CtxName(e.context));
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportWaitContext(Cpu& cpu, const Event& e, const CpuState& cs,
                         const Held& h, int limit) {
    Finding f = Make(cpu, FindingKind::kInvalidWaitContext, e);
    f.cause = Mix(0x3a17, Mix(h.key, Mix(static_cast<uint64_t>(e.context),
                                         static_cast<uint64_t>(limit))));
    AddHeld(f, h, LockRole::kAcquiring);
    AddHeldList(f, cs);
    // What set the limit: the strictest held lock of this context, or the
    // context itself.
    const Held* by = nullptr;
    for (int i = cs.n - 1; i >= 0; --i) {
      const Held& p = cs.held[i];
      if (!p.tracked || p.depth != e.depth) break;
      const int w = nodes[p.key].wait;
      if (w != kLdWaitInv && w == limit && by == nullptr) by = &p;
    }
    char what[96];
    if (by != nullptr && limit < ContextLimit(e.context)) {
      snprintf(what, sizeof(what), "under %s {%d:%d}", ClassName(by->key),
               limit, limit);
    } else if (e.context == ContextKind::kHardirq) {
      snprintf(what, sizeof(what), "in %s",
               rt ? "hardirq context (PREEMPT_RT: a hard interrupt)"
                  : "a hard (non-threaded) hardirq context");
    } else {
      snprintf(what, sizeof(what), "in %s context", CtxName(e.context));
    }
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "context-{%d:%d}\n%s {%d:%d} may not be taken %s: only locks "
             "up to {%d:%d} may be",
             limit, limit, ClassName(h.key), nodes[h.key].wait,
             nodes[h.key].wait, what, limit, limit);
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportRecursive(Cpu& cpu, const Event& e, const CpuState& cs,
                       const Held& prev, const Held& next, bool same_instance,
                       bool cross_frame) {
    Finding f = Make(cpu, FindingKind::kRecursiveLocking, e);
    f.cause =
        Mix(Mix(0x2ec, next.key), Mix(static_cast<uint64_t>(prev.ctx) << 8 |
                                          static_cast<uint64_t>(e.context),
                                      same_instance ? 1 : 0));
    AddHeld(f, next, LockRole::kAcquiring);
    AddHeld(f, prev, LockRole::kHolder);
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    if (cross_frame && same_instance) {
      const bool exited = prev.depth >= e.depth;
      snprintf(d, sizeof(d),
               "AA: %s taken in %s context on CPU#%d while the %s %s frame of "
               "the same CPU holds it (taken%s): it can never be released",
               ClassName(next.key), CtxName(e.context), e.cpu,
               exited ? "exited" : "interrupted", CtxName(prev.ctx),
               SiteText(prev.op, prev.fn).c_str());
    } else if (same_instance) {
      snprintf(d, sizeof(d),
               "AA: %s taken twice in %s context on CPU#%d (first%s)",
               ClassName(next.key), CtxName(e.context), e.cpu,
               SiteText(prev.op, prev.fn).c_str());
    } else {
      snprintf(d, sizeof(d),
               "two locks of class %s nested (%s context holds one, %s "
               "context takes another): a deadlock if they can be the same "
               "lock; may be due to missing lock nesting notation",
               ClassName(next.key), CtxName(prev.ctx), CtxName(e.context));
    }
    f.SetDetail(d);
    Report(cpu, f);
  }

  void AddPath(Finding& f, const Path& p, LockRole role) {
    for (int i = 0; i < p.n && !f.locks.full(); ++i) {
      const Edge& ed = edges[p.edges[i]];
      AddLock(f, ed.to, role, ed.next_site);
    }
  }

  void ReportCircular(Cpu& cpu, const Event& e, const CpuState& cs,
                      const Held& prev, const Held& next, const Path& path) {
    Finding f = Make(cpu, FindingKind::kCircularDependency, e);
    // The cycle's classes, in order-independent form.
    Key ks[kMaxPath + 2];
    int nk = 0;
    ks[nk++] = next.key;
    for (int i = 0; i < path.n; ++i) ks[nk++] = edges[path.edges[i]].to;
    std::sort(ks, ks + nk);
    uint64_t cause = 0xc1c1e;
    for (int i = 0; i < nk; ++i) {
      if (i == 0 || ks[i] != ks[i - 1]) cause = Mix(cause, ks[i]);
    }
    f.cause = cause;
    AddHeld(f, next, LockRole::kAcquiring);
    AddHeld(f, prev, LockRole::kHolder);
    // "the existing dependency chain (in reverse order)": #N (prev) .. #1.
    for (int i = path.n - 1; i >= 0 && !f.locks.full(); --i) {
      const Edge& ed = edges[path.edges[i]];
      AddLock(f, ed.to, LockRole::kChainExisting, ed.next_site);
    }
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    int n =
        snprintf(d, sizeof(d), "%s -> %s closes the cycle %s",
                 ClassName(prev.key), ClassName(next.key), ClassName(next.key));
    for (int i = 0; i < path.n && n > 0 && n < static_cast<int>(sizeof(d));
         ++i) {
      n += snprintf(d + n, sizeof(d) - n, " -> %s",
                    ClassName(edges[path.edges[i]].to));
    }
    if (path.truncated && n > 0 && n < static_cast<int>(sizeof(d))) {
      snprintf(d + n, sizeof(d) - n, " -> ...");
    }
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportInconsistent(Cpu& cpu, const Event& e, const Held& h, int prev_bit,
                          int new_bit, const Site& site) {
    Finding f = Make(cpu, FindingKind::kInconsistentLockState, e);
    f.lock_family = ctx::LockFamilyName(h.type);
    f.cause = Mix(Mix(0x1c5, h.key), prev_bit << 8 | new_bit);
    AddHeld(f, h, LockRole::kAcquiring);
    (void)site;
    const Site* ps = FindUsageSite(h.key, prev_bit);
    if (ps != nullptr) AddLock(f, h.key, LockRole::kUsage, *ps);
    if (e.cpu >= 0 && static_cast<size_t>(e.cpu) < cpus.size()) {
      AddHeldList(f, cpus[e.cpu]);
    }
    bool softirq_ctx = false;
    for (int dd = 0; dd <= cpu.depth(); ++dd) {
      softirq_ctx |= cpu.frame(dd).kind == ContextKind::kSoftirq;
    }
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "inconsistent {%s} -> {%s} usage.\n[HC%d[%u]:SC%d[%u]:HE%d:SE%d]",
             UsageString(prev_bit), UsageString(new_bit),
             cpu.in_hardirq() ? 1 : 0, (cpu.preempt_count() >> 16) & 0xf,
             softirq_ctx ? 1 : 0, (cpu.preempt_count() >> 8) & 0xff,
             cpu.irqs_disabled() ? 0 : 1, cpu.in_softirq() ? 0 : 1);
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportIrqInversion(Cpu& cpu, const Event& e, const Held& h, Key other,
                          int other_bit, bool forwards, const Path& path,
                          const Site& site) {
    Finding f = Make(cpu, FindingKind::kIrqInversion, e);
    f.lock_family = ctx::LockFamilyName(h.type);
    f.context_name = UsageStateName(other_bit);
    f.cause = Mix(Mix(0x1a7, h.key), Mix(other, other_bit));
    AddHeld(f, h, LockRole::kAcquiring);
    (void)site;
    const Site* os = FindUsageSite(other, other_bit);
    AddLock(f, other, LockRole::kUsage, os != nullptr ? *os : Site());
    AddPath(f, path, LockRole::kChainExisting);
    if (e.cpu >= 0 && static_cast<size_t>(e.cpu) < cpus.size()) {
      AddHeldList(f, cpus[e.cpu]);
    }
    char d[sizeof(f.detail)];
    if (forwards) {
      snprintf(d, sizeof(d),
               "but this lock took another, %s-unsafe lock in the past:",
               UsageStateName(other_bit));
    } else {
      snprintf(d, sizeof(d),
               "but this lock was taken by another, %s-safe lock in the past:",
               UsageStateName(other_bit));
    }
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportBadIrqDependency(Cpu& cpu, const Event& e, const CpuState& cs,
                              const Held& prev, const Held& next, Key safe,
                              int safe_bit, Key unsafe, int unsafe_bit,
                              const Path& back, const Path& fwd) {
    Finding f = Make(cpu, FindingKind::kIrqSafeToUnsafe, e);
    f.context_name = UsageStateName(safe_bit);
    f.cause = Mix(Mix(0xb1d, safe), Mix(unsafe, safe_bit << 8 | unsafe_bit));
    AddHeld(f, next, LockRole::kAcquiring);
    AddHeld(f, prev, LockRole::kHolder);
    const Site* ss = FindUsageSite(safe, safe_bit);
    AddLock(f, safe, LockRole::kUsage, ss != nullptr ? *ss : Site());
    const Site* us = FindUsageSite(unsafe, unsafe_bit);
    AddLock(f, unsafe, LockRole::kUsage, us != nullptr ? *us : Site());
    AddHeldList(f, cs);
    char d[sizeof(f.detail)];
    int n = snprintf(d, sizeof(d), "%s", ClassName(safe));
    // back: edges from prev backwards, i.e. prev <- ... <- safe.
    for (int i = back.n - 1; i >= 0 && n > 0 && n < static_cast<int>(sizeof(d));
         --i) {
      n += snprintf(d + n, sizeof(d) - n, " -> %s",
                    ClassName(edges[back.edges[i]].to));
    }
    if (n > 0 && n < static_cast<int>(sizeof(d))) {
      n += snprintf(d + n, sizeof(d) - n, " -> %s", ClassName(next.key));
    }
    for (int i = 0; i < fwd.n && n > 0 && n < static_cast<int>(sizeof(d));
         ++i) {
      n += snprintf(d + n, sizeof(d) - n, " -> %s",
                    ClassName(edges[fwd.edges[i]].to));
    }
    (void)unsafe_bit;
    f.SetDetail(d);
    Report(cpu, f);
  }

  void ReportBadUnlock(Cpu& cpu, const Event& e, const CpuState& cs) {
    if (cs.lost) return;
    Finding f = Make(cpu, FindingKind::kBadUnlockBalance, e);
    const Key key = MakeKey(e.class_id, 0);
    if (e.class_id != ctx::kNoClass) EnsureNode(key);
    f.cause = Mix(0xbad, Mix(key, reinterpret_cast<uintptr_t>(e.function)));
    Site s;
    s.op = e.op_index;
    s.fn = e.function;
    s.cpu = e.cpu;
    s.ctx = e.context;
    if (e.class_id != ctx::kNoClass) AddLock(f, key, LockRole::kAcquiring, s);
    AddHeldList(f, cs);
    // Who holds it, if anyone.
    const char* where = "no CPU holds it";
    char buf[96];
    for (size_t c = 0; c < cpus.size(); ++c) {
      for (int i = 0; i < cpus[c].n; ++i) {
        const Held& h = cpus[c].held[i];
        if (h.lock != e.lock) continue;
        if (static_cast<int>(c) == e.cpu) {
          snprintf(buf, sizeof(buf),
                   "it is held by the %s frame of this CPU, not by the "
                   "releasing %s context",
                   CtxName(h.ctx), CtxName(e.context));
        } else {
          snprintf(buf, sizeof(buf), "it is held by CPU#%d (%s context)",
                   static_cast<int>(c), CtxName(h.ctx));
        }
        where = buf;
      }
    }
    char d[sizeof(f.detail)];
    snprintf(d, sizeof(d),
             "%s releases %s but there are no more locks to release: %s",
             e.function ? e.function : "?",
             e.class_id != ctx::kNoClass ? ClassName(key) : "a lock", where);
    f.SetDetail(d);
    Report(cpu, f);
  }
};

// ---------------------------------------------------------------------------

Lockdep::Lockdep(ctx::Kernel& kernel, const Options& options)
    : impl_(std::make_unique<Impl>(kernel, options)) {}

Lockdep::~Lockdep() = default;

void Lockdep::OnEvent(ctx::Cpu& cpu, const ctx::Event& e) {
  // The three events of every lock pair first, each a call or less; the rest
  // out of line so this stays a small function.
  Impl& m = *impl_;
  if (e.kind == EventKind::kLockAcquire) {
    ++m.stats.acquisitions;
    if (!m.AcquireFast(cpu, e)) m.Acquire(cpu, e);
  } else if (e.kind == EventKind::kLockAcquired) {
    return;
  } else if (e.kind == EventKind::kLockRelease) {
    m.Release(cpu, e);
  } else {
    OnOtherEvent(cpu, e);
  }
}

void Lockdep::OnOtherEvent(ctx::Cpu& cpu, const ctx::Event& e) {
  Impl& m = *impl_;
  switch (e.kind) {
    case EventKind::kLockInit:
      m.HeldCheck(cpu, e, FindingKind::kHeldLockReinit);
      break;
    case EventKind::kLockFree:
      m.HeldCheck(cpu, e, FindingKind::kHeldLockFreed);
      break;
    case EventKind::kHardirqsOn:
      if (e.context == ContextKind::kNmi) break;
      m.MarkHeld(cpu, e, kUsedInHARDIRQ / 4);
      if (!cpu.in_softirq() && !m.rt) m.MarkHeld(cpu, e, kUsedInSOFTIRQ / 4);
      break;
    case EventKind::kSoftirqsOn:
      if (e.context == ContextKind::kNmi || m.rt) break;
      if (!e.irqs_disabled && !cpu.in_softirq()) {
        m.MarkHeld(cpu, e, kUsedInSOFTIRQ / 4);
      }
      break;
    case EventKind::kContextExit:
      if (e.cpu >= 0 && static_cast<size_t>(e.cpu) < m.cpus.size() &&
          e.depth < ctx::kMaxContextDepth) {
        m.cpus[e.cpu].nolock[e.depth] = 0;
      }
      break;
    case EventKind::kMightSleep:
      m.MightSleep(cpu, e);
      break;
    case EventKind::kMightAlloc:
      m.MightAlloc(cpu, e);
      break;
    case EventKind::kNolockEnter:
      if (e.cpu >= 0 && static_cast<size_t>(e.cpu) < m.cpus.size() &&
          e.depth < ctx::kMaxContextDepth) {
        CpuState& cs = m.cpus[e.cpu];
        if (cs.nolock[e.depth]++ == 0) {
          Site s;
          s.op = e.op_index;
          s.fn = e.function;
          s.cpu = e.cpu;
          s.ctx = e.context;
          cs.nolock_site[e.depth] = s;
        }
      }
      break;
    case EventKind::kNolockExit:
      if (e.cpu >= 0 && static_cast<size_t>(e.cpu) < m.cpus.size() &&
          e.depth < ctx::kMaxContextDepth && m.cpus[e.cpu].nolock[e.depth]) {
        --m.cpus[e.cpu].nolock[e.depth];
      }
      break;
    default:
      break;
  }
}

const Options& Lockdep::options() const { return impl_->opt; }
const Stats& Lockdep::stats() const { return impl_->stats; }
size_t Lockdep::nr_chains() const { return impl_->chains.size(); }
size_t Lockdep::nr_dependencies() const { return impl_->edges.size(); }

bool Lockdep::HasDependency(ctx::LockClassId a, ctx::LockClassId b,
                            uint8_t sub_a, uint8_t sub_b) const {
  const Key ka = MakeKey(a, sub_a), kb = MakeKey(b, sub_b);
  if (ka >= impl_->nodes.size()) return false;
  for (uint32_t ei = impl_->nodes[ka].after; ei != kNil;
       ei = impl_->edges[ei].next_after) {
    if (impl_->edges[ei].to == kb) return true;
  }
  return false;
}

uint16_t Lockdep::Usage(ctx::LockClassId c, uint8_t subclass) const {
  const Key k = MakeKey(c, subclass);
  return k < impl_->nodes.size() ? impl_->nodes[k].usage : 0;
}

int Lockdep::HeldCount(int cpu) const {
  if (cpu < 0 || static_cast<size_t>(cpu) >= impl_->cpus.size()) return 0;
  return impl_->cpus[cpu].n;
}

// ---------------------------------------------------------------------------
// usage.h

namespace {

constexpr const char* kUsageStrings[] = {
#define REENTRY_USAGE_STR(s) \
  "IN-" #s "-W", "IN-" #s "-R", #s "-ON-W", #s "-ON-R",
    REENTRY_LOCKDEP_STATES(REENTRY_USAGE_STR)
#undef REENTRY_USAGE_STR
        "INITIAL USE",
    "INITIAL READ USE",
    "IN-NMI",
};
constexpr const char* kStateNames[] = {
#define REENTRY_STATE_NAME(s) #s,
    REENTRY_LOCKDEP_STATES(REENTRY_STATE_NAME)
#undef REENTRY_STATE_NAME
};
constexpr const char* kStateReadNames[] = {
#define REENTRY_STATE_RNAME(s) #s "-READ",
    REENTRY_LOCKDEP_STATES(REENTRY_STATE_RNAME)
#undef REENTRY_STATE_RNAME
};

}  // namespace

const char* UsageString(int bit) {
  if (bit < 0 || bit > kInNmi) return "?";
  return kUsageStrings[bit];
}

const char* UsageStateName(int bit) {
  if (bit < 0 || bit >= kUsed) return "?";
  return (bit & kUsageReadMask) ? kStateReadNames[bit >> 2]
                                : kStateNames[bit >> 2];
}

const char* UsageStateBaseName(int bit) {
  if (bit < 0 || bit >= kUsed) return "?";
  return kStateNames[bit >> 2];
}

void UsageChars(UsageMask usage, char* out) {
  int i = 0;
  for (int st = 0; st < kNumLockdepStates; ++st) {
    for (int rd = 0; rd < 2; ++rd) {
      const int used_in = st * 4 + rd;
      const int enabled = used_in + kUsageDirMask;
      char c = '.';
      if (usage & UsageFlag(enabled)) {
        c = (usage & UsageFlag(used_in)) ? '?' : '+';
      } else if (usage & UsageFlag(used_in)) {
        c = '-';
      }
      out[i++] = c;
    }
  }
  out[i] = '\0';
}

}  // namespace reentry::lockdep
