#include "stress/stats.h"

#include <variant>

#include "stress/signals.h"

namespace reentry::stress {
namespace {

using namespace ::reentry::gfp;  // NOLINT: kernel spelling

constexpr const char* kGfpClassNames[] = {
#define REENTRY_STRESS_GFP_NAME(e, name) name,
    REENTRY_STRESS_GFP_CLASSES(REENTRY_STRESS_GFP_NAME)
#undef REENTRY_STRESS_GFP_NAME
};

GfpClass ClassifyGfp(gfp_t g) {
  if ((g & __GFP_MOVABLE) && (g & __GFP_RECLAIMABLE)) return GfpClass::kInvalid;
  if (g & __GFP_NOFAIL) {
    if (!(g & __GFP_DIRECT_RECLAIM) || (g & __GFP_NORETRY)) {
      return GfpClass::kInvalid;
    }
    return GfpClass::kNofail;
  }
  if (!(g & __GFP_RECLAIM)) return GfpClass::kNoReclaim;
  if (g & __GFP_DIRECT_RECLAIM) {
    if (g & __GFP_ACCOUNT) return GfpClass::kKernelAccount;
    if (g & (__GFP_MOVABLE | __GFP_HARDWALL)) return GfpClass::kUserMovable;
    if (!(g & __GFP_FS)) return GfpClass::kNofsNoio;
    return GfpClass::kKernel;
  }
  return (g & __GFP_HIGH) ? GfpClass::kAtomic : GfpClass::kNowait;
}

int OrderOfCount(unsigned n) {
  int o = 0;
  while ((1u << o) < n && o < prog::kMaxOrder) ++o;
  return o;
}

}  // namespace

void Histogram::Merge(const Histogram& o) {
  for (int i = 0; i < kBuckets; ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_ns += o.sum_ns;
  if (o.max_ns > max_ns) max_ns = o.max_ns;
}

uint64_t Histogram::Quantile(double q) const {
  if (count == 0) return 0;
  const uint64_t want = static_cast<uint64_t>(q * double(count));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets[i];
    if (seen > want) return std::min<uint64_t>(uint64_t{2} << i, max_ns);
  }
  return max_ns;
}

const char* GfpClassName(GfpClass c) {
  return kGfpClassNames[static_cast<int>(c)];
}

const char* ReasonName(int r) {
  if (r < ctx::kNumAllocFailReasons) {
    return ctx::AllocFailName(static_cast<ctx::AllocFail>(r));
  }
  return "unknown";
}

AllocInfo ClassifyAlloc(const prog::Op& op) {
  AllocInfo a;
  if (const auto* o = std::get_if<prog::AllocPages>(&op.v)) {
    a.is_alloc = true;
    a.cls = ClassifyGfp(o->gfp.v);
    a.order = o->order.v;
  } else if (const auto* o = std::get_if<prog::AllocPagesNolock>(&op.v)) {
    a.is_alloc = true;
    a.nolock = true;
    const gfp_t g = o->gfp.v;
    a.cls = g == 0               ? GfpClass::kNolock
            : g == __GFP_ACCOUNT ? GfpClass::kNolockAccount
                                 : GfpClass::kInvalid;
    a.order = o->order.v;
  } else if (std::holds_alternative<prog::AllocPagesBulk>(op.v)) {
    a.is_alloc = true;
    a.cls = GfpClass::kBulk;
    a.order = 0;
  } else if (const auto* o = std::get_if<prog::CmaAlloc>(&op.v)) {
    a.is_alloc = true;
    a.cls = GfpClass::kCma;
    a.order = OrderOfCount(o->count.v);
  }
  if (a.order > prog::kMaxOrder) a.order = prog::kMaxOrder;
  return a;
}

void VcpuStats::Merge(const VcpuStats& o) {
  ops.Inc(o.ops.get());
  for (int i = 0; i < 3; ++i) irqs[i].Inc(o.irqs[i].get());
  softirqs.Inc(o.softirqs.get());
  latched.Inc(o.latched.get());
  skipped.Inc(o.skipped.get());
  ipis_sent.Inc(o.ipis_sent.get());
  points += o.points;
  irqs_off += o.irqs_off;
  waits += o.waits;
  pauses_ignored += o.pauses_ignored;
  for (int i = 0; i < prog::kNumOpCodes; ++i) {
    ops_by_code[i] += o.ops_by_code[i];
    op_latency[i].Merge(o.op_latency[i]);
  }
  for (int i = 0; i < 3; ++i) {
    handler_latency[i].Merge(o.handler_latency[i]);
    irq_delay[i].Merge(o.irq_delay[i]);
  }
  for (int c = 0; c < kStatContexts; ++c) {
    for (int g = 0; g < kNumGfpClasses; ++g) {
      for (int k = 0; k < kStatOrders; ++k) {
        AllocCell& d = alloc[c][g][k];
        const AllocCell& s = o.alloc[c][g][k];
        d.ok += s.ok;
        d.failed += s.failed;
        for (int r = 0; r < kStatReasons; ++r) d.reasons[r] += s.reasons[r];
      }
    }
  }
  for (int i = 0; i < kMaxStatClasses; ++i) {
    locks[i].acquisitions += o.locks[i].acquisitions;
    locks[i].contended += o.locks[i].contended;
    locks[i].wait_ns += o.locks[i].wait_ns;
    locks[i].hold.Merge(o.locks[i].hold);
  }
}

void StatsObserver::OnEvent(ctx::Cpu& cpu, const ctx::Event& e) {
  const int c = cpu.id();
  if (c < 0 || c >= nr_cpus_) return;
  VcpuStats& s = stats_[c];
  PerCpu& h = held_[c];
  switch (e.kind) {
    case ctx::EventKind::kLockAcquired: {
      if (e.class_id < kMaxStatClasses) ++s.locks[e.class_id].acquisitions;
      if (h.n < static_cast<int>(sizeof(h.held) / sizeof(h.held[0]))) {
        h.held[h.n++] = Held{e.lock, e.class_id, MonotonicNs()};
      }
      break;
    }
    case ctx::EventKind::kLockContended:
      if (e.class_id < kMaxStatClasses) ++s.locks[e.class_id].contended;
      break;
    case ctx::EventKind::kLockRelease: {
      for (int i = h.n; i-- > 0;) {
        if (h.held[i].lock != e.lock) continue;
        const Held x = h.held[i];
        for (int j = i + 1; j < h.n; ++j) h.held[j - 1] = h.held[j];
        --h.n;
        if (x.cls < kMaxStatClasses) {
          s.locks[x.cls].hold.Add(MonotonicNs() - x.t);
        }
        break;
      }
      break;
    }
    case ctx::EventKind::kHardirqsOff:
      ++s.irqs_off;
      break;
    default:
      break;
  }
}

}  // namespace reentry::stress
