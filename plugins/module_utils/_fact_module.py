# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The one way a fact module of this collection ends: options checked first, the facts gathered, a clean failure
(never a traceback) when either goes wrong. Runs on the target's python3 (3.9+), standard library only."""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError


def gather_result(what, fact_name, gather, options, fail_on_unavailable=False):
    """One area's facts shaped like a fact module's result: ``{"ansible_facts": {fact_name: ...}}``, or
    ``failed`` with a message when ``gather(options)`` raised (never a traceback) or, with ``fail_on_unavailable``,
    when the facts say ``available: false``."""
    try:
        facts = gather(options)
    except Exception as error:  # pylint: disable=broad-except  # a fact module must fail cleanly, never with a traceback
        return {"failed": True, "msg": f"Could not gather {what} facts: {type(error).__name__}: {error}"}
    if facts.get("available") is False and fail_on_unavailable:
        return {"failed": True, "msg": f"{what} is not available ({facts.get('reason_code')}): {facts.get('reason')}",
                "ansible_facts": {fact_name: facts}}
    return {"ansible_facts": {fact_name: facts}}


def run_command_of(module):
    """The module's run_command in the C locale and without a pager (command output is parsed)."""
    return lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": ""})


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
    result = gather_result(what, fact_name, gather, options, bool(module.params.get("fail_on_unavailable")))
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(changed=False, **result)
