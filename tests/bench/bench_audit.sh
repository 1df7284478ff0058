#!/usr/bin/env bash
# Wall time of the whole audit on localhost against a bare `ansible localhost -m ansible.builtin.setup`,
# both measured in this run (median of RUNS each). Target: the audit costs less than 3x the bare setup.
set -euo pipefail
VENV="$(cd "${1:-.venv}" && pwd)"
RUNS="${RUNS:-5}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
export ANSIBLE_COLLECTIONS_PATH="$REPO/.build/collections" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
reports="$(mktemp -d /tmp/hostcare-bench-audit.XXXXXX)"
trap 'rm -rf "$reports"' EXIT

median_seconds() {  # median wall time of "$@" over RUNS runs
  local times=()
  for _ in $(seq 1 "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

setup_s=$(median_seconds "$VENV/bin/ansible" localhost -m ansible.builtin.setup)
audit_s=$(median_seconds "$VENV/bin/ansible-playbook" -e report_dir="$reports" "$REPO/playbooks/audit.yml")
ratio=$(awk -v a="$audit_s" -v s="$setup_s" 'BEGIN { printf "%.2f", a / s }')
echo "audit on localhost: median ${audit_s} s over $RUNS runs"
echo "bare setup module:  median ${setup_s} s over $RUNS runs"
echo "ratio audit/setup:  ${ratio}x (target < 3x)"
