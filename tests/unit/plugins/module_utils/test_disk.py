# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _disk, _disk_scan
from ansible_collections.hostcare.vps.plugins.module_utils._disk import (
    bind_mount_points,
    filesystem_usage,
    full_filesystem_mounts,
    gather_disk_facts,
    is_real_filesystem,
    parse_mountinfo,
    probe_mount_points,
    select_real_filesystems,
)
from ansible_collections.hostcare.vps.plugins.module_utils._disk_scan import (
    find_unrotated_logs,
    is_container_storage,
    is_data_directory,
    rotated_log_base,
    scan_trees,
    top_entries,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "disk")
# Docker bind-mounts these files into every container.
FILE_MOUNTS = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
NO_DEADLINE = float("inf")


def _fixture_text(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def _mounts(name):
    return parse_mountinfo(_fixture_text(name))


def _is_directory(path):
    return path not in FILE_MOUNTS


def _statvfs(blocks, bfree, bavail, files, ffree, frsize=4096):
    return os.statvfs_result((frsize, frsize, blocks, bfree, bavail, files, ffree, ffree, 4096, 255))


def _write(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(b"x" * size)


def _du_bytes(path, *options):
    output = subprocess.run(["du", "-s", "-x", "-B1", *options, path], check=True, capture_output=True, text=True).stdout
    return int(output.split()[0])


def _disk_usage(path):
    return os.lstat(path).st_blocks * 512


# --- /proc/self/mountinfo -------------------------------------------------------------------------

def test_parse_mountinfo_fields():
    mounts = _mounts("vps_docker_host.mountinfo")
    assert mounts[5] == {
        "mount_id": 29, "parent_id": 1, "device_number": "252:1", "root": "/", "mount": "/",
        "fstype": "ext4", "device": "/dev/vda1", "super_options": "rw,discard,errors=remount-ro,commit=30",
    }
    assert len(mounts) == 34


def test_parse_mountinfo_decodes_octal_escapes_and_bind_roots():
    by_mount = {mount["mount"]: mount for mount in _mounts("vps_docker_host.mountinfo")}
    assert by_mount["/mnt/backup disk"]["device"] == "/dev/sdc"
    assert by_mount["/var/www"]["root"] == "/www"


def test_parse_mountinfo_with_no_optional_fields_and_several():
    text = ("113 112 0:53 / /proc rw,nosuid - proc proc rw\n"
            "134 112 254:0 /vol/_data /data rw,relatime shared:2 master:1 - ext4 /dev/vda rw\n")
    assert [(mount["mount"], mount["fstype"], mount["device"], mount["root"]) for mount in parse_mountinfo(text)] == [
        ("/proc", "proc", "proc", "/"), ("/data", "ext4", "/dev/vda", "/vol/_data")]


@pytest.mark.parametrize("text", ["", "\n", "garbage", "1 2 3:4 / /x rw no-separator", "x y 8:1 / / rw - ext4 /dev/sda rw",
                                  "1 2 8:1 / / rw -"])
def test_parse_mountinfo_skips_malformed_lines(text):
    assert parse_mountinfo(text) == []


@pytest.mark.parametrize("fstype, mount, expected", [
    ("ext4", "/", True),
    ("xfs", "/data", True),
    ("btrfs", "/home", True),
    ("vfat", "/boot/efi", True),
    ("nfs4", "/mnt/nfs", True),
    ("overlay", "/", True),
    ("overlay", "/var/lib/docker/overlay2/abc/merged", False),
    ("fuse.fuse-overlayfs", "/home/u/.local/share/containers/storage/overlay/abc/merged", False),
    ("tmpfs", "/run", False),
    ("squashfs", "/snap/core22/1621", False),
    ("fuse.lxcfs", "/var/lib/lxcfs", False),
    ("nsfs", "/run/docker/netns/x", False),
    ("cgroup2", "/sys/fs/cgroup", False),
    ("iso9660", "/mnt/config-drive", False),
])
def test_is_real_filesystem(fstype, mount, expected):
    assert is_real_filesystem({"fstype": fstype, "mount": mount}) is expected


@pytest.mark.parametrize("fixture, expected", [
    ("vps_docker_host.mountinfo", [  # /dev/sdb is mounted at /mnt/volume_data and /data, and its /www at /var/www
        ("/", "/dev/vda1", "ext4"), ("/boot", "/dev/vda16", "ext4"), ("/boot/efi", "/dev/vda15", "vfat"),
        ("/data", "/dev/sdb", "ext4"), ("/mnt/backup disk", "/dev/sdc", "xfs")]),
    ("sandbox_docker_host.mountinfo", [  # /var/lib/docker is bound onto itself; one container runs
        ("/", "/dev/vda", "ext4"), ("/var/tmp/hostcare-molecule-audit/mnt", "/dev/loop0", "ext4")]),
    ("docker_container.mountinfo", [  # the bind-mounted dirs and volume all live on the host's /dev/vda
        ("/", "overlay", "overlay"), ("/work/main", "/dev/vda", "ext4")]),
    ("fedora_btrfs_host.mountinfo", [  # subvolumes root, home and var/lib/machines share 0:35
        ("/", "/dev/vda3", "btrfs"), ("/boot", "/dev/vda2", "ext4"), ("/boot/efi", "/dev/vda1", "vfat")]),
    ("centos7_no_psi.mountinfo", [
        ("/", "/dev/mapper/centos-root", "xfs"), ("/boot", "/dev/vda1", "xfs"), ("/mnt/nfs", "10.0.0.5:/export/shared", "nfs4")]),
])
def test_select_real_filesystems(fixture, expected):
    selected = select_real_filesystems(_mounts(fixture), _is_directory)
    assert [(mount["mount"], mount["device"], mount["fstype"]) for mount in selected] == expected


def test_select_real_filesystems_skips_bind_mounted_files_in_a_container():
    # Without volumes, the container's only host-disk mounts are /etc/hosts & co: files, not filesystems.
    mounts = [mount for mount in _mounts("docker_container.mountinfo")
              if mount["mount"] not in ("/srv/data", "/work/main", "/var/lib/postgresql/data")]
    assert [mount["mount"] for mount in select_real_filesystems(mounts, _is_directory)] == ["/"]
    assert [mount["mount"] for mount in select_real_filesystems(mounts, lambda path: True)] == ["/", "/etc/hosts"]


@pytest.mark.parametrize("fixture, expected", [
    ("vps_docker_host.mountinfo", ["/var/www"]),
    ("sandbox_docker_host.mountinfo", []),  # bound onto itself: nothing else shows that directory
    ("fedora_btrfs_host.mountinfo", ["/", "/var/lib/machines"]),
])
def test_bind_mount_points(fixture, expected):
    assert bind_mount_points(_mounts(fixture)) == expected


# --- statvfs -> usage -------------------------------------------------------------------------------

def _df_fields(df_output):
    return df_output.splitlines()[1].split()


def test_filesystem_usage_matches_recorded_df():
    recorded = json.loads(_fixture_text("ext4_statvfs_df.json"))
    usage = filesystem_usage(os.statvfs_result(tuple(recorded["statvfs"][key] for key in (
        "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail", "f_flag", "f_namemax"))))
    size, used, available, use = _df_fields(recorded["df_B1"])[1:5]
    inodes, inodes_used, _inodes_free, inode_use = _df_fields(recorded["df_i"])[1:5]
    assert (usage["size_bytes"], usage["used_bytes"], usage["available_bytes"]) == (int(size), int(used), int(available))
    assert usage["size_bytes"] > usage["used_bytes"] + usage["available_bytes"]  # 5% reserved for root
    assert usage["use_percent"] == 40.4 and math.ceil(usage["use_percent"]) == int(use.rstrip("%"))
    assert (usage["inodes_total"], usage["inodes_used"]) == (int(inodes), int(inodes_used))
    assert usage["inode_use_percent"] == 1.9 and math.ceil(usage["inode_use_percent"]) == int(inode_use.rstrip("%"))


def test_filesystem_usage_without_inode_table():
    usage = filesystem_usage(_statvfs(blocks=1000, bfree=400, bavail=400, files=0, ffree=0))
    assert usage == {"size_bytes": 4096000, "used_bytes": 2457600, "available_bytes": 1638400, "use_percent": 60.0,
                     "inodes_total": None, "inodes_used": None, "inode_use_percent": None}


def test_filesystem_usage_of_an_empty_filesystem_and_of_none():
    assert filesystem_usage(_statvfs(blocks=0, bfree=0, bavail=0, files=10, ffree=10))["use_percent"] is None
    assert set(filesystem_usage(None).values()) == {None}


def test_probe_mount_points(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    probes = probe_mount_points(["/", str(a_file), str(tmp_path / "missing")], timeout=5)
    assert probes["/"][0] is True and probes["/"][1].f_blocks > 0
    assert probes[str(a_file)][0] is False
    assert probes[str(tmp_path / "missing")] == (False, None)


def test_probe_mount_points_gives_up_on_a_mount_that_does_not_answer(tmp_path, monkeypatch):
    release = threading.Event()
    real_statvfs = os.statvfs

    def hanging_statvfs(path):
        if path == str(tmp_path):
            release.wait(30)  # like a dead NFS server
        return real_statvfs(path)

    monkeypatch.setattr(os, "statvfs", hanging_statvfs)
    started = time.monotonic()
    try:
        probes = probe_mount_points(["/", str(tmp_path)], timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert str(tmp_path) not in probes and probes["/"][0] is True


# --- logs nobody rotates ----------------------------------------------------------------------------

@pytest.mark.parametrize("names, expected", [
    (["app.log"], ["app.log"]),
    (["app.log", "app.log.1"], []),
    (["app.log", "app.log.1.gz"], []),
    (["app.log", "app.log.3.bz2"], []),
    (["app.log", "app.log.1.zst"], []),
    (["app.log", "app.log-20250101"], []),          # logrotate dateext
    (["app.log", "app.log-20250101.gz"], []),
    (["app.log", "app.log-2025010113"], []),        # dateext, hourly
    (["app.log", "app.log-1735689600.gz"], []),     # dateformat -%s
    (["app.log", "app.log.2025-01-01"], []),        # TimedRotatingFileHandler, Rails, Puma
    (["app.log", "app.log.2025-01-01_13-00-00"], []),
    (["app.log", "app.log.old"], []),
    (["app.log", "app.1.log"], []),                 # logrotate `extension .log`
    (["app.log", "app-20250101.log.gz"], []),
    (["access.log", "error.log", "error.log.1"], ["access.log"]),
    (["app.log", "myapp.log.1"], ["app.log"]),      # someone else's rotation
    (["app.log", "app.log.bak"], ["app.log"]),      # a backup copy is not rotation
    (["app.log", "app.log.gz"], ["app.log"]),       # neither is one compressed copy
    (["app.1.log"], ["app.1.log"]),                 # no app.log: app.1.log is the live log
    (["laravel-2025-01-01.log"], []),               # one file per day stops growing
    (["php8.2-fpm.log"], ["php8.2-fpm.log"]),
])
def test_find_unrotated_logs(names, expected):
    log_sizes = {name: 1000 for name in names if name.endswith(".log")}
    found = find_unrotated_logs("/var/log/app", log_sizes, names)
    assert [os.path.basename(log["path"]) for log in found] == expected


def test_find_unrotated_logs_reports_paths_and_sizes_largest_first():
    found = find_unrotated_logs("/srv/app/log", {"small.log": 10, "big.log": 5000}, ["small.log", "big.log", "notes.txt"])
    assert found == [{"path": "/srv/app/log/big.log", "size_bytes": 5000}, {"path": "/srv/app/log/small.log", "size_bytes": 10}]


@pytest.mark.parametrize("name, expected", [
    ("app.log.1", "app.log"), ("app.log-20250101.gz", "app.log"), ("app.2.log", "app.log"),
    ("my-app-20250101.log", "my-app.log"), ("app.log", None), ("notes.txt", None),
])
def test_rotated_log_base(name, expected):
    assert rotated_log_base(name) == expected


def test_top_entries_orders_by_size_then_path_and_lists_a_path_once():
    pairs = [(10, "/b"), (30, "/c"), (10, "/a"), (20, "/c"), (5, "/d")]
    assert top_entries(pairs, 3) == [
        {"path": "/c", "size_bytes": 30}, {"path": "/a", "size_bytes": 10}, {"path": "/b", "size_bytes": 10}]


# --- scanning real trees ----------------------------------------------------------------------------

def _build_tree(root):
    """A tree with distinct sizes at the top, hard links inside and across subtrees, a symlink, a sparse file."""
    _write(f"{root}/a/big.bin", 300_000)
    _write(f"{root}/a/sub/deep.bin", 50_000)
    for number in range(10):
        _write(f"{root}/c/small{number}.txt", 100)
    _write(f"{root}/b/linked.bin", 20_000)
    os.link(f"{root}/b/linked.bin", f"{root}/c/linked-again.bin")
    _write(f"{root}/logs/app.log", 20_000)
    _write(f"{root}/logs/rotated.log", 20_000)
    _write(f"{root}/logs/rotated.log.1", 20_000)
    _write(f"{root}/logs/tiny.log", 10)
    os.symlink("/usr", f"{root}/usr-link")
    with open(f"{root}/sparse.bin", "wb") as handle:
        handle.truncate(50_000_000)
    # 20 subdirectories make sure that with 2 workers these become subtrees walked by the workers.
    for number in range(20):
        _write(f"{root}/many/d{number:02d}/f.bin", (number + 1) * 8192)
    _write(f"{root}/many/d00/shared.bin", 12_000)
    os.link(f"{root}/many/d00/shared.bin", f"{root}/many/d01/shared-link.bin")


@pytest.fixture(name="tree")
def tree_fixture(tmp_path):
    root = str(tmp_path / "tree")
    _build_tree(root)
    return root


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_matches_du_and_counts_hard_links_once(tree, workers):
    scan = scan_trees([tree], top_n=3, deadline=time.monotonic() + 60, workers=workers)
    assert scan["roots"] == [{"path": tree, "size_bytes": _du_bytes(tree), "files": 40}]
    assert scan["files_scanned"] == 40
    assert scan["top_dirs"] == [
        {"path": f"{tree}/many", "size_bytes": _du_bytes(f"{tree}/many")},
        {"path": f"{tree}/a", "size_bytes": _du_bytes(f"{tree}/a")},
        {"path": f"{tree}/many/d19", "size_bytes": _du_bytes(f"{tree}/many/d19")},
    ]
    assert scan["top_files"] == [
        {"path": f"{tree}/a/big.bin", "size_bytes": _disk_usage(f"{tree}/a/big.bin")},
        {"path": f"{tree}/many/d19/f.bin", "size_bytes": 163840},
        {"path": f"{tree}/many/d18/f.bin", "size_bytes": 155648},
    ]
    assert (scan["truncated"], scan["unfinished"], scan["unreadable"]) == (False, [], [])


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_lists_a_hard_linked_big_file_once(tmp_path, workers):
    root = str(tmp_path)
    for number in range(20):
        _write(f"{root}/d{number:02d}/f.bin", 4096)
    _write(f"{root}/d03/big.bin", 1_000_000)
    os.link(f"{root}/d03/big.bin", f"{root}/d07/big-link.bin")
    scan = scan_trees([root], top_n=2, deadline=time.monotonic() + 60, workers=workers)
    assert scan["top_files"][0]["path"] in (f"{root}/d03/big.bin", f"{root}/d07/big-link.bin")
    assert scan["top_files"][1]["size_bytes"] == 4096
    assert scan["roots"][0]["size_bytes"] == _du_bytes(root)


def test_scan_follows_a_symlinked_root_but_no_symlink_below(tree, tmp_path):
    link = str(tmp_path / "link-to-tree")
    os.symlink(tree, link)
    scan = scan_trees([link], top_n=1, deadline=NO_DEADLINE)
    assert scan["roots"] == [{"path": link, "size_bytes": _du_bytes(tree), "files": 40}]
    assert scan["top_dirs"][0]["path"] == f"{link}/many"


def test_scan_measures_each_root_on_its_own(tree):
    scan = scan_trees([tree, f"{tree}/a", tree], top_n=50, deadline=NO_DEADLINE)
    assert scan["roots"] == [
        {"path": tree, "size_bytes": _du_bytes(tree), "files": 40},
        {"path": f"{tree}/a", "size_bytes": _du_bytes(f"{tree}/a"), "files": 2},
    ]
    listed = [entry["path"] for entry in scan["top_dirs"]]
    assert len(listed) == len(set(listed)) and f"{tree}/a/sub" in listed and f"{tree}/a" in listed


def test_scan_reports_unrotated_logs_above_min_log_size(tree):
    scan = scan_trees([tree], top_n=10, deadline=NO_DEADLINE, min_log_size=8192)
    assert scan["unrotated_logs"] == [{"path": f"{tree}/logs/app.log", "size_bytes": _disk_usage(f"{tree}/logs/app.log")}]
    scan = scan_trees([tree], top_n=10, deadline=NO_DEADLINE, min_log_size=0)
    assert [log["path"] for log in scan["unrotated_logs"]] == [f"{tree}/logs/app.log", f"{tree}/logs/tiny.log"]


def test_scan_of_a_missing_root_lists_it_as_unreadable(tmp_path):
    missing = str(tmp_path / "gone")
    scan = scan_trees([missing], top_n=3, deadline=NO_DEADLINE)
    assert (scan["roots"], scan["unreadable"], scan["truncated"]) == ([], [missing], False)


def _scan_as_nobody(roots, **options):
    """scan_trees() in a forked child that dropped root: chmod 000 does not stop root itself."""
    nobody = pwd.getpwnam("nobody")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            os.close(read_end)
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            outcome = scan_trees(roots, **options)
        except BaseException as error:  # pylint: disable=broad-except  # report anything to the parent
            outcome = {"error": repr(error)}
        with os.fdopen(write_end, "w") as pipe:
            json.dump(outcome, pipe)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        outcome = json.load(pipe)
    os.waitpid(pid, 0)
    return outcome


@pytest.fixture(name="world_readable_dir")
def world_readable_dir_fixture():
    # pytest's tmp_path lives in a 0700 directory that nobody cannot enter.
    path = tempfile.mkdtemp(prefix="hostcare-disk-test-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        for dirpath, _dirnames, _filenames in os.walk(path):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(path)


@pytest.mark.parametrize("max_unreadable, listed", [(50, 2), (1, 1), (0, 0)])
def test_scan_lists_unreadable_directories_and_goes_on(world_readable_dir, max_unreadable, listed):
    root = world_readable_dir
    _write(f"{root}/open/file.bin", 8192)
    _write(f"{root}/locked-a/secret.bin", 100_000)
    _write(f"{root}/open/locked-b/secret.bin", 100_000)
    for path in (f"{root}/open", f"{root}/open/file.bin"):
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    os.chmod(f"{root}/locked-a", 0)
    os.chmod(f"{root}/open/locked-b", 0)
    options = {"top_n": 3, "deadline": time.monotonic() + 60, "max_unreadable": max_unreadable}
    scan = _scan_as_nobody([root], **options) if os.geteuid() == 0 else scan_trees([root], **options)
    assert "error" not in scan, scan
    assert len(scan["unreadable"]) == listed
    assert set(scan["unreadable"]) <= {f"{root}/locked-a", f"{root}/open/locked-b"}
    assert scan["roots"][0]["files"] == 1
    assert scan["top_files"] == [{"path": f"{root}/open/file.bin", "size_bytes": 8192}]
    assert scan["truncated"] is False


def test_scan_with_the_deadline_passed_returns_at_once(tree, tmp_path):
    started = time.monotonic()
    scan = scan_trees([tree, str(tmp_path)], top_n=3, deadline=started - 1, workers=2)
    assert time.monotonic() - started < 1
    assert (scan["truncated"], scan["unfinished"], scan["roots"], scan["top_files"]) == (True, [tree, str(tmp_path)], [], [])


class _ClockPassingDeadline:
    """time.monotonic() stand-in: the deadline passes once `caller` has asked `calls_before_deadline` times."""

    def __init__(self, caller, calls_before_deadline):
        self.caller = caller
        self.calls_left = calls_before_deadline

    def __call__(self):
        if sys._getframe(1).f_code.co_name == self.caller:  # pylint: disable=protected-access
            self.calls_left -= 1
        return 100.0 if self.calls_left < 0 else 0.0


def test_scan_stops_between_directories_and_reports_partial_roots(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(_disk_scan.time, "monotonic", _ClockPassingDeadline("walk", calls_before_deadline=3))
    scan = scan_trees([tree, str(tmp_path / "second")], top_n=3, deadline=50.0)
    assert scan["truncated"] is True
    assert scan["unfinished"] == [tree, str(tmp_path / "second")]
    assert [root["path"] for root in scan["roots"]] == [tree]  # the second root never started
    assert 0 < scan["roots"][0]["size_bytes"] < _du_bytes(tree)


def test_scan_stops_inside_a_huge_directory(tmp_path, monkeypatch):
    for number in range(25):
        (tmp_path / f"f{number}").write_bytes(b"x")
    monkeypatch.setattr(_disk_scan, "_DEADLINE_CHECK_EVERY", 10)
    monkeypatch.setattr(_disk_scan.time, "monotonic", _ClockPassingDeadline("_scan_open_dir", calls_before_deadline=0))
    scan = scan_trees([str(tmp_path)], top_n=3, deadline=50.0)
    assert (scan["truncated"], scan["unfinished"], scan["files_scanned"]) == (True, [str(tmp_path)], 10)


def test_scan_gives_up_on_a_worker_stuck_in_a_system_call(tree, monkeypatch):
    real_walk_subtree = _disk_scan._walk_subtree  # pylint: disable=protected-access

    def walk_subtree_stuck_on_d05(path, *args):
        if path.endswith("/d05"):
            time.sleep(60)  # the forked worker inherits this patch
        return real_walk_subtree(path, *args)

    monkeypatch.setattr(_disk_scan, "_walk_subtree", walk_subtree_stuck_on_d05)
    monkeypatch.setattr(_disk_scan, "_WORKER_GRACE_SECONDS", 0.5)
    started = time.monotonic()
    scan = scan_trees([tree], top_n=3, deadline=started + 0.5, workers=2)
    assert time.monotonic() - started < 5
    assert (scan["truncated"], scan["unfinished"]) == (True, [tree])


def test_scan_walks_the_subtrees_itself_when_no_worker_can_be_started(tree, monkeypatch):
    def no_pool(_method):
        raise OSError(38, "Function not implemented")  # what a missing /dev/shm or fork looks like

    monkeypatch.setattr(multiprocessing, "get_context", no_pool)
    scan = scan_trees([tree], top_n=1, deadline=NO_DEADLINE, workers=2)
    assert scan["roots"] == [{"path": tree, "size_bytes": _du_bytes(tree), "files": 40}]


def test_walk_subtree_past_its_deadline_reports_incomplete(tree):
    options = _disk_scan._ScanOptions(3, time.monotonic() - 1, False, 0, 50, frozenset())  # pylint: disable=protected-access
    summary = _disk_scan._walk_subtree(tree, os.stat(tree).st_dev, options, ())  # pylint: disable=protected-access
    assert (summary["complete"], summary["blocks"], summary["files"]) == (False, 0, 0)


def _mount(*arguments):
    result = subprocess.run(["mount", *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"mount {' '.join(arguments)} is not permitted here: {result.stderr.strip()}")


def test_scan_stays_on_one_filesystem_unless_asked(tree):
    inner = f"{tree}/a/tmpfs"
    os.mkdir(inner)
    _mount("-t", "tmpfs", "-o", "size=8m", "hostcare-disk-test", inner)
    try:
        _write(f"{inner}/inside.bin", 500_000)
        one_filesystem = scan_trees([tree], top_n=1, deadline=NO_DEADLINE)
        assert one_filesystem["roots"][0]["size_bytes"] == _du_bytes(tree)
        assert one_filesystem["top_files"][0]["path"] == f"{tree}/a/big.bin"
        crossing = scan_trees([tree], top_n=1, deadline=NO_DEADLINE, cross_filesystems=True)
        assert crossing["roots"][0]["size_bytes"] == _du_bytes(tree) + _du_bytes(inner)
        assert crossing["top_files"][0]["path"] == f"{inner}/inside.bin"
        # statvfs figures as df computes them, on a filesystem nobody else writes to
        size, used, available = _df_fields(subprocess.run(
            ["df", "-B1", "--output=size,used,avail", inner], check=True, capture_output=True, text=True).stdout)
        usage = filesystem_usage(os.statvfs(inner))
        assert (usage["size_bytes"], usage["used_bytes"], usage["available_bytes"]) == (int(size), int(used), int(available))
    finally:
        subprocess.run(["umount", inner], check=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_does_not_enter_a_bind_mount_of_the_same_filesystem(tree, workers):
    alias = f"{tree}/many/d19-alias"
    os.mkdir(alias)
    _mount("--bind", f"{tree}/a", alias)
    try:
        expected = _du_bytes(tree, "--exclude=d19-alias")  # du -x would count the files under it twice
        scan = scan_trees([tree], top_n=50, deadline=NO_DEADLINE, bind_mounts=[alias], workers=workers)
        assert scan["roots"][0]["size_bytes"] == expected
        assert not [entry for entry in scan["top_dirs"] + scan["top_files"] if entry["path"].startswith(alias + "/")]
    finally:
        subprocess.run(["umount", alias], check=True)


# --- gather_disk_facts ------------------------------------------------------------------------------

def _fake_probes(paths, timeout):
    assert timeout > 0
    return {path: (path not in FILE_MOUNTS, _statvfs(blocks=1000, bfree=400, bavail=350, files=100, ffree=60))
            for path in paths if path != "/mnt/nfs"}  # the NFS server is down


@pytest.fixture(name="recorded_host")
def recorded_host_fixture(tmp_path, monkeypatch):
    """gather_disk_facts() reading fixtures instead of /proc and a temporary journal and apt cache."""
    _write(f"{tmp_path}/journal/0123/system.journal", 65536)
    _write(f"{tmp_path}/apt/archives/pkg.deb", 8192)
    monkeypatch.setattr(_disk, "PROC_PRESSURE_IO", os.path.join(FIXTURES, "pressure_io"))
    monkeypatch.setattr(_disk, "JOURNAL_DIRS", (f"{tmp_path}/journal", f"{tmp_path}/run-journal"))
    monkeypatch.setattr(_disk, "APT_ARCHIVES_DIR", f"{tmp_path}/apt/archives")
    monkeypatch.setattr(_disk, "probe_mount_points", _fake_probes)

    def use_mountinfo(name):
        monkeypatch.setattr(_disk, "PROC_MOUNTINFO", os.path.join(FIXTURES, name))
    return use_mountinfo


def _gather(scan_paths, **overrides):
    options = {"scan_paths": scan_paths, "missing_paths": ["/srv"], "top_n": 2, "time_budget": 10,
               "cross_filesystems": False, "min_log_size": 8192, "max_unreadable": 50, "skip_scan": False}
    options.update(overrides)
    return gather_disk_facts(**options)


def test_gather_disk_facts_of_a_docker_host(recorded_host, tree, tmp_path):
    recorded_host("vps_docker_host.mountinfo")
    facts = _gather([tree])
    assert [fs["mount"] for fs in facts["filesystems"]] == ["/", "/boot", "/boot/efi", "/data", "/mnt/backup disk"]
    assert facts["filesystems"][0] == {
        "mount": "/", "device": "/dev/vda1", "fstype": "ext4", "size_bytes": 4096000, "used_bytes": 2457600,
        "available_bytes": 1433600, "use_percent": 63.2, "inodes_total": 100, "inodes_used": 40, "inode_use_percent": 40.0}
    assert facts["psi_io"]["some"] == {"avg10": 0.1, "avg60": 0.2, "avg300": 1.4, "total_us": 38005580}
    assert facts["journal"] == {"paths": [f"{tmp_path}/journal"], "size_bytes": _du_bytes(f"{tmp_path}/journal")}
    assert facts["apt_cache"] == {"path": f"{tmp_path}/apt/archives", "size_bytes": _du_bytes(f"{tmp_path}/apt/archives")}
    assert facts["scan"]["paths"] == [tree] and facts["scan"]["missing_paths"] == ["/srv"]
    assert facts["scan"]["roots"][0]["size_bytes"] == _du_bytes(tree)
    assert facts["unrotated_logs"] == [{"path": f"{tree}/logs/app.log", "size_bytes": _disk_usage(f"{tree}/logs/app.log")}]
    assert "unrotated_logs" not in facts["scan"]


def test_gather_disk_facts_of_an_old_kernel_with_a_dead_nfs_server(recorded_host, tree, monkeypatch, tmp_path):
    recorded_host("centos7_no_psi.mountinfo")
    monkeypatch.setattr(_disk, "PROC_PRESSURE_IO", str(tmp_path / "no-such-file"))
    monkeypatch.setattr(_disk, "APT_ARCHIVES_DIR", str(tmp_path / "no-apt"))
    facts = _gather([tree])
    assert facts["psi_io"] is None and facts["apt_cache"] is None
    nfs = facts["filesystems"][-1]
    assert (nfs["mount"], nfs["fstype"], nfs["size_bytes"], nfs["use_percent"]) == ("/mnt/nfs", "nfs4", None, None)


def test_gather_disk_facts_without_mountinfo_or_journal(recorded_host, monkeypatch, tmp_path):
    recorded_host("no-such-mountinfo")
    monkeypatch.setattr(_disk, "JOURNAL_DIRS", (str(tmp_path / "none"),))
    facts = _gather([], skip_scan=True)
    assert (facts["filesystems"], facts["journal"], facts["scan"], facts["unrotated_logs"]) == (None, None, None, None)
    assert facts["apt_cache"]["size_bytes"] == 12288


@pytest.mark.parametrize("directory, expected", [
    ("/var/lib/docker/overlay2/f16da5c42483ef9f20b9464c6b303d8a4ba58fc16c3e744963f39b996b86fbe3/diff/var/www/app/log", True),
    ("/var/lib/docker/overlay2/f16da5c42483ef9f20b9464c6b303d8a4ba58fc16c3e744963f39b996b86fbe3-init/diff/var/log", True),
    ("/srv/docker/overlay2/0123456789abcdef0123456789abcdef/merged/var/log", True),
    ("/var/lib/docker/containers/" + "a" * 64, True),
    ("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/12/fs/var/log", True),
    # A named volume holds the app's own files: its logs can and should be rotated from the host.
    ("/var/lib/docker/volumes/app_logs/_data", False),
    ("/var/www/app/log", False),
    ("/home/deploy/overlay2/notes", False),
])
def test_logs_in_container_storage_are_not_reported(directory, expected):
    assert is_container_storage(directory) is expected
    logs = find_unrotated_logs(directory, {"production.log": 80 << 20}, ["production.log"])
    assert (logs == []) is expected


FULL_AND_EMPTY = [
    {"mount": "/", "use_percent": 91.0},
    {"mount": "/srv/data", "use_percent": 93.0},
    {"mount": "/var/lib/docker", "use_percent": 88.0},
    {"mount": "/boot", "use_percent": 40.0},
    {"mount": "/mnt/unknown", "use_percent": None},
]


@pytest.mark.parametrize("scan_paths, threshold, cross, expected", [
    # the one-filesystem scan of /srv does not enter /srv/data
    (["/var/log", "/srv"], 85, False, ["/", "/srv/data", "/var/lib/docker"]),
    (["/var/log", "/srv"], 85, True, ["/", "/var/lib/docker"]),
    (["/var/lib/docker"], 90, False, ["/", "/srv/data"]),        # the scan path is the mount point itself
    (["/var/log"], 95, False, []),
    (["/var/log"], 0, False, []),                                # off
    ([], 30, False, ["/", "/srv/data", "/var/lib/docker", "/boot"]),
])
def test_full_filesystems_are_scanned_where_no_scan_path_walks_them(scan_paths, threshold, cross, expected):
    assert full_filesystem_mounts(FULL_AND_EMPTY, scan_paths, threshold, cross) == expected
    assert full_filesystem_mounts(None, scan_paths, threshold, cross) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_records_archives_and_dumps_outside_data_directories(tmp_path, workers):
    root = tmp_path / "scan"
    for relative, size in [("home/deploy/update-1.tar.gz", 2 * 1024 * 1024), ("home/deploy/dumps/db.sql.gz", 1024 * 1024),
                           ("home/deploy/small.zip", 1024 * 1024 - 4096), ("home/deploy/app.log.1.gz", 3 * 1024 * 1024),
                           ("var/lib/docker/volumes/db/_data/x.dump", 2 * 1024 * 1024),
                           ("home/deploy/notes.txt", 2 * 1024 * 1024)]:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\1" * size)
        os.utime(path, (1700000000, 1700000000))
    scan = scan_trees([str(root)], top_n=3, deadline=time.monotonic() + 60, workers=workers)
    assert scan["archives"] == [
        {"path": f"{root}/home/deploy/update-1.tar.gz", "size_bytes": _disk_usage(f"{root}/home/deploy/update-1.tar.gz"),
         "mtime": 1700000000},
        {"path": f"{root}/home/deploy/dumps/db.sql.gz", "size_bytes": _disk_usage(f"{root}/home/deploy/dumps/db.sql.gz"),
         "mtime": 1700000000}]


@pytest.mark.parametrize("path, expected", [
    ("/var/lib/postgresql/15/main/base/1/x", True),
    ("/var/lib/docker/volumes/pg/_data/dump.sql", True),
    ("/srv/pgdata/old.sql", True),
    ("/home/deploy/update.tar.gz", False),
    ("/var/lib/postgresql-backups/x.sql", False),
])
def test_data_directories_are_never_archives(path, expected):
    assert is_data_directory(path) is expected
