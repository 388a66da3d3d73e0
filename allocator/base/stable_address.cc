#include "allocator/base/stable_address.h"

// The executable's first mapped byte: defined by the default linker scripts
// of GNU ld, gold and lld.
extern "C" const char __executable_start[];

namespace reentry {

uintptr_t StableAddress(const void* p) {
  return reinterpret_cast<uintptr_t>(p) -
         reinterpret_cast<uintptr_t>(__executable_start);
}

}  // namespace reentry
