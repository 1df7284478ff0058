# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The class header of the actions that run on the controller only (audit_report, heal_plan, heal_report,
check_role_variables): no file transferred, no connection to the managed host, the task's arguments checked
against the action's argument spec before anything else.

Their module stubs document the matching attributes with the doc fragment hostcare.vps._attributes.controller.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Base of an action that runs on the controller only.

    A subclass sets ``ARGUMENT_SPEC`` (and ``MUTUALLY_EXCLUSIVE`` / ``REQUIRED_ONE_OF`` when its options need them);
    ``_VALID_ARGS`` (the option names Ansible accepts for the task) follows from ``ARGUMENT_SPEC``, and
    ``_validated_args()`` returns the task's arguments checked and with their defaults.
    """

    TRANSFERS_FILES = False
    _requires_connection = False
    ARGUMENT_SPEC: dict = {}
    MUTUALLY_EXCLUSIVE = None
    REQUIRED_ONE_OF = None
    _VALID_ARGS = frozenset()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._VALID_ARGS = frozenset(cls.ARGUMENT_SPEC)

    def _validated_args(self):
        """The task's arguments checked against the spec, defaults filled in; a bad one fails the task (also in
        check mode) before anything is done."""
        return self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, mutually_exclusive=self.MUTUALLY_EXCLUSIVE,
                                           required_one_of=self.REQUIRED_ONE_OF)[1]
