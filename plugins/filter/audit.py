# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the read-only audit (playbooks/audit.yml). Documented in the sidecar files audit_*.yml.

Each filter checks its arguments, raises AnsibleFilterError with a clear message, and delegates to
plugins/plugin_utils/_audit.py (rules) or _report.py (rendering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    FACT_SOURCES,
    FINDING_KEYS,
    LIST_SOURCES,
    SEVERITY_RANK,
    AuditError,
    resolve_thresholds,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_rules import audit_findings as build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import (
    postgres_instances_from_results,
    postgres_targets,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import (
    ReportError,
    build_fleet_summary,
    build_host_report,
    console_lines,
    render_markdown,
)

# Besides the fact sources: the apps the user describes in audit_apps, and the host's CPU count they are sized for.
_CONTEXT_KEYS = ("apps", "cpu_count")
_FACTS_KEYS = tuple(FACT_SOURCES) + ("errors",) + _CONTEXT_KEYS
_INSTANCE_KEYS = ("label", "facts", "error", "connection")


def _fail(name, message):
    raise AnsibleFilterError(f"hostcare.vps.{name}: {message}")


def _check_optional_str(name, option, value):
    if value is not None and not isinstance(value, str):
        _fail(name, f"{option} must be a string, got {type(value).__name__}")


def _check_facts(name, facts):
    if not isinstance(facts, Mapping):
        _fail(name, f"expected a dict with keys {', '.join(_FACTS_KEYS)} (fact dicts or null), "
                    f"got {type(facts).__name__}")
    unknown = [str(key) for key in facts if key not in _FACTS_KEYS]
    if unknown:
        _fail(name, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(_FACTS_KEYS)}")
    apps = facts.get("apps")
    if apps is not None and not (isinstance(apps, (list, tuple)) and all(isinstance(app, Mapping) for app in apps)):
        _fail(name, f"apps must be the list of audit_apps entries (dicts), got {apps!r}")
    cpu_count = facts.get("cpu_count")
    if cpu_count is not None and (isinstance(cpu_count, bool) or not isinstance(cpu_count, int) or cpu_count < 1):
        _fail(name, f"cpu_count must be a whole number of CPUs (1 or more), got {cpu_count!r}")
    for source in FACT_SOURCES:
        value = facts.get(source)
        if source in LIST_SOURCES:
            _check_instances(name, source, value)
        elif value is not None and not isinstance(value, Mapping):
            _fail(name, f"{source} must be the {FACT_SOURCES[source]} fact dict or null, got {type(value).__name__}")
    errors = facts.get("errors")
    if errors is not None:
        if not isinstance(errors, Mapping):
            _fail(name, f"errors must be a dict of source -> message, got {type(errors).__name__}")
        for key in errors:
            if key not in FACT_SOURCES:
                _fail(name, f"errors: unknown source {key!r}; allowed: {', '.join(FACT_SOURCES)}")


def _check_instances(name, source, value):
    """postgres: null or a list of {label, facts, error, connection} (one per instance)."""
    if value is None:
        return
    if not isinstance(value, (list, tuple)):
        _fail(name, f"{source} must be a list of {{label, facts}} (facts: the {FACT_SOURCES[source]} fact dict) "
                    f"or null, got {type(value).__name__}")
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping):
            _fail(name, f"{source}[{index}] must be a dict with keys {', '.join(_INSTANCE_KEYS)}, "
                        f"got {type(entry).__name__}")
        unknown = [str(key) for key in entry if key not in _INSTANCE_KEYS]
        if unknown:
            _fail(name, f"{source}[{index}]: unknown key(s) {', '.join(sorted(unknown))}; "
                        f"allowed: {', '.join(_INSTANCE_KEYS)}")
        if not isinstance(entry.get("label"), str) or not entry.get("label"):
            _fail(name, f"{source}[{index}]: label must be a non-empty string (native, container <name> ...)")
        if entry.get("facts") is not None and not isinstance(entry["facts"], Mapping):
            _fail(name, f"{source}[{index}]: facts must be the {FACT_SOURCES[source]} fact dict or null, "
                        f"got {type(entry['facts']).__name__}")
        if entry.get("connection") is not None and not isinstance(entry["connection"], Mapping):
            _fail(name, f"{source}[{index}]: connection must be a dict or null")
        if entry.get("error") is not None and not isinstance(entry["error"], str):
            _fail(name, f"{source}[{index}]: error must be a string or null")


def _check_findings(name, findings):
    if not isinstance(findings, (list, tuple)):
        _fail(name, f"expected the list returned by hostcare.vps.audit_findings, got {type(findings).__name__}")
    for index, item in enumerate(findings):
        if not isinstance(item, Mapping):
            _fail(name, f"finding #{index} must be a dict, got {type(item).__name__}")
        missing = [key for key in FINDING_KEYS if key not in item]
        if missing:
            _fail(name, f"finding #{index} ({item.get('id', 'no id')}) lacks {', '.join(missing)}")
        if item["severity"] not in SEVERITY_RANK:
            _fail(name, f"finding #{index} ({item['id']}) has unknown severity {item['severity']!r}")


def audit_findings(facts, thresholds=None):
    """{swap, disk, docker, postgres: [...], errors: {...}} -> findings sorted by severity."""
    _check_facts("audit_findings", facts)
    try:
        resolve_thresholds(thresholds)
        return build_findings(facts, thresholds=thresholds)
    except AuditError as exc:
        _fail("audit_findings", str(exc))
    return None  # pragma: no cover


def audit_report(findings, host, generated_at=None, facts=None):
    """Findings -> the per-host report document (<host>.json)."""
    _check_findings("audit_report", findings)
    if not isinstance(host, str) or not host:
        _fail("audit_report", "host must be a non-empty string (use inventory_hostname)")
    _check_optional_str("audit_report", "generated_at", generated_at)
    if facts is not None:
        _check_facts("audit_report", facts)
    return build_host_report(host, findings, generated_at=generated_at, facts=facts)


def audit_fleet_summary(reports, generated_at=None, not_audited=None):
    """A list of host reports -> the fleet summary document (fleet.json)."""
    if not isinstance(reports, (list, tuple)):
        _fail("audit_fleet_summary", f"expected a list of host reports, got {type(reports).__name__}")
    for index, report in enumerate(reports):
        if not isinstance(report, Mapping) or report.get("kind") != "host":
            _fail("audit_fleet_summary", f"item #{index} is not a host report made by hostcare.vps.audit_report")
    _check_optional_str("audit_fleet_summary", "generated_at", generated_at)
    if not_audited is not None and (not isinstance(not_audited, (list, tuple))
                                    or not all(isinstance(h, str) for h in not_audited)):
        _fail("audit_fleet_summary", "not_audited must be a list of host names")
    return build_fleet_summary(reports, generated_at=generated_at, not_audited=not_audited)


def audit_report_markdown(report):
    """A host report or fleet summary -> markdown text."""
    try:
        return render_markdown(report)
    except ReportError as exc:
        _fail("audit_report_markdown", str(exc))
    return None  # pragma: no cover


def audit_console_summary(report, report_path=None, show_ok=True):
    """A host report or fleet summary -> short console lines, most severe first."""
    _check_optional_str("audit_console_summary", "report_path", report_path)
    if not isinstance(show_ok, bool):
        _fail("audit_console_summary", f"show_ok must be a boolean, got {show_ok!r}")
    try:
        return console_lines(report, report_path=report_path, show_ok=show_ok)
    except ReportError as exc:
        _fail("audit_console_summary", str(exc))
    return None  # pragma: no cover


def audit_postgres_targets(docker, patterns=None, native=True, connections=None):
    """hostcare_docker (or null) -> the pg_settings_facts calls to make: native, then matching running containers."""
    name = "audit_postgres_targets"
    if docker is not None and not isinstance(docker, Mapping):
        _fail(name, f"expected the hostcare_docker fact dict or null, got {type(docker).__name__}")
    if patterns is not None:
        if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) and p for p in patterns):
            _fail(name, "patterns must be a list of regular expressions (strings)")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                _fail(name, f"pattern {pattern!r} is not a valid regular expression: {exc}")
    if not isinstance(native, bool):
        _fail(name, f"native must be a boolean, got {native!r}")
    if connections is not None and not isinstance(connections, (list, tuple)):
        _fail(name, f"connections must be a list (audit_postgres_connections), got {type(connections).__name__}")
    return postgres_targets(docker, patterns=patterns, native=native, connections=connections)


def audit_postgres_instances(results):
    """Registered pg_settings_facts loop results -> the postgres list of audit_findings."""
    if not isinstance(results, (list, tuple)):
        _fail("audit_postgres_instances",
              f"expected the results list of a registered pg_settings_facts loop, got {type(results).__name__}")
    return postgres_instances_from_results(results)


class FilterModule:
    """hostcare.vps audit filters."""

    def filters(self):
        return {
            "audit_findings": audit_findings,
            "audit_report": audit_report,
            "audit_fleet_summary": audit_fleet_summary,
            "audit_report_markdown": audit_report_markdown,
            "audit_console_summary": audit_console_summary,
            "audit_postgres_targets": audit_postgres_targets,
            "audit_postgres_instances": audit_postgres_instances,
        }
