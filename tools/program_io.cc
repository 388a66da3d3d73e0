#include "tools/program_io.h"

#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"
#include "allocator/triage/files.h"

namespace reentry::tools {

std::optional<Format> ParseFormat(const std::string& s) {
  if (s == "auto") return Format::kAuto;
  if (s == "text") return Format::kText;
  if (s == "binary") return Format::kBinary;
  return std::nullopt;
}

bool LoadProgram(const std::string& path, Format format, prog::Program* out,
                 std::string* error) {
  if (format == Format::kAuto) {
    std::string bytes;
    return triage::LoadProgramFile(path, out, &bytes, error);
  }
  std::string data;
  if (!triage::ReadWholeFile(path, &data, error)) return false;
  if (format == Format::kBinary) {
    *out = prog::DecodeProgram(data);
    return true;
  }
  prog::ParseError perr;
  std::optional<prog::Program> p = prog::ParseProgram(data, &perr);
  if (!p) {
    *error = path + ":" + perr.ToString();
    return false;
  }
  *out = std::move(*p);
  return true;
}

}  // namespace reentry::tools
