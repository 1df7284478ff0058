# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every audit report a unit test produces is validated against docs/audit-report.schema.json (issue 12, item 5):
the report builders are wrapped here, before any test module imports them."""

from __future__ import annotations

import os
import sys

from ansible_collections.hostcare.vps.plugins.plugin_utils import _report

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "plugin_utils"))
from report_schema import validate_report  # noqa: E402  pylint: disable=wrong-import-position


def _validated(builder):
    def build(*args, **kwargs):
        return validate_report(builder(*args, **kwargs))
    build.__doc__ = builder.__doc__
    build.__wrapped__ = builder
    return build


_report.build_host_report = _validated(_report.build_host_report)
_report.build_fleet_summary = _validated(_report.build_fleet_summary)


def pytest_terminal_summary(terminalreporter):
    from report_schema import VALIDATED  # pylint: disable=import-outside-toplevel
    if VALIDATED:
        terminalreporter.write_line(f"audit reports validated against docs/audit-report.schema.json: {len(VALIDATED)}")
