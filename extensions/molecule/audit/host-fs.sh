#!/usr/bin/env bash
# Host side of the `audit` scenario: a small real ext4 filesystem (loop-mounted image) that the test
# container gets as /srv/data and that prepare.yml fills above 90%, and the inner Docker daemon's data dir.
#   host-fs.sh up     create and mount it (kept as it is while the test container exists)
#   host-fs.sh down   unmount and delete it (idempotent; run by cleanup.yml and by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-audit
IMAGE="$BASE/data.ext4"
MOUNT="$BASE/mnt"

down() {
  if mountpoint -q "$MOUNT"; then umount "$MOUNT" || umount -l "$MOUNT"; fi
  rm -rf "$BASE"
}

case "${1:-}" in
  up)
    # `molecule converge` runs the dependency step again while the test container uses these: keep them.
    # Without the container (molecule test destroys it first), start from nothing.
    if mountpoint -q "$MOUNT" && docker container inspect hostcare-audit-sick-host >/dev/null 2>&1; then exit 0; fi
    down
    mkdir -p "$MOUNT" "$BASE/docker"
    truncate -s 128M "$IMAGE"
    mkfs.ext4 -q -F -L hostcare-audit "$IMAGE"
    mount -o loop "$IMAGE" "$MOUNT"
    ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
