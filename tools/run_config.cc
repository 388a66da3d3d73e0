#include "tools/run_config.h"

namespace reentry::tools {

std::set<std::string> RunConfigValueFlags() { return {"bug", "cpus", "nolock"}; }
std::set<std::string> RunConfigBoolFlags() {
  return {"rt", "up", "no-preempt-count", "no-lockdep"};
}

bool ParseRunConfig(const Args& args, RunConfig* out, std::string* error) {
  if (auto b = args.Get("bug")) {
    auto set = ParseBugList(*b, error);
    if (!set) return false;
    out->bugs = *set;
  }
  out->rt = args.Has("rt");
  out->up = args.Has("up");
  out->no_preempt_count = args.Has("no-preempt-count");
  out->lockdep = !args.Has("no-lockdep");
  long cpus = 0;
  if (!args.GetInt("cpus", 1, ctx::kMaxCpus, &cpus, error)) return false;
  out->cpus = static_cast<int>(cpus);
  if (auto n = args.Get("nolock")) {
    if (*n != "final" && *n != "v2") {
      *error = "--nolock must be 'final' or 'v2', got '" + *n + "'";
      return false;
    }
    out->nolock = *n;
  }
  if (out->up && out->cpus > 1) {
    *error = "--up runs one vCPU; drop --cpus or --up";
    return false;
  }
  return true;
}

void ApplyRunConfig(const RunConfig& rc, prog::Program* p) {
  p->bugs = BugSet::FromBits(p->bugs.bits() | rc.bugs.bits());
  if (rc.rt) p->config.preempt_rt = true;
  if (rc.up) {
    p->config.smp = false;
    p->config.nr_cpus = 1;
  }
  if (rc.cpus > 0) p->config.nr_cpus = rc.cpus;
  if (rc.no_preempt_count) p->config.preempt_count = false;
  if (rc.nolock == "v2") p->config.nolock_design = ctx::NolockDesign::kV2Trylock;
  if (rc.nolock == "final") p->config.nolock_design = ctx::NolockDesign::kFinal;
}

exec::RunOptions RunOptionsFor(const RunConfig& rc) {
  exec::RunOptions o;
  o.lockdep = rc.lockdep;
  return o;
}

std::string DescribeConfig(const ctx::Config& c, BugSet bugs) {
  std::string s = "cpus=" + std::to_string(c.nr_cpus);
  s += c.preempt_rt ? " PREEMPT_RT=y" : " PREEMPT_RT=n";
  s += c.preempt_count ? " PREEMPT_COUNT=y" : " PREEMPT_COUNT=n";
  s += c.smp ? " SMP" : " UP";
  s += c.nolock_design == ctx::NolockDesign::kV2Trylock ? " nolock=v2"
                                                         : " nolock=final";
  s += " bugs=" + BugSetToString(bugs);
  return s;
}

}  // namespace reentry::tools
