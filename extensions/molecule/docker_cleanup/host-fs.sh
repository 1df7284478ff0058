#!/usr/bin/env bash
# Host side of the `docker_cleanup` scenario: the inner Docker daemon's data dir (overlay on overlay fails).
#   host-fs.sh up     create it (kept while the test container exists: `molecule converge` runs this again)
#   host-fs.sh down   delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-cleanup/docker
case "${1:-}" in
  up)
    if [ -d "$BASE" ] && docker container inspect hostcare-cleanup-dind >/dev/null 2>&1; then exit 0; fi
    rm -rf "$BASE"
    mkdir -p "$BASE"
    ;;
  down)
    if docker container inspect hostcare-cleanup-dind >/dev/null 2>&1; then exit 0; fi  # destroy comes after cleanup
    rm -rf "$BASE"
    rmdir --ignore-fail-on-non-empty "$(dirname "$BASE")" 2>/dev/null || true  # the benchmark's bench/ may be beside it
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
