# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Deleted files still held open ("df says full, du says not"): /proc/*/fd links to deleted files on real
filesystems, bytes per holding process and per filesystem.

summarise_deleted_open() is pure; gather_deleted_open() reads /proc (read-only). Runs on the target's python3
(3.9+), standard library only.
"""

from __future__ import annotations

import os
import stat

DELETED_SUFFIX = " (deleted)"
MAX_PROCESSES = 50
MAX_FILES_PER_PROCESS = 10


def summarise_deleted_open(handles, device_mounts):
    """{processes, filesystems, total_bytes} from ``handles``: [{pid, command, path, device, inode, size_bytes}].

    Only handles on a device of ``device_mounts`` ({st_dev: mount}) count (tmpfs, memfd and sockets do not); a file
    open in several processes (or twice) counts once per filesystem, for the first process holding it (lowest pid).
    """
    seen, processes, filesystems = set(), {}, {}
    for handle in sorted(handles, key=lambda item: (item["pid"], item["path"])):
        mount = device_mounts.get(handle["device"])
        key = (handle["device"], handle["inode"])
        if mount is None or key in seen:
            continue
        seen.add(key)
        process = processes.setdefault(handle["pid"], {"pid": handle["pid"], "command": handle["command"],
                                                       "bytes": 0, "files": [], "mounts": []})
        process["bytes"] += handle["size_bytes"]
        if mount not in process["mounts"]:
            process["mounts"].append(mount)
        process["files"].append({"path": handle["path"], "size_bytes": handle["size_bytes"], "mount": mount})
        filesystems[mount] = filesystems.get(mount, 0) + handle["size_bytes"]
    rows = sorted(processes.values(), key=lambda item: (-item["bytes"], item["pid"]))
    for row in rows:
        row["files"] = sorted(row["files"], key=lambda item: -item["size_bytes"])[:MAX_FILES_PER_PROCESS]
    return {"processes": rows[:MAX_PROCESSES],
            "filesystems": [{"mount": mount, "bytes": size} for mount, size in sorted(filesystems.items())],
            "total_bytes": sum(filesystems.values())}


def _command(pid):
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def gather_deleted_open(mounts):
    """summarise_deleted_open() of this host's /proc, for the real filesystems mounted at ``mounts``; processes
    whose descriptors cannot be read (another user's, without root) are counted in ``unreadable_processes``."""
    device_mounts = {}
    for mount in mounts:
        try:
            device_mounts.setdefault(os.stat(mount).st_dev, mount)
        except OSError:
            continue
    handles, unreadable = [], 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            unreadable += 1
            continue
        command = None
        for fd in fds:
            link = f"{fd_dir}/{fd}"
            try:
                target = os.readlink(link)
                if not target.endswith(DELETED_SUFFIX) or not target.startswith("/"):
                    continue
                info = os.stat(link)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_nlink or not info.st_blocks:
                continue
            command = command or _command(pid) or "?"
            handles.append({"pid": int(pid), "command": command, "path": target[:-len(DELETED_SUFFIX)],
                            "device": info.st_dev, "inode": info.st_ino, "size_bytes": info.st_blocks * 512})
    return {**summarise_deleted_open(handles, device_mounts), "unreadable_processes": unreadable}
