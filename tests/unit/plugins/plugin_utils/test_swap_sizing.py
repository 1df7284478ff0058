# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import (
    GIB,
    MIB,
    SWAP_MAX_BYTES,
    recommend_swap_bytes,
)

RECOMMEND = [
    # (RAM, recommended swap)
    (0, 0),
    (256 * MIB, 512 * MIB),
    (512 * MIB, 1 * GIB),
    (1004 * MIB, 2 * GIB),          # a "1 GB" VPS: 2 x 1004 MiB rounded up to 512 MiB
    (1 * GIB, 2 * GIB),
    (2 * GIB, 4 * GIB),             # last value of the 2 x RAM band
    (2 * GIB + 1, 4 * GIB),         # first value of the 4 GiB band: no jump
    (3 * GIB, 4 * GIB),
    (4026531840, 4 * GIB),          # a "4 GB" VPS reporting 3.75 GiB
    (4 * GIB, 4 * GIB),
    (4 * GIB + 1, 4 * GIB + 512 * MIB),  # = RAM, rounded up
    (6 * GIB, 6 * GIB),
    (8332353536, 8 * GIB),          # 7.76 GiB -> 8 GiB
    (8 * GIB, 8 * GIB),
    (8 * GIB + 1, 8 * GIB),         # the cap
    (16 * GIB, 8 * GIB),
    (24 * GIB, 8 * GIB),
    (128 * GIB, 8 * GIB),
    (2.5 * GIB, 4 * GIB),           # floats are accepted
]


@pytest.mark.parametrize("ram, expected", RECOMMEND)
def test_recommend_swap_bytes(ram, expected):
    assert recommend_swap_bytes(ram) == expected


def test_recommendation_never_decreases_with_ram():
    previous = 0
    for mib in range(64, 40 * 1024, 64):
        value = recommend_swap_bytes(mib * MIB)
        assert value >= previous, f"{mib} MiB"
        assert value % (512 * MIB) == 0
        assert value <= SWAP_MAX_BYTES
        previous = value


@pytest.mark.parametrize("kwargs, expected", [
    ({"max_bytes": 4 * GIB}, 4 * GIB),                                 # lower cap
    ({"max_bytes": 16 * GIB}, 12 * GIB),                               # higher cap: = RAM
    ({"round_to_bytes": 0}, 8 * GIB),                                  # still capped
])
def test_recommend_swap_bytes_options(kwargs, expected):
    assert recommend_swap_bytes(12 * GIB, **kwargs) == expected


def test_round_to_zero_keeps_exact_value():
    assert recommend_swap_bytes(1000, round_to_bytes=0) == 2000


@pytest.mark.parametrize("kwargs, message", [
    ({"ram_bytes": -1}, "ram_bytes must not be negative"),
    ({"ram_bytes": True}, "ram_bytes must be a number"),
    ({"ram_bytes": "4G"}, "ram_bytes must be a number"),
    ({"ram_bytes": None}, "ram_bytes must be a number"),
    ({"ram_bytes": float("nan")}, "ram_bytes must be a number"),
    ({"ram_bytes": float("inf")}, "ram_bytes must be a number of bytes \\(finite\\), got inf"),
    ({"ram_bytes": GIB, "max_bytes": -5}, "max_bytes must not be negative"),
])
def test_recommend_swap_bytes_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recommend_swap_bytes(**kwargs)


def test_fit_swap_to_disk_keeps_the_use_limit():
    from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import fit_swap_to_disk
    gib = 1024 ** 3
    fit = fit_swap_to_disk(4 * gib, int(4.9 * gib), used_bytes=int(44.1 * gib))
    assert (fit["bytes"], fit["limited_by"]) == (0, "use_limit")
    assert fit["reason"].startswith("no swap file fits")
    fit = fit_swap_to_disk(4 * gib, int(4.9 * gib), use_percent=90.0)        # same from df's Use%
    assert fit["bytes"] == 0
    fit = fit_swap_to_disk(4 * gib, int(4.9 * gib), used_bytes=int(44.1 * gib), max_use_percent=95)
    assert (fit["bytes"], fit["limited_by"]) == (1 * gib, "free_share")      # a quarter of 4.9 GiB
    fit = fit_swap_to_disk(2 * gib, 20 * gib, used_bytes=10 * gib)
    assert (fit["bytes"], fit["limited_by"]) == (2 * gib, None)
    assert "fits on /" in fit["reason"]
