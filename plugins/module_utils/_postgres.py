# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""PostgreSQL facts for tuning: one fixed read-only query, run with psycopg or psql, turned into hostcare_postgres.

The server answers FACTS_SQL with one JSON document (settings, activity, database sizes, block counters), so the
psycopg and psql paths parse exactly the same text. No SQL is ever built from user input: the statement is a
constant, and connection values travel as libpq parameters or PG* environment variables, never inside SQL
(and never in argv, where `ps` would show a password).

The first half is pure (options, documents and messages in, dicts out). The second half runs things:
run_command(), query_with_psql(), query_with_psycopg(), measure_data_directory() and gather_postgres_facts().
Runs on the target's python3 (3.9+), standard library only; psycopg 3 or psycopg2 is used when installed.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from ansible_collections.hostcare.vps.plugins.module_utils._disk_scan import scan_trees
from ansible_collections.hostcare.vps.plugins.module_utils._pg_units import setting_in_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import classify_error, clean_message, redact, secrets_of
from ansible_collections.hostcare.vps.plugins.module_utils._units import percent

try:
    import psycopg
except ImportError:  # optional: psql does the same job
    psycopg = None
try:
    import psycopg2
except ImportError:  # optional: psql does the same job
    psycopg2 = None

APPLICATION_NAME = "hostcare.vps.pg_settings_facts"

# Every parameter PGTune (le0pard/pgtune) sets, in its postgresql.conf output order ...
PGTUNE_SETTINGS = (
    "max_connections", "shared_buffers", "effective_cache_size", "maintenance_work_mem",
    "checkpoint_completion_target", "wal_buffers", "default_statistics_target", "random_page_cost",
    "effective_io_concurrency", "work_mem", "huge_pages", "jit", "wal_compression", "autovacuum_max_workers",
    "autovacuum_work_mem", "io_method", "io_workers", "min_wal_size", "max_wal_size", "max_worker_processes",
    "max_parallel_workers_per_gather", "max_parallel_workers", "max_parallel_maintenance_workers", "wal_level",
    "max_wal_senders",
)
# ... and what postgresqltuner-style checks read: connection slots, the memory model, checkpoints,
# durability, logging, huge pages, and where the data lives.
AUDIT_SETTINGS = (
    "superuser_reserved_connections", "reserved_connections", "track_activity_query_size", "temp_buffers",
    "hash_mem_multiplier", "max_locks_per_transaction", "max_prepared_transactions", "autovacuum",
    "autovacuum_naptime", "autovacuum_vacuum_cost_limit", "checkpoint_timeout", "checkpoint_warning", "fsync",
    "synchronous_commit", "full_page_writes", "wal_sync_method", "synchronize_seqscans",
    "maintenance_io_concurrency", "huge_page_size", "shared_memory_type", "log_min_duration_statement",
    "log_statement", "log_hostname", "log_temp_files", "log_checkpoints", "log_autovacuum_min_duration",
    "track_io_timing", "password_encryption", "pre_auth_delay", "post_auth_delay", "statement_timeout",
    "idle_in_transaction_session_timeout", "idle_session_timeout", "shared_preload_libraries",
    "default_toast_compression", "listen_addresses", "port", "block_size", "wal_segment_size", "data_directory",
)
SETTING_NAMES = PGTUNE_SETTINGS + AUDIT_SETTINGS
# Families judged as a whole: any planner switch turned off (enable_*) or planner cost changed (*_cost).
SETTING_NAME_PATTERNS = ("^enable_", "_cost$")

_SQL_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")


def sql_text_array(names):
    """ARRAY['a', 'b'] literal of setting names; only plain lowercase identifiers are accepted (no quoting needed)."""
    for name in names:
        if not _SQL_NAME_RE.match(name):
            raise ValueError(f"not a plain setting name: {name!r}")
    return "ARRAY[" + ", ".join(f"'{name}'" for name in names) + "]"


# One statement, one JSON document. The names are this module's constants (checked by sql_text_array), so
# psql and psycopg run the same text and nothing the user typed ever reaches the SQL.
# Activity counts client backends only, without this query's own. backend_type is read through to_jsonb()
# because the column only exists from PostgreSQL 10 (before, the view lists client backends only). Another
# user's session seen without pg_read_all_stats has its type and state hidden: it counts when it is in a
# database (background processes are in none; autovacuum workers, rare, are then counted too).
FACTS_SQL = """\
SELECT pg_catalog.json_build_object(
  'server_version_num', pg_catalog.current_setting('server_version_num')::integer,
  'server_version', pg_catalog.current_setting('server_version'),
  'version', pg_catalog.version(),
  'in_recovery', pg_catalog.pg_is_in_recovery(),
  'system_identifier', CASE WHEN pg_catalog.has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
    THEN (SELECT c.system_identifier::text FROM pg_catalog.pg_control_system() AS c) END,
  'settings', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
      'name', s.name, 'setting', s.setting, 'unit', s.unit, 'vartype', s.vartype, 'context', s.context,
      'source', s.source, 'sourcefile', s.sourcefile, 'boot_val', s.boot_val, 'reset_val', s.reset_val,
      'min_val', s.min_val, 'max_val', s.max_val, 'pending_restart', s.pending_restart,
      'pretty_val', pg_catalog.current_setting(s.name)) ORDER BY s.name)
    FROM pg_catalog.pg_settings AS s
    WHERE s.name = ANY (%(names)s) OR %(patterns)s),
  'activity', (SELECT COALESCE(pg_catalog.json_agg(g), '[]') FROM (
      SELECT a.state, a.datname AS database, a.usename AS "user", pg_catalog.count(*) AS count,
        pg_catalog.count(a.backend_start) AS timed,
        pg_catalog.sum(EXTRACT(EPOCH FROM pg_catalog.now() - a.backend_start)) AS age_seconds
      FROM (SELECT s.*, pg_catalog.to_jsonb(s) AS row_json FROM pg_catalog.pg_stat_activity AS s) AS a
      WHERE a.pid <> pg_catalog.pg_backend_pid()
        AND CASE WHEN NOT a.row_json ? 'backend_type' THEN true
          WHEN a.row_json ->> 'backend_type' IS NULL THEN a.datname IS NOT NULL
          ELSE a.row_json ->> 'backend_type' = 'client backend' END
      GROUP BY a.state, a.datname, a.usename) AS g),
  'databases', (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', d.datname,
      'size_bytes', CASE WHEN pg_catalog.has_database_privilege(d.oid, 'CONNECT')
        THEN pg_catalog.pg_database_size(d.oid) END) ORDER BY d.datname)
    FROM pg_catalog.pg_database AS d),
  'blocks', (SELECT pg_catalog.json_build_object('hit', pg_catalog.sum(b.blks_hit), 'read', pg_catalog.sum(b.blks_read))
    FROM pg_catalog.pg_stat_database AS b)
)::text""" % {
    "names": sql_text_array(SETTING_NAMES),
    "patterns": " OR ".join(f"s.name ~ '{pattern}'" for pattern in SETTING_NAME_PATTERNS),
}

# Startup options of every session: nothing can be written, a stuck query ends, and no schema an
# application controls can shadow a pg_catalog function.
SESSION_OPTIONS = "-c default_transaction_read_only=on -c statement_timeout={milliseconds} -c search_path=pg_catalog"

# libpq variables the module sets itself; inherited ones (from the Ansible environment) must not redirect it.
_MANAGED_PG_ENVIRONMENT = (
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGOPTIONS",
    "PGAPPNAME", "PGCONNECT_TIMEOUT", "PGCLIENTENCODING",
)

CONNECTION_STATES = ("active", "idle", "idle_in_transaction", "idle_in_transaction_aborted",
                     "fastpath_function_call", "disabled")


# --- commands --------------------------------------------------------------------------------------------

def session_environment(connection, base_environment):
    """Environment for psql (or the docker client): libpq variables from the connection, nothing inherited.

    Host, port, user, database and password go through PG* variables, not argv: `ps` never shows the
    password, and a database name is never parsed as a connection string.
    """
    environment = {key: value for key, value in base_environment.items() if key not in _MANAGED_PG_ENVIRONMENT}
    environment.update({
        "PGAPPNAME": APPLICATION_NAME,
        "PGCONNECT_TIMEOUT": str(connection["timeout"]),
        "PGOPTIONS": SESSION_OPTIONS.format(milliseconds=connection["timeout"] * 1000),
        "PGCLIENTENCODING": "UTF8",
    })
    if connection["uri"] is None:
        values = {"PGHOST": connection["host"] or connection["socket_dir"], "PGPORT": str(connection["port"]),
                  "PGUSER": connection["user"], "PGDATABASE": connection["dbname"]}
        environment.update({key: value for key, value in values.items() if value is not None})
    if connection["password"] is not None:
        environment["PGPASSWORD"] = connection["password"]
    return environment


def psql_arguments(connection, psql="psql"):
    """psql argv: no psqlrc (-X), unaligned tuples only (-A -t -q), never prompt for a password (-w)."""
    argv = [psql, "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1"]
    if connection["uri"] is not None:
        argv += ["-d", connection["uri"]]  # password already taken out (split_uri_password)
    return argv + ["-c", FACTS_SQL]


def switch_user_arguments(os_user, argv, runuser=None, su=None):
    """argv that runs `argv` as `os_user`: runuser when present, else su with a fixed shell string."""
    if runuser:
        return [runuser, "-u", os_user, "--"] + argv
    # `exec "$0" "$@"` is constant: the command and its arguments arrive as positional parameters.
    return [su, os_user, "-s", "/bin/sh", "-c", 'exec "$0" "$@"'] + argv


def docker_exec_arguments(connection, environment, command, docker="docker"):
    """argv of `docker exec` running `command` in the container; PG* values come from the docker client's
    environment (`-e NAME` without a value), so none of them, the password least, appears in argv."""
    argv = [docker, "exec", f"--user={connection['docker_user']}"]
    for name in sorted(key for key in environment if key in _MANAGED_PG_ENVIRONMENT):
        argv += ["-e", name]
    return argv + [connection["container"]] + command


def du_arguments(path):
    """`du` disk usage of a directory in KiB, on one filesystem; GNU and busybox (alpine images) both take it."""
    return ["du", "-s", "-k", "-x", path]


def parse_du_output(text):
    """Bytes from `du -s -k` output ("1234\\t/path"); None when it is not that."""
    match = re.match(r"^\s*(\d+)\s", text or "")
    return int(match.group(1)) * 1024 if match else None


# --- facts -----------------------------------------------------------------------------------------------

def parse_facts_document(text):
    """The JSON document FACTS_SQL returns, from psql's or psycopg's text; ValueError when it is not one."""
    document = json.loads(text)
    if not isinstance(document, dict) or "server_version_num" not in document:
        raise ValueError("not the document FACTS_SQL returns")
    return document


def settings_facts(rows):
    """(settings by name, names pending a restart) from the document's pg_settings rows."""
    settings, pending = {}, []
    for row in rows or []:
        settings[row["name"]] = {
            "setting": row["setting"],
            "unit": row["unit"],
            "val_in_bytes": setting_in_bytes(row["setting"], row["unit"]),
            "pretty_val": row["pretty_val"],
            "vartype": row["vartype"],
            "context": row["context"],
            "source": row["source"],
            "sourcefile": row["sourcefile"],
            "boot_val": row["boot_val"],
            "reset_val": row["reset_val"],
            "min_val": row["min_val"],
            "max_val": row["max_val"],
            "pending_restart": row.get("pending_restart"),
        }
        if row.get("pending_restart"):
            pending.append(row["name"])
    return settings, pending


def _int_setting(settings, name):
    entry = settings.get(name)
    try:
        return int(entry["setting"]) if entry else None
    except ValueError:
        return None


def connection_state_key(state):
    """pg_stat_activity.state as a key: "idle in transaction (aborted)" -> idle_in_transaction_aborted.

    None (another user's session seen without pg_read_all_stats) becomes "unknown".
    """
    if state is None:
        return "unknown"
    return re.sub(r"[^a-z0-9]+", "_", state.lower()).strip("_")


def connection_facts(activity, settings):
    """Connection slots and client connections in use (by state, by database and user) from the activity rows."""
    by_state = dict.fromkeys(CONNECTION_STATES, 0)
    by_database_user = {}
    total, timed, age_seconds = 0, 0, 0.0
    for row in activity or []:
        count = int(row["count"])
        key = connection_state_key(row["state"])
        by_state[key] = by_state.get(key, 0) + count
        pair = (row["database"], row["user"])
        by_database_user[pair] = by_database_user.get(pair, 0) + count
        total += count
        timed += int(row["timed"])
        age_seconds += float(row["age_seconds"] or 0)
    maximum = _int_setting(settings, "max_connections")
    return {
        "max": maximum,
        "superuser_reserved": _int_setting(settings, "superuser_reserved_connections"),
        "reserved": _int_setting(settings, "reserved_connections"),
        "total": total,
        "in_use_percent": percent(total, maximum),
        "by_state": by_state,
        "by_database_user": [
            {"database": database, "user": user, "count": count}
            for (database, user), count in sorted(by_database_user.items(),
                                                  key=lambda item: (-item[1], item[0][0] or "", item[0][1] or ""))
        ],
        "average_age_seconds": round(age_seconds / timed, 1) if timed else None,
    }


def version_facts(document):
    """Server version numbers: major and minor from server_version_num (null before PostgreSQL 10)."""
    number = int(document["server_version_num"])
    modern = number >= 100000
    return {
        "num": number,
        "major": number // 10000 if modern else None,
        "minor": number % 10000 if modern else None,
        "server_version": document["server_version"],
        "full": document["version"],
    }


def buffer_cache_facts(blocks):
    """Shared buffer hit ratio over every database since the statistics were last reset."""
    hit = int((blocks or {}).get("hit") or 0)
    read = int((blocks or {}).get("read") or 0)
    return {"hit_percent": percent(hit, hit + read), "blocks_hit": hit, "blocks_read": read}


def data_directory_of(document):
    """The data_directory setting in the document; None when the user may not see it."""
    for row in document.get("settings") or []:
        if row["name"] == "data_directory":
            return row["setting"]
    return None


def unavailable_facts(method, client, reason_code, reason):
    """hostcare_postgres when nothing could be read: every value null, with the reason."""
    return {
        "available": False,
        "reason": reason,
        "reason_code": reason_code,
        "method": method,
        "client": client,
        "version": None,
        "in_recovery": None,
        "settings": None,
        "pending_restart_settings": None,
        "connections": None,
        "databases": None,
        "databases_total_bytes": None,
        "data_directory": None,
        "buffer_cache": None,
    }


def build_postgres_facts(document, method, client, data_directory_size=(None, None)):
    """hostcare_postgres (docs/facts.md) from the FACTS_SQL document.

    data_directory_size: (bytes, reason) measured outside the database; reason says why bytes is None.
    """
    settings, pending = settings_facts(document.get("settings"))
    databases = [{"name": row["name"], "size_bytes": row["size_bytes"]} for row in document.get("databases") or []]
    sizes = [database["size_bytes"] for database in databases]
    size_bytes, size_reason = data_directory_size
    return {
        "available": True,
        "reason": None,
        "reason_code": None,
        "method": method,
        "client": client,
        "version": version_facts(document),
        "in_recovery": document.get("in_recovery"),
        "settings": settings,
        "pending_restart_settings": pending,
        "connections": connection_facts(document.get("activity"), settings),
        "databases": databases,
        "databases_total_bytes": sum(sizes) if sizes and None not in sizes else None,
        "data_directory": {
            "path": data_directory_of(document),
            "size_bytes": size_bytes,
            "reason": size_reason,
        },
        "buffer_cache": buffer_cache_facts(document.get("blocks")),
    }


def pg_control_system_identifier(data):
    """The system identifier at the start of global/pg_control (a uint64 in the server's byte order)."""
    if len(data) < 8:
        return None
    return str(int.from_bytes(data[:8], sys.byteorder))


# --- running ---------------------------------------------------------------------------------------------

def run_command(argv, environment, timeout):
    """(returncode, stdout, stderr) of argv; returncode None when it ran longer than `timeout` seconds.

    The command gets its own process group, so a psql started through runuser dies with it on timeout.
    """
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=environment, cwd="/", start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            return None, "", ""
    return process.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def _wall_clock_limit(connection):
    # libpq waits `timeout` for the connection and the server `timeout` for the statement; add process start-up.
    return 2 * connection["timeout"] + 5


def _timeout_failure(connection):
    limit = _wall_clock_limit(connection)
    return "timeout", f"PostgreSQL did not answer within {limit} s (timeout={connection['timeout']})"


def query_with_psql(argv, environment, connection):
    """(document text, None) or (None, (reason_code, reason)) of the psql (or docker exec psql) argv."""
    returncode, stdout, stderr = run_command(argv, environment, _wall_clock_limit(connection))
    if returncode is None:
        return None, _timeout_failure(connection)
    if returncode != 0:
        # docker exec prints its own errors (no such user, no psql) on stdout
        return None, classify_error(stderr.strip() or stdout.strip(), secrets_of(connection))
    return stdout, None


def psycopg_parameters(connection):
    """(conninfo string, keyword parameters) for psycopg/psycopg2.connect()."""
    keywords = {
        "connect_timeout": connection["timeout"],
        "application_name": APPLICATION_NAME,
        "options": SESSION_OPTIONS.format(milliseconds=connection["timeout"] * 1000),
        "client_encoding": "UTF8",
    }
    if connection["password"] is not None:
        keywords["password"] = connection["password"]
    if connection["uri"] is not None:
        return connection["uri"], keywords
    values = {"host": connection["host"] or connection["socket_dir"], "port": connection["port"],
              "user": connection["user"], "dbname": connection["dbname"]}
    keywords.update({key: value for key, value in values.items() if value is not None})
    return "", keywords


def query_with_psycopg(driver, connection):
    """(document text, None) or (None, (reason_code, reason)) through psycopg or psycopg2.

    The query runs in a daemon thread: a server that hangs after accepting the connection cannot hold the
    module past the wall-clock limit.
    """
    conninfo, keywords = psycopg_parameters(connection)
    outcome = {}

    def query():
        try:
            database = driver.connect(conninfo, **keywords)
            try:
                cursor = database.cursor()
                cursor.execute(FACTS_SQL)
                outcome["text"] = cursor.fetchone()[0]
            finally:
                database.close()
        except Exception as error:  # pylint: disable=broad-except  # every driver error becomes a reason
            outcome["error"] = str(error) or type(error).__name__

    worker = threading.Thread(target=query, name="hostcare-postgres-query", daemon=True)
    worker.start()
    worker.join(_wall_clock_limit(connection))
    if worker.is_alive():
        return None, _timeout_failure(connection)
    if "error" in outcome:
        return None, classify_error(outcome["error"], secrets_of(connection))
    return outcome["text"], None


def _current_user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


def _find_program(name, environment, extra_dirs=()):
    search_path = os.pathsep.join([environment.get("PATH", os.defpath)] + list(extra_dirs))
    return shutil.which(name, path=search_path)


def _available_drivers(names):
    modules = {"psycopg": psycopg, "psycopg2": psycopg2}
    return [(name, modules[name]) for name in names if modules.get(name) is not None]


def plan_query(connection, base_environment, drivers=("psycopg", "psycopg2")):
    """How to run FACTS_SQL: ("psycopg"/"psycopg2", module) or ("psql", argv, environment), or
    ("unavailable", reason_code, reason) when no way exists (client missing, user switch impossible)."""
    method = connection["method"]
    environment = session_environment(connection, base_environment)
    if method == "docker":
        docker = _find_program("docker", base_environment)
        if docker is None:
            return ("unavailable", "docker_missing", "the docker command is not installed on the target")
        return ("psql", docker_exec_arguments(connection, environment, psql_arguments(connection), docker), environment)

    current_user = _current_user()
    switch_user = method == "local_socket" and connection["os_user"] != current_user
    if not switch_user:
        available = _available_drivers(drivers)
        if available:
            return available[0]
    psql = _find_program("psql", base_environment)
    if psql is None:
        return ("unavailable", "psql_missing",
                "psql is not installed on the target (Debian/Ubuntu: apt-get install postgresql-client) "
                "and neither is psycopg (python3-psycopg)")
    argv = psql_arguments(connection, psql)
    if switch_user:
        try:
            pwd.getpwnam(connection["os_user"])
        except KeyError:
            return ("unavailable", "os_user_missing", f"os_user {connection['os_user']} does not exist on the target")
        if os.geteuid() != 0:
            return ("unavailable", "permission_denied",
                    f"cannot run psql as os_user {connection['os_user']}: the module runs as {current_user}, not root "
                    f"(use become, or become_user: {connection['os_user']})")
        sbin = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
        runuser = _find_program("runuser", base_environment, sbin)
        su = None if runuser else _find_program("su", base_environment, sbin)
        if runuser is None and su is None:
            return ("unavailable", "os_user_switch", "neither runuser nor su is available to run psql as os_user")
        argv = switch_user_arguments(connection["os_user"], argv, runuser, su)
    return ("psql", argv, environment)


def measure_data_directory(connection, path, system_identifier, environment):
    """(bytes, None) or (None, reason) for the size of the server's data directory, like `du -s`.

    Measured only where the directory is certainly the server's: inside the container (docker exec du) when
    the server was reached through its local socket, or on the target when global/pg_control holds the
    server's system identifier (a same-named path of another cluster, e.g. behind a published container
    port, is refused).
    """
    if path is None:
        return None, "data_directory is only visible to superusers and members of pg_read_all_settings"
    if connection["method"] == "docker":
        if connection["host"] is not None or connection["uri"] is not None:
            return None, "measured only when the server is reached through the container's local socket"
        argv = [_find_program("docker", environment), "exec", f"--user={connection['docker_user']}",
                connection["container"]] + du_arguments(path)
        returncode, stdout, stderr = run_command(argv, environment, connection["timeout"])
        size = parse_du_output(stdout)
        if returncode is None:
            return None, f"du did not finish within {connection['timeout']} s"
        if returncode != 0 or size is None:
            return None, "du could not read all of it: " + clean_message(stderr or stdout)
        return size, None

    deadline = time.monotonic() + connection["timeout"]
    try:
        with open(os.path.join(path, "global", "pg_control"), "rb") as handle:
            identifier = pg_control_system_identifier(handle.read(8))
    except FileNotFoundError:
        return None, f"{path} is not on the target: the server runs elsewhere (another host or a container)"
    except OSError as error:
        return None, f"cannot read {path}: {error.strerror} (run the module as root or as the PostgreSQL OS user)"
    if system_identifier is None:
        return None, "cannot check that the directory belongs to this server: pg_control_system() is not allowed"
    if identifier != system_identifier:
        return None, f"{path} on the target belongs to another cluster than the server connected to"
    scan = scan_trees([path], top_n=1, deadline=deadline)
    if scan["truncated"]:
        return None, f"measuring took longer than {connection['timeout']} s"
    if scan["unreadable"]:
        return None, f"cannot read {scan['unreadable'][0]} (run the module as root or as the PostgreSQL OS user)"
    return scan["roots"][0]["size_bytes"], None


def gather_postgres_facts(connection, drivers=("psycopg", "psycopg2"), base_environment=None):
    """hostcare_postgres for a connection from resolve_connection(); never raises for PostgreSQL trouble.

    drivers: the Python drivers to try, in order, before psql. A server that is down, refuses the login or
    hangs gives available: false with the reason (secrets masked).
    """
    base_environment = dict(os.environ if base_environment is None else base_environment)
    method = connection["method"]
    plan = plan_query(connection, base_environment, drivers)
    if plan[0] == "unavailable":
        return unavailable_facts(method, None, plan[1], plan[2])
    if plan[0] == "psql":
        client = "psql"
        text, failure = query_with_psql(plan[1], plan[2], connection)
    else:
        client = plan[0]
        text, failure = query_with_psycopg(plan[1], connection)
    if failure is not None:
        return unavailable_facts(method, client, *failure)
    try:
        document = parse_facts_document(text)
    except ValueError:
        return unavailable_facts(method, client, "unexpected_output",
                                 "the server's answer is not the expected JSON document: "
                                 + redact(clean_message(text)[:200], secrets_of(connection)))
    size = measure_data_directory(connection, data_directory_of(document), document.get("system_identifier"),
                                  base_environment)
    return build_postgres_facts(document, method, client, size)
