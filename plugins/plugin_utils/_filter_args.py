# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Keyword arguments a filter does not know: refused with AnsibleFilterError naming them, never a TypeError.

A filter declares ``**unknown`` and calls refuse_unknown_arguments() first, so that ``'auto' | swap_size(ram=4)``
says "ram: unknown argument ..." instead of Python's "got an unexpected keyword argument".
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.module_utils._validate import unknown_names


def refuse_unknown_arguments(filter_name, unknown, known):
    """Raise AnsibleFilterError "hostcare.vps.<filter_name>: <name>: unknown argument; ..." when ``unknown``."""
    if not unknown:
        return
    if known:
        message = "; ".join(unknown_names(unknown, known, what="argument"))
    else:
        message = f"{', '.join(sorted(map(str, unknown)))}: unknown argument(s); this filter takes none"
    raise AnsibleFilterError(f"hostcare.vps.{filter_name}: {message}")
