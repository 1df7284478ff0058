# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import (
    BlueGreenError,
    Deadline,
    HealthWatch,
    container_name,
    container_spec,
    create_body,
    demux_logs,
    describe_drift,
    docker_health_probe,
    drift,
    load_state,
    next_state,
    parse_app_containers,
    plan_release,
    probe_address,
    render_upstream,
    spec_digest,
    strays,
)
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_docker import BlueGreenDocker, probe_http
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_inputs import (
    checked_options,
    docker_option_errors,
    option_errors,
    parse_env_file,
)

V1 = "sha256:" + "1" * 64
V2 = "sha256:" + "2" * 64
V3 = "sha256:" + "3" * 64


def params(**overrides):
    base = {
        "app": "demo", "action": "deploy", "image": "app:v1", "rollback_to": None, "container_port": 8000,
        "blue_port": 8001, "green_port": 8002, "bind_address": "127.0.0.1", "env": {}, "env_files": [],
        "volumes": [], "networks": [], "command": None, "restart_policy": "unless-stopped", "docker_options": {},
        "health_check": {"type": "http", "path": "/up", "status": 200, "interval": 1.0, "timeout": 5.0,
                         "retries": 3, "start_period": 30.0},
        "upstream_file": "/etc/nginx/conf.d/demo.conf", "upstream_name": "demo", "nginx_keepalive": 16,
        "drain_seconds": 30.0, "stop_timeout": 10, "keep_releases": 3, "state_dir": "/var/lib/hostcare/bluegreen",
        "nginx_test_command": ["nginx", "-t"], "nginx_reload_command": ["nginx", "-s", "reload"], "time_budget": 900.0,
        "socket_path": "/var/run/docker.sock", "timeout": 60.0,
    }
    base.update(overrides)
    return base


def release(colour, image_id, image=None, when="2026-11-23T10:00:00Z", digest="c0"):
    return {"colour": colour, "container": container_name("demo", colour, image_id, digest),
            "image": image or f"app:{image_id[7]}", "image_id": image_id, "deployed_at": when}


def settings(digest):
    """A digest_of for plan_release: every image gets the same settings digest."""
    return lambda _image_id: digest


def container(rel, running, config="c0"):
    return {"id": rel["container"] + "-id", "name": rel["container"], "running": running, "colour": rel["colour"],
            "release": rel["image_id"], "config": config}


def state(live, *others):
    return {"app": "demo", "live": live, "releases": [live, *others] if live else list(others)}


# --- inputs ---------------------------------------------------------------------------------------------------

def test_good_options_have_no_errors():
    assert option_errors(params()) == []


@pytest.mark.parametrize("overrides, expected", [
    ({"app": "Demo"}, "app: use 1 to 63 lowercase"),
    ({"app": "a/b"}, "app: use 1 to 63 lowercase"),
    ({"image": None}, "image: required with action=deploy"),
    ({"green_port": 8001}, "blue_port and green_port: must differ"),
    ({"container_port": 0}, "container_port: must be a TCP port"),
    ({"upstream_file": "conf.d/demo.conf"}, "upstream_file: must be an absolute path"),
    ({"upstream_name": "demo app"}, "upstream_name: use letters"),
    ({"drain_seconds": -1.0}, "drain_seconds: must be a number of seconds at least 0 and at most 600"),
    ({"keep_releases": -1}, "keep_releases: must be a whole number at least 0 and at most 100"),
    ({"env": {"1BAD": "x"}}, "env: '1BAD' is not a valid variable name"),
    ({"volumes": ["data"]}, "volumes: use SOURCE:/container/path"),
    ({"volumes": ["data:relative"]}, "volumes: use SOURCE:/container/path"),
])
def test_bad_options_are_named(overrides, expected):
    errors = option_errors(params(**overrides))
    assert any(error.startswith(expected) for error in errors), errors


def test_bad_health_options_are_named():
    health = {"type": "http", "path": "up", "status": 99, "interval": 0.0, "timeout": -1.0, "retries": 0,
              "start_period": -1.0}
    errors = option_errors(params(health_check=health))
    assert [error.split(":")[0] for error in errors] == [
        "health_check.path", "health_check.status", "health_check.interval", "health_check.timeout",
        "health_check.retries", "health_check.start_period"]


def test_checked_options_convert_numbers_and_fill_in_the_health_defaults():
    checked, errors = checked_options(params(blue_port="9001", drain_seconds="2.5", health_check={"retries": "4"}))
    assert errors == []
    assert (checked["blue_port"], checked["drain_seconds"]) == (9001, 2.5)
    assert checked["health_check"] == {"type": "http", "path": "/up", "status": 200, "interval": 1, "timeout": 5,
                                       "retries": 4, "start_period": 30}


def test_rollback_needs_no_image():
    assert option_errors(params(action="rollback", image=None)) == []


def test_env_file_is_read_as_docker_does():
    text = "# comment\n\nDATABASE_URL=postgres://db/app?x=1\nEMPTY=\n  SPACED=a b \nQUOTED=\"kept\"\n"
    assert parse_env_file(text, "/etc/app.env") == {
        "DATABASE_URL": "postgres://db/app?x=1", "EMPTY": "", "SPACED": "a b ", "QUOTED": '"kept"'}


def test_env_file_error_names_file_and_line():
    with pytest.raises(BlueGreenError, match=r"/etc/app.env line 2 is not KEY=VALUE. Nothing was changed."):
        parse_env_file("A=1\nexport B\n", "/etc/app.env")


def test_create_body_labels_port_and_options():
    spec = container_spec(params(volumes=["/srv/data:/data:ro"], networks=["db", "cache"], command=["serve"],
                                 docker_options={"HostConfig": {"Memory": 512, "PortBindings": {}},
                                                 "Labels": {"team": "web", "hostcare.keep": "false"}}),
                          {"B": "2", "A": "1"})
    body = create_body("demo", "green", V1, spec, "d1")
    assert body["Image"] == V1
    assert body["Env"] == ["A=1", "B=2"]
    assert body["Cmd"] == ["serve"]
    assert body["Labels"] == {"team": "web", "hostcare.bluegreen.app": "demo", "hostcare.bluegreen.colour": "green",
                              "hostcare.bluegreen.release": V1, "hostcare.bluegreen.config": "d1",
                              "hostcare.keep": "true"}
    assert body["HostConfig"]["Memory"] == 512
    assert body["HostConfig"]["PortBindings"] == {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8002"}]}
    assert body["HostConfig"]["Binds"] == ["/srv/data:/data:ro"]
    assert body["HostConfig"]["NetworkMode"] == "db"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"db": {}}}


def test_digest_follows_settings_and_image():
    spec = container_spec(params(), {"A": "1"})
    assert spec_digest(spec, V1) == spec_digest(container_spec(params(), {"A": "1"}), V1)
    assert spec_digest(spec, V1) != spec_digest(container_spec(params(), {"A": "2"}), V1)
    assert spec_digest(spec, V1) != spec_digest(spec, V2)


# --- state ----------------------------------------------------------------------------------------------------

def test_missing_state_is_empty():
    assert load_state(None, "/x/demo.json", "demo") == {"app": "demo", "live": None, "releases": []}


def test_state_round_trip():
    recorded = state(release("green", V2), release("blue", V1))
    assert load_state(json.dumps(recorded), "/x/demo.json", "demo") == recorded


@pytest.mark.parametrize("text, expected", [
    ("{", "is not valid JSON"),
    ("[]", "is not a bluegreen state"),
    (json.dumps({"app": "other", "live": None, "releases": []}), "records app 'other', not 'demo'"),
    (json.dumps({"app": "demo", "live": None, "releases": [{"colour": "blue"}]}), "has a release without"),
    (json.dumps({"app": "demo", "live": None, "releases": [dict(release("blue", V1), colour="red")]}),
     "has a release of colour 'red'"),
])
def test_bad_state_names_the_file(text, expected):
    with pytest.raises(BlueGreenError) as error:
        load_state(text, "/var/lib/hostcare/bluegreen/demo.json", "demo")
    assert str(error.value).startswith("/var/lib/hostcare/bluegreen/demo.json " + expected)
    assert str(error.value).endswith("Nothing was changed.")


def test_next_state_puts_the_release_first_and_retires_beyond_keep():
    r1, r2, r3, r4 = release("blue", V1), release("green", V2), release("blue", V3), release("green", "sha256:" + "4" * 64)
    new, removed = next_state(state(r3, r2, r1), r4, keep_releases=1)
    assert new == {"app": "demo", "live": r4, "releases": [r4, r3]}
    assert removed == [r2, r1]


def test_next_state_of_a_rollback_moves_the_release_to_the_front():
    r1, r2 = release("blue", V1), release("green", V2)
    new, removed = next_state(state(r2, r1), dict(r1, deployed_at="later"), keep_releases=3)
    assert [entry["image_id"] for entry in new["releases"]] == [V1, V2]
    assert new["live"]["deployed_at"] == "later"
    assert removed == []


# --- planning -------------------------------------------------------------------------------------------------

def test_first_deploy_creates_blue():
    plan = plan_release("demo", "deploy", state(None), [], "app:1", V1, settings("c0"))
    assert plan["noop"] is False
    assert (plan["colour"], plan["container"], plan["start_existing"], plan["previous"]) == (
        "blue", container_name("demo", "blue", V1, "c0"), False, None)
    assert plan["previous_running"] is False


def test_redeploy_of_the_live_image_with_the_same_settings_is_a_noop():
    live = release("blue", V1)
    plan = plan_release("demo", "deploy", state(live), [container(live, True)], live["image"], V1, settings("c0"))
    assert plan["noop"] is True
    assert plan["release"] == live


def test_redeploy_with_other_settings_swaps_colour():
    live = release("blue", V1)
    plan = plan_release("demo", "deploy", state(live), [container(live, True)], live["image"], V1, settings("c1"))
    assert (plan["noop"], plan["colour"], plan["start_existing"]) == (False, "green", False)
    assert plan["previous_running"] is True


def test_redeploy_when_the_live_container_is_stopped_starts_a_new_colour():
    live = release("blue", V1)
    plan = plan_release("demo", "deploy", state(live), [container(live, False)], live["image"], V1, settings("c0"))
    assert (plan["noop"], plan["colour"], plan["previous_running"]) == (False, "green", False)


def test_deploy_reuses_a_kept_container_with_the_same_settings():
    old, live = release("green", V1), release("blue", V2)
    containers = [container(live, True), container(old, False, config="c0")]
    plan = plan_release("demo", "deploy", state(live, old), containers, "app:1", V1, settings("c0"))
    assert (plan["colour"], plan["container"], plan["start_existing"]) == ("green", old["container"], True)


def test_deploy_replaces_a_kept_container_with_other_settings_without_removing_it_first():
    old, live = release("green", V1, digest="old0"), release("blue", V2)
    containers = [container(live, True), container(old, False, config="old0")]
    plan = plan_release("demo", "deploy", state(live, old), containers, "app:1", V1, settings("c0"))
    assert (plan["start_existing"], plan["container"]) == (False, container_name("demo", "green", V1, "c0"))
    assert plan["container"] != old["container"] and plan["stop_first"] == []
    # Recorded, the new release replaces the old one of the same image and colour; its container becomes a stray.
    new_state, removed = next_state(state(live, old), dict(plan["release"], deployed_at="now"), keep_releases=3)
    assert [entry["container"] for entry in new_state["releases"]] == [plan["container"], live["container"]]
    assert removed == []
    assert strays(containers, new_state) == [old["container"]]


def test_deploy_stops_a_leftover_holding_the_colour_port():
    live, leftover, older = release("blue", V1), release("green", V3), release("green", "sha256:" + "9" * 64)
    containers = [container(live, True), container(leftover, True), container(older, False)]
    plan = plan_release("demo", "deploy", state(live), containers, "app:2", V2, settings("c0"))
    assert plan["stop_first"] == [leftover["container"]]


def test_rollback_starts_the_kept_previous_release():
    old, live = release("blue", V1), release("green", V2)
    plan = plan_release("demo", "rollback", state(live, old), [container(live, True), container(old, False)])
    assert (plan["colour"], plan["container"], plan["start_existing"]) == ("blue", old["container"], True)
    assert plan["release"]["image_id"] == V1


def test_rollback_to_the_live_release_is_a_noop():
    old, live = release("blue", V1), release("green", V2, image="app:2")
    containers = [container(live, True), container(old, False)]
    for wanted in ("app:2", V2, V2[7:19]):
        assert plan_release("demo", "rollback", state(live, old), containers, rollback_to=wanted)["noop"] is True


def test_rollback_to_a_named_release():
    r1, r2, live = release("green", V1, image="app:1"), release("blue", V2), release("green", V3)
    containers = [container(live, True), container(r2, False), container(r1, False)]
    plan = plan_release("demo", "rollback", state(live, r2, r1), containers, digest_of=settings("c0"), rollback_to="app:1")
    # r1 is green like the live release: its kept container cannot take the port, a blue one is created.
    assert (plan["colour"], plan["container"], plan["start_existing"]) == ("blue", container_name("demo", "blue", V1, "c0"), False)


@pytest.mark.parametrize("recorded, containers, rollback_to, expected", [
    (state(None), [], None, "demo has no live release to roll back from"),
    (state(release("blue", V1)), [], None, "demo has no kept release to roll back to (kept: app:1"),
    (state(release("green", V2), release("blue", V1)), [], "app:9", "demo has no kept release matching 'app:9'"),
    (state(release("green", V2), release("blue", V1)), [], None, "the container demo-blue-111111111111-c0 of release"),
])
def test_rollback_refusals(recorded, containers, rollback_to, expected):
    with pytest.raises(BlueGreenError) as error:
        plan_release("demo", "rollback", recorded, containers, rollback_to=rollback_to)
    assert str(error.value).startswith(expected)
    assert str(error.value).endswith("Nothing was changed.")


def test_parse_app_containers():
    summaries = [{"Id": "abc", "Names": ["/demo-blue-111111111111"], "State": "exited",
                  "Labels": {"hostcare.bluegreen.colour": "blue", "hostcare.bluegreen.release": V1,
                             "hostcare.bluegreen.config": "c0"}}]
    assert parse_app_containers(summaries) == [{"id": "abc", "name": "demo-blue-111111111111", "running": False,
                                                "colour": "blue", "release": V1, "config": "c0"}]


def test_upstream_include():
    text = render_upstream("demo", "demo_up", "127.0.0.1", 8002, 16, release("green", V2, image="app:2"))
    assert text.splitlines()[1:] == [
        "# Live: green, app:2 (222222222222).",
        "upstream demo_up {",
        "    server 127.0.0.1:8002 max_fails=0;",
        "    keepalive 16;",
        "}",
    ]
    assert "keepalive" not in render_upstream("demo", "demo", "::1", 8002, 0, release("green", V2))


@pytest.mark.parametrize("bound, probed", [("0.0.0.0", "127.0.0.1"), ("::", "::1"), ("10.0.0.5", "10.0.0.5")])
def test_probe_address(bound, probed):
    assert probe_address(bound) == probed


# --- health ---------------------------------------------------------------------------------------------------

RUNNING = {"Status": "running", "Running": True}


def test_health_waits_through_the_start_period_then_counts_failures():
    watch = HealthWatch(start_period=5, retries=2)
    assert watch.record(1, RUNNING, False, "refused") == "waiting"
    assert watch.record(4, RUNNING, False, "refused") == "waiting"
    assert watch.record(5, RUNNING, False, "HTTP 500") == "waiting"
    assert watch.record(6, RUNNING, False, "HTTP 500") == "failed"
    assert watch.last_problem == "HTTP 500"


def test_health_is_good_at_the_first_good_answer():
    watch = HealthWatch(start_period=0, retries=3)
    assert watch.record(0, RUNNING, False, "refused") == "waiting"
    assert watch.record(1, RUNNING, True) == "healthy"


def test_health_fails_fast_when_the_container_exits_or_docker_says_unhealthy():
    assert HealthWatch(60, 3).record(0, {"Status": "exited", "ExitCode": 3}, False) == "failed"
    watch = HealthWatch(60, 3)
    assert watch.record(0, dict(RUNNING, Health={"Status": "unhealthy"}), False) == "failed"
    assert watch.last_problem == "Docker reports its HEALTHCHECK unhealthy"


def test_docker_health_probe():
    assert docker_health_probe({"Health": {"Status": "healthy"}}) == (True, "Docker health status healthy")
    assert docker_health_probe({"Health": {"Status": "starting"}})[0] is False
    assert "no Docker HEALTHCHECK" in docker_health_probe({})[1]


def test_demux_logs():
    raw = b"\x02\0\0\0\0\0\0\x06error\n" + b"\x01\0\0\0\0\0\0\x03ok\n"
    assert demux_logs(raw) == "error\nok\n"
    assert demux_logs(b"plain tty output\n") == "plain tty output\n"


@pytest.fixture(name="http_app")
def fixture_http_app():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/up" else 503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_probe_http_against_a_real_server(http_app):
    assert probe_http("127.0.0.1", http_app, "/up", 200, 2) == (True, None)
    ok, problem = probe_http("127.0.0.1", http_app, "/down", 200, 2)
    assert not ok and problem.endswith("/down answered 503, expected 200")


def test_probe_http_reports_a_refused_connection():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    ok, problem = probe_http("127.0.0.1", port, "/up", 200, 2)
    assert not ok and problem.startswith(f"GET http://127.0.0.1:{port}/up: ")


# --- docker_options against the Engine API table ------------------------------------------------------------------

def test_well_typed_docker_options_pass():
    options = {"HostConfig": {"Memory": 536870912, "MemorySwap": -1, "CpuShares": 512, "Init": True,
                              "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                              "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m"}},
                              "Mounts": [{"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 1 << 20}}]},
               "Labels": {"team": "web"}, "User": "1000:1000", "Healthcheck": {"Test": ["CMD", "true"], "Retries": 3}}
    assert docker_option_errors(options) == []


@pytest.mark.parametrize("options, expected", [
    ({"HostConfig": {"Memory": "lots"}}, "docker_options.HostConfig.Memory: must be a whole number (JSON integer)"),
    ({"HostConfig": {"Memory": 1.0}}, "docker_options.HostConfig.Memory: must be a whole number"),
    ({"HostConfig": {"Memory": -1}}, "docker_options.HostConfig.Memory: must be a whole number at least 0"),
    ({"HostConfig": {"Init": "yes"}}, "docker_options.HostConfig.Init: must be true or false"),
    ({"HostConfig": {"Memroy": 1}}, "docker_options.HostConfig.Memroy: unknown Engine API create field; did you mean Memory?"),
    ({"HostConfig": {"Ulimits": {"Name": "x"}}}, "docker_options.HostConfig.Ulimits: must be a list"),
    ({"HostConfig": {"Ulimits": [{"Name": "x", "Soft": "1"}]}}, "docker_options.HostConfig.Ulimits[0].Soft: must be"),
    ({"HostConfig": {"AutoRemove": True}}, "docker_options.HostConfig.AutoRemove: not accepted in docker_options: Docker"),
    ({"Cmd": ["x"]}, "docker_options.Cmd: not accepted in docker_options: set by the option command"),
    ({"Labels": {"a": 1}}, "docker_options.Labels.a: must be a string"),
    ({"Labels": "a=b"}, "docker_options.Labels: must be an object"),
])
def test_docker_options_are_refused_naming_the_key_path(options, expected):
    errors = docker_option_errors(options)
    assert any(error.startswith(expected) for error in errors), errors


@pytest.mark.parametrize("overrides, expected", [
    ({"bind_address": "not-an-ip"}, "bind_address: must be an IP address"),
    ({"drain_seconds": float("inf")}, "drain_seconds: must be a number of seconds"),
    ({"drain_seconds": 1e20}, "drain_seconds: must be a number of seconds"),
    ({"nginx_test_command": []}, "nginx_test_command: must be a non-empty list"),
    ({"nginx_reload_command": ["", "-s"]}, "nginx_reload_command: the first item is the program"),
    ({"state_dir": "/proc/x"}, "state_dir: '/proc/x' is in a kernel filesystem"),
    ({"timeout": float("nan")}, "timeout: must be a number of seconds"),
    ({"time_budget": 50.0}, "time_budget: must leave room for health_check.start_period + drain_seconds"),
    ({"app": "demo\n"}, "app: use 1 to 63 lowercase"),
    ({"image": "app:v1\n"}, "image: must be an image reference"),
    # Numbers reach the module raw (ansible-core's own checks crash on inf and read Unicode digits).
    ({"blue_port": float("inf")}, "blue_port: must be a TCP port at least 1 and at most 65535, got inf"),
    ({"container_port": "\u0668\u0660"}, "container_port: must be a TCP port"),
    ({"keep_releases": "\u0663"}, "keep_releases: must be a whole number at least 0 and at most 100"),
    ({"stop_timeout": 1e300}, "stop_timeout: must be a whole number of seconds at least 0 and at most 600"),
    ({"time_budget": "nan"}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got 'nan'"),
    ({"health_check": float("nan")}, "health_check: must be a dict with the keys type, path, status"),
    ({"health_check": "type=docker"}, "health_check: must be a dict"),
    ({"health_check": [{"type": "http"}]}, "health_check: must be a dict"),
    ({"health_check": {"retries": float("inf")}}, "health_check.retries: must be a whole number at least 1"),
    ({"health_check": {"interval": "\uff11"}}, "health_check.interval: must be a number of seconds"),
    ({"health_check": {"type": "tcp"}}, "health_check.type: must be one of http, docker, got 'tcp'"),
    ({"health_check": {"retires": 3}}, "health_check.retires: unknown health_check option; did you mean retries?"),
])
def test_more_bad_options_are_named(overrides, expected):
    errors = option_errors(params(**overrides))
    assert any(error.startswith(expected) for error in errors), errors


# --- drift, strays, deadline ----------------------------------------------------------------------------------------

def test_strays_are_the_containers_the_state_does_not_name():
    live, old, gone = release("blue", V1), release("green", V2), release("green", V3)
    containers = [container(live, True), container(old, False), container(gone, False)]
    assert strays(containers, state(live, old)) == [gone["container"]]


def test_drift_says_what_differs_from_the_state():
    live, old, stray = release("blue", V1), release("green", V2), release("green", V3)
    assert drift(state(live, old), [container(live, True), container(old, False)], "x", "x") == {
        "include": False, "stop": [], "remove": []}
    found = drift(state(live, old), [container(live, True), container(old, True), container(stray, False)], "a", "b")
    assert found == {"include": True, "stop": [old["container"]], "remove": [stray["container"]]}
    text = describe_drift(found, "/etc/nginx/conf.d/demo.conf")
    assert text.startswith("rewrite /etc/nginx/conf.d/demo.conf") and f"stop {old['container']}" in text


def test_deadline_caps_waits_and_says_which_step_it_stopped():
    now = [100.0]
    deadline = Deadline(10, clock=lambda: now[0])
    assert deadline.cap(60) == 10 and deadline.cap(3) == 3
    now[0] = 109.5
    assert deadline.cap(60) == 1.0  # a last call may still answer
    now[0] = 111
    with pytest.raises(BlueGreenError, match="time_budget: the 10 s budget ran out before nginx test"):
        deadline.check("nginx test")
    deadline.extend(120)
    assert deadline.remaining() == 120


def test_wait_healthy_stops_at_the_deadline():
    class Docker(BlueGreenDocker):
        def inspect(self, name):
            return {"State": {"Status": "running", "Running": True}}

    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    health = {"type": "http", "path": "/up", "status": 200, "interval": 1.0, "timeout": 1.0, "retries": 1000,
              "start_period": 0}
    healthy, problem = Docker(None, None).wait_healthy("demo", health, "127.0.0.1", 9, until=5.0, sleep=sleep,
                                                       clock=lambda: now[0])
    assert not healthy and problem.startswith("time_budget ran out after 5 s of health checks (last: GET http://")
