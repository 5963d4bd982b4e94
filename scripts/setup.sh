#!/usr/bin/env bash
# Installs what siphon needs on a fresh Debian machine (run as root): libpcap for the capture
# stage, the tools the live-capture tests use (iproute2, tcpdump, ethtool, ping, dig, logrotate),
# chromium for the report's browser test, and MaxMind's DB writer the geoip tests write their
# databases with (libmaxmind-db-writer-perl); masscan and iptables, which the capture script
# pcaps/scripts/make_scan_silent.sh uses (a dark host's UDP sweep, a firewall that drops); and
# softflowd and nfdump, which make and check the NetFlow/IPFIX export captures
# (pcaps/scripts/make_netflow.sh), and pmacct, whose pmacctd exports a live session split at its
# active timeout (pcaps/scripts/make_netflow_split.sh);
# the servers the fleet-output tests start (redis-server, prometheus), and zlib for librdkafka
# in `--features kafka` builds (zlib1g-dev).
# Idempotent and quiet when everything is already there.
set -euo pipefail
need=()
for pkg in libpcap-dev pkg-config build-essential iproute2 tcpdump ethtool iputils-ping tcpreplay \
  bind9-dnsutils logrotate chromium libmaxmind-db-writer-perl masscan iptables softflowd nfdump \
  pmacct redis-server prometheus zlib1g-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found (install Rust with rustup)" >&2; exit 1; }
