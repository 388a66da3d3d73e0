#include "allocator/base/recycle.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "gtest/gtest.h"

#if defined(__SANITIZE_ADDRESS__)
#define REENTRY_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REENTRY_TEST_ASAN 1
#endif
#endif
#ifdef REENTRY_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace reentry {
namespace {

struct Small : Recycled {
  uint64_t v[4] = {};
};
struct Big : Recycled {
  uint64_t v[64] = {};
};

class RecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { DropRecycledBlocks(); }
  void TearDown() override { DropRecycledBlocks(); }
};

TEST_F(RecycleTest, WithoutAScopeBlocksGoBackToTheHeap) {
  const RecycleStats before = GetRecycleStats();
  for (int i = 0; i < 4; ++i) delete new Small;
  RecycledVector<int> v(100);
  v.clear();
  v.shrink_to_fit();
  const RecycleStats after = GetRecycleStats();
  EXPECT_EQ(after.kept, before.kept);
  EXPECT_EQ(after.reused, before.reused);
  EXPECT_EQ(after.blocks, 0u);
}

TEST_F(RecycleTest, AScopeReusesABlockOfTheSameSizeOnly) {
  Small* first;
  {
    RecycleScope scope(true);
    first = new Small;
    first->v[0] = 42;
    delete first;
  }
  EXPECT_EQ(GetRecycleStats().blocks, 1u);
  {
    RecycleScope scope(true);
    auto big = std::make_unique<Big>();  // another size: not the kept block
    EXPECT_NE(static_cast<void*>(big.get()), static_cast<void*>(first));
    EXPECT_EQ(GetRecycleStats().blocks, 1u);
    auto again = std::make_unique<Small>();
    EXPECT_EQ(static_cast<void*>(again.get()), static_cast<void*>(first));
    EXPECT_EQ(again->v[0], 0u);  // built by its constructor
  }
  // Both were freed inside the scope: kept.
  EXPECT_EQ(GetRecycleStats().blocks, 2u);
}

TEST_F(RecycleTest, ADisabledScopeIsNoScope) {
  RecycleScope scope(false);
  delete new Small;
  EXPECT_EQ(GetRecycleStats().blocks, 0u);
}

TEST_F(RecycleTest, KeepsAtMostABucketsWorthOfOneSize) {
  RecycleScope scope(true);
  std::unique_ptr<Small> many[40];
  for (auto& p : many) p = std::make_unique<Small>();
  for (auto& p : many) p.reset();
  const RecycleStats s = GetRecycleStats();
  EXPECT_GT(s.blocks, 0u);
  EXPECT_LT(s.blocks, 40u);  // the rest went back to the heap
}

TEST_F(RecycleTest, RecycledArrayValueInitialisesReusedStorage) {
  RecycleScope scope(true);
  {
    RecycledArray<std::atomic<uint64_t>> a(16);
    for (size_t i = 0; i < a.size(); ++i) a[i].store(~uint64_t{0});
  }
  const size_t reused = GetRecycleStats().reused;
  RecycledArray<std::atomic<uint64_t>> b(16);
  EXPECT_EQ(GetRecycleStats().reused, reused + 1);
  for (size_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i].load(), 0u) << i;
}

#ifdef REENTRY_TEST_ASAN
// A kept block is poisoned until it is reused: a stale pointer into the
// last world still trips ASan.
TEST_F(RecycleTest, AKeptBlockIsPoisonedUntilReused) {
  RecycleScope scope(true);
  Small* p = new Small;
  delete p;
  EXPECT_TRUE(__asan_address_is_poisoned(p));
  Small* q = new Small;
  ASSERT_EQ(q, p);
  EXPECT_FALSE(__asan_address_is_poisoned(q));
  delete q;
}
#endif

}  // namespace
}  // namespace reentry
