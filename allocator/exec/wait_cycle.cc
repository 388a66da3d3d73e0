#include "allocator/exec/wait_cycle.h"

namespace reentry::exec {

Finding MakeWaitCycleFinding(ctx::Kernel& kernel,
                             const std::vector<CycleWaiter>& chain,
                             const char* why) {
  ctx::Cpu& front = kernel.cpu(chain.front().cpu);
  Finding f = front.MakeFinding(FindingKind::kWaitCycle, nullptr);
  uint64_t cause = 0;
  for (const CycleWaiter& w : chain) {
    const ctx::Cpu& cpu = kernel.cpu(w.cpu);
    const bool known = w.wait_class != ctx::kNoClass &&
                       w.wait_class < kernel.nr_lock_classes();
    FindingLock& l = f.AddLock(
        known ? kernel.lock_class(w.wait_class).name : "?", LockRole::kWaiter);
    l.class_id = w.wait_class;
    l.cpu = static_cast<int8_t>(w.cpu);
    l.context = static_cast<uint8_t>(cpu.context());
    l.op_index = cpu.op_index();
    l.function = cpu.current_function();
    if (known) {
      l.lock_type = static_cast<uint8_t>(kernel.lock_class(w.wait_class).type);
    }
    cause = cause * 131 + w.wait_class;
  }
  f.cause = cause;
  f.SetDetail(why);
  return f;
}

}  // namespace reentry::exec
