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
    keeping every other key, and their order, as they were. The file stays valid JSON; a file that is not UTF-8,
    not valid JSON or not a JSON object is refused and left alone, in check mode too.
  - Values dockerd would refuse are refused first, so that dockerd never starts with a configuration that breaks
    every new container. When the installed dockerd has C(--validate) (Docker 23 and later), the merged file is
    also checked with C(dockerd --validate --config-file) before it is written (RV(dockerd_validated)).
  - Never restarts dockerd. Docker applies C(log-opts) only to containers created after the daemon has re-read
    the file (a restart); running containers keep their log settings until they are re-created.
  - Reports the running containers whose log file has no size limit (asks the daemon over its unix socket; when
    the daemon is not running the list is empty and RV(containers_checked) is V(false)).
author:
  - hostcare.vps contributors (@hostcare)
options:
  path:
    description:
      - Docker's daemon configuration file, an absolute path.
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
      - Size of one log file before Docker rotates it (V(10m), V(50m), V(1g)), a whole number and V(k), V(m) or
        V(g), which dockerd reads as 10^3, 10^6 and 10^9 bytes.
      - At most V(1000000g) (10^15 bytes). dockerd itself accepts a larger value at start, then overflows and refuses
        every new container.
    type: str
    default: 10m
  max_file:
    description:
      - How many log files Docker keeps per container, a whole number from V(1) to V(1000). V(1) needs
        O(compress=false).
    type: raw
    default: 3
  compress:
    description:
      - Compress rotated container logs.
    type: bool
    default: true
extends_documentation_fragment:
  - hostcare.vps.docker
attributes:
  check_mode:
    support: full
    description: Reports the change and the uncapped containers, changes nothing.
  diff_mode:
    support: full
    description: Shows daemon.json before and after.
notes:
  - Unknown keys in C(daemon.json) are kept as they are; so are other C(log-opts) (labels, tag, env).
  - The Docker connection (O(socket_path), O(timeout)) only serves to list the running containers without a log
    limit.
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
dockerd_validated:
  description:
    - Whether C(dockerd --validate) checked the merged file. V(false) when nothing changed, or when dockerd is not
      installed or predates C(--validate) (Docker 23); the values were checked against dockerd's limits all the same.
  returned: always
  type: bool
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils import _validate
from ansible_collections.hostcare.vps.plugins.module_utils._docker import (
    CONNECTION_SPEC,
    DockerClient,
    DockerUnavailable,
    connection_options,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_daemon_config import (
    DaemonJsonError,
    decode_daemon_json,
    docker_log_opts,
    dockerd_validate,
    merge_daemon_json,
    uncapped_containers,
)
from ansible_collections.hostcare.vps.plugins.module_utils._files import write_atomically

ARGUMENT_SPEC = dict({
    "path": {"type": "path", "default": "/etc/docker/daemon.json"},
    "log_driver": {"type": "str", "choices": ["json-file", "local"], "default": "json-file"},
    "max_size": {"type": "str", "default": "10m"},
    "max_file": {"type": "raw", "default": 3},  # checked by docker_log_opts(), 1 to 1000
    "compress": {"type": "bool", "default": True},
}, **CONNECTION_SPEC)


def read_containers(socket_path, timeout):
    """(inspections of the running containers, error) from the daemon."""
    client = DockerClient(socket_path, timeout)
    try:
        client.check_socket()
        containers = client.get("/containers/json")
        inspections = [client.get(f"/containers/{item['Id']}/json", ignore_status=(404,)) for item in containers]
        return [inspect for inspect in inspections if inspect is not None], None  # 404: removed meanwhile
    except DockerUnavailable as exc:
        return [], str(exc)
    finally:
        client.close()


def read_bytes(path):
    """The file's bytes, None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        path = _validate.absolute_path("path", params["path"])
        socket_path, timeout = connection_options(params)
        opts = docker_log_opts(params["max_size"], params["max_file"], params["compress"])
    except (_validate.OptionError, DaemonJsonError) as exc:
        module.fail_json(msg=f"hostcare.vps.docker_log_config: {exc}. Nothing was changed.")
    try:
        before = decode_daemon_json(read_bytes(path))
        after, changed = merge_daemon_json(before, params["log_driver"], opts)
    except DaemonJsonError as exc:
        module.fail_json(msg=f"hostcare.vps.docker_log_config: {path}: {exc}. Nothing was changed.")
    except OSError as exc:
        module.fail_json(msg=f"hostcare.vps.docker_log_config: cannot read {path}: {exc}. Nothing was changed.")

    validated, refusal = dockerd_validate(after) if changed else (False, None)
    if refusal:
        module.fail_json(msg=f"hostcare.vps.docker_log_config: dockerd --validate refuses the merged {path}: {refusal}. "
                             "Nothing was changed.", content=after)
    if changed and not module.check_mode:
        write_atomically(path, after, move=module.atomic_move)

    inspections, error = read_containers(socket_path, timeout)
    module.exit_json(
        changed=changed, path=path, content=after,
        uncapped_containers=uncapped_containers(inspections),
        containers_checked=error is None, containers_error=error or "", dockerd_validated=validated,
        diff={"before_header": path, "after_header": path, "before": before or "", "after": after} if changed else {},
    )


if __name__ == "__main__":
    main()
