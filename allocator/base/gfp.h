// GFP flags in kernel spelling (include/linux/gfp_types.h, mm tree 2026), as
// data: one list gives the bits, the composite masks and the names used to
// print and parse them. Semantics (gfp_to_alloc_flags, ...) live in mm/.
#ifndef REENTRY_ALLOCATOR_BASE_GFP_H_
#define REENTRY_ALLOCATOR_BASE_GFP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reentry {

using gfp_t = uint32_t;

// X(enumerator, bit, "name"). Bit positions follow gfp_types.h; the
// config-dependent bits after ZEROTAGS are fixed here, and __GFP_TRYLOCK is
// the Dec 2024 v2 bit (only meaningful in the kV2Trylock nolock design).
#define REENTRY_GFP_BITS(X)                          \
  X(DMA, 0, "__GFP_DMA")                             \
  X(HIGHMEM, 1, "__GFP_HIGHMEM")                     \
  X(DMA32, 2, "__GFP_DMA32")                         \
  X(MOVABLE, 3, "__GFP_MOVABLE")                     \
  X(RECLAIMABLE, 4, "__GFP_RECLAIMABLE")             \
  X(HIGH, 5, "__GFP_HIGH")                           \
  X(IO, 6, "__GFP_IO")                               \
  X(FS, 7, "__GFP_FS")                               \
  X(ZERO, 8, "__GFP_ZERO")                           \
  X(DIRECT_RECLAIM, 10, "__GFP_DIRECT_RECLAIM")      \
  X(KSWAPD_RECLAIM, 11, "__GFP_KSWAPD_RECLAIM")      \
  X(WRITE, 12, "__GFP_WRITE")                        \
  X(NOWARN, 13, "__GFP_NOWARN")                      \
  X(RETRY_MAYFAIL, 14, "__GFP_RETRY_MAYFAIL")        \
  X(NOFAIL, 15, "__GFP_NOFAIL")                      \
  X(NORETRY, 16, "__GFP_NORETRY")                    \
  X(MEMALLOC, 17, "__GFP_MEMALLOC")                  \
  X(COMP, 18, "__GFP_COMP")                          \
  X(NOMEMALLOC, 19, "__GFP_NOMEMALLOC")              \
  X(HARDWALL, 20, "__GFP_HARDWALL")                  \
  X(THISNODE, 21, "__GFP_THISNODE")                  \
  X(ACCOUNT, 22, "__GFP_ACCOUNT")                    \
  X(ZEROTAGS, 23, "__GFP_ZEROTAGS")                  \
  X(TRYLOCK, 24, "__GFP_TRYLOCK")                    \
  X(NOLOCKDEP, 25, "__GFP_NOLOCKDEP")

namespace gfp {
#define REENTRY_GFP_CONST(e, bit, name) \
  inline constexpr gfp_t __GFP_##e = gfp_t{1} << bit;
REENTRY_GFP_BITS(REENTRY_GFP_CONST)
#undef REENTRY_GFP_CONST

inline constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
inline constexpr gfp_t GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
inline constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;
inline constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;
inline constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
inline constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
inline constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
inline constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
inline constexpr gfp_t GFP_TRANSHUGE_LIGHT =
    (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) &
    ~__GFP_RECLAIM;
inline constexpr gfp_t GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;
// Every bit the model knows.
inline constexpr gfp_t kAllBits = (gfp_t{1} << 26) - 1 - (gfp_t{1} << 9);
}  // namespace gfp

// X(name, value): composites, printed greedily before single bits (largest
// first) so GFP_KERNEL prints as "GFP_KERNEL", not as its bits.
#define REENTRY_GFP_COMPOSITES(X)                 \
  X("GFP_TRANSHUGE", gfp::GFP_TRANSHUGE)          \
  X("GFP_TRANSHUGE_LIGHT", gfp::GFP_TRANSHUGE_LIGHT) \
  X("GFP_HIGHUSER_MOVABLE", gfp::GFP_HIGHUSER_MOVABLE) \
  X("GFP_HIGHUSER", gfp::GFP_HIGHUSER)            \
  X("GFP_USER", gfp::GFP_USER)                    \
  X("GFP_KERNEL_ACCOUNT", gfp::GFP_KERNEL_ACCOUNT) \
  X("GFP_KERNEL", gfp::GFP_KERNEL)                \
  X("GFP_NOFS", gfp::GFP_NOFS)                    \
  X("GFP_NOIO", gfp::GFP_NOIO)                    \
  X("GFP_ATOMIC", gfp::GFP_ATOMIC)                \
  X("GFP_NOWAIT", gfp::GFP_NOWAIT)                \
  X("__GFP_RECLAIM", gfp::__GFP_RECLAIM)

// "GFP_KERNEL|__GFP_ZERO"; "0" for an empty mask; unknown bits as hex.
std::string GfpToString(gfp_t g);
// Accepts names joined by '|' (spaces allowed), and hex or decimal numbers.
std::optional<gfp_t> ParseGfp(std::string_view s, std::string* error);

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_GFP_H_
