#!/usr/bin/env bash
# System packages the tests use on this machine: debootstrap (the test images), logrotate (entries are checked with the real
# logrotate -d), a PostgreSQL server for throwaway clusters
# (initdb on a loopback port) and both psycopg drivers for the system python3. Installed as root on
# Debian/Ubuntu; otherwise the tests themselves say what is missing.
set -euo pipefail
packages=(postgresql python3-psycopg python3-psycopg2 logrotate debootstrap)
# The live Prometheus textfile test runs the real node_exporter binary (/usr/bin/prometheus-node-exporter) by hand
# on a loopback port: installed without its recommends (dbus, the collector timers), its service is not needed.
bare_packages=(prometheus-node-exporter)
missing=()
missing_bare=()
for package in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
for package in "${bare_packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing_bare+=("$package")
done
[ "${#missing[@]}" = 0 ] && [ "${#missing_bare[@]}" = 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "NOTE: the live PostgreSQL tests need: sudo apt-get install ${missing[*]}" >&2
  [ "${#missing_bare[@]}" = 0 ] || echo "NOTE: the live Prometheus test needs: sudo apt-get install --no-install-recommends ${missing_bare[*]}" >&2
  exit 0
fi
echo "==> installing ${missing[*]} ${missing_bare[*]}" >&2
apt-get update -qq
[ "${#missing[@]}" = 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
[ "${#missing_bare[@]}" = 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_bare[@]}" >/dev/null
