#!/usr/bin/env bash
# Build a Debian test image that boots systemd as PID 1, on top of the base image of tests/images/build.sh
# (debootstrap + docker import, no registry). Tagged by a hash of the base image id and this script: a second
# run reuses it. Prints the image name on stdout.
#   usage: tests/images/build-systemd.sh [suite]      (bookworm, the default, or trixie)
# Run a container of it the way ../shared/ENVIRONMENT.md verified (no --privileged, which fails here):
#   docker run -d --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
#     --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined IMAGE
# In Molecule: extensions/molecule/systemd/molecule.yml.
set -euo pipefail
SUITE="${1:-bookworm}"
HERE="$(cd "$(dirname "$0")" && pwd)"
BASE="$(bash "$HERE/build.sh" "$SUITE")"
BASE_ID="$(docker image inspect --format '{{.Id}}' "$BASE")"
RECIPE_HASH="$( (echo "$BASE_ID"; cat "$0") | sha256sum | cut -c1-12)"
REPOSITORY="hostcare-test/debian-${SUITE}-systemd"
IMAGE="$REPOSITORY:$RECIPE_HASH"

# systemd recognises a container by $container (Docker does not set it); SIGRTMIN+3 is how systemd wants to be
# stopped, so `docker stop` shuts the units down instead of waiting 10 s for SIGKILL. The machine id is left
# empty so that every container gets its own at boot (and its own journal directory). dbus: systemctl and
# timedatectl-style tools talk to it; logind and the getty units are useless in a container.
DOCKERFILE='
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv dbus \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && systemctl mask systemd-logind.service getty.target console-getty.service systemd-firstboot.service \
 && : > /etc/machine-id && rm -f /var/lib/dbus/machine-id
ENV container=docker
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
'

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "==> building $IMAGE (systemd as PID 1 on $BASE; about a minute)" >&2
  log="$(mktemp /tmp/hostcare-systemd-build.XXXXXX)"
  if ! printf '%s' "$DOCKERFILE" | docker build --build-arg "BASE=$BASE" -t "$IMAGE" - >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "ERROR: building $IMAGE failed (full log: $log)" >&2
    exit 1
  fi
  rm -f "$log"
  # Images of older recipes are dead weight on the test machine's disk.
  docker images --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY" \
    | grep -v -x -e "$IMAGE" -e "$REPOSITORY:latest" | xargs -r docker rmi >/dev/null 2>&1 || true
fi
docker tag "$IMAGE" "$REPOSITORY:latest"
echo "$IMAGE"
