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
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_budget import DEFAULT_OS_RESERVE_BYTES
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_recommendation import RecommendationError, recommendation
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_plan import container_memory_limit
from ansible_collections.hostcare.vps.plugins.module_utils._processes import read_processes
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.module_utils._workload import build_workload_facts
from ansible_collections.hostcare.vps.plugins.module_utils._workload_containers import container_facts

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
WORKLOAD_FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "workload")
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


# --------------------------------------------------------------------------------------------- shared host
# The recorded host of tests/fixtures/workload/proc_host.json (11 GiB, an LLM container holding 6.5 GiB, a PostgreSQL
# container), its facts built by hostcare.vps.workload_facts' own builder, audited and recommended for.


def load_workload(name):
    with open(os.path.join(WORKLOAD_FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(name="recorded_host", scope="module")
def fixture_recorded_host(tmp_path_factory):
    """(processes, status, recorded) read from the recorded /proc of proc_host.json by read_processes."""
    root = tmp_path_factory.mktemp("proc")
    recorded = load_workload("proc_host.json")
    for pid, files in recorded["processes"].items():
        (root / pid).mkdir()
        for name, text in files.items():
            if text is not None:
                (root / pid / name).write_bytes(text.encode())
    (root / "self").mkdir()
    processes, status = read_processes(str(root), time_budget=100)
    return processes, status, recorded


def shared_host(recorded_host, ram, pg_limit=0, instances=1):
    """The audit's facts of the recorded host with the PostgreSQL container 'db' (HostConfig.Memory ``pg_limit``)
    read through docker exec, ``instances`` PostgreSQL instances in all."""
    processes, status, recorded = recorded_host
    llm = container_facts(dict(load_workload("docker_inspect_web.json"), Id=recorded["container_ids"]["llm"],
                               Name="/llm", HostConfig={"Memory": 0, "ShmSize": 67108864}))
    inspect = load_workload("docker_inspect_postgres_default_shm.json")
    db = container_facts(dict(inspect, Id=recorded["container_ids"]["postgres"], Name="/db",
                              HostConfig=dict(inspect["HostConfig"], Memory=pg_limit)))
    docker = {"available": True, "reason_code": None, "reason": None, "containers": [llm, db]}
    workload = build_workload_facts({"meminfo": recorded["meminfo"], "loadavg": recorded["loadavg"], "cpu_count": 4,
                                     "processes": [dict(item) for item in processes], "process_status": status,
                                     "docker": docker})
    facts = host(*[("container db", PG17)] + [(f"container db{index}", PG17) for index in range(2, instances + 1)],
                 ram=ram)
    facts["workload"] = workload
    facts["postgres"][0]["connection"] = {"method": "docker", "container": "db"}
    return facts


def _role(facts, instances=1, memory_limit=None):
    """What the role computes: the filter, on the facts its tasks gathered (swap_facts, workload_facts,
    pg_settings_facts through docker exec) and its variables."""
    return pg_recommendation(load(PG17), swap=facts["swap"], workload_facts=facts["workload"], container="db",
                             instances=instances, memory_limit=memory_limit)


@pytest.mark.parametrize("ram, pg_limit, instances", [
    (16 * GIB, 0, 1),            # RAM minus the measured rest (the LLM's 6.5 GiB and the others)
    (9 * GIB, 0, 1),             # the rest leaves less than a quarter of the RAM: the floor
    (24 * GIB, 0, 2),            # the rest measured, then shared by two instances
    (16 * GIB, 2 * GIB, 1),      # the container's own limit below the budget: sized for the limit
    (16 * GIB, 12 * GIB, 1),     # a limit above the budget changes nothing
])
def test_the_role_and_the_audit_give_the_same_numbers_on_a_shared_host(recorded_host, ram, pg_limit, instances):
    facts = shared_host(recorded_host, ram, pg_limit, instances)
    finding = all_of(build_findings(facts), "postgres.memory_defaults")[0]
    assert finding["evidence"]["instance"] == "container db"
    role = _role(facts, instances)
    assert role["settings"] == _recommended(finding)
    assert role["budget"] == finding["evidence"]["budget"]
    measured = facts["workload"]["measured"]["other_bytes"]
    assert measured > 6 * GIB                                   # the LLM container is counted as the rest
    budget = role["budget"]
    if pg_limit and pg_limit < ram - measured:
        assert budget["source"] == "memory_limit" and budget["bytes"] == pg_limit
        assert budget["memory_limit_source"] == "container db HostConfig.Memory"
        assert role["ram_bytes"] == pg_limit and role["ram_source"] == "container memory limit"
        assert "below the host's budget" in budget["reason"] and "measured in the other processes" in budget["reason"]
        assert role["summary"].startswith("2.0 GiB for PostgreSQL: the memory limit 2.0 GiB (container db "
                                          "HostConfig.Memory)")
        assert role["summary"].endswith("; memory limit: container db HostConfig.Memory")
    else:
        assert budget["source"] == "measured" and budget["measured_other_bytes"] == measured
        floor = ram // 4 // instances
        expected = max(ram - measured - DEFAULT_OS_RESERVE_BYTES, ram // 4) // instances
        assert budget["bytes"] == pytest.approx(expected, rel=0.001) and budget["bytes"] >= floor * 0.999
        assert ("below the floor" in budget["reason"]) == (ram - measured - DEFAULT_OS_RESERVE_BYTES < ram // 4)
        assert budget["memory_limit_bytes"] == (pg_limit or None)
        assert budget["memory_limit_source"] == ("container db has no memory limit" if not pg_limit
                                                 else "container db HostConfig.Memory")
    # the memory model of what the role applies stays under the audit's warning line of that budget
    assert finding["evidence"]["memory_model"]["recommended"]["verdict"] == "ok"


def test_the_budget_is_the_measured_one_not_the_whole_ram(recorded_host):
    facts = shared_host(recorded_host, 16 * GIB)
    shared = _role(facts)
    dedicated = recommendation(load(PG17), facts["swap"])      # no workload facts: all of the RAM
    assert dedicated["budget"]["bytes"] == 16 * GIB
    assert shared["budget"]["bytes"] < 16 * GIB - 6 * GIB
    assert _size(shared["settings"]["shared_buffers"]) < _size(dedicated["settings"]["shared_buffers"])


def test_a_given_memory_limit_wins_over_the_containers(recorded_host):
    facts = shared_host(recorded_host, 16 * GIB, pg_limit=4 * GIB)
    role = _role(facts, memory_limit="1GB")
    assert role["budget"]["bytes"] == 1 * GIB and role["budget"]["memory_limit_source"] == "memory_limit given"
    assert role["settings"]["shared_buffers"] == "256MB"


def test_a_container_limit_that_cannot_be_read_is_refused(recorded_host):
    facts = shared_host(recorded_host, 16 * GIB)
    down = dict(facts["workload"], docker={"available": False, "reason": "permission denied", "containers": []})
    with pytest.raises(AnsibleFilterError, match="container: the memory limit of db could not be read: the Docker "
                                                 "Engine API was not read \\(permission denied\\); give memory_limit"):
        pg_recommendation(load(PG17), swap=facts["swap"], workload_facts=down, container="db")
    with pytest.raises(AnsibleFilterError, match="no container 'other' among the 2"):
        pg_recommendation(load(PG17), swap=facts["swap"], workload_facts=facts["workload"], container="other")
    with pytest.raises(AnsibleFilterError, match="workload_facts: needed to read the memory limit of container db"):
        pg_recommendation(load(PG17), swap=facts["swap"], container="db")
    with pytest.raises(AnsibleFilterError, match="workload_facts: expected the hostcare_workload fact"):
        pg_recommendation(load(PG17), swap=facts["swap"], workload_facts="lots", container="db")
    # given a limit, nothing needs reading
    assert pg_recommendation(load(PG17), swap=facts["swap"], container="db", memory_limit="2GB")["budget"]["bytes"] == 2 * GIB


def test_the_container_is_found_by_name_or_id_and_only_for_docker_exec(recorded_host):
    facts = shared_host(recorded_host, 16 * GIB, pg_limit=3 * GIB)
    pg = load(PG17)
    ident = facts["workload"]["docker"]["containers"][1]["id"]
    assert container_memory_limit(facts, pg, "db") == (3 * GIB, "container db HostConfig.Memory")
    assert container_memory_limit(facts, pg, "/db") == (3 * GIB, "container db HostConfig.Memory")
    assert container_memory_limit(facts, pg, ident[:12]) == (3 * GIB, "container db HostConfig.Memory")
    assert container_memory_limit(facts, dict(pg, method="local_socket"), "db") == (None, None)
    assert container_memory_limit(facts, pg, None) == (None, None)


def _size(text):
    units = {"kB": 1024, "MB": MIB, "GB": GIB}
    return int(text[:-2]) * units[text[-2:]]
