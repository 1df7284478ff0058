# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.audit import FilterModule, audit_findings

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "audit")
FILTER_DIR = os.path.join(HERE, "..", "..", "..", "..", "plugins", "filter")
# The glue filters (audit_report, audit_fleet_summary, audit_report_markdown, audit_console_summary,
# audit_postgres_targets, audit_postgres_instances) were replaced by the action hostcare.vps.audit_report: their
# tests moved to tests/unit/plugins/plugin_utils/test_audit_entry.py.
FILTERS = ["audit_findings"]


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def facts():
    return {"swap": load("swap_troubled"), "disk": load("disk_troubled")}


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
    ("swap", {}, "expected a dict with keys swap, disk, docker, postgres, workload, errors"),
    (None, {}, "expected a dict with keys swap, disk, docker, postgres, workload, errors"),
    ({"swapp": {}}, {}, r"unknown key\(s\) swapp; allowed: swap, disk, docker, postgres, workload, errors"),
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
    ({}, {"threshold": {}}, r"threshold: unknown argument; did you mean thresholds\?"),
])
def test_audit_findings_rejects(value, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=f"^hostcare.vps.audit_findings: {message}"):
        audit_findings(value, **kwargs)


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
    ("cpu_count", 2 ** 63, r"cpu_count must be a whole number of CPUs \(1 to 4096\)"),
])
def test_audit_findings_refuses_bad_apps_context(key, value, message):
    data = facts()
    data[key] = value
    with pytest.raises(AnsibleFilterError, match=message):
        audit_findings(data)
