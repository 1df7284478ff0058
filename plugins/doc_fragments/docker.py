# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The Docker connection of every module that talks to Docker: module_utils/_docker.py CONNECTION_SPEC,
    # checked by _docker.connection_options() before any connection.
    DOCUMENTATION = r"""
options:
  socket_path:
    description:
      - Absolute path of the Docker daemon's unix socket. A C(DOCKER_HOST) URL (V(unix://...), V(tcp://...)) is
        refused, and the C(DOCKER_HOST) environment variable is not used.
      - The alias O(socket) is the name M(hostcare.vps.docker_log_config) gave this option at first.
    type: path
    default: /var/run/docker.sock
    aliases: [socket]
  timeout:
    description:
      - Seconds one request to the Docker daemon may take, more than 0 and at most 3600. Calls that are slow by
        nature (stopping a container, a build cache prune) have their own limits.
      - A number (V(30), V(2.5)) or a string of ASCII digits; V(nan), V(inf) and other digits are refused.
    type: raw
    default: 60
"""
