# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import build_findings, make_finding
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import (
    REPORT_FORMAT_VERSION,
    ReportError,
    build_fleet_summary,
    build_host_report,
    console_lines,
    render_markdown,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
WHEN = "2026-01-02T03:04:05Z"


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def report(host, swap="swap_healthy", disk="disk_healthy", errors=None):
    facts = {"swap": load(swap) if swap else None, "disk": load(disk) if disk else None}
    if errors:
        facts["errors"] = errors
    return build_host_report(host, build_findings(facts), generated_at=WHEN, facts=facts)


def good():
    return report("web1")


def bad():
    return report("db1", swap="swap_troubled", disk="disk_troubled")


# --------------------------------------------------------------------------------------------- host report


def test_host_report_document():
    doc = bad()
    assert doc["kind"] == "host"
    assert doc["format_version"] == REPORT_FORMAT_VERSION
    assert doc["host"] == "db1"
    assert doc["generated_at"] == WHEN
    assert doc["counts"] == {"critical": 4, "warning": 7, "info": 4, "ok": 0}
    assert doc["worst"] == "critical"
    assert doc["findings"][0]["severity"] == "critical"
    assert set(doc["facts"]) == {"swap", "disk"}
    assert json.loads(json.dumps(doc)) == doc


def test_host_report_sorts_findings():
    findings = [make_finding("a.ok", "ok", "A", "A."), make_finding("b.crit", "critical", "B", "B.")]
    doc = build_host_report("h", findings)
    assert [f["id"] for f in doc["findings"]] == ["b.crit", "a.ok"]
    assert doc["generated_at"] is None
    assert doc["facts"] == {}


# --------------------------------------------------------------------------------------------- markdown


def test_markdown_for_a_troubled_host():
    text = render_markdown(bad())
    assert text.startswith("# Audit report: db1\n")
    assert f"Generated {WHEN}" in text
    assert "read-only: nothing on the host was changed" in text
    assert "**4 critical, 7 warning, 4 info, 0 ok**" in text
    assert "| CRITICAL | No swap on a host with 7.8 GiB RAM | `swap.none` | caution |" in text
    # sections in severity order
    assert text.index("## Critical") < text.index("## Warning") < text.index("## Info") < text.index("## Risk classes")
    assert "## Checks that passed" not in text
    # evidence shows human sizes, not the *_bytes twins
    assert "- ram: 7.8 GiB" in text
    assert "ram_bytes" not in text and "ram bytes" not in text
    assert "  - `/var/lib/docker/overlay2` 15.0 GiB" in text
    assert "- use percent: 91.2%" in text
    # a planned role is never presented as available
    assert "role `hostcare.vps.swap`" in text
    assert "**Fix** (risk: **caution**): role `hostcare.vps.logrotate`, or by hand:" in text
    assert "Role `hostcare.vps.logrotate` will automate this" not in text
    # commands in fenced blocks
    assert "```sh\nsudo apt-get clean\n```" in text
    assert text.count("```sh") == text.count("```") / 2


def test_markdown_for_a_healthy_host():
    text = render_markdown(good())
    assert "## Checks that passed" in text
    assert "- Swap: 2.0 GiB for 3.8 GiB RAM: ok (`swap.ok`): " in text
    assert "## Critical" not in text and "## Warning" not in text
    assert "## Info" in text  # the consumer list


def test_markdown_when_nothing_to_fix():
    doc = build_host_report("h", [make_finding("swap.ok", "ok", "Swap ok", "Fine.")], generated_at=WHEN)
    assert "Nothing to fix: every check passed." in render_markdown(doc)


def test_markdown_escapes_table_cells():
    finding = make_finding("x.y", "warning", "a | b", "S.", evidence={"note": "x"})
    text = render_markdown(build_host_report("h", [finding]))
    assert "| WARNING | a \\| b | `x.y` | safe |" in text
    assert "Generated (time unknown)" in text


def test_markdown_fix_with_an_available_role():
    finding = make_finding("x.y", "warning", "T", "S.", risk="caution", command="echo hi")
    finding["fix"] = {"role": "hostcare.vps.swap", "command": "echo hi", "planned_role": None}
    text = render_markdown(build_host_report("h", [finding]))
    assert "**Fix** (risk: **caution**): role `hostcare.vps.swap`, or by hand:" in text


def test_markdown_evidence_values():
    finding = make_finding("x.y", "info", "T", "S.", evidence={
        "flag": True, "missing": None, "empty": [], "names": ["a", "b"], "nested": {"k": 1},
        "rows": [{"path": "/p", "size_bytes": 1024, "size": "1.0 KiB", "files": 3}], "ratio_percent": 12.34})
    text = render_markdown(build_host_report("h", [finding]))
    for line in ("- flag: yes", "- missing: unknown", "- empty: none", "- names: `a`, `b`", "- nested: k 1",
                 "  - `/p` 1.0 KiB (files 3)", "- ratio percent: 12.3%"):
        assert line in text


def test_markdown_for_missing_facts():
    text = render_markdown(report("h", swap=None, disk=None, errors={"disk": "Permission denied"}))
    assert "hostcare.vps.disk_pressure_facts failed: Permission denied" in text
    assert "Re-run the audit with --become (-b)." in text


# --------------------------------------------------------------------------------------------- console


def test_console_lines_for_a_troubled_host():
    lines = console_lines(bad(), report_path="audit-reports/db1.md")
    assert lines[0] == "db1: 4 critical, 7 warning, 4 info, 0 ok -> audit-reports/db1.md"
    assert lines[1] == "CRITICAL  No swap on a host with 7.8 GiB RAM [swap.none]"
    # / is 91.2% used: no swap file fits under the 90% use limit, so there is no command, only the role
    assert lines[2] == "          fix (caution): role hostcare.vps.swap"
    assert "INFO      apt cache holds 400.0 MiB [disk.apt_cache_large]" in lines
    assert "          fix (safe): sudo apt-get clean" in lines
    severities = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    order = {"CRITICAL": 0, "WARNING": 1, "INFO": 2, "OK": 3}
    assert severities == sorted(severities, key=order.get)
    for line in lines:
        assert line.isascii() and '"' not in line and "\n" not in line


def test_console_lines_for_a_healthy_host():
    lines = console_lines(good())
    assert lines[0] == "web1: 0 critical, 0 warning, 1 info, 9 ok"
    assert "OK        Swap: 2.0 GiB for 3.8 GiB RAM: ok" in lines
    short = console_lines(good(), show_ok=False)
    assert not [line for line in short if line.startswith("OK        Swap")]
    assert short[-1] == "OK        9 checks passed (listed in the report)"


def test_console_fix_with_role_only():
    finding = make_finding("x.y", "warning", "T", "S.", role="hostcare.vps.someday")
    lines = console_lines(build_host_report("h", [finding]))
    assert lines[-1] == "          fix (safe): role hostcare.vps.someday (coming)"
    finding = make_finding("x.y", "warning", "T", "S.", role="hostcare.vps.swap")
    lines = console_lines(build_host_report("h", [finding]))
    assert lines[-1] == "          fix (safe): role hostcare.vps.swap"


def test_console_replaces_double_quotes():
    finding = make_finding("x.y", "warning", 'say "hi"', "S.", command='echo "hi"')
    lines = console_lines(build_host_report("h", [finding]))
    assert lines[1] == "WARNING   say 'hi' [x.y]"
    assert lines[2] == "          fix (safe): commands in the report"


# --------------------------------------------------------------------------------------------- fleet


def fleet():
    return build_fleet_summary([good(), bad(), report("app1", swap="swap_container", disk="disk_healthy")],
                               generated_at=WHEN, not_audited=["down1"])


def test_fleet_summary_document():
    doc = fleet()
    assert doc["kind"] == "fleet"
    assert doc["host_count"] == 3
    assert [h["host"] for h in doc["hosts"]] == ["db1", "app1", "web1"]   # worst first
    assert doc["hosts"][0]["counts"] == {"critical": 4, "warning": 7, "info": 4, "ok": 0}
    assert doc["hosts"][0]["problems"] == ["No swap on a host with 7.8 GiB RAM",
                                           "OOM killer killed 3 processes since boot",
                                           "/ is 91.2% full (3.4 GiB free of 39.2 GiB)"]
    assert doc["hosts"][2]["problems"] == []
    assert doc["totals"]["critical"] == 4 + 1
    assert doc["worst"] == "critical"
    assert doc["not_audited"] == ["down1"]
    first = doc["by_finding"][0]
    assert first == {"id": "swap.none", "severity": "critical", "hosts": ["db1", "app1"], "host_count": 2}
    assert all(e["severity"] != "ok" for e in doc["by_finding"])
    assert doc["worst_findings"][0]["severity"] == "critical"
    assert doc["worst_findings_total"] == 11 + 2
    assert len(doc["worst_findings"]) == 13
    assert json.loads(json.dumps(doc)) == doc


def test_fleet_worst_limit():
    doc = build_fleet_summary([bad()], worst_limit=2)
    assert len(doc["worst_findings"]) == 2
    assert "... 9 more in the host reports" in render_markdown(doc)


def test_fleet_empty():
    doc = build_fleet_summary([])
    assert doc["host_count"] == 0 and doc["worst"] == "ok"
    assert "No critical or warning findings on any host." in render_markdown(doc)


def test_fleet_markdown():
    text = render_markdown(fleet())
    assert text.startswith("# Audit fleet summary\n")
    assert "| [db1](db1.md) | CRITICAL | 4 | 7 | 4 | 0 | No swap on a host with 7.8 GiB RAM; " in text
    assert "| [web1](web1.md) | INFO | 0 | 0 | 1 | 9 | - |" in text
    assert "**Not audited** (unreachable or failed): `down1`" in text
    assert "| `swap.none` | critical | 2: db1, app1 |" in text
    assert "## Worst findings" in text


def test_fleet_console():
    lines = console_lines(fleet(), report_path="audit-reports/fleet.md")
    assert lines[0] == "Fleet: 3 hosts, 5 critical, 8 warning, 9 info, 14 ok -> audit-reports/fleet.md"
    assert lines[1].startswith("db1   CRITICAL  4C 7W 4I 0ok  No swap on a host")
    assert lines[-1] == "Not audited (unreachable or failed): down1"


@pytest.mark.parametrize("bad_input", [None, [], "x", {"kind": "other"}, {"host": "h"}])
def test_renderers_reject_non_reports(bad_input):
    with pytest.raises(ReportError, match="expected a host report"):
        render_markdown(bad_input)
    with pytest.raises(ReportError):
        console_lines(bad_input)
