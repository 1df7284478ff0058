# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write the audit's report files on the controller, in-process.

Three copy/file tasks cost a module round trip each (about 1 s apiece, half the audit's wall time);
this writes them directly. It never touches the managed host.
"""

from __future__ import annotations

import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase


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
        changed = [path for path in paths if _read(path) != to_bytes(files[os.path.basename(path)])]
        result.update(changed=bool(changed), paths=paths, changed_paths=changed)
        if self._task.check_mode or not changed:
            return result
        try:
            os.makedirs(report_dir, mode=0o755, exist_ok=True)
            for path in changed:
                _write_atomically(path, to_bytes(files[os.path.basename(path)]))
        except OSError as error:
            raise AnsibleActionFail(f"could not write the report in {report_dir}: {to_text(error)}") from error
        return result


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _write_atomically(path, data):
    """Write to a temporary file beside path, then rename: a reader never sees half a report."""
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".hostcare-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
