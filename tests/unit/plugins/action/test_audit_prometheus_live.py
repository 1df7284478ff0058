# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's Prometheus textfile served by the REAL node_exporter (Debian's prometheus-node-exporter 1.5.0).

ansible-playbook playbooks/audit.yml audits this machine (local connection, as `make audit-py312` does) with
audit_prometheus_textfile in a temporary directory; node_exporter, started on a free loopback port with only its
textfile collector reading that directory, is scraped over HTTP: the series must be served with the values the
JSON report holds, and node_textfile_scrape_error must be 0. Also: under --check without
audit_prometheus_textfile_in_check no file is written (with it, one is), and a relative path is refused, naming the variable, before
anything is read or written.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
import urllib.request

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._prometheus import finding_subject, last_run_timestamp

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


def playbook(tmp, *args, extra=None):
    """Run playbooks/audit.yml on this machine from ``tmp``; the disk scan limited to ``tmp`` (fast)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="true", ANSIBLE_RETRY_FILES_ENABLED="false")
    variables = {"report_dir": str(tmp / "reports"), "audit_scan_paths": [str(tmp / "scan")], **(extra or {})}
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run([ansible_playbook, "-e", json.dumps(variables), *args,
                           os.path.join(REPO, "playbooks", "audit.yml")],
                          env=env, cwd=str(tmp), capture_output=True, text=True, timeout=600, check=False)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def node_exporter(tmp_path_factory):
    """(textfile directory, scrape()) of a node_exporter reading only that directory; killed afterwards."""
    if not os.access(NODE_EXPORTER, os.X_OK):
        pytest.fail(f"{NODE_EXPORTER} is missing: this test runs the real node_exporter. Install it with "
                    "`bash tests/scripts/ensure-test-packages.sh` (as root: apt-get install --no-install-recommends "
                    "prometheus-node-exporter).")
    directory = tmp_path_factory.mktemp("textfiles")
    port = free_port()
    log = open(directory.parent / "node_exporter.log", "w+", encoding="utf-8")  # pylint: disable=consider-using-with
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
         "--collector.textfile", f"--collector.textfile.directory={directory}"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/metrics"

    def scrape():
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310  (loopback)
            return answer.read().decode("utf-8")

    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                scrape()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"node_exporter did not answer on {url}: {log.read()[-2000:]}")
                time.sleep(0.2)
        yield directory, scrape
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')


def samples(text):
    """{(name, ((label, value), ...)): float} of a scrape."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE_RE.match(line)
        assert match, line
        labels = tuple(sorted((key, re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value))
                              for key, value in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                                           match.group(2) or "")))
        found[(match.group(1), labels)] = float(match.group(3))
    return found


def test_check_mode_writes_the_file_only_when_asked(tmp_path, node_exporter):
    directory, _scrape = node_exporter
    (tmp_path / "scan").mkdir()
    run = playbook(tmp_path, "--check", extra={"audit_prometheus_textfile": str(directory / "check.prom")})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert re.search(r"TASK \[Write the Prometheus metrics to audit_prometheus_textfile\] \*+\nskipping: \[localhost\]",
                     run.stdout), run.stdout[-3000:]
    assert os.listdir(directory) == []
    # asked for: written under --check too
    run = playbook(tmp_path, "--check", extra={"audit_prometheus_textfile": str(directory / "check.prom"),
                                               "audit_prometheus_textfile_in_check": True})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert os.listdir(directory) == ["check.prom"]
    assert "hostcare_audit_findings{severity=\"critical\"}" in (directory / "check.prom").read_text()
    (directory / "check.prom").unlink()


def test_a_relative_path_is_refused_before_anything_runs(tmp_path, node_exporter):
    directory, _scrape = node_exporter
    (tmp_path / "scan").mkdir()
    (tmp_path / "metrics").mkdir()
    run = playbook(tmp_path, extra={"audit_prometheus_textfile": "metrics/hostcare.prom"})
    assert run.returncode != 0
    assert ("hostcare.vps.prometheus_textfile: audit_prometheus_textfile: must be an absolute path (starting with /), "
            "got 'metrics/hostcare.prom'. Nothing was written.") in run.stdout, run.stdout[-3000:]
    assert "TASK [Check audit_prometheus_textfile, the one file the audit may write]" in run.stdout
    assert "TASK [Read " not in run.stdout  # stopped before the audit read anything
    assert sorted(os.listdir(tmp_path)) == ["metrics", "scan"] and os.listdir(tmp_path / "metrics") == []
    assert os.listdir(directory) == []


def test_node_exporter_serves_the_reports_values(tmp_path, node_exporter):
    directory, scrape = node_exporter
    (tmp_path / "scan").mkdir()
    path = directory / "hostcare.prom"
    run = playbook(tmp_path, extra={"audit_prometheus_textfile": str(path)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert os.listdir(directory) == ["hostcare.prom"] and stat.S_IMODE(path.stat().st_mode) == 0o644
    report = json.loads((tmp_path / "reports" / "localhost.json").read_text())
    served = samples(scrape())

    assert served[("node_textfile_scrape_error", ())] == 0
    assert ("node_textfile_mtime_seconds", (("file", str(path)),)) in served
    for severity, count in report["counts"].items():
        assert served[("hostcare_audit_findings", (("severity", severity),))] == count
    open_findings = [f for f in report["findings"] if f["severity"] != "ok"]
    assert open_findings, "this machine has no open finding to look for"
    for finding in open_findings:
        labels = {"id": finding["id"], "severity": finding["severity"], "finding_instance": finding_subject(finding) or ""}
        same = [f for f in open_findings if f["id"] == finding["id"] and f["severity"] == finding["severity"]
                and finding_subject(f) == finding_subject(finding)]
        assert served[("hostcare_audit_finding", tuple(sorted(labels.items())))] == len(same)
    served_open = sum(value for (name, _labels), value in served.items() if name == "hostcare_audit_finding")
    assert served_open == len(open_findings)

    ram = next(f["evidence"]["ram_bytes"] for f in report["findings"]
               if f["id"].startswith("swap.") and "ram_bytes" in f["evidence"])
    assert served[("hostcare_ram_bytes", ())] == ram
    assert served[("hostcare_swap_bytes", ())] == report["facts"]["swap"]["swap"]["total_bytes"]
    assert served[("hostcare_audit_last_run_timestamp_seconds", ())] == last_run_timestamp(report)
    assert abs(last_run_timestamp(report) - time.time()) < 600
    worst = [value for (name, _labels), value in served.items() if name == "hostcare_filesystem_worst_use_ratio"]
    assert len(worst) == 1 and 0 < worst[0] <= 1
    names = sorted({name for name, _labels in served if name.startswith("hostcare_")})
    print("metric names served by node_exporter:", " ".join(names))
