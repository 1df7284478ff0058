#!/usr/bin/env bash
# ansible-test sanity, offline: provide ansible-test's pip bootstrap script (see get_pip_standin.py),
# copy the collection into .build/sanity/ansible_collections/hostcare/vps as a git work tree, run it.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
export PATH="$VENV/bin:$PATH"

ansible_test_dir="$("$VENV/bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')"
pip_version="$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" "$ansible_test_dir/_internal/python_requirements.py" | head -n 1)"
if [ -z "$pip_version" ]; then
  echo "ERROR: could not read ansible-test's pinned pip version from $ansible_test_dir" >&2
  exit 1
fi
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$REPO/tests/scripts/get_pip_standin.py" "$cache"

tree="$REPO/.build/sanity/ansible_collections/hostcare/vps"
rm -rf "$tree"
mkdir -p "$tree"
# Tracked files plus new files not ignored by git: the same set a commit would contain.
# (--ignore-failed-read: a tracked file deleted in the work tree is simply left out.)
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$tree" -xf -
(cd "$tree" && git init -q && git add -A)

cd "$tree"
# Module code runs on the target's python3 >= 3.9: check that it compiles there too, with every CPython
# that pyenv has (ansible-test drops PYENV_VERSION from its environment, so put real interpreters on PATH).
python_versions="3.11"
if command -v pyenv >/dev/null 2>&1; then
  interpreters="$REPO/.build/sanity/bin"
  mkdir -p "$interpreters"
  for v in 3.9 3.10 3.12 3.13; do
    full="$(pyenv versions --bare | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)"
    if [ -n "$full" ]; then
      ln -sfn "$(pyenv root)/versions/$full/bin/python$v" "$interpreters/python$v"
      python_versions="$python_versions $v"
    fi
  done
  export PATH="$interpreters:$PATH"
fi
if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing shellcheck (used by the shellcheck sanity test)"
  apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }
fi
ansible-test sanity --local --python 3.11 --color no
for v in $python_versions; do
  [ "$v" = 3.11 ] && continue
  ansible-test sanity --local --python "$v" --test compile --color no
done
