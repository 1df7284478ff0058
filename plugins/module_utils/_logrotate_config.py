# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""logrotate as it is configured, read-only: the entries of its configuration files, what `logrotate -d` reports
(errors, files it skips), its state file, and the scripts that restart services.

Pure functions (text in, dicts out). The reading (files, globs, `logrotate -d`) is _logrotate_state.py's.
Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import datetime
import re
import shlex

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import paths_overlap

MAIN_CONFIG = "/etc/logrotate.conf"
STATE_FILE = "/var/lib/logrotate/status"
# logrotate's default taboo extensions: files in an included directory ending so are not read.
TABOO_SUFFIXES = (".rpmorig", ".rpmsave", ".dpkg-dist", ".dpkg-old", ".dpkg-new", ".dpkg-bak", ".dpkg-del",
                  ".disabled", ",v", ".swp", ".rpmnew", "~", ".cfsaved", ".ucf-old", ".ucf-dist", ".ucf-new")
FREQUENCY_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 31 * 86400,
                     "yearly": 366 * 86400}
SCRIPT_DIRECTIVES = ("postrotate", "prerotate", "firstaction", "lastaction", "preremove")
_VALUE_DIRECTIVES = ("rotate", "size", "maxsize", "minsize", "maxage", "olddir", "su", "create")

# Commands in a script that restart (not just signal) a service, as (kind, regex). reload of supervisord re-reads
# its configuration and restarts every program; `pm2 reload` is a rolling restart.
_RESTART_PATTERNS = (
    ("supervisorctl", re.compile(r"\bsupervisorctl\b[^;&|\n]*?\b(reload|restart)\b(?P<target>[^;&|\n]*)")),
    ("systemctl", re.compile(r"\bsystemctl\s+(?:--[\w-]+\s+)*(restart|try-restart|reload-or-restart)\s+(?P<target>[^;&|\n]*)")),
    ("service", re.compile(r"\bservice\s+(?P<target>[\w@.-]+)\s+(restart)\b")),
    ("docker", re.compile(r"\bdocker\s+(?:container\s+)?(restart)\s+(?P<target>[^;&|\n]*)")),
    ("docker compose", re.compile(r"\bdocker[- ]compose\b[^;&|\n]*?\b(restart)\b(?P<target>[^;&|\n]*)")),
    ("pm2", re.compile(r"\bpm2\s+(restart|reload)\s+(?P<target>[^;&|\n]*)")),
    ("invoke-rc.d", re.compile(r"\binvoke-rc\.d\s+(?P<target>[\w@.-]+)\s+(restart)\b")),
)


def config_words(line):
    """The words of one configuration line (quotes as the shell takes them), [] for a comment or blank line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return []
    try:
        return shlex.split(text, comments=True)
    except ValueError:
        return text.split()


def parse_config(name, text, defaults=None):
    """(entries, includes, globals) of one configuration file.

    entries: [{file, line, patterns, frequency, rotate, size, maxsize, copytruncate, sharedscripts,
    scripts: [{name, text}]}];
    directives an entry leaves out come from ``defaults`` (the global directives read so far, updated in place by
    the global directives of this file). includes: the paths of its include lines, in order.
    """
    defaults = {} if defaults is None else defaults
    entries, includes = [], []
    current, pending, script, script_lines = None, [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        if script is not None:
            if line.strip() == "endscript":
                current["scripts"].append({"name": script, "text": "\n".join(script_lines)})
                script, script_lines = None, []
            else:
                script_lines.append(line.strip())
            continue
        words = config_words(line)
        if not words:
            continue
        if current is None:
            if "{" in words or words[-1].endswith("{"):
                before = []
                for word in words:
                    if word == "{":
                        break
                    before.append(word[:-1] if word.endswith("{") else word)
                    if word.endswith("{"):
                        break
                patterns = pending + [word for word in before if word]
                current = {"file": name, "line": number, "patterns": patterns, "scripts": [],
                           **{key: defaults.get(key) for key in ("frequency", "rotate", "size", "maxsize")},
                           "copytruncate": bool(defaults.get("copytruncate")),
                           "sharedscripts": bool(defaults.get("sharedscripts"))}
                pending = []
                continue
            if words[0] == "include" and len(words) > 1:
                includes.append(words[1])
            elif words[0].startswith("/") or words[0].startswith('"') or words[0].startswith("~"):
                pending.extend(words)  # patterns of an entry whose brace comes on a later line
            else:
                _apply_directive(defaults, words)
            continue
        if words[0].startswith("}"):
            entries.append(current)
            current = None
            continue
        if words[0] in SCRIPT_DIRECTIVES:
            script = words[0]
            continue
        _apply_directive(current, words)
    return entries, includes, defaults


def _apply_directive(target, words):
    key = words[0]
    if key in FREQUENCY_SECONDS:
        target["frequency"] = key
        target.pop("size_only", None)
    elif key in _VALUE_DIRECTIVES and len(words) > 1:
        target[key] = words[1] if key != "rotate" else _int_or_none(words[1])
    elif key in ("copytruncate", "nocopytruncate"):
        target["copytruncate"] = key == "copytruncate"
    elif key in ("sharedscripts", "nosharedscripts"):
        target["sharedscripts"] = key == "sharedscripts"


def _int_or_none(text):
    try:
        return int(text)
    except ValueError:
        return None


def parse_debug_output(text):
    """What `logrotate -d` says: {errors: [line], skipped_files: [config file name], duplicates: [log path]}."""
    errors, skipped, duplicates = [], [], []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line.startswith("error:"):
            continue
        errors.append(line)
        match = re.search(r"found error in (?:file )?(\S+?),? skipping", line)
        if match:
            skipped.append(match.group(1))
        match = re.search(r"duplicate log entry for (\S+)", line)
        if match:
            duplicates.append(match.group(1))
    return {"errors": errors, "skipped_files": list(dict.fromkeys(skipped)),
            "duplicates": list(dict.fromkeys(duplicates))}


def is_skipped(config_file, skipped_files):
    """Whether logrotate skipped ``config_file``: it names a skipped file by its path or, in a directory, its name."""
    return any(config_file == name or config_file.rsplit("/", 1)[-1] == name for name in skipped_files)


_STATE_RE = re.compile(r'^"?(?P<path>.+?)"?\s+(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:-(?P<H>\d{1,2}):(?P<M>\d{1,2})'
                       r'(?::(?P<S>\d{1,2}))?)?\s*$')


def parse_state(text):
    """{log path: epoch seconds (UTC) of its last rotation} from logrotate's state file."""
    state = {}
    for line in (text or "").splitlines():
        match = _STATE_RE.match(line.strip())
        if not match or line.startswith("logrotate state"):
            continue
        try:
            when = datetime.datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"] or 0),
                                     int(match["M"] or 0), int(match["S"] or 0), tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
        state[match["path"].replace('\\"', '"')] = int(when.timestamp())
    return state


def restart_commands(script):
    """The commands of a script that restart a service: [{kind, command, target}] (target may be "")."""
    found = []
    for line in (script or "").splitlines():
        for kind, pattern in _RESTART_PATTERNS:
            match = pattern.search(line)
            if match:
                target = re.split(r"\s*(?:[0-9]?>|<|\|\||&&)", match.group("target"), maxsplit=1)[0].strip()
                found.append({"kind": kind, "command": line.strip(), "target": target})
                break
    return found


def covering_entries(path, entries):
    """The entries whose patterns name ``path`` (equal, or a glob matching it)."""
    return [entry for entry in entries if any(paths_overlap(pattern, path) for pattern in entry.get("patterns") or ())]
