# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accepted risks (audit_ignore, issue 16 item 2): plugins/plugin_utils/_audit_ignore.py and its wiring into the host
report (not counted, listed apart with the reason, back when expired)."""

from __future__ import annotations

import datetime
import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import AuditError, make_finding
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import facts_from_results, host_report, report_files
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_ignore import (
    IgnoreError,
    apply_ignore,
    check_ignore,
    finding_values,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import check_report, console_lines, render_markdown

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
TODAY = datetime.date(2026, 12, 6)


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def troubled_report(ignore=None, today=TODAY):
    facts = facts_from_results({"swap": {"ansible_facts": {"hostcare_swap": load("swap_troubled")}},
                                "disk": {"ansible_facts": {"hostcare_disk": load("disk_troubled")}},
                                "docker": {"ansible_facts": {"hostcare_docker": load("docker_bloated")}}})
    return host_report("h", facts, generated_at="2026-12-06T00:00:00Z", ignore=ignore, today=today)


def logs_finding(containers):
    return make_finding("docker.logs_uncapped", "warning", "Docker logs uncapped", "s",
                        evidence={"containers": containers, "paths": [f"/var/lib/docker/{c}.log" for c in containers],
                                  "logs": [{"container": c, "path": f"/var/lib/docker/{c}.log"} for c in containers]},
                        risk="caution", role="hostcare.vps.logrotate")


def pg_finding(instance, severity="warning"):
    return make_finding("postgres.memory_defaults", severity, "PostgreSQL at defaults", "s",
                        evidence={"instance": instance}, risk="caution", role="hostcare.vps.postgresql_tune")


# --------------------------------------------------------------------------------------------- validation


def test_entries_are_normalised():
    assert check_ignore([{"id": "swap.none", "reason": " no disk to spare ", "expires": "2027-01-31"},
                         {"id": "postgres.memory_defaults", "reason": "r", "instance": "container db",
                          "expires": datetime.date(2027, 2, 1)}]) == [
        {"id": "swap.none", "reason": "no disk to spare", "expires": "2027-01-31", "match": {}},
        {"id": "postgres.memory_defaults", "reason": "r", "expires": "2027-02-01", "match": {"instance": "container db"}}]
    assert check_ignore(None) == [] and check_ignore([]) == []


@pytest.mark.parametrize("entries, message", [
    ("swap.none", "audit_ignore must be a list"),
    (["swap.none"], "audit_ignore[0]: must be a dict"),
    ([{"reason": "r"}], "audit_ignore[0]: id is required"),
    ([{"id": "Swap none", "reason": "r"}], "audit_ignore[0] (Swap none): id is required"),
    ([{"id": "swap.none"}], "audit_ignore[0] (swap.none): reason is required"),
    ([{"id": "swap.none", "reason": "  "}], "audit_ignore[0] (swap.none): reason is required"),
    ([{"id": "swap.none", "reason": "r", "expire": "2027-01-01"}],
     "audit_ignore[0] (swap.none): expire: unknown key; did you mean expires?"),
    ([{"id": "swap.none", "reason": "r", "expires": "31/01/2027"}], "expires must be a date YYYY-MM-DD, got '31/01/2027'"),
    ([{"id": "swap.none", "reason": "r", "expires": "2027-02-30"}], "expires must be a real date YYYY-MM-DD"),
    ([{"id": "swap.none", "reason": "r", "expires": 20270101}], "expires must be a date YYYY-MM-DD"),
    ([{"id": "swap.none", "reason": "r", "expires": datetime.datetime(2027, 1, 1, 3)}], "got the date and time"),
    ([{"id": "swap.none", "reason": "r"}, {"id": "docker.logs_uncapped", "reason": "r", "container": ""}],
     "audit_ignore[1] (docker.logs_uncapped): container must be a non-empty string"),
    ([{"id": "docker.logs_uncapped", "reason": "r", "container": ["a"]}], "container must be a non-empty string"),
])
def test_bad_entries_are_refused_naming_entry_and_key(entries, message):
    with pytest.raises(IgnoreError) as error:
        check_ignore(entries)
    assert message in str(error.value)


def test_a_bad_entry_fails_the_report_and_ignores_nothing():
    with pytest.raises(AuditError, match=r"audit_ignore\[1\] \(swap.none\): reason is required"):
        troubled_report(ignore=[{"id": "swap.none", "reason": "ok"}, {"id": "swap.none"}])


# --------------------------------------------------------------------------------------------- matching


def test_finding_values_read_the_evidence_as_the_findings_carry_it():
    item = logs_finding(["web", "worker"])
    assert finding_values(item, "container") == {"web", "worker"}
    assert finding_values(item, "path") == {"/var/lib/docker/web.log", "/var/lib/docker/worker.log"}
    assert finding_values(pg_finding("native"), "instance") == {"native"}
    assert finding_values(pg_finding("native"), "container") == set()


def test_split_open_ignored_and_unmatched():
    findings = [pg_finding("native"), pg_finding("container db"), logs_finding(["web"]),
                make_finding("swap.none", "ok", "t", "s")]
    entries = [{"id": "postgres.memory_defaults", "reason": "tuned by hand", "instance": "container db"},
               {"id": "docker.logs_uncapped", "reason": "shipped by fluentd", "expires": "2026-12-06"},
               {"id": "swap.none", "reason": "an ok finding is never moved"},
               {"id": "disk.full", "reason": "typo or fixed"}]
    open_findings, ignored, unmatched = apply_ignore(findings, entries, TODAY)
    assert [(f["id"], f["evidence"].get("instance")) for f in open_findings] == [
        ("postgres.memory_defaults", "native"), ("swap.none", None)]
    assert [f["id"] for f in ignored] == ["postgres.memory_defaults", "docker.logs_uncapped"]
    assert ignored[0]["ignore"] == {"reason": "tuned by hand", "expires": None, "expired": False,
                                    "match": {"instance": "container db"}}
    assert ignored[1]["ignore"]["expires"] == "2026-12-06"  # the expiry day itself still holds
    assert [entry["id"] for entry in unmatched] == ["swap.none", "disk.full"]
    assert "ignore" not in findings[0] and "ignore" not in findings[1]  # inputs untouched


def test_a_narrowed_entry_does_not_hide_what_it_did_not_accept():
    findings = [logs_finding(["web", "legacy"])]
    open_findings, ignored, _unmatched = apply_ignore(findings, [{"id": "docker.logs_uncapped", "reason": "r",
                                                                  "container": "legacy"}], TODAY)
    assert [f["id"] for f in open_findings] == ["docker.logs_uncapped"] and not ignored
    ignored = apply_ignore([logs_finding(["legacy"])], [{"id": "docker.logs_uncapped", "reason": "r",
                                                         "container": "legacy"}], TODAY)[1]
    assert len(ignored) == 1


def test_an_expired_acceptance_counts_again_and_says_so():
    entries = [{"id": "postgres.memory_defaults", "reason": "until the upgrade", "expires": "2026-12-05"}]
    open_findings, ignored, unmatched = apply_ignore([pg_finding("native")], entries, "2026-12-06")
    assert not ignored and not unmatched
    assert open_findings[0]["ignore"] == {"reason": "until the upgrade", "expires": "2026-12-05", "expired": True,
                                          "match": {}}


# --------------------------------------------------------------------------------------------- the report


def test_ignored_findings_are_listed_apart_and_not_counted():
    plain = troubled_report()
    ids = [f["id"] for f in plain["findings"] if f["severity"] != "ok"]
    target = next(f for f in plain["findings"] if f["severity"] in ("critical", "warning"))
    report = troubled_report(ignore=[{"id": target["id"], "reason": "accepted by ops, ticket 42",
                                      "expires": "2027-01-31"}])
    check_report(report)
    assert target["id"] not in [f["id"] for f in report["findings"]]
    assert [f["id"] for f in report["ignored"]] == [i for i in ids if i == target["id"]]
    assert report["counts"][target["severity"]] == plain["counts"][target["severity"]] - ids.count(target["id"])
    assert report["ignored"][0]["ignore"]["reason"] == "accepted by ops, ticket 42"
    markdown = report_files("h", report)["h.md"]
    assert "## Accepted risks (audit_ignore)" in markdown
    assert "accepted by ops, ticket 42 (until 2027-01-31)" in markdown
    assert any(line.startswith("IGNORED") and target["id"] in line for line in console_lines(report))


def test_the_worst_severity_leaves_out_the_ignored():
    plain = troubled_report()
    worst = plain["worst"]
    accepted = sorted({f["id"] for f in plain["findings"] if f["severity"] == worst})
    report = troubled_report(ignore=[{"id": finding_id, "reason": "r"} for finding_id in accepted])
    assert report["counts"][worst] == 0 and report["worst"] != worst


def test_expired_acceptance_in_the_report():
    plain = troubled_report()
    target = next(f for f in plain["findings"] if f["severity"] != "ok")
    report = troubled_report(ignore=[{"id": target["id"], "reason": "old", "expires": "2026-01-01"}])
    assert report["counts"] == plain["counts"] and report["ignored"] == []
    item = next(f for f in report["findings"] if f["id"] == target["id"])
    assert item["ignore"]["expired"] is True
    assert "**Accepted risk expired:** old (until 2026-01-01); the finding counts again." in render_markdown(report)
    assert any(line.startswith("EXPIRED") and target["id"] in line for line in console_lines(report))


def test_unmatched_entries_are_reported():
    report = troubled_report(ignore=[{"id": "disk.no_such_finding", "reason": "typo"}])
    assert report["ignore_unmatched"] == [{"id": "disk.no_such_finding", "reason": "typo", "expires": None, "match": {}}]
    assert "matched no finding" in render_markdown(report)
