// The binary form of a program, for fuzzers: a total decoder (every byte
// string is a valid program) laid out so that byte-level mutations make
// structural changes (one op per opcode byte, fixed-width fields reduced
// modulo their range). Layout table: docs/program-format.md.
//
// Compatibility: fuzz corpora are stored in this form. The golden tests in
// binary_test.cc pin it; op codes, lock verbs, lock types, injection points,
// bug ids and the class-name table below are append-only.
#ifndef REENTRY_ALLOCATOR_PROG_BINARY_H_
#define REENTRY_ALLOCATOR_PROG_BINARY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "allocator/prog/program.h"

namespace reentry::prog {

// Decodes any bytes (empty and null-with-size-0 included) into a program
// that ValidateProgram accepts. Never fails; missing bytes read as 0; out of
// range values wrap. Time and memory are linear in size (at most kMaxOps ops).
Program DecodeProgram(const uint8_t* data, size_t size);
Program DecodeProgram(std::string_view bytes);

// The canonical bytes of a valid program p: DecodeProgram(EncodeProgram(p))
// == p. (Not every byte string is canonical: decoding wraps values, skips
// ops it cannot represent and reads missing bytes as 0.)
std::string EncodeProgram(const Program& p);

// The name the decoder gives lock i when the input does not spell one:
// "A".."Z", then "L26".."L31".
std::string DefaultLockName(int index);

// Lock class names the binary form refers to by index (byte < 0x80):
// kernel classes first, then test classes "A".."H". Append-only.
std::span<const char* const> LockClassNameTable();

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_BINARY_H_
