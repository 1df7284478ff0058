# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Compare a server's settings (the hostcare_postgres fact of pg_settings_facts) with a recommendation (pg_tune).

Used by the filter hostcare.vps.pg_diff. Pure functions, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import grade
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import (
    CRITICAL_PERCENT,
    LOW_PERCENT,
    WARNING_PERCENT,
    WORK_MEM_FACTOR,
    fit_to_budget,
    model_settings,
    share_percent,
    with_values,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import memory_model as memory_model_of
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import MEMORY_SETTINGS

# Within 5% counts as equal, as timescaledb-tune's apply logic does: tuning is not that precise.
TOLERANCE = 0.05
# Off by this factor or more (either way) is a warning; smaller differences are info.
FAR_OFF_FACTOR = 2.0
RESTART_CONTEXT = "postmaster"


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


def _verdict(total, budget, limits):
    """The one grade of the model (_pg_memory.grade: critical -> bad), plus ``low`` for an under-used budget."""
    if not budget:
        return "unknown"
    percent = total * 100.0 / budget
    severity = grade(percent, limits["warning"], limits["critical"])
    if severity != "ok":
        return "bad" if severity == "critical" else "warning"
    return "low" if percent < LOW_PERCENT else "ok"


def memory_model(rows, recommendation, factor=WORK_MEM_FACTOR, warning=WARNING_PERCENT, critical=CRITICAL_PERCENT):
    """The one memory model (_pg_memory), current and recommended, with its share of the RAM and of the budget
    (the RAM unless pg_tune was given a shared-host budget). When the recommended settings reach the warning
    share, ``fit`` gives the work_mem (and max_connections) that bring them under it, else it is null."""
    values = recommendation.get("values") or {}
    ram = (recommendation.get("inputs") or {}).get("memory")
    budget = (recommendation.get("budget") or {}).get("bytes") or ram
    current = model_settings(rows)
    recommended = with_values(current, values)
    result = {"factor": factor, "ram_bytes": ram, "budget_bytes": budget, "fit": None}
    for label, settings in (("current", current), ("recommended", recommended)):
        model = memory_model_of(settings, factor)
        if model is not None:
            model["percent_of_ram"] = share_percent(model["total_bytes"], ram)
            model["percent_of_budget"] = share_percent(model["total_bytes"], budget)
            model["verdict"] = _verdict(model["total_bytes"], budget, {"warning": warning, "critical": critical})
        result[label] = model
    if budget and result["recommended"] and result["recommended"]["verdict"] in ("warning", "bad"):
        result["fit"] = {f"{name}_bytes" if name == "work_mem" else name: value
                         for name, value in fit_to_budget(recommended, budget, factor, warning)[1].items()} or None
    return result


def pg_diff(facts, recommendation, factor=WORK_MEM_FACTOR, warning=WARNING_PERCENT, critical=CRITICAL_PERCENT):
    """Per setting: current, recommended, change (none|raise|lower|set|unavailable), restart and severity; the
    memory model (``factor``, ``warning`` and ``critical`` percent: the audit passes its thresholds)."""
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
            "memory_model": memory_model(rows, recommendation, factor, warning, critical)}
