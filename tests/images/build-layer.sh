#!/usr/bin/env bash
# Build a test image as one `docker build` on top of a local base image (no registry needed). The tag carries a
# hash of the base image's id, the Dockerfile and this script: a second run reuses the image, a changed recipe
# builds a new one, and images of older recipes are removed. Tags REPOSITORY:latest too; prints the image name.
#   usage: tests/images/build-layer.sh BASE DOCKERFILE REPOSITORY "WHAT IT ADDS"
# Used by build-services.sh and build-systemd.sh.
set -euo pipefail
BASE="$1" DOCKERFILE="$2" REPOSITORY="$3" WHAT="$4"
BASE_ID="$(docker image inspect --format '{{.Id}}' "$BASE")"
RECIPE_HASH="$( (echo "$BASE_ID"; cat "$DOCKERFILE" "$0") | sha256sum | cut -c1-12)"
IMAGE="$REPOSITORY:$RECIPE_HASH"

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "==> building $IMAGE ($WHAT)" >&2
  log="$(mktemp /tmp/hostcare-image-build.XXXXXX)"
  if ! docker build --build-arg "BASE=$BASE" -t "$IMAGE" -f "$DOCKERFILE" "$(dirname "$DOCKERFILE")" >"$log" 2>&1; then
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
