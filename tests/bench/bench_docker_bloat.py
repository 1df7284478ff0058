# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: docker_bloat_facts' collection against `docker system df -v` on a daemon with 500 images (target: no slower).

Usage (root, dockerd and the docker CLI installed): python tests/bench/bench_docker_bloat.py [--images N] [--runs N]
Starts a dedicated dockerd (own data root, socket, config and bridge under a temporary directory) so the
machine's daemon is not touched, fills it with tiny locally made images (no registry: a few imported bases,
the rest built FROM them with one small COPY layer, some tags built twice to leave dangling images), a few
created containers and volumes, then times gather_docker_facts() and `docker system df -v` in turns
(median of RUNS each, after one warm-up run each) and checks that both report the same totals.
Everything is removed at the end, the daemon stopped.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "unit"))
# The unit tests' conftest makes ansible_collections.hostcare.vps importable from this checkout.
import conftest  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position

from ansible_collections.hostcare.vps.plugins.module_utils._docker import (  # noqa: E402  pylint: disable=wrong-import-position
    UnixHTTPConnection,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_facts import (  # noqa: E402  pylint: disable=wrong-import-position
    gather_docker_facts,
)

API = "/v1.41"  # every daemon this bench runs on (Debian's 20.10 and newer) accepts it
BRIDGE = "hcbloat0"
# TEST-NET-1: never routed, so the bench bridge cannot shadow a real network.
BRIDGE_ADDRESS = "192.0.2.1/24"
BASES = 20
DANGLING = 10
CONTAINERS = 20
VOLUMES = 5


def tar_bytes(files):
    """An uncompressed tar of {name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def api(socket_path, method, path, body=None, content_type="application/json"):
    """Send one request to the bench daemon; return the decoded body (a JSON stream is checked for errors)."""
    connection = UnixHTTPConnection(socket_path, 300)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        connection.request(method, API + path, body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    if response.status >= 300 or b'"errorDetail"' in data:
        raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data[-300:]!r}")
    return data


def start_daemon(workdir):
    """Start a dockerd of our own under `workdir`; return (process, socket path)."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise SystemExit("dockerd not found: install Docker (Debian: apt-get install docker.io)")
    # Our own bridge: the default would share docker0 with the machine's daemon, and --bridge none makes
    # dockerd delete docker0.
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
    socket_path = os.path.join(workdir, "docker.sock")
    config = os.path.join(workdir, "daemon.json")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("{}\n")  # not /etc/docker/daemon.json
    with open(os.path.join(workdir, "dockerd.log"), "wb") as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped by stop_daemon
            [dockerd, "--config-file", config, "--data-root", os.path.join(workdir, "data"),
             "--exec-root", os.path.join(workdir, "exec"), "--pidfile", os.path.join(workdir, "dockerd.pid"),
             "--host", "unix://" + socket_path, "--bridge", BRIDGE, "--iptables=false", "--ip-masq=false",
             "--ip-forward=false", "--cgroup-parent", "hcbloat-bench"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dockerd exited with {process.returncode}, see {workdir}/dockerd.log")
        try:
            api(socket_path, "GET", "/_ping")
            return process, socket_path
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise RuntimeError(f"dockerd did not answer within 60 s, see {workdir}/dockerd.log")


def stop_daemon(process, workdir):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # A daemon that was killed can leave mounts below its directories; rmtree cannot remove those.
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        leftovers = [line.split()[1] for line in mounts if line.split()[1].startswith(workdir + "/")]
    for mount_point in sorted(leftovers, reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False)


def populate(socket_path, image_count):
    """BASES imported images, the rest built FROM them (DANGLING of them re-using a tag), containers, volumes."""
    started = time.perf_counter()
    for number in range(BASES):
        rootfs = tar_bytes({"base.txt": f"base {number}\n".encode() * 200})
        api(socket_path, "POST", f"/images/create?fromSrc=-&repo=hcbloat-bench/base{number}&tag=1", rootfs,
            "application/x-tar")

    built = image_count - BASES

    def build(number):
        # The last DANGLING builds re-use the tags of the ones just before: those images become dangling.
        tag_number = number if number < built - DANGLING else number - DANGLING
        base = tag_number % BASES
        tag = f"hcbloat-bench/app{base}:v{tag_number}"
        context = tar_bytes({
            "Dockerfile": f"FROM hcbloat-bench/base{base}:1\nCOPY payload /payload\n".encode(),
            "payload": f"payload {number}\n".encode() * (1 + number % 50),
        })
        api(socket_path, "POST", f"/build?t={tag}&rm=1&forcerm=1", context, "application/x-tar")

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(build, range(built - DANGLING)))
    for number in range(built - DANGLING, built):
        build(number)
    for number in range(CONTAINERS):
        api(socket_path, "POST", f"/containers/create?name=hcbloat-bench-c{number}",
            {"Image": f"hcbloat-bench/app{number % BASES}:v{number}", "Cmd": ["/payload"]})
    for number in range(VOLUMES):
        api(socket_path, "POST", "/volumes/create", {"Name": f"hcbloat-bench-v{number}"})
    print(f"populated the bench daemon in {time.perf_counter() - started:.1f} s")


def time_facts(socket_path):
    started = time.perf_counter()
    facts = gather_docker_facts(socket_path, timeout=300)
    elapsed = time.perf_counter() - started
    if not facts["available"]:
        raise RuntimeError(facts["reason"])
    return elapsed, facts


def time_cli(socket_path):
    started = time.perf_counter()
    subprocess.run(["docker", "-H", "unix://" + socket_path, "system", "df", "-v"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, None


def human_size(size):
    """go-units HumanSize, as the docker CLI prints sizes."""
    units = ["B", "kB", "MB", "GB", "TB"]
    value, index = float(size), 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


def check_same_totals(socket_path, facts):
    output = subprocess.run(["docker", "-H", "unix://" + socket_path, "system", "df", "--format", "{{json .}}"],
                            check=True, capture_output=True, text=True).stdout
    printed = {row["Type"]: row for row in map(json.loads, output.splitlines())}
    for label, key in (("Images", "images"), ("Containers", "containers"), ("Local Volumes", "volumes"),
                       ("Build Cache", "build_cache")):
        ours = facts["totals"][key]
        row = printed[label]
        theirs = (int(row["TotalCount"]), int(row["Active"]), row["Size"], row["Reclaimable"].split(" ")[0])
        mine = (ours["count"], ours["active"], human_size(ours["size_bytes"]), human_size(ours["reclaimable_bytes"]))
        if mine != theirs:
            raise RuntimeError(f"{label}: docker system df says {theirs}, the facts say {mine}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the bench starts its own dockerd")
    if shutil.which("docker") is None:
        raise SystemExit("the docker CLI is not installed (Debian: apt-get install docker.io)")
    if args.images < BASES + DANGLING + CONTAINERS:
        raise SystemExit(f"--images: at least {BASES + DANGLING + CONTAINERS}")

    # A short path: unix socket paths are limited to 107 bytes.
    workdir = tempfile.mkdtemp(prefix="hcbloat-bench-", dir="/var/tmp")
    process = None
    try:
        process, socket_path = start_daemon(workdir)
        populate(socket_path, args.images)
        _elapsed, facts = time_facts(socket_path)  # warm-up
        time_cli(socket_path)
        if facts["totals"]["images"]["count"] != args.images:
            raise RuntimeError(f"expected {args.images} images, the daemon has {facts['totals']['images']['count']}")
        check_same_totals(socket_path, facts)
        times = {"gather_docker_facts": [], "docker system df -v": []}
        for _run in range(args.runs):
            times["gather_docker_facts"].append(time_facts(socket_path)[0])
            times["docker system df -v"].append(time_cli(socket_path)[0])
        medians = {name: statistics.median(values) for name, values in times.items()}
        images = facts["totals"]["images"]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, daemon {facts['daemon']['version']} "
              f"(API {facts['daemon']['api_version']}), {images['count']} images ({len(facts['dangling_images'])} dangling), "
              f"{facts['totals']['containers']['count']} containers, {facts['totals']['volumes']['count']} volumes, "
              f"{args.runs} runs")
        for name, values in times.items():
            print(f"{name:22} median {medians[name]:.3f} s  ({', '.join(f'{value:.3f}' for value in values)})")
        ratio = medians["gather_docker_facts"] / medians["docker system df -v"]
        print(f"ratio gather_docker_facts / docker system df -v: {ratio:.2f} (target: <= 1.0); totals agree")
    finally:
        if process is not None:
            stop_daemon(process, workdir)
        subprocess.run(["ip", "link", "del", BRIDGE], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
