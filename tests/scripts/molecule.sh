#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (or those named in $SCENARIOS) against
# the locally built test image. Host-side leftovers are removed whatever the outcome.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

bash tests/scripts/ensure-docker.sh
HOSTCARE_TEST_IMAGE="$(bash tests/images/build.sh bookworm)"
HOSTCARE_SERVICES_IMAGE="$(bash tests/images/build-services.sh "$HOSTCARE_TEST_IMAGE")"
export HOSTCARE_TEST_IMAGE HOSTCARE_SERVICES_IMAGE
export PATH="$VENV/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.build/collections"
export ANSIBLE_FORCE_COLOR=false PY_COLORS=0

scenarios="${SCENARIOS:-$(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)}"
teardown() {
  for scenario in $scenarios; do
    if [ -x "extensions/molecule/$scenario/host-fs.sh" ]; then
      bash "extensions/molecule/$scenario/host-fs.sh" down || true
    fi
  done
}
trap teardown EXIT

for scenario in $scenarios; do
  echo "==> molecule test -s $scenario (image $HOSTCARE_TEST_IMAGE)"
  start=$(date +%s)
  molecule test -s "$scenario"
  echo "==> scenario $scenario passed in $(( $(date +%s) - start )) s"
done
