#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_pressure_facts
short_description: Gather filesystem usage, I/O pressure and where the disk space went
version_added: 0.1.0
description:
  - Reports every real mounted filesystem once (pseudo filesystems, union mounts other than C(/), bind mounts,
    btrfs subvolumes and duplicate mounts of a device skipped) with its size, use and inode use, as C(df) does.
  - Reports I/O pressure (PSI) from C(/proc/pressure/io).
  - Scans directories within a time budget, like C(du -x), and reports the largest directories and files,
    the systemd journal and apt cache sizes, and the largest C(*.log) files that nobody rotates.
  - Reads logrotate as configured (read-only), its includes, the logs each entry names (globs expanded), their last
    rotation from the state file, the scripts that restart services and what C(logrotate -d), a dry run, reports.
  - Reports deleted files still held open by a process (C(/proc/*/fd)) and the archive and dump files the scan finds.
  - Returns them as the C(hostcare_disk) fact. Sizes are disk usage in bytes (allocated blocks, hard links
    counted once); a value the host cannot provide is V(null).
author:
  - hostcare.vps contributors (@hostcare)
options:
  scan_paths:
    description:
      - Absolute, normalised paths of the directories to scan. Each one is measured on its own.
      - When not set, scans V(/var/log), V(/var/lib/docker), V(/var/cache/apt), V(/var/lib/postgresql),
        V(/var/www), V(/home), V(/srv), V(/opt) and V(/tmp); those that do not exist are listed in
        RV(ansible_facts.hostcare_disk.scan.missing_paths).
      - A path given here that does not exist, or is not a directory, is an error.
    type: list
    elements: path
  top_n:
    description: How many of the largest directories, files and unrotated logs to report. A whole number from 1 to 1000.
    type: raw
    default: 10
  time_budget:
    description:
      - Seconds the journal, apt cache and directory scan may take together; more than 0 and at most 3600.
      - When it runs out the results so far are returned with RV(ansible_facts.hostcare_disk.scan.truncated)
        set and the roots not finished in RV(ansible_facts.hostcare_disk.scan.unfinished).
      - Measuring the filesystems comes first and is not part of the budget; it waits at most 5 seconds
        for a mount point that does not answer (a dead network filesystem).
    type: raw
    default: 20
  cross_filesystems:
    description:
      - Whether the scan descends into other filesystems and bind mounts below a scanned path.
      - By default it stays on the filesystem of each scanned path, like C(du -x), and does not enter bind mounts
        either (C(du -x) counts a bind mount of the same filesystem twice).
    type: bool
    default: false
  min_log_size:
    description:
      - Smallest disk usage of a C(*.log) file reported in RV(ansible_facts.hostcare_disk.unrotated_logs).
      - A number of bytes, or a size with a binary unit such as V(50MB), V(1G), V(1.5GiB). V(Gb) (bits) is refused.
      - At most 1 PiB.
    type: raw
    default: 50MB
  max_unreadable:
    description:
      - At most this many directories the scan could not read are listed. V(0) lists none.
      - A whole number from 0 to 1000000.
    type: raw
    default: 50
  scan_full_filesystems:
    description:
      - Also scan, first, the mount point of every filesystem at least this full (percent used, like df), unless a
        scan path is that mount point (the scan stays on one filesystem), so the biggest consumers of a full
        filesystem are known wherever it is mounted.
      - Between 0 and 100; V(0) turns this off.
    type: raw
    default: 85
  skip_scan:
    description:
      - Skip the directory scan; RV(ansible_facts.hostcare_disk.scan) and
        RV(ansible_facts.hostcare_disk.unrotated_logs) are then V(null).
      - The journal and apt cache are still measured.
    type: bool
    default: false
extends_documentation_fragment:
  - hostcare.vps._attributes.facts
notes:
  - Linux only. Run it as root to see into every directory; without privileges unreadable directories
    are listed in RV(ansible_facts.hostcare_disk.scan.unreadable) and left out of the sizes.
  - On a host with more than one CPU the scan runs in up to 4 forked worker processes.
  - A rotated copy is recognised only next to the log (C(x.log.1), C(x.log.1.gz), C(x.log-20250101), C(x.log.2025-01-01),
    C(x.log.old), C(x.1.log), C(x-20250101.log)); logs rotated into another directory (logrotate C(olddir)) are reported.
seealso:
  - name: PSI - Pressure Stall Information
    description: What the C(psi_io) averages and totals mean.
    link: https://docs.kernel.org/accounting/psi.html
"""

EXAMPLES = r"""
- name: Gather disk pressure facts
  hostcare.vps.disk_pressure_facts:

- name: Warn about filesystems more than 85% full (space or inodes)
  ansible.builtin.debug:
    msg: "{{ item.mount }} on {{ inventory_hostname }} is {{ item.use_percent }}% full, inodes {{ item.inode_use_percent }}%"
  loop: "{{ ansible_facts.hostcare_disk.filesystems }}"
  loop_control:
    label: "{{ item.mount }}"
  when: item.use_percent > 85 or (item.inode_use_percent or 0) > 85

- name: Scan only the application directories, for 5 seconds at most
  hostcare.vps.disk_pressure_facts:
    scan_paths:
      - /srv/app
      - /var/www
    time_budget: 5
    top_n: 5
    min_log_size: 100MB

- name: Measure filesystems, journal and apt cache only
  hostcare.vps.disk_pressure_facts:
    skip_scan: true

- name: List the logs nobody rotates
  ansible.builtin.debug:
    msg: "{{ item.path }}: {{ item.size_bytes | ansible.builtin.human_readable }}"
  loop: "{{ ansible_facts.hostcare_disk.unrotated_logs }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    hostcare_disk:
      description: Filesystem usage, I/O pressure and disk usage facts of the target.
      returned: always
      type: dict
      contains:
        filesystems:
          description:
            - One entry per real filesystem, sorted by mount point; V(null) when C(/proc/self/mountinfo) is unreadable.
            - The figures are V(null) when the filesystem did not answer C(statvfs) within 5 seconds.
          returned: always
          type: list
          elements: dict
          contains:
            mount:
              description: Where the filesystem is mounted (the shortest mount point when it is mounted several times).
              returned: always
              type: str
              sample: /
            device:
              description: The mount source, for example C(/dev/vda1), or C(overlay) for a container's root.
              returned: always
              type: str
              sample: /dev/vda1
            fstype:
              description: Filesystem type.
              returned: always
              type: str
              sample: ext4
            size_bytes:
              description: Size of the filesystem.
              returned: always
              type: int
              sample: 52576092160
            used_bytes:
              description: Size minus free space, as C(df) counts C(Used).
              returned: always
              type: int
              sample: 20117848064
            available_bytes:
              description: Space unprivileged users may still write (without the blocks reserved for root).
              returned: always
              type: int
              sample: 29752545280
            use_percent:
              description: Used / (used + available) * 100, one decimal, like C(df)'s C(Use%) (which rounds up).
              returned: always
              type: float
              sample: 40.3
            inodes_total:
              description: Number of inodes; V(null) when the filesystem has no fixed inode table (btrfs).
              returned: always
              type: int
              sample: 3276800
            inodes_used:
              description: Inodes in use; V(null) with RV(ansible_facts.hostcare_disk.filesystems[].inodes_total).
              returned: always
              type: int
              sample: 412345
            inode_use_percent:
              description: Inodes used / total * 100, one decimal; V(null) with RV(ansible_facts.hostcare_disk.filesystems[].inodes_total).
              returned: always
              type: float
              sample: 12.6
        psi_io:
          description:
            - I/O pressure from C(/proc/pressure/io); V(null) when the kernel has no PSI (before 4.20, or disabled).
            - Host-wide inside containers.
          returned: always
          type: dict
          contains:
            some:
              description: Share of time at least one task waited for I/O.
              returned: always
              type: dict
              contains:
                avg10:
                  description: Percentage over the last 10 seconds.
                  returned: always
                  type: float
                  sample: 0.5
                avg60:
                  description: Percentage over the last 60 seconds.
                  returned: always
                  type: float
                  sample: 1.2
                avg300:
                  description: Percentage over the last 300 seconds.
                  returned: always
                  type: float
                  sample: 0.6
                total_us:
                  description: Total stall time since boot, in microseconds.
                  returned: always
                  type: int
                  sample: 2838660
            full:
              description: Share of time all non-idle tasks waited for I/O at once.
              returned: always
              type: dict
              contains:
                avg10:
                  description: Percentage over the last 10 seconds.
                  returned: always
                  type: float
                  sample: 0.4
                avg60:
                  description: Percentage over the last 60 seconds.
                  returned: always
                  type: float
                  sample: 1.1
                avg300:
                  description: Percentage over the last 300 seconds.
                  returned: always
                  type: float
                  sample: 0.6
                total_us:
                  description: Total stall time since boot, in microseconds.
                  returned: always
                  type: int
                  sample: 2572497
        scan:
          description: The directory scan; V(null) with O(skip_scan=true).
          returned: always
          type: dict
          contains:
            paths:
              description: The scanned paths that exist.
              returned: always
              type: list
              elements: str
              sample: [/var/log, /var/lib/docker, /home]
            missing_paths:
              description: Paths of the default list that do not exist on the target (always empty with O(scan_paths) set).
              returned: always
              type: list
              elements: str
              sample: [/var/lib/postgresql, /srv]
            roots:
              description: Disk usage of each scanned path that could be read (partial when listed in RV(ansible_facts.hostcare_disk.scan.unfinished)).
              returned: always
              type: list
              elements: dict
              contains:
                path:
                  description: The scanned path.
                  returned: always
                  type: str
                  sample: /var/log
                size_bytes:
                  description: Disk usage of the tree, like C(du -x -s).
                  returned: always
                  type: int
                  sample: 1073741824
                files:
                  description: Number of entries other than directories (hard links counted once).
                  returned: always
                  type: int
                  sample: 1234
            top_dirs:
              description: The largest directories below the scanned paths by total disk usage of their tree, largest first.
              returned: always
              type: list
              elements: dict
              contains:
                path:
                  description: Absolute path of the directory.
                  returned: always
                  type: str
                  sample: /var/log/app
                size_bytes:
                  description: Disk usage of the directory's tree.
                  returned: always
                  type: int
                  sample: 536870912
            top_files:
              description: The largest files, largest first.
              returned: always
              type: list
              elements: dict
              contains:
                path:
                  description: Absolute path of the file.
                  returned: always
                  type: str
                  sample: /var/log/app/big.log
                size_bytes:
                  description: Disk usage of the file (allocated blocks; a sparse file counts less than its length).
                  returned: always
                  type: int
                  sample: 268435456
            unreadable:
              description: Directories the scan could not list, at most O(max_unreadable) of them.
              returned: always
              type: list
              elements: str
              sample: [/var/lib/docker/volumes/x]
            truncated:
              description: Whether the time budget ran out before the scan was finished.
              returned: always
              type: bool
              sample: false
            unfinished:
              description: Scanned paths whose tree was not finished when the time budget ran out.
              returned: always
              type: list
              elements: str
              sample: []
            elapsed_seconds:
              description: How long the scan took.
              returned: always
              type: float
              sample: 0.12
            files_scanned:
              description: Entries other than directories counted, over all scanned paths.
              returned: always
              type: int
              sample: 1234
        journal:
          description: Disk usage of the systemd journal; V(null) when neither C(/var/log/journal) nor C(/run/log/journal) exists.
          returned: always
          type: dict
          contains:
            paths:
              description: The journal directories that exist.
              returned: always
              type: list
              elements: str
              sample: [/var/log/journal]
            size_bytes:
              description: Their disk usage together; V(null) when the time budget ran out first.
              returned: always
              type: int
              sample: 268435456
        apt_cache:
          description: Disk usage of the downloaded packages apt keeps; V(null) when C(/var/cache/apt/archives) does not exist.
          returned: always
          type: dict
          contains:
            path:
              description: The apt archives directory.
              returned: always
              type: str
              sample: /var/cache/apt/archives
            size_bytes:
              description: Its disk usage; V(null) when the time budget ran out first.
              returned: always
              type: int
              sample: 104857600
        unrotated_logs:
          description:
            - The largest C(*.log) files (at least O(min_log_size)) with no rotated copy next to them, largest first.
            - A log named after its day (C(app-2025-01-01.log)) and a rotated copy itself (C(x.1.log)) are not listed.
            - V(null) with O(skip_scan=true).
          returned: always
          type: list
          elements: dict
          contains:
            path:
              description: Absolute path of the log.
              returned: always
              type: str
              sample: /var/www/app/log/production.log
            size_bytes:
              description: Disk usage of the log.
              returned: always
              type: int
              sample: 2147483648
        unrotated_log_siblings:
          description:
            - The other live C(*.log) files, of any size, of the directories of RV(ansible_facts.hostcare_disk.unrotated_logs).
            - V(null) with O(skip_scan=true).
          returned: always
          type: list
          elements: dict
          contains:
            path:
              description: Absolute path of the log.
              returned: always
              type: str
            size_bytes:
              description: Disk usage of the log.
              returned: always
              type: int
        archives:
          description:
            - Archive and dump files of 1 MiB or more found by the scan (C(*.tar.gz), C(*.tgz), C(*.zip), C(*.sql),
              C(*.sql.gz), C(*.dump), C(*.bak) and similar), outside database data directories and Docker volumes.
            - V(null) with O(skip_scan=true).
          returned: always
          type: dict
          contains:
            scanned_at:
              description: Epoch seconds of the scan, by the host's clock.
              returned: always
              type: int
            min_size_bytes:
              description: Smallest file recorded.
              returned: always
              type: int
            files:
              description: The files, biggest first, at most 2000.
              returned: always
              type: list
              elements: dict
              contains:
                path:
                  description: Absolute path.
                  returned: always
                  type: str
                size_bytes:
                  description: Disk usage.
                  returned: always
                  type: int
                mtime:
                  description: Modification time, epoch seconds.
                  returned: always
                  type: int
        deleted_open:
          description: Deleted files still held open by a process (C(/proc/*/fd)), on the real filesystems.
          returned: always
          type: dict
          contains:
            processes:
              description: Holding processes, biggest first, at most 50; a file open twice counts once.
              returned: always
              type: list
              elements: dict
              contains:
                pid:
                  description: Process id.
                  returned: always
                  type: int
                command:
                  description: The process's command name (C(/proc/<pid>/comm)).
                  returned: always
                  type: str
                bytes:
                  description: Disk usage of the deleted files it holds.
                  returned: always
                  type: int
                mounts:
                  description: Mount points of those files.
                  returned: always
                  type: list
                  elements: str
                files:
                  description: The biggest deleted files it holds.
                  returned: always
                  type: list
                  elements: dict
                  contains:
                    path:
                      description: The path the file had.
                      returned: always
                      type: str
                    size_bytes:
                      description: Disk usage.
                      returned: always
                      type: int
                    mount:
                      description: Mount point of its filesystem.
                      returned: always
                      type: str
            filesystems:
              description: Bytes held per filesystem.
              returned: always
              type: list
              elements: dict
              contains:
                mount:
                  description: Mount point.
                  returned: always
                  type: str
                bytes:
                  description: Disk usage of the deleted files held open on it.
                  returned: always
                  type: int
            total_bytes:
              description: The sum over the filesystems.
              returned: always
              type: int
            unreadable_processes:
              description: Processes whose descriptors could not be read (another user's, without become).
              returned: always
              type: int
        logrotate:
          description:
            - logrotate as configured (read-only); V(null) without C(/etc/logrotate.conf). See docs/facts.md for
              every key.
            - C(entries) lists each entry with its C(file), C(line), C(patterns), C(frequency), C(rotate), C(size),
              C(maxsize), C(copytruncate), C(sharedscripts), C(scripts), the C(restarts) found in them, whether
              logrotate C(skipped) its file, and the C(logs) its patterns name (globs expanded) with their
              C(last_rotated) date from the state file.
            - C(debug) is what C(logrotate -d) (a dry run) reports; C(runner) what would run logrotate.
          returned: always
          type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._disk import gather_disk_facts
from ansible_collections.hostcare.vps.plugins.module_utils._disk_options import ARGUMENT_SPEC, validate_options
from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import exit_with_facts


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with_facts(module, "hostcare_disk", "disk", lambda options: gather_disk_facts(**options), check=validate_options)


if __name__ == "__main__":
    main()
