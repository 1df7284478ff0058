#!/usr/bin/env bash
# Host side of the `audit_workload` scenario: the inner Docker daemon's data directory (extensions/molecule/shared/inner-docker-dir.sh).
#   host-fs.sh up|down
exec bash "$(dirname "$0")/../shared/inner-docker-dir.sh" hostcare-audit-workload-host /var/tmp/hostcare-molecule-audit_workload "$@"
