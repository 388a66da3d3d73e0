// A vector with inline, fixed capacity: no allocation ever, so it can be used
// on paths an (emulated or real) interrupt can reach.
#ifndef REENTRY_ALLOCATOR_BASE_FIXED_VECTOR_H_
#define REENTRY_ALLOCATOR_BASE_FIXED_VECTOR_H_

#include <cstddef>
#include <new>
#include <type_traits>

#include "allocator/base/check.h"

namespace reentry {

template <typename T, size_t N>
class FixedVector {
  static_assert(std::is_trivially_destructible_v<T>,
                "FixedVector holds plain data only");

 public:
  using value_type = T;
  // Storage is left uninitialised: building a large FixedVector costs nothing.
  FixedVector() {}
  FixedVector(const FixedVector& o) : size_(o.size_) {
    for (size_t i = 0; i < size_; ++i) new (&data_[i]) T(o.data_[i]);
  }
  FixedVector& operator=(const FixedVector& o) {
    if (this == &o) return *this;
    size_ = o.size_;
    for (size_t i = 0; i < size_; ++i) new (&data_[i]) T(o.data_[i]);
    return *this;
  }

  size_t size() const { return size_; }
  static constexpr size_t capacity() { return N; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == N; }

  T& operator[](size_t i) {
    REENTRY_DCHECK(i < size_);
    return data_[i];
  }
  const T& operator[](size_t i) const {
    REENTRY_DCHECK(i < size_);
    return data_[i];
  }
  T& back() {
    REENTRY_CHECK(size_ > 0);
    return data_[size_ - 1];
  }
  const T& back() const {
    REENTRY_CHECK(size_ > 0);
    return data_[size_ - 1];
  }

  // Returns false (and stores nothing) when full.
  bool push_back(const T& v) {
    if (size_ == N) return false;
    new (&data_[size_++]) T(v);
    return true;
  }
  void pop_back() {
    REENTRY_CHECK(size_ > 0);
    --size_;
  }
  void clear() { size_ = 0; }
  void resize(size_t n) {
    REENTRY_CHECK(n <= N);
    for (size_t i = size_; i < n; ++i) new (&data_[i]) T();
    size_ = n;
  }
  // Removes element i, keeping order.
  void erase_at(size_t i) {
    REENTRY_CHECK(i < size_);
    for (size_t j = i + 1; j < size_; ++j) data_[j - 1] = data_[j];
    --size_;
  }

  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  union {
    T data_[N];
  };
  size_t size_ = 0;
};

}  // namespace reentry

#endif  // REENTRY_ALLOCATOR_BASE_FIXED_VECTOR_H_
