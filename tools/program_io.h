// Loading programs with a forced or detected format, for commands that take
// --format (the file primitives live in allocator/triage/files.h).
#ifndef REENTRY_TOOLS_PROGRAM_IO_H_
#define REENTRY_TOOLS_PROGRAM_IO_H_

#include <optional>
#include <string>

#include "allocator/prog/program.h"

namespace reentry::tools {

enum class Format { kAuto, kText, kBinary };

// "auto", "text", "binary"; nullopt on anything else.
std::optional<Format> ParseFormat(const std::string& s);

// kAuto: text when every byte is printable (parse errors name
// path:line:column), else binary (decoding never fails). A forced format
// reads the file as that format.
bool LoadProgram(const std::string& path, Format format, prog::Program* out,
                 std::string* error);

}  // namespace reentry::tools

#endif  // REENTRY_TOOLS_PROGRAM_IO_H_
