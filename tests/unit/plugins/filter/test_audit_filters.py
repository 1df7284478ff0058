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
    audit_report,
    audit_report_markdown,
)

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "audit")
FILTER_DIR = os.path.join(HERE, "..", "..", "..", "..", "plugins", "filter")
FILTERS = ["audit_findings", "audit_report", "audit_fleet_summary", "audit_report_markdown", "audit_console_summary"]


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
    ("swap", {}, "expected a dict with keys swap, disk, errors"),
    (None, {}, "expected a dict with keys swap, disk, errors"),
    ({"swapp": {}}, {}, r"unknown key\(s\) swapp; allowed: swap, disk, errors"),
    ({"swap": "x"}, {}, "swap must be the hostcare.vps.swap_facts fact dict or null, got str"),
    ({"disk": [1]}, {}, "disk must be the hostcare.vps.disk_pressure_facts fact dict or null, got list"),
    ({"errors": "x"}, {}, "errors must be a dict of source -> message"),
    ({"errors": {"docker": "x"}}, {}, "errors: unknown source 'docker'"),
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
