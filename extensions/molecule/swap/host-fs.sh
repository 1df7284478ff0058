#!/usr/bin/env bash
# Host side of the `swap` scenario. Swap and vm.* sysctls are not namespaced: what the test container does
# to them, it does to this machine. This script gives the container real filesystems and undoes everything.
#   host-fs.sh up     record vm.swappiness and vm.vfs_cache_pressure; make the directories bind-mounted into
#                     the containers (on this machine's ext4) and a small loop-mounted ext4 for the disk-limit test
#   host-fs.sh down   swap off every test swap file, restore the recorded sysctls, unmount, delete (idempotent;
#                     run by cleanup.yml and, whatever happened, by tests/scripts/molecule.sh)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-swap
RECORD="$BASE/sysctl-before"
SMALL_IMAGE="$BASE/small.ext4"
SMALL_MOUNT="$BASE/small"

swapoff_test_files() {
  local file status=0 out
  shopt -s nullglob dotglob
  for file in "$BASE"/files/* "$BASE"/files-unprivileged/* "$SMALL_MOUNT"/*; do
    [ -f "$file" ] || continue
    # EINVAL: not an active swap area. Anything else (ENOMEM...) leaves swap active: stop, keep the files.
    if ! out="$(swapoff "$file" 2>&1)"; then
      case "$out" in
        *"Invalid argument"*) ;;
        *) echo "host-fs.sh: swapoff $file failed: $out" >&2; status=1 ;;
      esac
    else
      echo "host-fs.sh: swapped off $file" >&2
    fi
  done
  return "$status"
}

restore_sysctls() {
  [ -f "$RECORD" ] || return 0
  local key value
  while IFS='=' read -r key value; do
    [ -n "$key" ] && sysctl -q -w "$key=$value"
  done < "$RECORD"
}

down() {
  [ -d "$BASE" ] || return 0
  swapoff_test_files || { echo "host-fs.sh: test swap still active; $BASE kept" >&2; exit 1; }
  restore_sysctls
  if mountpoint -q "$SMALL_MOUNT"; then umount "$SMALL_MOUNT" || umount -l "$SMALL_MOUNT"; fi
  rm -rf "$BASE"
}

case "${1:-}" in
  up)
    down
    mkdir -p "$BASE/files" "$BASE/files-unprivileged" "$SMALL_MOUNT"
    printf 'vm.swappiness=%s\nvm.vfs_cache_pressure=%s\n' \
      "$(cat /proc/sys/vm/swappiness)" "$(cat /proc/sys/vm/vfs_cache_pressure)" > "$RECORD"
    truncate -s 64M "$SMALL_IMAGE"
    mkfs.ext4 -q -F -b 4096 -L hostcare-swap "$SMALL_IMAGE"
    mount -o loop "$SMALL_IMAGE" "$SMALL_MOUNT"
    ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
