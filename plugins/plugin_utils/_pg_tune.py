# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""PGTune's recommendation for a dedicated PostgreSQL server, reproduced exactly.

Follows PGTune (le0pard/pgtune) at commit 7caef27 (2026-07-30, the "head" formulas): same parameters, same order,
same strings ("5888MB", "20164kB", "0.9", "try"). Memory is computed in kB with integer floor division, which
gives exactly PGTune's JavaScript floating point results. Used by the filter hostcare.vps.pg_tune.
Pure functions, standard library only.
"""

from __future__ import annotations

import re

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._validate import OptionError
from ansible_collections.hostcare.vps.plugins.module_utils._validate import KIB, MIB
from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_budget import (
    BUDGET_KEYS,
    PgBudgetError,
    compute_budget,
    has_budget_keys,
    normalise_budget,
)

MIB_IN_KB = 1024
GIB_IN_KB = 1024 * 1024

WORKLOADS = ("web", "oltp", "dw", "desktop", "mixed")
STORAGES = ("ssd", "hdd", "san", "nvme")
OS_TYPES = ("linux", "windows", "mac")
DATA_SIZES = ("less_ram", "mid_ram", "greater_ram")
VERSIONS = tuple(range(10, 19))
INPUT_KEYS = ("memory", "cpus", "max_connections", "storage", "workload", "version", "os_type", "data_size")
DEFAULTS = {"storage": "ssd", "workload": "web", "version": 18, "os_type": "linux", "data_size": "mid_ram"}

MIN_MEMORY_BYTES = 512 * MIB
"""PGTune's form refuses less than 512 MB."""
MIN_CONNECTIONS = 20
MAX_CONNECTIONS = 262143
"""PostgreSQL's own limit on max_connections (MAX_BACKENDS)."""
MAX_CPUS = 4096
HIGH_MEMORY_KB = 100 * GIB_IN_KB
"""Above this PGTune warns that it is not optimal."""

DEFAULT_CONNECTIONS = {"web": 200, "oltp": 300, "dw": 40, "desktop": 20, "mixed": 100}
IO_CONCURRENCY = {"hdd": 2, "ssd": 200, "san": 300, "nvme": 1000}
MIN_WAL_KB = {"web": GIB_IN_KB, "oltp": 2 * GIB_IN_KB, "dw": 4 * GIB_IN_KB, "desktop": 100 * MIB_IN_KB, "mixed": GIB_IN_KB}
MAX_WAL_KB = {"web": 4 * GIB_IN_KB, "oltp": 8 * GIB_IN_KB, "dw": 16 * GIB_IN_KB, "desktop": 2 * GIB_IN_KB,
              "mixed": 4 * GIB_IN_KB}
WORK_MEM_DIVISOR = {"web": 1, "oltp": 1, "dw": 2, "mixed": 2, "desktop": 6}
PG_DEFAULT_WORKER_PROCESSES = 8

MAINTENANCE_CAP_KB = 8 * GIB_IN_KB
# PostgreSQL up to 17 on Windows refuses 2GB for memory settings; PGTune stops 1MB below.
WINDOWS_CAP_KB = 2 * GIB_IN_KB
WINDOWS_LIMIT_KB = WINDOWS_CAP_KB - MIB_IN_KB
AUTOVACUUM_WORK_MEM_KB = 2 * GIB_IN_KB
HUGE_PAGES_MIN_SB_KB = 2 * GIB_IN_KB
WORK_MEM_FLOOR_KB = 4 * MIB_IN_KB
WAL_BUFFERS_MAX_KB = 16 * MIB_IN_KB
WAL_BUFFERS_ROUND_UP_FROM_KB = 14 * MIB_IN_KB
WAL_BUFFERS_MIN_KB = 32

# Settings whose value is memory: printed with format_pg_kb, returned in bytes in "values".
MEMORY_SETTINGS = frozenset(("shared_buffers", "effective_cache_size", "maintenance_work_mem", "wal_buffers",
                             "work_mem", "autovacuum_work_mem", "min_wal_size", "max_wal_size"))

STORAGE_LABELS = {"ssd": "SSDs", "nvme": "NVMe drives", "san": "SAN storage"}


class PgTuneError(OptionError):
    """Bad input; the message names the key, the value and what is allowed."""


def format_pg_kb(kilobytes):
    """PGTune's formatValue: whole GB, else whole MB, else kB (no rounding)."""
    if kilobytes % GIB_IN_KB == 0:
        return f"{kilobytes // GIB_IN_KB}GB"
    if kilobytes % MIB_IN_KB == 0:
        return f"{kilobytes // MIB_IN_KB}MB"
    return f"{kilobytes}kB"


def _choice(inputs, key, allowed):
    value = inputs.get(key)
    if value is None:
        return DEFAULTS[key]
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise PgTuneError(f"{key}: {value!r} is not allowed; expected one of {', '.join(allowed)}")
    return value.strip().lower()


def _optional_int(inputs, key, minimum, maximum):
    value = inputs.get(key)
    if value is None:
        return None
    return _validate.integer(key, value, minimum=minimum, maximum=maximum)


def _version(inputs):
    value = inputs.get("version")
    if value is None:
        return DEFAULTS["version"]
    # "17" and "17.4" (a server_version) both mean major 17. ASCII digits only.
    major = str(value).split(".", 1)[0].strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not re.fullmatch(r"[0-9]+", major) or int(major) not in VERSIONS:
        raise PgTuneError(f"version: {value!r} is not allowed; expected a PostgreSQL major version from "
                          f"{VERSIONS[0]} to {VERSIONS[-1]}")
    return int(major)


def normalise_inputs(inputs):
    """Check and complete the input dict of pg_tune. Raise PgTuneError naming the bad key."""
    try:
        return _normalise_inputs(inputs)
    except PgTuneError:
        raise
    except OptionError as error:
        raise PgTuneError(str(error)) from None


def _normalise_inputs(inputs):
    unknown = sorted(str(key) for key in inputs if key not in INPUT_KEYS + BUDGET_KEYS)
    if unknown:
        raise PgTuneError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(INPUT_KEYS + BUDGET_KEYS)}")
    if inputs.get("memory") is None:
        raise PgTuneError("memory: required, e.g. 16GB or a number of bytes")
    memory = _validate.size("memory", inputs["memory"])
    if memory < MIN_MEMORY_BYTES:
        raise PgTuneError(f"memory: at least 512MB ({MIN_MEMORY_BYTES} bytes) as in PGTune, got {inputs['memory']!r}")
    result = {
        "memory": memory,
        "cpus": _optional_int(inputs, "cpus", 1, MAX_CPUS),
        "max_connections": _optional_int(inputs, "max_connections", MIN_CONNECTIONS, MAX_CONNECTIONS),
        "storage": _choice(inputs, "storage", STORAGES),
        "workload": _choice(inputs, "workload", WORKLOADS),
        "version": _version(inputs),
        "os_type": _choice(inputs, "os_type", OS_TYPES),
        "data_size": _choice(inputs, "data_size", DATA_SIZES),
    }
    if has_budget_keys(inputs):
        # A shared host: PGTune's formulas run on the budget (see _pg_budget.py), not on the RAM.
        try:
            budget_inputs = normalise_budget(inputs)
            result.update(budget_inputs)
            result["budget"] = compute_budget(memory, budget_inputs, MIN_MEMORY_BYTES)
        except PgBudgetError as error:
            raise PgTuneError(str(error)) from None
    return result


def _maintenance_work_mem(total_kb, workload, windows_limited):
    value = total_kb // 8 if workload == "dw" else total_kb // 16
    if windows_limited:
        return WINDOWS_LIMIT_KB if value >= WINDOWS_CAP_KB else value
    return min(value, MAINTENANCE_CAP_KB)


def _wal_buffers(shared_buffers_kb):
    value = 3 * shared_buffers_kb // 100
    if value > WAL_BUFFERS_ROUND_UP_FROM_KB:
        return WAL_BUFFERS_MAX_KB
    return max(value, WAL_BUFFERS_MIN_KB)


def _random_page_cost(storage, workload, data_size):
    if data_size == "less_ram":
        return 1.1
    if storage == "hdd" or workload == "dw":
        return 4
    return 1.1


def _parallel_settings(cpus, workload, version):
    if cpus is None or cpus < 4:
        return {}
    half = -(-cpus // 2)
    settings = {
        "max_worker_processes": cpus,
        "max_parallel_workers_per_gather": half if workload == "dw" else min(half, 4),
        "max_parallel_workers": cpus,
    }
    if version >= 11:
        settings["max_parallel_maintenance_workers"] = min(half, 4)
    return settings


def _work_mem(total_kb, shared_buffers_kb, connections, worker_processes, inputs, windows_limited):
    divisor = (connections + worker_processes) * 3 * WORK_MEM_DIVISOR[inputs["workload"]]
    value = (total_kb - shared_buffers_kb) // divisor
    if inputs["data_size"] == "less_ram":
        value = value * 13 // 10
    elif inputs["data_size"] == "greater_ram":
        value = value * 9 // 10
    value = max(value, WORK_MEM_FLOOR_KB)
    return min(value, WINDOWS_LIMIT_KB) if windows_limited else value


def _io_workers(cpus, version, io_method):
    if version < 18 or cpus is None or io_method == "io_uring":
        return None
    workers = min(32, max(3, cpus // 4))
    return workers if workers > 3 else None


def _autovacuum_max_workers(cpus):
    if cpus is not None and cpus >= 32:
        return 5
    if cpus is not None and cpus >= 16:
        return 4
    return None


def _warnings(total_kb, inputs):
    messages = []
    if total_kb > HIGH_MEMORY_KB:
        messages.append("PGTune is not optimal for very high memory systems (more than 100GB); review the values")
    if inputs["version"] >= 15:
        messages.append("wal_compression = lz4 needs a PostgreSQL built with lz4 (--with-lz4); "
                        "use wal_compression = on otherwise")
    if inputs["version"] >= 18 and inputs["os_type"] == "linux":
        messages.append("io_method = io_uring needs a PostgreSQL built with liburing (--with-liburing); "
                        "use io_method = worker otherwise")
    if inputs["workload"] == "dw" and inputs["storage"] != "hdd" and inputs["data_size"] != "less_ram":
        messages.append(f"Cost parameters for Data Warehouses on {STORAGE_LABELS[inputs['storage']]} are left at "
                        "defaults (random_page_cost = 4): large scans of data bigger than RAM behave as on disks")
    return messages


def pg_tune(inputs):
    """PGTune's settings for the normalised ``inputs`` (see normalise_inputs).

    Returns {settings: {name: PGTune's string}, values: {name: bytes or number}, warnings: [...], inputs}, plus
    ``budget`` {bytes, source, reason} when ``inputs`` has one (a shared host): the formulas then run on it.
    """
    budget = inputs.get("budget")
    total_kb = (budget["bytes"] if budget else inputs["memory"]) // KIB
    workload, version, os_type, cpus = inputs["workload"], inputs["version"], inputs["os_type"], inputs["cpus"]
    windows_limited = os_type == "windows" and version <= 17
    connections = inputs["max_connections"] or DEFAULT_CONNECTIONS[workload]
    desktop = workload == "desktop"
    shared_buffers = total_kb // 16 if desktop else total_kb // 4
    maintenance_work_mem = _maintenance_work_mem(total_kb, workload, windows_limited)
    parallel = _parallel_settings(cpus, workload, version)
    io_method = None
    if version >= 18:
        io_method = "io_uring" if os_type == "linux" else "worker"

    values = {
        "max_connections": connections,
        "shared_buffers": shared_buffers,
        "effective_cache_size": total_kb // 4 if desktop else total_kb * 3 // 4,
        "maintenance_work_mem": maintenance_work_mem,
        "checkpoint_completion_target": 0.9,
        "wal_buffers": _wal_buffers(shared_buffers),
        "default_statistics_target": 500 if workload == "dw" else 100,
        "random_page_cost": _random_page_cost(inputs["storage"], workload, inputs["data_size"]),
        "effective_io_concurrency": IO_CONCURRENCY[inputs["storage"]] if os_type == "linux" else None,
        "work_mem": _work_mem(total_kb, shared_buffers, connections,
                              parallel.get("max_worker_processes", PG_DEFAULT_WORKER_PROCESSES), inputs, windows_limited),
        "huge_pages": "try" if os_type != "mac" and shared_buffers >= HUGE_PAGES_MIN_SB_KB else "off",
        "jit": "off" if version >= 12 and workload in ("web", "oltp", "mixed") else None,
        "wal_compression": "lz4" if version >= 15 else "on",
        "autovacuum_max_workers": _autovacuum_max_workers(cpus),
        "autovacuum_work_mem": AUTOVACUUM_WORK_MEM_KB if maintenance_work_mem >= AUTOVACUUM_WORK_MEM_KB else None,
        "io_method": io_method,
        "io_workers": _io_workers(cpus, version, io_method),
        "min_wal_size": MIN_WAL_KB[workload],
        "max_wal_size": MAX_WAL_KB[workload],
    }
    values.update(parallel)
    if desktop:
        values.update({"wal_level": "minimal", "max_wal_senders": 0})
    values = {name: value for name, value in values.items() if value is not None}
    settings = {name: format_pg_kb(value) if name in MEMORY_SETTINGS else str(value) for name, value in values.items()}
    result = {
        "settings": settings,
        "values": {name: value * KIB if name in MEMORY_SETTINGS else value for name, value in values.items()},
        "warnings": _warnings(total_kb, inputs),
        "inputs": {key: value for key, value in inputs.items() if key != "budget"},
    }
    if budget:
        result["budget"] = dict(budget)
    return result
