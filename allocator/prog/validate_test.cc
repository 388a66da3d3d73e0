#include "allocator/prog/validate.h"

#include <gtest/gtest.h>

#include <string>

#include "allocator/prog/test_programs.h"

namespace reentry::prog {
namespace {

using testing::AllOpsProgram;

std::string ErrorOf(const Program& p) {
  std::string error;
  EXPECT_FALSE(ValidateProgram(p, &error));
  return error;
}

TEST(ProgValidateTest, AcceptsValidPrograms) {
  EXPECT_TRUE(ValidateProgram(Program{}, nullptr));
  std::string error;
  EXPECT_TRUE(ValidateProgram(AllOpsProgram(), &error)) << error;
}

TEST(ProgValidateTest, Config) {
  Program p;
  p.config.nr_cpus = 0;
  EXPECT_EQ(ErrorOf(p), "config: cpus 0 out of range (1..64)");
  p.config.nr_cpus = 65;
  EXPECT_EQ(ErrorOf(p), "config: cpus 65 out of range (1..64)");
  p.config.nr_cpus = 2;
  p.config.nolock_design = static_cast<ctx::NolockDesign>(2);
  EXPECT_EQ(ErrorOf(p), "config: nolock design 2 out of range");
}

TEST(ProgValidateTest, Locks) {
  Program p;
  p.locks = {{"A", ctx::LockType::kSpinlock, "a"},
             {"A", ctx::LockType::kMutex, "m"}};
  EXPECT_EQ(ErrorOf(p), "duplicate lock name 'A'");
  p.locks[1].name = "9";
  EXPECT_EQ(ErrorOf(p),
            "lock name '9' is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
  p.locks[1].name = "B";
  p.locks[1].class_name = "";
  EXPECT_EQ(ErrorOf(p), "lock B: empty lock class name");
  p.locks[1].class_name = "m";
  p.locks[1].type = ctx::LockType::kCount;
  EXPECT_EQ(ErrorOf(p), "lock B: lock type out of range");
  p.locks.assign(kMaxLocks + 1, {"A", ctx::LockType::kMutex, "m"});
  EXPECT_EQ(ErrorOf(p), "more than 32 locks");
}

TEST(ProgValidateTest, OpsAreNamedByPreOrderIndex) {
  Program p = AllOpsProgram();
  // Op 13 is raw_spin_lock(R), the first op of the hardirq body (op 12).
  auto& irq = std::get<Interrupt>(p.ops[12].v);
  std::get<LockCall>(irq.body[0].v).lock.v = 0;  // A: a spinlock_t
  EXPECT_EQ(ErrorOf(p),
            "op 13 (raw_spin_lock): raw_spin_lock cannot take lock A of type "
            "spinlock_t (raw_spin_lock takes raw_spinlock_t)");
}

TEST(ProgValidateTest, FieldRanges) {
  Program p;
  p.ops = {SwitchCpu{{2}}};
  EXPECT_EQ(ErrorOf(p),
            "op 0 (cpu): cpu 2 out of range (0..1): config has 2 cpus");
  p.ops = {AllocPages{{32}, {}, {}}};
  EXPECT_EQ(ErrorOf(p), "op 0 (alloc_pages): slot p32 out of range (p0..p31)");
  p.ops = {AllocPages{{0}, {}, {11}}};
  EXPECT_EQ(ErrorOf(p), "op 0 (alloc_pages): order 11 out of range (0..10)");
  p.ops = {FreePages{{0}, {11}}};
  EXPECT_EQ(ErrorOf(p), "op 0 (__free_pages): order 11 out of range (0..10)");
  p.ops = {FreePages{{0}, {FreePages::kSlotOrder}}};
  EXPECT_TRUE(ValidateProgram(p, nullptr));
  p.ops = {Pause{{ctx::PointId::kNone, 0}}};
  EXPECT_EQ(ErrorOf(p), "op 0 (pause): nth 0 out of range (1..255)");
  p.ops = {Pause{{ctx::PointId::kCount, 1}}};
  EXPECT_EQ(ErrorOf(p), "op 0 (pause): injection point " +
                            std::to_string(ctx::kNumPoints) + " out of range");
  p.ops = {RegisterShrinker{{0}}};
  EXPECT_EQ(ErrorOf(p),
            "op 0 (register_shrinker): lock index 0 out of range (0 locks "
            "declared)");
}

TEST(ProgValidateTest, LockCalls) {
  Program p;
  p.locks = {{"A", ctx::LockType::kSpinlock, "a"}};
  p.ops = {LockCall{LockVerb::kSpinLockNested, {0}, 8}};
  EXPECT_EQ(ErrorOf(p),
            "op 0 (spin_lock_nested): subclass 8 out of range (0..7)");
  p.ops = {LockCall{LockVerb::kSpinLock, {0}, 1}};
  EXPECT_EQ(ErrorOf(p),
            "op 0 (spin_lock): subclass given to spin_lock (only "
            "spin_lock_nested takes one)");
  p.ops = {LockCall{LockVerb::kCount, {0}, 0}};
  EXPECT_EQ(ErrorOf(p).substr(0, 7), "op 0 (?");
}

TEST(ProgValidateTest, Interrupts) {
  Program p;
  p.ops = {Interrupt{ctx::ContextKind::kTask, {}, {}}};
  EXPECT_EQ(ErrorOf(p),
            "op 0 (task): interrupt kind must be softirq, hardirq or nmi");
  p.ops = {Interrupt{ctx::ContextKind::kNmi, {}, {SwitchCpu{{1}}}}};
  EXPECT_EQ(ErrorOf(p), "op 1 (cpu): cpu() inside an interrupt body");
  p.ops = {Interrupt{ctx::ContextKind::kNmi, {}, {Resume{}}}};
  EXPECT_EQ(ErrorOf(p), "op 1 (resume): resume() inside an interrupt body");
  p.ops = {Interrupt{ctx::ContextKind::kNmi, {}, {PauseAgain{}}}, Resume{}};
  EXPECT_TRUE(ValidateProgram(p, nullptr));
  std::vector<Op>* ops = &p.ops;
  ops->clear();
  for (int depth = 0; depth <= kMaxBodyDepth; ++depth) {
    ops->push_back(Interrupt{ctx::ContextKind::kNmi, {}, {}});
    ops = &std::get<Interrupt>(ops->back().v).body;
  }
  EXPECT_EQ(ErrorOf(p), "op 4 (nmi): interrupt bodies nested deeper than 4");
}

TEST(ProgValidateTest, OpCount) {
  Program p;
  p.ops.assign(kMaxOps, Op(Printk{}));
  EXPECT_TRUE(ValidateProgram(p, nullptr));
  p.ops.push_back(Printk{});
  EXPECT_EQ(ErrorOf(p), "more than 4096 ops");
}

}  // namespace
}  // namespace reentry::prog
