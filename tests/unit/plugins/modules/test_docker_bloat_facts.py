# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import re
from unittest import mock

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.module_utils import _docker_facts
from ansible_collections.hostcare.vps.plugins.modules import docker_bloat_facts
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.fact_shapes import documented_shape, fact_shape
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.test_docker_connection import assert_documentation_matches


REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
RECORDED = os.path.join(REPO, "tests", "fixtures", "docker", "api-1.45")


def _recorded_inputs():
    """What read_docker_inputs returned on the recorded Docker 26 daemon."""
    def load(name):
        with open(os.path.join(RECORDED, name), encoding="utf-8") as handle:
            return json.load(handle)

    meta = load("meta.json")
    return {
        "version": load("version.json"), "info": load("info.json"), "df": load("system_df.json"),
        "inspections": load("containers_inspect.json"), "log_usage": load("log_files.json"),
        "daemon_json": {"text": meta["daemon_json"], "error": None},
    }


def _run_module(capsys, args=None):
    return run_module(docker_bloat_facts.main, capsys, args)


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
def test_main_returns_only_facts(capsys, check_mode):
    with mock.patch.object(_docker_facts, "read_docker_inputs", return_value=_recorded_inputs()) as read:
        code, result = _run_module(capsys, {"socket_path": "/run/docker.sock", "timeout": 7, "keep": 1,
                                            "_ansible_check_mode": check_mode})
    read.assert_called_once_with("/run/docker.sock", 7.0)
    assert code == 0
    assert result["changed"] is False
    assert set(result) - {"invocation"} == {"changed", "ansible_facts"}
    facts = result["ansible_facts"]["hostcare_docker"]
    assert facts["available"] is True and facts["keep"] == 1
    assert facts["daemon"]["version"] == "26.1.5+dfsg1"
    assert len(facts["images"]) == 9


def test_without_the_images_list(capsys):
    with mock.patch.object(_docker_facts, "read_docker_inputs", return_value=_recorded_inputs()):
        _code, result = _run_module(capsys, {"include_images_list": False})
    facts = result["ansible_facts"]["hostcare_docker"]
    assert facts["images"] is None and facts["totals"]["images"]["count"] == 9


def test_no_docker_is_a_fact_not_a_failure(capsys, tmp_path):
    code, result = _run_module(capsys, {"socket_path": str(tmp_path / "docker.sock")})
    facts = result["ansible_facts"]["hostcare_docker"]
    assert code == 0 and result["changed"] is False
    assert facts["available"] is False and facts["reason_code"] in ("no_socket", "not_installed")
    assert str(tmp_path / "docker.sock") in facts["reason"]


def test_fail_on_unavailable(capsys, tmp_path):
    (tmp_path / "docker.sock").write_text("")
    code, result = _run_module(capsys, {"socket_path": str(tmp_path / "docker.sock"), "fail_on_unavailable": True})
    assert code == 1 and result["failed"] is True
    assert result["msg"] == f"Docker is not available (not_a_socket): {tmp_path / 'docker.sock'} is not a unix socket"
    assert result["ansible_facts"]["hostcare_docker"]["reason_code"] == "not_a_socket"


@pytest.mark.parametrize("args, message", [
    ({"keep": -1}, "keep: must be a whole number at least 0 and at most 1000000, got -1"),
    ({"keep": 10 ** 30}, "keep: must be a whole number at least 0 and at most 1000000, got 1000000000000000000000000000000"),
    ({"timeout": 0}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ({"timeout": -3}, "timeout: must be a number of seconds greater than 0 and at most 3600, got -3"),
    ({"timeout": "nan"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 'nan'"),
    ({"timeout": "inf"}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 'inf'"),
    ({"timeout": 1e300}, "timeout: must be a number of seconds greater than 0 and at most 3600, got 1e+300"),
    ({"socket_path": "unix:///var/run/docker.sock"},
     "socket_path: give the socket's path (such as /var/run/docker.sock), not a URL, got 'unix:///var/run/docker.sock'"),
    ({"socket_path": "tcp://127.0.0.1:2375"}, "socket_path: give the socket's path"),
    ({"socket_path": "docker.sock"}, "socket_path: must be an absolute path (starting with /), got 'docker.sock'"),
    ({"keep": "three"}, "keep"),  # AnsibleModule's own type check names the option
    ({"timeout": "soon"}, "timeout"),
    ({"fail_on_unavailable": "maybe"}, "fail_on_unavailable"),
    ({"docker_host": "unix:///x"}, "docker_host"),
])
def test_bad_options_fail_with_a_message_naming_the_option(capsys, args, message):
    code, result = _run_module(capsys, args)
    assert code == 1
    assert result["failed"] is True
    assert message in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_unexpected_errors_fail_cleanly(capsys):
    with mock.patch.object(docker_bloat_facts, "gather_docker_facts", side_effect=RuntimeError("boom")):
        code, result = _run_module(capsys)
    assert (code, result["msg"]) == (1, "Could not gather Docker facts: RuntimeError: boom")
    assert "exception" not in result


def test_documented_options_match_the_argument_spec():
    documentation = yaml.safe_load(docker_bloat_facts.DOCUMENTATION)
    assert documentation["extends_documentation_fragment"] == ["hostcare.vps.docker", "hostcare.vps._attributes.facts"]
    assert_documentation_matches(docker_bloat_facts, docker_bloat_facts.ARGUMENT_SPEC)
    yaml.safe_load(docker_bloat_facts.EXAMPLES)


def test_facts_match_docs_facts_md_and_the_return_documentation(capsys):
    with mock.patch.object(_docker_facts, "read_docker_inputs", return_value=_recorded_inputs()):
        _code, result = _run_module(capsys)
    facts = result["ansible_facts"]["hostcare_docker"]
    # Leaves that are free-form dicts in the docs.
    for item in facts["images"] + facts["volumes"] + facts["containers"]:
        item["labels"] = None
    facts["daemon"]["log_opts"] = None

    with open(os.path.join(REPO, "docs", "facts.md"), encoding="utf-8") as handle:
        section = handle.read().split("## `hostcare.vps.docker_bloat_facts`", 1)[1]
    documented = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))["hostcare_docker"]
    for item in documented["images"] + documented["volumes"] + documented["containers"]:
        item["labels"] = None
    documented["daemon"]["log_opts"] = None
    assert fact_shape(facts) == fact_shape(documented)

    returned = yaml.safe_load(docker_bloat_facts.RETURN)["ansible_facts"]["contains"]["hostcare_docker"]["contains"]
    assert fact_shape(facts) == documented_shape(returned)
