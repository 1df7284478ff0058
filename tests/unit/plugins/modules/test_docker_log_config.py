# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.docker_log_config on a daemon.json in a temporary directory, with no daemon behind the socket
(the Molecule scenario `logrotate` runs it against a real dockerd)."""

from __future__ import annotations

import json
import os
import random

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _docker_daemon_config as config
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DEFAULT_SOCKET, DockerAPIError
from ansible_collections.hostcare.vps.plugins.modules import docker_log_config
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.test_docker_connection import live_docker_client


def run(capsys, tmp_path, **args):
    args = {"path": str(tmp_path / "docker" / "daemon.json"), "_ansible_diff": True, **args}
    if "socket_path" not in args:
        args["socket"] = str(tmp_path / "no.sock")
    return run_module(docker_log_config.main, capsys, args)


def test_creates_the_file_then_reports_no_change(capsys, tmp_path):
    code, result = run(capsys, tmp_path)
    assert code == 0 and result["changed"]
    written = (tmp_path / "docker" / "daemon.json").read_text()
    assert json.loads(written) == {"log-driver": "json-file",
                                   "log-opts": {"max-size": "10m", "max-file": "3", "compress": "true"}}
    assert result["diff"]["before"] == "" and result["diff"]["after"] == written
    assert result["containers_checked"] is False and result["uncapped_containers"] == []
    assert "does not exist" in result["containers_error"]
    code, again = run(capsys, tmp_path)
    assert code == 0 and again["changed"] is False


def test_check_mode_keeps_the_file(capsys, tmp_path):
    (tmp_path / "docker").mkdir()
    original = '{"data-root": "/srv/docker"}'
    (tmp_path / "docker" / "daemon.json").write_text(original)
    code, result = run(capsys, tmp_path, max_size="50m", max_file=5, _ansible_check_mode=True)
    assert code == 0 and result["changed"]
    assert json.loads(result["content"])["log-opts"]["max-file"] == "5"
    assert list(json.loads(result["content"])) == ["data-root", "log-driver", "log-opts"]
    assert (tmp_path / "docker" / "daemon.json").read_text() == original


@pytest.mark.parametrize("text, args, message", [
    ('{"debug": true,}', {}, "it is not valid JSON"),
    ("{}", {"max_size": "10"}, "max_size='10' must be a size"),
])
def test_refusals_leave_the_file_alone(capsys, tmp_path, text, args, message):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "daemon.json").write_text(text)
    code, result = run(capsys, tmp_path, **args)
    assert code == 1 and message in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert (tmp_path / "docker" / "daemon.json").read_text() == text


# --- Issue 17: hostile input is refused before anything happens --------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
@pytest.mark.parametrize("data, message", [
    (b'{"log-level": "warn", "labels": ["caf\xe9"]}', "it is not UTF-8 text (byte 0xe9 at offset 37)"),
    (b"\xff\xfe{\x00}\x00", "it is not UTF-8 text (byte 0xff at offset 0)"),
    (b'{"debug": true,}', "it is not valid JSON"),
    (b"[]", "it is not a JSON object"),
    (b'"log-driver"', "it is not a JSON object"),
    (b'{"max-concurrent-downloads": NaN}', "it is not valid JSON (NaN is not JSON)"),
    (b'{"log-opts": ["max-size=10m"]}', "its log-opts is not a JSON object"),
])
def test_a_daemon_json_dockerd_cannot_read_is_refused_untouched(capsys, tmp_path, data, message, check_mode):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "daemon.json").write_bytes(data)
    code, result = run(capsys, tmp_path, _ansible_check_mode=check_mode)
    assert code == 1 and message in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert "Traceback" not in json.dumps(result) and "exception" not in result
    assert (tmp_path / "docker" / "daemon.json").read_bytes() == data


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
@pytest.mark.parametrize("args, message", [
    # The bug: accepted, dockerd started, then every new container failed "max-size must be a positive number".
    ({"max_size": "99999999999999999999999g"}, "max_size='99999999999999999999999g' must be at most 1000000g"),
    ({"max_size": "1000001g"}, "must be at most 1000000g (10^15 bytes"),
    ({"max_size": "0m"}, "max_size='0m' must be a size such as 10m"),
    ({"max_size": "1e300"}, "max_size='1e300' must be a size"),
    ({"max_size": "nan"}, "max_size='nan' must be a size"),
    ({"max_size": "inf"}, "max_size='inf' must be a size"),
    ({"max_size": "\u0661\u0660m"}, "must be a size"),
    ({"max_file": 0}, "max_file=0 must be a whole number of files from 1 to 1000"),
    ({"max_file": 1001}, "max_file=1001 must be a whole number of files from 1 to 1000"),
    ({"max_file": -3}, "max_file=-3 must be a whole number"),
    ({"max_file": 1e300}, "max_file"),  # AnsibleModule's own int conversion, or ours: both name the option
    ({"max_file": "nan"}, "max_file"),
    ({"max_file": 1, "compress": True}, "compress=true needs max_file 2 or more"),
    ({"path": "daemon.json"}, "path: must be an absolute path (starting with /), got 'daemon.json'"),
    ({"path": ""}, "path: must be an absolute path, got ''"),
    ({"path": "/proc/self/daemon.json"}, "path: '/proc/self/daemon.json' is in a kernel filesystem"),
    ({"path": "/etc/docker/../docker/daemon.json"}, "path: must be a normalised path"),
    ({"timeout": 0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 0"),
])
def test_bad_options_are_refused_before_the_file_is_read(capsys, tmp_path, args, message, check_mode):
    (tmp_path / "docker").mkdir()
    original = '{"data-root": "/srv/docker"}'
    (tmp_path / "docker" / "daemon.json").write_text(original)
    code, result = run(capsys, tmp_path, _ansible_check_mode=check_mode, **args)
    assert code == 1 and message in result["msg"]
    assert "Traceback" not in json.dumps(result) and "exception" not in result
    assert (tmp_path / "docker" / "daemon.json").read_text() == original


def test_the_largest_values_are_accepted(capsys, tmp_path):
    code, result = run(capsys, tmp_path, max_size="1000000g", max_file=1000)
    assert code == 0 and result["changed"]
    assert json.loads(result["content"])["log-opts"] == {"max-size": "1000000g", "max-file": "1000", "compress": "true"}
    code, result = run(capsys, tmp_path, max_size="1k", max_file=1, compress=False)
    assert code == 0 and json.loads(result["content"])["log-opts"]["max-file"] == "1"


def test_socket_path_and_its_old_name_socket(capsys, tmp_path):
    path = str(tmp_path / "daemon.json")
    for option in ("socket_path", "socket"):
        code, result = run_module(docker_log_config.main, capsys, {"path": path, option: str(tmp_path / "none.sock")})
        assert code == 0 and result["containers_checked"] is False
        assert result["containers_error"] == f"{tmp_path / 'none.sock'} does not exist: the Docker daemon is not running" \
            or "Docker is not installed" in result["containers_error"]


def test_dockerd_validated_says_whether_dockerd_checked_the_file(capsys, tmp_path):
    code, result = run(capsys, tmp_path)
    assert code == 0 and result["changed"]
    expected = config.dockerd_validate(result["content"])[0]
    assert result["dockerd_validated"] is expected
    code, again = run(capsys, tmp_path)
    assert again["changed"] is False and again["dockerd_validated"] is False


def _start_with_log_opts(client, image, opts):
    """Start a throwaway container logging with `opts`; None when it ran, else the daemon's refusal."""
    name = f"hostcare-unit-logopts-{os.getpid()}-{random.randrange(10 ** 6)}"
    client.request("POST", f"/containers/create?name={name}", body={
        "Image": image, "Cmd": ["true"], "Labels": {"hostcare.test": "1"},
        "HostConfig": {"LogConfig": {"Type": "json-file", "Config": opts}}})
    try:
        client.request("POST", f"/containers/{name}/start", timeout=60)
        return None
    except DockerAPIError as error:
        return str(error)
    finally:
        client.request("DELETE", f"/containers/{name}?force=1", ignore_status=(404,))


def test_the_real_daemon_accepts_the_largest_values_and_refuses_the_one_of_the_bug(capsys, tmp_path):
    """What the module writes at its limits, a real dockerd starts containers with; the value the module once
    accepted, it refuses for every container."""
    client = live_docker_client()
    try:
        images = [image for image in client.get("/images/json") or [] if image.get("RepoTags")]
        if not images:
            pytest.skip("the daemon has no image to start a container from")
        image = images[0]["Id"]
        code, result = run(capsys, tmp_path, max_size="1000000g", max_file=1000, socket_path=DEFAULT_SOCKET)
        assert code == 0 and result["containers_checked"] is True
        assert _start_with_log_opts(client, image, json.loads(result["content"])["log-opts"]) is None
        refusal = _start_with_log_opts(client, image, {"max-size": "99999999999999999999999g", "max-file": "3"})
        assert refusal is not None and "max-size must be a positive number" in refusal
    finally:
        client.close()
