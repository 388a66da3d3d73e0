#include "allocator/prog/text.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "allocator/base/rng.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/test_programs.h"
#include "allocator/prog/validate.h"

namespace reentry::prog {
namespace {

using testing::AllOpsProgram;

Program MustParse(std::string_view text) {
  ParseError error;
  std::optional<Program> p = ParseProgram(text, &error);
  EXPECT_TRUE(p.has_value()) << error.ToString() << "\n" << text;
  return p.value_or(Program{});
}

// "line:column: message" of the first error in text.
std::string ErrorOf(std::string_view text) {
  ParseError error;
  std::optional<Program> p = ParseProgram(text, &error);
  EXPECT_FALSE(p.has_value()) << "parsed:\n" << text;
  return error.ToString();
}

void ExpectRoundTrip(const Program& p) {
  std::string why;
  ASSERT_TRUE(ValidateProgram(p, &why)) << why;
  const std::string text = ProgramToText(p);
  const Program parsed = MustParse(text);
  EXPECT_EQ(parsed, p) << text;
  EXPECT_EQ(ProgramToText(parsed), text);
}

constexpr const char kAllOpsText[] = R"(config(cpus=3)
lock(A, spinlock_t, "&zone->lock")
lock(R, raw_spinlock_t, "&pcp->lock")
lock(M, mutex, "&m->lock # not a comment")
lock(S, seqlock_t, "zonelist_update_seq")
cpu(2)
local_irq_disable()
local_irq_enable()
local_irq_save()
local_irq_restore()
local_bh_disable()
local_bh_enable()
preempt_disable()
preempt_enable()
migrate_disable()
migrate_enable()
might_sleep()
hardirq(rmqueue_pcplist:pcp_locked, 2) {
  raw_spin_lock(R)
  nmi(rmqueue_bulk:zone_locked) {
    p1 = alloc_pages_nolock(0, 0)
  }
  softirq() {
  }
}
pause(free_one_page:zone_locked, 3)
spin_lock_nested(A, 1)
p3 = alloc_pages(GFP_KERNEL|__GFP_ZERO, 2)
__free_pages(p3, 2)
__free_pages(p3)
p4 = alloc_pages_nolock(__GFP_ACCOUNT, 0)
free_pages_nolock(p4)
p5 = alloc_pages_bulk(GFP_ATOMIC, 8)
pin_user_pages(p5, longterm)
pin_user_pages(p6)
unpin_user_page(p5)
build_all_zonelists()
offline_pages()
drain_all_pages()
drain_local_pages()
cpu_offline(1)
fail_page_alloc(3, 0)
p7 = cma_alloc(4)
cma_release(p7)
kvfree_rcu()
printk()
kswapd()
register_shrinker(M)
memalloc_nofs_save()
memalloc_nofs_restore()
pause_again(rmqueue_bulk:zone_locked, 2)
resume(free_one_page:zone_locked, 3)
resume()
cpu(0)
mutex_lock(M)
write_seqlock_irqsave(S)
)";

TEST(ProgTextTest, AllOpsProgramCoversEveryOpCode) {
  std::set<int> codes;
  testing::CollectCodes(AllOpsProgram().ops, codes);
  EXPECT_EQ(codes.size(), static_cast<size_t>(kNumOpCodes));
}

TEST(ProgTextTest, PrintsEveryOpCanonically) {
  EXPECT_EQ(ProgramToText(AllOpsProgram()), kAllOpsText);
}

TEST(ProgTextTest, ParsesEveryOp) {
  EXPECT_EQ(MustParse(kAllOpsText), AllOpsProgram());
}

TEST(ProgTextTest, EveryOpRoundTripsAlone) {
  const Program all = AllOpsProgram();
  for (const Op& op : all.ops) {
    Program p = all;
    p.ops = {op};
    SCOPED_TRACE(OpName(op));
    ExpectRoundTrip(p);
  }
}

TEST(ProgTextTest, EveryLockVerbRoundTripsOnEveryTypeItTakes) {
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    Program p;
    p.locks = {{"L", static_cast<ctx::LockType>(t), "&l->lock"}};
    for (LockVerb verb : VerbsFor(p.locks[0].type)) {
      p.ops.push_back(
          LockCall{verb, {0}, uint8_t{verb == LockVerb::kSpinLockNested}});
    }
    SCOPED_TRACE(ctx::LockTypeName(p.locks[0].type));
    ASSERT_FALSE(p.ops.empty());
    ExpectRoundTrip(p);
  }
}

TEST(ProgTextTest, EveryPointKindAndContextRoundTrips) {
  Program p;
  for (int i = 0; i < ctx::kNumPoints; ++i) {
    for (ctx::ContextKind kind :
         {ctx::ContextKind::kSoftirq, ctx::ContextKind::kHardirq,
          ctx::ContextKind::kNmi}) {
      p.ops.push_back(Interrupt{kind, {static_cast<ctx::PointId>(i), 1}, {}});
    }
    p.ops.push_back(Pause{{static_cast<ctx::PointId>(i), 255}});
  }
  ExpectRoundTrip(p);
}

TEST(ProgTextTest, EmptyProgramIsEmptyText) {
  EXPECT_EQ(ProgramToText(Program{}), "");
  EXPECT_EQ(MustParse(""), Program{});
  EXPECT_EQ(MustParse("\n  # only a comment\n\n"), Program{});
}

TEST(ProgTextTest, ConfigPrintsOnlyNonDefaults) {
  Program p;
  p.config.nr_cpus = 64;
  p.config.preempt_rt = true;
  p.config.preempt_count = false;
  p.config.smp = false;
  p.config.prove_raw_lock_nesting = false;
  p.config.nolock_design = ctx::NolockDesign::kV2Trylock;
  p.config.mem_pressure = 2;
  EXPECT_EQ(ProgramToText(p),
            "config(cpus=64, preempt_rt=1, preempt_count=0, smp=0, "
            "prove_raw_lock_nesting=0, nolock=v2, pressure=2)\n");
  ExpectRoundTrip(p);
  // Defaults written out are accepted and dropped.
  EXPECT_EQ(ProgramToText(MustParse("config(nolock=final, cpus=2, smp=1)\n")),
            "");
  Program rt;
  rt.config.preempt_rt = true;
  EXPECT_EQ(MustParse("config(preempt_rt=1)"), rt);
  EXPECT_EQ(MustParse("config(pressure=3)").config.mem_pressure, 3);
  EXPECT_EQ(ProgramToText(MustParse("config(pressure=0)\n")), "");
}

TEST(ProgTextTest, BugsPrintInZooOrder) {
  const Program p = MustParse("bugs(BZ-08, 1, bz-28a)\n");
  EXPECT_TRUE(p.bugs.has(BugId::kBz01));
  EXPECT_TRUE(p.bugs.has(BugId::kBz08));
  EXPECT_TRUE(p.bugs.has(BugId::kBz28Highatomic));
  EXPECT_EQ(ProgramToText(p), "bugs(BZ-01, BZ-08, BZ-28a)\n");
  EXPECT_EQ(ProgramToText(MustParse("bugs()\n")), "");
}

TEST(ProgTextTest, GfpKeepsUnknownBitsAsHex) {
  const Program p = MustParse("p0 = alloc_pages(GFP_KERNEL | 0x200, 0)\n");
  const auto& alloc = std::get<AllocPages>(p.ops[0].v);
  EXPECT_EQ(alloc.gfp.v, gfp::GFP_KERNEL | 0x200u);
  EXPECT_EQ(ProgramToText(p), "p0 = alloc_pages(GFP_KERNEL|0x200, 0)\n");
  Program all_bits;
  all_bits.ops = {AllocPages{{31}, {0xffffffffu}, {10}}};
  ExpectRoundTrip(all_bits);
}

TEST(ProgTextTest, BriefExampleParsesToCanonicalForm) {
  constexpr const char kText[] = R"(
# comments with '#' to end of line, blank lines ignored
config(cpus=2, preempt_rt=1, preempt_count=0, smp=0, prove_raw_lock_nesting=0, nolock=v2)
bugs(BZ-01, BZ-08)
lock(A, spinlock_t, "&zone->lock")   # declarations, in order
lock(M, mutex, "&m->lock")
cpu(1)
spin_lock_irqsave(A)
spin_lock_nested(A, 1)
p3 = alloc_pages(GFP_KERNEL|__GFP_ZERO, 0)
__free_pages(p3)
__free_pages(p3, 2)
pin_user_pages(p2, longterm)
pause(rmqueue_bulk:zone_locked)
hardirq(rmqueue_bulk:zone_locked, 2) {
    p1 = alloc_pages_nolock(0, 0)
}
hardirq() {
}
)";
  EXPECT_EQ(
      ProgramToText(MustParse(kText)),
      R"(config(preempt_rt=1, preempt_count=0, smp=0, prove_raw_lock_nesting=0, nolock=v2)
bugs(BZ-01, BZ-08)
lock(A, spinlock_t, "&zone->lock")
lock(M, mutex, "&m->lock")
cpu(1)
spin_lock_irqsave(A)
spin_lock_nested(A, 1)
p3 = alloc_pages(GFP_KERNEL|__GFP_ZERO, 0)
__free_pages(p3)
__free_pages(p3, 2)
pin_user_pages(p2, longterm)
pause(rmqueue_bulk:zone_locked)
hardirq(rmqueue_bulk:zone_locked, 2) {
  p1 = alloc_pages_nolock(0, 0)
}
hardirq() {
}
)");
}

TEST(ProgTextTest, LooseSpellingsNormalize) {
  constexpr const char kText[] =
      "  cpu( 1 )\t# tabs, spaces, CRLF\r\n"
      "hardirq(none) {\r\n"
      "}\n"
      "nmi(none, 3) {\n"
      "}\n"
      "pause(none)\n"
      "p01 = cma_alloc(007)";  // no final newline
  EXPECT_EQ(ProgramToText(MustParse(kText)),
            "cpu(1)\nhardirq() {\n}\nnmi(none, 3) {\n}\npause()\n"
            "p1 = cma_alloc(7)\n");
}

TEST(ProgTextTest, NestsToMaxBodyDepth) {
  Program p;
  std::vector<Op>* ops = &p.ops;
  for (int depth = 0; depth < kMaxBodyDepth; ++depth) {
    ops->push_back(Interrupt{ctx::ContextKind::kHardirq, {}, {}});
    ops = &std::get<Interrupt>(ops->back().v).body;
  }
  ops->push_back(MightSleep{});
  ExpectRoundTrip(p);
  EXPECT_EQ(ProgramToText(p),
            "hardirq() {\n"
            "  hardirq() {\n"
            "    hardirq() {\n"
            "      hardirq() {\n"
            "        might_sleep()\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(ProgTextTest, AcceptsExactlyMaxOpsAndMaxLocks) {
  Program p;
  for (int i = 0; i < kMaxLocks; ++i) {
    p.locks.push_back(
        {"L" + std::to_string(i), ctx::LockType::kSpinlock, "&l->lock"});
  }
  p.ops.assign(kMaxOps - 1, Op(Printk{}));
  p.ops.push_back(Interrupt{ctx::ContextKind::kNmi, {}, {}});
  ExpectRoundTrip(p);
}

TEST(ProgTextTest, NamesDoNotCollide) {
  // Op, verb and context names share one namespace in the text.
  std::set<std::string> names;
  size_t n = 0;
  ForEachOpType([&]<typename T>() {
    if constexpr (PlainOp<T>) {
      names.insert(T::kName);
      ++n;
    }
  });
  for (int v = 0; v < kNumLockVerbs; ++v) {
    names.insert(LockVerbName(static_cast<LockVerb>(v)));
    ++n;
  }
  for (int k = 0; k < ctx::kNumContextKinds; ++k) {
    names.insert(ctx::ContextName(static_cast<ctx::ContextKind>(k)));
    ++n;
  }
  names.insert({"config", "bugs", "lock"});
  EXPECT_EQ(names.size(), n + 3);
}

// Mutated text: the parser either accepts it (and the program is valid and
// round-trips) or rejects it with a position inside the text and a message.
TEST(ProgTextTest, MutatedTextNeverCrashesAndErrorsPointIntoTheText) {
  const std::string base = kAllOpsText;
  constexpr std::string_view kSnippets[] = {
      "(",  ")",  ",",   "{",  "}",       "\n",   "=", "|", "\"",
      "#",  " ",  "p99", "0x", "hardirq", "none", "A", "-", "999999999999",
      "\t", "\r", "\xff"};
  Rng rng(99);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    for (int m = 1 + rng.Below(3); m > 0; --m) {
      const size_t at = rng.Below(text.size() + 1);
      switch (rng.Below(3)) {
        case 0:
          text.erase(at, 1 + rng.Below(8));
          break;
        case 1:
          text.insert(at, kSnippets[rng.Below(std::size(kSnippets))]);
          break;
        default:
          if (at < text.size()) text[at] = static_cast<char>(rng.Next());
      }
    }
    ParseError error;
    const std::optional<Program> p = ParseProgram(text, &error);
    if (p) {
      ++accepted;
      std::string why;
      EXPECT_TRUE(ValidateProgram(*p, &why)) << why << "\n" << text;
      EXPECT_EQ(MustParse(ProgramToText(*p)), *p);
      continue;
    }
    const int lines = 1 + std::count(text.begin(), text.end(), '\n');
    EXPECT_GE(error.line, 1);
    EXPECT_LE(error.line, lines);
    EXPECT_GE(error.column, 1);
    EXPECT_FALSE(error.message.empty());
  }
  EXPECT_GT(accepted, 20);  // some mutations keep the text valid
}

// --- docs/program-format.md stays true. ---

std::string ReadDoc() {
  std::ifstream in(std::string(REENTRY_SOURCE_DIR) + "/docs/program-format.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The bodies of the doc's ```reentry code blocks.
std::vector<std::string> DocExamples(const std::string& doc) {
  std::vector<std::string> blocks;
  const std::string open = "```reentry\n";
  for (size_t at = doc.find(open); at != std::string::npos;
       at = doc.find(open, at)) {
    at += open.size();
    const size_t end = doc.find("```", at);
    blocks.push_back(doc.substr(at, end - at));
  }
  return blocks;
}

TEST(ProgTextTest, DocExamplesParse) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "docs/program-format.md not found";
  const std::vector<std::string> examples = DocExamples(doc);
  EXPECT_EQ(examples.size(), 5u);
  for (const std::string& text : examples) {
    const Program p = MustParse(text);
    EXPECT_FALSE(p.ops.empty()) << text;
    ExpectRoundTrip(p);
  }
}

TEST(ProgTextTest, DocNamesEveryOpVerbTypeAndConfigKey) {
  const std::string doc = ReadDoc();
  auto mentioned = [&](std::string_view name) {
    return doc.find("`" + std::string(name) + "`") != std::string::npos;
  };
  ForEachOpType([&]<typename T>() {
    if constexpr (PlainOp<T>) {
      EXPECT_TRUE(mentioned(T::kName)) << T::kName;
    }
  });
  for (int v = 0; v < kNumLockVerbs; ++v) {
    const char* name = LockVerbName(static_cast<LockVerb>(v));
    EXPECT_TRUE(mentioned(name)) << name;
  }
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    const char* name = ctx::LockTypeName(static_cast<ctx::LockType>(t));
    EXPECT_TRUE(mentioned(name)) << name;
  }
  for (const char* key : {"cpus", "preempt_rt", "preempt_count", "smp",
                          "prove_raw_lock_nesting", "nolock", "pressure"}) {
    EXPECT_TRUE(mentioned(key)) << key;
  }
}

// --- Errors: one test per class, each checking line:column and message. ---

TEST(ProgTextErrorTest, ErrorToString) {
  ParseError e{3, 14, "expected ')' after lock name, got ','"};
  EXPECT_EQ(e.ToString(), "3:14: expected ')' after lock name, got ','");
  EXPECT_FALSE(ParseProgram("bogus()", nullptr).has_value());
}

TEST(ProgTextErrorTest, UnknownOp) {
  EXPECT_EQ(ErrorOf("cpu(0)\n  spin_lok(A)\n"), "2:3: unknown op 'spin_lok'");
  EXPECT_EQ(ErrorOf("interrupt()\n"), "1:1: unknown op 'interrupt'");
}

TEST(ProgTextErrorTest, UnknownLock) {
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nspin_lock(B)\n"),
            "2:11: unknown lock 'B' (declare it: lock(B, type, \"class\"))");
}

TEST(ProgTextErrorTest, UnknownPoint) {
  EXPECT_EQ(ErrorOf("pause(rmqueue_bulk:zone_lockd)\n"),
            "1:7: unknown injection point 'rmqueue_bulk:zone_lockd' (see "
            "`reentry points`)");
  EXPECT_EQ(ErrorOf("hardirq(3) {\n}\n"),
            "1:9: expected injection point, got '3' (see `reentry points`)");
}

TEST(ProgTextErrorTest, UnknownGfp) {
  EXPECT_EQ(ErrorOf("p1 = alloc_pages(GFP_KERNEL|GFP_KERNAL, 0)\n"),
            "1:29: unknown gfp flag 'GFP_KERNAL'");
  EXPECT_EQ(ErrorOf("p1 = alloc_pages(GFP_KERNEL|, 0)\n"),
            "1:29: expected gfp flags (e.g. GFP_KERNEL|__GFP_ZERO), got ','");
}

TEST(ProgTextErrorTest, VerbOnWrongLockType) {
  EXPECT_EQ(ErrorOf("lock(M, mutex, \"&m->lock\")\nspin_lock_irqsave(M)\n"),
            "2:19: spin_lock_irqsave cannot take lock M of type mutex "
            "(spin_lock_irqsave takes spinlock_t)");
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nlocal_lock(A)\n"),
            "2:12: local_lock cannot take lock A of type spinlock_t "
            "(local_lock takes local_lock_t or local_trylock_t)");
}

TEST(ProgTextErrorTest, CpuOutOfRange) {
  EXPECT_EQ(ErrorOf("config(cpus=2)\ncpu(2)\n"),
            "2:5: cpu 2 out of range (0..1): config has 2 cpus");
  EXPECT_EQ(ErrorOf("cpu_offline(7)\n"),
            "1:13: cpu 7 out of range (0..1): config has 2 cpus");
  EXPECT_EQ(ErrorOf("config(cpus=65)\n"), "1:13: cpus 65 out of range (1..64)");
  EXPECT_EQ(ErrorOf("config(cpus=0)\n"), "1:13: cpus 0 out of range (1..64)");
  EXPECT_EQ(ErrorOf("config(pressure=4)\n"),
            "1:17: pressure 4 out of range (0..3)");
}

TEST(ProgTextErrorTest, HeaderAfterOps) {
  EXPECT_EQ(ErrorOf("cpu(1)\nconfig(cpus=4)\n"),
            "2:1: config(...) must come before ops");
  EXPECT_EQ(ErrorOf("cpu(1)\nbugs(BZ-01)\n"),
            "2:1: bugs(...) must come before ops");
  EXPECT_EQ(ErrorOf("cpu(1)\nlock(A, mutex, \"m\")\n"),
            "2:1: lock(...) must come before ops");
}

TEST(ProgTextErrorTest, HeaderOrder) {
  EXPECT_EQ(ErrorOf("bugs(BZ-01)\nconfig(cpus=4)\n"),
            "2:1: config(...) must come before bugs(...) and lock "
            "declarations");
  EXPECT_EQ(ErrorOf("lock(A, mutex, \"m\")\nbugs(BZ-01)\n"),
            "2:1: bugs(...) must come before lock declarations");
  EXPECT_EQ(ErrorOf("config(cpus=4)\nconfig(cpus=4)\n"),
            "2:1: duplicate config(...) line");
  EXPECT_EQ(ErrorOf("bugs(BZ-01)\nbugs(BZ-08)\n"),
            "2:1: duplicate bugs(...) line");
  EXPECT_EQ(ErrorOf("p1 = config(cpus=4)\n"), "1:1: config(...) has no result");
}

TEST(ProgTextErrorTest, BadConfig) {
  EXPECT_EQ(ErrorOf("config(cpu=2)\n"),
            "1:8: unknown config key 'cpu' (expected one of cpus, preempt_rt, "
            "preempt_count, smp, prove_raw_lock_nesting, nolock, pressure)");
  EXPECT_EQ(ErrorOf("config(smp=2)\n"),
            "1:12: expected 0 or 1 for smp, got '2'");
  EXPECT_EQ(ErrorOf("config(nolock=v3)\n"),
            "1:15: expected nolock design 'final' or 'v2', got 'v3'");
  EXPECT_EQ(ErrorOf("config(smp=1, smp=1)\n"),
            "1:15: duplicate config key 'smp'");
  EXPECT_EQ(ErrorOf("config(smp 1)\n"),
            "1:12: expected '=' after config key 'smp', got '1'");
  EXPECT_EQ(ErrorOf("config(smp=1 preempt_rt=1)\n"),
            "1:14: expected ',' or ')' after config value, got 'preempt_rt'");
}

TEST(ProgTextErrorTest, UnknownBug) {
  EXPECT_EQ(ErrorOf("bugs(BZ-01, BZ-99)\n"),
            "1:13: expected a bug-zoo id like BZ-01 (see `reentry bugs`), got "
            "'BZ-99'");
}

TEST(ProgTextErrorTest, SlotOutOfRange) {
  EXPECT_EQ(ErrorOf("p32 = alloc_pages(GFP_KERNEL, 0)\n"),
            "1:1: slot p32 out of range (p0..p31)");
  EXPECT_EQ(ErrorOf("__free_pages(q3)\n"),
            "1:14: expected page slot (p0..p31), got 'q3'");
  // Found by fuzzing: a slot at end of input read past the token.
  EXPECT_EQ(ErrorOf("__free_pages(#bugs(11"),
            "1:22: expected page slot (p0..p31), got end of input");
  EXPECT_EQ(ErrorOf("p = cma_alloc(1)\n"),
            "1:1: expected page slot (p0..p31), got 'p'");
  EXPECT_EQ(ErrorOf("unpin_user_page(p99999999999999999999)\n"),
            "1:17: expected page slot (p0..p31), got 'p99999999999999999999'");
}

TEST(ProgTextErrorTest, OrderOutOfRange) {
  EXPECT_EQ(ErrorOf("p1 = alloc_pages(GFP_KERNEL, 11)\n"),
            "1:30: order 11 out of range (0..10)");
  EXPECT_EQ(ErrorOf("__free_pages(p1, 255)\n"),
            "1:18: order 255 out of range (0..10)");
  EXPECT_EQ(ErrorOf("p1 = alloc_pages(GFP_KERNEL, 0x1)\n"),
            "1:30: expected order (decimal), got '0x1'");
}

TEST(ProgTextErrorTest, OtherNumbersOutOfRange) {
  EXPECT_EQ(ErrorOf("p1 = cma_alloc(256)\n"),
            "1:16: count 256 out of range (0..255)");
  EXPECT_EQ(ErrorOf("pause(printk:console_locked, 0)\n"),
            "1:30: nth 0 out of range (1..255)");
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nspin_lock_nested(A, 8)\n"),
            "2:21: subclass 8 out of range (0..7)");
  EXPECT_EQ(ErrorOf("fail_page_alloc(1, 99999999999)\n"),
            "1:20: expected count (decimal), got '99999999999'");
}

TEST(ProgTextErrorTest, NestingTooDeep) {
  std::string text;
  for (int i = 0; i <= kMaxBodyDepth; ++i) {
    text += std::string(2 * i, ' ') + "nmi() {\n";
  }
  EXPECT_EQ(ErrorOf(text), "5:9: interrupts nested deeper than 4");
}

TEST(ProgTextErrorTest, TooManyOps) {
  std::string text;
  for (int i = 0; i <= kMaxOps; ++i) text += "printk()\n";
  EXPECT_EQ(ErrorOf(text),
            "4097:1: too many ops: a program holds at most 4096");
}

TEST(ProgTextErrorTest, DuplicateLockName) {
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nlock(A, mutex, \"m\")\n"),
            "2:6: duplicate lock name 'A'");
}

TEST(ProgTextErrorTest, TooManyLocks) {
  std::string text;
  for (int i = 0; i <= kMaxLocks; ++i) {
    text += "lock(L" + std::to_string(i) + ", mutex, \"m\")\n";
  }
  EXPECT_EQ(ErrorOf(text), "33:1: too many locks: at most 32 may be declared");
}

TEST(ProgTextErrorTest, BadLockDeclaration) {
  EXPECT_EQ(ErrorOf("lock(A, spinlock, \"a\")\n"),
            "1:9: expected lock type (raw_spinlock_t, spinlock_t, rwlock_t, "
            "local_lock_t, local_trylock_t, seqcount_t, seqlock_t, mutex, "
            "lockdep_map), got 'spinlock'");
  EXPECT_EQ(ErrorOf("lock(A, mutex, m)\n"),
            "1:16: expected lock class name in double quotes, got 'm'");
  EXPECT_EQ(ErrorOf("lock(A, mutex, \"\")\n"), "1:16: empty lock class name");
  EXPECT_EQ(ErrorOf("lock(A, mutex, \"m\ttab\")\n"),
            "1:16: lock class name may hold printable ASCII except '\"' and "
            "'\\'");
  EXPECT_EQ(ErrorOf("lock(A, mutex, \"" + std::string(65, 'x') + "\")\n"),
            "1:16: lock class name longer than 64 characters");
  EXPECT_EQ(ErrorOf("lock(" + std::string(33, 'x') + ", mutex, \"m\")\n"),
            "1:6: lock name '" + std::string(33, 'x') +
                "' longer than 32 characters");
  EXPECT_EQ(ErrorOf("lock(zone:lock, mutex, \"m\")\n"),
            "1:6: lock name 'zone:lock' is not an identifier "
            "([A-Za-z_][A-Za-z0-9_]*)");
  EXPECT_EQ(ErrorOf("lock(A, mutex, \"m)\n"),
            "1:16: unterminated string: expected '\"' before end of line");
}

TEST(ProgTextErrorTest, TaskInterrupt) {
  EXPECT_EQ(ErrorOf("task() {\n}\n"),
            "1:1: interrupts of kind task are not allowed: use softirq, "
            "hardirq or nmi");
}

TEST(ProgTextErrorTest, UnbalancedBraces) {
  EXPECT_EQ(ErrorOf("hardirq() {\n  printk()\n"),
            "3:1: expected '}' to close hardirq(...) { opened on line 1");
  EXPECT_EQ(ErrorOf("printk()\n}\n"),
            "2:1: unmatched '}': no interrupt body is open");
  EXPECT_EQ(ErrorOf("hardirq()\n"),
            "1:10: expected '{' after hardirq(...): an interrupt has a body, "
            "got end of line");
  EXPECT_EQ(ErrorOf("printk() {\n}\n"),
            "1:10: expected end of line after ')', got '{'");
}

TEST(ProgTextErrorTest, TrailingGarbage) {
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nspin_lock(A, 1)\n"),
            "2:12: expected ')' after lock name, got ','");
  EXPECT_EQ(ErrorOf("printk() printk()\n"),
            "1:10: expected end of line after ')', got 'printk'");
  EXPECT_EQ(ErrorOf("hardirq() { printk()\n}\n"),
            "1:13: expected end of line after '{', got 'printk'");
  EXPECT_EQ(ErrorOf("hardirq() {\n} x\n"),
            "2:3: expected end of line after '}', got 'x'");
  EXPECT_EQ(ErrorOf("config(cpus=2) 3\n"),
            "1:16: expected end of line after ')', got '3'");
  EXPECT_EQ(ErrorOf("printk(1)\n"), "1:8: expected ')' after '(', got '1'");
  EXPECT_EQ(ErrorOf("__free_pages(p1, 2, 3)\n"),
            "1:19: expected ')' after order, got ','");
}

TEST(ProgTextErrorTest, MissingArguments) {
  EXPECT_EQ(ErrorOf("p1 = alloc_pages(GFP_KERNEL)\n"),
            "1:28: expected ',' and order after gfp flags, got ')'");
  EXPECT_EQ(ErrorOf("pin_user_pages(p1, pinned)\n"),
            "1:20: expected 'longterm', got 'pinned'");
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\nspin_lock_nested(A)\n"),
            "2:19: expected ',' and subclass after lock name, got ')'");
  EXPECT_EQ(ErrorOf("printk\n"),
            "1:7: expected '(' after printk, got end of line");
}

TEST(ProgTextErrorTest, ResultSlotMismatch) {
  EXPECT_EQ(ErrorOf("alloc_pages(GFP_KERNEL, 0)\n"),
            "1:1: alloc_pages returns a page: write 'pN = alloc_pages(...)'");
  EXPECT_EQ(ErrorOf("p1 = __free_pages(p1)\n"),
            "1:1: __free_pages returns no page");
  EXPECT_EQ(ErrorOf("lock(A, spinlock_t, \"a\")\np1 = spin_lock(A)\n"),
            "2:1: spin_lock returns no page");
  EXPECT_EQ(ErrorOf("x = cma_alloc(1)\n"),
            "1:1: expected page slot (p0..p31), got 'x'");
}

TEST(ProgTextErrorTest, SwitchCpuInsideBody) {
  EXPECT_EQ(ErrorOf("softirq() {\n  cpu(1)\n}\n"),
            "2:3: cpu() is not allowed inside an interrupt body: a body runs "
            "on the vCPU it interrupts");
}

TEST(ProgTextErrorTest, ResumeInsideBodyAndBadPausePoints) {
  EXPECT_EQ(ErrorOf("hardirq() {\n  resume()\n}\n"),
            "2:3: resume() is not allowed inside an interrupt body: it "
            "schedules a vCPU between top-level ops");
  EXPECT_EQ(ErrorOf("resume(rmqueue_bulk)\n"),
            "1:8: unknown injection point 'rmqueue_bulk' (see `reentry "
            "points`)");
  EXPECT_NE(ErrorOf("pause_again(rmqueue_bulk:zone_locked, 0)\n"), "");
  EXPECT_NE(ErrorOf("resume(rmqueue_bulk:zone_locked, 256)\n"), "");
  EXPECT_NE(ErrorOf("resume(rmqueue_bulk:zone_locked, 2, 3)\n"), "");
}

TEST(ProgTextErrorTest, BadCharacters) {
  EXPECT_EQ(ErrorOf("printk();\n"), "1:9: unexpected character ';'");
  EXPECT_EQ(ErrorOf("printk()\n\xc3\xa9\n"), "2:1: unexpected byte 0xc3");
  EXPECT_EQ(ErrorOf("(printk)\n"),
            "1:1: expected an op or a declaration, got '('");
}

}  // namespace
}  // namespace reentry::prog
