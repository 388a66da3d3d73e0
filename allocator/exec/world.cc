#include "allocator/exec/world.h"

namespace reentry::exec {
namespace {

std::unique_ptr<locks::LockBase> MakeLock(ctx::Kernel& k,
                                          const prog::LockDecl& d) {
  const std::string& cls = d.class_name.empty() ? d.name : d.class_name;
  switch (d.type) {
    case ctx::LockType::kRawSpinlock:
      return std::make_unique<locks::RawSpinlock>(k, cls);
    case ctx::LockType::kSpinlock:
      return std::make_unique<locks::Spinlock>(k, cls);
    case ctx::LockType::kRwlock:
      return std::make_unique<locks::Rwlock>(k, cls);
    case ctx::LockType::kLocalLock:
      return std::make_unique<locks::LocalLock>(k, cls, false);
    case ctx::LockType::kLocalTrylock:
      return std::make_unique<locks::LocalLock>(k, cls, true);
    case ctx::LockType::kSeqcount:
      return std::make_unique<locks::Seqlock>(k, cls, false);
    case ctx::LockType::kSeqlock:
      return std::make_unique<locks::Seqlock>(k, cls, true);
    case ctx::LockType::kMutex:
      return std::make_unique<locks::Mutex>(k, cls);
    case ctx::LockType::kLockdepMap:
    default:
      return std::make_unique<locks::LockdepMap>(k, cls);
  }
}

}  // namespace

World::World(const ctx::Config& config, BugSet bugs_in,
             const prog::Program& program, bool with_lockdep)
    : kernel(config), bugs(bugs_in) {
  if (with_lockdep) {
    lockdep = std::make_unique<lockdep::Lockdep>(kernel);
    kernel.AddObserver(lockdep.get());
  }
  locks.reserve(program.locks.size());
  RecycledVector<locks::LockBase*> raw;
  raw.reserve(program.locks.size());
  for (const prog::LockDecl& d : program.locks) {
    locks.push_back(TestLock{d.type, MakeLock(kernel, d)});
    raw.push_back(locks.back().lock.get());
  }
  mm = CreateMmWorld(kernel, bugs, raw);
}

World::~World() = default;

}  // namespace reentry::exec
