// The deterministic executor: builds a fresh World per run, runs the
// program's ops on their vCPUs (each vCPU is a fiber, so a vCPU can stop in
// the middle of a model function), fires the interrupts the program arms at
// injection points, lets a vCPU that waits for a lock held on another vCPU
// yield to it, and turns "nobody can make progress" into a finding that names
// the wait cycle. Same program, same result, every time: no threads, no
// signals, no clocks.
#ifndef REENTRY_ALLOCATOR_EXEC_EXECUTOR_H_
#define REENTRY_ALLOCATOR_EXEC_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "allocator/base/finding.h"
#include "allocator/ctx/kernel.h"
#include "allocator/prog/program.h"

namespace reentry::exec {

struct RunOptions {
  bool lockdep = true;                // attach the lockdep-like checker
  bool invariants_every_op = false;   // mm invariants after every op (fuzzing)
  bool trace = true;                  // record a trace of what ran where
  BugSet extra_bugs;                  // added to the program's own
  std::optional<ctx::Config> config;  // replaces the program's config
  uint32_t max_steps = 200000;  // scheduler steps before a livelock verdict
  bool record_points = false;   // RunResult::points (stress replay checks)
};

// An injection point a vCPU passed (RunOptions::record_points).
struct PointArrival {
  int8_t cpu;
  ctx::PointId point;
  bool operator==(const PointArrival&) const = default;
};

enum class TraceKind : uint8_t {
  kOp,          // an op started
  kIrqFire,     // an interrupt body starts
  kIrqPending,  // an armed interrupt reached its point but is masked
  kIrqDone,     // an interrupt body ended
  kPause,       // the vCPU stopped at a pause point
  kResume,      // the vCPU continued
  kWait,        // the vCPU waits for a lock held on another vCPU
  kHang,        // the vCPU can never make progress
  kSkipped,     // an op could not run (e.g. its vCPU is stuck)
};
const char* TraceKindName(TraceKind k);

struct TraceEntry {
  TraceKind kind;
  int8_t cpu;
  uint8_t depth;
  ctx::ContextKind context;
  uint32_t op_index;  // pre-order op index, kNoOp if none
  ctx::PointId point = ctx::PointId::kNone;
  int8_t other_cpu = -1;  // kWait: the holder
};

struct RunResult {
  FindingList findings;
  std::vector<TraceEntry> trace;
  uint32_t ops_run = 0;
  bool completed = true;  // false if a fatal finding (a hung vCPU) ended it
  ctx::Config config;     // the configuration that ran
  BugSet bugs;            // the bug-zoo switches that were on
  // Allocation outcomes, filled by the allocator model's ops.
  uint32_t allocs_ok = 0;
  uint32_t allocs_failed = 0;
  // With RunOptions::record_points: every point the program's ops passed,
  // in the order they ran (not teardown's), each after the interrupts it
  // fired.
  std::vector<PointArrival> points;
};

// Formats one trace entry: "#3 cpu0 hardirq spin_lock(A)".
std::string FormatTraceEntry(const prog::Program& p, const TraceEntry& e);

class Executor {
 public:
  Executor();
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs p in a fresh world. Never hangs: a vCPU that can never make
  // progress ends the run with a finding.
  RunResult Run(const prog::Program& p, const RunOptions& options = {});

  // Builds each run's world from the last one's storage (base/recycle.h)
  // instead of the heap's: for fuzz targets, which build a world per input.
  // Off by default. The world is built by its constructors either way.
  void set_recycle_worlds(bool on);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reentry::exec

#endif  // REENTRY_ALLOCATOR_EXEC_EXECUTOR_H_
