#include "allocator/lockdep/lockdep.h"

#include <gtest/gtest.h>

#include "allocator/lockdep/usage.h"
#include "allocator/locks/locks.h"

namespace reentry::lockdep {
namespace {

using ctx::ContextKind;
using namespace reentry::locks;  // NOLINT: kernel-spelled API

// A kernel with lockdep attached and vCPU 0 current. No executor: tests must
// not make a vCPU wait or deadlock for real.
struct Env {
  explicit Env(ctx::Config c = ctx::Config(), Options o = Options())
      : kernel(c), ld(kernel, o) {
    kernel.AddObserver(&ld);
    ctx::set_this_cpu(&kernel.cpu(0));
  }
  ~Env() { ctx::set_this_cpu(nullptr); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  ctx::Cpu& cpu() { return ctx::this_cpu(); }
  bool has(FindingKind k) const { return kernel.findings().has(k); }
  size_t count(FindingKind k) const {
    size_t n = 0;
    for (const Finding& f : kernel.findings()) n += f.kind == k;
    return n;
  }
  const Finding* first(FindingKind k) const {
    for (const Finding& f : kernel.findings()) {
      if (f.kind == k) return &f;
    }
    return nullptr;
  }
  std::string kinds() const {
    std::string s;
    for (const Finding& f : kernel.findings()) {
      s += FindingKindName(f.kind);
      s += " ";
    }
    return s;
  }

  ctx::Kernel kernel;
  Lockdep ld;
};

TEST(LockdepTest, NoFindingsForOrderedNesting) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  for (int i = 0; i < 3; ++i) {
    spin_lock(a);
    spin_lock(b);
    spin_unlock(b);
    spin_unlock(a);
  }
  EXPECT_TRUE(env.kernel.findings().size() == 0) << env.kinds();
  EXPECT_TRUE(env.ld.HasDependency(a.class_id(), b.class_id()));
  EXPECT_FALSE(env.ld.HasDependency(b.class_id(), a.class_id()));
  EXPECT_EQ(env.ld.HeldCount(0), 0);
  EXPECT_GT(env.ld.stats().chain_hits, 0u);
}

TEST(LockdepTest, AbbaIsCircular) {
  Env env;
  Spinlock a(env.kernel, "A"), b(env.kernel, "B");
  spin_lock(a);
  spin_lock(b);
  spin_unlock(b);
  spin_unlock(a);
  EXPECT_EQ(env.kernel.findings().size(), 0u);
  spin_lock(b);
  spin_lock(a);
  spin_unlock(a);
  spin_unlock(b);
  const Finding* f = env.first(FindingKind::kCircularDependency);
  ASSERT_NE(f, nullptr) << env.kinds();
  EXPECT_STREQ(f->locks[0].name, "A");
  EXPECT_EQ(f->locks[0].role, LockRole::kAcquiring);
  EXPECT_STREQ(f->locks[1].name, "B");
  EXPECT_EQ(f->locks[1].role, LockRole::kHolder);
}

TEST(LockdepTest, SameClassNestedIsRecursive) {
  Env env;
  Spinlock a1(env.kernel, "X"), a2(env.kernel, "X");
  spin_lock(a1);
  spin_lock(a2);
  spin_unlock(a2);
  spin_unlock(a1);
  EXPECT_TRUE(env.has(FindingKind::kRecursiveLocking)) << env.kinds();
}

TEST(LockdepTest, NestedSubclassIsNotRecursive) {
  Env env;
  Spinlock a1(env.kernel, "X"), a2(env.kernel, "X");
  spin_lock(a1);
  spin_lock_nested(a2, 1);
  spin_unlock(a2);
  spin_unlock(a1);
  EXPECT_EQ(env.kernel.findings().size(), 0u) << env.kinds();
}

}  // namespace
}  // namespace reentry::lockdep
