# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hostcare.vps.plugins.filter.pg import FilterModule, pg_diff, pg_tune

FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")


def test_pg_tune_reference_example():
    result = pg_tune({"memory": "23GB", "cpus": 8, "version": 17})
    assert result["settings"]["shared_buffers"] == "5888MB"
    assert result["settings"]["work_mem"] == "28987kB"
    assert set(result) == {"settings", "values", "warnings", "inputs"}


@pytest.mark.parametrize("inputs, words", [
    ({"memory": "16GB", "workload": "batch"}, ["hostcare.vps.pg_tune", "workload", "web, oltp, dw, desktop, mixed"]),
    ({"memory": "16GB", "storage": "tape"}, ["storage", "ssd, hdd, san, nvme"]),
    ({"memory": "16GB", "os_type": "bsd"}, ["os_type", "linux, windows, mac"]),
    ({"memory": "16 gigs"}, ["memory", "512MB"]),
    ({"memory": -1}, ["memory"]),
    ({"memory": "100MB"}, ["memory", "at least 512MB"]),
    ({"memory": "16GB", "cpus": 0}, ["cpus", "at least 1"]),
    ({"memory": "16GB", "max_connections": 5}, ["max_connections", "at least 20"]),
    ("16GB", ["expected a dict", "memory, cpus"]),
])
def test_pg_tune_bad_input(inputs, words):
    with pytest.raises(AnsibleFilterError) as error:
        pg_tune(inputs)
    for word in words:
        assert word in str(error.value)


def test_filters_exported_and_documented():
    filters = FilterModule().filters()
    for name in filters:
        with open(os.path.join(FILTER_DIR, f"{name}.yml"), encoding="utf-8") as handle:
            doc = yaml.safe_load(handle)
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["DOCUMENTATION"]["version_added"] == "0.1.0"
        assert "_value" in doc["RETURN"]
        assert f"hostcare.vps.{name}" in doc["EXAMPLES"]


def test_pg_diff_checks_arguments():
    recommendation = pg_tune({"memory": "1GB"})
    with pytest.raises(AnsibleFilterError, match="hostcare.vps.pg_diff: expected the hostcare_postgres fact"):
        pg_diff("facts", recommendation)
    with pytest.raises(AnsibleFilterError, match="recommendation: expected the result of hostcare.vps.pg_tune"):
        pg_diff({"available": True, "settings": {}}, {"shared_buffers": "1GB"})
    with pytest.raises(AnsibleFilterError, match="settings of the fact"):
        pg_diff({"available": True, "settings": ["shared_buffers"]}, recommendation)
    assert pg_diff({"available": True, "settings": {}}, recommendation)["changes"] == 0


def test_pg_tune_budget_through_the_filter():
    result = pg_tune({"memory": "16GB", "reserve": "12GB", "version": 15})
    assert result["budget"]["source"] == "reserve"
    assert result["settings"]["shared_buffers"] == "1GB"
    with pytest.raises(AnsibleFilterError, match="memory_share"):
        pg_tune({"memory": "16GB", "memory_share": 2})


@pytest.mark.parametrize("facts, recommendation, words", [
    ({"available": True, "settings": {"shared_buffers": {"setting": "16384", "val_in_bytes": float("nan")}}}, None,
     ["settings.shared_buffers.val_in_bytes: must be a finite number, got nan"]),
    ({"available": True, "settings": {"max_connections": {"setting": "inf"}}}, None,
     ["settings.max_connections.setting: must be a finite number or a string, got 'inf'"]),
    ({"available": True, "settings": {"work_mem": {"val_in_bytes": "lots"}}}, None, ["settings.work_mem.val_in_bytes"]),
    ({"available": True, "settings": {}}, {"settings": {}, "values": {"work_mem": 1}},
     ["recommendation.settings: has no 'work_mem'"]),
    ({"available": True, "settings": {}}, {"settings": {"work_mem": "4MB"}, "values": {"work_mem": float("inf")}},
     ["recommendation.values.work_mem: must be a finite number or a string, got inf"]),
    ({"available": True, "settings": {}}, {"settings": {}, "values": {}, "inputs": {"memory": float("nan")}},
     ["recommendation.inputs.memory: must be a finite number, got nan"]),
    ({"available": True, "settings": {}}, {"settings": {}, "values": {}, "budget": [1]},
     ["recommendation.budget: expected a dict"]),
])
def test_pg_diff_refuses_values_it_cannot_compare(facts, recommendation, words):
    with pytest.raises(AnsibleFilterError) as error:
        pg_diff(facts, recommendation or pg_tune({"memory": "1GB"}))
    assert str(error.value).startswith("hostcare.vps.pg_diff: ")
    for word in words:
        assert word in str(error.value)


def test_unknown_arguments_are_refused_by_name():
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.pg_tune: cpus: unknown argument\(s\); this filter takes none$"):
        pg_tune({"memory": "4GB"}, cpus=2)
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.pg_diff: recomendation: unknown argument; did you mean recommendation\?$"):
        pg_diff({"available": False}, recomendation={})
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.pg_diff: recommendation: expected the result of hostcare.vps.pg_tune"):
        pg_diff({"available": False})


def test_the_input_cannot_be_given_twice_by_name():
    # A Jinja call can name the input again ("facts | pg_diff(facts=...)"): refused by name, not a TypeError.
    facts_again, inputs_again = {"facts": {}}, {"inputs": {}}
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.pg_diff: facts: unknown argument; known: recommendation$"):
        pg_diff({"available": False}, **facts_again)  # pylint: disable=kwarg-superseded-by-positional-arg
    with pytest.raises(AnsibleFilterError, match=r"^hostcare.vps.pg_tune: inputs: unknown argument\(s\); this filter takes none$"):
        pg_tune({"memory": "4GB"}, **inputs_again)  # pylint: disable=kwarg-superseded-by-positional-arg
