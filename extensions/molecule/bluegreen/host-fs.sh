#!/usr/bin/env bash
# Host side of the `bluegreen` scenario: the inner Docker daemon's data dir (overlay on overlay fails).
#   host-fs.sh up     create it (kept while the test container exists: `molecule converge` runs this again)
#   host-fs.sh down   delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-bluegreen

case "${1:-}" in
  up)
    if [ -d "$BASE/docker" ] && docker container inspect hostcare-bluegreen-host >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE"
    mkdir -p "$BASE/docker"
    ;;
  down) rm -rf "$BASE" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
