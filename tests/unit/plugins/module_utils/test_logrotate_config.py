# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""logrotate's configuration, `logrotate -d` output and state file, parsed (recorded fixtures)."""

from __future__ import annotations

import datetime
import os

import pytest

from ansible_collections.hostcare.vps.plugins.module_utils._logrotate_config import (
    covering_entries,
    is_skipped,
    parse_config,
    parse_debug_output,
    parse_state,
    restart_commands,
)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "fixtures", "logrotate")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


def test_glob_entry_with_a_restarting_postrotate():
    defaults = {}
    _entries, includes, defaults = parse_config("/etc/logrotate.conf", fixture("logrotate.conf"), defaults)
    assert includes == ["/etc/logrotate.d"]
    assert (defaults["frequency"], defaults["rotate"]) == ("weekly", 4)
    entries, _includes, _defaults = parse_config("/etc/logrotate.d/trading-system", fixture("trading-system"), defaults)
    assert len(entries) == 1
    entry = entries[0]
    assert entry["patterns"] == ["/srv/trading/logs/*.log"]
    assert (entry["file"], entry["line"], entry["frequency"], entry["rotate"]) == ("/etc/logrotate.d/trading-system", 2, "daily", 7)
    assert entry["sharedscripts"] is False and entry["copytruncate"] is False
    assert entry["scripts"] == [{"name": "postrotate",
                                 "text": "supervisorctl -c /etc/supervisor/supervisord.conf reload >/dev/null 2>&1 || true"}]


def test_patterns_over_several_lines_quotes_and_inherited_globals():
    entries, _includes, _defaults = parse_config("/etc/logrotate.d/multi", fixture("multi"), {"frequency": "weekly", "rotate": 4})
    assert [entry["patterns"] for entry in entries] == [
        ["/var/www/app/log/production.log", "/var/www/app/log/sidekiq.log", "/var/www/app/log/puma.log"],
        ["/opt/x/a.log"]]
    first, second = entries
    assert (first["frequency"], first["rotate"], first["size"], first["copytruncate"], first["sharedscripts"]) == (
        "weekly", 4, "100M", True, True)
    assert first["scripts"][0]["name"] == "lastaction"
    assert (second["frequency"], second["rotate"]) == ("monthly", 4)


def test_nginx_rotate_signal_is_not_a_restart():
    entries, _includes, _defaults = parse_config("/etc/logrotate.d/nginx", fixture("nginx"), {})
    assert [script["name"] for script in entries[0]["scripts"]] == ["prerotate", "postrotate"]
    assert entries[0]["sharedscripts"] is True
    assert [restart_commands(script["text"]) for script in entries[0]["scripts"]] == [[], []]


@pytest.mark.parametrize("line, kind, target", [
    ("supervisorctl -c /etc/supervisor/supervisord.conf reload >/dev/null 2>&1 || true", "supervisorctl", ""),
    ("/usr/bin/supervisorctl restart all", "supervisorctl", "all"),
    ("systemctl restart puma.service", "systemctl", "puma.service"),
    ("systemctl --quiet try-restart rsyslog", "systemctl", "rsyslog"),
    ("service php8.2-fpm restart > /dev/null", "service", "php8.2-fpm"),
    ("/usr/bin/docker restart shop-web-1 2>/dev/null", "docker", "shop-web-1"),
    ("docker restart shop-web-1", "docker", "shop-web-1"),
    ("docker compose -f /srv/app/compose.yml restart web", "docker compose", "web"),
    ("pm2 reload all", "pm2", "all"),
    ("pm2 restart api", "pm2", "api"),
    ("invoke-rc.d apache2 restart", "invoke-rc.d", "apache2"),
])
def test_restart_commands(line, kind, target):
    found = restart_commands(f"test -x /usr/bin/foo || exit 0\n{line}")
    assert len(found) == 1
    assert (found[0]["kind"], found[0]["command"]) == (kind, line)
    assert found[0]["target"] == target


@pytest.mark.parametrize("line", [
    "invoke-rc.d nginx rotate >/dev/null 2>&1",
    "systemctl kill -s HUP rsyslog.service",
    "systemctl reload nginx",
    "kill -USR1 $(cat /run/nginx.pid)",
    "pm2 reloadLogs",
    "supervisorctl signal USR1 app",
    "docker kill -s USR1 web",
    "/usr/lib/rsyslog/rsyslog-rotate",
])
def test_signals_and_reloads_are_not_restarts(line):
    assert restart_commands(line) == []


def test_debug_output_duplicate_skips_the_whole_file():
    parsed = parse_debug_output(fixture("debug-duplicate.txt"))
    assert parsed == {
        "errors": ["error: trading-system:2 duplicate log entry for /srv/trading/logs/engine.log",
                   "error: found error in file trading-system, skipping"],
        "skipped_files": ["trading-system"],
        "duplicates": ["/srv/trading/logs/engine.log"]}
    assert is_skipped("/etc/logrotate.d/trading-system", parsed["skipped_files"])
    assert not is_skipped("/etc/logrotate.d/hostcare-unrotated", parsed["skipped_files"])
    assert parse_debug_output("") == {"errors": [], "skipped_files": [], "duplicates": []}


def test_state_file():
    state = parse_state(fixture("status"))
    utc = datetime.timezone.utc
    assert state == {
        "/var/log/apt/term.log": int(datetime.datetime(2026, 12, 1, tzinfo=utc).timestamp()),
        "/var/log/dpkg.log": int(datetime.datetime(2026, 11, 1, 6, 25, 1, tzinfo=utc).timestamp()),
        "/var/log/with space.log": int(datetime.datetime(2026, 10, 5, tzinfo=utc).timestamp())}
    assert parse_state(None) == {}
    assert parse_state('"/x.log" 2026-13-40-0:0:0') == {}


def test_covering_entries_see_globs():
    entries = [{"patterns": ["/srv/trading/logs/*.log"]}, {"patterns": ["/var/log/app.log"]}]
    assert covering_entries("/srv/trading/logs/engine.log", entries) == [entries[0]]
    assert covering_entries("/srv/trading/logs/sub/engine.log", entries) == []
    assert covering_entries("/var/log/app.log", entries) == [entries[1]]
    assert covering_entries("/var/www/shop/log/production.log", entries) == []
