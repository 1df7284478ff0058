# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The hostcare_workload facts (hostcare.vps.workload_facts): who uses the memory (_processes), the containers'
limits, restarts and /dev/shm (_workload_containers), systemd's failed and restarted units (_workload_systemd) and
the app variables of both (_app_env). build_workload_facts() is pure; gather_workload_facts() reads the host.
"""

from __future__ import annotations

import os
import time

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DEFAULT_SOCKET, DEFAULT_TIMEOUT, connection_options
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_meminfo
from ansible_collections.hostcare.vps.plugins.module_utils._processes import (
    group_processes,
    owner_of_cgroup,
    parse_loadavg,
    read_processes,
    stuck_processes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._workload_containers import read_containers
from ansible_collections.hostcare.vps.plugins.module_utils._workload_systemd import read_systemd

FORMAT = 1

# The options of hostcare.vps.workload_facts (and the workload options of hostcare.vps.audit_facts).
ARGUMENT_SPEC = {
    "time_budget": {"type": "raw", "default": 5},
    "top": {"type": "raw", "default": 10},
    "pss": {"type": "bool", "default": True},
    "docker": {"type": "bool", "default": True},
    "systemd": {"type": "bool", "default": True},
    "socket_path": {"type": "path", "default": DEFAULT_SOCKET, "aliases": ["socket"]},
    "timeout": {"type": "raw", "default": DEFAULT_TIMEOUT},
}


def checked_options(params):
    """The options checked before anything is read; raise _validate.OptionError naming the option."""
    socket_path, timeout = connection_options(params)
    return {"socket_path": socket_path, "timeout": timeout,
            "time_budget": _validate.timeout("time_budget", params["time_budget"]),
            "top": _validate.integer("top", params["top"], minimum=1, maximum=1000),
            "pss": params["pss"], "docker": params["docker"], "systemd": params["systemd"]}


def _name_container_groups(groups, containers):
    """Container groups named after their container (its facts say whether it is PostgreSQL)."""
    by_id = {item["id"]: item for item in containers}
    for group in groups:
        if group["kind"] != "container":
            continue
        container = by_id.get(group["name"])
        group["id"] = group["name"][:12]
        if container is not None:
            group["name"] = container["name"]
            group["postgres"] = container["postgres"] = group["postgres"] or container["postgres"]
            if container.get("memory_usage_bytes") is None:
                container["memory_usage_bytes"] = group["memory_bytes"]
                container["memory_usage_source"] = group["memory_source"]
        else:
            group["name"] = f"container {group['id']}"
    return groups


def build_workload_facts(inputs, top=10):
    """The hostcare_workload facts from ``inputs``: meminfo and loadavg (texts), cpu_count, processes and
    process_status (read_processes()), docker (read_containers() or None), systemd (read_systemd() or None)."""
    meminfo = parse_meminfo(inputs.get("meminfo"))
    total = meminfo.get("MemTotal")
    processes = inputs.get("processes") or []
    docker = inputs.get("docker") or {"available": False, "reason_code": "not_asked", "reason": "not asked",
                                      "containers": []}
    containers = docker.get("containers") or []
    for container in containers:
        container.setdefault("memory_usage_source", "cgroup" if container.get("memory_usage_bytes") is not None
                             else None)
    groups = _name_container_groups(group_processes(processes, total), containers)
    postgres_bytes = sum(group["memory_bytes"] for group in groups if group["postgres"])
    all_bytes = sum(group["memory_bytes"] for group in groups)
    shown = groups[:top]
    return {
        "format": FORMAT,
        "memory": {"total_bytes": total, "available_bytes": meminfo.get("MemAvailable"),
                   "swap_total_bytes": meminfo.get("SwapTotal"), "swap_free_bytes": meminfo.get("SwapFree")},
        "cpu_count": inputs.get("cpu_count"),
        "load": parse_loadavg(inputs.get("loadavg")),
        "processes": dict(inputs.get("process_status") or {}, **stuck_processes(processes)),
        "groups": shown,
        "groups_total": len(groups),
        "other_groups_bytes": all_bytes - sum(group["memory_bytes"] for group in shown),
        "measured": {"total_bytes": all_bytes, "postgres_bytes": postgres_bytes,
                     "other_bytes": all_bytes - postgres_bytes},
        "docker": docker,
        "systemd": inputs.get("systemd") or {"available": False, "reason": "not asked", "failed": [],
                                             "restarted": [], "apps": []},
    }


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def gather_workload_facts(run_command, socket_path, timeout, time_budget=5.0, top=10, pss=True, docker=True,
                          systemd=True, clock=time.monotonic):
    """Read the host (read-only) and build the hostcare_workload facts."""
    processes, status = read_processes("/proc", time_budget=time_budget, pss=pss, clock=clock)
    cgroups = {}
    for item in processes:
        owner = owner_of_cgroup(item.get("cgroup"))
        if owner and owner[0] == "container":
            cgroups.setdefault(owner[1], item["cgroup"])
    inputs = {"meminfo": read_text_if_readable("/proc/meminfo"), "loadavg": read_text_if_readable("/proc/loadavg"),
              "cpu_count": _cpu_count(), "processes": processes, "process_status": status}
    if docker:
        inputs["docker"] = read_containers(socket_path, timeout, cgroups)
    if systemd:
        inputs["systemd"] = read_systemd(run_command)
    return build_workload_facts(inputs, top=top)
