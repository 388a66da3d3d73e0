#include "allocator/triage/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "allocator/prog/binary.h"
#include "allocator/prog/text.h"

namespace reentry::triage {

bool ReadWholeFile(const std::string& path, std::string* out,
                   std::string* error) {
  if (IsDirectory(path)) {
    *error = path + " is a directory";
    return false;
  }
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

bool WriteFileAtomically(const std::string& path, const std::string& data,
                         std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
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

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool MakeDirs(const std::string& path, std::string* error) {
  if (path.empty() || IsDirectory(path)) return true;
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0 &&
      !MakeDirs(path.substr(0, slash), error)) {
    return false;
  }
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    *error = "cannot create directory " + path + ": " + strerror(errno);
    return false;
  }
  if (!IsDirectory(path)) {
    *error = path + " exists and is not a directory";
    return false;
  }
  return true;
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;
    const std::string full = dir + "/" + name;
    struct stat st;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      out.push_back(full);
    }
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool LooksLikeText(const std::string& data) {
  if (data.empty()) return false;
  for (unsigned char c : data) {
    if (c == '\n' || c == '\t' || c == '\r') continue;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool LoadProgramFile(const std::string& path, prog::Program* out,
                     std::string* bytes, std::string* error) {
  std::string data;
  if (!ReadWholeFile(path, &data, error)) return false;
  if (!LooksLikeText(data)) {
    *out = prog::DecodeProgram(data);
    if (bytes != nullptr) *bytes = std::move(data);
    return true;
  }
  prog::ParseError perr;
  std::optional<prog::Program> p = prog::ParseProgram(data, &perr);
  if (!p) {
    *error = path + ":" + perr.ToString();
    return false;
  }
  *out = std::move(*p);
  if (bytes != nullptr) *bytes = prog::EncodeProgram(*out);
  return true;
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string TitleSlug(const std::string& title) {
  std::string slug;
  for (char c : title) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (ok) {
      slug += c;
    } else if (!slug.empty() && slug.back() != '_') {
      slug += '_';
    }
    if (slug.size() >= 80) break;
  }
  while (!slug.empty() && slug.back() == '_') slug.pop_back();
  if (slug.empty()) slug = "finding";
  char hash[16];
  snprintf(hash, sizeof(hash), "%08x",
           static_cast<unsigned>(Fnv1a(title) & 0xffffffffu));
  return slug + "-" + hash;
}

}  // namespace reentry::triage
