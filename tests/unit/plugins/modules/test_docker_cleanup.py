# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
from unittest import mock

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.modules import docker_cleanup
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.test_docker_connection import assert_documentation_matches


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
    ({"trigger_use_percent": 120}, "trigger_use_percent: must be a percentage at least 0 and at most 100, got 120.0. "
                                   "Nothing was removed."),
    ({"trigger_images_size": "10Gb"}, "trigger_images_size: '10Gb' is not a valid size"),
    ({"protect_labels": ["=true"]}, "protect_labels: each entry must be LABEL or LABEL=VALUE"),
    ({"timeout": 0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ({"busy_attempts": 0}, "busy_attempts: must be a whole number at least 1 and at most 10, got 0"),
    ({"socket_path": "unix:///var/run/docker.sock"}, "socket_path: give the socket's path (such as /var/run/docker.sock), not a URL"),
    ({"kep": 1}, "kep"),  # AnsibleModule refuses unknown options
])
def test_bad_input_is_refused_before_docker_is_asked(capsys, tmp_path, args, message):
    with mock.patch.object(docker_cleanup, "read_docker_inputs") as read:
        code, result = _run_module(capsys, dict(args, protect_state_dir=str(tmp_path)))
    assert code == 1 and message in result["msg"]
    assert "Traceback" not in json.dumps(result)
    read.assert_not_called()


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
