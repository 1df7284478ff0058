# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Container checks of the audit on ``facts["workload"]["docker"]`` (hostcare.vps.workload_facts): containers
without a memory limit, restart loops, and PostgreSQL containers with Docker's 64 MB /dev/shm. (Docker's disk
checks are in _audit_docker.)

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import (
    docker_diagnose_command,
    docker_memory_arg,
    docker_memory_limit_command,
    docker_shm_command,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import system_ram

LIMIT_MIN_ROOM = 256 * MIB
"""A proposed limit leaves at least this much above the current usage."""
LIMIT_ROUND = 64 * MIB


def _containers(facts):
    return core.as_list(core.as_dict(core.as_dict(facts.get("workload")).get("docker")).get("containers"))


def proposed_limit(usage, factor):
    """A memory limit for a container using ``usage`` bytes: usage × factor, at least usage + 256 MiB, rounded up
    to 64 MiB; never below the usage (a limit below it OOM-kills the container)."""
    value = max(int(usage * factor), usage + LIMIT_MIN_ROOM)
    return max(-(-value // LIMIT_ROUND) * LIMIT_ROUND, usage)


@rule("docker.no_memory_limit", needs=("workload",))
def rule_docker_no_memory_limit(facts, limits):
    """A running container without a memory limit -> info; warning on a host without swap or when it holds
    docker_unlimited_warning_percent of RAM or more. The fix proposes a limit never below its usage."""
    ram, _source = system_ram(facts)
    workload = core.as_dict(facts.get("workload"))
    swap_total = core.as_number(core.as_dict(core.as_dict(facts.get("swap")).get("swap")).get("total_bytes"))
    if swap_total is None:
        swap_total = core.as_number(core.as_dict(workload.get("memory")).get("swap_total_bytes"))
    findings = []
    for item in _containers(facts):
        if not item.get("running") or item.get("memory_limit_bytes"):
            continue
        name = str(item.get("name"))
        usage = core.as_number(item.get("memory_usage_bytes")) or 0
        share = round(usage * 100.0 / ram, 1) if ram else None
        limit = proposed_limit(usage, limits["docker_limit_factor"])
        no_swap = swap_total == 0
        big = share is not None and share >= limits["docker_unlimited_warning_percent"]
        severity = "warning" if no_swap or big else "info"
        why = []
        if big:
            why.append(f"it holds {core.percent_text(share)} of RAM")
        if no_swap:
            why.append("the host has no swap, so when memory runs out the OOM killer takes a process at random")
        findings.append(core.make_finding(
            "docker.no_memory_limit", severity, f"Container {name} has no memory limit ({format_size(usage)} now)",
            f"Container {name} ({item.get('image')}) may take all of the memory: it uses {format_size(usage)} now"
            + (f" ({core.percent_text(share)} of RAM)" if share is not None else "")
            + (f"; {' and '.join(why)}." if why else "."),
            evidence={"container": name, "image": item.get("image"), **core.size_evidence("usage", usage),
                      "usage_source": item.get("memory_usage_source"), "percent_of_ram": share,
                      **core.size_evidence("proposed_limit", limit), "proposed_limit_arg": docker_memory_arg(limit),
                      "swap_total_bytes": swap_total, "postgres": bool(item.get("postgres"))},
            recommendation=(f"Give it a limit above what it uses now, such as {format_size(limit)} "
                            f"({limits['docker_limit_factor']:g} × usage, at least usage + 256 MiB): a limit "
                            f"below its usage OOM-kills it. Watch its peak first (docker stats) if it varies."),
            risk="caution", command=docker_memory_limit_command(name, limit)))
    return findings


@rule("docker.restart_loop", needs=("workload",))
def rule_docker_restart_loop(facts, limits):
    """A container restarted by its policy restart_loop_count times or more -> warning; restarting now -> critical."""
    findings = []
    for item in _containers(facts):
        count = core.as_number(item.get("restart_count")) or 0
        restarting = bool(item.get("restarting"))
        if count < limits["restart_loop_count"] and not (restarting and count >= 1):
            continue
        name = str(item.get("name"))
        oom = bool(item.get("oom_killed"))
        severity = "critical" if restarting else "warning"
        cause = " It was OOM-killed: its memory limit (or the host's RAM) is too small for it." if oom else ""
        findings.append(core.make_finding(
            "docker.restart_loop", severity,
            f"Container {name} {'is restarting in a loop' if restarting else 'keeps restarting'} "
            f"({core.plural(count, 'restart')})",
            f"Container {name} ({item.get('image')}) was restarted {core.plural(count, 'time')} by its restart policy "
            f"{item.get('restart_policy')!s}; last exit code {item.get('exit_code')}, finished "
            f"{item.get('finished_at')}.{cause}",
            evidence={"container": name, "image": item.get("image"), "restart_count": count, "restarting": restarting,
                      "exit_code": item.get("exit_code"), "oom_killed": oom,
                      "restart_policy": item.get("restart_policy"), "started_at": item.get("started_at"),
                      "finished_at": item.get("finished_at")},
            recommendation=("See why it stops with the read-only commands below (its last log lines, the exit code, "
                            "OOMKilled); fix the cause, or stop it (docker update --restart no, then docker stop) "
                            "if it is not needed."),
            command=docker_diagnose_command(name)))
    return findings


@rule("docker.postgres_shm", needs=("workload",))
def rule_docker_postgres_shm(facts, limits):
    """A PostgreSQL container with /dev/shm below postgres_shm_min_bytes (Docker's default is 64 MB): parallel
    queries fail with "could not resize shared memory segment" -> warning."""
    ram, _source = system_ram(facts)
    findings = []
    for item in _containers(facts):
        shm = core.as_number(item.get("shm_size_bytes"))
        if not item.get("postgres") or shm is None or shm >= limits["postgres_shm_min_bytes"]:
            continue
        name = str(item.get("name"))
        target = limits["postgres_shm_bytes"]
        if ram:
            target = max(min(target, ram // 4), limits["postgres_shm_min_bytes"])
        findings.append(core.make_finding(
            "docker.postgres_shm", "warning", f"PostgreSQL container {name} has a {format_size(shm)} /dev/shm",
            f"PostgreSQL in {name} allocates the shared memory of parallel queries and hash joins in /dev/shm; with "
            f"{format_size(shm)} (Docker's default is 64 MiB) they fail with \"could not resize shared memory "
            f"segment\".",
            evidence={"container": name, "image": item.get("image"), **core.size_evidence("shm_size", shm),
                      **core.size_evidence("proposed_shm_size", target)},
            recommendation=(f"Give the container shm_size {docker_memory_arg(target)} (compose) or --shm-size "
                            f"(docker run); it is fixed at creation, so recreating the container (a short outage) "
                            f"applies it. /dev/shm is memory: it counts against the container's limit."),
            risk="caution", command=docker_shm_command(name, target)))
    return findings
