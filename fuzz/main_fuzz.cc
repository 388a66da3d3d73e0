// The main target: nested-context programs (several vCPUs, interrupts at
// injection points) against the whole allocator model with the checker and
// the mm invariants on. Any bug finding crashes.
// Input: the program binary form (allocator/prog/binary.h). Configuration:
// REENTRY_* environment variables (allocator/triage/target_options.h).
// Builds for libFuzzer, AFL++ (afl-clang-fast++ -fsanitize=fuzzer) and as a
// replay-only runner (fuzz/replay_main.cc). See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>

#include "allocator/triage/target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  reentry::triage::FuzzInitialize(reentry::triage::TargetId::kMain);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return reentry::triage::FuzzOneInput(reentry::triage::TargetId::kMain, data,
                                       size);
}

// Program-level crossover: fuzz/splice_crossover.cc.
