# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostcare_workload parsers on recorded /proc files, docker inspect answers and systemctl output
(tests/fixtures/workload/), and the promise that no other environment value and no password gets through."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _app_env, _processes, _workload_systemd
from ansible_collections.hostcare.vps.plugins.module_utils._workload import build_workload_facts
from ansible_collections.hostcare.vps.plugins.module_utils._workload_containers import container_facts

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "workload")
SECRETS = ("S3cretPw", "Hidden1", "T0pSecretKeyBase", "Zz9", "abc def", "SHOULD_NOT_APPEAR", "hunter2", "secrets",
           "sslpassword", "SECRET_KEY_BASE", "AWS_SECRET", "OTHER_TOKEN")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return json.load(handle) if name.endswith(".json") else handle.read()


def assert_no_secret(value):
    text = json.dumps(value)
    for secret in SECRETS:
        assert secret not in text, secret


@pytest.fixture(name="proc_tree")
def fixture_proc_tree(tmp_path):
    """The recorded /proc of proc_host.json, as files."""
    recorded = fixture("proc_host.json")
    for pid, files in recorded["processes"].items():
        directory = tmp_path / pid
        directory.mkdir()
        for name, text in files.items():
            if text is not None:
                (directory / name).write_bytes(text.encode())
    (tmp_path / "self").mkdir()
    return tmp_path, recorded


# --------------------------------------------------------------------------------------------- /proc


def test_parse_stat_keeps_spaces_and_parentheses_of_comm():
    text = "801 ((sd-pam) x)) Z 501 801 801 0 -1 4194560 5000 0 12 0 300 120 0 0 20 0 1 0 1 0 0 18446744073709551615\n"
    assert _processes.parse_stat(text) == {"pid": 801, "comm": "(sd-pam) x)", "state": "Z", "ppid": 501, "rss_pages": 0}
    assert _processes.parse_stat("") is None
    assert _processes.parse_stat("12 (x) S") is None


@pytest.mark.parametrize("text, owner", [
    ("0::/system.slice/docker-" + "a" * 64 + ".scope\n", ("container", "a" * 64)),
    ("12:memory:/docker/" + "b" * 64 + "\n1:name=systemd:/docker/" + "b" * 64 + "\n0::/\n", ("container", "b" * 64)),
    ("0::/docker/" + "c" * 64 + "/docker/" + "d" * 64 + "\n", ("container", "d" * 64)),  # Docker in Docker
    ("0::/kubepods/burstable/pod1/cri-containerd-" + "e" * 64 + ".scope\n", ("container", "e" * 64)),
    ("0::/system.slice/nginx.service\n", ("systemd", "nginx.service")),
    ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/pm2.service\n", ("systemd", "pm2.service")),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ("0::/\n", None),
    ("", None),
])
def test_owner_of_cgroup(text, owner):
    assert _processes.owner_of_cgroup(_processes.cgroup_path(text)) == owner


@pytest.mark.parametrize("pid1_cgroup, root", [
    ("/init.scope", "/"),  # a host
    ("/", "/"),
    (None, "/"),  # /proc/1 unreadable
    ("/docker/" + "a" * 64 + "/init.scope", "/docker/" + "a" * 64),  # systemd in a container, cgroupns host (v1)
    ("/docker/" + "a" * 64, "/docker/" + "a" * 64),  # a plain container's PID 1, cgroupns host
])
def test_cgroup_root_is_the_one_of_pid_1(pid1_cgroup, root):
    assert _processes.cgroup_root({"pid": 1, "cgroup": pid1_cgroup}) == root
    assert _processes.cgroup_root(None) == "/"


def test_units_of_a_systemd_host_in_a_container_are_units_not_its_own_container():
    """The Molecule hosts (and system containers on cgroup v1 hosts) boot systemd inside Docker with the host's
    cgroup tree: every unit's path starts with the host container's own id, which is no owner (issue 18)."""
    outer, inner = "a" * 64, "b" * 64

    def process(pid, comm, cgroup, ppid=1):
        return {"pid": pid, "comm": comm, "state": "S", "ppid": ppid, "rss_bytes": pid * 4096, "pss_bytes": pid * 4096,
                "swap_bytes": 0, "cgroup": cgroup}

    processes = [
        process(1, "systemd", f"/docker/{outer}/init.scope", ppid=0),
        process(20, "systemd-journal", f"/docker/{outer}/system.slice/systemd-journald.service"),
        process(30, "python3", f"/docker/{outer}/system.slice/hostcare-memhog.service"),
        process(40, "dockerd", f"/docker/{outer}/system.slice/docker.service"),
        process(50, "sleep", f"/docker/{outer}/docker/{inner}"),  # an inner container (cgroupfs driver)
        process(60, "sleep", f"/docker/{inner}"),  # outside the host's root: kept as it is
    ]
    assert _processes.relative_cgroup(processes[2]["cgroup"], f"/docker/{outer}") == "/system.slice/hostcare-memhog.service"
    assert _processes.relative_cgroup(f"/docker/{outer}", f"/docker/{outer}") == "/"
    assert _processes.relative_cgroup(f"/docker/{outer}x/y", f"/docker/{outer}") == f"/docker/{outer}x/y"
    keys = {(group["kind"], group["name"]): group["processes"] for group in _processes.group_processes(processes)}
    assert keys == {("systemd", "systemd-journald.service"): 1, ("systemd", "hostcare-memhog.service"): 1,
                    ("systemd", "docker.service"): 1, ("container", inner): 2, ("command", "systemd"): 1}


def test_program_name_keeps_only_base_names():
    assert _processes.program_name(b"node\0/srv/api/server.js\0--password=hunter2\0") == "node server.js"
    assert _processes.program_name(b"/usr/bin/python3\0-c\0import secrets\0") == "python3"
    assert _processes.program_name(b"") is None


def test_read_and_group_the_recorded_proc(proc_tree):
    root, recorded = proc_tree
    clock = iter(range(0, 10 ** 6)).__next__
    processes, status = _processes.read_processes(str(root), time_budget=10 ** 6, clock=lambda: clock() * 1e-6)
    assert status["seen"] == len(recorded["processes"]) and status["complete"] is True
    groups = _processes.group_processes(processes, total_bytes=11534336 * 1024)
    by_name = {(group["kind"], group["name"]): group for group in groups}
    llm = recorded["container_ids"]["llm"]
    assert groups[0]["kind"] == "container" and groups[0]["name"] == llm
    assert groups[0]["memory_bytes"] == 6800000 * 1024 and groups[0]["memory_source"] == "pss"
    assert groups[0]["share_percent"] == pytest.approx(59.0, abs=0.1)
    # supervisord's program (and its child) is one owner, named by the script's base name, not the unit
    assert by_name[("supervisord", "python3 bot.py")]["processes"] == 2
    assert by_name[("supervisord", "supervisord")]["processes"] == 1
    assert by_name[("pm2", "node server.js")]["memory_bytes"] == 230000 * 1024
    assert by_name[("systemd", "nginx.service")]["processes"] == 2
    assert by_name[("container", "a" * 64)]["processes"] == 1  # cgroup v1 path
    postgres = by_name[("container", recorded["container_ids"]["postgres"])]
    assert postgres["postgres"] is True
    assert postgres["memory_source"] == "rss"  # one process without a readable smaps_rollup: RSS for the group
    assert ("command", "bash") in by_name  # a session scope is no unit: the process name
    assert not any(group["name"].startswith("kworker") or group["name"] == "kthreadd" for group in groups)
    stuck = _processes.stuck_processes(processes)
    assert stuck["d_state_count"] == 1 and stuck["d_state"][0]["comm"] == "rsync"
    assert stuck["zombies_count"] == 1 and stuck["zombies"][0]["parent"] == "node /srv/api/s"
    assert_no_secret(groups)


def test_read_processes_stops_at_its_time_budget(proc_tree):
    root, _recorded = proc_tree
    ticks = iter(range(10 ** 6))
    _processes_read, status = _processes.read_processes(str(root), time_budget=1.0, clock=lambda: next(ticks))
    assert status["complete"] is False and status["read"] < status["seen"]


def test_read_processes_on_this_machine_is_fast():
    processes, status = _processes.read_processes("/proc", time_budget=5)
    assert status["complete"] and processes and status["elapsed_seconds"] < 5


def test_build_workload_facts_names_containers_and_measures(proc_tree):
    root, recorded = proc_tree
    processes, status = _processes.read_processes(str(root), time_budget=100)
    llm = container_facts(dict(fixture("docker_inspect_web.json"), Id=recorded["container_ids"]["llm"],
                               Name="/llm", HostConfig={"Memory": 0, "ShmSize": 67108864}))
    pg = container_facts(dict(fixture("docker_inspect_postgres_default_shm.json"), Id=recorded["container_ids"]["postgres"]))
    docker = {"available": True, "reason_code": None, "reason": None, "containers": [llm, pg]}
    facts = build_workload_facts({"meminfo": recorded["meminfo"], "loadavg": recorded["loadavg"], "cpu_count": 4,
                                  "processes": processes, "process_status": status, "docker": docker}, top=3)
    assert [group["name"] for group in facts["groups"]][:1] == ["llm"]
    assert len(facts["groups"]) == 3 and facts["groups_total"] > 3
    assert facts["memory"]["total_bytes"] == 11534336 * 1024 and facts["memory"]["swap_total_bytes"] == 0
    assert facts["load"] == {"load1": 9.5, "load5": 7.8, "load15": 6.1}
    assert llm["memory_usage_bytes"] == 6800000 * 1024 and llm["memory_usage_source"] == "pss"
    assert facts["measured"]["postgres_bytes"] == (35000 + 30000) * 4096
    assert facts["measured"]["other_bytes"] + facts["measured"]["postgres_bytes"] == facts["measured"]["total_bytes"]
    assert facts["systemd"]["available"] is False
    assert_no_secret(facts)

# --------------------------------------------------------------------------------------------- Docker


def test_container_facts_of_a_recorded_inspect_keep_only_the_app_variables():
    facts = container_facts(fixture("docker_inspect_web.json"), usage_bytes=123)
    assert facts["memory_limit_bytes"] == 256 * 1024 * 1024 and facts["swap_limit_bytes"] == 256 * 1024 * 1024
    assert facts["shm_size_bytes"] == 64 * 1024 * 1024 and facts["restart_policy"] == "always"
    assert facts["compose_project"] == "shop" and facts["app_role"] == "web"
    assert facts["app_variables"] == {
        "DB_POOL": 52, "RAILS_MAX_THREADS": 8, "WEB_CONCURRENCY": 4,
        "DATABASE_URL": {"scheme": "postgres", "user": "app", "host": "db", "port": 5432, "dbname": "app", "pool": 7,
                         "url": "postgres://app@db:5432/app?pool=7"}}
    assert facts["postgres"] is False
    assert_no_secret(facts)


def test_container_facts_of_a_restart_loop_and_a_postgres_container():
    loop = container_facts(fixture("docker_inspect_restart_loop.json"))
    assert loop["restarting"] is True and loop["restart_count"] == 5 and loop["exit_code"] == 3
    assert loop["memory_limit_bytes"] is None and loop["swap_limit_bytes"] is None
    pg = container_facts(fixture("docker_inspect_postgres_default_shm.json"))
    assert pg["postgres"] is True and pg["shm_size_bytes"] == 64 * 1024 * 1024 and pg["app_variables"] == {}

# --------------------------------------------------------------------------------------------- env


@pytest.mark.parametrize("url, expected", [
    ("postgres://app:S3cretPw@db:5432/app", "postgres://app@db:5432/app"),
    ("postgresql://app:S3cretPw@db/app?pool=25&sslpassword=Hidden1", "postgresql://app@db/app?pool=25"),
    ("postgres://:S3cretPw@db/app", "postgres://db/app"),
    ("postgres:///app?host=/run/postgresql&password=S3cretPw", "postgres:///run/postgresql/app"),
])
def test_database_url_drops_the_password(url, expected):
    parts = _app_env.database_url(url)
    assert parts["url"] == expected
    assert_no_secret(parts)


@pytest.mark.parametrize("url", ["mysql://root:S3cretPw@db/app", "postgres://app:S3cretPw@db:99999/app", "S3cretPw"])
def test_an_unreadable_database_url_says_so_without_its_text(url):
    parts = _app_env.database_url(url)
    assert set(parts) == {"error"}
    assert_no_secret(parts)


def test_only_the_app_variables_are_kept():
    found = _app_env.env_list_variables(["SECRET_KEY_BASE=T0pSecretKeyBase", "DB_POOL=5", "WEB_CONCURRENCY=x",
                                         "SIDEKIQ_CONCURRENCY=１２", "RAILS_MAX_THREADS", 7])
    assert found == {"DB_POOL": 5, "WEB_CONCURRENCY": {"invalid": True}, "SIDEKIQ_CONCURRENCY": {"invalid": True}}
    dotenv = _app_env.env_file_variables(fixture("shop.env.dotenv"))
    assert dotenv["DB_POOL"] == 52 and dotenv["DATABASE_URL"]["pool"] == 9 and set(dotenv) == {"DB_POOL", "DATABASE_URL"}
    environment_file = _app_env.env_file_variables(fixture("shop.env.environmentfile"))
    assert environment_file == {"WEB_CONCURRENCY": 4, "RAILS_MAX_THREADS": 8}
    assert _app_env.systemd_environment_variables('RAILS_MIN_THREADS=2 "OTHER_TOKEN=abc def"') == {"RAILS_MIN_THREADS": 2}
    assert_no_secret([dotenv, environment_file])

# --------------------------------------------------------------------------------------------- systemd


def test_recorded_systemctl_output(tmp_path):
    (tmp_path / "run" / "systemd" / "system").mkdir(parents=True)
    files = {"/srv/shop/.env": fixture("shop.env.dotenv"), "/etc/shop.env": fixture("shop.env.environmentfile")}
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, fixture("systemd_list_units.txt" if argv[1] == "list-units" else "systemd_show.txt"), ""

    facts = _workload_systemd.read_systemd(run, root=str(tmp_path), read_file=files.get)
    assert facts["available"] is True
    assert "crashy.service" in calls[1] and all(arg.endswith(".service") or arg.startswith("--") for arg in calls[1][2:])
    assert [unit["unit"] for unit in facts["failed"]] == ["broken.service"]
    assert facts["failed"][0]["exit_status"] == 4
    crashy = [unit for unit in facts["restarted"] if unit["unit"] == "crashy.service"][0]
    assert crashy["restarts"] == 5 and crashy["sub_state"] == "auto-restart"
    [app] = facts["apps"]
    assert app["unit"] == "shop-web.service" and app["app_kind"] == "web"
    assert app["app_variables"]["WEB_CONCURRENCY"] == 4 and app["app_variables"]["DB_POOL"] == 52
    assert app["app_variables"]["RAILS_MIN_THREADS"] == 2
    assert app["app_variable_sources"] == {"DB_POOL": "/srv/shop/.env", "DATABASE_URL": "/srv/shop/.env",
                                           "WEB_CONCURRENCY": "/etc/shop.env", "RAILS_MAX_THREADS": "/etc/shop.env",
                                           "RAILS_MIN_THREADS": "Environment="}
    assert_no_secret(facts)


def test_no_systemd_no_command(tmp_path):
    def run(argv):
        raise AssertionError("systemctl must not run without systemd")

    assert _workload_systemd.read_systemd(run, root=str(tmp_path))["available"] is False
