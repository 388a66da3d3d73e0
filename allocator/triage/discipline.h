// Input discipline: what a fuzz target does to a decoded program before it
// runs it, so that every finding it reports is about the model (or the
// checker), never about a program that misuses the kernel API.
//
// The main target hunts bugs in the allocator model: its programs must be
// correct kernel callers (balanced irq/bh/preempt sections, sleeping calls
// only where sleeping is allowed, gfp masks the context allows, nolock APIs
// where nothing else is allowed, pages freed by the context that owns
// them). CallerDiscipline rewrites any program into such a caller, keeping
// as much of it as it can (a GFP_KERNEL allocation in a hardirq becomes
// GFP_KERNEL without __GFP_DIRECT_RECLAIM, an alloc_pages in NMI becomes
// alloc_pages_nolock, an unmatched local_irq_enable is dropped, open
// sections are closed at the end of their frame).
//
// The gfp target keeps the gfp masks and the API/context pairing as the
// input says (misuse is what it fuzzes) but keeps the rest disciplined.
// The checker target keeps lock ops and context ops only.
//
// Every function here is deterministic, total on valid programs, returns a
// valid program (ValidateProgram) and is idempotent.
#ifndef REENTRY_ALLOCATOR_TRIAGE_DISCIPLINE_H_
#define REENTRY_ALLOCATOR_TRIAGE_DISCIPLINE_H_

#include "allocator/prog/program.h"
#include "allocator/triage/target_options.h"

namespace reentry::triage {

// The campaign configuration: bug set, forced config, vCPU count folded into
// 1..max_cpus, vCPU arguments folded into the vCPU count.
prog::Program ApplyCampaignConfig(prog::Program p, const TargetOptions& o);

enum class DisciplineMode : uint8_t {
  kCaller,  // main target: a correct caller
  kGfp,     // gfp target: any gfp, any API in any context; rest disciplined
};
prog::Program CallerDiscipline(const prog::Program& p, DisciplineMode mode);

// Checker target: test locks, lock calls, context ops, interrupts, pauses and
// vCPU switches only.
prog::Program LockOpsOnly(const prog::Program& p);

// The gfp mask a correct caller in this state would pass: known bits only,
// a valid zone modifier, no contradictions (__GFP_MEMALLOC with
// __GFP_NOMEMALLOC), no __GFP_NOFAIL (discipline.cc says why), and no direct
// reclaim when the caller cannot sleep. `order` is kept for callers.
inline constexpr int kPageAllocCostlyOrder = 3;  // PAGE_ALLOC_COSTLY_ORDER
gfp_t CorrectCallerGfp(gfp_t g, int order, bool can_sleep);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_DISCIPLINE_H_
