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
    gracefully, records the release in C(O(state_dir)/<app>.json), waits O(drain_seconds) for in-flight requests
    and stops the old colour (kept, with its image, for rollback).
  - Every option is checked before anything happens (and before Docker is asked); a bad value fails naming the
    option, the value and what is allowed, and nothing changes.
  - The swap is one transaction. A failure at any step up to recording the release puts back everything begun, in
    reverse order, and says so - the new container is removed (a kept one stopped again), the include the state
    file names is written back and nginx reloaded with it if it had been reloaded - so nginx always serves what
    the state file names. If the new container never becomes healthy the module fails with its last log lines;
    if C(nginx -t) fails nginx is not reloaded. A kept rollback container is never removed before its
    replacement is live and recorded.
  - Once the release is recorded, a failure while draining, stopping the old colour or removing left-overs leaves
    the new release live and recorded; the next run finishes the work.
  - One time budget, O(time_budget), bounds every wait of a run (Docker calls, health checks, nginx commands,
    the drain); putting back a failed run may take up to two minutes more.
  - Deploying the image that is already live, with the same settings, changes nothing when the host matches the
    state file. Otherwise (an include that does not point at the live release, a kept release running, a
    container of the app that the state does not name) it repairs that, reloading nginx only when it rewrites the
    include, and reports changed.
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
      - Name of the app. It names the containers (C(<app>-<colour>-<image id>-<settings digest>)) and the state
        file.
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
    description: The port the app listens on inside the container, 1 to 65535.
    type: raw
    required: true
  blue_port:
    description: Host port of the blue colour, 1 to 65535. Changing a port or O(bind_address) deploys a new container.
    type: raw
    default: 8001
  green_port:
    description: Host port of the green colour, 1 to 65535, not O(blue_port).
    type: raw
    default: 8002
  bind_address:
    description:
      - Host IP address the colours are published on; loopback keeps them reachable through nginx only.
        V(0.0.0.0) or V(::) publish on every address (the module then checks health on loopback).
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
      - Extra fields of the Engine API container create body, merged into it, for example
        C(HostConfig.Memory) in bytes or C(HostConfig.CpuShares). Labels are merged; the module's labels win.
      - Each field is checked against the Engine API type before anything happens (a string where Docker wants a
        number, an unknown or misspelt field are refused, naming the key path such as
        C(docker_options.HostConfig.Memory)). The accepted fields are listed in the role's README.
      - Fields the module sets itself are refused with the option to use instead (C(Image), C(Env), C(Cmd),
        C(NetworkingConfig), C(HostConfig.Binds), C(HostConfig.PortBindings), C(HostConfig.NetworkMode),
        C(HostConfig.RestartPolicy)), and so are C(HostConfig.AutoRemove) (Docker would delete the kept rollback
        container), C(HostConfig.PublishAllPorts) and C(NetworkDisabled).
    type: dict
    default: {}
  health_check:
    description:
      - How the new colour is judged healthy before traffic moves to it, a dict of the keys below; anything else
        (a string, a number, an unknown key) is refused.
    type: raw
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
        description: Path of the health endpoint, starting with C(/), printable ASCII without spaces.
        type: str
        default: /up
      status:
        description: The HTTP status a healthy app answers, 100 to 599.
        type: raw
        default: 200
      interval:
        description: Seconds between two checks, more than 0 and at most 300.
        type: raw
        default: 1
      timeout:
        description: Seconds one HTTP check may take, more than 0 and at most 300.
        type: raw
        default: 5
      retries:
        description:
          - Consecutive failed checks, after O(health_check.start_period), that make the release fail; 1 to 1000.
        type: raw
        default: 3
      start_period:
        description:
          - Seconds the app has to boot, 0 to 3600; failed checks do not count during it (an exit still does).
        type: raw
        default: 30
  upstream_file:
    description:
      - The nginx include holding the C(upstream) block; it must be included in nginx's C(http) context.
      - An absolute, normalised path, not under C(/proc), C(/sys) or C(/dev).
    type: path
    required: true
  upstream_name:
    description:
      - Name of the C(upstream) block (C(proxy_pass http://<name>;)), 1 to 128 letters, digits, C(.), C(_), C(-).
        Defaults to O(app).
    type: str
  nginx_keepalive:
    description:
      - Idle keep-alive connections to the app kept per nginx worker (C(keepalive)), 0 to 10000; V(0) leaves it out.
    type: raw
    default: 16
  nginx_test_command:
    description: Command that checks nginx's whole configuration (a program and its arguments, not empty).
    type: list
    elements: str
    default: [nginx, -t]
  nginx_reload_command:
    description:
      - Command that reloads nginx gracefully (C([systemctl, reload, nginx]) on systemd hosts also works); a program
        and its arguments, not empty.
    type: list
    elements: str
    default: [nginx, -s, reload]
  drain_seconds:
    description:
      - Seconds between the reload and stopping the old colour, so nginx's old workers finish their in-flight
        requests. Make it longer than your slowest request. 0 to 600.
    type: raw
    default: 30
  stop_timeout:
    description: Seconds Docker gives the old container to stop before it kills it, 0 to 600.
    type: raw
    default: 10
  keep_releases:
    description:
      - Previous releases kept (stopped containers and their images) for rollback, besides the live one; 0 to 100.
    type: raw
    default: 3
  time_budget:
    description:
      - Seconds the whole run may take, more than 0 and at most 3600. Every wait (Docker calls, health checks,
        nginx commands, the drain) stops at it; a run that reaches it before the release is recorded is put back.
      - It must hold O(health_check.start_period) + O(drain_seconds) + O(stop_timeout) + 10 s.
    type: raw
    default: 900
  state_dir:
    description:
      - Directory of the state files (C(<app>.json)), read by C(hostcare.vps.docker_cleanup). An absolute path.
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
  sample: {colour: green, container: myapp-green-0123456789ab-5f2c9e01, image: "myapp:2.4.1", image_id: "sha256:0123...",
           deployed_at: "2026-11-23T12:00:00Z"}
previous:
  description: The release that was live before the run; null on the first deploy.
  returned: always
  type: dict
reason:
  description: What the run did or would do, in words.
  returned: always
  type: str
  sample: create a green container myapp-green-0123456789ab-5f2c9e01 of myapp:2.4.1
removed:
  description: Releases beyond O(keep_releases) whose container was (in check mode, would be) removed.
  returned: always
  type: list
  elements: dict
strays_removed:
  description:
    - Containers of the app that the state file does not name (replaced by the same image with other settings,
      or left by an interrupted run) that were (in check mode, would be) removed.
  returned: always
  type: list
  elements: str
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

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen import BlueGreenError
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_docker import DeployLock
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_inputs import HEALTH_SPEC, checked_options
from ansible_collections.hostcare.vps.plugins.module_utils._bluegreen_run import ReleaseFailed, ReleaseRun
from ansible_collections.hostcare.vps.plugins.module_utils._docker import CONNECTION_SPEC, DockerClient, DockerUnavailable

# Numbers are raw and checked (converted) by checked_options() with _validate: ansible-core's int check crashes on
# inf and its int and float checks read Unicode digits. health_check is raw too: ansible-core crashes on a dict
# option with sub-options given a number; checked_options() applies HEALTH_SPEC's defaults and checks each key.
ARGUMENT_SPEC = {
    "app": {"type": "str", "required": True},
    "action": {"type": "str", "choices": ["deploy", "rollback"], "default": "deploy"},
    "image": {"type": "str"},
    "rollback_to": {"type": "str"},
    "container_port": {"type": "raw", "required": True},
    "blue_port": {"type": "raw", "default": 8001},
    "green_port": {"type": "raw", "default": 8002},
    "bind_address": {"type": "str", "default": "127.0.0.1"},
    "env": {"type": "dict", "default": {}, "no_log": True},
    "env_files": {"type": "list", "elements": "path", "default": []},
    "volumes": {"type": "list", "elements": "str", "default": []},
    "networks": {"type": "list", "elements": "str", "default": []},
    "command": {"type": "list", "elements": "str"},
    "restart_policy": {"type": "str", "choices": ["no", "always", "unless-stopped", "on-failure"],
                       "default": "unless-stopped"},
    "docker_options": {"type": "dict", "default": {}},
    "health_check": {"type": "raw", "default": {}, "options": HEALTH_SPEC},
    "upstream_file": {"type": "path", "required": True},
    "upstream_name": {"type": "str"},
    "nginx_keepalive": {"type": "raw", "default": 16},
    "nginx_test_command": {"type": "list", "elements": "str", "default": ["nginx", "-t"]},
    "nginx_reload_command": {"type": "list", "elements": "str", "default": ["nginx", "-s", "reload"]},
    "drain_seconds": {"type": "raw", "default": 30},
    "stop_timeout": {"type": "raw", "default": 10},
    "keep_releases": {"type": "raw", "default": 3},
    "time_budget": {"type": "raw", "default": 900},
    "state_dir": {"type": "path", "default": "/var/lib/hostcare/bluegreen"},
    **CONNECTION_SPEC,
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["upstream_name"] is None:
        module.params["upstream_name"] = module.params["app"]
    params, errors = checked_options(module.params)  # every option, before the first side effect and connecting
    if errors:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {'; '.join(errors)}. Nothing was changed.")
    state_file = os.path.join(params["state_dir"], f"{params['app']}.json")
    client = DockerClient(params["socket_path"], params["timeout"])
    release = ReleaseRun(params, client, state_file, check_mode=module.check_mode, diff=module._diff)
    try:
        if module.check_mode:
            result = release.run()
        else:
            with DeployLock(params["state_dir"], params["app"]):
                result = release.run()
    except ReleaseFailed as error:  # what the run left is in the message
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {error}", **error.extra)
    except BlueGreenError as error:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {error}", state_file=state_file)
    except DockerUnavailable as error:
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: Docker: {error} (asked through socket_path "
                             f"{params['socket_path']}). Nothing was changed.",
                         state_file=state_file)
    except UnicodeDecodeError as error:  # every file is read before anything changes
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: an env file, the state file or the nginx include is "
                             f"not UTF-8 text ({error}). Nothing was changed.", state_file=state_file)
    except OSError as error:  # the state dir or lock file cannot be created, say
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {error}. Nothing was changed.", state_file=state_file)
    except Exception as error:  # pylint: disable=broad-except  # before any change (changes are undone inside)
        module.fail_json(msg=f"hostcare.vps.bluegreen_release: {type(error).__name__}: {error}. Nothing was changed.",
                         state_file=state_file)
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
