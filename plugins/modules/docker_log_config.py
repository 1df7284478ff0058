#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_log_config
short_description: Merge Docker's default log driver and log size limits into daemon.json, keeping every other key
version_added: 0.1.0
description:
  - Sets C(log-driver) and the C(max-size), C(max-file) and C(compress) C(log-opts) in Docker's C(daemon.json),
    keeping every other key, and their order, as they were. The file stays valid JSON; a file that is not valid
    JSON is refused and left alone.
  - Never restarts dockerd. Docker applies C(log-opts) only to containers created after the daemon has re-read
    the file (a restart); running containers keep their log settings until they are re-created.
  - Reports the running containers whose log file has no size limit (asks the daemon over its unix socket; when
    the daemon is not running the list is empty and RV(containers_checked) is V(false)).
author:
  - hostcare.vps contributors (@hostcare)
options:
  path:
    description:
      - Docker's daemon configuration file.
    type: path
    default: /etc/docker/daemon.json
  log_driver:
    description:
      - The default log driver, V(json-file) or V(local) (both keep the log on this host, with the limits below).
    type: str
    choices: [json-file, local]
    default: json-file
  max_size:
    description:
      - Size of one log file before Docker rotates it (V(10m), V(50m), V(1g)).
    type: str
    default: 10m
  max_file:
    description:
      - How many log files Docker keeps per container.
    type: int
    default: 3
  compress:
    description:
      - Compress rotated container logs.
    type: bool
    default: true
  socket:
    description:
      - Docker's API socket, to list the containers without a log limit.
    type: path
    default: /var/run/docker.sock
attributes:
  check_mode:
    support: full
    description: Reports the change and the uncapped containers, changes nothing.
  diff_mode:
    support: full
    description: Shows daemon.json before and after.
notes:
  - Unknown keys in C(daemon.json) are kept as they are; so are other C(log-opts) (labels, tag, env).
"""

EXAMPLES = r"""
- name: Cap the logs of new containers at 3 x 10 MB
  hostcare.vps.docker_log_config:
    max_size: 10m
    max_file: 3
  register: docker_logs

- name: Show the running containers that still have no limit
  ansible.builtin.debug:
    var: docker_logs.uncapped_containers
"""

RETURN = r"""
path:
  description: The daemon configuration file.
  returned: always
  type: str
  sample: /etc/docker/daemon.json
content:
  description: The file's content after the merge.
  returned: always
  type: str
uncapped_containers:
  description: Names of running containers whose log has no size limit (re-create them to apply the new default).
  returned: always
  type: list
  elements: str
  sample: [legacy-app]
containers_checked:
  description: Whether the daemon answered, so that RV(uncapped_containers) is meaningful.
  returned: always
  type: bool
containers_error:
  description: Why the containers could not be listed, when RV(containers_checked) is V(false).
  returned: always
  type: str
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerClient, DockerUnavailable
from ansible_collections.hostcare.vps.plugins.module_utils._files import read_text, write_atomically
from ansible_collections.hostcare.vps.plugins.module_utils._logrotate import (
    DaemonJsonError,
    docker_log_opts,
    merge_daemon_json,
    uncapped_containers,
)


def read_containers(socket_path):
    """(inspections of the running containers, error) from the daemon."""
    client = DockerClient(socket_path, timeout=30.0)
    try:
        client.check_socket()
        containers = client.get("/containers/json")
        inspections = [client.get(f"/containers/{item['Id']}/json", ignore_status=(404,)) for item in containers]
        return [inspect for inspect in inspections if inspect is not None], None  # 404: removed meanwhile
    except DockerUnavailable as exc:
        return [], str(exc)
    finally:
        client.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/etc/docker/daemon.json"),
            log_driver=dict(type="str", choices=["json-file", "local"], default="json-file"),
            max_size=dict(type="str", default="10m"),
            max_file=dict(type="int", default=3),
            compress=dict(type="bool", default=True),
            socket=dict(type="path", default="/var/run/docker.sock"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        before = read_text(path)
        opts = docker_log_opts(module.params["max_size"], module.params["max_file"], module.params["compress"])
        after, changed = merge_daemon_json(before, module.params["log_driver"], opts)
    except DaemonJsonError as exc:
        module.fail_json(msg=f"hostcare.vps.logrotate: {path}: {exc}. Nothing was changed.")
    except OSError as exc:
        module.fail_json(msg=f"hostcare.vps.logrotate: cannot read {path}: {exc}. Nothing was changed.")

    if changed and not module.check_mode:
        write_atomically(path, after, move=module.atomic_move)

    inspections, error = read_containers(module.params["socket"])
    module.exit_json(
        changed=changed, path=path, content=after,
        uncapped_containers=uncapped_containers(inspections),
        containers_checked=error is None, containers_error=error or "",
        diff={"before_header": path, "after_header": path, "before": before or "", "after": after} if changed else {},
    )


if __name__ == "__main__":
    main()
