# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Memory, swap and container facts of a Linux host, built from /proc, /sys and /etc texts.

Every parser takes the text of one file and returns plain data, and `build_swap_facts` assembles the
`hostcare_swap` facts (docs/facts.md) from those texts, so a host can be replayed from recorded files.
`read_swap_inputs` is the only function here that touches the system.
Runs on the target's python3 (3.9+), standard library only; psutil is used when it is installed.
"""

from __future__ import annotations

import glob
import os
import re

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes, read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import parse_mountinfo
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import unescape_octal as _unescape
from ansible_collections.hostcare.vps.plugins.module_utils._validate import KIB

try:
    import psutil
except ImportError:  # optional: /proc/meminfo gives the same totals
    psutil = None


# cgroup v1 writes "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE: 9223372036854771712 with 4 KiB pages,
# slightly different numbers with 16/64 KiB pages. No real limit comes anywhere near 2**62 bytes.
CGROUP_V1_UNLIMITED_FLOOR = 2 ** 62

# Files read per cgroup level: (limit, usage, swap) for v2, (limit, usage, memory+swap limit) for v1.
CGROUP_V2_FILES = ("memory.max", "memory.current", "memory.swap.max")
CGROUP_V1_FILES = ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.memsw.limit_in_bytes")

SYSCTL_KEYS = ("swappiness", "vfs_cache_pressure", "overcommit_memory")

# fstab tags and the udev directory that resolves each of them to a device node.
DEVICE_TAG_DIRS = {
    "UUID": "/dev/disk/by-uuid",
    "LABEL": "/dev/disk/by-label",
    "PARTUUID": "/dev/disk/by-partuuid",
    "PARTLABEL": "/dev/disk/by-partlabel",
}

# Checked in this order: kubernetes runs pods on containerd/docker/cri-o, so it wins over them.
CONTAINER_RUNTIMES = ("kubernetes", "podman", "docker", "containerd", "lxc")

# Substrings of the cgroup path of PID 1 (cgroup v1, or v2 without a cgroup namespace).
_CGROUP_PATH_MARKERS = (
    ("kubepods", "kubernetes"),
    ("libpod", "podman"),
    ("/docker/", "docker"),
    ("/docker-", "docker"),
    ("cri-containerd", "containerd"),
    ("/lxc/", "lxc"),
    ("/lxc.payload", "lxc"),
)

# Where the root filesystem (or the bind-mounted /etc/hostname) of a container comes from.
_MOUNT_SOURCE_MARKERS = (
    ("/var/lib/kubelet/", "kubernetes"),
    ("/var/lib/docker/", "docker"),
    ("/containers/storage/", "podman"),
    ("/var/lib/containerd/", "containerd"),
    ("/run/containerd/", "containerd"),
)

# Values of the `container` environment variable (and /run/systemd/container) per runtime.
_CONTAINER_ENV_VALUES = {
    "docker": "docker",
    "podman": "podman",
    "lxc": "lxc",
    "lxc-libvirt": "lxc",
}

_ZRAM_DEVICE_RE = re.compile(r"^/dev/zram\d+$")


def _int_or_none(text):
    try:
        return int(text.strip())
    except (AttributeError, ValueError):
        return None


def parse_meminfo(text: str | None) -> dict[str, int]:
    """/proc/meminfo -> {field: value}; "kB" values are converted to bytes, counts (HugePages_*) stay as is."""
    values = {}
    for line in (text or "").splitlines():
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if not sep or not parts:
            continue
        number = _int_or_none(parts[0])
        if number is None:
            continue
        values[name.strip()] = number * KIB if parts[1:] == ["kB"] else number
    return values


def parse_proc_swaps(text: str | None) -> list[dict]:
    """/proc/swaps -> list of active swap areas, in the kernel's order."""
    areas = []
    for line in (text or "").splitlines():
        fields = line.rsplit(None, 4)
        if len(fields) != 5 or fields[0] == "Filename":
            continue
        path, area_type, size_kib, used_kib, priority = fields
        size_kib, used_kib, priority = _int_or_none(size_kib), _int_or_none(used_kib), _int_or_none(priority)
        if size_kib is None or used_kib is None or priority is None:
            continue
        path = _unescape(path)
        areas.append({
            "path": path,
            "type": area_type,
            "size_bytes": size_kib * KIB,
            "used_bytes": used_kib * KIB,
            "priority": priority,
            "zram": bool(_ZRAM_DEVICE_RE.match(path)),
        })
    return areas


def parse_fstab_swap_entries(text: str | None) -> list[dict]:
    """/etc/fstab -> every uncommented swap line: source as written, options and pri= priority."""
    entries = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[2] != "swap":
            continue
        options = fields[3].split(",") if len(fields) > 3 else []
        priority = None
        for option in options:
            if option.startswith("pri="):
                priority = _int_or_none(option[len("pri="):])
        entries.append({"source": fields[0], "options": options, "priority": priority})
    return entries


def fstab_source_tag(source: str) -> tuple[str, str] | None:
    """("UUID", "abc") for UUID=abc (quotes allowed, as libmount does); None for a plain path."""
    tag, sep, value = source.partition("=")
    if not sep or tag not in DEVICE_TAG_DIRS:
        return None
    return tag, value.strip("\"'")


def udev_encode(value: str) -> str:
    """Encode a tag value the way udev names its /dev/disk/by-* links ("my swap" -> "my\\x20swap")."""
    return "".join(char if char.isalnum() or char in "#+-.:=@_" else f"\\x{ord(char):02x}" for char in value)


def parse_sysctl_value(text: str | None) -> int | None:
    """Text of a /proc/sys file holding one integer -> int; None when missing or not a single integer."""
    return _int_or_none(text)


def parse_psi(text: str | None) -> dict | None:
    """A /proc/pressure/* (or cgroup *.pressure) file -> {"some": {...}, "full": {...}}; None without PSI.

    Each line is `some|full avg10=0.00 avg60=0.00 avg300=0.00 total=123`. The averages are percentages,
    rounded to one decimal like every percentage in the facts; `total` (stall time in microseconds) is
    returned as `total_us`. A kind the file does not have (cpu "full" before Linux 5.13) is None.
    """
    pressure = {"some": None, "full": None}
    for line in (text or "").splitlines():
        kind, _sep, rest = line.strip().partition(" ")
        if kind not in pressure:
            continue
        pairs = dict(pair.split("=", 1) for pair in rest.split() if "=" in pair)
        try:
            pressure[kind] = {
                "avg10": round(float(pairs["avg10"]), 1),
                "avg60": round(float(pairs["avg60"]), 1),
                "avg300": round(float(pairs["avg300"]), 1),
                "total_us": int(pairs["total"]),
            }
        except (KeyError, ValueError):
            continue
    if pressure["some"] is None and pressure["full"] is None:
        return None
    return pressure


def parse_vmstat_oom_kills(text: str | None) -> int | None:
    """/proc/vmstat -> the oom_kill counter (OOM kills since boot); None on kernels before 4.13."""
    for line in (text or "").splitlines():
        name, _sep, value = line.partition(" ")
        if name == "oom_kill":
            return _int_or_none(value)
    return None


def parse_environ(data: bytes | None) -> dict[str, str]:
    """Bytes of /proc/<pid>/environ (NUL-separated NAME=value) -> dict."""
    environ = {}
    for item in (data or b"").split(b"\0"):
        name, sep, value = item.decode("utf-8", "replace").partition("=")
        if sep:
            environ[name] = value
    return environ


def parse_proc_cgroup(text):
    """/proc/<pid>/cgroup -> {"v2": path, "memory": v1 memory controller path, "systemd": v1 name=systemd path},
    each None when absent."""
    paths = {"v2": None, "memory": None, "systemd": None}
    for line in (text or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and not controllers:
            paths["v2"] = path
        elif "memory" in controllers.split(","):
            paths["memory"] = path
        elif controllers == "name=systemd":
            paths["systemd"] = path
    return paths


def _process_cgroup_dir(mount, process_path):
    """Directory of the cgroup `process_path` under a cgroup mount (the mount itself when it is not below).

    The mount's root need not be "/": docker without a cgroup namespace mounts the container's own
    cgroup (root /docker/<id>) while /proc/self/cgroup says /docker/<id>, which maps to the mount point.
    """
    root = mount["root"].rstrip("/")
    if process_path == root or process_path.startswith(root + "/"):
        relative = process_path[len(root):].strip("/")
        # A process outside the cgroup namespace shows up as /../x: nothing of it is mounted here.
        if relative and ".." not in relative.split("/"):
            return os.path.join(mount["mount"], relative)
    return mount["mount"]


def locate_memory_cgroup(self_cgroup: str | None, mountinfo: str | None) -> dict:
    """Find the memory cgroup of a process from its /proc/<pid>/cgroup and mountinfo texts.

    Returns {"version": 1|2|None, "dirs": [...]}: the directories from the process's own cgroup up to
    the top of the mounted hierarchy (a container's namespace root), leaf first, as paths on the host.
    The memory controller decides the version, so a hybrid host (v1 memory + v2 "unified") is 1.
    """
    paths = parse_proc_cgroup(self_cgroup)
    mounts = parse_mountinfo(mountinfo)
    # Prefer the standard place when a cgroup filesystem is mounted more than once.
    mounts.sort(key=lambda mount: not mount["mount"].startswith("/sys/fs/cgroup"))
    v1_mounts = [m for m in mounts if m["fstype"] == "cgroup" and "memory" in m["super_options"].split(",")]
    v2_mounts = [m for m in mounts if m["fstype"] == "cgroup2"]
    if v1_mounts and paths["memory"] is not None:
        version, mount, process_path = 1, v1_mounts[0], paths["memory"]
    elif v2_mounts and paths["v2"] is not None:
        version, mount, process_path = 2, v2_mounts[0], paths["v2"]
    else:
        return {"version": None, "dirs": []}
    directory = _process_cgroup_dir(mount, process_path)
    dirs = [directory]
    while directory != mount["mount"] and directory.startswith(mount["mount"]):
        directory = os.path.dirname(directory)
        dirs.append(directory)
    return {"version": version, "dirs": dirs}


def parse_cgroup_bytes(text: str | None) -> int | None:
    """A cgroup memory limit or counter -> bytes; None for "max", the v1 unlimited sentinel, or no data."""
    if text is not None and text.strip() == "max":
        return None
    value = _int_or_none(text)
    if value is None or value < 0 or value >= CGROUP_V1_UNLIMITED_FLOOR:
        return None
    return value


def parse_cgroup_memory(version: int | None, levels: list[dict]) -> dict:
    """Memory limits of a process from the files of its cgroup levels (leaf first, see locate_memory_cgroup).

    `levels` holds one {file name: text or None} dict per level, with the CGROUP_V2_FILES or
    CGROUP_V1_FILES of `version`. Limits are hierarchical, so the effective one is the smallest along the
    path. Usage is read where that limit is set (the container's cgroup), else at the top level.
    """
    result = {"memory_limit_bytes": None, "memory_usage_bytes": None, "swap_limit_bytes": None}
    if version not in (1, 2) or not levels:
        return result
    limit_file, usage_file, swap_file = CGROUP_V2_FILES if version == 2 else CGROUP_V1_FILES
    limits = [parse_cgroup_bytes(level.get(limit_file)) for level in levels]
    swap_caps = [parse_cgroup_bytes(level.get(swap_file)) for level in levels]
    known_limits = [limit for limit in limits if limit is not None]
    known_swap_caps = [cap for cap in swap_caps if cap is not None]

    memory_limit = min(known_limits) if known_limits else None
    usage_level = levels[limits.index(memory_limit)] if memory_limit is not None else levels[-1]
    result["memory_limit_bytes"] = memory_limit
    result["memory_usage_bytes"] = parse_cgroup_bytes(usage_level.get(usage_file))
    if version == 2:
        result["swap_limit_bytes"] = min(known_swap_caps) if known_swap_caps else None
    elif known_swap_caps and memory_limit is not None:
        # v1 limits memory+swap together; what is left above the memory limit may go to swap.
        result["swap_limit_bytes"] = max(min(known_swap_caps) - memory_limit, 0)
    return result


def detect_container(proc1_cgroup: str | None = None, mountinfo: str | None = None, environ: dict | None = None,
                     dockerenv: bool = False, containerenv: bool = False, systemd_container: str | None = None,
                     openvz: bool = False) -> dict:
    """Tell whether this is a container and which runtime runs it.

    proc1_cgroup/mountinfo: texts of /proc/1/cgroup and /proc/self/mountinfo; environ: PID 1's
    environment (dict or None when unreadable); dockerenv/containerenv: /.dockerenv and
    /run/.containerenv exist; systemd_container: text of /run/systemd/container; openvz: /proc/vz exists
    without /proc/bc (an OpenVZ/Virtuozzo container, which has no runtime name in the schema).
    Returns {"detected": bool, "runtime": one of CONTAINER_RUNTIMES or None}.
    """
    environ = environ or {}
    found = set()
    generic = openvz

    for value in (environ.get("container"), (systemd_container or "").strip() or None):
        if value:
            generic = True
            if value in _CONTAINER_ENV_VALUES:
                found.add(_CONTAINER_ENV_VALUES[value])
    if "KUBERNETES_SERVICE_HOST" in environ:
        found.add("kubernetes")
    if dockerenv:
        found.add("docker")
    if containerenv:
        found.add("podman")

    for line in (proc1_cgroup or "").splitlines():
        path = line.split(":", 2)[-1]
        found.update(runtime for marker, runtime in _CGROUP_PATH_MARKERS if marker in path)
        if "machine.slice/machine-" in path:  # systemd-nspawn or libvirt-lxc
            generic = True

    # Only the mounts a container gets from its runtime: a docker *host* has overlay mounts elsewhere.
    for mount in parse_mountinfo(mountinfo):
        point = mount["mount"]
        if point in ("/", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"):
            origin = " ".join((mount["root"], mount["device"], mount["super_options"]))
            found.update(runtime for marker, runtime in _MOUNT_SOURCE_MARKERS if marker in origin)
        elif point.startswith("/var/run/secrets/kubernetes.io/") or point.startswith("/run/secrets/kubernetes.io/"):
            found.add("kubernetes")
        elif point == "/proc/meminfo" and mount["fstype"] == "fuse.lxcfs":
            found.add("lxc")

    runtime = next((name for name in CONTAINER_RUNTIMES if name in found), None)
    return {"detected": bool(found) or generic, "runtime": runtime}


def parse_zram(name: str, disksize: str | None = None, comp_algorithm: str | None = None,
               mm_stat: str | None = None) -> dict:
    """Texts of /sys/block/<name>/{disksize,comp_algorithm,mm_stat} -> one zram device."""
    algorithm = None
    algorithms = (comp_algorithm or "").split()
    for candidate in algorithms:
        if candidate.startswith("[") and candidate.endswith("]"):
            algorithm = candidate[1:-1]
    if algorithm is None and len(algorithms) == 1:
        algorithm = algorithms[0]
    # mm_stat: orig_data_size compr_data_size mem_used_total ... (Linux 4.1+).
    stats = [_int_or_none(field) for field in (mm_stat or "").split()]
    return {
        "name": name,
        "disksize_bytes": _int_or_none(disksize),
        "orig_data_bytes": stats[0] if len(stats) >= 2 else None,
        "compr_data_bytes": stats[1] if len(stats) >= 2 else None,
        "algorithm": algorithm,
    }


def _fstab_active(entry, resolved, area_paths):
    """True/False when the fstab line is/is not an active area; None when its tag cannot be resolved."""
    candidates = {_unescape(entry["source"]), resolved} - {None}
    if candidates & area_paths:
        return True
    if fstab_source_tag(entry["source"]) and resolved is None and area_paths:
        return None
    return False


def _memory_totals(meminfo, psutil_totals):
    if psutil_totals:
        memory, swap = dict(psutil_totals["memory"]), dict(psutil_totals["swap"])
        if "MemAvailable" not in meminfo:
            memory["available_bytes"] = None  # psutil would estimate it on kernels before 3.14
        return memory, swap
    swap_total, swap_free = meminfo.get("SwapTotal"), meminfo.get("SwapFree")
    memory = {
        "total_bytes": meminfo.get("MemTotal"),
        "available_bytes": meminfo.get("MemAvailable"),
        "free_bytes": meminfo.get("MemFree"),
    }
    swap = {
        "total_bytes": swap_total,
        "used_bytes": swap_total - swap_free if swap_total is not None and swap_free is not None else None,
        "free_bytes": swap_free,
    }
    return memory, swap


def build_swap_facts(inputs: dict) -> dict:
    """Assemble `hostcare_swap` (docs/facts.md) from the raw texts that read_swap_inputs collects.

    Keys of `inputs` (any may be missing or None): meminfo, swaps, fstab, vmstat, psi_memory (texts);
    sysctl ({name: text} for SYSCTL_KEYS); fstab_devices ({fstab source: resolved device path or None});
    cgroup ({"version", "levels"} as for parse_cgroup_memory); proc1_cgroup, mountinfo, environ,
    dockerenv, containerenv, systemd_container, openvz (see detect_container); zram (list of
    {"name", "disksize", "comp_algorithm", "mm_stat"} texts); psutil ({"memory": {...}, "swap": {...}}
    in the facts' own keys, or None when psutil is not available).
    """
    meminfo = parse_meminfo(inputs.get("meminfo"))
    memory, swap = _memory_totals(meminfo, inputs.get("psutil"))

    cgroup = inputs.get("cgroup") or {}
    container = detect_container(
        proc1_cgroup=inputs.get("proc1_cgroup"),
        mountinfo=inputs.get("mountinfo"),
        environ=inputs.get("environ"),
        dockerenv=bool(inputs.get("dockerenv")),
        containerenv=bool(inputs.get("containerenv")),
        systemd_container=inputs.get("systemd_container"),
        openvz=bool(inputs.get("openvz")),
    )
    container["cgroup_version"] = cgroup.get("version")
    container.update(parse_cgroup_memory(cgroup.get("version"), cgroup.get("levels") or []))

    areas = parse_proc_swaps(inputs.get("swaps"))
    area_paths = {area["path"] for area in areas}
    devices = inputs.get("fstab_devices") or {}
    fstab = []
    for entry in parse_fstab_swap_entries(inputs.get("fstab")):
        entry["active"] = _fstab_active(entry, devices.get(entry["source"]), area_paths)
        fstab.append(entry)

    sysctl_texts = inputs.get("sysctl") or {}
    return {
        "source": "psutil" if inputs.get("psutil") else "proc",
        "memory": memory,
        "container": container,
        "swap": swap,
        "areas": areas,
        "fstab": fstab,
        "sysctl": {name: parse_sysctl_value(sysctl_texts.get(name)) for name in SYSCTL_KEYS},
        "zram": [parse_zram(**device) for device in inputs.get("zram") or []],
        "psi": parse_psi(inputs.get("psi_memory")),
        "oom_kills": parse_vmstat_oom_kills(inputs.get("vmstat")),
    }


def _resolve_device(root, path):
    """Resolve symlinks of `path` inside `root`; None when it does not exist or leaves `root`."""
    full = os.path.join(root, path.lstrip("/"))
    if not os.path.lexists(full):
        return None
    real_root = os.path.realpath(root)
    relative = os.path.relpath(os.path.realpath(full), real_root)
    if relative.startswith(".."):
        return None
    return "/" + relative if relative != "." else "/"


def read_psutil_totals() -> dict | None:
    """Memory and swap totals from psutil in the facts' keys; None without psutil (or when it fails)."""
    if psutil is None:
        return None
    try:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    except Exception:  # pylint: disable=broad-except  # any psutil failure means: fall back to /proc
        return None
    return {
        "memory": {"total_bytes": memory.total, "available_bytes": memory.available, "free_bytes": memory.free},
        "swap": {"total_bytes": swap.total, "used_bytes": swap.used, "free_bytes": swap.free},
    }


def read_swap_inputs(root: str = "/") -> dict:
    """Read everything build_swap_facts needs below `root`; a missing or unreadable file gives None.

    psutil always reads the live /proc, so it is only asked when `root` is "/".
    """
    def under(path):
        return os.path.join(root, path.lstrip("/"))

    fstab = read_text_if_readable(under("/etc/fstab"))
    fstab_devices = {}
    for entry in parse_fstab_swap_entries(fstab):
        tag = fstab_source_tag(entry["source"])
        if tag:
            link = os.path.join(DEVICE_TAG_DIRS[tag[0]], udev_encode(tag[1]))
            fstab_devices[entry["source"]] = _resolve_device(root, link)
        else:
            fstab_devices[entry["source"]] = _resolve_device(root, _unescape(entry["source"]))

    location = locate_memory_cgroup(read_text_if_readable(under("/proc/self/cgroup")), read_text_if_readable(under("/proc/self/mountinfo")))
    cgroup_files = CGROUP_V2_FILES if location["version"] == 2 else CGROUP_V1_FILES
    cgroup_levels = [
        {name: read_text_if_readable(os.path.join(under(directory), name)) for name in cgroup_files}
        for directory in location["dirs"]
    ]

    zram = []
    devices = glob.glob(under("/sys/block/zram*"))
    for device in sorted(devices, key=lambda path: int(re.sub(r"\D", "", os.path.basename(path)) or 0)):
        zram.append({
            "name": os.path.basename(device),
            "disksize": read_text_if_readable(os.path.join(device, "disksize")),
            "comp_algorithm": read_text_if_readable(os.path.join(device, "comp_algorithm")),
            "mm_stat": read_text_if_readable(os.path.join(device, "mm_stat")),
        })

    environ = read_bytes(under("/proc/1/environ"))
    return {
        "meminfo": read_text_if_readable(under("/proc/meminfo")),
        "swaps": read_text_if_readable(under("/proc/swaps")),
        "fstab": fstab,
        "fstab_devices": fstab_devices,
        "vmstat": read_text_if_readable(under("/proc/vmstat")),
        "psi_memory": read_text_if_readable(under("/proc/pressure/memory")),
        "sysctl": {name: read_text_if_readable(under(f"/proc/sys/vm/{name}")) for name in SYSCTL_KEYS},
        "cgroup": {"version": location["version"], "levels": cgroup_levels},
        "proc1_cgroup": read_text_if_readable(under("/proc/1/cgroup")),
        "mountinfo": read_text_if_readable(under("/proc/self/mountinfo")),
        "environ": parse_environ(environ) if environ is not None else None,
        "dockerenv": os.path.exists(under("/.dockerenv")),
        "containerenv": os.path.exists(under("/run/.containerenv")),
        "systemd_container": read_text_if_readable(under("/run/systemd/container")),
        "openvz": os.path.exists(under("/proc/vz")) and not os.path.exists(under("/proc/bc")),
        "zram": zram,
        "psutil": read_psutil_totals() if root == "/" else None,
    }
