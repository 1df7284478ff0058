#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (or those named in $SCENARIOS) against
# the locally built test image. Host-side leftovers are removed whatever the outcome.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

# shellcheck source=tests/scripts/molecule-env.sh
source tests/scripts/molecule-env.sh

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
