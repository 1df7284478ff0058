# The systemd test image (tests/images/systemd.Dockerfile) plus the services a sick VPS runs: Docker (also for
# Docker-in-Docker), PostgreSQL (15 on bookworm, 17 on trixie), nginx and logrotate. Their units are disabled, so
# nothing starts at boot: a scenario starts what it uses with systemctl, and a container of this image started with
# another command (the inner containers of Docker-in-Docker) runs none of them.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker.io postgresql postgresql-client nginx-light logrotate curl iproute2 iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && for unit in docker.service docker.socket containerd.service postgresql.service nginx.service; do \
      if [ -e "/lib/systemd/system/$unit" ]; then systemctl disable "$unit"; fi; \
    done
