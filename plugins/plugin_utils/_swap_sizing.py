# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""How much swap a server should have: the one computation lives in plugins/module_utils/_swap_sizing.py (the swapfile
module sizes ``auto`` on the target with it); this name keeps the controller-side imports working."""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (  # noqa: F401 pylint: disable=unused-import
    GIB,
    MIB,
    SWAP_DISK_HEADROOM_BYTES,
    SWAP_DISK_MAX_USE_PERCENT,
    SWAP_MAX_BYTES,
    SWAP_MAX_DISK_FRACTION,
    SWAP_ROUND_BYTES,
    fit_swap_to_disk,
    recommend_swap_bytes,
)
