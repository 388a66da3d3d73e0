// The finding pipeline shared by `reentry fuzz`, `minimize` and `report`:
// minimize a crashing program, measure how reliably it reproduces, and write
// the Markdown report. Runs in a forked child, so a candidate that crashes
// the harness (or a sanitizer) costs only the child; then it retries with
// every candidate isolated.
#ifndef REENTRY_ALLOCATOR_TRIAGE_PIPELINE_H_
#define REENTRY_ALLOCATOR_TRIAGE_PIPELINE_H_

#include <string>

#include "allocator/triage/explain.h"
#include "allocator/triage/minimize.h"

namespace reentry::triage {

struct PipelineOptions {
  MinimizeOptions minimize;
  bool skip_minimize = false;
  int reliability_runs = 10;
  bool hard = false;              // the finding is a hard crash
  std::string input_path;         // for the replay commands
  std::string reproducer_path;
};

struct PipelineResult {
  bool ok = false;            // produced a reproducer that keeps the title
  std::string error;
  std::string minimized_text;  // canonical text
  std::string markdown;
  std::string note;            // "6 ops, reproduces 10/10"
  Reliability reliability;
  MinimizeStats stats;
};

PipelineResult MinimizeAndReport(TargetId target, const prog::Program& prepared,
                                 const std::string& title,
                                 const TargetOptions& options,
                                 const PipelineOptions& po);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_PIPELINE_H_
