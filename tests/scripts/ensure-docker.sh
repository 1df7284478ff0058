#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian/Ubuntu as root, install docker.io and start dockerd
# by hand when there is no systemd (see ../shared/ENVIRONMENT.md). Otherwise say what to install.
set -euo pipefail

engine_answers() { command -v docker >/dev/null 2>&1 && timeout 20 docker info >/dev/null 2>&1; }

if engine_answers; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  cat >&2 <<'MSG'
ERROR: no Docker engine is reachable (`docker info` failed).
The Molecule tests need one. Install and start Docker, e.g. on Debian/Ubuntu:
    sudo apt-get install docker.io && sudo systemctl start docker
and make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again), or run `make test` as root.
MSG
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "==> installing Debian's docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if [ -d /run/systemd/system ]; then
  systemctl start docker
else
  echo "==> starting dockerd (no systemd): log in /var/log/dockerd.log" >&2
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_answers; then
    exit 0
  fi
  sleep 1
done
echo "ERROR: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
