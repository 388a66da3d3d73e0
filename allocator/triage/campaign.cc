#include "allocator/triage/campaign.h"

#include <dirent.h>
#include <time.h>

#include <algorithm>

#include <cstdio>
#include <sstream>

#include "allocator/triage/files.h"

namespace reentry::triage {
namespace {

constexpr int kMaxExtraInputs = 16;

std::string FirstLine(const std::string& s) {
  const size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// "STATE | hits=N | first=T | last=T | note"
void ParseStatus(const std::string& line, FindingEntry* e) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t bar = line.find(" | ", pos);
    if (bar == std::string::npos) bar = line.size();
    parts.push_back(line.substr(pos, bar - pos));
    pos = bar + 3;
  }
  if (!parts.empty() && !parts[0].empty()) e->state = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.rfind("hits=", 0) == 0) {
      e->hits = atoi(p.c_str() + 5);
    } else if (p.rfind("first=", 0) == 0) {
      e->first_seen = p.substr(6);
    } else if (p.rfind("last=", 0) == 0) {
      e->last_seen = p.substr(5);
    } else {
      e->note = p;
    }
  }
}

}  // namespace

std::string UtcTimestamp() {
  const time_t now = time(nullptr);
  tm t;
  gmtime_r(&now, &t);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

FindingStore::FindingStore(std::string root) : root_(std::move(root)) {}

bool FindingStore::Open(std::string* error) {
  if (!MakeDirs(findings_dir(), error)) return false;
  entries_.clear();
  // Every subdirectory with a title file is a finding.
  std::vector<std::string> dirs;
  if (DIR* d = opendir(findings_dir().c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      const std::string dir = findings_dir() + "/" + name;
      if (IsDirectory(dir)) dirs.push_back(name);
    }
    closedir(d);
  }
  std::sort(dirs.begin(), dirs.end());
  for (const std::string& slug : dirs) {
    const std::string dir = findings_dir() + "/" + slug;
    std::string title, status, ignored;
    if (!ReadWholeFile(dir + "/title", &title, &ignored)) continue;
    FindingEntry e;
    e.title = FirstLine(title);
    e.slug = slug;
    e.dir = dir;
    if (ReadWholeFile(dir + "/status", &status, &ignored)) {
      ParseStatus(FirstLine(status), &e);
    }
    if (e.hits == 0) e.hits = 1;
    entries_.push_back(std::move(e));
  }
  std::string list;
  std::string ignored;
  if (ReadWholeFile(root_ + "/triaged.list", &list, &ignored)) {
    std::istringstream in(list);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) seen_.insert(line);
    }
  }
  return true;
}

FindingEntry* FindingStore::FindMutable(const std::string& title) {
  for (FindingEntry& e : entries_) {
    if (e.title == title) return &e;
  }
  return nullptr;
}

const FindingEntry* FindingStore::Find(const std::string& title) const {
  for (const FindingEntry& e : entries_) {
    if (e.title == title) return &e;
  }
  return nullptr;
}

bool FindingStore::WriteStatus(const FindingEntry& e, std::string* error) {
  std::string line = e.state + " | hits=" + std::to_string(e.hits) +
                     " | first=" + e.first_seen + " | last=" + e.last_seen;
  if (!e.note.empty()) line += " | " + e.note;
  return WriteFileAtomically(e.dir + "/status", line + "\n", error);
}

bool FindingStore::Record(const std::string& input, const Triaged& t,
                          std::vector<std::pair<std::string, Outcome>>* outcomes,
                          std::string* error) {
  const std::string now = UtcTimestamp();
  for (const Problem& p : t.problems) {
    if (FindingEntry* e = FindMutable(p.title)) {
      e->hits++;
      e->last_seen = now;
      if (e->hits <= kMaxExtraInputs + 1) {
        char name[32];
        snprintf(name, sizeof(name), "%016llx",
                 static_cast<unsigned long long>(Fnv1a(input)));
        if (!MakeDirs(e->dir + "/inputs", error) ||
            !WriteFileAtomically(e->dir + "/inputs/" + name, input, error)) {
          return false;
        }
      }
      if (!WriteStatus(*e, error)) return false;
      outcomes->emplace_back(p.title, Outcome::kDuplicate);
      continue;
    }
    FindingEntry e;
    e.title = p.title;
    e.slug = TitleSlug(p.title);
    e.dir = findings_dir() + "/" + e.slug;
    e.hits = 1;
    e.first_seen = e.last_seen = now;
    e.state = "NEW";
    e.note = p.summary;
    // The input first: once it is on disk the finding cannot be lost.
    if (!MakeDirs(e.dir, error) ||
        !WriteFileAtomically(e.dir + "/input", input, error) ||
        !WriteFileAtomically(e.dir + "/title", p.title + "\n", error) ||
        !WriteFileAtomically(e.dir + "/program.txt", t.prepared_text, error) ||
        !WriteFileAtomically(
            e.dir + "/report.txt",
            t.reports.empty() ? p.summary + "\n" + t.child_stderr : t.reports,
            error) ||
        !WriteStatus(e, error)) {
      return false;
    }
    entries_.push_back(e);
    outcomes->emplace_back(p.title, Outcome::kNew);
  }
  return true;
}

bool FindingStore::SetMinimized(const std::string& title,
                                const std::string& minimized,
                                const std::string& report_md,
                                const std::string& note, bool ok,
                                std::string* error) {
  FindingEntry* e = FindMutable(title);
  if (e == nullptr) {
    *error = "no finding titled '" + title + "'";
    return false;
  }
  if (!minimized.empty() &&
      !WriteFileAtomically(e->dir + "/minimized.txt", minimized, error)) {
    return false;
  }
  if (!report_md.empty() &&
      !WriteFileAtomically(e->dir + "/report.md", report_md, error)) {
    return false;
  }
  e->state = ok ? "MINIMIZED" : "UNMINIMIZED";
  e->note = note;
  return WriteStatus(*e, error);
}

bool FindingStore::MarkSeen(const std::string& key, std::string* error) {
  if (!seen_.insert(key).second) return true;
  std::string list;
  for (const std::string& s : seen_) list += s + "\n";
  return WriteFileAtomically(root_ + "/triaged.list", list, error);
}

}  // namespace reentry::triage
