#!/usr/bin/env bash
# Host side of the `audit_workload` scenario: the inner Docker daemon's data directory (overlayfs cannot sit on the
# test container's own overlay root).
#   host-fs.sh up     create it (kept while the test container exists)
#   host-fs.sh down   delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-audit_workload

case "${1:-}" in
  up)
    if docker container inspect hostcare-audit-workload-host >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE"
    mkdir -p "$BASE/docker"
    ;;
  down) rm -rf "$BASE" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
