# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The PostgreSQL instances of an audit: which ones to ask (the native one, running containers whose image name
matches, the logins of audit_postgres_connections), the ``facts["postgres"]`` list made from the answers::

    [{"label": "native", "facts": <hostcare_postgres>},
     {"label": "container app-db-1", "facts": <hostcare_postgres>,
      "connection": {"method": "docker", "container": "app-db-1"}},          # optional, never a password
     {"label": "tcp app@10.0.0.5:5432", "facts": None, "error": "the module failed: ..."}]

and which of them the rules judge. The entry labelled ``native`` stands for "PostgreSQL on the host itself", which
the audit always asks: when it says the client or the ``postgres`` OS user is missing (NOT_INSTALLED_CODES) the host
has no PostgreSQL and nothing is reported.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import as_dict
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import DEFAULT_PORT
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import ImageReference


NATIVE_LABEL = "native"


NOT_INSTALLED_CODES = frozenset({"psql_missing", "os_user_missing"})
"""reason_code of the native instance meaning "no PostgreSQL on this host": no finding at all."""


def postgres_instances(facts):
    """The instances to judge: [{label, facts (dict or None), error, connection}], "no PostgreSQL here" left out."""
    result = []
    entries = facts.get("postgres")
    for index, entry in enumerate(entries if isinstance(entries, (list, tuple)) else []):
        if not isinstance(entry, Mapping):
            continue
        label = entry.get("label") if isinstance(entry.get("label"), str) and entry.get("label") else f"#{index + 1}"
        pg = entry.get("facts") if isinstance(entry.get("facts"), Mapping) else None
        if (label == NATIVE_LABEL and pg is not None and pg.get("available") is not True
                and pg.get("reason_code") in NOT_INSTALLED_CODES):
            continue
        result.append({"label": label, "facts": pg, "error": entry.get("error"),
                       "connection": instance_connection(label, entry.get("connection"), pg)})
    return result


def sharing_unreadable(facts):
    """Instances on this machine (native or a container) that run but could not be read: they use the same RAM,
    so the budget of the readable ones counts them too (a stopped or vanished one does not)."""
    stopped = ("not_running", "container_missing", "container_stopped", "docker_missing", "docker_down")
    return [item for item in postgres_instances(facts)
            if not (item["facts"] is not None and item["facts"].get("available") is True)
            and item["connection"].get("method") in ("docker", "local_socket")
            and (item["facts"] or {}).get("reason_code") not in stopped]


def available_instances(facts):
    return [item for item in postgres_instances(facts)
            if item["facts"] is not None and item["facts"].get("available") is True]


def instance_connection(label, given, pg):
    """How to reach the instance with psql: the given connection, else what the facts and label say."""
    connection = dict(given) if isinstance(given, Mapping) else {}
    connection.pop("password", None)
    if not connection.get("method"):
        method = (pg or {}).get("method")
        if label.startswith("container "):
            method = "docker"
            connection.setdefault("container", label[len("container "):])
        elif label == NATIVE_LABEL:
            method = "local_socket"
        connection["method"] = method
    return connection


def setting_row(pg, name):
    return as_dict(as_dict(pg.get("settings")).get(name))


def int_setting(pg, name):
    try:
        return int(setting_row(pg, name).get("setting"))
    except (TypeError, ValueError):
        return None

# --------------------------------------------------------------------------------------------- discovery


DEFAULT_POSTGRES_IMAGE_PATTERNS = ("^postgres(ql)?$", "postgis", "timescale", "^pgvector$")
"""Regular expressions (case-insensitive, searched) for the NAME of a container's image: the last part of the
repository, without registry, tag or digest (postgres for docker.io/library/postgres:16-alpine, postgis for
postgis/postgis:16-3.4, timescaledb-ha for timescale/timescaledb-ha:pg16). Matches postgres, bitnami/postgresql,
supabase/postgres, postgis, timescaledb, pgvector; not postgres-exporter or postgrest."""


CONNECTION_KEYS = ("method", "container", "host", "port", "user", "dbname", "os_user", "socket_dir", "docker_user")
"""Options of pg_settings_facts kept with an instance to build psql commands (never password or uri)."""


def image_name(reference):
    """docker.io/library/postgres:16-alpine@sha256:... -> postgres; postgis/postgis:16 -> postgis."""
    return ImageReference(reference).name


def postgres_targets(docker, patterns=None, native=True, connections=None):
    """The pg_settings_facts calls the audit makes: the native one, then one per running container whose image
    name matches ``patterns`` and that no entry of ``connections`` (audit_postgres_connections) names already.
    Each item: {label, method[, container]}."""
    compiled = [re.compile(pattern, re.IGNORECASE)
                for pattern in (DEFAULT_POSTGRES_IMAGE_PATTERNS if patterns is None else patterns)]
    given = {entry.get("container") for entry in connections or [] if isinstance(entry, Mapping)}
    targets = [{"label": NATIVE_LABEL, "method": "local_socket"}] if native else []
    docker = docker if isinstance(docker, Mapping) else {}
    if docker.get("available") is not True:
        return targets
    tags_by_id = {}
    for image in docker.get("images") or []:
        if isinstance(image, Mapping):
            tags_by_id[image.get("id")] = [tag for tag in image.get("repo_tags") or [] if isinstance(tag, str)]
    for container in docker.get("containers") or []:
        if not isinstance(container, Mapping) or container.get("state") != "running":
            continue
        name = container.get("name")
        if not isinstance(name, str) or not name or name in given:
            continue
        references = [container.get("image")] + tags_by_id.get(container.get("image_id"), [])
        names = {image_name(reference) for reference in references if isinstance(reference, str)}
        if any(pattern.search(candidate) for pattern in compiled for candidate in names):
            targets.append({"label": f"container {name}", "method": "docker", "container": name})
    return targets


def connection_label(item):
    """A label for a connection given without one: container x, tcp app@db:5432/app, socket /run/pg:5433."""
    if item.get("container"):
        return f"container {item['container']}"
    if item.get("host"):
        user = f"{item['user']}@" if item.get("user") else ""
        database = f"/{item['dbname']}" if item.get("dbname") else ""
        return f"tcp {user}{item['host']}:{item.get('port') or DEFAULT_PORT}{database}"
    where = item.get("socket_dir") or "default socket"
    return f"socket {where}:{item.get('port') or DEFAULT_PORT}"


def _uri_connection(uri):
    """host, port, user, dbname of a postgresql:// URI (never its password); {} when it cannot be parsed."""
    try:
        parts = urlsplit(str(uri))
        port = parts.port
    except ValueError:
        return {}
    values = {"method": "tcp", "host": parts.hostname, "port": port, "user": unquote(parts.username or "") or None,
              "dbname": unquote(parts.path.lstrip("/")) or None}
    return {key: value for key, value in values.items() if value not in (None, "")}


def postgres_instances_from_results(results):
    """The facts["postgres"] list from the registered results of pg_settings_facts loops (items made by
    postgres_targets or taken from audit_postgres_connections): [{label, connection, facts, error}].
    Skipped items are left out; passwords and URIs are never copied."""
    instances = []
    for result in results or []:
        if not isinstance(result, Mapping) or result.get("skipped"):
            continue
        item = result.get("item") if isinstance(result.get("item"), Mapping) else {}
        connection = {key: item[key] for key in CONNECTION_KEYS if item.get(key) not in (None, "")}
        if item.get("uri"):
            connection = {**_uri_connection(item["uri"]), **connection}
        label = item.get("label") if isinstance(item.get("label"), str) and item.get("label") else None
        facts = as_dict(result.get("ansible_facts")).get("hostcare_postgres")
        if not isinstance(facts, Mapping):
            facts = None
        error = None if facts is not None else str(result.get("msg") or "the module returned no facts")
        instances.append({"label": label or connection_label(connection), "connection": connection,
                          "facts": facts, "error": error})
    return instances
