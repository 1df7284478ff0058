# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heal report (plugins/plugin_utils/_heal_report.py): per finding fixed / still open (and why) / new / ignored."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import make_finding
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_plan import HealError, plan_heal
from ansible_collections.hostcare.vps.plugins.plugin_utils._heal_report import (
    GONE_WHY,
    build_heal_report,
    heal_files,
    heal_lines,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import build_host_report

sys.path.insert(0, os.path.dirname(__file__))
from test_heal_plan import DEFAULTS, OPTIONS, pg_defaults, swap_none, swappiness  # noqa: E402  pylint: disable=wrong-import-position,import-error


def finding(finding_id, severity="warning", role=None, **evidence):
    return make_finding(finding_id, severity, f"title of {finding_id}", "s", evidence=evidence, risk="caution",
                        role=role)


def logs():
    return finding("docker.logs_uncapped", role="hostcare.vps.logrotate", containers=["web"],
                   role_vars={"hostcare_logrotate_docker_max_size": "10m"})


def test_fixed_still_open_new_and_ignored():
    accepted = {**finding("docker.old_tags", role="hostcare.vps.docker_cleanup"),
                "ignore": {"reason": "rollbacks", "expires": "2027-01-31", "expired": False, "match": {}}}
    held = pg_defaults("native", {"hostcare_postgresql_tune_method": "local_socket"})
    before = build_host_report("h", [swap_none(), swappiness(), logs(), held, finding("disk.full", "critical")],
                               ignored=[accepted])
    plan = plan_heal(before, OPTIONS, role_defaults=DEFAULTS, overrides={"swap": {"hostcare_swap_file": "/srv/s"}})
    after = build_host_report("h", [logs(), held, finding("disk.full", "critical"),
                                    finding("postgres.pending_restart", instance="native")], ignored=[accepted])
    doc = build_heal_report(before, after, plan, generated_at="2026-12-06T00:00:00Z")
    outcome = {row["key"]: (row["outcome"], row["why"]) for row in doc["findings"]}
    assert outcome == {
        "swap.none": ("fixed", None),
        "swap.swappiness_high": ("fixed", None),
        "docker.logs_uncapped": ("still_open", "hostcare.vps.logrotate ran; the daemon's default limit applies to "
                                 "containers created from now on: re-create the listed containers (docker compose up "
                                 "-d --force-recreate) to cap their logs"),
        "postgres.memory_defaults@native": ("still_open", "held back: shared_buffers takes effect only after a "
                                            "PostgreSQL restart (a short outage): heal_allow_restart: true restarts "
                                            "it once, with the role's connection checks"),
        "disk.full": ("still_open", "not healable: no role of this collection fixes it"),
        "postgres.pending_restart@native": ("new", "appeared after the heal"),
        "docker.old_tags": ("ignored", "accepted risk: rollbacks (until 2027-01-31)"),
    }
    assert doc["outcomes"] == {"fixed": 2, "still_open": 3, "new": 1, "gone": 0, "ignored": 1}
    assert doc["counts_before"] == {"critical": 2, "warning": 3, "info": 0, "ok": 0}
    assert doc["counts_after"] == {"critical": 1, "warning": 3, "info": 0, "ok": 0}
    assert [row["outcome"] for row in doc["findings"]] == ["fixed", "fixed", "still_open", "still_open",
                                                           "still_open", "new", "ignored"]
    files = heal_files("h", doc)
    assert json.loads(files["h.heal.json"]) == doc
    markdown = files["h.heal.md"]
    assert "- before: **2 critical, 3 warning, 0 info, 0 ok**" in markdown
    assert "| fixed | `swap.none` No swap | critical | hostcare.vps.swap | - |" in markdown
    assert "`hostcare_swap_file`: `\"/srv/s\"`" in markdown
    assert heal_lines(doc)[0] == ("h: before 2 critical, 3 warning, 0 info, 0 ok; after 1 critical, 3 warning, 0 info, "
                                  "0 ok")
    assert "FIXED      swap.none" in heal_lines(doc)


def test_a_finding_gone_without_a_role_run_is_not_called_fixed():
    transient = finding("processes.d_state", "info", count=1)
    before = build_host_report("h", [swap_none(), transient, finding("disk.full", "critical")])
    plan = plan_heal(before, OPTIONS, role_defaults=DEFAULTS, overrides={"swap": {"hostcare_swap_file": "/srv/s"}},
                     exclude=["disk.full"])
    after = build_host_report("h", [])
    doc = build_heal_report(before, after, plan)
    outcome = {row["key"]: (row["outcome"], row["why"]) for row in doc["findings"]}
    assert outcome["swap.none"] == ("fixed", None)
    assert outcome["processes.d_state"] == ("gone", GONE_WHY)
    assert outcome["disk.full"] == ("gone", GONE_WHY)  # excluded from the plan: whatever closed it, not the heal
    assert doc["outcomes"]["fixed"] == 1 and doc["outcomes"]["gone"] == 2


def test_check_mode_says_so():
    before = build_host_report("h", [swap_none()])
    plan = plan_heal(before, OPTIONS, role_defaults=DEFAULTS)
    doc = build_heal_report(before, before, plan, check_mode=True)
    assert doc["check_mode"] is True and doc["outcomes"]["still_open"] == 1
    assert "in check mode: nothing was changed" in heal_files("h", doc)["h.heal.md"]
    assert heal_lines(doc)[0].endswith("(check mode)")


@pytest.mark.parametrize("before, after, plan, message", [
    ({"kind": "fleet"}, None, {"findings": []}, "before"),
    (None, None, {}, "plan must be the plan"),
    (None, "other", {"findings": []}, "before is the report of 'h', after of 'other'"),
])
def test_bad_input_is_refused(before, after, plan, message):
    report = build_host_report("h", [])
    before = report if before is None else before
    after = report if after is None else (build_host_report(after, []) if isinstance(after, str) else after)
    with pytest.raises(Exception) as error:
        build_heal_report(before, after, plan)
    assert isinstance(error.value, (HealError, ValueError)) and message in str(error.value)
