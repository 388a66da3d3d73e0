// File helpers for triage and campaigns: whole-file reads, atomic writes
// (a crash or kill never leaves a half-written artifact), directory
// listings, and loading a program from text or binary.
#ifndef REENTRY_ALLOCATOR_TRIAGE_FILES_H_
#define REENTRY_ALLOCATOR_TRIAGE_FILES_H_

#include <string>
#include <vector>

#include "allocator/prog/program.h"

namespace reentry::triage {

bool ReadWholeFile(const std::string& path, std::string* out,
                   std::string* error);

// Temporary file in the same directory + fsync + rename.
bool WriteFileAtomically(const std::string& path, const std::string& data,
                         std::string* error);

// mkdir -p.
bool MakeDirs(const std::string& path, std::string* error);
bool IsDirectory(const std::string& path);
bool PathExists(const std::string& path);

// Regular files directly in dir (not recursive), sorted by name; names that
// start with '.' are skipped. Empty if dir does not exist.
std::vector<std::string> ListFiles(const std::string& dir);

// Printable ASCII and whitespace only (and not empty).
bool LooksLikeText(const std::string& data);

// A program from a file: text when it looks like text (parse errors name
// path:line:column), else the binary form (which never fails). *bytes gets
// the binary form (the file itself, or the text encoded).
bool LoadProgramFile(const std::string& path, prog::Program* out,
                     std::string* bytes, std::string* error);

// "possible deadlock in rmqueue_bulk" -> "possible_deadlock_in_rmqueue_bulk",
// at most 80 characters, plus a short hash of the whole title so that
// distinct titles never share a folder.
std::string TitleSlug(const std::string& title);

// Stable 64-bit FNV-1a.
uint64_t Fnv1a(const std::string& s);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_FILES_H_
