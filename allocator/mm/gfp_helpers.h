// The gfp predicates of include/linux/gfp.h, on the model's gfp bits.
#ifndef REENTRY_ALLOCATOR_MM_GFP_HELPERS_H_
#define REENTRY_ALLOCATOR_MM_GFP_HELPERS_H_

#include "allocator/base/gfp.h"
#include "allocator/mm/mm_types.h"

namespace reentry::mm {

using namespace ::reentry::gfp;  // NOLINT: kernel spelling of gfp names

// kernel: include/linux/gfp.h gfpflags_allow_blocking(), mm tree 2026
inline bool gfpflags_allow_blocking(gfp_t gfp_flags) {
  return gfp_flags & __GFP_DIRECT_RECLAIM;
}

// kernel: include/linux/gfp.h gfpflags_allow_spinning(), mm tree 2026
// "alloc_pages_nolock is the only API that passes neither reclaim bit".
// The v2 design (Dec 2024) had no such predicate; there a __GFP_TRYLOCK
// allocation is the one that cannot spin, which the second test covers.
inline bool gfpflags_allow_spinning(gfp_t gfp_flags) {
  return (gfp_flags & __GFP_RECLAIM) && !(gfp_flags & __GFP_TRYLOCK);
}

// kernel: include/linux/gfp.h gfp_nested_mask(), v6.18
inline gfp_t gfp_nested_mask(gfp_t flags) {
  return (flags & (GFP_KERNEL | GFP_ATOMIC | __GFP_NOLOCKDEP)) |
         (__GFP_NORETRY | __GFP_NOMEMALLOC | __GFP_NOWARN);
}

inline constexpr gfp_t GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE;
inline constexpr int GFP_MOVABLE_SHIFT = 3;

// kernel: include/linux/gfp.h gfp_migratetype() (without the VM_WARN, which
// the caller reports: see Mm::gfp_migratetype_checked()).
inline int gfp_migratetype_raw(gfp_t gfp_flags) {
  return static_cast<int>((gfp_flags & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT);
}

// kernel: include/linux/gfp.h gfp_compaction_allowed()
inline bool gfp_compaction_allowed(gfp_t gfp_mask) {
  return gfp_mask & __GFP_IO;
}

// The gfp mask alloc_pages_nolock() applies internally ([MM] gfp_nolock).
inline constexpr gfp_t gfp_nolock =
    __GFP_NOWARN | __GFP_ZERO | __GFP_NOMEMALLOC | __GFP_COMP;

}  // namespace reentry::mm

#endif  // REENTRY_ALLOCATOR_MM_GFP_HELPERS_H_
