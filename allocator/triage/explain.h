// Human explanations of reproducers: one line per op ("cpu1 task: allocate
// an order-0 block with GFP_KERNEL into p0"), and the Markdown bug report
// `reentry report` writes and campaigns keep in each finding folder.
#ifndef REENTRY_ALLOCATOR_TRIAGE_EXPLAIN_H_
#define REENTRY_ALLOCATOR_TRIAGE_EXPLAIN_H_

#include <string>
#include <vector>

#include "allocator/prog/program.h"
#include "allocator/triage/minimize.h"
#include "allocator/triage/target.h"

namespace reentry::triage {

// What op does, in one line, without the context (ExplainProgram adds it).
std::string ExplainOp(const prog::Program& p, const prog::Op& op);

// The program's canonical text with "  # <cpu> <context>: <explanation>"
// after every op line (still a valid program: comments are ignored).
std::string AnnotatedProgramText(const prog::Program& p);

struct ReportContext {
  TargetId target = TargetId::kMain;
  TargetOptions options;        // the campaign's
  std::string title;
  std::string splat;            // report::FormatReport (or a summary)
  prog::Program reproducer;     // minimized (or prepared) program
  bool minimized = false;
  MinimizeStats minimize_stats;
  Reliability reliability;
  bool repro_reproduces = false;  // `reentry repro` shows it too
  std::string reproducer_path;    // where the .txt is written, for commands
  std::string input_path;         // the raw crashing input, if any
};

std::string MarkdownReport(const ReportContext& c);

}  // namespace reentry::triage

#endif  // REENTRY_ALLOCATOR_TRIAGE_EXPLAIN_H_
