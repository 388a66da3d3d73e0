// The text parser: a lexer that keeps line and column, and a parser that
// reads plain ops' arguments through their Visit().
#include <array>
#include <charconv>
#include <cstdio>
#include <map>
#include <type_traits>
#include <vector>

#include "allocator/prog/fields.h"
#include "allocator/prog/text.h"

namespace reentry::prog {
namespace {

// ============================== Lexer ==============================

enum class Tok : uint8_t { kWord, kNumber, kString, kPunct, kNewline, kEnd };

struct Token {
  Tok kind;
  std::string_view text;  // for kString, the contents without quotes
  int line;
  int column;

  bool Is(char punct) const {
    return kind == Tok::kPunct && text.size() == 1 && text[0] == punct;
  }
};

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kNewline:
      return "end of line";
    case Tok::kEnd:
      return "end of input";
    case Tok::kString:
      return "string \"" + std::string(t.text) + "\"";
    default:
      return "'" + std::string(t.text) + "'";
  }
}

constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// Words also carry ':' (injection points) and '-' (bug ids: BZ-01).
constexpr bool IsWordChar(char c) {
  return IsIdentChar(c) || c == ':' || c == '-';
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // All tokens, ending in kEnd; false and *error on a bad character.
  bool Run(std::vector<Token>& tokens, ParseError& error) {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\r') {
        Advance(1);
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') Advance(1);
      } else if (c == '\n') {
        tokens.push_back(Take(Tok::kNewline, 1));
        ++line_;
        line_start_ = pos_;
      } else if (IsIdentStart(c)) {
        tokens.push_back(Take(Tok::kWord, SpanOf(IsWordChar)));
      } else if (IsDigit(c)) {
        tokens.push_back(Take(Tok::kNumber, SpanOf(IsIdentChar)));
      } else if (c == '"') {
        if (!LexString(tokens, error)) return false;
      } else if (std::string_view("(),=|{}").find(c) !=
                 std::string_view::npos) {
        tokens.push_back(Take(Tok::kPunct, 1));
      } else {
        error = {line_, Column(), BadCharMessage(c)};
        return false;
      }
    }
    tokens.push_back(Take(Tok::kEnd, 0));
    return true;
  }

 private:
  int Column() const { return static_cast<int>(pos_ - line_start_) + 1; }
  void Advance(size_t n) { pos_ += n; }

  size_t SpanOf(bool (*pred)(char)) const {
    size_t n = 1;
    while (pos_ + n < text_.size() && pred(text_[pos_ + n])) ++n;
    return n;
  }

  Token Take(Tok kind, size_t n) {
    Token t{kind, text_.substr(pos_, n), line_, Column()};
    Advance(n);
    return t;
  }

  bool LexString(std::vector<Token>& tokens, ParseError& error) {
    const size_t end = text_.find_first_of("\"\n", pos_ + 1);
    if (end == std::string_view::npos || text_[end] != '"') {
      error = {line_, Column(),
               "unterminated string: expected '\"' before end of line"};
      return false;
    }
    Token t{Tok::kString, text_.substr(pos_ + 1, end - pos_ - 1), line_,
            Column()};
    Advance(end + 1 - pos_);
    tokens.push_back(t);
    return true;
  }

  static std::string BadCharMessage(char c) {
    char buf[64];
    if (c > 0x20 && c < 0x7f) {
      snprintf(buf, sizeof(buf), "unexpected character '%c'", c);
    } else {
      snprintf(buf, sizeof(buf), "unexpected byte 0x%02x",
               static_cast<unsigned char>(c));
    }
    return buf;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
};

// ============================== Parser ==============================

// What an op name in text stands for.
struct OpKind {
  enum Which : uint8_t { kPlain, kVerb, kContext } which;
  int index;  // op code, LockVerb or ctx::ContextKind
};

const std::map<std::string_view, OpKind>& OpNames() {
  static const auto* const names = [] {
    auto* m = new std::map<std::string_view, OpKind>;
    ForEachOpType([&]<typename T>() {
      if constexpr (PlainOp<T>) {
        m->emplace(T::kName, OpKind{OpKind::kPlain, T::kCode});
      }
    });
    for (int v = 0; v < kNumLockVerbs; ++v) {
      m->emplace(LockVerbName(static_cast<LockVerb>(v)),
                 OpKind{OpKind::kVerb, v});
    }
    for (int k = 0; k < ctx::kNumContextKinds; ++k) {
      m->emplace(ctx::ContextName(static_cast<ctx::ContextKind>(k)),
                 OpKind{OpKind::kContext, k});
    }
    return m;
  }();
  return *names;
}

// What an argument of field type F is called in "expected ..." messages.
constexpr const char* FieldWhat(CpuArg) { return "cpu number"; }
constexpr const char* FieldWhat(LockArg) { return "lock name"; }
constexpr const char* FieldWhat(SlotArg) { return "page slot"; }
constexpr const char* FieldWhat(GfpArg) { return "gfp flags"; }
constexpr const char* FieldWhat(OrderArg) { return "order"; }
constexpr const char* FieldWhat(CountArg) { return "count"; }
constexpr const char* FieldWhat(FlagArg) { return "flag"; }
constexpr const char* FieldWhat(PointArg) { return "injection point"; }

// The value of a non-empty string of decimal digits, if at most 2^32-1.
std::optional<int64_t> DecimalValue(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != s.npos) {
    return std::nullopt;
  }
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || v > UINT32_MAX) return std::nullopt;
  return static_cast<int64_t>(v);
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {
    stack_.push_back({&program_.ops, nullptr});
  }

  std::optional<Program> Run(ParseError& error) {
    while (Peek().kind != Tok::kEnd) {
      if (!ParseStatement()) break;
    }
    if (!failed_ && stack_.size() > 1) {
      const Token& open = *stack_.back().opener;
      Fail(Peek(), "expected '}' to close " + std::string(open.text) +
                       "(...) { opened on line " + std::to_string(open.line));
    }
    if (failed_) {
      error = error_;
      return std::nullopt;
    }
    return std::move(program_);
  }

 private:
  enum class Stage : uint8_t { kStart, kConfig, kBugs, kLocks, kOps };

  struct Open {
    std::vector<Op>* ops;
    const Token* opener;  // the interrupt's name token; null at top level
  };

  // --- Tokens. ---

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool Fail(const Token& at, std::string message) {
    if (!failed_) error_ = {at.line, at.column, std::move(message)};
    failed_ = true;
    return false;
  }
  bool Expect(char punct, std::string_view context) {
    if (Peek().Is(punct)) {
      Next();
      return true;
    }
    return Fail(Peek(), "expected '" + std::string(1, punct) + "' " +
                            std::string(context) + ", got " + Describe(Peek()));
  }
  bool ExpectEndOfLine(std::string_view after) {
    const Token& t = Peek();
    if (t.kind == Tok::kNewline || t.kind == Tok::kEnd) {
      Next();
      return true;
    }
    return Fail(t, "expected end of line after " + std::string(after) +
                       ", got " + Describe(t));
  }
  // A decimal number token no larger than 2^32-1.
  bool Number(const char* what, int64_t& value) {
    const Token& t = Peek();
    std::optional<int64_t> v;
    if (t.kind == Tok::kNumber) v = DecimalValue(t.text);
    if (!v) {
      return Fail(t, std::string("expected ") + what + " (decimal), got " +
                         Describe(t));
    }
    Next();
    value = *v;
    return true;
  }
  bool Check(const Token& at, std::optional<std::string> error) {
    return error ? Fail(at, std::move(*error)) : true;
  }

  // --- Statements. ---

  bool ParseStatement() {
    const Token& t = Peek();
    if (t.kind == Tok::kNewline) {
      Next();
      return true;
    }
    if (t.Is('}')) return ParseClose();
    const Token* result = nullptr;
    if (t.kind == Tok::kWord && Peek(1).Is('=')) {
      result = &Next();
      Next();
    }
    const Token& name = Peek();
    if (name.kind != Tok::kWord) {
      return Fail(name,
                  "expected " +
                      std::string(result ? "an op" : "an op or a declaration") +
                      ", got " + Describe(name));
    }
    Next();
    if (name.text == "config" || name.text == "bugs" || name.text == "lock") {
      if (result) {
        return Fail(*result, std::string(name.text) + "(...) has no result");
      }
      return ParseHeader(name);
    }
    return ParseOp(name, result);
  }

  bool ParseClose() {
    const Token& brace = Next();
    if (stack_.size() == 1) {
      return Fail(brace, "unmatched '}': no interrupt body is open");
    }
    stack_.pop_back();
    return ExpectEndOfLine("'}'");
  }

  // --- Header: config, bugs, lock declarations. ---

  bool ParseHeader(const Token& name) {
    if (!EnterHeaderStage(name)) return false;
    if (!Expect('(', "after " + std::string(name.text))) return false;
    bool ok = name.text == "config" ? ParseConfigArgs()
              : name.text == "bugs" ? ParseBugArgs()
                                    : ParseLockArgs(name);
    return ok && ExpectEndOfLine("')'");
  }

  bool EnterHeaderStage(const Token& name) {
    const Stage want = name.text == "config" ? Stage::kConfig
                       : name.text == "bugs" ? Stage::kBugs
                                             : Stage::kLocks;
    if (stage_ == Stage::kOps) {
      return Fail(name, std::string(name.text) + "(...) must come before ops");
    }
    if (stage_ == want && want != Stage::kLocks) {
      return Fail(name, "duplicate " + std::string(name.text) + "(...) line");
    }
    if (stage_ > want) {
      return Fail(
          name, std::string(name.text) + "(...) must come before " +
                    (want == Stage::kConfig ? "bugs(...) and lock declarations"
                                            : "lock declarations"));
    }
    stage_ = want;
    return true;
  }

  // Parses "a, b, c)" calling item() on each; empty lists allowed.
  template <typename F>
  bool CommaList(const char* what, F item) {
    if (Peek().Is(')')) {
      Next();
      return true;
    }
    while (true) {
      if (!item()) return false;
      if (Peek().Is(')')) {
        Next();
        return true;
      }
      if (!Expect(',', std::string("or ')' after ") + what)) return false;
    }
  }

  bool ParseConfigArgs() {
    std::vector<std::string_view> seen;
    return CommaList("config value", [&] {
      const Token& key = Peek();
      if (key.kind != Tok::kWord) {
        return Fail(key, "expected a config key (" +
                             std::string(kConfigKeyList) + "), got " +
                             Describe(key));
      }
      for (std::string_view s : seen) {
        if (s == key.text) {
          return Fail(key,
                      "duplicate config key '" + std::string(key.text) + "'");
        }
      }
      seen.push_back(key.text);
      Next();
      return Expect('=', "after config key '" + std::string(key.text) + "'") &&
             ParseConfigValue(key);
    });
  }

  bool ParseConfigValue(const Token& key) {
    ctx::Config& c = program_.config;
    const Token& value = Peek();
    int64_t v = 0;
    if (key.text == "cpus") {
      if (!Number("cpu count", v)) return false;
      if (v < 1 || v > ctx::kMaxCpus) {
        return Fail(value, OutOfRange("cpus", v, 1, ctx::kMaxCpus));
      }
      c.nr_cpus = static_cast<int>(v);
      return true;
    }
    if (key.text == "pressure") {
      if (!Number("memory pressure", v)) return false;
      if (v < 0 || v > ctx::kMaxMemPressure) {
        return Fail(value, OutOfRange("pressure", v, 0, ctx::kMaxMemPressure));
      }
      c.mem_pressure = static_cast<int>(v);
      return true;
    }
    if (key.text == "nolock") {
      std::optional<ctx::NolockDesign> d;
      if (value.kind == Tok::kWord) d = ParseNolockDesign(value.text);
      if (!d) {
        return Fail(value, "expected nolock design 'final' or 'v2', got " +
                               Describe(value));
      }
      Next();
      c.nolock_design = *d;
      return true;
    }
    for (const ConfigBoolKey& b : ConfigBoolKeys()) {
      if (key.text != b.name) continue;
      if (value.kind != Tok::kNumber ||
          (value.text != "0" && value.text != "1")) {
        return Fail(value, "expected 0 or 1 for " + std::string(b.name) +
                               ", got " + Describe(value));
      }
      Next();
      c.*b.field = value.text == "1";
      return true;
    }
    return Fail(key, "unknown config key '" + std::string(key.text) +
                         "' (expected one of " + kConfigKeyList + ")");
  }

  bool ParseBugArgs() {
    return CommaList("bug id", [&] {
      const Token& t = Peek();
      std::optional<BugId> id;
      if (t.kind == Tok::kWord || t.kind == Tok::kNumber) {
        id = ParseBugId(t.text);
      }
      if (!id) {
        return Fail(t,
                    "expected a bug-zoo id like BZ-01 (see `reentry "
                    "bugs`), got " +
                        Describe(t));
      }
      Next();
      program_.bugs.set(*id);
      return true;
    });
  }

  bool ParseLockArgs(const Token& keyword) {
    LockDecl decl;
    const Token& name = Peek();
    if (name.kind != Tok::kWord) {
      return Fail(name, "expected lock name, got " + Describe(name));
    }
    if (!Check(name, CheckLockName(name.text))) return false;
    for (const LockDecl& other : program_.locks) {
      if (other.name == name.text) {
        return Fail(name, "duplicate lock name '" + other.name + "'");
      }
    }
    if (program_.locks.size() >= static_cast<size_t>(kMaxLocks)) {
      return Fail(keyword, "too many locks: at most " +
                               std::to_string(kMaxLocks) + " may be declared");
    }
    decl.name = std::string(Next().text);
    if (!Expect(',', "after lock name")) return false;
    const Token& type = Peek();
    std::optional<ctx::LockType> t;
    if (type.kind == Tok::kWord) t = ParseLockType(type.text);
    if (!t) {
      return Fail(type, "expected lock type (" + LockTypeList() + "), got " +
                            Describe(type));
    }
    decl.type = *t;
    Next();
    if (!Expect(',', "after lock type")) return false;
    const Token& cls = Peek();
    if (cls.kind != Tok::kString) {
      return Fail(cls, "expected lock class name in double quotes, got " +
                           Describe(cls));
    }
    if (!Check(cls, CheckClassName(cls.text))) return false;
    decl.class_name = std::string(Next().text);
    if (!Expect(')', "after lock class name")) return false;
    program_.locks.push_back(std::move(decl));
    return true;
  }

  // --- Ops. ---

  bool ParseOp(const Token& name, const Token* result) {
    const auto& names = OpNames();
    const auto it = names.find(name.text);
    if (it == names.end()) {
      return Fail(name, "unknown op '" + std::string(name.text) + "'");
    }
    stage_ = Stage::kOps;
    if (++op_count_ > kMaxOps) {
      return Fail(name, "too many ops: a program holds at most " +
                            std::to_string(kMaxOps));
    }
    const OpKind kind = it->second;
    if (kind.which != OpKind::kPlain && result) {
      return Fail(*result, std::string(name.text) + " returns no page");
    }
    switch (kind.which) {
      case OpKind::kVerb:
        return ParseLockCall(name, static_cast<LockVerb>(kind.index));
      case OpKind::kContext:
        return ParseInterrupt(name, static_cast<ctx::ContextKind>(kind.index));
      case OpKind::kPlain:
        break;
    }
    using PlainParser = bool (Parser::*)(const Token&, const Token*);
    static constexpr auto kParsers =
        []<size_t... I>(std::index_sequence<I...>) {
      return std::array<PlainParser, kNumOpCodes>{
          &Parser::ParsePlain<std::variant_alternative_t<I, OpVariant>>...};
    }
    (std::make_index_sequence<kNumOpCodes>());
    return (this->*kParsers[kind.index])(name, result);
  }

  void Append(Op op) { stack_.back().ops->push_back(std::move(op)); }

  // Reads the arguments of plain op T through its Visit().
  template <typename T>
  struct ArgParser {
    Parser& parser;
    const Token* result;
    int args = 0;
    const char* last = nullptr;  // what the last argument was
    bool ok = true;

    void Result(SlotArg& s) { ok = ok && parser.Slot(*result, s); }
    template <typename F>
    void Arg(F& f) {
      if (!ok) return;
      if constexpr (std::is_same_v<F, PointArg>) {
        if (args == 0 && parser.Peek().Is(')')) return;  // "hardirq()"
      }
      if (args > 0 && !parser.Expect(',', std::string("and ") + FieldWhat(f) +
                                              " after " + last)) {
        ok = false;
        return;
      }
      ok = parser.Field(f, FlagNameOf<T>());
      last = FieldWhat(f);
      ++args;
    }
    template <typename F>
    void Optional(F& f, F def) {
      if (ok && parser.Peek().Is(')')) {
        f = def;
        return;
      }
      Arg(f);
    }
  };

  template <typename T>
  bool ParsePlain(const Token& name, const Token* result) {
    const bool has_result = OpHasResult<T>();
    if (has_result && !result) {
      return Fail(name, std::string(T::kName) +
                            " returns a page: write 'pN = " + T::kName +
                            "(...)'");
    }
    if (!has_result && result) {
      return Fail(*result, std::string(T::kName) + " returns no page");
    }
    if (std::is_same_v<T, SwitchCpu> && stack_.size() > 1) {
      return Fail(name,
                  "cpu() is not allowed inside an interrupt body: a body "
                  "runs on the vCPU it interrupts");
    }
    if (std::is_same_v<T, Resume> && stack_.size() > 1) {
      return Fail(name,
                  "resume() is not allowed inside an interrupt body: it "
                  "schedules a vCPU between top-level ops");
    }
    if (!Expect('(', "after " + std::string(T::kName))) return false;
    T op;
    ArgParser<T> args{*this, result};
    VisitFields(op, args);
    if (!args.ok) return false;
    if (!CloseArgs(args.last)) return false;
    Append(std::move(op));
    return ExpectEndOfLine("')'");
  }

  bool CloseArgs(const char* last) {
    return Expect(')', last ? "after " + std::string(last) : "after '('");
  }

  bool ParseLockCall(const Token& name, LockVerb verb) {
    LockCall call;
    call.verb = verb;
    if (!Expect('(', "after " + std::string(name.text))) return false;
    const Token& lock = Peek();
    if (!Field(call.lock, nullptr)) return false;
    const LockDecl& decl = program_.locks[call.lock.v];
    if (!LockVerbApplies(verb, decl.type)) {
      return Fail(lock, WrongLockTypeMessage(verb, decl));
    }
    const char* last = "lock name";
    if (verb == LockVerb::kSpinLockNested) {
      if (!Expect(',', "and subclass after lock name")) return false;
      const Token& sub = Peek();
      int64_t v = 0;
      if (!Number("subclass", v)) return false;
      if (!Check(sub, CheckSubclassValue(v))) return false;
      call.subclass = static_cast<uint8_t>(v);
      last = "subclass";
    }
    if (!CloseArgs(last)) return false;
    Append(call);
    return ExpectEndOfLine("')'");
  }

  bool ParseInterrupt(const Token& name, ctx::ContextKind kind) {
    if (!IsInterruptKind(kind)) {
      return Fail(name, "interrupts of kind " + std::string(name.text) +
                            " are not allowed: use softirq, hardirq or nmi");
    }
    if (stack_.size() > static_cast<size_t>(kMaxBodyDepth)) {
      return Fail(name, "interrupts nested deeper than " +
                            std::to_string(kMaxBodyDepth));
    }
    Interrupt irq;
    irq.kind = kind;
    if (!Expect('(', "after " + std::string(name.text))) return false;
    const bool has_point = !Peek().Is(')');
    if (has_point && !Field(irq.at, nullptr)) return false;
    if (!CloseArgs(has_point ? "injection point" : nullptr)) return false;
    if (!Expect('{', "after " + std::string(name.text) +
                         "(...): an interrupt has a body")) {
      return false;
    }
    Append(std::move(irq));
    Interrupt& added = std::get<Interrupt>(stack_.back().ops->back().v);
    stack_.push_back({&added.body, &name});
    return ExpectEndOfLine("'{'");
  }

  // --- Fields. ---

  // "p3".
  bool Slot(const Token& t, SlotArg& s) {
    std::optional<int64_t> v;
    if (t.kind == Tok::kWord && t.text.size() >= 2 && t.text[0] == 'p') {
      v = DecimalValue(t.text.substr(1));
    }
    if (!v) {
      return Fail(t, "expected page slot (p0..p" +
                         std::to_string(kMaxSlots - 1) + "), got " +
                         Describe(t));
    }
    if (!Check(t, CheckSlotValue(*v))) return false;
    s.v = static_cast<uint8_t>(*v);
    return true;
  }

  bool Field(SlotArg& f, const char*) {
    const Token& t = Peek();
    if (!Slot(t, f)) return false;
    Next();
    return true;
  }

  bool Field(CpuArg& f, const char*) {
    const Token& t = Peek();
    int64_t v = 0;
    if (!Number("cpu number", v)) return false;
    if (!Check(t, CheckCpuValue(v, program_))) return false;
    f.v = static_cast<uint8_t>(v);
    return true;
  }

  bool Field(OrderArg& f, const char*) {
    const Token& t = Peek();
    int64_t v = 0;
    if (!Number("order", v)) return false;
    if (!Check(t, CheckOrderValue(v))) return false;
    f.v = static_cast<uint8_t>(v);
    return true;
  }

  bool Field(CountArg& f, const char*) {
    const Token& t = Peek();
    int64_t v = 0;
    if (!Number("count", v)) return false;
    if (!Check(t, CheckCountValue(v))) return false;
    f.v = static_cast<uint8_t>(v);
    return true;
  }

  bool Field(LockArg& f, const char*) {
    const Token& t = Peek();
    if (t.kind != Tok::kWord) {
      return Fail(t, "expected lock name, got " + Describe(t));
    }
    for (size_t i = 0; i < program_.locks.size(); ++i) {
      if (program_.locks[i].name == t.text) {
        f.v = static_cast<uint8_t>(i);
        Next();
        return true;
      }
    }
    return Fail(t, "unknown lock '" + std::string(t.text) +
                       "' (declare it: lock(" + std::string(t.text) +
                       ", type, \"class\"))");
  }

  // "GFP_KERNEL|__GFP_ZERO", "0", "0x200": items joined by '|'.
  bool Field(GfpArg& f, const char*) {
    gfp_t g = 0;
    while (true) {
      const Token& t = Peek();
      if (t.kind != Tok::kWord && t.kind != Tok::kNumber) {
        return Fail(t, "expected gfp flags (e.g. GFP_KERNEL|__GFP_ZERO), got " +
                           Describe(t));
      }
      std::string error;
      const std::optional<gfp_t> item = ParseGfp(t.text, &error);
      if (!item) return Fail(t, error);
      g |= *item;
      Next();
      if (!Peek().Is('|')) break;
      Next();
    }
    f.v = g;
    return true;
  }

  bool Field(FlagArg& f, const char* flag_name) {
    const Token& t = Peek();
    if (t.kind != Tok::kWord || flag_name == nullptr || t.text != flag_name) {
      return Fail(t, "expected '" + std::string(flag_name ? flag_name : "?") +
                         "', got " + Describe(t));
    }
    Next();
    f.v = true;
    return true;
  }

  bool Field(PointArg& f, const char*) {
    const Token& t = Peek();
    std::optional<ctx::PointId> id;
    if (t.kind == Tok::kWord) id = ctx::ParsePointName(t.text);
    if (!id) {
      return Fail(t,
                  (t.kind == Tok::kWord
                       ? "unknown injection point '" + std::string(t.text) + "'"
                       : "expected injection point, got " + Describe(t)) +
                      " (see `reentry points`)");
    }
    Next();
    f = PointArg{*id, 1};
    if (!Peek().Is(',') || Peek(1).kind != Tok::kNumber) return true;
    Next();
    const Token& nth = Peek();
    int64_t v = 0;
    if (!Number("nth arrival", v)) return false;
    if (!Check(nth, CheckNthValue(v))) return false;
    f.nth = static_cast<uint8_t>(v);
    return true;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  Program program_;
  std::vector<Open> stack_;
  Stage stage_ = Stage::kStart;
  int op_count_ = 0;
  bool failed_ = false;
  ParseError error_;
};

}  // namespace

std::optional<Program> ParseProgram(std::string_view text, ParseError* error) {
  ParseError local;
  ParseError& e = error ? *error : local;
  std::vector<Token> tokens;
  if (!Lexer(text).Run(tokens, e)) return std::nullopt;
  return Parser(std::move(tokens)).Run(e);
}

}  // namespace reentry::prog
