#!/usr/bin/env bash
# Python's venv module is a separate package on Debian/Ubuntu (python3-venv).
set -euo pipefail
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing python3-venv" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
else
  echo "ERROR: Python's venv module is missing. Install it: sudo apt-get install python3-venv" >&2
  exit 1
fi
