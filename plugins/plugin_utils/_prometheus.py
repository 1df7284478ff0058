# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""The audit as Prometheus metrics: one host report in, the text of a node_exporter textfile (``*.prom``) out.

Conventions (https://prometheus.io/docs/practices/naming/): every name starts with ``hostcare_``, base units in the
name (``_bytes``, ``_seconds``, ``_ratio``), HELP and TYPE lines, label values escaped, no sample timestamps (the
time of the audit is a gauge, ``hostcare_audit_last_run_timestamp_seconds``), the same order on every run.

Every value is one the report already holds or the one function of the audit computes (the RAM is
_audit_host.system_ram, the worst filesystem use _audit_host.use_percent on its real filesystems, Docker's
reclaimable bytes and PostgreSQL's memory model the evidence of their findings): nothing is computed twice.

The label that names what a finding is about is ``finding_instance``, not ``instance``: Prometheus sets
``instance`` on every scraped series (the target) and renames a scraped ``instance`` label to ``exported_instance``.
For the same reason PostgreSQL's instance is ``postgres_instance``.

Pure functions, no I/O.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import SEVERITIES, as_dict, as_list, as_number
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_host import real_filesystems, system_ram, use_percent
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import ReportError, check_report

PREFIX = "hostcare_"

SUBJECT_KEYS = ("instance", "container", "unit", "mount", "path")
"""The evidence keys that say what a finding is about (the first one present with a text value): its
``finding_instance`` label. Findings of the same id about different things are different series."""

DOCKER_RECLAIMABLE_IDS = ("docker.reclaimable", "docker.reclaimable_ok")
POSTGRES_MODEL_IDS = ("postgres.memory_ok", "postgres.memory_overcommit")

GENERATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""The report's generated_at (audit_report's clock, UTC)."""

METRICS = (
    ("audit_findings", "gauge", "Findings of the last audit by severity (ignored findings not counted).",
     ("severity",)),
    ("audit_finding", "gauge", "An open finding of the last audit (severity critical, warning or info): the number "
     "of findings with these labels, usually 1.", ("id", "severity", "finding_instance")),
    ("audit_ignored_findings", "gauge", "Findings of the last audit accepted as known risks (audit_ignore).", ()),
    ("audit_last_run_timestamp_seconds", "gauge", "When the last audit ran, in seconds since the Unix epoch.", ()),
    ("ram_bytes", "gauge", "RAM the audit sizes for: MemTotal, or the container's memory limit when lower.", ()),
    ("swap_bytes", "gauge", "Active swap (SwapTotal).", ()),
    ("swap_used_bytes", "gauge", "Swap in use (SwapTotal - SwapFree).", ()),
    ("filesystem_worst_use_ratio", "gauge", "Use of the fullest real filesystem as df's Use% counts it (0 to 1), "
     "labelled with its mount point.", ("mount",)),
    ("docker_reclaimable_bytes", "gauge", "What a Docker cleanup could free: images no container uses, stopped "
     "containers' layers and build cache.", ()),
    ("postgres_memory_model_bytes", "gauge", "PostgreSQL's worst-case memory (the audit's memory model).",
     ("postgres_instance",)),
    ("postgres_memory_model_ratio", "gauge", "PostgreSQL's worst-case memory as a share of RAM (0 to 1), the "
     "share postgres.memory_overcommit judges.", ("postgres_instance",)),
    ("container_restarts", "gauge", "Restarts of a Docker container by its restart policy (Docker's RestartCount; "
     "0 again when the container is re-created).", ("container",)),
    ("systemd_unit_restarts", "gauge", "Restarts of a systemd unit by Restart= (NRestarts) since it was started.",
     ("unit",)),
)
"""(name without the prefix, type, help, label names): every metric, in the order they are written."""

METRIC_NAMES = tuple(PREFIX + name for name, _kind, _help, _labels in METRICS)


class PrometheusError(ReportError):
    """Input that is not a host report (a ReportError: the action reports both the same way)."""


# --------------------------------------------------------------------------------------------- text format


def escape_label_value(value):
    """A label value in the text format: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text):
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value):
    """A sample value: whole numbers as integers, others as Python's shortest float repr (Go parses both)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PrometheusError(f"a sample value must be a number, got {value!r}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)


def _sample_line(name, labels, value):
    pairs = ",".join(f'{key}="{escape_label_value(text)}"' for key, text in labels if text is not None)
    return f"{name}{{{pairs}}} {format_value(value)}" if pairs else f"{name} {format_value(value)}"


def render_text(samples):
    """The text exposition of ``samples`` {metric name without prefix: [(labels ((name, value), ...), value)]}:
    the metrics in METRICS order, each with HELP and TYPE, its samples sorted by labels; metrics without samples
    are left out."""
    lines = []
    for name, kind, help_text, _labels in METRICS:
        rows = samples.get(name) or []
        if not rows:
            continue
        full = PREFIX + name
        lines.append(f"# HELP {full} {_escape_help(help_text)}")
        lines.append(f"# TYPE {full} {kind}")
        for labels, value in sorted(rows, key=lambda row: [(key, str(text)) for key, text in row[0]]):
            lines.append(_sample_line(full, labels, value))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- values


def finding_subject(finding):
    """What a finding is about (its evidence's instance, container, unit, mount or path), or None."""
    evidence = as_dict(finding.get("evidence"))
    for key in SUBJECT_KEYS:
        value = evidence.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def last_run_timestamp(report):
    """The report's generated_at as seconds since the epoch, or None when it has none."""
    text = report.get("generated_at")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.strptime(text, GENERATED_AT_FORMAT)
    except ValueError:
        return None
    return int(moment.replace(tzinfo=datetime.timezone.utc).timestamp())


def _evidence_of(report, ids):
    """The evidence of the findings (open or ignored) with one of ``ids``, in report order."""
    found = []
    for finding in list(report.get("findings") or []) + list(_ignored(report)):
        if isinstance(finding, Mapping) and finding.get("id") in ids:
            found.append(as_dict(finding.get("evidence")))
    return found


def _ignored(report):
    """The findings the audit was told to ignore (issue 16's audit_ignore); [] before it exists."""
    ignored = report.get("ignored", [])
    return [item for item in ignored if isinstance(item, Mapping)] if isinstance(ignored, (list, tuple)) else []


def _worst_filesystem(facts):
    """(mount, use ratio) of the fullest real filesystem (df's Use%, as the disk rules judge it), or None."""
    worst = None
    for item in real_filesystems(facts):
        used = use_percent(item)
        if used is not None and (worst is None or used > worst[1]):
            worst = (item["mount"], used)
    return None if worst is None else (worst[0], _ratio(worst[1]))


def _ratio(percent_value):
    """A percentage of the report (rounded to 0.1) as a ratio, without float noise (53.2 -> 0.532)."""
    return round(percent_value / 100.0, 6)


def metric_samples(report, facts=None):
    """{metric name without prefix: [(labels, value)]} of one host report (``facts``: the facts it was built from,
    by default the report's own)."""
    try:
        kind = check_report(report)
    except ReportError as error:
        raise PrometheusError(str(error)) from None
    if kind != "host":
        raise PrometheusError("expected a host report (kind: host), got a fleet summary")
    facts = as_dict(report.get("facts") if facts is None else facts)
    samples = {name: [] for name, _kind, _help, _labels in METRICS}

    counts = as_dict(report.get("counts"))
    samples["audit_findings"] = [((("severity", name),), int(counts.get(name, 0))) for name in SEVERITIES]
    open_series = {}
    for finding in report.get("findings") or []:
        if finding.get("severity") == "ok":
            continue
        # always the three labels ("" when the finding is about no one thing: node_exporter fills a missing one so)
        key = (("id", finding["id"]), ("severity", finding["severity"]),
               ("finding_instance", finding_subject(finding) or ""))
        open_series[key] = open_series.get(key, 0) + 1
    samples["audit_finding"] = sorted(open_series.items())
    samples["audit_ignored_findings"] = [((), len(_ignored(report)))]
    timestamp = last_run_timestamp(report)
    if timestamp is not None:
        samples["audit_last_run_timestamp_seconds"] = [((), timestamp)]

    ram, _source = system_ram(facts)
    if ram is not None:
        samples["ram_bytes"] = [((), ram)]
    swap = as_dict(as_dict(facts.get("swap")).get("swap"))
    for name, key in (("swap_bytes", "total_bytes"), ("swap_used_bytes", "used_bytes")):
        value = as_number(swap.get(key))
        if value is not None:
            samples[name] = [((), value)]
    worst = _worst_filesystem(facts)
    if worst is not None:
        samples["filesystem_worst_use_ratio"] = [((("mount", worst[0]),), worst[1])]

    for evidence in _evidence_of(report, DOCKER_RECLAIMABLE_IDS)[:1]:
        value = as_number(evidence.get("reclaimable_bytes"))
        if value is not None:
            samples["docker_reclaimable_bytes"] = [((), value)]
    seen = set()
    for evidence in _evidence_of(report, POSTGRES_MODEL_IDS):
        label = evidence.get("instance")
        if "instances" in evidence or not isinstance(label, str) or label in seen:
            continue  # the sum of several instances has its own finding; each instance is a series
        seen.add(label)
        labels = (("postgres_instance", label),)
        if as_number(evidence.get("model_bytes")) is not None:
            samples["postgres_memory_model_bytes"].append((labels, evidence["model_bytes"]))
        if as_number(evidence.get("model_percent")) is not None:
            samples["postgres_memory_model_ratio"].append((labels, _ratio(evidence["model_percent"])))

    workload = as_dict(facts.get("workload"))
    restarts = {}
    for item in as_list(as_dict(workload.get("docker")).get("containers")):
        count = as_number(item.get("restart_count"))
        if isinstance(item.get("name"), str) and count is not None:
            restarts[item["name"]] = max(count, restarts.get(item["name"], 0))
    samples["container_restarts"] = [((("container", name),), count) for name, count in restarts.items()]
    units = {}
    systemd = as_dict(workload.get("systemd"))
    for item in as_list(systemd.get("restarted")) + as_list(systemd.get("failed")):
        count = as_number(item.get("restarts"))
        if isinstance(item.get("unit"), str) and count is not None:
            units[item["unit"]] = max(count, units.get(item["unit"], 0))
    samples["systemd_unit_restarts"] = [((("unit", name),), count) for name, count in units.items()]
    return samples


def render_textfile(report, facts=None):
    """The node_exporter textfile (``*.prom``) of one host report."""
    return render_text(metric_samples(report, facts=facts))
