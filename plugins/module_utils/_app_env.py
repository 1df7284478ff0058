# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The few environment variables the audit reads to discover the apps' pools, and nothing else.

Only the names of APP_VARIABLES are ever kept: every parser here drops any other variable before it returns, and
DATABASE_URL is returned only as its parts without the password (nor any query parameter but ``pool``). Pure
functions, no I/O.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import parse_qs, unquote, urlsplit

NUMBER_VARIABLES = ("WEB_CONCURRENCY", "RAILS_MAX_THREADS", "RAILS_MIN_THREADS", "DB_POOL", "DATABASE_POOL",
                    "SIDEKIQ_CONCURRENCY")
"""Whole numbers the apps read (Puma workers and threads, the DB pool, Sidekiq's concurrency)."""
APP_VARIABLES = NUMBER_VARIABLES + ("DATABASE_URL",)
"""The only variables ever read; any other one is dropped where it is parsed."""
MAX_NUMBER = 100000
_NAME_RE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def database_url(text):
    """The parts of a DATABASE_URL without its password: {scheme, user, host, port, dbname, pool, url} (url
    rebuilt from the kept parts), or {error} when it cannot be read. The password and every query parameter but
    ``pool`` are dropped."""
    try:
        parts = urlsplit(str(text).strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return {"error": "DATABASE_URL is not a URL the audit can read"}
    if not parts.scheme or not parts.scheme.startswith("postgres"):
        return {"error": "DATABASE_URL is not a postgres:// URL"}
    query = parse_qs(parts.query)
    pool = _whole_number((query.get("pool") or [None])[0])
    if not host and query.get("host"):
        host = query["host"][0]
    user = unquote(parts.username) if parts.username else None
    dbname = unquote(parts.path.lstrip("/")) or None
    url = f"{parts.scheme}://{user + '@' if user else ''}{host or ''}{':' + str(port) if port else ''}/{dbname or ''}"
    if pool is not None:
        url += f"?pool={pool}"
    return {"scheme": parts.scheme, "user": user, "host": host, "port": port, "dbname": dbname, "pool": pool,
            "url": url}


def _whole_number(value):
    if value is None:
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_NUMBER:
        return None
    return int(text)


def app_variables(pairs):
    """{name: value} of the APP_VARIABLES among ``pairs`` (name, raw value): numbers as int (a value that is no
    whole number is reported as None with ``invalid``), DATABASE_URL as database_url()'s parts. Any other name is
    dropped."""
    result = {}
    for name, value in pairs:
        if name not in APP_VARIABLES:
            continue
        if name == "DATABASE_URL":
            result[name] = database_url(value)
        else:
            number = _whole_number(value)
            result[name] = number if number is not None else {"invalid": True}
    return result


def env_list_variables(env):
    """Docker's Config.Env (["NAME=value", ...]) -> app_variables()."""
    pairs = []
    for item in env or []:
        if isinstance(item, str) and "=" in item:
            name, _sep, value = item.partition("=")
            pairs.append((name, value))
    return app_variables(pairs)


def _unquote_value(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.split(" #")[0].strip()


def env_file_variables(text):
    """A .env or EnvironmentFile= text (NAME=value lines, ``export`` allowed, quotes stripped) -> app_variables()."""
    pairs = []
    for line in (text or "").splitlines():
        match = _NAME_RE.match(line.strip())
        if match:
            pairs.append((match.group(1), _unquote_value(match.group(2))))
    return app_variables(pairs)


def systemd_environment_variables(value):
    """The value of ``systemctl show -p Environment`` (space-separated NAME=value, shell-quoted when they hold
    spaces) -> app_variables()."""
    try:
        words = shlex.split(value or "")
    except ValueError:
        words = (value or "").split()
    pairs = [tuple(word.split("=", 1)) for word in words if "=" in word]
    return app_variables(pairs)


def systemd_environment_files(value):
    """The paths of ``systemctl show -p EnvironmentFiles`` ("/etc/app.env (ignore_errors=no)", one line per file)."""
    paths = []
    for match in re.finditer(r"(-?/\S+) \(ignore_errors=(?:yes|no)\)", value or ""):
        paths.append(match.group(1).lstrip("-"))
    return paths
