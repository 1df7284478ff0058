# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse the variables with a role's prefix that the role does not know, and bad values, before anything changes.

The first task of every role of this collection. The known names come from the role's meta/argument_specs.yml (the
one list, also what ansible-doc shows and Ansible's own type validation uses); the names to check are the keys of
task_vars. Runs on the controller, never connects to the host.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail

from ansible_collections.hostcare.vps.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.hostcare.vps.plugins.plugin_utils._role_variables import (
    argument_spec_options,
    other_role_prefixes,
    role_prefix,
    role_value_check,
    role_value_errors,
    unknown_role_variables,
)


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = {
        "outputs": {"type": "list", "elements": "str", "default": []},
        "entry_point": {"type": "str"},
    }

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self._validated_args()
        role = self._task._role
        role_path = task_vars.get("role_path")
        if role is None or not role_path:
            raise AnsibleActionFail("hostcare.vps.check_role_variables runs only as a task of a role")
        roles_dir, role_name = os.path.split(role_path.rstrip("/"))
        entry_point = args["entry_point"] or getattr(role, "_from_files", {}).get("tasks", "main")
        try:
            known = argument_spec_options(self._argument_specs(role_path), entry_point)
        except ValueError as error:
            raise AnsibleActionFail(f"hostcare.vps.{role_name}: {error}") from None

        prefix = role_prefix(role_name)
        siblings = [name for name in os.listdir(roles_dir) if os.path.isdir(os.path.join(roles_dir, name))]
        problems = unknown_role_variables(task_vars, prefix, known, args["outputs"],
                                          other_role_prefixes(prefix, siblings))
        if not problems and role_value_check(role_name):
            # Templated only for a role with a value check: the others' values are their modules' to check.
            values = self._templar.template({name: task_vars[name] for name in known if name in task_vars})
            problems = role_value_errors(role_name, values)
        result.update(changed=False, role=role_name)
        if not problems:
            result["known"] = known
        else:
            text = "; ".join(problems)
            result.update(failed=True, problems=problems,
                          msg=f"hostcare.vps.{role_name}: {text}{'' if text.endswith('?') else '.'} Nothing was changed.")
        return result

    def _argument_specs(self, role_path):
        """The ``argument_specs`` mapping of meta/argument_specs.yml (or .yaml, or of meta/main.yml)."""
        for name in ("argument_specs.yml", "argument_specs.yaml", "main.yml", "main.yaml"):
            path = os.path.join(role_path, "meta", name)
            if os.path.isfile(path):
                data = self._loader.load_from_file(path) or {}
                if isinstance(data, dict) and "argument_specs" in data:
                    return data["argument_specs"]
        return None
