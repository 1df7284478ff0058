# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: workload_facts (every process read, grouped by owner, PSS of the biggest; then every container
inspected with its cgroup usage) on a machine with PROCESSES extra processes and CONTAINERS running containers,
against `ps -e -o pid,ppid,stat,rss,comm,cgroup` (procps reading the same /proc files) and `docker inspect` of the
same containers in the same run. Target (issue 13): the new facts under 0.5 s with 2,000 processes and 50
containers.

Usage: python tests/bench/bench_workload_facts.py [--processes 2000] [--containers 50] [--runs 5]
Spawns the sleepers (`sleep 600`, bounded: they exit by themselves after 10 minutes) and the containers (the base
test image running `sleep 600`, 32 MiB limit each) and removes them at the end, whatever happens. Needs Docker
for the containers (tests/scripts/ensure-docker.sh); systemd is not asked.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
# The unit tests' conftest makes ansible_collections.hostcare.vps importable from this checkout.
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hostcare.vps.plugins.module_utils._workload import (  # noqa: E402  pylint: disable=wrong-import-position
    gather_workload_facts,
)


def median_seconds(func, runs):
    func()  # warm-up
    times = []
    for _run in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2000)
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not 0 <= args.processes <= 5000:
        parser.error("--processes: 0 to 5000")
    if not 0 <= args.containers <= 200:
        parser.error("--containers: 0 to 200")
    sleepers = []
    containers = [f"hostcare-bench-workload-{index}" for index in range(args.containers)]
    try:
        if containers:
            image = subprocess.run(["bash", os.path.join(REPO, "tests", "images", "build.sh"), "bookworm"],
                                   capture_output=True, text=True, check=True).stdout.strip()
            for name in containers:
                subprocess.run(["docker", "run", "-d", "--name", name, "--memory", "32m", image, "sleep", "600"],
                               stdout=subprocess.DEVNULL, check=True)
        for _index in range(args.processes):
            sleepers.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL))  # pylint: disable=consider-using-with
        seen = sum(1 for name in os.listdir("/proc") if name.isdigit())

        def facts(pss=True):
            return gather_workload_facts(None, "/var/run/docker.sock", 10, time_budget=30, pss=pss,
                                         docker=bool(containers), systemd=False)

        def ps():
            subprocess.run(["ps", "-e", "-o", "pid,ppid,stat,rss,comm,cgroup"], stdout=subprocess.DEVNULL, check=True)
            if containers:
                subprocess.run(["docker", "container", "inspect", *containers], stdout=subprocess.DEVNULL, check=True)

        sample = facts()
        ps_s = median_seconds(ps, args.runs)
        facts_s = median_seconds(facts, args.runs)
        rss_s = median_seconds(lambda: facts(pss=False), args.runs)
    finally:
        for process in sleepers:
            process.send_signal(signal.SIGKILL)
        for process in sleepers:
            process.wait()
        if containers:
            subprocess.run(["docker", "rm", "-f", *containers], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False)
    status = sample["processes"]
    print(f"processes in /proc: {seen} ({args.processes} sleepers); read {status['read']}, PSS of {status['pss_read']}, "
          f"complete {status['complete']}, {sample['groups_total']} owners")
    inspected = sample.get("docker", {}).get("containers") or []
    print(f"containers inspected: {len(inspected)} ({args.containers} started)")
    print(f"workload facts (PSS):  median {facts_s:.3f} s over {args.runs} runs (target < 0.5 s)")
    print(f"workload facts (RSS):  median {rss_s:.3f} s")
    print(f"ps -e -o ...,cgroup + docker container inspect:   median {ps_s:.3f} s")
    print(f"ratio facts/baseline:  {facts_s / ps_s:.2f}x (PSS), {rss_s / ps_s:.2f}x (RSS)")
    return 0 if facts_s < 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
