// Program-level crossover (allocator/triage/splice.h) for the targets whose
// input is a program: main, gfp and checker (fuzz/CMakeLists.txt and
// oss_fuzz_build.sh link this file into them; the decoder target mutates
// raw bytes on purpose). libFuzzer adds LLVMFuzzerCustomCrossOver to its
// mutators when the binary defines it; the AFL++ driver and the replay
// runner never call it.
#include <cstddef>
#include <cstdint>

#include "allocator/triage/splice.h"

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2,
                                            uint8_t* out, size_t max_out_size,
                                            unsigned int seed) {
  return reentry::triage::SpliceInputs(data1, size1, data2, size2, out,
                                       max_out_size, seed);
}
