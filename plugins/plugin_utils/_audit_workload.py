# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Workload checks of the audit, on ``facts["workload"]`` (hostcare.vps.workload_facts): who holds the memory,
whether PostgreSQL's worst case, everything else and the containers' room up to their limits fit in RAM and swap,
processes stuck in D state, zombies and the load against the CPUs.

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import container_note, system_ram
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_pg_instances import available_instances
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_memory import WORK_MEM_FACTOR, memory_model, model_settings


def workload(facts):
    return core.as_dict(facts.get("workload"))


def running_containers(facts):
    """The containers of the workload facts that run (or restart) now."""
    containers = core.as_list(core.as_dict(workload(facts).get("docker")).get("containers"))
    return [item for item in containers if item.get("running") or item.get("restarting")]


def _group_label(group):
    kind = group.get("kind")
    name = group.get("name")
    return name if kind == "container" and str(name).startswith("container ") else f"{kind} {name}"


@rule("memory.top_consumers", needs=("workload",))
def rule_memory_top_consumers(facts, limits):
    """The biggest memory owners (container, systemd unit, supervisord/pm2 program, command) -> info."""
    data = workload(facts)
    groups = core.as_list(data.get("groups"))[:limits["memory_top_groups"]]
    if not groups:
        return []
    ram, ram_source = system_ram(facts)
    rows = []
    for group in groups:
        used = core.as_number(group.get("memory_bytes")) or 0
        rows.append({"kind": group.get("kind"), "name": group.get("name"), "processes": group.get("processes"),
                     "memory_bytes": used, "memory": format_size(used), "memory_source": group.get("memory_source"),
                     "share_percent": round(used * 100.0 / ram, 1) if ram else None})
    listed = ", ".join(f"{_group_label(row)} {row['memory']} ({core.percent_text(row['share_percent'])})" for row in rows)
    status = core.as_dict(data.get("processes"))
    evidence = {"top": rows, "groups_total": data.get("groups_total"),
                "processes_read": status.get("read"), "processes_complete": status.get("complete")}
    if ram:
        evidence.update(core.size_evidence("ram", ram), ram_source=ram_source)
    return [core.make_finding(
        "memory.top_consumers", "info", f"Biggest memory owner: {_group_label(rows[0])} ({rows[0]['memory']})",
        f"The memory in use, by owner (PSS where readable, else RSS): {listed}.", evidence=evidence,
        recommendation="Nothing to do by itself; the other findings say when an owner needs a limit.")]


def _postgres_worst_case(facts, factor):
    """(bytes, [labels], [labels not modelled]) of the PostgreSQL instances' worst cases (the one memory model)."""
    total, labels, unknown = 0, [], []
    if not isinstance(facts.get("postgres"), (list, tuple)):
        return 0, labels, unknown
    for item in available_instances(facts):
        model = memory_model(model_settings(core.as_dict(item["facts"]).get("settings")), factor)
        if model is None:
            unknown.append(item["label"])
            continue
        total += model["total_bytes"]
        labels.append(item["label"])
    return total, labels, unknown


@rule("memory.budget", needs=("swap", "workload"))
def rule_memory_budget(facts, limits):
    """PostgreSQL's worst case + what everything else uses now + what the limited containers may still grow to,
    against RAM (warning) and RAM + swap (critical)."""
    ram, ram_source = system_ram(facts)
    data = workload(facts)
    measured = core.as_dict(data.get("measured"))
    other = core.as_number(measured.get("other_bytes"))
    if not ram or other is None:
        return []
    swap_total = core.as_number(core.as_dict(core.as_dict(facts.get("swap")).get("swap")).get("total_bytes"))
    if swap_total is None:
        swap_total = core.as_number(core.as_dict(data.get("memory")).get("swap_total_bytes")) or 0
    factor = limits.get("postgres_work_mem_factor", WORK_MEM_FACTOR)
    postgres, labels, unknown = _postgres_worst_case(facts, factor)
    if not labels:
        postgres = core.as_number(measured.get("postgres_bytes")) or 0  # unread or none: what it uses now
    room, unlimited = 0, []
    for item in running_containers(facts):
        if item.get("postgres"):
            continue
        limit, usage = core.as_number(item.get("memory_limit_bytes")), core.as_number(item.get("memory_usage_bytes")) or 0
        if limit:
            room += max(limit - usage, 0)
        else:
            unlimited.append(item.get("name"))
    total = postgres + other + room
    share = round(total * 100.0 / ram, 1)
    evidence = {**core.size_evidence("total", total), **core.size_evidence("postgres_worst_case", postgres),
                **core.size_evidence("other_usage", other), **core.size_evidence("container_room", room),
                **core.size_evidence("ram", ram), **core.size_evidence("swap", swap_total), "ram_source": ram_source,
                "percent_of_ram": share, "postgres_instances": labels, "postgres_not_modelled": unknown,
                "unlimited_containers": unlimited}
    parts = (f"PostgreSQL's worst case {format_size(postgres)} + everything else now {format_size(other)} + "
             f"the containers' room up to their limits {format_size(room)} = {format_size(total)}")
    unlimited_text = (f" {core.plural(len(unlimited), 'container')} without a memory limit ({', '.join(unlimited[:5])}) "
                      f"may grow beyond this." if unlimited else "")
    if total > ram + swap_total:
        severity = "critical"
    elif share >= limits["memory_budget_warning_percent"]:
        severity = "warning"
    else:
        return [core.make_finding(
            "memory.budget_ok", "ok", f"The memory budget fits: {core.percent_text(share)} of RAM",
            f"{parts}, {core.percent_text(share)} of {format_size(ram)} RAM.{unlimited_text}", evidence=evidence)]
    title = (f"The worst case ({format_size(total)}) exceeds RAM + swap ({format_size(ram + swap_total)})"
             if severity == "critical" else f"The worst case is {core.percent_text(share)} of RAM")
    return [core.make_finding(
        "memory.budget", severity, title,
        f"{parts}: {core.percent_text(share)} of {format_size(ram)} RAM with {format_size(swap_total)} swap; when "
        f"everything peaks together the OOM killer picks a victim.{unlimited_text}",
        evidence=evidence,
        recommendation=("Lower what may grow: PostgreSQL's work_mem / max_connections (postgres.memory_overcommit), "
                        "the containers' limits (docker.no_memory_limit), the apps' workers; or add swap as a "
                        "cushion (hostcare.vps.swap)."),
        risk="caution", role=core.ROLE_SWAP if not swap_total else None)]


def _stuck_rows(items):
    return [{"pid": item.get("pid"), "comm": item.get("comm"), "parent": item.get("parent")} for item in core.as_list(items)]


@rule("processes.stuck", needs=("workload",))
def rule_processes_stuck(facts, limits):
    """Processes in D state (uninterruptible, usually waiting for a disk or NFS) and zombies (not reaped by their
    parent) -> info, warning from d_state_warning_count / zombie_warning_count."""
    status = core.as_dict(workload(facts).get("processes"))
    findings = []
    d_count = core.as_number(status.get("d_state_count")) or 0
    if d_count:
        rows = _stuck_rows(status.get("d_state"))
        names = ", ".join(f"{row['comm']} ({row['pid']})" for row in rows[:10])
        severity = "warning" if d_count >= limits["d_state_warning_count"] else "info"
        findings.append(core.make_finding(
            "processes.d_state", severity, f"{core.plural(d_count, 'process', 'processes')} in D state",
            f"{core.plural(d_count, 'process', 'processes')} wait uninterruptibly (D state), usually for a disk or a "
            f"network filesystem: {names}.",
            evidence={"count": d_count, "processes": rows},
            recommendation=("Look at what they wait for: cat /proc/<pid>/wchan; dmesg for I/O errors or hung task "
                            "warnings; the disk's latency (iostat -x 5). A process in D state cannot be killed."),
            command="ps -eo pid,stat,wchan:32,comm | awk '$2 ~ /^D/'"))
    z_count = core.as_number(status.get("zombies_count")) or 0
    if z_count:
        rows = _stuck_rows(status.get("zombies"))
        parents = sorted({str(row["parent"]) for row in rows if row["parent"]})
        severity = "warning" if z_count >= limits["zombie_warning_count"] else "info"
        findings.append(core.make_finding(
            "processes.zombies", severity, f"{core.plural(z_count, 'zombie process', 'zombie processes')}",
            f"{core.plural(z_count, 'process', 'processes')} exited but their parent ({', '.join(parents[:5]) or 'unknown'}) "
            f"never reaped them. They hold no memory, only a process slot each.",
            evidence={"count": z_count, "processes": rows, "parents": parents},
            recommendation=("The parent has a bug or is no init: restart the parent in a quiet moment, or run the "
                            "container with an init (docker run --init, compose init: true).")))
    return findings


@rule("processes.load_high", needs=("workload",))
def rule_processes_load(facts, limits):
    """The 5-minute load per CPU above load_warning_per_cpu -> warning. Not judged inside a container: the load is
    the host's, the CPU count may be the container's."""
    if container_note(facts)[0]:
        return []
    data = workload(facts)
    load = core.as_number(core.as_dict(data.get("load")).get("load5"))
    cpus = core.as_number(data.get("cpu_count"))
    if load is None or not cpus:
        return []
    per_cpu = round(load / cpus, 2)
    if per_cpu <= limits["load_warning_per_cpu"]:
        return []
    status = core.as_dict(data.get("processes"))
    return [core.make_finding(
        "processes.load_high", "warning", f"Load {load:g} on {core.plural(int(cpus), 'CPU')}",
        f"The 5-minute load average is {load:g}, {per_cpu:g} per CPU: processes wait for a CPU or for the disk "
        f"({status.get('d_state_count') or 0} in D state now).",
        evidence={"load": data.get("load"), "cpu_count": cpus, "load_per_cpu": per_cpu},
        recommendation="See who runs: top -o %CPU; for I/O waits: iostat -x 5 and processes.d_state.")]
