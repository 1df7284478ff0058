# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The systemd part of hostcare_workload: failed units, units systemd restarted (NRestarts > 0) and the app
variables (_app_env) of the units that run Puma, Rails or Sidekiq (Environment=, EnvironmentFile=, a .env file in
WorkingDirectory). The parsers are pure; read_systemd() runs ``systemctl`` (read-only) through a runner.
"""

from __future__ import annotations

import os
import re

from ansible_collections.hostcare.vps.plugins.module_utils._app_env import (
    env_file_variables,
    systemd_environment_files,
    systemd_environment_variables,
)
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text_if_readable

PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts", "ExecMainStatus",
              "ExecMainExitTimestamp", "WorkingDirectory", "Environment", "EnvironmentFiles", "ExecStart")
APP_RE = re.compile(r"\b(puma|sidekiq|rails|unicorn|bundle)\b")
"""A unit running one of these is an app whose variables are read."""
MAX_UNITS = 2000


def parse_show(text):
    """``systemctl show`` of several units (blocks separated by blank lines) -> [{property: value}]; a property
    given on several lines (EnvironmentFile=) keeps them all, one per line."""
    units, current = [], {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                units.append(current)
            current = {}
            continue
        name, sep, value = line.partition("=")
        if sep:
            current[name] = f"{current[name]}\n{value}" if name in current else value
    if current:
        units.append(current)
    return units


def parse_unit_list(text):
    """``systemctl list-units --type=service --all --plain --no-legend`` -> unit names."""
    names = []
    for line in (text or "").splitlines():
        fields = line.split()
        if fields and fields[0].lstrip("●*").endswith(".service"):
            names.append(fields[0].lstrip("●*"))
    return names[:MAX_UNITS]


def _int(value):
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def app_kind(exec_start):
    """"sidekiq", "web" (puma, rails, unicorn) or None from a unit's ExecStart (only this word is kept)."""
    words = set(APP_RE.findall(exec_start or ""))
    if "sidekiq" in words:
        return "sidekiq"
    if words & {"puma", "rails", "unicorn"}:
        return "web"
    return "app" if words else None


def unit_facts(props, read_file=read_text_if_readable):
    """The facts of one unit from its properties; its app variables only when it runs an app (see APP_RE) or its
    Environment= names one, read from Environment=, each EnvironmentFile= and WorkingDirectory/.env (the unit's
    own Environment= wins, as in systemd; an EnvironmentFile= over a .env)."""
    unit = {"unit": props.get("Id"), "load_state": props.get("LoadState"), "active_state": props.get("ActiveState"),
            "sub_state": props.get("SubState"), "result": props.get("Result"),
            "restarts": _int(props.get("NRestarts")) or 0, "exit_status": _int(props.get("ExecMainStatus")),
            "exited_at": props.get("ExecMainExitTimestamp") or None}
    kind = app_kind(props.get("ExecStart"))
    own = systemd_environment_variables(props.get("Environment"))
    if kind is None and not own:
        return unit
    sources, variables = {}, {}
    directory = (props.get("WorkingDirectory") or "").lstrip("!-")
    layers = []
    if directory.startswith("/"):
        layers.append((os.path.join(directory, ".env"), env_file_variables(read_file(os.path.join(directory, ".env")))))
    for path in systemd_environment_files(props.get("EnvironmentFiles")):
        layers.append((path, env_file_variables(read_file(path))))
    layers.append(("Environment=", own))
    for where, found in layers:
        for name, value in found.items():
            variables[name] = value
            sources[name] = where
    unit.update(app_kind=kind or "app", app_variables=variables, app_variable_sources=sources)
    return unit


def systemd_facts(units):
    """{failed, restarted, apps} from unit_facts() dicts."""
    return {
        "failed": [unit for unit in units if unit["active_state"] == "failed"],
        "restarted": [unit for unit in units if unit["restarts"] > 0],
        "apps": [unit for unit in units if "app_variables" in unit],
    }


def systemd_running(root="/"):
    """Whether systemd is the init system (the directory it creates at boot)."""
    return os.path.isdir(os.path.join(root, "run/systemd/system"))


def read_systemd(run_command, root="/", read_file=read_text_if_readable):
    """{available, reason, failed, restarted, apps}; ``run_command(argv) -> (rc, stdout, stderr)`` (read-only),
    ``read_file(path) -> text or None`` for EnvironmentFile= and .env files."""
    if not systemd_running(root):
        return {"available": False, "reason": "systemd is not running here", "failed": [], "restarted": [], "apps": []}
    rc, out, err = run_command(["systemctl", "list-units", "--type=service", "--all", "--plain", "--no-legend",
                                "--no-pager"])
    if rc != 0:
        return {"available": False, "reason": f"systemctl list-units failed: {(err or out).strip()[:200]}",
                "failed": [], "restarted": [], "apps": []}
    names = parse_unit_list(out)
    units = []
    if names:
        rc, out, err = run_command(["systemctl", "show", "--no-pager", "--property=" + ",".join(PROPERTIES)] + names)
        if rc != 0:
            return {"available": False, "reason": f"systemctl show failed: {(err or out).strip()[:200]}",
                    "failed": [], "restarted": [], "apps": []}
        units = [unit_facts(props, read_file) for props in parse_show(out) if props.get("Id")]
    return dict({"available": True, "reason": None}, **systemd_facts(units))
