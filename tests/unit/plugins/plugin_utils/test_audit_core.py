# Copyright: hostcare.vps contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit's core (plugins/plugin_utils/_audit.py): one threshold table, checked thresholds, and the structure of
the rule files (issue 12, item 3)."""

from __future__ import annotations

import ast
import os

import pytest

from ansible_collections.hostcare.vps.plugins.plugin_utils import _audit, _audit_rules
from ansible_collections.hostcare.vps.plugins.plugin_utils._audit import (
    DEFAULT_THRESHOLDS,
    THRESHOLDS,
    AuditError,
    resolve_thresholds,
    threshold_table_markdown,
)

PLUGINS = os.path.join(os.path.dirname(_audit.__file__), "..")
DOCS = os.path.join(PLUGINS, "..", "docs", "audit.md")
AREAS = ("_audit_swap", "_audit_disk", "_audit_logrotate", "_audit_disk_files", "_audit_docker", "_audit_postgres",
         "_audit_workload", "_audit_containers", "_audit_systemd", "_audit_apps")


def test_docs_threshold_table_is_generated_from_the_one_table():
    with open(DOCS, encoding="utf-8") as handle:
        docs = handle.read()
    assert threshold_table_markdown() in docs, "regenerate with _audit.threshold_table_markdown()"
    assert [item.key for item in THRESHOLDS] == list(DEFAULT_THRESHOLDS)
    assert len({item.key for item in THRESHOLDS}) == len(THRESHOLDS)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e400])
@pytest.mark.parametrize("key", sorted(DEFAULT_THRESHOLDS))
def test_every_threshold_refuses_non_finite_numbers_naming_the_key(key, value):
    with pytest.raises(AuditError, match=f"threshold {key}"):
        resolve_thresholds({key: value})


@pytest.mark.parametrize("overrides, message", [
    ({"docker_stopped_min_days": 10 ** 9}, "at most 36500"),
    ({"top_consumers": 10 ** 9}, "at most 1000"),
    ({"journal_vacuum_bytes": "2P"}, "threshold journal_vacuum_bytes: must be a size between"),
])
def test_thresholds_have_upper_bounds(overrides, message):
    with pytest.raises(AuditError, match=message):
        resolve_thresholds(overrides)


def _imports(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "hostcare" in node.module:
            for alias in node.names:
                yield node.module.rsplit(".", 1)[-1], alias.name


def _plugin_files():
    for directory, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(directory, name)


def test_core_imports_no_area():
    modules = {name if module == "plugin_utils" else module for module, name in _imports(_audit.__file__)}
    assert modules, "the import scan found nothing"
    assert not modules & set(AREAS + ("_audit_rules", "_audit_pg_instances", "_audit_host", "_audit_fixes"))


def test_no_audit_file_imports_a_private_name_of_another():
    for path in _plugin_files():
        if "audit" not in os.path.basename(path) and "_pg_" not in os.path.basename(path):
            continue
        for module, name in _imports(path):
            assert not (name.startswith("_") and module not in ("plugin_utils", "module_utils")), (path, name)


def test_no_audit_plugin_file_is_over_600_lines():
    for path in _plugin_files():
        if "audit" in os.path.basename(path) or "_pg_" in os.path.basename(path):
            with open(path, encoding="utf-8") as handle:
                assert sum(1 for _line in handle) <= 600, path


def test_every_area_registers_its_rules_in_report_order():
    modules = [area.__name__.rsplit(".", 1)[-1] for area in _audit_rules.AREAS]
    assert modules == list(AREAS)
    prefixes = [rule.name.split(".", 1)[0] for rule in _audit.RULES]
    assert prefixes[0] == "swap" and prefixes[-1] == "apps"
