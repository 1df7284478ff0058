# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""What every area of the audit reads about the host itself: the one RAM of the audited system (MemTotal capped by
a container's memory limit), whether it is a container, its real filesystems and the one mount lookup.

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._disk import READ_ONLY_IMAGE_FS_TYPES
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import find_mount
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size, percent
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    as_dict,
    as_list,
    as_number,
)


def container_note(facts):
    """(runtime label, note) when the swap facts say we run in a container, else (None, None)."""
    info = as_dict(as_dict(facts.get("swap")).get("container"))
    if not info.get("detected"):
        return None, None
    runtime = info.get("runtime") or "container"
    note = (f"Measured inside a {runtime} container: swap, vm.swappiness, OOM kills and memory pressure are "
            f"the host's, not this container's; change them on the host.")
    return runtime, note


def system_ram(facts):
    """(RAM bytes, where it came from) of the audited system, the one RAM every rule sizes for: MemTotal, capped by
    the container's memory limit when the audit runs in one; (None, None) when unknown."""
    swap = as_dict(facts.get("swap"))
    total = as_number(as_dict(swap.get("memory")).get("total_bytes"))
    limit = as_number(as_dict(swap.get("container")).get("memory_limit_bytes"))
    if limit is not None and limit > 0 and (total is None or limit < total):
        return limit, "container memory limit"
    if total is None:
        return None, None
    return total, "MemTotal"


def with_container_note(facts, evidence, recommendation):
    _runtime, note = container_note(facts)
    if note:
        evidence["container_note"] = note
        recommendation = f"{recommendation} (Inside a container: do this on the host.)"
    return evidence, recommendation


def real_filesystems(facts):
    result = []
    for item in as_list(as_dict(facts.get("disk")).get("filesystems")):
        if not isinstance(item.get("mount"), str) or item.get("fstype") in READ_ONLY_IMAGE_FS_TYPES:
            continue
        result.append(item)
    return result


def mount_point_of(path, filesystems):
    """The mount point of the filesystem holding ``path`` (_mountinfo.find_mount), or None."""
    found = find_mount(filesystems, path)
    return found["mount"] if found else None


def root_filesystem(facts):
    for item in real_filesystems(facts):
        if item.get("mount") == "/":
            return item
    return None


def use_percent(item):
    value = as_number(item.get("use_percent"))
    if value is None:
        used, available = as_number(item.get("used_bytes")), as_number(item.get("available_bytes"))
        if used is not None and available is not None:
            value = percent(used, used + available)
    return value


def size_rows(items, limit=None):
    """[{path, size_bytes}] -> [{path, size_bytes, size}] biggest first."""
    rows = [{"path": item["path"], "size_bytes": as_number(item.get("size_bytes")) or 0,
             "size": format_size(as_number(item.get("size_bytes")) or 0)}
            for item in as_list(items) if isinstance(item.get("path"), str)]
    rows.sort(key=lambda row: -row["size_bytes"])
    return rows[:limit] if limit is not None else rows


def without_explained_parents(rows, share=0.9):
    """Drop a directory when one directory below it, also listed, holds at least ``share`` of its size:
    "/opt/x 3.8 GiB" and "/opt/x/files 3.8 GiB" say the same thing, the deeper one says it better."""
    kept = []
    for row in rows:
        prefix = row["path"].rstrip("/") + "/"
        if any(other["path"].startswith(prefix) and other["size_bytes"] >= share * row["size_bytes"]
               for other in rows):
            continue
        kept.append(row)
    return kept


def measured_other_memory(facts):
    """(bytes, evidence) of the memory measured in everything but PostgreSQL (hostcare.vps.workload_facts: every
    owner's PSS, or RSS where PSS is unreadable), or (None, None) without workload facts."""
    workload = as_dict(facts.get("workload"))
    measured = as_dict(workload.get("measured"))
    other = as_number(measured.get("other_bytes"))
    if other is None:
        return None, None
    complete = as_dict(workload.get("processes")).get("complete") is not False
    return other, {"measured_other_bytes": other, "measured_other": format_size(other),
                   "measured_postgres_bytes": as_number(measured.get("postgres_bytes")),
                   "measured_complete": complete}
