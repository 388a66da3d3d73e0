// Placeholder until the allocator model lands: no allocator ops run.
#include "allocator/exec/mm_ops.h"

namespace reentry::exec {
namespace {

class NoMmWorld : public MmWorld {
 public:
  bool RunOp(const prog::Op&, RunResult&) override { return false; }
  void CheckInvariants(bool) override {}
};

}  // namespace

std::unique_ptr<MmWorld> CreateMmWorld(ctx::Kernel&, BugSet,
                                       const std::vector<locks::LockBase*>&) {
  return std::make_unique<NoMmWorld>();
}

}  // namespace reentry::exec
