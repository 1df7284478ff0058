# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    AVAILABLE_ROLES,
    DEFAULT_THRESHOLDS,
    FINDING_KEYS,
    RISKS,
    RULES,
    SEVERITIES,
    AuditError,
    Rule,
    build_findings,
    count_by_severity,
    make_finding,
    resolve_thresholds,
    sort_findings,
    worst_severity,
)
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import render_entry, with_defaults
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_fixes
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import swapfile_command
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import GIB, MIB

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def healthy():
    return {"swap": load("swap_healthy"), "disk": load("disk_healthy")}


def troubled():
    return {"swap": load("swap_troubled"), "disk": load("disk_troubled")}


def ids(findings):
    return [f["id"] for f in findings]


def by_id(findings, finding_id):
    matches = [f for f in findings if f["id"] == finding_id]
    assert matches, f"{finding_id} not in {ids(findings)}"
    return matches


def one(findings, finding_id):
    matches = by_id(findings, finding_id)
    assert len(matches) == 1, matches
    return matches[0]


def with_swap(ram=4 * GIB, total=2 * GIB, swappiness=10, **changes):
    facts = healthy()
    facts["swap"]["memory"]["total_bytes"] = ram
    facts["swap"]["swap"]["total_bytes"] = total
    facts["swap"]["areas"][0]["size_bytes"] = total
    if total == 0:
        facts["swap"]["areas"] = []
        facts["swap"]["fstab"] = []
    facts["swap"]["sysctl"]["swappiness"] = swappiness
    facts["swap"].update(changes)
    return facts


def with_root(use_percent=42.3, inode_use_percent=11.9, **changes):
    facts = healthy()
    root = facts["disk"]["filesystems"][0]
    root["use_percent"] = use_percent
    root["inode_use_percent"] = inode_use_percent
    root.update(changes)
    return facts


# --------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize("facts", [healthy(), troubled(), {"swap": load("swap_container"), "disk": None},
                                   {}, None, {"swap": None, "disk": None}],
                         ids=["healthy", "troubled", "container", "empty", "none", "both-null"])
def test_every_finding_has_the_documented_shape(facts):
    findings = build_findings(facts)
    assert findings
    for item in findings:
        assert tuple(item) == FINDING_KEYS
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", item["id"]), item["id"]
        assert item["severity"] in SEVERITIES
        assert item["risk"] in RISKS
        assert item["title"] and "\n" not in item["title"]
        assert item["summary"] and "\n" not in item["summary"]
        assert item["recommendation"]
        assert isinstance(item["evidence"], dict)
        assert set(item["fix"]) == {"role", "command", "planned_role"}
        # no role of this collection exists yet: nothing may claim one
        assert item["fix"]["role"] is None or item["fix"]["role"] in AVAILABLE_ROLES
        command = item["fix"]["command"] or ""
        assert "rm -rf" not in command and "rm -r " not in command
        for key, value in item["evidence"].items():
            if key.endswith("_bytes") and key[:-6] in item["evidence"]:
                assert value is None or isinstance(value, int), (item["id"], key)
                assert isinstance(item["evidence"][key[:-6]], str)
    json.dumps(findings)  # serialisable as the JSON report


def test_healthy_host_is_all_ok_but_the_consumer_list():
    findings = build_findings(healthy())
    assert count_by_severity(findings) == {"critical": 0, "warning": 0, "info": 1, "ok": 9}
    assert ids(findings) == ["disk.top_consumers", "swap.ok", "swap.swappiness_ok", "memory.oom_ok",
                             "memory.pressure_ok", "disk.space_ok", "disk.inodes_ok", "disk.journal_ok",
                             "disk.apt_cache_ok", "disk.unrotated_logs_ok"]
    assert one(findings, "swap.ok")["title"] == "Swap: 2.0 GiB for 3.8 GiB RAM: ok"


def test_troubled_host_findings_and_order():
    findings = build_findings(troubled())
    assert ids(findings) == [
        "swap.none", "memory.oom_kills", "disk.full", "disk.inodes_full",
        "swap.fstab_inactive", "swap.swappiness_high", "memory.pressure", "disk.filling", "disk.inodes_filling",
        "disk.journal_large", "disk.unrotated_logs",
        "disk.top_consumers", "disk.scan_truncated", "disk.scan_unreadable", "disk.apt_cache_large",
    ]
    assert worst_severity(findings) == "critical"


# --------------------------------------------------------------------------------------------- swap size


SWAP_SIZE = [
    # (RAM, swap total, expected id, severity)
    (4 * GIB, 0, "swap.none", "critical"),
    (4 * GIB, 1 * GIB, "swap.small", "warning"),
    (4 * GIB, 2 * GIB - 16 * MIB - 1, "swap.small", "warning"),   # just under half of 4 GiB minus the slack
    (4 * GIB, 2 * GIB - 16 * MIB, "swap.ok", "ok"),               # boundary: ok
    (4 * GIB, 2 * GIB - 4096, "swap.ok", "ok"),                   # a 2 GiB swap file as /proc/swaps shows it
    (4 * GIB, 4 * GIB, "swap.ok", "ok"),
    (4 * GIB, 16 * GIB, "swap.ok", "ok"),                         # more than recommended is not judged
    (1 * GIB, 512 * MIB, "swap.small", "warning"),                # 1 GiB RAM wants 2 GiB
    (1 * GIB, 1 * GIB, "swap.ok", "ok"),
    (24 * GIB, 2 * GIB, "swap.small", "warning"),                 # 24 GiB RAM wants 8 GiB
    (24 * GIB, 4 * GIB, "swap.ok", "ok"),
]


@pytest.mark.parametrize("ram, total, expected, severity", SWAP_SIZE)
def test_swap_size(ram, total, expected, severity):
    findings = build_findings(with_swap(ram=ram, total=total))
    item = one(findings, expected)
    assert item["severity"] == severity
    assert item["evidence"]["ram_bytes"] == ram
    assert item["evidence"]["swap_bytes"] == total
    others = {"swap.none", "swap.small", "swap.ok"} - {expected}
    assert not others.intersection(ids(findings))


def test_swap_none_gives_a_non_destructive_swapfile_command_and_the_swap_role():
    item = one(build_findings(with_swap(ram=4 * GIB, total=0)), "swap.none")
    assert item["summary"] == "4.0 GiB RAM and no active swap (recommended 4.0 GiB)."
    assert item["risk"] == "caution"
    assert item["fix"]["role"] == "hostcare.vps.swap"
    assert item["fix"]["planned_role"] is None
    command = item["fix"]["command"]
    assert "of=/swapfile bs=1M count=4096 conv=excl" in command
    assert "sudo swapon /swapfile" in command
    assert "/swapfile none swap sw,nofail 0 0" in command
    assert item["evidence"]["root_available_bytes"] == 23056896000


def test_swap_small_adds_a_second_file_without_swapoff():
    item = one(build_findings(with_swap(ram=8 * GIB, total=1 * GIB)), "swap.small")
    command = item["fix"]["command"]
    assert "of=/swapfile2 bs=1M count=7168" in command     # 8 GiB recommended - 1 GiB present
    assert "swapoff" not in command
    assert "keeps the existing swap" in item["recommendation"]


def test_swap_none_on_a_nearly_full_root_makes_a_smaller_file():
    facts = with_swap(ram=8 * GIB, total=0)
    facts["disk"]["filesystems"][0]["available_bytes"] = 3 * GIB
    item = one(build_findings(facts), "swap.none")
    assert "count=512 " in item["fix"]["command"]            # a quarter of 3 GiB, rounded down to 512 MiB
    assert "at most a quarter of the free space" in item["recommendation"]


def test_swap_none_without_room_gives_no_command():
    facts = with_swap(ram=8 * GIB, total=0)
    facts["disk"]["filesystems"][0]["available_bytes"] = 1 * GIB
    item = one(build_findings(facts), "swap.none")
    assert item["fix"]["command"] is None
    assert "zram" in item["recommendation"]
    assert item["fix"]["role"] == "hostcare.vps.swap"


@pytest.mark.parametrize("fstype, expected", [
    ("ext4", "sudo dd if=/dev/zero of=/swapfile"),
    ("xfs", "sudo dd if=/dev/zero of=/swapfile"),
    ("btrfs", "test ! -e /swapfile && sudo btrfs filesystem mkswapfile --size 4096m /swapfile"),
    ("zfs", None),
])
def test_swapfile_command_per_filesystem(fstype, expected):
    facts = with_swap(ram=4 * GIB, total=0)
    facts["disk"]["filesystems"][0]["fstype"] = fstype
    command = one(build_findings(facts), "swap.none")["fix"]["command"]
    if expected is None:
        assert command is None
    else:
        assert command.startswith(expected)


def test_swapfile_command_without_disk_facts():
    facts = with_swap(ram=4 * GIB, total=0)
    facts["disk"] = None
    item = one(build_findings(facts), "swap.none")
    assert item["fix"]["command"] == swapfile_command("/swapfile", 4 * GIB)
    assert "root_available" not in item["evidence"]


def test_swap_none_mentions_idle_zram_devices():
    facts = with_swap(ram=4 * GIB, total=0)
    facts["swap"]["zram"] = [{"name": "zram0", "disksize_bytes": 2 * GIB, "orig_data_bytes": None,
                              "compr_data_bytes": None, "algorithm": "lz4"},
                             {"name": "zram1", "disksize_bytes": 0, "orig_data_bytes": None,   # unconfigured
                              "compr_data_bytes": None, "algorithm": "lz4"}]
    item = one(build_findings(facts), "swap.none")
    assert item["evidence"]["zram_devices_not_swapped_on"] == ["zram0"]
    assert "zram device(s) zram0 exist but are not used as swap" in item["summary"]


def test_zram_swap_counts_as_swap():
    facts = with_swap(ram=4 * GIB, total=2 * GIB)
    facts["swap"]["areas"] = [{"path": "/dev/zram0", "type": "partition", "size_bytes": 2 * GIB,
                               "used_bytes": 0, "priority": 100, "zram": True}]
    facts["swap"]["fstab"] = []
    facts["swap"]["zram"] = [{"name": "zram0", "disksize_bytes": 2 * GIB, "orig_data_bytes": 0,
                              "compr_data_bytes": 0, "algorithm": "zstd"}]
    item = one(build_findings(facts), "swap.ok")
    assert item["evidence"]["areas"][0]["zram"] is True


def test_unknown_ram_gives_info():
    facts = with_swap()
    facts["swap"]["memory"]["total_bytes"] = None
    assert one(build_findings(facts), "swap.unknown")["severity"] == "info"


def test_inactive_fstab_swap_is_a_warning():
    facts = with_swap()
    facts["swap"]["fstab"].append({"source": "/swapfile2", "options": ["sw"], "priority": None, "active": False})
    item = one(build_findings(facts), "swap.fstab_inactive")
    assert item["severity"] == "warning"
    assert item["evidence"]["inactive_fstab_entries"] == ["/swapfile2"]


# --------------------------------------------------------------------------------------------- swappiness


SWAPPINESS = [
    # (swappiness, swap total, id, severity)
    (0, 2 * GIB, "swap.swappiness_zero", "warning"),
    (0, 0, "swap.swappiness_zero", "info"),
    (1, 2 * GIB, "swap.swappiness_ok", "ok"),
    (10, 2 * GIB, "swap.swappiness_ok", "ok"),
    (59, 2 * GIB, "swap.swappiness_ok", "ok"),
    (60, 2 * GIB, "swap.swappiness_high", "warning"),
    (60, 0, "swap.swappiness_high", "warning"),
    (100, 2 * GIB, "swap.swappiness_high", "warning"),
    (None, 2 * GIB, "swap.swappiness_unknown", "info"),
]


@pytest.mark.parametrize("swappiness, total, expected, severity", SWAPPINESS)
def test_swappiness(swappiness, total, expected, severity):
    item = one(build_findings(with_swap(total=total, swappiness=swappiness)), expected)
    assert item["severity"] == severity
    if severity == "warning":
        assert "vm.swappiness=10" in item["fix"]["command"]
        assert "/etc/sysctl.d/" in item["fix"]["command"]
        assert item["risk"] == "safe"


def test_swappiness_thresholds_are_configurable():
    findings = build_findings(with_swap(swappiness=30), thresholds={"swappiness_high": 30, "swappiness_target": 5})
    item = one(findings, "swap.swappiness_high")
    assert "vm.swappiness=5" in item["fix"]["command"]


# --------------------------------------------------------------------------------------------- memory


@pytest.mark.parametrize("kills, expected, severity", [
    (0, "memory.oom_ok", "ok"),
    (1, "memory.oom_kills", "critical"),
    (42, "memory.oom_kills", "critical"),
    (None, "memory.oom_unknown", "info"),
])
def test_oom_kills(kills, expected, severity):
    item = one(build_findings(with_swap(oom_kills=kills)), expected)
    assert item["severity"] == severity
    if kills:
        assert item["evidence"]["oom_kills"] == kills
        assert str(kills) in item["title"]


def test_oom_title_singular():
    assert one(build_findings(with_swap(oom_kills=1)), "memory.oom_kills")["title"] == \
        "OOM killer killed 1 process since boot"


def _psi(avg60):
    return {"some": {"avg10": 0.0, "avg60": avg60, "avg300": 0.0, "total_us": 1},
            "full": {"avg10": 0.0, "avg60": avg60, "avg300": 0.0, "total_us": 1}}


@pytest.mark.parametrize("psi, expected, severity", [
    (_psi(0.0), "memory.pressure_ok", "ok"),
    (_psi(1.0), "memory.pressure_ok", "ok"),
    (_psi(1.01), "memory.pressure", "warning"),
    (_psi(25.0), "memory.pressure", "warning"),
    (None, "memory.pressure_unknown", "info"),
])
def test_memory_pressure(psi, expected, severity):
    assert one(build_findings(with_swap(psi=psi)), expected)["severity"] == severity


# --------------------------------------------------------------------------------------------- container


def test_container_notes_in_evidence():
    facts = {"swap": load("swap_container"), "disk": load("disk_healthy")}
    findings = build_findings(facts)
    container = one(findings, "host.container")
    assert container["severity"] == "info"
    assert container["evidence"]["memory_limit"] == "2.0 GiB"
    assert container["evidence"]["swap_limit"] == "unlimited or unknown"
    for finding_id in ("swap.none", "swap.swappiness_high"):
        item = one(findings, finding_id)
        assert "host's" in item["evidence"]["container_note"]
        assert "docker container" in item["evidence"]["container_note"]
        assert "do this on the host" in item["recommendation"]
    for item in findings:
        if item["id"].startswith("disk."):
            assert "container_note" not in item["evidence"]


def test_swappiness_in_a_container_is_a_command_for_the_host_as_comments():
    """Pasted inside a container, `sysctl -w vm.swappiness` fails ("permission denied": the kernel is the host's):
    the command is given for the host, as comments, so that pasting it in the container changes nothing."""
    item = one(build_findings({"swap": load("swap_container"), "disk": load("disk_healthy")}), "swap.swappiness_high")
    lines = item["fix"]["command"].splitlines()
    assert lines[0] == "# on the host this docker container runs on, not in here (sysctl -w is refused inside):"
    assert lines[1:] == ["#   sudo sysctl -w vm.swappiness=10 && \\",
                         "#     echo 'vm.swappiness = 10' | sudo tee /etc/sysctl.d/90-hostcare-swappiness.conf"]
    assert subprocess.run(["bash", "-c", item["fix"]["command"]], check=False).returncode == 0
    outside = one(build_findings(with_swap(total=2 * GIB, swappiness=60)), "swap.swappiness_high")
    assert outside["fix"]["command"].startswith("sudo sysctl -w vm.swappiness=10 && \\\n")


def test_no_container_no_note():
    findings = build_findings(healthy())
    assert "host.container" not in ids(findings)
    assert all("container_note" not in f["evidence"] for f in findings)


# --------------------------------------------------------------------------------------------- filesystems


DISK_SPACE = [
    (0.0, "disk.space_ok", "ok"),
    (84.9, "disk.space_ok", "ok"),
    (85.0, "disk.filling", "warning"),
    (89.9, "disk.filling", "warning"),
    (90.0, "disk.full", "critical"),
    (100.0, "disk.full", "critical"),
]


@pytest.mark.parametrize("used, expected, severity", DISK_SPACE)
def test_disk_space_thresholds(used, expected, severity):
    findings = build_findings(with_root(use_percent=used))
    assert one(findings, expected)["severity"] == severity
    if expected != "disk.space_ok":
        item = one(findings, expected)
        assert item["evidence"]["mount"] == "/"
        assert item["evidence"]["use_percent"] == used
        assert item["title"].startswith(f"/ is {used:.1f}% full")
        # /boot is fine and reported as ok
        assert one(findings, "disk.space_ok")["evidence"]["filesystems"] == ["/boot 5.7%"]


INODES = [
    (84.9, "disk.inodes_ok", "ok"),
    (85.0, "disk.inodes_filling", "warning"),
    (94.9, "disk.inodes_filling", "warning"),
    (95.0, "disk.inodes_full", "critical"),
    (100.0, "disk.inodes_full", "critical"),
]


@pytest.mark.parametrize("used, expected, severity", INODES)
def test_inode_thresholds(used, expected, severity):
    item = one(build_findings(with_root(inode_use_percent=used)), expected)
    assert item["severity"] == severity
    if severity != "ok":
        assert "du --inodes -x" in item["fix"]["command"]


def test_filesystem_without_inode_table_is_not_judged():
    findings = build_findings(with_root(inode_use_percent=None, inodes_total=None, inodes_used=None))
    assert "disk.inodes_ok" not in ids(findings)  # / was the only one with inodes


def test_use_percent_computed_when_missing():
    facts = with_root(use_percent=None, used_bytes=91, available_bytes=9)
    assert one(build_findings(facts), "disk.full")["evidence"]["use_percent"] == 91.0


def test_read_only_images_are_ignored():
    findings = build_findings(troubled())
    assert all(f["evidence"].get("mount") != "/snap/core22/1380" for f in findings)


def test_full_filesystem_lists_its_own_consumers_and_safe_cleanups():
    findings = build_findings(troubled())
    root = one(findings, "disk.full")
    assert [row["path"] for row in root["evidence"]["top_dirs"]] == [
        "/var/lib/docker/overlay2", "/var/lib/docker/volumes", "/var/www/app/log", "/var/log/journal"]
    assert [row["path"] for row in root["evidence"]["top_files"]] == [
        "/var/www/app/log/production.log", "/var/log/nginx/access.log"]
    assert root["evidence"]["top_dirs"][0]["size"] == "15.0 GiB"
    command = root["fix"]["command"]
    assert "sudo du -xh --max-depth=2 / " in command
    assert "sudo journalctl --rotate --vacuum-size=500M" in command
    assert "sudo apt-get clean" in command
    assert "docker system df" in command
    assert "prune" not in command.replace("prune only", "")
    assert "hostcare.vps.docker_cleanup" in root["recommendation"]
    data = one(findings, "disk.filling")
    assert data["evidence"]["mount"] == "/data"
    assert [row["path"] for row in data["evidence"]["top_dirs"]] == ["/data/backups", "/data/uploads"]
    assert "journalctl" not in data["fix"]["command"]    # the journal is not on /data
    assert "apt-get" not in data["fix"]["command"]


def test_consumers_limit():
    findings = build_findings(troubled(), thresholds={"top_consumers": 1})
    assert len(one(findings, "disk.full")["evidence"]["top_dirs"]) == 1
    assert len(one(findings, "disk.top_consumers")["evidence"]["top_dirs"]) == 1


def test_no_filesystems_is_info():
    facts = healthy()
    facts["disk"]["filesystems"] = []
    assert one(build_findings(facts), "disk.no_filesystems")["severity"] == "info"


@pytest.mark.parametrize("thresholds, used, expected", [
    ({"disk_warning_percent": 70}, 75.0, "disk.filling"),
    ({"disk_warning_percent": 70, "disk_critical_percent": 75}, 75.0, "disk.full"),
    ({"disk_critical_percent": 99}, 95.0, "disk.filling"),
])
def test_disk_thresholds_are_configurable(thresholds, used, expected):
    assert expected in ids(build_findings(with_root(use_percent=used), thresholds=thresholds))


# --------------------------------------------------------------------------------------------- journal, apt, logs


JOURNAL = [
    (0, "disk.journal_ok", "ok"),
    (256 * MIB, "disk.journal_ok", "ok"),
    (256 * MIB + 1, "disk.journal_growing", "info"),
    (1 * GIB, "disk.journal_growing", "info"),
    (1 * GIB + 1, "disk.journal_large", "warning"),
    (4 * GIB, "disk.journal_large", "warning"),
]


@pytest.mark.parametrize("size, expected, severity", JOURNAL)
def test_journal(size, expected, severity):
    facts = healthy()
    facts["disk"]["journal"]["size_bytes"] = size
    item = one(build_findings(facts), expected)
    assert item["severity"] == severity
    assert item["evidence"]["size_bytes"] == size
    if severity != "ok" and size > 500 * MIB:
        assert item["fix"]["command"].startswith("sudo journalctl --rotate --vacuum-size=500M")
        assert item["risk"] == "safe"
        assert item["fix"]["role"] == "hostcare.vps.logrotate"
        assert item["evidence"]["role_vars"] == {"hostcare_logrotate_journald_system_max_use": "500M",
                                                 "hostcare_logrotate_journald_vacuum_size": "500M"}
        assert item["fix"]["command"].endswith("#   hostcare_logrotate_journald_vacuum_size: 500M")
    elif severity != "ok":
        # Below the 500M target a vacuum frees nothing: only the cap is proposed (issue 12, item 6).
        assert "--vacuum-size" not in item["fix"]["command"]
        assert "SystemMaxUse=500M" in item["fix"]["command"]
        assert item["evidence"]["role_vars"] == {"hostcare_logrotate_journald_system_max_use": "500M"}
        assert "would free nothing" in item["recommendation"]


def test_no_journal_directory_is_ok():
    facts = healthy()
    facts["disk"]["journal"] = None
    assert one(build_findings(facts), "disk.journal_ok")["title"] == "systemd journal: none on disk"


@pytest.mark.parametrize("size, expected, severity", [
    (0, "disk.apt_cache_ok", "ok"),
    (256 * MIB, "disk.apt_cache_ok", "ok"),
    (256 * MIB + 1, "disk.apt_cache_large", "info"),
])
def test_apt_cache(size, expected, severity):
    facts = healthy()
    facts["disk"]["apt_cache"]["size_bytes"] = size
    item = one(build_findings(facts), expected)
    assert item["severity"] == severity
    if severity == "info":
        assert item["fix"]["command"] == "sudo apt-get clean"
        assert item["risk"] == "safe"


def test_no_apt_no_finding():
    facts = healthy()
    facts["disk"]["apt_cache"] = None
    assert not [f for f in build_findings(facts) if f["id"].startswith("disk.apt_cache")]


@pytest.mark.parametrize("size, expected", [
    (50 * MIB - 1, "disk.unrotated_logs_ok"),
    (50 * MIB, "disk.unrotated_logs"),
    (5 * GIB, "disk.unrotated_logs"),
])
def test_unrotated_logs_min_size(size, expected):
    facts = healthy()
    facts["disk"]["unrotated_logs"] = [{"path": "/srv/app/log/app.log", "size_bytes": size}]
    item = one(build_findings(facts), expected)
    if expected == "disk.unrotated_logs":
        assert item["severity"] == "warning"
        assert item["fix"]["role"] == "hostcare.vps.logrotate"
        assert item["fix"]["planned_role"] is None
        entry = {"name": "srv-app-log", "paths": ["/srv/app/log/app.log"], "frequency": "daily", "rotate": 14,
                 "maxsize": "50M", "compress": True, "delaycompress": True, "missingok": True, "notifempty": True,
                 "copytruncate": True}
        assert item["evidence"]["role_vars"] == {"hostcare_logrotate_entries": [entry]}
        # the by-hand command writes exactly the file the role writes from the same entry (one computation)
        assert render_entry(with_defaults(entry)) in item["fix"]["command"] + "\n"
        assert "logrotate -d \"$tmp/check.conf\"" in item["fix"]["command"]
        assert "include /etc/logrotate.conf" in item["fix"]["command"]
        assert item["fix"]["command"].endswith(
            "# or let the role hostcare.vps.logrotate do it, with these variables:\n"
            "#   hostcare_logrotate_entries:\n"
            "#     - name: srv-app-log\n"
            "#       paths: [/srv/app/log/app.log]\n"
            "#       frequency: daily\n"
            "#       rotate: 14\n"
            "#       maxsize: 50M\n"
            "#       compress: true\n"
            "#       delaycompress: true\n"
            "#       missingok: true\n"
            "#       notifempty: true\n"
            "#       copytruncate: true")


def test_logrotate_proposed_entry_one_per_directory():
    assert _audit_fixes.logrotate_role_vars([_audit_fixes.proposed_logrotate_entry(
        "/var/www/a/log", ["/var/www/a/log/x.log", "/var/www/a/log/z.log"], 50 * MIB)]) == {
        "hostcare_logrotate_entries": [
            {"name": "var-www-a-log", "paths": ["/var/www/a/log/x.log", "/var/www/a/log/z.log"],
             "frequency": "daily", "rotate": 14, "maxsize": "50M", "compress": True, "delaycompress": True,
             "missingok": True, "notifempty": True, "copytruncate": True}]}
    assert _audit_fixes.logrotate_entry_name("/") == "root"
    assert _audit_fixes.logrotate_entry_name("/srv/" + "x" * 80) == "srv-" + "x" * 60


def test_role_vars_lines_quote_what_yaml_would_misread():
    assert _audit_fixes.role_vars_lines("r", {"a": "10m", "b": 3, "c": "x: y", "d": True, "e": "null"}) == [
        "# or let the role r do it, with these variables:", "#   a: 10m", "#   b: 3", '#   c: "x: y"',
        "#   d: true", '#   e: "null"']


def test_unrotated_logs_listed_biggest_first():
    item = one(build_findings(troubled()), "disk.unrotated_logs")
    assert [row["path"] for row in item["evidence"]["logs"]] == [
        "/var/www/app/log/production.log", "/var/log/nginx/access.log"]   # sidekiq.log is under 50 MiB
    assert item["title"] == "2 large log files never rotated (2.4 GiB)"


# --------------------------------------------------------------------------------------------- scan


def test_scan_truncated_and_unreadable():
    findings = build_findings(troubled())
    truncated = one(findings, "disk.scan_truncated")
    assert truncated["severity"] == "info"
    assert truncated["evidence"]["unfinished"] == ["/data/uploads"]
    assert "/data/uploads" in truncated["summary"]
    unreadable = one(findings, "disk.scan_unreadable")
    assert unreadable["evidence"]["unreadable"] == ["/var/lib/docker/volumes/secret/_data"]
    assert "--become" in unreadable["recommendation"]


def test_complete_scan_has_no_partial_findings():
    assert not {"disk.scan_truncated", "disk.scan_unreadable"}.intersection(ids(build_findings(healthy())))


def test_top_consumers():
    item = one(build_findings(healthy()), "disk.top_consumers")
    assert item["title"] == ("Biggest disk consumers: /var/lib/docker/overlay2 (4.5 GiB), "
                             "/var/lib/docker/volumes (400.0 MiB), /var/log/journal (120.0 MiB)")
    assert item["evidence"]["scanned_roots"][0] == {"path": "/var/lib/docker", "size_bytes": 5368709120,
                                                    "size": "5.0 GiB"}
    assert item["evidence"]["missing_paths"] == ["/srv"]


def test_empty_scan_has_no_consumer_finding():
    facts = healthy()
    facts["disk"]["scan"] = {"paths": [], "missing_paths": [], "roots": [], "top_dirs": [], "top_files": [],
                             "unreadable": [], "truncated": False, "unfinished": [], "elapsed_seconds": 0.0,
                             "files_scanned": 0}
    assert "disk.top_consumers" not in ids(build_findings(facts))


# --------------------------------------------------------------------------------------------- missing facts


@pytest.mark.parametrize("facts, missing", [
    ({"swap": None, "disk": load("disk_healthy")}, ["swap"]),
    ({"disk": load("disk_healthy")}, ["swap"]),
    ({"swap": load("swap_healthy"), "disk": None}, ["disk"]),
    ({"swap": "garbage", "disk": None}, ["swap", "disk"]),
    ({}, ["swap", "disk"]),
    (None, ["swap", "disk"]),
])
def test_missing_facts_become_info(facts, missing):
    findings = build_findings(facts)
    for source in missing:
        assert one(findings, f"facts.{source}_unavailable")["severity"] == "info"
    if "swap" in missing:
        assert not [f for f in findings if f["id"].startswith(("swap.", "memory."))]
    if "disk" in missing:
        assert not [f for f in findings if f["id"].startswith("disk.")]


def test_missing_facts_carry_the_error_and_a_become_hint():
    findings = build_findings({"swap": None, "disk": None,
                               "errors": {"disk": "Permission denied: '/var/lib/docker'", "swap": "boom"}})
    disk = one(findings, "facts.disk_unavailable")
    assert disk["evidence"] == {"module": "hostcare.vps.disk_pressure_facts",
                                "error": "Permission denied: '/var/lib/docker'"}
    assert "--become" in disk["recommendation"]
    swap = one(findings, "facts.swap_unavailable")
    assert "boom" in swap["summary"]
    assert "--become" not in swap["recommendation"]


def test_partial_facts_never_crash():
    facts = {"swap": {"memory": {}, "swap": {}}, "disk": {"filesystems": [{"mount": "/"}]}}
    findings = build_findings(facts)
    assert "audit.rule_failed" not in ids(findings)
    assert {"swap.unknown", "swap.swappiness_unknown", "memory.oom_unknown",
            "memory.pressure_unknown"} <= set(ids(findings))


def test_weird_values_never_crash():
    facts = troubled()
    facts["swap"]["areas"] = [{"path": None}, "junk"]
    facts["swap"]["sysctl"]["swappiness"] = "60"
    facts["disk"]["scan"]["top_dirs"] = [{"path": 5}, {"size_bytes": 3}, None]
    facts["disk"]["unrotated_logs"] = "nope"
    facts["disk"]["journal"] = {"size_bytes": None}
    findings = build_findings(facts)
    assert "audit.rule_failed" not in ids(findings)


# --------------------------------------------------------------------------------------------- registry


def test_rule_failure_becomes_info_finding():
    def broken(facts, limits):
        raise KeyError("oops")

    findings = build_findings(healthy(), rules=[Rule("test.broken", ("swap",), broken)])
    item = one(findings, "audit.rule_failed")
    assert item["severity"] == "info"
    assert item["evidence"] == {"rule": "test.broken", "error": "KeyError: 'oops'"}


def test_rules_needing_a_missing_source_are_skipped():
    calls = []
    rules = [Rule("t.swap", ("swap",), lambda f, l: calls.append("swap") or []),
             Rule("t.disk", ("disk",), lambda f, l: calls.append("disk") or [])]
    build_findings({"swap": load("swap_healthy"), "disk": None}, rules=rules)
    assert calls == ["swap"]


def test_registry_is_complete_and_unique():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert names == ["swap.size", "swap.fstab", "swap.swappiness", "memory.oom", "memory.pressure",
                     "host.container", "disk.space", "disk.inodes", "disk.top_consumers", "disk.scan",
                     "disk.journal", "disk.apt_cache", "disk.unrotated_logs", "disk.logrotate_not_running",
                     "disk.logrotate_restarts_services", "disk.logrotate_config_error", "disk.deleted_open",
                     "disk.stale_archives",
                     "docker.available", "docker.reclaimable", "docker.old_tags", "docker.dangling_images",
                     "docker.stopped_containers", "docker.logs", "docker.daemon_log_opts", "docker.volumes",
                     "postgres.available", "postgres.memory_defaults", "postgres.memory_model",
                     "postgres.connections", "postgres.pending_restart",
                     "memory.top_consumers", "memory.budget", "processes.stuck", "processes.load_high",
                     "docker.no_memory_limit", "docker.restart_loop", "docker.postgres_shm",
                     "systemd.failed_units", "systemd.restart_loop", "apps.pool"]


def test_register_rejects_duplicates_and_unknown_sources(monkeypatch):
    monkeypatch.setattr(_audit, "RULES", list(RULES))
    with pytest.raises(AuditError, match="registered twice"):
        _audit.rule("swap.size", needs=("swap",))(lambda f, l: [])
    with pytest.raises(AuditError, match="unknown fact source"):
        _audit.rule("mysql.bloat", needs=("mysql",))


def test_register_new_rule(monkeypatch):
    monkeypatch.setattr(_audit, "RULES", list(RULES))

    @_audit.rule("test.extra", needs=("disk",))
    def extra(facts, limits):
        return [make_finding("test.extra", "warning", "Extra", "Extra check.")]

    assert "test.extra" in ids(build_findings(healthy()))


# --------------------------------------------------------------------------------------------- helpers


def test_make_finding_validates():
    with pytest.raises(AuditError, match="unknown severity"):
        make_finding("x.y", "fatal", "t", "s")
    with pytest.raises(AuditError, match="unknown risk"):
        make_finding("x.y", "ok", "t", "s", risk="yolo")


def test_make_fix_planned_vs_available(monkeypatch):
    assert "hostcare.vps.logrotate" in _audit.AVAILABLE_ROLES
    assert _audit.make_fix("hostcare.vps.someday", "cmd") == {"role": None, "command": "cmd",
                                                              "planned_role": "hostcare.vps.someday"}
    monkeypatch.setattr(_audit, "AVAILABLE_ROLES", frozenset({"hostcare.vps.someday"}))
    assert _audit.make_fix("hostcare.vps.someday", "cmd") == {"role": "hostcare.vps.someday", "command": "cmd",
                                                              "planned_role": None}


def test_sort_findings_is_stable_by_severity():
    items = [{"id": "a", "severity": "ok"}, {"id": "b", "severity": "info"}, {"id": "c", "severity": "critical"},
             {"id": "d", "severity": "warning"}, {"id": "e", "severity": "critical"}, {"id": "f", "severity": "bogus"}]
    assert [f["id"] for f in sort_findings(items)] == ["c", "e", "d", "b", "a", "f"]


def test_counts_and_worst():
    items = [{"severity": "ok"}, {"severity": "warning"}, {"severity": "ok"}]
    assert count_by_severity(items) == {"critical": 0, "warning": 1, "info": 0, "ok": 2}
    assert worst_severity(items) == "warning"
    assert worst_severity([]) == "ok"


def test_resolve_thresholds():
    assert resolve_thresholds() == DEFAULT_THRESHOLDS
    assert resolve_thresholds(None) is not DEFAULT_THRESHOLDS
    limits = resolve_thresholds({"journal_warning_bytes": "2G", "disk_warning_percent": 80,
                                 "swap_low_fraction": 0.75, "top_consumers": 3.0})
    assert limits["journal_warning_bytes"] == 2 * GIB
    assert limits["disk_warning_percent"] == 80.0
    assert limits["top_consumers"] == 3


@pytest.mark.parametrize("overrides, message", [
    ("nope", "thresholds must be a dict"),
    ({"disk_warn": 80}, "unknown threshold 'disk_warn'"),
    ({"disk_warning_percent": "80"}, "must be a number"),
    ({"disk_warning_percent": True}, "must be a number"),
    ({"disk_warning_percent": 101}, "percentage from 0 to 100"),
    ({"disk_warning_percent": 95}, "disk_warning_percent .* must not be above disk_critical_percent"),
    ({"journal_info_bytes": "2G"}, "journal_info_bytes .* must not be above journal_warning_bytes"),
    ({"journal_warning_bytes": "2Gb"}, "not a valid size"),
    ({"swap_low_fraction": 0}, r"in \(0, 1\]"),
    ({"swappiness_high": 10.5}, "integer from 0 to 200"),
    ({"top_consumers": 0}, "whole number >= 1"),
])
def test_resolve_thresholds_rejects(overrides, message):
    with pytest.raises(AuditError, match=message):
        resolve_thresholds(overrides)


def test_build_findings_does_not_modify_its_input():
    facts = troubled()
    before = copy.deepcopy(facts)
    build_findings(facts)
    assert facts == before


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("facts", [troubled(), with_swap(ram=8 * GIB, total=1 * GIB),
                                   {"swap": load("swap_container"), "disk": load("disk_healthy")}],
                         ids=["troubled", "small-swap", "container"])
def test_fix_commands_are_valid_shell(facts):
    commands = [f["fix"]["command"] for f in build_findings(facts) if f["fix"]["command"]]
    assert commands
    for command in commands:
        result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (command, result.stderr)


def test_skipped_scan_gives_no_scan_findings():
    facts = healthy()
    facts["disk"]["scan"] = None
    facts["disk"]["unrotated_logs"] = None
    found = ids(build_findings(facts))
    assert not [i for i in found if i.startswith(("disk.unrotated", "disk.scan", "disk.top_consumers"))]
    assert "disk.space_ok" in found and "disk.journal_ok" in found


def test_consumers_leave_out_parents_explained_by_a_child():
    facts = healthy()
    facts["disk"]["scan"]["top_dirs"] = [
        {"path": "/opt/mirror", "size_bytes": 4000 * MIB},
        {"path": "/opt/mirror/files", "size_bytes": 3900 * MIB},   # >= 90% of /opt/mirror: the parent goes
        {"path": "/var/lib/docker", "size_bytes": 3000 * MIB},
        {"path": "/var/lib/docker/overlay2", "size_bytes": 2000 * MIB},  # only 67%: both stay
    ]
    item = one(build_findings(facts), "disk.top_consumers")
    assert [row["path"] for row in item["evidence"]["top_dirs"]] == [
        "/opt/mirror/files", "/var/lib/docker", "/var/lib/docker/overlay2"]
    assert item["fix"]["command"] == ("sudo du -xh --max-depth=2 /var/lib/docker /var/log /var/cache/apt 2>/dev/null"
                                      " | sort -rh | head -20")


@pytest.mark.parametrize("scan_changes", [{"truncated": True, "unfinished": ["/srv"]}, {"unreadable": ["/root"]}],
                         ids=["truncated", "unreadable"])
def test_no_unrotated_logs_in_a_partial_scan_is_only_info(scan_changes):
    facts = healthy()
    facts["disk"]["scan"].update(scan_changes)
    item = one(build_findings(facts), "disk.unrotated_logs_ok")
    assert item["severity"] == "info"
    assert item["title"].endswith("(partial scan)")


# --------------------------------------------------------------------------------------------- docs


DOCS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "audit.md")
PLUGIN_UTILS = os.path.dirname(_audit.__file__)


def test_every_finding_id_and_threshold_is_documented():
    with open(DOCS, encoding="utf-8") as handle:
        docs = handle.read()
    found = set()
    for name in sorted(n for n in os.listdir(PLUGIN_UTILS) if n.startswith("_audit") and n.endswith(".py")):
        with open(os.path.join(PLUGIN_UTILS, name), encoding="utf-8") as handle:
            source = handle.read()
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("@rule("))
        found.update(re.findall(r'"((?:swap|memory|host|disk|docker|postgres|audit|processes|systemd)\.[a-z_]+)"', source))
    assert {"docker.old_tags", "postgres.memory_overcommit", "disk.full", "disk.filling"} <= found
    for finding_id in sorted(found):
        assert f"`{finding_id}`" in docs, finding_id
    for key in DEFAULT_THRESHOLDS:
        assert f"`{key}`" in docs, key


@pytest.mark.parametrize("overrides, message", [
    ({"postgres_work_mem_factor": 0}, "must be a number above 0"),
    ({"docker_stopped_min_days": -1}, "must be a number of days >= 0"),
    ({"docker_log_max_file": 0}, "whole number >= 1"),
    ({"docker_reclaimable_info_bytes": "10G"}, "docker_reclaimable_info_bytes .* must not be above"),
    ({"postgres_memory_warning_percent": 95}, "postgres_memory_warning_percent .* must not be above"),
    ({"postgres_connections_critical_percent": 60}, "postgres_connections_warning_percent .* must not be above"),
])
def test_resolve_thresholds_rejects_docker_and_postgres_values(overrides, message):
    with pytest.raises(AuditError, match=message):
        resolve_thresholds(overrides)


def test_docker_and_postgres_thresholds_accept_sizes_and_numbers():
    limits = resolve_thresholds({"docker_cleanup_warning_bytes": "2G", "docker_stopped_min_days": 0.5,
                                 "postgres_work_mem_factor": 2, "postgres_defaults_min_ram_bytes": "4G"})
    assert limits["docker_cleanup_warning_bytes"] == 2 * GIB
    assert limits["docker_stopped_min_days"] == 0.5
    assert limits["postgres_work_mem_factor"] == 2.0
    assert limits["postgres_defaults_min_ram_bytes"] == 4 * GIB


def _full_root(facts, available, used):
    root = facts["disk"]["filesystems"][0]
    root.update({"available_bytes": available, "used_bytes": used, "size_bytes": available + used,
                 "use_percent": round(used * 100.0 / (used + available), 1)})
    return facts


def test_swap_none_on_a_disk_at_90_percent_says_what_fits_and_why():
    # 3.8 GiB RAM wants 4 GiB of swap; / is at 90% with 4.9 GiB free: no swap file fits under the 90% limit.
    ram = int(3.8 * GIB)
    facts = _full_root(with_swap(ram=ram, total=0), available=int(4.9 * GIB), used=int(44.1 * GIB))
    item = one(build_findings(facts), "swap.none")
    assert item["evidence"]["ram_bytes"] == ram and item["evidence"]["swap_bytes"] == 0
    assert item["evidence"]["recommended_swap_bytes"] == 4 * GIB
    assert item["evidence"]["swap_fits_bytes"] == 0
    assert item["evidence"]["disk_max_use_percent"] == 90.0
    assert item["fix"]["command"] is None                      # never "create 4 GiB" (or 2 GiB) blindly
    assert "no swap file fits: / has 4.9 GiB free and is 90.0% used" in item["summary"]
    assert "above 90% use" in item["summary"]
    assert "zram" in item["recommendation"]
    assert not item["recommendation"].startswith("Add 4.0 GiB")


def test_swap_none_on_a_disk_at_85_percent_makes_the_file_that_fits():
    facts = _full_root(with_swap(ram=int(3.8 * GIB), total=0), available=int(7.35 * GIB), used=int(41.65 * GIB))
    item = one(build_findings(facts), "swap.none")
    assert item["evidence"]["swap_fits_bytes"] == 2 * GIB    # 90% of 49 GiB - 41.65 GiB = 2.45, rounded down
    assert "count=2048 " in item["fix"]["command"]
    assert "only 2.0 GiB of the 4.0 GiB fits" in item["summary"]
    assert item["recommendation"].startswith("Add 2.0 GiB of swap")


def test_swap_small_is_limited_by_the_disk_too():
    facts = _full_root(with_swap(ram=8 * GIB, total=1 * GIB), available=int(4.9 * GIB), used=int(44.1 * GIB))
    item = one(build_findings(facts), "swap.small")
    assert item["evidence"]["swap_fits_bytes"] == 0
    assert item["fix"]["command"] is None
    assert "no swap file fits" in item["summary"]


# --------------------------------------------------------------------------------------------- one RAM (issue 12)


def test_swap_in_a_container_is_sized_for_the_limit_and_has_no_command():
    facts = {"swap": load("swap_container"), "disk": load("disk_healthy")}   # MemTotal 23.4 GiB, limit 2 GiB
    item = one(build_findings(facts), "swap.none")
    assert (item["evidence"]["ram_bytes"], item["evidence"]["ram_source"]) == (2 * GIB, "container memory limit")
    assert item["evidence"]["recommended_swap_bytes"] == 4 * GIB
    assert item["fix"]["command"] is None                         # no swap file on the container's overlay root
    assert "container host" in item["recommendation"] and "belongs to the host" in item["summary"]
