# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heal's plan for one host: its audit report in, the role runs (role, variables, findings) out.

A thin shell: the decisions are in plugins/plugin_utils/_heal_plan.py. It reads the roles' meta/argument_specs.yml
(to check heal_role_vars) and defaults/main.yml of this collection on the controller; it never touches the host.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._heal_args import HEAL_PLAN_ONE_REPORT, HEAL_PLAN_SPEC
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path
from ansible_collections.hostcare.vps.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_plan import (
    ROLE_ORDER,
    HealError,
    plan_heal,
    plan_lines,
    report_from_file_text,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import ReportError
from ansible_collections.hostcare.vps.plugins.plugin_utils._role_variables import argument_spec_options

ROLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles")


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = HEAL_PLAN_SPEC
    MUTUALLY_EXCLUSIVE = HEAL_PLAN_ONE_REPORT
    REQUIRED_ONE_OF = HEAL_PLAN_ONE_REPORT

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._validated_args()
        options, defaults = {}, {}
        try:
            report = args["report"]
            if args["report_file"] is not None:
                report = self._report_from_file(args["report_file"], (task_vars or {}).get("inventory_hostname"))
            for role in ROLE_ORDER:
                path = os.path.join(ROLES_DIR, role.rsplit(".", 1)[-1])
                specs = self._loader.load_from_file(os.path.join(path, "meta", "argument_specs.yml")) or {}
                options[role] = argument_spec_options(specs.get("argument_specs"))
                defaults[role] = self._loader.load_from_file(os.path.join(path, "defaults", "main.yml")) or {}
            plan = plan_heal(report, options, overrides=args["role_vars"], include=args["include"],
                             exclude=args["exclude"], allow_restart=args["allow_restart"], role_defaults=defaults)
        except (HealError, ReportError, OptionError, ValueError) as error:
            raise AnsibleActionFail(f"hostcare.vps.heal_plan: {to_text(error)}. Nothing was changed.") from None
        result.update(changed=False, plan=plan, report=report,
                      summary=plan_lines(plan, check_mode=bool(self._task.check_mode)))
        return result

    @staticmethod
    def _report_from_file(path, host):
        """The report of ``host`` saved at ``path`` on the controller (the audit's <report_dir>/<host>.json)."""
        path = absolute_path("report_file", path, written=False)
        data = read_bytes(path)
        if data is None:
            raise HealError(f"report_file: {path} does not exist or cannot be read; run the audit first "
                            "(playbooks/audit.yml) or give its report_dir")
        return report_from_file_text(to_text(data, errors="surrogate_or_strict"), host, path)
