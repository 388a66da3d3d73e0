#include "tools/cli_args.h"

#include <cerrno>
#include <cstdlib>

namespace reentry::tools {

bool Args::Parse(const std::vector<std::string>& argv, std::string* error) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      for (++i; i < argv.size(); ++i) positional_.push_back(argv[i]);
      break;
    }
    if (a.size() < 3 || a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (bool_flags_.count(name)) {
      if (value && *value != "1" && *value != "true" && *value != "0" &&
          *value != "false") {
        *error = "--" + name + " takes no value (or true/false), got '" +
                 *value + "'";
        return false;
      }
      if (value && (*value == "0" || *value == "false")) {
        values_.erase(name);
      } else {
        values_[name] = "1";
      }
      continue;
    }
    if (!value_flags_.count(name)) {
      *error = "unknown flag --" + name;
      return false;
    }
    if (!value) {
      if (i + 1 >= argv.size()) {
        *error = "--" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    values_[name] = *value;
  }
  return true;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

bool Args::GetInt(const std::string& name, long lo, long hi, long* out,
                  std::string* error) const {
  auto v = Get(name);
  if (!v) return true;
  errno = 0;
  char* end = nullptr;
  long x = strtol(v->c_str(), &end, 10);
  if (errno != 0 || end == v->c_str() || *end != '\0' || x < lo || x > hi) {
    *error = "--" + name + " must be an integer in [" + std::to_string(lo) +
             ", " + std::to_string(hi) + "], got '" + *v + "'";
    return false;
  }
  *out = x;
  return true;
}

}  // namespace reentry::tools
