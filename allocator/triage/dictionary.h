// Fuzzing dictionaries (libFuzzer/AFL++ -dict format) for the targets,
// generated from the program binary form so they cannot drift from it: op
// records (with their usual arguments), gfp masks as 4-byte little-endian
// words, interrupts and pauses at every injection point, config headers,
// lock declarations and lock calls. corpora/<target>/<target>.dict holds the
// generated text; a test checks it is current.
#ifndef REENTRY_ALLOCATOR_TRIAGE_DICTIONARY_H_
#define REENTRY_ALLOCATOR_TRIAGE_DICTIONARY_H_

#include <string>
#include <utility>
#include <vector>

#include "allocator/triage/target_options.h"

namespace reentry::triage {

// (name, bytes) entries, unique bytes, in a fixed order.
std::vector<std::pair<std::string, std::string>> DictionaryEntries(
    TargetId target);

// The .dict file text: a comment header, then name="\xNN..." lines.
std::string DictionaryText(TargetId target);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_DICTIONARY_H_
