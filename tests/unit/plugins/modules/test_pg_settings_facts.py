# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_settings_facts: the module's contract, then live tests against real PostgreSQL servers.

The live tests (test_live_*) start a throwaway cluster with initdb as the postgres OS user on a free loopback
port, and a PostgreSQL container for method=docker. They need root, the Debian packages postgresql,
python3-psycopg and python3-psycopg2, and Docker (tests/scripts/ensure-docker.sh installs it as root); the
fixtures fail with the command to run when something is missing.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from unittest import mock
from urllib.parse import quote

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.module_utils import _postgres as pg
from ansible_collections.hostcare.vps.plugins.module_utils import _postgres_connection as pg_connection
from ansible_collections.hostcare.vps.plugins.modules import audit_facts, pg_settings_facts
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.fact_shapes import documented_keys, fact_keys
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "postgres")
# The collection root on sys.path (…/ansible_collections/hostcare/vps/plugins/module_utils/_postgres.py, 5 up).
COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(pg.__file__), *[".."] * 5))
SYSTEM_PYTHON = "/usr/bin/python3"
APP_PASSWORD = "Hc-pw_7f3a'x\"y z"
WRONG_PASSWORD = "Wr0ng-hc-pw_91c2"


def _run_module(capsys, args=None):
    return run_module(pg_settings_facts.main, capsys, args)


def _recorded_facts():
    with open(os.path.join(FIXTURES, "pg15_superuser_socket.json"), encoding="utf-8") as handle:
        document = pg.parse_facts_document(handle.read())
    return pg.build_postgres_facts(document, "local_socket", "psql", (42577920, None))


# --- the module's contract -------------------------------------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
def test_main_returns_only_facts(capsys, check_mode):
    with mock.patch.object(pg_settings_facts, "gather_postgres_facts", return_value=_recorded_facts()) as gather:
        code, result = _run_module(capsys, {"_ansible_check_mode": check_mode})
    assert code == 0
    assert result["changed"] is False
    assert set(result) - {"invocation"} == {"changed", "ansible_facts"}
    assert result["ansible_facts"]["hostcare_postgres"]["settings"]["shared_buffers"]["val_in_bytes"] == 268435456
    assert gather.call_args.args[0]["method"] == "local_socket"


@pytest.mark.parametrize("args, message", [
    ({"port": 0}, "port: must be a TCP port at least 1 and at most 65535, got 0"),
    ({"port": 99999}, "port: must be a TCP port at least 1 and at most 65535, got 99999"),
    ({"uri": "postgresql://db/app", "host": "db"}, "uri and host cannot be used together"),
    ({"method": "docker"}, "container: required with method=docker"),
    ({"timeout": -1}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got -1"),
    ({"timeout": 1e300}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got 1e+300"),
    ({"timeout": float("nan")}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got nan"),
    ({"timeout": float("inf")}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got inf"),
    ({"timeout": "\u0661\u0660"}, "timeout: must be a whole number of seconds at least 1 and at most 3600, got '\u0661\u0660'"),
    ({"port": float("inf")}, "port: must be a TCP port at least 1 and at most 65535, got inf"),
    ({"port": "\u0665\u0664\u0663\u0662"}, "port: must be a TCP port at least 1 and at most 65535, got '\u0665\u0664\u0663\u0662'"),
    ({"socket_dir": "/run/../run/postgresql"}, "socket_dir: must be a normalised path"),
    ({"socket_dir": ""}, "socket_dir: must be an absolute path, got ''"),
    ({"password": "a\0b"}, "password: must not contain NUL characters"),
])
def test_main_names_the_bad_option(capsys, args, message):
    code, result = _run_module(capsys, args)
    assert code == 1 and result["failed"] is True
    assert result["msg"].startswith(message)
    assert "Traceback" not in json.dumps(result)


@pytest.mark.parametrize("args, words", [
    ({"method": "ssh"}, ["method", "ssh"]),
    ({"port": "five"}, ["port"]),
    ({"sslmode": "require"}, ["sslmode"]),
])
def test_main_refuses_what_the_argument_spec_refuses(capsys, args, words):
    code, result = _run_module(capsys, args)
    assert code == 1
    assert all(word in result["msg"] for word in words)


def test_main_fails_cleanly_on_unexpected_errors(capsys):
    with mock.patch.object(pg_settings_facts, "gather_postgres_facts", side_effect=RuntimeError("boom")):
        code, result = _run_module(capsys)
    assert code == 1
    assert result["msg"] == "Could not gather PostgreSQL facts: RuntimeError: boom"
    assert "exception" not in result


@pytest.mark.parametrize("fail_on_unavailable", [False, True])
def test_unavailable_fails_only_when_asked(capsys, fail_on_unavailable):
    facts = pg.unavailable_facts("tcp", "psql", "auth_failed", 'authentication failed: for user "app"')
    with mock.patch.object(pg_settings_facts, "gather_postgres_facts", return_value=facts):
        code, result = _run_module(capsys, {"host": "db", "fail_on_unavailable": fail_on_unavailable})
    assert result["ansible_facts"]["hostcare_postgres"] == facts
    if fail_on_unavailable:
        assert code == 1
        assert result["msg"] == 'PostgreSQL is not available (auth_failed): authentication failed: for user "app"'
    else:
        assert code == 0 and "failed" not in result


def test_documentation_matches_argument_spec():
    documentation = yaml.safe_load(pg_settings_facts.DOCUMENTATION)
    assert documentation["version_added"] == "0.1.0"
    assert documentation["extends_documentation_fragment"] == ["hostcare.vps._attributes.facts"]
    options = documentation["options"]
    assert set(options) == set(pg_settings_facts.ARGUMENT_SPEC)
    for name, spec in pg_settings_facts.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        assert options[name].get("choices") == spec.get("choices"), name
    assert {name for name, spec in pg_settings_facts.ARGUMENT_SPEC.items() if spec.get("no_log")} == {"password", "uri"}
    yaml.safe_load(pg_settings_facts.EXAMPLES)


def test_every_reason_code_is_documented():
    documented = yaml.safe_load(pg_settings_facts.RETURN)["ansible_facts"]["contains"]["hostcare_postgres"][
        "contains"]["reason_code"]["choices"]
    source = ""
    for module in (pg, pg_connection):
        with open(module.__file__, encoding="utf-8") as handle:
            source += handle.read()
    produced = {code for code, _pattern, _summary in pg_connection._ERROR_KINDS}
    produced |= set(re.findall(r'\("unavailable", "([a-z_]+)"', source))
    produced |= {"timeout", "unexpected_output", "error"}
    assert produced == set(documented)


def _with_settings_as_one_entry(keys):
    """settings and by_state have data as keys: settings is documented by one entry, by_state as a plain dict."""
    keys = dict(keys)
    keys["settings"] = {"setting_name": next(iter(keys["settings"].values()))}
    keys["connections"] = dict(keys["connections"], by_state=None)
    return keys


def test_return_documents_every_fact():
    documented = documented_keys(yaml.safe_load(pg_settings_facts.RETURN)["ansible_facts"]["contains"])
    assert _with_settings_as_one_entry(fact_keys(_recorded_facts())) == documented["hostcare_postgres"]


def test_facts_follow_docs_facts_md():
    with open(os.path.join(REPO, "docs", "facts.md"), encoding="utf-8") as handle:
        section = handle.read().split("## `hostcare.vps.pg_settings_facts`", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    expected = _with_settings_as_one_entry(fact_keys(yaml.safe_load(block)["hostcare_postgres"]))
    assert _with_settings_as_one_entry(fact_keys(_recorded_facts())) == expected


# --- live: a throwaway cluster ---------------------------------------------------------------------------

def _need(condition, message):
    if not condition:
        pytest.fail(message, pytrace=False)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(argv, **kwargs):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + argv, cwd="/", check=True, capture_output=True,
                          text=True, **kwargs)


class Cluster:
    """A PostgreSQL cluster in a temporary directory, owned and run by the postgres OS user."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.directory = tempfile.mkdtemp(prefix="hcpg-cluster-")
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = os.path.join(self.directory, "data")
        self.port = _free_port()

    def pg_ctl(self, *arguments):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        return _as_postgres([os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data, "-l",
                             os.path.join(self.directory, "log"), "-w", "-t", "60", "-o", options] + list(arguments))

    def psql(self, *sql):
        commands = [argument for statement in sql for argument in ("-c", statement)]
        return _as_postgres(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.directory, "-p", str(self.port)]
                            + commands)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid"), encoding="utf-8") as handle:
            return int(handle.readline())


@pytest.fixture(name="cluster", scope="module")
def cluster_fixture():
    _need(os.geteuid() == 0, "the live PostgreSQL tests run initdb as the postgres OS user: run them as root")
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    _need(initdbs and shutil.which("psql"),
          "the live PostgreSQL tests need the server and psql: apt-get install postgresql")
    cluster = Cluster(os.path.dirname(initdbs[-1]))
    try:
        _as_postgres([initdbs[-1], "-D", cluster.data, "-U", "postgres", "-E", "UTF8", "--no-sync",
                      "--auth-local=peer", "--auth-host=scram-sha-256"])
        cluster.pg_ctl("start")
        escaped = APP_PASSWORD.replace("'", "''")
        cluster.psql(f"CREATE ROLE app LOGIN PASSWORD '{escaped}'", "CREATE DATABASE appdb OWNER app",
                     f"ALTER ROLE postgres PASSWORD '{escaped}'")
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture(name="system_python", scope="module")
def system_python_fixture():
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import psycopg, psycopg2"], capture_output=True, check=False)
    _need(found.returncode == 0, f"the live psycopg tests run {SYSTEM_PYTHON} with both drivers: "
                                 "apt-get install python3-psycopg python3-psycopg2")
    return SYSTEM_PYTHON


def _params(**overrides):
    params = {name: spec.get("default") for name, spec in pg_settings_facts.ARGUMENT_SPEC.items()}
    params.update(overrides)
    return params


def _gather(client, params, system_python=None, environment=None):
    """hostcare_postgres through psql (in this process) or a Python driver (in the system's python3)."""
    connection = pg_connection.resolve_connection(_params(**params))
    if client == "psql":
        return pg.gather_postgres_facts(connection, drivers=(), base_environment=environment)
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]);"
              "from ansible_collections.hostcare.vps.plugins.module_utils._postgres import gather_postgres_facts;"
              "print(json.dumps(gather_postgres_facts(json.loads(sys.argv[2]), drivers=(sys.argv[3],))))")
    result = subprocess.run([system_python, "-c", script, COLLECTIONS_ROOT, json.dumps(connection), client],
                            capture_output=True, text=True, check=True, timeout=120)
    return json.loads(result.stdout)


def _tcp(cluster, **overrides):
    params = {"host": "127.0.0.1", "port": cluster.port, "user": "app", "password": APP_PASSWORD, "dbname": "appdb"}
    params.update(overrides)
    return params


def test_live_local_socket_as_os_user_postgres(capsys, cluster):
    code, result = _run_module(capsys, {"socket_dir": cluster.directory, "port": cluster.port})
    assert code == 0, result
    facts = result["ansible_facts"]["hostcare_postgres"]
    assert (facts["available"], facts["method"], facts["client"]) == (True, "local_socket", "psql")
    assert facts["version"]["major"] == int(cluster.bin_dir.split("/")[4])
    assert facts["settings"]["shared_buffers"]["val_in_bytes"] == 128 * 1024 ** 2
    assert facts["settings"]["fsync"]["setting"] == "off" and facts["settings"]["fsync"]["source"] == "command line"
    assert facts["data_directory"]["path"] == cluster.data
    assert facts["data_directory"]["size_bytes"] > 10 * 1024 ** 2 and facts["data_directory"]["reason"] is None
    assert {database["name"] for database in facts["databases"]} == {"appdb", "postgres", "template0", "template1"}
    assert facts["databases_total_bytes"] < facts["data_directory"]["size_bytes"]


def test_live_audit_facts_reads_the_same_native_instance(capsys, cluster):
    """The audit reads the host's own PostgreSQL inside hostcare.vps.audit_facts: the same facts as the module."""
    where = {"socket_dir": cluster.directory, "port": cluster.port}
    code, combined = run_module(audit_facts.main, capsys, {"areas": ["postgres"], "postgres": where})
    code_alone, alone = _run_module(capsys, {**where, "method": "local_socket"})
    assert (code, code_alone) == (0, 0), combined
    together = combined["areas"]["postgres"]["ansible_facts"]["hostcare_postgres"]
    facts = alone["ansible_facts"]["hostcare_postgres"]
    assert together["available"] is True and together["method"] == "local_socket"
    assert {name: item["setting"] for name, item in together["settings"].items()} == \
        {name: item["setting"] for name, item in facts["settings"].items()}
    assert together["data_directory"]["path"] == facts["data_directory"]["path"] == cluster.data


@pytest.mark.parametrize("client", ["psql", "psycopg", "psycopg2"])
def test_live_tcp_with_password(cluster, system_python, client):
    facts = _gather(client, _tcp(cluster), system_python)
    assert (facts["available"], facts["method"], facts["client"]) == (True, "tcp", client), facts["reason"]
    assert facts["data_directory"] == {
        "path": None, "size_bytes": None,
        "reason": "data_directory is only visible to superusers and members of pg_read_all_settings",
    }
    assert facts["settings"]["max_connections"]["setting"] == "100"
    assert facts["databases_total_bytes"] > 0


@pytest.mark.parametrize("client", ["psql", "psycopg"])
def test_live_tcp_as_superuser_measures_the_data_directory(cluster, system_python, client):
    # Over TCP the directory is measured only after its pg_control matched the server's system identifier.
    facts = _gather(client, _tcp(cluster, user="postgres", dbname="postgres"), system_python)
    assert facts["available"] is True, facts["reason"]
    assert facts["data_directory"]["path"] == cluster.data
    assert facts["data_directory"]["size_bytes"] > 10 * 1024 ** 2 and facts["data_directory"]["reason"] is None


@pytest.mark.parametrize("client", ["psql", "psycopg"])
def test_live_uri(cluster, system_python, client):
    uri = f"postgresql://app:{quote(APP_PASSWORD, safe='')}@127.0.0.1:{cluster.port}/appdb?connect_timeout=5"
    facts = _gather(client, {"uri": uri}, system_python)
    assert (facts["available"], facts["method"], facts["client"]) == (True, "tcp", client), facts["reason"]


def test_live_module_over_tcp_sees_the_connections(capsys, cluster):
    with subprocess.Popen(["psql", "-X", "-q", "-c", "SELECT pg_sleep(20)"], env=dict(
            os.environ, PGHOST="127.0.0.1", PGPORT=str(cluster.port), PGUSER="app", PGDATABASE="appdb",
            PGPASSWORD=APP_PASSWORD, PGAPPNAME="puma"), stdout=subprocess.DEVNULL) as sleeper:
        try:
            deadline = time.monotonic() + 10
            while True:
                code, result = _run_module(capsys, _tcp(cluster))
                connections = result["ansible_facts"]["hostcare_postgres"]["connections"]
                if connections["by_state"]["active"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            sleeper.kill()
    assert code == 0
    assert connections["by_state"]["active"] == 1
    assert {"database": "appdb", "user": "app", "count": 1} in connections["by_database_user"]


@pytest.mark.parametrize("client", ["psql", "psycopg", "psycopg2"])
def test_live_wrong_password(cluster, system_python, client):
    facts = _gather(client, _tcp(cluster, password=WRONG_PASSWORD), system_python)
    assert (facts["available"], facts["reason_code"]) == (False, "auth_failed")
    assert facts["reason"].startswith("authentication failed: ")
    assert 'password authentication failed for user "app"' in facts["reason"]
    assert WRONG_PASSWORD not in json.dumps(facts)


def test_live_module_wrong_password_fails_when_asked(capsys, cluster):
    code, result = _run_module(capsys, _tcp(cluster, password=WRONG_PASSWORD, fail_on_unavailable=True))
    assert code == 1
    assert result["msg"].startswith("PostgreSQL is not available (auth_failed): authentication failed: ")
    assert WRONG_PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("client", ["psql", "psycopg"])
def test_live_port_with_nothing_listening(system_python, client):
    facts = _gather(client, {"host": "127.0.0.1", "port": _free_port(), "user": "app", "password": "x"}, system_python)
    assert (facts["available"], facts["reason_code"]) == (False, "not_running")
    assert "Connection refused" in facts["reason"]


def test_live_psql_absent(cluster, tmp_path):
    for params in (_tcp(cluster), {"socket_dir": cluster.directory, "port": cluster.port}):
        facts = _gather("psql", params, environment={"PATH": str(tmp_path)})
        assert (facts["available"], facts["client"], facts["reason_code"]) == (False, None, "psql_missing")
        assert "apt-get install postgresql-client" in facts["reason"]


def test_live_hung_server(cluster, system_python):
    pid = cluster.postmaster_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        for client in ("psql", "psycopg"):
            started = time.monotonic()
            facts = _gather(client, _tcp(cluster, timeout=1), system_python)
            assert (facts["available"], facts["reason_code"]) == (False, "timeout"), facts["reason"]
            assert time.monotonic() - started < 8
    finally:
        os.kill(pid, signal.SIGCONT)


def test_live_server_stopped(capsys, cluster, system_python):
    cluster.pg_ctl("-m", "fast", "stop")
    try:
        code, result = _run_module(capsys, {"socket_dir": cluster.directory, "port": cluster.port})
        facts = result["ansible_facts"]["hostcare_postgres"]
        assert code == 0
        assert (facts["available"], facts["reason_code"]) == (False, "not_running")
        assert "No such file or directory" in facts["reason"]
        for client in ("psql", "psycopg2"):
            facts = _gather(client, _tcp(cluster), system_python)
            assert (facts["available"], facts["reason_code"]) == (False, "not_running")
    finally:
        cluster.pg_ctl("start")


# --- live: PostgreSQL in a container ---------------------------------------------------------------------

def _docker(*arguments, check=True):
    return subprocess.run(["docker"] + list(arguments), capture_output=True, text=True, check=check, timeout=600)


def _build_image(script, *arguments):
    built = subprocess.run(["bash", os.path.join(REPO, "tests", "images", script)] + list(arguments),
                           capture_output=True, text=True, check=False)
    _need(built.returncode == 0, f"building a test image with tests/images/{script} failed:\n" + built.stderr[-2000:])
    return built.stdout.strip().splitlines()[-1]


def _postgres_image():
    """The services test image (Debian 12 with PostgreSQL 15), the one the Molecule scenarios use; cached by tag."""
    return _build_image("build-services.sh", "bookworm")


@pytest.fixture(name="container", scope="module")
def container_fixture():
    ensured = subprocess.run(["bash", os.path.join(REPO, "tests", "scripts", "ensure-docker.sh")],
                             capture_output=True, text=True, check=False)
    _need(ensured.returncode == 0, "the live docker tests need Docker:\n" + ensured.stderr)
    name = f"hcpg-test-{uuid.uuid4().hex[:8]}"
    try:
        _docker("run", "-d", "--name", name, _postgres_image(), "sleep", "infinity")
        _docker("exec", name, "sh", "-c", "pg_ctlcluster $(ls /usr/lib/postgresql) main start")
        escaped = APP_PASSWORD.replace("'", "''")
        _docker("exec", "--user=postgres", name, "psql", "-X", "-q", "-c", f"CREATE ROLE app LOGIN PASSWORD '{escaped}'",
                "-c", "CREATE DATABASE appdb OWNER app")
        yield name
    finally:
        _docker("rm", "-f", name, check=False)


def test_live_docker_through_the_container_socket(capsys, container):
    code, result = _run_module(capsys, {"container": container})
    assert code == 0, result
    facts = result["ansible_facts"]["hostcare_postgres"]
    assert (facts["available"], facts["method"], facts["client"]) == (True, "docker", "psql"), facts["reason"]
    assert facts["version"]["major"] >= 15
    assert facts["data_directory"]["path"].startswith("/var/lib/postgresql/")
    assert facts["data_directory"]["size_bytes"] > 10 * 1024 ** 2
    assert "io_method" in facts["settings"] or facts["version"]["major"] < 18


def test_live_docker_with_password_inside_the_container(container):
    facts = _gather("psql", {"container": container, "host": "127.0.0.1", "user": "app", "password": APP_PASSWORD,
                             "dbname": "appdb"})
    assert (facts["available"], facts["method"]) == (True, "docker"), facts["reason"]
    assert facts["data_directory"]["reason"] == "data_directory is only visible to superusers and members of " \
                                                "pg_read_all_settings"


@pytest.mark.parametrize("params, code", [
    ({"host": "127.0.0.1", "user": "app", "password": WRONG_PASSWORD}, "auth_failed"),
    ({"docker_user": "hcpg-nobody"}, "docker_user_missing"),
    ({"port": 1}, "not_running"),
])
def test_live_docker_failures(container, params, code):
    facts = _gather("psql", dict(params, container=container))
    assert (facts["available"], facts["reason_code"]) == (False, code), facts["reason"]
    assert WRONG_PASSWORD not in json.dumps(facts)


def test_live_docker_container_missing(container):
    facts = _gather("psql", {"container": f"{container}-gone"})
    assert (facts["available"], facts["reason_code"]) == (False, "container_missing")
