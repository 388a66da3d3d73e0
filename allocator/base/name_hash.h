// Hashing names by what they say, not where they are.
#ifndef REENTRY_ALLOCATOR_BASE_NAME_HASH_H_
#define REENTRY_ALLOCATOR_BASE_NAME_HASH_H_

#include <cstdint>

namespace reentry {

// The 32-bit FNV-1a hash of a NUL-terminated name's characters. The same in
// every process and build, unlike a hash of the name's address, which ASLR
// moves. Memoized by address for this thread, for hashing the same few
// string literals (function names) over and over.
uint32_t NameHash(const char* name);

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_NAME_HASH_H_
