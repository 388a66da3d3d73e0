#include "stress/html_report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <vector>

#include "allocator/ctx/alloc_stats.h"
#include "allocator/prog/fields.h"

namespace reentry::stress {
namespace {

std::string Fmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  return std::string(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof(buf) - 1));
}

std::string JsonStr(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (c < 0x20) {
          o += Fmt("\\u%04x", c);
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

std::string Html(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

const char* kContextNames[kStatContexts] = {"task", "softirq", "hardirq",
                                            "NMI"};

std::string HumanNs(double ns) {
  if (ns < 1e3) return Fmt("%.0f ns", ns);
  if (ns < 1e6) return Fmt("%.1f us", ns / 1e3);
  if (ns < 1e9) return Fmt("%.1f ms", ns / 1e6);
  return Fmt("%.2f s", ns / 1e9);
}

struct OpLatency {
  std::string name;
  const Histogram* h;
};

std::vector<OpLatency> OpLatencies(const VcpuStats& s) {
  std::vector<OpLatency> v;
  for (int code = 0; code < prog::kNumOpCodes; ++code) {
    if (s.op_latency[code].count == 0) continue;
    std::string name;
    if (code == prog::LockCall::kCode) {
      name = "lock calls";
    } else if (code == prog::Interrupt::kCode) {
      name = "interrupt ops";
    } else {
      name = prog::OpName(prog::MakeOp(code));
    }
    v.push_back({name, &s.op_latency[code]});
  }
  return v;
}

// ---- SVG ----

// A log2-bucket histogram as bars.
std::string SvgHistogram(const Histogram& h, const std::string& title) {
  int lo = Histogram::kBuckets, hi = -1;
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    if (h.buckets[i]) {
      lo = std::min(lo, i);
      hi = std::max(hi, i);
    }
  }
  const int w = 420, hgt = 150, left = 40, bottom = 30;
  std::string s = Fmt("<svg width='%d' height='%d' class='plot'>", w, hgt + 20);
  s +=
      Fmt("<text x='%d' y='14' class='t'>%s</text>", left, Html(title).c_str());
  if (hi < 0) return s + "<text x='50' y='60'>no data</text></svg>";
  uint64_t maxc = 1;
  for (int i = lo; i <= hi; ++i) maxc = std::max(maxc, h.buckets[i]);
  const int n = hi - lo + 1;
  const double bw = double(w - left - 10) / n;
  for (int i = lo; i <= hi; ++i) {
    // Log scale on counts so rare slow cases stay visible.
    const double frac =
        std::log1p(double(h.buckets[i])) / std::log1p(double(maxc));
    const double bh = frac * (hgt - bottom - 10);
    const double x = left + (i - lo) * bw;
    s +=
        Fmt("<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' class='bar'>"
            "<title>%s..%s: %" PRIu64 "</title></rect>",
            x + 1, 20 + (hgt - bottom - 10) - bh, std::max(1.0, bw - 2), bh,
            HumanNs(std::ldexp(1.0, i)).c_str(),
            HumanNs(std::ldexp(1.0, i + 1)).c_str(), h.buckets[i]);
    if ((i - lo) % std::max(1, n / 6) == 0) {
      s += Fmt("<text x='%.1f' y='%d' class='ax'>%s</text>", x, hgt + 5,
               HumanNs(std::ldexp(1.0, i)).c_str());
    }
  }
  s += Fmt("<text x='2' y='%d' class='ax'>log n</text>", hgt / 2);
  return s + "</svg>";
}

struct Bar {
  std::string label;
  std::vector<double> parts;  // stacked
};

// Horizontal (stacked) bars with a legend.
std::string SvgBars(const std::vector<Bar>& bars,
                    const std::vector<std::string>& legend,
                    const std::string& title, const std::string& unit) {
  static const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                  "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                  "#9c755f", "#bab0ac", "#1f77b4", "#8c564b"};
  const int label_w = 230, bar_w = 380, row = 18;
  const int h = 30 + row * static_cast<int>(bars.size()) + 20 +
                14 * static_cast<int>((legend.size() + 2) / 3);
  double maxv = 0;
  for (const Bar& b : bars) {
    double t = 0;
    for (double p : b.parts) t += p;
    maxv = std::max(maxv, t);
  }
  if (maxv <= 0) maxv = 1;
  std::string s =
      Fmt("<svg width='%d' height='%d' class='plot'>", label_w + bar_w + 90, h);
  s += Fmt("<text x='4' y='14' class='t'>%s</text>", Html(title).c_str());
  int y = 24;
  for (const Bar& b : bars) {
    s += Fmt("<text x='%d' y='%d' class='lbl' text-anchor='end'>%s</text>",
             label_w - 6, y + 12, Html(b.label).c_str());
    double x = label_w, total = 0;
    for (size_t i = 0; i < b.parts.size(); ++i) {
      const double w = b.parts[i] / maxv * bar_w;
      total += b.parts[i];
      if (w > 0) {
        s +=
            Fmt("<rect x='%.1f' y='%d' width='%.1f' height='%d' fill='%s'>"
                "<title>%s: %.4g</title></rect>",
                x, y + 2, w, row - 4, kColors[i % 12],
                Html(i < legend.size() ? legend[i] : "").c_str(), b.parts[i]);
      }
      x += w;
    }
    s += Fmt("<text x='%.1f' y='%d' class='ax'>%.4g%s</text>", x + 4, y + 12,
             total, unit.c_str());
    y += row;
  }
  y += 8;
  if (legend.size() > 1) {
    for (size_t i = 0; i < legend.size(); ++i) {
      const int lx = 4 + static_cast<int>(i % 3) * 230;
      const int ly = y + static_cast<int>(i / 3) * 14;
      s += Fmt(
          "<rect x='%d' y='%d' width='10' height='10' fill='%s'/>"
          "<text x='%d' y='%d' class='ax'>%s</text>",
          lx, ly, kColors[i % 12], lx + 14, ly + 9, Html(legend[i]).c_str());
    }
  }
  return s + "</svg>";
}

const char* kCss =
    "body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;"
    "margin-top:28px}table{border-collapse:collapse;font-size:13px;"
    "margin:6px 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:"
    "right}th{background:#f3f3f3}td.l,th.l{text-align:left}pre{background:"
    "#f7f7f7;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:12px;"
    "max-height:420px}.ok{color:#287d28;font-weight:bold}.bad{color:#b22;"
    "font-weight:bold}.plot{margin:6px 12px 6px 0;background:#fcfcfc;border:"
    "1px solid #eee}.bar{fill:#4e79a7}.t{font-size:12px;font-weight:bold}"
    ".ax{font-size:10px;fill:#555}.lbl{font-size:11px}details{margin:6px 0}";

}  // namespace

const char* EndReason(const StressResult& r) {
  if (r.ended_by_hang) return "hang";
  if (r.ended_by_watchdog) return "watchdog";
  if (r.ended_by_finding) return "finding";
  return "time";
}

std::string StressJson(const StressResult& r, const ReportFiles& files) {
  const StressOptions& o = r.options;
  const VcpuStats& t = *r.total;
  std::string s = "{\n";
  s += "  \"options\": {";
  s += Fmt("\"seed\": %" PRIu64
           ", \"cpus\": %d, \"preempt_rt\": %s, "
           "\"smp\": %s, \"preempt_count\": %s, \"workload\": %s, "
           "\"round_ops\": %d, \"duration_s\": %.3f, \"irq_rate\": %.1f, "
           "\"nmi_rate\": %.1f, \"ipi_rate\": %.1f, \"jitter\": %.3f, "
           "\"watchdog_s\": %.3f, \"lockdep\": %s, \"bugs\": %s},\n",
           o.seed, r.nr_cpus, o.config.preempt_rt ? "true" : "false",
           o.config.smp ? "true" : "false",
           o.config.preempt_count ? "true" : "false",
           JsonStr(WorkloadName(o.workload.kind)).c_str(), o.workload.round_ops,
           o.duration_s, o.irq_rate, o.nmi_rate, o.ipi_rate, o.jitter,
           o.watchdog_s, o.lockdep ? "true" : "false",
           JsonStr(BugSetToString(o.bugs)).c_str());
  s += Fmt("  \"setup_error\": %s,\n", JsonStr(r.setup_error).c_str());
  s += Fmt("  \"elapsed_s\": %.3f,\n  \"rounds\": %" PRIu64
           ",\n  \"ops\": %" PRIu64 ",\n  \"ops_per_s\": %.1f,\n",
           r.elapsed_s, r.rounds, r.ops,
           r.elapsed_s > 0 ? double(r.ops) / r.elapsed_s : 0.0);
  s += Fmt("  \"ended_by\": %s,\n  \"threads_stuck\": %s,\n",
           JsonStr(EndReason(r)).c_str(), r.threads_stuck ? "true" : "false");
  s += Fmt("  \"bugs\": %zu,\n  \"warnings\": %zu,\n", r.bugs(), r.warnings());
  s += "  \"interrupts\": {\"per_cpu\": [";
  for (int c = 0; c < r.nr_cpus; ++c) {
    const RateFigures& f = r.per_cpu[c];
    s +=
        Fmt("%s{\"cpu\": %d, \"timer_signals_per_s\": %.1f, "
            "\"nmi_signals_per_s\": %.1f, \"ipi_signals_per_s\": %.1f, "
            "\"handlers_run_per_s\": %.1f, \"timer_signals\": %" PRIu64
            ", \"timer_overruns\": %" PRIu64 ", \"merged\": %" PRIu64 "}",
            c ? ", " : "", c, f.timer_per_s, f.nmi_per_s, f.ipi_per_s,
            f.irqs_run_per_s, r.timer_signals[c], r.timer_overruns[c],
            r.merged_signals[c]);
  }
  s += Fmt("], \"timer_handlers\": %" PRIu64 ", \"ipi_handlers\": %" PRIu64
           ", \"nmi_handlers\": %" PRIu64 ", \"softirqs\": %" PRIu64
           ", \"latched\": %" PRIu64 ", \"ipis_sent\": %" PRIu64 "},\n",
           t.irqs[0].get(), t.irqs[1].get(), t.irqs[2].get(), t.softirqs.get(),
           t.latched.get(), t.ipis_sent.get());
  s += Fmt("  \"points\": %" PRIu64 ", \"irqs_off_transitions\": %" PRIu64
           ", \"waits\": %" PRIu64 ", \"skipped_ops\": %" PRIu64
           ", \"invariant_checks\": %" PRIu64 ", \"reports_dropped\": %" PRIu64
           ", \"lockdep_events_dropped\": %" PRIu64 ",\n",
           t.points, t.irqs_off, t.waits, t.skipped.get(), r.invariant_checks,
           r.reports_dropped, r.lockdep_events_dropped);
  s += "  \"findings\": [";
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const StressFinding& f = r.findings[i];
    s += Fmt(
        "%s\n    {\"title\": %s, \"summary\": %s, \"verdict\": %s, "
        "\"severity\": %s, \"round\": %" PRIu64
        ", \"at_s\": %.3f, "
        "\"occurrences\": %" PRIu64
        ", \"verified\": %s, "
        "\"reproduced\": %s, \"replay\": %s, \"minimized\": %s}",
        i ? "," : "", JsonStr(f.title).c_str(), JsonStr(f.summary).c_str(),
        JsonStr(VerdictName(FindingVerdict(f.finding.kind))).c_str(),
        JsonStr(f.warning ? "warning" : "bug").c_str(), f.round, f.at_s,
        f.occurrences, f.verified ? "true" : "false",
        f.reproduced_by >= 0 ? "true" : "false",
        JsonStr(i < files.replay.size() ? files.replay[i] : "").c_str(),
        JsonStr(i < files.minimized.size() ? files.minimized[i] : "").c_str());
  }
  s += "],\n  \"alloc\": [";
  bool first = true;
  for (int c = 0; c < kStatContexts; ++c) {
    for (int g = 0; g < kNumGfpClasses; ++g) {
      for (int k = 0; k < kStatOrders; ++k) {
        const AllocCell& cell = t.alloc[c][g][k];
        if (cell.ok + cell.failed == 0) continue;
        s +=
            Fmt("%s\n    {\"context\": %s, \"gfp\": %s, \"order\": %d, "
                "\"ok\": %" PRIu64 ", \"failed\": %" PRIu64 ", \"reasons\": {",
                first ? "" : ",", JsonStr(kContextNames[c]).c_str(),
                JsonStr(GfpClassName(static_cast<GfpClass>(g))).c_str(), k,
                cell.ok, cell.failed);
        first = false;
        bool rf = true;
        for (int q = 0; q < kStatReasons; ++q) {
          if (!cell.reasons[q]) continue;
          s += Fmt("%s%s: %" PRIu64, rf ? "" : ", ",
                   JsonStr(ReasonName(q)).c_str(), cell.reasons[q]);
          rf = false;
        }
        s += "}}";
      }
    }
  }
  s += "],\n  \"latency\": {";
  first = true;
  for (const OpLatency& l : OpLatencies(t)) {
    s += Fmt("%s\n    %s: {\"count\": %" PRIu64
             ", \"mean_ns\": %.0f, "
             "\"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
             ", \"max_ns\": %" PRIu64 "}",
             first ? "" : ",", JsonStr(l.name).c_str(), l.h->count,
             l.h->MeanNs(), l.h->Quantile(0.5), l.h->Quantile(0.99),
             l.h->max_ns);
    first = false;
  }
  s += "},\n  \"handlers\": {";
  for (int i = 0; i < 3; ++i) {
    const Histogram& h = t.handler_latency[i];
    const Histogram& d = t.irq_delay[i];
    s += Fmt("%s%s: {\"count\": %" PRIu64
             ", \"mean_ns\": %.0f, \"p99_ns\": %" PRIu64
             ", \"delay_mean_ns\": %.0f, \"delay_p99_ns\": %" PRIu64 "}",
             i ? ", " : "",
             JsonStr(IrqSourceName(static_cast<IrqSource>(i))).c_str(), h.count,
             h.MeanNs(), h.Quantile(0.99), d.MeanNs(), d.Quantile(0.99));
  }
  s += "},\n  \"locks\": [";
  first = true;
  for (size_t i = 0; i < r.lock_class_names.size() && i < kMaxStatClasses;
       ++i) {
    const LockClassStats& l = t.locks[i];
    if (l.acquisitions == 0 && l.contended == 0) continue;
    s += Fmt("%s\n    {\"class\": %s, \"acquisitions\": %" PRIu64
             ", \"contended\": %" PRIu64 ", \"wait_ns\": %" PRIu64
             ", \"hold_mean_ns\": %.0f, \"hold_p99_ns\": %" PRIu64
             ", \"hold_max_ns\": %" PRIu64 "}",
             first ? "" : ",", JsonStr(r.lock_class_names[i]).c_str(),
             l.acquisitions, l.contended, l.wait_ns, l.hold.MeanNs(),
             l.hold.Quantile(0.99), l.hold.max_ns);
    first = false;
  }
  s += "]\n}\n";
  return s;
}

std::string StressHtml(const StressResult& r, const ReportFiles& files) {
  const StressOptions& o = r.options;
  const VcpuStats& t = *r.total;
  std::string s =
      "<!DOCTYPE html><html><head><meta charset='utf-8'>"
      "<title>reentry stress</title><style>";
  s += kCss;
  s += "</style></head><body>";
  s += "<h1>reentry stress</h1>";
  s += "<table><tr><th class='l'>configuration</th><td class='l'>" +
       Html(DescribeOptions(o)) + "</td></tr>";
  s +=
      Fmt("<tr><th class='l'>result</th><td class='l'><span class='%s'>%zu "
          "bug(s)</span>, %zu warning(s); ended by %s after %.1f s, %" PRIu64
          " rounds, %" PRIu64 " ops (%.0f ops/s)%s</td></tr>",
          r.bugs() ? "bad" : "ok", r.bugs(), r.warnings(), EndReason(r),
          r.elapsed_s, r.rounds, r.ops,
          r.elapsed_s > 0 ? double(r.ops) / r.elapsed_s : 0.0,
          r.threads_stuck ? "; a vCPU thread could not be stopped" : "");
  if (!r.setup_error.empty()) {
    s += "<tr><th class='l'>error</th><td class='l'>" + Html(r.setup_error) +
         "</td></tr>";
  }
  s += "</table>";

  // Findings.
  s += "<h2>Findings</h2>";
  if (r.findings.empty()) s += "<p class='ok'>None.</p>";
  for (size_t i = 0; i < r.findings.size(); ++i) {
    const StressFinding& f = r.findings[i];
    s += Fmt("<h3>%zu. <span class='%s'>%s</span></h3>", i + 1,
             f.warning ? "" : "bad", Html(f.title).c_str());
    s += Fmt("<p>%s &mdash; round %" PRIu64 ", %.2f s into the run, %" PRIu64
             " occurrence(s). Replay: %s%s</p>",
             Html(f.summary).c_str(), f.round, f.at_s, f.occurrences,
             !f.verified            ? "not verified"
             : f.reproduced_by >= 0 ? "<span class='ok'>reproduces the title "
                                      "under reentry repro</span>"
                                    : "<span class='bad'>did not reproduce "
                                      "deterministically</span>",
             i < files.replay.size() && !files.replay[i].empty()
                 ? (" (<code>" + Html(files.replay[i]) + "</code>)").c_str()
                 : "");
    s += "<details><summary>report</summary><pre>" + Html(f.report) +
         "</pre></details>";
    if (!f.vcpu_state.empty()) {
      s += "<details open><summary>vCPU state</summary><pre>" +
           Html(f.vcpu_state) + "</pre></details>";
    }
    if (!f.minimized.empty()) {
      s += "<details open><summary>minimized program</summary><pre>" +
           Html(f.minimized) + "</pre></details>";
    }
    if (!f.program.empty()) {
      s += "<details><summary>recorded program</summary><pre>" +
           Html(f.program) + "</pre></details>";
    }
  }

  // Interrupts.
  s += "<h2>Interrupts</h2><table><tr><th>vCPU</th><th>timer signals/s</th>"
       "<th>NMI signals/s</th><th>IPI signals/s</th><th>handlers run/s</th>"
       "<th>timer overruns</th><th>merged</th></tr>";
  std::vector<Bar> rate_bars;
  for (int c = 0; c < r.nr_cpus; ++c) {
    const RateFigures& f = r.per_cpu[c];
    s +=
        Fmt("<tr><td>%d</td><td>%.0f</td><td>%.0f</td><td>%.0f</td>"
            "<td>%.0f</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>",
            c, f.timer_per_s, f.nmi_per_s, f.ipi_per_s, f.irqs_run_per_s,
            r.timer_overruns[c], r.merged_signals[c]);
    rate_bars.push_back(
        {Fmt("CPU#%d", c), {f.timer_per_s, f.nmi_per_s, f.ipi_per_s}});
  }
  s += "</table>";
  s += SvgBars(rate_bars, {"timer", "NMI", "IPI"},
               "signals delivered per second", "/s");
  s += Fmt("<p>Handlers run: %" PRIu64 " timer, %" PRIu64 " IPI, %" PRIu64
           " NMI, %" PRIu64 " softirq; %" PRIu64
           " arrived while masked and ran when the model unmasked them; "
           "%" PRIu64 " IPIs sent; %" PRIu64
           " interrupt points reached; %" PRIu64
           " hardirqs-off transitions.</p>",
           t.irqs[0].get(), t.irqs[1].get(), t.irqs[2].get(), t.softirqs.get(),
           t.latched.get(), t.ipis_sent.get(), t.points, t.irqs_off);
  for (int i = 0; i < 3; ++i) {
    s += SvgHistogram(t.irq_delay[i],
                      std::string(IrqSourceName(static_cast<IrqSource>(i))) +
                          ": signal to handler");
  }
  for (int i = 0; i < 3; ++i) {
    s += SvgHistogram(t.handler_latency[i],
                      std::string(IrqSourceName(static_cast<IrqSource>(i))) +
                          " handler duration");
  }

  // Allocations.
  s += "<h2>Allocations</h2>";
  std::vector<Bar> fail_bars;
  std::vector<std::string> reason_names;
  for (int q = 0; q < kStatReasons; ++q) reason_names.push_back(ReasonName(q));
  s += "<table><tr><th class='l'>context</th><th class='l'>gfp</th>";
  for (int k = 0; k < kStatOrders; ++k) s += Fmt("<th>order %d</th>", k);
  s += "<th>total</th></tr>";
  for (int c = 0; c < kStatContexts; ++c) {
    for (int g = 0; g < kNumGfpClasses; ++g) {
      uint64_t ok = 0, failed = 0;
      Bar fb;
      fb.parts.assign(kStatReasons, 0);
      for (int k = 0; k < kStatOrders; ++k) {
        ok += t.alloc[c][g][k].ok;
        failed += t.alloc[c][g][k].failed;
        for (int q = 0; q < kStatReasons; ++q) {
          fb.parts[q] += double(t.alloc[c][g][k].reasons[q]);
        }
      }
      if (ok + failed == 0) continue;
      s += Fmt("<tr><td class='l'>%s</td><td class='l'>%s</td>",
               kContextNames[c], GfpClassName(static_cast<GfpClass>(g)));
      for (int k = 0; k < kStatOrders; ++k) {
        const AllocCell& cell = t.alloc[c][g][k];
        const uint64_t n = cell.ok + cell.failed;
        if (n == 0) {
          s += "<td></td>";
          continue;
        }
        s += Fmt("<td title='%" PRIu64 " ok, %" PRIu64 " failed'>%.1f%%</td>",
                 cell.ok, cell.failed, 100.0 * double(cell.ok) / double(n));
      }
      s += Fmt("<td>%" PRIu64 " (%.1f%% ok)</td></tr>", ok + failed,
               100.0 * double(ok) / double(ok + failed));
      if (failed > 0) {
        fb.label = Fmt("%s %s", kContextNames[c],
                       GfpClassName(static_cast<GfpClass>(g)));
        for (double& p : fb.parts) p = 100.0 * p / double(ok + failed);
        fail_bars.push_back(fb);
      }
    }
  }
  s += "</table><p>Cells: success rate (hover for counts).</p>";
  if (!fail_bars.empty()) {
    s += SvgBars(fail_bars, reason_names,
                 "failure rate by reason (% of attempts)", "%");
  }
  s += "<table><tr><th class='l'>reason</th><th class='l'>meaning</th></tr>";
  for (int q = 0; q < ctx::kNumAllocFailReasons; ++q) {
    s += Fmt("<tr><td class='l'>%s</td><td class='l'>%s</td></tr>",
             ReasonName(q),
             Html(ctx::AllocFailDescription(static_cast<ctx::AllocFail>(q)))
                 .c_str());
  }
  s += "<tr><td class='l'>unknown</td><td class='l'>the model gave no reason"
       "</td></tr></table>";

  // Latency.
  s += "<h2>Latency</h2><table><tr><th class='l'>op</th><th>count</th>"
       "<th>mean</th><th>p50</th><th>p99</th><th>max</th></tr>";
  std::vector<OpLatency> lat = OpLatencies(t);
  std::sort(lat.begin(), lat.end(), [](const OpLatency& a, const OpLatency& b) {
    return a.h->count > b.h->count;
  });
  for (const OpLatency& l : lat) {
    s += Fmt("<tr><td class='l'>%s</td><td>%" PRIu64
             "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
             Html(l.name).c_str(), l.h->count, HumanNs(l.h->MeanNs()).c_str(),
             HumanNs(double(l.h->Quantile(0.5))).c_str(),
             HumanNs(double(l.h->Quantile(0.99))).c_str(),
             HumanNs(double(l.h->max_ns)).c_str());
  }
  s += "</table>";
  for (size_t i = 0; i < lat.size() && i < 6; ++i) {
    s += SvgHistogram(*lat[i].h, lat[i].name);
  }

  // Locks.
  s += "<h2>Locks</h2><table><tr><th class='l'>class</th><th>acquisitions"
       "</th><th>contended</th><th>wait total</th><th>hold mean</th>"
       "<th>hold p99</th><th>hold max</th></tr>";
  std::vector<Bar> lock_bars;
  for (size_t i = 0; i < r.lock_class_names.size() && i < kMaxStatClasses;
       ++i) {
    const LockClassStats& l = t.locks[i];
    if (l.acquisitions == 0 && l.contended == 0) continue;
    s += Fmt(
        "<tr><td class='l'>%s</td><td>%" PRIu64 "</td><td>%" PRIu64
        " (%.2f%%)</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
        Html(r.lock_class_names[i]).c_str(), l.acquisitions, l.contended,
        l.acquisitions ? 100.0 * double(l.contended) / double(l.acquisitions)
                       : 0.0,
        HumanNs(double(l.wait_ns)).c_str(), HumanNs(l.hold.MeanNs()).c_str(),
        HumanNs(double(l.hold.Quantile(0.99))).c_str(),
        HumanNs(double(l.hold.max_ns)).c_str());
    if (l.contended) {
      lock_bars.push_back({r.lock_class_names[i], {double(l.contended)}});
    }
  }
  s += "</table>";
  if (!lock_bars.empty()) {
    s += SvgBars(lock_bars, {"contended acquisitions"}, "cross-vCPU contention",
                 "");
  }
  s += "<p style='color:#777;font-size:11px'>Generated by reentry stress. "
       "Self-contained: no scripts, no external resources.</p>";
  s += "</body></html>\n";
  return s;
}

std::string StressSummaryText(const StressResult& r) {
  std::string s;
  s += Fmt("stress: %s\n", DescribeOptions(r.options).c_str());
  if (!r.setup_error.empty()) {
    s += "stress: cannot run: " + r.setup_error + "\n";
    return s;
  }
  s += Fmt("ran %.1f s, %" PRIu64 " rounds, %" PRIu64
           " ops (%.0f ops/s), ended by %s\n",
           r.elapsed_s, r.rounds, r.ops,
           r.elapsed_s > 0 ? double(r.ops) / r.elapsed_s : 0.0, EndReason(r));
  for (int c = 0; c < r.nr_cpus; ++c) {
    const RateFigures& f = r.per_cpu[c];
    s +=
        Fmt("  CPU#%d interrupt rate: %.0f timer IRQs/s, %.0f NMIs/s, %.0f "
            "IPIs/s delivered; %.0f handlers run/s\n",
            c, f.timer_per_s, f.nmi_per_s, f.ipi_per_s, f.irqs_run_per_s);
  }
  s += Fmt("%zu bug(s), %zu warning(s)\n", r.bugs(), r.warnings());
  for (const StressFinding& f : r.findings) {
    s += Fmt("  %s%s\n", f.summary.c_str(),
             !f.verified            ? ""
             : f.reproduced_by >= 0 ? "  [replay reproduces it]"
                                    : "  [replay does not reproduce it]");
  }
  return s;
}

}  // namespace reentry::stress
