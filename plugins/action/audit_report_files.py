# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the audit's report files on the controller, in-process.

Three copy/file tasks cost a module round trip each (about 1 s apiece, half the audit's wall time);
this writes them directly. It never touches the managed host.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes, write_atomically


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("dir", "files"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec={
            "dir": {"type": "path", "required": True},
            "files": {"type": "dict", "required": True},
        })[1]
        report_dir = args["dir"]
        files = args["files"]
        for name, content in files.items():
            if os.path.basename(name) != name or name in ("", ".", ".."):
                raise AnsibleActionFail(f"files: {name!r} must be a plain file name, without a directory")
            if not isinstance(content, str):
                raise AnsibleActionFail(f"files: the content of {name!r} must be a string")

        paths = [os.path.join(report_dir, name) for name in sorted(files)]
        changed = [path for path in paths if read_bytes(path) != to_bytes(files[os.path.basename(path)])]
        result.update(changed=bool(changed), paths=paths, changed_paths=changed)
        if self._task.check_mode or not changed:
            return result
        try:
            for path in changed:
                # a reader never sees half a report
                write_atomically(path, files[os.path.basename(path)])
        except OSError as error:
            raise AnsibleActionFail(f"could not write the report in {report_dir}: {to_text(error)}") from error
        return result
