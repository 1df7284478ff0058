# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL rules of the audit (plugins/plugin_utils/_audit_postgres.py) on hostcare_postgres facts."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import FINDING_KEYS, build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import pg_size, psql_command
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import (
    DEFAULT_POSTGRES_IMAGE_PATTERNS,
    image_name,
    postgres_instances_from_results,
    postgres_targets,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_postgres import (
    memory_model,
    recommended_settings,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_plan import recommend_settings
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import GIB, MIB

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
PG15 = "postgres_pg15_superuser_socket"      # shared_buffers 256MB (pending restart), work_mem 8MB
PG15_APP = "postgres_pg15_app_tcp"           # the same server seen by a non-superuser over TCP
PG17 = "postgres_pg17_superuser_docker"      # defaults but work_mem 16MB, max_connections pending


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def host(*instances, ram=4 * GIB, limit=None):
    swap = load("swap_healthy")
    swap["memory"]["total_bytes"] = ram
    swap["container"]["memory_limit_bytes"] = limit
    postgres = []
    for entry in instances:
        if isinstance(entry, tuple):
            label, facts = entry
            postgres.append({"label": label, "facts": load(facts) if isinstance(facts, str) else facts})
        else:
            postgres.append(entry)
    return {"swap": swap, "disk": load("disk_healthy"), "postgres": postgres}


def pg(name=PG17, **settings):
    """Facts with settings changed: name=bytes for memory settings, name=int for counts."""
    facts = load(name)
    for key, value in settings.items():
        entry = facts["settings"][key]
        if entry["unit"] in ("kB", "8kB", "MB"):
            unit = {"kB": 1024, "8kB": 8192, "MB": MIB}[entry["unit"]]
            entry["setting"] = str(value // unit if value != -1 else -1)
            entry["val_in_bytes"] = value if value != -1 else None
            entry["pretty_val"] = pg_size(value) if value != -1 else "-1"
        else:
            entry["setting"] = str(value)
            entry["pretty_val"] = str(value)
    return facts


def unavailable(code, reason="why", method="local_socket"):
    keys = ["version", "in_recovery", "settings", "pending_restart_settings", "connections", "databases",
            "databases_total_bytes", "data_directory", "buffer_cache"]
    return {"available": False, "reason": reason, "reason_code": code, "method": method, "client": "psql",
            **dict.fromkeys(keys)}


def ids(findings):
    return [f["id"] for f in findings]


def pg_ids(findings):
    return [f["id"] for f in findings if f["id"].startswith("postgres.")]


def all_of(findings, finding_id):
    return [f for f in findings if f["id"] == finding_id]


def one(findings, finding_id):
    matches = all_of(findings, finding_id)
    assert len(matches) == 1, (finding_id, ids(findings))
    return matches[0]


# --------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize("name", [PG15, PG15_APP, PG17])
def test_findings_have_the_documented_shape(name):
    findings = build_findings(host(("native", name)))
    assert "audit.rule_failed" not in ids(findings)
    for item in findings:
        assert tuple(item) == FINDING_KEYS
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", item["id"])
        assert "\n" not in item["title"] and "\n" not in item["summary"]
        if item["id"].startswith("postgres."):
            assert item["evidence"]["instance"] == "native"
            assert item["title"].startswith("PostgreSQL (native)")
    json.dumps(findings)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_fix_commands_are_valid_shell():
    facts = host(("native", PG15), ("container app-db-1", PG17),
                 {"label": "tcp app@db:5433", "facts": load(PG15_APP),
                  "connection": {"method": "tcp", "host": "db", "port": 5433, "user": "app", "dbname": "app"}},
                 ram=8 * GIB)
    commands = [f["fix"]["command"] for f in build_findings(facts) if f["fix"]["command"]]
    assert len(commands) >= 5
    for command in commands:
        result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (command, result.stderr)


def test_two_instances_on_a_sick_host():
    findings = build_findings(host(("native", PG15), ("container app-db-1", PG17), ram=4 * GIB))
    found = [(f["id"], f["severity"], f["evidence"]["instance"]) for f in findings if f["id"].startswith("postgres.")]
    assert found == [
        ("postgres.memory_overcommit", "critical", "native + container app-db-1"),
        ("postgres.memory_defaults", "warning", "native"),
        ("postgres.memory_defaults", "warning", "container app-db-1"),
        ("postgres.pending_restart", "warning", "native"),
        ("postgres.pending_restart", "warning", "container app-db-1"),
        ("postgres.memory_ok", "ok", "native"),
        ("postgres.memory_ok", "ok", "container app-db-1"),
        ("postgres.connections_ok", "ok", "native"),
        ("postgres.connections_ok", "ok", "container app-db-1"),
    ]


def test_the_facts_are_not_modified():
    facts = host(("native", PG15), ("container app-db-1", PG17))
    before = copy.deepcopy(facts)
    build_findings(facts)
    assert facts == before


# --------------------------------------------------------------------------------------------- availability


def test_no_postgres_key_or_an_empty_list_says_nothing():
    for facts in ({"swap": load("swap_healthy"), "disk": load("disk_healthy")}, host()):
        findings = build_findings(facts)
        assert not pg_ids(findings)
        assert "facts.postgres_unavailable" not in ids(findings)


def test_postgres_null_means_the_audit_could_not_collect():
    facts = host()
    facts["postgres"] = None
    assert one(build_findings(facts), "facts.postgres_unavailable")["severity"] == "info"


@pytest.mark.parametrize("code", ["psql_missing", "os_user_missing"])
def test_a_host_without_postgresql_gets_no_finding(code):
    assert not pg_ids(build_findings(host(("native", unavailable(code)))))


def test_installed_but_stopped_postgresql_is_info():
    item = one(build_findings(host(("native", unavailable("not_running", "no socket")))), "postgres.unavailable")
    assert item["severity"] == "info"
    assert item["title"] == "PostgreSQL (native) is installed but not running"
    assert item["evidence"]["reason_code"] == "not_running"
    assert "no socket" in item["summary"]
    assert "systemctl status postgresql" in item["recommendation"]


@pytest.mark.parametrize("label, code, severity, title, hint", [
    ("container app-db-1", "psql_missing", "info", "PostgreSQL (container app-db-1) not checked: psql_missing",
     "audit_postgres_image_patterns"),
    ("container app-db-1", "not_running", "info", "PostgreSQL (container app-db-1) not checked: not_running",
     "systemctl status"),
    ("native", "permission_denied", "info", "PostgreSQL (native) not checked: permission_denied", "--become"),
    ("tcp app@db:5432", "auth_failed", "info", "PostgreSQL (tcp app@db:5432) not checked: auth_failed",
     "audit_postgres_connections"),
    ("native", "too_many_connections", "warning", "PostgreSQL (native) not checked: too_many_connections",
     "PgBouncer"),
    ("native", "timeout", "info", "PostgreSQL (native) not checked: timeout", "hung"),
])
def test_unavailable_instances(label, code, severity, title, hint):
    item = one(build_findings(host((label, unavailable(code, "the reason")))), "postgres.unavailable")
    assert (item["severity"], item["title"]) == (severity, title)
    assert hint in item["recommendation"]
    assert item["evidence"]["instance"] == label
    assert not [i for i in pg_ids(build_findings(host((label, unavailable(code))))) if i != "postgres.unavailable"]


def test_a_failed_module_call_is_reported_with_its_error():
    facts = host({"label": "tcp monitor@db:5432", "facts": None,
                  "error": "parameters are mutually exclusive: uri|host"})
    item = one(build_findings(facts), "postgres.unavailable")
    assert item["title"] == "PostgreSQL (tcp monitor@db:5432) not checked: hostcare.vps.pg_settings_facts failed"
    assert "mutually exclusive" in item["summary"]


def test_junk_instances_never_crash():
    facts = host("junk", {"label": None, "facts": {"available": True, "settings": "x", "connections": [1]}},
                 {"label": "x", "facts": {"available": True, "settings": {"shared_buffers": None},
                                          "pending_restart_settings": [None, 3], "connections": {"total": "4"}}})
    assert "audit.rule_failed" not in ids(build_findings(facts))


# --------------------------------------------------------------------------------------------- memory defaults


@pytest.mark.parametrize("ram, expected", [
    (2 * GIB - 1, "postgres.memory_defaults_ok"),
    (2 * GIB, "postgres.memory_defaults"),
    (23 * GIB, "postgres.memory_defaults"),
])
def test_memory_defaults_from_two_gib_on(ram, expected):
    findings = build_findings(host(("native", PG17), ram=ram))
    assert expected in pg_ids(findings)
    assert len([i for i in pg_ids(findings) if i.startswith("postgres.memory_defaults")]) == 1


def test_memory_defaults_alter_system_lines():
    item = one(build_findings(host(("native", PG17), ram=16 * GIB)), "postgres.memory_defaults")
    assert item["severity"] == "warning" and item["risk"] == "caution"
    assert item["evidence"]["names"] == ["shared_buffers", "effective_cache_size", "maintenance_work_mem"]
    assert [(row["current"], row["recommended"]) for row in item["evidence"]["settings"]] == [
        ("128MB", "4GB"), ("4GB", "12GB"), ("64MB", "1GB")]
    command = item["fix"]["command"]
    assert ("sudo -u postgres psql -X -v ON_ERROR_STOP=1 <<'SQL'\n"
            "ALTER SYSTEM SET shared_buffers = '4GB';\n"
            "ALTER SYSTEM SET effective_cache_size = '12GB';\n"
            "ALTER SYSTEM SET maintenance_work_mem = '1GB';\n"
            "SELECT pg_reload_conf();\n"
            "SQL") in command
    assert "\n# sudo systemctl restart postgresql" in command  # the restart is left to a maintenance window
    assert "maintenance window" in item["recommendation"]
    assert item["title"] == ("PostgreSQL (native): shared_buffers, effective_cache_size, maintenance_work_mem "
                             "still at the defaults on 16.0 GiB RAM")


def test_a_setting_from_the_command_line_is_changed_there():
    facts = load(PG17)
    facts["settings"]["shared_buffers"]["source"] = "command line"
    item = one(build_findings(host(("container db", facts), ram=8 * GIB)), "postgres.memory_defaults")
    assert "shared_buffers is set on the server's command line" in item["recommendation"]


def test_configured_settings_are_not_defaults():
    # PG15 has shared_buffers 256MB: only the other two are at their defaults
    item = one(build_findings(host(("native", PG15), ram=8 * GIB)), "postgres.memory_defaults")
    assert item["evidence"]["names"] == ["effective_cache_size", "maintenance_work_mem"]
    assert "restart" not in item["fix"]["command"]


def test_all_tuned_is_ok():
    tuned = pg(shared_buffers=2 * GIB, effective_cache_size=6 * GIB, maintenance_work_mem=512 * MIB)
    item = one(build_findings(host(("native", tuned), ram=8 * GIB)), "postgres.memory_defaults_ok")
    assert item["severity"] == "ok"


@pytest.mark.parametrize("ram, flagged", [
    (16 * GIB // 3, False),                  # 75% is 4 GiB (4095 MB), effective_cache_size's default
    (int(4 * GIB * 1.1 / 0.75), False),      # recommended 10% above the default: left alone
    (int(4 * GIB * 1.1 / 0.75) + 8 * MIB, True),
    (int(4 * GIB * 0.9 / 0.75) - 8 * MIB, True),
])
def test_a_default_close_to_the_recommendation_is_not_flagged(ram, flagged):
    item = one(build_findings(host(("native", PG17), ram=ram)), "postgres.memory_defaults")
    assert ("effective_cache_size" in item["evidence"]["names"]) is flagged


def test_boot_value_counts_as_default():
    facts = pg(maintenance_work_mem=16 * MIB)
    facts["settings"]["maintenance_work_mem"]["boot_val"] = str(16 * 1024)  # an unusual build's default
    item = one(build_findings(host(("native", facts), ram=8 * GIB)), "postgres.memory_defaults")
    assert "maintenance_work_mem" in item["evidence"]["names"]


def test_ram_is_capped_by_the_container_limit():
    item = one(build_findings(host(("native", PG17), ram=32 * GIB, limit=4 * GIB)), "postgres.memory_defaults")
    assert item["evidence"]["ram_bytes"] == 4 * GIB
    assert item["evidence"]["ram_source"] == "container memory limit"
    assert item["evidence"]["settings"][0]["recommended"] == "1GB"


def test_instances_share_the_ram():
    findings = build_findings(host(("native", PG17), ("container app-db-1", PG17), ram=16 * GIB))
    items = all_of(findings, "postgres.memory_defaults")
    assert [item["evidence"]["instance"] for item in items] == ["native", "container app-db-1"]
    for item in items:
        assert item["evidence"]["ram_share_bytes"] == 8 * GIB
        assert item["evidence"]["settings"][0]["recommended"] == "2GB"
    assert items[1]["fix"]["command"].startswith(
        "# writes postgresql.auto.conf; the reload applies all but shared_buffers\n"
        "docker exec -i -u postgres app-db-1 psql -X -v ON_ERROR_STOP=1 <<'SQL'\n")
    assert items[1]["fix"]["command"].endswith("# docker restart app-db-1")


@pytest.mark.parametrize("ram, expected", [
    (4 * GIB, {"shared_buffers": 1 * GIB, "effective_cache_size": 3 * GIB, "maintenance_work_mem": 256 * MIB}),
    (16 * GIB, {"shared_buffers": 4 * GIB, "effective_cache_size": 12 * GIB, "maintenance_work_mem": 1 * GIB}),
    (64 * GIB, {"shared_buffers": 16 * GIB, "effective_cache_size": 48 * GIB, "maintenance_work_mem": 4 * GIB}),
    (4026531840, {"shared_buffers": 960 * MIB, "effective_cache_size": 2880 * MIB, "maintenance_work_mem": 240 * MIB}),
    (2 * GIB + 12345, {"shared_buffers": 524291 * 1024, "effective_cache_size": 1572873 * 1024,
                       "maintenance_work_mem": 128 * MIB}),     # PGTune works in whole kB
])
def test_recommend_settings_is_pgtune(ram, expected):
    plan = recommend_settings(load(PG17), ram)
    assert {name: plan["tune"]["values"][name] for name in expected} == expected
    assert plan["budget"]["source"] == "total" and plan["budget"]["bytes"] == ram


def test_recommend_settings_shares_and_keeps_the_server_facts():
    facts = load(PG17)
    plan = recommend_settings(facts, 16 * GIB, "MemTotal", instances=2)
    assert plan["budget"]["bytes"] == 8 * GIB and plan["budget"]["source"] == "memory_share"
    assert "divided among 2 PostgreSQL instances" in plan["budget"]["reason"]
    assert plan["tune"]["inputs"]["version"] == 17
    assert plan["tune"]["values"]["max_connections"] == int(facts["settings"]["max_connections"]["setting"])
    rows = recommended_settings(plan["diff"])
    assert rows["shared_buffers"] == {"current": "128MB", "recommended": "2GB", "restart": True, "change": "raise"}
    assert recommend_settings(facts, 1 * GIB, instances=4) is None      # 256MB each: below PGTune's 512MB


def test_memory_defaults_evidence_has_pgtune_next_to_current():
    item = one(build_findings(host(("native", PG17), ram=16 * GIB)), "postgres.memory_defaults")
    evidence = item["evidence"]
    assert evidence["budget"]["bytes"] == 16 * GIB and evidence["budget"]["source"] == "total"
    assert evidence["recommended_settings"]["effective_cache_size"]["recommended"] == "12GB"
    assert evidence["recommended_settings"]["shared_buffers"]["restart"] is True
    assert "work_mem" in evidence["recommended_settings"]
    assert evidence["memory_model"]["recommended"]["total_bytes"] > 0
    assert "budget of 16.0 GiB" in item["recommendation"]


@pytest.mark.parametrize("size, text", [(GIB, "1GB"), (3 * GIB, "3GB"), (960 * MIB, "960MB"), (1536 * MIB, "1536MB"),
                                        (1, "1MB"), (GIB + 1, "1024MB")])
def test_pg_size(size, text):
    assert pg_size(size) == text


# --------------------------------------------------------------------------------------------- memory model


def test_memory_model_of_the_recorded_server():
    model = memory_model(load(PG15), 1.5)
    # 256MB + 100 x 8MB x 1.5 + 3 x 64MB (autovacuum_work_mem is -1)
    assert model["total_bytes"] == 256 * MIB + 1200 * MIB + 192 * MIB
    assert model["autovacuum_work_mem_from"] == "maintenance_work_mem"


def test_autovacuum_work_mem_is_used_when_set():
    model = memory_model(pg(autovacuum_work_mem=256 * MIB), 1.5)
    assert model["autovacuum_work_mem_from"] == "autovacuum_work_mem"
    assert model["autovacuum_memory_bytes"] == 3 * 256 * MIB


def model_facts(total):
    """PG17 settings whose model is exactly ``total``: shared_buffers = total - 100 x 4MB x 1.5 - 3 x 64MB."""
    return pg(work_mem=4 * MIB, shared_buffers=total - 600 * MIB - 192 * MIB)


@pytest.mark.parametrize("percent, expected, severity", [
    (74.9, "postgres.memory_ok", "ok"),
    (75.0, "postgres.memory_overcommit", "warning"),
    (89.9, "postgres.memory_overcommit", "warning"),
    (90.0, "postgres.memory_overcommit", "critical"),
    (130.0, "postgres.memory_overcommit", "critical"),
])
def test_memory_model_thresholds(percent, expected, severity):
    ram = 10 * GIB
    model = int(ram * percent / 100) // 8192 * 8192 + (8192 if percent in (75.0, 90.0) else 0)
    item = one(build_findings(host(("native", model_facts(model)), ram=ram)), expected)
    assert item["severity"] == severity
    assert item["evidence"]["model_bytes"] == model
    assert item["evidence"]["model_percent"] == pytest.approx(percent, abs=0.05)


def test_memory_model_evidence_and_work_mem_fix():
    facts = pg(work_mem=40 * MIB, shared_buffers=1 * GIB)     # 1GB + 100 x 40MB x 1.5 + 192MB = 7216 MiB, 88.1%
    item = one(build_findings(host(("native", facts), ram=8 * GIB)), "postgres.memory_overcommit")
    evidence = item["evidence"]
    assert item["severity"] == "warning"
    assert evidence["model_bytes"] == 1 * GIB + 6000 * MIB + 192 * MIB
    assert evidence["model_percent"] == 88.1
    assert evidence["max_connections"] == 100
    assert (evidence["work_mem_bytes"], evidence["work_mem_factor"]) == (40 * MIB, 1.5)
    assert evidence["connections_work_mem_bytes"] == 6000 * MIB
    assert evidence["autovacuum_memory_bytes"] == 192 * MIB
    assert evidence["ram_bytes"] == 8 * GIB
    # (8 GiB x 75% - 1 GiB - 192 MiB) / 150 = 32.85 MiB, minus 1 MiB of margin, in whole MB
    assert evidence["proposed_work_mem_bytes"] == 31 * MIB
    assert "ALTER SYSTEM SET work_mem = '31MB';" in item["fix"]["command"]
    assert item["risk"] == "caution"


def test_memory_model_without_a_useful_work_mem_fix():
    facts = pg(work_mem=4 * MIB, shared_buffers=7 * GIB)
    item = one(build_findings(host(("native", facts), ram=8 * GIB)), "postgres.memory_overcommit")
    assert item["severity"] == "critical"
    assert "ALTER SYSTEM" not in item["fix"]["command"]
    assert item["risk"] == "safe"
    assert "PgBouncer" in item["recommendation"]


def test_work_mem_factor_and_thresholds_are_configurable():
    facts = host(("native", PG15), ram=4 * GIB)  # 1648 MiB = 40.2%
    assert "postgres.memory_ok" in pg_ids(build_findings(facts))
    lower = {"postgres_memory_warning_percent": 40}
    assert "postgres.memory_overcommit" in pg_ids(build_findings(facts, thresholds=lower))
    assert "postgres.memory_overcommit" in pg_ids(build_findings(facts, thresholds={"postgres_work_mem_factor": 3.5}))


def test_memory_unknown_without_ram_or_settings():
    facts = host(("native", PG15))
    facts["swap"] = None
    assert one(build_findings(facts), "postgres.memory_unknown")["severity"] == "info"
    hidden = load(PG15)
    del hidden["settings"]["work_mem"]
    assert "postgres.memory_unknown" in pg_ids(build_findings(host(("native", hidden))))


def test_combined_instances_only_when_worse_than_each():
    small = model_facts(4 * GIB)                                  # 40% of 10 GiB each
    findings = build_findings(host(("native", small), ("container db", small), ram=10 * GIB))
    combined = [f for f in all_of(findings, "postgres.memory_overcommit") if "+" in f["evidence"]["instance"]]
    assert len(combined) == 1 and combined[0]["severity"] == "warning"
    assert combined[0]["evidence"]["model_percent"] == 80.0
    assert [row["instance"] for row in combined[0]["evidence"]["instances"]] == ["native", "container db"]
    tiny = model_facts(2 * GIB)
    assert "postgres.memory_overcommit" not in pg_ids(build_findings(host(("native", tiny), ("container db", tiny),
                                                                          ram=10 * GIB)))
    big = model_facts(8 * GIB)                                    # already warning alone, 120% together: critical
    findings = build_findings(host(("native", big), ("container db", tiny), ram=10 * GIB))
    assert [f["severity"] for f in all_of(findings, "postgres.memory_overcommit")] == ["critical", "warning"]


# --------------------------------------------------------------------------------------------- connections


def with_connections(total, maximum=100):
    facts = load(PG17)
    facts["connections"].update({"total": total, "max": maximum,
                                 "in_use_percent": round(total * 100.0 / maximum, 1)})
    return facts


@pytest.mark.parametrize("total, maximum, expected, severity", [
    (69, 100, "postgres.connections_ok", "ok"),
    (699, 1000, "postgres.connections_ok", "ok"),
    (70, 100, "postgres.connections_high", "warning"),
    (89, 100, "postgres.connections_high", "warning"),
    (90, 100, "postgres.connections_high", "critical"),
    (100, 100, "postgres.connections_high", "critical"),
])
def test_connection_thresholds(total, maximum, expected, severity):
    item = one(build_findings(host(("container app-db-1", with_connections(total, maximum)))), expected)
    assert item["severity"] == severity
    assert (item["evidence"]["in_use"], item["evidence"]["max_connections"]) == (total, maximum)


def test_connections_high_lists_who_and_a_read_only_query():
    facts = with_connections(80)
    facts["connections"]["by_state"]["idle_in_transaction"] = 12
    item = one(build_findings(host(("container app-db-1", facts))), "postgres.connections_high")
    assert item["risk"] == "safe"
    assert "12 sessions sit idle in a transaction" in item["recommendation"]
    assert item["evidence"]["by_database_user"] == [{"database": "appdb", "user": "app", "count": 1}]
    assert item["fix"]["command"].startswith("docker exec -i -u postgres app-db-1 psql -X -v ON_ERROR_STOP=1 <<'SQL'\n"
                                             "SELECT datname, usename")


def test_connection_thresholds_are_configurable():
    facts = host(("native", with_connections(50)))
    found = build_findings(facts, thresholds={"postgres_connections_warning_percent": 40,
                                              "postgres_connections_critical_percent": 50})
    assert one(found, "postgres.connections_high")["severity"] == "critical"


# --------------------------------------------------------------------------------------------- pending restart


def test_pending_restart_names_the_settings():
    findings = build_findings(host(("native", PG15), ("container app-db-1", PG17)))
    native, container = all_of(findings, "postgres.pending_restart")
    assert native["evidence"]["settings"] == ["shared_buffers"]
    assert native["evidence"]["running_values"] == [{"name": "shared_buffers", "running_value": "256MB",
                                                     "context": "postmaster"}]
    assert native["title"] == "PostgreSQL (native): 1 setting waiting for a restart: shared_buffers"
    assert native["severity"] == "warning" and native["risk"] == "caution"
    assert "pg_file_settings WHERE name IN ('shared_buffers')" in native["fix"]["command"]
    # the restart is the user's, in a maintenance window: a comment, never run by pasting the block
    assert native["fix"]["command"].splitlines()[-1].startswith("#   sudo systemctl restart postgresql")
    assert "maintenance window" in native["recommendation"]
    assert container["evidence"]["settings"] == ["max_connections"]
    assert container["fix"]["command"].endswith("\n#   docker restart app-db-1")
    for item in (native, container):
        assert not [line for line in item["fix"]["command"].splitlines() if "restart" in line and not line.startswith("#")]


def test_nothing_pending_no_finding():
    facts = load(PG17)
    facts["pending_restart_settings"] = []
    assert "postgres.pending_restart" not in pg_ids(build_findings(host(("native", facts))))


# --------------------------------------------------------------------------------------------- psql commands


@pytest.mark.parametrize("connection, expected", [
    ({"method": "local_socket"}, "sudo -u postgres psql -X"),
    ({"method": "local_socket", "os_user": "pgsql", "port": 5433}, "sudo -u pgsql psql -X -p 5433"),
    ({"method": "docker", "container": "app-db-1"}, "docker exec -i -u postgres app-db-1 psql -X"),
    ({"method": "docker", "container": "db", "docker_user": "999", "user": "app", "dbname": "app"},
     "docker exec -i -u 999 db psql -X -U app -d app"),
    ({"method": "tcp", "host": "db.internal", "port": 5432, "user": "app", "dbname": "postgres"},
     "psql -X -h db.internal -U app"),
    ({"method": "tcp", "host": "db", "port": "6432", "user": "o'brien"}, "psql -X -h db -p 6432 -U 'o'\"'\"'brien'"),
    ({}, "psql -X"),
])
def test_psql_command(connection, expected):
    assert psql_command(connection) == expected


def test_the_connection_is_taken_from_the_label_when_not_given():
    facts = host(("container app-db-1", PG17), ram=8 * GIB)
    item = one(build_findings(facts), "postgres.memory_defaults")
    assert "docker exec -i -u postgres app-db-1 psql" in item["fix"]["command"]


def test_no_password_ever_reaches_a_command_or_the_evidence():
    facts = host({"label": "tcp app@db:5432", "facts": load(PG15_APP),
                  "connection": {"method": "tcp", "host": "db", "user": "app", "password": "s3cret"}}, ram=8 * GIB)
    assert "s3cret" not in json.dumps(build_findings(facts))


# --------------------------------------------------------------------------------------------- discovery


def docker_with(*containers, images=()):
    return {"available": True, "images": list(images),
            "containers": [{"name": name, "image": image, "image_id": image_id, "state": state,
                            "running": state == "running"} for name, image, image_id, state in containers]}


@pytest.mark.parametrize("reference, matches", [
    ("postgres:15", True),
    ("postgres", True),
    ("docker.io/library/postgres:16-alpine", True),
    ("postgres@sha256:" + "a" * 64, True),
    ("registry:5000/team/postgres:15", True),
    ("bitnami/postgresql:16", True),
    ("supabase/postgres:15.1.0.147", True),
    ("postgis/postgis:16-3.4", True),
    ("timescale/timescaledb:latest-pg16", True),
    ("timescale/timescaledb-ha:pg16", True),
    ("pgvector/pgvector:pg16", True),
    ("PostGres:15", True),
    ("prometheuscommunity/postgres-exporter:v0.15.0", False),
    ("postgrest/postgrest:v12", False),
    ("edoburu/pgbouncer", False),
    ("app:v1", False),
])
def test_default_image_patterns(reference, matches):
    targets = postgres_targets(docker_with(("db", reference, "sha256:1", "running")))
    assert (targets[1:] == [{"label": "container db", "method": "docker", "container": "db"}]) is matches
    assert targets[0] == {"label": "native", "method": "local_socket"}


def test_only_running_containers_are_asked():
    docker = docker_with(("a", "postgres:15", "sha256:1", "running"), ("b", "postgres:15", "sha256:1", "exited"),
                         ("c", "postgres:15", "sha256:1", "paused"), ("d", "postgres:15", "sha256:1", "restarting"))
    assert [t["label"] for t in postgres_targets(docker)] == ["native", "container a"]


def test_a_container_created_from_an_image_id_matches_by_the_image_tags():
    docker = docker_with(("db", "sha256:77", "sha256:77", "running"),
                         images=[{"id": "sha256:77", "repo_tags": ["postgres:16"]}])
    assert [t["label"] for t in postgres_targets(docker)] == ["native", "container db"]


def test_custom_patterns_and_no_native():
    docker = docker_with(("db", "acme/db:3", "sha256:1", "running"), ("pg", "postgres:15", "sha256:2", "running"))
    assert postgres_targets(docker, patterns=["^db$"], native=False) == [
        {"label": "container db", "method": "docker", "container": "db"}]


def test_a_container_given_in_the_connections_is_asked_there_only():
    docker = docker_with(("db", "postgres:15", "sha256:1", "running"), ("db2", "postgres:16", "sha256:2", "running"))
    targets = postgres_targets(docker, connections=[{"container": "db", "user": "app"}, "junk", {"host": "x"}])
    assert [t["label"] for t in targets] == ["native", "container db2"]


@pytest.mark.parametrize("docker", [None, {"available": False, "reason_code": "not_installed"}, {}])
def test_without_docker_only_native(docker):
    assert postgres_targets(docker) == [{"label": "native", "method": "local_socket"}]


def test_image_name():
    assert image_name("docker.io/library/postgres:16-alpine@sha256:abc") == "postgres"
    assert image_name("localhost:5000/postgis/postgis") == "postgis"
    assert DEFAULT_POSTGRES_IMAGE_PATTERNS[0] == "^postgres(ql)?$"


def test_instances_from_loop_results():
    facts = load(PG15)
    results = [
        {"item": {"label": "native", "method": "local_socket"}, "ansible_facts": {"hostcare_postgres": facts},
         "changed": False},
        {"item": {"label": "container db", "method": "docker", "container": "db"}, "failed": True,
         "msg": "boom"},
        {"item": {"host": "db.internal", "port": 5433, "user": "app", "password": "s3cret", "dbname": "app"},
         "ansible_facts": {"hostcare_postgres": facts}},
        {"item": {"uri": "postgresql://monitor:s%40cret@10.0.0.5:6543/app?sslmode=require"},
         "ansible_facts": {"hostcare_postgres": facts}},
        {"item": {"container": "other", "user": "app"}, "ansible_facts": {"hostcare_postgres": facts}},
        {"item": {"label": "skipped"}, "skipped": True},
        "junk",
    ]
    instances = postgres_instances_from_results(results)
    assert [(i["label"], i["error"]) for i in instances] == [
        ("native", None), ("container db", "boom"), ("tcp app@db.internal:5433/app", None),
        ("tcp monitor@10.0.0.5:6543/app", None), ("container other", None)]
    assert instances[0]["facts"] is facts and instances[1]["facts"] is None
    assert instances[2]["connection"] == {"host": "db.internal", "port": 5433, "user": "app", "dbname": "app"}
    assert instances[3]["connection"] == {"method": "tcp", "host": "10.0.0.5", "port": 6543, "user": "monitor",
                                          "dbname": "app"}
    text = json.dumps(instances)
    assert "s3cret" not in text and "s%40cret" not in text and "s@cret" not in text


# --------------------------------------------------------------------------------------------- apps (audit_apps)


def apps_host(apps, cpu_count=4, ram=23 * GIB):
    facts = host(("native", load(PG17)), ram=ram)
    facts["apps"] = apps
    if cpu_count is not None:
        facts["cpu_count"] = cpu_count
    return facts


def test_apps_absent_gives_nothing():
    assert not [i for i in ids(build_findings(host(("native", PG17)))) if i.startswith("apps.")]


def test_apps_pool_cluster_total_in_db_pool():
    # the reference's audit case: 4 workers x 8 threads, DB_POOL=52
    app = {"name": "shop", "workers": 4, "threads": 8, "db_pool": 52, "sidekiq_concurrency": 15,
           "reserved_mb": 7680, "per_worker_rss_mb": 1024, "sidekiq_rss_mb": 1536}
    item = one(build_findings(apps_host([app])), "apps.pool")
    assert item["severity"] == "warning"
    evidence = item["evidence"]
    assert evidence["app"] == "shop" and evidence["pg_max_connections"] == 100
    assert evidence["connections"]["ceiling"] == 260 and evidence["connections"]["expected_peak"] == 47
    assert evidence["recommended"]["db_pool_web"] == 3 and evidence["recommended"]["rails_max_threads"] == 3
    assert "DB_POOL=3" in item["recommendation"]


def test_apps_pool_counts_the_other_apps_and_reports_errors():
    apps = [{"name": "a", "workers": 4, "threads": 3, "db_pool": 3, "sidekiq_concurrency": 5, "db_pool_sidekiq": 5},
            {"name": "b", "workers": 4, "threads": 5, "db_pool": 40, "sidekiq_processes": 0}]
    findings = build_findings(apps_host(apps))
    by_app = {f["evidence"]["app"]: f for f in findings if f["id"].startswith("apps.")}
    assert by_app["a"]["evidence"]["other_apps_ceiling"] == 160
    assert by_app["a"]["severity"] == "critical"       # 17 + 160 others > 100 - 3 - 5
    assert by_app["b"]["evidence"]["other_apps_ceiling"] == 17


def test_apps_pool_ok_and_bad_entries():
    ok = {"name": "small", "workers": 2, "threads": 3, "db_pool": 3, "sidekiq_concurrency": 5, "db_pool_sidekiq": 5}
    bad = {"name": "typo", "workers": 2, "treads": 3}
    findings = build_findings(apps_host([ok, bad]))
    assert one(findings, "apps.pool_ok")["evidence"]["app"] == "small"
    item = one(findings, "apps.pool")
    assert item["severity"] == "info" and "treads" in item["summary"]
    item = one(build_findings(apps_host([ok], cpu_count=None)), "apps.pool")
    assert "cpu_count: required" in item["summary"]
