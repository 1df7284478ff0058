#!/usr/bin/env bash
# Build the "services" test image (tests/images/services.Dockerfile) on top of the base image.
# Tagged by a hash of the base image id and the Dockerfile: a second run reuses it. Prints the image name.
#   usage: tests/images/build-services.sh BASE_IMAGE
set -euo pipefail
BASE="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE_ID="$(docker image inspect --format '{{.Id}}' "$BASE")"
RECIPE_HASH="$( (echo "$BASE_ID"; cat "$HERE/services.Dockerfile" "$0") | sha256sum | cut -c1-12)"
REPOSITORY=hostcare-test/debian-services
IMAGE="$REPOSITORY:$RECIPE_HASH"

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "==> building $IMAGE (docker.io, postgresql, nginx, logrotate; about two minutes)" >&2
  log="$(mktemp /tmp/hostcare-services-build.XXXXXX)"
  if ! docker build --build-arg "BASE=$BASE" -t "$IMAGE" -f "$HERE/services.Dockerfile" "$HERE" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "ERROR: building $IMAGE failed (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
  # Images of older recipes are dead weight on the test machine's disk.
  docker images --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY" \
    | grep -v -x -e "$IMAGE" -e "$REPOSITORY:latest" | xargs -r docker rmi >/dev/null 2>&1 || true
fi
docker tag "$IMAGE" "$REPOSITORY:latest"
echo "$IMAGE"
