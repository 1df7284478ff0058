# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Turn the hostcare.vps fact modules' output into audit findings.

Input (``host_facts``) is a dict with one key per fact source (see FACT_SOURCES), each holding the fact dict
documented in docs/facts.md or None, plus optional ``errors: {source: message}`` saying why a source is missing::

    {"swap": <hostcare_swap>, "disk": <hostcare_disk>, "docker": <hostcare_docker>,
     "postgres": [{"label": "native", "facts": <hostcare_postgres>}, ...],
     "errors": {"disk": "Permission denied"}}

``swap`` and ``disk`` are always checked: absent or None gives a ``facts.<source>_unavailable`` finding. ``docker``
and ``postgres`` are optional (OPTIONAL_SOURCES): absent means "not audited" and gives nothing, None means the
audit tried and the module failed. ``postgres`` is a list, one entry per PostgreSQL instance (see
_audit_postgres.py); the others are fact dicts.

Every check is a small function registered with ``@rule(name, needs=(...))``. It receives the whole facts dict
and the thresholds and returns a list of findings (made with ``make_finding``). A rule runs only when the fact
sources it ``needs`` are present; a missing source produces one ``facts.<source>_unavailable`` info finding
instead; a rule that raises produces an ``audit.rule_failed`` info finding instead of crashing the audit.
To add checks: add the source to FACT_SOURCES, write ``@rule`` functions, add their thresholds to
DEFAULT_THRESHOLDS, and document the ids in docs/audit.md. The Docker and PostgreSQL rules live in
_audit_docker.py and _audit_postgres.py and register into the same RULES when this module is imported.

Pure functions, no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._disk import READ_ONLY_IMAGE_FS_TYPES
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import find_mount
from ansible_collections.hostcare.vps.plugins.module_utils._units import (
    SizeError,
    format_size,
    parse_size,
    percent,
)
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils._swap_sizing import (
    SWAP_DISK_MAX_USE_PERCENT,
    fit_swap_to_disk,
    recommend_swap_bytes,
)

SEVERITIES = ("critical", "warning", "info", "ok")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
RISKS = ("safe", "caution", "dangerous")

FINDING_KEYS = ("id", "severity", "title", "summary", "evidence", "recommendation", "risk", "fix")

FACT_SOURCES = {
    "swap": "hostcare.vps.swap_facts",
    "disk": "hostcare.vps.disk_pressure_facts",
    "docker": "hostcare.vps.docker_bloat_facts",
    "postgres": "hostcare.vps.pg_settings_facts",
}
"""Fact sources the rules read: key in the facts dict -> the module that produces it."""

OPTIONAL_SOURCES = frozenset({"docker", "postgres"})
"""Sources checked only when their key is in the facts dict (absent: not audited, no finding)."""

LIST_SOURCES = frozenset({"postgres"})
"""Sources given as a list (one entry per instance) instead of one fact dict."""

AVAILABLE_ROLES = frozenset({"hostcare.vps.swap", "hostcare.vps.docker_cleanup", "hostcare.vps.logrotate"})
"""Roles of this collection that exist. A fix naming any other role reports it as ``planned_role`` only."""

ROLE_SWAP = "hostcare.vps.swap"
ROLE_LOGROTATE = "hostcare.vps.logrotate"
ROLE_DOCKER_CLEANUP = "hostcare.vps.docker_cleanup"

# All thresholds in one place. Sizes are bytes; users may override them with size strings ("2G").
DEFAULT_THRESHOLDS = {
    # swap size: warning when swap < recommended * swap_low_fraction - swap_slack_bytes
    "swap_low_fraction": 0.5,
    "swap_slack_bytes": 16 * MIB,  # swap headers, rounding: a "2 GiB" swap file shows as 2 GiB - 4 KiB
    # vm.swappiness: 0 with swap -> warning; >= swappiness_high -> warning; the fix sets swappiness_target
    "swappiness_high": 60,
    "swappiness_target": 10,
    # memory PSI: "full" avg60 above this (percent of wall time) -> warning
    "memory_psi_full_avg60": 1.0,
    # filesystems (percent used, like df)
    "disk_warning_percent": 85.0,
    "disk_critical_percent": 90.0,
    "inode_warning_percent": 85.0,
    "inode_critical_percent": 95.0,
    # systemd journal: > warning -> warning; > info -> info; the fix vacuums down to journal_vacuum_bytes
    "journal_warning_bytes": 1 * GIB,
    "journal_info_bytes": 256 * MIB,
    "journal_vacuum_bytes": 500 * MIB,
    # apt package cache: > this -> info
    "apt_cache_info_bytes": 256 * MIB,
    # a *.log with no rotated sibling at least this big -> warning
    "unrotated_log_min_bytes": 50 * MIB,
    # how many directories/files to list as biggest consumers
    "top_consumers": 5,
    # Docker (_audit_docker.py). What a cleanup could free (unused images + stopped containers + build cache):
    # > warning -> warning, > info -> info
    "docker_reclaimable_info_bytes": 1 * GIB,
    "docker_reclaimable_warning_bytes": 5 * GIB,
    # old tags, dangling images, stopped containers: info when there are any, warning when they hold more
    "docker_cleanup_warning_bytes": 1 * GIB,
    # containers stopped for at least this many days are listed for removal
    "docker_stopped_min_days": 7,
    # a container log with no max-size: info, warning when one is bigger than this
    "docker_log_warning_bytes": 100 * MIB,
    # the log-opts the fix proposes (max-size is written in whole megabytes, e.g. "10m")
    "docker_log_max_size_bytes": 10 * MIB,
    "docker_log_max_file": 3,
    # PostgreSQL (_audit_postgres.py). Memory settings still at their defaults matter from this much RAM on
    "postgres_defaults_min_ram_bytes": 2 * GIB,
    # postgresqltuner's worst-case memory model as a share of RAM: >= warning / >= critical
    "postgres_memory_warning_percent": 75.0,
    "postgres_memory_critical_percent": 90.0,
    # work_mem multiplier of the memory model (postgresqltuner --wmp 150)
    "postgres_work_mem_factor": 1.5,
    # client connections in use, percent of max_connections: >= warning / >= critical
    "postgres_connections_warning_percent": 70.0,
    "postgres_connections_critical_percent": 90.0,
}

_THRESHOLD_KINDS = {
    "swap_low_fraction": "fraction",
    "swap_slack_bytes": "bytes",
    "swappiness_high": "swappiness",
    "swappiness_target": "swappiness",
    "memory_psi_full_avg60": "percent",
    "disk_warning_percent": "percent",
    "disk_critical_percent": "percent",
    "inode_warning_percent": "percent",
    "inode_critical_percent": "percent",
    "journal_warning_bytes": "bytes",
    "journal_info_bytes": "bytes",
    "journal_vacuum_bytes": "bytes",
    "apt_cache_info_bytes": "bytes",
    "unrotated_log_min_bytes": "bytes",
    "top_consumers": "count",
    "docker_reclaimable_info_bytes": "bytes",
    "docker_reclaimable_warning_bytes": "bytes",
    "docker_cleanup_warning_bytes": "bytes",
    "docker_stopped_min_days": "days",
    "docker_log_warning_bytes": "bytes",
    "docker_log_max_size_bytes": "bytes",
    "docker_log_max_file": "count",
    "postgres_defaults_min_ram_bytes": "bytes",
    "postgres_memory_warning_percent": "percent",
    "postgres_memory_critical_percent": "percent",
    "postgres_work_mem_factor": "factor",
    "postgres_connections_warning_percent": "percent",
    "postgres_connections_critical_percent": "percent",
}

_THRESHOLD_ORDER = (
    ("disk_warning_percent", "disk_critical_percent"),
    ("inode_warning_percent", "inode_critical_percent"),
    ("journal_info_bytes", "journal_warning_bytes"),
    ("docker_reclaimable_info_bytes", "docker_reclaimable_warning_bytes"),
    ("postgres_memory_warning_percent", "postgres_memory_critical_percent"),
    ("postgres_connections_warning_percent", "postgres_connections_critical_percent"),
)
"""(low, high) pairs: low must not be above high."""




class AuditError(ValueError):
    """Bad input to the audit functions (not bad facts: those become findings)."""


# --------------------------------------------------------------------------------------------- thresholds


def resolve_thresholds(overrides=None):
    """Return DEFAULT_THRESHOLDS updated with ``overrides``; raise AuditError for an unknown key or bad value."""
    result = dict(DEFAULT_THRESHOLDS)
    if overrides is None:
        return result
    if not isinstance(overrides, Mapping):
        raise AuditError(f"thresholds must be a dict, got {type(overrides).__name__}")
    for key, value in overrides.items():
        kind = _THRESHOLD_KINDS.get(key)
        if kind is None:
            raise AuditError(f"unknown threshold {key!r}; known: {', '.join(sorted(DEFAULT_THRESHOLDS))}")
        result[key] = _threshold_value(key, kind, value)
    for low, high in _THRESHOLD_ORDER:
        if result[low] > result[high]:
            raise AuditError(f"threshold {low} ({result[low]}) must not be above {high} ({result[high]})")
    return result


def _threshold_value(key, kind, value):
    if kind == "bytes":
        try:
            return parse_size(value, option=f"threshold {key}")
        except SizeError as exc:
            raise AuditError(str(exc)) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuditError(f"threshold {key} must be a number, got {value!r}")
    if kind == "fraction" and not 0 < value <= 1:
        raise AuditError(f"threshold {key} must be in (0, 1], got {value!r}")
    if kind == "factor" and not 0 < value <= 100:
        raise AuditError(f"threshold {key} must be a number above 0 (at most 100), got {value!r}")
    if kind == "days" and value < 0:
        raise AuditError(f"threshold {key} must be a number of days >= 0, got {value!r}")
    if kind == "percent" and not 0 <= value <= 100:
        raise AuditError(f"threshold {key} must be a percentage from 0 to 100, got {value!r}")
    if kind == "swappiness":
        if value != int(value) or not 0 <= value <= 200:
            raise AuditError(f"threshold {key} must be an integer from 0 to 200, got {value!r}")
        return int(value)
    if kind == "count":
        if value != int(value) or value < 1:
            raise AuditError(f"threshold {key} must be a whole number >= 1, got {value!r}")
        return int(value)
    return float(value)


# --------------------------------------------------------------------------------------------- findings


def make_fix(role=None, command=None):
    """The ``fix`` of a finding. A role not in AVAILABLE_ROLES is reported as ``planned_role`` only."""
    if role is not None and role not in AVAILABLE_ROLES:
        return {"role": None, "command": command, "planned_role": role}
    return {"role": role, "command": command, "planned_role": None}


def make_finding(finding_id, severity, title, summary, evidence=None, recommendation="Nothing to do.",
                 risk="safe", role=None, command=None):
    """Build one finding dict (the shape is documented in docs/audit.md)."""
    if severity not in SEVERITY_RANK:
        raise AuditError(f"finding {finding_id}: unknown severity {severity!r}")
    if risk not in RISKS:
        raise AuditError(f"finding {finding_id}: unknown risk {risk!r}")
    return {
        "id": finding_id,
        "severity": severity,
        "title": title,
        "summary": summary,
        "evidence": dict(evidence or {}),
        "recommendation": recommendation,
        "risk": risk,
        "fix": make_fix(role, command),
    }


def sort_findings(findings):
    """Most severe first; within one severity the rules' order (swap, memory, disk ...) is kept."""
    return sorted(findings, key=lambda f: SEVERITY_RANK.get(f.get("severity"), len(SEVERITIES)))


def count_by_severity(findings):
    """{"critical": n, "warning": n, "info": n, "ok": n}."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for item in findings:
        if item.get("severity") in counts:
            counts[item["severity"]] += 1
    return counts


def worst_severity(findings):
    """The most severe severity present, "ok" for an empty list."""
    ranks = [SEVERITY_RANK[f["severity"]] for f in findings if f.get("severity") in SEVERITY_RANK]
    return SEVERITIES[min(ranks)] if ranks else "ok"


# --------------------------------------------------------------------------------------------- registry


class Rule:
    """One registered check."""

    def __init__(self, name, needs, func):
        self.name = name
        self.needs = tuple(needs)
        self.func = func

    def __repr__(self):
        return f"Rule({self.name!r}, needs={self.needs!r})"


RULES = []
"""Registered rules, in registration order (which is also the order of findings of equal severity)."""


def rule(name, needs):
    """Decorator: register ``func(facts, thresholds) -> list of findings`` as a check needing ``needs`` sources."""
    unknown = [source for source in needs if source not in FACT_SOURCES]
    if unknown:
        raise AuditError(f"rule {name}: unknown fact source(s) {unknown}")

    def register(func):
        if any(existing.name == name for existing in RULES):
            raise AuditError(f"rule {name} is registered twice")
        RULES.append(Rule(name, needs, func))
        return func

    return register


def build_findings(host_facts, thresholds=None, rules=None):
    """Run every rule on ``host_facts`` and return the findings, sorted by severity.

    Missing fact sources and failing rules become info findings; this never raises for bad or partial facts.
    Raises AuditError only for bad ``thresholds``.
    """
    limits = resolve_thresholds(thresholds)
    facts = dict(host_facts) if isinstance(host_facts, Mapping) else {}
    errors = facts.get("errors") if isinstance(facts.get("errors"), Mapping) else {}
    findings = []
    missing = set()
    for source in FACT_SOURCES:
        if source in OPTIONAL_SOURCES and source not in facts:
            missing.add(source)  # not audited: its rules do not run, and nothing is said
            continue
        expected = (list, tuple) if source in LIST_SOURCES else Mapping
        if not isinstance(facts.get(source), expected):
            missing.add(source)
            findings.append(_unavailable(source, errors.get(source)))
    for item in RULES if rules is None else rules:
        if missing.intersection(item.needs):
            continue
        try:
            produced = item.func(facts, limits) or []
        except Exception as exc:  # pylint: disable=broad-except
            produced = [_rule_failed(item.name, exc)]
        findings.extend(produced)
    return sort_findings(findings)


_AREA = {"swap": "Swap and memory", "disk": "Disk", "docker": "Docker", "postgres": "PostgreSQL"}


def _unavailable(source, error):
    module = FACT_SOURCES[source]
    what = {
        "swap": "Swap, swappiness, OOM and memory pressure",
        "disk": "Filesystem usage, inodes, journal, apt cache and log rotation",
        "docker": "Docker images, containers, build cache and container logs",
        "postgres": "PostgreSQL memory settings, connections and pending restarts",
    }.get(source, f"The {source} checks")
    reason = str(error).strip() if error else f"{module} returned no facts"
    hint = ""
    if any(word in reason.lower() for word in ("permission", "denied", "not permitted", "root")):
        hint = " Re-run the audit with --become (-b)."
    return make_finding(
        f"facts.{source}_unavailable", "info",
        f"{_AREA.get(source, source)} checks skipped: {module} failed",
        f"{what} could not be checked because {module} failed: {reason}",
        evidence={"module": module, "error": reason},
        recommendation=f"Look at the error above; every other check still ran.{hint}",
        risk="safe",
    )


def _rule_failed(name, exc):
    message = f"{type(exc).__name__}: {exc}"
    return make_finding(
        "audit.rule_failed", "info",
        f"Check {name} could not run",
        f"The audit check {name} failed on these facts ({message}); its result is missing from this report.",
        evidence={"rule": name, "error": message},
        recommendation="Please report this as a bug of hostcare.vps with the JSON report attached.",
        risk="safe",
    )


# --------------------------------------------------------------------------------------------- helpers


def _dict(value):
    return value if isinstance(value, Mapping) else {}


def _list(value):
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, (list, tuple)) else []


def _num(value):
    """An int/float fact value, or None (booleans and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _size(name, value):
    """Evidence pair: {name_bytes: int, name: '1.5 GiB'}."""
    return {f"{name}_bytes": value, name: format_size(value)}


def _pct(value):
    return f"{value:.1f}%" if value is not None else "unknown"


def _plural(count, word, plural=None):
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _container(facts):
    """(runtime label, note) when the swap facts say we run in a container, else (None, None)."""
    info = _dict(_dict(facts.get("swap")).get("container"))
    if not info.get("detected"):
        return None, None
    runtime = info.get("runtime") or "container"
    note = (f"Measured inside a {runtime} container: swap, vm.swappiness, OOM kills and memory pressure are "
            f"the host's, not this container's; change them on the host.")
    return runtime, note


def system_ram(facts):
    """(RAM bytes, where it came from) of the audited system, the one RAM every rule sizes for: MemTotal, capped by
    the container's memory limit when the audit runs in one; (None, None) when unknown."""
    swap = _dict(facts.get("swap"))
    total = _num(_dict(swap.get("memory")).get("total_bytes"))
    limit = _num(_dict(swap.get("container")).get("memory_limit_bytes"))
    if limit is not None and limit > 0 and (total is None or limit < total):
        return limit, "container memory limit"
    if total is None:
        return None, None
    return total, "MemTotal"


def _with_container_note(facts, evidence, recommendation):
    _runtime, note = _container(facts)
    if note:
        evidence["container_note"] = note
        recommendation = f"{recommendation} (Inside a container: do this on the host.)"
    return evidence, recommendation


def _filesystems(facts):
    result = []
    for item in _list(_dict(facts.get("disk")).get("filesystems")):
        if not isinstance(item.get("mount"), str) or item.get("fstype") in READ_ONLY_IMAGE_FS_TYPES:
            continue
        result.append(item)
    return result


def _mount_of(path, filesystems):
    """The mount point of the filesystem holding ``path`` (_mountinfo.find_mount), or None."""
    found = find_mount(filesystems, path)
    return found["mount"] if found else None


def _root_filesystem(facts):
    for item in _filesystems(facts):
        if item.get("mount") == "/":
            return item
    return None


def _entries(items, limit=None):
    """[{path, size_bytes}] -> [{path, size_bytes, size}] biggest first."""
    rows = [{"path": item["path"], "size_bytes": _num(item.get("size_bytes")) or 0,
             "size": format_size(_num(item.get("size_bytes")) or 0)}
            for item in _list(items) if isinstance(item.get("path"), str)]
    rows.sort(key=lambda row: -row["size_bytes"])
    return rows[:limit] if limit is not None else rows


def _without_explained_parents(rows, share=0.9):
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


def _mib_arg(num_bytes):
    """A size argument for journalctl/btrfs in whole MiB: 524288000 -> '500M'."""
    return f"{max(1, num_bytes // MIB)}M"


# --------------------------------------------------------------------------------------------- swap rules


def _swap_areas(swap):
    return [{"path": area.get("path"), "type": area.get("type"), "zram": bool(area.get("zram")),
             **_size("size", _num(area.get("size_bytes"))), **_size("used", _num(area.get("used_bytes")))}
            for area in _list(swap.get("areas"))]


def _free_swapfile_path(swap):
    taken = {area.get("path") for area in _list(swap.get("areas"))}
    taken.update(entry.get("source") for entry in _list(swap.get("fstab")))
    for candidate in ("/swapfile", "/swapfile2", "/swapfile3", "/swapfile4"):
        if candidate not in taken:
            return candidate
    return "/swapfile-hostcare"


def swapfile_command(path, size_bytes, fstype=None):
    """Copy-pasteable commands creating and enabling a swap file; None where a swap file cannot work (ZFS).

    Never overwrites: dd uses conv=excl, the btrfs variant tests for the file first.
    """
    if fstype == "zfs":
        return None
    size_mib = max(1, -(-size_bytes // MIB))
    if fstype == "btrfs":
        create = (f"test ! -e {path} && sudo btrfs filesystem mkswapfile --size {size_mib}m {path}")
    else:
        create = (f"sudo dd if=/dev/zero of={path} bs=1M count={size_mib} conv=excl status=progress && \\\n"
                  f"  sudo chmod 600 {path} && sudo mkswap {path}")
    return (f"{create} && \\\n"
            f"  sudo swapon {path} && \\\n"
            f"  echo '{path} none swap sw,nofail 0 0' | sudo tee -a /etc/fstab")


def _swap_filesystem(facts, path):
    """The filesystem that will hold the swap file ``path`` (the longest mount containing it), or None."""
    return find_mount(_filesystems(facts), path)


def swap_disk_limit(filesystem, limits):
    """The use (percent) a new swap file may take its filesystem to: below the disk warning line when it is below
    it now, below the critical line when it is already in warning, so a swap file never causes a disk finding."""
    used = _use_percent(filesystem) if filesystem else None
    if used is not None and used >= limits["disk_warning_percent"]:
        return min(limits["disk_critical_percent"], SWAP_DISK_MAX_USE_PERCENT)
    return min(limits["disk_warning_percent"], SWAP_DISK_MAX_USE_PERCENT)


def _swap_plan(facts, path, size_bytes, limits):
    """(command, extra recommendation text, evidence additions, fit) for creating a swap file of ``size_bytes``
    on the filesystem holding ``path``; fit is fit_swap_to_disk's answer (None without disk facts)."""
    filesystem = _swap_filesystem(facts, path)
    fstype = filesystem.get("fstype") if filesystem else None
    mount = filesystem.get("mount") if filesystem else "/"
    available = _num(filesystem.get("available_bytes")) if filesystem else None
    evidence = {}
    notes = []
    fit = None
    if available is not None:
        evidence.update(_size("root_available", available))
        # judged on the use the disk rules judge (df's Use%), so the file never causes a disk finding
        fit = fit_swap_to_disk(size_bytes, available, use_percent=_use_percent(filesystem), mount=mount,
                               max_use_percent=swap_disk_limit(filesystem, limits))
        evidence.update({"swap_filesystem": mount, **_size("swap_fits", fit["bytes"]),
                         "disk_max_use_percent": fit["max_use_percent"], "swap_fit_reason": fit["reason"]})
        if fit["limited_by"]:
            smaller = fit["bytes"]
            if smaller < 512 * MIB:
                return None, (f" {fit['reason']}: free disk space first (see the disk findings) or use zram "
                              f"(compressed swap in RAM) instead of a swap file."), evidence, fit
            if fit["limited_by"] == "free_share":
                notes.append(f" {mount} has only {format_size(available)} free, so the command makes a smaller file "
                             f"({format_size(smaller)}, at most a quarter of the free space); free disk space to "
                             f"add the rest later.")
            else:
                notes.append(f" The command makes a smaller file ({format_size(smaller)}): {fit['reason']}. Free "
                             f"disk space to add the rest later.")
            size_bytes = smaller
    if fstype == "zfs":
        return (None, f" {mount} is ZFS, where swap files do not work: use zram (or a dedicated zvol/partition).",
                evidence, fit)
    if fstype == "btrfs":
        notes.append(f" {mount} is btrfs: the command uses `btrfs filesystem mkswapfile` (a swap file there must be "
                     "NOCOW).")
    return swapfile_command(path, size_bytes, fstype), "".join(notes), evidence, fit


def _fit_text(fit):
    """A sentence for the summary when the disk does not take the whole recommendation."""
    if not fit or not fit["limited_by"]:
        return ""
    return f" On disk: {fit['reason']}."


@rule("swap.size", needs=("swap",))
def rule_swap_size(facts, limits):
    """No swap -> critical; swap below half the recommendation -> warning; else ok."""
    swap = _dict(facts["swap"])
    ram, ram_source = system_ram(facts)
    total = _num(_dict(swap.get("swap")).get("total_bytes"))
    if ram is None or total is None:
        return [make_finding(
            "swap.unknown", "info", "Swap size not checked: RAM or swap total unknown",
            f"The swap facts did not report RAM ({format_size(ram)}) and swap ({format_size(total)}).",
            evidence={**_size("ram", ram), **_size("swap", total)},
            recommendation="Check that /proc/meminfo is readable on the host.")]
    recommended = recommend_swap_bytes(ram)
    evidence = {**_size("ram", ram), "ram_source": ram_source, **_size("swap", total),
                **_size("recommended_swap", recommended), "areas": _swap_areas(swap)}
    runtime, _note = _container(facts)
    active_zram = [str(area.get("path", "")) for area in _list(swap.get("areas")) if area.get("zram")]
    zram_idle = [dev["name"] for dev in _list(swap.get("zram"))
                 if isinstance(dev.get("name"), str) and (_num(dev.get("disksize_bytes")) or 0) > 0
                 and not any(path.endswith("/" + dev["name"]) for path in active_zram)]
    if total <= 0 and runtime:
        return [_swap_in_container("swap.none", "critical", f"No swap on a {runtime} container with "
                                   f"{format_size(ram)} of memory", recommended, evidence, facts)]
    if total <= 0:
        path = _free_swapfile_path(swap)
        command, extra, more, fit = _swap_plan(facts, path, recommended, limits)
        evidence.update(more)
        zram_text = _fit_text(fit)
        if zram_idle:
            evidence["zram_devices_not_swapped_on"] = zram_idle
            zram_text += f" zram device(s) {', '.join(zram_idle)} exist but are not used as swap."
        why = "so a memory spike slows the server down instead of the OOM killer stopping PostgreSQL or an app worker"
        if fit and fit["limited_by"] and command is None:
            recommendation = f"{format_size(recommended)} of swap is recommended {why}, but{extra}"
        else:
            amount = format_size(fit["bytes"] if fit and fit["limited_by"] else recommended)
            recommendation = f"Add {amount} of swap {why}.{extra}"
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "swap.none", "critical", f"No swap on a host with {format_size(ram)} RAM",
            f"{format_size(ram)} RAM and no active swap (recommended {format_size(recommended)}).{zram_text}",
            evidence=evidence, recommendation=recommendation, risk="caution", role=ROLE_SWAP, command=command)]
    low_limit = recommended * limits["swap_low_fraction"] - limits["swap_slack_bytes"]
    if total < low_limit and runtime:
        return [_swap_in_container("swap.small", "warning", f"Swap too small: {format_size(total)} for "
                                   f"{format_size(ram)} of container memory", recommended - total, evidence, facts)]
    if total < low_limit:
        missing = recommended - total
        path = _free_swapfile_path(swap)
        command, extra, more, fit = _swap_plan(facts, path, missing, limits)
        evidence.update(more)
        recommendation = (f"Add a second swap file of {format_size(missing)} ({path}); this keeps the existing "
                          f"swap, so nothing is swapped off (swapoff under memory pressure can trigger the OOM "
                          f"killer).{extra}")
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "swap.small", "warning",
            f"Swap too small: {format_size(total)} for {format_size(ram)} RAM",
            f"{format_size(total)} of swap for {format_size(ram)} RAM is less than half of the recommended "
            f"{format_size(recommended)}.{_fit_text(fit)}",
            evidence=evidence, recommendation=recommendation, risk="caution", role=ROLE_SWAP, command=command)]
    evidence = _with_container_note(facts, evidence, "")[0]
    return [make_finding(
        "swap.ok", "ok", f"Swap: {format_size(total)} for {format_size(ram)} RAM: ok",
        f"{format_size(total)} of swap for {format_size(ram)} RAM (recommended {format_size(recommended)}, "
        f"at least half of it is enough).",
        evidence=evidence)]


def _swap_in_container(finding_id, severity, title, missing, evidence, facts):
    """Swap seen from inside a container is the host's: say so, and give no command (a swap file on the
    container's overlay root cannot be enabled: swapon refuses it)."""
    evidence, recommendation = _with_container_note(
        facts, evidence, f"Add {format_size(missing)} of swap on the container host (the role {ROLE_SWAP} there); "
                         f"a swap file cannot be enabled from inside this container (its root is an overlay, and "
                         f"swapon needs the host's privileges), so there is no command to run here.")
    return make_finding(
        finding_id, severity, title,
        f"{format_size(evidence['swap_bytes'])} of swap is visible for {format_size(evidence['ram_bytes'])} of memory "
        f"({evidence['ram_source']}; recommended {format_size(evidence['recommended_swap_bytes'])}). Swap belongs "
        f"to the host this container runs on.",
        evidence=evidence, recommendation=recommendation, risk="caution", role=ROLE_SWAP, command=None)


@rule("swap.fstab", needs=("swap",))
def rule_swap_fstab(facts, limits):
    """A swap entry of /etc/fstab that is not active -> warning (swap silently lost at boot)."""
    swap = _dict(facts["swap"])
    inactive = [entry.get("source") for entry in _list(swap.get("fstab"))
                if entry.get("active") is False and entry.get("source")]
    if not inactive:
        return []
    evidence = {"inactive_fstab_entries": inactive}
    recommendation = ("Check why it is not active (missing file, wrong UUID after a disk change) with the "
                      "command; `swapon -a` enables every fstab swap that works. Remove entries that point "
                      "at nothing.")
    evidence, recommendation = _with_container_note(facts, evidence, recommendation)
    return [make_finding(
        "swap.fstab_inactive", "warning",
        f"/etc/fstab swap not active: {', '.join(inactive)}",
        f"{_plural(len(inactive), 'swap entry', 'swap entries')} of /etc/fstab "
        f"({', '.join(inactive)}) {'is' if len(inactive) == 1 else 'are'} not active.",
        evidence=evidence, recommendation=recommendation, risk="safe", role=ROLE_SWAP,
        command="sudo swapon --show; grep -w swap /etc/fstab; sudo swapon -a")]


@rule("swap.swappiness", needs=("swap",))
def rule_swappiness(facts, limits):
    """vm.swappiness: 0 with swap -> warning, >= swappiness_high -> warning, else ok."""
    swap = _dict(facts["swap"])
    value = _num(_dict(swap.get("sysctl")).get("swappiness"))
    total = _num(_dict(swap.get("swap")).get("total_bytes")) or 0
    target = limits["swappiness_target"]
    command = (f"sudo sysctl -w vm.swappiness={target} && \\\n"
               f"  echo 'vm.swappiness = {target}' | sudo tee /etc/sysctl.d/90-hostcare-swappiness.conf")
    if value is None:
        return [make_finding(
            "swap.swappiness_unknown", "info", "vm.swappiness not checked: unreadable",
            "vm.swappiness could not be read (/proc/sys/vm/swappiness).",
            recommendation="Nothing to do unless this host should have a readable /proc/sys.")]
    evidence = {"swappiness": value, "recommended_swappiness": target, **_size("swap", total)}
    if value == 0:
        if total > 0:
            recommendation = (f"Set vm.swappiness={target}: with 0 the kernel avoids swap until the very last "
                              f"moment, so the swap you have barely protects against the OOM killer.")
            evidence, recommendation = _with_container_note(facts, evidence, recommendation)
            return [make_finding(
                "swap.swappiness_zero", "warning", "vm.swappiness is 0 although swap is enabled",
                f"vm.swappiness is 0 with {format_size(total)} of swap: swap is used only just before an OOM "
                f"kill; servers do better with {target}.",
                evidence=evidence, recommendation=recommendation, risk="safe", role=ROLE_SWAP, command=command)]
        recommendation = f"When you add swap, also set vm.swappiness={target}."
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "swap.swappiness_zero", "info", "vm.swappiness is 0 (no swap, no effect yet)",
            f"vm.swappiness is 0 and there is no swap; set {target} when you add swap.",
            evidence=evidence, recommendation=recommendation, risk="safe", role=ROLE_SWAP, command=command)]
    if value >= limits["swappiness_high"]:
        recommendation = (f"Set vm.swappiness={target}: {value} is the desktop default and pushes database and "
                          f"app memory to swap while the page cache stays large.")
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "swap.swappiness_high", "warning", f"vm.swappiness is {value}: tuned for desktops, not servers",
            f"vm.swappiness is {value} (>= {limits['swappiness_high']}); servers do better with {target}.",
            evidence=evidence, recommendation=recommendation, risk="safe", role=ROLE_SWAP, command=command)]
    evidence = _with_container_note(facts, evidence, "")[0]
    return [make_finding(
        "swap.swappiness_ok", "ok", f"vm.swappiness is {value}: ok",
        f"vm.swappiness is {value}, between 1 and {limits['swappiness_high'] - 1}.", evidence=evidence)]


@rule("memory.oom", needs=("swap",))
def rule_oom_kills(facts, limits):
    """Any OOM kill since boot -> critical."""
    swap = _dict(facts["swap"])
    kills = _num(swap.get("oom_kills"))
    if kills is None:
        return [make_finding(
            "memory.oom_unknown", "info", "OOM kills not checked: the kernel does not count them",
            "/proc/vmstat has no oom_kill counter on this kernel (added in Linux 4.13).",
            recommendation="Look for 'Out of memory' in the kernel log instead.",
            command="sudo journalctl -k --no-pager | grep -iE 'out of memory|killed process'")]
    memory = _dict(swap.get("memory"))
    evidence = {"oom_kills": kills, **_size("ram", _num(memory.get("total_bytes"))),
                **_size("available", _num(memory.get("available_bytes"))),
                **_size("swap", _num(_dict(swap.get("swap")).get("total_bytes")))}
    if kills > 0:
        recommendation = ("Find what was killed with the command (read-only), then give the host room: add or grow "
                          "swap (see the swap findings) and lower memory use (fewer app workers, smaller "
                          "PostgreSQL shared_buffers/work_mem, container memory limits).")
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "memory.oom_kills", "critical", f"OOM killer killed {_plural(kills, 'process', 'processes')} since boot",
            f"The kernel killed {_plural(kills, 'process', 'processes')} for lack of memory since boot "
            f"(RAM {format_size(evidence['ram_bytes'])}, swap {format_size(evidence['swap_bytes'])}).",
            evidence=evidence, recommendation=recommendation, risk="caution", role=ROLE_SWAP,
            command="sudo journalctl -k --no-pager | grep -iE 'out of memory|killed process'")]
    evidence = _with_container_note(facts, evidence, "")[0]
    return [make_finding("memory.oom_ok", "ok", "No OOM kills since boot",
                         "The kernel's OOM killer has not killed anything since boot.", evidence=evidence)]


@rule("memory.pressure", needs=("swap",))
def rule_memory_pressure(facts, limits):
    """PSI memory 'full' avg60 above the threshold -> warning."""
    psi = _dict(_dict(facts["swap"]).get("psi"))
    full = _dict(psi.get("full"))
    avg60 = _num(full.get("avg60"))
    if avg60 is None:
        return [make_finding(
            "memory.pressure_unknown", "info", "Memory pressure not checked: no PSI on this kernel",
            "The kernel does not expose /proc/pressure/memory (needs Linux 4.20+, some kernels also psi=1 at boot).",
            recommendation="Nothing to do; the OOM and swap checks still ran.")]
    some = _dict(psi.get("some"))
    evidence = {"full_avg10_percent": _num(full.get("avg10")), "full_avg60_percent": avg60,
                "full_avg300_percent": _num(full.get("avg300")), "some_avg60_percent": _num(some.get("avg60")),
                "threshold_percent": limits["memory_psi_full_avg60"]}
    if avg60 > limits["memory_psi_full_avg60"]:
        recommendation = ("The host is short of memory right now (reclaim and swap-in stall every task). See what "
                          "uses memory with the command (read-only), then reduce it or add RAM/swap.")
        evidence, recommendation = _with_container_note(facts, evidence, recommendation)
        return [make_finding(
            "memory.pressure", "warning", f"Memory pressure: all tasks stalled {_pct(avg60)} of the last minute",
            f"Memory PSI 'full' avg60 is {_pct(avg60)} (> {_pct(limits['memory_psi_full_avg60'])}): every "
            f"runnable task waited on memory that share of the last 60 s.",
            evidence=evidence, recommendation=recommendation, risk="caution",
            command="free -h; ps -eo pid,rss,comm --sort=-rss | head -15")]
    evidence = _with_container_note(facts, evidence, "")[0]
    return [make_finding(
        "memory.pressure_ok", "ok", f"Memory pressure: {_pct(avg60)} full stall (avg60): ok",
        f"Memory PSI 'full' avg60 is {_pct(avg60)} (threshold {_pct(limits['memory_psi_full_avg60'])}).",
        evidence=evidence)]


@rule("host.container", needs=("swap",))
def rule_container(facts, limits):
    """Say once that the host-wide numbers are the host's when we run in a container."""
    runtime, note = _container(facts)
    if not runtime:
        return []
    info = _dict(_dict(facts["swap"]).get("container"))
    limit = _num(info.get("memory_limit_bytes"))
    swap_limit = _num(info.get("swap_limit_bytes"))
    evidence = {"runtime": runtime, "cgroup_version": info.get("cgroup_version"),
                "memory_limit_bytes": limit,
                "memory_limit": format_size(limit) if limit is not None else "unlimited or unknown",
                **_size("memory_usage", _num(info.get("memory_usage_bytes"))),
                "swap_limit_bytes": swap_limit,
                "swap_limit": format_size(swap_limit) if swap_limit is not None else "unlimited or unknown",
                "container_note": note}
    limit_text = f"memory limit {format_size(limit)}" if limit else "no memory limit"
    return [make_finding(
        "host.container", "info", f"Audited inside a {runtime} container",
        f"This host is a {runtime} container ({limit_text}); swap, swappiness, OOM and pressure figures are the "
        f"host's.",
        evidence=evidence,
        recommendation="Apply swap and sysctl fixes on the container host; disk findings are this container's.")]


# --------------------------------------------------------------------------------------------- disk rules


def _consumers_on(facts, mount, limit):
    """Biggest scanned directories and files that lie on ``mount``."""
    scan = _dict(_dict(facts.get("disk")).get("scan"))
    mounts = _filesystems(facts)
    dirs = [row for row in _without_explained_parents(_entries(scan.get("top_dirs")))
            if _mount_of(row["path"], mounts) == mount]
    files = [row for row in _entries(scan.get("top_files")) if _mount_of(row["path"], mounts) == mount]
    return dirs[:limit], files[:limit]


def _cleanup_commands(facts, mount, limits):
    """Read-only investigation first, then the safe clean-ups that apply to ``mount``."""
    disk = _dict(facts.get("disk"))
    mounts = _filesystems(facts)
    lines = ["# what uses the space (read-only)",
             f"sudo du -xh --max-depth=2 {mount} 2>/dev/null | sort -rh | head -20",
             "# deleted files still held open (read-only; restarting the process frees the space)",
             "sudo lsof -nP +L1 2>/dev/null | head -20"]
    safe = []
    journal = _dict(disk.get("journal"))
    journal_paths = [p for p in journal.get("paths") or [] if isinstance(p, str)]
    if (_num(journal.get("size_bytes")) or 0) > limits["journal_vacuum_bytes"] and any(
            _mount_of(p, mounts) == mount for p in journal_paths):
        safe.append(f"sudo journalctl --rotate --vacuum-size={_mib_arg(limits['journal_vacuum_bytes'])}")
    apt = _dict(disk.get("apt_cache"))
    if (_num(apt.get("size_bytes")) or 0) > 0 and isinstance(apt.get("path"), str) and \
            _mount_of(apt["path"], mounts) == mount:
        safe.append("sudo apt-get clean")
    docker_roots = [row for row in _list(_dict(disk.get("scan")).get("roots"))
                    if str(row.get("path", "")).startswith("/var/lib/docker")
                    and _mount_of(str(row.get("path")), mounts) == mount and (_num(row.get("size_bytes")) or 0) > 0]
    if safe:
        lines.append("# safe clean-ups (old archived journal entries, downloaded .deb files)")
        lines.extend(safe)
    if docker_roots:
        lines.append("# Docker images/volumes/build cache (read-only overview; prune only what you know is unused)")
        lines.append("docker system df")
    return "\n".join(lines), bool(docker_roots)


def _fs_evidence(item):
    return {"mount": item.get("mount"), "device": item.get("device"), "fstype": item.get("fstype"),
            **_size("size", _num(item.get("size_bytes"))), **_size("used", _num(item.get("used_bytes"))),
            **_size("available", _num(item.get("available_bytes")))}


def _use_percent(item):
    value = _num(item.get("use_percent"))
    if value is None:
        used, available = _num(item.get("used_bytes")), _num(item.get("available_bytes"))
        if used is not None and available is not None:
            value = percent(used, used + available)
    return value


@rule("disk.space", needs=("disk",))
def rule_disk_space(facts, limits):
    """Per filesystem: >= critical% -> critical, >= warning% -> warning; the rest in one ok finding."""
    findings = []
    fine = []
    filesystems = _filesystems(facts)
    if not filesystems:
        return [make_finding(
            "disk.no_filesystems", "info", "Disk space not checked: no filesystem reported",
            "The disk facts list no real filesystem, so usage could not be judged.",
            recommendation="Run `df -h` on the host; inside some containers the root overlay is hidden.")]
    for item in filesystems:
        used = _use_percent(item)
        if used is None:
            continue
        mount = item["mount"]
        if used < limits["disk_warning_percent"]:
            fine.append(f"{mount} {_pct(used)}")
            continue
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
            recommendation += f" Docker data is on this filesystem (role {ROLE_DOCKER_CLEANUP} is planned)."
        findings.append(make_finding(
            "disk.full" if critical else "disk.filling", "critical" if critical else "warning",
            f"{mount} is {_pct(used)} full ({format_size(item.get('available_bytes'))} free of "
            f"{format_size(item.get('size_bytes'))})",
            f"{mount} ({item.get('device')}, {item.get('fstype')}) is {_pct(used)} full: "
            f"{format_size(item.get('available_bytes'))} free of {format_size(item.get('size_bytes'))} "
            f"(threshold {_pct(evidence['threshold_percent'])}).",
            evidence=evidence, recommendation=recommendation, risk="caution", command=command))
    if fine:
        findings.append(make_finding(
            "disk.space_ok", "ok",
            f"Disk space: {_plural(len(fine), 'filesystem')} below {_pct(limits['disk_warning_percent'])}",
            f"Below {_pct(limits['disk_warning_percent'])} used: {', '.join(fine)}.",
            evidence={"filesystems": fine, "threshold_percent": limits["disk_warning_percent"]}))
    return findings


@rule("disk.inodes", needs=("disk",))
def rule_disk_inodes(facts, limits):
    """Per filesystem with an inode table: >= critical% -> critical, >= warning% -> warning."""
    findings = []
    fine = []
    for item in _filesystems(facts):
        used = _num(item.get("inode_use_percent"))
        if used is None:
            continue
        mount = item["mount"]
        if used < limits["inode_warning_percent"]:
            fine.append(f"{mount} {_pct(used)}")
            continue
        critical = used >= limits["inode_critical_percent"]
        evidence = {"mount": mount, "device": item.get("device"), "fstype": item.get("fstype"),
                    "inodes_total": _num(item.get("inodes_total")), "inodes_used": _num(item.get("inodes_used")),
                    "inode_use_percent": used,
                    "threshold_percent": limits["inode_critical_percent" if critical else "inode_warning_percent"]}
        findings.append(make_finding(
            "disk.inodes_full" if critical else "disk.inodes_filling", "critical" if critical else "warning",
            f"{mount} has used {_pct(used)} of its inodes",
            f"{mount} uses {evidence['inodes_used']} of {evidence['inodes_total']} inodes ({_pct(used)}): at 100% "
            f"no file can be created even with free space left.",
            evidence=evidence,
            recommendation=("Find the directories with the most files (the command is read-only); usual causes are "
                            "session/cache directories, mail queues, old release directories and Docker layers. "
                            "Remove what you know is unneeded."),
            risk="caution",
            command=f"sudo du --inodes -x --max-depth=3 {mount} 2>/dev/null | sort -rn | head -20"))
    if fine:
        findings.append(make_finding(
            "disk.inodes_ok", "ok",
            f"Inodes: {_plural(len(fine), 'filesystem')} below {_pct(limits['inode_warning_percent'])}",
            f"Below {_pct(limits['inode_warning_percent'])} of inodes used: {', '.join(fine)}.",
            evidence={"filesystems": fine, "threshold_percent": limits["inode_warning_percent"]}))
    return findings


@rule("disk.top_consumers", needs=("disk",))
def rule_top_consumers(facts, limits):
    """One info finding listing the biggest scanned roots, directories and files."""
    scan = _dict(_dict(facts["disk"]).get("scan"))
    limit = limits["top_consumers"]
    roots = _entries(scan.get("roots"))
    dirs = _without_explained_parents(_entries(scan.get("top_dirs")))[:limit]
    files = _entries(scan.get("top_files"), limit)
    if not (dirs or files or roots):
        return []
    biggest = dirs or files or roots
    headline = ", ".join(f"{row['path']} ({row['size']})" for row in biggest[:3])
    du_paths = " ".join(row["path"] for row in roots[:3]) or "/var"
    return [make_finding(
        "disk.top_consumers", "info", f"Biggest disk consumers: {headline}",
        f"Scanned {', '.join(row['path'] for row in roots) or 'nothing'}; the biggest directories are {headline}.",
        evidence={"scanned_roots": roots, "top_dirs": dirs, "top_files": files,
                  "missing_paths": [p for p in scan.get("missing_paths") or [] if isinstance(p, str)],
                  "files_scanned": _num(scan.get("files_scanned")),
                  "elapsed_seconds": _num(scan.get("elapsed_seconds"))},
        recommendation=("For information: where the space goes (disk usage, as du counts it). A directory is left "
                        "out when one directory below it, also listed, holds most of it."),
        command=f"sudo du -xh --max-depth=2 {du_paths} 2>/dev/null | sort -rh | head -20")]


@rule("disk.scan", needs=("disk",))
def rule_scan_partial(facts, limits):
    """A scan cut short by its time budget, or directories it could not read -> info (results are partial)."""
    scan = _dict(_dict(facts["disk"]).get("scan"))
    findings = []
    if scan.get("truncated"):
        unfinished = [p for p in scan.get("unfinished") or [] if isinstance(p, str)]
        findings.append(make_finding(
            "disk.scan_truncated", "info", "Disk scan stopped early: sizes are partial",
            f"The scan ran out of its time budget after {scan.get('elapsed_seconds')} s and "
            f"{scan.get('files_scanned')} files; not finished: {', '.join(unfinished) or 'unknown'}.",
            evidence={"unfinished": unfinished, "elapsed_seconds": _num(scan.get("elapsed_seconds")),
                      "files_scanned": _num(scan.get("files_scanned"))},
            recommendation=("Directory sizes and unrotated logs under the unfinished paths are lower bounds. "
                            "Re-run the audit with a bigger budget (-e audit_scan_time_budget=60; the default "
                            "is 20 seconds) or scan fewer paths (audit_scan_paths).")))
    unreadable = [p for p in scan.get("unreadable") or [] if isinstance(p, str)]
    if unreadable:
        findings.append(make_finding(
            "disk.scan_unreadable", "info",
            f"Disk scan could not read {_plural(len(unreadable), 'directory', 'directories')}",
            f"{_plural(len(unreadable), 'directory', 'directories')} could not be opened "
            f"({', '.join(unreadable[:3])}{' ...' if len(unreadable) > 3 else ''}), so sizes below them are missing.",
            evidence={"unreadable": unreadable},
            recommendation="Run the audit with --become (-b) to measure everything; without it sizes are partial."))
    return findings


@rule("disk.journal", needs=("disk",))
def rule_journal(facts, limits):
    """systemd journal > warning -> warning, > info -> info, else ok."""
    journal = facts["disk"].get("journal")
    if not isinstance(journal, Mapping):
        return [make_finding("disk.journal_ok", "ok", "systemd journal: none on disk",
                             "There is no journal directory (/var/log/journal or /run/log/journal).")]
    size = _num(journal.get("size_bytes")) or 0
    vacuum = limits["journal_vacuum_bytes"]
    evidence = {"paths": list(journal.get("paths") or []), **_size("size", size),
                **_size("vacuum_target", vacuum)}
    frees = size > vacuum  # vacuuming to a size above the current usage frees nothing: then only the cap
    command = (f"sudo journalctl --rotate --vacuum-size={_mib_arg(vacuum)}\n" if frees else "")
    command += (f"# keep it capped (restarting journald is safe; the logrotate role owns the same file):\n"
               f"sudo mkdir -p /etc/systemd/journald.conf.d && \\\n"
               f"  printf '[Journal]\\nSystemMaxUse={_mib_arg(vacuum)}\\n' | "
               f"sudo tee /etc/systemd/journald.conf.d/60-hostcare-logrotate.conf && \\\n"
               f"  sudo systemctl restart systemd-journald")
    role_vars = {"hostcare_logrotate_journald_system_max_use": _mib_arg(vacuum)}
    if frees:
        role_vars["hostcare_logrotate_journald_vacuum_size"] = _mib_arg(vacuum)
    command += "\n" + "\n".join(role_vars_lines(ROLE_LOGROTATE, role_vars))
    if frees:
        recommendation = (f"Vacuum the journal to {format_size(vacuum)} and cap it with SystemMaxUse (journald's "
                          f"own default is 10% of the filesystem, up to 4 GiB). Vacuuming deletes only the oldest "
                          f"archived entries. The role hostcare.vps.logrotate does both (evidence.role_vars).")
    else:
        recommendation = (f"Cap the journal at {format_size(vacuum)} with SystemMaxUse (journald's own default is "
                          f"10% of the filesystem, up to 4 GiB) before it grows further; it is below that now, so "
                          f"a vacuum would free nothing. The role hostcare.vps.logrotate does it (evidence.role_vars).")
    if size > limits["journal_warning_bytes"]:
        return [make_finding(
            "disk.journal_large", "warning", f"systemd journal uses {format_size(size)}",
            f"The systemd journal uses {format_size(size)} (> {format_size(limits['journal_warning_bytes'])}).",
            evidence={**evidence, "role_vars": role_vars}, recommendation=recommendation, risk="safe",
            role=ROLE_LOGROTATE, command=command)]
    if size > limits["journal_info_bytes"]:
        return [make_finding(
            "disk.journal_growing", "info", f"systemd journal uses {format_size(size)}",
            f"The systemd journal uses {format_size(size)} (> {format_size(limits['journal_info_bytes'])}; "
            f"warning above {format_size(limits['journal_warning_bytes'])}).",
            evidence={**evidence, "role_vars": role_vars}, recommendation=recommendation, risk="safe",
            role=ROLE_LOGROTATE, command=command)]
    return [make_finding(
        "disk.journal_ok", "ok", f"systemd journal: {format_size(size)}: ok",
        f"The systemd journal uses {format_size(size)} (info above {format_size(limits['journal_info_bytes'])}).",
        evidence=evidence)]


@rule("disk.apt_cache", needs=("disk",))
def rule_apt_cache(facts, limits):
    """Downloaded .deb files > threshold -> info (apt-get clean is safe). No apt -> nothing."""
    apt = facts["disk"].get("apt_cache")
    if not isinstance(apt, Mapping):
        return []
    size = _num(apt.get("size_bytes")) or 0
    evidence = {"path": apt.get("path"), **_size("size", size)}
    if size > limits["apt_cache_info_bytes"]:
        return [make_finding(
            "disk.apt_cache_large", "info", f"apt cache holds {format_size(size)}",
            f"{apt.get('path')} holds {format_size(size)} of downloaded packages "
            f"(> {format_size(limits['apt_cache_info_bytes'])}).",
            evidence=evidence,
            recommendation="Remove the downloaded .deb files; apt downloads them again when needed.",
            risk="safe", command="sudo apt-get clean")]
    return [make_finding("disk.apt_cache_ok", "ok", f"apt cache: {format_size(size)}: ok",
                         f"{apt.get('path')} holds {format_size(size)} "
                         f"(info above {format_size(limits['apt_cache_info_bytes'])}).", evidence=evidence)]


def logrotate_snippet(paths, max_size_bytes):
    """A logrotate drop-in for ``paths``, written with tee and checked with ``logrotate -d`` (a dry run)."""
    body = "\n".join([
        "sudo tee /etc/logrotate.d/hostcare-unrotated >/dev/null <<'EOF'",
        " ".join(paths) + " {",
        "    weekly",
        f"    maxsize {_mib_arg(max_size_bytes)}",
        "    rotate 4",
        "    compress",
        "    delaycompress",
        "    missingok",
        "    notifempty",
        "    copytruncate",
        "}",
        "EOF",
        "sudo logrotate -d /etc/logrotate.d/hostcare-unrotated",
    ])
    check = "grep -rlF -e " + " -e ".join(paths) + " /etc/logrotate.conf /etc/logrotate.d/"
    return f"# already configured somewhere? (a duplicate entry makes logrotate skip the file)\n{check}\n{body}"


def _yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml_scalar(item) for item in value) + "]"
    text = str(value)
    return text if re.match(r"^[A-Za-z0-9_./*-]+$", text) and text not in ("true", "false", "null") else json.dumps(text)


def role_vars_lines(role, role_vars):
    """Commented YAML lines showing the variables of ``role`` that apply a fix (values: scalars, lists of
    scalars, or lists of flat dicts)."""
    lines = [f"# or let the role {role} do it, with these variables:"]
    for key, value in role_vars.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            lines.append(f"#   {key}:")
            for item in value:
                for index, (name, field) in enumerate(item.items()):
                    lines.append(f"#     {'- ' if index == 0 else '  '}{name}: {_yaml_scalar(field)}")
        else:
            lines.append(f"#   {key}: {_yaml_scalar(value)}")
    return lines


def logrotate_entry_name(directory):
    """A hostcare.vps.logrotate entry name for the logs of ``directory`` (/var/www/app/log -> var-www-app-log)."""
    return (re.sub(r"[^A-Za-z0-9]+", "-", directory).strip("-") or "root")[:64].rstrip("-")


def logrotate_role_vars(paths):
    """hostcare_logrotate_entries for ``paths``: one entry per directory, naming the files themselves (a glob
    could take files another entry already rotates, and logrotate skips a log named twice)."""
    directories = {}
    for path in paths:
        directories.setdefault(path.rsplit("/", 1)[0] or "/", []).append(path)
    return {"hostcare_logrotate_entries": [
        {"name": logrotate_entry_name(directory), "paths": files, "frequency": "daily", "rotate": 14,
         "compress": True, "copytruncate": True}
        for directory, files in directories.items()]}


@rule("disk.unrotated_logs", needs=("disk",))
def rule_unrotated_logs(facts, limits):
    """*.log files >= the minimum size with no rotated sibling -> warning listing them."""
    minimum = limits["unrotated_log_min_bytes"]
    if facts["disk"].get("unrotated_logs") is None:  # the scan was skipped (skip_scan)
        return []
    logs = [row for row in _entries(facts["disk"].get("unrotated_logs")) if row["size_bytes"] >= minimum]
    if not logs:
        scan = _dict(facts["disk"].get("scan"))
        if scan.get("truncated") or scan.get("unreadable"):
            return [make_finding(
                "disk.unrotated_logs_ok", "info", f"No unrotated log of {format_size(minimum)} or more (partial scan)",
                f"No *.log of {format_size(minimum)} or more without a rotated copy was found, but the scan was "
                f"partial (see disk.scan_truncated / disk.scan_unreadable).",
                evidence=_size("min_size", minimum),
                recommendation="Run the audit with --become (-b) or a bigger scan budget to check everything.")]
        return [make_finding(
            "disk.unrotated_logs_ok", "ok", f"No unrotated log of {format_size(minimum)} or more",
            f"No *.log of {format_size(minimum)} or more without a rotated copy was found in the scanned paths.",
            evidence=_size("min_size", minimum))]
    total = sum(row["size_bytes"] for row in logs)
    listed = ", ".join(f"{row['path']} ({row['size']})" for row in logs[:3]) + (" ..." if len(logs) > 3 else "")
    role_vars = logrotate_role_vars([row["path"] for row in logs])
    return [make_finding(
        "disk.unrotated_logs", "warning",
        f"{_plural(len(logs), 'large log file')} never rotated ({format_size(total)})",
        f"{_plural(len(logs), 'log file')} of {format_size(minimum)} or more have no rotated copy: {listed}.",
        evidence={"logs": logs, **_size("total", total), **_size("min_size", minimum), "role_vars": role_vars},
        recommendation=("Rotate them with logrotate: check no existing entry covers them, write the drop-in, "
                        "test it with `logrotate -d` (a dry run), or apply the role hostcare.vps.logrotate with "
                        "the entry in evidence.role_vars (it runs `logrotate -d` itself). copytruncate keeps the "
                        "app writing to the same file but may lose a few lines during rotation; use the app's "
                        "reopen signal instead where it has one."),
        risk="caution", role=ROLE_LOGROTATE,
        command=logrotate_snippet([row["path"] for row in logs], minimum) + "\n"
        + "\n".join(role_vars_lines(ROLE_LOGROTATE, role_vars)))]


# --------------------------------------------------------------------------------------------- more rules

# The Docker and PostgreSQL rules register themselves into RULES (after the rules above, so their findings come
# after swap, memory and disk ones of equal severity). Imported last: they import the helpers defined above.
# pylint: disable=wrong-import-position,unused-import
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_docker  # noqa: E402,F401
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_postgres  # noqa: E402,F401
