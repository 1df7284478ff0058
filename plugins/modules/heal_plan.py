#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: heal_plan
short_description: Plan which roles of this collection heal the findings of one host's audit report
version_added: 0.2.0
author: hostcare.vps contributors (@hostcare)
description:
  - The planning step of the playbook C(hostcare.vps.heal) (see C(docs/heal.md)). Takes the host report the audit
    returned (M(hostcare.vps.audit_report)) and returns the role runs that heal its findings, each with the role, the
    variables to run it with and the findings it heals, and every other open finding with the reason it is not healed.
  - A run's variables are the audit's (C(evidence.role_vars) and the evidence of each finding), merged in finding-id
    order; the parts of a role no planned finding asks for are turned off (the logrotate role leaves C(daemon.json)
    alone when it only heals the journal). Two findings asking one variable for different values is a conflict,
    reported on the second finding, which is not healed. O(role_vars) wins over both.
  - Fixes of risk C(dangerous) and PostgreSQL settings that take effect only after a restart are held back unless
    O(allow_restart=true). Accepted risks (C(ignored) in the report, from C(audit_ignore)) are never healed.
  - This is an action plugin; it runs on the controller, reads the roles' C(meta/argument_specs.yml) and
    C(defaults/main.yml), and never connects to the managed host. It changes nothing.
options:
  report:
    description:
      - The host report (the C(report) M(hostcare.vps.audit_report) returned for this host).
      - Exactly one of O(report) and O(report_file).
    type: dict
  report_file:
    description:
      - Absolute path, on the controller, of a host report the audit wrote earlier (C(<report_dir>/<host>.json)), to
        plan from it instead of a fresh audit. It must be this host's report (its C(host) is the inventory name).
      - Exactly one of O(report) and O(report_file).
    type: path
  role_vars:
    description:
      - "Overrides, C({role: {variable: value}}); a role as C(swap) or C(hostcare.vps.swap). Each variable must be
        an option of the role's C(meta/argument_specs.yml); an unknown one fails naming the closest known one."
    type: dict
    default: {}
  include:
    description: Heal only the findings with these ids (empty heals every healable finding).
    type: list
    elements: str
    default: []
  exclude:
    description: Never heal the findings with these ids.
    type: list
    elements: str
    default: []
  allow_restart:
    description: Also heal fixes that restart a service or can cause downtime (risk C(dangerous), a PostgreSQL restart).
    type: bool
    default: false
extends_documentation_fragment:
  - hostcare.vps._attributes.controller
attributes:
  check_mode:
    description: Changes nothing in any mode.
  diff_mode:
    description: Shows no diff.
"""

EXAMPLES = r"""
- name: Plan the heal of this host
  hostcare.vps.heal_plan:
    report: "{{ audit_host_report.report }}"
    role_vars:
      swap:
        hostcare_swap_file: /srv/swapfile
    exclude: [docker.old_tags]
  register: heal_plan

- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ heal_plan.summary }}"
"""

RETURN = r"""
plan:
  description:
    - The plan. C(runs) (C([{role, instance, vars, findings, overridden}]), in the order they run), C(findings)
      (C([{key, id, severity, title, risk, role, status, why, vars}]), status one of C(planned), C(held_back),
      C(conflict), C(not_healable), C(skipped), C(ignored)), C(counts) per status.
  returned: always
  type: dict
report:
  description: The host report the plan was made from (O(report), or the one read from O(report_file)).
  returned: always
  type: dict
summary:
  description: The plan on the console (secrets masked).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._heal_args import HEAL_PLAN_ONE_REPORT, HEAL_PLAN_SPEC


def main():
    module = AnsibleModule(argument_spec=HEAL_PLAN_SPEC, mutually_exclusive=HEAL_PLAN_ONE_REPORT,
                           required_one_of=HEAL_PLAN_ONE_REPORT, supports_check_mode=True)
    module.fail_json(msg="hostcare.vps.heal_plan runs on the controller as an action plugin only")


if __name__ == "__main__":
    main()
