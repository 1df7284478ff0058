#!/usr/bin/env bash
# Host side of the `heal` scenario: the directory the swap file goes to (a real filesystem of the machine, where
# swapon works; the container's overlay root refuses it), the inner Docker daemon's data dir, and the machine's
# swap sysctls, recorded before the test and restored after it (vm.* and swap are not namespaced).
#   host-fs.sh up     record the sysctls, create the directories (kept while the test container exists)
#   host-fs.sh down   swap the test file off, restore the sysctls, delete everything (idempotent)
set -euo pipefail
BASE=/var/tmp/hostcare-molecule-heal
RECORD="$BASE/sysctl-before"

down() {
  [ -d "$BASE" ] || return 0
  local out
  if [ -f "$BASE/swap/swapfile" ] && ! out="$(swapoff "$BASE/swap/swapfile" 2>&1)"; then
    case "$out" in
      *"Invalid argument"*) ;;  # not active
      *) echo "host-fs.sh: swapoff $BASE/swap/swapfile failed: $out; $BASE kept" >&2; exit 1 ;;
    esac
  fi
  if [ -f "$RECORD" ]; then
    while IFS='=' read -r key value; do
      [ -n "$key" ] && sysctl -q -w "$key=$value"
    done < "$RECORD"
  fi
  rm -rf "$BASE"
}

case "${1:-}" in
  up)
    if docker container inspect hostcare-heal-sick-host >/dev/null 2>&1; then exit 0; fi
    down
    mkdir -p "$BASE/swap" "$BASE/docker"
    printf 'vm.swappiness=%s\nvm.vfs_cache_pressure=%s\n' \
      "$(cat /proc/sys/vm/swappiness)" "$(cat /proc/sys/vm/vfs_cache_pressure)" > "$RECORD"
    ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
