# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Every rule of the audit: the areas, imported in report order (findings of equal severity keep it), so that
their ``@rule`` functions register in the core (_audit.RULES). Whoever builds findings imports this module.

To add an area: write ``_audit_<area>.py`` with ``@rule`` functions (importing only public names of _audit,
_audit_host, _audit_fixes), add its thresholds to _audit.THRESHOLDS, and add it to AREAS below.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings

# Import order is registration order: swap and memory, disk, Docker, PostgreSQL, workload (memory owners,
# containers, systemd), apps.
# isort: off
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_swap
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_disk
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_logrotate
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_disk_files
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_docker
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_postgres
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_workload
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_containers
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_systemd
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit_apps
# isort: on

AREAS = (_audit_swap, _audit_disk, _audit_logrotate, _audit_disk_files, _audit_docker, _audit_postgres, _audit_workload,
         _audit_containers, _audit_systemd, _audit_apps)
"""The rule files, in report order."""


def audit_findings(host_facts, thresholds=None):
    """Every registered rule run on ``host_facts`` (see _audit.build_findings): the findings, most severe first."""
    return build_findings(host_facts, thresholds=thresholds)
