#!/usr/bin/env bash
# Build (or find, by tag) the test images of the Molecule scenarios: the base, systemd and services images of each
# Debian suite (tests/images/). make test starts it in the background for trixie while the unit tests run; it holds
# /tmp/hostcare-images.lock meanwhile, which tests/scripts/molecule-env.sh waits for.
#   usage: tests/scripts/build-images.sh [suite...]      (default: bookworm trixie)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
exec 9>/tmp/hostcare-images.lock
flock 9
bash "$REPO/tests/scripts/ensure-docker.sh"
suites=("$@")
[ "${#suites[@]}" -gt 0 ] || suites=(bookworm trixie)
for suite in "${suites[@]}"; do
  echo "==> test images of $suite: $(bash "$REPO/tests/images/build-services.sh" "$suite")"
done
