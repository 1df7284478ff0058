# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The heal's decisions: which findings of a host report the roles of this collection fix, with which variables.

``plan_heal(report, role_options, ...)`` takes the audit's host report (its open findings, each with ``fix.role``,
``evidence.role_vars`` and ``risk``; the accepted risks of ``ignored`` are never healed), the user's overrides
(``heal_role_vars``: {role: {variable: value}}, each variable checked against the role's meta/argument_specs.yml),
``heal_include`` / ``heal_exclude`` (finding ids) and ``heal_allow_restart``, and returns the plan:

- ``runs``: one per role (per PostgreSQL instance for postgresql_tune), in a fixed order, each with the variables to
  run it with and the findings it heals. A run's variables are the role's scope (the parts of the role no planned
  finding asks for are turned off: the logrotate role does not touch daemon.json to heal a journal), then the
  findings' variables merged in finding-id order (a variable two findings set to different values is a conflict:
  the second finding is not healed, and says so), then the user's overrides, which win;
- ``findings``: every open finding with its status: ``planned``, ``held_back`` (a restart or downtime:
  ``heal_allow_restart``), ``not_healable`` (no role fixes it automatically; why), ``skipped`` (heal_include /
  heal_exclude), ``conflict``; and the accepted risks as ``ignored`` with their reason.

Pure functions, no I/O: the action plugin hostcare.vps.heal_plan reads the roles' argument specs and defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    ROLE_DOCKER_CLEANUP,
    ROLE_LOGROTATE,
    ROLE_POSTGRESQL_TUNE,
    ROLE_SWAP,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import check_report
from ansible_collections.hostcare.vps.plugins.plugin_utils._role_variables import role_prefix, unknown_role_variables

COLLECTION = "hostcare.vps"
ROLE_ORDER = (ROLE_SWAP, ROLE_LOGROTATE, ROLE_DOCKER_CLEANUP, ROLE_POSTGRESQL_TUNE)
"""The order the roles run in: memory first, then logs, then Docker's disk, then PostgreSQL."""
STATUSES = ("planned", "held_back", "conflict", "not_healable", "skipped", "ignored")
ID_PATTERN = re.compile(r"^[a-z]+\.[a-z0-9_]+$")
SECRET_PATTERN = re.compile(r"password|secret|token", re.IGNORECASE)
KEEP_ALL_IMAGES = 1000000
"""hostcare_docker_cleanup_keep when docker.old_tags is not healed: every tag is kept (the role's maximum)."""


class HealError(ValueError):
    """A heal option that is not valid; the message names the option, the value and what is allowed."""


class NotHealable(Exception):
    """Raised by a heal rule: the finding names a role, but the role cannot fix it here (the message says why)."""


# --------------------------------------------------------------------------------------------- heal rules


def _swap_none(finding, user):
    evidence = finding["evidence"]
    if not (finding.get("fix") or {}).get("command"):
        if "hostcare_swap_file" in user:
            return {}  # the user chose the place (heal_role_vars.swap.hostcare_swap_file); the role checks it
        raise NotHealable("the audit found no place for a swap file here (" + str(
            evidence.get("swap_fit_reason") or evidence.get("container_note") or "see the finding")
            + "); set heal_role_vars.swap.hostcare_swap_file to choose one")
    fits, recommended = evidence.get("swap_fits_bytes"), evidence.get("recommended_swap_bytes")
    if isinstance(fits, int) and isinstance(recommended, int) and 0 < fits < recommended:
        return {"hostcare_swap_size": fits}  # the disk takes only this much: the audit's fitted size
    return {}


def _swappiness(finding, _user):
    return {"hostcare_swap_swappiness": finding["evidence"].get("recommended_swappiness", 10)}


def _role_vars(finding, _user):
    role_vars = finding["evidence"].get("role_vars")
    if not isinstance(role_vars, Mapping):
        raise NotHealable("the role has no automatic fix for this finding (no evidence.role_vars): see its "
                          "recommendation")
    return dict(role_vars)


def _keep(finding, _user):
    keep = finding["evidence"].get("keep")
    return {"hostcare_docker_cleanup_keep": keep} if isinstance(keep, int) else {}


def _stopped(finding, _user):
    days = finding["evidence"].get("min_days")
    if not isinstance(days, (int, float)) or days < 0:
        raise NotHealable("the finding does not say how long its containers have been stopped (evidence.min_days)")
    return {"hostcare_docker_cleanup_containers_older_than": f"{int(days)}d"}


def _nothing(_finding, _user):
    """The role's own defaults heal it (the scope turns the part on)."""
    return {}


def _not_by_role(why):
    def rule(_finding, _user):
        raise NotHealable(why)
    return rule


HEALS = {
    "swap.none": (ROLE_SWAP, _swap_none),
    "swap.swappiness_high": (ROLE_SWAP, _swappiness),
    "swap.swappiness_zero": (ROLE_SWAP, _swappiness),
    "swap.small": (ROLE_SWAP, _not_by_role(
        "it needs a second swap file beside the active one: run the role with hostcare_swap_file set to a new path "
        "(the finding's command), so that nothing is swapped off")),
    "swap.fstab_inactive": (ROLE_SWAP, _not_by_role("an inactive /etc/fstab entry needs a look by hand (the command)")),
    "disk.unrotated_logs": (ROLE_LOGROTATE, _role_vars),
    "disk.journal_large": (ROLE_LOGROTATE, _role_vars),
    "disk.journal_growing": (ROLE_LOGROTATE, _role_vars),
    "docker.logs_uncapped": (ROLE_LOGROTATE, _role_vars),
    "docker.daemon_log_opts": (ROLE_LOGROTATE, _role_vars),
    "docker.reclaimable": (ROLE_DOCKER_CLEANUP, _nothing),
    "docker.old_tags": (ROLE_DOCKER_CLEANUP, _keep),
    "docker.dangling_images": (ROLE_DOCKER_CLEANUP, _nothing),
    "docker.stopped_containers": (ROLE_DOCKER_CLEANUP, _stopped),
    "docker.unused_volumes": (ROLE_DOCKER_CLEANUP, _not_by_role(
        "volumes hold data: the heal never removes them (the role does only with two explicit confirmations)")),
    "postgres.memory_defaults": (ROLE_POSTGRESQL_TUNE, _role_vars),
}
"""Finding id -> (role, rule(finding, the user's overrides of that role) -> the variables that heal it, or NotHealable). A finding with a fix.role that
is not listed here is healed with its evidence.role_vars when it has them, else it is not healable."""

NEEDS = {
    "swap.swappiness_high": ("swap.none", "the swap role also creates a swap file; with swap already there, set "
                                          "vm.swappiness by hand (the finding's command)"),
    "swap.swappiness_zero": ("swap.none", "the swap role also creates a swap file; with swap already there, set "
                                          "vm.swappiness by hand (the finding's command)"),
}
"""Finding id -> (the finding that must be healed in the same run, why not otherwise)."""

STILL_OPEN_NOTES = {
    "docker.logs_uncapped": "the daemon's default limit applies to containers created from now on: re-create the "
                            "listed containers (docker compose up -d --force-recreate) to cap their logs",
}
"""Why a healed finding can still be seen by the audit right after the heal (the heal report quotes it)."""


def _logrotate_installed(report):
    """True when the audit found the logrotate binary (facts.disk.logrotate.binary)."""
    disk = (report.get("facts") or {}).get("disk")
    logrotate = disk.get("logrotate") if isinstance(disk, Mapping) else None
    return isinstance(logrotate, Mapping) and bool(logrotate.get("binary"))


def _scope(role, planned_ids, report):
    """The variables that turn off the parts of ``role`` that no planned finding asks for."""
    ids = set(planned_ids)
    if role == ROLE_LOGROTATE:
        scope = {"hostcare_logrotate_journald": bool(ids & {"disk.journal_large", "disk.journal_growing"}),
                 "hostcare_logrotate_docker": bool(ids & {"docker.logs_uncapped", "docker.daemon_log_opts"}),
                 "hostcare_logrotate_entries": []}
        if _logrotate_installed(report):
            # installed: the package manager is not asked (under --check, apt would still rebuild its cache)
            scope["hostcare_logrotate_install"] = False
        return scope
    if role == ROLE_DOCKER_CLEANUP:
        scope = {"hostcare_docker_cleanup_remove_dangling": "docker.dangling_images" in ids}
        if "docker.old_tags" not in ids:
            scope["hostcare_docker_cleanup_keep"] = KEEP_ALL_IMAGES
        if "docker.reclaimable" not in ids:
            scope["hostcare_docker_cleanup_build_cache_older_than"] = ""
        return scope
    if role == ROLE_SWAP:
        return {"hostcare_swap_swappiness": None, "hostcare_swap_vfs_cache_pressure": None}
    return {}


def _restart_reason(finding, allow_restart):
    """Why this fix needs heal_allow_restart (None when it does not, or when restarts are allowed)."""
    if allow_restart:
        return None
    if finding.get("risk") == "dangerous":
        return "its fix is of risk dangerous (downtime or data loss at the wrong moment): heal_allow_restart: true"
    if finding["id"] == "postgres.memory_defaults":
        rows = finding["evidence"].get("settings") or []
        restart = [row.get("name") for row in rows if isinstance(row, Mapping) and row.get("context") == "postmaster"]
        if restart or "shared_buffers" in (finding["evidence"].get("names") or []):
            return (f"{', '.join(restart) or 'shared_buffers'} takes effect only after a PostgreSQL restart (a short "
                    "outage): heal_allow_restart: true restarts it once, with the role's connection checks")
    return None


# --------------------------------------------------------------------------------------------- options


def _short(role):
    return role.rsplit(".", 1)[-1]


def _fqcn(role):
    return role if "." in role else f"{COLLECTION}.{role}"


def check_options(role_options, overrides, include, exclude):
    """The overrides as {role FQCN: {variable: value}}, and include/exclude as lists; HealError naming the first
    problem (an unknown role or variable, with the closest known one)."""
    if not isinstance(role_options, Mapping) or not role_options:
        raise HealError("role_options must be {role: [its variables]} (from the roles' meta/argument_specs.yml)")
    known_roles = {_fqcn(role): list(options) for role, options in role_options.items()}
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise HealError(f"heal_role_vars must be a dict of role -> {{variable: value}}, got {type(overrides).__name__}")
    checked = {}
    for role, variables in overrides.items():
        name = _fqcn(str(role))
        if name not in known_roles:
            raise HealError(f"heal_role_vars: unknown role {role!r}; known: "
                            f"{', '.join(sorted(_short(r) for r in known_roles))}")
        if not isinstance(variables, Mapping):
            raise HealError(f"heal_role_vars.{_short(name)} must be a dict of variable -> value, "
                            f"got {type(variables).__name__}")
        prefix = role_prefix(name)
        outside = sorted(str(key) for key in variables if not str(key).startswith(prefix))
        if outside:
            raise HealError(f"heal_role_vars.{_short(name)}: {', '.join(outside)}: not a variable of {name} "
                            f"(its variables start with {prefix})")
        problems = unknown_role_variables([str(key) for key in variables], prefix, known_roles[name])
        if problems:
            raise HealError(f"heal_role_vars.{_short(name)}: {'; '.join(problems)}")
        checked[name] = dict(variables)
    lists = []
    for option, value in (("heal_include", include), ("heal_exclude", exclude)):
        value = [] if value is None else value
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise HealError(f"{option} must be a list of finding ids, got {value!r}")
        bad = [item for item in value if not isinstance(item, str) or not ID_PATTERN.match(item)]
        if bad:
            raise HealError(f"{option}: {bad[0]!r} is not a finding id (such as swap.none)")
        lists.append(list(value))
    both = sorted(set(lists[0]) & set(lists[1]))
    if both:
        raise HealError(f"{', '.join(both)} is in both heal_include and heal_exclude")
    return known_roles, checked, lists[0], lists[1]


# --------------------------------------------------------------------------------------------- the plan


def _identity(finding):
    """What tells two findings of one id apart: the PostgreSQL instance, the container or the unit."""
    evidence = finding.get("evidence") or {}
    for key in ("instance", "container", "unit", "app"):
        if isinstance(evidence.get(key), str):
            return evidence[key]
    return None


def finding_key(finding):
    """id, or id@identity for the findings that exist once per instance (postgres.*@native)."""
    identity = _identity(finding)
    return finding["id"] if identity is None else f"{finding['id']}@{identity}"


def _entry(finding, status, why=None, role=None, variables=None):
    return {"key": finding_key(finding), "id": finding["id"], "severity": finding.get("severity"),
            "title": finding.get("title"), "risk": finding.get("risk"), "role": role, "status": status,
            "why": why, "vars": dict(variables or {})}


def _merge(base, finding_id, variables, owners):
    """Merge ``variables`` into ``base``; the first conflicting variable as (name, owner, theirs, ours), else None."""
    for name, value in variables.items():
        if name not in base or base[name] == value:
            continue
        if name in owners and isinstance(value, list) and isinstance(base[name], list):
            _merged, conflict = _merge_named(base[name], value)
            if conflict is None:
                continue
            return name, owners[name], conflict[0], conflict[1]
        if name in owners:
            return name, owners[name], base[name], value
    for name, value in variables.items():
        if name in base and isinstance(value, list) and isinstance(base[name], list) and name in owners:
            base[name] = _merge_named(base[name], value)[0]
        else:
            base[name] = value
        owners.setdefault(name, finding_id)
    return None


def _merge_named(ours, theirs):
    """Two lists of entries with a name (logrotate entries): the union by name; (merged, None) or
    (None, (our entry, their entry)) when one name has two different entries."""
    merged = list(ours)
    by_name = {item.get("name"): item for item in ours if isinstance(item, Mapping)}
    for item in theirs:
        name = item.get("name") if isinstance(item, Mapping) else None
        if name is None:
            if item not in merged:
                merged.append(item)
        elif name not in by_name:
            by_name[name] = item
            merged.append(item)
        elif by_name[name] != item:
            return None, (by_name[name], item)
    return merged, None


def report_from_file_text(text, host, path):
    """The host report saved as ``path`` (its JSON ``text``) for a heal of ``host``; HealError naming the file when
    it is not JSON, not a host report, or the report of another host (a heal must plan from this host's findings)."""
    try:
        report = json.loads(text)
    except ValueError as error:
        raise HealError(f"report_file: {path} is not JSON: {error}") from None
    try:
        kind = check_report(report, where=f"report_file {path}")
    except ValueError as error:
        raise HealError(f"report_file: {path}: {error}") from None
    if kind != "host":
        raise HealError(f"report_file: {path} is a fleet summary; give the report of one host (<host>.json)")
    if report.get("host") != host:
        raise HealError(f"report_file: {path} is the report of {report.get('host')!r}, not of {host!r}")
    return report


def plan_heal(report, role_options, overrides=None, include=(), exclude=(), allow_restart=False, role_defaults=None):
    """The heal plan of one host (see the module docstring). ``role_options``: {role: [variables]} from the roles'
    argument specs; ``role_defaults``: {role: {variable: default}} (defaults/main.yml), used to reset the variables
    one run of a role sets for the next run of the same role (two PostgreSQL instances)."""
    if check_report(report) != "host":
        raise HealError("the heal plans from one host's report (kind: host), not a fleet summary")
    known_roles, overrides, include, exclude = check_options(role_options, overrides, include, exclude)
    if not isinstance(allow_restart, bool):
        raise HealError(f"heal_allow_restart must be true or false, got {allow_restart!r}")
    entries, candidates = [], []
    for finding in report.get("findings") or []:
        if finding.get("severity") == "ok":
            continue
        fix = finding.get("fix") or {}
        role = fix.get("role")
        if finding["id"] in exclude:
            entries.append(_entry(finding, "skipped", "in heal_exclude", role))
            continue
        if include and finding["id"] not in include:
            entries.append(_entry(finding, "skipped", "not in heal_include", role))
            continue
        if role and role not in known_roles:
            entries.append(_entry(finding, "not_healable", f"the heal does not run {role}; run it yourself (see the "
                                                           "finding's fix)", role))
            continue
        if not role:
            by_hand = " (by hand: the finding's command)" if fix.get("command") else ""
            planned = f"; role {fix['planned_role']} is not in this release" if fix.get("planned_role") else ""
            entries.append(_entry(finding, "not_healable", f"no role of this collection fixes it{planned}{by_hand}"))
            continue
        heal_role, rule = HEALS.get(finding["id"], (role, _role_vars))
        try:
            variables = rule(finding, overrides.get(heal_role, {}))
        except NotHealable as why:
            entries.append(_entry(finding, "not_healable", f"{heal_role}: {why}", heal_role))
            continue
        held = _restart_reason(finding, allow_restart)
        if held:
            entries.append(_entry(finding, "held_back", held, heal_role, variables))
            continue
        candidates.append((finding, heal_role, variables))
    planned_ids = {finding["id"] for finding, _role, _vars in candidates}
    runs = {}
    for finding, role, variables in sorted(candidates, key=lambda c: (c[0]["id"], finding_key(c[0]))):
        need = NEEDS.get(finding["id"])
        if need and need[0] not in planned_ids:
            entries.append(_entry(finding, "not_healable", f"{role}: {need[1]}", role, variables))
            continue
        run_key = (role, _identity(finding) if role == ROLE_POSTGRESQL_TUNE else None)
        run = runs.setdefault(run_key, {"role": role, "instance": run_key[1], "vars": {}, "owners": {},
                                        "findings": []})
        if not run["findings"]:
            run["vars"].update(_scope(role, planned_ids, report))
        user = overrides.get(role, {})
        own = {name: value for name, value in variables.items() if name not in user}
        conflict = _merge(run["vars"], finding["id"], own, run["owners"])
        if conflict:
            name, owner, theirs, ours = conflict
            entries.append(_entry(finding, "conflict", (
                f"{name} is {_show(name, theirs)} for {owner} but {_show(name, ours)} for {finding['id']}: set "
                f"heal_role_vars.{_short(role)}.{name} to choose, or heal one of them (heal_exclude)"), role, variables))
            continue
        run["findings"].append(finding_key(finding))
        entries.append(_entry(finding, "planned", None, role, variables))
    ordered = sorted(runs.values(), key=lambda r: (ROLE_ORDER.index(r["role"]) if r["role"] in ROLE_ORDER
                                                   else len(ROLE_ORDER), r["role"], r["instance"] or ""))
    ordered = [run for run in ordered if run["findings"]]
    for run in ordered:
        run["vars"].update(overrides.get(run["role"], {}))
        run["overridden"] = sorted(overrides.get(run["role"], {}))
        unknown = sorted(set(run["vars"]) - set(known_roles[run["role"]]))
        if unknown:
            raise HealError(f"the plan for {run['role']} sets {', '.join(unknown)}, which the role does not know "
                            "(a heal rule out of date with the role's argument specs)")
        del run["owners"]
    _reset_between_runs(ordered, role_defaults or {})
    for finding in report.get("ignored") or []:
        ignore = finding.get("ignore") or {}
        until = f" until {ignore['expires']}" if ignore.get("expires") else ""
        entries.append(_entry(finding, "ignored", f"accepted risk{until}: {ignore.get('reason')}",
                              (finding.get("fix") or {}).get("role")))
    rank = {status: index for index, status in enumerate(STATUSES)}
    entries.sort(key=lambda e: (rank[e["status"]], e["key"]))
    counts = {status: sum(1 for e in entries if e["status"] == status) for status in STATUSES}
    return {"host": report.get("host"), "allow_restart": allow_restart, "include": include, "exclude": exclude,
            "runs": ordered, "findings": entries, "counts": counts}


def _reset_between_runs(runs, role_defaults):
    """Runs of one role share the host's variables (set_fact): a variable one run sets gets its default in the
    others."""
    by_role = {}
    for run in runs:
        by_role.setdefault(run["role"], []).append(run)
    for role, group in by_role.items():
        if len(group) < 2:
            continue
        defaults = dict(role_defaults.get(role) or role_defaults.get(_short(role)) or {})
        names = set().union(*(run["vars"] for run in group))
        for run in group:
            for name in sorted(names - set(run["vars"])):
                run["vars"][name] = defaults.get(name)


# --------------------------------------------------------------------------------------------- display


def _show(name, value):
    if SECRET_PATTERN.search(name):
        return "(secret)"
    if isinstance(value, list) and value and all(isinstance(item, Mapping) and "name" in item for item in value):
        return "[" + ", ".join(f"entry {item['name']}" for item in value) + "]"
    return repr(value)


def masked_vars(variables):
    """The variables with secrets replaced (for the console and the reports)."""
    return {name: ("********" if SECRET_PATTERN.search(name) and value is not None else value)
            for name, value in variables.items()}


def plan_lines(plan, check_mode=False):
    """The plan on the console: per run, role -> findings -> variables; then what is not healed and why."""
    counts = plan["counts"]
    head = (f"{plan['host']}: heal plan, {len(plan['runs'])} role run(s) for {counts['planned']} finding(s); "
            f"{counts['held_back']} held back, {counts['conflict']} in conflict, {counts['not_healable']} not "
            f"healable, {counts['skipped']} skipped, {counts['ignored']} accepted risk(s)")
    lines = [head + (" [check mode: nothing is changed, the roles show what they would change]" if check_mode else "")]
    for run in plan["runs"]:
        where = f" ({run['instance']})" if run.get("instance") else ""
        lines.append(f"RUN          {run['role']}{where} heals {', '.join(run['findings'])}")
        for name, value in masked_vars(run["vars"]).items():
            mark = " (heal_role_vars)" if name in run.get("overridden", ()) else ""
            lines.append(f"               {name}: {_compact(value)}{mark}")
    for entry in plan["findings"]:
        if entry["status"] != "planned":
            lines.append(f"{entry['status'].upper().ljust(13)}{entry['key']}: {entry['why']}")
    return [line.replace('"', "'") for line in lines]


def _compact(value):
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return "; ".join(", ".join(f"{k}={v}" for k, v in item.items()) for item in value)
    return "null" if value is None else str(value)
