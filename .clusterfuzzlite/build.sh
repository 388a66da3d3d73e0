#!/bin/bash -eu
# ClusterFuzzLite / OSS-Fuzz entry point: the real build is
# fuzz/oss_fuzz_build.sh (tested in ctest as fuzz.oss_fuzz_build).
exec bash "$SRC/reentry/fuzz/oss_fuzz_build.sh"
