#!/usr/bin/env bash
# Usage: scripts/format.sh
#
# Formats every C++ source of the project in place with the checked-in .clang-format (the
# suite's format_check test fails on a file that is not).
#
# Options: -h, --help   this text
# Exit status: 0 when done; 1 when clang-format fails; 2 for an unknown option.
set -euo pipefail
. "$(dirname "$0")/lib/help.sh"
case "${1:-}" in
  "") ;;
  -h | --help) print_help "$0" && exit 0 ;;
  *) unknown_option format.sh "$0" "$1" ;;
esac
cd "$(dirname "$0")/.."
folders=()
for folder in common raptorq messages dataplane controller cli tests bench fuzz examples python; do
  [ -d "$folder" ] && folders+=("$folder")
done
find "${folders[@]}" \( -name '*.cpp' -o -name '*.hpp' \) -print0 | xargs -0 -r clang-format -i
