// Reuse of one fuzz input's world storage by the next input's world.
//
// A fuzz target builds a world (emulated kernel, lockdep, allocator model)
// for every input and frees it after the run: about forty allocations of
// fixed sizes, from a few bytes to tens of KiB. Under ASan each one costs
// a stack trace at malloc and at free, a quarantine slot and a fill, about
// a third of an execution. The types below take their storage from a
// per-thread cache instead, but only inside a RecycleScope (the executor
// opens one around destroying the last world and building the next):
//   - a block freed inside a scope is kept, by exact size, and poisoned
//     under ASan while it waits;
//   - an allocation inside a scope takes a kept block of the same size;
//   - everywhere else, including every allocation and free made while a
//     program runs, they are plain ::operator new / delete, so ASan's
//     quarantine still sees the model's own use-after-free bugs.
// Objects are always built by their constructors: a recycled block holds
// nothing of its previous life, so a world built from recycled storage
// behaves as a fresh one (exec/executor_test.cc checks this).
#ifndef REENTRY_ALLOCATOR_BASE_RECYCLE_H_
#define REENTRY_ALLOCATOR_BASE_RECYCLE_H_

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace reentry {

// While one is alive on a thread (enabled == true), the Recycled types of
// that thread keep and reuse blocks. Scopes nest.
class RecycleScope {
 public:
  explicit RecycleScope(bool enabled);
  ~RecycleScope();
  RecycleScope(const RecycleScope&) = delete;
  RecycleScope& operator=(const RecycleScope&) = delete;

 private:
  bool enabled_;
};

void* RecycledAllocate(size_t bytes);
void RecycledFree(void* p, size_t bytes);

// What this thread's cache holds and has done (tests, benchmarks).
struct RecycleStats {
  size_t blocks = 0;  // kept now
  size_t bytes = 0;
  size_t reused = 0;  // allocations served from the cache
  size_t kept = 0;    // frees that went to the cache
};
RecycleStats GetRecycleStats();
// Frees every kept block of this thread.
void DropRecycledBlocks();

// Base class for types allocated with new/make_unique on the world's path.
struct Recycled {
  static void* operator new(size_t bytes) { return RecycledAllocate(bytes); }
  static void* operator new[](size_t bytes) { return RecycledAllocate(bytes); }
  static void operator delete(void* p, size_t bytes) { RecycledFree(p, bytes); }
  static void operator delete[](void* p, size_t bytes) {
    RecycledFree(p, bytes);
  }
  // The cache's blocks have ::operator new's alignment: an over-aligned
  // type does not compile rather than getting a misaligned block.
  static void* operator new(size_t, std::align_val_t) = delete;
  static void* operator new[](size_t, std::align_val_t) = delete;
};

template <typename T>
struct RecyclingAllocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
  using value_type = T;
  RecyclingAllocator() = default;
  template <typename U>
  RecyclingAllocator(const RecyclingAllocator<U>&) {}  // NOLINT
  T* allocate(size_t n) {
    return static_cast<T*>(RecycledAllocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) { RecycledFree(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const RecyclingAllocator<U>&) const {
    return true;
  }
};

template <typename T>
using RecycledVector = std::vector<T, RecyclingAllocator<T>>;

// A fixed-size array of value-initialised T (std::atomic included, which
// std::vector cannot resize), with recycled storage.
template <typename T>
class RecycledArray {
 public:
  RecycledArray() = default;
  explicit RecycledArray(size_t n) : n_(n) {
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__);
    if (n_ == 0) return;
    p_ = static_cast<T*>(RecycledAllocate(n_ * sizeof(T)));
    for (size_t i = 0; i < n_; ++i) new (&p_[i]) T();
  }
  ~RecycledArray() { Reset(); }
  RecycledArray(RecycledArray&& o) noexcept : p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  RecycledArray& operator=(RecycledArray&& o) noexcept {
    if (this != &o) {
      Reset();
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  T& operator[](size_t i) { return p_[i]; }
  const T& operator[](size_t i) const { return p_[i]; }
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  void Reset() {
    if (p_ == nullptr) return;
    for (size_t i = 0; i < n_; ++i) p_[i].~T();
    RecycledFree(p_, n_ * sizeof(T));
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_RECYCLE_H_
