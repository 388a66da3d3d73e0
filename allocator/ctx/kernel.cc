#include "allocator/ctx/kernel.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>

#include "allocator/base/check.h"

namespace reentry::ctx {
namespace {

struct ContextNames {
  const char* lower;
  const char* upper;
};
constexpr ContextNames kContextNames[] = {
#define REENTRY_CONTEXT_NAME(e, lower, upper) {lower, upper},
    REENTRY_CONTEXT_KINDS(REENTRY_CONTEXT_NAME)
#undef REENTRY_CONTEXT_NAME
};

constexpr const char* kWaitNames[] = {
#define REENTRY_WAIT_NAME(e, s) s,
    REENTRY_WAIT_TYPES(REENTRY_WAIT_NAME)
#undef REENTRY_WAIT_NAME
};

struct LockTypeInfo {
  const char* name;
  const char* family;
  WaitType wait;
};
constexpr LockTypeInfo kLockTypes[] = {
#define REENTRY_LOCK_TYPE_INFO(e, name, family, wait) \
  {name, family, WaitType::wait},
    REENTRY_LOCK_TYPES(REENTRY_LOCK_TYPE_INFO)
#undef REENTRY_LOCK_TYPE_INFO
};

constexpr const char* kEventNames[] = {
#define REENTRY_EVENT_NAME(e) #e + 1,
    REENTRY_EVENT_KINDS(REENTRY_EVENT_NAME)
#undef REENTRY_EVENT_NAME
};

struct PointInfo {
  const char* name;
  const char* description;
};
constexpr PointInfo kPoints[] = {
#define REENTRY_POINT_INFO(e, name, desc) {name, desc},
    REENTRY_INJECTION_POINTS(REENTRY_POINT_INFO)
#undef REENTRY_POINT_INFO
};

}  // namespace

const char* ContextName(ContextKind k) {
  return kContextNames[static_cast<int>(k)].lower;
}
const char* ContextUpperName(ContextKind k) {
  return kContextNames[static_cast<int>(k)].upper;
}
const char* WaitTypeName(WaitType w) { return kWaitNames[static_cast<int>(w)]; }
const char* LockTypeName(LockType t) {
  return kLockTypes[static_cast<int>(t)].name;
}
const char* LockFamilyName(LockType t) {
  return kLockTypes[static_cast<int>(t)].family;
}
WaitType LockTypeWaitType(LockType t) {
  return kLockTypes[static_cast<int>(t)].wait;
}
const char* EventKindName(EventKind k) {
  return kEventNames[static_cast<int>(k)];
}
const char* PointName(PointId p) { return kPoints[static_cast<int>(p)].name; }
const char* PointDescription(PointId p) {
  return kPoints[static_cast<int>(p)].description;
}
std::optional<PointId> ParsePointName(std::string_view name) {
  for (int i = 0; i < kNumPoints; ++i) {
    if (name == kPoints[i].name) return static_cast<PointId>(i);
  }
  return std::nullopt;
}

namespace internal {
__thread Cpu* tls_cpu = nullptr;
void NoCurrentCpu() {
  REENTRY_CHECK_MSG(tls_cpu != nullptr, "no current vCPU");
  __builtin_unreachable();
}
}  // namespace internal

// ---------------------------------------------------------------------------
// Cpu

bool Cpu::preemptible() const {
  if (!config().preempt_count) return false;
  return preempt_count_ == 0 && !irqs_disabled_;
}

void Cpu::Reset(Kernel* kernel, int id) {
  kernel_ = kernel;
  id_ = id;
  preempt_count_ = 0;
  preempt_depth_ = 0;
  migrate_depth_ = 0;
  bh_depth_ = 0;
  irqs_disabled_ = false;
  raw_held_ = 0;
  op_index_ = kNoOp;
  frames_.clear();
  frames_.push_back(Frame{});
  held_.clear();
  functions_.clear();
}

Event Cpu::MakeEvent(EventKind kind) const {
  Event e;
  e.kind = kind;
  e.cpu = static_cast<int8_t>(id_);
  e.depth = static_cast<uint8_t>(depth());
  e.context = context();
  e.irqs_disabled = irqs_disabled_;
  e.op_index = op_index_;
  e.function = current_function();
  return e;
}

void Cpu::EmitSlow(EventKind kind) { kernel_->Emit(*this, MakeEvent(kind)); }

Finding Cpu::MakeFinding(FindingKind kind, const char* function) const {
  Finding f;
  f.kind = kind;
  f.cpu = static_cast<int8_t>(id_);
  f.context = static_cast<uint8_t>(context());
  f.context_depth = static_cast<uint8_t>(depth());
  f.op_index = op_index_;
  f.function = function != nullptr ? function : current_function();
  f.context_name = ContextUpperName(context());
  return f;
}

void Cpu::Report(const Finding& f) { kernel_->Report(f); }

void Cpu::local_bh_disable() {
  // The softirq count is 8 bits of preempt_count: the kernel would carry
  // the 128th nesting into the hardirq count. Report it and stay put.
  if ((preempt_count_ & kSoftirqMask) + kSoftirqDisableOffset > kSoftirqMask)
      [[unlikely]] {
    ReportHere(FindingKind::kBhCountOverflow);
    return;
  }
  preempt_count_ += kSoftirqDisableOffset;
  ++bh_depth_;
  if (bh_depth_ == 1) Emit(EventKind::kSoftirqsOff);
}

void Cpu::local_bh_enable() {
  if (in_hardirq() || in_nmi()) {
    Finding f = MakeFinding(FindingKind::kBadBhEnable, nullptr);
    f.cause = reinterpret_cast<uintptr_t>(f.function);
    f.SetDetail("local_bh_enable() in hardirq or NMI context");
    Report(f);
  }
  if (bh_depth_ == 0) {
    ReportHere(FindingKind::kBhCountUnderflow);
    return;
  }
  --bh_depth_;
  preempt_count_ -= kSoftirqDisableOffset;
  CheckContextBits();
  if (bh_depth_ == 0) Emit(EventKind::kSoftirqsOn);
  if (!in_interrupt() && !irqs_disabled_) {
    if (Hooks* h = kernel_->hooks()) h->SoftirqsMayRun(*this);
  }
}

void Cpu::ReportHere(FindingKind kind) {
  Finding f = MakeFinding(kind, nullptr);
  f.cause = reinterpret_cast<uintptr_t>(f.function);
  Report(f);
}

void Cpu::rtlock_might_resched(const char* function) {
  MightResched(function, true);
}

// might_sleep()'s slow path (something to report or someone to tell), and
// rtlock_might_resched().
void Cpu::MightResched(const char* function, bool rtlock) {
  // __might_resched(): the kernel can only see what preempt_count records.
  uint32_t count = preempt_count_;
  if (rtlock) count &= ~kSoftirqMask;
  const bool atomic_by_count = count != 0 || irqs_disabled_;
  if (atomic_by_count) {
    Finding f = MakeFinding(FindingKind::kSleepInAtomic, function);
    f.cause = reinterpret_cast<uintptr_t>(f.function);
    char detail[sizeof(f.detail)];
    snprintf(detail, sizeof(detail),
             "in_atomic(): %d, irqs_disabled(): %d, preempt_count: %#x",
             in_atomic() ? 1 : 0, irqs_disabled_ ? 1 : 0, preempt_count_);
    f.SetDetail(detail);
    Report(f);
  }
  if (kernel_->observed()) {
    Event e = MakeEvent(EventKind::kMightSleep);
    e.function = function;
    if (atomic_by_count) e.flags |= kEvAtomicByCount;
    if (rtlock) e.flags |= kEvRtlock;
    kernel_->Emit(*this, e);
  }
}

bool Cpu::CanEnter(ContextKind k) const {
  if (frames_.full()) return false;
  switch (k) {
    case ContextKind::kTask:
      return false;
    case ContextKind::kSoftirq:
      // No softirq inside hardirq, NMI or another softirq, nor while bh or
      // irqs are disabled.
      return !in_interrupt() && !irqs_disabled_;
    case ContextKind::kHardirq:
      return !irqs_disabled_ && !in_nmi();
    case ContextKind::kNmi:
      return !in_nmi();
    default:
      return false;
  }
}

void Cpu::EnterContext(ContextKind k) {
  REENTRY_CHECK_MSG(CanEnter(k), "context nesting rule violated by caller");
  Frame f;
  f.kind = k;
  f.preempt_count_at_entry = preempt_count_;
  f.preempt_depth_at_entry = preempt_depth_;
  f.bh_depth_at_entry = bh_depth_;
  f.irqs_disabled_at_entry = irqs_disabled_;
  f.held_at_entry = static_cast<uint16_t>(held_.size());
  frames_.push_back(f);
  switch (k) {
    case ContextKind::kSoftirq:
      preempt_count_ += kSoftirqOffset;
      break;
    case ContextKind::kHardirq:
      preempt_count_ += kHardirqOffset;
      irqs_disabled_ = true;  // the CPU masks interrupts on entry
      break;
    case ContextKind::kNmi:
      preempt_count_ += kNmiOffset + kHardirqOffset;  // nmi_enter()
      irqs_disabled_ = true;
      break;
    default:
      break;
  }
  CheckContextBits();
  Emit(EventKind::kContextEnter);
}

void Cpu::LeaveFrameChecks(const Frame& fr) {
  const char* fn = current_function();
  for (size_t i = fr.held_at_entry; i < held_.size(); ++i) {
    if (held_[i].depth != depth()) continue;
    Finding f = MakeFinding(FindingKind::kLockHeldAtContextExit, fn);
    f.cause = held_[i].class_id;
    const LockClassInfo& c = kernel_->lock_class(held_[i].class_id);
    FindingLock& l = f.AddLock(c.name, LockRole::kHeld);
    l.class_id = held_[i].class_id;
    l.lock_type = static_cast<uint8_t>(held_[i].type);
    l.cpu = static_cast<int8_t>(id_);
    l.context = static_cast<uint8_t>(fr.kind);
    Report(f);
  }
  const uint32_t ctx_bits = kSoftirqOffset | kHardirqMask | kNmiMask;
  uint32_t expected = fr.preempt_count_at_entry;
  if (fr.kind == ContextKind::kSoftirq) expected += kSoftirqOffset;
  if (fr.kind == ContextKind::kHardirq) expected += kHardirqOffset;
  if (fr.kind == ContextKind::kNmi) expected += kNmiOffset + kHardirqOffset;
  if (preempt_count_ != expected ||
      preempt_depth_ != fr.preempt_depth_at_entry ||
      bh_depth_ != fr.bh_depth_at_entry) {
    Finding f = MakeFinding(FindingKind::kPreemptLeakAtContextExit, fn);
    f.cause = static_cast<uint64_t>(fr.kind);
    char detail[sizeof(f.detail)];
    snprintf(detail, sizeof(detail),
             "entered %s with preempt_count %08x, exited with %08x",
             ContextName(fr.kind), fr.preempt_count_at_entry & ~ctx_bits,
             preempt_count_ & ~ctx_bits);
    f.SetDetail(detail);
    Report(f);
    // The kernel restores the count (softirq: "huh, entered softirq").
    preempt_count_ = expected;
    preempt_depth_ = fr.preempt_depth_at_entry;
    bh_depth_ = fr.bh_depth_at_entry;
  }
  if ((fr.kind == ContextKind::kHardirq || fr.kind == ContextKind::kNmi) &&
      !irqs_disabled_) {
    Finding f = MakeFinding(FindingKind::kIrqsEnabledAtContextExit, fn);
    f.cause = static_cast<uint64_t>(fr.kind);
    Report(f);
  }
}

void Cpu::CheckContextBits() const {
  uint32_t want = 0;
  for (size_t i = 1; i < frames_.size(); ++i) {
    switch (frames_[i].kind) {
      case ContextKind::kSoftirq:
        want += kSoftirqOffset;
        break;
      case ContextKind::kHardirq:
        want += kHardirqOffset;
        break;
      case ContextKind::kNmi:
        want += kNmiOffset + kHardirqOffset;
        break;
      default:
        break;
    }
  }
  const uint32_t have =
      preempt_count_ & (kHardirqMask | kNmiMask | kSoftirqOffset);
  REENTRY_CHECK_MSG(have == want, "preempt_count context bits out of sync");
}

void Cpu::ExitContext() {
  REENTRY_CHECK_MSG(frames_.size() > 1, "ExitContext on task context");
  const Frame fr = frames_.back();
  LeaveFrameChecks(fr);
  Emit(EventKind::kContextExit);
  switch (fr.kind) {
    case ContextKind::kSoftirq:
      preempt_count_ -= kSoftirqOffset;
      break;
    case ContextKind::kHardirq:
      preempt_count_ -= kHardirqOffset;
      break;
    case ContextKind::kNmi:
      preempt_count_ -= kNmiOffset + kHardirqOffset;
      break;
    default:
      break;
  }
  // Interrupt return restores the interrupted frame's irq state.
  irqs_disabled_ = fr.irqs_disabled_at_entry;
  frames_.pop_back();
  CheckContextBits();
  if (fr.kind == ContextKind::kHardirq && !in_interrupt() && !irqs_disabled_) {
    if (Hooks* h = kernel_->hooks()) h->SoftirqsMayRun(*this);  // irq_exit()
  }
}

void Cpu::CheckReturnToUser() {
  REENTRY_CHECK(frames_.size() == 1);
  for (const HeldLock& h : held_) {
    Finding f = MakeFinding(FindingKind::kLockHeldReturningToUser, nullptr);
    f.cause = h.class_id;
    const LockClassInfo& c = kernel_->lock_class(h.class_id);
    FindingLock& l = f.AddLock(c.name, LockRole::kHeld);
    l.class_id = h.class_id;
    l.lock_type = static_cast<uint8_t>(h.type);
    l.cpu = static_cast<int8_t>(id_);
    Report(f);
  }
  if (irqs_disabled_) {
    Finding f = MakeFinding(FindingKind::kIrqsDisabledAtTaskExit, nullptr);
    Report(f);
  }
  if (preempt_depth_ != 0 || (preempt_count_ & kSoftirqMask) != 0) {
    Finding f = MakeFinding(FindingKind::kPreemptLeakAtContextExit, nullptr);
    f.cause = static_cast<uint64_t>(ContextKind::kTask);
    char detail[sizeof(f.detail)];
    snprintf(detail, sizeof(detail),
             "returning to user space with preempt_count %08x "
             "(preempt_disable depth %u, bh disable depth %u)",
             preempt_count_, preempt_depth_, bh_depth_);
    f.SetDetail(detail);
    Report(f);
  }
}

bool Cpu::PopHeldSlow(const void* lock) {
  for (size_t i = held_.size(); i-- > 0;) {
    if (held_[i].lock == lock) {
      held_.erase_at(i);
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Kernel

Kernel::Kernel(const Config& config) : config_(config) {
  if (!config_.smp) config_.nr_cpus = 1;
  REENTRY_CHECK_MSG(config_.nr_cpus >= 1 && config_.nr_cpus <= kMaxCpus,
                    "nr_cpus out of range");
  cpus_.reset(new Cpu[config_.nr_cpus]);
  for (int i = 0; i < config_.nr_cpus; ++i) cpus_[i].Reset(this, i);
  classes_.reserve(64);
  std::fill(std::begin(class_index_), std::end(class_index_), kNoClass);
}

void Kernel::AddObserver(Observer* o) {
  REENTRY_CHECK(nr_observers_ < 8);
  observers_[nr_observers_++] = o;
  interests_ |= o->interests();
}

void Kernel::RemoveObserver(Observer* o) {
  for (int i = 0; i < nr_observers_; ++i) {
    if (observers_[i] == o) {
      for (int j = i + 1; j < nr_observers_; ++j)
        observers_[j - 1] = observers_[j];
      --nr_observers_;
      interests_ = 0;
      for (int j = 0; j < nr_observers_; ++j) {
        interests_ |= observers_[j]->interests();
      }
      return;
    }
  }
}

LockClassId Kernel::RegisterLockClass(std::string_view name, LockType type,
                                      WaitType wait_override) {
  // The name as LockClassInfo stores it, so that a long name finds itself.
  name = LockClassName(name);
  const auto same = [&](LockClassId id) {
    return classes_[id].type == type && name == classes_[id].name;
  };
  uint32_t h = 2166136261u ^ static_cast<uint32_t>(type);  // FNV-1a
  for (const char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  size_t slot = h & (kClassIndexSize - 1);
  while (class_index_[slot] != kNoClass) {
    if (same(class_index_[slot])) return class_index_[slot];
    slot = (slot + 1) & (kClassIndexSize - 1);
  }
  const bool indexed = classes_.size() < kClassIndexSize / 2;
  if (!indexed) {
    for (size_t i = kClassIndexSize / 2; i < classes_.size(); ++i) {
      if (same(static_cast<LockClassId>(i))) return static_cast<LockClassId>(i);
    }
  }
  REENTRY_CHECK_MSG(classes_.size() < kNoClass, "too many lock classes");
  LockClassInfo info;
  memcpy(info.name, name.data(), name.size());
  info.name[name.size()] = '\0';
  info.type = type;
  info.wait = wait_override != WaitType::kWaitInv ? wait_override
                                                  : LockTypeWaitType(type);
  classes_.push_back(info);
  const auto id = static_cast<LockClassId>(classes_.size() - 1);
  if (indexed) class_index_[slot] = id;
  return id;
}

void Kernel::Report(const Finding& f) {
  if (!config_.concurrent) {
    if (findings_.Add(f)) reports_stored_.fetch_add(1);
    return;
  }
  thread_local bool in_report = false;
  if (in_report) {
    reports_dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  in_report = true;
  while (report_lock_.exchange(true, std::memory_order_acquire)) {
  }
  if (findings_.Add(f)) {
    reports_stored_.fetch_add(1, std::memory_order_release);
  }
  report_lock_.store(false, std::memory_order_release);
  in_report = false;
}

}  // namespace reentry::ctx
