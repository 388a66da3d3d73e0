#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "allocator/base/bug_zoo.h"
#include "allocator/base/finding.h"
#include "allocator/base/fixed_vector.h"
#include "allocator/base/gfp.h"
#include "allocator/base/rng.h"
#include "allocator/base/stable_address.h"
#include "gtest/gtest.h"

namespace reentry {
namespace {

TEST(FixedVectorTest, PushPopEraseAndCapacity) {
  FixedVector<int, 3> v;
  EXPECT_TRUE(v.push_back(1));
  EXPECT_TRUE(v.push_back(2));
  EXPECT_TRUE(v.push_back(3));
  EXPECT_FALSE(v.push_back(4));
  EXPECT_EQ(v.size(), 3u);
  v.erase_at(0);
  EXPECT_EQ(v[0], 2);
  EXPECT_EQ(v.back(), 3);
  v.pop_back();
  EXPECT_EQ(v.size(), 1u);
  FixedVector<int, 3> copy = v;
  EXPECT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0], 2);
}

constexpr char kLiteral[] = "rmqueue_bulk";

// StableAddressTest's child: this binary run again with the variable set
// prints kLiteral's raw and stable address and exits before any test.
const bool kStableAddressChild = [] {
  if (getenv("REENTRY_STABLE_ADDRESS_CHILD") == nullptr) return false;
  printf("%lx %lx\n",
         static_cast<unsigned long>(reinterpret_cast<uintptr_t>(kLiteral)),
         static_cast<unsigned long>(StableAddress(kLiteral)));
  fflush(stdout);
  _exit(0);
}();

TEST(StableAddressTest, SameInEveryProcess) {
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  ASSERT_GT(n, 0);
  self[n] = '\0';
  const std::string cmd =
      std::string("REENTRY_STABLE_ADDRESS_CHILD=1 '") + self + "'";
  unsigned long raw[2] = {}, stable[2] = {};
  for (int i = 0; i < 2; ++i) {
    FILE* f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fscanf(f, "%lx %lx", &raw[i], &stable[i]), 2);
    ASSERT_EQ(pclose(f), 0);
  }
  if (raw[0] == raw[1]) GTEST_SKIP() << "ASLR is off: both runs agree anyway";
  EXPECT_EQ(stable[0], stable[1]);
  EXPECT_EQ(stable[0], StableAddress(kLiteral));
}

TEST(RngTest, SameSeedSameStreamDifferentSeedDifferent) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
  }
  // Pinned: the stream must not change across builds.
  Rng pinned(1);
  EXPECT_EQ(pinned.Next(), 0xb3f2af6d0fc710c5ULL);
}

TEST(BugZooTest, ParseIds) {
  EXPECT_EQ(ParseBugId("BZ-01"), BugId::kBz01);
  EXPECT_EQ(ParseBugId("bz01"), BugId::kBz01);
  EXPECT_EQ(ParseBugId("1"), BugId::kBz01);
  EXPECT_EQ(ParseBugId("BZ-28a"), BugId::kBz28Highatomic);
  EXPECT_FALSE(ParseBugId("BZ-28").has_value());
  EXPECT_FALSE(ParseBugId("BZ-99").has_value());
  std::string err;
  auto set = ParseBugList("BZ-01, BZ-08", &err);
  ASSERT_TRUE(set.has_value());
  EXPECT_TRUE(set->has(BugId::kBz01));
  EXPECT_TRUE(set->has(BugId::kBz08));
  EXPECT_FALSE(set->has(BugId::kBz09));
  EXPECT_EQ(BugSetToString(*set), "BZ-01,BZ-08");
  EXPECT_FALSE(ParseBugList("BZ-01,nope", &err).has_value());
  EXPECT_NE(err.find("nope"), std::string::npos);
  EXPECT_EQ(BugSetToString(BugSet{}), "none");
}

TEST(BugZooTest, IdsAreUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < kNumBugs; ++i) {
    EXPECT_TRUE(ids.insert(BugIdName(static_cast<BugId>(i))).second);
  }
}

TEST(GfpTest, PrintsCompositesFirst) {
  using namespace gfp;
  EXPECT_EQ(GfpToString(GFP_KERNEL), "GFP_KERNEL");
  EXPECT_EQ(GfpToString(GFP_ATOMIC | __GFP_NOWARN), "GFP_ATOMIC|__GFP_NOWARN");
  EXPECT_EQ(GfpToString(GFP_NOWAIT), "GFP_NOWAIT");
  EXPECT_EQ(GfpToString(GFP_KERNEL | __GFP_ZERO), "GFP_KERNEL|__GFP_ZERO");
  EXPECT_EQ(GfpToString(0), "0");
  EXPECT_EQ(GfpToString(__GFP_ACCOUNT), "__GFP_ACCOUNT");
}

TEST(GfpTest, ParseRoundTripsEveryMaskOfKnownBits) {
  Rng rng(7);
  for (int i = 0; i < 2000; ++i) {
    const gfp_t g = static_cast<gfp_t>(rng.Next()) & gfp::kAllBits;
    std::string err;
    auto back = ParseGfp(GfpToString(g), &err);
    ASSERT_TRUE(back.has_value()) << err;
    EXPECT_EQ(*back, g) << GfpToString(g);
  }
}

TEST(GfpTest, ParseErrors) {
  std::string err;
  EXPECT_FALSE(ParseGfp("GFP_KERNAL", &err).has_value());
  EXPECT_NE(err.find("GFP_KERNAL"), std::string::npos);
  EXPECT_FALSE(ParseGfp("GFP_KERNEL|", &err).has_value());
  EXPECT_EQ(ParseGfp(" GFP_KERNEL | __GFP_NOWARN ", &err),
            gfp::GFP_KERNEL | gfp::__GFP_NOWARN);
  EXPECT_EQ(ParseGfp("0x400", &err), gfp::__GFP_DIRECT_RECLAIM);
}

TEST(FindingListTest, DeduplicatesByKindAndCause) {
  FindingList list;
  Finding f;
  f.kind = FindingKind::kLockRecursion;
  f.cause = 1;
  EXPECT_TRUE(list.Add(f));
  EXPECT_FALSE(list.Add(f));
  f.cause = 2;
  EXPECT_TRUE(list.Add(f));
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(list.occurrences(FindingKind::kLockRecursion), 3u);
  EXPECT_TRUE(list.fatal());
  f.kind = FindingKind::kGfpMisuse;
  EXPECT_TRUE(list.Add(f));
  EXPECT_EQ(list.bugs(), 2u);
  EXPECT_EQ(list.warnings(), 1u);
}

TEST(FindingListTest, CapacityIsBounded) {
  FindingList list;
  Finding f;
  f.kind = FindingKind::kBadPageState;
  for (uint64_t i = 0; i < FindingList::kCapacity + 10; ++i) {
    f.cause = i;
    list.Add(f);
  }
  EXPECT_EQ(list.size(), FindingList::kCapacity);
  EXPECT_EQ(list.dropped(), 10u);
}

TEST(FindingTest, KindTablesAreConsistent) {
  for (int i = 0; i < kNumFindingKinds; ++i) {
    auto k = static_cast<FindingKind>(i);
    EXPECT_NE(std::string(FindingBanner(k)), "");
    EXPECT_NE(std::string(FindingTitleHeadline(k)), "");
    EXPECT_NE(std::string(FindingKindName(k)), "");
  }
  Finding f;
  f.SetDetail(std::string(500, 'x').c_str());
  EXPECT_EQ(strlen(f.detail), sizeof(f.detail) - 1);
}

}  // namespace
}  // namespace reentry
