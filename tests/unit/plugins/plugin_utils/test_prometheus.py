# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's Prometheus textfile (plugins/plugin_utils/_prometheus.py) from a report built through the real path:
recorded facts -> facts_from_results -> host_report -> render_textfile. The values are checked against the report
(findings' evidence, counts) and the facts it was built from; the text against the exposition format's grammar.
tests/unit/plugins/action/test_audit_prometheus_live.py has the real node_exporter serve it."""

from __future__ import annotations

import copy
import json
import os
import random
import re

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._workload_containers import container_facts
from ansible_collections.hostcare.vps.plugins.module_utils._workload_systemd import parse_show, systemd_facts, unit_facts
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import SEVERITIES
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_entry import facts_from_results, fleet_report, host_report
from ansible_collections.hostcare.vps.plugins.plugin_utils._prometheus import (
    METRIC_NAMES,
    METRICS,
    PREFIX,
    PrometheusError,
    escape_label_value,
    finding_subject,
    format_value,
    metric_samples,
    render_textfile,
)

HERE = os.path.dirname(__file__)
FIXTURES = os.path.join(HERE, "..", "..", "..", "fixtures")
GENERATED_AT = "2026-12-06T23:00:00Z"
GENERATED_EPOCH = 1796598000
ODD_LABEL = 'tcp "ops"\\db\nsecond line'
"""A PostgreSQL label from audit_postgres_connections may hold anything: a quote, a backslash, a newline."""


def load(*parts):
    path = os.path.join(FIXTURES, *parts)
    with open(path, encoding="utf-8") as handle:
        return handle.read() if path.endswith(".txt") else json.load(handle)


def registered(fact_name, facts):
    return {"changed": False, "ansible_facts": {fact_name: facts}}


def workload():
    """Workload facts made by the module's own functions from recorded answers: a container in a restart loop
    (docker inspect) and a unit systemd restarted 5 times (systemctl show)."""
    loop = container_facts(load("workload", "docker_inspect_restart_loop.json"), usage_bytes=0)
    web = container_facts(load("workload", "docker_inspect_web.json"), usage_bytes=64 * 1024 ** 2)
    units = [unit_facts(props, read_file=lambda path: None) for props in parse_show(load("workload", "systemd_show.txt"))
             if props.get("Id")]
    systemd = dict({"available": True, "reason": None}, **systemd_facts(units))
    return {"format": 1, "memory": {"total_bytes": 8 * 1024 ** 3, "available_bytes": 1024 ** 3,
                                    "swap_total_bytes": 0, "swap_free_bytes": 0},
            "cpu_count": 2, "load": {"load1": 0.5, "load5": 0.5, "load15": 0.5},
            "processes": {"seen": 10, "read": 10, "complete": True, "pss_read": 10, "elapsed_seconds": 0.01,
                          "d_state_count": 0, "d_state": [], "zombies_count": 0, "zombies": []},
            "groups": [], "groups_total": 0, "other_groups_bytes": 0,
            "measured": {"total_bytes": 2 * 1024 ** 3, "postgres_bytes": 0, "other_bytes": 2 * 1024 ** 3},
            "docker": {"available": True, "reason_code": None, "reason": None, "containers": [loop, web]},
            "systemd": systemd}


def build_report():
    results = {"swap": registered("hostcare_swap", load("audit", "swap_troubled.json")),
               "disk": registered("hostcare_disk", load("audit", "disk_troubled.json")),
               "docker": registered("hostcare_docker", load("audit", "docker_bloated.json")),
               "workload": registered("hostcare_workload", workload())}
    postgres = [{"item": {"label": "native"}, "ansible_facts": {"hostcare_postgres": load("audit", "postgres_pg15_superuser_socket.json")}},
                {"item": {"label": ODD_LABEL}, "ansible_facts": {"hostcare_postgres": load("audit", "postgres_pg17_superuser_docker.json")}}]
    facts = facts_from_results(results, postgres_results=postgres)
    return host_report("db1", facts, generated_at=GENERATED_AT)


@pytest.fixture(scope="module")
def report():
    return build_report()


@pytest.fixture(scope="module")
def text(report):
    return render_textfile(report)


# --------------------------------------------------------------------------------------------- the format

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_RE = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\\\|\\"|\\n)*"'
SAMPLE_RE = re.compile(rf"^({NAME_RE})(?:\{{({LABEL_RE}(?:,{LABEL_RE})*)\}})? (\S+)$")
"""A sample line: name, optional labels, ONE value (a second number would be a timestamp)."""


def parse(text):
    """{name: {"help", "type", "samples": [(labels dict, value text)]}} of an exposition, checking its grammar:
    HELP then TYPE before the samples of each family, one block per family, a final newline."""
    assert text.endswith("\n") and not text.endswith("\n\n")
    families, current = {}, None
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, help_text = line[len("# HELP "):].split(" ", 1)
            assert name not in families, f"{name}: two blocks"
            families[name] = {"help": help_text, "type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, kind = line[len("# TYPE "):].split(" ")
            assert name == current and families[name]["type"] is None and kind == "gauge"
            families[name]["type"] = kind
        else:
            match = SAMPLE_RE.match(line)
            assert match, f"not a sample line: {line!r}"
            assert match.group(1) == current and families[current]["type"], line
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            families[current]["samples"].append((labels, match.group(3)))
    return families


def unescape(value):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def series(families, name):
    return {tuple(sorted((key, unescape(value)) for key, value in labels.items())): float(value)
            for labels, value in families[name]["samples"]}


def test_names_types_and_help(text):
    families = parse(text)
    assert set(families) <= set(METRIC_NAMES)
    for name, family in families.items():
        assert name.startswith("hostcare_") and family["help"] and family["samples"]
        assert re.search(r"_(bytes|seconds|ratio|restarts|findings|finding)$", name), name
    # every metric of this report is there (the fixture has each kind of fact)
    assert set(families) == set(METRIC_NAMES)


def test_no_timestamps_and_no_exported_instance_label(text):
    for labels, _value in [s for family in parse(text).values() for s in family["samples"]]:
        assert "instance" not in labels and "job" not in labels  # Prometheus' own target labels
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(SAMPLE_RE.match(line) for line in samples)  # one value, no second number (timestamp)
    assert not SAMPLE_RE.match("hostcare_ram_bytes 1 1796598000000")


def test_findings_per_severity_are_the_report_counts(report, text):
    counts = series(parse(text), "hostcare_audit_findings")
    assert counts == {(("severity", name),): report["counts"][name] for name in SEVERITIES}
    assert report["counts"]["critical"] > 0 and report["counts"]["warning"] > 0


def test_every_severity_is_present_also_at_zero(report):
    healthy = copy.deepcopy(report)
    healthy["findings"] = [f for f in healthy["findings"] if f["severity"] == "ok"]
    healthy["counts"] = {name: (healthy["counts"]["ok"] if name == "ok" else 0) for name in SEVERITIES}
    counts = series(parse(render_textfile(healthy)), "hostcare_audit_findings")
    assert counts[(("severity", "critical"),)] == 0 and len(counts) == 4
    assert "hostcare_audit_finding" not in parse(render_textfile(healthy))


def test_one_series_per_open_finding(report, text):
    open_findings = series(parse(text), "hostcare_audit_finding")
    expected = {}
    for finding in report["findings"]:
        if finding["severity"] == "ok":
            continue
        labels = {"id": finding["id"], "severity": finding["severity"], "finding_instance": finding_subject(finding) or ""}
        key = tuple(sorted(labels.items()))
        expected[key] = expected.get(key, 0) + 1
    assert open_findings == expected
    assert sum(open_findings.values()) == sum(report["counts"][name] for name in ("critical", "warning", "info"))
    assert (("finding_instance", ""), ("id", "swap.none"), ("severity", "critical")) in open_findings
    assert (("finding_instance", "crashy.service"), ("id", "systemd.restart_loop"), ("severity", "critical")) in open_findings
    assert (("finding_instance", "hostcare-workload-loop"), ("id", "docker.restart_loop"),
            ("severity", "critical")) in open_findings
    passed_only = {f["id"] for f in report["findings"] if f["severity"] == "ok"} - {dict(key)["id"] for key in expected}
    assert passed_only and not any(dict(key)["id"] in passed_only for key in open_findings)


def test_last_run_is_a_gauge_of_the_report_time(text):
    assert series(parse(text), "hostcare_audit_last_run_timestamp_seconds") == {(): GENERATED_EPOCH}
    assert f"hostcare_audit_last_run_timestamp_seconds {GENERATED_EPOCH}\n" in text


def evidence(report, finding_id, **match):
    found = [f["evidence"] for f in report["findings"] if f["id"] == finding_id
             and all(f["evidence"].get(k) == v for k, v in match.items())]
    assert len(found) == 1, (finding_id, match, len(found))
    return found[0]


def test_key_gauges_are_the_reports_values(report, text):
    families = parse(text)
    facts = report["facts"]
    assert series(families, "hostcare_ram_bytes") == {(): evidence(report, "swap.none")["ram_bytes"]}
    assert series(families, "hostcare_swap_bytes") == {(): facts["swap"]["swap"]["total_bytes"]}
    assert series(families, "hostcare_swap_used_bytes") == {(): facts["swap"]["swap"]["used_bytes"]}
    full = evidence(report, "disk.full")
    worst = {(("mount", full["mount"]),): full["use_percent"] / 100}
    assert series(families, "hostcare_filesystem_worst_use_ratio") == worst
    assert series(families, "hostcare_docker_reclaimable_bytes") == {
        (): evidence(report, "docker.reclaimable")["reclaimable_bytes"]}


def test_postgres_memory_model_per_instance_with_escaped_labels(report, text):
    families = parse(text)
    ratios = series(families, "hostcare_postgres_memory_model_ratio")
    sizes = series(families, "hostcare_postgres_memory_model_bytes")
    assert set(ratios) == set(sizes) == {(("postgres_instance", "native"),), (("postgres_instance", ODD_LABEL),)}
    for (label,) in ratios:
        found = [f["evidence"] for f in report["findings"] if f["id"] in ("postgres.memory_ok", "postgres.memory_overcommit")
                 and f["evidence"].get("instance") == label[1]]
        assert ratios[(label,)] == pytest.approx(found[0]["model_percent"] / 100, abs=1e-9)
        assert sizes[(label,)] == found[0]["model_bytes"]
    assert 'postgres_instance="tcp \\"ops\\"\\\\db\\nsecond line"' in text


def test_restart_counts_are_labelled(text):
    families = parse(text)
    assert series(families, "hostcare_container_restarts")[(("container", "hostcare-workload-loop"),)] == 5
    # the units systemd restarted, and the failed ones (here broken.service, never restarted)
    assert series(families, "hostcare_systemd_unit_restarts") == {(("unit", "crashy.service"),): 5,
                                                                  (("unit", "broken.service"),): 0}


def test_ignored_findings_are_not_open_series(report):
    ignored = copy.deepcopy(report)
    moved = [f for f in ignored["findings"] if f["id"] in ("swap.none", "docker.reclaimable")]
    ignored["findings"] = [f for f in ignored["findings"] if f not in moved]
    ignored["ignored"] = [dict(f, reason="accepted", expires=None) for f in moved]
    families = parse(render_textfile(ignored))
    assert not any(labels["id"] in ("swap.none", "docker.reclaimable")
                   for labels, _v in families["hostcare_audit_finding"]["samples"])
    assert series(families, "hostcare_audit_ignored_findings") == {(): 2}
    # the gauges still come from the ignored finding's evidence
    unignored = series(parse(render_textfile(report)), "hostcare_docker_reclaimable_bytes")
    assert series(families, "hostcare_docker_reclaimable_bytes") == unignored


def test_the_same_report_gives_the_same_bytes(report, text):
    shuffled = copy.deepcopy(report)
    random.Random(4).shuffle(shuffled["findings"])
    assert render_textfile(shuffled) == text == render_textfile(build_report())


def test_label_value_escaping():
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert escape_label_value("plain /var/log") == "plain /var/log"


def test_values():
    values = (0, 25276194816, 0.912, 2.0, 1e21)
    assert [format_value(v) for v in values] == ["0", "25276194816", "0.912", "2", "1e+21"]
    assert [format_value(v) for v in (float("nan"), float("inf"), float("-inf"))] == ["NaN", "+Inf", "-Inf"]
    with pytest.raises(PrometheusError):
        format_value(True)


def test_given_facts_win_over_the_reports(report):
    facts = copy.deepcopy(report["facts"])
    facts["swap"]["swap"]["total_bytes"] = 123
    assert metric_samples(report, facts=facts)["swap_bytes"] == [((), 123)]


def test_only_a_host_report(report):
    with pytest.raises(PrometheusError, match="fleet summary"):
        render_textfile(fleet_report([report]))
    with pytest.raises(PrometheusError, match="expected a host report"):
        render_textfile({"kind": "other"})
    broken = dict(report, findings=[{"id": "x"}])
    with pytest.raises(PrometheusError, match="findings"):
        render_textfile(broken)


def test_unknown_values_leave_the_series_out(report):
    bare = dict(copy.deepcopy(report), generated_at=None, facts={})
    bare["findings"] = [f for f in bare["findings"] if not f["id"].startswith(("docker.reclaimable", "postgres."))]
    names = set(parse(render_textfile(bare)))
    assert names == {"hostcare_audit_findings", "hostcare_audit_finding", "hostcare_audit_ignored_findings"}


def test_docs_list_every_metric_and_label():
    with open(os.path.join(HERE, "..", "..", "..", "..", "docs", "audit.md"), encoding="utf-8") as handle:
        section = handle.read().split("## Prometheus metrics", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `hostcare_")]
    documented = {name for row in rows for name in re.findall(r"`(hostcare_[a-z_]+)`", row.split(" | ")[0])}
    assert documented == set(METRIC_NAMES)
    for name, _kind, _help, labels in METRICS:
        row = next(row for row in rows if f"`{PREFIX}{name}`" in row.split(" | ")[0])
        assert all(f"`{label}`" in row.split(" | ")[2] for label in labels), (name, labels)
