# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""systemd checks of the audit on ``facts["workload"]["systemd"]`` (hostcare.vps.workload_facts): failed units,
and units systemd keeps restarting (a crash loop that ``systemctl --failed`` does not show while it restarts).

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import systemd_diagnose_command


def _systemd(facts):
    return core.as_dict(core.as_dict(facts.get("workload")).get("systemd"))


def restarting_now(unit):
    """systemd waits to start the unit again (Restart=) or is starting it."""
    return unit.get("sub_state") == "auto-restart" or unit.get("active_state") == "activating"


@rule("systemd.failed_units", needs=("workload",))
def rule_systemd_failed_units(facts, limits):
    """Units in the failed state -> one warning listing them."""
    units = [unit for unit in core.as_list(_systemd(facts).get("failed")) if unit.get("unit")]
    if not units:
        return []
    names = [str(unit["unit"]) for unit in units]
    rows = [{"unit": unit["unit"], "result": unit.get("result"), "exit_status": unit.get("exit_status"),
             "exited_at": unit.get("exited_at")} for unit in units]
    return [core.make_finding(
        "systemd.failed_units", "warning", f"{core.plural(len(names), 'failed systemd unit')}: {', '.join(names[:5])}",
        f"systemd lists {core.plural(len(names), 'unit')} as failed: "
        + ", ".join(f"{row['unit']} ({row['result']}, exit {row['exit_status']})" for row in rows[:10]) + ".",
        evidence={"units": rows},
        recommendation=("See why with the read-only commands below; once fixed, start it again, or clear the state "
                        "of a unit that is not needed any more with systemctl reset-failed <unit>."),
        command="\n".join(systemd_diagnose_command(name) for name in names[:3]))]


@rule("systemd.restart_loop", needs=("workload",))
def rule_systemd_restart_loop(facts, limits):
    """A unit systemd restarted restart_loop_count times or more -> warning; restarting now -> critical."""
    findings = []
    for unit in core.as_list(_systemd(facts).get("restarted")):
        count = core.as_number(unit.get("restarts")) or 0
        now = restarting_now(unit)
        if count < limits["restart_loop_count"] and not (now and count >= 1):
            continue
        name = str(unit.get("unit"))
        findings.append(core.make_finding(
            "systemd.restart_loop", "critical" if now else "warning",
            f"systemd unit {name} {'is restarting in a loop' if now else 'keeps restarting'} "
            f"({core.plural(count, 'restart')})",
            f"systemd restarted {name} {core.plural(count, 'time')} since it was started; it is {unit.get('active_state')}"
            f" ({unit.get('sub_state')}), last exit status {unit.get('exit_status')} at {unit.get('exited_at')}.",
            evidence={"unit": name, "restarts": count, "restarting_now": now, "active_state": unit.get("active_state"),
                      "sub_state": unit.get("sub_state"), "result": unit.get("result"),
                      "exit_status": unit.get("exit_status"), "exited_at": unit.get("exited_at")},
            recommendation="See why it stops with the read-only commands below (its journal); fix the cause.",
            command=systemd_diagnose_command(name)))
    return findings
