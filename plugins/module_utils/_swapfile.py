# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Decisions of the swap file module (hostcare.vps.swapfile) and the checks of the swap role's inputs.

Everything here is pure: it takes what the module observed (sizes, /proc texts, the fstab text) and
returns a plan, a refusal message or a new fstab text. The module does the I/O and runs the plan.
Runs on the target's python3 (3.9+) and on the controller (the role's input filter), standard library only.
"""

from __future__ import annotations

import posixpath

from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (
    SWAP_ROUND_BYTES,
    fit_swap_to_disk,
    recommend_swap_bytes,
)
from ansible_collections.hostcare.vps.plugins.module_utils._units import SizeError, format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path, integer
from ansible_collections.hostcare.vps.plugins.module_utils._validate import size as validate_size
from ansible_collections.hostcare.vps.plugins.module_utils._mountinfo import find_mount  # noqa: F401  pylint: disable=unused-import

MIB = 1024 ** 2

MIN_SWAP_BYTES = 1 * MIB
"""Smaller swap files are refused: mkswap needs 10 pages, and a few MiB of swap protect nothing."""

SWAPOFF_RESERVE_BYTES = 128 * MIB
"""RAM that must stay available after swapping a file off (its used swap moves back into RAM)."""

# Filesystems known to hold swap files (btrfs only as a NOCOW file, which the module makes).
SUPPORTED_FS_TYPES = ("ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs")

# Why a swap file cannot live on other filesystems; any type not listed here and not supported gets a generic message.
UNSUPPORTED_FS_REASONS = {
    "zfs": "ZFS does not support swap files (openzfs#7734); use zram or a dedicated zvol or partition",
    "overlay": "an overlay filesystem (a container's root) cannot hold swap (swapon fails with EINVAL); "
               "put the file on a real filesystem, or add the swap on the container's host",
    "aufs": "a union filesystem (a container's root) cannot hold swap; put the file on a real filesystem",
    "fuse.fuse-overlayfs": "a union filesystem (a container's root) cannot hold swap; put the file on a real filesystem",
    "tmpfs": "tmpfs lives in RAM (and swap), so a swap file there frees nothing",
    "ramfs": "ramfs lives in RAM, so a swap file there frees nothing",
    "nfs": "swap over NFS needs a network that never stalls and is not supported by this module",
    "nfs4": "swap over NFS needs a network that never stalls and is not supported by this module",
    "cifs": "a network filesystem cannot hold swap",
    "smb3": "a network filesystem cannot hold swap",
    "9p": "a shared (9p) filesystem cannot hold swap",
    "virtiofs": "a shared (virtiofs) filesystem cannot hold swap",
    "squashfs": "the filesystem is read-only",
    "iso9660": "the filesystem is read-only",
}

FSTAB_OPTIONS = "sw,nofail"
"""Mount options of the fstab line: nofail keeps a missing swap file from blocking the boot."""

SWAP_SIGNATURES = (b"SWAPSPACE2", b"SWAP-SPACE")

ROLE_INPUT_PREFIX = "hostcare_swap_"

MAX_PRIORITY = 32767
"""The highest swap priority (swapon -p)."""

SYSCTL_DIR = "/etc/sysctl.d"


class SwapPlanError(Exception):
    """A refusal: the message says what is wrong and what to do; nothing has been changed."""


# --- sizes and role inputs ---------------------------------------------------------------------

def round_to_pages(size, page_size):
    """Round ``size`` up to a whole number of pages (mkswap ignores a partial last page)."""
    if page_size <= 0:
        return size
    return -(-size // page_size) * page_size


def parse_swap_size(value, option="size"):
    """Bytes of an explicit swap size (not ``auto``), 1 MiB to 1 PiB; OptionError naming ``option`` when unusable."""
    size = validate_size(option, value)
    if size < MIN_SWAP_BYTES:
        raise SizeError(f"{option}: {value!r} is too small; a swap file needs at least {format_size(MIN_SWAP_BYTES)} "
                        f"(use state absent to remove swap)")
    return size


def swap_path(option, value):
    """A swap file path: absolute, normalised, a file (no trailing slash), not "/", not under /proc, /sys, /dev."""
    absolute_path(option, value, written=True)
    if value.endswith("/"):
        raise OptionError(f"{option}: must be a file path, without a trailing slash, got {value!r}")
    return value


def is_auto(size):
    """Whether ``size`` asks for the collection's recommendation (``auto``)."""
    return isinstance(size, str) and size.strip().lower() == "auto"


def _collect(errors, checked, key, option, check, *args):
    try:
        checked[key] = check(option, *args)
    except OptionError as error:
        errors.append(str(error))


def checked_options(options, name=str):
    """The swapfile module's options (path, size, priority, max_disk_use_percent) checked and converted.

    Returns ({option: value as the module uses it: int bytes, int priority and percent}, [one message per problem]).
    ``name`` maps an option to the name the user wrote (the swap role's variables). Absent options are not checked;
    ``size`` may be ``auto`` (kept as is) or None (state absent); ``priority`` may be None. Numbers are checked here,
    not by ansible-core's int type, which crashes on inf and takes Unicode digits.
    """
    checked, errors = dict(options), []
    if "path" in options:
        _collect(errors, checked, "path", name("path"), swap_path, options["path"])
    if options.get("size") is not None and not is_auto(options["size"]):
        _collect(errors, checked, "size", name("size"), lambda option, value: parse_swap_size(value, option),
                 options["size"])
    if options.get("priority") is not None:
        _collect(errors, checked, "priority", name("priority"), integer, options["priority"], 0, MAX_PRIORITY)
    if "max_disk_use_percent" in options:
        _collect(errors, checked, "max_disk_use_percent", name("max_disk_use_percent"), integer,
                 options["max_disk_use_percent"], 1, 100)
    return checked, errors


def option_errors(options, name=str):
    """The problems of checked_options, one message each."""
    return checked_options(options, name)[1]


# The swap role's variables that are the swapfile module's options.
ROLE_OPTIONS = {"file": "path", "size": "size", "priority": "priority", "max_disk_use_percent": "max_disk_use_percent"}


def role_input_errors(values):
    """Every problem in the values of the hostcare.vps.swap role ({hostcare_swap_<name>: value}), one message each.

    The module's options are checked by option_errors (the module runs the same check); the sysctls here. Absent
    variables are not checked.
    """
    inputs = {key[len(ROLE_INPUT_PREFIX):]: value for key, value in values.items() if key.startswith(ROLE_INPUT_PREFIX)}
    options = {option: inputs[key] for key, option in ROLE_OPTIONS.items() if key in inputs}
    role_names = {option: ROLE_INPUT_PREFIX + key for key, option in ROLE_OPTIONS.items()}
    errors = option_errors(options, role_names.get)
    checked = {}
    if inputs.get("swappiness") is not None:
        _collect(errors, checked, "swappiness", ROLE_INPUT_PREFIX + "swappiness", integer, inputs["swappiness"], 0, 100)
    if inputs.get("vfs_cache_pressure") is not None:
        # 0 never frees dentry and inode caches and leads to OOM
        _collect(errors, checked, "vfs_cache_pressure", ROLE_INPUT_PREFIX + "vfs_cache_pressure", integer,
                 inputs["vfs_cache_pressure"], 1, 1000)
    if "sysctl_file" in inputs:
        _collect(errors, checked, "sysctl_file", ROLE_INPUT_PREFIX + "sysctl_file", sysctl_path, inputs["sysctl_file"])
    return errors


def sysctl_path(option, value):
    """A *.conf file directly in /etc/sysctl.d (systemd-sysctl reads only those; Debian 13 no longer reads
    /etc/sysctl.conf)."""
    swap_path(option, value)
    if posixpath.dirname(value) != SYSCTL_DIR or not value.endswith(".conf"):
        raise OptionError(f"{option}: must be a *.conf file directly in {SYSCTL_DIR} (systemd-sysctl reads only those; "
                          f"Debian 13 no longer reads /etc/sysctl.conf), got {value!r}")
    return value


def auto_swap_size(ram_bytes, fs, current_bytes, max_use_percent, directory):
    """The size of ``size: auto``: the collection's recommendation for ``ram_bytes`` of RAM (the audit's), limited to
    what fits on the filesystem ``fs`` of ``directory`` by the audit's rule (fit_swap_to_disk).

    ``current_bytes``, the blocks of the swap file there now, count as free, so that a second run gives the same
    answer. Returns (bytes, reason); raises SwapPlanError when RAM is unknown or nothing fits.
    """
    if not ram_bytes:
        raise SwapPlanError("size auto needs the RAM size (MemTotal in /proc/meminfo), which is unknown here: give an "
                            "explicit size. Nothing was changed.")
    wanted = recommend_swap_bytes(ram_bytes)
    fit = fit_swap_to_disk(wanted, fs["available_bytes"] + current_bytes,
                           used_bytes=max(0, fs["used_bytes"] - current_bytes), mount=directory,
                           max_use_percent=max_use_percent)
    if fit["bytes"] <= 0:
        raise SwapPlanError(
            f"there is no room for swap in {directory}: {fit['reason']}. Size auto must leave the filesystem at most "
            f"{max_use_percent}% used (max_disk_use_percent) and, when space is short, takes at most a quarter of the "
            f"free space, in steps of {format_size(SWAP_ROUND_BYTES)}. Free disk space, give an explicit size or "
            f"choose another file. Nothing was changed.")
    return fit["bytes"], fit["reason"]


# --- what the host looks like --------------------------------------------------------------------

def filesystem_refusal(fstype, mount_point, path):
    """None when ``fstype`` can hold a swap file, else the refusal message."""
    if fstype in SUPPORTED_FS_TYPES:
        return None
    reason = UNSUPPORTED_FS_REASONS.get(fstype)
    if reason is None and fstype and fstype.startswith("fuse"):
        reason = "a FUSE filesystem cannot hold swap"
    if reason is None:
        reason = f"swap files are supported here only on {', '.join(SUPPORTED_FS_TYPES)}"
    return (f"refusing to put swap on {path}: it is on {mount_point} ({fstype or 'unknown filesystem'}), and {reason}. "
            f"Nothing was changed.")


def has_swap_signature(first_page):
    """Whether the first page of a file (bytes, exactly one page long) ends with a swap signature."""
    return any(first_page.endswith(signature) for signature in SWAP_SIGNATURES)


def find_swap_area(areas, path, real_path=None):
    """The area of _memory.parse_proc_swaps() output that is ``path`` (or its real path); None when inactive."""
    candidates = {path}
    if real_path:
        candidates.add(real_path)
    for area in areas:
        if area["path"] in candidates:
            return area
    return None


def swapoff_refusal(path, used_bytes, mem_available_bytes, purpose, reserve_bytes=SWAPOFF_RESERVE_BYTES):
    """None when RAM can take back what the active swap file ``path`` holds, else the refusal message.

    swapoff moves every swapped-out page of the file back into RAM; without room for them the OOM killer
    starts on a host that is already short of memory. ``purpose`` completes "swapping it off to ...".
    """
    used = used_bytes or 0
    if used == 0:
        return None
    if mem_available_bytes is None:
        return (f"refusing to swap off {path} to {purpose}: it holds {format_size(used)} of swapped-out memory and "
                f"the available RAM is unknown (no MemAvailable in /proc/meminfo). Nothing was changed.")
    if used + reserve_bytes <= mem_available_bytes:
        return None
    return (f"refusing to swap off {path} to {purpose}: it holds {format_size(used)} of swapped-out memory and only "
            f"{format_size(mem_available_bytes)} of RAM is available (MemAvailable; {format_size(reserve_bytes)} "
            f"must stay free), so swapoff could start the OOM killer. Nothing was changed. Retry when the host is "
            f"less busy{', or keep the current size (allow_resize false)' if purpose.startswith('resize') else ''}.")


def disk_refusal(path, fs, mount_point, extra_bytes, max_percent, action):
    """None when allocating ``extra_bytes`` more keeps the filesystem at or below ``max_percent``, else the message.

    ``fs`` has used_bytes and available_bytes (as _disk.filesystem_usage returns them); the use is computed the
    way df computes Use%: used / (used + available).
    """
    if extra_bytes <= 0:
        return None
    used, available = fs["used_bytes"], fs["available_bytes"]
    total = used + available
    if total <= 0:
        return f"refusing to {action} {path}: the size of {mount_point} is unknown. Nothing was changed."
    now = used * 100.0 / total
    after = (used + extra_bytes) * 100.0 / total
    if extra_bytes > available:
        return (f"refusing to {action} {path}: it needs {format_size(extra_bytes)} more and {mount_point} has only "
                f"{format_size(available)} free. Nothing was changed. Free disk space, choose a smaller size or "
                f"another filesystem.")
    if after > max_percent:
        return (f"refusing to {action} {path}: the {format_size(extra_bytes)} it needs would fill {mount_point} "
                f"to {after:.1f} % (now {now:.1f} %, {format_size(available)} free; the limit max_disk_use_percent "
                f"is {max_percent} %). Nothing was changed. Free disk space, choose a smaller size or another "
                f"filesystem.")
    return None


# --- fstab ---------------------------------------------------------------------------------------

def fstab_escape(path):
    """A path as fstab writes it: space, tab and backslash as octal escapes."""
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")


def fstab_unescape(field):
    out, index = [], 0
    while index < len(field):
        chunk = field[index:index + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit() and all(c in "01234567" for c in chunk[1:]):
            out.append(chr(int(chunk[1:], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def fstab_line(path, priority=None):
    """The one fstab line of the swap file ``path``."""
    options = FSTAB_OPTIONS if priority is None else f"{FSTAB_OPTIONS},pri={priority}"
    return f"{fstab_escape(path)} none swap {options} 0 0"


def _is_line_for(line, paths):
    fields = line.split()
    if len(fields) < 3 or fields[0].startswith("#") or fields[2] != "swap":
        return False
    return posixpath.normpath(fstab_unescape(fields[0])) in paths


def update_fstab(text, path, line, real_path=None):
    """The fstab ``text`` with exactly one ``line`` for the swap file ``path`` (none when ``line`` is None).

    The first swap line of the file keeps its place (and is replaced by ``line``); later duplicates are
    removed; every other line, comment and blank line is kept byte for byte. A new line is appended.
    """
    paths = {path}
    if real_path:
        paths.add(real_path)
    lines = text.splitlines(keepends=True)
    out = []
    placed = False
    for current in lines:
        if _is_line_for(current, paths):
            if line is not None and not placed:
                ending = "\n" if current.endswith("\n") else ""
                out.append(line + ending)
                placed = True
            continue
        out.append(current)
    if line is not None and not placed:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(line + "\n")
    return "".join(out)


def fstab_lines_for(text, path, real_path=None):
    """The uncommented swap lines of ``text`` for ``path`` (to report duplicates)."""
    paths = {path}
    if real_path:
        paths.add(real_path)
    return [line for line in text.splitlines() if _is_line_for(line, paths)]


# --- the plan ------------------------------------------------------------------------------------

def describe_state(path, observed_file, area, show_priority):
    """A short text of the swap file's state, for diff mode (before)."""
    if not observed_file or not observed_file.get("exists"):
        return f"{path}: absent\n"
    lines = [f"{path}:",
             f"  size: {format_size(observed_file['size'])} ({observed_file['size']} bytes)",
             f"  mode: {observed_file['mode']:04o}, owner uid {observed_file['uid']}, gid {observed_file['gid']}",
             f"  active: {'yes' if area else 'no'}"]
    if show_priority and area:
        lines.append(f"  priority: {area['priority']}")
    return "\n".join(lines) + "\n"


def describe_wanted(path, size, priority):
    """The same text for the state the plan leads to (after)."""
    lines = [f"{path}:",
             f"  size: {format_size(size)} ({size} bytes)",
             "  mode: 0600, owner uid 0, gid 0",
             "  active: yes"]
    if priority is not None:
        lines.append(f"  priority: {priority}")
    return "\n".join(lines) + "\n"


def plan_swapfile(observed, wanted):
    """Decide what to do. Raises SwapPlanError with the refusal message; returns the plan dict.

    ``observed``: path, real_path, file (None or {exists, regular, size, allocated, mode, uid, gid, signature}),
    area (the /proc/swaps entry or None), mount (mount point), fstype, fs ({used_bytes, available_bytes}),
    mem_available, page_size, swap_permitted (True, False or None when unknown), permission_error (text),
    fstab (text).
    ``wanted``: state, size (bytes, for present), priority (int or None), max_disk_use_percent, allow_resize.

    The plan: actions (ordered list of names the module executes), size (the target size), fstab (the new text),
    warnings, and before/after texts for the diff.
    """
    path, real_path = observed["path"], observed.get("real_path")
    info = observed.get("file")
    area = observed.get("area")
    exists = bool(info and info.get("exists"))
    actions, warnings = [], []

    if exists and not info.get("regular"):
        raise SwapPlanError(f"path: refusing to manage {path}: it exists and is not a regular file (a directory, a link, "
                            "a device...). Nothing was changed.")

    def require_permission():
        if observed.get("swap_permitted") is False:
            raise SwapPlanError(
                f"refusing to manage swap at {path}: this host does not permit swapon/swapoff "
                f"({observed.get('permission_error') or 'Operation not permitted'}). This is a container "
                f"(LXC, OpenVZ, or Docker without CAP_SYS_ADMIN and seccomp=unconfined) or a kernel without swap "
                f"support: add swap on the host instead. Nothing was changed.")

    if wanted["state"] == "absent":
        fstab_after = update_fstab(observed["fstab"], path, None, real_path)
        if exists and not area and not info.get("signature"):
            raise SwapPlanError(f"refusing to remove {path}: it is not a swap area (no swap signature), so it is "
                                f"not a swap file this module made. Nothing was changed.")
        if area:
            require_permission()
            refusal = swapoff_refusal(path, area["used_bytes"], observed.get("mem_available"), "remove it")
            if refusal:
                raise SwapPlanError(refusal)
            actions.append("swapoff")
        if fstab_after != observed["fstab"]:
            actions.append("fstab")
        if exists:
            actions.append("remove")
        return {
            "actions": actions, "size": None, "fstab": fstab_after, "warnings": warnings,
            "before": describe_state(path, info, area, False), "after": f"{path}: absent\n",
        }

    refusal = filesystem_refusal(observed.get("fstype"), observed.get("mount"), path)
    if refusal:
        raise SwapPlanError(refusal)

    size = round_to_pages(wanted["size"], observed.get("page_size") or 4096)
    priority = wanted.get("priority")
    max_percent = wanted["max_disk_use_percent"]
    target_size = size

    if not exists:
        refusal = disk_refusal(path, observed["fs"], observed.get("mount"), size, max_percent, "create the swap file")
        if refusal:
            raise SwapPlanError(refusal)
        require_permission()
        actions += ["create", "swapon"]
    else:
        if not area and not info.get("signature"):
            raise SwapPlanError(f"refusing to use {path}: it exists and is not a swap area (no swap signature); it may "
                                f"hold data. Remove it or choose another file. Nothing was changed.")
        if info["size"] != size and not wanted["allow_resize"]:
            warnings.append(f"{path} is {format_size(info['size'])} and the wanted size is {format_size(size)}; "
                            f"not resized because allow_resize is false.")
            target_size = info["size"]
        holes = not area and info["allocated"] < info["size"]
        if target_size != info["size"] or holes:
            grow = target_size - info["allocated"]
            what = "grow the swap file" if target_size > info["size"] else "rebuild the swap file"
            refusal = disk_refusal(path, observed["fs"], observed.get("mount"), grow, max_percent, what)
            if refusal:
                raise SwapPlanError(refusal)
            require_permission()
            if area:
                refusal = swapoff_refusal(path, area["used_bytes"], observed.get("mem_available"),
                                          f"resize it from {format_size(info['size'])} to {format_size(target_size)}")
                if refusal:
                    raise SwapPlanError(refusal)
                actions.append("swapoff")
            actions += ["resize", "swapon"]
        else:
            if info["mode"] != 0o600 or info["uid"] != 0 or info["gid"] != 0:
                actions.append("permissions")
            if not area:
                require_permission()
                actions.append("swapon")
            elif priority is not None and area["priority"] != priority:
                require_permission()
                refusal = swapoff_refusal(path, area["used_bytes"], observed.get("mem_available"),
                                          f"change its priority from {area['priority']} to {priority}")
                if refusal:
                    raise SwapPlanError(refusal)
                actions += ["swapoff", "swapon"]

    fstab_after = update_fstab(observed["fstab"], path, fstab_line(path, priority), real_path)
    if fstab_after != observed["fstab"]:
        actions.append("fstab")
    return {
        "actions": actions, "size": target_size, "fstab": fstab_after, "warnings": warnings,
        "before": describe_state(path, info, area, priority is not None),
        "after": describe_wanted(path, target_size, priority),
    }
