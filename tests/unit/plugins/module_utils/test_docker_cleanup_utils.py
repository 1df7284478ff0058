# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._docker import DockerAPIError, DockerUnavailable
from ansible_collections.hostcare.vps.plugins.module_utils._docker_objects import parse_build_cache
from ansible_collections.hostcare.vps.plugins.module_utils._docker_selection import (
    PolicyError,
    parse_label_list,
    reclaimed_by_kind,
    select_removable,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker_cleanup import (
    StateError,
    filesystem_usage,
    parse_duration,
    parse_release_state,
    plan_cleanup,
    read_release_state,
    remove_planned,
    report_lines,
    trigger_decision,
)
from ansible_collections.hostcare.vps.plugins.module_utils._docker import with_retry

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "docker")
DAY = 86400
NOW = 1_800_000_000


def recorded(api_dir):
    def load(name):
        with open(os.path.join(FIXTURES, api_dir, name), encoding="utf-8") as handle:
            return json.load(handle)
    inputs = {"version": load("version.json"), "info": load("info.json"), "df": load("system_df.json"),
              "inspections": load("containers_inspect.json")}
    return inputs, load("meta.json")["recorded_at"]


def image(image_id, tags=(), age_days=1.0, unique=1000, labels=None):
    return {"id": image_id, "repo_tags": list(tags), "created": NOW - int(age_days * DAY), "size_bytes": unique + 5000,
            "unique_size_bytes": unique, "labels": labels or {}}


def container(name, image_id, state="running", stopped_days=None, labels=None, volumes=()):
    return {"id": "c-" + name, "name": name, "image_id": image_id, "image": image_id, "state": state,
            "running": state in ("running", "paused", "restarting"), "labels": labels or {}, "volumes": list(volumes),
            "stopped_seconds": None if stopped_days is None else int(stopped_days * DAY), "size_rw_bytes": 300}


def summary(entries):
    return [(entry["kind"], entry["names"][0] if entry["names"] else entry["id"]) for entry in entries]


# --- The selection on recorded payloads ---------------------------------------------------------------------

@pytest.mark.parametrize("api_dir", ["api-1.41", "api-1.45"])
def test_the_plan_on_a_recorded_daemon(api_dir):
    inputs, recorded_at = recorded(api_dir)
    v0 = [raw["Id"] for raw in inputs["df"]["Images"] if "hcbloat-app:v0" in (raw["RepoTags"] or [])][0]
    policy = {"keep": 1, "remove_containers_older_than_seconds": DAY, "remove_build_cache_older_than_seconds": DAY,
              "remove_volumes": True, "protect_labels": {"hostcare.keep": "true"}, "protect_releases": {v0: "shop"}}
    plan = plan_cleanup(inputs, policy, recorded_at + 30 * DAY)
    selected = summary(plan["selected"])
    # hcbloat-stopped goes first, so v2 (its image) is no longer used and is beyond keep 1; v1 loses only its
    # app tag (it stays hcbloat-other:latest); v0 is a bluegreen release; v4 is labelled; v5 is the image of
    # hcbloat-created, which never ran and stays; v3 runs. hcbloat-data is mounted; the anonymous volume still
    # counts its (now removed) container until the next run.
    assert [item for item in selected if item[0] != "build_cache"] == [
        ("container", "hcbloat-stopped"),
        ("image", [entry["id"] for entry in plan["selected"] if entry["kind"] == "image" and not entry["names"]][0]),
        ("image", "hcbloat-app:v2"),
        ("tag", "hcbloat-app:v1"),
        ("volume", "hcbloat-orphan"),
    ]
    assert len([item for item in selected if item[0] == "build_cache"]) == len(inputs["df"]["BuildCache"])
    kept = {(entry["names"][0] if entry["names"] else entry["id"]): (entry["rule"], entry["reason"]) for entry in plan["kept"]}
    assert kept["hcbloat-app:v0"] == ("rollback_release", "rollback release of shop (bluegreen state)")
    assert kept["hcbloat-app:v4"] == ("label", "has the protecting label hostcare.keep=true")
    assert kept["hcbloat-app:v5"][0] == "stopped_container"
    assert kept["hcbloat-app:v3"][0] == "running_container"
    assert kept["hcbloat-created"][0] == "state"
    assert kept["hcbloat-data"][0] == "container"
    by_kind = plan["would_reclaim"]
    assert by_kind["volume"] == 100000
    assert by_kind["build_cache"] == sum(record["Size"] for record in inputs["df"]["BuildCache"] if not record["Shared"])
    assert by_kind["total"] == sum(entry["size_bytes"] for entry in plan["selected"])


def test_the_default_policy_removes_no_container_cache_or_volume():
    inputs, recorded_at = recorded("api-1.41")
    plan = plan_cleanup(inputs, {}, recorded_at + 30 * DAY)
    assert {entry["kind"] for entry in plan["selected"]} <= {"image", "tag"}


# --- The selection, rule by rule -----------------------------------------------------------------------------

def test_stopped_containers_by_age_state_and_label():
    images = [image("i1", ["app:v1"])]
    containers = [
        container("old", "i1", "exited", stopped_days=40),
        container("dead", "i1", "dead", stopped_days=40),
        container("recent", "i1", "exited", stopped_days=2),
        container("data-only", "i1", "created", stopped_days=400),
        container("rollback", "i1", "exited", stopped_days=40, labels={"hostcare.keep": "true"}),
        container("web", "i1"),
    ]
    policy = {"remove_containers_older_than_seconds": 30 * DAY, "protect_labels": {"hostcare.keep": "true"}}
    result = select_removable(images, containers, policy, NOW)
    assert summary(result["removable"]) == [("container", "old"), ("container", "dead")]
    assert result["removable"][0]["reason"] == "exited 40 days ago, image i1"
    assert result["removable"][0]["size_bytes"] == 300
    reasons = {entry["names"][0]: entry["reason"] for entry in result["protected"] if entry.get("kind") == "container"}
    assert reasons == {
        "recent": "stopped 2 days ago (stopped containers go after 30 days)",
        "data-only": "created, never ran to an end (data-only containers look like this)",
        "rollback": "has the protecting label hostcare.keep=true",
    }


def test_removing_a_container_frees_its_image_but_a_kept_one_still_protects():
    images = [image("new", ["app:v2"], 1), image("old", ["app:v1"], 9)]
    gone = [container("job", "old", "exited", stopped_days=40)]
    policy = {"keep": 1, "remove_containers_older_than_seconds": DAY}
    assert summary(select_removable(images, gone, policy, NOW)["removable"]) == [("container", "job"), ("image", "app:v1")]
    kept = [container("job", "old", "exited", stopped_days=40, labels={"pin": "yes"})]
    result = select_removable(images, kept, dict(policy, protect_labels={"pin": None}), NOW)
    assert result["removable"] == []


def test_a_bluegreen_release_is_kept_whatever_else_applies():
    images = [image("v3", ["app:v3"], 1), image("v2", ["app:v2"], 2), image("v1", ["app:v1"], 30)]
    result = select_removable(images, [container("web", "v3")], {"keep": 0, "protect_releases": {"v1": "shop", "v3": "shop"}}, NOW)
    assert summary(result["removable"]) == [("image", "app:v2")]
    reasons = {entry["id"]: entry["reason"] for entry in result["protected"]}
    assert reasons == {"v3": "rollback release of shop (bluegreen state)", "v1": "rollback release of shop (bluegreen state)"}


def test_a_label_without_value_protects_any_value():
    images = [image("v2", ["app:v2"], 1), image("v1", ["app:v1"], 5, labels={"com.example.pin": "2026"})]
    result = select_removable(images, [], {"keep": 1, "protect_labels": {"com.example.pin": None}}, NOW)
    assert result["removable"] == []
    assert result["protected"][1]["reason"] == "has the protecting label com.example.pin"


def test_build_cache_by_idle_time():
    records = parse_build_cache([
        {"ID": "busy", "Type": "regular", "InUse": True, "Shared": False, "Size": 10,
         "CreatedAt": "2027-01-01T00:00:00Z", "LastUsedAt": "2027-01-01T00:00:00Z", "Description": "busy"},
        {"ID": "fresh", "Type": "regular", "InUse": False, "Shared": False, "Size": 20,
         "CreatedAt": "2027-01-01T00:00:00Z", "LastUsedAt": "2027-01-15T00:00:00Z", "Description": "fresh"},
        {"ID": "stale", "Type": "regular", "InUse": False, "Shared": False, "Size": 30,
         "CreatedAt": "2027-01-01T00:00:00Z", "LastUsedAt": None, "Description": "mount / from exec make"},
        {"ID": "layer", "Type": "regular", "InUse": False, "Shared": True, "Size": 40,
         "CreatedAt": "2027-01-01T00:00:00Z", "LastUsedAt": "2027-01-02T00:00:00Z", "Description": "layer"},
    ])
    now = 1_800_000_000  # 2027-01-15T08:00:00Z
    result = select_removable([], [], {"remove_build_cache_older_than_seconds": 7 * DAY}, now)
    assert result["removable"] == []  # no build cache given
    result = select_removable([], [], {"remove_build_cache_older_than_seconds": 7 * DAY}, now, build_cache=records)
    assert [(entry["id"], entry["size_bytes"]) for entry in result["removable"]] == [("stale", 30), ("layer", 0)]
    assert result["removable"][0]["reason"] == "build cache (regular) unused for 14 days"
    assert result["removable"][1]["reason"].endswith(", its layers shared with an image")


def test_volumes_only_when_enabled_and_unmounted():
    volumes = [
        {"name": "db", "in_use": True, "containers": ["db"], "size_bytes": 10, "labels": {}, "anonymous": False},
        {"name": "orphan", "in_use": False, "containers": [], "size_bytes": 20, "labels": {}, "anonymous": False},
        {"name": "pinned", "in_use": False, "containers": [], "size_bytes": 30, "labels": {"hostcare.keep": "true"},
         "anonymous": False},
    ]
    assert select_removable([], [], {}, NOW, volumes=volumes) == {"removable": [], "protected": []}
    policy = {"remove_volumes": True, "protect_labels": {"hostcare.keep": "true"}}
    result = select_removable([], [], policy, NOW, volumes=volumes)
    assert summary(result["removable"]) == [("volume", "orphan")]
    assert [(entry["id"], entry["rule"]) for entry in result["protected"]] == [("db", "container"), ("pinned", "label")]


def test_reclaimed_by_kind_counts_tags_as_images():
    entries = [{"kind": "tag", "size_bytes": 0}, {"kind": "image", "size_bytes": 5}, {"kind": "volume", "size_bytes": 7},
               {"kind": "build_cache", "size_bytes": 11}, {"kind": "container", "size_bytes": 13}]
    assert reclaimed_by_kind(entries) == {"container": 13, "image": 5, "build_cache": 11, "volume": 7, "total": 36}


@pytest.mark.parametrize("policy, message", [
    ({"remove_volumes": "yes"}, "policy.remove_volumes: must be true or false"),
    ({"remove_containers_older_than_seconds": -1}, "policy.remove_containers_older_than_seconds: must be a number >= 0"),
    ({"remove_build_cache_older_than_seconds": "7d"}, "policy.remove_build_cache_older_than_seconds: must be a number"),
    ({"protect_releases": {"sha256:1": 3}}, "policy.protect_releases: expected a dict of image id: app"),
])
def test_bad_cleanup_policies_name_the_key(policy, message):
    with pytest.raises(PolicyError) as error:
        select_removable([], [], policy, NOW)
    assert message in str(error.value)


def test_parse_label_list():
    assert parse_label_list(["hostcare.keep=true", "pin", "a=b=c"]) == {"hostcare.keep": "true", "pin": None, "a": "b=c"}
    with pytest.raises(PolicyError, match="protect_labels: each entry must be LABEL or LABEL=VALUE, got '=x'"):
        parse_label_list(["=x"])


# --- Inputs ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [
    (None, None), ("", None), ("0", 0), (0, 0), ("90", 90), ("90s", 90), ("15m", 900), ("12h", 43200),
    ("7d", 604800), ("2w", 1209600), ("1.5h", 5400), (" 3D ", 259200), (3600, 3600),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value, "age") == seconds


@pytest.mark.parametrize("value, message", [
    ("soon", "age: expected a duration such as 12h, 7d or 2w (units s, m, h, d, w), got 'soon'"),
    ("-1d", "age: expected a duration"),
    ("7 days", "age: expected a duration"),
    (-5, "age: must be 0 or more, got -5"),
    (True, "age: expected a duration such as 12h, 7d or 2w, got True"),
])
def test_bad_durations_name_the_option(value, message):
    with pytest.raises(PolicyError) as error:
        parse_duration(value, "age")
    assert message in str(error.value)


def release(image_id):
    return {"colour": "blue", "container": "web-blue", "image": "app:v1", "image_id": image_id,
            "deployed_at": "2026-11-20T10:00:00Z"}


def test_parse_release_state():
    text = json.dumps({"app": "shop", "live": release("sha256:a"), "releases": [release("sha256:a"), release("sha256:b")]})
    assert parse_release_state(text, "/s/shop.json") == {"sha256:a": "shop", "sha256:b": "shop"}
    text = json.dumps({"app": "shop", "live": None, "releases": []})
    assert parse_release_state(text, "/s/shop.json") == {}


@pytest.mark.parametrize("text, message", [
    ("{", "/s/shop.json: not valid JSON"),
    ("[]", "/s/shop.json: expected an object with a non-empty string \"app\""),
    (json.dumps({"app": "shop", "live": None}), "expected \"live\" (an object or null) and \"releases\" (a list)"),
    (json.dumps({"app": "shop", "live": "x", "releases": []}), "expected \"live\" (an object or null)"),
    (json.dumps({"app": "shop", "live": None, "releases": [{"image_id": "abc"}]}),
     "/s/shop.json: releases[0]: expected an object with \"image_id\": \"sha256:...\""),
    (json.dumps({"app": "shop", "live": {"image": "x"}, "releases": []}), "/s/shop.json: live: expected an object"),
])
def test_invalid_release_state_names_the_file(text, message):
    with pytest.raises(StateError) as error:
        parse_release_state(text, "/s/shop.json")
    assert message in str(error.value)


def test_read_release_state(tmp_path):
    assert read_release_state(str(tmp_path / "missing"), default=str(tmp_path / "missing")) == {}
    with pytest.raises(StateError, match="protect_state_dir: .*/missing does not exist, so it would protect no release"):
        read_release_state(str(tmp_path / "missing"))
    (tmp_path / "shop.json").write_text(json.dumps({"app": "shop", "live": None, "releases": [release("sha256:a")]}))
    (tmp_path / "api.json").write_text(json.dumps({"app": "api", "live": release("sha256:b"), "releases": []}))
    (tmp_path / "notes.txt").write_text("not a state file")
    assert read_release_state(str(tmp_path)) == {"sha256:a": "shop", "sha256:b": "api"}
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(StateError, match=r"/broken.json: not valid JSON"):
        read_release_state(str(tmp_path))
    with pytest.raises(StateError, match="protect_state_dir: .*/notes.txt is not a directory"):
        read_release_state(str(tmp_path / "notes.txt"))


def test_filesystem_usage(tmp_path):
    usage = filesystem_usage(str(tmp_path))
    assert usage["path"] == str(tmp_path)
    assert usage["used_bytes"] + usage["available_bytes"] <= usage["size_bytes"]
    assert 0 <= usage["use_percent"] <= 100
    assert filesystem_usage(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("percent, images, expected", [
    (None, None, (True, "no trigger set: the cleanup always runs")),
    (80, None, (True, "the Docker filesystem is 91.5% used (above trigger_use_percent 80%)")),
    (95, None, (False, "the Docker filesystem is 91.5% used (not above trigger_use_percent 95%)")),
    (None, 1000, (True, "images take 5000 bytes (above trigger_images_bytes 1000)")),
    (95, 10000, (False, "the Docker filesystem is 91.5% used (not above trigger_use_percent 95%); "
                        "images take 5000 bytes (not above trigger_images_bytes 10000)")),
    (95, 1000, (True, "the Docker filesystem is 91.5% used (not above trigger_use_percent 95%); "
                      "images take 5000 bytes (above trigger_images_bytes 1000)")),
])
def test_trigger_decision(percent, images, expected):
    assert trigger_decision({"use_percent": 91.5}, 5000, percent, images) == expected


def test_an_unknown_filesystem_use_does_not_trigger():
    assert trigger_decision(None, 0, 80, None) == (False, "the Docker filesystem's use is unknown")


# --- Removal --------------------------------------------------------------------------------------------------

BUSY = DockerAPIError(409, "POST /build/prune: HTTP 409: a prune operation is already running")


def test_a_busy_daemon_is_asked_again_with_a_growing_wait():
    answers, waits = [BUSY, BUSY, {"ok": 1}], []

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
    assert with_retry(call, attempts=5, sleep=waits.append) == {"ok": 1}
    assert waits == [2.0, 4.0]


def test_a_daemon_busy_too_long_gives_a_clear_message():
    waits = []

    def call():
        raise BUSY
    with pytest.raises(DockerUnavailable) as error:
        with_retry(call, attempts=3, sleep=waits.append)
    assert waits == [2.0, 4.0]
    assert error.value.code == "busy"
    assert str(error.value).startswith("another prune kept the Docker daemon busy through 3 attempts (waited 6 s): ")
    assert "Run the cleanup again when the other prune (a cron job, another tool) has finished" in str(error.value)


def test_without_a_message_of_its_own_the_daemons_busy_error_is_raised_once_the_attempts_are_spent():
    waits, busy = [], DockerAPIError(500, "GET /v1.41/system/df: HTTP 500: a disk usage operation is already running")

    def call():
        raise busy
    with pytest.raises(DockerAPIError) as error:
        with_retry(call, attempts=4, first_delay=0.5, sleep=waits.append, again=None)
    assert error.value is busy
    assert waits == [0.5, 1.0, 2.0]


def test_other_conflicts_are_not_retried():
    waits = []

    def call():
        raise DockerAPIError(409, "conflict: unable to delete 1234 (must be forced) - image is being used")
    with pytest.raises(DockerAPIError):
        with_retry(call, sleep=waits.append)
    assert waits == []


class RecordingDaemon:
    """A stand-in for DockerClient answering from a table, for the checks made just before each removal."""

    def __init__(self, routes):
        self.routes = routes
        self.calls = []

    def get(self, path, ignore_status=()):
        return self.request("GET", path, ignore_status=ignore_status)

    def request(self, method, path, timeout=None, ignore_status=()):
        self.calls.append((method, path))
        answer = self.routes.get((method, path.split("?")[0] if method == "GET" and "all=1" not in path else path))
        if answer is None and method == "GET":
            answer = DockerAPIError(404, f"{method} {path}: HTTP 404: no such object")
        if isinstance(answer, DockerAPIError) and answer.status in ignore_status:  # as DockerClient does
            return None
        if isinstance(answer, Exception):
            raise answer
        return answer


def _entry(kind, object_id, names, size=10):
    return {"kind": kind, "id": object_id, "names": names, "size_bytes": size, "rules": ["r"], "reason": "why"}


POLICY = {"protect_labels": {"hostcare.keep": "true"}, "remove_build_cache_older_than_seconds": 0}


def test_removal_checks_each_object_again_and_skips_what_changed():
    daemon = RecordingDaemon({
        ("GET", "/containers/json?all=1"): [{"Id": "c9", "Names": ["/web"], "ImageID": "sha256:used", "Image": "app:v2"}],
        ("GET", "/images/sha256:old/json"): {"RepoTags": ["app:v1"]},
        ("GET", "/images/sha256:used/json"): {"RepoTags": ["app:v2"]},
        ("GET", "/images/sha256:retagged/json"): {"RepoTags": ["app:v0", "app:hotfix"]},
        ("GET", "/containers/c1/json"): {"State": {"Status": "exited", "Running": False}, "Config": {"Labels": {}}},
        ("GET", "/containers/c2/json"): {"State": {"Status": "running", "Running": True}, "Config": {"Labels": {}}},
        ("DELETE", "/containers/c1?v=0&force=0"): None,
        ("DELETE", "/images/app%3Av1?force=0&noprune=0"): None,
        ("DELETE", "/images/sha256:old?force=0&noprune=0"): DockerAPIError(404, "gone with its last tag"),
        ("DELETE", "/volumes/orphan?force=0"): DockerAPIError(409, "volume is in use - [c7]"),
        ("POST", "/build/prune?all=1&filters=%7B%22unused-for%22%3A%20%5B%220s%22%5D%7D"):
            {"CachesDeleted": ["bc1", "bc3"], "SpaceReclaimed": 999},
    })
    selected = [
        _entry("container", "c1", ["job"]), _entry("container", "c2", ["worker"]), _entry("container", "c3", ["gone"]),
        _entry("image", "sha256:old", ["app:v1"], 100), _entry("image", "sha256:used", ["app:v2"]),
        _entry("image", "sha256:retagged", ["app:v0"]), _entry("volume", "orphan", ["orphan"]),
        _entry("build_cache", "bc1", ["step"], 7), _entry("build_cache", "bc2", ["step"], 5),
    ]
    outcome = remove_planned(daemon, selected, POLICY, prune_timeout=30)
    assert summary(outcome["removed"]) == [("container", "job"), ("image", "app:v1"), ("build_cache", "step")]
    assert [(entry["id"], entry["skipped_because"]) for entry in outcome["skipped"]] == [
        ("c2", "now running"),
        ("c3", "gone before its removal"),
        ("sha256:used", "now used by container web"),
        ("sha256:retagged", "its tags changed since the selection (now app:hotfix, app:v0)"),
        ("orphan", "the daemon refused: volume is in use - [c7]"),
        ("bc2", "used again since the selection"),
    ]
    assert outcome["unexpected"] == [{"kind": "build_cache", "id": "bc3"}]
    assert outcome["reclaimed"] == {"container": 10, "image": 100, "build_cache": 7, "volume": 0, "total": 117}
    assert outcome["build_cache_daemon_reported_bytes"] == 999
    assert ("DELETE", "/images/sha256:used?force=0&noprune=0") not in daemon.calls


def test_a_daemon_failure_stops_the_run_and_says_what_was_done():
    daemon = RecordingDaemon({
        ("GET", "/containers/c1/json"): {"State": {"Status": "exited"}, "Config": {"Labels": {}}},
        ("DELETE", "/containers/c1?v=0&force=0"): None,
        ("GET", "/containers/c2/json"): DockerUnavailable("timeout", "the Docker daemon did not answer within 60 s"),
    })
    with pytest.raises(DockerUnavailable) as error:
        remove_planned(daemon, [_entry("container", "c1", ["a"]), _entry("container", "c2", ["b"])], POLICY, 30)
    assert summary(error.value.progress["removed"]) == [("container", "a")]


def test_a_container_that_gained_a_protecting_label_is_skipped():
    daemon = RecordingDaemon({
        ("GET", "/containers/c1/json"): {"State": {"Status": "exited"}, "Config": {"Labels": {"hostcare.keep": "true"}}},
    })
    outcome = remove_planned(daemon, [_entry("container", "c1", ["a"])], POLICY, 30)
    assert outcome["skipped"][0]["skipped_because"] == "now has the protecting label hostcare.keep"


def test_the_report():
    result = {
        "triggered": True, "trigger_reason": "no trigger set: the cleanup always runs",
        "selected": [_entry("image", "sha256:1", ["app:v1"], 1048576), _entry("build_cache", "b", ["x"], 0)],
        "removed": [], "skipped": [], "unexpected": [],
        "would_reclaim_bytes": {"container": 0, "image": 1048576, "build_cache": 0, "volume": 0, "total": 1048576},
        "filesystem_before": {"path": "/var/lib/docker", "use_percent": 91.5, "available_bytes": 2 * 1024 ** 3},
        "filesystem_after": {"path": "/var/lib/docker", "use_percent": 91.5, "available_bytes": 2 * 1024 ** 3},
    }
    assert report_lines(result, check_mode=True) == [
        "trigger: no trigger set: the cleanup always runs",
        "would remove image app:v1 (1.0 MiB): why",
        "would remove 1 build cache records unused long enough (0 of them share their layers with images, which keep them)",
        "would reclaim: images 1.0 MiB, containers 0 B, build caches 0 B, volumes 0 B, total 1.0 MiB",
        "Docker filesystem before: 91.5% used, 2.0 GiB free (/var/lib/docker)",
        "Docker filesystem after: 91.5% used, 2.0 GiB free (/var/lib/docker)",
    ]
    assert report_lines(dict(result, triggered=False, trigger_reason="x"), check_mode=False) == [
        "trigger: x", "nothing removed (not triggered)",
        "Docker filesystem: 91.5% used, 2.0 GiB free (/var/lib/docker)"]
