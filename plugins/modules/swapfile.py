#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: swapfile
short_description: Create, resize or remove one swap file, with its single /etc/fstab line
version_added: 0.1.0
description:
  - Manages one swap file and nothing else. Other swap areas and other C(/etc/fstab) lines are never touched.
  - O(state=present) creates the file (C(fallocate), falling back to writing zeros where C(fallocate) is not
    supported or leaves holes; a NOCOW file on btrfs), owned by root with mode C(0600) B(before) C(mkswap),
    activates it with C(swapon) and keeps exactly one C(/etc/fstab) line for it (duplicates are removed).
  - A file of another size is resized in place (O(allow_resize)). An active file is swapped off first, but only
    when the available RAM (C(MemAvailable)) can take back what it holds; otherwise the module fails and changes
    nothing.
  - O(state=absent) swaps the file off (with the same RAM check), removes its C(/etc/fstab) line and deletes it.
  - Refuses, before changing anything, filesystems that cannot hold swap (ZFS, overlay, tmpfs, NFS, FUSE...),
    hosts where swapon is not permitted (LXC, OpenVZ, Docker without C(CAP_SYS_ADMIN) and
    C(seccomp=unconfined)), a size that would fill the filesystem above O(max_disk_use_percent), and an
    existing file without a swap signature (it may hold data).
  - Every option is checked before anything is read or changed; a bad value fails with a message naming it.
  - The C(hostcare.vps.swap) role wraps this module with the swap sysctls.
author:
  - hostcare.vps contributors (@hostcare)
options:
  path:
    description:
      - Absolute, normalised path of the swap file, not under C(/proc), C(/sys) or C(/dev). Its directory must exist.
    type: path
    required: true
  state:
    description:
      - V(present) makes sure the file exists with O(size), is active and has one C(/etc/fstab) line.
      - V(absent) swaps it off and removes it and its C(/etc/fstab) line.
    type: str
    choices: [present, absent]
    default: present
  size:
    description:
      - Size of the swap file, as bytes or a size string such as V(512M), V(2G) or V(1.5GiB) (binary units; a
        lowercase V(b), bits, is refused). 1 MiB to 1 PiB. Rounded up to whole memory pages.
      - V(auto) is the collection's recommendation for the host's RAM (C(MemTotal)), the one the audit uses (2 x RAM
        up to 2 GiB, 4 GiB up to 4 GiB, then as much as the RAM, at most 8 GiB, rounded up to 512 MiB), limited to
        what fits on the filesystem (at most O(max_disk_use_percent) used after it and, when free space is short,
        at most a quarter of the free space, rounded down to 512 MiB). The current swap file counts as free space,
        so a second run gives the same size. Refused when nothing fits.
      - Required when O(state=present).
    type: str
  priority:
    description:
      - Swap priority, a whole number from V(0) to V(32767), used by C(swapon -p) and written as C(pri=) in
        C(/etc/fstab).
      - Omitted, the kernel chooses. Changing it on an active file needs a swapoff, with the RAM check.
    type: raw
  max_disk_use_percent:
    description:
      - Refuse to create or grow the file when the filesystem would end above this use (computed as C(df) does),
        a whole number from V(1) to V(100).
    type: raw
    default: 90
  allow_resize:
    description:
      - Resize an existing file whose size differs from O(size). When V(false) the file keeps its size and the
        module warns.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reports what would change, runs every refusal check, and changes nothing.
  diff_mode:
    support: full
    description: Shows the swap file's state and the C(/etc/fstab) lines before and after.
notes:
  - Linux only. Needs root. Swap is not namespaced, so inside a container this changes the host's swap.
  - Uses C(fallocate), C(mkswap), C(swapon) and C(swapoff) from util-linux.
seealso:
  - name: swapon(8)
    description: Why swap files must not have holes, and the swap file rules of btrfs.
    link: https://man7.org/linux/man-pages/man8/swapon.8.html
"""

EXAMPLES = r"""
- name: Have a 2 GiB swap file at /swapfile
  hostcare.vps.swapfile:
    path: /swapfile
    size: 2G

- name: Have the recommended swap for this host's RAM, as far as it fits on the disk
  hostcare.vps.swapfile:
    path: /swapfile
    size: auto

- name: Put a second swap file on the data disk, used before the first one
  hostcare.vps.swapfile:
    path: /srv/swapfile
    size: 1G
    priority: 10
    max_disk_use_percent: 80

- name: Remove the swap file (fails, changing nothing, when RAM cannot take back what it holds)
  hostcare.vps.swapfile:
    path: /swapfile
    state: absent
"""

RETURN = r"""
path:
  description: The swap file.
  returned: always
  type: str
  sample: /swapfile
state:
  description: The requested state.
  returned: always
  type: str
  sample: present
size_bytes:
  description: Size of the file after the run (the rounded O(size), or the kept size when not resized); V(null) for O(state=absent).
  returned: always
  type: int
  sample: 2147483648
size_reason:
  description: With O(size=auto), how the size was chosen (the recommendation and what fits on the disk); V(null) otherwise.
  returned: always
  type: str
  sample: 2.0 GiB fits on /srv (40.0 GiB free) and leaves it under 90% use
previous_size_bytes:
  description: Size of the file before the run; V(null) when it did not exist.
  returned: always
  type: int
  sample: 1073741824
active:
  description: Whether the file is (in check mode, would be) an active swap area after the run.
  returned: always
  type: bool
  sample: true
priority:
  description: Priority of the active area after the run (in check mode, the wanted one); V(null) when inactive or unknown.
  returned: always
  type: int
  sample: -2
actions:
  description:
    - What was (in check mode, would be) done, in order. Empty when nothing changed.
    - One of V(swapoff), V(create), V(resize), V(permissions), V(swapon), V(fstab), V(remove).
  returned: always
  type: list
  elements: str
  sample: [create, swapon, fstab]
method:
  description: How the blocks of the file were allocated, V(fallocate), V(zero-fill) or V(null) when no file was written.
  returned: always
  type: str
  sample: fallocate
filesystem:
  description: The filesystem holding the file; V(null) for O(state=absent) when its directory does not exist.
  returned: always
  type: dict
  contains:
    mount:
      description: Its mount point.
      type: str
      sample: /
    fstype:
      description: Its type.
      type: str
      sample: ext4
fstab_line:
  description: The C(/etc/fstab) line of the file; V(null) for O(state=absent).
  returned: always
  type: str
  sample: /swapfile none swap sw,nofail 0 0
"""

import ctypes
import errno
import os
import stat

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._disk import filesystem_usage, parse_mountinfo
from ansible_collections.hostcare.vps.plugins.module_utils._files import write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._memory import parse_meminfo, parse_proc_swaps
from ansible_collections.hostcare.vps.plugins.module_utils._swapfile import (
    SwapPlanError,
    auto_swap_size,
    find_mount,
    find_swap_area,
    fstab_line,
    has_swap_signature,
    is_auto,
    checked_options,
    plan_swapfile,
)
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size

FSTAB = "/etc/fstab"
PROC_SWAPS = "/proc/swaps"
PROC_MEMINFO = "/proc/meminfo"
PROC_MOUNTINFO = "/proc/self/mountinfo"
PROBE_PATH = b"/nonexistent/hostcare-vps-swap-permission-probe"

ZERO_CHUNK = 1024 * 1024
FS_NOCOW_FL = 0x00800000


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return default


def probe_swap_permission():
    """(permitted, reason): swapoff(2) of a path that does not exist tells, harmlessly, whether swap calls may run.

    The kernel checks CAP_SYS_ADMIN (in the initial user namespace) before it looks at the path, and a seccomp
    filter answers before the kernel: EPERM means not permitted, ENOENT means permitted. (None, reason) when
    the C library cannot be used.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        swapoff = libc.swapoff
    except (OSError, AttributeError) as error:
        return None, f"could not call swapoff(2): {error}"
    swapoff.argtypes = [ctypes.c_char_p]
    swapoff.restype = ctypes.c_int
    ctypes.set_errno(0)
    if swapoff(PROBE_PATH) == 0:  # pragma: no cover - the path does not exist
        return True, ""
    number = ctypes.get_errno()
    if number in (errno.EPERM, errno.EACCES):
        return False, f"swapoff(2): {os.strerror(number)}"
    if number == errno.ENOSYS:
        return False, "the kernel has no swap support (ENOSYS)"
    return True, ""


def observe(path):
    """Everything plan_swapfile() needs to know about ``path`` and its host."""
    real_path = os.path.realpath(path)
    directory = os.path.dirname(real_path)
    observed = {"path": path, "real_path": real_path, "directory": directory, "file": None,
                "page_size": os.sysconf("SC_PAGE_SIZE"), "fstab": _read(FSTAB)}
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        info = {"exists": True, "regular": stat.S_ISREG(st.st_mode), "size": st.st_size,
                "allocated": st.st_blocks * 512, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                "gid": st.st_gid, "signature": False}
        if info["regular"] and st.st_size >= observed["page_size"]:
            with open(path, "rb") as handle:
                info["signature"] = has_swap_signature(handle.read(observed["page_size"]))
        observed["file"] = info
    observed["area"] = find_swap_area(parse_proc_swaps(_read(PROC_SWAPS)), path, real_path)
    observed["directory_exists"] = os.path.isdir(directory)
    if observed["directory_exists"]:
        mount = find_mount(parse_mountinfo(_read(PROC_MOUNTINFO)), directory)
        observed["mount"] = mount["mount"] if mount else None
        observed["fstype"] = mount["fstype"] if mount else None
        observed["fs"] = filesystem_usage(os.statvfs(directory))
    else:
        observed["mount"] = observed["fstype"] = observed["fs"] = None
    meminfo = parse_meminfo(_read(PROC_MEMINFO))
    observed["mem_available"] = meminfo.get("MemAvailable")
    observed["mem_total"] = meminfo.get("MemTotal")
    observed["swap_permitted"], observed["permission_error"] = probe_swap_permission()
    return observed


class SwapFile:
    """Runs a plan on the host. Each step fails the module with a message saying what state it left."""

    def __init__(self, module, path, fstype, priority):
        self.module = module
        self.path = path
        self.fstype = fstype
        self.priority = priority
        self.method = None

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=f"hostcare.vps.swapfile: {msg}", path=self.path, **kwargs)

    def run(self, argv):
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            return f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()}"
        return None

    def swapoff(self):
        error = self.run([self.module.get_bin_path("swapoff", required=True), self.path])
        if error:
            self.fail(f"{error}. Nothing else was changed.")

    def swapon(self):
        argv = [self.module.get_bin_path("swapon", required=True)]
        if self.priority is not None:
            argv += ["-p", str(self.priority)]
        return self.run(argv + [self.path])

    def mkswap(self, path):
        return self.run([self.module.get_bin_path("mkswap", required=True), path])

    def zero_fill(self, path, start, end):
        """Write zeros from ``start`` to ``end``: real blocks, no holes (what dd if=/dev/zero does)."""
        chunk = bytes(ZERO_CHUNK)
        with open(path, "r+b") as handle:
            handle.seek(start)
            position = start
            while position < end:
                count = min(ZERO_CHUNK, end - position)
                handle.write(chunk[:count])
                position += count
            handle.flush()
            os.fsync(handle.fileno())
        self.method = "zero-fill"

    def allocate(self, path, size):
        """Give the file ``size`` bytes of real blocks: fallocate, else zeros; zeros again if holes are left."""
        fallocate = self.module.get_bin_path("fallocate")
        current = os.stat(path).st_size
        error = self.run([fallocate, "-l", str(size), path]) if fallocate else "no fallocate"
        if error is None:
            self.method = "fallocate"
        elif fallocate and "not supported" not in error:
            raise OSError(error)  # ENOSPC and the like: writing zeros would fail too, after filling the disk
        else:
            self.zero_fill(path, current, size)
        if os.stat(path).st_blocks * 512 < size:
            self.zero_fill(path, 0, size)

    def set_nocow(self, fd):
        """btrfs: swap files must not be copy-on-write; the flag only takes on an empty file."""
        import array
        import fcntl
        import struct

        long_size = struct.calcsize("l")
        get_flags = 0x80086601 if long_size == 8 else 0x80046601
        set_flags = 0x40086602 if long_size == 8 else 0x40046602
        flags = array.array("i", [0])
        fcntl.ioctl(fd, get_flags, flags, True)
        flags[0] |= FS_NOCOW_FL
        fcntl.ioctl(fd, set_flags, flags)

    def create(self, size, replacing=False):
        """Make the file under a temporary name, mkswap it, then move it into place."""
        directory, name = os.path.split(self.path)
        temp = os.path.join(directory, f".{name}.hostcare-new")
        if os.path.lexists(temp):
            os.unlink(temp)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o600)
                if self.fstype == "btrfs":
                    self.set_nocow(fd)
            finally:
                os.close(fd)
            self.allocate(temp, size)
            error = self.mkswap(temp)
            if error:
                raise OSError(error)
            os.rename(temp, self.path)
        except OSError as error:
            if os.path.lexists(temp):
                os.unlink(temp)
            if replacing:
                self.fail(f"could not recreate the swap file: {error}. The old file was removed (it was not "
                          f"active); run again after fixing the cause.")
            self.fail(f"could not create the swap file: {error}. Nothing was left behind.")

    def resize(self, size):
        """Resize the inactive file in place (btrfs: recreate it, so it is surely NOCOW), then mkswap it."""
        if self.fstype == "btrfs":
            os.unlink(self.path)
            self.create(size, replacing=True)
            return
        try:
            os.chown(self.path, 0, 0)
            os.chmod(self.path, 0o600)
            if os.stat(self.path).st_size > size:
                os.truncate(self.path, size)
            self.allocate(self.path, size)
            error = self.mkswap(self.path)
            if error:
                raise OSError(error)
        except OSError as error:
            self.fail(f"could not resize the swap file: {error}. The file is not active now; run again "
                      f"after fixing the cause.")

    def activate(self, created):
        error = self.swapon()
        if error and self.method == "fallocate" and "Invalid argument" in error:
            # Some kernels treat fallocated (unwritten) extents as holes: write real zeros and try again.
            self.zero_fill(self.path, 0, os.stat(self.path).st_size)
            error = self.mkswap(self.path) or self.swapon()
        if error:
            if "Operation not permitted" in error:
                error += (" (swapon is not permitted here: a container without CAP_SYS_ADMIN and "
                          "seccomp=unconfined, LXC or OpenVZ; add swap on the host instead)")
            if created:
                os.unlink(self.path)
                self.fail(f"{error}. The new file was removed; nothing else was changed.")
            self.fail(f"{error}. The file stays inactive and /etc/fstab was not changed.")

    def write_fstab(self, text):
        # atomic_move keeps the owner, mode and SELinux context of the existing /etc/fstab
        write_atomically(FSTAB, text, move=self.module.atomic_move)


ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "size": {"type": "str"},
    "priority": {"type": "raw"},
    "max_disk_use_percent": {"type": "raw", "default": 90},
    "allow_resize": {"type": "bool", "default": True},
}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_if=[("state", "present", ("size",))],
        supports_check_mode=True,
    )
    params, problems = checked_options(module.params)
    path, state, priority = params["path"], params["state"], params["priority"]
    if problems:
        module.fail_json(msg="hostcare.vps.swapfile: " + "; ".join(problems) + ". Nothing was changed.",
                         problems=problems)

    try:
        observed = observe(path)
    except OSError as error:  # an unreadable file or directory on the way
        module.fail_json(msg=f"hostcare.vps.swapfile: cannot look at {path}: {error}. Nothing was changed.", path=path)
    if not observed["directory_exists"] and state == "present":
        module.fail_json(msg=f"hostcare.vps.swapfile: the directory {observed['directory']} of {path} does not exist. "
                             f"Nothing was changed.")
    size, size_reason = None, None
    try:
        if state == "present" and is_auto(params["size"]):
            current = observed["file"]["allocated"] if observed["file"] and observed["file"]["regular"] else 0
            size, size_reason = auto_swap_size(observed["mem_total"], observed["fs"], current,
                                               params["max_disk_use_percent"], observed["directory"])
        elif state == "present":
            size = params["size"]
        wanted = {"state": state, "size": size, "priority": priority,
                  "max_disk_use_percent": params["max_disk_use_percent"], "allow_resize": params["allow_resize"]}
        plan = plan_swapfile(observed, wanted)
    except SwapPlanError as error:
        module.fail_json(msg=f"hostcare.vps.swapfile: {error}", path=path)

    for warning in plan["warnings"]:
        module.warn(warning)
    actions = plan["actions"]
    info = observed["file"]
    area = observed["area"]
    runner = SwapFile(module, path, observed["fstype"], priority)

    if actions and not module.check_mode:
        for action in actions:
            if action == "swapoff":
                runner.swapoff()
            elif action == "create":
                runner.create(plan["size"])
            elif action == "resize":
                runner.resize(plan["size"])
            elif action == "permissions":
                os.chown(path, 0, 0)
                os.chmod(path, 0o600)
            elif action == "swapon":
                runner.activate(created="create" in actions)
            elif action == "fstab":
                runner.write_fstab(plan["fstab"])
            elif action == "remove":
                os.unlink(path)
        area = find_swap_area(parse_proc_swaps(_read(PROC_SWAPS)), path, observed["real_path"])
        if state == "present" and area is None:
            runner.fail("swapon reported success but the file is not in /proc/swaps")
        active = area is not None
        active_priority = area["priority"] if area else None
    elif state == "present":
        active = True
        active_priority = priority if priority is not None else (area["priority"] if area and "swapoff" not in actions
                                                                 else None)
    else:
        active, active_priority = False, None

    result = {
        "changed": bool(actions),
        "path": path,
        "state": state,
        "size_bytes": plan["size"],
        "size_reason": size_reason,
        "previous_size_bytes": info["size"] if info else None,
        "active": active,
        "priority": active_priority,
        "actions": actions,
        "method": runner.method,
        "filesystem": {"mount": observed["mount"], "fstype": observed["fstype"]} if observed["mount"] else None,
        "fstab_line": fstab_line(path, priority) if state == "present" else None,
    }
    if actions:
        verb = "would be" if module.check_mode else "was"
        if state == "absent":
            result["msg"] = f"{path} {verb} removed"
        else:
            result["msg"] = f"{path} {verb} set to {format_size(plan['size'])} ({', '.join(actions)})"
    if module._diff and actions:
        result["diff"] = [
            {"before_header": f"{path} (swap file)", "after_header": f"{path} (swap file)",
             "before": plan["before"], "after": plan["after"]},
            {"before_header": FSTAB, "after_header": FSTAB, "before": observed["fstab"], "after": plan["fstab"]},
        ]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
