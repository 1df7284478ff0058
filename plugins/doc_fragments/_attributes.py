# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this doc fragment is PRIVATE to the hostcare.vps collection.

from __future__ import annotations


class ModuleDocFragment:
    # Standard attributes of a facts module.
    FACTS = r"""
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same facts.
  diff_mode:
    support: N/A
    description: The module changes nothing, so there is no diff.
  facts:
    support: full
    description: The module returns its results as C(ansible_facts).
"""
