#!/usr/bin/env bash
# The main job: set up, build, and run the example and bug-zoo programs in
# corpora/ through the executor, printing what was found.
# Run as root on a fresh Debian 12 machine: bash tools/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default -j2 --target reentry
status=0
build/default/tools/reentry repro --trace=none corpora/examples/*.txt \
  $(ls corpora/bugzoo/*.txt 2>/dev/null) || status=$?
# 1 means "something was found", which is what these programs are for.
[[ $status -le 1 ]]
