# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heal report of one host (<host>.heal.json and <host>.heal.md) on the controller: fixed, still open, new.

A thin shell: the work is in plugins/plugin_utils/_heal_report.py. It never touches the managed host.
"""

from __future__ import annotations

import datetime
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._heal_args import HEAL_REPORT_SPEC
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path
from ansible_collections.hostcare.vps.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_plan import HealError
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_report import build_heal_report, heal_files, heal_lines
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import ReportError


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = HEAL_REPORT_SPEC

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._validated_args()
        try:
            report_dir = absolute_path("dir", os.path.abspath(args["dir"]))
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            doc = build_heal_report(args["before"], args["after"], args["plan"], generated_at=now,
                                    check_mode=not args["applied"])
            files = heal_files(doc["host"], doc)
        except (HealError, ReportError, OptionError) as error:
            raise AnsibleActionFail(f"hostcare.vps.heal_report: {to_text(error)}") from None
        paths = [os.path.join(report_dir, name) for name in sorted(files)]
        changed = [path for path in paths if read_bytes(path) != to_bytes(files[os.path.basename(path)])]
        result.update(changed=bool(changed), paths=paths, changed_paths=changed, report=doc, summary=heal_lines(doc))
        if self._task.check_mode or not changed:
            return result
        try:
            for path in changed:
                write_atomically(path, files[os.path.basename(path)])
        except OSError as error:
            raise AnsibleActionFail(f"hostcare.vps.heal_report: could not write the report in {report_dir}: "
                                    f"{to_text(error)}") from error
        return result
