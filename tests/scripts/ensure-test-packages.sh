#!/usr/bin/env bash
# System packages the live unit tests use on this machine: logrotate (entries are checked with the real
# logrotate -d), a PostgreSQL server for throwaway clusters
# (initdb on a loopback port) and both psycopg drivers for the system python3. Installed as root on
# Debian/Ubuntu; otherwise the tests themselves say what is missing.
set -euo pipefail
packages=(postgresql python3-psycopg python3-psycopg2 logrotate)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ "${#missing[@]}" = 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "NOTE: the live PostgreSQL tests need: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
echo "==> installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
