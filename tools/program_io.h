// Reading and writing programs in files: text or binary, detected or forced.
#ifndef REENTRY_TOOLS_PROGRAM_IO_H_
#define REENTRY_TOOLS_PROGRAM_IO_H_

#include <optional>
#include <string>

#include "allocator/prog/program.h"

namespace reentry::tools {

enum class Format { kAuto, kText, kBinary };

// "auto", "text", "binary"; nullopt on anything else.
std::optional<Format> ParseFormat(const std::string& s);

// Reads a whole file; false and *error ("cannot open X: reason") on failure.
bool ReadFile(const std::string& path, std::string* out, std::string* error);

// Writes data to path atomically (temporary file + rename), so a crash never
// leaves a half-written artifact.
bool WriteFileAtomic(const std::string& path, const std::string& data,
                     std::string* error);

// Text is detected when every byte is printable ASCII or whitespace; text is
// parsed (errors name path:line:column), anything else decoded as binary
// (which never fails).
bool LoadProgram(const std::string& path, Format format, prog::Program* out,
                 std::string* error);

}  // namespace reentry::tools

#endif  // REENTRY_TOOLS_PROGRAM_IO_H_
