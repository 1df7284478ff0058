# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The containers of hostcare_workload: memory and swap limits, usage from the cgroup, restarts, OOM kills, the
size of /dev/shm and the app variables (_app_env) of each, from the Docker Engine API (the one client of _docker).

container_facts() is pure (an inspect answer in, a dict out); read_containers() asks the daemon and reads the
containers' cgroup memory counters.
"""

from __future__ import annotations

import os
import re

from ansible_collections.hostcare.vps.plugins.module_utils._app_env import env_list_variables
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerAPIError, DockerClient, DockerUnavailable
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_cgroup_bytes

DOCKER_DEFAULT_SHM_BYTES = 64 * 1024 * 1024
"""Docker's /dev/shm when shm_size is not given."""
POSTGRES_IMAGE_RE = re.compile(r"(^|/)(postgres|postgresql|postgis|timescaledb[^/:]*|pgvector)(:|@|$)")
COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
CGROUP_ROOT = "/sys/fs/cgroup"


def _number(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _swap_limit(memory, memory_swap):
    """The swap a container may use: MemorySwap is memory+swap; -1 unlimited (None), 0 unset (Docker then allows
    as much swap as memory), no memory limit: no swap limit either."""
    if not memory:
        return None
    if memory_swap in (None, 0):
        return memory
    if memory_swap < 0:
        return None
    return max(memory_swap - memory, 0)


def container_facts(inspect, usage_bytes=None):
    """The facts of one container from its GET /containers/{id}/json answer (only the keys below are read;
    Config.Env only through _app_env, which keeps the app variables and drops the rest)."""
    config = inspect.get("Config") or {}
    host = inspect.get("HostConfig") or {}
    state = inspect.get("State") or {}
    labels = config.get("Labels") or {}
    memory = _number(host.get("Memory")) or 0
    memory_swap = _number(host.get("MemorySwap"))
    image = str(config.get("Image") or "")
    networks = (inspect.get("NetworkSettings") or {}).get("Networks") or {}
    aliases = sorted({str(alias) for net in networks.values() if isinstance(net, dict)
                      for alias in (net.get("Aliases") or []) if isinstance(alias, str)})
    return {
        "id": str(inspect.get("Id") or ""),
        "name": str(inspect.get("Name") or "").lstrip("/"),
        "image": image,
        "state": state.get("Status"),
        "running": bool(state.get("Running")),
        "restarting": bool(state.get("Restarting")) or state.get("Status") == "restarting",
        "restart_count": _number(inspect.get("RestartCount")) or 0,
        "restart_policy": ((host.get("RestartPolicy") or {}).get("Name") or "no"),
        "oom_killed": bool(state.get("OOMKilled")),
        "exit_code": _number(state.get("ExitCode")),
        "started_at": state.get("StartedAt"),
        "finished_at": state.get("FinishedAt"),
        "memory_limit_bytes": memory or None,
        "swap_limit_bytes": _swap_limit(memory, memory_swap),
        "memory_usage_bytes": usage_bytes,
        "shm_size_bytes": _number(host.get("ShmSize")),
        "postgres": bool(POSTGRES_IMAGE_RE.search(image.lower())),
        "compose_project": labels.get(COMPOSE_PROJECT),
        "compose_service": labels.get(COMPOSE_SERVICE),
        "aliases": aliases,
        "app_role": app_role(config, labels, inspect.get("Name")),
        "app_variables": env_list_variables(config.get("Env")),
    }


def app_role(config, labels, name):
    """"sidekiq" or "web" when the container's command, name or compose service says so, else None (only this
    word is kept of the command)."""
    words = []
    for key in ("Entrypoint", "Cmd"):
        value = config.get(key)
        words.extend(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    text = " ".join(str(word) for word in words + [name, labels.get(COMPOSE_SERVICE)] if word).lower()
    if re.search(r"sidekiq|good_job|solid_queue|\bjobs?\b|\bworker", text):
        return "sidekiq"
    if re.search(r"puma|rails|unicorn|\bweb\b|\bapp\b", text):
        return "web"
    return None


def cgroup_usage(cgroup_dir):
    """Memory in use by a cgroup the way ``docker stats`` counts it: usage minus inactive file cache
    (v2: memory.current - inactive_file, v1: memory.usage_in_bytes - total_inactive_file); None when unreadable."""
    for usage_file, stat_key in (("memory.current", "inactive_file"), ("memory.usage_in_bytes", "total_inactive_file")):
        usage = parse_cgroup_bytes(read_text_if_readable(os.path.join(cgroup_dir, usage_file)))
        if usage is None:
            continue
        inactive = 0
        for line in (read_text_if_readable(os.path.join(cgroup_dir, "memory.stat")) or "").splitlines():
            name, _sep, value = line.partition(" ")
            if name == stat_key and value.strip().isdigit():
                inactive = int(value)
        return max(usage - inactive, 0)
    return None


def cgroup_dirs(cgroup_path, root=CGROUP_ROOT):
    """Where a process's cgroup (its /proc/<pid>/cgroup path) lives: cgroup v2 and v1's memory hierarchy."""
    relative = (cgroup_path or "").lstrip("/")
    return [os.path.join(root, relative), os.path.join(root, "memory", relative)]


def read_containers(socket_path, timeout, cgroups=None):
    """{available, reason_code, reason, containers}: every container (running or not) of the daemon.
    ``cgroups`` maps a container id to the cgroup path of one of its processes (from /proc), for its usage."""
    client = DockerClient(socket_path, timeout)
    containers = []
    try:
        client.connect(caller="workload_facts")
        for summary in client.get("/containers/json?all=1") or []:
            try:
                inspect = client.get(f"/containers/{summary['Id']}/json")
            except DockerAPIError as error:
                if error.status == 404:
                    continue  # removed since the list
                raise
            usage = None
            path = (cgroups or {}).get(summary["Id"])
            if path:
                for directory in cgroup_dirs(path):
                    usage = cgroup_usage(directory)
                    if usage is not None:
                        break
            containers.append(container_facts(inspect, usage))
    except DockerUnavailable as error:
        return {"available": False, "reason_code": error.code, "reason": str(error), "containers": containers}
    finally:
        client.close()
    return {"available": True, "reason_code": None, "reason": None, "containers": containers}
