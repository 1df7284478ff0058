# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.docker_cleanup against `docker system prune -a -f` on two identical Docker daemons.

One Docker-in-Docker daemon is seeded like a host after many deploys (the docker_cleanup scenario's seed with
BENCH_RELEASES releases, dangling rebuilds, stopped containers, labelled images, a bluegreen state file, a volume
and build cache); its data directory is then copied, so the second daemon starts byte-for-byte identical. The
role (with build_cache_older_than 0: the seed's cache is minutes old) cleans one, prune -a the other.

Prints the bytes each reclaimed (LayersSize + containers' writable layers + volumes + unshared build cache, from
/system/df before and after), the ratio, and the rollback images each lost: the newest 3 images of each repository
that no running container uses, and every image the bluegreen state names. Target: ratio >= 90 %, 0 lost.
Needs root and the host's Docker daemon with hostcare-test/debian-bookworm-services:latest and debian-bookworm:latest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(REPO, "extensions", "molecule", "docker_cleanup", "files", "seed-docker.sh")
BASE_DIR = "/var/tmp/hostcare-molecule-cleanup/bench"
IMAGE = os.environ.get("HOSTCARE_SERVICES_IMAGE", "hostcare-test/debian-bookworm-services:latest")
ROLE, PRUNE = "hostcare-cleanup-bench-role", "hostcare-cleanup-bench-prune"
SEED_ENV = {"SEED_RELEASES": os.environ.get("BENCH_RELEASES", "60"), "SEED_MIB": "2", "SEED_DANGLING": "6",
            "SEED_CACHE_MIB": "8"}
KEEP = 3
MIB = 1048576


def run(*args, check=True, **kwargs):
    return subprocess.run(args, check=check, text=True, capture_output=True, **kwargs)


def sh(container, script, env=None):
    exports = "".join(f"export {key}={value}; " for key, value in (env or {}).items())
    return run("docker", "exec", container, "bash", "-c", exports + script).stdout


def start_container(name, data_dir):
    run("docker", "run", "-d", "--name", name, "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--cgroupns", "host",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", f"{data_dir}:/var/lib/docker", IMAGE, "sleep", "infinity")
    start_daemon(name)


def start_daemon(name):
    sh(name, "setsid -f dockerd --log-level=warn >/var/log/dockerd.log 2>&1; "
             "for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1")


def stop_daemon(name):
    sh(name, "kill \"$(cat /var/run/docker.pid)\"; for _ in $(seq 1 30); do test -e /var/run/docker.pid || exit 0; "
             "sleep 1; done; exit 1")


def system_df(name):
    return json.loads(sh(name, "curl -s --unix-socket /var/run/docker.sock http://docker/v1.41/system/df"))


def used_bytes(df):
    return ((df.get("LayersSize") or 0)
            + sum(container.get("SizeRw") or 0 for container in df.get("Containers") or [])
            + sum(max(0, (volume.get("UsageData") or {}).get("Size") or 0) for volume in df.get("Volumes") or [])
            + sum(record["Size"] for record in df.get("BuildCache") or [] if not record.get("Shared")))


def rollback_tags(df, state):
    """Tags of the newest KEEP images of each repository that no running container uses, and of the images the
    bluegreen state names."""
    running = {container["ImageID"] for container in df["Containers"] if container["State"] == "running"}
    repositories = {}
    for image in df["Images"]:
        for tag in image.get("RepoTags") or []:
            if tag != "<none>:<none>":
                repositories.setdefault(tag.rsplit(":", 1)[0], []).append((image["Created"], image["Id"], tag))
    tags = set()
    for members in repositories.values():
        for _created, image_id, tag in sorted(members, reverse=True)[:KEEP]:
            if image_id not in running:
                tags.add(tag)
    state_ids = {release["image_id"] for release in state["releases"] + ([state["live"]] if state["live"] else [])}
    tags.update(tag for image in df["Images"] if image["Id"] in state_ids for tag in image.get("RepoTags") or [])
    return tags


def tags_of(df):
    return {tag for image in df["Images"] for tag in image.get("RepoTags") or []}


def clean_role(workdir):
    inventory = os.path.join(workdir, "inventory.yml")
    playbook = os.path.join(workdir, "cleanup.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        handle.write(f"all:\n  hosts:\n    {ROLE}:\n      ansible_connection: community.docker.docker\n"
                     "      ansible_python_interpreter: /usr/bin/python3\n")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write("- hosts: all\n  gather_facts: false\n  roles:\n    - role: hostcare.vps.docker_cleanup\n"
                     "      vars:\n        hostcare_docker_cleanup_build_cache_older_than: '0'\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_NOCOLOR="1")
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    started = time.monotonic()
    run(ansible, "-i", inventory, playbook, env=env)
    return time.monotonic() - started


def teardown():
    for name in (ROLE, PRUNE):
        run("docker", "rm", "-f", name, check=False)
    shutil.rmtree(BASE_DIR, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(BASE_DIR))  # only when no scenario of ours uses it
    except OSError:
        pass


def main():
    teardown()
    role_dir, prune_dir = os.path.join(BASE_DIR, "role"), os.path.join(BASE_DIR, "prune")
    os.makedirs(role_dir)
    workdir = tempfile.mkdtemp(prefix="hostcare-cleanup-bench-")
    try:
        started = time.monotonic()
        start_container(ROLE, role_dir)
        load = subprocess.Popen(["docker", "save", "hostcare-test/debian-bookworm:latest"], stdout=subprocess.PIPE)
        run("docker", "exec", "-i", ROLE, "docker", "load", stdin=load.stdout)
        load.wait()
        run("docker", "cp", SEED, f"{ROLE}:/root/seed-docker.sh")
        sh(ROLE, "bash /root/seed-docker.sh", SEED_ENV)
        state_text = sh(ROLE, "cat /var/lib/hostcare/bluegreen/shop.json")
        stop_daemon(ROLE)
        run("cp", "-a", role_dir, prune_dir)  # the second daemon starts identical
        start_daemon(ROLE)
        start_container(PRUNE, prune_dir)
        state_file = os.path.join(workdir, "shop.json")
        with open(state_file, "w", encoding="utf-8") as handle:
            handle.write(state_text)
        sh(PRUNE, "mkdir -p /var/lib/hostcare/bluegreen")
        run("docker", "cp", state_file, f"{PRUNE}:/var/lib/hostcare/bluegreen/shop.json")
        print(f"seeded two identical daemons ({SEED_ENV['SEED_RELEASES']} releases) in {time.monotonic() - started:.0f} s")

        state = json.loads(state_text)
        before = {name: system_df(name) for name in (ROLE, PRUNE)}
        assert used_bytes(before[ROLE]) == used_bytes(before[PRUNE]), "the two daemons differ"
        rollback = rollback_tags(before[ROLE], state)

        role_seconds = clean_role(workdir)
        started = time.monotonic()
        sh(PRUNE, "docker system prune -a -f >/dev/null")
        prune_seconds = time.monotonic() - started

        after = {name: system_df(name) for name in (ROLE, PRUNE)}
        reclaimed = {name: used_bytes(before[name]) - used_bytes(after[name]) for name in (ROLE, PRUNE)}
        lost = {name: sorted(rollback - tags_of(after[name])) for name in (ROLE, PRUNE)}
        ratio = reclaimed[ROLE] / reclaimed[PRUNE] if reclaimed[PRUNE] else float("nan")
        print(f"docker used before: {used_bytes(before[ROLE]) / MIB:.1f} MiB on each daemon; "
              f"rollback images: {len(rollback)} ({', '.join(sorted(rollback))})")
        print(f"docker system prune -a -f (baseline): reclaimed {reclaimed[PRUNE] / MIB:.1f} MiB in {prune_seconds:.1f} s, "
              f"rollback images lost: {len(lost[PRUNE])} ({', '.join(lost[PRUNE]) or 'none'})")
        print(f"hostcare.vps.docker_cleanup: reclaimed {reclaimed[ROLE] / MIB:.1f} MiB in {role_seconds:.1f} s "
              f"(ansible-playbook included), rollback images lost: {len(lost[ROLE])} ({', '.join(lost[ROLE]) or 'none'})")
        print(f"ratio: {ratio:.1%} of prune -a's bytes (target >= 90 %); rollback images lost: {len(lost[ROLE])} "
              f"(target 0)")
        return 0 if ratio >= 0.9 and not lost[ROLE] else 1
    finally:
        teardown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
