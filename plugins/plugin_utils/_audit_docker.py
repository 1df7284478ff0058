# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Docker checks of the audit, on ``facts["docker"]`` (the ``hostcare_docker`` fact of docker_bloat_facts).

What they propose is deliberately narrow: the exact images (old tags beyond ``keep``, dangling ones) and stopped
containers to remove by name or id, never ``docker system prune -a`` and never a volume; volumes are reported,
never judged safe to delete.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._docker import DAEMON_JSON, repository_of
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import (
    command_lines,
    daemon_json_check_command,
    daemon_json_command,
    docker_log_role_vars,
    docker_log_size,
    role_vars_lines,
)


DAY_SECONDS = 86400


_UNAVAILABLE_HINTS = {
    "permission_denied": "Re-run the audit with --become (-b), or as a member of the docker group.",
    "no_socket": "Docker is installed but its socket is missing: is the daemon running? (sudo systemctl status docker)",
    "not_a_socket": "The socket path exists but is not a socket: check the daemon's -H / \"hosts\" setting.",
    "connection_refused": "Nothing answers on the socket: start the daemon (sudo systemctl start docker) or check it.",
    "connection_error": "The daemon closed the connection: look at its log (sudo journalctl -u docker).",
    "timeout": ("The daemon answered too slowly (docker system df measures every layer and volume): run the audit "
                "when the host is quieter, or look at the daemon's log."),
    "api_error": "The daemon answered with an error: look at its log (sudo journalctl -u docker).",
    "unsupported_api": "The daemon's API version is outside what the module supports; upgrade Docker.",
}


def _docker(facts):
    """The Docker facts when Docker answered, else None (docker.unavailable reports that once)."""
    docker = core.as_dict(facts.get("docker"))
    return docker if docker.get("available") is True else None


def short_id(image_id):
    """sha256:9c88b4... -> 9c88b4c1e2f3 (the 12 hex digits `docker images` shows)."""
    text = str(image_id or "")
    return text.split(":", 1)[1][:12] if ":" in text else text[:12]


def _days(seconds):
    return round(seconds / DAY_SECONDS, 1) if seconds is not None else None


def _severity_by_size(size, limit):
    return "warning" if size > limit else "info"


@rule("docker.available", needs=("docker",))
def rule_docker_available(facts, limits):
    """Docker facts with available: false -> one info finding saying why (never an error)."""
    docker = core.as_dict(facts["docker"])
    if docker.get("available") is True:
        return []
    code = docker.get("reason_code")
    reason = str(docker.get("reason") or "the module gave no reason")
    if code == "not_installed":
        return [core.make_finding(
            "docker.not_installed", "info", "Docker not installed",
            "Docker is not installed on this host, so there is nothing of Docker's to check.",
            evidence={"reason_code": code, "reason": reason},
            recommendation="Nothing to do.")]
    hint = _UNAVAILABLE_HINTS.get(code, "Look at the reason above; every other check still ran.")
    return [core.make_finding(
        "docker.unavailable", "info", f"Docker not checked: {code or 'unavailable'}",
        f"Docker images, containers and logs were not checked: {reason}",
        evidence={"reason_code": code, "reason": reason},
        recommendation=hint)]


@rule("docker.reclaimable", needs=("docker",))
def rule_docker_reclaimable(facts, limits):
    """What a cleanup could free: unused images, stopped containers' layers and build cache, per category."""
    docker = _docker(facts)
    if docker is None:
        return []
    totals = core.as_dict(docker.get("totals"))
    images, containers = core.as_dict(totals.get("images")), core.as_dict(totals.get("containers"))
    volumes, cache = core.as_dict(totals.get("volumes")), core.as_dict(totals.get("build_cache"))
    unused = core.as_number(images.get("unused_bytes")) or 0
    stopped = core.as_number(containers.get("reclaimable_bytes")) or 0
    build_cache = core.as_number(cache.get("reclaimable_bytes")) or 0
    total = unused + stopped + build_cache
    evidence = {
        **core.size_evidence("reclaimable", total),
        **core.size_evidence("images_unused", unused),
        **core.size_evidence("images_reclaimable", core.as_number(images.get("reclaimable_bytes"))),
        **core.size_evidence("images_dangling", core.as_number(images.get("dangling_bytes"))),
        **core.size_evidence("images_old_tags", core.as_number(images.get("old_tags_bytes"))),
        **core.size_evidence("images_total", core.as_number(images.get("size_bytes"))),
        **core.size_evidence("containers_reclaimable", stopped),
        **core.size_evidence("build_cache_reclaimable", build_cache),
        **core.size_evidence("volumes_unused", core.as_number(volumes.get("reclaimable_bytes"))),
        "images_count": core.as_number(images.get("count")), "images_active": core.as_number(images.get("active")),
        "containers_count": core.as_number(containers.get("count")), "containers_active": core.as_number(containers.get("active")),
        "volumes_count": core.as_number(volumes.get("count")), "volumes_active": core.as_number(volumes.get("active")),
        "threshold_bytes": limits["docker_reclaimable_warning_bytes"],
        "threshold": format_size(limits["docker_reclaimable_warning_bytes"]),
    }
    parts = (f"images no container uses {format_size(unused)}, stopped containers {format_size(stopped)}, "
             f"build cache {format_size(build_cache)}")
    headline = ", ".join(f"{label} {format_size(size)}" for label, size in (
        ("unused images", unused), ("stopped containers", stopped), ("build cache", build_cache)) if size)
    volumes_text = ""
    if evidence["volumes_unused_bytes"]:
        volumes_text = (f" Volumes no container uses hold another {evidence['volumes_unused']} "
                        f"(reported only, see docker.unused_volumes).")
    if total <= limits["docker_reclaimable_info_bytes"]:
        return [core.make_finding(
            "docker.reclaimable_ok", "ok", f"Docker: {format_size(total)} reclaimable: ok",
            f"A cleanup could free {format_size(total)} ({parts}); info above "
            f"{format_size(limits['docker_reclaimable_info_bytes'])}.{volumes_text}",
            evidence=evidence)]
    severity = "warning" if total > limits["docker_reclaimable_warning_bytes"] else "info"
    lines = ["# what Docker counts, per category and per image, container and volume (read-only):",
             "docker system df",
             "docker system df -v"]
    if build_cache:
        lines += ["# build cache is only a cache (the next build is slower); remove what is unused for a week:",
                  "docker builder prune --filter until=168h"]
    return [core.make_finding(
        "docker.reclaimable", severity, f"Docker could free {format_size(total)} ({headline})",
        f"Docker holds {format_size(total)} that no running container needs: {parts}. `docker system df` "
        f"counts {evidence['images_reclaimable']} of images as reclaimable (layers shared with images in use "
        f"included).{volumes_text}",
        evidence=evidence,
        recommendation=("Remove what the other Docker findings list by name: old tags beyond the newest "
                        "kept per repository (docker.old_tags), dangling images (docker.dangling_images) and "
                        "long-stopped containers (docker.stopped_containers). The remaining unused images are "
                        "recent tags, your rollback points. Avoid `docker system prune -a`: it also removes the "
                        "images of stopped containers and every rollback tag. Volumes are never proposed for "
                        f"deletion. Role {core.ROLE_DOCKER_CLEANUP} does all of it (run it with --check first to see "
                        "the list): hostcare_docker_cleanup_keep (default 3), hostcare_docker_cleanup_remove_dangling "
                        "(default true), hostcare_docker_cleanup_build_cache_older_than (default 7d), "
                        "hostcare_docker_cleanup_containers_older_than (off by default)."),
        risk="safe", role=core.ROLE_DOCKER_CLEANUP, command="\n".join(lines))]


@rule("docker.old_tags", needs=("docker",))
def rule_docker_old_tags(facts, limits):
    """Tags of images older than the newest ``keep`` of their repository, no container using them."""
    docker = _docker(facts)
    if docker is None:
        return []
    entries = [entry for entry in core.as_list(docker.get("old_tags")) if entry.get("names")]
    if not entries:
        return []
    keep = core.as_number(docker.get("keep"))
    tags, repositories, images, untag_only = [], {}, [], []
    for entry in entries:
        names = [str(name) for name in entry["names"]]
        tags.extend(names)
        for name in names:
            repositories.setdefault(repository_of(name), []).append(name)
        if entry.get("kind") == "tag":
            untag_only.extend(names)
        else:
            images.append(short_id(entry.get("id")))
    size = sum(core.as_number(entry.get("size_bytes")) or 0 for entry in entries)
    rows = [{"repository": repo, "count": len(names), "tags": names} for repo, names in repositories.items()]
    evidence = {"old_tags": tags, "repositories": rows, "keep": keep, **core.size_evidence("size", size),
                "image_ids": images, "untag_only": untag_only,
                **core.size_evidence("threshold", limits["docker_cleanup_warning_bytes"])}
    command = ("# docker refuses to remove an image a container uses (no --force here);\n"
               "# a removed tag can be pulled or built again\n" + command_lines("docker image rm", tags))
    untag_text = ""
    if untag_only:
        verb = "loses" if len(untag_only) == 1 else "lose"
        untag_text = (f" {core.plural(len(untag_only), 'tag')} ({', '.join(untag_only)}) only {verb} the name: the "
                      f"image keeps a newer tag elsewhere.")
    listed = "; ".join(f"{row['repository']}: {', '.join(row['tags'])}" for row in rows)
    return [core.make_finding(
        "docker.old_tags", _severity_by_size(size, limits["docker_cleanup_warning_bytes"]),
        f"{core.plural(len(tags), 'old image tag')} beyond the newest {keep} per repository ({format_size(size)})",
        f"{core.plural(len(tags), 'tag')} of images older than the newest {keep} of their repository, used by no "
        f"container, hold {format_size(size)}: {listed}.{untag_text}",
        evidence=evidence,
        recommendation=(f"These are rollback points: keep the ones you may still roll back to (or audit with a "
                        f"bigger audit_docker_keep, now {keep}) and remove the others with the command, which names "
                        f"each tag; removing an image's last tag deletes it. Or run role {core.ROLE_DOCKER_CLEANUP} with "
                        f"hostcare_docker_cleanup_keep: {keep} (protect more with hostcare_docker_cleanup_protect_patterns "
                        f"or the label hostcare.keep=true); it never removes an image a container uses."),
        risk="caution", role=core.ROLE_DOCKER_CLEANUP, command=command)]


@rule("docker.dangling_images", needs=("docker",))
def rule_docker_dangling(facts, limits):
    """Untagged images no container uses."""
    docker = _docker(facts)
    if docker is None:
        return []
    entries = core.as_list(docker.get("dangling_images"))
    if not entries:
        return []
    ids = [short_id(entry.get("id")) for entry in entries]
    size = sum(core.as_number(entry.get("size_bytes")) or 0 for entry in entries)
    evidence = {"image_ids": ids, "count": len(ids), **core.size_evidence("size", size),
                **core.size_evidence("threshold", limits["docker_cleanup_warning_bytes"])}
    return [core.make_finding(
        "docker.dangling_images", _severity_by_size(size, limits["docker_cleanup_warning_bytes"]),
        f"{core.plural(len(ids), 'dangling image')} ({format_size(size)})",
        f"{core.plural(len(ids), 'image')} without a tag, used by no container, hold {format_size(size)} "
        f"(left behind when a tag moved to a newer build).",
        evidence=evidence,
        recommendation=("Remove them with the command, which names each image; nothing can start from an image "
                        "without a tag, and docker refuses to remove one a container uses. Role "
                        f"{core.ROLE_DOCKER_CLEANUP} removes them with hostcare_docker_cleanup_remove_dangling: true "
                        "(its default)."),
        risk="caution", role=core.ROLE_DOCKER_CLEANUP,
        command="# no --force: docker keeps any image a container uses\n" + command_lines("docker image rm", ids))]


@rule("docker.stopped_containers", needs=("docker",))
def rule_docker_stopped(facts, limits):
    """Containers stopped (or never started) for at least docker_stopped_min_days."""
    docker = _docker(facts)
    if docker is None:
        return []
    min_days = limits["docker_stopped_min_days"]
    old = [entry for entry in core.as_list(docker.get("stopped_containers"))
           if isinstance(entry.get("name"), str) and core.as_number(entry.get("stopped_seconds")) is not None
           and entry["stopped_seconds"] >= min_days * DAY_SECONDS]
    if not old:
        return []
    rows = [{"name": entry["name"], "image": entry.get("image"), "state": entry.get("state"),
             "stopped_days": _days(entry["stopped_seconds"]), **core.size_evidence("size_rw", core.as_number(entry.get("size_rw_bytes")))}
            for entry in old]
    names = [row["name"] for row in rows]
    size = sum(row["size_rw_bytes"] or 0 for row in rows)
    evidence = {"containers": rows, "names": names, **core.size_evidence("size", size), "min_days": min_days,
                **core.size_evidence("threshold", limits["docker_cleanup_warning_bytes"])}
    diff = "\n".join(f"docker container diff {name} | head -50" for name in names[:5])
    command = ("# what each one changed in its writable layer (read-only); that data goes with the container:\n"
               f"{diff}\n"
               "# removes the containers only, not their volumes (no -v):\n"
               + command_lines("docker container rm", names))
    listed = ", ".join(f"{row['name']} ({row['stopped_days']} days)" for row in rows[:3])
    return [core.make_finding(
        "docker.stopped_containers", _severity_by_size(size, limits["docker_cleanup_warning_bytes"]),
        f"{core.plural(len(rows), 'container')} stopped for more than {min_days:g} days ({format_size(size)})",
        f"{core.plural(len(rows), 'container')} stopped at least {min_days:g} days ago: {listed}"
        f"{f' and {len(rows) - 3} more' if len(rows) > 3 else ''}; their writable layers hold {format_size(size)} "
        f"and they keep their images from being cleaned up.",
        evidence=evidence,
        recommendation=("Check with `docker container diff` that nothing in their writable layer is needed (files "
                        "written inside a container outside a volume live there and are lost with it), then "
                        "remove them by name. Their volumes stay. A container of a compose project comes back "
                        f"with the next `docker compose up`. Role {core.ROLE_DOCKER_CLEANUP} removes them with "
                        f"hostcare_docker_cleanup_containers_older_than: {min_days:g}d (containers labelled "
                        "hostcare.keep=true stay)."),
        risk="caution", role=core.ROLE_DOCKER_CLEANUP, command=command)]


def _log_rows(docker):
    rows = []
    for container in core.as_list(docker.get("containers")):
        log = core.as_dict(container.get("log"))
        if not log or not isinstance(container.get("name"), str):
            continue
        rows.append({"path": log.get("path"), "container": container["name"], "driver": log.get("driver"),
                     "capped": log.get("capped"), "max_size": log.get("max_size"),
                     **core.size_evidence("size", core.as_number(log.get("size_bytes"))), "error": log.get("error"),
                     "running": bool(container.get("running"))})
    rows.sort(key=lambda row: -(row["size_bytes"] or 0))
    return rows


@rule("docker.logs", needs=("docker",))
def rule_docker_logs(facts, limits):
    """Container logs with no size limit (json-file without max-size), biggest first."""
    docker = _docker(facts)
    if docker is None:
        return []
    rows = _log_rows(docker)
    with_file = [row for row in rows if row["path"]]
    biggest = [{"path": row["path"], **core.size_evidence("size", row["size_bytes"]), "container": row["container"],
                "capped": row["capped"]} for row in with_file if row["size_bytes"] is not None]
    biggest = biggest[:limits["top_consumers"]]
    uncapped = [row for row in with_file if row["capped"] is False]
    unreadable = [row["container"] for row in with_file if row["size_bytes"] is None]
    if not uncapped:
        return [core.make_finding(
            "docker.logs_ok", "ok",
            f"Container logs: {core.plural(len(with_file), 'log file')}, all with a size limit",
            f"Every container log file on this host has a size limit ({core.plural(len(with_file), 'file')}).",
            evidence={"biggest": biggest, "unreadable_containers": unreadable})]
    logs = [{"path": row["path"], **core.size_evidence("size", row["size_bytes"]), "container": row["container"]}
            for row in uncapped]
    total = sum(row["size_bytes"] or 0 for row in uncapped)
    limit = limits["docker_log_warning_bytes"]
    large = [row for row in uncapped if (row["size_bytes"] or 0) > limit]
    severity = "warning" if large else "info"
    max_size = docker_log_size(limits["docker_log_max_size_bytes"])
    max_file = str(limits["docker_log_max_file"])
    evidence = {"logs": logs, "paths": [row["path"] for row in uncapped],
                "containers": [row["container"] for row in uncapped], **core.size_evidence("total", total),
                **core.size_evidence("threshold", limit), "biggest": biggest, "unreadable_containers": unreadable}
    lines = ["# log options are fixed when a container is created: re-create each one with a limit,",
             f"#   docker run --log-opt max-size={max_size} --log-opt max-file={max_file} ...",
             "# or in its compose service:",
             "#   logging:",
             "#     driver: json-file",
             f"#     options: {{max-size: \"{max_size}\", max-file: \"{max_file}\"}}",
             "# then: docker compose up -d <service>   (re-creates the container)"]
    if large:
        lines.append("# to free the space now, empty the biggest logs (their history is lost: copy what you need "
                     "first):")
        lines.extend(f"sudo truncate -s 0 {row['path']}" for row in large[:limits["top_consumers"]])
    role_vars = docker_log_role_vars(max_size, max_file)
    evidence["role_vars"] = role_vars
    lines.extend(role_vars_lines(core.ROLE_LOGROTATE, role_vars))
    lines.append("#   (it sets the default for new containers and lists the running ones still without a limit;")
    lines.append("#   re-creating them stays yours)")
    head = uncapped[0]
    size_text = ""
    if total:
        biggest_text = f", biggest {head['container']} {head['size']}" if len(uncapped) > 1 else ""
        size_text = f" ({format_size(total)}{biggest_text})"
    unreadable_text = ""
    if unreadable:
        unreadable_text = f" {core.plural(len(unreadable), 'log size')} could not be read: run the audit with -b."
    return [core.make_finding(
        "docker.logs_uncapped", severity,
        f"{core.plural(len(uncapped), 'container log')} without max-size{size_text}",
        f"{core.plural(len(uncapped), 'container log')} grow{'s' if len(uncapped) == 1 else ''} without a size limit "
        f"({format_size(total)} now): " + ", ".join(f"{row['container']} ({row['size']})" for row in logs[:3])
        + (f" and {len(logs) - 3} more" if len(logs) > 3 else "") + f".{unreadable_text}",
        evidence=evidence,
        recommendation=(f"Give each container a log limit (max-size {max_size}, max-file {max_file}) and a daemon "
                        f"default for new ones (see docker.daemon_log_opts). The limit applies only when the "
                        f"container is re-created. Emptying a log with truncate frees the space at once while "
                        f"the container keeps running. The role hostcare.vps.logrotate sets the default "
                        f"(evidence.role_vars) and lists the containers still to re-create."),
        risk="caution", role=core.ROLE_LOGROTATE, command="\n".join(lines))]


@rule("docker.daemon_log_opts", needs=("docker",))
def rule_docker_daemon_log_opts(facts, limits):
    """The daemon's default for new containers: json-file without max-size in daemon.json -> warning."""
    docker = _docker(facts)
    if docker is None:
        return []
    daemon = core.as_dict(docker.get("daemon"))
    driver, source = daemon.get("log_driver"), daemon.get("log_opts_source")
    opts = daemon.get("log_opts")
    evidence = {"log_driver": driver, "log_opts": dict(opts) if isinstance(opts, Mapping) else None,
                "log_opts_source": source, "daemon_json": DAEMON_JSON}
    if source == "invalid":
        return [core.make_finding(
            "docker.daemon_json_invalid", "warning", f"{DAEMON_JSON} is not valid",
            f"{DAEMON_JSON} is not valid JSON (or its log-opts is not an object): dockerd refuses to start with "
            f"it, so the next restart or reboot leaves Docker down.",
            evidence=evidence,
            recommendation="Fix the file now, while the daemon still runs; the commands only read it.",
            risk="safe",
            command=(f"sudo python3 -m json.tool {DAEMON_JSON}   # shows where the JSON breaks\n"
                     + daemon_json_check_command()))]
    if source == "unreadable" or not isinstance(opts, Mapping):
        return [core.make_finding(
            "docker.daemon_json_unreadable", "info", "Docker's default log options not checked",
            f"{DAEMON_JSON} could not be read, so the daemon's default log options are unknown.",
            evidence=evidence, recommendation="Re-run the audit with --become (-b).")]
    if driver != "json-file" or opts.get("max-size") not in (None, "", "-1"):
        why = (f"max-size {opts['max-size']}" if driver == "json-file"
               else f"log driver {driver}" + (" (20m x 5 files by default)" if driver == "local" else ""))
        return [core.make_finding(
            "docker.daemon_log_opts_ok", "ok", f"Docker's default container log limit: {why}",
            f"New containers get {why} from the daemon's defaults.", evidence=evidence)]
    max_size = docker_log_size(limits["docker_log_max_size_bytes"])
    max_file = str(limits["docker_log_max_file"])
    evidence["proposed_log_opts"] = {"max-size": max_size, "max-file": max_file}
    evidence["role_vars"] = docker_log_role_vars(max_size, max_file)
    where = "there is no daemon.json" if source == "absent" else "daemon.json sets no max-size"
    return [core.make_finding(
        "docker.daemon_log_opts", "warning", "Docker has no default log size limit for new containers",
        f"The default log driver is json-file and {where}: every new container's log grows without limit.",
        evidence=evidence,
        recommendation=(f"Set log-opts max-size {max_size} and max-file {max_file} in {DAEMON_JSON}. Only "
                        f"containers created afterwards get them; re-create the existing ones (see "
                        f"docker.logs_uncapped). Restarting dockerd restarts every container unless live-restore "
                        f"is enabled. Options given on dockerd's command line (--log-opt) are not seen by the "
                        f"audit and must not be repeated in the file. The role hostcare.vps.logrotate makes this "
                        f"change with the variables in evidence.role_vars."),
        risk="caution", role=core.ROLE_LOGROTATE,
        command="\n".join([daemon_json_command(source, max_size, max_file)]
                          + role_vars_lines(core.ROLE_LOGROTATE, evidence["role_vars"])
                          + ["#   (it keeps every other key of daemon.json and restarts dockerd only with",
                             "#   hostcare_logrotate_docker_restart: true)"]))]


@rule("docker.volumes", needs=("docker",))
def rule_docker_volumes(facts, limits):
    """Volumes no container uses: reported for a human to look at, never proposed for deletion."""
    docker = _docker(facts)
    if docker is None:
        return []
    unused = [volume for volume in core.as_list(docker.get("volumes"))
              if volume.get("in_use") is False and isinstance(volume.get("name"), str)]
    if not unused:
        return []
    unused.sort(key=lambda volume: -(core.as_number(volume.get("size_bytes")) or 0))
    rows = [{"name": volume["name"], **core.size_evidence("size", core.as_number(volume.get("size_bytes"))),
             "anonymous": bool(volume.get("anonymous"))} for volume in unused]
    size = sum(row["size_bytes"] or 0 for row in rows)
    root = core.as_dict(docker.get("daemon")).get("root_dir") or "/var/lib/docker"
    lines = [f"docker volume inspect {row['name']}" for row in rows[:3]]
    lines += [f"sudo ls -la {root}/volumes/{row['name']}/_data | head" for row in rows[:3]]
    return [core.make_finding(
        "docker.unused_volumes", "info",
        f"{core.plural(len(rows), 'volume')} no container uses ({format_size(size)})",
        f"{core.plural(len(rows), 'volume')} mounted by no container, running or stopped, hold {format_size(size)}: "
        + ", ".join(f"{row['name'][:24]} ({row['size']})" for row in rows[:3])
        + (f" and {len(rows) - 3} more" if len(rows) > 3 else "") + ".",
        evidence={"volumes": rows, "names": [row["name"] for row in rows], **core.size_evidence("size", size)},
        recommendation=("For information only: volumes hold data (databases, uploads) and are never judged safe to "
                        "delete. Look at what they contain (the commands only read); back up before you decide "
                        "anything."),
        risk="safe", command="\n".join(lines))]
