# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Compare a server's settings (the hostcare_postgres fact of pg_settings_facts) with a recommendation (pg_tune).

Used by the filter hostcare.vps.pg_diff. Pure functions, standard library only.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import MEMORY_SETTINGS

# Within 5% counts as equal, as timescaledb-tune's apply logic does: tuning is not that precise.
TOLERANCE = 0.05
# Off by this factor or more (either way) is a warning; smaller differences are info.
FAR_OFF_FACTOR = 2.0
RESTART_CONTEXT = "postmaster"


class PgDiffError(ValueError):
    """Bad input; the message names what is wrong."""


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


def pg_diff(facts, recommendation):
    """Per setting: current, recommended, change (none|raise|lower|set|unavailable), restart and severity."""
    if not facts.get("available"):
        return {"available": False, "reason": facts.get("reason"), "settings": [], "changes": 0, "restart_needed": False}
    rows = facts.get("settings") or {}
    result = []
    for name, recommended in recommendation["values"].items():
        row = rows.get(name)
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
            "restart_needed": any(entry["restart"] for entry in changed)}
