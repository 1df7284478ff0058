# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""bluegreen_release against the machine's real Docker daemon and the real test app; nginx is replaced by
`true`/`false` commands here (the Molecule scenario `bluegreen` runs it with a real nginx under load)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _bluegreen_run
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_docker import DeployLock
from ansible_collections.hostcare.vps.plugins.modules import bluegreen_release
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import patch_module_args


REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
APP_DIR = os.path.join(REPO, "extensions", "molecule", "bluegreen", "files", "app")
IMAGE = "hostcare-test/bluegreen-unit"


def _docker(*arguments, check=True):
    return subprocess.run(["docker"] + list(arguments), capture_output=True, text=True, check=check, timeout=600)


def _free_ports(count):
    """Ports free now, all different: bound at the same time (bound one after the other, the kernel may hand out
    the same port twice, and blue and green on one port fail the first deploy)."""
    sockets = [socket.socket() for _index in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(name="images", scope="module")
def images_fixture():
    ensured = subprocess.run(["bash", os.path.join(REPO, "tests", "scripts", "ensure-docker.sh")],
                             capture_output=True, text=True, check=False)
    if ensured.returncode != 0:
        pytest.fail("the live bluegreen_release tests need Docker:\n" + ensured.stderr)
    built = subprocess.run(["bash", os.path.join(REPO, "tests", "images", "build.sh"), "bookworm"],
                           capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail("building the base test image failed:\n" + built.stderr[-2000:])
    tags = {}  # build.sh tagged the base image hostcare-test/debian-bookworm:latest, the app's FROM
    for version, broken in (("v1", "0"), ("v2", "0"), ("broken", "1")):
        run = uuid.uuid4().hex[:6]
        tag = f"{IMAGE}:{version}-{run}"
        # The label makes the image id unique: an image with a second tag is never removed (DELETE unforced).
        _docker("build", "-q", "-t", tag, "--label", f"hostcare.test.run={run}", "--build-arg", f"APP_VERSION={version}", "--build-arg",
                f"APP_BROKEN={broken}", APP_DIR)
        tags[version] = tag
        # The same app with a Docker HEALTHCHECK on /up, built on its own (a child of `tag` would pin it).
        with open(os.path.join(APP_DIR, "Dockerfile"), encoding="utf-8") as handle:
            dockerfile = handle.read() + (
                "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD [\"python3\", \"-c\", "
                "\"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/up', timeout=2)\"]\n")
        subprocess.run(["docker", "build", "-q", "-t", f"{tag}-hc", "--build-arg", f"APP_VERSION={version}-hc",
                        "--build-arg", f"APP_BROKEN={broken}", "-f", "-", APP_DIR], input=dockerfile,
                       capture_output=True, text=True, check=True, timeout=600)
        tags[f"{version}-hc"] = f"{tag}-hc"
    yield tags
    _docker("rmi", *tags.values(), check=False)


@pytest.fixture(name="site")
def site_fixture(tmp_path, images):
    app = f"hostcare-bluegreen-ut-{uuid.uuid4().hex[:6]}"
    blue, green = _free_ports(2)
    yield {"app": app, "images": images, "tmp": tmp_path, "blue": blue, "green": green}
    ids = _docker("ps", "-aq", "--filter", f"label=hostcare.bluegreen.app={app}").stdout.split()
    if ids:
        _docker("rm", "-f", *ids, check=False)


def _args(site, **overrides):
    args = {
        "app": site["app"], "container_port": 8000, "blue_port": site["blue"], "green_port": site["green"],
        "upstream_file": str(site["tmp"] / "nginx" / "upstream.conf"), "state_dir": str(site["tmp"] / "state"),
        "nginx_test_command": ["true"], "nginx_reload_command": ["true"], "drain_seconds": 0, "stop_timeout": 2,
        "health_check": {"interval": 0.2, "start_period": 1, "retries": 2}, "env": {"SECRET_KEY": "s3cr3t-value"},
    }
    args.update(overrides)
    return args


def _run(capsys, args, check_mode=False, diff=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)), \
            pytest.raises(SystemExit) as exit_info:
        bluegreen_release.main()
    out = capsys.readouterr().out
    return exit_info.value.code, json.loads(out), out


def _containers(site):
    lines = _docker("ps", "-a", "--filter", f"label=hostcare.bluegreen.app={site['app']}",
                    "--format", "{{.Names}} {{.State}}").stdout.split("\n")
    return sorted(line for line in lines if line)


def _state(site):
    with open(site["tmp"] / "state" / f"{site['app']}.json", encoding="utf-8") as handle:
        return json.load(handle)


def test_deploy_redeploy_rollback_and_retention(capsys, site):
    v1, v2 = site["images"]["v1"], site["images"]["v2"]
    code, result, out = _run(capsys, _args(site, image=v1))
    assert code == 0, result
    assert (result["changed"], result["colour"], result["previous"]) == (True, "blue", None)
    assert "s3cr3t-value" not in out
    state = _state(site)
    assert state["live"] == state["releases"][0] == result["release"]
    assert state["live"]["image"] == v1 and state["live"]["image_id"].startswith("sha256:")
    assert oct(os.stat(site["tmp"] / "state" / f"{site['app']}.json").st_mode & 0o777) == "0o644"
    upstream = (site["tmp"] / "nginx" / "upstream.conf").read_text()
    assert f"server 127.0.0.1:{site['blue']} max_fails=0;" in upstream
    labels = json.loads(_docker("inspect", "-f", "{{json .Config.Labels}}", result["release"]["container"]).stdout)
    ours = {key: value for key, value in labels.items() if key.startswith(("hostcare.bluegreen.", "hostcare.keep"))}
    assert ours == {"hostcare.bluegreen.app": site["app"], "hostcare.bluegreen.colour": "blue",
                    "hostcare.bluegreen.release": state["live"]["image_id"], "hostcare.keep": "true",
                    "hostcare.bluegreen.config": labels["hostcare.bluegreen.config"]}

    code, result, _out = _run(capsys, _args(site, image=v1))
    assert (code, result["changed"]) == (0, False), result

    code, result, _out = _run(capsys, _args(site, image=v2), check_mode=True, diff=True)
    assert (code, result["changed"], result["colour"]) == (0, True, "green")
    assert f"127.0.0.1:{site['green']}" in result["diff"]["after"]
    assert len(_containers(site)) == 1

    code, result, _out = _run(capsys, _args(site, image=v2))
    assert (code, result["changed"], result["colour"], result["previous"]["image"]) == (0, True, "green", v1), result
    assert [line.split()[1] for line in _containers(site)] == ["exited", "running"]  # blue kept, green live

    code, result, _out = _run(capsys, _args(site, action="rollback"))
    assert (code, result["release"]["image"], result["colour"]) == (0, v1, "blue"), result
    assert _state(site)["live"]["image"] == v1
    code, result, _out = _run(capsys, _args(site, action="rollback", rollback_to=v1))
    assert (code, result["changed"]) == (0, False)

    # New settings for v2: its kept green container is replaced. keep_releases=0 retires v1, container and image.
    code, result, _out = _run(capsys, _args(site, image=v2, keep_releases=0, env={"SECRET_KEY": "rotated"}))
    assert code == 0, result
    assert (result["colour"], [entry["image"] for entry in result["removed"]]) == ("green", [v1])
    assert [entry["image"] for entry in _state(site)["releases"]] == [v2]
    assert [line.split()[1] for line in _containers(site)] == ["running"]
    assert result["images_kept"] == []
    assert _docker("image", "inspect", v1, check=False).returncode != 0
    assert _docker("image", "inspect", v2, check=False).returncode == 0


def test_unhealthy_image_is_removed_and_the_live_one_keeps_serving(capsys, site):
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"]))
    assert code == 0, result
    code, result, _out = _run(capsys, _args(site, image=site["images"]["broken"]))
    assert code == 1
    assert "did not become healthy" in result["msg"] and "answered 500, expected 200" in result["msg"]
    assert "It was removed" in result["msg"] and "keeps serving" in result["msg"]
    assert any("broken health check" in line for line in result["logs"])
    assert [line.split()[1] for line in _containers(site)] == ["running"]
    assert _state(site)["live"]["image"] == site["images"]["v2"]


def test_failed_nginx_test_puts_the_include_back(capsys, site):
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"]))
    assert code == 0, result
    before = (site["tmp"] / "nginx" / "upstream.conf").read_text()
    code, result, _out = _run(capsys, _args(site, image=site["images"]["broken"], nginx_test_command=["false"],
                                            health_check={"path": "/", "interval": 0.2}))
    assert code == 1
    assert result["msg"].startswith("hostcare.vps.bluegreen_release: false failed (rc 1)")
    assert "was put back, nginx was not reloaded" in result["msg"]
    assert (site["tmp"] / "nginx" / "upstream.conf").read_text() == before
    assert [line.split()[1] for line in _containers(site)] == ["running"]


@pytest.mark.parametrize("overrides, expected", [
    ({"image": "hostcare-test/bluegreen-unit:absent"}, "is not on this host: build, load or pull it first"),
    ({"action": "rollback"}, "has no live release to roll back from"),
    ({"image": None, "green_port": None}, "image: required with action=deploy"),
])
def test_refusals_change_nothing(capsys, site, overrides, expected):
    args = _args(site, image=site["images"]["v2"])
    if overrides.get("green_port", 1) is None:
        overrides = dict(overrides, green_port=site["blue"])
    args.update(overrides)
    args = {key: value for key, value in args.items() if value is not None}
    code, result, _out = _run(capsys, args)
    assert code == 1
    assert expected in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert _containers(site) == []
    assert not (site["tmp"] / "nginx").exists()


def test_invalid_state_file_is_named(capsys, site):
    (site["tmp"] / "state").mkdir()
    (site["tmp"] / "state" / f"{site['app']}.json").write_text("{not json")
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"]))
    assert code == 1
    assert f"{site['app']}.json is not valid JSON" in result["msg"]
    assert _containers(site) == []


def test_an_env_file_that_is_not_utf8_is_refused_without_a_traceback(capsys, site):
    env_file = site["tmp"] / "app.env"
    env_file.write_bytes(b"SECRET=\xff\xfe\n")
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"], env_files=[str(env_file)]))
    assert code == 1
    assert "is not UTF-8 text" in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert _containers(site) == []


def test_a_second_deploy_of_the_same_app_waits_for_none(capsys, site):
    with DeployLock(str(site["tmp"] / "state"), site["app"]):
        code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"]))
    assert code == 1
    assert "another deploy or rollback holds" in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert _containers(site) == []


def test_docker_healthcheck_healthy_and_unhealthy_fails_fast(capsys, site):
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v1-hc"], health_check={"type": "docker"}))
    assert code == 0, result
    started = time.monotonic()
    # HTTP checks with a 60 s start period: only Docker's "unhealthy" can end this early.
    code, result, _out = _run(capsys, _args(site, image=site["images"]["broken-hc"],
                                            health_check={"start_period": 60, "interval": 0.5}))
    assert code == 1
    assert time.monotonic() - started < 20
    assert "Docker reports its HEALTHCHECK unhealthy" in result["msg"]
    assert [line.split()[1] for line in _containers(site)] == ["running"]


def test_missing_nginx_binary_puts_the_include_back(capsys, site):
    code, result, _out = _run(capsys, _args(site, image=site["images"]["v2"],  # v1 is gone: retention test
                                            nginx_test_command=["/nonexistent/nginx", "-t"]))
    assert code == 1
    assert "/nonexistent/nginx -t could not run" in result["msg"] and "was removed again" in result["msg"]
    assert not (site["tmp"] / "nginx" / "upstream.conf").exists()
    assert _containers(site) == []


# --- one transaction: a failure at every step leaves nginx serving what the state file names ---------------------

DEPLOY_STEPS = ["read", "connect", "inspect", "stop_port_holders", "create", "start", "health", "write_include",
                "nginx_test", "nginx_reload", "write_state", "drain", "stop_previous", "remove_strays"]
ROLLBACK_STEPS = [step for step in DEPLOY_STEPS if step != "create"]
COMMITTED_AFTER = "write_state"
"""Steps after this one run once the release is recorded: a failure there leaves the new release live."""


@pytest.fixture(name="pair", scope="module")
def pair_fixture(images):
    """v1 and v2 of the app for the transaction tests, which the retention test above does not remove."""
    tags = {}
    for version in ("v1", "v2"):
        run = uuid.uuid4().hex[:6]
        tags[version] = f"{IMAGE}:txn-{version}-{run}"
        _docker("build", "-q", "-t", tags[version], "--label", f"hostcare.test.run={run}", "--build-arg",
                f"APP_VERSION={version}", APP_DIR)
    yield tags
    _docker("rmi", *tags.values(), check=False)


class InjectedFailure(RuntimeError):
    """Raised by the test at one named step of bluegreen_release."""


def _nginx(site):
    """Commands standing in for nginx: the reload copies the include to what "nginx serves"."""
    served = str(site["tmp"] / "nginx-served.conf")
    return {"nginx_test_command": ["true"],
            "nginx_reload_command": ["cp", str(site["tmp"] / "nginx" / "upstream.conf"), served]}


def _served_version(site):
    """The app version behind the port of the include nginx last loaded (None: nginx serves no include)."""
    served = site["tmp"] / "nginx-served.conf"
    if not served.exists():
        return None
    port = int(served.read_text().split("server 127.0.0.1:")[1].split()[0])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        return answer.read().decode().strip()


def _app_containers(site):
    """{name: state} of the app's containers."""
    return dict(line.split() for line in _containers(site))


def _assert_consistent(site, live_version, strict=True):
    """nginx serves the state's live release (the include it loaded points at it, and that port answers with its
    version); the include on disk is the state's; the rollback container exists; with `strict`, only the live
    container runs and every container of the app is in the state."""
    state = _state(site)
    live = state["live"]
    include = (site["tmp"] / "nginx" / "upstream.conf").read_text()
    assert f"server 127.0.0.1:{site[live['colour']]} " in include and f"{live['image']} (" in include
    assert (site["tmp"] / "nginx-served.conf").read_text() == include
    assert _served_version(site) == live_version
    containers = _app_containers(site)
    assert containers[live["container"]] == "running"
    assert all(release["container"] in containers for release in state["releases"]), (state, containers)
    if strict:
        assert [name for name, status in containers.items() if status == "running"] == [live["container"]]
        assert set(containers) == {release["container"] for release in state["releases"]}


def _inject(monkeypatch, step, seen=None):
    def hook(name):
        if seen is not None:
            seen.append(name)
        if name == step:
            raise InjectedFailure(f"injected failure at {name}")
    monkeypatch.setattr(_bluegreen_run, "STEP_HOOK", hook)


def test_the_step_lists_are_the_steps_a_deploy_and_a_rollback_take(capsys, monkeypatch, site, pair):
    v1, v2 = pair["v1"], pair["v2"]
    seen = []
    _inject(monkeypatch, None, seen)
    assert _run(capsys, _args(site, image=v2, **_nginx(site)))[0] == 0
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    del seen[:]
    assert _run(capsys, _args(site, image=v2, env={"SECRET_KEY": "rotated"}, **_nginx(site)))[0] == 0
    assert seen == DEPLOY_STEPS
    del seen[:]
    assert _run(capsys, _args(site, action="rollback", **_nginx(site)))[0] == 0
    assert seen == ROLLBACK_STEPS


@pytest.mark.parametrize("step", DEPLOY_STEPS)
def test_a_deploy_failing_at_any_step_leaves_nginx_serving_the_recorded_release(capsys, monkeypatch, site, step, pair):
    v1, v2 = pair["v1"], pair["v2"]
    # v2 then v1: v1 is live (green), v2 kept (blue). The deploy of v2 with new settings creates a new blue
    # container: the kept v2 container must survive every failure before the new one is live and recorded.
    assert _run(capsys, _args(site, image=v2, **_nginx(site)))[0] == 0
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    kept_v2 = _state(site)["releases"][1]["container"]
    _inject(monkeypatch, step)
    code, result, _out = _run(capsys, _args(site, image=v2, env={"SECRET_KEY": "rotated"}, **_nginx(site)))
    monkeypatch.setattr(_bluegreen_run, "STEP_HOOK", None)
    assert code == 1 and f"injected failure at {step}" in result["msg"], result
    assert "Traceback" not in result["msg"] and "exception" not in result
    if DEPLOY_STEPS.index(step) <= DEPLOY_STEPS.index(COMMITTED_AFTER):
        assert _state(site)["live"]["image"] == v1
        assert "keeps serving" in result["msg"] or "Nothing was changed" in result["msg"], result["msg"]
        _assert_consistent(site, "v1")
        assert _app_containers(site)[kept_v2] == "exited"  # the rollback container is there, untouched
    else:
        assert "is live: nginx serves it and" in result["msg"] and "Run the same deploy again" in result["msg"]
        assert _state(site)["live"]["image"] == v2 and _state(site)["releases"][1]["image"] == v1
        _assert_consistent(site, "v2", strict=False)
        # The next run finishes the work: the old colour stopped, the replaced v2 container removed.
        code, result, _out = _run(capsys, _args(site, image=v2, env={"SECRET_KEY": "rotated"}, **_nginx(site)))
        assert code == 0 and result["changed"] and "repair" in result["reason"], result
    _assert_consistent(site, _served_version(site))
    code, result, _out = _run(capsys, _args(site, image=v2, env={"SECRET_KEY": "rotated"}, **_nginx(site)))
    assert code == 0, result
    _assert_consistent(site, "v2")
    assert kept_v2 not in _app_containers(site)  # replaced once the new v2 was recorded


@pytest.mark.parametrize("step", ROLLBACK_STEPS)
def test_a_rollback_failing_at_any_step_leaves_nginx_serving_the_recorded_release(capsys, monkeypatch, site, step, pair):
    v1, v2 = pair["v1"], pair["v2"]
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    assert _run(capsys, _args(site, image=v2, **_nginx(site)))[0] == 0
    _inject(monkeypatch, step)
    code, result, _out = _run(capsys, _args(site, action="rollback", **_nginx(site)))
    monkeypatch.setattr(_bluegreen_run, "STEP_HOOK", None)
    assert code == 1 and f"injected failure at {step}" in result["msg"], result
    if ROLLBACK_STEPS.index(step) <= ROLLBACK_STEPS.index(COMMITTED_AFTER):
        assert _state(site)["live"]["image"] == v2
        _assert_consistent(site, "v2")
        code, result, _out = _run(capsys, _args(site, action="rollback", **_nginx(site)))
        assert code == 0 and result["changed"], result
    else:
        assert _state(site)["live"]["image"] == v1
        _assert_consistent(site, "v1", strict=False)
        code, result, _out = _run(capsys, _args(site, image=v1, **_nginx(site)))  # the live image: repairs
        assert code == 0, result
    _assert_consistent(site, "v1")
    assert _state(site)["releases"][1]["image"] == v2


# --- hostile input: refused before anything happens, naming the option --------------------------------------------

NAN, INF = float("nan"), float("inf")
HOSTILE = [
    ("drain_seconds", NAN, "drain_seconds"), ("drain_seconds", INF, "drain_seconds"),
    ("drain_seconds", 1e20, "drain_seconds"), ("drain_seconds", -1, "drain_seconds"),
    ("drain_seconds", 601, "drain_seconds"), ("drain_seconds", "abc", "drain_seconds"),
    ("health_check", {"start_period": INF}, "health_check.start_period"),
    ("health_check", {"start_period": NAN}, "health_check.start_period"),
    ("health_check", {"start_period": -1}, "health_check.start_period"),
    ("health_check", {"start_period": 1e300}, "health_check.start_period"),
    ("health_check", {"interval": INF}, "health_check.interval"),
    ("health_check", {"interval": NAN}, "health_check.interval"),
    ("health_check", {"interval": 0}, "health_check.interval"),
    ("health_check", {"interval": 1e9}, "health_check.interval"),
    ("health_check", {"timeout": INF}, "health_check.timeout"), ("health_check", {"timeout": 0}, "health_check.timeout"),
    ("health_check", {"retries": 0}, "health_check.retries"), ("health_check", {"retries": 10 ** 9}, "health_check.retries"),
    ("health_check", {"status": 99}, "health_check.status"), ("health_check", {"status": 600}, "health_check.status"),
    ("health_check", {"path": "up"}, "health_check.path"), ("health_check", {"path": "/a b"}, "health_check.path"),
    ("health_check", {"path": "/up\n"}, "health_check.path"), ("health_check", {"path": ""}, "health_check.path"),
    ("health_check", {"bogus": 1}, "bogus"), ("health_check", {"type": "tcp"}, "type"),
    ("timeout", NAN, "timeout"), ("timeout", INF, "timeout"), ("timeout", 0, "timeout"), ("timeout", 1e300, "timeout"),
    ("time_budget", NAN, "time_budget"), ("time_budget", INF, "time_budget"), ("time_budget", 0, "time_budget"),
    ("time_budget", -5, "time_budget"), ("time_budget", 1e9, "time_budget"), ("time_budget", 5, "time_budget"),
    ("blue_port", 0, "blue_port"), ("blue_port", 70000, "blue_port"), ("blue_port", -1, "blue_port"),
    ("blue_port", 10 ** 20, "blue_port"), ("blue_port", "abc", "blue_port"), ("green_port", 65536, "green_port"),
    ("container_port", 0, "container_port"), ("container_port", 1.5, "container_port"),
    ("bind_address", "not-an-ip", "bind_address"), ("bind_address", "", "bind_address"),
    ("bind_address", "localhost", "bind_address"), ("bind_address", "127.0.0.1\n", "bind_address"),
    ("bind_address", "10.0.0.0/8", "bind_address"),
    ("nginx_test_command", [], "nginx_test_command"), ("nginx_test_command", [""], "nginx_test_command"),
    ("nginx_reload_command", [], "nginx_reload_command"), ("nginx_reload_command", [" "], "nginx_reload_command"),
    ("nginx_reload_command", ["nginx", "a\0b"], "nginx_reload_command"),
    ("upstream_file", "relative.conf", "upstream_file"), ("upstream_file", "", "upstream_file"),
    ("upstream_file", "/proc/x.conf", "upstream_file"), ("upstream_file", "/etc/nginx/../x.conf", "upstream_file"),
    ("upstream_file", "/", "upstream_file"), ("upstream_file", "/etc/x\n.conf", "upstream_file"),
    ("state_dir", "state", "state_dir"), ("state_dir", "/sys/x", "state_dir"), ("state_dir", "/", "state_dir"),
    ("socket_path", "docker.sock", "socket_path"), ("socket_path", "unix:///var/run/docker.sock", "socket_path"),
    ("env_files", ["relative.env"], "env_files"), ("env_files", ["/etc/../x.env"], "env_files"),
    ("app", "", "app"), ("app", "A", "app"), ("app", "a/b", "app"), ("app", "a\n", "app"), ("app", "x" * 64, "app"),
    ("app", "ünï", "app"), ("image", " ", "image"), ("image", "img name", "image"), ("image", "img\0", "image"),
    ("image", "a" * 600, "image"), ("image", "img\n", "image"), ("rollback_to", "a b", "rollback_to"),
    ("upstream_name", "a b", "upstream_name"), ("upstream_name", "", "upstream_name"),
    ("upstream_name", "x;y", "upstream_name"), ("upstream_name", "x" * 129, "upstream_name"),
    ("env", {"1BAD": "x"}, "env"), ("env", {"A": {"nested": 1}}, "env"), ("env", {"A": "x\0y"}, "env"),
    ("env", {"A\n": "x"}, "env"), ("env", "notadict", "env"),
    ("volumes", ["data"], "volumes"), ("volumes", ["data:rel"], "volumes"), ("volumes", ["a:/b\n"], "volumes"),
    ("networks", ["bad name"], "networks"), ("networks", [""], "networks"), ("command", ["a\0"], "command"),
    ("keep_releases", -1, "keep_releases"), ("keep_releases", 10 ** 9, "keep_releases"),
    ("stop_timeout", -1, "stop_timeout"), ("stop_timeout", 10 ** 6, "stop_timeout"),
    ("nginx_keepalive", -1, "nginx_keepalive"), ("nginx_keepalive", 10 ** 9, "nginx_keepalive"),
    ("restart_policy", "sometimes", "restart_policy"), ("action", "upgrade", "action"),
    ("docker_options", {"HostConfig": {"Memory": "lots"}}, "docker_options.HostConfig.Memory"),
    ("docker_options", {"HostConfig": {"Memory": -1}}, "docker_options.HostConfig.Memory"),
    ("docker_options", {"HostConfig": {"Memory": 1.5}}, "docker_options.HostConfig.Memory"),
    ("docker_options", {"HostConfig": {"Memory": True}}, "docker_options.HostConfig.Memory"),
    ("docker_options", {"HostConfig": {"Memory": 2 ** 64}}, "docker_options.HostConfig.Memory"),
    ("docker_options", {"HostConfig": {"Memroy": 1}}, "docker_options.HostConfig.Memroy"),
    ("docker_options", {"HostConfig": {"AutoRemove": True}}, "docker_options.HostConfig.AutoRemove"),
    ("docker_options", {"HostConfig": {"PortBindings": {}}}, "docker_options.HostConfig.PortBindings"),
    ("docker_options", {"HostConfig": {"MemorySwappiness": 101}}, "docker_options.HostConfig.MemorySwappiness"),
    ("docker_options", {"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": "x"}]}},
     "docker_options.HostConfig.Ulimits[0].Soft"),
    ("docker_options", {"HostConfig": "x"}, "docker_options.HostConfig"),
    ("docker_options", {"Env": ["A=1"]}, "docker_options.Env"), ("docker_options", {"Labels": {"a": 1}}, "docker_options.Labels.a"),
    ("docker_options", {"Bogus": 1}, "docker_options.Bogus"), ("docker_options", "notadict", "docker_options"),
]


@pytest.mark.parametrize("option, value, named", HOSTILE, ids=[f"{o}={v!r}"[:60] for o, v, _n in HOSTILE])
@pytest.mark.parametrize("check_mode", [True, False], ids=["check", "run"])
def test_hostile_input_is_refused_naming_the_option_before_anything_happens(capsys, tmp_path, option, value, named,
                                                                            check_mode):
    args = {"app": "hostile", "image": "hostcare-test/none:absent", "container_port": 8000,
            "upstream_file": str(tmp_path / "nginx" / "up.conf"), "state_dir": str(tmp_path / "state"),
            "socket_path": str(tmp_path / "no-docker.sock"),  # asking Docker would fail without naming the option
            "health_check": {"start_period": 1}, "drain_seconds": 0}
    if option == "health_check":
        value = dict(args["health_check"], **value)
    args[option] = value
    code, result, _out = _run(capsys, args, check_mode=check_mode)
    # ansible-core 2.20+ refuses a NUL itself, while logging the invocation, before the module's own checks run.
    refused_by_core = isinstance(value, str) and "\x00" in value and "embedded null character" in result["msg"]
    assert code == 1 and (named in result["msg"] or refused_by_core), result["msg"]
    assert "exception" not in result and "Traceback" not in result["msg"]
    assert "Docker: " not in result["msg"]  # refused before connecting
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the lock


# --- real failures --------------------------------------------------------------------------------------------------

def test_a_taken_port_fails_the_start_and_changes_nothing_else(capsys, site, pair):
    v1, v2 = pair["v1"], pair["v2"]
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", site["green"]))
        squatter.listen()
        code, result, _out = _run(capsys, _args(site, image=v2, **_nginx(site)))
    assert code == 1 and "did not start" in result["msg"] and "It was removed" in result["msg"], result["msg"]
    _assert_consistent(site, "v1")


def test_wrongly_typed_docker_options_never_cost_the_rollback_container(capsys, site, pair):
    v1, v2 = pair["v1"], pair["v2"]
    assert _run(capsys, _args(site, image=v2, **_nginx(site)))[0] == 0
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    before = _app_containers(site)
    code, result, _out = _run(capsys, _args(site, image=v2, docker_options={"HostConfig": {"Memory": "lots"}},
                                            **_nginx(site)))
    assert code == 1 and result["msg"].startswith("hostcare.vps.bluegreen_release: docker_options.HostConfig.Memory: "
                                                  "must be a whole number"), result["msg"]
    assert _app_containers(site) == before
    # A well-typed value that Docker refuses (a memory limit below its minimum) fails the create: nothing is lost.
    code, result, _out = _run(capsys, _args(site, image=v2, docker_options={"HostConfig": {"Memory": 1024}},
                                            **_nginx(site)))
    assert code == 1 and "Docker: " in result["msg"] and "keeps serving" in result["msg"], result["msg"]
    assert _app_containers(site) == before
    _assert_consistent(site, "v1")
    code, result, _out = _run(capsys, _args(site, action="rollback", **_nginx(site)))
    assert code == 0 and result["release"]["image"] == v2, result
    _assert_consistent(site, "v2")


def test_a_live_redeploy_repairs_a_broken_include_and_strays(capsys, site, pair):
    v1, v2 = pair["v1"], pair["v2"]
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    assert _run(capsys, _args(site, image=v2, **_nginx(site)))[0] == 0
    include = site["tmp"] / "nginx" / "upstream.conf"
    good = include.read_text()
    include.write_text(good.replace(f"127.0.0.1:{site['green']}", f"127.0.0.1:{site['blue']}"))  # points at v1
    kept = _state(site)["releases"][1]["container"]
    _docker("start", kept)  # the kept release running again, by hand
    code, result, _out = _run(capsys, _args(site, image=v2, **_nginx(site)), check_mode=True, diff=True)
    assert (code, result["changed"]) == (0, True) and "repair: rewrite" in result["reason"], result
    assert include.read_text() != good and _app_containers(site)[kept] == "running"
    code, result, _out = _run(capsys, _args(site, image=v2, **_nginx(site)))
    assert (code, result["changed"]) == (0, True), result
    assert f"stop {kept} (running, not live)" in result["reason"]
    assert include.read_text() == good
    _assert_consistent(site, "v2")
    code, result, _out = _run(capsys, _args(site, image=v2, **_nginx(site)))
    assert (code, result["changed"]) == (0, False), result


def test_a_killed_live_container_is_replaced_by_a_redeploy(capsys, site, pair):
    v1 = pair["v1"]
    assert _run(capsys, _args(site, image=v1, **_nginx(site)))[0] == 0
    _docker("kill", _state(site)["live"]["container"])
    code, result, _out = _run(capsys, _args(site, image=v1, **_nginx(site)))
    assert (code, result["changed"], result["colour"]) == (0, True, "green"), result
    _assert_consistent(site, "v1")


def test_one_time_budget_bounds_the_health_check(capsys, site, pair):
    assert _run(capsys, _args(site, image=pair["v1"], **_nginx(site)))[0] == 0
    started = time.monotonic()
    # Failed checks would be tolerated 1000 times: only the budget (14 s, 12 s of it kept for what follows) ends it.
    code, result, _out = _run(capsys, _args(site, image=site["images"]["broken"], time_budget=14,
                                            health_check={"start_period": 1, "retries": 1000, "interval": 0.2},
                                            **_nginx(site)))
    assert code == 1 and "time_budget ran out" in result["msg"] and "It was removed" in result["msg"], result["msg"]
    assert time.monotonic() - started < 10
    _assert_consistent(site, "v1")


def test_a_failed_switch_to_a_new_include_path_removes_it_again(capsys, site, pair):
    assert _run(capsys, _args(site, image=pair["v1"], **_nginx(site)))[0] == 0
    other = site["tmp"] / "nginx" / "other.conf"
    code, result, _out = _run(capsys, _args(site, image=pair["v2"], upstream_file=str(other),
                                            nginx_test_command=["false"]))
    assert code == 1 and f"The new {other} was removed again, nginx was not reloaded" in result["msg"], result["msg"]
    assert not other.exists()
    _assert_consistent(site, "v1")
