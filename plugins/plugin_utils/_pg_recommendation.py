# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The audit's PostgreSQL recommendation for one instance, as the settings the role hostcare.vps.postgresql_tune
applies: the very plan of ``postgres.memory_defaults`` (_pg_plan.instance_recommendation with the audit's default
thresholds: PGTune on the one RAM minus what everything else was measured to use, shared by the instances, capped
by the container's own memory limit, fitted to the one memory model), for the settings the server has. Pure
functions."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import DEFAULT_THRESHOLDS
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_plan import container_memory_limit, instance_recommendation
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import WORKLOADS

GIVEN_LIMIT_SOURCE = "memory_limit given"


class RecommendationError(_validate.OptionError):
    """Bad input; the message names it."""


def _checked(pg, swap, workload_facts, instances, workload, memory_limit):
    if not isinstance(pg, Mapping) or pg.get("available") is not True:
        reason = pg.get("reason") if isinstance(pg, Mapping) else None
        raise RecommendationError(f"postgres: the instance could not be read ({reason or 'no hostcare_postgres fact'})")
    if workload_facts is not None and not isinstance(workload_facts, Mapping):
        raise RecommendationError(f"workload_facts: expected the hostcare_workload fact (a dict), got "
                                  f"{type(workload_facts).__name__}")
    try:
        instances = _validate.integer("instances", instances, minimum=1, maximum=64)
        limit = None if memory_limit is None else _validate.size("memory_limit", memory_limit, minimum=1)
    except _validate.OptionError as error:
        raise RecommendationError(str(error)) from None
    if workload is not None and workload not in WORKLOADS:
        raise RecommendationError(f"workload: {workload!r} is not allowed; expected one of {', '.join(WORKLOADS)}")
    facts = {"swap": swap if isinstance(swap, Mapping) else {}}
    if workload_facts is not None:
        facts["workload"] = workload_facts
    if system_ram(facts)[0] is None:
        raise RecommendationError("swap: no memory.total_bytes in the hostcare_swap fact (run hostcare.vps.swap_facts)")
    return facts, instances, limit


def recommendation(pg, swap, instances=1, workload=None, memory_limit=None, workload_facts=None, container=None):
    """{settings: {name: value as PGTune prints it}, budget: {bytes, source, reason, ...}, fitted, warnings,
    ram_bytes, ram_source, summary (one line saying the budget, why, and which memory limit was used)}.

    ``pg``: the hostcare_postgres fact (pg_settings_facts); ``swap``: the hostcare_swap fact (swap_facts), whose
    MemTotal, capped by the container limit, is the one RAM the audit sizes for; ``workload_facts``: the
    hostcare_workload fact (workload_facts), what everything else uses (the audit's measured budget) and the
    containers' memory limits; ``container``: the instance's container when it is reached with docker exec, whose
    own limit (HostConfig.Memory) caps the budget unless ``memory_limit`` (bytes or a size) is given.
    """
    facts, instances, limit = _checked(pg, swap, workload_facts, instances, workload, memory_limit)
    source = GIVEN_LIMIT_SOURCE if limit is not None else None
    if limit is None and container and pg.get("method") == "docker":
        if workload_facts is None:
            raise RecommendationError(f"workload_facts: needed to read the memory limit of container {container} "
                                      f"(run hostcare.vps.workload_facts), or give memory_limit")
        try:
            limit, source = container_memory_limit(facts, pg, container)
        except LookupError as error:
            raise RecommendationError(f"container: the memory limit of {container} could not be read: {error}; "
                                      f"give memory_limit") from None
    plan = instance_recommendation(facts, pg, instances, DEFAULT_THRESHOLDS, workload, limit, source)
    if plan is None:
        ram, _source = system_ram(facts)
        raise RecommendationError(f"swap.memory.total_bytes: the budget for this instance is below PGTune's 512MB "
                                  f"({ram} bytes of RAM shared by {instances} instance(s), instances"
                                  f"{', minus what the rest uses' if workload_facts is not None else ''}"
                                  f"{f', memory_limit {limit}' if limit is not None else ''}): nothing to size")
    budget = plan["budget"]
    summary = (f"{format_size(budget['bytes'])} for PostgreSQL: {budget['reason']}; memory limit: "
               f"{budget.get('memory_limit_source') or 'none (not reached through docker exec)'}")
    known = pg.get("settings") or {}
    settings = {name: value for name, value in plan["tune"]["settings"].items() if name in known}
    return {"settings": settings, "budget": plan["budget"], "fitted": plan["fitted"],
            "warnings": list(plan["tune"].get("warnings") or []), "ram_bytes": plan["ram_bytes"],
            "ram_source": plan["ram_source"], "summary": summary}
