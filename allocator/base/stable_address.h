// Addresses that ASLR does not change.
#ifndef REENTRY_ALLOCATOR_BASE_STABLE_ADDRESS_H_
#define REENTRY_ALLOCATOR_BASE_STABLE_ADDRESS_H_

#include <cstdint>

namespace reentry {

// p's offset from the first byte of the executable it points into. ASLR
// moves the whole executable, so the offset is the same in every process
// running this binary, where p itself is not: hash this, not p, when the
// hash decides a path (coverage must not differ between two fuzzer
// processes running one input). Only for pointers into the executable:
// string literals (function names), functions, globals.
uintptr_t StableAddress(const void* p);

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_STABLE_ADDRESS_H_
