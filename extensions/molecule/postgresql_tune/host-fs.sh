#!/usr/bin/env bash
# Host side of the `postgresql_tune` scenario (as in audit_workload/host-fs.sh): the inner Docker daemon's data
# directory (overlayfs cannot sit on the test container's own overlay root).
#   host-fs.sh up     create it (kept while the test container exists)
#   host-fs.sh down   delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-postgresql_tune

case "${1:-}" in
  up)
    if docker container inspect hostcare-postgresql_tune-host >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE"
    mkdir -p "$BASE/docker"
    ;;
  down) rm -rf "$BASE" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
