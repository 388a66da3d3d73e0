// The checker target: raw lock-op programs; the lockdep-like checker is
// compared with a simple reference cycle finder and with real deadlocks.
// Input: the program binary form (allocator/prog/binary.h). Configuration:
// REENTRY_* environment variables (allocator/triage/target_options.h).
// Builds for libFuzzer, AFL++ (afl-clang-fast++ -fsanitize=fuzzer) and as a
// replay-only runner (fuzz/replay_main.cc). See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>

#include "allocator/triage/target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  reentry::triage::FuzzInitialize(reentry::triage::TargetId::kChecker);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return reentry::triage::FuzzOneInput(reentry::triage::TargetId::kChecker,
                                       data, size);
}

// Program-level crossover: fuzz/splice_crossover.cc.
