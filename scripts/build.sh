#!/usr/bin/env bash
# Usage: scripts/build.sh [CMAKE_OPTION...]      e.g. scripts/build.sh -DNEXTMINI_LIBFUZZER=ON
#
# Installs what is missing (scripts/install-deps.sh; as root) and builds Nextmini into build/
# (Ninja, RelWithDebInfo) with every core. CMAKE_OPTION: -D, -U or -W options for cmake's
# configure step.
#
# Options: -h, --help   this text
# Exit status: 0 when built; 1 when a dependency is missing or the build fails; 2 for an
# option that is not a cmake -D/-U/-W option.
set -euo pipefail
. "$(dirname "$0")/lib/help.sh"
for arg in "$@"; do
  case "$arg" in
    -h | --help) print_help "$0" && exit 0 ;;
    -D* | -U* | -W*) ;;
    *) unknown_option build.sh "$0" "$arg" ;;
  esac
done
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j "$(nproc)"
