// Stress workloads: each vCPU's operation stream and the interrupt handlers,
// as ops of the program language (prog/program.h), so that what a stress
// run did can be written back as a program for `reentry repro`.
//
// A stream is cut into rounds; round r of vCPU c is a pure function of
// (seed, c, r, options): GenerateRound() draws it from its own Rng, so every
// vCPU's stream is reproducible from the printed seed whatever the timing
// was. Each round is balanced: what it allocates it frees, what it locks it
// unlocks, so the vCPUs meet at the end of every round with nothing held.
//
// Workloads are well-behaved kernel code by construction: a clean model
// gives no findings. Task code picks gfp masks its context allows;
// handlers allocate as their context allows (hardirq: GFP_ATOMIC or nolock;
// NMI: nolock only; on PREEMPT_RT hard handlers: nolock only, and they raise
// no softirq: RT runs softirqs in a thread, which the streams model as
// softirq() ops between episodes). Invalid gfp masks, when asked for, only
// draw gfp warnings (a caller's misuse).
#ifndef REENTRY_STRESS_WORKLOAD_H_
#define REENTRY_STRESS_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "allocator/base/rng.h"
#include "allocator/ctx/types.h"
#include "allocator/prog/program.h"

namespace reentry::stress {

#define REENTRY_STRESS_WORKLOADS(X)                                         \
  X(kMm, "mm",                                                              \
    "the allocator model: gfp masks, orders, nolock, bulk, pins, CMA, "     \
    "remote frees, drains, hotplug, fault injection; handlers allocate")    \
  X(kLocks, "locks",                                                        \
    "test locks only (raw, irq-safe, bh-safe, mutex, seqlock, local "       \
    "trylock), used correctly from task, softirq, hardirq and NMI")         \
  X(kLocksBuggy, "locks-buggy",                                             \
    "the locks workload with a planted bug: the task sometimes takes the "  \
    "irq-safe lock with interrupts on, and the timer IRQ handler takes it") \
  X(kLocksAbba, "locks-abba",                                               \
    "a planted real deadlock: even vCPUs take two locks in one order, odd " \
    "vCPUs in the other (for the watchdog)")

enum class WorkloadKind : uint8_t {
#define REENTRY_STRESS_WORKLOAD_ENUM(e, name, desc) e,
  REENTRY_STRESS_WORKLOADS(REENTRY_STRESS_WORKLOAD_ENUM)
#undef REENTRY_STRESS_WORKLOAD_ENUM
      kCount
};
const char* WorkloadName(WorkloadKind k);
const char* WorkloadDescription(WorkloadKind k);
bool ParseWorkload(const std::string& s, WorkloadKind* out);

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::kMm;
  ctx::Config config;      // nr_cpus, PREEMPT_RT, SMP, ...
  int round_ops = 256;     // top-level ops per vCPU per round (about)
  double invalid_gfp = 0;  // share of allocations with an invalid gfp mask
  bool hotplug = true;     // build_all_zonelists, cpu_offline, offline_pages
  bool memory_offline = true;   // offline_pages (with hotplug)
  bool fault_injection = true;  // fail_page_alloc
  bool cma = true;              // cma_alloc / cma_release, pins
};

// The test locks every workload declares (program.locks of the replay).
std::vector<prog::LockDecl> WorkloadLocks(const WorkloadOptions& o);

// Page slots p0..p31 are shared by all vCPUs; each vCPU owns a disjoint set,
// one per interrupt context (handlers on one vCPU nest, so each context
// needs its own), a transfer slot it hands to the next vCPU, and the rest
// for its task code.
struct SlotLayout {
  int softirq = -1;
  int hardirq = -1;
  int nmi = -1;
  int transfer = -1;  // this vCPU allocates, vCPU (c+1)%n frees
  std::vector<int> task;
};
SlotLayout LayoutFor(int cpu, int nr_cpus);
// Most vCPUs a workload of this kind can give slots to.
int MaxCpus(WorkloadKind k);

// One item of a stream. kGive and kTake are ops guarded by the transfer
// protocol (the runner skips them when the slot is not in the right state).
struct StreamItem {
  enum class Guard : uint8_t {
    kNone,
    kGive,     // allocate into this vCPU's transfer slot (must be empty)
    kTake,     // free the previous vCPU's transfer slot (must be full)
    kReclaim,  // end of round: free this vCPU's own transfer slot if full
  };
  prog::Op op;
  Guard guard = Guard::kNone;
  int8_t peer = -1;  // kTake: the vCPU whose transfer slot it frees
};

// Events of a whole round, the same for every vCPU (a function of seed and
// round): CPU hotplug takes one vCPU out for the round (it runs nothing,
// as a dead CPU; the next vCPU runs page_alloc_cpu_dead() for it first),
// and memory hotplug offlines a memory block at the start of the round.
struct RoundEvents {
  int offline_cpu = -1;
  bool memory_offline = false;
};
RoundEvents RoundEventsFor(const WorkloadOptions& o, uint64_t seed,
                           uint64_t round);

// Round `round` of vCPU `cpu`'s stream.
std::vector<StreamItem> GenerateRound(const WorkloadOptions& o, uint64_t seed,
                                      int cpu, uint64_t round);

// Where an interrupt comes from.
enum class IrqSource : uint8_t { kTimer, kIpi, kNmi, kCount };
const char* IrqSourceName(IrqSource s);  // "timer", "ipi", "nmi"

struct Handler {
  std::string name;       // "bpf_nolock", ...
  ctx::ContextKind kind;  // hardirq or NMI (softirqs are raised inside)
  std::vector<prog::Op> body;
};

// The handlers a vCPU's interrupts run, per source. Built once per run.
class HandlerCatalog {
 public:
  HandlerCatalog(const WorkloadOptions& o, int nr_cpus);

  int size(int cpu, IrqSource s) const;
  const Handler& handler(int cpu, IrqSource s, int i) const;
  // Picks one (weights are in the catalog order).
  int Pick(int cpu, IrqSource s, Rng& rng) const;

  // The task-context op an IPI asks for (drain_local_pages for the mm
  // workload), or nullptr.
  const prog::Op* ipi_work() const {
    return has_ipi_work_ ? &ipi_work_ : nullptr;
  }

 private:
  struct Entry {
    Handler h;
    int weight;
  };
  std::vector<Entry> table_[ctx::kMaxCpus][static_cast<int>(IrqSource::kCount)];
  prog::Op ipi_work_;
  bool has_ipi_work_ = false;
};

// Derives independent seeds: (seed, a, b, c) -> 64 bits.
uint64_t MixSeed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace reentry::stress

#endif  // REENTRY_STRESS_WORKLOAD_H_
