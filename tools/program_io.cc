#include "tools/program_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"

namespace reentry::tools {

std::optional<Format> ParseFormat(const std::string& s) {
  if (s == "auto") return Format::kAuto;
  if (s == "text") return Format::kText;
  if (s == "binary") return Format::kBinary;
  return std::nullopt;
}

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = "cannot read " + path;
    return false;
  }
  *out = ss.str();
  return true;
}

bool WriteFileAtomic(const std::string& path, const std::string& data,
                     std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = "cannot write " + tmp + ": " + strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    *error = "cannot flush " + tmp + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

namespace {

bool LooksLikeText(const std::string& data) {
  for (unsigned char c : data) {
    if (c == '\n' || c == '\t' || c == '\r') continue;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

bool LoadProgram(const std::string& path, Format format, prog::Program* out,
                 std::string* error) {
  std::string data;
  if (!ReadFile(path, &data, error)) return false;
  if (format == Format::kAuto) {
    format = LooksLikeText(data) && !data.empty() ? Format::kText
                                                  : Format::kBinary;
  }
  if (format == Format::kBinary) {
    *out = prog::DecodeProgram(reinterpret_cast<const uint8_t*>(data.data()),
                               data.size());
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
