#include "allocator/mm/mm.h"

#include <gtest/gtest.h>

namespace reentry::mm {
namespace {

class MmTest : public ::testing::Test {
 protected:
  explicit MmTest(ctx::Config c = ctx::Config{}) : kernel_(c) {
    ctx::set_this_cpu(&kernel_.cpu(0));
  }
  ~MmTest() override { ctx::set_this_cpu(nullptr); }
  ctx::Kernel kernel_;
};

TEST_F(MmTest, Smoke) {
  Mm mm(kernel_, BugSet{});
  EXPECT_TRUE(mm.CheckInvariants());
  Page* p = mm.alloc_pages(gfp::GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  Page* q = mm.alloc_pages(gfp::GFP_KERNEL, 5);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(mm.CheckInvariants());
  mm.__free_pages(p, 0);
  mm.__free_pages(q, 5);
  EXPECT_TRUE(mm.CheckInvariants());
  for (const Finding& f : kernel_.findings()) {
    ADD_FAILURE() << FindingKindName(f.kind) << ": " << f.detail;
  }
}

}  // namespace
}  // namespace reentry::mm
