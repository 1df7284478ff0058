# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Puma workers and threads, ActiveRecord pools, Sidekiq concurrency and the PostgreSQL connections they need.

Implements the algorithm of shared/reference/puma-db-pool.md (section 2). The pools are per process and per
database, so the connection budget is checked against the pool ceiling, not only the typical use: a leak or an
uncounted thread opens everything the pool allows. Used by the filter hostcare.vps.puma_pool.
Pure functions, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils import _validate

DEPLOY_OVERLAPS = ("none", "phased", "blue_green")
CURRENT_KEYS = ("workers", "threads", "db_pool", "db_pool_sidekiq", "sidekiq_concurrency")

# name: (default, minimum); None as default means "derived" (see normalise_inputs).
NUMBER_INPUTS = {
    "cpu_count": (None, 0.01),
    "ram_mb": (None, 1),
    "cpu_share": (1.0, 0.01),
    "reserved_mb": (1024, 0),
    "per_worker_rss_mb": (512, 1),
    "master_rss_mb": (None, 0),
    "threads": (None, 1),
    "max_workers": (None, 0),
    "sidekiq_processes": (1, 0),
    "sidekiq_concurrency": (None, 1),
    "sidekiq_rss_mb": (None, 0),
    "extra_web_db_threads": (0, 0),
    "extra_sidekiq_db_threads": (0, 0),
    "pool_headroom": (0, 0),
    "pools_per_process": (1, 1),
    "pg_max_connections": (100, 1),
    "pg_superuser_reserved": (3, 0),
    "pg_reserved_connections": (0, 0),
    "other_db_clients": (5, 0),
}
MAX_MB = _validate.MAX_SIZE_BYTES // _validate.MIB
"""Memory inputs in MB stay below 1 PiB, as every size in the collection."""
MAX_PROCESSES = 1024
MAX_THREADS = 1000
# name: maximum (the documented range is minimum..maximum).
NUMBER_MAXIMUMS = {
    "cpu_count": 1024, "ram_mb": MAX_MB, "cpu_share": 1, "reserved_mb": MAX_MB, "per_worker_rss_mb": MAX_MB,
    "master_rss_mb": MAX_MB, "threads": MAX_THREADS, "max_workers": MAX_PROCESSES, "sidekiq_processes": MAX_PROCESSES,
    "sidekiq_concurrency": MAX_THREADS, "sidekiq_rss_mb": MAX_MB, "extra_web_db_threads": MAX_THREADS,
    "extra_sidekiq_db_threads": MAX_THREADS, "pool_headroom": MAX_THREADS, "pools_per_process": 100,
    "pg_max_connections": 262143, "pg_superuser_reserved": 262143, "pg_reserved_connections": 262143,
    "other_db_clients": 262143,
}
INTEGER_INPUTS = frozenset(NUMBER_INPUTS) - {"cpu_count", "cpu_share", "ram_mb", "reserved_mb", "per_worker_rss_mb",
                                             "master_rss_mb", "sidekiq_rss_mb"}
# Versions are strings ("7.1.3", "7.2"); a plain number (8, 7.2) is accepted too.
VERSION_INPUTS = {"rails_version": "8.0", "sidekiq_version": "7"}
FLAG_INPUTS = ("io_heavy", "shared_pool_var")
INPUT_KEYS = tuple(NUMBER_INPUTS) + tuple(VERSION_INPUTS) + FLAG_INPUTS + ("deploy_overlap", "current")

MAX_USEFUL_THREADS = 5
MAX_USEFUL_SIDEKIQ_CONCURRENCY = 10
LOW_SHARE = 0.10
PLUMBING_NOTE = ("RAILS_MAX_THREADS also sets Sidekiq's concurrency when neither -c nor sidekiq.yml sets it, and Puma "
                 "ignores RAILS_MAX_THREADS unless config/puma.rb reads it: set WEB_CONCURRENCY, RAILS_MAX_THREADS and "
                 "DB_POOL per process type (systemd Environment= per unit)")


class PumaPoolError(_validate.OptionError):
    """Bad input; the message names the key, the value and what is allowed."""


def _number(key, value, minimum, integer, maximum=None):
    try:
        return _validate.number(key, value, minimum=minimum, maximum=maximum, integer=integer)
    except _validate.OptionError as error:
        raise PumaPoolError(str(error)) from None


def _version(key, value):
    try:
        return _validate.version(key, value)
    except _validate.OptionError as error:
        raise PumaPoolError(str(error)) from None


def _current(value):
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise PumaPoolError(f"current: expected a dict with keys among {', '.join(CURRENT_KEYS)}, got {value!r}")
    unknown = sorted(str(key) for key in value if key not in CURRENT_KEYS)
    if unknown:
        raise PumaPoolError(f"current: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CURRENT_KEYS)}")
    current = {}
    for key in CURRENT_KEYS:
        if value.get(key) is not None:
            current[key] = _number(f"current.{key}", value[key], 0, True, MAX_THREADS * MAX_PROCESSES)
    for key in ("workers", "threads", "db_pool"):
        if key not in current:
            raise PumaPoolError(f"current.{key}: required to audit a configuration")
    return current


def _version_key(text):
    return tuple(int(part) for part in text.split("."))


def normalise_inputs(inputs):
    """Check the inputs of puma_pool and fill in the defaults of the reference's section 1."""
    unknown = sorted(str(key) for key in inputs if key not in INPUT_KEYS)
    if unknown:
        raise PumaPoolError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(INPUT_KEYS)}")
    result = {}
    for key, (default, minimum) in NUMBER_INPUTS.items():
        value = inputs.get(key)
        if value is None:
            if key in ("cpu_count", "ram_mb"):
                raise PumaPoolError(f"{key}: required")
            result[key] = default
        else:
            result[key] = _number(key, value, minimum, key in INTEGER_INPUTS, NUMBER_MAXIMUMS[key])
    for key, default in VERSION_INPUTS.items():
        value = inputs.get(key)
        result[key] = ".".join(str(part) for part in _version(key, default if value is None else value))
    for key in FLAG_INPUTS:
        if not isinstance(inputs.get(key, False), bool):
            raise PumaPoolError(f"{key}: expected true or false, got {inputs[key]!r}")
        result[key] = inputs.get(key, False)
    overlap = inputs.get("deploy_overlap") or "none"
    if overlap not in DEPLOY_OVERLAPS:
        raise PumaPoolError(f"deploy_overlap: {overlap!r} is not allowed; expected one of {', '.join(DEPLOY_OVERLAPS)}")
    result["deploy_overlap"] = overlap
    result["current"] = _current(inputs.get("current"))
    # Rails 7.2 generates 3 threads (5 before); IO-heavy apps keep Puma's 5. Sidekiq 7 runs 5 threads (10 before).
    if result["threads"] is None:
        result["threads"] = 5 if result["io_heavy"] or _version_key(result["rails_version"]) < (7, 2) else 3
    if result["sidekiq_concurrency"] is None:
        result["sidekiq_concurrency"] = 5 if _version_key(result["sidekiq_version"]) >= (7,) else 10
    if result["master_rss_mb"] is None:
        result["master_rss_mb"] = result["per_worker_rss_mb"]
    if result["sidekiq_rss_mb"] is None:
        result["sidekiq_rss_mb"] = 1.5 * result["per_worker_rss_mb"]
    return result


def _connections(cfg, web_procs, threads, pool_web, sidekiq_concurrency, pool_sidekiq):
    """Connection budget of one configuration (per process pools, per database)."""
    pools = cfg["pools_per_process"]
    sidekiq_procs = cfg["sidekiq_processes"]
    expected_peak = pools * (web_procs * (threads + cfg["extra_web_db_threads"])
                             + sidekiq_procs * (sidekiq_concurrency + cfg["extra_sidekiq_db_threads"]))
    ceiling = pools * (web_procs * pool_web + sidekiq_procs * pool_sidekiq)
    overlap = {"none": 0, "phased": pools * pool_web, "blue_green": pools * web_procs * pool_web}[cfg["deploy_overlap"]]
    pg_usable = (cfg["pg_max_connections"] - cfg["pg_superuser_reserved"] - cfg["pg_reserved_connections"]
                 - cfg["other_db_clients"])
    total = ceiling + overlap
    return {"expected_peak": expected_peak, "ceiling": ceiling, "deploy_overlap": overlap, "total": total,
            "pg_usable": pg_usable, "headroom": pg_usable - total}


def _connection_findings(cfg, connections, web_procs, sidekiq_peak, warnings, errors):
    pg_usable, overlap = connections["pg_usable"], connections["deploy_overlap"]
    if connections["expected_peak"] + overlap > pg_usable:
        fit = ((pg_usable - overlap) // cfg["pools_per_process"] - sidekiq_peak) // web_procs - cfg["extra_web_db_threads"]
        errors.append(f"{connections['expected_peak'] + overlap} connections at peak (deploy overlap included) exceed the "
                      f"{pg_usable} PostgreSQL slots usable by this app; at most {max(fit, 0)} web threads fit: cut "
                      "workers or Sidekiq concurrency, raise max_connections, or put PgBouncer (transaction mode) "
                      "in front")
        return max(fit, 0)
    if connections["total"] > pg_usable:
        with_overlap = " (with the deploy overlap)" if overlap else ""
        warnings.append(f"the pools allow {connections['total']} connections{with_overlap}, more than the "
                        f"{pg_usable} usable slots: a leak or a stray thread can exhaust PostgreSQL")
    elif connections["headroom"] < LOW_SHARE * pg_usable:
        warnings.append(f"only {connections['headroom']} PostgreSQL connections of {pg_usable} left (< 10%)")
    return None


def _audit(cfg, current):
    """Check an existing {workers, threads, db_pool, ...} configuration."""
    warnings, errors = [], []
    web_procs = max(current["workers"], 1)
    sidekiq_concurrency = current.get("sidekiq_concurrency", cfg["sidekiq_concurrency"])
    pool_sidekiq = current.get("db_pool_sidekiq", current["db_pool"])
    connections = _connections(cfg, web_procs, current["threads"], current["db_pool"], sidekiq_concurrency, pool_sidekiq)
    if current["workers"] == 1:
        warnings.append("workers 1 wastes 10-30% of memory: use 0 (single mode) or at least 2")
    if current["threads"] > MAX_USEFUL_THREADS:
        warnings.append(f"{current['threads']} threads per Puma process (> {MAX_USEFUL_THREADS}): the GVL turns them into "
                        "latency and memory unless requests spend 50%+ of their time waiting on IO")
    if current["db_pool"] < current["threads"]:
        errors.append(f"DB_POOL {current['db_pool']} is smaller than the {current['threads']} Puma threads: "
                      "ActiveRecord::ConnectionTimeoutError")
    if cfg["sidekiq_processes"] and pool_sidekiq < sidekiq_concurrency:
        errors.append(f"the Sidekiq pool {pool_sidekiq} is smaller than its concurrency {sidekiq_concurrency}: "
                      "ActiveRecord::ConnectionTimeoutError")
    if current["workers"] >= 2 and current["db_pool"] >= current["workers"] * current["threads"]:
        processes = web_procs + cfg["sidekiq_processes"]
        warnings.append(f"DB_POOL {current['db_pool']} >= workers x threads ({current['workers']} x {current['threads']}): "
                        f"a cluster total written into a per-process setting; each of the {processes} processes may open "
                        f"{current['db_pool']} connections ({connections['ceiling']} in all, PostgreSQL has "
                        f"{connections['pg_usable']} usable). Set DB_POOL to the threads of each process type")
    sidekiq_peak = cfg["sidekiq_processes"] * (sidekiq_concurrency + cfg["extra_sidekiq_db_threads"])
    _connection_findings(cfg, connections, web_procs, sidekiq_peak, warnings, errors)
    return {"connections": connections, "warnings": warnings, "errors": errors}


def puma_pool(cfg):
    """Recommendation for the normalised inputs ``cfg`` (see normalise_inputs)."""
    warnings, errors = [], []
    threads, sidekiq_concurrency = cfg["threads"], cfg["sidekiq_concurrency"]
    sidekiq_procs = cfg["sidekiq_processes"]
    per_worker, master = cfg["per_worker_rss_mb"], cfg["master_rss_mb"]

    cpu_budget = cfg["cpu_count"] * cfg["cpu_share"]
    # Puma's advice: about one core per worker when threaded, 0.75 when single-threaded.
    workers_by_cpu = math.floor(cpu_budget / (1.0 if threads > 1 else 0.75))
    sidekiq_mb = sidekiq_procs * cfg["sidekiq_rss_mb"]
    available_mb = cfg["ram_mb"] - cfg["reserved_mb"] - sidekiq_mb
    workers_by_ram = max(math.floor((available_mb - master) / per_worker), 0)
    workers = min(workers_by_cpu, workers_by_ram)
    if cfg["max_workers"] is not None:
        workers = min(workers, cfg["max_workers"])
    if workers >= 2:
        mode, web_concurrency, web_procs, web_mb = "cluster", workers, workers, master + workers * per_worker
    else:
        # workers 1 only adds a master process: single mode saves 10-30% of memory.
        mode, web_concurrency, web_procs, web_mb = "single", 0, 1, per_worker
        warnings.append("fewer than 2 Puma workers fit: run single mode (WEB_CONCURRENCY=0), not workers 1")
        if available_mb < per_worker:
            errors.append(f"not even single mode fits: {available_mb:g} MB left after reserved_mb and Sidekiq, "
                          f"a Puma process needs {per_worker:g} MB")

    pool_web = threads + cfg["extra_web_db_threads"] + cfg["pool_headroom"]
    pool_sidekiq = sidekiq_concurrency + cfg["extra_sidekiq_db_threads"] + cfg["pool_headroom"]
    if cfg["shared_pool_var"]:
        pool_web = pool_sidekiq = max(pool_web, pool_sidekiq)
        warnings.append("one DB_POOL for every process type gives each the largest pool: set it per process type")
    connections = _connections(cfg, web_procs, threads, pool_web, sidekiq_concurrency, pool_sidekiq)
    sidekiq_peak = sidekiq_procs * (sidekiq_concurrency + cfg["extra_sidekiq_db_threads"])
    max_web_threads = _connection_findings(cfg, connections, web_procs, sidekiq_peak, warnings, errors)

    used_mb = cfg["reserved_mb"] + web_mb + sidekiq_mb
    free_mb = cfg["ram_mb"] - used_mb
    if free_mb < 0:
        errors.append(f"the memory plan needs {used_mb:g} MB, more than the {cfg['ram_mb']:g} MB of RAM")
    elif free_mb < LOW_SHARE * cfg["ram_mb"]:
        warnings.append(f"only {free_mb:g} MB of RAM free ({round(100.0 * free_mb / cfg['ram_mb'])}%): use jemalloc or "
                        "MALLOC_ARENA_MAX=2, cut Sidekiq or consolidate apps")
    if threads > MAX_USEFUL_THREADS:
        warnings.append(f"{threads} threads per Puma process (> {MAX_USEFUL_THREADS}): the GVL turns them into latency "
                        "and memory unless requests spend 50%+ of their time waiting on IO")
    if sidekiq_procs and sidekiq_concurrency > MAX_USEFUL_SIDEKIQ_CONCURRENCY:
        warnings.append(f"Sidekiq concurrency {sidekiq_concurrency} in one process only pays off for IO-bound jobs")
    ruby_processes = web_procs + sidekiq_procs
    if ruby_processes > max(1.5 * cpu_budget, cpu_budget + 1):
        warnings.append(f"{ruby_processes} Ruby processes for a budget of {cpu_budget:.2g} cores: CPU oversubscribed "
                        "(fine only for low traffic)")

    return {
        "mode": mode,
        "web_concurrency": web_concurrency,
        "rails_max_threads": threads,
        "rails_min_threads": threads,
        "db_pool_web": pool_web,
        "db_pool_sidekiq": pool_sidekiq,
        "sidekiq_concurrency": sidekiq_concurrency,
        "workers_by_cpu": workers_by_cpu,
        "workers_by_ram": workers_by_ram,
        "connections": connections,
        "memory_mb": {"reserved": cfg["reserved_mb"], "web": web_mb, "sidekiq": sidekiq_mb, "total": used_mb,
                      "free": free_mb, "ram": cfg["ram_mb"]},
        "fit": {"max_web_threads_that_fit": max_web_threads},
        "audit": _audit(cfg, cfg["current"]) if cfg["current"] else None,
        "warnings": warnings,
        "errors": errors,
        "notes": [PLUMBING_NOTE],
    }
