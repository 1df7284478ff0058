# The base test image booting systemd as PID 1 (tests/images/build-systemd.sh).
# systemd recognises a container by $container (Docker does not set it). SIGRTMIN+3 is how systemd wants to be
# stopped: `docker stop` then shuts the units down instead of waiting 10 s for SIGKILL. The machine id is left
# empty so that every container gets its own at boot (and its own journal directory). logind and the gettys have
# nothing to do in a container; masked, they cannot fail and leave systemd "degraded".
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
