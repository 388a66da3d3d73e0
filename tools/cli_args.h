// A small argument parser for `reentry` subcommands: --name=value,
// --name value, boolean --name, and positional arguments. Unknown or
// malformed flags are usage errors (exit status 2 with a message).
#ifndef REENTRY_TOOLS_CLI_ARGS_H_
#define REENTRY_TOOLS_CLI_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace reentry::tools {

class Args {
 public:
  // value_flags take a value; bool_flags do not.
  Args(std::set<std::string> value_flags, std::set<std::string> bool_flags)
      : value_flags_(std::move(value_flags)), bool_flags_(std::move(bool_flags)) {}

  // Returns false and sets *error on a usage error.
  bool Parse(const std::vector<std::string>& argv, std::string* error);

  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::optional<std::string> Get(const std::string& name) const;
  // Parses an integer flag in [lo, hi]; false and *error on a bad value.
  bool GetInt(const std::string& name, long lo, long hi, long* out,
              std::string* error) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::set<std::string> value_flags_;
  std::set<std::string> bool_flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

}  // namespace reentry::tools

#endif  // REENTRY_TOOLS_CLI_ARGS_H_
