# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Disk pressure: which filesystems are real and how full they are, and the hostcare_disk facts (the tree walk
that finds where the space went is in _disk_scan).

The first half is pure (text or values in, dicts out). The second half does I/O: probe_mount_points(),
measure_filesystems() and gather_disk_facts(). Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import os
import stat
import threading
import time

from ansible_collections.hostcare.vps.plugins.module_utils._deleted_open import gather_deleted_open
from ansible_collections.hostcare.vps.plugins.module_utils._disk_scan import MIN_ARCHIVE_BYTES, find_unrotated_logs, scan_trees
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_state import gather_logrotate_facts
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_psi
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import parse_mountinfo
from ansible_collections.hostcare.vps.plugins.module_utils._units import percent

# Read-only images (squashfs snaps, iso9660/udf cloud-init config drives, erofs, cramfs): always 100% full by
# design, never judged (the audit skips them too).
READ_ONLY_IMAGE_FS_TYPES = frozenset(("cramfs", "erofs", "iso9660", "squashfs", "udf"))

# Kernel and virtual filesystems that hold no user data, plus the read-only images.
PSEUDO_FS_TYPES = frozenset((
    "anon_inodefs", "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
    "devpts", "devtmpfs", "efivarfs", "fusectl", "fuse.gvfsd-fuse", "fuse.lxcfs",
    "fuse.portal", "fuse.snapfuse", "hugetlbfs", "mqueue", "nfsd", "nsfs", "proc",
    "pstore", "ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "sysfs",
    "tmpfs", "tracefs",
)) | READ_ONLY_IMAGE_FS_TYPES

# Union filesystems: a container's root is one ("/"), but on a host every running container adds
# another one under /var/lib/docker; those are views of the host's disk, not filesystems of their own.
UNION_FS_TYPES = frozenset(("overlay", "aufs", "fuse.fuse-overlayfs"))


def is_real_filesystem(mount):
    """True for a mount that holds data of its own: not pseudo, and not a union mount other than "/"."""
    fstype = mount["fstype"]
    if fstype in PSEUDO_FS_TYPES:
        return False
    if fstype in UNION_FS_TYPES:
        return mount["mount"] == "/"
    return True


def select_real_filesystems(mounts, is_directory):
    """Pick one mount per real filesystem from parse_mountinfo() output, sorted by mount path.

    `is_directory(path)` tells whether a mount point is a directory: containers get files such as
    /etc/hosts bind-mounted from the host's disk, and those are not filesystems. Bind mounts, btrfs
    subvolumes and a device mounted twice share one major:minor; of those the mount showing the most
    of the filesystem (shortest root), then the shortest mount path, represents the device.
    """
    chosen = {}
    for mount in mounts:
        if not is_real_filesystem(mount) or not is_directory(mount["mount"]):
            continue
        rank = (len(mount["root"]), len(mount["mount"]), mount["mount"])
        best = chosen.get(mount["device_number"])
        if best is None or rank < best[0]:
            chosen[mount["device_number"]] = (rank, mount)
    return sorted((mount for _rank, mount in chosen.values()), key=lambda mount: mount["mount"])


def bind_mount_points(mounts):
    """Mount points of parse_mountinfo() output that show a directory also reachable at another path.

    Those are bind mounts (and btrfs subvolumes mounted away from their own path). A bind mount keeps the
    device number, so a du -x style walk cannot see it; a directory bound onto itself is not listed.
    """
    return [mount["mount"] for mount in mounts
            if is_real_filesystem(mount) and mount["root"] not in ("/", mount["mount"])]


def filesystem_usage(fs_stat):
    """Sizes from a statvfs result (or any object with its f_* attributes); all None when fs_stat is None.

    used = size - free, available = what unprivileged users may still write (f_bavail, without the
    root-reserved blocks), use_percent = used / (used + available) as df computes Use%. A filesystem
    without a fixed inode table (btrfs) reports f_files == 0: its inode figures are None.
    """
    if fs_stat is None:
        return dict.fromkeys(("size_bytes", "used_bytes", "available_bytes", "use_percent",
                              "inodes_total", "inodes_used", "inode_use_percent"))
    size = fs_stat.f_blocks * fs_stat.f_frsize
    used = size - fs_stat.f_bfree * fs_stat.f_frsize
    available = fs_stat.f_bavail * fs_stat.f_frsize
    inodes_total = fs_stat.f_files or None
    inodes_used = fs_stat.f_files - fs_stat.f_ffree if inodes_total else None
    return {
        "size_bytes": size,
        "used_bytes": used,
        "available_bytes": available,
        "use_percent": percent(used, used + available),
        "inodes_total": inodes_total,
        "inodes_used": inodes_used,
        "inode_use_percent": percent(inodes_used, inodes_total),
    }


def full_filesystem_mounts(filesystems, scan_paths, min_use_percent, cross_filesystems=False):
    """Mount points of the filesystems at least min_use_percent full that no scan path already walks.

    The scan stays on one filesystem, so a scan path walks a mount point only when it is that mount point (or, with
    cross_filesystems, lies above it). A full filesystem mounted elsewhere (a data disk on /srv/data, or / itself)
    gets scanned too, so its biggest consumers are known. min_use_percent 0 (or None) turns this off.
    """
    if not min_use_percent:
        return []
    mounts = []
    for filesystem in filesystems or ():
        mount, use = filesystem.get("mount"), filesystem.get("use_percent")
        if not mount or use is None or use < min_use_percent:
            continue
        if any(mount == path or (cross_filesystems and mount.startswith(path.rstrip("/") + "/")) for path in scan_paths):
            continue
        mounts.append(mount)
    return mounts


# ---------------------------------------------------------------------------------------------------
# I/O below this line.
# ---------------------------------------------------------------------------------------------------

def probe_mount_points(paths, timeout):
    """{path: (is_directory, statvfs result or None)} for each mount point that answered within `timeout`.

    Each path is probed in its own daemon thread: on a dead NFS server stat() and statvfs() block for
    good, and a thread left behind neither stops the others nor holds the module's exit. A mount point
    that cannot be stat()ed is reported as not a directory.
    """
    results = {}

    def probe(path):
        try:
            is_directory = stat.S_ISDIR(os.stat(path).st_mode)
        except OSError:
            results[path] = (False, None)
            return
        try:
            results[path] = (is_directory, os.statvfs(path))
        except OSError:
            results[path] = (is_directory, None)

    threads = [threading.Thread(target=probe, args=(path,), daemon=True) for path in dict.fromkeys(paths)]
    for thread in threads:
        thread.start()
    give_up_at = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, give_up_at - time.monotonic()))
    return dict(results)


# Entries listed between two looks at the clock: a directory of millions of files cannot blow the budget.
PROC_MOUNTINFO = "/proc/self/mountinfo"
PROC_PRESSURE_IO = "/proc/pressure/io"
JOURNAL_DIRS = ("/var/log/journal", "/run/log/journal")
APT_ARCHIVES_DIR = "/var/cache/apt/archives"
# statvfs answers in microseconds; only a dead network filesystem takes longer than this.
MOUNT_PROBE_TIMEOUT_SECONDS = 5.0
MAX_SCAN_WORKERS = 4


def measure_filesystems(mounts):
    """filesystems facts for parse_mountinfo() output: select_real_filesystems() plus filesystem_usage().

    A mount point that did not answer in time (a dead NFS server) is kept, with null figures.
    """
    probes = probe_mount_points([mount["mount"] for mount in mounts if is_real_filesystem(mount)],
                                MOUNT_PROBE_TIMEOUT_SECONDS)
    filesystems = []
    for mount in select_real_filesystems(mounts, lambda path: probes.get(path, (True, None))[0]):
        entry = {"mount": mount["mount"], "device": mount["device"], "fstype": mount["fstype"]}
        entry.update(filesystem_usage(probes.get(mount["mount"], (True, None))[1]))
        filesystems.append(entry)
    return filesystems


def _measure_dirs(paths, deadline):
    """{paths, size_bytes} of the existing directories among `paths` (size None if the deadline hit); None if none exists."""
    existing = [path for path in paths if os.path.isdir(path)]
    if not existing:
        return None
    scan = scan_trees(existing, top_n=1, deadline=deadline)
    size = None if scan["truncated"] else sum(root["size_bytes"] for root in scan["roots"])
    return {"paths": existing, "size_bytes": size}


def log_siblings(logs):
    """The other live *.log files (any size) of the directories of ``logs``, as [{path, size_bytes}]."""
    reported = {log["path"] for log in logs}
    siblings = []
    for directory in sorted({os.path.dirname(log["path"]) for log in logs}):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        sizes = {}
        for name in names:
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if name.endswith(".log") and stat.S_ISREG(info.st_mode):
                sizes[name] = info.st_blocks * 512
        siblings.extend(log for log in find_unrotated_logs(directory, sizes, names) if log["path"] not in reported)
    return siblings


def gather_disk_facts(scan_paths, missing_paths, top_n, time_budget, cross_filesystems, min_log_size,
                      max_unreadable, skip_scan, scan_full_filesystems=0):
    """The hostcare_disk facts (see docs/facts.md). scan_paths exist; missing_paths are reported as given.

    The time budget starts after the filesystems are measured and covers the journal, the apt cache and
    the scan.
    """
    mountinfo = read_text_if_readable(PROC_MOUNTINFO)
    mounts = parse_mountinfo(mountinfo) if mountinfo is not None else None
    facts = {
        "filesystems": measure_filesystems(mounts) if mounts is not None else None,
        "psi_io": parse_psi(read_text_if_readable(PROC_PRESSURE_IO)),
    }
    deadline = time.monotonic() + time_budget
    facts["journal"] = _measure_dirs(JOURNAL_DIRS, deadline)
    apt_archives = _measure_dirs((APT_ARCHIVES_DIR,), deadline)
    facts["apt_cache"] = None
    if apt_archives is not None:
        facts["apt_cache"] = {"path": APT_ARCHIVES_DIR, "size_bytes": apt_archives["size_bytes"]}
    facts["deleted_open"] = gather_deleted_open([item["mount"] for item in facts["filesystems"] or ()])
    facts["logrotate"] = gather_logrotate_facts()
    if skip_scan:
        facts["scan"] = None
        facts["unrotated_logs"] = None
        facts["unrotated_log_siblings"] = None
        facts["archives"] = None
        return facts
    # Full filesystems first: if the budget runs out, what fills them is what the user needs most.
    scan_paths = full_filesystem_mounts(facts["filesystems"], scan_paths, scan_full_filesystems,
                                        cross_filesystems) + list(scan_paths)
    scan = scan_trees(scan_paths, top_n, deadline, cross_filesystems=cross_filesystems,
                      min_log_size=min_log_size, max_unreadable=max_unreadable,
                      bind_mounts=bind_mount_points(mounts or ()),
                      workers=min(len(os.sched_getaffinity(0)), MAX_SCAN_WORKERS))
    facts["unrotated_logs"] = scan.pop("unrotated_logs")
    facts["unrotated_log_siblings"] = log_siblings(facts["unrotated_logs"])
    facts["archives"] = {"scanned_at": int(time.time()), "min_size_bytes": MIN_ARCHIVE_BYTES,
                         "files": scan.pop("archives")}
    facts["scan"] = dict(paths=list(scan_paths), missing_paths=list(missing_paths), **scan)
    return facts
