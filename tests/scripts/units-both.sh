#!/usr/bin/env bash
# The unit suite on Python 3.11 and on Python 3.12 at the same time (make test; `make units` and
# `make units-py312` still run one each). The suite mostly waits on Docker, PostgreSQL and timeouts, so two runs
# side by side take little longer than one (figures: docs/performance.md). The exception is
# tests/unit/plugins/test_hostile_inputs.py: its examples are bounded by a wall-clock budget (HOSTILE_TIME_BUDGET),
# so beside another run it would try fewer; it runs afterwards, alone, once per Python, as in a single run.
# The 3.11 run prints as it goes; the 3.12 run logs to .build/unit-logs/py312.log, printed whole when both are done.
# $UNITS_BESIDE, when set, is a command run beside the two unit runs (make test: lint, sanity, the Galaxy install,
# the EE), logged to .build/unit-logs/beside.log and printed after them; it must finish before the hostile tests.
# Fails if any run fails.
#   usage: tests/scripts/units-both.sh VENV VENV312
set -euo pipefail
VENV="$(cd "$1" && pwd)"
VENV312="$(cd "$2" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
HOSTILE=tests/unit/plugins/test_hostile_inputs.py

bash tests/scripts/ensure-test-packages.sh
bash tests/scripts/ensure-docker.sh
logs="$REPO/.build/unit-logs"
mkdir -p "$logs"
# The checks beside start first: they need no test image, so on a fresh machine they overlap its build too.
beside=""
py312=""
if [ -n "${UNITS_BESIDE:-}" ]; then
  bash -c "$UNITS_BESIDE" >"$logs/beside.log" 2>&1 &
  beside=$!
fi
trap 'kill $py312 $beside 2>/dev/null || true' EXIT
# The images the live tests start, built (or found by tag) once here rather than by both runs at the same time.
bash tests/images/build-services.sh bookworm >/dev/null

"$VENV312/bin/pytest" -q tests/unit --ignore="$HOSTILE" >"$logs/py312.log" 2>&1 &
py312=$!
status311=0
echo "==> unit tests on $("$VENV/bin/python" -V) but $HOSTILE (Python 3.12 beside it, log $logs/py312.log)"
"$VENV/bin/pytest" -q tests/unit --ignore="$HOSTILE" || status311=$?
status312=0
wait "$py312" || status312=$?
status_beside=0
if [ -n "$beside" ]; then wait "$beside" || status_beside=$?; fi
trap - EXIT
echo "==> unit tests on $("$VENV312/bin/python" -V) but $HOSTILE (from $logs/py312.log)"
cat "$logs/py312.log"
if [ -n "$beside" ]; then
  echo "==> beside the unit tests: $UNITS_BESIDE (from $logs/beside.log, exit status $status_beside)"
  cat "$logs/beside.log"
fi
hostile311=0
echo "==> $HOSTILE on $("$VENV/bin/python" -V), alone"
"$VENV/bin/pytest" -q "$HOSTILE" || hostile311=$?
hostile312=0
echo "==> $HOSTILE on $("$VENV312/bin/python" -V), alone"
"$VENV312/bin/pytest" -q "$HOSTILE" || hostile312=$?
if [ "$status311$status312$hostile311$hostile312$status_beside" != 00000 ]; then
  echo "==> unit tests failed (exit status): Python 3.11 $status311, Python 3.12 $status312;" \
       "$HOSTILE: Python 3.11 $hostile311, Python 3.12 $hostile312; beside them: $status_beside"
  exit 1
fi
