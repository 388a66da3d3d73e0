// Programs shared by the prog tests.
#ifndef REENTRY_ALLOCATOR_PROG_TEST_PROGRAMS_H_
#define REENTRY_ALLOCATOR_PROG_TEST_PROGRAMS_H_

#include <set>
#include <vector>

#include "allocator/prog/program.h"

namespace reentry::prog::testing {

// Every op kind once (SwitchCpu and Interrupt more), with fields away from
// their defaults where they have any, on 3 cpus with 4 locks.
inline Program AllOpsProgram() {
  using ctx::LockType;
  using ctx::PointId;
  Program p;
  p.config.nr_cpus = 3;
  p.locks = {{"A", LockType::kSpinlock, "&zone->lock"},
             {"R", LockType::kRawSpinlock, "&pcp->lock"},
             {"M", LockType::kMutex, "&m->lock # not a comment"},
             {"S", LockType::kSeqlock, "zonelist_update_seq"}};
  Interrupt nmi{ctx::ContextKind::kNmi,
                {PointId::kRmqueueBulkZoneLocked, 1},
                {AllocPagesNolock{{1}, {0}, {0}}}};
  Interrupt softirq{ctx::ContextKind::kSoftirq, {}, {}};
  Interrupt hardirq{ctx::ContextKind::kHardirq,
                    {PointId::kRmqueuePcplistLocked, 2},
                    {LockCall{LockVerb::kRawSpinLock, {1}, 0}, nmi, softirq}};
  p.ops = {
      SwitchCpu{{2}},
      LocalIrqDisable{},
      LocalIrqEnable{},
      LocalIrqSave{},
      LocalIrqRestore{},
      LocalBhDisable{},
      LocalBhEnable{},
      PreemptDisable{},
      PreemptEnable{},
      MigrateDisable{},
      MigrateEnable{},
      MightSleep{},
      hardirq,
      Pause{{PointId::kFreeOnePageZoneLocked, 3}},
      LockCall{LockVerb::kSpinLockNested, {0}, 1},
      AllocPages{{3}, {gfp::GFP_KERNEL | gfp::__GFP_ZERO}, {2}},
      FreePages{{3}, {2}},
      FreePages{{3}},
      AllocPagesNolock{{4}, {gfp::__GFP_ACCOUNT}, {0}},
      FreePagesNolock{{4}},
      AllocPagesBulk{{5}, {gfp::GFP_ATOMIC}, {8}},
      PinPage{{5}, {true}},
      PinPage{{6}},
      UnpinPage{{5}},
      BuildAllZonelists{},
      OfflinePages{},
      DrainAllPages{},
      DrainLocalPages{},
      CpuOffline{{1}},
      FailPageAlloc{{3}, {0}},
      CmaAlloc{{7}, {4}},
      CmaRelease{{7}},
      KvfreeRcu{},
      Printk{},
      KswapdRun{},
      RegisterShrinker{{2}},
      MemallocNofsSave{},
      MemallocNofsRestore{},
      PauseAgain{{PointId::kRmqueueBulkZoneLocked, 2}},
      Resume{{PointId::kFreeOnePageZoneLocked, 3}},
      Resume{},
      SwitchCpu{{0}},
      LockCall{LockVerb::kMutexLock, {2}, 0},
      LockCall{LockVerb::kWriteSeqlockIrqsave, {3}, 0},
  };
  return p;
}

// The op codes present in ops, bodies included.
inline void CollectCodes(const std::vector<Op>& ops, std::set<int>& codes) {
  for (const Op& op : ops) {
    codes.insert(op.code());
    if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      CollectCodes(irq->body, codes);
    }
  }
}

}  // namespace reentry::prog::testing

#endif  // REENTRY_ALLOCATOR_PROG_TEST_PROGRAMS_H_
