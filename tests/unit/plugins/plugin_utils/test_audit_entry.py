# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's one entry point (plugins/plugin_utils/_audit_entry.py and the action plugins hostcare.vps.audit_report
and hostcare.vps.audit_postgres_facts). The tests of the removed glue filters (audit_report, audit_fleet_summary,
audit_report_markdown, audit_console_summary, audit_postgres_targets, audit_postgres_instances) moved here."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import AuditError
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import (
    facts_from_results,
    fleet_report,
    host_report,
    report_files,
    summary_lines,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import (
    DEFAULT_POSTGRES_IMAGE_PATTERNS,
    postgres_instances_from_results,
    postgres_targets,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import ReportError, console_lines, render_markdown

HERE = os.path.dirname(__file__)
ROOT = os.path.join(HERE, "..", "..", "..", "..")
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "audit")
sys.path.insert(0, HERE)
from report_schema import validate_report  # noqa: E402  pylint: disable=wrong-import-position


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def registered(fact_name, fixture):
    return {"changed": False, "ansible_facts": {fact_name: load(fixture)}}


def results():
    return {"swap": registered("hostcare_swap", "swap_troubled"), "disk": registered("hostcare_disk", "disk_troubled")}


def a_host_report(host="db1"):
    return host_report(host, facts_from_results(results()), generated_at="2026-01-01T00:00:00Z")


# --------------------------------------------------------------------------------------------- facts


def test_facts_from_registered_results():
    facts = facts_from_results(results())
    assert facts["swap"]["oom_kills"] == 3
    assert facts["errors"] == {"swap": None, "disk": None}
    assert "docker" not in facts and "postgres" not in facts          # not audited


def test_a_failed_fact_module_becomes_a_finding():
    failed = dict(results(), disk={"failed": True, "msg": "Permission denied: /var/log"})
    report = host_report("h", facts_from_results(failed))
    item = [f for f in report["findings"] if f["id"] == "facts.disk_unavailable"][0]
    assert "Permission denied: /var/log" in item["summary"]
    assert report["facts"]["errors"]["disk"] == "Permission denied: /var/log"


def test_postgres_results_become_instances_without_passwords():
    facts = load("postgres_pg17_superuser_docker")
    answers = [{"item": {"label": "container db", "method": "docker", "container": "db"},
                "ansible_facts": {"hostcare_postgres": facts}},
               {"item": {"host": "db", "user": "app", "password": "pw"}, "failed": True, "msg": "bad option"}]
    instances = postgres_instances_from_results(answers)
    assert instances == [
        {"label": "container db", "connection": {"method": "docker", "container": "db"}, "facts": facts, "error": None},
        {"label": "tcp app@db:5432", "connection": {"host": "db", "user": "app"}, "facts": None, "error": "bad option"},
    ]
    built = facts_from_results(results(), postgres_results=answers)
    assert built["postgres"] == instances
    assert "pw" not in json.dumps(host_report("h", built))


def test_postgres_targets():
    docker = load("docker_bloated")
    assert postgres_targets(docker) == [{"label": "native", "method": "local_socket"},
                                        {"label": "container db", "method": "docker", "container": "db"}]
    assert postgres_targets(None) == [{"label": "native", "method": "local_socket"}]
    assert postgres_targets(docker, patterns=["^nginx$"], native=False) == [
        {"label": "container proxy", "method": "docker", "container": "proxy"}]
    assert postgres_targets(docker, connections=[{"container": "db"}]) == [{"label": "native", "method": "local_socket"}]


def test_documented_default_image_patterns_are_the_code_s():
    with open(os.path.join(ROOT, "plugins", "modules", "audit_postgres_facts.py"), encoding="utf-8") as handle:
        assert json.dumps(list(DEFAULT_POSTGRES_IMAGE_PATTERNS)) in handle.read()
    with open(os.path.join(ROOT, "docs", "audit.md"), encoding="utf-8") as handle:
        assert json.dumps(list(DEFAULT_POSTGRES_IMAGE_PATTERNS)) in handle.read()


@pytest.mark.parametrize("value, kwargs, message", [
    ("x", {}, "results must be a dict"),
    ({}, {"postgres_results": {"results": []}}, "postgres must be the list of registered pg_settings_facts results"),
    ({}, {"apps": {"name": "shop"}}, "apps must be the list of audit_apps entries"),
    ({}, {"apps": [], "cpu_count": 0}, "cpu_count must be a whole number of CPUs"),
])
def test_facts_from_results_rejects(value, kwargs, message):
    with pytest.raises(AuditError, match=message):
        facts_from_results(value, **kwargs)


# --------------------------------------------------------------------------------------------- host report


def test_host_report():
    doc = a_host_report()
    assert doc["kind"] == "host" and doc["host"] == "db1" and doc["format_version"] == 2
    assert doc["counts"]["critical"] == 4
    assert doc["facts"]["swap"]["oom_kills"] == 3
    validate_report(doc)


@pytest.mark.parametrize("host, facts, kwargs, message", [
    ("", {}, {}, "host must be a non-empty string"),
    (None, {}, {}, "host must be a non-empty string"),
    ("h", "x", {}, "expected a dict with keys"),
    ("h", {}, {"thresholds": {"disk_warning_percent": float("inf")}}, "threshold disk_warning_percent"),
])
def test_host_report_rejects(host, facts, kwargs, message):
    with pytest.raises(AuditError, match=message):
        host_report(host, facts, **kwargs)


def test_report_files_and_summary():
    doc = a_host_report()
    files = report_files("db1", doc)
    assert json.loads(files["db1.json"]) == doc
    assert files["db1.md"].startswith("# Audit report: db1")
    lines = summary_lines(doc, report_path="r/db1.md", show_ok=False)
    assert lines[0] == "db1: 4 critical, 7 warning, 4 info, 0 ok -> r/db1.md"


# --------------------------------------------------------------------------------------------- fleet


def test_fleet_report():
    doc = fleet_report([a_host_report("a"), a_host_report("b")], generated_at="now", not_audited=["c"])
    assert doc["kind"] == "fleet" and doc["host_count"] == 2 and doc["not_audited"] == ["c"]
    assert render_markdown(doc).startswith("# Audit fleet summary")
    validate_report(doc)


@pytest.mark.parametrize("reports, kwargs, message", [
    ("x", {}, "reports must be a list of host reports, got str"),
    ([{"kind": "fleet"}], {}, "is a fleet summary, not a host report"),
    ([{"kind": "host", "findings": "x"}], {}, r"reports\[0\].findings: must be a list"),
    ([], {"not_audited": "c"}, "not_audited must be a list of host names"),
    ([], {"not_audited": [1]}, "not_audited must be a list of host names"),
])
def test_fleet_report_rejects(reports, kwargs, message):
    with pytest.raises((AuditError, ReportError), match=message):
        fleet_report(reports, **kwargs)


# --------------------------------------------------------------------------------------------- malformed reports

MALFORMED = [
    None, [], "x", {"kind": "x"}, {"host": "h"},
    {"kind": "host", "findings": "x"},
    {"kind": "host", "findings": ["x"]},
    {"kind": "host", "findings": [{"id": "a.b"}]},
    {"kind": "host", "findings": [{"id": "a.b", "severity": "fatal", "title": "t", "summary": "s", "evidence": {},
                                   "recommendation": "r", "risk": "safe", "fix": None}]},
    {"kind": "host", "findings": [{"id": "a.b", "severity": "ok", "title": 1, "summary": "s", "evidence": {},
                                   "recommendation": "r", "risk": "safe", "fix": None}]},
    {"kind": "host", "findings": [{"id": "a.b", "severity": "ok", "title": "t", "summary": "s", "evidence": [],
                                   "recommendation": "r", "risk": "safe", "fix": None}]},
    {"kind": "host", "counts": {"critical": "many"}},
    {"kind": "fleet", "hosts": ["h"]},
    {"kind": "fleet", "hosts": [{"host": "h"}], "worst_findings": [{"host": "h"}]},
    {"kind": "fleet", "by_finding": "x"},
    {"kind": "fleet", "not_audited": "h"},
]


@pytest.mark.parametrize("report", MALFORMED, ids=range(len(MALFORMED)))
def test_renderers_give_a_clean_error_for_a_malformed_report(report):
    with pytest.raises(ReportError):
        render_markdown(report)
    with pytest.raises(ReportError):
        console_lines(report)


# --------------------------------------------------------------------------------------------- the action, for real

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Build the report
      hostcare.vps.audit_report:
        dir: "{{ report_dir }}"
        host: web1
        swap: "{{ swap_result }}"
        disk: "{{ disk_result }}"
        postgres: "{{ pg_results }}"
        thresholds: "{{ thresholds }}"
      register: built
    - name: Fleet
      hostcare.vps.audit_report:
        dir: "{{ report_dir }}"
        reports: "{{ [built.report] + extra_reports }}"
      register: fleet
    - name: Keep the results
      ansible.builtin.copy:
        content: "{{ {'built': built, 'fleet': fleet} | to_json }}"
        dest: "{{ report_dir }}/results.json"
        mode: "0644"
"""


def run_playbook(tmp_path, **extra):
    variables = {"report_dir": str(tmp_path / "reports"), "swap_result": results()["swap"],
                 "disk_result": {"failed": True, "msg": "Permission denied"},
                 "pg_results": [{"item": {"label": "native", "method": "local_socket"},
                                 "ansible_facts": {"hostcare_postgres": load("postgres_pg17_superuser_docker")}}],
                 "thresholds": {}, "extra_reports": [], "ansible_python_interpreter": sys.executable}
    variables.update(extra)
    (tmp_path / "play.yml").write_text(PLAYBOOK, encoding="utf-8")
    (tmp_path / "vars.json").write_text(json.dumps(variables), encoding="utf-8")
    collections = os.path.join(ROOT, ".build", "collections")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_RETRY_FILES_ENABLED="0")
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run([playbook, "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                           "-e", f"@{tmp_path / 'vars.json'}"], capture_output=True, text=True, env=env,
                          check=False, timeout=300)


needs_ansible = pytest.mark.skipif(
    not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
    reason="needs ansible-playbook beside the Python running the tests")


@needs_ansible
def test_the_action_writes_the_reports_and_returns_the_summary(tmp_path):
    run = run_playbook(tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    reports = tmp_path / "reports"
    names = ["fleet.json", "fleet.md", "results.json", "web1.json", "web1.md"]
    assert sorted(p.name for p in reports.iterdir()) == names
    doc = json.loads((reports / "web1.json").read_text(encoding="utf-8"))
    validate_report(doc)
    assert "facts.disk_unavailable" in [f["id"] for f in doc["findings"]]   # the failed source is a finding
    assert doc["facts"]["postgres"][0]["label"] == "native"
    kept = json.loads((reports / "results.json").read_text(encoding="utf-8"))
    assert kept["built"]["summary"][0].startswith("web1: ")
    assert kept["built"]["summary"][0].endswith(f"-> {reports / 'web1.md'}")
    assert kept["fleet"]["summary"][0].startswith("Fleet: 1 hosts")
    validate_report(json.loads((reports / "fleet.json").read_text(encoding="utf-8")))


@needs_ansible
@pytest.mark.parametrize("extra, message", [
    ({"extra_reports": [{"kind": "host", "findings": [{"id": "x"}]}]}, r"reports\[1\].findings\[0\]: lacks severity"),
    ({"thresholds": {"postgres_work_mem_factor": "inf"}}, "threshold postgres_work_mem_factor must be a number"),
])
def test_the_action_fails_cleanly(tmp_path, extra, message):
    run = run_playbook(tmp_path, **extra)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "hostcare.vps.audit_report: " in output and "Traceback" not in output
    assert __import__("re").search(message, output), output


def test_action_documentation_matches_its_argument_spec():
    from ansible_collections.hostcare.vps.plugins.module_utils._audit_report_args import ARGUMENT_SPEC  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, "plugins", "modules", "audit_report.py"), encoding="utf-8") as handle:
        source = handle.read()
    documented = yaml.safe_load(source.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])["options"]
    assert set(documented) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert documented[name]["type"] == spec["type"], name
        assert documented[name].get("default") == spec.get("default"), name
