# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The hostcare_docker facts (docs/facts.md): where Docker's disk space went, from the daemon's answers and
the container log files.

`build_docker_facts` (pure) assembles them from what `read_docker_inputs` read, so a daemon can be replayed from
recorded payloads (tests/fixtures/docker); `read_docker_inputs`, `read_log_usage` and `read_daemon_json` do the
I/O. Standard library only.
"""

from __future__ import annotations

import errno
import glob
import os
import time

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import (
    CONNECTION_SPEC,
    DAEMON_JSON,
    DEFAULT_SOCKET,
    DEFAULT_TIMEOUT,
    DockerAPIError,
    DockerClient,
    DockerUnavailable,
    connection_options,
    negotiate_api_version,
    with_retry,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import (
    api_size,
    container_log_path,
    image_users,
    parse_containers,
    parse_images,
    parse_log_opts,
    parse_volumes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_selection import select_removable

# The options of hostcare.vps.docker_bloat_facts (and the docker options of hostcare.vps.audit_facts).
ARGUMENT_SPEC = dict({
    "keep": {"type": "raw", "default": 3},  # checked by checked_options(), 0 to 1000000
    "fail_on_unavailable": {"type": "bool", "default": False},
    "include_images_list": {"type": "bool", "default": True},
}, **CONNECTION_SPEC)


def checked_options(params):
    """The keyword arguments of gather_docker_facts(), checked before any connection; raise _validate.OptionError
    naming the option."""
    socket_path, timeout = connection_options(params)
    return {"socket_path": socket_path, "timeout": timeout, "keep": _validate.integer("keep", params["keep"], minimum=0),
            "include_images_list": params["include_images_list"]}


# Keys of the facts besides available/reason_code/reason; all null when Docker is not available.
FACT_KEYS = (
    "daemon", "totals", "images", "dangling_images", "unused_images", "old_tags", "keep",
    "containers", "stopped_containers", "volumes",
)


# --- Disk usage totals, as `docker system df` computes them (pure) -------------------------------------------

def disk_usage_totals(df, images, containers, volumes):
    """Count, active, size and reclaimable bytes per category, with the formulas of `docker system df`.

    Images: size is LayersSize (every layer once); reclaimable is LayersSize minus the unique size of the
    images some container uses, so layers shared with those images count as reclaimable (that is what the
    CLI prints); unused_bytes is the unique size of the unused images, what removing them frees at least.
    """
    used_ids = {container["image_id"] for container in containers}
    used_images = [image for image in images if image["id"] in used_ids]
    unused_images = [image for image in images if image["id"] not in used_ids]
    layers_size = api_size(df.get("LayersSize")) or 0

    running_rw = sum(container["size_rw_bytes"] or 0 for container in containers if container["running"])
    containers_rw = sum(container["size_rw_bytes"] or 0 for container in containers)

    volumes_size = sum(volume["size_bytes"] or 0 for volume in volumes)
    volumes_used = sum(volume["size_bytes"] or 0 for volume in volumes if volume["in_use"])

    cache = df.get("BuildCache") or []
    cache_size = sum(api_size(record.get("Size")) or 0 for record in cache if not record.get("Shared"))
    cache_used = sum(api_size(record.get("Size")) or 0 for record in cache if record.get("InUse") and not record.get("Shared"))
    return {
        "images": {
            "count": len(images),
            "active": len(used_images),
            "size_bytes": layers_size,
            "reclaimable_bytes": layers_size - sum(image["unique_size_bytes"] or 0 for image in used_images),
            "unused_bytes": sum(image["unique_size_bytes"] or 0 for image in unused_images),
        },
        "containers": {
            "count": len(containers),
            "active": sum(1 for container in containers if container["running"]),
            "size_bytes": containers_rw,
            "reclaimable_bytes": containers_rw - running_rw,
        },
        "volumes": {
            "count": len(volumes),
            "active": sum(1 for volume in volumes if volume["in_use"]),
            "size_bytes": volumes_size,
            "reclaimable_bytes": volumes_size - volumes_used,
        },
        "build_cache": {
            "count": len(cache),
            "active": sum(1 for record in cache if record.get("InUse")),
            "size_bytes": cache_size,
            "reclaimable_bytes": cache_size - cache_used,
        },
    }


def log_totals(containers):
    """Container logs on this host: how many, their disk usage, how many are unreadable or uncapped."""
    logs = [container["log"] for container in containers if container["log"] and container["log"]["path"]]
    return {
        "count": len(logs),
        "size_bytes": sum(log["size_bytes"] or 0 for log in logs),
        "unreadable": sum(1 for log in logs if log["size_bytes"] is None),
        "uncapped": sum(1 for container in containers if container["log"] and container["log"]["capped"] is False),
    }


# --- The facts (pure) ----------------------------------------------------------------------------------------

def unavailable_facts(code, reason):
    """The facts when Docker cannot be asked: available false, why, every other key null."""
    facts = {"available": False, "reason_code": code, "reason": reason}
    facts.update((key, None) for key in FACT_KEYS)
    return facts


def build_docker_facts(inputs, keep=3, include_images_list=True, now=None):
    """Assemble `hostcare_docker` (docs/facts.md) from what read_docker_inputs collects.

    inputs: version, info, df (the GET /version, /info and /system/df answers), inspections ({container id:
    GET /containers/{id}/json answer}; a container missing there disappeared meanwhile), log_usage ({path:
    read_log_usage(path)}), daemon_json (read_daemon_json()). keep: newest images kept per repository in old_tags.
    """
    now = time.time() if now is None else now
    version, info, df = inputs["version"], inputs["info"], inputs["df"]
    root_dir = info.get("DockerRootDir")
    log_opts, log_opts_source = parse_log_opts(inputs["daemon_json"])
    images = parse_images(df.get("Images"))
    containers = parse_containers(df.get("Containers"), inputs["inspections"], inputs["log_usage"], root_dir, now)
    volumes = parse_volumes(df.get("Volumes"), containers)

    users = image_users(images, containers)
    for image in images:
        image["running_containers"] = users[image["id"]]["running"]
        image["stopped_containers"] = users[image["id"]]["stopped"]

    # Two report-only policies: dangling + tags beyond keep, then every image no container uses.
    by_keep = select_removable(images, containers, {"keep": keep, "remove_dangling": True}, now)["removable"]
    unused = select_removable(
        images, containers, {"keep": None, "remove_dangling": True, "remove_unused_older_than_seconds": 0}, now,
    )["removable"]
    dangling = [entry for entry in by_keep if "dangling" in entry["rules"]]
    old_tags = [entry for entry in by_keep if "beyond_keep" in entry["rules"]]

    totals = disk_usage_totals(df, images, containers, volumes)
    totals["images"]["dangling_bytes"] = sum(entry["size_bytes"] or 0 for entry in dangling)
    totals["images"]["old_tags_bytes"] = sum(entry["size_bytes"] or 0 for entry in old_tags)
    totals["logs"] = log_totals(containers)

    return {
        "available": True,
        "reason_code": None,
        "reason": None,
        "daemon": {
            "version": info.get("ServerVersion") or version.get("Version"),
            "api_version": "%d.%d" % negotiate_api_version(version),
            "max_api_version": version.get("ApiVersion"),
            "min_api_version": version.get("MinAPIVersion"),
            "storage_driver": info.get("Driver"),
            "root_dir": root_dir,
            "log_driver": info.get("LoggingDriver"),
            "log_opts": log_opts,
            "log_opts_source": log_opts_source,
        },
        "totals": totals,
        "images": images if include_images_list else None,
        "dangling_images": dangling,
        "unused_images": unused,
        "old_tags": old_tags,
        "keep": keep,
        "containers": containers,
        "stopped_containers": [
            {key: container[key] for key in ("id", "name", "image", "state", "stopped_seconds", "size_rw_bytes")}
            for container in sorted(containers, key=lambda item: -(item["stopped_seconds"] or 0))
            if not container["running"]
        ],
        "volumes": volumes,
    }


# --- Reading the host (I/O) ----------------------------------------------------------------------------------

def read_log_usage(path):
    """Disk usage of a container log and its rotated files (path.1, path.2.gz ...), as {size_bytes, files, error}."""
    try:
        size = os.lstat(path).st_blocks * 512
    except FileNotFoundError:
        return {"size_bytes": 0, "files": 0, "error": None}
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno in (errno.EACCES, errno.EPERM):
            reason += " (container logs are readable by root only: run the task with become)"
        return {"size_bytes": None, "files": None, "error": reason}
    files = 1
    for rotated in glob.glob(glob.escape(path) + ".*"):
        try:
            size += os.lstat(rotated).st_blocks * 512
        except OSError:  # rotated away meanwhile
            continue
        files += 1
    return {"size_bytes": size, "files": files, "error": None}


def read_daemon_json(path=DAEMON_JSON):
    """{"text": the file's text or None, "error": None, "missing" or the reason it is unreadable}."""
    try:
        with open(path, encoding="utf-8") as handle:
            return {"text": handle.read(), "error": None}
    except FileNotFoundError:
        return {"text": None, "error": "missing"}
    except (OSError, UnicodeDecodeError) as error:
        return {"text": None, "error": getattr(error, "strerror", None) or str(error)}


def read_docker_inputs(socket_path=DEFAULT_SOCKET, timeout=DEFAULT_TIMEOUT, daemon_json_path=DAEMON_JSON, host_files=True):
    """Ask the daemon (GET /version, /info, /system/df, each container's inspect) and, with `host_files`, read the
    container log files and daemon.json (a cleanup needs neither: its log_usage is {} and daemon_json None).

    Raise DockerUnavailable when the daemon cannot be asked or answers with an error.
    """
    client = DockerClient(socket_path, timeout)
    try:
        version = client.connect()
        info = client.get("/info")
        # Docker 20.10 (Debian 12) refuses a /system/df while another runs: ask again for up to 31.5 s, then fail.
        df = with_retry(lambda: client.get("/system/df"), attempts=7, first_delay=0.5, again=None)
        inspections = {}
        for container in df.get("Containers") or []:
            try:
                inspections[container["Id"]] = client.get(f"/containers/{container['Id']}/json")
            except DockerAPIError as error:
                if error.status != 404:  # 404: removed since /system/df listed it
                    raise
    finally:
        client.close()
    if not host_files:
        return {"version": version, "info": info, "df": df, "inspections": inspections, "log_usage": {},
                "daemon_json": None}
    paths = {container_log_path(inspect, info.get("DockerRootDir")) for inspect in inspections.values()}
    return {
        "version": version,
        "info": info,
        "df": df,
        "inspections": inspections,
        "log_usage": {path: read_log_usage(path) for path in paths if path},
        "daemon_json": read_daemon_json(daemon_json_path),
    }


def gather_docker_facts(socket_path=DEFAULT_SOCKET, timeout=DEFAULT_TIMEOUT, keep=3, include_images_list=True):
    """The `hostcare_docker` facts of this host; available false (and why) when Docker cannot be asked."""
    try:
        inputs = read_docker_inputs(socket_path, timeout)
    except DockerUnavailable as error:
        return unavailable_facts(error.code, str(error))
    return build_docker_facts(inputs, keep=keep, include_images_list=include_images_list)
