#include "allocator/triage/pipeline.h"

#include <cstdio>

#include "allocator/prog/text.h"
#include "allocator/report/report.h"
#include "allocator/triage/isolate.h"

namespace reentry::triage {
namespace {

void Put(std::string& out, const std::string& s) {
  out += std::to_string(s.size()) + ":" + s;
}
bool Get(const std::string& in, size_t& pos, std::string* s) {
  const size_t colon = in.find(':', pos);
  if (colon == std::string::npos) return false;
  const size_t n = strtoull(in.c_str() + pos, nullptr, 10);
  if (colon + 1 + n > in.size()) return false;
  *s = in.substr(colon + 1, n);
  pos = colon + 1 + n;
  return true;
}

// Whether `reentry repro` (executor + checker, no target logic) shows title.
bool ReproShows(const prog::Program& p, const std::string& title) {
  exec::Executor ex;
  const exec::RunResult r = ex.Run(p);
  for (const Finding& f : r.findings) {
    if (report::Title(f) == title) return true;
  }
  return false;
}

PipelineResult RunPipeline(TargetId target, const prog::Program& prepared,
                           const std::string& title,
                           const TargetOptions& options,
                           const PipelineOptions& po, bool isolated) {
  PipelineResult out;
  prog::Program repro = prepared;
  MinimizeOptions mo = po.minimize;
  mo.isolated = isolated;
  if (!po.skip_minimize) {
    const Minimized m = MinimizeProgram(target, prepared, title, options, mo);
    repro = m.program;
    out.stats = m.stats;
  } else {
    out.stats.ops_before = out.stats.ops_after = prog::CountOps(prepared.ops);
  }
  out.reliability = MeasureReliability(target, repro, title, options,
                                       po.reliability_runs, isolated);
  out.minimized_text = prog::ProgramToText(repro);
  out.ok = out.reliability.reproduced > 0;

  ReportContext c;
  c.target = target;
  c.options = options;
  c.title = title;
  c.reproducer = repro;
  c.minimized = !po.skip_minimize;
  c.minimize_stats = out.stats;
  c.reliability = out.reliability;
  c.reproducer_path = po.reproducer_path;
  c.input_path = po.input_path;
  if (isolated) {
    const Triaged t = TriageProgramIsolated(target, repro,
                                            ReplayOptions(options), 30);
    c.splat = t.reports.empty() ? t.child_stderr : t.reports;
  } else {
    exec::Executor ex;
    const Triaged t = TriageInProcess(target, repro, ReplayOptions(options), ex);
    // The report of the problem with this title.
    const RunVerdict v = Evaluate(target, repro, ReplayOptions(options), ex, true);
    report::ReportInput in;
    in.config = v.result.config;
    in.bugs = v.result.bugs;
    for (const exec::TraceEntry& e : v.result.trace) {
      in.trace_lines.push_back(exec::FormatTraceEntry(repro, e));
    }
    in.program_text = out.minimized_text;
    for (const Problem& p : v.problems) {
      if (p.title != title) continue;
      c.splat = p.finding >= 0
                    ? report::FormatReport(v.result.findings[p.finding], in)
                    : p.summary + "\n" + v.detail + "\n";
    }
    if (c.splat.empty()) c.splat = t.reports;
    c.repro_reproduces = target != TargetId::kChecker && ReproShows(repro, title);
  }
  out.markdown = MarkdownReport(c);
  char note[160];
  snprintf(note, sizeof(note), "%zu ops, reproduces %d/%d",
           prog::CountOps(repro.ops), out.reliability.reproduced,
           out.reliability.runs);
  out.note = note;
  return out;
}

std::string Serialize(const PipelineResult& r) {
  std::string s;
  Put(s, r.ok ? "1" : "0");
  Put(s, r.minimized_text);
  Put(s, r.markdown);
  Put(s, r.note);
  Put(s, std::to_string(r.reliability.runs) + " " +
             std::to_string(r.reliability.reproduced) + " " +
             std::to_string(r.reliability.text_round_trip) + " " +
             std::to_string(r.stats.runs) + " " +
             std::to_string(r.stats.accepted) + " " +
             std::to_string(r.stats.ops_before) + " " +
             std::to_string(r.stats.ops_after) + " " +
             std::to_string(r.stats.budget_exhausted) + " " +
             std::to_string(r.stats.seconds));
  return s;
}

bool Deserialize(const std::string& in, PipelineResult* r) {
  size_t pos = 0;
  std::string ok, nums;
  if (!Get(in, pos, &ok) || !Get(in, pos, &r->minimized_text) ||
      !Get(in, pos, &r->markdown) || !Get(in, pos, &r->note) ||
      !Get(in, pos, &nums)) {
    return false;
  }
  r->ok = ok == "1";
  int rt = 1, be = 0;
  unsigned long ob = 0, oa = 0;
  sscanf(nums.c_str(), "%d %d %d %d %d %lu %lu %d %lf", &r->reliability.runs,
         &r->reliability.reproduced, &rt, &r->stats.runs, &r->stats.accepted,
         &ob, &oa, &be, &r->stats.seconds);
  r->reliability.text_round_trip = rt;
  r->stats.ops_before = ob;
  r->stats.ops_after = oa;
  r->stats.budget_exhausted = be;
  return true;
}

}  // namespace

PipelineResult MinimizeAndReport(TargetId target, const prog::Program& prepared,
                                 const std::string& title,
                                 const TargetOptions& options,
                                 const PipelineOptions& po) {
  const double timeout = po.minimize.max_seconds * 2 + 60;
  for (bool isolated : {po.hard, true}) {
    std::string answer, err;
    int sig = 0;
    bool timed_out = false;
    if (RunForked(
            [&] {
              return Serialize(
                  RunPipeline(target, prepared, title, options, po, isolated));
            },
            timeout, &answer, &err, &sig, &timed_out)) {
      PipelineResult r;
      if (Deserialize(answer, &r)) return r;
    }
    if (isolated) {
      PipelineResult r;
      r.error = "minimization failed: " +
                HardCrashTitle(err, sig, timed_out);
      return r;
    }
  }
  return PipelineResult{};
}

}  // namespace reentry::triage
