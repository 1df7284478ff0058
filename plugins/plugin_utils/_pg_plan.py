# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The one PostgreSQL recommendation for one instance on a host, used by the audit's ``postgres.memory_defaults``
and by the role hostcare.vps.postgresql_tune (_pg_recommendation.py) alike: PGTune (_pg_tune.py) on the one RAM
(_audit_host.system_ram) minus what everything else was measured to use (_audit_host.measured_other_memory,
hostcare.vps.workload_facts) with a floor (_pg_budget.measured_share), shared by the instances, capped by the
instance's own container memory limit (HostConfig.Memory as workload_facts read it through the Docker Engine API),
fitted to the one memory model (_pg_memory.py).

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import measured_other_memory, system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import int_setting
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_budget import MEASURED_FLOOR_SHARE, measured_share
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_diff import pg_diff
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import (
    CRITICAL_PERCENT,
    WARNING_PERCENT,
    WORK_MEM_FACTOR,
    fit_to_budget,
    model_settings,
    with_values,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import (
    MIN_CONNECTIONS,
    PgTuneError,
    VERSIONS,
    format_pg_kb,
    normalise_inputs,
    pg_tune,
)


LIMIT_SOURCE_FACTS = "HostConfig.Memory"
"""How the container's own limit is named in the budget when it comes from the workload facts."""


def _tune_version(pg):
    """PostgreSQL major of the facts, within PGTune's range (10-18), or None (PGTune's default)."""
    major = core.as_number(core.as_dict(pg.get("version")).get("major")) if isinstance(pg, Mapping) else None
    if major is None:
        return None
    return min(max(int(major), VERSIONS[0]), VERSIONS[-1])


def model_limits(limits=None):
    """(work_mem factor, warning percent, critical percent) of the one memory model, from the audit thresholds."""
    limits = limits or {}
    return (limits.get("postgres_work_mem_factor", WORK_MEM_FACTOR),
            limits.get("postgres_memory_warning_percent", WARNING_PERCENT),
            limits.get("postgres_memory_critical_percent", CRITICAL_PERCENT))


def _fit(tune, pg, budget_bytes, limits):
    """PGTune's values lowered (work_mem, then max_connections) until the memory model of the server with them
    applied is under the warning share of ``budget_bytes``: the audit never recommends what it then flags."""
    factor, warning, _critical = model_limits(limits)
    settings = with_values(model_settings(core.as_dict(pg).get("settings")), tune["values"])
    changes = fit_to_budget(settings, budget_bytes, factor, warning)[1]
    for name, value in changes.items():
        tune["values"][name] = value
        tune["settings"][name] = format_pg_kb(value // 1024) if name == "work_mem" else str(value)
    return {f"{name}_bytes" if name == "work_mem" else name: value for name, value in changes.items()}


def recommend_settings(pg, ram_bytes, ram_source="MemTotal", instances=1, limits=None, measured_other=None,
                       workload=None):
    """hostcare.vps.pg_tune's recommendation for one instance of ``instances`` sharing ``ram_bytes`` (the machine's
    RAM, already capped by a container limit), fitted to the one memory model (``limits``: the audit thresholds):
    {tune, diff, budget, fitted}, or None when the budget is below PGTune's 512MB. The instance's own
    max_connections and version are kept unless the fit lowers them; the workload is PGTune's default (web)
    unless ``workload`` names another (hostcare.vps.postgresql_tune)."""
    inputs = {"memory": int(ram_bytes), "version": _tune_version(pg)}
    if workload is not None:
        inputs["workload"] = workload
    connections = int_setting(pg, "max_connections") if isinstance(pg, Mapping) else None
    if connections is not None and connections >= MIN_CONNECTIONS:
        inputs["max_connections"] = connections
    if instances > 1:
        inputs["memory_share"] = 1.0 / instances
    measured_reason = None
    if measured_other is not None:  # hostcare.vps.workload_facts measured the rest: RAM minus it, with a floor
        floor = (limits or {}).get("postgres_budget_floor_share", MEASURED_FLOOR_SHARE)
        inputs["memory_share"], measured_reason = measured_share(int(ram_bytes), measured_other, instances,
                                                                 floor_share=floor)
    try:
        tune = pg_tune(normalise_inputs(inputs))
    except PgTuneError:
        return None
    ram_text = "the container memory limit" if ram_source == "container memory limit" else "RAM"
    budget = dict(tune.get("budget") or {})
    if not budget:
        budget = {"bytes": int(ram_bytes), "source": "memory_limit" if ram_source == "container memory limit"
                  else "total", "reason": f"all of the {ram_text} ({format_size(ram_bytes)})"}
    elif measured_reason is not None:
        budget.update(source="measured", reason=measured_reason, measured_other_bytes=int(measured_other))
    else:
        budget["reason"] = f"{format_size(ram_bytes)} of {ram_text} divided among {instances} PostgreSQL instances"
    fitted = _fit(tune, pg, budget["bytes"], limits)
    diff = None
    if isinstance(pg, Mapping) and pg.get("available") and isinstance(pg.get("settings") or {}, Mapping):
        factor, warning, critical = model_limits(limits)
        diff = pg_diff(pg, tune, factor, warning, critical)
    return {"tune": tune, "diff": diff, "budget": budget, "fitted": fitted}


def container_memory_limit(facts, pg, container):
    """(bytes or None, where it came from) of the memory limit of ``container``, the instance's own container,
    from the workload facts (hostcare.vps.workload_facts: HostConfig.Memory through the Docker Engine API):
    (None, None) when the instance is not reached through docker exec; (None, "container X has no memory limit")
    when it has none. Raise LookupError saying why when the workload facts cannot tell."""
    if not container or core.as_dict(pg).get("method") != "docker":
        return None, None
    docker = core.as_dict(core.as_dict(facts.get("workload")).get("docker"))
    if docker.get("available") is not True:
        raise LookupError(f"the Docker Engine API was not read ({docker.get('reason') or 'no hostcare_workload fact'})")
    wanted = str(container).lstrip("/")
    for item in core.as_list(docker.get("containers")):
        if item.get("name") == wanted or (len(wanted) >= 12 and str(item.get("id") or "").startswith(wanted)):
            limit = core.as_number(item.get("memory_limit_bytes"))
            if limit:
                return int(limit), f"container {item.get('name')} {LIMIT_SOURCE_FACTS}"
            return None, f"container {item.get('name')} has no memory limit"
    raise LookupError(f"no container {wanted!r} among the {len(core.as_list(docker.get('containers')))} the Docker "
                      f"Engine API listed")


def instance_recommendation(facts, pg, instances=1, limits=None, workload=None, memory_limit=None, limit_source=None):
    """The recommendation for one instance of ``instances`` on the host of ``facts`` (the audit's facts: swap,
    workload): recommend_settings() on the one RAM with what the rest measured, then, when the instance has its
    own ``memory_limit`` (bytes; ``limit_source`` says where it came from) below that budget, sized for the limit
    instead: min(RAM budget, limit). {tune, diff, budget, fitted, ram_bytes, ram_source}, or None when the RAM is
    unknown or the budget is below PGTune's 512MB. The budget says which limit was used (memory_limit_bytes,
    memory_limit_source)."""
    ram, ram_source = system_ram(facts)
    if ram is None:
        return None
    plan = recommend_settings(pg, ram, ram_source, instances, limits, measured_other_memory(facts)[0], workload)
    if plan is None:
        return None
    plan.update(ram_bytes=int(ram), ram_source=ram_source)
    if memory_limit is not None and memory_limit < plan["budget"]["bytes"]:
        host = plan["budget"]
        capped = recommend_settings(pg, memory_limit, "container memory limit", 1, limits, None, workload)
        if capped is None:
            return None
        capped["budget"].update(source="memory_limit", reason=(
            f"the memory limit {format_size(memory_limit)} ({limit_source}), below the host's budget of "
            f"{format_size(host['bytes'])} ({host['reason']})"))
        plan = dict(capped, ram_bytes=int(memory_limit), ram_source="container memory limit")
    if limit_source is not None:
        plan["budget"].update(memory_limit_bytes=None if memory_limit is None else int(memory_limit),
                              memory_limit_source=limit_source)
    return plan
