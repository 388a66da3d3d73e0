#include "allocator/triage/target.h"

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "allocator/base/check.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/generate.h"
#include "allocator/prog/oracle.h"
#include "allocator/report/report.h"
#include "allocator/triage/discipline.h"
#include "allocator/triage/reference_checker.h"

namespace reentry::triage {
namespace {

bool IsLockdepKind(FindingKind k) {
  switch (k) {
    case FindingKind::kRecursiveLocking:
    case FindingKind::kCircularDependency:
    case FindingKind::kIrqSafeToUnsafe:
    case FindingKind::kIrqInversion:
    case FindingKind::kInconsistentLockState:
    case FindingKind::kInvalidWaitContext:
      return true;
    default:
      return false;
  }
}

// A deadlock between vCPUs the executor saw happen (not a prediction). A
// vCPU spinning on a lock it holds itself is reported by the lock layer
// (kLockRecursion) whatever lockdep says, so it is not asked of lockdep.
bool IsRealDeadlock(const Finding& f) {
  switch (f.kind) {
    case FindingKind::kWaitCycle:
      // Only a true cycle, not "held by a vCPU with no more work".
      return std::string_view(f.detail).find("each vCPU in the cycle") !=
             std::string_view::npos;
    default:
      return false;
  }
}

void AddFindingProblem(RunVerdict& v, const TargetOptions& o, size_t index) {
  const Finding& f = v.result.findings[index];
  std::string title = report::Title(f);
  if (!o.only_titles.empty() && !o.only_titles.count(title)) {
    v.ignored_titles.push_back(std::move(title));
    return;
  }
  for (const Problem& p : v.problems) {
    if (p.title == title) return;
  }
  v.problems.push_back(Problem{std::move(title),
                               report::FormatFindingSummary(f),
                               static_cast<int>(index)});
}

void AddSyntheticProblem(RunVerdict& v, const TargetOptions& o,
                         std::string title, std::string summary) {
  if (!o.only_titles.empty() && !o.only_titles.count(title)) {
    v.ignored_titles.push_back(std::move(title));
    return;
  }
  v.problems.push_back(Problem{std::move(title), std::move(summary), -1});
}

// main: every bug is a crash.
void JudgeMain(RunVerdict& v, const TargetOptions& o) {
  for (size_t i = 0; i < v.result.findings.size(); ++i) {
    if (FindingSeverity(v.result.findings[i].kind) == Severity::kBug) {
      AddFindingProblem(v, o, i);
    }
  }
}

// gfp: a wrong gfp (or API) for the context is expected, and so is what
// follows from it at the same op; anything else is a crash.
bool IsGfpCallerMistake(FindingKind k) {
  return k == FindingKind::kGfpMisuse ||
         k == FindingKind::kAllocInvalidContext ||
         k == FindingKind::kSleepInAtomic;
}

// Findings that a caller's earlier mistake can cause at a later op: lock
// usage the mistaken call recorded (the kernel's lockdep turns itself off at
// its first report for the same reason), and the hangs and deadlocks that
// follow from sleeping or spinning where the caller must not. Corruption of
// the allocator's own state never follows from a caller's gfp.
bool MayFollowFromCallerMistake(FindingKind k) {
  switch (FindingVerdict(k)) {
    case ::reentry::Verdict::kAA:
    case ::reentry::Verdict::kABBA:
    case ::reentry::Verdict::kIrqInv:
    case ::reentry::Verdict::kWaitCtx:
    case ::reentry::Verdict::kSleepAtomic:
    case ::reentry::Verdict::kDeadlock:
    case ::reentry::Verdict::kLivelock:
      return true;
    default:
      return false;
  }
}

// A __GFP_NOFAIL allocation that outlasts memory: the model's only task
// holds every allocated page and the OOM killer has nobody else to kill, so
// the slow path loops for ever by construction (docs/mm-model.md). The main
// target never passes __GFP_NOFAIL for this reason; the gfp target does, and
// takes the hang as the caller's.
bool IsNofailOutOfMemoryHang(const Finding& f) {
  return f.kind == FindingKind::kRetryLivelock && f.function != nullptr &&
         std::string_view(f.function) == "__alloc_pages_slowpath" &&
         (f.gfp & gfp::__GFP_NOFAIL);
}

void JudgeGfp(RunVerdict& v, const TargetOptions& o) {
  const FindingList& list = v.result.findings;
  size_t first_mistake = list.size();
  for (size_t i = 0; i < list.size(); ++i) {
    if (IsGfpCallerMistake(list[i].kind)) {
      first_mistake = i;
      break;
    }
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const Finding& f = list[i];
    if (FindingSeverity(f.kind) != Severity::kBug) continue;
    if (IsGfpCallerMistake(f.kind)) continue;
    if (IsNofailOutOfMemoryHang(f)) continue;
    if (i > first_mistake && MayFollowFromCallerMistake(f.kind)) continue;
    bool explained = false;
    for (const Finding& g : list) {
      if (IsGfpCallerMistake(g.kind) && g.op_index == f.op_index &&
          g.cpu == f.cpu) {
        explained = true;
      }
    }
    if (!explained) AddFindingProblem(v, o, i);
  }
}

void JudgeChecker(RunVerdict& v, const TargetOptions& o,
                  const prog::Program& p) {
  const FindingList& list = v.result.findings;
  // C: a deadlock that really happened must have been predicted (unless the
  // program broke the locking rules first: then anything may follow).
  bool real = false, predicted = false, misuse = false;
  for (const Finding& f : list) {
    real |= IsRealDeadlock(f);
    predicted |= IsLockdepKind(f.kind);
    misuse |= FindingVerdict(f.kind) == ::reentry::Verdict::kMisuse;
  }
  // lockdep trusts spin_lock_nested annotations (as the kernel's does): a
  // deadlock they hide is not a checker bug.
  bool nested = false;
  for (size_t i = 0; i < prog::CountOps(p.ops); ++i) {
    const prog::Op* op = prog::OpAt(p, i);
    if (const auto* c = std::get_if<prog::LockCall>(&op->v)) {
      nested |= c->verb == prog::LockVerb::kSpinLockNested && c->subclass != 0;
    }
  }
  if (real && !predicted && !misuse && !nested) {
    AddSyntheticProblem(v, o, "checker: real deadlock not reported",
                        "the executor deadlocked but the checker reported "
                        "no lock-order, irq-safety or wait-context problem");
  }
  const ReferenceResult ref = RunReferenceChecker(p, v.result);
  if (!ref.comparable) {
    v.detail = "reference not compared: " + ref.why_not;
    return;
  }
  const bool circular = list.has(FindingKind::kCircularDependency);
  const bool recursive = list.has(FindingKind::kRecursiveLocking);
  if (ref.strict_cycle && !circular) {
    AddSyntheticProblem(v, o, "checker: missed circular dependency",
                        "reference cycle " + ref.strict_cycle_text +
                            " (exclusive, blocking acquisitions) not reported");
  }
  if (ref.strict_self && !recursive) {
    AddSyntheticProblem(v, o, "checker: missed recursive locking",
                        "reference: " + ref.strict_self_text +
                            " (exclusive, blocking) not reported");
  }
  if (circular && !ref.loose_cycle) {
    AddSyntheticProblem(v, o, "checker: circular dependency without a cycle",
                        "the checker reported a circular dependency; the "
                        "reference graph of all acquisitions has no cycle");
  }
  if (recursive && !ref.loose_self) {
    AddSyntheticProblem(v, o, "checker: recursive locking without nesting",
                        "the checker reported recursive locking; no class "
                        "was acquired while its vCPU held it");
  }
  v.detail =
      "reference compared: " + std::to_string(ref.acquisitions) +
      " acquisitions" +
      (ref.strict_cycle ? ", strict cycle " + ref.strict_cycle_text : "");
}

TargetOptions& GlobalOptions() {
  static TargetOptions options;
  return options;
}

}  // namespace

prog::Program PrepareProgram(TargetId target, prog::Program p,
                             const TargetOptions& options) {
  p = ApplyCampaignConfig(std::move(p), options);
  switch (target) {
    case TargetId::kMain:
      return CallerDiscipline(p, DisciplineMode::kCaller);
    case TargetId::kGfp:
      return CallerDiscipline(p, DisciplineMode::kGfp);
    case TargetId::kChecker:
      return LockOpsOnly(p);
    case TargetId::kDecoder:
    case TargetId::kCount:
      break;
  }
  return p;
}

prog::Program PrepareInput(TargetId target, const uint8_t* data, size_t size,
                           const TargetOptions& options) {
  if (target == TargetId::kDecoder) return prog::DecodeProgram(data, size);
  return PrepareProgram(target, prog::DecodeProgram(data, size), options);
}

exec::RunOptions TargetRunOptions(TargetId target, const TargetOptions& to,
                                  bool trace) {
  exec::RunOptions o;
  o.lockdep = true;
  // The executor always checks the invariants at teardown.
  o.invariants_every_op = target == TargetId::kMain && to.invariants_every_op;
  // The checker's reference replays the trace.
  o.trace = trace || target == TargetId::kChecker;
  return o;
}

RunVerdict Evaluate(TargetId target, const prog::Program& prepared,
                    const TargetOptions& options, exec::Executor& executor,
                    bool trace) {
  RunVerdict v;
  if (target == TargetId::kDecoder) {
    const std::string bytes = prog::EncodeProgram(prepared);
    prog::ProgramRoundTripOracle(reinterpret_cast<const uint8_t*>(bytes.data()),
                                 bytes.size());
    return v;
  }
  v.result = executor.Run(prepared, TargetRunOptions(target, options, trace));
  switch (target) {
    case TargetId::kMain:
      JudgeMain(v, options);
      break;
    case TargetId::kGfp:
      JudgeGfp(v, options);
      break;
    case TargetId::kChecker:
      JudgeChecker(v, options, prepared);
      break;
    default:
      break;
  }
  v.crash = !v.problems.empty();
  return v;
}

std::string CrashMessage(TargetId target, const RunVerdict& v) {
  std::string out;
  for (const Problem& p : v.problems) {
    out += "reentry: " + TargetBinaryName(target) + " found: " + p.summary +
           "\n  title: " + p.title + "\n";
  }
  if (!v.detail.empty()) out += "  " + v.detail + "\n";
  return out;
}

void FuzzInitialize(TargetId target) {
  // Each input gets a fresh executor (see FuzzOneInput): keep its fiber
  // stacks (256 KiB each) on the heap and the heap untrimmed, so that the
  // per-input allocation is a free-list hit, not mmap/munmap and page faults.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  std::string error;
  TargetOptions& o = GlobalOptions();
  if (!TargetOptionsFromEnv(&o, &error)) {
    fprintf(stderr, "%s: %s\n", TargetBinaryName(target).c_str(),
            error.c_str());
    exit(2);
  }
  // Warm-up: run a few generated programs through the whole pipeline
  // (decoder included) so that function-local statics and other one-time
  // paths are behind us before the first input (AFL++ stability).
  if (target != TargetId::kDecoder) {
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      prog::GenerateOptions g;
      g.num_ops = 48;
      g.cpus = o.max_cpus;
      const std::string bytes =
          prog::EncodeProgram(prog::GenerateProgram(seed, g));
      const prog::Program prepared =
          PrepareInput(target, reinterpret_cast<const uint8_t*>(bytes.data()),
                       bytes.size(), o);
      exec::Executor ex;
      (void)Evaluate(target, prepared, o, ex);
    }
  }
  fprintf(stderr, "%s: %s\n", TargetBinaryName(target).c_str(),
          DescribeTargetOptions(o).c_str());
}

int FuzzOneInput(TargetId target, const uint8_t* data, size_t size) {
  const TargetOptions& o = GlobalOptions();
  if (target == TargetId::kDecoder) {
    return prog::ProgramRoundTripOracle(data, size);
  }
  const prog::Program p = PrepareInput(target, data, size, o);
  // Under AFL++ a fresh executor per input: the executor keeps per-run
  // vectors whose capacity (and so the code path that refills them) depends
  // on earlier inputs, which AFL++ counts as unstable edges. libFuzzer and
  // the replay runner reuse one (same findings: TargetTest.Deterministic...);
  // it saves the fiber stacks' allocation per input, which costs most under
  // ASan (mmap/munmap and page faults of 256 KiB stacks), and builds each
  // world from the last one's storage (base/recycle.h; not under AFL++,
  // whose instrumentation would count the cache's hits and misses).
  static const bool fresh = getenv("__AFL_SHM_ID") != nullptr;
  static exec::Executor* shared = [] {
    if (fresh) return static_cast<exec::Executor*>(nullptr);
    auto* ex = new exec::Executor();
    ex->set_recycle_worlds(true);
    return ex;
  }();
  std::optional<exec::Executor> own;
  if (fresh) own.emplace();
  const RunVerdict v = Evaluate(target, p, o, fresh ? *own : *shared);
  if (v.crash) {
    const std::string msg = CrashMessage(target, v);
    fputs(msg.c_str(), stderr);
    fflush(stderr);
    abort();
  }
  return 0;
}

}  // namespace reentry::triage
