#!/usr/bin/python
# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_bloat_facts
short_description: Gather where Docker's disk space went and what a cleanup could reclaim
version_added: 0.1.0
description:
  - Asks the Docker daemon over its unix socket (Engine API, Python standard library only; no Docker SDK
    and no C(requests) on the target) and reports the daemon's storage and logging settings, every image
    with the containers using it, dangling images, images no container uses, tags beyond the newest
    O(keep) of each repository, stopped containers, volumes, build cache and the size of every container log.
  - Totals and reclaimable bytes per category are computed with the formulas of C(docker system df).
  - It only reports. Nothing is judged safe to delete; volumes in particular are listed, never selected.
  - The API version is negotiated, the smaller of the daemon's newest and the newest this module knows (1.51).
  - When Docker is not installed, not running, or the socket cannot be used, the facts say
    RV(ansible_facts.hostcare_docker.available=false) and why, and the task succeeds unless O(fail_on_unavailable=true).
  - Returns them as the C(hostcare_docker) fact. Sizes are in bytes; a value Docker does not give is V(null).
author:
  - hostcare.vps contributors (@hostcare)
options:
  keep:
    description:
      - How many of the newest images of each repository (by build time) count as current in
        RV(ansible_facts.hostcare_docker.old_tags); the tags of older images are listed there. A whole number
        from V(0) to V(1000000).
    type: raw
    default: 3
  fail_on_unavailable:
    description:
      - Fail the task when Docker cannot be asked, instead of returning RV(ansible_facts.hostcare_docker.available=false).
    type: bool
    default: false
  include_images_list:
    description:
      - Whether to return every image in RV(ansible_facts.hostcare_docker.images). With V(false) that key is
        V(null); the totals and the dangling, unused and old tag lists stay.
    type: bool
    default: true
extends_documentation_fragment:
  - hostcare.vps.docker
  - hostcare.vps._attributes.facts
notes:
  - A daemon that does not answer a request within O(timeout) makes the facts unavailable with
    RV(ansible_facts.hostcare_docker.reason_code=timeout). C(/system/df) measures every image, container and
    volume, which takes a while on a busy host.
  - Linux only. Needs access to the socket (root or the C(docker) group). Container logs are readable by root
    only; without C(become) their sizes are V(null) with the reason in RV(ansible_facts.hostcare_docker.containers[].log.error).
  - The daemon-wide log options come from C(/etc/docker/daemon.json); options given to C(dockerd) on its command
    line are not seen.
  - C(/system/df) is the expensive call, as for C(docker system df) (it measures every layer, container and volume).
seealso:
  - name: docker system df
    description: The command whose totals and reclaimable figures these facts reproduce.
    link: https://docs.docker.com/reference/cli/docker/system/df/
  - name: JSON File logging driver
    description: The C(max-size) and C(max-file) options that cap container logs.
    link: https://docs.docker.com/engine/logging/drivers/json-file/
"""

EXAMPLES = r"""
- name: Gather Docker disk usage facts
  hostcare.vps.docker_bloat_facts:
  become: true

- name: Show what docker system df calls reclaimable in images
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.hostcare_docker.totals.images.reclaimable_bytes | ansible.builtin.human_readable }}
      of {{ ansible_facts.hostcare_docker.totals.images.size_bytes | ansible.builtin.human_readable }}
  when: ansible_facts.hostcare_docker.available

- name: List the containers whose log grows without limit
  ansible.builtin.debug:
    msg: "{{ ansible_facts.hostcare_docker.containers | selectattr('log') | rejectattr('log.capped') | map(attribute='name') }}"
  when: ansible_facts.hostcare_docker.available

- name: Keep the two newest images of each repository, report older tags
  hostcare.vps.docker_bloat_facts:
    keep: 2
    include_images_list: false
    timeout: 60
  become: true

- name: Fail when Docker is expected but does not answer
  hostcare.vps.docker_bloat_facts:
    fail_on_unavailable: true
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to C(ansible_facts).
  returned: always
  type: dict
  contains:
    hostcare_docker:
      description: Docker disk usage facts of the target. Every key but C(available), C(reason_code) and C(reason) is V(null) when Docker is not available.
      returned: always
      type: dict
      contains:
        available:
          description: Whether the Docker daemon could be asked.
          returned: always
          type: bool
          sample: true
        reason_code:
          description: Why not, in one word; V(null) when available.
          returned: always
          type: str
          choices: [not_installed, no_socket, not_a_socket, permission_denied, connection_refused, connection_error, timeout, api_error, unsupported_api]
          sample: permission_denied
        reason:
          description: Why not, in words; V(null) when available.
          returned: always
          type: str
          sample: "permission denied on /var/run/docker.sock: run the task with become, or add the connecting user to the docker group"
        daemon:
          description: The daemon and its storage and logging settings.
          returned: when available
          type: dict
          contains:
            version:
              description: Docker Engine version.
              returned: always
              type: str
              sample: 20.10.24+dfsg1
            api_version:
              description: The API version used, the smaller of RV(ansible_facts.hostcare_docker.daemon.max_api_version) and 1.51.
              returned: always
              type: str
              sample: "1.41"
            max_api_version:
              description: The daemon's newest API version.
              returned: always
              type: str
              sample: "1.41"
            min_api_version:
              description: The daemon's oldest API version.
              returned: always
              type: str
              sample: "1.12"
            storage_driver:
              description: Storage driver.
              returned: always
              type: str
              sample: overlay2
            root_dir:
              description: Docker's root directory, where images, containers, volumes and logs are.
              returned: always
              type: str
              sample: /var/lib/docker
            log_driver:
              description: Default log driver of new containers.
              returned: always
              type: str
              sample: json-file
            log_opts:
              description:
                - Default log options of new containers (C(log-opts) of C(/etc/docker/daemon.json)); V({}) without
                  the file. V(null) when the file is unreadable or invalid.
              returned: always
              type: dict
              sample: {max-size: 10m, max-file: "3"}
            log_opts_source:
              description: V(daemon.json) (read), V(absent) (no file, Docker's defaults), V(unreadable) or V(invalid).
              returned: always
              type: str
              choices: [daemon.json, absent, unreadable, invalid]
              sample: absent
        totals:
          description: Per category, with the formulas of C(docker system df).
          returned: when available
          type: dict
          contains:
            images:
              description: Images.
              returned: always
              type: dict
              contains:
                count:
                  description: How many.
                  returned: always
                  type: int
                  sample: 9
                active:
                  description: Images used by a container, running or stopped.
                  returned: always
                  type: int
                  sample: 3
                size_bytes:
                  description: Every layer once (C(LayersSize)).
                  returned: always
                  type: int
                  sample: 174081892
                reclaimable_bytes:
                  description:
                    - C(size_bytes) minus the unique size of the active images, as C(docker system df) prints it.
                    - It includes the layers that active images share, which removing images does not free; see C(unused_bytes).
                  returned: always
                  type: int
                  sample: 173911892
                unused_bytes:
                  description: Unique size of the images no container uses, what removing them all frees at least.
                  returned: always
                  type: int
                  sample: 270000
                dangling_bytes:
                  description: Sum of RV(ansible_facts.hostcare_docker.dangling_images).
                  returned: always
                  type: int
                  sample: 70000
                old_tags_bytes:
                  description: Sum of RV(ansible_facts.hostcare_docker.old_tags).
                  returned: always
                  type: int
                  sample: 20000
            containers:
              description: Containers.
              returned: always
              type: dict
              contains:
                count:
                  description: How many.
                  returned: always
                  type: int
                  sample: 3
                active:
                  description: Containers running, paused or restarting.
                  returned: always
                  type: int
                  sample: 1
                size_bytes:
                  description: Their writable layers.
                  returned: always
                  type: int
                  sample: 10000
                reclaimable_bytes:
                  description: The writable layers of the containers not active.
                  returned: always
                  type: int
                  sample: 10000
            volumes:
              description: Volumes. Reported only, this collection never removes volumes.
              returned: always
              type: dict
              contains:
                count:
                  description: How many.
                  returned: always
                  type: int
                  sample: 3
                active:
                  description: Volumes mounted by a container, running or stopped.
                  returned: always
                  type: int
                  sample: 2
                size_bytes:
                  description: Their sizes, where the daemon measures them.
                  returned: always
                  type: int
                  sample: 135000
                reclaimable_bytes:
                  description: The sizes of the volumes not active.
                  returned: always
                  type: int
                  sample: 100000
            build_cache:
              description: BuildKit build cache records.
              returned: always
              type: dict
              contains:
                count:
                  description: How many.
                  returned: always
                  type: int
                  sample: 4
                active:
                  description: Records in use.
                  returned: always
                  type: int
                  sample: 0
                size_bytes:
                  description: Records not shared with images.
                  returned: always
                  type: int
                  sample: 83
                reclaimable_bytes:
                  description: The size of the records not in use.
                  returned: always
                  type: int
                  sample: 83
            logs:
              description: Container log files on this host.
              returned: always
              type: dict
              contains:
                count:
                  description: Containers with a log file here.
                  returned: always
                  type: int
                  sample: 2
                size_bytes:
                  description: Disk usage of the readable ones, rotated files included.
                  returned: always
                  type: int
                  sample: 32768
                unreadable:
                  description: Logs whose size is unknown (run the task with C(become)).
                  returned: always
                  type: int
                  sample: 0
                uncapped:
                  description: Containers whose log has no size limit (see C(containers[].log.capped)).
                  returned: always
                  type: int
                  sample: 1
        images:
          description: Every top-level image, newest first; V(null) with O(include_images_list=false).
          returned: when available
          type: list
          elements: dict
          contains:
            id:
              description: Image ID.
              returned: always
              type: str
              sample: sha256:9c8849a4908b3ec082af81fc997dbf63e3c94e4d9063a7920dc6ebfdf960355c
            repo_tags:
              description: Its tags, V([]) when dangling.
              returned: always
              type: list
              elements: str
              sample: [app:v3]
            repo_digests:
              description: Its registry digests.
              returned: always
              type: list
              elements: str
              sample: []
            created:
              description: When it was built (unix seconds); not when it was pulled.
              returned: always
              type: int
              sample: 1795422523
            size_bytes:
              description: Size with all its layers.
              returned: always
              type: int
              sample: 173691892
            shared_size_bytes:
              description: Size of its layers that other images use too; V(null) when the daemon does not say.
              returned: always
              type: int
              sample: 173641892
            unique_size_bytes:
              description: C(size_bytes) minus C(shared_size_bytes), what deleting it frees; V(null) when unknown.
              returned: always
              type: int
              sample: 50000
            labels:
              description: Its labels.
              returned: always
              type: dict
              sample: {}
            dangling:
              description: Whether it has no tag.
              returned: always
              type: bool
              sample: false
            running_containers:
              description: Names of the running (also paused, restarting) containers using it.
              returned: always
              type: list
              elements: str
              sample: [web]
            stopped_containers:
              description: Names of the other containers using it (created, exited, dead).
              returned: always
              type: list
              elements: str
              sample: []
        dangling_images:
          description: Images without a tag that no container uses, as the cleanup selection reports them.
          returned: when available
          type: list
          elements: dict
          contains:
            kind:
              description: Always V(image), delete the image.
              returned: always
              type: str
              choices: [image]
              sample: image
            id:
              description: Image ID.
              returned: always
              type: str
              sample: "sha256:bd1c0d7f8958c207ccf683a23cf220f3cc8cdc53849894eb99693a0fc6e3ff08"
            names:
              description: Its tags (V([]) for a dangling image); for V(kind=tag) the one tag concerned.
              returned: always
              type: list
              elements: str
              sample: []
            size_bytes:
              description: Bytes freed, the unique size of the image for V(kind=image) and V(0) for V(kind=tag).
              returned: always
              type: int
              sample: 70000
            rules:
              description: The rules that select it, among V(dangling), V(beyond_keep), V(unused).
              returned: always
              type: list
              elements: str
              sample: [dangling]
            reason:
              description: Why, in words.
              returned: always
              type: str
              sample: dangling (no tag)
        unused_images:
          description: Every image no container (running or stopped) uses, dangling ones included.
          returned: when available
          type: list
          elements: dict
          contains:
            kind:
              description: Always V(image), delete the image.
              returned: always
              type: str
              choices: [image]
              sample: image
            id:
              description: Image ID.
              returned: always
              type: str
              sample: "sha256:bd1c0d7f8958c207ccf683a23cf220f3cc8cdc53849894eb99693a0fc6e3ff08"
            names:
              description: Its tags (V([]) for a dangling image); for V(kind=tag) the one tag concerned.
              returned: always
              type: list
              elements: str
              sample: [app:v0]
            size_bytes:
              description: Bytes freed, the unique size of the image for V(kind=image) and V(0) for V(kind=tag).
              returned: always
              type: int
              sample: 20000
            rules:
              description: The rules that select it, among V(dangling), V(beyond_keep), V(unused).
              returned: always
              type: list
              elements: str
              sample: [unused]
            reason:
              description: Why, in words.
              returned: always
              type: str
              sample: no container uses it, built 3 days ago
        old_tags:
          description:
            - Tags of the images older than the newest O(keep) of their repository (by build time), when no container
              uses the image. Images are counted, not tags.
          returned: when available
          type: list
          elements: dict
          contains:
            kind:
              description: V(image) when all the image's tags are old (delete it), V(tag) when the image keeps a newer tag in another repository (untag only).
              returned: always
              type: str
              choices: [image, tag]
              sample: image
            id:
              description: Image ID.
              returned: always
              type: str
              sample: "sha256:bd1c0d7f8958c207ccf683a23cf220f3cc8cdc53849894eb99693a0fc6e3ff08"
            names:
              description: Its tags (V([]) for a dangling image); for V(kind=tag) the one tag concerned.
              returned: always
              type: list
              elements: str
              sample: [app:v1]
            size_bytes:
              description: Bytes freed, the unique size of the image for V(kind=image) and V(0) for V(kind=tag).
              returned: always
              type: int
              sample: 0
            rules:
              description: The rules that select it, among V(dangling), V(beyond_keep), V(unused).
              returned: always
              type: list
              elements: str
              sample: [beyond_keep]
            reason:
              description: Why, in words.
              returned: always
              type: str
              sample: "not among the newest 3 images of app; the image keeps other:latest"
        keep:
          description: The O(keep) used for RV(ansible_facts.hostcare_docker.old_tags).
          returned: when available
          type: int
          sample: 3
        containers:
          description: Every container, sorted by name.
          returned: when available
          type: list
          elements: dict
          contains:
            id:
              description: Container ID.
              returned: always
              type: str
              sample: db38dcc2397bf3d5317901a728b7050e68c190b7f748e6ff970308b211f122ed
            name:
              description: Name.
              returned: always
              type: str
              sample: web
            image:
              description: The image as given when it was created.
              returned: always
              type: str
              sample: app:v3
            image_id:
              description: ID of its image.
              returned: always
              type: str
              sample: sha256:9c8849a4908b3ec082af81fc997dbf63e3c94e4d9063a7920dc6ebfdf960355c
            state:
              description: State.
              returned: always
              type: str
              choices: [created, running, paused, restarting, removing, exited, dead]
              sample: running
            running:
              description: Whether it is running, paused or restarting (what C(docker system df) counts as active).
              returned: always
              type: bool
              sample: true
            created:
              description: When it was created (unix seconds).
              returned: always
              type: int
              sample: 1795422528
            finished_at:
              description: When it last stopped (unix seconds); V(null) when it never stopped.
              returned: always
              type: int
              sample: null
            stopped_seconds:
              description: Seconds since it stopped (since it was created when it never ran); V(null) while running.
              returned: always
              type: int
              sample: null
            size_rw_bytes:
              description: Size of its writable layer.
              returned: always
              type: int
              sample: 0
            volumes:
              description: Names of the volumes it mounts.
              returned: always
              type: list
              elements: str
              sample: [app-data]
            labels:
              description: Its labels.
              returned: always
              type: dict
              sample: {}
            log:
              description: Its log; V(null) when the container disappeared while the facts were gathered.
              returned: always
              type: dict
              contains:
                driver:
                  description: Log driver.
                  returned: always
                  type: str
                  sample: json-file
                path:
                  description: The log file on this host; V(null) for drivers that keep none here (journald, syslog, none...).
                  returned: always
                  type: str
                  sample: /var/lib/docker/containers/db38.../db38...-json.log
                size_bytes:
                  description: Disk usage of the file and its rotated files; V(null) when unreadable or when there is no file.
                  returned: always
                  type: int
                  sample: 28672
                files:
                  description: How many files (the log and its rotated files).
                  returned: always
                  type: int
                  sample: 1
                error:
                  description: Why the size is unknown, for example permission denied without C(become); V(null) otherwise.
                  returned: always
                  type: str
                  sample: null
                max_size:
                  description: Its C(max-size) log option as set when it was created; V(null) when none.
                  returned: always
                  type: str
                  sample: 10m
                max_file:
                  description: Its C(max-file) log option; V(null) when none.
                  returned: always
                  type: str
                  sample: "3"
                capped:
                  description:
                    - Whether the log file has a size limit (json-file with C(max-size); the local driver unless
                      C(max-size) is V(-1)). V(null) for drivers without a file here.
                    - New C(log-opts) in C(daemon.json) apply only to containers created afterwards.
                  returned: always
                  type: bool
                  sample: true
        stopped_containers:
          description: The containers not running (created, exited, dead), longest stopped first.
          returned: when available
          type: list
          elements: dict
          contains:
            id:
              description: Container ID.
              returned: always
              type: str
              sample: 3cebb1e16563153523432a9731755bc316e798c1c1e0edae17f4e86cbb37e007
            name:
              description: Name.
              returned: always
              type: str
              sample: backup-job
            image:
              description: The image as given when it was created.
              returned: always
              type: str
              sample: "app:v2"
            state:
              description: State.
              returned: always
              type: str
              sample: exited
            stopped_seconds:
              description: Seconds since it stopped (since it was created when it never ran).
              returned: always
              type: int
              sample: 86400
            size_rw_bytes:
              description: Size of its writable layer.
              returned: always
              type: int
              sample: 10000
        volumes:
          description: Every volume, sorted by name. Reported only; nothing here says a volume is safe to delete.
          returned: when available
          type: list
          elements: dict
          contains:
            name:
              description: Name.
              returned: always
              type: str
              sample: app-data
            driver:
              description: Volume driver.
              returned: always
              type: str
              sample: local
            size_bytes:
              description: Size; V(null) when the daemon does not measure it (drivers other than local).
              returned: always
              type: int
              sample: 5000
            in_use:
              description: Whether a container (running or stopped) mounts it.
              returned: always
              type: bool
              sample: true
            containers:
              description: Names of the containers that mount it.
              returned: always
              type: list
              elements: str
              sample: [web]
            anonymous:
              description: Whether it is an anonymous volume (labelled so by Docker 23+, or named with 64 hex digits).
              returned: always
              type: bool
              sample: false
            labels:
              description: Its labels.
              returned: always
              type: dict
              sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostcare.vps.plugins.module_utils._docker_facts import ARGUMENT_SPEC, checked_options, gather_docker_facts
from ansible_collections.hostcare.vps.plugins.module_utils._fact_module import exit_with_facts


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with_facts(module, "hostcare_docker", "Docker", lambda options: gather_docker_facts(**options),
                    check=checked_options)


if __name__ == "__main__":
    main()
