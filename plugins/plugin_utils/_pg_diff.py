# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Compare a server's settings (the hostcare_postgres fact of pg_settings_facts) with a recommendation (pg_tune).

Used by the filter hostcare.vps.pg_diff. Pure functions, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import MEMORY_SETTINGS

# Within 5% counts as equal, as timescaledb-tune's apply logic does: tuning is not that precise.
TOLERANCE = 0.05
# Off by this factor or more (either way) is a warning; smaller differences are info.
FAR_OFF_FACTOR = 2.0
RESTART_CONTEXT = "postmaster"
WORK_MEM_FACTOR = 1.5
"""postgresqltuner's default --wmp: each connection may use 150% of work_mem."""
PG_DEFAULT_AUTOVACUUM_WORKERS = 3
# postgresqltuner's verdicts on the model as a share of RAM (here: of the budget).
MODEL_BAD_PERCENT = 100.0
MODEL_WARN_PERCENT = 80.0
MODEL_LOW_PERCENT = 60.0


class PgDiffError(ValueError):
    """Bad input; the message names what is wrong."""


def _finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_number(where, value, allow_text=False):
    """None, a finite number (or, with ``allow_text``, a string that is not a non-finite number such as 'nan')."""
    if value is None or _finite_number(value):
        return
    if allow_text and isinstance(value, str):
        number = _number(value)
        if number is None or math.isfinite(number):
            return
    allowed = "a finite number or a string" if allow_text else "a finite number"
    raise PgDiffError(f"{where}: must be {allowed}, got {value!r}")


def check_inputs(facts, recommendation):
    """Refuse, naming the place, what pg_diff cannot compare: a fact or recommendation of the wrong shape, or a
    value that is not a finite number where one is compared (nan, inf, a list)."""
    if not isinstance(facts, Mapping):
        raise PgDiffError(f"expected the hostcare_postgres fact of hostcare.vps.pg_settings_facts (a dict), "
                          f"got {type(facts).__name__}")
    if not isinstance(recommendation, Mapping) or not all(
            isinstance(recommendation.get(key), Mapping) for key in ("settings", "values")):
        raise PgDiffError("recommendation: expected the result of hostcare.vps.pg_tune (a dict with settings and values)")
    for name, value in recommendation["values"].items():
        if name not in recommendation["settings"]:
            raise PgDiffError(f"recommendation.settings: has no {name!r}, which recommendation.values has")
        _check_number(f"recommendation.values.{name}", value, allow_text=True)
    for key, field in (("inputs", "memory"), ("budget", "bytes")):
        part = recommendation.get(key)
        if part is not None and not isinstance(part, Mapping):
            raise PgDiffError(f"recommendation.{key}: expected a dict, got {type(part).__name__}")
        _check_number(f"recommendation.{key}.{field}", (part or {}).get(field))
    if not facts.get("available"):
        return
    rows = facts.get("settings") or {}
    if not isinstance(rows, Mapping):
        raise PgDiffError("settings of the fact: expected a dict of pg_settings rows by name")
    for name, row in rows.items():
        if isinstance(row, Mapping):
            _check_number(f"settings.{name}.val_in_bytes", row.get("val_in_bytes"))
            _check_number(f"settings.{name}.setting", row.get("setting"), allow_text=True)


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _current_value(name, row):
    if name in MEMORY_SETTINGS:
        return row.get("val_in_bytes")
    number = _number(row.get("setting"))
    return number if number is not None else str(row.get("setting")).lower()


def _compare(current, recommended):
    """(change, severity) of a current value against the recommended one."""
    if isinstance(current, str) or isinstance(recommended, str) or current is None:
        if str(current).lower() == str(recommended).lower():
            return "none", "ok"
        return "set", "info"
    if abs(current - recommended) <= TOLERANCE * max(abs(recommended), 1e-9):
        return "none", "ok"
    change = "raise" if recommended > current else "lower"
    low, high = sorted((current, recommended))
    far_off = low <= 0 or high / low >= FAR_OFF_FACTOR
    return change, "warning" if far_off else "info"


def _model(shared_buffers, max_connections, work_mem, workers, per_worker, per_worker_from, factor):
    if None in (shared_buffers, max_connections, work_mem, workers, per_worker):
        return None
    connections = int(max_connections * work_mem * factor)
    autovacuum = int(workers * per_worker)
    return {"total_bytes": int(shared_buffers + connections + autovacuum), "shared_buffers_bytes": int(shared_buffers),
            "max_connections": int(max_connections), "work_mem_bytes": int(work_mem),
            "connections_work_mem_bytes": connections, "autovacuum_max_workers": int(workers),
            "autovacuum_work_mem_bytes": int(per_worker), "autovacuum_work_mem_from": per_worker_from,
            "autovacuum_memory_bytes": autovacuum}


def _row_number(rows, name):
    return _number(_dict_get(rows, name).get("setting"))


def _dict_get(rows, name):
    row = rows.get(name)
    return row if isinstance(row, dict) else {}


def _verdict(percent):
    if percent is None:
        return "unknown"
    if percent > MODEL_BAD_PERCENT:
        return "bad"
    if percent > MODEL_WARN_PERCENT:
        return "warning"
    if percent < MODEL_LOW_PERCENT:
        return "low"
    return "ok"


def memory_model(rows, recommendation, factor=WORK_MEM_FACTOR):
    """postgresqltuner's worst case, current and recommended: shared_buffers + max_connections x work_mem x factor
    + autovacuum_max_workers x (autovacuum_work_mem, or maintenance_work_mem when that is -1), with its share of
    the RAM and of the budget (the RAM unless pg_tune was given a shared-host budget)."""
    values = recommendation.get("values") or {}
    ram = (recommendation.get("inputs") or {}).get("memory")
    budget = (recommendation.get("budget") or {}).get("bytes") or ram

    current_av = _row_number(rows, "autovacuum_work_mem")
    current = {
        "shared_buffers": _dict_get(rows, "shared_buffers").get("val_in_bytes"),
        "max_connections": _row_number(rows, "max_connections"),
        "work_mem": _dict_get(rows, "work_mem").get("val_in_bytes"),
        "maintenance_work_mem": _dict_get(rows, "maintenance_work_mem").get("val_in_bytes"),
        "autovacuum_max_workers": _row_number(rows, "autovacuum_max_workers"),
        "autovacuum_work_mem": (_dict_get(rows, "autovacuum_work_mem").get("val_in_bytes")
                                if current_av is not None and current_av != -1 else None),
    }
    recommended = {name: values.get(name, value) for name, value in current.items()}
    if recommended["autovacuum_max_workers"] is None:
        recommended["autovacuum_max_workers"] = PG_DEFAULT_AUTOVACUUM_WORKERS
    result = {"factor": factor, "ram_bytes": ram, "budget_bytes": budget}
    for label, settings in (("current", current), ("recommended", recommended)):
        per_worker, source = settings["autovacuum_work_mem"], "autovacuum_work_mem"
        if per_worker is None:
            per_worker, source = settings["maintenance_work_mem"], "maintenance_work_mem"
        model = _model(settings["shared_buffers"], settings["max_connections"], settings["work_mem"],
                       settings["autovacuum_max_workers"], per_worker, source, factor)
        if model is not None:
            model["percent_of_ram"] = round(model["total_bytes"] * 100.0 / ram, 1) if ram else None
            model["percent_of_budget"] = round(model["total_bytes"] * 100.0 / budget, 1) if budget else None
            model["verdict"] = _verdict(model["percent_of_budget"])
        result[label] = model
    return result


def pg_diff(facts, recommendation):
    """Per setting: current, recommended, change (none|raise|lower|set|unavailable), restart and severity."""
    if not facts.get("available"):
        return {"available": False, "reason": facts.get("reason"), "settings": [], "changes": 0, "restart_needed": False}
    rows = facts.get("settings") or {}
    result = []
    for name, recommended in recommendation["values"].items():
        row = rows.get(name) if isinstance(rows.get(name), dict) else None
        entry = {"name": name, "recommended": recommendation["settings"][name], "recommended_value": recommended}
        if row is None:
            # The server's version lacks the setting (or the fact did not read it): nothing to change there.
            entry.update({"current": None, "current_value": None, "change": "unavailable", "restart": False,
                          "severity": "info"})
        else:
            current = _current_value(name, row)
            change, severity = _compare(current, recommended)
            entry.update({"current": row.get("pretty_val") or row.get("setting"), "current_value": current,
                          "change": change, "restart": change != "none" and row.get("context") == RESTART_CONTEXT,
                          "severity": severity})
        result.append(entry)
    changed = [entry for entry in result if entry["change"] not in ("none", "unavailable")]
    return {"available": True, "reason": None, "settings": result, "changes": len(changed),
            "restart_needed": any(entry["restart"] for entry in changed),
            "memory_model": memory_model(rows, recommendation)}
