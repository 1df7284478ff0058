#!/usr/bin/env bash
# Host side of the `audit` scenario: a small real ext4 filesystem (loop-mounted image) that the test
# container gets as /srv/data and that prepare.yml fills above 90%.
#   host-fs.sh up     create and mount it (idempotent)
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
    down
    mkdir -p "$MOUNT"
    truncate -s 128M "$IMAGE"
    mkfs.ext4 -q -F -L hostcare-audit "$IMAGE"
    mount -o loop "$IMAGE" "$MOUNT"
    ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
