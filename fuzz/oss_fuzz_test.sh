#!/usr/bin/env bash
# ctest "fuzz.oss_fuzz_build" (label oss-fuzz): runs fuzz/oss_fuzz_build.sh
# the way the OSS-Fuzz base images run build.sh (clang, ASan + fuzzer-no-link
# CFLAGS, LIB_FUZZING_ENGINE=-fsanitize=fuzzer, OUT in a temporary directory),
# then checks that every target, its seed corpus zip, dictionary and options
# are in $OUT and that each target runs its whole seed corpus without a crash.
#   bash fuzz/oss_fuzz_test.sh [CLANG_SUFFIX]   (default -14)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suffix=${1:--14}
if ! command -v "clang++$suffix" >/dev/null; then
  echo "oss_fuzz_test: clang++$suffix not installed (bash tools/setup.sh)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export CC="clang$suffix" CXX="clang++$suffix"
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export CXXFLAGS="$CFLAGS"
export LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
export OUT="$tmp/out" WORK="$tmp/work" SRC="$ROOT/.."
mkdir -p "$OUT" "$WORK"
start=$(date +%s)
bash "$ROOT/fuzz/oss_fuzz_build.sh"
echo "oss_fuzz_test: build took $(( $(date +%s) - start ))s"

status=0
for t in main gfp checker decoder; do
  bin=${t}_fuzzer
  for f in "$bin" "${bin}_seed_corpus.zip" "$bin.dict" "$bin.options"; do
    if [[ ! -s "$OUT/$f" ]]; then
      echo "oss_fuzz_test: FAIL: \$OUT/$f missing or empty" >&2
      status=1
    fi
  done
  [[ -x "$OUT/$bin" ]] || { echo "oss_fuzz_test: FAIL: $bin not executable" >&2; status=1; continue; }
  grep -q "^dict = $bin.dict$" "$OUT/$bin.options" ||
    { echo "oss_fuzz_test: FAIL: $bin.options does not name $bin.dict" >&2; status=1; }
  seeds="$tmp/seeds-$t"
  mkdir -p "$seeds"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$OUT/${bin}_seed_corpus.zip" "$seeds"
  n=$(find "$seeds" -type f | wc -l)
  if (( n == 0 )); then
    echo "oss_fuzz_test: FAIL: $bin seed corpus is empty" >&2
    status=1
    continue
  fi
  # As ClusterFuzz runs a target on its corpus: every seed, no crash.
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
      "$OUT/$bin" -runs=0 -dict="$OUT/$bin.dict" "$seeds" > "$tmp/$t.log" 2>&1; then
    echo "oss_fuzz_test: ok: $bin ran its $n seed(s)"
  else
    echo "oss_fuzz_test: FAIL: $bin crashed on its seed corpus:" >&2
    tail -30 "$tmp/$t.log" >&2
    status=1
  fi
done
exit $status
