# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note: this plugin util is PRIVATE to the hostcare.vps collection.
"""Accepted risks (``audit_ignore``): findings the operator has looked at and accepts, with a reason and an expiry.

An entry::

    {"id": "docker.logs_uncapped", "reason": "ops ticket 42", "expires": "2027-01-31", "container": "legacy"}

- ``id`` (required): the finding id;
- ``reason`` (required, non-empty): why the risk is accepted; shown beside the finding;
- ``expires`` (optional, ``YYYY-MM-DD``): the last day the acceptance holds; from the next day on the finding is
  open again and says that its acceptance expired;
- narrowing keys (optional): ``instance`` (PostgreSQL instance, ``evidence.instance``), ``container``
  (``evidence.container`` / ``evidence.containers``), ``path`` (``evidence.path`` / ``evidence.paths`` / the
  ``path`` of the rows of ``evidence.logs``), ``unit`` (systemd unit), ``app``. A narrowed entry accepts a finding
  only when every value the finding carries for that key is the entry's: a finding naming two containers stays open
  when only one is accepted (nothing is hidden that was not accepted).

Ignored findings are moved out of the findings (so out of the counts and the worst severity) into ``ignored``, each
with its ``ignore`` ({reason, expires, expired: false, match}); a finding whose acceptance expired stays in the
findings with ``ignore.expired: true``. Findings of severity ``ok`` are never moved. Entries that matched no finding
are returned too (a typo in an id must not go unnoticed).

Pure functions, no I/O: today's date is passed in.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping

from ansible_collections.hostcare.vps.plugins.module_utils._validate import unknown_names

NARROWING_KEYS = ("instance", "container", "path", "unit", "app")
ENTRY_KEYS = ("id", "reason", "expires") + NARROWING_KEYS
ID_PATTERN = re.compile(r"^[a-z]+\.[a-z0-9_]+$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OPTION = "audit_ignore"


class IgnoreError(ValueError):
    """An audit_ignore entry that is not valid; the message names the entry and the key."""


def _where(index, entry=None):
    name = entry.get("id") if isinstance(entry, Mapping) and isinstance(entry.get("id"), str) else None
    return f"{OPTION}[{index}]" + (f" ({name})" if name else "")


def _date(where, value):
    """A datetime.date from YYYY-MM-DD (a YAML date is accepted as such)."""
    if isinstance(value, datetime.datetime):
        raise IgnoreError(f"{where}: expires must be a date YYYY-MM-DD, got the date and time {value!r}")
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not DATE_PATTERN.match(value.strip()):
        raise IgnoreError(f"{where}: expires must be a date YYYY-MM-DD, got {value!r}")
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise IgnoreError(f"{where}: expires must be a real date YYYY-MM-DD, got {value!r}") from None


def check_ignore(entries):
    """The entries of audit_ignore, validated and normalised: a list of
    {id, reason, expires (YYYY-MM-DD or None), match: {narrowing key: value}}. Raises IgnoreError naming the entry
    and the key of the first problem; nothing is ignored when one entry is wrong."""
    if entries is None:
        return []
    if not isinstance(entries, (list, tuple)):
        raise IgnoreError(f"{OPTION} must be a list of entries {{id, reason[, expires, {', '.join(NARROWING_KEYS)}]}}, "
                          f"got {type(entries).__name__}")
    checked = []
    for index, entry in enumerate(entries):
        where = _where(index, entry)
        if not isinstance(entry, Mapping):
            raise IgnoreError(f"{where}: must be a dict with id and reason, got {type(entry).__name__} {entry!r}")
        problems = unknown_names([str(key) for key in entry], ENTRY_KEYS, what="key")
        if problems:
            raise IgnoreError(f"{where}: {'; '.join(problems)}")
        finding_id = entry.get("id")
        if not isinstance(finding_id, str) or not ID_PATTERN.match(finding_id):
            raise IgnoreError(f"{where}: id is required, a finding id such as docker.logs_uncapped, got {finding_id!r}")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise IgnoreError(f"{where}: reason is required, a non-empty text saying why the risk is accepted, "
                              f"got {reason!r}")
        expires = entry.get("expires")
        expires = None if expires is None else _date(where, expires).isoformat()
        match = {}
        for key in NARROWING_KEYS:
            if key not in entry:
                continue
            value = entry[key]
            if not isinstance(value, str) or not value.strip():
                raise IgnoreError(f"{where}: {key} must be a non-empty string (the finding's evidence.{key}), "
                                  f"got {value!r}")
            match[key] = value
        checked.append({"id": finding_id, "reason": reason.strip(), "expires": expires, "match": match})
    return checked


def finding_values(finding, key):
    """The values a finding carries for a narrowing key: evidence.<key>, evidence.<key>s (a list of strings) and
    the <key> of the rows of any list of dicts in its evidence (evidence.logs[].path)."""
    evidence = finding.get("evidence") if isinstance(finding.get("evidence"), Mapping) else {}
    values = set()
    if isinstance(evidence.get(key), str):
        values.add(evidence[key])
    plural = evidence.get(f"{key}s")
    if isinstance(plural, (list, tuple)):
        values.update(value for value in plural if isinstance(value, str))
    for value in evidence.values():
        if isinstance(value, (list, tuple)):
            values.update(row[key] for row in value if isinstance(row, Mapping) and isinstance(row.get(key), str))
    return values


def entry_matches(entry, finding):
    """True when the checked ``entry`` accepts ``finding`` (same id, and every narrowing value is the entry's)."""
    if finding.get("id") != entry["id"]:
        return False
    for key, value in entry["match"].items():
        values = finding_values(finding, key)
        if not values or values != {value}:
            return False
    return True


def _today(today):
    if isinstance(today, datetime.datetime):
        return today.date()
    if isinstance(today, datetime.date):
        return today
    return _date("today", today)


def apply_ignore(findings, entries, today):
    """Split ``findings`` by the accepted risks ``entries`` (as given by the user: they are checked here first).

    Returns (open, ignored, unmatched): ``open`` the findings still counted (an expired acceptance adds
    ``ignore: {..., expired: true}`` to its finding), ``ignored`` the accepted ones, each with
    ``ignore: {reason, expires, expired: false, match}``, ``unmatched`` the entries that matched no finding.
    The first matching entry wins; the input findings are not modified."""
    checked = check_ignore(entries)
    today = _today(today)
    used = set()
    open_findings, ignored = [], []
    for finding in findings:
        if finding.get("severity") == "ok":
            open_findings.append(finding)
            continue
        index = next((i for i, entry in enumerate(checked) if entry_matches(entry, finding)), None)
        if index is None:
            open_findings.append(finding)
            continue
        used.add(index)
        entry = checked[index]
        expired = entry["expires"] is not None and datetime.date.fromisoformat(entry["expires"]) < today
        marked = {**finding, "ignore": {"reason": entry["reason"], "expires": entry["expires"], "expired": expired,
                                        "match": dict(entry["match"])}}
        (open_findings if expired else ignored).append(marked)
    unmatched = [{"id": entry["id"], "reason": entry["reason"], "expires": entry["expires"],
                  "match": dict(entry["match"])} for i, entry in enumerate(checked) if i not in used]
    return open_findings, ignored, unmatched
