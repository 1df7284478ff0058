# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""pg_settings' memory units (B, kB, 8kB, MB, 16MB, GB, TB) in bytes: one reading for the facts, the audit and
hostcare.vps.postgresql_settings. Pure functions."""

from __future__ import annotations

import re

_MEMORY_UNIT_RE = re.compile(r"^(?P<count>\d*)(?P<unit>B|kB|MB|GB|TB)$")
_MEMORY_UNIT_BYTES = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def memory_unit_bytes(unit):
    """Bytes in one `unit` of pg_settings (B, kB, 8kB, MB, 16MB, GB, TB); None for other units (ms, s) and none."""
    match = _MEMORY_UNIT_RE.match(unit or "")
    if not match:
        return None
    return int(match.group("count") or 1) * _MEMORY_UNIT_BYTES[match.group("unit")]


def setting_in_bytes(setting, unit):
    """A memory setting in bytes; None when it is not one, or -1 and the like (meaning: use another setting)."""
    multiplier = memory_unit_bytes(unit)
    if multiplier is None or not re.match(r"^\d+$", setting or ""):
        return None
    return int(setting) * multiplier
