# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import (
    MIB,
    SWAPOFF_RESERVE_BYTES,
    SwapPlanError,
    auto_swap_size,
    disk_refusal,
    filesystem_refusal,
    find_mount,
    find_swap_area,
    fstab_escape,
    fstab_line,
    fstab_lines_for,
    fstab_unescape,
    has_swap_signature,
    option_errors,
    parse_swap_size,
    plan_swapfile,
    role_input_errors,
    round_to_pages,
    swap_path,
    swapoff_refusal,
    update_fstab,
)
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import fit_swap_to_disk, recommend_swap_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._units import SizeError
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

GIB = 1024 * MIB


# --- sizes and inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("size, page, expected", [
    (4096, 4096, 4096),
    (4097, 4096, 8192),
    (2 * GIB, 4096, 2 * GIB),
    (1000000, 65536, 1048576),
    (123, 0, 123),
])
def test_round_to_pages(size, page, expected):
    assert round_to_pages(size, page) == expected


@pytest.mark.parametrize("value, expected", [
    ("2G", 2 * GIB),
    ("512MiB", 512 * MIB),
    ("1.5GB", 1536 * MIB),
    (1048576, MIB),
    ("1048576", MIB),
])
def test_parse_swap_size_accepts(value, expected):
    assert parse_swap_size(value) == expected


@pytest.mark.parametrize("value, message", [
    ("2Gb", "'2Gb' is not a valid size"),
    ("-1", "'-1' is not a valid size"),
    ("abc", "'abc' is not a valid size"),
    (-1, "must not be negative"),
    ("0", "'0' is too small; a swap file needs at least 1.0 MiB"),
    ("512K", "too small"),
    (True, "expected a number of bytes"),
])
def test_parse_swap_size_refuses(value, message):
    with pytest.raises(SizeError, match=message):
        parse_swap_size(value, "hostcare_swap_size")


GOOD_INPUTS = {
    "hostcare_swap_state": "present", "hostcare_swap_file": "/swapfile", "hostcare_swap_size": "auto",
    "hostcare_swap_swappiness": 10, "hostcare_swap_vfs_cache_pressure": 50, "hostcare_swap_priority": None,
    "hostcare_swap_max_disk_use_percent": 90, "hostcare_swap_allow_resize": True,
    "hostcare_swap_sysctl_file": "/etc/sysctl.d/60-hostcare-swap.conf",
}


@pytest.mark.parametrize("changes", [
    {},
    {"size": "2G"},
    {"size": "AUTO"},
    {"size": 2147483648},
    {"swappiness": 0},
    {"swappiness": "100"},
    {"swappiness": None, "vfs_cache_pressure": None},
    {"priority": 0},
    {"priority": 32767},
    {"max_disk_use_percent": 100},
    {"state": "absent"},
    {"file": "/srv/data/swap file"},
])
def test_role_input_errors_accepts(changes):
    assert role_input_errors({**GOOD_INPUTS, **{"hostcare_swap_" + key: value for key, value in changes.items()}}) == []


# Types and choices (hostcare_swap_state: started, hostcare_swap_allow_resize: maybe) are refused by the role's
# argument spec, before this check runs.
@pytest.mark.parametrize("changes, message", [
    ({"size": "2Gb"}, "hostcare_swap_size: '2Gb' is not a valid size"),
    ({"size": "-1"}, "hostcare_swap_size: '-1' is not a valid size"),
    ({"size": "abc"}, "hostcare_swap_size: 'abc' is not a valid size"),
    ({"size": "0"}, "hostcare_swap_size: '0' is too small"),
    ({"size": float("inf")}, "hostcare_swap_size: must be a finite non-negative number of bytes, got inf"),
    ({"size": "2P"}, "hostcare_swap_size: must be a size between 0 B and 1024.0 TiB, got '2P'"),
    ({"swappiness": 101}, "hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got 101"),
    ({"swappiness": -1}, "hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got -1"),
    ({"swappiness": "high"}, "hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got 'high'"),
    ({"swappiness": True}, "hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got bool"),
    ({"swappiness": float("nan")}, "hostcare_swap_swappiness: must be a whole number at least 0 and at most 100, got nan"),
    ({"vfs_cache_pressure": 0}, "hostcare_swap_vfs_cache_pressure: must be a whole number at least 1 and at most 1000"),
    ({"priority": -1}, "hostcare_swap_priority: must be a whole number at least 0 and at most 32767, got -1"),
    ({"priority": 32768}, "hostcare_swap_priority: must be a whole number at least 0 and at most 32767, got 32768"),
    ({"max_disk_use_percent": 0}, "hostcare_swap_max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({"max_disk_use_percent": 101}, "hostcare_swap_max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({"max_disk_use_percent": None}, "hostcare_swap_max_disk_use_percent: must be a whole number at least 1 and at most 100"),
    ({"file": "swapfile"}, "hostcare_swap_file: must be an absolute path"),
    ({"file": ""}, "hostcare_swap_file: must be an absolute path"),
    ({"file": "/proc/swapfile"}, "hostcare_swap_file: '/proc/swapfile' is in a kernel filesystem"),
    ({"sysctl_file": "/etc/sysctl.conf"}, "hostcare_swap_sysctl_file: must be a *.conf file directly in /etc/sysctl.d"),
    ({"sysctl_file": "/etc/sysctl.d/swap"}, "hostcare_swap_sysctl_file: must be a *.conf file"),
    ({"sysctl_file": "sysctl.d/60.conf"}, "hostcare_swap_sysctl_file: must be an absolute path"),
])
def test_role_input_errors_refuses(changes, message):
    errors = role_input_errors({**GOOD_INPUTS, **{"hostcare_swap_" + key: value for key, value in changes.items()}})
    assert len(errors) == 1
    assert errors[0].startswith(message)


def test_role_input_errors_reports_every_problem_and_skips_absent_keys():
    errors = role_input_errors({"hostcare_swap_size": "2Gb", "hostcare_swap_swappiness": 101})
    assert [error.split(":")[0] for error in errors] == ["hostcare_swap_size", "hostcare_swap_swappiness"]
    assert role_input_errors({}) == []


def test_the_module_and_the_role_run_the_same_check():
    module_errors = option_errors({"path": "rel", "size": "2Gb", "priority": 40000, "max_disk_use_percent": 0})
    role_errors = role_input_errors({"hostcare_swap_file": "rel", "hostcare_swap_size": "2Gb",
                                     "hostcare_swap_priority": 40000, "hostcare_swap_max_disk_use_percent": 0})
    assert [error.split(": ", 1)[1] for error in module_errors] == [error.split(": ", 1)[1] for error in role_errors]
    assert [error.split(":")[0] for error in module_errors] == ["path", "size", "priority", "max_disk_use_percent"]
    assert option_errors({"path": "/swapfile", "size": None, "priority": None, "max_disk_use_percent": 90}) == []


@pytest.mark.parametrize("path, message", [
    ("/swapfile", None),
    ("/srv/swap/swap file", None),
    ("", "must be an absolute path"),
    (None, "must be an absolute path"),
    ("swapfile", "must be an absolute path"),
    ("/srv/swap/", "must be a file path, without a trailing slash"),
    ("/srv/../swapfile", "must be a normalised path"),
    ("/srv//swapfile", "must be a normalised path"),
    ("/", "must not be the root directory"),
    ("/swap\nfile", "must not contain control characters"),
    ("/proc/swapfile", "is in a kernel filesystem"),
    ("/dev/sda2", "is in a kernel filesystem"),
])
def test_swap_path(path, message):
    if message is None:
        assert swap_path("file", path) == path
    else:
        with pytest.raises(OptionError, match=re.escape(message)):
            swap_path("file", path)


# --- size auto -----------------------------------------------------------------------------------

def test_auto_swap_size_is_the_audit_recommendation_fitted_to_the_disk():
    fs = {"available_bytes": 100 * GIB, "used_bytes": 10 * GIB}
    assert auto_swap_size(3 * GIB, fs, 0, 90, "/srv")[0] == recommend_swap_bytes(3 * GIB) == 4 * GIB
    tight = {"available_bytes": 8 * GIB, "used_bytes": 10 * GIB}
    size, reason = auto_swap_size(24 * GIB, tight, 0, 90, "/srv")
    assert size == fit_swap_to_disk(8 * GIB, 8 * GIB, used_bytes=10 * GIB)["bytes"] == 2 * GIB
    assert "/srv" in reason


def test_auto_swap_size_counts_the_current_file_as_free():
    """After the first run the file's blocks are used; the second run must name the same size."""
    before = {"available_bytes": 8 * GIB, "used_bytes": 10 * GIB}
    first = auto_swap_size(24 * GIB, before, 0, 90, "/srv")[0]
    after = {"available_bytes": before["available_bytes"] - first, "used_bytes": before["used_bytes"] + first}
    assert auto_swap_size(24 * GIB, after, first, 90, "/srv")[0] == first


@pytest.mark.parametrize("ram, fs, message", [
    (None, {"available_bytes": GIB, "used_bytes": GIB}, "size auto needs the RAM size"),
    (GIB, {"available_bytes": GIB, "used_bytes": 0}, "there is no room for swap in /srv/small: no swap file fits"),
    (GIB, {"available_bytes": 10 * GIB, "used_bytes": 90 * GIB}, "there is no room for swap in /srv/small"),
])
def test_auto_swap_size_refuses_when_nothing_fits(ram, fs, message):
    with pytest.raises(SwapPlanError, match=re.escape(message)):
        auto_swap_size(ram, fs, 0, 90, "/srv/small")


# --- host ----------------------------------------------------------------------------------------

MOUNTS = [
    {"mount": "/", "fstype": "overlay"},
    {"mount": "/srv/swap", "fstype": "ext4"},
    {"mount": "/srv/small", "fstype": "ext4"},
    {"mount": "/srv/small", "fstype": "tmpfs"},
    {"mount": "/srv/swapper", "fstype": "xfs"},
]


@pytest.mark.parametrize("path, expected", [
    ("/srv/swap", ("/srv/swap", "ext4")),
    ("/srv/swap/deep/dir", ("/srv/swap", "ext4")),
    ("/srv/swapper", ("/srv/swapper", "xfs")),
    ("/srv", ("/", "overlay")),
    ("/", ("/", "overlay")),
    ("/srv/small", ("/srv/small", "tmpfs")),  # the mount on top wins
])
def test_find_mount(path, expected):
    mount = find_mount(MOUNTS, path)
    assert (mount["mount"], mount["fstype"]) == expected


def test_find_mount_without_mounts():
    assert find_mount([], "/srv") is None


@pytest.mark.parametrize("fstype", ["ext4", "ext3", "ext2", "xfs", "btrfs", "f2fs"])
def test_filesystem_refusal_accepts(fstype):
    assert filesystem_refusal(fstype, "/", "/swapfile") is None


@pytest.mark.parametrize("fstype, reason", [
    ("zfs", "ZFS does not support swap files"),
    ("overlay", "an overlay filesystem (a container's root) cannot hold swap"),
    ("tmpfs", "tmpfs lives in RAM"),
    ("nfs", "swap over NFS"),
    ("nfs4", "swap over NFS"),
    ("fuse.sshfs", "a FUSE filesystem cannot hold swap"),
    ("vfat", "supported here only on ext2, ext3, ext4, xfs, btrfs, f2fs"),
    (None, "unknown filesystem"),
])
def test_filesystem_refusal_refuses(fstype, reason):
    message = filesystem_refusal(fstype, "/srv", "/srv/swapfile")
    assert message.startswith("refusing to put swap on /srv/swapfile: it is on /srv (")
    assert reason in message
    assert message.endswith("Nothing was changed.")


def test_has_swap_signature():
    page = bytearray(4096)
    assert not has_swap_signature(bytes(page))
    page[-10:] = b"SWAPSPACE2"
    assert has_swap_signature(bytes(page))
    page[-10:] = b"SWAP-SPACE"
    assert has_swap_signature(bytes(page))


def test_find_swap_area_by_path_or_real_path():
    areas = [{"path": "/dev/zram0"}, {"path": "/data/swapfile"}]
    assert find_swap_area(areas, "/data/swapfile") == areas[1]
    assert find_swap_area(areas, "/swapfile", "/data/swapfile") == areas[1]
    assert find_swap_area(areas, "/swapfile") is None
    assert find_swap_area([], "/swapfile") is None


@pytest.mark.parametrize("used, available, refused", [
    (0, 0, False),
    (None, None, False),
    (GIB, GIB + SWAPOFF_RESERVE_BYTES, False),
    (GIB, GIB + SWAPOFF_RESERVE_BYTES - 1, True),
    (GIB, 512 * MIB, True),
    (MIB, None, True),
])
def test_swapoff_refusal(used, available, refused):
    message = swapoff_refusal("/swapfile", used, available, "resize it from 1.0 GiB to 2.0 GiB")
    assert (message is not None) == refused
    if refused:
        assert message.startswith("refusing to swap off /swapfile to resize it from 1.0 GiB to 2.0 GiB")
        assert "Nothing was changed." in message


def test_swapoff_refusal_explains_the_numbers():
    message = swapoff_refusal("/swapfile", GIB, 900 * MIB, "remove it")
    assert "it holds 1.0 GiB of swapped-out memory and only 900.0 MiB of RAM is available" in message
    assert "allow_resize" not in message
    assert "allow_resize false" in swapoff_refusal("/swapfile", GIB, 900 * MIB, "resize it from 1 to 2")


FS = {"used_bytes": 70 * GIB, "available_bytes": 30 * GIB}


@pytest.mark.parametrize("extra, limit, expected", [
    (0, 90, None),
    (-GIB, 90, None),
    (20 * GIB, 90, None),            # 90.0 % exactly is allowed
    (20 * GIB + 1, 90, "would fill /data to 90.0 %"),
    (25 * GIB, 90, "would fill /data to 95.0 % (now 70.0 %, 30.0 GiB free; the limit max_disk_use_percent is 90 %)"),
    (25 * GIB, 100, None),
    (31 * GIB, 100, "it needs 31.0 GiB more and /data has only 30.0 GiB free"),
])
def test_disk_refusal(extra, limit, expected):
    message = disk_refusal("/data/swapfile", FS, "/data", extra, limit, "create the swap file")
    if expected is None:
        assert message is None
    else:
        assert message.startswith("refusing to create the swap file /data/swapfile: ")
        assert expected in message


def test_disk_refusal_unknown_size():
    message = disk_refusal("/s", {"used_bytes": 0, "available_bytes": 0}, "/", 1, 90, "create the swap file")
    assert "the size of / is unknown" in message


# --- fstab ---------------------------------------------------------------------------------------

def test_fstab_escape_round_trip():
    path = "/srv/my swap\tfile\\x"
    assert fstab_escape(path) == "/srv/my\\040swap\\011file\\134x"
    assert fstab_unescape(fstab_escape(path)) == path
    assert fstab_unescape("/a\\9b\\") == "/a\\9b\\"


@pytest.mark.parametrize("priority, expected", [
    (None, "/swapfile none swap sw,nofail 0 0"),
    (0, "/swapfile none swap sw,nofail,pri=0 0 0"),
    (10, "/swapfile none swap sw,nofail,pri=10 0 0"),
])
def test_fstab_line(priority, expected):
    assert fstab_line("/swapfile", priority) == expected


FSTAB = (
    "# /etc/fstab\n"
    "UUID=abc / ext4 errors=remount-ro 0 1\n"
    "/swapfile none swap sw 0 0\n"
    "/dev/vdb1 none swap sw,pri=1 0 0\n"
    "#/swapfile none swap sw 0 0\n"
    "\n"
    "/swapfile   none   swap   defaults   0   0\n"
    "/swapfile2 none swap sw 0 0\n"
)
LINE = "/swapfile none swap sw,nofail 0 0"


def test_update_fstab_replaces_the_first_line_and_removes_duplicates():
    after = update_fstab(FSTAB, "/swapfile", LINE)
    assert after == (
        "# /etc/fstab\n"
        "UUID=abc / ext4 errors=remount-ro 0 1\n"
        f"{LINE}\n"
        "/dev/vdb1 none swap sw,pri=1 0 0\n"
        "#/swapfile none swap sw 0 0\n"
        "\n"
        "/swapfile2 none swap sw 0 0\n"
    )
    assert update_fstab(after, "/swapfile", LINE) == after
    assert fstab_lines_for(after, "/swapfile") == [LINE]
    assert len(fstab_lines_for(FSTAB, "/swapfile")) == 2


def test_update_fstab_removes_every_line_of_the_file_only():
    after = update_fstab(FSTAB, "/swapfile", None)
    assert "/swapfile none" not in after.replace("#/swapfile", "")
    assert "/swapfile2 none swap sw 0 0\n" in after
    assert "#/swapfile none swap sw 0 0\n" in after
    assert update_fstab(after, "/swapfile", None) == after


@pytest.mark.parametrize("text, expected", [
    ("", f"{LINE}\n"),
    ("UUID=abc / ext4 defaults 0 1", f"UUID=abc / ext4 defaults 0 1\n{LINE}\n"),
    ("UUID=abc / ext4 defaults 0 1\n", f"UUID=abc / ext4 defaults 0 1\n{LINE}\n"),
    ("/swapfile none swap sw 0 0", LINE),
])
def test_update_fstab_appends_or_replaces(text, expected):
    assert update_fstab(text, "/swapfile", LINE) == expected


def test_update_fstab_matches_escaped_and_real_paths():
    line = fstab_line("/srv/my swap")
    text = "/srv/my\\040swap none swap sw 0 0\n/data/swap none swap sw 0 0\n/srv/./x none swap sw 0 0\n"
    assert update_fstab(text, "/srv/my swap", line).splitlines()[0] == "/srv/my\\040swap none swap sw,nofail 0 0"
    assert update_fstab(text, "/swap", None, real_path="/data/swap").count("/data/swap") == 0
    assert update_fstab(text, "/srv/x", None).count("/srv/./x") == 0
    # a line of another type for the same path is not a swap line
    assert update_fstab("/swapfile /mnt ext4 defaults 0 0\n", "/swapfile", None) == "/swapfile /mnt ext4 defaults 0 0\n"


# --- plan ----------------------------------------------------------------------------------------

def observed(**changes):
    base = {
        "path": "/swapfile", "real_path": "/swapfile", "file": None, "area": None, "mount": "/", "fstype": "ext4",
        "fs": {"used_bytes": 10 * GIB, "available_bytes": 90 * GIB}, "mem_available": 4 * GIB, "page_size": 4096,
        "swap_permitted": True, "permission_error": "", "fstab": "UUID=abc / ext4 defaults 0 1\n",
    }
    base.update(changes)
    return base


def swap_file(size=2 * GIB, **changes):
    info = {"exists": True, "regular": True, "size": size, "allocated": size, "mode": 0o600, "uid": 0, "gid": 0,
            "signature": True}
    info.update(changes)
    return info


def area(size=2 * GIB, used=0, priority=-2):
    return {"path": "/swapfile", "type": "file", "size_bytes": size - 4096, "used_bytes": used, "priority": priority,
            "zram": False}


IN_FSTAB = "UUID=abc / ext4 defaults 0 1\n/swapfile none swap sw,nofail 0 0\n"


def wanted(**changes):
    base = {"state": "present", "size": 2 * GIB, "priority": None, "max_disk_use_percent": 90, "allow_resize": True}
    base.update(changes)
    return base


def test_plan_creates_a_new_file():
    plan = plan_swapfile(observed(), wanted())
    assert plan["actions"] == ["create", "swapon", "fstab"]
    assert plan["size"] == 2 * GIB
    assert plan["fstab"] == IN_FSTAB
    assert plan["before"] == "/swapfile: absent\n"
    assert "size: 2.0 GiB (2147483648 bytes)" in plan["after"]
    assert "mode: 0600, owner uid 0, gid 0" in plan["after"]


def test_plan_rounds_the_size_up_to_pages():
    assert plan_swapfile(observed(page_size=65536), wanted(size=GIB + 1))["size"] == GIB + 65536


def test_plan_leaves_a_good_file_alone():
    plan = plan_swapfile(observed(file=swap_file(), area=area(), fstab=IN_FSTAB), wanted())
    assert plan["actions"] == []
    assert plan["warnings"] == []


@pytest.mark.parametrize("obs, wants, actions", [
    ({"file": swap_file(), "fstab": IN_FSTAB}, {}, ["swapon"]),
    ({"file": swap_file(mode=0o644), "area": area(), "fstab": IN_FSTAB}, {}, ["permissions"]),
    ({"file": swap_file(uid=1000), "area": area(), "fstab": IN_FSTAB}, {}, ["permissions"]),
    ({"file": swap_file(), "area": area()}, {}, ["fstab"]),
    ({"file": swap_file(), "area": area(), "fstab": IN_FSTAB + IN_FSTAB}, {}, ["fstab"]),
    ({"file": swap_file(), "area": area(used=GIB), "fstab": IN_FSTAB}, {"size": 4 * GIB},
     ["swapoff", "resize", "swapon"]),
    ({"file": swap_file(), "area": area(used=GIB), "fstab": IN_FSTAB}, {"size": GIB},
     ["swapoff", "resize", "swapon"]),
    ({"file": swap_file(), "fstab": IN_FSTAB}, {"size": GIB}, ["resize", "swapon"]),
    ({"file": swap_file(allocated=GIB), "fstab": IN_FSTAB}, {}, ["resize", "swapon"]),  # holes
    ({"file": swap_file(allocated=GIB), "area": area(), "fstab": IN_FSTAB}, {}, []),  # active: the kernel took it
    ({"file": swap_file(), "area": area(priority=5), "fstab": IN_FSTAB}, {}, []),
    ({"file": swap_file(), "area": area(priority=-2), "fstab": IN_FSTAB}, {"priority": 10},
     ["swapoff", "swapon", "fstab"]),
    ({"file": swap_file(), "area": area(priority=10)}, {"priority": 10}, ["fstab"]),
])
def test_plan_actions(obs, wants, actions):
    assert plan_swapfile(observed(**obs), wanted(**wants))["actions"] == actions


def test_plan_keeps_the_size_when_resize_is_not_allowed():
    plan = plan_swapfile(observed(file=swap_file(), area=area(used=3 * GIB), fstab=IN_FSTAB),
                         wanted(size=4 * GIB, allow_resize=False))
    assert plan["actions"] == []
    assert plan["size"] == 2 * GIB
    assert plan["warnings"] == ["/swapfile is 2.0 GiB and the wanted size is 4.0 GiB; not resized because "
                                "allow_resize is false."]


@pytest.mark.parametrize("obs, wants, message", [
    ({"fstype": "overlay"}, {}, "refusing to put swap on /swapfile: it is on / (overlay)"),
    ({"fstype": "zfs", "file": swap_file(), "area": area()}, {}, "ZFS does not support swap files"),
    ({"fs": {"used_bytes": 85 * GIB, "available_bytes": 15 * GIB}}, {"size": 8 * GIB},
     "refusing to create the swap file /swapfile: the 8.0 GiB it needs would fill / to 93.0 %"),
    ({"file": swap_file(), "area": area(), "fs": {"used_bytes": 85 * GIB, "available_bytes": 15 * GIB}},
     {"size": 8 * GIB}, "refusing to grow the swap file /swapfile: the 6.0 GiB it needs would fill / to 91.0 %"),
    ({"swap_permitted": False, "permission_error": "swapoff(2): Operation not permitted"}, {},
     "this host does not permit swapon/swapoff (swapoff(2): Operation not permitted)"),
    ({"file": swap_file(), "swap_permitted": False}, {}, "does not permit swapon/swapoff"),
    ({"file": swap_file(), "area": area(used=3 * GIB), "mem_available": 3 * GIB}, {"size": GIB},
     "refusing to swap off /swapfile to resize it from 2.0 GiB to 1.0 GiB: it holds 3.0 GiB"),
    ({"file": swap_file(), "area": area(used=3 * GIB, priority=1), "mem_available": GIB}, {"priority": 2},
     "refusing to swap off /swapfile to change its priority from 1 to 2"),
    ({"file": swap_file(regular=False)}, {}, "path: refusing to manage /swapfile: it exists and is not a regular file"),
    ({"file": swap_file(signature=False)}, {}, "refusing to use /swapfile: it exists and is not a swap area"),
])
def test_plan_refuses(obs, wants, message):
    before = observed(**obs)
    snapshot = copy.deepcopy(before)
    with pytest.raises(SwapPlanError) as error:
        plan_swapfile(before, wanted(**wants))
    assert message in str(error.value)
    assert "Nothing was changed." in str(error.value)
    assert before == snapshot


def test_plan_shrink_needs_no_disk_room():
    full = {"used_bytes": 99 * GIB, "available_bytes": GIB}
    plan = plan_swapfile(observed(file=swap_file(), area=area(), fs=full, fstab=IN_FSTAB), wanted(size=GIB))
    assert plan["actions"] == ["swapoff", "resize", "swapon"]


@pytest.mark.parametrize("obs, actions", [
    ({}, []),
    ({"fstab": IN_FSTAB}, ["fstab"]),
    ({"file": swap_file(), "fstab": IN_FSTAB}, ["fstab", "remove"]),
    ({"file": swap_file(), "area": area(used=GIB), "fstab": IN_FSTAB}, ["swapoff", "fstab", "remove"]),
    ({"file": swap_file(), "area": area()}, ["swapoff", "remove"]),
    ({"fstype": "overlay", "fstab": IN_FSTAB}, ["fstab"]),  # nothing to refuse when removing
])
def test_plan_absent(obs, actions):
    plan = plan_swapfile(observed(**obs), wanted(state="absent", size=None))
    assert plan["actions"] == actions
    assert plan["fstab"] == "UUID=abc / ext4 defaults 0 1\n"
    assert plan["after"] == "/swapfile: absent\n"
    assert plan["size"] is None


@pytest.mark.parametrize("obs, message", [
    ({"file": swap_file(), "area": area(used=5 * GIB)}, "refusing to swap off /swapfile to remove it"),
    ({"file": swap_file(signature=False)}, "refusing to remove /swapfile: it is not a swap area"),
    ({"file": swap_file(regular=False)}, "it exists and is not a regular file"),
    ({"file": swap_file(), "area": area(), "swap_permitted": False}, "does not permit swapon/swapoff"),
])
def test_plan_absent_refuses(obs, message):
    with pytest.raises(SwapPlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_swapfile(observed(**obs), wanted(state="absent", size=None))


def test_plan_describes_priority_only_when_managed():
    plan = plan_swapfile(observed(file=swap_file(), area=area(priority=-2), fstab=IN_FSTAB), wanted(priority=3))
    assert "priority: -2" in plan["before"]
    assert "priority: 3" in plan["after"]
    plan = plan_swapfile(observed(file=swap_file(), area=area(priority=-2), fstab=IN_FSTAB), wanted(size=GIB))
    assert "priority" not in plan["before"] + plan["after"]
