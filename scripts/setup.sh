#!/usr/bin/env bash
# Installs every Debian package that building, running and testing xsup needs.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev clang-format clang-tidy
  # libraries (DESIGN.md §7)
  libasio-dev nlohmann-json3-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev libseccomp-dev
  # sd_notify for Type=notify, and systemd-analyze for the unit's ctest (systemd/)
  libsystemd-dev systemd
  # the store (DESIGN.md §4): SQLite through POCO Data; sqlite3 for checking it in tests
  libpoco-dev sqlite3
  # test peers and tools
  curl python3 v2ray iperf3 microsocks socat iproute2 iptables procps strace
  # proxy-protocol peers: Shadowsocks AEAD, Trojan, and BLAKE3 reference vectors
  shadowsocks-libev trojan b3sum
  # crafted VMess requests in the bad-input tests
  python3-cryptography
  # reference TCP relay for bench/chain.py --haproxy: the bench runs its own
  # processes in the foreground; the system service is not used (in containers
  # policy-rc.d keeps it from starting, Debian's default config listens nowhere)
  haproxy
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
else
  sudo=
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
