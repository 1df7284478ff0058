# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's public filter, audit_findings (documented in audit_findings.yml): facts in, findings out.

The report itself (files, console summary, fleet summary) is built by the action plugin hostcare.vps.audit_report.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import AuditError, resolve_thresholds
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import check_facts
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_rules import audit_findings as build_findings
from ansible_collections.hostcare.vps.plugins.plugin_utils._filter_args import refuse_unknown_arguments


def audit_findings(facts, /, thresholds=None, **unknown):
    """{swap, disk, docker, postgres: [...], errors: {...}} -> findings sorted by severity."""
    refuse_unknown_arguments("audit_findings", unknown, ("thresholds",))
    try:
        check_facts(facts)
        resolve_thresholds(thresholds)
        return build_findings(facts, thresholds=thresholds)
    except AuditError as exc:
        raise AnsibleFilterError(f"hostcare.vps.audit_findings: {exc}") from None


class FilterModule:
    """hostcare.vps audit filter."""

    def filters(self):
        return {"audit_findings": audit_findings}
