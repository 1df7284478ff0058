#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: workload_facts
short_description: Gather who uses the memory, what keeps restarting and the apps' pool variables
version_added: 0.2.0
description:
  - Reads every process of C(/proc) and groups its memory by owner, a Docker container, a systemd unit, a
    supervisord program, a pm2 app, or else the process name; PSS and swap come from C(smaps_rollup) where it is
    readable, RSS otherwise. Lists the processes in uninterruptible sleep (D state) and the zombies, and the load
    against the CPUs.
  - Asks the Docker Engine API (read-only) for every container's memory and swap limits, restart count and
    policy, whether it is restarting now, OOM kills, last start and finish, exit code and C(/dev/shm) size, and
    reads its memory usage from its cgroup.
  - Where systemd runs, lists the failed units and the units systemd restarted (C(NRestarts) > 0).
  - Discovers the apps' pool sizes from the containers' environment and from the systemd units that run Puma,
    Rails or Sidekiq (C(Environment=), C(EnvironmentFile=), a C(.env) file in C(WorkingDirectory)). Only
    C(WEB_CONCURRENCY), C(RAILS_MAX_THREADS), C(RAILS_MIN_THREADS), C(DB_POOL), C(DATABASE_POOL),
    C(SIDEKIQ_CONCURRENCY) and C(DATABASE_URL) are read; C(DATABASE_URL) is returned without its password and
    without any query parameter but C(pool). No other environment value and no command line is returned.
  - Returns them as the C(hostcare_workload) fact. Changes nothing. Standard library only.
author:
  - hostcare.vps contributors (@hostcare)
options:
  time_budget:
    description:
      - Seconds reading the processes may take, more than 0 and at most 3600. The last 30% of it is kept for
        PSS; when it runs out, C(processes.complete) is V(false) in the facts.
    type: raw
    default: 5
  top:
    description: How many of the biggest memory owners to return. A whole number from 1 to 1000.
    type: raw
    default: 10
  pss:
    description: Read PSS and swap from C(/proc/<pid>/smaps_rollup) (biggest processes first, within the budget).
    type: bool
    default: true
  docker:
    description: Ask the Docker daemon about its containers. Without Docker the facts say why.
    type: bool
    default: true
  systemd:
    description: Ask systemd about failed and restarted units (only where systemd is the init system).
    type: bool
    default: true
  socket_path:
    description:
      - Absolute path of the Docker daemon's unix socket. A C(DOCKER_HOST) URL is refused.
    type: path
    default: /var/run/docker.sock
    aliases: [socket]
  timeout:
    description: Seconds one request to the Docker daemon may take, more than 0 and at most 3600.
    type: raw
    default: 60
extends_documentation_fragment:
  - hostcare.vps._attributes.facts
notes:
  - Linux only. Without root, other users' PSS and C(EnvironmentFile=) files may be unreadable (RSS is used) and
    the Docker socket may be refused (the facts say so).
"""

EXAMPLES = r"""
- name: Gather the workload facts
  hostcare.vps.workload_facts:
    time_budget: 2
  become: true

- name: Show the biggest memory owners
  ansible.builtin.debug:
    msg: "{{ item.kind }} {{ item.name }}: {{ item.memory_bytes | ansible.builtin.human_readable }}"
  loop: "{{ ansible_facts.hostcare_workload.groups }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    hostcare_workload:
      description: Memory owners, containers, systemd units and app variables (docs/facts.md describes every key).
      returned: always
      type: dict
      contains:
        memory:
          description: MemTotal, MemAvailable, SwapTotal and SwapFree in bytes.
          type: dict
          returned: always
        cpu_count:
          description: CPUs this process may run on.
          type: int
          returned: always
        load:
          description: The load averages (load1, load5, load15), null when unreadable.
          type: dict
          returned: always
        processes:
          description: Processes seen and read, whether the budget sufficed, D-state and zombie processes.
          type: dict
          returned: always
        groups:
          description: The biggest memory owners (kind, name, processes, rss_bytes, pss_bytes, memory_bytes, share_percent).
          type: list
          elements: dict
          returned: always
        measured:
          description: Memory of all owners (total_bytes), of PostgreSQL (postgres_bytes) and of everything else.
          type: dict
          returned: always
        docker:
          description: available, reason and the containers (limits, usage, restarts, shm, app_variables).
          type: dict
          returned: always
        systemd:
          description: available, reason, failed units, restarted units and app units.
          type: dict
          returned: always
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import exit_with_facts, run_command_of
from ansible_collections.hostcare.vps.plugins.module_utils._workload import ARGUMENT_SPEC, checked_options, gather_workload_facts


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_command = run_command_of(module)
    exit_with_facts(module, "hostcare_workload", "workload",
                    lambda options: gather_workload_facts(run_command, **options), check=checked_options)


if __name__ == "__main__":
    main()
