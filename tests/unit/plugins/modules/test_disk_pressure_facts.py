# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import re
from unittest import mock

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.module_utils import _disk_options
from ansible_collections.hostcare.vps.plugins.modules import disk_pressure_facts
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.fact_shapes import documented_shape, fact_shape
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def _run_module(capsys, args=None):
    # Off unless a test asks: this machine's own full filesystems (a test loop mount, say) would join the scan.
    return run_module(disk_pressure_facts.main, capsys, {"scan_full_filesystems": 0, **(args or {})})


@pytest.fixture(name="scan_dir")
def scan_dir_fixture(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "data.bin").write_bytes(b"x" * 10000)
    return str(tmp_path)


@pytest.mark.parametrize("check_mode", [False, True], ids=["normal", "check-mode"])
def test_main_returns_only_facts(capsys, scan_dir, check_mode):
    code, result = _run_module(capsys, {"scan_paths": [scan_dir], "time_budget": 10, "_ansible_check_mode": check_mode})
    assert code == 0
    assert result["changed"] is False
    assert set(result) - {"invocation"} == {"changed", "ansible_facts"}
    facts = result["ansible_facts"]["hostcare_disk"]
    assert facts["scan"]["paths"] == [scan_dir] and facts["scan"]["missing_paths"] == []
    app_size = (os.lstat(f"{scan_dir}/app").st_blocks + os.lstat(f"{scan_dir}/app/data.bin").st_blocks) * 512
    assert facts["scan"]["top_dirs"] == [{"path": f"{scan_dir}/app", "size_bytes": app_size}]
    assert any(filesystem["mount"] == "/" for filesystem in facts["filesystems"])


def test_the_default_scan_paths_skip_missing_ones(capsys, scan_dir, monkeypatch):
    monkeypatch.setattr(_disk_options, "DEFAULT_SCAN_PATHS", (f"{scan_dir}/app", f"{scan_dir}/missing"))
    code, result = _run_module(capsys, {"top_n": 1})
    scan = result["ansible_facts"]["hostcare_disk"]["scan"]
    assert code == 0
    assert (scan["paths"], scan["missing_paths"]) == ([f"{scan_dir}/app"], [f"{scan_dir}/missing"])


def test_skip_scan(capsys):
    code, result = _run_module(capsys, {"skip_scan": True, "scan_paths": ["/nonexistent"]})
    facts = result["ansible_facts"]["hostcare_disk"]
    assert code == 0
    assert facts["scan"] is None and facts["unrotated_logs"] is None


@pytest.mark.parametrize("args, message", [
    ({"time_budget": 0}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got 0"),
    ({"time_budget": -5}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got -5"),
    ({"time_budget": "nan"}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got 'nan'"),
    ({"time_budget": "inf"}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got 'inf'"),
    ({"time_budget": float("nan")}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got nan"),
    ({"time_budget": 1e300}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got 1e+300"),
    ({"time_budget": "\u0665"}, "time_budget: must be a number of seconds greater than 0 and at most 3600, got '\u0665'"),
    ({"scan_full_filesystems": 101}, "scan_full_filesystems: must be a percentage at least 0 and at most 100, got 101"),
    ({"scan_full_filesystems": -1}, "scan_full_filesystems: must be a percentage at least 0 and at most 100, got -1"),
    ({"scan_full_filesystems": float("nan")}, "scan_full_filesystems: must be a percentage at least 0 and at most 100, got nan"),
    ({"top_n": 0}, "top_n: must be a whole number at least 1 and at most 1000, got 0"),
    ({"top_n": -1}, "top_n: must be a whole number at least 1 and at most 1000, got -1"),
    ({"top_n": float("inf")}, "top_n: must be a whole number at least 1 and at most 1000, got inf"),
    ({"top_n": "\u0661\u0662"}, "top_n: must be a whole number at least 1 and at most 1000, got '\u0661\u0662'"),
    ({"top_n": 10 ** 30}, "top_n: must be a whole number at least 1 and at most 1000, got 10000000000000000000000000000"),
    ({"max_unreadable": -1}, "max_unreadable: must be a whole number at least 0 and at most 1000000, got -1"),
    ({"min_log_size": float("inf")}, "min_log_size: must be a finite non-negative number of bytes, got inf"),
    ({"min_log_size": "2P"}, "min_log_size: must be a size between 0 B and 1024.0 TiB, got '2P'"),
    ({"scan_paths": ["/var/../etc"]}, "scan_paths: must be a normalised path"),
    ({"scan_paths": [""]}, "scan_paths: must be an absolute path, got ''"),
    ({"skip_scan": True, "scan_paths": ["relative"]}, "scan_paths: must be an absolute path (starting with /), got 'relative'"),
    ({"min_log_size": "2Gb"}, "min_log_size: '2Gb' is not a valid size"),
    ({"min_log_size": "-5MB"}, "min_log_size: '-5MB' is not a valid size"),
    ({"min_log_size": -5}, "min_log_size: must not be negative, got -5"),
    ({"min_log_size": [1]}, "min_log_size: expected a number of bytes or a size"),
    ({"scan_paths": ["/nonexistent"]}, "scan_paths: /nonexistent does not exist"),
    ({"scan_paths": ["var/log"]}, "scan_paths: must be an absolute path (starting with /), got 'var/log'"),
    ({"scan_paths": ["/etc/hostname"]}, "scan_paths: /etc/hostname is not a directory"),
    ({"scan_paths": []}, "scan_paths: give at least one directory, or set skip_scan=true to skip the scan"),
    ({"top_n": "many"}, "top_n"),  # AnsibleModule's own type check names the option
    ({"cross_filesystems": "sometimes"}, "cross_filesystems"),
    ({"no_such_option": 1}, "no_such_option"),
])
def test_bad_options_fail_with_a_message_naming_the_option(capsys, args, message):
    if "/etc/hostname" in json.dumps(args) and not os.path.isfile("/etc/hostname"):
        pytest.skip("needs /etc/hostname to be a regular file")
    code, result = _run_module(capsys, args)
    assert code == 1
    assert result["failed"] is True
    assert message in result["msg"]
    assert "Traceback" not in json.dumps(result)


def test_unexpected_errors_fail_cleanly(capsys, scan_dir):
    with mock.patch.object(disk_pressure_facts, "gather_disk_facts", side_effect=RuntimeError("boom")):
        code, result = _run_module(capsys, {"scan_paths": [scan_dir]})
    assert (code, result["msg"]) == (1, "Could not gather disk facts: RuntimeError: boom")


def test_documented_options_match_the_argument_spec():
    documented = yaml.safe_load(disk_pressure_facts.DOCUMENTATION)["options"]
    assert set(documented) == set(disk_pressure_facts.ARGUMENT_SPEC)
    for name, spec in disk_pressure_facts.ARGUMENT_SPEC.items():
        for key in ("type", "default", "elements", "choices"):
            assert documented[name].get(key) == spec.get(key), (name, key)


def test_facts_match_docs_facts_md_and_the_return_documentation(capsys, scan_dir):
    with open(os.path.join(scan_dir, "app", "big.log"), "wb") as log:
        log.write(b"x" * 4096)
    _code, result = _run_module(capsys, {"scan_paths": [scan_dir], "min_log_size": 0})
    facts = result["ansible_facts"]["hostcare_disk"]
    facts["psi_io"] = facts["psi_io"] or {"some": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0},
                                          "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0}}
    facts["journal"] = facts["journal"] or {"paths": [], "size_bytes": 0}
    facts["apt_cache"] = facts["apt_cache"] or {"path": "/var/cache/apt/archives", "size_bytes": 0}
    facts["scan"]["unreadable"] = facts["scan"]["unreadable"] or ["/x"]
    facts["scan"]["unfinished"] = facts["scan"]["unfinished"] or ["/x"]
    facts["scan"]["missing_paths"] = ["/srv"]
    with open(os.path.join(REPO, "docs", "facts.md"), encoding="utf-8") as handle:
        section = handle.read().split("## `hostcare.vps.disk_pressure_facts`", 1)[1]
    documented_sample = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))["hostcare_disk"]
    # these depend on the host running the test (its processes, its logrotate configuration): their shape is
    # checked with the documented sample where the host has none, and key by key otherwise
    for key in ("deleted_open", "logrotate", "unrotated_log_siblings"):
        facts[key] = facts[key] if fact_shape(facts[key]) == fact_shape(documented_sample[key]) else documented_sample[key]
    facts["archives"]["files"] = facts["archives"]["files"] or documented_sample["archives"]["files"]

    with open(os.path.join(REPO, "docs", "facts.md"), encoding="utf-8") as handle:
        section = handle.read().split("## `hostcare.vps.disk_pressure_facts`", 1)[1]
    documented = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))["hostcare_disk"]
    assert fact_shape(facts) == fact_shape(documented)

    returned = yaml.safe_load(disk_pressure_facts.RETURN)["ansible_facts"]["contains"]["hostcare_disk"]["contains"]
    # RETURN describes logrotate's keys in prose and points to docs/facts.md (checked above)
    assert fact_shape(dict(facts, logrotate=None)) == documented_shape(returned)
