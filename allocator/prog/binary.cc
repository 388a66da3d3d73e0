#include "allocator/prog/binary.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <type_traits>

#include "allocator/base/check.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/validate.h"

namespace reentry::prog {
namespace {

static_assert(kNumBugs <= 32, "the bug mask is 4 bytes");
static_assert(kNumOpCodes <= 256 && ctx::kNumPoints <= 256 &&
                  ctx::kNumLockTypes <= 256,
              "one byte each");
static_assert(kMaxOps < 65536, "body length is 2 bytes");

constexpr const char* kClassNames[] = {
    // Kernel lock classes, as lockdep names them.
    "&zone->lock", "&pcp->lock", "&port->lock", "zonelist_update_seq",
    "&pgdat->kswapd_wait", "fs_reclaim", "&krcp->lock", "pool_lock",
    "&cma->alloc_mutex", "memcg_stock.lock", "console_owner", "&rq->__lock",
    "&p->pi_lock", "&n->list_lock", "&lock->wait_lock", "rcu_node_0",
    // Test classes.
    "A", "B", "C", "D", "E", "F", "G", "H"};
constexpr int kNumClassNames = std::size(kClassNames);

// A string field's first byte: < 0x80 names a default, otherwise a literal
// of ((b & 0x7f) % max_len) + 1 bytes follows.
constexpr uint8_t kLiteral = 0x80;

// Replacement characters for bytes outside a charset: b -> table[b % size].
constexpr std::string_view kIdentStartChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
constexpr std::string_view kIdentChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_0123456789";
constexpr auto kClassCharTable = [] {
  std::array<char, 93> table{};
  int n = 0;
  for (int c = 0x20; c <= 0x7e; ++c) {
    if (IsClassNameChar(static_cast<char>(c)))
      table[n++] = static_cast<char>(c);
  }
  return table;
}();
constexpr std::string_view kClassChars(kClassCharTable.data(),
                                       kClassCharTable.size());

// The three interrupt kinds, by byte % 3.
constexpr ctx::ContextKind kInterruptKinds[] = {ctx::ContextKind::kSoftirq,
                                                ctx::ContextKind::kHardirq,
                                                ctx::ContextKind::kNmi};

// ============================== Bytes ==============================

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool AtEnd() const { return pos_ >= size_; }
  size_t Remaining() const { return pos_ < size_ ? size_ - pos_ : 0; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t Le(int bytes) {
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint32_t{Byte()} << (8 * i);
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  void Byte(uint32_t b) { out_.push_back(static_cast<char>(b & 0xff)); }
  void Le(uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) Byte(v >> (8 * i));
  }
  void Bytes(std::string_view s) { out_ += s; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// ========================= Header pieces =========================

enum ConfigBits : uint8_t {
  kPreemptRt = 1 << 0,
  kNoPreemptCount = 1 << 1,
  kNoSmp = 1 << 2,
  kNoProveRawLockNesting = 1 << 3,
  kNolockShift = 4,    // bits 4..5: NolockDesign index
  kPressureShift = 6,  // bits 6..7: mem_pressure
};

ctx::Config DecodeConfig(ByteReader& in) {
  const uint8_t flags = in.Byte();
  ctx::Config c;
  c.preempt_rt = flags & kPreemptRt;
  c.preempt_count = !(flags & kNoPreemptCount);
  c.smp = !(flags & kNoSmp);
  c.prove_raw_lock_nesting = !(flags & kNoProveRawLockNesting);
  c.nolock_design = static_cast<ctx::NolockDesign>(
      ((flags >> kNolockShift) & 3) % kNumNolockDesigns);
  c.mem_pressure = (flags >> kPressureShift) & 3;
  // 0 decodes to the default 2 cpus: b -> (b + 1) % 64 + 1.
  c.nr_cpus = (in.Byte() + 1) % ctx::kMaxCpus + 1;
  return c;
}

void EncodeConfig(const ctx::Config& c, ByteWriter& out) {
  uint8_t flags = 0;
  if (c.preempt_rt) flags |= kPreemptRt;
  if (!c.preempt_count) flags |= kNoPreemptCount;
  if (!c.smp) flags |= kNoSmp;
  if (!c.prove_raw_lock_nesting) flags |= kNoProveRawLockNesting;
  flags |= static_cast<uint8_t>(c.nolock_design) << kNolockShift;
  flags |= static_cast<uint8_t>(c.mem_pressure & 3) << kPressureShift;
  out.Byte(flags);
  out.Byte((c.nr_cpus + ctx::kMaxCpus - 2) % ctx::kMaxCpus);
}

char SanitizeChar(uint8_t b, bool (*ok)(char), std::string_view table) {
  const char c = static_cast<char>(b);
  return ok(c) ? c : table[b % table.size()];
}

// A literal string of ((first & 0x7f) % max_len) + 1 sanitized bytes.
std::string DecodeLiteral(ByteReader& in, uint8_t first, int max_len,
                          bool ident) {
  const int len = (first & 0x7f) % max_len + 1;
  std::string s;
  for (int i = 0; i < len; ++i) {
    const uint8_t b = in.Byte();
    if (!ident) {
      s += SanitizeChar(b, IsClassNameChar, kClassChars);
    } else if (i == 0) {
      s += SanitizeChar(b, IsIdentStart, kIdentStartChars);
    } else {
      s += SanitizeChar(b, IsIdentChar, kIdentChars);
    }
  }
  return s;
}

void EncodeLiteral(std::string_view s, ByteWriter& out) {
  out.Byte(kLiteral | (s.size() - 1));
  out.Bytes(s);
}

// The decoded name, or if an earlier lock has it, the first free of
// DefaultLockName(i), "L<i>_1", "L<i>_2", ...
std::string UniqueLockName(std::string name, int i,
                           const std::vector<LockDecl>& earlier) {
  auto taken = [&](const std::string& n) {
    return std::any_of(earlier.begin(), earlier.end(),
                       [&](const LockDecl& d) { return d.name == n; });
  };
  if (!taken(name)) return name;
  name = DefaultLockName(i);
  for (int k = 1; taken(name); ++k) {
    name = "L" + std::to_string(i) + "_" + std::to_string(k);
  }
  return name;
}

LockDecl DecodeLock(ByteReader& in, int i,
                    const std::vector<LockDecl>& earlier) {
  LockDecl d;
  d.type = static_cast<ctx::LockType>(in.Byte() % ctx::kNumLockTypes);
  const uint8_t name = in.Byte();
  d.name = UniqueLockName(name < kLiteral
                              ? DefaultLockName(i)
                              : DecodeLiteral(in, name, kMaxLockNameLength,
                                              /*ident=*/true),
                          i, earlier);
  const uint8_t cls = in.Byte();
  d.class_name = cls < kLiteral ? kClassNames[cls % kNumClassNames]
                                : DecodeLiteral(in, cls, kMaxClassNameLength,
                                                /*ident=*/false);
  return d;
}

void EncodeLock(const LockDecl& d, int i, ByteWriter& out) {
  out.Byte(static_cast<uint8_t>(d.type));
  if (d.name == DefaultLockName(i)) {
    out.Byte(0);
  } else {
    EncodeLiteral(d.name, out);
  }
  const auto* it = std::find(std::begin(kClassNames), std::end(kClassNames),
                             std::string_view(d.class_name));
  if (it != std::end(kClassNames)) {
    out.Byte(static_cast<uint8_t>(it - std::begin(kClassNames)));
  } else {
    EncodeLiteral(d.class_name, out);
  }
}

// ========================= Field codecs =========================

// Fields stored as one byte holding an index into 0..Domain-1, equal to the
// field's value.
uint32_t Domain(CpuArg, const Program& p) { return p.config.nr_cpus; }
uint32_t Domain(LockArg, const Program& p) { return p.locks.size(); }
uint32_t Domain(SlotArg, const Program&) { return kMaxSlots; }
uint32_t Domain(OrderArg, const Program&) { return kMaxOrder + 1; }
uint32_t Domain(CountArg, const Program&) { return 256; }
uint32_t Domain(FlagArg, const Program&) { return 2; }

template <typename F>
concept ByteField = requires(F f, const Program& p) {
  Domain(f, p);
};

void DecodeField(ByteReader& in, GfpArg& f) { f.v = in.Le(4); }
void EncodeField(ByteWriter& out, GfpArg f) { out.Le(f.v, 4); }

// Point byte % kNumPoints, then nth - 1.
void DecodeField(ByteReader& in, PointArg& f) {
  f.v = static_cast<ctx::PointId>(in.Byte() % ctx::kNumPoints);
  f.nth = static_cast<uint8_t>(in.Byte() % 255 + 1);
}
void EncodeField(ByteWriter& out, PointArg f) {
  out.Byte(static_cast<uint8_t>(f.v));
  out.Byte(f.nth - 1);
}

// Decodes the fields of a plain op. A field whose domain is empty (a lock
// when none is declared) marks the op as skipped.
struct FieldDecoder {
  ByteReader& in;
  const Program& p;
  bool skip = false;

  void Result(SlotArg& f) { Arg(f); }
  template <typename F>
  void Arg(F& f) {
    if constexpr (ByteField<F>) {
      const uint8_t b = in.Byte();
      const uint32_t n = Domain(f, p);
      if (n == 0) {
        skip = true;
      } else {
        f.v = static_cast<decltype(f.v)>(b % n);
      }
    } else {
      DecodeField(in, f);
    }
  }
  // A default outside the field's range (__free_pages's "order it was
  // allocated with") takes one extra index, the last. A byte field's range
  // is its domain (CheckField's verdict, without building its message).
  template <typename F>
  void Optional(F& f, F def) {
    if constexpr (ByteField<F>) {
      if (def.v >= Domain(def, p)) {
        const uint32_t n = Domain(f, p);
        const uint32_t index = in.Byte() % (n + 1);
        f = def;
        if (index < n) f.v = static_cast<decltype(f.v)>(index);
        return;
      }
    }
    Arg(f);  // the default is an ordinary value
  }
};

struct FieldEncoder {
  ByteWriter& out;
  const Program& p;

  void Result(SlotArg f) { Arg(f); }
  template <typename F>
  void Arg(const F& f) {
    if constexpr (ByteField<F>) {
      out.Byte(static_cast<uint32_t>(f.v));
    } else {
      EncodeField(out, f);
    }
  }
  template <typename F>
  void Optional(const F& f, F def) {
    if constexpr (ByteField<F>) {
      if (def.v >= Domain(def, p)) {
        out.Byte(f == def ? Domain(f, p) : static_cast<uint32_t>(f.v));
        return;
      }
    }
    Arg(f);
  }
};

// ============================== Ops ==============================

class Decoder {
 public:
  Decoder(const uint8_t* data, size_t size) : in_(data, size) {}

  Program Run() {
    p_.config = DecodeConfig(in_);
    p_.bugs = BugSet::FromBits(in_.Le(4));
    const int locks = in_.Byte() % (kMaxLocks + 1);
    p_.locks.reserve(locks);
    for (int i = 0; i < locks; ++i) {
      p_.locks.push_back(DecodeLock(in_, i, p_.locks));
    }
    DecodeOps(p_.ops, 0, SIZE_MAX);
    return std::move(p_);
  }

 private:
  // Reads up to `records` op records into ops (fewer at end of input or at
  // kMaxOps).
  void DecodeOps(std::vector<Op>& ops, int depth, size_t records) {
    // Each record takes at least one byte: reserve for what can still come.
    ops.reserve(std::min(
        {records, in_.Remaining(), static_cast<size_t>(kMaxOps - ops_)}));
    for (size_t r = 0; r < records && !in_.AtEnd() && ops_ < kMaxOps; ++r) {
      Op op = MakeOp(in_.Byte() % kNumOpCodes);
      const bool keep =
          std::visit([&](auto& o) { return DecodeOp(o, depth); }, op.v);
      if (!keep) continue;
      ops.push_back(std::move(op));
      // An interrupt is counted before its body, in DecodeOp.
      if (!std::holds_alternative<Interrupt>(ops.back().v)) ++ops_;
    }
  }

  template <typename T>
  bool DecodeOp(T& op, int depth) {
    FieldDecoder fields{in_, p_};
    VisitFields(op, fields);
    if constexpr (std::is_same_v<T, SwitchCpu>) {
      if (depth > 0) return false;  // a body runs on the interrupted vCPU
    }
    if constexpr (std::is_same_v<T, Resume>) {
      if (depth > 0) return false;  // schedules between top-level ops
    }
    return !fields.skip;
  }

  // Lock byte, verb byte (an index into the verbs of the lock's type),
  // subclass byte (spin_lock_nested only).
  bool DecodeOp(LockCall& op, int depth) {
    const uint8_t lock = in_.Byte();
    const uint8_t verb = in_.Byte();
    const uint8_t subclass = in_.Byte();
    if (p_.locks.empty()) return false;
    op.lock.v = static_cast<uint8_t>(lock % p_.locks.size());
    const std::vector<LockVerb>& verbs = VerbsFor(p_.locks[op.lock.v].type);
    op.verb = verbs[verb % verbs.size()];
    op.subclass =
        op.verb == LockVerb::kSpinLockNested ? subclass % kMaxSubclasses : 0;
    return true;
  }

  // Kind byte, point (2 bytes), body length (2 bytes, little-endian), body.
  bool DecodeOp(Interrupt& op, int depth) {
    op.kind = kInterruptKinds[in_.Byte() % std::size(kInterruptKinds)];
    DecodeField(in_, op.at);
    const size_t records = in_.Le(2);
    // Too deep: drop the interrupt; its body records decode as siblings.
    if (depth + 1 > kMaxBodyDepth) return false;
    ++ops_;
    DecodeOps(op.body, depth + 1, records);
    return true;
  }

  ByteReader in_;
  Program p_;
  int ops_ = 0;
};

class Encoder {
 public:
  explicit Encoder(const Program& p) : p_(p) {}

  std::string Run() {
    EncodeConfig(p_.config, out_);
    out_.Le(static_cast<uint32_t>(p_.bugs.bits()), 4);
    out_.Byte(p_.locks.size());
    for (size_t i = 0; i < p_.locks.size(); ++i) {
      EncodeLock(p_.locks[i], static_cast<int>(i), out_);
    }
    EncodeOps(p_.ops);
    return out_.Take();
  }

 private:
  void EncodeOps(const std::vector<Op>& ops) {
    for (const Op& op : ops) {
      out_.Byte(op.code());
      std::visit([&](const auto& o) { EncodeOp(o); }, op.v);
    }
  }

  template <typename T>
  void EncodeOp(const T& op) {
    FieldEncoder fields{out_, p_};
    VisitFields(op, fields);
  }

  void EncodeOp(const LockCall& op) {
    const std::vector<LockVerb>& verbs = VerbsFor(p_.locks[op.lock.v].type);
    const auto verb = std::find(verbs.begin(), verbs.end(), op.verb);
    out_.Byte(op.lock.v);
    out_.Byte(static_cast<uint32_t>(verb - verbs.begin()));
    out_.Byte(op.subclass);
  }

  void EncodeOp(const Interrupt& op) {
    out_.Byte(static_cast<uint32_t>(op.kind) - 1);
    EncodeField(out_, op.at);
    out_.Le(static_cast<uint32_t>(op.body.size()), 2);
    EncodeOps(op.body);
  }

  const Program& p_;
  ByteWriter out_;
};

}  // namespace

Program DecodeProgram(const uint8_t* data, size_t size) {
  return Decoder(data, size).Run();
}

Program DecodeProgram(std::string_view bytes) {
  return DecodeProgram(reinterpret_cast<const uint8_t*>(bytes.data()),
                       bytes.size());
}

std::string EncodeProgram(const Program& p) {
  std::string error;
  REENTRY_CHECK_MSG(ValidateProgram(p, &error), error.c_str());
  return Encoder(p).Run();
}

std::string DefaultLockName(int index) {
  if (index < 26) return std::string(1, static_cast<char>('A' + index));
  return "L" + std::to_string(index);
}

std::span<const char* const> LockClassNameTable() { return kClassNames; }

}  // namespace reentry::prog
