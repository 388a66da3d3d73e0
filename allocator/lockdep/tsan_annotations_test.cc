// The TSan annotation observer on real threads, one per vCPU (the stress
// runner's setting). In TSan builds (the tsan preset) this checks that
// ThreadSanitizer sees the kernel locks as mutexes: a clean run stays clean,
// and an A-B / B-A order on two threads is reported as a lock-order
// inversion by TSan's deadlock detector (run in a child process, so the
// report does not fail this one).
#include "allocator/lockdep/tsan_annotations.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using namespace reentry::locks;  // NOLINT: kernel-spelled API

// Real threads: a vCPU that finds a lock held elsewhere yields and retries.
class ThreadHooks : public ctx::Hooks {
 public:
  void InjectionPoint(ctx::Cpu&, ctx::PointId) override {}
  void IrqsEnabled(ctx::Cpu&) override {}
  void SoftirqsMayRun(ctx::Cpu&) override {}
  void Wait(ctx::Cpu&, const void*, ctx::LockClassId, int) override {
    std::this_thread::yield();
  }
  [[noreturn]] void Hang(ctx::Cpu&) override { abort(); }
};

struct ThreadEnv {
  ThreadEnv() : kernel(Config()) {
    kernel.SetHooks(&hooks);
    kernel.AddObserver(&tsan);
  }
  static ctx::Config Config() {
    ctx::Config c;
    c.nr_cpus = 2;
    c.concurrent = true;  // real threads: lock words need atomic RMWs
    return c;
  }
  ctx::Kernel kernel;
  ThreadHooks hooks;
  TsanAnnotations tsan;
};

TEST(TsanAnnotationsTest, TwoThreadsShareASpinlock) {
  ThreadEnv env;
  Spinlock lock(env.kernel, "&zone->lock");
  long counter = 0;  // protected by lock: TSan must not report a race
  auto work = [&](int cpu) {
    ctx::set_this_cpu(&env.kernel.cpu(cpu));
    for (int i = 0; i < 2000; ++i) {
      IrqFlags f = spin_lock_irqsave(lock, "worker");
      ++counter;
      spin_unlock_irqrestore(lock, f, "worker");
    }
    ctx::set_this_cpu(nullptr);
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(counter, 4000);
  EXPECT_EQ(env.tsan.annotations(), 3u * 4000u);  // pre+post lock, unlock
  EXPECT_EQ(env.kernel.findings().size(), 0u);
}

TEST(TsanAnnotationsTest, ReentryIsNotAnnotated) {
  // A reentered lock (the checker's business) is not shown to TSan twice.
  ThreadEnv env;
  LocalLock stock(env.kernel, "memcg_stock.lock", true);
  ctx::set_this_cpu(&env.kernel.cpu(0));
  local_lock(stock);
  const uint64_t before = env.tsan.annotations();
  env.kernel.cpu(0).EnterContext(ctx::ContextKind::kHardirq);
  local_lock(stock);  // reported as kLocalLockReentry by the lock layer
  local_unlock(stock);
  env.kernel.cpu(0).ExitContext();
  EXPECT_EQ(env.tsan.annotations(), before);
  local_unlock(stock);
  EXPECT_EQ(env.tsan.annotations(), before + 1);
  ctx::set_this_cpu(nullptr);
}

// The child: takes A then B on vCPU 0, then B then A on vCPU 1, one after
// the other (no real deadlock). Only run when the parent asks.
TEST(TsanAnnotationsTest, ChildLockOrderInversion) {
  if (getenv("REENTRY_TSAN_CHILD") == nullptr) GTEST_SKIP();
  ThreadEnv env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  std::thread t0([&] {
    ctx::set_this_cpu(&env.kernel.cpu(0));
    spin_lock(a);
    spin_lock(b);
    spin_unlock(b);
    spin_unlock(a);
  });
  t0.join();
  std::thread t1([&] {
    ctx::set_this_cpu(&env.kernel.cpu(1));
    spin_lock(b);
    spin_lock(a);
    spin_unlock(a);
    spin_unlock(b);
  });
  t1.join();
}

TEST(TsanAnnotationsTest, TsanSeesLockOrderInversion) {
  if (!TsanAnnotations::kEnabled) {
    GTEST_SKIP() << "not a TSan build (REENTRY_TSAN)";
  }
  const std::string cmd =
      "REENTRY_TSAN_CHILD=1 "
      "TSAN_OPTIONS=detect_deadlocks=1:halt_on_error=0:exitcode=0 "
      "/proc/self/exe --gtest_filter=TsanAnnotationsTest."
      "ChildLockOrderInversion 2>&1";
  // popen runs a shell whose /proc/self is the shell: resolve the path here.
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  std::string real = cmd;
  real.replace(real.find("/proc/self/exe"), 14, exe);
  FILE* p = popen(real.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  size_t got;
  while ((got = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), got);
  pclose(p);
  EXPECT_NE(out.find("lock-order-inversion"), std::string::npos) << out;
}

}  // namespace
}  // namespace reentry::lockdep
