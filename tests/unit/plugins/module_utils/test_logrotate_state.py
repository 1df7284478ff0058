# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""logrotate as configured, read from a real configuration tree with the real `logrotate -d`; and the audit's
drop-in command pasted into a shell against that tree (tests/scripts/ensure-test-packages.sh installs logrotate)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_state import gather_logrotate_facts
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import logrotate_dropin_command, proposed_logrotate_entry

LOGROTATE = shutil.which("logrotate") or ("/usr/sbin/logrotate" if os.path.isfile("/usr/sbin/logrotate") else None)
pytestmark = pytest.mark.skipif(LOGROTATE is None, reason="logrotate is not installed (tests/scripts/ensure-test-packages.sh)")

TRADING = """{logs}/*.log {{
    daily
    rotate 7
    postrotate
        supervisorctl -c /etc/supervisor/supervisord.conf reload
    endscript
}}
"""


@pytest.fixture(name="tree")
def fixture_tree(tmp_path):
    """A logrotate.conf including a directory with the trading entry (a glob) and 12 logs under it."""
    logs = tmp_path / "trading" / "logs"
    logs.mkdir(parents=True)
    for name in ["engine", "orders", "market"] + [f"feed-{i}" for i in range(1, 10)]:
        (logs / f"{name}.log").write_bytes(b"x" * 5000)
    conf_d = tmp_path / "logrotate.d"
    conf_d.mkdir()
    (conf_d / "trading-system").write_text(TRADING.format(logs=logs), encoding="utf-8")
    (conf_d / "ignored.dpkg-old").write_text("/nope.log {\n}\n", encoding="utf-8")
    main = tmp_path / "logrotate.conf"
    main.write_text(f"weekly\nrotate 4\ncreate\ninclude {conf_d}\n", encoding="utf-8")
    for path in (main, conf_d / "trading-system", conf_d / "ignored.dpkg-old"):
        path.chmod(0o644)
    state = tmp_path / "status"
    state.write_text(f'logrotate state -- version 2\n"{logs}/engine.log" 2026-1-1-0:0:0\n', encoding="utf-8")
    return tmp_path


def _sudo_shim(tmp_path):
    """The commands say sudo; the tests run as root (or in CI as a user who owns the tree): sudo runs the command."""
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "sudo").write_text('#!/bin/sh\nexec "$@"\n', encoding="utf-8")
    (shim / "sudo").chmod(stat.S_IRWXU)
    return {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}:/usr/sbin:/sbin"}


def test_reads_the_configuration_as_logrotate_does(tree):
    facts = gather_logrotate_facts(str(tree / "logrotate.conf"), str(tree / "status"))
    assert facts["config_files"] == [str(tree / "logrotate.conf"), str(tree / "logrotate.d" / "trading-system")]
    assert facts["debug"]["errors"] == [] and facts["debug"]["rc"] == 0
    (entry,) = facts["entries"]
    assert entry["patterns"] == [f"{tree}/trading/logs/*.log"]
    assert entry["frequency"] == "daily" and entry["skipped"] is False
    assert len(entry["logs"]) == 12
    rotated = {log["path"]: log["last_rotated"] for log in entry["logs"]}
    assert rotated[f"{tree}/trading/logs/engine.log"] == 1767225600
    assert sum(value is None for value in rotated.values()) == 11
    assert entry["restarts"] == [{"kind": "supervisorctl", "command": "supervisorctl -c /etc/supervisor/supervisord.conf reload",
                                  "target": "", "script": "postrotate"}]
    assert set(facts["runner"]) == {"cron_scripts", "anacron", "timer_unit", "timer_enabled", "scheduler_running",
                                    "systemd_running"}


def test_a_duplicate_makes_logrotate_skip_the_whole_file(tree):
    # what the old by-hand fix did: a new drop-in naming three of the logs the glob already covers
    logs = tree / "trading" / "logs"
    dropin = tree / "logrotate.d" / "hostcare-unrotated"
    dropin.write_text(f"{logs}/engine.log {logs}/orders.log {logs}/market.log {{\n    weekly\n}}\n", encoding="utf-8")
    dropin.chmod(0o644)
    facts = gather_logrotate_facts(str(tree / "logrotate.conf"), str(tree / "status"))
    assert facts["debug"]["rc"] != 0
    assert facts["debug"]["skipped_files"] == ["trading-system"]
    assert f"{logs}/engine.log" in facts["debug"]["duplicates"]
    skipped = [entry["file"] for entry in facts["entries"] if entry["skipped"]]
    assert skipped == [str(tree / "logrotate.d" / "trading-system")]


def _paste(command, tree, env):
    command = command.replace("/etc/logrotate.d", str(tree / "logrotate.d")).replace("/etc/logrotate.conf", str(tree / "logrotate.conf"))
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, check=False)


def test_the_dropin_command_installs_only_a_clean_entry_and_never_overwrites(tree):
    env = _sudo_shim(tree)
    shop = tree / "shop"
    shop.mkdir()
    (shop / "production.log").write_bytes(b"x" * 100)
    entry = proposed_logrotate_entry(str(shop), [str(shop / "production.log")], 50 * 1024 * 1024)
    command = logrotate_dropin_command(entry, str(tree / "logrotate.d"), str(tree / "logrotate.conf"))
    done = _paste(command, tree, env)
    assert done.returncode == 0, done.stdout + done.stderr
    installed = tree / "logrotate.d" / entry["name"]
    assert f"installed {installed}" in done.stdout
    assert oct(installed.stat().st_mode & 0o777) == "0o644"
    check = subprocess.run([LOGROTATE, "-d", "-s", str(tree / "status"), str(tree / "logrotate.conf")], capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0 and "error:" not in check.stdout + check.stderr
    assert f"considering log {shop}/production.log" in check.stdout + check.stderr
    before = installed.read_bytes()
    again = _paste(command, tree, env)
    assert again.returncode == 1 and "exists: not overwritten" in again.stdout
    assert installed.read_bytes() == before
    assert not [name for name in os.listdir("/tmp") if name.startswith("tmp.") and os.path.isfile(f"/tmp/{name}/{entry['name']}")]


def test_the_dropin_command_refuses_a_log_another_entry_rotates(tree):
    env = _sudo_shim(tree)
    logs = tree / "trading" / "logs"
    entry = proposed_logrotate_entry(str(logs), [str(logs / "engine.log")], 50 * 1024 * 1024)
    done = _paste(logrotate_dropin_command(entry, str(tree / "logrotate.d"), str(tree / "logrotate.conf")), tree, env)
    assert done.returncode == 1
    assert "NOT installed" in done.stdout and "duplicate log entry" in done.stdout
    assert sorted(os.listdir(tree / "logrotate.d")) == ["ignored.dpkg-old", "trading-system"]
