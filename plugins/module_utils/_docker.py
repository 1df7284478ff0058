# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The Docker Engine API client (HTTP over the daemon's unix socket) and the one connection contract of every
module that talks to Docker: CONNECTION_SPEC (documented by the doc fragment hostcare.vps.docker) and
connection_options(), which checks it before any connection.

The rest lives beside it: _docker_objects (parsing payloads, ImageReference), _docker_selection (what a cleanup
policy removes), _docker_facts (the hostcare_docker facts), _docker_cleanup (the cleanup's plan and removal),
_docker_daemon_config (daemon.json log options). Runs on the target's python3 (3.9+), standard library only:
no Docker SDK, no requests.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import stat
import time

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
# Re-exported: importers elsewhere (the audit, bluegreen, logrotate) name them from here.
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import (  # noqa: F401  pylint: disable=unused-import
    RUNNING_STATES,
    log_capped,
    repository_of,
)

DEFAULT_SOCKET = "/var/run/docker.sock"
DAEMON_JSON = "/etc/docker/daemon.json"
DEFAULT_TIMEOUT = 60
"""Seconds one Engine API request may take unless the task's timeout says otherwise."""

CONNECTION_SPEC = {
    # "socket" is what docker_log_config first called it; an alias in every module, so the contract stays one.
    "socket_path": {"type": "path", "default": DEFAULT_SOCKET, "aliases": ["socket"]},
    # raw, checked by connection_options(): ansible-core's float check reads Unicode digits ("١٢" -> 12.0).
    "timeout": {"type": "raw", "default": DEFAULT_TIMEOUT},
}
"""The argument spec of the Docker connection, the same in every module that talks to Docker (its DOCUMENTATION
extends the doc fragment hostcare.vps.docker): ``argument_spec=dict(MODULE_SPEC, **CONNECTION_SPEC)``."""

# unix://..., tcp://..., ssh://..., npipe://..., fd://: DOCKER_HOST syntax, which these modules do not speak.
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")

# API 1.52 turned /system/df into per-category summaries that list no items; 1.51 still lists them, and every
# daemon released so far accepts it (Docker 29.0-29.2 require 1.44 or newer, the others less).
NEWEST_KNOWN_API = (1, 51)
# /system/df appeared in API 1.25 (Docker 1.13).
OLDEST_SUPPORTED_API = (1, 25)


def connection_options(params):
    """(socket_path, timeout) from a module's params, checked before any connection.

    Raise _validate.OptionError naming the option: a socket path must be an absolute path, not a DOCKER_HOST URL;
    a timeout a number of seconds, 0 < t <= 3600.
    """
    socket_path = params["socket_path"]
    if isinstance(socket_path, str) and _URL_RE.match(socket_path):
        raise _validate.OptionError(
            f"socket_path: give the socket's path (such as {DEFAULT_SOCKET}), not a URL, got {socket_path!r}")
    socket_path = _validate.absolute_path("socket_path", socket_path, written=False)
    return socket_path, _validate.timeout("timeout", params["timeout"])


class DockerUnavailable(Exception):
    """Docker cannot be asked; `code` says why in one word (see the facts' reason_code), the message in words."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class DockerAPIError(DockerUnavailable):
    """The daemon answered with an HTTP error status."""

    def __init__(self, status, message):
        super().__init__("api_error", message)
        self.status = status


# Docker refuses a second prune (HTTP 409) and, before Docker 23, a second /system/df (HTTP 500) while one runs.
_BUSY_RE = re.compile(r"a (prune|disk usage) operation is already running", re.I)


def with_retry(call, attempts=5, first_delay=2.0, sleep=time.sleep, again="Run the cleanup again"):
    """call(), again after first_delay, twice that... while the daemon answers that another prune or disk usage
    operation is already running (a cron job, a monitoring agent's `docker system df`, another tool).

    Once the attempts are spent: raise DockerUnavailable("busy") with a clear message ending in ``again``, or, with
    ``again`` None, the daemon's own error.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except DockerAPIError as error:
            match = _BUSY_RE.search(str(error))
            if match is None or error.status not in (409, 500):
                raise
            if attempt == attempts:
                if again is None:
                    raise
                operation = match.group(1).lower()
                raise DockerUnavailable(
                    "busy", f"another {operation} kept the Docker daemon busy through {attempts} attempts "
                            f"(waited {first_delay * (2 ** (attempts - 1) - 1):g} s): {error}. {again} when the "
                            f"other {operation} (a cron job, another tool) has finished") from None
            sleep(delay)
            delay *= 2
    return None  # not reached


# --- Engine API client (the only network I/O) ------------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a unix socket."""

    def __init__(self, socket_path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def dockerd_path():
    """Where dockerd is on this host (PATH, then the usual places), None when it is not installed."""
    return shutil.which("dockerd") or next(
        (path for path in ("/usr/bin/dockerd", "/usr/sbin/dockerd", "/usr/local/bin/dockerd") if os.path.exists(path)),
        None)


def _dockerd_installed():
    return dockerd_path() is not None


class _DeadlinePassed(Exception):
    """The request's time budget is spent."""


class _ConnectionDropped(Exception):
    """The daemon closed the connection before answering."""


def _remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise _DeadlinePassed()
    return left


class DockerClient:
    """Engine API requests over the Docker daemon's unix socket, one keep-alive connection, each within `timeout`."""

    def __init__(self, socket_path=DEFAULT_SOCKET, timeout=DEFAULT_TIMEOUT):
        self.socket_path = socket_path
        self.timeout = timeout
        self.api_prefix = ""
        self._connection = None

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def check_socket(self):
        """Raise DockerUnavailable when the socket path is missing, not a socket, or cannot be looked at."""
        try:
            mode = os.stat(self.socket_path).st_mode
        except FileNotFoundError:
            if not _dockerd_installed():
                raise DockerUnavailable(
                    "not_installed", f"Docker is not installed: {self.socket_path} does not exist and there is no dockerd"
                ) from None
            raise DockerUnavailable(
                "no_socket", f"{self.socket_path} does not exist: the Docker daemon is not running"
            ) from None
        except PermissionError:
            raise DockerUnavailable("permission_denied", self._permission_message()) from None
        except OSError as error:
            raise DockerUnavailable("connection_error", f"cannot look at {self.socket_path}: {error.strerror}") from None
        if not stat.S_ISSOCK(mode):
            raise DockerUnavailable("not_a_socket", f"{self.socket_path} is not a unix socket")

    def _permission_message(self):
        return (f"permission denied on {self.socket_path}: run the task with become, "
                "or add the connecting user to the docker group")

    def use_api_version(self, version):
        """Prefix every later path with /vMAJOR.MINOR."""
        self.api_prefix = "/v%d.%d" % version

    def connect(self, caller="docker_bloat_facts"):
        """Check the socket, ask GET /version and use the API version both sides speak; return that answer."""
        self.check_socket()
        version = self.get("/version", versioned=False)
        self.use_api_version(negotiate_api_version(version, caller))
        return version

    def get(self, path, versioned=True, ignore_status=()):
        """GET `path` and return its decoded JSON body. Raise DockerUnavailable (DockerAPIError for HTTP errors)."""
        return self.request("GET", path, versioned=versioned, ignore_status=ignore_status)

    def request(self, method, path, body=None, versioned=True, timeout=None, expect_json=True, ignore_status=()):
        """Send `method path` (with `body` as JSON when given) and return the decoded JSON answer (None when empty,
        the raw bytes when `expect_json` is false). `timeout` overrides the client's for slow calls (prune, stop).
        An HTTP status in `ignore_status` (404: gone, 304: already so) returns None.
        Raise DockerUnavailable (DockerAPIError for HTTP errors, whose `status` tells 404/409 apart)."""
        url = (self.api_prefix if versioned else "") + path
        payload = None if body is None else json.dumps(body).encode("utf-8")
        reused = self._connection is not None
        try:
            status, answer = self._request_once(method, url, payload, timeout)
        except _ConnectionDropped:
            # The daemon may close an idle keep-alive connection. Only a GET is safe to send again.
            if not reused or method != "GET":
                raise DockerUnavailable("api_error", f"the Docker daemon closed the connection on {method} {url}") from None
            try:
                status, answer = self._request_once(method, url, payload, timeout)
            except _ConnectionDropped:
                raise DockerUnavailable("api_error", f"the Docker daemon closed the connection on {method} {url}") from None
        if status in ignore_status:
            return None
        if status >= 400:
            raise DockerAPIError(status, f"{method} {url}: HTTP {status}: {_error_message(answer)}")
        if not expect_json:
            return answer
        if not answer.strip():
            return None
        try:
            return json.loads(answer)
        except ValueError:
            raise DockerUnavailable(
                "api_error", f"{method} {url}: the answer is not JSON, is {self.socket_path} a Docker daemon?"
            ) from None

    def _request_once(self, method, url, payload, timeout):
        # Name the option only when the caller did not choose a longer limit for this call.
        limit_hint = " (option timeout)" if timeout is None else ""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        try:
            if self._connection is None:
                self._connection = UnixHTTPConnection(self.socket_path, self.timeout)
            connection = self._connection
            if connection.sock is None:
                connection.connect()
            sock = connection.sock
            sock.settimeout(_remaining(deadline))
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, url, body=payload, headers=headers)
            response = connection.getresponse()
            chunks = []
            while not response.isclosed():
                # read1: at most one recv, so a daemon trickling its answer cannot outlast the deadline.
                sock.settimeout(_remaining(deadline))
                chunk = response.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
            response.close()  # read1 leaves a fully read body open, which would block the next request
            return response.status, b"".join(chunks)
        except (socket.timeout, _DeadlinePassed):
            self.close()
            raise DockerUnavailable(
                "timeout",
                f"the Docker daemon at {self.socket_path} did not answer {method} {url} within {timeout:g} s{limit_hint}",
            ) from None
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.close()
            raise _ConnectionDropped() from None
        except PermissionError:
            self.close()
            raise DockerUnavailable("permission_denied", self._permission_message()) from None
        except ConnectionRefusedError:
            self.close()
            raise DockerUnavailable(
                "connection_refused", f"nothing listens on {self.socket_path}: the Docker daemon is not running"
            ) from None
        except FileNotFoundError:
            self.close()
            raise DockerUnavailable("no_socket", f"{self.socket_path} does not exist") from None
        except http.client.HTTPException as error:
            self.close()
            raise DockerUnavailable(
                "api_error",
                f"{method} {url}: not an HTTP answer ({type(error).__name__}), is {self.socket_path} a Docker daemon?",
            ) from None
        except OSError as error:
            self.close()
            raise DockerUnavailable(
                "connection_error", f"{method} {url} on {self.socket_path} failed: {error.strerror or error}"
            ) from None


def _error_message(body):
    """The daemon's {"message": ...} error text, else the body itself (shortened)."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    if not message:
        message = body.decode("utf-8", "replace").strip()[:200] or "(empty answer)"
    return message


# --- API version (pure) -------------------------------------------------------------------------------------

def parse_api_version(text):
    """"1.41" -> (1, 41); None when missing or malformed."""
    match = re.match(r"^(\d+)\.(\d+)$", str(text or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def negotiate_api_version(version_payload, caller="docker_bloat_facts"):
    """The API version to use with a daemon, from its GET /version answer: min(its newest, NEWEST_KNOWN_API).

    Raise DockerUnavailable("unsupported_api") when that is older than the daemon's minimum or than
    OLDEST_SUPPORTED_API.
    """
    server = parse_api_version(version_payload.get("ApiVersion"))
    if server is None:
        raise DockerUnavailable("unsupported_api", "the Docker daemon did not report its API version (GET /version)")
    minimum = parse_api_version(version_payload.get("MinAPIVersion")) or (1, 12)
    chosen = min(server, NEWEST_KNOWN_API)
    if chosen < OLDEST_SUPPORTED_API:
        raise DockerUnavailable(
            "unsupported_api",
            "the Docker daemon speaks API %d.%d; %s needs %d.%d or newer" % (server + (caller,) + OLDEST_SUPPORTED_API),
        )
    if chosen < minimum:
        raise DockerUnavailable(
            "unsupported_api",
            "the Docker daemon requires API %d.%d or newer; %s speaks up to %d.%d" % (minimum + (caller,) + NEWEST_KNOWN_API),
        )
    return chosen
