# The systemd test image (tests/images/systemd.Dockerfile) plus the services a sick VPS runs: Docker (also for
# Docker-in-Docker), PostgreSQL (15 on bookworm, 17 on trixie), nginx and logrotate. Their units are disabled, so
# nothing starts at boot: a scenario starts what it uses with systemctl, and a container of this image started with
# another command (the inner containers of Docker-in-Docker) runs none of them.
# From trixie on the docker command is a package of its own (docker-cli), which docker.io only recommends.
# The drop-in: Docker 26 (trixie) disables IPv6 on each container's interface by writing its sysctl, which a test
# container's read-only /proc/sys refuses ("set env var DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1 to ignore this
# error"); a real host's /proc/sys is writable. Docker 20.10 (bookworm) ignores the variable.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && cli="$(apt-cache show docker-cli >/dev/null 2>&1 && echo docker-cli || true)" \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker.io $cli postgresql postgresql-client nginx-light logrotate curl iproute2 iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && for unit in docker.service docker.socket containerd.service postgresql.service nginx.service; do \
      if [ -e "/lib/systemd/system/$unit" ]; then systemctl disable "$unit"; fi; \
    done \
 && mkdir -p /etc/systemd/system/docker.service.d \
 && printf '[Service]\nEnvironment=DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1\n' \
      > /etc/systemd/system/docker.service.d/hostcare-test.conf
