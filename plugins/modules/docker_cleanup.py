#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_cleanup
short_description: Reclaim Docker disk space without losing rollback images, stopped containers' images or data
version_added: 0.1.0
description:
  - Selects, with the same selection as M(hostcare.vps.docker_bloat_facts) and the audit, the exact Docker objects
    a policy removes, and (outside check mode) removes exactly those through the Engine API over the daemon's unix
    socket (Python standard library only).
  - Never removes an image a container uses, running or stopped; an image or container with a label of
    O(protect_labels); an image whose tag matches O(protect_patterns); an image recorded as a live or rollback
    release in a bluegreen state file of O(protect_state_dir); the newest O(keep) images of each repository.
  - Volumes are never removed unless both O(remove_volumes) and O(remove_volumes_confirmed) are true, and then only
    the volumes no container (running or stopped) mounts.
  - Each object is looked at again just before its removal; one that a container started using, or that was
    retagged, since the selection is skipped and reported in RV(skipped).
  - With O(trigger_use_percent) or O(trigger_images_size) set, it acts only when one of them is exceeded and
    otherwise reports why it did nothing.
author:
  - hostcare.vps contributors (@hostcare)
options:
  prune_timeout:
    description:
      - Seconds the build cache prune may take, more than 0 and at most 3600. O(timeout) bounds every other request.
    type: raw
    default: 600
  busy_attempts:
    description:
      - How many times a request is sent while the daemon answers that another prune is running (HTTP 409),
        waiting 2, 4, 8... seconds in between. A whole number from V(1) to V(10).
    type: raw
    default: 5
  keep:
    description:
      - How many of the newest images (by build time) of each repository are kept even when no container uses
        them (the rollback images). A whole number from V(0) to V(1000000). Images are counted, not tags.
    type: raw
    default: 3
  remove_dangling:
    description:
      - Remove images without a tag that no container uses.
    type: bool
    default: true
  unused_older_than:
    description:
      - Also remove images that no container uses, that are not among the newest O(keep) of a repository and were
        built at least this long ago (V(12h), V(7d), V(2w), or seconds; at most V(3650d)). Empty (the default) turns this rule off;
        older tags beyond O(keep) are removed by O(keep) whatever their age.
    type: str
  containers_older_than:
    description:
      - Remove exited (or dead) containers stopped at least this long ago (V(30d), seconds...), without their
        volumes. Empty (the default) removes no container. Containers that never started are never removed.
    type: str
  build_cache_older_than:
    description:
      - Remove build cache unused for at least this long (V(7d), V(0) for all unused cache). Empty removes none.
    type: str
  remove_volumes:
    description:
      - Remove the volumes no container, running or stopped, mounts. Volumes hold data (databases, uploads);
        this also needs O(remove_volumes_confirmed=true).
    type: bool
    default: false
  remove_volumes_confirmed:
    description:
      - The separate confirmation O(remove_volumes) needs.
    type: bool
    default: false
  protect_labels:
    description:
      - Images, containers and volumes with one of these labels are never removed. V(LABEL=VALUE), or V(LABEL)
        for any value.
    type: list
    elements: str
    default: [hostcare.keep=true]
  protect_patterns:
    description:
      - Images with a tag matching one of these shell patterns (V(postgres:*), V(*:stable)) are never removed.
    type: list
    elements: str
    default: []
  protect_state_dir:
    description:
      - Absolute path of the directory of bluegreen state files (C(<app>.json), the O(hostcare.vps.bluegreen_release#module:state_dir));
        the images of their live and rollback releases are never removed. RV(protected_releases) says how many.
      - A directory that does not exist is refused (a misspelt path would protect nothing), except the default
        one, which means no blue-green app was ever deployed on this host. A file that cannot be read or is not
        valid makes the module fail, naming the file, before anything is removed.
    type: path
    default: /var/lib/hostcare/bluegreen
  trigger_use_percent:
    description:
      - Act only when the filesystem of Docker's root directory is more than this full (V(0) to V(100)), or when
        O(trigger_images_size) is exceeded. Unset with O(trigger_images_size) unset, the module always acts.
    type: raw
  trigger_images_size:
    description:
      - Act only when the images take more than this (V(10G), bytes; at most 1 PiB), or when O(trigger_use_percent)
        is exceeded.
    type: str
extends_documentation_fragment:
  - hostcare.vps.docker
attributes:
  check_mode:
    support: full
    description: Lists every object that would be removed, with its size and reason, and removes nothing.
  diff_mode:
    support: full
    description: Shows the objects removed (or that would be removed), one per line.
notes:
  - Needs access to the Docker socket (root or the docker group).
  - Build cache is removed by one C(POST /build/prune) with the C(unused-for) filter, which the daemon applies to the
    cache as it is at that moment; RV(unexpected) lists any record it removed that the selection had not listed.
seealso:
  - module: hostcare.vps.docker_bloat_facts
  - name: Role hostcare.vps.docker_cleanup
    description: Runs this module with the role's policy variables and reports what it did.
    link: https://example.invalid/hostcare/vps/tree/main/roles/docker_cleanup
"""

EXAMPLES = r"""
- name: Show what a cleanup would remove
  hostcare.vps.docker_cleanup:
    keep: 3
    build_cache_older_than: 7d
  check_mode: true
  register: plan

- name: Clean up when the Docker filesystem is more than 80 % full
  hostcare.vps.docker_cleanup:
    keep: 3
    containers_older_than: 30d
    build_cache_older_than: 7d
    trigger_use_percent: 80
"""

RETURN = r"""
triggered:
  description: Whether the trigger was met (always true without a trigger). When false nothing was selected.
  returned: always
  type: bool
  sample: true
trigger_reason:
  description: Why it acted or not.
  returned: always
  type: str
  sample: "the Docker filesystem is 91.5% used (above trigger_use_percent 80%)"
selected:
  description: The objects the policy removes, in removal order; in check mode, what would be removed.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: V(container), V(image) (delete the image), V(tag) (untag only, the image keeps another tag), V(build_cache) or V(volume).
      returned: always
      type: str
      sample: image
    id:
      description: Image or container ID, build cache record ID, or volume name.
      returned: always
      type: str
      sample: "sha256:bd1c0d7f8958c207ccf683a23cf220f3cc8cdc53849894eb99693a0fc6e3ff08"
    names:
      description: Tags of an image (the one tag of a V(tag)), container or volume name, build cache description.
      returned: always
      type: list
      elements: str
      sample: [app:v1]
    size_bytes:
      description: Bytes its removal frees (an image's unique size; 0 for a tag or a shared build cache record).
      returned: always
      type: int
      sample: 3145728
    rules:
      description: The rules selecting it.
      returned: always
      type: list
      elements: str
      sample: [beyond_keep]
    reason:
      description: Why, in words.
      returned: always
      type: str
      sample: not among the newest 3 images of app
kept:
  description: Every image not removed as a whole (and containers and volumes looked at), with the rule and reason.
  returned: always
  type: list
  elements: dict
  sample: [{id: "sha256:9c88...", names: [app:v6], rule: running_container, reason: used by running container web}]
removed:
  description: The entries of RV(selected) actually removed (empty in check mode and when not triggered).
  returned: always
  type: list
  elements: dict
  sample: []
skipped:
  description: Entries of RV(selected) not removed because they changed since the selection, each with C(skipped_because).
  returned: always
  type: list
  elements: dict
  sample: []
unexpected:
  description: Build cache records the prune removed that the selection had not listed.
  returned: always
  type: list
  elements: dict
  sample: []
would_reclaim_bytes:
  description: Bytes the selection frees, per category (C(container), C(image), C(build_cache), C(volume), C(total)).
  returned: always
  type: dict
  sample: {container: 0, image: 6291456, build_cache: 1048576, volume: 0, total: 7340032}
reclaimed_bytes:
  description:
    - Bytes freed per category by what was removed, as the selection sized it; zeros in check mode.
    - Build cache records whose layers an image shares count 0, as those layers stay.
  returned: always
  type: dict
  sample: {container: 0, image: 6291456, build_cache: 1048576, volume: 0, total: 7340032}
filesystem_before:
  description: Use of the filesystem of Docker's root directory before the run (V(null) when it cannot be read).
  returned: always
  type: dict
  sample: {path: /var/lib/docker, size_bytes: 21474836480, used_bytes: 19327352832, available_bytes: 2147483648, use_percent: 90.0}
filesystem_after:
  description: The same, after the run.
  returned: always
  type: dict
  sample: {path: /var/lib/docker, size_bytes: 21474836480, used_bytes: 12884901888, available_bytes: 8589934592, use_percent: 60.0}
build_cache_daemon_reported_bytes:
  description: What the daemon's build cache prune said it reclaimed; it counts shared records, whose layers stay.
  returned: always
  type: int
  sample: 35655933
report:
  description: The run in lines for a human (what the role prints).
  returned: always
  type: list
  elements: str
  sample: ["trigger: no trigger set: the cleanup always runs", "removed image shop/web:v1 (1.0 MiB): not among the newest 3 images of shop/web"]
protected_releases:
  description:
    - How many release images (live and rollback) the bluegreen state files of O(protect_state_dir) protected.
      V(0) when the default directory does not exist.
  returned: always
  type: int
  sample: 4
images_bytes:
  description: Bytes the images take (every layer once), as C(docker system df) counts them, before the run.
  returned: always
  type: int
  sample: 1073741824
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import (
    CONNECTION_SPEC,
    DockerClient,
    DockerUnavailable,
    connection_options,
    negotiate_api_version,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_cleanup import (
    BLUEGREEN_STATE_DIR,
    StateError,
    describe_entry,
    describe_protected_releases,
    filesystem_usage,
    parse_duration,
    plan_cleanup,
    read_release_state,
    remove_planned,
    report_lines,
    trigger_decision,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_facts import read_docker_inputs
from ansible_collections.hostcare.vps.plugins.module_utils._docker_selection import (
    PolicyError,
    normalize_policy,
    parse_label_list,
    reclaimed_by_kind,
)
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size

MAX_BUSY_ATTEMPTS = 10
"""10 attempts wait 2 + 4 + ... + 512 s, about 17 minutes; more would outlast any task timeout."""

ARGUMENT_SPEC = dict({
    # Numbers are raw and checked by settings_from_params() (_validate): ansible-core's int check crashes on inf
    # and its int and float checks read Unicode digits.
    "prune_timeout": {"type": "raw", "default": 600},
    "busy_attempts": {"type": "raw", "default": 5},
    "keep": {"type": "raw", "default": 3},
    "remove_dangling": {"type": "bool", "default": True},
    "unused_older_than": {"type": "str"},
    "containers_older_than": {"type": "str"},
    "build_cache_older_than": {"type": "str"},
    "remove_volumes": {"type": "bool", "default": False},
    "remove_volumes_confirmed": {"type": "bool", "default": False},
    "protect_labels": {"type": "list", "elements": "str", "default": ["hostcare.keep=true"]},
    "protect_patterns": {"type": "list", "elements": "str", "default": []},
    "protect_state_dir": {"type": "path", "default": BLUEGREEN_STATE_DIR},
    "trigger_use_percent": {"type": "raw"},
    "trigger_images_size": {"type": "str"},
}, **CONNECTION_SPEC)


def settings_from_params(params):
    """The checked settings: {socket_path, timeout, prune_timeout, busy_attempts, trigger_use_percent,
    trigger_images_bytes, protect_state_dir, policy (without protect_releases)}.

    Raise _validate.OptionError (PolicyError is one) naming the option at fault; nothing is read or asked yet.
    """
    socket_path, timeout = connection_options(params)
    settings = {
        "socket_path": socket_path,
        "timeout": timeout,
        "prune_timeout": _validate.timeout("prune_timeout", params["prune_timeout"]),
        "busy_attempts": _validate.integer("busy_attempts", params["busy_attempts"], minimum=1, maximum=MAX_BUSY_ATTEMPTS),
        "trigger_use_percent": None,
        "trigger_images_bytes": None,
        "protect_state_dir": _validate.absolute_path("protect_state_dir", params["protect_state_dir"], written=False),
    }
    keep = _validate.integer("keep", params["keep"], minimum=0)
    if params["remove_volumes"] and not params["remove_volumes_confirmed"]:
        raise PolicyError("remove_volumes: volumes hold data (databases, uploads); to remove the volumes no container "
                          "mounts, set remove_volumes_confirmed to true as well")
    if params["trigger_use_percent"] is not None:
        settings["trigger_use_percent"] = _validate.percentage("trigger_use_percent", params["trigger_use_percent"])
    if params["trigger_images_size"] not in (None, ""):
        settings["trigger_images_bytes"] = _validate.size("trigger_images_size", params["trigger_images_size"])
    settings["policy"] = normalize_policy({
        "keep": keep,
        "remove_dangling": params["remove_dangling"],
        "remove_unused_older_than_seconds": parse_duration(params["unused_older_than"], "unused_older_than"),
        "remove_containers_older_than_seconds": parse_duration(params["containers_older_than"], "containers_older_than"),
        "remove_build_cache_older_than_seconds": parse_duration(params["build_cache_older_than"], "build_cache_older_than"),
        "remove_volumes": params["remove_volumes"],
        "protect_labels": parse_label_list(params["protect_labels"]),
        "protect_patterns": params["protect_patterns"],
    })
    return settings


def _finish(module, result, msg, protection, failed=False):
    result["report"] = report_lines(result, module.check_mode, protection)
    if module._diff and result["changed"]:
        entries = result["selected"] if module.check_mode else result["removed"]
        result["diff"] = {"before_header": "Docker objects", "after_header": "Docker objects",
                          "before": "".join(describe_entry(entry) + "\n" for entry in entries), "after": ""}
    if failed:
        module.fail_json(msg=msg, **result)
    module.exit_json(msg=msg, **result)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    result = {"changed": False, "triggered": False, "trigger_reason": "", "selected": [], "kept": [], "removed": [],
              "skipped": [], "unexpected": [], "would_reclaim_bytes": reclaimed_by_kind([]),
              "reclaimed_bytes": reclaimed_by_kind([]), "build_cache_daemon_reported_bytes": 0,
              "filesystem_before": None, "filesystem_after": None, "images_bytes": 0, "report": [],
              "protected_releases": 0}
    try:
        settings = settings_from_params(params)
        policy = settings["policy"]
        policy["protect_releases"] = read_release_state(settings["protect_state_dir"])
    except (_validate.OptionError, StateError) as error:
        module.fail_json(msg=f"{error}. Nothing was removed.", **result)
    result["protected_releases"] = len(policy["protect_releases"])
    protection = describe_protected_releases(policy["protect_releases"], settings["protect_state_dir"])
    try:
        inputs = read_docker_inputs(settings["socket_path"], settings["timeout"], host_files=False)
    except DockerUnavailable as error:
        module.fail_json(msg=f"Docker cannot be asked ({error.code}): {error} (asked through socket_path "
                             f"{settings['socket_path']}). Nothing was removed.", **result)

    plan = plan_cleanup(inputs, policy, time.time())
    root_dir = inputs["info"].get("DockerRootDir") or "/var/lib/docker"
    before = filesystem_usage(root_dir)
    triggered, why = trigger_decision(before, plan["images_bytes"], settings["trigger_use_percent"],
                                      settings["trigger_images_bytes"])
    result.update(triggered=triggered, trigger_reason=why, kept=plan["kept"], filesystem_before=before,
                  filesystem_after=before, images_bytes=plan["images_bytes"])
    if not triggered:
        _finish(module, result, f"Not triggered: {why}. Nothing was removed.", protection)
    result.update(selected=plan["selected"], would_reclaim_bytes=plan["would_reclaim"], changed=bool(plan["selected"]))
    if module.check_mode or not plan["selected"]:
        _finish(module, result, f"{len(plan['selected'])} objects would free {format_size(plan['would_reclaim']['total'])}",
                protection)

    client = DockerClient(settings["socket_path"], settings["timeout"])
    client.use_api_version(negotiate_api_version(inputs["version"]))
    try:
        outcome = remove_planned(client, plan["selected"], policy, settings["prune_timeout"],
                                 settings["busy_attempts"])
    except DockerUnavailable as error:
        progress = getattr(error, "progress", {"removed": [], "skipped": []})
        result.update(changed=bool(progress["removed"]), removed=progress["removed"], skipped=progress["skipped"],
                      reclaimed_bytes=reclaimed_by_kind(progress["removed"]), filesystem_after=filesystem_usage(root_dir))
        _finish(module, result, f"The cleanup stopped: {error}. Removed before that: {len(progress['removed'])} of "
                                f"{len(plan['selected'])} objects (see removed).", protection, failed=True)
    finally:
        client.close()
    result.update(changed=bool(outcome["removed"]), removed=outcome["removed"], skipped=outcome["skipped"],
                  unexpected=outcome["unexpected"], reclaimed_bytes=outcome["reclaimed"],
                  build_cache_daemon_reported_bytes=outcome["build_cache_daemon_reported_bytes"],
                  filesystem_after=filesystem_usage(root_dir))
    _finish(module, result, f"Removed {len(outcome['removed'])} objects, {format_size(outcome['reclaimed']['total'])}; "
                            f"skipped {len(outcome['skipped'])}", protection)


if __name__ == "__main__":
    main()
