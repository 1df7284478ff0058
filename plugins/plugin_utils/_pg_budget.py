# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The memory PostgreSQL may use on a shared host (the "budget" of hostcare.vps.pg_tune).

PGTune assumes a dedicated server. On a VPS shared with applications, PGTune's formulas run on a budget instead
of the RAM. At most one of three ways to set it:

* ``memory_share``: a fraction of the RAM (0 < x <= 1);
* ``reserve``: memory to leave to everything else (budget = RAM - reserve);
* ``measured_other_bytes`` (+ ``os_reserve``, default 512MB): what the other processes and containers were
  measured to use (budget = RAM - measured - OS reserve);

and ``memory_limit`` (a cgroup/container limit) caps the result. Without any of these keys the budget is the
RAM. Pure functions, standard library only.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size

from ansible_collections.hostcare.vps.plugins.module_utils._validate import MIB

BUDGET_KEYS = ("memory_share", "reserve", "measured_other_bytes", "os_reserve", "memory_limit")
EXCLUSIVE_KEYS = ("memory_share", "reserve", "measured_other_bytes")
DEFAULT_OS_RESERVE_BYTES = 512 * MIB
"""Left to the kernel, sshd, journald... when the budget comes from a measurement."""
SOURCES = ("total", "memory_share", "reserve", "measured", "memory_limit")


class PgBudgetError(_validate.OptionError):
    """Bad budget input; the message names the key."""


def has_budget_keys(inputs):
    return any(inputs.get(key) is not None for key in BUDGET_KEYS)


def _size(inputs, key, positive=False):
    try:
        value = _validate.size(key, inputs[key])
    except _validate.OptionError as error:
        raise PgBudgetError(str(error)) from None
    if positive and value <= 0:
        raise PgBudgetError(f"{key}: must be more than 0, got {inputs[key]!r}")
    return value


def _share(value):
    try:
        share = _validate.number("memory_share", value, minimum=0, maximum=1, exclusive_minimum=True,
                                 what="a fraction of RAM")
    except _validate.OptionError as error:
        raise PgBudgetError(str(error)) from None
    return float(share)


def normalise_budget(inputs):
    """The budget keys of ``inputs`` checked and normalised (sizes in bytes); only the keys that are set."""
    given = [key for key in EXCLUSIVE_KEYS if inputs.get(key) is not None]
    if len(given) > 1:
        raise PgBudgetError(f"{' and '.join(given)}: give only one of {', '.join(EXCLUSIVE_KEYS)}")
    if inputs.get("os_reserve") is not None and inputs.get("measured_other_bytes") is None:
        raise PgBudgetError("os_reserve: only used with measured_other_bytes")
    result = {}
    if inputs.get("memory_share") is not None:
        result["memory_share"] = _share(inputs["memory_share"])
    for key in ("reserve", "measured_other_bytes", "os_reserve"):
        if inputs.get(key) is not None:
            result[key] = _size(inputs, key)
    if inputs.get("memory_limit") is not None:
        result["memory_limit"] = _size(inputs, "memory_limit", positive=True)
    return result


def compute_budget(memory, budget_inputs, minimum):
    """{bytes, source, reason} for ``memory`` bytes of RAM and normalised ``budget_inputs``.

    Raise PgBudgetError naming the key when the budget falls below ``minimum`` bytes (PGTune's 512MB).
    """
    ram = format_size(memory)
    value, source, key = memory, "total", "memory"
    reason = f"all of the RAM ({ram}): a dedicated PostgreSQL server, as PGTune assumes"
    if "memory_share" in budget_inputs:
        share = budget_inputs["memory_share"]
        value, source, key = int(memory * share), "memory_share", "memory_share"
        reason = f"memory_share {share:g} of {ram} RAM"
    elif "reserve" in budget_inputs:
        reserve = budget_inputs["reserve"]
        value, source, key = memory - reserve, "reserve", "reserve"
        reason = f"{ram} RAM minus reserve {format_size(reserve)} left to everything else"
    elif "measured_other_bytes" in budget_inputs:
        other = budget_inputs["measured_other_bytes"]
        os_reserve = budget_inputs.get("os_reserve", DEFAULT_OS_RESERVE_BYTES)
        value, source, key = memory - other - os_reserve, "measured", "measured_other_bytes"
        reason = (f"{ram} RAM minus {format_size(other)} measured in the other processes and containers "
                  f"minus an OS reserve of {format_size(os_reserve)}")
    limit = budget_inputs.get("memory_limit")
    if limit is not None and limit < value:
        reason = f"the memory limit {format_size(limit)} (cgroup/container), below {reason} ({format_size(value)})"
        value, source, key = limit, "memory_limit", "memory_limit"
    if value < minimum:
        raise PgBudgetError(f"{key}: leaves {format_size(max(value, 0))} to PostgreSQL ({reason}); PGTune needs at "
                            f"least {format_size(minimum)}")
    return {"bytes": int(value), "source": source, "reason": reason}


MEASURED_FLOOR_SHARE = 0.25
"""The budget from a measurement never falls below this share of the RAM (the audit's postgres_budget_floor_share):
a host whose apps use nearly everything still gets a PostgreSQL sized for a quarter of it, and the audit's
memory.budget finding says the host is overcommitted."""


def measured_share(memory, other, instances=1, os_reserve=DEFAULT_OS_RESERVE_BYTES, floor_share=MEASURED_FLOOR_SHARE):
    """(share of ``memory`` per PostgreSQL instance, reason): RAM minus ``other`` bytes measured in everything else
    minus ``os_reserve``, at least ``floor_share`` of the RAM, divided among ``instances``; for pg_tune's
    memory_share."""
    free = memory - other - os_reserve
    floor = memory * floor_share
    reason = (f"{format_size(memory)} RAM minus {format_size(other)} measured in the other processes and containers "
              f"minus an OS reserve of {format_size(os_reserve)}")
    if free < floor:
        reason += f" is below the floor of {floor_share:g} of the RAM, so {format_size(int(floor))}"
        free = floor
    if instances > 1:
        reason += f", divided among {instances} PostgreSQL instances"
    return min(1.0, max(free / instances / memory, 1e-6)), reason
