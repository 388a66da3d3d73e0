// The replay-only runner: a main() for builds without a fuzzing engine (the
// default g++ preset). It runs every file named on the command line, and
// every regular file in every directory named (sorted, not recursive,
// names starting with '.' skipped),
// through LLVMFuzzerTestOneInput, as libFuzzer does when given files. A
// crashing input aborts, as under the engines.
//
//   main_fuzzer [-runs=N ...ignored engine flags] [--repeat=N] PATH...
//
// Exit status: 0 all inputs ran, 2 a path could not be read.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
    __attribute__((weak));

namespace {

bool ListInputs(const std::string& path, std::vector<std::string>* out,
                std::string* error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *error = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    out->push_back(path);
    return true;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    *error = "cannot open directory " + path + ": " + strerror(errno);
    return false;
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name.empty() || name[0] == '.') continue;  // ., .., .stamp files
    const std::string full = path + "/" + name;
    struct stat fst;
    if (stat(full.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) {
      files.push_back(full);
    }
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  out->insert(out->end(), files.begin(), files.end());
  return true;
}

bool ReadAll(const std::string& path, std::string* data, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path + ": " + strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  *data = ss.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  const char* self = argc > 0 ? argv[0] : "fuzzer";
  int repeat = 1;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--repeat=", 0) == 0) {
      repeat = atoi(arg.c_str() + 9);
      if (repeat < 1 || repeat > 1000000) {
        fprintf(stderr, "%s: --repeat must be 1..1000000, got '%s'\n", self,
                arg.c_str() + 9);
        return 2;
      }
      continue;
    }
    if (!arg.empty() && arg[0] == '-') continue;  // engine flags
    std::string error;
    if (!ListInputs(arg, &inputs, &error)) {
      fprintf(stderr, "%s: %s\n", self, error.c_str());
      return 2;
    }
  }
  if (inputs.empty()) {
    fprintf(stderr,
            "%s: replay-only build (no fuzzing engine): give input files or "
            "directories to run\n",
            self);
    return 2;
  }
  for (const std::string& path : inputs) {
    std::string data, error;
    if (!ReadAll(path, &data, &error)) {
      fprintf(stderr, "%s: %s\n", self, error.c_str());
      return 2;
    }
    for (int r = 0; r < repeat; ++r) {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                             data.size());
    }
  }
  fprintf(stderr, "%s: replayed %zu input(s)%s, no crash\n", self,
          inputs.size(),
          repeat > 1 ? (" x" + std::to_string(repeat)).c_str() : "");
  return 0;
}
