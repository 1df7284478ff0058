# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A recommendation never trips the audit's own checks (issue 12, item 2).

Over a grid of hosts (RAM 1-64 GiB, max_connections 20-500, 1-3 PostgreSQL instances, with and without memory used
by other processes): the audit's PostgreSQL recommendation (postgres.memory_defaults: every recommended setting)
applied to the facts, audited again, gives no postgres.memory_overcommit and memory_defaults ok. The recommended
swap file applied to the facts (swap total and disk use) gives swap.ok and no disk finding it caused.
"""

from __future__ import annotations

import copy
import itertools
import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._pg_units import memory_unit_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
RAMS_GIB = (1, 1.5, 2, 3, 3.8, 4, 6, 8, 12, 16, 23.5, 32, 48, 64)
CONNECTIONS = (20, 50, 100, 200, 500)
INSTANCES = (1, 2, 3)
OTHER_SHARE = (0.0, 0.4)        # share of RAM held by other processes (MemAvailable lowered)


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


PG17 = load("postgres_pg17_superuser_docker")
SWAP = load("swap_healthy")
DISK = load("disk_healthy")


def set_setting(facts, name, value):
    """A setting as pg_settings_facts would read it after the change (memory: in its unit, rounded down)."""
    row = facts["settings"][name]
    unit = memory_unit_bytes(row.get("unit"))
    if unit:
        row["setting"] = str(int(value) // unit)
        row["val_in_bytes"] = int(value) // unit * unit
        row["pretty_val"] = f"{int(value) // 1024}kB"
    else:
        row["setting"] = str(value)
        row["pretty_val"] = str(value)
    row["source"] = "configuration file"


def host(ram, connections, instances, other_share):
    swap = copy.deepcopy(SWAP)
    swap["memory"]["total_bytes"] = ram
    swap["memory"]["available_bytes"] = int(ram * (1 - other_share))
    postgres = []
    for index in range(instances):
        pg = copy.deepcopy(PG17)
        set_setting(pg, "max_connections", connections)
        set_setting(pg, "work_mem", 4 * MIB)               # PostgreSQL's default
        pg["settings"]["max_connections"]["pending_restart"] = False
        postgres.append({"label": f"container db{index}", "facts": pg})
    return {"swap": swap, "disk": copy.deepcopy(DISK), "postgres": postgres}


def by_id(findings, prefix):
    return [f for f in findings if f["id"].startswith(prefix)]


GRID = list(itertools.product(RAMS_GIB, CONNECTIONS, INSTANCES, OTHER_SHARE))


@pytest.mark.parametrize("ram_gib, connections, instances, other_share", GRID)
def test_postgres_recommendation_applied_passes_the_audit(ram_gib, connections, instances, other_share):
    facts = host(int(ram_gib * GIB), connections, instances, other_share)
    findings = build_findings(facts)
    assert not by_id(findings, "audit.rule_failed")
    recommendations = {f["evidence"]["instance"]: f["evidence"] for f in by_id(findings, "postgres.memory_defaults")
                       if f["id"] == "postgres.memory_defaults"}
    if not recommendations:
        return  # nothing recommended (RAM below postgres_defaults_min_ram_bytes, or a budget below PGTune's 512MB)
    for entry in facts["postgres"]:
        evidence = recommendations.get(entry["label"])
        assert evidence is not None, entry["label"]        # identical instances: all or none are recommended
        assert evidence["memory_model"]["recommended"]["verdict"] in ("ok", "low")
        for name, value in evidence["recommended_values"].items():
            if name in entry["facts"]["settings"] and isinstance(value, (int, float)):
                set_setting(entry["facts"], name, value)
    again = build_findings(facts)
    assert not [f for f in again if f["id"] == "postgres.memory_overcommit"], [
        f["title"] for f in again if f["id"] == "postgres.memory_overcommit"]
    assert [f["id"] for f in by_id(again, "postgres.memory_defaults")] == ["postgres.memory_defaults_ok"] * instances


DISK_USE = (0.2, 0.6, 0.8, 0.86)


def with_disk(facts, use):
    root = facts["disk"]["filesystems"][0]
    used = int(root["size_bytes"] * use)
    root.update({"used_bytes": used, "available_bytes": root["size_bytes"] - used,
                 "use_percent": round(used * 100.0 / root["size_bytes"], 1)})
    return facts


def apply_swap_file(facts, size):
    swap = facts["swap"]
    swap["swap"]["total_bytes"] += size
    swap["swap"]["free_bytes"] = swap["swap"].get("free_bytes", 0) + size
    swap["areas"].append({"path": "/swapfile-new", "type": "file", "size_bytes": size, "used_bytes": 0,
                          "priority": -2, "zram": False})
    root = facts["disk"]["filesystems"][0]
    root["used_bytes"] += size
    root["available_bytes"] -= size
    root["use_percent"] = round(root["used_bytes"] * 100.0 / (root["used_bytes"] + root["available_bytes"]), 1)


@pytest.mark.parametrize("ram_gib, use, present", list(itertools.product(RAMS_GIB, DISK_USE, (0, 1))))
def test_recommended_swap_applied_passes_the_audit(ram_gib, use, present):
    facts = with_disk(copy.deepcopy({"swap": SWAP, "disk": DISK}), use)
    facts["swap"]["memory"]["total_bytes"] = int(ram_gib * GIB)
    facts["swap"]["swap"]["total_bytes"] = present * 512 * MIB
    facts["swap"]["areas"] = facts["swap"]["areas"][:present]
    if present:
        facts["swap"]["areas"][0]["size_bytes"] = 512 * MIB
    else:
        facts["swap"]["fstab"] = []
    findings = build_findings(facts)
    before = {f["id"] for f in findings if f["id"].startswith("disk.") and f["severity"] in ("warning", "critical")}
    swap = by_id(findings, "swap.")[0]
    if swap["id"] == "swap.ok" or not swap["fix"]["command"]:
        return
    size = swap["evidence"].get("swap_fits_bytes", swap["evidence"]["recommended_swap_bytes"])
    apply_swap_file(facts, size)
    again = build_findings(facts)
    after = {f["id"] for f in again if f["id"].startswith("disk.") and f["severity"] in ("warning", "critical")}
    assert after <= before, (after - before)
    fitted = swap["evidence"].get("swap_fits_bytes")
    if fitted is None or fitted >= swap["evidence"]["recommended_swap_bytes"] - present * 512 * MIB:
        assert by_id(again, "swap.")[0]["id"] == "swap.ok"


def test_the_grid_exercises_recommendations():
    """Most grid points get a recommendation to apply (the property above is not vacuous)."""
    applied = sum(1 for point in GRID if any(
        f["id"] == "postgres.memory_defaults" for f in build_findings(host(int(point[0] * GIB), *point[1:]))))
    assert applied >= len(GRID) * 0.6, (applied, len(GRID))
