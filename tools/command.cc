#include "tools/command.h"

#include <cstdio>

namespace reentry::tools {
namespace {

std::vector<Command>& Registry() {
  static std::vector<Command>* r = new std::vector<Command>();
  return *r;
}

}  // namespace

bool RegisterCommand(const Command& c) {
  Registry().push_back(c);
  return true;
}

const std::vector<Command>& Commands() { return Registry(); }

int UsageError(const Command& c, const std::string& message) {
  fprintf(stderr, "reentry %s: %s\nusage: reentry %s\n%s", c.name,
          message.c_str(), c.synopsis, c.help);
  return kExitUsage;
}

}  // namespace reentry::tools
