# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Byte sizes: parse the size strings users write, format sizes for humans.

All units are binary (1 KB = 1 KiB = 1024 bytes), as PostgreSQL, fallocate and PGTune use them.
Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import math
import re

from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

_MULTIPLIERS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4, "P": 1024 ** 5}

# "512", "512B", "2G", "2GB", "2GiB", "1.5 GB", "100k". A lowercase "b" means bits and is refused ("2Gb").
# ASCII only: \d would also match Arabic-Indic and other Unicode digits.
_SIZE_RE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<prefix>[kKmMgGtTpP]?)(?P<suffix>i?B)?\s*$", re.ASCII)

ALLOWED_SIZE_FORMS = "a number of bytes or a size such as 512MB, 2G, 1.5GiB (binary units B, K, M, G, T, P)"


class SizeError(OptionError):
    """Raised for a size that cannot be parsed; the message says what is allowed."""


def parse_size(value, option="size"):
    """Return the number of bytes in `value` (int or size string). Raise SizeError naming `option`."""
    if isinstance(value, bool):
        raise SizeError(f"{option}: expected {ALLOWED_SIZE_FORMS}, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise SizeError(f"{option}: must not be negative, got {value}")
        return value
    if isinstance(value, float):
        if value < 0 or not math.isfinite(value):
            raise SizeError(f"{option}: must be a finite non-negative number of bytes, got {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise SizeError(f"{option}: expected {ALLOWED_SIZE_FORMS}, got {type(value).__name__} {value!r}")
    match = _SIZE_RE.match(value)
    if not match:
        raise SizeError(f"{option}: {value!r} is not a valid size; expected {ALLOWED_SIZE_FORMS}")
    prefix = match.group("prefix").upper()
    if match.group("suffix") == "iB" and not prefix:
        raise SizeError(f"{option}: {value!r} is not a valid size; expected {ALLOWED_SIZE_FORMS}")
    return int(float(match.group("number")) * _MULTIPLIERS[prefix])


def format_size(num_bytes):
    """Human-readable binary size with one decimal: 1536 -> '1.5 KiB', 0 -> '0 B'. None -> 'unknown'."""
    if num_bytes is None:
        return "unknown"
    value = float(num_bytes)
    sign = "-" if value < 0 else ""
    value = abs(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            if unit == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.1f} {unit}"
        value /= 1024
    return f"{sign}{value:.1f} PiB"  # pragma: no cover


def percent(part, whole):
    """part/whole*100 rounded to one decimal; None when whole is 0 or unknown."""
    if not whole or part is None:
        return None
    return round(part * 100.0 / whole, 1)
