# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate audit reports (<host>.json, fleet.json) against docs/audit-report.schema.json.

    python3 tests/scripts/validate_audit_report.py REPORT.json [...]

Exit 0 when every file is valid, 1 with one line per problem otherwise. The Molecule audit scenario runs it on the
reports it produced; the unit tests use validate_report() on every report they build.
"""

from __future__ import annotations

import json
import os
import sys

import jsonschema

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "audit-report.schema.json")


def load_schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def problems(document, schema=None):
    """Every schema violation of ``document``, as 'path: message' lines (empty when valid)."""
    validator = jsonschema.Draft202012Validator(schema or load_schema())
    lines = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        lines.append(f"{where}: {error.message}")
        # oneOf (host or fleet): say why the matching kind failed, not only that neither matched
        kind = document.get("kind") if isinstance(document, dict) else None
        for sub in error.context or []:
            if kind and f"'{kind}'" not in sub.message and sub.validator != "const":
                lines.append(f"  {'/'.join(str(p) for p in sub.absolute_path) or '(top)'}: {sub.message}")
    return lines


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    schema = load_schema()
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            found = problems(json.load(handle), schema)
        for line in found:
            print(f"{path}: {line}")
        failed = failed or bool(found)
        if not found:
            print(f"{path}: valid")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
