# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Audit reports: the per-host JSON document, the fleet summary, and their markdown and console renderings.

A host report is a dict (``kind: host``) written as <report_dir>/<host>.json; the fleet summary (``kind: fleet``)
is written as fleet.json. ``render_markdown`` and ``console_lines`` accept either kind.
Pure functions, no I/O. Console lines are plain ASCII without double quotes, so Ansible's default callback
(which prints them as a JSON list) shows them unescaped.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    FINDING_KEYS,
    SEVERITIES,
    SEVERITY_RANK,
    count_by_severity,
    sort_findings,
    worst_severity,
)

REPORT_FORMAT_VERSION = 2
"""2: the audit engine of 0.1.0 (docs/audit-report.schema.json describes it)."""

RISK_TEXT = {
    "safe": "safe: no service impact, only caches, old archived logs or runtime tunables; can be undone",
    "caution": "caution: changes persistent config or removes data you might want; read it before running",
    "dangerous": "dangerous: can cause downtime or data loss if done at the wrong moment; plan a window",
}

FLEET_WORST_LIMIT = 15


class ReportError(ValueError):
    """Input that is not a report this module made."""


# --------------------------------------------------------------------------------------------- documents


def build_host_report(host, findings, generated_at=None, facts=None, ignored=(), ignore_unmatched=()):
    """The per-host report document (<host>.json). ``ignored``: the findings accepted by audit_ignore (listed
    apart, not counted); ``ignore_unmatched``: the audit_ignore entries that matched no finding (_audit_ignore.py)."""
    ordered = sort_findings(list(findings))
    return {
        "kind": "host",
        "format_version": REPORT_FORMAT_VERSION,
        "host": host,
        "generated_at": generated_at,
        "counts": count_by_severity(ordered),
        "worst": worst_severity(ordered),
        "findings": ordered,
        "facts": dict(facts or {}),
        "ignored": sort_findings(list(ignored)),
        "ignore_unmatched": list(ignore_unmatched),
    }


def _host_sort_key(report):
    counts = report.get("counts") or {}
    return (SEVERITY_RANK.get(report.get("worst"), len(SEVERITIES)),
            -counts.get("critical", 0), -counts.get("warning", 0), str(report.get("host")))


def build_fleet_summary(reports, generated_at=None, not_audited=None, worst_limit=FLEET_WORST_LIMIT):
    """The fleet summary (fleet.json) from several host reports: per host counts, worst and most common findings."""
    for index, report in enumerate(reports):
        check_report(report, where=f"reports[{index}]")
    reports = sorted(reports, key=_host_sort_key)
    hosts = []
    worst = []
    by_id = {}
    totals = dict.fromkeys(SEVERITIES, 0)
    for report in reports:
        host = report.get("host")
        counts = {name: int((report.get("counts") or {}).get(name, 0)) for name in SEVERITIES}
        for name in SEVERITIES:
            totals[name] += counts[name]
        problems = [f for f in report.get("findings") or [] if f.get("severity") in ("critical", "warning")]
        hosts.append({"host": host, "worst": report.get("worst"), "counts": counts,
                      "problems": [f.get("title") for f in problems[:3]]})
        for item in problems:
            worst.append({"host": host, "id": item.get("id"), "severity": item.get("severity"),
                          "title": item.get("title"), "summary": item.get("summary"), "risk": item.get("risk")})
        for item in report.get("findings") or []:
            if item.get("severity") == "ok":
                continue
            entry = by_id.setdefault(item.get("id"), {"id": item.get("id"), "severity": item.get("severity"),
                                                      "hosts": []})
            if SEVERITY_RANK.get(item.get("severity"), 9) < SEVERITY_RANK.get(entry["severity"], 9):
                entry["severity"] = item.get("severity")
            if host not in entry["hosts"]:
                entry["hosts"].append(host)
    worst.sort(key=lambda f: (SEVERITY_RANK.get(f["severity"], 9), str(f["host"])))
    common = sorted(by_id.values(), key=lambda e: (SEVERITY_RANK.get(e["severity"], 9), -len(e["hosts"]),
                                                   str(e["id"])))
    for entry in common:
        entry["host_count"] = len(entry["hosts"])
    return {
        "kind": "fleet",
        "format_version": REPORT_FORMAT_VERSION,
        "generated_at": generated_at,
        "host_count": len(hosts),
        "totals": totals,
        "worst": min((h["worst"] for h in hosts if h["worst"] in SEVERITY_RANK), key=SEVERITY_RANK.get,
                     default="ok"),
        "hosts": hosts,
        "worst_findings": worst[:worst_limit],
        "worst_findings_total": len(worst),
        "by_finding": common,
        "not_audited": sorted(not_audited or []),
    }


# --------------------------------------------------------------------------------------------- helpers


def _counts_text(counts):
    return ", ".join(f"{int((counts or {}).get(name, 0))} {name}" for name in SEVERITIES)


def _md(text):
    """Text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _label(key):
    return key.replace("_", " ")


def _value_text(key, value):
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and key.endswith("percent"):
        return f"{value:.1f}%"
    if isinstance(value, (list, tuple)):
        if not value:
            return "none"
        if all(isinstance(v, str) for v in value):
            return ", ".join(f"`{v}`" for v in value)
    return str(value)


def _visible_items(mapping):
    """Evidence items without the *_bytes twin of a human-readable key."""
    for key, value in mapping.items():
        if key.endswith("_bytes") and key[:-len("_bytes")] in mapping:
            continue
        yield key, value


def _row_text(row):
    if isinstance(row, Mapping):
        if "path" in row:
            rest = [f"{_label(k)} {_value_text(k, v)}" for k, v in _visible_items(row) if k not in ("path", "size")]
            size = f" {row['size']}" if "size" in row else ""
            return f"`{row['path']}`{size}" + (f" ({', '.join(rest)})" if rest else "")
        return ", ".join(f"{_label(k)} {_value_text(k, v)}" for k, v in _visible_items(row))
    return str(row)


def _evidence_lines(evidence):
    lines = []
    for key, value in _visible_items(evidence or {}):
        if isinstance(value, (list, tuple)) and value and any(isinstance(v, Mapping) for v in value):
            lines.append(f"- {_label(key)}:")
            lines.extend(f"  - {_row_text(v)}" for v in value)
        elif isinstance(value, Mapping):
            lines.append(f"- {_label(key)}: {_row_text(value) if value else 'none'}")
        else:
            lines.append(f"- {_label(key)}: {_value_text(key, value)}")
    return lines


def _fix_lines(item):
    fix = item.get("fix") or {}
    role, planned, command = fix.get("role"), fix.get("planned_role"), fix.get("command")
    lines = []
    risk = item.get("risk")
    if role:
        lines.append(f"**Fix** (risk: **{risk}**): role `{role}`" + (", or by hand:" if command else "."))
    elif command:
        planned_text = ""
        if planned:
            planned_text = f" Role `{planned}` will automate this (role coming, not in this release yet)."
        lines.append(f"**Fix** (risk: **{risk}**), by hand:{planned_text}")
    elif planned:
        lines.append(f"**Fix** (risk: **{risk}**): role `{planned}` (role coming, not in this release yet).")
    if command:
        lines.extend(["", "```sh", command, "```"])
    return lines


def _fix_console(item):
    fix = item.get("fix") or {}
    role, planned, command = fix.get("role"), fix.get("planned_role"), fix.get("command")
    if not (role or planned or command):
        return None
    text = f"fix ({item.get('risk')}): "
    if role:
        text += f"role {role}" + (", or by hand: see the report" if command else "")
    elif command:
        single = "\n" not in command and len(command) <= 90 and '"' not in command
        text += command if single else "commands in the report"
    if planned and not role:
        text += f" (role {planned} coming)" if command else f"role {planned} (coming)"
    return text


# --------------------------------------------------------------------------------------------- markdown


def _host_markdown(report):
    host = report.get("host")
    findings = report.get("findings") or []
    counts = report.get("counts") or count_by_severity(findings)
    lines = [f"# Audit report: {host}", ""]
    lines.append(f"Generated {report.get('generated_at') or '(time unknown)'} by the hostcare.vps audit "
                 f"(read-only: nothing on the host was changed).")
    lines.extend(["", f"**{_counts_text(counts)}**", ""])
    problems = [f for f in findings if f.get("severity") != "ok"]
    passed = [f for f in findings if f.get("severity") == "ok"]
    if problems:
        lines.extend(["| Severity | Finding | Id | Fix risk |", "| --- | --- | --- | --- |"])
        for item in problems:
            lines.append(f"| {str(item.get('severity')).upper()} | {_md(item.get('title'))} | "
                         f"`{_md(item.get('id'))}` | {_md(item.get('risk'))} |")
        lines.append("")
    else:
        lines.extend(["Nothing to fix: every check passed.", ""])
    current = None
    for item in problems:
        severity = item.get("severity")
        if severity != current:
            lines.extend([f"## {str(severity).capitalize()}", ""])
            current = severity
        lines.extend([f"### {item.get('title')}", "",
                      f"`{item.get('id')}`, severity **{severity}**", "",
                      str(item.get("summary")), ""])
        evidence = _evidence_lines(item.get("evidence"))
        if evidence:
            lines.extend(["**Evidence**", ""] + evidence + [""])
        lines.extend([f"**What to do:** {item.get('recommendation')}", ""])
        fix = _fix_lines(item)
        if fix:
            lines.extend(fix + [""])
        expired = _ignore_text(item)
        if expired:
            lines.extend([f"**Accepted risk expired:** {expired}; the finding counts again.", ""])
    lines.extend(_ignored_markdown(report))
    if passed:
        lines.extend(["## Checks that passed", ""])
        lines.extend(f"- {item.get('title')} (`{item.get('id')}`): {item.get('summary')}" for item in passed)
        lines.append("")
    lines.extend(["## Risk classes", ""])
    lines.extend(f"- **{text.split(':', 1)[0]}**:{text.split(':', 1)[1]}" for text in RISK_TEXT.values())
    lines.append("")
    return "\n".join(lines)


def _ignore_text(item):
    """'reason (until DATE)' of a finding's audit_ignore entry, or None."""
    ignore = item.get("ignore")
    if not isinstance(ignore, Mapping):
        return None
    match = ", ".join(f"{key} `{value}`" for key, value in sorted((ignore.get("match") or {}).items()))
    until = f"until {ignore.get('expires')}" if ignore.get("expires") else "no expiry"
    return f"{ignore.get('reason')} ({until}{', ' + match if match else ''})"


def _ignored_markdown(report):
    ignored = report.get("ignored") or []
    unmatched = report.get("ignore_unmatched") or []
    if not (ignored or unmatched):
        return []
    lines = ["## Accepted risks (audit_ignore)", ""]
    if ignored:
        lines.extend(["Not counted in the severities above and never healed; they count again when they expire.", "",
                      "| Severity | Finding | Id | Reason |", "| --- | --- | --- | --- |"])
        for item in ignored:
            lines.append(f"| {str(item.get('severity')).upper()} | {_md(item.get('title'))} | `{_md(item.get('id'))}` | "
                         f"{_md(_ignore_text(item))} |")
        lines.append("")
    if unmatched:
        lines.append("Entries of audit_ignore that matched no finding (fixed, or a typo in the id or the narrowing):")
        lines.extend(f"- `{entry.get('id')}`: {_ignore_text({'ignore': entry})}" for entry in unmatched)
        lines.append("")
    return lines


def _fleet_markdown(summary):
    lines = ["# Audit fleet summary", ""]
    lines.append(f"Generated {summary.get('generated_at') or '(time unknown)'} by the hostcare.vps audit: "
                 f"{summary.get('host_count')} host(s), {_counts_text(summary.get('totals'))}.")
    lines.append("")
    lines.extend(["| Host | Worst | Critical | Warning | Info | Ok | Top problems |",
                  "| --- | --- | ---: | ---: | ---: | ---: | --- |"])
    for host in summary.get("hosts") or []:
        counts = host.get("counts") or {}
        lines.append(f"| [{_md(host.get('host'))}]({host.get('host')}.md) | {str(host.get('worst')).upper()} | "
                     f"{counts.get('critical', 0)} | {counts.get('warning', 0)} | {counts.get('info', 0)} | "
                     f"{counts.get('ok', 0)} | {_md('; '.join(host.get('problems') or []) or '-')} |")
    lines.append("")
    if summary.get("not_audited"):
        lines.extend(["**Not audited** (unreachable or failed): " +
                      ", ".join(f"`{h}`" for h in summary["not_audited"]), ""])
    common = [e for e in summary.get("by_finding") or [] if e.get("severity") in ("critical", "warning")]
    if common:
        lines.extend(["## Most common problems", "", "| Finding | Severity | Hosts |", "| --- | --- | --- |"])
        for entry in common:
            lines.append(f"| `{_md(entry.get('id'))}` | {entry.get('severity')} | "
                         f"{entry.get('host_count')}: {_md(', '.join(str(h) for h in entry.get('hosts') or []))} |")
        lines.append("")
    worst = summary.get("worst_findings") or []
    if worst:
        lines.extend(["## Worst findings", ""])
        lines.extend(f"- **{str(f.get('severity')).upper()}** {f.get('host')}: {f.get('title')} (`{f.get('id')}`, "
                     f"fix risk {f.get('risk')})" for f in worst)
        if summary.get("worst_findings_total", 0) > len(worst):
            lines.append(f"- ... {summary['worst_findings_total'] - len(worst)} more in the host reports")
        lines.append("")
    else:
        lines.extend(["No critical or warning findings on any host.", ""])
    return "\n".join(lines)


def render_markdown(report):
    """Markdown for a host report or a fleet summary."""
    kind = _kind(report)
    return _host_markdown(report) if kind == "host" else _fleet_markdown(report)


# --------------------------------------------------------------------------------------------- console

_TAG_WIDTH = 10


def _tag(severity):
    return str(severity).upper().ljust(_TAG_WIDTH)


def _host_console(report, report_path=None, show_ok=True):
    findings = report.get("findings") or []
    head = f"{report.get('host')}: {_counts_text(report.get('counts') or count_by_severity(findings))}"
    lines = [head + (f" -> {report_path}" if report_path else "")]
    for item in findings:
        severity = item.get("severity")
        if severity == "ok" and not show_ok:
            continue
        lines.append(f"{_tag(severity)}{item.get('title')}" + ("" if severity == "ok" else f" [{item.get('id')}]"))
        if severity != "ok":
            fix = _fix_console(item)
            if fix:
                lines.append(" " * _TAG_WIDTH + fix)
    if not show_ok and report.get("counts", {}).get("ok"):
        lines.append(f"{_tag('ok')}{report['counts']['ok']} checks passed (listed in the report)")
    for item in findings:
        if isinstance(item.get("ignore"), Mapping):
            lines.append(f"{_tag('expired')}accepted risk of {item.get('id')} expired ({item['ignore'].get('expires')}): "
                         "it counts again")
    ignored = report.get("ignored") or []
    if ignored:
        lines.append(f"{_tag('ignored')}{len(ignored)} accepted risk(s), not counted: "
                     + ", ".join(str(item.get("id")) for item in ignored))
    unmatched = report.get("ignore_unmatched") or []
    if unmatched:
        lines.append(f"{_tag('ignored')}audit_ignore entries matching no finding: "
                     + ", ".join(str(entry.get("id")) for entry in unmatched))
    return [line.replace('"', "'") for line in lines]


def _fleet_console(summary, report_path=None):
    head = f"Fleet: {summary.get('host_count')} hosts, {_counts_text(summary.get('totals'))}"
    lines = [head + (f" -> {report_path}" if report_path else "")]
    width = max([len(str(h.get("host"))) for h in summary.get("hosts") or []] + [4])
    for host in summary.get("hosts") or []:
        counts = host.get("counts") or {}
        problem = (host.get("problems") or ["-"])[0]
        lines.append(f"{str(host.get('host')).ljust(width)}  {_tag(host.get('worst'))}"
                     f"{counts.get('critical', 0)}C {counts.get('warning', 0)}W {counts.get('info', 0)}I "
                     f"{counts.get('ok', 0)}ok  {problem}")
    if summary.get("not_audited"):
        lines.append("Not audited (unreachable or failed): " + ", ".join(summary["not_audited"]))
    return [line.replace('"', "'") for line in lines]


def console_lines(report, report_path=None, show_ok=True):
    """Console summary lines (most severe first) for a host report or a fleet summary."""
    kind = _kind(report)
    if kind == "host":
        return _host_console(report, report_path=report_path, show_ok=show_ok)
    return _fleet_console(report, report_path=report_path)


def _kind(report):
    return check_report(report)


def _fail(where, message):
    raise ReportError(f"{where}: {message}")


def _check_list_of_dicts(where, value, required=()):
    if not isinstance(value, (list, tuple)):
        _fail(where, f"must be a list, got {type(value).__name__}")
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            _fail(f"{where}[{index}]", f"must be a dict, got {type(item).__name__}")
        missing = [key for key in required if key not in item]
        if missing:
            _fail(f"{where}[{index}]", f"lacks {', '.join(missing)}")


def _check_finding(where, item):
    if not isinstance(item.get("id"), str) or not item["id"]:
        _fail(where, "id must be a non-empty string")
    if item.get("severity") not in SEVERITY_RANK:
        _fail(where, f"unknown severity {item.get('severity')!r}; expected one of {', '.join(SEVERITIES)}")
    for key in ("title", "summary", "recommendation", "risk"):
        if not isinstance(item.get(key), str):
            _fail(where, f"{key} must be a string, got {type(item.get(key)).__name__}")
    if not isinstance(item.get("evidence"), Mapping):
        _fail(where, "evidence must be a dict")
    if item.get("fix") is not None and not isinstance(item.get("fix"), Mapping):
        _fail(where, "fix must be a dict or null")


def check_report(report, where="report"):
    """The kind (host or fleet) of a report this module made; ReportError naming the first thing that is not
    (renderers and the fleet summary check their input: a malformed report gives a clean error, never a crash)."""
    if not isinstance(report, Mapping) or report.get("kind") not in ("host", "fleet"):
        raise ReportError("expected a host report (kind: host) or a fleet summary (kind: fleet)")
    counts = report.get("counts") if report["kind"] == "host" else report.get("totals")
    if counts is not None and not (isinstance(counts, Mapping) and all(
            isinstance(counts.get(name, 0), int) and not isinstance(counts.get(name, 0), bool) for name in SEVERITIES)):
        _fail(where, "counts must be a dict of severity -> whole number")
    if report["kind"] == "host":
        findings = report.get("findings") or []
        _check_list_of_dicts(f"{where}.findings", findings, required=FINDING_KEYS)
        for index, item in enumerate(findings):
            _check_finding(f"{where}.findings[{index}]", item)
        ignored = report.get("ignored") or []
        _check_list_of_dicts(f"{where}.ignored", ignored, required=FINDING_KEYS)
        for index, item in enumerate(ignored):
            _check_finding(f"{where}.ignored[{index}]", item)
        return "host"
    for key, required in (("hosts", ("host",)), ("worst_findings", ("host", "id", "severity")),
                          ("by_finding", ("id", "severity"))):
        _check_list_of_dicts(f"{where}.{key}", report.get(key) or [], required=required)
    if not isinstance(report.get("not_audited") or [], (list, tuple)):
        _fail(where, "not_audited must be a list of host names")
    return "fleet"
