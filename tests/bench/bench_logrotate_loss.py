# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what one forced rotation costs an app that keeps writing, copytruncate against create + SIGHUP.

Usage: python tests/bench/bench_logrotate_loss.py [--sizes 10,100] [--rate 2000] [--runs 3]
For each log size (MiB, filled before the run), a writer appends numbered lines at about --rate lines per second
while `logrotate -f` rotates the log once, with the entry the role renders (no compression, so the figure is the
copy itself). Reported per style: the rotation's wall time and the writer's lines missing from the current plus
rotated file. create + a reopen signal is the baseline: a rename, and no line lost. Needs the real logrotate
(tests/scripts/ensure-test-packages.sh); everything is written in a temporary directory and removed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import render_entry  # noqa: E402  pylint: disable=wrong-import-position

WRITER = os.path.join(REPO, "extensions", "molecule", "logrotate", "files", "writer.py")
FILLER = b"filler line of an old log, not numbered, ignored by the count\n"


def entry(log, pidfile, style):
    base = {"name": "bench", "paths": [log], "frequency": "daily", "rotate": 5, "compress": False,
            "missingok": True, "notifempty": True}
    if style == "copytruncate":
        return render_entry({**base, "copytruncate": True})
    return render_entry({**base, "postrotate": [f'kill -HUP "$(cat {pidfile})"']})


def run_once(workdir, size_mib, rate, style):
    log = os.path.join(workdir, "app.log")
    pidfile, countfile = os.path.join(workdir, "writer.pid"), os.path.join(workdir, "writer.count")
    for name in os.listdir(workdir):
        os.remove(os.path.join(workdir, name))
    with open(log, "wb") as handle:
        block = FILLER * (1024 * 1024 // len(FILLER))  # whole lines: the writer's first line must start a line
        for dummy in range(size_mib):
            handle.write(block)
    config = os.path.join(workdir, "bench.conf")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(entry(log, pidfile, style))
    os.chmod(config, 0o644)
    writer = subprocess.Popen([sys.executable, WRITER, log, pidfile, countfile, str(1.0 / rate)])
    while not os.path.exists(pidfile) or not open(pidfile, encoding="utf-8").read():
        time.sleep(0.01)
    time.sleep(0.5)
    start = time.monotonic()
    subprocess.run(["logrotate", "-f", "-s", os.path.join(workdir, "status"), config], check=True)
    elapsed = time.monotonic() - start
    time.sleep(0.5)
    writer.send_signal(signal.SIGTERM)
    writer.wait(timeout=30)
    with open(countfile, encoding="utf-8") as handle:
        written = int(handle.read())
    seen = set()
    for name in ("app.log.1", "app.log"):
        with open(os.path.join(workdir, name), "rb") as handle:
            seen.update(int(line) for line in handle if line.strip().isdigit())
    return elapsed, written - len(seen & set(range(1, written + 1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="log sizes in MiB, comma separated")
    parser.add_argument("--rate", type=int, default=2000, help="lines per second the writer aims at")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", default=None, help="parent of the temporary directory (a real disk)")
    args = parser.parse_args()
    if shutil.which("logrotate") is None:
        sys.exit("needs logrotate: bash tests/scripts/ensure-test-packages.sh")
    workdir = tempfile.mkdtemp(prefix="hostcare-bench-logrotate-", dir=args.dir)
    try:
        print(f"writer at ~{args.rate} lines/s, one forced rotation, median of {args.runs} runs")
        print(f"{'log size':>9} {'copytruncate':>14} {'lost':>6} {'create+HUP':>12} {'lost':>6} {'time ratio':>11}")
        for size in (int(value) for value in args.sizes.split(",")):
            results = {}
            for style in ("copytruncate", "create"):
                runs = [run_once(workdir, size, args.rate, style) for dummy in range(args.runs)]
                results[style] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
            (copy_time, copy_lost), (create_time, create_lost) = results["copytruncate"], results["create"]
            print(f"{size:>6} MiB {copy_time:>12.3f} s {copy_lost:>6.0f} {create_time:>10.3f} s {create_lost:>6.0f} "
                  f"{copy_time / create_time:>10.1f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
