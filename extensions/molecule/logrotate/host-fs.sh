#!/usr/bin/env bash
# Host side of the `logrotate` scenario: the inner Docker daemon's data directory (extensions/molecule/shared/inner-docker-dir.sh).
#   host-fs.sh up|down
exec bash "$(dirname "$0")/../shared/inner-docker-dir.sh" hostcare-logrotate-host /var/tmp/hostcare-molecule-logrotate "$@"
