# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Who uses the memory: every process of /proc, grouped by its owner (a Docker container, a systemd unit, a
supervisord program, a pm2 app or, for everything else, its command name), with D-state and zombie processes and
the load against the CPUs. Part of the hostcare_workload facts (hostcare.vps.workload_facts).

The parsers take the texts of /proc files and return dicts (no I/O); read_processes() is the only reader, bounded
by a time budget. Only process names (``comm``, at most 15 characters) and, for supervisord and pm2 children, the
base names of the program are returned: never a command line's arguments, never an environment.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_proc_cgroup

CONTAINER_ID_RE = re.compile(r"(?:^|/|-)([0-9a-f]{64})(?:\.scope)?(?=/|$)")
"""A container id in a cgroup path: /docker/<id>, /system.slice/docker-<id>.scope, cri-containerd-<id>.scope."""
SUPERVISORS = {"supervisord": "supervisord"}
"""Process names of process managers whose children are grouped per program."""
PM2_PREFIX = "PM2 v"
"""pm2's God Daemon renames itself "PM2 vX.Y.Z: God Daemon (/root/.pm2)"; comm keeps the first 15 characters."""
POSTGRES_NAMES = frozenset({"postgres", "postmaster"})
"""Process names of PostgreSQL servers: their memory is the one the PostgreSQL memory model accounts for."""


def parse_stat(text):
    """/proc/<pid>/stat -> {pid, comm, state, ppid, rss_pages}; None when unreadable. comm may hold spaces and
    parentheses, so it is what lies between the first "(" and the last ")"."""
    if not text:
        return None
    start, end = text.find("("), text.rfind(")")
    if start < 0 or end < start:
        return None
    fields = text[end + 2:].split()
    try:
        return {"pid": int(text[:start]), "comm": text[start + 1:end], "state": fields[0], "ppid": int(fields[1]),
                "rss_pages": int(fields[21])}
    except (IndexError, ValueError):
        return None


def parse_smaps_rollup(text):
    """/proc/<pid>/smaps_rollup -> {pss_bytes, swap_bytes} (kB lines), None when unreadable."""
    if not text:
        return None
    values = {}
    for line in text.splitlines():
        name, _sep, rest = line.partition(":")
        if name in ("Pss", "Swap"):
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[name] = int(parts[0]) * 1024
    if "Pss" not in values:
        return None
    return {"pss_bytes": values["Pss"], "swap_bytes": values.get("Swap", 0)}


def cgroup_path(text):
    """The cgroup path of a process from /proc/<pid>/cgroup: v1's memory one, else the v2 one, else v1's
    name=systemd one (the first that is not the root)."""
    found = parse_proc_cgroup(text)
    for key in ("memory", "v2", "systemd"):
        if found[key] not in (None, "", "/"):
            return found[key]
    return found["v2"] or found["memory"] or found["systemd"]


def owner_of_cgroup(path):
    """("container", id) or ("systemd", unit) from a cgroup path, else None. The last container id wins (a
    container inside a container), a .service unit of the user's session slice counts as the unit too."""
    if not path:
        return None
    ids = CONTAINER_ID_RE.findall(path)
    if ids:
        return ("container", ids[-1])
    for segment in reversed(path.strip("/").split("/")):
        if segment.endswith(".service"):
            return ("systemd", segment)
    return None


def program_name(cmdline):
    """The base name of a program from its NUL-separated command line, with the base name of its script for an
    interpreter (node app.js -> node app.js); never other arguments."""
    argv = [arg for arg in (cmdline or b"").decode("utf-8", "replace").split("\0") if arg]
    if not argv or not argv[0].split():
        return None
    argv = argv[0].split() + argv[1:]  # a process title (pm2, node) is one string with spaces
    name = os.path.basename(argv[0])
    for arg in argv[1:3]:
        if not arg.startswith("-") and "=" not in arg and re.search(r"\.(js|mjs|cjs|py|rb|php|sh)$", arg):
            return f"{name} {os.path.basename(arg)}"[:80]
    return name[:80]


def manager_kind(comm):
    """"supervisord" or "pm2" when ``comm`` is that process manager, else None."""
    if comm in SUPERVISORS:
        return "supervisord"
    if comm and comm.startswith(PM2_PREFIX):
        return "pm2"
    return None


def parse_loadavg(text):
    """/proc/loadavg -> {load1, load5, load15}, None when unreadable."""
    try:
        one, five, fifteen = (float(value) for value in (text or "").split()[:3])
    except ValueError:
        return None
    return {"load1": one, "load5": five, "load15": fifteen}


def cgroup_root(pid1):
    """The cgroup this host's processes live under, from its PID 1 (a read_processes() dict or None): "/" on a host,
    "/docker/<id>" in a container that sees the host's cgroup tree (cgroupns host, cgroup v1), where systemd as
    PID 1 sits in <root>/init.scope and every unit in <root>/system.slice/<unit>."""
    path = (pid1 or {}).get("cgroup") or "/"
    if path.endswith("/init.scope"):
        path = path[:-len("/init.scope")]
    return path.rstrip("/") or "/"


def relative_cgroup(path, root):
    """``path`` below ``root`` ("/docker/<id>/system.slice/x.service" under "/docker/<id>" -> "/system.slice/x.service"):
    the host's own container id is not an owner; a path outside ``root`` is kept as it is."""
    if not path or root == "/" or not (path == root or path.startswith(root + "/")):
        return path
    return path[len(root):] or "/"


def group_key(process, by_pid, root="/"):
    """(kind, name) of the owner of ``process``: its container or systemd unit from the cgroup (below the host's
    own, ``root``: see cgroup_root()), unless a supervisord or pm2 daemon is an ancestor (then the program below
    it), else its command name."""
    owner = owner_of_cgroup(relative_cgroup(process.get("cgroup"), root))
    if owner and owner[0] == "container":
        return owner
    child, parent, seen = process, by_pid.get(process["ppid"]), 0
    while parent is not None and seen < 64:
        kind = manager_kind(parent["comm"])
        if kind:
            return (kind, child.get("program") or child["comm"])
        child, parent, seen = parent, by_pid.get(parent["ppid"]), seen + 1
    if manager_kind(process["comm"]):
        return (manager_kind(process["comm"]), process["comm"])
    if owner:
        return owner
    return ("command", process["comm"])


def group_processes(processes, total_bytes=None):
    """Groups of ``processes`` (dicts from read_processes) by owner, biggest first: [{kind, name, processes,
    rss_bytes, pss_bytes, swap_bytes, memory_bytes, memory_source, share_percent, postgres}]. ``memory_bytes`` is
    the PSS sum when every process of the group had one (shared pages counted once), else the RSS sum."""
    by_pid = {item["pid"]: item for item in processes}
    root = cgroup_root(by_pid.get(1))
    groups = {}
    for item in processes:
        if item.get("kernel"):
            continue
        key = group_key(item, by_pid, root)
        group = groups.setdefault(key, {"kind": key[0], "name": key[1], "processes": 0, "rss_bytes": 0,
                                        "pss_bytes": 0, "swap_bytes": 0, "pss_complete": True, "postgres": False})
        group["processes"] += 1
        group["rss_bytes"] += item["rss_bytes"]
        if item.get("pss_bytes") is not None:
            group["pss_bytes"] += item["pss_bytes"]
            group["swap_bytes"] += item.get("swap_bytes") or 0
        elif item["rss_bytes"]:  # a zombie holds nothing: it needs no PSS
            group["pss_complete"] = False
        if item["comm"] in POSTGRES_NAMES:
            group["postgres"] = True
    result = []
    for group in groups.values():
        complete = group.pop("pss_complete")
        if not complete:
            group["pss_bytes"] = group["swap_bytes"] = None
        group["memory_bytes"] = group["pss_bytes"] if complete else group["rss_bytes"]
        group["memory_source"] = "pss" if complete else "rss"
        group["share_percent"] = (round(group["memory_bytes"] * 100.0 / total_bytes, 1)
                                  if total_bytes else None)
        result.append(group)
    result.sort(key=lambda group: (-group["memory_bytes"], group["kind"], group["name"]))
    return result


def stuck_processes(processes, limit=20):
    """{d_state, zombies}: counts and the first ``limit`` of each ({pid, comm, ppid, parent})."""
    by_pid = {item["pid"]: item for item in processes}
    result = {}
    for key, state in (("d_state", "D"), ("zombies", "Z")):
        items = [item for item in processes if item["state"] == state]
        result[f"{key}_count"] = len(items)
        result[key] = [{"pid": item["pid"], "comm": item["comm"], "ppid": item["ppid"],
                        "parent": (by_pid.get(item["ppid"]) or {}).get("comm")} for item in items[:limit]]
    return result


def _is_kernel_thread(stat):
    return stat["pid"] == 2 or stat["ppid"] == 2


def read_processes(proc="/proc", time_budget=5.0, pss=True, clock=time.monotonic):
    """Every process of ``proc`` (stat, cgroup, and for children of process managers the program name), then
    smaps_rollup (PSS and swap, where readable) biggest first while time remains. Returns (processes, status):
    status {seen, read, complete, pss_read, elapsed_seconds}. Never raises for a vanished or unreadable process."""
    start = clock()
    deadline = start + time_budget
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    try:
        pids = [name for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        pids = []
    processes, complete = [], True
    for index, pid in enumerate(pids):
        if index % 64 == 0 and clock() > start + time_budget * 0.7:
            complete = False  # keep the last 30 % of the budget for PSS
            break
        stat = parse_stat(read_text_if_readable(f"{proc}/{pid}/stat"))
        if stat is None:
            continue
        stat["kernel"] = _is_kernel_thread(stat)
        stat["rss_bytes"] = stat.pop("rss_pages") * page
        if not stat["kernel"]:
            stat["cgroup"] = cgroup_path(read_text_if_readable(f"{proc}/{pid}/cgroup"))
        processes.append(stat)
    by_pid = {item["pid"]: item for item in processes}
    for item in processes:
        parent = by_pid.get(item["ppid"])
        if parent is not None and manager_kind(parent["comm"]):
            try:
                with open(f"{proc}/{item['pid']}/cmdline", "rb") as handle:
                    item["program"] = program_name(handle.read(4096))
            except OSError:
                pass
    pss_read = 0
    if pss:
        for item in sorted((p for p in processes if not p["kernel"]), key=lambda p: -p["rss_bytes"]):
            if clock() > deadline:
                break
            rollup = parse_smaps_rollup(read_text_if_readable(f"{proc}/{item['pid']}/smaps_rollup"))
            if rollup is not None:
                item.update(rollup)
                pss_read += 1
    status = {"seen": len(pids), "read": len(processes), "complete": complete, "pss_read": pss_read,
              "elapsed_seconds": round(clock() - start, 3)}
    return processes, status
