#!/usr/bin/env bash
# Turns the finds of a bug-zoo time-to-find run (tools/bugzoo_time_to_find.sh
# --out=DIR) into regression programs for the main target:
# corpora/main/regressions/<entry>.txt, one per entry that was found.
#
# For each entry: the crash input of the first seed that found it is run
# through the target's input discipline with the campaign's configuration
# (reentry_corpus_tool prepare), so that the program's own bugs()/config()
# header carries the switch and the configuration; it is minimized with
# `reentry minimize` while its title stays (REENTRY_BUGS_FROM_INPUT=1: the
# switch comes from the program); and it gets two expectations, checked by
# ctest (fuzz.main.regressions) three times each:
#   # expect: REENTRY_BUGS_FROM_INPUT=1 -> <the title the campaign reported>
#   # expect: -> clean        (a campaign without switches ignores the
#                              header's: the fixed model runs it clean)
#
#   bash tools/bugzoo_regressions.sh DIR [--entries=BZ-01,...] [--time=30s]
# Needs build/default (reentry, reentry_corpus_tool).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=""
only=""
budget=30s
for arg in "$@"; do
  case "$arg" in
    --entries=*) only=${arg#--entries=} ;;
    --time=*) budget=${arg#--time=} ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "bugzoo_regressions: unknown argument '$arg'" >&2; exit 2 ;;
    *) dir=$arg ;;
  esac
done
[[ -d "$dir" ]] || { echo "bugzoo_regressions: give the --out DIR of a time-to-find run" >&2; exit 2; }
REENTRY=${REENTRY_BIN:-build/default/tools/reentry}
TOOL=${REENTRY_CORPUS_TOOL:-build/default/fuzz/reentry_corpus_tool}
for f in "$REENTRY" "$TOOL"; do
  [[ -x "$f" ]] || { echo "bugzoo_regressions: $f missing (cmake --build --preset default)" >&2; exit 2; }
done
out=corpora/main/regressions
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
for d in "$dir"/BZ-*; do
  e=$(basename "$d")
  if [[ -n "$only" && ",$only," != *",$e,"* ]]; then continue; fi
  crash="" seed=""
  for t in "$d"/run-*.time; do
    [[ -f "$t" ]] || continue
    grep -q '^found' "$t" || continue
    s=$(basename "$t" .time); s=${s#run-}
    c=$(ls "$d/art-$s"/crash-* 2>/dev/null | head -1 || true)
    [[ -n "$c" ]] || continue
    if [[ -z "$seed" || "$s" -lt "$seed" ]]; then seed=$s crash=$c; fi
  done
  if [[ -z "$crash" ]]; then
    echo "bugzoo_regressions: $e: no find in $d, skipped" >&2
    continue
  fi
  # The title the campaign reported for it (one of the expected ones).
  title=$(sed -n 's/^  title: //p' "$d/run-$seed.log" | grep -xF -f "$d/titles" | head -1)
  env $(cat "$d/env") "$TOOL" prepare main "$crash" > "$tmp/$e.raw.txt"
  if ! REENTRY_BUGS_FROM_INPUT=1 "$REENTRY" minimize --title="$title" \
      --time="$budget" --out="$tmp/$e.min.txt" "$tmp/$e.raw.txt" > "$tmp/$e.log" 2>&1; then
    # minimize exits 1 when the finding reproduces (it always should here).
    :
  fi
  if [[ ! -s "$tmp/$e.min.txt" ]]; then
    echo "bugzoo_regressions: $e: minimization failed:" >&2
    cat "$tmp/$e.log" >&2
    status=1
    continue
  fi
  {
    echo "# regression: bug-zoo $e as a libFuzzer campaign on the main target found"
    echo "# it (tools/bugzoo_time_to_find.sh, engine seed $seed), minimized by"
    echo "# tools/bugzoo_regressions.sh. The switch and the configuration are in"
    echo "# the program's header; a campaign without switches ignores them."
    echo "# expect: REENTRY_BUGS_FROM_INPUT=1 -> $title"
    echo "# expect: -> clean"
    grep -v '^#' "$tmp/$e.min.txt"
  } > "$tmp/$e.txt"
  mv "$tmp/$e.txt" "$out/$e.txt"
  echo "bugzoo_regressions: $e: $(grep -c . "$out/$e.txt") lines -> $out/$e.txt ($(grep -o 'reproduces [0-9]*/[0-9]*' "$tmp/$e.log" | head -1))"
done
"$TOOL" check-regressions main --runs=3 "$out"/*.txt || status=1
exit $status
