# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The docker_cleanup module's plan and its execution.

`plan_cleanup` (pure) turns what `_docker_facts.read_docker_inputs` read into the exact list of objects to remove,
with `_docker_selection.select_removable`, the selection the facts and the audit use. `remove_planned` removes that list
through the Engine API, checking each object again just before removing it. Standard library only.
"""

from __future__ import annotations

import glob
import json
import os
import re
import time
import urllib.parse

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerAPIError, DockerUnavailable, with_retry
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import (
    ImageReference,
    api_size,
    parse_build_cache,
    parse_containers,
    parse_images,
    parse_volumes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_selection import (
    MAX_AGE_SECONDS,
    REMOVABLE_CONTAINER_STATES,
    PolicyError,
    _protecting_label,
    reclaimed_by_kind,
    select_removable,
)
from ansible_collections.hostcare.vps.plugins.module_utils._disk import filesystem_usage as disk_filesystem_usage
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size

BLUEGREEN_STATE_DIR = "/var/lib/hostcare/bluegreen"
"""Where hostcare.vps.bluegreen_release keeps its state files (its state_dir default)."""

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.ASCII)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# HTTP 409 with this text: another prune holds the daemon's prune lock; worth waiting for.


class StateError(Exception):
    """A bluegreen state file that cannot be trusted; the message names the file."""


# --- Inputs (pure) -------------------------------------------------------------------------------------------

def parse_duration(value, option):
    """Seconds of "90s", "15m", "12h", "7d", "2w" or a number of seconds; None for None or "" (rule off).

    At most ten years (MAX_AGE_SECONDS). Raise PolicyError naming `option` otherwise.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise PolicyError(f"{option}: expected a duration such as 12h, 7d or 2w, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise PolicyError(f"{option}: must be 0 or more, got {value!r}")
        seconds = value
    else:
        match = _DURATION_RE.match(str(value).lower())
        if not match:
            raise PolicyError(f"{option}: expected a duration such as 12h, 7d or 2w (units s, m, h, d, w), got {value!r}")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    try:
        return int(_validate.number(option, seconds, minimum=0, maximum=MAX_AGE_SECONDS, unit="seconds (ten years)"))
    except _validate.OptionError:
        raise PolicyError(f"{option}: must be a duration of at most 3650d ({MAX_AGE_SECONDS} seconds), got {value!r}") from None


def parse_release_state(text, path):
    """{image id: app} of the releases (live and rollback) in one bluegreen state file's text.

    Raise StateError naming `path` when the text is not the documented shape.
    """
    try:
        state = json.loads(text)
    except ValueError as error:
        raise StateError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(state, dict) or not isinstance(state.get("app"), str) or not state["app"]:
        raise StateError(f"{path}: expected an object with a non-empty string \"app\"")
    live, releases = state.get("live"), state.get("releases")
    if not isinstance(releases, list) or not (live is None or isinstance(live, dict)):
        raise StateError(f"{path}: expected \"live\" (an object or null) and \"releases\" (a list)")
    protected = {}
    for index, release in enumerate(([live] if live is not None else []) + releases):
        where = "live" if live is not None and index == 0 else f"releases[{index - (live is not None)}]"
        if not isinstance(release, dict) or not isinstance(release.get("image_id"), str) \
                or not release["image_id"].startswith("sha256:"):
            raise StateError(f"{path}: {where}: expected an object with \"image_id\": \"sha256:...\"")
        protected[release["image_id"]] = state["app"]
    return protected


def read_release_state(directory, default=BLUEGREEN_STATE_DIR):
    """{image id: app} from every *.json in `directory`. Raise StateError.

    A missing directory is refused (a misspelt path would silently protect nothing), except the `default` one:
    no blue-green app was ever deployed on this host, nothing to protect.
    """
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise StateError(f"protect_state_dir: {directory} is not a directory")
        if directory.rstrip("/") == default.rstrip("/"):
            return {}
        raise StateError(f"protect_state_dir: {directory} does not exist, so it would protect no release. Give the "
                         f"state_dir of hostcare.vps.bluegreen_release, or leave the default {default}")
    protected = {}
    for path in sorted(glob.glob(os.path.join(glob.escape(directory), "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            raise StateError(f"{path}: cannot be read ({getattr(error, 'strerror', None) or error})") from None
        protected.update(parse_release_state(text, path))
    return protected


def describe_protected_releases(releases, directory):
    """One line: how many releases the bluegreen state of `directory` protected ({image id: app})."""
    apps = sorted(set(releases.values()))
    if not apps:
        return f"bluegreen state {directory}: no release to protect"
    return (f"bluegreen state {directory}: {len(releases)} release image{'s' if len(releases) != 1 else ''} of "
            f"{', '.join(apps)} protected")


def filesystem_usage(path):
    """Use of the filesystem holding `path`, as df computes it; None when `path` cannot be looked at."""
    try:
        usage = disk_filesystem_usage(os.statvfs(path))
    except OSError:
        return None
    return {"path": path, "size_bytes": usage["size_bytes"], "used_bytes": usage["used_bytes"],
            "available_bytes": usage["available_bytes"], "use_percent": usage["use_percent"] or 0.0}


def trigger_decision(filesystem, images_bytes, use_percent_above, images_bytes_above):
    """(triggered, reason): act when the Docker filesystem's use is above `use_percent_above` or the images take
    more than `images_bytes_above`; always when neither is set."""
    if use_percent_above is None and images_bytes_above is None:
        return True, "no trigger set: the cleanup always runs"
    reasons, met = [], False
    if use_percent_above is not None:
        if filesystem is None:
            reasons.append("the Docker filesystem's use is unknown")
        else:
            above = filesystem["use_percent"] > use_percent_above
            met = met or above
            reasons.append(f"the Docker filesystem is {filesystem['use_percent']:g}% used "
                           f"({'above' if above else 'not above'} trigger_use_percent {use_percent_above:g}%)")
    if images_bytes_above is not None:
        above = images_bytes > images_bytes_above
        met = met or above
        reasons.append(f"images take {images_bytes} bytes "
                       f"({'above' if above else 'not above'} trigger_images_bytes {images_bytes_above})")
    return met, "; ".join(reasons)


def plan_cleanup(inputs, policy, now):
    """The selection for `policy` on what read_docker_inputs read: {selected, kept, images_bytes, would_reclaim}."""
    df, info = inputs["df"], inputs["info"]
    images = parse_images(df.get("Images"))
    containers = parse_containers(df.get("Containers"), inputs["inspections"], {}, info.get("DockerRootDir"), now)
    volumes = parse_volumes(df.get("Volumes"), containers)
    build_cache = parse_build_cache(df.get("BuildCache"))
    selection = select_removable(images, containers, policy, now, volumes=volumes, build_cache=build_cache)
    return {
        "selected": selection["removable"],
        "kept": selection["protected"],
        "images_bytes": api_size(df.get("LayersSize")) or 0,
        "would_reclaim": reclaimed_by_kind(selection["removable"]),
    }


def describe_entry(entry):
    names = ", ".join(entry["names"]) or entry["id"][:19]
    return f"{entry['kind']} {names} ({format_size(entry['size_bytes'])}): {entry['reason']}"


def _usage(filesystem):
    if filesystem is None:
        return "unknown"
    return (f"{filesystem['use_percent']:g}% used, {format_size(filesystem['available_bytes'])} free "
            f"({filesystem['path']})")


def report_lines(result, check_mode, protection=""):
    """The run in lines for a human: trigger, each object (would be) removed or skipped, bytes per category,
    the Docker filesystem before and after."""
    lines = [f"trigger: {result['trigger_reason']}"] + ([protection] if protection else [])
    if not result["triggered"]:
        return lines + ["nothing removed (not triggered)", f"Docker filesystem: {_usage(result['filesystem_before'])}"]
    if check_mode:
        entries, verb, totals = result["selected"], "would remove", result["would_reclaim_bytes"]
    else:
        entries, verb, totals = result["removed"], "removed", result["reclaimed_bytes"]
    lines.extend(f"{verb} {describe_entry(entry)}" for entry in entries if entry["kind"] != "build_cache")
    cache = [entry for entry in entries if entry["kind"] == "build_cache"]
    if cache:
        shared = sum(1 for entry in cache if "shared with an image" in entry["reason"])
        lines.append(f"{verb} {len(cache)} build cache records unused long enough "
                     f"({shared} of them share their layers with images, which keep them)")
    lines.extend(f"skipped {describe_entry(entry)}: {entry['skipped_because']}" for entry in result["skipped"])
    lines.extend(f"also removed by the build cache prune: {entry['id']}" for entry in result["unexpected"])
    lines.append(f"{'would reclaim' if check_mode else 'reclaimed'}: " + ", ".join(
        f"{kind.replace('_', ' ')}s {format_size(totals[kind])}" for kind in ("image", "container", "build_cache", "volume"))
        + f", total {format_size(totals['total'])}")
    lines.append(f"Docker filesystem before: {_usage(result['filesystem_before'])}")
    lines.append(f"Docker filesystem after: {_usage(result['filesystem_after'])}")
    return lines


# --- Removal (I/O) -------------------------------------------------------------------------------------------

def _quote(name):
    return urllib.parse.quote(name, safe="")


def _users_of(client, image_id, names):
    """Names of the containers (any state) whose image is `image_id` or whose reference names one of `names`."""
    users = []
    for container in client.get("/containers/json?all=1") or []:
        if container.get("ImageID") == image_id or ImageReference(container.get("Image")).as_tag() in names:
            users.append((container.get("Names") or ["/" + container.get("Id", "")[:12]])[0].lstrip("/"))
    return users


def _remove_container(client, entry, policy, retry):
    inspect = client.get(f"/containers/{entry['id']}/json", ignore_status=(404,))
    if inspect is None:
        return "gone before its removal"
    state = inspect.get("State") or {}
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    if state.get("Running") or state.get("Status") not in REMOVABLE_CONTAINER_STATES:
        return f"now {state.get('Status')}"
    label = _protecting_label(labels, policy)
    if label:
        return f"now has the protecting label {label.partition('=')[0]}"
    retry(lambda: client.request("DELETE", f"/containers/{entry['id']}?v=0&force=0"))
    return None


def _remove_image(client, entry, retry):
    inspect = client.get(f"/images/{entry['id']}/json", ignore_status=(404,))
    if inspect is None:
        return "gone before its removal"
    tags = sorted(tag for tag in inspect.get("RepoTags") or [] if tag != "<none>:<none>")
    if entry["kind"] == "image" and tags != sorted(entry["names"]):
        return f"its tags changed since the selection (now {', '.join(tags) or 'none'})"
    if entry["kind"] == "tag" and entry["names"][0] not in tags:
        return "the tag moved to another image since the selection"
    users = _users_of(client, entry["id"], set(tags))
    if users:
        return f"now used by container {', '.join(users)}"
    try:
        for tag in entry["names"]:
            retry(lambda tag=tag: client.request("DELETE", f"/images/{_quote(tag)}?force=0&noprune=0"))
        if entry["kind"] == "image":
            try:
                retry(lambda: client.request("DELETE", f"/images/{entry['id']}?force=0&noprune=0"))
            except DockerAPIError as error:
                if error.status != 404:  # 404: removing its last tag deleted it
                    raise
    except DockerAPIError as error:
        if error.status == 409:  # the daemon's own check: a container appeared meanwhile, child images...
            return f"the daemon refused: {error}"
        raise
    return None


def _remove_volume(client, entry, retry):
    try:
        retry(lambda: client.request("DELETE", f"/volumes/{_quote(entry['id'])}?force=0"))
    except DockerAPIError as error:
        if error.status == 404:
            return "gone before its removal"
        if error.status == 409:  # mounted by a container since the selection
            return f"the daemon refused: {error}"
        raise
    return None


def _prune_build_cache(client, older_seconds, timeout, retry):
    """POST /build/prune for records unused that long; ({id: True} of what it deleted, bytes it reclaimed)."""
    filters = urllib.parse.quote(json.dumps({"unused-for": [f"{int(older_seconds)}s"]}))
    answer = retry(lambda: client.request("POST", f"/build/prune?all=1&filters={filters}", timeout=timeout)) or {}
    return set(answer.get("CachesDeleted") or []), api_size(answer.get("SpaceReclaimed")) or 0


def remove_planned(client, selected, policy, prune_timeout, busy_attempts=5, sleep=time.sleep):
    """Remove the `selected` entries in order; {removed, skipped, unexpected, reclaimed}.

    Every object is looked at again first: a container now running, an image now used or retagged is skipped
    with the reason. Build cache goes in one prune (unused-for the policy's age), whose answer says which records
    it deleted; records it deleted beyond the plan are reported in `unexpected`. A daemon error other than a
    refusal stops the run: DockerUnavailable, with `.progress` holding what was done until then.
    """
    def retry(call):
        return with_retry(call, attempts=busy_attempts, sleep=sleep)

    removed, skipped, unexpected = [], [], []
    build_bytes = 0
    cache_entries = [entry for entry in selected if entry["kind"] == "build_cache"]
    try:
        for entry in selected:
            if entry["kind"] == "build_cache":
                continue
            if entry["kind"] == "container":
                why = _remove_container(client, entry, policy, retry)
            elif entry["kind"] == "volume":
                why = _remove_volume(client, entry, retry)
            else:
                why = _remove_image(client, entry, retry)
            (skipped if why else removed).append(dict(entry, skipped_because=why) if why else entry)
        if cache_entries:
            deleted, build_bytes = _prune_build_cache(
                client, policy["remove_build_cache_older_than_seconds"], prune_timeout, retry)
            planned = {entry["id"] for entry in cache_entries}
            for entry in cache_entries:
                if entry["id"] in deleted:
                    removed.append(entry)
                else:
                    skipped.append(dict(entry, skipped_because="used again since the selection"))
            unexpected.extend({"kind": "build_cache", "id": record_id} for record_id in sorted(deleted - planned))
    except DockerUnavailable as error:
        error.progress = {"removed": removed, "skipped": skipped}
        raise
    # The daemon's SpaceReclaimed counts shared records too, whose layers stay with their images: report the
    # selection's sizes of what was deleted instead, and the daemon's figure apart.
    return {"removed": removed, "skipped": skipped, "unexpected": unexpected, "reclaimed": reclaimed_by_kind(removed),
            "build_cache_daemon_reported_bytes": build_bytes}
