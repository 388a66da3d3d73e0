// The bug zoo: historical bugs that can be re-introduced into the model by id
// (../shared/docs/bug-zoo.md). One list drives the enum, the ids printed in
// reports and the one-line descriptions printed by `reentry bugs`.
#ifndef REENTRY_ALLOCATOR_BASE_BUG_ZOO_H_
#define REENTRY_ALLOCATOR_BASE_BUG_ZOO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reentry {

// X(enumerator, "id", "what the switch re-introduces")
#define REENTRY_BUG_ZOO(X)                                                    \
  X(kBz01, "BZ-01",                                                           \
    "nolock allocation spins on zone->lock (pre-trylock design): a BPF "      \
    "program in a tracepoint/NMI inside rmqueue_bulk reenters zone->lock")    \
  X(kBz02, "BZ-02",                                                           \
    "PREEMPT_RT: alloc_pages_nolock trylocks spinlock_t from hardirq/NMI "    \
    "(no can_spin_trylock bail-out)")                                         \
  X(kBz08, "BZ-08",                                                           \
    "__build_all_zonelists takes zonelist_update_seq with IRQs enabled; an "  \
    "IRQ-context slowpath reader spins on the interrupted writer")            \
  X(kBz09, "BZ-09",                                                           \
    "__build_all_zonelists prints (pr_info) inside the zonelist_update_seq "  \
    "writer section without printk_deferred_enter")                           \
  X(kBz10, "BZ-10",                                                           \
    "PREEMPT_RT: local_irq_save + write_seqlock(zonelist_update_seq) takes a " \
    "sleeping lock with IRQs disabled")                                       \
  X(kBz11, "BZ-11",                                                           \
    "wakeup_kswapd called from steal_suitable_fallback with zone->lock held") \
  X(kBz15, "BZ-15",                                                           \
    "kvfree_rcu allocates a page under the raw krcp->lock")                   \
  X(kBz16, "BZ-16",                                                           \
    "kvfree_rcu picks its gfp from in_atomic() (GFP_KERNEL under a "          \
    "spinlock without PREEMPT_COUNT)")                                        \
  X(kBz17, "BZ-17",                                                           \
    "a shrinker takes a lock that is held around a GFP_KERNEL allocation "    \
    "(fs_reclaim inversion)")                                                 \
  X(kBz26, "BZ-26",                                                           \
    "set_migratetype_isolate calls dump_page/printk with zone->lock held")    \
  X(kBz27, "BZ-27",                                                           \
    "consume_stock uses plain local_lock (not irqsave/trylock) on the memcg " \
    "stock")                                                                  \
  X(kBz28Highatomic, "BZ-28a",                                                \
    "nolock allocations may carry __GFP_HIGH and reach "                      \
    "reserve_highatomic_pageblock (non-try zone->lock)")                      \
  X(kBz28Accept, "BZ-28b",                                                    \
    "nolock allocations accept unaccepted memory (non-try zone->lock, "       \
    "unaccepted_memory_lock)")                                                \
  X(kBz28Stackdepot, "BZ-28c",                                                \
    "page_owner/stack depot ignore allow_spin: raw pool_lock and pool "       \
    "allocation from nolock context")                                         \
  X(kBz28Kswapd, "BZ-28d",                                                    \
    "nolock allocations keep __GFP_KSWAPD_RECLAIM and wake kswapd")           \
  X(kBz30, "BZ-30",                                                           \
    "cma_alloc retries -EBUSY indefinitely (NAKed patch): livelock on a "     \
    "long-term pinned page")

enum class BugId : uint8_t {
#define REENTRY_BUG_ENUM(e, id, desc) e,
  REENTRY_BUG_ZOO(REENTRY_BUG_ENUM)
#undef REENTRY_BUG_ENUM
      kCount
};

inline constexpr int kNumBugs = static_cast<int>(BugId::kCount);

// A set of enabled bug-zoo switches.
class BugSet {
 public:
  constexpr BugSet() = default;
  constexpr bool has(BugId b) const {
    return (bits_ >> static_cast<int>(b)) & 1;
  }
  constexpr void set(BugId b, bool on = true) {
    const uint64_t m = uint64_t{1} << static_cast<int>(b);
    bits_ = on ? (bits_ | m) : (bits_ & ~m);
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint64_t bits() const { return bits_; }
  static constexpr BugSet FromBits(uint64_t b) {
    BugSet s;
    s.bits_ = b & ((uint64_t{1} << kNumBugs) - 1);
    return s;
  }
  friend constexpr bool operator==(BugSet a, BugSet b) {
    return a.bits_ == b.bits_;
  }

 private:
  uint64_t bits_ = 0;
};

// "BZ-01" etc.
const char* BugIdName(BugId b);
const char* BugDescription(BugId b);
// Accepts "BZ-01", "bz-01", "BZ01", "01" and "1" (BZ-28 sub-entries need
// their letter: "BZ-28a").
std::optional<BugId> ParseBugId(std::string_view s);
// Comma-separated ids, e.g. "BZ-01,BZ-08"; nullopt and *error set on a bad id.
std::optional<BugSet> ParseBugList(std::string_view s, std::string* error);
// "BZ-01,BZ-08" or "none".
std::string BugSetToString(BugSet s);

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_BUG_ZOO_H_
