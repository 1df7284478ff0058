# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The checks of a node_exporter textfile before it is written: an absolute path ending in .prom, in a directory
that exists, and text that ends with a newline. Each refusal names the option (or the playbook variable) given.

Why a temporary file without the .prom suffix matters: node_exporter's textfile collector reads every file of its
directory whose name ends in .prom, hidden ones too (checked with node_exporter 1.5.0), so a temporary file named
``.something.prom`` is read half-written. ansible.builtin.copy renames its upload into place when the upload
directory is on the same filesystem, and otherwise copies it first to ``.ansible_tmp<random><name>`` in the
destination directory, a name that ends in .prom. _files.write_atomically writes ``.hostcare-<random>`` there and
renames it, so node_exporter only ever sees the old file or the new one.
"""

from __future__ import annotations

import os
import posixpath
import re

from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError, absolute_path

SUFFIX = ".prom"
TEXTFILE_MODE = 0o644
"""node_exporter runs as its own user (prometheus on Debian): the file must be readable by all; it holds no secret."""

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,99}$")


def check_name(option, value):
    """The name refusals give the path: an option or variable name (letters, digits, _ and .)."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise OptionError(f"{option}: must be an option or variable name (letters, digits, _ and ., at most 100), "
                          f"got {value!r}")
    return value


def check_textfile_path(option, value):
    """An absolute, normalised path whose file name ends in .prom (node_exporter reads no other)."""
    path = absolute_path(option, value)
    name = posixpath.basename(path)
    if not name.endswith(SUFFIX) or name == SUFFIX:
        raise OptionError(f"{option}: must name a file ending in {SUFFIX} (node_exporter's textfile collector reads "
                          f"only *{SUFFIX} files), got {value!r}")
    return path


def check_textfile_directory(option, path, isdir=os.path.isdir):
    """The directory of ``path`` must exist (node_exporter's --collector.textfile.directory; never created here:
    a directory node_exporter does not read would hide the metrics), and ``path`` must not be a directory."""
    directory = posixpath.dirname(path)
    if not isdir(directory):
        raise OptionError(f"{option}: the directory {directory} does not exist; give a file in the directory "
                          f"node_exporter reads (its --collector.textfile.directory), got {path!r}")
    if isdir(path):
        raise OptionError(f"{option}: {path} is a directory; give a file name ending in {SUFFIX}")
    return directory


def check_textfile_content(option, value):
    """The text format's last line ends with a newline (node_exporter refuses the file otherwise)."""
    if not isinstance(value, str) or (value and not value.endswith("\n")):
        raise OptionError(f"{option}: must be text ending with a newline (the Prometheus text format), "
                          f"got {str(value)[-40:]!r}")
    return value
