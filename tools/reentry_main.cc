// reentry: finds reentrancy, lock-order and wrong-context bugs in a model of
// the Linux page allocator. `reentry help` lists the subcommands.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/command.h"

namespace {

void PrintHelp(FILE* out) {
  fprintf(out,
          "usage: reentry COMMAND [flags] [args]\n\n"
          "commands:\n");
  std::vector<reentry::tools::Command> cmds = reentry::tools::Commands();
  std::sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) {
    return strcmp(a.name, b.name) < 0;
  });
  for (const auto& c : cmds) fprintf(out, "  %-10s %s\n", c.name, c.summary);
  fprintf(out, "\n`reentry help COMMAND` shows a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  using reentry::tools::Commands;
  if (argc < 2) {
    PrintHelp(stderr);
    return reentry::tools::kExitUsage;
  }
  std::string name = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (name == "help" || name == "--help" || name == "-h") {
    if (!args.empty()) {
      for (const auto& c : Commands()) {
        if (args[0] == c.name) {
          printf("usage: reentry %s\n%s\n%s", c.synopsis, c.summary, c.help);
          return 0;
        }
      }
      fprintf(stderr, "reentry: unknown command '%s'\n", args[0].c_str());
      return reentry::tools::kExitUsage;
    }
    PrintHelp(stdout);
    return 0;
  }
  for (const auto& c : Commands()) {
    if (name != c.name) continue;
    // `reentry CMD --help`: flags after `--` belong to the fuzzing engine.
    for (const std::string& a : args) {
      if (a == "--") break;
      if (a == "--help" || a == "-h") {
        printf("usage: reentry %s\n%s\n%s", c.synopsis, c.summary, c.help);
        return 0;
      }
    }
    return c.run(args);
  }
  fprintf(stderr, "reentry: unknown command '%s'\n\n", name.c_str());
  PrintHelp(stderr);
  return reentry::tools::kExitUsage;
}
