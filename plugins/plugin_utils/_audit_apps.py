# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Apps checks of the audit: the Puma workers and threads, DB pools and Sidekiq of the apps in ``facts["apps"]``
(the inventory variable audit_apps) checked by hostcare.vps.puma_pool against PostgreSQL's connections, for the
one RAM of the audited system.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._validate import MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import (
    available_instances,
    int_setting,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import NUMBER_INPUTS as PUMA_INPUTS
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import PumaPoolError
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import normalise_inputs as normalise_puma
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import puma_pool
from ansible_collections.hostcare.vps.plugins.plugin_utils._workload_apps import discovered_apps, merged_apps


APP_CURRENT_KEYS = ("workers", "threads", "db_pool", "db_pool_sidekiq", "sidekiq_concurrency")
"""Keys of an audit_apps entry that describe the app as it runs (puma_pool's ``current``)."""


PUMA_DEFAULT_OTHER_CLIENTS = PUMA_INPUTS["other_db_clients"][0]


APP_OWN_KEYS = ("name", "postgres", "sources", "discovered_in", "database")
"""name: shown in the finding; postgres: the label of the PostgreSQL instance it uses (native, container x); the
others come with the apps discovered in the workload facts (_workload_apps): where each number was read."""


def _app_inputs(app, ram_bytes, cpu_count, pg_max_connections, other_clients):
    inputs = {key: value for key, value in app.items()
              if key not in APP_CURRENT_KEYS + APP_OWN_KEYS and value is not None}
    inputs.setdefault("ram_mb", ram_bytes / MIB)
    if cpu_count is not None:
        inputs.setdefault("cpu_count", cpu_count)
    if pg_max_connections is not None:
        inputs.setdefault("pg_max_connections", pg_max_connections)
    inputs["other_db_clients"] = inputs.get("other_db_clients", PUMA_DEFAULT_OTHER_CLIENTS) + other_clients
    if app.get("sidekiq_concurrency") is not None:
        inputs.setdefault("sidekiq_concurrency", app["sidekiq_concurrency"])
    current = {key: app[key] for key in APP_CURRENT_KEYS if app.get(key) is not None}
    if current:
        inputs["current"] = current
    return inputs


def _app_postgres(app, facts):
    """(max_connections, where it came from) for the PostgreSQL the app uses."""
    if app.get("pg_max_connections") is not None:
        return app["pg_max_connections"], "audit_apps"
    instances = available_instances(facts) if isinstance(facts.get("postgres"), (list, tuple)) else []
    if app.get("postgres"):
        instances = [item for item in instances if item["label"] == app["postgres"]]
    if len(instances) == 1:
        value = int_setting(instances[0]["facts"], "max_connections")
        if value is not None:
            return value, f"PostgreSQL ({instances[0]['label']})"
    return None, "puma_pool's default (100): name the instance with postgres: or give pg_max_connections"


def all_apps(facts):
    """The apps discovered in the workload facts (_workload_apps) merged with audit_apps (facts["apps"])."""
    given = facts.get("apps") if isinstance(facts.get("apps"), (list, tuple)) else []
    labels = [item["label"] for item in available_instances(facts)] if isinstance(facts.get("postgres"), (list, tuple)) else []
    discovered = discovered_apps(facts["workload"], labels) if isinstance(facts.get("workload"), Mapping) else []
    return merged_apps(discovered, given)


def _origin(app):
    """Where the app's numbers come from, for the finding's summary."""
    if app.get("discovered_in"):
        return "discovered in " + ", ".join(str(where) for where in app["discovered_in"][:4])
    return "audit_apps"


@rule("apps.pool", needs=("swap",))
def rule_apps_pool(facts, limits):
    """The apps of the inventory variable audit_apps (facts["apps"]): Puma workers/threads, DB pools and Sidekiq
    checked by hostcare.vps.puma_pool against PostgreSQL's connections, each app counting the others' pools."""
    apps = all_apps(facts)
    if not apps:
        return []
    ram, _source = system_ram(facts)
    cpu_count = core.as_number(facts.get("cpu_count"))
    if cpu_count is None:
        cpu_count = core.as_number(core.as_dict(facts.get("workload")).get("cpu_count"))
    entries = [app for app in apps if isinstance(app, Mapping)]
    findings = []
    plans = []
    # First pass: each app alone, for its pool ceiling; the second counts the other apps' ceilings as clients.
    for index, app in enumerate(entries):
        name = str(app.get("name") or f"app #{index + 1}")
        max_connections, pg_source = _app_postgres(app, facts)
        plan, error = None, None
        if ram is None:
            error = "RAM is unknown (no swap facts)"
        else:
            try:
                plan = puma_pool(normalise_puma(_app_inputs(app, ram, cpu_count, max_connections, 0)))
            except PumaPoolError as exc:
                error = str(exc)
        plans.append((name, app, max_connections, pg_source, plan, error))
    ceilings = [(plan["audit"] or {}).get("connections", plan["connections"])["ceiling"] if plan else 0
                for _name, _app, _max, _source, plan, _error in plans]
    for index, (name, app, max_connections, pg_source, plan, error) in enumerate(plans):
        others = sum(ceilings) - ceilings[index]
        if plan is not None:
            plan = puma_pool(normalise_puma(_app_inputs(app, ram, cpu_count, max_connections, others)))
        if plan is None:
            findings.append(core.make_finding(
                "apps.pool", "info", f"App {name}: pool sizes not checked",
                f"The Puma / DB pool / Sidekiq check of {name} (audit_apps) could not run: {error}.",
                evidence={"app": name, "error": error},
                recommendation=("Fix the audit_apps entry (docs/audit.md lists its keys); cpu_count is needed "
                                "per app when the audit cannot read it.")))
            continue
        audit = plan["audit"] or {}
        errors = list(audit.get("errors") or [])
        warnings = list(audit.get("warnings") or [])
        connections = audit.get("connections") or plan["connections"]
        recommended = {key: plan[key] for key in ("mode", "web_concurrency", "rails_max_threads", "db_pool_web",
                                                  "db_pool_sidekiq", "sidekiq_concurrency")}
        evidence = {"app": name, "current": {key: app[key] for key in APP_CURRENT_KEYS if app.get(key) is not None},
                    "recommended": recommended, "connections": connections,
                    "recommended_connections": plan["connections"], "pg_max_connections": max_connections,
                    "pg_max_connections_source": pg_source, "other_apps_ceiling": others,
                    "errors": errors, "warnings": warnings, "plan_errors": plan["errors"],
                    "plan_warnings": plan["warnings"], "origin": _origin(app),
                    "sources": app.get("sources") or {key: "audit_apps" for key in APP_CURRENT_KEYS if key in app},
                    "database": app.get("database") or []}
        advice = (f"Recommended for {name}: WEB_CONCURRENCY={recommended['web_concurrency']}, "
                  f"RAILS_MAX_THREADS={recommended['rails_max_threads']}, DB_POOL={recommended['db_pool_web']} for "
                  f"Puma; Sidekiq concurrency {recommended['sidekiq_concurrency']} with DB_POOL="
                  f"{recommended['db_pool_sidekiq']}. The pools are per process: DB_POOL is never a cluster total.")
        if not errors and not warnings:
            findings.append(core.make_finding(
                "apps.pool_ok", "ok", f"App {name}: pools fit PostgreSQL's connections",
                f"{name}: at most {connections['total']} connections of {connections['pg_usable']} usable "
                f"(headroom {connections['headroom']}).", evidence=evidence, recommendation=advice))
            continue
        severity = "critical" if errors else "warning"
        problems = errors + warnings
        findings.append(core.make_finding(
            "apps.pool", severity,
            f"App {name}: {problems[0]}" if len(problems) == 1 else f"App {name}: {len(problems)} pool problems",
            f"{name} ({_origin(app)}): " + "; ".join(problems) + f". Pools allow {connections['total']} connections, "
            f"{connections['pg_usable']} usable on PostgreSQL (max_connections {max_connections or 100}, "
            f"{pg_source}).",
            evidence=evidence, recommendation=advice, risk="caution"))
    return findings
