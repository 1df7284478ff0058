# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._memory import (
    build_swap_facts,
    detect_container,
    fstab_source_tag,
    locate_memory_cgroup,
    parse_cgroup_bytes,
    parse_cgroup_memory,
    parse_environ,
    parse_fstab_swap_entries,
    parse_meminfo,
    parse_mountinfo,
    parse_proc_swaps,
    parse_psi,
    parse_sysctl_value,
    parse_vmstat_oom_kills,
    parse_zram,
    read_swap_inputs,
    udev_encode,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "swap")

SWAPS_HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


@pytest.mark.parametrize("text, expected", [
    ("MemTotal:        2014036 kB\nMemFree:          148376 kB\n", {"MemTotal": 2062372864, "MemFree": 151937024}),
    ("HugePages_Total:       0\nHugepagesize:       2048 kB\n", {"HugePages_Total": 0, "Hugepagesize": 2097152}),
    ("MemTotal: lots kB\nnot a line\n\n", {}),
    ("", {}),
    (None, {}),
])
def test_parse_meminfo(text, expected):
    assert parse_meminfo(text) == expected


def _area(path, area_type, size_kib, used_kib, priority, zram=False):
    return {"path": path, "type": area_type, "size_bytes": size_kib * 1024, "used_bytes": used_kib * 1024,
            "priority": priority, "zram": zram}


@pytest.mark.parametrize("text, expected", [
    (SWAPS_HEADER, []),
    (None, []),
    (SWAPS_HEADER + "/swapfile                               file\t\t2097148\t\t262144\t\t-2\n",
     [_area("/swapfile", "file", 2097148, 262144, -2)]),
    (SWAPS_HEADER + "/dev/vda2                               partition\t1048572\t\t0\t\t10\n"
                    "/dev/zram0                              partition\t4005080\t\t524288\t\t100\n",
     [_area("/dev/vda2", "partition", 1048572, 0, 10), _area("/dev/zram0", "partition", 4005080, 524288, 100, zram=True)]),
    # The kernel escapes spaces; a deleted swap file stays active under its old name.
    (SWAPS_HEADER + "/var/swap\\040file\\040(deleted)         file\t\t1024\t\t0\t\t-3\n",
     [_area("/var/swap file (deleted)", "file", 1024, 0, -3)]),
    (SWAPS_HEADER + "/dev/zram0p1 partition 1024 0 5\n/broken line\n", [_area("/dev/zram0p1", "partition", 1024, 0, 5)]),
])
def test_parse_proc_swaps(text, expected):
    assert parse_proc_swaps(text) == expected


FSTAB = """\
# <file system> <mount point>   <type>  <options>       <dump>  <pass>
UUID=3f1c2a7e-8b8d-4f0e-9c55-2d1e6b7a9c01 /               ext4    errors=remount-ro 0       1
UUID=8d2f5b7c-1e4a-4c3b-a6d9-0f7e2c9b5a44 none            swap    sw,pri=10       0       0
#/dev/vda3 none swap sw 0 0
   # /swap.img	none	swap	sw	0	0
/swapfile none swap sw 0 0
/swapfile none swap sw 0 0
LABEL=old\\040swap\tnone\tswap\tsw,nofail,pri=-1\t0\t0
/dev/sdb2 swap swap
"""


def test_parse_fstab_swap_entries():
    assert parse_fstab_swap_entries(FSTAB) == [
        {"source": "UUID=8d2f5b7c-1e4a-4c3b-a6d9-0f7e2c9b5a44", "options": ["sw", "pri=10"], "priority": 10},
        {"source": "/swapfile", "options": ["sw"], "priority": None},
        {"source": "/swapfile", "options": ["sw"], "priority": None},
        {"source": "LABEL=old\\040swap", "options": ["sw", "nofail", "pri=-1"], "priority": -1},
        {"source": "/dev/sdb2", "options": [], "priority": None},
    ]


@pytest.mark.parametrize("text", [None, "", "# only comments\n", "UUID=1 / ext4 defaults 0 1\n"])
def test_parse_fstab_swap_entries_without_swap(text):
    assert parse_fstab_swap_entries(text) == []


@pytest.mark.parametrize("source, expected", [
    ("UUID=8d2f5b7c", ("UUID", "8d2f5b7c")),
    ('UUID="8d2f5b7c"', ("UUID", "8d2f5b7c")),
    ("LABEL=swap", ("LABEL", "swap")),
    ("PARTUUID=5b0c6f3e-01", ("PARTUUID", "5b0c6f3e-01")),
    ("PARTLABEL=swap", ("PARTLABEL", "swap")),
    ("/swapfile", None),
    ("/dev/disk/by-uuid/8d2f5b7c", None),
    ("ID=abc", None),
])
def test_fstab_source_tag(source, expected):
    assert fstab_source_tag(source) == expected


@pytest.mark.parametrize("value, expected", [
    ("8d2f5b7c-1e4a", "8d2f5b7c-1e4a"),
    ("old swap", "old\\x20swap"),
    ("a/b", "a\\x2fb"),
])
def test_udev_encode(value, expected):
    assert udev_encode(value) == expected


@pytest.mark.parametrize("text, expected", [
    ("60\n", 60), ("0", 0), (" 180 \n", 180), ("", None), (None, None), ("4096\t4096\n", None), ("abc", None),
])
def test_parse_sysctl_value(text, expected):
    assert parse_sysctl_value(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("some avg10=0.12 avg60=0.41 avg300=0.27 total=18734512\nfull avg10=0.00 avg60=0.13 avg300=0.08 total=9311780\n",
     {"some": {"avg10": 0.1, "avg60": 0.4, "avg300": 0.3, "total_us": 18734512},
      "full": {"avg10": 0.0, "avg60": 0.1, "avg300": 0.1, "total_us": 9311780}}),
    # /proc/pressure/cpu before Linux 5.13 has no "full" line.
    ("some avg10=12.50 avg60=3.04 avg300=1.00 total=99\n",
     {"some": {"avg10": 12.5, "avg60": 3.0, "avg300": 1.0, "total_us": 99}, "full": None}),
    ("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
     {"some": None, "full": {"avg10": 0.0, "avg60": 0.0, "avg300": 0.0, "total_us": 0}}),
    ("some avg10=0.00 avg60=0.00 total=0\n", None),
    ("some avg10=x avg60=0.00 avg300=0.00 total=0\n", None),
    ("", None),
    (None, None),
])
def test_parse_psi(text, expected):
    assert parse_psi(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("pswpin 0\npswpout 0\noom_kill 3\nnuma_pte_updates 0\n", 3),
    ("pswpin 0\npswpout 0\n", None),  # before Linux 4.13
    ("oom_kill_total 5\n", None),
    ("", None),
    (None, None),
])
def test_parse_vmstat_oom_kills(text, expected):
    assert parse_vmstat_oom_kills(text) == expected


@pytest.mark.parametrize("data, expected", [
    (b"container=lxc\0PATH=/usr/bin:/bin\0TERM\0", {"container": "lxc", "PATH": "/usr/bin:/bin"}),
    (b"A=b=c\0", {"A": "b=c"}),
    (b"", {}),
    (None, {}),
])
def test_parse_environ(data, expected):
    assert parse_environ(data) == expected


def test_parse_mountinfo_unescapes_paths():
    text = "36 35 98:0 /mnt\\040a /mnt/my\\040disk rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nbad\n"
    assert parse_mountinfo(text) == [{
        "mount_id": 36, "parent_id": 35, "device_number": "98:0",
        "root": "/mnt a", "mount": "/mnt/my disk", "fstype": "ext3", "device": "/dev/root",
        "super_options": "rw,errors=continue",
    }]


V2_MOUNT = "33 22 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
V1_MEMORY_MOUNT = "35 31 0:32 {root} /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
HYBRID_UNIFIED_MOUNT = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
DOCKER_ID = "8f1c2e3d4b5a"


@pytest.mark.parametrize("self_cgroup, mountinfo, expected", [
    # A host: the ssh session scope, then its parents up to the root.
    ("0::/user.slice/user-0.slice/session-4.scope\n", V2_MOUNT,
     {"version": 2, "dirs": ["/sys/fs/cgroup/user.slice/user-0.slice/session-4.scope",
                             "/sys/fs/cgroup/user.slice/user-0.slice", "/sys/fs/cgroup/user.slice", "/sys/fs/cgroup"]}),
    # A container with a cgroup namespace: its own cgroup is the root of what it sees.
    ("0::/\n", V2_MOUNT, {"version": 2, "dirs": ["/sys/fs/cgroup"]}),
    # Docker on cgroup v1 without a namespace: the container's cgroup is mounted at the controller mount point.
    (f"4:memory:/docker/{DOCKER_ID}\n0::/system.slice/containerd.service\n",
     V1_MEMORY_MOUNT.format(root=f"/docker/{DOCKER_ID}"), {"version": 1, "dirs": ["/sys/fs/cgroup/memory"]}),
    # Hybrid hierarchy: memory is a v1 controller even though a v2 "unified" tree is mounted.
    ("4:memory:/process_api/b451\n0::/\n", V1_MEMORY_MOUNT.format(root="/") + HYBRID_UNIFIED_MOUNT,
     {"version": 1, "dirs": ["/sys/fs/cgroup/memory/process_api/b451", "/sys/fs/cgroup/memory/process_api",
                             "/sys/fs/cgroup/memory"]}),
    # v1 memory controller not mounted (e.g. systemd without it), but v2 is: v2 it is.
    ("4:memory:/\n0::/init.scope\n", V2_MOUNT, {"version": 2, "dirs": ["/sys/fs/cgroup/init.scope", "/sys/fs/cgroup"]}),
    # A process outside the cgroup namespace: nothing of its cgroup is mounted, read the visible root.
    ("0::/../../system.slice/ssh.service\n", V2_MOUNT, {"version": 2, "dirs": ["/sys/fs/cgroup"]}),
    # A cgroup path outside the mount's root.
    ("4:memory:/other\n", V1_MEMORY_MOUNT.format(root=f"/docker/{DOCKER_ID}"),
     {"version": 1, "dirs": ["/sys/fs/cgroup/memory"]}),
    ("", "", {"version": None, "dirs": []}),
    (None, None, {"version": None, "dirs": []}),
    ("0::/init.scope\n", "", {"version": None, "dirs": []}),
])
def test_locate_memory_cgroup(self_cgroup, mountinfo, expected):
    assert locate_memory_cgroup(self_cgroup, mountinfo) == expected


def test_locate_memory_cgroup_prefers_sys_fs_cgroup():
    mountinfo = "90 80 0:28 / /run/other rw - cgroup2 cgroup2 rw\n" + V2_MOUNT
    assert locate_memory_cgroup("0::/\n", mountinfo)["dirs"] == ["/sys/fs/cgroup"]


@pytest.mark.parametrize("text, expected", [
    ("536870912\n", 536870912),
    ("0\n", 0),
    ("max\n", None),
    ("9223372036854771712\n", None),  # cgroup v1 "unlimited" with 4 KiB pages
    ("9223372036854710272\n", None),  # ... with 64 KiB pages
    ("9223372036854775807\n", None),  # ... before Linux 3.19 (res_counter)
    ("-1", None),
    ("", None),
    (None, None),
])
def test_parse_cgroup_bytes(text, expected):
    assert parse_cgroup_bytes(text) == expected


def _v2(maximum, current, swap_max):
    return {"memory.max": maximum, "memory.current": current, "memory.swap.max": swap_max}


def _v1(limit, usage, memsw):
    return {"memory.limit_in_bytes": limit, "memory.usage_in_bytes": usage, "memory.memsw.limit_in_bytes": memsw}


UNLIMITED_V1 = "9223372036854771712\n"


@pytest.mark.parametrize("version, levels, expected", [
    (2, [_v2("536870912\n", "187432960\n", "536870912\n")], (536870912, 187432960, 536870912)),
    (2, [_v2("max\n", "1000\n", "max\n")], (None, 1000, None)),
    # The limit set on the container root applies to the session scope below it; usage comes from there too.
    (2, [_v2("max", "9854976", "max"), _v2("max", "28311552", "max"), _v2("1073741824", "412090368", "0")],
     (1073741824, 412090368, 0)),
    # The tightest limit wins, wherever it is.
    (2, [_v2("268435456", "100", "max"), _v2("1073741824", "200", "max")], (268435456, 100, None)),
    # The real root cgroup of a host has none of these files.
    (2, [_v2("max", "9437184", "max"), _v2(None, None, None)], (None, None, None)),
    # No swap accounting: memory.swap.max is missing.
    (2, [_v2("536870912", "1000", None)], (536870912, 1000, None)),
    (1, [_v1(UNLIMITED_V1, "73527296\n", UNLIMITED_V1)], (None, 73527296, None)),
    # docker --memory 256m --memory-swap 512m
    (1, [_v1("268435456\n", "1000\n", "536870912\n")], (268435456, 1000, 268435456)),
    (1, [_v1("268435456\n", "1000\n", "268435456\n")], (268435456, 1000, 0)),
    # swapaccount=0: no memsw files
    (1, [_v1("268435456\n", "1000\n", None)], (268435456, 1000, None)),
    (1, [_v1(UNLIMITED_V1, "1000\n", "536870912\n")], (None, 1000, None)),
    (None, [], (None, None, None)),
    (2, [], (None, None, None)),
])
def test_parse_cgroup_memory(version, levels, expected):
    result = parse_cgroup_memory(version, levels)
    assert (result["memory_limit_bytes"], result["memory_usage_bytes"], result["swap_limit_bytes"]) == expected


DOCKER_ROOT = ("1370 1219 0:155 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A,"
               "upperdir=/var/lib/docker/overlay2/9c/diff,workdir=/var/lib/docker/overlay2/9c/work\n")
DOCKER_HOST_OVERLAY = ("612 29 0:55 / /var/lib/docker/overlay2/6d/merged rw,relatime - overlay overlay "
                       "rw,lowerdir=/var/lib/docker/overlay2/l/Q,upperdir=/var/lib/docker/overlay2/6d/diff\n")
PODMAN_ROOT = ("500 400 0:60 / / rw - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/B,"
               "upperdir=/var/lib/containers/storage/overlay/77/diff\n")
CONTAINERD_ROOT = ("700 600 0:70 / / rw - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd."
                   "snapshotter.v1.overlayfs/snapshots/12/fs\n")
K8S_SECRETS = "710 700 0:80 / /var/run/secrets/kubernetes.io/serviceaccount ro - tmpfs tmpfs rw\n"
K8S_HOSTS = "711 700 253:1 /var/lib/kubelet/pods/0d1e/etc-hosts /etc/hosts rw - ext4 /dev/vda1 rw\n"
LXCFS_MEMINFO = "1062 1054 0:58 /proc/meminfo /proc/meminfo rw - fuse.lxcfs lxcfs rw,allow_other\n"
HOST_ROOT = "29 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,discard\n"


@pytest.mark.parametrize("kwargs, expected", [
    ({}, (False, None)),
    ({"proc1_cgroup": "0::/init.scope\n", "mountinfo": HOST_ROOT}, (False, None)),
    # A docker *host* sees its containers' overlays, but not as its own root.
    ({"proc1_cgroup": "0::/init.scope\n", "mountinfo": HOST_ROOT + DOCKER_HOST_OVERLAY}, (False, None)),
    ({"dockerenv": True}, (True, "docker")),
    ({"mountinfo": DOCKER_ROOT, "proc1_cgroup": "0::/\n"}, (True, "docker")),
    ({"proc1_cgroup": f"4:memory:/docker/{DOCKER_ID}\n"}, (True, "docker")),
    ({"proc1_cgroup": f"0::/system.slice/docker-{DOCKER_ID}.scope\n"}, (True, "docker")),
    ({"containerenv": True}, (True, "podman")),
    ({"mountinfo": PODMAN_ROOT}, (True, "podman")),
    ({"environ": {"container": "podman"}}, (True, "podman")),
    ({"proc1_cgroup": "0::/machine.slice/libpod-3f6e.scope/container\n"}, (True, "podman")),
    ({"mountinfo": CONTAINERD_ROOT}, (True, "containerd")),
    ({"proc1_cgroup": "0::/system.slice/cri-containerd-3f6e.scope\n"}, (True, "containerd")),
    # Kubernetes wins over the runtime underneath it.
    ({"mountinfo": CONTAINERD_ROOT + K8S_SECRETS}, (True, "kubernetes")),
    ({"mountinfo": CONTAINERD_ROOT + K8S_HOSTS}, (True, "kubernetes")),
    ({"dockerenv": True, "proc1_cgroup": f"4:memory:/kubepods/burstable/pod0d1e/{DOCKER_ID}\n"}, (True, "kubernetes")),
    ({"environ": {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}}, (True, "kubernetes")),
    ({"environ": {"container": "lxc"}}, (True, "lxc")),
    ({"systemd_container": "lxc\n"}, (True, "lxc")),
    ({"mountinfo": HOST_ROOT + LXCFS_MEMINFO}, (True, "lxc")),
    ({"proc1_cgroup": "4:memory:/lxc/web1\n"}, (True, "lxc")),
    ({"proc1_cgroup": "0::/lxc.payload.web1/init.scope\n"}, (True, "lxc")),
    # Containers without a runtime name in the schema.
    ({"systemd_container": "systemd-nspawn\n"}, (True, None)),
    ({"proc1_cgroup": "0::/machine.slice/machine-web1.scope/init.scope\n"}, (True, None)),
    ({"environ": {"container": "oci"}}, (True, None)),
    ({"openvz": True}, (True, None)),
    ({"environ": {"PATH": "/usr/bin"}, "systemd_container": ""}, (False, None)),
])
def test_detect_container(kwargs, expected):
    result = detect_container(**kwargs)
    assert (result["detected"], result["runtime"]) == expected


@pytest.mark.parametrize("args, expected", [
    (("zram0", "4294967296\n", "lzo lzo-rle lz4 lz4hc 842 [zstd] \n",
      "536084480 134217728 142606336        0 150994944    12345        0        0        0\n"),
     {"name": "zram0", "disksize_bytes": 4294967296, "orig_data_bytes": 536084480, "compr_data_bytes": 134217728,
      "algorithm": "zstd"}),
    (("zram1", "0\n", "[lzo-rle] lzo lz4\n", "0 0 0 0 0 0 0 0 0\n"),
     {"name": "zram1", "disksize_bytes": 0, "orig_data_bytes": 0, "compr_data_bytes": 0, "algorithm": "lzo-rle"}),
    # Before Linux 4.1 there is no mm_stat; a device built with a single algorithm shows it without brackets.
    (("zram0", "1073741824\n", "lz4\n", None),
     {"name": "zram0", "disksize_bytes": 1073741824, "orig_data_bytes": None, "compr_data_bytes": None,
      "algorithm": "lz4"}),
    (("zram2",), {"name": "zram2", "disksize_bytes": None, "orig_data_bytes": None, "compr_data_bytes": None,
                  "algorithm": None}),
])
def test_parse_zram(args, expected):
    assert parse_zram(*args) == expected


MEMINFO = "MemTotal: 2048 kB\nMemFree: 512 kB\nMemAvailable: 1024 kB\nSwapTotal: 4096 kB\nSwapFree: 3072 kB\n"
PSUTIL_TOTALS = {
    "memory": {"total_bytes": 2097152, "available_bytes": 1048576, "free_bytes": 524288},
    "swap": {"total_bytes": 4194304, "used_bytes": 1048576, "free_bytes": 3145728},
}


@pytest.mark.parametrize("inputs, source, memory, swap", [
    ({"meminfo": MEMINFO}, "proc",
     {"total_bytes": 2097152, "available_bytes": 1048576, "free_bytes": 524288},
     {"total_bytes": 4194304, "used_bytes": 1048576, "free_bytes": 3145728}),
    ({"meminfo": MEMINFO, "psutil": PSUTIL_TOTALS}, "psutil", PSUTIL_TOTALS["memory"], PSUTIL_TOTALS["swap"]),
    # psutil estimates MemAvailable on kernels before 3.14; the facts say null instead of guessing.
    ({"meminfo": MEMINFO.replace("MemAvailable: 1024 kB\n", ""), "psutil": PSUTIL_TOTALS}, "psutil",
     dict(PSUTIL_TOTALS["memory"], available_bytes=None), PSUTIL_TOTALS["swap"]),
    ({}, "proc", {"total_bytes": None, "available_bytes": None, "free_bytes": None},
     {"total_bytes": None, "used_bytes": None, "free_bytes": None}),
])
def test_build_swap_facts_totals(inputs, source, memory, swap):
    facts = build_swap_facts(inputs)
    assert (facts["source"], facts["memory"], facts["swap"]) == (source, memory, swap)


def test_build_swap_facts_from_nothing():
    assert build_swap_facts({}) == {
        "source": "proc",
        "memory": {"total_bytes": None, "available_bytes": None, "free_bytes": None},
        "container": {"detected": False, "runtime": None, "cgroup_version": None, "memory_limit_bytes": None,
                      "memory_usage_bytes": None, "swap_limit_bytes": None},
        "swap": {"total_bytes": None, "used_bytes": None, "free_bytes": None},
        "areas": [],
        "fstab": [],
        "sysctl": {"swappiness": None, "vfs_cache_pressure": None, "overcommit_memory": None},
        "zram": [],
        "psi": None,
        "oom_kills": None,
    }


SWAPS_ACTIVE = SWAPS_HEADER + "/dev/vda2 partition 1024 0 10\n/srv/my swap file 1024 0 -2\n".replace("my swap", "my\\040swap")


@pytest.mark.parametrize("fstab_line, devices, swaps, active", [
    ("/dev/vda2 none swap sw 0 0", {}, SWAPS_ACTIVE, True),
    ("/srv/my\\040swap none swap sw 0 0", {}, SWAPS_ACTIVE, True),
    ("UUID=8d2f none swap sw 0 0", {"UUID=8d2f": "/dev/vda2"}, SWAPS_ACTIVE, True),
    ("/dev/mapper/vg0-swap none swap sw 0 0", {"/dev/mapper/vg0-swap": "/dev/vda2"}, SWAPS_ACTIVE, True),
    ("/dev/vdb1 none swap sw 0 0", {"/dev/vdb1": "/dev/vdb1"}, SWAPS_ACTIVE, False),
    ("UUID=0000 none swap sw 0 0", {"UUID=0000": "/dev/vdb1"}, SWAPS_ACTIVE, False),
    # A tag that cannot be resolved might be any of the active areas...
    ("LABEL=oldswap none swap sw 0 0", {"LABEL=oldswap": None}, SWAPS_ACTIVE, None),
    # ... but with no active area at all it is certainly not active.
    ("LABEL=oldswap none swap sw 0 0", {"LABEL=oldswap": None}, SWAPS_HEADER, False),
    ("/swapfile none swap sw 0 0", {}, SWAPS_HEADER, False),
])
def test_build_swap_facts_fstab_active(fstab_line, devices, swaps, active):
    facts = build_swap_facts({"fstab": fstab_line + "\n", "fstab_devices": devices, "swaps": swaps})
    assert [entry["active"] for entry in facts["fstab"]] == [active]


# Scenario trees under tests/fixtures/swap: recorded or hand-made copies of /proc, /sys and /etc files.
# udev symlinks are made here because symlinks do not belong in a built collection.
SCENARIOS = [
    pytest.param("vps_swapfile", {"dev/disk/by-uuid/8d2f5b7c-1e4a-4c3b-a6d9-0f7e2c9b5a44": "../../vda2"},
                 id="vps-swapfile-uuid-fstab-duplicate"),
    pytest.param("no_swap", {}, id="vps-without-swap"),
    pytest.param("docker_v2_limit", {}, id="docker-cgroup-v2-memory-max"),
    pytest.param("docker_v1_unlimited", {}, id="docker-cgroup-v1-unlimited-sentinel"),
    pytest.param("old_kernel", {"dev/mapper/vg0-swap_1": "../dm-1"}, id="kernel-3.13-no-psi-no-oom-kill"),
    pytest.param("zram_host", {}, id="zram-and-swapfile"),
    pytest.param("lxc_nested_v2", {}, id="lxc-limit-on-namespace-root"),
    pytest.param("recorded_firecracker_v1", {}, id="recorded-firecracker-hybrid-v1"),
]


def _scenario_root(tmp_path, scenario, links):
    root = str(tmp_path / scenario)
    shutil.copytree(os.path.join(FIXTURES, scenario), root)
    for link, target in links.items():
        os.makedirs(os.path.dirname(os.path.join(root, link)), exist_ok=True)
        os.symlink(target, os.path.join(root, link))
    return root


@pytest.mark.parametrize("scenario, links", SCENARIOS)
def test_scenario_facts(tmp_path, scenario, links):
    facts = build_swap_facts(read_swap_inputs(_scenario_root(tmp_path, scenario, links)))
    with open(os.path.join(FIXTURES, scenario + ".json"), encoding="utf-8") as handle:
        assert facts == json.load(handle)


@pytest.mark.parametrize("scenario, links, expected", [
    ("vps_swapfile", {"dev/disk/by-uuid/8d2f5b7c-1e4a-4c3b-a6d9-0f7e2c9b5a44": "../../vda2"},
     {"UUID=8d2f5b7c-1e4a-4c3b-a6d9-0f7e2c9b5a44": "/dev/vda2", "/swapfile": "/swapfile", "LABEL=oldswap": None}),
    ("old_kernel", {"dev/mapper/vg0-swap_1": "../dm-1"}, {"/dev/mapper/vg0-swap_1": "/dev/dm-1"}),
    # A link that leaves the root says nothing about the recorded host.
    ("old_kernel", {"dev/mapper/vg0-swap_1": "/dev/dm-1"}, {"/dev/mapper/vg0-swap_1": None}),
])
def test_read_swap_inputs_resolves_fstab_devices(tmp_path, scenario, links, expected):
    root = _scenario_root(tmp_path, scenario, links)
    if scenario == "vps_swapfile":
        open(os.path.join(root, "swapfile"), "w", encoding="utf-8").close()
    assert read_swap_inputs(root)["fstab_devices"] == expected


def test_read_swap_inputs_missing_and_unreadable_files(tmp_path):
    (tmp_path / "proc" / "meminfo").mkdir(parents=True)  # reading a directory fails like an unreadable file
    (tmp_path / "proc" / "1").mkdir()
    (tmp_path / "proc" / "1" / "environ").write_bytes(b"container=lxc\0HOME=/\0")
    (tmp_path / "proc" / "vz").mkdir()
    inputs = read_swap_inputs(str(tmp_path))
    assert inputs["meminfo"] is None
    assert inputs["swaps"] is None
    assert inputs["psi_memory"] is None
    assert inputs["sysctl"] == {"swappiness": None, "vfs_cache_pressure": None, "overcommit_memory": None}
    assert inputs["cgroup"] == {"version": None, "levels": []}
    assert inputs["environ"] == {"container": "lxc", "HOME": "/"}
    assert inputs["openvz"] is True
    assert inputs["zram"] == []
    assert inputs["psutil"] is None
    assert build_swap_facts(inputs)["container"]["runtime"] == "lxc"


def test_read_swap_inputs_sorts_zram_devices_numerically(tmp_path):
    for number in (10, 2, 0):
        (tmp_path / "sys" / "block" / f"zram{number}").mkdir(parents=True)
    assert [device["name"] for device in read_swap_inputs(str(tmp_path))["zram"]] == ["zram0", "zram2", "zram10"]


def test_live_host_facts_have_the_documented_types():
    # Whatever machine runs the tests: the reader must cope with it, and sizes must be ints or null.
    facts = build_swap_facts(read_swap_inputs())
    assert facts["source"] in ("psutil", "proc")
    assert isinstance(facts["memory"]["total_bytes"], int) and facts["memory"]["total_bytes"] > 0
    for area in facts["areas"]:
        assert isinstance(area["size_bytes"], int)
    assert facts["container"]["cgroup_version"] in (1, 2, None)
