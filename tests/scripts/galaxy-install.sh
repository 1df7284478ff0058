#!/usr/bin/env bash
# Build the Galaxy tarball, install it into an empty collections path, and run the installed
# playbook by its FQCN against localhost, as a user who got the collection from Galaxy would.
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/hostcare-galaxy.XXXXXX)"
trap 'rm -rf "$work"' EXIT

"$VENV/bin/ansible-galaxy" collection build "$REPO" --output-path "$work/dist" --force
tarball="$(ls "$work"/dist/hostcare-vps-*.tar.gz)"
echo "==> built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
if tar -tzf "$tarball" | grep -E '(^|/)(\.venv|\.build|\.git|__pycache__|audit-reports)(/|$)'; then
  echo "ERROR: the tarball contains build or cache files (see build_ignore in galaxy.yml)" >&2
  exit 1
fi
"$VENV/bin/ansible-galaxy" collection install "$tarball" -p "$work/collections" --offline
cd "$work"
ANSIBLE_COLLECTIONS_PATH="$work/collections" ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  "$VENV/bin/ansible-playbook" -e report_dir="$work/reports" hostcare.vps.audit
test -s "$work/reports/localhost.json"
test -s "$work/reports/localhost.md"
echo "==> installed collection audited localhost: $work/reports/localhost.{json,md}"
