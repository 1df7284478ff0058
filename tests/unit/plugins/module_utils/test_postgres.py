# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _postgres as pg
from ansible_collections.hostcare.vps.plugins.module_utils._postgres import (
    FACTS_SQL,
    build_postgres_facts,
    buffer_cache_facts,
    connection_facts,
    connection_state_key,
    data_directory_of,
    docker_exec_arguments,
    du_arguments,
    gather_postgres_facts,
    measure_data_directory,
    parse_du_output,
    parse_facts_document,
    pg_control_system_identifier,
    plan_query,
    psql_arguments,
    psycopg_parameters,
    query_with_psql,
    query_with_psycopg,
    run_command,
    session_environment,
    settings_facts,
    sql_text_array,
    switch_user_arguments,
    unavailable_facts,
    version_facts,
)
from ansible_collections.hostcare.vps.plugins.module_utils._pg_units import memory_unit_bytes, setting_in_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import (
    classify_error,
    clean_message,
    redact,
    resolve_connection,
    secrets_of,
    split_uri_password,
)
from ansible_collections.hostcare.vps.plugins.module_utils._units import OptionError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "postgres")

# The parameters PGTune sets (le0pard/pgtune, postgresql.conf output order, 2026 generation).
PGTUNE_PARAMETERS = (
    "max_connections", "shared_buffers", "effective_cache_size", "maintenance_work_mem",
    "checkpoint_completion_target", "wal_buffers", "default_statistics_target", "random_page_cost",
    "effective_io_concurrency", "work_mem", "huge_pages", "jit", "wal_compression", "autovacuum_max_workers",
    "autovacuum_work_mem", "io_method", "io_workers", "min_wal_size", "max_wal_size", "max_worker_processes",
    "max_parallel_workers_per_gather", "max_parallel_workers", "max_parallel_maintenance_workers", "wal_level",
    "max_wal_senders",
)
PASSWORD = "S3cret-pw/with:odd@chars"


def _document(name):
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as handle:
        return parse_facts_document(handle.read())


def _errors():
    with open(os.path.join(FIXTURES, "errors.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _params(**overrides):
    params = {
        "method": "auto", "os_user": "postgres", "socket_dir": None, "host": None, "port": 5432, "user": None,
        "password": None, "dbname": "postgres", "uri": None, "container": None, "docker_user": "postgres",
        "timeout": 10, "fail_on_unavailable": False,
    }
    params.update(overrides)
    return params


# --- the query -------------------------------------------------------------------------------------------

def test_every_pgtune_parameter_is_read():
    assert set(PGTUNE_PARAMETERS) <= set(pg.SETTING_NAMES)
    for name in PGTUNE_PARAMETERS:
        assert f"'{name}'" in FACTS_SQL


def test_setting_names_are_unique_plain_identifiers():
    assert len(set(pg.SETTING_NAMES)) == len(pg.SETTING_NAMES)
    assert all(re.match(r"^[a-z_][a-z0-9_]*$", name) for name in pg.SETTING_NAMES)


def test_the_query_is_one_fixed_statement_without_placeholders():
    # psycopg would treat % as a placeholder marker; psql would interpolate :name variables.
    assert "%" not in FACTS_SQL
    assert not re.search(r"(?<!:):[A-Za-z_'\"]", FACTS_SQL)
    assert ";" not in FACTS_SQL
    assert FACTS_SQL.startswith("SELECT ") and FACTS_SQL.endswith(")::text")


@pytest.mark.parametrize("names, expected", [
    (("work_mem",), "ARRAY['work_mem']"),
    (("a", "b_2"), "ARRAY['a', 'b_2']"),
])
def test_sql_text_array(names, expected):
    assert sql_text_array(names) == expected


@pytest.mark.parametrize("name", ["x'; DROP TABLE t; --", "Work_Mem", "a b", "", "1abc", "name\0"])
def test_sql_text_array_refuses_anything_but_plain_names(name):
    with pytest.raises(ValueError, match="not a plain setting name"):
        sql_text_array(("work_mem", name))


# --- options ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("uri, stripped, password", [
    ("postgresql://app:secret@db:5432/app", "postgresql://app@db:5432/app", "secret"),
    ("postgres://app:s%40c%2Fr%3At@db/app", "postgres://app@db/app", "s@c/r:t"),
    ("postgresql://app@db/app?sslmode=require", "postgresql://app@db/app?sslmode=require", None),
    ("postgresql://db/app?user=app&password=se%26cret&sslmode=require",
     "postgresql://db/app?user=app&sslmode=require", "se&cret"),
    ("postgresql://app:secret@h1:5432,h2:5433/app?target_session_attrs=read-write",
     "postgresql://app@h1:5432,h2:5433/app?target_session_attrs=read-write", "secret"),
    ("postgresql://app:secret@db", "postgresql://app@db", "secret"),
    ("postgresql://:secret@db", "postgresql://db", "secret"),
    ("postgresql:///app?host=/var/run/postgresql", "postgresql:///app?host=%2Fvar%2Frun%2Fpostgresql", None),
    ("postgresql://", "postgresql://", None),
])
def test_split_uri_password(uri, stripped, password):
    assert split_uri_password(uri) == (stripped, password)


@pytest.mark.parametrize("uri", ["mysql://u:p@h/db", "host=db user=app password=x", "db:5432", ""])
def test_split_uri_password_refuses_other_schemes(uri):
    with pytest.raises(OptionError, match="^uri: must start with postgresql:// or postgres://"):
        split_uri_password(uri)


@pytest.mark.parametrize("overrides, method", [
    ({}, "local_socket"),
    ({"socket_dir": "/run/postgresql"}, "local_socket"),
    ({"host": "10.0.0.5"}, "tcp"),
    ({"uri": "postgresql://app:pw@db/app"}, "tcp"),
    ({"container": "app-db-1"}, "docker"),
    ({"container": "app-db-1", "host": "127.0.0.1"}, "docker"),
    ({"method": "tcp", "host": "db"}, "tcp"),
])
def test_resolve_connection_picks_the_method(overrides, method):
    assert resolve_connection(_params(**overrides))["method"] == method


def test_resolve_connection_takes_the_password_out_of_the_uri():
    connection = resolve_connection(_params(uri="postgresql://app:pw%21@db/app", password="ignored"))
    assert connection["uri"] == "postgresql://app@db/app"
    assert connection["password"] == "pw!"
    assert resolve_connection(_params(uri="postgresql://app@db/app", password="given"))["password"] == "given"


def test_resolve_connection_defaults_the_database_user_to_os_user_on_the_socket_only():
    assert resolve_connection(_params(os_user="pgadmin"))["user"] == "pgadmin"
    assert resolve_connection(_params(os_user="pgadmin", user="monitor"))["user"] == "monitor"
    assert resolve_connection(_params(host="db"))["user"] is None
    assert resolve_connection(_params(container="db"))["user"] is None


@pytest.mark.parametrize("overrides, message", [
    ({"port": 0}, "port: must be a TCP port at least 1 and at most 65535, got 0"),
    ({"port": 99999}, "port: must be a TCP port at least 1 and at most 65535, got 99999"),
    ({"timeout": 0}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got 0"),
    ({"method": "ssh"}, "method: must be one of auto, local_socket, tcp, docker, got 'ssh'"),
    ({"uri": "postgresql://db/app", "host": "db"}, "uri and host cannot be used together"),
    ({"uri": "postgresql://db/app", "user": "app"}, "uri and user cannot be used together"),
    ({"uri": "mysql://db/app"}, "uri: must start with postgresql:// or postgres://"),
    ({"method": "docker"}, "container: required with method=docker"),
    ({"method": "tcp", "host": "db", "container": "c"}, "container: only used with method=docker, not with method=tcp"),
    ({"method": "tcp"}, "host or uri: one of them is required with method=tcp"),
    ({"method": "local_socket", "host": "db"}, "host and uri: not used with method=local_socket"),
    ({"host": "db", "socket_dir": "/run/postgresql"}, "socket_dir: not used with method=tcp"),
    ({"container": "c", "host": "db", "socket_dir": "/run/postgresql"}, "socket_dir and host cannot be used together"),
    ({"socket_dir": "run/postgresql"}, "socket_dir: must be an absolute path"),
    ({"container": "--privileged"}, "container: '--privileged' is not a container name or id"),
    ({"container": "db", "docker_user": "-x"}, "docker_user: '-x' is not a user name or uid[:gid]"),
    ({"os_user": "postgres;id"}, "os_user: 'postgres;id' is not a user name"),
    ({"os_user": "-c"}, "os_user: '-c' is not a user name"),
    ({"dbname": ""}, "dbname: must be a non-empty string"),
    ({"host": "db", "user": "a\0b"}, "user: must be a non-empty string without NUL characters"),
])
def test_resolve_connection_names_the_bad_option(overrides, message):
    with pytest.raises(OptionError) as error:
        resolve_connection(_params(**overrides))
    assert str(error.value).startswith(message)


def test_resolve_connection_accepts_uid_and_gid_for_docker_user():
    assert resolve_connection(_params(container="db", docker_user="999:999"))["docker_user"] == "999:999"


# --- commands --------------------------------------------------------------------------------------------

def _connection(**overrides):
    return resolve_connection(_params(**overrides))


def test_session_environment_passes_every_value_through_libpq_variables():
    inherited = {"PATH": "/usr/bin", "PGHOST": "elsewhere", "PGSERVICE": "prod", "PGPASSWORD": "old",
                 "PGSSLMODE": "require", "DOCKER_HOST": "unix:///run/docker.sock"}
    environment = session_environment(_connection(host="db", user="app", password=PASSWORD, dbname="app"), inherited)
    assert environment == {
        "PATH": "/usr/bin", "PGSSLMODE": "require", "DOCKER_HOST": "unix:///run/docker.sock",
        "PGHOST": "db", "PGPORT": "5432", "PGUSER": "app", "PGDATABASE": "app", "PGPASSWORD": PASSWORD,
        "PGAPPNAME": "hostcare.vps.pg_settings_facts", "PGCONNECT_TIMEOUT": "10", "PGCLIENTENCODING": "UTF8",
        "PGOPTIONS": "-c default_transaction_read_only=on -c statement_timeout=10000 -c search_path=pg_catalog",
    }


def test_session_environment_leaves_the_server_to_the_uri():
    environment = session_environment(_connection(uri="postgresql://app:pw@db/app"), {})
    assert environment["PGPASSWORD"] == "pw"
    assert not {"PGHOST", "PGPORT", "PGUSER", "PGDATABASE"} & set(environment)


def test_session_environment_on_the_socket():
    environment = session_environment(_connection(socket_dir="/tmp/pg", port=5433), {})
    assert (environment["PGHOST"], environment["PGPORT"], environment["PGUSER"]) == ("/tmp/pg", "5433", "postgres")
    assert "PGPASSWORD" not in environment
    assert "PGHOST" not in session_environment(_connection(), {})


def test_psql_arguments_hold_no_connection_values():
    argv = psql_arguments(_connection(host="db", user="app", password=PASSWORD, dbname="app"), "/usr/bin/psql")
    assert argv == ["/usr/bin/psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-c", FACTS_SQL]
    argv = psql_arguments(_connection(uri=f"postgresql://app:{PASSWORD.replace('/', '%2F').replace('@', '%40')}@db/app"))
    assert argv[-4:] == ["-d", "postgresql://app@db/app", "-c", FACTS_SQL]
    assert not any("S3cret" in argument for argument in argv)


def test_switch_user_arguments():
    command = ["/usr/bin/psql", "-c", "SELECT 1"]
    assert switch_user_arguments("postgres", command, runuser="/usr/sbin/runuser") == [
        "/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/psql", "-c", "SELECT 1"]
    assert switch_user_arguments("postgres", command, su="/bin/su") == [
        "/bin/su", "postgres", "-s", "/bin/sh", "-c", 'exec "$0" "$@"', "/usr/bin/psql", "-c", "SELECT 1"]


def test_su_runs_the_command_with_its_arguments_untouched():
    # The fixed shell string hands the command over as "$0" "$@": nothing in it is parsed by the shell.
    argv = switch_user_arguments("root", ["printf", "%s|", "a b", "$(id)", "'; echo x"], su="/bin/su")
    result = subprocess.run(argv[3:], capture_output=True, text=True, check=True)  # what su makes the shell run
    assert result.stdout == "a b|$(id)|'; echo x|"


def test_docker_exec_arguments_name_variables_without_values():
    connection = _connection(container="app-db-1", user="app", password=PASSWORD)
    environment = session_environment(connection, {"PATH": "/usr/bin", "HOME": "/root"})
    argv = docker_exec_arguments(connection, environment, ["psql", "-c", "SELECT 1"], "/usr/bin/docker")
    assert argv == [
        "/usr/bin/docker", "exec", "--user=postgres",
        "-e", "PGAPPNAME", "-e", "PGCLIENTENCODING", "-e", "PGCONNECT_TIMEOUT", "-e", "PGDATABASE",
        "-e", "PGOPTIONS", "-e", "PGPASSWORD", "-e", "PGPORT", "-e", "PGUSER",
        "app-db-1", "psql", "-c", "SELECT 1",
    ]


def test_du():
    assert du_arguments("/var/lib/postgresql/data") == ["du", "-s", "-k", "-x", "/var/lib/postgresql/data"]
    assert parse_du_output("41536\t/var/lib/postgresql/17/main\n") == 41536 * 1024
    assert parse_du_output("du: cannot read directory 'x': Permission denied\n") is None
    assert parse_du_output("") is None


def test_psycopg_parameters():
    conninfo, keywords = psycopg_parameters(_connection(host="db", user="app", password=PASSWORD, dbname="app"))
    assert conninfo == ""
    assert keywords == {
        "host": "db", "port": 5432, "user": "app", "dbname": "app", "password": PASSWORD, "connect_timeout": 10,
        "application_name": "hostcare.vps.pg_settings_facts", "client_encoding": "UTF8",
        "options": "-c default_transaction_read_only=on -c statement_timeout=10000 -c search_path=pg_catalog",
    }
    conninfo, keywords = psycopg_parameters(_connection(uri="postgresql://app:pw@db/app?sslmode=require"))
    assert conninfo == "postgresql://app@db/app?sslmode=require"
    assert keywords["password"] == "pw" and "host" not in keywords and "port" not in keywords


# --- messages --------------------------------------------------------------------------------------------

EXPECTED_CODES = {
    "wrong_password": "auth_failed",
    "password_missing": "password_missing",
    "refused": "not_running",
    "no_socket": "not_running",
    "database_missing": "database_missing",
    "peer_failed": "auth_failed",
    "host_unknown": "host_unknown",
    "ssl_required": "ssl",
    "timeout": "timeout",
    "too_many_connections": "too_many_connections",
    "container_missing": "container_missing",
    "container_stopped": "container_stopped",
    "docker_user_missing": "docker_user_missing",
    "psql_missing": "psql_missing",
    "docker_down": "docker_down",
}


@pytest.mark.parametrize("case, client", [
    (case, client) for case, outputs in sorted(_errors().items()) for client in sorted(outputs)
])
def test_classify_recorded_errors(case, client):
    message = _errors()[case][client]
    code, reason = classify_error(message)
    assert code == EXPECTED_CODES[case]
    assert "\n" not in reason and "psql: error:" not in reason and "FATAL:" not in reason
    assert not reason.lower().startswith("error response from daemon")


def test_classify_wrong_password_reason():
    code, reason = classify_error(_errors()["wrong_password"]["psql"])
    assert (code, reason) == ("auth_failed", 'authentication failed: connection to server at "127.0.0.1", port 54329 '
                                             'failed: password authentication failed for user "app"')


@pytest.mark.parametrize("message, code", [
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "app", no encryption', "no_hba_entry"),
    ('FATAL:  role "monitor" does not exist', "role_missing"),
    ("FATAL:  sorry, too many clients already", "too_many_connections"),
    ("FATAL:  the database system is starting up", "not_ready"),
    ("ERROR:  unsupported startup parameter: options", "pooler"),
    ("ERROR:  canceling statement due to statement timeout", "timeout"),
    ("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock",
     "docker_denied"),
    ("ERROR:  permission denied for function pg_database_size", "permission_denied"),
    ("something nobody expected", "error"),
    ("", "error"),
])
def test_classify_error_kinds(message, code):
    assert classify_error(message)[0] == code


def test_classify_error_masks_secrets():
    code, reason = classify_error(f"FATAL: password authentication failed (tried {PASSWORD})", secrets=[PASSWORD])
    assert code == "auth_failed" and PASSWORD not in reason and "********" in reason


@pytest.mark.parametrize("text, expected", [
    ("pw is hunter2", "pw is ********"),
    ("conninfo host=db password=hunter2 user=x", "conninfo host=db password=******** user=x"),
    ("password = 'a b c' next", "password = ******** next"),
    ("postgresql://app:topsecret@db/app", "postgresql://app:********@db/app"),
    ("url-encoded hunter%202 too", "url-encoded ******** too"),
])
def test_redact(text, expected):
    assert redact(text, ["hunter2", "hunter%202"]) == expected


def test_secrets_of():
    assert secrets_of({"password": "a b/c"}) == ["a b/c", "a%20b%2Fc"]
    assert secrets_of({"password": "plain"}) == ["plain"]
    assert secrets_of({"password": None}) == []


def test_clean_message():
    assert clean_message("psql: error: connection to server at \"h\", port 1 failed: FATAL:  x\n\tIs it?\n") == \
        'connection to server at "h", port 1 failed: x Is it?'
    assert clean_message(None) == ""
    assert len(clean_message("x" * 1000)) == 400


# --- facts -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit, expected", [
    ("B", 1), ("kB", 1024), ("8kB", 8192), ("MB", 1048576), ("16MB", 16777216), ("GB", 1073741824),
    ("TB", 1099511627776), ("ms", None), ("s", None), ("min", None), ("", None), (None, None),
])
def test_memory_unit_bytes(unit, expected):
    assert memory_unit_bytes(unit) == expected


@pytest.mark.parametrize("setting, unit, expected", [
    ("16384", "8kB", 134217728),
    ("4096", "kB", 4194304),
    ("80", "MB", 83886080),
    ("-1", "kB", None),
    ("0", "kB", 0),
    ("200", "ms", None),
    ("on", None, None),
    ("1.1", None, None),
])
def test_setting_in_bytes(setting, unit, expected):
    assert setting_in_bytes(setting, unit) == expected


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"settings": []}', "null"])
def test_parse_facts_document_refuses_other_text(text):
    with pytest.raises(ValueError):
        parse_facts_document(text)


@pytest.mark.parametrize("state, key", [
    ("active", "active"), ("idle in transaction", "idle_in_transaction"),
    ("idle in transaction (aborted)", "idle_in_transaction_aborted"), ("fastpath function call", "fastpath_function_call"),
    (None, "unknown"),
])
def test_connection_state_key(state, key):
    assert connection_state_key(state) == key


def test_connection_facts_without_activity():
    facts = connection_facts([], {})
    assert facts["total"] == 0 and facts["max"] is None and facts["in_use_percent"] is None
    assert facts["average_age_seconds"] is None and facts["by_database_user"] == []
    assert set(facts["by_state"]) == set(pg.CONNECTION_STATES)


@pytest.mark.parametrize("number, major, minor", [(150018, 15, 18), (170011, 17, 11), (100023, 10, 23),
                                                  (90624, None, None)])
def test_version_facts(number, major, minor):
    facts = version_facts({"server_version_num": number, "server_version": "x", "version": "PostgreSQL x"})
    assert (facts["num"], facts["major"], facts["minor"]) == (number, major, minor)


@pytest.mark.parametrize("blocks, expected", [
    ({"hit": 990, "read": 10}, {"hit_percent": 99.0, "blocks_hit": 990, "blocks_read": 10}),
    ({"hit": None, "read": None}, {"hit_percent": None, "blocks_hit": 0, "blocks_read": 0}),
    (None, {"hit_percent": None, "blocks_hit": 0, "blocks_read": 0}),
])
def test_buffer_cache_facts(blocks, expected):
    assert buffer_cache_facts(blocks) == expected


def test_pg15_superuser_facts():
    facts = build_postgres_facts(_document("pg15_superuser_socket"), "local_socket", "psql", (42577920, None))
    assert facts["available"] is True and facts["reason"] is None and facts["client"] == "psql"
    assert facts["version"] == {
        "num": 150018, "major": 15, "minor": 18, "server_version": "15.18 (Debian 15.18-0+deb12u1)",
        "full": "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc "
                "(Debian 12.2.0-14+deb12u1) 12.2.0, 64-bit",
    }
    assert facts["in_recovery"] is False
    settings = facts["settings"]
    assert settings["shared_buffers"] == {
        "setting": "32768", "unit": "8kB", "val_in_bytes": 268435456, "pretty_val": "256MB", "vartype": "integer",
        "context": "postmaster", "source": "configuration file",
        "sourcefile": "/tmp/hcpg-exp.irvc/data/postgresql.auto.conf", "boot_val": "16384", "reset_val": "32768",
        "min_val": "16", "max_val": "1073741823", "pending_restart": True,
    }
    assert facts["pending_restart_settings"] == ["shared_buffers"]
    assert settings["work_mem"]["val_in_bytes"] == 8 * 1024 ** 2
    assert settings["effective_cache_size"]["val_in_bytes"] == 4 * 1024 ** 3
    assert settings["autovacuum_work_mem"]["val_in_bytes"] is None
    assert settings["random_page_cost"]["setting"] == "1.1"
    assert settings["max_connections"]["val_in_bytes"] is None
    # Every PGTune parameter PostgreSQL 15 has (io_method and io_workers came with 18).
    assert [name for name in PGTUNE_PARAMETERS if name not in settings] == ["io_method", "io_workers"]
    assert "enable_seqscan" in settings and "cpu_tuple_cost" in settings
    assert facts["connections"] == {
        "max": 100, "superuser_reserved": 3, "reserved": None, "total": 4, "in_use_percent": 4.0,
        "by_state": {"active": 1, "idle": 2, "idle_in_transaction": 1, "idle_in_transaction_aborted": 0,
                     "fastpath_function_call": 0, "disabled": 0},
        "by_database_user": [{"database": "appdb", "user": "app", "count": 4}],
        "average_age_seconds": 2.0,
    }
    assert facts["databases"][0] == {"name": "appdb", "size_bytes": 7634279}
    assert [database["name"] for database in facts["databases"]] == ["appdb", "postgres", "template0", "template1"]
    assert facts["databases_total_bytes"] == 33914580
    assert facts["data_directory"] == {"path": "/tmp/hcpg-exp.irvc/data", "size_bytes": 42577920, "reason": None}
    assert facts["buffer_cache"] == {"hit_percent": 98.3, "blocks_hit": 117123, "blocks_read": 2075}


def test_pg15_non_superuser_facts():
    reason = "data_directory is only visible to superusers and members of pg_read_all_settings"
    facts = build_postgres_facts(_document("pg15_app_tcp"), "tcp", "psql", (None, reason))
    assert facts["data_directory"] == {"path": None, "size_bytes": None, "reason": reason}
    assert "data_directory" not in facts["settings"]
    assert facts["settings"]["shared_buffers"]["sourcefile"] is None
    connections = facts["connections"]
    assert connections["by_state"]["unknown"] == 1 and connections["total"] == 5
    assert connections["by_database_user"] == [{"database": "appdb", "user": "app", "count": 4},
                                               {"database": "appdb", "user": "postgres", "count": 1}]
    assert connections["average_age_seconds"] == 6.7  # the hidden session has no start time: not averaged


def test_pg17_docker_facts():
    facts = build_postgres_facts(_document("pg17_superuser_docker"), "docker", "psql")
    assert (facts["version"]["major"], facts["version"]["minor"]) == (17, 11)
    assert facts["pending_restart_settings"] == ["max_connections"]
    assert facts["settings"]["max_connections"]["setting"] == "100"  # the running value until the restart
    assert facts["settings"]["work_mem"]["pretty_val"] == "16MB"
    assert facts["settings"]["wal_buffers"]["val_in_bytes"] == 4 * 1024 ** 2
    assert facts["connections"]["reserved"] == 0  # reserved_connections is new in 16
    assert [name for name in PGTUNE_PARAMETERS if name not in facts["settings"]] == ["io_method", "io_workers"]
    assert "enable_group_by_reordering" in facts["settings"]
    assert facts["data_directory"]["path"] == "/var/lib/postgresql/17/main"
    assert facts["buffer_cache"]["hit_percent"] == 99.1


def test_settings_facts_without_pending_restart_column():
    settings, pending = settings_facts([{
        "name": "work_mem", "setting": "4096", "unit": "kB", "vartype": "integer", "context": "user",
        "source": "default", "sourcefile": None, "boot_val": "4096", "reset_val": "4096", "min_val": "64",
        "max_val": "2147483647", "pretty_val": "4MB"}])
    assert settings["work_mem"]["pending_restart"] is None and pending == []


def test_unavailable_facts_have_the_same_keys():
    available = build_postgres_facts(_document("pg17_superuser_docker"), "docker", "psql")
    unavailable = unavailable_facts("tcp", "psql", "auth_failed", "authentication failed")
    assert set(unavailable) == set(available)
    assert [key for key, value in unavailable.items() if value is not None] == [
        "available", "reason", "reason_code", "method", "client"]


def test_data_directory_of():
    assert data_directory_of(_document("pg15_superuser_socket")) == "/tmp/hcpg-exp.irvc/data"
    assert data_directory_of(_document("pg15_app_tcp")) is None


def test_pg_control_system_identifier():
    assert pg_control_system_identifier((7711280465467683721).to_bytes(8, sys.byteorder) + b"rest") == \
        "7711280465467683721"
    assert pg_control_system_identifier(b"\x01") is None


# --- running ---------------------------------------------------------------------------------------------

def test_run_command():
    assert run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], {"PATH": os.defpath}, 10) == (3, "out\n", "err\n")


def test_run_command_kills_the_whole_process_group_on_timeout(tmp_path):
    marker = tmp_path / "survivor"
    started = time.monotonic()
    result = run_command(["sh", "-c", f"(sleep 1; touch {marker}) & sleep 30"], {"PATH": os.defpath}, 0.3)
    assert result == (None, "", "")
    assert time.monotonic() - started < 5
    time.sleep(1.5)
    assert not marker.exists()


def test_query_with_psql_classifies_failures_and_masks_the_password():
    connection = _connection(host="db", password=PASSWORD)
    argv = ["sh", "-c", f"echo 'psql: error: FATAL:  password authentication failed ({PASSWORD})' >&2; exit 2"]
    text, failure = query_with_psql(argv, {"PATH": os.defpath}, connection)
    assert text is None and failure[0] == "auth_failed" and PASSWORD not in failure[1]
    text, failure = query_with_psql(["sh", "-c", "echo 'unable to find user x'; exit 126"], {"PATH": os.defpath},
                                    connection)
    assert failure[0] == "docker_user_missing"
    assert query_with_psql(["echo", "{}"], {"PATH": os.defpath}, connection) == ("{}\n", None)


class _FakeCursor:
    def __init__(self, behaviour):
        self.behaviour = behaviour

    def execute(self, sql):
        assert sql == FACTS_SQL
        if self.behaviour == "hang":
            time.sleep(30)
        if self.behaviour == "fail":
            raise RuntimeError(f"connection failed: FATAL:  password authentication failed for user \"app\" {PASSWORD}")

    @staticmethod
    def fetchone():
        return ('{"server_version_num": 170011}',)


class _FakeDriver:
    """psycopg's connect() -> connection -> cursor, answering or failing as told."""

    def __init__(self, behaviour="answer"):
        self.behaviour = behaviour
        self.calls = []
        self.closed = False

    def connect(self, conninfo, **keywords):
        self.calls.append((conninfo, keywords))
        return self

    def cursor(self):
        return _FakeCursor(self.behaviour)

    def close(self):
        self.closed = True


def test_query_with_psycopg():
    driver = _FakeDriver()
    assert query_with_psycopg(driver, _connection(host="db")) == ('{"server_version_num": 170011}', None)
    assert driver.calls[0][0] == "" and driver.calls[0][1]["host"] == "db" and driver.closed


def test_query_with_psycopg_masks_the_password_in_errors():
    text, failure = query_with_psycopg(_FakeDriver("fail"), _connection(host="db", password=PASSWORD))
    assert text is None and failure[0] == "auth_failed" and PASSWORD not in failure[1]


def test_query_with_psycopg_gives_up_on_a_hung_server(monkeypatch):
    monkeypatch.setattr(pg, "_wall_clock_limit", lambda connection: 0.3)
    started = time.monotonic()
    text, failure = query_with_psycopg(_FakeDriver("hang"), _connection(host="db"))
    assert time.monotonic() - started < 5
    assert text is None and failure == ("timeout", "PostgreSQL did not answer within 0.3 s (timeout=10)")


def _bin_dir(tmp_path, *programs):
    directory = tmp_path / "bin"
    directory.mkdir(parents=True, exist_ok=True)
    for program in programs:
        path = directory / program
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return str(directory)


def test_plan_query_prefers_a_python_driver(monkeypatch, tmp_path):
    driver = _FakeDriver()
    monkeypatch.setattr(pg, "psycopg2", driver)
    plan = plan_query(_connection(host="db"), {"PATH": _bin_dir(tmp_path, "psql")})
    assert plan == ("psycopg2", driver)
    assert plan_query(_connection(host="db"), {"PATH": _bin_dir(tmp_path, "psql")}, drivers=())[0] == "psql"


def test_plan_query_without_any_client(monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "psycopg", None)
    monkeypatch.setattr(pg, "psycopg2", None)
    plan = plan_query(_connection(host="db"), {"PATH": _bin_dir(tmp_path)})
    assert plan[:2] == ("unavailable", "psql_missing")
    assert "apt-get install postgresql-client" in plan[2]


def test_plan_query_for_docker(tmp_path):
    bin_dir = _bin_dir(tmp_path, "docker")
    plan = plan_query(_connection(container="app-db-1", password=PASSWORD), {"PATH": bin_dir})
    assert plan[0] == "psql"
    assert plan[1][:3] == [os.path.join(bin_dir, "docker"), "exec", "--user=postgres"]
    assert plan[1][-11:] == ["app-db-1", "psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-c", FACTS_SQL]
    assert PASSWORD not in " ".join(plan[1]) and plan[2]["PGPASSWORD"] == PASSWORD
    assert plan_query(_connection(container="c"), {"PATH": _bin_dir(tmp_path / "empty")})[:2] == \
        ("unavailable", "docker_missing")


def test_plan_query_switches_to_os_user_with_runuser(monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "_current_user", lambda: "root")
    monkeypatch.setattr(pg.os, "geteuid", lambda: 0)
    monkeypatch.setattr(pg.pwd, "getpwnam", lambda name: object())
    bin_dir = _bin_dir(tmp_path, "psql", "runuser")
    plan = plan_query(_connection(), {"PATH": bin_dir})
    assert plan[0] == "psql"
    assert plan[1][:5] == [os.path.join(bin_dir, "runuser"), "-u", "postgres", "--", os.path.join(bin_dir, "psql")]


def test_plan_query_cannot_switch_user_without_root(monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "_current_user", lambda: "deploy")
    monkeypatch.setattr(pg.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(pg.pwd, "getpwnam", lambda name: object())
    plan = plan_query(_connection(), {"PATH": _bin_dir(tmp_path, "psql")})
    assert plan[:2] == ("unavailable", "permission_denied")
    assert "runs as deploy, not root" in plan[2]


def test_plan_query_needs_an_existing_os_user(tmp_path):
    plan = plan_query(_connection(os_user="hcpg-no-such-user"), {"PATH": _bin_dir(tmp_path, "psql")})
    assert plan[:2] == ("unavailable", "os_user_missing")


def test_plan_query_uses_the_driver_when_already_os_user(monkeypatch, tmp_path):
    driver = _FakeDriver()
    monkeypatch.setattr(pg, "_current_user", lambda: "postgres")
    monkeypatch.setattr(pg, "psycopg", driver)
    assert plan_query(_connection(), {"PATH": _bin_dir(tmp_path, "psql")}) == ("psycopg", driver)


def _data_directory(tmp_path, identifier):
    data = tmp_path / "data"
    (data / "global").mkdir(parents=True)
    (data / "global" / "pg_control").write_bytes(identifier.to_bytes(8, sys.byteorder) + b"\0" * 8184)
    (data / "base").mkdir()
    (data / "base" / "1").write_bytes(b"x" * 100000)
    return str(data)


def test_measure_data_directory_of_the_same_cluster(tmp_path):
    path = _data_directory(tmp_path, 7711280465467683721)
    size, reason = measure_data_directory(_connection(), path, "7711280465467683721", {})
    assert reason is None and size >= 100000 + 8192


@pytest.mark.parametrize("identifier, expected", [
    ("42", "belongs to another cluster than the server connected to"),
    (None, "cannot check that the directory belongs to this server"),
])
def test_measure_data_directory_refuses_what_it_cannot_match(tmp_path, identifier, expected):
    path = _data_directory(tmp_path, 7711280465467683721)
    size, reason = measure_data_directory(_connection(host="127.0.0.1"), path, identifier, {})
    assert size is None and expected in reason


def test_measure_data_directory_elsewhere_or_hidden(tmp_path):
    size, reason = measure_data_directory(_connection(host="db"), str(tmp_path / "missing"), "1", {})
    assert size is None and reason.endswith("is not on the target: the server runs elsewhere (another host or a container)")
    assert measure_data_directory(_connection(), None, None, {}) == (
        None, "data_directory is only visible to superusers and members of pg_read_all_settings")


def test_measure_data_directory_in_a_container(monkeypatch, tmp_path):
    calls = []

    def fake_run(argv, environment, timeout):
        calls.append(argv)
        return 0, "41536\t/var/lib/postgresql/data\n", ""

    monkeypatch.setattr(pg, "run_command", fake_run)
    environment = {"PATH": _bin_dir(tmp_path, "docker")}
    assert measure_data_directory(_connection(container="db"), "/var/lib/postgresql/data", None, environment) == \
        (41536 * 1024, None)
    assert calls == [[os.path.join(environment["PATH"], "docker"), "exec", "--user=postgres", "db",
                      "du", "-s", "-k", "-x", "/var/lib/postgresql/data"]]
    size, reason = measure_data_directory(_connection(container="db", host="127.0.0.1"), "/data", None, environment)
    assert size is None and "container's local socket" in reason


def test_measure_data_directory_when_du_fails(monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "run_command", lambda argv, environment, timeout: (
        1, "", "du: cannot read directory '/data/x': Permission denied\n"))
    size, reason = measure_data_directory(_connection(container="db"), "/data", None,
                                          {"PATH": _bin_dir(tmp_path, "docker")})
    assert size is None and reason == "du could not read all of it: du: cannot read directory '/data/x': Permission denied"


def test_gather_postgres_facts_from_a_recorded_answer(monkeypatch, tmp_path):
    with open(os.path.join(FIXTURES, "pg17_superuser_docker.json"), encoding="utf-8") as handle:
        answer = handle.read()
    monkeypatch.setattr(pg, "run_command", lambda argv, environment, timeout: (
        (0, answer, "") if "psql" in argv else (0, "41536\t/var/lib/postgresql/17/main\n", "")))
    facts = gather_postgres_facts(_connection(container="db"), base_environment={"PATH": _bin_dir(tmp_path, "docker")})
    assert facts["available"] is True and facts["client"] == "psql" and facts["method"] == "docker"
    assert facts["data_directory"] == {"path": "/var/lib/postgresql/17/main", "size_bytes": 41536 * 1024, "reason": None}


def test_gather_postgres_facts_when_the_answer_is_not_json(monkeypatch, tmp_path):
    monkeypatch.setattr(pg, "run_command", lambda argv, environment, timeout: (0, "psql: warning\n", ""))
    facts = gather_postgres_facts(_connection(host="db"), drivers=(), base_environment={"PATH": _bin_dir(tmp_path, "psql")})
    assert facts["available"] is False and facts["reason_code"] == "unexpected_output"


def test_gather_postgres_facts_without_a_client(tmp_path):
    facts = gather_postgres_facts(_connection(host="db"), drivers=(), base_environment={"PATH": _bin_dir(tmp_path)})
    assert facts == unavailable_facts("tcp", None, "psql_missing", facts["reason"])
