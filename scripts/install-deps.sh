#!/usr/bin/env bash
# Usage: scripts/install-deps.sh      (as root when something is missing)
#
# Installs every build and test dependency of Nextmini from Debian 12's packages (apt-get).
# Idempotent: packages already present are skipped, so a second run does no work.
#
# Options: -h, --help   this text
# Exit status: 0 when everything is installed; 1 when packages are missing and it is not run
# as root, or apt-get fails; 2 for an unknown option.
set -euo pipefail
. "$(dirname "$0")/lib/help.sh"
case "${1:-}" in
  "") ;;
  -h | --help) print_help "$0" && exit 0 ;;
  *) unknown_option install-deps.sh "$0" "$1" ;;
esac

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config git clang clang-format libclang-rt-14-dev
  # libraries (DESIGN.md §6)
  libboost1.81-dev libboost-json1.81-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  # PostgreSQL store (issue 6): the client library, and the server the tests start themselves
  libpq-dev postgresql-15
  # end-to-end tests and benchmarks
  iproute2 iputils-ping iperf3 wireguard-go wireguard-tools curl netcat-openbsd procps kmod python3-pytest
  # bench/fidelity's kernel FIFO reference (offloads off on its veths)
  ethtool
  # bench/profile: perf record / perf script
  linux-perf
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: every dependency is already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing postgresql-15 would create and start a default cluster "main"; the tests run their
# own throw-away servers, so machines must not carry a stray one.
mkdir -p /etc/postgresql-common
if ! grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
  echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
