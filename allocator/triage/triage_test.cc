#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>

#include "allocator/base/rng.h"
#include "allocator/exec/executor.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/generate.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"
#include "allocator/triage/campaign.h"
#include "allocator/triage/dictionary.h"
#include "allocator/triage/discipline.h"
#include "allocator/triage/engine.h"
#include "allocator/triage/explain.h"
#include "allocator/triage/files.h"
#include "allocator/triage/isolate.h"
#include "allocator/triage/minimize.h"
#include "allocator/triage/reference_checker.h"
#include "allocator/triage/regression.h"
#include "allocator/triage/splice.h"
#include "allocator/triage/sweep.h"
#include "allocator/triage/target.h"
#include "allocator/triage/tool_support.h"

namespace reentry::triage {
namespace {

using namespace ::reentry::gfp;  // NOLINT

prog::Program Parse(const std::string& text) {
  prog::ParseError e;
  std::optional<prog::Program> p = prog::ParseProgram(text, &e);
  EXPECT_TRUE(p.has_value()) << e.ToString() << "\n" << text;
  return p.value_or(prog::Program{});
}

std::map<std::string, std::string>* g_env = nullptr;
const char* FakeEnv(const char* name) {
  auto it = g_env->find(name);
  return it == g_env->end() ? nullptr : it->second.c_str();
}
bool FromEnv(std::map<std::string, std::string> env, TargetOptions* o,
             std::string* error) {
  g_env = &env;
  const bool ok = TargetOptionsFromEnv(o, error, &FakeEnv);
  g_env = nullptr;
  return ok;
}

std::set<std::string> Titles(TargetId t, const prog::Program& p,
                             const TargetOptions& o) {
  exec::Executor ex;
  std::set<std::string> out;
  for (const Problem& pr : Evaluate(t, p, o, ex).problems) out.insert(pr.title);
  return out;
}

// --- Options ---

TEST(TargetOptionsTest, ParsesEveryVariable) {
  TargetOptions o;
  std::string error;
  ASSERT_TRUE(FromEnv({{"REENTRY_BUGS", "BZ-01,bz-08"},
                       {"REENTRY_RT", "1"},
                       {"REENTRY_CPUS", "3"},
                       {"REENTRY_NOLOCK", "v2"},
                       {"REENTRY_INVARIANTS", "every-op"},
                       {"REENTRY_PROVE_RAW_LOCK_NESTING", "0"}},
                      &o, &error))
      << error;
  EXPECT_TRUE(o.bugs.has(BugId::kBz01));
  EXPECT_TRUE(o.bugs.has(BugId::kBz08));
  EXPECT_EQ(o.rt, true);
  EXPECT_EQ(o.cpus, 3);
  EXPECT_EQ(o.nolock, ctx::NolockDesign::kV2Trylock);
  EXPECT_TRUE(o.invariants_every_op);
  EXPECT_EQ(o.prove_raw_lock_nesting, false);
  // The environment a campaign passes to the engines gives the same options.
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : TargetOptionsToEnv(o)) env[k] = v;
  TargetOptions back;
  ASSERT_TRUE(FromEnv(env, &back, &error)) << error;
  EXPECT_EQ(back, o);
}

TEST(TargetOptionsTest, BadValuesNameTheVariable) {
  TargetOptions o;
  std::string error;
  EXPECT_FALSE(FromEnv({{"REENTRY_BUGS", "BZ-99"}}, &o, &error));
  EXPECT_NE(error.find("REENTRY_BUGS"), std::string::npos) << error;
  EXPECT_FALSE(FromEnv({{"REENTRY_CPUS", "0"}}, &o, &error));
  EXPECT_NE(error.find("REENTRY_CPUS"), std::string::npos) << error;
  EXPECT_FALSE(FromEnv({{"REENTRY_RT", "maybe"}}, &o, &error));
  EXPECT_NE(error.find("REENTRY_RT"), std::string::npos) << error;
  EXPECT_FALSE(
      FromEnv({{"REENTRY_ONLY_TITLES", "/nonexistent/x"}}, &o, &error));
  EXPECT_NE(error.find("REENTRY_ONLY_TITLES"), std::string::npos) << error;
  EXPECT_FALSE(
      FromEnv({{"REENTRY_UP", "1"}, {"REENTRY_CPUS", "2"}}, &o, &error));
}

TEST(TargetOptionsTest, TargetNames) {
  EXPECT_EQ(ParseTargetName("main"), TargetId::kMain);
  EXPECT_EQ(ParseTargetName("checker_fuzzer"), TargetId::kChecker);
  EXPECT_FALSE(ParseTargetName("nope").has_value());
  EXPECT_EQ(TargetBinaryName(TargetId::kGfp), "gfp_fuzzer");
}

// --- Campaign configuration and discipline ---

TEST(DisciplineTest, CampaignBugsReplaceTheInputsUnlessAsked) {
  prog::Program p =
      Parse("config(cpus=9)\nbugs(BZ-08)\ncpu(7)\ncpu_offline(8)\n");
  TargetOptions o;
  o.bugs.set(BugId::kBz01);
  prog::Program q = ApplyCampaignConfig(p, o);
  EXPECT_TRUE(q.bugs.has(BugId::kBz01));
  EXPECT_FALSE(q.bugs.has(BugId::kBz08));
  EXPECT_EQ(q.config.nr_cpus, 1 + (9 - 1) % kDefaultMaxCpus);
  EXPECT_TRUE(prog::ValidateProgram(q, nullptr));
  o.bugs_from_input = true;
  q = ApplyCampaignConfig(p, o);
  EXPECT_TRUE(q.bugs.has(BugId::kBz08));
  o.up = true;
  EXPECT_EQ(ApplyCampaignConfig(p, o).config.nr_cpus, 1);
}

TEST(DisciplineTest, ValidAndIdempotentOnGeneratedPrograms) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    prog::GenerateOptions g;
    g.num_ops = 80;
    g.cpus = 1 + seed % 4;
    prog::Program p = prog::GenerateProgram(seed, g);
    if (seed % 3 == 0) p.config.preempt_rt = true;
    for (DisciplineMode m : {DisciplineMode::kCaller, DisciplineMode::kGfp}) {
      const prog::Program once = CallerDiscipline(p, m);
      std::string error;
      ASSERT_TRUE(prog::ValidateProgram(once, &error)) << error;
      EXPECT_EQ(CallerDiscipline(once, m), once) << "seed " << seed;
    }
    const prog::Program locks = LockOpsOnly(p);
    EXPECT_TRUE(prog::ValidateProgram(locks, nullptr));
  }
}

TEST(DisciplineTest, MakesACorrectCaller) {
  const prog::Program p =
      CallerDiscipline(Parse("local_irq_enable()\n"
                             "local_irq_save()\n"
                             "p0 = alloc_pages(GFP_KERNEL|__GFP_NOFAIL, 0)\n"
                             "hardirq() {\n"
                             "  p1 = alloc_pages(GFP_KERNEL, 0)\n"
                             "}\n"
                             "nmi() {\n"
                             "  p2 = alloc_pages(GFP_ATOMIC, 1)\n"
                             "  __free_pages(p2, 3)\n"
                             "}\n"),
                       DisciplineMode::kCaller);
  EXPECT_EQ(prog::ProgramToText(p),
            "local_irq_save()\n"
            "p0 = alloc_pages(__GFP_IO|__GFP_FS|__GFP_KSWAPD_RECLAIM, 0)\n"
            "hardirq() {\n"
            "  p1 = alloc_pages(__GFP_IO|__GFP_FS|__GFP_KSWAPD_RECLAIM, 0)\n"
            "}\n"
            "nmi() {\n"
            "  p2 = alloc_pages_nolock(0, 1)\n"
            "  free_pages_nolock(p2)\n"
            "}\n"
            "local_irq_restore()\n");
}

TEST(DisciplineTest, ProgramLocksInOrderWithIrqsaveAndNotModelClasses) {
  const prog::Program p =
      CallerDiscipline(Parse("lock(A, spinlock_t, \"&a->lock\")\n"
                             "lock(B, spinlock_t, \"&b->lock\")\n"
                             "lock(Z, spinlock_t, \"&zone->lock\")\n"
                             "lock(P, spinlock_t, \"&port->lock\")\n"
                             "spin_lock(B)\n"
                             "spin_lock(A)\n"
                             "spin_lock(Z)\n"
                             "spin_lock(P)\n"
                             "p0 = alloc_pages(GFP_KERNEL, 0)\n"),
                       DisciplineMode::kCaller);
  EXPECT_EQ(prog::ProgramToText(p),
            "lock(A, spinlock_t, \"&a->lock\")\n"
            "lock(B, spinlock_t, \"&b->lock\")\n"
            "lock(Z, spinlock_t, \"&zone->lock\")\n"
            "lock(P, spinlock_t, \"&port->lock\")\n"
            "spin_lock_irqsave(B)\n"
            "spin_lock_irqsave(P)\n"
            "p0 = alloc_pages(GFP_NOWAIT|__GFP_IO|__GFP_FS, 0)\n"
            "spin_unlock_irqrestore(P)\n"
            "spin_unlock_irqrestore(B)\n");
}

// An input as the main target runs it, and how many findings that gives.
prog::Program Disciplined(const std::string& text) {
  return CallerDiscipline(Parse(text), DisciplineMode::kCaller);
}
size_t FindingsOf(const prog::Program& p) {
  exec::Executor ex;
  return ex.Run(p).findings.size();
}

// The caller takes no lock under an adopted one (the model's wake-ups and
// printk take those without the program's locks): the input below, from a
// campaign, made rq->__lock -> L0 on cpu 1 and L0 -> (wakeup_kswapd)
// rq->__lock on cpu 0. Its own locks before an adopted one stay.
TEST(DisciplineTest, NoLockUnderAnAdoptedLock) {
  const char* kInput =
      "config(prove_raw_lock_nesting=0)\n"
      "lock(RQ, raw_spinlock_t, \"&rq->__lock\")\n"
      "lock(L0, raw_spinlock_t, \"D\")\n"
      "cpu(1)\n"
      "raw_spin_lock_irqsave(RQ)\n"
      "raw_spin_lock_irqsave(L0)\n"
      "p19 = alloc_pages(__GFP_NOWARN, 10)\n"
      "cpu(0)\n"
      "p10 = alloc_pages(__GFP_KSWAPD_RECLAIM, 10)\n"
      "raw_spin_lock_irqsave(L0)\n"
      "p29 = alloc_pages(__GFP_KSWAPD_RECLAIM, 10)\n"
      "raw_spin_unlock_irqrestore(L0)\n"
      "cpu(1)\n"
      "raw_spin_unlock_irqrestore(L0)\n"
      "raw_spin_unlock_irqrestore(RQ)\n";
  const std::string text = prog::ProgramToText(Disciplined(kInput));
  EXPECT_NE(text.find("cpu(1)\nraw_spin_lock_irqsave(RQ)\np19 = "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cpu(0)\np10 = alloc_pages(__GFP_KSWAPD_RECLAIM, 10)\n"
                      "raw_spin_lock_irqsave(L0)\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(FindingsOf(Disciplined(kInput)), 0u);
  // An own lock first (the discipline takes locks in declaration order)
  // and the adopted one inside it: kept.
  const std::string ordered = prog::ProgramToText(
      Disciplined("lock(L0, raw_spinlock_t, \"D\")\n"
                  "lock(RQ, raw_spinlock_t, \"&rq->__lock\")\n"
                  "raw_spin_lock(L0)\n"
                  "raw_spin_lock(RQ)\n"));
  EXPECT_NE(
      ordered.find("raw_spin_lock_irqsave(L0)\nraw_spin_lock_irqsave(RQ)\n"),
      std::string::npos)
      << ordered;
}

// Only an NMI arrives where rt_spin_lock's slow path holds the rtmutex's
// wait_lock (irqs off). The input is a campaign's: its softirq trylocked the
// zone->lock its vCPU was waiting for and was reported as recursion.
TEST(DisciplineTest, OnlyNmiAtTheRtMutexWaitLock) {
  const std::string input =
      "config(preempt_rt=1, pressure=3)\n"
      "cpu(1)\n"
      "softirq(rt_spin_lock:wait_lock) {\n"
      "  p9 = alloc_pages_nolock(0, 0)\n"
      "}\n"
      "cpu(0)\n"
      "pause(steal_suitable_fallback:zone_locked)\n"
      "p0 = alloc_pages_nolock(0, 0)\n"
      "cpu(1)\n"
      "p1 = alloc_pages(0, 0)\n";
  const prog::Program p = Disciplined(input);
  EXPECT_EQ(prog::ProgramToText(p).find("softirq("), std::string::npos)
      << prog::ProgramToText(p);
  EXPECT_EQ(FindingsOf(p), 0u);
  // An NMI there stays (BZ-02's NMI variant).
  std::string nmi = input;
  nmi.replace(nmi.find("softirq("), 8, "nmi(");
  EXPECT_NE(
      prog::ProgramToText(Disciplined(nmi)).find("nmi(rt_spin_lock:wait_lock"),
      std::string::npos);
}

// Two locks whose class names agree in their first 47 characters are one
// class (the kernel keeps that much of a name): the second is recursive
// locking, and the discipline keeps neither. A campaign's input.
TEST(DisciplineTest, LongClassNamesAreOneClassWhenTheirPrefixesAgree) {
  const std::string prefix(47, 'x');
  const std::string input = "lock(A, raw_spinlock_t, \"" + prefix + "-a\")\n" +
                            "lock(B, raw_spinlock_t, \"" + prefix + "-b\")\n" +
                            "raw_spin_lock_irqsave(A)\n"
                            "raw_spin_lock_irqsave(B)\n"
                            "raw_spin_unlock_irqrestore(B)\n"
                            "raw_spin_unlock_irqrestore(A)\n";
  const prog::Program p = Disciplined(input);
  EXPECT_TRUE(p.ops.empty()) << prog::ProgramToText(p);
  EXPECT_EQ(FindingsOf(p), 0u);
  // Names that differ within the first 47 characters stay two classes.
  const std::string distinct = "lock(A, raw_spinlock_t, \"a" + prefix +
                               "\")\n" + "lock(B, raw_spinlock_t, \"b" +
                               prefix + "\")\n" +
                               "raw_spin_lock_irqsave(A)\n"
                               "raw_spin_lock_irqsave(B)\n";
  EXPECT_EQ(Disciplined(distinct).ops.size(), 4u);
}

TEST(DisciplineTest, MemoryOfflineHasABudgetPerProgram) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "offline_pages()\n";
  text += "hardirq() {\n  offline_pages()\n}\n";
  const prog::Program p =
      CallerDiscipline(Parse(text), DisciplineMode::kCaller);
  size_t n = 0;
  for (const prog::Op& op : p.ops) {
    n += std::holds_alternative<prog::OfflinePages>(op.v) ? 1 : 0;
  }
  EXPECT_EQ(n, 8u) << prog::ProgramToText(p);
}

TEST(DisciplineTest, CorrectCallerGfp) {
  EXPECT_EQ(CorrectCallerGfp(GFP_KERNEL, 0, true), GFP_KERNEL);
  EXPECT_EQ(CorrectCallerGfp(GFP_KERNEL, 0, false),
            GFP_KERNEL & ~__GFP_DIRECT_RECLAIM);
  EXPECT_EQ(CorrectCallerGfp(GFP_KERNEL | __GFP_NOFAIL, 4, true), GFP_KERNEL);
  EXPECT_EQ(CorrectCallerGfp(GFP_KERNEL | __GFP_DMA | __GFP_HIGHMEM, 0, true),
            GFP_KERNEL | __GFP_HIGHMEM);
  EXPECT_EQ(CorrectCallerGfp(GFP_HIGHUSER_MOVABLE, 0, true),
            GFP_HIGHUSER_MOVABLE);
}

// --- Targets ---

TEST(TargetTest, CleanSeedsAndBugZooThroughTheMainTarget) {
  TargetOptions clean;
  const prog::Program bz01 = Parse(
      "nmi(rmqueue_bulk:zone_locked) {\n"
      "  p1 = alloc_pages_nolock(0, 0)\n"
      "}\n"
      "p0 = alloc_pages(GFP_KERNEL, 0)\n");
  EXPECT_TRUE(Titles(TargetId::kMain,
                     PrepareProgram(TargetId::kMain, bz01, clean), clean)
                  .empty());
  TargetOptions with;
  with.bugs.set(BugId::kBz01);
  EXPECT_FALSE(
      Titles(TargetId::kMain, PrepareProgram(TargetId::kMain, bz01, with), with)
          .empty());
  // Only the listed titles crash.
  with.only_titles = {"no such title"};
  exec::Executor ex;
  const RunVerdict v = Evaluate(
      TargetId::kMain, PrepareProgram(TargetId::kMain, bz01, with), with, ex);
  EXPECT_FALSE(v.crash);
  EXPECT_FALSE(v.ignored_titles.empty());
}

// The gfp target passes wrong gfps and APIs on purpose: the mistake and what
// follows from it are the caller's. Each program was a false crash of a
// clean gfp campaign.
TEST(TargetTest, GfpTargetTakesCallerMistakesAndWhatFollows) {
  const char* const kCallerMistakes[] = {
      // alloc_pages() (not the nolock API) from NMI, gfp without reclaim
      // bits: reported as a wrong-context allocation.
      "config(cpus=1, preempt_rt=1, nolock=v2)\n"
      "nmi() {\n  p19 = alloc_pages(0, 0)\n}\n",
      "config(cpus=1)\np2 = alloc_pages(0, 0)\n"
      "nmi() {\n  p12 = alloc_pages(0, 1)\n}\n",
      "config(cpus=1, preempt_rt=1, smp=0, nolock=v2, pressure=1)\n"
      "hardirq() {\n  p27 = alloc_pages(0, 0)\n}\n",
      // Direct reclaim in atomic context, then lockdep's consequences at a
      // later op.
      "config(cpus=1)\npreempt_disable()\np8 = alloc_pages(GFP_NOFS, 8)\n"
      "softirq() {\n  p8 = alloc_pages(GFP_NOFS, 8)\n}\npreempt_enable()\n",
      "config(cpus=1)\nsoftirq() {\n  p23 = alloc_pages(0, 10)\n"
      "  p23 = alloc_pages(__GFP_DIRECT_RECLAIM, 10)\n"
      "  p23 = alloc_pages(0, 0)\n}\n",
      // PREEMPT_RT runs softirqs in threads; the executor nests them inside
      // the task's zone->lock: the gfp target gives them the nolock API.
      "config(cpus=1, preempt_rt=1, smp=0, pressure=3)\n"
      "softirq(free_one_page:zone_locked) {\n  p12 = alloc_pages(0, 0)\n}\n"
      "p15 = alloc_pages(0, 0)\n",
      // __GFP_NOFAIL once the program holds the memory.
      "config(cpus=1, pressure=1)\n"
      "p1 = alloc_pages(__GFP_KSWAPD_RECLAIM, 9)\n"
      "p1 = alloc_pages(__GFP_DIRECT_RECLAIM|__GFP_NOWARN|__GFP_NOFAIL, 9)\n",
  };
  TargetOptions o;
  for (const char* text : kCallerMistakes) {
    const prog::Program p = PrepareProgram(TargetId::kGfp, Parse(text), o);
    EXPECT_EQ(Titles(TargetId::kGfp, p, o), std::set<std::string>{}) << text;
  }
  // Must fire: an allocator bug with no mistake before it, also when a
  // mistake comes after it.
  TargetOptions bz01;
  bz01.bugs.set(BugId::kBz01);
  const std::string nmi_nolock =
      "nmi(rmqueue_bulk:zone_locked) {\n"
      "  p1 = alloc_pages_nolock(0, 0)\n"
      "}\n"
      "p0 = alloc_pages(GFP_KERNEL, 0)\n";
  EXPECT_FALSE(Titles(TargetId::kGfp,
                      PrepareProgram(TargetId::kGfp, Parse(nmi_nolock), bz01),
                      bz01)
                   .empty());
  EXPECT_FALSE(
      Titles(TargetId::kGfp,
             PrepareProgram(TargetId::kGfp,
                            Parse(nmi_nolock + "nmi() {\n"
                                               "  p2 = alloc_pages(0, 0)\n"
                                               "}\n"),
                            bz01),
             bz01)
          .empty());
}

TEST(TargetTest, DeterministicAcrossExecutorsAndRuns) {
  TargetOptions o;
  o.bugs.set(BugId::kBz27);
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    prog::GenerateOptions g;
    g.num_ops = 60;
    const std::string bytes =
        prog::EncodeProgram(prog::GenerateProgram(seed, g));
    const prog::Program p = PrepareInput(
        TargetId::kMain, reinterpret_cast<const uint8_t*>(bytes.data()),
        bytes.size(), o);
    exec::Executor shared;
    std::string first;
    for (int run = 0; run < 3; ++run) {
      exec::Executor fresh;
      const RunVerdict v =
          Evaluate(TargetId::kMain, p, o, run == 1 ? fresh : shared, run == 2);
      std::string fp;
      for (const Finding& f : v.result.findings) {
        fp += std::to_string(static_cast<int>(f.kind)) + ":" +
              std::to_string(f.op_index) + ";";
      }
      if (run == 0) first = fp;
      EXPECT_EQ(fp, first) << "seed " << seed << " run " << run;
    }
  }
}

TEST(TargetTest, CheckerTargetOnExamplesAgrees) {
  TargetOptions o;
  for (const char* text : {
           "config(cpus=2)\nlock(A, spinlock_t, \"&a->lock\")\n"
           "lock(B, spinlock_t, \"&b->lock\")\ncpu(0)\nspin_lock(A)\ncpu(1)\n"
           "spin_lock(B)\ncpu(0)\nspin_lock(B)\ncpu(1)\nspin_lock(A)\n",
           "lock(A, spinlock_t, \"&port->lock\")\nspin_lock(A)\nhardirq() {\n"
           "  spin_lock(A)\n  spin_unlock(A)\n}\nspin_unlock(A)\n",
           "lock(A, spinlock_t, \"A\")\nlock(B, spinlock_t, \"B\")\n"
           "spin_lock(A)\nspin_lock(B)\nspin_trylock_bh(A)\nspin_unlock(A)\n"
           "spin_lock(A)\nspin_unlock(A)\nspin_unlock(B)\n",
       }) {
    const prog::Program p = PrepareProgram(TargetId::kChecker, Parse(text), o);
    exec::Executor ex;
    const RunVerdict v = Evaluate(TargetId::kChecker, p, o, ex);
    EXPECT_FALSE(v.crash) << text << CrashMessage(TargetId::kChecker, v);
  }
}

TEST(ReferenceCheckerTest, FindsStrictCyclesAndInfersTrylocks) {
  const prog::Program p = Parse(
      "lock(A, spinlock_t, \"A\")\nlock(B, spinlock_t, \"B\")\n"
      "spin_lock(A)\nspin_lock(B)\nspin_unlock(B)\nspin_unlock(A)\n"
      "spin_lock(B)\nspin_lock(A)\nspin_unlock(A)\nspin_unlock(B)\n"
      "spin_lock(A)\nspin_trylock(A)\nspin_unlock(A)\n");
  exec::Executor ex;
  exec::RunOptions ro;
  const exec::RunResult r = ex.Run(p, ro);
  const ReferenceResult ref = RunReferenceChecker(p, r);
  ASSERT_TRUE(ref.comparable) << ref.why_not;
  EXPECT_TRUE(ref.strict_cycle);
  EXPECT_TRUE(ref.loose_cycle);
  EXPECT_FALSE(ref.strict_self);  // the trylock of a held lock fails
}

ReferenceResult RunReference(const std::string& text) {
  const prog::Program p = Parse(text);
  exec::Executor ex;
  exec::RunOptions ro;
  return RunReferenceChecker(p, ex.Run(p, ro));
}

// Found by a checker-target campaign: an NMI took C and returned holding it,
// and the task's acquisition of C was reported (correctly: C is still held)
// as recursive locking, which the reference, having dropped the NMI's frame,
// called "without nesting". Such runs are not compared now.
TEST(ReferenceCheckerTest, NotComparedWhenAnInterruptEndsHoldingALock) {
  const ReferenceResult left = RunReference(
      "lock(C, lockdep_map, \"C\")\n"
      "nmi() {\n  lock_map_acquire(C)\n}\nlock_map_acquire_read(C)\n");
  EXPECT_FALSE(left.comparable);
  EXPECT_EQ(left.why_not, "a lock left held when its interrupt ended");
  // Released before the NMI returns: compared, and no nesting.
  const ReferenceResult released = RunReference(
      "lock(C, lockdep_map, \"C\")\n"
      "nmi() {\n  lock_map_acquire(C)\n  lock_map_release(C)\n}\n"
      "lock_map_acquire_read(C)\nlock_map_release(C)\n");
  ASSERT_TRUE(released.comparable) << released.why_not;
  EXPECT_FALSE(released.loose_self);
}

// lockdep is off in NMI (nmi_enter() calls lockdep_off()): nesting within an
// NMI frame is not asked of the checker; in a hardirq frame it is.
TEST(ReferenceCheckerTest, NothingWithinAnNmiFrameIsStrict) {
  const std::string body =
      "() {\n  lock_map_acquire(C)\n  lock_map_acquire(C)\n"
      "  lock_map_release(C)\n  lock_map_release(C)\n}\n";
  const std::string decl = "lock(C, lockdep_map, \"C\")\n";
  const ReferenceResult nmi = RunReference(decl + "nmi" + body);
  ASSERT_TRUE(nmi.comparable) << nmi.why_not;
  EXPECT_FALSE(nmi.strict_self);
  EXPECT_TRUE(nmi.loose_self);
  const ReferenceResult hardirq = RunReference(decl + "hardirq" + body);
  ASSERT_TRUE(hardirq.comparable) << hardirq.why_not;
  EXPECT_TRUE(hardirq.strict_self);
}

// lockdep records an edge from the nearest held lock only, and none into an
// acquisition it rejected (here D: a local_lock under a raw spinlock is an
// invalid wait context), so B -> C is not among its dependencies and the
// B/C cycle is not one it can report.
TEST(ReferenceCheckerTest, NoStrictEdgeReachesPastARejectedAcquisition) {
  const std::string decls =
      "lock(B, raw_spinlock_t, \"B\")\nlock(C, raw_spinlock_t, \"C\")\n"
      "lock(D, local_trylock_t, \"D\")\n";
  const std::string cpu1_with_d =
      "cpu(1)\nraw_spin_lock(B)\nlocal_lock_irqsave(D)\nraw_spin_lock(C)\n"
      "raw_spin_unlock(C)\nlocal_unlock_irqrestore(D)\nraw_spin_unlock(B)\n";
  const std::string cpu1_without_d =
      "cpu(1)\nraw_spin_lock(B)\nraw_spin_lock(C)\nraw_spin_unlock(C)\n"
      "raw_spin_unlock(B)\n";
  const std::string cpu0 =
      "cpu(0)\nraw_spin_lock(C)\nraw_spin_lock(B)\nraw_spin_unlock(B)\n"
      "raw_spin_unlock(C)\n";
  const ReferenceResult with_d = RunReference(decls + cpu1_with_d + cpu0);
  ASSERT_TRUE(with_d.comparable) << with_d.why_not;
  EXPECT_FALSE(with_d.strict_cycle) << with_d.strict_cycle_text;
  EXPECT_TRUE(with_d.loose_cycle);
  const ReferenceResult without_d = RunReference(decls + cpu1_without_d + cpu0);
  ASSERT_TRUE(without_d.comparable) << without_d.why_not;
  EXPECT_TRUE(without_d.strict_cycle);
}

// A class name longer than a lock class keeps is one class with every name
// that shares the kept prefix, and the checker's findings name it by that
// prefix: the reference matched the full name, so it missed that the
// checker had rejected the acquisition (a mutex in softirq: invalid wait
// context) and asked for a recursion report the checker never makes.
TEST(ReferenceCheckerTest, LongClassNamesAreCutAsTheKernelCutsThem) {
  const std::string long_name(60, 'M');
  const ReferenceResult r =
      RunReference("lock(A, mutex, \"" + long_name +
                   "\")\nsoftirq() {\n  mutex_lock(A)\n  mutex_lock(A)\n}\n");
  ASSERT_TRUE(r.comparable) << r.why_not;
  EXPECT_FALSE(r.strict_self);  // rejected: not asked of the checker
  EXPECT_TRUE(r.loose_self);
  // Two names that differ only past the kept prefix are one class.
  const ReferenceResult same =
      RunReference("lock(A, spinlock_t, \"" + long_name +
                   "x\")\nlock(B, spinlock_t, \"" + long_name +
                   "y\")\nspin_lock(A)\nspin_lock_nested(B, 0)\n"
                   "spin_unlock(B)\nspin_unlock(A)\n");
  ASSERT_TRUE(same.comparable) << same.why_not;
  EXPECT_TRUE(same.strict_self);
}

// Found by the checker target: the program ended holding &port->lock, the
// model's teardown then took its own &pcp->lock (drain_pages_zone()) under
// it, and lockdep closed a cycle with the program's &pcp->lock ->
// &port->lock, through an acquisition the trace does not show.
TEST(ReferenceCheckerTest, NotComparedWhenTheProgramEndsHoldingALock) {
  const std::string decls =
      "config(cpus=1)\nlock(A, spinlock_t, \"&pcp->lock\")\n"
      "lock(B, lockdep_map, \"&port->lock\")\nspin_lock(A)\n"
      "lock_map_acquire(B)\nspin_unlock(A)\n";
  const ReferenceResult held = RunReference(decls);
  EXPECT_FALSE(held.comparable);
  EXPECT_EQ(held.why_not, "a lock still held when the program ended");
  const ReferenceResult released =
      RunReference(decls + "lock_map_release(B)\n");
  ASSERT_TRUE(released.comparable) << released.why_not;
  EXPECT_FALSE(released.loose_cycle);
}

// Found by the checker target: a writer on vCPU 2 waits for the reader on
// vCPU 0, whose second read_trylock() succeeded in the run; the reference
// took the waiting writer for a holder, inferred a failed trylock, and
// called lockdep's (right) recursion report "without nesting". Whether a
// trylock wins against a waiting writer is unknown to it now.
TEST(ReferenceCheckerTest, AWaitingWriterLeavesATrylockUnknown) {
  const std::string decls =
      "config(cpus=3)\nlock(A, rwlock_t, \"A\")\nread_trylock(A)\ncpu(2)\n"
      "write_lock(A)\ncpu(0)\nread_trylock(A)\nread_unlock(A)\n";
  const ReferenceResult r = RunReference(decls + "write_lock_bh(A)\n");
  ASSERT_TRUE(r.comparable) << r.why_not;
  EXPECT_TRUE(r.loose_self);    // the second reader may still hold it
  EXPECT_FALSE(r.strict_self);  // but not surely
}

// lock_map_acquire_try() annotates; there is no lock that could be busy, so
// it always takes the map, held or not.
TEST(ReferenceCheckerTest, ALockdepMapTrylockAlwaysTakesIt) {
  const ReferenceResult r = RunReference(
      "lock(A, lockdep_map, \"A\")\nlock_map_acquire_try(A)\n"
      "lock_map_acquire_try(A)\nlock_map_release(A)\nlock_map_acquire(A)\n"
      "lock_map_release(A)\nlock_map_release(A)\n");
  ASSERT_TRUE(r.comparable) << r.why_not;
  EXPECT_TRUE(r.loose_self);
  EXPECT_TRUE(r.strict_self);
  // A spinlock's trylock of a lock its vCPU holds fails: nothing to nest.
  const ReferenceResult spin = RunReference(
      "lock(A, spinlock_t, \"A\")\nspin_lock(A)\nspin_trylock(A)\n"
      "spin_unlock(A)\n");
  ASSERT_TRUE(spin.comparable) << spin.why_not;
  EXPECT_FALSE(spin.strict_self);
}

TEST(TargetTest, DecoderTargetTakesAnyBytes) {
  Rng rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string bytes(rng.Below(300), '\0');
    for (char& c : bytes) c = static_cast<char>(rng.Next());
    FuzzOneInput(TargetId::kDecoder,
                 reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
}

// --- Crossover ---

TEST(SpliceTest, KeepsBothProgramsApartAndSharesLocksByClass) {
  const prog::Program a = Parse(
      "lock(A, spinlock_t, \"&a->lock\")\nlock(B, spinlock_t, \"&b->lock\")\n"
      "p0 = alloc_pages(GFP_KERNEL, 0)\n"
      "spin_lock(A)\nspin_lock(B)\nspin_unlock(B)\nspin_unlock(A)\n");
  const prog::Program b = Parse(
      "lock(A, spinlock_t, \"&b->lock\")\nlock(C, spinlock_t, \"&a->lock\")\n"
      "lock(D, mutex, \"&d->lock\")\n"
      "p0 = alloc_pages(GFP_KERNEL, 1)\n__free_pages(p0)\n"
      "spin_lock(A)\nspin_lock(C)\nspin_unlock(C)\nspin_unlock(A)\n");
  std::set<std::string> texts;
  bool cycle = false;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const prog::Program c = SpliceProgram(a, b, seed);
    ASSERT_TRUE(prog::ValidateProgram(c, nullptr));
    // &a->lock and &b->lock are shared; &d->lock is added under a free name.
    ASSERT_EQ(c.locks.size(), 3u) << prog::ProgramToText(c);
    EXPECT_EQ(c.locks[2].class_name, "&d->lock");
    EXPECT_NE(c.locks[2].name, "A");
    // Both programs' ops and one or two vCPU switches around b's.
    const size_t both = prog::CountOps(a.ops) + prog::CountOps(b.ops);
    EXPECT_GE(prog::CountOps(c.ops), both + 1);
    EXPECT_LE(prog::CountOps(c.ops), both + 2);
    const std::string text = prog::ProgramToText(c);
    texts.insert(text);
    // b's page is p1 now: a's p0 stays allocated.
    EXPECT_NE(text.find("p1 = alloc_pages(GFP_KERNEL, 1)"), std::string::npos)
        << text;
    // The ABBA between the two programs is one run's now.
    TargetOptions o;
    exec::Executor ex;
    const RunVerdict v = Evaluate(
        TargetId::kChecker, PrepareProgram(TargetId::kChecker, c, o), o, ex);
    cycle |= v.result.findings.has(FindingKind::kCircularDependency);
    // Binary round trip, as the engine sees it.
    const std::string ba = prog::EncodeProgram(a), bb = prog::EncodeProgram(b);
    std::string out(1024, '\0');
    const size_t n =
        SpliceInputs(reinterpret_cast<const uint8_t*>(ba.data()), ba.size(),
                     reinterpret_cast<const uint8_t*>(bb.data()), bb.size(),
                     reinterpret_cast<uint8_t*>(out.data()), out.size(),
                     static_cast<unsigned>(seed));
    ASSERT_GT(n, 0u);
    EXPECT_EQ(
        prog::DecodeProgram(reinterpret_cast<const uint8_t*>(out.data()), n),
        SpliceProgram(
            prog::DecodeProgram(reinterpret_cast<const uint8_t*>(ba.data()),
                                ba.size()),
            prog::DecodeProgram(reinterpret_cast<const uint8_t*>(bb.data()),
                                bb.size()),
            seed));
  }
  EXPECT_TRUE(cycle);
  EXPECT_GT(texts.size(), 2u);  // the seed picks position and vCPUs
}

TEST(SpliceTest, FitsTheEnginesSizeLimit) {
  Rng rng(3);
  for (int i = 0; i < 200; ++i) {
    std::string a(rng.Below(400), '\0'), b(rng.Below(400), '\0');
    for (char& ch : a) ch = static_cast<char>(rng.Next());
    for (char& ch : b) ch = static_cast<char>(rng.Next());
    std::string out(128, '\0');
    const size_t n =
        SpliceInputs(reinterpret_cast<const uint8_t*>(a.data()), a.size(),
                     reinterpret_cast<const uint8_t*>(b.data()), b.size(),
                     reinterpret_cast<uint8_t*>(out.data()), out.size(), i);
    EXPECT_LE(n, out.size());
    if (n > 0) {
      EXPECT_TRUE(prog::ValidateProgram(
          prog::DecodeProgram(reinterpret_cast<const uint8_t*>(out.data()), n),
          nullptr));
    }
  }
}

// BZ-11 needs two seeds' paths and one seed's machine: an allocation under
// &rq->__lock (corpora/main/seeds/sched_locks.txt) and a fallback that steals
// a small block, which only fragmented memory gives (fragmented_fallbacks.txt,
// config(pressure=3)). The crossover takes each configuration field from
// either parent, so splicing them can give the cycle; with the fix in (no
// BZ-11 switch) no splice reports anything.
TEST(SpliceTest, CombinesOneInputsMachineWithAnothersPath) {
  const std::string sched_config = "config(prove_raw_lock_nesting=0)\n";
  const std::string sched =
      "lock(RQ, raw_spinlock_t, \"&rq->__lock\")\n"
      "raw_spin_lock_irqsave(RQ)\n"
      "p0 = alloc_pages(__GFP_HIGH|__GFP_NOWARN, 0)\n"
      "raw_spin_unlock_irqrestore(RQ)\n"
      "__free_pages(p0)\n";
  const std::string fragmented_config = "config(pressure=3)\n";
  const std::string fragmented =
      "p0 = alloc_pages(GFP_ATOMIC|__GFP_RECLAIMABLE, 3)\n"
      "__free_pages(p0)\n";
  for (const bool bug : {true, false}) {
    const prog::Program a = Parse(sched_config + sched);
    const prog::Program b = Parse(fragmented_config + fragmented);
    TargetOptions o;  // a campaign with the entry switched on, or not
    if (bug) o.bugs.set(BugId::kBz11);
    exec::Executor ex;
    // Neither parent finds it on its own.
    for (const prog::Program* p : {&a, &b}) {
      const RunVerdict v = Evaluate(
          TargetId::kMain, PrepareProgram(TargetId::kMain, *p, o), o, ex);
      EXPECT_FALSE(v.crash) << CrashMessage(TargetId::kMain, v);
    }
    int pressure3 = 0, crashed = 0;
    std::set<std::string> titles;
    for (uint64_t seed = 1; seed <= 32; ++seed) {
      for (const bool a_first : {true, false}) {
        const prog::Program c =
            a_first ? SpliceProgram(a, b, seed) : SpliceProgram(b, a, seed);
        pressure3 += c.config.mem_pressure == 3;
        const RunVerdict v = Evaluate(
            TargetId::kMain, PrepareProgram(TargetId::kMain, c, o), o, ex);
        crashed += v.crash;
        for (const Problem& p : v.problems) titles.insert(p.title);
      }
    }
    // Both configurations occur, from either order of the parents.
    EXPECT_GT(pressure3, 8);
    EXPECT_LT(pressure3, 56);
    if (bug) {
      // The cycle closes where the later of its two halves runs.
      EXPECT_EQ(titles,
                (std::set<std::string>{"possible deadlock in rmqueue_bulk",
                                       "possible deadlock in try_to_wake_up"}));
    } else {
      EXPECT_EQ(crashed, 0);
    }
  }
}

// --- Minimizer, sweep, explanations ---

TEST(MinimizeTest, KeepsTheTitleAndShrinks) {
  TargetOptions o;
  o.bugs.set(BugId::kBz01);
  o.bugs_from_input = true;
  const prog::Program noisy = PrepareProgram(
      TargetId::kMain,
      Parse("config(cpus=3)\nbugs(BZ-01)\n"
            "p5 = alloc_pages(GFP_KERNEL, 3)\n"
            "cpu(2)\np6 = alloc_pages(GFP_ATOMIC, 2)\ncpu(0)\n"
            "local_irq_save()\nlocal_irq_restore()\n"
            "nmi(rmqueue_bulk:zone_locked, 1) {\n"
            "  p1 = alloc_pages_nolock(0, 0)\n"
            "  free_pages_nolock(p1)\n"
            "}\n"
            "p0 = alloc_pages(GFP_KERNEL|__GFP_ZERO, 0)\n"
            "__free_pages(p0)\n__free_pages(p5)\nkvfree_rcu()\n"),
      o);
  exec::Executor ex;
  const RunVerdict v = Evaluate(TargetId::kMain, noisy, ReplayOptions(o), ex);
  ASSERT_TRUE(v.crash);
  const std::string title = v.problems.front().title;
  MinimizeOptions mo;
  mo.max_seconds = 30;
  const Minimized m = MinimizeProgram(TargetId::kMain, noisy, title, o, mo);
  EXPECT_LT(m.stats.ops_after, m.stats.ops_before);
  EXPECT_LE(m.stats.ops_after, 4u) << prog::ProgramToText(m.program);
  EXPECT_EQ(m.program.config.nr_cpus, 1);
  const Reliability r =
      MeasureReliability(TargetId::kMain, m.program, title, o, 5, false);
  EXPECT_EQ(r.reproduced, 5);
  EXPECT_TRUE(r.text_round_trip);
  // The annotated text still parses to the same program.
  EXPECT_EQ(Parse(AnnotatedProgramText(m.program)), m.program);
}

TEST(SweepTest, FindsTheInterruptPointOfBz01) {
  TargetOptions o;
  o.bugs.set(BugId::kBz01);
  o.bugs_from_input = true;
  const prog::Program p = PrepareProgram(
      TargetId::kMain,
      Parse("bugs(BZ-01)\np0 = alloc_pages(GFP_KERNEL, 0)\n__free_pages(p0)\n"),
      o);
  SweepOptions so;
  so.max_nth = 2;
  const SweepResult r = Sweep(TargetId::kMain, p, BuiltinHandlers(p), o, so);
  EXPECT_TRUE(r.baseline_titles.empty());
  bool reached = false, found = false;
  for (const SweepPoint& pt : r.reached) {
    reached |= pt.point == ctx::PointId::kRmqueueBulkZoneLocked;
  }
  for (const SweepRow& row : r.rows) {
    if (row.at.point == ctx::PointId::kRmqueueBulkZoneLocked &&
        row.handler == "nmi" && !row.new_titles.empty()) {
      found = true;
    }
  }
  EXPECT_TRUE(reached);
  EXPECT_TRUE(found) << FormatSweep(r, true);
}

// --- Campaign bookkeeping, files, engines ---

class TempDir {
 public:
  TempDir() {
    char t[] = "/tmp/reentry-triage-test-XXXXXX";
    path_ = mkdtemp(t);
  }
  ~TempDir() { (void)!system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CampaignTest, DeduplicatesByTitleAndResumes) {
  TempDir dir;
  Triaged a;
  a.crash = true;
  a.prepared_text = "p0 = alloc_pages(GFP_KERNEL, 0)\n";
  a.problems = {Problem{"possible deadlock in rmqueue_bulk", "[AA] ...", 0}};
  std::string error;
  {
    FindingStore store(dir.path());
    ASSERT_TRUE(store.Open(&error)) << error;
    std::vector<std::pair<std::string, FindingStore::Outcome>> out;
    ASSERT_TRUE(store.Record("input-1", a, &out, &error)) << error;
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].second, FindingStore::Outcome::kNew);
    out.clear();
    ASSERT_TRUE(store.Record("input-2", a, &out, &error)) << error;
    EXPECT_EQ(out[0].second, FindingStore::Outcome::kDuplicate);
    ASSERT_TRUE(store.MarkSeen("artifacts/crash-1", &error));
    ASSERT_TRUE(store.SetMinimized(a.problems[0].title, "p0 = ...\n", "# md\n",
                                   "1 ops, reproduces 10/10", true, &error));
  }
  FindingStore again(dir.path());
  ASSERT_TRUE(again.Open(&error)) << error;
  ASSERT_EQ(again.entries().size(), 1u);
  const FindingEntry& e = again.entries()[0];
  EXPECT_EQ(e.title, "possible deadlock in rmqueue_bulk");
  EXPECT_EQ(e.hits, 2);
  EXPECT_EQ(e.state, "MINIMIZED");
  EXPECT_TRUE(again.Seen("artifacts/crash-1"));
  std::string input;
  ASSERT_TRUE(ReadWholeFile(e.dir + "/input", &input, &error));
  EXPECT_EQ(input, "input-1");
  for (const char* f : {"/title", "/program.txt", "/report.txt",
                        "/minimized.txt", "/report.md", "/status"}) {
    EXPECT_TRUE(PathExists(e.dir + f)) << f;
  }
}

TEST(FilesTest, SlugsAreDistinct) {
  EXPECT_NE(TitleSlug("possible deadlock in a"),
            TitleSlug("possible deadlock in a!"));
  EXPECT_EQ(TitleSlug("x").substr(0, 2), "x-");
  EXPECT_EQ(TitleSlug("BUG: Bad page state in __free_pages").find('/'),
            std::string::npos);
}

TEST(IsolateTest, HardCrashTitles) {
  EXPECT_EQ(HardCrashTitle("reentry: internal CHECK failed: "
                           "/src/allocator/mm/alloc.cc:12: x != y: oops\n",
                           6, false),
            "internal CHECK failed: x != y (allocator/mm/alloc.cc)");
  EXPECT_EQ(HardCrashTitle("", 0, true), "timeout");
  EXPECT_EQ(
      HardCrashTitle("==1==ERROR: AddressSanitizer: heap-use-after-free on "
                     "address\n    #0 0x1 in reentry::mm::Mm::Foo(int) a.cc\n",
                     6, false),
      "AddressSanitizer: heap-use-after-free in reentry::mm::Mm::Foo");
}

TEST(IsolateTest, SurvivesAChildThatAborts) {
  std::string answer, err;
  int sig = 0;
  bool timed_out = false;
  EXPECT_FALSE(RunForked([]() -> std::string { abort(); }, 10, &answer, &err,
                         &sig, &timed_out));
  EXPECT_EQ(sig, SIGABRT);
  EXPECT_TRUE(RunForked([] { return std::string("hi"); }, 10, &answer, &err,
                        &sig, &timed_out));
  EXPECT_EQ(answer, "hi");
}

TEST(EngineTest, ParsesEngineOutput) {
  const EngineStats lf = ParseLibFuzzerLog(
      "INFO: x\n#314056: cov: 23484 ft: 21806 corp: 2171 exec/s 918 "
      "oom/timeout/crash: 0/1/8 time: 304s job: 25 dft_time: 0\n");
  EXPECT_TRUE(lf.valid);
  EXPECT_EQ(lf.execs, 314056u);
  EXPECT_EQ(lf.cov, 23484u);
  EXPECT_EQ(lf.features, 21806u);
  EXPECT_EQ(lf.corpus, 2171u);
  EXPECT_EQ(lf.exec_per_sec, 918);
  EXPECT_EQ(lf.crashes, 9u);
  const EngineStats in_process = ParseLibFuzzerLog(
      "#8192\tpulse  cov: 4245 ft: 21787 corp: 1917/175Kb lim: 132 exec/s: 819 "
      "rss: 34Mb\n");
  EXPECT_EQ(in_process.exec_per_sec, 819);
  EXPECT_EQ(in_process.corpus, 1917u);
  const EngineStats afl = ParseAflStats(
      "execs_done        : 389868\nexecs_per_sec     : 4330.12\n"
      "corpus_count      : 2652\nbitmap_cvg        : 6.45%\n"
      "saved_crashes     : 3\nstability         : 100.00%\n"
      "edges_found       : 4227\n");
  EXPECT_EQ(afl.execs, 389868u);
  EXPECT_EQ(afl.corpus, 2652u);
  EXPECT_EQ(afl.cov, 4227u);
  EXPECT_DOUBLE_EQ(afl.stability, 100.0);
  const auto opts =
      ParseOptionsFile("[libfuzzer]\nmax_len = 1024\ndict = m.dict\n");
  EXPECT_EQ(opts.at("max_len"), "1024");
  EXPECT_EQ(ParseDuration("1h30m"), 5400);
  EXPECT_EQ(ParseDuration("90"), 90);
  EXPECT_FALSE(ParseDuration("10x").has_value());
  EXPECT_EQ(FormatDuration(75), "1m15s");
}

TEST(DictionaryTest, EntriesAreUniqueAndDecodable) {
  for (int t = 0; t < kNumTargets; ++t) {
    const auto entries = DictionaryEntries(static_cast<TargetId>(t));
    EXPECT_GT(entries.size(), 20u);
    std::set<std::string> bytes;
    for (const auto& [name, b] : entries) {
      EXPECT_TRUE(bytes.insert(b).second) << name;
      EXPECT_LE(b.size(), 64u);
    }
  }
}

TEST(RegressionTest, ParsesExpectations) {
  std::vector<Expectation> e;
  std::string error;
  ASSERT_TRUE(ParseExpectations(
      "# expect: -> clean\n# expect: REENTRY_BUGS=BZ-01 REENTRY_RT=1 -> some "
      "title\nspin_lock(A)\n",
      &e, &error))
      << error;
  ASSERT_EQ(e.size(), 2u);
  EXPECT_TRUE(e[0].title.empty());
  EXPECT_EQ(e[1].env.at("REENTRY_RT"), "1");
  EXPECT_EQ(e[1].title, "some title");
  EXPECT_FALSE(ParseExpectations("# expect: FOO=1 -> x\n", &e, &error));
}

}  // namespace
}  // namespace reentry::triage
