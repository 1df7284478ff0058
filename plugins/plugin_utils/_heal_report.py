# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The heal report: the audit before, the plan, the audit after -> per finding fixed / still open (and why) / new.

Written as <host>.heal.json and <host>.heal.md beside the audit's reports by the action hostcare.vps.heal_report.
Findings are matched by ``finding_key`` (id, or id@instance for the findings that exist once per PostgreSQL
instance, container or unit). Pure functions, no I/O.
"""

from __future__ import annotations

import json

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import SEVERITIES
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_plan import STILL_OPEN_NOTES, HealError, finding_key, masked_vars
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import check_report

HEAL_FORMAT_VERSION = 1
OUTCOMES = ("fixed", "still_open", "new", "gone", "ignored")
"""gone: no longer seen although no role of the heal ran for it (it changed by itself, or by hand): not "fixed"."""
GONE_WHY = "no longer seen, but no role of the heal ran for it: it changed by itself (or by hand) meanwhile"


def _open(report):
    return {finding_key(item): item for item in report.get("findings") or [] if item.get("severity") != "ok"}


def _still_open_why(entry, key):
    """Why a finding the audit still sees was not fixed."""
    if entry is None:
        return "not in the heal plan"
    if entry["status"] != "planned":
        return f"{entry['status'].replace('_', ' ')}: {entry['why']}"
    note = STILL_OPEN_NOTES.get(key.split("@", 1)[0])
    return f"{entry['role']} ran" + (f"; {note}" if note else "; the audit still sees it (see the finding)")


def build_heal_report(before, after, plan, generated_at=None, check_mode=False):
    """The heal report document of one host."""
    for name, report in (("before", before), ("after", after)):
        if check_report(report, where=name) != "host":
            raise HealError(f"{name} must be a host report (kind: host)")
    if not isinstance(plan, dict) or not isinstance(plan.get("findings"), list):
        raise HealError("plan must be the plan hostcare.vps.heal_plan returned")
    if before.get("host") != after.get("host"):
        raise HealError(f"before is the report of {before.get('host')!r}, after of {after.get('host')!r}")
    was, now = _open(before), _open(after)
    by_key = {entry["key"]: entry for entry in plan["findings"]}
    rows = []
    for key, item in was.items():
        entry = by_key.get(key)
        if entry is not None and entry["status"] == "ignored":
            continue
        if key in now:
            rows.append({"key": key, "id": item["id"], "outcome": "still_open", "severity": now[key]["severity"],
                         "title": now[key]["title"], "role": entry and entry["role"],
                         "why": _still_open_why(entry, key)})
        else:
            healed = entry is not None and entry["status"] == "planned"
            rows.append({"key": key, "id": item["id"], "outcome": "fixed" if healed else "gone",
                         "severity": item["severity"], "title": item["title"], "role": entry and entry["role"],
                         "why": None if healed else GONE_WHY})
    for key, item in now.items():
        if key not in was:
            rows.append({"key": key, "id": item["id"], "outcome": "new", "severity": item["severity"],
                         "title": item["title"], "role": (item.get("fix") or {}).get("role"),
                         "why": "appeared after the heal" + (" (check mode: nothing was changed)" if check_mode else "")})
    for item in after.get("ignored") or []:
        ignore = item.get("ignore") or {}
        rows.append({"key": finding_key(item), "id": item["id"], "outcome": "ignored", "severity": item["severity"],
                     "title": item["title"], "role": (item.get("fix") or {}).get("role"),
                     "why": f"accepted risk: {ignore.get('reason')}"
                            + (f" (until {ignore['expires']})" if ignore.get("expires") else "")})
    rank = {name: index for index, name in enumerate(OUTCOMES)}
    rows.sort(key=lambda row: (rank[row["outcome"]], row["key"]))
    return {
        "kind": "heal",
        "format_version": HEAL_FORMAT_VERSION,
        "host": before.get("host"),
        "generated_at": generated_at,
        "check_mode": bool(check_mode),
        "counts_before": dict(before.get("counts") or {}),
        "counts_after": dict(after.get("counts") or {}),
        "outcomes": {name: sum(1 for row in rows if row["outcome"] == name) for name in OUTCOMES},
        "findings": rows,
        "runs": [{"role": run["role"], "instance": run.get("instance"), "findings": list(run["findings"]),
                  "vars": masked_vars(run["vars"])} for run in plan.get("runs") or []],
        "not_healed": [entry for entry in plan["findings"] if entry["status"] not in ("planned", "ignored")],
    }


def _counts_text(counts):
    return ", ".join(f"{int(counts.get(name, 0))} {name}" for name in SEVERITIES)


def heal_markdown(doc):
    lines = [f"# Heal report: {doc['host']}", "",
             f"Generated {doc.get('generated_at') or '(time unknown)'} by the hostcare.vps heal"
             + (" in check mode: nothing was changed, the audit after is the audit before." if doc["check_mode"]
                else "."), "",
             f"- before: **{_counts_text(doc['counts_before'])}**",
             f"- after: **{_counts_text(doc['counts_after'])}**",
             "- " + ", ".join(f"{doc['outcomes'][name]} {name.replace('_', ' ')}" for name in OUTCOMES), ""]
    if doc["findings"]:
        lines.extend(["| Outcome | Finding | Severity | Role | Why |", "| --- | --- | --- | --- | --- |"])
        for row in doc["findings"]:
            lines.append(f"| {row['outcome'].replace('_', ' ')} | `{row['key']}` {_cell(row['title'])} | "
                         f"{row['severity']} | {_cell(row['role'] or '-')} | {_cell(row['why'] or '-')} |")
        lines.append("")
    if doc["runs"]:
        lines.extend(["## Roles run", ""])
        for run in doc["runs"]:
            where = f" ({run['instance']})" if run.get("instance") else ""
            lines.append(f"- `{run['role']}`{where} for {', '.join(f'`{key}`' for key in run['findings'])}:")
            lines.extend(f"  - `{name}`: `{json.dumps(value, sort_keys=True)}`" for name, value in run["vars"].items())
        lines.append("")
    return "\n".join(lines)


def _cell(text):
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def heal_lines(doc):
    """The console summary of the heal report."""
    lines = [f"{doc['host']}: before {_counts_text(doc['counts_before'])}; after {_counts_text(doc['counts_after'])}"
             + (" (check mode)" if doc["check_mode"] else "")]
    for row in doc["findings"]:
        lines.append(f"{row['outcome'].upper().ljust(11)}{row['key']}" + (f": {row['why']}" if row["why"] else ""))
    return [line.replace('"', "'") for line in lines]


def heal_files(name, doc):
    """{<name>.heal.json, <name>.heal.md}."""
    return {f"{name}.heal.json": json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            f"{name}.heal.md": heal_markdown(doc)}
