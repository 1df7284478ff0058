# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import re
from unittest import mock

import pytest
import yaml

from ansible_collections.hostcare.vps.plugins.modules import swap_facts
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.fact_shapes import documented_keys, fact_keys
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
FIXTURES = os.path.join(REPO, "tests", "fixtures", "swap")
SCENARIOS = sorted(name[:-len(".json")] for name in os.listdir(FIXTURES) if name.endswith(".json"))


def _recorded_facts(scenario):
    with open(os.path.join(FIXTURES, scenario + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def _run_module(capsys, args=None):
    return run_module(swap_facts.main, capsys, args)


@pytest.mark.parametrize("args", [{}, {"_ansible_check_mode": True}], ids=["normal", "check-mode"])
def test_main_returns_only_facts(capsys, args):
    with mock.patch.object(swap_facts, "read_swap_inputs", return_value={"meminfo": "MemTotal: 1024 kB\n"}):
        code, result = _run_module(capsys, args)
    assert code == 0
    assert result["changed"] is False
    assert set(result) - {"invocation"} == {"changed", "ansible_facts"}
    assert result["ansible_facts"]["hostcare_swap"]["memory"]["total_bytes"] == 1048576


def test_main_fails_cleanly_on_unexpected_errors(capsys):
    with mock.patch.object(swap_facts, "read_swap_inputs", side_effect=RuntimeError("boom")):
        code, result = _run_module(capsys)
    assert code == 1
    assert result["failed"] is True
    assert result["msg"] == "Could not gather swap facts: RuntimeError: boom"
    assert "exception" not in result and "Traceback" not in json.dumps(result)


def test_main_refuses_unknown_options(capsys):
    code, result = _run_module(capsys, {"proc_root": "/host"})
    assert code == 1
    assert "proc_root" in result["msg"]


def test_documentation_matches_argument_spec():
    documentation = yaml.safe_load(swap_facts.DOCUMENTATION)
    assert documentation["options"] == {}
    assert documentation["version_added"] == "0.1.0"
    assert documentation["extends_documentation_fragment"] == ["hostcare.vps._attributes.facts"]
    yaml.safe_load(swap_facts.EXAMPLES)


def _fill_unknown(documented, facts):
    """Facts cannot show the keys under an empty list or a null dict: take those from the docs."""
    if documented is None or facts is None:
        return documented
    return {name: _fill_unknown(documented[name], facts.get(name)) if name in documented else facts[name]
            for name in facts}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_return_documents_every_fact(scenario):
    documented = documented_keys(yaml.safe_load(swap_facts.RETURN)["ansible_facts"]["contains"])["hostcare_swap"]
    facts = fact_keys(_recorded_facts(scenario))
    assert set(facts) == set(documented)
    assert _fill_unknown(documented, facts) == documented


def _facts_md_swap_schema():
    path = os.path.join(REPO, "docs", "facts.md")
    if not os.path.exists(path):
        pytest.skip("docs/facts.md is not part of this tree")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## `hostcare.vps.swap_facts`", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    return yaml.safe_load(block)["hostcare_swap"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_facts_follow_docs_facts_md(scenario):
    expected = fact_keys(_facts_md_swap_schema())
    assert _fill_unknown(expected, fact_keys(_recorded_facts(scenario))) == expected
