# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleted files still held open: the summary (pure) and a real process holding one."""

from __future__ import annotations

import os
import subprocess

from ansible_collections.hostcare.vps.plugins.module_utils._deleted_open import gather_deleted_open, summarise_deleted_open


def handle(pid, path, size, device=1, inode=None, command="app"):
    return {"pid": pid, "command": command, "path": path, "device": device, "inode": inode or hash(path) % 10000,
            "size_bytes": size}


def test_summary_per_process_and_filesystem_counts_a_shared_file_once():
    handles = [
        handle(20, "/var/log/app.log", 300, inode=1, command="puma"),
        handle(10, "/var/log/app.log", 300, inode=1, command="puma"),      # the same file, forked worker
        handle(10, "/var/log/old.log", 100, inode=2, command="puma"),
        handle(30, "/srv/data/x.tmp", 1000, device=2, inode=3, command="pg"),
        handle(40, "/dev/shm/y", 5000, device=9, inode=4, command="shm"),  # tmpfs: not a real filesystem
    ]
    summary = summarise_deleted_open(handles, {1: "/", 2: "/srv/data"})
    assert summary["total_bytes"] == 1400
    assert summary["filesystems"] == [{"mount": "/", "bytes": 400}, {"mount": "/srv/data", "bytes": 1000}]
    assert [(p["pid"], p["command"], p["bytes"], p["mounts"]) for p in summary["processes"]] == [
        (30, "pg", 1000, ["/srv/data"]), (10, "puma", 400, ["/"])]
    assert [f["path"] for f in summary["processes"][1]["files"]] == ["/var/log/app.log", "/var/log/old.log"]
    assert summarise_deleted_open([], {1: "/"}) == {"processes": [], "filesystems": [], "total_bytes": 0}


def test_a_real_process_holding_a_deleted_file(tmp_path):
    path = tmp_path / "held.bin"
    path.write_bytes(b"\1" * (1024 * 1024))
    with open(path, "rb") as held:
        holder = subprocess.Popen(["sleep", "30"], stdin=held, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # pylint: disable=consider-using-with
    try:
        os.unlink(path)
        mount = str(tmp_path)
        facts = gather_deleted_open([mount])
        mine = [p for p in facts["processes"] if p["pid"] == holder.pid]
        assert len(mine) == 1
        assert mine[0]["command"] == "sleep"
        assert mine[0]["files"] == [{"path": str(path), "size_bytes": 1024 * 1024, "mount": mount}]
        assert mine[0]["bytes"] == 1024 * 1024
        assert [row for row in facts["filesystems"] if row["mount"] == mount][0]["bytes"] >= 1024 * 1024
    finally:
        holder.kill()
        holder.wait()
