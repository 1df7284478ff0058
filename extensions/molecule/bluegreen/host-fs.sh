#!/usr/bin/env bash
# Host side of the `bluegreen` scenario: the inner Docker daemon's data directory (extensions/molecule/shared/inner-docker-dir.sh).
#   host-fs.sh up|down
exec bash "$(dirname "$0")/../shared/inner-docker-dir.sh" hostcare-bluegreen-host /var/tmp/hostcare-molecule-bluegreen "$@"
