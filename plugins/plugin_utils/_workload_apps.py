# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The apps discovered in the workload facts (containers' and systemd units' app variables, see module_utils/
_app_env.py), grouped per app and turned into entries of the shape of audit_apps, each number with where it came
from; then merged with audit_apps (an entry of the same name overrides the discovered numbers, others are added).

Grouping: the containers of one compose project are one app; otherwise the members that use the same database
(host, port and name of DATABASE_URL); otherwise each member alone. A member is Sidekiq when its command, name or
compose service says so (or it sets SIDEKIQ_CONCURRENCY but no WEB_CONCURRENCY), else the web (Puma) process.

Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

LOCAL_HOSTS = frozenset({None, "", "localhost", "127.0.0.1", "::1"})
POOL_VARIABLES = ("DB_POOL", "DATABASE_POOL")


def _dict(value):
    return value if isinstance(value, Mapping) else {}


def _list(value):
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, (list, tuple)) else []


def _number(variables, name):
    value = variables.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def members(workload):
    """[{where, kind, role, variables, sources, database, container}] of every running container and systemd app
    unit with app variables."""
    result = []
    for item in _list(_dict(workload.get("docker")).get("containers")):
        variables = _dict(item.get("app_variables"))
        if not variables or not (item.get("running") or item.get("restarting")):
            continue
        where = f"container {item.get('name')}"
        result.append({"where": where, "name": str(item.get("name")), "kind": "container", "role": item.get("app_role"), "variables": variables,
                       "sources": {name: where for name in variables}, "container": item})
    for unit in _list(_dict(workload.get("systemd")).get("apps")):
        variables = _dict(unit.get("app_variables"))
        if not variables:
            continue
        where = f"systemd unit {unit.get('unit')}"
        sources = {name: f"{where} ({origin})" for name, origin in _dict(unit.get("app_variable_sources")).items()}
        role = unit.get("app_kind") if unit.get("app_kind") in ("web", "sidekiq") else None
        result.append({"where": where, "name": str(unit.get("unit")), "kind": "systemd", "role": role, "variables": variables, "sources": sources,
                       "container": None})
    for member in result:
        url = _dict(member["variables"].get("DATABASE_URL"))
        member["database"] = url if "error" not in url and url else None
        if member["role"] is None:
            variables = member["variables"]
            sidekiq_only = "SIDEKIQ_CONCURRENCY" in variables and "WEB_CONCURRENCY" not in variables
            member["role"] = "sidekiq" if sidekiq_only else "web"
    return result


def _group_key(member):
    container = member["container"] or {}
    if container.get("compose_project"):
        return ("compose", container["compose_project"])
    database = member["database"]
    if database and database.get("host") not in LOCAL_HOSTS | {None}:
        return ("database", database.get("host"), database.get("port"), database.get("dbname"))
    if database and member["kind"] == "systemd":
        return ("database", "localhost", database.get("port"), database.get("dbname"))
    return ("member", member["where"])


def postgres_label(member, containers, labels):
    """The label of the PostgreSQL instance the member's DATABASE_URL points at, when that instance was read:
    a container by name, compose service or network alias; the host's own ("native") for localhost from a
    systemd unit. None otherwise."""
    database = member["database"]
    if not database:
        return None
    host = database.get("host")
    if host in LOCAL_HOSTS or str(host).startswith("/"):
        return "native" if member["kind"] == "systemd" and "native" in labels else None
    for item in containers:
        if host in (item.get("name"), item.get("compose_service")) or host in (item.get("aliases") or []):
            label = f"container {item.get('name')}"
            if label in labels:
                return label
    return None


def _pool(member):
    for name in POOL_VARIABLES:
        value = _number(member["variables"], name)
        if value is not None:
            return value, member["sources"][name] + f": {name}"
    database = member["database"] or {}
    if database.get("pool") is not None:
        return database["pool"], member["sources"]["DATABASE_URL"] + ": DATABASE_URL pool"
    return None, None


def discovered_apps(workload, postgres_labels=()):
    """audit_apps-shaped entries {name, postgres, workers, threads, db_pool, db_pool_sidekiq, sidekiq_concurrency,
    sources, discovered_in, database} of the apps found in the workload facts."""
    found = members(_dict(workload))
    containers = _list(_dict(_dict(workload).get("docker")).get("containers"))
    groups = {}
    for member in found:
        groups.setdefault(_group_key(member), []).append(member)
    apps = []
    for key, group in groups.items():
        web = [member for member in group if member["role"] == "web"]
        sidekiq = [member for member in group if member["role"] == "sidekiq"]
        name = key[1] if key[0] == "compose" else (web or group)[0]["name"]
        app, sources = {"name": str(name)}, {}

        def take(key_name, member, variable):
            value = _number(member["variables"], variable)
            if value is not None and key_name not in app:
                app[key_name] = value
                sources[key_name] = f"{member['sources'][variable]}: {variable}"

        for member in web:
            take("workers", member, "WEB_CONCURRENCY")
            take("threads", member, "RAILS_MAX_THREADS")
            pool, where = _pool(member)
            if pool is not None and "db_pool" not in app:
                app["db_pool"], sources["db_pool"] = pool, where
        for member in sidekiq:
            take("sidekiq_concurrency", member, "SIDEKIQ_CONCURRENCY")
            pool, where = _pool(member)
            if pool is not None and "db_pool_sidekiq" not in app:
                app["db_pool_sidekiq"], sources["db_pool_sidekiq"] = pool, where
        if len(app) == 1:
            continue  # no number the pool check reads
        label = next((postgres_label(member, containers, postgres_labels) for member in group
                      if postgres_label(member, containers, postgres_labels)), None)
        if label:
            app["postgres"] = label
        databases = sorted({member["database"]["url"] for member in group if member["database"]})
        app.update(sources=sources, discovered_in=[member["where"] for member in group], database=databases)
        apps.append(app)
    return apps


def merged_apps(discovered, given):
    """The discovered apps with audit_apps (``given``) applied: an entry of the same name overrides the numbers it
    sets (their source becomes audit_apps); the others are added as they are."""
    result = []
    by_name = {str(app.get("name")): app for app in _list(given) if app.get("name") is not None}
    used = set()
    for app in discovered:
        override = by_name.get(app["name"])
        if override is None:
            result.append(dict(app))
            continue
        used.add(app["name"])
        merged = dict(app)
        merged.update({key: value for key, value in override.items() if value is not None})
        merged["sources"] = dict(app.get("sources") or {}, **{key: "audit_apps" for key in override if key != "name"})
        result.append(merged)
    for app in _list(given):
        if str(app.get("name")) not in used or app.get("name") is None:
            result.append(dict(app))
    return result
