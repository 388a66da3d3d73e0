#include "allocator/base/bug_zoo.h"

#include <cctype>

namespace reentry {
namespace {

struct BugInfo {
  const char* id;
  const char* description;
};

constexpr BugInfo kBugs[] = {
#define REENTRY_BUG_INFO(e, id, desc) {id, desc},
    REENTRY_BUG_ZOO(REENTRY_BUG_INFO)
#undef REENTRY_BUG_INFO
};

// "BZ-28a" -> "28a"; lower-cased.
std::string Normalize(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(tolower(c)));
  if (out.rfind("bz", 0) == 0) out.erase(0, 2);
  if (!out.empty() && out[0] == '-') out.erase(0, 1);
  while (out.size() > 1 && out[0] == '0' && isdigit(out[1])) out.erase(0, 1);
  return out;
}

}  // namespace

const char* BugIdName(BugId b) { return kBugs[static_cast<int>(b)].id; }
const char* BugDescription(BugId b) {
  return kBugs[static_cast<int>(b)].description;
}

std::optional<BugId> ParseBugId(std::string_view s) {
  const std::string want = Normalize(s);
  if (want.empty()) return std::nullopt;
  for (int i = 0; i < kNumBugs; ++i) {
    if (Normalize(kBugs[i].id) == want) return static_cast<BugId>(i);
  }
  return std::nullopt;
}

std::optional<BugSet> ParseBugList(std::string_view s, std::string* error) {
  BugSet set;
  if (s.empty() || s == "none") return set;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view item = s.substr(pos, end - pos);
    while (!item.empty() && isspace(static_cast<unsigned char>(item.front())))
      item.remove_prefix(1);
    while (!item.empty() && isspace(static_cast<unsigned char>(item.back())))
      item.remove_suffix(1);
    if (!item.empty()) {
      std::optional<BugId> id = ParseBugId(item);
      if (!id) {
        if (error) {
          *error = "unknown bug-zoo id '" + std::string(item) +
                   "' (see `reentry bugs`)";
        }
        return std::nullopt;
      }
      set.set(*id);
    }
    pos = end + 1;
  }
  return set;
}

std::string BugSetToString(BugSet s) {
  std::string out;
  for (int i = 0; i < kNumBugs; ++i) {
    if (!s.has(static_cast<BugId>(i))) continue;
    if (!out.empty()) out += ",";
    out += kBugs[i].id;
  }
  return out.empty() ? "none" : out;
}

}  // namespace reentry
