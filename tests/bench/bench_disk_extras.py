# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what issue 14 adds to disk_pressure_facts, against the shell tools an operator would run.

- gather_deleted_open() against `find /proc/[0-9]*/fd -lname '*(deleted)'` (the same walk of /proc, no sizes);
- gather_logrotate_facts() against `logrotate -d /etc/logrotate.conf` alone (it runs that once, plus the parsing,
  the globs and the state file).

Usage: python tests/bench/bench_disk_extras.py [--runs N]. Prints each median and its ratio (targets: <= 2 for
/proc; <= 3 for logrotate, which also starts python's subprocess and reads /proc/*/comm for the cron daemon, a few
milliseconds in all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hostcare.vps.plugins.module_utils._deleted_open import gather_deleted_open  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_state import gather_logrotate_facts  # noqa: E402  pylint: disable=wrong-import-position


def median_seconds(func, runs):
    func()
    times = []
    for _run in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in os.listdir("/proc") if pid.isdigit()
              and os.access(f"/proc/{pid}/fd", os.R_OK))
    ours = median_seconds(lambda: gather_deleted_open(["/"]), runs)
    shell = median_seconds(lambda: subprocess.run("find /proc/[0-9]*/fd -lname '*(deleted)' 2>/dev/null", shell=True,
                                                  stdout=subprocess.DEVNULL, check=False), runs)
    print(f"deleted_open: {ours * 1000:.1f} ms, find /proc: {shell * 1000:.1f} ms, ratio {ours / shell:.2f} "
          f"({fds} descriptors)")
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if os.path.isfile("/etc/logrotate.conf") and os.path.isfile(logrotate):
        ours = median_seconds(gather_logrotate_facts, runs)
        shell = median_seconds(lambda: subprocess.run([logrotate, "-d", "/etc/logrotate.conf"], capture_output=True,
                                                      check=False), runs)
        print(f"logrotate facts: {ours * 1000:.1f} ms, logrotate -d: {shell * 1000:.1f} ms, ratio {ours / shell:.2f}")


if __name__ == "__main__":
    main()
