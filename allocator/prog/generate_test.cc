#include "allocator/prog/generate.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>

#include "allocator/prog/binary.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/test_programs.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"

namespace reentry::prog {
namespace {

using testing::CollectCodes;

std::set<int> CodesOf(const Program& p) {
  std::set<int> codes;
  CollectCodes(p.ops, codes);
  return codes;
}

int MaxDepth(const std::vector<Op>& ops) {
  int depth = 0;
  for (const Op& op : ops) {
    if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      depth = std::max(depth, 1 + MaxDepth(irq->body));
    }
  }
  return depth;
}

TEST(ProgGenerateTest, FiveHundredSeedsAreValidAndRoundTrip) {
  for (uint64_t seed = 0; seed < 500; ++seed) {
    SCOPED_TRACE(seed);
    GenerateOptions options;
    options.num_ops = 1 + seed % 97;
    options.cpus = 1 + seed % 5;
    options.balanced = seed % 2;
    options.multi_pauses = seed % 3 == 0;
    const Program p = GenerateProgram(seed, options);
    std::string why;
    ASSERT_TRUE(ValidateProgram(p, &why)) << why;
    const std::string text = ProgramToText(p);
    ParseError error;
    const std::optional<Program> parsed = ParseProgram(text, &error);
    ASSERT_TRUE(parsed.has_value()) << error.ToString() << "\n" << text;
    EXPECT_EQ(*parsed, p);
    EXPECT_EQ(ProgramToText(*parsed), text);
    EXPECT_EQ(DecodeProgram(EncodeProgram(p)), p) << text;
  }
}

TEST(ProgGenerateTest, SameSeedSameProgram) {
  const GenerateOptions options;
  EXPECT_EQ(GenerateProgram(42, options), GenerateProgram(42, options));
  EXPECT_NE(GenerateProgram(42, options), GenerateProgram(43, options));
}

TEST(ProgGenerateTest, OpCountIsExact) {
  for (int n : {0, 1, 2, 7, 1000, kMaxOps}) {
    GenerateOptions options;
    options.num_ops = n;
    EXPECT_EQ(CountOps(GenerateProgram(n, options).ops),
              static_cast<size_t>(n));
  }
  GenerateOptions too_many;
  too_many.num_ops = kMaxOps + 100;
  EXPECT_EQ(CountOps(GenerateProgram(1, too_many).ops),
            static_cast<size_t>(kMaxOps));
}

TEST(ProgGenerateTest, ThousandOpProgramMixesEverything) {
  GenerateOptions options;
  options.num_ops = 1000;
  options.cpus = 4;
  const Program p = GenerateProgram(7, options);
  const std::set<int> codes = CodesOf(p);
  EXPECT_TRUE(codes.count(SwitchCpu::kCode));
  EXPECT_TRUE(codes.count(Interrupt::kCode));
  EXPECT_TRUE(codes.count(Pause::kCode));
  EXPECT_TRUE(codes.count(LockCall::kCode));
  EXPECT_TRUE(codes.count(AllocPages::kCode));
  EXPECT_TRUE(codes.count(AllocPagesNolock::kCode));
  EXPECT_TRUE(codes.count(LocalIrqSave::kCode));
  EXPECT_GE(MaxDepth(p.ops), 2);
  EXPECT_FALSE(p.locks.empty());
  EXPECT_EQ(p.config.nr_cpus, 4);
}

TEST(ProgGenerateTest, EveryOpKindAppearsAcrossSeeds) {
  std::set<int> codes;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    GenerateOptions options;
    options.num_ops = 200;
    options.multi_pauses = true;
    const std::set<int> more = CodesOf(GenerateProgram(seed, options));
    codes.insert(more.begin(), more.end());
  }
  EXPECT_EQ(codes.size(), static_cast<size_t>(kNumOpCodes));
}

TEST(ProgGenerateTest, VariedFieldValues) {
  GenerateOptions options;
  options.num_ops = 2000;
  const Program p = GenerateProgram(11, options);
  std::set<gfp_t> gfps;
  std::set<int> orders, points, kinds, lock_types;
  for (const Op& op : p.ops) {
    if (const auto* a = std::get_if<AllocPages>(&op.v)) {
      gfps.insert(a->gfp.v);
      orders.insert(a->order.v);
    } else if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      points.insert(static_cast<int>(irq->at.v));
      kinds.insert(static_cast<int>(irq->kind));
    }
  }
  for (uint64_t seed = 0; seed < 50; ++seed) {
    for (const LockDecl& d : GenerateProgram(seed).locks) {
      lock_types.insert(static_cast<int>(d.type));
    }
  }
  EXPECT_GE(gfps.size(), 8u);
  EXPECT_GE(orders.size(), 4u);
  EXPECT_GE(points.size(), 10u);
  EXPECT_EQ(kinds.size(), 3u);
  EXPECT_EQ(lock_types.size(), static_cast<size_t>(ctx::kNumLockTypes));
}

TEST(ProgGenerateTest, OptionsAreRespected) {
  for (uint64_t seed = 0; seed < 100; ++seed) {
    GenerateOptions options;
    options.num_ops = 100;
    options.cpus = 1;
    options.allocator_ops = false;
    options.lock_ops = false;
    options.interrupts = false;
    options.pauses = false;
    const Program p = GenerateProgram(seed, options);
    EXPECT_TRUE(p.locks.empty());
    EXPECT_EQ(p.config.nr_cpus, 1);
    for (int code : CodesOf(p)) {
      // Context ops only.
      EXPECT_TRUE(
          (code >= LocalIrqDisable::kCode && code <= MightSleep::kCode) ||
          code == Printk::kCode || code == MemallocNofsSave::kCode ||
          code == MemallocNofsRestore::kCode)
          << OpName(MakeOp(code));
    }
  }
  GenerateOptions few_locks;
  few_locks.max_locks = 2;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const size_t n = GenerateProgram(seed, few_locks).locks.size();
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 2u);
  }
}

// Balanced mode: the closer an opener owes, or nullopt if op opens nothing.
std::optional<Op> CloserOf(const Op& op) {
  if (const auto* call = std::get_if<LockCall>(&op.v)) {
    if (auto release = MatchingRelease(call->verb)) {
      return LockCall{*release, call->lock, 0};
    }
    return std::nullopt;
  }
  switch (op.code()) {
    case LocalIrqDisable::kCode:
      return LocalIrqEnable{};
    case LocalIrqSave::kCode:
      return LocalIrqRestore{};
    case LocalBhDisable::kCode:
      return LocalBhEnable{};
    case PreemptDisable::kCode:
      return PreemptEnable{};
    case MigrateDisable::kCode:
      return MigrateEnable{};
    case MemallocNofsSave::kCode:
      return MemallocNofsRestore{};
  }
  return std::nullopt;
}

bool IsCloser(const Op& op) {
  if (const auto* call = std::get_if<LockCall>(&op.v)) {
    return !MatchingRelease(call->verb);
  }
  for (int code : {LocalIrqEnable::kCode, LocalIrqRestore::kCode,
                   LocalBhEnable::kCode, PreemptEnable::kCode,
                   MigrateEnable::kCode, MemallocNofsRestore::kCode}) {
    if (op.code() == code) return true;
  }
  return false;
}

// Walks ops with one scope stack per vCPU at top level and one per body;
// every closer must close the innermost open scope, bodies must end closed.
void ExpectBalanced(const std::vector<Op>& ops, std::vector<Op>& scopes,
                    std::vector<std::vector<Op>>* per_cpu) {
  std::vector<Op>* open = &scopes;
  for (const Op& op : ops) {
    if (const auto* cpu = std::get_if<SwitchCpu>(&op.v)) {
      open = &(*per_cpu)[cpu->cpu.v];
    } else if (const auto* irq = std::get_if<Interrupt>(&op.v)) {
      std::vector<Op> body;
      ExpectBalanced(irq->body, body, nullptr);
      EXPECT_TRUE(body.empty()) << "interrupt body ends with open scopes";
    } else if (std::optional<Op> closer = CloserOf(op)) {
      open->push_back(*closer);
    } else if (IsCloser(op)) {
      ASSERT_FALSE(open->empty()) << OpName(op) << " closes nothing";
      EXPECT_EQ(open->back(), op) << OpName(op) << " closes the wrong scope";
      open->pop_back();
    }
    if (const auto* call = std::get_if<LockCall>(&op.v)) {
      EXPECT_EQ(std::string(LockVerbName(call->verb)).find("trylock"),
                std::string::npos);
    }
  }
}

TEST(ProgGenerateTest, BalancedScopesNest) {
  size_t lock_ops = 0, irq_scopes = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE(seed);
    GenerateOptions options;
    options.balanced = true;
    options.num_ops = 300;
    options.cpus = 3;
    const Program p = GenerateProgram(seed, options);
    EXPECT_EQ(CountOps(p.ops), 300u);
    std::vector<std::vector<Op>> per_cpu(3);
    ExpectBalanced(p.ops, per_cpu[0], &per_cpu);
    const std::set<int> codes = CodesOf(p);
    lock_ops += codes.count(LockCall::kCode);
    irq_scopes += codes.count(LocalIrqSave::kCode);
  }
  EXPECT_GT(lock_ops, 150u);
  EXPECT_GT(irq_scopes, 150u);
}

TEST(ProgGenerateTest, UnbalancedModeIsNot) {
  // The default draws lock verbs freely: trylocks and stray releases occur.
  std::set<LockVerb> verbs;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    GenerateOptions options;
    options.num_ops = 200;
    for (const Op& op : GenerateProgram(seed, options).ops) {
      if (const auto* call = std::get_if<LockCall>(&op.v)) {
        verbs.insert(call->verb);
      }
    }
  }
  EXPECT_TRUE(verbs.count(LockVerb::kSpinTrylock) ||
              verbs.count(LockVerb::kRawSpinTrylock));
}

TEST(ProgGenerateTest, EveryAcquireHasAReleaseOfTheSameTypes) {
  int pairs = 0;
  for (int v = 0; v < kNumLockVerbs; ++v) {
    const auto verb = static_cast<LockVerb>(v);
    const std::optional<LockVerb> release = MatchingRelease(verb);
    if (!release) continue;
    ++pairs;
    EXPECT_EQ(LockVerbTypes(verb) & ~LockVerbTypes(*release), 0u)
        << LockVerbName(verb);
    EXPECT_FALSE(MatchingRelease(*release).has_value());
  }
  EXPECT_EQ(pairs, 28);
  // Every lock type has at least one acquisition the balanced mode can use.
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    int n = 0;
    for (LockVerb v : VerbsFor(static_cast<ctx::LockType>(t))) {
      n += MatchingRelease(v).has_value();
    }
    EXPECT_GT(n, 0) << ctx::LockTypeName(static_cast<ctx::LockType>(t));
  }
}

}  // namespace
}  // namespace reentry::prog
