# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import random
from unittest import mock

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.modules import docker_cleanup
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.test_docker_connection import (
    assert_documentation_matches,
    live_docker_client,
)


REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
RECORDED = os.path.join(REPO, "tests", "fixtures", "docker", "api-1.41")


def _recorded_inputs():
    def load(name):
        with open(os.path.join(RECORDED, name), encoding="utf-8") as handle:
            return json.load(handle)
    return {"version": load("version.json"), "info": load("info.json"), "df": load("system_df.json"),
            "inspections": load("containers_inspect.json"), "log_usage": {}, "daemon_json": {"text": None, "error": "missing"}}


def _run_module(capsys, args=None):
    return run_module(docker_cleanup.main, capsys, args)


@pytest.mark.parametrize("args, message", [
    ({"keep": -1}, "keep: must be a whole number at least 0 and at most 1000000, got -1. Nothing was removed."),
    ({"remove_volumes": True}, "remove_volumes: volumes hold data (databases, uploads); to remove the volumes no "
                               "container mounts, set remove_volumes_confirmed to true as well. Nothing was removed."),
    ({"build_cache_older_than": "soon"}, "build_cache_older_than: expected a duration such as 12h, 7d or 2w"),
    ({"containers_older_than": "-3d"}, "containers_older_than: expected a duration"),
    ({"trigger_use_percent": 120}, "trigger_use_percent: must be a percentage at least 0 and at most 100, got 120. "
                                   "Nothing was removed."),
    ({"trigger_images_size": "10Gb"}, "trigger_images_size: '10Gb' is not a valid size"),
    ({"protect_labels": ["=true"]}, "protect_labels: each entry must be LABEL or LABEL=VALUE"),
    ({"timeout": 0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ({"busy_attempts": 0}, "busy_attempts: must be a whole number at least 1 and at most 10, got 0"),
    ({"socket_path": "unix:///var/run/docker.sock"}, "socket_path: give the socket's path (such as /var/run/docker.sock), not a URL"),
    ({"kep": 1}, "kep"),  # AnsibleModule refuses unknown options
    # Issue 17: huge, nan, inf, Unicode digits, relative paths, each refused naming the option.
    ({"timeout": 1e300}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 1e+300"),
    ({"timeout": "nan"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 'nan'"),
    ({"prune_timeout": "inf"}, "prune_timeout: must be a number of seconds greater than 0 and at most 3600, got 'inf'"),
    ({"prune_timeout": 1e300}, "prune_timeout: must be a number of seconds greater than 0 and at most 3600"),
    ({"busy_attempts": 10 ** 9}, "busy_attempts: must be a whole number at least 1 and at most 10, got 1000000000"),
    ({"keep": 1e300}, "keep"),
    ({"keep": 10 ** 7}, "keep: must be a whole number at least 0 and at most 1000000, got 10000000"),
    ({"trigger_use_percent": "nan"}, "trigger_use_percent: must be a percentage at least 0 and at most 100, got 'nan'"),
    ({"trigger_use_percent": "inf"}, "trigger_use_percent: must be a percentage"),
    ({"trigger_use_percent": -1}, "trigger_use_percent: must be a percentage at least 0 and at most 100, got -1"),
    ({"trigger_images_size": "inf"}, "trigger_images_size: 'inf' is not a valid size"),
    ({"trigger_images_size": "2P"}, "trigger_images_size: must be a size between 0 B and "),
    ({"trigger_images_size": "\u0661\u0660G"}, "trigger_images_size: '\u0661\u0660G' is not a valid size"),
    ({"unused_older_than": "99999999999w"}, "unused_older_than: must be a duration of at most 3650d (315360000 seconds), "
                                            "got '99999999999w'"),
    ({"containers_older_than": "\u0663d"}, "containers_older_than: expected a duration such as 12h, 7d or 2w"),
    ({"build_cache_older_than": "1e300"}, "build_cache_older_than: expected a duration"),
    ({"build_cache_older_than": "nan"}, "build_cache_older_than: expected a duration"),
    ({"protect_state_dir": "var/lib/hostcare/bluegreen"},
     "protect_state_dir: must be an absolute path (starting with /), got 'var/lib/hostcare/bluegreen'"),
    ({"protect_state_dir": ""}, "protect_state_dir: must be an absolute path, got ''"),
    ({"protect_state_dir": "/var/lib/hostcare/bluegreen/../x"}, "protect_state_dir: must be a normalised path"),
    ({"protect_state_dir": "/var/lib/hostcare/blugreen"},
     "protect_state_dir: /var/lib/hostcare/blugreen does not exist, so it would protect no release. Give the state_dir "
     "of hostcare.vps.bluegreen_release, or leave the default /var/lib/hostcare/bluegreen. Nothing was removed."),
])
def test_bad_input_is_refused_before_docker_is_asked(capsys, tmp_path, args, message):
    with mock.patch.object(docker_cleanup, "read_docker_inputs") as read:
        code, result = _run_module(capsys, dict({"protect_state_dir": str(tmp_path)}, **args))
    assert code == 1 and message in result["msg"]
    assert "Traceback" not in json.dumps(result)
    read.assert_not_called()


def test_a_socket_that_cannot_be_used_is_named_as_the_option(capsys, tmp_path):
    code, result = _run_module(capsys, {"protect_state_dir": str(tmp_path), "socket_path": "/proc/hostile"})
    assert code == 1 and result["removed"] == []
    assert result["msg"] == ("Docker cannot be asked (no_socket): /proc/hostile does not exist: the Docker daemon is "
                             "not running (asked through socket_path /proc/hostile). Nothing was removed.")


def test_an_invalid_state_file_is_refused_naming_it(capsys, tmp_path):
    (tmp_path / "shop.json").write_text("{")
    with mock.patch.object(docker_cleanup, "read_docker_inputs") as read:
        code, result = _run_module(capsys, {"protect_state_dir": str(tmp_path)})
    assert code == 1
    assert result["msg"].startswith(f"{tmp_path}/shop.json: not valid JSON")
    assert result["msg"].endswith("Nothing was removed.")
    read.assert_not_called()


def test_check_mode_lists_the_plan_and_removes_nothing(capsys, tmp_path):
    with mock.patch.object(docker_cleanup, "read_docker_inputs", return_value=_recorded_inputs()), \
            mock.patch.object(docker_cleanup, "remove_planned") as remove:
        code, result = _run_module(capsys, {"keep": 1, "protect_state_dir": str(tmp_path), "_ansible_check_mode": True,
                                            "_ansible_diff": True})
    remove.assert_not_called()
    assert code == 0 and result["changed"] is True
    assert [entry["kind"] for entry in result["selected"]] == ["image", "tag", "image"]
    assert result["removed"] == [] and result["reclaimed_bytes"]["total"] == 0
    assert result["would_reclaim_bytes"]["total"] == sum(entry["size_bytes"] for entry in result["selected"])
    assert result["diff"]["before"].count("\n") == 3 and result["diff"]["after"] == ""
    assert result["report"][0] == "trigger: no trigger set: the cleanup always runs"


def test_not_triggered_changes_nothing(capsys, tmp_path):
    with mock.patch.object(docker_cleanup, "read_docker_inputs", return_value=_recorded_inputs()), \
            mock.patch.object(docker_cleanup, "remove_planned") as remove:
        code, result = _run_module(capsys, {"protect_state_dir": str(tmp_path), "trigger_images_size": "1T"})
    remove.assert_not_called()
    assert (code, result["changed"], result["triggered"], result["selected"]) == (0, False, False, [])
    assert result["msg"].startswith("Not triggered: images take ")


def test_documented_options_match_the_argument_spec():
    assert_documentation_matches(docker_cleanup, docker_cleanup.ARGUMENT_SPEC)
    yaml.safe_load(docker_cleanup.EXAMPLES)
    returned = yaml.safe_load(docker_cleanup.RETURN)
    assert set(returned) >= {"selected", "kept", "removed", "skipped", "reclaimed_bytes", "filesystem_before", "report"}


def test_the_role_argument_specs_mirror_the_module_options():
    with open(os.path.join(REPO, "roles", "docker_cleanup", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    with open(os.path.join(REPO, "roles", "docker_cleanup", "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    prefix = "hostcare_docker_cleanup_"
    assert {name[len(prefix):] for name in options} == set(docker_cleanup.ARGUMENT_SPEC)
    assert set(defaults) == set(options)
    for name, spec in options.items():
        module_spec = docker_cleanup.ARGUMENT_SPEC[name[len(prefix):]]
        assert spec["type"] == module_spec["type"], name
        assert defaults[name] == spec.get("default"), name
        if module_spec.get("default") is not None:
            assert spec["default"] == module_spec["default"], name


def _state(app, *image_ids):
    releases = [{"colour": "blue", "container": f"{app}-blue", "image": f"{app}:v{index}", "image_id": image_id,
                 "deployed_at": "2026-11-20T10:00:00Z"} for index, image_id in enumerate(image_ids)]
    return json.dumps({"app": app, "live": releases[0] if releases else None, "releases": releases[1:]})


def test_the_result_says_how_many_releases_the_state_protected(capsys, tmp_path):
    inputs = _recorded_inputs()
    image_ids = [image["Id"] for image in inputs["df"]["Images"]][:3]
    (tmp_path / "shop.json").write_text(_state("shop", image_ids[0], image_ids[1]))
    (tmp_path / "api.json").write_text(_state("api", image_ids[2]))
    with mock.patch.object(docker_cleanup, "read_docker_inputs", return_value=inputs):
        code, result = _run_module(capsys, {"keep": 0, "protect_state_dir": str(tmp_path), "_ansible_check_mode": True})
    assert code == 0 and result["protected_releases"] == 3
    assert result["report"][1] == f"bluegreen state {tmp_path}: 3 release images of api, shop protected"
    kept = {entry["id"]: entry for entry in result["kept"]}
    assert all(kept[image_id]["rule"] == "rollback_release" for image_id in image_ids)
    assert not {entry["id"] for entry in result["selected"]} & set(image_ids)


def test_the_default_state_dir_may_be_missing(capsys):
    """No blue-green app on this host: the default directory does not exist, nothing to protect, no refusal."""
    if os.path.exists(docker_cleanup.BLUEGREEN_STATE_DIR):
        pytest.skip(f"{docker_cleanup.BLUEGREEN_STATE_DIR} exists on this host")
    with mock.patch.object(docker_cleanup, "read_docker_inputs", return_value=_recorded_inputs()):
        code, result = _run_module(capsys, {"_ansible_check_mode": True})
    assert code == 0 and result["protected_releases"] == 0
    assert result["report"][1] == f"bluegreen state {docker_cleanup.BLUEGREEN_STATE_DIR}: no release to protect"


def test_on_the_real_daemon_a_misspelt_state_dir_no_longer_exposes_a_rollback_image(capsys, tmp_path):
    """The bug: a misspelt protect_state_dir protected nothing and a rollback image was selected for removal.
    Check mode only: nothing is removed from the shared daemon but the test's own image afterwards."""
    client = live_docker_client()
    name = f"hostcare-unit-cleanup-{os.getpid()}-{random.randrange(10 ** 6)}"
    repository, image_id = f"{name}/app", None
    try:
        # Not another run's own image (make test runs the suite on two Pythons at once): a container made from it
        # would put that image in use and out of the other run's selection.
        tagged = [image for image in client.get("/images/json") or [] if image.get("RepoTags")
                  and not any(tag.startswith("hostcare-unit-cleanup-") for tag in image["RepoTags"])]
        if not tagged:
            pytest.skip("the daemon has no tagged image")
        # A release image of our own that no container uses: committed from a container never started.
        client.request("POST", f"/containers/create?name={name}",
                       body={"Image": tagged[0]["Id"], "Cmd": ["true"], "Labels": {"hostcare.test": "1"}})
        try:
            image_id = client.request("POST", f"/commit?container={name}&repo={repository}&tag=v1", body={})["Id"]
        finally:
            client.request("DELETE", f"/containers/{name}?force=1", ignore_status=(404,))
        state_dir = tmp_path / "bluegreen"
        state_dir.mkdir()
        (state_dir / "app.json").write_text(_state("app", image_id))
        args = {"keep": 0, "protect_patterns": [], "protect_labels": [], "_ansible_check_mode": True}

        code, result = _run_module(capsys, dict(args, protect_state_dir=str(state_dir)))
        assert code == 0 and result["protected_releases"] == 1 and result["removed"] == []
        assert {"id": image_id, "rule": "rollback_release"}.items() <= next(
            entry for entry in result["kept"] if entry["id"] == image_id).items()
        assert f"{repository}:v1" not in {name for entry in result["selected"] for name in entry["names"]}

        code, result = _run_module(capsys, dict(args, protect_state_dir=str(tmp_path / "bluegren")))
        assert code == 1 and result["selected"] == [] and "bluegren does not exist" in result["msg"]

        empty = tmp_path / "empty"
        empty.mkdir()
        code, result = _run_module(capsys, dict(args, protect_state_dir=str(empty)))
        assert code == 0 and result["protected_releases"] == 0
        assert f"{repository}:v1" in {name for entry in result["selected"] for name in entry["names"]}
    finally:
        if image_id:
            client.request("DELETE", f"/images/{image_id}", ignore_status=(404,))
        client.close()
