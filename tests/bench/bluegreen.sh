#!/usr/bin/env bash
# Failed requests and swap time: a naive `docker stop` + `docker run` swap against the bluegreen role's swap,
# each under the same load (10 clients, one connection per request) through a real nginx, in the `bluegreen`
# Molecule container. Runs under the Molecule lock so other scenarios do not disturb the figures.
#   usage: tests/bench/bluegreen.sh VENV
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"

# shellcheck source=tests/scripts/molecule-env.sh
source tests/scripts/molecule-env.sh
BLUEGREEN_BENCH_OUT="$(mktemp)"
export BLUEGREEN_BENCH_OUT

finish() {
  molecule cleanup -s bluegreen >/dev/null 2>&1 || true
  molecule destroy -s bluegreen >/dev/null 2>&1 || true
  bash extensions/molecule/bluegreen/host-fs.sh down || true
  rm -f "$BLUEGREEN_BENCH_OUT"
}
trap finish EXIT

exec 9>/tmp/hostcare-molecule.lock
flock 9
molecule destroy -s bluegreen >/dev/null 2>&1
for step in dependency create prepare converge side-effect; do
  molecule "$step" -s bluegreen >"$REPO/.build/bluegreen-bench-$step.log" 2>&1 || {
    tail -n 40 "$REPO/.build/bluegreen-bench-$step.log" >&2; exit 1; }
done
python3 - "$BLUEGREEN_BENCH_OUT" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
naive, role = result["naive"], result["role"]
print(f"naive docker stop + docker run: {naive['failed']} failed of {naive['requests']} requests "
      f"(failures over {naive['failure_window_seconds']} s: {', '.join(naive['failure_samples'])}); "
      f"swap {naive['swap_seconds']} s until v2 answers")
print(f"hostcare.vps.bluegreen:         {role['failed']} failed of {role['requests']} requests; "
      f"traffic on v2 after {role['until_switch_seconds']} s, swap {role['swap_seconds']} s with a "
      f"{role['drain_seconds']} s drain")
ratio = "n/a" if not role["failed"] else f"{naive['failed'] / role['failed']:.1f}x"
print(f"failed requests, naive / role: {naive['failed']} / {role['failed']} (ratio {ratio})")
PY
