#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_postgres_facts
short_description: Read the settings of the PostgreSQL on a host and in its containers
version_added: 0.1.0
author: hostcare.vps contributors (@hostcare)
description:
  - Runs M(hostcare.vps.pg_settings_facts) on the managed host for the host's own PostgreSQL (as the C(postgres)
    OS user over the local socket) and for every running container whose image name matches O(patterns) (through
    C(docker exec)), and returns every answer, failed ones included (the audit reports them as findings).
  - A container named by an entry of O(connections) is left out here (the audit reads it with that login).
  - This is an action plugin (the choice of containers is made on the controller); the module runs on the host.
    Read-only, also under check mode.
options:
  docker:
    description: The C(hostcare_docker) fact of M(hostcare.vps.docker_bloat_facts), or V(null) (no containers).
    type: raw
  patterns:
    description:
      - Regular expressions (searched, case-insensitive) for the image name of a PostgreSQL container (the last part
        of the repository, without registry, tag or digest).
      - Default C(["^postgres(ql)?$", "postgis", "timescale", "^pgvector$"]).
    type: list
    elements: str
  connections:
    description: The C(audit_postgres_connections) of the audit (only their C(container) keys are read here).
    type: list
    elements: raw
    default: []
  native:
    description:
      - The host's own PostgreSQL already read by M(hostcare.vps.audit_facts) (its C(areas.postgres) result). It is
        returned as the native answer instead of running M(hostcare.vps.pg_settings_facts) again.
      - Not given, the native instance is read here.
    type: raw
attributes:
  action:
    support: full
    description: The choice of instances runs on the controller; M(hostcare.vps.pg_settings_facts) on the host.
  check_mode:
    support: full
    description: Read-only; the same answers under check mode.
  diff_mode:
    support: none
    description: Changes nothing.
  platform:
    support: full
    platforms: posix
    description: Linux hosts.
"""

EXAMPLES = r"""
- name: Read Docker facts
  hostcare.vps.docker_bloat_facts:
  register: audit_docker_result
  failed_when: false

- name: Read PostgreSQL settings (on the host and in its containers)
  hostcare.vps.audit_postgres_facts:
    docker: "{{ audit_docker_result.ansible_facts.hostcare_docker | default(none) }}"
  register: audit_postgres_result

- name: Read the host's facts and its own PostgreSQL in one module run
  hostcare.vps.audit_facts:
  register: host_facts

- name: Read the PostgreSQL of its containers (the host's own is taken from audit_facts)
  hostcare.vps.audit_postgres_facts:
    docker: "{{ host_facts.ansible_facts.hostcare_docker | default(none) }}"
    native: "{{ host_facts.areas.postgres }}"
  register: audit_postgres_result
"""

RETURN = r"""
targets:
  description: The instances asked, C({label, method[, container]}).
  returned: always
  type: list
  elements: dict
postgres_results:
  description: The result of M(hostcare.vps.pg_settings_facts) for each target, with the target as C(item).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec={
            "docker": {"type": "raw"},
            "patterns": {"type": "list", "elements": "str"},
            "connections": {"type": "list", "elements": "raw", "default": []},
            "native": {"type": "raw"},
        },
        supports_check_mode=True,
    )
    module.fail_json(msg="hostcare.vps.audit_postgres_facts runs as an action plugin only")


if __name__ == "__main__":
    main()
