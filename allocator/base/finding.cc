#include "allocator/base/finding.h"

namespace reentry {
namespace {

struct KindInfo {
  const char* name;
  const char* banner;
  const char* title;
  Verdict verdict;
  Severity severity;
  bool fatal;
};

constexpr KindInfo kKinds[] = {
#define REENTRY_FINDING_INFO(e, banner, title, verdict, sev, fatal) \
  {#e + 1, banner, title, Verdict::verdict, Severity::sev, fatal},
    REENTRY_FINDING_KINDS(REENTRY_FINDING_INFO)
#undef REENTRY_FINDING_INFO
};

constexpr const char* kVerdictNames[] = {
#define REENTRY_VERDICT_NAME(e, s) s,
    REENTRY_VERDICTS(REENTRY_VERDICT_NAME)
#undef REENTRY_VERDICT_NAME
};

const KindInfo& Info(FindingKind k) {
  REENTRY_CHECK(k < FindingKind::kCount);
  return kKinds[static_cast<int>(k)];
}

}  // namespace

const char* FindingKindName(FindingKind k) { return Info(k).name; }
const char* FindingBanner(FindingKind k) { return Info(k).banner; }
const char* FindingTitleHeadline(FindingKind k) { return Info(k).title; }
Verdict FindingVerdict(FindingKind k) { return Info(k).verdict; }
const char* VerdictName(Verdict v) {
  return kVerdictNames[static_cast<int>(v)];
}
Severity FindingSeverity(FindingKind k) { return Info(k).severity; }
bool FindingIsFatal(FindingKind k) { return Info(k).fatal; }

void CopyCString(char* dst, size_t n, const char* src) {
  if (n == 0) return;
  size_t i = 0;
  if (src != nullptr) {
    for (; i + 1 < n && src[i] != '\0'; ++i) dst[i] = src[i];
  }
  dst[i] = '\0';
}

Finding& Finding::SetDetail(const char* s) {
  CopyCString(detail, sizeof(detail), s);
  return *this;
}

FindingLock& Finding::AddLock(const char* name, LockRole role) {
  if (locks.full()) return locks.back();  // keep the earliest entries
  FindingLock l{};
  CopyCString(l.name, sizeof(l.name), name);
  l.role = role;
  l.cpu = -1;
  l.op_index = kNoOp;
  locks.push_back(l);
  return locks.back();
}

bool FindingList::Add(const Finding& f) {
  REENTRY_CHECK(f.kind < FindingKind::kCount);
  ++counts_[static_cast<int>(f.kind)];
  if (FindingIsFatal(f.kind)) fatal_ = true;
  for (const Finding& g : list_) {
    if (g.kind == f.kind && g.cause == f.cause) return false;
  }
  if (!list_.push_back(f)) {
    ++dropped_;
    return false;
  }
  return true;
}

void FindingList::Clear() {
  list_.clear();
  for (uint32_t& c : counts_) c = 0;
  dropped_ = 0;
  fatal_ = false;
}

bool FindingList::has(FindingKind k) const {
  for (const Finding& f : list_) {
    if (f.kind == k) return true;
  }
  return false;
}

size_t FindingList::bugs() const {
  size_t n = 0;
  for (const Finding& f : list_) n += FindingSeverity(f.kind) == Severity::kBug;
  return n;
}

size_t FindingList::warnings() const {
  return list_.size() - bugs();
}

}  // namespace reentry
