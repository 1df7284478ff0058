# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Reads logrotate's configuration, state and runner on the host (read-only), for disk_pressure_facts.

The parsing is _logrotate_config.py's (pure). `logrotate -d` is a dry run: it changes nothing, not even the state
file. Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time

from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_config import (
    MAIN_CONFIG,
    STATE_FILE,
    TABOO_SUFFIXES,
    config_words,
    is_skipped,
    parse_config,
    parse_debug_output,
    parse_state,
    restart_commands,
)

DEBUG_TIMEOUT_SECONDS = 60
MAX_CONFIG_FILES = 500
MAX_LOGS_PER_ENTRY = 500
CRON_SCRIPTS = ("/etc/cron.daily/logrotate", "/etc/cron.hourly/logrotate")
TIMER_UNITS = ("/etc/systemd/system/logrotate.timer", "/lib/systemd/system/logrotate.timer",
               "/usr/lib/systemd/system/logrotate.timer")
TIMER_ENABLED = "/etc/systemd/system/timers.target.wants/logrotate.timer"
SCHEDULER_NAMES = ("cron", "crond", "anacron", "busybox-crond")


def _config_files(main_config):
    """[(path, text)] in logrotate's reading order: the main file, each include at its place (directories sorted,
    taboo extensions left out)."""
    order, seen = [], set()

    def read(path):
        if path in seen or len(order) >= MAX_CONFIG_FILES:
            return
        seen.add(path)
        if os.path.isdir(path):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                return
            for name in names:
                child = os.path.join(path, name)
                if not name.startswith(".") and not name.endswith(TABOO_SUFFIXES) and os.path.isfile(child):
                    read(child)
            return
        text = read_text_if_readable(path)
        if text is None:
            return
        order.append((path, text))
        for line in text.splitlines():
            words = config_words(line)
            if len(words) == 2 and words[0] == "include":
                read(words[1] if words[1].startswith("/") else os.path.join(os.path.dirname(path), words[1]))

    read(main_config)
    return order


def _log_rows(patterns, state):
    paths = []
    for pattern in patterns:
        paths.extend(sorted(glob.glob(os.path.expanduser(pattern))) if any(c in pattern for c in "*?[")
                     else [pattern])
    rows = []
    for path in dict.fromkeys(paths):
        try:
            info = os.stat(path)
        except OSError:
            continue
        if not os.path.isfile(path):
            continue
        rows.append({"path": path, "size_bytes": info.st_blocks * 512, "mtime": int(info.st_mtime),
                     "last_rotated": state.get(path)})
        if len(rows) >= MAX_LOGS_PER_ENTRY:
            break
    return rows


def _debug_run(binary, main_config):
    """parse_debug_output() of `logrotate -d <main_config>` plus its exit code, or {error} when it could not run."""
    try:
        done = subprocess.run([binary, "-d", main_config], capture_output=True, text=True, errors="replace",
                              timeout=DEBUG_TIMEOUT_SECONDS, env={**os.environ, "LC_ALL": "C"}, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return {"rc": None, "error": f"{type(error).__name__}: {error}", "errors": [], "skipped_files": [],
                "duplicates": []}
    return {"rc": done.returncode, "error": None, **parse_debug_output(done.stdout + "\n" + done.stderr)}


def _running_commands():
    names = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            text = read_text_if_readable(f"/proc/{pid}/comm")
            if text:
                names.add(text.strip())
    return names


def _runner():
    running = _running_commands()
    return {
        "cron_scripts": [path for path in CRON_SCRIPTS if os.path.isfile(path)],
        "anacron": os.path.exists("/etc/anacrontab"),
        "timer_unit": any(os.path.isfile(path) for path in TIMER_UNITS),
        "timer_enabled": os.path.exists(TIMER_ENABLED),
        "scheduler_running": sorted(name for name in running if name in SCHEDULER_NAMES),
        "systemd_running": os.path.isdir("/run/systemd/system"),
    }


def gather_logrotate_facts(main_config=MAIN_CONFIG, state_file=STATE_FILE):
    """The ``logrotate`` part of hostcare_disk (see docs/facts.md); None without a main configuration file."""
    binary = shutil.which("logrotate") or next(
        (path for path in ("/usr/sbin/logrotate", "/sbin/logrotate") if os.path.isfile(path)), None)
    if not os.path.isfile(main_config):
        return None
    state = parse_state(read_text_if_readable(state_file))
    debug = _debug_run(binary, main_config) if binary else {
        "rc": None, "error": "logrotate is not installed", "errors": [], "skipped_files": [], "duplicates": []}
    entries, defaults, files = [], {}, []
    for path, text in _config_files(main_config):
        files.append(path)
        found, _includes, defaults = parse_config(path, text, defaults)
        for entry in found:
            entry["logs"] = _log_rows(entry["patterns"], state)
            entry["restarts"] = [dict(item, script=script["name"]) for script in entry["scripts"]
                                 for item in restart_commands(script["text"])]
            entry["skipped"] = is_skipped(path, debug["skipped_files"])
            entries.append(entry)
    return {
        "binary": binary,
        "main_config": main_config,
        "config_files": files,
        "entries": entries,
        "debug": debug,
        "state_file": state_file if os.path.exists(state_file) else None,
        "runner": _runner(),
        "now": int(time.time()),
    }
