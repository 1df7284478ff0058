# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""How much swap a server should have for its RAM.

Used by the audit (hostcare.vps.audit_findings and audit_report), the swap_size filter and the
swapfile module's ``size: auto``, so all of them name the same size for the same host. A module util (not a plugin
util) because the swapfile module runs it on the target. Pure functions, standard library only, python 3.9+.

The rule, for servers (swap is a safety net against the OOM killer, not extra memory):

=================  ==============================  ====================
RAM                recommended swap                 examples
=================  ==============================  ====================
<= 2 GiB           2 x RAM                          1 GiB -> 2 GiB
2 GiB .. 4 GiB     4 GiB                            3 GiB -> 4 GiB
4 GiB .. 8 GiB     = RAM                            6 GiB -> 6 GiB
> 8 GiB            8 GiB (the cap, ``max_bytes``)   24 GiB -> 8 GiB
=================  ==============================  ====================

The curve is continuous (no jump at a band edge) and never decreases with RAM. The result is rounded up to a
multiple of ``round_to_bytes`` (512 MiB), so a "4 GB" VPS whose kernel reports 3.8 GiB MemTotal gets 4 GiB.
More swap than 8 GiB does not save a small server: it only makes it thrash longer before the OOM killer acts.
``fit_swap_to_disk`` then says how much of it fits on the filesystem that will hold the file.
"""

from __future__ import annotations

import math

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import GIB, MIB

SWAP_MAX_BYTES = 8 * GIB
"""Never recommend more than this."""

SWAP_ROUND_BYTES = 512 * MIB
"""Round the recommendation up to a multiple of this."""

SWAP_MAX_DISK_FRACTION = 0.25
"""When free space is short, a swap file takes at most this share of it (see fit_swap_to_disk)."""


def _check_bytes(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number of bytes (finite), got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return int(value)


def _round_up(value, step):
    if step <= 0:
        return value
    return -(-value // step) * step


def _round_down(value, step):
    if step <= 0:
        return value
    return (value // step) * step


def recommend_swap_bytes(ram_bytes, max_bytes=SWAP_MAX_BYTES, round_to_bytes=SWAP_ROUND_BYTES):
    """Return the recommended swap size in bytes for a server with ``ram_bytes`` of RAM, before any disk limit.

    ``max_bytes`` caps the result (the cap wins over rounding).  ``round_to_bytes`` rounds up (0 disables).
    Raises ValueError for a negative or non-numeric size.
    """
    ram = _check_bytes(ram_bytes, "ram_bytes")
    cap = _check_bytes(max_bytes, "max_bytes")
    step = _check_bytes(round_to_bytes, "round_to_bytes")
    if ram == 0:
        return 0
    if ram <= 2 * GIB:
        wanted = 2 * ram
    elif ram <= 4 * GIB:
        wanted = 4 * GIB
    else:
        wanted = ram
    return min(_round_up(wanted, step), cap)


SWAP_DISK_MAX_USE_PERCENT = 90.0
"""A swap file must not take its filesystem above this use (df's Use%)."""

SWAP_DISK_HEADROOM_BYTES = 1 * GIB
"""Below ``wanted + this`` of free space, the quarter-of-the-free-space cap applies too."""


def fit_swap_to_disk(wanted_bytes, available_bytes, used_bytes=None, use_percent=None, mount="/",
                     max_use_percent=SWAP_DISK_MAX_USE_PERCENT, max_disk_fraction=SWAP_MAX_DISK_FRACTION,
                     round_to_bytes=SWAP_ROUND_BYTES, headroom_bytes=SWAP_DISK_HEADROOM_BYTES):
    """How much of ``wanted_bytes`` of swap file fits on the filesystem ``mount``, and why.

    The file must leave the filesystem at most ``max_use_percent`` used (df's Use% = used / (used + available));
    ``used_bytes`` or else ``use_percent`` gives the used part (neither: this limit is not checked). When the free
    space is short (below wanted + ``headroom_bytes``), the file also takes at most ``max_disk_fraction`` of it.
    The result is rounded down to ``round_to_bytes``. Returns {bytes, wanted_bytes, room_bytes, limited_by
    (None|use_limit|free_share), max_use_percent, reason} where bytes is 0 when nothing fits.
    """
    wanted = _check_bytes(wanted_bytes, "wanted_bytes")
    available = _check_bytes(available_bytes, "available_bytes")
    step = _check_bytes(round_to_bytes, "round_to_bytes")
    if not 0 < max_use_percent <= 100:
        raise ValueError(f"max_use_percent must be in (0, 100], got {max_use_percent!r}")
    if not 0 < max_disk_fraction <= 1:
        raise ValueError(f"max_disk_fraction must be in (0, 1], got {max_disk_fraction!r}")
    used = None
    if used_bytes is not None:
        used = _check_bytes(used_bytes, "used_bytes")
    elif use_percent is not None and 0 <= use_percent < 100:
        used = int(available * use_percent / (100.0 - use_percent))
    rooms = []
    if used is not None:
        rooms.append((max(0, int((used + available) * max_use_percent / 100.0) - used), "use_limit"))
    if available < wanted + headroom_bytes:
        rooms.append((int(available * max_disk_fraction), "free_share"))
    rooms.append((available, "free_share"))
    room, binding = min(rooms, key=lambda pair: pair[0])
    room = _round_down(room, step)
    result = {"wanted_bytes": wanted, "room_bytes": room, "max_use_percent": max_use_percent,
              "limited_by": None, "bytes": wanted}
    if room >= wanted:
        result["reason"] = (f"{format_size(wanted)} fits on {mount} ({format_size(available)} free) and leaves it under "
                            f"{max_use_percent:g}% use")
        return result
    result.update({"bytes": room, "limited_by": binding})
    now = f"{mount} has {format_size(available)} free" + (
        f" and is {used * 100.0 / (used + available):.1f}% used" if used is not None and used + available else "")
    if binding == "use_limit":
        why = f"a bigger file would take {mount} above {max_use_percent:g}% use"
    else:
        why = f"a swap file takes at most {max_disk_fraction:g} of the free space, so the disk does not fill up"
    if room <= 0:
        result["reason"] = f"no swap file fits: {now}; {why}"
    else:
        result["reason"] = f"only {format_size(room)} of the {format_size(wanted)} fits: {now}; {why}"
    return result
