# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""How a module reaches one PostgreSQL instance, and what it says when it cannot: the connection options
(CONNECTION_SPEC) checked into one connection (resolve_connection), the secrets kept out of every message
(secrets_of, redact) and libpq/psql/docker errors turned into a reason code and a clean line (classify_error).
Pure functions; shared by hostcare.vps.pg_settings_facts and hostcare.vps.postgresql_settings.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._units import OptionError

METHODS = ("local_socket", "tcp", "docker")
REDACTED = "********"
_CONTAINER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
_OS_USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")

CONNECTION_SPEC = {
    "method": {"type": "str", "choices": ["auto", "local_socket", "tcp", "docker"], "default": "auto"},
    "os_user": {"type": "str", "default": "postgres"},
    "socket_dir": {"type": "path"},
    "host": {"type": "str"},
    "port": {"type": "raw", "default": 5432},
    "user": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "dbname": {"type": "str", "default": "postgres"},
    "uri": {"type": "str", "no_log": True},
    "container": {"type": "str"},
    "docker_user": {"type": "str", "default": "postgres"},
    "timeout": {"type": "raw", "default": 10},
}
"""The options that reach one PostgreSQL instance (resolve_connection), shared by every module that connects."""


def split_uri_password(uri):
    """(uri without its password, the password or None) for a postgresql:// URI.

    The password is taken out of the user info and out of a password= query parameter, so the rest of the
    URI may be shown (psql argv) while the password travels in PGPASSWORD.
    """
    scheme, separator, rest = uri.partition("://")
    if not separator or scheme not in ("postgresql", "postgres"):
        raise OptionError("uri: must start with postgresql:// or postgres://")
    location, _question, query = rest.partition("?")
    authority, slash, path = location.partition("/")
    password = None
    user_info, at, hosts = authority.rpartition("@")
    if at:
        user, colon, encoded_password = user_info.partition(":")
        if colon:
            password = unquote(encoded_password)
        authority = f"{user}@{hosts}" if user else hosts
    parameters = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "password":
            password = value
        else:
            parameters.append((key, value))
    stripped = f"{scheme}://{authority}" + (f"/{path}" if slash else "")
    if parameters:
        stripped += "?" + urlencode(parameters, quote_via=quote)
    return stripped, password


def resolve_connection(params):
    """The module parameters checked and turned into a connection dict for gather_postgres_facts().

    method auto becomes docker when a container is named, tcp when a host or URI is given, else local_socket.
    Raise OptionError (naming the option) for values that cannot work.
    """
    port = _validate.port("port", params["port"])
    # libpq's connect_timeout is whole seconds.
    timeout = _validate.number("timeout", params["timeout"], minimum=1, maximum=_validate.MAX_TIMEOUT_SECONDS, integer=True,
                               unit="seconds")
    if params["uri"] is not None and params["host"] is not None:
        raise OptionError("uri and host cannot be used together: the URI names the server")
    if params["uri"] is not None and params["user"] is not None:
        raise OptionError("uri and user cannot be used together: the URI names the user")
    method = params["method"]
    if method == "auto":
        if params["container"] is not None:
            method = "docker"
        elif params["host"] is not None or params["uri"] is not None:
            method = "tcp"
        else:
            method = "local_socket"
    if method not in METHODS:
        raise OptionError(f"method: must be one of auto, {', '.join(METHODS)}, got {method!r}")
    if method == "docker" and params["container"] is None:
        raise OptionError("container: required with method=docker")
    if method != "docker" and params["container"] is not None:
        raise OptionError(f"container: only used with method=docker, not with method={method}")
    if method == "tcp" and params["host"] is None and params["uri"] is None:
        raise OptionError("host or uri: one of them is required with method=tcp")
    if method == "local_socket" and (params["host"] is not None or params["uri"] is not None):
        raise OptionError("host and uri: not used with method=local_socket (set socket_dir for a socket directory)")
    if method == "tcp" and params["socket_dir"] is not None:
        raise OptionError("socket_dir: not used with method=tcp")
    if params["socket_dir"] is not None and params["host"] is not None:
        raise OptionError("socket_dir and host cannot be used together")
    if params["socket_dir"] is not None:
        _validate.absolute_path("socket_dir", params["socket_dir"], written=False)
    if params["container"] is not None and not _CONTAINER_RE.match(params["container"]):
        raise OptionError(f"container: {params['container']!r} is not a container name or id")
    if not _USER_RE.match(params["docker_user"]):
        raise OptionError(f"docker_user: {params['docker_user']!r} is not a user name or uid[:gid]")
    if not _OS_USER_RE.match(params["os_user"]):
        raise OptionError(f"os_user: {params['os_user']!r} is not a user name")
    for option in ("dbname", "user", "host"):
        if params[option] is not None and (not params[option] or "\0" in params[option]):
            raise OptionError(f"{option}: must be a non-empty string without NUL characters")
    for option in ("password", "uri"):  # secrets: the value is not repeated
        if params[option] is not None and "\0" in params[option]:
            raise OptionError(f"{option}: must not contain NUL characters")

    uri, password = None, params["password"]
    if params["uri"] is not None:
        uri, uri_password = split_uri_password(params["uri"])
        password = uri_password if uri_password is not None else password
    return {
        "method": method,
        "os_user": params["os_user"],
        "socket_dir": params["socket_dir"],
        "host": params["host"],
        "port": port,
        "user": params["user"] if params["user"] is not None or method != "local_socket" else params["os_user"],
        "password": password or None,
        "dbname": params["dbname"],
        "uri": uri,
        "container": params["container"],
        "docker_user": params["docker_user"],
        "timeout": timeout,
    }


def secrets_of(connection):
    """The strings no result may contain: the password, plain and URL-encoded."""
    password = connection["password"]
    return list(dict.fromkeys([password, quote(password, safe="")])) if password else []


def redact(text, secrets):
    """`text` with every secret and anything shaped like a password (password=..., user:pass@) masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1" + REDACTED, text, flags=re.IGNORECASE)
    return re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]+@", r"\1" + REDACTED + "@", text)


# (reason_code, pattern of the lowercased message, summary); the first match wins, so specific ones come first.
_ERROR_KINDS = (
    ("auth_failed", r"authentication failed", "authentication failed"),
    ("password_missing", r"no password supplied|password is required",
     "the server wants a password and none was given"),
    ("no_hba_entry", r"no pg_hba\.conf entry", "pg_hba.conf does not allow this connection"),
    ("database_missing", r'database "[^"]*" does not exist', "the database does not exist"),
    ("role_missing", r'role "[^"]*" does not exist', "the role does not exist"),
    ("too_many_connections", r"too many clients|remaining connection slots are reserved",
     "PostgreSQL has no free connection slot"),
    ("not_ready", r"the database system is (starting up|shutting down|in recovery mode|not yet accepting)",
     "PostgreSQL is not accepting connections yet"),
    ("pooler", r"unsupported startup parameter", "this is a connection pooler: connect to PostgreSQL itself"),
    ("timeout", r"timeout expired|canceling statement due to statement timeout|timed out",
     "PostgreSQL did not answer in time"),
    ("host_unknown", r"could not translate host name|name or service not known|temporary failure in name resolution",
     "the host name does not resolve"),
    ("container_missing", r"no such container", "the container does not exist"),
    ("container_stopped", r"container [0-9a-f]+ is not running|is restarting", "the container is not running"),
    ("docker_denied", r"permission denied while trying to connect to the docker", "no access to the Docker daemon"),
    ("docker_down", r"cannot connect to the docker daemon", "the Docker daemon is not running"),
    ("docker_user_missing", r"unable to find user|no matching entries in passwd",
     "docker_user does not exist in the container"),
    ("psql_missing", r"executable file not found|psql: not found",
     "psql is not installed where it has to run"),
    ("not_running", r"no such file or directory|connection refused|is the server running|could not connect",
     "PostgreSQL is not running or not listening there"),
    ("ssl", r"\bssl\b", "the SSL negotiation failed"),
    ("permission_denied", r"permission denied|must be superuser|insufficient privilege", "permission denied"),
)
_MESSAGE_PREFIXES = re.compile(
    r"^(psql: error: |psql: |connection failed: |connection is bad: |error response from daemon: |fatal: +|error: +)+",
    re.IGNORECASE)


def clean_message(message):
    """One line from a psql/psycopg/docker error text: prefixes like "psql: error:" and "FATAL:" dropped."""
    lines = []
    for line in (message or "").splitlines():
        line = _MESSAGE_PREFIXES.sub("", line.strip())
        line = re.sub(r"(failed: )(FATAL|ERROR): +", r"\1", line)
        if line and line not in lines:
            lines.append(line)
    return re.sub(r"\s+", " ", " ".join(lines)).strip()[:400]


def classify_error(message, secrets=()):
    """(reason_code, reason) for an error text from psql, psycopg or docker; secrets are masked in the reason."""
    detail = redact(clean_message(message), secrets)
    lowered = detail.lower()
    for code, pattern, summary in _ERROR_KINDS:
        if re.search(pattern, lowered):
            return code, f"{summary}: {detail}" if detail else summary
    return "error", detail or "the PostgreSQL client failed without a message"
