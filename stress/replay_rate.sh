#!/usr/bin/env bash
# Replay success rate of stress findings: runs `reentry stress` once per seed
# and counts, per finding title, how many runs found it and how many of those
# had a recorded program that reproduces the title (summary.json's
# "reproduced"). Prints the load average before and after.
#
#   stress/replay_rate.sh [--build=DIR] [--seeds=A-B] [--keep=DIR] -- STRESS_FLAGS...
#   stress/replay_rate.sh --seeds=1-25 -- --bug=BZ-01 --cpus=2 --duration=5s
#
# --keep=DIR keeps each run's output (DIR/seed-N) for a look at the misses.
set -uo pipefail
build=build/default
seeds=1-25
keep=
while [[ $# -gt 0 ]]; do
  case $1 in
    --build=*) build=${1#*=} ;;
    --seeds=*) seeds=${1#*=} ;;
    --keep=*) keep=${1#*=} ;;
    --) shift; break ;;
    *) echo "replay_rate.sh: unknown flag $1 (flags go after --)" >&2; exit 2 ;;
  esac
  shift
done
if [[ ! $seeds =~ ^([0-9]+)-([0-9]+)$ ]]; then
  echo "replay_rate.sh: --seeds=A-B expected, got '$seeds'" >&2
  exit 2
fi
first=${BASH_REMATCH[1]}
last=${BASH_REMATCH[2]}
reentry=$build/tools/reentry
[[ -x $reentry ]] || { echo "replay_rate.sh: no $reentry" >&2; exit 2; }
tmp=$(mktemp -d)
[[ -n $keep ]] && mkdir -p "$keep"
trap 'rm -rf "$tmp"' EXIT
echo "load before: $(uptime)"
echo "command: $reentry stress $* --seed=N --out=... --progress=off --no-minimize (N=$first..$last)"
declare -A found ok
runs=0
nothing=0
t0=$(date +%s)
for ((s = first; s <= last; s++)); do
  out=$tmp/seed-$s
  [[ -n $keep ]] && out=$keep/seed-$s
  "$reentry" stress "$@" --seed="$s" --out="$out" --progress=off \
    --no-minimize >"$out.log" 2>&1 || true
  runs=$((runs + 1))
  if [[ ! -f $out/summary.json ]]; then
    echo "seed $s: no summary.json (see $out.log)"
    continue
  fi
  # One line per finding: reproduced<TAB>title.
  lines=$(python3 - "$out/summary.json" <<'EOF'
import json, sys
for f in json.load(open(sys.argv[1]))["findings"]:
    print(("1" if f["reproduced"] else "0") + "\t" + f["title"])
EOF
)
  [[ -z $lines ]] && nothing=$((nothing + 1))
  while IFS=$'\t' read -r rep title; do
    [[ -z $title ]] && continue
    found[$title]=$((${found[$title]:-0} + 1))
    ok[$title]=$((${ok[$title]:-0} + rep))
    [[ $rep == 0 ]] && echo "seed $s: NOT replayed: $title"
  done <<<"$lines"
done
echo "load after: $(uptime)"
echo "runs: $runs in $(($(date +%s) - t0)) s; runs with no finding: $nothing"
for t in "${!found[@]}"; do
  printf '%3d/%-3d replayed  %s\n' "${ok[$t]}" "${found[$t]}" "$t"
done | sort -k3
