# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The core of the audit: the rule registry, the finding builder, the one severity grader and the one table of
thresholds. It imports no area: the rules live in one file per area (_audit_swap, _audit_disk, _audit_docker,
_audit_postgres, _audit_apps), their fix commands in _audit_fixes, and _audit_rules imports them all, in report
order, so that they register here.

Input (``host_facts``) is a dict with one key per fact source (see FACT_SOURCES), each holding the fact dict
documented in docs/facts.md or None, plus optional ``errors: {source: message}`` saying why a source is missing::

    {"swap": <hostcare_swap>, "disk": <hostcare_disk>, "docker": <hostcare_docker>,
     "postgres": [{"label": "native", "facts": <hostcare_postgres>}, ...],
     "errors": {"disk": "Permission denied"}}

``swap`` and ``disk`` are always checked: absent or None gives a ``facts.<source>_unavailable`` finding. ``docker``
and ``postgres`` are optional (OPTIONAL_SOURCES): absent means "not audited" and gives nothing, None means the
audit tried and the module failed. ``postgres`` is a list, one entry per PostgreSQL instance (see
_audit_pg_instances.py); the others are fact dicts.

Every check is a small function registered with ``@rule(name, needs=(...))``. It receives the whole facts dict
and the thresholds and returns a list of findings (made with ``make_finding``). A rule runs only when the fact
sources it ``needs`` are present; a missing source produces one ``facts.<source>_unavailable`` info finding
instead; a rule that raises produces an ``audit.rule_failed`` info finding instead of crashing the audit.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB, OptionError
from ansible_collections.hostcare.vps.plugins.module_utils._validate import number as finite_number
from ansible_collections.hostcare.vps.plugins.module_utils._validate import size as size_option
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import CRITICAL_PERCENT, WARNING_PERCENT, WORK_MEM_FACTOR

SEVERITIES = ("critical", "warning", "info", "ok")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
RISKS = ("safe", "caution", "dangerous")

FINDING_KEYS = ("id", "severity", "title", "summary", "evidence", "recommendation", "risk", "fix")

FACT_SOURCES = {
    "swap": "hostcare.vps.swap_facts",
    "disk": "hostcare.vps.disk_pressure_facts",
    "docker": "hostcare.vps.docker_bloat_facts",
    "postgres": "hostcare.vps.pg_settings_facts",
    "workload": "hostcare.vps.workload_facts",
}
"""Fact sources the rules read: key in the facts dict -> the module that produces it."""

OPTIONAL_SOURCES = frozenset({"docker", "postgres", "workload"})
"""Sources checked only when their key is in the facts dict (absent: not audited, no finding)."""

LIST_SOURCES = frozenset({"postgres"})
"""Sources given as a list (one entry per instance) instead of one fact dict."""

AVAILABLE_ROLES = frozenset({"hostcare.vps.swap", "hostcare.vps.docker_cleanup", "hostcare.vps.logrotate"})
"""Roles of this collection that exist. A fix naming any other role reports it as ``planned_role`` only."""

ROLE_SWAP = "hostcare.vps.swap"
ROLE_LOGROTATE = "hostcare.vps.logrotate"
ROLE_DOCKER_CLEANUP = "hostcare.vps.docker_cleanup"
ROLE_POSTGRESQL_TUNE = "hostcare.vps.postgresql_tune"
AVAILABLE_ROLES = AVAILABLE_ROLES | {ROLE_POSTGRESQL_TUNE}

# --------------------------------------------------------------------------------------------- thresholds

Threshold = namedtuple("Threshold", "key default kind description")

# The one table of thresholds: docs/audit.md's table is generated from it (threshold_table_markdown; a test checks
# it). Sizes are bytes; users may override every key with audit_thresholds (sizes also as "2G").
# The PostgreSQL memory defaults are the one memory model's own (_pg_memory.py).
THRESHOLDS = (
    Threshold("swap_low_fraction", 0.5, "fraction",
              "`swap.small` when swap < recommended × this − `swap_slack_bytes`"),
    Threshold("swap_slack_bytes", 16 * MIB, "bytes",
              "swap headers and rounding: a \"2 GiB\" swap file shows as 2 GiB − 4 KiB"),
    Threshold("swappiness_high", 60, "swappiness", "`swap.swappiness_high` at or above"),
    Threshold("swappiness_target", 10, "swappiness", "the vm.swappiness the fixes set (MySQLTuner's advice too)"),
    Threshold("memory_psi_full_avg60", 1.0, "percent", "`memory.pressure` when memory PSI `full` avg60 is above"),
    Threshold("disk_warning_percent", 85.0, "percent",
              "`disk.filling` at or above (df's Use%); a new swap file stays below it"),
    Threshold("disk_critical_percent", 90.0, "percent", "`disk.full` at or above"),
    Threshold("inode_warning_percent", 85.0, "percent", "`disk.inodes_filling` at or above"),
    Threshold("inode_critical_percent", 95.0, "percent", "`disk.inodes_full` at or above"),
    Threshold("journal_warning_bytes", 1 * GIB, "bytes", "`disk.journal_large` above"),
    Threshold("journal_info_bytes", 256 * MIB, "bytes", "`disk.journal_growing` above"),
    Threshold("journal_vacuum_bytes", 500 * MIB, "bytes",
              "the journal fix caps the journal at this size, and vacuums to it only when it is bigger"),
    Threshold("apt_cache_info_bytes", 256 * MIB, "bytes", "`disk.apt_cache_large` above"),
    Threshold("unrotated_log_min_bytes", 50 * MIB, "bytes",
              "`disk.unrotated_logs` at or above (also the `maxsize` of the proposed drop-in)"),
    Threshold("top_consumers", 5, "count", "how many directories and files each finding lists"),
    Threshold("docker_reclaimable_info_bytes", 1 * GIB, "bytes", "`docker.reclaimable` info above"),
    Threshold("docker_reclaimable_warning_bytes", 5 * GIB, "bytes", "`docker.reclaimable` warning above"),
    Threshold("docker_cleanup_warning_bytes", 1 * GIB, "bytes",
              "`docker.old_tags`, `docker.dangling_images`, `docker.stopped_containers`: warning above (info below)"),
    Threshold("docker_stopped_min_days", 7, "days",
              "`docker.stopped_containers` lists containers stopped at least this many days ago"),
    Threshold("docker_log_warning_bytes", 100 * MIB, "bytes",
              "`docker.logs_uncapped` is a warning when an uncapped log is above it"),
    Threshold("docker_log_max_size_bytes", 10 * MIB, "bytes",
              "the `max-size` the log fixes propose (written in whole megabytes, `10m`)"),
    Threshold("docker_log_max_file", 3, "count", "the `max-file` the log fixes propose"),
    Threshold("postgres_defaults_min_ram_bytes", 2 * GIB, "bytes", "`postgres.memory_defaults` only from this much RAM on"),
    Threshold("postgres_memory_warning_percent", WARNING_PERCENT, "percent",
              "the memory model at or above this share: `postgres.memory_overcommit` warning, pg_diff verdict "
              "`warning`; the recommendation is fitted below it"),
    Threshold("postgres_memory_critical_percent", CRITICAL_PERCENT, "percent",
              "the memory model at or above this share: `postgres.memory_overcommit` critical, pg_diff `bad`"),
    Threshold("postgres_work_mem_factor", WORK_MEM_FACTOR, "factor",
              "work_mem multiplier of the memory model (postgresqltuner's `--wmp 150`)"),
    Threshold("postgres_connections_warning_percent", 70.0, "percent",
              "`postgres.connections_high` warning at or above (% of `max_connections`)"),
    Threshold("postgres_connections_critical_percent", 90.0, "percent",
              "`postgres.connections_high` critical at or above"),
    Threshold("logrotate_overdue_periods", 2, "count",
              "`disk.logrotate_not_running` when a covered log was not rotated within this many periods of its "
              "entry's frequency (or never)"),
    Threshold("deleted_open_warning_bytes", 100 * MIB, "bytes",
              "`disk.deleted_open` warning at or above, per filesystem (critical when they alone keep it above "
              "`disk_critical_percent`)"),
    Threshold("stale_archive_min_bytes", 1 * MIB, "bytes",
              "`disk.stale_archives` lists archives and dumps of at least this size (the scan records 1 MiB and up)"),
    Threshold("stale_archive_min_days", 30, "days", "`disk.stale_archives` lists archives and dumps older than this"),
    Threshold("memory_top_groups", 5, "count", "how many memory owners `memory.top_consumers` lists"),
    Threshold("docker_unlimited_warning_percent", 25.0, "percent",
              "`docker.no_memory_limit` is a warning when the container holds this share of RAM or more (always "
              "on a host without swap)"),
    Threshold("docker_limit_factor", 1.5, "factor",
              "the memory limit the fix proposes: usage × this, at least usage + 256 MiB, never below usage"),
    Threshold("restart_loop_count", 5, "count",
              "`docker.restart_loop` / `systemd.restart_loop` from this many restarts (critical while restarting now)"),
    Threshold("postgres_shm_min_bytes", 128 * MIB, "bytes",
              "`docker.postgres_shm` when a PostgreSQL container's /dev/shm is below (Docker's default is 64 MiB)"),
    Threshold("postgres_shm_bytes", 1 * GIB, "bytes", "the shm_size the `docker.postgres_shm` fix proposes "
              "(at most a quarter of RAM)"),
    Threshold("memory_budget_warning_percent", 90.0, "percent",
              "`memory.budget` warning when PostgreSQL's worst case + the rest's usage + the containers' room up to "
              "their limits reaches this share of RAM (critical above RAM + swap)"),
    Threshold("postgres_budget_floor_share", 0.25, "fraction",
              "PostgreSQL's budget (RAM − measured other usage − 512 MiB OS reserve) is never below this share "
              "of RAM"),
    Threshold("d_state_warning_count", 5, "count", "`processes.d_state` is a warning from this many D-state processes"),
    Threshold("zombie_warning_count", 50, "count", "`processes.zombies` is a warning from this many zombies"),
    Threshold("load_warning_per_cpu", 2.0, "factor", "`processes.load_high` when the 5-minute load per CPU is above"),
)

DEFAULT_THRESHOLDS = {item.key: item.default for item in THRESHOLDS}
_KINDS = {item.key: item.kind for item in THRESHOLDS}

_THRESHOLD_ORDER = (
    ("disk_warning_percent", "disk_critical_percent"),
    ("inode_warning_percent", "inode_critical_percent"),
    ("journal_info_bytes", "journal_warning_bytes"),
    ("docker_reclaimable_info_bytes", "docker_reclaimable_warning_bytes"),
    ("postgres_memory_warning_percent", "postgres_memory_critical_percent"),
    ("postgres_connections_warning_percent", "postgres_connections_critical_percent"),
)
"""(low, high) pairs: low must not be above high."""


def threshold_default_text(item):
    """The default of a threshold as docs/audit.md prints it (sizes binary: 16.0 MiB)."""
    return format_size(item.default) if item.kind == "bytes" else f"{item.default:g}"


def threshold_table_markdown():
    """docs/audit.md's threshold table, generated from THRESHOLDS."""
    lines = ["| Key | Default | Used by |", "| --- | --- | --- |"]
    lines.extend(f"| `{item.key}` | {threshold_default_text(item)} | {item.description} |" for item in THRESHOLDS)
    return "\n".join(lines) + "\n"


class AuditError(ValueError):
    """Bad input to the audit functions (not bad facts: those become findings)."""


def resolve_thresholds(overrides=None):
    """Return DEFAULT_THRESHOLDS updated with ``overrides``; raise AuditError for an unknown key or bad value."""
    result = dict(DEFAULT_THRESHOLDS)
    if overrides is None:
        return result
    if not isinstance(overrides, Mapping):
        raise AuditError(f"thresholds must be a dict, got {type(overrides).__name__}")
    for key, value in overrides.items():
        kind = _KINDS.get(key)
        if kind is None:
            raise AuditError(f"unknown threshold {key!r}; known: {', '.join(sorted(DEFAULT_THRESHOLDS))}")
        result[key] = _threshold_value(key, kind, value)
    for low, high in _THRESHOLD_ORDER:
        if result[low] > result[high]:
            raise AuditError(f"threshold {low} ({result[low]}) must not be above {high} ({result[high]})")
    return result


def _threshold_value(key, kind, value):
    """One user threshold, checked by the one validator (_validate: finite, sizes up to 1 PiB), then its range."""
    option = f"threshold {key}"
    try:
        if kind == "bytes":
            return size_option(option, value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AuditError(f"{option} must be a number, got {value!r}")
        value = finite_number(option, value)  # refuses nan and inf
    except OptionError as exc:
        raise AuditError(str(exc)) from None
    if kind == "fraction" and not 0 < value <= 1:
        raise AuditError(f"{option} must be in (0, 1], got {value!r}")
    if kind == "factor" and not 0 < value <= 100:
        raise AuditError(f"{option} must be a number above 0 (at most 100), got {value!r}")
    if kind == "days" and not 0 <= value <= 36500:
        raise AuditError(f"{option} must be a number of days >= 0 (at most 36500), got {value!r}")
    if kind == "percent" and not 0 <= value <= 100:
        raise AuditError(f"{option} must be a percentage from 0 to 100, got {value!r}")
    if kind == "swappiness":
        if value != int(value) or not 0 <= value <= 200:
            raise AuditError(f"{option} must be an integer from 0 to 200, got {value!r}")
        return int(value)
    if kind == "count":
        if value != int(value) or not 1 <= value <= 1000:
            raise AuditError(f"{option} must be a whole number >= 1 (at most 1000), got {value!r}")
        return int(value)
    return float(value)


def grade(value, warning, critical):
    """The one severity grader: "critical" at or above ``critical``, "warning" at or above ``warning``, else "ok";
    None when the value is unknown."""
    if value is None:
        return None
    if value >= critical:
        return "critical"
    if value >= warning:
        return "warning"
    return "ok"


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


_AREA = {"swap": "Swap and memory", "disk": "Disk", "docker": "Docker", "postgres": "PostgreSQL",
         "workload": "Workload"}


def _unavailable(source, error):
    module = FACT_SOURCES[source]
    what = {
        "swap": "Swap, swappiness, OOM and memory pressure",
        "disk": "Filesystem usage, inodes, journal, apt cache and log rotation",
        "docker": "Docker images, containers, build cache and container logs",
        "postgres": "PostgreSQL memory settings, connections and pending restarts",
        "workload": "Memory owners, container limits, restart loops and the apps' discovered pools",
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


def as_dict(value):
    return value if isinstance(value, Mapping) else {}


def as_list(value):
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, (list, tuple)) else []


def as_number(value):
    """An int/float fact value, or None (booleans and strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def size_evidence(name, value):
    """Evidence pair: {name_bytes: int, name: '1.5 GiB'}."""
    return {f"{name}_bytes": value, name: format_size(value)}


def percent_text(value):
    return f"{value:.1f}%" if value is not None else "unknown"


def plural(count, word, plural_word=None):
    """'1 file', '3 files' (``plural_word`` when adding an s is wrong)."""
    return f"{count} {word if count == 1 else (plural_word or word + 's')}"
