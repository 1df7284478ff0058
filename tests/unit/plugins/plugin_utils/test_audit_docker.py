# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker rules of the audit (plugins/plugin_utils/_audit_docker.py) on hostcare_docker facts."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    FINDING_KEYS,
    RISKS,
    SEVERITIES,
    build_findings,
)
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_docker import repository_of, short_id
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit_fixes import daemon_json_command
from ansible_collections.hostcare.vps.plugins.plugin_utils._report import build_host_report, render_markdown
from ansible_collections.hostcare.vps.plugins.module_utils._swap_sizing import GIB, MIB

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "audit")
DAY = 86400
DOCKER_FIXTURES = ["docker_bloated", "docker_clean", "docker_recorded_api141", "docker_recorded_api145"]
UNAVAILABLE_CODES = ["no_socket", "not_a_socket", "permission_denied", "connection_refused", "connection_error",
                     "timeout", "api_error", "unsupported_api"]


def load(name):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def host(docker="docker_bloated"):
    return {"swap": load("swap_healthy"), "disk": load("disk_healthy"),
            "docker": load(docker) if isinstance(docker, str) else docker}


def unavailable(code, reason="why"):
    keys = ["daemon", "totals", "images", "dangling_images", "unused_images", "old_tags", "keep", "containers",
            "stopped_containers", "volumes"]
    return {"available": False, "reason_code": code, "reason": reason, **dict.fromkeys(keys)}


def ids(findings):
    return [f["id"] for f in findings]


def docker_ids(findings):
    return [f["id"] for f in findings if f["id"].startswith("docker.")]


def one(findings, finding_id):
    matches = [f for f in findings if f["id"] == finding_id]
    assert len(matches) == 1, (finding_id, ids(findings))
    return matches[0]


def with_totals(unused=0, stopped=0, cache=0):
    facts = host("docker_clean")
    totals = facts["docker"]["totals"]
    totals["images"]["unused_bytes"] = unused
    totals["containers"]["reclaimable_bytes"] = stopped
    totals["build_cache"]["reclaimable_bytes"] = cache
    return facts


# --------------------------------------------------------------------------------------------- shape


@pytest.mark.parametrize("name", DOCKER_FIXTURES)
def test_findings_have_the_documented_shape_and_safe_commands(name):
    findings = build_findings(host(name))
    assert "audit.rule_failed" not in ids(findings)
    for item in findings:
        assert tuple(item) == FINDING_KEYS
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", item["id"])
        assert item["severity"] in SEVERITIES and item["risk"] in RISKS
        assert item["title"] and "\n" not in item["title"] and "\n" not in item["summary"]
        for key, value in item["evidence"].items():
            if key.endswith("_bytes") and key[:-6] in item["evidence"]:
                assert value is None or isinstance(value, int), (item["id"], key)
        # what runs (comments may name what the command avoids)
        command = "\n".join(line.split("#", 1)[0] for line in (item["fix"]["command"] or "").splitlines())
        for forbidden in ("prune -a", "prune --all", "--force", " -f ", "volume rm", "volume prune", "rm -rf",
                          "system prune", "--volumes", "rmi -f"):
            assert forbidden not in command, (item["id"], forbidden)
        if item["id"] in CLEANUP_FINDINGS:
            assert item["fix"]["role"] == "hostcare.vps.docker_cleanup" and item["fix"]["planned_role"] is None
            assert "hostcare_docker_cleanup_" in item["recommendation"]  # names the variables that fix it
        elif item["id"] in ("docker.logs_uncapped", "docker.daemon_log_opts"):
            assert item["fix"]["role"] == "hostcare.vps.logrotate"
            assert "#   hostcare_logrotate_docker_max_size: " in item["fix"]["command"]
        elif item["id"].startswith("docker.") and item["severity"] != "ok":
            assert item["fix"]["role"] is None
    json.dumps(findings)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("name", DOCKER_FIXTURES)
def test_fix_commands_are_valid_shell(name):
    commands = [f["fix"]["command"] for f in build_findings(host(name)) if f["fix"]["command"]]
    for command in commands:
        result = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (command, result.stderr)


def test_bloated_host_findings():
    findings = build_findings(host())
    assert [(f["id"], f["severity"]) for f in findings if f["id"].startswith("docker.")] == [
        ("docker.reclaimable", "warning"),
        ("docker.stopped_containers", "warning"),
        ("docker.logs_uncapped", "warning"),
        ("docker.daemon_log_opts", "warning"),
        ("docker.old_tags", "info"),
        ("docker.dangling_images", "info"),
        ("docker.unused_volumes", "info"),
    ]


def test_clean_host_is_all_ok():
    findings = build_findings(host("docker_clean"))
    assert [(f["id"], f["severity"]) for f in findings if f["id"].startswith("docker.")] == [
        ("docker.reclaimable_ok", "ok"), ("docker.logs_ok", "ok"), ("docker.daemon_log_opts_ok", "ok")]


CLEANUP_FINDINGS = ("docker.reclaimable", "docker.old_tags", "docker.dangling_images", "docker.stopped_containers")


def test_planned_roles():
    findings = build_findings(host())
    for finding_id in CLEANUP_FINDINGS:
        assert one(findings, finding_id)["fix"] == {
            "role": "hostcare.vps.docker_cleanup", "command": one(findings, finding_id)["fix"]["command"],
            "planned_role": None}
    assert "hostcare_docker_cleanup_keep: 3" in one(findings, "docker.old_tags")["recommendation"]
    assert "hostcare_docker_cleanup_containers_older_than: 7d" in one(findings, "docker.stopped_containers")["recommendation"]
    for finding_id in ("docker.logs_uncapped", "docker.daemon_log_opts"):
        finding = one(findings, finding_id)
        assert finding["fix"]["role"] == "hostcare.vps.logrotate" and finding["fix"]["planned_role"] is None
        assert finding["evidence"]["role_vars"] == {"hostcare_logrotate_docker_max_size": "10m",
                                                    "hostcare_logrotate_docker_max_file": 3}
    assert one(findings, "docker.unused_volumes")["fix"]["planned_role"] is None


def test_the_facts_are_not_modified():
    facts = host()
    before = copy.deepcopy(facts)
    build_findings(facts)
    assert facts == before


# --------------------------------------------------------------------------------------------- availability


@pytest.mark.parametrize("code", UNAVAILABLE_CODES)
def test_unavailable_docker_is_one_info_finding_with_the_reason(code):
    findings = build_findings(host(unavailable(code, f"reason for {code}")))
    assert docker_ids(findings) == ["docker.unavailable"]
    item = one(findings, "docker.unavailable")
    assert item["severity"] == "info"
    assert item["title"] == f"Docker not checked: {code}"
    assert f"reason for {code}" in item["summary"]
    assert item["evidence"] == {"reason_code": code, "reason": f"reason for {code}"}


def test_permission_denied_suggests_become():
    item = one(build_findings(host(unavailable("permission_denied"))), "docker.unavailable")
    assert "--become" in item["recommendation"]


def test_docker_not_installed_is_simply_said():
    findings = build_findings(host(unavailable("not_installed", "no docker binary and no socket")))
    assert docker_ids(findings) == ["docker.not_installed"]
    item = one(findings, "docker.not_installed")
    assert (item["severity"], item["title"]) == ("info", "Docker not installed")


def test_without_docker_key_docker_is_not_audited():
    findings = build_findings({"swap": load("swap_healthy"), "disk": load("disk_healthy")})
    assert not docker_ids(findings)
    assert "facts.docker_unavailable" not in ids(findings)


def test_docker_module_failure_becomes_facts_unavailable():
    facts = host(None)
    facts["errors"] = {"docker": "Permission denied: '/var/run/docker.sock'"}
    findings = build_findings(facts)
    item = one(findings, "facts.docker_unavailable")
    assert item["evidence"] == {"module": "hostcare.vps.docker_bloat_facts",
                                "error": "Permission denied: '/var/run/docker.sock'"}
    assert "--become" in item["recommendation"]
    assert not docker_ids(findings)


def test_partial_or_junk_docker_facts_never_crash():
    junk = {"available": True, "daemon": None, "totals": {"images": "x"}, "old_tags": [None, {"names": None}],
            "dangling_images": "nope", "stopped_containers": [{"name": 5}], "containers": [{"log": "x"}, None],
            "volumes": [{"in_use": False}]}
    findings = build_findings(host(junk))
    assert "audit.rule_failed" not in ids(findings)


# --------------------------------------------------------------------------------------------- reclaimable


@pytest.mark.parametrize("total, expected, severity", [
    (0, "docker.reclaimable_ok", "ok"),
    (1 * GIB, "docker.reclaimable_ok", "ok"),
    (1 * GIB + 1, "docker.reclaimable", "info"),
    (5 * GIB, "docker.reclaimable", "info"),
    (5 * GIB + 1, "docker.reclaimable", "warning"),
])
def test_reclaimable_thresholds(total, expected, severity):
    item = one(build_findings(with_totals(unused=total)), expected)
    assert item["severity"] == severity
    assert item["evidence"]["reclaimable_bytes"] == total


def test_reclaimable_adds_unused_images_stopped_containers_and_build_cache():
    facts = with_totals(unused=3 * GIB, stopped=2 * GIB, cache=512 * MIB)
    item = one(build_findings(facts), "docker.reclaimable")
    assert item["severity"] == "warning"
    assert item["evidence"]["reclaimable_bytes"] == 5 * GIB + 512 * MIB
    assert item["title"] == ("Docker could free 5.5 GiB (unused images 3.0 GiB, stopped containers 2.0 GiB, "
                             "build cache 512.0 MiB)")
    assert "docker builder prune --filter until=168h" in item["fix"]["command"]
    assert item["risk"] == "safe"


def test_reclaimable_evidence_per_category():
    facts = host()
    totals = facts["docker"]["totals"]
    evidence = one(build_findings(facts), "docker.reclaimable")["evidence"]
    assert evidence["images_unused_bytes"] == totals["images"]["unused_bytes"]
    assert evidence["images_reclaimable_bytes"] == totals["images"]["reclaimable_bytes"]  # docker system df
    assert evidence["images_dangling_bytes"] == totals["images"]["dangling_bytes"]
    assert evidence["images_old_tags_bytes"] == totals["images"]["old_tags_bytes"]
    assert evidence["containers_reclaimable_bytes"] == totals["containers"]["reclaimable_bytes"]
    assert evidence["build_cache_reclaimable_bytes"] == totals["build_cache"]["reclaimable_bytes"]
    assert evidence["volumes_unused_bytes"] == 3 * GIB + 10 * MIB  # reported, not counted
    assert evidence["reclaimable_bytes"] == (totals["images"]["unused_bytes"]
                                             + totals["containers"]["reclaimable_bytes"]
                                             + totals["build_cache"]["reclaimable_bytes"])
    assert "docker.unused_volumes" in one(build_findings(facts), "docker.reclaimable")["summary"]


def test_no_build_cache_no_builder_prune():
    item = one(build_findings(with_totals(unused=2 * GIB)), "docker.reclaimable")
    assert "builder prune" not in item["fix"]["command"]
    assert item["title"] == "Docker could free 2.0 GiB (unused images 2.0 GiB)"


def test_reclaimable_thresholds_are_configurable():
    facts = with_totals(unused=600 * MIB)
    item = one(build_findings(facts, thresholds={"docker_reclaimable_info_bytes": "100M",
                                                 "docker_reclaimable_warning_bytes": "500M"}), "docker.reclaimable")
    assert item["severity"] == "warning"


# --------------------------------------------------------------------------------------------- images


def test_old_tags_name_every_tag_and_their_repository():
    item = one(build_findings(host()), "docker.old_tags")
    assert item["severity"] == "info"  # 780 MiB <= 1 GiB
    evidence = item["evidence"]
    assert evidence["old_tags"] == ["app:v2", "app:v1", "app:v0"]
    assert evidence["repositories"] == [{"repository": "app", "count": 3, "tags": ["app:v2", "app:v1", "app:v0"]}]
    assert evidence["untag_only"] == ["app:v0"]
    assert evidence["image_ids"] == ["a2a2a2a2a2a2", "a1a1a1a1a1a1"]
    assert evidence["keep"] == 3
    assert evidence["size_bytes"] == 780 * MIB
    assert item["fix"]["command"].endswith("docker image rm app:v2 app:v1 app:v0")
    assert item["risk"] == "caution"
    assert "rollback" in item["recommendation"]


@pytest.mark.parametrize("size, severity", [(1 * GIB, "info"), (1 * GIB + 1, "warning")])
def test_old_tags_severity_by_size(size, severity):
    facts = host()
    facts["docker"]["old_tags"] = [{"kind": "image", "id": "sha256:" + "ab" * 32, "names": ["web:1"],
                                    "size_bytes": size, "rules": ["beyond_keep"], "reason": "x"}]
    assert one(build_findings(facts), "docker.old_tags")["severity"] == severity


def test_no_old_tags_no_finding():
    assert "docker.old_tags" not in ids(build_findings(host("docker_clean")))


def test_many_old_tags_make_a_continued_command():
    facts = host()
    facts["docker"]["old_tags"] = [{"kind": "image", "id": f"sha256:{index:064x}",
                                    "names": [f"ghcr.io/acme/web:{index}"], "size_bytes": 1000,
                                    "rules": ["beyond_keep"], "reason": "x"} for index in range(9)]
    item = one(build_findings(facts), "docker.old_tags")
    command = item["fix"]["command"]
    assert "docker image rm \\\n  ghcr.io/acme/web:0 ghcr.io/acme/web:1" in command
    assert command.count("ghcr.io/acme/web:") == 9
    assert item["evidence"]["repositories"][0]["repository"] == "ghcr.io/acme/web"


@pytest.mark.parametrize("api", ["141", "145"])
def test_recorded_daemons(api):
    findings = build_findings(host(f"docker_recorded_api{api}"))
    old = one(findings, "docker.old_tags")
    assert old["evidence"]["old_tags"] == ["hcbloat-app:v1", "hcbloat-app:v0"]
    assert old["evidence"]["untag_only"] == ["hcbloat-app:v1"]
    dangling = one(findings, "docker.dangling_images")
    assert dangling["evidence"]["count"] == 1 and dangling["evidence"]["size_bytes"] == 70000
    assert "docker.stopped_containers" not in ids(findings)  # stopped 2 seconds before the recording
    volumes = one(findings, "docker.unused_volumes")
    assert volumes["evidence"]["names"] == ["hcbloat-orphan"]
    assert one(findings, "docker.reclaimable_ok")["evidence"]["images_reclaimable_bytes"] == \
        load(f"docker_recorded_api{api}")["totals"]["images"]["reclaimable_bytes"]
    if api == "141":  # no daemon.json on that daemon
        assert one(findings, "docker.daemon_log_opts")["severity"] == "warning"
        logs = one(findings, "docker.logs_uncapped")
        assert logs["evidence"]["containers"] == ["hcbloat-stopped"]  # hcbloat-created never wrote a log file
        assert logs["severity"] == "info"
    else:
        title = one(findings, "docker.daemon_log_opts_ok")["title"]
        assert title == "Docker's default container log limit: max-size 10m"
        assert "docker.logs_ok" in ids(findings)


def test_dangling_images_are_removed_by_id():
    item = one(build_findings(host()), "docker.dangling_images")
    assert item["evidence"]["image_ids"] == ["d1d1d1d1d1d1", "d2d2d2d2d2d2"]
    assert item["fix"]["command"].endswith("docker image rm d1d1d1d1d1d1 d2d2d2d2d2d2")
    assert item["title"] == "2 dangling images (600.0 MiB)"
    assert item["severity"] == "info"


def test_short_id_and_repository_of():
    assert short_id("sha256:" + "9c" * 32) == "9c9c9c9c9c9c"
    assert short_id("abcdef0123456789") == "abcdef012345"
    assert repository_of("app:v1") == "app"
    assert repository_of("registry:5000/team/app:v1") == "registry:5000/team/app"
    assert repository_of("registry:5000/team/app") == "registry:5000/team/app"


# --------------------------------------------------------------------------------------------- containers


def with_stopped(seconds, size=10 * MIB):
    facts = host("docker_clean")
    facts["docker"]["stopped_containers"] = [{"id": "ab" * 32, "name": "old-job", "image": "app:v1", "state": "exited",
                                              "stopped_seconds": seconds, "size_rw_bytes": size}]
    return facts


@pytest.mark.parametrize("seconds, listed", [(7 * DAY - 1, False), (7 * DAY, True), (90 * DAY, True)])
def test_stopped_containers_older_than_a_week(seconds, listed):
    assert ("docker.stopped_containers" in ids(build_findings(with_stopped(seconds)))) is listed


def test_stopped_containers_command_and_evidence():
    item = one(build_findings(host()), "docker.stopped_containers")
    assert item["evidence"]["names"] == ["backup-job"]  # migrate stopped 2 days ago
    assert item["evidence"]["containers"][0]["stopped_days"] == 30.0
    assert item["evidence"]["size_bytes"] == 1536 * MIB
    assert item["severity"] == "warning"
    command = item["fix"]["command"]
    assert "docker container diff backup-job" in command
    assert command.endswith("docker container rm backup-job")
    assert "writable layer" in item["recommendation"]
    assert item["risk"] == "caution"


@pytest.mark.parametrize("size, severity", [(1 * GIB, "info"), (1 * GIB + 1, "warning")])
def test_stopped_containers_severity(size, severity):
    assert one(build_findings(with_stopped(30 * DAY, size)), "docker.stopped_containers")["severity"] == severity


def test_stopped_days_is_configurable():
    facts = with_stopped(2 * DAY)
    assert "docker.stopped_containers" in ids(build_findings(facts, thresholds={"docker_stopped_min_days": 1}))
    assert "docker.stopped_containers" in ids(build_findings(facts, thresholds={"docker_stopped_min_days": 1.5}))
    assert "docker.stopped_containers" not in ids(build_findings(facts, thresholds={"docker_stopped_min_days": 3}))


# --------------------------------------------------------------------------------------------- logs


def with_log(size, capped=False, driver="json-file", error=None):
    facts = host("docker_clean")
    log = facts["docker"]["containers"][0]["log"]
    log.update({"driver": driver, "size_bytes": size, "capped": capped, "error": error,
                "max_size": "10m" if capped else None})
    if driver != "json-file":
        log.update({"path": None, "capped": None})
    return facts


@pytest.mark.parametrize("size, expected, severity", [
    (0, "docker.logs_uncapped", "info"),
    (100 * MIB, "docker.logs_uncapped", "info"),
    (100 * MIB + 1, "docker.logs_uncapped", "warning"),
])
def test_uncapped_logs(size, expected, severity):
    item = one(build_findings(with_log(size)), expected)
    assert item["severity"] == severity
    assert item["evidence"]["paths"] == [with_log(size)["docker"]["containers"][0]["log"]["path"]]
    assert ("truncate -s 0" in item["fix"]["command"]) is (severity == "warning")


def test_capped_and_journald_logs_are_ok():
    assert "docker.logs_ok" in ids(build_findings(with_log(500 * MIB, capped=True)))
    assert "docker.logs_ok" in ids(build_findings(with_log(None, driver="journald")))


def test_unreadable_log_sizes_say_become():
    item = one(build_findings(with_log(None, error="Permission denied")), "docker.logs_uncapped")
    assert item["severity"] == "info"
    assert "-b" in item["summary"]
    assert item["evidence"]["unreadable_containers"] == ["web"]


def test_biggest_logs_of_the_bloated_host():
    item = one(build_findings(host()), "docker.logs_uncapped")
    assert item["evidence"]["containers"] == ["web", "proxy", "backup-job", "migrate"]
    assert [row["container"] for row in item["evidence"]["biggest"]] == ["web", "proxy", "backup-job", "db", "migrate"]
    assert item["evidence"]["biggest"][3]["capped"] is True
    assert item["title"] == "4 container logs without max-size (3.6 GiB, biggest web 2.5 GiB)"
    assert item["fix"]["command"].count("sudo truncate -s 0 ") == 3  # web, proxy, backup-job > 100 MiB
    assert "max-size=10m --log-opt max-file=3" in item["fix"]["command"]


# --------------------------------------------------------------------------------------------- daemon


def with_daemon(**changes):
    facts = host("docker_clean")
    facts["docker"]["daemon"].update(changes)
    return facts


@pytest.mark.parametrize("changes, expected, severity", [
    ({"log_opts": {}, "log_opts_source": "absent"}, "docker.daemon_log_opts", "warning"),
    ({"log_opts": {"max-file": "5"}, "log_opts_source": "daemon.json"}, "docker.daemon_log_opts", "warning"),
    ({"log_opts": {"max-size": "-1"}, "log_opts_source": "daemon.json"}, "docker.daemon_log_opts", "warning"),
    ({"log_opts": {"max-size": "50m"}, "log_opts_source": "daemon.json"}, "docker.daemon_log_opts_ok", "ok"),
    ({"log_opts": {}, "log_opts_source": "absent", "log_driver": "local"}, "docker.daemon_log_opts_ok", "ok"),
    ({"log_opts": {}, "log_opts_source": "absent", "log_driver": "journald"}, "docker.daemon_log_opts_ok", "ok"),
    ({"log_opts": None, "log_opts_source": "invalid"}, "docker.daemon_json_invalid", "warning"),
    ({"log_opts": None, "log_opts_source": "unreadable"}, "docker.daemon_json_unreadable", "info"),
])
def test_daemon_log_opts(changes, expected, severity):
    findings = build_findings(with_daemon(**changes))
    assert one(findings, expected)["severity"] == severity
    assert len([i for i in docker_ids(findings) if i.startswith("docker.daemon")]) == 1


def test_daemon_json_is_created_only_when_absent():
    item = one(build_findings(with_daemon(log_opts={}, log_opts_source="absent")), "docker.daemon_log_opts")
    command = item["fix"]["command"]
    assert "if sudo test -e /etc/docker/daemon.json; then echo '/etc/docker/daemon.json exists: not overwritten'; exit 1; fi" in command
    assert "sudo tee /etc/docker/daemon.json" in command
    assert '"log-opts": {"max-size": "10m", "max-file": "3"}' in command
    # the restart is the user's, in a quiet moment: a comment, never run by pasting the block
    assert "#   sudo systemctl restart docker" in command
    assert not [line for line in command.splitlines() if "systemctl" in line and not line.startswith("#")]
    assert "live-restore" in command and "live-restore" in item["recommendation"]
    assert "Only containers created afterwards" in item["recommendation"]
    assert item["evidence"]["proposed_log_opts"] == {"max-size": "10m", "max-file": "3"}
    assert item["risk"] == "caution"


def test_existing_daemon_json_is_merged_not_overwritten():
    item = one(build_findings(with_daemon(log_opts={"max-file": "5"}, log_opts_source="daemon.json")),
               "docker.daemon_log_opts")
    command = item["fix"]["command"]
    assert "sudo test -e /etc/docker/daemon.json.hostcare-bak || sudo cp -p /etc/docker/daemon.json /etc/docker/daemon.json.hostcare-bak" in command
    assert 'options.setdefault("max-size", "10m")' in command
    assert "tee /etc/docker/daemon.json" not in command


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3")
def test_the_daemon_json_merge_keeps_other_settings(tmp_path):
    path = tmp_path / "daemon.json"
    path.write_text('{"live-restore": true, "log-opts": {"max-file": "5"}}')
    script = daemon_json_command("daemon.json", "10m", "3").split("sudo python3 - <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    script = script.replace('"/etc/docker/daemon.json"', repr(str(path)))
    subprocess.run(["python3", "-c", script], check=True)
    assert json.loads(path.read_text()) == {"live-restore": True, "log-opts": {"max-file": "5", "max-size": "10m"}}


def _paste(command, path, tmp_path, dockerd_help):
    """Run a daemon.json fix as pasted, with sudo left out, the file at ``path`` and a dockerd printing ``dockerd_help``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "dockerd").write_text(f"#!/bin/sh\n[ \"$1\" = --help ] && echo '{dockerd_help}' && exit 0\n"
                                     f"python3 -m json.tool \"$3\" >/dev/null && echo 'configuration OK'\n")
    (bin_dir / "dockerd").chmod(0o755)
    script = command.replace("sudo ", "").replace("/etc/docker/daemon.json", str(path))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, check=False)


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3")
@pytest.mark.parametrize("dockerd_help, checked", [
    ("Usage: dockerd [OPTIONS]", "valid JSON (this dockerd has no --validate)"),  # Debian 12's docker.io 20.10
    ("      --validate   Validate daemon configuration and exit", "configuration OK"),  # Docker 23+
])
def test_the_daemon_json_fixes_are_safe_to_paste_twice(tmp_path, dockerd_help, checked):
    """Pasted as printed: the file is created once (pasting again refuses and changes nothing), an existing one is
    merged with its first copy kept, the result is checked with what this dockerd offers, and nothing restarts."""
    created = tmp_path / "created.json"
    command = daemon_json_command("absent", "10m", "3")
    first = _paste(command, created, tmp_path, dockerd_help)
    assert first.returncode == 0, first.stderr
    assert checked in first.stdout
    text = created.read_text()
    assert json.loads(text) == {"log-opts": {"max-size": "10m", "max-file": "3"}}
    again = _paste(command, created, tmp_path, dockerd_help)
    assert again.returncode == 1 and "exists: not overwritten" in again.stdout
    assert created.read_text() == text

    merged = tmp_path / "merged.json"
    merged.write_text('{"live-restore": true}')
    command = daemon_json_command("daemon.json", "10m", "3")
    for paste_number in (1, 2):
        run = _paste(command, merged, tmp_path, dockerd_help)
        assert run.returncode == 0, f"paste {paste_number}: {run.stderr}"
        assert checked in run.stdout
    assert json.loads(merged.read_text()) == {"live-restore": True, "log-opts": {"max-size": "10m", "max-file": "3"}}
    assert (tmp_path / "merged.json.hostcare-bak").read_text() == '{"live-restore": true}'


def test_proposed_log_opts_follow_the_thresholds():
    item = one(build_findings(with_daemon(log_opts={}, log_opts_source="absent"),
                              thresholds={"docker_log_max_size_bytes": "50M", "docker_log_max_file": 5}),
               "docker.daemon_log_opts")
    assert item["evidence"]["proposed_log_opts"] == {"max-size": "50m", "max-file": "5"}


# --------------------------------------------------------------------------------------------- volumes


def test_unused_volumes_are_reported_never_deleted():
    item = one(build_findings(host()), "docker.unused_volumes")
    assert item["severity"] == "info" and item["risk"] == "safe"
    assert item["evidence"]["names"] == ["old-pgdata", "7f" * 32]
    assert item["evidence"]["size_bytes"] == 3 * GIB + 10 * MIB
    assert "never judged safe to delete" in item["recommendation"]
    assert "docker volume inspect old-pgdata" in item["fix"]["command"]
    assert " rm" not in item["fix"]["command"]


def test_volumes_in_use_are_not_reported():
    assert "docker.unused_volumes" not in ids(build_findings(host("docker_clean")))


# --------------------------------------------------------------------------------------------- report


def test_the_markdown_report_shows_the_docker_findings():
    facts = host()
    text = render_markdown(build_host_report("vps1", build_findings(facts), facts=facts))
    assert "`docker.old_tags`" in text
    assert "docker image rm app:v2 app:v1 app:v0" in text
    assert "- log opts: none" in text  # an empty dict reads as none
    assert "role `hostcare.vps.docker_cleanup`, or by hand:" in text
