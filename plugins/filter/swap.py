# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The swap_size filter, documented in the sidecar file swap_size.yml.

It checks its arguments, raises AnsibleFilterError naming the bad one, and delegates to
plugins/module_utils/_swap_sizing.py (the recommendation, which the swapfile module's size auto uses too).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (
    SWAP_DISK_MAX_USE_PERCENT,
    SWAP_MAX_BYTES,
    SWAP_MAX_DISK_FRACTION,
    SWAP_ROUND_BYTES,
    fit_swap_to_disk,
    recommend_swap_bytes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import parse_swap_size
from ansible_collections.hostcare.vps.plugins.plugin_utils._filter_args import refuse_unknown_arguments


def _fail(name, message):
    raise AnsibleFilterError(f"hostcare.vps.{name}: {message}")


def _bytes_arg(name, key, value, required=False):
    """Bytes (at most 1 PiB) of a size argument; None when not given and not required."""
    if value is None:
        if required:
            _fail(name, f"{key} is required")
        return None
    try:
        return _validate.size(key, value)
    except OptionError as error:
        _fail(name, str(error))
    return None  # pragma: no cover - _fail raises


def _number_arg(name, key, value, low, high):
    """A number with low < value <= high; text such as "0.5" is refused (a number is expected here)."""
    try:
        if isinstance(value, str):
            raise OptionError(f"{key}: must be a number greater than {low:g} and at most {high:g}, got {value!r}")
        return _validate.number(key, value, minimum=low, maximum=high, exclusive_minimum=True)
    except OptionError as error:
        _fail(name, str(error))
    return None  # pragma: no cover - _fail raises


SWAP_SIZE_ARGUMENTS = ("ram_bytes", "disk_available_bytes", "disk_used_bytes", "max_use_percent", "max_bytes",
                       "round_to_bytes", "max_disk_fraction")


def swap_size(size, /, ram_bytes=None, disk_available_bytes=None, disk_used_bytes=None,
              max_use_percent=SWAP_DISK_MAX_USE_PERCENT, max_bytes=SWAP_MAX_BYTES, round_to_bytes=SWAP_ROUND_BYTES,
              max_disk_fraction=SWAP_MAX_DISK_FRACTION, **unknown):
    """Bytes of a swap size: an explicit size (``2G``, ``512MiB``, bytes) or ``auto``.

    ``auto`` is the collection's recommendation for ``ram_bytes`` of RAM; with ``disk_available_bytes`` it is what
    of that fits on the disk (0 when nothing does), by the same rule as the audit (fit_swap_to_disk).
    Every size is at most 1 PiB.
    """
    name = "swap_size"
    refuse_unknown_arguments(name, unknown, SWAP_SIZE_ARGUMENTS)
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
        _validate.size("size", size)
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
