# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's one entry point: facts in, findings, report files and console summary out, on the controller.

A thin shell: the work is in plugins/plugin_utils/_audit_entry.py. It never touches the managed host.
"""

from __future__ import annotations

import datetime
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.hostcare.vps.plugins.module_utils import _audit_report_args
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_bytes, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path, integer
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import AuditError
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import (
    MAX_CPU_COUNT,
    facts_from_results,
    fleet_report,
    host_report,
    report_files,
    summary_lines,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.hostcare.vps.plugins.plugin_utils._prometheus import render_textfile
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import ReportError


def _today():
    """Today's date (UTC), against which the expiry of the accepted risks (option ignore) is judged."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ActionModule(ControllerAction):
    ARGUMENT_SPEC = _audit_report_args.ARGUMENT_SPEC
    MUTUALLY_EXCLUSIVE = _audit_report_args.MUTUALLY_EXCLUSIVE

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._validated_args()
        try:
            report_dir = absolute_path("dir", os.path.abspath(args["dir"]))
            if args["reports"] is not None:
                name = "fleet"
                report = fleet_report(args["reports"], generated_at=_now(), not_audited=args["not_audited"])
            else:
                name = args["host"] or (task_vars or {}).get("inventory_hostname")
                if not name or os.path.basename(name) != name or name in (".", ".."):
                    raise AuditError(f"host must be a plain host name (it names the report files), got {name!r}")
                results = {key: args[key] for key in ("swap", "disk", "docker", "workload") if args[key] is not None}
                for key in ("swap", "disk"):
                    results.setdefault(key, {"msg": f"no {key} facts were given to hostcare.vps.audit_report"})
                facts = facts_from_results(results, postgres_results=args["postgres"], apps=args["apps"],
                                           cpu_count=_cpu_count(args["cpu_count"]))
                report = host_report(name, facts, thresholds=args["thresholds"], generated_at=_now(),
                                     ignore=args["ignore"], today=_today())
            files = report_files(name, report)
            summary = summary_lines(report, report_path=os.path.join(report_dir, f"{name}.md"),
                                    show_ok=args["show_ok"])
            if args["prometheus"]:
                if args["reports"] is not None:
                    raise AuditError("prometheus: the Prometheus textfile is one host's; it is not made in fleet mode "
                                     "(reports)")
                result["prometheus_text"] = render_textfile(report)
        except (AuditError, ReportError, OptionError) as error:
            raise AnsibleActionFail(f"hostcare.vps.audit_report: {to_text(error)}") from None

        paths = [os.path.join(report_dir, file_name) for file_name in sorted(files)]
        changed = [path for path in paths if read_bytes(path) != to_bytes(files[os.path.basename(path)])]
        result.update(changed=bool(changed), paths=paths, changed_paths=changed, report=report, summary=summary)
        if self._task.check_mode or not changed:
            return result
        try:
            for path in changed:
                write_atomically(path, files[os.path.basename(path)])  # a reader never sees half a report
        except OSError as error:
            raise AnsibleActionFail(f"hostcare.vps.audit_report: could not write the report in {report_dir}: "
                                    f"{to_text(error)}") from error
        return result


def _cpu_count(value):
    """The CPU count (raw in the spec: ansible-core's int check crashes on inf), 1 to 4096, or None."""
    return None if value is None else integer("cpu_count", value, minimum=1, maximum=MAX_CPU_COUNT)
