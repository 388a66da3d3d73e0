#!/usr/bin/env bash
# The main job: set up, build, and run a bounded libFuzzer campaign on the
# main fuzz target (the whole allocator model, nested interrupts, several
# vCPUs, checker and invariants on), with live progress and a summary.
# Run as root on a fresh Debian 12 machine, from anywhere:
#
#   bash tools/run.sh                       # 3-minute campaign
#   REENTRY_RUN_TIME=10m bash tools/run.sh  # longer
#   REENTRY_RUN_ARGS="--bug=BZ-01" bash tools/run.sh   # hunt a bug-zoo entry
#
# The campaign lives in campaigns/main-libfuzzer/ (findings/ holds one folder
# per finding title) and resumes when run again. Exit status 0 when the
# campaign ran (findings are reported, see the summary), non-zero on a setup
# or build failure. docs/fuzzing.md has the rest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/setup.sh
echo "run.sh: building the reentry command (default preset) and main_fuzzer (libfuzzer preset)"
cmake --preset default >/dev/null
cmake --build --preset default -j2 --target reentry
cmake --preset libfuzzer >/dev/null
cmake --build --preset libfuzzer -j2 --target main_fuzzer corpus_main_seeds

jobs=$(nproc 2>/dev/null || echo 1)
(( jobs > 4 )) && jobs=4
out=campaigns/main-libfuzzer
if [[ -n "${REENTRY_RUN_ARGS:-}" ]]; then
  # Another configuration is another campaign.
  out+=-$(printf '%s' "$REENTRY_RUN_ARGS" | md5sum | cut -c1-8)
fi
status=0
# shellcheck disable=SC2086
build/default/tools/reentry fuzz --target=main --engine=libfuzzer \
  --time="${REENTRY_RUN_TIME:-3m}" --jobs="$jobs" \
  --out="$out" ${REENTRY_RUN_ARGS:-} || status=$?
# 1 means "the campaign found something": reported above, not a failure.
[[ $status -le 1 ]]
