// The canonical text form of a program: what humans write, corpora store and
// reports print as a reproducer. Grammar and examples: docs/program-format.md.
//
//   config(cpus=2, preempt_rt=1)
//   bugs(BZ-01)
//   lock(A, spinlock_t, "&zone->lock")
//   spin_lock_irqsave(A)
//   p3 = alloc_pages(GFP_KERNEL|__GFP_ZERO, 0)
//   hardirq(rmqueue_bulk:zone_locked, 2) {
//     p1 = alloc_pages_nolock(0, 0)
//   }
//
// For every valid program p (ValidateProgram), ParseProgram(ProgramToText(p))
// == p, and ProgramToText(*ParseProgram(t)) is a fixed point.
#ifndef REENTRY_ALLOCATOR_PROG_TEXT_H_
#define REENTRY_ALLOCATOR_PROG_TEXT_H_

#include <optional>
#include <string>
#include <string_view>

#include "allocator/prog/program.h"

namespace reentry::prog {

struct ParseError {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in bytes
  std::string message;
  // "3:14: expected ')' after lock name, got ','"
  std::string ToString() const;
};

// The canonical text: config and bugs lines only when not default/empty,
// lock declarations in order, one op per line, bodies indented two spaces
// per level, every line ending in '\n'. p should be valid; fields out of
// range print in a form the parser rejects (e.g. "?verb200").
std::string ProgramToText(const Program& p);

// Parses a text program. On error returns nullopt and, if error is not null,
// fills it with the first error's position and what was expected.
std::optional<Program> ParseProgram(std::string_view text, ParseError* error);

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_TEXT_H_
