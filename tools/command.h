// `reentry` subcommands register themselves here; each lives in its own
// cmd_<name>.cc. A command returns the process exit status: 0 nothing found
// / success, 1 something found, 2 usage error or bad input.
#ifndef REENTRY_TOOLS_COMMAND_H_
#define REENTRY_TOOLS_COMMAND_H_

#include <string>
#include <vector>

namespace reentry::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFound = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  const char* name;
  const char* synopsis;  // "repro [flags] FILE..."
  const char* summary;   // one line
  const char* help;      // flag descriptions
  int (*run)(const std::vector<std::string>& args);
};

// Registers at static-initialisation time; returns true.
bool RegisterCommand(const Command& c);
const std::vector<Command>& Commands();

// Prints "reentry NAME: message" and the synopsis to stderr; returns 2.
int UsageError(const Command& c, const std::string& message);

}  // namespace reentry::tools

#define REENTRY_COMMAND(var, ...) \
  static const bool var##_registered = ::reentry::tools::RegisterCommand({__VA_ARGS__})

#endif  // REENTRY_TOOLS_COMMAND_H_
