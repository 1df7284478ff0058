# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""logrotate entries: input checks (of one entry, of a set, of the logrotate role's variables), rendering and
logrotate's error lines.

Pure functions (no I/O): the logrotate_entry module does the reading, the `logrotate -d` run and the writing; the
role's first task (hostcare.vps.check_role_variables) runs role_input_errors on the controller. daemon.json's log
options live in _docker_daemon_config. Runs on the target's python3 (3.9+), standard library only.
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
from ansible_collections.hostcare.vps.plugins.module_utils._validate import MAX_SIZE_BYTES, OptionError, absolute_path, integer
from ansible_collections.hostcare.vps.plugins.module_utils._validate import size as validate_size

MARKER = "# Managed by hostcare.vps.logrotate"
FREQUENCIES = ("hourly", "daily", "weekly", "monthly")
STATES = ("present", "absent")
MAX_ROTATE = 10000

# The options of one entry: the logrotate_entry module's own options and the suboptions of its `entries`.
# (The role documents the same in meta/argument_specs.yml; a unit test keeps the two equal.)
ENTRY_SPEC = {
    "name": {"type": "str", "required": True},
    "state": {"type": "str", "choices": list(STATES), "default": "present"},
    "paths": {"type": "list", "elements": "str"},
    "frequency": {"type": "str", "choices": list(FREQUENCIES), "default": "daily"},
    "rotate": {"type": "raw", "default": 14},  # raw: ansible-core's int crashes on inf; checked by entry_errors
    "size": {"type": "str"},
    "maxsize": {"type": "str"},
    "minsize": {"type": "str"},
    "compress": {"type": "bool", "default": True},
    "delaycompress": {"type": "bool", "default": False},
    "missingok": {"type": "bool", "default": True},
    "notifempty": {"type": "bool", "default": True},
    "dateext": {"type": "bool", "default": False},
    "copytruncate": {"type": "bool", "default": False},
    "create_mode": {"type": "str"},
    "create_owner": {"type": "str"},
    "create_group": {"type": "str"},
    "su_user": {"type": "str"},
    "su_group": {"type": "str"},
    "sharedscripts": {"type": "bool", "default": False},
    "prerotate": {"type": "list", "elements": "str"},
    "postrotate": {"type": "list", "elements": "str"},
}
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


def _size_bytes(text):
    """Bytes of a logrotate size (SIZE_RE): k and K are KiB, M MiB, G GiB."""
    unit = text[-1] if text[-1] in "kKMG" else ""
    return int(text[:len(text) - len(unit)]) * {"": 1, "k": 1024, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[unit]


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
            try:
                absolute_path("paths", path)  # rotating renames and creates files there: a written path
            except OptionError as error:
                errors.append(str(error))
                continue
            if _PATH_FORBIDDEN.search(path):
                errors.append(f"paths: {path!r} must be an absolute path or glob without quotes, braces or newlines")
    if entry.get("frequency") not in FREQUENCIES:
        errors.append(f"frequency={entry.get('frequency')!r} must be one of: {', '.join(FREQUENCIES)}")
    try:
        integer("rotate", entry.get("rotate"), 0, MAX_ROTATE, unit="rotated files to keep")
    except OptionError as error:
        errors.append(str(error))
    for key in ("size", "maxsize", "minsize"):
        value = entry.get(key)
        if value is not None and not SIZE_RE.match(str(value)):
            errors.append(f"{key}={value!r} must be bytes or a number with k, M or G (100k, 50M, 1G)")
        elif value is not None and _size_bytes(str(value)) > MAX_SIZE_BYTES:
            errors.append(f"{key}={value!r} must be at most 1 PiB")
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


def with_defaults(entry):
    """An entry with the defaults of ENTRY_SPEC for the options it leaves out (as the module's argument spec fills
    them), so that the role's check sees what the module will."""
    filled = {key: spec.get("default") for key, spec in ENTRY_SPEC.items()}
    filled.update({key: value for key, value in entry.items() if value is not None or key not in filled})
    return filled


def _glob_regex(pattern):
    """A regex for a logrotate glob (glob(3): * and ? do not match '/', [...] is a class)."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[index + 2:]:
            end = pattern.index("]", index + 2)
            body = pattern[index + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body[:1] in "!^" and body else re.escape(body)) + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out) + r"\Z")


def paths_overlap(first, second):
    """Whether two log paths or globs name the same file: equal, or one is a path the other's glob matches."""
    return first == second or bool(_glob_regex(first).match(second)) or bool(_glob_regex(second).match(first))


def entries_errors(entries):
    """Every problem of a set of entries (each as the module's options), before any is written.

    Each entry's own problems (entry_errors), then the set's: a name twice, and a log that two present entries name
    (equal paths, or one entry's glob matching the other's path): logrotate skips one of them, and an hourly entry
    with a daily one would rotate the same file twice. Files on the host are logrotate -d's part (the module).
    """
    errors = []
    if not isinstance(entries, (list, tuple)):
        return [f"entries: must be a list of entries, got {type(entries).__name__}"]
    names = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            errors.append(f"entries[{index}]: must be a dict with at least a name, got {entry!r}")
            continue
        label = entry.get("name") if isinstance(entry.get("name"), str) else f"entries[{index}]"
        errors.extend(f"entry {label!r}: {error}" for error in entry_errors(with_defaults(entry)))
        if entry.get("name") in names:
            errors.append(f"entry {label!r}: the name is used by two entries; each entry is one file, named once")
        names.append(entry.get("name"))
    present = [with_defaults(entry) for entry in entries
               if isinstance(entry, dict) and entry.get("state", "present") == "present"
               and isinstance(entry.get("paths"), (list, tuple))]
    for index, first in enumerate(present):
        for second in present[index + 1:]:
            for first_path in first["paths"]:
                for second_path in second["paths"]:
                    if isinstance(first_path, str) and isinstance(second_path, str) and \
                            paths_overlap(first_path, second_path):
                        errors.append(_overlap_message(first, first_path, second, second_path))
    return errors


def _overlap_message(first, first_path, second, second_path):
    same = first_path if first_path == second_path else f"{first_path} and {second_path}"
    if first["frequency"] != second["frequency"] and "hourly" in (first["frequency"], second["frequency"]):
        why = (f"the {first['frequency']} and the {second['frequency']} run would both rotate it (the hourly run "
               "has its own configuration, so logrotate cannot see the clash)")
    else:
        why = "logrotate rotates a log named twice only once, with one of the two entries, and reports an error"
    return (f"entries {first['name']!r} and {second['name']!r} name the same log ({same}): {why}; name each log "
            f"in one entry")


# --- the logrotate role's variables --------------------------------------------------------------------------

ROLE_PREFIX = "hostcare_logrotate_"
# journald's size syntax (systemd's parse_size: base 1024, K M G T suffixes, decimals) and time spans.
JOURNALD_SIZE_RE = re.compile(r"^[0-9]+(\.[0-9]+)?[KMGT]?$", re.ASCII)
JOURNALD_SPAN_RE = re.compile(
    r"^([0-9]+ ?(us|ms|s|sec|m|min|h|hour|hours|d|day|days|w|week|weeks|month|months|y|year|years)? ?)+$", re.ASCII)


def _journald_size(option, value):
    if not isinstance(value, str) or not JOURNALD_SIZE_RE.match(value):
        raise OptionError(f"{option}: must be a size as journald writes it, such as 500M or 2G (K, M, G, T), "
                          f"got {value!r}")
    validate_size(option, value)  # finite and at most 1 PiB


def role_input_errors(values):
    """Every problem in the values of the hostcare.vps.logrotate role ({hostcare_logrotate_<name>: value}).

    The entries as the logrotate_entry module checks them (entries_errors), the directories the role writes
    (absolute), journald's sizes and time span, and the Docker log options as docker_log_config checks them.
    Absent variables are not checked; types and choices are the role's argument spec's job.
    """
    inputs = {key[len(ROLE_PREFIX):]: value for key, value in values.items() if key.startswith(ROLE_PREFIX)}
    errors = []

    def collect(key, check, *args):
        if inputs.get(key) is None:
            return
        try:
            check(ROLE_PREFIX + key, inputs[key], *args)
        except OptionError as error:
            errors.append(str(error))

    if "entries" in inputs:
        errors.extend(f"{ROLE_PREFIX}entries: {error}" for error in entries_errors(inputs["entries"] or []))
    for key in ("config_dir", "hourly_config_dir", "journald_dropin", "docker_daemon_json"):
        collect(key, absolute_path)
    for key in ("journald_system_max_use", "journald_system_keep_free", "journald_vacuum_size"):
        collect(key, _journald_size)
    if inputs.get("journald_max_retention") is not None:
        span = inputs["journald_max_retention"]
        if not isinstance(span, str) or not JOURNALD_SPAN_RE.match(span):
            errors.append(f"{ROLE_PREFIX}journald_max_retention: must be a time span such as 2weeks, 1month or 90d, "
                          f"got {span!r}")
    if "docker_max_size" in inputs or "docker_max_file" in inputs:
        try:
            docker_log_opts(inputs.get("docker_max_size"), inputs.get("docker_max_file"), None)
        except DaemonJsonError as error:
            errors.append(f"{ROLE_PREFIX}docker_{error}")
    return errors


def render_entry(entry):
    """The /etc/logrotate.d/<name> file of a checked entry (see entry_errors)."""
    lines = [
        f"{MARKER} (entry {entry['name']}). Changes made here are overwritten.",
    ]
    lines.extend(f'"{path}"' for path in entry["paths"])
    lines[-1] += " {"
    body = [entry["frequency"], f"rotate {integer('rotate', entry['rotate'], 0, MAX_ROTATE)}"]
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


def staged_main_config(main_text, config_dir, staged_dir, also_include=()):
    """logrotate's main configuration with its `include <config_dir>` pointed at a staged copy of that directory.

    With no main configuration, or one that does not include config_dir, just the include of the staged copy.
    ``also_include``: more directories to include at the end (the staged hourly entries, so that one run sees a
    log that an hourly and a daily entry both name).
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
        lines = [f"include {staged_dir}"]
    lines.extend(f"include {directory}" for directory in also_include)
    return "\n".join(lines) + "\n"


def new_errors(output_without, output_with):
    """logrotate's error lines that appear only once the entry is added (other files' own errors are not ours)."""
    before = {line.strip() for line in output_without.splitlines() if line.strip().startswith("error:")}
    return [line.strip() for line in output_with.splitlines()
            if line.strip().startswith("error:") and line.strip() not in before]
