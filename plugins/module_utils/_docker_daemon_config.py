# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""Docker's daemon.json log settings: the log-opts dockerd accepts, the merge that keeps every other key, the
running containers without a log limit, and dockerd's own check of a configuration file.

Everything but `dockerd_validate` is pure (the docker_log_config module reads and writes the file). Runs on the
target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections import OrderedDict

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import dockerd_path
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import log_capped

# dockerd reads max-size with go-units FromHumanSize: decimal units (10m = 10,000,000 bytes), parsed as a
# float64 and converted to int64. Past 2**63 bytes the conversion wraps to a negative number: dockerd starts,
# then refuses every new container ("max-size must be a positive number"). We stop far below, at 10^15 bytes
# (1000000g, under the 1 PiB every size option of this collection stays within).
DOCKER_SIZE_UNITS = {"k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}
MAX_LOG_SIZE_BYTES = 1000 ** 5
MAX_LOG_FILES = 1000
"""max-file stays within 1..1000: dockerd takes any int, but more files than this is a typo."""

DOCKERD_VALIDATE_TIMEOUT = 30


class DaemonJsonError(ValueError):
    """daemon.json cannot be merged safely, or the log options would break dockerd; the message says why."""


def docker_size_bytes(max_size):
    """Bytes dockerd reads from a max-size such as "10m" (decimal units), or None when it is not that form."""
    text = str(max_size)
    if not text[:-1].isascii() or not text[:-1].isdigit() or text[:1] == "0" or text[-1:].lower() not in DOCKER_SIZE_UNITS:
        return None
    return int(text[:-1]) * DOCKER_SIZE_UNITS[text[-1].lower()]


def docker_log_opts(max_size, max_file, compress):
    """The log-opts to set, as the strings dockerd requires (it refuses numbers and booleans there).

    Raise DaemonJsonError naming the option for a value dockerd would refuse, at start or at each container's
    creation: max_size not a size such as 10m or beyond 1000000g, max_file not 1..1000, compress with one file.
    """
    opts = OrderedDict()
    if max_size is not None:
        size_bytes = docker_size_bytes(max_size) if isinstance(max_size, str) else None
        if size_bytes is None:
            raise DaemonJsonError(f"max_size={max_size!r} must be a size such as 10m, 50m or 1g "
                                  "(a whole number and k, m or g)")
        if size_bytes > MAX_LOG_SIZE_BYTES:
            raise DaemonJsonError(f"max_size={max_size!r} must be at most 1000000g (10^15 bytes; dockerd reads k, m "
                                  f"and g as 10^3, 10^6 and 10^9 bytes), got {size_bytes} bytes")
        opts["max-size"] = max_size
    if max_file is not None:
        try:
            files = _validate.integer("max_file", max_file, minimum=1, maximum=MAX_LOG_FILES)
        except _validate.OptionError:
            raise DaemonJsonError(f"max_file={max_file!r} must be a whole number of files from 1 to {MAX_LOG_FILES}") from None
        opts["max-file"] = str(files)
    if compress is not None:
        if compress and max_file is not None and opts["max-file"] == "1":
            # Both drivers refuse it: json-file for each new container, local at start.
            raise DaemonJsonError("compress=true needs max_file 2 or more (only rotated files are compressed); "
                                  "dockerd refuses compress with a single file")
        opts["compress"] = "true" if compress else "false"
    return opts


def decode_daemon_json(data):
    """daemon.json's text from its bytes (None: no file). Raise DaemonJsonError when it is not UTF-8."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DaemonJsonError(f"it is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                              "dockerd would not read it either") from None


def _refuse_constant(name):
    # Python's json reads NaN and Infinity; Go's, dockerd's, does not.
    raise ValueError(f"{name} is not JSON")


def merge_daemon_json(text, log_driver, log_opts):
    """daemon.json text with log-driver and log-opts merged in, every other key (and the key order) kept.

    Returns (new_text, changed). `text` None or blank means no file. Keys of log-opts not named in
    `log_opts` are kept (labels, tag, env ...). Raises DaemonJsonError for a file that is not a JSON object.
    """
    if text is None or not text.strip():
        config = OrderedDict()
    else:
        try:
            config = json.loads(text, object_pairs_hook=OrderedDict, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise DaemonJsonError(f"it is not valid JSON ({exc}); dockerd would not start with it either") from None
        if not isinstance(config, dict):
            raise DaemonJsonError("it is not a JSON object")
        if not isinstance(config.get("log-opts", {}), dict):
            raise DaemonJsonError("its log-opts is not a JSON object")
    merged = OrderedDict(config)
    if log_driver is not None:
        merged["log-driver"] = log_driver
    opts = OrderedDict(config.get("log-opts") or {})
    opts.update(log_opts)
    if opts:
        merged["log-opts"] = opts
    changed = merged != config
    if not changed and text is not None and text.strip():
        return text, False
    return json.dumps(merged, indent=2) + "\n", changed


def uncapped_containers(inspections):
    """Names of running containers whose log file has no size limit (json-file without max-size).

    `inspections`: GET /containers/{id}/json answers. The local driver caps by default unless max-size is -1.
    """
    names = []
    for inspect in inspections:
        if not (inspect.get("State") or {}).get("Running"):
            continue
        log_config = (inspect.get("HostConfig") or {}).get("LogConfig") or {}
        if log_capped(log_config.get("Type"), log_config.get("Config")) is False:
            names.append((inspect.get("Name") or inspect.get("Id", "?")[:12]).lstrip("/"))
    return sorted(names)


def validate_result(returncode, output):
    """(checked, error) from `dockerd --validate --config-file F`: checked False when this dockerd has no
    --validate (before Docker 23), error its message when it refuses the file."""
    if returncode == 0:
        return True, None
    if "unknown flag: --validate" in output:
        return False, None
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return True, "; ".join(lines[-3:]) or f"exit code {returncode}"


def dockerd_validate(text, dockerd=None):
    """Check `text` as a daemon.json with dockerd itself: (checked, error); (False, None) without a dockerd
    that can. The text goes to a private temporary file; the real file is not touched."""
    dockerd = dockerd or dockerd_path()
    if dockerd is None:
        return False, None
    with tempfile.TemporaryDirectory(prefix="hostcare-daemon-json-") as workdir:
        staged = os.path.join(workdir, "daemon.json")
        with open(staged, "w", encoding="utf-8") as handle:
            handle.write(text)
        try:
            finished = subprocess.run([dockerd, "--validate", "--config-file", staged], capture_output=True,
                                      timeout=DOCKERD_VALIDATE_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            return True, f"dockerd --validate did not answer within {DOCKERD_VALIDATE_TIMEOUT} s"
        except OSError:  # not executable after all
            return False, None
    output = (finished.stdout + finished.stderr).decode("utf-8", "replace").replace(staged, "daemon.json")
    return validate_result(finished.returncode, output)
