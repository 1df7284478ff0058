# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Log rotation checks of the audit, on ``facts["disk"]["logrotate"]`` (logrotate as configured, read by
disk_pressure_facts) and the scan's large logs: logs no entry covers, rotation that does not run, entries whose
scripts restart services, and configuration errors that make logrotate skip files.

Pure functions, no I/O.
"""

from __future__ import annotations

import posixpath

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_config import FREQUENCY_SECONDS, covering_entries
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import (
    logrotate_dropin_command,
    logrotate_role_vars,
    proposed_logrotate_entry,
    role_vars_lines,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import size_rows

MAIN_CONFIG_CHECK = "sudo logrotate -d /etc/logrotate.conf 2>&1 | grep -E '^error:|skipping'"


def _logrotate(facts):
    """The logrotate facts, or None when they are unknown (older facts, or no logrotate.conf)."""
    value = core.as_dict(facts["disk"]).get("logrotate")
    return value if isinstance(value, dict) else None


def _entries(logrotate):
    return core.as_list((logrotate or {}).get("entries"))


def _entry_label(entry):
    return f"{entry.get('file')}:{entry.get('line')} ({' '.join(str(p) for p in entry.get('patterns') or [])})"


@rule("disk.unrotated_logs", needs=("disk",))
def rule_unrotated_logs(facts, limits):
    """*.log files >= the minimum size with no rotated sibling and no logrotate entry naming them (glob-aware)
    -> one warning, grouped per directory with the smaller uncovered logs of the same directory."""
    minimum = limits["unrotated_log_min_bytes"]
    disk = core.as_dict(facts["disk"])
    if disk.get("unrotated_logs") is None:  # the scan was skipped (skip_scan)
        return []
    logrotate = _logrotate(facts)
    entries = _entries(logrotate)
    big = [row for row in size_rows(disk.get("unrotated_logs")) if row["size_bytes"] >= minimum]
    covered = [row["path"] for row in big if covering_entries(row["path"], entries)]
    logs = [row for row in big if row["path"] not in covered]
    if not logs:
        return [_unrotated_ok(disk, minimum, covered)]
    siblings = [row for row in size_rows(disk.get("unrotated_log_siblings"))
                if not covering_entries(row["path"], entries)]
    directories, proposed = [], []
    for directory in dict.fromkeys(posixpath.dirname(row["path"]) for row in logs):
        here = [row for row in logs if posixpath.dirname(row["path"]) == directory]
        smaller = [row for row in siblings if posixpath.dirname(row["path"]) == directory]
        entry = proposed_logrotate_entry(directory, [row["path"] for row in here + smaller], minimum)
        proposed.append(entry)
        directories.append({"directory": directory, "logs": here, "smaller_siblings": smaller,
                            **core.size_evidence("total", sum(row["size_bytes"] for row in here + smaller)),
                            "dropin": f"/etc/logrotate.d/{entry['name']}"})
    total = sum(row["size_bytes"] for row in logs)
    listed = ", ".join(f"{row['path']} ({row['size']})" for row in logs[:3]) + (" ..." if len(logs) > 3 else "")
    role_vars = logrotate_role_vars(proposed)
    unknown = "" if logrotate is not None else (
        " The logrotate configuration could not be read, so an entry may cover them already: the commands check.")
    sibling_text = "".join(
        f" Also in {item['directory']}, smaller and not rotated either: "
        f"{', '.join(posixpath.basename(row['path']) for row in item['smaller_siblings'][:8])}"
        f"{' ...' if len(item['smaller_siblings']) > 8 else ''}." for item in directories if item["smaller_siblings"])
    return [core.make_finding(
        "disk.unrotated_logs", "warning",
        f"{core.plural(len(logs), 'large log file')} never rotated ({format_size(total)})",
        f"{core.plural(len(logs), 'log file')} of {format_size(minimum)} or more have no rotated copy and no logrotate "
        f"entry names them: {listed}.{sibling_text}{unknown}",
        evidence={"logs": logs, "directories": directories, "covered_by_an_entry": covered,
                  **core.size_evidence("total", total), **core.size_evidence("min_size", minimum), "role_vars": role_vars},
        recommendation=("Rotate them with logrotate, one drop-in per directory naming the files (never a glob, "
                        "which could take logs another entry rotates): each command writes the drop-in to a "
                        "temporary directory, runs `logrotate -d` over the whole configuration with it and installs "
                        "it only when that is clean; it never overwrites a file. The role hostcare.vps.logrotate "
                        "writes the same file from evidence.role_vars. copytruncate keeps the app writing to the "
                        "same file but may lose the lines written during the copy; use the app's reopen signal "
                        "instead where it has one."),
        risk="caution", role=core.ROLE_LOGROTATE,
        command="\n".join(logrotate_dropin_command(entry) for entry in proposed) + "\n"
        + "\n".join(role_vars_lines(core.ROLE_LOGROTATE, role_vars)))]


def _unrotated_ok(disk, minimum, covered):
    note = (f" {core.plural(len(covered), 'large log')} without a rotated copy {'is' if len(covered) == 1 else 'are'} "
            f"named by a logrotate entry (see disk.logrotate_not_running)." if covered else "")
    evidence = {**core.size_evidence("min_size", minimum), "covered_by_an_entry": covered}
    scan = core.as_dict(disk.get("scan"))
    if scan.get("truncated") or scan.get("unreadable"):
        return core.make_finding(
            "disk.unrotated_logs_ok", "info", f"No unrotated log of {format_size(minimum)} or more (partial scan)",
            f"No *.log of {format_size(minimum)} or more without a rotated copy and outside every logrotate entry "
            f"was found, but the scan was partial (see disk.scan_truncated / disk.scan_unreadable).{note}",
            evidence=evidence,
            recommendation="Run the audit with --become (-b) or a bigger scan budget to check everything.")
    return core.make_finding(
        "disk.unrotated_logs_ok", "ok", f"No unrotated log of {format_size(minimum)} or more",
        f"No *.log of {format_size(minimum)} or more without a rotated copy and outside every logrotate entry was "
        f"found in the scanned paths.{note}", evidence=evidence)


def _runner_cause(runner):
    """Why logrotate would not run at all, or None when something runs it."""
    runner = core.as_dict(runner)
    has_cron = bool(runner.get("cron_scripts")) or runner.get("anacron")
    if runner.get("timer_enabled") and runner.get("systemd_running"):
        return None
    if has_cron and runner.get("scheduler_running"):
        return None
    if not has_cron and not runner.get("timer_unit"):
        return "nothing runs logrotate: no /etc/cron.daily/logrotate, no anacron and no logrotate.timer"
    if has_cron and not runner.get("systemd_running"):
        return ("/etc/cron.daily/logrotate exists but no cron daemon runs (no cron, crond or anacron process) and "
                "systemd is not running, so nothing starts it")
    if runner.get("timer_unit") and not runner.get("timer_enabled"):
        return "logrotate.timer exists but is not enabled, and no cron daemon runs"
    return None


@rule("disk.logrotate_not_running", needs=("disk",))
def rule_logrotate_not_running(facts, limits):
    """Non-empty logs an entry covers, not rotated within logrotate_overdue_periods × the entry's frequency (or
    never, per the state file) -> warning when they add up to unrotated_log_min_bytes or more, else info."""
    logrotate = _logrotate(facts)
    if logrotate is None:
        return []
    now = core.as_number(logrotate.get("now"))
    periods = limits["logrotate_overdue_periods"]
    cause = _runner_cause(logrotate.get("runner"))
    groups, seen = [], set()
    for entry in _entries(logrotate):
        period = FREQUENCY_SECONDS.get(entry.get("frequency") or "", FREQUENCY_SECONDS["daily"])
        overdue = []
        for log in core.as_list(entry.get("logs")):
            path, size, last = log.get("path"), core.as_number(log.get("size_bytes")) or 0, core.as_number(log.get("last_rotated"))
            if path in seen or size <= 0 or now is None:
                continue
            if last is None or now - last > periods * period:
                seen.add(path)
                overdue.append({"path": path, "size_bytes": size, "size": format_size(size),
                                "last_rotated": last})
        if overdue:
            groups.append({"entry": _entry_label(entry), "file": entry.get("file"),
                           "frequency": entry.get("frequency"), "skipped_by_logrotate": bool(entry.get("skipped")),
                           "never_rotated": sum(1 for log in overdue if log["last_rotated"] is None),
                           "logs": sorted(overdue, key=lambda log: -log["size_bytes"]),
                           **core.size_evidence("total", sum(log["size_bytes"] for log in overdue))})
    if not groups:
        return []
    total = sum(group["total_bytes"] for group in groups)
    count = sum(len(group["logs"]) for group in groups)
    causes = [cause] if cause else []
    skipped = [group["file"] for group in groups if group["skipped_by_logrotate"]]
    if skipped:
        causes.append(f"logrotate skips {', '.join(dict.fromkeys(skipped))} for a configuration error "
                      f"(see disk.logrotate_config_error)")
    if not causes:
        causes.append("logrotate runs but has not rotated them: look at its last run (journalctl -u logrotate, "
                      "or the cron log) and at `logrotate -d` for these files")
    severity = "warning" if total >= limits["unrotated_log_min_bytes"] else "info"
    names = "; ".join(f"{group['entry']}: {core.plural(len(group['logs']), 'log')}, {group['total']}" for group in groups)
    return [core.make_finding(
        "disk.logrotate_not_running", severity,
        f"{core.plural(count, 'log')} that logrotate should rotate {'has' if count == 1 else 'have'} not been rotated "
        f"({format_size(total)})",
        f"{core.plural(count, 'non-empty log')} named by a logrotate entry {'was' if count == 1 else 'were'} not rotated "
        f"within {periods} × the entry's frequency, or never (per {logrotate.get('state_file') or 'the state file, which is absent'}): "
        f"{names}. Likely cause: {'; '.join(causes)}.",
        evidence={"groups": groups, "log_count": count, **core.size_evidence("total", total),
                  "overdue_periods": periods, "causes": causes, "runner": core.as_dict(logrotate.get("runner")),
                  "state_file": logrotate.get("state_file")},
        recommendation=("Make logrotate run: enable its timer (`sudo systemctl enable --now logrotate.timer`) or the "
                        "cron daemon that runs /etc/cron.daily/logrotate, and fix any configuration error first "
                        "(disk.logrotate_config_error): a forced run of a skipped file rotates nothing. The commands "
                        "are read-only."),
        risk="safe",
        command=("# is rotation scheduled? (read-only)\n"
                 "systemctl list-timers logrotate.timer 2>/dev/null; ls -l /etc/cron.daily/logrotate 2>/dev/null; "
                 "pgrep -a 'cron|anacron' || echo 'no cron daemon'\n"
                 "# what logrotate would do now (a dry run)\n" + MAIN_CONFIG_CHECK + " || echo 'no error'"))]


_ALTERNATIVES = {
    "supervisorctl": ("`supervisorctl reload` re-reads supervisord's configuration and restarts every program; "
                      "`restart` stops and starts them. Instead: for programs that log to stdout, let supervisord "
                      "rotate their logs itself (stdout_logfile_maxbytes and stdout_logfile_backups in the program's "
                      "section) and drop the entry; for programs writing their own files, send the reopen signal the "
                      "program supports (`supervisorctl signal USR1 <program>`), or use copytruncate (no restart; the "
                      "lines written during the copy may be lost)."),
    "systemctl": ("Send the unit the reopen signal its program supports (`systemctl kill -s HUP|USR1 <unit>`) or "
                  "`systemctl reload <unit>` when the unit defines a reload, or use copytruncate."),
    "service": "Use the service's reload (`service <name> reload`) or its reopen signal, or copytruncate.",
    "invoke-rc.d": "Use the service's reload (`invoke-rc.d <name> reload`) or its reopen signal, or copytruncate.",
    "docker": ("Send the container its reopen signal (`docker kill -s USR1 <container>`), or let Docker rotate the "
               "logs of programs that log to stdout (the json-file log driver's max-size/max-file)."),
    "docker compose": ("Send the container its reopen signal (`docker compose kill -s USR1 <service>`), or let Docker "
                       "rotate stdout logs (max-size/max-file)."),
    "pm2": "Use `pm2 reloadLogs` (reopens the log files without restarting), or pm2-logrotate.",
}


@rule("disk.logrotate_restarts_services", needs=("disk",))
def rule_logrotate_restarts_services(facts, limits):
    """Entries whose prerotate/postrotate scripts restart services -> warning: which entry restarts what, how often,
    and the safer alternative."""
    logrotate = _logrotate(facts)
    items = []
    for entry in _entries(logrotate):
        restarts = core.as_list(entry.get("restarts"))
        if not restarts:
            continue
        logs = len(core.as_list(entry.get("logs")))
        per_run = 1 if entry.get("sharedscripts") else max(1, logs)
        items.append({"entry": _entry_label(entry), "file": entry.get("file"), "frequency": entry.get("frequency"),
                      "restarts": restarts, "logs": logs, "sharedscripts": bool(entry.get("sharedscripts")),
                      "restarts_per_rotation": per_run,
                      "alternatives": [_ALTERNATIVES.get(item.get("kind"), "") for item in restarts]})
    if not items:
        return []
    text = "; ".join(f"{item['entry']} runs `{item['restarts'][0]['command']}` "
                     f"{core.plural(item['restarts_per_rotation'], 'time')} per {item['frequency'] or 'rotation'} rotation"
                     for item in items)
    files = " ".join(dict.fromkeys(str(item["file"]) for item in items))
    return [core.make_finding(
        "disk.logrotate_restarts_services", "warning",
        f"{core.plural(len(items), 'logrotate entry', 'logrotate entries')} restart{'s' if len(items) == 1 else ''} "
        f"services on every rotation",
        f"{text}. Each rotation restarts the service: its in-flight work is interrupted"
        f"{' (without sharedscripts the script runs once per rotated log)' if any(not i['sharedscripts'] and i['logs'] > 1 for i in items) else ''}.",
        evidence={"entries": items},
        recommendation=" ".join(dict.fromkeys(alt for item in items for alt in item["alternatives"] if alt))
        + " Edit the entry by hand after checking which programs write these logs; the command only shows the scripts.",
        risk="caution",
        command=f"# the scripts (read-only)\nsudo grep -n -A4 -E 'prerotate|postrotate|firstaction|lastaction' {files}")]


@rule("disk.logrotate_config_error", needs=("disk",))
def rule_logrotate_config_error(facts, limits):
    """Errors `logrotate -d` reports (duplicates, bad directives) -> warning naming the files it skips and the logs
    those files name, which are therefore not rotated."""
    logrotate = _logrotate(facts)
    if logrotate is None:
        return []
    debug = core.as_dict(logrotate.get("debug"))
    errors = [line for line in debug.get("errors") or [] if isinstance(line, str)]
    if not errors:
        return []
    skipped = [entry for entry in _entries(logrotate) if entry.get("skipped")]
    lost = [log for entry in skipped for log in core.as_list(entry.get("logs"))]
    lost_bytes = sum(core.as_number(log.get("size_bytes")) or 0 for log in lost)
    duplicates = []
    for path in debug.get("duplicates") or []:
        duplicates.append({"path": path, "entries": [_entry_label(entry)
                                                     for entry in covering_entries(path, _entries(logrotate))]})
    skipped_files = list(dict.fromkeys(str(entry.get("file")) for entry in skipped)) or list(debug.get("skipped_files") or [])
    summary = f"`logrotate -d` reports {core.plural(len(errors), 'error')}: {'; '.join(errors[:3])}{' ...' if len(errors) > 3 else ''}."
    if skipped_files:
        summary += (f" It skips {', '.join(skipped_files)} entirely, so {core.plural(len(lost), 'log')} "
                    f"({format_size(lost_bytes)}) {'is' if len(lost) == 1 else 'are'} not rotated.")
    return [core.make_finding(
        "disk.logrotate_config_error", "warning",
        f"logrotate configuration error{'s' if len(errors) > 1 else ''}: "
        f"{core.plural(len(skipped_files), 'file')} skipped", summary,
        evidence={"errors": errors, "skipped_files": skipped_files, "duplicates": duplicates,
                  "logs_not_rotated": [log.get("path") for log in lost], **core.size_evidence("not_rotated", lost_bytes),
                  "exit_code": debug.get("rc")},
        recommendation=("Fix the errors: a log named by two entries makes logrotate skip the whole file read second "
                        "(every log it names, not just the duplicate); remove the duplicate name from one of them. "
                        "Check with the dry run (read-only) until it reports no error."),
        risk="safe", command=MAIN_CONFIG_CHECK + " || echo 'no error'")]
