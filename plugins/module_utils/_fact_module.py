# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The one way a fact module of this collection ends: options checked first, the facts gathered, a clean failure
(never a traceback) when either goes wrong. Runs on the target's python3 (3.9+), standard library only."""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError


def exit_with_facts(module, fact_name, what, gather, check=None):
    """Exit ``module`` with ``ansible_facts={fact_name: gather(check(module.params))}``.

    ``check`` (params -> the checked options) raises OptionError naming the option: the module fails with that
    message before anything is read. Any exception of ``gather`` fails the module with "Could not gather <what>
    facts: ...". Facts that say ``available: false`` fail it when the option ``fail_on_unavailable`` is set.
    """
    try:
        options = check(module.params) if check else None
    except OptionError as error:
        module.fail_json(msg=str(error))
    try:
        facts = gather(options)
    except Exception as error:  # pylint: disable=broad-except  # a fact module must fail cleanly, never with a traceback
        module.fail_json(msg=f"Could not gather {what} facts: {type(error).__name__}: {error}")
    if facts.get("available") is False and module.params.get("fail_on_unavailable"):
        module.fail_json(msg=f"{what} is not available ({facts.get('reason_code')}): {facts.get('reason')}",
                         ansible_facts={fact_name: facts})
    module.exit_json(changed=False, ansible_facts={fact_name: facts})
