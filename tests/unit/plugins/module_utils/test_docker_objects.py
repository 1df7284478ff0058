# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one image-reference type: what the selection, the cleanup and the audit read from a reference."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import ImageReference, image_users


@pytest.mark.parametrize("text, repository, tag, digest, name, as_tag", [
    ("app", "app", None, None, "app", "app:latest"),
    ("app:v1", "app", "v1", None, "app", "app:v1"),
    ("shop/web:2.1", "shop/web", "2.1", None, "web", "shop/web:2.1"),
    ("registry:5000/shop/web:v1", "registry:5000/shop/web", "v1", None, "web", "registry:5000/shop/web:v1"),
    ("registry:5000/shop/web", "registry:5000/shop/web", None, None, "web", "registry:5000/shop/web:latest"),
    ("localhost:5000/postgis/postgis", "localhost:5000/postgis/postgis", None, None, "postgis",
     "localhost:5000/postgis/postgis:latest"),
    ("docker.io/library/postgres:16-alpine@sha256:abc", "docker.io/library/postgres", "16-alpine", "sha256:abc",
     "postgres", "docker.io/library/postgres:16-alpine"),
    ("app@sha256:abc", "app", None, "sha256:abc", "app", "app:latest"),
    ("", "", None, None, "", None),
    (None, "", None, None, "", None),
])
def test_image_reference(text, repository, tag, digest, name, as_tag):
    reference = ImageReference(text)
    assert (reference.repository, reference.tag, reference.digest, reference.name, reference.as_tag()) == (
        repository, tag, digest, name, as_tag)


def test_a_container_uses_the_image_its_reference_names_now():
    images = [{"id": "sha256:new", "repo_tags": ["app:latest"]}, {"id": "sha256:old", "repo_tags": []}]
    containers = [{"name": "web", "image": "app", "image_id": "sha256:old", "running": True}]
    assert image_users(images, containers) == {"sha256:new": {"running": ["web"], "stopped": []},
                                               "sha256:old": {"running": ["web"], "stopped": []}}
