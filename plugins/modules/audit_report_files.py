#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_report_files
short_description: Write audit report files on the controller
version_added: 0.1.0
author: hostcare.vps contributors (@hostcare)
description:
  - Writes text files into a directory on the Ansible controller, atomically, and only those whose content
    differs. Used by the C(hostcare.vps.audit) playbook to write C(<host>.json), C(<host>.md) and the fleet summary.
  - This is an action plugin; it runs on the controller and never connects to the managed host.
  - "In check mode nothing is written unless the task sets C(check_mode: false), as the audit playbook does."
options:
  dir:
    description: Directory on the controller; created (mode 0755) when missing.
    type: path
    required: true
  files:
    description: File name (no directory part) mapped to the file's text content.
    type: dict
    required: true
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: full
    description: Reports which files would change and writes nothing.
  diff_mode:
    support: none
    description: Shows no diff of the reports.
  platform:
    support: full
    platforms: posix
    description: The controller's filesystem.
"""

EXAMPLES = r"""
- name: Write a report
  hostcare.vps.audit_report_files:
    dir: ./audit-reports
    files:
      web1.md: "# Audit report: web1\n"
"""

RETURN = r"""
paths:
  description: Every file of O(files), with its full path.
  returned: always
  type: list
  elements: str
changed_paths:
  description: The files whose content changed (written, or that would be written in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={"dir": {"type": "path", "required": True}, "files": {"type": "dict", "required": True}},
        supports_check_mode=True,
    )
    module.fail_json(msg="hostcare.vps.audit_report_files runs on the controller as an action plugin only")


if __name__ == "__main__":
    main()
