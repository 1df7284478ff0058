# The systemd test image (tests/images/systemd.Dockerfile) plus Docker, nginx and logrotate; Docker and nginx started by their systemd
# units at boot: dockerd under systemd, with an app container behind nginx (extensions/molecule/systemd_docker).
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io nginx-light logrotate curl iproute2 iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
