#!/usr/bin/env bash
# Host side of the `systemd_docker` scenario: the inner Docker daemon's data directory (overlay2 cannot live on
# the test container's own overlay root).
#   host-fs.sh up     create it
#   host-fs.sh down   remove the test container and the directory (run by cleanup.yml and tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-systemd_docker
case "${1:-}" in
  up) mkdir -p "$BASE/docker" ;;
  down)
    docker rm -f hostcare-systemd-docker >/dev/null 2>&1 || true
    rm -rf "$BASE"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
