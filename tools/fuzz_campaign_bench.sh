#!/usr/bin/env bash
# Throughput of a fuzz target (default: main) on one core, from its seed
# corpus, for each engine build:
#   libFuzzer            build/libfuzzer           (cmake --preset libfuzzer)
#   libFuzzer+ASan+UBSan build/libfuzzer-asan      (same, REENTRY_SANITIZER=address)
#   AFL++ persistent     build/afl                 (cmake --preset afl)
#   replay (no engine)   build/default             (g++ -O2, uninstrumented ceiling)
# and prints a table: executions, wall-clock exec/s, and exec/s per CPU
# second (the fair number on a busy machine). Findings do not stop a run
# (REENTRY_ONLY_TITLES names no real title): this measures speed only.
# libFuzzer runs with a fixed seed (--seed, default 1): with a time-based
# seed two runs of the same binary explore differently, and their rates
# differed by up to a third. A campaign's rate still depends on where its
# seed takes it; docs/fuzzing.md quotes the median of seeds 1-3.
#
#   bash tools/fuzz_campaign_bench.sh [--time=SECONDS] [--target=main]
#        [--engines=libfuzzer,asan,afl,replay] [--seed=N] [--no-build]
# Targets to beat (docs/fuzzing.md): >= 20,000 exec/s plain, >= 5,000 exec/s
# with ASan+UBSan, on one core.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

secs=60
seed=1
target=main
engines=libfuzzer,asan,afl,replay
build=1
for arg in "$@"; do
  case "$arg" in
    --time=*) secs=${arg#--time=} ;;
    --seed=*) seed=${arg#--seed=} ;;
    --target=*) target=${arg#--target=} ;;
    --engines=*) engines=${arg#--engines=} ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "fuzz_campaign_bench: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$secs" =~ ^[0-9]+$ ]] || { echo "fuzz_campaign_bench: --time takes seconds" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "fuzz_campaign_bench: --seed takes a number" >&2; exit 2; }
case "$target" in main|gfp|checker|decoder) ;; *)
  echo "fuzz_campaign_bench: unknown --target '$target'" >&2; exit 2 ;; esac
bin=${target}_fuzzer
command -v taskset >/dev/null && pin=(taskset -c 0) || pin=()

build_dir() {
  case "$1" in
    libfuzzer) echo build/libfuzzer ;;
    asan) echo build/libfuzzer-asan ;;
    afl) echo build/afl ;;
    replay) echo build/default ;;
  esac
}
configure() {
  case "$1" in
    libfuzzer) cmake --preset libfuzzer >/dev/null ;;
    asan) cmake --preset libfuzzer -B build/libfuzzer-asan -DREENTRY_SANITIZER=address >/dev/null ;;
    afl) cmake --preset afl >/dev/null ;;
    replay) cmake --preset default >/dev/null ;;
  esac
}

IFS=, read -r -a list <<< "$engines"
for e in "${list[@]}"; do
  case "$e" in libfuzzer|asan|afl|replay) ;; *)
    echo "fuzz_campaign_bench: unknown engine '$e'" >&2; exit 2 ;; esac
  d=$(build_dir "$e")
  if (( build )); then
    configure "$e"
    cmake --build "$d" -j2 --target "$bin" "corpus_${target}_seeds" >/dev/null
  elif [[ ! -x "$d/fuzz/$bin" ]]; then
    echo "fuzz_campaign_bench: $d/fuzz/$bin missing (drop --no-build)" >&2; exit 2
  fi
done

# CPU seconds (user + system) of a process and its descendants, from /proc.
tree_cpu() {
  local pids=("$1") i=0 kids
  while (( i < ${#pids[@]} )); do
    kids=$(ps -o pid= --ppid "${pids[$i]}" 2>/dev/null || true)
    for k in $kids; do pids+=("$k"); done
    i=$((i + 1))
  done
  local hz ticks=0 t
  hz=$(getconf CLK_TCK)
  for p in "${pids[@]}"; do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    ticks=$((ticks + t))
  done
  awk -v t="$ticks" -v hz="$hz" 'BEGIN{printf "%.2f 0\n", t / hz}'
}

# Scratch (corpus, logs) in memory when the machine has /dev/shm: libFuzzer
# writes every new corpus input, and on a shared disk those writes cost up
# to a fifth of the run.
if [[ -d /dev/shm && -w /dev/shm ]]; then
  tmp=$(mktemp -d -p /dev/shm)
else
  tmp=$(mktemp -d)
fi
trap 'rm -rf "$tmp"' EXIT
echo "this title is never reported" > "$tmp/titles"
export REENTRY_ONLY_TITLES="$tmp/titles"
dict=corpora/$target/$target.dict
max_len=$(sed -n 's/^max_len = //p' "corpora/$target/$target.options")
# The target's [libfuzzer] options as -name=value flags, as campaigns and
# OSS-Fuzz run it (dict relative to the options file).
engine_flags=()
while IFS= read -r line; do
  [[ "$line" =~ ^([a-z_]+)\ *=\ *(.*)$ ]] || continue
  k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
  [[ "$k" == dict ]] && v=corpora/$target/$v
  engine_flags+=("-$k=$v")
done < "corpora/$target/$target.options"

rows=()
for e in "${list[@]}"; do
  d=$(build_dir "$e")
  seeds=$d/corpora/$target/seeds
  corpus=$tmp/corpus-$e
  mkdir -p "$corpus"
  cp "$seeds"/*.bin "$corpus"/
  log=$tmp/$e.log
  echo "fuzz_campaign_bench: $e: ${secs}s on one core..." >&2
  case "$e" in
    libfuzzer|asan)
      env=()
      [[ "$e" == asan ]] && env=(ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1)
      env "${env[@]}" /usr/bin/time -f "%U %S" -o "$tmp/$e.cpu" "${pin[@]}" \
        "$d/fuzz/$bin" -max_total_time="$secs" -seed="$seed" -print_final_stats=1 \
        "${engine_flags[@]}" "$corpus" > "$log" 2>&1 || true
      execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
      extra=""
      ;;
    afl)
      # afl-fuzz runs the target in a fork server whose persistent child is
      # never waited for, so time(1) misses its CPU: sum the CPU of the
      # whole process tree from /proc just before the run ends.
      AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
      AFL_NO_AFFINITY=1 "${pin[@]}" \
        afl-fuzz -i "$corpus" -o "$tmp/afl-out" -V "$secs" -x "$dict" -G "$max_len" \
        -- "$d/fuzz/$bin" > "$log" 2>&1 &
      afl_pid=$!
      sleep $((secs > 2 ? secs - 1 : 1))
      tree_cpu "$afl_pid" > "$tmp/$e.cpu"
      wait "$afl_pid" || true
      stats=$tmp/afl-out/default/fuzzer_stats
      execs=$(sed -n 's/^execs_done *: *//p' "$stats" 2>/dev/null || true)
      extra="stability $(sed -n 's/^stability *: *//p' "$stats" 2>/dev/null || echo ?)"
      ;;
    replay)
      # The uninstrumented ceiling: the seeds, replayed until the time is up.
      start=$(date +%s.%N)
      rounds=0
      : > "$tmp/$e.cpu"
      while :; do
        /usr/bin/time -f "%U %S" -a -o "$tmp/$e.cpu" "${pin[@]}" \
          "$d/fuzz/$bin" --repeat=50 "$corpus" > "$log" 2>&1
        rounds=$((rounds + 1))
        awk -v a="$(date +%s.%N)" -v b="$start" -v s="$secs" 'BEGIN{exit !(a - b > s)}' && break
      done
      n=$(ls "$corpus" | wc -l)
      execs=$((rounds * 50 * n))
      extra="(no coverage, no engine)"
      ;;
  esac
  wall=$secs
  [[ "$e" == replay ]] && wall=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN{print a - b}')
  cpu=$(awk '{s += $1 + $2} END {print s}' "$tmp/$e.cpu")
  if [[ -z "${execs:-}" || "$execs" == 0 ]]; then
    rows+=("$(printf '%-22s %12s %12s %14s  %s' "$e" "-" "-" "-" "no result (log: $(tail -3 "$log" | tr '\n' ' '))")")
    continue
  fi
  per_wall=$(awk -v n="$execs" -v t="$wall" 'BEGIN{printf "%d", n / t}')
  per_cpu=$(awk -v n="$execs" -v t="$cpu" 'BEGIN{printf "%d", (t > 0 ? n / t : 0)}')
  rows+=("$(printf '%-22s %12s %12s %14s  %s' "$e" "$execs" "$per_wall" "$per_cpu" "$extra")")
done

echo
echo "== $bin throughput, ${secs}s per engine, one core ($(nproc) online, load $(cut -d' ' -f1-3 /proc/loadavg)), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== libFuzzer flags: ${engine_flags[*]} -seed=$seed"
printf '%-22s %12s %12s %14s  %s\n' engine executions exec/s exec/s/cpu-s notes
for r in "${rows[@]}"; do echo "$r"; done
echo "targets: >= 20,000 exec/s plain, >= 5,000 exec/s with ASan+UBSan (per core)"
