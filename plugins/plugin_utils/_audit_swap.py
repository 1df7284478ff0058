# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Swap and memory checks of the audit, on ``facts["swap"]`` (the ``hostcare_swap`` fact of swap_facts): swap size
against the one recommendation (_swap_sizing) for the one RAM (_audit_host.system_ram), fitted to the disk so a swap
file never causes a disk finding; fstab, swappiness, OOM kills, memory pressure, and the container note.

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import find_mount
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit as core
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import rule
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import swapfile_command
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import (
    container_note,
    real_filesystems,
    system_ram,
    use_percent,
    with_container_note,
)
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (
    SWAP_DISK_MAX_USE_PERCENT,
    fit_swap_to_disk,
    recommend_swap_bytes,
)


def _swap_areas(swap):
    return [{"path": area.get("path"), "type": area.get("type"), "zram": bool(area.get("zram")),
             **core.size_evidence("size", core.as_number(area.get("size_bytes"))), **core.size_evidence("used", core.as_number(area.get("used_bytes")))}
            for area in core.as_list(swap.get("areas"))]


def _free_swapfile_path(swap):
    taken = {area.get("path") for area in core.as_list(swap.get("areas"))}
    taken.update(entry.get("source") for entry in core.as_list(swap.get("fstab")))
    for candidate in ("/swapfile", "/swapfile2", "/swapfile3", "/swapfile4"):
        if candidate not in taken:
            return candidate
    return "/swapfile-hostcare"


def _swap_filesystem(facts, path):
    """The filesystem that will hold the swap file ``path`` (the longest mount containing it), or None."""
    return find_mount(real_filesystems(facts), path)


def swap_disk_limit(filesystem, limits):
    """The use (percent) a new swap file may take its filesystem to: below the disk warning line when it is below
    it now, below the critical line when it is already in warning, so a swap file never causes a disk finding."""
    used = use_percent(filesystem) if filesystem else None
    if used is not None and used >= limits["disk_warning_percent"]:
        return min(limits["disk_critical_percent"], SWAP_DISK_MAX_USE_PERCENT)
    return min(limits["disk_warning_percent"], SWAP_DISK_MAX_USE_PERCENT)


def _swap_plan(facts, path, size_bytes, limits):
    """(command, extra recommendation text, evidence additions, fit) for creating a swap file of ``size_bytes``
    on the filesystem holding ``path``; fit is fit_swap_to_disk's answer (None without disk facts)."""
    filesystem = _swap_filesystem(facts, path)
    fstype = filesystem.get("fstype") if filesystem else None
    mount = filesystem.get("mount") if filesystem else "/"
    available = core.as_number(filesystem.get("available_bytes")) if filesystem else None
    evidence = {}
    notes = []
    fit = None
    if available is not None:
        evidence.update(core.size_evidence("root_available", available))
        # judged on the use the disk rules judge (df's Use%), so the file never causes a disk finding
        fit = fit_swap_to_disk(size_bytes, available, use_percent=use_percent(filesystem), mount=mount,
                               max_use_percent=swap_disk_limit(filesystem, limits))
        evidence.update({"swap_filesystem": mount, **core.size_evidence("swap_fits", fit["bytes"]),
                         "disk_max_use_percent": fit["max_use_percent"], "swap_fit_reason": fit["reason"]})
        if fit["limited_by"]:
            smaller = fit["bytes"]
            if smaller < 512 * MIB:
                return None, (f" {fit['reason']}: free disk space first (see the disk findings) or use zram "
                              f"(compressed swap in RAM) instead of a swap file."), evidence, fit
            if fit["limited_by"] == "free_share":
                notes.append(f" {mount} has only {format_size(available)} free, so the command makes a smaller file "
                             f"({format_size(smaller)}, at most a quarter of the free space); free disk space to "
                             f"add the rest later.")
            else:
                notes.append(f" The command makes a smaller file ({format_size(smaller)}): {fit['reason']}. Free "
                             f"disk space to add the rest later.")
            size_bytes = smaller
    if fstype == "zfs":
        return (None, f" {mount} is ZFS, where swap files do not work: use zram (or a dedicated zvol/partition).",
                evidence, fit)
    if fstype == "btrfs":
        notes.append(f" {mount} is btrfs: the command uses `btrfs filesystem mkswapfile` (a swap file there must be "
                     "NOCOW).")
    return swapfile_command(path, size_bytes, fstype), "".join(notes), evidence, fit


def _fit_text(fit):
    """A sentence for the summary when the disk does not take the whole recommendation."""
    if not fit or not fit["limited_by"]:
        return ""
    return f" On disk: {fit['reason']}."


@rule("swap.size", needs=("swap",))
def rule_swap_size(facts, limits):
    """No swap -> critical; swap below half the recommendation -> warning; else ok."""
    swap = core.as_dict(facts["swap"])
    ram, ram_source = system_ram(facts)
    total = core.as_number(core.as_dict(swap.get("swap")).get("total_bytes"))
    if ram is None or total is None:
        return [core.make_finding(
            "swap.unknown", "info", "Swap size not checked: RAM or swap total unknown",
            f"The swap facts did not report RAM ({format_size(ram)}) and swap ({format_size(total)}).",
            evidence={**core.size_evidence("ram", ram), **core.size_evidence("swap", total)},
            recommendation="Check that /proc/meminfo is readable on the host.")]
    recommended = recommend_swap_bytes(ram)
    evidence = {**core.size_evidence("ram", ram), "ram_source": ram_source, **core.size_evidence("swap", total),
                **core.size_evidence("recommended_swap", recommended), "areas": _swap_areas(swap)}
    runtime, _note = container_note(facts)
    active_zram = [str(area.get("path", "")) for area in core.as_list(swap.get("areas")) if area.get("zram")]
    zram_idle = [dev["name"] for dev in core.as_list(swap.get("zram"))
                 if isinstance(dev.get("name"), str) and (core.as_number(dev.get("disksize_bytes")) or 0) > 0
                 and not any(path.endswith("/" + dev["name"]) for path in active_zram)]
    if total <= 0 and runtime:
        return [_swap_in_container("swap.none", "critical", f"No swap on a {runtime} container with "
                                   f"{format_size(ram)} of memory", recommended, evidence, facts)]
    if total <= 0:
        path = _free_swapfile_path(swap)
        command, extra, more, fit = _swap_plan(facts, path, recommended, limits)
        evidence.update(more)
        zram_text = _fit_text(fit)
        if zram_idle:
            evidence["zram_devices_not_swapped_on"] = zram_idle
            zram_text += f" zram device(s) {', '.join(zram_idle)} exist but are not used as swap."
        why = "so a memory spike slows the server down instead of the OOM killer stopping PostgreSQL or an app worker"
        if fit and fit["limited_by"] and command is None:
            recommendation = f"{format_size(recommended)} of swap is recommended {why}, but{extra}"
        else:
            amount = format_size(fit["bytes"] if fit and fit["limited_by"] else recommended)
            recommendation = f"Add {amount} of swap {why}.{extra}"
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "swap.none", "critical", f"No swap on a host with {format_size(ram)} RAM",
            f"{format_size(ram)} RAM and no active swap (recommended {format_size(recommended)}).{zram_text}",
            evidence=evidence, recommendation=recommendation, risk="caution", role=core.ROLE_SWAP, command=command)]
    low_limit = recommended * limits["swap_low_fraction"] - limits["swap_slack_bytes"]
    if total < low_limit and runtime:
        return [_swap_in_container("swap.small", "warning", f"Swap too small: {format_size(total)} for "
                                   f"{format_size(ram)} of container memory", recommended - total, evidence, facts)]
    if total < low_limit:
        missing = recommended - total
        path = _free_swapfile_path(swap)
        command, extra, more, fit = _swap_plan(facts, path, missing, limits)
        evidence.update(more)
        recommendation = (f"Add a second swap file of {format_size(missing)} ({path}); this keeps the existing "
                          f"swap, so nothing is swapped off (swapoff under memory pressure can trigger the OOM "
                          f"killer).{extra}")
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "swap.small", "warning",
            f"Swap too small: {format_size(total)} for {format_size(ram)} RAM",
            f"{format_size(total)} of swap for {format_size(ram)} RAM is less than half of the recommended "
            f"{format_size(recommended)}.{_fit_text(fit)}",
            evidence=evidence, recommendation=recommendation, risk="caution", role=core.ROLE_SWAP, command=command)]
    evidence = with_container_note(facts, evidence, "")[0]
    return [core.make_finding(
        "swap.ok", "ok", f"Swap: {format_size(total)} for {format_size(ram)} RAM: ok",
        f"{format_size(total)} of swap for {format_size(ram)} RAM (recommended {format_size(recommended)}, "
        f"at least half of it is enough).",
        evidence=evidence)]


def _swap_in_container(finding_id, severity, title, missing, evidence, facts):
    """Swap seen from inside a container is the host's: say so, and give no command (a swap file on the
    container's overlay root cannot be enabled: swapon refuses it)."""
    evidence, recommendation = with_container_note(
        facts, evidence, f"Add {format_size(missing)} of swap on the container host (the role {core.ROLE_SWAP} there); "
                         f"a swap file cannot be enabled from inside this container (its root is an overlay, and "
                         f"swapon needs the host's privileges), so there is no command to run here.")
    return core.make_finding(
        finding_id, severity, title,
        f"{format_size(evidence['swap_bytes'])} of swap is visible for {format_size(evidence['ram_bytes'])} of memory "
        f"({evidence['ram_source']}; recommended {format_size(evidence['recommended_swap_bytes'])}). Swap belongs "
        f"to the host this container runs on.",
        evidence=evidence, recommendation=recommendation, risk="caution", role=core.ROLE_SWAP, command=None)


@rule("swap.fstab", needs=("swap",))
def rule_swap_fstab(facts, limits):
    """A swap entry of /etc/fstab that is not active -> warning (swap silently lost at boot)."""
    swap = core.as_dict(facts["swap"])
    inactive = [entry.get("source") for entry in core.as_list(swap.get("fstab"))
                if entry.get("active") is False and entry.get("source")]
    if not inactive:
        return []
    evidence = {"inactive_fstab_entries": inactive}
    recommendation = ("Check why it is not active (missing file, wrong UUID after a disk change) with the "
                      "command; `swapon -a` enables every fstab swap that works. Remove entries that point "
                      "at nothing.")
    evidence, recommendation = with_container_note(facts, evidence, recommendation)
    return [core.make_finding(
        "swap.fstab_inactive", "warning",
        f"/etc/fstab swap not active: {', '.join(inactive)}",
        f"{core.plural(len(inactive), 'swap entry', 'swap entries')} of /etc/fstab "
        f"({', '.join(inactive)}) {'is' if len(inactive) == 1 else 'are'} not active.",
        evidence=evidence, recommendation=recommendation, risk="safe", role=core.ROLE_SWAP,
        command="sudo swapon --show; grep -w swap /etc/fstab; sudo swapon -a")]


@rule("swap.swappiness", needs=("swap",))
def rule_swappiness(facts, limits):
    """vm.swappiness: 0 with swap -> warning, >= swappiness_high -> warning, else ok."""
    swap = core.as_dict(facts["swap"])
    value = core.as_number(core.as_dict(swap.get("sysctl")).get("swappiness"))
    total = core.as_number(core.as_dict(swap.get("swap")).get("total_bytes")) or 0
    target = limits["swappiness_target"]
    command = (f"sudo sysctl -w vm.swappiness={target} && \\\n"
               f"  echo 'vm.swappiness = {target}' | sudo tee /etc/sysctl.d/90-hostcare-swappiness.conf")
    runtime, _note = container_note(facts)
    if runtime:
        # Inside a container vm.swappiness is the host's and sysctl -w is refused ("permission denied"): the same
        # command, for the host, as comments (pasting it here changes nothing instead of failing).
        command = (f"# on the host this {runtime} container runs on, not in here (sysctl -w is refused inside):\n"
                   + "\n".join(f"#   {line}" for line in command.splitlines()))
    if value is None:
        return [core.make_finding(
            "swap.swappiness_unknown", "info", "vm.swappiness not checked: unreadable",
            "vm.swappiness could not be read (/proc/sys/vm/swappiness).",
            recommendation="Nothing to do unless this host should have a readable /proc/sys.")]
    evidence = {"swappiness": value, "recommended_swappiness": target, **core.size_evidence("swap", total)}
    if value == 0:
        if total > 0:
            recommendation = (f"Set vm.swappiness={target}: with 0 the kernel avoids swap until the very last "
                              f"moment, so the swap you have barely protects against the OOM killer.")
            evidence, recommendation = with_container_note(facts, evidence, recommendation)
            return [core.make_finding(
                "swap.swappiness_zero", "warning", "vm.swappiness is 0 although swap is enabled",
                f"vm.swappiness is 0 with {format_size(total)} of swap: swap is used only just before an OOM "
                f"kill; servers do better with {target}.",
                evidence=evidence, recommendation=recommendation, risk="safe", role=core.ROLE_SWAP, command=command)]
        recommendation = f"When you add swap, also set vm.swappiness={target}."
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "swap.swappiness_zero", "info", "vm.swappiness is 0 (no swap, no effect yet)",
            f"vm.swappiness is 0 and there is no swap; set {target} when you add swap.",
            evidence=evidence, recommendation=recommendation, risk="safe", role=core.ROLE_SWAP, command=command)]
    if value >= limits["swappiness_high"]:
        recommendation = (f"Set vm.swappiness={target}: {value} is the desktop default and pushes database and "
                          f"app memory to swap while the page cache stays large.")
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "swap.swappiness_high", "warning", f"vm.swappiness is {value}: tuned for desktops, not servers",
            f"vm.swappiness is {value} (>= {limits['swappiness_high']}); servers do better with {target}.",
            evidence=evidence, recommendation=recommendation, risk="safe", role=core.ROLE_SWAP, command=command)]
    evidence = with_container_note(facts, evidence, "")[0]
    return [core.make_finding(
        "swap.swappiness_ok", "ok", f"vm.swappiness is {value}: ok",
        f"vm.swappiness is {value}, between 1 and {limits['swappiness_high'] - 1}.", evidence=evidence)]


@rule("memory.oom", needs=("swap",))
def rule_oom_kills(facts, limits):
    """Any OOM kill since boot -> critical."""
    swap = core.as_dict(facts["swap"])
    kills = core.as_number(swap.get("oom_kills"))
    if kills is None:
        return [core.make_finding(
            "memory.oom_unknown", "info", "OOM kills not checked: the kernel does not count them",
            "/proc/vmstat has no oom_kill counter on this kernel (added in Linux 4.13).",
            recommendation="Look for 'Out of memory' in the kernel log instead.",
            command="sudo journalctl -k --no-pager | grep -iE 'out of memory|killed process'")]
    memory = core.as_dict(swap.get("memory"))
    evidence = {"oom_kills": kills, **core.size_evidence("ram", core.as_number(memory.get("total_bytes"))),
                **core.size_evidence("available", core.as_number(memory.get("available_bytes"))),
                **core.size_evidence("swap", core.as_number(core.as_dict(swap.get("swap")).get("total_bytes")))}
    if kills > 0:
        recommendation = ("Find what was killed with the command (read-only), then give the host room: add or grow "
                          "swap (see the swap findings) and lower memory use (fewer app workers, smaller "
                          "PostgreSQL shared_buffers/work_mem, container memory limits).")
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "memory.oom_kills", "critical", f"OOM killer killed {core.plural(kills, 'process', 'processes')} since boot",
            f"The kernel killed {core.plural(kills, 'process', 'processes')} for lack of memory since boot "
            f"(RAM {format_size(evidence['ram_bytes'])}, swap {format_size(evidence['swap_bytes'])}).",
            evidence=evidence, recommendation=recommendation, risk="caution", role=core.ROLE_SWAP,
            command="sudo journalctl -k --no-pager | grep -iE 'out of memory|killed process'")]
    evidence = with_container_note(facts, evidence, "")[0]
    return [core.make_finding("memory.oom_ok", "ok", "No OOM kills since boot",
                              "The kernel's OOM killer has not killed anything since boot.", evidence=evidence)]


@rule("memory.pressure", needs=("swap",))
def rule_memory_pressure(facts, limits):
    """PSI memory 'full' avg60 above the threshold -> warning."""
    psi = core.as_dict(core.as_dict(facts["swap"]).get("psi"))
    full = core.as_dict(psi.get("full"))
    avg60 = core.as_number(full.get("avg60"))
    if avg60 is None:
        return [core.make_finding(
            "memory.pressure_unknown", "info", "Memory pressure not checked: no PSI on this kernel",
            "The kernel does not expose /proc/pressure/memory (needs Linux 4.20+, some kernels also psi=1 at boot).",
            recommendation="Nothing to do; the OOM and swap checks still ran.")]
    some = core.as_dict(psi.get("some"))
    evidence = {"full_avg10_percent": core.as_number(full.get("avg10")), "full_avg60_percent": avg60,
                "full_avg300_percent": core.as_number(full.get("avg300")), "some_avg60_percent": core.as_number(some.get("avg60")),
                "threshold_percent": limits["memory_psi_full_avg60"]}
    if avg60 > limits["memory_psi_full_avg60"]:
        recommendation = ("The host is short of memory right now (reclaim and swap-in stall every task). See what "
                          "uses memory with the command (read-only), then reduce it or add RAM/swap.")
        evidence, recommendation = with_container_note(facts, evidence, recommendation)
        return [core.make_finding(
            "memory.pressure", "warning", f"Memory pressure: all tasks stalled {core.percent_text(avg60)} of the last minute",
            f"Memory PSI 'full' avg60 is {core.percent_text(avg60)} (> {core.percent_text(limits['memory_psi_full_avg60'])}): every "
            f"runnable task waited on memory that share of the last 60 s.",
            evidence=evidence, recommendation=recommendation, risk="caution",
            command="free -h; ps -eo pid,rss,comm --sort=-rss | head -15")]
    evidence = with_container_note(facts, evidence, "")[0]
    return [core.make_finding(
        "memory.pressure_ok", "ok", f"Memory pressure: {core.percent_text(avg60)} full stall (avg60): ok",
        f"Memory PSI 'full' avg60 is {core.percent_text(avg60)} (threshold {core.percent_text(limits['memory_psi_full_avg60'])}).",
        evidence=evidence)]


@rule("host.container", needs=("swap",))
def rule_container(facts, limits):
    """Say once that the host-wide numbers are the host's when we run in a container."""
    runtime, note = container_note(facts)
    if not runtime:
        return []
    info = core.as_dict(core.as_dict(facts["swap"]).get("container"))
    limit = core.as_number(info.get("memory_limit_bytes"))
    swap_limit = core.as_number(info.get("swap_limit_bytes"))
    evidence = {"runtime": runtime, "cgroup_version": info.get("cgroup_version"),
                "memory_limit_bytes": limit,
                "memory_limit": format_size(limit) if limit is not None else "unlimited or unknown",
                **core.size_evidence("memory_usage", core.as_number(info.get("memory_usage_bytes"))),
                "swap_limit_bytes": swap_limit,
                "swap_limit": format_size(swap_limit) if swap_limit is not None else "unlimited or unknown",
                "container_note": note}
    limit_text = f"memory limit {format_size(limit)}" if limit else "no memory limit"
    return [core.make_finding(
        "host.container", "info", f"Audited inside a {runtime} container",
        f"This host is a {runtime} container ({limit_text}); swap, swappiness, OOM and pressure figures are the "
        f"host's.",
        evidence=evidence,
        recommendation="Apply swap and sysctl fixes on the container host; disk findings are this container's.")]
