#!/usr/bin/env bash
# The project's test command: installs packages, configures, builds and runs the tests
# of the `default` preset. Run as root on a fresh Debian 12 machine: bash tools/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/setup.sh
cmake --preset default
cmake --build --preset default -j2
ctest --preset default --output-on-failure -j2
