# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The options of the disk pressure facts, checked before anything is read: one spec for
hostcare.vps.disk_pressure_facts and the C(disk) options of hostcare.vps.audit_facts."""

from __future__ import annotations

import os

from ansible_collections.hostcare.vps.plugins.module_utils import _validate as validate
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

MAX_TOP_N = 1000
DEFAULT_SCAN_PATHS = (
    "/var/log", "/var/lib/docker", "/var/cache/apt", "/var/lib/postgresql", "/var/www", "/home", "/srv", "/opt", "/tmp",
)

ARGUMENT_SPEC = {
    "scan_paths": {"type": "list", "elements": "path"},
    "top_n": {"type": "raw", "default": 10},
    "time_budget": {"type": "raw", "default": 20},
    "cross_filesystems": {"type": "bool", "default": False},
    "min_log_size": {"type": "raw", "default": "50MB"},
    "max_unreadable": {"type": "raw", "default": 50},
    "scan_full_filesystems": {"type": "raw", "default": 85},
    "skip_scan": {"type": "bool", "default": False},
}


def split_scan_paths(scan_paths, check_existence=True):
    """(paths to scan, missing default paths) for the scan_paths option (None: the default list).

    Raise OptionError for a relative, non-normalised, missing or non-directory path the user gave.
    """
    if scan_paths is None:
        present = [path for path in DEFAULT_SCAN_PATHS if os.path.isdir(path)] if check_existence else []
        return present, [path for path in DEFAULT_SCAN_PATHS if path not in present]
    if not scan_paths:
        raise OptionError("scan_paths: give at least one directory, or set skip_scan=true to skip the scan")
    paths = [validate.absolute_path("scan_paths", path, written=False) for path in scan_paths]
    for path in paths if check_existence else ():
        if not os.path.exists(path):
            raise OptionError(f"scan_paths: {path} does not exist")
        if not os.path.isdir(path):
            raise OptionError(f"scan_paths: {path} is not a directory")
    return list(dict.fromkeys(os.path.normpath(path) for path in paths)), []


def validate_options(params):
    """The module parameters checked and converted for gather_disk_facts(); raise OptionError.

    Every value is checked, even those skip_scan makes unused; only the existence of the scan paths is not.
    """
    options = {
        "top_n": validate.integer("top_n", params["top_n"], minimum=1, maximum=MAX_TOP_N),
        "time_budget": validate.timeout("time_budget", params["time_budget"]),
        "cross_filesystems": params["cross_filesystems"],
        "min_log_size": validate.size("min_log_size", params["min_log_size"]),
        "max_unreadable": validate.integer("max_unreadable", params["max_unreadable"]),
        "scan_full_filesystems": validate.percentage("scan_full_filesystems", params["scan_full_filesystems"]),
        "skip_scan": params["skip_scan"],
    }
    options["scan_paths"], options["missing_paths"] = split_scan_paths(params["scan_paths"],
                                                                       check_existence=not params["skip_scan"])
    if params["skip_scan"]:
        options["scan_paths"], options["missing_paths"] = [], []
    return options
