# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hostcare.vps.audit_facts in-process on this machine: every area's options are checked (by its own module's
rules, named area.option) before anything is read, one run returns the facts the five fact modules return, and an
area that fails does not stop the others."""

from __future__ import annotations

import pytest

from ansible_collections.hostcare.vps.plugins.modules import (
    audit_facts,
    disk_pressure_facts,
    docker_bloat_facts,
    pg_settings_facts,
    swap_facts,
    workload_facts,
)
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.module_runner import run_module

FAST = {"disk": {"skip_scan": True}, "workload": {"time_budget": 2, "top": 3}}
NO_POSTGRES = {"socket_dir": "/nonexistent-hostcare-socket-dir"}


@pytest.mark.parametrize("args, message", [
    ({"disk": {"top_n": 0}}, "disk.top_n:"),
    ({"disk": {"scan_paths": ["relative/dir"]}}, "disk.scan_paths:"),
    ({"docker": {"keep": -1}}, "docker.keep:"),
    ({"docker": {"timeout": "inf"}}, "docker.timeout:"),
    ({"workload": {"top": 1e300}}, "workload.top:"),
    ({"workload": {"socket_path": "unix:///var/run/docker.sock"}}, "workload.socket_path:"),
    ({"docker": {"kep": 3}}, "docker: unknown option kep; hostcare.vps.docker_bloat_facts takes "),
    ({"swap": {"anything": 1}}, "Unsupported parameters"),
    ({"disk": ["/var/log"]}, "disk"),
    ({"postgres": {"password": "s3cret"}}, "postgres: unknown option password; hostcare.vps.pg_settings_facts takes "),
    ({"postgres": {"port": 0}}, "postgres.port:"),
    ({"postgres": {"socket_dir": "relative"}}, "postgres.socket_dir:"),
])
def test_bad_options_are_refused_by_name_before_anything_is_read(capsys, args, message):
    code, result = run_module(audit_facts.main, capsys, args)
    assert code == 1 and result["failed"]
    assert message in result["msg"] and "s3cret" not in result["msg"]
    assert "ansible_facts" not in result or not result["ansible_facts"]


def test_one_run_returns_what_the_five_modules_return(capsys, tmp_path):
    socket = str(tmp_path / "no.sock")
    code, combined = run_module(audit_facts.main, capsys, {**FAST, "docker": {"socket_path": socket},
                                                           "workload": {**FAST["workload"], "socket_path": socket},
                                                           "postgres": NO_POSTGRES})
    assert code == 0 and combined["changed"] is False
    separate = {
        "swap": run_module(swap_facts.main, capsys, {})[1],
        "disk": run_module(disk_pressure_facts.main, capsys, FAST["disk"])[1],
        "docker": run_module(docker_bloat_facts.main, capsys, {"socket_path": socket})[1],
        "workload": run_module(workload_facts.main, capsys, {**FAST["workload"], "socket_path": socket})[1],
        "postgres": run_module(pg_settings_facts.main, capsys, {**NO_POSTGRES, "method": "local_socket"})[1],
    }
    assert list(combined["areas"]) == ["swap", "disk", "docker", "workload", "postgres"]
    for area, alone in separate.items():
        (fact_name, facts), = alone["ansible_facts"].items()
        together = combined["areas"][area]["ansible_facts"][fact_name]
        assert combined["ansible_facts"][fact_name] == together
        assert set(together) == set(facts), area
    # Readings that do not move between two reads are equal.
    assert combined["ansible_facts"]["hostcare_swap"]["memory"]["total_bytes"] == \
        separate["swap"]["ansible_facts"]["hostcare_swap"]["memory"]["total_bytes"]
    assert combined["ansible_facts"]["hostcare_docker"] == separate["docker"]["ansible_facts"]["hostcare_docker"]
    assert combined["ansible_facts"]["hostcare_docker"]["available"] is False
    assert combined["ansible_facts"]["hostcare_postgres"] == separate["postgres"]["ansible_facts"]["hostcare_postgres"]


def test_a_failed_area_is_reported_as_its_module_would_fail_and_the_others_still_run(capsys, tmp_path):
    socket = str(tmp_path / "no.sock")
    code, combined = run_module(audit_facts.main, capsys, {
        "areas": ["docker", "swap"], "docker": {"socket_path": socket, "fail_on_unavailable": True}})
    code_alone, alone = run_module(docker_bloat_facts.main, capsys, {"socket_path": socket, "fail_on_unavailable": True})
    assert code == 0 and code_alone == 1
    assert list(combined["areas"]) == ["docker", "swap"]
    assert combined["areas"]["docker"]["failed"] is True
    assert combined["areas"]["docker"]["msg"] == alone["msg"]
    assert "hostcare_swap" in combined["ansible_facts"]


def test_only_the_areas_asked_are_read(capsys):
    code, result = run_module(audit_facts.main, capsys, {"areas": ["swap"]})
    assert code == 0
    assert list(result["areas"]) == ["swap"] and list(result["ansible_facts"]) == ["hostcare_swap"]
