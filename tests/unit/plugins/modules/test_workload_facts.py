# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.workload_facts in-process on this machine: its options are refused by name before anything is
read, and a run returns only facts (Docker at a missing socket: available false, and why)."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.modules import workload_facts
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module


@pytest.mark.parametrize("args, option", [
    ({"time_budget": 0}, "time_budget"),
    ({"time_budget": "inf"}, "time_budget"),
    ({"time_budget": "\u0661\u0662"}, "time_budget"),
    ({"top": 0}, "top"),
    ({"top": 1e300}, "top"),
    ({"timeout": float("nan")}, "timeout"),
    ({"socket_path": "unix:///var/run/docker.sock"}, "socket_path"),
])
def test_bad_options_are_refused_by_name(capsys, args, option):
    code, result = run_module(workload_facts.main, capsys, args)
    assert code == 1 and result["failed"] and result["msg"].startswith(f"{option}:")


def test_a_run_returns_only_facts(capsys, tmp_path):
    code, result = run_module(workload_facts.main, capsys, {"socket_path": str(tmp_path / "no.sock"), "top": 3,
                                                            "time_budget": 2})
    assert code == 0 and result["changed"] is False
    facts = result["ansible_facts"]["hostcare_workload"]
    assert facts["processes"]["read"] > 0 and len(facts["groups"]) <= 3
    assert facts["docker"]["available"] is False and facts["docker"]["reason_code"] in ("no_socket", "not_installed")
    assert facts["memory"]["total_bytes"] > 0 and facts["cpu_count"] >= 1
