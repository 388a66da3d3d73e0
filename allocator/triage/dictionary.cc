#include "allocator/triage/dictionary.h"

#include <cstdio>
#include <set>

#include "allocator/base/gfp.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/program.h"

namespace reentry::triage {
namespace {

using namespace ::reentry::gfp;  // NOLINT: kernel spelling
using prog::Op;
using prog::Program;

// The bytes of a program's header (config, bugs, lock table) as the encoder
// writes it for p without ops.
std::string HeaderBytes(const Program& p) {
  Program h = p;
  h.ops.clear();
  return prog::EncodeProgram(h);
}

// The bytes of ops within program p (after its header).
std::string OpBytes(Program p, std::vector<Op> ops) {
  const std::string header = HeaderBytes(p);
  p.ops = std::move(ops);
  return prog::EncodeProgram(p).substr(header.size());
}

std::string Le32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

class Builder {
 public:
  void Add(std::string name, std::string bytes) {
    if (bytes.empty() || bytes.size() > 64 || !seen_.insert(bytes).second) {
      return;
    }
    for (char& c : name) {
      if (!prog::IsIdentChar(c)) c = '_';
    }
    entries_.emplace_back(std::move(name), std::move(bytes));
  }
  std::vector<std::pair<std::string, std::string>> Take() {
    return std::move(entries_);
  }

 private:
  std::set<std::string> seen_;
  std::vector<std::pair<std::string, std::string>> entries_;
};

struct NamedGfp {
  const char* name;
  gfp_t value;
};
constexpr NamedGfp kGfps[] = {
#define REENTRY_DICT_GFP_COMPOSITE(name, value) {name, value},
    REENTRY_GFP_COMPOSITES(REENTRY_DICT_GFP_COMPOSITE)
#undef REENTRY_DICT_GFP_COMPOSITE
};
constexpr NamedGfp kGfpBits[] = {
#define REENTRY_DICT_GFP_BIT(e, bit, name) {name, gfp_t{1} << bit},
    REENTRY_GFP_BITS(REENTRY_DICT_GFP_BIT)
#undef REENTRY_DICT_GFP_BIT
};

void AddConfigs(Builder& b) {
  for (int cpus = 1; cpus <= 4; ++cpus) {
    for (int rt = 0; rt < 2; ++rt) {
      for (int v2 = 0; v2 < 2; ++v2) {
        Program p;
        p.config.nr_cpus = cpus;
        p.config.preempt_rt = rt;
        p.config.nolock_design =
            v2 ? ctx::NolockDesign::kV2Trylock : ctx::NolockDesign::kFinal;
        b.Add("config_cpus" + std::to_string(cpus) + (rt ? "_rt" : "") +
                  (v2 ? "_v2" : ""),
              HeaderBytes(p).substr(0, 2));
      }
    }
  }
  Program up;
  up.config.smp = false;
  up.config.nr_cpus = 1;
  b.Add("config_up", HeaderBytes(up).substr(0, 2));
  Program nopc;
  nopc.config.preempt_count = false;
  b.Add("config_no_preempt_count", HeaderBytes(nopc).substr(0, 2));
}

void AddGfps(Builder& b) {
  for (const NamedGfp& g : kGfps)
    b.Add(std::string("gfp_") + g.name, Le32(g.value));
  for (const NamedGfp& g : kGfpBits)
    b.Add(std::string("gfp") + g.name, Le32(g.value));
  b.Add("gfp_0", Le32(0));
  b.Add("gfp_GFP_KERNEL_ZERO", Le32(GFP_KERNEL | __GFP_ZERO));
  b.Add("gfp_GFP_ATOMIC_NOWARN", Le32(GFP_ATOMIC | __GFP_NOWARN));
  b.Add("gfp_GFP_KERNEL_NOFAIL", Le32(GFP_KERNEL | __GFP_NOFAIL));
  b.Add("gfp_GFP_ATOMIC_NOFAIL", Le32(GFP_ATOMIC | __GFP_NOFAIL));
  b.Add("gfp_GFP_NOWAIT_TRYLOCK", Le32(GFP_NOWAIT | __GFP_TRYLOCK));
  b.Add("gfp_TRYLOCK_ACCOUNT", Le32(__GFP_TRYLOCK | __GFP_ACCOUNT));
  b.Add("gfp_GFP_KERNEL_COMP", Le32(GFP_KERNEL | __GFP_COMP));
}

void AddAllocatorOps(Builder& b, bool all_gfps) {
  const Program p;
  const gfp_t common[] = {GFP_KERNEL, GFP_ATOMIC,         GFP_NOWAIT,
                          GFP_NOFS,   GFP_KERNEL_ACCOUNT, GFP_HIGHUSER_MOVABLE};
  for (uint8_t order : {0, 1, 3}) {
    for (gfp_t g : common) {
      b.Add("alloc_pages_" + GfpToString(g) + "_o" + std::to_string(order),
            OpBytes(p, {prog::AllocPages{{0}, {g}, {order}}}));
    }
    b.Add("alloc_pages_nolock_o" + std::to_string(order),
          OpBytes(p, {prog::AllocPagesNolock{{1}, {0}, {order}}}));
  }
  if (all_gfps) {
    for (const NamedGfp& g : kGfps) {
      b.Add(std::string("alloc_pages_") + g.name,
            OpBytes(p, {prog::AllocPages{{2}, {g.value}, {0}}}));
    }
  }
  b.Add("free_pages", OpBytes(p, {prog::FreePages{{0}}}));
  b.Add("free_pages_nolock", OpBytes(p, {prog::FreePagesNolock{{1}}}));
  b.Add("alloc_pages_bulk",
        OpBytes(p, {prog::AllocPagesBulk{{4}, {GFP_KERNEL}, {8}}}));
  b.Add("pin_longterm", OpBytes(p, {prog::PinPage{{0}, {true}}}));
  b.Add("unpin", OpBytes(p, {prog::UnpinPage{{0}}}));
  b.Add("build_all_zonelists", OpBytes(p, {prog::BuildAllZonelists{}}));
  b.Add("offline_pages", OpBytes(p, {prog::OfflinePages{}}));
  b.Add("drain_all_pages", OpBytes(p, {prog::DrainAllPages{}}));
  b.Add("drain_local_pages", OpBytes(p, {prog::DrainLocalPages{}}));
  b.Add("cpu_offline_1", OpBytes(p, {prog::CpuOffline{{1}}}));
  b.Add("fail_page_alloc", OpBytes(p, {prog::FailPageAlloc{{1}, {1}}}));
  b.Add("cma_alloc", OpBytes(p, {prog::CmaAlloc{{5}, {4}}}));
  b.Add("cma_release", OpBytes(p, {prog::CmaRelease{{5}}}));
  b.Add("kvfree_rcu", OpBytes(p, {prog::KvfreeRcu{}}));
  b.Add("printk", OpBytes(p, {prog::Printk{}}));
  b.Add("kswapd", OpBytes(p, {prog::KswapdRun{}}));
  b.Add("memalloc_nofs_save", OpBytes(p, {prog::MemallocNofsSave{}}));
  b.Add("memalloc_nofs_restore", OpBytes(p, {prog::MemallocNofsRestore{}}));
}

void AddContextOps(Builder& b) {
  const Program p;
  b.Add("cpu0", OpBytes(p, {prog::SwitchCpu{{0}}}));
  b.Add("cpu1", OpBytes(p, {prog::SwitchCpu{{1}}}));
  b.Add("irq_save_restore",
        OpBytes(p, {prog::LocalIrqSave{}, prog::LocalIrqRestore{}}));
  b.Add("irq_disable_enable",
        OpBytes(p, {prog::LocalIrqDisable{}, prog::LocalIrqEnable{}}));
  b.Add("bh_disable_enable",
        OpBytes(p, {prog::LocalBhDisable{}, prog::LocalBhEnable{}}));
  b.Add("preempt_disable_enable",
        OpBytes(p, {prog::PreemptDisable{}, prog::PreemptEnable{}}));
  b.Add("might_sleep", OpBytes(p, {prog::MightSleep{}}));
}

// Interrupt headers (kind, point, nth, body length 1) and pauses at every
// injection point; the body record follows in the input.
void AddPoints(Builder& b, bool with_bodies) {
  const Program p;
  const ctx::ContextKind kinds[] = {ctx::ContextKind::kSoftirq,
                                    ctx::ContextKind::kHardirq,
                                    ctx::ContextKind::kNmi};
  for (int pt = 0; pt < ctx::kNumPoints; ++pt) {
    const auto point = static_cast<ctx::PointId>(pt);
    const std::string pname = ctx::PointName(point);
    for (ctx::ContextKind k : kinds) {
      prog::Interrupt irq{k, {point, 1}, {}};
      if (with_bodies) {
        irq.body.push_back(prog::AllocPagesNolock{{6}, {0}, {0}});
        const std::string bytes = OpBytes(p, {irq});
        // The header only: the body record varies.
        b.Add(std::string(ctx::ContextName(k)) + "_at_" + pname,
              bytes.substr(0, bytes.size() - OpBytes(p, {irq.body[0]}).size()));
      } else {
        b.Add(std::string(ctx::ContextName(k)) + "_at_" + pname,
              OpBytes(p, {irq}));
      }
    }
    if (pt != 0) {
      b.Add("pause_at_" + pname, OpBytes(p, {prog::Pause{{point, 1}}}));
    }
  }
}

// Program locks the model adopts as its own (the console driver's, the
// scheduler's) and a shrinker mutex, with the calls a caller makes on them.
void AddAdoptedLocks(Builder& b) {
  struct Decl {
    const char* name;
    ctx::LockType type;
    const char* cls;
    prog::LockVerb lock;
    prog::LockVerb unlock;
  } decls[] = {
      {"port_lock", ctx::LockType::kSpinlock, "&port->lock",
       prog::LockVerb::kSpinLockIrqsave, prog::LockVerb::kSpinUnlockIrqrestore},
      {"rq_lock", ctx::LockType::kRawSpinlock, "&rq->__lock",
       prog::LockVerb::kRawSpinLockIrqsave,
       prog::LockVerb::kRawSpinUnlockIrqrestore},
      {"pi_lock", ctx::LockType::kRawSpinlock, "&p->pi_lock",
       prog::LockVerb::kRawSpinLockIrqsave,
       prog::LockVerb::kRawSpinUnlockIrqrestore},
      {"shrinker_mutex", ctx::LockType::kMutex, "A", prog::LockVerb::kMutexLock,
       prog::LockVerb::kMutexUnlock},
  };
  for (const Decl& d : decls) {
    Program p;
    p.locks.push_back({"A", d.type, d.cls});
    b.Add(std::string("lock_") + d.name, HeaderBytes(p).substr(7));
    b.Add(std::string("hold_") + d.name + "_alloc_atomic",
          OpBytes(p, {prog::LockCall{d.lock, {0}, 0},
                      prog::AllocPages{{3}, {GFP_ATOMIC | __GFP_NOWARN}, {0}},
                      prog::LockCall{d.unlock, {0}, 0}}));
  }
  Program m;
  m.locks.push_back({"A", ctx::LockType::kMutex, "A"});
  b.Add("register_shrinker", OpBytes(m, {prog::RegisterShrinker{{0}}}));
}

void AddLocks(Builder& b) {
  // Lock declarations: type byte, default name, class from the table.
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    Program p;
    const auto type = static_cast<ctx::LockType>(t);
    p.locks.push_back({"A", type, "A"});
    const std::string header = HeaderBytes(p);
    b.Add(std::string("lock_") + ctx::LockTypeName(type), header.substr(7));
    // Every verb that applies, as a record on lock 0.
    for (prog::LockVerb v : prog::VerbsFor(type)) {
      b.Add(std::string(prog::LockVerbName(v)) + "_" + ctx::LockTypeName(type),
            OpBytes(p, {prog::LockCall{v, {0}, 0}}));
    }
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> DictionaryEntries(
    TargetId target) {
  Builder b;
  switch (target) {
    case TargetId::kMain:
      AddConfigs(b);
      AddAllocatorOps(b, /*all_gfps=*/false);
      AddPoints(b, /*with_bodies=*/true);
      AddContextOps(b);
      AddGfps(b);
      AddAdoptedLocks(b);
      break;
    case TargetId::kGfp:
      AddConfigs(b);
      AddGfps(b);
      AddAllocatorOps(b, /*all_gfps=*/true);
      AddPoints(b, /*with_bodies=*/true);
      AddContextOps(b);
      break;
    case TargetId::kChecker:
      AddConfigs(b);
      AddLocks(b);
      AddContextOps(b);
      AddPoints(b, /*with_bodies=*/false);
      break;
    case TargetId::kDecoder:
      AddConfigs(b);
      AddLocks(b);
      AddAllocatorOps(b, /*all_gfps=*/false);
      AddPoints(b, /*with_bodies=*/true);
      AddContextOps(b);
      AddGfps(b);
      break;
    case TargetId::kCount:
      break;
  }
  return b.Take();
}

std::string DictionaryText(TargetId target) {
  std::string out = "# " + TargetBinaryName(target) +
                    " dictionary, generated from the program binary form.\n"
                    "# Regenerate: reentry_corpus_tool dict " +
                    TargetName(target) + " > corpora/" + TargetName(target) +
                    "/" + TargetName(target) + ".dict\n";
  for (const auto& [name, bytes] : DictionaryEntries(target)) {
    out += name + "=\"";
    for (unsigned char c : bytes) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
    out += "\"\n";
  }
  return out;
}

}  // namespace reentry::triage
