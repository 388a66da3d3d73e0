#include "allocator/mm/mm.h"

#include <gtest/gtest.h>

#include "allocator/exec/executor.h"
#include "allocator/prog/generate.h"

namespace reentry::mm {
namespace {

using namespace ::reentry::gfp;  // NOLINT

ctx::Config Cfg(bool rt = false, bool smp = true,
                ctx::NolockDesign d = ctx::NolockDesign::kFinal) {
  ctx::Config c;
  c.preempt_rt = rt;
  c.smp = smp;
  c.nr_cpus = smp ? 2 : 1;
  c.nolock_design = d;
  return c;
}

class MmTest : public ::testing::Test {
 protected:
  void Make(const ctx::Config& c = Cfg(), BugSet bugs = BugSet{},
            MmConfig mc = MmConfig()) {
    mm_.reset();
    kernel_ = std::make_unique<ctx::Kernel>(c);
    ctx::set_this_cpu(&kernel_->cpu(0));
    mm_ = std::make_unique<Mm>(*kernel_, bugs, mc);
  }
  void SetUp() override { Make(); }
  void TearDown() override {
    mm_.reset();
    ctx::set_this_cpu(nullptr);
  }
  ctx::Cpu& cpu() { return kernel_->cpu(0); }
  const FindingList& findings() { return kernel_->findings(); }
  bool Has(FindingKind k) { return findings().has(k); }
  std::string Dump() {
    std::string s;
    for (const Finding& f : findings()) {
      s += std::string(FindingKindName(f.kind)) + ": " + f.detail + "\n";
    }
    return s;
  }
  void ExpectClean() { EXPECT_EQ(findings().size(), 0u) << Dump(); }
  // Slots 0..n-1 hold blocks of orders 0-3, alternately movable and
  // memcg-charged.
  void StoreMixedBlocks(int n) {
    for (int i = 0; i < n; ++i) {
      Page* p = mm_->alloc_pages(
          i % 2 ? GFP_KERNEL_ACCOUNT : GFP_HIGHUSER_MOVABLE, i % 4);
      ASSERT_NE(p, nullptr) << i;
      mm_->SlotStore(i, p, i % 4);
    }
  }

  std::unique_ptr<ctx::Kernel> kernel_;
  std::unique_ptr<Mm> mm_;
};

// --- Buddy: split and merge at every order ---------------------------------

// memblock_free_all() frees the largest uniform aligned runs at once; that
// equals freeing pageblock by pageblock and merging only if, after boot, no
// free block could merge with its buddy and every list is in pfn order.
TEST_F(MmTest, BootLeavesFullyMergedFreeListsInPfnOrder) {
  MmConfig no_cma;
  no_cma.cma_pages = 0;
  MmConfig one_zone;
  one_zone.nr_zones = 1;
  one_zone.unaccepted_chunks = 0;
  MmConfig big_blocks;
  big_blocks.pageblock_order = 7;
  big_blocks.cma_pages = 384;
  for (const MmConfig& mc : {MmConfig(), no_cma, one_zone, big_blocks}) {
    Make(Cfg(), BugSet{}, mc);
    for (int zi = 0; zi < mm_->nr_zones(); ++zi) {
      Zone* z = &mm_->zone(zi);
      for (int o = 0; o <= mm_->max_page_order(); ++o) {
        for (int mt = 0; mt < MIGRATE_TYPES; ++mt) {
          ListHead* head = &z->free_area[o].free_list[mt];
          long last = -1;
          for (ListHead* l = head->next; l != head; l = l->next) {
            Page* p = reinterpret_cast<Page*>(l);
            const unsigned long pfn = mm_->page_to_pfn(p);
            EXPECT_GT(static_cast<long>(pfn), last) << z->name << " " << o;
            last = static_cast<long>(pfn);
            if (o == mm_->max_page_order()) continue;
            const unsigned long buddy_pfn = pfn ^ (1ul << o);
            if (!z->zone_spans_pfn(buddy_pfn)) continue;
            Page* buddy = mm_->pfn_to_page(buddy_pfn);
            if (!buddy->PageBuddy() || buddy->private_order != o) continue;
            const int buddy_mt =
                mm_->get_pfnblock_migratetype(buddy, buddy_pfn);
            EXPECT_FALSE(buddy_mt == mt || (migratetype_is_mergeable(mt) &&
                                            migratetype_is_mergeable(buddy_mt)))
                << z->name << ": free pfn " << pfn << " and its buddy "
                << buddy_pfn << " (order " << o << ") were not merged";
          }
        }
      }
    }
    EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
    ExpectClean();
  }
}

// config(pressure=N): memory in use from boot, down to each level's mark.
TEST_F(MmTest, BootPressureLevels) {
  auto usable = [](const Zone* z) {
    return z->vm_stat[NR_FREE_PAGES].load() -
           z->vm_stat[NR_FREE_CMA_PAGES].load() -
           z->vm_stat[NR_UNACCEPTED].load();
  };
  Make();
  const Zone* z0 = &mm_->zone(ZONE_NORMAL);
  const long none = usable(z0);
  const long pb = static_cast<long>(mm_->pageblock_nr_pages());
  const long promo = static_cast<long>(mm_->promo_wmark_pages(z0));
  const long low = static_cast<long>(mm_->low_wmark_pages(z0));
  ASSERT_GT(none, promo + 4 * pb);
  const long unaccepted = z0->vm_stat[NR_UNACCEPTED].load();
  for (int level = 1; level <= ctx::kMaxMemPressure; ++level) {
    ctx::Config c = Cfg();
    c.mem_pressure = level;
    Make(c);
    const Zone* z = &mm_->zone(ZONE_NORMAL);
    const long left = usable(z);
    if (level == 1) {
      EXPECT_GE(left, promo + 2 * pb);
      EXPECT_LT(left, promo + 3 * pb);
    } else if (level == 2) {
      EXPECT_GE(left, low + pb);
      EXPECT_LT(left, low + 2 * pb);
    } else {
      // Fragmented: about half the memory free, no block of pageblock
      // order outside CMA.
      for (int o = mm_->pageblock_order(); o <= mm_->max_page_order(); ++o) {
        for (int mt = 0; mt < MIGRATE_PCPTYPES; ++mt) {
          EXPECT_EQ(z->free_area[o].nr_mt[mt].load(), 0u) << o << " " << mt;
        }
      }
      EXPECT_GT(left, static_cast<long>(mm_->high_wmark_pages(z)));
      const long accepted = none + unaccepted;
      EXPECT_GE(left, accepted / 2 - pb);
      EXPECT_LE(left, accepted / 2 + pb);
    }
    // Unaccepted memory (level 3: accept_memory=eager) and ZONE_MOVABLE
    // are untouched.
    EXPECT_EQ(z->vm_stat[NR_UNACCEPTED].load(), level < 3 ? unaccepted : 0);
    EXPECT_EQ(mm_->zone(ZONE_MOVABLE).vm_stat[NR_FREE_PAGES].load(),
              static_cast<long>(mm_->zone(ZONE_MOVABLE).spanned_pages));
    EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
    mm_->Teardown();  // the held memory is no leak
    ExpectClean();
  }
}

// At level 3 a reclaimable allocation finds no block of its type and only
// fragments of others, above the watermarks: it steals a small block and
// boosts the watermark.
TEST_F(MmTest, FullMemoryMakesAFallbackStealASmallBlock) {
  ctx::Config c = Cfg();
  c.mem_pressure = 3;
  Make(c);
  Zone* z = &mm_->zone(ZONE_NORMAL);
  EXPECT_EQ(z->watermark_boost.load(), 0u);
  Page* p =
      mm_->alloc_pages(GFP_ATOMIC | __GFP_RECLAIMABLE | __GFP_MEMALLOC, 0);
  ASSERT_NE(p, nullptr) << Dump();
  EXPECT_GT(z->watermark_boost.load(), 0u);
  mm_->SlotStore(0, p, 0);
  mm_->Teardown();
  ExpectClean();
}

TEST_F(MmTest, SplitAndMergeAtEveryOrder) {
  Zone* z = &mm_->zone(ZONE_MOVABLE);
  const int max = mm_->max_page_order();
  ASSERT_EQ(z->free_area[max].nr_mt[MIGRATE_MOVABLE].load(), 1u);
  for (int order = 0; order <= max; ++order) {
    Page* page = mm_->__rmqueue_smallest(z, order, MIGRATE_MOVABLE);
    ASSERT_NE(page, nullptr) << order;
    const unsigned long pfn = mm_->page_to_pfn(page);
    EXPECT_EQ(pfn & ((1ul << order) - 1), 0u);
    // expand(): one free block at each order between order and max.
    for (int o = 0; o <= max; ++o) {
      EXPECT_EQ(z->free_area[o].nr_mt[MIGRATE_MOVABLE].load(),
                (o >= order && o < max) ? 1u : 0u)
          << "order " << order << " level " << o;
    }
    EXPECT_EQ(z->vm_stat[NR_FREE_PAGES].load(),
              static_cast<long>(z->spanned_pages - (1ul << order)));
    // __free_one_page(): merges all the way back up.
    mm_->__free_one_page(page, pfn, z, order, MIGRATE_MOVABLE, FPI_NONE);
    EXPECT_EQ(z->free_area[max].nr_mt[MIGRATE_MOVABLE].load(), 1u) << order;
    EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  }
  ExpectClean();
}

// A merge above pageblock order retypes every pageblock of the buddy: the
// model's pageblocks (order 4) are smaller than its buddies can be, unlike
// the kernel's. Found by reentry stress (the list and its counter diverged,
// then __rmqueue_claim took a NULL page).
TEST_F(MmTest, MergeAbovePageblockOrderRetypesTheWholeBuddy) {
  Zone* z = &mm_->zone(ZONE_MOVABLE);
  const int pb = mm_->pageblock_order();
  const int order = pb + 1;  // two pageblocks
  Page* page = mm_->__rmqueue_smallest(z, order + 1, MIGRATE_MOVABLE);
  ASSERT_NE(page, nullptr);
  const unsigned long pfn = mm_->page_to_pfn(page);
  Page* second = mm_->pfn_to_page(pfn + (1ul << order));
  // The first half goes back as an unmovable block (its pageblocks say so).
  for (unsigned long p = pfn; p < pfn + (1ul << order);
       p += mm_->pageblock_nr_pages()) {
    mm_->set_pageblock_migratetype(mm_->pfn_to_page(p), MIGRATE_UNMOVABLE);
  }
  mm_->__free_one_page(page, pfn, z, order, MIGRATE_UNMOVABLE, FPI_NONE);
  ASSERT_EQ(z->free_area[order].nr_mt[MIGRATE_UNMOVABLE].load(), 1u);
  // The second half, movable, merges with it: every pageblock of the merged
  // block is movable now, not only the buddy's first.
  mm_->__free_one_page(second, pfn + (1ul << order), z, order, MIGRATE_MOVABLE,
                       FPI_NONE);
  for (unsigned long p = pfn; p < pfn + (2ul << order);
       p += mm_->pageblock_nr_pages()) {
    EXPECT_EQ(mm_->get_pfnblock_migratetype(mm_->pfn_to_page(p), p),
              MIGRATE_MOVABLE)
        << "pageblock at pfn " << p;
  }
  // And the zone is whole again, on the movable lists.
  const int max = mm_->max_page_order();
  EXPECT_EQ(z->free_area[max].nr_mt[MIGRATE_MOVABLE].load(), 1u);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, AllocFreeEveryOrderKeepsInvariants) {
  for (int order = 0; order <= mm_->max_page_order(); ++order) {
    Page* p = mm_->alloc_pages(GFP_HIGHUSER_MOVABLE, order);
    ASSERT_NE(p, nullptr) << order;
    EXPECT_EQ(p->alloc_order, order);
    EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
    mm_->__free_pages(p, order);
    EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  }
  ExpectClean();
}

// --- Watermarks --------------------------------------------------------------

TEST_F(MmTest, WatermarkReserves) {
  Zone* z = &mm_->zone(ZONE_NORMAL);
  const unsigned long min = z->_watermark[WMARK_MIN];
  ASSERT_GT(min, 16u);
  const int hz = ZONE_NORMAL;
  const long cma = mm_->zone_page_state(z, NR_FREE_CMA_PAGES) +
                   mm_->zone_page_state(z, NR_UNACCEPTED);
  // free just above min: ok; at min: not.
  EXPECT_TRUE(mm_->__zone_watermark_ok(z, 0, min, hz, 0, cma + min + 1));
  EXPECT_FALSE(mm_->__zone_watermark_ok(z, 0, min, hz, 0, cma + min));
  // __GFP_HIGH: half of min; GFP_ATOMIC (+ALLOC_NON_BLOCK): 62.5%.
  const long half = min - min / 2;
  EXPECT_TRUE(mm_->__zone_watermark_ok(z, 0, min, hz, ALLOC_MIN_RESERVE,
                                       cma + half + 1));
  EXPECT_FALSE(mm_->__zone_watermark_ok(z, 0, min, hz, 0, cma + half + 1));
  const long atomic = half - half / 4;
  EXPECT_TRUE(mm_->__zone_watermark_ok(
      z, 0, min, hz, ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK, cma + atomic + 1));
  EXPECT_FALSE(mm_->__zone_watermark_ok(z, 0, min, hz, ALLOC_MIN_RESERVE,
                                        cma + atomic + 1));
  // OOM victims: another half.
  EXPECT_TRUE(
      mm_->__zone_watermark_ok(z, 0, min, hz, ALLOC_OOM, cma + half + 1));
  // CMA pages only count with ALLOC_CMA.
  EXPECT_TRUE(mm_->__zone_watermark_ok(
      z, 0, min, hz, ALLOC_CMA,
      mm_->zone_page_state(z, NR_UNACCEPTED) + min + 1));
  // High orders need a free block of that order.
  EXPECT_FALSE(mm_->zone_watermark_ok(z, mm_->max_page_order(), min, hz, 0));
  EXPECT_TRUE(mm_->zone_watermark_ok(z, 3, min, hz, 0));
  // lowmem_reserve protects ZONE_NORMAL from ZONE_MOVABLE-capable requests.
  EXPECT_GT(z->lowmem_reserve[ZONE_MOVABLE], 0);
  ExpectClean();
}

TEST_F(MmTest, GfpToAllocFlags) {
  EXPECT_EQ(mm_->gfp_to_alloc_flags(GFP_KERNEL, 0),
            ALLOC_WMARK_MIN | ALLOC_CPUSET | ALLOC_KSWAPD);
  EXPECT_EQ(
      mm_->gfp_to_alloc_flags(GFP_ATOMIC, 0),
      ALLOC_WMARK_MIN | ALLOC_KSWAPD | ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK);
  EXPECT_TRUE(mm_->gfp_to_alloc_flags(GFP_ATOMIC, 1) & ALLOC_HIGHATOMIC);
  EXPECT_FALSE(mm_->gfp_to_alloc_flags(GFP_ATOMIC | __GFP_NOMEMALLOC, 1) &
               ALLOC_HIGHATOMIC);
  EXPECT_TRUE(mm_->gfp_to_alloc_flags(GFP_HIGHUSER_MOVABLE, 0) & ALLOC_CMA);
  EXPECT_TRUE(mm_->gfp_to_alloc_flags(GFP_NOWAIT, 0) & ALLOC_NON_BLOCK);
  EXPECT_FALSE(gfpflags_allow_spinning(0));
  EXPECT_FALSE(gfpflags_allow_spinning(GFP_TRANSHUGE_LIGHT));
  EXPECT_TRUE(gfpflags_allow_spinning(GFP_NOWAIT));
  EXPECT_TRUE(gfpflags_allow_blocking(GFP_KERNEL));
  EXPECT_FALSE(gfpflags_allow_blocking(GFP_ATOMIC));
}

// --- Highatomic reserve
// ---------------------------------------------------------

TEST_F(MmTest, HighatomicReserveAndUnreserve) {
  Zone* z = &mm_->zone(ZONE_NORMAL);
  // A GFP_ATOMIC order-1 allocation reserves its pageblock.
  Page* p = mm_->alloc_pages(GFP_ATOMIC, 1);
  ASSERT_NE(p, nullptr);
  const unsigned long pb = mm_->pageblock_nr_pages();
  // The fast path has no ALLOC_HIGHATOMIC; reserve by hand as the slowpath
  // would after a successful ALLOC_HIGHATOMIC allocation.
  mm_->reserve_highatomic_pageblock(p, 1, z);
  EXPECT_EQ(z->nr_reserved_highatomic.load(), pb);
  EXPECT_EQ(mm_->get_pageblock_migratetype(p), MIGRATE_HIGHATOMIC);
  EXPECT_GT(z->nr_free_highatomic.load(), 0);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  // Without ALLOC_RESERVES the reserve is not usable free memory.
  EXPECT_FALSE(mm_->__zone_watermark_ok(
      z, 0, 0, ZONE_NORMAL, 0,
      z->nr_free_highatomic.load() +
          static_cast<long>(mm_->zone_page_state(z, NR_FREE_CMA_PAGES) +
                            mm_->zone_page_state(z, NR_UNACCEPTED))));
  AllocContext ac;
  ac.zonelist[0] = z;
  ac.nr_zones = 1;
  ac.migratetype = MIGRATE_UNMOVABLE;
  EXPECT_TRUE(mm_->unreserve_highatomic_pageblock(&ac, true));
  EXPECT_EQ(z->nr_free_highatomic.load(), 0);
  EXPECT_NE(mm_->get_pageblock_migratetype(p), MIGRATE_HIGHATOMIC);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  mm_->__free_pages(p, 1);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

// --- pcp
// ----------------------------------------------------------------------

MmConfig NoPageOwner() {
  MmConfig c;
  c.page_owner = false;  // no stack depot allocations in between
  return c;
}

TEST_F(MmTest, PcpRefillFreeAndDrain) {
  Make(Cfg(), BugSet{}, NoPageOwner());
  const int batch = mm_->config().pcp_batch;
  Page* p = mm_->alloc_pages(GFP_KERNEL, 0);
  ASSERT_NE(p, nullptr);
  // rmqueue_bulk() refilled a batch; one page went out.
  EXPECT_EQ(mm_->TestOnlyPcpCount(ZONE_NORMAL, 0), batch - 1);
  EXPECT_EQ(mm_->stats().pcp_refills, 1u);
  mm_->__free_pages(p, 0);
  EXPECT_EQ(mm_->TestOnlyPcpCount(ZONE_NORMAL, 0), batch);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  // Freeing past pcp->high sends a batch back to the buddy.
  Page* pages[200];
  int n = 0;
  for (; n < 200; ++n) {
    pages[n] = mm_->alloc_pages(GFP_KERNEL, 0);
    if (!pages[n]) break;
  }
  for (int i = 0; i < n; ++i) mm_->__free_pages(pages[i], 0);
  const int high = mm_->pcp(&mm_->zone(ZONE_NORMAL), 0)->high;
  EXPECT_LT(mm_->TestOnlyPcpCount(ZONE_NORMAL, 0), high);
  mm_->drain_local_pages(nullptr);
  EXPECT_EQ(mm_->TestOnlyPcpCount(ZONE_NORMAL, 0), 0);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  // A remote drain of another CPU's pcp.
  ctx::set_this_cpu(&kernel_->cpu(1));
  Page* q = mm_->alloc_pages(GFP_KERNEL, 0);
  mm_->__free_pages(q, 0);
  ctx::set_this_cpu(&kernel_->cpu(0));
  EXPECT_GT(mm_->TestOnlyPcpCount(ZONE_NORMAL, 1), 0);
  mm_->drain_all_pages(nullptr);
  EXPECT_EQ(mm_->TestOnlyPcpCount(ZONE_NORMAL, 1), 0);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, PcpTrylockFailureFallsBackToBuddy) {
  Make(Cfg(), BugSet{}, NoPageOwner());
  // An "interrupt" while this CPU holds its pcp->lock: the trylock fails and
  // the allocation goes straight to the buddy.
  PerCpuPages* pcp = mm_->pcp(&mm_->zone(ZONE_NORMAL), 0);
  ASSERT_TRUE(locks::spin_trylock(pcp->lock));
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  Page* p = mm_->alloc_pages(GFP_ATOMIC, 0);
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(mm_->stats().pcp_trylock_failed, 1u);
  mm_->__free_pages(p, 0);  // pcp busy: free_one_page()
  cpu().ExitContext();
  locks::spin_unlock(pcp->lock);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

// --- Nolock: final design
// ---------------------------------------------------------

TEST_F(MmTest, NolockAllocFreeFromNmi) {
  cpu().EnterContext(ctx::ContextKind::kNmi);
  Page* p = mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0);
  ASSERT_NE(p, nullptr);
  Page* q = mm_->alloc_pages_nolock(__GFP_ACCOUNT, NUMA_NO_NODE, 2);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->flags & PG_memcg_kmem);
  EXPECT_EQ(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 4), nullptr)
      << "order > PAGE_ALLOC_COSTLY_ORDER fails";
  mm_->free_pages_nolock(p, 0);
  mm_->free_pages_nolock(q, 2);
  cpu().ExitContext();
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, NolockFailsWhenTheInterruptedCodeHoldsTheLocks) {
  Zone* z = &mm_->zone(ZONE_NORMAL);
  PerCpuPages* pcp = mm_->pcp(z, 0);
  IrqFlags f = locks::spin_lock_irqsave(z->lock);
  ASSERT_TRUE(locks::spin_trylock(pcp->lock));
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0), nullptr);
  EXPECT_GE(mm_->stats().zone_trylock_failed, 1u);
  cpu().ExitContext();
  locks::spin_unlock(pcp->lock);
  locks::spin_unlock_irqrestore(z->lock, f);
  ExpectClean();
}

TEST_F(MmTest, NolockDeferredFreeIsDrainedByTheNextNormalFree) {
  Zone* z = &mm_->zone(ZONE_NORMAL);
  Page* big = mm_->alloc_pages(GFP_KERNEL, 4);  // not a pcp order
  Page* other = mm_->alloc_pages(GFP_KERNEL, 4);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(other, nullptr);
  const long free_before = z->vm_stat[NR_FREE_PAGES].load();
  IrqFlags f = locks::spin_lock_irqsave(z->lock);
  cpu().EnterContext(ctx::ContextKind::kNmi);
  mm_->free_pages_nolock(big, 4);  // zone->lock busy: onto the llist
  cpu().ExitContext();
  locks::spin_unlock_irqrestore(z->lock, f);
  EXPECT_EQ(mm_->TestOnlyLlistPages(z), 16u);
  // Deferred pages are not free yet (no watermark sees them).
  EXPECT_EQ(z->vm_stat[NR_FREE_PAGES].load(), free_before);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  // Another nolock free does not drain it...
  Page* small = mm_->alloc_pages(GFP_KERNEL, 4);
  mm_->free_pages_nolock(small, 4);
  EXPECT_EQ(mm_->TestOnlyLlistPages(z), 16u);
  // ...a normal free_one_page() does.
  mm_->__free_pages(other, 4);
  EXPECT_EQ(mm_->TestOnlyLlistPages(z), 0u);
  EXPECT_EQ(mm_->stats().llist_drained, 1u);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, NolockFreeSkipsThePcpHighCheck) {
  // FPI_NOLOCK frees stay on the pcp even above pcp->high.
  PerCpuPages* pcp = mm_->pcp(&mm_->zone(ZONE_NORMAL), 0);
  std::vector<Page*> pages;
  for (int i = 0; i < pcp->high + 8; ++i) {
    Page* p = mm_->alloc_pages(GFP_KERNEL, 0);
    ASSERT_NE(p, nullptr);
    pages.push_back(p);
  }
  for (Page* p : pages) mm_->free_pages_nolock(p, 0);
  const int over = pcp->count;
  EXPECT_GT(over, pcp->high);
  // The next normal free sends a batch back.
  Page* p = mm_->alloc_pages(GFP_KERNEL, 0);
  mm_->__free_pages(p, 0);
  EXPECT_LT(pcp->count, over - 1);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, NolockBailsOutOnRtHardirqAndUpNmi) {
  Make(Cfg(/*rt=*/true));
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  EXPECT_EQ(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0), nullptr);
  cpu().ExitContext();
  Page* p = mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0);  // task: fine
  ASSERT_NE(p, nullptr);
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  mm_->free_pages_nolock(p, 0);  // deferred to the llist
  cpu().ExitContext();
  EXPECT_EQ(mm_->TestOnlyLlistPages(&mm_->zone(ZONE_NORMAL)), 1u);
  ExpectClean();

  Make(Cfg(/*rt=*/false, /*smp=*/false));
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0), nullptr);
  cpu().ExitContext();
  EXPECT_NE(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0), nullptr);
  ExpectClean();
}

// --- Nolock: the v2 __GFP_TRYLOCK design
// ------------------------------------------

TEST_F(MmTest, V2TrylockDesign) {
  Make(Cfg(false, true, ctx::NolockDesign::kV2Trylock));
  // Preemptible: try_alloc_pages() takes the normal GFP_NOWAIT path.
  Page* p = mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->alloc_gfp & __GFP_TRYLOCK, 0u);
  // In an interrupt: __GFP_TRYLOCK, and the trylock fails on a held lock.
  Zone* z = &mm_->zone(ZONE_NORMAL);
  IrqFlags f = locks::spin_lock_irqsave(z->lock);
  ASSERT_TRUE(locks::spin_trylock(mm_->pcp(z, 0)->lock));
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0), nullptr);
  cpu().ExitContext();
  locks::spin_unlock(mm_->pcp(z, 0)->lock);
  locks::spin_unlock_irqrestore(z->lock, f);
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  Page* q = mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->alloc_gfp & __GFP_TRYLOCK);
  mm_->free_pages_nolock(q, 0);
  cpu().ExitContext();
  mm_->__free_pages(p, 0);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

// --- Invalid gfp combinations: a warning, then the kernel's fallback
// -------------

struct GfpCase {
  const char* name;
  gfp_t gfp;
  unsigned order;
  bool nolock;
  bool v2;
  bool nmi;
  bool expect_page;
};

class GfpMisuseTest : public MmTest,
                      public ::testing::WithParamInterface<GfpCase> {};

TEST_P(GfpMisuseTest, WarnsThenFallsBack) {
  const GfpCase& c = GetParam();
  Make(Cfg(false, true,
           c.v2 ? ctx::NolockDesign::kV2Trylock : ctx::NolockDesign::kFinal));
  if (c.nmi) cpu().EnterContext(ctx::ContextKind::kNmi);
  Page* p = c.nolock ? mm_->alloc_pages_nolock(c.gfp, NUMA_NO_NODE, c.order)
                     : mm_->alloc_pages(c.gfp, c.order);
  if (c.nmi) cpu().ExitContext();
  EXPECT_TRUE(Has(FindingKind::kGfpMisuse)) << c.name << "\n" << Dump();
  EXPECT_EQ(findings().bugs(), 0u) << Dump();
  EXPECT_EQ(p != nullptr, c.expect_page) << c.name;
  if (p) EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
}

INSTANTIATE_TEST_SUITE_P(
    All, GfpMisuseTest,
    ::testing::Values(
        GfpCase{"TrylockBitInFinalDesign", GFP_NOWAIT | __GFP_TRYLOCK, 0, false,
                false, false, true},
        GfpCase{"TrylockWithReclaimInV2", __GFP_TRYLOCK | GFP_KERNEL, 0, false,
                true, false, true},
        GfpCase{"NofailWithoutDirectReclaim",
                __GFP_KSWAPD_RECLAIM | __GFP_NOFAIL, 0, false, false, false,
                true},
        GfpCase{"NofailCostlyOrder", GFP_KERNEL | __GFP_NOFAIL, 2, false, false,
                false, true},
        GfpCase{"MovableAndReclaimable",
                GFP_KERNEL | __GFP_MOVABLE | __GFP_RECLAIMABLE, 0, false, false,
                false, true},
        GfpCase{"OrderAboveMax", GFP_KERNEL, kMaxPageOrderLimit + 1, false,
                false, false, false},
        GfpCase{"NolockWithReclaimBits", GFP_KERNEL, 0, true, false, false,
                true},
        GfpCase{"NolockWithHigh", __GFP_HIGH, 1, true, false, false, true}),
    [](const ::testing::TestParamInfo<GfpCase>& info) {
      return std::string(info.param.name);
    });

// alloc_pages() without __GFP_RECLAIM bits is still not the nolock API: it
// has no ALLOC_TRYLOCK, so rmqueue_buddy() would spin on zone->lock.
TEST_F(MmTest, AllocPagesWithoutReclaimBitsFromNmiIsReportedAndFailed) {
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages(0, 0), nullptr);
  cpu().ExitContext();
  EXPECT_TRUE(Has(FindingKind::kAllocInvalidContext)) << Dump();
  EXPECT_EQ(findings().bugs(), 1u) << Dump();
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
}

TEST_F(MmTest, NofailFromNmiWarnsAndIsReportedAsWrongContext) {
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages(__GFP_NOFAIL, 0), nullptr);
  cpu().ExitContext();
  EXPECT_TRUE(Has(FindingKind::kGfpMisuse)) << Dump();
  EXPECT_TRUE(Has(FindingKind::kAllocInvalidContext)) << Dump();
}

TEST_F(MmTest, AllocPagesWithoutReclaimBitsFromRtHardirqIsReported) {
  Make(Cfg(/*rt=*/true));
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  EXPECT_EQ(mm_->alloc_pages(__GFP_NOWARN, 0), nullptr);
  cpu().ExitContext();
  EXPECT_TRUE(Has(FindingKind::kAllocInvalidContext)) << Dump();
}

// Must not fire: the same gfp from task context and a hardirq without RT,
// and the APIs that do take the trylock path from NMI.
TEST_F(MmTest, AllocPagesWithoutReclaimBitsOutsideNmiAndTrylockApisAreFine) {
  Page* task = mm_->alloc_pages(0, 0);
  ASSERT_NE(task, nullptr);
  cpu().EnterContext(ctx::ContextKind::kHardirq);
  Page* irq = mm_->alloc_pages(__GFP_NOWARN, 0);
  cpu().ExitContext();
  ASSERT_NE(irq, nullptr);
  cpu().EnterContext(ctx::ContextKind::kNmi);
  Page* nolock = mm_->alloc_pages_nolock(0, NUMA_NO_NODE, 0);
  cpu().ExitContext();
  ASSERT_NE(nolock, nullptr);
  mm_->__free_pages(task, 0);
  mm_->__free_pages(irq, 0);
  mm_->free_pages_nolock(nolock, 0);
  ExpectClean();

  Make(Cfg(false, true, ctx::NolockDesign::kV2Trylock));
  cpu().EnterContext(ctx::ContextKind::kNmi);
  Page* v2 = mm_->alloc_pages(__GFP_TRYLOCK | __GFP_NOWARN, 0);
  cpu().ExitContext();
  ASSERT_NE(v2, nullptr);
  mm_->free_pages_nolock(v2, 0);
  ExpectClean();
}

TEST_F(MmTest, SpinningAllocationFromNmiIsReportedAndFailed) {
  cpu().EnterContext(ctx::ContextKind::kNmi);
  EXPECT_EQ(mm_->alloc_pages(GFP_ATOMIC, 0), nullptr);
  cpu().ExitContext();
  EXPECT_TRUE(Has(FindingKind::kAllocInvalidContext)) << Dump();
  // A __free_pages() from NMI is reported and done as free_pages_nolock().
  Page* p = mm_->alloc_pages(GFP_KERNEL, 0);
  cpu().EnterContext(ctx::ContextKind::kNmi);
  mm_->__free_pages(p, 0);
  cpu().ExitContext();
  EXPECT_NE(p->where, PageWhere::kAllocated);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
}

// --- Invariants
// ---------------------------------------------------------------

TEST_F(MmTest, InvariantsCatchABrokenFree) {
  Page* p = mm_->alloc_pages(GFP_KERNEL, 2);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(mm_->CheckInvariants());
  mm_->TestOnlyBrokenFree(p, 1);  // wrong order, straight onto a free list
  EXPECT_FALSE(mm_->CheckInvariants());
  EXPECT_TRUE(Has(FindingKind::kPageAccounting) ||
              Has(FindingKind::kFreeListCorrupt))
      << Dump();
}

TEST_F(MmTest, InvariantsCatchAPageInTwoPlaces) {
  Page* p = mm_->alloc_pages(GFP_KERNEL, 2);
  ASSERT_NE(p, nullptr);
  mm_->SlotStore(0, p, 2);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  // The block's second half onto a free list while the block is allocated.
  mm_->TestOnlyBrokenFree(p + 2, 1);
  EXPECT_FALSE(mm_->CheckInvariants());
  ASSERT_TRUE(Has(FindingKind::kFreeListCorrupt)) << Dump();
  char twice[64];
  snprintf(twice, sizeof(twice), "pfn %#lx is in two places at once",
           mm_->page_to_pfn(p + 2));
  EXPECT_NE(Dump().find(twice), std::string::npos) << Dump();
}

TEST_F(MmTest, InvariantsCatchALostBlock) {
  const unsigned long pfn =
      mm_->TestOnlyLoseFreeBlock(mm_->pageblock_order());  // the CMA area
  ASSERT_NE(pfn, kNoPfn);
  EXPECT_FALSE(mm_->CheckInvariants());
  ASSERT_TRUE(Has(FindingKind::kPageAccounting)) << Dump();
  EXPECT_FALSE(Has(FindingKind::kFreeListCorrupt)) << Dump();
  char first[32];
  snprintf(first, sizeof(first), "first pfn %#lx", pfn);
  EXPECT_NE(Dump().find(first), std::string::npos) << Dump();
}

// Teardown and the invariant check scan only the chunks NoteTouched marked:
// every way a page becomes allocated or offline must mark its chunk.
TEST_F(MmTest, EveryAllocatedOrOfflinePageIsInATouchedChunk) {
  ASSERT_NO_FATAL_FAILURE(StoreMixedBlocks(6));
  Page* nolock = mm_->alloc_pages_nolock(0, -1, 0);
  ASSERT_NE(nolock, nullptr);
  mm_->SlotStore(6, nolock, 0);
  Page* cma = mm_->cma_alloc(8, 0, false);
  ASSERT_NE(cma, nullptr);
  mm_->SlotStoreCma(7, cma, 8);
  for (int i = 0; i < 3; ++i) mm_->kvfree_call_rcu();
  EXPECT_EQ(mm_->offline_pages_op(), 0) << Dump();
  EXPECT_EQ(mm_->offline_memory_block_of(mm_->slot(0).page), 0) << Dump();
  EXPECT_EQ(mm_->TestOnlyPagesOutsideTouchedChunks(), 0u);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  EXPECT_EQ(mm_->online_pages_op(), 0) << Dump();
  mm_->Teardown();
  EXPECT_EQ(mm_->TestOnlyPagesOutsideTouchedChunks(), 0u);
  ExpectClean();
}

TEST_F(MmTest, DoubleFreeAndWrongOrderAreRefused) {
  Page* p = mm_->alloc_pages(GFP_KERNEL, 2);
  ASSERT_NE(p, nullptr);
  mm_->__free_pages(p, 1);  // wrong order: refused
  EXPECT_TRUE(Has(FindingKind::kBadPageState));
  EXPECT_EQ(p->where, PageWhere::kAllocated);
  mm_->__free_pages(p, 2);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  const size_t before = findings().occurrences(FindingKind::kBadPageState);
  mm_->__free_pages(p, 2);  // double free: refused
  EXPECT_GT(findings().occurrences(FindingKind::kBadPageState), before);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
}

// Migration (memory offline, CMA) does not move a block whose owner is in
// the middle of an op on it (on another vCPU in a stress run): it backs off
// as a failed refcount freeze would, and the owner's slot stays valid.
// Found by reentry stress (the owner freed the old block, migration freed it
// again).
TEST_F(MmTest, MigrationBacksOffWhileTheOwnerHoldsTheSlot) {
  Page* p = mm_->alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
  ASSERT_NE(p, nullptr);
  mm_->SlotStore(5, p, 0);
  ASSERT_TRUE(mm_->SlotTryBegin(5));  // the owner's op is running
  EXPECT_NE(mm_->offline_memory_block_of(p), 0);
  EXPECT_EQ(mm_->slot(5).page, p);
  EXPECT_EQ(p->where, PageWhere::kAllocated);
  mm_->SlotEnd(5);
  EXPECT_EQ(mm_->offline_memory_block_of(p), 0) << Dump();
  Page* moved = mm_->slot(5).page;
  ASSERT_NE(moved, nullptr);
  EXPECT_NE(moved, p);
  EXPECT_EQ(moved->where, PageWhere::kAllocated);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

// Nor a block that no slot owns yet: another vCPU's op may have it from
// alloc_pages() and not have stored it (a stress run: migration freed it,
// the owner stored and freed it again, "Bad page state ... double free").
TEST_F(MmTest, MigrationLeavesAnUnpublishedAllocationAlone) {
  Page* p = mm_->alloc_pages(GFP_HIGHUSER_MOVABLE, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(mm_->offline_memory_block_of(p), 0);
  EXPECT_EQ(p->where, PageWhere::kAllocated);
  mm_->SlotStore(5, p, 0);  // published: now it may move
  EXPECT_EQ(mm_->offline_memory_block_of(p), 0) << Dump();
  EXPECT_NE(mm_->slot(5).page, p);
  EXPECT_TRUE(mm_->CheckInvariants()) << Dump();
  ExpectClean();
}

TEST_F(MmTest, TeardownReportsLeaks) {
  Page* held = mm_->alloc_pages(GFP_KERNEL, 0);
  mm_->SlotStore(0, held, 0);
  Page* leaked = mm_->alloc_pages(GFP_KERNEL, 1);  // nobody owns it
  ASSERT_NE(leaked, nullptr);
  mm_->Teardown();
  EXPECT_TRUE(Has(FindingKind::kPageLeak)) << Dump();
  EXPECT_NE(held->where, PageWhere::kAllocated);  // the slot's page is back
}

TEST_F(MmTest, TeardownOfACleanRunLeaksNothing) {
  ASSERT_NO_FATAL_FAILURE(StoreMixedBlocks(8));
  mm_->pin_user_pages(mm_->slot(1).page, true);
  Page* cma = mm_->cma_alloc(8, 0, false);
  ASSERT_NE(cma, nullptr);
  mm_->SlotStoreCma(9, cma, 8);
  for (int i = 0; i < 5; ++i) mm_->kvfree_call_rcu();
  mm_->Teardown();
  ExpectClean();
}

// --- The clean model under random programs
// -----------------------------------------

// Random programs without test locks: every bug-severity finding must come
// with evidence of program misuse in the same run (an allocation in the
// wrong context, a sleeping call in atomic context, a context left
// unbalanced, ...). Anything else is a false positive of the model.
struct RandomConfig {
  const char* name;
  bool rt, up, v2, no_preempt_count;
  int pressure = 0;
};

class MmRandomProgramsTest : public ::testing::TestWithParam<RandomConfig> {};

TEST_P(MmRandomProgramsTest, CleanModelHasNoFalsePositives) {
  const RandomConfig& c = GetParam();
  exec::Executor executor;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    prog::GenerateOptions o;
    o.balanced = true;
    o.lock_ops = false;
    prog::Program p = prog::GenerateProgram(seed, o);
    p.bugs = BugSet{};
    p.config.preempt_rt = c.rt;
    if (c.up) {
      p.config.smp = false;
      p.config.nr_cpus = 1;
    }
    if (c.v2) p.config.nolock_design = ctx::NolockDesign::kV2Trylock;
    if (c.no_preempt_count) p.config.preempt_count = false;
    p.config.mem_pressure = c.pressure;
    const exec::RunResult r = executor.Run(p);
    bool misuse = false;
    for (const Finding& f : r.findings) {
      switch (f.kind) {
        case FindingKind::kAllocInvalidContext:
        case FindingKind::kSleepInAtomic:
        case FindingKind::kGfpMisuse:
        case FindingKind::kBadPageState:
        case FindingKind::kIrqRestoreWithIrqsEnabled:
        case FindingKind::kUnbalancedIrqRestore:
        case FindingKind::kIrqEnableInHardirq:
        case FindingKind::kBadBhEnable:
        case FindingKind::kBhCountUnderflow:
        case FindingKind::kPreemptCountUnderflow:
        case FindingKind::kLockHeldAtContextExit:
        case FindingKind::kPreemptLeakAtContextExit:
        case FindingKind::kIrqsEnabledAtContextExit:
        case FindingKind::kLockHeldReturningToUser:
        case FindingKind::kIrqsDisabledAtTaskExit:
          misuse = true;
          break;
        default:
          break;
      }
    }
    if (misuse) continue;
    for (const Finding& f : r.findings) {
      EXPECT_NE(FindingSeverity(f.kind), Severity::kBug)
          << c.name << " seed " << seed << ": " << FindingKindName(f.kind)
          << " in " << (f.function ? f.function : "?") << ": " << f.detail;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, MmRandomProgramsTest,
    ::testing::Values(
        RandomConfig{"Default", false, false, false, false},
        RandomConfig{"PreemptRt", true, false, false, false},
        RandomConfig{"Up", false, true, false, false},
        RandomConfig{"V2Trylock", false, false, true, false},
        RandomConfig{"NoPreemptCount", false, false, false, true},
        RandomConfig{"PressureToPromo", false, false, false, false, 1},
        RandomConfig{"PressureToLow", false, false, false, false, 2},
        RandomConfig{"Fragmented", false, false, false, false, 3},
        RandomConfig{"FragmentedRt", true, false, false, false, 3}),
    [](const ::testing::TestParamInfo<RandomConfig>& info) {
      return std::string(info.param.name);
    });

// fail_page_alloc's `times` (attr->times): -1 is unlimited, 0 is off, a
// positive count goes down by one per injected failure and stops at 0. The
// decrement is a CAS (atomic_dec_not_zero()), since vCPUs inject failures
// without a common lock; the loss of a plain load/store pair is too rare on
// this machine to test for, so this checks the semantics only.
TEST(OnceTest, DecIfPositiveKeepsUnlimitedAndStopsAtZero) {
  Once<int> unlimited(-1);
  unlimited.dec_if_positive();
  EXPECT_EQ(unlimited.load(), -1);
  Once<int> times(2);
  times.dec_if_positive();
  EXPECT_EQ(times.load(), 1);
  times.dec_if_positive();
  times.dec_if_positive();
  EXPECT_EQ(times.load(), 0);
}

}  // namespace
}  // namespace reentry::mm
