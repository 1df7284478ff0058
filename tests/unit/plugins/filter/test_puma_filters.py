# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.puma import FilterModule, puma_pool

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
OVERBOOKED = {"cpu_count": 4, "ram_mb": 23552, "reserved_mb": 7680, "per_worker_rss_mb": 1024, "sidekiq_rss_mb": 1536,
              "sidekiq_concurrency": 15, "pools_per_process": 4}


def test_errors_returned_unless_strict():
    assert puma_pool(OVERBOOKED)["errors"]
    with pytest.raises(AnsibleFilterError, match="hostcare.vps.puma_pool: 108 connections"):
        puma_pool(OVERBOOKED, strict=True)


def test_strict_fails_on_audit_errors():
    inputs = dict(OVERBOOKED, pools_per_process=1, current={"workers": 4, "threads": 5, "db_pool": 3})
    with pytest.raises(AnsibleFilterError, match="DB_POOL 3 is smaller"):
        puma_pool(inputs, strict=True)


def test_strict_passes_when_all_fits():
    assert puma_pool(dict(OVERBOOKED, pools_per_process=1), strict=True)["web_concurrency"] == 4


@pytest.mark.parametrize("inputs, strict, words", [
    ("4 cores", False, ["expected a dict", "cpu_count"]),
    ({"cpu_count": 4, "ram_mb": 4096}, "yes", ["strict", "true or false"]),
    ({"cpu_count": 4, "ram_mb": 4096, "deploy_overlap": "x"}, False, ["deploy_overlap", "none, phased, blue_green"]),
    ({"cpu_count": 4}, False, ["ram_mb", "required"]),
])
def test_bad_input(inputs, strict, words):
    with pytest.raises(AnsibleFilterError) as error:
        puma_pool(inputs, strict=strict)
    for word in words:
        assert word in str(error.value)


def test_filters_exported_and_documented():
    for name in FilterModule().filters():
        with open(os.path.join(FILTER_DIR, f"{name}.yml"), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["DOCUMENTATION"]["version_added"] == "0.1.0"
        assert "_value" in doc["RETURN"]


def test_unknown_arguments_and_string_versions():
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.puma_pool: strikt: unknown argument; did you mean strict\?$"):
        puma_pool({"cpu_count": 2, "ram_mb": 4096}, strikt=True)
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.puma_pool: ram_mb: must be a number at least 1 and at most 1073741824, got inf$"):
        puma_pool({"cpu_count": 2, "ram_mb": float("inf")})
    for version in ("7.1.3", "7.2"):
        assert puma_pool({"cpu_count": 2, "ram_mb": 4096, "rails_version": version})["rails_max_threads"] == (
            5 if version == "7.1.3" else 3)
