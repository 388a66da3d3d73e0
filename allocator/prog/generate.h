// Seeded random programs for round-trip tests, stress runs and benchmarks
// ("a generated 1,000-op program"). The same seed and options give the same
// program in every build (reentry::Rng has a fixed algorithm).
#ifndef REENTRY_ALLOCATOR_PROG_GENERATE_H_
#define REENTRY_ALLOCATOR_PROG_GENERATE_H_

#include <cstdint>

#include "allocator/prog/program.h"

namespace reentry::prog {

struct GenerateOptions {
  // Ops in the program, interrupt bodies included (CountOps() equals it),
  // clamped to 0..kMaxOps.
  int num_ops = 64;
  // vCPUs, clamped to 1..ctx::kMaxCpus; cpu() ops switch between them.
  int cpus = 2;
  // alloc_pages, __free_pages, the nolock pair, bulk, pin, cma, drain, ...
  bool allocator_ops = true;
  // Declares 1..max_locks test locks and takes them with verbs that apply
  // to their types (and register_shrinker). Off: no locks are declared.
  bool lock_ops = true;
  int max_locks = 4;  // clamped to 1..kMaxLocks
  // softirq/hardirq/nmi at injection points, with bodies, nested up to
  // kMaxBodyDepth.
  bool interrupts = true;
  bool pauses = true;
  // pause_again() and resume() at the top level (the multi-pause schedules
  // of stress replays). Off by default so that a seed keeps drawing the
  // program it drew before these ops existed.
  bool multi_pauses = false;
  // Well-nested scopes, as kernel code writes them: every lock acquisition
  // and every irq/bh/preempt/migrate/nofs disable is closed by its matching
  // release in LIFO order. Interrupt bodies close all they open; top-level
  // scopes may stay open at the end (and across cpu() switches, which is
  // how they interleave with other vCPUs). No trylocks and no unpaired
  // releases. Off: lock and context ops are drawn independently (more
  // variety, and runs often end early in a self-deadlock).
  bool balanced = false;
  // Context ops (local_irq_*, local_bh_*, preempt_*, might_sleep, ...) are
  // always included.
};

// A valid program (ValidateProgram) drawn from seed.
Program GenerateProgram(uint64_t seed, const GenerateOptions& options = {});

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_GENERATE_H_
