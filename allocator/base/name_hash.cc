#include "allocator/base/name_hash.h"

#include <cstddef>

namespace reentry {
namespace {

uint32_t Fnv1a(const char* s) {
  uint32_t h = 2166136261u;
  for (; *s != '\0'; ++s) h = (h ^ static_cast<uint8_t>(*s)) * 16777619u;
  return h;
}

// Direct-mapped by address. A name's characters must not change while it is
// cached: every caller passes string literals.
struct Entry {
  const char* name = nullptr;
  uint32_t hash = 0;
};
constexpr size_t kEntries = 256;
thread_local Entry cache[kEntries];

}  // namespace

uint32_t NameHash(const char* name) {
  Entry& e = cache[(reinterpret_cast<uintptr_t>(name) >> 3) % kEntries];
  if (e.name != name) {
    e.name = name;
    e.hash = Fnv1a(name);
  }
  return e.hash;
}

}  // namespace reentry
