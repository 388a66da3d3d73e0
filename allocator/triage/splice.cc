#include "allocator/triage/splice.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "allocator/base/rng.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/validate.h"

namespace reentry::triage {
namespace {

using prog::Op;
using prog::Program;

// Rewrites the lock, slot and vCPU arguments of b's ops.
struct Remap {
  const std::vector<uint8_t>* locks;
  int slot_offset;
  int cpu_offset;
  int nr_cpus;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if constexpr (std::is_same_v<F, prog::LockArg>) {
      if (f.v < locks->size()) f.v = (*locks)[f.v];
    } else if constexpr (std::is_same_v<F, prog::SlotArg>) {
      f.v = static_cast<uint8_t>((f.v + slot_offset) % prog::kMaxSlots);
    } else if constexpr (std::is_same_v<F, prog::CpuArg>) {
      f.v = static_cast<uint8_t>((f.v + cpu_offset) % nr_cpus);
    }
  }
  template <typename F>
  void Optional(F& f, F) {
    Arg(f);
  }
};

void RemapOps(std::vector<Op>& ops, Remap& r) {
  for (Op& op : ops) {
    std::visit(
        [&](auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, prog::Interrupt>) {
            RemapOps(o.body, r);
          } else if constexpr (std::is_same_v<T, prog::LockCall>) {
            r.Arg(o.lock);
          } else {
            prog::VisitFields(o, r);
          }
        },
        op.v);
  }
}

// The highest page slot a program's ops name, or -1.
struct MaxSlot {
  int max = -1;
  template <typename F>
  void Result(F& f) {
    Arg(f);
  }
  template <typename F>
  void Arg(F& f) {
    if constexpr (std::is_same_v<F, prog::SlotArg>)
      max = std::max<int>(max, f.v);
  }
  template <typename F>
  void Optional(F& f, F) {
    Arg(f);
  }
};
void FindMaxSlot(const std::vector<Op>& ops, MaxSlot& m) {
  for (const Op& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, prog::Interrupt>) {
            FindMaxSlot(o.body, m);
          } else {
            prog::VisitFields(o, m);
          }
        },
        op.v);
  }
}

std::string UnusedLockName(const Program& p, const std::string& base) {
  auto taken = [&](const std::string& n) {
    for (const prog::LockDecl& d : p.locks) {
      if (d.name == n) return true;
    }
    return false;
  };
  if (!taken(base)) return base;
  for (int i = 0; i < prog::kMaxLocks * 2; ++i) {
    const std::string n = "L" + std::to_string(i);
    if (!taken(n)) return n;
  }
  return base;
}

}  // namespace

Program SpliceProgram(const Program& a, const Program& b, uint64_t seed) {
  Rng rng(seed);
  Program c = a;
  // b's locks: the same type and class is the same lock (a shared lock is
  // what a cycle between the two programs goes through).
  std::vector<uint8_t> lock_map(b.locks.size(), 0);
  for (size_t i = 0; i < b.locks.size(); ++i) {
    const prog::LockDecl& d = b.locks[i];
    const std::string& cls = d.class_name.empty() ? d.name : d.class_name;
    int found = -1;
    for (size_t j = 0; j < c.locks.size() && found < 0; ++j) {
      const prog::LockDecl& e = c.locks[j];
      if (e.type == d.type &&
          (e.class_name.empty() ? e.name : e.class_name) == cls) {
        found = static_cast<int>(j);
      }
    }
    if (found < 0) {
      if (static_cast<int>(c.locks.size()) >= prog::kMaxLocks) return a;
      prog::LockDecl n = d;
      n.name = UnusedLockName(c, d.name);
      c.locks.push_back(std::move(n));
      found = static_cast<int>(c.locks.size()) - 1;
    }
    lock_map[i] = static_cast<uint8_t>(found);
  }
  // On the same vCPUs (one path after the other), or shifted by one vCPU
  // (both paths on different CPUs).
  const bool shift = rng.Below(2) == 1;
  const int nr_cpus = std::min(
      64, std::max(a.config.nr_cpus, b.config.nr_cpus + (shift ? 1 : 0)));
  c.config.nr_cpus = std::max(1, nr_cpus);
  MaxSlot ms;
  FindMaxSlot(a.ops, ms);
  Remap r{&lock_map, ms.max + 1, shift ? 1 : 0, c.config.nr_cpus};
  std::vector<Op> ops = b.ops;
  RemapOps(ops, r);
  // b's ops start on its vCPU 0 (shifted) and a's continue on the vCPU they
  // were on, so the inserted run is framed by vCPU switches.
  ops.insert(ops.begin(),
             prog::SwitchCpu{{static_cast<uint8_t>(r.cpu_offset)}});
  const size_t at =
      rng.Below(3) == 0 ? rng.Below(a.ops.size() + 1) : a.ops.size();
  int cpu_at = 0;
  for (size_t i = 0; i < at; ++i) {
    if (const auto* s = std::get_if<prog::SwitchCpu>(&a.ops[i].v))
      cpu_at = s->cpu.v;
  }
  if (at < a.ops.size()) {
    ops.push_back(prog::SwitchCpu{{static_cast<uint8_t>(cpu_at)}});
  }
  c.ops.insert(c.ops.begin() + static_cast<long>(at), ops.begin(), ops.end());
  // The machine a path ran on is part of what it needs: BZ-11's cycle takes
  // a fallback that only fragmented memory (pressure=3) gives, from one
  // input, and an allocation under the scheduler's lock, from another. So
  // each configuration field comes from a or b, as the seed picks (drawn
  // last: the positions and vCPUs above stay what the seed gave before).
  if (rng.Below(2)) c.config.mem_pressure = b.config.mem_pressure;
  if (rng.Below(2)) {
    c.config.prove_raw_lock_nesting = b.config.prove_raw_lock_nesting;
  }
  if (rng.Below(2)) c.config.preempt_rt = b.config.preempt_rt;
  if (rng.Below(2)) c.config.preempt_count = b.config.preempt_count;
  if (rng.Below(2)) c.config.nolock_design = b.config.nolock_design;
  if (static_cast<int>(prog::CountOps(c.ops)) > prog::kMaxOps ||
      !prog::ValidateProgram(c, nullptr)) {
    return a;
  }
  return c;
}

size_t SpliceInputs(const uint8_t* a, size_t a_size, const uint8_t* b,
                    size_t b_size, uint8_t* out, size_t max_out,
                    unsigned int seed) {
  const Program pa = prog::DecodeProgram(a, a_size);
  Program pb = prog::DecodeProgram(b, b_size);
  while (true) {
    const Program c = SpliceProgram(pa, pb, seed);
    const std::string bytes = prog::EncodeProgram(c);
    if (bytes.size() <= max_out) {
      memcpy(out, bytes.data(), bytes.size());
      return bytes.size();
    }
    if (pb.ops.empty()) return 0;
    pb.ops.resize(pb.ops.size() / 2);
  }
}

}  // namespace reentry::triage
