# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Blue-green releases of one containerised app behind nginx: the pure planner.

A release runs in one of two colours, each with a fixed loopback port; nginx's upstream include points at the
live one. The planner (`plan_release`) takes the recorded state (`load_state`) and the app's labelled containers
and says what to start, stop and remove; `next_state` records a switch and applies retention; `drift` says what
differs between the state and the host. No I/O here: _bluegreen_inputs checks the options, _bluegreen_docker talks
to Docker, _bluegreen_run carries a plan out as one transaction. Runs on the target's python3 (3.9+), standard
library only.

The state file and the labels are a contract with the docker_cleanup role (docs in roles/bluegreen/README.md).
"""

from __future__ import annotations

import hashlib
import json
import time

from ansible_collections.hostcare.vps.plugins.module_utils._docker import RUNNING_STATES

COLOURS = ("blue", "green")
LABEL_APP = "hostcare.bluegreen.app"
LABEL_COLOUR = "hostcare.bluegreen.colour"
LABEL_RELEASE = "hostcare.bluegreen.release"
LABEL_CONFIG = "hostcare.bluegreen.config"
LABEL_KEEP = "hostcare.keep"

STATE_KEYS = ("colour", "container", "image", "image_id", "deployed_at")


class BlueGreenError(Exception):
    """A deploy or rollback that cannot go on; the message says why and what state it left."""


# --- Container settings (pure) ------------------------------------------------------------------------------

def container_spec(params, env):
    """Everything that defines the app's container apart from its colour and image: its digest says whether a
    container still matches the role's settings (the ports and address too: a new port means a new container)."""
    return {
        "container_port": params["container_port"],
        "bind_address": params["bind_address"],
        "ports": {"blue": params["blue_port"], "green": params["green_port"]},
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


def container_name(app, colour, image_id, digest):
    """<app>-<colour>-<image id>-<settings digest>: a container with other settings is another container, so the
    kept one is never removed before its replacement exists."""
    return f"{app}-{colour}-{short_id(image_id)}-{digest[:8]}"


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


def create_body(app, colour, image_id, spec, digest):
    """The POST /containers/create body. Our labels and port binding win over docker_options."""
    port = f"{spec['container_port']}/tcp"
    bind_address, host_port = spec["bind_address"], spec["ports"][colour]
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
    """(new state, releases beyond retention): `release` is live and first, then the others newest first.
    A release of the same image and colour with other settings is replaced by it (its container is a stray)."""
    others = [old for old in state["releases"] if old["container"] != release["container"]
              and (old["image_id"], old["colour"]) != (release["image_id"], release["colour"])]
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


def plan_release(app, action, state, containers, image=None, image_id=None, digest_of=None, rollback_to=None):
    """What a deploy or rollback does. Raise BlueGreenError (nothing changed) when it cannot.

    `digest_of(image_id)` is the settings digest a container of that image gets (spec_digest of the options).
    Returns {noop, reason, colour, container, start_existing, stop_first, previous, previous_running, release}:
    start the container `container` of colour `colour` (an existing one when start_existing, else create it),
    after stopping the containers in stop_first (not live, but holding the colour's port); previous is the live
    release.
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
    elif live and live["image_id"] == image_id and live_running and live_container["config"] == digest_of(image_id):
        return _noop(live, f"{image} ({short_id(image_id)}) is already live with these settings")

    colour = other_colour(live["colour"]) if live else "blue"
    name = container_name(app, colour, image_id, digest_of(image_id))
    return _start(containers, live, live_running, colour, name, image, image_id, start_existing=name in by_name)


def _noop(live, reason):
    return {"noop": True, "reason": reason, "colour": live["colour"], "container": live["container"],
            "start_existing": False, "stop_first": [], "previous": live,
            "previous_running": True, "release": live}


def _start(containers, live, live_running, colour, name, image, image_id, start_existing):
    live_name = live["container"] if live else None
    stop_first = [container["name"] for container in containers
                  if container["running"] and container["colour"] == colour
                  and container["name"] not in (live_name, name)]
    return {
        "noop": False,
        "reason": f"{'start the kept' if start_existing else 'create a'} {colour} container {name} of {image}",
        "colour": colour, "container": name, "start_existing": start_existing,
        "stop_first": stop_first, "previous": live, "previous_running": live_running,
        "release": {"colour": colour, "container": name, "image": image, "image_id": image_id, "deployed_at": None},
    }


def strays(containers, state):
    """Names of the app's containers that the state does not name: replaced by the same image with other
    settings, beyond retention, or left by an interrupted run. Removed once a release is recorded."""
    named = {release["container"] for release in state["releases"]}
    if state.get("live"):
        named.add(state["live"]["container"])
    return [container["name"] for container in containers if container["name"] not in named]


def drift(state, containers, include_text, wanted_text):
    """What differs between the recorded state and the host while the live release runs: {include (the include
    is not the state's), stop (running containers that are not live), remove (strays)}; all empty: no drift."""
    live_name = state["live"]["container"]
    return {
        "include": include_text != wanted_text,
        "stop": [container["name"] for container in containers if container["running"] and container["name"] != live_name],
        "remove": strays(containers, state),
    }


def describe_drift(found, upstream_file):
    """The drift in words, for the reason of a run that repairs it."""
    parts = []
    if found["include"]:
        parts.append(f"rewrite {upstream_file} (it does not point at the live release) and reload nginx")
    if found["stop"]:
        parts.append(f"stop {', '.join(found['stop'])} (running, not live)")
    if found["remove"]:
        parts.append(f"remove {', '.join(found['remove'])} (not in the state)")
    return "; ".join(parts)


class Deadline:
    """One time budget for a whole run: every wait is capped by what is left of it."""

    def __init__(self, seconds, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.at = clock() + seconds

    def remaining(self):
        return self.at - self.clock()

    def cap(self, seconds, floor=1.0):
        """`seconds`, or what is left of the budget when less (at least `floor`, so a last call can still answer)."""
        return max(floor, min(seconds, self.remaining()))

    def check(self, before):
        """Raise BlueGreenError when the budget is spent (`before`: the step that would start)."""
        if self.remaining() <= 0:
            raise BlueGreenError(f"time_budget: the {self.seconds:g} s budget ran out before {before}")

    def extend(self, seconds):
        """Give at least `seconds` more (to put back what a failed run began)."""
        self.at = max(self.at, self.clock() + seconds)


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
