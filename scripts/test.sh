#!/usr/bin/env bash
# Usage: scripts/test.sh [CTEST_OPTION...]      e.g. scripts/test.sh -L unit
#
# The whole test suite: installs what is missing, builds (scripts/build.sh), and runs every
# test with CTest — unit, integration, fuzz replays, the clang-format check, and (as root) the
# end-to-end tests in real network namespaces. Every argument goes to ctest (-L LABEL,
# -LE LABEL, -R REGEX, -j N, ...; `ctest --help` lists them).
#
# Options: -h, --help   this text
# Exit status: ctest's (0 when every test passed), or the build's when it fails.
set -euo pipefail
. "$(dirname "$0")/lib/help.sh"
case "${1:-}" in
  -h | --help) print_help "$0" && exit 0 ;;
esac
cd "$(dirname "$0")/.."
bash scripts/build.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: not root — the end-to-end tests need root and will fail" >&2
fi
cd build
ctest --output-on-failure --timeout 900 "$@"
