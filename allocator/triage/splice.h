// Program-level crossover for the fuzz engines (libFuzzer's
// LLVMFuzzerCustomCrossOver): two inputs become one program that runs both,
// with their locks, page slots and vCPUs kept apart, so that the engine can
// combine two code paths a lock-order cycle needs (A -> B seen in one input,
// B -> A in another) in one run. A byte-level crossover of the binary form
// splits the lock table from the ops that use it, so it rarely gives such
// a combination.
#ifndef REENTRY_ALLOCATOR_TRIAGE_SPLICE_H_
#define REENTRY_ALLOCATOR_TRIAGE_SPLICE_H_

#include <cstddef>
#include <cstdint>

#include "allocator/prog/program.h"

namespace reentry::triage {

// b's ops inserted into a: at a top-level position or at the end, on the
// same vCPUs or shifted to the next vCPU, as `seed` picks. b's locks are
// matched to a's by type and class (appended otherwise, renamed when a name
// is taken); b's page slots follow a's. The result is a valid program
// (a itself when b cannot be added).
prog::Program SpliceProgram(const prog::Program& a, const prog::Program& b,
                            uint64_t seed);

// The crossover on binary inputs: decodes both, splices, encodes into out
// (at most max_out bytes, dropping b's last top-level ops until it fits).
// Returns the size written (0: nothing useful).
size_t SpliceInputs(const uint8_t* a, size_t a_size, const uint8_t* b,
                    size_t b_size, uint8_t* out, size_t max_out,
                    unsigned int seed);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_SPLICE_H_
