# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The options of hostcare.vps.heal_plan and hostcare.vps.heal_report, in one place: the action plugins validate
them and the module stubs (which carry the documentation) declare the same specs."""

from __future__ import annotations

HEAL_PLAN_SPEC = {
    "report": {"type": "dict"},
    "report_file": {"type": "path"},
    "role_vars": {"type": "dict", "default": {}},
    "include": {"type": "list", "elements": "str", "default": []},
    "exclude": {"type": "list", "elements": "str", "default": []},
    "allow_restart": {"type": "bool", "default": False},
}

HEAL_PLAN_ONE_REPORT = [("report", "report_file")]
"""Exactly one of them: the report the audit just returned, or one it wrote earlier."""

HEAL_REPORT_SPEC = {
    "dir": {"type": "path", "required": True},
    "before": {"type": "dict", "required": True},
    "after": {"type": "dict", "required": True},
    "plan": {"type": "dict", "required": True},
    "applied": {"type": "bool", "default": True},
}
