# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import pg_diff
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import normalise_inputs, pg_tune

MIB = 1024 ** 2


def row(setting, context="user", val_in_bytes=None, pretty_val=None):
    return {"setting": setting, "unit": None, "val_in_bytes": val_in_bytes, "pretty_val": pretty_val or setting,
            "context": context}


# A stock PostgreSQL 15 on a 16 GB host.
FACTS = {"available": True, "reason": None, "settings": {
    "max_connections": row("100", "postmaster"),
    "shared_buffers": row("16384", "postmaster", 128 * MIB, "128MB"),
    "effective_cache_size": row("524288", "user", 4096 * MIB, "4GB"),
    "work_mem": row("20480", "user", 20 * MIB, "20MB"),
    "checkpoint_completion_target": row("0.9", "sighup"),
    "random_page_cost": row("4", "user"),
    "huge_pages": row("try", "postmaster"),
    "jit": row("on", "user"),
}}


def diff():
    return pg_diff(FACTS, pg_tune(normalise_inputs({"memory": "16GB", "version": 15})))


def by_name():
    return {entry["name"]: entry for entry in diff()["settings"]}


def test_memory_far_below_needs_restart_and_warns():
    entry = by_name()["shared_buffers"]
    assert (entry["current"], entry["recommended"], entry["change"], entry["restart"], entry["severity"]) == \
        ("128MB", "4GB", "raise", True, "warning")


def test_reload_only_setting_and_tolerance():
    entry = by_name()["effective_cache_size"]  # 4GB -> 12GB is 3x; work_mem 20MB vs 20164kB is within 5%
    assert entry["severity"] == "warning" and not entry["restart"]
    assert by_name()["work_mem"]["change"] == "none"
    assert by_name()["work_mem"]["severity"] == "ok"


def test_numbers_and_strings():
    entries = by_name()
    assert entries["max_connections"]["change"] == "raise" and entries["max_connections"]["severity"] == "warning"  # 100 -> 200: 2x
    assert entries["checkpoint_completion_target"]["severity"] == "ok"
    assert entries["random_page_cost"]["change"] == "lower" and entries["random_page_cost"]["severity"] == "warning"
    assert entries["huge_pages"]["change"] == "none"
    assert (entries["jit"]["change"], entries["jit"]["severity"]) == ("set", "info")


def test_missing_setting_is_unavailable():
    entry = by_name()["wal_buffers"]
    assert (entry["current"], entry["change"], entry["restart"]) == (None, "unavailable", False)


def test_summary():
    result = diff()
    assert result["restart_needed"] is True
    assert result["changes"] == sum(1 for entry in result["settings"] if entry["change"] in ("raise", "lower", "set"))


def test_unavailable_facts():
    result = pg_diff({"available": False, "reason": "auth_failed"}, pg_tune(normalise_inputs({"memory": "1GB"})))
    assert result == {"available": False, "reason": "auth_failed", "settings": [], "changes": 0, "restart_needed": False}


# postgresqltuner's memory model, current and recommended
MODEL_FACTS = {"available": True, "reason": None, "settings": {
    **FACTS["settings"],
    "maintenance_work_mem": row("65536", "user", 64 * MIB, "64MB"),
    "autovacuum_max_workers": row("3", "postmaster"),
    "autovacuum_work_mem": row("-1", "sighup", None, "-1"),
}}


def test_memory_model_current_and_recommended():
    model = pg_diff(MODEL_FACTS, pg_tune(normalise_inputs({"memory": "16GB", "version": 15})))["memory_model"]
    assert (model["factor"], model["ram_bytes"], model["budget_bytes"]) == (1.5, 16 * 1024 * MIB, 16 * 1024 * MIB)
    current = model["current"]
    # 128MB + 100 x 20MB x 1.5 + 3 x 64MB (autovacuum_work_mem -1: maintenance_work_mem)
    assert current["total_bytes"] == (128 + 3000 + 192) * MIB
    assert current["autovacuum_work_mem_from"] == "maintenance_work_mem"
    assert (current["percent_of_ram"], current["verdict"]) == (20.3, "low")
    recommended = model["recommended"]
    # 4GB + 200 x 20164kB x 1.5 + 3 (current) x 1GB
    assert recommended["total_bytes"] == 4096 * MIB + 200 * 20164 * 1024 * 3 // 2 + 3 * 1024 * MIB
    # One model, one pair of thresholds (_pg_memory): 79.8% is at or above the audit's 75% warning line, so the
    # verdict says so (it said "ok" under pg_diff's own 80% line) and ``fit`` gives the work_mem that fits:
    # (16 GiB x 75% - 4 GiB - 3 GiB) / (200 x 1.5) = 17.07 MiB, minus 1 MiB of margin, in whole MB.
    assert (recommended["percent_of_ram"], recommended["verdict"]) == (79.8, "warning")
    assert model["fit"] == {"work_mem_bytes": 16 * MIB}


def test_memory_model_uses_the_budget():
    recommendation = pg_tune(normalise_inputs({"memory": "16GB", "version": 15, "memory_share": 0.25}))
    model = pg_diff(MODEL_FACTS, recommendation)["memory_model"]
    assert model["budget_bytes"] == 4 * 1024 * MIB
    current = model["current"]
    assert (current["percent_of_ram"], current["percent_of_budget"], current["verdict"]) == (20.3, 81.1, "warning")
    assert model["recommended"]["percent_of_budget"] < 100


def test_memory_model_unknown_setting():
    model = diff()["memory_model"]            # FACTS lacks maintenance_work_mem
    assert model["current"] is None
