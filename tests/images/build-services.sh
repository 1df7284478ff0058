#!/usr/bin/env bash
# Build the "services" test image (tests/images/services.Dockerfile) on top of the base image.
# Cached by tag (tests/images/build-layer.sh): a second run reuses it. Prints the image name.
#   usage: tests/images/build-services.sh BASE_IMAGE
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
exec bash "$HERE/build-layer.sh" "$1" "$HERE/services.Dockerfile" hostcare-test/debian-services \
  "docker.io, postgresql, nginx, logrotate; about two minutes"
