#include "allocator/base/gfp.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace reentry {
namespace {

struct NamedMask {
  const char* name;
  gfp_t mask;
};

constexpr NamedMask kComposites[] = {
#define REENTRY_GFP_COMPOSITE(name, value) {name, value},
    REENTRY_GFP_COMPOSITES(REENTRY_GFP_COMPOSITE)
#undef REENTRY_GFP_COMPOSITE
};

constexpr NamedMask kBits[] = {
#define REENTRY_GFP_BIT(e, bit, name) {name, gfp_t{1} << bit},
    REENTRY_GFP_BITS(REENTRY_GFP_BIT)
#undef REENTRY_GFP_BIT
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string GfpToString(gfp_t g) {
  if (g == 0) return "0";
  std::string out;
  gfp_t rest = g;
  auto add = [&](const char* name) {
    if (!out.empty()) out += "|";
    out += name;
  };
  for (const NamedMask& c : kComposites) {
    if ((rest & c.mask) == c.mask && (g & c.mask) == c.mask &&
        (rest & c.mask) != 0) {
      add(c.name);
      rest &= ~c.mask;
    }
  }
  for (const NamedMask& b : kBits) {
    if (rest & b.mask) {
      add(b.name);
      rest &= ~b.mask;
    }
  }
  if (rest != 0) {
    char buf[16];
    snprintf(buf, sizeof(buf), "%#x", rest);
    add(buf);
  }
  return out;
}

std::optional<gfp_t> ParseGfp(std::string_view s, std::string* error) {
  gfp_t g = 0;
  size_t pos = 0;
  bool any = false;
  while (pos <= s.size()) {
    size_t end = s.find('|', pos);
    if (end == std::string_view::npos) end = s.size();
    std::string_view item = Trim(s.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) {
      if (error) *error = "empty gfp flag name";
      return std::nullopt;
    }
    any = true;
    if (isdigit(static_cast<unsigned char>(item[0]))) {
      std::string num(item);
      char* endp = nullptr;
      unsigned long v = strtoul(num.c_str(), &endp, 0);
      if (endp == nullptr || *endp != '\0' || v > 0xffffffffu) {
        if (error) *error = "bad gfp number '" + num + "'";
        return std::nullopt;
      }
      g |= static_cast<gfp_t>(v);
      continue;
    }
    bool found = false;
    for (const NamedMask& c : kComposites) {
      if (item == c.name) {
        g |= c.mask;
        found = true;
        break;
      }
    }
    for (const NamedMask& b : kBits) {
      if (!found && item == b.name) {
        g |= b.mask;
        found = true;
      }
    }
    if (!found) {
      if (error) *error = "unknown gfp flag '" + std::string(item) + "'";
      return std::nullopt;
    }
  }
  if (!any) {
    if (error) *error = "empty gfp mask";
    return std::nullopt;
  }
  return g;
}

}  // namespace reentry
