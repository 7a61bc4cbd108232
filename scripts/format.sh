#!/usr/bin/env bash
# Formats every C++ source of the project in place with the checked-in .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
find common raptorq messages dataplane controller cli tests bench fuzz examples python \
  \( -name '*.cpp' -o -name '*.hpp' \) -print0 2>/dev/null | xargs -0 -r clang-format -i
