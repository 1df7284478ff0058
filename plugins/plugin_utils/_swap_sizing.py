# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""How much swap a server should have for its RAM.

Used by the audit (hostcare.vps.audit_findings) and meant for the swap role's ``size: auto``.
Pure functions, standard library only.

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
Optionally the result is capped to a share of the free disk space (``disk_available_bytes``).
"""

from __future__ import annotations

import math

GIB = 1024 ** 3
MIB = 1024 ** 2

SWAP_MAX_BYTES = 8 * GIB
"""Never recommend more than this."""

SWAP_ROUND_BYTES = 512 * MIB
"""Round the recommendation up to a multiple of this."""

SWAP_MAX_DISK_FRACTION = 0.25
"""With ``disk_available_bytes`` given, never take more than this share of the free space."""


def _check_bytes(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number of bytes, got {value!r}")
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


def recommend_swap_bytes(ram_bytes, max_bytes=SWAP_MAX_BYTES, round_to_bytes=SWAP_ROUND_BYTES,
                         disk_available_bytes=None, max_disk_fraction=SWAP_MAX_DISK_FRACTION):
    """Return the recommended swap size in bytes for a server with ``ram_bytes`` of RAM.

    ``max_bytes`` caps the result (the cap wins over rounding).  ``round_to_bytes`` rounds up (0 disables).
    ``disk_available_bytes``, when given, caps the result to ``max_disk_fraction`` of it, rounded *down*, so the
    swap file never eats the disk it lives on; the result may then be 0 (no room for swap).
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
    wanted = min(_round_up(wanted, step), cap)
    if disk_available_bytes is not None:
        available = _check_bytes(disk_available_bytes, "disk_available_bytes")
        if not 0 < max_disk_fraction <= 1:
            raise ValueError(f"max_disk_fraction must be in (0, 1], got {max_disk_fraction!r}")
        room = _round_down(int(available * max_disk_fraction), step)
        wanted = min(wanted, room)
    return wanted
