#include "allocator/base/recycle.h"

#include <cstdint>

#if defined(__SANITIZE_ADDRESS__)
#define REENTRY_RECYCLE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REENTRY_RECYCLE_ASAN 1
#endif
#endif
#ifdef REENTRY_RECYCLE_ASAN
#include <sanitizer/asan_interface.h>
#define REENTRY_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define REENTRY_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define REENTRY_POISON(p, n) ((void)(p), (void)(n))
#define REENTRY_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace reentry {
namespace {

// A world has a few dozen distinct block sizes and at most kMaxCpus blocks
// of one size (per-CPU objects); anything beyond the bounds is freed.
constexpr int kBuckets = 128;  // a power of two
constexpr int kPerBucket = 16;
constexpr size_t kMaxBytes = 16u << 20;

struct Bucket {
  size_t bytes = 0;  // 0: unused
  int n = 0;
  void* blocks[kPerBucket];
};

struct Cache {
  int depth = 0;       // open enabled scopes
  RecycleStats stats;  // blocks and bytes: what the buckets hold now
  Bucket buckets[kBuckets];

  Bucket* Find(size_t bytes, bool add) {
    size_t i = (bytes * 0x9E3779B97F4A7C15ull) >> 57;  // 7 bits
    for (int probe = 0; probe < kBuckets; ++probe, i = (i + 1) % kBuckets) {
      Bucket& b = buckets[i];
      if (b.bytes == bytes) return &b;
      if (b.bytes == 0) {
        if (!add) return nullptr;
        b.bytes = bytes;
        return &b;
      }
    }
    return nullptr;
  }
  void Drop() {
    for (Bucket& b : buckets) {
      for (int i = 0; i < b.n; ++i) {
        REENTRY_UNPOISON(b.blocks[i], b.bytes);
        ::operator delete(b.blocks[i]);
      }
      b = Bucket();
    }
    stats.blocks = 0;
    stats.bytes = 0;
  }
  ~Cache() { Drop(); }
};

thread_local Cache cache;

}  // namespace

RecycleScope::RecycleScope(bool enabled) : enabled_(enabled) {
  if (enabled_) ++cache.depth;
}

RecycleScope::~RecycleScope() {
  if (enabled_) --cache.depth;
}

void* RecycledAllocate(size_t bytes) {
  Cache& c = cache;
  if (c.depth > 0) {
    if (Bucket* b = c.Find(bytes, false); b != nullptr && b->n > 0) {
      void* p = b->blocks[--b->n];
      REENTRY_UNPOISON(p, bytes);
      --c.stats.blocks;
      c.stats.bytes -= bytes;
      ++c.stats.reused;
      return p;
    }
  }
  return ::operator new(bytes);
}

void RecycledFree(void* p, size_t bytes) {
  if (p == nullptr) return;
  Cache& c = cache;
  if (c.depth > 0 && bytes != 0 && c.stats.bytes + bytes <= kMaxBytes) {
    if (Bucket* b = c.Find(bytes, true); b != nullptr && b->n < kPerBucket) {
      b->blocks[b->n++] = p;
      REENTRY_POISON(p, bytes);
      ++c.stats.blocks;
      c.stats.bytes += bytes;
      ++c.stats.kept;
      return;
    }
  }
  ::operator delete(p);
}

RecycleStats GetRecycleStats() { return cache.stats; }

void DropRecycledBlocks() { cache.Drop(); }

}  // namespace reentry
