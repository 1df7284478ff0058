#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_facts
short_description: Gather the swap, disk, Docker, workload and PostgreSQL facts of a host in one module run
version_added: 0.2.0
description:
  - Runs the gathering of M(hostcare.vps.swap_facts), M(hostcare.vps.disk_pressure_facts),
    M(hostcare.vps.docker_bloat_facts), M(hostcare.vps.workload_facts) and M(hostcare.vps.pg_settings_facts) for the
    host's own PostgreSQL (local socket) in one module run, with the same options and the same facts, so that
    auditing a fleet costs one round trip per host instead of five. The audit (C(playbooks/audit.yml)) uses it.
  - The options of every area are checked before anything is read; a bad one fails the module and names it,
    for example C(disk.top_n).
  - An area that cannot be gathered does not stop the others; its result in RV(areas) says why, as its own module
    would have failed.
  - Changes nothing. Standard library only (plus C(psutil) for the swap area when it is installed).
author:
  - hostcare.vps contributors (@hostcare)
options:
  areas:
    description: The areas to gather, in this order.
    type: list
    elements: str
    choices: [swap, disk, docker, workload, postgres]
    default: [swap, disk, docker, workload, postgres]
  disk:
    description: The options of M(hostcare.vps.disk_pressure_facts), for example C(scan_paths) or C(time_budget).
    type: dict
  docker:
    description: The options of M(hostcare.vps.docker_bloat_facts), for example C(keep) or C(socket_path).
    type: dict
  workload:
    description: The options of M(hostcare.vps.workload_facts), for example C(time_budget) or C(top).
    type: dict
  postgres:
    description:
      - The options of M(hostcare.vps.pg_settings_facts) that reach the host's own PostgreSQL through its local
        socket as an OS user, C(os_user), C(socket_dir), C(port), C(dbname), C(timeout) and C(fail_on_unavailable).
      - A login with a password or a container goes through M(hostcare.vps.pg_settings_facts) itself, whose
        secret options are kept out of the logs.
    type: dict
extends_documentation_fragment:
  - hostcare.vps._attributes.facts
notes:
  - Linux only. What each area needs (root for some numbers, the Docker socket) is in its own module's notes.
seealso:
  - module: hostcare.vps.swap_facts
  - module: hostcare.vps.disk_pressure_facts
  - module: hostcare.vps.docker_bloat_facts
  - module: hostcare.vps.workload_facts
  - module: hostcare.vps.pg_settings_facts
"""

EXAMPLES = r"""
- name: Gather every area the audit reads
  hostcare.vps.audit_facts:
    disk:
      scan_paths: [/var/log, /srv]
    docker:
      keep: 5
  register: host_facts

- name: Show the biggest memory owner
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hostcare_workload.memory.groups[0] | default('none') }}"

- name: Only swap and disk
  hostcare.vps.audit_facts:
    areas: [swap, disk]
"""

RETURN = r"""
ansible_facts:
  description: The facts of every area gathered, under the names their own modules use.
  returned: always
  type: dict
  contains:
    hostcare_swap:
      description: As returned by M(hostcare.vps.swap_facts).
      returned: when the swap area was asked and could be gathered
      type: dict
    hostcare_disk:
      description: As returned by M(hostcare.vps.disk_pressure_facts).
      returned: when the disk area was asked and could be gathered
      type: dict
    hostcare_docker:
      description: As returned by M(hostcare.vps.docker_bloat_facts).
      returned: when the docker area was asked and could be gathered
      type: dict
    hostcare_workload:
      description: As returned by M(hostcare.vps.workload_facts).
      returned: when the workload area was asked and could be gathered
      type: dict
    hostcare_postgres:
      description: As returned by M(hostcare.vps.pg_settings_facts) for the host's own PostgreSQL.
      returned: when the postgres area was asked and could be gathered
      type: dict
areas:
  description:
    - Per area asked, what its own module would have returned, C(ansible_facts) with its fact, or C(failed) and
      C(msg) saying why it could not be gathered. C(hostcare.vps.audit_report) takes these as they are.
  returned: always
  type: dict
  sample:
    swap: {ansible_facts: {hostcare_swap: {}}}
    docker: {failed: true, msg: "Could not gather Docker facts: ..."}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._audit_facts import AREAS, checked_area_options, gather_areas
from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import run_command_of
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

ARGUMENT_SPEC = {
    "areas": {"type": "list", "elements": "str", "choices": list(AREAS), "default": list(AREAS)},
    "disk": {"type": "dict"},
    "docker": {"type": "dict"},
    "workload": {"type": "dict"},
    "postgres": {"type": "dict"},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        checked = checked_area_options(module.params["areas"], module.params)
    except OptionError as error:
        module.fail_json(msg=str(error))
    areas = gather_areas(checked, run_command_of(module))
    facts = {}
    for result in areas.values():
        facts.update(result.get("ansible_facts") or {})
    module.exit_json(changed=False, ansible_facts=facts, areas=areas)


if __name__ == "__main__":
    main()
