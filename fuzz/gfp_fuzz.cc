// The gfp target: every gfp combination, valid and invalid, from every
// context, with both nolock designs. Wrong gfp for the context is expected;
// anything a gfp mistake cannot explain crashes.
// Input: the program binary form (allocator/prog/binary.h). Configuration:
// REENTRY_* environment variables (allocator/triage/target_options.h).
// Builds for libFuzzer, AFL++ (afl-clang-fast++ -fsanitize=fuzzer) and as a
// replay-only runner (fuzz/replay_main.cc). See docs/fuzzing.md.
#include <cstddef>
#include <cstdint>

#include "allocator/triage/target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  reentry::triage::FuzzInitialize(reentry::triage::TargetId::kGfp);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return reentry::triage::FuzzOneInput(reentry::triage::TargetId::kGfp, data,
                                       size);
}

// Program-level crossover: fuzz/splice_crossover.cc.
