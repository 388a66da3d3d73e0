// The round-trip oracle for one fuzz input: the body of a libFuzzer target
// (fuzz/ wraps it) and of the decoder totality tests.
#ifndef REENTRY_ALLOCATOR_PROG_ORACLE_H_
#define REENTRY_ALLOCATOR_PROG_ORACLE_H_

#include <cstddef>
#include <cstdint>

namespace reentry::prog {

// REENTRY_CHECKs, on DecodeProgram(data, size) = p:
//   - p is valid (ValidateProgram);
//   - text: ParseProgram(ProgramToText(p)) == p, and printing the parsed
//     program gives the same text (canonical);
//   - binary: DecodeProgram(EncodeProgram(p)) == p, and the encoding is a
//     fixed point (encoding the re-decoded program gives the same bytes).
// Returns 0, as LLVMFuzzerTestOneInput does.
int ProgramRoundTripOracle(const uint8_t* data, size_t size);

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_ORACLE_H_
