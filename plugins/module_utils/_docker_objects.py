# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Docker objects from Engine API payloads (pure): images, containers, volumes, build cache, container logs,
Engine API times, and the one image-reference type.

Parsers take the decoded JSON of /system/df and GET /containers/{id}/json and return the dicts the facts
(docs/facts.md), the audit and docker_cleanup share. No I/O. Runs on the target's python3 (3.9+), standard
library only.
"""

from __future__ import annotations

import calendar
import json
import os
import re

# What `docker system df` counts as an active container.
RUNNING_STATES = ("running", "paused", "restarting")

# Docker 23+ labels anonymous volumes; older daemons name them with 64 hex digits.
ANONYMOUS_VOLUME_LABEL = "com.docker.volume.anonymous"
_ANONYMOUS_VOLUME_NAME_RE = re.compile(r"^[0-9a-f]{64}$")

# RFC 3339 with nanoseconds, as the Engine API writes times; the zero time means "never".
_DOCKER_TIME_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$"
)


class ImageReference:
    """An image reference as Docker writes it, ``[registry[:port]/]path[:tag][@digest]``, split once.

    ``repository``: everything before the tag ("registry:5000/shop/web"); ``tag`` and ``digest``: None when
    absent; ``name``: the last path component without tag ("web"), what people call the image.
    """

    __slots__ = ("text", "repository", "tag", "digest")

    def __init__(self, text):
        self.text = str(text or "")
        rest, _at, digest = self.text.partition("@")
        slash, colon = rest.rfind("/"), rest.rfind(":")
        # The tag follows the last ':' after the last '/' (a ':' before it belongs to a registry port).
        self.repository, self.tag = (rest[:colon], rest[colon + 1:]) if colon > slash else (rest, None)
        self.digest = digest or None

    @property
    def name(self):
        return self.repository.rsplit("/", 1)[-1]

    def as_tag(self):
        """"repo:tag" as `docker images` lists it (no tag: ":latest"; digest dropped); None for an empty reference."""
        if not self.repository:
            return None
        return f"{self.repository}:{self.tag or 'latest'}"

    def __repr__(self):
        return f"ImageReference({self.text!r})"


def repository_of(tag):
    """"registry:5000/app:v1" -> "registry:5000/app" (shortcut for ImageReference(tag).repository)."""
    return ImageReference(tag).repository


def parse_docker_time(text):
    """Unix seconds (float) of an Engine API time such as "2026-01-02T03:04:05.123456789Z"; None for the zero time."""
    match = _DOCKER_TIME_RE.match(text or "")
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year <= 1:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = match.group(7)
    if fraction:
        seconds += int(fraction[:9]) / 10 ** len(fraction[:9])
    offset = match.group(8)
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds


def api_size(value):
    """A byte count from the API; None for the -1 (or missing) the API uses for "not computed"."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_images(raw_images):
    """Images from /system/df's Images, newest first (build time, then id)."""
    images = []
    for raw in raw_images or []:
        tags = [tag for tag in raw.get("RepoTags") or [] if tag != "<none>:<none>"]
        size, shared = api_size(raw.get("Size")), api_size(raw.get("SharedSize"))
        images.append({
            "id": raw["Id"],
            "repo_tags": tags,
            "repo_digests": [digest for digest in raw.get("RepoDigests") or [] if digest != "<none>@<none>"],
            "created": raw["Created"],
            "size_bytes": size,
            "shared_size_bytes": shared,
            "unique_size_bytes": size - shared if size is not None and shared is not None else None,
            "labels": raw.get("Labels") or {},
            "dangling": not tags,
        })
    images.sort(key=lambda image: (-image["created"], image["id"]))
    return images


def container_log_path(inspect, root_dir):
    """Where the container's log file is on this host; None when its log driver keeps none here."""
    log_config = (inspect.get("HostConfig") or {}).get("LogConfig") or {}
    if inspect.get("LogPath"):
        return inspect["LogPath"]
    if log_config.get("Type") == "local" and root_dir:
        # The local driver's file is not reported as LogPath.
        return os.path.join(root_dir, "containers", inspect["Id"], "local-logs", "container.log")
    return None


def log_capped(driver, options):
    """Whether a container's log file has a size limit: True/False, None for drivers without a file here."""
    max_size = (options or {}).get("max-size")
    if driver == "json-file":
        return max_size not in (None, "", "-1")
    if driver == "local":
        return max_size != "-1"  # 20m x 5 files unless max-size is -1
    return None  # journald, syslog, none, remote drivers: no file on this host to grow


def describe_log(inspect, root_dir, log_usage):
    """The container's log: driver, file, disk usage (from log_usage: {path: read_log_usage()}), size cap."""
    log_config = (inspect.get("HostConfig") or {}).get("LogConfig") or {}
    driver = log_config.get("Type") or None
    options = log_config.get("Config") or {}
    path = container_log_path(inspect, root_dir)
    if path is not None:
        usage = log_usage.get(path) or {"size_bytes": None, "files": None, "error": "not read"}
    elif driver == "json-file":
        usage = {"size_bytes": 0, "files": 0, "error": None}  # never started: no log file yet
    else:
        usage = {"size_bytes": None, "files": None, "error": None}
    max_size = options.get("max-size")
    capped = log_capped(driver, options)
    return {
        "driver": driver,
        "path": path,
        "size_bytes": usage["size_bytes"],
        "files": usage["files"],
        "error": usage["error"],
        "max_size": max_size,
        "max_file": options.get("max-file"),
        "capped": capped,
    }


def parse_containers(raw_containers, inspections, log_usage, root_dir, now):
    """Containers from /system/df's Containers plus their inspect answers ({id: payload}), sorted by name."""
    containers = []
    for raw in raw_containers or []:
        inspect = inspections.get(raw["Id"])
        state = raw.get("State") or ""
        running = state in RUNNING_STATES
        finished_at = parse_docker_time(((inspect or {}).get("State") or {}).get("FinishedAt"))
        stopped_since = finished_at if finished_at is not None else raw.get("Created")
        containers.append({
            "id": raw["Id"],
            "name": (raw.get("Names") or ["/" + raw["Id"][:12]])[0].lstrip("/"),
            "image": raw.get("Image"),
            "image_id": raw.get("ImageID"),
            "state": state,
            "running": running,
            "created": raw.get("Created"),
            "finished_at": None if finished_at is None else int(finished_at),
            "stopped_seconds": None if running or stopped_since is None else max(0, int(now - stopped_since)),
            # /system/df leaves SizeRw out when it is 0.
            "size_rw_bytes": api_size(raw.get("SizeRw", 0)),
            "volumes": [mount["Name"] for mount in raw.get("Mounts") or [] if mount.get("Type") == "volume"],
            "labels": raw.get("Labels") or {},
            "log": None if inspect is None else describe_log(inspect, root_dir, log_usage),
        })
    containers.sort(key=lambda container: (container["name"], container["id"]))
    return containers


def parse_volumes(raw_volumes, containers):
    """Volumes from /system/df's Volumes with the containers (running or stopped) that mount them, sorted by name."""
    users = {}
    for container in containers:
        for name in container["volumes"]:
            users.setdefault(name, []).append(container["name"])
    volumes = []
    for raw in raw_volumes or []:
        usage = raw.get("UsageData") or {}
        ref_count = usage.get("RefCount")
        ref_count = ref_count if isinstance(ref_count, int) and ref_count >= 0 else None
        labels = raw.get("Labels") or {}
        volumes.append({
            "name": raw["Name"],
            "driver": raw.get("Driver"),
            "size_bytes": api_size(usage.get("Size")),
            "in_use": ref_count > 0 if ref_count is not None else bool(users.get(raw["Name"])),
            "containers": users.get(raw["Name"], []),
            "anonymous": ANONYMOUS_VOLUME_LABEL in labels or bool(_ANONYMOUS_VOLUME_NAME_RE.match(raw["Name"])),
            "labels": labels,
        })
    volumes.sort(key=lambda volume: volume["name"])
    return volumes


def parse_log_opts(daemon_json):
    """(log_opts, source) from read_daemon_json()'s {"text", "error"}: the daemon-wide log options."""
    if daemon_json.get("error") == "missing":
        return {}, "absent"
    if daemon_json.get("error"):
        return None, "unreadable"
    try:
        config = json.loads(daemon_json.get("text") or "")
    except ValueError:
        return None, "invalid"
    if not isinstance(config, dict) or not isinstance(config.get("log-opts", {}), dict):
        return None, "invalid"
    return config.get("log-opts", {}), "daemon.json"


def image_users(images, containers):
    """{image id: {"running": [names], "stopped": [names]}}: the containers (in any state) using each image.

    A container uses the image of its ImageID and, to be safe when a tag has moved since, the image its
    reference (name:tag) names now.
    """
    users = {image["id"]: {"running": [], "stopped": []} for image in images}
    by_tag = {tag: image["id"] for image in images for tag in image["repo_tags"]}
    for container in containers:
        ids = {container.get("image_id"), by_tag.get(ImageReference(container.get("image")).as_tag())}
        for image_id in ids:
            if image_id in users:
                users[image_id]["running" if container["running"] else "stopped"].append(container["name"])
    return users


def describe_duration(seconds):
    """3 days, 5 hours, 12 minutes or 40 seconds (rounded down to the largest unit)."""
    seconds = max(0, int(seconds))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def parse_build_cache(raw_records):
    """Build cache records from /system/df's BuildCache: id, type, description, in_use, shared, size_bytes,
    created and last_used (unix seconds; last_used falls back to created)."""
    records = []
    for raw in raw_records or []:
        created = parse_docker_time(raw.get("CreatedAt"))
        last_used = parse_docker_time(raw.get("LastUsedAt")) or created
        records.append({
            "id": raw["ID"],
            "type": raw.get("Type"),
            "description": raw.get("Description") or "",
            "in_use": bool(raw.get("InUse")),
            "shared": bool(raw.get("Shared")),
            "size_bytes": api_size(raw.get("Size")) or 0,
            "created": created,
            "last_used": last_used,
        })
    records.sort(key=lambda record: (record["last_used"] or 0, record["id"]))
    return records
