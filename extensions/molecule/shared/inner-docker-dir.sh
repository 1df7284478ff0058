#!/usr/bin/env bash
# Host side of a scenario whose test container runs its own Docker daemon: the inner daemon's data directory,
# BASE/docker on this machine's filesystem (overlay2 cannot sit on the test container's own overlay root).
#   inner-docker-dir.sh CONTAINER BASE up     create it (kept while CONTAINER exists: `molecule converge` runs the
#                                             dependency step again while the test container uses it)
#   inner-docker-dir.sh CONTAINER BASE down   delete BASE (idempotent; cleanup.yml and tests/scripts/molecule.sh)
# Each scenario's host-fs.sh calls it with its own names.
set -euo pipefail
CONTAINER="$1" BASE="$2"
case "${3:-}" in
  up)
    if [ -d "$BASE/docker" ] && docker container inspect "$CONTAINER" >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE"
    mkdir -p "$BASE/docker"
    ;;
  down) rm -rf "$BASE" ;;
  *) echo "usage: $0 CONTAINER BASE up|down" >&2; exit 2 ;;
esac
