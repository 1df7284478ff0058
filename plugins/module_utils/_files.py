# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Writing a configuration or state file so that readers see the old or the new content, never a half-written one."""

from __future__ import annotations

import os
import tempfile


def write_atomically(path, text, mode=0o644, move=os.rename):
    """Write `text` to `path` through a temporary file in the same directory (created 0755 if missing), then
    `move` it into place. Modules pass AnsibleModule.atomic_move, which keeps an existing file's owner, mode and
    SELinux context; the default rename sets `mode`. Nothing is left behind when it fails."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".hostcare-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        move(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def read_bytes(path):
    """The file's bytes; None when it cannot be read (missing, unreadable, or refused by the kernel: PSI disabled
    answers EOPNOTSUPP). For facts, where an unreadable file is a fact, not an error."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def read_text_if_readable(path):
    """read_bytes() as text (UTF-8, undecodable bytes replaced); None when the file cannot be read."""
    data = read_bytes(path)
    return None if data is None else data.decode("utf-8", "replace")


def read_text(path, errors="strict"):
    """The file's text (UTF-8), None when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors=errors) as handle:
            return handle.read()
    except FileNotFoundError:
        return None
