# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""/proc/<pid>/mountinfo, parsed once for every module that needs it (swap, disk and swapfile facts).

Pure: text in, dicts out. Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import re

_OCTAL_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def unescape_octal(field):
    """Decode the \\040-style octal escapes the kernel (mountinfo) and fstab use for space, tab, newline, backslash."""
    return _OCTAL_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mountinfo(text):
    """Parse mountinfo into a list of dicts, in file order; malformed lines are skipped.

    Each dict has mount_id, parent_id (int), device_number ("major:minor"), root (the path inside the
    filesystem that is mounted: "/" for a whole filesystem, a subdirectory for a bind mount or a btrfs
    subvolume), mount, fstype, device (the mount source, for example /dev/vda1 or overlay) and
    super_options (the filesystem's own options, e.g. "rw,memory" for a cgroup v1 memory hierarchy).
    """
    mounts = []
    for line in (text or "").splitlines():
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
            mount_id, parent_id = int(fields[0]), int(fields[1])
            device_number, root, mount_point = fields[2], fields[3], fields[4]
            fstype, source = fields[separator + 1], fields[separator + 2]
        except (ValueError, IndexError):
            continue
        mounts.append({
            "mount_id": mount_id,
            "parent_id": parent_id,
            "device_number": device_number,
            "root": unescape_octal(root),
            "mount": unescape_octal(mount_point),
            "fstype": fstype,
            "device": unescape_octal(source),
            "super_options": fields[separator + 3] if len(fields) > separator + 3 else "",
        })
    return mounts


def find_mount(mounts, path):
    """The mount (parse_mountinfo, or any dicts with a "mount" key) holding ``path``: the longest mount point that contains it.

    Of several mounts on the same mount point the last one (the top of the stack) wins. None without any.
    """
    best = None
    for mount in mounts:
        point = mount["mount"]
        if path == point or point == "/" or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best["mount"]):
                best = mount
    return best
