#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: heal_report
short_description: Write the heal report of one host (fixed, still open, new) on the controller
version_added: 0.2.0
author: hostcare.vps contributors (@hostcare)
description:
  - The last step of the playbook C(hostcare.vps.heal) (see C(docs/heal.md)). Compares the audit before the heal,
    the plan (M(hostcare.vps.heal_plan)) and the audit after it, and writes C(<host>.heal.json) and C(<host>.heal.md)
    into O(dir), per finding C(fixed) (a planned role ran and the audit no longer sees it), C(still_open) (with the
    reason, held back, not healable, or what the role leaves to you), C(new), C(gone) (no longer seen although no role
    ran for it), and the accepted risks (C(ignored)) with their reason.
  - This is an action plugin; it runs on the controller and never connects to the managed host. Files are written
    atomically and only when their content changes.
options:
  dir:
    description: Directory on the controller for the report; created (mode 0755) when missing.
    type: path
    required: true
  before:
    description: The host report of the audit before the heal.
    type: dict
    required: true
  after:
    description: The host report of the audit after the heal.
    type: dict
    required: true
  plan:
    description: The C(plan) M(hostcare.vps.heal_plan) returned.
    type: dict
    required: true
  applied:
    description: Whether the plan was applied (V(false) for a run under C(--check), said so in the report).
    type: bool
    default: true
extends_documentation_fragment:
  - hostcare.vps._attributes.controller
attributes:
  check_mode:
    description: "Builds the report and says which files would change; writes nothing unless the task sets
      C(check_mode: false), as the heal playbook does."
  diff_mode:
    description: Shows no diff of the report.
  platform:
    description: The controller's filesystem.
"""

EXAMPLES = r"""
- name: Write the heal report
  hostcare.vps.heal_report:
    dir: /tmp/audit-reports
    before: "{{ heal_before_report }}"
    after: "{{ audit_host_report.report }}"
    plan: "{{ heal_plan.plan }}"
  check_mode: false
"""

RETURN = r"""
report:
  description:
    - The heal report written as JSON, C(kind) C(heal). C(counts_before) and C(counts_after) (per severity),
      C(outcomes) (per outcome), C(findings) (C([{key, id, outcome, severity, title, role, why}])), C(runs)
      (secrets masked) and C(not_healed) (the plan's entries that were not planned).
  returned: always
  type: dict
summary:
  description: The console summary.
  returned: always
  type: list
  elements: str
paths:
  description: The report files, with their full paths.
  returned: always
  type: list
  elements: str
changed_paths:
  description: The files whose content changed.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._heal_args import HEAL_REPORT_SPEC


def main():
    module = AnsibleModule(argument_spec=HEAL_REPORT_SPEC, supports_check_mode=True)
    module.fail_json(msg="hostcare.vps.heal_report runs on the controller as an action plugin only")


if __name__ == "__main__":
    main()
