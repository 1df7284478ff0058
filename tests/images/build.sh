#!/usr/bin/env bash
# Build the local Debian test image for Molecule (no registry needed): debootstrap + docker import.
# The tag carries a hash of this script, so a second run finds the image and does nothing,
# and a change to the recipe builds a new image. Prints the image name on stdout.
#   usage: tests/images/build.sh [suite]      (default: bookworm)
set -euo pipefail

SUITE="${1:-bookworm}"
MIRROR="${HOSTCARE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-apt,procps,sudo,ca-certificates,e2fsprogs,util-linux"
RECIPE_HASH="$( (cat "$0"; echo "$SUITE $PACKAGES") | sha256sum | cut -c1-12)"
IMAGE="hostcare-test/debian-${SUITE}:${RECIPE_HASH}"

LATEST="hostcare-test/debian-${SUITE}:latest"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  docker tag "$IMAGE" "$LATEST"
  echo "$IMAGE"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    echo "==> installing debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  else
    echo "ERROR: debootstrap is needed to build the test image: sudo apt-get install debootstrap" >&2
    exit 1
  fi
fi

ROOTFS="$(mktemp -d /var/tmp/hostcare-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "==> building $IMAGE with debootstrap (about a minute)" >&2
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1; then
  tail -n 30 "$ROOTFS.log" >&2
  echo "ERROR: debootstrap failed (full log: $ROOTFS.log)" >&2
  exit 1
fi
rm -f "$ROOTFS.log"
# Slim the image: no apt lists or caches inside (tests that need packages run apt-get update).
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
tar -C "$ROOTFS" -c . | docker import \
  --change 'CMD ["sleep", "infinity"]' \
  --change 'ENV LANG=C.UTF-8' \
  - "$IMAGE" >/dev/null
docker tag "$IMAGE" "$LATEST"
# Images of older recipes are dead weight on the test machine's disk.
docker images --format '{{.Repository}}:{{.Tag}}' "hostcare-test/debian-${SUITE}" \
  | grep -v -x -e "$IMAGE" -e "$LATEST" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$IMAGE"
