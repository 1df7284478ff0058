# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The options of hostcare.vps.audit_report, in one place: the action plugin validates them and the module stub
(which carries the documentation) declares the same spec."""

from __future__ import annotations

ARGUMENT_SPEC = {
    "dir": {"type": "path", "required": True},
    "host": {"type": "str"},
    "swap": {"type": "dict"},
    "disk": {"type": "dict"},
    "docker": {"type": "dict"},
    "postgres": {"type": "list", "elements": "raw"},
    "apps": {"type": "list", "elements": "dict"},
    "cpu_count": {"type": "raw"},  # checked by the action: 1 to 4096
    "thresholds": {"type": "dict", "default": {}},
    "show_ok": {"type": "bool", "default": True},
    "reports": {"type": "list", "elements": "raw"},
    "not_audited": {"type": "list", "elements": "str", "default": []},
    "workload": {"type": "dict"},
    "prometheus": {"type": "bool", "default": False},
    "ignore": {"type": "list", "elements": "raw", "default": []},
}

MUTUALLY_EXCLUSIVE = [("reports", "swap"), ("reports", "disk"), ("reports", "docker"), ("reports", "postgres"),
                      ("reports", "workload")]
"""Fleet mode (reports) or one host's results."""
