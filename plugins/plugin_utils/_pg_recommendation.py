# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The audit's PostgreSQL recommendation for one instance, as the settings the role hostcare.vps.postgresql_tune
applies: the very plan of ``postgres.memory_defaults`` (_audit_postgres.recommend_settings: PGTune on the instance's
share of the one RAM, fitted to the one memory model), for the settings the server has. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_postgres import recommend_settings
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import WORKLOADS


class RecommendationError(_validate.OptionError):
    """Bad input; the message names it."""


def recommendation(pg, swap, instances=1, workload=None, memory_limit=None):
    """{settings: {name: value as PGTune prints it}, budget: {bytes, source, reason}, fitted, warnings, ram_bytes}.

    ``pg``: the hostcare_postgres fact (pg_settings_facts); ``swap``: the hostcare_swap fact (swap_facts), whose
    MemTotal, capped by the container limit, is the one RAM the audit sizes for; ``memory_limit``: a PostgreSQL
    container's own memory limit (bytes or a size), which caps it further.
    """
    if not isinstance(pg, Mapping) or pg.get("available") is not True:
        reason = pg.get("reason") if isinstance(pg, Mapping) else None
        raise RecommendationError(f"postgres: the instance could not be read ({reason or 'no hostcare_postgres fact'})")
    try:
        instances = _validate.integer("instances", instances, minimum=1, maximum=64)
        limit = None if memory_limit is None else _validate.size("memory_limit", memory_limit, minimum=1)
    except _validate.OptionError as error:
        raise RecommendationError(str(error)) from None
    if workload is not None and workload not in WORKLOADS:
        raise RecommendationError(f"workload: {workload!r} is not allowed; expected one of {', '.join(WORKLOADS)}")
    ram, source = system_ram({"swap": swap if isinstance(swap, Mapping) else {}})
    if ram is None:
        raise RecommendationError("swap: no memory.total_bytes in the hostcare_swap fact (run hostcare.vps.swap_facts)")
    key = "swap.memory.total_bytes"
    if limit is not None:
        if limit < ram:
            ram, source, key = limit, "container memory limit", "memory_limit"
    plan = recommend_settings(pg, ram, source, instances, workload=workload)
    if plan is None:
        raise RecommendationError(f"{key}: the budget for this instance is below PGTune's 512MB ({ram} bytes of RAM "
                                  f"shared by {instances} instance(s), instances): nothing to size")
    known = pg.get("settings") or {}
    settings = {name: value for name, value in plan["tune"]["settings"].items() if name in known}
    return {"settings": settings, "budget": plan["budget"], "fitted": plan["fitted"],
            "warnings": list(plan["tune"].get("warnings") or []), "ram_bytes": int(ram), "ram_source": source}
