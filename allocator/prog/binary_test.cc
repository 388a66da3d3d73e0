#include "allocator/prog/binary.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "allocator/base/rng.h"
#include "allocator/prog/fields.h"
#include "allocator/prog/oracle.h"
#include "allocator/prog/test_programs.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"

namespace reentry::prog {
namespace {

using testing::AllOpsProgram;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    if (hex[i] == ' ') {
      --i;
      continue;
    }
    out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  }
  return out;
}

void Oracle(std::string_view bytes) {
  ProgramRoundTripOracle(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
}

Program MustParse(std::string_view text) {
  ParseError error;
  std::optional<Program> p = ParseProgram(text, &error);
  EXPECT_TRUE(p.has_value()) << error.ToString();
  return p.value_or(Program{});
}

// A header with default config, no bugs and the given lock type bytes.
std::string Header(std::initializer_list<uint8_t> lock_types = {}) {
  std::string h(6, '\0');
  h += static_cast<char>(lock_types.size());
  for (uint8_t t : lock_types) h += std::string{static_cast<char>(t), 0, 0};
  return h;
}

// ---------------------------- Golden tests ----------------------------
// These pin the binary format: fuzz corpora are stored in it. If one fails,
// the change invalidates corpora; make it append-only instead (see
// docs/program-format.md, "Compatibility").

TEST(ProgBinaryGoldenTest, EmptyInputIsTheDefaultProgram) {
  EXPECT_EQ(DecodeProgram(nullptr, 0), Program{});
  EXPECT_EQ(DecodeProgram(""), Program{});
  EXPECT_EQ(Hex(EncodeProgram(Program{})), "00000000000000");
}

// Every value is in range, so appending ops, points, verbs, lock types or
// class names does not change this decoding.
constexpr const char kGoldenInput[] =
    "11 02 05000000 03"               // config, cpus, bugs, 3 locks
    "01 00 00"                        // A spinlock_t "&zone->lock"
    "07 81 6d31 87 266d2d3e6c6f636b"  // m1 mutex "&m->lock"
    "00 80 31 11"                     // x raw_spinlock_t "B"
    "00 03"                           // cpu(3)
    "0e 00 01 0b"                     // spin_lock_nested(A, 3)
    "0e 04 01 09"                     // mutex_unlock(m1)
    "0f 05 c00c0000 0e"               // p5 = alloc_pages(GFP_KERNEL, 3)
    "10 05 0b"                        // __free_pages(p5)
    "10 25 02"                        // __free_pages(p5, 2)
    "0c 01 04 01 0200"                // hardirq(rmqueue_bulk:..., 2) {
    "  11 01 00000000 00"             //   p1 = alloc_pages_nolock(0, 0)
    "  00 01"                         //   cpu(1): dropped in a body
    "14 02 03"                        // pin_user_pages(p2, longterm)
    "0d 00 00"                        // pause()
    "0d 04 ff"                        // pause(rmqueue_bulk:zone_locked)
    "21 01"                           // register_shrinker(m1)
    "23"                              // memalloc_nofs_restore()
    "03"                              // local_irq_save()
    "13 07";                          // p7 = alloc_pages_bulk(0, 0)

constexpr const char kGoldenText[] = R"(config(cpus=4, preempt_rt=1, nolock=v2)
bugs(BZ-01, BZ-08)
lock(A, spinlock_t, "&zone->lock")
lock(m1, mutex, "&m->lock")
lock(x, raw_spinlock_t, "B")
cpu(3)
spin_lock_nested(A, 3)
mutex_unlock(m1)
p5 = alloc_pages(GFP_KERNEL, 3)
__free_pages(p5)
__free_pages(p5, 2)
hardirq(rmqueue_bulk:zone_locked, 2) {
  p1 = alloc_pages_nolock(0, 0)
}
pin_user_pages(p2, longterm)
pause()
pause(rmqueue_bulk:zone_locked)
register_shrinker(m1)
memalloc_nofs_restore()
local_irq_save()
p7 = alloc_pages_bulk(0, 0)
)";

TEST(ProgBinaryGoldenTest, DecodesFixedBytes) {
  EXPECT_EQ(ProgramToText(DecodeProgram(Unhex(kGoldenInput))), kGoldenText);
}

TEST(ProgBinaryGoldenTest, EncodesFixedProgram) {
  // The canonical bytes of the program above: wrapped values reduced, the
  // dropped op gone, the missing bytes written.
  EXPECT_EQ(Hex(EncodeProgram(MustParse(kGoldenText))),
            "11020500000003"
            "010000"
            "07816d3187266d2d3e6c6f636b"
            "00807811"
            "0003"
            "0e000103"
            "0e010100"
            "0f05c00c000003"
            "10050b"
            "100502"
            "0c0104010100"
            "110100000000"
            "00"
            "140201"
            "0d0000"
            "0d0400"
            "2101"
            "23"
            "03"
            "130700000000"
            "00");
}

TEST(ProgBinaryGoldenTest, EncodesEveryOp) {
  EXPECT_EQ(Hex(EncodeProgram(AllOpsProgram())),
            // config(cpus=3), no bugs, 4 locks
            "00010000000004"
            "010000"    // A spinlock_t &zone->lock
            "00805201"  // R raw_spinlock_t &pcp->lock
            "07804d97"
            "266d2d3e6c6f636b"  // M mutex "&m->lock # not ..."
            "2023206e6f74206120636f6d6d656e74"
            "06805303"                // S seqlock_t
            "0002"                    // cpu(2)
            "0102030405060708090a0b"  // context ops
            "0c0103010300"            // hardirq(pcp_locked, 2) {
            "0e010000"                //   raw_spin_lock(R)
            "0c0204000100"            //   nmi(zone_locked) {
            "110100000000"
            "00"            //     p1 = alloc_pages_nolock
            "0c0000000000"  //   softirq() {}
            "0d0902"        // pause(free_one_page, 3)
            "0e000101"      // spin_lock_nested(A, 1)
            "0f03c00d0000"
            "02"      // alloc_pages(GFP_KERNEL|ZERO)
            "100302"  // __free_pages(p3, 2)
            "10030b"  // __free_pages(p3)
            "110400004000"
            "00"    // alloc_pages_nolock(ACCOUNT)
            "1204"  // free_pages_nolock(p4)
            "130520080000"
            "08"  // alloc_pages_bulk(ATOMIC, 8)
            "140501"
            "140600"
            "1505"      // pin, pin, unpin
            "16171819"  // zonelists .. drain_local
            "1a01"      // cpu_offline(1)
            "1b0300"    // fail_page_alloc(3, 0)
            "1c0704"
            "1d07"        // cma_alloc, cma_release
            "1e1f20"      // kvfree_rcu, printk, kswapd
            "2102"        // register_shrinker(M)
            "2223"        // memalloc_nofs_*
            "240401"      // pause_again(rmqueue_bulk:zone_locked, 2)
            "250902"      // resume(free_one_page:zone_locked, 3)
            "250000"      // resume()
            "0000"        // cpu(0)
            "0e020000"    // mutex_lock(M)
            "0e030200");  // write_seqlock_irqsave(S)
}

// ----------------------------- Round trips -----------------------------

TEST(ProgBinaryTest, EveryOpRoundTrips) {
  const Program all = AllOpsProgram();
  EXPECT_EQ(DecodeProgram(EncodeProgram(all)), all);
  for (const Op& op : all.ops) {
    Program p = all;
    p.ops = {op};
    SCOPED_TRACE(OpName(op));
    EXPECT_EQ(DecodeProgram(EncodeProgram(p)), p);
  }
}

TEST(ProgBinaryTest, EveryVerbOnEveryTypeRoundTrips) {
  Program p;
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    p.locks.push_back(
        {DefaultLockName(t), static_cast<ctx::LockType>(t), "&l->lock"});
    for (LockVerb verb : VerbsFor(static_cast<ctx::LockType>(t))) {
      const uint8_t subclass = verb == LockVerb::kSpinLockNested ? 7 : 0;
      p.ops.push_back(LockCall{verb, {static_cast<uint8_t>(t)}, subclass});
    }
  }
  EXPECT_EQ(DecodeProgram(EncodeProgram(p)), p);
}

TEST(ProgBinaryTest, EdgeValuesRoundTrip) {
  Program p;
  p.config.nr_cpus = 64;
  p.config.preempt_count = false;
  p.config.smp = false;
  p.config.prove_raw_lock_nesting = false;
  p.config.mem_pressure = ctx::kMaxMemPressure;
  p.bugs = BugSet::FromBits(~uint64_t{0});
  for (int i = 0; i < kMaxLocks; ++i) {
    // Alternate default names, literal names and a name that is another
    // index's default.
    const std::string name = i % 3 == 0 ? DefaultLockName(i)
                             : i % 3 == 1
                                 ? std::string(kMaxLockNameLength, 'a' + i % 26)
                                 : DefaultLockName(i + 100);
    p.locks.push_back({name, ctx::LockType::kLockdepMap,
                       i % 2 ? std::string(kMaxClassNameLength, '~')
                             : std::string(" !#$%&'()*+,-./:;<=>?@[]^_`{|}")});
  }
  p.ops = {SwitchCpu{{63}}, AllocPages{{31}, {0xffffffffu}, {kMaxOrder}},
           Pause{{static_cast<ctx::PointId>(ctx::kNumPoints - 1), 255}},
           FailPageAlloc{{255}, {255}}};
  std::string why;
  ASSERT_TRUE(ValidateProgram(p, &why)) << why;
  EXPECT_EQ(DecodeProgram(EncodeProgram(p)), p);
}

TEST(ProgBinaryTest, DeepAndLongBodiesRoundTrip) {
  Program p;
  std::vector<Op>* ops = &p.ops;
  for (int depth = 0; depth < kMaxBodyDepth; ++depth) {
    ops->push_back(Interrupt{ctx::ContextKind::kNmi, {}, {}});
    ops = &std::get<Interrupt>(ops->back().v).body;
  }
  ops->assign(kMaxOps - kMaxBodyDepth, Op(Printk{}));  // > 255: 2-byte length
  EXPECT_EQ(DecodeProgram(EncodeProgram(p)), p);
}

// ------------------------------ Totality ------------------------------

TEST(ProgBinaryTotalityTest, AllSingleBytes) {
  for (int b = 0; b < 256; ++b) Oracle(std::string(1, static_cast<char>(b)));
}

TEST(ProgBinaryTotalityTest, EveryOpCodeWithMissingAndMaximalFields) {
  for (int b = 0; b < 256; ++b) {
    for (const std::string& header :
         {Header(), Header({1, 7, 8}), Header({0, 1, 2, 3, 4, 5, 6, 7, 8})}) {
      const std::string op(1, static_cast<char>(b));
      Oracle(header + op);
      Oracle(header + op + std::string(16, '\xff'));
      Oracle(header + op + std::string(16, '\x7f'));
    }
  }
}

TEST(ProgBinaryTotalityTest, TenThousandRandomInputs) {
  Rng rng(20250101);
  for (int i = 0; i < 10000; ++i) {
    std::string bytes(rng.Below(400), '\0');
    for (char& c : bytes) c = static_cast<char>(rng.Next());
    Oracle(bytes);
  }
}

TEST(ProgBinaryTotalityTest, RandomOpStreams) {
  // Random headers spend most bytes on lock declarations; these keep the
  // header small so the random bytes land on ops, bodies and lock verbs.
  Rng rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string bytes = Header({static_cast<uint8_t>(rng.Below(9)),
                                static_cast<uint8_t>(rng.Below(9))});
    bytes[1] = static_cast<char>(rng.Below(4));
    const size_t n = rng.Below(300);
    for (size_t j = 0; j < n; ++j) {
      // Small bytes keep interrupt bodies short and op codes in range.
      bytes += static_cast<char>(rng.OneIn(3) ? rng.Next() : rng.Below(40));
    }
    Oracle(bytes);
  }
}

TEST(ProgBinaryTotalityTest, LargeInputStaysBounded) {
  std::string bytes = Header();
  while (bytes.size() < (1 << 20)) bytes += static_cast<char>(31);  // printk
  const Program p = DecodeProgram(bytes);
  EXPECT_EQ(p.ops.size(), static_cast<size_t>(kMaxOps));
  Oracle(bytes);
  // Nested interrupts whose bodies claim 65535 records stop at kMaxOps too.
  std::string nested = Header();
  for (int i = 0; i < kMaxBodyDepth; ++i) nested += Unhex("0c 02 00 00 ffff");
  nested += std::string(1 << 20, static_cast<char>(31));
  EXPECT_EQ(CountOps(DecodeProgram(nested).ops), static_cast<size_t>(kMaxOps));
  Oracle(nested);
}

// ------------------------- Decoding rules -------------------------

TEST(ProgBinaryDecodeTest, ConfigByteAndCpus) {
  const Program p = DecodeProgram(Unhex("1f 3f"));
  EXPECT_TRUE(p.config.preempt_rt);
  EXPECT_FALSE(p.config.preempt_count);
  EXPECT_FALSE(p.config.smp);
  EXPECT_FALSE(p.config.prove_raw_lock_nesting);
  EXPECT_EQ(p.config.nolock_design, ctx::NolockDesign::kV2Trylock);
  EXPECT_EQ(p.config.nr_cpus, 1);  // 0x3f: (63 + 1) % 64 + 1
  EXPECT_EQ(DecodeProgram(Unhex("00 3e")).config.nr_cpus, 64);
  EXPECT_EQ(DecodeProgram(Unhex("00 40")).config.nr_cpus, 2);  // wraps
  // Bits 4-5 hold the design index modulo the number of designs.
  EXPECT_EQ(DecodeProgram(Unhex("20")).config.nolock_design,
            ctx::NolockDesign::kFinal);
  EXPECT_EQ(DecodeProgram(Unhex("30")).config.nolock_design,
            ctx::NolockDesign::kV2Trylock);
  // Bits 6-7: memory pressure 0..3.
  EXPECT_EQ(DecodeProgram(Unhex("1f")).config.mem_pressure, 0);
  EXPECT_EQ(DecodeProgram(Unhex("40")).config.mem_pressure, 1);
  EXPECT_EQ(DecodeProgram(Unhex("c0")).config.mem_pressure, 3);
}

TEST(ProgBinaryDecodeTest, BugMaskIgnoresUnknownBits) {
  const Program p = DecodeProgram(Unhex("00 00 ffffffff"));
  EXPECT_EQ(p.bugs.bits(), (uint64_t{1} << kNumBugs) - 1);
}

TEST(ProgBinaryDecodeTest, LockNamesAreSanitizedAndUnique) {
  // Lock 0 literal "9a-" -> first char mapped into [A-Za-z_], '-' into
  // [A-Za-z0-9_]; lock 1 literal "A" collides with nothing; lock 2 default
  // name "C"; lock 3 literal "A" collides with lock 1 and becomes "D".
  const Program p =
      DecodeProgram(Unhex("0000 00000000 04"
                          "00 82 39612d 00"
                          "00 80 41 00"
                          "00 00 00"
                          "00 80 41 00"));
  ASSERT_EQ(p.locks.size(), 4u);
  EXPECT_EQ(p.locks[0].name,
            std::string(1,
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "abcdefghijklmnopqrstuvwxyz_"[0x39 % 53]) +
                "a" +
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                "nopqrstuvwxyz_0123456789"[0x2d % 63]);
  EXPECT_EQ(p.locks[1].name, "A");
  EXPECT_EQ(p.locks[2].name, "C");
  EXPECT_EQ(p.locks[3].name, "D");
  // And when the default is taken too: lock 1 "B" literal, lock 2 literal
  // "B" -> default "C"? No: lock 0 is literal "C", so lock 2 -> "L2_1".
  const Program q =
      DecodeProgram(Unhex("0000 00000000 03"
                          "00 80 43 00"
                          "00 80 42 00"
                          "00 80 42 00"));
  EXPECT_EQ(q.locks[2].name, "L2_1");
  Oracle(Unhex("0000 00000000 03 00 80 43 00 00 80 42 00 00 80 42 00"));
}

TEST(ProgBinaryDecodeTest, ClassNamesAreSanitizedAndTableIndexed) {
  const Program p =
      DecodeProgram(Unhex("0000 00000000 03"
                          "00 00 82 22 5c 0a"  // '"', '\\', '\n' replaced
                          "00 00 7f"           // table index 127 % size
                          "00 00 ff"));  // 64 bytes, all missing: 64 x table[0]
  const std::string_view table =
      " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
      "abcdefghijklmnopqrstuvwxyz{|}~";
  ASSERT_EQ(table.size(), 93u);
  const std::string sanitized = {table[0x22 % 93], table[0x5c % 93],
                                 table[0x0a % 93]};
  EXPECT_EQ(p.locks[0].class_name, sanitized);
  EXPECT_EQ(p.locks[1].class_name,
            LockClassNameTable()[0x7f % LockClassNameTable().size()]);
  EXPECT_EQ(p.locks[2].class_name, std::string(64, ' '));
}

TEST(ProgBinaryDecodeTest, LockOpsWithoutLocksAreSkipped) {
  // spin_lock-shaped record, register_shrinker, then printk.
  const Program p = DecodeProgram(Header() + Unhex("0e 00 00 00 21 00 1f"));
  ASSERT_EQ(p.ops.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Printk>(p.ops[0].v));
}

TEST(ProgBinaryDecodeTest, VerbsMapOntoTheLocksType) {
  // The same verb byte on each lock type gives a verb of that type.
  for (int t = 0; t < ctx::kNumLockTypes; ++t) {
    for (int verb = 0; verb < 256; verb += 17) {
      const Program p =
          DecodeProgram(Header({static_cast<uint8_t>(t)}) + Unhex("0e 00") +
                        std::string{static_cast<char>(verb), '\x0f'});
      ASSERT_EQ(p.ops.size(), 1u);
      const auto& call = std::get<LockCall>(p.ops[0].v);
      const auto& verbs = VerbsFor(static_cast<ctx::LockType>(t));
      EXPECT_EQ(call.verb, verbs[verb % verbs.size()]);
      EXPECT_EQ(call.subclass,
                call.verb == LockVerb::kSpinLockNested ? 0x0f % 8 : 0);
    }
  }
}

TEST(ProgBinaryDecodeTest, FieldsWrap) {
  const Program p = DecodeProgram(Unhex("00 01") + std::string(4, '\0') +
                                  Unhex("00") +              // 3 cpus
                                  Unhex("00 05"              // cpu(5 % 3)
                                        "0f 41 00000000 0c"  // slot, order
                                        "10 41 17"           // 23 % 12
                                        "10 41 0b"           // 11: default
                                        "14 41 02"           // flag 2 % 2
                                        "0d 00 fe"));        // nth 255
  EXPECT_EQ(ProgramToText(p),
            "config(cpus=3)\n"
            "cpu(2)\n"
            "p1 = alloc_pages(0, 1)\n"
            "__free_pages(p1)\n"
            "__free_pages(p1)\n"
            "pin_user_pages(p1)\n"
            "pause(none, 255)\n");
  EXPECT_EQ(std::get<FreePages>(p.ops[2].v).order.v, FreePages::kSlotOrder);
}

TEST(ProgBinaryDecodeTest, OpCodesAndPointsWrap) {
  const Program p =
      DecodeProgram(Header() + std::string{static_cast<char>(kNumOpCodes + 31),
                                           13, ctx::kNumPoints + 3, 0});
  EXPECT_EQ(ProgramToText(p), "printk()\npause(rmqueue_pcplist:pcp_locked)\n");
}

TEST(ProgBinaryDecodeTest, SwitchCpuInsideBodyIsDropped) {
  const Program p =
      DecodeProgram(Header() + Unhex("0c 01 00 00 0200  00 01  1f  00 01"));
  EXPECT_EQ(ProgramToText(p), "hardirq() {\n  printk()\n}\ncpu(1)\n");
}

TEST(ProgBinaryDecodeTest, BodiesEndAtEndOfInput) {
  const Program p = DecodeProgram(Header() + Unhex("0c 02 00 00 ffff 1f 1e"));
  EXPECT_EQ(ProgramToText(p), "nmi() {\n  printk()\n  kvfree_rcu()\n}\n");
}

TEST(ProgBinaryDecodeTest, ResumeInsideABodyIsDropped) {
  // nmi() { resume(rmqueue_bulk:zone_locked); pause_again(...) }, resume()
  const std::string bytes =
      Header() + Unhex("0c 02 00 00 0200  25 04 00  24 04 01  25 00 00");
  EXPECT_EQ(ProgramToText(DecodeProgram(bytes)),
            "nmi() {\n  pause_again(rmqueue_bulk:zone_locked, 2)\n}\n"
            "resume()\n");
  Oracle(bytes);
}

TEST(ProgBinaryDecodeTest, InterruptsTooDeepAreDroppedAndTheirBodiesFlattened) {
  // Four hardirqs nest; the innermost body has two records: a fifth hardirq
  // (dropped, its one-record body becomes the next sibling) and printk.
  std::string bytes = Header();
  for (int i = 1; i < kMaxBodyDepth; ++i) bytes += Unhex("0c 01 00 00 0100");
  bytes += Unhex("0c 01 00 00 0200  0c 01 00 00 0100  1f");
  EXPECT_EQ(ProgramToText(DecodeProgram(bytes)),
            "hardirq() {\n"
            "  hardirq() {\n"
            "    hardirq() {\n"
            "      hardirq() {\n"
            "        printk()\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
  Oracle(bytes);
}

TEST(ProgBinaryDecodeTest, ClassNameTableIsUniqueAndValid) {
  std::set<std::string_view> seen;
  for (const char* name : LockClassNameTable()) {
    EXPECT_FALSE(CheckClassName(name).has_value()) << name;
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  for (int i = 0; i < kMaxLocks; ++i) {
    EXPECT_FALSE(CheckLockName(DefaultLockName(i)).has_value());
  }
  EXPECT_EQ(DefaultLockName(0), "A");
  EXPECT_EQ(DefaultLockName(25), "Z");
  EXPECT_EQ(DefaultLockName(26), "L26");
}

}  // namespace
}  // namespace reentry::prog
