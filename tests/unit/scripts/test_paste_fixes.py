# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/scripts/paste_fixes.py: which fix commands the Molecule scenarios paste into their test host, and which
they skip (the rule in its docstring), against the commands the audit really writes (_audit_fixes) and by hand."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
from paste_fixes import classify, code_lines, plan  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_fixes as fixes  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1048576
ENTRY = fixes.proposed_logrotate_entry("/var/www/shop/log", ["/var/www/shop/log/production.log"], 50 * MIB)


@pytest.mark.parametrize("command", [
    fixes.logrotate_dropin_command(ENTRY),  # rm/rmdir only of its own mktemp directory
    fixes.docker_memory_limit_command("hog", 700 * MIB),
    fixes.daemon_json_command("absent", "50m", 3),  # the restart of dockerd is a comment: the user's, when quiet
    fixes.daemon_json_command("daemon.json", "50m", 3),
    fixes.docker_diagnose_command("crashloop"),
    fixes.systemd_diagnose_command("app.service"),
    fixes.docker_shm_command("db", 256 * MIB),  # comments only: "docker compose up -d" is in a comment
    "sudo du -xh --max-depth=2 /srv /var/www 2>/dev/null | sort -rh | head -20",
    "sudo apt-get clean",
    "sudo swapon --show; grep -w swap /etc/fstab",
    "systemctl list-timers logrotate.timer 2>/dev/null; pgrep -a 'cron|anacron' || echo 'no cron daemon'",
    "sudo ls -l /proc/576/fd 2>/dev/null | grep '(deleted)'\n# trading-feed (pid 576): restart it in a quiet moment",
    fixes.sql_command({"method": "local_socket"}, ["ALTER SYSTEM SET shared_buffers = '1GB';", "SELECT pg_reload_conf();"]),
])
def test_pasted(command):
    assert classify(command) == (None, None)


@pytest.mark.parametrize("command, rule, names", [
    ("docker image rm shop/web:v1 shop/web:v2", "deletes-data", "rm shop/web:v1"),
    ("# no --force\n" + fixes.command_lines("docker image rm", ["a", "b", "c", "d", "e"]), "deletes-data", "rm"),
    ("docker container rm nightly-report", "deletes-data", "rm nightly-report"),
    ("docker rmi abc", "deletes-data", "rmi abc"),
    ("sudo rm -rf /opt/releases/2024-01", "deletes-data", "rm /opt/releases/2024-01"),
    ('trap \'sudo rm -f "$tmp/x" /etc/keep\' EXIT', "deletes-data", "/etc/keep"),
    ("docker image prune -a --filter until=240h", "deletes-data", "prune"),
    ("docker volume rm shop-uploads", "deletes-data", "rm shop-uploads"),
    ("sudo journalctl --rotate --vacuum-size=500M", "deletes-data", "vacuum"),
    ("psql -X <<'SQL'\nDROP TABLE t;\nSQL", "deletes-data", "DROP"),
    ("truncate -s 0 /var/log/big.log", "deletes-data", "truncate"),
    (fixes.restart_command({"method": "docker", "container": "app-db-1"}), "restarts-service", "docker restart"),
    (fixes.restart_command({"method": "local_socket"}), "restarts-service", "systemctl restart postgresql"),
    ("sudo service nginx reload", "restarts-service", "service nginx reload"),
    ("supervisorctl restart all", "restarts-service", "supervisorctl"),
    ("sudo kill -HUP 576", "restarts-service", "kill"),
    ("docker compose up -d", "restarts-service", "docker compose"),
    (fixes.swapfile_command("/swapfile", 2048 * MIB, "ext4"), "machine-wide", "swapon /swapfile"),
    (fixes.swapfile_command("/swapfile", 2048 * MIB, "btrfs"), "machine-wide", "swapon /swapfile"),
    ("sudo sysctl -w vm.swappiness=10 && \\\n  echo 'vm.swappiness = 10' | sudo tee /etc/sysctl.d/90-x.conf",
     "machine-wide", "sysctl -w"),
    ("sudo sysctl --system", "machine-wide", "sysctl --system"),
    ("sudo swapoff /swapfile", "machine-wide", "swapoff"),
    ("echo 10 | sudo tee /proc/sys/vm/swappiness", "machine-wide", "/proc/sys"),
])
def test_skipped(command, rule, names):
    found, reason = classify(command)
    assert found == rule
    assert names in reason


def test_the_journal_fix_is_skipped_only_for_what_it_runs():
    capped = ("# keep it capped:\nsudo mkdir -p /etc/systemd/journald.conf.d && \\\n"
              "  printf '[Journal]\\nSystemMaxUse=500M\\n' | sudo tee /etc/systemd/journald.conf.d/60-x.conf && \\\n"
              "  sudo systemctl restart systemd-journald\n#   hostcare_logrotate_journald_vacuum_size: 500M")
    assert classify(capped)[0] == "restarts-service"
    assert classify("sudo journalctl --rotate --vacuum-size=500M\n" + capped)[0] == "deletes-data"


def test_comment_lines_are_not_read_but_here_documents_are():
    assert code_lines("# rm -rf /\n\necho ok\n  # docker restart x") == ["echo ok"]
    assert classify("# docker restart app-db-1 when quiet\necho ok") == (None, None)
    assert classify("psql <<'SQL'\nVACUUM FULL;\nSQL")[0] == "deletes-data"


def test_plan_keeps_report_order_and_leaves_out_findings_without_a_command():
    report = {"findings": [
        {"id": "swap.none", "fix": {"command": None}},
        {"id": "docker.old_tags", "fix": {"command": "docker image rm shop/web:v1"}},
        {"id": "disk.top_consumers", "fix": {"command": "sudo du -xh /srv | sort -rh | head"}},
        {"id": "disk.apt_cache_large", "fix": {"command": "sudo apt-get clean"}},
        {"id": "host.container", "fix": {}},
    ]}
    decided = plan(report)
    assert [item["id"] for item in decided["paste"]] == ["disk.top_consumers", "disk.apt_cache_large"]
    assert decided["skip"] == [{"id": "docker.old_tags", "rule": "deletes-data", "reason": "removes data (rm shop/web:v1)"}]
