#include "allocator/base/check.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace reentry {
namespace {

void WriteStr(const char* s) {
  if (s != nullptr) (void)!write(2, s, strlen(s));
}

}  // namespace

void CheckFailed(const char* file, int line, const char* cond,
                 const char* msg) {
  // write(2) only: this may run inside a signal handler.
  char num[16];
  int n = 0;
  char rev[16];
  unsigned v = static_cast<unsigned>(line);
  do {
    rev[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 15);
  for (int i = 0; i < n; ++i) num[i] = rev[n - 1 - i];
  num[n] = '\0';
  WriteStr("reentry: internal CHECK failed: ");
  WriteStr(file);
  WriteStr(":");
  WriteStr(num);
  WriteStr(": ");
  WriteStr(cond);
  if (msg != nullptr) {
    WriteStr(": ");
    WriteStr(msg);
  }
  WriteStr("\n");
  abort();
}

}  // namespace reentry
