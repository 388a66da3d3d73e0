// Always-on checks for the harness's own invariants. A failed CHECK is a bug
// in reentry itself, never a finding about the model: findings are data (see
// finding.h). CHECK never allocates, so it is safe on interrupt paths.
#ifndef REENTRY_ALLOCATOR_BASE_CHECK_H_
#define REENTRY_ALLOCATOR_BASE_CHECK_H_

namespace reentry {

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond,
                              const char* msg);

}  // namespace reentry

#define REENTRY_CHECK(cond)                                         \
  do {                                                              \
    if (__builtin_expect(!(cond), 0))                               \
      ::reentry::CheckFailed(__FILE__, __LINE__, #cond, nullptr);   \
  } while (0)

#define REENTRY_CHECK_MSG(cond, msg)                                \
  do {                                                              \
    if (__builtin_expect(!(cond), 0))                               \
      ::reentry::CheckFailed(__FILE__, __LINE__, #cond, (msg));     \
  } while (0)

#ifdef NDEBUG
#define REENTRY_DCHECK(cond) \
  do {                       \
  } while (0 && (cond))
#else
#define REENTRY_DCHECK(cond) REENTRY_CHECK(cond)
#endif

#endif  // REENTRY_ALLOCATOR_BASE_CHECK_H_
