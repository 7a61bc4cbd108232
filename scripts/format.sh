#!/usr/bin/env bash
# Formats every C++ source of the project in place with the checked-in .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
folders=()
for folder in common raptorq messages dataplane controller cli tests bench fuzz examples python; do
  [ -d "$folder" ] && folders+=("$folder")
done
find "${folders[@]}" \( -name '*.cpp' -o -name '*.hpp' \) -print0 | xargs -0 -r clang-format -i
