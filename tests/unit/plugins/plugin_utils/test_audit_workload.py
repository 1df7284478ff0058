# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workload findings (memory owners, memory budget, containers without limits, restart loops, PostgreSQL's
/dev/shm, systemd, stuck processes), the apps discovered from the containers' and units' environment and fed to
apps.pool, and PostgreSQL's budget from the measured memory, on the host of issue 13: 11 GiB, no swap, an LLM
container without a limit holding 6.5 GiB, a bot restarting in a loop, Puma 4 x 8 with DB_POOL=52 and Sidekiq 15."""

from __future__ import annotations

import copy
import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.module_utils._workload_containers import container_facts
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_containers import proposed_limit
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import host_report, report_files
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_budget import DEFAULT_OS_RESERVE_BYTES, measured_share
from ansible_collections.hostcare.vps.plugins.plugin_utils._workload_apps import discovered_apps, merged_apps

HERE = os.path.dirname(__file__)
AUDIT_FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "audit")
WORKLOAD_FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures", "workload")
PASSWORD = "S3cretPw"


def load(directory, name):
    with open(os.path.join(directory, name), encoding="utf-8") as handle:
        return json.load(handle)


def inspect(name, env=(), memory=0, image="registry.example/shop:1", cmd=None, project="shop", service=None,
            restart_count=0, restarting=False, shm=64 * MIB, exit_code=0):
    """A docker inspect answer shaped like the recorded ones (tests/fixtures/workload/docker_inspect_*.json)."""
    answer = copy.deepcopy(load(WORKLOAD_FIXTURES, "docker_inspect_web.json"))
    answer.update(Id=(name.encode().hex() * 64)[:64], Name=f"/{name}", RestartCount=restart_count)
    answer["Config"].update(Image=image, Env=["PATH=/usr/bin", "SECRET_KEY_BASE=T0pSecretKeyBase", *env],
                            Cmd=cmd or ["sleep", "infinity"], Labels={"com.docker.compose.project": project,
                                                                      "com.docker.compose.service": service or name})
    answer["HostConfig"].update(Memory=memory, MemorySwap=memory * 2 if memory else 0, ShmSize=shm)
    answer["State"].update(Status="restarting" if restarting else "running", Running=True, Restarting=restarting,
                           ExitCode=exit_code)
    answer["NetworkSettings"] = {"Networks": {"shop_default": {"Aliases": [service or name]}}}
    return answer


URL = f"postgres://app:{PASSWORD}@db:5432/app"


def containers():
    return [
        container_facts(inspect("llm", memory=0, project="ai", image="ghcr.io/ggml-org/llama.cpp:server"),
                        usage_bytes=6656 * MIB),
        container_facts(inspect("bot", project="bot", restart_count=235, restarting=True, exit_code=1),
                        usage_bytes=0),
        container_facts(inspect("shop-web-1", env=["WEB_CONCURRENCY=4", "RAILS_MAX_THREADS=8", "DB_POOL=52",
                                                   f"DATABASE_URL={URL}"],
                                cmd=["bundle", "exec", "puma"], service="web", memory=4 * GIB), usage_bytes=2 * GIB),
        container_facts(inspect("shop-sidekiq-1", env=["SIDEKIQ_CONCURRENCY=15", f"DATABASE_URL={URL}"],
                                cmd=["bundle", "exec", "sidekiq"], service="sidekiq", memory=2 * GIB),
                        usage_bytes=1 * GIB),
        container_facts(inspect("db", image="postgres:15", service="db", memory=0), usage_bytes=300 * MIB),
    ]


def workload(swap_total=0, other=8 * GIB, systemd=None, stuck=None):
    return {
        "format": 1,
        "memory": {"total_bytes": 11 * GIB, "available_bytes": 1 * GIB, "swap_total_bytes": swap_total,
                   "swap_free_bytes": swap_total},
        "cpu_count": 4, "load": {"load1": 1.0, "load5": 1.5, "load15": 1.0},
        "processes": dict({"seen": 300, "read": 300, "complete": True, "pss_read": 200, "elapsed_seconds": 0.1,
                           "d_state_count": 0, "d_state": [], "zombies_count": 0, "zombies": []}, **(stuck or {})),
        "groups": [{"kind": "container", "name": "llm", "processes": 3, "rss_bytes": 6700 * MIB,
                    "pss_bytes": 6656 * MIB, "swap_bytes": 0, "memory_bytes": 6656 * MIB, "memory_source": "pss",
                    "share_percent": 59.1, "postgres": False, "id": "6c6c6d6c6c6d"},
                   {"kind": "container", "name": "shop-web-1", "processes": 5, "rss_bytes": 2 * GIB,
                    "pss_bytes": None, "swap_bytes": None, "memory_bytes": 2 * GIB, "memory_source": "rss",
                    "share_percent": 18.2, "postgres": False}],
        "groups_total": 12, "other_groups_bytes": 0,
        "measured": {"total_bytes": other + 300 * MIB, "postgres_bytes": 300 * MIB, "other_bytes": other},
        "docker": {"available": True, "reason_code": None, "reason": None, "containers": containers()},
        "systemd": systemd or {"available": False, "reason": "systemd is not running here", "failed": [],
                               "restarted": [], "apps": []},
    }


def host(swap_total=0, ram=11 * GIB, postgres=True, apps=None, **kwargs):
    swap = load(AUDIT_FIXTURES, "swap_healthy.json")
    swap["memory"]["total_bytes"] = ram
    swap["swap"]["total_bytes"] = swap_total
    facts = {"swap": swap, "disk": load(AUDIT_FIXTURES, "disk_healthy.json"), "workload": workload(swap_total, **kwargs)}
    if postgres:
        facts["postgres"] = [{"label": "container db",
                              "facts": load(AUDIT_FIXTURES, "postgres_pg15_superuser_socket.json")}]
    if apps is not None:
        facts["apps"] = apps
    return facts


def by_id(findings, finding_id):
    return [item for item in findings if item["id"] == finding_id]


def test_the_sick_host_of_the_issue():
    findings = build_findings(host())
    [top] = by_id(findings, "memory.top_consumers")
    assert top["evidence"]["top"][0]["name"] == "llm" and top["evidence"]["top"][0]["memory_bytes"] == 6656 * MIB
    assert top["title"] == "Biggest memory owner: container llm (6.5 GiB)"

    unlimited = {item["evidence"]["container"]: item for item in by_id(findings, "docker.no_memory_limit")}
    assert set(unlimited) == {"llm", "bot", "db"}  # web and sidekiq have limits
    llm = unlimited["llm"]
    assert llm["severity"] == "warning" and llm["risk"] == "caution"
    assert llm["evidence"]["proposed_limit_bytes"] >= llm["evidence"]["usage_bytes"]
    assert llm["fix"]["command"].startswith("docker update --memory 9984m --memory-swap 9984m llm")

    [loop] = by_id(findings, "docker.restart_loop")
    assert loop["severity"] == "critical" and loop["evidence"]["restart_count"] == 235
    assert loop["evidence"]["exit_code"] == 1 and "docker logs --tail 100 bot" in loop["fix"]["command"]

    [shm] = by_id(findings, "docker.postgres_shm")
    assert shm["evidence"]["container"] == "db" and shm["evidence"]["shm_size_bytes"] == 64 * MIB
    assert "shm_size: 1024m" in shm["fix"]["command"]

    [budget] = by_id(findings, "memory.budget")
    assert budget["severity"] == "critical"  # no swap: anything above RAM is above RAM + swap
    ev = budget["evidence"]
    assert ev["total_bytes"] == ev["postgres_worst_case_bytes"] + ev["other_usage_bytes"] + ev["container_room_bytes"]
    assert ev["container_room_bytes"] == (4 * GIB - 2 * GIB) + (2 * GIB - 1 * GIB)
    assert ev["postgres_instances"] == ["container db"] and "llm" in ev["unlimited_containers"]


def test_apps_are_discovered_without_audit_apps_and_flagged():
    findings = build_findings(host())
    [pool] = [item for item in findings if item["id"] in ("apps.pool", "apps.pool_ok")]
    assert pool["id"] == "apps.pool" and pool["severity"] in ("critical", "warning")
    ev = pool["evidence"]
    assert ev["app"] == "shop"
    assert ev["current"] == {"workers": 4, "threads": 8, "db_pool": 52, "sidekiq_concurrency": 15}
    assert ev["sources"]["db_pool"] == "container shop-web-1: DB_POOL"
    assert ev["sources"]["sidekiq_concurrency"] == "container shop-sidekiq-1: SIDEKIQ_CONCURRENCY"
    assert ev["pg_max_connections_source"] == "PostgreSQL (container db)"
    assert ev["database"] == ["postgres://app@db:5432/app"]
    assert "discovered in container shop-web-1, container shop-sidekiq-1" in pool["summary"]
    assert any("52" in text for text in ev["errors"] + ev["warnings"])


def test_audit_apps_overrides_and_adds():
    findings = build_findings(host(apps=[{"name": "shop", "db_pool": 8, "threads": 8},
                                         {"name": "blog", "workers": 2, "threads": 5, "db_pool": 5}]))
    pools = {item["evidence"]["app"]: item for item in findings if item["id"].startswith("apps.pool")}
    assert set(pools) == {"shop", "blog"}
    shop = pools["shop"]["evidence"]
    assert shop["current"]["db_pool"] == 8 and shop["sources"]["db_pool"] == "audit_apps"
    assert shop["sources"]["workers"] == "container shop-web-1: WEB_CONCURRENCY"
    assert pools["blog"]["evidence"]["origin"] == "audit_apps"


def test_the_password_reaches_no_report():
    facts = host()
    report = host_report("sick", facts, generated_at="2026-12-06T20:00:00Z")
    for text in report_files("sick", report).values():
        assert PASSWORD not in text and "T0pSecretKeyBase" not in text and "SECRET_KEY_BASE" not in text


def test_postgres_budget_is_ram_minus_what_the_rest_uses():
    findings = build_findings(host(other=3 * GIB))
    [defaults] = [item for item in findings if item["id"].startswith("postgres.memory_defaults")]
    budget = defaults["evidence"]["budget"]
    assert budget["source"] == "measured" and budget["measured_other_bytes"] == 3 * GIB
    assert budget["bytes"] == pytest.approx(11 * GIB - 3 * GIB - DEFAULT_OS_RESERVE_BYTES, rel=0.001)
    assert "measured in the other processes" in budget["reason"]


def test_postgres_budget_floor():
    findings = build_findings(host(other=10 * GIB))
    [defaults] = [item for item in findings if item["id"].startswith("postgres.memory_defaults")]
    assert defaults["evidence"]["budget"]["bytes"] == pytest.approx(11 * GIB * 0.25, rel=0.001)
    assert "below the floor" in defaults["evidence"]["budget"]["reason"]
    share, reason = measured_share(8 * GIB, 1 * GIB, instances=2)
    assert share == pytest.approx((8 * GIB - 1 * GIB - DEFAULT_OS_RESERVE_BYTES) / 2 / (8 * GIB))
    assert "divided among 2" in reason


def test_without_workload_facts_nothing_changes():
    facts = host()
    del facts["workload"]
    findings = build_findings(facts)
    ids = {item["id"] for item in findings}
    assert not ids & {"memory.top_consumers", "memory.budget", "docker.no_memory_limit", "apps.pool"}
    [defaults] = [item for item in findings if item["id"].startswith("postgres.memory_defaults")]
    assert defaults["evidence"]["budget"]["source"] != "measured"


def test_a_host_with_swap_and_small_unlimited_containers_gets_info():
    facts = host(swap_total=4 * GIB, ram=64 * GIB)
    findings = build_findings(facts)
    unlimited = {item["evidence"]["container"]: item["severity"] for item in by_id(findings, "docker.no_memory_limit")}
    assert unlimited == {"llm": "info", "bot": "info", "db": "info"}
    [ok] = by_id(findings, "memory.budget_ok")
    assert ok["severity"] == "ok"


@pytest.mark.parametrize("usage", [0, 1, 10 * MIB, 255 * MIB, 6656 * MIB + 1, 200 * GIB])
def test_a_proposed_limit_is_never_below_usage(usage):
    limit = proposed_limit(usage, 1.5)
    assert limit >= usage + 256 * MIB - 1 and limit % (64 * MIB) == 0
    assert proposed_limit(usage, 0.5) >= usage


def test_systemd_and_stuck_processes():
    systemd = {"available": True, "reason": None,
               "failed": [{"unit": "broken.service", "result": "exit-code", "exit_status": 4, "exited_at": "x",
                           "active_state": "failed", "sub_state": "failed", "restarts": 0}],
               "restarted": [{"unit": "crashy.service", "restarts": 5, "active_state": "activating",
                              "sub_state": "auto-restart", "result": "exit-code", "exit_status": 1, "exited_at": "y"},
                             {"unit": "flaky.service", "restarts": 6, "active_state": "active",
                              "sub_state": "running", "result": "success", "exit_status": 0, "exited_at": None},
                             {"unit": "once.service", "restarts": 1, "active_state": "active",
                              "sub_state": "running", "result": "success", "exit_status": 0, "exited_at": None}],
               "apps": []}
    stuck = {"d_state_count": 6, "d_state": [{"pid": 7, "comm": "rsync", "ppid": 1, "parent": "systemd"}],
             "zombies_count": 2, "zombies": [{"pid": 9, "comm": "sh", "ppid": 8, "parent": "node"}]}
    findings = build_findings(host(systemd=systemd, stuck=stuck))
    assert [item["evidence"]["units"][0]["unit"] for item in by_id(findings, "systemd.failed_units")] == ["broken.service"]
    loops = {item["evidence"]["unit"]: item["severity"] for item in by_id(findings, "systemd.restart_loop")}
    assert loops == {"crashy.service": "critical", "flaky.service": "warning"}
    assert "journalctl -u crashy.service -n 100 --no-pager" in by_id(findings, "systemd.restart_loop")[0]["fix"]["command"]
    assert by_id(findings, "processes.d_state")[0]["severity"] == "warning"
    assert by_id(findings, "processes.zombies")[0]["severity"] == "info"
    assert not by_id(findings, "processes.load_high")


def test_systemd_units_are_apps_too():
    unit = {"unit": "shop-web.service", "app_kind": "web", "restarts": 0,
            "app_variables": {"WEB_CONCURRENCY": 2, "RAILS_MAX_THREADS": 5,
                              "DATABASE_URL": {"scheme": "postgres", "user": "app", "host": "localhost", "port": 5432,
                                               "dbname": "shop", "pool": 5, "url": "postgres://app@localhost:5432/shop?pool=5"}},
            "app_variable_sources": {"WEB_CONCURRENCY": "/etc/shop.env", "RAILS_MAX_THREADS": "Environment=",
                                     "DATABASE_URL": "/srv/shop/.env"}}
    data = {"docker": {"containers": []}, "systemd": {"apps": [unit]}}
    [app] = discovered_apps(data, ["native"])
    assert app == {"name": "shop-web.service", "workers": 2, "threads": 5, "db_pool": 5, "postgres": "native",
                   "sources": {"workers": "systemd unit shop-web.service (/etc/shop.env): WEB_CONCURRENCY",
                               "threads": "systemd unit shop-web.service (Environment=): RAILS_MAX_THREADS",
                               "db_pool": "systemd unit shop-web.service (/srv/shop/.env): DATABASE_URL pool"},
                   "discovered_in": ["systemd unit shop-web.service"],
                   "database": ["postgres://app@localhost:5432/shop?pool=5"]}
    assert merged_apps([app], [{"name": "other", "workers": 1}])[1] == {"name": "other", "workers": 1}


def test_load_is_judged_on_the_host_only():
    facts = host()
    facts["workload"]["load"] = {"load1": 12.0, "load5": 10.0, "load15": 9.0}
    [load] = by_id(build_findings(facts), "processes.load_high")
    assert load["evidence"]["load_per_cpu"] == 2.5
    facts["swap"]["container"].update(detected=True, runtime="docker")
    assert not by_id(build_findings(facts), "processes.load_high")
