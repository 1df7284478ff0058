#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: swap_facts
short_description: Gather memory, swap, zram and container memory-limit facts
version_added: 0.1.0
description:
  - Reads memory and swap totals, the active swap areas, the swap lines of C(/etc/fstab), the swap-related
    C(vm.*) sysctls, zram devices, memory pressure (PSI) and the OOM-kill counter.
  - Detects whether the host is a container and reads its cgroup memory and swap limits, because
    C(/proc/meminfo), C(/proc/swaps), PSI and the OOM-kill counter show the B(host's) numbers inside
    most containers.
  - Returns them as the C(hostcare_swap) fact. Sizes are in bytes; a value the host cannot provide is V(null).
  - Uses C(psutil) for the memory and swap totals when it is installed on the target, else C(/proc/meminfo).
author:
  - hostcare.vps contributors (@hostcare)
options: {}
extends_documentation_fragment:
  - hostcare.vps._attributes.facts
notes:
  - Linux only. Needs no privileges, but the container runtime may stay unknown when C(/proc/1/environ) is unreadable.
seealso:
  - name: PSI - Pressure Stall Information
    description: What the C(psi) averages and totals mean.
    link: https://docs.kernel.org/accounting/psi.html
"""

EXAMPLES = r"""
- name: Gather swap facts
  hostcare.vps.swap_facts:

- name: Warn when a host with less than 2 GiB of RAM has no swap
  ansible.builtin.debug:
    msg: >-
      {{ inventory_hostname }} has {{ ansible_facts.hostcare_swap.memory.total_bytes | ansible.builtin.human_readable }}
      of RAM and no swap
  when:
    - ansible_facts.hostcare_swap.swap.total_bytes == 0
    - ansible_facts.hostcare_swap.memory.total_bytes < 2 * 1024 ** 3
    - not ansible_facts.hostcare_swap.container.detected

- name: Show the memory limit of a container (null when unlimited)
  ansible.builtin.debug:
    var: ansible_facts.hostcare_swap.container.memory_limit_bytes

# To gather these facts with every fact gathering, set in the inventory:
#   ansible_facts_modules: [ansible.builtin.setup, hostcare.vps.swap_facts]
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    hostcare_swap:
      description: Memory, swap, zram and container memory facts of the target.
      returned: always
      type: dict
      contains:
        source:
          description: Where the memory and swap totals come from, V(psutil) when it was importable, else V(proc).
          returned: always
          type: str
          choices: [psutil, proc]
          sample: proc
        memory:
          description:
            - Memory totals from C(/proc/meminfo). Inside a container without lxcfs these are the host's;
              see RV(ansible_facts.hostcare_swap.container.memory_limit_bytes).
          returned: always
          type: dict
          contains:
            total_bytes:
              description: C(MemTotal).
              returned: always
              type: int
              sample: 2062372864
            available_bytes:
              description: C(MemAvailable); V(null) on kernels before 3.14.
              returned: always
              type: int
              sample: 1314271232
            free_bytes:
              description: C(MemFree).
              returned: always
              type: int
              sample: 151937024
        container:
          description: Container detection and the cgroup memory limits that apply to the module's process.
          returned: always
          type: dict
          contains:
            detected:
              description: Whether the target runs inside a container (docker, podman, LXC, Kubernetes, OpenVZ, systemd-nspawn...).
              returned: always
              type: bool
              sample: false
            runtime:
              description: The container runtime; V(null) when not a container or not recognised.
              returned: always
              type: str
              choices: [docker, podman, lxc, kubernetes, containerd]
              sample: docker
            cgroup_version:
              description: Version of the cgroup hierarchy holding the memory controller; V(null) when none is mounted.
              returned: always
              type: int
              choices: [1, 2]
              sample: 2
            memory_limit_bytes:
              description:
                - The smallest memory limit on the process's cgroup path (C(memory.max) or C(memory.limit_in_bytes)).
                - V(null) when unlimited (V(max), or the cgroup v1 sentinel 9223372036854771712) or unknown.
              returned: always
              type: int
              sample: 536870912
            memory_usage_bytes:
              description:
                - Memory used by the cgroup that sets that limit, else by the top visible cgroup
                  (C(memory.current) or C(memory.usage_in_bytes)). V(null) when unknown.
              returned: always
              type: int
              sample: 187432960
            swap_limit_bytes:
              description:
                - Swap the cgroup may use, C(memory.swap.max) (v2) or C(memory.memsw.limit_in_bytes) minus the
                  memory limit (v1). V(null) when unlimited or unknown.
              returned: always
              type: int
              sample: 536870912
        swap:
          description: Swap totals from C(/proc/meminfo) (the host's inside most containers).
          returned: always
          type: dict
          contains:
            total_bytes:
              description: C(SwapTotal).
              returned: always
              type: int
              sample: 3221221376
            used_bytes:
              description: C(SwapTotal) minus C(SwapFree).
              returned: always
              type: int
              sample: 268435456
            free_bytes:
              description: C(SwapFree).
              returned: always
              type: int
              sample: 2952785920
        areas:
          description: Every active swap area, as listed in C(/proc/swaps).
          returned: always
          type: list
          elements: dict
          contains:
            path:
              description: Path of the swap file or device.
              returned: always
              type: str
              sample: /swapfile
            type:
              description: V(file) or V(partition), as C(/proc/swaps) says.
              returned: always
              type: str
              sample: file
            size_bytes:
              description: Size of the area.
              returned: always
              type: int
              sample: 2147479552
            used_bytes:
              description: Swap in use on the area.
              returned: always
              type: int
              sample: 268435456
            priority:
              description: Swap priority; negative when the kernel chose it.
              returned: always
              type: int
              sample: -2
            zram:
              description: Whether the area is a zram device (C(/dev/zramN)).
              returned: always
              type: bool
              sample: false
        fstab:
          description: Every uncommented swap line of C(/etc/fstab), in file order (duplicates included).
          returned: always
          type: list
          elements: dict
          contains:
            source:
              description: First field as written, for example C(/swapfile) or C(UUID=...).
              returned: always
              type: str
              sample: /swapfile
            options:
              description: Mount options of the line.
              returned: always
              type: list
              elements: str
              sample: [sw, pri=10]
            priority:
              description: Value of the C(pri=) option; V(null) without one.
              returned: always
              type: int
              sample: 10
            active:
              description:
                - Whether the line matches an entry of RV(ansible_facts.hostcare_swap.areas) (by path, or
                  C(UUID=), C(LABEL=), C(PARTUUID=), C(PARTLABEL=) resolved through C(/dev/disk/by-*)).
                - V(null) when a tag cannot be resolved while swap areas are active.
              returned: always
              type: bool
              sample: true
        sysctl:
          description: Swap-related kernel settings; a value is V(null) when unreadable.
          returned: always
          type: dict
          contains:
            swappiness:
              description: C(vm.swappiness).
              returned: always
              type: int
              sample: 60
            vfs_cache_pressure:
              description: C(vm.vfs_cache_pressure).
              returned: always
              type: int
              sample: 100
            overcommit_memory:
              description: C(vm.overcommit_memory).
              returned: always
              type: int
              sample: 0
        zram:
          description: Every zram device under C(/sys/block), initialised or not.
          returned: always
          type: list
          elements: dict
          contains:
            name:
              description: Device name.
              returned: always
              type: str
              sample: zram0
            disksize_bytes:
              description: Uncompressed size of the device; V(0) when not initialised.
              returned: always
              type: int
              sample: 4294967296
            orig_data_bytes:
              description: Uncompressed size of the data stored, from C(mm_stat); V(null) without C(mm_stat).
              returned: always
              type: int
              sample: 805306368
            compr_data_bytes:
              description: Compressed size of that data, from C(mm_stat); V(null) without C(mm_stat).
              returned: always
              type: int
              sample: 268435456
            algorithm:
              description: The selected compression algorithm (C([lz4]) in C(comp_algorithm) gives V(lz4)).
              returned: always
              type: str
              sample: lz4
        psi:
          description:
            - Memory pressure from C(/proc/pressure/memory); V(null) when the kernel has no PSI (before 4.20,
              or disabled). Host-wide inside containers.
          returned: always
          type: dict
          contains:
            some:
              description: Share of time in which at least one task was stalled waiting for memory.
              returned: always
              type: dict
              contains:
                avg10:
                  description: Percent of time stalled over the last 10 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.1
                avg60:
                  description: Percent of time stalled over the last 60 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.3
                avg300:
                  description: Percent of time stalled over the last 300 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.2
                total_us:
                  description: Total stall time since boot, in microseconds.
                  returned: always
                  type: int
                  sample: 18734512
            full:
              description: Share of time in which all non-idle tasks were stalled at once (thrashing).
              returned: always
              type: dict
              contains:
                avg10:
                  description: Percent of time stalled over the last 10 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.1
                avg60:
                  description: Percent of time stalled over the last 60 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.3
                avg300:
                  description: Percent of time stalled over the last 300 seconds, one decimal.
                  returned: always
                  type: float
                  sample: 0.2
                total_us:
                  description: Total stall time since boot, in microseconds.
                  returned: always
                  type: int
                  sample: 18734512
        oom_kills:
          description: OOM kills since boot (C(oom_kill) in C(/proc/vmstat)); V(null) on kernels before 4.13.
          returned: always
          type: int
          sample: 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import exit_with_facts
from ansible_collections.hostcare.vps.plugins.module_utils._memory import build_swap_facts, read_swap_inputs


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    exit_with_facts(module, "hostcare_swap", "swap", lambda _options: build_swap_facts(read_swap_inputs()))


if __name__ == "__main__":
    main()
