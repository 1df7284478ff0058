#!/usr/bin/env bash
# Run every Molecule scenario under extensions/molecule/ (or those named in $SCENARIOS) against
# the locally built test images. Host-side leftovers are removed whatever the outcome.
#
# MOLECULE_JOBS (default 2) scenarios run at once, each logging to .build/molecule-logs/<scenario>.log; a
# failed scenario's log tail is printed at the end. A scenario whose molecule.yml holds the line
# "# hostcare-molecule: exclusive" runs alone, first. One that holds "# hostcare-molecule: group NAME" never
# runs beside another scenario of group NAME (group swap: the scenarios that create swap or change vm.* sysctls,
# which are the machine's, and those that assert on them); any other scenario may run beside it. The free slots
# take the longest scenarios first, by the seconds recorded in tests/scripts/molecule-seconds (a scenario not
# listed there counts as 240 s, the most a scenario may take, so a new one starts early); the times of this run
# are written to .build/molecule-logs/seconds.
# A scenario whose molecule.yml holds "# hostcare-molecule: suites bookworm trixie" runs once per Debian suite: as
# NAME on bookworm, the default, and as NAME@trixie on trixie's images (hostcare_suite_images in molecule-env.sh);
# the runs of one scenario never overlap (they share its container names). SCENARIOS may name NAME@SUITE alone.
# MOLECULE_JOBS=1 runs them one after the other with their output on the console.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

# shellcheck source=tests/scripts/molecule-env.sh
source tests/scripts/molecule-env.sh

requested="${SCENARIOS:-$(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)}"
# Each requested scenario, once per suite it declares (NAME, NAME@trixie); NAME@SUITE as given.
scenarios=""
for scenario in $requested; do
  if [ "${scenario#*@}" != "$scenario" ]; then scenarios+="$scenario"$'\n'; continue; fi
  scenarios+="$scenario"$'\n'
  for suite in $(sed -n 's/^# hostcare-molecule: suites \(.*\)$/\1/p' "extensions/molecule/$scenario/molecule.yml" | head -n 1); do
    if [ "$suite" != bookworm ]; then scenarios+="$scenario@$suite"$'\n'; fi
  done
done
# The other suites' images, built once here rather than by two scenarios at the same time.
for suite in $(printf '%s' "$scenarios" | sed -n 's/^.*@//p' | sort -u); do
  (hostcare_suite_images "$suite")
done
jobs="${MOLECULE_JOBS:-2}"
logs="$REPO/.build/molecule-logs"
mkdir -p "$logs"

teardown() {
  for scenario in $(printf '%s' "$scenarios" | sed 's/@.*//' | sort -u); do
    if [ -x "extensions/molecule/$scenario/host-fs.sh" ]; then
      bash "extensions/molecule/$scenario/host-fs.sh" down || true
    fi
  done
}
trap teardown EXIT

exclusive=()
shared=()
declare -A group=() seconds=()
while read -r name value _; do
  if [ -n "$name" ] && [ "${name:0:1}" != "#" ]; then seconds[$name]="$value"; fi
done < tests/scripts/molecule-seconds
for scenario in $scenarios; do
  config="extensions/molecule/${scenario%@*}/molecule.yml"
  if grep -qx '# hostcare-molecule: exclusive' "$config"; then
    exclusive+=("$scenario")
  else
    shared+=("$scenario")
    name="$(sed -n 's/^# hostcare-molecule: group \([A-Za-z0-9_-]*\)$/\1/p' "$config" | head -n 1)"
    # A scenario run on several suites is its own group when it has none: its runs share container names.
    if [ -z "$name" ] && grep -q '^# hostcare-molecule: suites ' "$config"; then name="suites-${scenario%@*}"; fi
    if [ -n "$name" ]; then group[$scenario]="$name"; fi
  fi
  : "${seconds[$scenario]:=240}"
done
# The shared scenarios, longest first (then by name).
mapfile -t shared < <(for scenario in "${shared[@]}"; do echo "${seconds[$scenario]} $scenario"; done \
  | sort -k1,1nr -k2,2 | cut -d' ' -f2)
: > "$logs/seconds"

# run_scenario NAME [console]: molecule test; prints one line with the outcome and the time.
run_scenario() {
  local scenario="$1" start status=0
  start=$(date +%s)
  if [ "${scenario#*@}" != "$scenario" ]; then
    hostcare_suite_images "${scenario#*@}" >/dev/null
  else
    hostcare_suite_images bookworm >/dev/null
  fi
  echo "==> molecule test -s ${scenario%@*} on $HOSTCARE_SUITE (image $HOSTCARE_SERVICES_IMAGE)"
  if [ "${2:-}" = console ]; then
    molecule test -s "${scenario%@*}" || status=$?
  else
    molecule test -s "${scenario%@*}" >"$logs/$scenario.log" 2>&1 || status=$?
  fi
  if [ "$status" -eq 0 ]; then
    echo "==> scenario $scenario passed in $(( $(date +%s) - start )) s"
    echo "$scenario $(( $(date +%s) - start ))" >> "$logs/seconds"
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
  # Fill the free slots: the first waiting scenario (longest first) whose group has none running.
  declare -A running=() busy=()
  waiting=("${shared[@]}")
  while [ "${#waiting[@]}" -gt 0 ] || [ "${#running[@]}" -gt 0 ]; do
    while [ "${#running[@]}" -lt "$jobs" ]; do
      next=""
      for i in "${!waiting[@]}"; do
        scenario="${waiting[$i]}"
        if [ -z "${group[$scenario]:-}" ] || [ -z "${busy[${group[$scenario]}]:-}" ]; then
          next="$scenario"
          unset "waiting[$i]"
          waiting=("${waiting[@]}")
          break
        fi
      done
      [ -n "$next" ] || break
      run_scenario "$next" &
      running[$!]="$next"
      if [ -n "${group[$next]:-}" ]; then busy[${group[$next]}]="$next"; fi
    done
    finished=""
    wait -n -p finished "${!running[@]}" || failed+=("${running[$finished]}")
    scenario="${running[$finished]}"
    unset "running[$finished]"
    if [ -n "${group[$scenario]:-}" ]; then unset "busy[${group[$scenario]}]"; fi
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
