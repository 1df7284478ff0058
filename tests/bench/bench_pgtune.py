# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pgbench TPS of PostgreSQL 15 at its defaults against the same server after hostcare.vps.postgresql_tune applied
the audit's recommendation, in one run on one machine.

A throw-away container of the services image runs the cluster; the pgbench data set (scale SCALE, about 15 MB per
unit) is larger than the default shared_buffers (128MB) and smaller than the recommendation's budget
(MEMORY_LIMIT, default 4GB, the RAM of a small VPS). Each phase runs pgbench's built-in TPC-B-like script and the
select-only script for a fixed time after a warm-up, on the local socket. The role is applied with
restart=if_needed (shared_buffers needs a restart). Prints both figures and the ratio, whatever it is.

    python3 tests/bench/bench_pgtune.py .venv [--scale 20] [--seconds 20] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONTAINER = "hostcare-bench-pgtune"
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def sh(argv, check=True, timeout=900):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def in_container(*argv, check=True, timeout=900):
    return sh(["docker", "exec", CONTAINER] + list(argv), check=check, timeout=timeout)


def as_postgres(*argv, timeout=900):
    return in_container("runuser", "-u", "postgres", "--", *argv, timeout=timeout)


def pgbench(seconds, clients, select_only):
    argv = [PGBENCH, "-n", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds)]
    if select_only:
        argv.append("-S")
    output = as_postgres(*argv, "pgbench", timeout=seconds + 120)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    if not tps:
        raise SystemExit(f"no tps in pgbench's output:\n{output}")
    return float(tps.group(1)), int(failed.group(1)) if failed else None


def phase(label, seconds, clients):
    pgbench(5, clients, select_only=False)  # warm-up: caches and connections
    results = {}
    for name, select_only in (("tpcb-like", False), ("select-only", True)):
        tps, failed = pgbench(seconds, clients, select_only)
        results[name] = tps
        print(f"{label:>14} {name:>12}: {tps:10.1f} tps ({failed} failed transactions)", flush=True)
    return results


def show(name):
    return as_postgres("psql", "-XAtq", "-c", f"SHOW {name}").strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", nargs="?", default=".venv")
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--image", default=os.environ.get("HOSTCARE_SERVICES_IMAGE", "hostcare-test/debian-bookworm-services:latest"))
    args = parser.parse_args()
    venv = os.path.abspath(args.venv)

    sh(["docker", "rm", "-f", CONTAINER], check=False)
    sh(["docker", "run", "-d", "--name", CONTAINER, "--shm-size", "1g", args.image, "sleep", "infinity"])
    try:
        in_container("pg_ctlcluster", "15", "main", "start")
        start = time.monotonic()
        as_postgres("createdb", "pgbench")
        as_postgres(PGBENCH, "-i", "-q", "-s", str(args.scale), "pgbench", timeout=1800)
        size = as_postgres("psql", "-XAtq", "-c", "SELECT pg_size_pretty(pg_database_size('pgbench'))").strip()
        print(f"data set: pgbench scale {args.scale}, {size} (initialised in {time.monotonic() - start:.0f} s); "
              f"shared_buffers {show('shared_buffers')} at the defaults", flush=True)
        before = phase("defaults", args.seconds, args.clients)

        with tempfile.TemporaryDirectory(prefix="hostcare-bench-pgtune.") as directory:
            inventory = os.path.join(directory, "inventory.ini")
            playbook = os.path.join(directory, "tune.yml")
            with open(inventory, "w", encoding="utf-8") as handle:
                handle.write(f"{CONTAINER} ansible_connection=community.docker.docker "
                             f"ansible_python_interpreter=/usr/bin/python3\n")
            with open(playbook, "w", encoding="utf-8") as handle:
                handle.write("- hosts: all\n  gather_facts: false\n  roles:\n"
                             "    - role: hostcare.vps.postgresql_tune\n"
                             f"      hostcare_postgresql_tune_memory_limit: {args.memory_limit}\n"
                             "      hostcare_postgresql_tune_restart: if_needed\n")
            environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
                               ANSIBLE_NOCOLOR="1")
            result = subprocess.run([os.path.join(venv, "bin", "ansible-playbook"), "-i", inventory, playbook],
                                    capture_output=True, text=True, env=environment, check=False, timeout=600)
            if result.returncode != 0:
                raise SystemExit(f"the role failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}")
        print(f"applied the recommendation for {args.memory_limit}: shared_buffers {show('shared_buffers')}, "
              f"effective_cache_size {show('effective_cache_size')}, work_mem {show('work_mem')}, "
              f"max_wal_size {show('max_wal_size')}, wal_compression {show('wal_compression')}", flush=True)
        after = phase("recommendation", args.seconds, args.clients)
        for name in before:
            print(f"ratio {name}: {after[name] / before[name]:.2f}x (recommendation / defaults)")
    finally:
        sh(["docker", "rm", "-f", CONTAINER], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
