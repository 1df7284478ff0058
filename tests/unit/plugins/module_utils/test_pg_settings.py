# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _pg_settings as plan
from ansible_collections.hostcare.vps.plugins.module_utils import _pg_settings_run as run
from ansible_collections.hostcare.vps.plugins.module_utils._pg_settings import SettingError
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError


def _row(setting, unit=None, vartype="integer", context="user", min_val=None, max_val=None, enumvals=None,
         boot_val=None, pretty=None, source="default", pending=False):
    return {"setting": setting, "unit": unit, "vartype": vartype, "context": context, "source": source,
            "boot_val": boot_val if boot_val is not None else setting, "reset_val": setting, "min_val": min_val,
            "max_val": max_val, "enumvals": enumvals, "pending_restart": pending,
            "pretty_val": pretty if pretty is not None else setting}


# pg_settings rows of a PostgreSQL 15 at its defaults (Debian's initdb: shared_buffers 128MB), as the server has them.
ROWS = {
    "shared_buffers": _row("16384", "8kB", context="postmaster", min_val="16", max_val="1073741823", boot_val="1024",
                           pretty="128MB", source="configuration file"),
    "work_mem": _row("4096", "kB", min_val="64", max_val="2147483647", pretty="4MB"),
    "maintenance_work_mem": _row("65536", "kB", min_val="1024", max_val="2147483647", pretty="64MB"),
    "autovacuum_work_mem": _row("-1", "kB", context="sighup", min_val="-1", max_val="2147483647", pretty="-1"),
    "autovacuum_max_workers": _row("3", context="postmaster", min_val="1", max_val="262143"),
    "max_connections": _row("100", context="postmaster", min_val="1", max_val="262143",
                            source="configuration file"),
    "effective_cache_size": _row("524288", "8kB", min_val="1", max_val="2147483647", pretty="4GB"),
    "checkpoint_timeout": _row("300", "s", context="sighup", min_val="30", max_val="86400", pretty="5min"),
    "random_page_cost": _row("4", vartype="real", min_val="0", max_val="1.79769e+308"),
    "checkpoint_completion_target": _row("0.9", vartype="real", context="sighup", min_val="0", max_val="1"),
    "jit": _row("on", vartype="bool"),
    "huge_pages": _row("try", vartype="enum", context="postmaster", enumvals=["off", "on", "try"]),
    "wal_level": _row("replica", vartype="enum", context="postmaster", enumvals=["minimal", "replica", "logical"]),
    "wal_compression": _row("off", vartype="enum", context="superuser",
                            enumvals=["pglz", "lz4", "zstd", "on", "off"]),
    "block_size": _row("8192", context="internal", min_val="8192", max_val="8192"),
    "data_directory": _row("/var/lib/postgresql/15/main", vartype="string", context="postmaster"),
    "application_name": _row("", vartype="string"),
    "port": _row("5432", context="postmaster", min_val="1", max_val="65535", source="command line"),
}


# --- values ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("1GB", 131072), ("128MB", 16384), ("16384", 16384), (16384, 16384), ("1.5GB", 196608), (" 256MB ", 32768),
])
def test_memory_values_parse_like_postgresql(value, expected):
    assert plan.parse_value("shared_buffers", value, ROWS["shared_buffers"])[0] == expected


@pytest.mark.parametrize("value, expected", [("8kB", 1), ("12kB", 2), ("20kB", 2), ("4GB", 524288)])
def test_unit_conversions_round_to_nearest_even_like_rint(value, expected):
    assert plan.parse_value("effective_cache_size", value, ROWS["effective_cache_size"])[0] == expected


@pytest.mark.parametrize("value, expected", [("5min", 300), ("300", 300), ("1h", 3600), ("30s", 30), ("1d", 86400)])
def test_time_values_parse_like_postgresql(value, expected):
    assert plan.parse_value("checkpoint_timeout", value, ROWS["checkpoint_timeout"])[0] == expected


@pytest.mark.parametrize("name, value, message", [
    ("shared_buffers", "1XB", "unit 'XB' in '1XB' is not valid; allowed units: one of B, kB, MB, GB, TB"),
    ("shared_buffers", "1gb", "unit 'gb'"),  # units are case-sensitive in PostgreSQL
    ("shared_buffers", "64kB", "outside the server's range from 16 to 1073741823 8kB"),
    ("shared_buffers", "9TB", "outside the server's range"),
    ("work_mem", "1kB", "outside the server's range from 64 to 2147483647 kB"),
    ("work_mem", "1.5", "is not a whole number of kB"),
    ("work_mem", "lots", "is not a whole number"),
    ("work_mem", True, "is not a number"),
    ("work_mem", "nan", "is not a whole number"),
    ("checkpoint_timeout", "5MB", "unit 'MB' in '5MB' is not valid; allowed units: one of us, ms, s, min, h, d"),
    ("checkpoint_timeout", "10", "outside the server's range from 30 to 86400 s"),
    ("max_connections", "100MB", "none (this setting has no unit)"),
    ("checkpoint_completion_target", "1.5", "outside the server's range from 0 to 1"),
    ("jit", "maybe", "is not a boolean; allowed: on, off"),
    ("wal_level", "fast", "is not allowed; the server accepts minimal, replica, logical"),
    ("huge_pages", "yes please", "the server accepts off, on, try"),
    ("application_name", "a\nb", "without control characters"),
    ("application_name", "x" * 2000, "at most 1024 characters"),
    ("work_mem", None, "a value is required"),
    ("work_mem", ["4MB"], "must be a single line"),
])
def test_bad_values_are_refused_naming_setting_value_and_range(name, value, message):
    with pytest.raises(SettingError) as error:
        plan.parse_value(name, value, ROWS[name])
    assert message in str(error.value)
    assert f"settings.{name}" in str(error.value)


@pytest.mark.parametrize("name, value, expected", [
    ("jit", "OFF", "off"), ("jit", False, "off"), ("jit", "true", "on"), ("jit", 1, "on"),
    ("huge_pages", "TRY", "try"), ("wal_compression", "lz4", "lz4"), ("random_page_cost", "1.1", 1.1),
    ("application_name", "it's", "it's"),
])
def test_other_types_normalise(name, value, expected):
    assert plan.parse_value(name, value, ROWS[name])[0] == expected


def test_quote_literal_doubles_quotes():
    assert plan.quote_literal("it's") == "'it''s'"
    change = {"name": "application_name", "write": "x'; DROP TABLE t; --"}
    assert plan.statements_for([change]) == ["ALTER SYSTEM SET application_name = 'x''; DROP TABLE t; --'"]


# --- names -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    ({"nosuch": 1}, "'nosuch' is not a setting of this server"),
    ({"shared_buffer": "1GB"}, "did you mean shared_buffers"),
    ({"Shared_Buffers": "1GB"}, "is not a PostgreSQL setting name"),
    ({"work_mem; drop": "1MB"}, "is not a PostgreSQL setting name"),
    ({"block_size": 8192}, "block_size cannot be set with ALTER SYSTEM"),
    ({"data_directory": "/tmp"}, "data_directory cannot be set with ALTER SYSTEM"),
    ({"port": 5433}, "set on the server's command line"),
    (["work_mem"], "must be a dict"),
])
def test_names_are_checked_against_the_server(settings, message):
    with pytest.raises(SettingError) as error:
        plan.plan_changes(settings, ROWS, {})
    assert message in str(error.value)


def test_one_bad_setting_refuses_all():
    with pytest.raises(SettingError):
        plan.plan_changes({"work_mem": "16MB", "nosuch": 1}, ROWS, {})


# --- planning --------------------------------------------------------------------------------------------------

def test_plan_lists_what_differs_with_reload_or_restart():
    changes = plan.plan_changes({"shared_buffers": "1GB", "work_mem": "4MB", "jit": "off"}, ROWS, {})
    assert changes == [
        {"name": "shared_buffers", "current": "128MB", "new": "1GB", "write": "1GB", "apply": "restart"},
        {"name": "jit", "current": "on", "new": "off", "write": "off", "apply": "reload"},
    ]


def test_plan_compares_with_postgresql_auto_conf_so_a_pending_value_is_not_rewritten():
    # shared_buffers written before, pending a restart: the live value is still 128MB.
    assert plan.plan_changes({"shared_buffers": "1024MB"}, ROWS, {"shared_buffers": "1GB"}) == []
    changes = plan.plan_changes({"shared_buffers": "2GB"}, ROWS, {"shared_buffers": "1GB"})
    assert changes[0]["current"] == "1GB"


def test_pending_prediction():
    changes = plan.plan_changes({"shared_buffers": "1GB", "work_mem": "8MB"}, ROWS, {})
    assert plan.predict_pending(ROWS, changes) == ["shared_buffers"]
    back = plan.plan_changes({"shared_buffers": "128MB"}, ROWS, {"shared_buffers": "1GB"})
    rows = dict(ROWS, shared_buffers=dict(ROWS["shared_buffers"], pending_restart=True))
    assert plan.predict_pending(rows, back) == []  # written back to the live value: nothing left pending


def test_budget_uses_the_one_memory_model():
    changes = plan.plan_changes({"shared_buffers": "1GB", "work_mem": "16MB"}, ROWS, {})
    model = plan.check_budget(ROWS, changes, 8 * 1024 ** 3)
    # 1 GiB + 100 x 16 MiB x 1.5 + 3 x 64 MiB (maintenance_work_mem, autovacuum_work_mem is -1)
    assert model["total_bytes"] == 1024 ** 3 + 100 * 16 * 1024 ** 2 * 3 // 2 + 3 * 64 * 1024 ** 2
    with pytest.raises(SettingError) as error:
        plan.check_budget(ROWS, changes, 2 * 1024 ** 3)
    assert "above the memory budget of 2.0 GiB (memory_budget)" in str(error.value)


def test_huge_pages_on_needs_enough_huge_pages():
    changes = plan.plan_changes({"huge_pages": "on", "shared_buffers": "1GB"}, ROWS, {})
    with pytest.raises(SettingError, match="kernel has none"):
        plan.check_huge_pages(ROWS, changes, {"HugePages_Total": 0, "Hugepagesize": 2 * 1024 ** 2})
    with pytest.raises(SettingError, match="needs at least 1.0 GiB of huge pages"):
        plan.check_huge_pages(ROWS, changes, {"HugePages_Total": 100, "Hugepagesize": 2 * 1024 ** 2})
    plan.check_huge_pages(ROWS, changes, {"HugePages_Total": 600, "Hugepagesize": 2 * 1024 ** 2})
    try_pages = plan.plan_changes({"huge_pages": "try"}, dict(ROWS, huge_pages=_row(
        "off", vartype="enum", context="postmaster", enumvals=["off", "on", "try"])), {})
    plan.check_huge_pages(ROWS, try_pages, {})  # try never refuses


# --- revert ----------------------------------------------------------------------------------------------------

def test_state_keeps_the_value_before_the_first_change():
    first = plan.state_entries([{"name": "work_mem"}], {}, {})
    assert first == {"work_mem": None}
    second = plan.state_entries([{"name": "work_mem"}, {"name": "jit"}], {"work_mem": "16MB", "jit": "off"}, first)
    assert second == {"work_mem": None, "jit": "off"}


def test_revert_resets_what_was_not_set_and_restores_what_was():
    saved = {"work_mem": None, "jit": "off", "shared_buffers": None}
    auto = {"work_mem": "16MB", "jit": "on", "shared_buffers": "1GB"}
    changes = plan.revert_changes(saved, ROWS, auto, {"shared_buffers": "128MB"})
    assert [(c["name"], c["write"], c["new"], c["apply"]) for c in changes] == [
        ("work_mem", None, "4MB", "reload"), ("jit", "off", "off", "reload"),
        ("shared_buffers", None, "128MB", "restart")]
    assert plan.statements_for(changes) == ["ALTER SYSTEM RESET work_mem", "ALTER SYSTEM SET jit = 'off'",
                                            "ALTER SYSTEM RESET shared_buffers"]
    assert plan.revert_changes(saved, ROWS, {"jit": "off"}) == []


# --- restart gating --------------------------------------------------------------------------------------------

def test_restart_gating():
    assert plan.restart_decision("never", ["shared_buffers"], 50, 10, False, "local_socket") == (False, "restart=never")
    assert plan.restart_decision("if_needed", [], 50, 10, False, "docker") == (False, "nothing pending")
    assert plan.restart_decision("if_needed", ["shared_buffers"], 3, 10, False, "docker")[0] is True
    with pytest.raises(SettingError, match="12 client connections are open, more than restart_max_connections"):
        plan.restart_decision("if_needed", ["shared_buffers"], 12, 10, False, "local_socket")
    assert plan.restart_decision("if_needed", ["shared_buffers"], 12, 10, True, "local_socket")[0] is True
    with pytest.raises(SettingError, match="cannot restart a server reached over TCP"):
        plan.restart_decision("if_needed", ["shared_buffers"], 0, 10, False, "tcp")


# --- reload and restart: through the cluster's systemd unit, pg_reload_conf(), pg_ctlcluster, docker ------------

@pytest.mark.parametrize("method, cluster, systemd, unit_state, expected", [
    # The host's cluster run by systemd: systemctl reload / restart of its unit.
    ("local_socket", "15/main", True, "active", ("systemd", "systemd", "postgresql@15-main")),
    ("local_socket", "17/main", True, "active", ("systemd", "systemd", "postgresql@17-main")),
    ("local_socket", "16/my-db", True, "reloading", ("systemd", "systemd", "postgresql@16-my-db")),
    # Started by hand outside its unit on a systemd host: systemctl restart would wrap the running postmaster.
    ("local_socket", "15/main", True, "inactive", ("pg_reload_conf", "pg_ctlcluster", None)),
    ("local_socket", "15/main", True, None, ("pg_reload_conf", "pg_ctlcluster", None)),
    # No systemd (a container without an init system, sysvinit).
    ("local_socket", "15/main", False, None, ("pg_reload_conf", "pg_ctlcluster", None)),
    ("local_socket", "15/main", False, "active", ("pg_reload_conf", "pg_ctlcluster", None)),
    # No Debian cluster name: reload by SQL, no way to restart.
    ("local_socket", "", True, "active", ("pg_reload_conf", None, None)),
    ("local_socket", "main", True, "active", ("pg_reload_conf", None, None)),
    ("local_socket", "x/main", True, "active", ("pg_reload_conf", None, None)),
    ("local_socket", "15/Main;rm", True, "active", ("pg_reload_conf", None, None)),
    # A container: its own PostgreSQL, whatever runs the host; over TCP: maybe another host.
    ("docker", "15/main", True, "active", ("pg_reload_conf", "docker", None)),
    ("tcp", "15/main", True, "active", ("pg_reload_conf", None, None)),
])
def test_server_control_uses_the_unit_only_when_systemd_runs_the_host_cluster(method, cluster, systemd, unit_state,
                                                                              expected):
    control = plan.server_control(method, cluster, systemd, unit_state)
    assert (control["reload"], control["restart"], control["unit"]) == expected
    assert control["reason"]


def test_server_control_names_version_and_cluster_for_pg_ctlcluster():
    control = plan.server_control("local_socket", "17/main", False)
    assert (control["version"], control["name"], control["cluster"]) == ("17", "main", "17/main")
    assert "no systemd" in control["reason"]
    assert "inactive" in plan.server_control("local_socket", "15/main", True, "inactive")["reason"]


def test_restart_argv_follows_the_choice():
    connection = {"method": "local_socket", "container": None}
    environment = {"PATH": os.defpath}
    systemd = plan.server_control("local_socket", "17/main", True, "active")
    assert run.restart_argv(connection, systemd, environment)[-2:] == ["restart", "postgresql@17-main"]
    with pytest.raises(run.RunError, match="cannot tell the cluster to restart .cluster_name is 'main'.; set cluster"):
        run.restart_argv(connection, plan.server_control("local_socket", "main", True, "active"), environment)


def test_diff_text_names_reload_and_restart():
    changes = plan.plan_changes({"shared_buffers": "1GB", "jit": "off"}, ROWS, {})
    before, after = plan.diff_text(changes, ["shared_buffers"])
    assert before == "shared_buffers = 128MB\njit = on\n"
    assert after == "shared_buffers = 1GB  # restart\njit = off  # reload\n# pending restart: shared_buffers\n"


def test_instance_names():
    connection = {"method": "docker", "container": "app-db", "host": None, "port": 5432}
    assert plan.default_instance(connection) == "docker-app-db"
    assert plan.default_instance(dict(connection, method="local_socket"), "15/main") == "native-15-main"
    assert plan.default_instance(dict(connection, method="tcp", host="10.0.0.5")) == "tcp-10.0.0.5-5432"
    for bad in ("../etc", "a/b", "", ".hidden", "x" * 101):
        with pytest.raises(OptionError, match="instance"):
            plan.check_instance(bad)


def test_state_file_round_trip(tmp_path):
    path = os.path.join(str(tmp_path), "state", "native-15-main.json")
    assert run.load_state(path) is None
    run.save_state(path, "native-15-main", {"work_mem": None, "jit": "off"})
    assert run.load_state(path) == {"work_mem": None, "jit": "off"}
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(["not", "ours"], handle)
    with pytest.raises(run.RunError, match="not one this module wrote"):
        run.load_state(path)
