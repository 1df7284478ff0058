# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""validate_report(): a report the tests built must match docs/audit-report.schema.json (format_version 2).

The conftest of this directory wraps the report builders so that EVERY report a unit test produces is validated."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts"))
from validate_audit_report import load_schema, problems  # noqa: E402  pylint: disable=wrong-import-position

SCHEMA = load_schema()
VALIDATED = []
"""How many reports were validated in this test session."""


def validate_report(document):
    found = problems(document, SCHEMA)
    assert not found, "\n".join(found)
    VALIDATED.append(document.get("kind"))
    return document
