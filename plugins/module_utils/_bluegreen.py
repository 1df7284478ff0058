# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Blue-green releases of one containerised app behind nginx: the pure planner and its Docker helpers.

A release runs in one of two colours, each with a fixed loopback port; nginx's upstream include points at the
live one. The planner (`plan_release`) takes the recorded state (`load_state`) and the app's labelled containers
and says what to start, stop and remove; `next_state` records a switch and applies retention. `BlueGreenDocker`
and `probe_http` are the only code with I/O. Runs on the target's python3 (3.9+), standard library only.

The state file and the labels are a contract with the docker_cleanup role (docs in roles/bluegreen/README.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import re
import time
import urllib.parse

from ansible_collections.hostcare.vps.plugins.module_utils._docker import RUNNING_STATES, DockerAPIError

COLOURS = ("blue", "green")
LABEL_APP = "hostcare.bluegreen.app"
LABEL_COLOUR = "hostcare.bluegreen.colour"
LABEL_RELEASE = "hostcare.bluegreen.release"
LABEL_CONFIG = "hostcare.bluegreen.config"
LABEL_KEEP = "hostcare.keep"

APP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
NGINX_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STATE_KEYS = ("colour", "container", "image", "image_id", "deployed_at")


class BlueGreenError(Exception):
    """A deploy or rollback that cannot go on; the message says why and what state it left."""


# --- Inputs (pure) ---------------------------------------------------------------------------------------------

def option_errors(params):
    """Messages naming each unusable option value (empty when all are usable)."""
    errors = []
    app = params["app"]
    if not APP_NAME_RE.match(app or ""):
        errors.append(f"app: use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or "
                      f"digit (it names containers and the state file), got {app!r}")
    if params["action"] == "deploy" and not (params.get("image") or "").strip():
        errors.append("image: required with action=deploy (the image reference to deploy, such as myapp:2.4.1)")
    for name in ("blue_port", "green_port", "container_port"):
        if not 1 <= params[name] <= 65535:
            errors.append(f"{name}: must be a TCP port, 1 to 65535, got {params[name]}")
    if params["blue_port"] == params["green_port"]:
        errors.append(f"blue_port and green_port: must differ (each colour has its own port), both are {params['blue_port']}")
    for name in ("upstream_file", "state_dir"):
        if not str(params[name] or "").startswith("/"):
            errors.append(f"{name}: must be an absolute path, got {params[name]!r}")
    if not NGINX_NAME_RE.match(params.get("upstream_name") or ""):
        errors.append(f"upstream_name: use letters, digits, '.', '_' or '-', got {params.get('upstream_name')!r}")
    health = params["health_check"]
    if not str(health.get("path") or "").startswith("/"):
        errors.append(f"health_check.path: must start with '/', got {health.get('path')!r}")
    if not 100 <= health["status"] <= 599:
        errors.append(f"health_check.status: must be an HTTP status, 100 to 599, got {health['status']}")
    for key in ("interval", "timeout"):
        if not health[key] > 0:
            errors.append(f"health_check.{key}: must be more than 0 seconds, got {health[key]}")
    if health["retries"] < 1:
        errors.append(f"health_check.retries: must be 1 or more, got {health['retries']}")
    if health["start_period"] < 0:
        errors.append(f"health_check.start_period: must be 0 or more seconds, got {health['start_period']}")
    for name in ("drain_seconds", "keep_releases", "stop_timeout", "nginx_keepalive"):
        if params[name] < 0:
            errors.append(f"{name}: must be 0 or more, got {params[name]}")
    for key in params.get("env") or {}:
        if not ENV_NAME_RE.match(str(key)):
            errors.append(f"env: {key!r} is not a valid variable name")
    for volume in params.get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or not parts[1].startswith("/"):
            errors.append(f"volumes: use SOURCE:/container/path[:OPTIONS], got {volume!r}")
    return errors


def parse_env_file(text, path):
    """KEY=VALUE lines as `docker run --env-file` reads them (no quotes removed; '#' lines and blanks skipped)."""
    env = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = line.lstrip().partition("=")
        if not sep or not ENV_NAME_RE.match(key):
            raise BlueGreenError(f"env_files: {path} line {number} is not KEY=VALUE. Nothing was changed.")
        env[key] = value
    return env


def container_spec(params, env):
    """Everything that defines the app's container apart from colour, port and image: its digest says whether a
    running container still matches the role's settings."""
    return {
        "container_port": params["container_port"],
        "env": sorted(f"{key}={value}" for key, value in env.items()),
        "volumes": list(params.get("volumes") or []),
        "networks": list(params.get("networks") or []),
        "restart_policy": params["restart_policy"],
        "docker_options": params.get("docker_options") or {},
        "command": params.get("command"),
    }


def spec_digest(spec, image_id):
    text = json.dumps({"spec": spec, "image_id": image_id}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def short_id(image_id):
    return image_id.split(":", 1)[-1][:12]


def container_name(app, colour, image_id):
    return f"{app}-{colour}-{short_id(image_id)}"


def other_colour(colour):
    return "green" if colour == "blue" else "blue"


def deep_merge(base, extra):
    """base updated by extra, dictionaries merged key by key (extra wins)."""
    merged = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def create_body(app, colour, bind_address, host_port, image_id, spec, digest):
    """The POST /containers/create body. Our labels and port binding win over docker_options."""
    port = f"{spec['container_port']}/tcp"
    body = deep_merge({
        "Image": image_id,
        "Env": spec["env"],
        "ExposedPorts": {port: {}},
        "HostConfig": {
            "Binds": spec["volumes"],
            "RestartPolicy": {"Name": spec["restart_policy"]},
        },
    }, spec["docker_options"])
    if spec["command"]:
        body["Cmd"] = list(spec["command"])
    body["Labels"] = dict(body.get("Labels") or {}, **{
        LABEL_APP: app, LABEL_COLOUR: colour, LABEL_RELEASE: image_id, LABEL_CONFIG: digest, LABEL_KEEP: "true",
    })
    body["HostConfig"] = dict(body.get("HostConfig") or {})
    body["HostConfig"]["PortBindings"] = {port: [{"HostIp": bind_address, "HostPort": str(host_port)}]}
    if spec["networks"]:
        body["HostConfig"]["NetworkMode"] = spec["networks"][0]
        body["NetworkingConfig"] = {"EndpointsConfig": {spec["networks"][0]: {}}}
    return body


# --- State (pure) ----------------------------------------------------------------------------------------------

def empty_state(app):
    return {"app": app, "live": None, "releases": []}


def load_state(text, path, app):
    """The recorded state from the state file's text (None: no file yet). Raise BlueGreenError naming the file."""
    if text is None:
        return empty_state(app)
    try:
        state = json.loads(text)
    except ValueError as error:
        raise BlueGreenError(f"{path} is not valid JSON ({error}): fix or remove it. Nothing was changed.") from None
    problem = _state_problem(state, app)
    if problem:
        raise BlueGreenError(f"{path} {problem}: fix or remove it. Nothing was changed.")
    return state


def _state_problem(state, app):
    if not isinstance(state, dict) or not isinstance(state.get("releases"), list):
        return "is not a bluegreen state (an object with app, live and releases)"
    if state.get("app") != app:
        return f"records app {state.get('app')!r}, not {app!r}"
    for release in state["releases"] + ([state["live"]] if state.get("live") is not None else []):
        if not isinstance(release, dict) or any(not isinstance(release.get(key), str) for key in STATE_KEYS):
            return f"has a release without {', '.join(STATE_KEYS)}"
        if release["colour"] not in COLOURS:
            return f"has a release of colour {release['colour']!r}"
    return None


def rfc3339(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def next_state(state, release, keep_releases):
    """(new state, releases beyond retention): `release` is live and first, then the others newest first."""
    others = [old for old in state["releases"] if old["container"] != release["container"]]
    releases = [release] + others
    return ({"app": state["app"], "live": release, "releases": releases[:keep_releases + 1]},
            releases[keep_releases + 1:])


# --- Planning (pure) -------------------------------------------------------------------------------------------

def parse_app_containers(summaries):
    """GET /containers/json?all=1 entries of the app -> [{id, name, running, colour, release, config}]."""
    containers = []
    for summary in summaries or []:
        labels = summary.get("Labels") or {}
        names = summary.get("Names") or []
        containers.append({
            "id": summary.get("Id"),
            "name": names[0].lstrip("/") if names else summary.get("Id"),
            "running": summary.get("State") in RUNNING_STATES,
            "colour": labels.get(LABEL_COLOUR),
            "release": labels.get(LABEL_RELEASE),
            "config": labels.get(LABEL_CONFIG),
        })
    return containers


def _names(release, reference):
    """Whether `reference` (an image reference, id or short id) names `release`."""
    return reference in (release["image"], release["image_id"], short_id(release["image_id"]))


def plan_release(app, action, state, containers, image=None, image_id=None, digest=None, rollback_to=None):
    """What a deploy or rollback does. Raise BlueGreenError (nothing changed) when it cannot.

    Returns {noop, reason, colour, container, start_existing, remove_existing, stop_first, previous,
    previous_running, release}:
    start the container `container` of colour `colour` (an existing stopped one when start_existing, else create
    it, removing first a same-named one whose settings differ when remove_existing), after stopping the
    containers in stop_first (not live, but holding the colour's port); previous is the live release.
    """
    by_name = {container["name"]: container for container in containers}
    live = state.get("live")
    live_container = by_name.get(live["container"]) if live else None
    live_running = bool(live_container and live_container["running"])

    if action == "rollback":
        if not live:
            raise BlueGreenError(f"{app} has no live release to roll back from. Nothing was changed.")
        if rollback_to and _names(live, rollback_to) and live_running:
            return _noop(live, f"{live['image']} ({short_id(live['image_id'])}) is already live")
        candidates = [release for release in state["releases"] if release["container"] != live["container"]]
        if rollback_to:
            candidates = [release for release in candidates if _names(release, rollback_to)]
        if not candidates:
            wanted = f" matching {rollback_to!r}" if rollback_to else ""
            kept = ", ".join(f"{release['image']} ({short_id(release['image_id'])})" for release in state["releases"])
            raise BlueGreenError(f"{app} has no kept release{wanted} to roll back to (kept: {kept or 'none'}). "
                                 "Nothing was changed.")
        target = candidates[0]
        kept = by_name.get(target["container"])
        if kept is None:
            raise BlueGreenError(f"the container {target['container']} of release {target['image']} is gone, so it "
                                 "cannot be rolled back to (deploy that image instead). Nothing was changed.")
        image, image_id = target["image"], target["image_id"]
        if target["colour"] != live["colour"] or not live_running:
            return _start(containers, live, live_running, target["colour"], kept["name"], image, image_id,
                          start_existing=True)
        # The kept container would need the live colour's port: a new container of the image in the other colour.
        digest = None
    else:
        if live and live["image_id"] == image_id and live_running and live_container["config"] == digest:
            return _noop(live, f"{image} ({short_id(image_id)}) is already live with these settings")

    colour = other_colour(live["colour"]) if live else "blue"
    name = container_name(app, colour, image_id)
    existing = by_name.get(name)
    reuse = bool(existing and (digest is None or existing["config"] == digest))
    return _start(containers, live, live_running, colour, name, image, image_id, start_existing=reuse,
                  remove_existing=bool(existing and not reuse))


def _noop(live, reason):
    return {"noop": True, "reason": reason, "colour": live["colour"], "container": live["container"],
            "start_existing": False, "remove_existing": False, "stop_first": [], "previous": live,
            "previous_running": True, "release": live}


def _start(containers, live, live_running, colour, name, image, image_id, start_existing, remove_existing=False):
    live_name = live["container"] if live else None
    stop_first = [container["name"] for container in containers
                  if container["running"] and container["colour"] == colour
                  and container["name"] not in (live_name, name)]
    return {
        "noop": False,
        "reason": f"{'start the kept' if start_existing else 'create a'} {colour} container {name} of {image}",
        "colour": colour, "container": name, "start_existing": start_existing, "remove_existing": remove_existing,
        "stop_first": stop_first, "previous": live, "previous_running": live_running,
        "release": {"colour": colour, "container": name, "image": image, "image_id": image_id, "deployed_at": None},
    }


def render_upstream(app, upstream_name, address, port, keepalive, release):
    """The nginx include: one upstream block naming the live colour's port."""
    lines = [
        f"# Managed by hostcare.vps.bluegreen for {app}: do not edit, the next deploy rewrites it.",
        f"# Live: {release['colour']}, {release['image']} ({short_id(release['image_id'])}).",
        f"upstream {upstream_name} {{",
        f"    server {address}:{port} max_fails=0;",
    ]
    if keepalive:
        lines.append(f"    keepalive {keepalive};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def probe_address(bind_address):
    """Where the module reaches a colour's port: the bound address, loopback when bound to every address."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind_address, bind_address)


# --- Health (pure verdicts) ------------------------------------------------------------------------------------

class HealthWatch:
    """Healthy at the first good answer. Failures count only after start_period; `retries` consecutive ones fail.
    Docker saying unhealthy, or the container stopping, fails at once."""

    def __init__(self, start_period, retries):
        self.start_period = start_period
        self.retries = retries
        self.failures = 0
        self.last_problem = None

    def record(self, elapsed, state, probe_ok, problem=None):
        """state: the container's State from inspect. Returns "healthy", "waiting" or "failed"."""
        status = state.get("Status")
        if status != "running":
            self.last_problem = f"the container stopped (state {status}, exit code {state.get('ExitCode')})"
            return "failed"
        docker_health = (state.get("Health") or {}).get("Status")
        if docker_health == "unhealthy":
            self.last_problem = "Docker reports its HEALTHCHECK unhealthy"
            return "failed"
        if probe_ok:
            return "healthy"
        self.last_problem = problem
        if elapsed >= self.start_period:
            self.failures += 1
            if self.failures >= self.retries:
                return "failed"
        return "waiting"


def docker_health_probe(state):
    """(ok, problem) from the image's Docker HEALTHCHECK status."""
    health = (state.get("Health") or {}).get("Status")
    if health is None:
        return False, "the image has no Docker HEALTHCHECK (use health_check.type=http)"
    return health == "healthy", f"Docker health status {health}"


def demux_logs(raw):
    """Docker's multiplexed log stream (8-byte frame headers, no TTY) -> text. Plain text passes through."""
    if len(raw) < 8 or raw[0] not in (0, 1, 2) or raw[1:4] != b"\0\0\0":
        return raw.decode("utf-8", "replace")
    out, position = [], 0
    while position + 8 <= len(raw):
        size = int.from_bytes(raw[position + 4:position + 8], "big")
        out.append(raw[position + 8:position + 8 + size])
        position += 8 + size
    return b"".join(out).decode("utf-8", "replace")


# --- I/O -------------------------------------------------------------------------------------------------------

def probe_http(address, port, path, expected_status, timeout):
    """(ok, problem) of one GET of the health path."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close", "User-Agent": "hostcare.vps.bluegreen"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return False, f"GET http://{address}:{port}{path}: {getattr(error, 'strerror', None) or error or type(error).__name__}"
    finally:
        connection.close()
    if status != expected_status:
        return False, f"GET http://{address}:{port}{path} answered {status}, expected {expected_status}"
    return True, None


class DeployLock:
    """An exclusive, non-blocking flock on <state_dir>/<app>.lock: one deploy or rollback of an app at a time."""

    def __init__(self, state_dir, app):
        self.path = os.path.join(state_dir, f"{app}.lock")
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise BlueGreenError(f"another deploy or rollback holds {self.path}; wait for it to finish. "
                                 "Nothing was changed.") from None
        return self

    def __exit__(self, *exc_info):
        self.handle.close()  # closing releases the lock


class BlueGreenDocker:
    """The Engine API calls of a blue-green release, over a DockerClient whose API version is negotiated."""

    def __init__(self, client):
        self.client = client

    def image_id(self, reference):
        """The id of a local image, None when the daemon does not have it."""
        image = self.client.get(f"/images/{urllib.parse.quote(reference, safe='')}/json", ignore_status=(404,))
        return image["Id"] if image else None

    def app_containers(self, app):
        filters = json.dumps({"label": [f"{LABEL_APP}={app}"]})
        return parse_app_containers(self.client.get(f"/containers/json?all=1&filters={urllib.parse.quote(filters)}"))

    def inspect(self, name):
        return self.client.get(f"/containers/{urllib.parse.quote(name)}/json")

    def create(self, name, body, networks):
        created = self.client.request("POST", f"/containers/create?name={urllib.parse.quote(name)}", body=body)
        for network in networks[1:]:
            self.client.request("POST", f"/networks/{urllib.parse.quote(network)}/connect",
                                body={"Container": created["Id"]})
        return created["Id"]

    def start(self, name):
        self.client.request("POST", f"/containers/{urllib.parse.quote(name)}/start", ignore_status=(304,))

    def stop(self, name, timeout):
        self.client.request("POST", f"/containers/{urllib.parse.quote(name)}/stop?t={int(timeout)}",
                            timeout=timeout + 30, ignore_status=(304, 404))  # already stopped, or gone

    def remove(self, name, force=False):
        """Remove a container; only our own new, failed container is removed running (force)."""
        self.client.request("DELETE", f"/containers/{urllib.parse.quote(name)}?force={int(force)}",
                            ignore_status=(404,))

    def remove_image(self, image_id):
        """Delete an image no container uses; never forced. Returns None, or why it stays."""
        try:
            self.client.request("DELETE", f"/images/{urllib.parse.quote(image_id)}", timeout=120)
        except DockerAPIError as error:
            if error.status == 404:
                return None
            return str(error)
        return None

    def logs(self, name, lines=20):
        raw = self.client.request("GET", f"/containers/{urllib.parse.quote(name)}/logs?stdout=1&stderr=1&tail={lines}",
                                  expect_json=False)
        return demux_logs(raw or b"")

    def wait_healthy(self, name, health, address, port, sleep=time.sleep, clock=time.monotonic):
        """Poll until healthy; (True, None) or (False, the last problem)."""
        watch = HealthWatch(health["start_period"], health["retries"])
        started = clock()
        while True:
            state = self.inspect(name).get("State") or {}
            if health["type"] == "docker":
                ok, problem = docker_health_probe(state)
            elif state.get("Running"):
                ok, problem = probe_http(address, port, health["path"], health["status"], health["timeout"])
            else:
                ok, problem = False, None
            verdict = watch.record(clock() - started, state, ok, problem)
            if verdict == "healthy":
                return True, None
            if verdict == "failed":
                return False, watch.last_problem
            sleep(health["interval"])
