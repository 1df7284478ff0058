# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The inputs of a blue-green release, checked before anything happens (pure, no I/O).

`option_errors` returns one message per unusable option, naming the option, the value and what is allowed; it uses
the collection's one validator (_validate) for numbers, ports, durations, paths and addresses. `docker_option_errors`
checks `docker_options` against the table of Engine API container-create fields the module passes on
(`DOCKER_CREATE_FIELDS`), so Docker never gets a body it would reject halfway through a release.
Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import re

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import BlueGreenError
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError

APP_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
NGINX_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Docker image references, ids and short ids: printable ASCII without spaces (Docker checks the grammar itself).
IMAGE_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,511}")
NETWORK_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
HTTP_PATH_RE = re.compile(r"/[\x21-\x7e]{0,2047}")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

HEALTH_SPEC = {
    "type": {"type": "str", "choices": ["http", "docker"], "default": "http"},
    "path": {"type": "str", "default": "/up"},
    "status": {"type": "raw", "default": 200},
    "interval": {"type": "raw", "default": 1},
    "timeout": {"type": "raw", "default": 5},
    "retries": {"type": "raw", "default": 3},
    "start_period": {"type": "raw", "default": 30},
}
"""The sub-options of health_check. The module's spec makes health_check raw (ansible-core crashes on a dict option
with sub-options given a number) and checked_options() applies these defaults and checks each value."""

MAX_HEALTH_INTERVAL = 300
MAX_HEALTH_RETRIES = 1000
MAX_STOP_TIMEOUT = 600
MAX_KEEP_RELEASES = 100
MAX_NGINX_KEEPALIVE = 10000
TIME_BUDGET_MARGIN = 10
"""Seconds of time_budget kept beyond start_period + drain_seconds + stop_timeout for the switch itself."""

INT64 = 2 ** 63 - 1
UINT = ("int", 0, INT64)
ANY_INT = ("int", -INT64 - 1, INT64)
STRINGS = ["str"]
STRING_MAP = {"*": "str"}
THROTTLE = [{"Path": "str", "Rate": UINT}]

# The Engine API (v1.41+) POST /containers/create fields the module passes on, with the JSON types Docker accepts.
# "str", "bool", ("int", min, max); [schema]: a list of; {"*": schema}: an object with any keys; {...}: known keys.
DOCKER_CREATE_FIELDS = {
    "Hostname": "str", "Domainname": "str", "User": "str", "WorkingDir": "str", "StopSignal": "str",
    "StopTimeout": UINT, "Tty": "bool", "OpenStdin": "bool", "StdinOnce": "bool",
    "Entrypoint": STRINGS, "Shell": STRINGS, "Labels": STRING_MAP, "Volumes": {"*": {}}, "ExposedPorts": {"*": {}},
    "Healthcheck": {"Test": STRINGS, "Interval": UINT, "Timeout": UINT, "Retries": UINT, "StartPeriod": UINT,
                    "StartInterval": UINT},
    "HostConfig": {
        "Memory": UINT, "MemoryReservation": UINT, "MemorySwap": ("int", -1, INT64),
        "MemorySwappiness": ("int", -1, 100), "NanoCpus": UINT, "CpuShares": UINT, "CpuPeriod": UINT,
        "CpuQuota": ANY_INT, "CpuRealtimePeriod": UINT, "CpuRealtimeRuntime": UINT, "CpusetCpus": "str",
        "CpusetMems": "str", "BlkioWeight": ("int", 0, 1000), "BlkioWeightDevice": [{"Path": "str", "Weight": UINT}],
        "BlkioDeviceReadBps": THROTTLE, "BlkioDeviceWriteBps": THROTTLE, "BlkioDeviceReadIOps": THROTTLE,
        "BlkioDeviceWriteIOps": THROTTLE, "PidsLimit": ("int", -1, INT64), "OomKillDisable": "bool",
        "OomScoreAdj": ("int", -1000, 1000), "Init": "bool", "ShmSize": UINT, "CgroupParent": "str",
        "Ulimits": [{"Name": "str", "Soft": ANY_INT, "Hard": ANY_INT}],
        "LogConfig": {"Type": "str", "Config": STRING_MAP},
        "Devices": [{"PathOnHost": "str", "PathInContainer": "str", "CgroupPermissions": "str"}],
        "DeviceCgroupRules": STRINGS,
        "Mounts": [{
            "Target": "str", "Source": "str", "Type": "str", "ReadOnly": "bool", "Consistency": "str",
            "BindOptions": {"Propagation": "str", "NonRecursive": "bool", "CreateMountpoint": "bool"},
            "VolumeOptions": {"NoCopy": "bool", "Labels": STRING_MAP, "Subpath": "str",
                              "DriverConfig": {"Name": "str", "Options": STRING_MAP}},
            "TmpfsOptions": {"SizeBytes": UINT, "Mode": UINT},
        }],
        "Tmpfs": STRING_MAP, "VolumeDriver": "str", "VolumesFrom": STRINGS, "CapAdd": STRINGS, "CapDrop": STRINGS,
        "SecurityOpt": STRINGS, "Privileged": "bool", "ReadonlyRootfs": "bool", "MaskedPaths": STRINGS,
        "ReadonlyPaths": STRINGS, "Sysctls": STRING_MAP, "StorageOpt": STRING_MAP, "Annotations": STRING_MAP,
        "Dns": STRINGS, "DnsOptions": STRINGS, "DnsSearch": STRINGS, "ExtraHosts": STRINGS, "GroupAdd": STRINGS,
        "Links": STRINGS, "IpcMode": "str", "PidMode": "str", "UTSMode": "str", "UsernsMode": "str",
        "CgroupnsMode": "str", "Cgroup": "str", "Runtime": "str",
    },
}

# Fields the module sets itself, or that would break a release: refused with the option to use instead.
DOCKER_OWNED_FIELDS = {
    ("Image",): "set by the module (image, or the release rolled back to)",
    ("Env",): "set by the options env and env_files",
    ("Cmd",): "set by the option command",
    ("NetworkDisabled",): "the health check and nginx could not reach the app",
    ("NetworkingConfig",): "set by the option networks",
    ("HostConfig", "Binds"): "set by the option volumes",
    ("HostConfig", "PortBindings"): "set by the options blue_port, green_port and bind_address",
    ("HostConfig", "PublishAllPorts"): "it would publish the app beyond bind_address",
    ("HostConfig", "NetworkMode"): "set by the option networks",
    ("HostConfig", "RestartPolicy"): "set by the option restart_policy",
    ("HostConfig", "AutoRemove"): "Docker would delete the kept rollback container when it stops",
}


def _type_name(value):
    return "null" if value is None else type(value).__name__


def docker_option_errors(value, schema=None, path=("docker_options",)):
    """Messages naming each key path of `value` that the Engine API create body does not accept."""
    schema = DOCKER_CREATE_FIELDS if schema is None else schema
    where = ".".join(path)
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: must be an object (a dict), got {_type_name(value)} {value!r}"]
        if "*" in schema:
            errors = []
            for key, item in value.items():
                if not isinstance(key, str) or not key:
                    errors.append(f"{where}: keys must be non-empty strings, got {key!r}")
                else:
                    errors.extend(docker_option_errors(item, schema["*"], path + (key,)))
            return errors
        errors, unknown = [], []
        for key in value:
            owned = DOCKER_OWNED_FIELDS.get(path[1:] + (key,))
            if owned:
                errors.append(f"{where}.{key}: not accepted in docker_options: {owned}")
            elif key not in schema:
                unknown.append(str(key))
        errors.extend(f"{where}.{message}" for message in
                      _validate.unknown_names(unknown, schema, what="Engine API create field"))
        for key, item in value.items():
            if key in schema:
                errors.extend(docker_option_errors(item, schema[key], path + (key,)))
        return errors
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: must be a list, got {_type_name(value)} {value!r}"]
        errors = []
        for index, item in enumerate(value):
            errors.extend(docker_option_errors(item, schema[0], path[:-1] + (f"{path[-1]}[{index}]",)))
        return errors
    if schema == "str":
        return [] if isinstance(value, str) else [f"{where}: must be a string, got {_type_name(value)} {value!r}"]
    if schema == "bool":
        return [] if isinstance(value, bool) else [f"{where}: must be true or false, got {_type_name(value)} {value!r}"]
    _kind, minimum, maximum = schema
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{where}: must be a whole number (JSON integer) from {minimum} to {maximum}, "
                f"got {_type_name(value)} {value!r}"]
    try:
        _validate.integer(where, value, minimum=minimum, maximum=maximum)
    except OptionError as error:
        return [str(error)]
    return []


def _check(errors, check, *args, **kwargs):
    """Run one _validate check; its OptionError becomes a message."""
    try:
        return check(*args, **kwargs)
    except OptionError as error:
        errors.append(str(error))
        return None


def _string_list_errors(option, value, required):
    if value is None:
        return [] if not required else [f"{option}: must be a non-empty list of strings, got null"]
    if not isinstance(value, list) or (required and not value):
        return [f"{option}: must be a non-empty list of strings (a command and its arguments), got {value!r}"]
    if required and not (isinstance(value[0], str) and value[0].strip()):
        return [f"{option}: the first item is the program and must not be empty, got {value!r}"]
    return [f"{option}: items must be strings without control characters, got {item!r}"
            for item in value if not isinstance(item, str) or "\0" in item]


def _health_errors(value, checked):
    """Messages for health_check (a dict of HEALTH_SPEC's keys); its values, defaults filled in and numbers
    converted, go into ``checked``."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return [f"health_check: must be a dict with the keys {', '.join(HEALTH_SPEC)}, "
                f"got {_type_name(value)} {value!r}"]
    errors = [f"health_check.{message}" for message in
              _validate.unknown_names([str(key) for key in value], HEALTH_SPEC, what="health_check option")]
    health = {name: spec.get("default") for name, spec in HEALTH_SPEC.items()}
    health.update({key: item for key, item in value.items() if key in HEALTH_SPEC and item is not None})
    checked.update(health)
    checked["type"] = _check(errors, _validate.choice, "health_check.type", health["type"], HEALTH_SPEC["type"]["choices"])
    if not isinstance(health["path"], str) or not HTTP_PATH_RE.fullmatch(health["path"]):
        errors.append(f"health_check.path: must start with '/' and hold printable ASCII without spaces, "
                      f"got {health['path']!r}")
    checked["status"] = _check(errors, _validate.integer, "health_check.status", health["status"], minimum=100,
                               maximum=599)
    for name in ("interval", "timeout"):
        checked[name] = _check(errors, _validate.seconds, f"health_check.{name}", health[name],
                               maximum=MAX_HEALTH_INTERVAL)
    checked["retries"] = _check(errors, _validate.integer, "health_check.retries", health["retries"], minimum=1,
                                maximum=MAX_HEALTH_RETRIES)
    checked["start_period"] = _check(errors, _validate.seconds, "health_check.start_period", health["start_period"],
                                     maximum=_validate.MAX_TIMEOUT_SECONDS, allow_zero=True)
    return errors


def _text_errors(params):
    errors = []
    app = params.get("app")
    if not isinstance(app, str) or not APP_NAME_RE.fullmatch(app):
        errors.append(f"app: use 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or "
                      f"digit (it names containers and the state file), got {app!r}")
    image = params.get("image")
    if params.get("action") == "deploy" and not (image or "").strip():
        errors.append("image: required with action=deploy (the image reference to deploy, such as myapp:2.4.1)")
    for name in ("image", "rollback_to"):
        value = params.get(name)
        if value not in (None, "") and not (isinstance(value, str) and IMAGE_REF_RE.fullmatch(value)):
            errors.append(f"{name}: must be an image reference, id or short id (letters, digits and ._/:@+-, "
                          f"at most 512), got {value!r}")
    upstream_name = params.get("upstream_name")
    if not isinstance(upstream_name, str) or not NGINX_NAME_RE.fullmatch(upstream_name):
        errors.append(f"upstream_name: use letters, digits, '.', '_' or '-' (1 to 128), got {upstream_name!r}")
    for key, value in (params.get("env") or {}).items():
        if not isinstance(key, str) or not ENV_NAME_RE.fullmatch(key):
            errors.append(f"env: {key!r} is not a valid variable name")
        elif isinstance(value, (dict, list)) or "\0" in str(value if value is not None else ""):
            errors.append(f"env: the value of {key} must be a string, number or boolean without NUL characters")
    for volume in params.get("volumes") or []:
        parts = str(volume).split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or not parts[1].startswith("/") \
                or CONTROL_RE.search(str(volume)):
            errors.append(f"volumes: use SOURCE:/container/path[:OPTIONS], got {volume!r}")
    for network in params.get("networks") or []:
        if not isinstance(network, str) or not NETWORK_NAME_RE.fullmatch(network):
            errors.append(f"networks: use a Docker network name (letters, digits, '.', '_', '-'), got {network!r}")
    errors.extend(_string_list_errors("command", params.get("command"), required=False))
    errors.extend(_string_list_errors("nginx_test_command", params.get("nginx_test_command"), required=True))
    errors.extend(_string_list_errors("nginx_reload_command", params.get("nginx_reload_command"), required=True))
    return errors


def _number_errors(params, checked):
    """Messages for the numeric options; their values, converted (int or float), go into ``checked``."""
    errors = []
    for name in ("container_port", "blue_port", "green_port"):
        checked[name] = _check(errors, _validate.port, name, params.get(name))
    if checked["blue_port"] is not None and checked["blue_port"] == checked["green_port"]:
        errors.append(f"blue_port and green_port: must differ (each colour has its own port), both are "
                      f"{checked['blue_port']}")
    _check(errors, _validate.ip_address, "bind_address", params.get("bind_address"))
    checked["drain_seconds"] = _check(errors, _validate.seconds, "drain_seconds", params.get("drain_seconds"),
                                      maximum=_validate.MAX_DRAIN_SECONDS, allow_zero=True)
    checked["stop_timeout"] = _check(errors, _validate.integer, "stop_timeout", params.get("stop_timeout"),
                                     maximum=MAX_STOP_TIMEOUT, unit="seconds")
    checked["keep_releases"] = _check(errors, _validate.integer, "keep_releases", params.get("keep_releases"),
                                      maximum=MAX_KEEP_RELEASES)
    checked["nginx_keepalive"] = _check(errors, _validate.integer, "nginx_keepalive", params.get("nginx_keepalive"),
                                        maximum=MAX_NGINX_KEEPALIVE)
    checked["timeout"] = _check(errors, _validate.timeout, "timeout", params.get("timeout"))
    checked["time_budget"] = _check(errors, _validate.timeout, "time_budget", params.get("time_budget"))
    return errors


def _budget_errors(checked):
    """time_budget must leave room for the health check's start, the drain and the stop."""
    needed = (checked["health_check"].get("start_period"), checked["drain_seconds"], checked["stop_timeout"])
    budget = checked["time_budget"]
    if None in needed or budget is None:
        return []
    total = sum(needed) + TIME_BUDGET_MARGIN
    if budget >= total:
        return []
    return [f"time_budget: must leave room for health_check.start_period + drain_seconds + stop_timeout + "
            f"{TIME_BUDGET_MARGIN} s for the switch, {total:g} s, got {budget:g}"]


def checked_options(params):
    """(the params with every number converted and health_check's defaults filled in, messages naming each
    unusable option value): empty messages when all are usable."""
    checked = dict(params)
    checked["health_check"] = {}
    errors = _text_errors(params) + _number_errors(params, checked)
    for name, written in (("upstream_file", True), ("state_dir", True), ("socket_path", False)):
        _check(errors, _validate.absolute_path, name, params.get(name), written=written)
    for path in params.get("env_files") or []:
        _check(errors, _validate.absolute_path, "env_files", path, written=False)
    errors.extend(_health_errors(params.get("health_check"), checked["health_check"]))
    errors.extend(_budget_errors(checked))
    errors.extend(docker_option_errors(params.get("docker_options") or {}))
    return checked, errors


def option_errors(params):
    """Messages naming each unusable option value (empty when all are usable)."""
    return checked_options(params)[1]


def parse_env_file(text, path):
    """KEY=VALUE lines as `docker run --env-file` reads them (no quotes removed; '#' lines and blanks skipped)."""
    env = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = line.lstrip().partition("=")
        if not sep or not ENV_NAME_RE.fullmatch(key):
            raise BlueGreenError(f"env_files: {path} line {number} is not KEY=VALUE. Nothing was changed.")
        env[key] = value
    return env
