#!/usr/bin/env bash
# Create the Python 3.12 virtualenv with the newest ansible-core (2.20+ needs Python >= 3.12).
set -euo pipefail
VENV="$1"
PY=""
for candidate in python3.12 python3.13; do
  # pyenv shims exist for versions that are not active: check that the interpreter really runs.
  if "$candidate" -c "import sys" >/dev/null 2>&1; then PY="$("$candidate" -c "import sys; print(sys.executable)")"; break; fi
done
if [ -z "$PY" ] && command -v pyenv >/dev/null 2>&1; then
  for version in $(pyenv versions --bare | grep -E "^3\.12\." | sort -rV); do
    PY="$(pyenv root)/versions/$version/bin/python3"; break
  done
fi
if [ -z "$PY" ]; then
  echo "ERROR: Python 3.12 or newer is needed for the newest ansible-core; install python3.12 (or pyenv install 3.12)" >&2
  exit 1
fi
echo "==> $VENV from $PY ($("$PY" --version))"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements/py312.txt
