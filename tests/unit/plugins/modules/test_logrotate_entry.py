# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.logrotate_entry with the real logrotate and dpkg-query of this machine, in a temporary directory
(tests/scripts/ensure-test-packages.sh installs logrotate)."""

from __future__ import annotations

import os
import shutil
from unittest import mock

import pytest

from ansible.module_utils import basic

from ansible_collections.hostcare.vps.plugins.modules import logrotate_entry
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


pytestmark = pytest.mark.skipif(shutil.which("logrotate") is None and not os.path.exists("/usr/sbin/logrotate"),
                                reason="needs logrotate: bash tests/scripts/ensure-test-packages.sh")


@pytest.fixture
def dirs(tmp_path):
    daily, hourly, logs = tmp_path / "logrotate.d", tmp_path / "logrotate.hourly.d", tmp_path / "log"
    daily.mkdir()
    logs.mkdir()
    if os.geteuid() != 0:
        with mock.patch.object(os, "chown"):
            yield daily, hourly, logs
    else:
        yield daily, hourly, logs


def run(capsys, daily, hourly, **args):
    args = {"config_dir": str(daily), "hourly_config_dir": str(hourly), "_ansible_diff": True, **args}
    return run_module(logrotate_entry.main, capsys, args)


def test_writes_a_checked_entry_then_reports_no_change(capsys, dirs):
    daily, hourly, logs = dirs
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/*.log"], postrotate=["true"])
    assert code == 0, result
    assert result["changed"] and result["path"] == f"{daily}/myapp"
    assert (daily / "myapp").read_text() == result["content"]
    assert oct((daily / "myapp").stat().st_mode & 0o777) == "0o644"
    assert result["diff"]["before"] == "" and "postrotate" in result["diff"]["after"]
    code, again = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/*.log"], postrotate=["true"])
    assert code == 0 and again["changed"] is False


def test_check_mode_writes_nothing(capsys, dirs):
    daily, hourly, logs = dirs
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], _ansible_check_mode=True)
    assert code == 0 and result["changed"]
    assert os.listdir(daily) == []


def test_logrotate_refusal_keeps_the_existing_file(capsys, dirs):
    daily, hourly, logs = dirs
    run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"])
    before = (daily / "myapp").read_text()
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/missing/app.log"], missingok=False)
    assert code == 1
    assert result["msg"].startswith(f"hostcare.vps.logrotate: logrotate refused the entry for {daily}/myapp: error: ")
    assert f"stat of {logs}/missing" in result["msg"]
    assert result["msg"].endswith(f"{daily}/myapp was not changed.")
    assert (daily / "myapp").read_text() == before
    assert os.listdir(daily) == ["myapp"]


def test_bad_input_names_the_option(capsys, dirs):
    daily, hourly, logs = dirs
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], size="10X")
    assert code == 1
    assert "size='10X' must be bytes" in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert os.listdir(daily) == []


def test_refuses_a_file_not_written_by_the_role(capsys, dirs):
    daily, hourly, logs = dirs
    (daily / "legacy").write_text("/var/log/legacy.log {\n}\n")
    for state in ("present",):
        code, result = run(capsys, daily, hourly, name="legacy", paths=[f"{logs}/app.log"], state=state)
        assert code == 1 and "exists and was not written by this role" in result["msg"]
    code, result = run(capsys, daily, hourly, name="legacy", state="absent")
    assert code == 0 and result["changed"] is False
    assert (daily / "legacy").read_text() == "/var/log/legacy.log {\n}\n"


@pytest.mark.skipif(not shutil.which("dpkg-query") or not os.path.exists("/etc/logrotate.d/apt"),
                    reason="needs Debian's apt logrotate file")
def test_refuses_a_file_of_a_package(capsys, dirs):
    dummy, hourly, logs = dirs
    code, result = run(capsys, "/etc/logrotate.d", hourly, name="apt", paths=[f"{logs}/app.log"],
                       _ansible_check_mode=False)
    assert code == 1
    assert result["msg"].startswith("hostcare.vps.logrotate: /etc/logrotate.d/apt belongs to the package apt;")


def test_hourly_moves_between_directories_and_absent_removes(capsys, dirs):
    daily, hourly, logs = dirs
    run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"])
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], frequency="hourly")
    assert code == 0 and result["changed"]
    assert result["path"] == f"{hourly}/myapp" and result["removed"] == [f"{daily}/myapp"]
    assert os.listdir(daily) == [] and os.listdir(hourly) == ["myapp"]
    assert "    hourly\n" in (hourly / "myapp").read_text()
    code, result = run(capsys, daily, hourly, name="myapp", state="absent")
    assert code == 0 and result["changed"] and result["removed"] == [f"{hourly}/myapp"]
    assert os.listdir(hourly) == []
    code, result = run(capsys, daily, hourly, name="myapp", state="absent")
    assert code == 0 and result["changed"] is False


def test_check_mode_without_logrotate_warns_instead_of_failing(capsys, dirs):
    daily, hourly, logs = dirs
    real_get_bin_path = basic.AnsibleModule.get_bin_path

    def without_logrotate(self, name, *args, **kwargs):
        return None if name == "logrotate" else real_get_bin_path(self, name, *args, **kwargs)

    with mock.patch.object(basic.AnsibleModule, "get_bin_path", without_logrotate):
        code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], _ansible_check_mode=True)
        assert code == 0 and result["changed"] and os.listdir(daily) == []
        code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"])
        assert code == 1 and result["msg"].startswith("hostcare.vps.logrotate: logrotate is not installed")


def test_refuses_a_log_another_entry_already_names(capsys, dirs, tmp_path):
    daily, hourly, logs = dirs
    (logs / "app.log").write_text("x\n")
    (daily / "vendor").write_text(f"{logs}/*.log {{\n    weekly\n}}\n")
    # Another file's own error (a missing log without missingok) is not this entry's problem.
    (daily / "broken").write_text(f"{logs}/gone/x.log {{\n    weekly\n}}\n")
    main = tmp_path / "logrotate.conf"
    main.write_text(f"weekly\nrotate 4\ninclude {daily}\n")
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], main_config=str(main))
    assert code == 1
    assert f"duplicate log entry for {logs}/app.log" in result["msg"]
    assert "gone" not in result["msg"]
    assert sorted(os.listdir(daily)) == ["broken", "vendor"]
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/other.log"], main_config=str(main))
    assert code == 0 and result["changed"]
