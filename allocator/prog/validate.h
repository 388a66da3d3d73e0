// Whether a Program is one the codecs accept: the text printer and parser,
// the binary encoder and decoder round-trip exactly the valid programs.
#ifndef REENTRY_ALLOCATOR_PROG_VALIDATE_H_
#define REENTRY_ALLOCATOR_PROG_VALIDATE_H_

#include <string>

#include "allocator/prog/program.h"

namespace reentry::prog {

// True if p is valid; otherwise false and, if error is not null, the first
// problem found, e.g. "op 3 (spin_lock): verb spin_lock cannot take ...".
// Valid means: config in range (1..ctx::kMaxCpus cpus), at most kMaxLocks
// locks with unique identifier names and class names of the safe charset,
// at most kMaxOps ops, interrupt bodies nested at most kMaxBodyDepth deep,
// interrupts of kind softirq/hardirq/nmi, no cpu() inside a body, and every
// field in its range (CheckField, CheckLockCall in fields.h).
bool ValidateProgram(const Program& p, std::string* error);

}  // namespace reentry::prog

#endif  // REENTRY_ALLOCATOR_PROG_VALIDATE_H_
