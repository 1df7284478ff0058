# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the PostgreSQL settings of the host and of its PostgreSQL containers: hostcare.vps.pg_settings_facts run on
the managed host for each instance the audit finds (plugins/plugin_utils/_audit_pg_instances.postgres_targets).

Which containers run PostgreSQL is a decision, so it is made here in Python, not in the playbook's Jinja.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import NATIVE_LABEL, postgres_targets

ARGUMENT_SPEC = {
    "docker": {"type": "raw"},
    "patterns": {"type": "list", "elements": "str"},
    "connections": {"type": "list", "elements": "raw", "default": []},
    "native": {"type": "raw"},
}
MODULE = "hostcare.vps.pg_settings_facts"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        docker = args["docker"]
        if docker is not None and not isinstance(docker, dict):
            raise AnsibleActionFail(f"docker: expected the hostcare_docker fact (a dict) or null, got "
                                    f"{type(docker).__name__}")
        for pattern in args["patterns"] or []:
            try:
                re.compile(pattern)
            except re.error as error:
                raise AnsibleActionFail(f"patterns: {pattern!r} is not a valid regular expression: {error}") from None
        native = args["native"]
        if native is not None and not isinstance(native, dict):
            raise AnsibleActionFail(f"native: expected the result of the host's own PostgreSQL read by "
                                    f"hostcare.vps.audit_facts (a dict) or null, got {type(native).__name__}")
        targets = postgres_targets(docker, patterns=args["patterns"], connections=args["connections"])
        answers = []
        try:
            for target in targets:
                if native is not None and target["label"] == NATIVE_LABEL:
                    answers.append(dict(native, item=target))  # already read, in the same module run as the facts
                    continue
                module_args = {key: target[key] for key in ("method", "container") if key in target}
                answer = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
                answer["item"] = target  # as a registered loop item: the label names the instance in the findings
                answers.append(answer)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        # "postgres_results", not "results": Ansible would read a "results" list as loop items and fail the task
        # when one instance failed, but a failed instance is a finding, not a failed audit.
        result.update(changed=False, postgres_results=answers, targets=targets)
        return result
