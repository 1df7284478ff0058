# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""The I/O of a blue-green release: its Engine API calls, the HTTP health probe and the per-app lock.

Every call and wait is capped by the run's one Deadline (_bluegreen.Deadline). Runs on the target's python3 (3.9+),
standard library only.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import time
import urllib.parse

from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import (
    LABEL_APP,
    BlueGreenError,
    HealthWatch,
    demux_logs,
    docker_health_probe,
    parse_app_containers,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerAPIError


def probe_http(address, port, path, expected_status, timeout):
    """(ok, problem) of one GET of the health path."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Connection": "close", "User-Agent": "hostcare.vps.bluegreen"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as error:
        return False, f"GET http://{address}:{port}{path}: {getattr(error, 'strerror', None) or error or type(error).__name__}"
    finally:
        connection.close()
    if status != expected_status:
        return False, f"GET http://{address}:{port}{path} answered {status}, expected {expected_status}"
    return True, None


class DeployLock:
    """An exclusive, non-blocking flock on <state_dir>/<app>.lock: one deploy or rollback of an app at a time."""

    def __init__(self, state_dir, app):
        self.path = os.path.join(state_dir, f"{app}.lock")
        self.handle = None

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), mode=0o755, exist_ok=True)
        self.handle = open(self.path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise BlueGreenError(f"another deploy or rollback holds {self.path}; wait for it to finish. "
                                 "Nothing was changed.") from None
        return self

    def __exit__(self, *exc_info):
        self.handle.close()  # closing releases the lock


class BlueGreenDocker:
    """The Engine API calls of a blue-green release, over a DockerClient whose API version is negotiated.
    Each call waits at most the client's timeout and never past `deadline`."""

    def __init__(self, client, deadline):
        self.client = client
        self.deadline = deadline

    def _call(self, method, path, body=None, seconds=None, **options):
        timeout = self.deadline.cap(self.client.timeout if seconds is None else seconds)
        return self.client.request(method, path, body=body, timeout=timeout, **options)

    def image_id(self, reference):
        """The id of a local image, None when the daemon does not have it."""
        image = self._call("GET", f"/images/{urllib.parse.quote(reference, safe='')}/json", ignore_status=(404,))
        return image["Id"] if image else None

    def app_containers(self, app):
        filters = json.dumps({"label": [f"{LABEL_APP}={app}"]})
        return parse_app_containers(self._call("GET", f"/containers/json?all=1&filters={urllib.parse.quote(filters)}"))

    def inspect(self, name):
        return self._call("GET", f"/containers/{urllib.parse.quote(name)}/json")

    def create(self, name, body, networks):
        created = self._call("POST", f"/containers/create?name={urllib.parse.quote(name)}", body=body)
        for network in networks[1:]:
            self._call("POST", f"/networks/{urllib.parse.quote(network)}/connect", body={"Container": created["Id"]})
        return created["Id"]

    def start(self, name):
        self._call("POST", f"/containers/{urllib.parse.quote(name)}/start", ignore_status=(304,))

    def stop(self, name, timeout):
        self._call("POST", f"/containers/{urllib.parse.quote(name)}/stop?t={int(timeout)}", seconds=timeout + 30,
                   ignore_status=(304, 404))  # already stopped, or gone

    def remove(self, name, force=False):
        """Remove a container; only our own new, failed container is removed running (force)."""
        self._call("DELETE", f"/containers/{urllib.parse.quote(name)}?force={int(force)}", ignore_status=(404,))

    def remove_image(self, image_id):
        """Delete an image no container uses; never forced. Returns None, or why it stays."""
        try:
            self._call("DELETE", f"/images/{urllib.parse.quote(image_id)}", seconds=120)
        except DockerAPIError as error:
            if error.status == 404:
                return None
            return str(error)
        return None

    def logs(self, name, lines=20):
        raw = self._call("GET", f"/containers/{urllib.parse.quote(name)}/logs?stdout=1&stderr=1&tail={lines}",
                         expect_json=False)
        return demux_logs(raw or b"")

    def wait_healthy(self, name, health, address, port, until, sleep=time.sleep, clock=time.monotonic):
        """Poll until healthy, failed, or the clock reaches `until`; (True, None) or (False, the last problem)."""
        watch = HealthWatch(health["start_period"], health["retries"])
        started = clock()
        while True:
            state = self.inspect(name).get("State") or {}
            if health["type"] == "docker":
                ok, problem = docker_health_probe(state)
            elif state.get("Running"):
                probe_timeout = max(0.1, min(health["timeout"], until - clock()))
                ok, problem = probe_http(address, port, health["path"], health["status"], probe_timeout)
            else:
                ok, problem = False, None
            verdict = watch.record(clock() - started, state, ok, problem)
            if verdict == "healthy":
                return True, None
            if verdict == "failed":
                return False, watch.last_problem
            left = until - clock()
            if left <= 0:
                return False, (f"time_budget ran out after {clock() - started:.0f} s of health checks "
                               f"(last: {watch.last_problem or 'no answer yet'})")
            sleep(min(health["interval"], left))
