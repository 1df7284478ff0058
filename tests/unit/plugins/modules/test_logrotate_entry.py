# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.logrotate_entry with the real logrotate and dpkg-query of this machine, in a temporary directory
(tests/scripts/ensure-test-packages.sh installs logrotate)."""

from __future__ import annotations

import os
import shutil
from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import ENTRY_SPEC
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


def test_rotate_as_text_is_written_as_a_number(capsys, dirs):
    daily, hourly, logs = dirs
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], rotate=" 7")
    assert code == 0 and "    rotate 7\n" in result["content"], result


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


# --- a set of entries, checked together before any is written (issue 17) -------------------------------------

def run_set(capsys, daily, hourly, entries, **args):
    return run(capsys, daily, hourly, entries=entries, **args)


def listing(*dirs):
    return {str(directory): sorted(os.listdir(directory)) if os.path.isdir(directory) else None for directory in dirs}


@pytest.mark.parametrize("check_mode", [True, False])
def test_two_new_entries_where_one_glob_covers_the_other_path_are_refused_together(capsys, dirs, check_mode):
    """Each passed --check alone; the real run wrote one and refused the other. Now both are refused, in both modes."""
    daily, hourly, logs = dirs
    entries = [{"name": "app", "paths": [f"{logs}/*.log"]}, {"name": "app-main", "paths": [f"{logs}/main.log"]}]
    code, result = run_set(capsys, daily, hourly, entries, _ansible_check_mode=check_mode)
    assert code == 1
    assert f"entries 'app' and 'app-main' name the same log ({logs}/*.log and {logs}/main.log)" in result["msg"]
    assert result["msg"].endswith("Nothing was changed.")
    assert listing(daily, hourly) == {str(daily): [], str(hourly): None}


def test_globs_that_logrotate_finds_matching_the_same_file_are_refused_by_one_logrotate_run(capsys, dirs):
    daily, hourly, logs = dirs
    (logs / "app.log").write_text("x\n")
    entries = [{"name": "by-suffix", "paths": [f"{logs}/*.log"]}, {"name": "by-name", "paths": [f"{logs}/app.*"]}]
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 1
    assert f"duplicate log entry for {logs}/app.log" in result["msg"]
    assert result["msg"].startswith(f"hostcare.vps.logrotate: logrotate refused the entries for {daily}/by-suffix, "
                                    f"{daily}/by-name: error: ")
    assert result["msg"].endswith("Nothing was changed.")
    assert listing(daily) == {str(daily): []}


def test_an_hourly_and_a_daily_glob_entry_for_the_same_file_are_refused(capsys, dirs):
    daily, hourly, logs = dirs
    entries = [{"name": "app", "paths": [f"{logs}/*.log"]},
               {"name": "app-hourly", "paths": [f"{logs}/busy.log"], "frequency": "hourly"}]
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 1
    assert "the daily and the hourly run would both rotate it" in result["msg"]
    assert listing(daily, hourly) == {str(daily): [], str(hourly): None}


def test_a_new_hourly_entry_for_a_file_an_existing_daily_entry_rotates_is_refused(capsys, dirs):
    """The existing daily entry is on disk (an earlier run); only logrotate -d with both directories sees the clash."""
    daily, hourly, logs = dirs
    (logs / "busy.log").write_text("x\n")
    code, result = run(capsys, daily, hourly, name="app", paths=[f"{logs}/*.log"])
    assert code == 0, result
    before = (daily / "app").read_text()
    code, result = run(capsys, daily, hourly, name="app-hourly", paths=[f"{logs}/busy.log"], frequency="hourly")
    assert code == 1
    assert f"duplicate log entry for {logs}/busy.log" in result["msg"]
    assert (daily / "app").read_text() == before and not hourly.exists()


def test_a_good_set_is_written_together_and_idempotent(capsys, dirs):
    daily, hourly, logs = dirs
    entries = [{"name": "api", "paths": [f"{logs}/api/*.log"], "postrotate": ["true"]},
               {"name": "worker", "paths": [f"{logs}/worker.log"], "frequency": "hourly", "rotate": 48}]
    code, result = run_set(capsys, daily, hourly, entries, _ansible_check_mode=True)
    assert code == 0 and result["changed"] and result["hourly_files"] == ["worker"]
    assert listing(daily, hourly) == {str(daily): [], str(hourly): None}
    os.makedirs(hourly)
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 0 and result["changed"], result
    assert [entry["changed"] for entry in result["entries"]] == [True, True]
    assert listing(daily, hourly) == {str(daily): ["api"], str(hourly): ["worker"]}
    assert len(result["diff"]) == 2
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 0 and result["changed"] is False and result["hourly_files"] == ["worker"]
    entries[1]["state"] = "absent"
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 0 and result["changed"] and result["removed"] == [f"{hourly}/worker"]
    assert result["hourly_files"] == []


@pytest.mark.parametrize("entries, message", [
    ([{"name": "a", "paths": ["/var/log/a.log"]}, {"name": "a", "paths": ["/var/log/b.log"]}],
     "entry 'a': the name is used by two entries"),
    ([{"name": "a", "paths": ["log/a.log"]}], "entry 'a': paths: must be an absolute path (starting with /)"),
    ([{"name": "a", "paths": [""]}], "entry 'a': paths: must be an absolute path, got ''"),
    ([{"name": "a", "paths": ["/proc/1/fd/*.log"]}], "entry 'a': paths: '/proc/1/fd/*.log' is in a kernel filesystem"),
    ([{"name": "a", "paths": ["/var/log/a.log"], "rotate": 10001}], "entry 'a': rotate: must be a whole number"),
    ([{"name": "a", "paths": ["/var/log/a.log"], "rotate": "inf"}], "entry 'a': rotate: must be a whole number"),
    ([{"name": "a", "paths": ["/var/log/a.log"], "rotate": float("nan")}], "entry 'a': rotate: must be a whole number"),
    ([{"name": "b"}], "entry 'b': paths must be a non-empty list"),
    ([{"name": "a", "paths": ["/var/log/a.log"]}, "junk"], "entries[1]: must be a dict with the options of one entry"),
    ([{"name": "a", "paths": ["/var/log/a.log"], "rotat": 3}], "entries[a]: rotat: unknown option; did you mean rotate?"),
    ([{"name": "a", "paths": ["/var/log/a.log"], "compress": "maybe"}], "entries[a]: argument 'compress' is of type"),
    ([{"paths": ["/var/log/a.log"]}], "entries[0]: missing required arguments: name"),
])
def test_bad_sets_name_the_entry_and_change_nothing(capsys, dirs, entries, message):
    daily, hourly, dummy = dirs
    code, result = run_set(capsys, daily, hourly, entries)
    assert code == 1 and message in result["msg"] and result["msg"].endswith("Nothing was changed."), result
    assert listing(daily) == {str(daily): []}


@pytest.mark.parametrize("option, value, message", [
    ("config_dir", "lr-rel.d", "config_dir: must be an absolute path (starting with /), got 'lr-rel.d'"),
    ("config_dir", "", "config_dir: must be an absolute path, got ''"),
    ("config_dir", "/proc/lr.d", "config_dir: '/proc/lr.d' is in a kernel filesystem"),
    ("config_dir", "/", "config_dir: must not be the root directory"),
    ("hourly_config_dir", "hourly.d", "hourly_config_dir: must be an absolute path (starting with /)"),
    ("main_config", "logrotate.conf", "main_config: must be an absolute path (starting with /)"),
])
def test_directories_must_be_absolute(capsys, dirs, tmp_path, monkeypatch, option, value, message):
    """A relative config_dir wrote /lr-rel.d/...: now refused before anything is read or written."""
    daily, hourly, logs = dirs
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], **{option: value})
    assert code == 1 and message in result["msg"] and result["msg"].endswith("Nothing was changed."), result
    assert sorted(os.listdir(tmp_path)) == before and listing(daily) == {str(daily): []}
    assert not os.path.exists("/lr-rel.d")


def test_a_failed_write_puts_back_the_files_already_written(capsys, dirs):
    daily, hourly, logs = dirs
    run(capsys, daily, hourly, name="api", paths=[f"{logs}/api.log"], rotate=7)
    before = (daily / "api").read_text()
    real_write = logrotate_entry.write
    written = []

    def fail_second(module, content, dest):
        if dest.endswith("/worker"):
            raise OSError(28, "No space left on device")
        written.append(dest)
        real_write(module, content, dest)

    entries = [{"name": "api", "paths": [f"{logs}/api.log"], "rotate": 30},
               {"name": "worker", "paths": [f"{logs}/worker.log"]}]
    with mock.patch.object(logrotate_entry, "write", side_effect=fail_second):
        code, result = run_set(capsys, daily, hourly, entries)
    assert code == 1 and "No space left on device" in result["msg"] and "put back" in result["msg"]
    assert written == [f"{daily}/api", f"{daily}/api"]  # written, then put back
    assert (daily / "api").read_text() == before and sorted(os.listdir(daily)) == ["api"]


def test_documentation_matches_argument_spec():
    documentation = yaml.safe_load(logrotate_entry.DOCUMENTATION)["options"]
    assert sorted(documentation) == sorted(logrotate_entry.ARGUMENT_SPEC)
    for name, spec in logrotate_entry.ARGUMENT_SPEC.items():
        assert documentation[name]["type"] == spec["type"], name
        assert documentation[name].get("default") == spec.get("default"), name
        assert documentation[name].get("choices") == spec.get("choices"), name
        assert documentation[name].get("required", False) == spec.get("required", False), name
    described = " ".join(documentation["entries"]["description"])
    assert all(f"O({name})" in described for name in ENTRY_SPEC), "entries names every option of an entry"


def test_the_role_documents_the_entry_options_of_the_module():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "logrotate", "meta",
                           "argument_specs.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["hostcare_logrotate_entries"]["options"]
    assert sorted(options) == sorted(ENTRY_SPEC)
    for name, spec in ENTRY_SPEC.items():
        assert {key: options[name].get(key) for key in ("type", "default", "choices", "elements")} == {
            key: spec.get(key) for key in ("type", "default", "choices", "elements")}, name


@pytest.mark.parametrize("where, message", [("main_config", "main_config: '{tmp}' is a directory"),
                                            ("entry", "Is a directory")])
def test_a_directory_where_a_file_should_be_is_a_message_not_a_traceback(capsys, dirs, tmp_path, where, message):
    daily, hourly, logs = dirs
    args = {"main_config": str(tmp_path)} if where == "main_config" else {}
    if where == "entry":
        (daily / "myapp").mkdir()
    code, result = run(capsys, daily, hourly, name="myapp", paths=[f"{logs}/app.log"], **args)
    assert code == 1 and message.format(tmp=tmp_path) in result["msg"], result
    assert result["msg"].endswith("Nothing was changed.")
