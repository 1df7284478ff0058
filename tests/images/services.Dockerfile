# The base test image plus the services a sick VPS runs: Docker (for Docker-in-Docker), PostgreSQL 15,
# nginx and logrotate. Nothing is started at build time; scenarios start what they need.
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      docker.io postgresql postgresql-client nginx-light logrotate curl iproute2 iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
