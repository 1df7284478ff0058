# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._pg_tune import PgTuneError, normalise_inputs, pg_tune

GIB = 1024 ** 3


def tune(**inputs):
    return pg_tune(normalise_inputs(inputs))


@pytest.mark.parametrize("keys, budget, source", [
    ({"memory_share": 0.25}, 4 * GIB, "memory_share"),
    ({"memory_share": "0.25"}, 4 * GIB, "memory_share"),
    ({"memory_share": 1}, 16 * GIB, "memory_share"),
    ({"reserve": "12GB"}, 4 * GIB, "reserve"),
    ({"measured_other_bytes": 10 * GIB, "os_reserve": "2GB"}, 4 * GIB, "measured"),
    ({"measured_other_bytes": "11GB"}, 4 * GIB + GIB // 2, "measured"),         # default OS reserve 512MB
    ({"memory_limit": "4GB"}, 4 * GIB, "memory_limit"),
    ({"memory_share": 0.5, "memory_limit": "2GB"}, 2 * GIB, "memory_limit"),   # the limit caps the share
    ({"memory_share": 0.25, "memory_limit": "8GB"}, 4 * GIB, "memory_share"),  # a limit above it changes nothing
    ({"memory_limit": "32GB"}, 16 * GIB, "total"),
])
def test_budget_sources(keys, budget, source):
    result = tune(memory="16GB", **keys)
    assert result["budget"]["bytes"] == budget
    assert result["budget"]["source"] == source
    assert result["budget"]["reason"]
    # PGTune's formulas run on the budget: the same settings as for a machine of that size
    assert result["settings"] == tune(memory=budget)["settings"]
    assert result["inputs"]["memory"] == 16 * GIB


def test_budget_reason_says_why():
    result = tune(memory="16GB", memory_share=0.5, memory_limit="2GB")
    assert "memory limit 2.0 GiB" in result["budget"]["reason"]
    assert "memory_share 0.5 of 16.0 GiB RAM" in result["budget"]["reason"]
    assert result["settings"]["shared_buffers"] == "512MB"


def test_without_budget_keys_output_is_pgtune_only():
    result = tune(memory="16GB")
    assert set(result) == {"settings", "values", "warnings", "inputs"}
    assert "budget" not in result["inputs"]


@pytest.mark.parametrize("keys, words", [
    ({"memory_share": 0}, ["memory_share", "a fraction of RAM greater than 0 and at most 1, got 0"]),
    ({"memory_share": "\u0661"}, ["memory_share", "a fraction of RAM"]),
    ({"memory_share": float("inf")}, ["memory_share", "got inf"]),
    ({"memory_limit": float("inf")}, ["memory_limit", "got inf"]),
    ({"reserve": 2 * 1024 ** 5}, ["reserve", "must be a size between 0 B and 1024.0 TiB"]),
    ({"memory_share": 1.5}, ["memory_share"]),
    ({"memory_share": -0.2}, ["memory_share"]),
    ({"memory_share": "half"}, ["memory_share"]),
    ({"memory_share": True}, ["memory_share"]),
    ({"reserve": "16 gigs"}, ["reserve", "not a valid size"]),
    ({"reserve": -1}, ["reserve", "negative"]),
    ({"reserve": "15.8GB"}, ["reserve", "at least 512.0 MiB"]),
    ({"measured_other_bytes": "15.6GB"}, ["measured_other_bytes", "PGTune needs"]),
    ({"memory_limit": 0}, ["memory_limit", "more than 0"]),
    ({"memory_limit": "256MB"}, ["memory_limit", "PGTune needs"]),
    ({"memory_share": 0.5, "reserve": "1GB"}, ["memory_share and reserve", "only one"]),
    ({"os_reserve": "1GB"}, ["os_reserve", "measured_other_bytes"]),
])
def test_bad_budget_names_the_key(keys, words):
    with pytest.raises(PgTuneError) as error:
        tune(memory="16GB", **keys)
    for word in words:
        assert word in str(error.value)
