#!/usr/bin/env bash
# Host side of the `postgresql_tune` scenario: the inner Docker daemon's data directory (extensions/molecule/shared/inner-docker-dir.sh).
#   host-fs.sh up|down
exec bash "$(dirname "$0")/../shared/inner-docker-dir.sh" hostcare-postgresql_tune-host /var/tmp/hostcare-molecule-postgresql_tune "$@"
