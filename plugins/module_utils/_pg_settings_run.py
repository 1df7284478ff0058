# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Run hostcare.vps.postgresql_settings: read the server, ALTER SYSTEM, reload, restart, the state file.

The server is reached like pg_settings_facts reaches it (_postgres.py: psql through the local socket as the
postgres OS user, docker exec into a container, or a login with the password in PGPASSWORD, never in argv).
Every statement runs alone (ALTER SYSTEM cannot run in a transaction block). The decisions are in _pg_settings.py.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import tempfile
import time

from ansible_collections.hostcare.vps.plugins.module_utils import _pg_settings as plan
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_meminfo
from ansible_collections.hostcare.vps.plugins.module_utils._postgres import docker_exec_arguments, run_command, session_environment, switch_user_arguments
from ansible_collections.hostcare.vps.plugins.module_utils._postgres_connection import classify_error, clean_message, redact, secrets_of

APPLICATION_NAME = "hostcare.vps.postgresql_settings"
SESSION_OPTIONS = ("-c statement_timeout={milliseconds} -c lock_timeout={milliseconds} -c search_path=pg_catalog "
                   "-c standard_conforming_strings=on -c default_transaction_read_only=off")
SHM_WARNING_BYTES = 64 * 1024 * 1024

# One read, one JSON document: every pg_settings row, the postgresql.auto.conf entries and those of the other
# files (last one wins, as in the server), the postmaster's start, the configuration load time, client connections.
READ_SQL = """\
SELECT pg_catalog.json_build_object(
  'server_version_num', pg_catalog.current_setting('server_version_num')::integer,
  'cluster_name', pg_catalog.current_setting('cluster_name'),
  'postmaster_start_time', pg_catalog.pg_postmaster_start_time()::text,
  'conf_load_time', pg_catalog.pg_conf_load_time()::text,
  'settings', (SELECT pg_catalog.json_object_agg(s.name, pg_catalog.json_build_object(
      'setting', s.setting, 'unit', s.unit, 'vartype', s.vartype, 'context', s.context, 'source', s.source,
      'boot_val', s.boot_val, 'reset_val', s.reset_val, 'min_val', s.min_val, 'max_val', s.max_val,
      'enumvals', s.enumvals, 'pending_restart', s.pending_restart,
      'pretty_val', pg_catalog.current_setting(s.name)))
    FROM pg_catalog.pg_settings AS s),
  'auto_conf', (SELECT COALESCE(pg_catalog.json_object_agg(f.name, f.setting ORDER BY f.seqno), '{}')
    FROM pg_catalog.pg_file_settings AS f WHERE f.sourcefile LIKE '%/postgresql.auto.conf' AND f.name IS NOT NULL),
  'other_conf', (SELECT COALESCE(pg_catalog.json_object_agg(f.name, f.setting ORDER BY f.seqno), '{}')
    FROM pg_catalog.pg_file_settings AS f
    WHERE f.sourcefile NOT LIKE '%/postgresql.auto.conf' AND f.name IS NOT NULL),
  'connections', (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity AS a
    WHERE a.backend_type = 'client backend' AND a.pid <> pg_catalog.pg_backend_pid())
)::text"""

RELOAD_SQL = "SELECT pg_catalog.pg_reload_conf()"


class RunError(Exception):
    """Something failed while talking to the server or restarting it; the message is safe to show."""


def _psql(connection, statement, environment):
    """argv running ``statement`` with psql for the connection (as os_user, or in the container)."""
    argv = ["psql", "-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1"]
    if connection["uri"] is not None:
        argv += ["-d", connection["uri"]]
    argv += ["-c", statement]
    if connection["method"] == "docker":
        docker = shutil.which("docker", path=environment.get("PATH", os.defpath))
        if docker is None:
            raise RunError("the docker command is not installed on the target")
        return docker_exec_arguments(connection, environment, argv, docker)
    psql = shutil.which("psql", path=environment.get("PATH", os.defpath))
    if psql is None:
        raise RunError("psql is not installed on the target (Debian/Ubuntu: apt-get install postgresql-client)")
    argv[0] = psql
    if connection["method"] == "local_socket" and connection["os_user"] != _current_user():
        if os.geteuid() != 0:
            raise RunError(f"cannot run psql as os_user {connection['os_user']}: the module does not run as root "
                           f"(use become)")
        runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
        su = None if runuser else shutil.which("su", path="/usr/sbin:/sbin:/usr/bin:/bin")
        return switch_user_arguments(connection["os_user"], argv, runuser, su)
    return argv


def _current_user():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return None


def environment_for(connection, base_environment=None):
    environment = session_environment(connection, dict(os.environ if base_environment is None else base_environment))
    milliseconds = max(1000, connection["timeout"] * 1000)
    environment["PGOPTIONS"] = SESSION_OPTIONS.format(milliseconds=milliseconds)
    environment["PGAPPNAME"] = APPLICATION_NAME
    return environment


def execute(connection, statement, environment):
    """stdout of ``statement``; RunError (password masked) when it fails."""
    argv = _psql(connection, statement, environment)
    code, stdout, stderr = run_command(argv, environment, 2 * connection["timeout"] + 5)
    if code is None:
        raise RunError(f"PostgreSQL did not answer within {2 * connection['timeout'] + 5} s")
    if code != 0:
        reason = classify_error(stderr.strip() or stdout.strip(), secrets_of(connection))
        raise RunError(f"{reason[1]} ({reason[0]})")
    return stdout


def read_server(connection, environment):
    """The READ_SQL document: settings rows, auto_conf, other_conf, postmaster_start_time, connections..."""
    text = execute(connection, READ_SQL, environment)
    try:
        document = json.loads(text)
    except ValueError:
        raise RunError("the server's answer is not the expected JSON document: "
                       + redact(clean_message(text)[:200], secrets_of(connection))) from None
    if not isinstance(document, dict) or not isinstance(document.get("settings"), dict):
        raise RunError("the server's answer is not the expected JSON document")
    return document


def wait_for_reload(connection, environment, before, timeout=10.0):
    """Re-read until the configuration load time moved past ``before`` (the reload is a signal, not a call)."""
    deadline = time.monotonic() + timeout
    while True:
        document = read_server(connection, environment)
        if document.get("conf_load_time") != before or time.monotonic() > deadline:
            return document
        time.sleep(0.2)


def meminfo():
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            return parse_meminfo(handle.read())
    except OSError:
        return {}


def shm_size(connection, environment):
    """The container's /dev/shm size from docker inspect (bytes), None when unknown or not a container."""
    if connection["method"] != "docker":
        return None
    docker = shutil.which("docker", path=environment.get("PATH", os.defpath))
    if docker is None:
        return None
    code, stdout, _stderr = run_command([docker, "inspect", "--format", "{{.HostConfig.ShmSize}}",
                                         connection["container"]], environment, 30)
    try:
        return int(stdout.strip()) if code == 0 else None
    except ValueError:
        return None


SERVICE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"


def _systemctl():
    """systemctl's path when systemd is the service manager (as sd_booted(): /run/systemd/system), else None."""
    systemctl = shutil.which("systemctl", path=SERVICE_PATH)
    return systemctl if systemctl and os.path.isdir("/run/systemd/system") else None


def control_for(connection, document, cluster, environment):
    """plan.server_control for this server, with "systemctl" (its path, or None): reads systemd's ActiveState of the
    host cluster's unit."""
    name = cluster or document.get("cluster_name") or ""
    systemctl = _systemctl() if connection["method"] == "local_socket" else None
    parts = plan.cluster_unit(name)
    unit_state = None
    if systemctl and parts:
        code, stdout, _stderr = run_command([systemctl, "show", "--property=ActiveState", "--value", parts[2]],
                                            environment, 30)
        unit_state = stdout.strip() if code == 0 else None
    return dict(plan.server_control(connection["method"], name, systemctl is not None, unit_state), systemctl=systemctl)


def reload_server(connection, control, environment, timeout):
    """Reload the configuration: systemctl reload of the cluster's unit (its ExecReload, in the unit's journal) or
    pg_reload_conf(). Returns the way it reloaded (control["reload"], or pg_reload_conf when systemctl failed) and
    the warning when it fell back."""
    if control["reload"] == "systemd":
        argv = [control.get("systemctl") or "systemctl", "reload", control["unit"]]
        code, stdout, stderr = run_command(argv, environment, timeout)
        if code == 0:
            return "systemd", None
        failure = f"did not finish within {timeout} s" if code is None else clean_message(stderr or stdout)
        warning = f"systemctl reload {control['unit']} failed ({failure}); reloaded with pg_reload_conf() instead"
    else:
        warning = None
    execute(connection, RELOAD_SQL, environment)
    return "pg_reload_conf", warning


def restart_argv(connection, control, environment):
    """argv that restarts the server: docker restart, systemctl restart postgresql@V-C, or pg_ctlcluster V C restart."""
    if control["restart"] == "docker":
        docker = shutil.which("docker", path=environment.get("PATH", os.defpath))
        if docker is None:
            raise RunError("the docker command is not installed on the target")
        return [docker, "restart", "--time", "60", connection["container"]]
    if control["restart"] == "systemd":
        return [control.get("systemctl") or "systemctl", "restart", control["unit"]]
    if control["restart"] is None:
        raise RunError(f"cannot tell the cluster to restart (cluster_name is {control['cluster']!r}); set cluster, "
                       f"e.g. 15/main")
    pg_ctlcluster = shutil.which("pg_ctlcluster", path=SERVICE_PATH)
    if pg_ctlcluster is None:
        raise RunError("neither systemd nor pg_ctlcluster is there to restart the cluster")
    # pg_ctl options after "--": pg_ctlcluster then does not redirect to systemctl (the unit does not run it).
    return [pg_ctlcluster, control["version"], control["name"], "restart", "--", "-m", "fast"]


def restart(connection, document, control, environment, timeout):
    """Restart once and wait (bounded) until the server answers with a new postmaster start time."""
    argv = restart_argv(connection, control, environment)
    code, stdout, stderr = run_command(argv, environment, timeout)
    if code is None:
        raise RunError(f"{' '.join(argv[:3])} did not finish within {timeout} s")
    if code != 0:
        raise RunError(f"{' '.join(argv)} failed: {clean_message(stderr or stdout)}")
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            after = read_server(connection, environment)
            if after.get("postmaster_start_time") != document.get("postmaster_start_time"):
                return after
        except RunError as error:
            last = error
        time.sleep(0.5)
    raise RunError(f"the server did not come back within {timeout} s after the restart"
                   + (f": {last}" if last else ""))


def load_state(path):
    """{name: previous postgresql.auto.conf value or None} saved before the first change; {} when none."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise RunError(f"cannot read the state file {path}: {error}") from None
    saved = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(saved, dict):
        raise RunError(f"the state file {path} is not one this module wrote")
    return saved


def save_state(path, instance, saved):
    """Write the state file atomically (mode 0600, its directory 0700)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    payload = {"format": 1, "instance": instance, "written_by": APPLICATION_NAME,
               "note": "postgresql.auto.conf values before hostcare.vps.postgresql_settings changed them "
                       "(null: not set there); state=reverted restores them", "settings": saved}
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".state-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, sort_keys=True)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
