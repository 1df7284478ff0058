# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import http.server
import json
import os
import pwd
import re
import shutil
import socket
import socketserver
import tempfile
import threading
import time

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _docker
from ansible_collections.hostcare.vps.plugins.module_utils._docker import (
    DockerClient,
    DockerUnavailable,
    negotiate_api_version,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_facts import (
    build_docker_facts,
    gather_docker_facts,
    read_daemon_json,
    read_docker_inputs,
    read_log_usage,
    unavailable_facts,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import (
    container_log_path,
    describe_duration,
    describe_log,
    parse_docker_time,
    parse_log_opts,
    parse_volumes,
    repository_of,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_selection import (
    PolicyError,
    normalize_policy,
    select_removable,
    split_tags_by_keep,
)
from ansible_collections.hostcare.vps.tests.unit.plugins.modules.test_docker_connection import live_docker_client

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "docker")
API_DIRS = ["api-1.41", "api-1.45"]
DAY = 86400
NOW = 1_800_000_000


def load_recording(api_dir):
    """(inputs for build_docker_facts, recorded_at, `docker system df` text, `docker system df -v` text)."""
    base = os.path.join(FIXTURES, api_dir)

    def load(name):
        with open(os.path.join(base, name), encoding="utf-8") as handle:
            return handle.read() if name.endswith(".txt") else json.load(handle)

    meta = load("meta.json")
    inputs = {
        "version": load("version.json"),
        "info": load("info.json"),
        "df": load("system_df.json"),
        "inspections": load("containers_inspect.json"),
        "log_usage": load("log_files.json"),
        "daemon_json": {"text": meta["daemon_json"], "error": None if meta["daemon_json"] else "missing"},
    }
    return inputs, meta["recorded_at"], load("docker_system_df.txt"), load("docker_system_df_v.txt")


def human_size(size, precision=4):
    """go-units HumanSizeWithPrecision, as the docker CLI prints sizes (decimal units)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    value, index = float(size), 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.{precision}g}{units[index]}"


def table_rows(text, title=None):
    """Rows (lists of cells) of one table in `docker system df` output, cells split at 2+ spaces."""
    if title:
        text = text.split(title, 1)[1].lstrip("\n")
    lines = [line for line in text.split("\n\n", 1)[0].splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


# --- Recorded daemons ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("api_dir", API_DIRS)
def test_totals_are_what_docker_system_df_printed(api_dir):
    inputs, recorded_at, summary, _verbose = load_recording(api_dir)
    totals = build_docker_facts(inputs, now=recorded_at)["totals"]
    printed = {row[0]: row[1:] for row in table_rows(summary)}
    for label, key in (("Images", "images"), ("Containers", "containers"), ("Local Volumes", "volumes"),
                       ("Build Cache", "build_cache")):
        total = totals[key]
        reclaimable = human_size(total["reclaimable_bytes"])
        if key != "build_cache" and total["size_bytes"]:  # the CLI adds a percentage except for the build cache
            reclaimable += f" ({total['reclaimable_bytes'] * 100 // total['size_bytes']}%)"
        assert printed[label] == [str(total["count"]), str(total["active"]), human_size(total["size_bytes"]), reclaimable]


@pytest.mark.parametrize("api_dir", API_DIRS)
def test_each_image_container_and_volume_is_what_docker_system_df_v_printed(api_dir):
    inputs, recorded_at, _summary, verbose = load_recording(api_dir)
    facts = build_docker_facts(inputs, now=recorded_at)

    printed_images = {row[2]: row for row in table_rows(verbose, "Images space usage:")}
    assert len(printed_images) == len(facts["images"])
    for image in facts["images"]:
        row = printed_images[image["id"][len("sha256:"):][:12]]
        containers = len(image["running_containers"]) + len(image["stopped_containers"])
        assert row[4:] == [human_size(image["size_bytes"], 3), human_size(image["shared_size_bytes"]),
                           human_size(image["unique_size_bytes"]), str(containers)]
        assert row[0:2] == (image["repo_tags"][0].split(":") if image["repo_tags"] else ["<none>", "<none>"])

    printed_containers = {row[-1]: row for row in table_rows(verbose, "Containers space usage:")}
    assert sorted(printed_containers) == [container["name"] for container in facts["containers"]]
    for container in facts["containers"]:
        assert printed_containers[container["name"]][4] == human_size(container["size_rw_bytes"], 3)

    printed_volumes = {row[0]: row[1:] for row in table_rows(verbose, "Local Volumes space usage:")}
    assert printed_volumes == {
        volume["name"]: [str(len(volume["containers"])), human_size(volume["size_bytes"])] for volume in facts["volumes"]
    }


@pytest.mark.parametrize("api_dir", API_DIRS)
def test_recorded_daemon_facts(api_dir):
    inputs, recorded_at, _summary, _verbose = load_recording(api_dir)
    facts = build_docker_facts(inputs, now=recorded_at)
    names = {image["id"]: image["repo_tags"] for image in facts["images"]}

    assert facts["available"] is True and facts["reason_code"] is None and facts["keep"] == 3
    assert facts["daemon"]["api_version"] == api_dir[len("api-"):]
    assert facts["daemon"]["storage_driver"] == "overlay2" and facts["daemon"]["log_driver"] == "json-file"

    # The seeded daemon (tests/fixtures/docker/record.sh): app:v0..v5 a second apart, v1 also other:latest,
    # v2 used by a stopped container, v3 by a running one, v4 labelled, v5 by a created one, a dangling old v5.
    by_tag = {tag: image for image in facts["images"] for tag in image["repo_tags"]}
    assert by_tag["hcbloat-app:v3"]["running_containers"] == ["hcbloat-running"]
    assert by_tag["hcbloat-app:v2"]["stopped_containers"] == ["hcbloat-stopped"]
    assert by_tag["hcbloat-app:v5"]["stopped_containers"] == ["hcbloat-created"]
    assert by_tag["hcbloat-app:v4"]["labels"] == {"hostcare.keep": "true"}
    assert by_tag["hcbloat-app:v1"]["repo_tags"] == ["hcbloat-app:v1", "hcbloat-other:latest"]

    dangling = [image for image in facts["images"] if image["dangling"]]
    assert len(dangling) == 1 and dangling[0]["repo_tags"] == []
    assert [(entry["id"], entry["rules"], entry["size_bytes"]) for entry in facts["dangling_images"]] == [
        (dangling[0]["id"], ["dangling"], 70000)]
    # v5, v4, v3 are the newest 3; v2 is in use; v1 keeps other:latest, so only its app tag goes.
    assert [(entry["kind"], entry["names"], entry["size_bytes"]) for entry in facts["old_tags"]] == [
        ("tag", ["hcbloat-app:v1"], 0), ("image", ["hcbloat-app:v0"], 20000)]
    assert sorted(tuple(names[entry["id"]]) for entry in facts["unused_images"]) == sorted([
        ("hcbloat-cache:latest",), (), ("hcbloat-app:v4",), ("hcbloat-app:v1", "hcbloat-other:latest"), ("hcbloat-app:v0",),
        (inputs["df"]["Images"][-1]["RepoTags"][0],),  # the base image
    ])
    assert facts["totals"]["images"]["unused_bytes"] == 90000 + 70000 + 60000 + 30000 + 20000
    assert facts["totals"]["images"]["dangling_bytes"] == 70000
    assert facts["totals"]["images"]["old_tags_bytes"] == 20000

    containers = {container["name"]: container for container in facts["containers"]}
    assert containers["hcbloat-running"]["running"] is True and containers["hcbloat-running"]["stopped_seconds"] is None
    assert containers["hcbloat-running"]["log"]["capped"] is True
    assert containers["hcbloat-running"]["log"]["max_size"] == "1m" and containers["hcbloat-running"]["log"]["size_bytes"] > 0
    assert containers["hcbloat-stopped"]["state"] == "exited" and containers["hcbloat-stopped"]["finished_at"] <= recorded_at
    assert containers["hcbloat-stopped"]["size_rw_bytes"] == 10000
    assert containers["hcbloat-created"]["finished_at"] is None
    assert containers["hcbloat-created"]["log"]["path"] is None and containers["hcbloat-created"]["log"]["size_bytes"] == 0
    assert [item["name"] for item in facts["stopped_containers"]] == ["hcbloat-created", "hcbloat-stopped"]

    volumes = {volume["name"]: volume for volume in facts["volumes"]}
    assert volumes["hcbloat-data"]["containers"] == ["hcbloat-running"] and volumes["hcbloat-data"]["in_use"] is True
    assert volumes["hcbloat-orphan"]["in_use"] is False and volumes["hcbloat-orphan"]["size_bytes"] == 100000
    anonymous = [volume for volume in facts["volumes"] if volume["anonymous"]]
    assert [volume["containers"] for volume in anonymous] == [["hcbloat-stopped"]]


def test_log_opts_from_daemon_json_reach_new_containers():
    inputs, recorded_at, _summary, _verbose = load_recording("api-1.45")
    facts = build_docker_facts(inputs, now=recorded_at)
    assert facts["daemon"]["log_opts"] == {"max-size": "10m", "max-file": "3"}
    assert facts["daemon"]["log_opts_source"] == "daemon.json"
    assert facts["totals"]["logs"]["uncapped"] == 0
    inputs, recorded_at, _summary, _verbose = load_recording("api-1.41")
    facts = build_docker_facts(inputs, now=recorded_at)
    assert (facts["daemon"]["log_opts"], facts["daemon"]["log_opts_source"]) == ({}, "absent")
    assert facts["totals"]["logs"]["uncapped"] == 2  # the stopped and the never started container


def test_keep_and_the_images_list_option():
    inputs, recorded_at, _summary, _verbose = load_recording("api-1.41")
    facts = build_docker_facts(inputs, keep=1, include_images_list=False, now=recorded_at)
    assert facts["images"] is None and facts["keep"] == 1
    # Only v5 is current; v4 (labelled: labels do not protect in the report), v1 and v0 are old; v3, v2 in use.
    assert [entry["names"] for entry in facts["old_tags"]] == [["hcbloat-app:v4"], ["hcbloat-app:v1"], ["hcbloat-app:v0"]]
    facts = build_docker_facts(inputs, keep=0, now=recorded_at)
    assert [entry["kind"] for entry in facts["old_tags"]] == ["image"] * 5  # cache, v4, v1 (+other), v0, the base


def test_a_container_gone_before_its_inspect_has_no_log():
    inputs, recorded_at, _summary, _verbose = load_recording("api-1.41")
    gone = next(iter(inputs["inspections"]))
    del inputs["inspections"][gone]
    facts = build_docker_facts(inputs, now=recorded_at)
    assert [container["log"] for container in facts["containers"] if container["id"] == gone] == [None]


# --- Selection ----------------------------------------------------------------------------------------------

def image(image_id, tags=(), age_days=1.0, unique=1000, labels=None):
    return {"id": image_id, "repo_tags": list(tags), "created": NOW - int(age_days * DAY), "size_bytes": unique + 5000,
            "unique_size_bytes": unique, "labels": labels or {}}


def container(name, image_id, running=True, reference=None):
    return {"name": name, "image_id": image_id, "image": reference or image_id, "running": running}


def decisions(result):
    """{id or tag: rule(s)} of a select_removable result, for short asserts."""
    out = {}
    for entry in result["removable"]:
        out[entry["names"][0] if entry["kind"] == "tag" else entry["id"]] = (entry["kind"], entry["rules"])
    for entry in result["protected"]:
        out.setdefault(entry["id"], entry["rule"])
    return out


def test_images_in_use_are_never_touched_not_even_a_tag():
    images = [image("new", ["app:v3"], 1), image("mid", ["app:v2", "app:rollback"], 5), image("old", ["app:v1"], 9),
              image("none", [], 9)]
    containers = [container("web", "old"), container("job", "none", running=False)]
    result = select_removable(images, containers, {"keep": 1, "remove_unused_older_than_seconds": 0}, NOW)
    assert decisions(result) == {
        "new": "keep",
        "mid": ("image", ["beyond_keep", "unused"]),
        "old": "running_container",
        "none": "stopped_container",
    }
    protected = {entry["id"]: entry for entry in result["protected"]}
    assert protected["old"]["reason"] == "used by running container web"
    assert protected["none"]["reason"] == "used by stopped container job"


def test_a_container_protects_the_image_its_reference_names_now():
    images = [image("retagged", ["app:latest"], 1), image("original", [], 3)]
    containers = [container("web", "original", reference="app")]  # created from app:latest before it moved
    result = select_removable(images, containers, {"keep": 0, "remove_unused_older_than_seconds": 0}, NOW)
    assert decisions(result) == {"retagged": "running_container", "original": "running_container"}


def test_keep_counts_images_by_build_time_not_tags():
    images = [image("v4", ["app:latest", "app:v4"], 1), image("v3", ["app:v3"], 2), image("v2", ["app:v2"], 3),
              image("v1", ["app:v1"], 4), image("w1", ["registry:5000/app:v1"], 9)]
    kept, old = split_tags_by_keep(images, 2)
    assert kept == {"app:latest", "app:v4", "app:v3", "registry:5000/app:v1"}
    assert old == {"app:v2", "app:v1"}
    assert split_tags_by_keep(images, None) == (set(), set())
    assert split_tags_by_keep(images, 0)[0] == set()


def test_an_image_with_a_current_tag_elsewhere_only_loses_its_old_tag():
    images = [image("v2", ["app:v2"], 1), image("v1", ["app:v1", "base:stable"], 5)]
    result = select_removable(images, [], {"keep": 1, "remove_unused_older_than_seconds": 0}, NOW)
    assert result["removable"] == [{
        "kind": "tag", "id": "v1", "names": ["app:v1"], "size_bytes": 0, "rules": ["beyond_keep"],
        "reason": "not among the newest 1 images of app; the image keeps base:stable",
    }]
    assert [entry["rule"] for entry in result["protected"]] == ["keep", "keep"]


def test_the_newest_images_are_kept_even_when_unused_and_old():
    images = [image("v2", ["app:v2"], 30), image("v1", ["app:v1"], 40)]
    result = select_removable(images, [], {"keep": 1, "remove_unused_older_than_seconds": 7 * DAY}, NOW)
    assert decisions(result) == {"v2": "keep", "v1": ("image", ["beyond_keep", "unused"])}
    assert result["removable"][0]["reason"] == (
        "not among the newest 1 images of app; no container uses it, built 40 days ago")


def test_unused_images_by_age():
    images = [image("fresh", ["a:1"], 2), image("stale", ["b:1"], 10), image("loose", [], 2)]
    policy = {"keep": None, "remove_dangling": False, "remove_unused_older_than_seconds": 7 * DAY}
    result = select_removable(images, [], policy, NOW)
    assert decisions(result) == {"fresh": "too_recent", "stale": ("image", ["unused"]), "loose": "too_recent"}
    assert result["protected"][0]["reason"] == (
        "no container uses it, but it was built 2 days ago (unused images go after 7 days)")
    assert decisions(select_removable(images, [], {"keep": None, "remove_dangling": False}, NOW)) == {
        "fresh": "not_selected", "stale": "not_selected", "loose": "not_selected"}


def test_dangling_images():
    images = [image("loose", [], 0.5, unique=700)]
    assert select_removable(images, [], {}, NOW)["removable"] == [{
        "kind": "image", "id": "loose", "names": [], "size_bytes": 700, "rules": ["dangling"],
        "reason": "dangling (no tag)",
    }]
    result = select_removable(images, [], {"remove_dangling": False}, NOW)
    assert result["protected"] == [
        {"id": "loose", "names": [], "rule": "not_selected", "reason": "dangling, but remove_dangling is off"}]


def test_unknown_unique_size_falls_back_to_the_size():
    images = [dict(image("loose"), unique_size_bytes=None)]
    assert select_removable(images, [], {}, NOW)["removable"][0]["size_bytes"] == 6000


@pytest.mark.parametrize("policy, rule", [
    ({"protect_labels": {"hostcare.keep": True}}, "label"),  # YAML true matches Docker's label string "true"
    ({"protect_labels": {"hostcare.keep": "true"}}, "label"),
    ({"protect_labels": {"hostcare.keep": "false"}}, None),
    ({"protect_patterns": ["app:*"]}, "pattern"),
    ({"protect_patterns": ["*:v1"]}, "pattern"),
    ({"protect_patterns": ["other:*"]}, None),
])
def test_protection_by_label_and_pattern(policy, rule):
    images = [image("v2", ["app:v2"], 1), image("v1", ["app:v1"], 5, labels={"hostcare.keep": "true"})]
    result = select_removable(images, [], dict(policy, keep=1), NOW)
    assert decisions(result)["v1"] == (rule or ("image", ["beyond_keep"]))


def test_protection_reasons():
    images = [image("v1", ["app:v1"], 5, labels={"hostcare.keep": "1"})]
    assert select_removable(images, [], {"keep": 0, "protect_labels": {"hostcare.keep": 1}}, NOW)["protected"][0][
        "reason"] == "has the protecting label hostcare.keep=1"
    assert select_removable(images, [], {"keep": 0, "protect_patterns": ["app:v?"]}, NOW)["protected"][0][
        "reason"] == "app:v1 matches the protect pattern app:v?"


def test_the_default_policy():
    assert normalize_policy({}) == {
        "keep": 3, "remove_dangling": True, "remove_unused_older_than_seconds": None, "protect_labels": {},
        "protect_patterns": [], "remove_containers_older_than_seconds": None,
        "remove_build_cache_older_than_seconds": None, "remove_volumes": False, "protect_releases": {},
    }


@pytest.mark.parametrize("policy, message", [
    ([], "policy: expected a dict, got list"),
    ({"kep": 3}, "policy: unknown key 'kep'; expected keep, remove_dangling"),
    ({"keep": -1}, "policy.keep: must be an integer >= 0 or null, got -1"),
    ({"keep": True}, "policy.keep: must be an integer >= 0 or null, got True"),
    ({"keep": "3"}, "policy.keep: must be an integer >= 0 or null, got '3'"),
    ({"remove_dangling": "yes"}, "policy.remove_dangling: must be true or false, got 'yes'"),
    ({"remove_unused_older_than_seconds": -1}, "policy.remove_unused_older_than_seconds: must be a number >= 0"),
    ({"remove_unused_older_than_seconds": float("nan")}, "policy.remove_unused_older_than_seconds: must be a number"),
    ({"protect_labels": ["hostcare.keep"]}, "policy.protect_labels: expected a dict of label: value, got list"),
    ({"protect_labels": {"a": [1]}}, "policy.protect_labels: 'a': label names and values must be strings"),
    ({"protect_patterns": "app:*"}, "policy.protect_patterns: expected a list of patterns"),
    ({"protect_patterns": [1]}, "policy.protect_patterns: expected a list of patterns"),
])
def test_bad_policies_name_the_key(policy, message):
    with pytest.raises(PolicyError) as error:
        select_removable([], [], policy, NOW)
    assert message in str(error.value)


# --- Parsers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload, expected", [
    ({"ApiVersion": "1.41", "MinAPIVersion": "1.12"}, (1, 41)),
    ({"ApiVersion": "1.54", "MinAPIVersion": "1.40"}, (1, 51)),
    ({"ApiVersion": "1.52", "MinAPIVersion": "1.44"}, (1, 51)),
    ({"ApiVersion": "1.25"}, (1, 25)),
])
def test_api_version_negotiation(payload, expected):
    assert negotiate_api_version(payload) == expected


@pytest.mark.parametrize("payload, message", [
    ({"ApiVersion": "1.24", "MinAPIVersion": "1.12"}, "the Docker daemon speaks API 1.24; docker_bloat_facts needs 1.25 or newer"),
    ({"ApiVersion": "1.60", "MinAPIVersion": "1.55"}, "the Docker daemon requires API 1.55 or newer; docker_bloat_facts speaks up to 1.51"),
    ({"Version": "x"}, "the Docker daemon did not report its API version"),
    ({"ApiVersion": "one"}, "the Docker daemon did not report its API version"),
])
def test_unsupported_api_versions(payload, message):
    with pytest.raises(DockerUnavailable) as error:
        negotiate_api_version(payload)
    assert (error.value.code, str(error.value)) == ("unsupported_api", message + (" (GET /version)" if "report" in message else ""))


@pytest.mark.parametrize("text, expected", [
    ("2026-11-23T08:28:48.073797874Z", 1795422528.073797874),
    ("2026-11-23T08:28:48Z", 1795422528.0),
    ("2026-11-23T09:28:48.5+01:00", 1795422528.5),
    ("2026-11-23T06:28:48-02:00", 1795422528.0),
    ("0001-01-01T00:00:00Z", None),
    ("", None),
    (None, None),
    ("yesterday", None),
])
def test_parse_docker_time(text, expected):
    assert parse_docker_time(text) == (pytest.approx(expected, abs=1e-6) if expected else None)


@pytest.mark.parametrize("tag, repository", [
    ("app:v1", "app"),
    ("registry:5000/team/app:v1", "registry:5000/team/app"),
    ("registry:5000/app", "registry:5000/app"),
    ("docker.io/library/nginx:1.27", "docker.io/library/nginx"),
])
def test_repository_of(tag, repository):
    assert repository_of(tag) == repository


@pytest.mark.parametrize("seconds, text", [
    (0, "0 seconds"), (1, "1 second"), (59, "59 seconds"), (60, "1 minute"), (7200, "2 hours"), (86400, "1 day"),
    (10 * DAY + 5, "10 days"),
])
def test_describe_duration(seconds, text):
    assert describe_duration(seconds) == text


def _inspect(driver, options=None, log_path=""):
    return {"Id": "abc", "LogPath": log_path, "HostConfig": {"LogConfig": {"Type": driver, "Config": options or {}}}}


def test_logs_of_each_driver():
    usage = {"/d/containers/abc/local-logs/container.log": {"size_bytes": 4096, "files": 2, "error": None},
             "/d/containers/abc/abc-json.log": {"size_bytes": None, "files": None, "error": "Permission denied"}}
    local = describe_log(_inspect("local"), "/d", usage)
    assert (local["path"], local["size_bytes"], local["files"], local["capped"]) == (
        "/d/containers/abc/local-logs/container.log", 4096, 2, True)
    assert describe_log(_inspect("local", {"max-size": "-1"}), "/d", usage)["capped"] is False
    journald = describe_log(_inspect("journald"), "/d", usage)
    assert (journald["path"], journald["size_bytes"], journald["capped"]) == (None, None, None)
    unreadable = describe_log(_inspect("json-file", {"max-size": "10m", "max-file": "3"}, "/d/containers/abc/abc-json.log"),
                              "/d", usage)
    assert unreadable == {"driver": "json-file", "path": "/d/containers/abc/abc-json.log", "size_bytes": None,
                          "files": None, "error": "Permission denied", "max_size": "10m", "max_file": "3", "capped": True}
    assert describe_log(_inspect("json-file", {"max-size": "-1"}, "/x.log"), "/d", {})["error"] == "not read"
    assert describe_log(_inspect("json-file", {"max-size": "-1"}, "/x.log"), "/d", {})["capped"] is False
    assert container_log_path(_inspect("syslog"), "/d") is None


@pytest.mark.parametrize("daemon_json, expected", [
    ({"text": None, "error": "missing"}, ({}, "absent")),
    ({"text": None, "error": "Permission denied"}, (None, "unreadable")),
    ({"text": "{not json", "error": None}, (None, "invalid")),
    ({"text": '{"log-opts": "10m"}', "error": None}, (None, "invalid")),
    ({"text": "[]", "error": None}, (None, "invalid")),
    ({"text": '{"storage-driver": "overlay2"}', "error": None}, ({}, "daemon.json")),
    ({"text": '{"log-opts": {"max-size": "10m"}}', "error": None}, ({"max-size": "10m"}, "daemon.json")),
])
def test_parse_log_opts(daemon_json, expected):
    assert parse_log_opts(daemon_json) == expected


def test_volumes_without_usage_data():
    volumes = parse_volumes([
        {"Name": "nfs-share", "Driver": "nfs", "UsageData": {"Size": -1, "RefCount": -1}, "Labels": None},
        {"Name": "cache", "Driver": "local"},
    ], [{"name": "web", "volumes": ["nfs-share"]}])
    assert volumes == [
        {"name": "cache", "driver": "local", "size_bytes": None, "in_use": False, "containers": [], "anonymous": False,
         "labels": {}},
        {"name": "nfs-share", "driver": "nfs", "size_bytes": None, "in_use": True, "containers": ["web"],
         "anonymous": False, "labels": {}},
    ]


def test_unavailable_facts_have_every_key():
    facts = unavailable_facts("no_socket", "gone")
    assert facts["available"] is False and (facts["reason_code"], facts["reason"]) == ("no_socket", "gone")
    inputs, recorded_at, _summary, _verbose = load_recording("api-1.41")
    assert set(facts) == set(build_docker_facts(inputs, now=recorded_at))
    assert all(value is None for key, value in facts.items() if key not in ("available", "reason_code", "reason"))


# --- Files on the host ---------------------------------------------------------------------------------------

@pytest.fixture(name="open_dir")
def open_dir_fixture():
    """A directory everybody may enter (pytest's own temporary directories are private to their owner)."""
    directory = tempfile.mkdtemp(prefix="hcbloat-test-", dir="/tmp")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory)


def _as_nobody(function, *args):
    """Run function(*args) in a forked child as user nobody (when root) and return its result."""
    if os.geteuid() != 0:
        return function(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, answer through the pipe, never return into pytest
        try:
            nobody = pwd.getpwnam("nobody")
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            payload = json.dumps(["ok", function(*args)])
        except BaseException as error:  # pylint: disable=broad-except
            payload = json.dumps(["error", f"{type(error).__name__}: {error}"])
        os.write(write_end, payload.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        status, value = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert status == "ok", value
    return value


def test_read_log_usage(tmp_path):
    log = tmp_path / "abc-json.log"
    log.write_bytes(b"x" * 10000)
    (tmp_path / "abc-json.log.1").write_bytes(b"y" * 5000)
    (tmp_path / "abc-json.log.2.gz").write_bytes(b"z" * 100)
    (tmp_path / "other-json.log").write_bytes(b"z" * 100)
    expected = sum(os.lstat(tmp_path / name).st_blocks * 512 for name in ("abc-json.log", "abc-json.log.1", "abc-json.log.2.gz"))
    assert read_log_usage(str(log)) == {"size_bytes": expected, "files": 3, "error": None}
    assert read_log_usage(str(tmp_path / "never-started.log")) == {"size_bytes": 0, "files": 0, "error": None}


def test_a_log_only_root_can_read_says_so(open_dir):
    """Like /var/lib/docker/containers (root, 0700) for a task without become."""
    private = os.path.join(open_dir, "containers")
    os.mkdir(private, 0o700)
    with open(os.path.join(private, "abc-json.log"), "wb") as log:
        log.write(b"x" * 100)
    if os.geteuid() != 0:
        os.chmod(private, 0o000)
    usage = _as_nobody(read_log_usage, os.path.join(private, "abc-json.log"))
    os.chmod(private, 0o700)
    assert usage["size_bytes"] is None and usage["files"] is None
    assert usage["error"] == "Permission denied (container logs are readable by root only: run the task with become)"


def test_read_daemon_json(open_dir):
    path = os.path.join(open_dir, "daemon.json")
    assert read_daemon_json(path) == {"text": None, "error": "missing"}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"log-driver": "local"}')
    assert read_daemon_json(path) == {"text": '{"log-driver": "local"}', "error": None}
    os.chmod(path, 0o600 if os.geteuid() == 0 else 0o000)
    assert _as_nobody(read_daemon_json, path) == {"text": None, "error": "Permission denied"}


# --- The client against real unix sockets --------------------------------------------------------------------

class FakeDaemon:
    """A unix-socket HTTP server answering like the Docker daemon from a recorded daemon's payloads.

    routes: {path: (status, JSON-able body)}; anything else is 404. Records every request path and counts
    connections. close_after_each: close the connection after every answer without saying so (an idle close).
    """

    def __init__(self, path, routes, close_after_each=False):
        self.routes = routes
        self.requests = []
        self.connections = 0
        daemon = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                daemon.connections += 1
                super().setup()

            def do_GET(self):  # noqa: N802  (http.server's naming)
                daemon.requests.append(self.path)
                status, body = daemon.routes.get(self.path, (404, {"message": f"page not found: {self.path}"}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                if close_after_each:
                    self.close_connection = True

            def log_message(self, *args):  # quiet
                pass

        self.server = socketserver.ThreadingUnixStreamServer(path, Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def recorded_routes(api_dir, api_version=None):
    inputs, _recorded_at, _summary, _verbose = load_recording(api_dir)
    version = dict(inputs["version"], ApiVersion=api_version or inputs["version"]["ApiVersion"])
    prefix = "/v" + ".".join(str(part) for part in negotiate_api_version(version))
    routes = {"/version": (200, version), prefix + "/info": (200, inputs["info"]), prefix + "/system/df": (200, inputs["df"])}
    for container_id, inspect in inputs["inspections"].items():
        routes[f"{prefix}/containers/{container_id}/json"] = (200, inspect)
    return routes, inputs


@pytest.fixture(name="socket_dir")
def socket_dir_fixture(tmp_path_factory):
    # Unix socket paths are limited to 107 bytes: pytest's tmp_path can be longer.
    directory = tmp_path_factory.mktemp("sock")
    if len(str(directory)) > 80:
        pytest.fail(f"temporary directory {directory} is too long for a unix socket path")
    return directory


def test_facts_from_a_daemon_answering_like_the_recorded_one(socket_dir):
    routes, inputs = recorded_routes("api-1.41")
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes)
    try:
        read = read_docker_inputs(str(socket_dir / "docker.sock"), timeout=5, daemon_json_path=str(socket_dir / "none.json"))
    finally:
        daemon.stop()
    assert (read["version"], read["info"], read["df"], read["inspections"]) == (
        inputs["version"], inputs["info"], inputs["df"], inputs["inspections"])
    assert read["daemon_json"] == {"text": None, "error": "missing"}
    assert daemon.requests[:3] == ["/version", "/v1.41/info", "/v1.41/system/df"]
    assert all(path.startswith("/v1.41/containers/") for path in daemon.requests[3:]) and len(daemon.requests) == 6
    assert daemon.connections == 1  # one keep-alive connection for every request


def test_a_newer_daemon_is_asked_at_the_newest_known_api(socket_dir):
    routes, _inputs = recorded_routes("api-1.45", api_version="1.54")
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes)
    try:
        facts = gather_docker_facts(str(socket_dir / "docker.sock"), timeout=5)
    finally:
        daemon.stop()
    assert facts["available"] is True
    assert (facts["daemon"]["api_version"], facts["daemon"]["max_api_version"]) == ("1.51", "1.54")
    assert daemon.requests[1:3] == ["/v1.51/info", "/v1.51/system/df"]


def test_a_container_removed_meanwhile_is_reported_without_log(socket_dir):
    routes, inputs = recorded_routes("api-1.41")
    gone = sorted(inputs["inspections"])[0]
    del routes[f"/v1.41/containers/{gone}/json"]
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes)
    try:
        facts = gather_docker_facts(str(socket_dir / "docker.sock"), timeout=5)
    finally:
        daemon.stop()
    assert facts["available"] is True
    assert [item["log"] for item in facts["containers"] if item["id"] == gone] == [None]


def test_the_client_reconnects_when_the_daemon_closes_an_idle_connection(socket_dir):
    routes, _inputs = recorded_routes("api-1.41")
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes, close_after_each=True)
    try:
        facts = gather_docker_facts(str(socket_dir / "docker.sock"), timeout=5)
    finally:
        daemon.stop()
    assert facts["available"] is True
    assert daemon.connections == len(daemon.requests) == 6


def test_an_http_error_makes_the_facts_unavailable_with_the_daemons_message(socket_dir):
    routes, _inputs = recorded_routes("api-1.41")
    routes["/v1.41/system/df"] = (500, {"message": "open /var/lib/docker/overlay2: permission denied"})
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes)
    try:
        facts = gather_docker_facts(str(socket_dir / "docker.sock"), timeout=5)
    finally:
        daemon.stop()
    assert (facts["available"], facts["reason_code"]) == (False, "api_error")
    assert facts["reason"] == "GET /v1.41/system/df: HTTP 500: open /var/lib/docker/overlay2: permission denied"
    assert daemon.requests.count("/v1.41/system/df") == 1


class _AnswersInTurn(dict):
    """Routes whose /system/df answers "busy" the first ``busy`` times, then the recorded answer."""

    def __init__(self, routes, busy):
        super().__init__(routes)
        self.busy = busy

    def get(self, path, default=None):
        if path.endswith("/system/df") and self.busy > 0:
            self.busy -= 1
            return (500, {"message": "a disk usage operation is already running"})
        return super().get(path, default)


def test_a_disk_usage_read_refused_while_another_runs_is_asked_again(socket_dir):
    """Docker 20.10 (Debian 12) answers HTTP 500 to a /system/df while another runs (a monitoring agent's
    `docker system df`): the facts ask again after 0.5 s and 1 s instead of calling Docker unavailable."""
    routes, _inputs = recorded_routes("api-1.41")
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), _AnswersInTurn(routes, busy=2))
    try:
        facts = gather_docker_facts(str(socket_dir / "docker.sock"), timeout=5)
    finally:
        daemon.stop()
    assert facts["available"] is True
    assert daemon.requests.count("/v1.41/system/df") == 3


def test_on_the_real_daemon_six_audits_at_once_all_read_the_disk_usage():
    """The real daemon (20.10 here) refused 5 of 6 simultaneous /system/df reads before they were asked again."""
    live_docker_client()
    errors = []

    def read():
        try:
            read_docker_inputs(timeout=60, host_files=False)
        except _docker.DockerUnavailable as error:
            errors.append(str(error))
    threads = [threading.Thread(target=read) for _audit in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []


def _serve_once(path, answer, ready):
    """Accept one connection on a new unix socket at `path`, read the request, then call answer(connection)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    ready.set()
    connection = listener.accept()[0]
    try:
        connection.recv(65536)
        answer(connection)
    finally:
        connection.close()
        listener.close()


def _run_server(path, answer):
    ready = threading.Event()
    thread = threading.Thread(target=_serve_once, args=(path, answer, ready), daemon=True)
    thread.start()
    ready.wait(5)
    return thread


def test_a_daemon_that_never_answers_hits_the_timeout(socket_dir):
    path = str(socket_dir / "docker.sock")
    release = threading.Event()
    thread = _run_server(path, lambda connection: release.wait(10))
    started = time.monotonic()
    facts = gather_docker_facts(path, timeout=0.5)
    elapsed = time.monotonic() - started
    release.set()
    thread.join(5)
    assert (facts["available"], facts["reason_code"]) == (False, "timeout")
    assert facts["reason"] == f"the Docker daemon at {path} did not answer GET /version within 0.5 s (option timeout)"
    assert 0.4 < elapsed < 3


def test_a_daemon_that_answers_too_slowly_hits_the_timeout(socket_dir):
    """Each byte arrives within the timeout, the whole answer does not: the timeout is per request."""
    path = str(socket_dir / "docker.sock")

    def trickle(connection):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        try:
            for _byte in range(20):
                connection.sendall(b" ")
                time.sleep(0.1)
        except BrokenPipeError:  # the client gave up, as it should
            pass

    thread = _run_server(path, trickle)
    started = time.monotonic()
    facts = gather_docker_facts(path, timeout=0.5)
    elapsed = time.monotonic() - started
    thread.join(5)
    assert facts["reason_code"] == "timeout"
    assert elapsed < 1.5


def test_a_socket_that_is_not_a_docker_daemon(socket_dir):
    path = str(socket_dir / "docker.sock")
    thread = _run_server(path, lambda connection: connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"))
    facts = gather_docker_facts(path, timeout=2)
    thread.join(5)
    assert (facts["available"], facts["reason_code"]) == (False, "api_error")
    assert facts["reason"].startswith("GET /version: not an HTTP answer")


def test_an_answer_that_is_not_json(socket_dir):
    path = str(socket_dir / "docker.sock")
    body = b"<html>hello</html>"
    thread = _run_server(path, lambda connection: connection.sendall(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)))
    facts = gather_docker_facts(path, timeout=2)
    thread.join(5)
    assert facts["reason"] == f"GET /version: the answer is not JSON, is {path} a Docker daemon?"


def test_missing_socket(socket_dir, monkeypatch):
    path = str(socket_dir / "docker.sock")
    facts = gather_docker_facts(path, timeout=1)
    assert facts == unavailable_facts("no_socket" if _docker._dockerd_installed() else "not_installed", facts["reason"])
    monkeypatch.setattr(_docker, "_dockerd_installed", lambda: False)
    assert gather_docker_facts(path)["reason"] == f"Docker is not installed: {path} does not exist and there is no dockerd"
    monkeypatch.setattr(_docker, "_dockerd_installed", lambda: True)
    assert gather_docker_facts(path)["reason"] == f"{path} does not exist: the Docker daemon is not running"


def test_a_regular_file_is_not_a_socket(socket_dir):
    path = socket_dir / "docker.sock"
    path.write_text("")
    facts = gather_docker_facts(str(path))
    assert (facts["reason_code"], facts["reason"]) == ("not_a_socket", f"{path} is not a unix socket")


def test_a_stale_socket_refuses_the_connection(socket_dir):
    path = str(socket_dir / "docker.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.close()  # the file stays, nobody listens: what a crashed dockerd leaves
    facts = gather_docker_facts(path, timeout=1)
    assert (facts["reason_code"], facts["reason"]) == (
        "connection_refused", f"nothing listens on {path}: the Docker daemon is not running")


def _stat_works_and_facts(path):
    try:
        os.stat(path)
        stat_works = True
    except OSError:
        stat_works = False
    facts = gather_docker_facts(path, timeout=2)
    return stat_works, facts["reason_code"], facts["reason"]


def test_permission_denied_on_the_socket(open_dir):
    """A socket like Docker's (root:docker 0660) asked by a user outside the docker group: connect() is refused."""
    path = os.path.join(open_dir, "docker.sock")
    # A listening socket accepts connections into its backlog without a serving thread (fork() and threads
    # do not mix).
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    os.chmod(path, 0o660 if os.geteuid() == 0 else 0o000)
    try:
        result = _as_nobody(_stat_works_and_facts, path)
    finally:
        listener.close()
    assert result == [True, "permission_denied", f"permission denied on {path}: run the task with become, "
                                                 "or add the connecting user to the docker group"]


def test_permission_denied_on_the_directory(open_dir):
    private = os.path.join(open_dir, "private")
    os.mkdir(private, 0o700 if os.geteuid() == 0 else 0o000)
    stat_works, code, _reason = _as_nobody(_stat_works_and_facts, os.path.join(private, "docker.sock"))
    os.chmod(private, 0o700)
    assert (stat_works, code) == (False, "permission_denied")


def test_client_paths_are_versioned_once_negotiated(socket_dir):
    routes, _inputs = recorded_routes("api-1.41")
    daemon = FakeDaemon(str(socket_dir / "docker.sock"), routes)
    client = DockerClient(str(socket_dir / "docker.sock"), timeout=5)
    try:
        assert client.get("/version", versioned=False)["ApiVersion"] == "1.41"
        client.use_api_version((1, 41))
        assert client.get("/info")["Driver"] == "overlay2"
        with pytest.raises(_docker.DockerAPIError) as error:
            client.get("/containers/nope/json")
    finally:
        client.close()
        daemon.stop()
    assert (error.value.status, str(error.value)) == (
        404, "GET /v1.41/containers/nope/json: HTTP 404: page not found: /v1.41/containers/nope/json")


def test_post_and_delete_against_the_real_daemon():
    client = live_docker_client()
    name = "hostcare-unit-request-%d" % os.getpid()
    image = client.get("/images/json")
    if not image:
        pytest.skip("the daemon has no image to create a container from")
    created = client.request("POST", f"/containers/create?name={name}",
                             body={"Image": image[0]["Id"], "Cmd": ["true"], "Labels": {"hostcare.test": "1"}})
    try:
        assert re.fullmatch(r"[0-9a-f]{64}", created["Id"])
        assert client.get(f"/containers/{name}/json")["Config"]["Labels"]["hostcare.test"] == "1"
        with pytest.raises(_docker.DockerAPIError) as conflict:
            client.request("POST", f"/containers/create?name={name}", body={"Image": image[0]["Id"]})
        assert conflict.value.status == 409
    finally:
        assert client.request("DELETE", f"/containers/{name}?force=1") is None
    with pytest.raises(_docker.DockerAPIError) as gone:
        client.get(f"/containers/{name}/json")
    assert gone.value.status == 404
