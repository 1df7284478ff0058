# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: scan_trees() against `du -x -s` on the same 200,000-file tree (target: ratio <= 1.5).

Usage: python tests/bench/bench_disk_scan.py [--files N] [--runs N] [--dir PARENT]
The tree is built in a temporary directory on a real disk (PARENT, default the system temp dir) and
removed at the end. Each contender runs once to warm the cache, then they take turns; the medians are
compared. scan_trees runs with the workers the module uses (one per CPU, at most 4) and, for
reference, with one worker.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
# The unit tests' conftest makes ansible_collections.hostcare.vps importable from this checkout.
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hostcare.vps.plugins.module_utils._disk import MAX_SCAN_WORKERS  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.hostcare.vps.plugins.module_utils._disk_scan import scan_trees  # noqa: E402  pylint: disable=wrong-import-position

MODULE_WORKERS = min(len(os.sched_getaffinity(0)), MAX_SCAN_WORKERS)

FILES_PER_DIR = 100
SUBDIRS_PER_TOP_DIR = 10


def build_tree(parent, file_count):
    """A two-level tree of small files of varied sizes, like a log or cache directory; returns its path."""
    tree = tempfile.mkdtemp(prefix="hostcare-bench-", dir=parent)
    payload = b"x" * 9000
    created = 0
    top = 0
    while created < file_count:
        for sub in range(SUBDIRS_PER_TOP_DIR):
            directory = os.path.join(tree, f"d{top:04d}", f"s{sub:02d}")
            os.makedirs(directory)
            for number in range(min(FILES_PER_DIR, file_count - created)):
                with open(os.path.join(directory, f"f{number:03d}.dat"), "wb") as handle:
                    handle.write(payload[: (created * 37) % 9000])
                created += 1
            if created >= file_count:
                break
        top += 1
    return tree


def cpu_seconds():
    """CPU time of this process and its finished children (du, the scan's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_du(tree):
    started, cpu_started = time.perf_counter(), cpu_seconds()
    output = subprocess.run(["du", "-x", "-s", "-B1", tree], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, cpu_seconds() - cpu_started, int(output.split()[0])


def time_scan(tree, workers):
    started, cpu_started = time.perf_counter(), cpu_seconds()
    result = scan_trees([tree], top_n=10, deadline=float("inf"), workers=workers)
    elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    if result["truncated"]:
        raise RuntimeError("the scan was truncated without a deadline")
    return elapsed, cpu, result["roots"][0]["size_bytes"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default=None, help="parent directory of the temporary tree (must be a real disk)")
    args = parser.parse_args()

    started = time.perf_counter()
    tree = build_tree(args.dir, args.files)
    print(f"built {args.files} files in {tree} in {time.perf_counter() - started:.1f} s")
    try:
        contenders = {
            "du -x -s": time_du,
            f"scan_trees, {MODULE_WORKERS} workers": lambda path: time_scan(path, MODULE_WORKERS),
            "scan_trees, 1 worker": lambda path: time_scan(path, 1),
        }
        sizes = {name: measure(tree)[2] for name, measure in contenders.items()}
        if len(set(sizes.values())) != 1:
            print(f"WARNING: the sizes differ: {sizes}")
        walls = {name: [] for name in contenders}
        cpus = {name: [] for name in contenders}
        for _run in range(args.runs):
            for name, measure in contenders.items():
                wall, cpu, _size = measure(tree)
                walls[name].append(wall)
                cpus[name].append(cpu)
        medians = {name: statistics.median(values) for name, values in walls.items()}
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} runs, warm cache, "
              f"{args.files} files, {sizes['du -x -s']} B")
        for name, values in walls.items():
            print(f"{name:24} median {medians[name]:.3f} s  ({', '.join(f'{value:.3f}' for value in values)})"
                  f"  ratio to du {medians[name] / medians['du -x -s']:.2f}  CPU {statistics.median(cpus[name]):.3f} s")
        print("target: scan_trees as the module runs it no slower than 1.5 x du")
    finally:
        shutil.rmtree(tree)


if __name__ == "__main__":
    main()
