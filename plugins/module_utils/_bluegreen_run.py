# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this module util is PRIVATE to the hostcare.vps collection.
"""A blue-green deploy or rollback carried out as one transaction, within one time budget.

The steps, in order: read (state, env files, include), connect, inspect, stop_port_holders, create, start, health,
write_include, nginx_test, nginx_reload, write_state. Each change registers how to put it back before it is made;
a failure at any of them puts back every change begun, in reverse order: the new container is removed (a kept one
stopped again), the include the state names is written back and nginx reloaded with it when it had been reloaded.
Writing the state file commits: from then on nginx serves what the state names. After it come drain,
stop_previous and remove_strays; a failure there leaves the committed release and is finished by the next run,
which also repairs drift when the release is already live (include, running containers, strays).

`STEP_HOOK` is the seam for tests: a callable run with each step's name before the step; whatever it raises is
that step failing. Runs on the target's python3 (3.9+), standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import (
    BlueGreenError,
    Deadline,
    container_spec,
    create_body,
    describe_drift,
    drift,
    load_state,
    next_state,
    plan_release,
    probe_address,
    render_upstream,
    rfc3339,
    short_id,
    spec_digest,
    strays,
)
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_docker import BlueGreenDocker
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_inputs import TIME_BUDGET_MARGIN, parse_env_file
from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerAPIError, DockerUnavailable
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text, write_atomically

STEP_HOOK = None
UNDO_GRACE_SECONDS = 120
"""Putting back a failed run may take this long beyond time_budget (stop, remove, rewrite, reload)."""
NGINX_COMMAND_SECONDS = 60


class ReleaseFailed(Exception):
    """The run failed; the message says why and what it left. `extra` goes into the module's result."""

    def __init__(self, message, **extra):
        super().__init__(message)
        self.extra = extra


class StepFailed(Exception):
    """A step failed; `about_new`: the message's subject is the new container. `tail` ends the message."""

    def __init__(self, message, about_new=False, tail="", **extra):
        super().__init__(message)
        self.about_new = about_new
        self.tail = tail
        self.extra = extra


def describe(error):
    """An exception in words, naming what failed."""
    if isinstance(error, (StepFailed, BlueGreenError)):
        return str(error)
    if isinstance(error, DockerUnavailable):
        return f"Docker: {error}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return f"{type(error).__name__}: {error}"


class Undo:
    """What to put back, newest first. Each action returns a phrase saying what it did (or None)."""

    def __init__(self):
        self.actions = []

    def push(self, what, action):
        self.actions.append((what, action))

    def run(self):
        phrases = []
        for what, action in reversed(self.actions):
            try:
                phrase = action()
            except Exception as error:  # pylint: disable=broad-except  # report it, and undo the rest
                phrase = f"{what} could not be put back ({describe(error)})"
            if phrase:
                phrases.append(phrase)
        return phrases


def run_command(argv, timeout):
    """None when `argv` succeeds within `timeout`, else what went wrong."""
    command = " ".join(argv)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)
    except OSError as error:
        return f"{command} could not run: {error.strerror or error}"
    except subprocess.TimeoutExpired:
        return f"{command} did not finish within {timeout:g} s"
    if done.returncode == 0:
        return None
    output = (done.stderr or done.stdout).strip()
    return f"{command} failed (rc {done.returncode})" + (f": {output}" if output else "")


def read_env(params):
    env = {}
    for path in params["env_files"]:
        text = read_text(path)
        if text is None:
            raise BlueGreenError(f"env_files: {path} does not exist. Nothing was changed.")
        env.update(parse_env_file(text, path))
    env.update({str(key): "" if value is None else str(value) for key, value in params["env"].items()})
    return env


def json_text(state):
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


class ReleaseRun:
    """One deploy, rollback or repair of an app, from options checked by _bluegreen_inputs.option_errors."""

    def __init__(self, params, client, state_file, check_mode=False, diff=False):
        self.params = params
        self.client = client
        self.state_file = state_file
        self.check_mode = check_mode
        self.diff = diff
        self.deadline = Deadline(params["time_budget"])
        self.docker = BlueGreenDocker(client, self.deadline)
        self.app = params["app"]
        self.address = probe_address(params["bind_address"])
        self.ports = {"blue": params["blue_port"], "green": params["green_port"]}
        self.served_new = False  # nginx was reloaded onto the new colour by a run being put back

    def step(self, name, timed=True):
        if timed:
            self.deadline.check(name.replace("_", " "))
        if STEP_HOOK is not None:
            STEP_HOOK(name)

    def render(self, release):
        return render_upstream(self.app, self.params["upstream_name"], self.address, self.ports[release["colour"]],
                               self.params["nginx_keepalive"], release)

    def nginx(self, key):
        return run_command(self.params[key], self.deadline.cap(NGINX_COMMAND_SECONDS))

    # --- the run ----------------------------------------------------------------------------------------------

    def run(self):
        params = self.params
        started = time.monotonic()
        self.step("read")
        state = load_state(read_text(self.state_file), self.state_file, self.app)
        env = read_env(params)
        old_text = read_text(params["upstream_file"])
        self.step("connect")
        self.client.connect("bluegreen_release")
        self.step("inspect")
        image_id = None
        if params["action"] == "deploy":
            image_id = self.docker.image_id(params["image"])
            if image_id is None:
                raise BlueGreenError(f"image {params['image']} is not on this host: build, load or pull it first. "
                                     "Nothing was changed.")
        containers = self.docker.app_containers(self.app)
        spec = container_spec(params, env)
        plan = plan_release(self.app, params["action"], state, containers, params["image"], image_id,
                            lambda wanted: spec_digest(spec, wanted), params["rollback_to"])
        new_text = self.render(plan["release"])
        result = {"changed": False, "action": params["action"], "colour": plan["colour"], "release": plan["release"],
                  "previous": plan["previous"], "reason": plan["reason"], "removed": [], "strays_removed": [],
                  "images_kept": [], "state_file": self.state_file}
        if self.diff:
            result["diff"] = {"before_header": params["upstream_file"], "before": old_text or "",
                              "after_header": params["upstream_file"], "after": new_text}
        if plan["noop"]:
            return self.repair(state, containers, old_text, new_text, result)

        release = dict(plan["release"], deployed_at=rfc3339(time.time()))
        new_state, removed = next_state(state, release, params["keep_releases"])
        leftovers = strays(containers, new_state)
        retired = [entry["container"] for entry in removed]
        result.update(changed=True, removed=removed, strays_removed=[name for name in leftovers if name not in retired])
        if self.check_mode:
            return result

        timings = self.transact(plan, spec, old_text, new_text, new_state)
        result["images_kept"] = self.finish(plan, removed, leftovers, new_state, timings)
        result["release"] = release
        result["timings"] = {"healthy": round(timings["healthy"] - started, 2),
                             "switch": round(timings["switch"] - timings["healthy"], 2),
                             "drain": round(timings["drain"], 2), "total": round(time.monotonic() - started, 2)}
        return result

    def transact(self, plan, spec, old_text, new_text, new_state):
        """Start, check, switch and record the new release; on any failure put back everything begun."""
        params, new = self.params, plan["container"]
        undo = Undo()
        timings = {}
        try:
            self.step("stop_port_holders")
            for name in plan["stop_first"]:
                self.docker.stop(name, params["stop_timeout"])
            undo.push(new, lambda: self.discard_new(plan))
            if not plan["start_existing"]:
                self.step("create")
                self.docker.create(new, create_body(self.app, plan["colour"], plan["release"]["image_id"], spec,
                                                    spec_digest(spec, plan["release"]["image_id"])),
                                   spec["networks"])
            self.step("start")
            self.start_new(plan)
            self.step("health")
            self.wait_healthy(plan)
            timings["healthy"] = time.monotonic()
            # Put back: no file where there was none; else the include the state names (old_text when none is live).
            restore_text = None if old_text is None else self.render(plan["previous"]) if plan["previous"] else old_text
            self.switch(undo, old_text, new_text, restore_text)
            timings["switch"] = time.monotonic()
            self.step("write_state")
            write_atomically(self.state_file, json_text(new_state))
        except Exception as error:  # pylint: disable=broad-except  # whatever failed, put back what began
            self.deadline.extend(UNDO_GRACE_SECONDS)
            phrases = undo.run()
            raise ReleaseFailed(self.failure_message(error, phrases, plan), state_file=self.state_file,
                                **getattr(error, "extra", {})) from None
        return timings

    def failure_message(self, error, phrases, plan):
        new, previous = plan["container"], plan["previous"]
        about_new = getattr(error, "about_new", False)
        if about_new:
            phrases = [f"It {phrase[len(new) + 1:]}" if phrase.startswith(new + " ") else phrase for phrase in phrases]
        undone = ", ".join(phrases) or "Nothing was started"
        undone = undone[0].upper() + undone[1:]
        if previous and plan["previous_running"]:
            serving = f"{previous['container']} ({previous['image']}) keeps serving"
        else:
            serving = "nothing was serving before" if not previous else f"{previous['container']} was not running before"
        return f"{describe(error)}. {undone}; {serving}.{getattr(error, 'tail', '')}"

    def discard_new(self, plan):
        """Undo the start of the new colour: a kept release is stopped again, a new container removed. When nginx
        had been reloaded onto it, its old workers get drain_seconds to finish their requests first."""
        if self.served_new:
            time.sleep(self.params["drain_seconds"])
        if plan["start_existing"]:
            self.docker.stop(plan["container"], self.params["stop_timeout"])
            return f"{plan['container']} was stopped again"
        self.docker.remove(plan["container"], force=True)
        return f"{plan['container']} was removed"

    def last_logs(self, name):
        try:
            return self.docker.logs(name).splitlines()[-20:]
        except DockerUnavailable as error:
            return [f"(could not read the logs: {error})"]

    def start_new(self, plan):
        try:
            self.docker.start(plan["container"])
        except DockerUnavailable as error:
            raise StepFailed(f"{plan['container']} did not start: {error}", about_new=True,
                             logs=self.last_logs(plan["container"])) from None

    def wait_healthy(self, plan):
        params, new = self.params, plan["container"]
        # Keep what the switch, the drain and the stop of the old colour need out of the health check's share.
        reserve = (params["drain_seconds"] if plan["previous_running"] else 0) + params["stop_timeout"] + TIME_BUDGET_MARGIN
        try:
            healthy, problem = self.docker.wait_healthy(new, params["health_check"], self.address,
                                                        self.ports[plan["colour"]], until=self.deadline.at - reserve)
        except DockerUnavailable as error:
            healthy, problem = False, f"Docker: {error}"
        if not healthy:
            logs = self.last_logs(new)
            raise StepFailed(f"{new} ({plan['release']['image']}) did not become healthy: {problem}", about_new=True,
                             tail=f" Its last log lines: {' | '.join(logs[-5:]) or '(none)'}", logs=logs)

    def switch(self, undo, old_text, new_text, restore_text):
        """Write the include, nginx -t, reload. Registered first: put `restore_text` back (None: remove the include)
        and reload again when a reload was tried."""
        path = self.params["upstream_file"]
        touched = {"written": False, "reloaded": False}

        def put_back():
            if not (touched["written"] or touched["reloaded"]):
                return None
            if restore_text is None:
                if os.path.exists(path):
                    os.unlink(path)
                phrase = f"the new {path} was removed again"
            else:
                write_atomically(path, restore_text)
                phrase = f"the previous {path} was put back"
            if not touched["reloaded"]:
                return phrase + ", nginx was not reloaded"
            self.served_new = True
            error = self.nginx("nginx_reload_command")
            return phrase + (", nginx was reloaded with it again" if error is None else f", reloading nginx failed: {error}")

        undo.push(path, put_back)
        if old_text != new_text:
            self.step("write_include")
            touched["written"] = True
            write_atomically(path, new_text)
        self.step("nginx_test")
        error = self.nginx("nginx_test_command")
        if error is None:
            self.step("nginx_reload")
            touched["reloaded"] = True
            error = self.nginx("nginx_reload_command")
        if error is not None:
            raise StepFailed(error)

    def finish(self, plan, removed, leftovers, new_state, timings):
        """After the commit: drain, stop the old colour, remove what the state no longer names."""
        params, release = self.params, plan["release"]
        drain_started = time.monotonic()
        try:
            self.step("drain", timed=False)
            if plan["previous_running"]:
                time.sleep(max(0.0, min(params["drain_seconds"], self.deadline.remaining())))
            timings["drain"] = time.monotonic() - drain_started
            self.deadline.extend(params["stop_timeout"] + UNDO_GRACE_SECONDS)  # the bookkeeping must be completed
            self.step("stop_previous", timed=False)
            if plan["previous"]:
                self.docker.stop(plan["previous"]["container"], params["stop_timeout"])
            self.step("remove_strays", timed=False)
            return self.retire(removed, leftovers, new_state)
        except Exception as error:  # pylint: disable=broad-except  # the release stands: say what is left
            raise ReleaseFailed(
                f"{release['container']} ({release['image']}) is live: nginx serves it and {self.state_file} records "
                f"it, but finishing failed: {describe(error)}. Run the same deploy again to finish: it stops and "
                "removes what is left over.", changed=True, state_file=self.state_file) from None

    def retire(self, removed, leftovers, new_state):
        """Remove the containers the state no longer names, then the images of retired releases nothing uses."""
        images_kept = []
        kept_ids = {entry["image_id"] for entry in new_state["releases"]}
        image_of = {entry["container"]: entry["image_id"] for entry in removed}
        for name in leftovers:
            try:
                self.docker.remove(name)
            except DockerAPIError as error:  # running again by hand, say: leave it and its image alone
                images_kept.append(f"{name} not removed: {error}")
                if name in image_of:
                    kept_ids.add(image_of[name])
        for image_id in dict.fromkeys(entry["image_id"] for entry in removed):
            if image_id in kept_ids:
                continue
            why = self.docker.remove_image(image_id)
            if why:
                images_kept.append(f"{short_id(image_id)}: {why}")
        return images_kept

    def repair(self, state, containers, old_text, new_text, result):
        """The release is already live: make the include, nginx and the containers match the state."""
        found = drift(state, containers, old_text, new_text)
        if not any(found.values()):
            result.pop("diff", None)
            return result
        result.update(changed=True, reason=f"{result['reason']}; repair: {describe_drift(found, self.params['upstream_file'])}")
        if not found["include"]:
            result.pop("diff", None)
        if self.check_mode:
            return result
        live = state["live"]
        if found["include"]:
            undo = Undo()
            try:
                self.switch(undo, old_text, new_text, old_text)
            except Exception as error:  # pylint: disable=broad-except  # put the include back as it was
                self.deadline.extend(UNDO_GRACE_SECONDS)
                phrases = undo.run()
                raise ReleaseFailed(f"{describe(error)}. {', '.join(phrases) or 'Nothing was changed'}; the include "
                                    f"was not repaired and {live['container']} keeps running.",
                                    state_file=self.state_file) from None
        try:
            self.step("stop_strays")
            for name in found["stop"]:
                self.docker.stop(name, self.params["stop_timeout"])
            self.step("remove_strays")
            for name in found["remove"]:
                self.docker.remove(name)
        except Exception as error:  # pylint: disable=broad-except
            raise ReleaseFailed(f"{live['container']} is live and nginx serves it, but the repair failed: "
                                f"{describe(error)}. Run it again.", changed=True, state_file=self.state_file) from None
        result["strays_removed"] = found["remove"]
        return result
