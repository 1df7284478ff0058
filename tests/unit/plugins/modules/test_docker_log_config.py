# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.docker_log_config on a daemon.json in a temporary directory, with no daemon behind the socket
(the Molecule scenario `logrotate` runs it against a real dockerd)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hostcare.vps.plugins.modules import docker_log_config
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


def run(capsys, tmp_path, **args):
    args = {"path": str(tmp_path / "docker" / "daemon.json"), "socket": str(tmp_path / "no.sock"),
            "_ansible_diff": True, **args}
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
