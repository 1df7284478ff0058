# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Disk pressure: which filesystems are real, how full they are, and where the space went.

The first half is pure (text or values in, dicts out). The second half does I/O and says so in its
names: statvfs_paths() and scan_trees(). Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import heapq
import itertools
import os
import re
import stat
import threading
import time

from ansible_collections.hostcare.vps.plugins.module_utils._units import percent

# Kernel and virtual filesystems that hold no user data, plus read-only images (squashfs snaps,
# iso9660 cloud-init config drives, erofs) that are always 100% full by design.
PSEUDO_FS_TYPES = frozenset((
    "anon_inodefs", "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
    "devpts", "devtmpfs", "efivarfs", "erofs", "fusectl", "fuse.gvfsd-fuse", "fuse.lxcfs",
    "fuse.portal", "fuse.snapfuse", "hugetlbfs", "iso9660", "mqueue", "nfsd", "nsfs", "proc",
    "pstore", "ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",
    "tmpfs", "tracefs",
))

# Union filesystems: a container's root is one ("/"), but on a host every running container adds
# another one under /var/lib/docker; those are views of the host's disk, not filesystems of their own.
UNION_FS_TYPES = frozenset(("overlay", "aufs", "fuse.fuse-overlayfs"))

_MOUNTINFO_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def _unescape_mountinfo(field):
    # The kernel writes space, tab, newline and backslash in paths as 3-digit octal escapes.
    return _MOUNTINFO_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mountinfo(text):
    """Parse /proc/self/mountinfo into a list of dicts, in file order; malformed lines are skipped.

    Each dict has mount_id, parent_id (int), device_number ("major:minor"), root (the path inside the
    filesystem that is mounted: "/" for a whole filesystem, a subdirectory for a bind mount or a btrfs
    subvolume), mount, fstype and device (the mount source, for example /dev/vda1 or overlay).
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
            mount_id, parent_id = int(fields[0]), int(fields[1])
            device_number, root, mount_point = fields[2], fields[3], fields[4]
            fstype, source = fields[separator + 1], fields[separator + 2]
        except (ValueError, IndexError):
            continue
        mounts.append({
            "mount_id": mount_id,
            "parent_id": parent_id,
            "device_number": device_number,
            "root": _unescape_mountinfo(root),
            "mount": _unescape_mountinfo(mount_point),
            "fstype": fstype,
            "device": _unescape_mountinfo(source),
        })
    return mounts


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


_COMPRESSED = r"(?:\.(?:gz|bz2|xz|zst|lz4|lzma|lzo|Z|zip))?"
# 20250101, 2025010112 (hourly), 1735689600 (epoch %s), 2025-01-01, 2025-01-01_12-00-00, 2025-01-01T12:00
_STAMP = r"(?:\d{8,14}|\d{4}-\d{2}-\d{2}(?:[T_.-]?\d{2}(?:[-:]?\d{2}){0,2})?)"
# x.log.1, x.log.1.gz, x.log-20250101(.gz), x.log.2025-01-01, x.log.old: the live log is x.log.
_ROTATED_AFTER_EXTENSION_RE = re.compile(rf"^(?P<live>.+\.log)(?:\.\d+|[-._]{_STAMP}|\.old)(?:\.\d+)?{_COMPRESSED}$")
# logrotate's `extension .log` and many app loggers keep .log last: x.1.log, x-20250101.log.gz -> x.log.
_ROTATED_BEFORE_EXTENSION_RE = re.compile(rf"^(?P<stem>.+?)[-._](?:\d+|{_STAMP})\.log{_COMPRESSED}$")
# A log named after its day (app-2025-01-01.log) is itself one period's file and stops growing.
_DATED_NAME_RE = re.compile(r"(?<!\d)(?:19|20)\d\d-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])")


def rotated_log_base(name):
    """The live log name that `name` is a rotated copy of (x.log.1.gz -> x.log), or None."""
    match = _ROTATED_AFTER_EXTENSION_RE.match(name)
    if match:
        return match.group("live")
    match = _ROTATED_BEFORE_EXTENSION_RE.match(name)
    if match:
        return match.group("stem") + ".log"
    return None


def find_unrotated_logs(directory, log_sizes, sibling_names):
    """*.log files of one directory that nobody rotates, as [{path, size_bytes}] sorted by size, largest first.

    log_sizes maps the names of the *.log files worth reporting to their sizes; sibling_names lists every
    name in the directory. A log counts as rotated when a rotated copy of it lies next to it. Rotated
    copies themselves (x.1.log next to x.log) and per-day logs (app-2025-01-01.log) are not live logs.
    """
    names = set(sibling_names) | set(log_sizes)
    rotated = {rotated_log_base(name) for name in names}
    unrotated = []
    for name, size in log_sizes.items():
        if not name.endswith(".log") or name in rotated or _DATED_NAME_RE.search(name):
            continue
        if rotated_log_base(name) in names:
            continue
        unrotated.append({"path": os.path.join(directory, name), "size_bytes": size})
    return sorted(unrotated, key=lambda log: (-log["size_bytes"], log["path"]))


def top_entries(sizes_and_paths, top_n):
    """The top_n largest (size_bytes, path) pairs as [{path, size_bytes}], largest first, ties by path."""
    largest = heapq.nsmallest(top_n, sizes_and_paths, key=lambda pair: (-pair[0], pair[1]))
    return [{"path": path, "size_bytes": size} for size, path in largest]


# ---------------------------------------------------------------------------------------------------
# I/O below this line.
# ---------------------------------------------------------------------------------------------------

def statvfs_paths(paths, timeout):
    """os.statvfs() of every path, run in parallel; None for a path that failed or did not answer in time.

    A dead NFS server makes statvfs block forever; a daemon thread left behind does not hold the
    module's exit.
    """
    results = {}

    def worker(path):
        try:
            results[path] = os.statvfs(path)
        except OSError:
            results[path] = None

    threads = [threading.Thread(target=worker, args=(path,), daemon=True) for path in paths]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {path: results.get(path) for path in paths}


# Entries listed between two looks at the clock: a directory of millions of files cannot blow the budget.
_DEADLINE_CHECK_EVERY = 4096
_DIRECTORY_OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _TreeScan:
    """Disk usage of directory trees, du-style, within a deadline. Use through scan_trees()."""

    def __init__(self, top_n, deadline, cross_filesystems, min_log_size, max_unreadable, clock):
        self.top_n = top_n
        self.deadline = deadline
        self.cross_filesystems = cross_filesystems
        self.min_log_blocks = -(-min_log_size // 512)
        self.max_unreadable = max_unreadable
        self.clock = clock
        # One slot per directory, in discovery order, so a child always comes after its parent.
        self.dir_paths = []
        self.dir_parents = []
        self.dir_blocks = []
        self.dir_files = []
        self.incomplete_dirs = []
        self.dirs_by_inode = {}
        self.seen_hard_links = set()
        self.largest_files = []     # min-heap of (blocks, path), at most top_n long
        self.unrotated_logs = []    # min-heap of (size_bytes, path), at most top_n long
        self.unreadable = []
        self.root_indexes = {}
        self.unfinished = []
        self.truncated = False

    def _add_dir(self, path, parent, blocks):
        self.dir_paths.append(path)
        self.dir_parents.append(parent)
        self.dir_blocks.append(blocks)
        self.dir_files.append(0)
        return len(self.dir_paths) - 1

    def _note_unreadable(self, path):
        if len(self.unreadable) < self.max_unreadable:
            self.unreadable.append(path)

    def scan_root(self, root):
        if self.truncated or self.clock() >= self.deadline:
            self.truncated = True
            self.unfinished.append(root)
            return
        try:
            root_stat = os.stat(root)
        except OSError:
            self._note_unreadable(root)
            return
        inode = (root_stat.st_dev, root_stat.st_ino)
        if inode in self.dirs_by_inode:  # already counted inside an earlier root
            self.root_indexes[root] = self.dirs_by_inode[inode]
            return
        index = self._add_dir(root, -1, root_stat.st_blocks)
        self.dirs_by_inode[inode] = index
        self.root_indexes[root] = index
        pending = [index]
        while pending:
            if self.clock() >= self.deadline:
                self.truncated = True
                self.incomplete_dirs.extend(pending)
                return
            self._scan_dir(pending.pop(), root_stat.st_dev, pending)

    def _scan_dir(self, index, root_device, pending):
        # The hot loop of the whole module. Listing through a directory descriptor makes DirEntry.stat()
        # an fstatat() relative to it, without the kernel resolving the full path again for every entry.
        path = self.dir_paths[index]
        flags = _DIRECTORY_OPEN_FLAGS
        if self.dir_parents[index] >= 0:
            flags |= os.O_NOFOLLOW  # a subdirectory swapped for a symlink since it was listed is not followed
        try:
            dir_fd = os.open(path, flags)
        except OSError:
            self._note_unreadable(path)
            return
        try:
            self._scan_open_dir(index, path, dir_fd, root_device, pending)
        finally:
            os.close(dir_fd)

    def _scan_open_dir(self, index, path, dir_fd, root_device, pending):
        prefix = path if path.endswith("/") else path + "/"
        cross_filesystems = self.cross_filesystems
        dirs_by_inode = self.dirs_by_inode
        seen_hard_links = self.seen_hard_links
        largest_files = self.largest_files
        top_n = self.top_n
        min_log_blocks = self.min_log_blocks
        file_threshold = largest_files[0][0] if len(largest_files) >= top_n else -1
        # One comparison per file decides whether it may be a top file or a reportable log.
        worth_a_look = min(file_threshold, min_log_blocks - 1)
        is_dir = stat.S_ISDIR
        blocks_here = 0
        files_here = 0
        logs_here = {}
        incomplete_listing = False
        try:
            entries = os.scandir(dir_fd)
        except OSError:
            self._note_unreadable(path)
            return
        with entries:
            while True:
                try:
                    batch = list(itertools.islice(entries, _DEADLINE_CHECK_EVERY))
                except OSError:
                    incomplete_listing = True
                    break
                for entry in batch:
                    try:
                        entry_stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # deleted since the directory was listed
                    except OSError:
                        incomplete_listing = True
                        continue
                    if is_dir(entry_stat.st_mode):
                        if entry_stat.st_dev != root_device and not cross_filesystems:
                            continue
                        inode = (entry_stat.st_dev, entry_stat.st_ino)
                        if inode in dirs_by_inode:  # a bind-mount loop or a nested scan root
                            continue
                        child = self._add_dir(prefix + entry.name, index, entry_stat.st_blocks)
                        dirs_by_inode[inode] = child
                        pending.append(child)
                        continue
                    if entry_stat.st_nlink > 1:
                        inode = (entry_stat.st_dev, entry_stat.st_ino)
                        if inode in seen_hard_links:
                            continue
                        seen_hard_links.add(inode)
                    files_here += 1
                    blocks = entry_stat.st_blocks
                    blocks_here += blocks
                    if blocks <= worth_a_look:
                        continue
                    if blocks > file_threshold:
                        if len(largest_files) < top_n:
                            heapq.heappush(largest_files, (blocks, prefix + entry.name))
                        else:
                            heapq.heapreplace(largest_files, (blocks, prefix + entry.name))
                        if len(largest_files) >= top_n:
                            file_threshold = largest_files[0][0]
                            worth_a_look = min(file_threshold, min_log_blocks - 1)
                    if blocks >= min_log_blocks and entry.name.endswith(".log"):
                        logs_here[entry.name] = blocks * 512
                if len(batch) < _DEADLINE_CHECK_EVERY:
                    break
                if self.clock() >= self.deadline:
                    self.truncated = True
                    self.incomplete_dirs.append(index)
                    break
        self.dir_blocks[index] += blocks_here
        self.dir_files[index] += files_here
        if incomplete_listing:
            self._note_unreadable(path)
        if logs_here:
            self._collect_unrotated_logs(path, logs_here)

    def _collect_unrotated_logs(self, path, logs_here):
        try:
            sibling_names = os.listdir(path)
        except OSError:
            return
        for log in find_unrotated_logs(path, logs_here, sibling_names):
            item = (log["size_bytes"], log["path"])
            if len(self.unrotated_logs) < self.top_n:
                heapq.heappush(self.unrotated_logs, item)
            elif item > self.unrotated_logs[0]:
                heapq.heapreplace(self.unrotated_logs, item)

    def result(self, roots, elapsed_seconds):
        subtree_blocks = list(self.dir_blocks)
        subtree_files = list(self.dir_files)
        for index in range(len(subtree_blocks) - 1, 0, -1):
            parent = self.dir_parents[index]
            if parent >= 0:
                subtree_blocks[parent] += subtree_blocks[index]
                subtree_files[parent] += subtree_files[index]
        complete = [True] * len(subtree_blocks)
        for index in self.incomplete_dirs:
            while index >= 0 and complete[index]:
                complete[index] = False
                index = self.dir_parents[index]
        root_summaries = []
        unfinished = list(self.unfinished)
        for root in roots:
            index = self.root_indexes.get(root)
            if index is None:
                continue
            root_summaries.append({"path": root, "size_bytes": subtree_blocks[index] * 512,
                                   "files": subtree_files[index]})
            if not complete[index]:
                unfinished.append(root)
        directories = ((subtree_blocks[index] * 512, self.dir_paths[index])
                       for index in range(len(subtree_blocks)) if self.dir_parents[index] >= 0)
        return {
            "roots": root_summaries,
            "top_dirs": top_entries(directories, self.top_n),
            "top_files": top_entries(((blocks * 512, path) for blocks, path in self.largest_files), self.top_n),
            "unreadable": self.unreadable,
            "truncated": self.truncated,
            "unfinished": sorted(set(unfinished), key=roots.index),
            "elapsed_seconds": round(elapsed_seconds, 2),
            "files_scanned": sum(self.dir_files),
            "unrotated_logs": top_entries(self.unrotated_logs, self.top_n),
        }


def scan_trees(roots, top_n, deadline, cross_filesystems=False, min_log_size=0, max_unreadable=50,
               clock=time.monotonic):
    """Walk directory trees like `du -s` and stop at `deadline` (a `clock()` value).

    roots: absolute directory paths. Sizes are allocated blocks (what du counts), hard links counted
    once, directories' own blocks included; symlinks are not followed. Without cross_filesystems a
    subdirectory on another filesystem is skipped (du -x). A root inside an earlier root is not walked
    twice: its figures come from the first walk. Returns a dict with roots ([{path, size_bytes, files}]),
    top_dirs and top_files ([{path, size_bytes}], top_n largest; top_dirs excludes the roots themselves),
    unreadable (directories that could not be listed, at most max_unreadable), truncated, unfinished
    (roots not fully walked), elapsed_seconds, files_scanned, and unrotated_logs (the top_n largest *.log
    files of at least min_log_size bytes with no rotated copy next to them).
    """
    started = clock()
    scan = _TreeScan(top_n, deadline, cross_filesystems, min_log_size, max_unreadable, clock)
    # Parents before children, so a nested root is found inside its parent's walk.
    for root in sorted(roots):
        scan.scan_root(root)
    return scan.result(roots, clock() - started)
