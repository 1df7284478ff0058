# The docker command on top of the services image (tests/images/services.Dockerfile) for the suites where it is a
# package of its own: from trixie on, docker.io only recommends docker-cli, which --no-install-recommends skips,
# so dockerd runs but `docker` is missing (docker exec / docker load of Docker-in-Docker, method docker).
# A layer of its own so that the services images of the other suites keep their recipe (and their cached tags).
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-cli \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
