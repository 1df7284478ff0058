# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""PostgreSQL checks of the audit, on ``facts["postgres"]``: a list with one entry per PostgreSQL instance::

    [{"label": "native", "facts": <hostcare_postgres>},
     {"label": "container app-db-1", "facts": <hostcare_postgres>,
      "connection": {"method": "docker", "container": "app-db-1"}},          # optional, never a password
     {"label": "tcp app@10.0.0.5:5432", "facts": None, "error": "the module failed: ..."}]

Finding ids are the same for every instance; the title, summary and ``evidence.instance`` name it. The entry
labelled ``native`` stands for "PostgreSQL on the host itself", which the audit always asks: when it says the
client or the ``postgres`` OS user is missing (NOT_INSTALLED_CODES) the host has no PostgreSQL and nothing is
reported. Registered into ``_audit.RULES`` when _audit.py is imported.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from ansible_collections.hostcare.vps.plugins.module_utils._postgres import setting_in_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import pg_diff
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import (
    CRITICAL_PERCENT,
    WARNING_PERCENT,
    WORK_MEM_FACTOR,
    fit_to_budget,
    grade,
    model_settings,
    with_values,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import memory_model as model_of
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import NUMBER_INPUTS as PUMA_INPUTS
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import PumaPoolError
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import normalise_inputs as normalise_puma
from ansible_collections.hostcare.vps.plugins.plugin_utils._puma_pool import puma_pool
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import (
    MIN_CONNECTIONS,
    VERSIONS,
    PgTuneError,
    format_pg_kb,
    normalise_inputs,
    pg_tune,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    GIB,
    MIB,
    SEVERITY_RANK,
    _dict,
    _num,
    _pct,
    _plural,
    _size,
    make_finding,
    rule,
    system_ram,
)

NATIVE_LABEL = "native"
NOT_INSTALLED_CODES = frozenset({"psql_missing", "os_user_missing"})
"""reason_code of the native instance meaning "no PostgreSQL on this host": no finding at all."""

POSTGRES_DEFAULTS = {
    "shared_buffers": 128 * MIB,
    "effective_cache_size": 4 * GIB,
    "maintenance_work_mem": 64 * MIB,
}
"""PostgreSQL's built-in values of the memory settings the audit checks (initdb writes shared_buffers = 128MB)."""

DEFAULT_TOLERANCE = 0.1
"""A setting at its default is reported only when the recommendation differs from it by more than this share."""

MAINTENANCE_WORK_MEM_CAP = 2 * GIB
DEFAULT_PORT = 5432

# Why an instance could not be read (hostcare_postgres.reason_code) -> what to do about it.
_UNAVAILABLE_HINTS = {
    "not_running": "If it should run: sudo systemctl status postgresql (or the container's log).",
    "permission_denied": "Re-run the audit with --become (-b) so it can run psql as the postgres OS user.",
    "docker_denied": "Re-run the audit with --become (-b), or as a member of the docker group.",
    "auth_failed": "Give the audit a login in audit_postgres_connections (user, password from a vault, dbname).",
    "password_missing": "Give the audit a login in audit_postgres_connections (user, password from a vault).",
    "no_hba_entry": "Allow the audit's login in pg_hba.conf, or give another one in audit_postgres_connections.",
    "role_missing": "Give the audit an existing role in audit_postgres_connections (user).",
    "database_missing": "Give the audit an existing database in audit_postgres_connections (dbname).",
    "too_many_connections": ("Every connection slot is taken, so clients are being refused too: see what holds "
                             "them (pg_stat_activity) and consider a pooler such as PgBouncer."),
    "not_ready": "PostgreSQL was starting, stopping or recovering: run the audit again in a moment.",
    "pooler": "That is a connection pooler: point audit_postgres_connections at PostgreSQL itself.",
    "timeout": "PostgreSQL did not answer in time: it may be hung or overloaded; check its log.",
    "container_missing": "The container went away between the Docker facts and the query: run the audit again.",
    "container_stopped": "The container stopped between the Docker facts and the query: run the audit again.",
    "docker_missing": "The docker command is not installed on the target, so containers cannot be asked.",
    "docker_down": "The Docker daemon is not running.",
    "psql_missing": ("psql is not in this container: if it is not PostgreSQL, narrow "
                     "audit_postgres_image_patterns."),
    "docker_user_missing": "The container has no postgres user: give docker_user in audit_postgres_connections.",
}
_WARNING_CODES = frozenset({"too_many_connections"})


# --------------------------------------------------------------------------------------------- instances


def postgres_instances(facts):
    """The instances to judge: [{label, facts (dict or None), error, connection}], "no PostgreSQL here" left out."""
    result = []
    entries = facts.get("postgres")
    for index, entry in enumerate(entries if isinstance(entries, (list, tuple)) else []):
        if not isinstance(entry, Mapping):
            continue
        label = entry.get("label") if isinstance(entry.get("label"), str) and entry.get("label") else f"#{index + 1}"
        pg = entry.get("facts") if isinstance(entry.get("facts"), Mapping) else None
        if (label == NATIVE_LABEL and pg is not None and pg.get("available") is not True
                and pg.get("reason_code") in NOT_INSTALLED_CODES):
            continue
        result.append({"label": label, "facts": pg, "error": entry.get("error"),
                       "connection": _connection(label, entry.get("connection"), pg)})
    return result


def sharing_unreadable(facts):
    """Instances on this machine (native or a container) that run but could not be read: they use the same RAM,
    so the budget of the readable ones counts them too (a stopped or vanished one does not)."""
    stopped = ("not_running", "container_missing", "container_stopped", "docker_missing", "docker_down")
    return [item for item in postgres_instances(facts)
            if not (item["facts"] is not None and item["facts"].get("available") is True)
            and item["connection"].get("method") in ("docker", "local_socket")
            and (item["facts"] or {}).get("reason_code") not in stopped]


def _available(facts):
    return [item for item in postgres_instances(facts)
            if item["facts"] is not None and item["facts"].get("available") is True]


def _connection(label, given, pg):
    """How to reach the instance with psql: the given connection, else what the facts and label say."""
    connection = dict(given) if isinstance(given, Mapping) else {}
    connection.pop("password", None)
    if not connection.get("method"):
        method = (pg or {}).get("method")
        if label.startswith("container "):
            method = "docker"
            connection.setdefault("container", label[len("container "):])
        elif label == NATIVE_LABEL:
            method = "local_socket"
        connection["method"] = method
    return connection


def _title(item):
    return f"PostgreSQL ({item['label']})"


# --------------------------------------------------------------------------------------------- settings


def _setting(pg, name):
    return _dict(_dict(pg.get("settings")).get(name))


def _int_setting(pg, name):
    try:
        return int(_setting(pg, name).get("setting"))
    except (TypeError, ValueError):
        return None


def _boot_bytes(entry):
    """The boot value (compiled-in default) of a memory setting in bytes, or None; the unit arithmetic is
    pg_settings_facts' own (module_utils/_postgres.setting_in_bytes, which gives val_in_bytes)."""
    return setting_in_bytes(str(entry.get("boot_val")), entry.get("unit"))


def pg_size(num_bytes):
    """A memory value as PostgreSQL takes it, in whole MB (GB when exact): 1073741824 -> '1GB', 983 MiB -> '983MB'."""
    num_bytes = int(num_bytes)
    if num_bytes >= GIB and num_bytes % GIB == 0:
        return f"{num_bytes // GIB}GB"
    return f"{max(1, num_bytes // MIB)}MB"


def _close(recommended, current):
    """Within DEFAULT_TOLERANCE of each other: a default that close to the recommendation is left alone."""
    return abs(recommended - current) <= current * DEFAULT_TOLERANCE


def _tune_version(pg):
    """PostgreSQL major of the facts, within PGTune's range (10-18), or None (PGTune's default)."""
    major = _num(_dict(pg.get("version")).get("major")) if isinstance(pg, Mapping) else None
    if major is None:
        return None
    return min(max(int(major), VERSIONS[0]), VERSIONS[-1])


def model_limits(limits=None):
    """(work_mem factor, warning percent, critical percent) of the one memory model, from the audit thresholds."""
    limits = limits or {}
    return (limits.get("postgres_work_mem_factor", WORK_MEM_FACTOR),
            limits.get("postgres_memory_warning_percent", WARNING_PERCENT),
            limits.get("postgres_memory_critical_percent", CRITICAL_PERCENT))


def _fit(tune, pg, budget_bytes, limits):
    """PGTune's values lowered (work_mem, then max_connections) until the memory model of the server with them
    applied is under the warning share of ``budget_bytes``: the audit never recommends what it then flags."""
    factor, warning, _critical = model_limits(limits)
    settings = with_values(model_settings(_dict(pg).get("settings")), tune["values"])
    changes = fit_to_budget(settings, budget_bytes, factor, warning)[1]
    for name, value in changes.items():
        tune["values"][name] = value
        tune["settings"][name] = format_pg_kb(value // 1024) if name == "work_mem" else str(value)
    return {f"{name}_bytes" if name == "work_mem" else name: value for name, value in changes.items()}


def recommend_settings(pg, ram_bytes, ram_source="MemTotal", instances=1, limits=None):
    """hostcare.vps.pg_tune's recommendation for one instance of ``instances`` sharing ``ram_bytes`` (the machine's
    RAM, already capped by a container limit), fitted to the one memory model (``limits``: the audit thresholds):
    {tune, diff, budget, fitted}, or None when the budget is below PGTune's 512MB. The instance's own
    max_connections and version are kept unless the fit lowers them; the workload is PGTune's default (web)."""
    inputs = {"memory": int(ram_bytes), "version": _tune_version(pg)}
    connections = _int_setting(pg, "max_connections") if isinstance(pg, Mapping) else None
    if connections is not None and connections >= MIN_CONNECTIONS:
        inputs["max_connections"] = connections
    if instances > 1:
        inputs["memory_share"] = 1.0 / instances
    try:
        tune = pg_tune(normalise_inputs(inputs))
    except PgTuneError:
        return None
    ram_text = "the container memory limit" if ram_source == "container memory limit" else "RAM"
    budget = dict(tune.get("budget") or {})
    if not budget:
        budget = {"bytes": int(ram_bytes), "source": "memory_limit" if ram_source == "container memory limit"
                  else "total", "reason": f"all of the {ram_text} ({format_size(ram_bytes)})"}
    else:
        budget["reason"] = f"{format_size(ram_bytes)} of {ram_text} divided among {instances} PostgreSQL instances"
    fitted = _fit(tune, pg, budget["bytes"], limits)
    diff = None
    if isinstance(pg, Mapping) and pg.get("available") and isinstance(pg.get("settings") or {}, Mapping):
        factor, warning, critical = model_limits(limits)
        diff = pg_diff(pg, tune, factor, warning, critical)
    return {"tune": tune, "diff": diff, "budget": budget, "fitted": fitted}


def recommended_settings(diff):
    """{name: {current, recommended, restart, change}} from a pg_diff result (settings the server has)."""
    result = {}
    for entry in (diff or {}).get("settings") or []:
        if entry.get("change") == "unavailable":
            continue
        result[entry["name"]] = {"current": entry.get("current"), "recommended": entry.get("recommended"),
                                 "restart": bool(entry.get("restart")), "change": entry.get("change")}
    return result


def recommended_values(diff):
    """{name: bytes or number} of the recommended settings that change (the values to apply, machine-readable)."""
    return {entry["name"]: entry.get("recommended_value") for entry in (diff or {}).get("settings") or []
            if entry.get("change") not in ("none", "unavailable")}


# --------------------------------------------------------------------------------------------- commands


def psql_command(connection):
    """The psql invocation reaching the instance as it was audited (no password: psql asks, or use ~/.pgpass)."""
    method = connection.get("method")
    options = []
    if connection.get("host"):
        options += ["-h", str(connection["host"])]
    elif connection.get("socket_dir"):
        options += ["-h", str(connection["socket_dir"])]
    port = connection.get("port")
    if port not in (None, "", DEFAULT_PORT, str(DEFAULT_PORT)):
        options += ["-p", str(port)]
    if connection.get("user"):
        options += ["-U", str(connection["user"])]
    if connection.get("dbname") and connection.get("dbname") != "postgres":
        options += ["-d", str(connection["dbname"])]
    if method == "docker" and connection.get("container"):
        user = connection.get("docker_user") or "postgres"
        base = ["docker", "exec", "-i", "-u", str(user), str(connection["container"]), "psql", "-X"]
    elif method == "local_socket":
        base = ["sudo", "-u", str(connection.get("os_user") or "postgres"), "psql", "-X"]
    else:
        base = ["psql", "-X"]
    return " ".join(shlex.quote(word) for word in base + options)


def sql_command(connection, statements):
    """psql running ``statements`` from a here-document (names taken from the facts are quoted literals)."""
    return (f"{psql_command(connection)} -v ON_ERROR_STOP=1 <<'SQL'\n" + "\n".join(statements) + "\nSQL")


def restart_command(connection):
    """How to restart the instance (a short outage)."""
    if connection.get("method") == "docker" and connection.get("container"):
        return f"docker restart {shlex.quote(str(connection['container']))}"
    if connection.get("method") == "local_socket":
        return ("sudo systemctl restart postgresql   # Debian/Ubuntu: every cluster; "
                "RHEL with PGDG packages: postgresql-<major>")
    return "# restart PostgreSQL where it runs (systemctl restart postgresql, or docker restart <container>)"


def _quote_literal(text):
    return "'" + str(text).replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------- availability


@rule("postgres.available", needs=("postgres",))
def rule_postgres_available(facts, limits):
    """An instance that could not be read -> info with the reason (an installed but stopped server too)."""
    findings = []
    for item in postgres_instances(facts):
        pg = item["facts"]
        if pg is not None and pg.get("available") is True:
            continue
        code = pg.get("reason_code") if pg else None
        reason = str((pg or {}).get("reason") or item["error"] or "the module returned no facts")
        evidence = {"instance": item["label"], "reason_code": code, "reason": reason,
                    "method": (pg or {}).get("method") or item["connection"].get("method")}
        if pg is None:
            title = f"{_title(item)} not checked: hostcare.vps.pg_settings_facts failed"
            hint = "Look at the error (often a bad entry of audit_postgres_connections); every other check ran."
        elif code == "not_running" and item["label"] == NATIVE_LABEL:
            title = f"{_title(item)} is installed but not running"
            hint = _UNAVAILABLE_HINTS["not_running"]
        else:
            title = f"{_title(item)} not checked: {code or 'unavailable'}"
            hint = _UNAVAILABLE_HINTS.get(code, "Look at the reason; every other check still ran.")
        findings.append(make_finding(
            "postgres.unavailable", "warning" if code in _WARNING_CODES else "info", title,
            f"The settings of {_title(item)} could not be read: {reason}",
            evidence=evidence, recommendation=hint))
    return findings


# --------------------------------------------------------------------------------------------- memory


@rule("postgres.memory_defaults", needs=("postgres",))
def rule_postgres_memory_defaults(facts, limits):
    """shared_buffers / effective_cache_size / maintenance_work_mem still at PostgreSQL's defaults on a
    machine of at least postgres_defaults_min_ram_bytes -> warning with ALTER SYSTEM lines."""
    ram, ram_source = system_ram(facts)
    if ram is None:
        return []  # postgres.memory_unknown says it once per instance
    instances = _available(facts)
    unread = [item["label"] for item in sharing_unreadable(facts)]
    sharing = len(instances) + len(unread)
    share = ram // max(1, sharing)
    minimum = limits["postgres_defaults_min_ram_bytes"]
    findings = []
    for item in instances:
        pg = item["facts"]
        base = {"instance": item["label"], **_size("ram", ram), "ram_source": ram_source}
        plan = recommend_settings(pg, ram, ram_source, sharing, limits) if ram >= minimum else None
        if plan is not None:
            base.update({"budget": plan["budget"], "recommended_settings": recommended_settings(plan["diff"]),
                         "recommended_values": recommended_values(plan["diff"]),
                         "fitted_to_memory_model": plan["fitted"]})
            model = (plan["diff"] or {}).get("memory_model")
            if model:
                base["memory_model"] = {
                    label: None if not model.get(label) else {
                        key: model[label][key] for key in ("total_bytes", "percent_of_budget", "verdict")}
                    for label in ("current", "recommended")}
        if sharing > 1:
            base.update({**_size("ram_share", share), "instances_sharing_ram": sharing})
        if unread:
            base["unreadable_instances_counted"] = unread
        if ram < minimum:
            findings.append(make_finding(
                "postgres.memory_defaults_ok", "ok",
                f"{_title(item)}: memory defaults fit {format_size(ram)} RAM",
                f"Below {format_size(minimum)} of RAM PostgreSQL's default memory settings are reasonable.",
                evidence={**base, **_size("min_ram", minimum)}))
            continue
        if plan is None:
            continue  # a budget below PGTune's 512MB (many instances on a small machine): nothing to size
        values, strings = plan["tune"]["values"], plan["tune"]["settings"]
        at_default = []
        for name, default in POSTGRES_DEFAULTS.items():
            entry = _setting(pg, name)
            value = _num(entry.get("val_in_bytes"))
            if value is None:
                continue
            if value not in (default, _boot_bytes(entry)) or _close(values[name], value):
                continue
            at_default.append({"name": name, "current": entry.get("pretty_val") or pg_size(value),
                               "current_bytes": value, "recommended": strings[name],
                               "recommended_bytes": values[name], "source": entry.get("source"),
                               "context": entry.get("context")})
        if not at_default:
            findings.append(make_finding(
                "postgres.memory_defaults_ok", "ok", f"{_title(item)}: memory settings are not the defaults",
                f"shared_buffers, effective_cache_size and maintenance_work_mem of {_title(item)} are set for "
                f"this machine (not PostgreSQL's defaults).",
                evidence=base))
            continue
        names = [row["name"] for row in at_default]
        statements = [f"ALTER SYSTEM SET {row['name']} = {_quote_literal(row['recommended'])};" for row in at_default]
        statements.append("SELECT pg_reload_conf();")
        command = ("# writes postgresql.auto.conf; the reload applies all but shared_buffers\n"
                   + sql_command(item["connection"], statements))
        restart_text = ""
        if "shared_buffers" in names:
            command += ("\n# shared_buffers needs a restart (a short outage), in a maintenance window:\n# "
                        + restart_command(item["connection"]).lstrip("# "))
            restart_text = " shared_buffers takes effect only after a restart, so plan a maintenance window."
        command_line = [row["name"] for row in at_default if row["source"] == "command line"]
        if command_line:
            restart_text += (f" {', '.join(command_line)} {'is' if len(command_line) == 1 else 'are'} set on the "
                             f"server's command line (a container's `-c ...` arguments): change it there, "
                             f"ALTER SYSTEM does not override the command line.")
        sharing_text = ""
        others = {name: row for name, row in base["recommended_settings"].items()
                  if row["change"] not in ("none",) and name not in names}
        if others:
            sharing_text += (" PGTune also recommends " + ", ".join(
                f"{name} {row['recommended']} (now {row['current']}{', restart' if row['restart'] else ''})"
                for name, row in list(others.items())[:6]) + (", ..." if len(others) > 6 else "")
                + " (evidence recommended_settings; review before applying).")
        if unread:
            sharing_text += (f" {_plural(len(unread), 'other PostgreSQL instance')} on this machine could not be read "
                             f"({', '.join(unread)}) and {'is' if len(unread) == 1 else 'are'} counted as sharing "
                             f"the RAM equally.")
        if plan["fitted"]:
            sharing_text += (" PGTune's " + " and ".join(name.replace("_bytes", "") for name in plan["fitted"])
                             + " are lowered so that the recommendation stays under the postgres.memory_overcommit "
                             "warning line.")
        listed = ", ".join(f"{row['name']} {row['current']} (recommended {row['recommended']})" for row in at_default)
        findings.append(make_finding(
            "postgres.memory_defaults", "warning",
            f"{_title(item)}: {', '.join(names)} still at the default{'s' if len(names) > 1 else ''} "
            f"on {format_size(ram)} RAM",
            f"{_title(item)} runs with PostgreSQL's defaults on a machine with {format_size(ram)} of RAM: {listed}.",
            evidence={**base, "settings": at_default, "names": names},
            recommendation=(f"Size them with PGTune's formulas for a budget of "
                            f"{format_size(plan['budget']['bytes'])}: {plan['budget']['reason']}.{sharing_text} "
                            f"ALTER SYSTEM needs a superuser."
                            f"{restart_text} Leave room for the applications on the same machine: check "
                            f"postgres.memory_overcommit after the change."),
            risk="caution", command=command))
    return findings


def memory_model(pg, factor):
    """The one memory model (_pg_memory) of a server's facts, with readable sizes for the evidence; None when a
    setting is unknown."""
    model = model_of(model_settings(_dict(pg).get("settings")), factor)
    if model is None:
        return None
    readable = {}
    for key, value in model.items():
        readable[key] = value
        if key.endswith("_bytes") and key != "total_bytes":
            readable[key[:-len("_bytes")]] = format_size(value)
    return readable


def _model_severity(total_bytes, ram, limits):
    _factor, warning, critical = model_limits(limits)
    return grade(total_bytes * 100.0 / ram, warning, critical)


def _work_mem_fix(model, ram, limits):
    """A work_mem (bytes) that brings the model under the warning share (_pg_memory.fit_to_budget), or None when
    work_mem alone cannot (below 4 MB, PGTune's floor, fewer connections or a pooler is the better fix)."""
    factor, warning, _critical = model_limits(limits)
    settings = {"shared_buffers": model["shared_buffers_bytes"], "max_connections": model["max_connections"],
                "work_mem": model["work_mem_bytes"], "maintenance_work_mem": model["autovacuum_work_mem_bytes"],
                "autovacuum_max_workers": model["autovacuum_max_workers"], "autovacuum_work_mem": None}
    changes = fit_to_budget(settings, ram, factor, warning)[1]
    return None if "max_connections" in changes else changes.get("work_mem")


@rule("postgres.memory_model", needs=("postgres",))
def rule_postgres_memory_model(facts, limits):
    """The memory model as a share of RAM: >= critical% -> critical, >= warning% -> warning, else ok; with several
    instances, their sum too (when it is worse than each alone)."""
    ram, ram_source = system_ram(facts)
    factor = limits["postgres_work_mem_factor"]
    findings, models = [], []
    for item in _available(facts):
        pg = item["facts"]
        model = memory_model(pg, factor) if ram else None
        if model is None:
            missing = "RAM is unknown (no swap facts)" if not ram else "some memory settings are not visible"
            findings.append(make_finding(
                "postgres.memory_unknown", "info", f"{_title(item)}: memory use not checked",
                f"The worst-case memory use of {_title(item)} could not be computed: {missing}.",
                evidence={"instance": item["label"], **_size("ram", ram)},
                recommendation="Nothing to do unless the other findings say why the facts are incomplete."))
            continue
        share = round(model["total_bytes"] * 100.0 / ram, 1)
        severity = _model_severity(model["total_bytes"], ram, limits)
        models.append((item, model, share, severity))
        evidence = {"instance": item["label"], **_size("model", model["total_bytes"]), "model_percent": share,
                    **_size("ram", ram), "ram_source": ram_source,
                    **{key: value for key, value in model.items() if key != "total_bytes"},
                    "warning_percent": limits["postgres_memory_warning_percent"],
                    "critical_percent": limits["postgres_memory_critical_percent"]}
        parts = (f"shared_buffers {model['shared_buffers']} + {model['max_connections']} connections x work_mem "
                 f"{model['work_mem']} x {factor:g} ({model['connections_work_mem']}) + "
                 f"{model['autovacuum_max_workers']} autovacuum workers x {model['autovacuum_work_mem']}")
        if severity == "ok":
            findings.append(make_finding(
                "postgres.memory_ok", "ok",
                f"{_title(item)}: worst-case memory {format_size(model['total_bytes'])}, {_pct(share)} of RAM: ok",
                f"{parts} = {format_size(model['total_bytes'])}, {_pct(share)} of {format_size(ram)} "
                f"(warning at {_pct(limits['postgres_memory_warning_percent'])}).",
                evidence=evidence))
            continue
        findings.append(_overcommit_finding(item, model, share, severity, ram, parts, evidence, limits))
    if len(models) > 1:
        findings.extend(_combined_model(models, ram, ram_source, limits))
    return findings


def _overcommit_finding(item, model, share, severity, ram, parts, evidence, limits):
    target = _work_mem_fix(model, ram, limits)
    inspect = sql_command(item["connection"], [
        "SELECT name, setting, unit, source FROM pg_settings WHERE name IN ('shared_buffers', 'max_connections', "
        "'work_mem', 'maintenance_work_mem', 'autovacuum_work_mem', 'autovacuum_max_workers');"])
    command = "# the settings in the model (read-only)\n" + inspect
    risk = "safe"
    if target is not None:
        evidence.update(_size("proposed_work_mem", target))
        command += ("\n# lower work_mem for new sessions (reload, no restart):\n"
                    + sql_command(item["connection"], [
                        f"ALTER SYSTEM SET work_mem = {_quote_literal(pg_size(target))};",
                        "SELECT pg_reload_conf();"]))
        risk = "caution"
        fix_text = (f"Lower work_mem to {pg_size(target)} (the command; reload only), or allow fewer connections "
                    f"(a pooler such as PgBouncer lets max_connections drop; that change needs a restart).")
    else:
        fix_text = ("Allow fewer connections (a pooler such as PgBouncer lets max_connections drop; that needs a "
                    "restart) or give shared_buffers less; lowering work_mem below 4MB alone would slow queries.")
    return make_finding(
        "postgres.memory_overcommit", severity,
        f"{_title(item)} may use {_pct(share)} of RAM ({format_size(model['total_bytes'])} of {format_size(ram)})",
        f"{parts} = {format_size(model['total_bytes'])}, {_pct(share)} of {format_size(ram)} RAM "
        f"(warning at {_pct(limits['postgres_memory_warning_percent'])}, critical at "
        f"{_pct(limits['postgres_memory_critical_percent'])}). If every connection sorts or hashes at once, "
        f"the OOM killer can stop PostgreSQL.",
        evidence=evidence,
        recommendation=(f"{fix_text} The model is postgresqltuner's worst case; other programs on the machine "
                        f"need memory too."),
        risk=risk, command=command)


def _combined_model(models, ram, ram_source, limits):
    total = sum(model["total_bytes"] for _item, model, _share, _severity in models)
    share = round(total * 100.0 / ram, 1)
    severity = _model_severity(total, ram, limits)
    worst_alone = min(SEVERITY_RANK[entry[3]] for entry in models)
    if severity == "ok" or SEVERITY_RANK[severity] >= worst_alone:
        return []
    labels = [item["label"] for item, _model, _share, _severity in models]
    rows = [{"instance": item["label"], **_size("model", model["total_bytes"]), "model_percent": model_share}
            for item, model, model_share, _severity in models]
    return [make_finding(
        "postgres.memory_overcommit", severity,
        f"PostgreSQL ({len(models)} instances) may use {_pct(share)} of RAM together "
        f"({format_size(total)} of {format_size(ram)})",
        f"{len(models)} PostgreSQL instances ({', '.join(labels)}) share {format_size(ram)} RAM; their worst cases "
        f"add up to {format_size(total)}, {_pct(share)} "
        f"(warning at {_pct(limits['postgres_memory_warning_percent'])}).",
        evidence={"instance": " + ".join(labels), "instances": rows, **_size("model", total), "model_percent": share,
                  **_size("ram", ram), "ram_source": ram_source,
                  "warning_percent": limits["postgres_memory_warning_percent"],
                  "critical_percent": limits["postgres_memory_critical_percent"]},
        recommendation=("Each instance sizes its memory as if it had the machine to itself. Give each a share: "
                        "lower shared_buffers, work_mem or max_connections where they are largest, or merge the "
                        "databases into one server."),
        risk="safe")]


# --------------------------------------------------------------------------------------------- connections


@rule("postgres.connections", needs=("postgres",))
def rule_postgres_connections(facts, limits):
    """Client connections in use: >= critical% of max_connections -> critical, >= warning% -> warning, else ok."""
    findings = []
    for item in _available(facts):
        connections = _dict(item["facts"].get("connections"))
        total, maximum = _num(connections.get("total")), _num(connections.get("max"))
        if total is None or not maximum:
            continue
        used = _num(connections.get("in_use_percent"))
        used = round(total * 100.0 / maximum, 1) if used is None else used
        by_state = {key: value for key, value in _dict(connections.get("by_state")).items() if value}
        top = [dict(row) for row in (connections.get("by_database_user") or []) if isinstance(row, Mapping)][:5]
        evidence = {"instance": item["label"], "in_use": total, "max_connections": maximum, "in_use_percent": used,
                    "superuser_reserved": _num(connections.get("superuser_reserved")), "by_state": by_state,
                    "by_database_user": top,
                    "warning_percent": limits["postgres_connections_warning_percent"],
                    "critical_percent": limits["postgres_connections_critical_percent"]}
        if used < limits["postgres_connections_warning_percent"]:
            findings.append(make_finding(
                "postgres.connections_ok", "ok",
                f"{_title(item)}: {total} of {maximum} connections in use ({_pct(used)}): ok",
                f"{total} client connections of max_connections {maximum} (warning at "
                f"{_pct(limits['postgres_connections_warning_percent'])}).", evidence=evidence))
            continue
        critical = used >= limits["postgres_connections_critical_percent"]
        threshold = limits["postgres_connections_critical_percent"] if critical \
            else limits["postgres_connections_warning_percent"]
        idle_tx = by_state.get("idle_in_transaction", 0) + by_state.get("idle_in_transaction_aborted", 0)
        who = ", ".join(f"{row.get('user')}@{row.get('database')} {row.get('count')}" for row in top[:3])
        findings.append(make_finding(
            "postgres.connections_high", "critical" if critical else "warning",
            f"{_title(item)}: {total} of {maximum} connections in use ({_pct(used)})",
            f"{total} client connections of max_connections {maximum} ({_pct(used)}; "
            f"{'critical' if critical else 'warning'} at {_pct(threshold)}){': ' + who if who else ''}. "
            f"When none is left, new clients are refused.",
            evidence=evidence,
            recommendation=("See who holds them (the query only reads). Lower the applications' pool sizes (Puma "
                            "threads x workers, Sidekiq concurrency) or put a pooler such as PgBouncer in front; "
                            + (f"{idle_tx} sessions sit idle in a transaction (idle_in_transaction_session_timeout "
                               f"ends those); " if idle_tx else "")
                            + "raising max_connections needs a restart and memory (see postgres.memory_overcommit)."),
            risk="safe",
            command=sql_command(item["connection"], [
                "SELECT datname, usename, application_name, state, count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC;"])))
    return findings


# --------------------------------------------------------------------------------------------- restarts


@rule("postgres.pending_restart", needs=("postgres",))
def rule_postgres_pending_restart(facts, limits):
    """Settings changed in a file that wait for a restart -> warning naming them."""
    findings = []
    for item in _available(facts):
        pg = item["facts"]
        names = [name for name in pg.get("pending_restart_settings") or [] if isinstance(name, str)]
        if not names:
            continue
        rows = [{"name": name, "running_value": _setting(pg, name).get("pretty_val"),
                 "context": _setting(pg, name).get("context")} for name in names]
        quoted = ", ".join(_quote_literal(name) for name in names)
        check = sql_command(item["connection"], [
            "SELECT name, setting, sourcefile, sourceline, applied, error FROM pg_file_settings "
            f"WHERE name IN ({quoted});"])
        command = ("# the values waiting in the files, and any error in them (an error there stops the restart):\n"
                   f"{check}\n"
                   "# in a maintenance window (PostgreSQL is down for a few seconds):\n"
                   f"{restart_command(item['connection'])}")
        findings.append(make_finding(
            "postgres.pending_restart", "warning",
            f"{_title(item)}: {_plural(len(names), 'setting')} waiting for a restart: {', '.join(names)}",
            f"{', '.join(names)} of {_title(item)} {'was' if len(names) == 1 else 'were'} changed in a configuration "
            f"file but the running server still uses the old value"
            f"{'s' if len(names) > 1 else ''} until it restarts.",
            evidence={"instance": item["label"], "settings": names, "running_values": rows},
            recommendation=("Check the new values and the errors column first (the query only reads), then restart "
                            "PostgreSQL in a maintenance window: clients are disconnected for a few seconds."),
            risk="caution", command=command))
    return findings


# --------------------------------------------------------------------------------------------- discovery

DEFAULT_POSTGRES_IMAGE_PATTERNS = ("^postgres(ql)?$", "postgis", "timescale", "^pgvector$")
"""Regular expressions (case-insensitive, searched) for the NAME of a container's image: the last part of the
repository, without registry, tag or digest (postgres for docker.io/library/postgres:16-alpine, postgis for
postgis/postgis:16-3.4, timescaledb-ha for timescale/timescaledb-ha:pg16). Matches postgres, bitnami/postgresql,
supabase/postgres, postgis, timescaledb, pgvector; not postgres-exporter or postgrest."""

CONNECTION_KEYS = ("method", "container", "host", "port", "user", "dbname", "os_user", "socket_dir", "docker_user")
"""Options of pg_settings_facts kept with an instance to build psql commands (never password or uri)."""


def image_name(reference):
    """docker.io/library/postgres:16-alpine@sha256:... -> postgres; postgis/postgis:16 -> postgis."""
    text = str(reference or "").split("@", 1)[0]
    last = text.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def postgres_targets(docker, patterns=None, native=True, connections=None):
    """The pg_settings_facts calls the audit makes: the native one, then one per running container whose image
    name matches ``patterns`` and that no entry of ``connections`` (audit_postgres_connections) names already.
    Each item: {label, method[, container]}."""
    compiled = [re.compile(pattern, re.IGNORECASE)
                for pattern in (DEFAULT_POSTGRES_IMAGE_PATTERNS if patterns is None else patterns)]
    given = {entry.get("container") for entry in connections or [] if isinstance(entry, Mapping)}
    targets = [{"label": NATIVE_LABEL, "method": "local_socket"}] if native else []
    docker = docker if isinstance(docker, Mapping) else {}
    if docker.get("available") is not True:
        return targets
    tags_by_id = {}
    for image in docker.get("images") or []:
        if isinstance(image, Mapping):
            tags_by_id[image.get("id")] = [tag for tag in image.get("repo_tags") or [] if isinstance(tag, str)]
    for container in docker.get("containers") or []:
        if not isinstance(container, Mapping) or container.get("state") != "running":
            continue
        name = container.get("name")
        if not isinstance(name, str) or not name or name in given:
            continue
        references = [container.get("image")] + tags_by_id.get(container.get("image_id"), [])
        names = {image_name(reference) for reference in references if isinstance(reference, str)}
        if any(pattern.search(candidate) for pattern in compiled for candidate in names):
            targets.append({"label": f"container {name}", "method": "docker", "container": name})
    return targets


def connection_label(item):
    """A label for a connection given without one: container x, tcp app@db:5432/app, socket /run/pg:5433."""
    if item.get("container"):
        return f"container {item['container']}"
    if item.get("host"):
        user = f"{item['user']}@" if item.get("user") else ""
        database = f"/{item['dbname']}" if item.get("dbname") else ""
        return f"tcp {user}{item['host']}:{item.get('port') or DEFAULT_PORT}{database}"
    where = item.get("socket_dir") or "default socket"
    return f"socket {where}:{item.get('port') or DEFAULT_PORT}"


def _uri_connection(uri):
    """host, port, user, dbname of a postgresql:// URI (never its password); {} when it cannot be parsed."""
    try:
        parts = urlsplit(str(uri))
        port = parts.port
    except ValueError:
        return {}
    values = {"method": "tcp", "host": parts.hostname, "port": port, "user": unquote(parts.username or "") or None,
              "dbname": unquote(parts.path.lstrip("/")) or None}
    return {key: value for key, value in values.items() if value not in (None, "")}


def postgres_instances_from_results(results):
    """The facts["postgres"] list from the registered results of pg_settings_facts loops (items made by
    postgres_targets or taken from audit_postgres_connections): [{label, connection, facts, error}].
    Skipped items are left out; passwords and URIs are never copied."""
    instances = []
    for result in results or []:
        if not isinstance(result, Mapping) or result.get("skipped"):
            continue
        item = result.get("item") if isinstance(result.get("item"), Mapping) else {}
        connection = {key: item[key] for key in CONNECTION_KEYS if item.get(key) not in (None, "")}
        if item.get("uri"):
            connection = {**_uri_connection(item["uri"]), **connection}
        label = item.get("label") if isinstance(item.get("label"), str) and item.get("label") else None
        facts = _dict(result.get("ansible_facts")).get("hostcare_postgres")
        if not isinstance(facts, Mapping):
            facts = None
        error = None if facts is not None else str(result.get("msg") or "the module returned no facts")
        instances.append({"label": label or connection_label(connection), "connection": connection,
                          "facts": facts, "error": error})
    return instances


# --------------------------------------------------------------------------------------------- apps

APP_CURRENT_KEYS = ("workers", "threads", "db_pool", "db_pool_sidekiq", "sidekiq_concurrency")
"""Keys of an audit_apps entry that describe the app as it runs (puma_pool's ``current``)."""

PUMA_DEFAULT_OTHER_CLIENTS = PUMA_INPUTS["other_db_clients"][0]
APP_OWN_KEYS = ("name", "postgres")
"""name: shown in the finding; postgres: the label of the PostgreSQL instance it uses (native, container x)."""


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
    instances = _available(facts) if isinstance(facts.get("postgres"), (list, tuple)) else []
    if app.get("postgres"):
        instances = [item for item in instances if item["label"] == app["postgres"]]
    if len(instances) == 1:
        value = _int_setting(instances[0]["facts"], "max_connections")
        if value is not None:
            return value, f"PostgreSQL ({instances[0]['label']})"
    return None, "puma_pool's default (100): name the instance with postgres: or give pg_max_connections"


@rule("apps.pool", needs=("swap",))
def rule_apps_pool(facts, limits):
    """The apps of the inventory variable audit_apps (facts["apps"]): Puma workers/threads, DB pools and Sidekiq
    checked by hostcare.vps.puma_pool against PostgreSQL's connections, each app counting the others' pools."""
    apps = facts.get("apps")
    if not isinstance(apps, (list, tuple)) or not apps:
        return []
    ram, _source = system_ram(facts)
    cpu_count = _num(facts.get("cpu_count"))
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
            findings.append(make_finding(
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
                    "plan_warnings": plan["warnings"]}
        advice = (f"Recommended for {name}: WEB_CONCURRENCY={recommended['web_concurrency']}, "
                  f"RAILS_MAX_THREADS={recommended['rails_max_threads']}, DB_POOL={recommended['db_pool_web']} for "
                  f"Puma; Sidekiq concurrency {recommended['sidekiq_concurrency']} with DB_POOL="
                  f"{recommended['db_pool_sidekiq']}. The pools are per process: DB_POOL is never a cluster total.")
        if not errors and not warnings:
            findings.append(make_finding(
                "apps.pool_ok", "ok", f"App {name}: pools fit PostgreSQL's connections",
                f"{name}: at most {connections['total']} connections of {connections['pg_usable']} usable "
                f"(headroom {connections['headroom']}).", evidence=evidence, recommendation=advice))
            continue
        severity = "critical" if errors else "warning"
        problems = errors + warnings
        findings.append(make_finding(
            "apps.pool", severity,
            f"App {name}: {problems[0]}" if len(problems) == 1 else f"App {name}: {len(problems)} pool problems",
            f"{name} (audit_apps): " + "; ".join(problems) + f". Pools allow {connections['total']} connections, "
            f"{connections['pg_usable']} usable on PostgreSQL (max_connections {max_connections or 100}, "
            f"{pg_source}).",
            evidence=evidence, recommendation=advice, risk="caution"))
    return findings
