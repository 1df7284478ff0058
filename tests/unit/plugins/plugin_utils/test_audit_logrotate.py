# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings of issue 14 on facts: logs no entry covers, rotation that does not run, entries restarting services,
configuration errors, deleted-but-open files and stale archives. Every command passes `bash -n` and names no log
another entry rotates."""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import render_entry, with_defaults
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_rules import audit_findings  # noqa: F401  pylint: disable=unused-import

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
MIB = 1024 * 1024
DAY = 86400
NOW = 1796587417
TRADING = [f"/srv/trading/logs/{name}.log" for name in ["engine", "orders", "market"] + [f"feed-{i}" for i in range(1, 10)]]


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def trading_entry(**changes):
    entry = {"file": "/etc/logrotate.d/trading-system", "line": 1, "patterns": ["/srv/trading/logs/*.log"],
             "frequency": "daily", "rotate": 7, "size": None, "maxsize": None, "copytruncate": False,
             "sharedscripts": False,
             "scripts": [{"name": "postrotate", "text": "supervisorctl -c /etc/supervisor/supervisord.conf reload"}],
             "restarts": [{"kind": "supervisorctl", "command": "supervisorctl -c /etc/supervisor/supervisord.conf reload",
                           "target": "", "script": "postrotate"}],
             "skipped": False,
             "logs": [{"path": path, "size_bytes": (55 if index < 3 else 1) * MIB, "mtime": NOW, "last_rotated": None}
                      for index, path in enumerate(TRADING)]}
    entry.update(changes)
    return entry


def logrotate_facts(entries=None, runner=None, errors=(), skipped=()):
    return {"binary": "/usr/sbin/logrotate", "main_config": "/etc/logrotate.conf",
            "config_files": ["/etc/logrotate.conf", "/etc/logrotate.d/trading-system"],
            "entries": [trading_entry()] if entries is None else entries,
            "debug": {"rc": 1 if errors else 0, "error": None, "errors": list(errors), "skipped_files": list(skipped),
                      "duplicates": [line.rsplit(" ", 1)[1] for line in errors if "duplicate" in line]},
            "state_file": None,
            "runner": runner or {"cron_scripts": ["/etc/cron.daily/logrotate"], "anacron": False, "timer_unit": True,
                                 "timer_enabled": True, "scheduler_running": [], "systemd_running": False},
            "now": NOW}


def host(**disk_changes):
    disk = load("disk_healthy")
    disk["unrotated_logs"] = [{"path": path, "size_bytes": 55 * MIB} for path in TRADING[:3]] + [
        {"path": "/var/www/shop/log/production.log", "size_bytes": 80 * MIB}]
    disk["unrotated_log_siblings"] = [{"path": "/var/www/shop/log/sidekiq.log", "size_bytes": 2 * MIB},
                                      {"path": "/var/www/shop/log/cron.log", "size_bytes": 100 * 1024}]
    disk["logrotate"] = logrotate_facts()
    disk.update(disk_changes)
    return {"swap": load("swap_healthy"), "disk": disk}


def only(findings, finding_id):
    matches = [item for item in findings if item["id"] == finding_id]
    assert len(matches) == 1, [item["id"] for item in findings]
    return matches[0]


def test_unrotated_logs_leave_out_what_a_glob_entry_covers_and_name_the_siblings():
    findings = build_findings(host())
    item = only(findings, "disk.unrotated_logs")
    assert [row["path"] for row in item["evidence"]["logs"]] == ["/var/www/shop/log/production.log"]
    assert item["evidence"]["covered_by_an_entry"] == TRADING[:3]
    (directory,) = item["evidence"]["directories"]
    assert directory["directory"] == "/var/www/shop/log"
    assert [row["path"] for row in directory["smaller_siblings"]] == ["/var/www/shop/log/sidekiq.log", "/var/www/shop/log/cron.log"]
    assert directory["total_bytes"] == 82 * MIB + 100 * 1024
    assert "sidekiq.log, cron.log" in item["summary"]
    (entry,) = item["evidence"]["role_vars"]["hostcare_logrotate_entries"]
    assert entry["paths"] == ["/var/www/shop/log/production.log", "/var/www/shop/log/sidekiq.log", "/var/www/shop/log/cron.log"]
    # one computation: the by-hand file is the file the role renders from the same entry
    assert render_entry(with_defaults(entry)) in item["fix"]["command"] + "\n"
    for finding in findings:
        assert "/srv/trading/logs" not in (finding["fix"]["command"] or ""), finding["id"]


def test_all_big_logs_covered_gives_ok_naming_them():
    facts = host(unrotated_logs=[{"path": TRADING[0], "size_bytes": 55 * MIB}])
    item = only(build_findings(facts), "disk.unrotated_logs_ok")
    assert item["severity"] == "ok"
    assert item["evidence"]["covered_by_an_entry"] == [TRADING[0]]
    assert "disk.logrotate_not_running" in item["summary"]


def test_without_logrotate_facts_every_big_log_is_reported_and_the_command_still_checks():
    facts = host(logrotate=None)
    item = only(build_findings(facts), "disk.unrotated_logs")
    assert len(item["evidence"]["logs"]) == 4
    assert "could not be read" in item["summary"]
    assert item["fix"]["command"].count("include /etc/logrotate.conf") == 2  # one checked drop-in per directory
    ids = [finding["id"] for finding in build_findings(facts)]
    assert not [i for i in ids if i.startswith("disk.logrotate")]


def test_not_running_names_the_trading_logs_and_the_missing_cron_daemon():
    item = only(build_findings(host()), "disk.logrotate_not_running")
    (group,) = item["evidence"]["groups"]
    assert (len(group["logs"]), group["never_rotated"], group["total_bytes"]) == (12, 12, 174 * MIB)
    assert item["severity"] == "warning"
    assert item["evidence"]["causes"] == [
        "/etc/cron.daily/logrotate exists but no cron daemon runs (no cron, crond or anacron process) and systemd is "
        "not running, so nothing starts it"]


@pytest.mark.parametrize("runner, cause", [
    ({"cron_scripts": [], "anacron": False, "timer_unit": False, "timer_enabled": False, "scheduler_running": [],
      "systemd_running": True}, "nothing runs logrotate"),
    ({"cron_scripts": [], "anacron": False, "timer_unit": True, "timer_enabled": False, "scheduler_running": [],
      "systemd_running": True}, "logrotate.timer exists but is not enabled"),
    ({"cron_scripts": ["/etc/cron.daily/logrotate"], "anacron": False, "timer_unit": False, "timer_enabled": False,
      "scheduler_running": ["cron"], "systemd_running": False}, "logrotate runs but has not rotated them"),
])
def test_not_running_causes(runner, cause):
    item = only(build_findings(host(logrotate=logrotate_facts(runner=runner))), "disk.logrotate_not_running")
    assert item["evidence"]["causes"][0].startswith(cause)


def test_recent_rotation_empty_logs_and_the_overdue_periods():
    rotated = [dict(log, last_rotated=NOW - DAY - 3600) for log in trading_entry()["logs"]]
    facts = host(logrotate=logrotate_facts([trading_entry(logs=rotated)]))
    assert not [f for f in build_findings(facts) if f["id"] == "disk.logrotate_not_running"]
    late = [dict(log, last_rotated=NOW - 3 * DAY) for log in trading_entry()["logs"]]
    facts = host(logrotate=logrotate_facts([trading_entry(logs=late)]))
    assert only(build_findings(facts), "disk.logrotate_not_running")["evidence"]["groups"][0]["never_rotated"] == 0
    assert not [f for f in build_findings(facts, thresholds={"logrotate_overdue_periods": 4})
                if f["id"] == "disk.logrotate_not_running"]
    empty = [dict(log, size_bytes=0) for log in trading_entry()["logs"]]
    assert not [f for f in build_findings(host(logrotate=logrotate_facts([trading_entry(logs=empty)])))
                if f["id"] == "disk.logrotate_not_running"]
    small = [dict(log, size_bytes=4096) for log in trading_entry()["logs"]]
    item = only(build_findings(host(logrotate=logrotate_facts([trading_entry(logs=small)]))), "disk.logrotate_not_running")
    assert item["severity"] == "info"


def test_restarting_postrotate_once_per_log_without_sharedscripts():
    item = only(build_findings(host()), "disk.logrotate_restarts_services")
    (entry,) = item["evidence"]["entries"]
    assert (entry["restarts_per_rotation"], entry["logs"], entry["sharedscripts"]) == (12, 12, False)
    assert item["severity"] == "warning" and item["risk"] == "caution"
    assert "12 times per daily rotation" in item["summary"]
    assert "stdout_logfile_maxbytes" in item["recommendation"] and "copytruncate" in item["recommendation"]
    shared = host(logrotate=logrotate_facts([trading_entry(sharedscripts=True)]))
    assert only(build_findings(shared), "disk.logrotate_restarts_services")["evidence"]["entries"][0]["restarts_per_rotation"] == 1
    quiet = host(logrotate=logrotate_facts([trading_entry(restarts=[])]))
    assert not [f for f in build_findings(quiet) if f["id"] == "disk.logrotate_restarts_services"]


def test_config_error_names_the_skipped_file_and_its_logs():
    errors = ["error: trading-system:2 duplicate log entry for /srv/trading/logs/engine.log",
              "error: found error in file trading-system, skipping"]
    other = {"file": "/etc/logrotate.d/hostcare-unrotated", "line": 1, "patterns": [TRADING[0]], "frequency": "weekly",
             "scripts": [], "restarts": [], "skipped": False, "logs": []}
    facts = host(logrotate=logrotate_facts([other, trading_entry(skipped=True)], errors=errors, skipped=["trading-system"]))
    findings = build_findings(facts)
    item = only(findings, "disk.logrotate_config_error")
    assert item["evidence"]["skipped_files"] == ["/etc/logrotate.d/trading-system"]
    assert item["evidence"]["logs_not_rotated"] == TRADING
    assert item["evidence"]["not_rotated_bytes"] == 174 * MIB
    assert item["evidence"]["duplicates"][0]["entries"] == [
        "/etc/logrotate.d/hostcare-unrotated:1 (/srv/trading/logs/engine.log)",
        "/etc/logrotate.d/trading-system:1 (/srv/trading/logs/*.log)"]
    assert "12 logs (174.0 MiB) are not rotated" in item["summary"]
    causes = only(findings, "disk.logrotate_not_running")["evidence"]["causes"]
    assert any("logrotate skips /etc/logrotate.d/trading-system" in cause for cause in causes)


def deleted(size, used_percent=None, command="trading-feed"):
    facts = host(deleted_open={"processes": [{"pid": 85, "command": command, "bytes": size, "mounts": ["/"],
                                              "files": [{"path": "/var/tmp/hold/feed.bin", "size_bytes": size, "mount": "/"}]}],
                               "filesystems": [{"mount": "/", "bytes": size}], "total_bytes": size,
                               "unreadable_processes": 0})
    if used_percent is not None:
        root = facts["disk"]["filesystems"][0]
        total = root["used_bytes"] + root["available_bytes"]
        root["used_bytes"] = int(total * used_percent / 100)
        root["available_bytes"] = total - root["used_bytes"]
        root["use_percent"] = used_percent
    return facts


def test_deleted_open_thresholds():
    assert not [f for f in build_findings(deleted(100 * MIB - 1)) if f["id"] == "disk.deleted_open"]
    item = only(build_findings(deleted(200 * MIB)), "disk.deleted_open")
    assert item["severity"] == "warning" and item["risk"] == "caution"
    assert item["evidence"]["deleted_open_bytes"] == 200 * MIB
    assert item["evidence"]["processes"][0]["command"] == "trading-feed"
    assert "trading-feed (pid 85) holds 200.0 MiB: restart it" in item["fix"]["command"]
    assert "kill" not in item["fix"]["command"].replace("not kill -9", "")
    root = load("disk_healthy")["filesystems"][0]
    big = int((root["used_bytes"] + root["available_bytes"]) * 0.25)  # 92 % -> 89.3 % without them
    assert only(build_findings(deleted(big, used_percent=92.0)), "disk.deleted_open")["severity"] == "critical"
    assert only(build_findings(deleted(200 * MIB, used_percent=95.0)), "disk.deleted_open")["severity"] == "warning"


def test_deleted_open_reopen_signal():
    item = only(build_findings(deleted(200 * MIB, command="nginx")), "disk.deleted_open")
    assert "#   sudo kill -USR1 85" in item["fix"]["command"]


def archives(files, scanned_at=NOW):
    return {"scanned_at": scanned_at, "min_size_bytes": MIB, "files": files}


def test_stale_archives_grouped_per_directory_and_never_deleted():
    files = [{"path": f"/home/deploy/update-{i:02d}.tar.gz", "size_bytes": 2 * MIB, "mtime": NOW - (40 + i) * DAY}
             for i in range(1, 27)]
    files += [{"path": f"/home/deploy/dumps/shop-{i}.sql.gz", "size_bytes": 4 * MIB, "mtime": NOW - 300 * DAY} for i in range(3)]
    files += [{"path": "/home/deploy/update-fresh.tar.gz", "size_bytes": 2 * MIB, "mtime": NOW - DAY},
              {"path": "/home/deploy/tiny.zip", "size_bytes": MIB - 1, "mtime": NOW - 90 * DAY},
              {"path": "/var/lib/postgresql/old.sql", "size_bytes": 9 * MIB, "mtime": NOW - 400 * DAY},
              {"path": "/var/lib/docker/volumes/db/_data/x.dump", "size_bytes": 9 * MIB, "mtime": NOW - 400 * DAY}]
    item = only(build_findings(host(archives=archives(files))), "disk.stale_archives")
    assert item["severity"] == "info" and item["risk"] == "safe"
    assert [(row["directory"], row["count"], row["total_bytes"]) for row in item["evidence"]["directories"]] == [
        ("/home/deploy", 26, 52 * MIB), ("/home/deploy/dumps", 3, 12 * MIB)]
    assert item["evidence"]["directories"][0]["oldest"] < item["evidence"]["directories"][0]["newest"]
    assert "/var/lib" not in json.dumps(item)
    assert "rm " not in item["fix"]["command"] and "delete" not in item["fix"]["command"]
    assert "copy" in item["recommendation"]
    full = host(archives=archives(files))
    full["disk"]["filesystems"][0]["use_percent"] = 87.0
    assert only(build_findings(full), "disk.stale_archives")["severity"] == "warning"
    assert not [f for f in build_findings(host(archives=archives(files)), thresholds={"stale_archive_min_days": 500})
                if f["id"] == "disk.stale_archives"]


def test_every_command_is_valid_bash():
    errors = ["error: found error in file trading-system, skipping"]
    facts = host(logrotate=logrotate_facts([trading_entry(skipped=True)], errors=errors, skipped=["trading-system"]),
                 archives=archives([{"path": "/home/a b/x.tar.gz", "size_bytes": 2 * MIB, "mtime": 0}]))
    facts["disk"]["deleted_open"] = deleted(200 * MIB, command="nginx")["disk"]["deleted_open"]
    for finding in build_findings(copy.deepcopy(facts)):
        command = finding["fix"]["command"]
        if command:
            done = subprocess.run(["bash", "-n"], input=command, capture_output=True, text=True, check=False)
            assert done.returncode == 0, (finding["id"], done.stderr)
