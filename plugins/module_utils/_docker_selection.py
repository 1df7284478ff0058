# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""What a cleanup policy removes and why everything else stays (pure): the one selection of the
hostcare_docker facts, the audit and the docker_cleanup module.

`normalize_policy` checks a policy dict; `select_removable` applies it to the parsed images, containers,
volumes and build cache of _docker_objects. No I/O. Standard library only.
"""

from __future__ import annotations

import fnmatch

from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import (
    ImageReference,
    describe_duration,
    image_users,
)
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

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


class PolicyError(OptionError):
    """A cleanup policy that select_removable cannot use; the message names the key."""


MAX_AGE_SECONDS = 3650 * 86400
"""Ages in a policy (unused for, stopped for) stay within ten years; more is a typo, not a wish."""


def _check_age(result, key):
    value = result[key]
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 <= value <= MAX_AGE_SECONDS):
        raise PolicyError(f"policy.{key}: must be a number >= 0 (seconds, at most {MAX_AGE_SECONDS}) or null, "
                          f"got {value!r}")


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


def split_tags_by_keep(images, keep):
    """(kept, old): the tags of the `keep` newest images of each repository (by build time) and the other tags.

    Images are counted, not tags, so app:latest and app:v3 on one image take one place. keep None: both empty.
    """
    if keep is None:
        return set(), set()
    by_repository = {}
    for image in images:
        for tag in image["repo_tags"]:
            by_repository.setdefault(ImageReference(tag).repository, {})[image["id"]] = image
    kept, old = set(), set()
    for repository, members in by_repository.items():
        newest = sorted(members.values(), key=lambda image: (-image["created"], image["id"]))[:keep]
        newest_ids = {image["id"] for image in newest}
        for image in members.values():
            for tag in image["repo_tags"]:
                if ImageReference(tag).repository == repository:
                    (kept if image["id"] in newest_ids else old).add(tag)
    return kept, old


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
                "reason": f"not among the newest {keep} images of {ImageReference(tag).repository}; the image keeps {', '.join(image_kept)}",
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
    return ", ".join(dict.fromkeys(ImageReference(tag).repository for tag in tags))
