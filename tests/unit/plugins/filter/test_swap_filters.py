# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.swap import FilterModule, swap_size
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import fit_swap_to_disk, recommend_swap_bytes

MIB = 1024 ** 2
GIB = 1024 ** 3
FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")


@pytest.mark.parametrize("size, expected", [
    ("2G", 2 * GIB),
    ("2GiB", 2 * GIB),
    ("512M", 512 * MIB),
    (1048576, MIB),
    ("1048576", MIB),
])
def test_swap_size_explicit(size, expected):
    assert swap_size(size) == expected
    assert swap_size(size, ram_bytes=64 * GIB) == expected  # the RAM only matters for auto


@pytest.mark.parametrize("ram", [0, 512 * MIB, 1004 * MIB, 3 * GIB, 6 * GIB, 8332353536, 24 * GIB])
def test_swap_size_auto_is_the_collection_recommendation(ram):
    assert swap_size("auto", ram_bytes=ram) == recommend_swap_bytes(ram)
    assert swap_size(" Auto ", ram_bytes=str(ram)) == recommend_swap_bytes(ram)


@pytest.mark.parametrize("ram, disk, used, expected", [
    (24 * GIB, 100 * GIB, None, 8 * GIB),
    (24 * GIB, 10 * GIB, None, 8 * GIB),      # 2 GiB stay free: enough headroom, no quarter rule
    (24 * GIB, 10 * GIB, 30 * GIB, 6 * GIB),  # 40 GiB disk: 90% use is reached after 6 GiB
    (24 * GIB, 10 * GIB, 90 * GIB, 0),        # already at 90%: nothing fits
    (24 * GIB, 8 * GIB, None, 2 * GIB),       # short of space: a quarter of the free space
    (1 * GIB, 1 * GIB, None, 0),              # a quarter of 1 GiB rounds down to 0: the role refuses it
    (1 * GIB, "40G", "1G", 2 * GIB),
])
def test_swap_size_auto_with_disk(ram, disk, used, expected):
    assert swap_size("auto", ram_bytes=ram, disk_available_bytes=disk, disk_used_bytes=used) == expected


@pytest.mark.parametrize("available, used", [(10 * GIB, 30 * GIB), (3 * GIB, 5 * GIB), (200 * GIB, 10 * GIB),
                                             (700 * MIB, GIB)])
def test_swap_size_auto_is_what_the_audit_says_fits(available, used):
    wanted = recommend_swap_bytes(24 * GIB)
    fit = fit_swap_to_disk(wanted, available, used_bytes=used)
    assert swap_size("auto", ram_bytes=24 * GIB, disk_available_bytes=available, disk_used_bytes=used) == fit["bytes"]


def test_swap_size_auto_options():
    assert swap_size("auto", ram_bytes=24 * GIB, max_bytes="4G") == 4 * GIB
    assert swap_size("auto", ram_bytes=1000 * MIB, round_to_bytes=0) == 2000 * MIB
    assert swap_size("auto", ram_bytes=24 * GIB, disk_available_bytes=16 * GIB, max_disk_fraction=0.5) == 8 * GIB


@pytest.mark.parametrize("size, kwargs, message", [
    ("2Gb", {}, "hostcare.vps.swap_size: size: '2Gb' is not a valid size"),
    ("-1", {}, "hostcare.vps.swap_size: size: '-1' is not a valid size"),
    ("abc", {}, "hostcare.vps.swap_size: size: 'abc' is not a valid size"),
    ("0", {}, "hostcare.vps.swap_size: size: '0' is too small"),
    (None, {}, "hostcare.vps.swap_size: size: expected a number of bytes"),
    ("auto", {}, "hostcare.vps.swap_size: ram_bytes is required"),
    ("auto", {"ram_bytes": "lots"}, "hostcare.vps.swap_size: ram_bytes: 'lots' is not a valid size"),
    ("auto", {"ram_bytes": -1}, "hostcare.vps.swap_size: ram_bytes: must not be negative"),
    ("auto", {"ram_bytes": GIB, "disk_available_bytes": "x"}, "hostcare.vps.swap_size: disk_available_bytes:"),
    ("auto", {"ram_bytes": GIB, "max_bytes": None}, "hostcare.vps.swap_size: max_bytes is required"),
    ("auto", {"ram_bytes": GIB, "round_to_bytes": "1Mb"}, "hostcare.vps.swap_size: round_to_bytes:"),
    ("auto", {"ram_bytes": GIB, "max_disk_fraction": 2}, "hostcare.vps.swap_size: max_disk_fraction: must be"),
    ("auto", {"ram_bytes": GIB, "max_disk_fraction": 0}, "hostcare.vps.swap_size: max_disk_fraction: must be"),
    ("auto", {"ram_bytes": GIB, "max_disk_fraction": "0.5"}, "hostcare.vps.swap_size: max_disk_fraction: must be"),
    ("auto", {"ram_bytes": GIB, "max_disk_fraction": True}, "hostcare.vps.swap_size: max_disk_fraction: must be"),
    ("auto", {"ram_bytes": GIB, "max_use_percent": 0},
     "hostcare.vps.swap_size: max_use_percent: must be a number greater than 0 and at most 100, got 0"),
    ("auto", {"ram_bytes": GIB, "max_use_percent": float("nan")},
     "hostcare.vps.swap_size: max_use_percent: must be a number greater than 0 and at most 100, got nan"),
    ("auto", {"ram": 4}, "hostcare.vps.swap_size: ram: unknown argument; did you mean ram_bytes?"),
    ("auto", {"ram_bytes": float("inf")}, "hostcare.vps.swap_size: ram_bytes: must be a finite non-negative number"),
    ("auto", {"ram_bytes": 10 ** 30}, "hostcare.vps.swap_size: ram_bytes: must be a size between 0 B and 1024.0 TiB"),
    ("auto", {"ram_bytes": "\u0664G"}, "hostcare.vps.swap_size: ram_bytes: '\u0664G' is not a valid size"),
    ("auto", {"ram_bytes": GIB, "round_to_bytes": float("inf")}, "hostcare.vps.swap_size: round_to_bytes:"),
    (float("inf"), {}, "hostcare.vps.swap_size: size: must be a finite non-negative number"),
    (10 ** 30, {}, "hostcare.vps.swap_size: size: must be a size between 0 B and 1024.0 TiB"),
    ("auto", {"ram_bytes": GIB, "max_use_percent": 101}, "hostcare.vps.swap_size: max_use_percent: must be"),
    ("auto", {"ram_bytes": GIB, "disk_used_bytes": "x"}, "hostcare.vps.swap_size: disk_used_bytes:"),
])
def test_swap_size_errors_name_the_bad_argument(size, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        swap_size(size, **kwargs)
    assert str(error.value).startswith(message)


def test_filter_module_exports_documented_filters():
    filters = FilterModule().filters()
    assert sorted(filters) == ["swap_size"]
    for name in filters:
        with open(os.path.join(FILTER_DIR, f"{name}.yml"), encoding="utf-8") as handle:
            docs = yaml.safe_load(handle)
        assert docs["DOCUMENTATION"]["name"] == name
        assert docs["DOCUMENTATION"]["version_added"] == "0.1.0"
        assert "_value" in docs["RETURN"]
        yaml.safe_load(docs["EXAMPLES"])


def test_swap_size_documented_defaults_match_the_code():
    with open(os.path.join(FILTER_DIR, "swap_size.yml"), encoding="utf-8") as handle:
        options = yaml.safe_load(handle)["DOCUMENTATION"]["options"]
    defaults = swap_size.__defaults__
    names = ("max_use_percent", "max_bytes", "round_to_bytes", "max_disk_fraction")
    assert [options[name]["default"] for name in names] == list(defaults[3:])


def test_the_input_cannot_be_given_twice_by_name():
    size_again = {"size": "2G"}  # as a Jinja call can name the input again
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.swap_size: size: unknown argument; known: "):
        swap_size("auto", ram_bytes=GIB, **size_again)  # pylint: disable=kwarg-superseded-by-positional-arg
