# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Plan PostgreSQL setting changes (ALTER SYSTEM) against what the server itself says is allowed.

Every requested value is checked with the server's own ``pg_settings`` row: the name exists, the value parses as
PostgreSQL parses it (integers and reals with their units, booleans, enums from ``enumvals``), and lies within
``min_val`` / ``max_val``. Then the one memory model (_pg_memory) of the settings after the change is judged
against the budget, and ``huge_pages = on`` against the huge pages the kernel has.

Pure functions (rows and dicts in, dicts out, no I/O); hostcare.vps.postgresql_settings runs them.
"""

from __future__ import annotations

import math
import re

from ansible_collections.hostcare.vps.plugins.module_utils._pg_memory import memory_model, model_settings
from ansible_collections.hostcare.vps.plugins.module_utils._pg_units import setting_in_bytes
from ansible_collections.hostcare.vps.plugins.module_utils._units import format_size
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INSTANCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_VALUE_LENGTH = 1024

# ALTER SYSTEM refuses these (GUC_DISALLOW_IN_AUTO_FILE) or they only make sense per session/database.
REFUSED_NAMES = frozenset(("data_directory", "config_file", "hba_file", "ident_file", "external_pid_file",
                           "include", "include_dir", "include_if_exists", "session_authorization", "role",
                           "transaction_isolation", "transaction_read_only", "transaction_deferrable"))
REFUSED_CONTEXTS = ("internal",)

# PostgreSQL's units (guc.c memory_unit_conversion_table / time_unit_conversion_table), case-sensitive.
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60000.0, "h": 3600000.0, "d": 86400000.0}
_BASE_UNIT_RE = re.compile(r"^(?P<count>\d*)(?P<unit>B|kB|MB|GB|TB|us|ms|s|min|h|d)$")
_NUMBER_RE = re.compile(r"^\s*(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$",
                        re.ASCII)
_BOOL_WORDS = {"on": "on", "off": "off", "true": "on", "false": "off", "yes": "on", "no": "off", "1": "on",
               "0": "off"}

RESTART_MODES = ("never", "if_needed")


class SettingError(OptionError):
    """A requested setting the server would refuse; the message names it, the value and what is allowed."""


def _unit_scale(unit):
    """(kind, multiplier of the setting's base unit) for a pg_settings unit: ("memory", bytes) or ("time", ms)."""
    match = _BASE_UNIT_RE.match(unit or "")
    if not match:
        return None, None
    count = int(match.group("count") or 1)
    name = match.group("unit")
    if name in MEMORY_UNITS:
        return "memory", count * MEMORY_UNITS[name]
    return "time", count * TIME_UNITS[name]


def _allowed_units(kind):
    return ", ".join(MEMORY_UNITS if kind == "memory" else TIME_UNITS)


def _range_text(row):
    unit = f" {row['unit']}" if row.get("unit") else ""
    return f"from {row.get('min_val')} to {row.get('max_val')}{unit}"


def _numeric(name, value, row):
    """(number in the setting's base unit, value text to write) for an integer or real setting."""
    vartype = row["vartype"]
    text = str(value).strip() if not isinstance(value, float) else repr(value)
    match = _NUMBER_RE.match(text)
    kind, scale = _unit_scale(row.get("unit"))
    expected = "a whole number" if vartype == "integer" else "a number"
    if kind:
        expected += f" of {row['unit']}, or with a unit ({_allowed_units(kind)})"
    if not match:
        raise SettingError(f"settings.{name}: {value!r} is not {expected}")
    number = float(match.group("number"))
    unit = match.group("unit")
    if not math.isfinite(number):
        raise SettingError(f"settings.{name}: {value!r} is not {expected}")
    if unit:
        units = MEMORY_UNITS if kind == "memory" else TIME_UNITS if kind == "time" else {}
        if unit not in units:
            allowed = f"one of {_allowed_units(kind)}" if kind else "none (this setting has no unit)"
            raise SettingError(f"settings.{name}: unit {unit!r} in {value!r} is not valid; allowed units: {allowed} "
                               f"(case matters)")
        number = number * units[unit] / scale
    if vartype == "integer":
        if not unit and not re.match(r"^\s*[+-]?\d+\s*$", text):
            raise SettingError(f"settings.{name}: {value!r} is not {expected}")
        number = float(round(number)) if unit else number  # PostgreSQL rounds a unit conversion (rint)
    low, high = float(row["min_val"]), float(row["max_val"])
    if number < low or number > high:
        raise SettingError(f"settings.{name}: {value!r} is outside the server's range {_range_text(row)}")
    if vartype == "integer":
        number = int(number)
    return number, text


def parse_value(name, value, row):
    """(normalised value to compare, text to write with ALTER SYSTEM) of ``value`` for the pg_settings ``row``.

    Raise SettingError naming the setting, the value and what the server allows.
    """
    if value is None:
        raise SettingError(f"settings.{name}: a value is required (use state=reverted to restore the previous values)")
    if isinstance(value, (list, dict)) or (isinstance(value, str) and
                                           (len(value) > MAX_VALUE_LENGTH or re.search(r"[\x00-\x1f\x7f]", value))):
        raise SettingError(f"settings.{name}: must be a single line of at most {MAX_VALUE_LENGTH} characters "
                           f"without control characters")
    vartype = row.get("vartype")
    if vartype in ("integer", "real"):
        if isinstance(value, bool):
            raise SettingError(f"settings.{name}: {value!r} is not a number")
        return _numeric(name, value, row)
    if vartype == "bool":
        word = ("on" if value else "off") if isinstance(value, bool) else _BOOL_WORDS.get(str(value).strip().lower())
        if word is None:
            raise SettingError(f"settings.{name}: {value!r} is not a boolean; allowed: on, off, true, false, yes, no, "
                               f"1, 0")
        return word, word
    if vartype == "enum":
        allowed = [str(item) for item in row.get("enumvals") or []]
        text = ("on" if value else "off") if isinstance(value, bool) else str(value).strip().lower()
        if text not in [item.lower() for item in allowed]:
            raise SettingError(f"settings.{name}: {value!r} is not allowed; the server accepts {', '.join(allowed)}")
        return text, text
    if isinstance(value, bool):
        raise SettingError(f"settings.{name}: {value!r} is a boolean, the setting is a string")
    return str(value), str(value)


def quote_literal(text):
    """A SQL string literal (standard_conforming_strings on, which the session sets); no control characters get
    here (parse_value refuses them)."""
    return "'" + str(text).replace("'", "''") + "'"


def check_names(settings, rows):
    """Refuse names the server does not have, or that ALTER SYSTEM cannot or must not set."""
    if not isinstance(settings, dict):
        raise SettingError(f"settings: must be a dict of setting names and values, got {type(settings).__name__}")
    for name in settings:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise SettingError(f"settings: {name!r} is not a PostgreSQL setting name (lowercase letters, digits, _)")
        if name not in rows:
            close = [known for known in rows if known.startswith(name[:6])][:3]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise SettingError(f"settings: {name!r} is not a setting of this server{hint}")
        if name in REFUSED_NAMES or rows[name].get("context") in REFUSED_CONTEXTS:
            raise SettingError(f"settings: {name} cannot be set with ALTER SYSTEM (it is read-only, a file location "
                               f"or per session)")


def configured_value(name, row, auto_conf):
    """The value the server will run with after a restart as far as ALTER SYSTEM goes: the postgresql.auto.conf
    entry when there is one, else the live setting (with its unit)."""
    if name in auto_conf:
        return auto_conf[name]
    return row.get("setting")  # numbers are in the setting's unit, which a value without a unit means too


def _normalised_current(name, row, auto_conf):
    value = configured_value(name, row, auto_conf)
    try:
        return parse_value(name, value, row)[0]
    except SettingError:
        return None  # an auto.conf entry the server would not take: it differs from anything valid


def plan_changes(settings, rows, auto_conf):
    """The changes for ``settings`` ({name: value}) on a server with pg_settings ``rows`` ({name: row}) and the
    postgresql.auto.conf entries ``auto_conf`` ({name: value}).

    Returns [{name, current, new, write, apply: reload|restart}] for the settings whose value differs, in the order
    given. Raise SettingError before anything for a name or value the server would refuse.
    """
    check_names(settings, rows)
    changes = []
    for name, value in settings.items():
        row = rows[name]
        if row.get("source") == "command line":
            raise SettingError(f"settings.{name}: set on the server's command line (a container's `-c` arguments, "
                               f"or postgres -c): ALTER SYSTEM cannot override it; change it there")
        normalised, text = parse_value(name, value, row)
        if _normalised_current(name, row, auto_conf) == normalised:
            continue
        changes.append({"name": name, "current": current_text(row, auto_conf.get(name)), "new": text,
                        "write": text, "apply": "restart" if row.get("context") == "postmaster" else "reload"})
    return changes


def current_text(row, auto_value=None):
    """How a setting's value is shown: the postgresql.auto.conf entry, else the live value as SHOW prints it."""
    if auto_value is not None:
        return str(auto_value)
    return str(row.get("pretty_val") if row.get("pretty_val") is not None else row.get("setting"))


def bytes_after(name, value, row):
    """A memory setting's value in bytes once ``value`` applies; None for other settings and -1."""
    normalised = parse_value(name, value, row)[0]
    if isinstance(normalised, int) and normalised >= 0:
        return setting_in_bytes(str(normalised), row.get("unit"))
    return None


def model_after(rows, changes):
    """The memory model (_pg_memory) of the server with ``changes`` applied; None when it cannot be computed."""
    view = {}
    for name, row in rows.items():
        view[name] = dict(row, val_in_bytes=setting_in_bytes(row.get("setting"), row.get("unit")))
    for change in changes:
        row = rows[change["name"]]
        normalised = parse_value(change["name"], change["write"], row)[0]
        view[change["name"]] = dict(row, setting=str(normalised),
                                    val_in_bytes=setting_in_bytes(str(normalised), row.get("unit")))
    return memory_model(model_settings(view))


def check_budget(rows, changes, budget_bytes):
    """Refuse changes whose memory model total is above ``budget_bytes``; returns the model (or None)."""
    model = model_after(rows, changes)
    if model is not None and budget_bytes is not None and model["total_bytes"] > budget_bytes:
        raise SettingError(
            f"settings: the memory model after the change is {format_size(model['total_bytes'])} (shared_buffers "
            f"{format_size(model['shared_buffers_bytes'])} + {model['max_connections']} connections x work_mem "
            f"{format_size(model['work_mem_bytes'])} x {model['work_mem_factor']:g} + "
            f"{model['autovacuum_max_workers']} autovacuum workers x {format_size(model['autovacuum_work_mem_bytes'])}"
            f"), above the memory budget of {format_size(budget_bytes)} (memory_budget); lower work_mem, "
            f"max_connections or shared_buffers")
    return model


def check_huge_pages(rows, changes, meminfo):
    """Refuse huge_pages = on when the kernel has too few huge pages for shared_buffers (PostgreSQL would not start)."""
    wanted = {change["name"]: change["write"] for change in changes}
    if "huge_pages" not in wanted or parse_value("huge_pages", wanted["huge_pages"], rows["huge_pages"])[0] != "on":
        return
    total = int(meminfo.get("HugePages_Total") or 0)
    page = int(meminfo.get("Hugepagesize") or 0)
    row = rows.get("shared_buffers") or {}
    shared = (bytes_after("shared_buffers", wanted["shared_buffers"], row) if "shared_buffers" in wanted
              else setting_in_bytes(row.get("setting"), row.get("unit")))
    if total <= 0 or page <= 0:
        raise SettingError("settings.huge_pages: 'on' needs huge pages and the kernel has none (HugePages_Total 0 "
                           "in /proc/meminfo): PostgreSQL would not start. Use 'try', or reserve them first "
                           "(vm.nr_hugepages)")
    if shared is not None and total * page < shared:
        raise SettingError(f"settings.huge_pages: 'on' needs at least {format_size(shared)} of huge pages for "
                           f"shared_buffers and the kernel has {format_size(total * page)} (HugePages_Total {total}): "
                           f"PostgreSQL would not start. Use 'try', or reserve more (vm.nr_hugepages)")


def revert_changes(saved, rows, auto_conf, other_conf=None):
    """The changes that restore ``saved`` ({name: previous postgresql.auto.conf value or None}): RESET for a value
    that was not in postgresql.auto.conf, SET to the previous entry otherwise; only where it differs now.
    ``other_conf``: the entries of the other configuration files, which a RESET falls back to."""
    other_conf = other_conf or {}
    changes = []
    for name, previous in saved.items():
        row = rows.get(name)
        if row is None:
            continue
        now = auto_conf.get(name)
        if now == previous:
            continue
        new = str(previous) if previous is not None else show_value(row, other_conf.get(name, row.get("boot_val")))
        changes.append({"name": name, "current": current_text(row, now), "new": new, "write": previous,
                        "apply": "restart" if row.get("context") == "postmaster" else "reload"})
    return changes


def show_value(row, value):
    """A value as PostgreSQL would print it: a bare number of a setting with a unit gets the unit (4096 kB -> 4MB)."""
    text = str(value)
    kind, scale = _unit_scale(row.get("unit"))
    if not kind or not re.match(r"^\d+$", text):
        return text
    if kind == "time":
        return f"{text}{row['unit']}"
    size = int(text) * scale
    for unit in ("TB", "GB", "MB", "kB"):
        if size and size % MEMORY_UNITS[unit] == 0:
            return f"{size // MEMORY_UNITS[unit]}{unit}"
    return f"{size}B"


def predict_pending(rows, changes, other_conf=None):
    """Names that will wait for a restart once ``changes`` are written and reloaded: the ones pending now, plus
    (or minus) every postmaster setting whose configured value differs (or no longer differs) from the live one."""
    other_conf = other_conf or {}
    pending = {name for name, row in rows.items() if row.get("pending_restart")}
    for change in changes:
        row = rows[change["name"]]
        if row.get("context") != "postmaster":
            continue
        target = change["write"] if change["write"] is not None else other_conf.get(change["name"], row.get("boot_val"))
        try:
            live = parse_value(change["name"], row.get("setting"), row)[0]
            differs = parse_value(change["name"], target, row)[0] != live
        except SettingError:
            differs = True
        if differs:
            pending.add(change["name"])
        else:
            pending.discard(change["name"])
    return sorted(pending)


def statements_for(changes):
    """One ALTER SYSTEM statement per change (each runs alone: ALTER SYSTEM cannot run in a transaction block)."""
    statements = []
    for change in changes:
        if not NAME_RE.match(change["name"]):
            raise SettingError(f"settings: {change['name']!r} is not a PostgreSQL setting name")
        if change["write"] is None:
            statements.append(f"ALTER SYSTEM RESET {change['name']}")
        else:
            statements.append(f"ALTER SYSTEM SET {change['name']} = {quote_literal(change['write'])}")
    return statements


def state_entries(changes, auto_conf, saved):
    """``saved`` plus the previous postgresql.auto.conf value of each changed setting not saved yet (the value
    before the first change is kept: a second apply does not overwrite it)."""
    result = dict(saved)
    for change in changes:
        result.setdefault(change["name"], auto_conf.get(change["name"]))
    return result


def restart_decision(mode, pending, connections, max_connections, force, method):
    """(restart: bool, reason) for the restart gating: never, or if_needed (only when something is pending)."""
    if mode == "never":
        return False, "restart=never" if pending else "nothing pending"
    if not pending:
        return False, "nothing pending"
    if method == "tcp":
        raise SettingError("restart: if_needed cannot restart a server reached over TCP; use method local_socket "
                           "(the host's cluster) or docker (a container), or restart it yourself")
    if connections is not None and connections > max_connections and not force:
        raise SettingError(f"restart: {connections} client connections are open, more than "
                           f"restart_max_connections ({max_connections}); a restart would cut them. Retry in a "
                           f"quieter moment or set restart_force=true")
    return True, f"pending: {', '.join(pending)}"


# systemd's ActiveState values in which the unit runs the server (systemctl reload and restart act on it).
UNIT_RUNNING_STATES = ("active", "reloading")


def cluster_unit(cluster):
    """(version, name, unit) of a Debian cluster "VERSION/NAME" (postgresql@VERSION-NAME); None when not one."""
    version, slash, name = (cluster or "").partition("/")
    if not slash or not version.isdigit() or not NAME_RE.match(name.replace("-", "_") or "-"):
        return None
    return version, name, f"postgresql@{version}-{name}"


def server_control(method, cluster, systemd, unit_state=None):
    """How the server is reloaded and restarted (pure): the host's cluster through its systemd unit when systemd
    runs it, else pg_reload_conf() and pg_ctlcluster; a container with pg_reload_conf() and docker restart.

    method      the connection's method (local_socket, docker, tcp)
    cluster     "VERSION/NAME": the cluster option, else the server's cluster_name (Debian and Ubuntu set it)
    systemd     systemd is the service manager (/run/systemd/system exists and systemctl is installed)
    unit_state  ActiveState of postgresql@VERSION-NAME (None when not read)
    Returns {"reload": "systemd" | "pg_reload_conf", "restart": "systemd" | "pg_ctlcluster" | "docker" | None,
    "unit": the unit when systemd runs the cluster else None, "version", "name", "cluster", "reason": why}.
    A cluster running outside its unit (started by hand with pg_ctlcluster) is not restarted through the unit:
    systemctl would start the unit around the running postmaster instead of restarting it.
    """
    result = {"reload": "pg_reload_conf", "restart": None, "unit": None, "version": None, "name": None,
              "cluster": cluster}
    if method == "docker":
        return dict(result, restart="docker", reason="a container: pg_reload_conf(), docker restart")
    if method != "local_socket":
        return dict(result, reason="reached over TCP: pg_reload_conf(), no restart")
    parts = cluster_unit(cluster)
    if parts is None:
        return dict(result, reason=f"cluster_name is {cluster!r}, not VERSION/NAME: pg_reload_conf(), no restart")
    version, name, unit = parts
    result.update(version=version, name=name)
    if systemd and unit_state in UNIT_RUNNING_STATES:
        return dict(result, reload="systemd", restart="systemd", unit=unit,
                    reason=f"systemd runs the cluster: systemctl reload / restart {unit}")
    if systemd:
        return dict(result, restart="pg_ctlcluster",
                    reason=f"{unit} is {unit_state or 'unknown'} (the cluster runs outside its unit): "
                           f"pg_reload_conf(), pg_ctlcluster restart")
    return dict(result, restart="pg_ctlcluster", reason="no systemd: pg_reload_conf(), pg_ctlcluster restart")


def diff_text(changes, pending=()):
    """(before, after) texts for Ansible's diff: one line per setting, with reload or restart."""
    before = "".join(f"{change['name']} = {change['current']}\n" for change in changes)
    after = "".join(f"{change['name']} = {change['new']}  # {change['apply']}\n" for change in changes)
    if pending:
        after += f"# pending restart: {', '.join(pending)}\n"
    return before, after


def default_instance(connection, cluster_name=None):
    """The state file's name for a connection: native-15-main, docker-<container>, tcp-<host>-<port>."""
    if connection["method"] == "docker":
        name = f"docker-{connection['container']}"
    elif connection["method"] == "tcp":
        host = connection["host"] or "uri"
        name = f"tcp-{host}-{connection['port']}"
    else:
        name = f"native-{cluster_name.replace('/', '-')}" if cluster_name else f"native-{connection['port']}"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100]
    return name


def check_instance(value):
    if value is not None and (not isinstance(value, str) or not INSTANCE_RE.match(value) or ".." in value):
        raise OptionError(f"instance: {value!r} is not allowed; letters, digits, '_', '.', '-' (at most 100, "
                          f"starting with a letter or digit)")
    return value
