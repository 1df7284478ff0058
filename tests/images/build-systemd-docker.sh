#!/usr/bin/env bash
# Build the Debian 12 image that boots systemd with Docker and nginx (tests/images/systemd-docker.Dockerfile) on
# top of tests/images/build-systemd.sh's image. Cached by tag; prints the image name.
#   usage: tests/images/build-systemd-docker.sh
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="$(bash "$HERE/build-systemd.sh" bookworm)"
exec bash "$HERE/build-layer.sh" "$BASE" "$HERE/systemd-docker.Dockerfile" hostcare-test/debian-bookworm-systemd-docker \
  "docker.io, nginx and logrotate under systemd; about two minutes"
