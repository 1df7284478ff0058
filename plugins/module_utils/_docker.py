# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Docker disk usage facts (images, containers, volumes, build cache, container logs) and the choice of
which images a cleanup may remove.

`build_docker_facts` assembles the `hostcare_docker` facts (docs/facts.md) from Engine API payloads, and
`select_removable` decides what a cleanup policy would remove and what it must keep; both are pure, so a
daemon can be replayed from recorded payloads (tests/fixtures/docker). `DockerClient` (HTTP over the daemon's
unix socket), `read_log_usage`, `read_daemon_json` and `read_docker_inputs` are the only code with I/O.
Runs on the target's python3 (3.9+), standard library only: no Docker SDK, no requests.
"""

from __future__ import annotations

import calendar
import errno
import fnmatch
import glob
import http.client
import json
import os
import re
import shutil
import socket
import stat
import time

DEFAULT_SOCKET = "/var/run/docker.sock"
DAEMON_JSON = "/etc/docker/daemon.json"

# API 1.52 turned /system/df into per-category summaries that list no items; 1.51 still lists them, and every
# daemon released so far accepts it (Docker 29.0-29.2 require 1.44 or newer, the others less).
NEWEST_KNOWN_API = (1, 51)
# /system/df appeared in API 1.25 (Docker 1.13).
OLDEST_SUPPORTED_API = (1, 25)

# What `docker system df` counts as an active container.
RUNNING_STATES = ("running", "paused", "restarting")

# Docker 23+ labels anonymous volumes; older daemons name them with 64 hex digits.
ANONYMOUS_VOLUME_LABEL = "com.docker.volume.anonymous"
_ANONYMOUS_VOLUME_NAME_RE = re.compile(r"^[0-9a-f]{64}$")

# RFC 3339 with nanoseconds, as the Engine API writes times; the zero time means "never".
_DOCKER_TIME_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$"
)

# Keys of the facts besides available/reason_code/reason; all null when Docker is not available.
FACT_KEYS = (
    "daemon", "totals", "images", "dangling_images", "unused_images", "old_tags", "keep",
    "containers", "stopped_containers", "volumes",
)

DEFAULT_POLICY = {
    "keep": 3,
    "remove_dangling": True,
    "remove_unused_older_than_seconds": None,
    "protect_labels": {},
    "protect_patterns": [],
    # The rest is off by default, so the facts' report-only selections stay about images.
    "remove_containers_older_than_seconds": None,
    "remove_build_cache_older_than_seconds": None,
    "remove_volumes": False,
    "protect_releases": {},
}

# Containers in these states may be removed by age; "created" ones never ran and are often data-only containers.
REMOVABLE_CONTAINER_STATES = ("exited", "dead")


class DockerUnavailable(Exception):
    """Docker cannot be asked; `code` says why in one word (see the facts' reason_code), the message in words."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class DockerAPIError(DockerUnavailable):
    """The daemon answered with an HTTP error status."""

    def __init__(self, status, message):
        super().__init__("api_error", message)
        self.status = status


class PolicyError(ValueError):
    """A cleanup policy that select_removable cannot use; the message names the key."""


# --- Engine API client (the only network I/O) ------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _dockerd_installed():
    return any(os.path.exists(path) for path in ("/usr/bin/dockerd", "/usr/sbin/dockerd", "/usr/local/bin/dockerd")) \
        or shutil.which("dockerd") is not None


class _DeadlinePassed(Exception):
    """The request's time budget is spent."""


class _ConnectionDropped(Exception):
    """The daemon closed the connection before answering."""


def _remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed()
    return left


class DockerClient:
    """Engine API requests over the Docker daemon's unix socket, one keep-alive connection, each within `timeout`."""

    def __init__(self, socket_path=DEFAULT_SOCKET, timeout=30.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self.api_prefix = ""
        self._connection = None

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def check_socket(self):
        """Raise DockerUnavailable when the socket path is missing, not a socket, or cannot be looked at."""
        try:
            mode = os.stat(self.socket_path).st_mode
        except FileNotFoundError:
            if not _dockerd_installed():
                raise DockerUnavailable(
                    "not_installed", f"Docker is not installed: {self.socket_path} does not exist and there is no dockerd"
                ) from None
            raise DockerUnavailable(
                "no_socket", f"{self.socket_path} does not exist: the Docker daemon is not running"
            ) from None
        except PermissionError:
            raise DockerUnavailable("permission_denied", self._permission_message()) from None
        except OSError as error:
            raise DockerUnavailable("connection_error", f"cannot look at {self.socket_path}: {error.strerror}") from None
        if not stat.S_ISSOCK(mode):
            raise DockerUnavailable("not_a_socket", f"{self.socket_path} is not a unix socket")

    def _permission_message(self):
        return (f"permission denied on {self.socket_path}: run the task with become, "
                "or add the connecting user to the docker group")

    def use_api_version(self, version):
        """Prefix every later path with /vMAJOR.MINOR."""
        self.api_prefix = "/v%d.%d" % version

    def connect(self, caller="docker_bloat_facts"):
        """Check the socket, ask GET /version and use the API version both sides speak; return that answer."""
        self.check_socket()
        version = self.get("/version", versioned=False)
        self.use_api_version(negotiate_api_version(version, caller))
        return version

    def get(self, path, versioned=True, ignore_status=()):
        """GET `path` and return its decoded JSON body. Raise DockerUnavailable (DockerAPIError for HTTP errors)."""
        return self.request("GET", path, versioned=versioned, ignore_status=ignore_status)

    def request(self, method, path, body=None, versioned=True, timeout=None, expect_json=True, ignore_status=()):
        """Send `method path` (with `body` as JSON when given) and return the decoded JSON answer (None when empty,
        the raw bytes when `expect_json` is false). `timeout` overrides the client's for slow calls (prune, stop).
        An HTTP status in `ignore_status` (404: gone, 304: already so) returns None.
        Raise DockerUnavailable (DockerAPIError for HTTP errors, whose `status` tells 404/409 apart)."""
        url = (self.api_prefix if versioned else "") + path
        payload = None if body is None else json.dumps(body).encode("utf-8")
        reused = self._connection is not None
        try:
            status, answer = self._request_once(method, url, payload, timeout)
        except _ConnectionDropped:
            # The daemon may close an idle keep-alive connection. Only a GET is safe to send again.
            if not reused or method != "GET":
                raise DockerUnavailable("api_error", f"the Docker daemon closed the connection on {method} {url}") from None
            try:
                status, answer = self._request_once(method, url, payload, timeout)
            except _ConnectionDropped:
                raise DockerUnavailable("api_error", f"the Docker daemon closed the connection on {method} {url}") from None
        if status in ignore_status:
            return None
        if status >= 400:
            raise DockerAPIError(status, f"{method} {url}: HTTP {status}: {_error_message(answer)}")
        if not expect_json:
            return answer
        if not answer.strip():
            return None
        try:
            return json.loads(answer)
        except ValueError:
            raise DockerUnavailable(
                "api_error", f"{method} {url}: the answer is not JSON, is {self.socket_path} a Docker daemon?"
            ) from None

    def _request_once(self, method, url, payload, timeout):
        # Name the option only when the caller did not choose a longer limit for this call.
        limit_hint = " (option timeout)" if timeout is None else ""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            if self._connection is None:
                self._connection = UnixHTTPConnection(self.socket_path, self.timeout)
            connection = self._connection
            if connection.sock is None:
                connection.connect()
            sock = connection.sock
            sock.settimeout(_remaining(deadline))
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, url, body=payload, headers=headers)
            response = connection.getresponse()
            chunks = []
            while not response.isclosed():
                # read1: at most one recv, so a daemon trickling its answer cannot outlast the deadline.
                sock.settimeout(_remaining(deadline))
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            response.close()  # read1 leaves a fully read body open, which would block the next request
            return response.status, b"".join(chunks)
        except (socket.timeout, _DeadlinePassed):
            self.close()
            raise DockerUnavailable(
                "timeout",
                f"the Docker daemon at {self.socket_path} did not answer {method} {url} within {timeout:g} s{limit_hint}",
            ) from None
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            raise _ConnectionDropped() from None
        except PermissionError:
            self.close()
            raise DockerUnavailable("permission_denied", self._permission_message()) from None
        except ConnectionRefusedError:
            self.close()
            raise DockerUnavailable(
                "connection_refused", f"nothing listens on {self.socket_path}: the Docker daemon is not running"
            ) from None
        except FileNotFoundError:
            self.close()
            raise DockerUnavailable("no_socket", f"{self.socket_path} does not exist") from None
        except http.client.HTTPException as error:
            self.close()
            raise DockerUnavailable(
                "api_error",
                f"{method} {url}: not an HTTP answer ({type(error).__name__}), is {self.socket_path} a Docker daemon?",
            ) from None
        except OSError as error:
            self.close()
            raise DockerUnavailable(
                "connection_error", f"{method} {url} on {self.socket_path} failed: {error.strerror or error}"
            ) from None


def _error_message(body):
    """The daemon's {"message": ...} error text, else the body itself (shortened)."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    if not message:
        message = body.decode("utf-8", "replace").strip()[:200] or "(empty answer)"
    return message


# --- Parsers (pure) ------------------------------------------------------------------------------------------

def parse_api_version(text):
    """"1.41" -> (1, 41); None when missing or malformed."""
    match = re.match(r"^(\d+)\.(\d+)$", str(text or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def negotiate_api_version(version_payload, caller="docker_bloat_facts"):
    """The API version to use with a daemon, from its GET /version answer: min(its newest, NEWEST_KNOWN_API).

    Raise DockerUnavailable("unsupported_api") when that is older than the daemon's minimum or than
    OLDEST_SUPPORTED_API.
    """
    server = parse_api_version(version_payload.get("ApiVersion"))
    if server is None:
        raise DockerUnavailable("unsupported_api", "the Docker daemon did not report its API version (GET /version)")
    minimum = parse_api_version(version_payload.get("MinAPIVersion")) or (1, 12)
    chosen = min(server, NEWEST_KNOWN_API)
    if chosen < OLDEST_SUPPORTED_API:
        raise DockerUnavailable(
            "unsupported_api",
            "the Docker daemon speaks API %d.%d; %s needs %d.%d or newer" % (server + (caller,) + OLDEST_SUPPORTED_API),
        )
    if chosen < minimum:
        raise DockerUnavailable(
            "unsupported_api",
            "the Docker daemon requires API %d.%d or newer; %s speaks up to %d.%d" % (minimum + (caller,) + NEWEST_KNOWN_API),
        )
    return chosen


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


def _size(value):
    """A byte count from the API; None for the -1 (or missing) the API uses for "not computed"."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def repository_of(tag):
    """"registry:5000/app:v1" -> "registry:5000/app" (the tag is after the last ':' that follows the last '/')."""
    slash = tag.rfind("/")
    colon = tag.rfind(":")
    return tag[:colon] if colon > slash else tag


def _reference_as_tag(reference):
    """The repo:tag a container's image reference names ("app" -> "app:latest"); digests dropped."""
    reference = (reference or "").split("@", 1)[0]
    if not reference:
        return None
    return reference if ":" in reference.rpartition("/")[2] else reference + ":latest"


def parse_images(raw_images):
    """Images from /system/df's Images, newest first (build time, then id)."""
    images = []
    for raw in raw_images or []:
        tags = [tag for tag in raw.get("RepoTags") or [] if tag != "<none>:<none>"]
        size, shared = _size(raw.get("Size")), _size(raw.get("SharedSize"))
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
            "size_rw_bytes": _size(raw.get("SizeRw", 0)),
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
            "size_bytes": _size(usage.get("Size")),
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
    layers_size = _size(df.get("LayersSize")) or 0

    running_rw = sum(container["size_rw_bytes"] or 0 for container in containers if container["running"])
    containers_rw = sum(container["size_rw_bytes"] or 0 for container in containers)

    volumes_size = sum(volume["size_bytes"] or 0 for volume in volumes)
    volumes_used = sum(volume["size_bytes"] or 0 for volume in volumes if volume["in_use"])

    cache = df.get("BuildCache") or []
    cache_size = sum(_size(record.get("Size")) or 0 for record in cache if not record.get("Shared"))
    cache_used = sum(_size(record.get("Size")) or 0 for record in cache if record.get("InUse") and not record.get("Shared"))
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


# --- What a cleanup may remove (pure) ------------------------------------------------------------------------

def _check_age(result, key):
    value = result[key]
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0
                              or value == float("inf")):
        raise PolicyError(f"policy.{key}: must be a number >= 0 or null, got {value!r}")


def normalize_policy(policy):
    """`policy` checked and completed from DEFAULT_POLICY; raise PolicyError naming the key at fault.

    Keys: keep (int >= 0, or None: no tag is kept or old by count), remove_dangling (bool),
    remove_unused_older_than_seconds (number >= 0, or None: unused images are not removed for being unused),
    protect_labels ({label: value}; YAML true/false and numbers are compared as Docker's label strings; None
    matches any value), protect_patterns (fnmatch patterns on repo:tag),
    remove_containers_older_than_seconds (exited/dead containers stopped that long; None: none),
    remove_build_cache_older_than_seconds (build cache unused that long; None: none),
    remove_volumes (bool: volumes no container mounts), protect_releases ({image id: app}: rollback releases).
    """
    if not isinstance(policy, dict):
        raise PolicyError(f"policy: expected a dict, got {type(policy).__name__}")
    unknown = sorted(set(policy) - set(DEFAULT_POLICY))
    if unknown:
        raise PolicyError(f"policy: unknown key {unknown[0]!r}; expected {', '.join(DEFAULT_POLICY)}")
    result = dict(DEFAULT_POLICY, **policy)

    keep = result["keep"]
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        raise PolicyError(f"policy.keep: must be an integer >= 0 or null, got {keep!r}")
    for key in ("remove_dangling", "remove_volumes"):
        if not isinstance(result[key], bool):
            raise PolicyError(f"policy.{key}: must be true or false, got {result[key]!r}")
    for key in ("remove_unused_older_than_seconds", "remove_containers_older_than_seconds",
                "remove_build_cache_older_than_seconds"):
        _check_age(result, key)

    labels = result["protect_labels"]
    if not isinstance(labels, dict):
        raise PolicyError(f"policy.protect_labels: expected a dict of label: value, got {type(labels).__name__}")
    result["protect_labels"] = {}
    for key, value in labels.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise PolicyError(f"policy.protect_labels: {key!r}: label names and values must be strings, got {value!r}")
        result["protect_labels"][key] = value

    patterns = result["protect_patterns"]
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(pattern, str) for pattern in patterns):
        raise PolicyError(f"policy.protect_patterns: expected a list of patterns such as 'app:*', got {patterns!r}")
    result["protect_patterns"] = list(patterns)

    releases = result["protect_releases"]
    if not isinstance(releases, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                                 for key, value in releases.items()):
        raise PolicyError(f"policy.protect_releases: expected a dict of image id: app, got {releases!r}")
    return result


def parse_label_list(items, option="protect_labels"):
    """["hostcare.keep=true", "com.example.pin"] -> {"hostcare.keep": "true", "com.example.pin": None} (any value).

    Raise PolicyError naming `option` for an entry that is not a non-empty string.
    """
    labels = {}
    for item in items or []:
        if not isinstance(item, str) or not item.split("=", 1)[0].strip():
            raise PolicyError(f"{option}: each entry must be LABEL or LABEL=VALUE, got {item!r}")
        key, sep, value = item.partition("=")
        labels[key.strip()] = value if sep else None
    return labels


def image_users(images, containers):
    """{image id: {"running": [names], "stopped": [names]}}: the containers (in any state) using each image.

    A container uses the image of its ImageID and, to be safe when a tag has moved since, the image its
    reference (name:tag) names now.
    """
    users = {image["id"]: {"running": [], "stopped": []} for image in images}
    by_tag = {tag: image["id"] for image in images for tag in image["repo_tags"]}
    for container in containers:
        ids = {container.get("image_id"), by_tag.get(_reference_as_tag(container.get("image")))}
        for image_id in ids:
            if image_id in users:
                users[image_id]["running" if container["running"] else "stopped"].append(container["name"])
    return users


def split_tags_by_keep(images, keep):
    """(kept, old): the tags of the `keep` newest images of each repository (by build time) and the other tags.

    Images are counted, not tags, so app:latest and app:v3 on one image take one place. keep None: both empty.
    """
    if keep is None:
        return set(), set()
    by_repository = {}
    for image in images:
        for tag in image["repo_tags"]:
            by_repository.setdefault(repository_of(tag), {})[image["id"]] = image
    kept, old = set(), set()
    for repository, members in by_repository.items():
        newest = sorted(members.values(), key=lambda image: (-image["created"], image["id"]))[:keep]
        newest_ids = {image["id"] for image in newest}
        for image in members.values():
            for tag in image["repo_tags"]:
                if repository_of(tag) == repository:
                    (kept if image["id"] in newest_ids else old).add(tag)
    return kept, old


def describe_duration(seconds):
    """3 days, 5 hours, 12 minutes or 40 seconds (rounded down to the largest unit)."""
    seconds = max(0, int(seconds))
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = seconds // length
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _protecting_label(labels, policy):
    """The "key=value" (or "key") of the first protecting label among `labels`, else None."""
    for key, value in policy["protect_labels"].items():
        if key in (labels or {}) and (value is None or labels[key] == value):
            return key if value is None else f"{key}={value}"
    return None


def _protection(image, users, policy):
    """(rule, reason) when nothing may touch the image, else None."""
    app = policy["protect_releases"].get(image["id"])
    if app is not None:
        return "rollback_release", f"rollback release of {app} (bluegreen state)"
    if users["running"]:
        return "running_container", f"used by running container {', '.join(users['running'])}"
    if users["stopped"]:
        return "stopped_container", f"used by stopped container {', '.join(users['stopped'])}"
    label = _protecting_label(image["labels"], policy)
    if label:
        return "label", f"has the protecting label {label}"
    for tag in image["repo_tags"]:
        for pattern in policy["protect_patterns"]:
            if fnmatch.fnmatchcase(tag, pattern):
                return "pattern", f"{tag} matches the protect pattern {pattern}"
    return None


def _select_containers(containers, policy):
    """(removable, protected) containers: exited or dead ones stopped for remove_containers_older_than_seconds."""
    older = policy["remove_containers_older_than_seconds"]
    removable, protected = [], []
    if older is None:
        return removable, protected
    for container in containers:
        if container["running"]:
            continue
        entry = {"kind": "container", "id": container["id"], "names": [container["name"]]}
        label = _protecting_label(container.get("labels"), policy)
        stopped = container.get("stopped_seconds")
        if label:
            protected.append(dict(entry, rule="label", reason=f"has the protecting label {label}"))
        elif container.get("state") not in REMOVABLE_CONTAINER_STATES:
            protected.append(dict(entry, rule="state", reason=f"{container.get('state')}, never ran to an end "
                                                              "(data-only containers look like this)"))
        elif stopped is None or stopped < older:
            protected.append(dict(entry, rule="too_recent", reason=(
                f"stopped {describe_duration(stopped or 0)} ago (stopped containers go after "
                f"{describe_duration(older)})")))
        else:
            removable.append(dict(entry, size_bytes=container.get("size_rw_bytes") or 0, rules=["stopped"],
                                  reason=f"{container.get('state')} {describe_duration(stopped)} ago, "
                                         f"image {container.get('image')}"))
    return removable, protected


def _select_images(images, containers, policy, now):
    keep, unused_after = policy["keep"], policy["remove_unused_older_than_seconds"]
    users = image_users(images, containers)
    kept_tags, old_tags = split_tags_by_keep(images, keep)
    removable, protected = [], []
    for image in images:
        names = list(image["repo_tags"])
        protection = _protection(image, users[image["id"]], policy)
        if protection:
            protected.append({"id": image["id"], "names": names, "rule": protection[0], "reason": protection[1]})
            continue
        image_kept = [tag for tag in names if tag in kept_tags]
        image_old = [tag for tag in names if tag in old_tags]
        age = now - image["created"]
        rules, reasons = [], []
        if not names and policy["remove_dangling"]:
            rules.append("dangling")
            reasons.append("dangling (no tag)")
        if image_old and not image_kept:
            rules.append("beyond_keep")
            reasons.append(f"not among the newest {keep} images of {_repositories(image_old)}")
        if unused_after is not None and not image_kept and age >= unused_after:
            rules.append("unused")
            reasons.append(f"no container uses it, built {describe_duration(age)} ago")
        if rules:
            removable.append({
                "kind": "image",
                "id": image["id"],
                "names": names,
                "size_bytes": image["unique_size_bytes"] if image["unique_size_bytes"] is not None else image["size_bytes"],
                "rules": rules,
                "reason": "; ".join(reasons),
            })
            continue
        for tag in image_old:
            removable.append({
                "kind": "tag",
                "id": image["id"],
                "names": [tag],
                "size_bytes": 0,
                "rules": ["beyond_keep"],
                "reason": f"not among the newest {keep} images of {repository_of(tag)}; the image keeps {', '.join(image_kept)}",
            })
        if image_kept:
            rule, reason = "keep", f"{', '.join(image_kept)}: among the newest {keep} images of {_repositories(image_kept)}"
        elif unused_after is not None:
            rule, reason = "too_recent", (f"no container uses it, but it was built {describe_duration(age)} ago "
                                          f"(unused images go after {describe_duration(unused_after)})")
        elif not names:
            rule, reason = "not_selected", "dangling, but remove_dangling is off"
        else:
            rule, reason = "not_selected", "no container uses it, and no rule of the policy selects it"
        protected.append({"id": image["id"], "names": names, "rule": rule, "reason": reason})
    return removable, protected


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
            "size_bytes": _size(raw.get("Size")) or 0,
            "created": created,
            "last_used": last_used,
        })
    records.sort(key=lambda record: (record["last_used"] or 0, record["id"]))
    return records


def _select_build_cache(records, policy, now):
    """Records unused for remove_build_cache_older_than_seconds, what `POST /build/prune` with unused-for removes.

    A shared record's layers belong to an image too: pruning it frees nothing, so its size counts 0.
    """
    older = policy["remove_build_cache_older_than_seconds"]
    removable = []
    if older is None:
        return removable
    for record in records:
        idle = now - (record["last_used"] or now)
        if record["in_use"] or idle < older:
            continue
        removable.append({
            "kind": "build_cache", "id": record["id"], "names": [record["description"][:80]],
            "size_bytes": 0 if record["shared"] else record["size_bytes"], "rules": ["build_cache"],
            "reason": f"build cache ({record['type']}) unused for {describe_duration(idle)}"
                      + (", its layers shared with an image" if record["shared"] else ""),
        })
    return removable


def _select_volumes(volumes, containers, policy):
    """(removable, protected) volumes when remove_volumes is on: those no container, running or stopped, mounts."""
    removable, protected = [], []
    if not policy["remove_volumes"]:
        return removable, protected
    mounted = {name for container in containers for name in container.get("volumes") or []}
    for volume in volumes:
        entry = {"kind": "volume", "id": volume["name"], "names": [volume["name"]]}
        label = _protecting_label(volume.get("labels"), policy)
        if volume["in_use"] or volume["name"] in mounted:
            protected.append(dict(entry, rule="container", reason="mounted by container "
                                  + (", ".join(volume.get("containers") or []) or "(unknown)")))
        elif label:
            protected.append(dict(entry, rule="label", reason=f"has the protecting label {label}"))
        else:
            removable.append(dict(entry, size_bytes=volume.get("size_bytes") or 0, rules=["unused_volume"],
                                  reason="no container mounts it" + (" (anonymous)" if volume.get("anonymous") else "")))
    return removable, protected


def select_removable(images, containers, policy, now, volumes=None, build_cache=None):
    """What `policy` removes, and why everything else stays: the one selection of the facts, the audit and the
    docker_cleanup module.

    images: dicts with id, repo_tags, created (unix seconds, build time), size_bytes, unique_size_bytes (None
    when unknown), labels: the entries of the facts' `images`. containers: dicts with id, name, image (reference),
    image_id, running, state, stopped_seconds, size_rw_bytes, volumes, labels: the entries of the facts'
    `containers`. volumes: the facts' `volumes`; build_cache: parse_build_cache() records (both optional).
    policy: see normalize_policy. now: unix seconds.

    Returns {"removable": [...], "protected": [...]}:
    - removable: {kind, id, names, size_bytes, rules, reason}: containers, then images in the order of `images`,
      build cache, volumes. kind "container": remove the
      stopped container (not its volumes); "image": delete the image (size_bytes: its unique size, what deleting it
      frees); "tag": untag names[0] only, the image keeps a newer tag (size_bytes 0); "build_cache": a record
      the build cache prune removes; "volume": an unused volume (only with remove_volumes). rules: why, among
      "stopped", "dangling", "beyond_keep", "unused", "build_cache", "unused_volume".
    - protected: {id, names, rule, reason} per image not deleted as a whole (kind "container"/"volume" entries
      too when those kinds are selected). Image rules: rollback_release, running_container, stopped_container,
      label, pattern (nothing may touch it), keep (among the newest `keep` of a repository), too_recent (unused
      but younger than remove_unused_older_than_seconds) or not_selected.
    Images used by any container that stays, running or stopped, are never selected, not even to untag one of
    their tags; a container selected for removal no longer protects its image (it is removed first).
    """
    policy = normalize_policy(policy)
    gone_containers, kept_containers = _select_containers(containers, policy)
    gone_ids = {entry["id"] for entry in gone_containers}
    staying = [container for container in containers if container.get("id") not in gone_ids]
    gone_images, kept_images = _select_images(images, staying, policy, now)
    gone_cache = _select_build_cache(build_cache or [], policy, now)
    gone_volumes, kept_volumes = _select_volumes(volumes or [], staying, policy)
    removable = gone_containers + gone_images + gone_cache + gone_volumes
    return {"removable": removable, "protected": kept_images + kept_containers + kept_volumes}


def reclaimed_by_kind(entries):
    """{container, image, build_cache, volume, total}: bytes of `entries` (selection entries) per category."""
    totals = {"container": 0, "image": 0, "build_cache": 0, "volume": 0}
    for entry in entries:
        totals["image" if entry["kind"] == "tag" else entry["kind"]] += entry.get("size_bytes") or 0
    totals["total"] = sum(totals.values())
    return totals


def _repositories(tags):
    return ", ".join(dict.fromkeys(repository_of(tag) for tag in tags))


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


def read_docker_inputs(socket_path=DEFAULT_SOCKET, timeout=30.0, daemon_json_path=DAEMON_JSON, host_files=True):
    """Ask the daemon (GET /version, /info, /system/df, each container's inspect) and, with `host_files`, read the
    container log files and daemon.json (a cleanup needs neither: its log_usage is {} and daemon_json None).

    Raise DockerUnavailable when the daemon cannot be asked or answers with an error.
    """
    client = DockerClient(socket_path, timeout)
    try:
        version = client.connect()
        info = client.get("/info")
        df = client.get("/system/df")
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


def gather_docker_facts(socket_path=DEFAULT_SOCKET, timeout=30.0, keep=3, include_images_list=True):
    """The `hostcare_docker` facts of this host; available false (and why) when Docker cannot be asked."""
    try:
        inputs = read_docker_inputs(socket_path, timeout)
    except DockerUnavailable as error:
        return unavailable_facts(error.code, str(error))
    return build_docker_facts(inputs, keep=keep, include_images_list=include_images_list)
