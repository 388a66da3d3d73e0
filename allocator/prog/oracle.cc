#include "allocator/prog/oracle.h"

#include <optional>
#include <string>

#include "allocator/base/check.h"
#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"
#include "allocator/prog/validate.h"

namespace reentry::prog {
namespace {

void CheckText(const Program& p) {
  const std::string text = ProgramToText(p);
  ParseError error;
  const std::optional<Program> parsed = ParseProgram(text, &error);
  const std::string why = error.ToString();
  REENTRY_CHECK_MSG(parsed.has_value(), why.c_str());
  REENTRY_CHECK_MSG(*parsed == p, "text round trip changed the program");
  REENTRY_CHECK_MSG(ProgramToText(*parsed) == text, "text is not canonical");
}

void CheckBinary(const Program& p) {
  const std::string bytes = EncodeProgram(p);
  const Program decoded = DecodeProgram(bytes);
  REENTRY_CHECK_MSG(decoded == p, "binary round trip changed the program");
  REENTRY_CHECK_MSG(EncodeProgram(decoded) == bytes,
                    "binary encoding is not canonical");
}

}  // namespace

int ProgramRoundTripOracle(const uint8_t* data, size_t size) {
  const Program p = DecodeProgram(data, size);
  std::string error;
  const bool valid = ValidateProgram(p, &error);
  REENTRY_CHECK_MSG(valid, error.c_str());
  CheckText(p);
  CheckBinary(p);
  return 0;
}

}  // namespace reentry::prog
