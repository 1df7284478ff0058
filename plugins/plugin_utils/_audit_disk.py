# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Disk checks of the audit, on ``facts["disk"]`` (the ``hostcare_disk`` fact of disk_pressure_facts): space and
inodes per real filesystem, the biggest consumers, the disk scan, the systemd journal and the apt cache. Log rotation is
_audit_logrotate's, deleted-but-open files and stale archives _audit_disk_files'.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import (
    mib_arg,
    role_vars_lines,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import (
    mount_point_of,
    real_filesystems,
    size_rows,
    use_percent,
    without_explained_parents,
)


def _consumers_on(facts, mount, limit):
    """Biggest scanned directories and files that lie on ``mount``."""
    scan = core.as_dict(core.as_dict(facts.get("disk")).get("scan"))
    mounts = real_filesystems(facts)
    dirs = [row for row in without_explained_parents(size_rows(scan.get("top_dirs")))
            if mount_point_of(row["path"], mounts) == mount]
    files = [row for row in size_rows(scan.get("top_files")) if mount_point_of(row["path"], mounts) == mount]
    return dirs[:limit], files[:limit]


def _cleanup_commands(facts, mount, limits):
    """Read-only investigation first, then the safe clean-ups that apply to ``mount``."""
    disk = core.as_dict(facts.get("disk"))
    mounts = real_filesystems(facts)
    lines = ["# what uses the space (read-only)",
             f"sudo du -xh --max-depth=2 {mount} 2>/dev/null | sort -rh | head -20",
             "# deleted files still held open (read-only; restarting the process frees the space)",
             "sudo lsof -nP +L1 2>/dev/null | head -20"]
    safe = []
    journal = core.as_dict(disk.get("journal"))
    journal_paths = [p for p in journal.get("paths") or [] if isinstance(p, str)]
    if (core.as_number(journal.get("size_bytes")) or 0) > limits["journal_vacuum_bytes"] and any(
            mount_point_of(p, mounts) == mount for p in journal_paths):
        safe.append(f"sudo journalctl --rotate --vacuum-size={mib_arg(limits['journal_vacuum_bytes'])}")
    apt = core.as_dict(disk.get("apt_cache"))
    if (core.as_number(apt.get("size_bytes")) or 0) > 0 and isinstance(apt.get("path"), str) and \
            mount_point_of(apt["path"], mounts) == mount:
        safe.append("sudo apt-get clean")
    docker_roots = [row for row in core.as_list(core.as_dict(disk.get("scan")).get("roots"))
                    if str(row.get("path", "")).startswith("/var/lib/docker")
                    and mount_point_of(str(row.get("path")), mounts) == mount and (core.as_number(row.get("size_bytes")) or 0) > 0]
    if safe:
        lines.append("# safe clean-ups (old archived journal entries, downloaded .deb files)")
        lines.extend(safe)
    if docker_roots:
        lines.append("# Docker images/volumes/build cache (read-only overview; prune only what you know is unused)")
        lines.append("docker system df")
    return "\n".join(lines), bool(docker_roots)


def _fs_evidence(item):
    return {"mount": item.get("mount"), "device": item.get("device"), "fstype": item.get("fstype"),
            **core.size_evidence("size", core.as_number(item.get("size_bytes"))), **core.size_evidence("used", core.as_number(item.get("used_bytes"))),
            **core.size_evidence("available", core.as_number(item.get("available_bytes")))}


def _all_below(finding_id, what, used_text, fine, threshold):
    """The one ok finding for every filesystem below the warning line ("/ 42.3%", ...)."""
    return core.make_finding(
        finding_id, "ok", f"{what}: {core.plural(len(fine), 'filesystem')} below {core.percent_text(threshold)}",
        f"Below {core.percent_text(threshold)} {used_text}: {', '.join(fine)}.",
        evidence={"filesystems": fine, "threshold_percent": threshold})


def _split_by_use(filesystems, percent_of, warning):
    """(the (filesystem, percent used) at or above ``warning``, the others as "/ 42.3%" for the one ok finding)."""
    over, fine = [], []
    for item in filesystems:
        used = percent_of(item)
        if used is None:
            continue
        if used < warning:
            fine.append(f"{item['mount']} {core.percent_text(used)}")
        else:
            over.append((item, used))
    return over, fine


@rule("disk.space", needs=("disk",))
def rule_disk_space(facts, limits):
    """Per filesystem: >= critical% -> critical, >= warning% -> warning; the rest in one ok finding."""
    findings = []
    filesystems = real_filesystems(facts)
    if not filesystems:
        return [core.make_finding(
            "disk.no_filesystems", "info", "Disk space not checked: no filesystem reported",
            "The disk facts list no real filesystem, so usage could not be judged.",
            recommendation="Run `df -h` on the host; inside some containers the root overlay is hidden.")]
    over, fine = _split_by_use(filesystems, use_percent, limits["disk_warning_percent"])
    for item, used in over:
        mount = item["mount"]
        critical = used >= limits["disk_critical_percent"]
        dirs, files = _consumers_on(facts, mount, limits["top_consumers"])
        evidence = {**_fs_evidence(item), "use_percent": used,
                    "threshold_percent": limits["disk_critical_percent" if critical else "disk_warning_percent"],
                    "top_dirs": dirs, "top_files": files}
        command, has_docker = _cleanup_commands(facts, mount, limits)
        biggest = ", ".join(f"{row['path']} ({row['size']})" for row in dirs[:3])
        recommendation = ("Free space before it reaches 100% (PostgreSQL stops, logs are lost, Docker and apt fail). "
                          "Start with the biggest consumers" + (f": {biggest}" if biggest else "") +
                          "; the commands list usage (read-only) and the safe clean-ups that apply here."
                          " Delete application data only when you know it is not needed.")
        if has_docker:
            recommendation += f" Docker data is on this filesystem (role {core.ROLE_DOCKER_CLEANUP} is planned)."
        findings.append(core.make_finding(
            "disk.full" if critical else "disk.filling", "critical" if critical else "warning",
            f"{mount} is {core.percent_text(used)} full ({format_size(item.get('available_bytes'))} free of "
            f"{format_size(item.get('size_bytes'))})",
            f"{mount} ({item.get('device')}, {item.get('fstype')}) is {core.percent_text(used)} full: "
            f"{format_size(item.get('available_bytes'))} free of {format_size(item.get('size_bytes'))} "
            f"(threshold {core.percent_text(evidence['threshold_percent'])}).",
            evidence=evidence, recommendation=recommendation, risk="caution", command=command))
    if fine:
        findings.append(_all_below("disk.space_ok", "Disk space", "used", fine, limits["disk_warning_percent"]))
    return findings


@rule("disk.inodes", needs=("disk",))
def rule_disk_inodes(facts, limits):
    """Per filesystem with an inode table: >= critical% -> critical, >= warning% -> warning."""
    findings = []
    over, fine = _split_by_use(real_filesystems(facts), lambda item: core.as_number(item.get("inode_use_percent")),
                               limits["inode_warning_percent"])
    for item, used in over:
        mount = item["mount"]
        critical = used >= limits["inode_critical_percent"]
        evidence = {"mount": mount, "device": item.get("device"), "fstype": item.get("fstype"),
                    "inodes_total": core.as_number(item.get("inodes_total")), "inodes_used": core.as_number(item.get("inodes_used")),
                    "inode_use_percent": used,
                    "threshold_percent": limits["inode_critical_percent" if critical else "inode_warning_percent"]}
        findings.append(core.make_finding(
            "disk.inodes_full" if critical else "disk.inodes_filling", "critical" if critical else "warning",
            f"{mount} has used {core.percent_text(used)} of its inodes",
            f"{mount} uses {evidence['inodes_used']} of {evidence['inodes_total']} inodes ({core.percent_text(used)}): at 100% "
            f"no file can be created even with free space left.",
            evidence=evidence,
            recommendation=("Find the directories with the most files (the command is read-only); usual causes are "
                            "session/cache directories, mail queues, old release directories and Docker layers. "
                            "Remove what you know is unneeded."),
            risk="caution",
            command=f"sudo du --inodes -x --max-depth=3 {mount} 2>/dev/null | sort -rn | head -20"))
    if fine:
        findings.append(_all_below("disk.inodes_ok", "Inodes", "of inodes used", fine, limits["inode_warning_percent"]))
    return findings


@rule("disk.top_consumers", needs=("disk",))
def rule_top_consumers(facts, limits):
    """One info finding listing the biggest scanned roots, directories and files."""
    scan = core.as_dict(core.as_dict(facts["disk"]).get("scan"))
    limit = limits["top_consumers"]
    roots = size_rows(scan.get("roots"))
    dirs = without_explained_parents(size_rows(scan.get("top_dirs")))[:limit]
    files = size_rows(scan.get("top_files"), limit)
    if not (dirs or files or roots):
        return []
    biggest = dirs or files or roots
    headline = ", ".join(f"{row['path']} ({row['size']})" for row in biggest[:3])
    du_paths = " ".join(row["path"] for row in roots[:3]) or "/var"
    return [core.make_finding(
        "disk.top_consumers", "info", f"Biggest disk consumers: {headline}",
        f"Scanned {', '.join(row['path'] for row in roots) or 'nothing'}; the biggest directories are {headline}.",
        evidence={"scanned_roots": roots, "top_dirs": dirs, "top_files": files,
                  "missing_paths": [p for p in scan.get("missing_paths") or [] if isinstance(p, str)],
                  "files_scanned": core.as_number(scan.get("files_scanned")),
                  "elapsed_seconds": core.as_number(scan.get("elapsed_seconds"))},
        recommendation=("For information: where the space goes (disk usage, as du counts it). A directory is left "
                        "out when one directory below it, also listed, holds most of it."),
        command=f"sudo du -xh --max-depth=2 {du_paths} 2>/dev/null | sort -rh | head -20")]


@rule("disk.scan", needs=("disk",))
def rule_scan_partial(facts, limits):
    """A scan cut short by its time budget, or directories it could not read -> info (results are partial)."""
    scan = core.as_dict(core.as_dict(facts["disk"]).get("scan"))
    findings = []
    if scan.get("truncated"):
        unfinished = [p for p in scan.get("unfinished") or [] if isinstance(p, str)]
        findings.append(core.make_finding(
            "disk.scan_truncated", "info", "Disk scan stopped early: sizes are partial",
            f"The scan ran out of its time budget after {scan.get('elapsed_seconds')} s and "
            f"{scan.get('files_scanned')} files; not finished: {', '.join(unfinished) or 'unknown'}.",
            evidence={"unfinished": unfinished, "elapsed_seconds": core.as_number(scan.get("elapsed_seconds")),
                      "files_scanned": core.as_number(scan.get("files_scanned"))},
            recommendation=("Directory sizes and unrotated logs under the unfinished paths are lower bounds. "
                            "Re-run the audit with a bigger budget (-e audit_scan_time_budget=60; the default "
                            "is 20 seconds) or scan fewer paths (audit_scan_paths).")))
    unreadable = [p for p in scan.get("unreadable") or [] if isinstance(p, str)]
    if unreadable:
        findings.append(core.make_finding(
            "disk.scan_unreadable", "info",
            f"Disk scan could not read {core.plural(len(unreadable), 'directory', 'directories')}",
            f"{core.plural(len(unreadable), 'directory', 'directories')} could not be opened "
            f"({', '.join(unreadable[:3])}{' ...' if len(unreadable) > 3 else ''}), so sizes below them are missing.",
            evidence={"unreadable": unreadable},
            recommendation="Run the audit with --become (-b) to measure everything; without it sizes are partial."))
    return findings


@rule("disk.journal", needs=("disk",))
def rule_journal(facts, limits):
    """systemd journal > warning -> warning, > info -> info, else ok."""
    journal = facts["disk"].get("journal")
    if not isinstance(journal, Mapping):
        return [core.make_finding("disk.journal_ok", "ok", "systemd journal: none on disk",
                                  "There is no journal directory (/var/log/journal or /run/log/journal).")]
    size = core.as_number(journal.get("size_bytes")) or 0
    vacuum = limits["journal_vacuum_bytes"]
    evidence = {"paths": list(journal.get("paths") or []), **core.size_evidence("size", size),
                **core.size_evidence("vacuum_target", vacuum)}
    frees = size > vacuum  # vacuuming to a size above the current usage frees nothing: then only the cap
    command = (f"sudo journalctl --rotate --vacuum-size={mib_arg(vacuum)}\n" if frees else "")
    command += (f"# keep it capped (restarting journald is safe; the logrotate role owns the same file):\n"
                f"sudo mkdir -p /etc/systemd/journald.conf.d && \\\n"
                f"  printf '[Journal]\\nSystemMaxUse={mib_arg(vacuum)}\\n' | "
                f"sudo tee /etc/systemd/journald.conf.d/60-hostcare-logrotate.conf && \\\n"
                f"  sudo systemctl restart systemd-journald")
    role_vars = {"hostcare_logrotate_journald_system_max_use": mib_arg(vacuum)}
    if frees:
        role_vars["hostcare_logrotate_journald_vacuum_size"] = mib_arg(vacuum)
    command += "\n" + "\n".join(role_vars_lines(core.ROLE_LOGROTATE, role_vars))
    if frees:
        recommendation = (f"Vacuum the journal to {format_size(vacuum)} and cap it with SystemMaxUse (journald's "
                          f"own default is 10% of the filesystem, up to 4 GiB). Vacuuming deletes only the oldest "
                          f"archived entries. The role hostcare.vps.logrotate does both (evidence.role_vars).")
    else:
        recommendation = (f"Cap the journal at {format_size(vacuum)} with SystemMaxUse (journald's own default is "
                          f"10% of the filesystem, up to 4 GiB) before it grows further; it is below that now, so "
                          f"a vacuum would free nothing. The role hostcare.vps.logrotate does it (evidence.role_vars).")
    if size > limits["journal_warning_bytes"]:
        return [core.make_finding(
            "disk.journal_large", "warning", f"systemd journal uses {format_size(size)}",
            f"The systemd journal uses {format_size(size)} (> {format_size(limits['journal_warning_bytes'])}).",
            evidence={**evidence, "role_vars": role_vars}, recommendation=recommendation, risk="safe",
            role=core.ROLE_LOGROTATE, command=command)]
    if size > limits["journal_info_bytes"]:
        return [core.make_finding(
            "disk.journal_growing", "info", f"systemd journal uses {format_size(size)}",
            f"The systemd journal uses {format_size(size)} (> {format_size(limits['journal_info_bytes'])}; "
            f"warning above {format_size(limits['journal_warning_bytes'])}).",
            evidence={**evidence, "role_vars": role_vars}, recommendation=recommendation, risk="safe",
            role=core.ROLE_LOGROTATE, command=command)]
    return [core.make_finding(
        "disk.journal_ok", "ok", f"systemd journal: {format_size(size)}: ok",
        f"The systemd journal uses {format_size(size)} (info above {format_size(limits['journal_info_bytes'])}).",
        evidence=evidence)]


@rule("disk.apt_cache", needs=("disk",))
def rule_apt_cache(facts, limits):
    """Downloaded .deb files > threshold -> info (apt-get clean is safe). No apt -> nothing."""
    apt = facts["disk"].get("apt_cache")
    if not isinstance(apt, Mapping):
        return []
    size = core.as_number(apt.get("size_bytes")) or 0
    evidence = {"path": apt.get("path"), **core.size_evidence("size", size)}
    if size > limits["apt_cache_info_bytes"]:
        return [core.make_finding(
            "disk.apt_cache_large", "info", f"apt cache holds {format_size(size)}",
            f"{apt.get('path')} holds {format_size(size)} of downloaded packages "
            f"(> {format_size(limits['apt_cache_info_bytes'])}).",
            evidence=evidence,
            recommendation="Remove the downloaded .deb files; apt downloads them again when needed.",
            risk="safe", command="sudo apt-get clean")]
    return [core.make_finding("disk.apt_cache_ok", "ok", f"apt cache: {format_size(size)}: ok",
                              f"{apt.get('path')} holds {format_size(size)} "
                              f"(info above {format_size(limits['apt_cache_info_bytes'])}).", evidence=evidence)]
