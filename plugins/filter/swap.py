# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swap_size filter, documented in the sidecar file swap_size.yml.

It checks its arguments, raises AnsibleFilterError naming the bad one, and delegates to
plugins/module_utils/_swap_sizing.py (the recommendation, which the swapfile module's size auto uses too).
"""

from __future__ import annotations

import math

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (
    SWAP_DISK_MAX_USE_PERCENT,
    SWAP_MAX_BYTES,
    SWAP_MAX_DISK_FRACTION,
    SWAP_ROUND_BYTES,
    fit_swap_to_disk,
    recommend_swap_bytes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import parse_swap_size
from ansible_collections.hostcare.vps.plugins.module_utils._units import parse_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError


def _fail(name, message):
    raise AnsibleFilterError(f"hostcare.vps.{name}: {message}")


def _bytes_arg(name, key, value, required=False):
    if value is None:
        if required:
            _fail(name, f"{key} is required")
        return None
    try:
        return parse_size(value, key)
    except OptionError as error:
        _fail(name, str(error))
    return None  # pragma: no cover - _fail raises


def _number_arg(name, key, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not low < value <= high:
        _fail(name, f"{key}: must be a number above {low:g} and at most {high:g}, got {value!r}")
    return value


def swap_size(size, ram_bytes=None, disk_available_bytes=None, disk_used_bytes=None,
              max_use_percent=SWAP_DISK_MAX_USE_PERCENT, max_bytes=SWAP_MAX_BYTES, round_to_bytes=SWAP_ROUND_BYTES,
              max_disk_fraction=SWAP_MAX_DISK_FRACTION):
    """Bytes of a swap size: an explicit size (``2G``, ``512MiB``, bytes) or ``auto``.

    ``auto`` is the collection's recommendation for ``ram_bytes`` of RAM; with ``disk_available_bytes`` it is what
    of that fits on the disk (0 when nothing does), by the same rule as the audit (fit_swap_to_disk).
    """
    name = "swap_size"
    if isinstance(size, str) and size.strip().lower() == "auto":
        ram = _bytes_arg(name, "ram_bytes", ram_bytes, required=True)
        available = _bytes_arg(name, "disk_available_bytes", disk_available_bytes)
        used = _bytes_arg(name, "disk_used_bytes", disk_used_bytes)
        cap = _bytes_arg(name, "max_bytes", max_bytes, required=True)
        step = _bytes_arg(name, "round_to_bytes", round_to_bytes, required=True)
        fraction = _number_arg(name, "max_disk_fraction", max_disk_fraction, 0, 1)
        use_limit = _number_arg(name, "max_use_percent", max_use_percent, 0, 100)
        try:
            wanted = recommend_swap_bytes(ram, max_bytes=cap, round_to_bytes=step)
            if available is None:
                return wanted
            return fit_swap_to_disk(wanted, available, used_bytes=used, max_use_percent=use_limit,
                                    max_disk_fraction=fraction, round_to_bytes=step)["bytes"]
        except ValueError as error:  # pragma: no cover - the arguments are checked above
            _fail(name, str(error))
    try:
        return parse_swap_size(size, "size")
    except OptionError as error:
        _fail(name, f"{error}; or auto for the collection's recommendation")
    return None  # pragma: no cover - _fail raises


class FilterModule:
    """hostcare.vps swap filter."""

    def filters(self):
        return {
            "swap_size": swap_size,
        }
