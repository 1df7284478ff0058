#!/usr/bin/env bash
# Build a Debian test image that boots systemd as PID 1 (tests/images/systemd.Dockerfile) on top of the base
# image of tests/images/build.sh (debootstrap + docker import, no registry). Cached by tag; prints the image name.
#   usage: tests/images/build-systemd.sh [suite]      (bookworm, the default, or trixie)
# Run a container of it this way (--privileged fails on the test machine):
#   docker run -d --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
#     --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined IMAGE
# In Molecule: extensions/molecule/systemd/molecule.yml.
set -euo pipefail
SUITE="${1:-bookworm}"
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="$(bash "$HERE/build.sh" "$SUITE")"
exec bash "$HERE/build-layer.sh" "$BASE" "$HERE/systemd.Dockerfile" "hostcare-test/debian-${SUITE}-systemd" \
  "systemd as PID 1 on $BASE; about a minute"
