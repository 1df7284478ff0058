#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_report
short_description: Build the audit's findings and reports on the controller
version_added: 0.1.0
author: hostcare.vps contributors (@hostcare)
description:
  - The one entry point of the read-only audit (playbook C(hostcare.vps.audit)). Takes the registered results of the
    fact modules of one host, runs every audit rule (the same as the P(hostcare.vps.audit_findings#filter) filter),
    writes C(<host>.json) and C(<host>.md) into O(dir) on the controller, and returns the console summary.
  - A fact module that failed still becomes a finding (C(facts.<source>_unavailable)) saying what could not be
    checked and why.
  - With O(reports) it writes the fleet summary instead (C(fleet.json), C(fleet.md)) from the host reports of the play.
  - This is an action plugin; it runs on the controller and never connects to the managed host. Files are written
    atomically and only when their content changes.
  - The JSON report is described by C(docs/audit-report.schema.json) (C(format_version) 2).
options:
  dir:
    description: Directory on the controller for the reports; created (mode 0755) when missing.
    type: path
    required: true
  host:
    description: The host name the report is for and its files are named after; default C(inventory_hostname).
    type: str
  swap:
    description: The registered result of M(hostcare.vps.swap_facts).
    type: dict
  disk:
    description: The registered result of M(hostcare.vps.disk_pressure_facts).
    type: dict
  docker:
    description: The registered result of M(hostcare.vps.docker_bloat_facts); absent means Docker is not audited.
    type: dict
  postgres:
    description:
      - The results of M(hostcare.vps.pg_settings_facts), one per instance, each with the C(item) it was called with
        (the C(postgres_results) of M(hostcare.vps.audit_postgres_facts), the C(results) of a registered loop).
        Passwords and URIs in the items are never copied into the report.
      - Absent means PostgreSQL is not audited.
    type: list
    elements: raw
  apps:
    description: The apps of C(audit_apps) (see C(docs/audit.md)), checked against PostgreSQL's connections.
    type: list
    elements: dict
  cpu_count:
    description: The CPU count the apps are sized for, 1 to 4096.
    type: raw
  thresholds:
    description: Overrides of the audit thresholds (C(docs/audit.md)); each is checked (finite, in range).
    type: dict
    default: {}
  show_ok:
    description: List the passed checks in the console summary (else only their number).
    type: bool
    default: true
  reports:
    description:
      - Fleet mode. The host reports (the C(report) this action returned for each host) to summarise.
      - Mutually exclusive with O(swap), O(disk), O(docker) and O(postgres).
    type: list
    elements: raw
  not_audited:
    description: Fleet mode. The hosts that could not be audited.
    type: list
    elements: str
    default: []
  workload:
    description:
      - The registered result of M(hostcare.vps.workload_facts) (memory owners, containers' limits and restarts,
        systemd units, the apps' pool variables); absent means the workload is not audited.
      - The apps it discovers are checked by C(apps.pool) beside those of O(apps); an entry of O(apps) with the
        same name overrides the discovered numbers.
      - Mutually exclusive with O(reports).
    type: dict
  prometheus:
    description:
      - Also return the host report as the text of a Prometheus node_exporter textfile (RV(prometheus_text)); the
        action writes nothing more (the audit playbook writes it on the audited host when
        C(audit_prometheus_textfile) is set). The metrics are listed in C(docs/audit.md).
      - Not in fleet mode (O(reports)).
    type: bool
    default: false
  ignore:
    description:
      - Accepted risks (C(audit_ignore) of the audit playbook), each a dict with C(id) (the finding id, required),
        C(reason) (required, not empty), C(expires) (C(YYYY-MM-DD), optional; the last day the acceptance holds),
        and optionally C(instance), C(container), C(path), C(unit) or C(app) to accept the finding only when that
        is all it names (its C(evidence)).
      - An accepted finding is listed apart (C(ignored) in the report, with its reason and expiry), is not counted
        in the severities and is never healed. From the day after C(expires) it counts again and says so.
      - Every entry is checked first; an unknown key or a missing reason fails the task naming the entry.
      - Mutually exclusive with O(reports).
    type: list
    elements: raw
    default: []
extends_documentation_fragment:
  - hostcare.vps._attributes.controller
attributes:
  check_mode:
    description: "Builds the report and says which files would change; writes nothing unless the task sets
      C(check_mode: false), as the audit playbook does."
  diff_mode:
    description: Shows no diff of the reports.
  platform:
    description: The controller's filesystem.
"""

EXAMPLES = r"""
- name: Read memory and swap facts
  hostcare.vps.swap_facts:
  register: audit_swap_result
  failed_when: false

- name: Read disk pressure facts
  hostcare.vps.disk_pressure_facts:
  register: audit_disk_result
  failed_when: false

- name: Build the findings and write the report
  hostcare.vps.audit_report:
    dir: /tmp/audit-reports
    swap: "{{ audit_swap_result }}"
    disk: "{{ audit_disk_result }}"
    thresholds:
      disk_warning_percent: 80
  check_mode: false
  register: audit_host_report

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ audit_host_report.summary }}"
"""

RETURN = r"""
report:
  description: The report document written as JSON (host report, or fleet summary in fleet mode).
  returned: always
  type: dict
summary:
  description: The console summary, most severe first.
  returned: always
  type: list
  elements: str
paths:
  description: The report files, with their full paths.
  returned: always
  type: list
  elements: str
changed_paths:
  description: The files whose content changed (written, or that would be written in check mode).
  returned: always
  type: list
  elements: str
prometheus_text:
  description: The host report as a Prometheus textfile (C(hostcare_*) gauges, no timestamps).
  returned: when O(prometheus=true)
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._audit_report_args import ARGUMENT_SPEC, MUTUALLY_EXCLUSIVE


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, supports_check_mode=True)
    module.fail_json(msg="hostcare.vps.audit_report runs on the controller as an action plugin only")


if __name__ == "__main__":
    main()
