// reentry decode / encode: convert programs between the binary form fuzzers
// use and the canonical text form.
#include <cstdio>

#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"
#include "allocator/triage/files.h"
#include "tools/cli_args.h"
#include "tools/command.h"
#include "tools/program_io.h"

namespace reentry::tools {
namespace {

int RunDecode(const std::vector<std::string>& argv);
int RunEncode(const std::vector<std::string>& argv);

const Command kDecode = {"decode", "decode [-o OUT | --out=OUT] FILE",
                         "print a binary (fuzzer) program as text",
                         "  --out=OUT  write the text to OUT (atomically)\n",
                         RunDecode};
const Command kEncode = {
    "encode", "encode --out=OUT FILE",
    "turn a text program into the binary form (a fuzzer seed)",
    "  --out=OUT  where to write the bytes (atomically); required\n",
    RunEncode};
REENTRY_COMMAND(decode, kDecode);
REENTRY_COMMAND(encode, kEncode);

std::vector<std::string> ExpandShortOut(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "-o" && i + 1 < argv.size()) {
      out.push_back("--out=" + argv[++i]);
    } else {
      out.push_back(argv[i]);
    }
  }
  return out;
}

int RunDecode(const std::vector<std::string>& argv) {
  Args args({"out"}, {});
  std::string error;
  if (!args.Parse(ExpandShortOut(argv), &error))
    return UsageError(kDecode, error);
  if (args.positional().size() != 1)
    return UsageError(kDecode, "need one FILE");
  prog::Program p;
  if (!LoadProgram(args.positional()[0], Format::kBinary, &p, &error)) {
    fprintf(stderr, "reentry decode: %s\n", error.c_str());
    return kExitUsage;
  }
  const std::string text = prog::ProgramToText(p);
  if (auto out = args.Get("out")) {
    if (!triage::WriteFileAtomically(*out, text, &error)) {
      fprintf(stderr, "reentry decode: %s\n", error.c_str());
      return kExitUsage;
    }
    return kExitOk;
  }
  fputs(text.c_str(), stdout);
  return kExitOk;
}

int RunEncode(const std::vector<std::string>& argv) {
  Args args({"out"}, {});
  std::string error;
  if (!args.Parse(ExpandShortOut(argv), &error))
    return UsageError(kEncode, error);
  if (args.positional().size() != 1)
    return UsageError(kEncode, "need one FILE");
  auto out = args.Get("out");
  if (!out)
    return UsageError(kEncode, "--out is required (the output is binary)");
  prog::Program p;
  if (!LoadProgram(args.positional()[0], Format::kText, &p, &error)) {
    fprintf(stderr, "reentry encode: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!triage::WriteFileAtomically(*out, prog::EncodeProgram(p), &error)) {
    fprintf(stderr, "reentry encode: %s\n", error.c_str());
    return kExitUsage;
  }
  return kExitOk;
}

}  // namespace
}  // namespace reentry::tools
