#!/usr/bin/env bash
# The audit of a fleet against a bare `ansible all -m ansible.builtin.setup` of the same hosts, both measured
# in this run: N test containers (the base test image, reached with the community.docker.docker connection)
# for each N in HOSTS (default "1 5 10 20") and each fork count in FORKS (default "5 10"); median of RUNS
# (default 3) runs each. Target: the audit costs less than 3x the bare setup at every size.
#   usage: tests/bench/bench_fleet.sh [VENV]
set -euo pipefail
VENV="$(cd "${1:-.venv}" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOSTS="${HOSTS:-1 5 10 20}"
FORKS="${FORKS:-5 10}"
RUNS="${RUNS:-3}"
cd "$REPO"
# shellcheck source=tests/scripts/molecule-env.sh
source tests/scripts/molecule-env.sh
export ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false

work="$(mktemp -d /tmp/hostcare-bench-fleet.XXXXXX)"
max_hosts=$(tr " " "\n" <<<"$HOSTS" | sort -n | tail -1)
cleanup() {
  for i in $(seq 1 "$max_hosts"); do docker rm -f "hostcare-bench-fleet-$i" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for i in $(seq 1 "$max_hosts"); do
  docker run -d --name "hostcare-bench-fleet-$i" --memory 512m "$HOSTCARE_TEST_IMAGE" sleep infinity >/dev/null
done

median_seconds() {  # median wall time of "$@" over RUNS runs; a failed run aborts the benchmark
  local times=() start end
  for _ in $(seq 1 "$RUNS"); do
    start=$(date +%s.%N)
    "$@" >"$work/last.log" 2>&1 || { echo "FAILED: $*" >&2; tail -n 40 "$work/last.log" >&2; exit 1; }
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

printf '| hosts | forks | bare setup | audit | ratio |\n| --- | --- | --- | --- | --- |\n'
for n in $HOSTS; do
  inventory="$work/hosts-$n.ini"
  {
    echo "[fleet]"
    for i in $(seq 1 "$n"); do echo "hostcare-bench-fleet-$i"; done
    echo "[fleet:vars]"
    echo "ansible_connection=community.docker.docker"
    echo "ansible_python_interpreter=/usr/bin/python3"
  } >"$inventory"
  for forks in $FORKS; do
    setup_s=$(median_seconds "$VENV/bin/ansible" -i "$inventory" fleet -f "$forks" -m ansible.builtin.setup)
    audit_s=$(median_seconds "$VENV/bin/ansible-playbook" -i "$inventory" -f "$forks" \
      -e report_dir="$work/reports" -e audit_show_ok=false "$REPO/playbooks/audit.yml")
    test "$(find "$work/reports" -name 'hostcare-bench-fleet-*.json' | wc -l)" -ge "$n"
    ratio=$(awk -v a="$audit_s" -v s="$setup_s" 'BEGIN { printf "%.2f", a / s }')
    printf '| %s | %s | %s s | %s s | **%sx** |\n' "$n" "$forks" "$setup_s" "$audit_s" "$ratio"
  done
done
