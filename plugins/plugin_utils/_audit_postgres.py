# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""PostgreSQL checks of the audit, on ``facts["postgres"]`` (one entry per instance, see _audit_pg_instances.py).

Finding ids are the same for every instance; the title, summary and ``evidence.instance`` name it. Memory is judged
with the one memory model (_pg_memory.py), and the recommendation (PGTune on the instance's share of the one RAM)
is fitted to it, so applying it never trips ``postgres.memory_overcommit``.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._pg_units import setting_in_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import (
    pg_size,
    quote_literal,
    restart_command,
    role_vars_lines,
    sql_command,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import (
    NATIVE_LABEL,
    available_instances,
    postgres_instances,
    setting_row,
    sharing_unreadable,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import fit_to_budget, model_settings
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import memory_model as model_of
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_plan import (
    container_memory_limit,
    instance_recommendation,
    model_limits,
)


POSTGRES_DEFAULTS = {
    "shared_buffers": 128 * MIB,
    "effective_cache_size": 4 * GIB,
    "maintenance_work_mem": 64 * MIB,
}
"""PostgreSQL's built-in values of the memory settings the audit checks (initdb writes shared_buffers = 128MB)."""


DEFAULT_TOLERANCE = 0.1
"""A setting at its default is reported only when the recommendation differs from it by more than this share."""


MAINTENANCE_WORK_MEM_CAP = 2 * GIB


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


def _title(item):
    return f"PostgreSQL ({item['label']})"


def _boot_bytes(entry):
    """The boot value (compiled-in default) of a memory setting in bytes, or None; the unit arithmetic is
    pg_settings_facts' own (module_utils/_pg_units.setting_in_bytes, which gives val_in_bytes)."""
    return setting_in_bytes(str(entry.get("boot_val")), entry.get("unit"))


def _close(recommended, current):
    """Within DEFAULT_TOLERANCE of each other: a default that close to the recommendation is left alone."""
    return abs(recommended - current) <= current * DEFAULT_TOLERANCE


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
        findings.append(core.make_finding(
            "postgres.unavailable", "warning" if code in _WARNING_CODES else "info", title,
            f"The settings of {_title(item)} could not be read: {reason}",
            evidence=evidence, recommendation=hint))
    return findings

# --------------------------------------------------------------------------------------------- memory


def _container_limit(facts, item):
    """(bytes, source) of the instance's own container memory limit, as the role reads it; (None, None) when it
    has none or the workload facts cannot tell (then the host's budget alone, as before)."""
    try:
        return container_memory_limit(facts, item["facts"], item["connection"].get("container"))
    except LookupError:
        return None, None


@rule("postgres.memory_defaults", needs=("postgres",))
def rule_postgres_memory_defaults(facts, limits):
    """shared_buffers / effective_cache_size / maintenance_work_mem still at PostgreSQL's defaults on a
    machine of at least postgres_defaults_min_ram_bytes -> warning with ALTER SYSTEM lines."""
    ram, ram_source = system_ram(facts)
    if ram is None:
        return []  # postgres.memory_unknown says it once per instance
    instances = available_instances(facts)
    unread = [item["label"] for item in sharing_unreadable(facts)]
    sharing = len(instances) + len(unread)
    share = ram // max(1, sharing)
    minimum = limits["postgres_defaults_min_ram_bytes"]
    findings = []
    for item in instances:
        pg = item["facts"]
        base = {"instance": item["label"], **core.size_evidence("ram", ram), "ram_source": ram_source}
        plan = (instance_recommendation(facts, pg, sharing, limits, None, *_container_limit(facts, item))
                if ram >= minimum else None)
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
            base.update({**core.size_evidence("ram_share", share), "instances_sharing_ram": sharing})
        if unread:
            base["unreadable_instances_counted"] = unread
        if ram < minimum:
            findings.append(core.make_finding(
                "postgres.memory_defaults_ok", "ok",
                f"{_title(item)}: memory defaults fit {format_size(ram)} RAM",
                f"Below {format_size(minimum)} of RAM PostgreSQL's default memory settings are reasonable.",
                evidence={**base, **core.size_evidence("min_ram", minimum)}))
            continue
        if plan is None:
            continue  # a budget below PGTune's 512MB (many instances on a small machine): nothing to size
        values, strings = plan["tune"]["values"], plan["tune"]["settings"]
        at_default = []
        for name, default in POSTGRES_DEFAULTS.items():
            entry = setting_row(pg, name)
            value = core.as_number(entry.get("val_in_bytes"))
            if value is None:
                continue
            if value not in (default, _boot_bytes(entry)) or _close(values[name], value):
                continue
            at_default.append({"name": name, "current": entry.get("pretty_val") or pg_size(value),
                               "current_bytes": value, "recommended": strings[name],
                               "recommended_bytes": values[name], "source": entry.get("source"),
                               "context": entry.get("context")})
        if not at_default:
            findings.append(core.make_finding(
                "postgres.memory_defaults_ok", "ok", f"{_title(item)}: memory settings are not the defaults",
                f"shared_buffers, effective_cache_size and maintenance_work_mem of {_title(item)} are set for "
                f"this machine (not PostgreSQL's defaults).",
                evidence=base))
            continue
        names = [row["name"] for row in at_default]
        statements = [f"ALTER SYSTEM SET {row['name']} = {quote_literal(row['recommended'])};" for row in at_default]
        statements.append("SELECT pg_reload_conf();")
        command = ("# writes postgresql.auto.conf; the reload applies all but shared_buffers\n"
                   + sql_command(item["connection"], statements))
        role_vars = postgresql_tune_role_vars(item["connection"], sharing)
        command += "\n" + "\n".join(role_vars_lines(core.ROLE_POSTGRESQL_TUNE, role_vars))
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
            sharing_text += (f" {core.plural(len(unread), 'other PostgreSQL instance')} on this machine could not be read "
                             f"({', '.join(unread)}) and {'is' if len(unread) == 1 else 'are'} counted as sharing "
                             f"the RAM equally.")
        if plan["fitted"]:
            sharing_text += (" PGTune's " + " and ".join(name.replace("_bytes", "") for name in plan["fitted"])
                             + " are lowered so that the recommendation stays under the postgres.memory_overcommit "
                             "warning line.")
        listed = ", ".join(f"{row['name']} {row['current']} (recommended {row['recommended']})" for row in at_default)
        findings.append(core.make_finding(
            "postgres.memory_defaults", "warning",
            f"{_title(item)}: {', '.join(names)} still at the default{'s' if len(names) > 1 else ''} "
            f"on {format_size(ram)} RAM",
            f"{_title(item)} runs with PostgreSQL's defaults on a machine with {format_size(ram)} of RAM: {listed}.",
            evidence={**base, "settings": at_default, "names": names, "role_vars": role_vars},
            recommendation=(f"Size them with PGTune's formulas for a budget of "
                            f"{format_size(plan['budget']['bytes'])}: {plan['budget']['reason']}.{sharing_text} "
                            f"ALTER SYSTEM needs a superuser."
                            f"{restart_text} Leave room for the applications on the same machine: check "
                            f"postgres.memory_overcommit after the change. The role {core.ROLE_POSTGRESQL_TUNE} "
                            f"applies this recommendation, checked by the server first (evidence.role_vars; it "
                            f"restarts only when told to)."),
            risk="caution", role=core.ROLE_POSTGRESQL_TUNE, command=command))
    return findings


def postgresql_tune_role_vars(connection, sharing=1):
    """The variables of hostcare.vps.postgresql_tune that apply the recommendation to this instance (never a
    password: the role takes it from the operator's vault)."""
    connection = core.as_dict(connection)
    role_vars = {}
    method = connection.get("method")
    if method == "docker" and connection.get("container"):
        role_vars["hostcare_postgresql_tune_container"] = connection["container"]
    elif method == "tcp":
        for key in ("host", "port", "user"):
            if connection.get(key) is not None:
                role_vars[f"hostcare_postgresql_tune_{key}"] = connection[key]
    elif method == "local_socket":
        role_vars["hostcare_postgresql_tune_method"] = "local_socket"
    if sharing > 1:
        role_vars["hostcare_postgresql_tune_instances_sharing_ram"] = sharing
    return role_vars


def memory_model(pg, factor):
    """The one memory model (_pg_memory) of a server's facts, with readable sizes for the evidence; None when a
    setting is unknown."""
    model = model_of(model_settings(core.as_dict(pg).get("settings")), factor)
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
    return core.grade(total_bytes * 100.0 / ram, warning, critical)


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
    for item in available_instances(facts):
        pg = item["facts"]
        model = memory_model(pg, factor) if ram else None
        if model is None:
            missing = "RAM is unknown (no swap facts)" if not ram else "some memory settings are not visible"
            findings.append(core.make_finding(
                "postgres.memory_unknown", "info", f"{_title(item)}: memory use not checked",
                f"The worst-case memory use of {_title(item)} could not be computed: {missing}.",
                evidence={"instance": item["label"], **core.size_evidence("ram", ram)},
                recommendation="Nothing to do unless the other findings say why the facts are incomplete."))
            continue
        share = round(model["total_bytes"] * 100.0 / ram, 1)
        severity = _model_severity(model["total_bytes"], ram, limits)
        models.append((item, model, share, severity))
        evidence = {"instance": item["label"], **core.size_evidence("model", model["total_bytes"]), "model_percent": share,
                    **core.size_evidence("ram", ram), "ram_source": ram_source,
                    **{key: value for key, value in model.items() if key != "total_bytes"},
                    "warning_percent": limits["postgres_memory_warning_percent"],
                    "critical_percent": limits["postgres_memory_critical_percent"]}
        parts = (f"shared_buffers {model['shared_buffers']} + {model['max_connections']} connections x work_mem "
                 f"{model['work_mem']} x {factor:g} ({model['connections_work_mem']}) + "
                 f"{model['autovacuum_max_workers']} autovacuum workers x {model['autovacuum_work_mem']}")
        if severity == "ok":
            findings.append(core.make_finding(
                "postgres.memory_ok", "ok",
                f"{_title(item)}: worst-case memory {format_size(model['total_bytes'])}, {core.percent_text(share)} of RAM: ok",
                f"{parts} = {format_size(model['total_bytes'])}, {core.percent_text(share)} of {format_size(ram)} "
                f"(warning at {core.percent_text(limits['postgres_memory_warning_percent'])}).",
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
        evidence.update(core.size_evidence("proposed_work_mem", target))
        command += ("\n# lower work_mem for new sessions (reload, no restart):\n"
                    + sql_command(item["connection"], [
                        f"ALTER SYSTEM SET work_mem = {quote_literal(pg_size(target))};",
                        "SELECT pg_reload_conf();"]))
        risk = "caution"
        fix_text = (f"Lower work_mem to {pg_size(target)} (the command; reload only), or allow fewer connections "
                    f"(a pooler such as PgBouncer lets max_connections drop; that change needs a restart).")
    else:
        fix_text = ("Allow fewer connections (a pooler such as PgBouncer lets max_connections drop; that needs a "
                    "restart) or give shared_buffers less; lowering work_mem below 4MB alone would slow queries.")
    return core.make_finding(
        "postgres.memory_overcommit", severity,
        f"{_title(item)} may use {core.percent_text(share)} of RAM ({format_size(model['total_bytes'])} of {format_size(ram)})",
        f"{parts} = {format_size(model['total_bytes'])}, {core.percent_text(share)} of {format_size(ram)} RAM "
        f"(warning at {core.percent_text(limits['postgres_memory_warning_percent'])}, critical at "
        f"{core.percent_text(limits['postgres_memory_critical_percent'])}). If every connection sorts or hashes at once, "
        f"the OOM killer can stop PostgreSQL.",
        evidence=evidence,
        recommendation=(f"{fix_text} The model is postgresqltuner's worst case; other programs on the machine "
                        f"need memory too."),
        risk=risk, command=command)


def _combined_model(models, ram, ram_source, limits):
    total = sum(model["total_bytes"] for _item, model, _share, _severity in models)
    share = round(total * 100.0 / ram, 1)
    severity = _model_severity(total, ram, limits)
    worst_alone = min(core.SEVERITY_RANK[entry[3]] for entry in models)
    if severity == "ok" or core.SEVERITY_RANK[severity] >= worst_alone:
        return []
    labels = [item["label"] for item, _model, _share, _severity in models]
    rows = [{"instance": item["label"], **core.size_evidence("model", model["total_bytes"]), "model_percent": model_share}
            for item, model, model_share, _severity in models]
    return [core.make_finding(
        "postgres.memory_overcommit", severity,
        f"PostgreSQL ({len(models)} instances) may use {core.percent_text(share)} of RAM together "
        f"({format_size(total)} of {format_size(ram)})",
        f"{len(models)} PostgreSQL instances ({', '.join(labels)}) share {format_size(ram)} RAM; their worst cases "
        f"add up to {format_size(total)}, {core.percent_text(share)} "
        f"(warning at {core.percent_text(limits['postgres_memory_warning_percent'])}).",
        evidence={"instance": " + ".join(labels), "instances": rows, **core.size_evidence("model", total), "model_percent": share,
                  **core.size_evidence("ram", ram), "ram_source": ram_source,
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
    for item in available_instances(facts):
        connections = core.as_dict(item["facts"].get("connections"))
        total, maximum = core.as_number(connections.get("total")), core.as_number(connections.get("max"))
        if total is None or not maximum:
            continue
        used = core.as_number(connections.get("in_use_percent"))
        used = round(total * 100.0 / maximum, 1) if used is None else used
        by_state = {key: value for key, value in core.as_dict(connections.get("by_state")).items() if value}
        top = [dict(row) for row in (connections.get("by_database_user") or []) if isinstance(row, Mapping)][:5]
        evidence = {"instance": item["label"], "in_use": total, "max_connections": maximum, "in_use_percent": used,
                    "superuser_reserved": core.as_number(connections.get("superuser_reserved")), "by_state": by_state,
                    "by_database_user": top,
                    "warning_percent": limits["postgres_connections_warning_percent"],
                    "critical_percent": limits["postgres_connections_critical_percent"]}
        if used < limits["postgres_connections_warning_percent"]:
            findings.append(core.make_finding(
                "postgres.connections_ok", "ok",
                f"{_title(item)}: {total} of {maximum} connections in use ({core.percent_text(used)}): ok",
                f"{total} client connections of max_connections {maximum} (warning at "
                f"{core.percent_text(limits['postgres_connections_warning_percent'])}).", evidence=evidence))
            continue
        critical = used >= limits["postgres_connections_critical_percent"]
        threshold = limits["postgres_connections_critical_percent"] if critical \
            else limits["postgres_connections_warning_percent"]
        idle_tx = by_state.get("idle_in_transaction", 0) + by_state.get("idle_in_transaction_aborted", 0)
        who = ", ".join(f"{row.get('user')}@{row.get('database')} {row.get('count')}" for row in top[:3])
        findings.append(core.make_finding(
            "postgres.connections_high", "critical" if critical else "warning",
            f"{_title(item)}: {total} of {maximum} connections in use ({core.percent_text(used)})",
            f"{total} client connections of max_connections {maximum} ({core.percent_text(used)}; "
            f"{'critical' if critical else 'warning'} at {core.percent_text(threshold)}){': ' + who if who else ''}. "
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
    for item in available_instances(facts):
        pg = item["facts"]
        names = [name for name in pg.get("pending_restart_settings") or [] if isinstance(name, str)]
        if not names:
            continue
        rows = [{"name": name, "running_value": setting_row(pg, name).get("pretty_val"),
                 "context": setting_row(pg, name).get("context")} for name in names]
        quoted = ", ".join(quote_literal(name) for name in names)
        check = sql_command(item["connection"], [
            "SELECT name, setting, sourcefile, sourceline, applied, error FROM pg_file_settings "
            f"WHERE name IN ({quoted});"])
        command = ("# the values waiting in the files, and any error in them (an error there stops the restart):\n"
                   f"{check}\n"
                   "# then, in a maintenance window (PostgreSQL is down for a few seconds; not run by pasting this):\n"
                   f"#   {restart_command(item['connection']).lstrip('# ')}")
        findings.append(core.make_finding(
            "postgres.pending_restart", "warning",
            f"{_title(item)}: {core.plural(len(names), 'setting')} waiting for a restart: {', '.join(names)}",
            f"{', '.join(names)} of {_title(item)} {'was' if len(names) == 1 else 'were'} changed in a configuration "
            f"file but the running server still uses the old value"
            f"{'s' if len(names) > 1 else ''} until it restarts.",
            evidence={"instance": item["label"], "settings": names, "running_values": rows},
            recommendation=("Check the new values and the errors column first (the query only reads), then restart "
                            "PostgreSQL in a maintenance window: clients are disconnected for a few seconds."),
            risk="caution", command=command))
    return findings
