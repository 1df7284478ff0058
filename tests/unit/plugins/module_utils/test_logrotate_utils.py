# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry checks and rendering, logrotate's error lines, the daemon.json merge and the uncapped containers."""

from __future__ import annotations

import json

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils import _logrotate as lr

BASE = {
    "name": "myapp", "state": "present", "paths": ["/var/www/myapp/log/*.log"], "frequency": "daily", "rotate": 14,
    "compress": True, "delaycompress": False, "missingok": True, "notifempty": True, "dateext": False,
    "copytruncate": False, "sharedscripts": False,
}


def entry(**changes):
    return {**BASE, **changes}


def test_a_good_entry_has_no_errors():
    assert lr.entry_errors(entry()) == []


@pytest.mark.parametrize("changes, expected", [
    ({"name": "my.app"}, "name='my.app' must be"),
    ({"name": "../x"}, "name='../x' must be"),
    ({"name": ""}, "name='' must be"),
    ({"paths": []}, "paths must be a non-empty list"),
    ({"paths": ["log/app.log"]}, "paths: must be an absolute path (starting with /), got 'log/app.log'"),
    ({"paths": [""]}, "paths: must be an absolute path, got ''"),
    ({"paths": ["/proc/self/*.log"]}, "paths: '/proc/self/*.log' is in a kernel filesystem"),
    ({"paths": ["/var/log/../app.log"]}, "paths: must be a normalised path"),
    ({"paths": ['/var/log/"x"']}, "must be an absolute path or glob without quotes"),
    ({"frequency": "fortnightly"}, "frequency='fortnightly' must be one of: hourly, daily, weekly, monthly"),
    ({"rotate": -1}, "rotate: must be a whole number of rotated files to keep at least 0 and at most 10000, got -1"),
    ({"rotate": True}, "rotate: must be a whole number of rotated files to keep at least 0 and at most 10000, got bool"),
    ({"rotate": float("inf")}, "rotate: must be a whole number of rotated files to keep at least 0 and at most 10000, got inf"),
    ({"rotate": "\u0661\u0664"}, "rotate: must be a whole number of rotated files to keep at least 0"),
    ({"rotate": 1e300}, "rotate: must be a whole number of rotated files to keep at least 0 and at most 10000, got "),
    ({"size": "10X"}, "size='10X' must be bytes or a number with k, M or G"),
    ({"size": "10M", "maxsize": "1G"}, "set size, or maxsize/minsize, not both"),
    ({"maxsize": "1000000000000000000000000000000"}, "maxsize='1000000000000000000000000000000' must be at most 1 PiB"),
    ({"minsize": "1048577G"}, "minsize='1048577G' must be at most 1 PiB"),
    ({"copytruncate": True, "create_mode": "0640"}, "copytruncate and create_mode exclude each other"),
    ({"create_mode": "rw-r"}, "create_mode='rw-r' must be an octal mode"),
    ({"create_mode": "0640", "create_group": "adm"}, "create_group needs create_owner"),
    ({"create_owner": "deploy"}, "create_owner needs create_mode"),
    ({"su_user": "deploy"}, "su_user and su_group go together"),
    ({"su_user": "a b", "su_group": "c"}, "su_user='a b' is not a user or group name"),
    ({"postrotate": ["kill -HUP 1", "endscript"]}, "postrotate must not contain 'endscript'"),
    ({"state": "gone"}, "state='gone' must be one of: present, absent"),
])
def test_errors_name_the_option(changes, expected):
    errors = lr.entry_errors(entry(**changes))
    assert any(expected in error for error in errors), errors


def test_absent_needs_only_a_name():
    assert lr.entry_errors({"name": "myapp", "state": "absent"}) == []


def test_renders_create_with_signal():
    text = lr.render_entry(entry(
        paths=["/var/www/myapp/log/*.log", "/var/log/my app.log"], delaycompress=True, sharedscripts=True,
        create_mode="0640", create_owner="deploy", create_group="deploy", su_user="deploy", su_group="deploy",
        maxsize="100M", postrotate=["kill -USR1 $(cat /run/myapp.pid)"]))
    assert text == (
        "# Managed by hostcare.vps.logrotate (entry myapp). Changes made here are overwritten.\n"
        '"/var/www/myapp/log/*.log"\n'
        '"/var/log/my app.log" {\n'
        "    daily\n"
        "    rotate 14\n"
        "    maxsize 100M\n"
        "    compress\n"
        "    delaycompress\n"
        "    missingok\n"
        "    notifempty\n"
        "    nodateext\n"
        "    sharedscripts\n"
        "    create 0640 deploy deploy\n"
        "    su deploy deploy\n"
        "    postrotate\n"
        "        kill -USR1 $(cat /run/myapp.pid)\n"
        "    endscript\n"
        "}\n")
    assert lr.is_ours(text)


def test_renders_copytruncate_and_negated_flags():
    text = lr.render_entry(entry(copytruncate=True, compress=False, missingok=False, notifempty=False, dateext=True))
    body = text.split("{\n", 1)[1].split()
    assert body == ["daily", "rotate", "14", "nocompress", "nodelaycompress", "nomissingok", "ifempty", "dateext",
                    "nosharedscripts", "copytruncate", "}"]


def test_is_ours_needs_the_marker_on_the_first_line():
    assert not lr.is_ours("/var/log/x.log {\n}\n# Managed by hostcare.vps.logrotate\n")


def test_logrotate_errors_names_the_destination():
    output = ("warning: logrotate in debug mode does nothing\nreading config file /tmp/hc-1/myapp\n"
              "error: /tmp/hc-1/myapp:5 unknown unit 'X'\nerror: found error in /var/log/x.log , skipping\n")
    assert lr.logrotate_errors(output, "/tmp/hc-1/myapp", "/etc/logrotate.d/myapp") == [
        "error: /etc/logrotate.d/myapp:5 unknown unit 'X'", "error: found error in /var/log/x.log , skipping"]


def test_logrotate_errors_without_error_lines_keeps_the_last_lines():
    assert lr.logrotate_errors("a\nb\nc\nd\n", "t", "d") == ["b", "c", "d"]


OPTS = {"max-size": "10m", "max-file": "3", "compress": "true"}


def test_docker_log_opts_are_strings():
    assert lr.docker_log_opts("10m", 3, True) == OPTS
    assert lr.docker_log_opts(None, None, None) == {}


@pytest.mark.parametrize("max_size, max_file, message", [
    ("10", 3, "max_size='10' must be a size"),
    ("ten", 3, "max_size='ten' must be a size"),
    ("10m", 0, "max_file=0 must be a whole number"),
    ("10m", True, "max_file=True must be a whole number"),
])
def test_docker_log_opts_refuse_bad_values(max_size, max_file, message):
    with pytest.raises(lr.DaemonJsonError, match=message):
        lr.docker_log_opts(max_size, max_file, True)


def test_merge_keeps_other_keys_and_their_order():
    text = '{\n  "log-level": "warn",\n  "log-opts": {"labels": "app"},\n  "data-root": "/srv/docker"\n}\n'
    merged, changed = lr.merge_daemon_json(text, "json-file", OPTS)
    assert changed
    config = json.loads(merged)
    assert list(config) == ["log-level", "log-opts", "data-root", "log-driver"]
    assert config["log-opts"] == {"labels": "app", **OPTS}
    assert config["data-root"] == "/srv/docker"


def test_merge_is_idempotent_and_keeps_the_text_when_nothing_changes():
    merged, changed = lr.merge_daemon_json(None, "json-file", OPTS)
    assert changed and json.loads(merged) == {"log-driver": "json-file", "log-opts": OPTS}
    hand_written = '{"log-driver":"json-file","log-opts":{"max-size":"10m","max-file":"3","compress":"true"}}'
    assert lr.merge_daemon_json(hand_written, "json-file", OPTS) == (hand_written, False)
    assert lr.merge_daemon_json(merged, "json-file", OPTS) == (merged, False)


def test_merge_of_an_empty_file():
    merged, changed = lr.merge_daemon_json("  \n", "local", {})
    assert changed and json.loads(merged) == {"log-driver": "local"}


@pytest.mark.parametrize("text, message", [
    ('{"log-level": "warn",}', "it is not valid JSON"),
    ("[1, 2]", "it is not a JSON object"),
    ('{"log-opts": "max-size=10m"}', "its log-opts is not a JSON object"),
])
def test_merge_refuses_what_it_cannot_keep_valid(text, message):
    with pytest.raises(lr.DaemonJsonError, match=message):
        lr.merge_daemon_json(text, "json-file", OPTS)


def inspect(name, running=True, driver="json-file", **config):
    return {"Id": "f" * 64, "Name": "/" + name, "State": {"Running": running},
            "HostConfig": {"LogConfig": {"Type": driver, "Config": config}}}


def test_uncapped_containers():
    inspections = [
        inspect("web"),
        inspect("db", **{"max-size": "10m"}),
        inspect("worker", **{"max-size": "-1"}),
        inspect("stopped", running=False),
        inspect("local-default", driver="local"),
        inspect("local-unlimited", driver="local", **{"max-size": "-1"}),
        inspect("journald", driver="journald"),
    ]
    assert lr.uncapped_containers(inspections) == ["local-unlimited", "web", "worker"]


def test_staged_main_config_points_the_include_at_the_copy():
    main = "weekly\nrotate 4\ncreate\ninclude /etc/logrotate.d/\n/var/log/wtmp {\n    monthly\n}\n"
    assert lr.staged_main_config(main, "/etc/logrotate.d", "/tmp/s") == (
        "weekly\nrotate 4\ncreate\ninclude /tmp/s\n/var/log/wtmp {\n    monthly\n}\n")
    assert lr.staged_main_config("weekly\ninclude /etc/other\n", "/etc/logrotate.d", "/tmp/s") == "include /tmp/s\n"
    assert lr.staged_main_config(None, "/etc/logrotate.hourly.d", "/tmp/s") == "include /tmp/s\n"


def test_new_errors_ignores_the_errors_other_files_already_had():
    without = "reading config file vendor\nerror: stat of /var/log/gone failed: No such file or directory\n"
    with_entry = without + "error: vendor:1 duplicate log entry for /srv/app.log\nerror: found error in file vendor, skipping\n"
    assert lr.new_errors(without, with_entry) == [
        "error: vendor:1 duplicate log entry for /srv/app.log", "error: found error in file vendor, skipping"]
    assert lr.new_errors(without, without) == []


# --- a set of entries, and the role's variables ------------------------------------------------------------------

@pytest.mark.parametrize("first, second, overlap", [
    ("/var/log/app.log", "/var/log/app.log", True),
    ("/var/log/*.log", "/var/log/app.log", True),
    ("/var/log/app.log", "/var/log/*.log", True),
    ("/var/log/ap?.log", "/var/log/app.log", True),
    ("/var/log/[ab]pp.log", "/var/log/app.log", True),
    ("/var/log/[!a]pp.log", "/var/log/app.log", False),
    ("/var/log/*.log", "/var/log/app/app.log", False),  # * does not cross a directory, as in glob(3)
    ("/var/log/*.log", "/var/log/app.txt", False),
    ("/var/log/a.log", "/var/log/b.log", False),
])
def test_paths_overlap(first, second, overlap):
    assert lr.paths_overlap(first, second) is overlap


def test_entries_errors_fill_the_defaults_and_check_the_set():
    assert lr.entries_errors([{"name": "a", "paths": ["/var/log/a.log"]}, {"name": "b", "paths": ["/var/log/b.log"]}]) == []
    errors = lr.entries_errors([{"name": "a", "paths": ["/var/log/*.log"]},
                                {"name": "b", "paths": ["/var/log/b.log"], "frequency": "hourly"},
                                {"name": "c", "paths": ["/var/log/b.log"], "state": "absent"}])
    assert errors == ["entries 'a' and 'b' name the same log (/var/log/*.log and /var/log/b.log): the daily and the "
                      "hourly run would both rotate it (the hourly run has its own configuration, so logrotate cannot "
                      "see the clash); name each log in one entry"]
    assert lr.entries_errors([{"name": "a", "paths": ["/l/x.log"]}, {"name": "b", "paths": ["/l/x.log"]}])[0].endswith(
        "logrotate rotates a log named twice only once, with one of the two entries, and reports an error; name each "
        "log in one entry")
    assert lr.entries_errors("x") == ["entries: must be a list of entries, got str"]
    assert lr.entries_errors([["a"]]) == ["entries[0]: must be a dict with at least a name, got ['a']"]


GOOD_ROLE = {
    "hostcare_logrotate_entries": [{"name": "app", "paths": ["/var/www/app/log/*.log"]}],
    "hostcare_logrotate_config_dir": "/etc/logrotate.d",
    "hostcare_logrotate_hourly_config_dir": "/etc/logrotate.hourly.d",
    "hostcare_logrotate_journald_system_max_use": "500M",
    "hostcare_logrotate_journald_system_keep_free": "1.5G",
    "hostcare_logrotate_journald_max_retention": "2weeks",
    "hostcare_logrotate_journald_vacuum_size": None,
    "hostcare_logrotate_docker_max_size": "10m",
    "hostcare_logrotate_docker_max_file": 3,
}


def test_role_input_errors_accepts_good_values():
    assert lr.role_input_errors(GOOD_ROLE) == []
    assert lr.role_input_errors({}) == []


@pytest.mark.parametrize("changes, message", [
    ({"entries": [{"name": "a", "paths": ["/l/*.log"]}, {"name": "b", "paths": ["/l/b.log"]}]},
     "hostcare_logrotate_entries: entries 'a' and 'b' name the same log"),
    ({"entries": [{"name": "a", "paths": ["/l/a.log"]}, {"name": "a", "paths": ["/l/b.log"]}]},
     "hostcare_logrotate_entries: entry 'a': the name is used by two entries"),
    ({"entries": [{"name": "a.b", "paths": ["/l/a.log"]}]}, "hostcare_logrotate_entries: entry 'a.b': name='a.b' must be"),
    ({"config_dir": "lr-rel.d"}, "hostcare_logrotate_config_dir: must be an absolute path (starting with /), got 'lr-rel.d'"),
    ({"hourly_config_dir": "/proc/x"}, "hostcare_logrotate_hourly_config_dir: '/proc/x' is in a kernel filesystem"),
    ({"journald_system_max_use": "500MB"}, "hostcare_logrotate_journald_system_max_use: must be a size as journald"),
    ({"journald_system_keep_free": "inf"}, "hostcare_logrotate_journald_system_keep_free: must be a size as journald"),
    ({"journald_vacuum_size": "99999999T"}, "hostcare_logrotate_journald_vacuum_size: must be a size between"),
    ({"journald_max_retention": "forever"}, "hostcare_logrotate_journald_max_retention: must be a time span"),
    ({"docker_max_size": "10"}, "hostcare_logrotate_docker_max_size='10' must be a size such as 10m"),
    ({"docker_max_file": 0}, "hostcare_logrotate_docker_max_file=0 must be a whole number of files"),
])
def test_role_input_errors_name_the_variable(changes, message):
    values = {**GOOD_ROLE, **{"hostcare_logrotate_" + key: value for key, value in changes.items()}}
    errors = lr.role_input_errors(values)
    assert len(errors) == 1 and errors[0].startswith(message), errors
