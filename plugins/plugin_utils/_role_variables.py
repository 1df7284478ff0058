# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The variables a role of this collection accepts, and the refusal of the others.

Used by the action plugin hostcare.vps.check_role_variables, the first task of every role. Pure functions: they take
names and the parsed meta/argument_specs.yml, and return messages (empty when all is well).

How a name is classified, for the role ``swap`` (prefix ``hostcare_swap_``):

- an option of meta/argument_specs.yml (``hostcare_swap_size``): an input, checked by the role's Python check;
- a declared output (``outputs``: a result the role registers for its caller, such as ``hostcare_bluegreen_result``);
- an internal name (registered results, set_fact, vars/main.yml): ``__hostcare_swap_...``, which does not start with
  the prefix, so it is never seen;
- the prefix of another role of the collection that extends this one (``hostcare_docker_cleanup_`` is not a variable
  of a role ``docker``): not this role's;
- anything else with the prefix (``hostcare_swap_sise``): refused, naming the closest known variable.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import role_input_errors as logrotate_role_input_errors
from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import role_input_errors as swap_role_input_errors
from ansible_collections.hostcare.vps.plugins.module_utils._validate import closest_name

NAMESPACE_PREFIX = "hostcare_"


def role_prefix(role_name):
    """The prefix of a role's variables: ``hostcare_<role>_`` (``hostcare.vps.swap`` -> ``hostcare_swap_``)."""
    return f"{NAMESPACE_PREFIX}{role_name.rsplit('.', 1)[-1]}_"


def argument_spec_options(argument_specs, entry_point="main"):
    """The option names of ``entry_point`` in a parsed meta/argument_specs.yml (its ``argument_specs`` mapping).

    Raises ValueError when the entry point or its options are missing: without them every variable would be unknown.
    """
    if not isinstance(argument_specs, dict):
        raise ValueError("meta/argument_specs.yml has no argument_specs mapping")
    spec = argument_specs.get(entry_point)
    if not isinstance(spec, dict) or not isinstance(spec.get("options"), dict):
        raise ValueError(f"meta/argument_specs.yml has no options for the entry point {entry_point!r}")
    return sorted(spec["options"])


def other_role_prefixes(prefix, role_names):
    """Prefixes of other roles that start with ``prefix`` (their variables are theirs, not unknown here)."""
    prefixes = {role_prefix(name) for name in role_names}
    return sorted(other for other in prefixes if other != prefix and other.startswith(prefix))


def unknown_role_variables(names, prefix, known, outputs=(), other_prefixes=()):
    """Messages for the names with ``prefix`` that are neither in ``known`` nor in ``outputs``.

    Each message names the variable and the closest known one (``hostcare_swap_sise: unknown variable;
    did you mean hostcare_swap_size?``). Names under one of ``other_prefixes`` belong to another role.
    """
    allowed = set(known) | set(outputs)
    unknown = sorted({name for name in names
                      if isinstance(name, str) and name.startswith(prefix) and name not in allowed
                      and not any(name.startswith(other) for other in other_prefixes)})
    # Compared without the prefix, which every name shares: hostcare_swap_x is not close to hostcare_swap_size.
    suffixes = {name[len(prefix):]: name for name in allowed}
    messages = []
    for name in unknown:
        suggestion = closest_name(name[len(prefix):], suffixes)
        hint = f"did you mean {suffixes[suggestion]}?" if suggestion else f"known: {', '.join(sorted(known))}"
        messages.append(f"{name}: unknown variable; {hint}")
    return messages


ROLE_VALUE_CHECKS = {
    "swap": swap_role_input_errors,
    "logrotate": logrotate_role_input_errors,
}
"""Roles whose inputs go to more than one task: their values are checked here, in the Python their modules use, so
that nothing changes before all of them passed. (A role whose inputs all go to one module, checked by that module
before it changes anything, needs no entry.)"""


def role_value_check(role_name):
    """The Python check of a role's values ({variable name: templated value} -> messages), or None."""
    return ROLE_VALUE_CHECKS.get(role_name.rsplit(".", 1)[-1])


def role_value_errors(role_name, values):
    """Problems with the values of a role's known variables ({variable name: templated value}); [] without a check."""
    check = role_value_check(role_name)
    return check(values) if check else []
