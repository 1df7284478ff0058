#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: prometheus_textfile
short_description: Write a Prometheus node_exporter textfile atomically, or check where it would go
version_added: 0.1.0
author: hostcare.vps contributors (@hostcare)
description:
  - Writes O(content) to O(path), a C(*.prom) file in the directory node_exporter's textfile collector reads
    (C(--collector.textfile.directory)), with mode 0644, through a temporary file in the same directory whose name
    does not end in C(.prom), then a rename; node_exporter never sees a half-written file. Unchanged content and
    mode are not rewritten.
  - Without O(content) it only checks O(path) and writes nothing; the audit playbook does that before it reads
    anything, so that a wrong path stops it at once.
  - O(path) must be absolute, end in C(.prom), and its directory must exist (it is never created). Every refusal
    names O(path) (or O(path_name)) and writes nothing.
  - Used by the audit playbook for C(audit_prometheus_textfile); the text comes from M(hostcare.vps.audit_report)
    with C(prometheus=true).
options:
  path:
    description: The file to write, an absolute path ending in C(.prom), in a directory that exists.
    type: path
    required: true
  content:
    description:
      - The text to write (Prometheus text format), ending with a newline.
      - Absent, O(path) is only checked.
    type: str
  path_name:
    description: The name refusals give O(path) (the audit playbook passes C(audit_prometheus_textfile)).
    type: str
    default: path
attributes:
  check_mode:
    support: full
    description: Checks the path and says whether the file would change; writes nothing.
  diff_mode:
    support: full
    description: Shows the file before and after.
  platform:
    support: full
    platforms: posix
    description: The audited host's filesystem.
"""

EXAMPLES = r"""
- name: Build the report and its Prometheus text
  hostcare.vps.audit_report:
    dir: /tmp/audit-reports
    swap: "{{ audit_swap_result }}"
    disk: "{{ audit_disk_result }}"
    prometheus: true
  check_mode: false
  register: audit_host_report

- name: Write it where node_exporter reads it
  hostcare.vps.prometheus_textfile:
    path: /var/lib/prometheus/node-exporter/hostcare.prom
    content: "{{ audit_host_report.prometheus_text }}"
"""

RETURN = r"""
path:
  description: The file.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/hostcare.prom
written:
  description: Whether the file was written (V(false) without O(content), in check mode, or when unchanged).
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._prometheus_textfile import (
    TEXTFILE_MODE,
    check_name,
    check_textfile_content,
    check_textfile_directory,
    check_textfile_path,
)
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str"},
    "path_name": {"type": "str", "default": "path"},
}


def _mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        name = check_name("path_name", params["path_name"])
        path = check_textfile_path(name, params["path"])
        check_textfile_directory(name, path)
        content = None if params["content"] is None else check_textfile_content("content", params["content"])
    except OptionError as exc:
        module.fail_json(msg=f"hostcare.vps.prometheus_textfile: {exc}. Nothing was written.")
    if content is None:
        module.exit_json(changed=False, path=path, written=False)
    before = read_bytes(path)
    changed = before != to_bytes(content) or _mode(path) != TEXTFILE_MODE
    if changed and not module.check_mode:
        try:
            write_atomically(path, content, mode=TEXTFILE_MODE)  # a plain rename: the new file has mode 0644
        except OSError as exc:
            module.fail_json(msg=f"hostcare.vps.prometheus_textfile: could not write {path}: {to_text(exc)}. "
                                 "The previous file, if any, is unchanged.")
    diff = {"before_header": path, "after_header": path, "before": to_text(before or b""), "after": content}
    module.exit_json(changed=changed, path=path, written=changed and not module.check_mode,
                     diff=diff if changed else {})


if __name__ == "__main__":
    main()
