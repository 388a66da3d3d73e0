// Compiler hints for the instrumented fast paths (lock operations, context
// queries, the allocator's pcp path). They change code layout only, never
// behaviour.
#ifndef REENTRY_ALLOCATOR_BASE_COMPILER_H_
#define REENTRY_ALLOCATOR_BASE_COMPILER_H_

// A small fast path the compiler must inline even into large callers.
#define REENTRY_ALWAYS_INLINE inline __attribute__((always_inline))
// Reports and other rare work, kept out of the callers' hot code.
#define REENTRY_COLD __attribute__((cold, noinline))

#define REENTRY_LIKELY(x) __builtin_expect(!!(x), 1)
#define REENTRY_UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif  // REENTRY_ALLOCATOR_BASE_COMPILER_H_
