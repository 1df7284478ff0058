#!/usr/bin/env bash
# Build the "services" test image (tests/images/services.Dockerfile) on top of the systemd image of the suite
# (tests/images/build-systemd.sh). Cached by tag (tests/images/build-layer.sh): a second run reuses it.
# Tags hostcare-test/debian-SUITE-services:latest and prints the image name.
#   usage: tests/images/build-services.sh [suite]      (bookworm, the default, or trixie)
set -euo pipefail
SUITE="${1:-bookworm}"
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="$(bash "$HERE/build-systemd.sh" "$SUITE")"
exec bash "$HERE/build-layer.sh" "$BASE" "$HERE/services.Dockerfile" "hostcare-test/debian-${SUITE}-services" \
  "docker.io, postgresql, nginx, logrotate on $BASE; about two minutes"
