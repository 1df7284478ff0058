#!/usr/bin/env bash
# Host side of the `logrotate` scenario: the inner Docker daemon's data dir (overlay on overlay fails).
#   host-fs.sh up     create it (kept while the test container exists)
#   host-fs.sh down   delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-logrotate

case "${1:-}" in
  up)
    if docker container inspect hostcare-logrotate-host >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE/docker"
    mkdir -p "$BASE/docker"
    ;;
  down) rm -rf "$BASE/docker" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
