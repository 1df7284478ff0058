#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bluegreen_release
short_description: Deploy or roll back one container app behind nginx with a blue-green swap
version_added: 0.1.0
description:
  - Runs the app in one of two colours, V(blue) and V(green), each published on its own fixed port of
    O(bind_address). nginx reaches the live colour through an C(upstream) block that this module writes to
    O(upstream_file).
  - O(action=deploy) starts the image in the idle colour, waits until it is healthy (failing fast when it exits
    or Docker reports it unhealthy), writes the upstream include atomically, runs C(nginx -t) and reloads nginx
    gracefully, waits O(drain_seconds) for in-flight requests, stops the old colour (kept, with its image, for
    rollback) and records the release in C(O(state_dir)/<app>.json).
  - If the new container never becomes healthy it is removed, the old one keeps serving, and the module fails
    with the new container's last log lines. If C(nginx -t) fails the previous include is put back, nginx is not
    reloaded and the new container is removed.
  - Deploying the image that is already live, with the same settings, changes nothing.
  - O(action=rollback) switches back to the previous release (or O(rollback_to)) by starting its kept container,
    with the same health check, reload, drain and record.
  - Every container it creates carries the labels C(hostcare.bluegreen.app), C(hostcare.bluegreen.colour),
    C(hostcare.bluegreen.release) (image id), C(hostcare.bluegreen.config) and C(hostcare.keep=true), which the
    C(hostcare.vps.docker_cleanup) role honours. The O(keep_releases) newest previous releases are kept; older
    ones lose their container and, when nothing else uses it, their image.
  - Talks to the Docker Engine API over its unix socket with the standard library only.
author:
  - hostcare.vps contributors (@hostcare)
options:
  app:
    description:
      - Name of the app. It names the containers (C(<app>-<colour>-<image id>)) and the state file.
      - 1 to 63 lowercase letters, digits, C(.), C(_) or C(-).
    type: str
    required: true
  action:
    description:
      - V(deploy) swaps to O(image); V(rollback) swaps back to a kept release.
    type: str
    choices: [deploy, rollback]
    default: deploy
  image:
    description:
      - The image reference to deploy, already on the host (build, load or pull it first). Required for
        O(action=deploy).
    type: str
  rollback_to:
    description:
      - With O(action=rollback), the kept release to go back to, by image reference, image id or its first 12
        hex digits. When it is already live nothing changes.
      - Omitted, the newest kept release that is not live (so a second rollback undoes the first).
    type: str
  container_port:
    description: The port the app listens on inside the container.
    type: int
    required: true
  blue_port:
    description: Host port of the blue colour.
    type: int
    default: 8001
  green_port:
    description: Host port of the green colour.
    type: int
    default: 8002
  bind_address:
    description: Host address the colours are published on; loopback keeps them reachable through nginx only.
    type: str
    default: 127.0.0.1
  env:
    description: Environment variables of the container. They override those of O(env_files).
    type: dict
    default: {}
  env_files:
    description: Files on the host with C(KEY=VALUE) lines, read as C(docker run --env-file) does.
    type: list
    elements: path
    default: []
  volumes:
    description: Bind mounts and named volumes, as C(SOURCE:/container/path[:OPTIONS]).
    type: list
    elements: str
    default: []
  networks:
    description: Docker networks to attach the container to (they must exist); the first is its network mode.
    type: list
    elements: str
    default: []
  command:
    description: Command to run instead of the image's C(CMD).
    type: list
    elements: str
  restart_policy:
    description: Docker restart policy of the containers. Kept (stopped) releases stay stopped across reboots.
    type: str
    choices: ['no', always, unless-stopped, on-failure]
    default: unless-stopped
  docker_options:
    description:
      - Extra fields of the Engine API container create body, merged into it (for example
        C(HostConfig.Memory)). The module's labels and port binding win.
    type: dict
    default: {}
  health_check:
    description: How the new colour is judged healthy before traffic moves to it.
    type: dict
    default: {}
    suboptions:
      type:
        description:
          - V(http) sends C(GET) O(health_check.path) to the colour's port and wants O(health_check.status).
            Docker reporting the image's HEALTHCHECK unhealthy still fails at once.
          - V(docker) waits for the image's own Docker HEALTHCHECK to report healthy.
        type: str
        choices: [http, docker]
        default: http
      path:
        description: Path of the health endpoint.
        type: str
        default: /up
      status:
        description: The HTTP status a healthy app answers.
        type: int
        default: 200
      interval:
        description: Seconds between two checks.
        type: float
        default: 1
      timeout:
        description: Seconds one HTTP check may take.
        type: float
        default: 5
      retries:
        description: Consecutive failed checks, after O(health_check.start_period), that make the release fail.
        type: int
        default: 3
      start_period:
        description: Seconds the app has to boot; failed checks do not count during it (an exit still does).
        type: float
        default: 30
  upstream_file:
    description: The nginx include holding the C(upstream) block; it must be included in nginx's C(http) context.
    type: path
    required: true
  upstream_name:
    description: Name of the C(upstream) block (C(proxy_pass http://<name>;)). Defaults to O(app).
    type: str
  nginx_keepalive:
    description: Idle keep-alive connections to the app kept per nginx worker (C(keepalive)); V(0) leaves it out.
    type: int
    default: 16
  nginx_test_command:
    description: Command that checks nginx's whole configuration.
    type: list
    elements: str
    default: [nginx, -t]
  nginx_reload_command:
    description: Command that reloads nginx gracefully (C([systemctl, reload, nginx]) on systemd hosts also works).
    type: list
    elements: str
    default: [nginx, -s, reload]
  drain_seconds:
    description:
      - Seconds between the reload and stopping the old colour, so nginx's old workers finish their in-flight
        requests. Make it longer than your slowest request.
    type: float
    default: 30
  stop_timeout:
    description: Seconds Docker gives the old container to stop before it kills it.
    type: int
    default: 10
  keep_releases:
    description: Previous releases kept (stopped containers and their images) for rollback, besides the live one.
    type: int
    default: 3
  state_dir:
    description: Directory of the state files (C(<app>.json)), read by C(hostcare.vps.docker_cleanup).
    type: path
    default: /var/lib/hostcare/bluegreen
extends_documentation_fragment:
  - hostcare.vps.docker
attributes:
  check_mode:
    support: full
    description: Reads the state, the image and the containers and reports what would happen; changes nothing.
  diff_mode:
    support: full
    description: Shows the upstream include before and after.
notes:
  - Needs root (or the docker group and write access to O(upstream_file) and O(state_dir)) and a running nginx.
  - One deploy or rollback of an app runs at a time (a lock file, C(O(state_dir)/<app>.lock)); another one fails
    at once and changes nothing.
  - Only the live colour runs. Clients with idle keep-alive connections to nginx see them closed by the reload,
    as on any nginx reload; browsers and HTTP libraries retry such a request.
seealso:
  - name: Controlling nginx
    description: Why a graceful reload drops no request.
    link: https://nginx.org/en/docs/control.html
"""

EXAMPLES = r"""
- name: Deploy myapp:2.4.1 behind nginx
  hostcare.vps.bluegreen_release:
    app: myapp
    image: registry.example.com/myapp:2.4.1
    container_port: 3000
    env_files: [/etc/myapp/env]
    upstream_file: /etc/nginx/conf.d/myapp-upstream.conf
    drain_seconds: 20

- name: Roll back to the previous release
  hostcare.vps.bluegreen_release:
    app: myapp
    action: rollback
    container_port: 3000
    upstream_file: /etc/nginx/conf.d/myapp-upstream.conf
"""

RETURN = r"""
action:
  description: The requested action.
  returned: always
  type: str
  sample: deploy
colour:
  description: The live colour after the run (in check mode, the one that would be live).
  returned: always
  type: str
  sample: green
release:
  description: The live release after the run, as recorded in the state file (C(deployed_at) null in check mode).
  returned: always
  type: dict
  sample: {colour: green, container: myapp-green-0123456789ab, image: "myapp:2.4.1", image_id: "sha256:0123...",
           deployed_at: "2026-11-23T12:00:00Z"}
previous:
  description: The release that was live before the run; null on the first deploy.
  returned: always
  type: dict
reason:
  description: What the run did or would do, in words.
  returned: always
  type: str
  sample: create a green container myapp-green-0123456789ab of myapp:2.4.1
removed:
  description: Releases beyond O(keep_releases) whose container was (in check mode, would be) removed.
  returned: always
  type: list
  elements: dict
images_kept:
  description:
    - Containers and images of removed releases that stay, and why (another container uses the image, it has
      several tags, the container runs...).
  returned: always
  type: list
  elements: str
state_file:
  description: The state file.
  returned: always
  type: str
  sample: /var/lib/hostcare/bluegreen/myapp.json
timings:
  description: Seconds spent on the health check, the switch (write, test, reload), the drain and in total.
  returned: when something changed outside check mode
  type: dict
  sample: {healthy: 1.2, switch: 0.05, drain: 30.0, total: 31.6}
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import (
    BlueGreenDocker,
    BlueGreenError,
    DeployLock,
    container_spec,
    create_body,
    load_state,
    next_state,
    option_errors,
    parse_env_file,
    plan_release,
    probe_address,
    render_upstream,
    rfc3339,
    short_id,
    spec_digest,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker import (
    CONNECTION_SPEC,
    DockerAPIError,
    DockerClient,
    DockerUnavailable,
)
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text, write_atomically

HEALTH_SPEC = {
    "type": {"type": "str", "choices": ["http", "docker"], "default": "http"},
    "path": {"type": "str", "default": "/up"},
    "status": {"type": "int", "default": 200},
    "interval": {"type": "float", "default": 1},
    "timeout": {"type": "float", "default": 5},
    "retries": {"type": "int", "default": 3},
    "start_period": {"type": "float", "default": 30},
}

ARGUMENT_SPEC = {
    "app": {"type": "str", "required": True},
    "action": {"type": "str", "choices": ["deploy", "rollback"], "default": "deploy"},
    "image": {"type": "str"},
    "rollback_to": {"type": "str"},
    "container_port": {"type": "int", "required": True},
    "blue_port": {"type": "int", "default": 8001},
    "green_port": {"type": "int", "default": 8002},
    "bind_address": {"type": "str", "default": "127.0.0.1"},
    "env": {"type": "dict", "default": {}, "no_log": True},
    "env_files": {"type": "list", "elements": "path", "default": []},
    "volumes": {"type": "list", "elements": "str", "default": []},
    "networks": {"type": "list", "elements": "str", "default": []},
    "command": {"type": "list", "elements": "str"},
    "restart_policy": {"type": "str", "choices": ["no", "always", "unless-stopped", "on-failure"],
                       "default": "unless-stopped"},
    "docker_options": {"type": "dict", "default": {}},
    "health_check": {"type": "dict", "default": {}, "options": HEALTH_SPEC},
    "upstream_file": {"type": "path", "required": True},
    "upstream_name": {"type": "str"},
    "nginx_keepalive": {"type": "int", "default": 16},
    "nginx_test_command": {"type": "list", "elements": "str", "default": ["nginx", "-t"]},
    "nginx_reload_command": {"type": "list", "elements": "str", "default": ["nginx", "-s", "reload"]},
    "drain_seconds": {"type": "float", "default": 30},
    "stop_timeout": {"type": "int", "default": 10},
    "keep_releases": {"type": "int", "default": 3},
    "state_dir": {"type": "path", "default": "/var/lib/hostcare/bluegreen"},
    **CONNECTION_SPEC,
}


class Release:
    """Carries out a plan; every failure says what it left behind."""

    def __init__(self, module, docker):
        self.module = module
        self.params = module.params
        self.docker = docker
        self.app = self.params["app"]
        self.ports = {"blue": self.params["blue_port"], "green": self.params["green_port"]}
        self.address = probe_address(self.params["bind_address"])

    def fail(self, msg, **extra):
        self.module.fail_json(msg=f"hostcare.vps.bluegreen_release: {msg}", **extra)

    def run_nginx(self, argv):
        try:  # a missing binary must not skip putting the include back
            rc, out, err = self.module.run_command(argv, handle_exceptions=False)
        except OSError as error:
            return f"{' '.join(argv)} could not run: {error.strerror or error}"
        return None if rc == 0 else f"{' '.join(argv)} failed (rc {rc}): {(err or out).strip()}"

    def discard_new(self, plan):
        """Undo the start of the new colour: a kept release is stopped again, a new container removed."""
        if plan["start_existing"]:
            self.docker.stop(plan["container"], self.params["stop_timeout"])
        else:
            self.docker.remove(plan["container"], force=True)

    def start_new(self, plan, spec, digest):
        for name in plan["stop_first"]:
            self.docker.stop(name, self.params["stop_timeout"])
        if plan["remove_existing"]:  # same name, other settings: replaced (it is not live)
            self.docker.stop(plan["container"], self.params["stop_timeout"])
            self.docker.remove(plan["container"])
        if not plan["start_existing"]:
            body = create_body(self.app, plan["colour"], self.params["bind_address"], self.ports[plan["colour"]],
                               plan["release"]["image_id"], spec, digest)
            self.docker.create(plan["container"], body, spec["networks"])
        try:
            self.docker.start(plan["container"])
        except DockerUnavailable as error:
            logs = self.last_logs(plan["container"])
            self.discard_new(plan)
            self.fail(f"{plan['container']} did not start: {error}. It was {self.undone(plan)}; the live release "
                      "keeps serving.", logs=logs)

    def undone(self, plan):
        return "stopped again" if plan["start_existing"] else "removed"

    def last_logs(self, name):
        try:
            return self.docker.logs(name).splitlines()[-20:]
        except DockerUnavailable as error:
            return [f"(could not read the logs: {error})"]

    def switch(self, plan, old_text, new_text):
        """Write the include, nginx -t, reload; on failure put the old include back and discard the new colour."""
        path = self.params["upstream_file"]
        if old_text != new_text:
            try:
                write_atomically(path, new_text)
            except OSError as error:
                self.discard_new(plan)
                self.fail(f"could not write {path}: {error.strerror or error}. nginx was not touched and "
                          f"{plan['container']} was {self.undone(plan)}: the live release keeps serving.")
        error = self.run_nginx(self.params["nginx_test_command"])
        if error is None:
            error = self.run_nginx(self.params["nginx_reload_command"])
            step = "reload"
        else:
            step = "test"
        if error is None:
            return
        if old_text is None:
            os.unlink(path)
        elif old_text != new_text:
            write_atomically(path, old_text)
        self.discard_new(plan)
        restored = "removed again" if old_text is None else "put back"
        reloaded = "nginx was not reloaded" if step == "test" else "nginx keeps its running configuration"
        self.fail(f"{error}. The previous {path} was {restored}, {reloaded}, and {plan['container']} was "
                  f"{self.undone(plan)}: the live release keeps serving.")

    def retire(self, removed, kept_state):
        """Remove the containers of releases beyond retention, then their images when nothing else uses them."""
        images_kept = []
        kept_ids = {release["image_id"] for release in kept_state["releases"]}
        for release in removed:
            try:
                self.docker.remove(release["container"])
            except DockerAPIError as error:  # running again by hand, say: leave it and its image alone
                images_kept.append(f"{release['container']} not removed: {error}")
                kept_ids.add(release["image_id"])
        for image_id in dict.fromkeys(release["image_id"] for release in removed):
            if image_id in kept_ids:
                continue
            why = self.docker.remove_image(image_id)
            if why:
                images_kept.append(f"{short_id(image_id)}: {why}")
        return images_kept


def read_env(params):
    env = {}
    for path in params["env_files"]:
        text = read_text(path)
        if text is None:
            raise BlueGreenError(f"env_files: {path} does not exist. Nothing was changed.")
        env.update(parse_env_file(text, path))
    env.update({str(key): "" if value is None else str(value) for key, value in params["env"].items()})
    return env


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    params["upstream_name"] = params["upstream_name"] or params["app"]
    errors = option_errors(params)
    if errors:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {'; '.join(errors)}. Nothing was changed.")
    state_file = os.path.join(params["state_dir"], f"{params['app']}.json")
    client = DockerClient(params["socket_path"], params["timeout"])
    try:
        if module.check_mode:
            result = run(module, client, state_file)
        else:
            with DeployLock(params["state_dir"], params["app"]):
                result = run(module, client, state_file)
    except BlueGreenError as error:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {error}", state_file=state_file)
    except DockerUnavailable as error:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: Docker: {error}", state_file=state_file)
    except OSError as error:  # the state dir or lock file cannot be created, say
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {error}. Nothing was changed.", state_file=state_file)
    except UnicodeDecodeError as error:  # every file is read before anything changes
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: an env file, the state file or the nginx include is "
                             f"not UTF-8 text ({error}). Nothing was changed.", state_file=state_file)
    finally:
        client.close()
    module.exit_json(**result)


def run(module, client, state_file):
    params = module.params
    started = time.monotonic()
    state = load_state(read_text(state_file), state_file, params["app"])
    env = read_env(params)
    client.connect("bluegreen_release")
    docker = BlueGreenDocker(client)
    release_runner = Release(module, docker)

    image, image_id, digest = params["image"], None, None
    spec = container_spec(params, env)
    if params["action"] == "deploy":
        image_id = docker.image_id(image)
        if image_id is None:
            raise BlueGreenError(f"image {image} is not on this host: build, load or pull it first. Nothing was changed.")
        digest = spec_digest(spec, image_id)
    containers = docker.app_containers(params["app"])
    plan = plan_release(params["app"], params["action"], state, containers, image, image_id, digest,
                        params["rollback_to"])
    if digest is None and not plan["noop"]:
        digest = spec_digest(spec, plan["release"]["image_id"])  # a rollback that needs a new container

    upstream_path = params["upstream_file"]
    old_text = read_text(upstream_path)
    new_text = render_upstream(params["app"], params["upstream_name"], release_runner.address,
                               release_runner.ports[plan["colour"]], params["nginx_keepalive"], plan["release"])
    result = {"changed": False, "action": params["action"], "colour": plan["colour"], "release": plan["release"],
              "previous": plan["previous"], "reason": plan["reason"], "removed": [], "images_kept": [],
              "state_file": state_file}
    if plan["noop"]:
        return result

    release = dict(plan["release"], deployed_at=rfc3339(time.time()))
    new_state, removed = next_state(state, release, params["keep_releases"])
    result.update(changed=True, removed=removed)
    if module._diff:
        result["diff"] = {"before_header": upstream_path, "before": old_text or "",
                          "after_header": upstream_path, "after": new_text}
    if module.check_mode:
        return result

    release_runner.start_new(plan, spec, digest)
    try:
        healthy, problem = docker.wait_healthy(plan["container"], params["health_check"], release_runner.address,
                                               release_runner.ports[plan["colour"]])
    except DockerUnavailable as error:
        healthy, problem = False, f"Docker: {error}"
    healthy_at = time.monotonic()
    if not healthy:
        logs = release_runner.last_logs(plan["container"])
        release_runner.discard_new(plan)
        live = plan["previous"]
        serving = f"{live['container']} ({live['image']}) keeps serving" if live else "nothing was live before"
        release_runner.fail(
            f"{plan['container']} ({plan['release']['image']}) did not become healthy: {problem}. It was "
            f"{release_runner.undone(plan)}; {serving}. Its last log lines: {' | '.join(logs[-5:]) or '(none)'}",
            logs=logs, state_file=state_file)

    release_runner.switch(plan, old_text, new_text)
    switched_at = time.monotonic()
    previous = plan["previous"]
    if plan["previous_running"]:
        time.sleep(params["drain_seconds"])
    drained_at = time.monotonic()
    if previous:
        docker.stop(previous["container"], params["stop_timeout"])
    try:
        write_atomically(state_file, json_text(new_state))
    except OSError as error:
        release_runner.fail(f"nginx now serves {plan['container']}, but {state_file} could not be written "
                            f"({error.strerror or error}): fix it and deploy {plan['release']['image']} again "
                            "to record it.")
    result["images_kept"] = release_runner.retire(removed, new_state)
    result["release"] = release
    result["timings"] = {"healthy": round(healthy_at - started, 2), "switch": round(switched_at - healthy_at, 2),
                         "drain": round(drained_at - switched_at, 2), "total": round(time.monotonic() - started, 2)}
    return result


def json_text(state):
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    main()
