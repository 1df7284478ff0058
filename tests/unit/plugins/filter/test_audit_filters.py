# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.audit import (
    FilterModule,
    audit_console_summary,
    audit_findings,
    audit_fleet_summary,
    audit_postgres_instances,
    audit_postgres_targets,
    audit_report,
    audit_report_markdown,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import DEFAULT_POSTGRES_IMAGE_PATTERNS

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "audit")
FILTER_DIR = os.path.join(HERE, "..", "..", "..", "..", "plugins", "filter")
FILTERS = ["audit_findings", "audit_report", "audit_fleet_summary", "audit_report_markdown", "audit_console_summary",
           "audit_postgres_targets", "audit_postgres_instances"]


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def facts():
    return {"swap": load("swap_troubled"), "disk": load("disk_troubled")}


def host_report(host="db1"):
    data = facts()
    return audit_report(audit_findings(data), host, generated_at="2026-01-01T00:00:00Z", facts=data)


def test_filter_module_exports():
    assert sorted(FilterModule().filters()) == sorted(FILTERS)


@pytest.mark.parametrize("name", FILTERS)
def test_sidecar_documentation(name):
    path = os.path.join(FILTER_DIR, f"{name}.yml")
    with open(path, encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["DOCUMENTATION"]["version_added"] == "0.1.0"
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert f"hostcare.vps.{name}" in doc["EXAMPLES"]
    assert "_value" in doc["RETURN"]


# --------------------------------------------------------------------------------------------- audit_findings


def test_audit_findings():
    findings = audit_findings(facts())
    assert findings[0]["id"] == "swap.none"
    assert findings == sorted(findings, key=lambda f: ["critical", "warning", "info", "ok"].index(f["severity"]))


def test_audit_findings_missing_sources_and_errors():
    findings = audit_findings({"swap": None, "errors": {"swap": "Permission denied"}})
    unavailable = [f["id"] for f in findings if f["id"].startswith("facts.")]
    assert unavailable == ["facts.swap_unavailable", "facts.disk_unavailable"]


def test_audit_findings_thresholds():
    findings = audit_findings(facts(), thresholds={"disk_critical_percent": 92})
    assert "disk.full" not in [f["id"] for f in findings]


@pytest.mark.parametrize("value, kwargs, message", [
    ("swap", {}, "expected a dict with keys swap, disk, docker, postgres, errors"),
    (None, {}, "expected a dict with keys swap, disk, docker, postgres, errors"),
    ({"swapp": {}}, {}, r"unknown key\(s\) swapp; allowed: swap, disk, docker, postgres, errors"),
    ({"swap": "x"}, {}, "swap must be the hostcare.vps.swap_facts fact dict or null, got str"),
    ({"disk": [1]}, {}, "disk must be the hostcare.vps.disk_pressure_facts fact dict or null, got list"),
    ({"errors": "x"}, {}, "errors must be a dict of source -> message"),
    ({"errors": {"mysql": "x"}}, {}, "errors: unknown source 'mysql'"),
    ({"docker": [1]}, {}, "docker must be the hostcare.vps.docker_bloat_facts fact dict or null, got list"),
    ({"postgres": {"label": "native"}}, {}, r"postgres must be a list of \{label, facts\}"),
    ({"postgres": ["x"]}, {}, r"postgres\[0\] must be a dict with keys label, facts, error, connection"),
    ({"postgres": [{"label": "native", "fact": {}}]}, {}, r"postgres\[0\]: unknown key\(s\) fact"),
    ({"postgres": [{"facts": {}}]}, {}, r"postgres\[0\]: label must be a non-empty string"),
    ({"postgres": [{"label": "native", "facts": []}]}, {},
     r"postgres\[0\]: facts must be the hostcare.vps.pg_settings_facts fact dict or null, got list"),
    ({"postgres": [{"label": "native", "connection": "x"}]}, {}, r"postgres\[0\]: connection must be a dict"),
    ({"postgres": [{"label": "native", "error": 1}]}, {}, r"postgres\[0\]: error must be a string"),
    ({}, {"thresholds": {"nope": 1}}, "unknown threshold 'nope'"),
    ({}, {"thresholds": "x"}, "thresholds must be a dict"),
    ({}, {"thresholds": {"disk_warning_percent": 95}},
     r"threshold disk_warning_percent \(95.0\) must not be above disk_critical_percent"),
])
def test_audit_findings_rejects(value, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.audit_findings: {message}"):
        audit_findings(value, **kwargs)


# --------------------------------------------------------------------------------------------- audit_report


def test_audit_report():
    doc = host_report()
    assert doc["kind"] == "host" and doc["host"] == "db1"
    assert doc["counts"]["critical"] == 4
    assert doc["facts"]["swap"]["oom_kills"] == 3


@pytest.mark.parametrize("findings, host, kwargs, message", [
    ("x", "h", {}, "expected the list returned by hostcare.vps.audit_findings, got str"),
    (["x"], "h", {}, "finding #0 must be a dict"),
    ([{"id": "a.b"}], "h", {}, r"finding #0 \(a.b\) lacks severity, title"),
    ([], "", {}, "host must be a non-empty string"),
    ([], None, {}, "host must be a non-empty string"),
    ([], "h", {"generated_at": 5}, "generated_at must be a string"),
    ([], "h", {"facts": "x"}, "expected a dict with keys"),
])
def test_audit_report_rejects(findings, host, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.audit_report: {message}"):
        audit_report(findings, host, **kwargs)


def test_audit_report_rejects_bad_severity():
    finding = dict(audit_findings(facts())[0], severity="fatal")
    with pytest.raises(AnsibleFilterError, match="unknown severity 'fatal'"):
        audit_report([finding], "h")


# --------------------------------------------------------------------------------------------- fleet


def test_audit_fleet_summary():
    doc = audit_fleet_summary([host_report("a"), host_report("b")], generated_at="now", not_audited=["c"])
    assert doc["kind"] == "fleet" and doc["host_count"] == 2 and doc["not_audited"] == ["c"]


@pytest.mark.parametrize("reports, kwargs, message", [
    ("x", {}, "expected a list of host reports, got str"),
    ([{"kind": "fleet"}], {}, "item #0 is not a host report"),
    ([], {"not_audited": "c"}, "not_audited must be a list of host names"),
    ([], {"not_audited": [1]}, "not_audited must be a list of host names"),
    ([], {"generated_at": 1}, "generated_at must be a string"),
])
def test_audit_fleet_summary_rejects(reports, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.audit_fleet_summary: {message}"):
        audit_fleet_summary(reports, **kwargs)


# --------------------------------------------------------------------------------------------- rendering


def test_audit_report_markdown():
    assert audit_report_markdown(host_report()).startswith("# Audit report: db1")
    assert audit_report_markdown(audit_fleet_summary([host_report()])).startswith("# Audit fleet summary")


def test_audit_console_summary():
    lines = audit_console_summary(host_report(), report_path="r/db1.md", show_ok=False)
    assert lines[0] == "db1: 4 critical, 7 warning, 4 info, 0 ok -> r/db1.md"


@pytest.mark.parametrize("report, kwargs, name, message", [
    ({"kind": "x"}, {}, "audit_report_markdown", "expected a host report"),
    ([], {}, "audit_report_markdown", "expected a host report"),
    ({"kind": "x"}, {}, "audit_console_summary", "expected a host report"),
    ({"kind": "host"}, {"show_ok": "yes"}, "audit_console_summary", "show_ok must be a boolean"),
    ({"kind": "host"}, {"report_path": 3}, "audit_console_summary", "report_path must be a string"),
])
def test_renderers_reject(report, kwargs, name, message):
    func = FilterModule().filters()[name]
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.{name}: {message}"):
        func(report, **kwargs)


# --------------------------------------------------------------------------------------------- docker, postgres


def full_facts():
    return {"swap": load("swap_healthy"), "disk": load("disk_healthy"), "docker": load("docker_bloated"),
            "postgres": [{"label": "native", "facts": load("postgres_pg15_superuser_socket"),
                          "connection": {"method": "local_socket"}},
                         {"label": "container app-db-1", "facts": load("postgres_pg17_superuser_docker"),
                          "error": None}]}


def test_audit_findings_with_docker_and_postgres():
    findings = audit_findings(full_facts())
    found = {f["id"] for f in findings}
    assert {"docker.reclaimable", "docker.old_tags", "docker.logs_uncapped", "postgres.memory_defaults",
            "postgres.pending_restart"} <= found
    doc = audit_report(findings, "vps1", facts=full_facts())
    assert doc["facts"]["postgres"][1]["label"] == "container app-db-1"
    assert "PostgreSQL (container app-db-1)" in audit_report_markdown(doc)


def test_audit_postgres_targets():
    docker = load("docker_bloated")
    assert audit_postgres_targets(docker) == [{"label": "native", "method": "local_socket"},
                                              {"label": "container db", "method": "docker", "container": "db"}]
    assert audit_postgres_targets(None) == [{"label": "native", "method": "local_socket"}]
    assert audit_postgres_targets(docker, patterns=["^nginx$"], native=False) == [
        {"label": "container proxy", "method": "docker", "container": "proxy"}]


@pytest.mark.parametrize("value, kwargs, message", [
    ("x", {}, "expected the hostcare_docker fact dict or null, got str"),
    ({}, {"patterns": "postgres"}, "patterns must be a list of regular expressions"),
    ({}, {"patterns": [""]}, "patterns must be a list of regular expressions"),
    ({}, {"patterns": ["("]}, r"pattern '\(' is not a valid regular expression"),
    ({}, {"native": "yes"}, "native must be a boolean"),
    ({}, {"connections": {"container": "db"}}, "connections must be a list"),
])
def test_audit_postgres_targets_rejects(value, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.audit_postgres_targets: {message}"):
        audit_postgres_targets(value, **kwargs)


def test_audit_postgres_instances():
    facts = load("postgres_pg17_superuser_docker")
    results = [{"item": {"label": "container db", "method": "docker", "container": "db"},
                "ansible_facts": {"hostcare_postgres": facts}},
               {"item": {"host": "db", "user": "app", "password": "pw"}, "failed": True, "msg": "bad option"}]
    instances = audit_postgres_instances(results)
    assert instances == [
        {"label": "container db", "connection": {"method": "docker", "container": "db"}, "facts": facts, "error": None},
        {"label": "tcp app@db:5432", "connection": {"host": "db", "user": "app"}, "facts": None, "error": "bad option"},
    ]
    audit_findings({"postgres": instances})  # the output is valid input
    with pytest.raises(AnsibleFilterError, match="^hostcare.vps.audit_postgres_instances: expected the results list"):
        audit_postgres_instances({"results": []})


def test_documented_default_image_patterns_are_the_code_s():
    with open(os.path.join(FILTER_DIR, "audit_postgres_targets.yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["options"]["patterns"]["default"] == list(DEFAULT_POSTGRES_IMAGE_PATTERNS)
    with open(os.path.join(HERE, "..", "..", "..", "..", "docs", "audit.md"), encoding="utf-8") as handle:
        assert json.dumps(list(DEFAULT_POSTGRES_IMAGE_PATTERNS)) in handle.read()


# --------------------------------------------------------------------------------------------- audit_apps


def test_audit_findings_checks_the_apps_of_audit_apps_against_postgres():
    data = facts()
    data["postgres"] = [{"label": "native", "facts": load("postgres_pg15_superuser_socket")}]
    data["apps"] = [{"name": "shop", "workers": 4, "threads": 8, "db_pool": 52}]
    data["cpu_count"] = 4
    pools = [item for item in audit_findings(data) if item["id"].startswith("apps.pool")]
    assert [item["evidence"]["app"] for item in pools] == ["shop"]
    assert pools[0]["severity"] in ("warning", "critical")


@pytest.mark.parametrize("key, value, message", [
    ("apps", {"name": "shop"}, "apps must be the list of audit_apps entries"),
    ("apps", ["shop"], "apps must be the list of audit_apps entries"),
    ("cpu_count", 0, "cpu_count must be a whole number of CPUs"),
    ("cpu_count", "4", "cpu_count must be a whole number of CPUs"),
])
def test_audit_findings_refuses_bad_apps_context(key, value, message):
    data = facts()
    data[key] = value
    with pytest.raises(AnsibleFilterError, match=message):
        audit_findings(data)
