# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""logrotate entries: input checks, rendering, logrotate's error lines.

Pure functions (no I/O): the logrotate_entry module does the reading, the
`logrotate -d` run and the writing. Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import re

# daemon.json's log options live in _docker_daemon_config; re-exported for the importers of these names.
from ansible_collections.hostcare.vps.plugins.module_utils._docker_daemon_config import (  # noqa: F401  pylint: disable=unused-import
    DaemonJsonError,
    docker_log_opts,
    merge_daemon_json,
    uncapped_containers,
)

MARKER = "# Managed by hostcare.vps.logrotate"
FREQUENCIES = ("hourly", "daily", "weekly", "monthly")
# File names logrotate's include reads: no dots (it skips taboo extensions such as .dpkg-old and .disabled).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SIZE_RE = re.compile(r"^[0-9]+[kKMG]?$")
MODE_RE = re.compile(r"^0?[0-7]{3}$")
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")
# Characters a path in a logrotate config cannot hold (it is written in double quotes).
_PATH_FORBIDDEN = re.compile(r'["\n\r{}]')

# (option, word written when true, word written when false)
FLAGS = (
    ("compress", "compress", "nocompress"),
    ("delaycompress", "delaycompress", "nodelaycompress"),
    ("missingok", "missingok", "nomissingok"),
    ("notifempty", "notifempty", "ifempty"),
    ("dateext", "dateext", "nodateext"),
    ("sharedscripts", "sharedscripts", "nosharedscripts"),
)


def _script_lines(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()]
    return [str(line) for line in value if str(line).strip()]


def entry_errors(entry):
    """Every problem of one entry (the logrotate_entry module's parameters), as messages naming the option."""
    errors = []
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors.append(f"name={name!r} must be 1 to 64 letters, digits, '-' or '_', starting with a letter or digit "
                      "(it is the file name in /etc/logrotate.d; logrotate skips names with dots)")
    if entry.get("state", "present") not in ("present", "absent"):
        errors.append(f"state={entry.get('state')!r} must be one of: present, absent")
    if entry.get("state", "present") == "absent":
        return errors
    paths = entry.get("paths")
    if not paths or not isinstance(paths, (list, tuple)):
        errors.append("paths must be a non-empty list of absolute paths or globs of log files")
    else:
        for path in paths:
            if not isinstance(path, str) or not path.startswith("/") or _PATH_FORBIDDEN.search(path):
                errors.append(f"paths: {path!r} must be an absolute path or glob without quotes, braces or newlines")
    if entry.get("frequency") not in FREQUENCIES:
        errors.append(f"frequency={entry.get('frequency')!r} must be one of: {', '.join(FREQUENCIES)}")
    rotate = entry.get("rotate")
    if not isinstance(rotate, int) or isinstance(rotate, bool) or not 0 <= rotate <= 10000:
        errors.append(f"rotate={rotate!r} must be a whole number of rotated files to keep, 0 to 10000")
    for key in ("size", "maxsize", "minsize"):
        value = entry.get(key)
        if value is not None and not SIZE_RE.match(str(value)):
            errors.append(f"{key}={value!r} must be bytes or a number with k, M or G (100k, 50M, 1G)")
    if entry.get("size") is not None and (entry.get("maxsize") is not None or entry.get("minsize") is not None):
        errors.append("size rotates on size alone, ignoring the frequency: set size, or maxsize/minsize, not both")
    create_keys = [key for key in ("create_mode", "create_owner", "create_group") if entry.get(key) is not None]
    if entry.get("copytruncate") and create_keys:
        errors.append(f"copytruncate and {', '.join(create_keys)} exclude each other: copytruncate keeps the file, "
                      "create makes a new one")
    mode = entry.get("create_mode")
    if mode is not None and not MODE_RE.match(str(mode)):
        errors.append(f"create_mode={mode!r} must be an octal mode such as '0640'")
    if entry.get("create_group") is not None and entry.get("create_owner") is None:
        errors.append("create_group needs create_owner (logrotate's create takes mode, owner, group in that order)")
    if entry.get("create_owner") is not None and mode is None:
        errors.append("create_owner needs create_mode (logrotate's create takes mode, owner, group in that order)")
    for key in ("create_owner", "create_group", "su_user", "su_group"):
        value = entry.get(key)
        if value is not None and not ACCOUNT_RE.match(str(value)):
            errors.append(f"{key}={value!r} is not a user or group name")
    if (entry.get("su_user") is None) != (entry.get("su_group") is None):
        errors.append("su_user and su_group go together (logrotate's su takes both)")
    for key in ("prerotate", "postrotate"):
        for line in _script_lines(entry.get(key)):
            if line.strip() == "endscript":
                errors.append(f"{key} must not contain 'endscript' (the role closes the script)")
    return errors


def render_entry(entry):
    """The /etc/logrotate.d/<name> file of a checked entry (see entry_errors)."""
    lines = [
        f"{MARKER} (entry {entry['name']}). Changes made here are overwritten.",
    ]
    lines.extend(f'"{path}"' for path in entry["paths"])
    lines[-1] += " {"
    body = [entry["frequency"], f"rotate {entry['rotate']}"]
    for key in ("size", "maxsize", "minsize"):
        if entry.get(key) is not None:
            body.append(f"{key} {entry[key]}")
    for key, yes, no in FLAGS:
        body.append(yes if entry.get(key) else no)
    if entry.get("copytruncate"):
        body.append("copytruncate")
    else:
        create = ["create"]
        create.extend(str(entry[key]) for key in ("create_mode", "create_owner", "create_group")
                      if entry.get(key) is not None)
        body.append(" ".join(create))
    if entry.get("su_user") is not None:
        body.append(f"su {entry['su_user']} {entry['su_group']}")
    for key in ("prerotate", "postrotate"):
        script = _script_lines(entry.get(key))
        if script:
            body.append(key)
            body.extend("    " + line.strip() for line in script)
            body.append("endscript")
    lines.extend("    " + line for line in body)
    lines.append("}")
    return "\n".join(lines) + "\n"


def is_ours(content):
    """Whether a file was written by this role (its first line is the marker)."""
    return content.startswith(MARKER)


def logrotate_errors(output, tmp_path, dest_path):
    """logrotate's own error lines, with the temporary file's name replaced by the file it would become."""
    errors = [line.strip().replace(tmp_path, dest_path) for line in output.splitlines()
              if line.strip().startswith("error:")]
    return errors or [line.strip() for line in output.splitlines() if line.strip()][-3:]


def staged_main_config(main_text, config_dir, staged_dir):
    """logrotate's main configuration with its `include <config_dir>` pointed at a staged copy of that directory.

    With no main configuration, or one that does not include config_dir, just the include of the staged copy.
    """
    wanted = config_dir.rstrip("/")
    lines, replaced = [], False
    for line in (main_text or "").splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "include" and words[1].rstrip("/") == wanted:
            lines.append(f"include {staged_dir}")
            replaced = True
        else:
            lines.append(line)
    if not replaced:
        return f"include {staged_dir}\n"
    return "\n".join(lines) + "\n"


def new_errors(output_without, output_with):
    """logrotate's error lines that appear only once the entry is added (other files' own errors are not ours)."""
    before = {line.strip() for line in output_without.splitlines() if line.strip().startswith("error:")}
    return [line.strip() for line in output_with.splitlines()
            if line.strip().startswith("error:") and line.strip() not in before]
