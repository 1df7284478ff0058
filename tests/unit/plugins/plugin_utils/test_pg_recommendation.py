# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.pg_recommendation: the role postgresql_tune applies exactly what the audit's
postgres.memory_defaults recommends, and the finding names the role with its variables."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.pg import pg_recommendation
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_postgres import postgresql_tune_role_vars
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_recommendation import RecommendationError, recommendation
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
PG17 = "postgres_pg17_superuser_docker"  # defaults but work_mem 16MB (the audit's fixture)


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def host(*instances, ram, limit=None):
    swap = load("swap_healthy")
    swap["memory"]["total_bytes"] = ram
    swap["container"]["memory_limit_bytes"] = limit
    return {"swap": swap, "disk": load("disk_healthy"),
            "postgres": [{"label": label, "facts": load(name)} for label, name in instances]}


def all_of(findings, finding_id):
    return [item for item in findings if item["id"] == finding_id]


def one(findings, finding_id):
    (item,) = all_of(findings, finding_id)
    return item


def _recommended(finding):
    return {name: row["recommended"] for name, row in finding["evidence"]["recommended_settings"].items()}


@pytest.mark.parametrize("ram, limit", [(16 * GIB, None), (4 * GIB, None), (32 * GIB, 4 * GIB), (2 * GIB + 12345, None)])
def test_the_role_gets_the_audits_recommendation(ram, limit):
    facts = host(("native", PG17), ram=ram, limit=limit)
    finding = one(build_findings(facts), "postgres.memory_defaults")
    result = recommendation(load(PG17), facts["swap"])
    assert result["settings"] == _recommended(finding)
    assert result["budget"] == finding["evidence"]["budget"]
    assert result["ram_bytes"] == finding["evidence"]["ram_bytes"]


def test_two_instances_share_the_ram_as_in_the_audit():
    facts = host(("native", PG17), ("container app-db-1", PG17), ram=16 * GIB)
    findings = all_of(build_findings(facts), "postgres.memory_defaults")
    result = recommendation(load(PG17), facts["swap"], instances=2)
    assert result["settings"] == _recommended(findings[1])
    assert result["settings"]["shared_buffers"] == "2GB"
    assert findings[1]["evidence"]["role_vars"] == {"hostcare_postgresql_tune_container": "app-db-1",
                                                    "hostcare_postgresql_tune_instances_sharing_ram": 2}


def test_the_finding_names_the_role():
    item = one(build_findings(host(("native", PG17), ram=16 * GIB)), "postgres.memory_defaults")
    assert item["fix"]["role"] == "hostcare.vps.postgresql_tune"
    assert item["fix"]["planned_role"] is None
    assert item["evidence"]["role_vars"] == {"hostcare_postgresql_tune_method": "local_socket"}
    assert "# or let the role hostcare.vps.postgresql_tune do it, with these variables:\n" \
           "#   hostcare_postgresql_tune_method: local_socket" in item["fix"]["command"]
    assert "hostcare.vps.postgresql_tune" in item["recommendation"]


def test_role_vars_never_carry_a_password():
    role_vars = postgresql_tune_role_vars({"method": "tcp", "host": "db", "port": 5433, "user": "admin",
                                           "password": "secret"})
    assert role_vars == {"hostcare_postgresql_tune_host": "db", "hostcare_postgresql_tune_port": 5433,
                         "hostcare_postgresql_tune_user": "admin"}


def test_a_container_limit_caps_the_ram():
    facts = host(("native", PG17), ram=16 * GIB)
    result = recommendation(load(PG17), facts["swap"], memory_limit="2GB")
    assert result["ram_bytes"] == 2 * GIB and result["ram_source"] == "container memory limit"
    assert result["settings"]["shared_buffers"] == "512MB"
    assert recommendation(load(PG17), facts["swap"], memory_limit=64 * GIB)["ram_bytes"] == 16 * GIB


def test_workload_is_pgtunes():
    facts = host(("native", PG17), ram=16 * GIB)
    web = recommendation(load(PG17), facts["swap"])
    dw = recommendation(load(PG17), facts["swap"], workload="dw")
    assert web["settings"]["default_statistics_target"] == "100"
    assert dw["settings"]["default_statistics_target"] == "500"


@pytest.mark.parametrize("kwargs, message", [
    ({"instances": 0}, "instances"),
    ({"instances": "two"}, "instances"),
    ({"workload": "gaming"}, "workload: 'gaming' is not allowed"),
    ({"memory_limit": "lots"}, "memory_limit"),
])
def test_bad_arguments_are_named(kwargs, message):
    facts = host(("native", PG17), ram=16 * GIB)
    with pytest.raises(RecommendationError, match=message):
        recommendation(load(PG17), facts["swap"], **kwargs)
    with pytest.raises(AnsibleFilterError, match="hostcare.vps.pg_recommendation: " + message):
        pg_recommendation(load(PG17), swap=facts["swap"], **kwargs)


def test_unreadable_instance_or_memory_is_refused():
    facts = host(("native", PG17), ram=16 * GIB)
    with pytest.raises(RecommendationError, match="could not be read"):
        recommendation({"available": False, "reason": "down"}, facts["swap"])
    with pytest.raises(RecommendationError, match="no memory.total_bytes"):
        recommendation(load(PG17), {})
    with pytest.raises(RecommendationError, match="below PGTune's 512MB"):
        recommendation(load(PG17), dict(facts["swap"], memory={"total_bytes": 1024 * MIB}), instances=4)
    with pytest.raises(AnsibleFilterError, match="unknown"):
        pg_recommendation(load(PG17), swap=facts["swap"], ram=1)
