# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one PostgreSQL memory model (plugins/plugin_utils/_pg_memory.py) and what uses it."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import (
    MIN_CONNECTIONS,
    WORK_MEM_FLOOR_BYTES,
    fit_to_budget,
    memory_model,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import grade

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def settings(**changes):
    base = {"shared_buffers": 1 * GIB, "max_connections": 100, "work_mem": 40 * MIB,
            "maintenance_work_mem": 64 * MIB, "autovacuum_max_workers": 3, "autovacuum_work_mem": None}
    base.update(changes)
    return base


def test_model_and_grade():
    model = memory_model(settings())
    assert model["total_bytes"] == 1 * GIB + 6000 * MIB + 192 * MIB
    assert model["autovacuum_work_mem_from"] == "maintenance_work_mem"
    assert memory_model(settings(work_mem=None)) is None
    assert [grade(p, 75, 90) for p in (74.99, 75.0, 89.99, 90.0, None)] == ["ok", "warning", "warning", "critical", None]


def test_fit_lowers_work_mem_first():
    fitted, changes = fit_to_budget(settings(), 8 * GIB)
    assert changes == {"work_mem": 31 * MIB}
    assert memory_model(fitted)["total_bytes"] < 8 * GIB * 0.75


def test_fit_lowers_connections_when_work_mem_is_at_its_floor():
    fitted, changes = fit_to_budget(settings(max_connections=500, shared_buffers=256 * MIB), 1 * GIB)
    assert changes["work_mem"] == WORK_MEM_FLOOR_BYTES
    assert MIN_CONNECTIONS <= changes["max_connections"] < 500
    assert memory_model(fitted)["total_bytes"] < 1 * GIB * 0.75


def test_fit_leaves_what_fits_alone():
    assert fit_to_budget(settings(work_mem=4 * MIB), 16 * GIB)[1] == {}


# ------------------------------------------------------------------ the audit's recommendation (issue 12, item 1)


def host(ram, *instances, limit=None):
    swap = load("swap_healthy")
    swap["memory"]["total_bytes"] = ram
    swap["container"]["memory_limit_bytes"] = limit
    return {"swap": swap, "disk": load("disk_healthy"),
            "postgres": [{"label": label, "facts": facts} for label, facts in instances]}


def one(findings, finding_id):
    found = [f for f in findings if f["id"] == finding_id]
    assert len(found) == 1, (finding_id, [f["id"] for f in findings])
    return found[0]


def test_the_recommendation_fits_the_check_of_the_same_audit():
    # 23.5 GiB, PostgreSQL at defaults: PGTune alone would give a set the overcommit check calls 78.5%.
    pg17 = load("postgres_pg17_superuser_docker")
    item = one(build_findings(host(int(23.5 * GIB), ("container db", pg17))), "postgres.memory_defaults")
    assert item["evidence"]["fitted_to_memory_model"]["work_mem_bytes"] > 0
    assert item["evidence"]["memory_model"]["recommended"]["verdict"] == "ok"
    assert "lowered so that the recommendation stays under" in item["recommendation"]


def test_the_work_mem_factor_threshold_reaches_the_recommendation():
    pg17 = load("postgres_pg17_superuser_docker")
    facts = host(16 * GIB, ("native", pg17))
    plain = one(build_findings(facts), "postgres.memory_defaults")["evidence"]
    doubled = one(build_findings(facts, thresholds={"postgres_work_mem_factor": 3.0}),
                  "postgres.memory_defaults")["evidence"]
    assert (doubled["recommended_settings"]["work_mem"]["recommended"]
            != plain["recommended_settings"]["work_mem"]["recommended"])
    assert doubled["memory_model"]["recommended"]["verdict"] == "ok"


def test_unreadable_instances_on_this_machine_still_share_the_ram():
    pg17 = load("postgres_pg17_superuser_docker")
    unreadable = {"available": False, "reason_code": "role_missing", "reason": 'role "postgres" does not exist',
                  "method": "docker"}
    facts = host(16 * GIB, ("container a", pg17), ("container b", unreadable))
    item = one(build_findings(facts), "postgres.memory_defaults")
    assert item["evidence"]["instances_sharing_ram"] == 2
    assert item["evidence"]["ram_share_bytes"] == 8 * GIB
    assert item["evidence"]["unreadable_instances_counted"] == ["container b"]
    assert "could not be read (container b)" in item["recommendation"]
    stopped = copy.deepcopy(unreadable)
    stopped["reason_code"] = "container_stopped"
    item = one(build_findings(host(16 * GIB, ("container a", pg17), ("container b", stopped))),
               "postgres.memory_defaults")
    assert "instances_sharing_ram" not in item["evidence"]


@pytest.mark.parametrize("label, method", [("tcp app@10.0.0.5:5432", "tcp")])
def test_unreadable_remote_instances_do_not_share_the_ram(label, method):
    pg17 = load("postgres_pg17_superuser_docker")
    remote = {"available": False, "reason_code": "auth_failed", "reason": "no", "method": method}
    item = one(build_findings(host(16 * GIB, ("container a", pg17), (label, remote))), "postgres.memory_defaults")
    assert "instances_sharing_ram" not in item["evidence"]
