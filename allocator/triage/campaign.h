// Campaign bookkeeping: crash inputs deduplicated by title into one folder
// each, written so that a campaign killed at any moment loses nothing it
// already reported (every file is written atomically, the input first).
//
//   <out>/findings/<slug>/
//     title          the title, one line (the dedup key)
//     input          the first crashing input (engine bytes)
//     program.txt    the program the target ran for it (text form)
//     report.txt     the kernel-shaped report(s)
//     minimized.txt  the minimized reproducer (once minimized)
//     report.md      the Markdown bug report (once minimized)
//     status         one line: state, hits, first/last seen, reliability
//     inputs/        up to 16 more inputs with the same title
//   <out>/triaged.list   engine artifacts already triaged (for resume)
#ifndef REENTRY_ALLOCATOR_TRIAGE_CAMPAIGN_H_
#define REENTRY_ALLOCATOR_TRIAGE_CAMPAIGN_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "allocator/triage/isolate.h"

namespace reentry::triage {

struct FindingEntry {
  std::string title;
  std::string slug;
  std::string dir;
  int hits = 0;
  std::string first_seen;
  std::string last_seen;
  std::string state = "NEW";   // NEW, MINIMIZED, UNMINIMIZED
  std::string note;            // "6 ops, reproduces 10/10"
};

class FindingStore {
 public:
  // root: the campaign output directory.
  explicit FindingStore(std::string root);

  // Creates the directories and loads existing findings (resume).
  bool Open(std::string* error);

  enum class Outcome { kNew, kDuplicate };
  // Records input under each crash title of t. Returns, per title, whether
  // it is new. origin: where the input came from (for the status line).
  bool Record(const std::string& input, const Triaged& t,
              std::vector<std::pair<std::string, Outcome>>* outcomes,
              std::string* error);

  // Stores the minimized reproducer and the Markdown report of a title.
  bool SetMinimized(const std::string& title, const std::string& minimized,
                    const std::string& report_md, const std::string& note,
                    bool ok, std::string* error);

  const std::vector<FindingEntry>& entries() const { return entries_; }
  const FindingEntry* Find(const std::string& title) const;
  std::string findings_dir() const { return root_ + "/findings"; }

  // Engine artifacts already triaged.
  bool Seen(const std::string& key) const { return seen_.count(key) != 0; }
  bool MarkSeen(const std::string& key, std::string* error);

 private:
  bool WriteStatus(const FindingEntry& e, std::string* error);
  FindingEntry* FindMutable(const std::string& title);

  std::string root_;
  std::vector<FindingEntry> entries_;
  std::set<std::string> seen_;
};

// "2025-06-01T12:34:56Z" (UTC).
std::string UtcTimestamp();

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_CAMPAIGN_H_
