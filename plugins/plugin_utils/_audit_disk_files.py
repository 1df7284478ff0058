# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Disk checks on files rather than filesystems, on ``facts["disk"]``: deleted files still held open (the space df
counts and du cannot see) and stale archives and dumps left in the scanned paths.

Pure functions, no I/O.
"""

from __future__ import annotations

import datetime
import posixpath
import shlex

from ansible_collections.hostcare.vps.plugins.module_utils._disk_scan import ARCHIVE_SUFFIXES, is_data_directory
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size, percent
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import real_filesystems, use_percent

# How a program is told to reopen its log files (no restart): command name -> (signal, note).
REOPEN_SIGNALS = {
    "nginx": ("USR1", "nginx reopens its log files on USR1 (nginx -s reopen)"),
    "rsyslogd": ("HUP", "rsyslog closes and reopens its files on HUP"),
    "syslog-ng": ("HUP", "syslog-ng reopens its files on HUP"),
    "php-fpm": ("USR1", "php-fpm's master reopens its logs on USR1"),
    "unicorn": ("USR1", "unicorn reopens its logs on USR1"),
    "apache2": ("USR1", "apache's graceful restart (USR1) reopens the logs without dropping connections"),
    "httpd": ("USR1", "apache's graceful restart (USR1) reopens the logs without dropping connections"),
}


def _reopen(command):
    for name, (signal, note) in REOPEN_SIGNALS.items():
        if command == name or command.startswith(name):
            return signal, note
    return None, None


def _filesystem(facts, mount):
    return next((item for item in real_filesystems(facts) if item.get("mount") == mount), None)


@rule("disk.deleted_open", needs=("disk",))
def rule_deleted_open(facts, limits):
    """Deleted files held open, per filesystem: >= deleted_open_warning_bytes -> warning; critical when the
    filesystem is at or above the critical line only because of them."""
    deleted = core.as_dict(core.as_dict(facts["disk"]).get("deleted_open"))
    findings = []
    processes = core.as_list(deleted.get("processes"))
    scan_roots = {row.get("path"): core.as_number(row.get("size_bytes"))
                  for row in core.as_list(core.as_dict(core.as_dict(facts["disk"]).get("scan")).get("roots"))}
    for item in core.as_list(deleted.get("filesystems")):
        mount, size = item.get("mount"), core.as_number(item.get("bytes")) or 0
        if size < limits["deleted_open_warning_bytes"]:
            continue
        filesystem = core.as_dict(_filesystem(facts, mount))
        used, available = core.as_number(filesystem.get("used_bytes")), core.as_number(filesystem.get("available_bytes"))
        now_percent = use_percent(filesystem) if filesystem else None
        without = percent(used - size, used - size + available) if used is not None and available is not None else None
        critical = (now_percent is not None and without is not None and now_percent >= limits["disk_critical_percent"]
                    and without < limits["disk_critical_percent"])
        holders = [dict(process, size=format_size(process.get("bytes")))
                   for process in processes if mount in (process.get("mounts") or [])]
        evidence = {"mount": mount, **core.size_evidence("deleted_open", size), "use_percent": now_percent,
                    "use_percent_without_them": without, "processes": holders,
                    **core.size_evidence("df_used", used)}
        if scan_roots.get(mount) is not None and used is not None:
            evidence.update(core.size_evidence("df_minus_scan", max(0, used - scan_roots[mount])))
        lines, notes = ["# which files (read-only)"], []
        for process in holders:
            lines.append(f"sudo ls -l /proc/{int(process.get('pid'))}/fd 2>/dev/null | grep '(deleted)'")
        for process in holders:
            pid, command = int(process.get("pid")), str(process.get("command"))
            signal, note = _reopen(command)
            if signal:
                lines.append(f"# {command} (pid {pid}) holds {process['size']}: {note}:")
                lines.append(f"#   sudo kill -{signal} {pid}")
            else:
                lines.append(f"# {command} (pid {pid}) holds {process['size']}: restart it in a quiet moment "
                             f"(its service, not kill -9); the space returns when it closes the files")
            notes.append(f"{command} (pid {pid}, {process['size']})")
        headline = f"{format_size(size)} on {mount} held by deleted files still open"
        summary = (f"{mount}: {format_size(size)} belongs to files that were deleted but are still open "
                   f"({', '.join(notes)}). df counts them, du and the scan cannot see them.")
        if now_percent is not None:
            summary += (f" The filesystem is {core.percent_text(now_percent)} full; without them it would be "
                        f"{core.percent_text(without)}.")
        findings.append(core.make_finding(
            "disk.deleted_open", "critical" if critical else "warning", headline, summary, evidence=evidence,
            recommendation=("Make the process close the files: send its reopen signal when it has one (after a "
                            "log rotation that renamed or deleted its log), or restart it when it is quiet. Deleting "
                            "more files frees nothing while they are open. Then rotate with copytruncate or a "
                            "reopen signal so it does not happen again. The commands are read-only; the actions are "
                            "comments to run by hand."),
            risk="caution", command="\n".join(lines)))
    return findings


_FIND_NAMES = " -o ".join(f"-name '*{suffix}'" for suffix in ARCHIVE_SUFFIXES)


def _day(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")


@rule("disk.stale_archives", needs=("disk",))
def rule_stale_archives(facts, limits):
    """Archive and dump files older than stale_archive_min_days and at least stale_archive_min_bytes, grouped per
    directory -> info, warning when one lies on a filesystem at or above the warning line. Never a delete command."""
    archives = core.as_dict(core.as_dict(facts["disk"]).get("archives"))
    now = core.as_number(archives.get("scanned_at"))
    if now is None:
        return []
    min_age = limits["stale_archive_min_days"] * 86400
    filesystems = real_filesystems(facts)
    groups = {}
    for row in core.as_list(archives.get("files")):
        path, size, mtime = row.get("path"), core.as_number(row.get("size_bytes")), core.as_number(row.get("mtime"))
        if not isinstance(path, str) or size is None or mtime is None or is_data_directory(path):
            continue
        if size < limits["stale_archive_min_bytes"] or now - mtime < min_age:
            continue
        groups.setdefault(posixpath.dirname(path), []).append(row)
    if not groups:
        return []
    rows, warning = [], False
    for directory, files in groups.items():
        mount = max((item["mount"] for item in filesystems
                     if directory == item["mount"] or directory.startswith(item["mount"].rstrip("/") + "/")),
                    key=len, default=None)
        used = use_percent(_filesystem(facts, mount) or {}) if mount else None
        full = used is not None and used >= limits["disk_warning_percent"]
        warning = warning or full
        total = sum(item["size_bytes"] for item in files)
        oldest, newest = min(item["mtime"] for item in files), max(item["mtime"] for item in files)
        rows.append({"directory": directory, "count": len(files), **core.size_evidence("total", total),
                     "oldest": _day(oldest), "newest": _day(newest), "mount": mount, "mount_use_percent": used,
                     "files": sorted(posixpath.basename(item["path"]) for item in files)[:limits["top_consumers"] * 4]})
    rows.sort(key=lambda item: -item["total_bytes"])
    total = sum(item["total_bytes"] for item in rows)
    count = sum(item["count"] for item in rows)
    days = limits["stale_archive_min_days"]
    listed = "; ".join(f"{item['directory']}: {item['count']} ({item['total']}, {item['oldest']} to {item['newest']})"
                       for item in rows[:5])
    command = ["# list them (read-only): date, size, path"]
    command.extend(f"sudo find {shlex.quote(item['directory'])} -maxdepth 1 -type f \\( {_FIND_NAMES} \\) "
                   f"-mmin +{max(0, int(days * 1440) - 1)} -size +{max(0, int(limits['stale_archive_min_bytes']) - 1)}c -printf '%TY-%Tm-%Td %10s %p\\n' | sort"
                   for item in rows[:10])
    command.append("# copy them off the host first (example): rsync -a --files-from=<list> / backup-host:/archive/")
    return [core.make_finding(
        "disk.stale_archives", "warning" if warning else "info",
        f"{core.plural(count, 'old archive or dump', 'old archives and dumps')} ({format_size(total)}) in "
        f"{core.plural(len(rows), 'directory', 'directories')}",
        f"{core.plural(count, 'archive or dump file', 'archive and dump files')} older than {days:g} days and of "
        f"{format_size(limits['stale_archive_min_bytes'])} or more: {listed}."
        + (" One of these directories is on a filesystem at or above the warning line." if warning else ""),
        evidence={"directories": rows, "count": count, **core.size_evidence("total", total), "min_age_days": days,
                  **core.size_evidence("min_size", limits["stale_archive_min_bytes"])},
        recommendation=("Old deploy archives and database dumps: check what they are, copy the ones worth keeping "
                        "off the host (a backup that lives on the same disk is lost with it), then remove them by "
                        "hand. Nothing under database data directories or Docker volumes is listed."),
        risk="safe", command="\n".join(command))]
