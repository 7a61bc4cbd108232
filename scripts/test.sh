#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, and runs every test with CTest —
# unit, integration, fuzz replays, the clang-format check, and (as root) the end-to-end tests
# in real network namespaces.
# Usage: scripts/test.sh [ctest options...]   e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: not root — the end-to-end tests need root and will fail" >&2
fi
cd build
ctest --output-on-failure --timeout 900 "$@"
