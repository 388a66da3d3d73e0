#!/usr/bin/env bash
# Time to find each bug-zoo entry: for every corpora/bugzoo/BZ-XX.txt, run a
# libFuzzer campaign on the main target with that entry's switch on and
# measure the wall-clock time until the engine reports the entry's expected
# finding; repeat with several engine seeds and print a table with the
# median. One run at a time by default (--jobs=1: one core).
#
# The starting corpus is the main seed corpus (corpora/main/seeds and the
# other bug-zoo reproducers) WITHOUT the entry's own reproducer and without
# any seed that already gives the expected finding under the campaign's
# configuration (a disguised copy): every seed is replayed first
# (reentry_corpus_tool titles) and those are dropped (column "dropped").
#
# The expected finding: the titles the reproducer gives with its switch on
# and not without it (`reentry report --replay --titles`). The campaign
# crashes on those titles only (REENTRY_ONLY_TITLES), so other findings the
# switch may cause do not stop the clock. The campaign configuration follows
# the entry's reproducer the way a user hunting it would set it: --rt for a
# PREEMPT_RT entry, --up for UP, --no-preempt-count, --nolock=v2,
# PROVE_RAW_LOCK_NESTING off when the entry needs it (REENTRY_*); vCPUs and
# everything else come from the fuzzer's inputs. libFuzzer options come from
# corpora/main/main.options, as `reentry fuzz` and OSS-Fuzz use them.
#
#   bash tools/bugzoo_time_to_find.sh [--seeds=3] [--limit=180] [--jobs=1]
#        [--entries=BZ-01,BZ-08] [--no-build] [--out=DIR] [--table-only]
# (--table-only prints the table of an earlier run in --out=DIR again.)
# A run that reaches --limit seconds counts as "not found" (+inf in the
# median). The crashing inputs stay in DIR/<entry>/art-<seed>/.
# Target (docs/fuzzing.md): every entry found, median under 60 s on one core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

nseeds=3
limit=180
jobs=1
only=""
build=1
out=""
table_only=0
for arg in "$@"; do
  case "$arg" in
    --seeds=*) nseeds=${arg#--seeds=} ;;
    --limit=*) limit=${arg#--limit=} ;;
    --jobs=*) jobs=${arg#--jobs=} ;;
    --entries=*) only=${arg#--entries=} ;;
    --no-build) build=0 ;;
    --out=*) out=${arg#--out=} ;;
    --table-only) table_only=1 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "bugzoo_time_to_find: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$nseeds" "$limit" "$jobs"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bugzoo_time_to_find: bad number '$v'" >&2; exit 2; }
done

if (( build )); then
  cmake --preset default >/dev/null
  cmake --build --preset default -j2 --target reentry >/dev/null
  cmake --preset libfuzzer >/dev/null
  cmake --build --preset libfuzzer -j2 --target main_fuzzer corpus_main_seeds \
    reentry_corpus_tool >/dev/null
fi
REENTRY=${REENTRY_BIN:-build/default/tools/reentry}
FUZZER=build/libfuzzer/fuzz/main_fuzzer
CORPUS_TOOL=build/libfuzzer/fuzz/reentry_corpus_tool
SEEDS=build/libfuzzer/corpora/main/seeds
for f in "$REENTRY" "$FUZZER" "$CORPUS_TOOL"; do
  [[ -x "$f" ]] || { echo "bugzoo_time_to_find: $f missing (drop --no-build)" >&2; exit 2; }
done
# The [libfuzzer] options of corpora/main/main.options as -name=value flags
# (dict relative to the options file).
engine_flags=()
while IFS= read -r line; do
  [[ "$line" =~ ^([a-z_]+)\ *=\ *(.*)$ ]] || continue
  k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
  [[ "$k" == dict ]] && v=corpora/main/$v
  engine_flags+=("-$k=$v")
done < corpora/main/main.options

work=${out:-$(mktemp -d /tmp/reentry-ttf-XXXXXX)}
mkdir -p "$work"
if (( table_only )); then
  # The parameters of the run whose table this is.
  [[ -f "$work/params" ]] && read -r nseeds limit jobs < "$work/params"
else
  echo "$nseeds $limit $jobs" > "$work/params"
fi
echo "bugzoo_time_to_find: working in $work ($nseeds seed(s), limit ${limit}s, $jobs parallel run(s))" >&2

# --- The entries, their expected titles and campaign configuration. ---
entries=()
for f in corpora/bugzoo/*.txt; do
  e=$(basename "$f" .txt)
  if [[ -n "$only" && ",$only," != *",$e,"* ]]; then continue; fi
  entries+=("$e")
done
(( ${#entries[@]} )) || { echo "bugzoo_time_to_find: no entry selected" >&2; exit 2; }

if (( ! table_only )); then
for e in "${entries[@]}"; do
  src=corpora/bugzoo/$e.txt
  d=$work/$e
  mkdir -p "$d"
  "$REENTRY" report --replay --titles "$src" | sort -u > "$d/with.txt" || true
  grep -v '^bugs(' "$src" > "$d/clean.txt"
  "$REENTRY" report --replay --titles "$d/clean.txt" | sort -u > "$d/without.txt" || true
  comm -23 "$d/with.txt" "$d/without.txt" > "$d/titles"
  env=("REENTRY_BUGS=$e")
  cfg=$(grep '^config(' "$src" || true)
  [[ "$cfg" == *preempt_rt=1* ]] && env+=(REENTRY_RT=1)
  [[ "$cfg" == *smp=0* ]] && env+=(REENTRY_UP=1)
  [[ "$cfg" == *preempt_count=0* ]] && env+=(REENTRY_PREEMPT_COUNT=0)
  [[ "$cfg" == *nolock=v2* ]] && env+=(REENTRY_NOLOCK=v2)
  [[ "$cfg" == *prove_raw_lock_nesting=0* ]] && env+=(REENTRY_PROVE_RAW_LOCK_NESTING=0)
  printf '%s\n' "${env[@]}" > "$d/env"
  # The seed corpus without this entry's own reproducer and without the
  # seeds that give the expected finding as they are.
  mkdir -p "$d/seeds"
  rm -f "$d/seeds"/*
  for s in "$SEEDS"/*.bin; do
    [[ "$(basename "$s")" == "bugzoo_$e.bin" ]] && continue
    cp "$s" "$d/seeds/"
  done
  : > "$d/dropped"
  if [[ -s "$d/titles" ]]; then
    env $(cat "$d/env") REENTRY_ONLY_TITLES="$d/titles" "$CORPUS_TOOL" titles \
      main "$d/seeds" | cut -f1 | sort -u > "$d/dropped"
    while IFS= read -r s; do rm -f "$s"; done < "$d/dropped"
  fi
done
fi

# --- One run: entry, seed, core. Writes $d/run-$seed.time ("found SECS" or
# "timeout"). ---
run_one() {
  local e=$1 seed=$2 core=$3
  local d=$work/$e
  local corpus=$d/corpus-$seed art=$d/art-$seed/
  rm -rf "$corpus" "$art"
  mkdir -p "$corpus" "$art"
  if [[ ! -s "$d/titles" ]]; then
    echo "no-expected-title" > "$d/run-$seed.time"
    return
  fi
  # Parallel runs get a core each; a single run goes where the scheduler
  # puts it (on a shared machine a fixed core may be the busy one).
  local pin=()
  (( jobs > 1 )) && command -v taskset >/dev/null && pin=(taskset -c "$core")
  local start end
  start=$(date +%s.%N)
  env $(cat "$d/env") REENTRY_ONLY_TITLES="$d/titles" "${pin[@]}" \
    /usr/bin/time -f "%U %S" -o "$d/run-$seed.cpu" "$FUZZER" \
    -seed="$seed" -max_total_time="$limit" "${engine_flags[@]}" \
    -artifact_prefix="$art" "$corpus" "$d/seeds" > "$d/run-$seed.log" 2>&1 || true
  end=$(date +%s.%N)
  # Found: the engine saved a crash and the target named an expected title
  # (not a harness CHECK or another crash).
  if ls "$art" | grep -q '^crash-' &&
     sed -n 's/^  title: //p' "$d/run-$seed.log" | grep -qxF -f "$d/titles"; then
    # Wall-clock seconds (run-N.cpu: the CPU seconds the fuzzer used, the
    # fair figure when other work shares the cores).
    awk -v a="$end" -v b="$start" 'BEGIN{printf "found %.1f\n", a - b}' > "$d/run-$seed.time"
  else
    echo "timeout" > "$d/run-$seed.time"
  fi
  rm -rf "$corpus"
}

if (( ! table_only )); then
ncpu=$(nproc 2>/dev/null || echo 1)
slot=0
pids=()
for e in "${entries[@]}"; do
  for seed in $(seq 1 "$nseeds"); do
    core=$((slot % ncpu))
    run_one "$e" "$seed" "$core" &
    pids+=($!)
    slot=$((slot + 1))
    if (( ${#pids[@]} >= jobs )); then
      wait "${pids[0]}" || true
      pids=("${pids[@]:1}")
    fi
  done
  echo "bugzoo_time_to_find: $e started" >&2
done
for p in "${pids[@]}"; do wait "$p" || true; done
fi

# --- The table. ---
median() {  # median of numbers on stdin; "timeout" counts as +inf
  sort -g | awk '{a[NR]=$1} END {if (NR == 0) {print "-"; exit}
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
    if (m >= 1e9) print "not found"; else printf "%.1f\n", m}'
}
report=$work/table.txt
{
  echo "== bug-zoo time to find: main target, libFuzzer (${engine_flags[*]}), one core per run, $nseeds seed(s), limit ${limit}s, $jobs run(s) at a time"
  echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "== times: wall-clock seconds to the finding (CPU seconds the fuzzer used); '-' not found within the limit"
  printf '%-7s %-6s %-8s %-8s %-34s %-7s %-28s %s\n' entry found median_s cpu_s "times: wall (cpu)" dropped config "expected title"
  all_found=1
  over=0
  for e in "${entries[@]}"; do
    d=$work/$e
    times=()
    nums=()
    cpus=()
    found=0
    for seed in $(seq 1 "$nseeds"); do
      t=$(cat "$d/run-$seed.time" 2>/dev/null || echo missing)
      if [[ "$t" == found* ]]; then
        # /usr/bin/time's last line (the first says the target aborted).
        w=$(awk '{print $2}' <<< "$t")
        c=$( (tail -1 "$d/run-$seed.cpu" 2>/dev/null || true) | awk '{printf "%.1f", $1 + $2}')
        [[ -n "$c" ]] || c="?"
        times+=("$w($c)")
        nums+=("$w")
        [[ "$c" == "?" ]] || cpus+=("$c")
        found=$((found + 1))
      elif [[ "$t" == missing ]]; then
        times+=("n/a")  # the run did not happen (interrupted)
        nums+=(1e9)
        cpus+=(1e9)
      else
        times+=("-")
        nums+=(1e9)
        cpus+=(1e9)
      fi
    done
    m=$(printf '%s\n' "${nums[@]}" | median)
    mc="?"
    (( ${#cpus[@]} )) && mc=$(printf '%s\n' "${cpus[@]}" | median)
    (( found == nseeds )) || all_found=0
    if [[ "$m" == "not found" ]] || awk -v m="$m" 'BEGIN{exit !(m >= 60)}'; then over=1; fi
    cfg=$( (grep -v REENTRY_BUGS "$d/env" || true) | sed 's/REENTRY_//' | tr '\n' ' ')
    title=$(head -1 "$d/titles" 2>/dev/null || true)
    n=$(wc -l < "$d/titles" 2>/dev/null || echo 0)
    (( n > 1 )) && title="$title (+$((n - 1)))"
    dropped=$(wc -l < "$d/dropped")
    printf '%-7s %-6s %-8s %-8s %-34s %-7s %-28s %s\n' "$e" "$found/$nseeds" "$m" "$mc" \
      "$(IFS=' '; echo "${times[*]}")" "$dropped" "${cfg:--}" "${title:-(none: the switch changes nothing)}"
  done
  if (( all_found && !over )); then
    echo "result: every entry found by every seed; every median under 60 s"
  else
    echo "result: NOT all entries found by every seed with a median under 60 s"
  fi
  echo "details: $work/<entry>/ (titles, env, run-<seed>.log, art-<seed>/)"
} | tee "$report"
