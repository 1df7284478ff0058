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

    # Attributes shared by the controller-side action modules (audit_report, heal_plan, heal_report,
    # check_role_variables; their action class is plugin_utils/_controller_action.ControllerAction). A module adds
    # the descriptions of check_mode and diff_mode, which say what that module does, and may override any key: an
    # attribute's keys in the module win over the fragment's (ansible-core merges them per attribute).
    CONTROLLER = r"""
attributes:
  action:
    support: full
    description: Runs as an action plugin on the controller.
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
    description: The controller.
"""
