#!/usr/bin/env bash
# OSS-Fuzz / ClusterFuzzLite build (also .clusterfuzzlite/build.sh): compiles
# the library with the engine's flags and links every fuzz target with
# $LIB_FUZZING_ENGINE into $OUT, next to its seed corpus
# (<target>_fuzzer_seed_corpus.zip), dictionary (.dict) and options (.options).
#
# Uses the variables the OSS-Fuzz base images set: CC, CXX, CFLAGS, CXXFLAGS,
# LIB_FUZZING_ENGINE, OUT (and WORK for intermediate files, SRC unused). No
# CMake, Abseil, GoogleTest or Benchmark needed: only a C++20 compiler.
#
#   CC=clang-14 CXX=clang++-14 CFLAGS="-O1 -fsanitize=address,fuzzer-no-link" \
#   CXXFLAGS="$CFLAGS" LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out \
#   bash fuzz/oss_fuzz_build.sh
set -euo pipefail

: "${CC:?set CC}" "${CXX:?set CXX}" "${OUT:?set OUT}"
: "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE}"
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-$(mktemp -d)}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
TARGETS=(main gfp checker decoder)

obj=$WORK/reentry-obj
mkdir -p "$obj" "$OUT"
cd "$ROOT"

# The library: every allocator/*/ source that is not a test or a benchmark.
mapfile -t sources < <(
  for f in allocator/*/*.cc; do
    case "$f" in *_test.cc|*_benchmark.cc) continue ;; esac
    grep -qE '#include [<"](gtest|gmock|benchmark)/' "$f" && continue
    echo "$f"
  done)
echo "oss_fuzz_build: compiling ${#sources[@]} library sources with $CXX ($JOBS jobs)"

# Code that runs the same way for every input stays out of the coverage
# instrumentation (fuzz/coverage_ignorelist.txt), and indirect calls are not
# traced (they feed only the value profile), as in fuzz/CMakeLists.txt, when
# the compiler knows how.
ignore=""
if echo 'int main(){}' | $CXX -x c++ -fsanitize-coverage=trace-pc-guard \
    -fsanitize-coverage-ignorelist=fuzz/coverage_ignorelist.txt -c -o /dev/null - \
    2>/dev/null; then
  ignore="-fsanitize-coverage-ignorelist=$ROOT/fuzz/coverage_ignorelist.txt"
fi
if echo 'int main(){}' | $CXX -x c++ -fsanitize-coverage=trace-pc-guard \
    -fno-sanitize-coverage=indirect-calls -c -o /dev/null - 2>/dev/null; then
  ignore="$ignore -fno-sanitize-coverage=indirect-calls"
fi

# Comparison tracing only in triage, where the ignorelist leaves only the
# checker target's reference cycle finder instrumented, as in
# fuzz/CMakeLists.txt (the decoder is total: it compares decoded values).
nocmp=""
if echo 'int main(){}' | $CXX -x c++ -fsanitize-coverage=trace-pc-guard \
    -fno-sanitize-coverage=trace-cmp -c -o /dev/null - 2>/dev/null; then
  nocmp="-fno-sanitize-coverage=trace-cmp"
fi

compile() {
  local src=$1 flags=""
  local o="$obj/$(echo "$src" | tr '/' '_').o"
  case "$src" in
    allocator/triage/*) flags=$ignore ;;
    *) flags="$ignore $nocmp" ;;
  esac
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS $flags -std=c++20 -I"$ROOT" -DREENTRY_FUZZING=1 -c "$src" -o "$o"
}
export -f compile
export CXX CXXFLAGS ROOT obj ignore nocmp
printf '%s\n' "${sources[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile "$@"' _ {}
rm -f "$obj/libreentry.a"
ar rcs "$obj/libreentry.a" "$obj"/*.o

# The seed encoder (a host tool; fine to carry the sanitizers).
# shellcheck disable=SC2086
$CXX $CXXFLAGS -std=c++20 -I"$ROOT" fuzz/corpus_tool.cc "$obj/libreentry.a" \
  -o "$obj/reentry_corpus_tool" -lpthread

zip_dir() {  # zip_dir DIR ZIP: the files of DIR at the top of ZIP
  local dir=$1 zip=$2
  rm -f "$zip"
  if command -v zip >/dev/null; then
    (cd "$dir" && zip -q -j "$zip" ./*)
  else
    python3 - "$dir" "$zip" <<'PY'
import os, sys, zipfile
d, z = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.isfile(p) and not n.startswith("."):
            f.write(p, n)
PY
  fi
}

for t in "${TARGETS[@]}"; do
  bin=${t}_fuzzer
  echo "oss_fuzz_build: $bin"
  # Program inputs get the program-level crossover (fuzz/CMakeLists.txt).
  srcs=("fuzz/${t}_fuzz.cc")
  [[ "$t" == decoder ]] || srcs+=(fuzz/splice_crossover.cc)
  # shellcheck disable=SC2086
  $CXX $CXXFLAGS -std=c++20 -I"$ROOT" "${srcs[@]}" "$obj/libreentry.a" \
    $LIB_FUZZING_ENGINE -lpthread -o "$OUT/$bin"

  # Seeds: the target's own, and the directories the CMake build adds.
  seeds=$WORK/seeds-$t
  rm -rf "$seeds"
  args=("$seeds" corpora/"$t"/seeds/*.txt corpora/"$t"/regressions/*.txt)
  case "$t" in
    main) args+=(--lenient --prefix=bugzoo_ corpora/bugzoo/*.txt) ;;
    checker) args+=(--lenient --prefix=example_ corpora/examples/*.txt
                    --prefix=conformance_ corpora/conformance/*.txt) ;;
    decoder) args+=(--lenient --prefix=example_ corpora/examples/*.txt) ;;
  esac
  # Globs that match nothing stay literal: drop them.
  clean=()
  for a in "${args[@]}"; do [[ "$a" == *'*'* ]] || clean+=("$a"); done
  "$obj/reentry_corpus_tool" encode-dir "${clean[@]}"
  zip_dir "$seeds" "$OUT/${bin}_seed_corpus.zip"

  cp "corpora/$t/$t.dict" "$OUT/$bin.dict"
  sed "s/^dict = .*/dict = $bin.dict/" "corpora/$t/$t.options" > "$OUT/$bin.options"
done
echo "oss_fuzz_build: done: ${TARGETS[*]/%/_fuzzer} in $OUT"
