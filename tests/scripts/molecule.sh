#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (or those named in $SCENARIOS) against
# the locally built test images. Host-side leftovers are removed whatever the outcome.
#
# MOLECULE_JOBS (default 2) scenarios run at once, each logging to .build/molecule-logs/<scenario>.log; a
# failed scenario's log tail is printed at the end. A scenario whose molecule.yml holds the line
# "# hostcare-molecule: exclusive" (it changes machine-wide state: swap, vm.* sysctls) runs alone, first.
# MOLECULE_JOBS=1 runs them one after the other with their output on the console.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

# shellcheck source=tests/scripts/molecule-env.sh
source tests/scripts/molecule-env.sh

scenarios="${SCENARIOS:-$(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)}"
jobs="${MOLECULE_JOBS:-2}"
logs="$REPO/.build/molecule-logs"
mkdir -p "$logs"

teardown() {
  for scenario in $scenarios; do
    if [ -x "extensions/molecule/$scenario/host-fs.sh" ]; then
      bash "extensions/molecule/$scenario/host-fs.sh" down || true
    fi
  done
}
trap teardown EXIT

exclusive=()
shared=()
for scenario in $scenarios; do
  if grep -qx '# hostcare-molecule: exclusive' "extensions/molecule/$scenario/molecule.yml"; then
    exclusive+=("$scenario")
  else
    shared+=("$scenario")
  fi
done

# run_scenario NAME [console]: molecule test; prints one line with the outcome and the time.
run_scenario() {
  local scenario="$1" start status=0
  start=$(date +%s)
  echo "==> molecule test -s $scenario (image $HOSTCARE_TEST_IMAGE)"
  if [ "${2:-}" = console ]; then
    molecule test -s "$scenario" || status=$?
  else
    molecule test -s "$scenario" >"$logs/$scenario.log" 2>&1 || status=$?
  fi
  if [ "$status" -eq 0 ]; then
    echo "==> scenario $scenario passed in $(( $(date +%s) - start )) s"
  else
    echo "==> scenario $scenario FAILED (exit $status) after $(( $(date +%s) - start )) s"
  fi
  return "$status"
}

failed=()
if [ "$jobs" -le 1 ]; then
  for scenario in "${exclusive[@]}" "${shared[@]}"; do
    run_scenario "$scenario" console || failed+=("$scenario")
  done
else
  for scenario in "${exclusive[@]}"; do
    run_scenario "$scenario" || failed+=("$scenario")
  done
  declare -A running=()
  for scenario in "${shared[@]}"; do
    while [ "${#running[@]}" -ge "$jobs" ]; do
      finished=""
      wait -n -p finished "${!running[@]}" || failed+=("${running[$finished]}")
      unset "running[$finished]"
    done
    run_scenario "$scenario" &
    running[$!]="$scenario"
  done
  while [ "${#running[@]}" -gt 0 ]; do
    finished=""
    wait -n -p finished "${!running[@]}" || failed+=("${running[$finished]}")
    unset "running[$finished]"
  done
  for scenario in "${failed[@]}"; do
    echo "==> last lines of $logs/$scenario.log"
    tail -n 150 "$logs/$scenario.log"
  done
fi

if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> failed scenarios: ${failed[*]}"
  exit 1
fi
echo "==> all scenarios passed: ${scenarios//$'\n'/ }"
