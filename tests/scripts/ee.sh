#!/usr/bin/env bash
# The execution environment (execution-environment.yml), as far as it can be tested without a registry:
#   1. build the collection tarball the EE installs (.build/ee/hostcare-vps.tar.gz);
#   2. `ansible-builder create` the build context (.build/ee/context) and check it: pins, requirements, collection;
#   3. replay the image's galaxy and introspect stages on this machine: the tarball installs from the context's
#      requirements.yml, and ansible-builder's own introspect script finds the collection's Python and system packages;
#   4. `ansible-runner run` the audit against localhost with that installed collection, as AWX would, and check the
#      artifacts (rc 0, status successful, no failed task) and the report.
# The image itself is not built: its base image lives in a registry (docs/execution-environment.md).
#   usage: tests/scripts/ee.sh VENV
set -euo pipefail
VENV="$(cd "$1" && pwd)"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
EE_DIR="$REPO/.build/ee"
CONTEXT="$EE_DIR/context"
work="$(mktemp -d /tmp/hostcare-ee.XXXXXX)"
keep_work=0
cleanup() { if [ "$keep_work" = 1 ]; then echo "ERROR: kept $work for inspection" >&2; else rm -rf "$work"; fi; }
trap cleanup EXIT
fail() { keep_work=1; echo "ERROR: $*" >&2; exit 1; }
export PATH="$VENV/bin:$PATH" ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=false
start=$(date +%s)

echo "==> ee: collection tarball"
rm -rf "$EE_DIR" && mkdir -p "$EE_DIR"
ansible-galaxy collection build "$REPO" --output-path "$work/dist" --force >/dev/null
cp "$work"/dist/hostcare-vps-*.tar.gz "$EE_DIR/hostcare-vps.tar.gz"

echo "==> ee: ansible-builder create"
# Run from the repository so relative paths behave as they do for a user.
(cd "$REPO" && ansible-builder create --file execution-environment.yml --context "$CONTEXT" \
  --output-filename Dockerfile >"$work/create.log" 2>&1) \
  || { cat "$work/create.log" >&2; fail "ansible-builder create failed"; }
# A missing additional_build_files source is only a warning for ansible-builder; here it is an error.
if grep -i -E 'warning|no matches' "$work/create.log"; then fail "ansible-builder create warned (above)"; fi

echo "==> ee: checking the build context"
python3 - "$REPO" "$CONTEXT" <<'EOF' || fail "the build context is incomplete (above)"
import json, re, sys, tarfile
from pathlib import Path
import yaml

repo, context = Path(sys.argv[1]), Path(sys.argv[2])
errors = []

def pin(requirements, name):
    for line in (repo / "tests/requirements" / requirements).read_text().splitlines():
        if re.match(rf"{re.escape(name)}==", line.strip()):
            return line.strip()
    return None

dockerfile = (context / "Dockerfile").read_text()
refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', dockerfile, re.M)
refs = refs.group(1).split() if refs else []
for name, requirements in (("ansible-core", "audit.txt"), ("ansible-runner", "test.txt")):
    wanted = pin(requirements, name)
    if wanted not in refs:
        errors.append(f"the EE installs {refs} but tests/requirements/{requirements} pins {wanted}")

requirements_yml = yaml.safe_load((context / "_build/requirements.yml").read_text())
entries = requirements_yml.get("collections") or []
if len(entries) != 1 or entries[0].get("type") != "file":
    errors.append(f"_build/requirements.yml should install the collection tarball only, not {entries}")
else:
    tarball = context / "_build" / entries[0]["name"]
    if not tarball.is_file():
        errors.append(f"{tarball} (named by _build/requirements.yml) is not in the context")
    else:
        with tarfile.open(tarball) as tar:
            names = set(tar.getnames())
            manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
            meta = yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))
        galaxy = yaml.safe_load((repo / "galaxy.yml").read_text())
        found = (manifest["namespace"], manifest["name"], manifest["version"])
        if found != (galaxy["namespace"], galaxy["name"], galaxy["version"]):
            errors.append(f"the tarball holds {found}, galaxy.yml says {galaxy['namespace']}.{galaxy['name']} {galaxy['version']}")
        for kind in ("python", "system"):
            declared = meta["dependencies"].get(kind)
            if declared not in names:
                errors.append(f"meta/execution-environment.yml names {declared} for {kind}, not in the tarball")
        for needed in ("playbooks/audit.yml", "plugins/modules/swap_facts.py", "roles/logrotate/tasks/main.yml"):
            if needed not in names:
                errors.append(f"{needed} is not in the tarball")

for error in errors:
    print(f"  {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF

echo "==> ee: replaying the image's galaxy stage (collection install from the context)"
collections="$work/share/ansible/collections"
(cd "$CONTEXT/_build" && ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 ansible-galaxy collection install \
  -r requirements.yml --collections-path "$collections" --offline >"$work/galaxy.log" 2>&1) \
  || { cat "$work/galaxy.log" >&2; fail "ansible-galaxy could not install the context's requirements.yml"; }
test -f "$collections/ansible_collections/hostcare/vps/MANIFEST.json" || fail "hostcare.vps was not installed"

echo "==> ee: replaying the image's introspect stage (ansible-builder's own script)"
python3 "$CONTEXT/_build/scripts/introspect.py" introspect "$collections" \
  --write-pip="$work/requirements.txt" --write-bindep="$work/bindep.txt" >"$work/introspect.log" 2>&1 \
  || { cat "$work/introspect.log" >&2; fail "introspect failed"; }
if grep -i 'non-PEP508' "$work/introspect.log"; then fail "a Python requirement is not PEP 508 (above)"; fi
grep -q -E '^psutil>=[0-9.]+  # from collection hostcare\.vps$' "$work/requirements.txt" \
  || fail "introspect did not find the collection's Python requirements: $(cat "$work/requirements.txt" 2>/dev/null)"
grep -q -E '^openssh-clients \[platform:rpm\]  # from collection hostcare\.vps$' "$work/bindep.txt" \
  || fail "introspect did not find the collection's system packages: $(cat "$work/bindep.txt" 2>/dev/null)"
# The same parser the image's assemble script uses: a bindep syntax error fails here, not in a registry build.
python3 -c 'import sys, bindep.depends; bindep.depends.Depends(open(sys.argv[1]).read())' "$work/bindep.txt" \
  || fail "bindep cannot parse the collection's system packages"

echo "==> ee: ansible-runner run of the audit against localhost"
# A private data dir as AWX hands one to ansible-runner inside the EE: a project whose playbook imports the
# collection's, an inventory, environment variables and extra vars.
pdd="$work/runner"
mkdir -p "$pdd/project" "$pdd/inventory" "$pdd/env"
cat >"$pdd/project/audit.yml" <<'EOF'
---
- name: Audit with hostcare.vps
  ansible.builtin.import_playbook: hostcare.vps.audit
EOF
cat >"$pdd/inventory/hosts" <<'EOF'
localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"
EOF
python3 - "$pdd" "$collections" <<'EOF'
import sys, yaml
pdd, collections = sys.argv[1], sys.argv[2]
with open(f"{pdd}/env/envvars", "w") as f:
    yaml.safe_dump({"ANSIBLE_COLLECTIONS_PATH": collections, "ANSIBLE_LOCALHOST_WARNING": "false"}, f)
with open(f"{pdd}/env/extravars", "w") as f:
    yaml.safe_dump({"report_dir": f"{pdd}/reports"}, f)
EOF
rc=0
ansible-runner run "$pdd" --playbook audit.yml --ident audit --quiet || rc=$?
artifacts="$pdd/artifacts/audit"
python3 - "$artifacts" "$pdd/reports" "$rc" <<'EOF' || { tail -n 40 "$artifacts/stdout" >&2 || true; fail "the ansible-runner run of the audit failed (above)"; }
import json, sys
from pathlib import Path

artifacts, reports, rc = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
errors = []
if rc != 0:
    errors.append(f"ansible-runner exited {rc}")
if (artifacts / "rc").read_text().strip() != "0":
    errors.append(f"artifacts/rc says {(artifacts / 'rc').read_text().strip()}")
if (artifacts / "status").read_text().strip() != "successful":
    errors.append(f"artifacts/status says {(artifacts / 'status').read_text().strip()}")
events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
stats = [e["event_data"] for e in events if e.get("event") == "playbook_on_stats"]
if len(stats) != 1:
    errors.append(f"{len(stats)} playbook_on_stats events instead of 1")
else:
    for key in ("failures", "dark"):
        if stats[0].get(key):
            errors.append(f"stats {key}: {stats[0][key]}")
    if "localhost" not in stats[0].get("ok", {}):
        errors.append(f"localhost ran no task: {stats[0]}")
failed = [e["event_data"].get("task") for e in events if e.get("event") == "runner_on_failed"
          and not e["event_data"].get("ignore_errors")]
if failed:
    errors.append(f"failed tasks: {failed}")
report = reports / "localhost.json"
if not report.is_file() or not (reports / "localhost.md").is_file():
    errors.append(f"no report in {reports}: {sorted(p.name for p in reports.glob('*'))}")
else:
    data = json.loads(report.read_text())
    if data.get("host") != "localhost" or not isinstance(data.get("findings"), list):
        errors.append(f"{report} is not a report of localhost: keys {sorted(data)}")
for error in errors:
    print(f"  {error}", file=sys.stderr)
if not errors:
    print(f"  rc 0, status successful, {len(events)} job events, {report} with {len(data['findings'])} findings")
sys.exit(1 if errors else 0)
EOF
echo "==> ee: passed in $(( $(date +%s) - start )) s (context: $CONTEXT)"
