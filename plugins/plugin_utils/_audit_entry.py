# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The audit's one entry point, without Ansible: the fact modules' registered results in, the host report (and its
JSON and Markdown files, and its console summary) out; the fleet summary likewise. The action plugin
hostcare.vps.audit_report is a thin shell around these functions; the filter hostcare.vps.audit_findings uses
check_facts.

Pure functions, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import FACT_SOURCES, LIST_SOURCES, AuditError, as_dict
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_ignore import IgnoreError, apply_ignore, check_ignore
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import postgres_instances_from_results
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_rules import audit_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import (
    build_fleet_summary,
    build_host_report,
    check_report,
    console_lines,
    render_markdown,
)

CONTEXT_KEYS = ("apps", "cpu_count")
MAX_CPU_COUNT = 4096  # the most CPUs a Linux kernel build supports by default (CONFIG_NR_CPUS on x86_64)
"""Besides the fact sources: the apps the user describes in audit_apps, and the host's CPU count they are sized for."""
FACTS_KEYS = tuple(FACT_SOURCES) + ("errors",) + CONTEXT_KEYS
INSTANCE_KEYS = ("label", "facts", "error", "connection")
FACT_NAMES = {"swap": "hostcare_swap", "disk": "hostcare_disk", "docker": "hostcare_docker",
              "workload": "hostcare_workload"}
"""The ansible_facts key each dict fact module returns."""


# --------------------------------------------------------------------------------------------- input


def check_facts(facts):
    """Raise AuditError (the message names the key) unless ``facts`` is a facts dict the rules can read."""
    if not isinstance(facts, Mapping):
        raise AuditError(f"expected a dict with keys {', '.join(FACTS_KEYS)} (fact dicts or null), "
                         f"got {type(facts).__name__}")
    unknown = [str(key) for key in facts if key not in FACTS_KEYS]
    if unknown:
        raise AuditError(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(FACTS_KEYS)}")
    apps = facts.get("apps")
    if apps is not None and not (isinstance(apps, (list, tuple)) and all(isinstance(app, Mapping) for app in apps)):
        raise AuditError(f"apps must be the list of audit_apps entries (dicts), got {apps!r}")
    cpu_count = facts.get("cpu_count")
    if cpu_count is not None and (isinstance(cpu_count, bool) or not isinstance(cpu_count, int)
                                  or not 1 <= cpu_count <= MAX_CPU_COUNT):
        raise AuditError(f"cpu_count must be a whole number of CPUs (1 to {MAX_CPU_COUNT}), got {cpu_count!r}")
    for source in FACT_SOURCES:
        value = facts.get(source)
        if source in LIST_SOURCES:
            _check_instances(source, value)
        elif value is not None and not isinstance(value, Mapping):
            raise AuditError(f"{source} must be the {FACT_SOURCES[source]} fact dict or null, "
                             f"got {type(value).__name__}")
    errors = facts.get("errors")
    if errors is not None:
        if not isinstance(errors, Mapping):
            raise AuditError(f"errors must be a dict of source -> message, got {type(errors).__name__}")
        for key in errors:
            if key not in FACT_SOURCES:
                raise AuditError(f"errors: unknown source {key!r}; allowed: {', '.join(FACT_SOURCES)}")


def _check_instances(source, value):
    """postgres: null or a list of {label, facts, error, connection} (one per instance)."""
    if value is None:
        return
    if not isinstance(value, (list, tuple)):
        raise AuditError(f"{source} must be a list of {{label, facts}} (facts: the {FACT_SOURCES[source]} fact "
                         f"dict) or null, got {type(value).__name__}")
    for index, entry in enumerate(value):
        where = f"{source}[{index}]"
        if not isinstance(entry, Mapping):
            raise AuditError(f"{where} must be a dict with keys {', '.join(INSTANCE_KEYS)}, got {type(entry).__name__}")
        unknown = [str(key) for key in entry if key not in INSTANCE_KEYS]
        if unknown:
            raise AuditError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(INSTANCE_KEYS)}")
        if not isinstance(entry.get("label"), str) or not entry.get("label"):
            raise AuditError(f"{where}: label must be a non-empty string (native, container <name> ...)")
        if entry.get("facts") is not None and not isinstance(entry["facts"], Mapping):
            raise AuditError(f"{where}: facts must be the {FACT_SOURCES[source]} fact dict or null, "
                             f"got {type(entry['facts']).__name__}")
        if entry.get("connection") is not None and not isinstance(entry["connection"], Mapping):
            raise AuditError(f"{where}: connection must be a dict or null")
        if entry.get("error") is not None and not isinstance(entry["error"], str):
            raise AuditError(f"{where}: error must be a string or null")


def facts_from_results(results, postgres_results=None, apps=None, cpu_count=None):
    """The facts dict of one host from the registered results of its fact tasks: ``results`` {swap, disk[, docker]}
    (a missing or failed module gives null and its message in ``errors``: the rules turn it into a finding),
    ``postgres_results`` the results of the pg_settings_facts calls (see postgres_instances_from_results), and the
    apps of audit_apps with the CPU count they are sized for."""
    if not isinstance(results, Mapping):
        raise AuditError(f"results must be a dict of registered results by source, got {type(results).__name__}")
    facts, errors = {}, {}
    for source, fact_name in FACT_NAMES.items():
        if source not in results:
            continue  # not audited (docker and workload are optional)
        result = as_dict(results[source])
        value = as_dict(result.get("ansible_facts")).get(fact_name)
        facts[source] = value if isinstance(value, Mapping) else None
        errors[source] = None if facts[source] is not None else str(result.get("msg") or "no facts returned")
    if postgres_results is not None:
        if not isinstance(postgres_results, (list, tuple)):
            raise AuditError("postgres must be the list of registered pg_settings_facts results, got "
                             f"{type(postgres_results).__name__}")
        facts["postgres"] = postgres_instances_from_results(postgres_results)
    facts["errors"] = errors
    if apps is not None:
        facts["apps"] = apps
        facts["cpu_count"] = cpu_count
    check_facts(facts)
    return facts


# --------------------------------------------------------------------------------------------- output


def host_report(host, facts, thresholds=None, generated_at=None, ignore=None, today=None):
    """The host report document (<host>.json) for ``facts``: every rule run, findings most severe first.
    ``ignore``: the accepted risks (audit_ignore entries, checked before anything), judged on ``today``
    (a date or YYYY-MM-DD; required with ``ignore``)."""
    if not isinstance(host, str) or not host:
        raise AuditError("host must be a non-empty string (use inventory_hostname)")
    check_facts(facts)
    try:
        check_ignore(ignore)
        findings = audit_findings(facts, thresholds=thresholds)
        findings, ignored, unmatched = apply_ignore(findings, ignore, today) if ignore else (findings, [], [])
    except IgnoreError as error:
        raise AuditError(str(error)) from None
    return build_host_report(host, findings, generated_at=generated_at, facts=facts, ignored=ignored,
                             ignore_unmatched=unmatched)


def fleet_report(reports, generated_at=None, not_audited=None):
    """The fleet summary (fleet.json) of several host reports; each is checked first (a clean error, never a crash)."""
    if not isinstance(reports, (list, tuple)):
        raise AuditError(f"reports must be a list of host reports, got {type(reports).__name__}")
    for index, report in enumerate(reports):
        if check_report(report, where=f"reports[{index}]") != "host":
            raise AuditError(f"reports[{index}] is a fleet summary, not a host report")
    if not_audited is not None and (not isinstance(not_audited, (list, tuple))
                                    or not all(isinstance(name, str) for name in not_audited)):
        raise AuditError("not_audited must be a list of host names")
    return build_fleet_summary(reports, generated_at=generated_at, not_audited=not_audited)


def report_files(name, report):
    """{<name>.json, <name>.md}: the report as JSON (sorted keys, UTF-8) and as Markdown."""
    return {f"{name}.json": json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            f"{name}.md": render_markdown(report)}


def summary_lines(report, report_path=None, show_ok=True):
    """The console summary of a host report or fleet summary."""
    return console_lines(report, report_path=report_path, show_ok=show_ok)
