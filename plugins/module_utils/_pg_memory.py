# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The one PostgreSQL memory model: postgresqltuner's worst case, its thresholds, and how to fit a recommendation.

    total = shared_buffers + max_connections x work_mem x WORK_MEM_FACTOR
            + autovacuum_max_workers x (autovacuum_work_mem, or maintenance_work_mem when that is -1)

Used by the filter pg_diff (``memory_model`` of its result), the audit's ``postgres.memory_defaults`` (the model of
the recommendation it lists), ``postgres.memory_overcommit`` (the model of the running server) and the audit's
recommendation itself (``fit_to_budget``), so the four agree: applying the recommendation never trips the check.
It lives in module_utils so that modules (hostcare.vps.postgresql_settings, on the target) judge with it too;
plugin_utils._pg_memory re-exports it for the controller side. Pure functions, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._validate import MIB

WORK_MEM_FACTOR = 1.5
"""postgresqltuner's default --wmp: each connection may use 150% of work_mem (threshold postgres_work_mem_factor)."""
WARNING_PERCENT = 75.0
"""The model at or above this share of the memory it has -> warning (threshold postgres_memory_warning_percent)."""
CRITICAL_PERCENT = 90.0
"""... at or above this share -> critical (threshold postgres_memory_critical_percent)."""
LOW_PERCENT = 60.0
"""pg_diff only: below this share the memory is under-used (verdict ``low``)."""
DEFAULT_AUTOVACUUM_WORKERS = 3
WORK_MEM_FLOOR_BYTES = 4 * MIB
"""PGTune's floor and PostgreSQL's default: below it sorts spill to disk; fewer connections are the better fix."""
MIN_CONNECTIONS = 20
"""PGTune's lowest max_connections."""

MODEL_SETTINGS = ("shared_buffers", "max_connections", "work_mem", "maintenance_work_mem", "autovacuum_max_workers",
                  "autovacuum_work_mem")
"""The settings the model reads; sizes in bytes, autovacuum_work_mem None when -1 (use maintenance_work_mem)."""


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None  # NaN and inf are not sizes


def model_settings(rows):
    """The MODEL_SETTINGS of a server from its pg_settings rows (hostcare_postgres.settings): sizes from the
    ``val_in_bytes`` pg_settings_facts computed, counts from ``setting``; None for what is not visible."""
    rows = rows if isinstance(rows, Mapping) else {}

    def row(name):
        return rows.get(name) if isinstance(rows.get(name), Mapping) else {}

    autovacuum = _number(row("autovacuum_work_mem").get("setting"))
    return {
        "shared_buffers": _number(row("shared_buffers").get("val_in_bytes")),
        "max_connections": _number(row("max_connections").get("setting")),
        "work_mem": _number(row("work_mem").get("val_in_bytes")),
        "maintenance_work_mem": _number(row("maintenance_work_mem").get("val_in_bytes")),
        "autovacuum_max_workers": _number(row("autovacuum_max_workers").get("setting")),
        "autovacuum_work_mem": (_number(row("autovacuum_work_mem").get("val_in_bytes"))
                                if autovacuum is not None and autovacuum != -1 else None),
    }


def with_values(settings, values):
    """``settings`` (model_settings) with a recommendation's ``values`` (pg_tune, bytes) applied over them."""
    result = {name: values.get(name, value) if isinstance(values, Mapping) else value
              for name, value in settings.items()}
    if result.get("autovacuum_max_workers") is None:
        result["autovacuum_max_workers"] = DEFAULT_AUTOVACUUM_WORKERS
    return result


def memory_model(settings, factor=WORK_MEM_FACTOR):
    """The worst case of ``settings`` (model_settings): {total_bytes, shared_buffers_bytes, max_connections,
    work_mem_bytes, work_mem_factor, connections_work_mem_bytes, autovacuum_max_workers, autovacuum_work_mem_bytes,
    autovacuum_work_mem_from, autovacuum_memory_bytes}; None when a setting it needs is unknown."""
    per_worker, source = settings.get("autovacuum_work_mem"), "autovacuum_work_mem"
    if per_worker is None:
        per_worker, source = settings.get("maintenance_work_mem"), "maintenance_work_mem"
    needed = (settings.get("shared_buffers"), settings.get("max_connections"), settings.get("work_mem"),
              settings.get("autovacuum_max_workers"), per_worker)
    if None in needed:
        return None
    shared_buffers, max_connections, work_mem, workers, per_worker = (int(value) for value in needed)
    connections = int(max_connections * work_mem * factor)
    autovacuum = workers * per_worker
    return {"total_bytes": shared_buffers + connections + autovacuum, "shared_buffers_bytes": shared_buffers,
            "max_connections": max_connections, "work_mem_bytes": work_mem, "work_mem_factor": factor,
            "connections_work_mem_bytes": connections, "autovacuum_max_workers": workers,
            "autovacuum_work_mem_bytes": per_worker, "autovacuum_work_mem_from": source,
            "autovacuum_memory_bytes": autovacuum}


def share_percent(total_bytes, of_bytes):
    """``total_bytes`` as a percentage of ``of_bytes``, one decimal (what the findings print and judge)."""
    return round(total_bytes * 100.0 / of_bytes, 1) if of_bytes else None


def fit_to_budget(settings, budget_bytes, factor=WORK_MEM_FACTOR, warning=WARNING_PERCENT):
    """Lower work_mem, then max_connections, until the model of ``settings`` is below ``warning`` percent of
    ``budget_bytes``. Returns (settings, changes): changes {name: bytes or count} of what was lowered (empty when it
    already fits or cannot be judged). work_mem is whole MB with 1 MB of margin, never below WORK_MEM_FLOOR_BYTES;
    then max_connections is lowered, never below MIN_CONNECTIONS."""
    model = memory_model(settings, factor)
    target = budget_bytes * warning / 100.0
    if model is None or model["total_bytes"] < target or model["max_connections"] <= 0:
        return dict(settings), {}
    room = max(0.0, target - model["shared_buffers_bytes"] - model["autovacuum_memory_bytes"])
    work_mem = int(room / (model["max_connections"] * factor) - MIB) // MIB * MIB
    changes = {}
    if work_mem >= WORK_MEM_FLOOR_BYTES:
        if work_mem < model["work_mem_bytes"]:
            changes["work_mem"] = work_mem
    else:
        work_mem = min(WORK_MEM_FLOOR_BYTES, model["work_mem_bytes"])
        if work_mem < model["work_mem_bytes"]:
            changes["work_mem"] = work_mem
        connections = max(MIN_CONNECTIONS, int((room - 1) // (work_mem * factor)))
        if connections < model["max_connections"]:
            changes["max_connections"] = connections
    fitted = dict(settings)
    fitted.update(changes)
    return fitted, changes
