# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Where the space went: the du-style walk of directory trees (scan_trees(), one or several worker processes,
bounded by a deadline) and the pure rules it applies to names on the way (rotated and unrotated logs, archives
and dumps, container storage, database data directories). Standard library only.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
import os
import re
import stat
import time

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


# Files inside a container engine's storage: a container's image layers and writable layer, and Docker's
# own json logs (capped by Docker's log-opts, not by logrotate). A logrotate entry on such a path is wrong.
_CONTAINER_STORAGE_RE = re.compile(
    r"/(?:overlay2?|aufs|fuse-overlayfs|vfs/dir|btrfs/subvolumes|zfs/graph)/[0-9a-f]{20,}(?:-init)?/"
    r"|/containers/[0-9a-f]{64}/"
    r"|/io\.containerd\.snapshotter\.v1\.[a-z]+/snapshots/")


def is_container_storage(path):
    """True for paths inside Docker/containerd storage (layers, writable layers, container json logs)."""
    return bool(_CONTAINER_STORAGE_RE.search(path.rstrip("/") + "/"))


def find_unrotated_logs(directory, log_sizes, sibling_names):
    """*.log files of one directory that nobody rotates, as [{path, size_bytes}] sorted by size, largest first.

    log_sizes maps the names of the *.log files worth reporting to their sizes; sibling_names lists every
    name in the directory. A log counts as rotated when a rotated copy of it lies next to it. Rotated
    copies themselves (x.1.log next to x.log) and per-day logs (app-2025-01-01.log) are not live logs.
    """
    if is_container_storage(directory):
        return []
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


# Archives and dumps a deploy or a backup leaves behind (disk.stale_archives). A rotated log (x.log.1.gz) is not one.
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".zip", ".7z",
                    ".rar", ".sql", ".sql.gz", ".sql.bz2", ".sql.xz", ".sql.zst", ".dump", ".dump.gz", ".bak",
                    ".backup")
# Smallest archive the scan records (the audit's stale_archive_min_bytes can only be stricter).
MIN_ARCHIVE_BYTES = 1024 * 1024
MAX_ARCHIVES = 2000
# Never listed as stale: database data directories and Docker volumes (their files are live data, whatever the name).
# (Unanchored: Docker's data root and database directories are often moved, e.g. /srv/docker/volumes.)
_DATA_DIR_RE = re.compile(r"/var/lib/(?:postgresql|pgsql|mysql|mariadb|mongodb|redis|containers)(?:/|$)"
                          r"|/docker/volumes(?:/|$)|/(?:pgdata|pg_wal)/")


def is_archive_name(name):
    """Whether a file name looks like an archive or a dump (ARCHIVE_SUFFIXES)."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def is_data_directory(path):
    """Whether ``path`` lies under a database data directory or a Docker volume (never listed as stale)."""
    return bool(_DATA_DIR_RE.search(path)) or is_container_storage(path)


def top_entries(sizes_and_paths, top_n):
    """The top_n largest of (size_bytes, path) pairs as [{path, size_bytes}], largest first, ties by path.

    A path given twice (a directory under two scan roots) is listed once, with its largest size.
    """
    largest_by_path = {}
    for size, path in sizes_and_paths:
        if size > largest_by_path.get(path, -1):
            largest_by_path[path] = size
    largest = heapq.nsmallest(top_n, largest_by_path.items(), key=lambda item: (-item[1], item[0]))
    return [{"path": path, "size_bytes": size} for path, size in largest]


_DEADLINE_CHECK_EVERY = 4096
_DIRECTORY_OPEN_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# With several workers, each root is first walked breadth-first until this many subtrees per worker wait;
# those are then shared out, so one huge subtree cannot leave the other workers idle from the start.
_SUBTREES_PER_WORKER = 8
# How long past the deadline to wait for a worker that has not reported (stuck in a syscall).
_WORKER_GRACE_SECONDS = 5.0

_ScanOptions = collections.namedtuple(
    "_ScanOptions", "top_n deadline cross_filesystems min_log_blocks max_unreadable bind_mounts min_archive_blocks",
    defaults=(-(-MIN_ARCHIVE_BYTES // 512),))


class _TreeWalk:
    """du-style totals of one directory tree, walked within one process.

    Directories get one slot each in discovery order, so a child always comes after its parent and
    subtree totals add up in one backward pass. A walk may leave some of its pending subtrees to other
    processes (_walk_subtree) and fold their summaries back in with merge_subtree().
    """

    def __init__(self, options, device, starts_at_scan_root, dirs_seen=()):
        self.options = options
        self.device = device
        self.starts_at_scan_root = starts_at_scan_root
        self.dir_paths = []
        self.dir_parents = []
        self.dir_blocks = []
        self.dir_files = []
        self.pending = collections.deque()
        self.incomplete_dirs = []
        self.dirs_seen = set(dirs_seen)  # (st_dev, st_ino) of the directories walked already
        self.hard_links = {}        # (st_dev, st_ino) -> blocks, files with more than one link
        self.largest_files = []     # min-heap of (blocks, path, hard link key or None), top_n long at most
        self.unrotated_logs = []    # min-heap of (size_bytes, path), top_n long at most
        self.archives = []          # min-heap of (blocks, path, mtime), MAX_ARCHIVES long at most
        self.subtree_top_dirs = []  # (blocks, path) reported by subtrees walked elsewhere
        self.unreadable = []

    def add_dir(self, path, parent, blocks):
        self.dir_paths.append(path)
        self.dir_parents.append(parent)
        self.dir_blocks.append(blocks)
        self.dir_files.append(0)
        self.pending.append(len(self.dir_paths) - 1)

    def _note_unreadable(self, path):
        if len(self.unreadable) < self.options.max_unreadable:
            self.unreadable.append(path)

    def _keep_largest(self, heap, item):
        if len(heap) < self.options.top_n:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)

    def walk(self, breadth_first=False, stop_at_pending=None):
        """Scan pending directories until none is left, the deadline passes or stop_at_pending wait."""
        take = self.pending.popleft if breadth_first else self.pending.pop
        while self.pending:
            if stop_at_pending is not None and len(self.pending) >= stop_at_pending:
                return
            if time.monotonic() >= self.options.deadline:
                self.incomplete_dirs.extend(self.pending)
                self.pending.clear()
                return
            self._scan_dir(take())

    def _scan_dir(self, index):
        # Listing through a directory descriptor makes DirEntry.stat() an fstatat() relative to it:
        # the kernel does not resolve the full path again for every entry.
        path = self.dir_paths[index]
        flags = _DIRECTORY_OPEN_FLAGS
        if index or not self.starts_at_scan_root:
            flags |= os.O_NOFOLLOW  # a subdirectory swapped for a symlink since it was listed is not followed
        try:
            dir_fd = os.open(path, flags)
        except OSError:
            self._note_unreadable(path)
            return
        try:
            self._scan_open_dir(index, path, dir_fd)
        finally:
            os.close(dir_fd)

    def _scan_open_dir(self, index, path, dir_fd):
        # The hot loop of the module: one lstat per entry (DirEntry caches it), everything else in locals.
        prefix = path if path.endswith("/") else path + "/"
        options = self.options
        cross_filesystems = options.cross_filesystems
        bind_mounts = options.bind_mounts
        device = self.device
        dirs_seen = self.dirs_seen
        hard_links = self.hard_links
        largest_files = self.largest_files
        top_n = options.top_n
        min_log_blocks = options.min_log_blocks
        min_archive_blocks = options.min_archive_blocks
        archives_here = not is_data_directory(prefix)
        file_threshold = largest_files[0][0] if len(largest_files) >= top_n else -1
        # One comparison per file tells whether it may be a top file, a reportable log or an archive.
        worth_a_look = min(file_threshold, min_log_blocks - 1, min_archive_blocks - 1)
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
                        child_path = prefix + entry.name
                        # st_dev alone misses a bind mount of the same filesystem, hence bind_mounts.
                        if not cross_filesystems and (entry_stat.st_dev != device or child_path in bind_mounts):
                            continue
                        inode = (entry_stat.st_dev, entry_stat.st_ino)
                        if inode in dirs_seen:  # a bind-mount loop
                            continue
                        dirs_seen.add(inode)
                        self.add_dir(child_path, index, entry_stat.st_blocks)
                        continue
                    blocks = entry_stat.st_blocks
                    link_key = None
                    if entry_stat.st_nlink > 1:
                        link_key = (entry_stat.st_dev, entry_stat.st_ino)
                        if link_key in hard_links:
                            continue
                        hard_links[link_key] = blocks
                    files_here += 1
                    blocks_here += blocks
                    if blocks <= worth_a_look:
                        continue
                    if blocks > file_threshold:
                        self._keep_largest(largest_files, (blocks, prefix + entry.name, link_key))
                        if len(largest_files) >= top_n:
                            file_threshold = largest_files[0][0]
                            worth_a_look = min(file_threshold, min_log_blocks - 1, min_archive_blocks - 1)
                    if blocks >= min_log_blocks and entry.name.endswith(".log"):
                        logs_here[entry.name] = blocks * 512
                    elif blocks >= min_archive_blocks and archives_here and is_archive_name(entry.name):
                        self._keep_archive((blocks, prefix + entry.name, int(entry_stat.st_mtime)))
                if len(batch) < _DEADLINE_CHECK_EVERY:
                    break
                if time.monotonic() >= options.deadline:
                    self.incomplete_dirs.append(index)
                    break
        self.dir_blocks[index] += blocks_here
        self.dir_files[index] += files_here
        if incomplete_listing:
            self._note_unreadable(path)
        if logs_here:
            self._collect_unrotated_logs(path, logs_here)

    def _keep_archive(self, item):
        if len(self.archives) < MAX_ARCHIVES:
            heapq.heappush(self.archives, item)
        elif item > self.archives[0]:
            heapq.heapreplace(self.archives, item)

    def _collect_unrotated_logs(self, path, logs_here):
        try:
            sibling_names = os.listdir(path)
        except OSError:
            return
        for log in find_unrotated_logs(path, logs_here, sibling_names):
            self._keep_largest(self.unrotated_logs, (log["size_bytes"], log["path"]))

    def subtree_totals(self):
        """(blocks, files, complete) of every directory slot, each covering its whole subtree."""
        blocks = list(self.dir_blocks)
        files = list(self.dir_files)
        for index in range(len(blocks) - 1, 0, -1):
            parent = self.dir_parents[index]
            if parent >= 0:
                blocks[parent] += blocks[index]
                files[parent] += files[index]
        complete = [True] * len(blocks)
        for index in self.incomplete_dirs:
            while index >= 0 and complete[index]:
                complete[index] = False
                index = self.dir_parents[index]
        return blocks, files, complete

    def top_dir_candidates(self, blocks):
        """(blocks, path) of the directories below the start directory, top_n largest."""
        own = ((blocks[index], self.dir_paths[index]) for index in range(1, len(blocks)))
        return heapq.nlargest(self.options.top_n, itertools.chain(own, self.subtree_top_dirs))

    def merge_subtree(self, index, summary):
        """Fold in the summary of directory `index`'s contents as _walk_subtree() returned it."""
        blocks, files = summary["blocks"], summary["files"]
        counted_here = set()
        for link_key, link_blocks in summary["hard_links"].items():
            if link_key in self.hard_links:  # another name of this file was counted already
                counted_here.add(link_key)
                blocks -= link_blocks
                files -= 1
            else:
                self.hard_links[link_key] = link_blocks
        self.dir_blocks[index] += blocks
        self.dir_files[index] += files
        self.subtree_top_dirs.extend(summary["top_dirs"])
        for item in summary["top_files"]:
            if item[2] not in counted_here:
                self._keep_largest(self.largest_files, item)
        for item in summary["unrotated_logs"]:
            self._keep_largest(self.unrotated_logs, item)
        for item in summary["archives"]:
            self._keep_archive(item)
        for path in summary["unreadable"]:
            self._note_unreadable(path)
        if not summary["complete"]:
            self.incomplete_dirs.append(index)


def _walk_subtree(path, device, options, dirs_seen):
    """Walk the contents of directory `path` (its own blocks are counted by the caller); runs in a worker."""
    walk = _TreeWalk(options, device, starts_at_scan_root=False, dirs_seen=dirs_seen)
    walk.add_dir(path, -1, 0)
    walk.walk()
    blocks, files, complete = walk.subtree_totals()
    return {
        "blocks": blocks[0],
        "files": files[0],
        "complete": complete[0],
        "top_dirs": walk.top_dir_candidates(blocks),
        "top_files": walk.largest_files,
        "unrotated_logs": walk.unrotated_logs,
        "archives": walk.archives,
        "unreadable": walk.unreadable,
        "hard_links": walk.hard_links,
    }


def _walk_subtree_batch(batch):
    return [_walk_subtree(*arguments) for arguments in batch]


def _walk_subtrees(arguments, workers, deadline):
    """[_walk_subtree(*args) for args in arguments], computed by `workers` forked processes.

    A worker that has not answered _WORKER_GRACE_SECONDS after the deadline is stuck in a system call
    (a hung network filesystem): its subtrees and the ones after them get None.
    """
    # Every message to or from a worker costs the parent about a millisecond of CPU: send batches.
    batch_size = max(1, len(arguments) // (workers * _SUBTREES_PER_WORKER))
    batches = [arguments[start:start + batch_size] for start in range(0, len(arguments), batch_size)]
    try:
        import multiprocessing
        # fork: the workers have this module imported already, so the task function pickles by name.
        pool = multiprocessing.get_context("fork").Pool(min(workers, len(batches)))
    except (ImportError, OSError, ValueError):  # no fork, or no /dev/shm for the pool's semaphores
        return [_walk_subtree(*args) for args in arguments]
    summaries = []
    give_up_at = deadline + _WORKER_GRACE_SECONDS
    with pool:
        results = pool.imap(_walk_subtree_batch, batches)
        for _batch in batches:
            timeout = max(0.0, give_up_at - time.monotonic()) if give_up_at < math.inf else None
            try:
                summaries.extend(results.next(timeout))
            except multiprocessing.TimeoutError:
                break
    return summaries + [None] * (len(arguments) - len(summaries))


def scan_trees(roots, top_n, deadline, cross_filesystems=False, min_log_size=0, max_unreadable=50,
               bind_mounts=(), workers=1):
    """Measure directory trees like `du -s`, one root at a time, and stop at `deadline` (time.monotonic()).

    roots: absolute directory paths. Sizes are allocated blocks (what du counts), directories' own blocks
    included, hard links counted once per root, symlinks not followed. Without cross_filesystems the walk
    stays on each root's filesystem (du -x) and does not enter the `bind_mounts` paths either (see
    bind_mount_points()). Each root is measured on its own: a root inside another one is walked twice.
    With `workers` > 1 each root is walked breadth-first until enough subtrees wait, and those are shared
    out among that many forked processes.

    Returns a dict: roots ([{path, size_bytes, files}] of the roots walked), top_dirs and top_files
    ([{path, size_bytes}], the top_n largest; top_dirs leaves out the roots themselves), unreadable
    (directories that could not be listed, at most max_unreadable), truncated, unfinished (roots not
    fully walked before the deadline), elapsed_seconds, files_scanned, and unrotated_logs (the top_n
    largest *.log files of at least min_log_size bytes with no rotated copy next to them) and archives ([{path,
    size_bytes, mtime}] of the archive and dump files of MIN_ARCHIVE_BYTES or more, outside data directories).
    """
    started = time.monotonic()
    roots = list(dict.fromkeys(roots))
    options = _ScanOptions(top_n, deadline, cross_filesystems, -(-min_log_size // 512), max_unreadable,
                           frozenset(bind_mounts), -(-MIN_ARCHIVE_BYTES // 512))
    walks = {}
    unreadable = []
    subtrees = []  # (walk, directory index) left to the workers, and the _walk_subtree() arguments for each
    subtree_arguments = []
    for root in roots:
        if time.monotonic() >= deadline:
            break
        try:
            root_stat = os.stat(root)
        except OSError:
            unreadable.append(root)
            continue
        walk = walks[root] = _TreeWalk(options, root_stat.st_dev, starts_at_scan_root=True,
                                       dirs_seen=[(root_stat.st_dev, root_stat.st_ino)])
        walk.add_dir(root, -1, root_stat.st_blocks)
        if workers > 1:
            walk.walk(breadth_first=True, stop_at_pending=workers * _SUBTREES_PER_WORKER)
            dirs_seen = frozenset(walk.dirs_seen)
            for index in walk.pending:
                subtrees.append((walk, index))
                subtree_arguments.append((walk.dir_paths[index], walk.device, options, dirs_seen))
            walk.pending.clear()
        else:
            walk.walk()
    if subtrees:
        for (walk, index), summary in zip(subtrees, _walk_subtrees(subtree_arguments, workers, deadline)):
            if summary is None:
                walk.incomplete_dirs.append(index)
            else:
                walk.merge_subtree(index, summary)

    root_summaries, unfinished = [], []
    dir_candidates, file_candidates, log_candidates, archives = [], [], [], {}
    for root in roots:
        walk = walks.get(root)
        if walk is None:
            if root not in unreadable:
                unfinished.append(root)  # the budget ran out before its turn
            continue
        blocks, files, complete = walk.subtree_totals()
        root_summaries.append({"path": root, "size_bytes": blocks[0] * 512, "files": files[0]})
        if not complete[0]:
            unfinished.append(root)
        dir_candidates.extend((size * 512, path) for size, path in walk.top_dir_candidates(blocks))
        file_candidates.extend((size * 512, path) for size, path, _link_key in walk.largest_files)
        log_candidates.extend(walk.unrotated_logs)
        for blocks, path, mtime in walk.archives:
            archives[path] = {"path": path, "size_bytes": blocks * 512, "mtime": mtime}
        unreadable.extend(walk.unreadable)
    return {
        "roots": root_summaries,
        "top_dirs": top_entries(dir_candidates, top_n),
        "top_files": top_entries(file_candidates, top_n),
        "unreadable": unreadable[:max_unreadable],
        "truncated": bool(unfinished),
        "unfinished": unfinished,
        "elapsed_seconds": round(time.monotonic() - started, 2),
        "files_scanned": sum(summary["files"] for summary in root_summaries),
        "unrotated_logs": top_entries(log_candidates, top_n),
        "archives": sorted(archives.values(), key=lambda item: (-item["size_bytes"], item["path"]))[:MAX_ARCHIVES],
    }
